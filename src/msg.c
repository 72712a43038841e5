/* msg.c -- the POP3 multi-line message stream decoder; see msg.h. */
#include "config.h"

#include <string.h>

#include "msg.h"
#include "xmalloc.h"

static int	emit(struct msg_stream *, const char *, size_t, struct error *);

void
msg_init(struct msg_stream *ms, msg_out_fn out, void *arg)
{
	memset(ms, 0, sizeof *ms);
	ms->out = out;
	ms->arg = arg;
	ms->at_bol = 1;
}

static int
emit(struct msg_stream *ms, const char *p, size_t n, struct error *err)
{
	if (n == 0)
		return 0;
	ms->bytes += n;
	return ms->out(ms->arg, p, n, err);
}

int
msg_feed(struct msg_stream *ms, const char *p, size_t n, struct error *err)
{
	if (ms->done)
		fatalx("msg_feed after the end of the message");
	if (n == 0)
		return 0;

	/*
	 * A CR that ended the previous piece (a long line cut by the
	 * transport) is a line end only if this piece is the LF after it.
	 */
	if (ms->pending_cr) {
		ms->pending_cr = 0;
		if (n == 1 && p[0] == '\n') {
			ms->at_bol = 1;
			ms->lines++;
			return emit(ms, "\n", 1, err);
		}
		if (emit(ms, "\r", 1, err) == -1)
			return -1;
	}

	/*
	 * RFC 1939 lines end in CRLF, and only CRLF "." CRLF ends the reply:
	 * a "." after a bare LF is data (a server that took ".\n" as the end
	 * could cut a message short and have the rest taken for replies).
	 */
	if (ms->at_bol && p[0] == '.') {
		if (n == 3 && p[1] == '\r' && p[2] == '\n') {
			ms->done = 1;
			return 1;
		}
		/* Byte-stuffed line: drop the first dot. */
		p++;
		n--;
	}

	if (n >= 2 && p[n - 2] == '\r' && p[n - 1] == '\n') {
		ms->at_bol = 1;
		ms->lines++;
		if (emit(ms, p, n - 2, err) == -1)
			return -1;
		return emit(ms, "\n", 1, err);
	}

	/*
	 * Part of a long line, a piece ending in a bare LF (data within the
	 * line), or the last bytes before the connection ended.
	 */
	ms->at_bol = 0;
	if (n > 0 && p[n - 1] == '\r') {
		ms->pending_cr = 1;
		n--;
	}
	return emit(ms, p, n, err);
}
