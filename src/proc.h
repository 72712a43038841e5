/*
 * proc.h -- waiting for the children popfetch runs through /bin/sh
 * (passwordeval, filter, MDA) without sleeping longer than they run.
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
 * Start /bin/sh -c cmd with stdin from in and stdout to our stderr, in a
 * process group of its own, with mask as its signal mask, SIGPIPE and
 * SIGXFSZ at their defaults and env as its environment (NULL: ours).
 * posix_spawn(3), so no copy of our memory is made per message.  0 with
 * *pid set, or -1 with errno set.
 */
int		proc_spawn_sh(const char *cmd, int in, const sigset_t *mask,
		    char *const *env, pid_t *pid);
/*
 * Our environment with the "NAME=value" entries of set (NULL-ended) in
 * place of any NAME it had, and any entry named in unset (plain names,
 * NULL-ended) left out.  The array is allocated, the strings are not
 * copied: free() the array only.
 */
char		**proc_env(const char *const *set, const char *const *unset);

/* Milliseconds on the monotonic clock, for the deadlines below. */
long long	proc_now_ms(void);

/*
 * Wait until pid exits, fd (when not -1) is ready for events, or the
 * deadline (proc_now_ms() scale) passes.  1 when pid exited and was
 * reaped (*status set); 0 otherwise, the caller looking at fd and the
 * clock; -1 when pid is not our child.
 */
int		proc_wait(pid_t pid, int *status, long long deadline, int fd,
		    short events);

/*
 * Stop pid, and its process group when own_group: SIGTERM, then SIGKILL
 * after grace_ms (0: at once); pid is always reaped (*status set), and
 * whatever it left in its group is killed.
 */
void		proc_stop(pid_t pid, int own_group, int grace_ms, int *status);

#endif
