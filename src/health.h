/*
 * health.h -- per-account status records and `popfetch --health`.
 *
 * After every fetch (a single run's, each of a daemon's polls) the account
 * gets a record, one JSON object in $XDG_STATE_HOME/popfetch/status/
 * NAME.json (default ~/.local/state/popfetch/status), rewritten atomically
 * (temporary file, fsync, rename, fsync of the directory):
 *
 *   {"version":1,"account":"work","last_attempt":1764640000,
 *    "last_success":1764640000 | null,"result":"ok" | "tempfail" | ...,
 *    "exit":0,"messages":2,"bytes":4096,"consecutive_failures":0,
 *    "error":null | "the error line","needs_authorize":false}
 *
 * Times are seconds since the epoch.  A monitor reads the files; --health
 * reads them through health_read() (json-c) and health_judge().
 */
#ifndef POPFETCH_HEALTH_H
#define POPFETCH_HEALTH_H

#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "error.h"
#include "fetch-stats.h"

struct health_record {
	time_t		 last_attempt;
	time_t		 last_success;		/* 0: never */
	int		 ex;			/* of the last attempt */
	unsigned long	 messages;		/* delivered by it */
	uint64_t	 bytes;
	unsigned long	 set_aside;		/* refused in
						   delivery_reject_limit runs */
	unsigned long	 failures;		/* consecutive, up to it */
	int		 needs_authorize;	/* an OAuth grant to renew */
	char		 error[ERROR_MSG_MAX];	/* "" after a success */
};

/* How an account's state changed with a record (for on_failure). */
enum health_change {
	HEALTH_SAME,		/* still working, or failing as before */
	HEALTH_FAILING,		/* the first failure after working */
	HEALTH_AUTHORIZE,	/* a grant must be renewed (newly) */
	HEALTH_RECOVERED	/* working again after failures */
};

/* The record file of account name: allocated. */
char	*health_path(const char *name);

/*
 * Read name's record into r.  1 if read, 0 if there is none yet, -1 with
 * err set if it cannot be read or is not a record.
 */
int	health_read(const char *name, struct health_record *r,
	    struct error *err);

/*
 * Record the outcome of one fetch of name: rc 0 (st what it did) or -1
 * (err the failure); needs_authorize from the caller (the OAuth grant
 * must be renewed).  The previous record gives the consecutive failures
 * and the last success.  *change says how the state moved.  0, or -1
 * with werr set when the record cannot be written (the fetch stands).
 */
int	health_update(const char *name, const struct fetch_stats *st, int rc,
	    const struct error *err, int needs_authorize,
	    enum health_change *change, struct error *werr);

/*
 * on_failure: run cmd (through /bin/sh, proc.c) for account name's
 * change (not HEALTH_SAME), with POPFETCH_ACCOUNT, POPFETCH_STATE
 * ("failing", "needs_authorize", "working"), POPFETCH_EXIT and
 * POPFETCH_MESSAGE in its environment, stdin /dev/null, its output on our
 * stderr; killed with its process group after timeout seconds.  0 when
 * it ran and exited 0, else -1 with err saying what happened.
 */
int	health_hook(const char *cmd, const char *name, enum health_change,
	    int ex, const char *msg, int timeout, struct error *err);

/* r as a JSON object, appended to b. */
void	health_json(struct buf *b, const char *name,
	    const struct health_record *r);

/*
 * Whether r is healthy at now: fewer than max_failures consecutive
 * failures (0: any number), no grant to renew, and (max_age > 0) a
 * success no older than max_age seconds.  If not, why gets one line.
 */
int	health_judge(const struct health_record *r, unsigned long max_failures,
	    long max_age, time_t now, char *why, size_t whylen);

#endif
