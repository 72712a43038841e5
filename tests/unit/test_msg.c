/* test_msg.c -- the multi-line message stream decoder. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "msg.h"
#include "tap.h"

static int
collect(void *arg, const char *p, size_t n, struct error *err)
{
	(void)err;
	buf_add(arg, p, n);
	return 0;
}

static int
failing(void *arg, const char *p, size_t n, struct error *err)
{
	(void)arg; (void)p; (void)n;
	error_set(err, EX_IOERR, "disk full");
	return -1;
}

/*
 * Feed pieces as the transport would give them: split at every "\n", and
 * additionally cut lines longer than chunk bytes into pieces, as
 * transport_getline() does at TRANSPORT_CHUNK_MAX.  Returns the last rc.
 */
static int
run(const char *wire, size_t chunk, struct buf *out)
{
	struct msg_stream	ms;
	struct error		err;
	const char		*p = wire, *end = wire + strlen(wire);
	int			rc = 0;

	error_clear(&err);
	buf_reset(out);
	msg_init(&ms, collect, out);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl != NULL ? (size_t)(nl - p) + 1 : (size_t)(end - p);

		if (len > chunk)
			len = chunk;
		rc = msg_feed(&ms, p, len, &err);
		p += len;
		if (rc != 0)
			break;
	}
	return rc;
}

static void
check(const char *name, const char *wire, const char *want)
{
	struct buf	out;
	size_t		chunks[] = { 100000, 3, 4, 5, 7 };
	size_t		i;

	buf_init(&out);
	for (i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
		int rc = run(wire, chunks[i], &out);

		ok(rc == 1, "%s: terminator found (chunk %zu)", name, chunks[i]);
		is_str(out.data != NULL ? out.data : "", want,
		    "%s: decoded (chunk %zu)", name, chunks[i]);
	}
	buf_free(&out);
}

int
main(void)
{
	struct msg_stream	ms;
	struct error		err;
	struct buf		out;

	check("simple", "a: b\r\n\r\nbody\r\n.\r\n", "a: b\n\nbody\n");
	check("empty", ".\r\n", "");
	check("dot-stuffed", "..\r\n...x\r\n.y\r\n.\r\n", ".\n..x\ny\n");
	/* Only CRLF "." CRLF ends a message; a bare LF is data in a line. */
	check("bare-LF dot line is data", "line B\n.\nline C\r\nD\r\n.\r\n",
	    "line B\n.\nline C\nD\n");
	check("dot CRLF after a bare LF is data", "a\n.\r\nb\r\n.\r\n",
	    "a\n.\nb\n");
	check("no stuffing after a bare LF", "a\n..\r\n.\r\n", "a\n..\n");
	check("bare LF lines", "a\nb\n\r\n.\r\n", "a\nb\n\n");
	check("bare CR is data", "a\rb\r\nc\r\r\n.\r\n", "a\rb\nc\r\n");
	check("From line untouched", "From x\r\n>From y\r\n.\r\n",
	    "From x\n>From y\n");
	check("8-bit", "\xe9t\xe9\r\n\x80\xff\r\n.\r\n", "\xe9t\xe9\n\x80\xff\n");
	check("dot not at line start", "a.\r\n.\r\n", "a.\n");
	check("dot-space line", ". \r\n.\r\n", " \n");

	/* A piece cut right after a CR, the LF coming alone. */
	buf_init(&out);
	error_clear(&err);
	msg_init(&ms, collect, &out);
	ok(msg_feed(&ms, "abc\r", 4, &err) == 0, "CR at piece end held");
	ok(msg_feed(&ms, "\n", 1, &err) == 0, "LF completes CRLF");
	ok(msg_feed(&ms, "x\r", 2, &err) == 0, "CR at piece end held again");
	ok(msg_feed(&ms, "y\r\n", 3, &err) == 0, "CR followed by data");
	ok(msg_feed(&ms, ".\r\n", 3, &err) == 1, "terminator");
	is_str(out.data, "abc\nx\ry\n", "split CR handled");
	is_int((long long)ms.lines, 2, "line count");

	/* ".\n" never ends the stream, whatever came before. */
	buf_reset(&out);
	error_clear(&err);
	msg_init(&ms, collect, &out);
	ok(msg_feed(&ms, ".\n", 2, &err) == 0, "dot LF at the start is data");
	ok(msg_feed(&ms, "x\r\n", 3, &err) == 0, "line goes on");
	ok(msg_feed(&ms, ".\n", 2, &err) == 0, "dot LF after CRLF is data");
	ok(msg_feed(&ms, ".\r\n", 3, &err) == 0, "dot CRLF after a bare LF is data");
	ok(msg_feed(&ms, ".\r\n", 3, &err) == 1, "dot CRLF after CRLF ends");
	is_str(out.data, "\nx\n\n.\n", "bare-LF dots kept or unstuffed as data");

	/* An output failure stops the stream with the sink's error. */
	error_clear(&err);
	msg_init(&ms, failing, NULL);
	ok(msg_feed(&ms, "x\r\n", 3, &err) == -1, "output failure returned");
	is_int(err.ex, EX_IOERR, "output failure class kept");

	buf_free(&out);
	return tap_done();
}
