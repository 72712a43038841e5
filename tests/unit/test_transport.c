/*
 * test_transport.c -- the transport against a server forked on 127.0.0.1:
 * line pieces, end of input, timeouts, large writes, SIGPIPE, the STLS
 * injection check, the unbuffered exchanges of a proxy handshake, and TLS
 * with a certificate made at test time.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "error.h"
#include "mono.h"
#include "transport.h"

#include "tap.h"

#define TIMEOUT		5
#define LONG_LINE	40000		/* over two TRANSPORT_CHUNK_MAX */
#define BIG		(1024 * 1024)

struct server {
	pid_t	pid;
	int	port;
};

/* What the TLS server does once the handshake is done. */
enum tls_mode {
	TLS_SERVE,		/* greeting, a long line, then take BIG bytes */
	TLS_CLOSE,		/* close at once */
	TLS_IDLE,		/* read until the client leaves */
};

struct tls_server {
	gnutls_x509_crt_t	 crt;
	gnutls_x509_privkey_t	 key;
	int			 plain_greeting;	/* STLS style */
	enum tls_mode		 mode;
};

static void	 server_start(struct server *, void (*)(int, void *), void *);
static int	 server_wait(struct server *);
static void	 write_all(int, const void *, size_t);
static void	 drain(int);
static uint32_t	 fnv1a(uint32_t, const void *, size_t);
static unsigned char pattern(size_t);
static double	 now(void);
static int	 contains(const char *, const char *);
static int	 write_big(struct transport *, uint32_t *, struct error *);
static void	 fp_hex(const unsigned char *, char *);

static void	 serve_lines(int, void *);
static void	 serve_silent(int, void *);
static void	 serve_sink(int, void *);
static void	 serve_echo(int, void *);
static void	 serve_inject(int, void *);
static void	 serve_close(int, void *);
static void	 serve_plain_greeting(int, void *);
static void	 serve_tls(int, void *);

static void	 serve_literal(int, void *);
static void	 test_lines(void);
static void	 test_literal(void);
static void	 test_timeout(void);
static void	 test_big_write(void);
static void	 test_autoflush(void);
static void	 test_inject(void);
static void	 test_sigpipe(void);
static void	 test_connect_errors(void);
static void	 test_raw(void);
static int	 make_cert(struct tls_server *, const char *, unsigned char *);
static struct transport *tls_connect(struct tls_server *, struct server *,
		    const char *, const struct tls_params *, struct error *);
static void	 test_tls(void);

int
main(void)
{
	/* The default action: a stray SIGPIPE would end the test. */
	signal(SIGPIPE, SIG_DFL);

	test_lines();
	test_literal();
	test_timeout();
	test_big_write();
	test_autoflush();
	test_inject();
	test_sigpipe();
	test_connect_errors();
	test_raw();
	test_tls();
	return tap_done();
}

/* Fork a child that serves one connection on a fresh 127.0.0.1 port. */
static void
server_start(struct server *s, void (*serve)(int, void *), void *arg)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof sin;
	int			lfd, fd;

	if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) == -1) {
		perror("socket");
		exit(1);
	}
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sin, sizeof sin) == -1 ||
	    listen(lfd, 1) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &len) == -1) {
		perror("bind");
		exit(1);
	}
	s->port = ntohs(sin.sin_port);

	fflush(stdout);
	if ((s->pid = fork()) == -1) {
		perror("fork");
		exit(1);
	}
	if (s->pid == 0) {
		if ((fd = accept(lfd, NULL, NULL)) == -1)
			_exit(1);
		close(lfd);
		serve(fd, arg);
		close(fd);
		_exit(0);
	}
	close(lfd);
}

static int
server_wait(struct server *s)
{
	int	status;

	if (waitpid(s->pid, &status, 0) == -1)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static void
write_all(int fd, const void *p, size_t len)
{
	const char	*c = p;
	ssize_t		 n;

	while (len > 0) {
		if ((n = write(fd, c, len)) == -1) {
			if (errno == EINTR)
				continue;
			_exit(2);
		}
		c += n;
		len -= n;
	}
}

/* Read until the client closes. */
static void
drain(int fd)
{
	char	buf[4096];

	while (read(fd, buf, sizeof buf) > 0)
		;
}

static uint32_t
fnv1a(uint32_t h, const void *p, size_t len)
{
	const unsigned char	*c = p;

	while (len-- > 0)
		h = (h ^ *c++) * 16777619u;
	return h;
}

/* The bytes of the large write: not periodic at any buffer size. */
static unsigned char
pattern(size_t i)
{
	return (unsigned char)(i * 7 + i / 251);
}

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
contains(const char *s, const char *sub)
{
	return strstr(s, sub) != NULL;
}

static void
serve_lines(int fd, void *arg)
{
	char	buf[1000];
	int	i;

	(void)arg;
	write_all(fd, "+OK hello\r\nline two\n+OK sp", 26);
	/* The rest of the line comes in a later read. */
	usleep(100000);
	write_all(fd, "lit\r\n", 5);
	memset(buf, 'x', sizeof buf);
	for (i = 0; i < LONG_LINE / 1000; i++)
		write_all(fd, buf, sizeof buf);
	write_all(fd, "\r\nafter\r\npartial", 16);
}

/* An IMAP FETCH with a literal that ends inside a line, in two reads. */
static void
serve_literal(int fd, void *arg)
{
	(void)arg;
	write_all(fd, "* 1 FETCH (BODY[] {11}\r\nab\ncd", 29);
	usleep(100000);
	write_all(fd, "\r\nefgh UID 7)\r\np1 OK\r\n", 22);
}

static void
test_literal(void)
{
	struct server		 s;
	struct transport	*t;
	struct error		 err;
	const char		*line;
	char			 lit[32];
	size_t			 len, got = 0;
	ssize_t			 n;
	int			 reads = 0;

	error_clear(&err);
	server_start(&s, serve_literal, NULL);
	t = transport_connect("127.0.0.1", s.port, TIMEOUT, &err);
	ok(t != NULL && transport_getline(t, &line, &len, &err) == 0 &&
	    len == 24 && line[len - 3] == '}', "the line announcing a literal");
	while (t != NULL && got < 11 && (n = transport_read(t, lit + got,
	    11 - got, &err)) > 0) {
		got += (size_t)n;
		reads++;
	}
	ok(got == 11 && memcmp(lit, "ab\ncd\r\nefgh", 11) == 0,
	    "transport_read: the literal's 11 bytes, a line end among them");
	ok(reads >= 2, "in more than one read, as they came");
	ok(t != NULL && transport_getline(t, &line, &len, &err) == 0 &&
	    len == 9 && memcmp(line, " UID 7)\r\n", 9) == 0,
	    "the rest of the line after the literal, not a byte more or less");
	ok(t != NULL && transport_getline(t, &line, &len, &err) == 0 &&
	    len == 7, "then the next line");
	ok(t != NULL && transport_read(t, lit, sizeof lit, &err) == -1 &&
	    err.ex == EX_TEMPFAIL, "transport_read at the end: EX_TEMPFAIL");
	transport_free(t);
	is_int(server_wait(&s), 0, "server done");
}

static void
test_lines(void)
{
	struct server		 s;
	struct transport	*t;
	struct error		 err;
	const char		*line;
	size_t			 len, total;
	int			 pieces, bad, r;

	error_clear(&err);
	server_start(&s, serve_lines, NULL);
	t = transport_connect("127.0.0.1", s.port, TIMEOUT, &err);
	ok(t != NULL, "connect to 127.0.0.1");
	if (t == NULL) {
		printf("# %s\n", err.msg);
		server_wait(&s);
		return;
	}
	ok(!transport_is_tls(t), "plain connection is not TLS");
	ok(transport_tls_desc(t) == NULL, "no TLS description");

	r = transport_getline(t, &line, &len, &err);
	ok(r == 0 && len == 11 && memcmp(line, "+OK hello\r\n", 11) == 0,
	    "first line with CRLF");
	r = transport_getline(t, &line, &len, &err);
	ok(r == 0 && len == 9 && memcmp(line, "line two\n", 9) == 0,
	    "second line with bare LF");
	r = transport_getline(t, &line, &len, &err);
	ok(r == 0 && len == 11 && memcmp(line, "+OK split\r\n", 11) == 0,
	    "line split across reads comes whole");

	/* The long line: full pieces without '\n', then its end. */
	total = 0;
	pieces = 0;
	bad = 0;
	for (;;) {
		if (transport_getline(t, &line, &len, &err) == -1) {
			bad = 1;
			break;
		}
		pieces++;
		total += len;
		if (len > TRANSPORT_CHUNK_MAX)
			bad = 1;
		if (line[len - 1] == '\n')
			break;
		if (len != TRANSPORT_CHUNK_MAX)
			bad = 1;
	}
	ok(!bad, "long line pieces are at most TRANSPORT_CHUNK_MAX");
	is_int(pieces, LONG_LINE / TRANSPORT_CHUNK_MAX + 1,
	    "long line comes in three pieces");
	is_int(total, LONG_LINE + 2, "long line byte total");

	r = transport_getline(t, &line, &len, &err);
	ok(r == 0 && len == 7 && memcmp(line, "after\r\n", 7) == 0,
	    "line after the long one");
	r = transport_getline(t, &line, &len, &err);
	ok(r == 0 && len == 7 && memcmp(line, "partial", 7) == 0,
	    "last piece without newline");
	r = transport_getline(t, &line, &len, &err);
	ok(r == -1 && err.ex == EX_TEMPFAIL, "then EOF is EX_TEMPFAIL");
	is_str(err.msg, "connection closed by the server", "EOF message");
	error_clear(&err);
	r = transport_getline(t, &line, &len, &err);
	ok(r == -1 && err.ex == EX_TEMPFAIL, "EOF again");

	transport_free(t);
	is_int(server_wait(&s), 0, "server done");
}

static void
serve_silent(int fd, void *arg)
{
	(void)arg;
	drain(fd);
}

static void
test_timeout(void)
{
	struct server		 s;
	struct transport	*t;
	struct error		 err;
	const char		*line;
	size_t			 len;
	double			 start, took;
	int			 r;

	error_clear(&err);
	server_start(&s, serve_silent, NULL);
	t = transport_connect("127.0.0.1", s.port, 1, &err);
	ok(t != NULL, "connect to a silent server");
	if (t == NULL) {
		server_wait(&s);
		return;
	}
	start = now();
	r = transport_getline(t, &line, &len, &err);
	took = now() - start;
	ok(r == -1 && err.ex == EX_TEMPFAIL, "silent server times out");
	is_str(err.msg, "timed out after 1 seconds waiting for the server",
	    "timeout message");
	ok(took > 0.9 && took < 3, "timeout took about 1 s (%.2f)", took);
	transport_free(t);
	server_wait(&s);
}

/*
 * The unbuffered exchanges (a SOCKS5 handshake's): exactly the bytes
 * asked for and not one more, so buffered reading goes on where they
 * stopped; refused while anything is queued; bounded by their deadline;
 * short at end of input.
 */
static void
test_raw(void)
{
	struct server		 s;
	struct transport	*t;
	struct error		 err;
	struct timespec		 end;
	const char		*line;
	char			 buf[32];
	size_t			 len;
	double			 start;

	error_clear(&err);
	server_start(&s, serve_echo, NULL);
	t = transport_connect("127.0.0.1", s.port, TIMEOUT, &err);
	ok(t != NULL, "raw: connect");
	if (t == NULL) {
		server_wait(&s);
		return;
	}
	mono_deadline(&end, TIMEOUT);
	ok(transport_send_raw(t, "ping\n", 5, &end, &err) == 0,
	    "raw: send");
	ok(transport_recv_raw(t, buf, 4, &end, &err) == 4 &&
	    memcmp(buf, "+OK ", 4) == 0, "raw: exactly 4 bytes");
	ok(transport_getline(t, &line, &len, &err) == 0 && len == 9 &&
	    memcmp(line, "got ping\n", 9) == 0,
	    "raw: buffered reading goes on at the next byte");
	ok(transport_write(t, "x", 1, &err) == 0 &&
	    transport_recv_raw(t, buf, 1, &end, &err) == -1 &&
	    err.ex == EX_SOFTWARE, "raw: refused with a command queued");
	transport_free(t);
	server_wait(&s);

	error_clear(&err);
	server_start(&s, serve_silent, NULL);
	t = transport_connect("127.0.0.1", s.port, TIMEOUT, &err);
	mono_deadline(&end, 1);
	start = now();
	ok(t != NULL && transport_recv_raw(t, buf, 4, &end, &err) == -1 &&
	    err.ex == EX_TEMPFAIL && mono_left_ms(&end) == 0,
	    "raw: a silent peer ends at the deadline (%s)", err.msg);
	ok(now() - start < 3, "raw: about 1 s");
	transport_free(t);
	server_wait(&s);

	error_clear(&err);
	server_start(&s, serve_close, NULL);
	t = transport_connect("127.0.0.1", s.port, TIMEOUT, &err);
	mono_deadline(&end, TIMEOUT);
	ok(t != NULL && transport_recv_raw(t, buf, 4, &end, &err) == 0,
	    "raw: end of input is a short count");
	transport_free(t);
	server_wait(&s);
}

static void
serve_sink(int fd, void *arg)
{
	char		buf[8192], reply[64];
	size_t		got = 0;
	uint32_t	h = 2166136261u;
	ssize_t		n;

	(void)arg;
	/* Let the client's socket buffers fill, so flush must wait. */
	usleep(200000);
	while (got < BIG && (n = read(fd, buf, sizeof buf)) > 0) {
		h = fnv1a(h, buf, n);
		got += n;
	}
	n = snprintf(reply, sizeof reply, "got %zu %08x\r\n", got, h);
	write_all(fd, reply, n);
	drain(fd);
}

/* Write BIG bytes in small pieces and one large one. */
static int
write_big(struct transport *t, uint32_t *hash, struct error *err)
{
	unsigned char	*data;
	size_t		 i, off;
	int		 r = 0;

	data = malloc(BIG);
	for (i = 0; i < BIG; i++)
		data[i] = pattern(i);
	*hash = fnv1a(2166136261u, data, BIG);
	for (off = 0; off < 100 * 1000 && r == 0; off += 1000)
		r = transport_write(t, data + off, 1000, err);
	if (r == 0)
		r = transport_write(t, data + off, BIG - off, err);
	if (r == 0)
		r = transport_flush(t, err);
	free(data);
	return r;
}

static void
test_big_write(void)
{
	struct server		 s;
	struct transport	*t;
	struct error		 err;
	const char		*line;
	char			 want[64];
	size_t			 len;
	uint32_t		 h;
	int			 r;

	error_clear(&err);
	server_start(&s, serve_sink, NULL);
	if ((t = transport_connect("127.0.0.1", s.port, TIMEOUT, &err)) ==
	    NULL) {
		ok(0, "connect for the large write: %s", err.msg);
		server_wait(&s);
		return;
	}
	r = write_big(t, &h, &err);
	ok(r == 0, "write and flush 1 MB%s%s", r ? ": " : "", err.msg);
	snprintf(want, sizeof want, "got %d %08x\r\n", BIG, h);
	r = transport_getline(t, &line, &len, &err);
	ok(r == 0 && len == strlen(want) && memcmp(line, want, len) == 0,
	    "server received all of it intact");
	transport_free(t);
	server_wait(&s);
}

static void
serve_echo(int fd, void *arg)
{
	char	buf[256];
	ssize_t	n;
	size_t	got = 0;

	(void)arg;
	while (got < sizeof buf - 1 &&
	    (n = read(fd, buf + got, sizeof buf - 1 - got)) > 0) {
		got += n;
		if (memchr(buf, '\n', got) != NULL)
			break;
	}
	write_all(fd, "+OK got ", 8);
	write_all(fd, buf, got);
	drain(fd);
}

static void
test_autoflush(void)
{
	struct server		 s;
	struct transport	*t;
	struct error		 err;
	const char		*line;
	size_t			 len;
	int			 r;

	error_clear(&err);
	server_start(&s, serve_echo, NULL);
	if ((t = transport_connect("127.0.0.1", s.port, TIMEOUT, &err)) ==
	    NULL) {
		ok(0, "connect for echo: %s", err.msg);
		server_wait(&s);
		return;
	}
	r = transport_write(t, "NOOP\r\n", 6, &err);
	ok(r == 0, "queue a command");
	r = transport_getline(t, &line, &len, &err);
	ok(r == 0 && len == 14 && memcmp(line, "+OK got NOOP\r\n", 14) == 0,
	    "getline sends what is queued first");
	transport_free(t);
	server_wait(&s);
}

static void
serve_inject(int fd, void *arg)
{
	(void)arg;
	/* One write: the injected bytes arrive with the +OK. */
	write_all(fd, "+OK begin TLS\r\nINJECTED", 23);
	drain(fd);
}

static void
test_inject(void)
{
	struct server		 s;
	struct transport	*t;
	struct error		 err;
	struct tls_params	 tp = { .host = "127.0.0.1", .certcheck = 0,
	    .fingerprint = NULL };
	const char		*line;
	size_t			 len;
	int			 r;

	error_clear(&err);
	server_start(&s, serve_inject, NULL);
	if ((t = transport_connect("127.0.0.1", s.port, TIMEOUT, &err)) ==
	    NULL) {
		ok(0, "connect for injection: %s", err.msg);
		server_wait(&s);
		return;
	}
	r = transport_getline(t, &line, &len, &err);
	ok(r == 0 && len == 15, "STLS reply read");
	r = transport_starttls(t, &tp, &err);
	ok(r == -1 && err.ex == EX_PROTOCOL,
	    "starttls refuses bytes buffered before the handshake");
	ok(contains(err.msg, "before the TLS handshake"), "injection message");
	ok(!transport_is_tls(t), "still not TLS");
	transport_free(t);
	server_wait(&s);
}

static void
serve_close(int fd, void *arg)
{
	(void)arg;
	close(fd);
}

static void
test_sigpipe(void)
{
	struct server		 s;
	struct transport	*t;
	struct error		 err;
	uint32_t		 h;
	int			 r;

	error_clear(&err);
	server_start(&s, serve_close, NULL);
	if ((t = transport_connect("127.0.0.1", s.port, TIMEOUT, &err)) ==
	    NULL) {
		ok(0, "connect to a closing server: %s", err.msg);
		server_wait(&s);
		return;
	}
	server_wait(&s);
	r = write_big(t, &h, &err);
	ok(r == -1 && err.ex == EX_TEMPFAIL,
	    "writing to a closed connection fails without SIGPIPE (%s)",
	    err.msg);
	transport_free(t);
}

static void
test_connect_errors(void)
{
	struct sockaddr_in	 sin;
	socklen_t		 slen = sizeof sin;
	struct transport	*t;
	struct error		 err;
	char			 want[64];
	int			 fd, port;

	/* A port nobody listens on: bound, never listened to. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&sin, sizeof sin);
	getsockname(fd, (struct sockaddr *)&sin, &slen);
	port = ntohs(sin.sin_port);

	error_clear(&err);
	t = transport_connect("127.0.0.1", port, TIMEOUT, &err);
	ok(t == NULL && err.ex == EX_TEMPFAIL, "refused is EX_TEMPFAIL");
	snprintf(want, sizeof want, "127.0.0.1:%d", port);
	ok(contains(err.msg, want) && contains(err.msg, "refused"),
	    "refused message names host:port (%s)", err.msg);
	close(fd);

	error_clear(&err);
	t = transport_connect("nonexistent.invalid", 110, TIMEOUT, &err);
	ok(t == NULL && err.ex == EX_NOHOST, "unknown host is EX_NOHOST");
	ok(contains(err.msg, "cannot resolve host nonexistent.invalid"),
	    "unknown host message (%s)", err.msg);
}

/*
 * A self-signed certificate for mail.example.test and 127.0.0.1, written
 * as PEM to path; its SHA-256 fingerprint into fp.
 */
static int
make_cert(struct tls_server *ts, const char *path, unsigned char *fp)
{
	static const unsigned char	 serial[] = { 1 };
	static const unsigned char	 ip[] = { 127, 0, 0, 1 };
	const char			*name = "mail.example.test";
	gnutls_datum_t			 pem;
	size_t				 fplen = 32;
	time_t				 t = time(NULL);
	FILE				*f;

	if (gnutls_x509_privkey_init(&ts->key) < 0 ||
	    gnutls_x509_privkey_generate(ts->key, GNUTLS_PK_ECDSA,
	    GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0 ||
	    gnutls_x509_crt_init(&ts->crt) < 0 ||
	    gnutls_x509_crt_set_version(ts->crt, 3) < 0 ||
	    gnutls_x509_crt_set_serial(ts->crt, serial, sizeof serial) < 0 ||
	    gnutls_x509_crt_set_activation_time(ts->crt, t - 3600) < 0 ||
	    gnutls_x509_crt_set_expiration_time(ts->crt, t + 86400) < 0 ||
	    gnutls_x509_crt_set_dn(ts->crt, "CN=popfetch test", NULL) < 0 ||
	    gnutls_x509_crt_set_subject_alt_name(ts->crt, GNUTLS_SAN_DNSNAME,
	    name, strlen(name), GNUTLS_FSAN_APPEND) < 0 ||
	    gnutls_x509_crt_set_subject_alt_name(ts->crt, GNUTLS_SAN_IPADDRESS,
	    ip, sizeof ip, GNUTLS_FSAN_APPEND) < 0 ||
	    gnutls_x509_crt_set_basic_constraints(ts->crt, 1, -1) < 0 ||
	    gnutls_x509_crt_set_key_usage(ts->crt,
	    GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_CERT_SIGN) < 0 ||
	    gnutls_x509_crt_set_key_purpose_oid(ts->crt,
	    GNUTLS_KP_TLS_WWW_SERVER, 0) < 0 ||
	    gnutls_x509_crt_set_key(ts->crt, ts->key) < 0 ||
	    gnutls_x509_crt_sign2(ts->crt, ts->crt, ts->key, GNUTLS_DIG_SHA256,
	    0) < 0 ||
	    gnutls_x509_crt_get_fingerprint(ts->crt, GNUTLS_DIG_SHA256, fp,
	    &fplen) < 0 ||
	    gnutls_x509_crt_export2(ts->crt, GNUTLS_X509_FMT_PEM, &pem) < 0)
		return -1;
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	fwrite(pem.data, 1, pem.size, f);
	fclose(f);
	gnutls_free(pem.data);
	return 0;
}

static void
serve_plain_greeting(int fd, void *arg)
{
	(void)arg;
	write_all(fd, "+OK POP3 ready\r\n", 16);
	drain(fd);
}

static void
serve_tls(int fd, void *arg)
{
	struct tls_server			*ts = arg;
	gnutls_certificate_credentials_t	 cred;
	gnutls_session_t			 session;
	char					 buf[8192], reply[64];
	size_t					 got = 0;
	uint32_t				 h = 2166136261u;
	ssize_t					 n;
	int					 r, i;

	if (ts->plain_greeting)
		write_all(fd, "+OK begin TLS\r\n", 15);
	gnutls_certificate_allocate_credentials(&cred);
	gnutls_certificate_set_x509_key(cred, &ts->crt, 1, ts->key);
	gnutls_init(&session, GNUTLS_SERVER);
	gnutls_set_default_priority(session);
	gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, cred);
	gnutls_transport_set_int(session, fd);
	do {
		r = gnutls_handshake(session);
	} while (r < 0 && !gnutls_error_is_fatal(r));
	if (r < 0)
		_exit(0);	/* the client refused us, as tested */

	switch (ts->mode) {
	case TLS_CLOSE:
		_exit(0);
	case TLS_IDLE:
		while (gnutls_record_recv(session, buf, sizeof buf) > 0)
			;
		_exit(0);
	case TLS_SERVE:
		break;
	}
	gnutls_record_send(session, "+OK tls\r\n", 9);
	memset(buf, 'y', sizeof buf);
	for (i = 0; i < LONG_LINE / 1000; i++)
		gnutls_record_send(session, buf, 1000);
	gnutls_record_send(session, "\r\n", 2);
	while (got < BIG &&
	    (n = gnutls_record_recv(session, buf, sizeof buf)) > 0) {
		h = fnv1a(h, buf, n);
		got += n;
	}
	n = snprintf(reply, sizeof reply, "got %zu %08x\r\n", got, h);
	gnutls_record_send(session, reply, n);
	while (gnutls_record_recv(session, buf, sizeof buf) > 0)
		;
	_exit(0);
}

/* Connect to a fresh TLS server and start TLS; the transport or NULL. */
static struct transport *
tls_connect(struct tls_server *ts, struct server *s, const char *host,
    const struct tls_params *tp, struct error *err)
{
	struct transport	*t;
	const char		*line;
	size_t			 len;

	error_clear(err);
	server_start(s, serve_tls, ts);
	if ((t = transport_connect(host, s->port, TIMEOUT, err)) == NULL)
		return NULL;
	if (ts->plain_greeting &&
	    transport_getline(t, &line, &len, err) == -1) {
		transport_free(t);
		return NULL;
	}
	if (transport_starttls(t, tp, err) == -1) {
		transport_free(t);
		return NULL;
	}
	return t;
}

static void
fp_hex(const unsigned char *fp, char *out)
{
	int	i;

	for (i = 0; i < 32; i++)
		sprintf(out + i * 3, "%02X%s", fp[i], i < 31 ? ":" : "");
}

static void
test_tls(void)
{
	struct tls_server	 ts;
	struct server		 s;
	struct transport	*t;
	struct tls_params	 tp;
	struct error		 err;
	unsigned char		 fp[32], badfp[32];
	char			 dir[] = "/tmp/test_transport.XXXXXX";
	char			 pem[64], fphex[97], want[256];
	const char		*line;
	size_t			 len, total;
	uint32_t		 h;
	int			 r, bad;

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(pem, sizeof pem, "%s/cert.pem", dir);
	memset(&ts, 0, sizeof ts);
	r = make_cert(&ts, pem, fp);
	ok(r == 0, "make a test certificate");
	if (r == -1)
		goto out;
	fp_hex(fp, fphex);

	/* STLS style, pinned: lines and a large write over TLS. */
	ts.plain_greeting = 1;
	ts.mode = TLS_SERVE;
	tp = (struct tls_params){ .host = "127.0.0.1", .certcheck = 1,
	    .fingerprint = fp };
	t = tls_connect(&ts, &s, "127.0.0.1", &tp, &err);
	ok(t != NULL, "STLS with the right pin%s%s", t ? "" : ": ", err.msg);
	if (t != NULL) {
		ok(transport_is_tls(t), "TLS is active");
		ok(transport_tls_desc(t) != NULL &&
		    contains(transport_tls_desc(t), "TLS1."),
		    "TLS description (%s)", transport_tls_desc(t));
		r = transport_getline(t, &line, &len, &err);
		ok(r == 0 && len == 9 && memcmp(line, "+OK tls\r\n", 9) == 0,
		    "line over TLS");
		total = 0;
		bad = 0;
		do {
			if (transport_getline(t, &line, &len, &err) == -1) {
				bad = 1;
				break;
			}
			total += len;
		} while (line[len - 1] != '\n');
		ok(!bad && total == LONG_LINE + 2, "long line over TLS");
		r = write_big(t, &h, &err);
		ok(r == 0, "write and flush 1 MB over TLS%s%s", r ? ": " : "",
		    err.msg);
		snprintf(want, sizeof want, "got %d %08x\r\n", BIG, h);
		r = transport_getline(t, &line, &len, &err);
		ok(r == 0 && len == strlen(want) &&
		    memcmp(line, want, len) == 0,
		    "TLS server received all of it intact");
		transport_free(t);
	}
	server_wait(&s);

	/* Implicit TLS from here on. */
	ts.plain_greeting = 0;
	ts.mode = TLS_IDLE;

	memset(badfp, 0xab, sizeof badfp);
	tp = (struct tls_params){ .host = "127.0.0.1", .certcheck = 1,
	    .fingerprint = badfp };
	t = tls_connect(&ts, &s, "127.0.0.1", &tp, &err);
	ok(t == NULL && err.ex == EX_PROTOCOL, "wrong pin is EX_PROTOCOL");
	snprintf(want, sizeof want, "server presented %s; expected AB:AB:",
	    fphex);
	ok(contains(err.msg, "certificate fingerprint mismatch") &&
	    contains(err.msg, want), "pin mismatch message (%s)", err.msg);
	transport_free(t);
	server_wait(&s);

	tp = (struct tls_params){ .host = "127.0.0.1", .trust_file = pem,
	    .certcheck = 1, .fingerprint = NULL };
	t = tls_connect(&ts, &s, "127.0.0.1", &tp, &err);
	ok(t != NULL, "trust file, IP address in the certificate%s%s",
	    t ? "" : ": ", err.msg);
	transport_free(t);
	server_wait(&s);

	tp = (struct tls_params){ .host = "localhost", .trust_file = pem,
	    .certcheck = 1, .fingerprint = NULL };
	t = tls_connect(&ts, &s, "localhost", &tp, &err);
	ok(t == NULL && err.ex == EX_PROTOCOL,
	    "wrong host name is EX_PROTOCOL");
	ok(contains(err.msg, "does not match") &&
	    contains(err.msg, fphex) && contains(err.msg, "tls_fingerprint"),
	    "host name message (%s)", err.msg);
	transport_free(t);
	server_wait(&s);

	tp = (struct tls_params){ .host = "127.0.0.1", .certcheck = 1,
	    .fingerprint = NULL };
	t = tls_connect(&ts, &s, "127.0.0.1", &tp, &err);
	ok(t == NULL && (err.ex == EX_PROTOCOL || err.ex == EX_CONFIG),
	    "self-signed against the system store fails");
	ok(contains(err.msg, "tls_trust_file") && (err.ex == EX_CONFIG ||
	    (contains(err.msg, "NOT trusted") && contains(err.msg, fphex))),
	    "untrusted message (%s)", err.msg);
	transport_free(t);
	server_wait(&s);

	tp = (struct tls_params){ .host = "127.0.0.1",
	    .trust_file = "/nonexistent/ca.pem", .certcheck = 1 };
	t = tls_connect(&ts, &s, "127.0.0.1", &tp, &err);
	ok(t == NULL && err.ex == EX_CONFIG, "missing trust file is EX_CONFIG");
	is_str(err.msg, "cannot load tls_trust_file /nonexistent/ca.pem: "
	    "No such file or directory", "missing trust file message");
	transport_free(t);
	server_wait(&s);

	tp = (struct tls_params){ .host = "localhost", .trust_file = NULL,
	    .certcheck = 0, .fingerprint = NULL };
	t = tls_connect(&ts, &s, "localhost", &tp, &err);
	ok(t != NULL, "certcheck off accepts anything%s%s", t ? "" : ": ",
	    err.msg);
	transport_free(t);
	server_wait(&s);

	/* The server goes away: writing must fail, not raise SIGPIPE. */
	ts.mode = TLS_CLOSE;
	tp = (struct tls_params){ .host = "127.0.0.1", .certcheck = 1,
	    .fingerprint = fp };
	t = tls_connect(&ts, &s, "127.0.0.1", &tp, &err);
	ok(t != NULL, "connect to a TLS server that closes");
	server_wait(&s);
	if (t != NULL) {
		r = write_big(t, &h, &err);
		ok(r == -1 && err.ex == EX_TEMPFAIL,
		    "TLS write to a closed connection fails without SIGPIPE "
		    "(%s)", err.msg);
		transport_free(t);
	}

	/* TLS asked of a plain port. */
	error_clear(&err);
	server_start(&s, serve_plain_greeting, NULL);
	t = transport_connect("127.0.0.1", s.port, TIMEOUT, &err);
	r = t != NULL ? transport_starttls(t, &tp, &err) : -1;
	ok(r == -1 && err.ex == EX_PROTOCOL && contains(err.msg, "TLS"),
	    "TLS to a plain server fails (%s)", err.msg);
	transport_free(t);
	server_wait(&s);

	gnutls_x509_crt_deinit(ts.crt);
	gnutls_x509_privkey_deinit(ts.key);
out:
	unlink(pem);
	rmdir(dir);
}
