/*
 * serverinfo.h -- popfetch --serverinfo: what a server offers, shown
 * without logging in.
 *
 * The connection is made exactly as a fetch would make it (fetch_connect:
 * TLS or STLS, the account's certificate checks), so a certificate a
 * fetch would refuse is refused here too; the error then names its
 * fingerprint.  Nothing is sent after the last CAPA but UTF8 (when
 * listed, as a fetch sends it) and QUIT: no password, so capabilities a server announces only after login (a
 * per-user EXPIRE, say) are not shown.
 */
#ifndef POPFETCH_SERVERINFO_H
#define POPFETCH_SERVERINFO_H

#include <stdio.h>

#include "account.h"
#include "error.h"

/*
 * Connect for account a and print to f the greeting, the TLS session and
 * the server's certificate (subject, issuer, validity, SHA-256 fingerprint
 * in tls_fingerprint's form), every capability line as the server sent
 * it (made safe for a terminal), then the known ones (EXPIRE and
 * LOGIN-DELAY too) in words.  Returns 0, or -1 with err set as a fetch would set it.
 */
int	serverinfo_print(const struct account *a, FILE *f, struct error *);

/* EXPIRE and LOGIN-DELAY in words (values as struct pop3_caps has them). */
void	serverinfo_expire_text(long expire, char *buf, size_t size);
void	serverinfo_login_delay_text(long delay, char *buf, size_t size);

#endif
