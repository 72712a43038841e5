/*
 * account.h -- one account's settings, as the config file gave them.
 *
 * An account owns all its strings.  Settings are inherited mpop-style: a
 * new account starts as a copy of the current `defaults`, then takes every
 * setting that was explicitly set in each account named after ':', then
 * its own lines.  The `set` mask records which keys were explicitly set so
 * that inheritance copies only those.
 */
#ifndef POPFETCH_ACCOUNT_H
#define POPFETCH_ACCOUNT_H

#include <sys/queue.h>
#include <stdint.h>

#include "auth.h"
#include "delivery.h"
#include "error.h"

#define FINGERPRINT_LEN	32		/* SHA-256 */

/* Bits of struct account's `set` mask, one per key. */
enum account_key {
	AK_HOST = 0,
	AK_PORT,
	AK_TLS,
	AK_TLS_STARTTLS,
	AK_TLS_TRUST_FILE,
	AK_TLS_FINGERPRINT,
	AK_TLS_CERTCHECK,
	AK_USER,
	AK_PASSWORD,
	AK_PASSWORDEVAL,
	AK_AUTH,
	AK_DELIVERY,
	AK_KEEP,
	AK_UIDLS_FILE,
	AK_TIMEOUT,
	AK_SKIPSIZE,
	AK_KILLSIZE,
	AK_FILTER,
	AK_LOGFILE,
	AK_SYSLOG,
	AK_JOBS,
	AK_TLS_PRIORITIES,
	AK_TLS_CERT_FILE,
	AK_TLS_KEY_FILE,
	AK_TLS_CRL_FILE,
	AK_RECEIVED_HEADER,
	AK_MDA_TIMEOUT,
	AK_LOCK_WAIT,
	AK_ONLY_NEW,
	AK_PIPELINING,
	AK_TLS_MIN_DH_PRIME_BITS,
	AK_SOURCE_IP,
	AK_PROXY_HOST,
	AK_PROXY_PORT,
	AK_PROXY_USER,
	AK_PROXY_PASSWORD,
	AK_FETCH_LIMIT,
	AK_FETCH_SIZE_LIMIT,
	AK__COUNT		/* at most 64: the set mask is a uint64_t */
};

struct account {
	char		*name;
	char		*file;		/* where it was defined, for messages */
	int		 line;

	char		*host;
	int		 port;		/* 0: 995 with implicit TLS, else 110 */
	int		 tls;		/* default on */
	int		 tls_starttls;	/* default off */
	char		*tls_trust_file; /* NULL: the system trust store */
	int		 has_fingerprint;
	unsigned char	 tls_fingerprint[FINGERPRINT_LEN];
	int		 tls_certcheck;	/* default on */

	char		*user;
	char		*password;	/* NULL: use passwordeval */
	char		*passwordeval;
	enum auth_method auth;

	enum delivery_kind delivery;
	char		*delivery_arg;	/* maildir/mbox path (~ expanded), or MDA command */

	int		 keep;		/* leave messages on the server */
	char		*uidls_file;	/* NULL: default, see account_uidls_path() */
	int		 timeout;	/* seconds, default 180 */

	uint64_t	 set;		/* 1 << enum account_key for keys set here */

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
};
TAILQ_HEAD(accounts, account);

/* A new account with the built-in defaults; the caller owns it. */
struct account	*account_new(const char *name, const char *file, int line);
/* A deep copy of src under a new name and location. */
struct account	*account_copy(const struct account *src, const char *name,
		    const char *file, int line);
/* Copy into dst every setting that src set explicitly. */
void		 account_inherit(struct account *dst, const struct account *src);
void		 account_free(struct account *);
void		 accounts_free(struct accounts *);
struct account	*accounts_find(struct accounts *, const char *name);

/* $HOME, else the password database's home, else "/". */
const char	*account_home_dir(void);

/* The effective port: port if set, else 995 (implicit TLS) or 110. */
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
 * The password, from the first source that has one: `password`; the first
 * line of `passwordeval`'s output (run through /bin/sh -c; a non-zero exit
 * is an EX_CONFIG error); the ~/.netrc entry for host and user (refused
 * when the file is readable by others); a prompt on the terminal when
 * stdin is one.  Returns an allocated string the caller must
 * freezero_str(), or NULL with err set.
 */
char		*account_password(const struct account *, struct error *);

#endif
