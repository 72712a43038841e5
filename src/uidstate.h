/*
 * uidstate.h -- the per-account record of UIDs already delivered.
 *
 * The file holds one line per delivered UID with the time popfetch first
 * delivered it ("<epoch> <uid>"), after a version line.  During a session
 * each delivered UID is appended and fsync'd before the message may be
 * deleted on the server (uidstate_record); at the end the file is
 * rewritten atomically (temp file, fsync, rename, fsync of the directory)
 * keeping only UIDs still on the server (uidstate_rewrite).  A crash can
 * leave at most a partial last line, which is ignored on reading.
 *
 * A sink that can find a message it delivered (maildir: the file name
 * carries a tag derived from the UID) closes the window between "message
 * durably in the mailbox" and "UID recorded": before the first message
 * of a session can become visible, a "pending <uid>" line for every
 * message the session means to fetch is appended and fsync'd
 * (uidstate_pending); a pending UID without a record at the next run tells
 * fetch to ask the sink whether the message arrived.  The rewrite drops
 * pending lines.
 *
 * A message the delivery refused (permanently) is counted per run in a
 * "#refused <runs> <uid>" line (uidstate_set_refusals), kept by the rewrite
 * while the message is on the server and not delivered; the last such
 * line of a UID counts.  The '#' makes it a comment to versions that
 * know no such line: they read the file as before.
 *
 * A lock (flock on "<file>.lock") held from uidstate_open to
 * uidstate_close keeps two runs from fetching the same account at once.
 */
#ifndef POPFETCH_UIDSTATE_H
#define POPFETCH_UIDSTATE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "error.h"

struct uidstate;

/*
 * Lock and read the state at path (a missing file is an empty state;
 * missing directories are created 0700).  Waits up to lock_wait seconds
 * for another run to finish, then fails with EX_TEMPFAIL.  A corrupt file
 * is EX_DATAERR.
 */
struct uidstate	*uidstate_open(const char *path, int lock_wait,
		    struct error *);
/*
 * A state parsed from len bytes of data as if read from a file called name,
 * without a file or a lock: the parser's entry point for unit tests and
 * the fuzz target.  Only lookups and uidstate_close() make sense on it.
 */
struct uidstate	*uidstate_parse_buffer(const char *name, const char *data,
		    size_t len, struct error *);
/* Unlock and free; does not write. */
void		 uidstate_close(struct uidstate *);

size_t		 uidstate_count(const struct uidstate *);
/* Call fn on every delivered UID, in strcmp order (as mpop sorts). */
void		 uidstate_foreach(const struct uidstate *,
		    void (*fn)(const char *uid, void *arg), void *arg);

/*
 * The most bytes a state file may hold: uidstate_open refuses a larger
 * one, so whatever adds UIDs in bulk (--import-uids) checks
 * uidstate_bytes first and refuses before it writes.  3 million UIDs of
 * 70 characters fit.
 */
#define UIDSTATE_FILE_MAX	(256 * 1024 * 1024)
/* The file's size once everything added so far is synced. */
uint64_t	 uidstate_bytes(const struct uidstate *);
/* 1 and *first set when uid was delivered before; 0 if not. */
int		 uidstate_lookup(const struct uidstate *, const char *uid,
		    time_t *first);
/* Record uid as delivered at when, durably (appended and fsync'd). */
int		 uidstate_record(struct uidstate *, const char *uid,
		    time_t when, struct error *);
/*
 * Note durably (one sync) that the delivery of each of the n uids may
 * start (see above); called once per session, before the first RETR.
 * Records added before are written and synced with them.
 */
int		 uidstate_pending(struct uidstate *, const char *const *uids,
		    size_t n, struct error *);
/* 1 when uid has a pending line and no record: it may have arrived. */
int		 uidstate_is_pending(const struct uidstate *, const char *uid);
/*
 * Group commit: uidstate_add records a UID in memory only; uidstate_sync
 * appends every UID added since the last sync and fsyncs.  Call it only
 * once the messages behind those UIDs are durable: nothing reaches the
 * file before, so a crash can never leave a UID without its message.  A
 * message may be deleted on the server only after the sync.  Lookups see
 * an added UID at once.
 */
int		 uidstate_add(struct uidstate *, const char *uid,
		    time_t when, struct error *);
int		 uidstate_sync(struct uidstate *, struct error *);
/* Runs that refused uid (0 when none did, or it was delivered since). */
unsigned int	 uidstate_refusals(const struct uidstate *, const char *uid);
/*
 * Set uid's count of refusing runs to runs (0: forget them), durably: its
 * own line, appended and fsync'd at once; records added but not synced
 * stay unwritten.
 */
int		 uidstate_set_refusals(struct uidstate *, const char *uid,
		    unsigned int runs, struct error *);
/*
 * Keep only the UIDs listed in live (the server's UIDL at the start of
 * the session) that were delivered, or were refused and not delivered
 * since, and rewrite the file atomically.
 */
int		 uidstate_rewrite(struct uidstate *, const char *const *live,
		    size_t nlive, struct error *);

#endif
