/*
 * error.h -- the error a failing call hands up to the account boundary.
 *
 * Every function that can fail returns -1 (or NULL) and fills a caller-owned
 * struct error: a sysexits(3) code saying which class of failure it was, and
 * a one-line message for the user.  The message never contains a secret.
 * The first error set is the one reported: error_set() on a struct that
 * already holds an error keeps the original (the deepest cause wins), while
 * error_prefix() adds context in front of it.
 */
#ifndef POPFETCH_ERROR_H
#define POPFETCH_ERROR_H

#include <sysexits.h>

#define ERROR_MSG_MAX 1024

struct error {
	int	 ex;			/* sysexits code; 0 while no error */
	char	 msg[ERROR_MSG_MAX];
};

void	error_clear(struct error *);
void	error_set(struct error *, int, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
void	error_prefix(struct error *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	error_isset(const struct error *);

#endif
