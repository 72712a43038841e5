/*
 * fuzz_mboxrd.c -- mboxrd quoting round trip: any message, quoted whole
 * and in pieces (cut where the first bytes say), must quote the same,
 * have no line starting "From ", and read back (one '>' off each line
 * matching ^>+From ) byte for byte.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mboxrd.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
collect(void *arg, const char *p, size_t n, struct error *err)
{
	(void)err;
	buf_add(arg, p, n);
	return 0;
}

static void
quote(const char *p, size_t n, size_t step, struct buf *b)
{
	struct mboxrd	q;
	struct error	err;
	size_t		off, k;

	error_clear(&err);
	mboxrd_init(&q, collect, b);
	for (off = 0; off < n; off += k) {
		k = step == 0 || step > n - off ? n - off : step;
		mboxrd_quote(&q, p + off, k, &err);
	}
	mboxrd_end(&q, &err);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*p = (const char *)data, *line, *nl, *end;
	struct buf	 whole, parts, back;
	size_t		 step, g;

	if (size < 1)
		return 0;
	step = data[0] % 17;
	p++;
	size--;
	buf_init(&whole);
	buf_init(&parts);
	buf_init(&back);
	quote(p, size, 0, &whole);
	quote(p, size, step, &parts);
	if (whole.len != parts.len || (whole.len > 0 &&
	    memcmp(whole.data, parts.data, whole.len) != 0))
		abort();
	/* Empty buffers may have no data at all: give them some. */
	buf_add(&whole, "", 0);
	buf_add(&back, "", 0);
	if (whole.len >= 5 && memcmp(whole.data, "From ", 5) == 0)
		abort();
	if (whole.len > 0 && memmem(whole.data, whole.len, "\nFrom ", 6))
		abort();
	end = whole.data + whole.len;
	for (line = whole.data; line != NULL && line < end; ) {
		nl = memchr(line, '\n', (size_t)(end - line));
		for (g = 0; line + g < end && line[g] == '>'; g++)
			;
		if (g > 0 && (size_t)(end - line) >= g + 5 &&
		    memcmp(line + g, "From ", 5) == 0)
			line++;
		buf_add(&back, line, (size_t)((nl != NULL ? nl + 1 : end) -
		    line));
		line = nl != NULL ? nl + 1 : NULL;
	}
	if (back.len != size || (size > 0 && memcmp(back.data, p, size) != 0))
		abort();
	buf_free(&whole);
	buf_free(&parts);
	buf_free(&back);
	return 0;
}
