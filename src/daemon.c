/*
 * daemon.c -- --retry and --daemon; see daemon.h.
 *
 * Signals only set flags.  The handlers are installed without SA_RESTART
 * so a signal ends the sleep between polls at once; a fetch in progress
 * goes on (its waits retry on EINTR) and ends early only through the stop
 * flag it was given.
 */
#include "config.h"

#include <sys/mman.h>

#include <sys/stat.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "netwatch.h"
#include "notify.h"
#include "runner.h"
#include "xmalloc.h"

#define INTERVAL_MAX	(7L * 24 * 60 * 60)

/* What the loop remembers about one account between polls. */
struct poll_state {
	time_t	 due;		/* next fetch not before this */
	long	 wait;		/* current backoff, seconds; 0: none */
	int	 failing;	/* the last fetch failed */
	int	 temporary;	/* ... temporarily (the network, say) */
	time_t	 tried;		/* when it was last fetched */
	char	*last;		/* its message, to keep repeats quiet */
};

/* One account's fetch in a child (-j): what it tells the loop. */
struct job {
	const struct account	*a;
	const struct daemon_ops	*ops;
	int			 rc;		/* in shared memory */
	struct error		 err;
};

volatile sig_atomic_t		daemon_stop;
static volatile sig_atomic_t	reload;	/* SIGHUP */
static volatile sig_atomic_t	poll_now; /* SIGUSR1 */
static volatile sig_atomic_t	wake;	/* either: end the wait */

static void	on_stop(int);
static void	on_hup(int);
static void	on_usr1(int);
static long	spread(long);
static long	interval_of(const struct account *, long);
static char	*pid_path(void);
static void	pid_write(void);
static void	pid_remove(void);
static void	nap(long);
static void	settle(const struct account *, struct poll_state *, long, int,
		    const struct error *);
static void	plan(const struct account *, struct poll_state *, long, int,
		    const struct error *);
static int	run_job(void *);
static void	poll_due(struct account **, struct poll_state *, size_t,
		    long, int, const struct daemon_ops *);
static void	forget(struct poll_state *, size_t);
static int	do_reload(const struct daemon_ops *, struct accounts *,
		    struct account ***, size_t *, struct poll_state **);
static void	daemon_log(struct account **, size_t);
static struct poll_state *carry_over(struct account **, struct poll_state *,
		    size_t, struct account **, size_t);

static void
on_stop(int sig)
{
	(void)sig;
	daemon_stop = 1;
}

static void
on_hup(int sig)
{
	(void)sig;
	reload = 1;
	wake = 1;
}

static void
on_usr1(int sig)
{
	(void)sig;
	poll_now = 1;
	wake = 1;
}

void
daemon_catch_signals(int hup_reloads)
{
	struct sigaction	sa;

	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	/* A hang-up reloads a daemon; it ends a single run. */
	sa.sa_handler = hup_reloads ? on_hup : on_stop;
	sigaction(SIGHUP, &sa, NULL);
	/* SIGUSR1 (--poll-now) polls a daemon's accounts; a run ignores it. */
	sa.sa_handler = hup_reloads ? on_usr1 : SIG_IGN;
	sigaction(SIGUSR1, &sa, NULL);
}

/* Sleep up to secs seconds; a signal that wants attention ends it early. */
static void
nap(long secs)
{
	struct timespec	ts;

	ts.tv_sec = secs;
	ts.tv_nsec = 0;
	while (!daemon_stop && !wake && nanosleep(&ts, &ts) == -1 &&
	    errno == EINTR)
		;
}

long
daemon_parse_interval(const char *s)
{
	char	*end;
	long	 n, unit = 1;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	n = strtol(s, &end, 10);
	if (errno != 0)
		return -1;
	if (strcmp(end, "m") == 0)
		unit = 60;
	else if (strcmp(end, "h") == 0)
		unit = 60 * 60;
	else if (strcmp(end, "d") == 0)
		unit = 24 * 60 * 60;
	else if (strcmp(end, "s") != 0 && *end != '\0')
		return -1;
	if (n < 1 || n > INTERVAL_MAX / unit)
		return -1;
	return n * unit;
}

int
daemon_retry(const struct account *a, int retries,
    const struct daemon_ops *ops, struct error *err)
{
	long	wait = 1;
	int	tries;

	daemon_catch_signals(0);
	for (tries = 0; ; tries++) {
		error_clear(err);
		if (ops->fetch(a, ops->arg, err) == 0)
			return 0;
		if (err->ex != EX_TEMPFAIL || tries >= retries || daemon_stop)
			return -1;
		log_info(a->name, "%s; trying again in %ld s (%d of %d)",
		    err->msg, wait, tries + 1, retries);
		nap(wait);
		if (daemon_stop)
			return -1;
		wait = wait * 2 > RETRY_BACKOFF_MAX ? RETRY_BACKOFF_MAX :
		    wait * 2;
	}
}

/*
 * Plan a's next poll after a fetch that returned rc (err if -1).  What is
 * said about a goes to a's own logfile and syslog, opened again here (the
 * file may have been renamed by logrotate since), never to the last one
 * a fetch used.
 */
static void
settle(const struct account *a, struct poll_state *ps, long interval, int rc,
    const struct error *err)
{
	struct error	lerr;

	error_clear(&lerr);
	(void)log_targets(a->logfile, a->syslog, &lerr);
	log_set_format(a->log_format);
	plan(a, ps, interval, rc, err);
	(void)log_targets(NULL, -1, NULL);
}

/*
 * A random 0 to 10 % of an interval (at most 5 minutes) added to each
 * plan, so that accounts with one interval, started together, do not
 * keep polling in step.
 */
static long
spread(long interval)
{
	long	most = interval / 10 > 300 ? 300 : interval / 10;

	return most > 0 ? (long)arc4random_uniform((uint32_t)most + 1) : 0;
}

/* The account's own interval, else the --daemon one. */
static long
interval_of(const struct account *a, long interval)
{
	return a->interval > 0 ? a->interval : interval;
}

static void
plan(const struct account *a, struct poll_state *ps, long interval, int rc,
    const struct error *err)
{
	interval = interval_of(a, interval);
	ps->tried = time(NULL);
	ps->temporary = rc != 0 && err->ex == EX_TEMPFAIL;
	if (rc == 0) {
		if (ps->failing)
			log_info(a->name, "working again");
		ps->failing = 0;
		ps->wait = 0;
		free(ps->last);
		ps->last = NULL;
		ps->due = time(NULL) + interval + spread(interval);
		return;
	}
	/* The same failure again says nothing new. */
	if (ps->last == NULL || strcmp(ps->last, err->msg) != 0)
		log_error(a->name, "%s%s", err->msg, err->ex == EX_TEMPFAIL ?
		    " (will keep trying; quiet until this changes)" : "");
	free(ps->last);
	ps->last = xstrdup(err->msg);
	ps->failing = 1;
	if (err->ex == EX_TEMPFAIL) {
		ps->wait = ps->wait == 0 ? interval : ps->wait * 2;
		if (ps->wait > DAEMON_BACKOFF_MAX)
			ps->wait = interval > DAEMON_BACKOFF_MAX ? interval :
			    DAEMON_BACKOFF_MAX;
	} else
		ps->wait = interval;
	ps->due = time(NULL) + ps->wait + spread(ps->wait);
}

/* runner_fn: one account's fetch in a child; the result in shared memory. */
static int
run_job(void *item)
{
	struct job	*j = item;

	error_clear(&j->err);
	j->rc = j->ops->fetch(j->a, j->ops->arg, &j->err);
	/* In this process (-j 1) the next lines are not this account's. */
	(void)log_targets(NULL, -1, NULL);
	return j->rc == 0 ? EX_OK : j->err.ex;
}

/*
 * Fetch every account that is due: one after the other, or with jobs > 1
 * up to jobs at once, each in a child process (runner.c), as a single
 * run with -j does.  Then plan each one's next poll.
 */
static void
poll_due(struct account **sel, struct poll_state *ps, size_t nsel,
    long interval, int jobs, const struct daemon_ops *ops)
{
	struct job	*jv;
	void		**items;
	size_t		 i, n = 0, *idx;
	int		*ex;
	time_t		 now = time(NULL);

	idx = xcalloc(nsel > 0 ? nsel : 1, sizeof *idx);
	for (i = 0; i < nsel; i++)
		if (ps[i].due <= now)
			idx[n++] = i;
	jv = mmap(NULL, (n > 0 ? n : 1) * sizeof *jv, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (jv == MAP_FAILED)
		fatalx("mmap: %s", strerror(errno));
	items = xcalloc(n > 0 ? n : 1, sizeof *items);
	ex = xcalloc(n > 0 ? n : 1, sizeof *ex);
	for (i = 0; i < n; i++) {
		jv[i].a = sel[idx[i]];
		jv[i].ops = ops;
		jv[i].rc = -1;
		error_set(&jv[i].err, RUNNER_STOPPED, "stopped before it ran");
		items[i] = &jv[i];
	}
	runner_run(items, n, jobs, run_job, ex, &daemon_stop);
	for (i = 0; i < n; i++) {
		if (jv[i].rc == -1 && !error_isset(&jv[i].err))
			error_set(&jv[i].err, ex[i], "the fetch ended with "
			    "status %d", ex[i]);
		if (daemon_stop && jv[i].rc == -1)
			continue;	/* stopped: nothing to plan */
		settle(jv[i].a, &ps[idx[i]], interval, jv[i].rc, &jv[i].err);
	}
	munmap(jv, (n > 0 ? n : 1) * sizeof *jv);
	free(items);
	free(ex);
	free(idx);
}

static void
forget(struct poll_state *ps, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(ps[i].last);
	free(ps);
}

/*
 * The daemon's own lines go to every polled account's logfile (one line
 * per file) and to the syslog facility of the first account that has one;
 * they are JSON if any account's log_format is.
 */
static void
daemon_log(struct account **sel, size_t nsel)
{
	const char	**files;
	size_t		  i, n = 0;
	int		  facility = -1, json = 0;

	files = xcalloc(nsel > 0 ? nsel : 1, sizeof *files);
	for (i = 0; i < nsel; i++) {
		if (sel[i]->logfile != NULL)
			files[n++] = sel[i]->logfile;
		if (facility == -1)
			facility = sel[i]->syslog;
		json |= sel[i]->log_format == LOG_FORMAT_JSON;
	}
	log_daemon_targets(files, n, facility);
	log_base_format(json ? LOG_FORMAT_JSON : LOG_FORMAT_TEXT);
	free(files);
}

/*
 * The poll state of the new accounts: an account kept (by name) keeps its
 * plan, its backoff and its last failure, so a changed account takes
 * effect at its next poll; a new one is due now.  Warnings said once are
 * news again for an account whose configuration changed or went away.
 */
static struct poll_state *
carry_over(struct account **osel, struct poll_state *ops, size_t on,
    struct account **nsel, size_t nn)
{
	struct poll_state	*nps;
	size_t			 i, j;

	nps = xcalloc(nn > 0 ? nn : 1, sizeof *nps);
	for (i = 0; i < on; i++) {
		for (j = 0; j < nn; j++)
			if (strcmp(osel[i]->name, nsel[j]->name) == 0)
				break;
		if (j == nn || !account_same(osel[i], nsel[j]))
			log_once_forget(osel[i]->name);
		if (j == nn)
			continue;
		nps[j] = ops[i];
		ops[i].last = NULL;	/* moved */
	}
	return nps;
}

/* Swap in a freshly loaded configuration; on failure keep the old one. */
static int
do_reload(const struct daemon_ops *ops, struct accounts *list,
    struct account ***sel, size_t *nsel, struct poll_state **ps)
{
	struct accounts	  nlist;
	struct account	**nsel_v;
	struct poll_state *nps;
	size_t		  n;
	struct error	  err;

	TAILQ_INIT(&nlist);
	error_clear(&err);
	if (ops->load(ops->arg, &nlist, &nsel_v, &n, &err) == -1) {
		log_error(NULL, "%s; keeping the configuration loaded before",
		    err.msg);
		accounts_free(&nlist);
		return -1;
	}
	nps = carry_over(*sel, *ps, *nsel, nsel_v, n);
	forget(*ps, *nsel);
	free(*sel);
	accounts_free(list);
	TAILQ_INIT(list);
	TAILQ_CONCAT(list, &nlist, entry);
	*sel = nsel_v;
	*nsel = n;
	*ps = nps;
	daemon_log(*sel, *nsel);
	log_info(NULL, "configuration re-read: %zu account%s", n,
	    n == 1 ? "" : "s");
	return 0;
}

/* systemctl status: when the last poll ended, and how many accounts fail. */
static void
report_status(const struct poll_state *ps, size_t nsel)
{
	struct tm	tm;
	time_t		now = time(NULL);
	char		when[32];
	size_t		i, failing = 0;

	for (i = 0; i < nsel; i++)
		if (ps[i].failing)
			failing++;
	localtime_r(&now, &tm);
	strftime(when, sizeof when, "%H:%M:%S", &tm);
	notify_status("last poll %s: %zu account%s, %zu failing", when, nsel,
	    nsel == 1 ? "" : "s", failing);
}

/*
 * The network may be back, or the machine woke up: make accounts due now
 * -- after a resume all of them, after a network change those waiting on
 * a temporary failure.  An account is never polled again sooner than
 * EVENT_SPACING seconds after its last fetch ended, so a flapping link
 * cannot cause a poll storm.
 */
#define EVENT_SPACING	5

static void
wake_up(enum net_event ev, struct poll_state *ps, size_t nsel)
{
	time_t	now = time(NULL);
	size_t	i, n = 0;

	for (i = 0; i < nsel; i++) {
		if (ev == NET_UP && !(ps[i].failing && ps[i].temporary))
			continue;
		if (ps[i].due <= now + EVENT_SPACING)
			continue;
		ps[i].due = ps[i].tried + EVENT_SPACING > now ?
		    ps[i].tried + EVENT_SPACING : now;
		n++;
	}
	if (n > 0)
		log_verbose(NULL, "%s: polling %zu account%s",
		    ev == NET_UP ? "the network changed" : "resumed after a "
		    "suspend", n, n == 1 ? "" : "s");
}

/* The daemon's pid file, for --poll-now: in the state directory. */
static char *
pid_path(void)
{
	char	*dir, *path;

	dir = account_state_dir();
	xasprintf(&path, "%s/daemon.pid", dir);
	free(dir);
	return path;
}

/* Written atomically; a failure only costs --poll-now, so it is said. */
static void
pid_write(void)
{
	char	*path, *tmp;
	FILE	*f;
	size_t	 i;

	path = pid_path();
	xasprintf(&tmp, "%s.tmp", path);
	for (i = 1; path[i] != '\0'; i++)
		if (path[i] == '/') {
			path[i] = '\0';
			(void)mkdir(path, 0700);
			path[i] = '/';
		}
	if ((f = fopen(tmp, "we")) == NULL || fprintf(f, "%ld\n",
	    (long)getpid()) < 0 || fclose(f) == EOF || rename(tmp,
	    path) == -1)
		log_warn(NULL, "cannot write the pid file %s (--poll-now will "
		    "not find this daemon): %s", path, strerror(errno));
	free(tmp);
	free(path);
}

/* Only our own: another daemon may have written it since. */
static void
pid_remove(void)
{
	char	*path, buf[32];
	FILE	*f;

	path = pid_path();
	if ((f = fopen(path, "re")) != NULL) {
		if (fgets(buf, sizeof buf, f) != NULL &&
		    strtol(buf, NULL, 10) == (long)getpid())
			unlink(path);
		fclose(f);
	}
	free(path);
}

int
daemon_poll_now(struct error *err)
{
	char		*path, buf[32], comm[64];
	const char	*errstr;
	FILE		*f;
	pid_t		 pid = 0;

	path = pid_path();
	if ((f = fopen(path, "re")) == NULL) {
		error_set(err, EX_UNAVAILABLE, "no daemon to poll: %s: %s",
		    path, strerror(errno));
		goto out;
	}
	buf[strcspn(fgets(buf, sizeof buf, f) != NULL ? buf : "", "\n")] =
	    '\0';
	fclose(f);
	pid = (pid_t)strtonum(buf, 2, INT32_MAX, &errstr);
	if (errstr != NULL) {
		error_set(err, EX_DATAERR, "%s: not a pid file", path);
		goto out;
	}
	/* A pid reused by another program must not get the signal. */
	snprintf(comm, sizeof comm, "/proc/%ld/comm", (long)pid);
	if ((f = fopen(comm, "re")) != NULL) {
		if (fgets(comm, sizeof comm, f) == NULL ||
		    strcmp(comm, "popfetch\n") != 0)
			errno = ESRCH, pid = -1;
		fclose(f);
	}
	if (pid == -1 || kill(pid, SIGUSR1) == -1)
		error_set(err, EX_UNAVAILABLE, "no daemon to poll: %s names "
		    "pid %s, which is %s", path, buf, errno == ESRCH ?
		    "not a running popfetch (a stale file)" : strerror(errno));
out:
	free(path);
	return error_isset(err) ? -1 : (int)pid;
}

/* -j wins; else the largest `jobs` the accounts got from defaults. */
static int
effective_jobs(int jobs, struct account **sel, size_t nsel)
{
	size_t	i;

	if (jobs > 0)
		return jobs;
	for (i = 0, jobs = 1; i < nsel; i++)
		if (sel[i]->jobs > jobs)
			jobs = sel[i]->jobs;
	return jobs;
}

int
daemon_run(long interval, int jobs, const struct daemon_ops *ops,
    struct error *err)
{
	struct accounts		  list;
	struct account		**sel = NULL;
	struct poll_state	 *ps;
	size_t			  nsel = 0, i;
	time_t			  now, next;
	enum net_event		  ev;

	TAILQ_INIT(&list);
	if (ops->load(ops->arg, &list, &sel, &nsel, err) == -1) {
		accounts_free(&list);
		return -1;
	}
	ps = xcalloc(nsel > 0 ? nsel : 1, sizeof *ps);
	daemon_catch_signals(1);
	daemon_log(sel, nsel);
	log_info(NULL, "polling %zu account%s every %ld s", nsel,
	    nsel == 1 ? "" : "s", interval);
	if (netwatch_open() == -1)
		log_verbose(NULL, "no rtnetlink: polling on the timer alone");
	notify_init();
	notify_send("READY=1");
	pid_write();
	while (!daemon_stop) {
		wake = 0;
		if (reload) {
			reload = 0;
			notify_send("RELOADING=1");
			(void)do_reload(ops, &list, &sel, &nsel, &ps);
			notify_send("READY=1");
		}
		if (poll_now) {
			poll_now = 0;
			for (i = 0; i < nsel; i++)
				ps[i].due = 0;
			log_info(NULL, "asked to poll now: polling %zu "
			    "account%s", nsel, nsel == 1 ? "" : "s");
		}
		poll_due(sel, ps, nsel, interval, effective_jobs(jobs, sel,
		    nsel), ops);
		report_status(ps, nsel);
		now = time(NULL);
		next = now + interval;
		for (i = 0; i < nsel; i++)
			if (ps[i].due < next)
				next = ps[i].due;
		if (next > now && !wake) {
			ev = netwatch_wait((long)(next - now), &daemon_stop,
			    &wake);
			if (ev == NET_UP || ev == NET_RESUMED)
				wake_up(ev, ps, nsel);
		}
	}
	pid_remove();
	log_info(NULL, "stopping");
	notify_send("STOPPING=1");
	notify_stop();
	netwatch_close();
	log_daemon_targets(NULL, 0, -1);
	forget(ps, nsel);
	free(sel);
	accounts_free(&list);
	return 0;
}
