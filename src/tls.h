/*
 * tls.h -- GnuTLS over a connected non-blocking socket; used only by
 * transport.c.
 *
 * Nothing here waits: every call that would block returns TLS_AGAIN, and
 * tls_events() then says whether to poll the socket for POLLIN or POLLOUT.
 * The transport does all waiting, so that one timeout rule and one timeout
 * message cover plain TCP and TLS alike.  Because the transport always
 * calls tls_recv() before it polls, data GnuTLS has already decrypted is
 * never waited for.
 *
 * Errors: an unusable tls_trust_file is EX_CONFIG; a handshake, protocol
 * or certificate failure EX_PROTOCOL; a reset or closed connection
 * EX_TEMPFAIL.  Sending never raises SIGPIPE.
 */
#ifndef POPFETCH_TLS_H
#define POPFETCH_TLS_H

#include <sys/types.h>

#include <stddef.h>
#include <time.h>

#include "error.h"

/* Returned by tls_handshake(), tls_recv() and tls_send(): try again later. */
#define TLS_AGAIN	(-2)

struct tls;
struct tls_params {
	const char		*host;		/* SNI and name check */
	const char		*trust_file;	/* PEM CA file; NULL: system store */
	int			 certcheck;	/* 0: accept any certificate */
	const unsigned char	*fingerprint;	/* SHA-256 pin (32 bytes) or NULL */
	const char		*priorities;	/* GnuTLS priority string or NULL */
	const char		*cert_file;	/* client certificate (PEM) or NULL */
	const char		*key_file;	/* its key; set with cert_file */
	const char		*crl_file;	/* PEM CRLs checked with the CA */
};

/* The server's certificate as --serverinfo shows it; see transport_certinfo(). */
struct tls_certinfo {
	char	*subject;		/* RFC 4514 DN, as the certificate has it */
	char	*issuer;
	time_t	 not_before, not_after;
	char	 sha256[96];		/* "AB:CD:...": tls_fingerprint's form */
};

/* Free what tls_peer_certinfo() (or transport_certinfo()) filled in. */
void	tls_certinfo_free(struct tls_certinfo *);

/*
 * Prepare a client session on fd (connected, non-blocking; still owned by
 * the caller): credentials and trust as tp says, SNI unless tp->host is an
 * IP address.  tp is not kept.  Free the result with tls_free().
 */
struct tls	*tls_new(int fd, const struct tls_params *tp, struct error *);

/*
 * Advance the handshake.  Returns 0 once it is complete and the server's
 * certificate passed the checks tls_new() was given, TLS_AGAIN while it
 * needs the socket, -1 on failure.
 */
int		 tls_handshake(struct tls *, struct error *);

/*
 * Decrypted bytes into buf: returns how many (> 0), 0 when the server
 * closed the connection (with or without close_notify: POP3 frames its own
 * data), TLS_AGAIN, or -1.
 */
ssize_t		 tls_recv(struct tls *, void *buf, size_t, struct error *);

/*
 * Send up to len bytes: returns how many were taken (> 0), TLS_AGAIN or
 * -1.  After TLS_AGAIN, call again with the same bytes at the front of buf
 * (more may follow them).
 */
ssize_t		 tls_send(struct tls *, const void *buf, size_t,
		    struct error *);

/* POLLIN or POLLOUT: what the call that returned TLS_AGAIN waits for. */
short		 tls_events(struct tls *);

/* "(TLS1.3)-(ECDHE-X25519)-..." once the handshake is done, else NULL. */
const char	*tls_desc(const struct tls *);

/*
 * The channel binding data for SCRAM-*-PLUS once the handshake is done:
 * tls-exporter (RFC 9266) under TLS 1.3, tls-unique (RFC 5929) before.
 * Returns an allocated buffer in *data (the caller frees it) and sets
 * *exporter; -1 with err set (EX_SOFTWARE) when GnuTLS has none.
 */
int		 tls_channel_binding(struct tls *, unsigned char **data,
		    size_t *len, int *exporter, struct error *);

/*
 * The server's certificate once the handshake is done (see
 * transport_certinfo()).
 */
int		 tls_peer_certinfo(struct tls *, struct tls_certinfo *,
		    struct error *);

/* Free the session without sending anything (no close_notify). */
void		 tls_free(struct tls *);

#endif
