/*
 * xio.h -- small I/O helpers: reading whole files, buffered appends, and
 * the steps of a durable write (whole writes, parent directories made and
 * synced) shared by the UID state, the journal, the token and status files.
 */
#ifndef POPFETCH_XIO_H
#define POPFETCH_XIO_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

struct error;

/*
 * Read from fd until end of file or until cap bytes are in buf, retrying
 * on EINTR.  Returns the number of bytes read (cap means "maybe more"),
 * or -1 with errno set; on -1, *got says how much was read before.
 */
ssize_t	read_bounded(int fd, char *buf, size_t cap, size_t *got);

/*
 * Buffered writes to fd at a known offset, for the files a message
 * streams into while it arrives (a maildir's tmp/ file, the spool): one
 * write(2) per WBUF_SIZE bytes rather than one per line.  The caller owns
 * fd; size is where the next byte goes, buffered bytes counted.
 */
#define WBUF_SIZE	65536

struct wbuf {
	int		 fd;
	char		*buf;		/* WBUF_SIZE bytes */
	size_t		 len;		/* bytes buffered, not yet written */
	uint64_t	 size;		/* the file's size once flushed */
};

/* Buffer for fd, whose first size bytes are already written. */
void	wbuf_init(struct wbuf *, int fd, uint64_t size);
void	wbuf_free(struct wbuf *);
/* 0, or -1 with errno set (ENOSPC, EFBIG...). */
int	wbuf_write(struct wbuf *, const char *, size_t);
int	wbuf_flush(struct wbuf *);
/*
 * Drop what lies past the first size bytes (nothing when there are
 * fewer), from the buffer or the file.  0, or -1 with errno set.
 */
int	wbuf_truncate(struct wbuf *, uint64_t size);

/* All n bytes of p to fd, over EINTR and short writes: 0, or -1 (errno). */
int	xwrite_all(int fd, const void *p, size_t n);

/* fsync(2) the directory holding path, so a rename or a new file in it
 * lasts: 0, or -1 with errno set. */
int	xsync_parent(const char *path);

/*
 * The directories above path, 0700 where made here (an existing one is
 * left as it is).  0, or -1 with err: "cannot create directory D for
 * WHAT: why" (EX_CANTCREAT).
 */
int	xmkdir_parents(const char *path, const char *what, struct error *);

#endif
