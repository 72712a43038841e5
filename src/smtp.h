/*
 * smtp.h -- an SMTP (RFC 5321) and LMTP (RFC 2033) client for the
 * destinations of `delivery smtp` and `delivery lmtp`, on the transport.
 *
 * In OpenSMTPD's manner: the settings come in as one struct, and every
 * failure is classed.  smtp_send() returns
 *   0             the destination accepted the message (the reply to
 *                 the end of DATA: for LMTP, the one recipient's reply);
 *   SMTP_REFUSED  the destination answered no: err->ex is EX_TEMPFAIL for
 *                 a 4xx reply, EX_UNAVAILABLE for a 5xx one (or a message
 *                 over the SIZE the destination announced), and err->msg
 *                 names the command and quotes the reply (terminal-safe);
 *                 the connection stays usable for the next message;
 *   -1            the connection is unusable (lost, timed out, a reply
 *                 that is not SMTP): err->ex is EX_TEMPFAIL or
 *                 EX_PROTOCOL, and the caller frees it with
 *                 smtp_free().  Whether the destination had accepted the
 *                 message is then unknown (see docs/exactly-once.md).
 * Replies are bounded: at most SMTP_REPLY_MAX bytes each.
 */
#ifndef POPFETCH_SMTP_H
#define POPFETCH_SMTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "auth.h"
#include "error.h"
#include "tls.h"

#define SMTP_REFUSED	1
#define SMTP_REPLY_MAX	(64 * 1024)
#define SMTP_AHEAD_MAX	16	/* smtp_send_ahead()'s in flight at most */

#define SMTP_TLS_AUTO	0
#define SMTP_TLS_ON	1
#define SMTP_TLS_OFF	2

enum smtp_proto {
	SMTP_PROTO_SMTP,
	SMTP_PROTO_LMTP,
};

/* The strings belong to the caller and must outlive the connection. */
struct smtp_params {
	enum smtp_proto	 proto;
	const char	*host;		/* TCP host, or NULL with path */
	int		 port;
	const char	*path;		/* a unix socket, or NULL */
	const char	*helo;		/* our name for EHLO/LHLO */
	/*
	 * STARTTLS (RFC 3207): SMTP_TLS_AUTO when offered, SMTP_TLS_ON
	 * required (EX_UNAVAILABLE when not offered), SMTP_TLS_OFF never.
	 * The certificate is checked as tp says, also in auto: a server
	 * that offers TLS with a certificate we cannot verify is an error,
	 * not a reason to send in clear.
	 */
	int		 tls;
	const struct tls_params *tp;
	int		 timeout;	/* seconds, as transport.h */
	const char	*acct;		/* names the account in traces */
	/*
	 * SMTP AUTH (RFC 4954) after STARTTLS when user is set (SMTP only):
	 * auth names the mechanism, or AUTH_AUTO for the strongest the
	 * server lists of SCRAM-SHA-256, SCRAM-SHA-1, PLAIN, LOGIN,
	 * CRAM-MD5.  Never without TLS unless tls is SMTP_TLS_OFF.  A
	 * refusal is EX_NOPERM (EX_TEMPFAIL for a 4xx one).
	 */
	const char	*user;
	const char	*pass;
	enum auth_method auth;
};

/* Fill buf with the message's bytes from offset off: bytes read, 0 at the end, or -1. */
typedef ssize_t	(*smtp_reader)(void *arg, char *buf, size_t len, uint64_t off,
		    struct error *);

struct smtp;

/*
 * Connect, read the greeting, say EHLO/LHLO, and STARTTLS and EHLO again
 * as params->tls says.  A 4xx greeting or any
 * connection failure is EX_TEMPFAIL, a 5xx one EX_UNAVAILABLE.
 */
struct smtp	*smtp_open(const struct smtp_params *, struct error *);
/*
 * One message of size bytes (LF line ends; sent with CRLF, ended with
 * CRLF when the last line has none) from sender (an address without
 * brackets; "" for the null sender) to rcpt: in one BDAT LAST where the
 * server offers CHUNKING, else dot-stuffed after DATA.  PIPELINING is
 * used where offered.  Results as above.
 */
int		 smtp_send(struct smtp *, const char *sender, const char *rcpt,
		    uint64_t size, smtp_reader, void *arg, struct error *);
/*
 * Several transactions in flight: 1 when the server offers PIPELINING
 * and CHUNKING.  Without CHUNKING, DATA's 354 must be waited for before
 * the message goes (RFC 2920 section 3.1): smtp_send() alone.
 */
int		 smtp_can_pipeline(const struct smtp *);
/*
 * One transaction sent without waiting for its replies (at most
 * SMTP_AHEAD_MAX in flight, smtp_send() not in between): 0 when it went
 * out, SMTP_REFUSED when it is over SIZE (nothing sent), -1 when the
 * connection broke (the message did not go out whole) or the spool could
 * not be read (EX_IOERR).
 */
int		 smtp_send_ahead(struct smtp *, const char *sender,
		    const char *rcpt, uint64_t size, smtp_reader, void *arg,
		    struct error *);
/*
 * The outcome of the oldest transaction in flight, as smtp_send()'s.
 * After -1, smtp_data_started() is 0 when none of its replies came.
 */
int		 smtp_ahead_reply(struct smtp *, struct error *);
/*
 * After smtp_send() returned -1: 1 when the message's bytes had started
 * to go out (the destination may have it), 0 when the connection was
 * found lost before (an idle connection the server closed): sending
 * again on a new connection cannot make a second copy.
 */
int		 smtp_data_started(const struct smtp *);
/*
 * After smtp_send() returned -1: 1 when the server closed the connection
 * (or it broke), 0 when it is still there but went silent past the
 * timeout (or sent what is not SMTP).
 */
int		 smtp_hung_up(const struct smtp *);
/* After SMTP_REFUSED from a reply: its code (503: bad sequence). */
int		 smtp_refused_code(const struct smtp *);
/* "LMTP server 127.0.0.1:24" or "LMTP server /run/dovecot/lmtp". */
const char	*smtp_name(const struct smtp *);
/* Say QUIT when the connection is usable, then close and free. */
void		 smtp_free(struct smtp *);

#endif
