/* filter.c -- running a header filter command; see filter.h. */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "envelope.h"
#include "filter.h"
#include "mono.h"
#include "proc.h"
#include "xmalloc.h"


static char	**filter_env(const struct filter_msg *, char *, size_t, char *,
		    size_t, char **);
static int	feed(int *, const char **, size_t *);
static int	wait_bounded(pid_t, int, const char *, size_t, int, int *);
static char	*command_for(const char *, const struct filter_msg *,
		    const char *, size_t);

const char *
verdict_name(enum verdict v)
{
	switch (v) {
	case VERDICT_FETCH:
		return "fetch";
	case VERDICT_KILL:
		return "kill";
	case VERDICT_SKIP:
		return "skip";
	}
	return "?";
}

int
filter_run(const char *cmd, const struct filter_msg *m, const char *hdr,
    size_t len, int timeout, enum verdict *v, struct error *err)
{
	struct proc_spec spec;
	pid_t	 pid;
	int	 fds[2], status, rc;
	char	*full, **env, *uid, num[64], size[64];

	if (pipe2(fds, O_CLOEXEC) == -1) {
		error_set(err, EX_OSERR, "filter: pipe: %s", strerror(errno));
		return -1;
	}
	full = command_for(cmd, m, hdr, len);
	env = filter_env(m, num, sizeof num, size, sizeof size, &uid);
	/* Its own group, so a timeout kills what it started too. */
	spec = (struct proc_spec){ .cmd = full, .in = fds[0], .out = -1,
	    .own_group = 1, .env = env };
	rc = proc_spawn(&spec, &pid);
	free(env);
	free(uid);
	if (rc == -1) {
		error_set(err, EX_OSERR, "filter: cannot run /bin/sh: %s",
		    strerror(errno));
		close(fds[0]);
		close(fds[1]);
		free(full);
		return -1;
	}
	free(full);
	close(fds[0]);
	/* Non-blocking: a filter that does not read must not block us. */
	(void)fcntl(fds[1], F_SETFL, O_NONBLOCK);
	if (wait_bounded(pid, fds[1], hdr, len, timeout, &status) == -1) {
		error_set(err, EX_UNAVAILABLE, "message %lu: the filter did "
		    "not finish within %d seconds and was killed; no message "
		    "was touched", m->num, timeout);
		return -1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) <= 2) {
		*v = (enum verdict)WEXITSTATUS(status);
		return 0;
	}
	if (WIFEXITED(status))
		error_set(err, EX_UNAVAILABLE, "message %lu: the filter exited "
		    "with %d (0 fetch, 1 kill, 2 skip); no message was "
		    "touched", m->num, WEXITSTATUS(status));
	else
		error_set(err, EX_UNAVAILABLE, "message %lu: the filter was "
		    "killed by signal %d; no message was touched", m->num,
		    WTERMSIG(status));
	return -1;
}

/*
 * The command with mpop's %F (the envelope sender, from Return-Path, or
 * MAILER-DAEMON) and %S (the size LIST gave).  As in mpop, %F keeps only
 * letters, digits and ".@_-+/" and turns white space into "-" and
 * anything else into "_" (envelope_mpop_safe), so it is one harmless word
 * with or without the quotes mpop's manual advises.
 */
static char *
command_for(const char *cmd, const struct filter_msg *m, const char *hdr,
    size_t len)
{
	struct buf	 b;
	char		*from, *safe, size[32];
	const char	*p;

	from = envelope_sender(hdr, len);
	safe = envelope_mpop_safe(from != NULL ? from : ENVELOPE_UNKNOWN);
	buf_init(&b);
	for (p = cmd; *p != '\0'; p++) {
		if (p[0] == '%' && p[1] == 'F') {
			buf_addstr(&b, safe);
			p++;
		} else if (p[0] == '%' && p[1] == 'S') {
			snprintf(size, sizeof size, "%llu",
			    (unsigned long long)m->size);
			buf_addstr(&b, size);
			p++;
		} else
			buf_add(&b, p, 1);
	}
	buf_add(&b, "", 1);
	free(from);
	free(safe);
	return b.data;
}

/* What the filter learns besides its standard input (see fetchrc(5)). */
static char **
filter_env(const struct filter_msg *m, char *num, size_t nsize, char *size,
    size_t ssize, char **uid)
{
	const char	*set[4], *unset[] = { "POPFETCH_FILTER_UID", NULL };
	size_t		 n = 0;

	snprintf(num, nsize, "POPFETCH_FILTER_NUMBER=%lu", m->num);
	snprintf(size, ssize, "POPFETCH_FILTER_SIZE=%llu",
	    (unsigned long long)m->size);
	set[n++] = num;
	set[n++] = size;
	*uid = NULL;
	if (m->uid != NULL) {
		xasprintf(uid, "POPFETCH_FILTER_UID=%s", m->uid);
		set[n++] = *uid;
	}
	set[n] = NULL;
	return proc_env(set, m->uid == NULL ? unset : NULL);
}

/*
 * Write what the pipe takes now; close it when all is written or the
 * filter stopped reading (EPIPE: it may decide without the whole header).
 */
static int
feed(int *fd, const char **p, size_t *len)
{
	ssize_t	n;

	while (*fd != -1 && *len > 0) {
		if ((n = write(*fd, *p, *len)) == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			break;
		}
		*p += n;
		*len -= (size_t)n;
	}
	if (*fd != -1)
		close(*fd);
	*fd = -1;
	return 0;
}

/* Bounded: a filter that hangs must not hang a run from cron. */
static int
wait_bounded(pid_t pid, int fd, const char *p, size_t len, int timeout,
    int *status)
{
	long long	deadline = mono_now_ms() + (long long)timeout * 1000;
	int		rc;

	for (;;) {
		(void)feed(&fd, &p, &len);
		rc = proc_wait(pid, status, deadline, fd, POLLOUT);
		if (rc == 0 && mono_now_ms() < deadline)
			continue;
		if (fd != -1)
			close(fd);
		if (rc == 0)
			proc_stop(pid, 1, 0, status);
		return rc == 1 ? 0 : -1;
	}
}
