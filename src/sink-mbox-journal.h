/*
 * sink-mbox-journal.h -- the journal that makes mbox delivery exactly once.
 *
 * Before popfetch appends a batch of blocks (separator, From_ line,
 * quoted message, empty line) to an mbox, it appends one line per block
 * to MBOX.popfetch-journal and fsyncs it once, holding the mbox's locks:
 *
 *	<tag> <offset> <length> <sha256, hex> <skip> <head, hex> <check>
 *
 * <tag> is the message's sink tag, or "-" without one.  The digest covers
 * the block's bytes after its first <skip> (the separator and From_ line,
 * which are only known under the locks; the rest is hashed while the
 * message arrives).  <head> is the block's first bytes themselves: the
 * separator, the From_ line and up to JOURNAL_HEAD_BODY bytes of the
 * message, so that a later run can prove, byte for byte, that a tail the
 * mbox ends in is the start of this block and not another program's mail.
 * <check> is a 64-bit FNV-1a hash of the line before it: a line changed
 * by hand or by a disk is told from a line cut short by a crash.
 *
 * Lines written before <head> existed have four or five fields; they are
 * still read (a digest match is proof enough to record a whole block) but
 * never prove a partial block, so they never make popfetch cut anything.
 * After the batch's blocks are appended and the mbox is fsynced, a line
 *
 *	done
 *
 * ends the batch (written, not fsynced: losing it only makes the next run
 * look at the batch again).  Only a batch with no "done" after it can
 * have left a partial block; any other block the mbox now ends inside was
 * moved there by a mail reader rewriting the file, and is no concern of
 * recovery's.  A later run can then tell whether a block it started made
 * it in whole (the bytes at offset hash to the digest), in part (cut off
 * only when the tail is provably ours) or not at all.  Every function
 * here is called with the mbox locks held.
 */
#ifndef POPFETCH_SINK_MBOX_JOURNAL_H
#define POPFETCH_SINK_MBOX_JOURNAL_H

#include <sys/types.h>

#include "envelope.h"
#include "error.h"
#include "sink.h"

#define JOURNAL_DIGEST_LEN	32	/* SHA-256 */
/* Trimmed at open once larger than this, to the last JOURNAL_KEEP lines. */
#define JOURNAL_TRIM_SIZE	(2 * 1024 * 1024)	/* 1024 lines: 1.3 MB at most */
#define JOURNAL_KEEP		1024
/* Bytes of the message itself kept in <head>, after the From_ line. */
#define JOURNAL_HEAD_BODY	64
/* The separator (2), the From_ line, JOURNAL_HEAD_BODY. */
#define JOURNAL_HEAD_MAX	(2 + 5 + ENVELOPE_ADDR_MAX + 64 + JOURNAL_HEAD_BODY)

struct journal_entry {
	char		tag[SINK_TAG_LEN + 1];	/* "-" for none */
	off_t		offset;
	off_t		length;
	off_t		skip;		/* leading bytes not in digest */
	unsigned char	digest[JOURNAL_DIGEST_LEN];
	/* The block's first headlen bytes; headlen 0 in an older line,
	 * which proves no partial block. */
	size_t		headlen;
	unsigned char	head[JOURNAL_HEAD_MAX];
	int		done;		/* a "done" line: no block */
};

/* Append the n entries e[] in one write and fsync once; EX_IOERR naming
 * path on failure. */
int	journal_add(const char *path, const struct journal_entry *e,
	    size_t n, struct error *);
/* Append the "done" line that ends a batch; no fsync.  A failure is
 * harmless (the next run looks at the batch again) and not reported. */
void	journal_done(const char *path);
/*
 * Every entry, oldest first (a "done" line is an entry with done set), into *e (allocated; free it) and *n: 0, or
 * -1 with err set.  No journal is no entries.  A line cut short by a
 * crash (fewer fields, or a shorter <check>) is skipped: its batch was
 * never appended.  A whole line whose <check> does not match, or whose
 * values make no sense, is damage: -1 with EX_DATAERR naming the line,
 * so that nothing acts on a journal that cannot be trusted.
 */
int	journal_read(const char *path, struct journal_entry **e, size_t *n,
	    struct error *);
/* Rewrite the journal atomically with its last JOURNAL_KEEP lines when
 * it has grown past JOURNAL_TRIM_SIZE. */
int	journal_trim(const char *path, struct error *);

enum journal_line {
	JOURNAL_OK,		/* a whole current line */
	JOURNAL_OLD,		/* a whole line of an older version */
	JOURNAL_DONE,		/* the end of a batch */
	JOURNAL_TORN,		/* cut short by a crash: skipped */
	JOURNAL_DAMAGED		/* changed since written: refused */
};
/* Parse the NUL-terminated line (its newline optional) into *e; exported
 * for the fuzz target. */
enum journal_line journal_parse_line(const char *, struct journal_entry *);

#endif
