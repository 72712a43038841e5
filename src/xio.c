/* xio.c -- small I/O helpers; see xio.h. */
#include "config.h"

#include <errno.h>
#include <unistd.h>

#include "xio.h"

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
