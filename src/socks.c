/* socks.c -- a SOCKS5 CONNECT through a proxy (RFC 1928); see socks.h. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "error.h"
#include "mono.h"
#include "socks.h"
#include "transport.h"

#define SOCKS_VERSION	5
#define METHOD_NONE	0x00
#define METHOD_LOGIN	0x02
#define LOGIN_VERSION	1
#define METHOD_REFUSED	0xff
#define CMD_CONNECT	1
#define ATYP_IPV4	1
#define ATYP_NAME	3
#define ATYP_IPV6	4
#define NAME_MAX_LEN	255

/* One handshake: the proxy, and when its whole handshake must be done. */
struct hs {
	struct transport *t;
	const char	*proxy;
	int		 timeout;	/* seconds (<= 0: no limit) */
	struct timespec	 end;		/* mono_deadline() of timeout */
};

static int	 greet(const struct hs *, const struct socks_login *,
		    struct error *);
static int	 login(const struct hs *, const struct socks_login *,
		    struct error *);
static int	 io(const struct hs *, unsigned char *, size_t, int,
		    struct error *);
static const char *reply_text(int);

int
socks5_connect(struct transport *t, const char *proxy,
    const struct socks_login *lg, const char *host, int port,
    struct error *err)
{
	unsigned char	 req[4 + 1 + NAME_MAX_LEN + 2], ans[4 + 256 + 2];
	struct in6_addr	 in6;
	struct in_addr	 in4;
	size_t		 len, n, need;
	struct hs	 hs;

	/*
	 * One deadline for all of it: a proxy that answers each step just
	 * in time must not multiply the timeout.
	 */
	hs.t = t;
	hs.proxy = proxy;
	hs.timeout = transport_timeout(t);
	mono_deadline(&hs.end, hs.timeout);
	if (greet(&hs, lg, err) == -1)
		return -1;

	req[0] = SOCKS_VERSION;
	req[1] = CMD_CONNECT;
	req[2] = 0;
	if (inet_pton(AF_INET, host, &in4) == 1) {
		req[3] = ATYP_IPV4;
		memcpy(req + 4, &in4, 4);
		n = 4 + 4;
	} else if (inet_pton(AF_INET6, host, &in6) == 1) {
		req[3] = ATYP_IPV6;
		memcpy(req + 4, &in6, 16);
		n = 4 + 16;
	} else {
		if ((len = strlen(host)) > NAME_MAX_LEN) {
			error_set(err, EX_CONFIG, "SOCKS proxy %s: host name "
			    "longer than %d characters", proxy, NAME_MAX_LEN);
			return -1;
		}
		req[3] = ATYP_NAME;
		req[4] = (unsigned char)len;
		memcpy(req + 5, host, len);
		n = 5 + len;
	}
	req[n++] = (unsigned char)(port >> 8);
	req[n++] = (unsigned char)(port & 0xff);
	if (io(&hs, req, n, 1, err) == -1)
		return -1;

	/* VER REP RSV ATYP, then an address whose length ATYP gives. */
	if (io(&hs, ans, 4, 0, err) == -1)
		return -1;
	if (ans[0] != SOCKS_VERSION || ans[2] != 0) {
		error_set(err, EX_PROTOCOL, "SOCKS proxy %s: malformed "
		    "answer to CONNECT", proxy);
		return -1;
	}
	if (ans[1] != 0) {
		error_set(err, EX_TEMPFAIL, "SOCKS proxy %s cannot connect "
		    "to %s port %d: %s", proxy, host, port,
		    reply_text(ans[1]));
		return -1;
	}
	switch (ans[3]) {
	case ATYP_IPV4:
		need = 4 + 2;
		break;
	case ATYP_IPV6:
		need = 16 + 2;
		break;
	case ATYP_NAME:
		if (io(&hs, ans + 4, 1, 0, err) == -1)
			return -1;
		need = (size_t)ans[4] + 2;
		break;
	default:
		error_set(err, EX_PROTOCOL, "SOCKS proxy %s: malformed "
		    "answer to CONNECT (address type %u)", proxy, ans[3]);
		return -1;
	}
	/* The bound address is of no use to us, but must not be left. */
	return io(&hs, ans + 5, need, 0, err);
}

/*
 * Offer no authentication, and the RFC 1929 login when there is one;
 * log in if the proxy picks it.
 */
static int
greet(const struct hs *hs, const struct socks_login *lg, struct error *err)
{
	const char	*proxy = hs->proxy;
	unsigned char	 req[4], ans[2];
	size_t		 n = 2;

	req[0] = SOCKS_VERSION;
	req[n++] = METHOD_NONE;
	if (lg != NULL)
		req[n++] = METHOD_LOGIN;
	req[1] = (unsigned char)(n - 2);
	if (io(hs, req, n, 1, err) == -1 || io(hs, ans, 2, 0, err) == -1)
		return -1;
	if (ans[0] != SOCKS_VERSION) {
		error_set(err, EX_PROTOCOL, "SOCKS proxy %s: not a SOCKS5 "
		    "proxy (it answered version %u)", proxy, ans[0]);
		return -1;
	}
	if (ans[1] == METHOD_NONE)
		return 0;
	if (ans[1] == METHOD_LOGIN && lg != NULL)
		return login(hs, lg, err);
	if (lg == NULL && ans[1] == METHOD_REFUSED) {
		error_set(err, EX_UNAVAILABLE, "SOCKS proxy %s wants a login; "
		    "set proxy_user and proxy_password", proxy);
		return -1;
	}
	if (ans[1] == METHOD_REFUSED) {
		error_set(err, EX_UNAVAILABLE, "SOCKS proxy %s accepts neither "
		    "no authentication nor a user name and password", proxy);
		return -1;
	}
	error_set(err, EX_PROTOCOL, "SOCKS proxy %s: it chose method %u, "
	    "which was not offered", proxy, ans[1]);
	return -1;
}

/* RFC 1929: VER ULEN UNAME PLEN PASSWD, answered by VER STATUS. */
static int
login(const struct hs *hs, const struct socks_login *lg, struct error *err)
{
	const char	*proxy = hs->proxy;
	unsigned char	 req[3 + 2 * 255], ans[2];
	size_t		 ulen = strlen(lg->user), plen = strlen(lg->password);
	size_t		 n = 0;
	int		 r;

	if (ulen == 0 || ulen > 255 || plen == 0 || plen > 255) {
		error_set(err, EX_CONFIG, "SOCKS proxy %s: proxy_user and "
		    "proxy_password must each be 1 to 255 bytes long", proxy);
		return -1;
	}
	req[n++] = LOGIN_VERSION;
	req[n++] = (unsigned char)ulen;
	memcpy(req + n, lg->user, ulen);
	n += ulen;
	req[n++] = (unsigned char)plen;
	memcpy(req + n, lg->password, plen);
	n += plen;
	r = io(hs, req, n, 1, err);
	explicit_bzero(req, sizeof req);
	if (r == -1 || io(hs, ans, 2, 0, err) == -1)
		return -1;
	if (ans[0] != LOGIN_VERSION) {
		error_set(err, EX_PROTOCOL, "SOCKS proxy %s: malformed answer "
		    "to the login", proxy);
		return -1;
	}
	if (ans[1] != 0) {
		error_set(err, EX_NOPERM, "SOCKS proxy %s refused user %s; "
		    "check proxy_user and proxy_password", proxy, lg->user);
		return -1;
	}
	return 0;
}

/*
 * Write all of buf (out) or read exactly len bytes into it (in), by the
 * handshake's deadline, on the transport's waits (so a stop request ends
 * it too); never more, so the server's first bytes stay unread.
 */
static int
io(const struct hs *hs, unsigned char *buf, size_t len, int out,
    struct error *err)
{
	const struct timespec	*end = hs->timeout > 0 ? &hs->end : NULL;
	volatile sig_atomic_t	*stop = transport_stop_flag();
	ssize_t			 n;

	if (out)
		n = transport_send_raw(hs->t, buf, len, end, err) == -1 ? -1 :
		    (ssize_t)len;
	else
		n = transport_recv_raw(hs->t, buf, len, end, err);
	if (n == (ssize_t)len)
		return 0;
	if (n >= 0) {
		error_set(err, EX_TEMPFAIL, "SOCKS proxy %s closed the "
		    "connection during the handshake", hs->proxy);
		return -1;
	}
	if (stop != NULL && *stop)
		return -1;	/* "stopped by a signal", as any wait */
	if (end != NULL && err->ex == EX_TEMPFAIL && mono_left_ms(end) == 0) {
		error_clear(err);
		error_set(err, EX_TEMPFAIL, "SOCKS proxy %s: the handshake did "
		    "not finish within %d seconds", hs->proxy, hs->timeout);
		return -1;
	}
	error_prefix(err, "SOCKS proxy %s", hs->proxy);
	return -1;
}

/* RFC 1928, section 6. */
static const char *
reply_text(int rep)
{
	static const char *const texts[] = {
		"succeeded", "general SOCKS server failure",
		"connection not allowed by ruleset", "network unreachable",
		"host unreachable", "connection refused", "TTL expired",
		"command not supported", "address type not supported",
	};

	if (rep >= 0 && rep < (int)(sizeof texts / sizeof texts[0]))
		return texts[rep];
	return "unknown error";
}
