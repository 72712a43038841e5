/* sink-mbox-lock.c -- dot-lock and fcntl lock of an mbox; see the header. */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sink-mbox-lock.h"
#include "xmalloc.h"

#define MBOX_LOCK_POLL_NS	100000000L

static void	pause_poll(void);
static int	take_dotlock(struct mbox_lock *, struct error *);
static int	dotlock(struct mbox_lock *, struct error *);
static int	holder_gone(const char *);

static void
pause_poll(void)
{
	struct timespec	ts = { 0, MBOX_LOCK_POLL_NS };

	nanosleep(&ts, NULL);
}

/*
 * FILE.lock appears with our PID already in it (written to a file of our
 * own, then linked), so a kill never leaves an empty lock that only
 * MBOX_LOCK_STALE could clear.  1 when taken, or when the directory does
 * not let us (then the fcntl lock alone has to do); 0 when another holds
 * it; -1 with err set.
 */
static int
take_dotlock(struct mbox_lock *m, struct error *err)
{
	char	*tmp;
	int	 fd, rc = -1, e;

	xasprintf(&tmp, "%s.P%ld", m->lockpath, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1) {
		e = errno;
		rc = e == EACCES || e == EROFS ? 1 : -1;
		goto out;
	}
	dprintf(fd, "%ld\n", (long)getpid());
	close(fd);
	if (link(tmp, m->lockpath) == 0) {
		m->dotlocked = 1;
		rc = 1;
	} else if ((e = errno) == EEXIST)
		rc = 0;
	(void)unlink(tmp);
out:
	free(tmp);
	if (rc == -1)
		error_set(err, EX_IOERR, "cannot create %s: %s", m->lockpath,
		    strerror(e));
	return rc;
}

/*
 * Where the directory does not let us create FILE.lock (a system spool
 * like /var/mail without group mail), the fcntl lock alone has to do, as
 * in mutt.
 */
static int
dotlock(struct mbox_lock *m, struct error *err)
{
	struct stat	st;
	time_t		start = time(NULL);
	int		rc;

	for (;;) {
		if ((rc = take_dotlock(m, err)) != 0)
			return rc == 1 ? 0 : -1;
		if (holder_gone(m->lockpath)) {
			log_warn(m->who, "removing %s: the popfetch that took "
			    "it is gone", m->lockpath);
			(void)unlink(m->lockpath);
			continue;
		}
		if (stat(m->lockpath, &st) == 0 &&
		    time(NULL) - st.st_mtime > MBOX_LOCK_STALE) {
			log_warn(m->who, "removing stale lock %s (older than %d "
			    "seconds)", m->lockpath, MBOX_LOCK_STALE);
			(void)unlink(m->lockpath);
			continue;
		}
		if (time(NULL) - start >= MBOX_LOCK_WAIT) {
			error_set(err, EX_TEMPFAIL, "%s: locked by another "
			    "program for %d seconds; try again later, or "
			    "remove the lock file if no program holds it",
			    m->lockpath, MBOX_LOCK_WAIT);
			return -1;
		}
		pause_poll();
	}
}

/*
 * A dot-lock holding just a PID (ours hold that) whose process does not
 * exist on this host.  Two popfetches may both remove it and both take a
 * new one; the fcntl lock still keeps them apart.
 */
static int
holder_gone(const char *lockpath)
{
	char	 buf[32], *end;
	ssize_t	 n;
	long	 pid;
	int	 fd;

	if ((fd = open(lockpath, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 1 || buf[n - 1] != '\n')
		return 0;
	buf[n - 1] = '\0';
	errno = 0;
	pid = strtol(buf, &end, 10);
	if (errno != 0 || *end != '\0' || pid <= 0)
		return 0;
	return kill((pid_t)pid, 0) == -1 && errno == ESRCH;
}

int
mbox_lock(struct mbox_lock *m, struct error *err)
{
	struct flock	fl;
	struct stat	st;
	time_t		start = time(NULL);

	if (dotlock(m, err) == -1)
		return -1;
	m->fd = open(m->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NONBLOCK, 0600);
	if (m->fd == -1) {
		error_set(err, EX_IOERR, "cannot open mbox %s: %s", m->path,
		    strerror(errno));
		return -1;
	}
	if (fstat(m->fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		error_set(err, EX_IOERR, "mbox %s is not a regular file",
		    m->path);
		return -1;
	}
	memset(&fl, 0, sizeof fl);
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	while (fcntl(m->fd, F_SETLK, &fl) == -1) {
		if (errno != EAGAIN && errno != EACCES && errno != EINTR) {
			error_set(err, EX_IOERR, "cannot lock mbox %s: %s",
			    m->path, strerror(errno));
			return -1;
		}
		if (time(NULL) - start >= MBOX_LOCK_WAIT) {
			error_set(err, EX_TEMPFAIL, "mbox %s: locked by "
			    "another program for %d seconds; try again later",
			    m->path, MBOX_LOCK_WAIT);
			return -1;
		}
		pause_poll();
	}
	return 0;
}

/* Closing the descriptor releases the fcntl lock. */
void
mbox_unlock(struct mbox_lock *m)
{
	if (m->fd != -1)
		close(m->fd);
	m->fd = -1;
	if (m->dotlocked)
		(void)unlink(m->lockpath);
	m->dotlocked = 0;
}
