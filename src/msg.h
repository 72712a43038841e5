/*
 * msg.h -- the message stream: turns the pieces of a POP3 multi-line
 * response (as transport_getline() returns them) into the message bytes a
 * sink stores: the terminating "." line is detected, one leading dot is
 * removed from byte-stuffed lines, and CRLF line ends become LF.  A bare
 * CR or LF inside a line is data and passes through unchanged: only a
 * CRLF starts a new line, so only CRLF "." CRLF ends the message and only
 * a dot right after a CRLF is a stuffing dot (RFC 1939).
 *
 * The decoder keeps no copy of the message: each piece is pushed to the
 * output function as it arrives, so memory stays constant whatever the
 * message size.
 */
#ifndef POPFETCH_MSG_H
#define POPFETCH_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Receives decoded bytes; returns 0, or -1 with err set to stop. */
typedef int (*msg_out_fn)(void *arg, const char *, size_t, struct error *);

struct msg_stream {
	msg_out_fn	 out;
	void		*arg;
	int		 at_bol;	/* the next piece starts a line (after CRLF) */
	int		 pending_cr;	/* the last piece ended in a CR */
	int		 done;		/* the terminator was seen */
	uint64_t	 bytes;		/* decoded bytes pushed out */
	uint64_t	 lines;		/* lines completed */
};

void	msg_init(struct msg_stream *, msg_out_fn, void *arg);

/*
 * Feed one piece.  Returns 1 when the piece was the terminating line (the
 * stream is complete, nothing of the piece is output), 0 when more is
 * expected, -1 when the output function failed.  Feeding after completion
 * is a programming error.
 */
int	msg_feed(struct msg_stream *, const char *, size_t, struct error *);

#endif
