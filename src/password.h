/*
 * password.h -- an account's password, wherever the user keeps it.
 */
#ifndef POPFETCH_PASSWORD_H
#define POPFETCH_PASSWORD_H

#include "account.h"
#include "error.h"

/*
 * The password, from the first source that has one: `password`; the first
 * line of `passwordeval`'s output (run through /bin/sh -c; a non-zero exit
 * is an EX_CONFIG error); the ~/.netrc entry for host and user (refused
 * when the file is readable by others); a prompt on the terminal when
 * stdin is one.  Returns an allocated string the caller must
 * freezero_str(), or NULL with err set.
 */
char	*account_password(const struct account *, struct error *);
/*
 * The password of the delivery server: delivery_password, or the first
 * line of delivery_passwordeval's output (as passwordeval's).  NULL
 * without err set when neither is given.  Free with freezero_str().
 */
char	*account_delivery_password(const struct account *, struct error *);
/*
 * The password one server's keys give (ep is a->pop or a->dest): its
 * password, or the first line of its passwordeval's output (evalkey, the
 * key's name, for messages).  NULL without err set when neither is set.
 * Free with freezero_str().
 */
char	*endpoint_password(const struct account *a, const struct endpoint *ep,
	    const char *evalkey, struct error *);

/*
 * The first line a command prints, run as passwordeval is (bounded by the
 * account's timeout; errors name key, the config key that gave cmd).
 * For oauth2_client_secret_eval.  The caller freezero_str()s it.
 */
char	*account_secret_eval(const struct account *, const char *cmd,
	    const char *key, struct error *);

#endif
