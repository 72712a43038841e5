/* arena.c -- block-allocated strings; see arena.h. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "xmalloc.h"

#define ARENA_BLOCK	(64 * 1024)

struct arena_block {
	struct arena_block	*next;
	char			 data[];
};

void
arena_init(struct arena *a)
{
	memset(a, 0, sizeof *a);
}

char *
arena_strndup(struct arena *a, const char *s, size_t len)
{
	struct arena_block	*b;
	size_t			 cap;
	char			*p;

	if (a->blocks == NULL || a->cap - a->used < len + 1) {
		/* A string longer than a block gets a block of its own. */
		cap = len + 1 > ARENA_BLOCK ? len + 1 : ARENA_BLOCK;
		b = xmalloc(sizeof *b + cap);
		b->next = a->blocks;
		a->blocks = b;
		a->used = 0;
		a->cap = cap;
	}
	p = a->blocks->data + a->used;
	memcpy(p, s, len);
	p[len] = '\0';
	a->used += len + 1;
	return p;
}

void
arena_free(struct arena *a)
{
	struct arena_block	*b, *next;

	for (b = a->blocks; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	arena_init(a);
}
