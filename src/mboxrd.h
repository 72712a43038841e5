/*
 * mboxrd.h -- mboxrd quoting (RFC 4155's mboxrd variant), as a stream.
 *
 * A line matching ^>*From  (any number of '>', then "From ") gets one
 * more '>' in front; reading undoes it by removing one, so every message
 * comes back byte for byte, and no line of a message can be taken for a
 * From_ line that starts the next one.  The quoter takes the message in
 * pieces of any size: only the start of each line is looked at byte by
 * byte (and held back until it is clear whether it needs the '>'); the
 * rest of a line goes out in one piece.
 */
#ifndef POPFETCH_MBOXRD_H
#define POPFETCH_MBOXRD_H

#include <stddef.h>

#include "error.h"

/* Where quoted bytes go: 0, or -1 with err set (which stops quoting). */
typedef int	(*mboxrd_out)(void *arg, const char *, size_t,
		    struct error *);

struct mboxrd {
	mboxrd_out	 out;
	void		*arg;
	int		 bol;	/* at the start of a line */
	size_t		 gts;	/* '>'s held back at the line start */
	size_t		 from;	/* bytes of "From " held back after them */
};

void	mboxrd_init(struct mboxrd *, mboxrd_out, void *arg);
/* Quote the next n bytes of the message. */
int	mboxrd_quote(struct mboxrd *, const char *, size_t, struct error *);
/* The message ended: write what is held back (a last line's start). */
int	mboxrd_end(struct mboxrd *, struct error *);

#endif
