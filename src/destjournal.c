/* destjournal.c -- a destination's pending journal; see destjournal.h. */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "destjournal.h"
#include "fnv.h"
#include "log.h"
#include "xio.h"
#include "xmalloc.h"

#define DJ_FIELDS	6
#define DJ_CHECK_LEN	16	/* hex digits of the FNV-1a hash */
/* The fields at their longest, the blanks, the newline. */
#define DJ_LINE_MAX	(DESTJOURNAL_TAG_MAX + 20 + \
	2 * DESTJOURNAL_DIGEST_LEN + DESTJOURNAL_DESTID_MAX + \
	DESTJOURNAL_MSGID_MAX + DJ_CHECK_LEN + DJ_FIELDS + 1)

struct destjournal {
	char		*path;
	const char	*who;
	int		 fd;
	int		 need_nl;	/* the file ends inside a line */
	struct dj_entry	*e;		/* read at open, oldest first */
	size_t		 n;
	struct dj_entry	*run;		/* added since, oldest first */
	size_t		 nrun;
};

static int	word_ok(const char *, size_t, int);
static int	entry_ok(const struct dj_entry *);
static size_t	format_line(char *, const struct dj_entry *);
static int	parse_line(char *, size_t, struct dj_entry *);
static void	remember(struct dj_entry *, size_t *, const struct dj_entry *);
static int	open_file(struct destjournal *, struct error *);
static int	load(struct destjournal *, off_t, struct error *);
static void	parse_all(struct destjournal *, char *, size_t, int);
static int	trim(struct destjournal *, struct error *);
static int	append(struct destjournal *, const struct dj_entry *, int,
		    struct error *);

/* At most max bytes of 0x21-0x7e; none only when empty is allowed. */
static int
word_ok(const char *s, size_t max, int empty)
{
	size_t	i;

	for (i = 0; s[i] != '\0'; i++)
		if (i >= max || (unsigned char)s[i] <= 0x20 ||
		    (unsigned char)s[i] >= 0x7f)
			return 0;
	return i > 0 || empty;
}

static int
entry_ok(const struct dj_entry *e)
{
	return word_ok(e->tag, DESTJOURNAL_TAG_MAX, 0) &&
	    word_ok(e->destid, DESTJOURNAL_DESTID_MAX, 1) &&
	    word_ok(e->msgid, DESTJOURNAL_MSGID_MAX, 1);
}

/* The line for e, newline included, into line (DJ_LINE_MAX + 1 bytes). */
static size_t
format_line(char *line, const struct dj_entry *e)
{
	size_t	n, i;

	n = (size_t)snprintf(line, DJ_LINE_MAX + 1, "%s %" PRIu64 " ", e->tag,
	    e->size);
	for (i = 0; i < DESTJOURNAL_DIGEST_LEN; i++)
		n += (size_t)snprintf(line + n, DJ_LINE_MAX + 1 - n, "%02x",
		    e->digest[i]);
	n += (size_t)snprintf(line + n, DJ_LINE_MAX + 1 - n, " %s %s",
	    e->destid[0] != '\0' ? e->destid : "-",
	    e->msgid[0] != '\0' ? e->msgid : "-");
	n += (size_t)snprintf(line + n, DJ_LINE_MAX + 1 - n, " %016" PRIx64
	    "\n", fnv1a(line, n));
	return n;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* One line (len bytes, no newline; modified) into e: 0, or -1. */
static int
parse_line(char *line, size_t len, struct dj_entry *e)
{
	char		*f[DJ_FIELDS], *p, *end, *last;
	size_t		 nf = 0, i;
	uint64_t	 n;

	if (len > DJ_LINE_MAX || memchr(line, '\0', len) != NULL)
		return -1;
	line[len] = '\0';
	if ((last = strrchr(line, ' ')) == NULL ||
	    strlen(last + 1) != DJ_CHECK_LEN ||
	    strspn(last + 1, "0123456789abcdef") != DJ_CHECK_LEN ||
	    strtoull(last + 1, NULL, 16) != fnv1a(line, (size_t)(last - line)))
		return -1;
	for (p = line; nf < DJ_FIELDS && *p != '\0'; nf++) {
		f[nf] = p;
		p += strcspn(p, " ");
		if (*p == ' ')
			*p++ = '\0';
	}
	if (nf != DJ_FIELDS || *p != '\0' || strlen(f[0]) >
	    DESTJOURNAL_TAG_MAX || strlen(f[2]) != 2 * DESTJOURNAL_DIGEST_LEN ||
	    strlen(f[3]) > DESTJOURNAL_DESTID_MAX ||
	    strlen(f[4]) > DESTJOURNAL_MSGID_MAX)
		return -1;
	memset(e, 0, sizeof *e);
	if (f[1][0] < '0' || f[1][0] > '9')
		return -1;
	errno = 0;
	n = strtoull(f[1], &end, 10);
	if (*end != '\0' || errno != 0)
		return -1;
	e->size = n;
	for (i = 0; i < DESTJOURNAL_DIGEST_LEN; i++) {
		if (hexval(f[2][2 * i]) == -1 || hexval(f[2][2 * i + 1]) == -1)
			return -1;
		e->digest[i] = (unsigned char)(hexval(f[2][2 * i]) << 4 |
		    hexval(f[2][2 * i + 1]));
	}
	snprintf(e->tag, sizeof e->tag, "%s", f[0]);
	snprintf(e->destid, sizeof e->destid, "%s",
	    strcmp(f[3], "-") == 0 ? "" : f[3]);
	snprintf(e->msgid, sizeof e->msgid, "%s",
	    strcmp(f[4], "-") == 0 ? "" : f[4]);
	return entry_ok(e) ? 0 : -1;
}

/*
 * Into memory, newest last; the oldest half goes when it is full.  What
 * was read at open and what this run added are kept apart, so that a
 * long run cannot push out the entries of the run before it.
 */
static void
remember(struct dj_entry *a, size_t *n, const struct dj_entry *e)
{
	size_t	half = DESTJOURNAL_KEEP / 2;

	if (*n == DESTJOURNAL_KEEP) {
		memmove(a, a + half, (*n - half) * sizeof *a);
		*n -= half;
	}
	a[(*n)++] = *e;
}

/* Open or create the file, then read it. */
static int
open_file(struct destjournal *j, struct error *err)
{
	struct stat	st;
	int		created = 1;

	if (xmkdir_parents(j->path, "the delivery journal", err) == -1)
		return -1;
	j->fd = open(j->path, O_RDWR | O_APPEND | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0600);
	if (j->fd == -1 && errno == EEXIST) {
		created = 0;
		j->fd = open(j->path, O_RDWR | O_APPEND | O_NOFOLLOW |
		    O_CLOEXEC);
	}
	if (j->fd == -1 || fstat(j->fd, &st) == -1) {
		error_set(err, EX_IOERR, "cannot open the delivery journal "
		    "%s: %s", j->path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		error_set(err, EX_IOERR, "the delivery journal %s is not a "
		    "regular file", j->path);
		return -1;
	}
	if (created && xsync_parent(j->path) == -1) {
		error_set(err, EX_IOERR, "cannot sync the directory of %s: %s",
		    j->path, strerror(errno));
		return -1;
	}
	return load(j, st.st_size, err);
}

/* Read the last DESTJOURNAL_READ_MAX bytes of the file (size bytes). */
static int
load(struct destjournal *j, off_t size, struct error *err)
{
	char		*buf;
	off_t		 from;
	ssize_t		 n;
	size_t		 len = 0;

	from = size > DESTJOURNAL_READ_MAX ? size - DESTJOURNAL_READ_MAX : 0;
	buf = xmalloc((size_t)(size - from) + 1);
	while (len < (size_t)(size - from)) {
		n = pread(j->fd, buf + len, (size_t)(size - from) - len,
		    from + (off_t)len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			error_set(err, EX_IOERR, "cannot read the delivery "
			    "journal %s: %s", j->path, strerror(errno));
			free(buf);
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	parse_all(j, buf, len, from > 0);
	free(buf);
	if (size > DESTJOURNAL_TRIM_SIZE)
		return trim(j, err);
	return 0;
}

/*
 * The lines of buf; a first line that may have been cut by where reading
 * began (partial) is not one.  A last line without its newline is a write
 * a crash cut short: no warning, but the next append starts a new line.
 */
static void
parse_all(struct destjournal *j, char *buf, size_t len, int partial)
{
	struct dj_entry	 e;
	char		*p = buf, *end = buf + len, *nl;
	size_t		 lineno = 0, bad = 0, firstbad = 0;

	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL) {
			j->need_nl = 1;
			break;
		}
		lineno++;
		if (partial && lineno == 1)
			continue;
		if (parse_line(p, (size_t)(nl - p), &e) == 0)
			remember(j->e, &j->n, &e);
		else if (bad++ == 0)
			firstbad = lineno;
	}
	if (bad > 0)
		log_warn(j->who, "the delivery journal %s has %zu damaged "
		    "line%s (the first: line %zu%s); skipped: a message of "
		    "theirs, if any, is sent again", j->path, bad,
		    bad == 1 ? "" : "s", firstbad, partial ? " of its end" : "");
}

/* Rewrite the file with the entries in memory: temp, fsync, rename. */
static int
trim(struct destjournal *j, struct error *err)
{
	char	*tmp, line[DJ_LINE_MAX + 1];
	size_t	 i, n;
	int	 fd, rc = -1;

	xasprintf(&tmp, "%s.tmp", j->path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1)
		goto fail;
	for (i = 0; i < j->n; i++) {
		n = format_line(line, &j->e[i]);
		if (xwrite_all(fd, line, n) == -1)
			goto fail;
	}
	if (fsync(fd) == -1 || close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, j->path) == -1 || xsync_parent(j->path) == -1)
		goto fail;
	close(j->fd);
	j->need_nl = 0;
	j->fd = open(j->path, O_RDWR | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
	if (j->fd == -1)
		goto fail;
	rc = 0;
	goto out;
fail:
	error_set(err, EX_IOERR, "cannot trim the delivery journal %s: %s",
	    j->path, strerror(errno));
	if (fd != -1)
		close(fd);
	(void)unlink(tmp);
out:
	free(tmp);
	return rc;
}

struct destjournal *
destjournal_open(const char *path, const char *who, struct error *err)
{
	struct destjournal	*j;

	j = xcalloc(1, sizeof *j);
	j->path = xstrdup(path);
	j->who = who;
	j->fd = -1;
	j->e = xreallocarray(NULL, DESTJOURNAL_KEEP, sizeof *j->e);
	if (open_file(j, err) == -1) {
		destjournal_free(j);
		return NULL;
	}
	return j;
}

static int
append(struct destjournal *j, const struct dj_entry *e, int sync,
    struct error *err)
{
	char	line[DJ_LINE_MAX + 2];
	size_t	n = 0;

	if (!entry_ok(e)) {
		error_set(err, EX_SOFTWARE, "a delivery journal entry with a "
		    "bad tag, Message-ID or destination id");
		return -1;
	}
	/* After a line a crash cut short, a new line of our own. */
	if (j->need_nl)
		line[n++] = '\n';
	n += format_line(line + n, e);
	if (xwrite_all(j->fd, line, n) == -1 || (sync && fsync(j->fd) == -1)) {
		/* Part of the line may be there. */
		j->need_nl = 1;
		error_set(err, EX_IOERR, "cannot write the delivery journal "
		    "%s: %s", j->path, strerror(errno));
		return -1;
	}
	j->need_nl = 0;
	if (j->run == NULL)
		j->run = xreallocarray(NULL, DESTJOURNAL_KEEP, sizeof *j->run);
	remember(j->run, &j->nrun, e);
	return 0;
}

int
destjournal_add(struct destjournal *j, const struct dj_entry *e,
    struct error *err)
{
	return append(j, e, 1, err);
}

int
destjournal_note(struct destjournal *j, const struct dj_entry *e,
    struct error *err)
{
	return append(j, e, 0, err);
}

int
destjournal_sync(struct destjournal *j, struct error *err)
{
	if (fsync(j->fd) == -1) {
		error_set(err, EX_IOERR, "cannot sync the delivery journal "
		    "%s: %s", j->path, strerror(errno));
		return -1;
	}
	return 0;
}

const struct dj_entry *
destjournal_lookup(const struct destjournal *j, const char *tag)
{
	size_t	i;

	if (j == NULL || tag[0] == '\0')
		return NULL;
	for (i = j->nrun; i > 0; i--)
		if (strcmp(j->run[i - 1].tag, tag) == 0)
			return &j->run[i - 1];
	for (i = j->n; i > 0; i--)
		if (strcmp(j->e[i - 1].tag, tag) == 0)
			return &j->e[i - 1];
	return NULL;
}

size_t
destjournal_count(const struct destjournal *j)
{
	return j->n + j->nrun;
}

void
destjournal_free(struct destjournal *j)
{
	if (j == NULL)
		return;
	if (j->fd != -1)
		close(j->fd);
	free(j->e);
	free(j->run);
	free(j->path);
	free(j);
}
