/*
 * fetch.h -- one account's pipeline: connect, log in, list, retrieve each
 * new message into the sink, record its UID, delete it (unless keeping),
 * quit.  This is the only module that knows all the others.
 *
 * The order of durable steps is the promise popfetch makes: a message is
 * deleted on the server only after its delivery and its UID record are
 * both on disk; on any error after a DELE was sent the connection is
 * dropped without QUIT, so the server deletes nothing.
 */
#ifndef POPFETCH_FETCH_H
#define POPFETCH_FETCH_H

#include <signal.h>
#include <stdint.h>

#include "account.h"
#include "error.h"
#include "fetch-stats.h"

struct pop3;

/* What a run does besides (or instead of) fetching; see survey.h. */
enum fetch_mode {
	FETCH_RUN = 0,			/* fetch */
	FETCH_STATUS,			/* -s: count, download nothing */
	FETCH_LIST,			/* -l: one line per new message (TOP) */
	FETCH_DRYRUN,			/* -n: decide, but change nothing */
};

struct fetch_opts {
	int			 lock_wait;	/* seconds to wait for another run */
	enum fetch_mode		 mode;
	int			 progress;	/* draw the live line on stderr */
	/* --retry-refused: forget the refusals that set messages aside */
	int			 retry_refused;
	/*
	 * NULL, or a flag a signal handler sets: once set, no new message is
	 * retrieved; those in hand are delivered, recorded and deleted (in
	 * delete mode), and the session ends with QUIT as usual.
	 */
	volatile sig_atomic_t	*stop;
};

/* Fetch one account.  Returns 0, or -1 with err set (err->ex classifies). */
int	fetch_account(const struct account *, const struct fetch_opts *,
	    struct fetch_stats *, struct error *);

#endif
