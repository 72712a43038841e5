/* smtp.c -- the SMTP and LMTP client; see smtp.h. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "dial.h"
#include "log.h"
#include "smtp.h"
#include "termsafe.h"
#include "transport.h"
#include "xmalloc.h"

#define SMTP_TEXT_KEEP	300	/* reply text kept for messages */
#define SMTP_DATA_CHUNK	65536

struct smtp {
	struct smtp_params	 p;
	struct transport	*t;
	char			*name;
	int			 broken;	/* the connection is unusable */
	int			 dirty;		/* a transaction to RSET */
	int			 data_started;
	int			 pipelining;
	int			 size_offered;
	int			 chunking;	/* BDAT (RFC 3030) for DATA */
	int			 starttls;
	int			 in_hello;	/* reply lines are capabilities */
	int			 eightbit;
	int			 smtputf8;	/* SMTPUTF8 (RFC 6531) */
	uint64_t		 size_max;	/* SIZE, 0: none given */
	char			 mechs[256];	/* " PLAIN LOGIN ": AUTH's list */
	int			 in_auth;	/* keep a 334's challenge whole */
	int			 auth_code;	/* the last AUTH's final reply */
	int			 refused_code;	/* the last refusal's */
	char			*chal;		/* that challenge (base64) */
	/* smtp_send_ahead()'s transactions in flight, oldest first: 1
	   when an RSET leads it. */
	unsigned char		 ahead_rset[SMTP_AHEAD_MAX];
	size_t			 ahead_head, ahead_n;
};

struct reply {
	int	 code;
	char	 text[SMTP_TEXT_KEEP];	/* the first line, after the code */
};

static int	read_reply(struct smtp *, struct reply *, struct error *);
static int	reply_line(struct smtp *, struct reply *, const char *, size_t,
		    int *, struct error *);
static int	command(struct smtp *, const char *, struct error *);
static void	capabilities(struct smtp *, const char *, size_t);
static int	hello(struct smtp *, struct error *);
static int	starttls(struct smtp *, struct error *);
static int	refused(struct smtp *, const char *, const struct reply *,
		    struct error *);
static int	envelope(struct smtp *, const char *, const char *, uint64_t,
		    struct error *);
static int	send_data(struct smtp *, smtp_reader, void *, struct error *);
static int	wire_size(smtp_reader, void *, uint64_t *, struct error *);
static int	broken(struct smtp *, int);
static int	lost(struct smtp *, struct error *);
static int	login(struct smtp *, struct error *);
static int	too_big(struct smtp *, uint64_t, struct error *);
static void	mail_command(struct smtp *, struct buf *, const char *,
		    uint64_t);

static const char *
proto_name(const struct smtp *s)
{
	return s->p.proto == SMTP_PROTO_LMTP ? "LMTP" : "SMTP";
}

struct smtp *
smtp_open(const struct smtp_params *p, struct error *err)
{
	struct dial_params	 dp = { 0 };
	struct smtp	*s;
	struct reply	 r;

	s = xcalloc(1, sizeof *s);
	s->p = *p;
	if (p->path != NULL)
		xasprintf(&s->name, "%s server %s", proto_name(s), p->path);
	else
		xasprintf(&s->name, "%s server %s%s%s:%d", proto_name(s),
		    strchr(p->host, ':') != NULL ? "[" : "", p->host,
		    strchr(p->host, ':') != NULL ? "]" : "", p->port);
	dp.host = p->host;
	dp.port = p->port;
	dp.path = p->path;
	dp.timeout = p->timeout;
	dp.acct = p->acct;
	s->t = dial(&dp, NULL, err);
	/* Which server: the POP3 server's errors look the same. */
	if (s->t == NULL) {
		error_prefix(err, "the %s", s->name);
		goto fail;
	}
	if (read_reply(s, &r, err) == -1)
		goto fail;
	if (r.code / 100 != 2) {
		error_set(err, r.code / 100 == 4 ? EX_TEMPFAIL :
		    EX_UNAVAILABLE, "the %s does not take mail: %d %s",
		    s->name, r.code, r.text);
		goto fail;
	}
	if (hello(s, err) == -1 || starttls(s, err) == -1 ||
	    login(s, err) == -1) {
		error_prefix(err, "the %s", s->name);
		goto fail;
	}
	return s;

fail:
	s->broken = 1;
	smtp_free(s);
	return NULL;
}

int
smtp_data_started(const struct smtp *s)
{
	return s->data_started;
}

int
smtp_refused_code(const struct smtp *s)
{
	return s->refused_code;
}

int
smtp_hung_up(const struct smtp *s)
{
	return transport_lost(s->t);
}

const char *
smtp_name(const struct smtp *s)
{
	return s->name;
}

void
smtp_free(struct smtp *s)
{
	struct error	ignored;
	struct reply	r;

	if (s == NULL)
		return;
	error_clear(&ignored);
	if (s->t != NULL && !s->broken && command(s, "QUIT", &ignored) == 0)
		(void)read_reply(s, &r, &ignored);
	transport_free(s->t);
	free(s->name);
	free(s->chal);
	free(s);
}

/* EHLO or LHLO, and what the reply offers. */
static int
hello(struct smtp *s, struct error *err)
{
	struct buf	 cmd;
	struct reply	 r;
	int		 rc;

	buf_init(&cmd);
	buf_printf(&cmd, "%s %s", s->p.proto == SMTP_PROTO_LMTP ? "LHLO" :
	    "EHLO", s->p.helo);
	rc = command(s, cmd.data, err);
	buf_free(&cmd);
	s->pipelining = s->eightbit = s->size_offered = s->starttls = 0;
	s->chunking = s->smtputf8 = 0;
	s->size_max = 0;
	s->mechs[0] = '\0';
	s->in_hello = 1;
	rc = rc == -1 ? -1 : read_reply(s, &r, err);
	s->in_hello = 0;
	if (rc == -1)
		return -1;
	if (r.code / 100 != 2) {
		error_set(err, r.code / 100 == 4 ? EX_TEMPFAIL :
		    EX_UNAVAILABLE, "%s refused: %d %s", s->p.proto ==
		    SMTP_PROTO_LMTP ? "LHLO" : "EHLO", r.code, r.text);
		return -1;
	}
	return 0;
}

/*
 * TLS as params->tls says, then EHLO again: what was offered in clear
 * may have been a man in the middle's (RFC 3207 section 4.2).
 */
static int
starttls(struct smtp *s, struct error *err)
{
	struct reply	r;

	if (s->p.tls == SMTP_TLS_OFF || s->p.proto == SMTP_PROTO_LMTP ||
	    (!s->starttls && s->p.tls == SMTP_TLS_AUTO))
		return 0;
	if (!s->starttls) {
		error_set(err, EX_UNAVAILABLE, "does not offer STARTTLS "
		    "(delivery_tls on requires it; delivery_tls off sends in "
		    "clear)");
		return -1;
	}
	if (command(s, "STARTTLS", err) == -1 || read_reply(s, &r, err) == -1)
		return -1;
	if (r.code != 220) {
		error_set(err, r.code / 100 == 4 ? EX_TEMPFAIL :
		    EX_UNAVAILABLE, "refused STARTTLS: %d %s", r.code, r.text);
		return -1;
	}
	if (transport_starttls(s->t, s->p.tp, err) == -1) {
		error_prefix(err, "STARTTLS (set delivery_tls_trust_file to "
		    "the CA that signed its certificate)");
		return broken(s, -1);
	}
	return hello(s, err);
}

/* Queue one command line; sent at the next read (or flush). */
static int
command(struct smtp *s, const char *line, struct error *err)
{
	log_trace(s->p.acct, "->", line, strlen(line));
	if (transport_write(s->t, line, strlen(line), err) == -1 ||
	    transport_write(s->t, "\r\n", 2, err) == -1)
		return lost(s, err);
	return 0;
}

static int
broken(struct smtp *s, int rc)
{
	s->broken = 1;
	return rc;
}

/*
 * One reply, all its lines.  The capabilities of a reply to EHLO/LHLO
 * (its lines after the first) are taken as they come.
 */
static int
read_reply(struct smtp *s, struct reply *r, struct error *err)
{
	const char	*line;
	size_t		 len, total = 0;
	int		 more = 1, nline = 0;

	memset(r, 0, sizeof *r);
	if (transport_flush(s->t, err) == -1)
		return lost(s, err);
	while (more) {
		if (transport_getline(s->t, &line, &len, err) == -1)
			return lost(s, err);
		/* As POP3's: SASL challenges stay out of the trace. */
		if (s->in_auth && len > 3 && strncmp(line, "334", 3) == 0)
			log_trace(s->p.acct, "<-", "334 (challenge not shown)",
			    25);
		else
			log_trace(s->p.acct, "<-", line, len);
		if ((total += len) > SMTP_REPLY_MAX) {
			error_set(err, EX_PROTOCOL, "the %s sent a reply "
			    "longer than %d bytes", s->name, SMTP_REPLY_MAX);
			return broken(s, -1);
		}
		if (len == 0 || line[len - 1] != '\n') {
			error_set(err, EX_PROTOCOL, "the %s sent a reply "
			    "line longer than %d bytes", s->name,
			    TRANSPORT_CHUNK_MAX);
			return broken(s, -1);
		}
		if (reply_line(s, r, line, len, &more, err) == -1)
			return broken(s, -1);
		if (nline++ > 0 && s->in_hello)
			capabilities(s, line + 4, len - 4);
		if (nline == 1 && s->in_auth && r->code == 334) {
			/* Base64 and long (SCRAM): not the text kept. */
			while (len > 0 && (line[len - 1] == '\n' ||
			    line[len - 1] == '\r'))
				len--;
			free(s->chal);
			s->chal = xstrndup(len > 4 ? line + 4 : "",
			    len > 4 ? len - 4 : 0);
		}
	}
	return 0;
}

/* "250-text" or "250 text" (or just "250"): checks it and keeps the text. */
static int
reply_line(struct smtp *s, struct reply *r, const char *line, size_t len,
    int *more, struct error *err)
{
	char	shown[TERMSAFE_SIZE(64)];
	int	code;

	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (len < 3 || line[0] < '2' || line[0] > '5' ||
	    !isdigit((unsigned char)line[1]) ||
	    !isdigit((unsigned char)line[2]) ||
	    (len > 3 && line[3] != ' ' && line[3] != '-')) {
		termsafe(line, len > 64 ? 64 : len, shown, sizeof shown);
		error_set(err, EX_PROTOCOL, "the %s sent a reply that is not "
		    "%s: \"%s\"", s->name, proto_name(s), shown);
		return -1;
	}
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + line[2] - '0';
	if (r->code == 0) {
		r->code = code;
		if (len > 4)
			termsafe(line + 4, len - 4, r->text, sizeof r->text);
	} else if (code != r->code) {
		error_set(err, EX_PROTOCOL, "the %s changed the code within "
		    "one reply (%d, then %d)", s->name, r->code, code);
		return -1;
	}
	*more = len > 3 && line[3] == '-';
	return 0;
}

static void
capabilities(struct smtp *s, const char *p, size_t len)
{
	char	 word[32];
	size_t	 n;

	while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r'))
		len--;
	n = strcspn(p, " \r\n");
	if (n > len)
		n = len;
	if (n >= sizeof word)
		return;
	memcpy(word, p, n);
	word[n] = '\0';
	if (strcasecmp(word, "PIPELINING") == 0)
		s->pipelining = 1;
	else if (strcasecmp(word, "STARTTLS") == 0)
		s->starttls = 1;
	else if (strcasecmp(word, "CHUNKING") == 0)
		s->chunking = 1;
	else if (strcasecmp(word, "8BITMIME") == 0)
		s->eightbit = 1;
	else if (strcasecmp(word, "SMTPUTF8") == 0)
		s->smtputf8 = 1;
	else if (strcasecmp(word, "AUTH") == 0 && n < len) {
		/* " PLAIN LOGIN ", so a word is found with its blanks. */
		snprintf(s->mechs, sizeof s->mechs, " %.*s ",
		    (int)(len - n - 1), p + n + 1);
	} else if (strcasecmp(word, "SIZE") == 0) {
		s->size_offered = 1;
		if (n < len)
			s->size_max = strtoull(p + n + 1, NULL, 10);
	}
}

static int
refused(struct smtp *s, const char *what, const struct reply *r,
    struct error *err)
{
	s->dirty = 1;
	s->refused_code = r->code;
	error_set(err, r->code / 100 == 4 ? EX_TEMPFAIL : EX_UNAVAILABLE,
	    "the %s refused %s: %d %s", s->name, what, r->code, r->text);
	return SMTP_REFUSED;
}

/* Over the SIZE the server announced: refused before anything is sent. */
static int
too_big(struct smtp *s, uint64_t size, struct error *err)
{
	if (s->size_max == 0 || size <= s->size_max)
		return 0;
	error_set(err, EX_UNAVAILABLE, "the message (%llu bytes) is larger "
	    "than the %s takes (SIZE %llu)", (unsigned long long)size,
	    s->name, (unsigned long long)s->size_max);
	return 1;
}

int
smtp_send(struct smtp *s, const char *sender, const char *rcpt,
    uint64_t size, smtp_reader rd, void *arg, struct error *err)
{
	struct reply	r;
	int		rc;

	if (s->broken || s->ahead_n > 0) {
		error_set(err, EX_SOFTWARE, "smtp_send on a broken or busy "
		    "connection");
		return -1;
	}
	if (too_big(s, size, err))
		return SMTP_REFUSED;
	s->data_started = 0;
	if ((rc = envelope(s, sender, rcpt, size, err)) != 0)
		return rc;
	if (send_data(s, rd, arg, err) == -1)
		return -1;
	/* LMTP: one reply per accepted recipient, and there is one. */
	if (read_reply(s, &r, err) == -1) {
		error_prefix(err, "after the whole message was sent");
		return -1;
	}
	if (r.code / 100 != 2)
		return refused(s, "the message", &r, err);
	return 0;
}

int
smtp_can_pipeline(const struct smtp *s)
{
	return s->pipelining && s->chunking && !s->broken;
}

/*
 * RSET when the last transaction answered was refused, MAIL, RCPT, BDAT
 * LAST and the message, without waiting: a BDAT chunk is read whole
 * whatever the replies before it (RFC 3030 section 2), so a refused MAIL
 * or RCPT cannot make the server take the message's bytes for commands,
 * and the next transaction may follow at once (RFC 2920 section 3.1).
 */
int
smtp_send_ahead(struct smtp *s, const char *sender, const char *rcpt,
    uint64_t size, smtp_reader rd, void *arg, struct error *err)
{
	struct buf	mail, to;
	int		rc = -1, rset = s->dirty;

	if (!smtp_can_pipeline(s) || s->ahead_n == SMTP_AHEAD_MAX) {
		error_set(err, EX_SOFTWARE, "smtp_send_ahead out of turn");
		return -1;
	}
	if (too_big(s, size, err))
		return SMTP_REFUSED;
	buf_init(&mail);
	buf_init(&to);
	mail_command(s, &mail, sender, size);
	buf_printf(&to, "RCPT TO:<%s>", rcpt);
	s->dirty = 0;
	if ((!rset || command(s, "RSET", err) == 0) &&
	    command(s, mail.data, err) == 0 && command(s, to.data, err) == 0 &&
	    send_data(s, rd, arg, err) == 0) {
		s->ahead_rset[(s->ahead_head + s->ahead_n++) %
		    SMTP_AHEAD_MAX] = (unsigned char)rset;
		rc = 0;
	}
	buf_free(&mail);
	buf_free(&to);
	return rc;
}

/*
 * The replies of the oldest transaction smtp_send_ahead() sent: its
 * RSET's, MAIL's, RCPT's and BDAT's, all read; the first that is not
 * 2xx refuses the message.  smtp_data_started() says afterwards whether
 * any of them came.
 */
int
smtp_ahead_reply(struct smtp *s, struct error *err)
{
	static const char *what[] = { "RSET", "the sender", "the recipient",
	    "the message" };
	struct reply	r, bad;
	int		i, nbad = -1;

	if (s->ahead_n == 0 || s->broken) {
		error_set(err, EX_SOFTWARE, "smtp_ahead_reply out of turn");
		return -1;
	}
	i = s->ahead_rset[s->ahead_head] ? 0 : 1;
	s->ahead_head = (s->ahead_head + 1) % SMTP_AHEAD_MAX;
	s->ahead_n--;
	s->data_started = 0;
	memset(&bad, 0, sizeof bad);
	for (; i < 4; i++) {
		if (read_reply(s, &r, err) == -1) {
			if (i == 3)
				error_prefix(err, "after the whole message "
				    "was sent");
			return -1;
		}
		s->data_started = 1;
		if (nbad == -1 && r.code / 100 != 2) {
			nbad = i;
			bad = r;
		}
	}
	if (nbad != -1)
		return refused(s, what[nbad], &bad, err);
	s->dirty = 0;
	return 0;
}

/* Why a reply did not come: the connection is gone. */
static int
lost(struct smtp *s, struct error *err)
{
	error_prefix(err, "the %s", s->name);
	return broken(s, -1);
}

/*
 * RSET when the last transaction failed, MAIL, RCPT and DATA: in one go
 * where the destination pipelines, else one by one.  0 once DATA got
 * 354 (or, with CHUNKING, RCPT its 2xx), SMTP_REFUSED, or -1.  This is
 * smtp_send()'s one transaction at a time; a server with PIPELINING and
 * CHUNKING gets several in flight through smtp_send_ahead() instead.
 */
static int
envelope(struct smtp *s, const char *sender, const char *rcpt, uint64_t size,
    struct error *err)
{
	struct buf	 mail, to;
	struct reply	 r[4];
	const char	*cmds[4], *what[4];
	int		 n = 0, i, sent = 0, rc = -1, bad = -1, ok;

	memset(r, 0, sizeof r);
	buf_init(&mail);
	buf_init(&to);
	mail_command(s, &mail, sender, size);
	buf_printf(&to, "RCPT TO:<%s>", rcpt);
	if (s->dirty) {
		what[n] = "RSET";
		cmds[n++] = "RSET";
	}
	what[n] = "the sender";
	cmds[n++] = mail.data;
	what[n] = "the recipient";
	cmds[n++] = to.data;
	if (!s->chunking) {
		what[n] = "DATA";
		cmds[n++] = "DATA";
	}
	s->dirty = 0;

	for (i = 0; i < n; i++) {
		if (sent <= i) {
			/* Pipelined: all at once; else the next one. */
			do
				if (command(s, cmds[sent++], err) == -1)
					goto out;
			while (s->pipelining && sent < n);
		}
		if (read_reply(s, &r[i], err) == -1)
			goto out;
		ok = i == n - 1 && !s->chunking ? r[i].code == 354 :
		    r[i].code / 100 == 2;
		if (bad == -1 && !ok)
			bad = i;
		if (bad != -1 && !s->pipelining)
			break;
	}
	if (bad == -1) {
		rc = 0;
		goto out;
	}
	if (!s->chunking && bad < n - 1 && r[n - 1].code == 354) {
		/* RFC 2920: DATA went ahead anyway; end it empty. */
		if (command(s, ".", err) == -1 ||
		    read_reply(s, &r[n - 1], err) == -1)
			goto out;
	}
	rc = refused(s, what[bad], &r[bad], err);
out:
	buf_free(&mail);
	buf_free(&to);
	return rc;
}

/*
 * MAIL FROM with SIZE and BODY where the server takes them.  A UTF-8
 * sender needs SMTPUTF8 (RFC 6531 section 3.4); a server without it gets
 * the null sender, which every server takes, rather than a refusal.
 */
static void
mail_command(struct smtp *s, struct buf *mail, const char *sender,
    uint64_t size)
{
	int	utf8 = 0;
	size_t	i;

	for (i = 0; sender[i] != '\0'; i++)
		if ((unsigned char)sender[i] > 0x7e)
			utf8 = 1;
	buf_printf(mail, "MAIL FROM:<%s>", utf8 && !s->smtputf8 ? "" :
	    sender);
	if (s->size_offered)
		buf_printf(mail, " SIZE=%llu", (unsigned long long)size);
	if (s->eightbit)
		buf_addstr(mail, " BODY=8BITMIME");
	if (utf8 && s->smtputf8)
		buf_addstr(mail, " SMTPUTF8");
}

/* The message's size on the wire: CRLF line ends, the last line ended. */
static int
wire_size(smtp_reader rd, void *arg, uint64_t *size, struct error *err)
{
	char		*in;
	uint64_t	 off = 0;
	ssize_t		 n, i;
	char		 last = '\n';

	in = xmalloc(SMTP_DATA_CHUNK);
	*size = 0;
	while ((n = rd(arg, in, SMTP_DATA_CHUNK, off, err)) > 0) {
		off += (uint64_t)n;
		for (i = 0; i < n; i++)
			*size += in[i] == '\n' ? 2 : 1;
		last = in[n - 1];
	}
	free(in);
	if (n == -1)
		return -1;
	if (last != '\n')
		*size += 2;
	return 0;
}

/*
 * The message after 354: LF to CRLF, a '.' doubled at the start of a
 * line, a last line ended, then the lone dot.  With CHUNKING instead one
 * BDAT LAST of the exact size and no dot-stuffing.
 */
static int
send_data(struct smtp *s, smtp_reader rd, void *arg, struct error *err)
{
	char		*in, *out;
	ssize_t		 n, i;
	size_t		 o;
	uint64_t	 off = 0, size;
	int		 bol = 1, rc = -1;

	if (s->chunking) {
		if (wire_size(rd, arg, &size, err) == -1) {
			s->broken = 1;
			return -1;
		}
		in = NULL;
		xasprintf(&in, "BDAT %llu LAST", (unsigned long long)size);
		rc = command(s, in, err);
		free(in);
		if (rc == -1)
			return -1;
		rc = -1;
	}
	s->data_started = 1;
	in = xmalloc(SMTP_DATA_CHUNK);
	out = xmalloc(SMTP_DATA_CHUNK * 2 + 8);
	for (;;) {
		if ((n = rd(arg, in, SMTP_DATA_CHUNK, off, err)) == -1) {
			/* Ours, not the server's: the transaction is cut. */
			s->broken = 1;
			goto out;
		}
		if (n == 0)
			break;
		off += (uint64_t)n;
		for (i = 0, o = 0; i < n; i++) {
			if (bol && in[i] == '.' && !s->chunking)
				out[o++] = '.';
			if (in[i] == '\n')
				out[o++] = '\r';
			out[o++] = in[i];
			bol = in[i] == '\n';
		}
		if (transport_write(s->t, out, o, err) == -1) {
			rc = lost(s, err);
			goto out;
		}
	}
	if ((!bol && transport_write(s->t, "\r\n", 2, err) == -1) ||
	    (!s->chunking && transport_write(s->t, ".\r\n", 3, err) == -1)) {
		rc = lost(s, err);
		goto out;
	}
	log_trace(s->p.acct, "->", s->chunking ? "(the message)" :
	    "(the message, then \".\")", s->chunking ? 13 : 24);
	rc = 0;
out:
	free(in);
	free(out);
	return rc;
}

/*
 * SMTP AUTH (RFC 4954) through auth.c's SASL layer: "AUTH M [IR]",
 * then "334 b64" challenges answered with one line each, "235" at the
 * end.  Neither the lines sent nor the challenges reach the trace.
 */
#define SMTP_AUTH_LINE_MAX	500	/* RFC 4954 section 4: 512 in all */

static int
auth_write(void *arg, const char *line, const char *what,
    struct error *err)
{
	struct smtp	*s = arg;

	log_trace(s->p.acct, "->", what, strlen(what));
	if (transport_write(s->t, line, strlen(line), err) == -1 ||
	    transport_write(s->t, "\r\n", 2, err) == -1)
		return lost(s, err);
	return 0;
}

static int
auth_io_send(void *arg, const char *line, struct error *err)
{
	return sasl_command("AUTH", line, auth_write, arg, err);
}

static int
auth_io_reply(void *arg, struct sasl_reply *sr, char **chal,
    struct error *err)
{
	struct smtp	*s = arg;
	struct reply	 r;
	int		 rc;

	memset(sr, 0, sizeof *sr);
	s->in_auth = 1;
	rc = read_reply(s, &r, err);
	s->in_auth = 0;
	if (rc == -1)
		return -1;
	if (r.code == 334) {
		*chal = s->chal != NULL ? s->chal : xstrdup("");
		s->chal = NULL;
		return 1;
	}
	s->auth_code = r.code;
	sr->ok = r.code == 235;
	sr->ex = r.code / 100 == 4 ? EX_TEMPFAIL : 0;
	snprintf(sr->text, sizeof sr->text, "%d %s", r.code, r.text);
	return 0;
}

static int
auth_io_answer(void *arg, const char *line, struct error *err)
{
	return auth_write(arg, line, "(SASL response not shown)", err);
}

/* auto's order, strongest first. */
static const enum auth_method auto_order[] = {
	AUTH_SCRAM_SHA_256, AUTH_SCRAM_SHA_1, AUTH_PLAIN, AUTH_LOGIN,
	AUTH_CRAM_MD5,
};
#define AUTO_N	(sizeof auto_order / sizeof auto_order[0])

static int
listed(const struct smtp *s, enum auth_method m)
{
	char	word[40];

	snprintf(word, sizeof word, " %s ", auth_method_name(m));
	return strcasestr(s->mechs, word) != NULL;
}

/*
 * The next mechanism to try (from auto_order[*i] on, advancing *i), or -1
 * with err set when none is left: the one delivery_auth names, or auto's
 * next the server lists that was not refused (done[]).  After a refusal,
 * auto never turns to PLAIN or LOGIN on a connection without TLS.
 */
static int
pick_mechanism(struct smtp *s, size_t *i, const char *done,
    enum auth_method *m, struct error *err)
{
	int	clear = !transport_is_tls(s->t);

	if (s->p.auth != AUTH_AUTO && *i == 0 && listed(s, s->p.auth)) {
		*m = s->p.auth;
		*i = AUTO_N;
		return 0;
	}
	for (; s->p.auth == AUTH_AUTO && *i < AUTO_N; (*i)++) {
		*m = auto_order[*i];
		if (done[*i] || !listed(s, *m) || (clear && done[AUTO_N] &&
		    (*m == AUTH_PLAIN || *m == AUTH_LOGIN)))
			continue;
		(*i)++;
		return 0;
	}
	if (done[AUTO_N])
		return -1;	/* err holds the last refusal */
	error_set(err, EX_UNAVAILABLE, "offers no AUTH mechanism popfetch "
	    "can use%s%s (it lists:%s)", s->p.auth != AUTH_AUTO ?
	    " as delivery_auth says: " : "", s->p.auth != AUTH_AUTO ?
	    auth_method_name(s->p.auth) : "", s->mechs[0] != '\0' ?
	    s->mechs : " nothing");
	return -1;
}

/*
 * After m was refused: whether auto may try another mechanism, marking
 * in done[] what is not worth a try.  Only a plain refusal on a
 * connection still up counts (not a 4xx, a failed exchange or a lost
 * connection).  A 535 to SCRAM rules out the other SCRAM (the same
 * secrets); a 535 to PLAIN or LOGIN, which sent the password itself,
 * says the password is wrong, so nothing else is tried.  504 (not
 * supported after all) and other refusals rule out m alone.
 */
static int
worth_next(struct smtp *s, enum auth_method m, char *done,
    const struct error *err)
{
	size_t	j;
	int	scram = m == AUTH_SCRAM_SHA_1 || m == AUTH_SCRAM_SHA_256;

	if (s->p.auth != AUTH_AUTO || err->ex != EX_NOPERM || s->broken ||
	    transport_lost(s->t))
		return 0;
	done[AUTO_N] = 1;
	for (j = 0; j < AUTO_N; j++)
		if (auto_order[j] == m || (s->auth_code == 535 && scram &&
		    (auto_order[j] == AUTH_SCRAM_SHA_1 ||
		    auto_order[j] == AUTH_SCRAM_SHA_256)))
			done[j] = 1;
	return !(s->auth_code == 535 && (m == AUTH_PLAIN || m == AUTH_LOGIN));
}

/* Log in when delivery_user is set; over TLS unless delivery_tls off. */
static int
login(struct smtp *s, struct error *err)
{
	struct sasl_io	 io = {
		.arg = s, .service = "smtp", .cmd_max = SMTP_AUTH_LINE_MAX,
		.send = auth_io_send, .reply = auth_io_reply,
		.answer = auth_io_answer,
	};
	enum auth_method m;
	char		 done[AUTO_N + 1];	/* [AUTO_N]: one was refused */
	char		 tried[128] = "";	/* ", M1, M2" */
	size_t		 i = 0;

	memset(done, 0, sizeof done);
	if (s->p.user == NULL || s->p.proto == SMTP_PROTO_LMTP)
		return 0;
	io.t = s->t;
	if (!transport_is_tls(s->t) && s->p.tls != SMTP_TLS_OFF) {
		error_set(err, EX_UNAVAILABLE, "does not offer STARTTLS, and "
		    "popfetch does not send the delivery password in clear "
		    "(delivery_tls off allows it)");
		return -1;
	}
	if (s->mechs[0] == '\0') {
		error_set(err, EX_UNAVAILABLE, "does not offer AUTH "
		    "(unset delivery_user to send without logging in)");
		return -1;
	}
	for (;;) {
		if (pick_mechanism(s, &i, done, &m, err) == -1) {
			if (done[AUTO_N])
				error_prefix(err, "tried %s", tried + 2);
			return -1;
		}
		log_debug(s->p.acct, "%s: AUTH %s as %s", s->name,
		    auth_method_name(m), s->p.user);
		error_clear(err);
		if (sasl_login(&io, m, s->p.user, s->p.host != NULL ?
		    s->p.host : "localhost", s->p.port, s->p.acct, s->p.pass,
		    NULL, err) == 0)
			break;
		strlcat(tried, ", ", sizeof tried);
		strlcat(tried, auth_method_name(m), sizeof tried);
		if (!worth_next(s, m, done, err)) {
			if (done[AUTO_N] && strchr(tried + 2, ',') != NULL)
				error_prefix(err, "tried %s", tried + 2);
			return broken(s, -1);
		}
		log_verbose(s->p.acct, "%s: auth auto: %s failed (%s); trying "
		    "the next mechanism it lists", s->name,
		    auth_method_name(m), err->msg);
	}
	if (done[AUTO_N])
		log_verbose(s->p.acct, "%s: logged in with %s", s->name,
		    auth_method_name(m));
	return 0;
}
