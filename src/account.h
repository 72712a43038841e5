/*
 * account.h -- one account's settings, as the config file gave them.
 *
 * An account owns all its strings.  Settings are inherited mpop-style: a
 * new account starts as a copy of the current `defaults`, then takes every
 * setting that was explicitly set in each account named after ':', then
 * its own lines.  The `set` mask records which keys were explicitly set so
 * that inheritance copies only those.
 *
 * Every key is one entry of account_keys[]: its name, the kind of value it
 * takes and where that lives in struct account.  The parser (config.c),
 * inheritance, copying and freeing are loops over that table, so adding a
 * key is a field here, one entry in account.c and its documentation.
 */
#ifndef POPFETCH_ACCOUNT_H
#define POPFETCH_ACCOUNT_H

#include <sys/queue.h>
#include <stdint.h>

#include "auth.h"
#include "delivery.h"
#include "error.h"

#define FINGERPRINT_LEN	32		/* SHA-256 */

/*
 * Which keys an account's own lines (or what it inherits) set: a bit per
 * entry of account_keys[], by index.  Room for ACCOUNT_KEYS_MAX keys; a
 * static assertion in account.c keeps the table within it.
 */
#define ACCOUNT_KEYS_MAX	256
struct keyset {
	uint64_t	 w[ACCOUNT_KEYS_MAX / 64];
};

/*
 * The keys a server is logged in to with, which the POP3 server (user,
 * password, ...) and the delivery server (delivery_user,
 * delivery_password, ...) both have: embedded twice in struct account,
 * so that the code reading a password or a trust file takes either side.
 * Host, port and TLS mode are not here: the destination's come from the
 * delivery line and delivery_tls, whose values differ from tls's.
 */
struct endpoint {
	char		*tls_trust_file; /* NULL: the system trust store */
	char		*user;
	char		*password;	/* NULL: use passwordeval */
	char		*passwordeval;
	enum auth_method auth;
};

struct account {
	char		*name;
	char		*file;		/* where it was defined, for messages */
	int		 line;

	char		*host;
	int		 port;		/* 0: see account_port() */
	int		 tls;		/* default on */
	int		 tls_starttls;	/* -1: not said, see account_tls_mode() */
	int		 has_fingerprint;
	unsigned char	 tls_fingerprint[FINGERPRINT_LEN];
	int		 tls_certcheck;	/* default on */

	struct endpoint	 pop;		/* the POP3 server's login */

	enum delivery_kind delivery;
	char		*delivery_arg;	/* maildir/mbox path (~ expanded), or MDA command */

	int		 keep;		/* leave messages on the server */
	char		*uidls_file;	/* NULL: default, see account_uidls_path() */
	int		 timeout;	/* seconds, default 180 */

	struct keyset	 set;		/* the keys set here (keyset_*()) */

	uint64_t	 skipsize;	/* leave larger messages; 0: off */
	uint64_t	 killsize;	/* delete larger messages unread; 0: off */
	char		*filter;	/* header filter command, or NULL */
	char		*logfile;	/* also log here (~ expanded), or NULL */
	int		 syslog;	/* facility (LOG_MAIL...), -1: off */
	int		 jobs;		/* from `defaults`: accounts at once; 0 unset */
	char		*tls_priorities; /* NULL: the system's policy */
	char		*tls_cert_file;	/* client certificate, with tls_key_file */
	char		*tls_key_file;
	char		*tls_crl_file;
	int		 keep_days;	/* keep DAYS: delete that long after the
					   first delivery; 0: keep as `keep` says */
	int		 lock_wait;	/* seconds to wait for another run */

	TAILQ_ENTRY(account) entry;

	int		 received_header; /* prepend a Received: line; default on */
	int		 mda_timeout;	/* seconds an MDA may run, default 300 */
	/*
	 * Runs that refused a message (permanently) before it is set aside:
	 * delivered to reject_maildir when set, else left on the server and
	 * not tried again until --retry-refused.  0: never set aside.
	 */
	int		 delivery_reject_limit;
	char		*reject_maildir;
	int		 only_new;	/* keep mode: fetch only unseen; default on */
	int		 pipelining;	/* 0: lock-step; 1: when offered (auto) */
	int		 tls_min_dh_prime_bits; /* accepted from mpop; 0 unset */
	char		*source_ip;	/* bind here before connecting, or NULL */
	char		*proxy_host;	/* SOCKS5 proxy, or NULL: direct */
	int		 proxy_port;	/* 0: SOCKS_DEFAULT_PORT */
	char		*proxy_user;	/* RFC 1929 login, or NULL: none */
	char		*proxy_password;
	int		 fetch_limit;	/* messages per run; 0: no limit */
	uint64_t	 fetch_size_limit; /* bytes per run; 0: no limit */
	int		 delivery_tls;	/* SMTP_TLS_*: default auto */
	struct endpoint	 dest;		/* the delivery server's login:
					   delivery_user (smtp AUTH),
					   delivery_password (imap), ... */
	char		*delivery_oauth2_account; /* whose OAuth sign-in the
					   delivery server takes, or NULL */
	char		*delivery_flags;	/* "\\Seen ..." for APPEND, or NULL */
	int		 gmail_never_spam;	/* delivery gmail: neverMarkSpam */
	char		*gmail_api_url;	/* delivery gmail: NULL, Google's */

	/* OAuth 2.0 (oauth.h): used when oauth2_client_id is set. */
	int		 oauth2_provider; /* enum oauth_provider */
	char		*oauth2_client_id;
	char		*oauth2_client_secret;
	char		*oauth2_client_secret_eval;
	char		*oauth2_tenant;	/* Microsoft; NULL: common */
	char		*oauth2_scope;	/* NULL: the provider's */
	char		*oauth2_device_endpoint; /* NULL: the provider's */
	char		*oauth2_auth_endpoint;
	char		*oauth2_token_endpoint;
	char		*oauth2_trust_file; /* NULL: the system's */
	char		*oauth2_token_file; /* NULL: account_token_path() */

	int		 interval;	/* --daemon: seconds between polls;
					   0: the --daemon interval */
	int		 log_format;	/* enum log_format: text or json */
	char		*on_failure;	/* command run when the account's
					   state changes; NULL or "": none */
};

/* oauth2_provider: whose endpoints and scope are the defaults. */
enum oauth_provider {
	OAUTH_PROVIDER_GENERIC = 0,	/* every endpoint set by hand */
	OAUTH_PROVIDER_MICROSOFT,
	OAUTH_PROVIDER_GOOGLE,
};
TAILQ_HEAD(accounts, account);

/* The kinds of value a key takes; config.c reads each kind one way. */
enum key_kind {
	KEY_STRING,	/* text; alone, or as the `none` word, it unsets */
	KEY_SECRET,	/* the same, for a password: the file must be private */
	KEY_PATH,	/* a file name, ~ expanded; `none` or alone unsets */
	KEY_BOOL,	/* on or off */
	KEY_NUMBER,	/* min to max; the `none` word means none_value */
	KEY_SIZE,	/* bytes, with k, M or G; off: no limit */
	KEY_CHOICE,	/* one of the words in `choices` */
	KEY_AUTH,	/* an auth method (auth.h) */
	KEY_DELIVERY,	/* maildir DIR, mbox FILE or mda COMMAND */
	KEY_KEEP,	/* on, off, or a number of days from min to max */
	KEY_FINGERPRINT, /* a SHA-256 certificate fingerprint */
	KEY_SYSLOG,	/* off, on or a syslog facility */
	KEY_ADDRESS,	/* a numeric IPv4 or IPv6 address */
	KEY_DURATION,	/* seconds, or a number with s, m, h or d; min to max */
	KEY_IGNORED,	/* mpop takes it and does nothing; so do we */
	KEY_UNSUPPORTED	/* refused; `want` says what to do instead */
};

/* Where a key's value lives in struct account. */
struct key_field {
	enum { FIELD_NONE, FIELD_STRING, FIELD_VALUE } type;
	size_t		 at;		/* offsetof(struct account, ...) */
	size_t		 size;		/* FIELD_VALUE: its size */
};

struct key_choice {
	const char	*word;
	int		 value;
};

struct account_key {
	const char		*name;
	enum key_kind		 kind;
	struct key_field	 field[2];	/* the value; a second part */
	const char		*want;		/* what the value may be, for
						   messages; or what to do */
	const char		*bare;		/* the value of the key written
						   alone (mpop's `key [(on|off)]`),
						   or NULL: it needs a value */
	const char		*none;		/* the word that unsets it */
	int			 none_value;	/* KEY_NUMBER: what `none` means */
	int			 min, max;	/* KEY_NUMBER, KEY_KEEP; max:
						   the longest string, in
						   bytes (0: any) */
	const struct key_choice	*choices;	/* KEY_CHOICE, ending in NULL */
	int			 defaults_only;	/* only in `defaults` */
};

/* Every key the config file knows, and how many. */
extern const struct account_key	account_keys[];
extern const size_t		account_nkeys;

/* The key called name, or NULL. */
const struct account_key *account_key_find(const char *name);
/* The key set (or not) in a keyset; the union and equality of two. */
void		 keyset_add(struct keyset *, const struct account_key *);
int		 keyset_has(const struct keyset *, const struct account_key *);
void		 keyset_union(struct keyset *, const struct keyset *);
int		 keyset_equal(const struct keyset *, const struct keyset *);
/* Where its field i lives in a. */
void		*account_field(struct account *, const struct account_key *,
		    int i);

/* A new account with the built-in defaults; the caller owns it. */
struct account	*account_new(const char *name, const char *file, int line);
/* A deep copy of src under a new name and location. */
struct account	*account_copy(const struct account *src, const char *name,
		    const char *file, int line);
/* Copy into dst every setting that src set explicitly. */
void		 account_inherit(struct account *dst, const struct account *src);
/* 1 if a and b have every key's value alike (names aside), else 0. */
int		 account_same(const struct account *a, const struct account *b);
void		 account_free(struct account *);
void		 accounts_free(struct accounts *);
struct account	*accounts_find(struct accounts *, const char *name);
/* The account named name in the list a is in (by its links), or NULL. */
const struct account *account_sibling(const struct account *,
		    const char *name);
/* Whether another account of a's list names a in delivery_oauth2_account. */
int		 account_is_signin(const struct account *);

/* $HOME, else the password database's home, else "/". */
const char	*account_home_dir(void);
/*
 * popfetch's state directory: $XDG_STATE_HOME/popfetch, by default
 * ~/.local/state/popfetch (status records, the daemon's pid file).
 * Allocated.
 */
char		*account_state_dir(void);

enum tls_mode {
	TLS_MODE_OFF,		/* plain text */
	TLS_MODE_IMPLICIT,	/* TLS from the first byte (995) */
	TLS_MODE_STLS		/* plain, then STLS (110) */
};

/*
 * How the account's connection starts TLS, and in *why (if not NULL) a
 * static phrase saying why, for -v and -S.  tls_starttls decides where
 * it was written; else a named port 110 or 995 decides (that is the mode
 * the port speaks, and what mpop, whose tls_starttls defaults to on, does
 * on 110); else implicit TLS, popfetch's default.
 */
enum tls_mode	 account_tls_mode(const struct account *, const char **why);
/* "no TLS", "implicit TLS" or "STLS", for messages. */
const char	*account_tls_mode_name(enum tls_mode);

/* The effective port: port if set, else 995 for implicit TLS, else 110. */
int		 account_port(const struct account *);

/*
 * Check that the account can be used: host, user and a delivery are set,
 * the TLS settings are consistent.  Errors are EX_CONFIG and name the file
 * and line of the account.
 */
int		 account_validate(const struct account *, struct error *);

/*
 * The UID state file path: uidls_file with %U (user) and %H (host)
 * replaced, or $XDG_STATE_HOME/popfetch/uidls/%U@%H (default
 * ~/.local/state/popfetch/uidls/...).  '/' in user or host is replaced by
 * '_'.  Returns an allocated string.
 */
char		*account_uidls_path(const struct account *);

/*
 * The OAuth token file: oauth2_token_file, or
 * $XDG_STATE_HOME/popfetch/oauth/ACCOUNT (default
 * ~/.local/state/popfetch/oauth/ACCOUNT), '/' in the name as '_'.
 * Returns an allocated string.
 */
char		*account_token_path(const struct account *);

#endif
