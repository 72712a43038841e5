/*
 * fuzz_msg.c -- the multi-line message stream (msg_feed) with random piece
 * boundaries.  The input is cut into lines as the transport cuts it, and
 * each line again at places a cheap generator seeded from the input picks:
 * the decoded bytes and the end must be the same as with whole lines, as
 * they are for a long line the transport hands over in chunks.  The
 * terminating "." line is never cut: the transport never cuts a short line.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "msg.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int	collect(void *, const char *, size_t, struct error *);
static int	decode(const char *, size_t, uint32_t, struct buf *);

static int
collect(void *arg, const char *p, size_t n, struct error *err)
{
	(void)err;
	buf_add(arg, p, n);
	return 0;
}

/* Decode data; seed 0 feeds whole lines.  Returns whether "." was seen. */
static int
decode(const char *data, size_t size, uint32_t seed, struct buf *out)
{
	struct msg_stream	 ms;
	struct error		 err;
	const char		*line = data, *end = data + size, *nl;
	size_t			 len, cut;
	int			 rc;

	error_clear(&err);
	msg_init(&ms, collect, out);
	while (line < end) {
		nl = memchr(line, '\n', (size_t)(end - line));
		len = nl != NULL ? (size_t)(nl - line) + 1 : (size_t)(end - line);
		if (seed != 0 && !(len <= 3 && line[0] == '.')) {
			/* Pieces of 1..16 bytes, the line's end last. */
			while (len > 1) {
				seed = seed * 1103515245u + 12345u;
				cut = 1 + (seed >> 16) % 16;
				if (cut >= len)
					break;
				if (msg_feed(&ms, line, cut, &err) != 0)
					abort();	/* no end mid-line */
				line += cut;
				len -= cut;
			}
		}
		if ((rc = msg_feed(&ms, line, len, &err)) == 1)
			return 1;
		if (rc != 0)
			abort();
		line += len;
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf	whole, cut;
	uint32_t	seed = 1;
	size_t		i;
	int		done_whole, done_cut;

	for (i = 0; i < size && i < 8; i++)
		seed = seed * 31 + data[i];
	seed |= 1;
	buf_init(&whole);
	buf_init(&cut);
	done_whole = decode((const char *)data, size, 0, &whole);
	done_cut = decode((const char *)data, size, seed, &cut);
	if (done_whole != done_cut || whole.len != cut.len ||
	    (whole.len > 0 && memcmp(whole.data, cut.data, whole.len) != 0))
		abort();
	buf_free(&whole);
	buf_free(&cut);
	return 0;
}
