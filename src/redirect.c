/* redirect.c -- PKCE, the loopback redirect and pasted addresses; see redirect.h. */
#include "config.h"

#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>

#include "http.h"
#include "mono.h"
#include "proc.h"
#include "redirect.h"
#include "termsafe.h"
#include "xmalloc.h"

/* A code is a bearer secret: visible ASCII, bounded. */
#define CODE_MAX	4096

static void	b64url(const unsigned char *, size_t, char *, size_t);
static int	code_ok(const char *);
static void	show(const char *, char *, size_t);
static int	query_param(const char *, const char *, char **);
static int	read_request(int, char *, size_t, long long);

void
redirect_pkce(char *verifier, char *challenge, char *state)
{
	unsigned char	rnd[32], hash[32];

	if (gnutls_rnd(GNUTLS_RND_KEY, rnd, sizeof rnd) < 0)
		fatalx("gnutls_rnd failed");
	b64url(rnd, sizeof rnd, verifier, REDIRECT_VERIFIER);
	gnutls_hash_fast(GNUTLS_DIG_SHA256, verifier, strlen(verifier), hash);
	b64url(hash, sizeof hash, challenge, REDIRECT_VERIFIER);
	if (gnutls_rnd(GNUTLS_RND_NONCE, rnd, 16) < 0)
		fatalx("gnutls_rnd failed");
	b64url(rnd, 16, state, REDIRECT_STATE);
	explicit_bzero(rnd, sizeof rnd);
}

static int
code_ok(const char *t)
{
	size_t	n = strlen(t);

	if (n == 0 || n > CODE_MAX)
		return 0;
	for (; *t != '\0'; t++)
		if (*t <= ' ' || *t > '~')
			return 0;
	return 1;
}

/* s made printable and cut, for a message. */
static void
show(const char *s, char *out, size_t size)
{
	(void)termsafe(s, strlen(s), out, size);
}

/* base64url without padding (RFC 7636 appendix A) into out. */
static void
b64url(const unsigned char *in, size_t len, char *out, size_t size)
{
	gnutls_datum_t	 d = { (unsigned char *)in, (unsigned)len }, r;
	size_t		 i, j = 0;

	if (gnutls_base64_encode2(&d, &r) < 0)
		fatalx("gnutls_base64_encode2 failed");
	for (i = 0; i < r.size && j + 1 < size; i++) {
		if (r.data[i] == '=')
			break;
		out[j++] = r.data[i] == '+' ? '-' : r.data[i] == '/' ? '_' :
		    (char)r.data[i];
	}
	out[j] = '\0';
	gnutls_free(r.data);
}

/*
 * The value of param in a query string or a whole address (after '?'
 * or '#'), %-decoded: 1 with *v, 0 when absent, -1 when malformed.
 */
static int
query_param(const char *s, const char *param, char **v)
{
	const char	*p, *q;
	size_t		 n = strlen(param), len;

	*v = NULL;
	if ((p = strpbrk(s, "?#")) != NULL)
		s = p + 1;
	for (p = s; *p != '\0'; p = *q != '\0' ? q + 1 : q) {
		len = strcspn(p, "&#");
		q = p + len;
		if (len > n && strncmp(p, param, n) == 0 && p[n] == '=') {
			*v = http_unescape(p + n + 1, len - n - 1);
			return *v != NULL ? 1 : -1;
		}
	}
	return 0;
}

/*
 * The code in what came back (an address or a bare code); an address
 * must carry our state, and an error from the server is refused.
 */
int
redirect_take_code(const char *back, const char *state, char **code,
    struct error *err)
{
	char	*got = NULL, *e = NULL, shown[80];
	int	 rc = -1;

	*code = NULL;
	back += strspn(back, " \t");
	if (strchr(back, '=') == NULL) {
		/* A bare code, pasted. */
		if (code_ok(back)) {
			*code = xstrdup(back);
			return 0;
		}
		error_set(err, EX_DATAERR, "that is not a code nor the address "
		    "the browser was sent to");
		return -1;
	}
	if (query_param(back, "error", &e) == 1) {
		show(e, shown, sizeof shown);
		error_set(err, EX_NOPERM, "the sign-in failed (%s)", shown);
		goto out;
	}
	if (query_param(back, "state", &got) != 1 ||
	    strcmp(got, state) != 0) {
		error_set(err, EX_DATAERR, "the address does not carry this "
		    "sign-in's state; start again with popfetch --authorize");
		goto out;
	}
	if (query_param(back, "code", code) != 1 || !code_ok(*code)) {
		freezero_str(*code);
		*code = NULL;
		error_set(err, EX_DATAERR, "the address carries no code");
		goto out;
	}
	rc = 0;
out:
	free(e);
	free(got);
	return rc;
}

/* RFC 8252 7.3: a socket on 127.0.0.1, any free port. */
int
redirect_listen(int *fd, int *port, struct error *err)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof sin;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((*fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(*fd, (struct sockaddr *)&sin, sizeof sin) == -1 ||
	    listen(*fd, 4) == -1 ||
	    getsockname(*fd, (struct sockaddr *)&sin, &len) == -1) {
		error_set(err, EX_OSERR, "cannot listen on 127.0.0.1 for the "
		    "browser: %s", strerror(errno));
		if (*fd != -1)
			close(*fd);
		*fd = -1;
		return -1;
	}
	*port = ntohs(sin.sin_port);
	return 0;
}

/* The request head from a browser, bounded in size and time. */
static int
read_request(int fd, char *buf, size_t size, long long deadline)
{
	struct pollfd	pfd = { fd, POLLIN, 0 };
	size_t		got = 0;
	ssize_t		n;
	long long	left;

	while (got + 1 < size) {
		if ((left = deadline - mono_now_ms()) <= 0)
			return -1;
		if (poll(&pfd, 1, (int)(left > 10000 ? 10000 : left)) <= 0)
			continue;
		if ((n = read(fd, buf + got, size - 1 - got)) <= 0)
			return -1;
		got += (size_t)n;
		buf[got] = '\0';
		if (strstr(buf, "\r\n\r\n") != NULL || strstr(buf, "\n\n"))
			return 0;
	}
	return -1;
}

/*
 * Wait for the browser to come back with the code: the first request
 * whose target carries our state or an error; others get a 404.
 */
int
redirect_wait(int lfd, const char *state, char **code, struct error *err)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain;"
	    " charset=utf-8\r\nConnection: close\r\n\r\npopfetch: done; you "
	    "may close this page.\n";
	static const char nf[] = "HTTP/1.1 404 Not Found\r\nConnection: "
	    "close\r\n\r\n";
	struct pollfd	 pfd = { lfd, POLLIN, 0 };
	long long	 deadline = mono_now_ms() + REDIRECT_WAIT * 1000LL;
	char		 req[REDIRECT_LINE_MAX];
	int		 fd, rc;

	while (mono_now_ms() < deadline) {
		if (poll(&pfd, 1, 1000) <= 0)
			continue;
		if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) == -1)
			continue;
		if (read_request(fd, req, sizeof req, mono_now_ms() + 30000) ==
		    -1 || strncmp(req, "GET ", 4) != 0 ||
		    (strstr(req, "state=") == NULL &&
		    strstr(req, "error=") == NULL)) {
			(void)write(fd, nf, sizeof nf - 1);
			close(fd);
			continue;
		}
		req[4 + strcspn(req + 4, " \r\n")] = '\0';
		rc = redirect_take_code(req + 4, state, code, err);
		(void)write(fd, ok, sizeof ok - 1);
		close(fd);
		explicit_bzero(req, sizeof req);
		return rc;
	}
	error_set(err, EX_NOPERM, "no sign-in came back from the browser "
	    "within %d minutes", REDIRECT_WAIT / 60);
	return -1;
}

/* $BROWSER, else xdg-open, in the background; printing the URL is enough. */
void
redirect_open_browser(const char *url)
{
	struct proc_spec spec = { .in = -1, .out = -1, .own_group = 1 };
	const char	*b = getenv("BROWSER");
	char		*cmd, *q = NULL;
	pid_t		 pid;
	int		 status;

	if ((b == NULL || *b == '\0') && getenv("DISPLAY") == NULL &&
	    getenv("WAYLAND_DISPLAY") == NULL)
		return;
	/* The URL as one shell word: it holds no single quote. */
	if (strchr(url, '\'') != NULL)
		return;
	xasprintf(&q, "'%s'", url);
	xasprintf(&cmd, "%s %s >/dev/null 2>&1 </dev/null &",
	    b != NULL && *b != '\0' ? b : "xdg-open", q);
	spec.cmd = cmd;
	/* The shell puts the browser in the background and ends at once. */
	if (proc_spawn(&spec, &pid) == 0)
		(void)proc_wait_or_stop(pid, &status, mono_now_ms() + 5000, 1,
		    0);
	free(q);
	free(cmd);
}

