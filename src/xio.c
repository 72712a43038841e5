/* xio.c -- small I/O helpers; see xio.h. */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
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

int
xwrite_all(int fd, const void *buf, size_t n)
{
	const char	*p = buf;
	ssize_t		 w;

	while (n > 0) {
		if ((w = write(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
xsync_parent(const char *path)
{
	char	*copy;
	int	 fd, rc, saved;

	copy = xstrdup(path);
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(copy);
	if (fd == -1)
		return -1;
	rc = fsync(fd);
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

int
xmkdir_parents(const char *path, const char *what, struct error *err)
{
	char	*copy, *p;

	copy = xstrdup(path);
	for (p = copy + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(copy, 0700) == -1 && errno != EEXIST) {
			error_set(err, EX_CANTCREAT, "cannot create directory "
			    "%s for %s: %s", copy, what, strerror(errno));
			free(copy);
			return -1;
		}
		*p = '/';
	}
	free(copy);
	return 0;
}
