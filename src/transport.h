/*
 * transport.h -- a buffered, line-oriented byte stream to the server:
 * TCP, optionally with TLS on top (tls.c).  The POP3 client sees only this.
 *
 * Waits are bounded by the timeout given at connect time: connecting and
 * each write wait at most that long for progress; the whole TLS handshake
 * and each piece transport_getline() returns (a line, or 16 KiB of a
 * longer one) must arrive within it; and in every timeout-long stretch
 * spent waiting for input at least 1 KiB must come (so a server that
 * trickles bytes cannot hold a run).  Running out is EX_TEMPFAIL, and so
 * is a stop request (transport_stop_on), which ends any wait at once.
 * Errors: unknown host EX_NOHOST; refused/unreachable/reset/closed/timeout
 * EX_TEMPFAIL; TLS handshake or certificate failures EX_PROTOCOL with a
 * message that says what to change (tls_trust_file, tls_fingerprint, ...).
 */
#ifndef POPFETCH_TRANSPORT_H
#define POPFETCH_TRANSPORT_H

#include <sys/types.h>

#include <signal.h>
#include <stddef.h>
#include <time.h>

#include "error.h"
#include "tls.h"

/* The longest piece transport_getline() returns; longer lines come in pieces. */
#define TRANSPORT_CHUNK_MAX	16384

struct transport;

/*
 * From now on, any wait of any transport ends with EX_TEMPFAIL "stopped
 * by a signal" once *flag is non-zero (set by a SIGTERM/SIGINT handler).
 */
void	transport_stop_on(volatile sig_atomic_t *flag);
/*
 * The same check for work that is not a wait (a SCRAM key derivation):
 * -1 with EX_TEMPFAIL "stopped by a signal" once the flag is set.
 */
int	transport_check_stop(struct error *);
/*
 * A watch on the network (netwatch.c, under --daemon): while fd is not -1,
 * every wait also polls fd, and when it is readable asks gone(sock)
 * whether the connection on sock lost its way (its local address went
 * away, a new default route, its link down); then the wait ends at once
 * with EX_TEMPFAIL "the network changed".  transport_watch(-1, NULL)
 * ends it.
 */
typedef int	(*transport_gone_fn)(int sock);
void	transport_watch(int fd, transport_gone_fn gone);
/* The flag given to transport_stop_on(), or NULL. */
volatile sig_atomic_t *transport_stop_flag(void);
/* The timeout given at connect time, in seconds (0: none). */
struct transport;
int	transport_timeout(const struct transport *);

/*
 * Connect to host:port, trying each address getaddrinfo() returns (IPv6
 * and IPv4).  Returns a transport the caller frees with transport_free().
 */
struct transport *transport_connect(const char *host, int port, int timeout,
		    struct error *);
/*
 * The same from a local address (mpop's source_ip; NULL: any): only the
 * host's addresses of source's family are tried.  An address this host
 * does not have is EX_UNAVAILABLE, naming it.
 */
struct transport *transport_connect_from(const char *host, int port,
		    const char *source, int timeout, struct error *);

/*
 * Connect to the unix-domain stream socket at path (an LMTP server's).
 * A path too long for a socket address is EX_CONFIG; the rest as above.
 */
struct transport *transport_connect_unix(const char *path, int timeout,
		    struct error *);

/*
 * Unbuffered exchanges on a fresh connection, before any buffered I/O and
 * before TLS (a SOCKS5 handshake, which must leave the server's first
 * bytes in the socket): send all len bytes, or receive exactly len bytes
 * and not one more.  Both wait as every wait here does (the stop flag,
 * the network watch), until end (mono_deadline(); NULL: no limit).
 * transport_send_raw() returns 0; transport_recv_raw() the bytes read,
 * fewer than len only at end of input; both -1 with err set (a timeout is
 * EX_TEMPFAIL, and end has passed).
 */
int	transport_send_raw(struct transport *, const void *, size_t,
	    const struct timespec *end, struct error *);
ssize_t	transport_recv_raw(struct transport *, void *, size_t,
	    const struct timespec *end, struct error *);

/*
 * Start TLS over the connection: right after connect for implicit TLS, or
 * after STLS's +OK.  Refuses (EX_PROTOCOL) when bytes are already buffered
 * unread: anything the server sent before the handshake would have been
 * injected by a man in the middle.  Verifies the certificate as tp says:
 * a fingerprint pin replaces the CA and name checks (and is checked even
 * with certcheck 0); certcheck 0 without a pin accepts any certificate.
 */
int	transport_starttls(struct transport *, const struct tls_params *,
	    struct error *);

/*
 * The next piece of input: a whole line including its "\n" (and "\r"
 * before it, as sent), or, for a line longer than TRANSPORT_CHUNK_MAX, the
 * next TRANSPORT_CHUNK_MAX bytes of it (no "\n" at its end).  *line points
 * into the transport's buffer and is valid until the next call.  Input
 * that ends without a final "\n" is returned as a last piece; the call
 * after that fails with EX_TEMPFAIL "connection closed by the server".
 */
int	transport_getline(struct transport *, const char **line, size_t *len,
	    struct error *);

/*
 * Up to len bytes of input into buf, as they come (an IMAP literal, whose
 * length was said before it): the number read, at least 1, or -1 (as
 * transport_getline(), whose waits it shares).  Reads past no line end
 * the caller did not ask for: what is left stays for the next call.
 */
ssize_t	transport_read(struct transport *, char *buf, size_t len,
	    struct error *);

/* Queue bytes to send; sends when the queue is large, and before any read. */
int	transport_write(struct transport *, const void *, size_t,
	    struct error *);
/* Send everything queued. */
int	transport_flush(struct transport *, struct error *);

/* "TLS1.3 (ECDHE-X25519)-(AES-256-GCM)" style description, or NULL without TLS. */
const char *transport_tls_desc(const struct transport *);
/*
 * The server's (leaf) certificate of the TLS session into ci; free with
 * tls_certinfo_free().  The strings may hold any bytes but NUL: print
 * them with care.  EX_SOFTWARE without TLS, EX_PROTOCOL when the
 * certificate cannot be decoded.
 */
int	transport_certinfo(struct transport *, struct tls_certinfo *,
	    struct error *);
/* Whether TLS is active on the connection. */
int	transport_is_tls(const struct transport *);
/* Whether the server is gone: it closed the connection, or I/O failed. */
int	transport_lost(const struct transport *);

/*
 * TLS channel binding for SASL (see tls_channel_binding()); EX_SOFTWARE
 * without TLS.  *data is allocated; the caller frees it.
 */
int	transport_channel_binding(struct transport *, unsigned char **data,
	    size_t *len, int *exporter, struct error *);

/* Close the connection without further exchange and free everything. */
void	transport_free(struct transport *);

#endif
