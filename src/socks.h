/* socks.h -- the client side of a SOCKS5 proxy (RFC 1928, RFC 1929 login). */
#ifndef SOCKS_H
#define SOCKS_H

#include <signal.h>

struct error;

#define SOCKS_DEFAULT_PORT	1080

/* The proxy's own user name and password (RFC 1929), both set. */
struct socks_login {
	const char	*user;
	const char	*password;
};

/*
 * Ask the SOCKS5 proxy at the other end of fd (connected, non-blocking)
 * to connect to host:port.  The name goes to the proxy as it is, never
 * resolved here (so Tor resolves it); an IP address is sent as one.
 * Reads no byte past the proxy's answer, so what the server says next
 * stays in the socket.  The whole handshake (login included) must be
 * done within timeout seconds, however the proxy spreads its answers.
 * Once *stop (NULL: never) is non-zero, as a SIGTERM handler sets it, the
 * handshake ends within a quarter second with EX_TEMPFAIL "stopped by a
 * signal".  proxy names the proxy in messages.  With a login (lg not NULL) the
 * user name and password method is offered besides none.  Errors:
 * EX_TEMPFAIL when the proxy cannot reach the server or the connection
 * drops, EX_PROTOCOL for an answer that is not SOCKS5, EX_UNAVAILABLE
 * when the proxy wants a login we lack, EX_NOPERM when it refuses ours.
 */
int	socks5_connect(int fd, const char *proxy, const struct socks_login *lg,
	    const char *host, int port, int timeout,
	    volatile sig_atomic_t *stop, struct error *);

#endif
