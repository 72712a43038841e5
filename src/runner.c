/* runner.c -- one child process per account, up to N at once; see runner.h. */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <signal.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "log.h"
#include "runner.h"
#include "xmalloc.h"

static pid_t	start(void *, runner_fn);
static void	reap(pid_t *, size_t, int *, size_t *,
		    volatile sig_atomic_t *);
static void	pass_on(pid_t *, size_t);

static pid_t
start(void *item, runner_fn fn)
{
	pid_t	pid;

	/* Nothing buffered may be written twice, by parent and child. */
	fflush(NULL);
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0)
		_exit(fn(item));
	return pid;
}

/* Wait for one child and file its exit code under its item. */
static void
reap(pid_t *pids, size_t n, int *ex, size_t *running,
    volatile sig_atomic_t *stop)
{
	pid_t	pid;
	size_t	i;
	int	status, passed = 0;

	while ((pid = waitpid(-1, &status, 0)) == -1 && errno == EINTR) {
		if (stop != NULL && *stop && !passed) {
			pass_on(pids, n);
			passed = 1;
		}
	}
	if (pid == -1)
		fatalx("waitpid: %s", strerror(errno));
	for (i = 0; i < n; i++)
		if (pids[i] == pid)
			break;
	if (i == n)
		return;		/* not one of ours (a passwordeval, say) */
	pids[i] = 0;
	(*running)--;
	if (WIFEXITED(status))
		ex[i] = WEXITSTATUS(status);
	else
		ex[i] = EX_SOFTWARE;
}

/*
 * A stop asked of the parent alone (kill PID, systemd stopping the main
 * process) reaches the children too: each then ends as after its own.
 */
static void
pass_on(pid_t *pids, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGTERM);
}

void
runner_run(void *const *items, size_t n, int jobs, runner_fn fn, int *ex,
    volatile sig_atomic_t *stop)
{
	pid_t	*pids;
	size_t	 i, running = 0;

	if (jobs <= 1 || n <= 1) {
		for (i = 0; i < n; i++)
			ex[i] = stop != NULL && *stop ? RUNNER_STOPPED :
			    fn(items[i]);
		return;
	}
	pids = xcalloc(n, sizeof *pids);
	for (i = 0; i < n; i++) {
		if (running == (size_t)jobs)
			reap(pids, n, ex, &running, stop);
		if (stop != NULL && *stop) {
			ex[i] = RUNNER_STOPPED;
			continue;
		}
		if ((pids[i] = start(items[i], fn)) == -1) {
			log_error(NULL, "cannot start a process for an "
			    "account: %s", strerror(errno));
			pids[i] = 0;
			ex[i] = EX_OSERR;
			continue;
		}
		running++;
	}
	while (running > 0)
		reap(pids, n, ex, &running, stop);
	free(pids);
}
