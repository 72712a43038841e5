/*
 * sink-spool.h -- a message held in an unlinked temporary file until it is
 * complete, for the sinks that must see all of it before they deliver
 * (mbox, MDA).
 *
 * Spooling keeps the mbox locked only for the append and never hands an
 * MDA half a message when the connection breaks; see sink-mda.c for why
 * the MDA is fed from the spool rather than while reading.  The file lives
 * in $TMPDIR (default /tmp) and has no name, so it vanishes with the
 * process whatever happens.
 */
#ifndef POPFETCH_SINK_SPOOL_H
#define POPFETCH_SINK_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

#include "xio.h"

struct spool {
	int		 fd;
	struct wbuf	 w;		/* w.size: bytes since spool_reset() */
};

/* Create the file.  Errors are EX_CANTCREAT. */
int	spool_init(struct spool *, struct error *);
void	spool_free(struct spool *);

/* Empty the spool for the next message. */
int	spool_reset(struct spool *, struct error *);
/* Drop what was written after the first size bytes (none when fewer). */
int	spool_truncate(struct spool *, uint64_t size, struct error *);
/* Append bytes.  Errors (ENOSPC, EFBIG) are EX_IOERR. */
int	spool_write(struct spool *, const char *, size_t, struct error *);
/* Write out what is buffered; after this, spool_pread() sees everything. */
int	spool_flush(struct spool *, struct error *);
/* Read from offset off; returns bytes read (0 at the end) or -1. */
ssize_t	spool_pread(struct spool *, char *, size_t, uint64_t,
	    struct error *);
/*
 * The same with the spool as a void *, the shape of the destinations'
 * message readers (smtp_reader of smtp.h): pass it with the spool as arg.
 */
ssize_t	spool_read_at(void *spool, char *, size_t, uint64_t,
	    struct error *);

/*
 * One message of a spool holding several (a batch): len bytes from
 * start.  spool_span_read() is a message reader (smtp_reader, the IMAP
 * literal reader) over it: pass the span as arg.
 */
struct spool_span {
	struct spool	*sp;
	uint64_t	 start, len;
};
ssize_t	spool_span_read(void *span, char *, size_t, uint64_t,
	    struct error *);

/* Where spool_read_crlf() is: zero it to read from the start. */
struct spool_crlf {
	uint64_t	off;		/* into the spool */
	int		cr_sent;	/* the CR of the LF at off went out */
};

/*
 * The flushed spool with CRLF line ends (each LF read as CR LF), into
 * buf, len > 0 bytes at most, from where c says: the count, 0 at the
 * end, -1 with err.  Any len works; a CR LF may be split between reads.
 */
ssize_t	spool_read_crlf(struct spool *, struct spool_crlf *c, char *buf,
	    size_t len, struct error *);
/*
 * The envelope sender of the spooled message (flushed), from its header
 * section, or ENVELOPE_UNKNOWN.  Allocated.
 */
char	*spool_sender(struct spool *, struct error *);
/*
 * The same for the size bytes from start (one of several messages); with
 * utf8 an address may hold UTF-8 (envelope_sender_utf8_of()).
 */
char	*spool_sender_at(struct spool *, uint64_t start, uint64_t size,
	    int utf8, struct error *);

#endif
