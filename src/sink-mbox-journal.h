/*
 * sink-mbox-journal.h -- the journal that makes mbox delivery exactly once.
 *
 * Before popfetch appends a batch of blocks (separator, From_ line,
 * quoted message, empty line) to an mbox, it appends one line per block
 * to MBOX.popfetch-journal and fsyncs it once, holding the mbox's locks:
 *
 *	<tag> <offset> <length> <sha256, hex> <skip>
 *
 * <tag> is the message's sink tag, or "-" without one.  The digest covers
 * the block's bytes after its first <skip> (the separator and From_ line,
 * which are only known under the locks; the rest is hashed while the
 * message arrives).  Lines written before <skip> existed have four fields
 * and a digest of the whole block.  A later run can then tell whether a
 * block it started made it in whole (the bytes at offset hash to the
 * digest), in part (to be cut off) or not at all.  Every function here is
 * called with the mbox locks held.
 */
#ifndef POPFETCH_SINK_MBOX_JOURNAL_H
#define POPFETCH_SINK_MBOX_JOURNAL_H

#include <sys/types.h>

#include "error.h"
#include "sink.h"

#define JOURNAL_DIGEST_LEN	32	/* SHA-256 */
/* Trimmed at open once larger than this, to the last JOURNAL_KEEP lines. */
#define JOURNAL_TRIM_SIZE	(256 * 1024)
#define JOURNAL_KEEP		1024

struct journal_entry {
	char		tag[SINK_TAG_LEN + 1];	/* "-" for none */
	off_t		offset;
	off_t		length;
	off_t		skip;		/* leading bytes not in digest */
	unsigned char	digest[JOURNAL_DIGEST_LEN];
};

/* Append the n entries e[] in one write and fsync once; EX_IOERR naming
 * path on failure. */
int	journal_add(const char *path, const struct journal_entry *e,
	    size_t n, struct error *);
/*
 * Every entry, oldest first, into *e (allocated; free it) and *n: 0, or
 * -1 with err set.  No journal is no entries.  Lines that do not parse (a
 * line cut short by a crash) are skipped.
 */
int	journal_read(const char *path, struct journal_entry **e, size_t *n,
	    struct error *);
/* Rewrite the journal atomically with its last JOURNAL_KEEP lines when
 * it has grown past JOURNAL_TRIM_SIZE. */
int	journal_trim(const char *path, struct error *);

#endif
