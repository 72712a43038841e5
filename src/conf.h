/*
 * conf.h -- reading a fetchrc into a list of accounts.
 *
 * Syntax (mpop's): '#' starts a comment line; `defaults` starts a section
 * whose settings every later account inherits; `account NAME [: OTHER[,..]]`
 * starts an account; every other line is `key value`.  A value may be
 * double-quoted (backslash escapes \" and \\ inside) to hold spaces or '#'.
 * Paths have a leading ~ expanded.  Errors are EX_CONFIG with the message
 * "FILE:LINE: what is wrong".
 */
#ifndef POPFETCH_CONF_H
#define POPFETCH_CONF_H

#include "account.h"
#include "error.h"

/*
 * Parse path into accounts (which the caller initialised with TAILQ_INIT
 * and later frees with accounts_free()).  Also refuses a file that holds a
 * `password` and is readable by group or others.  On error the list may
 * hold some accounts; free it anyway.
 */
int	config_load(const char *path, struct accounts *, struct error *);

/* The same on an in-memory text (no permission check); for tests. */
int	config_parse_string(const char *text, const char *name,
	    struct accounts *, struct error *);

/*
 * The config file to use when -C was not given: $XDG_CONFIG_HOME/popfetch/
 * fetchrc (default ~/.config/popfetch/fetchrc) when it exists, else
 * ~/.fetchrc.  Allocated.
 */
char	*config_default_path(void);

/* "~/x" -> "$HOME/x"; anything else copied.  Allocated. */
char	*config_expand_tilde(const char *);

#endif
