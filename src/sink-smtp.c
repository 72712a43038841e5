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
 * see half a message because the POP3 connection broke.  One connection
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
 * docs/exactly-once.md).
 */
#include "config.h"

#include <sys/types.h>

#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "envelope.h"
#include "sighold.h"
#include "sink.h"
#include "sink-spool.h"
#include "smtp.h"
#include "xmalloc.h"

#define LMTP_DEFAULT_PORT	24
#define SMTP_DEFAULT_PORT	25

/* Why the rest of a run is deferred at once (struct dest's down). */
#define DOWN_UNREACHABLE	1	/* connecting again failed */
#define DOWN_SILENT		2	/* a reply did not come in time */

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
};

static void	reconnect_failed(struct dest *, struct error *);
static int	smtp_sink_open(struct sink *, const struct sink_msginfo *,
		    struct error *);
static int	smtp_sink_write(struct sink *, const char *, size_t,
		    struct error *);
static int	smtp_sink_commit(struct sink *, struct error *);
static void	smtp_sink_abort(struct sink *);
static void	smtp_sink_free(struct sink *);
static int	parse_arg(struct dest *, const char *, struct error *);
static int	parse_rcpt(struct dest *, const char *, struct error *);
static char	*smtp_sender(struct dest *, struct error *);

static const struct sink_ops lmtp_ops = {
	"lmtp", smtp_sink_open, smtp_sink_write, smtp_sink_commit,
	smtp_sink_abort, smtp_sink_free, NULL, NULL, NULL, NULL
};
static const struct sink_ops smtp_ops = {
	"smtp", smtp_sink_open, smtp_sink_write, smtp_sink_commit,
	smtp_sink_abort, smtp_sink_free, NULL, NULL, NULL, NULL
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
	/* Now: a server that is down defers the run before any download. */
	if ((d->conn = smtp_open(&d->p, err)) == NULL)
		goto fail;
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
	return spool_reset(&d->sp, err);
}

static int
smtp_sink_write(struct sink *s, const char *p, size_t n, struct error *err)
{
	struct dest	*d = s->data;

	return spool_write(&d->sp, p, n, err);
}

/*
 * The %F rule of `delivery mda` (Return-Path), as an SMTP path: the null
 * sender when there is none, or when the address would need quoting.
 */
static char *
smtp_sender(struct dest *d, struct error *err)
{
	char	*sender;

	if ((sender = spool_sender(&d->sp, err)) == NULL)
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

static int
smtp_sink_commit(struct sink *s, struct error *err)
{
	struct dest	*d = s->data;
	sigset_t	 old;
	char		*sender;
	int		 rc;

	if (spool_flush(&d->sp, err) == -1 ||
	    (sender = smtp_sender(d, err)) == NULL)
		return -1;
	/* Whole or not at all: a signal waits until the server has replied. */
	sig_hold(&old);
	if (d->conn == NULL && !d->down &&
	    (d->conn = smtp_open(&d->p, err)) == NULL)
		reconnect_failed(d, err);
	if (d->conn == NULL) {
		if (!error_isset(err))
			error_set(err, EX_TEMPFAIL, "the %s server %s earlier "
			    "in this run", d->p.proto == SMTP_PROTO_LMTP ?
			    "LMTP" : "SMTP", d->down == DOWN_SILENT ? "did not "
			    "answer within timeout" : "could not be reached");
		rc = SINK_REFUSED;
		goto out;
	}
	rc = smtp_send(d->conn, sender, d->rcpt, d->sp.w.size, spool_read_at,
	    &d->sp, err);
	if (rc == -1 && !smtp_data_started(d->conn) && err->ex == EX_TEMPFAIL &&
	    smtp_hung_up(d->conn)) {
		/* The server let an idle connection go: once more, anew. */
		smtp_free(d->conn);
		error_clear(err);
		if ((d->conn = smtp_open(&d->p, err)) == NULL) {
			reconnect_failed(d, err);
			rc = SINK_REFUSED;
			goto out;
		}
		rc = smtp_send(d->conn, sender, d->rcpt, d->sp.w.size,
		    spool_read_at, &d->sp, err);
	}
	if (rc == SMTP_REFUSED)
		rc = SINK_REFUSED;
	else if (rc == -1) {
		/*
		 * A server that let a wait run out is not waited for again:
		 * one timeout per run, not one per message.
		 */
		if (err->ex == EX_TEMPFAIL && !smtp_hung_up(d->conn))
			d->down = DOWN_SILENT;
		smtp_free(d->conn);
		d->conn = NULL;
		/* Our spool failing is ours to report; the rest waits. */
		if (err->ex != EX_IOERR)
			rc = SINK_REFUSED;
	}
out:
	sig_release(&old);
	free(sender);
	return rc;
}

static void
smtp_sink_abort(struct sink *s)
{
	struct dest	*d = s->data;
	struct error	 ignored;

	error_clear(&ignored);
	(void)spool_reset(&d->sp, &ignored);
}

static void
smtp_sink_free(struct sink *s)
{
	struct dest	*d = s->data;

	smtp_free(d->conn);
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
