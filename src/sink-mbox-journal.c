/*
 * sink-mbox-journal.c -- MBOX.popfetch-journal: see sink-mbox-journal.h.
 *
 * The journal is shared by every account delivering into the mbox; the
 * tags keep their entries apart.  An entry is needed only until the UID
 * state records its message, which happens within the same run unless
 * that run is cut short, so keeping the last JOURNAL_KEEP lines is plenty
 * (see docs/exactly-once.md for the limit).
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "sink-mbox-journal.h"
#include "xmalloc.h"

/* Tag, two offsets, the digest, skip and the spaces between. */
#define JOURNAL_LINE_MAX	(SINK_TAG_LEN + 2 * JOURNAL_DIGEST_LEN + 80)

static int	parse_line(const char *, struct journal_entry *);
static size_t	format_line(char *, size_t, const struct journal_entry *);
static int	write_all(int, const char *, size_t);
static int	copy_tail(FILE *, int, const char *, struct error *);

static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t	w;

	while (n > 0) {
		if ((w = write(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* One journal line for e, ended by a newline, at line; its length. */
static size_t
format_line(char *line, size_t size, const struct journal_entry *e)
{
	size_t	i, n;

	n = (size_t)snprintf(line, size, "%s %jd %jd ", e->tag,
	    (intmax_t)e->offset, (intmax_t)e->length);
	for (i = 0; i < JOURNAL_DIGEST_LEN; i++)
		n += (size_t)snprintf(line + n, size - n, "%02x",
		    e->digest[i]);
	n += (size_t)snprintf(line + n, size - n, " %jd\n",
	    (intmax_t)e->skip);
	return n;
}

int
journal_add(const char *path, const struct journal_entry *e, size_t n,
    struct error *err)
{
	struct stat	 st;
	struct buf	 b;
	char		 line[JOURNAL_LINE_MAX];
	char		 last = '\n';
	size_t		 i;
	int		 fd, rc = -1;

	buf_init(&b);
	/* O_NONBLOCK + S_ISREG: a FIFO planted here is refused, not waited on. */
	if ((fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_NONBLOCK |
	    O_CLOEXEC, 0600)) == -1)
		goto fail;
	if (fstat(fd, &st) == -1)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		goto fail;
	}
	/* A line cut short by a crash must not swallow this one. */
	if (st.st_size > 0 && pread(fd, &last, 1, st.st_size - 1) != 1)
		goto fail;
	if (last != '\n')
		buf_add(&b, "\n", 1);
	for (i = 0; i < n; i++)
		buf_add(&b, line, format_line(line, sizeof line, &e[i]));
	if (write_all(fd, b.data, b.len) == -1 || fsync(fd) == -1)
		goto fail;
	rc = 0;
	goto out;

fail:
	error_set(err, EX_IOERR, "cannot write the delivery journal %s: %s",
	    path, strerror(errno));
out:
	if (fd != -1)
		close(fd);
	buf_free(&b);
	return rc;
}

/* 0 for a well-formed line, -1 otherwise. */
static int
parse_line(const char *line, struct journal_entry *e)
{
	char		tag[SINK_TAG_LEN + 2], hex[2 * JOURNAL_DIGEST_LEN + 2];
	intmax_t	off, len, skip = 0;
	unsigned int	b;
	size_t		i;
	int		end = 0, more = 0;

	if (sscanf(line, "%17s %jd %jd %65s%n", tag, &off, &len, hex,
	    &end) != 4)
		return -1;
	/* The fifth field is optional: older lines have none. */
	if (line[end] == ' ' && (sscanf(line + end, " %jd%n", &skip,
	    &more) != 1 || skip < 0))
		return -1;
	end += more;
	if (line[end] != '\n' && line[end] != '\0')
		return -1;
	if ((strcmp(tag, "-") != 0 && strlen(tag) != SINK_TAG_LEN) ||
	    strlen(hex) != 2 * JOURNAL_DIGEST_LEN || off < 0 || len <= 0 ||
	    skip >= len)
		return -1;
	for (i = 0; i < JOURNAL_DIGEST_LEN; i++) {
		if (sscanf(hex + 2 * i, "%2x", &b) != 1)
			return -1;
		e->digest[i] = (unsigned char)b;
	}
	memcpy(e->tag, tag, strlen(tag) + 1);
	e->offset = (off_t)off;
	e->length = (off_t)len;
	e->skip = (off_t)skip;
	return 0;
}

int
journal_read(const char *path, struct journal_entry **e, size_t *n,
    struct error *err)
{
	struct journal_entry	 cur;
	FILE			*f;
	char			*line = NULL;
	size_t			 cap = 0, have = 0;
	struct stat		 st;
	int			 fd, rc = 0;

	*e = NULL;
	*n = 0;
	/* O_NONBLOCK + S_ISREG: a FIFO planted here is refused, not waited on. */
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return 0;
		error_set(err, EX_IOERR, "cannot read the delivery journal "
		    "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (f = fdopen(fd, "r")) == NULL) {
		error_set(err, EX_DATAERR, "the delivery journal %s is not a "
		    "regular file; move it away", path);
		close(fd);
		return -1;
	}
	while (getline(&line, &cap, f) != -1) {
		if (parse_line(line, &cur) == -1)
			continue;
		if (*n == have) {
			have = have == 0 ? 64 : have * 2;
			*e = xreallocarray(*e, have, sizeof **e);
		}
		(*e)[(*n)++] = cur;
	}
	if (ferror(f)) {
		error_set(err, EX_IOERR, "cannot read the delivery journal "
		    "%s: %s", path, strerror(errno));
		free(*e);
		*e = NULL;
		*n = 0;
		rc = -1;
	}
	free(line);
	fclose(f);
	return rc;
}

/* The last JOURNAL_KEEP lines of f into fd. */
static int
copy_tail(FILE *f, int fd, const char *tmp, struct error *err)
{
	char	**ring;
	char	 *line = NULL;
	size_t	  cap = 0, n = 0, i;
	ssize_t	  len;
	int	  rc = 0;

	ring = xcalloc(JOURNAL_KEEP, sizeof *ring);
	while ((len = getline(&line, &cap, f)) != -1) {
		free(ring[n % JOURNAL_KEEP]);
		ring[n % JOURNAL_KEEP] = xstrdup(line);
		n++;
	}
	for (i = n > JOURNAL_KEEP ? n - JOURNAL_KEEP : 0; i < n; i++) {
		const char *l = ring[i % JOURNAL_KEEP];

		if (rc == 0 && write_all(fd, l, strlen(l)) == -1) {
			error_set(err, EX_IOERR, "cannot write %s: %s", tmp,
			    strerror(errno));
			rc = -1;
		}
	}
	for (i = 0; i < JOURNAL_KEEP; i++)
		free(ring[i]);
	free(ring);
	free(line);
	return rc;
}

int
journal_trim(const char *path, struct error *err)
{
	struct stat	 st;
	FILE		*f;
	char		*tmp;
	int		 fd, rc = -1;

	if (stat(path, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size <= JOURNAL_TRIM_SIZE)
		return 0;
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	xasprintf(&tmp, "%s.tmp", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1) {
		error_set(err, EX_IOERR, "cannot create %s: %s", tmp,
		    strerror(errno));
		goto out;
	}
	if (copy_tail(f, fd, tmp, err) == -1)
		goto out;
	if (fsync(fd) == -1 || rename(tmp, path) == -1) {
		error_set(err, EX_IOERR, "cannot replace %s: %s", path,
		    strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	if (rc == -1)
		(void)unlink(tmp);
	fclose(f);
	free(tmp);
	return rc;
}
