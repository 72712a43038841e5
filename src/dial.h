/*
 * dial.h -- opening a connection, the same way for every server popfetch
 * talks to (the POP3 server, an SMTP, LMTP or IMAP destination): TCP or a
 * unix-domain socket, through a SOCKS5 proxy when one is set, then
 * implicit TLS when asked, all on the transport's waits (its timeout, the
 * stop flag).  What a protocol does next (a greeting, STLS or STARTTLS)
 * is its own.
 */
#ifndef POPFETCH_DIAL_H
#define POPFETCH_DIAL_H

#include "error.h"
#include "socks.h"
#include "tls.h"

/* The strings belong to the caller; only path or host is set. */
struct dial_params {
	const char	*host;		/* TCP host name or address */
	int		 port;
	const char	*path;		/* a unix-domain socket, or NULL */
	const char	*source_ip;	/* our local address, or NULL: any */
	const char	*proxy_host;	/* a SOCKS5 proxy, or NULL: direct */
	int		 proxy_port;	/* 0: SOCKS_DEFAULT_PORT */
	const struct socks_login *proxy_login;	/* or NULL */
	const struct tls_params *tls;	/* implicit TLS as it says, or NULL */
	int		 timeout;	/* seconds, as transport.h */
	const char	*acct;		/* names the account in traces */
};

/*
 * Connect as p says: a transport the caller frees with transport_free(),
 * or NULL with err set as transport.h and socks.h say (a proxy's errors
 * name it; a failure to reach the proxy is prefixed "SOCKS proxy").
 * *tls_failed (when not NULL) says whether the TLS handshake was the step
 * that failed, for a hint at what to configure.
 */
struct transport *dial(const struct dial_params *p, int *tls_failed,
		    struct error *);

#endif
