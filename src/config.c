/* config.c -- parsing a fetchrc (mpop's syntax) into accounts; see conf.h. */
#include "config.h"

#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <libgen.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <unistd.h>

#include "account.h"
#include "auth.h"
#include "buf.h"
#include "conf.h"
#include "error.h"
#include "xio.h"
#include "xmalloc.h"

/* A fetchrc is a few KiB; a file this large is a mistake. */
#define CONFIG_MAX	(1024 * 1024)
#define WHITESPACE	" \t\r\v\f"
/* include inside include ...: deeper is a loop. */
#define INCLUDE_DEPTH_MAX	8
/* Files of one directory or one include pattern. */
#define INCLUDE_FILES_MAX	10000
/* Invalid values are echoed back to the user, but not at any length. */
#define ECHO_MAX	64

struct parser {
	const char	*file;
	int		 line;
	struct accounts	*accounts;
	struct account	*defaults;
	struct account	*cur;		/* where settings go; NULL at the top */
	int		 saw_password;
	int		 depth;		/* of include */
	struct error	*err;
};

static int	 load_path(const char *, struct accounts *,
		    const struct account *, int, struct error *);
static int	 load_file(int, const char *, const struct stat *,
		    struct accounts *, const struct account *, int,
		    struct error *);
static int	 load_dir(const char *, struct accounts *, int,
		    struct error *);
static int	 config_name(const char *);
static int	 parse_include(struct parser *, const char *);
static int	 parse_text(const char *, const char *, struct accounts *,
		    const struct account *, int, struct error *, int *);
static int	 parse_line(struct parser *, char *);
static int	 parse_account(struct parser *, const char *);
static int	 parse_inherit(struct parser *, struct account *, const char *);
static int	 parse_setting(struct parser *, const char *, const char *);
static int	 apply_key(struct parser *, const struct account_key *,
		    struct account *, const char *, const char *);
static int	 parse_delivery(struct parser *, const struct account_key *,
		    struct account *, const char *, const char *);
static int	 parse_keep(struct parser *, const struct account_key *,
		    struct account *, const char *);
static int	 parse_bool(struct parser *, const struct account_key *,
		    const char *, int *);
static int	 parse_address(struct parser *, const struct account_key *,
		    const char *, char **);
static int	 parse_choice(struct parser *, const struct account_key *,
		    const char *, int *);
static int	 parse_auth(struct parser *, const struct account_key *,
		    const char *, enum auth_method *);
static int	 parse_number(struct parser *, const struct account_key *,
		    const char *, int, int, int *);
static int	 parse_size(struct parser *, const struct account_key *,
		    const char *, uint64_t *);
static int	 parse_duration(struct parser *, const struct account_key *,
		    const char *, int *);
static int	 parse_syslog(struct parser *, const struct account_key *,
		    const char *, int *);
static int	 parse_fingerprint(struct parser *, const struct account_key *,
		    struct account *, const char *);
static int	 hex_bytes(const char *, unsigned char *, size_t);
static int	 unquote(struct parser *, const char *, const char *,
		    char **);
static void	 set_str(char **, const char *);
static char	*trim(char *);
static void	 parse_error(struct parser *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	 bad_value(struct parser *, const struct account_key *,
		    const char *);
static int	 read_config(int, const char *, char **, size_t *,
		    struct error *);

int
config_load(const char *path, struct accounts *accounts, struct error *err)
{
	return load_path(path, accounts, NULL, 0, err);
}

/*
 * A file, or a directory of files; defaults (NULL: the built-in ones) is
 * what a file's accounts start from, depth how deep in include we are.
 */
static int
load_path(const char *path, struct accounts *accounts,
    const struct account *defaults, int depth, struct error *err)
{
	struct stat	 st;
	int		 fd, rv = -1;

	if (depth > INCLUDE_DEPTH_MAX) {
		error_set(err, EX_CONFIG, "%s: included more than %d deep; "
		    "do the files include each other?", path,
		    INCLUDE_DEPTH_MAX);
		return -1;
	}
	/* O_NONBLOCK: a FIFO must not hang us before the S_ISREG check. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1) {
		if (errno == ENOENT)
			error_set(err, EX_CONFIG, "%s: cannot open: %s "
			    "(create it, see fetchrc.example)", path,
			    strerror(errno));
		else
			error_set(err, EX_CONFIG, "%s: cannot open: %s", path,
			    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1)
		error_set(err, EX_IOERR, "%s: %s", path, strerror(errno));
	else if (S_ISDIR(st.st_mode))
		rv = load_dir(path, accounts, depth, err);
	else if (!S_ISREG(st.st_mode))
		error_set(err, EX_CONFIG, "%s: not a regular file", path);
	else
		rv = load_file(fd, path, &st, accounts, defaults, depth, err);
	close(fd);
	return rv;
}

static int
load_file(int fd, const char *path, const struct stat *st,
    struct accounts *accounts, const struct account *defaults, int depth,
    struct error *err)
{
	char		*text = NULL;
	size_t		 len = 0;
	int		 rv = -1, saw_password = 0;

	if (read_config(fd, path, &text, &len, err) == -1)
		goto out;
	if (parse_text(text, path, accounts, defaults, depth, err,
	    &saw_password) == -1)
		goto out;
	if (saw_password && (st->st_mode & 077) != 0) {
		error_set(err, EX_CONFIG, "%s: contains a password but is "
		    "readable by others; run chmod 600 %s", path, path);
		goto out;
	}
	rv = 0;
out:
	if (text != NULL) {
		explicit_bzero(text, len);
		free(text);
	}
	return rv;
}

/* A name a directory's configuration is read from: *.conf or *.rc. */
static int
config_name(const char *name)
{
	size_t	n = strlen(name);

	if (name[0] == '.')
		return 0;	/* editors' and packagers' temporary files */
	return (n > 5 && strcmp(name + n - 5, ".conf") == 0) ||
	    (n > 3 && strcmp(name + n - 3, ".rc") == 0);
}

static int
by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int
wanted(const struct dirent *d)
{
	return config_name(d->d_name);
}

/*
 * -C DIR: every *.conf and *.rc file, in byte order of the names, each
 * starting from the built-in defaults (its `defaults` apply to itself).
 */
static int
load_dir(const char *path, struct accounts *accounts, int depth,
    struct error *err)
{
	struct dirent	**names;
	char		 *file;
	int		  n, i, rv = 0;

	if ((n = scandir(path, &names, wanted, by_name)) == -1) {
		error_set(err, EX_CONFIG, "%s: cannot read the directory: %s",
		    path, strerror(errno));
		return -1;
	}
	if (n > INCLUDE_FILES_MAX) {
		error_set(err, EX_CONFIG, "%s: more than %d files", path,
		    INCLUDE_FILES_MAX);
		rv = -1;
	}
	for (i = 0; i < n; i++) {
		if (rv == 0) {
			xasprintf(&file, "%s/%s", path, names[i]->d_name);
			rv = load_path(file, accounts, NULL, depth + 1, err);
			free(file);
		}
		free(names[i]);
	}
	free(names);
	return rv;
}

/* Read all of fd into a NUL-terminated string, refusing binary or huge. */
static int
read_config(int fd, const char *path, char **textp, size_t *lenp,
    struct error *err)
{
	char	*text;
	size_t	 len;

	/* One buffer, never reallocated, so the password is zeroed once. */
	*textp = text = xmalloc(CONFIG_MAX + 1);
	if (read_bounded(fd, text, CONFIG_MAX + 1, lenp) == -1) {
		error_set(err, EX_IOERR, "%s: read: %s", path,
		    strerror(errno));
		return -1;
	}
	len = *lenp;
	if (len > CONFIG_MAX) {
		error_set(err, EX_CONFIG, "%s: larger than %d KiB; "
		    "is this really a fetchrc?", path, CONFIG_MAX / 1024);
		return -1;
	}
	text[len] = '\0';
	if (memchr(text, '\0', len) != NULL) {
		error_set(err, EX_CONFIG, "%s: contains a NUL byte; not a "
		    "text file", path);
		return -1;
	}
	return 0;
}

int
config_parse_string(const char *text, const char *name,
    struct accounts *accounts, struct error *err)
{
	int	saw_password;

	return parse_text(text, name, accounts, NULL, 0, err, &saw_password);
}

/* saw_password tells config_load() whether the permission check applies. */
static int
parse_text(const char *text, const char *name, struct accounts *accounts,
    const struct account *defaults, int depth, struct error *err,
    int *saw_password)
{
	struct parser	 p;
	const char	*s, *nl;
	char		*line;
	size_t		 len;
	int		 rv = 0;

	memset(&p, 0, sizeof p);
	p.file = name;
	p.accounts = accounts;
	p.err = err;
	p.depth = depth;
	p.defaults = defaults != NULL ? account_copy(defaults, "defaults",
	    name, 0) : account_new("defaults", name, 0);

	for (s = text; *s != '\0' && rv == 0; s = nl != NULL ? nl + 1 : "") {
		p.line++;
		nl = strchr(s, '\n');
		len = nl != NULL ? (size_t)(nl - s) : strlen(s);
		line = xstrndup(s, len);
		rv = parse_line(&p, line);
		freezero_str(line);
	}

	*saw_password = p.saw_password;
	account_free(p.defaults);
	return rv;
}

static int
parse_line(struct parser *p, char *line)
{
	char	*s, *key, *raw;

	s = trim(line);
	if (*s == '\0' || *s == '#')
		return 0;

	key = s;
	s += strcspn(s, WHITESPACE);
	if (*s != '\0')
		*s++ = '\0';
	raw = s + strspn(s, WHITESPACE);

	if (strcmp(key, "defaults") == 0) {
		if (*raw != '\0') {
			parse_error(p, "'defaults' takes no value");
			return -1;
		}
		p->cur = p->defaults;
		return 0;
	}
	if (strcmp(key, "account") == 0)
		return parse_account(p, raw);
	if (strcmp(key, "include") == 0)
		return parse_include(p, raw);
	return parse_setting(p, key, raw);
}

/* glob(3)'s errors: a directory missing is no match, others are errors. */
static int	glob_errno;

static int
glob_failed(const char *path, int e)
{
	(void)path;
	if (e == ENOENT || e == ENOTDIR)
		return 0;
	glob_errno = e;
	return 1;
}

/*
 * `include GLOB`: each file (or directory) the pattern matches, in name
 * order, starting from this file's defaults as they stand; a relative
 * pattern is relative to this file's directory.  No match is no account.
 */
static int
parse_include(struct parser *p, const char *raw)
{
	glob_t	 g;
	char	*quoted = NULL, *pat = NULL, *dir, *rel;
	size_t	 i;
	int	 rv = -1, grc;

	memset(&g, 0, sizeof g);
	if (*raw == '"' && unquote(p, "include", raw, &quoted) == -1)
		goto out;
	if (*(quoted != NULL ? quoted : raw) == '\0') {
		parse_error(p, "'include' needs a file name or pattern");
		goto out;
	}
	pat = config_expand_tilde(quoted != NULL ? quoted : raw);
	if (pat[0] != '/') {
		dir = xstrdup(p->file);
		xasprintf(&rel, "%s/%s", dirname(dir), pat);
		free(dir);
		free(pat);
		pat = rel;
	}
	glob_errno = 0;
	grc = glob(pat, 0, glob_failed, &g);
	if (glob_errno != 0 || (grc != 0 && grc != GLOB_NOMATCH)) {
		parse_error(p, "include %s: cannot read: %s", pat,
		    grc == GLOB_NOSPACE ? "out of memory" :
		    strerror(glob_errno != 0 ? glob_errno : EIO));
		goto out;
	}
	if (g.gl_pathc > INCLUDE_FILES_MAX) {
		parse_error(p, "include %s: more than %d files", pat,
		    INCLUDE_FILES_MAX);
		goto out;
	}
	for (i = 0; i < g.gl_pathc; i++)
		if (load_path(g.gl_pathv[i], p->accounts, p->defaults,
		    p->depth + 1, p->err) == -1)
			goto out;
	/* What follows must open a section of its own again. */
	p->cur = NULL;
	rv = 0;
out:
	globfree(&g);
	free(quoted);
	free(pat);
	return rv;
}

/* `account NAME [: OTHER[,OTHER...]]` */
static int
parse_account(struct parser *p, const char *raw)
{
	struct account	*a = NULL, *old;
	char		*name = NULL, *quoted = NULL;
	const char	*s = raw;
	size_t		 len;
	int		 rv = -1;

	if (*raw == '"') {
		if (unquote(p, "account", raw, &quoted) == -1)
			goto out;
		s = quoted;
	}
	if ((len = strcspn(s, WHITESPACE ":,")) == 0) {
		parse_error(p, "'account' needs a name (account NAME "
		    "[: OTHER,...])");
		goto out;
	}
	name = xstrndup(s, len);
	s += len;
	s += strspn(s, WHITESPACE);
	if (*s != '\0' && *s != ':') {
		parse_error(p, "account names cannot contain whitespace or "
		    "','; to inherit, write 'account %s : OTHER'", name);
		goto out;
	}
	if ((old = accounts_find(p->accounts, name)) != NULL) {
		if (old->file != NULL && strcmp(old->file, p->file) != 0)
			parse_error(p, "account '%s' is already defined in "
			    "%s, line %d", name, old->file, old->line);
		else
			parse_error(p, "account '%s' is already defined at "
			    "line %d", name, old->line);
		goto out;
	}

	/*
	 * What came from the defaults was not set here: `account x : NAME`
	 * must not pick it up over x's own defaults.
	 */
	a = account_copy(p->defaults, name, p->file, p->line);
	memset(&a->set, 0, sizeof a->set);
	if (*s == ':' && parse_inherit(p, a, s + 1) == -1)
		goto out;

	TAILQ_INSERT_TAIL(p->accounts, a, entry);
	p->cur = a;
	a = NULL;
	rv = 0;

out:
	account_free(a);
	free(name);
	free(quoted);
	return rv;
}

/* The list after ':'; each account named must be defined above. */
static int
parse_inherit(struct parser *p, struct account *a, const char *s)
{
	struct account	*other;
	char		*name;
	size_t		 len;

	for (;;) {
		s += strspn(s, WHITESPACE);
		if ((len = strcspn(s, WHITESPACE ":,")) == 0) {
			parse_error(p, "account %s: expected an account name "
			    "to inherit from", a->name);
			return -1;
		}
		name = xstrndup(s, len);
		other = accounts_find(p->accounts, name);
		if (other == NULL)
			parse_error(p, "account %s: cannot inherit from '%s': "
			    "no such account defined above", a->name, name);
		free(name);
		if (other == NULL)
			return -1;
		account_inherit(a, other);

		s += len;
		s += strspn(s, WHITESPACE);
		if (*s == '\0')
			return 0;
		if (*s != ',') {
			parse_error(p, "account %s: separate the accounts to "
			    "inherit from with ','", a->name);
			return -1;
		}
		s++;
	}
}

static int
parse_setting(struct parser *p, const char *key, const char *raw)
{
	const struct account_key	*kw;
	char			*quoted = NULL;
	const char		*value = raw;
	int			 rv = -1;

	if ((kw = account_key_find(key)) == NULL) {
		parse_error(p, "unknown key '%.*s'", ECHO_MAX, key);
		goto out;
	}
	if (kw->kind == KEY_UNSUPPORTED) {
		parse_error(p, "mpop key '%s' is not supported by popfetch: "
		    "%s", kw->name, kw->want);
		goto out;
	}
	if (p->cur == NULL) {
		parse_error(p, "setting outside of an account or defaults "
		    "section");
		goto out;
	}
	if (*raw == '"') {
		if (unquote(p, key, raw, &quoted) == -1)
			goto out;
		value = quoted;
	}
	/* mpop's `key [arg]`: written alone (or as ""), the key's default. */
	if (*value == '\0' && kw->bare != NULL)
		value = kw->bare;
	else if (*value == '\0') {
		parse_error(p, "'%s' needs a value: %s", kw->name, kw->want);
		goto out;
	}
	/* Whatever its value, as in mpop. */
	if (kw->kind == KEY_IGNORED) {
		rv = 0;
		goto out;
	}
	if (kw->defaults_only && p->cur != p->defaults) {
		parse_error(p, "'%s' belongs in the defaults section",
		    kw->name);
		goto out;
	}
	if (apply_key(p, kw, p->cur, raw, value) == -1)
		goto out;
	keyset_add(&p->cur->set, kw);
	rv = 0;

out:
	freezero_str(quoted);
	return rv;
}

/* raw is the value as written, value the same unquoted. */
static int
apply_key(struct parser *p, const struct account_key *kw, struct account *a,
    const char *raw, const char *value)
{
	void	*f = account_field(a, kw, 0);
	int	 none = kw->none != NULL && strcmp(value, kw->none) == 0;

	switch (kw->kind) {
	case KEY_SECRET:
		p->saw_password |= *value != '\0';
		/* FALLTHROUGH */
	case KEY_STRING:
		if (kw->max > 0 && strlen(value) > (size_t)kw->max) {
			parse_error(p, "'%s' is longer than %d bytes: %s",
			    kw->name, kw->max, kw->want);
			return -1;
		}
		set_str(f, none ? "" : value);
		return 0;
	case KEY_PATH:
		freezero_str(*(char **)f);
		*(char **)f = none || *value == '\0' ? NULL :
		    config_expand_tilde(value);
		return 0;
	case KEY_BOOL:
		return parse_bool(p, kw, value, f);
	case KEY_NUMBER:
		if (none) {
			*(int *)f = kw->none_value;
			return 0;
		}
		return parse_number(p, kw, value, kw->min, kw->max, f);
	case KEY_SIZE:
		return parse_size(p, kw, value, f);
	case KEY_CHOICE:
		return parse_choice(p, kw, value, f);
	case KEY_AUTH:
		return parse_auth(p, kw, value, f);
	case KEY_DELIVERY:
		return parse_delivery(p, kw, a, raw, value);
	case KEY_KEEP:
		return parse_keep(p, kw, a, value);
	case KEY_FINGERPRINT:
		return parse_fingerprint(p, kw, a, value);
	case KEY_SYSLOG:
		return parse_syslog(p, kw, value, f);
	case KEY_ADDRESS:
		return parse_address(p, kw, value, f);
	case KEY_DURATION:
		if (none) {
			*(int *)f = kw->none_value;
			return 0;
		}
		return parse_duration(p, kw, value, f);
	case KEY_IGNORED:
	case KEY_UNSUPPORTED:
		break;
	}
	fatalx("apply_key: key '%s' has no parser", kw->name);
}

static int
parse_choice(struct parser *p, const struct account_key *kw,
    const char *value, int *out)
{
	const struct key_choice	*c;

	for (c = kw->choices; c->word != NULL; c++) {
		if (strcmp(value, c->word) == 0) {
			*out = c->value;
			return 0;
		}
	}
	bad_value(p, kw, value);
	return -1;
}

static int
parse_auth(struct parser *p, const struct account_key *kw, const char *value,
    enum auth_method *out)
{
	if (strcasecmp(value, "digest-md5") == 0 ||
	    strcasecmp(value, "ntlm") == 0) {
		parse_error(p, "'auth %s' is not supported by popfetch (%s); "
		    "use 'auth auto', or a method the server offers (see "
		    "popfetch --serverinfo)", value, strcasecmp(value, "ntlm")
		    == 0 ? "NTLM is proprietary and weak" : "DIGEST-MD5 is "
		    "obsolete, RFC 6331");
		return -1;
	}
	if (auth_method_parse(value, out) == -1) {
		bad_value(p, kw, value);
		return -1;
	}
	/* A delivery server speaks SASL only: no USER, APOP or GSSAPI. */
	if (strcmp(kw->name, "delivery_auth") == 0 && (*out == AUTH_USER ||
	    *out == AUTH_APOP || *out == AUTH_EXTERNAL ||
	    *out == AUTH_GSSAPI)) {
		bad_value(p, kw, value);
		return -1;
	}
	return 0;
}

/*
 * `delivery KIND ARG`.  Either the whole value is quoted
 * (delivery "maildir ~/My Mail") or just the argument
 * (delivery maildir "~/My Mail"); an unquoted argument runs to the end of
 * the line, so an MDA command keeps its own quotes for the shell.
 */
static int
parse_delivery(struct parser *p, const struct account_key *kw,
    struct account *a, const char *raw, const char *value)
{
	static const struct {
		const char		*name;
		enum delivery_kind	 kind;
		int			 is_path;
	} kinds[] = {
		{ "maildir",	DELIVERY_MAILDIR,	1 },
		{ "mbox",	DELIVERY_MBOX,		1 },
		{ "mda",	DELIVERY_MDA,		0 },
		{ "lmtp",	DELIVERY_LMTP,		0 },
		{ "smtp",	DELIVERY_SMTP,		0 },
		{ "imap",	DELIVERY_IMAP,		0 },
		{ "gmail",	DELIVERY_GMAIL,		0 },
	};
	char		*quoted = NULL;
	const char	*arg;
	size_t		 i, len;
	int		 rv = -1, gmail;

	len = strcspn(value, WHITESPACE);
	arg = value + len;
	arg += strspn(arg, WHITESPACE);
	for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		if (strlen(kinds[i].name) == len &&
		    strncmp(value, kinds[i].name, len) == 0)
			break;
	}
	/* Gmail's labels are words, each "quoted" when it holds blanks. */
	gmail = i < sizeof kinds / sizeof kinds[0] &&
	    kinds[i].kind == DELIVERY_GMAIL;
	if (*raw != '"' && *arg == '"' && !gmail) {
		if (unquote(p, kw->name, arg, &quoted) == -1)
			goto out;
		arg = quoted;
	}
	if (len == 8 && strncmp(value, "exchange", 8) == 0) {
		parse_error(p, "'delivery exchange' (an Exchange pickup "
		    "directory) is not supported; use 'delivery maildir DIR' "
		    "or 'delivery mda COMMAND'");
		goto out;
	}
	if (i == sizeof kinds / sizeof kinds[0] || (*arg == '\0' && !gmail)) {
		bad_value(p, kw, value);
		goto out;
	}
	free(a->delivery_arg);
	a->delivery = kinds[i].kind;
	a->delivery_arg = kinds[i].is_path ? config_expand_tilde(arg) :
	    xstrdup(arg);
	rv = 0;

out:
	free(quoted);
	return rv;
}

/* mpop's booleans: only on and off, so that typos are not guessed at. */
static int
parse_bool(struct parser *p, const struct account_key *kw, const char *value,
    int *out)
{
	if (strcmp(value, "on") == 0)
		*out = 1;
	else if (strcmp(value, "off") == 0)
		*out = 0;
	else {
		bad_value(p, kw, value);
		return -1;
	}
	return 0;
}

/*
 * A numeric address only, as mpop takes it: a name would need a lookup
 * before every connection, and its answer could change under the user.
 */
static int
parse_address(struct parser *p, const struct account_key *kw,
    const char *value, char **out)
{
	struct in6_addr	 in6;
	struct in_addr	 in4;

	if (*value != '\0' && inet_pton(AF_INET, value, &in4) != 1 &&
	    inet_pton(AF_INET6, value, &in6) != 1) {
		bad_value(p, kw, value);
		return -1;
	}
	set_str(out, value);
	return 0;
}

/* `keep on|off|DAYS[d]`: DAYS keeps, then deletes that long after delivery. */
static int
parse_keep(struct parser *p, const struct account_key *kw, struct account *a,
    const char *value)
{
	const char	*errstr = NULL;
	size_t		 digits;
	long long	 n;
	char		*copy;

	digits = strspn(value, "0123456789");
	if (digits == 0) {
		a->keep_days = 0;
		return parse_bool(p, kw, value, &a->keep);
	}
	if (strcmp(value + digits, "") != 0 && strcmp(value + digits, "d") != 0)
		errstr = "not a number of days";
	else {
		copy = xstrndup(value, digits);
		n = strtonum(copy, kw->min, kw->max, &errstr);
		free(copy);
	}
	if (errstr != NULL) {
		bad_value(p, kw, value);
		return -1;
	}
	a->keep = 1;
	a->keep_days = (int)n;
	return 0;
}

static int
parse_number(struct parser *p, const struct account_key *kw, const char *value,
    int min, int max, int *out)
{
	const char	*errstr;
	long long	 n;

	/* Only digits: strtonum() would also take " +5". */
	if (value[strspn(value, "0123456789")] != '\0') {
		bad_value(p, kw, value);
		return -1;
	}
	n = strtonum(value, min, max, &errstr);
	if (errstr != NULL) {
		bad_value(p, kw, value);
		return -1;
	}
	*out = (int)n;
	return 0;
}

/* "90", "90s", "5m", "2h", "1d": seconds from kw->min to kw->max. */
static int
parse_duration(struct parser *p, const struct account_key *kw,
    const char *value, int *out)
{
	const char	*errstr;
	char		 digits[16];
	size_t		 n;
	long long	 v, unit = 1;

	n = strspn(value, "0123456789");
	if (n == 0 || n >= sizeof digits)
		goto bad;
	if (value[n] == 'm')
		unit = 60;
	else if (value[n] == 'h')
		unit = 3600;
	else if (value[n] == 'd')
		unit = 86400;
	else if (value[n] != 's' && value[n] != '\0')
		goto bad;
	if (value[n] != '\0' && value[n + 1] != '\0')
		goto bad;
	memcpy(digits, value, n);
	digits[n] = '\0';
	v = strtonum(digits, 0, kw->max, &errstr);
	if (errstr != NULL || v * unit < kw->min || v * unit > kw->max)
		goto bad;
	*out = (int)(v * unit);
	return 0;
bad:
	bad_value(p, kw, value);
	return -1;
}

/*
 * "10M", "512k", "2G" or plain bytes; 0 and off mean no limit.  The
 * suffixes are binary, like mpop's (1k = 1024 bytes).
 */
static int
parse_size(struct parser *p, const struct account_key *kw, const char *value,
    uint64_t *out)
{
	const char	*errstr;
	char		 digits[24];
	size_t		 n;
	uint64_t	 mult = 1;
	long long	 v;

	if (strcmp(value, "off") == 0) {
		*out = 0;
		return 0;
	}
	n = strspn(value, "0123456789");
	if (n == 0 || n >= sizeof digits)
		goto bad;
	if (value[n] != '\0') {
		if (value[n + 1] != '\0')
			goto bad;
		switch (value[n]) {
		case 'k': case 'K':
			mult = 1024;
			break;
		case 'm': case 'M':
			mult = 1024 * 1024;
			break;
		case 'g': case 'G':
			mult = 1024 * 1024 * 1024;
			break;
		default:
			goto bad;
		}
	}
	memcpy(digits, value, n);
	digits[n] = '\0';
	/* 1 TiB is larger than any message a POP3 server will hold. */
	v = strtonum(digits, 0, (1LL << 40) / (long long)mult, &errstr);
	if (errstr != NULL)
		goto bad;
	*out = (uint64_t)v * mult;
	return 0;
bad:
	bad_value(p, kw, value);
	return -1;
}

static int
parse_syslog(struct parser *p, const struct account_key *kw, const char *value,
    int *out)
{
	static const struct {
		const char	*name;
		int		 facility;
	} names[] = {
		{ "on", LOG_MAIL }, { "mail", LOG_MAIL }, { "user", LOG_USER },
		{ "daemon", LOG_DAEMON }, { "local0", LOG_LOCAL0 },
		{ "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 },
		{ "local3", LOG_LOCAL3 }, { "local4", LOG_LOCAL4 },
		{ "local5", LOG_LOCAL5 }, { "local6", LOG_LOCAL6 },
		{ "local7", LOG_LOCAL7 },
	};
	size_t	i;

	if (strcmp(value, "off") == 0) {
		*out = -1;
		return 0;
	}
	/* mpop writes LOG_MAIL; accept its spelling too. */
	if (strncasecmp(value, "LOG_", 4) == 0)
		value += 4;
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (strcasecmp(value, names[i].name) == 0) {
			*out = names[i].facility;
			return 0;
		}
	}
	bad_value(p, kw, value);
	return -1;
}

/*
 * The SHA-256 fingerprint as `popfetch --serverinfo` (and mpop) print it,
 * AB:CD:..., or the bare hex digits.  mpop also took SHA-1 and MD5
 * fingerprints; tell users of those what to do instead.
 */
static int
parse_fingerprint(struct parser *p, const struct account_key *kw,
    struct account *a, const char *value)
{
	unsigned char	 fp[64];
	int		 n;

	if (*value == '\0') {
		a->has_fingerprint = 0;
		return 0;
	}
	n = hex_bytes(value, fp, sizeof fp);
	if (n == FINGERPRINT_LEN) {
		memcpy(a->tls_fingerprint, fp, FINGERPRINT_LEN);
		a->has_fingerprint = 1;
		return 0;
	}
	if (n == 20 || n == 16)
		parse_error(p, "'%s' is a %s fingerprint; use the SHA-256 "
		    "fingerprint (e.g. from 'popfetch --serverinfo')",
		    kw->name, n == 20 ? "SHA-1" : "MD5");
	else
		bad_value(p, kw, value);
	return -1;
}

/*
 * "ab:CD:01" or "abCD01" into bytes.  Returns the number of bytes, or -1
 * if s is neither form or holds more than size bytes.
 */
static int
hex_bytes(const char *s, unsigned char *out, size_t size)
{
	static const char	 digits[] = "0123456789abcdef";
	int			 colons = strchr(s, ':') != NULL;
	size_t			 n = 0;
	const char		*hi, *lo;

	while (*s != '\0') {
		if (n == size || s[1] == '\0')
			return -1;
		hi = strchr(digits, tolower((unsigned char)s[0]));
		lo = strchr(digits, tolower((unsigned char)s[1]));
		if (hi == NULL || lo == NULL)
			return -1;
		out[n++] = (unsigned char)((hi - digits) << 4 | (lo - digits));
		s += 2;
		if (colons && *s == ':' && s[1] != '\0')
			s++;
		else if (colons && *s != '\0')
			return -1;
	}
	return (int)n;
}

/*
 * raw starts with '"'; *out gets the string up to the matching '"', with
 * \" and \\ unescaped.  Only whitespace may follow.
 */
static int
unquote(struct parser *p, const char *key, const char *raw, char **out)
{
	struct buf	 b;
	const char	*s;

	*out = NULL;
	buf_init(&b);
	buf_add(&b, "", 0);
	for (s = raw + 1; *s != '"'; s++) {
		if (*s == '\0') {
			parse_error(p, "'%s': missing closing '\"'", key);
			goto fail;
		}
		if (*s == '\\') {
			s++;
			if (*s != '"' && *s != '\\') {
				parse_error(p, "'%s': in quotes, only '\"' and "
				    "'\\' may follow a backslash", key);
				goto fail;
			}
		}
		buf_add(&b, s, 1);
	}
	s++;
	if (s[strspn(s, WHITESPACE)] != '\0') {
		parse_error(p, "'%s': text after the closing '\"'", key);
		goto fail;
	}
	*out = b.data;
	return 0;

fail:
	/* The buffer may hold part of a password. */
	explicit_bzero(b.data, b.size);
	buf_free(&b);
	return -1;
}

/*
 * Any string may be a password, so the old one is zeroed.  An empty
 * value (the key alone, mpop's way to unset it) leaves NULL.
 */
static void
set_str(char **dst, const char *value)
{
	freezero_str(*dst);
	*dst = *value == '\0' ? NULL : xstrdup(value);
}

static char *
trim(char *s)
{
	char	*end;

	s += strspn(s, WHITESPACE);
	end = s + strlen(s);
	while (end > s && strchr(WHITESPACE, end[-1]) != NULL)
		end--;
	*end = '\0';
	return s;
}

static void
parse_error(struct parser *p, const char *fmt, ...)
{
	char	msg[ERROR_MSG_MAX];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	error_set(p->err, EX_CONFIG, "%s:%d: %s", p->file, p->line, msg);
}

/* Never called for a password: those are not checked, so never echoed. */
static void
bad_value(struct parser *p, const struct account_key *kw, const char *value)
{
	parse_error(p, "invalid value '%.*s' for '%s': expected %s", ECHO_MAX,
	    value, kw->name, kw->want);
}

char *
config_default_path(void)
{
	const char	*xdg;
	char		*path;

	/* XDG: a relative XDG_CONFIG_HOME is invalid and ignored. */
	xdg = getenv("XDG_CONFIG_HOME");
	if (xdg != NULL && *xdg == '/')
		xasprintf(&path, "%s/popfetch/fetchrc", xdg);
	else
		xasprintf(&path, "%s/.config/popfetch/fetchrc",
		    account_home_dir());
	if (access(path, F_OK) == 0)
		return path;
	free(path);
	xasprintf(&path, "%s/.fetchrc", account_home_dir());
	return path;
}

char *
config_expand_tilde(const char *s)
{
	char	*path;

	if (s[0] != '~' || (s[1] != '\0' && s[1] != '/'))
		return xstrdup(s);
	xasprintf(&path, "%s%s", account_home_dir(), s + 1);
	return path;
}

