/* xio.c -- small I/O helpers; see xio.h. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xio.h"
#include "xmalloc.h"

ssize_t
read_bounded(int fd, char *buf, size_t cap, size_t *got)
{
	size_t	len = 0;
	ssize_t	n;

	*got = 0;
	while (len < cap) {
		n = read(fd, buf + len, cap - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0)
			break;
		len += (size_t)n;
		*got = len;
	}
	return (ssize_t)len;
}

void
wbuf_init(struct wbuf *w, int fd, uint64_t size)
{
	w->fd = fd;
	if (w->buf == NULL)
		w->buf = xmalloc(WBUF_SIZE);
	w->len = 0;
	w->size = size;
}

void
wbuf_free(struct wbuf *w)
{
	free(w->buf);
	w->buf = NULL;
	w->len = 0;
}

int
wbuf_flush(struct wbuf *w)
{
	uint64_t	at = w->size - w->len;
	size_t		off = 0;
	ssize_t		n;

	while (off < w->len) {
		n = pwrite(w->fd, w->buf + off, w->len - off,
		    (off_t)(at + off));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		off += (size_t)n;
	}
	w->len = 0;
	return 0;
}

int
wbuf_truncate(struct wbuf *w, uint64_t size)
{
	uint64_t	written = w->size - w->len;

	if (size >= w->size)
		return 0;
	if (size >= written) {
		w->len = (size_t)(size - written);
		w->size = size;
		return 0;
	}
	w->len = 0;
	w->size = size;
	return ftruncate(w->fd, (off_t)size);
}

int
wbuf_write(struct wbuf *w, const char *p, size_t n)
{
	size_t	take;

	while (n > 0) {
		if (w->len == WBUF_SIZE && wbuf_flush(w) == -1)
			return -1;
		take = WBUF_SIZE - w->len;
		if (take > n)
			take = n;
		memcpy(w->buf + w->len, p, take);
		w->len += take;
		w->size += take;
		p += take;
		n -= take;
	}
	return 0;
}
