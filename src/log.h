/*
 * log.h -- what popfetch tells the user, and the --debug protocol trace.
 *
 * Every line about an account starts with the account name ("work: ...");
 * pass NULL as the account for program-wide messages ("popfetch: ...").
 * Levels: errors always go to stderr; warnings and the per-run summary are
 * silenced by -q; per-message lines need -v; the protocol trace needs
 * --debug.  Lines are written with one write(2) each so that accounts
 * fetched in parallel never interleave within a line.
 */
#ifndef POPFETCH_LOG_H
#define POPFETCH_LOG_H

#include <stddef.h>

#include "error.h"

enum log_level {
	LOG_QUIET = 0,		/* -q: errors only */
	LOG_NORMAL = 1,		/* a summary line per account, warnings */
	LOG_VERBOSE = 2,	/* -v: one line per message */
};

enum log_format {
	LOG_FORMAT_TEXT = 0,	/* "account: message" lines */
	LOG_FORMAT_JSON = 1	/* one JSON object per line (log_format json) */
};

void	log_init(enum log_level, int debug);
/*
 * 1 the first time (acct, what) is asked about in this process and its
 * children (-j, the daemon's polls fork them), 0 after: a warning said
 * once, not on every reconnect and poll.  log_init() sets up the memory
 * the children share; a full table (LOG_ONCE_MAX) answers 1 again.
 */
#define LOG_ONCE_MAX	512
int	log_once(const char *acct, const char *what);
/*
 * Forget what log_once() knows of acct: its configuration changed, so
 * its warnings are news again.
 */
void	log_once_forget(const char *acct);
/*
 * A warning said once per account and wording (log_once() on the text):
 * per-connection warnings, not repeated at every poll, said again when
 * what they say changes.
 */
void	log_warn_once(const char *acct, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
enum log_level log_level(void);
int	log_debugging(void);

void	log_error(const char *acct, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	log_warn(const char *acct, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	log_info(const char *acct, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	log_verbose(const char *acct, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	log_debug(const char *acct, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/*
 * The result the user asked for (--status, --list, --dry-run lines):
 * printed whatever the level, on standard output -- or standard error
 * once log_reserve_stdout() was called.
 */
void	log_result(const char *acct, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

/*
 * A result line exactly as given (no "account: " prefix), where
 * log_result() writes: --list's tab-separated form for scripts.
 */
void	log_result_line(const char *);

/* Whether log_result() writes to a terminal. */
int	log_result_tty(void);

/* --json owns standard output: every human line goes to stderr instead. */
void	log_reserve_stdout(void);

/*
 * Also send every line emitted from now on (errors always, the rest as
 * the level allows) to logfile (appended, created 0600, each line with
 * a time stamp) and to syslog with facility (a LOG_* value).  NULL and
 * -1 turn either off; log_targets(NULL, -1, NULL) closes them.  A file
 * that cannot be opened, or is neither a regular file nor /dev/null (a
 * FIFO: opened without waiting, then refused), is EX_CANTCREAT.
 */
int	log_targets(const char *logfile, int facility, struct error *);

/*
 * --daemon: the lines about no account ("popfetch: stopping") go, while
 * no account's log_targets() are in use, to each of files (duplicates
 * once) and to syslog with facility (-1: not).  Each file is opened for
 * each line, so a logfile logrotate renamed is followed.  n 0 and -1:
 * off.  The strings are copied.
 */
void	log_daemon_targets(const char *const *files, size_t n, int facility);

/*
 * log_format json: from now on every line (to the terminal, the logfile,
 * the daemon's files) is one JSON object, {"time":"2026-12-02T01:02:03.
 * 456Z","account":"work" | null,"event":"log","level":"error" | "warning"
 * | "info" | "debug","message":"..."}; syslog keeps the text.  The base
 * format is what log_targets(NULL, -1, NULL) returns to (a daemon's own).
 */
void	log_set_format(enum log_format);
void	log_base_format(enum log_format);
/* Whether events are written (the JSON format is on). */
int	log_events_on(void);
/*
 * An event: {"time":...,"account":...,"event":event then fields (members
 * each led by a comma, jsonw.h) and "}"}, on the line of the results
 * (stdout, or stderr with --json) and in the logfile; whatever the level.
 * Nothing in the text format.
 */
struct buf;
void	log_event(const char *acct, const char *event, const struct buf *);

/*
 * One protocol line for the --debug trace.  dir is "<-" (from the server)
 * or "->" (to the server).  The caller is responsible for masking secrets
 * before calling (pop3.c passes "PASS ***"); non-printable bytes are shown
 * escaped and long lines are cut.
 */
void	log_trace(const char *acct, const char *dir, const char *, size_t);

#endif
