/*
 * daemon.h -- running fetches again: --retry in one-shot mode and the
 * --daemon polling loop.
 *
 * Neither picks an exit code: a fetch reports through a callback that
 * returns 0, or -1 with a struct error whose sysexits code says whether the
 * failure was temporary (EX_TEMPFAIL, worth trying again later) or not.
 * main.c maps the final error to the exit status.
 */
#ifndef POPFETCH_DAEMON_H
#define POPFETCH_DAEMON_H

#include <signal.h>
#include <stddef.h>

#include "account.h"
#include "error.h"

/* Longest wait between tries of one account, in seconds. */
#define DAEMON_BACKOFF_MAX	3600
#define RETRY_BACKOFF_MAX	60

/* Fetch one account once; 0, or -1 with err set. */
typedef int	(*daemon_fetch_fn)(const struct account *, void *arg,
		    struct error *);

/*
 * Load the accounts to poll into list (a TAILQ_INIT'ed head) and *sel, an
 * allocated array of pointers into it; 0, or -1 with err set.
 */
typedef int	(*daemon_load_fn)(void *arg, struct accounts *list,
		    struct account ***sel, size_t *nsel, struct error *);

struct daemon_ops {
	daemon_fetch_fn	 fetch;
	daemon_load_fn	 load;
	void		*arg;
};

/*
 * Parse an interval: a number followed by s, m, h or d (no unit:
 * seconds), from 1 s to 7 d.  Returns the seconds, or -1.
 */
long	daemon_parse_interval(const char *);

/*
 * One-shot: fetch a, and after a temporary failure try again up to
 * retries times, waiting 1, 2, 4 ... seconds (at most RETRY_BACKOFF_MAX).
 * Returns 0, or -1 with err holding the last failure.  A SIGTERM or SIGINT
 * during a wait ends the retries.
 */
int	daemon_retry(const struct account *a, int retries,
	    const struct daemon_ops *, struct error *);

/*
 * Poll every selected account each interval seconds (an account's own
 * `interval` wins), plus a random 0 to 10 % so that accounts do not poll
 * in step, until SIGTERM or SIGINT; SIGUSR1 polls every account at
 * once.  Up to jobs accounts at once, each in a child process (jobs 0:
 * the largest `jobs` of the accounts, else one after the other); re-load the accounts on SIGHUP (keeping the old ones if the new
 * configuration does not load).  After a temporary failure an account
 * waits interval, then twice that, and so on up to DAEMON_BACKOFF_MAX.
 * A failure is logged when it first happens or its message changes, and
 * the recovery when the account works again.  A fetch in progress stops
 * taking new messages once daemon_stop is set, and any network wait ends
 * at once (transport_stop_on): what was delivered stays recorded.  Returns
 * 0 once stopped, -1 with err set if the first load fails.
 */
int	daemon_run(long interval, int jobs, const struct daemon_ops *,
	    struct error *);

/*
 * --poll-now: send SIGUSR1 to the daemon whose pid is in the pid file
 * (daemon.pid in the state directory, written by daemon_run), after
 * checking that the pid is a popfetch.  The pid, or -1 with err set
 * (EX_UNAVAILABLE: no daemon runs).
 */
int	daemon_poll_now(struct error *);

/*
 * Catch SIGTERM and SIGINT (and SIGHUP: a reload when hup_reloads, else a
 * stop) into daemon_stop; daemon_run and daemon_retry call it themselves.
 */
void	daemon_catch_signals(int hup_reloads);
/* Set by SIGTERM, SIGINT (and SIGHUP outside a daemon) once caught. */
extern volatile sig_atomic_t	daemon_stop;

#endif
