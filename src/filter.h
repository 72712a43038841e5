/*
 * filter.h -- the `filter COMMAND` of an account (mpop's semantics): the
 * header of a new message goes to the command's standard input, and its
 * exit status decides: 0 retrieve, 1 kill (delete unread), 2 skip (leave
 * on the server).  Anything else -- another status, a signal, no exit
 * within the account's timeout -- is an error (EX_UNAVAILABLE), and no
 * message is touched.
 */
#ifndef POPFETCH_FILTER_H
#define POPFETCH_FILTER_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum verdict {
	VERDICT_FETCH = 0,
	VERDICT_KILL = 1,
	VERDICT_SKIP = 2,
};

/* What the filter is told besides the header, in its environment. */
struct filter_msg {
	unsigned long	 num;		/* POPFETCH_FILTER_NUMBER */
	uint64_t	 size;		/* POPFETCH_FILTER_SIZE */
	const char	*uid;		/* POPFETCH_FILTER_UID, may be NULL */
};

/*
 * Run cmd through /bin/sh -c with hdr/len on its standard input, waiting
 * at most timeout seconds.  Its standard output goes to our standard
 * error, so that it cannot corrupt --json output.
 */
int	filter_run(const char *cmd, const struct filter_msg *,
	    const char *hdr, size_t len, int timeout, enum verdict *,
	    struct error *);

const char *verdict_name(enum verdict);

#endif
