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
#include "proc.h"


static void	exec_filter(int, const char *, const struct filter_msg *)
		    __attribute__((noreturn));
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
	pid_t	 pid;
	int	 fds[2], status;
	char	*full;

	if (pipe2(fds, O_CLOEXEC) == -1) {
		error_set(err, EX_OSERR, "filter: pipe: %s", strerror(errno));
		return -1;
	}
	full = command_for(cmd, m, hdr, len);
	if ((pid = fork()) == -1) {
		error_set(err, EX_OSERR, "filter: fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		free(full);
		return -1;
	}
	if (pid == 0) {
		/* Its own group, so a timeout kills what it started too. */
		(void)setpgid(0, 0);
		close(fds[1]);
		exec_filter(fds[0], full, m);
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
 * letters, digits and ".@_-+/" and turns anything else into "_", so it
 * is one harmless word with or without the quotes mpop's manual advises.
 */
static char *
command_for(const char *cmd, const struct filter_msg *m, const char *hdr,
    size_t len)
{
	struct buf	 b;
	char		*from, size[32];
	const char	*p, *f;

	from = envelope_sender(hdr, len);
	buf_init(&b);
	for (p = cmd; *p != '\0'; p++) {
		if (p[0] == '%' && p[1] == 'F') {
			for (f = from != NULL ? from : ENVELOPE_UNKNOWN;
			    *f != '\0'; f++)
				buf_add(&b, (*f >= 'a' && *f <= 'z') ||
				    (*f >= 'A' && *f <= 'Z') ||
				    (*f >= '0' && *f <= '9') ||
				    strchr(".@_-+/", *f) != NULL ? f : "_", 1);
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
	return b.data;
}

static void
exec_filter(int in, const char *cmd, const struct filter_msg *m)
{
	char	num[32], size[32];

	if (dup2(in, STDIN_FILENO) == -1 ||
	    dup2(STDERR_FILENO, STDOUT_FILENO) == -1)
		_exit(127);
	snprintf(num, sizeof num, "%lu", m->num);
	snprintf(size, sizeof size, "%llu", (unsigned long long)m->size);
	setenv("POPFETCH_FILTER_NUMBER", num, 1);
	setenv("POPFETCH_FILTER_SIZE", size, 1);
	if (m->uid != NULL)
		setenv("POPFETCH_FILTER_UID", m->uid, 1);
	else
		unsetenv("POPFETCH_FILTER_UID");
	signal(SIGPIPE, SIG_DFL);
	signal(SIGXFSZ, SIG_DFL);
	execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
	_exit(127);
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
	long long	deadline = proc_now_ms() + (long long)timeout * 1000;
	int		rc;

	for (;;) {
		(void)feed(&fd, &p, &len);
		rc = proc_wait(pid, status, deadline, fd, POLLOUT);
		if (rc == 0 && proc_now_ms() < deadline)
			continue;
		if (fd != -1)
			close(fd);
		if (rc == 0)
			proc_stop(pid, 1, 0, status);
		return rc == 1 ? 0 : -1;
	}
}
