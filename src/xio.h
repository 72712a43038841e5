/*
 * xio.h -- small I/O helpers shared by the modules that read whole files.
 */
#ifndef POPFETCH_XIO_H
#define POPFETCH_XIO_H

#include <sys/types.h>
#include <stddef.h>

/*
 * Read from fd until end of file or until cap bytes are in buf, retrying
 * on EINTR.  Returns the number of bytes read (cap means "maybe more"),
 * or -1 with errno set; on -1, *got says how much was read before.
 */
ssize_t	read_bounded(int fd, char *buf, size_t cap, size_t *got);

#endif
