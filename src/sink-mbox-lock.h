/*
 * sink-mbox-lock.h -- the locks around an mbox append, as procmail, mutt
 * and Dovecot take them: a FILE.lock dot-lock (created exclusively with
 * our PID in it, taken for stale after MBOX_LOCK_STALE seconds or at once
 * when its popfetch is gone), then an fcntl write lock on the file, each
 * waited for at most MBOX_LOCK_WAIT seconds.
 */
#ifndef POPFETCH_SINK_MBOX_LOCK_H
#define POPFETCH_SINK_MBOX_LOCK_H

#include "error.h"

#define MBOX_LOCK_WAIT		60	/* seconds, for each lock */
#define MBOX_LOCK_STALE		300	/* a dot-lock older than this is stale */

struct mbox_lock {
	const char	*path;		/* the mbox (not owned) */
	const char	*who;		/* the account, for warnings (not owned) */
	char		*lockpath;	/* FILE.lock (owned) */
	int		 fd;		/* the mbox, open O_APPEND, or -1 */
	int		 dotlocked;
};

/*
 * Take both locks and open the mbox into l->fd.  EX_TEMPFAIL when another
 * program held a lock too long, EX_IOERR otherwise.  On failure what was
 * taken stays for mbox_unlock() to release.
 */
int	mbox_lock(struct mbox_lock *, struct error *);
/* Release whatever is held; closing the mbox drops the fcntl lock. */
void	mbox_unlock(struct mbox_lock *);

#endif
