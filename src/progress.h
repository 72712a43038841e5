/*
 * progress.h -- the live line on a terminal while an account's messages
 * arrive: "acct: message 3 of 10, 1.2 of 5.0 MiB, 310 KiB/s, ETA 0:12",
 * redrawn in place on standard error at most a few times a second and
 * erased at the end, so that what stays on the screen is the summary.
 * The caller decides whether to show it (a terminal, not -q).
 */
#ifndef POPFETCH_PROGRESS_H
#define POPFETCH_PROGRESS_H

#include <stdint.h>
#include <time.h>

struct progress {
	const char	*acct;
	unsigned long	 total;		/* messages to fetch */
	uint64_t	 total_bytes;	/* their LIST sizes */
	unsigned long	 done;		/* messages finished */
	uint64_t	 bytes;		/* bytes received so far */
	struct timespec	 start, last;
	int		 drawn;		/* a line is on the screen */
};

void	progress_start(struct progress *, const char *acct,
	    unsigned long total, uint64_t total_bytes);
/* n more bytes of the current message arrived. */
void	progress_bytes(struct progress *, uint64_t n);
/* One more message is finished. */
void	progress_message(struct progress *);
/* Erase the line. */
void	progress_end(struct progress *);

/* "12.3 KiB" style; shared by the summary lines. */
void	progress_human_size(char *, size_t, uint64_t);

#endif
