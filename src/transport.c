/* transport.c -- TCP, buffered lines, optional TLS; see transport.h. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netdb.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "error.h"
#include "mono.h"
#include "tls.h"
#include "transport.h"
#include "xmalloc.h"

/*
 * Input buffer: several pieces long, so that once the unread bytes (less
 * than a piece) are moved to its front there is always room to read more.
 */
#define RBUF_SIZE	65536
/* Queued output beyond this is sent at once. */
#define WQUEUE_MAX	16384
/* io_read() and io_write(): the socket is not ready. */
#define IO_AGAIN	(-2)
/*
 * The least a server must send in each `timeout` seconds spent waiting for
 * it: far below any real link (a 9600 bit/s modem sends this in a second),
 * far above a server that trickles a byte now and then to hold us.
 */
#define PROGRESS_MIN	1024
#define DEADLINE_SLACK_MS 10	/* see fill() */
/* Waits are cut into slices this long, so that a stop request is seen. */
#define STOP_SLICE_MS	250

struct transport {
	int		 fd;
	int		 timeout;	/* seconds per wait; <= 0: no limit */
	struct tls	*tls;		/* NULL until transport_starttls() */

	char		*rbuf;		/* RBUF_SIZE bytes */
	size_t		 roff;		/* first unread byte */
	size_t		 rlen;		/* unread bytes */
	size_t		 rscan;		/* unread bytes known to hold no '\n' */
	int		 eof;
	int		 broken;	/* a read or write failed */

	struct buf	 wbuf;		/* output; wbuf.data[woff..] unsent */
	size_t		 woff;

	long long	 win_ms;	/* waited in this progress window */
	size_t		 win_bytes;	/* received in it */
};

/* Set by transport_stop_on(): a signal asked the process to stop. */
static volatile sig_atomic_t	*stop_flag;
static int			 watch_fd = -1;	/* transport_watch() */
static transport_gone_fn	 watch_gone;

static int	 connect_addr(const struct addrinfo *, const struct addrinfo *,
		    int, int *);
static struct addrinfo *source_addr(const char *, struct error *);
static int	 errno_rank(int);
static ssize_t	 raw_io(struct transport *, char *, size_t, int,
		    const struct timespec *, struct error *);
static int	 wait_fd(int, short, int, struct error *);
static int	 wait_until(int, short, const struct timespec *,
		    long long *, struct error *);
static int	 progress(struct transport *, long long, struct error *);
static ssize_t	 io_read(struct transport *, void *, size_t, short *,
		    struct error *);
static ssize_t	 io_write(struct transport *, const void *, size_t, short *,
		    struct error *);
static int	 fill(struct transport *, int, const struct timespec *,
		    struct error *);

struct transport *
transport_connect(const char *host, int port, int timeout, struct error *err)
{
	return transport_connect_from(host, port, NULL, timeout, err);
}

struct transport *
transport_connect_from(const char *host, int port, const char *source,
    int timeout, struct error *err)
{
	struct addrinfo		 hints, *res, *ai, *src = NULL;
	struct transport	*t;
	char			 service[16];
	const char		*lb, *rb;
	int			 r, fd = -1, best = 0, e, on = 1;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(service, sizeof service, "%d", port);
	if (source != NULL) {
		if ((src = source_addr(source, err)) == NULL)
			return NULL;
		hints.ai_family = src->ai_family;
	}
	if ((r = getaddrinfo(host, service, &hints, &res)) != 0) {
		freeaddrinfo(src);
		/* The host may have addresses, just not of source's kind. */
		if (source != NULL && (r == EAI_NONAME || r == EAI_ADDRFAMILY
		    || r == EAI_NODATA)) {
			error_set(err, EX_NOHOST, "host %s has no %s address "
			    "to reach from source_ip %s", host,
			    strchr(source, ':') != NULL ? "IPv6" : "IPv4",
			    source);
			return NULL;
		}
		/* No answer from DNS is the network being down: try later. */
		error_set(err, r == EAI_AGAIN ? EX_TEMPFAIL : EX_NOHOST,
		    "cannot resolve host %s: %s", host,
		    r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
		return NULL;
	}

	/*
	 * Try every address; when all fail, report the most telling
	 * error: "refused" says more than an IPv6 route that is missing.
	 */
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((fd = connect_addr(ai, src, timeout, &e)) != -1)
			break;
		if (best == 0 || errno_rank(e) > errno_rank(best))
			best = e;
	}
	freeaddrinfo(res);
	freeaddrinfo(src);
	if (fd == -1) {
		lb = strchr(host, ':') != NULL ? "[" : "";
		rb = strchr(host, ':') != NULL ? "]" : "";
		if (best == ETIMEDOUT)
			error_set(err, EX_TEMPFAIL, "cannot connect to "
			    "%s%s%s:%d: timed out after %d seconds waiting for "
			    "the server", lb, host, rb, port, timeout);
		else
			error_set(err, EX_TEMPFAIL, "cannot connect to "
			    "%s%s%s:%d%s%s: %s", lb, host, rb, port,
			    source != NULL ? " from " : "",
			    source != NULL ? source : "",
			    strerror(best != 0 ? best : EHOSTUNREACH));
		return NULL;
	}

	/* Commands are small and written whole; do not let Nagle hold them. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);

	t = xcalloc(1, sizeof *t);
	t->fd = fd;
	t->timeout = timeout;
	t->rbuf = xmalloc(RBUF_SIZE);
	buf_init(&t->wbuf);
	return t;
}

struct transport *
transport_connect_unix(const char *path, int timeout, struct error *err)
{
	struct sockaddr_un	 sun;
	struct addrinfo		 ai;
	struct transport	*t;
	int			 fd, e;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path) {
		error_set(err, EX_CONFIG, "socket path %s is too long (at most "
		    "%zu bytes)", path, sizeof sun.sun_path - 1);
		return NULL;
	}
	memcpy(sun.sun_path, path, strlen(path));
	memset(&ai, 0, sizeof ai);
	ai.ai_family = AF_UNIX;
	ai.ai_socktype = SOCK_STREAM;
	ai.ai_addr = (struct sockaddr *)&sun;
	ai.ai_addrlen = sizeof sun;
	if ((fd = connect_addr(&ai, NULL, timeout, &e)) == -1) {
		error_set(err, EX_TEMPFAIL, "cannot connect to %s: %s", path,
		    e == ETIMEDOUT ? "timed out" : strerror(e));
		return NULL;
	}
	t = xcalloc(1, sizeof *t);
	t->fd = fd;
	t->timeout = timeout;
	t->rbuf = xmalloc(RBUF_SIZE);
	buf_init(&t->wbuf);
	return t;
}

/*
 * All of len bytes out, or len bytes in (fewer only at end of input),
 * unbuffered, on a fresh connection only (nothing buffered either way).
 * The bytes moved, or -1.
 */
static ssize_t
raw_io(struct transport *t, char *p, size_t len, int out,
    const struct timespec *end, struct error *err)
{
	size_t	done = 0;
	ssize_t	n;
	short	events;

	if (t->tls != NULL || t->rlen > 0 || t->woff < t->wbuf.len) {
		error_set(err, EX_SOFTWARE, "unbuffered I/O on a connection "
		    "already in use");
		return -1;
	}
	while (done < len) {
		n = out ? io_write(t, p + done, len - done, &events, err) :
		    io_read(t, p + done, len - done, &events, err);
		if (n == -1) {
			t->broken = 1;
			return -1;
		}
		if (n == 0 && !out) {
			t->eof = 1;
			break;
		}
		if (n >= 0)
			done += (size_t)n;
		else if (wait_until(t->fd, events, end, NULL, err) == -1)
			return -1;
	}
	return (ssize_t)done;
}

int
transport_send_raw(struct transport *t, const void *p, size_t len,
    const struct timespec *end, struct error *err)
{
	/* raw_io() only reads from p when out. */
	return raw_io(t, (char *)(uintptr_t)p, len, 1, end, err) == -1 ? -1 :
	    0;
}

ssize_t
transport_recv_raw(struct transport *t, void *p, size_t len,
    const struct timespec *end, struct error *err)
{
	return raw_io(t, p, len, 0, end, err);
}

int
transport_starttls(struct transport *t, const struct tls_params *tp,
    struct error *err)
{
	struct timespec	end;
	short		events;
	int		r;

	if (t->tls != NULL) {
		error_set(err, EX_SOFTWARE, "TLS is already active");
		return -1;
	}
	if (t->rlen > 0) {
		error_set(err, EX_PROTOCOL, "the server sent data before the "
		    "TLS handshake (possible injection attack); refusing to "
		    "continue");
		return -1;
	}
	/* Commands queued before the handshake would go out after it. */
	if (t->woff < t->wbuf.len) {
		error_set(err, EX_SOFTWARE, "unsent data before the TLS "
		    "handshake");
		return -1;
	}

	if ((t->tls = tls_new(t->fd, tp, err)) == NULL)
		return -1;
	/* The whole handshake, not each step: a trickle must not hold us. */
	mono_deadline(&end, t->timeout);
	while ((r = tls_handshake(t->tls, err)) == TLS_AGAIN) {
		events = tls_events(t->tls);
		if (wait_until(t->fd, events, t->timeout > 0 ? &end : NULL,
		    NULL, err) == -1) {
			if (err->ex == EX_TEMPFAIL && mono_left_ms(&end) == 0)
				error_prefix(err, "the TLS handshake did not "
				    "finish in time");
			r = -1;
			break;
		}
	}
	if (r != 0) {
		/* Never leave a half-started session for later reads. */
		tls_free(t->tls);
		t->tls = NULL;
		return -1;
	}
	return 0;
}

int
transport_getline(struct transport *t, const char **line, size_t *len,
    struct error *err)
{
	struct timespec	 end;
	char		*p, *nl;
	size_t		 n;

	/* A reply can only come after its command has left. */
	if (t->woff < t->wbuf.len && transport_flush(t, err) == -1)
		return -1;

	/* The whole piece within the timeout, however it is dribbled out. */
	mono_deadline(&end, t->timeout);

	for (;;) {
		p = t->rbuf + t->roff;
		n = t->rlen < TRANSPORT_CHUNK_MAX ? t->rlen :
		    TRANSPORT_CHUNK_MAX;
		if (t->rscan < n &&
		    (nl = memchr(p + t->rscan, '\n', n - t->rscan)) != NULL) {
			n = nl - p + 1;
			break;
		}
		t->rscan = n;
		if (n == TRANSPORT_CHUNK_MAX)
			break;
		if (t->eof) {
			if (n > 0)
				break;
			error_set(err, EX_TEMPFAIL,
			    "connection closed by the server");
			return -1;
		}
		if (fill(t, 1, t->timeout > 0 ? &end : NULL, err) == -1)
			return -1;
	}

	*line = p;
	*len = n;
	t->roff += n;
	t->rlen -= n;
	t->rscan = 0;
	return 0;
}

ssize_t
transport_read(struct transport *t, char *buf, size_t len,
    struct error *err)
{
	struct timespec	 end;
	size_t		 n;

	if (t->woff < t->wbuf.len && transport_flush(t, err) == -1)
		return -1;
	mono_deadline(&end, t->timeout);
	while (t->rlen == 0) {
		if (t->eof) {
			error_set(err, EX_TEMPFAIL,
			    "connection closed by the server");
			return -1;
		}
		if (fill(t, 1, t->timeout > 0 ? &end : NULL, err) == -1)
			return -1;
	}
	n = len < t->rlen ? len : t->rlen;
	memcpy(buf, t->rbuf + t->roff, n);
	t->roff += n;
	t->rlen -= n;
	t->rscan = t->rscan > n ? t->rscan - n : 0;
	return (ssize_t)n;
}

int
transport_write(struct transport *t, const void *data, size_t len,
    struct error *err)
{
	const char	*p = data;
	size_t		 n;

	/* In slices, so a large write never queues more than it must. */
	while (len > 0) {
		n = len < WQUEUE_MAX ? len : WQUEUE_MAX;
		buf_add(&t->wbuf, p, n);
		p += n;
		len -= n;
		if (t->wbuf.len - t->woff >= WQUEUE_MAX &&
		    transport_flush(t, err) == -1)
			return -1;
	}
	return 0;
}

int
transport_flush(struct transport *t, struct error *err)
{
	ssize_t	n;
	short	events;
	int	revents;

	/* Commands leave: the server's silence before them was no stall. */
	if (t->woff < t->wbuf.len) {
		t->win_ms = 0;
		t->win_bytes = 0;
	}
	while (t->woff < t->wbuf.len) {
		n = io_write(t, t->wbuf.data + t->woff, t->wbuf.len - t->woff,
		    &events, err);
		if (n == -1) {
			t->broken = 1;
			return -1;
		}
		if (n > 0) {
			t->woff += n;
			continue;
		}

		/*
		 * While the server does not take our bytes, take its: a
		 * server blocked on writing replies stops reading commands,
		 * and pipelined commands would deadlock both sides.
		 */
		if (!t->eof && t->rlen < RBUF_SIZE)
			events |= POLLIN;
		if ((revents = wait_fd(t->fd, events, t->timeout, err)) == -1)
			return -1;
		if ((revents & POLLIN) && (events & POLLIN) &&
		    fill(t, 0, NULL, err) == -1)
			return -1;
	}

	/* The queue held the password: leave none of it in memory. */
	if (t->wbuf.data != NULL)
		explicit_bzero(t->wbuf.data, t->wbuf.len);
	buf_reset(&t->wbuf);
	t->woff = 0;
	return 0;
}

const char *
transport_tls_desc(const struct transport *t)
{
	return t->tls != NULL ? tls_desc(t->tls) : NULL;
}

int
transport_channel_binding(struct transport *t, unsigned char **data,
    size_t *len, int *exporter, struct error *err)
{
	if (t->tls == NULL) {
		error_set(err, EX_SOFTWARE, "channel binding needs TLS");
		return -1;
	}
	return tls_channel_binding(t->tls, data, len, exporter, err);
}

int
transport_certinfo(struct transport *t, struct tls_certinfo *ci,
    struct error *err)
{
	if (t->tls == NULL) {
		error_set(err, EX_SOFTWARE, "no certificate without TLS");
		return -1;
	}
	return tls_peer_certinfo(t->tls, ci, err);
}

/*
 * The server is gone: it closed the connection (and everything it sent
 * has been read), or reading or writing failed.
 */
int
transport_lost(const struct transport *t)
{
	return t->broken || (t->eof && t->rlen == 0);
}

int
transport_is_tls(const struct transport *t)
{
	return t->tls != NULL;
}

void
transport_free(struct transport *t)
{
	if (t == NULL)
		return;
	tls_free(t->tls);
	/* Abrupt on purpose: without QUIT the server deletes nothing. */
	if (t->fd != -1)
		close(t->fd);
	if (t->wbuf.data != NULL)
		explicit_bzero(t->wbuf.data, t->wbuf.size);
	buf_free(&t->wbuf);
	free(t->rbuf);
	free(t);
}

/*
 * A connected non-blocking socket to one address, or -1 with the reason in
 * *errnum (ETIMEDOUT when the timeout ran out).
 */
static int
connect_addr(const struct addrinfo *ai, const struct addrinfo *src,
    int timeout, int *errnum)
{
	struct error	 werr;
	socklen_t	 len;
	int		 fd, e;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, ai->ai_protocol);
	if (fd == -1) {
		*errnum = errno;
		return -1;
	}
	if (src != NULL && bind(fd, src->ai_addr, src->ai_addrlen) == -1) {
		e = errno;
		goto fail;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	/* After EINTR the connection goes on in the background, too. */
	if (errno != EINPROGRESS && errno != EINTR) {
		e = errno;
		goto fail;
	}

	error_clear(&werr);
	if (wait_fd(fd, POLLOUT, timeout, &werr) == -1) {
		e = werr.ex == EX_TEMPFAIL ? ETIMEDOUT : EIO;
		goto fail;
	}
	len = sizeof e;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) == -1)
		e = errno;
	if (e == 0)
		return fd;

fail:
	close(fd);
	*errnum = e;
	return -1;
}

/*
 * source_ip as a bindable address (any port).  A trial bind here turns
 * "not an address of this host" into an error that names it, rather
 * than a connect error that seems to be about the server.
 */
static struct addrinfo *
source_addr(const char *source, struct error *err)
{
	struct addrinfo	 hints, *src;
	int		 r, fd;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
	if ((r = getaddrinfo(source, NULL, &hints, &src)) != 0) {
		error_set(err, EX_CONFIG, "source_ip %s: not an IP address: "
		    "%s", source, gai_strerror(r));
		return NULL;
	}
	fd = socket(src->ai_family, src->ai_socktype | SOCK_CLOEXEC,
	    src->ai_protocol);
	if (fd == -1 || bind(fd, src->ai_addr, src->ai_addrlen) == -1) {
		error_set(err, EX_UNAVAILABLE, "cannot use source_ip %s: %s "
		    "(is it an address of this host?)", source,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		freeaddrinfo(src);
		return NULL;
	}
	close(fd);
	return src;
}

/* How much a connect error tells the user; the highest is reported. */
static int
errno_rank(int e)
{
	switch (e) {
	case EAFNOSUPPORT:
	case EPROTONOSUPPORT:
		return 0;	/* this host has no IPv6 at all */
	case ENETUNREACH:
	case EADDRNOTAVAIL:
		return 1;
	case EHOSTUNREACH:
		return 2;
	case ETIMEDOUT:
		return 4;
	case ECONNREFUSED:
		return 5;
	default:
		return 3;
	}
}

void
transport_stop_on(volatile sig_atomic_t *flag)
{
	stop_flag = flag;
}

void
transport_watch(int fd, transport_gone_fn gone)
{
	watch_fd = fd;
	watch_gone = gone;
}

volatile sig_atomic_t *
transport_stop_flag(void)
{
	return stop_flag;
}

int
transport_timeout(const struct transport *t)
{
	return t->timeout;
}

int
transport_check_stop(struct error *err)
{
	if (stop_flag != NULL && *stop_flag) {
		error_set(err, EX_TEMPFAIL, "stopped by a signal");
		return -1;
	}
	return 0;
}

/*
 * Wait until fd is ready for events, at most timeout seconds (EINTR does
 * not restart the clock).  Returns the revents, or -1 with err set.
 */
static int
wait_fd(int fd, short events, int timeout, struct error *err)
{
	struct timespec	end;

	mono_deadline(&end, timeout);
	return wait_until(fd, events, timeout > 0 ? &end : NULL, NULL, err);
}

/*
 * Wait until fd is ready for events or end (NULL: no limit) has passed;
 * adds the time waited to *waited when it is not NULL.  A stop request
 * (transport_stop_on) ends any wait within STOP_SLICE_MS: EX_TEMPFAIL.
 * Returns the revents, or -1 with err set.
 */
static int
wait_until(int fd, short events, const struct timespec *end,
    long long *waited, struct error *err)
{
	struct pollfd	pfd[2];
	long long	ms, t0;
	int		n, saved;

	for (;;) {
		if (stop_flag != NULL && *stop_flag) {
			error_set(err, EX_TEMPFAIL, "stopped by a signal");
			return -1;
		}
		ms = STOP_SLICE_MS;
		if (end != NULL) {
			ms = mono_left_ms(end);
			if (ms == 0) {
				error_set(err, EX_TEMPFAIL, "timed out waiting "
				    "for the server");
				return -1;
			}
			if (ms > STOP_SLICE_MS)
				ms = STOP_SLICE_MS;
		}
		pfd[0].fd = fd;
		pfd[0].events = events;
		pfd[0].revents = 0;
		pfd[1].fd = watch_fd;
		pfd[1].events = POLLIN;
		pfd[1].revents = 0;
		t0 = mono_now_ms();
		n = poll(pfd, watch_fd != -1 ? 2 : 1, (int)ms);
		saved = errno;
		if (waited != NULL)
			*waited += mono_now_ms() - t0;
		if (n > 0 && pfd[1].revents != 0 && watch_gone(fd)) {
			error_set(err, EX_TEMPFAIL, "the network changed (the "
			    "connection's address or route went away): "
			    "connection dropped, to start again on the new "
			    "network");
			return -1;
		}
		if (n > 0 && pfd[0].revents != 0)
			return pfd[0].revents;
		if (n == -1 && saved != EINTR) {
			error_set(err, EX_OSERR, "poll: %s", strerror(saved));
			return -1;
		}
	}
}

/*
 * The rate rule: in every `timeout` seconds spent waiting for the server
 * at least PROGRESS_MIN bytes must come, so a server that sends a byte
 * now and then (each wait well under the timeout) cannot hold the run.
 */
static int
progress(struct transport *t, long long waited, struct error *err)
{
	if (t->timeout <= 0)
		return 0;
	t->win_ms += waited;
	if (t->win_ms < t->timeout * 1000LL)
		return 0;
	if (t->win_bytes < PROGRESS_MIN) {
		error_set(err, EX_TEMPFAIL, "the server sent only %zu bytes "
		    "in %d seconds (at least %d are needed in each timeout "
		    "period); giving up on it", t->win_bytes, t->timeout,
		    PROGRESS_MIN);
		return -1;
	}
	t->win_ms = 0;
	t->win_bytes = 0;
	return 0;
}

/* Replaces err by the plain message of a passed deadline. */
static void
timed_out(struct transport *t, struct error *err)
{
	error_clear(err);
	error_set(err, EX_TEMPFAIL, "timed out after %d seconds waiting for "
	    "the server", t->timeout);
}

/* Bytes from the server: > 0, 0 at end of input, IO_AGAIN (*events), -1. */
static ssize_t
io_read(struct transport *t, void *p, size_t len, short *events,
    struct error *err)
{
	ssize_t	n;

	*events = POLLIN;
	if (t->tls != NULL) {
		if ((n = tls_recv(t->tls, p, len, err)) == TLS_AGAIN) {
			*events = tls_events(t->tls);
			return IO_AGAIN;
		}
		return n;
	}

	while ((n = recv(t->fd, p, len, 0)) == -1) {
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return IO_AGAIN;
		if (errno == ECONNRESET)
			error_set(err, EX_TEMPFAIL,
			    "connection reset by the server");
		else
			error_set(err, EX_TEMPFAIL, "cannot read from the "
			    "server: %s", strerror(errno));
		return -1;
	}
	return n;
}

/* Bytes to the server: how many were taken, IO_AGAIN (*events), or -1. */
static ssize_t
io_write(struct transport *t, const void *p, size_t len, short *events,
    struct error *err)
{
	ssize_t	n;

	*events = POLLOUT;
	if (t->tls != NULL) {
		if ((n = tls_send(t->tls, p, len, err)) == TLS_AGAIN) {
			*events = tls_events(t->tls);
			return IO_AGAIN;
		}
		return n;
	}

	/* MSG_NOSIGNAL: a closed connection must be an error, not SIGPIPE. */
	while ((n = send(t->fd, p, len, MSG_NOSIGNAL)) == -1) {
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return IO_AGAIN;
		if (errno == EPIPE)
			error_set(err, EX_TEMPFAIL,
			    "connection closed by the server");
		else if (errno == ECONNRESET)
			error_set(err, EX_TEMPFAIL,
			    "connection reset by the server");
		else
			error_set(err, EX_TEMPFAIL, "cannot write to the "
			    "server: %s", strerror(errno));
		return -1;
	}
	return n;
}

/*
 * Read once into the free end of the input buffer, moving the unread
 * bytes to its front when the end is full.  With wait, waits for the
 * server until end (NULL: no limit) and as long as the rate rule allows;
 * without, returns 0 when nothing is there.  Sets eof at end of input.
 */
static int
fill(struct transport *t, int wait, const struct timespec *end,
    struct error *err)
{
	ssize_t		n;
	long long	waited;
	short		events;

	if (t->rlen == 0)
		t->roff = 0;
	else if (t->roff + t->rlen == RBUF_SIZE) {
		memmove(t->rbuf, t->rbuf + t->roff, t->rlen);
		t->roff = 0;
	}

	for (;;) {
		n = io_read(t, t->rbuf + t->roff + t->rlen,
		    RBUF_SIZE - t->roff - t->rlen, &events, err);
		if (n == -1) {
			t->broken = 1;
			return -1;
		}
		if (n == 0) {
			t->eof = 1;
			return 0;
		}
		if (n > 0) {
			t->rlen += n;
			t->win_bytes += n;
			return 0;
		}
		if (!wait)
			return 0;
		waited = 0;
		if (wait_until(t->fd, events, end, &waited, err) == -1) {
			if (err->ex == EX_TEMPFAIL && end != NULL &&
			    mono_left_ms(end) == 0)
				timed_out(t, err);
			return -1;
		}
		if (progress(t, waited, err) == -1) {
			/*
			 * A trickle can exhaust the rate window within a few
			 * milliseconds of the deadline (each wait is counted
			 * in whole milliseconds); the deadline is the plainer
			 * message, so it wins when it has (nearly) passed.
			 */
			if (end != NULL && mono_left_ms(end) <= DEADLINE_SLACK_MS)
				timed_out(t, err);
			return -1;
		}
	}
}
