/* test_config.c -- the fetchrc parser and account settings. */
#include "config.h"

#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "account.h"
#include "password.h"
#include "smtp.h"
#include "conf.h"
#include "error.h"
#include "tap.h"
#include "xmalloc.h"

#define HOME	"/home/tester"

static int	 parse(const char *, struct accounts *, struct error *);
static void	 parse_fails(const char *, const char *);
static struct account *one(const char *, struct accounts *);
static struct keyset keys(const char *);
static int	 same_values(const struct account *, const struct account *,
		    int);
static void	 test_defaults(void);
static void	 test_inherit(void);
static void	 test_quoting(void);
static void	 test_comments(void);
static void	 test_every_key(void);
static void	 test_values(void);
static void	 test_errors(void);
static void	 test_fingerprint(void);
static void	 test_tilde(void);
static void	 test_uidls_path(void);
static void	 test_port(void);
static void	 test_password(void);
static void	 test_validate(void);
static void	 write_file(const char *, const char *, mode_t);
static void	 test_load(void);
static void	 test_default_path(void);

static char	 tmpdir[] = "/tmp/test_config.XXXXXX";

static int
parse(const char *text, struct accounts *list, struct error *err)
{
	TAILQ_INIT(list);
	error_clear(err);
	return config_parse_string(text, "rc", list, err);
}

/* text must fail to parse with exactly the message want. */
static void
parse_fails(const char *text, const char *want)
{
	struct accounts	list;
	struct error	err;
	int		rv;

	rv = parse(text, &list, &err);
	ok(rv == -1 && err.ex == EX_CONFIG, "refused: %s", want);
	is_str(err.msg, want, "message: %s", want);
	accounts_free(&list);
}

/* Parse text that must be valid and yield an account called name. */
static struct account *
one(const char *text, struct accounts *list)
{
	struct error	err;

	if (parse(text, list, &err) == -1) {
		printf("# unexpected error: %s\n", err.msg);
		return NULL;
	}
	return TAILQ_LAST(list, accounts);
}

static void
test_defaults(void)
{
	struct accounts	 list;
	struct error	 err;
	struct account	*a, *b;
	struct keyset	 want;

	is_int(parse(
	    "defaults\n"
	    "port 1000\n"
	    "user du\n"
	    "account a\n"
	    "host ha\n"
	    "defaults\n"
	    "port 2000\n"
	    "keep on\n"
	    "account b\n", &list, &err), 0, "defaults: parses");
	a = accounts_find(&list, "a");
	b = accounts_find(&list, "b");
	ok(a != NULL && b != NULL, "defaults: both accounts exist");
	if (a == NULL || b == NULL)
		goto out;
	is_int(a->port, 1000, "defaults: a has the first defaults' port");
	is_str(a->pop.user, "du", "defaults: a has the default user");
	is_str(a->host, "ha", "defaults: a has its own host");
	is_int(a->keep, 0, "defaults: later defaults do not reach a");
	is_int(b->port, 2000, "defaults: b has the second defaults' port");
	is_str(b->pop.user, "du", "defaults: sections accumulate");
	is_int(b->keep, 1, "defaults: b has keep from the second section");
	ok(b->host == NULL, "defaults: b does not get a's host");
	is_int(a->line, 4, "defaults: a's line");
	is_str(a->file, "rc", "defaults: a's file");
	is_int(a->tls, 1, "built-in: tls on");
	is_int(a->tls_starttls, -1, "built-in: tls_starttls not said");
	is_int(a->tls_certcheck, 1, "built-in: tls_certcheck on");
	is_int(a->pop.auth, AUTH_AUTO, "built-in: auth auto");
	is_int(a->timeout, 180, "built-in: timeout 180");
	is_int(b->port, 2000, "built-in port overridden");
	want = keys("host");
	ok(keyset_equal(&a->set, &want), "set mask: only what a's lines set");
out:
	accounts_free(&list);
}

static void
test_inherit(void)
{
	struct accounts	 list;
	struct error	 err;
	struct account	*a;
	struct keyset	 want;
	const char	*base =
	    "defaults\n"
	    "timeout 30\n"
	    "account b\n"
	    "port 1\n"
	    "user ub\n"
	    "keep on\n"
	    "account c\n"
	    "port 2\n"
	    "host hc\n"
	    "defaults\n"
	    "timeout 60\n";
	char		*text;

	xasprintf(&text, "%saccount a : b,c\n", base);
	a = one(text, &list);
	free(text);
	ok(a != NULL && strcmp(a->name, "a") == 0, "inherit: a parsed");
	if (a != NULL) {
		is_int(a->port, 2, "inherit b,c: c's port wins");
		is_str(a->pop.user, "ub", "inherit b,c: user from b");
		is_str(a->host, "hc", "inherit b,c: host from c");
		is_int(a->keep, 1, "inherit b,c: c's unset keep does not undo"
		    " b's");
		is_int(a->timeout, 60, "inherit: defaults b had are not "
		    "inherited");
		want = keys("port user keep host");
		ok(keyset_equal(&a->set, &want),
		    "inherit: inherited keys count as set");
	}
	accounts_free(&list);

	a = one("defaults\nfilter f1\nsyslog on\naccount b\nskipsize 1k\n"
	    "killsize 2k\nlogfile /l\nfilter off\naccount a : b\n", &list);
	ok(a != NULL && strcmp(a->name, "a") == 0, "inherit selection keys");
	if (a != NULL) {
		is_int(a->skipsize, 1024, "inherit skipsize");
		is_int(a->killsize, 2048, "inherit killsize");
		is_str(a->logfile, "/l", "inherit logfile");
		ok(a->filter == NULL, "inherit 'filter off' over the defaults");
		is_int(a->syslog, LOG_MAIL, "syslog from the defaults");
	}
	accounts_free(&list);

	xasprintf(&text, "%saccount a:c , b\n", base);
	a = one(text, &list);
	free(text);
	is_int(a != NULL ? a->port : -1, 1, "inherit c,b: b's port wins");
	accounts_free(&list);

	xasprintf(&text, "%saccount a :b\nport 7\n", base);
	a = one(text, &list);
	free(text);
	is_int(a != NULL ? a->port : -1, 7, "inherit: own lines win");
	accounts_free(&list);

	/* A chain passes on what was inherited. */
	xasprintf(&text, "%saccount a : b\naccount d : a\n", base);
	a = one(text, &list);
	free(text);
	ok(a != NULL && a->port == 1 && a->pop.user != NULL &&
	    strcmp(a->pop.user, "ub") == 0, "inherit: through a chain");
	accounts_free(&list);

	is_int(parse("account b\nhost x\naccount a : b\nhost y\n", &list,
	    &err), 0, "inherit: parses");
	a = accounts_find(&list, "b");
	is_str(a != NULL ? a->host : NULL, "x", "inherit: b is unchanged");
	accounts_free(&list);
}

static void
test_quoting(void)
{
	struct accounts	 list;
	struct account	*a;

	a = one("account a\n"
	    "password \"a b \\\"c\\\" \\\\ d\"  \n"
	    "user \"#notcomment\"\n"
	    "passwordeval pass show x # comment? no\n"
	    "host  \t host.example  \n"
	    "delivery maildir \"~/My Mail\"\n"
	    "uidls_file \"  spaced  \"\n", &list);
	ok(a != NULL, "quoting: parses");
	if (a != NULL) {
		is_str(a->pop.password, "a b \"c\" \\ d", "quoting: escapes");
		is_str(a->pop.user, "#notcomment", "quoting: # inside quotes");
		is_str(a->pop.passwordeval, "pass show x # comment? no",
		    "quoting: # in an unquoted value is part of it");
		is_str(a->host, "host.example", "quoting: whitespace trimmed");
		is_str(a->delivery_arg, HOME "/My Mail",
		    "quoting: a quoted delivery argument");
		is_str(a->uidls_file, "  spaced  ",
		    "quoting: spaces kept inside quotes");
	}
	accounts_free(&list);

	a = one("account a\n"
	    "delivery \"mbox ~/in box\"\n"
	    "password \"\\\\\"\n"
	    "user say \"hi\"\n", &list);
	if (a != NULL) {
		is_int(a->delivery, DELIVERY_MBOX, "quoting: whole delivery "
		    "quoted");
		is_str(a->delivery_arg, HOME "/in box",
		    "quoting: whole delivery quoted, argument");
		is_str(a->pop.password, "\\", "quoting: a lone backslash");
		is_str(a->pop.user, "say \"hi\"",
		    "quoting: quotes inside an unquoted value are kept");
	} else
		ok(0, "quoting: second text parses");
	accounts_free(&list);

	a = one("account \"q\"\ndelivery mda /usr/bin/procmail -a \"x y\"\n",
	    &list);
	is_str(a != NULL ? a->name : NULL, "q", "quoting: a quoted name");
	is_str(a != NULL ? a->delivery_arg : NULL,
	    "/usr/bin/procmail -a \"x y\"",
	    "quoting: an MDA command keeps its quotes");
	accounts_free(&list);

	parse_fails("account a\nhost \"x\n",
	    "rc:2: 'host': missing closing '\"'");
	parse_fails("account a\nhost \"x\" y\n",
	    "rc:2: 'host': text after the closing '\"'");
	parse_fails("account a\n\nuser \"a\\nb\"\n",
	    "rc:3: 'user': in quotes, only '\"' and '\\' may follow a "
	    "backslash");
	parse_fails("account a\nhost \"\"\n",
	    "rc:2: 'host' needs a value: a host name");
	parse_fails("account a\ndelivery maildir \"x\n",
	    "rc:2: 'delivery': missing closing '\"'");
	parse_fails("account \"a\n", "rc:1: 'account': missing closing '\"'");
}

static void
test_comments(void)
{
	struct accounts	 list;
	struct error	 err;
	struct account	*a;

	is_int(parse(
	    "# a comment\n"
	    "\n"
	    "   \t\n"
	    "   # an indented comment\n"
	    "account a\r\n"
	    "#host commented.out\n"
	    "host h\r\n"
	    "  user   u  ", &list, &err), 0, "comments: parse");
	a = accounts_find(&list, "a");
	is_str(a != NULL ? a->host : NULL, "h", "comments: CRLF line");
	is_str(a != NULL ? a->pop.user : NULL, "u",
	    "comments: last line without newline");
	accounts_free(&list);

	is_int(parse("", &list, &err), 0, "empty text parses");
	ok(TAILQ_EMPTY(&list), "empty text: no accounts");
	is_int(parse("# only\n\n", &list, &err), 0, "only comments parse");
	accounts_free(&list);
}

/* One account that sets every key the table has. */
static const char every_key[] =
	"account all\n"
	"host pop.example.com\n"
	"port 1995\n"
	"tls off\n"
	"tls_starttls on\n"
	"tls_trust_file ~/ca.pem\n"
	"tls_fingerprint 01:09:11:19:21:29:31:39:41:49:51:59:61:69:71:79:"
	"81:89:91:99:a1:a9:b1:b9:c1:c9:d1:d9:e1:e9:f1:f9\n"
	"tls_certcheck off\n"
	"user joe\n"
	"password pw\n"
	"passwordeval echo pw\n"
	"auth apop\n"
	"delivery maildir ~/Maildir\n"
	"keep on\n"
	"uidls_file ~/uidls/%U_%H\n"
	"timeout 42\n"
	"skipsize 10M\n"
	"killsize 3k\n"
	"filter grep -q spam && exit 1\n"
	"logfile ~/log\n"
	"syslog LOG_LOCAL2\n"
	"tls_priorities NORMAL:-VERS-TLS1.0\n"
	"tls_cert_file ~/c.pem\n"
	"tls_key_file ~/k.pem\n"
	"tls_crl_file ~/crl.pem\n"
	"received_header off\n"
	"mda_timeout 17\n"
	"delivery_reject_limit 5\n"
	"reject_maildir ~/Rejected\n"
	"lock_wait 7\n"
	"only_new off\n"
	"pipelining off\n"
	"tls_min_dh_prime_bits 2048\n"
	"source_ip 127.0.0.2\n"
	"proxy_host 127.0.0.1\n"
	"proxy_port 9050\n"
	"proxy_user tor-isolation-1\n"
	"proxy_password anything\n"
	"fetch_limit 20\n"
	"fetch_size_limit 10M\n"
	"delivery_tls on\n"
	"delivery_tls_trust_file ~/ca.pem\n"
	"delivery_user smtp-bob\n"
	"delivery_auth scram-sha-256\n"
	"delivery_oauth2_account imap-out\n"
	"delivery_password imap-secret\n"
	"delivery_passwordeval pass imap\n"
	"delivery_flags \\Seen\n"
	"gmail_never_spam on\n"
	"gmail_api_url https://gmail.example/api\n"
	"oauth2_provider microsoft\n"
	"oauth2_client_id 9e5f94bc-e8a4-4e73-b8be-63364c29d753\n"
	"oauth2_client_secret s3cret\n"
	"oauth2_client_secret_eval pass show popfetch/client\n"
	"oauth2_tenant contoso.onmicrosoft.com\n"
	"oauth2_scope https://outlook.office.com/POP.AccessAsUser.All "
	"offline_access\n"
	"oauth2_device_endpoint https://login.example/device\n"
	"oauth2_auth_endpoint https://login.example/authorize\n"
	"oauth2_token_endpoint https://login.example/token\n"
	"oauth2_trust_file ~/oauth-ca.pem\n"
	"oauth2_token_file ~/tokens/all\n"
	"interval 5m\n"
	"log_format json\n"
	"on_failure notify-admin \"$POPFETCH_ACCOUNT\"\n";

/* The bit of the key called name in the `set` mask. */
/* The keyset of the space-separated key names. */
static struct keyset
keys(const char *names)
{
	struct keyset			 s;
	const struct account_key	*k;
	char				*copy = xstrdup(names), *w, *save;

	memset(&s, 0, sizeof s);
	for (w = strtok_r(copy, " ", &save); w != NULL;
	    w = strtok_r(NULL, " ", &save))
		if ((k = account_key_find(w)) != NULL)
			keyset_add(&s, k);
	free(copy);
	return s;
}

/* Whether a and b hold the same values for every key's fields. */
static int
same_values(const struct account *a, const struct account *b,
    int want_own_strings)
{
	const struct account_key	*k;
	const struct key_field		*f;
	const char			*x, *y;
	size_t				 i;

	for (i = 0; i < account_nkeys; i++) {
		k = &account_keys[i];
		for (f = k->field; f < k->field + 2; f++) {
			x = (const char *)a + f->at;
			y = (const char *)b + f->at;
			if (f->type == FIELD_VALUE && memcmp(x, y, f->size) != 0)
				return printf("# %s differs\n", k->name), 0;
			if (f->type != FIELD_STRING)
				continue;
			x = *(char *const *)x;
			y = *(char *const *)y;
			if ((x == NULL) != (y == NULL) || (x != NULL &&
			    (strcmp(x, y) != 0 || (want_own_strings && x == y))))
				return printf("# %s differs\n", k->name), 0;
		}
	}
	return 1;
}

static void
test_every_key(void)
{
	struct accounts	 list;
	struct account	*a, *b, *copy;
	unsigned char	 fp[FINGERPRINT_LEN];
	struct keyset	 all;
	char		*text;
	int		 i;

	for (i = 0; i < FINGERPRINT_LEN; i++)
		fp[i] = (unsigned char)(i * 8 + 1);
	a = one(every_key, &list);
	ok(a != NULL, "every key: parses");
	if (a == NULL)
		return;
	is_str(a->host, "pop.example.com", "key host");
	is_int(a->port, 1995, "key port");
	is_int(a->tls, 0, "key tls");
	is_int(a->tls_starttls, 1, "key tls_starttls");
	is_str(a->pop.tls_trust_file, HOME "/ca.pem", "key tls_trust_file");
	ok(a->has_fingerprint && memcmp(a->tls_fingerprint, fp,
	    FINGERPRINT_LEN) == 0, "key tls_fingerprint");
	is_int(a->tls_certcheck, 0, "key tls_certcheck");
	is_str(a->pop.user, "joe", "key user");
	is_str(a->pop.password, "pw", "key password");
	is_str(a->pop.passwordeval, "echo pw", "key passwordeval");
	is_int(a->pop.auth, AUTH_APOP, "key auth");
	is_int(a->delivery, DELIVERY_MAILDIR, "key delivery kind");
	is_str(a->delivery_arg, HOME "/Maildir", "key delivery argument");
	is_int(a->keep, 1, "key keep");
	is_str(a->uidls_file, HOME "/uidls/%U_%H", "key uidls_file");
	is_int(a->timeout, 42, "key timeout");
	is_int(a->skipsize, 10 * 1024 * 1024, "key skipsize");
	is_int(a->killsize, 3 * 1024, "key killsize");
	is_str(a->filter, "grep -q spam && exit 1", "key filter");
	is_str(a->logfile, HOME "/log", "key logfile");
	is_int(a->syslog, LOG_LOCAL2, "key syslog");
	is_str(a->tls_priorities, "NORMAL:-VERS-TLS1.0", "key tls_priorities");
	is_str(a->tls_cert_file, HOME "/c.pem", "key tls_cert_file");
	is_str(a->tls_key_file, HOME "/k.pem", "key tls_key_file");
	is_str(a->tls_crl_file, HOME "/crl.pem", "key tls_crl_file");
	is_int(a->received_header, 0, "key received_header");
	is_int(a->mda_timeout, 17, "key mda_timeout");
	is_int(a->delivery_reject_limit, 5, "key delivery_reject_limit");
	ok(a->reject_maildir != NULL && strstr(a->reject_maildir,
	    "/Rejected") != NULL && a->reject_maildir[0] == '/',
	    "key reject_maildir (~ expanded)");
	is_int(a->lock_wait, 7, "key lock_wait");
	is_int(a->only_new, 0, "key only_new");
	is_int(a->pipelining, 0, "key pipelining");
	is_int(a->tls_min_dh_prime_bits, 2048, "key tls_min_dh_prime_bits");
	is_str(a->source_ip, "127.0.0.2", "key source_ip");
	is_str(a->proxy_host, "127.0.0.1", "key proxy_host");
	is_int(a->proxy_port, 9050, "key proxy_port");
	is_str(a->proxy_user, "tor-isolation-1", "key proxy_user");
	is_str(a->proxy_password, "anything", "key proxy_password");
	is_int(a->fetch_limit, 20, "key fetch_limit");
	is_int(a->fetch_size_limit, 10 * 1024 * 1024, "key fetch_size_limit");
	is_int(a->delivery_tls, SMTP_TLS_ON, "key delivery_tls");
	is_str(a->dest.tls_trust_file, HOME "/ca.pem",
	    "key delivery_tls_trust_file");
	is_str(a->dest.user, "smtp-bob", "key delivery_user");
	is_int(a->dest.auth, AUTH_SCRAM_SHA_256, "key delivery_auth");
	is_str(a->delivery_oauth2_account, "imap-out",
	    "key delivery_oauth2_account");
	is_str(a->dest.password, "imap-secret", "key delivery_password");
	is_str(a->dest.passwordeval, "pass imap",
	    "key delivery_passwordeval");
	is_str(a->delivery_flags, "\\Seen", "key delivery_flags");
	is_int(a->gmail_never_spam, 1, "key gmail_never_spam");
	is_str(a->gmail_api_url, "https://gmail.example/api",
	    "key gmail_api_url");
	is_int(a->oauth2_provider, OAUTH_PROVIDER_MICROSOFT,
	    "key oauth2_provider");
	is_str(a->oauth2_client_id, "9e5f94bc-e8a4-4e73-b8be-63364c29d753",
	    "key oauth2_client_id");
	is_str(a->oauth2_client_secret, "s3cret", "key oauth2_client_secret");
	is_str(a->oauth2_client_secret_eval, "pass show popfetch/client",
	    "key oauth2_client_secret_eval");
	is_str(a->oauth2_tenant, "contoso.onmicrosoft.com",
	    "key oauth2_tenant");
	is_str(a->oauth2_scope, "https://outlook.office.com/POP.AccessAsUser.All "
	    "offline_access", "key oauth2_scope");
	is_str(a->oauth2_device_endpoint, "https://login.example/device",
	    "key oauth2_device_endpoint");
	is_str(a->oauth2_auth_endpoint, "https://login.example/authorize",
	    "key oauth2_auth_endpoint");
	is_str(a->oauth2_token_endpoint, "https://login.example/token",
	    "key oauth2_token_endpoint");
	is_str(a->oauth2_trust_file, HOME "/oauth-ca.pem",
	    "key oauth2_trust_file");
	is_str(a->oauth2_token_file, HOME "/tokens/all",
	    "key oauth2_token_file");
	is_int(a->interval, 300, "key interval");
	is_int(a->log_format, 1, "key log_format");
	is_str(a->on_failure, "notify-admin \"$POPFETCH_ACCOUNT\"",
	    "key on_failure");
	/* jobs is a defaults-only key (see test below). */
	memset(&all, 0, sizeof all);
	for (i = 0; i < (int)account_nkeys; i++)
		if (account_keys[i].kind != KEY_IGNORED &&
		    account_keys[i].kind != KEY_UNSUPPORTED &&
		    !account_keys[i].defaults_only)
			keyset_add(&all, &account_keys[i]);
	ok(keyset_equal(&a->set, &all),
	    "every key: the text sets every key there is");
	accounts_free(&list);

	/* Inheritance and copies take every key, each string a copy. */
	xasprintf(&text, "%saccount heir : all\n", every_key);
	b = one(text, &list);
	free(text);
	a = accounts_find(&list, "all");
	ok(a != NULL && b != NULL && same_values(a, b, 1) &&
	    keyset_equal(&b->set, &all),
	    "every key: inherited with its value and its set bit");
	copy = a != NULL ? account_copy(a, "copy", "f", 9) : NULL;
	ok(copy != NULL && same_values(a, copy, 1) &&
	    keyset_equal(&copy->set, &all) &&
	    strcmp(copy->name, "copy") == 0 && copy->line == 9,
	    "every key: copied, each string a copy");
	account_free(copy);
	accounts_free(&list);

	a = one("defaults\njobs 3\naccount j\nhost h\n", &list);
	ok(a != NULL && a->jobs == 3, "key jobs: from the defaults");
	accounts_free(&list);
}

/* The other values each key takes. */
static void
test_values(void)
{
	struct accounts	 list;
	struct account	*a;

	a = one("account a\ninterval 90\n", &list);
	ok(a != NULL && a->interval == 90, "interval: plain seconds");
	accounts_free(&list);
	a = one("account a\ninterval 2h\ninterval off\n", &list);
	ok(a != NULL && a->interval == 0, "interval off: the --daemon one");
	accounts_free(&list);
	a = one("account a\n"
	    "tls_trust_file /x\n"
	    "tls_trust_file system\n"
	    "auth user\n"
	    "delivery mbox ~/mbox\n"
	    "timeout off\n"
	    "port 65535\n", &list);
	ok(a != NULL && a->pop.tls_trust_file == NULL,
	    "tls_trust_file system is NULL");
	ok(a != NULL && a->pop.auth == AUTH_USER, "auth user");
	ok(a != NULL && a->delivery == DELIVERY_MBOX, "delivery mbox");
	is_str(a != NULL ? a->delivery_arg : NULL, HOME "/mbox",
	    "delivery mbox path expanded");
	is_int(a != NULL ? a->timeout : -1, 3600, "timeout off is 3600");
	is_int(a != NULL ? a->port : -1, 65535, "port 65535");
	accounts_free(&list);

	a = one("account a\nauth apop\nauth on\ndelivery mda ~/bin/x %F\n"
	    "timeout 3600\nport 1\ntls_certcheck on\n", &list);
	ok(a != NULL && a->pop.auth == AUTH_AUTO, "auth on is auto");
	ok(a != NULL && a->delivery == DELIVERY_MDA, "delivery mda");
	is_str(a != NULL ? a->delivery_arg : NULL, "~/bin/x %F",
	    "delivery mda: the command is not expanded");
	is_int(a != NULL ? a->timeout : -1, 3600, "timeout 3600");
	is_int(a != NULL ? a->port : -1, 1, "port 1");
	accounts_free(&list);

	a = one("account a\ndelivery lmtp /run/dovecot/lmtp bob\n", &list);
	ok(a != NULL && a->delivery == DELIVERY_LMTP, "delivery lmtp");
	is_str(a != NULL ? a->delivery_arg : NULL, "/run/dovecot/lmtp bob",
	    "delivery lmtp: address and recipient");
	ok(a != NULL && a->delivery_tls == SMTP_TLS_AUTO,
	    "delivery_tls is auto by default");
	accounts_free(&list);

	a = one("account a\ndelivery smtp 127.0.0.1:25 bob@example.org\n"
	    "delivery_tls off\n", &list);
	ok(a != NULL && a->delivery == DELIVERY_SMTP, "delivery smtp");
	is_str(a != NULL ? a->delivery_arg : NULL,
	    "127.0.0.1:25 bob@example.org", "delivery smtp: host and recipient");
	ok(a != NULL && a->delivery_tls == SMTP_TLS_OFF, "delivery_tls off");
	accounts_free(&list);

	a = one("account a\nauth auto\n", &list);
	ok(a != NULL && a->pop.auth == AUTH_AUTO, "auth auto");
	accounts_free(&list);

	/* Gmail: no labels is fine; quoted labels reach the sink as written. */
	a = one("account a\ndelivery gmail\n", &list);
	ok(a != NULL && a->delivery == DELIVERY_GMAIL, "delivery gmail");
	is_str(a != NULL ? a->delivery_arg : NULL, "",
	    "delivery gmail: no labels");
	ok(a != NULL && !a->gmail_never_spam, "gmail_never_spam off by default");
	accounts_free(&list);
	a = one("account a\ndelivery gmail INBOX \"Old mail\" Work/Receipts\n",
	    &list);
	is_str(a != NULL ? a->delivery_arg : NULL,
	    "INBOX \"Old mail\" Work/Receipts", "delivery gmail: labels kept "
	    "with their quotes");
	accounts_free(&list);
}

static void
test_errors(void)
{
	struct accounts	 list;
	struct account	*a;

	parse_fails("host x\n",
	    "rc:1: setting outside of an account or defaults section");
	parse_fails("\n# c\n  user x\naccount a\n",
	    "rc:3: setting outside of an account or defaults section");
	parse_fails("defaults x\n", "rc:1: 'defaults' takes no value");
	parse_fails("account\n",
	    "rc:1: 'account' needs a name (account NAME [: OTHER,...])");
	parse_fails("account :b\n",
	    "rc:1: 'account' needs a name (account NAME [: OTHER,...])");
	parse_fails("account a b\n",
	    "rc:1: account names cannot contain whitespace or ','; to "
	    "inherit, write 'account a : OTHER'");
	parse_fails("account a,b\n",
	    "rc:1: account names cannot contain whitespace or ','; to "
	    "inherit, write 'account a : OTHER'");
	parse_fails("account a\naccount b\n\naccount a\n",
	    "rc:4: account 'a' is already defined at line 1");
	parse_fails("account a : b\n",
	    "rc:1: account a: cannot inherit from 'b': no such account "
	    "defined above");
	parse_fails("account a : a\n",
	    "rc:1: account a: cannot inherit from 'a': no such account "
	    "defined above");
	parse_fails("account b\naccount a : b,\n",
	    "rc:2: account a: expected an account name to inherit from");
	parse_fails("account b\naccount a : b c\n",
	    "rc:2: account a: separate the accounts to inherit from with "
	    "','");
	parse_fails("account a :\n",
	    "rc:1: account a: expected an account name to inherit from");
	parse_fails("account a\nfoo bar\n", "rc:2: unknown key 'foo'");
	parse_fails("Host x\n", "rc:1: unknown key 'Host'");
	parse_fails("account a\n  socket /tmp/s\n",
	    "rc:2: mpop key 'socket' is not supported by popfetch: popfetch "
	    "connects over TCP only; use host and port");
	parse_fails("defaults\nonly_new yes\n",
	    "rc:2: invalid value 'yes' for 'only_new': expected on or off");
	parse_fails("account a\nskipsize 1T\n", "rc:2: invalid value '1T' "
	    "for 'skipsize': expected a size in bytes, optionally with k, M "
	    "or G, or off");
	parse_fails("account a\ntls_min_dh_prime_bits 100\n",
	    "rc:2: invalid value '100' for 'tls_min_dh_prime_bits': expected "
	    "a number of bits from 512 to 16384");
	parse_fails("account a\nhost\n", "rc:2: 'host' needs a value: a host "
	    "name");
	parse_fails("account a\nport\n",
	    "rc:2: 'port' needs a value: a number from 1 to 65535");
	parse_fails("account a\ninterval 29s\n", "rc:2: invalid value '29s' "
	    "for 'interval': expected a duration from 30s to 7d (30s, 5m, "
	    "1h), or off");
	parse_fails("account a\ninterval 8d\n", "rc:2: invalid value '8d' "
	    "for 'interval': expected a duration from 30s to 7d (30s, 5m, "
	    "1h), or off");
	parse_fails("account a\ninterval 5ms\n", "rc:2: invalid value '5ms' "
	    "for 'interval': expected a duration from 30s to 7d (30s, 5m, "
	    "1h), or off");
	parse_fails("account a\nport 0\n", "rc:2: invalid value '0' for "
	    "'port': expected a number from 1 to 65535");
	parse_fails("account a\nport 65536\n", "rc:2: invalid value '65536' "
	    "for 'port': expected a number from 1 to 65535");
	parse_fails("account a\nport 11x\n", "rc:2: invalid value '11x' for "
	    "'port': expected a number from 1 to 65535");
	parse_fails("account a\nport -1\n", "rc:2: invalid value '-1' for "
	    "'port': expected a number from 1 to 65535");
	parse_fails("account a\nport 99999999999999999999\n",
	    "rc:2: invalid value '99999999999999999999' for 'port': expected "
	    "a number from 1 to 65535");
	parse_fails("account a\ntimeout 0\n", "rc:2: invalid value '0' for "
	    "'timeout': expected a number of seconds from 1 to 3600, or off");
	parse_fails("account a\ntimeout 3601\n", "rc:2: invalid value '3601' "
	    "for 'timeout': expected a number of seconds from 1 to 3600, or "
	    "off");
	parse_fails("account a\ntls yes\n", "rc:2: invalid value 'yes' for "
	    "'tls': expected on or off");
	parse_fails("account a\ntls_starttls ON\n", "rc:2: invalid value 'ON' "
	    "for 'tls_starttls': expected on or off");
	parse_fails("account a\ntls_certcheck 1\n", "rc:2: invalid value '1' "
	    "for 'tls_certcheck': expected on or off");
	a = one("account a\nkeep\ntls\nonly_new off\nonly_new\n", &list);
	ok(a != NULL && a->keep == 1 && a->tls == 1 && a->only_new == 1,
	    "bare on/off keys are on, as in mpop");
	accounts_free(&list);
	parse_fails("account a\nkeep true\n", "rc:2: invalid value 'true' "
	    "for 'keep': expected on, off, or a number of days from 1 to "
	    "36500 such as 14d");
	parse_fails("account a\nkeep 0d\n", "rc:2: invalid value '0d' "
	    "for 'keep': expected on, off, or a number of days from 1 to "
	    "36500 such as 14d");
	parse_fails("account a\nkeep 14days\n", "rc:2: invalid value "
	    "'14days' for 'keep': expected on, off, or a number of days from 1 "
	    "to 36500 such as 14d");
	parse_fails("account a\nlock_wait -1\n", "rc:2: invalid value '-1' "
	    "for 'lock_wait': expected a number of seconds from 0 to 3600");
	a = one("account a\nkeep 14d\n", &list);
	ok(a != NULL && a->keep == 1 && a->keep_days == 14, "keep 14d keeps "
	    "for 14 days");
	accounts_free(&list);
	a = one("account a\nkeep 3\nkeep on\n", &list);
	ok(a != NULL && a->keep == 1 && a->keep_days == 0, "keep on after "
	    "keep 3 keeps forever");
	accounts_free(&list);
	parse_fails("account a\nauth digest-md5\n", "rc:2: 'auth digest-md5' "
	    "is not supported by popfetch (DIGEST-MD5 is obsolete, RFC 6331); "
	    "use 'auth auto', or a method the server offers (see popfetch "
	    "--serverinfo)");
	parse_fails("account a\nauth SCRAM-SHA-256-PLUS\nauth bogus\n",
	    "rc:3: invalid value 'bogus' for 'auth': expected auto, user, "
	    "apop, plain, login, cram-md5, scram-sha-1, scram-sha-256, "
	    "scram-sha-1-plus, scram-sha-256-plus, xoauth2, oauthbearer, "
	    "external or gssapi");
	parse_fails("account a\ndelivery maildir\n",
	    "rc:2: invalid value 'maildir' for 'delivery': expected maildir "
	    "DIR, mbox FILE, mda COMMAND, lmtp ADDRESS [RECIPIENT], "
	    "smtp HOST[:PORT] RECIPIENT, imap URL or gmail [LABEL...]");
	parse_fails("account a\ndelivery imap\n",
	    "rc:2: invalid value 'imap' for 'delivery': expected maildir "
	    "DIR, mbox FILE, mda COMMAND, lmtp ADDRESS [RECIPIENT], "
	    "smtp HOST[:PORT] RECIPIENT, imap URL or gmail [LABEL...]");
	parse_fails("account a\ndelivery maildirx x\n",
	    "rc:2: invalid value 'maildirx x' for 'delivery': expected "
	    "maildir DIR, mbox FILE, mda COMMAND, lmtp ADDRESS [RECIPIENT], "
	    "smtp HOST[:PORT] RECIPIENT, imap URL or gmail [LABEL...]");
	parse_fails("account a\ndelivery mda \"\"\n",
	    "rc:2: invalid value 'mda \"\"' for 'delivery': expected maildir "
	    "DIR, mbox FILE, mda COMMAND, lmtp ADDRESS [RECIPIENT], "
	    "smtp HOST[:PORT] RECIPIENT, imap URL or gmail [LABEL...]");
	parse_fails("account a\nuidls_file\n",
	    "rc:2: 'uidls_file' needs a value: a file name");
	/* mpop's `key` alone: a string key is unset again. */
	a = one("account a\nuser u\npassword p\npasswordeval e\nuser\n"
	    "password\npasswordeval\ntls_trust_file\n", &list);
	ok(a != NULL && a->pop.user == NULL && a->pop.password == NULL &&
	    a->pop.passwordeval == NULL && a->pop.tls_trust_file == NULL,
	    "a string key alone unsets it");
	accounts_free(&list);
	/* The first error is the one reported. */
	parse_fails("account a\nport x\nport y\n", "rc:2: invalid value 'x' "
	    "for 'port': expected a number from 1 to 65535");
}

static void
test_fingerprint(void)
{
	static const char *sha256_hex =
	    "00112233445566778899aabbccddeeff"
	    "0123456789ABCDEFfedcba9876543210";
	static const char *sha256_colons =
	    "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
	    "01:23:45:67:89:ab:cd:ef:FE:DC:BA:98:76:54:32:10";
	static const unsigned char want[FINGERPRINT_LEN] = {
		0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
		0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
		0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
		0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10,
	};
	struct accounts	 list;
	struct account	*a;
	char		*text;

	xasprintf(&text, "account a\ntls_fingerprint %s\n", sha256_hex);
	a = one(text, &list);
	free(text);
	ok(a != NULL && a->has_fingerprint &&
	    memcmp(a->tls_fingerprint, want, FINGERPRINT_LEN) == 0,
	    "fingerprint without colons, mixed case");
	accounts_free(&list);

	xasprintf(&text, "account a\ntls_fingerprint %s\n", sha256_colons);
	a = one(text, &list);
	free(text);
	ok(a != NULL && a->has_fingerprint &&
	    memcmp(a->tls_fingerprint, want, FINGERPRINT_LEN) == 0,
	    "fingerprint with colons, mixed case");
	accounts_free(&list);

	a = one("account a\nhost h\n", &list);
	ok(a != NULL && !a->has_fingerprint, "no fingerprint by default");
	accounts_free(&list);

	parse_fails("account a\ntls_fingerprint 00:11:22:33:44:55:66:77:88:"
	    "99:AA:BB:CC:DD:EE:FF:00:11:22:33\n",
	    "rc:2: 'tls_fingerprint' is a SHA-1 fingerprint; use the SHA-256 "
	    "fingerprint (e.g. from 'popfetch --serverinfo')");
	parse_fails("account a\ntls_fingerprint "
	    "00112233445566778899aabbccddeeff00112233\n",
	    "rc:2: 'tls_fingerprint' is a SHA-1 fingerprint; use the SHA-256 "
	    "fingerprint (e.g. from 'popfetch --serverinfo')");
	parse_fails("account a\ntls_fingerprint 00:11:22:33:44:55:66:77:88:"
	    "99:AA:BB:CC:DD:EE:FF\n",
	    "rc:2: 'tls_fingerprint' is a MD5 fingerprint; use the SHA-256 "
	    "fingerprint (e.g. from 'popfetch --serverinfo')");
	parse_fails("account a\ntls_fingerprint 00:11:22\n",
	    "rc:2: invalid value '00:11:22' for 'tls_fingerprint': expected "
	    "a SHA-256 fingerprint: 32 hex bytes separated by colons");
	parse_fails("account a\ntls_fingerprint 0g:11\n",
	    "rc:2: invalid value '0g:11' for 'tls_fingerprint': expected "
	    "a SHA-256 fingerprint: 32 hex bytes separated by colons");
	parse_fails("account a\ntls_fingerprint 001:1\n",
	    "rc:2: invalid value '001:1' for 'tls_fingerprint': expected "
	    "a SHA-256 fingerprint: 32 hex bytes separated by colons");
	parse_fails("account a\ntls_fingerprint 00:11:\n",
	    "rc:2: invalid value '00:11:' for 'tls_fingerprint': expected "
	    "a SHA-256 fingerprint: 32 hex bytes separated by colons");
	parse_fails("account a\ntls_fingerprint 00::11\n",
	    "rc:2: invalid value '00::11' for 'tls_fingerprint': expected "
	    "a SHA-256 fingerprint: 32 hex bytes separated by colons");
	parse_fails("account a\ntls_fingerprint 0011a\n",
	    "rc:2: invalid value '0011a' for 'tls_fingerprint': expected "
	    "a SHA-256 fingerprint: 32 hex bytes separated by colons");
	/* 33 bytes: one too many. */
	xasprintf(&text, "account a\ntls_fingerprint %s00\n", sha256_hex);
	parse_fails(text, "rc:2: invalid value "
	    "'00112233445566778899aabbccddeeff0123456789ABCDEFfedcba9876543210'"
	    " for 'tls_fingerprint': expected a SHA-256 fingerprint: 32 hex "
	    "bytes separated by colons");
	free(text);
}

static void
test_tilde(void)
{
	char	*s;

	s = config_expand_tilde("~");
	is_str(s, HOME, "tilde alone");
	free(s);
	s = config_expand_tilde("~/x/y");
	is_str(s, HOME "/x/y", "tilde slash");
	free(s);
	s = config_expand_tilde("~other/x");
	is_str(s, "~other/x", "~user is left alone");
	free(s);
	s = config_expand_tilde("/a/~/b");
	is_str(s, "/a/~/b", "tilde not at the start");
	free(s);
	s = config_expand_tilde("");
	is_str(s, "", "empty string");
	free(s);
}

static void
test_uidls_path(void)
{
	struct accounts	 list;
	struct account	*a;
	char		*s;

	a = one("account a\nhost pop/x\nuser me/you\n"
	    "uidls_file ~/u/%U-%H-%X%\n", &list);
	if (a == NULL) {
		ok(0, "uidls: parses");
		return;
	}
	s = account_uidls_path(a);
	is_str(s, HOME "/u/me_you-pop_x-%X%",
	    "uidls_file: %%U and %%H replaced, '/' made '_'");
	free(s);

	free(a->uidls_file);
	a->uidls_file = NULL;
	setenv("XDG_STATE_HOME", "/state", 1);
	s = account_uidls_path(a);
	is_str(s, "/state/popfetch/uidls/me_you@pop_x",
	    "uidls default under XDG_STATE_HOME");
	free(s);

	setenv("XDG_STATE_HOME", "relative", 1);
	s = account_uidls_path(a);
	is_str(s, HOME "/.local/state/popfetch/uidls/me_you@pop_x",
	    "uidls default: a relative XDG_STATE_HOME is ignored");
	free(s);

	unsetenv("XDG_STATE_HOME");
	s = account_uidls_path(a);
	is_str(s, HOME "/.local/state/popfetch/uidls/me_you@pop_x",
	    "uidls default without XDG_STATE_HOME");
	free(s);
	accounts_free(&list);
}

static void
test_port(void)
{
	struct account	*a;

	a = account_new("p", "rc", 1);
	is_int(account_port(a), 995, "port: 995 with implicit TLS");
	a->tls_starttls = 1;
	is_int(account_port(a), 110, "port: 110 with STARTTLS");
	a->tls_starttls = 0;
	a->tls = 0;
	is_int(account_port(a), 110, "port: 110 without TLS");
	a->port = 2110;
	is_int(account_port(a), 2110, "port: an explicit port");
	account_free(a);
}

/* The TLS mode: tls_starttls if said, else the port's own mode. */
static void
test_tls_mode(void)
{
	struct account	*a;
	const char	*why;

	a = account_new("m", "rc", 1);
	is_int(account_tls_mode(a, &why), TLS_MODE_IMPLICIT,
	    "mode: neither said: implicit");
	is_str(why, "popfetch's default: neither port nor tls_starttls is "
	    "set", "mode: why the default");
	a->port = 110;
	is_int(account_tls_mode(a, &why), TLS_MODE_STLS,
	    "mode: port 110 alone: STLS, as mpop");
	is_int(account_port(a), 110, "mode: port 110 stays");
	a->port = 995;
	is_int(account_tls_mode(a, NULL), TLS_MODE_IMPLICIT,
	    "mode: port 995 alone: implicit");
	a->port = 2995;
	is_int(account_tls_mode(a, NULL), TLS_MODE_IMPLICIT,
	    "mode: another port: popfetch's default");
	a->port = 110;
	a->tls_starttls = 0;
	is_int(account_tls_mode(a, &why), TLS_MODE_IMPLICIT,
	    "mode: tls_starttls off wins over port 110");
	is_str(why, "tls_starttls off", "mode: why tls_starttls");
	a->port = 995;
	a->tls_starttls = 1;
	is_int(account_tls_mode(a, NULL), TLS_MODE_STLS,
	    "mode: tls_starttls on wins over port 995");
	a->tls = 0;
	is_int(account_tls_mode(a, NULL), TLS_MODE_OFF, "mode: tls off");
	account_free(a);
}

static void
test_password(void)
{
	struct account	*a;
	struct error	 err;
	char		*pw;

	/* Never a prompt here, even when run from a terminal. */
	if (freopen("/dev/null", "r", stdin) == NULL)
		return;
	a = account_new("acct", "rc", 1);
	a->host = xstrdup("pop.example");
	a->pop.user = xstrdup("u");
	error_clear(&err);
	pw = account_password(a, &err);
	ok(pw == NULL && err.ex == EX_CONFIG, "password: none set fails");
	is_str(err.msg, "no password (set password or "
	    "passwordeval, add pop.example to ~/.netrc, or run popfetch from "
	    "a terminal to be asked)", "password: none set message");

	a->pop.passwordeval = xstrdup("echo wrong");
	a->pop.password = xstrdup("direct");
	pw = account_password(a, &err);
	is_str(pw, "direct", "password: password wins over passwordeval");
	freezero_str(pw);
	freezero_str(a->pop.password);
	a->pop.password = NULL;

	free(a->pop.passwordeval);
	a->pop.passwordeval = xstrdup("echo s3cret");
	pw = account_password(a, &err);
	is_str(pw, "s3cret", "passwordeval: echo");
	freezero_str(pw);

	free(a->pop.passwordeval);
	a->pop.passwordeval = xstrdup("printf 'a\\nb'");
	pw = account_password(a, &err);
	is_str(pw, "a", "passwordeval: the first line only");
	freezero_str(pw);

	free(a->pop.passwordeval);
	a->pop.passwordeval = xstrdup("printf 'crlf\\r\\n'");
	pw = account_password(a, &err);
	is_str(pw, "crlf", "passwordeval: trailing CR stripped");
	freezero_str(pw);

	free(a->pop.passwordeval);
	a->pop.passwordeval = xstrdup("printf 'no newline'");
	pw = account_password(a, &err);
	is_str(pw, "no newline", "passwordeval: no final newline");
	freezero_str(pw);

	free(a->pop.passwordeval);
	a->pop.passwordeval = xstrdup("head -c 100000 /dev/zero | tr '\\0' x; "
	    "echo");
	error_clear(&err);
	pw = account_password(a, &err);
	ok(pw == NULL && err.ex == EX_CONFIG, "passwordeval: long line fails");
	is_str(err.msg, "passwordeval command printed a line "
	    "longer than 4096 bytes", "passwordeval: long line message");

	free(a->pop.passwordeval);
	a->pop.passwordeval = xstrdup("echo p; head -c 100000 /dev/zero");
	error_clear(&err);
	pw = account_password(a, &err);
	is_str(pw, "p", "passwordeval: long output after the first line");
	freezero_str(pw);

	free(a->pop.passwordeval);
	a->pop.passwordeval = xstrdup("echo leaked; exit 3");
	error_clear(&err);
	pw = account_password(a, &err);
	ok(pw == NULL && err.ex == EX_CONFIG, "passwordeval: exit 3 fails");
	is_str(err.msg, "passwordeval command failed (exit 3)",
	    "passwordeval: exit 3 message");

	free(a->pop.passwordeval);
	a->pop.passwordeval = xstrdup("true");
	error_clear(&err);
	pw = account_password(a, &err);
	ok(pw == NULL && err.ex == EX_CONFIG, "passwordeval: no output fails");
	is_str(err.msg, "passwordeval command failed (no "
	    "output)", "passwordeval: no output message");

	free(a->pop.passwordeval);
	a->pop.passwordeval = xstrdup("kill -9 $$");
	error_clear(&err);
	pw = account_password(a, &err);
	ok(pw == NULL && err.ex == EX_CONFIG, "passwordeval: killed fails");
	is_str(err.msg, "passwordeval command failed (killed "
	    "by signal 9)", "passwordeval: killed message");
	account_free(a);
}

static void
test_validate(void)
{
	static const struct {
		const char	*text;
		const char	*want;
	} cases[] = {
		{ "user u\ndelivery maildir /m\n",
		  "rc:2: no host set (add 'host pop.example.com')" },
		{ "host h\ndelivery maildir /m\n",
		  "rc:2: no user set (add 'user NAME')" },
		{ "host h\nuser u\n",
		  "rc:2: no delivery set (add 'delivery maildir "
		  "~/Maildir')" },
		{ "host h\nuser u\ndelivery maildir /m\ntls off\n"
		  "tls_starttls on\n",
		  "rc:2: 'tls_starttls on' needs 'tls on'" },
		{ "host h\nuser u\ndelivery maildir /m\ntls off\n"
		  "tls_fingerprint " "00112233445566778899aabbccddeeff"
		  "00112233445566778899aabbccddeeff\n",
		  "rc:2: 'tls_fingerprint' needs 'tls on'" },
		{ "host h\nuser u\ndelivery maildir /m\ntls_certcheck off\n"
		  "tls_fingerprint " "00112233445566778899aabbccddeeff"
		  "00112233445566778899aabbccddeeff\n",
		  "rc:2: 'tls_fingerprint' and 'tls_certcheck off' "
		  "contradict each other; remove one" },
		{ "host h\nuser u\ndelivery maildir /m\n", NULL },
		{ "host h\nuser u\ndelivery mbox /m\ntls off\n", NULL },
		{ "host h\nuser u\ndelivery mda cat\ntls_starttls on\n"
		  "tls_certcheck off\n", NULL },
	};
	struct accounts	 list;
	struct account	*a;
	struct error	 err;
	char		*text;
	size_t		 i;
	int		 rv;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		xasprintf(&text, "# validate\naccount v\n%s", cases[i].text);
		a = one(text, &list);
		free(text);
		if (a == NULL) {
			ok(0, "validate %zu: parses", i);
			continue;
		}
		error_clear(&err);
		rv = account_validate(a, &err);
		if (cases[i].want == NULL)
			ok(rv == 0 && !error_isset(&err), "validate %zu: valid",
			    i);
		else {
			ok(rv == -1 && err.ex == EX_CONFIG,
			    "validate %zu: invalid", i);
			is_str(err.msg, cases[i].want, "validate %zu: message",
			    i);
		}
		accounts_free(&list);
	}
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	FILE	*f;

	if ((f = fopen(path, "w")) == NULL) {
		perror(path);
		exit(2);
	}
	fputs(text, f);
	fclose(f);
	if (chmod(path, mode) == -1) {
		perror(path);
		exit(2);
	}
}

static void
test_load(void)
{
	struct accounts	 list;
	struct error	 err;
	char		*path, *want, *big;
	size_t		 n;
	int		 i;

	xasprintf(&path, "%s/fetchrc", tmpdir);
	write_file(path, "account a\nhost h\npassword secret\n", 0644);
	TAILQ_INIT(&list);
	error_clear(&err);
	is_int(config_load(path, &list, &err), -1, "load: 0644 with password");
	xasprintf(&want, "%s: contains a password but is readable by others; "
	    "run chmod 600 %s", path, path);
	is_str(err.msg, want, "load: 0644 with password message");
	is_int(err.ex, EX_CONFIG, "load: 0644 with password is EX_CONFIG");
	free(want);
	accounts_free(&list);

	write_file(path, "defaults\npassword secret\n", 0640);
	error_clear(&err);
	is_int(config_load(path, &list, &err), -1,
	    "load: 0640 with a password in the defaults");
	accounts_free(&list);

	write_file(path, "account a\nhost h\npassword secret\n", 0600);
	error_clear(&err);
	is_int(config_load(path, &list, &err), 0, "load: 0600 with password");
	is_str(TAILQ_FIRST(&list) != NULL ? TAILQ_FIRST(&list)->pop.password :
	    NULL, "secret", "load: the password is read");
	is_str(TAILQ_FIRST(&list) != NULL ? TAILQ_FIRST(&list)->file :
	    NULL, path, "load: accounts name the file");
	accounts_free(&list);

	write_file(path, "account a\nhost h\npasswordeval pass x\n", 0644);
	error_clear(&err);
	is_int(config_load(path, &list, &err), 0,
	    "load: 0644 without password");
	accounts_free(&list);

	write_file(path, "account a\nhost h\nport x\n", 0600);
	error_clear(&err);
	is_int(config_load(path, &list, &err), -1, "load: a syntax error");
	xasprintf(&want, "%s:3: invalid value 'x' for 'port': expected a "
	    "number from 1 to 65535", path);
	is_str(err.msg, want, "load: errors name the path and line");
	free(want);
	accounts_free(&list);

	n = 1024 * 1024 + 1;
	big = xmalloc(n + 1);
	memset(big, '#', n);
	big[n] = '\0';
	write_file(path, big, 0600);
	free(big);
	error_clear(&err);
	is_int(config_load(path, &list, &err), -1, "load: too large");
	xasprintf(&want, "%s: larger than 1024 KiB; is this really a "
	    "fetchrc?", path);
	is_str(err.msg, want, "load: too large message");
	free(want);
	accounts_free(&list);
	unlink(path);

	error_clear(&err);
	is_int(config_load(path, &list, &err), -1, "load: missing file");
	xasprintf(&want, "%s: cannot open: No such file or directory (create "
	    "it, see fetchrc.example)", path);
	is_str(err.msg, want, "load: missing file message");
	is_int(err.ex, EX_CONFIG, "load: missing file is EX_CONFIG");
	free(want);

	free(path);

	/* A directory: its *.conf and *.rc files, in name order. */
	xasprintf(&path, "%s/d", tmpdir);
	if (mkdir(path, 0700) == -1) {
		perror(path);
		exit(2);
	}
	xasprintf(&want, "%s/b.rc", path);
	write_file(want, "account b\nhost h\n", 0600);
	free(want);
	xasprintf(&want, "%s/a.conf", path);
	write_file(want, "defaults\nport 1\naccount a\nhost h\n", 0600);
	free(want);
	xasprintf(&want, "%s/c.txt", path);
	write_file(want, "not a fetchrc\n", 0600);
	free(want);
	TAILQ_INIT(&list);
	error_clear(&err);
	is_int(config_load(path, &list, &err), 0, "load: a directory");
	ok(TAILQ_FIRST(&list) != NULL && strcmp(TAILQ_FIRST(&list)->name,
	    "a") == 0 && TAILQ_LAST(&list, accounts) != NULL &&
	    strcmp(TAILQ_LAST(&list, accounts)->name, "b") == 0,
	    "load: a directory's files in name order, others skipped");
	ok(TAILQ_LAST(&list, accounts)->port == 0,
	    "load: each file its own defaults");
	accounts_free(&list);
	for (i = 0; i < 3; i++) {
		xasprintf(&want, "%s/%s", path, (const char *[]){ "a.conf",
		    "b.rc", "c.txt" }[i]);
		unlink(want);
		free(want);
	}
	rmdir(path);
	free(path);
}

static void
test_default_path(void)
{
	char	*s, *want, *dir;

	setenv("XDG_CONFIG_HOME", tmpdir, 1);
	s = config_default_path();
	is_str(s, HOME "/.fetchrc", "default path: ~/.fetchrc as fallback");
	free(s);

	xasprintf(&dir, "%s/popfetch", tmpdir);
	xasprintf(&want, "%s/fetchrc", dir);
	mkdir(dir, 0700);
	write_file(want, "", 0600);
	s = config_default_path();
	is_str(s, want, "default path: XDG_CONFIG_HOME/popfetch/fetchrc");
	free(s);
	unlink(want);
	rmdir(dir);
	free(want);
	free(dir);

	unsetenv("XDG_CONFIG_HOME");
	s = config_default_path();
	is_str(s, HOME "/.fetchrc", "default path: without XDG_CONFIG_HOME");
	free(s);
}

int
main(void)
{
	setenv("HOME", HOME, 1);
	unsetenv("XDG_STATE_HOME");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 2;
	}

	test_defaults();
	test_inherit();
	test_quoting();
	test_comments();
	test_every_key();
	test_values();
	test_errors();
	test_fingerprint();
	test_tilde();
	test_uidls_path();
	test_port();
	test_tls_mode();
	test_password();
	test_validate();
	test_load();
	test_default_path();

	rmdir(tmpdir);
	return tap_done();
}
