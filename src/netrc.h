/*
 * netrc.h -- passwords from ~/.netrc (the ftp(1)/curl format): tokens
 * separated by blanks or line ends; `machine NAME` or `default` starts an
 * entry, `login NAME`, `password WORD`, `account WORD` belong to it, and
 * `macdef NAME` is skipped up to the next empty line.
 */
#ifndef POPFETCH_NETRC_H
#define POPFETCH_NETRC_H

#include "error.h"

/*
 * The password of the first entry for host whose login is user (or has no
 * login); a `default` entry counts only after every machine entry.
 * Returns 1 with *pass allocated (the caller freezero_str()s it), 0 when
 * nothing matches or the file does not exist, -1 with err set: EX_CONFIG
 * when the file holds a password but is readable by group or others,
 * EX_IOERR when it cannot be read.
 */
int	netrc_lookup(const char *path, const char *host, const char *user,
	    char **pass, struct error *);

/* The same on text in memory (no permission check); for tests. */
int	netrc_parse(const char *text, const char *host, const char *user,
	    char **pass);

#endif
