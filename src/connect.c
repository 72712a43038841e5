/*
 * connect.c -- the way to a logged-out session: TCP (directly or through
 * a SOCKS5 proxy), TLS or STLS with the account's checks, greeting,
 * CAPA and UTF8; see connect.h.  fetch.c and serverinfo.c (-S) share it.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "connect.h"
#include "log.h"
#include "pop3.h"
#include "socks.h"
#include "tls.h"
#include "transport.h"

static void	tls_params_of(const struct account *, struct tls_params *);
static int	connect_proxy(const struct account *, struct transport **,
		    struct error *);

static void
tls_params_of(const struct account *a, struct tls_params *tp)
{
	memset(tp, 0, sizeof *tp);
	tp->host = a->host;
	tp->trust_file = a->tls_trust_file;
	tp->certcheck = a->tls_certcheck;
	tp->fingerprint = a->has_fingerprint ? a->tls_fingerprint : NULL;
	tp->priorities = a->tls_priorities;
	tp->cert_file = a->tls_cert_file;
	tp->key_file = a->tls_key_file;
	tp->crl_file = a->tls_crl_file;
}

/*
 * Through the SOCKS5 proxy: source_ip applies to the connection to the
 * proxy, the only one this host makes; the server's name goes to the
 * proxy unresolved.
 */
static int
connect_proxy(const struct account *a, struct transport **tp,
    struct error *err)
{
	struct socks_login	 lg = { a->proxy_user, a->proxy_password };
	char			 proxy[300];
	int			 port;

	port = a->proxy_port != 0 ? a->proxy_port : SOCKS_DEFAULT_PORT;
	snprintf(proxy, sizeof proxy, "%s%s%s:%d",
	    strchr(a->proxy_host, ':') != NULL ? "[" : "", a->proxy_host,
	    strchr(a->proxy_host, ':') != NULL ? "]" : "", port);
	log_debug(a->name, "connecting through SOCKS proxy %s", proxy);
	if ((*tp = transport_connect_from(a->proxy_host, port, a->source_ip,
	    a->timeout, err)) == NULL) {
		error_prefix(err, "SOCKS proxy");
		return -1;
	}
	if (transport_socks5(*tp, proxy, a->proxy_user != NULL ? &lg : NULL,
	    a->host, account_port(a), err) == -1) {
		transport_free(*tp);
		*tp = NULL;
		return -1;
	}
	return 0;
}

int
connect_session(const struct account *a, struct pop3 **pp,
    struct error *err)
{
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
	if (a->proxy_host != NULL) {
		if (connect_proxy(a, &t, err) == -1)
			return -1;
	} else if ((t = transport_connect_from(a->host, account_port(a),
	    a->source_ip, a->timeout, err)) == NULL)
		return -1;
	*pp = pop3_new(t, a->name);
	if (!a->pipelining)
		pop3_lockstep(*pp);
	if (mode == TLS_MODE_IMPLICIT &&
	    transport_starttls(t, &tp, err) == -1)
		return -1;
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
