/*
 * connect.c -- the way to a logged-out session: the account's dial
 * parameters (TCP directly or through a SOCKS5 proxy, implicit TLS with
 * the account's checks; dial.c opens the connection), then the POP3
 * part: greeting, CAPA, STLS and UTF8; see connect.h.  fetch.c and
 * serverinfo.c (-S) share it.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "connect.h"
#include "dial.h"
#include "log.h"
#include "pop3.h"
#include "socks.h"
#include "tls.h"
#include "transport.h"

static void	tls_params_of(const struct account *, struct tls_params *);
static void	dial_params_of(const struct account *,
		    const struct socks_login *, const struct tls_params *,
		    enum tls_mode, struct dial_params *);

static void
tls_params_of(const struct account *a, struct tls_params *tp)
{
	memset(tp, 0, sizeof *tp);
	tp->host = a->host;
	tp->trust_file = a->pop.tls_trust_file;
	tp->certcheck = a->tls_certcheck;
	tp->fingerprint = a->has_fingerprint ? a->tls_fingerprint : NULL;
	tp->priorities = a->tls_priorities;
	tp->cert_file = a->tls_cert_file;
	tp->key_file = a->tls_key_file;
	tp->crl_file = a->tls_crl_file;
}

/* Where the account's server is, and how to get there. */
static void
dial_params_of(const struct account *a, const struct socks_login *lg,
    const struct tls_params *tp, enum tls_mode mode, struct dial_params *dp)
{
	memset(dp, 0, sizeof *dp);
	dp->host = a->host;
	dp->port = account_port(a);
	dp->source_ip = a->source_ip;
	dp->proxy_host = a->proxy_host;
	dp->proxy_port = a->proxy_port;
	dp->proxy_login = a->proxy_user != NULL ? lg : NULL;
	dp->tls = mode == TLS_MODE_IMPLICIT ? tp : NULL;
	dp->timeout = a->timeout;
	dp->acct = a->name;
}

int
connect_session(const struct account *a, struct pop3 **pp,
    struct error *err)
{
	struct socks_login	 lg = { a->proxy_user, a->proxy_password };
	struct dial_params	 dp;
	struct transport	*t;
	struct tls_params	 tp;
	enum tls_mode		 mode;
	const char		*why;

	*pp = NULL;
	mode = account_tls_mode(a, &why);
	tls_params_of(a, &tp);
	/* Per connection, but said once per account (and change). */
	if (a->tls && !a->tls_certcheck && !a->has_fingerprint)
		log_warn_once(a->name, "tls_certcheck is off: the server's "
		    "certificate is not checked, so anyone on the path can "
		    "pose as the server");
	log_verbose(a->name, "connecting to %s port %d, %s (%s)", a->host,
	    account_port(a), account_tls_mode_name(mode), why);
	if (a->tls_min_dh_prime_bits != 0)
		log_verbose(a->name, "tls_min_dh_prime_bits is ignored: GnuTLS "
		    "chooses finite-field groups of at least 2048 bits itself "
		    "(see fetchrc(5))");
	dial_params_of(a, &lg, &tp, mode, &dp);
	if ((t = dial(&dp, NULL, err)) == NULL)
		return -1;
	*pp = pop3_new(t, a->name);
	if (!a->pipelining)
		pop3_lockstep(*pp);
	if (pop3_greeting(*pp, err) == -1 || pop3_capa(*pp, err) == -1)
		return -1;
	if (mode == TLS_MODE_STLS) {
		/* Without CAPA we cannot know; STLS itself will tell. */
		if (pop3_caps(*pp)->known && !pop3_caps(*pp)->stls) {
			error_set(err, EX_PROTOCOL, "the server does not "
			    "offer STLS, and the account uses it (%s): not "
			    "continuing without TLS (the offer may have been "
			    "stripped by an attacker)", why);
			return -1;
		}
		if (pop3_stls(*pp, &tp, err) == -1 ||
		    pop3_capa(*pp, err) == -1)
			return -1;
	}
	if (a->tls)
		log_debug(a->name, "TLS: %s", transport_tls_desc(t));
	return pop3_utf8(*pp, err);
}
