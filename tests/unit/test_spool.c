/* test_spool.c -- buffered appends (xio's wbuf) and the spool built on them. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "sink-spool.h"
#include "tap.h"
#include "xio.h"
#include "xmalloc.h"

/* n bytes of a pattern that shows where each byte came from. */
static char *
pattern(size_t n, int seed)
{
	char	*p = xmalloc(n);
	size_t	 i;

	for (i = 0; i < n; i++)
		p[i] = (char)('a' + (i * 7 + (size_t)seed) % 26);
	return p;
}

/* The whole of the spool, read back through spool_pread(). */
static char *
read_back(struct spool *sp, size_t *len)
{
	struct error	 err;
	char		*all;
	ssize_t		 n;

	*len = 0;
	all = xmalloc(sp->w.size + 1);
	while ((n = spool_pread(sp, all + *len, sp->w.size - *len + 1, *len,
	    &err)) > 0)
		*len += (size_t)n;
	return all;
}

static void
test_wbuf(void)
{
	char		 path[] = "/tmp/test_spool.XXXXXX", *data, *back;
	struct wbuf	 w = { 0 };
	size_t		 sizes[] = { 1, 100, WBUF_SIZE - 1, WBUF_SIZE, 3 };
	size_t		 i, off = 0, total = 0;
	int		 fd;

	fd = mkstemp(path);
	ok(fd != -1, "wbuf: a file");
	if (fd == -1)
		return;
	unlink(path);
	for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
		total += sizes[i];
	data = pattern(total, 1);
	wbuf_init(&w, fd, 0);
	for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		ok(wbuf_write(&w, data + off, sizes[i]) == 0,
		    "wbuf: write %zu bytes", sizes[i]);
		off += sizes[i];
	}
	is_int(w.size, total, "wbuf: size counts what is buffered");
	ok(w.len < WBUF_SIZE && w.len > 0, "wbuf: the tail is still "
	    "buffered");
	is_int(lseek(fd, 0, SEEK_END), total - w.len, "wbuf: whole buffers "
	    "went out as they filled");
	ok(wbuf_flush(&w) == 0 && w.len == 0, "wbuf: flush");
	back = xmalloc(total);
	ok(pread(fd, back, total, 0) == (ssize_t)total &&
	    memcmp(back, data, total) == 0, "wbuf: the file holds every byte "
	    "in order");
	wbuf_free(&w);
	close(fd);
	free(back);
	free(data);

	/* A write the file system refuses is an error with errno. */
	if ((fd = open("/dev/full", O_WRONLY)) != -1) {
		wbuf_init(&w, fd, 0);
		ok(wbuf_write(&w, "x", 1) == 0, "wbuf: buffered, not yet "
		    "written");
		errno = 0;
		ok(wbuf_flush(&w) == -1 && errno != 0, "wbuf: a failed write "
		    "is -1 with errno (%s)", strerror(errno));
		wbuf_free(&w);
		close(fd);
	}
}

static void
test_spool(void)
{
	struct spool	 sp;
	struct error	 err;
	char		*data, *back;
	size_t		 len, n = 3 * WBUF_SIZE + 17;

	error_clear(&err);
	ok(spool_init(&sp, &err) == 0, "spool: created");
	data = pattern(n, 2);
	ok(spool_write(&sp, data, n, &err) == 0 && spool_flush(&sp, &err) == 0,
	    "spool: %zu bytes written", n);
	back = read_back(&sp, &len);
	ok(len == n && memcmp(back, data, n) == 0, "spool: read back whole");
	free(back);

	/* Truncating inside the buffer and inside what was written. */
	ok(spool_write(&sp, "tail", 4, &err) == 0 &&
	    spool_truncate(&sp, n + 2, &err) == 0 && sp.w.size == n + 2,
	    "spool: truncated inside the buffer");
	ok(spool_flush(&sp, &err) == 0, "spool: flushed");
	back = read_back(&sp, &len);
	ok(len == n + 2 && memcmp(back + n, "ta", 2) == 0,
	    "spool: only the bytes kept are there");
	free(back);
	ok(spool_truncate(&sp, 10, &err) == 0 && sp.w.size == 10 &&
	    spool_write(&sp, "XY", 2, &err) == 0 &&
	    spool_flush(&sp, &err) == 0, "spool: truncated into the file, "
	    "then written");
	back = read_back(&sp, &len);
	ok(len == 12 && memcmp(back, data, 10) == 0 &&
	    memcmp(back + 10, "XY", 2) == 0, "spool: the write follows the "
	    "cut");
	free(back);
	ok(spool_reset(&sp, &err) == 0 && sp.w.size == 0, "spool: reset");
	back = read_back(&sp, &len);
	is_int(len, 0, "spool: empty after reset");
	free(back);
	spool_free(&sp);
	free(data);
}

/* spool_read_crlf() in pieces of every size from 1 to 9: LF as CR LF. */
static void
test_crlf(void)
{
	const char		 msg[] = "a\n\nbc\r\n.\nd";
	const char		 want[] = "a\r\n\r\nbc\r\r\n.\r\nd";
	struct spool		 sp;
	struct spool_crlf	 c;
	struct error		 err;
	char			 out[64];
	size_t			 piece, o;
	ssize_t			 n;

	ok(spool_init(&sp, &err) == 0, "crlf: a spool");
	ok(spool_write(&sp, msg, strlen(msg), &err) == 0 &&
	    spool_flush(&sp, &err) == 0, "crlf: written");
	for (piece = 1; piece <= 9; piece++) {
		memset(&c, 0, sizeof c);
		o = 0;
		while ((n = spool_read_crlf(&sp, &c, out + o, piece, &err)) > 0 &&
		    o + (size_t)n + piece < sizeof out)
			o += (size_t)n;
		if (n > 0)
			o += (size_t)n;
		ok(n == 0 && o == strlen(want) && memcmp(out, want, o) == 0,
		    "crlf: read %zu bytes at a time", piece);
	}
	spool_free(&sp);
}

int
main(void)
{
	test_wbuf();
	test_spool();
	test_crlf();
	return tap_done();
}
