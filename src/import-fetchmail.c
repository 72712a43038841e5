/* import-fetchmail.c -- .fetchmailrc to fetchrc; see import-fetchmail.h. */
#include "config.h"

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "import-fetchmail.h"
#include "xmalloc.h"

#define FM_FILE_MAX	(1024 * 1024)
/* No host, password or MDA command is longer; a longer value is not one. */
#define FM_VALUE_MAX	4096

struct token {
	char	*s;
	int	 quoted;
	int	 line;
};

struct lexer {
	struct token	*v;
	size_t		 n, cap;
};

struct fm_parser {
	const char	*name;
	struct token	*t;
	size_t		 n, i;
	struct fm_file	*f;
	struct fm_entry	 defaults;
	struct fm_entry	 server;	/* the current poll's options */
	int		 in_server;
	int		 nusers;	/* user clauses in the current poll */
	struct fm_entry	*target;	/* where options go */
	struct error	*err;
};

/* Keywords that take one argument but have no fetchrc equivalent. */
static const char *const unmapped_arg[] = {
	"via", "interval", "envelope", "qvirtual", "principal", "esmtpname",
	"esmtppassword", "folder", "preconnect", "postconnect", "plugin",
	"plugout", "fetchlimit", "batchlimit", "expunge", "fetchsizelimit",
	"fastuidl", "properties", "bsmtp", "lmtp", "warnings", "badheader",
	"retrieveerror", "sslcertpath", "sslkey", "sslcert", "auth",
	"authenticate", "tracepolls", "localdomains", "aka", "antispam",
	"smtpname", "domain", "pwmd_file", "pwmd_socket",
};

/* Words that only make the file read like English. */
static const char *const noise[] = {
	"and", "with", "has", "wants", "options", "here", "there",
};

static int	lex(const char *, const char *, struct lexer *,
		    struct error *);
static int	has_control(const char *);
static int	plain_name(const char *);
static char	*comment_safe(const char *);
static int	valid_fingerprint(const char *);
static char	*multi_hosts(const struct fm_file *);
static void	lex_free(struct lexer *);
static int	is_word(const struct token *, const char *);
static int	in_list(const char *, const char *const *, size_t);
static void	entry_init(struct fm_entry *);
static void	entry_copy(struct fm_entry *, const struct fm_entry *);
static void	entry_free(struct fm_entry *);
static void	set_s(char **, const char *);
static const char *next_arg(struct fm_parser *, const char *);
static int	parse_statement(struct fm_parser *);
static int	parse_option(struct fm_parser *);
static int	parse_flag(struct fm_parser *);
static void	set_arg(struct fm_entry *, const char *, const char *);
static void	end_server(struct fm_parser *);
static void	add_entry(struct fm_parser *, const char *user);
static void	note(struct fm_entry *, const char *, const char *);
static void	write_entry(const struct fm_entry *, const char *, FILE *);
static void	write_tls(const struct fm_entry *, const char *, FILE *);
static void	write_delivery(const struct fm_entry *, const char *,
		    FILE *);
static void	write_quoted(FILE *, const char *, const char *);
static int	by_host(const void *, const void *);
static size_t	count_lines(const char *, const char *);
static char	*account_name(const struct fm_entry *, int);
static char	*convert_mda(const char *, const char *);

/* Words and quoted strings; ',', ':', ';' and white space separate. */
static int
lex(const char *text, const char *name, struct lexer *lx, struct error *err)
{
	struct buf	 b;
	const char	*s = text;
	int		 line = 1, startline;
	char		 q;

	lx->v = NULL;
	lx->n = lx->cap = 0;
	while (*s != '\0') {
		if (*s == '\n')
			line++;
		if (isspace((unsigned char)*s) || strchr(",:;", *s) != NULL) {
			s++;
			continue;
		}
		if (*s == '#') {
			s += strcspn(s, "\n");
			continue;
		}
		buf_init(&b);
		buf_add(&b, "", 0);
		startline = line;
		if (*s == '"' || *s == '\'') {
			for (q = *s++; *s != q; s++) {
				if (*s == '\0') {
					error_set(err, EX_DATAERR, "%s:%d: "
					    "missing closing %c", name,
					    startline, q);
					buf_free(&b);
					lex_free(lx);
					return -1;
				}
				if (*s == '\n')
					line++;
				if (*s == '\\' && s[1] != '\0') {
					s++;
					buf_add(&b, *s == 'n' ? "\n" :
					    *s == 't' ? "\t" : s, 1);
				} else
					buf_add(&b, s, 1);
			}
			s++;
		} else {
			while (*s != '\0' && !isspace((unsigned char)*s) &&
			    strchr(",:;#", *s) == NULL)
				buf_add(&b, s++, 1);
		}
		if (b.len > FM_VALUE_MAX) {
			error_set(err, EX_DATAERR, "%s:%d: a value longer than "
			    "%d bytes", name, startline, FM_VALUE_MAX);
			buf_free(&b);
			lex_free(lx);
			return -1;
		}
		if (has_control(b.data)) {
			/* Written out, it could start a line of its own. */
			error_set(err, EX_DATAERR, "%s:%d: a value holds a "
			    "control character (a newline, a tab, an escape...); "
			    "popfetch cannot write it into a fetchrc safely",
			    name, startline);
			buf_free(&b);
			lex_free(lx);
			return -1;
		}
		lx->v = xgrow(lx->v, &lx->cap, lx->n, 256, sizeof *lx->v);
		lx->v[lx->n].s = b.data;
		lx->v[lx->n].quoted = b.data[0] == '\0' || q == '"' ||
		    q == '\'';
		lx->v[lx->n].line = startline;
		lx->n++;
		q = '\0';
	}
	return 0;
}

/* C0 controls and DEL; text holds no NUL (import_fetchmailrc refuses it). */
static int
has_control(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

/* A local user name that means the same to every shell, quoted or not. */
static int
plain_name(const char *s)
{
	if (*s == '\0' || *s == '-')
		return 0;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr("._@+-", *s) == NULL)
			return 0;
	return 1;
}

/* s for a comment: printable ASCII as it is, any other byte as \xHH (no
 * terminal controls, no bidi tricks).  Allocated. */
static char *
comment_safe(const char *s)
{
	struct buf	b;

	buf_init(&b);
	buf_add(&b, "", 0);
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f)
			buf_add(&b, s, 1);
		else
			buf_printf(&b, "\\x%02x", (unsigned char)*s);
	}
	return b.data;
}

/* 32 pairs of hex digits separated by colons: SHA-256 as fetchrc has it. */
static int
valid_fingerprint(const char *s)
{
	size_t	i;

	if (strlen(s) != 95)
		return 0;
	for (i = 0; i < 95; i++)
		if (i % 3 == 2 ? s[i] != ':' : !isxdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

static void
lex_free(struct lexer *lx)
{
	size_t	i;

	for (i = 0; i < lx->n; i++)
		freezero_str(lx->v[i].s);
	free(lx->v);
}

static int
is_word(const struct token *t, const char *w)
{
	return !t->quoted && strcasecmp(t->s, w) == 0;
}

static int
in_list(const char *w, const char *const *list, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (strcasecmp(w, list[i]) == 0)
			return 1;
	return 0;
}

static void
entry_init(struct fm_entry *e)
{
	memset(e, 0, sizeof *e);
	e->keep = e->ssl = e->sslcertck = -1;
	buf_init(&e->unmapped);
}

static void
entry_copy(struct fm_entry *dst, const struct fm_entry *src)
{
	*dst = *src;
	dst->host = src->host ? xstrdup(src->host) : NULL;
	dst->proto = src->proto ? xstrdup(src->proto) : NULL;
	dst->user = src->user ? xstrdup(src->user) : NULL;
	dst->password = src->password ? xstrdup(src->password) : NULL;
	dst->localuser = src->localuser ? xstrdup(src->localuser) : NULL;
	dst->sslproto = src->sslproto ? xstrdup(src->sslproto) : NULL;
	dst->sslcertfile = src->sslcertfile ? xstrdup(src->sslcertfile) : NULL;
	dst->sslfingerprint = src->sslfingerprint ?
	    xstrdup(src->sslfingerprint) : NULL;
	dst->mda = src->mda ? xstrdup(src->mda) : NULL;
	dst->smtphost = src->smtphost ? xstrdup(src->smtphost) : NULL;
	buf_init(&dst->unmapped);
	if (src->unmapped.len > 0)
		buf_add(&dst->unmapped, src->unmapped.data,
		    src->unmapped.len);
}

static void
entry_free(struct fm_entry *e)
{
	free(e->host);
	free(e->proto);
	free(e->user);
	freezero_str(e->password);
	free(e->localuser);
	free(e->sslproto);
	free(e->sslcertfile);
	free(e->sslfingerprint);
	free(e->mda);
	free(e->smtphost);
	buf_free(&e->unmapped);
}

static void
set_s(char **dst, const char *v)
{
	freezero_str(*dst);
	*dst = xstrdup(v);
}

static void
note(struct fm_entry *e, const char *kw, const char *arg)
{
	if (e->unmapped.len > 0)
		buf_addstr(&e->unmapped, "; ");
	buf_addstr(&e->unmapped, kw);
	if (arg != NULL)
		buf_printf(&e->unmapped, " %s", arg);
}

/* The argument of the keyword at p->i (which is consumed), or NULL. */
static const char *
next_arg(struct fm_parser *p, const char *kw)
{
	if (p->i + 1 >= p->n) {
		error_set(p->err, EX_DATAERR, "%s:%d: '%s' needs a value",
		    p->name, p->t[p->i].line, kw);
		return NULL;
	}
	p->i += 2;
	return p->t[p->i - 1].s;
}

int
fm_parse(const char *text, const char *name, struct fm_file *f,
    struct error *err)
{
	struct fm_parser	p;
	struct lexer		lx;
	int			rc = -1;

	memset(f, 0, sizeof *f);
	buf_init(&f->globals);
	if (lex(text, name, &lx, err) == -1) {
		buf_free(&f->globals);
		return -1;
	}
	memset(&p, 0, sizeof p);
	p.name = name;
	p.t = lx.v;
	p.n = lx.n;
	p.f = f;
	p.err = err;
	entry_init(&p.defaults);
	entry_init(&p.server);
	p.target = &p.defaults;
	while (p.i < p.n)
		if (parse_statement(&p) == -1)
			goto out;
	end_server(&p);
	rc = 0;
out:
	if (rc == -1)
		fm_free(f);
	entry_free(&p.defaults);
	entry_free(&p.server);
	lex_free(&lx);
	return rc;
}

static int
parse_statement(struct fm_parser *p)
{
	const struct token	*t = &p->t[p->i];
	const char		*v;
	int			 line;

	if (is_word(t, "set")) {
		/* `set` statements are one line each. */
		line = t->line;
		if (p->f->globals.len > 0)
			buf_addstr(&p->f->globals, "; ");
		buf_addstr(&p->f->globals, "set");
		for (p->i++; p->i < p->n && p->t[p->i].line == line; p->i++)
			buf_printf(&p->f->globals, " %s", p->t[p->i].s);
		return 0;
	}
	if (is_word(t, "defaults")) {
		end_server(p);
		p->target = &p->defaults;
		p->i++;
		return 0;
	}
	if (is_word(t, "poll") || is_word(t, "server") || is_word(t, "skip")) {
		end_server(p);
		entry_free(&p->server);
		entry_copy(&p->server, &p->defaults);
		p->server.skip = is_word(t, "skip");
		p->server.line = t->line;
		if ((v = next_arg(p, t->s)) == NULL)
			return -1;
		set_s(&p->server.host, v);
		p->in_server = 1;
		p->nusers = 0;
		p->target = &p->server;
		return 0;
	}
	if (is_word(t, "user") || is_word(t, "username")) {
		if (!p->in_server) {
			error_set(p->err, EX_DATAERR, "%s:%d: 'user' outside "
			    "of a poll entry", p->name, t->line);
			return -1;
		}
		if ((v = next_arg(p, t->s)) == NULL)
			return -1;
		add_entry(p, v);
		p->nusers++;
		p->target = &p->f->entries[p->f->n - 1];
		return 0;
	}
	return parse_option(p);
}

/* A poll without a user clause fetches for the login name. */
static void
end_server(struct fm_parser *p)
{
	if (p->in_server && p->nusers == 0)
		add_entry(p, NULL);
	p->in_server = 0;
}

static void
add_entry(struct fm_parser *p, const char *user)
{
	struct fm_entry	*e;

	p->f->entries = xgrow(p->f->entries, &p->f->cap, p->f->n, 16,
	    sizeof *p->f->entries);
	e = &p->f->entries[p->f->n++];
	entry_copy(e, &p->server);
	if (user != NULL)
		set_s(&e->user, user);
}

/* A word that is a whole option (keep, no ssl, ...): 1 when t was one. */
static int
parse_flag(struct fm_parser *p)
{
	const struct token	*t = &p->t[p->i];
	struct fm_entry		*e = p->target;
	const char		*w = t->s;

	if (in_list(w, noise, sizeof noise / sizeof noise[0])) {
		p->i++;
		return 1;
	}
	if (is_word(t, "no") && p->i + 1 < p->n) {
		w = p->t[++p->i].s;
		p->i++;
		if (strcasecmp(w, "keep") == 0)
			e->keep = 0;
		else if (strcasecmp(w, "sslcertck") == 0)
			e->sslcertck = 0;
		else if (strcasecmp(w, "ssl") == 0)
			e->ssl = 0;
		else
			note(e, "no", w);
		return 1;
	}
	if (is_word(t, "keep") || is_word(t, "nokeep")) {
		e->keep = is_word(t, "keep");
		p->i++;
		return 1;
	}
	if (is_word(t, "ssl") || is_word(t, "sslcertck")) {
		*(is_word(t, "ssl") ? &e->ssl : &e->sslcertck) = 1;
		p->i++;
		return 1;
	}
	if (is_word(t, "uidl")) {
		p->i++;			/* popfetch always uses UIDL */
		return 1;
	}
	return 0;
}

/* An option with its argument v. */
static void
set_arg(struct fm_entry *e, const char *w, const char *v)
{
	const char	*errstr;

	if (strcasecmp(w, "proto") == 0 || strcasecmp(w, "protocol") == 0) {
		set_s(&e->proto, v);
		for (char *c = e->proto; *c != '\0'; c++)
			*c = (char)tolower((unsigned char)*c);
	} else if (strcasecmp(w, "port") == 0 ||
	    strcasecmp(w, "service") == 0) {
		e->port = (int)strtonum(v, 1, 65535, &errstr);
		if (errstr != NULL)
			note(e, w, v);
	} else if (strcasecmp(w, "timeout") == 0) {
		e->timeout = (int)strtonum(v, 1, 3600, &errstr);
		if (errstr != NULL)
			note(e, w, v);
	} else if (strcasecmp(w, "pass") == 0 ||
	    strcasecmp(w, "password") == 0)
		set_s(&e->password, v);
	else if (strcasecmp(w, "is") == 0 || strcasecmp(w, "to") == 0)
		set_s(&e->localuser, v);
	else if (strcasecmp(w, "sslproto") == 0)
		set_s(&e->sslproto, v);
	else if (strcasecmp(w, "sslcertfile") == 0)
		set_s(&e->sslcertfile, v);
	else if (strcasecmp(w, "sslfingerprint") == 0)
		set_s(&e->sslfingerprint, v);
	else if (strcasecmp(w, "mda") == 0)
		set_s(&e->mda, v);
	else if (strncasecmp(w, "smtphost", 8) == 0)
		set_s(&e->smtphost, v);
	else if (strcasecmp(w, "limit") == 0) {
		e->limit = strtonum(v, 0, 1LL << 40, &errstr);
		if (errstr != NULL)
			note(e, w, v);
	} else
		note(e, w, v);
}

static int
parse_option(struct fm_parser *p)
{
	const struct token	*t = &p->t[p->i];
	struct fm_entry		*e = p->target;
	const char		*v, *w = t->s;

	if (parse_flag(p) == 1)
		return 0;
	if (t->quoted || !(is_word(t, "proto") || is_word(t, "protocol") ||
	    is_word(t, "port") || is_word(t, "service") ||
	    is_word(t, "timeout") || is_word(t, "pass") ||
	    is_word(t, "password") || is_word(t, "is") || is_word(t, "to") ||
	    is_word(t, "sslproto") || is_word(t, "sslcertfile") ||
	    is_word(t, "sslfingerprint") || is_word(t, "mda") ||
	    is_word(t, "smtphost") || is_word(t, "smtphosts") ||
	    is_word(t, "limit") ||
	    in_list(w, unmapped_arg, sizeof unmapped_arg /
	    sizeof unmapped_arg[0]))) {
		/* A flag we have no use for, or a word we do not know. */
		note(e, w, NULL);
		p->i++;
		return 0;
	}
	if ((v = next_arg(p, w)) == NULL)
		return -1;
	if ((is_word(t, "is") || is_word(t, "to")) && !plain_name(v)) {
		error_set(p->err, EX_DATAERR, "%s:%d: '%s': the local user "
		    "goes into a shell command and must be a plain name "
		    "(letters, digits, '.', '_', '@', '+', '-')", p->name,
		    t->line, w);
		return -1;
	}
	set_arg(e, w, v);
	return 0;
}

void
fm_free(struct fm_file *f)
{
	size_t	i;

	for (i = 0; i < f->n; i++)
		entry_free(&f->entries[i]);
	free(f->entries);
	buf_free(&f->globals);
	memset(f, 0, sizeof *f);
}

static const struct fm_file *sort_file;	/* for by_host only */

static int
by_host(const void *a, const void *b)
{
	const size_t	*i = a, *j = b;

	return strcmp(sort_file->entries[*i].host,
	    sort_file->entries[*j].host);
}

/* Per entry, 1 when its host has other entries too: one sort, not a scan
 * of every entry per entry (60,000 entries took 30 s).  Allocated. */
static char *
multi_hosts(const struct fm_file *f)
{
	size_t	*idx, i, j, k;
	char	*multi;

	multi = xcalloc(f->n + 1, 1);
	idx = xreallocarray(NULL, f->n + 1, sizeof *idx);
	for (i = 0; i < f->n; i++)
		idx[i] = i;
	sort_file = f;
	qsort(idx, f->n, sizeof *idx, by_host);
	sort_file = NULL;
	for (i = 0; i < f->n; i = j) {
		for (j = i + 1; j < f->n && strcmp(f->entries[idx[i]].host,
		    f->entries[idx[j]].host) == 0; j++)
			;
		for (k = i; j - i > 1 && k < j; k++)
			multi[idx[k]] = 1;
	}
	free(idx);
	return multi;
}

/* The host, or host-user when the host has several entries. */
static char *
account_name(const struct fm_entry *e, int multi)
{
	char	*name, *c;

	if (multi && e->user != NULL)
		xasprintf(&name, "%s-%s", e->host, e->user);
	else
		name = xstrdup(e->host);
	for (c = name; *c != '\0'; c++)
		if (!isalnum((unsigned char)*c) && strchr("._@+-", *c) == NULL)
			*c = '_';
	return name;
}

/*
 * fetchmail's %T (the local recipient) has no popfetch equivalent: it
 * becomes the local user, a plain name (checked when parsed) that no
 * shell reads as anything else.  %F stays: popfetch replaces it too,
 * already shell-quoted, so quotes written around it go.
 */
static char *
convert_mda(const char *mda, const char *localuser)
{
	struct buf	b;
	const char	*s;

	buf_init(&b);
	buf_add(&b, "", 0);
	for (s = mda; *s != '\0'; s++) {
		if ((strncmp(s, "'%F'", 4) == 0 ||
		    strncmp(s, "\"%F\"", 4) == 0)) {
			buf_addstr(&b, "%F");
			s += 3;
		} else if (strncmp(s, "'%T'", 4) == 0 ||
		    strncmp(s, "\"%T\"", 4) == 0) {
			buf_addstr(&b, localuser);
			s += 3;
		} else if (s[0] == '%' && s[1] == 'T') {
			buf_addstr(&b, localuser);
			s++;
		} else
			buf_add(&b, s, 1);
	}
	return b.data;
}

/* A value in fetchrc quotes: only " and \ need a backslash (the parser
 * let no control character through). */
static void
write_quoted(FILE *out, const char *key, const char *v)
{
	fprintf(out, "%s \"", key);
	for (; *v != '\0'; v++) {
		if (*v == '"' || *v == '\\')
			fputc('\\', out);
		fputc(*v, out);
	}
	fputs("\"\n", out);
}

/* The TLS keys; host is comment_safe already. */
static void
write_tls(const struct fm_entry *e, const char *host, FILE *out)
{
	char	*fp;

	if (e->sslproto != NULL && e->sslproto[0] == '\0' && e->ssl != 1) {
		fprintf(out, "# sslproto '' turned TLS off in fetchmail; the "
		    "password crosses the network in clear text.\ntls off\n");
	} else if (e->ssl == 1) {
		/* Said, not left to the port: fetchmail's ssl on 110 is implicit. */
		fprintf(out, "tls on\ntls_starttls off\n");
	} else {
		fprintf(out, "%s"
		    "tls on\ntls_starttls on\n", e->sslproto != NULL ? "" :
		    "# fetchmail used STLS when the server offered it; "
		    "popfetch insists on it.\n");
	}
	if (e->sslcertck == 0)
		fprintf(out, "# 'no sslcertck': the certificate is not "
		    "checked.\ntls_certcheck off\n");
	if (e->sslcertfile != NULL)
		write_quoted(out, "tls_trust_file", e->sslcertfile);
	if (e->sslfingerprint == NULL)
		return;
	if (valid_fingerprint(e->sslfingerprint)) {
		fprintf(out, "tls_fingerprint %s\n", e->sslfingerprint);
		return;
	}
	fp = comment_safe(e->sslfingerprint);
	fprintf(out, "# sslfingerprint %s is not a SHA-256 fingerprint; get "
	    "one with\n# openssl s_client -connect %s:%d | openssl x509 "
	    "-noout -fingerprint -sha256\n", fp, host, e->port != 0 ?
	    e->port : e->ssl == 1 ? 995 : 110);
	free(fp);
}

static void
write_delivery(const struct fm_entry *e, const char *local, FILE *out)
{
	char	*mda, *smtp;

	if (e->mda == NULL) {
		smtp = comment_safe(e->smtphost != NULL ? e->smtphost :
		    "localhost");
		fprintf(out, "# fetchmail forwarded to SMTP on %s; popfetch "
		    "hands the message to\n# the local mail system "
		    "instead (or use delivery maildir DIR).\n", smtp);
		fprintf(out, "delivery mda /usr/sbin/sendmail -oi -f %%F -- "
		    "%s\n", local);
		free(smtp);
		return;
	}
	mda = convert_mda(e->mda, local);
	/* Unquoted, the command runs to the end of the line; one that
	 * starts like a quoted value or with a blank is written quoted. */
	if (mda[0] == '"' || mda[0] == '\0' || isspace((unsigned char)mda[0]))
		write_quoted(out, "delivery mda", mda);
	else
		fprintf(out, "delivery mda %s\n", mda);
	free(mda);
}

static void
write_entry(const struct fm_entry *e, const char *acct, FILE *out)
{
	const char	*local, *login;
	char		*host, *notes;

	login = getenv("USER");
	if (login == NULL || !plain_name(login))
		login = "CHANGE-ME";
	local = e->localuser != NULL ? e->localuser : login;
	host = comment_safe(e->host);
	fprintf(out, "\naccount %s\n", acct);
	write_quoted(out, "host", e->host);
	if (e->port != 0)
		fprintf(out, "port %d\n", e->port);
	write_tls(e, host, out);
	if (e->timeout != 0)
		fprintf(out, "timeout %d\n", e->timeout);
	if (e->user != NULL)
		write_quoted(out, "user", e->user);
	else {
		fprintf(out, "# no user given: fetchmail used your login "
		    "name\n");
		write_quoted(out, "user", login);
	}
	if (e->proto != NULL && strcmp(e->proto, "apop") == 0)
		fprintf(out, "auth apop\n");
	if (e->password != NULL)
		write_quoted(out, "password", e->password);
	else
		fprintf(out, "# no password given: like fetchmail, popfetch "
		    "reads ~/.netrc, then asks\n");
	fprintf(out, "keep %s\n", e->keep == 1 ? "on" : "off");
	if (e->limit > 0)
		fprintf(out, "skipsize %lld\n", e->limit);
	write_delivery(e, local, out);
	if (e->unmapped.len > 0) {
		notes = comment_safe(e->unmapped.data);
		fprintf(out, "# not mapped: %s\n", notes);
		free(notes);
	}
	free(host);
}

void
fm_write(const struct fm_file *f, const char *path, FILE *out)
{
	const struct fm_entry	*e;
	char			*acct, *name, *host, *proto, *multi;
	size_t			 i, n = 0;

	name = comment_safe(path);
	multi = multi_hosts(f);
	fprintf(out, "# fetchrc for popfetch, converted from %s by "
	    "popfetch --import-fetchmailrc.\n# It may hold passwords: "
	    "keep it private (chmod 600).\n# Mail fetchmail left on the "
	    "server (keep) is not fetched again after:\n#   popfetch -C "
	    "THIS-FILE --import-uids fetchmail ~/.fetchids\n", name);
	if (f->globals.len > 0) {
		host = comment_safe(f->globals.data);
		fprintf(out, "# not mapped: %s\n", host);
		free(host);
	}
	for (i = 0; i < f->n; i++) {
		e = &f->entries[i];
		host = comment_safe(e->host);
		if (e->proto != NULL && strcmp(e->proto, "pop3") != 0 &&
		    strcmp(e->proto, "apop") != 0 &&
		    strcmp(e->proto, "auto") != 0) {
			proto = comment_safe(e->proto);
			fprintf(out, "\n# %s:%d: skipped %s: protocol %s is "
			    "not POP3\n", name, e->line, host, proto);
			free(proto);
			free(host);
			continue;
		}
		acct = account_name(e, multi[i]);
		fprintf(out, "\n# %s:%d: %s %s%s\n", name, e->line,
		    e->skip ? "skip" : "poll", host,
		    e->skip ? " (fetched only when named)" : "");
		write_entry(e, acct, out);
		n++;
		free(acct);
		free(host);
	}
	if (n == 0)
		fprintf(out, "\n# %s has no POP3 entries.\n", name);
	free(multi);
	free(name);
}

/* The number of the line p is on in text. */
static size_t
count_lines(const char *text, const char *p)
{
	size_t	n = 1;

	for (; text < p; text++)
		n += *text == '\n';
	return n;
}

int
import_fetchmailrc(const char *path, FILE *out, struct error *err)
{
	struct fm_file	 f;
	struct stat	 st;
	char		*text = NULL, *nul;
	ssize_t		 r;
	size_t		 len = 0;
	int		 fd, rc = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1) {
		error_set(err, EX_NOINPUT, "%s: cannot open: %s", path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		error_set(err, EX_NOINPUT, "%s: not a regular file", path);
		goto out;
	}
	text = xmalloc(FM_FILE_MAX + 1);
	while ((r = read(fd, text + len, FM_FILE_MAX + 1 - len)) > 0)
		if ((len += (size_t)r) > FM_FILE_MAX)
			break;
	if (r == -1) {
		error_set(err, EX_IOERR, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (len > FM_FILE_MAX) {
		error_set(err, EX_DATAERR, "%s: larger than %d KiB: not a "
		    ".fetchmailrc", path, FM_FILE_MAX / 1024);
		goto out;
	}
	if ((nul = memchr(text, '\0', len)) != NULL) {
		error_set(err, EX_DATAERR, "%s:%zu: a NUL byte: not a "
		    ".fetchmailrc", path, count_lines(text, nul));
		goto out;
	}
	text[len] = '\0';
	if (fm_parse(text, path, &f, err) == -1)
		goto out;
	fm_write(&f, path, out);
	fm_free(&f);
	rc = 0;
out:
	if (text != NULL) {
		explicit_bzero(text, FM_FILE_MAX + 1);
		free(text);
	}
	close(fd);
	return rc;
}
