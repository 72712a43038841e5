/* proc.c -- waiting for and stopping children; see proc.h. */
#include "config.h"

#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <spawn.h>
#include <string.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "mono.h"
#include "proc.h"
#include "xmalloc.h"

/* Without a pidfd: how long to sleep between looks at the child. */
#define PROC_POLL_MS	5

static int	named(const char *, const char *const *, int);
static int	pidfd_of(pid_t);
static int	reaped(pid_t, int *);

extern char	**environ;

/* Whether the environment entry e is for one of the names. */
static int
named(const char *e, const char *const *names, int with_value)
{
	size_t	n;

	for (; names != NULL && *names != NULL; names++) {
		n = with_value ? strcspn(*names, "=") : strlen(*names);
		if (strncmp(e, *names, n) == 0 && e[n] == '=')
			return 1;
	}
	return 0;
}

char **
proc_env(const char *const *set, const char *const *unset)
{
	char		**env;
	size_t		  n = 0, k = 0, i;

	for (i = 0; environ[i] != NULL; i++)
		n++;
	for (i = 0; set != NULL && set[i] != NULL; i++)
		n++;
	env = xreallocarray(NULL, n + 1, sizeof *env);
	for (i = 0; environ[i] != NULL; i++)
		if (!named(environ[i], set, 1) && !named(environ[i], unset, 0))
			env[k++] = environ[i];
	for (i = 0; set != NULL && set[i] != NULL; i++)
		env[k++] = (char *)set[i];
	env[k] = NULL;
	return env;
}

int
proc_spawn(const struct proc_spec *ps, pid_t *pid)
{
	char *const			 argv[] = { "sh", "-c", (char *)ps->cmd,
					    NULL };
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 at;
	sigset_t			 def;
	short				 flags = POSIX_SPAWN_SETSIGDEF;
	int				 e;

	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	sigaddset(&def, SIGXFSZ);
	if (ps->own_group)
		flags |= POSIX_SPAWN_SETPGROUP;
	if (ps->mask != NULL)
		flags |= POSIX_SPAWN_SETSIGMASK;
	if ((e = posix_spawn_file_actions_init(&fa)) != 0)
		goto out;
	if ((e = posix_spawnattr_init(&at)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		goto out;
	}
	/* dup2 onto itself clears close-on-exec in posix_spawn (glibc 2.29). */
	if ((ps->in == -1 || (e = posix_spawn_file_actions_adddup2(&fa,
	    ps->in, STDIN_FILENO)) == 0) &&
	    (e = posix_spawn_file_actions_adddup2(&fa, ps->out != -1 ?
	    ps->out : STDERR_FILENO, STDOUT_FILENO)) == 0 &&
	    (e = posix_spawnattr_setflags(&at, flags)) == 0 &&
	    (e = posix_spawnattr_setpgroup(&at, 0)) == 0 &&
	    (ps->mask == NULL ||
	    (e = posix_spawnattr_setsigmask(&at, ps->mask)) == 0) &&
	    (e = posix_spawnattr_setsigdefault(&at, &def)) == 0)
		e = posix_spawn(pid, "/bin/sh", &fa, &at, argv,
		    ps->env != NULL ? ps->env : environ);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
out:
	errno = e;
	return e == 0 ? 0 : -1;
}

static int
pidfd_of(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	errno = ENOSYS;
	return -1;
#endif
}

/* 1 when pid was reaped now, 0 when it runs on, -1 when not our child. */
static int
reaped(pid_t pid, int *status)
{
	pid_t	r;

	while ((r = waitpid(pid, status, WNOHANG)) == -1 && errno == EINTR)
		;
	if (r == pid)
		return 1;
	return r == -1 ? -1 : 0;
}

int
proc_wait(pid_t pid, int *status, long long deadline, int fd, short events)
{
	struct pollfd	pfd[2];
	long long	left;
	int		pidfd, n = 0, rc;

	if ((rc = reaped(pid, status)) != 0)
		return rc;
	if ((left = deadline - mono_now_ms()) <= 0)
		return 0;
	pidfd = pidfd_of(pid);
	if (pidfd != -1) {
		pfd[n].fd = pidfd;
		pfd[n++].events = POLLIN;
	} else if (left > PROC_POLL_MS)
		left = PROC_POLL_MS;
	if (fd != -1) {
		pfd[n].fd = fd;
		pfd[n++].events = events;
	}
	if (left > 1000)
		left = 1000;	/* the callers' loops look at the clock */
	(void)poll(pfd, (nfds_t)n, (int)left);
	if (pidfd != -1)
		close(pidfd);
	return reaped(pid, status) == 1;
}

int
proc_wait_until(pid_t pid, int *status, long long deadline)
{
	int	rc;

	do
		if ((rc = proc_wait(pid, status, deadline, -1, 0)) != 0)
			return rc;
	while (mono_now_ms() < deadline);
	return 0;
}

int
proc_wait_or_stop(pid_t pid, int *status, long long deadline, int own_group,
    int grace_ms)
{
	int	rc;

	if ((rc = proc_wait_until(pid, status, deadline)) != 0)
		return rc;
	proc_stop(pid, own_group, grace_ms, status);
	return 0;
}

void
proc_stop(pid_t pid, int own_group, int grace_ms, int *status)
{
	long long	deadline = mono_now_ms() + grace_ms;

	if (grace_ms > 0) {
		if (own_group)
			(void)kill(-pid, SIGTERM);
		(void)kill(pid, SIGTERM);
		if (proc_wait_until(pid, status, deadline) != 0)
			goto out;
	}
	if (own_group)
		(void)kill(-pid, SIGKILL);
	(void)kill(pid, SIGKILL);
	while (waitpid(pid, status, 0) == -1 && errno == EINTR)
		;
out:
	/* Whatever sh started and left behind goes too. */
	if (own_group)
		(void)kill(-pid, SIGKILL);
}
