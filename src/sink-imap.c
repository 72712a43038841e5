/*
 * sink-imap.c -- delivery into an IMAP folder (`delivery imap URL`, URL
 * imaps://USER@HOST[:PORT]/FOLDER or imap://... with STARTTLS): the
 * message is APPENDed with the internal date of its Date field and the
 * flags of delivery_flags, so that it sorts where it belongs.
 *
 * As with LMTP (sink-smtp.c): spool first, one connection for the run,
 * opened again once when lost, and the rest of the run deferred when that
 * fails.  A tagged OK is delivered; NO with a code that says "later", or
 * a lost connection, leaves the message on the POP3 server (75); any
 * other NO or BAD leaves it there too (69).  A connection lost after the
 * message went out but before the tagged OK came is the window where the
 * folder may hold the message we keep (docs/exactly-once.md).
 */
#include "config.h"

#include <ctype.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "imap.h"
#include "log.h"
#include "sighold.h"
#include "sink.h"
#include "sink-spool.h"
#include "xmalloc.h"

#define IMAP_DATE_SCAN	65536	/* where the Date field is looked for */

struct idest {
	struct imap_params	 p;
	struct tls_params	 tp;
	char			*host, *user, *pass, *folder, *flags;
	char			*trust_file;
	struct imap		*conn;
	int			 down;
	struct spool		 sp;
};

static int	imap_sink_open(struct sink *, const struct sink_msginfo *,
		    struct error *);
static int	imap_sink_write(struct sink *, const char *, size_t,
		    struct error *);
static int	imap_sink_commit(struct sink *, struct error *);
static void	imap_sink_abort(struct sink *);
static void	imap_sink_free(struct sink *);
static int	parse_url(struct idest *, const char *, struct error *);
static char	*pct_decode(const char *, size_t);
static int	measure(struct idest *, uint64_t *, char *, size_t,
		    char *, size_t, struct error *);
static int	send_one(struct idest *, uint64_t, const char *,
		    const char *, struct error *);

static const struct sink_ops imap_ops = {
	"imap", imap_sink_open, imap_sink_write, imap_sink_commit,
	imap_sink_abort, imap_sink_free, NULL, NULL, NULL
};

struct sink *
sink_imap_new(const struct sink_dest *sd, struct error *err)
{
	struct idest	*d;
	struct sink	*s;

	d = xcalloc(1, sizeof *d);
	s = xcalloc(1, sizeof *s);
	s->ops = &imap_ops;
	s->data = d;
	d->sp.fd = -1;
	if (parse_url(d, sd->arg, err) == -1 || spool_init(&d->sp, err) == -1)
		goto fail;
	if (sd->password == NULL) {
		error_set(err, EX_CONFIG, "delivery imap needs "
		    "delivery_password or delivery_passwordeval");
		goto fail;
	}
	d->pass = xstrdup(sd->password);
	if (sd->flags != NULL) {
		if (sd->flags[strspn(sd->flags, "\\ $_-abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")] != '\0') {
			error_set(err, EX_CONFIG, "delivery_flags: only "
			    "flags such as \\Seen \\Flagged $Label, separated "
			    "by blanks");
			goto fail;
		}
		d->flags = xstrdup(sd->flags);
	}
	if (sd->tls_trust_file != NULL)
		d->trust_file = xstrdup(sd->tls_trust_file);
	d->tp.host = d->host;
	d->tp.trust_file = d->trust_file;
	d->tp.certcheck = 1;
	d->p.host = d->host;
	d->p.user = d->user;
	d->p.pass = d->pass;
	d->p.auth = sd->auth;
	d->p.oauth_store = sd->oauth_store;
	d->p.tp = &d->tp;
	d->p.tls = sd->tls;
	d->p.timeout = sd->timeout;
	d->p.acct = sd->who;
	if ((d->conn = imap_open(&d->p, err)) == NULL)
		goto fail;
	return s;

fail:
	imap_sink_free(s);
	return NULL;
}

/* %XX escapes, as in a URL's user and path. */
static char *
pct_decode(const char *s, size_t len)
{
	char	*out, *o, hex[3] = { 0 };
	size_t	 i;

	o = out = xmalloc(len + 1);
	for (i = 0; i < len; i++) {
		if (s[i] == '%' && i + 2 < len &&
		    isxdigit((unsigned char)s[i + 1]) &&
		    isxdigit((unsigned char)s[i + 2])) {
			hex[0] = s[i + 1];
			hex[1] = s[i + 2];
			*o++ = (char)strtol(hex, NULL, 16);
			i += 2;
		} else
			*o++ = s[i];
	}
	*o = '\0';
	return out;
}

/* imaps://USER@HOST[:PORT]/FOLDER or imap://...; the folder is ASCII. */
static int
parse_url(struct idest *d, const char *url, struct error *err)
{
	const char	*p, *at, *slash, *colon, *hend;
	char		*end;
	long		 port;
	size_t		 i;

	if (strncmp(url, "imaps://", 8) == 0) {
		d->p.implicit_tls = 1;
		p = url + 8;
	} else if (strncmp(url, "imap://", 7) == 0)
		p = url + 7;
	else
		goto bad;
	slash = p + strcspn(p, "/");
	for (at = NULL, i = 0; p + i < slash; i++)
		if (p[i] == '@')
			at = p + i;
	if (at == NULL || at == p)
		goto bad;
	d->user = pct_decode(p, (size_t)(at - p));
	p = at + 1;
	if (*p == '[') {
		if ((hend = strchr(p, ']')) == NULL || hend > slash)
			goto bad;
		d->host = xstrndup(p + 1, (size_t)(hend - p - 1));
		colon = hend[1] == ':' ? hend + 1 : NULL;
	} else {
		colon = memchr(p, ':', (size_t)(slash - p));
		d->host = xstrndup(p, (size_t)((colon != NULL ? colon : slash) -
		    p));
	}
	port = d->p.implicit_tls ? 993 : 143;
	if (colon != NULL) {
		port = strtol(colon + 1, &end, 10);
		if (end != slash || port < 1 || port > 65535)
			goto bad;
	}
	d->p.port = (int)port;
	d->folder = *slash == '/' && slash[1] != '\0' ?
	    pct_decode(slash + 1, strlen(slash + 1)) : xstrdup("INBOX");
	if (d->host[0] == '\0')
		goto bad;
	for (p = d->folder; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) {
			error_set(err, EX_CONFIG, "delivery imap: the folder "
			    "name must be printable ASCII (modified UTF-7 for "
			    "others, as the server lists it)");
			return -1;
		}
	return 0;
bad:
	error_set(err, EX_CONFIG, "delivery imap: bad URL '%s' (want "
	    "imaps://USER@HOST[:PORT]/FOLDER or imap://...)", url);
	return -1;
}

static int
imap_sink_open(struct sink *s, const struct sink_msginfo *mi,
    struct error *err)
{
	struct idest	*d = s->data;

	(void)mi;
	return spool_reset(&d->sp, err);
}

static int
imap_sink_write(struct sink *s, const char *p, size_t n, struct error *err)
{
	struct idest	*d = s->data;

	return spool_write(&d->sp, p, n, err);
}

/*
 * The size with CRLF line ends, the internal date and the Message-ID (""
 * when none).
 */
static int
measure(struct idest *d, uint64_t *crlf, char *date, size_t size,
    char *msgid, size_t idsize, struct error *err)
{
	char		 buf[IMAP_DATE_SCAN];
	uint64_t	 off = 0;
	ssize_t		 n, i;

	date[0] = msgid[0] = '\0';
	*crlf = 0;
	while ((n = spool_pread(&d->sp, buf, sizeof buf, off, err)) > 0) {
		if (off == 0 && imap_date_of(buf, (size_t)n, date, size) == -1)
			date[0] = '\0';
		if (off == 0 && imap_msgid_of(buf, (size_t)n, msgid,
		    idsize) == -1)
			msgid[0] = '\0';
		for (i = 0; i < n; i++)
			*crlf += buf[i] == '\n' ? 2 : 1;
		off += (uint64_t)n;
	}
	return n == -1 ? -1 : 0;
}

/*
 * imap_append() on the connection, opened again when needed.  When the
 * connection broke after the message went out, the new connection first
 * looks for it by Message-ID and size: found, it is delivered; not found,
 * it is appended now.  Without a Message-ID that cannot be told, and the
 * message stays on the POP3 server for the next run (at least once).
 */
static int
send_one(struct idest *d, uint64_t size, const char *date, const char *msgid,
    struct error *err)
{
	int	rc, tries, again, doubt = 0, f = 0;

	for (tries = 0;; tries++) {
		if (d->conn == NULL && !d->down &&
		    (d->conn = imap_open(&d->p, err)) == NULL)
			d->down = 1;
		if (d->conn == NULL) {
			if (!error_isset(err))
				error_set(err, EX_TEMPFAIL, "the IMAP server "
				    "could not be reached earlier in this run");
			return SINK_REFUSED;
		}
		if (doubt && (f = imap_find(d->conn, d->folder, msgid, size,
		    err)) == 1) {
			log_info(d->p.acct, "the message had been appended "
			    "before the connection broke (found by its "
			    "Message-ID); not appended again");
			return 0;
		}
		rc = doubt && f == -1 ? -1 : imap_append(d->conn, d->folder,
		    d->flags, date[0] != '\0' ? date : NULL, size,
		    spool_read_at, &d->sp, err);
		if (rc != -1)
			return rc == IMAP_REFUSED ? SINK_REFUSED : 0;
		/*
		 * Gone before the message went out, or after it when it can
		 * be looked up: once more, anew.
		 */
		doubt = imap_data_started(d->conn) && msgid[0] != '\0';
		again = tries == 0 && err->ex == EX_TEMPFAIL &&
		    (!imap_data_started(d->conn) || doubt);
		imap_free(d->conn);
		d->conn = NULL;
		if (err->ex == EX_IOERR)
			return -1;
		if (!again)
			return SINK_REFUSED;
		error_clear(err);
	}
}

static int
imap_sink_commit(struct sink *s, struct error *err)
{
	struct idest	*d = s->data;
	sigset_t	 old;
	uint64_t	 size;
	char		 date[40], msgid[256];
	int		 rc;

	if (spool_flush(&d->sp, err) == -1 || measure(d, &size, date,
	    sizeof date, msgid, sizeof msgid, err) == -1)
		return -1;
	sig_hold(&old);
	rc = send_one(d, size, date, msgid, err);
	sig_release(&old);
	return rc;
}

static void
imap_sink_abort(struct sink *s)
{
	struct idest	*d = s->data;
	struct error	 ignored;

	error_clear(&ignored);
	(void)spool_reset(&d->sp, &ignored);
}

static void
imap_sink_free(struct sink *s)
{
	struct idest	*d = s->data;

	imap_free(d->conn);
	if (d->sp.fd != -1)
		spool_free(&d->sp);
	if (d->pass != NULL)
		freezero(d->pass, strlen(d->pass));
	free(d->host);
	free(d->user);
	free(d->folder);
	free(d->flags);
	free(d->trust_file);
	free(d);
	free(s);
}
