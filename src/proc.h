/*
 * proc.h -- the one runner of the children popfetch starts through /bin/sh
 * (passwordeval, filter, MDA): start, bounded wait, stop.
 *
 * A child is waited for with a pidfd (Linux 5.3 and later): poll(2)
 * returns the moment it exits, so a fast MDA costs its own run time and
 * no more; where pidfds are missing, short sleeps stand in.
 */
#ifndef POPFETCH_PROC_H
#define POPFETCH_PROC_H

#include <sys/types.h>

#include <signal.h>

/*
 * How to start a child: /bin/sh -c cmd, stdin from `in` and stdout to
 * `out` (-1: stdin stays ours, stdout goes to our stderr, never our
 * stdout, which may carry --json), stderr ours; in a process group of its
 * own when own_group (a timeout then kills all it started; a command
 * that reads the terminal must stay in the foreground group instead);
 * mask as its signal mask (NULL: ours); SIGPIPE and SIGXFSZ, which
 * popfetch ignores, at their defaults; env as its environment (NULL:
 * ours).
 */
struct proc_spec {
	const char	*cmd;
	int		 in;
	int		 out;
	int		 own_group;
	const sigset_t	*mask;
	char *const	*env;
};

/*
 * Start the child spec describes with posix_spawn(3), so no copy of our
 * memory is made per message.  0 with *pid set, or -1 with errno set.
 */
int		proc_spawn(const struct proc_spec *, pid_t *pid);
/*
 * Our environment with the "NAME=value" entries of set (NULL-ended) in
 * place of any NAME it had, and any entry named in unset (plain names,
 * NULL-ended) left out.  The array is allocated, the strings are not
 * copied: free() the array only.
 */
char		**proc_env(const char *const *set, const char *const *unset);

/*
 * Wait until pid exits, fd (when not -1) is ready for events, or the
 * deadline (mono_now_ms() scale) passes.  1 when pid exited and was
 * reaped (*status set); 0 otherwise, the caller looking at fd and the
 * clock; -1 when pid is not our child.
 */
int		proc_wait(pid_t pid, int *status, long long deadline, int fd,
		    short events);

/*
 * Wait for pid until it exits or the deadline passes (at least one look):
 * 1 when it exited and was reaped (*status set), 0 when it runs on, -1
 * when pid is not our child.
 */
int		proc_wait_until(pid_t pid, int *status, long long deadline);
/*
 * "Wait for the child until the deadline, then kill it": as
 * proc_wait_until(), and past the deadline proc_stop(pid, own_group,
 * grace_ms).  1 when pid exited by itself, 0 when it was stopped (reaped
 * too, *status set), -1 when pid is not our child.
 */
int		proc_wait_or_stop(pid_t pid, int *status, long long deadline,
		    int own_group, int grace_ms);

/*
 * Stop pid, and its process group when own_group: SIGTERM, then SIGKILL
 * after grace_ms (0: at once); pid is always reaped (*status set), and
 * whatever it left in its group is killed.
 */
void		proc_stop(pid_t pid, int own_group, int grace_ms, int *status);

#endif
