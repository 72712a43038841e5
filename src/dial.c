/* dial.c -- TCP or unix socket, SOCKS5, implicit TLS; see dial.h. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "dial.h"
#include "log.h"
#include "socks.h"
#include "transport.h"

static struct transport *through_proxy(const struct dial_params *,
		    struct error *);

struct transport *
dial(const struct dial_params *p, int *tls_failed, struct error *err)
{
	struct transport	*t;

	if (tls_failed != NULL)
		*tls_failed = 0;
	if (p->path != NULL)
		t = transport_connect_unix(p->path, p->timeout, err);
	else if (p->proxy_host != NULL)
		t = through_proxy(p, err);
	else
		t = transport_connect_from(p->host, p->port, p->source_ip,
		    p->timeout, err);
	if (t == NULL)
		return NULL;
	if (p->tls != NULL && transport_starttls(t, p->tls, err) == -1) {
		if (tls_failed != NULL)
			*tls_failed = 1;
		transport_free(t);
		return NULL;
	}
	return t;
}

/*
 * Through the SOCKS5 proxy: source_ip applies to the connection to the
 * proxy, the only one this host makes; the server's name goes to the
 * proxy unresolved.
 */
static struct transport *
through_proxy(const struct dial_params *p, struct error *err)
{
	struct transport	*t;
	char			 proxy[300];
	int			 port;

	port = p->proxy_port != 0 ? p->proxy_port : SOCKS_DEFAULT_PORT;
	snprintf(proxy, sizeof proxy, "%s%s%s:%d",
	    strchr(p->proxy_host, ':') != NULL ? "[" : "", p->proxy_host,
	    strchr(p->proxy_host, ':') != NULL ? "]" : "", port);
	log_debug(p->acct, "connecting through SOCKS proxy %s", proxy);
	if ((t = transport_connect_from(p->proxy_host, port, p->source_ip,
	    p->timeout, err)) == NULL) {
		error_prefix(err, "SOCKS proxy");
		return NULL;
	}
	if (socks5_connect(t, proxy, p->proxy_login, p->host, p->port,
	    err) == -1) {
		transport_free(t);
		return NULL;
	}
	return t;
}
