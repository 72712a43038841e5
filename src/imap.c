/* imap.c -- the IMAP APPEND client; see imap.h. */
#include "config.h"

#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gnutls/crypto.h>

#include "buf.h"
#include "dial.h"
#include "imap.h"
#include "log.h"
#include "termsafe.h"
#include "transport.h"
#include "xmalloc.h"

#define IMAP_TEXT_KEEP	300
#define IMAP_DATA_CHUNK	65536

enum imap_status { ST_OK, ST_NO, ST_BAD, ST_CONT };

struct imap {
	struct imap_params	 p;
	struct transport	*t;
	char			*name;
	unsigned		 tagn;
	int			 broken;
	int			 data_started;
	int			 starttls, literalplus, logindisabled;
	int			 binary;	/* BINARY (RFC 3516): literal8 */
	int			 sasl_ir;	/* RFC 4959 */
	char			 mechs[256];	/* " PLAIN XOAUTH2 ": AUTH=... */
	char			 auth_tag[16];	/* of the AUTHENTICATE */
	int			 in_auth;	/* its exchange is going on */
	uint64_t		 appendlimit;	/* RFC 7889; 0: none said */
	uint32_t		 au_validity;	/* the last APPENDUID, */
	uint32_t		 au_uid;	/* or 0 */
	char			*examined;	/* the folder EXAMINEd, or NULL */
	uint32_t		 uidvalidity;	/* its UIDVALIDITY, or 0 */
	struct buf		 line;		/* the line being read */
	struct buf		*collect;	/* untagged lines, when set */
};

#define IMAP_COLLECT_MAX	(1024 * 1024)

struct resp {
	enum imap_status	 st;
	char			 code[32];	/* "TRYCREATE", or "" */
	char			 text[IMAP_TEXT_KEEP];
};

static int	command(struct imap *, char *, const char *, const char *,
		    struct error *);
static int	read_line(struct imap *, struct error *);
static int	wait_tagged(struct imap *, const char *, struct resp *,
		    struct error *);
static void	capabilities(struct imap *, const char *);
static void	quote(struct buf *, const char *);
static int	login(struct imap *, struct error *);
static int	authenticate(struct imap *, struct error *);
static void	auth_mechs(struct imap *, const char *);
static int	starttls(struct imap *, struct error *);
static int	refused(struct imap *, const char *, const struct resp *,
		    struct error *);
static int	lost(struct imap *, struct error *);
static int	collect(struct imap *, const char *, struct buf *,
		    struct resp *, struct error *);
static void	search_uids(const char *, struct buf *);
static void	keep_newest(unsigned long *, size_t *, size_t, unsigned long);
static size_t	search_newest(const char *, unsigned long *, size_t);
static int	compare_bodies(struct imap *, const unsigned long *, size_t,
		    const struct imap_lookup *, struct error *);
static int	item_num(const char *, const char *, uint64_t *);
static int	examine(struct imap *, const char *, struct error *);
static int	find_by_uid(struct imap *, const struct imap_lookup *,
		    struct error *);
static int	find_by_msgid(struct imap *, const struct imap_lookup *,
		    struct error *);
static int	find_by_digest(struct imap *, const struct imap_lookup *,
		    struct error *);
static int	fetch_digest(struct imap *, unsigned long,
		    const struct imap_lookup *, struct error *);
static int	literal_len(const struct buf *, uint64_t *);
static int	read_literal(struct imap *, uint64_t, unsigned char *,
		    struct error *);
static void	appenduid(struct imap *, const struct resp *);
static int	send_literal(struct imap *, smtp_reader, void *,
		    struct error *);
static int	append_start(struct imap *, const char *, const char *,
		    const struct imap_msg *, char *, struct resp *,
		    struct error *);
static int	append_end(struct imap *, const char *, struct resp *,
		    struct error *);
static int	too_big(struct imap *, uint64_t, struct error *);
static int	listed(const char *, const char *);
static int	append_once(struct imap *, const char *, const char *,
		    const struct imap_msg *, struct resp *, struct error *);
static int	append_dated(struct imap *, const char *, const char *,
		    const struct imap_msg *, struct resp *, struct error *);

struct imap *
imap_open(const struct imap_params *p, struct error *err)
{
	struct dial_params	 dp = { 0 };
	struct imap	*im;
	struct resp	 r;
	char		 tag[16];
	int		 tls_failed;

	im = xcalloc(1, sizeof *im);
	im->p = *p;
	buf_init(&im->line);
	xasprintf(&im->name, "IMAP server %s%s%s:%d",
	    strchr(p->host, ':') != NULL ? "[" : "", p->host,
	    strchr(p->host, ':') != NULL ? "]" : "", p->port);
	dp.host = p->host;
	dp.port = p->port;
	dp.tls = p->implicit_tls ? p->tp : NULL;
	dp.timeout = p->timeout;
	dp.acct = p->acct;
	if ((im->t = dial(&dp, &tls_failed, err)) == NULL) {
		if (tls_failed)
			error_prefix(err, "the %s (set delivery_tls_trust_file "
			    "to the CA that signed its certificate)", im->name);
		else
			error_prefix(err, "the %s", im->name);
		goto fail;
	}
	/* The greeting is untagged: wait for a tag that never comes... */
	if (read_line(im, err) == -1)
		goto fail;
	if (strncasecmp(im->line.data, "* OK", 4) != 0) {
		char shown[TERMSAFE_SIZE(80)];

		termsafe(im->line.data, im->line.len > 80 ? 80 : im->line.len,
		    shown, sizeof shown);
		error_set(err, EX_UNAVAILABLE, "the %s does not take us: "
		    "\"%s\"", im->name, shown);
		goto fail;
	}
	capabilities(im, im->line.data);
	/* ...so ask for CAPABILITY in any case: greetings need not say. */
	if (command(im, tag, "CAPABILITY", NULL, err) == -1 ||
	    wait_tagged(im, tag, &r, err) == -1 || starttls(im, err) == -1 ||
	    login(im, err) == -1)
		goto fail;
	return im;

fail:
	im->broken = 1;
	imap_free(im);
	return NULL;
}

void
imap_free(struct imap *im)
{
	struct error	ignored;
	struct resp	r;
	char		tag[16];

	if (im == NULL)
		return;
	error_clear(&ignored);
	if (im->t != NULL && !im->broken &&
	    command(im, tag, "LOGOUT", NULL, &ignored) == 0)
		(void)wait_tagged(im, tag, &r, &ignored);
	transport_free(im->t);
	buf_free(&im->line);
	free(im->examined);
	free(im->name);
	free(im);
}

int
imap_data_started(const struct imap *im)
{
	return im->data_started;
}

int
imap_hung_up(const struct imap *im)
{
	return transport_lost(im->t);
}

/*
 * Send "TAG cmd": the tag goes into tag (16 bytes).  shown, when not
 * NULL, is what the trace shows instead (a LOGIN's password).
 */
static int
command(struct imap *im, char *tag, const char *cmd, const char *shown,
    struct error *err)
{
	struct buf	b;
	int		rc = 0;

	snprintf(tag, 16, "p%u", ++im->tagn);
	buf_init(&b);
	buf_printf(&b, "%s %s", tag, shown != NULL ? shown : cmd);
	log_trace(im->p.acct, "->", b.data, b.len);
	buf_reset(&b);
	buf_printf(&b, "%s %s\r\n", tag, cmd);
	if (transport_write(im->t, b.data, b.len, err) == -1 ||
	    transport_flush(im->t, err) == -1)
		rc = lost(im, err);
	explicit_bzero(b.data, b.len);
	buf_free(&b);
	return rc;
}

static int
lost(struct imap *im, struct error *err)
{
	error_prefix(err, "the %s", im->name);
	im->broken = 1;
	return -1;
}

/* One line into im->line, NUL-terminated, without its CRLF. */
static int
read_line(struct imap *im, struct error *err)
{
	const char	*piece;
	size_t		 len;

	buf_reset(&im->line);
	for (;;) {
		if (transport_getline(im->t, &piece, &len, err) == -1)
			return lost(im, err);
		if (im->line.len + len > IMAP_LINE_MAX) {
			error_set(err, EX_PROTOCOL, "the %s sent a line "
			    "longer than %d bytes", im->name, IMAP_LINE_MAX);
			im->broken = 1;
			return -1;
		}
		buf_add(&im->line, piece, len);
		if (len > 0 && piece[len - 1] == '\n')
			break;
	}
	while (im->line.len > 0 && (im->line.data[im->line.len - 1] == '\n' ||
	    im->line.data[im->line.len - 1] == '\r'))
		im->line.len--;
	buf_add(&im->line, "", 1);
	im->line.len--;
	/* As POP3's: SASL challenges stay out of the trace. */
	if (im->in_auth && im->line.data[0] == '+')
		log_trace(im->p.acct, "<-", "+ (challenge not shown)", 23);
	else
		log_trace(im->p.acct, "<-", im->line.data, im->line.len);
	return 0;
}

/* Whether the capability list p (" A B=C ...") has the word w itself:
   not URLAUTH=BINARY for BINARY. */
static int
listed(const char *p, const char *w)
{
	const char	*q = p;
	size_t		 n = strlen(w);

	for (; (q = strcasestr(q, w)) != NULL; q += n)
		if (q > p && q[-1] == ' ' && (q[n] == ' ' || q[n] == ']' ||
		    q[n] == '\0' || q[n] == '\r'))
			return 1;
	return 0;
}

/* The capabilities in a CAPABILITY response or an OK [CAPABILITY ...]. */
static void
capabilities(struct imap *im, const char *line)
{
	const char	*p, *q;

	/* Not "OK Capability completed": the response or the code only. */
	if (strncasecmp(line, "* CAPABILITY ", 13) == 0)
		p = line + 12;
	else if ((p = strcasestr(line, "[CAPABILITY ")) != NULL)
		p += 11;
	else
		return;
	im->starttls = strcasestr(p, " STARTTLS") != NULL;
	im->literalplus = strcasestr(p, " LITERAL+") != NULL;
	im->logindisabled = strcasestr(p, " LOGINDISABLED") != NULL;
	im->sasl_ir = strcasestr(p, " SASL-IR") != NULL;
	im->binary = listed(p, "BINARY");
	auth_mechs(im, p);
	im->appendlimit = (q = strcasestr(p, " APPENDLIMIT=")) != NULL ?
	    strtoull(q + 13, NULL, 10) : 0;
}

/*
 * Read until the tagged reply to tag, or a continuation ("+ ..."), which
 * is ST_CONT.  Untagged lines only update the capabilities.
 */
static int
wait_tagged(struct imap *im, const char *tag, struct resp *r,
    struct error *err)
{
	const char	*s, *e;
	size_t		 tl = strlen(tag), n;
	int		 untagged = 0;

	memset(r, 0, sizeof *r);
	for (;;) {
		if (read_line(im, err) == -1)
			return -1;
		s = im->line.data;
		if (s[0] == '+') {
			r->st = ST_CONT;
			return 0;
		}
		if (s[0] == '*' && s[1] == ' ') {
			capabilities(im, s);
			if (im->collect != NULL && im->collect->len +
			    im->line.len < IMAP_COLLECT_MAX) {
				buf_add(im->collect, s, im->line.len);
				buf_add(im->collect, "\n", 1);
			}
			if (++untagged > IMAP_UNTAGGED_MAX) {
				error_set(err, EX_PROTOCOL, "the %s sent more "
				    "than %d untagged lines", im->name,
				    IMAP_UNTAGGED_MAX);
				im->broken = 1;
				return -1;
			}
			continue;
		}
		if (strncmp(s, tag, tl) == 0 && s[tl] == ' ')
			break;
		termsafe(s, im->line.len > 80 ? 80 : im->line.len, r->text,
		    sizeof r->text);
		error_set(err, EX_PROTOCOL, "the %s sent a line that is not "
		    "IMAP: \"%s\"", im->name, r->text);
		im->broken = 1;
		return -1;
	}
	s += tl + 1;
	if (strncasecmp(s, "OK", 2) == 0)
		r->st = ST_OK;
	else if (strncasecmp(s, "NO", 2) == 0)
		r->st = ST_NO;
	else
		r->st = ST_BAD;
	capabilities(im, s);
	s += strcspn(s, " ");
	s += strspn(s, " ");
	if (*s == '[' && (e = strchr(s, ']')) != NULL) {
		n = strcspn(s + 1, " ]");
		if (n < sizeof r->code) {
			memcpy(r->code, s + 1, n);
			r->code[n] = '\0';
		}
	}
	termsafe(s, strlen(s), r->text, sizeof r->text);
	return 0;
}

/* s as an IMAP quoted string. */
static void
quote(struct buf *b, const char *s)
{
	buf_add(b, "\"", 1);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			buf_add(b, "\\", 1);
		buf_add(b, s, 1);
	}
	buf_add(b, "\"", 1);
}

static int
starttls(struct imap *im, struct error *err)
{
	struct resp	r;
	char		tag[16];

	if (im->p.implicit_tls || im->p.tls == SMTP_TLS_OFF)
		return 0;
	if (!im->starttls) {
		error_set(err, EX_UNAVAILABLE, "the %s does not offer "
		    "STARTTLS (use imaps://, or delivery_tls off to send the "
		    "password in clear)", im->name);
		return -1;
	}
	if (command(im, tag, "STARTTLS", NULL, err) == -1 ||
	    wait_tagged(im, tag, &r, err) == -1)
		return -1;
	if (r.st != ST_OK) {
		error_set(err, EX_UNAVAILABLE, "the %s refused STARTTLS: %s",
		    im->name, r.text);
		return -1;
	}
	if (transport_starttls(im->t, im->p.tp, err) == -1) {
		error_prefix(err, "the %s: STARTTLS (set "
		    "delivery_tls_trust_file to the CA that signed its "
		    "certificate)", im->name);
		im->broken = 1;
		return -1;
	}
	/* What was said in clear may have been a man in the middle's. */
	im->starttls = im->literalplus = im->logindisabled = 0;
	im->sasl_ir = im->binary = 0;
	im->mechs[0] = '\0';
	if (command(im, tag, "CAPABILITY", NULL, err) == -1 ||
	    wait_tagged(im, tag, &r, err) == -1)
		return -1;
	return 0;
}

static int
login(struct imap *im, struct error *err)
{
	struct buf	cmd, shown;
	struct resp	r;
	char		tag[16];
	int		rc = -1;

	if (im->p.auth != AUTH_AUTO || im->p.oauth_store != NULL)
		return authenticate(im, err);
	if (im->logindisabled) {
		error_set(err, EX_UNAVAILABLE, "the %s does not take a "
		    "password now (LOGINDISABLED)", im->name);
		return -1;
	}
	buf_init(&cmd);
	buf_init(&shown);
	buf_addstr(&cmd, "LOGIN ");
	quote(&cmd, im->p.user);
	buf_add(&cmd, " ", 1);
	buf_add(&shown, cmd.data, cmd.len);
	buf_addstr(&shown, "(password)");
	quote(&cmd, im->p.pass);
	if (command(im, tag, cmd.data, shown.data, err) == -1 ||
	    wait_tagged(im, tag, &r, err) == -1)
		goto out;
	if (r.st != ST_OK) {
		error_set(err, EX_NOPERM, "the %s refused the login of %s: %s",
		    im->name, im->p.user, r.text);
		goto out;
	}
	/* Servers often list more after the login, LITERAL+ among them. */
	if (strcasestr(r.text, "[CAPABILITY ") == NULL &&
	    (command(im, tag, "CAPABILITY", NULL, err) == -1 ||
	    wait_tagged(im, tag, &r, err) == -1))
		goto out;
	rc = 0;
out:
	explicit_bzero(cmd.data, cmd.len);
	buf_free(&cmd);
	buf_free(&shown);
	return rc;
}

static int
refused(struct imap *im, const char *what, const struct resp *r,
    struct error *err)
{
	static const char *const later[] = { "INUSE", "UNAVAILABLE",
	    "OVERQUOTA", "LIMIT", NULL };
	size_t	i;
	int	ex = r->st == ST_BAD ? EX_PROTOCOL : EX_UNAVAILABLE;

	for (i = 0; r->st == ST_NO && later[i] != NULL; i++)
		if (strcasecmp(r->code, later[i]) == 0)
			ex = EX_TEMPFAIL;
	error_set(err, ex, "the %s refused %s: %s", im->name, what, r->text);
	return IMAP_REFUSED;
}

/* Over the APPENDLIMIT (RFC 7889) the server listed: refused unsent. */
static int
too_big(struct imap *im, uint64_t size, struct error *err)
{
	if (im->appendlimit == 0 || size <= im->appendlimit)
		return 0;
	error_set(err, EX_UNAVAILABLE, "the message (%llu bytes) is larger "
	    "than the %s takes (APPENDLIMIT=%llu)", (unsigned long long)size,
	    im->name, (unsigned long long)im->appendlimit);
	return 1;
}

int
imap_append(struct imap *im, const char *folder, const char *flags,
    const struct imap_msg *m, struct error *err)
{
	struct resp	 r;
	struct buf	 cmd;
	char		 tag[16];
	int		 rc;

	im->data_started = 0;
	im->au_validity = im->au_uid = 0;
	if (too_big(im, m->size, err))
		return IMAP_REFUSED;
	rc = append_dated(im, folder, flags, m, &r, err);
	if (rc != 0 || r.st == ST_OK)
		return rc;
	if (r.st == ST_NO && strcasecmp(r.code, "TRYCREATE") == 0) {
		buf_init(&cmd);
		buf_addstr(&cmd, "CREATE ");
		quote(&cmd, folder);
		rc = command(im, tag, cmd.data, NULL, err);
		buf_free(&cmd);
		if (rc == -1 || wait_tagged(im, tag, &r, err) == -1)
			return -1;
		if (r.st != ST_OK)
			return refused(im, "to create the folder", &r, err);
		log_info(im->p.acct, "created folder %s on the %s", folder,
		    im->name);
		rc = append_dated(im, folder, flags, m, &r, err);
		if (rc != 0 || r.st == ST_OK)
			return rc;
	}
	return refused(im, "the message", &r, err);
}

/*
 * Send one APPEND and its literal, the tag into tag (16 bytes): 0 once
 * the message went out (its reply still to come), 1 with r the refusal
 * the server sent instead of the continuation (no LITERAL+), or -1.
 */
static int
append_start(struct imap *im, const char *folder, const char *flags,
    const struct imap_msg *m, char *tag, struct resp *r, struct error *err)
{
	struct buf	cmd;
	int		rc;

	buf_init(&cmd);
	buf_addstr(&cmd, "APPEND ");
	quote(&cmd, folder);
	if (flags != NULL)
		buf_printf(&cmd, " (%s)", flags);
	if (m->date != NULL)
		buf_printf(&cmd, " \"%s\"", m->date);
	buf_printf(&cmd, " %s{%llu%s}", m->nul && im->binary ? "~" : "",
	    (unsigned long long)m->size, im->literalplus ? "+" : "");
	rc = command(im, tag, cmd.data, NULL, err);
	buf_free(&cmd);
	if (rc == -1)
		return -1;
	if (!im->literalplus) {
		if (wait_tagged(im, tag, r, err) == -1)
			return -1;
		if (r->st != ST_CONT)
			return 1;	/* refused before the message */
	}
	im->data_started = 1;
	return send_literal(im, m->rd, m->arg, err);
}

/* The tagged reply to an APPEND whose message went out, into r. */
static int
append_end(struct imap *im, const char *tag, struct resp *r,
    struct error *err)
{
	im->au_validity = im->au_uid = 0;
	if (wait_tagged(im, tag, r, err) == -1)
		return -1;
	if (r->st == ST_CONT) {
		error_set(err, EX_PROTOCOL, "the %s asked for more after the "
		    "message", im->name);
		im->broken = 1;
		return -1;
	}
	if (r->st == ST_OK)
		appenduid(im, r);
	return 0;
}

/*
 * append_once(), and once more without the internal date when the server
 * answered BAD to it: a date popfetch read from the message and the
 * server cannot take (date_usable() keeps out those known to fail) must
 * not refuse the message.  BAD says the command was not carried out.
 */
static int
append_dated(struct imap *im, const char *folder, const char *flags,
    const struct imap_msg *m, struct resp *r, struct error *err)
{
	struct imap_msg	undated = *m;
	int		rc;

	rc = append_once(im, folder, flags, m, r, err);
	if (rc != 0 || r->st != ST_BAD || m->date == NULL)
		return rc;
	log_info(im->p.acct, "the internal date %s was refused (the %s: "
	    "BAD %s); appending the message without it", m->date, im->name,
	    r->text);
	undated.date = NULL;
	return append_once(im, folder, flags, &undated, r, err);
}

/* One APPEND; 0 with the tagged reply in r, or -1. */
static int
append_once(struct imap *im, const char *folder, const char *flags,
    const struct imap_msg *m, struct resp *r, struct error *err)
{
	char	tag[16];
	int	rc;

	rc = append_start(im, folder, flags, m, tag, r, err);
	if (rc != 0)
		return rc == 1 ? 0 : -1;
	return append_end(im, tag, r, err);
}

int
imap_literal_plus(const struct imap *im)
{
	return im->literalplus;
}

int
imap_append_send(struct imap *im, const char *folder, const char *flags,
    const struct imap_msg *m, char *tag, struct error *err)
{
	struct resp	r;

	im->data_started = 0;
	if (!im->literalplus) {
		error_set(err, EX_SOFTWARE, "imap_append_send without "
		    "LITERAL+");
		return -1;
	}
	if (too_big(im, m->size, err))
		return IMAP_REFUSED;
	return append_start(im, folder, flags, m, tag, &r, err) == 0 ? 0 : -1;
}

int
imap_append_wait(struct imap *im, const char *tag, int *trycreate,
    struct error *err)
{
	struct resp	r;

	*trycreate = 0;
	if (append_end(im, tag, &r, err) == -1)
		return -1;
	if (r.st == ST_OK)
		return 0;
	*trycreate = r.st == ST_NO && strcasecmp(r.code, "TRYCREATE") == 0;
	return refused(im, "the message", &r, err);
}

/* "[APPENDUID uidvalidity uid]" (RFC 4315) in an APPEND's tagged OK. */
static void
appenduid(struct imap *im, const struct resp *r)
{
	unsigned long long	v, u;
	const char		*p;
	char			*end;

	if (strcasecmp(r->code, "APPENDUID") != 0 ||
	    (p = strchr(r->text, ' ')) == NULL)
		return;
	v = strtoull(p + 1, &end, 10);
	if (end == p + 1 || *end != ' ' || v == 0 || v > UINT32_MAX)
		return;
	p = end;
	u = strtoull(p + 1, &end, 10);
	if (end == p + 1 || *end != ']' || u == 0 || u > UINT32_MAX)
		return;
	im->au_validity = (uint32_t)v;
	im->au_uid = (uint32_t)u;
}

int
imap_appended_uid(const struct imap *im, uint32_t *uidvalidity,
    uint32_t *uid)
{
	if (im->au_uid == 0)
		return -1;
	*uidvalidity = im->au_validity;
	*uid = im->au_uid;
	return 0;
}

/* The message with CRLF line ends, then the CRLF that ends APPEND. */
static int
send_literal(struct imap *im, smtp_reader rd, void *arg, struct error *err)
{
	char		*in, *out;
	ssize_t		 n, i;
	size_t		 o;
	uint64_t	 off = 0;
	int		 rc = -1;

	in = xmalloc(IMAP_DATA_CHUNK);
	out = xmalloc(IMAP_DATA_CHUNK * 2);
	for (;;) {
		if ((n = rd(arg, in, IMAP_DATA_CHUNK, off, err)) == -1) {
			im->broken = 1;
			goto out;
		}
		if (n == 0)
			break;
		off += (uint64_t)n;
		for (i = 0, o = 0; i < n; i++) {
			if (in[i] == '\n')
				out[o++] = '\r';
			out[o++] = in[i];
		}
		if (transport_write(im->t, out, o, err) == -1) {
			lost(im, err);
			goto out;
		}
	}
	if (transport_write(im->t, "\r\n", 2, err) == -1) {
		lost(im, err);
		goto out;
	}
	log_trace(im->p.acct, "->", "(the message)", 13);
	rc = 0;
out:
	free(in);
	free(out);
	return rc;
}

/* The zone of an RFC 5322 date: +hhmm, -hhmm, or an obsolete name. */
static int
zone_of(const char *z, int *off)
{
	static const struct { const char *name; int off; } names[] = {
		{ "UT", 0 }, { "GMT", 0 }, { "Z", 0 }, { "EST", -500 },
		{ "EDT", -400 }, { "CST", -600 }, { "CDT", -500 },
		{ "MST", -700 }, { "MDT", -600 }, { "PST", -800 },
		{ "PDT", -700 },
	};
	size_t	i;

	if ((z[0] == '+' || z[0] == '-') && isdigit((unsigned char)z[1]) &&
	    isdigit((unsigned char)z[2]) && isdigit((unsigned char)z[3]) &&
	    isdigit((unsigned char)z[4])) {
		*off = atoi(z + 1) * (z[0] == '-' ? -1 : 1);
		return (*off % 100) < 60 && abs(*off) <= 1400 ? 0 : -1;
	}
	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strncasecmp(z, names[i].name, strlen(names[i].name)) == 0) {
			*off = names[i].off;
			return 0;
		}
	return -1;
}

/* Days from 1970-01-01 to y-m-d (m 1..12) in the proleptic Gregorian
   calendar: the civil-date arithmetic everyone uses, no time zone. */
static int64_t
epoch_days(int y, int m, int d)
{
	int64_t	era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/*
 * Whether a server can keep this date as an internal date.  Dovecot 2.3
 * takes 31-Feb and far-future dates (31-Dec-2037 already) as "now" and
 * stores a date whose local time is before 1970 as 13-Dec-1901
 * (docs/servers.md), and other
 * servers may answer BAD, which would refuse the message: a date that
 * does not exist, or whose local time or instant is outside what a
 * 32-bit time_t holds (1970 to January 2038), is not sent at all.
 */
static int
date_usable(int year, int mon, int day, int hh, int mm, int ss, int zone)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	int64_t		 local, utc;
	int		 leap;

	leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
	if (day > mdays[mon - 1] + (mon == 2 && leap))
		return 0;
	local = epoch_days(year, mon, day) * 86400 + hh * 3600 + mm * 60 +
	    (ss > 59 ? 59 : ss);
	utc = local - (zone < 0 ? -1 : 1) *
	    ((abs(zone) / 100) * 3600 + (abs(zone) % 100) * 60);
	return local >= 0 && utc >= 0 && local <= INT32_MAX &&
	    utc <= INT32_MAX;
}

/* "[Day, ] d Mon yyyy hh:mm[:ss] zone" into an IMAP date-time. */
static int
date_text(const char *s, char *out, size_t size)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	char		 mon[4];
	const char	*m;
	int		 day, year, hh, mm, ss = 0, zone, n = 0;

	if ((m = strchr(s, ',')) != NULL && m - s < 12)
		s = m + 1;
	if (sscanf(s, " %2d %3s %4d %2d:%2d%n", &day, mon, &year, &hh, &mm,
	    &n) != 5 || n == 0)
		return -1;
	s += n;
	if (*s == ':') {
		if (sscanf(s, ":%2d%n", &ss, &n) != 1)
			return -1;
		s += n;
	}
	s += strspn(s, " \t");
	if (zone_of(s, &zone) == -1)
		zone = 0;	/* -0000 or unknown: no zone said */
	mon[0] = (char)toupper((unsigned char)mon[0]);
	mon[1] = (char)tolower((unsigned char)mon[1]);
	mon[2] = (char)tolower((unsigned char)mon[2]);
	if ((m = strstr(months, mon)) == NULL || (m - months) % 3 != 0)
		return -1;
	if (year < 50)
		year += 2000;
	else if (year < 1000)
		year += 1900;
	if (day < 1 || day > 31 || year > 9999 || hh > 23 || mm > 59 ||
	    ss > 60 || hh < 0 || mm < 0 || ss < 0 ||
	    !date_usable(year, (int)(m - months) / 3 + 1, day, hh, mm, ss,
	    zone))
		return -1;
	snprintf(out, size, "%2d-%s-%04d %02d:%02d:%02d %c%04d", day, mon,
	    year, hh, mm, ss, zone < 0 ? '-' : '+', abs(zone));
	return 0;
}

int
imap_date_of(const char *hdr, size_t len, char *out, size_t size)
{
	char		 field[256];
	const char	*p = hdr, *end = hdr + len, *nl;
	size_t		 n = 0;

	while (p < end && *p != '\n') {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		if ((size_t)(nl - p) >= 5 && strncasecmp(p, "Date:", 5) == 0) {
			/* The field, unfolded, cut at a sane length. */
			for (p += 5; p < end && n < sizeof field - 1; p++) {
				if (*p == '\n' && (p + 1 >= end ||
				    (p[1] != ' ' && p[1] != '\t')))
					break;
				field[n++] = *p == '\n' || *p == '\r' ||
				    *p == '\t' ? ' ' : *p;
			}
			field[n] = '\0';
			return date_text(field, out, size);
		}
		p = nl + 1;
	}
	return -1;
}

/* A command whose untagged lines go into out; its tagged reply into r. */
static int
collect(struct imap *im, const char *cmd, struct buf *out, struct resp *r,
    struct error *err)
{
	char	tag[16];
	int	rc;

	buf_reset(out);
	im->collect = out;
	rc = command(im, tag, cmd, NULL, err) == -1 ? -1 :
	    wait_tagged(im, tag, r, err);
	im->collect = NULL;
	buf_add(out, "", 1);
	return rc;
}

/* The UIDs of a "* SEARCH ..." line in lines, as "1,5,7", or "" (max 100). */
static void
search_uids(const char *lines, struct buf *uids)
{
	const char	*p;
	char		*end;
	unsigned long	 u;
	int		 n = 0;

	buf_reset(uids);
	if ((p = strstr(lines, "* SEARCH")) == NULL)
		return;
	for (p += 8; *p == ' ' && n < 100; p = end) {
		u = strtoul(p + 1, &end, 10);
		if (end == p + 1)
			break;
		buf_printf(uids, "%s%lu", n++ > 0 ? "," : "", u);
	}
	buf_add(uids, "", 1);
}

/* u into uids (*n of max, largest first), when among the max largest. */
static void
keep_newest(unsigned long *uids, size_t *n, size_t max, unsigned long u)
{
	size_t	i;

	for (i = *n < max ? (*n)++ : max; i > 0 && uids[i - 1] < u; i--)
		if (i < max)
			uids[i] = uids[i - 1];
	if (i < max)
		uids[i] = u;
}

/*
 * The max largest UIDs of a "* SEARCH ..." line in lines into uids,
 * largest first: the messages appended last.  Their number.
 */
static size_t
search_newest(const char *lines, unsigned long *uids, size_t max)
{
	const char	*p;
	char		*end;
	unsigned long	 u;
	size_t		 n = 0;

	if ((p = strstr(lines, "* SEARCH")) == NULL)
		return 0;
	for (p += 8; *p == ' '; p = end) {
		u = strtoul(p + 1, &end, 10);
		if (end == p + 1 || u == 0)
			break;
		keep_newest(uids, &n, max, u);
	}
	return n;
}

/*
 * Whether one of the n candidates is lk's message by its digest (each
 * fetched in turn); without a digest, the first is taken.
 */
static int
compare_bodies(struct imap *im, const unsigned long *uids, size_t n,
    const struct imap_lookup *lk, struct error *err)
{
	size_t	i;
	int	found = 0;

	if (lk->digest == NULL)
		return n > 0;
	for (i = 0; i < n && found == 0; i++)
		found = fetch_digest(im, uids[i], lk, err);
	return found;
}

/* The number after "name " in a FETCH response line: 0, or -1. */
static int
item_num(const char *line, const char *name, uint64_t *v)
{
	const char	*p = line;
	size_t		 len = strlen(name);
	char		*end;

	while ((p = strcasestr(p, name)) != NULL) {
		if ((p[-1] == ' ' || p[-1] == '(') && p[len] == ' ' &&
		    isdigit((unsigned char)p[len + 1])) {
			*v = strtoull(p + len + 1, &end, 10);
			return 0;
		}
		p += len;
	}
	return -1;
}

/* Select folder read-only (once per connection): 1, 0 none such, -1. */
static int
examine(struct imap *im, const char *folder, struct error *err)
{
	struct buf	 cmd, out;
	struct resp	 r;
	const char	*p;
	int		 rc = -1;

	if (im->examined != NULL && strcmp(im->examined, folder) == 0)
		return 1;
	buf_init(&cmd);
	buf_init(&out);
	buf_addstr(&cmd, "EXAMINE ");
	quote(&cmd, folder);
	if (collect(im, cmd.data, &out, &r, err) == -1)
		goto done;
	rc = r.st == ST_OK;
	im->uidvalidity = 0;
	if ((p = strcasestr(out.data, "[UIDVALIDITY ")) != NULL)
		im->uidvalidity = (uint32_t)strtoul(p + 13, NULL, 10);
	free(im->examined);
	im->examined = rc == 1 ? xstrdup(folder) : NULL;
done:
	buf_free(&cmd);
	buf_free(&out);
	return rc;
}

/* The UID APPENDUID named, same size: 1, 0, -1. */
static int
find_by_uid(struct imap *im, const struct imap_lookup *lk,
    struct error *err)
{
	struct buf	 out;
	struct resp	 r;
	char		 cmd[64];
	const char	*p;
	uint64_t	 uid, size;
	int		 found = 0;

	buf_init(&out);
	snprintf(cmd, sizeof cmd, "UID FETCH %lu (UID RFC822.SIZE)",
	    (unsigned long)lk->uid);
	if (collect(im, cmd, &out, &r, err) == -1)
		found = -1;
	for (p = out.data; found == 0 && p != NULL && *p != '\0';
	    p = strchr(p, '\n') != NULL ? strchr(p, '\n') + 1 : NULL)
		if (item_num(p, "UID", &uid) == 0 && uid == lk->uid &&
		    item_num(p, "RFC822.SIZE", &size) == 0 && size == lk->size)
			found = 1;
	buf_free(&out);
	return found;
}

/*
 * By Message-ID and size, then by digest: a message of the same
 * Message-ID and size may still be another (a list's copy): 1, 0, -1.
 */
static int
find_by_msgid(struct imap *im, const struct imap_lookup *lk,
    struct error *err)
{
	struct buf	 cmd, out, uids;
	struct resp	 r;
	unsigned long	 cand[IMAP_FIND_CANDIDATES];
	const char	*p;
	uint64_t	 uid, size;
	size_t		 n = 0;
	int		 found = -1;

	buf_init(&cmd);
	buf_init(&out);
	buf_init(&uids);
	buf_printf(&cmd, "UID SEARCH HEADER Message-ID \"<%s>\"", lk->msgid);
	if (collect(im, cmd.data, &out, &r, err) == -1)
		goto done;
	found = 0;
	if ((search_uids(out.data, &uids), uids.len <= 1))
		goto done;
	buf_reset(&cmd);
	/* A UID FETCH's responses carry the UID (RFC 3501 6.4.8). */
	buf_printf(&cmd, "UID FETCH %s (RFC822.SIZE)", uids.data);
	if (collect(im, cmd.data, &out, &r, err) == -1) {
		found = -1;
		goto done;
	}
	for (p = out.data; p != NULL && *p != '\0';
	    p = strchr(p, '\n') != NULL ? strchr(p, '\n') + 1 : NULL)
		if (item_num(p, "UID", &uid) == 0 && uid <= ULONG_MAX &&
		    item_num(p, "RFC822.SIZE", &size) == 0 && size == lk->size)
			keep_newest(cand, &n, IMAP_FIND_CANDIDATES,
			    (unsigned long)uid);
	found = compare_bodies(im, cand, n, lk, err);
done:
	buf_free(&cmd);
	buf_free(&out);
	buf_free(&uids);
	return found;
}

/*
 * The newest few messages of exactly lk->size bytes, compared by digest:
 * 1, 0, -1.  A message without a Message-ID, or a server whose HEADER
 * search missed it.
 */
static int
find_by_digest(struct imap *im, const struct imap_lookup *lk,
    struct error *err)
{
	struct buf	 out;
	struct resp	 r;
	unsigned long	 uids[IMAP_FIND_CANDIDATES];
	char		 cmd[96];
	size_t		 n;
	int		 found = -1;

	if (lk->size > 0)
		snprintf(cmd, sizeof cmd, "UID SEARCH LARGER %llu SMALLER "
		    "%llu", (unsigned long long)lk->size - 1,
		    (unsigned long long)lk->size + 1);
	else
		snprintf(cmd, sizeof cmd, "UID SEARCH SMALLER 1");
	buf_init(&out);
	if (collect(im, cmd, &out, &r, err) == 0) {
		n = search_newest(out.data, uids, IMAP_FIND_CANDIDATES);
		found = compare_bodies(im, uids, n, lk, err);
	}
	buf_free(&out);
	return found;
}

int
imap_find(struct imap *im, const char *folder, const struct imap_lookup *lk,
    struct error *err)
{
	int	rc;

	if ((rc = examine(im, folder, err)) != 1)
		return rc;
	if (lk->uid != 0 && lk->uidvalidity != 0 &&
	    lk->uidvalidity == im->uidvalidity)
		return find_by_uid(im, lk, err);
	rc = 0;
	/* From a file: nothing that would end the quoted string early. */
	if (lk->msgid != NULL && lk->msgid[0] != '\0' &&
	    strpbrk(lk->msgid, "\"\\") == NULL)
		rc = find_by_msgid(im, lk, err);
	if (rc == 0 && lk->digest != NULL)
		rc = find_by_digest(im, lk, err);
	return rc;
}

/* The n of a line that ends in a literal's "{n}": 1, else 0. */
static int
literal_len(const struct buf *line, uint64_t *n)
{
	const char	*p, *e = line->data + line->len;
	char		*end;

	if (line->len < 3 || e[-1] != '}' ||
	    (p = memrchr(line->data, '{', line->len)) == NULL ||
	    !isdigit((unsigned char)p[1]))
		return 0;
	*n = strtoull(p + 1, &end, 10);
	return end == e - 1;
}

/* n bytes of a literal, through SHA-256 into digest. */
static int
read_literal(struct imap *im, uint64_t n, unsigned char *digest,
    struct error *err)
{
	gnutls_hash_hd_t	 h;
	char			*buf;
	ssize_t			 got;
	uint64_t		 left = n;
	char			 shown[64];

	if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0) {
		error_set(err, EX_SOFTWARE, "cannot start SHA-256");
		im->broken = 1;
		return -1;
	}
	buf = xmalloc(IMAP_DATA_CHUNK);
	for (; left > 0; left -= (uint64_t)got) {
		got = transport_read(im->t, buf, left < IMAP_DATA_CHUNK ?
		    (size_t)left : IMAP_DATA_CHUNK, err);
		if (got == -1)
			break;
		gnutls_hash(h, buf, (size_t)got);
	}
	gnutls_hash_deinit(h, digest);
	free(buf);
	if (left > 0)
		return lost(im, err);
	snprintf(shown, sizeof shown, "(%llu bytes of a message)",
	    (unsigned long long)n);
	log_trace(im->p.acct, "<-", shown, strlen(shown));
	return 0;
}

/*
 * UID FETCH uid (BODY.PEEK[]): whether the body's digest is lk's (1) or
 * not (0), or -1.  Only one literal, no longer than lk->size, is read.
 */
static int
fetch_digest(struct imap *im, unsigned long uid, const struct imap_lookup *lk,
    struct error *err)
{
	unsigned char	 got[32];
	char		 tag[16], cmd[64];
	uint64_t	 n;
	size_t		 tl;
	int		 match = 0, literals = 0, lines = 0;

	snprintf(cmd, sizeof cmd, "UID FETCH %lu (BODY.PEEK[])", uid);
	if (command(im, tag, cmd, NULL, err) == -1)
		return -1;
	tl = strlen(tag);
	for (;;) {
		if (read_line(im, err) == -1)
			return -1;
		if (strncmp(im->line.data, tag, tl) == 0 &&
		    im->line.data[tl] == ' ')
			return match;
		/* Untagged responses; after the literal, the rest of its. */
		if (++lines > IMAP_UNTAGGED_MAX || (literals == 0 &&
		    strncmp(im->line.data, "* ", 2) != 0))
			goto bad;
		if (!literal_len(&im->line, &n))
			continue;
		if (++literals > 1 || n > lk->size)
			goto bad;
		if (read_literal(im, n, got, err) == -1)
			return -1;
		match = n == lk->size && memcmp(got, lk->digest, 32) == 0;
	}
bad:
	error_set(err, EX_PROTOCOL, "the %s answered FETCH BODY[] with "
	    "something it was not asked for", im->name);
	im->broken = 1;
	return -1;
}

int
imap_msgid_of(const char *hdr, size_t len, char *out, size_t size)
{
	const char	*p = hdr, *end = hdr + len, *nl, *lt, *gt;
	size_t		 n;

	while (p < end && *p != '\n') {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if ((size_t)(nl - p) > 11 &&
		    strncasecmp(p, "Message-ID:", 11) == 0 &&
		    (lt = memchr(p, '<', (size_t)(nl - p))) != NULL &&
		    (gt = memchr(lt, '>', (size_t)(nl - lt))) != NULL) {
			if ((n = (size_t)(gt - lt - 1)) == 0 || n >= size)
				return -1;
			memcpy(out, lt + 1, n);
			out[n] = '\0';
			for (p = out; *p != '\0'; p++)
				if (*p <= ' ' || *p >= 0x7f || *p == '"' ||
				    *p == '\\')
					return -1;
			return 0;
		}
		p = nl + 1;
	}
	return -1;
}

/* The AUTH=<mechanism> capabilities, as " PLAIN XOAUTH2 ". */
static void
auth_mechs(struct imap *im, const char *p)
{
	const char	*q = p;
	size_t		 n, used;

	im->mechs[0] = '\0';
	while ((q = strcasestr(q, " AUTH=")) != NULL) {
		q += 6;
		n = strcspn(q, " ]");
		used = strlen(im->mechs);
		if (n > 0 && used + n + 2 < sizeof im->mechs)
			snprintf(im->mechs + used, sizeof im->mechs - used,
			    "%s%.*s ", used == 0 ? " " : "", (int)n, q);
	}
}

/*
 * IMAP's framing of a SASL exchange: "TAG AUTHENTICATE M [IR]", "+ b64"
 * continuations answered with one line each, the tagged OK/NO at the
 * end.  Neither the lines sent nor the challenges reach the trace.
 */
static int
auth_command(void *arg, const char *cmd, const char *shown,
    struct error *err)
{
	struct imap	*im = arg;

	return command(im, im->auth_tag, cmd, shown, err);
}

static int
auth_io_send(void *arg, const char *line, struct error *err)
{
	return sasl_command("AUTHENTICATE", line, auth_command, arg, err);
}

static int
auth_io_reply(void *arg, struct sasl_reply *sr, char **chal,
    struct error *err)
{
	struct imap	*im = arg;
	struct resp	 r;
	const char	*c;

	memset(sr, 0, sizeof *sr);
	if (wait_tagged(im, im->auth_tag, &r, err) == -1)
		return -1;
	if (r.st == ST_CONT) {
		c = im->line.data + 1;
		c += strspn(c, " ");
		*chal = xstrdup(c);
		return 1;
	}
	sr->ok = r.st == ST_OK;
	sr->ex = r.st == ST_NO && strcasecmp(r.code, "UNAVAILABLE") == 0 ?
	    EX_TEMPFAIL : 0;
	snprintf(sr->text, sizeof sr->text, "%s", r.text);
	return 0;
}

static int
auth_io_answer(void *arg, const char *line, struct error *err)
{
	struct imap	*im = arg;

	log_trace(im->p.acct, "->", "(SASL response not shown)", 25);
	if (transport_write(im->t, line, strlen(line), err) == -1 ||
	    transport_write(im->t, "\r\n", 2, err) == -1 ||
	    transport_flush(im->t, err) == -1)
		return lost(im, err);
	return 0;
}

/* AUTHENTICATE with delivery_auth's mechanism, then the new capabilities. */
static int
authenticate(struct imap *im, struct error *err)
{
	struct sasl_io	 io = {
		.arg = im, .t = im->t, .service = "imap",
		.cmd_max = im->sasl_ir ? 8192 : 0,
		.send = auth_io_send, .reply = auth_io_reply,
		.answer = auth_io_answer,
	};
	struct resp	 r;
	char		 word[40], tag[16];
	enum auth_method m = im->p.auth;
	int		 rc;

	/* An OAuth token and auto: XOAUTH2 (Google), else OAUTHBEARER. */
	if (m == AUTH_AUTO)
		m = strcasestr(im->mechs, " XOAUTH2 ") != NULL ?
		    AUTH_XOAUTH2 : AUTH_OAUTHBEARER;
	snprintf(word, sizeof word, " %s ", auth_method_name(m));
	if (strcasestr(im->mechs, word) == NULL) {
		error_set(err, EX_UNAVAILABLE, "the %s does not offer AUTH=%s "
		    "(delivery_auth; it lists:%s)", im->name,
		    auth_method_name(m), im->mechs[0] != '\0' ?
		    im->mechs : " nothing");
		return -1;
	}
	log_debug(im->p.acct, "%s: AUTHENTICATE %s as %s", im->name,
	    auth_method_name(m), im->p.user);
	im->in_auth = 1;
	rc = sasl_login(&io, m, im->p.user, im->p.host, im->p.port,
	    im->p.acct, im->p.pass, im->p.oauth_store, err);
	im->in_auth = 0;
	if (rc == -1) {
		if (!im->broken)
			error_prefix(err, "the %s", im->name);
		return -1;
	}
	/* Servers often list more after the login, LITERAL+ among them. */
	if (command(im, tag, "CAPABILITY", NULL, err) == -1 ||
	    wait_tagged(im, tag, &r, err) == -1)
		return -1;
	return 0;
}
