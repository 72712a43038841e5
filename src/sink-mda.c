/*
 * sink-mda.c -- delivery through a mail delivery agent (procmail,
 * maildrop, dovecot-lda): /bin/sh -c COMMAND with %F replaced by the
 * envelope sender (shell-quoted, or mpop's safe characters where the
 * command quotes %F itself: envelope.h), the message on its standard
 * input.
 *
 * Spool first, then run the MDA.  Streaming into the MDA while reading
 * from the server would hand it half a message whenever the connection
 * breaks, and procmail delivers what it got at end of input: a truncated
 * copy now and the whole message again next run.  With the spool the MDA
 * only ever sees complete messages.  The server waits while the MDA runs,
 * so the MDA is bounded by mda_timeout (default 300 s), well inside the
 * 10 minutes after which servers log an idle client out; a slow MDA costs
 * time, never the session.
 *
 * Outcomes: exit 0 delivered; exit 75, or running past the timeout (the
 * MDA's process group is killed), SINK_REFUSED with EX_TEMPFAIL; any other
 * exit, death by a signal, or closing stdin before the end of the message,
 * SINK_REFUSED with EX_UNAVAILABLE.  Failing to run it at all (fork, the
 * spool) is -1.  The child is always reaped; a write to a closed pipe is
 * EPIPE since main() ignores SIGPIPE.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "envelope.h"
#include "mono.h"
#include "proc.h"
#include "sighold.h"
#include "sink.h"
#include "sink-spool.h"
#include "xmalloc.h"

#define MDA_KILL_GRACE_MS	2000	/* SIGTERM, then this, then SIGKILL */

enum feed_result {
	FEED_DONE,
	FEED_EPIPE,		/* the MDA closed its input early */
	FEED_TIMEOUT,
	FEED_ERROR,		/* ours: err is set */
};

struct mda {
	char		*command;
	int		 timeout;	/* seconds */
	struct spool	 sp;
};

struct run {
	pid_t		 pid;
	int		 fd;		/* the MDA's stdin */
	long long	 deadline;	/* monotonic ms */
	uint64_t	 fed;
	int		 status;
	int		 timed_out;
};

static int	mda_open(struct sink *, const struct sink_msginfo *,
		    struct error *);
static int	mda_write(struct sink *, const char *, size_t,
		    struct error *);
static int	mda_commit(struct sink *, struct error *);
static void	mda_abort(struct sink *);
static void	mda_free(struct sink *);
static int	start(struct run *, const char *, const sigset_t *,
		    struct error *);
static enum feed_result feed(struct mda *, struct run *, struct error *);
static void	kill_group(struct run *);
static int	outcome(struct mda *, struct run *, enum feed_result,
		    struct error *);

static const struct sink_ops mda_ops = {
	"mda", mda_open, mda_write, mda_commit, mda_abort, mda_free, NULL,
	NULL, NULL, NULL
};

struct sink *
sink_mda_new(const struct sink_dest *d, struct error *err)
{
	const char	*command = d->arg;
	int		 timeout = d->mda_timeout;
	struct mda	*md;
	struct sink	*s;

	md = xcalloc(1, sizeof *md);
	md->command = xstrdup(command);
	md->timeout = timeout;
	s = xcalloc(1, sizeof *s);
	s->ops = &mda_ops;
	s->data = md;
	/*
	 * The command cannot be asked afterwards what it took: each UID is
	 * recorded as soon as its command exits, so a kill -9 delivers at
	 * most the one message again, not a batch (one state fsync each).
	 */
	s->batch_max = 1;
	if (spool_init(&md->sp, err) == -1) {
		mda_free(s);
		return NULL;
	}
	return s;
}

static int
mda_open(struct sink *s, const struct sink_msginfo *mi, struct error *err)
{
	struct mda	*md = s->data;

	(void)mi;
	return spool_reset(&md->sp, err);
}

static int
mda_write(struct sink *s, const char *p, size_t n, struct error *err)
{
	struct mda	*md = s->data;

	return spool_write(&md->sp, p, n, err);
}

static int
start(struct run *r, const char *cmd, const sigset_t *mask,
    struct error *err)
{
	struct proc_spec	spec = { .cmd = cmd, .out = -1,
				    .own_group = 1, .mask = mask };
	int			pfd[2];

	if (pipe2(pfd, O_CLOEXEC) == -1) {
		error_set(err, EX_OSERR, "cannot run the MDA: pipe: %s",
		    strerror(errno));
		return -1;
	}
	/* Its own group, so that a timeout kills procmail too, not just sh. */
	spec.in = pfd[0];
	if (proc_spawn(&spec, &r->pid) == -1) {
		error_set(err, EX_OSERR, "cannot run the MDA: %s",
		    strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	close(pfd[0]);
	r->fd = pfd[1];
	/* Non-blocking, so that a stuck MDA cannot outlast the deadline. */
	(void)fcntl(r->fd, F_SETFL, fcntl(r->fd, F_GETFL) | O_NONBLOCK);
	return 0;
}

static enum feed_result
feed(struct mda *md, struct run *r, struct error *err)
{
	char		 buf[16384];
	struct pollfd	 pfd;
	ssize_t		 n, off;
	long long	 left;

	for (;;) {
		if ((n = spool_pread(&md->sp, buf, sizeof buf, r->fed,
		    err)) == -1)
			return FEED_ERROR;
		if (n == 0)
			return FEED_DONE;
		for (off = 0; off < n; ) {
			ssize_t w = write(r->fd, buf + off, (size_t)(n - off));

			if (w > 0) {
				off += w;
				r->fed += (uint64_t)w;
				continue;
			}
			if (w == -1 && errno == EPIPE)
				return FEED_EPIPE;
			if (w == -1 && errno != EAGAIN && errno != EINTR) {
				error_set(err, EX_IOERR, "cannot write to the "
				    "MDA: %s", strerror(errno));
				return FEED_ERROR;
			}
			if ((left = r->deadline - mono_now_ms()) <= 0)
				return FEED_TIMEOUT;
			pfd.fd = r->fd;
			pfd.events = POLLOUT;
			(void)poll(&pfd, 1, left > 1000 ? 1000 : (int)left);
		}
	}
}

/* Politely, then not; the child is reaped in any case. */
static void
kill_group(struct run *r)
{
	proc_stop(r->pid, 1, MDA_KILL_GRACE_MS, &r->status);
}

static int
outcome(struct mda *md, struct run *r, enum feed_result fr,
    struct error *err)
{
	int	code;

	if (r->timed_out) {
		error_set(err, EX_TEMPFAIL, "the MDA did not finish within "
		    "mda_timeout (%d s) and was killed", md->timeout);
		return SINK_REFUSED;
	}
	if (WIFSIGNALED(r->status)) {
		error_set(err, EX_UNAVAILABLE, "the MDA was killed by signal "
		    "%d", WTERMSIG(r->status));
		return SINK_REFUSED;
	}
	code = WIFEXITED(r->status) ? WEXITSTATUS(r->status) : -1;
	if (code == EX_TEMPFAIL) {
		error_set(err, EX_TEMPFAIL, "the MDA exited 75 (temporary "
		    "failure)");
		return SINK_REFUSED;
	}
	if (fr == FEED_EPIPE) {
		error_set(err, EX_UNAVAILABLE, "the MDA stopped reading after "
		    "%llu of %llu bytes (exit %d)", (unsigned long long)r->fed,
		    (unsigned long long)md->sp.w.size, code);
		return SINK_REFUSED;
	}
	if (code != 0) {
		error_set(err, EX_UNAVAILABLE, "the MDA failed (exit %d)%s",
		    code, code == 127 ? ": command not found?" : "");
		return SINK_REFUSED;
	}
	return 0;
}

static int
mda_commit(struct sink *s, struct error *err)
{
	struct mda		*md = s->data;
	struct run		 r;
	enum feed_result	 fr;
	sigset_t		 old;
	char			*sender = NULL, *cmd = NULL;
	int			 rc = -1;

	memset(&r, 0, sizeof r);
	r.fd = -1;
	if (spool_flush(&md->sp, err) == -1)
		return -1;
	if ((sender = spool_sender(&md->sp, err)) == NULL)
		return -1;
	cmd = envelope_expand_sender(md->command, sender);

	sig_hold(&old);
	r.deadline = mono_now_ms() + (long long)md->timeout * 1000;
	if (start(&r, cmd, &old, err) == -1)
		goto out;
	fr = feed(md, &r, err);
	if (fr == FEED_ERROR || fr == FEED_TIMEOUT) {
		/* Never let the MDA deliver the part it got. */
		kill_group(&r);
		r.timed_out = fr == FEED_TIMEOUT;
	}
	close(r.fd);
	if (fr != FEED_ERROR && fr != FEED_TIMEOUT && proc_wait_or_stop(r.pid,
	    &r.status, r.deadline, 1, MDA_KILL_GRACE_MS) == 0)
		r.timed_out = 1;
	rc = fr == FEED_ERROR ? -1 : outcome(md, &r, fr, err);
out:
	sig_release(&old);
	free(sender);
	free(cmd);
	return rc;
}

static void
mda_abort(struct sink *s)
{
	struct mda	*md = s->data;
	struct error	 ignored;

	error_clear(&ignored);
	(void)spool_reset(&md->sp, &ignored);
}

static void
mda_free(struct sink *s)
{
	struct mda	*md = s->data;

	spool_free(&md->sp);
	free(md->command);
	free(md);
	free(s);
}
