/*
 * mbox-journal.h -- the journal that makes mbox delivery exactly once.
 *
 * Before popfetch appends a block (separator, From_ line, quoted message,
 * empty line) to an mbox, it appends one line to MBOX.popfetch-journal
 * and fsyncs it, holding the mbox's locks:
 *
 *	<tag> <offset> <length> <sha256 of the block, hex>
 *
 * <tag> is the message's sink tag, or "-" without one.  A later run can
 * then tell whether a block it started made it in whole (the bytes at
 * offset hash to the digest), in part (to be cut off) or not at all.
 * Every function here is called with the mbox locks held.
 */
#ifndef POPFETCH_MBOX_JOURNAL_H
#define POPFETCH_MBOX_JOURNAL_H

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
	unsigned char	digest[JOURNAL_DIGEST_LEN];
};

/* Append e and fsync; EX_IOERR naming path on failure. */
int	journal_add(const char *path, const struct journal_entry *,
	    struct error *);
/*
 * The last entry for tag (NULL: the last entry of all) into e: 1 when
 * found, 0 when not (or no journal), -1 with err set.  Lines that do not
 * parse (a line cut short by a crash) are skipped.
 */
int	journal_last(const char *path, const char *tag,
	    struct journal_entry *, struct error *);
/* Rewrite the journal atomically with its last JOURNAL_KEEP lines when
 * it has grown past JOURNAL_TRIM_SIZE. */
int	journal_trim(const char *path, struct error *);

#endif
