/*
 * buf.h -- a growable byte buffer.  The buffer owns its data; buf_free()
 * releases it.  data is always NUL-terminated for convenience (the NUL is
 * not counted in len).
 */
#ifndef POPFETCH_BUF_H
#define POPFETCH_BUF_H

#include <stddef.h>

struct buf {
	char	*data;
	size_t	 len;
	size_t	 size;
};

void	buf_init(struct buf *);
void	buf_add(struct buf *, const void *, size_t);
void	buf_addstr(struct buf *, const char *);
void	buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	buf_reset(struct buf *);
void	buf_free(struct buf *);

#endif
