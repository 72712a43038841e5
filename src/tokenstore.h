/*
 * tokenstore.h -- an account's OAuth tokens on disk, one file per account.
 *
 * The file is JSON ({"access_token", "refresh_token", "expires_at"}),
 * mode 0600 in a 0700 directory, and is only ever replaced whole: written
 * to a temporary file, fsync'd, renamed over the old one, and the
 * directory fsync'd; a kill at any moment leaves the old file or the new
 * one.  Runs that share the file serialise on a lock (flock on
 * PATH.lock, a file that is never replaced), held from reading the tokens
 * to writing the refreshed ones, so that one run refreshes and the others
 * read its result: a rotated refresh token is never spent twice.
 */
#ifndef POPFETCH_TOKENSTORE_H
#define POPFETCH_TOKENSTORE_H

#include "error.h"

struct tokens {
	char		*access;	/* NULL: none */
	char		*refresh;	/* NULL: none */
	long long	 expires_at;	/* Unix time the access token dies; 0:
					   unknown */
};

/*
 * Take the lock for path, creating its directory (0700) as needed,
 * waiting at most wait seconds for another run.  Returns the lock's fd
 * (close it to release), or -1 with err (EX_TEMPFAIL when another run
 * held it all along).
 */
int	tokenstore_lock(const char *path, int wait, struct error *);

/*
 * Read path into t.  1 when there is no file yet (t empty), 0 when read,
 * -1 with err: EX_NOPERM when others may read it, EX_DATAERR when it is
 * not a regular file or not a token file.
 */
int	tokenstore_read(const char *path, struct tokens *t, struct error *);

/* Replace path with t, durably (see above).  -1 with err on failure. */
int	tokenstore_write(const char *path, const struct tokens *t,
	    struct error *);

/* Zero and free t's strings. */
void	tokens_free(struct tokens *t);

#endif
