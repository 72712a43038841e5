/*
 * msgevent.h -- log_format json's per-message events, for fetch.c:
 *
 *   {"time":...,"account":"work","event":"message","action":"delivered"
 *    | "refused" | "deferred" | "skipped" | "left" | "deleted",
 *    "num":3,"uid":"..." | null,"message_id":"<...>" | null,"size":4096,
 *    "destination":"maildir /home/u/Maildir","answer":"..." | null,
 *    "reason":"..." | null}
 *
 * size is the bytes that arrived (LIST's size where nothing arrived);
 * answer is what the destination said (an MDA's exit status, a refusal's
 * line), reason why a message was not fetched.  The Message-ID is taken
 * from the header as the message streams by.  Everything is a no-op while
 * log_events_on() is false.
 */
#ifndef POPFETCH_MSGEVENT_H
#define POPFETCH_MSGEVENT_H

#include <stddef.h>
#include <stdint.h>

#include "account.h"
#include "pop3-parse.h"

#define MSGEVENT_LINE	512	/* header line kept: enough for a Message-ID */

struct msgevents {
	int		 on;
	size_t		 n;
	char		**msgid;	/* per scan index, or NULL */
	uint64_t	*got;		/* bytes that arrived, per scan index */
	size_t		 cur;		/* the message being read */
	int		 in_head;	/* still in its header */
	int		 want_cont;	/* Message-ID: with the value folded */
	size_t		 len;
	char		 line[MSGEVENT_LINE];
};

/* For a scan of n messages; on when log_events_on(). */
void	msgev_init(struct msgevents *, size_t n);
void	msgev_free(struct msgevents *);
/* Message idx starts arriving; then its bytes, as they come. */
void	msgev_begin(struct msgevents *, size_t idx);
void	msgev_bytes(struct msgevents *, const char *, size_t);
/* The event for message idx (m): answer and reason may be NULL. */
void	msgev_emit(const struct msgevents *, const struct account *,
	    size_t idx, const struct pop3_msg *m, const char *action,
	    const char *answer, const char *reason);

#endif
