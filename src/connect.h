/*
 * connect.h -- connecting as a fetch would, up to but not including the
 * login.
 */
#ifndef POPFETCH_CONNECT_H
#define POPFETCH_CONNECT_H

#include "account.h"
#include "error.h"

struct pop3;

/*
 * TCP (through the SOCKS5 proxy when one is set), TLS or STLS with the
 * account's certificate checks, greeting, CAPA (again after STLS), UTF8
 * when the server lists it (RFC 6856).  *pp
 * gets the session as soon as there is one, also when a later step
 * fails; the caller frees it with pop3_free().
 */
int	connect_session(const struct account *, struct pop3 **pp,
	    struct error *);

#endif
