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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "fnv.h"
#include "sink-mbox-journal.h"
#include "xio.h"
#include "xmalloc.h"

/* Tag, two offsets, the digest, skip, the head, the check, spaces. */
#define JOURNAL_LINE_MAX	(SINK_TAG_LEN + 2 * JOURNAL_DIGEST_LEN + \
	2 * JOURNAL_HEAD_MAX + 100)
#define JOURNAL_CHECK_LEN	16	/* hex digits of the FNV-1a hash */
#define JOURNAL_FIELDS		7

static size_t	format_line(char *, size_t, const struct journal_entry *);
static void	add_hex(char *, size_t, size_t *, const unsigned char *,
		    size_t);
static int	copy_tail(FILE *, int, const char *, struct error *);
static size_t	split(char *, char **, size_t);
static int	parse_hex(const char *, unsigned char *, size_t);
static int	parse_off(const char *, off_t *);
static enum journal_line parse_fields(char **, size_t,
		    struct journal_entry *);

static void
add_hex(char *line, size_t size, size_t *n, const unsigned char *p,
    size_t len)
{
	size_t	i;

	for (i = 0; i < len && *n < size; i++)
		*n += (size_t)snprintf(line + *n, size - *n, "%02x", p[i]);
}

/* One journal line for e, ended by a newline, at line; its length. */
static size_t
format_line(char *line, size_t size, const struct journal_entry *e)
{
	size_t	n;

	n = (size_t)snprintf(line, size, "%s %jd %jd ", e->tag,
	    (intmax_t)e->offset, (intmax_t)e->length);
	add_hex(line, size, &n, e->digest, JOURNAL_DIGEST_LEN);
	n += (size_t)snprintf(line + n, size - n, " %jd ", (intmax_t)e->skip);
	add_hex(line, size, &n, e->head, e->headlen);
	n += (size_t)snprintf(line + n, size - n, " %016" PRIx64 "\n",
	    fnv1a(line, n));
	return n;
}

int
journal_add(const char *path, const struct journal_entry *e, size_t n,
    struct error *err)
{
	struct stat	 st;
	struct buf	 b;
	char		*line;
	char		 last = '\n';
	size_t		 i;
	int		 fd, rc = -1;

	buf_init(&b);
	line = xmalloc(JOURNAL_LINE_MAX);
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
		buf_add(&b, line, format_line(line, JOURNAL_LINE_MAX, &e[i]));
	if (xwrite_all(fd, b.data, b.len) == -1 || fsync(fd) == -1)
		goto fail;
	rc = 0;
	goto out;

fail:
	error_set(err, EX_IOERR, "cannot write the delivery journal %s: %s",
	    path, strerror(errno));
out:
	if (fd != -1)
		close(fd);
	free(line);
	buf_free(&b);
	return rc;
}

void
journal_done(const char *path)
{
	int	fd;

	if ((fd = open(path, O_WRONLY | O_APPEND | O_NONBLOCK | O_CLOEXEC)) ==
	    -1)
		return;
	(void)xwrite_all(fd, "done\n", 5);
	close(fd);
}

/* Split line at single spaces into at most max fields; their number (max
 * + 1 when there are more). */
static size_t
split(char *line, char **f, size_t max)
{
	size_t	n = 0;
	char	*p = line;

	for (;;) {
		if (n == max)
			return max + 1;
		f[n++] = p;
		if ((p = strchr(p, ' ')) == NULL)
			return n;
		*p++ = '\0';
	}
}

/* Exactly 2 * len lower-case hex digits into p. */
static int
parse_hex(const char *s, unsigned char *p, size_t len)
{
	static const char	 digits[] = "0123456789abcdef";
	const char		*hi, *lo;
	size_t			 i;

	if (strlen(s) != 2 * len)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[2 * i] == '\0' || s[2 * i + 1] == '\0' ||
		    (hi = strchr(digits, s[2 * i])) == NULL ||
		    (lo = strchr(digits, s[2 * i + 1])) == NULL)
			return -1;
		p[i] = (unsigned char)((hi - digits) << 4 | (lo - digits));
	}
	return 0;
}

/* A decimal offset, digits only, no overflow. */
static int
parse_off(const char *s, off_t *v)
{
	intmax_t	x = 0;

	if (*s == '\0' || strlen(s) > 18)
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		x = x * 10 + (*s - '0');
	}
	*v = (off_t)x;
	return 0;
}

/* The fields of a whole line: tag, offset, length, digest[, skip[, head]]. */
static enum journal_line
parse_fields(char **f, size_t n, struct journal_entry *e)
{
	size_t	taglen = strlen(f[0]), hexlen;

	e->skip = 0;
	e->headlen = 0;
	if ((strcmp(f[0], "-") != 0 && taglen != SINK_TAG_LEN) ||
	    parse_off(f[1], &e->offset) == -1 ||
	    parse_off(f[2], &e->length) == -1 || e->length == 0 ||
	    parse_hex(f[3], e->digest, JOURNAL_DIGEST_LEN) == -1 ||
	    (n > 4 && parse_off(f[4], &e->skip) == -1) ||
	    e->skip >= e->length)
		return JOURNAL_DAMAGED;
	if (n > 5) {
		hexlen = strlen(f[5]) / 2;
		/* The head is the separator, the From_ line and the start of
		 * the message: never shorter than what it leaves out. */
		if (hexlen > JOURNAL_HEAD_MAX || (off_t)hexlen < e->skip ||
		    (off_t)hexlen > e->length ||
		    parse_hex(f[5], e->head, hexlen) == -1)
			return JOURNAL_DAMAGED;
		e->headlen = hexlen;
	}
	memcpy(e->tag, f[0], taglen + 1);
	return n > 5 ? JOURNAL_OK : JOURNAL_OLD;
}

enum journal_line
journal_parse_line(const char *line, struct journal_entry *e)
{
	char		*copy, *f[JOURNAL_FIELDS + 1];
	size_t		 len = strcspn(line, "\n"), n, body;
	unsigned char	 check[8];
	uint64_t	 want = 0;
	enum journal_line rc = JOURNAL_TORN;
	int		 i;

	if (len > JOURNAL_LINE_MAX)
		return JOURNAL_DAMAGED;
	memset(e, 0, sizeof *e);
	if (len == 4 && memcmp(line, "done", 4) == 0) {
		e->done = 1;
		return JOURNAL_DONE;
	}
	copy = xmalloc(len + 1);
	memcpy(copy, line, len);
	copy[len] = '\0';
	n = split(copy, f, JOURNAL_FIELDS);
	if (n > JOURNAL_FIELDS)
		rc = JOURNAL_DAMAGED;
	else if (n == JOURNAL_FIELDS) {
		if (strlen(f[6]) < 2 * sizeof check)
			goto out;	/* cut short inside <check> */
		body = (size_t)(f[6] - copy) - 1;
		if (parse_hex(f[6], check, sizeof check) == -1)
			rc = JOURNAL_DAMAGED;
		else {
			for (i = 0; i < 8; i++)
				want = want << 8 | check[i];
			rc = want != fnv1a(line, body) ? JOURNAL_DAMAGED :
			    parse_fields(f, 6, e);
		}
		if (rc == JOURNAL_OLD)
			rc = JOURNAL_DAMAGED;
	} else if (n == 4 || n == 5) {
		/* An older line, or a current one cut short: either way, it
		 * proves no partial block and records only a digest match. */
		rc = parse_fields(f, n, e);
		if (rc == JOURNAL_DAMAGED)
			rc = JOURNAL_TORN;
	}
out:
	free(copy);
	return rc;
}

int
journal_read(const char *path, struct journal_entry **e, size_t *n,
    struct error *err)
{
	struct journal_entry	 cur;
	enum journal_line	 kind;
	FILE			*f;
	char			*line = NULL;
	size_t			 cap = 0, have = 0, lineno = 0;
	struct stat		 st;
	int			 fd, rc = -1;

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
		lineno++;
		if ((kind = journal_parse_line(line, &cur)) == JOURNAL_DAMAGED) {
			error_set(err, EX_DATAERR, "the delivery journal %s is "
			    "damaged at line %zu: nothing was removed; check that "
			    "the mbox ends with whole messages, then move the "
			    "journal away", path, lineno);
			goto out;
		}
		if (kind == JOURNAL_TORN)
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
		goto out;
	}
	rc = 0;
out:
	if (rc == -1) {
		free(*e);
		*e = NULL;
		*n = 0;
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

		if (rc == 0 && xwrite_all(fd, l, strlen(l)) == -1) {
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
