/*
 * arena.h -- many small strings that live and die together (the UIDs of a
 * listing) without a malloc header and a separate allocation each.
 * Strings are copied into 64 KiB blocks; a returned pointer stays valid,
 * unchanged, until arena_free().  The arena owns every string it returns.
 */
#ifndef POPFETCH_ARENA_H
#define POPFETCH_ARENA_H

#include <stddef.h>

struct arena_block;

struct arena {
	struct arena_block	*blocks;	/* newest first */
	size_t			 used;		/* in the newest block */
	size_t			 cap;		/* of the newest block */
};

void	 arena_init(struct arena *);
/* A NUL-terminated copy of s[0..len). */
char	*arena_strndup(struct arena *, const char *s, size_t len);
void	 arena_free(struct arena *);

#endif
