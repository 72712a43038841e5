/* account.c -- the keys, account defaults, inheritance, validation. */
#include "config.h"

#include <sys/types.h>

#include <errno.h>
#include <stddef.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "account.h"
#include "log.h"
#include "buf.h"
#include "error.h"
#include "smtp.h"
#include "xmalloc.h"

#define DEFAULT_TIMEOUT	180
#define DEFAULT_MDA_TIMEOUT	300
#define DEFAULT_LOCK_WAIT	5
#define DEFAULT_REJECT_LIMIT	3	/* runs, as the issue asks */
#define TIMEOUT_MAX	3600

#define STR(m)	{ FIELD_STRING, offsetof(struct account, m), 0 }
#define VAL(m)	{ FIELD_VALUE, offsetof(struct account, m), \
		  sizeof ((struct account *)0)->m }
#define KEY(n, k, ...)	.name = n, .kind = KEY_##k, .field = { __VA_ARGS__ }
#define ON_OFF		.want = "on or off", .bare = "on"
#define SIZE_WANT	"a size in bytes, optionally with k, M or G, or off"
#define UNSUPPORTED(n)	.name = n, .kind = KEY_UNSUPPORTED

static const struct key_choice delivery_tls_words[] = {
	{ "auto", SMTP_TLS_AUTO }, { "on", SMTP_TLS_ON },
	{ "off", SMTP_TLS_OFF }, { NULL, 0 }
};

static const struct key_choice provider_words[] = {
	{ "microsoft", OAUTH_PROVIDER_MICROSOFT },
	{ "google", OAUTH_PROVIDER_GOOGLE },
	{ "generic", OAUTH_PROVIDER_GENERIC },
	{ NULL, 0 }
};

static const struct key_choice pipelining_words[] = {
	/*
	 * mpop's `on` pipelines even where the server does not say it can;
	 * popfetch pipelines only where CAPA offers it.
	 */
	{ "auto", 1 }, { "on", 1 }, { "off", 0 }, { NULL, 0 }
};

static const struct key_choice log_format_words[] = {
	{ "text", LOG_FORMAT_TEXT }, { "json", LOG_FORMAT_JSON }, { NULL, 0 }
};

/*
 * Every key; the order is the order of the `set` bits.  mpop's own keys
 * keep mpop's meaning, and where mpop lets a key stand alone (`bare`) or
 * takes a word for "none", so do we.
 */
const struct account_key account_keys[] = {
	{ KEY("host", STRING, STR(host)), .want = "a host name" },
	{ KEY("port", NUMBER, VAL(port)), .want = "a number from 1 to 65535",
	    .min = 1, .max = 65535 },
	{ KEY("tls", BOOL, VAL(tls)), ON_OFF },
	{ KEY("tls_starttls", BOOL, VAL(tls_starttls)), ON_OFF },
	{ KEY("tls_trust_file", PATH, STR(pop.tls_trust_file)),
	    .want = "a file name or 'system'", .bare = "system",
	    .none = "system" },
	{ KEY("tls_fingerprint", FINGERPRINT,
	    VAL(has_fingerprint), VAL(tls_fingerprint)),
	    .want = "a SHA-256 fingerprint: 32 hex bytes separated by colons",
	    .bare = "" },
	{ KEY("tls_certcheck", BOOL, VAL(tls_certcheck)), ON_OFF },
	/* mpop: written alone, user, password and the rest unset. */
	{ KEY("user", STRING, STR(pop.user)), .want = "a user name",
	    .bare = "" },
	{ KEY("password", SECRET, STR(pop.password)), .want = "a password",
	    .bare = "" },
	{ KEY("passwordeval", STRING, STR(pop.passwordeval)),
	    .want = "a command", .bare = "" },
	{ KEY("auth", AUTH, VAL(pop.auth)),
	    .want = "auto, user, apop, plain, login, cram-md5, scram-sha-1, "
	    "scram-sha-256, scram-sha-1-plus, scram-sha-256-plus, xoauth2, "
	    "oauthbearer, external or gssapi", .bare = "on" },
	{ KEY("delivery", DELIVERY, VAL(delivery), STR(delivery_arg)),
	    .want = "maildir DIR, mbox FILE, mda COMMAND, lmtp ADDRESS "
	    "[RECIPIENT], smtp HOST[:PORT] RECIPIENT, imap URL or gmail "
	    "[LABEL...]" },
	{ KEY("keep", KEEP, VAL(keep), VAL(keep_days)),
	    .want = "on, off, or a number of days from 1 to 36500 such as 14d",
	    .bare = "on", .min = 1, .max = 36500 },
	{ KEY("uidls_file", PATH, STR(uidls_file)), .want = "a file name" },
	/*
	 * mpop's `timeout off` waits forever; a fetcher run from cron must
	 * not hang, so off is the longest timeout we allow.
	 */
	{ KEY("timeout", NUMBER, VAL(timeout)),
	    .want = "a number of seconds from 1 to 3600, or off",
	    .none = "off", .none_value = TIMEOUT_MAX, .min = 1,
	    .max = TIMEOUT_MAX },
	{ KEY("skipsize", SIZE, VAL(skipsize)), .want = SIZE_WANT },
	{ KEY("killsize", SIZE, VAL(killsize)), .want = SIZE_WANT },
	{ KEY("fetch_limit", NUMBER, VAL(fetch_limit)),
	    .want = "a number of messages from 1 to 1000000, or off",
	    .none = "off", .min = 1, .max = 1000000 },
	{ KEY("fetch_size_limit", SIZE, VAL(fetch_size_limit)),
	    .want = SIZE_WANT },
	/* mpop: `filter` with no command turns filtering off. */
	{ KEY("filter", STRING, STR(filter)), .want = "a command, or off",
	    .bare = "off", .none = "off" },
	{ KEY("logfile", PATH, STR(logfile)), .want = "a file name, or off",
	    .bare = "off", .none = "off" },
	{ KEY("syslog", SYSLOG, VAL(syslog)), .want = "off, on, or a "
	    "facility: mail, user, daemon, local0..local7", .bare = "on" },
	/* How the whole run goes, not a property of one account. */
	{ KEY("jobs", NUMBER, VAL(jobs)),
	    .want = "a number of accounts from 1 to 64", .min = 1, .max = 64,
	    .defaults_only = 1 },
	{ KEY("tls_priorities", STRING, STR(tls_priorities)),
	    .want = "a GnuTLS priority string", .bare = "" },
	{ KEY("tls_cert_file", PATH, STR(tls_cert_file)),
	    .want = "a file name", .bare = "" },
	{ KEY("tls_key_file", PATH, STR(tls_key_file)),
	    .want = "a file name", .bare = "" },
	{ KEY("tls_crl_file", PATH, STR(tls_crl_file)),
	    .want = "a file name", .bare = "" },
	{ KEY("received_header", BOOL, VAL(received_header)), ON_OFF },
	{ KEY("mda_timeout", NUMBER, VAL(mda_timeout)),
	    .want = "a number of seconds from 1 to 3600", .min = 1,
	    .max = TIMEOUT_MAX },
	/* Not in mpop: what becomes of a message refused run after run. */
	{ KEY("delivery_reject_limit", NUMBER, VAL(delivery_reject_limit)),
	    .want = "a number of runs from 0 to 1000 (0 or off: never set "
	    "aside)", .none = "off", .min = 0, .max = 1000 },
	{ KEY("reject_maildir", PATH, STR(reject_maildir)),
	    .want = "a directory, or off", .bare = "off", .none = "off" },
	{ KEY("lock_wait", NUMBER, VAL(lock_wait)),
	    .want = "a number of seconds from 0 to 3600", .min = 0,
	    .max = 3600 },
	{ KEY("only_new", BOOL, VAL(only_new)), ON_OFF },
	{ KEY("pipelining", CHOICE, VAL(pipelining)),
	    .want = "auto, on or off", .bare = "on",
	    .choices = pipelining_words },
	/* mpop: no value means GnuTLS's default. */
	{ KEY("tls_min_dh_prime_bits", NUMBER, VAL(tls_min_dh_prime_bits)),
	    .want = "a number of bits from 512 to 16384", .bare = "0",
	    .none = "0", .min = 512, .max = 16384 },
	/* mpop: no value means no particular address. */
	{ KEY("source_ip", ADDRESS, STR(source_ip)),
	    .want = "an IPv4 or IPv6 address", .bare = "" },
	/* mpop: no value means no proxy, or the default port 1080. */
	{ KEY("proxy_host", STRING, STR(proxy_host)),
	    .want = "a host name or address", .bare = "" },
	{ KEY("proxy_port", NUMBER, VAL(proxy_port)),
	    .want = "a number from 1 to 65535", .bare = "0", .none = "0",
	    .min = 1, .max = 65535 },
	/*
	 * Not in mpop: the proxy's own login (RFC 1929), e.g. for Tor.  Its
	 * length is one byte on the wire: longer is the file's error, not the
	 * proxy's.
	 */
	{ KEY("proxy_user", STRING, STR(proxy_user)),
	    .want = "a user name of at most 255 bytes (RFC 1929)",
	    .bare = "", .max = 255 },
	{ KEY("proxy_password", SECRET, STR(proxy_password)),
	    .want = "a password of at most 255 bytes (RFC 1929)", .bare = "",
	    .max = 255 },
	/*
	 * Not in mpop: TLS towards a delivery server (delivery smtp).  auto
	 * takes STARTTLS where offered, and still checks the certificate.
	 */
	{ KEY("delivery_tls", CHOICE, VAL(delivery_tls)),
	    .want = "auto, on or off", .bare = "on",
	    .choices = delivery_tls_words },
	{ KEY("delivery_tls_trust_file", PATH, STR(dest.tls_trust_file)),
	    .want = "a file name or 'system'", .bare = "system",
	    .none = "system" },
	{ KEY("delivery_user", STRING, STR(dest.user)),
	    .want = "a user name", .bare = "" },
	{ KEY("delivery_auth", AUTH, VAL(dest.auth)),
	    .want = "auto, plain, login, cram-md5, scram-sha-1 or "
	    "scram-sha-256", .bare = "auto" },
	{ KEY("delivery_oauth2_account", STRING, STR(delivery_oauth2_account)),
	    .want = "the name of the account block holding the OAuth "
	    "settings", .bare = "" },
	{ KEY("delivery_password", SECRET, STR(dest.password)),
	    .want = "a password", .bare = "" },
	{ KEY("delivery_passwordeval", STRING, STR(dest.passwordeval)),
	    .want = "a command", .bare = "" },
	{ KEY("delivery_flags", STRING, STR(delivery_flags)),
	    .want = "IMAP flags such as \\Seen", .bare = "" },
	/*
	 * Not in mpop: delivery gmail.  Gmail's spam classifier has its say
	 * unless never_spam; the URL is for tests and Google-compatible
	 * services (https: unless delivery_tls off).
	 */
	{ KEY("gmail_never_spam", BOOL, VAL(gmail_never_spam)), ON_OFF },
	{ KEY("gmail_api_url", STRING, STR(gmail_api_url)),
	    .want = "an https: URL such as https://gmail.googleapis.com" },

	/* Not in mpop: OAuth 2.0 built in (oauth.h). */
	{ KEY("oauth2_provider", CHOICE, VAL(oauth2_provider)),
	    .want = "microsoft, google or generic",
	    .choices = provider_words },
	{ KEY("oauth2_client_id", STRING, STR(oauth2_client_id)),
	    .want = "a client (application) ID", .bare = "" },
	{ KEY("oauth2_client_secret", SECRET, STR(oauth2_client_secret)),
	    .want = "a client secret", .bare = "" },
	{ KEY("oauth2_client_secret_eval", STRING,
	    STR(oauth2_client_secret_eval)), .want = "a command", .bare = "" },
	{ KEY("oauth2_tenant", STRING, STR(oauth2_tenant)),
	    .want = "a tenant: common, organizations, consumers, a domain or "
	    "an ID", .bare = "" },
	{ KEY("oauth2_scope", STRING, STR(oauth2_scope)),
	    .want = "scopes separated by spaces", .bare = "" },
	{ KEY("oauth2_device_endpoint", STRING, STR(oauth2_device_endpoint)),
	    .want = "an https: URL", .bare = "" },
	{ KEY("oauth2_auth_endpoint", STRING, STR(oauth2_auth_endpoint)),
	    .want = "an https: URL", .bare = "" },
	{ KEY("oauth2_token_endpoint", STRING, STR(oauth2_token_endpoint)),
	    .want = "an https: URL", .bare = "" },
	{ KEY("oauth2_trust_file", PATH, STR(oauth2_trust_file)),
	    .want = "a file name or 'system'", .bare = "system",
	    .none = "system" },
	{ KEY("oauth2_token_file", PATH, STR(oauth2_token_file)),
	    .want = "a file name" },

	/* popfetch's own, for --daemon. */
	{ KEY("interval", DURATION, VAL(interval)),
	    .want = "a duration from 30s to 7d (30s, 5m, 1h), or off",
	    .none = "off", .none_value = 0, .min = 30, .max = 7 * 86400 },
	{ KEY("log_format", CHOICE, VAL(log_format)), .want = "text or json",
	    .choices = log_format_words },
	{ KEY("on_failure", STRING, STR(on_failure)),
	    .want = "a command, or off", .bare = "off", .none = "off" },

	/* mpop 1.4 takes it and does nothing: GnuTLS has no SSLv3. */
	{ KEY("tls_force_sslv3", IGNORED, { 0 }), ON_OFF },

	/* mpop keys that popfetch does not support, and what to do. */
	{ UNSUPPORTED("socket"),
	    .want = "popfetch connects over TCP only; use host and port" },
	{ UNSUPPORTED("domain"),
	    .want = "it is an SMTP (msmtp) key with no meaning for POP3; "
	    "remove the line" },
	{ UNSUPPORTED("ntlmdomain"),
	    .want = "NTLM is not supported; remove the line and use an auth "
	    "method the server offers (see popfetch --serverinfo)" },
	{ UNSUPPORTED("tls_host_override"),
	    .want = "pin the server's certificate with tls_fingerprint "
	    "instead" },
	{ UNSUPPORTED("eval"),
	    .want = "write the lines its command prints into the file "
	    "instead (for a password, use passwordeval)" },
	{ UNSUPPORTED("tls_nocertcheck"),
	    .want = "write 'tls_certcheck off' instead" },
};
const size_t	account_nkeys = sizeof account_keys / sizeof account_keys[0];
_Static_assert(sizeof account_keys / sizeof account_keys[0] <=
    ACCOUNT_KEYS_MAX, "struct keyset has a bit for every key");

static char	*strdup_or_null(const char *);
static void	 replace_str(char **, const char *);
static void	 each_string(struct account *, void (*)(char **));
static void	 dup_string(char **);
static void	 free_string(char **);
static void	 add_path_part(struct buf *, const char *);

struct account *
account_new(const char *name, const char *file, int line)
{
	struct account	*a;

	a = xcalloc(1, sizeof *a);
	a->name = xstrdup(name);
	a->file = strdup_or_null(file);
	a->line = line;
	a->tls = 1;
	a->tls_starttls = -1;
	a->tls_certcheck = 1;
	a->pop.auth = AUTH_AUTO;
	a->delivery = DELIVERY_NONE;
	a->timeout = DEFAULT_TIMEOUT;
	a->syslog = -1;
	a->received_header = 1;
	a->mda_timeout = DEFAULT_MDA_TIMEOUT;
	a->lock_wait = DEFAULT_LOCK_WAIT;
	a->only_new = 1;
	a->pipelining = 1;
	a->delivery_reject_limit = DEFAULT_REJECT_LIMIT;
	return a;
}

struct account *
account_copy(const struct account *src, const char *name, const char *file,
    int line)
{
	struct account	*a;

	a = xmalloc(sizeof *a);
	*a = *src;
	a->name = xstrdup(name);
	a->file = strdup_or_null(file);
	a->line = line;
	each_string(a, dup_string);
	memset(&a->entry, 0, sizeof a->entry);
	return a;
}

/*
 * What dst takes over becomes dst's own explicit setting, so that an
 * account inheriting from dst later gets it too.
 */
void
account_inherit(struct account *dst, const struct account *src)
{
	const struct account_key	*k;
	const struct key_field		*f;
	const char			*from;
	char				*to;

	for (k = account_keys; k < account_keys + account_nkeys; k++) {
		if (!keyset_has(&src->set, k))
			continue;
		for (f = k->field; f < k->field + 2; f++) {
			to = (char *)dst + f->at;
			from = (const char *)src + f->at;
			if (f->type == FIELD_STRING)
				replace_str((char **)to, *(char *const *)from);
			else if (f->type == FIELD_VALUE)
				memcpy(to, from, f->size);
		}
	}
	keyset_union(&dst->set, &src->set);
}

/* Whether every key's value is the same in a and b (the name aside). */
int
account_same(const struct account *a, const struct account *b)
{
	const struct account_key	*k;
	const struct key_field		*f;
	const char			*x, *y;

	for (k = account_keys; k < account_keys + account_nkeys; k++)
		for (f = k->field; f < k->field + 2; f++) {
			x = (const char *)a + f->at;
			y = (const char *)b + f->at;
			if (f->type == FIELD_VALUE && memcmp(x, y, f->size) != 0)
				return 0;
			if (f->type != FIELD_STRING)
				continue;
			x = *(char *const *)x;
			y = *(char *const *)y;
			if ((x == NULL) != (y == NULL) || (x != NULL &&
			    strcmp(x, y) != 0))
				return 0;
		}
	return 1;
}

const struct account_key *
account_key_find(const char *name)
{
	size_t	i;

	for (i = 0; i < account_nkeys; i++) {
		if (strcmp(account_keys[i].name, name) == 0)
			return &account_keys[i];
	}
	return NULL;
}

void
keyset_add(struct keyset *s, const struct account_key *k)
{
	size_t	i = (size_t)(k - account_keys);

	s->w[i / 64] |= UINT64_C(1) << (i % 64);
}

int
keyset_has(const struct keyset *s, const struct account_key *k)
{
	size_t	i = (size_t)(k - account_keys);

	return (s->w[i / 64] >> (i % 64)) & 1;
}

void
keyset_union(struct keyset *dst, const struct keyset *src)
{
	size_t	i;

	for (i = 0; i < sizeof dst->w / sizeof dst->w[0]; i++)
		dst->w[i] |= src->w[i];
}

int
keyset_equal(const struct keyset *a, const struct keyset *b)
{
	return memcmp(a->w, b->w, sizeof a->w) == 0;
}

void *
account_field(struct account *a, const struct account_key *k, int i)
{
	return (char *)a + k->field[i].at;
}

static char *
strdup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

/* Call fn on every string field of a that a key owns. */
static void
each_string(struct account *a, void (*fn)(char **))
{
	const struct account_key	*k;
	const struct key_field		*f;

	for (k = account_keys; k < account_keys + account_nkeys; k++)
		for (f = k->field; f < k->field + 2; f++)
			if (f->type == FIELD_STRING)
				fn((char **)((char *)a + f->at));
}

static void
dup_string(char **s)
{
	*s = strdup_or_null(*s);
}

static void
free_string(char **s)
{
	freezero_str(*s);
}

/* Every string may be the password, so old values are always zeroed. */
static void
replace_str(char **dst, const char *src)
{
	freezero_str(*dst);
	*dst = strdup_or_null(src);
}

void
account_free(struct account *a)
{
	if (a == NULL)
		return;
	free(a->name);
	free(a->file);
	/* Every string may be the password, so all are zeroed. */
	each_string(a, free_string);
	free(a);
}

void
accounts_free(struct accounts *list)
{
	struct account	*a;

	while ((a = TAILQ_FIRST(list)) != NULL) {
		TAILQ_REMOVE(list, a, entry);
		account_free(a);
	}
}

struct account *
accounts_find(struct accounts *list, const char *name)
{
	struct account	*a;

	TAILQ_FOREACH(a, list, entry) {
		if (strcmp(a->name, name) == 0)
			return a;
	}
	return NULL;
}

enum tls_mode
account_tls_mode(const struct account *a, const char **why)
{
	const char	*unused;

	if (why == NULL)
		why = &unused;
	if (!a->tls) {
		*why = "tls is off";
		return TLS_MODE_OFF;
	}
	if (a->tls_starttls != -1) {
		*why = a->tls_starttls ? "tls_starttls on" : "tls_starttls off";
		return a->tls_starttls ? TLS_MODE_STLS : TLS_MODE_IMPLICIT;
	}
	if (a->port == 110) {
		*why = "port 110 speaks STLS, and tls_starttls is not set";
		return TLS_MODE_STLS;
	}
	if (a->port == 995)
		*why = "port 995 speaks implicit TLS, and tls_starttls is not "
		    "set";
	else if (a->port == 0)
		*why = "popfetch's default: neither port nor tls_starttls is "
		    "set";
	else
		*why = "popfetch's default for a port other than 110 and 995 "
		    "('tls_starttls on' for STLS)";
	return TLS_MODE_IMPLICIT;
}

const char *
account_tls_mode_name(enum tls_mode mode)
{
	switch (mode) {
	case TLS_MODE_OFF:
		return "no TLS";
	case TLS_MODE_IMPLICIT:
		return "implicit TLS";
	case TLS_MODE_STLS:
		break;
	}
	return "STLS";
}

int
account_port(const struct account *a)
{
	if (a->port != 0)
		return a->port;
	return account_tls_mode(a, NULL) == TLS_MODE_IMPLICIT ? 995 : 110;
}

int
account_validate(const struct account *a, struct error *err)
{
	const char	*why = NULL;

	if (a->host == NULL)
		why = "no host set (add 'host pop.example.com')";
	else if (a->pop.user == NULL)
		why = "no user set (add 'user NAME')";
	else if (a->delivery == DELIVERY_NONE)
		why = "no delivery set (add 'delivery maildir ~/Maildir')";
	else if (!a->tls && a->tls_starttls == 1)
		why = "'tls_starttls on' needs 'tls on'";
	else if (!a->tls && a->has_fingerprint)
		why = "'tls_fingerprint' needs 'tls on'";
	else if ((a->tls_cert_file == NULL) != (a->tls_key_file == NULL))
		why = "'tls_cert_file' and 'tls_key_file' go together; set "
		    "both";
	else if (!a->tls_certcheck && a->has_fingerprint)
		why = "'tls_fingerprint' and 'tls_certcheck off' contradict "
		    "each other; remove one";
	else if ((a->proxy_user == NULL) != (a->proxy_password == NULL))
		why = "'proxy_user' and 'proxy_password' go together; set "
		    "both";
	if (why == NULL)
		return 0;
	error_set(err, EX_CONFIG, "%s:%d: %s",
	    a->file != NULL ? a->file : "(no file)", a->line, why);
	return -1;
}

const char *
account_home_dir(void)
{
	const char	*home;
	struct passwd	*pw;

	if ((home = getenv("HOME")) != NULL && *home != '\0')
		return home;
	if ((pw = getpwuid(getuid())) != NULL && pw->pw_dir != NULL)
		return pw->pw_dir;
	return "/";
}

char *
account_state_dir(void)
{
	const char	*state;
	char		*dir;

	/* XDG: a relative XDG_STATE_HOME is invalid and ignored. */
	state = getenv("XDG_STATE_HOME");
	if (state != NULL && *state == '/')
		xasprintf(&dir, "%s/popfetch", state);
	else
		xasprintf(&dir, "%s/.local/state/popfetch",
		    account_home_dir());
	return dir;
}

/* A user or host name as one path component. */
static void
add_path_part(struct buf *b, const char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		buf_add(b, *s == '/' ? "_" : s, 1);
}

char *
account_token_path(const struct account *a)
{
	struct buf	 b;
	const char	*state;

	if (a->oauth2_token_file != NULL)
		return xstrdup(a->oauth2_token_file);
	buf_init(&b);
	/* XDG: a relative XDG_STATE_HOME is invalid and ignored. */
	state = getenv("XDG_STATE_HOME");
	if (state != NULL && *state == '/')
		buf_printf(&b, "%s/popfetch/oauth/", state);
	else
		buf_printf(&b, "%s/.local/state/popfetch/oauth/",
		    account_home_dir());
	add_path_part(&b, a->name);
	return b.data;
}

char *
account_uidls_path(const struct account *a)
{
	struct buf	 b;
	char		*dflt = NULL;
	const char	*p, *state;

	if ((p = a->uidls_file) == NULL) {
		/* XDG: a relative XDG_STATE_HOME is invalid and ignored. */
		state = getenv("XDG_STATE_HOME");
		if (state != NULL && *state == '/')
			xasprintf(&dflt, "%s/popfetch/uidls/%%U@%%H", state);
		else
			xasprintf(&dflt, "%s/.local/state/popfetch/uidls/%%U@%%H",
			    account_home_dir());
		p = dflt;
	}

	buf_init(&b);
	for (; *p != '\0'; p++) {
		if (p[0] == '%' && p[1] == 'U') {
			add_path_part(&b, a->pop.user);
			p++;
		} else if (p[0] == '%' && p[1] == 'H') {
			add_path_part(&b, a->host);
			p++;
		} else
			buf_add(&b, p, 1);
	}
	free(dflt);
	if (b.data == NULL)
		return xstrdup("");
	return b.data;
}

/*
 * The list head is not at hand (fetch_account() gets one account), but
 * the links are: walk them both ways.
 */
const struct account *
account_sibling(const struct account *a, const char *name)
{
	const struct account	*b;

	if (strcmp(a->name, name) == 0)
		return a;
	if (a->entry.tqe_prev == NULL)		/* in no list */
		return NULL;
	for (b = TAILQ_PREV(a, accounts, entry); b != NULL;
	    b = TAILQ_PREV(b, accounts, entry))
		if (strcmp(b->name, name) == 0)
			return b;
	for (b = TAILQ_NEXT(a, entry); b != NULL; b = TAILQ_NEXT(b, entry))
		if (strcmp(b->name, name) == 0)
			return b;
	return NULL;
}

int
account_is_signin(const struct account *a)
{
	const struct account	*b;

	if (a->entry.tqe_prev == NULL)		/* in no list */
		return 0;
	for (b = a; b != NULL; b = TAILQ_PREV(b, accounts, entry))
		if (b->delivery_oauth2_account != NULL &&
		    strcmp(b->delivery_oauth2_account, a->name) == 0)
			return 1;
	for (b = TAILQ_NEXT(a, entry); b != NULL; b = TAILQ_NEXT(b, entry))
		if (b->delivery_oauth2_account != NULL &&
		    strcmp(b->delivery_oauth2_account, a->name) == 0)
			return 1;
	return 0;
}
