/*
 * xmalloc.h -- allocation that never fails silently.
 * Out of memory is not a recoverable state for popfetch: these print a
 * message and exit with EX_OSERR.  fatalx() is for impossible states only.
 */
#ifndef POPFETCH_XMALLOC_H
#define POPFETCH_XMALLOC_H

#include <stddef.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
/*
 * An array p of *cap elements, n of them used, with room for one more:
 * grown to first elements, then doubled.
 */
void	*xgrow(void *p, size_t *cap, size_t n, size_t first, size_t size);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
int	 xasprintf(char **, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
/* Overwrite then free a string that held a secret; NULL is fine. */
void	 freezero_str(char *);

#endif
