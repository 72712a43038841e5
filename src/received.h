/*
 * received.h -- the Received: trace header popfetch prepends to each
 * message (`received_header on`, the default), so that the path a message
 * took stays visible after it left the POP3 server.
 */
#ifndef POPFETCH_RECEIVED_H
#define POPFETCH_RECEIVED_H

#include <time.h>

/*
 * The header, folded, ending in "\n":
 *
 *   Received: from SERVER (user USER)
 *   	by LOCALHOST with POP3S (popfetch VERSION, (TLS1.3)-(ECDHE-...)-(AES-256-GCM));
 *   	Tue, 10 Jun 2025 12:00:00 +0000
 *
 * tls_desc is transport_tls_desc()'s text, or NULL without TLS (then the
 * protocol is "POP3").  Control characters in the arguments become '?',
 * so nothing can end the header early.  Allocated.
 */
char	*received_header(const char *server, const char *user,
	    const char *localhost, const char *tls_desc, time_t now);

#endif
