/*
 * destjournal.h -- the pending journal of a destination that can be
 * asked afterwards whether it holds a message (an IMAP server, Gmail).
 *
 * Before a message is sent, the sink appends one line to the account's
 * journal and fsyncs it:
 *
 *	<tag> <size> <sha256, hex> <destid> <msgid> <check>
 *
 * <tag> is the message's sink tag (struct sink_msginfo), <size> the
 * number of bytes as sent, the digest is of those bytes, <destid> the
 * destination's own name for the message once it said one (IMAP's
 * APPENDUID "uidvalidity:uid", a Gmail message id) or "-", <msgid> the
 * Message-ID without its angle brackets or "-", and <check> a 64-bit
 * FNV-1a hash of the line before it, so that a line changed by a disk or
 * by hand is told from one a crash cut short.  Once the destination
 * accepted the message, the sink may append the same line with <destid>
 * (not fsynced: losing it only makes the lookup slower).  The last line
 * of a tag wins.
 *
 * A run cut short between the destination's acceptance and the UID
 * record leaves the UID pending (uidstate.h); the next run finds the tag
 * here and asks the destination for the message instead of sending it
 * again.  So an entry is needed only until the next run of its account:
 * the journal is one file per account (next to its UID state), read once
 * when opened, and trimmed then to its last DESTJOURNAL_KEEP lines once it
 * grows past DESTJOURNAL_TRIM_SIZE.  Open it only while holding the
 * account's UID state lock, which keeps two runs apart.
 *
 * Lines that do not parse (cut short, damaged, hostile) are skipped with a
 * warning; the journal is an aid to finding a message, never proof that
 * one was delivered, so a skipped line can at worst send a message again.
 * Memory is bounded: at most the last DESTJOURNAL_READ_MAX bytes of the
 * file are read, and at most DESTJOURNAL_KEEP entries kept of those, and
 * as many of the entries added since (the newest).
 */
#ifndef POPFETCH_DESTJOURNAL_H
#define POPFETCH_DESTJOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define DESTJOURNAL_DIGEST_LEN	32		/* SHA-256 */
#define DESTJOURNAL_TAG_MAX	64
#define DESTJOURNAL_MSGID_MAX	255
#define DESTJOURNAL_DESTID_MAX	64
#define DESTJOURNAL_KEEP	1024		/* lines kept by a trim */
#define DESTJOURNAL_TRIM_SIZE	(1024 * 1024)	/* trimmed past this */
#define DESTJOURNAL_READ_MAX	(1024 * 1024)	/* read at most this */

/*
 * The strings are printable ASCII without blanks (0x21-0x7e), tag at
 * least one byte; msgid and destid "" when there is none.
 */
struct dj_entry {
	char		tag[DESTJOURNAL_TAG_MAX + 1];
	uint64_t	size;
	unsigned char	digest[DESTJOURNAL_DIGEST_LEN];
	char		destid[DESTJOURNAL_DESTID_MAX + 1];
	char		msgid[DESTJOURNAL_MSGID_MAX + 1];
};

struct destjournal;

/*
 * Open (creating it 0600, its directories 0700, and syncing the directory
 * when new) the journal at path and read its entries; who names the
 * account in warnings and must outlive the journal.  NULL with err
 * (EX_IOERR or EX_CANTCREAT naming path; not a regular file: EX_IOERR).
 */
struct destjournal *destjournal_open(const char *path, const char *who,
		    struct error *);
/*
 * Append e and fsync: call before any byte of the message leaves.  A
 * string that is not as struct dj_entry says is EX_SOFTWARE; a failed
 * write or fsync EX_IOERR naming the path (then do not send the message).
 */
int		destjournal_add(struct destjournal *, const struct dj_entry *,
		    struct error *);
/* Append e again (with its destid now), without fsync; as add otherwise. */
int		destjournal_note(struct destjournal *, const struct dj_entry *,
		    struct error *);
/*
 * fsync what was noted: notes of a batch, then one sync, stand for as
 * many adds (call it before any of their messages leaves).  EX_IOERR.
 */
int		destjournal_sync(struct destjournal *, struct error *);
/* The last entry for tag, read at open or added since, or NULL (also for
 * no journal or an empty tag). */
const struct dj_entry *destjournal_lookup(const struct destjournal *,
		    const char *tag);
/* The number of entries it holds (for tests). */
size_t		destjournal_count(const struct destjournal *);
void		destjournal_free(struct destjournal *);

#endif
