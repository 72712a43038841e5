/*
 * uidstate-mpop.h -- a uidls_file that mpop(1) wrote, used in place, so
 * that mpop and popfetch can take turns on one mailbox in keep mode.
 *
 * mpop reads only its own format (" COUNT HOST USER", then COUNT UIDs)
 * and stops on anything else; popfetch's state is an append log synced
 * before each DELE (uidstate.h), which mpop could not read.  So for a
 * file in mpop's format popfetch keeps its own state beside it, in
 * FILE.popfetch-USER@HOST: at the start of a run it takes in the UIDs
 * mpop listed for the account (read by --import-uids's parser), and at
 * the end of a
 * run -- after an error too, as mpop does -- it writes FILE back in
 * mpop's format, atomically: every other list as it was, the account's
 * list replaced by the UIDs popfetch's state holds.  From open to close
 * an fcntl lock on FILE, the lock mpop takes, keeps mpop out.
 */
#ifndef POPFETCH_UIDSTATE_MPOP_H
#define POPFETCH_UIDSTATE_MPOP_H

#include "account.h"
#include "error.h"
#include "uidstate.h"

struct mpop_uidls;

/*
 * 1 when path holds mpop's format; 0 when it does not (missing, empty,
 * popfetch's own or unreadable: uidstate_open says why); never fails.
 */
int		 mpop_uidls_detect(const char *path);

/*
 * Where popfetch keeps its own state for account a beside mpop's file at
 * path: "PATH.popfetch-USER@HOST" ('/' in user or host as '_').  One per
 * mailbox, as mpop keeps one list per mailbox: accounts that share one
 * mpop file must not share a state, whose rewrite keeps only the UIDs of
 * one server.  Allocated.
 */
char		*mpop_uidls_own_path(const char *path, const struct account *a);

/*
 * Lock path (waiting up to lock_wait seconds for a running mpop), read
 * it, and add to us the UIDs of a's list (same user and host) that us
 * lacks, as delivered now; synced to us's file when sync is set (a real
 * run; a look at the mailbox writes nothing).  EX_TEMPFAIL when mpop
 * holds the lock, EX_DATAERR naming file and line for a broken file.
 */
struct mpop_uidls *mpop_uidls_open(const char *path, const struct account *a,
		    struct uidstate *us, int lock_wait, int sync,
		    struct error *);
/* Write the file back in mpop's format, a's list from us. */
int		 mpop_uidls_write(struct mpop_uidls *, const struct uidstate *,
		    struct error *);
/* Unlock and free; does not write. */
void		 mpop_uidls_close(struct mpop_uidls *);

#endif
