/* socks.h -- the client side of a SOCKS5 proxy (RFC 1928, RFC 1929 login). */
#ifndef SOCKS_H
#define SOCKS_H

struct error;
struct transport;

#define SOCKS_DEFAULT_PORT	1080

/* The proxy's own user name and password (RFC 1929), both set. */
struct socks_login {
	const char	*user;
	const char	*password;
};

/*
 * Ask the SOCKS5 proxy at the other end of t (a fresh connection to it)
 * to connect to host:port.  The name goes to the proxy as it is, never
 * resolved here (so Tor resolves it); an IP address is sent as one.
 * Reads no byte past the proxy's answer, so what the server says next
 * stays in the socket.  The whole handshake (login included) must be
 * done within the transport's timeout, however the proxy spreads its
 * answers; its waits are the transport's, so a stop request
 * (transport_stop_on) ends it at once with EX_TEMPFAIL "stopped by a
 * signal".  proxy names the proxy in messages.  With a login (lg not
 * NULL) the user name and password method is offered besides none.
 * Errors: EX_TEMPFAIL when the proxy cannot reach the server or the
 * connection drops, EX_PROTOCOL for an answer that is not SOCKS5,
 * EX_UNAVAILABLE when the proxy wants a login we lack, EX_NOPERM when it
 * refuses ours.
 */
int	socks5_connect(struct transport *t, const char *proxy,
	    const struct socks_login *lg, const char *host, int port,
	    struct error *);

#endif
