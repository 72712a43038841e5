/*
 * survey.h -- looking before fetching: the selection of new messages
 * (killsize, skipsize, filter) and what the --status, --list and
 * --dry-run modes print.  fetch.c calls these between the scan and the
 * transfer; nothing here writes mail or state.
 *
 * The lines printed are the result the user asked for, so -q does not
 * silence them; they go to standard output (standard error with --json,
 * see log_result()).  Text from the server is made printable and cut.
 */
#ifndef POPFETCH_SURVEY_H
#define POPFETCH_SURVEY_H

#include <stddef.h>

#include "account.h"
#include "buf.h"
#include "error.h"
#include "fetch-stats.h"
#include "filter.h"
#include "pop3.h"

/*
 * Decide about one new message: killsize first, then skipsize (both on
 * LIST's size, as mpop does), then the filter on its header (TOP, into
 * hdr).  *why names the rule that decided ("killsize", "skipsize",
 * "filter"), or is NULL for a plain fetch.  Only call with nothing in
 * flight.
 */
int	survey_choose(const struct account *, struct pop3 *,
	    const struct pop3_msg *, struct buf *hdr, enum verdict *,
	    const char **why, struct error *);

/* --status: "acct: N messages (SIZE) on the server, M new (SIZE)". */
void	survey_status(const struct account *, const struct fetch_stats *);

/* --list: the header of each new message (scan indexes in todo). */
int	survey_list(const struct account *, struct pop3 *,
	    const struct pop3_scan *, const size_t *todo, size_t ntodo,
	    struct error *);

/* --dry-run: what would happen to one message, and the summary. */
void	survey_would(const struct account *, const struct pop3_msg *,
	    enum verdict, const char *why);
void	survey_dry_summary(const struct account *, const struct fetch_stats *,
	    unsigned long fetch, uint64_t fetch_bytes, unsigned long dele);

#endif
