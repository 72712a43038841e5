/*
 * main.c -- options, choosing accounts, running them, and the one place
 * that turns failures into an exit code (sysexits(3)).
 */
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "account.h"
#include "conf.h"
#include "daemon.h"
#include "fetch.h"
#include "log.h"
#include "runner.h"
#include "xmalloc.h"

struct options {
	const char	 *config;
	int		  all;
	enum log_level	  level;
	int		  debug;
	char		**names;
	int		  nnames;
	int		  jobs;		/* -j; 0: the config's `jobs`, else 1 */
	int		  retries;	/* --retry N */
	long		  interval;	/* --daemon INTERVAL; 0: one-shot */
	const char	 *path;		/* the config file in use */
};

/* What one runner item needs: runner_fn takes a single pointer. */
struct job {
	const struct account	*a;
	const struct options	*o;
};

#define RETRY_MAX	100

static void	usage(FILE *);
static int	parse_retry(const char *, int *);
static int	parse_options(int, char **, struct options *);
static int	select_accounts(struct accounts *, const struct options *,
		    const char *, struct account ***, size_t *);
static int	run_account(const struct account *, const struct options *);
static int	run_item(void *);
static int	pick_jobs(const struct options *, struct account **, size_t);
static int	fetch_one(const struct account *, void *, struct error *);
static int	load_accounts(void *, struct accounts *, struct account ***,
		    size_t *, struct error *);
static int	run_daemon(struct options *);
static void	human_size(char *, size_t, uint64_t);
static void	report(const struct account *, const struct fetch_stats *);

static void
usage(FILE *f)
{
	fprintf(f,
"usage: popfetch [-qv] [--debug] [-C file] [-j N] [--retry N | --daemon INTERVAL]\n"
"                [-a | account ...]\n"
"Fetch mail from POP3 accounts defined in ~/.fetchrc.\n"
"\n"
"  -a, --all           fetch every account in the config file\n"
"  -C, --config FILE   read FILE instead of ~/.fetchrc\n"
"  -j, --jobs N        fetch up to N accounts at once (default: the config's\n"
"                      'jobs', else 1)\n"
"  -q, --quiet         print nothing but errors (for cron)\n"
"  -v, --verbose       print a line for every message\n"
"      --debug         trace the POP3 dialogue on stderr (secrets hidden)\n"
"      --retry N       try a temporary failure again up to N times\n"
"      --daemon INTERVAL  poll forever, every INTERVAL (30s, 5m, 1h)\n"
"  -h, --help          show this help\n"
"  -V, --version       show the version\n"
"\n"
"Without account names, the account named 'default' is fetched.\n"
"Exit status: 0 ok, 64 usage, 65 bad data, 69 unavailable, 73 cannot create,\n"
"74 I/O error, 75 temporary failure, 76 protocol error, 77 authentication\n"
"failed, 78 configuration error; see popfetch(1).\n");
}

static int
parse_retry(const char *arg, int *out)
{
	const char	*errstr;

	*out = (int)strtonum(arg, 0, RETRY_MAX, &errstr);
	if (errstr != NULL || arg[strspn(arg, "0123456789")] != '\0') {
		log_error(NULL, "--retry: invalid count '%.32s': use a number "
		    "from 0 to %d", arg, RETRY_MAX);
		return -1;
	}
	return 0;
}

static int
parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "all",	no_argument,		NULL, 'a' },
		{ "config",	required_argument,	NULL, 'C' },
		{ "jobs",	required_argument,	NULL, 'j' },
		{ "quiet",	no_argument,		NULL, 'q' },
		{ "verbose",	no_argument,		NULL, 'v' },
		{ "debug",	no_argument,		NULL, 'd' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "version",	no_argument,		NULL, 'V' },
		{ "retry",	required_argument,	NULL, 'r' },
		{ "daemon",	required_argument,	NULL, 'D' },
		{ NULL,		0,			NULL, 0 }
	};
	const char	*errstr;
	int		 c;

	memset(o, 0, sizeof *o);
	o->level = LOG_NORMAL;
	while ((c = getopt_long(argc, argv, "aC:j:qvhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'a':
			o->all = 1;
			break;
		case 'C':
			o->config = optarg;
			break;
		case 'j':
			o->jobs = (int)strtonum(optarg, 1, RUNNER_JOBS_MAX,
			    &errstr);
			if (errstr != NULL) {
				log_error(NULL, "-j %s: the number of accounts "
				    "at once must be from 1 to %d", optarg,
				    RUNNER_JOBS_MAX);
				return -1;
			}
			break;
		case 'q':
			o->level = LOG_QUIET;
			break;
		case 'v':
			o->level = LOG_VERBOSE;
			break;
		case 'd':
			o->debug = 1;
			break;
		case 'r':
			if (parse_retry(optarg, &o->retries) == -1)
				return -1;
			break;
		case 'D':
			if ((o->interval = daemon_parse_interval(optarg)) == -1) {
				log_error(NULL, "--daemon: invalid interval "
				    "'%.32s': use a number with s, m, h or d, "
				    "such as 5m", optarg);
				return -1;
			}
			break;
		case 'h':
			usage(stdout);
			exit(EX_OK);
		case 'V':
			printf("popfetch %s\n", PACKAGE_VERSION);
			exit(EX_OK);
		default:
			usage(stderr);
			return -1;
		}
	}
	o->names = argv + optind;
	o->nnames = argc - optind;
	if (o->all && o->nnames > 0) {
		log_error(NULL, "-a and account names cannot be combined");
		return -1;
	}
	if (o->retries > 0 && o->interval > 0) {
		log_error(NULL, "--retry and --daemon cannot be combined "
		    "(--daemon retries by itself)");
		return -1;
	}
	return 0;
}

static int
select_accounts(struct accounts *accts, const struct options *o,
    const char *path, struct account ***out, size_t *nout)
{
	struct account	 *a;
	struct account	**v = NULL;
	size_t		  n = 0;
	int		  i;

	if (o->all) {
		TAILQ_FOREACH(a, accts, entry) {
			v = xreallocarray(v, n + 1, sizeof *v);
			v[n++] = a;
		}
		if (n == 0) {
			log_error(NULL, "%s: no accounts defined", path);
			return EX_CONFIG;
		}
	} else if (o->nnames == 0) {
		if ((a = accounts_find(accts, "default")) == NULL) {
			log_error(NULL, "%s: no account named 'default'; name "
			    "the accounts to fetch, or use -a for all", path);
			return EX_USAGE;
		}
		v = xreallocarray(v, 1, sizeof *v);
		v[n++] = a;
	} else {
		for (i = 0; i < o->nnames; i++) {
			if ((a = accounts_find(accts, o->names[i])) == NULL) {
				log_error(NULL, "%s: no account named '%s'",
				    path, o->names[i]);
				free(v);
				return EX_USAGE;
			}
			v = xreallocarray(v, n + 1, sizeof *v);
			v[n++] = a;
		}
	}
	*out = v;
	*nout = n;
	return EX_OK;
}

static void
human_size(char *buf, size_t size, uint64_t n)
{
	if (n < 1024)
		snprintf(buf, size, "%llu bytes", (unsigned long long)n);
	else if (n < 1024 * 1024)
		snprintf(buf, size, "%.1f KiB", (double)n / 1024);
	else if (n < 1024ULL * 1024 * 1024)
		snprintf(buf, size, "%.1f MiB", (double)n / (1024 * 1024));
	else
		snprintf(buf, size, "%.1f GiB", (double)n / (1024.0 * 1024 *
		    1024));
}

static void
report(const struct account *a, const struct fetch_stats *st)
{
	char	size[32], kept[64] = "", del[64] = "";

	if (st->kept > 0)
		snprintf(kept, sizeof kept, ", %lu kept on the server",
		    st->kept);
	if (st->deleted > 0)
		snprintf(del, sizeof del, ", %lu deleted", st->deleted);
	if (st->fetched == 0) {
		log_info(a->name, "no new messages%s%s", kept, del);
		return;
	}
	human_size(size, sizeof size, st->bytes);
	log_info(a->name, "%lu message%s fetched (%s)%s%s", st->fetched,
	    st->fetched == 1 ? "" : "s", size, del, kept);
}

/* One fetch (daemon_fetch_fn); the summary is logged here, errors not. */
static int
fetch_one(const struct account *a, void *arg, struct error *err)
{
	const struct options	*o = arg;
	struct fetch_opts	 fo;
	struct fetch_stats	 st;
	int			 rc;

	memset(&fo, 0, sizeof fo);
	fo.lock_wait = a->lock_wait;
	fo.stop = &daemon_stop;
	rc = fetch_account(a, &fo, &st, err);
	/* A daemon says nothing when there was nothing to say. */
	if ((rc == 0 || st.fetched > 0) &&
	    (o->interval == 0 || st.fetched > 0 || st.deleted > 0))
		report(a, &st);
	return rc;
}

/* Fetch one account; the error, if any, is reported here, once. */
static int
run_account(const struct account *a, const struct options *o)
{
	struct daemon_ops	ops = { fetch_one, NULL, (void *)o };
	struct error		err;

	error_clear(&err);
	if (account_validate(a, &err) == -1) {
		log_error(NULL, "%s", err.msg);
		return err.ex;
	}
	if (daemon_retry(a, o->retries, &ops, &err) == -1) {
		log_error(a->name, "%s", err.msg);
		return err.ex != 0 ? err.ex : EX_SOFTWARE;
	}
	return EX_OK;
}

/* daemon_load_fn: the configuration file and the accounts chosen. */
static int
load_accounts(void *arg, struct accounts *list, struct account ***sel,
    size_t *nsel, struct error *err)
{
	const struct options	*o = arg;
	size_t			 i;
	int			 ex;

	if (config_load(o->path, list, err) == -1)
		return -1;
	if ((ex = select_accounts(list, o, o->path, sel, nsel)) != EX_OK) {
		error_set(err, ex, "%s: no accounts to poll", o->path);
		return -1;
	}
	/* A daemon checks everything up front, not at each poll. */
	for (i = 0; i < *nsel; i++)
		if (account_validate((*sel)[i], err) == -1) {
			free(*sel);
			*sel = NULL;
			return -1;
		}
	return 0;
}

static int
run_daemon(struct options *o)
{
	struct daemon_ops	ops = { fetch_one, load_accounts, o };
	struct error		err;

	error_clear(&err);
	if (daemon_run(o->interval, &ops, &err) == -1) {
		log_error(NULL, "%s", err.msg);
		return err.ex != 0 ? err.ex : EX_CONFIG;
	}
	return EX_OK;
}

static int
run_item(void *item)
{
	const struct job	*j = item;

	return run_account(j->a, j->o);
}

/* -j wins; else the largest `jobs` the selected accounts got from defaults. */
static int
pick_jobs(const struct options *o, struct account **sel, size_t nsel)
{
	size_t	i;
	int	jobs = 1;

	if (o->jobs > 0)
		return o->jobs;
	for (i = 0; i < nsel; i++)
		if (sel[i]->jobs > jobs)
			jobs = sel[i]->jobs;
	return jobs;
}

int
main(int argc, char **argv)
{
	struct options	  o;
	struct accounts	  accts;
	struct account	**sel = NULL;
	struct error	  err;
	char		 *path;
	size_t		  nsel = 0, i;
	struct job	 *jobs;
	void		**items;
	int		  ex, first = EX_OK, *exs;

	/* A peer that goes away must give an error, not kill us. */
	signal(SIGPIPE, SIG_IGN);

	if (parse_options(argc, argv, &o) == -1)
		return EX_USAGE;
	log_init(o.level, o.debug);

	path = o.config != NULL ? xstrdup(o.config) : config_default_path();
	o.path = path;
	if (o.interval > 0) {
		ex = run_daemon(&o);
		free(path);
		return ex;
	}
	TAILQ_INIT(&accts);
	error_clear(&err);
	if (config_load(path, &accts, &err) == -1) {
		log_error(NULL, "%s", err.msg);
		accounts_free(&accts);
		free(path);
		return err.ex != 0 ? err.ex : EX_CONFIG;
	}
	if ((ex = select_accounts(&accts, &o, path, &sel, &nsel)) != EX_OK) {
		accounts_free(&accts);
		free(path);
		return ex;
	}
	/*
	 * One failing account does not stop the others; the exit code is the
	 * first failure in account order, however many ran at once.
	 */
	jobs = xcalloc(nsel, sizeof *jobs);
	items = xcalloc(nsel, sizeof *items);
	for (i = 0; i < nsel; i++) {
		jobs[i].a = sel[i];
		jobs[i].o = &o;
		items[i] = &jobs[i];
	}
	exs = xcalloc(nsel, sizeof *exs);
	runner_run(items, nsel, pick_jobs(&o, sel, nsel), run_item, exs);
	for (i = 0; i < nsel; i++)
		if (exs[i] != EX_OK && first == EX_OK)
			first = exs[i];
	free(exs);
	free(items);
	free(jobs);
	free(sel);
	accounts_free(&accts);
	free(path);
	return first;
}
