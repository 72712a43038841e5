/*
 * fetch-stats.h -- what a run did to one account, counted: filled in by
 * fetch.c, printed by survey.c (-s, -n), main.c and json.c (--json).
 */
#ifndef POPFETCH_FETCH_STATS_H
#define POPFETCH_FETCH_STATS_H

#include <stdint.h>

struct fetch_stats {
	unsigned long	 on_server;	/* messages listed at the start */
	unsigned long	 fetched;	/* delivered in this run */
	unsigned long	 deleted;	/* DELE accepted (effective at QUIT) */
	unsigned long	 kept;		/* already delivered, left on server */
	unsigned long	 failed;	/* messages the server would not give */
	uint64_t	 bytes;		/* delivered bytes */
	uint64_t	 on_server_bytes; /* LIST sizes of all messages */
	unsigned long	 new_msgs;	/* not delivered by an earlier run */
	uint64_t	 new_bytes;
	unsigned long	 skipped;	/* skipsize or filter: left on server */
	unsigned long	 killed;	/* killsize or filter: deleted unread */
	unsigned long	 deferred;	/* the sink said: try later (MDA 75) */
	unsigned long	 refused;	/* the sink said: failed (MDA error) */
	unsigned long	 set_aside;	/* refused in delivery_reject_limit
					   runs: not tried, or to
					   reject_maildir */
	unsigned long	 left;		/* over fetch_limit/fetch_size_limit:
					   waits for the next run */
	uint64_t	 left_bytes;
};

/*
 * a + b, or UINT64_MAX when that does not fit: sizes come from the
 * server's LIST (each up to UINT64_MAX), and a sum that wrapped around
 * would show a mailbox of 2^64 + 1 bytes as 1 byte and let a huge message
 * pass fetch_size_limit.  UINT64_MAX (16 EiB) reads as "that much or more".
 */
static inline uint64_t
size_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

#endif
