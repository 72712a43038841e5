/* sink-spool.c -- a message in an unlinked temporary file; see sink-spool.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "envelope.h"
#include "sink-spool.h"
#include "xmalloc.h"

static const char	*spool_dir(void);
static int		 write_error(struct error *);

static const char *
spool_dir(void)
{
	const char	*d;

	if ((d = getenv("TMPDIR")) != NULL && *d == '/')
		return d;
	return "/tmp";
}

static int
write_error(struct error *err)
{
	error_set(err, EX_IOERR, "cannot write the temporary file in %s: %s",
	    spool_dir(), strerror(errno));
	return -1;
}

int
spool_init(struct spool *sp, struct error *err)
{
	char	*tmpl = NULL;

	memset(sp, 0, sizeof *sp);
	sp->fd = open(spool_dir(), O_RDWR | O_TMPFILE | O_CLOEXEC, 0600);
	if (sp->fd == -1 && (errno == EOPNOTSUPP || errno == EISDIR)) {
		/* No O_TMPFILE on this file system: the classic way. */
		xasprintf(&tmpl, "%s/popfetch.XXXXXX", spool_dir());
		if ((sp->fd = mkostemp(tmpl, O_CLOEXEC)) != -1)
			(void)unlink(tmpl);
	}
	if (sp->fd == -1) {
		error_set(err, EX_CANTCREAT, "cannot create a temporary file "
		    "in %s (set TMPDIR to a writable directory): %s",
		    spool_dir(), strerror(errno));
		free(tmpl);
		return -1;
	}
	free(tmpl);
	wbuf_init(&sp->w, sp->fd, 0);
	return 0;
}

void
spool_free(struct spool *sp)
{
	if (sp->fd != -1)
		close(sp->fd);
	sp->fd = -1;
	wbuf_free(&sp->w);
}

int
spool_reset(struct spool *sp, struct error *err)
{
	wbuf_init(&sp->w, sp->fd, 0);
	if (ftruncate(sp->fd, 0) == -1) {
		error_set(err, EX_IOERR, "cannot empty the temporary file: %s",
		    strerror(errno));
		return -1;
	}
	return 0;
}

int
spool_truncate(struct spool *sp, uint64_t size, struct error *err)
{
	if (wbuf_truncate(&sp->w, size) == -1) {
		error_set(err, EX_IOERR, "cannot truncate the temporary file: "
		    "%s", strerror(errno));
		return -1;
	}
	return 0;
}

int
spool_flush(struct spool *sp, struct error *err)
{
	return wbuf_flush(&sp->w) == -1 ? write_error(err) : 0;
}

int
spool_write(struct spool *sp, const char *p, size_t n, struct error *err)
{
	return wbuf_write(&sp->w, p, n) == -1 ? write_error(err) : 0;
}

ssize_t
spool_pread(struct spool *sp, char *p, size_t n, uint64_t off,
    struct error *err)
{
	ssize_t	r;

	do
		r = pread(sp->fd, p, n, (off_t)off);
	while (r == -1 && errno == EINTR);
	if (r == -1)
		error_set(err, EX_IOERR, "cannot read the temporary file: %s",
		    strerror(errno));
	return r;
}

ssize_t
spool_read_crlf(struct spool *sp, struct spool_crlf *c, char *buf,
    size_t len, struct error *err)
{
	char	in[16384];
	size_t	o = 0, i;
	ssize_t	n;

	while (o < len) {
		/* At most one input byte per output byte: all of it fits. */
		if ((n = spool_pread(sp, in, len - o < sizeof in ? len - o :
		    sizeof in, c->off, err)) == -1)
			return -1;
		if (n == 0)
			break;
		for (i = 0; i < (size_t)n && o < len; i++) {
			if (in[i] == '\n' && !c->cr_sent) {
				buf[o++] = '\r';
				c->cr_sent = 1;
				if (o == len)
					break;
			}
			buf[o++] = in[i];
			c->cr_sent = 0;
		}
		c->off += i;
	}
	return (ssize_t)o;
}

ssize_t
spool_read_at(void *spool, char *p, size_t n, uint64_t off,
    struct error *err)
{
	return spool_pread(spool, p, n, off, err);
}

/* Only the header section is read, and no more than ENVELOPE_HEADER_MAX. */
char *
spool_sender(struct spool *sp, struct error *err)
{
	return spool_sender_at(sp, 0, sp->w.size, 0, err);
}

char *
spool_sender_at(struct spool *sp, uint64_t start, uint64_t size, int utf8,
    struct error *err)
{
	char	*hdr, *s = NULL;
	size_t	 len = 0, want;
	ssize_t	 n;

	want = size < ENVELOPE_HEADER_MAX ? (size_t)size : ENVELOPE_HEADER_MAX;
	hdr = xmalloc(want + 1);
	while (len < want) {
		if ((n = spool_pread(sp, hdr + len, want - len, start + len,
		    err)) == -1)
			goto out;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	hdr[len] = '\0';
	s = utf8 ? envelope_sender_utf8_of(hdr, len, size) :
	    envelope_sender_of(hdr, len, size);
out:
	free(hdr);
	return s;
}

ssize_t
spool_span_read(void *arg, char *buf, size_t len, uint64_t off,
    struct error *err)
{
	struct spool_span	*sp = arg;

	if (off >= sp->len)
		return 0;
	if (len > sp->len - off)
		len = (size_t)(sp->len - off);
	return spool_pread(sp->sp, buf, len, sp->start + off, err);
}
