/*
 * main.c -- options, choosing accounts, running them, and the one place
 * that turns failures into an exit code (sysexits(3)).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "account.h"
#include "buf.h"
#include "conf.h"
#include "daemon.h"
#include "fetch.h"
#include "health.h"
#include "import-fetchmail.h"
#include "import-uids.h"
#include "json.h"
#include "log.h"
#include "netwatch.h"
#include "oauth.h"
#include "progress.h"
#include "runner.h"
#include "rfc2047.h"
#include "serverinfo.h"
#include "termsafe.h"
#include "transport.h"
#include "xmalloc.h"


struct options {
	const char	 *config;
	int		  all;
	enum log_level	  level;
	int		  debug;
	char		**names;
	int		  nnames;
	int		  jobs;		/* -j; 0: the config's `jobs`, else 1 */
	enum fetch_mode	  mode;
	int		  json;
	int		  import;		/* --import-fetchmailrc */
	const char	 *import_file;
	const char	 *import_uids;		/* --import-uids FORMAT */
	int		  progress;		/* draw the live line */
	int		  serverinfo;	/* -S: show servers, fetch nothing */
	int		  retries;	/* --retry N */
	long		  interval;	/* --daemon INTERVAL; 0: one-shot */
	const char	 *path;		/* the config file in use */
	int		  authorize;	/* --authorize: sign in, no fetch */
	enum oauth_flow	  flow;		/* --device, --browser, --paste */
	int		  health;	/* --health */
	int		  poll_now;	/* --poll-now */
	long		  max_failures;	/* --max-failures; -1: not given */
	long		  max_age;	/* --max-age, seconds; 0: none */
	int		  retry_refused;	/* --retry-refused */
};

/* --health: unhealthy after this many failures in a row by default. */
#define HEALTH_FAILURES_DEFAULT	3
#define HEALTH_FAILURES_MAX	1000000

/* What fetch_one (a daemon_fetch_fn) needs, and what it leaves. */
struct attempt {
	const struct options	*o;
	struct fetch_stats	 st;
};

#define RETRY_MAX	100

/*
 * What one account's run left for the --json summary.  It lives in
 * shared memory: with -j the account runs in a child process.
 */
struct outcome {
	struct fetch_stats	st;
	int			ex;
	char			msg[ERROR_MSG_MAX];
};

/* One runner item. */
struct job {
	const struct account	*a;
	const struct options	*o;
	struct outcome		*out;
};

static void	usage(FILE *);
static int	parse_options(int, char **, struct options *);
static int	select_accounts(struct accounts *, const struct options *,
		    const char *, struct account ***, size_t *);
static int	set_mode(struct options *, enum fetch_mode);
static int	set_authorize(struct options *, int);
static int	option_arg(int, int, char **, struct options *);
static int	check_options(const struct options *);
static int	parse_retry(const char *, int *);
static int	fetch_one(const struct account *, void *, struct error *);
static int	load_accounts(void *, struct accounts *, struct account ***,
		    size_t *, struct error *);
static int	run_daemon(struct options *);
static int	run_account(const struct account *, const struct options *,
		    struct outcome *);
static int	run_item(void *);
static int	run_serverinfo(struct account **, size_t);
static int	run_accounts(struct options *, struct account **, size_t);
static int	run_config(struct options *);
static int	pick_jobs(const struct options *, struct account **, size_t);
static int	run_import(const struct options *);
static int	run_authorize(const struct options *);
static int	run_import_uids(const struct options *, const char *);
static void	print_json(struct account **, const struct outcome *, size_t,
		    int);
static void	json_status(struct buf *, const char *);
static void	report(const struct account *, const struct fetch_stats *);
static int	run_health(struct options *);
static int	run_poll_now(void);
static void	record(const struct account *, const struct options *,
		    const struct fetch_stats *, int, const struct error *);
static int	needs_authorize(const struct error *);
static void	run_event(const struct account *, const struct fetch_stats *,
		    int, const struct error *);

static void
usage(FILE *f)
{
	fprintf(f,
"usage: popfetch [-lnqsv] [--debug] [--json] [-C file|dir] [-j N]\n"
"                [--retry N | --daemon INTERVAL] [-a | account ...]\n"
"       popfetch [-C file] --retry-refused [-a | account ...]\n"
"       popfetch --import-fetchmailrc [file]\n"
"       popfetch [-C file] --import-uids mpop|fetchmail|getmail FILE [account ...]\n"
"       popfetch -S [--debug] [-C file] [-a | account ...]\n"
"       popfetch [-C file] --authorize [--device | --browser | --paste] account\n"
"       popfetch --poll-now\n"
"       popfetch --health [--max-failures N] [--max-age DURATION] [-C file]\n"
"                [account ...]\n"
"Fetch mail from POP3 accounts defined in ~/.fetchrc.\n"
"\n"
"  -a, --all           fetch every account in the config file\n"
"  -C, --config FILE   read FILE instead of ~/.fetchrc (a directory: each of\n"
"                      its *.conf and *.rc files)\n"
"  -j, --jobs N        fetch up to N accounts at once (default: the config's\n"
"                      'jobs', else 1)\n"
"  -s, --status        count the messages on the server and the new ones\n"
"  -l, --list          list the new messages: size, date, sender, subject\n"
"  -n, --dry-run       say what would be fetched, skipped and deleted\n"
"      --json          print a summary of the run as JSON on stdout\n"
"  -q, --quiet         print nothing but errors (for cron)\n"
"  -S, --serverinfo    show what the servers offer (TLS, certificate,\n"
"                      capabilities); fetches nothing, does not log in\n"
"  -v, --verbose       print a line for every message\n"
"      --import-fetchmailrc [FILE]\n"
"                      print a fetchrc for the POP3 entries of a .fetchmailrc\n"
"      --import-uids FORMAT FILE\n"
"                      record the UIDs mpop, fetchmail or getmail fetched\n"
"                      (from FILE), so that they are not fetched again\n"
"      --debug         trace the POP3 dialogue on stderr (secrets hidden)\n"
"      --retry N       try a temporary failure again up to N times\n"
"      --retry-refused try again the messages set aside after the\n"
"                      delivery refused them (delivery_reject_limit)\n"
"      --daemon INTERVAL  poll forever, every INTERVAL (30s, 5m, 1h)\n"
"      --authorize ACCOUNT  sign in to the account's OAuth 2.0 provider and\n"
"                      store its tokens; with --device (a code to enter\n"
"                      elsewhere), --browser or --paste (paste back the\n"
"                      address the browser ends up at)\n"
"      --poll-now      make the running daemon poll every account now\n"
"      --health        exit 0 if the accounts' last polls are fine, else 1\n"
"                      with a line for each account that is not\n"
"      --max-failures N   --health: unhealthy after N failures in a row\n"
"                      (default 3)\n"
"      --max-age DURATION --health: unhealthy without a successful poll\n"
"                      for DURATION (5m, 1h)\n"
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

/* The long options; 1, 2, 3: the --authorize flows. */
static const struct option longopts[] = {
	{ "all",	no_argument,		NULL, 'a' },
	{ "config",	required_argument,	NULL, 'C' },
	{ "jobs",	required_argument,	NULL, 'j' },
	{ "quiet",	no_argument,		NULL, 'q' },
	{ "serverinfo",	no_argument,		NULL, 'S' },
	{ "verbose",	no_argument,		NULL, 'v' },
	{ "debug",	no_argument,		NULL, 'd' },
	{ "help",	no_argument,		NULL, 'h' },
	{ "version",	no_argument,		NULL, 'V' },
	{ "status",	no_argument,		NULL, 's' },
	{ "list",	no_argument,		NULL, 'l' },
	{ "dry-run",	no_argument,		NULL, 'n' },
	{ "json",	no_argument,		NULL, 'J' },
	{ "import-fetchmailrc", optional_argument, NULL, 'I' },
	{ "import-uids", required_argument,	NULL, 'U' },
	{ "retry",	required_argument,	NULL, 'r' },
	{ "daemon",	required_argument,	NULL, 'D' },
	{ "authorize",	no_argument,		NULL, 'Z' },
	{ "device",	no_argument,		NULL, 1 },
	{ "browser",	no_argument,		NULL, 2 },
	{ "paste",	no_argument,		NULL, 3 },
	{ "health",	no_argument,		NULL, 'H' },
	{ "poll-now",	no_argument,		NULL, 'W' },
	{ "max-failures", required_argument,	NULL, 'F' },
	{ "max-age",	required_argument,	NULL, 'A' },
	{ "retry-refused", no_argument,		NULL, 'R' },
	{ NULL,		0,			NULL, 0 }
};

static int
parse_options(int argc, char **argv, struct options *o)
{
	int		 c;

	memset(o, 0, sizeof *o);
	o->level = LOG_NORMAL;
	o->max_failures = -1;
	while ((c = getopt_long(argc, argv, "aC:j:qSvhVsln", longopts,
	    NULL)) != -1) {
		switch (c) {
		case 's':
		case 'l':
		case 'n':
			if (set_mode(o, c == 's' ? FETCH_STATUS : c == 'l' ?
			    FETCH_LIST : FETCH_DRYRUN) == -1)
				return -1;
			break;
		case 'J':
			o->json = 1;
			break;
		case 'Z':
		case 1:
		case 2:
		case 3:
			if (set_authorize(o, c) == -1)
				return -1;
			break;
		case 'H':
			o->health = 1;
			break;
		case 'W':
			o->poll_now = 1;
			break;
		case 'R':
			o->retry_refused = 1;
			break;
		case 'I':
		case 'U':
		case 'C':
		case 'r':
		case 'D':
		case 'j':
		case 'F':
		case 'A':
			if (option_arg(c, argc, argv, o) == -1)
				return -1;
			break;
		case 'a':
			o->all = 1;
			break;
		case 'q':
			o->level = LOG_QUIET;
			break;
		case 'S':
			o->serverinfo = 1;
			break;
		case 'v':
			o->level = LOG_VERBOSE;
			break;
		case 'd':
			o->debug = 1;
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
	return check_options(o);
}

/* Options that cannot go together, each with a line that says why. */
static int
check_options(const struct options *o)
{
	if (o->retries > 0 && o->interval > 0) {
		log_error(NULL, "--retry and --daemon cannot be combined "
		    "(--daemon retries by itself)");
		return -1;
	}
	if (o->interval > 0 && (o->mode != FETCH_RUN || o->json)) {
		log_error(NULL, "--daemon fetches: it cannot be combined with "
		    "--status, --list, --dry-run or --json");
		return -1;
	}
	if (o->import && (o->nnames > 0 || o->all || o->mode != FETCH_RUN)) {
		log_error(NULL, "--import-fetchmailrc takes only a file name");
		return -1;
	}
	if (o->import_uids != NULL && (o->import || o->all || o->json ||
	    o->mode != FETCH_RUN || o->serverinfo || o->interval > 0 ||
	    o->retries > 0)) {
		log_error(NULL, "--import-uids takes a format, a file and "
		    "account names only");
		return -1;
	}
	if (o->import_uids != NULL && o->nnames == 0) {
		log_error(NULL, "--import-uids %s: which file? (--import-uids "
		    "FORMAT FILE [account ...])", o->import_uids);
		return -1;
	}
	if (o->flow != OAUTH_FLOW_DEFAULT && !o->authorize) {
		log_error(NULL, "--device, --browser and --paste go with "
		    "--authorize");
		return -1;
	}
	if (o->authorize && (o->nnames != 1 || o->all || o->json ||
	    o->mode != FETCH_RUN || o->serverinfo || o->interval > 0 ||
	    o->retries > 0 || o->import || o->import_uids != NULL)) {
		log_error(NULL, "--authorize takes one account name (and "
		    "--device, --browser or --paste)");
		return -1;
	}
	if (o->health && (o->mode != FETCH_RUN || o->json || o->serverinfo ||
	    o->import || o->import_uids != NULL || o->interval > 0 ||
	    o->retries > 0)) {
		log_error(NULL, "--health only reads the status records: it "
		    "takes -C, --max-failures, --max-age and account names");
		return -1;
	}
	if (o->poll_now && (o->health || o->mode != FETCH_RUN || o->json ||
	    o->serverinfo || o->import || o->import_uids != NULL ||
	    o->interval > 0 || o->retries > 0 || o->all || o->nnames > 0)) {
		log_error(NULL, "--poll-now only signals the running daemon: "
		    "it takes no other option");
		return -1;
	}
	if (!o->health && (o->max_failures != -1 || o->max_age != 0)) {
		log_error(NULL, "--max-failures and --max-age go with --health");
		return -1;
	}
	if (o->retry_refused && (o->mode != FETCH_RUN || o->serverinfo ||
	    o->import || o->import_uids != NULL || o->authorize ||
	    o->health || o->poll_now || o->interval > 0)) {
		log_error(NULL, "--retry-refused goes with a fetch: it takes "
		    "account names (or -a) and the options of a fetch, not "
		    "-s, -l, -n, -S, --daemon or another action");
		return -1;
	}
	if (o->all && o->nnames > 0) {
		log_error(NULL, "-a and account names cannot be combined");
		return -1;
	}
	if (o->serverinfo && (o->mode != FETCH_RUN || o->json || o->import)) {
		log_error(NULL, "-S cannot be combined with -s, -l, -n, --json "
		    "or --import-fetchmailrc");
		return -1;
	}
	return 0;
}

/* An option with an argument (optarg). */
static int
option_arg(int c, int argc, char **argv, struct options *o)
{
	const char	*errstr;

	switch (c) {
	case 'I':
		o->import = 1;
		/* Also "--import-fetchmailrc FILE", not only "=FILE". */
		if (optarg == NULL && optind < argc && argv[optind][0] != '-')
			optarg = argv[optind++];
		o->import_file = optarg;
		break;
	case 'U':
		o->import_uids = optarg;
		break;
	case 'C':
		o->config = optarg;
		break;
	case 'r':
		return parse_retry(optarg, &o->retries);
	case 'D':
		if ((o->interval = daemon_parse_interval(optarg)) == -1) {
			log_error(NULL, "--daemon: invalid interval '%.32s': "
			    "use a number with s, m, h or d, such as 5m",
			    optarg);
			return -1;
		}
		break;
	case 'F':
		o->max_failures = (long)strtonum(optarg, 1,
		    HEALTH_FAILURES_MAX, &errstr);
		if (errstr != NULL) {
			log_error(NULL, "--max-failures %.32s: use a number "
			    "from 1 to %d", optarg, HEALTH_FAILURES_MAX);
			return -1;
		}
		break;
	case 'A':
		if ((o->max_age = daemon_parse_interval(optarg)) == -1) {
			log_error(NULL, "--max-age: invalid duration '%.32s': "
			    "use a number with s, m, h or d, such as 1h",
			    optarg);
			return -1;
		}
		break;
	case 'j':
		o->jobs = (int)strtonum(optarg, 1, RUNNER_JOBS_MAX, &errstr);
		if (errstr != NULL) {
			log_error(NULL, "-j %s: the number of accounts at once "
			    "must be from 1 to %d", optarg, RUNNER_JOBS_MAX);
			return -1;
		}
		break;
	}
	return 0;
}

/* --authorize (c 'Z'), or its flow: --device (1), --browser, --paste. */
static int
set_authorize(struct options *o, int c)
{
	if (c == 'Z') {
		o->authorize = 1;
		return 0;
	}
	if (o->flow != OAUTH_FLOW_DEFAULT) {
		log_error(NULL, "--device, --browser and --paste cannot be "
		    "combined");
		return -1;
	}
	o->flow = c == 1 ? OAUTH_FLOW_DEVICE : c == 2 ? OAUTH_FLOW_BROWSER :
	    OAUTH_FLOW_PASTE;
	return 0;
}

static int
set_mode(struct options *o, enum fetch_mode m)
{
	if (o->mode != FETCH_RUN && o->mode != m) {
		log_error(NULL, "-s, -l and -n cannot be combined");
		return -1;
	}
	o->mode = m;
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
			/* A delivery server's sign-in, not a mailbox. */
			if (account_is_signin(a) && a->host == NULL)
				continue;
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
report(const struct account *a, const struct fetch_stats *st)
{
	char	size[32], kept[64] = "", del[64] = "", left[64] = "";

	if (st->left > 0)
		snprintf(left, sizeof left, ", %lu left for the next run",
		    st->left);
	if (st->kept > 0)
		snprintf(kept, sizeof kept, ", %lu kept on the server",
		    st->kept);
	if (st->deleted > 0)
		snprintf(del, sizeof del, ", %lu deleted", st->deleted);
	if (st->fetched == 0) {
		log_info(a->name, "no new messages%s%s", kept, del);
		return;
	}
	progress_human_size(size, sizeof size, st->bytes);
	log_info(a->name, "%lu message%s fetched (%s)%s%s%s", st->fetched,
	    st->fetched == 1 ? "" : "s", size, left, del, kept);
}

/* Fetch one account; the error, if any, is reported here, once. */
static int
run_account(const struct account *a, const struct options *o,
    struct outcome *res)
{
	struct attempt		at;
	struct daemon_ops	ops = { fetch_one, NULL, &at };
	struct fetch_stats	st;
	struct error		err;
	int			ex = EX_OK;

	error_clear(&err);
	memset(&st, 0, sizeof st);
	/* First, so that the account's own configuration errors go there. */
	if (log_targets(a->logfile, a->syslog, &err) == -1) {
		log_error(a->name, "%s", err.msg);
		ex = err.ex;
		goto out;
	}
	log_set_format(a->log_format);
	if (account_validate(a, &err) == -1) {
		log_error(a->name, "%s", err.msg);
		ex = err.ex;
		goto done;
	}
	memset(&at, 0, sizeof at);
	at.o = o;
	if (daemon_retry(a, o->retries, &ops, &err) == -1) {
		log_error(a->name, "%s", err.msg);
		ex = err.ex != 0 ? err.ex : EX_SOFTWARE;
	}
	st = at.st;
done:
	(void)log_targets(NULL, -1, NULL);
out:
	res->st = st;
	res->ex = ex;
	strlcpy(res->msg, err.msg, sizeof res->msg);
	return ex;
}

/*
 * One fetch (daemon_fetch_fn); the summary is logged here, the error is
 * left to the caller.
 */
static int
fetch_one(const struct account *a, void *arg, struct error *err)
{
	struct attempt		*at = arg;
	const struct options	*o = at->o;
	struct fetch_opts	 fo;
	int			 rc;

	/*
	 * A daemon logs each account where its own logfile and syslog say,
	 * as a single run does (run_account() sets them there).
	 */
	if (o->interval > 0 && log_targets(a->logfile, a->syslog, err) == -1)
		return -1;
	log_set_format(a->log_format);
	memset(&fo, 0, sizeof fo);
	fo.lock_wait = a->lock_wait;
	fo.mode = o->mode;
	fo.progress = o->progress;
	fo.retry_refused = o->retry_refused;
	fo.stop = &daemon_stop;
	if (o->interval > 0)
		netwatch_fetch_begin();
	rc = fetch_account(a, &fo, &at->st, err);
	if (o->interval > 0)
		netwatch_fetch_end();
	record(a, o, &at->st, rc, err);
	run_event(a, &at->st, rc, err);
	if ((rc == 0 && o->mode == FETCH_RUN) || at->st.fetched > 0) {
		/* A daemon says nothing when there was nothing to say. */
		if (o->interval == 0 || at->st.fetched > 0 ||
		    at->st.deleted > 0 || o->level >= LOG_VERBOSE)
			report(a, &at->st);
	}
	return rc;
}

/*
 * 1 when err says the account's grant must be renewed by the user, so its
 * status record says needs_authorize and on_failure hears of it.  Every
 * such error -- a refused or expired grant, no tokens yet, a token file
 * to remove, a token the server refuses after a refresh -- ends by telling
 * the user to run popfetch --authorize (oauth.c, tokenstore.c, auth.c),
 * and no other error names it.
 */
static int
needs_authorize(const struct error *err)
{
	return err != NULL && error_isset(err) &&
	    strstr(err->msg, "popfetch --authorize") != NULL;
}

/*
 * The account's status record after a fetch (not after -s, -l, -n, nor
 * a fetch a stop signal cut short: that says nothing of the account),
 * and its on_failure command when the record says the state changed --
 * so once per change, whichever process or run sees it.
 */
static void
record(const struct account *a, const struct options *o,
    const struct fetch_stats *st, int rc, const struct error *err)
{
	enum health_change	change;
	struct error		werr;

	if (o->mode != FETCH_RUN || (rc == -1 && daemon_stop))
		return;
	error_clear(&werr);
	if (health_update(a->name, st, rc, err, rc == -1 &&
	    needs_authorize(err), &change, &werr) == -1) {
		log_warn_once(a->name, "%s", werr.msg);
		return;		/* without a record, no change is certain */
	}
	if (change == HEALTH_SAME || a->on_failure == NULL ||
	    *a->on_failure == '\0')
		return;
	error_clear(&werr);
	if (health_hook(a->on_failure, a->name, change, rc == 0 ? EX_OK :
	    err->ex, rc == 0 ? "" : err->msg, a->timeout, &werr) == -1)
		log_warn(a->name, "%s", werr.msg);
}

/*
 * log_format json: one "run" event per fetch, {"event":"run","result":
 * "ok" | the class,"exit":0,"fetched":...,"error":null | "..."}.
 */
static void
run_event(const struct account *a, const struct fetch_stats *st, int rc,
    const struct error *err)
{
	struct buf	b;
	int		ex = rc == 0 ? EX_OK : err->ex != 0 ? err->ex : EX_SOFTWARE;

	if (!log_events_on())
		return;
	buf_init(&b);
	jsonw_str(&b, "result", json_exit_class(ex));
	jsonw_num(&b, "exit", (unsigned long long)ex);
	jsonw_num(&b, "fetched", st->fetched);
	jsonw_num(&b, "bytes", st->bytes);
	jsonw_num(&b, "deleted", st->deleted);
	jsonw_num(&b, "skipped", st->skipped);
	jsonw_num(&b, "killed", st->killed);
	jsonw_num(&b, "left", st->left);
	jsonw_num(&b, "refused", st->refused);
	jsonw_num(&b, "deferred", st->deferred);
	jsonw_num(&b, "set_aside", st->set_aside);
	jsonw_str(&b, "error", rc == 0 ? NULL : err->msg);
	log_event(a->name, "run", &b);
	buf_free(&b);
}

/* --poll-now: SIGUSR1 to the daemon of the pid file. */
static int
run_poll_now(void)
{
	struct error	err;
	int		pid;

	error_clear(&err);
	if ((pid = daemon_poll_now(&err)) == -1) {
		log_error(NULL, "%s", err.msg);
		return err.ex;
	}
	log_info(NULL, "asked the daemon (pid %d) to poll every account",
	    pid);
	return EX_OK;
}

/* --health: one line per unhealthy account on stdout; 0 or 1. */
static int
run_health(struct options *o)
{
	struct accounts	  accts;
	struct account	**sel = NULL;
	struct health_record r;
	struct error	  err;
	char		  why[ERROR_MSG_MAX + 64];
	size_t		  nsel = 0, i;
	unsigned long	  maxf;
	int		  ex, got;

	TAILQ_INIT(&accts);
	error_clear(&err);
	o->all = o->nnames == 0;	/* every account, unless named */
	maxf = o->max_failures == -1 ? HEALTH_FAILURES_DEFAULT :
	    (unsigned long)o->max_failures;
	if (config_load(o->path, &accts, &err) == -1) {
		log_error(NULL, "%s", err.msg);
		ex = err.ex != 0 ? err.ex : EX_CONFIG;
		goto out;
	}
	if (o->all && TAILQ_EMPTY(&accts)) {
		ex = EX_OK;	/* no account yet: nothing is unhealthy */
		goto out;
	}
	if ((ex = select_accounts(&accts, o, o->path, &sel, &nsel)) != EX_OK)
		goto out;
	for (i = 0; i < nsel; i++) {
		error_clear(&err);
		if ((got = health_read(sel[i]->name, &r, &err)) == -1)
			snprintf(why, sizeof why, "%s", err.msg);
		else if (got == 0)
			snprintf(why, sizeof why, "not polled yet (no status "
			    "record)");
		else if (health_judge(&r, maxf, o->max_age, time(NULL), why,
		    sizeof why))
			continue;
		printf("%s: unhealthy: %s\n", sel[i]->name, why);
		ex = 1;
	}
	fflush(stdout);
out:
	free(sel);
	accounts_free(&accts);
	return ex;
}

/* daemon_load_fn: the configuration file and the accounts chosen. */
static int
load_accounts(void *arg, struct accounts *list, struct account ***sel,
    size_t *nsel, struct error *err)
{
	const struct attempt	*at = arg;
	const struct options	*o = at->o;
	size_t			 i;
	int			 ex;

	if (config_load(o->path, list, err) == -1)
		return -1;
	/* A panel's empty directory: wait for files and a SIGHUP. */
	if (o->all && TAILQ_EMPTY(list)) {
		*sel = NULL;
		*nsel = 0;
		return 0;
	}
	if ((ex = select_accounts(list, o, o->path, sel, nsel)) != EX_OK) {
		error_set(err, ex, "%s: no accounts to poll", o->path);
		return -1;
	}
	/* A daemon checks everything up front, not at each poll. */
	for (i = 0; i < *nsel; i++)
		if (account_validate((*sel)[i], err) == -1) {
			error_prefix(err, "account %s", (*sel)[i]->name);
			free(*sel);
			*sel = NULL;
			return -1;
		}
	return 0;
}

/* --daemon: the accounts are polled one after another, in this process. */
static int
run_daemon(struct options *o)
{
	struct attempt		at;
	struct daemon_ops	ops = { fetch_one, load_accounts, &at };
	struct error		err;

	memset(&at, 0, sizeof at);
	at.o = o;
	error_clear(&err);
	if (daemon_run(o->interval, o->jobs, &ops, &err) == -1) {
		log_error(NULL, "%s", err.msg);
		return err.ex != 0 ? err.ex : EX_CONFIG;
	}
	return EX_OK;
}

static int
run_import(const struct options *o)
{
	struct error	 err;
	char		*path;
	int		 rc;

	error_clear(&err);
	if (o->import_file != NULL)
		path = xstrdup(o->import_file);
	else
		path = config_expand_tilde("~/.fetchmailrc");
	rc = import_fetchmailrc(path, stdout, &err);
	free(path);
	if (rc == -1) {
		log_error(NULL, "%s", err.msg);
		return err.ex;
	}
	return EX_OK;
}

/* --authorize ACCOUNT: sign in and store the tokens; fetches nothing. */
static int
run_authorize(const struct options *o)
{
	struct accounts	 accts;
	struct account	*a;
	struct error	 err;
	int		 ex = EX_OK;

	TAILQ_INIT(&accts);
	error_clear(&err);
	if (config_load(o->path, &accts, &err) == -1) {
		log_error(NULL, "%s", err.msg);
		ex = err.ex != 0 ? err.ex : EX_CONFIG;
	} else if ((a = accounts_find(&accts, o->names[0])) == NULL) {
		log_error(NULL, "%s: no account named '%s'", o->path,
		    o->names[0]);
		ex = EX_USAGE;
	} else if (a->oauth2_client_id == NULL) {
		log_error(a->name, "%s:%d: no oauth2_client_id set; see "
		    "fetchrc(5) for OAuth 2.0", a->file, a->line);
		ex = EX_CONFIG;
	} else if (oauth_authorize(a, o->flow, &err) == -1) {
		log_error(a->name, "%s", err.msg);
		ex = err.ex != 0 ? err.ex : EX_SOFTWARE;
	}
	accounts_free(&accts);
	return ex;
}

/*
 * --import-uids FORMAT FILE [account ...]: every list in FILE goes to the
 * accounts (all, or those named) with its user and host.  A single list
 * goes to a single named account even if they differ: the user said so.
 */
static int
run_import_uids(const struct options *o, const char *path)
{
	struct accounts	  accts;
	struct account	 *a;
	struct uid_list	 *lists = NULL;
	struct error	  err;
	enum uid_format	  fmt;
	const char	 *file = o->names[0];
	size_t		  nl = 0, i, added, known, hits = 0;
	int		  j, named = o->nnames > 1, ex = EX_OK, mine;

	if (import_uids_format(o->import_uids, &fmt) == -1) {
		log_error(NULL, "--import-uids: unknown format '%.32s': use "
		    "mpop, fetchmail or getmail", o->import_uids);
		return EX_USAGE;
	}
	TAILQ_INIT(&accts);
	error_clear(&err);
	if (config_load(path, &accts, &err) == -1 ||
	    import_uids_read(fmt, file, &lists, &nl, &err) == -1) {
		log_error(NULL, "%s", err.msg);
		ex = err.ex != 0 ? err.ex : EX_CONFIG;
		goto out;
	}
	for (j = 1; j < o->nnames; j++)
		if (accounts_find(&accts, o->names[j]) == NULL) {
			log_error(NULL, "%s: no account named '%s'", path,
			    o->names[j]);
			ex = EX_USAGE;
			goto out;
		}
	TAILQ_FOREACH(a, &accts, entry) {
		for (j = 1, mine = !named; j < o->nnames; j++)
			if (strcmp(o->names[j], a->name) == 0)
				mine = 1;
		if (!mine)
			continue;
		for (i = 0; i < nl; i++) {
			if (!import_uids_match(&lists[i], a) &&
			    !(named && o->nnames == 2 && nl == 1))
				continue;
			error_clear(&err);
			if (import_uids_record(&lists[i], a, &added, &known,
			    &err) == -1) {
				log_error(a->name, "%s", err.msg);
				if (ex == EX_OK)
					ex = err.ex;
				continue;
			}
			hits++;
			log_info(a->name, "%zu UID%s imported from %s (%zu "
			    "known already)", added, added == 1 ? "" : "s",
			    file, known);
		}
	}
	if (hits == 0 && ex == EX_OK) {
		log_error(NULL, "%s: no mailbox in it belongs to %s (same user "
		    "and host%s); name the account to import into: "
		    "--import-uids %s %s ACCOUNT", file, named ? "the accounts "
		    "named" : "any account in the config", fmt == UIDFMT_GETMAIL ?
		    " and port" : "", o->import_uids, file);
		ex = EX_NOUSER;
	}
out:
	import_uids_free(lists, nl);
	accounts_free(&accts);
	return ex;
}

/*
 * Each account's object ends with "status": its status record as --health
 * reads it (null before its first fetch), so -s --json shows a monitor
 * the last poll's outcome too.  json_account() left the object open.
 */
static void
json_status(struct buf *b, const char *name)
{
	struct health_record	r;
	struct error		err;

	error_clear(&err);
	buf_addstr(b, ",\"status\":");
	if (health_read(name, &r, &err) == 1)
		health_json(b, name, &r);
	else
		buf_addstr(b, "null");
	buf_addstr(b, "}");
}

/* The summary: one object per selected account, in the order given. */
static void
print_json(struct account **sel, const struct outcome *out, size_t n, int ex)
{
	struct buf	accts, doc;
	size_t		i;

	buf_init(&accts);
	buf_init(&doc);
	for (i = 0; i < n; i++) {
		json_account(&accts, i == 0, sel[i]->name, &out[i].st,
		    out[i].ex, out[i].ex != EX_OK ? out[i].msg : NULL);
		json_status(&accts, sel[i]->name);
	}
	json_document(&doc, ex, &accts);
	fwrite(doc.data, 1, doc.len, stdout);
	fflush(stdout);
	buf_free(&accts);
	buf_free(&doc);
}

static int
run_item(void *item)
{
	struct job	*j = item;

	return run_account(j->a, j->o, j->out);
}

/* -S: one account after the other, so that the output stays in order. */
static int
run_serverinfo(struct account **sel, size_t nsel)
{
	struct error	err;
	size_t		i;
	int		first = EX_OK;

	for (i = 0; i < nsel; i++) {
		error_clear(&err);
		if (i > 0)
			putchar('\n');
		if (account_validate(sel[i], &err) == -1) {
			log_error(sel[i]->name, "%s", err.msg);
		} else if (serverinfo_print(sel[i], stdout, &err) == -1) {
			fflush(stdout);
			log_error(sel[i]->name, "%s", err.msg);
		} else
			continue;
		if (first == EX_OK)
			first = err.ex != 0 ? err.ex : EX_SOFTWARE;
	}
	return first;
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

/*
 * Run the selected accounts, up to o->jobs at once, each in a child that
 * writes its outcome to shared memory.  One failing account does not
 * stop the others; the exit code is the first failure in account order,
 * however many ran at once.
 */
static int
run_accounts(struct options *o, struct account **sel, size_t nsel)
{
	struct outcome	 *out;
	struct job	 *jv;
	void		**items;
	size_t		  i;
	int		  first = EX_OK, *exs, jobs;

	jobs = pick_jobs(o, sel, nsel);
	/* Several progress lines on one terminal would overwrite each other. */
	o->progress = jobs <= 1 && o->mode == FETCH_RUN &&
	    o->level >= LOG_NORMAL && isatty(STDERR_FILENO);
	out = mmap(NULL, nsel * sizeof *out, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (out == MAP_FAILED) {
		log_error(NULL, "mmap: %s", strerror(errno));
		return EX_OSERR;
	}
	memset(out, 0, nsel * sizeof *out);
	jv = xcalloc(nsel, sizeof *jv);
	items = xcalloc(nsel, sizeof *items);
	for (i = 0; i < nsel; i++) {
		jv[i].a = sel[i];
		jv[i].o = o;
		jv[i].out = &out[i];
		items[i] = &jv[i];
	}
	exs = xcalloc(nsel, sizeof *exs);
	/* SIGTERM, SIGINT, SIGHUP: stop at once, keeping what is delivered. */
	daemon_catch_signals(0);
	runner_run(items, nsel, jobs, run_item, exs, &daemon_stop);
	for (i = 0; i < nsel; i++) {
		/* A child that died left no outcome: the runner's code counts. */
		out[i].ex = exs[i];
		if (exs[i] != EX_OK && out[i].msg[0] == '\0')
			snprintf(out[i].msg, sizeof out[i].msg, daemon_stop ?
			    "not fetched: stopped by a signal" : "the run of "
			    "this account ended abnormally");
		if (exs[i] != EX_OK && first == EX_OK)
			first = exs[i];
	}
	if (o->json)
		print_json(sel, out, nsel, first);
	munmap(out, nsel * sizeof *out);
	free(exs);
	free(items);
	free(jv);
	return first;
}

/* The configuration's accounts, as the command line selects them. */
static int
run_config(struct options *o)
{
	struct accounts	  accts;
	struct account	**sel = NULL;
	struct error	  err;
	size_t		  nsel = 0;
	int		  ex;

	TAILQ_INIT(&accts);
	error_clear(&err);
	if (config_load(o->path, &accts, &err) == -1) {
		log_error(NULL, "%s", err.msg);
		ex = err.ex != 0 ? err.ex : EX_CONFIG;
	} else if ((ex = select_accounts(&accts, o, o->path, &sel,
	    &nsel)) != EX_OK)
		;
	else if (o->serverinfo)
		ex = run_serverinfo(sel, nsel);
	else
		ex = run_accounts(o, sel, nsel);
	if (ex != EX_OK && o->json && sel == NULL)
		print_json(NULL, NULL, 0, ex);
	free(sel);
	accounts_free(&accts);
	return ex;
}

int
main(int argc, char **argv)
{
	struct options	o;
	char		*path;
	int		 ex;

	/* A peer that goes away must give an error, not kill us. */
	signal(SIGPIPE, SIG_IGN);
	/* Over a file size limit (ulimit -f), a write must fail with EFBIG. */
	signal(SIGXFSZ, SIG_IGN);
	/* Once a stop signal is caught, no network wait goes on. */
	transport_stop_on(&daemon_stop);

	if (parse_options(argc, argv, &o) == -1)
		return EX_USAGE;
	log_init(o.level, o.debug);
	/* --list shows UTF-8 text as UTF-8 where the locale says so. */
	if (o.mode == FETCH_LIST) {
		(void)setlocale(LC_CTYPE, "");
		termsafe_set_utf8(rfc2047_locale_utf8());
	}
	if (o.import)
		return run_import(&o);
	if (o.json)
		log_reserve_stdout();

	path = o.config != NULL ? xstrdup(o.config) : config_default_path();
	o.path = path;
	if (o.poll_now)
		ex = run_poll_now();
	else if (o.health)
		ex = run_health(&o);
	else if (o.import_uids != NULL)
		ex = run_import_uids(&o, path);
	else if (o.authorize)
		ex = run_authorize(&o);
	else if (o.interval > 0)
		ex = run_daemon(&o);
	else
		ex = run_config(&o);
	free(path);
	return ex;
}
