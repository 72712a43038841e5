/*
 * imap.h -- an IMAP4rev1 (RFC 3501) client that does one thing: APPEND
 * messages to a folder, for `delivery imap URL`.  On the transport, as
 * smtp.c is.
 *
 * imap_append() returns 0 once the server's tagged OK for the APPEND
 * came; IMAP_REFUSED when the server answered NO (err->ex EX_TEMPFAIL
 * for the response codes that say "later": [INUSE], [UNAVAILABLE],
 * [OVERQUOTA], [LIMIT]; EX_UNAVAILABLE otherwise; the message quotes the
 * server) or BAD (EX_PROTOCOL), the connection staying usable; -1 when
 * the connection is unusable (EX_TEMPFAIL lost or timed out, EX_PROTOCOL
 * a reply that is not IMAP), and then the caller frees it.  A folder
 * that does not exist ([TRYCREATE]) is created and the APPEND sent once
 * more.  Server lines are bounded: IMAP_LINE_MAX bytes each, at most
 * IMAP_UNTAGGED_MAX untagged lines before a tagged reply.
 */
#ifndef POPFETCH_IMAP_H
#define POPFETCH_IMAP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "auth.h"
#include "error.h"
#include "smtp.h"
#include "tls.h"

#define IMAP_REFUSED		1
#define IMAP_LINE_MAX		(64 * 1024)
#define IMAP_UNTAGGED_MAX	10000

/* The strings belong to the caller and must outlive the connection. */
struct imap_params {
	const char	*host;
	int		 port;
	int		 implicit_tls;	/* imaps:// */
	int		 tls;		/* imap://: SMTP_TLS_OFF or else STARTTLS */
	const struct tls_params *tp;
	const char	*user;
	const char	*pass;		/* the password, or the OAuth token */
	/*
	 * AUTH_AUTO: LOGIN.  Any SASL mechanism of auth.h (PLAIN, SCRAM-*,
	 * XOAUTH2, OAUTHBEARER...): AUTHENTICATE (RFC 3501 6.2.2) through
	 * auth.c's SASL layer, with the initial response on the command
	 * line where the server lists SASL-IR (RFC 4959) and it fits.  The
	 * server must list AUTH=<mechanism> (else EX_UNAVAILABLE).
	 */
	enum auth_method auth;
	const char	*oauth_store;	/* see struct auth_progress, or NULL */
	int		 timeout;	/* seconds, as transport.h */
	const char	*acct;		/* names the account in traces */
};

struct imap;

/*
 * Connect, TLS (implicit, or STARTTLS: required unless tls is
 * SMTP_TLS_OFF), LOGIN.  A refused login is EX_NOPERM.
 */
struct imap	*imap_open(const struct imap_params *, struct error *);
/* One message to append; the caller's, read through rd from offset 0. */
struct imap_msg {
	const char	*date;	/* "02-Mar-2026 10:00:00 +0000", or NULL */
	uint64_t	 size;	/* as sent: CRLF line ends */
	/*
	 * It holds a NUL byte: sent as a literal8 (RFC 3516 BINARY) where
	 * the server lists BINARY, since a plain literal may not hold NUL
	 * (RFC 3501 section 4.3) and Cyrus refuses one that does.
	 */
	int		 nul;
	smtp_reader	 rd;	/* the message, LF line ends */
	void		*arg;
};
/*
 * Append the message m to folder (ASCII), with flags ("\Seen", or NULL
 * for none) and m's internal date (NULL: the server's now).  LITERAL+
 * (RFC 7888) is used when offered.  Results as above.
 */
int		 imap_append(struct imap *, const char *folder,
		    const char *flags, const struct imap_msg *m,
		    struct error *);
/*
 * Several APPENDs in flight, where the server has LITERAL+ (RFC 7888;
 * imap_literal_plus()): imap_append_send() sends one APPEND with its
 * message and does not wait (0; IMAP_REFUSED over APPENDLIMIT, nothing
 * sent; -1 as imap_append(), imap_data_started() then telling whether
 * any of the message went out), its tag into tag (16 bytes); then
 * imap_append_wait() reads the tagged replies in the order sent, each
 * with its results as imap_append()'s (after 0, imap_appended_uid() has
 * its APPENDUID).  *trycreate says that a NO was [TRYCREATE]: the caller
 * sends that message again through imap_append(), which creates the
 * folder.
 */
int		 imap_literal_plus(const struct imap *);
int		 imap_append_send(struct imap *, const char *folder,
		    const char *flags, const struct imap_msg *m, char *tag,
		    struct error *);
int		 imap_append_wait(struct imap *, const char *tag,
		    int *trycreate, struct error *);
/*
 * What imap_find() looks for: a message appended earlier, as the pending
 * journal (destjournal.h) or the APPEND just cut short describe it.  The
 * strings and the digest belong to the caller.
 */
struct imap_lookup {
	const char		*msgid;		/* without <>, or "" */
	uint64_t		 size;		/* as appended: CRLF line ends */
	const unsigned char	*digest;	/* SHA-256 of those bytes, or NULL */
	uint32_t		 uidvalidity;	/* APPENDUID's, or 0 */
	uint32_t		 uid;
};
/* Messages of the right size whose bodies imap_find() may fetch. */
#define IMAP_FIND_CANDIDATES	4
/*
 * Whether folder holds the message lk describes: 1 yes, 0 no (or no such
 * folder), -1 as imap_append().  Asked in this order, each when it can
 * tell: the APPENDUID's UID under the same UIDVALIDITY (with the same
 * RFC822.SIZE); UID SEARCH HEADER Message-ID with RFC822.SIZE; the
 * IMAP_FIND_CANDIDATES newest messages of exactly that size, fetched
 * (BODY.PEEK[], so no \Seen is set) and compared by digest.  Leaves the
 * folder selected read-only (EXAMINE); APPEND works there as anywhere.
 */
int		 imap_find(struct imap *, const char *folder,
		    const struct imap_lookup *, struct error *);
/*
 * After imap_append() returned 0: the UIDPLUS APPENDUID (RFC 4315) the
 * server answered into *uidvalidity and *uid; -1 when it said none.
 */
int		 imap_appended_uid(const struct imap *, uint32_t *uidvalidity,
		    uint32_t *uid);
/*
 * The Message-ID of the header section hdr (len bytes) without its angle
 * brackets into out; -1 when there is none, or it is longer than size - 1
 * or holds anything but printable ASCII other than '"' and '\'.
 */
int		 imap_msgid_of(const char *hdr, size_t len, char *out,
		    size_t size);
/* After imap_append() returned -1: whether message bytes went out. */
int		 imap_data_started(const struct imap *);
/*
 * After a failure: whether the server closed the connection (rather than
 * letting a wait run out).
 */
int		 imap_hung_up(const struct imap *);
/* LOGOUT when the connection is usable, then close and free. */
void		 imap_free(struct imap *);

/*
 * The Date field of the header section hdr (len bytes) as an IMAP
 * date-time into out (at least 27 bytes); 0, or -1 when there is none,
 * it cannot be read, the day does not exist (31 Feb), or it lies outside
 * 1970 to January 2038 (a 32-bit time_t) in local time or in UTC: such a
 * message is appended without a date (the server puts the time of
 * arrival), as a server may refuse the APPEND or keep garbage.
 */
int		 imap_date_of(const char *hdr, size_t len, char *out,
		    size_t size);

#endif
