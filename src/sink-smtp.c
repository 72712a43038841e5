/*
 * sink-smtp.c -- delivery into a mail server over LMTP (`delivery lmtp
 * ADDRESS [RECIPIENT]`: Dovecot's or Cyrus' LMTP, so that Sieve rules
 * and quotas apply as to any mail the server receives) or SMTP
 * (`delivery smtp HOST[:PORT] RECIPIENT`: the local MTA or a relay, so
 * that its spam filter sees the mail).  Both kinds share this file and
 * the client in smtp.c; they differ in the greeting, the default port,
 * STARTTLS, and LMTP's unix sockets.
 *
 * Like the MDA sink, spool first, then hand over: the server must never
 * see half a message because the POP3 connection broke.  Group commit,
 * as the IMAP sink's: stage only queues a message in the spool (the
 * batch's messages one after the other) and sync hands the batch over,
 * with up to SMTP_INFLIGHT transactions in flight where the server offers
 * PIPELINING and CHUNKING (each BDAT LAST ends one, and the next MAIL
 * follows without waiting), else one transaction at a time (DATA's 354
 * is waited for); the outcome op says what became of each.  One connection
 * serves every message of the run; when it is lost, the next message
 * connects again, and when that fails too the rest of the run is
 * deferred at once instead of waiting for a dead server once per message.
 * A server that went silent past the timeout is not waited for again in
 * the run either (only one that hung up is retried at once).
 *
 * Outcomes (smtp.h): accepted is delivered; a 4xx reply or a lost
 * connection is SINK_REFUSED with EX_TEMPFAIL (the message stays on the
 * POP3 server, the run goes on and ends with 75); a 5xx reply is
 * SINK_REFUSED with EX_UNAVAILABLE (it stays, the run goes on and ends
 * with 69).  A connection lost after the whole message went out but
 * before the reply came is the one window where the server may have
 * delivered a message we keep: the next run delivers it again, or this
 * one when MAIL's reply was lost too (smtp.c's pipelined BDAT;
 * docs/exactly-once.md).  With several transactions in flight the
 * window holds all of them: every message sent whose replies had not
 * all come when the connection was lost stays on the POP3 server (75),
 * and may arrive twice; none is lost.  Only when the connection is found
 * dead before any reply of the sync came (a server that let an idle
 * connection go) are the messages in flight sent again at once, on a
 * new connection, once per sync.
 *
 * After a refusal, transactions already sent behind it may be refused
 * because of it (a server that keeps the refused transaction's state
 * answers 503, bad sequence): such a message is sent once more, after
 * RSET, before its refusal counts.  RSET goes out only after a refused
 * transaction.
 */
#include "config.h"

#include <sys/types.h>

#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "envelope.h"
#include "sink.h"
#include "sink-spool.h"
#include "smtp.h"
#include "xmalloc.h"

#define LMTP_DEFAULT_PORT	24
#define SMTP_DEFAULT_PORT	25

/* Why the rest of a run is deferred at once (struct dest's down). */
#define DOWN_UNREACHABLE	1	/* connecting again failed */
#define DOWN_SILENT		2	/* a reply did not come in time */

/* Transactions in flight at once, where the server pipelines them. */
#define SMTP_INFLIGHT	8

/* A message staged: where it is in the spool, and what became of it. */
enum qstate { Q_QUEUED, Q_SENT, Q_DONE };
struct staged {
	uint64_t	 start, len;	/* in the spool, LF line ends */
	char		*sender;
	enum qstate	 state;
	int		 resent;	/* sent again after a refusal */
	int		 rc;		/* once Q_DONE: 0 or SINK_REFUSED */
	struct error	 why;		/* ... and why */
};

/* How a pipelined pass ended its transactions in flight. */
#define LOSS_NONE	0
#define LOSS_IDLE	1	/* dead before any reply: send them again */
#define LOSS_DOUBT	2	/* they may have been delivered */

struct dest {
	struct smtp_params	 p;
	struct tls_params	 tp;
	const char		*kind;		/* "lmtp" or "smtp" */
	char			*trust_file;
	char			*host;		/* or path */
	char			*rcpt;
	char			*user;		/* AUTH: delivery_user */
	char			*pass;		/* its password, kept for
						   reconnecting */
	char			 helo[256];
	struct smtp		*conn;		/* NULL after a loss */
	int			 down;		/* DOWN_*: not tried again */
	struct spool		 sp;
	struct staged		*q;	/* staged since the last sync */
	size_t			 nq, qcap;
	uint64_t		 cur;	/* where the open message starts */
	int			 synced; /* q holds a sync's outcomes */
	int			 answered; /* replies came in this sync */
	int			 idle_retried;	/* ... LOSS_IDLE was used */
	int			 opened;	/* the run's first connection */
};

static void	clear_queue(struct dest *);
static void	reconnect_failed(struct dest *, struct error *);
static int	smtp_sink_open(struct sink *, const struct sink_msginfo *,
		    struct error *);
static int	smtp_sink_write(struct sink *, const char *, size_t,
		    struct error *);
static void	smtp_sink_abort(struct sink *);
static void	smtp_sink_free(struct sink *);
static int	smtp_sink_stage(struct sink *, struct error *);
static int	smtp_sink_sync(struct sink *, struct error *);
static int	smtp_sink_outcome(struct sink *, size_t, struct error *);
static int	parse_arg(struct dest *, const char *, struct error *);
static int	parse_rcpt(struct dest *, const char *, struct error *);
static char	*smtp_sender(struct dest *, uint64_t, uint64_t,
		    struct error *);

static const struct sink_ops lmtp_ops = {
	"lmtp", smtp_sink_open, smtp_sink_write, NULL,
	smtp_sink_abort, smtp_sink_free, smtp_sink_stage, smtp_sink_sync,
	NULL, smtp_sink_outcome
};
static const struct sink_ops smtp_ops = {
	"smtp", smtp_sink_open, smtp_sink_write, NULL,
	smtp_sink_abort, smtp_sink_free, smtp_sink_stage, smtp_sink_sync,
	NULL, smtp_sink_outcome
};

struct sink *
sink_smtp_new(const struct sink_dest *sd, struct error *err)
{
	struct dest	*d;
	struct sink	*s;
	int		 lmtp = sd->kind == DELIVERY_LMTP;

	d = xcalloc(1, sizeof *d);
	s = xcalloc(1, sizeof *s);
	s->ops = lmtp ? &lmtp_ops : &smtp_ops;
	s->data = d;
	/*
	 * The server cannot be asked what it took: a batch no larger than
	 * the transactions in flight keeps what a kill -9 between its
	 * replies and the UID record delivers twice to those.
	 */
	s->batch_max = SMTP_INFLIGHT;
	d->kind = s->ops->name;
	d->sp.fd = -1;
	d->p.proto = lmtp ? SMTP_PROTO_LMTP : SMTP_PROTO_SMTP;
	d->p.timeout = sd->timeout;
	d->p.acct = sd->who;
	d->p.tls = sd->tls;
	if (sd->tls_trust_file != NULL)
		d->trust_file = xstrdup(sd->tls_trust_file);
	d->tp.trust_file = d->trust_file;
	d->tp.certcheck = 1;
	d->p.tp = &d->tp;
	if (gethostname(d->helo, sizeof d->helo) == -1 || d->helo[0] == '\0'
	    || strpbrk(d->helo, " \t\r\n") != NULL)
		strlcpy(d->helo, "localhost", sizeof d->helo);
	d->helo[sizeof d->helo - 1] = '\0';
	d->p.helo = d->helo;
	if (!lmtp && sd->user != NULL) {
		if (sd->password == NULL) {
			error_set(err, EX_CONFIG, "delivery smtp: "
			    "delivery_user is set but no password: set "
			    "delivery_password or delivery_passwordeval");
			goto fail;
		}
		d->pass = xstrdup(sd->password);
		d->user = xstrdup(sd->user);
		d->p.user = d->user;
		d->p.pass = d->pass;
		d->p.auth = sd->auth;
	}
	if (parse_arg(d, sd->arg, err) == -1 ||
	    spool_init(&d->sp, err) == -1)
		goto fail;
	d->tp.host = d->host;
	/* Connected at the first sync: a run with no new mail never does. */
	return s;

fail:
	smtp_sink_free(s);
	return NULL;
}

/* The recipient: as given, or (LMTP) the user running us. */
static int
parse_rcpt(struct dest *d, const char *sp, struct error *err)
{
	struct passwd	*pw;

	if (*sp != '\0' && strpbrk(sp, " \t<>") == NULL)
		d->rcpt = xstrdup(sp);
	else if (*sp != '\0')
		error_set(err, EX_CONFIG, "delivery %s: bad recipient '%s' "
		    "(an address, without <> or blanks)", d->kind, sp);
	else if (d->p.proto == SMTP_PROTO_SMTP)
		error_set(err, EX_CONFIG, "delivery smtp: no recipient (write "
		    "delivery smtp HOST[:PORT] RECIPIENT)");
	else if ((pw = getpwuid(getuid())) != NULL)
		d->rcpt = xstrdup(pw->pw_name);
	else
		error_set(err, EX_CONFIG, "delivery lmtp: no recipient given, "
		    "and no user name for uid %u", (unsigned)getuid());
	return d->rcpt != NULL ? 0 : -1;
}

/*
 * "ADDRESS [RECIPIENT]": HOST, HOST:PORT or [IPv6]:PORT, or for LMTP a
 * socket /path.
 */
static int
parse_arg(struct dest *d, const char *arg, struct error *err)
{
	const char	*sp, *colon;
	char		*addr, *end;
	long		 port;

	port = d->p.proto == SMTP_PROTO_LMTP ? LMTP_DEFAULT_PORT :
	    SMTP_DEFAULT_PORT;
	sp = arg + strcspn(arg, " \t");
	addr = xstrndup(arg, (size_t)(sp - arg));
	sp += strspn(sp, " \t");
	if (parse_rcpt(d, sp, err) == -1)
		goto fail;
	if (addr[0] == '/' && d->p.proto == SMTP_PROTO_LMTP) {
		d->host = addr;
		d->p.path = d->host;
		return 0;
	}
	colon = addr[0] == '[' ? strstr(addr, "]:") : strrchr(addr, ':');
	if (addr[0] == '[' && colon != NULL)
		colon++;
	if (colon != NULL) {
		port = strtol(colon + 1, &end, 10);
		if (*end != '\0' || port < 1 || port > 65535 ||
		    colon[1] == '\0') {
			error_set(err, EX_CONFIG, "delivery %s: bad port in "
			    "'%s' (want HOST:PORT%s)", d->kind, addr,
			    d->p.proto == SMTP_PROTO_LMTP ?
			    " or a socket path" : "");
			goto fail;
		}
		addr[colon - addr] = '\0';
	}
	if (addr[0] == '[') {
		memmove(addr, addr + 1, strlen(addr));
		addr[strcspn(addr, "]")] = '\0';
	}
	if (addr[0] == '\0') {
		error_set(err, EX_CONFIG, "delivery %s: no host in '%s'",
		    d->kind, arg);
		goto fail;
	}
	d->host = addr;
	d->p.host = d->host;
	d->p.port = (int)port;
	return 0;
fail:
	free(addr);
	return -1;
}

static int
smtp_sink_open(struct sink *s, const struct sink_msginfo *mi,
    struct error *err)
{
	struct dest	*d = s->data;

	(void)mi;
	if (d->synced) {
		clear_queue(d);
		d->synced = 0;
	}
	if (d->nq == 0 && spool_reset(&d->sp, err) == -1)
		return -1;
	d->cur = d->sp.w.size;
	return 0;
}

static int
smtp_sink_write(struct sink *s, const char *p, size_t n, struct error *err)
{
	struct dest	*d = s->data;

	return spool_write(&d->sp, p, n, err);
}

/*
 * The %F rule of `delivery mda` (Return-Path), as an SMTP path: the null
 * sender when there is none, or when the address would need quoting.  A
 * UTF-8 address is kept: smtp.c sends it with SMTPUTF8 where the server
 * offers that, else the null sender.
 */
static char *
smtp_sender(struct dest *d, uint64_t start, uint64_t len, struct error *err)
{
	char	*sender;

	if ((sender = spool_sender_at(&d->sp, start, len, 1, err)) == NULL)
		return NULL;
	if (strcmp(sender, ENVELOPE_UNKNOWN) == 0 ||
	    strpbrk(sender, " \t<>\"\\") != NULL)
		sender[0] = '\0';
	return sender;
}

/*
 * A server that took the run's first connection and refuses a new one (its
 * greeting, STARTTLS, AUTH) says nothing of the message: the message waits
 * for a later run, and is not counted as refused (delivery_reject_limit).
 */
static void
reconnect_failed(struct dest *d, struct error *err)
{
	d->down = DOWN_UNREACHABLE;
	if (err->ex == EX_UNAVAILABLE)
		err->ex = EX_TEMPFAIL;
}

static const char *
proto_upper(const struct dest *d)
{
	return d->p.proto == SMTP_PROTO_LMTP ? "LMTP" : "SMTP";
}

/* The connection, opened (again) when needed; NULL with err when not. */
static struct smtp *
connection(struct dest *d, struct error *err)
{
	if (d->conn == NULL && !d->down &&
	    (d->conn = smtp_open(&d->p, err)) == NULL)
		reconnect_failed(d, err);
	if (d->conn == NULL && !error_isset(err))
		error_set(err, EX_TEMPFAIL, "the %s server %s earlier in this "
		    "run", proto_upper(d), d->down == DOWN_SILENT ? "did not "
		    "answer within timeout" : "could not be reached");
	return d->conn;
}

/* The connection is lost: not waited for again when it went silent. */
static void
drop(struct dest *d)
{
	if (d->conn == NULL)
		return;
	if (!smtp_hung_up(d->conn))
		d->down = DOWN_SILENT;
	smtp_free(d->conn);
	d->conn = NULL;
}

static void
done(struct staged *st, int rc)
{
	st->state = Q_DONE;
	st->rc = rc;
}

/* One message on its own, as smtp_send() does it: its outcome in st. */
static int
send_one(struct dest *d, struct staged *st, struct error *err)
{
	struct spool_span	sp = { &d->sp, st->start, st->len };
	int		rc;

	if (connection(d, &st->why) == NULL) {
		done(st, SINK_REFUSED);
		return 0;
	}
	rc = smtp_send(d->conn, st->sender, d->rcpt, st->len, spool_span_read,
	    &sp, &st->why);
	if (rc == -1 && !smtp_data_started(d->conn) &&
	    st->why.ex == EX_TEMPFAIL && smtp_hung_up(d->conn)) {
		/* The server let an idle connection go: once more, anew. */
		smtp_free(d->conn);
		d->conn = NULL;
		error_clear(&st->why);
		if (connection(d, &st->why) == NULL) {
			done(st, SINK_REFUSED);
			return 0;
		}
		rc = smtp_send(d->conn, st->sender, d->rcpt, st->len,
		    spool_span_read, &sp, &st->why);
	}
	if (rc == -1) {
		drop(d);
		/* Our spool failing is ours to report; the rest waits. */
		if (st->why.ex == EX_IOERR) {
			*err = st->why;
			return -1;
		}
	}
	done(st, rc == 0 ? 0 : SINK_REFUSED);
	return 0;
}

/* One transaction of a pipelined pass out; on a loss, *loss set. */
static int
pipe_send(struct dest *d, struct staged *st, int *loss, struct error *err)
{
	struct spool_span	sp = { &d->sp, st->start, st->len };
	int		rc;

	rc = smtp_send_ahead(d->conn, st->sender, d->rcpt, st->len,
	    spool_span_read, &sp, &st->why);
	if (rc == SMTP_REFUSED)
		done(st, SINK_REFUSED);
	else if (rc == 0)
		st->state = Q_SENT;
	else if (st->why.ex == EX_IOERR) {
		*err = st->why;
		return -1;
	} else {
		/*
		 * Not out whole, so not delivered: sent again on a new
		 * connection when the server let an idle one go (once per
		 * sync), else it waits for a later run, so that each pass
		 * settles a message and a server that drops every connection
		 * cannot keep the run going round.
		 */
		*loss = !d->answered && !d->idle_retried &&
		    smtp_hung_up(d->conn) ? LOSS_IDLE : LOSS_DOUBT;
		if (*loss == LOSS_IDLE)
			error_clear(&st->why);
		else
			done(st, SINK_REFUSED);
	}
	return 0;
}

/*
 * The replies of a transaction in flight.  One refused with 503 (bad
 * sequence) behind an earlier refusal of the pass (*refusal) is queued
 * again, once.  After a loss,
 * the rest in flight are sent again (LOSS_IDLE) or stay (LOSS_DOUBT).
 */
static void
pipe_reply(struct dest *d, struct staged *st, int *loss, int *refusal)
{
	int	rc;

	if (*loss == LOSS_IDLE) {
		st->state = Q_QUEUED;
		return;
	}
	if (*loss == LOSS_DOUBT) {
		error_set(&st->why, EX_TEMPFAIL, "the connection to the %s "
		    "was lost before its reply (it may have been delivered; "
		    "a later run delivers it again)", smtp_name(d->conn));
		done(st, SINK_REFUSED);
		return;
	}
	rc = smtp_ahead_reply(d->conn, &st->why);
	if (rc == -1) {
		*loss = !d->answered && !d->idle_retried &&
		    !smtp_data_started(d->conn) && smtp_hung_up(d->conn) ?
		    LOSS_IDLE : LOSS_DOUBT;
		if (*loss == LOSS_IDLE) {
			error_clear(&st->why);
			st->state = Q_QUEUED;
		} else
			done(st, SINK_REFUSED);
		return;
	}
	d->answered = 1;
	if (rc == SMTP_REFUSED && *refusal && !st->resent &&
	    smtp_refused_code(d->conn) == 503) {
		st->resent = 1;
		error_clear(&st->why);
		st->state = Q_QUEUED;
		return;
	}
	*refusal = *refusal || rc == SMTP_REFUSED;
	done(st, rc == 0 ? 0 : SINK_REFUSED);
}

/*
 * One pass over the queued messages, in order, at most SMTP_INFLIGHT in
 * flight, until each sent one is answered; no more go out after a
 * refusal or a loss (then the connection is dropped).  -1 only when the
 * spool cannot be read.
 */
static int
pipe_pass(struct dest *d, struct error *err)
{
	size_t	fl[SMTP_INFLIGHT], head = 0, n = 0, next = 0;
	int	loss = LOSS_NONE, refusal = 0;

	for (;;) {
		for (; !loss && !refusal && n < SMTP_INFLIGHT &&
		    next < d->nq; next++) {
			if (d->q[next].state != Q_QUEUED)
				continue;
			if (pipe_send(d, &d->q[next], &loss, err) == -1)
				return -1;
			if (d->q[next].state == Q_SENT)
				fl[(head + n++) % SMTP_INFLIGHT] = next;
		}
		if (n == 0)
			break;
		pipe_reply(d, &d->q[fl[head]], &loss, &refusal);
		head = (head + 1) % SMTP_INFLIGHT;
		n--;
	}
	if (loss != LOSS_NONE) {
		d->idle_retried = d->idle_retried || loss == LOSS_IDLE;
		drop(d);
	}
	return 0;
}

/* Every staged message to the server, each with its outcome. */
static int
hand_over(struct dest *d, struct error *err)
{
	size_t	i;

	d->answered = d->idle_retried = 0;
	/*
	 * The run's first connection failing stops the session, as a
	 * mailbox that cannot be opened does: the batch stays on the
	 * server, and the error is the destination's own.
	 */
	if (!d->opened) {
		if ((d->conn = smtp_open(&d->p, err)) == NULL)
			return -1;
		d->opened = 1;
	}
	for (;;) {
		for (i = 0; i < d->nq && d->q[i].state != Q_QUEUED; i++)
			;
		if (i == d->nq)
			return 0;
		if (connection(d, &d->q[i].why) == NULL)
			done(&d->q[i], SINK_REFUSED);
		else if (smtp_can_pipeline(d->conn)) {
			if (pipe_pass(d, err) == -1)
				return -1;
		} else if (send_one(d, &d->q[i], err) == -1)
			return -1;
	}
}

static void
clear_queue(struct dest *d)
{
	size_t	i;

	for (i = 0; i < d->nq; i++)
		free(d->q[i].sender);
	d->nq = 0;
}

/* The message joins the batch; it leaves at the next sync. */
static int
smtp_sink_stage(struct sink *s, struct error *err)
{
	struct dest	*d = s->data;
	struct staged	*st;
	char		*sender;

	if (spool_flush(&d->sp, err) == -1 ||
	    (sender = smtp_sender(d, d->cur, d->sp.w.size - d->cur,
	    err)) == NULL)
		return -1;
	d->q = xgrow(d->q, &d->qcap, d->nq, 16, sizeof *d->q);
	st = &d->q[d->nq++];
	memset(st, 0, sizeof *st);
	st->start = d->cur;
	st->len = d->sp.w.size - d->cur;
	st->sender = sender;
	st->state = Q_QUEUED;
	return 0;
}

/* The batch to the server (sink.c holds signals meanwhile). */
static int
smtp_sink_sync(struct sink *s, struct error *err)
{
	struct dest	*d = s->data;

	d->synced = 1;
	return hand_over(d, err);
}

/* sink.c asks only after a whole sync, for a message it settled. */
static int
smtp_sink_outcome(struct sink *s, size_t i, struct error *err)
{
	struct dest	*d = s->data;

	if (d->q[i].rc != 0)
		*err = d->q[i].why;
	return d->q[i].rc;
}

static void
smtp_sink_abort(struct sink *s)
{
	struct dest	*d = s->data;
	struct error	 ignored;

	error_clear(&ignored);
	(void)spool_truncate(&d->sp, d->cur, &ignored);
}

static void
smtp_sink_free(struct sink *s)
{
	struct dest	*d = s->data;

	smtp_free(d->conn);
	clear_queue(d);
	free(d->q);
	if (d->sp.fd != -1)
		spool_free(&d->sp);
	free(d->host);
	free(d->rcpt);
	free(d->trust_file);
	free(d->user);
	freezero_str(d->pass);
	free(d);
	free(s);
}
