/* pop3.c -- the POP3 client; see pop3.h for the contract. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>

#include "buf.h"
#include "log.h"
#include "pop3.h"
#include "pop3-parse.h"
#include "termsafe.h"
#include "uid.h"
#include "xmalloc.h"

#define POP3_CMD_MAX		255	/* RFC 2449: a command line's limit */
#define POP3_LINE_MAX		1024	/* a CAPA/LIST/UIDL line we keep */
#define POP3_DISCARD_MAX	(1024 * 1024) /* status line we skip at most */
#define POP3_TIMESTAMP_MAX	256

struct pending {
	enum pop3_cmd	 cmd;
	unsigned long	 tag;
};

struct pop3 {
	struct transport	*t;
	const char		*acct;
	struct pop3_caps	 caps;
	char			*timestamp;	/* APOP, from the greeting */
	char			*greeting;	/* its text, for --serverinfo */
	struct pending		*q;		/* ring of commands in flight */
	size_t			 qhead, qlen, qsize;
	int			 body_due;	/* a multi-line body is unread */
	int			 lockstep;	/* pipelining off: ignore the offer */
	int			 utf8_on;	/* UTF8 accepted */
	int			 capa_due;	/* a post-login CAPA is in flight */
};

/* Gathers a multi-line reply's decoded bytes into lines for a callback. */
struct line_reader {
	struct pop3	*p;
	enum pop3_cmd	 cmd;
	char		 line[POP3_LINE_MAX + 1];
	size_t		 len;
	size_t		 count;
	int		(*cb)(void *, char *, struct error *);
	void		*arg;
};

static const char *cmd_names[] = {
	"CAPA", "STLS", "USER", "PASS", "APOP", "STAT", "LIST", "UIDL",
	"RETR", "TOP", "DELE", "NOOP", "RSET", "QUIT", "AUTH", "UTF8",
};

static int	read_line(struct pop3 *, char *, size_t *, size_t *,
		    struct error *);
static int	read_status(struct pop3 *, struct pop3_reply *, struct error *);
static void	parse_code(struct pop3_reply *, const char *);
static void	copy_text(char *, size_t, const char *, size_t);
static int	is_multiline(enum pop3_cmd);
static int	read_lines(struct pop3 *, enum pop3_cmd,
		    int (*)(void *, char *, struct error *), void *,
		    struct error *);
static int	line_out(void *, const char *, size_t, struct error *);
static int	capa_cb(void *, char *, struct error *);
static int	capa_read(struct pop3 *, int, struct error *);
static int	list_cb(void *, char *, struct error *);
static int	uidl_cb(void *, char *, struct error *);
static int	expect_ok(struct pop3 *, enum pop3_cmd, int, struct error *);
static int	login_user(struct pop3 *, const char *, const char *,
		    struct error *);
static int	login_apop(struct pop3 *, const char *, const char *,
		    struct error *);

const char *
pop3_cmd_name(enum pop3_cmd cmd)
{
	return cmd_names[cmd];
}

struct pop3 *
pop3_new(struct transport *t, const char *acct)
{
	struct pop3	*p;

	p = xcalloc(1, sizeof *p);
	p->t = t;
	p->acct = acct;
	p->caps.expire = -1;
	p->caps.login_delay = -1;
	return p;
}

void
pop3_free(struct pop3 *p)
{
	if (p == NULL)
		return;
	transport_free(p->t);
	pop3_caps_clear(&p->caps);
	free(p->timestamp);
	free(p->greeting);
	free(p->q);
	free(p);
}

struct transport *
pop3_transport(struct pop3 *p)
{
	return p->t;
}

void
pop3_lockstep(struct pop3 *p)
{
	p->lockstep = 1;
	p->caps.pipelining = 0;
}

const struct pop3_caps *
pop3_caps(const struct pop3 *p)
{
	return &p->caps;
}

const char *
pop3_greeting_text(const struct pop3 *p)
{
	return p->greeting;
}

size_t
pop3_inflight(const struct pop3 *p)
{
	return p->qlen;
}


/* Copy server text for messages: terminal-safe, bounded. */
static void
copy_text(char *dst, size_t size, const char *src, size_t n)
{
	while (n > 0 && (src[n - 1] == '\n' || src[n - 1] == '\r'))
		n--;
	(void)termsafe(src, n, dst, size);
}

/* RFC 2449 / 3206 response codes decide how a -ERR is classed. */
static void
parse_code(struct pop3_reply *r, const char *text)
{
	r->ex = 0;
	if (text[0] != '[')
		return;
	if (strncasecmp(text, "[IN-USE]", 8) == 0 ||
	    strncasecmp(text, "[LOGIN-DELAY]", 13) == 0 ||
	    strncasecmp(text, "[SYS/TEMP]", 10) == 0)
		r->ex = EX_TEMPFAIL;
	else if (strncasecmp(text, "[AUTH]", 6) == 0)
		r->ex = EX_NOPERM;
	else if (strncasecmp(text, "[SYS/PERM]", 10) == 0)
		r->ex = EX_UNAVAILABLE;
}

/*
 * Read one line into first (NUL-terminated), skipping (bounded) the rest of
 * an overlong one; *skipped says how much was skipped.
 */
static int
read_line(struct pop3 *p, char *first, size_t *flen, size_t *skipped,
    struct error *err)
{
	const char	*line;
	size_t		 len;

	*skipped = 0;
	if (transport_getline(p->t, &line, &len, err) == -1)
		return -1;
	*flen = len;
	memcpy(first, line, len);
	first[len] = '\0';
	while (len == 0 || line[len - 1] != '\n') {
		if (transport_getline(p->t, &line, &len, err) == -1)
			return -1;
		*skipped += len;
		if (*skipped > POP3_DISCARD_MAX) {
			error_set(err, EX_PROTOCOL, "the server sent a reply "
			    "line longer than %d bytes", POP3_DISCARD_MAX);
			return -1;
		}
	}
	return 0;
}

/* Read one status line. */
static int
read_status(struct pop3 *p, struct pop3_reply *r, struct error *err)
{
	char	first[TRANSPORT_CHUNK_MAX + 1];
	size_t	flen, skipped;

	if (read_line(p, first, &flen, &skipped, err) == -1)
		return -1;
	log_trace(p->acct, "<-", first, flen);
	return pop3_parse_status(first, flen, r, err);
}

int
pop3_parse_status(const char *first, size_t flen, struct pop3_reply *r,
    struct error *err)
{
	const char	*rest;

	if (flen >= 3 && strncmp(first, "+OK", 3) == 0 &&
	    (flen == 3 || first[3] == ' ' || first[3] == '\r' ||
	    first[3] == '\n')) {
		r->ok = 1;
		rest = first + 3;
	} else if (flen >= 4 && strncmp(first, "-ERR", 4) == 0 &&
	    (flen == 4 || first[4] == ' ' || first[4] == '\r' ||
	    first[4] == '\n')) {
		r->ok = 0;
		rest = first + 4;
	} else {
		char	shown[80];

		copy_text(shown, sizeof shown, first, flen);
		error_set(err, EX_PROTOCOL, "the server sent a malformed "
		    "reply: \"%s\"", shown);
		return -1;
	}
	if ((size_t)(rest - first) < flen && *rest == ' ')
		rest++;
	copy_text(r->text, sizeof r->text, rest, flen - (size_t)(rest - first));
	parse_code(r, r->text);
	return 0;
}

int
pop3_greeting(struct pop3 *p, struct error *err)
{
	struct pop3_reply	 r;
	const char		*lt, *gt;

	memset(&r, 0, sizeof r);
	if (read_status(p, &r, err) == -1) {
		if (err->ex == EX_PROTOCOL)
			error_prefix(err, "not a POP3 server? greeting");
		return -1;
	}
	if (!r.ok) {
		error_set(err, r.ex != 0 ? r.ex : EX_UNAVAILABLE,
		    "the server refused the connection: %s", r.text);
		return -1;
	}
	p->greeting = xstrdup(r.text);
	/* An APOP timestamp looks like a msg-id: <...@...>. */
	if ((lt = strchr(r.text, '<')) != NULL &&
	    (gt = strchr(lt, '>')) != NULL &&
	    memchr(lt, '@', (size_t)(gt - lt)) != NULL &&
	    (size_t)(gt - lt) < POP3_TIMESTAMP_MAX)
		p->timestamp = xstrndup(lt, (size_t)(gt - lt) + 1);
	return 0;
}

/*
 * Whether +OK to cmd is followed by a body.  LIST and UIDL are only ever
 * sent without an argument here, so they are always multi-line.
 */
static int
is_multiline(enum pop3_cmd cmd)
{
	switch (cmd) {
	case P3_CAPA:
	case P3_RETR:
	case P3_TOP:
	case P3_LIST:
	case P3_UIDL:
		return 1;
	default:
		return 0;
	}
}

int
pop3_send(struct pop3 *p, enum pop3_cmd cmd, const char *arg, int flags,
    unsigned long tag, struct error *err)
{
	char	line[POP3_CMD_MAX + 3];
	int	n;

	if (arg != NULL && strpbrk(arg, "\r\n") != NULL) {
		error_set(err, EX_CONFIG, "a %s argument contains a line "
		    "break", cmd_names[cmd]);
		return -1;
	}
	if (arg != NULL)
		n = snprintf(line, sizeof line, "%s %s", cmd_names[cmd], arg);
	else
		n = snprintf(line, sizeof line, "%s", cmd_names[cmd]);
	if (n < 0 || n > POP3_CMD_MAX) {
		error_set(err, EX_CONFIG, "the %s command would be longer "
		    "than %d bytes", cmd_names[cmd], POP3_CMD_MAX);
		return -1;
	}
	if (flags & P3_SECRET) {
		char	shown[64];

		/* AUTH's mechanism is no secret; its initial response is. */
		if (cmd == P3_AUTH && arg != NULL)
			snprintf(shown, sizeof shown, "%s %.*s ***",
			    cmd_names[cmd], (int)strcspn(arg, " "), arg);
		else
			snprintf(shown, sizeof shown, "%s ***", cmd_names[cmd]);
		log_trace(p->acct, "->", shown, strlen(shown));
	} else
		log_trace(p->acct, "->", line, (size_t)n);
	line[n++] = '\r';
	line[n++] = '\n';
	if (transport_write(p->t, line, (size_t)n, err) == -1) {
		explicit_bzero(line, sizeof line);
		return -1;
	}
	explicit_bzero(line, sizeof line);

	if (p->qlen == p->qsize) {
		struct pending	*nq;
		size_t		 i, nsize = p->qsize == 0 ? 16 : p->qsize * 2;

		nq = xreallocarray(NULL, nsize, sizeof *nq);
		for (i = 0; i < p->qlen; i++)
			nq[i] = p->q[(p->qhead + i) % p->qsize];
		free(p->q);
		p->q = nq;
		p->qhead = 0;
		p->qsize = nsize;
	}
	p->q[(p->qhead + p->qlen) % p->qsize].cmd = cmd;
	p->q[(p->qhead + p->qlen) % p->qsize].tag = tag;
	p->qlen++;
	return 0;
}

int
pop3_reply(struct pop3 *p, struct pop3_reply *r, struct error *err)
{
	struct pending	pd;

	if (p->body_due)
		fatalx("pop3_reply with a multi-line body unread");
	if (p->qlen == 0)
		fatalx("pop3_reply with no command in flight");
	if (transport_flush(p->t, err) == -1)
		return -1;
	pd = p->q[p->qhead];
	p->qhead = (p->qhead + 1) % p->qsize;
	p->qlen--;

	memset(r, 0, sizeof *r);
	r->cmd = pd.cmd;
	r->tag = pd.tag;
	if (read_status(p, r, err) == -1)
		return -1;
	r->multiline = r->ok && is_multiline(pd.cmd);
	p->body_due = r->multiline;
	return 0;
}

int
pop3_read_body(struct pop3 *p, msg_out_fn out, void *arg, struct error *err)
{
	struct msg_stream	 ms;
	const char		*piece;
	size_t			 len;
	int			 rc;

	if (!p->body_due)
		fatalx("pop3_read_body without a multi-line reply");
	msg_init(&ms, out, arg);
	for (;;) {
		if (transport_getline(p->t, &piece, &len, err) == -1) {
			if (err->ex == EX_TEMPFAIL)
				error_prefix(err, "in the middle of a "
				    "multi-line reply");
			return -1;
		}
		if ((rc = msg_feed(&ms, piece, len, err)) == -1)
			return -1;
		if (rc == 1)
			break;
	}
	p->body_due = 0;
	if (log_debugging()) {
		char	note[64];

		snprintf(note, sizeof note, "(%llu bytes in %llu lines, then .)",
		    (unsigned long long)ms.bytes, (unsigned long long)ms.lines);
		log_trace(p->acct, "<-", note, strlen(note));
	}
	return 0;
}

static int
line_out(void *arg, const char *s, size_t n, struct error *err)
{
	struct line_reader	*lr = arg;
	size_t			 i;

	for (i = 0; i < n; i++) {
		if (s[i] == '\n') {
			lr->line[lr->len] = '\0';
			if (lr->len > 0 && lr->line[lr->len - 1] == '\r')
				lr->line[--lr->len] = '\0';
			log_trace(lr->p->acct, "<-", lr->line, lr->len);
			if (++lr->count > POP3_MAX_MESSAGES + 1) {
				error_set(err, EX_PROTOCOL, "the reply to %s "
				    "has too many lines", cmd_names[lr->cmd]);
				return -1;
			}
			if (lr->cb(lr->arg, lr->line, err) == -1)
				return -1;
			lr->len = 0;
			continue;
		}
		if (lr->len == POP3_LINE_MAX) {
			error_set(err, EX_PROTOCOL, "the reply to %s has a "
			    "line longer than %d bytes", cmd_names[lr->cmd],
			    POP3_LINE_MAX);
			return -1;
		}
		lr->line[lr->len++] = s[i];
	}
	return 0;
}

/* Read a multi-line reply line by line (CAPA, LIST, UIDL). */
static int
read_lines(struct pop3 *p, enum pop3_cmd cmd,
    int (*cb)(void *, char *, struct error *), void *arg, struct error *err)
{
	struct line_reader	*lr;
	int			 rc;

	lr = xcalloc(1, sizeof *lr);
	lr->p = p;
	lr->cmd = cmd;
	lr->cb = cb;
	lr->arg = arg;
	rc = pop3_read_body(p, line_out, lr, err);
	if (rc == 0 && lr->len != 0) {
		error_set(err, EX_PROTOCOL, "the reply to %s ends without "
		    "a line end", cmd_names[cmd]);
		rc = -1;
	}
	free(lr);
	return rc;
}

/* Send one command and require +OK; a -ERR gets class ex unless coded. */
static int
expect_ok(struct pop3 *p, enum pop3_cmd cmd, int ex, struct error *err)
{
	struct pop3_reply	r;

	if (pop3_reply(p, &r, err) == -1)
		return -1;
	if (r.ok)
		return 0;
	error_set(err, r.ex != 0 ? r.ex : ex, "the server rejected %s: %s",
	    cmd_names[cmd], r.text[0] != '\0' ? r.text : "(no reason given)");
	return -1;
}


/* read_lines() callbacks: the parsers of pop3-parse.c. */
static int
capa_cb(void *arg, char *line, struct error *err)
{
	return pop3_capa_line(arg, line, err);
}

static int
list_cb(void *arg, char *line, struct error *err)
{
	return pop3_list_line(arg, line, err);
}

static int
uidl_cb(void *arg, char *line, struct error *err)
{
	return pop3_uidl_line(arg, line, err);
}

/*
 * Read the answer to the CAPA in flight into a fresh list that replaces
 * the old one; a -ERR clears the old one, or keeps it (keep: after login).
 */
static int
capa_read(struct pop3 *p, int keep, struct error *err)
{
	struct pop3_reply	r;
	struct pop3_caps	c;

	if (pop3_reply(p, &r, err) == -1)
		return -1;
	if (!r.ok) {
		if (!keep)
			pop3_caps_clear(&p->caps);
		return 0;
	}
	memset(&c, 0, sizeof c);
	pop3_caps_clear(&c);
	if (read_lines(p, P3_CAPA, capa_cb, &c, err) == -1) {
		pop3_caps_clear(&c);
		return -1;
	}
	c.known = 1;
	if (p->lockstep)
		c.pipelining = 0;
	pop3_caps_clear(&p->caps);
	p->caps = c;
	return 0;
}

int
pop3_capa(struct pop3 *p, struct error *err)
{
	pop3_caps_clear(&p->caps);
	if (pop3_send(p, P3_CAPA, NULL, 0, 0, err) == -1)
		return -1;
	return capa_read(p, 0, err);
}

int
pop3_recapa(struct pop3 *p, struct error *err)
{
	if (!p->caps.known)
		return 0;
	if (pop3_send(p, P3_CAPA, NULL, 0, 0, err) == -1)
		return -1;
	if (p->caps.pipelining) {
		p->capa_due = 1;
		return 0;
	}
	return capa_read(p, 1, err);
}

int
pop3_utf8(struct pop3 *p, struct error *err)
{
	struct pop3_reply	r;

	if (!p->caps.utf8)
		return 0;
	if (pop3_send(p, P3_UTF8, NULL, 0, 0, err) == -1)
		return -1;
	if (pop3_reply(p, &r, err) == -1) {
		pop3_lost_at(p, "after UTF8", err);
		return -1;
	}
	if (r.ok)
		p->utf8_on = 1;
	else
		log_verbose(p->acct, "the server lists UTF8 but refused it (%s); "
		    "messages with UTF-8 headers may not arrive as stored",
		    r.text);
	return 0;
}

int
pop3_utf8_on(const struct pop3 *p)
{
	return p->utf8_on;
}

void
pop3_lost_at(struct pop3 *p, const char *step, struct error *err)
{
	if (!transport_lost(p->t))
		return;
	if (strstr(err->msg, "closed") != NULL) {
		int	ex = err->ex;

		error_clear(err);
		error_set(err, ex, "the server closed the connection %s",
		    step);
	} else
		error_prefix(err, "at login, %s", step);
}

int
pop3_stls(struct pop3 *p, const struct tls_params *tp, struct error *err)
{
	struct pop3_reply	r;

	if (pop3_send(p, P3_STLS, NULL, 0, 0, err) == -1)
		return -1;
	if (pop3_reply(p, &r, err) == -1) {
		pop3_lost_at(p, "after STLS", err);
		return -1;
	}
	if (!r.ok) {
		error_set(err, EX_PROTOCOL, "the server refused STLS (%s); "
		    "not continuing without TLS", r.text);
		return -1;
	}
	if (transport_starttls(p->t, tp, err) == -1) {
		pop3_lost_at(p, "in the TLS handshake after STLS", err);
		return -1;
	}
	/* RFC 2595: what was learnt before TLS may have been forged. */
	pop3_caps_clear(&p->caps);
	return 0;
}

#define AFTER_PASS	"after the password (a proxy that drops pipelined " \
	"commands, or an account the provider has locked)"

static int
login_user(struct pop3 *p, const char *user, const char *pass,
    struct error *err)
{
	if (pop3_send(p, P3_USER, user, 0, 0, err) == -1)
		return -1;
	/* Without PIPELINING the password waits for USER's answer. */
	if (!p->caps.pipelining && expect_ok(p, P3_USER, EX_NOPERM, err) == -1) {
		pop3_lost_at(p, "after the user name", err);
		return -1;
	}
	/*
	 * USER and PASS may travel together (RFC 2449), since the same
	 * login process reads both; nothing may follow PASS before its
	 * +OK (see pop3_scan).
	 */
	if (pop3_send(p, P3_PASS, pass, P3_SECRET, 0, err) == -1)
		return -1;
	if (p->caps.pipelining && expect_ok(p, P3_USER, EX_NOPERM, err) == -1) {
		/* Read PASS's answer too, so the session stays in step. */
		struct error	 ignored;

		pop3_lost_at(p, "after the user name", err);
		error_clear(&ignored);
		(void)expect_ok(p, P3_PASS, EX_NOPERM, &ignored);
		return -1;
	}
	if (expect_ok(p, P3_PASS, EX_NOPERM, err) == -1) {
		pop3_lost_at(p, AFTER_PASS, err);
		return -1;
	}
	return 0;
}

static int
login_apop(struct pop3 *p, const char *user, const char *pass,
    struct error *err)
{
	gnutls_hash_hd_t	 h;
	unsigned char		 md[16];
	char			 arg[POP3_CMD_MAX + 1];
	size_t			 i, o;
	int			 n;

	if (p->timestamp == NULL) {
		error_set(err, EX_NOPERM, "the server does not offer APOP "
		    "(no timestamp in its greeting); use 'auth user'");
		return -1;
	}
	if (gnutls_hash_init(&h, GNUTLS_DIG_MD5) < 0) {
		error_set(err, EX_SOFTWARE, "MD5 is not available for APOP");
		return -1;
	}
	gnutls_hash(h, p->timestamp, strlen(p->timestamp));
	gnutls_hash(h, pass, strlen(pass));
	gnutls_hash_deinit(h, md);
	n = snprintf(arg, sizeof arg, "%s ", user);
	if (n < 0 || (size_t)n + 33 > sizeof arg) {
		error_set(err, EX_CONFIG, "the user name is too long");
		return -1;
	}
	o = (size_t)n;
	for (i = 0; i < sizeof md; i++, o += 2)
		snprintf(arg + o, 3, "%02x", md[i]);
	explicit_bzero(md, sizeof md);
	n = pop3_send(p, P3_APOP, arg, P3_SECRET, 0, err);
	explicit_bzero(arg, sizeof arg);
	if (n == -1)
		return -1;
	if (expect_ok(p, P3_APOP, EX_NOPERM, err) == -1) {
		pop3_lost_at(p, "after APOP (an account the provider has "
		    "locked?)", err);
		return -1;
	}
	return 0;
}

int
pop3_apop_offered(const struct pop3 *p)
{
	return p->timestamp != NULL;
}

int
pop3_login(struct pop3 *p, int apop, const char *user, const char *pass,
    struct error *err)
{
	if (apop)
		return login_apop(p, user, pass, err);
	return login_user(p, user, pass, err);
}







/*
 * LIST, then UIDL: together with PIPELINING, behind a post-login CAPA
 * when one is in flight (its list, read first, may add UIDL).
 */
int
pop3_scan(struct pop3 *p, int want_uids, struct pop3_scan *sc,
    struct error *err)
{
	struct pop3_reply	r;
	int			send_uidl, uidl_sent;

	memset(sc, 0, sizeof *sc);
	send_uidl = want_uids && (p->caps.uidl || !p->caps.known);
	uidl_sent = send_uidl && p->caps.pipelining;
	if (pop3_send(p, P3_LIST, NULL, 0, 0, err) == -1)
		return -1;
	if (uidl_sent && pop3_send(p, P3_UIDL, NULL, 0, 0, err) == -1)
		return -1;
	if (p->capa_due) {
		p->capa_due = 0;
		if (capa_read(p, 1, err) == -1)
			return -1;
		send_uidl = send_uidl || (want_uids && p->caps.uidl);
	}
	if (pop3_reply(p, &r, err) == -1)
		return -1;
	if (!r.ok) {
		error_set(err, r.ex != 0 ? r.ex : EX_PROTOCOL, "the server "
		    "rejected LIST: %s", r.text);
		return -1;
	}
	if (read_lines(p, P3_LIST, list_cb, sc, err) == -1)
		return -1;
	/* The doubling's slack would stay for the whole session. */
	if (sc->count > 0)
		sc->msgs = xreallocarray(sc->msgs, sc->count, sizeof *sc->msgs);
	if (!send_uidl)
		return 0;
	if (!uidl_sent && pop3_send(p, P3_UIDL, NULL, 0, 0, err) == -1)
		return -1;
	if (pop3_reply(p, &r, err) == -1)
		return -1;
	if (!r.ok)
		return 0;	/* no UIDL: the caller decides what that means */
	if (read_lines(p, P3_UIDL, uidl_cb, sc, err) == -1)
		return -1;
	if (pop3_check_unique_uids(sc, err) == -1)
		return -1;
	sc->have_uids = 1;
	return 0;
}

void
pop3_scan_free(struct pop3_scan *sc)
{
	arena_free(&sc->uids);
	free(sc->msgs);
	memset(sc, 0, sizeof *sc);
}

int
pop3_quit_nowait(struct pop3 *p, struct error *err)
{
	if (pop3_send(p, P3_QUIT, NULL, 0, 0, err) == -1)
		return -1;
	return transport_flush(p->t, err);
}

int
pop3_quit(struct pop3 *p, struct error *err)
{
	if (pop3_send(p, P3_QUIT, NULL, 0, 0, err) == -1)
		return -1;
	if (expect_ok(p, P3_QUIT, EX_PROTOCOL, err) == -1) {
		error_prefix(err, "deletions may not have been carried out");
		return -1;
	}
	return 0;
}

int
pop3_auth_reply(struct pop3 *p, struct pop3_reply *r, char **chal,
    struct error *err)
{
	char	 first[TRANSPORT_CHUNK_MAX + 1], note[64];
	size_t	 flen, skipped;
	int	 rc = -1;

	*chal = NULL;
	if (p->qlen == 0 || p->q[p->qhead].cmd != P3_AUTH)
		fatalx("pop3_auth_reply without AUTH in flight");
	if (transport_flush(p->t, err) == -1)
		goto out;
	if (read_line(p, first, &flen, &skipped, err) == -1)
		goto out;
	/* "+ " and a bare "+" are challenges; "+OK" is not. */
	if (flen >= 1 && first[0] == '+' && (flen == 1 || first[1] == ' ' ||
	    first[1] == '\r' || first[1] == '\n')) {
		if (skipped > 0) {
			error_set(err, EX_PROTOCOL, "the server sent an AUTH "
			    "challenge longer than %d bytes",
			    TRANSPORT_CHUNK_MAX);
			goto out;
		}
		while (flen > 0 && (first[flen - 1] == '\n' ||
		    first[flen - 1] == '\r'))
			first[--flen] = '\0';
		/* SASL payloads stay out of the trace: SCRAM's are guessable. */
		snprintf(note, sizeof note, "+ (challenge, %zu bytes)", flen);
		log_trace(p->acct, "<-", note, strlen(note));
		*chal = xstrdup(flen > 2 ? first + 2 : "");
		rc = 1;
		goto out;
	}
	log_trace(p->acct, "<-", first, flen);
	p->qhead = (p->qhead + 1) % p->qsize;
	p->qlen--;
	memset(r, 0, sizeof *r);
	r->cmd = P3_AUTH;
	rc = pop3_parse_status(first, flen, r, err) == -1 ? -1 : 0;
out:
	explicit_bzero(first, sizeof first);
	return rc;
}

int
pop3_auth_answer(struct pop3 *p, const char *line, struct error *err)
{
	char	note[64];
	size_t	len = strlen(line);

	if (strpbrk(line, "\r\n") != NULL || len > POP3_AUTH_LINE_MAX) {
		error_set(err, EX_SOFTWARE, "an AUTH response is malformed or "
		    "longer than %d bytes", POP3_AUTH_LINE_MAX);
		return -1;
	}
	if (strcmp(line, "*") == 0)
		snprintf(note, sizeof note, "* (cancel)");
	else
		snprintf(note, sizeof note, "*** (response, %zu bytes)", len);
	log_trace(p->acct, "->", note, strlen(note));
	if (transport_write(p->t, line, len, err) == -1 ||
	    transport_write(p->t, "\r\n", 2, err) == -1)
		return -1;
	return 0;
}
