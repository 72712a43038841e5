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
 * other NO or BAD leaves it there too (69).
 *
 * Group commit: stage only queues a message in the spool (the batch's
 * messages one after the other); sync hands the batch over.  It first
 * notes a line per message with a tag (tag, size as sent, SHA-256,
 * Message-ID) in the account's pending journal (destjournal.h) and
 * fsyncs it once, then APPENDs the messages: up to IMAP_INFLIGHT in
 * flight where the server has LITERAL+, else one by one; the outcome op
 * then says which were accepted, so that only those are recorded and
 * deleted.  The APPENDUID of each is noted in the journal after its OK.
 *
 * Exactly once (docs/exactly-once.md): a run cut short between the
 * server's OK and the UID record leaves the UID pending; the next run's
 * find op looks the journal's message up in the folder (imap_find()) and
 * records it instead of appending it again.  A connection lost after a
 * message went out but before its tagged OK came is looked up the same
 * way on the new connection.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>

#include "destjournal.h"
#include "imap.h"
#include "log.h"
#include "sink.h"
#include "sink-spool.h"
#include "xmalloc.h"

#define IMAP_DATE_SCAN	65536	/* where the Date field is looked for */
#define DOWN_UNREACHABLE	1	/* connecting again failed */
#define DOWN_SILENT		2	/* a reply did not come in time */
/* APPENDs in flight at once, where the server has LITERAL+. */
#define IMAP_INFLIGHT	8

/* A message staged: where it is in the spool, and what became of it. */
enum qstate { Q_QUEUED, Q_SENT, Q_DOUBT, Q_DONE };
struct staged {
	uint64_t	 start, len;	/* in the spool, LF line ends */
	struct dj_entry	 e;		/* its journal line */
	char		 date[40];	/* the internal date, or "" */
	int		 nul;		/* it holds a NUL byte */
	char		 ptag[16];	/* its APPEND's tag while in flight */
	enum qstate	 state;
	int		 rc;		/* once Q_DONE: 0 or SINK_REFUSED */
	struct error	 why;		/* ... and why */
};

struct idest {
	struct imap_params	 p;
	struct tls_params	 tp;
	char			*host, *user, *pass, *folder, *flags;
	char			*trust_file;
	struct imap		*conn;
	int			 down;		/* DOWN_*: not tried again */
	struct spool		 sp;
	char			 tag[SINK_TAG_LEN + 1];	/* "" for none */
	char			*journal_path;		/* or NULL */
	struct destjournal	*dj;			/* opened when needed */
	struct staged		*q;	/* staged since the last sync */
	size_t			 nq, qcap;
	uint64_t		 cur;	/* where the open message starts */
	int			 synced; /* q holds a sync's outcomes */
	int			 opened; /* the run's first connection */
	sink_token_fn		 refresh;	/* OAuth: a fresh token */
	const void		*refresh_arg;
};

static int	imap_sink_open(struct sink *, const struct sink_msginfo *,
		    struct error *);
static int	imap_sink_write(struct sink *, const char *, size_t,
		    struct error *);
static void	imap_sink_abort(struct sink *);
static void	imap_sink_free(struct sink *);
static int	imap_sink_stage(struct sink *, struct error *);
static int	imap_sink_sync(struct sink *, struct error *);
static int	imap_sink_find(struct sink *, const char *, struct error *);
static int	imap_sink_outcome(struct sink *, size_t, struct error *);
static int	parse_url(struct idest *, const char *, struct error *);
static char	*pct_decode(const char *, size_t);
static int	measure(struct idest *, struct staged *, struct error *);
static void	lookup_of(const struct dj_entry *, struct imap_lookup *);
static void	msg_of(const struct staged *, struct spool_span *,
		    struct imap_msg *);
static int	journal(struct idest *, struct error *);
static int	note_batch(struct idest *, struct error *);
static void	take_uid(struct idest *, struct staged *);
static int	send_one(struct idest *, struct staged *, int, int *,
		    struct error *);
static int	pipe_send(struct idest *, struct staged *, int *,
		    struct error *);
static void	pipe_reply(struct idest *, struct staged *, int *);
static int	pipeline(struct idest *, struct error *);
static int	first_open(struct idest *, struct error *);
static int	hand_over(struct idest *, struct error *);

static const struct sink_ops imap_ops = {
	"imap", imap_sink_open, imap_sink_write, NULL,
	imap_sink_abort, imap_sink_free, imap_sink_stage, imap_sink_sync,
	imap_sink_find, imap_sink_outcome
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
	if (sd->journal != NULL)
		d->journal_path = xstrdup(sd->journal);
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
	d->refresh = sd->refresh;
	d->refresh_arg = sd->refresh_arg;
	/* Connected when first needed: a run with no new mail never does. */
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

/* A message after the staged ones, in the same spool. */
static int
imap_sink_open(struct sink *s, const struct sink_msginfo *mi,
    struct error *err)
{
	struct idest	*d = s->data;

	if (d->synced)
		d->nq = d->synced = 0;
	snprintf(d->tag, sizeof d->tag, "%s", mi->tag != NULL ? mi->tag : "");
	if (d->nq == 0 && spool_reset(&d->sp, err) == -1)
		return -1;
	d->cur = d->sp.w.size;
	return 0;
}

static int
imap_sink_write(struct sink *s, const char *p, size_t n, struct error *err)
{
	struct idest	*d = s->data;

	return spool_write(&d->sp, p, n, err);
}

/*
 * The size and SHA-256 of the message as sent (CRLF line ends), its
 * Message-ID ("" when none) into st->e, and its internal date.
 */
static int
measure(struct idest *d, struct staged *st, struct error *err)
{
	struct spool_span	 sp = { &d->sp, st->start, st->len };
	gnutls_hash_hd_t h;
	char		*buf, *out;
	uint64_t	 off = 0;
	ssize_t		 n, i;
	size_t		 o;

	memset(&st->e, 0, sizeof st->e);
	snprintf(st->e.tag, sizeof st->e.tag, "%s", d->tag);
	st->date[0] = '\0';
	st->nul = 0;
	if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0) {
		error_set(err, EX_SOFTWARE, "cannot start SHA-256");
		return -1;
	}
	buf = xmalloc(IMAP_DATE_SCAN);
	out = xmalloc(2 * IMAP_DATE_SCAN);
	while ((n = spool_span_read(&sp, buf, IMAP_DATE_SCAN, off, err)) > 0) {
		if (off == 0 && imap_date_of(buf, (size_t)n, st->date,
		    sizeof st->date) == -1)
			st->date[0] = '\0';
		if (off == 0 && imap_msgid_of(buf, (size_t)n, st->e.msgid,
		    sizeof st->e.msgid) == -1)
			st->e.msgid[0] = '\0';
		if (memchr(buf, '\0', (size_t)n) != NULL)
			st->nul = 1;
		for (i = 0, o = 0; i < n; i++) {
			if (buf[i] == '\n')
				out[o++] = '\r';
			out[o++] = buf[i];
		}
		gnutls_hash(h, out, o);
		st->e.size += o;
		off += (uint64_t)n;
	}
	gnutls_hash_deinit(h, st->e.digest);
	free(buf);
	free(out);
	return n == -1 ? -1 : 0;
}

/* What imap_append() sends of st: its bytes through sp. */
static void
msg_of(const struct staged *st, struct spool_span *sp, struct imap_msg *m)
{
	m->date = st->date[0] != '\0' ? st->date : NULL;
	m->size = st->e.size;
	m->nul = st->nul;
	m->rd = spool_span_read;
	m->arg = sp;
}

static void
lookup_of(const struct dj_entry *e, struct imap_lookup *lk)
{
	unsigned long	v = 0, u = 0;

	memset(lk, 0, sizeof *lk);
	lk->msgid = e->msgid;
	lk->size = e->size;
	lk->digest = e->digest;
	if (sscanf(e->destid, "%lu:%lu", &v, &u) == 2 && v <= UINT32_MAX &&
	    u <= UINT32_MAX) {
		lk->uidvalidity = (uint32_t)v;
		lk->uid = (uint32_t)u;
	}
}

/* The pending journal, opened when first needed (the UID state is
 * locked by then); 0 with d->dj NULL when there is none. */
static int
journal(struct idest *d, struct error *err)
{
	if (d->dj != NULL || d->journal_path == NULL)
		return 0;
	d->dj = destjournal_open(d->journal_path, d->p.acct, err);
	return d->dj == NULL ? -1 : 0;
}

/*
 * The journal lines of the staged messages with a tag, made durable with
 * one fsync before any of them leaves, so that a later run can ask.
 */
static int
note_batch(struct idest *d, struct error *err)
{
	size_t	i, n = 0;

	if (journal(d, err) == -1)
		return -1;
	for (i = 0; d->dj != NULL && i < d->nq; i++) {
		if (d->q[i].e.tag[0] == '\0')
			continue;
		if (destjournal_note(d->dj, &d->q[i].e, err) == -1)
			return -1;
		n++;
	}
	return n > 0 ? destjournal_sync(d->dj, err) : 0;
}

/*
 * The APPENDUID of the APPEND just answered into the journal; losing it
 * only slows a lookup.
 */
static void
take_uid(struct idest *d, struct staged *st)
{
	struct error	err;
	uint32_t	v, u;

	error_clear(&err);
	if (d->dj == NULL || st->e.tag[0] == '\0' || d->conn == NULL ||
	    imap_appended_uid(d->conn, &v, &u) == -1)
		return;
	snprintf(st->e.destid, sizeof st->e.destid, "%lu:%lu",
	    (unsigned long)v, (unsigned long)u);
	if (destjournal_note(d->dj, &st->e, &err) == -1)
		log_warn(d->p.acct, "%s", err.msg);
}

/* Whether an interrupted run appended the message of tag. */
static int
imap_sink_find(struct sink *s, const char *tag, struct error *err)
{
	struct idest		*d = s->data;
	const struct dj_entry	*e;
	struct imap_lookup	 lk;
	int			 rc;

	if (journal(d, err) == -1)
		return -1;
	/* Not in the journal: it never went out. */
	if ((e = destjournal_lookup(d->dj, tag)) == NULL)
		return 0;
	lookup_of(e, &lk);
	if (first_open(d, err) == -1 ||
	    (d->conn == NULL && (d->conn = imap_open(&d->p, err)) == NULL))
		return -1;
	if ((rc = imap_find(d->conn, d->folder, &lk, err)) == -1) {
		imap_free(d->conn);
		d->conn = NULL;
	}
	return rc;
}

/*
 * imap_append() on the connection, opened again when needed.  When the
 * message may be there already (doubt: the connection broke after it
 * went out), the new connection first looks for it (imap_find(): by
 * Message-ID and size, else by size and digest): found, it is delivered;
 * not found, it is appended now (*appended set).
 */
static int
send_one(struct idest *d, struct staged *st, int doubt, int *appended,
    struct error *err)
{
	struct spool_span	sp = { &d->sp, st->start, st->len };
	struct imap_lookup	lk;
	struct imap_msg		m;
	int			rc, tries, again, f = 0;

	*appended = 0;
	lookup_of(&st->e, &lk);
	for (tries = 0;; tries++) {
		if (d->conn == NULL && !d->down &&
		    (d->conn = imap_open(&d->p, err)) == NULL) {
			/*
			 * A server that took the run's first connection and
			 * refuses a new one says nothing of the message: it
			 * waits, and is not counted as refused.
			 */
			d->down = DOWN_UNREACHABLE;
			if (err->ex == EX_UNAVAILABLE)
				err->ex = EX_TEMPFAIL;
		}
		if (d->conn == NULL) {
			if (!error_isset(err))
				error_set(err, EX_TEMPFAIL, "the IMAP server %s "
				    "earlier in this run", d->down ==
				    DOWN_SILENT ? "did not answer within "
				    "timeout" : "could not be reached");
			return SINK_REFUSED;
		}
		if (doubt && (f = imap_find(d->conn, d->folder, &lk,
		    err)) == 1) {
			log_info(d->p.acct, "the message had been appended "
			    "before the connection broke (found in %s); not "
			    "appended again", d->folder);
			return 0;
		}
		msg_of(st, &sp, &m);
		rc = doubt && f == -1 ? -1 : imap_append(d->conn, d->folder,
		    d->flags, &m, err);
		if (rc != -1) {
			*appended = rc == 0;
			return rc == IMAP_REFUSED ? SINK_REFUSED : 0;
		}
		/*
		 * Hung up before the message went out, or after it: once
		 * more.  A server that let a wait run out is not waited for
		 * again: one timeout per run, not one per message.
		 */
		again = tries == 0 && err->ex == EX_TEMPFAIL &&
		    imap_hung_up(d->conn);
		if (err->ex == EX_TEMPFAIL && !imap_hung_up(d->conn))
			d->down = DOWN_SILENT;
		/*
		 * Unsure whether it is there: later, not refused (a refusal
		 * counts towards delivery_reject_limit).
		 */
		if (doubt && f == -1)
			err->ex = EX_TEMPFAIL;
		doubt = doubt || imap_data_started(d->conn);
		imap_free(d->conn);
		d->conn = NULL;
		if (err->ex == EX_IOERR)
			return -1;
		if (!again)
			return SINK_REFUSED;
		error_clear(err);
	}
}

/* One APPEND of the batch out; on a loss, *lost set. */
static int
pipe_send(struct idest *d, struct staged *st, int *lost, struct error *err)
{
	struct spool_span	sp = { &d->sp, st->start, st->len };
	struct imap_msg		m;
	int			rc;

	if (st->state != Q_QUEUED)
		return 0;	/* in doubt: send_one() looks first */
	msg_of(st, &sp, &m);
	rc = imap_append_send(d->conn, d->folder, d->flags, &m, st->ptag,
	    &st->why);
	if (rc == IMAP_REFUSED) {
		st->state = Q_DONE;
		st->rc = SINK_REFUSED;
	} else if (rc == -1) {
		*lost = 1;
		st->state = imap_data_started(d->conn) ? Q_DOUBT : Q_QUEUED;
		if (st->why.ex == EX_IOERR) {
			*err = st->why;
			return -1;
		}
		error_clear(&st->why);
	} else
		st->state = Q_SENT;
	return 0;
}

/* The reply to a message of the batch in flight. */
static void
pipe_reply(struct idest *d, struct staged *st, int *lost)
{
	int	rc, trycreate;

	if (*lost || (rc = imap_append_wait(d->conn, st->ptag, &trycreate,
	    &st->why)) == -1) {
		*lost = 1;
		st->state = Q_DOUBT;
		error_clear(&st->why);
	} else if (rc == IMAP_REFUSED && trycreate) {
		st->state = Q_QUEUED;
		error_clear(&st->why);
	} else if (rc == IMAP_REFUSED && st->why.ex == EX_PROTOCOL &&
	    st->date[0] != '\0') {
		/*
		 * BAD to an APPEND with a date: the date, most likely, which
		 * is the server's to refuse and not a reason to refuse the
		 * message; send_one() appends it again without one.
		 */
		log_info(d->p.acct, "the internal date %s was refused (%s); "
		    "appending the message without it", st->date, st->why.msg);
		st->date[0] = '\0';
		st->state = Q_QUEUED;
		error_clear(&st->why);
	} else {
		st->state = Q_DONE;
		st->rc = rc == 0 ? 0 : SINK_REFUSED;
		if (rc == 0)
			take_uid(d, st);
	}
}

/*
 * Several APPENDs in flight (LITERAL+), at most IMAP_INFLIGHT: a server
 * goes on storing what it received after the client is gone, and a run
 * that looks for a killed run's messages must not look before it is
 * done (docs/exactly-once.md).  A message refused on its own is done;
 * one refused for [TRYCREATE] is queued again (send_one() creates the
 * folder); when the connection breaks, what went out is in doubt and the
 * rest still queued.  -1 only when the spool cannot be read.
 */
static int
pipeline(struct idest *d, struct error *err)
{
	size_t	sent = 0, done;
	int	lost = 0;

	for (done = 0; done < d->nq; done++) {
		for (; !lost && sent < d->nq && sent - done < IMAP_INFLIGHT;
		    sent++)
			if (pipe_send(d, &d->q[sent], &lost, err) == -1)
				return -1;
		if (d->q[done].state == Q_SENT)
			pipe_reply(d, &d->q[done], &lost);
	}
	if (lost) {
		/* Silent rather than gone: not waited for again this run. */
		if (!imap_hung_up(d->conn))
			d->down = DOWN_SILENT;
		imap_free(d->conn);
		d->conn = NULL;
	}
	return 0;
}

/*
 * The run's first connection, when first needed; failing, it stops the
 * session (nothing of the batch is deleted) with the server's own error.
 * An OAuth token the server refuses is refreshed once, as for the POP3
 * server.
 */
static int
first_open(struct idest *d, struct error *err)
{
	char	*fresh;

	if (d->opened)
		return 0;
	d->conn = imap_open(&d->p, err);
	if (d->conn == NULL && err->ex == EX_NOPERM &&
	    d->p.oauth_store != NULL && d->refresh != NULL) {
		log_verbose(d->p.acct, "the delivery server refused the OAuth "
		    "access token; refreshing it once");
		error_clear(err);
		if ((fresh = d->refresh(d->refresh_arg, d->pass, err)) == NULL)
			return -1;
		freezero(d->pass, strlen(d->pass));
		d->p.pass = d->pass = fresh;
		d->conn = imap_open(&d->p, err);
	}
	if (d->conn == NULL)
		return -1;
	d->opened = 1;
	return 0;
}

/* Every staged message to the server, each with its outcome. */
static int
hand_over(struct idest *d, struct error *err)
{
	struct staged	*st;
	size_t		 i;
	int		 appended;

	if (first_open(d, err) == -1)
		return -1;

	if (d->nq > 1 && d->conn != NULL && imap_literal_plus(d->conn) &&
	    pipeline(d, err) == -1)
		return -1;
	for (i = 0; i < d->nq; i++) {
		st = &d->q[i];
		if (st->state == Q_DONE)
			continue;
		st->rc = send_one(d, st, st->state == Q_DOUBT, &appended,
		    &st->why);
		if (st->rc == -1) {
			*err = st->why;
			return -1;
		}
		st->state = Q_DONE;
		if (appended)
			take_uid(d, st);
	}
	return 0;
}

/* The message joins the batch; it leaves at the next sync. */
static int
imap_sink_stage(struct sink *s, struct error *err)
{
	struct idest	*d = s->data;
	struct staged	*st;

	if (spool_flush(&d->sp, err) == -1)
		return -1;
	d->q = xgrow(d->q, &d->qcap, d->nq, 16, sizeof *d->q);
	st = &d->q[d->nq];
	memset(st, 0, sizeof *st);
	st->start = d->cur;
	st->len = d->sp.w.size - d->cur;
	st->state = Q_QUEUED;
	if (measure(d, st, err) == -1 || journal(d, err) == -1)
		return -1;
	/*
	 * An earlier run sent it and did not learn its fate (the UID state
	 * forgets pending UIDs when a run ends): looked for before it is
	 * sent again.
	 */
	if (destjournal_lookup(d->dj, st->e.tag) != NULL)
		st->state = Q_DOUBT;
	d->nq++;
	return 0;
}

static int
imap_sink_sync(struct sink *s, struct error *err)
{
	struct idest	*d = s->data;

	d->synced = 1;
	if (note_batch(d, err) == -1)
		return -1;
	return hand_over(d, err);
}

/* sink.c asks only after a whole sync, for a message it settled. */
static int
imap_sink_outcome(struct sink *s, size_t i, struct error *err)
{
	struct idest	*d = s->data;

	if (d->q[i].rc != 0)
		*err = d->q[i].why;
	return d->q[i].rc;
}

static void
imap_sink_abort(struct sink *s)
{
	struct idest	*d = s->data;
	struct error	 ignored;

	error_clear(&ignored);
	(void)spool_truncate(&d->sp, d->cur, &ignored);
}

static void
imap_sink_free(struct sink *s)
{
	struct idest	*d = s->data;

	imap_free(d->conn);
	free(d->q);
	destjournal_free(d->dj);
	free(d->journal_path);
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
