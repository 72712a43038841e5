/* uidstate.c -- the UID state file; see uidstate.h. */
#include "config.h"

#include <sys/cdefs.h>
#include <sys/file.h>
#include <sys/stat.h>
#ifndef __unused			/* tree(3) wants it; glibc lacks it */
#define __unused __attribute__((__unused__))
#endif
#include <sys/tree.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "uid.h"
#include "uidstate.h"
#include "xio.h"
#include "xmalloc.h"

#define UIDSTATE_HEADER		"# popfetch uid state v1\n"
#define PENDING_TAG		"pending "
/*
 * "#refused <runs> <uid>": a comment to the versions before it, which so
 * read a file with such lines as before (the message is tried again).
 */
#define REFUSED_TAG		"#refused "
#define REFUSED_MAX		1000000

struct uident {
	RB_ENTRY(uident)	 link;
	char			*uid;
	time_t			 first;
	unsigned int		 delivered:1;	/* a record line was seen */
	unsigned int		 pending:1;	/* a pending line was seen */
	unsigned int		 live:1;
	unsigned int		 refusals;	/* runs that refused it */
};
RB_HEAD(uidtree, uident);

struct uidstate {
	char		*path;
	int		 lockfd;
	int		 appendfd;	/* -1 until the first record */
	/*
	 * UID lines added since the last sync.  They are kept in memory, not
	 * written, until uidstate_sync: a UID that reached the disk before
	 * its message did (the kernel writes dirty pages when it likes, and
	 * the maildir's syncfs may cover this file too) would make a crash
	 * lose that message.
	 */
	struct buf	 unsynced;
	struct uidtree	 tree;
	struct arena	 uids;		/* every uident's uid: no malloc each */
	size_t		 count;
	uint64_t	 size;		/* of the file, as far as we wrote it */
};

static int	uident_cmp(struct uident *, struct uident *);
RB_PROTOTYPE_STATIC(uidtree, uident, link, uident_cmp)
RB_GENERATE_STATIC(uidtree, uident, link, uident_cmp)

static int	not_regular(int, const char *, struct error *);
static int	take_lock(struct uidstate *, int, struct error *);
static int	load(struct uidstate *, struct error *);
static int	parse(struct uidstate *, char *, size_t, struct error *);
static struct uident *insert(struct uidstate *, const char *, time_t);
static struct uident *find(const struct uidstate *, const char *);
static void	mark_delivered(struct uidstate *, struct uident *);
static int	open_append(struct uidstate *, struct error *);
static int	parse_refused(struct uidstate *, char *);
static int	rewrite_line(struct uident *, struct buf *);

static int
uident_cmp(struct uident *a, struct uident *b)
{
	return strcmp(a->uid, b->uid);
}

/*
 * Whether fd is something other than a regular file (a FIFO, a device, a
 * directory): then err says so, EX_DATAERR, and the run stops before it
 * connects.  Such a file could block a read or write for ever.
 */
static int
not_regular(int fd, const char *path, struct error *err)
{
	struct stat	st;

	if (fstat(fd, &st) == -1) {
		error_set(err, EX_IOERR, "cannot stat %s: %s", path,
		    strerror(errno));
		return 1;
	}
	if (S_ISREG(st.st_mode))
		return 0;
	error_set(err, EX_DATAERR, "%s is not a regular file (%s); remove it "
	    "or point uidls_file elsewhere", path, S_ISFIFO(st.st_mode) ?
	    "a FIFO" : S_ISDIR(st.st_mode) ? "a directory" : "a special file");
	return 1;
}

static int
take_lock(struct uidstate *us, int lock_wait, struct error *err)
{
	char		*lockpath;
	struct timespec	 nap = { 0, 100 * 1000 * 1000 };
	int		 waited;

	xasprintf(&lockpath, "%s.lock", us->path);
	/* O_NONBLOCK: a FIFO put there must not hang the run in open(). */
	us->lockfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NONBLOCK,
	    0600);
	if (us->lockfd == -1) {
		error_set(err, EX_CANTCREAT, "cannot open lock file %s: %s",
		    lockpath, strerror(errno));
		free(lockpath);
		return -1;
	}
	if (not_regular(us->lockfd, lockpath, err)) {
		free(lockpath);
		return -1;
	}
	for (waited = 0; flock(us->lockfd, LOCK_EX | LOCK_NB) == -1;
	    waited++) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			error_set(err, EX_IOERR, "cannot lock %s: %s",
			    lockpath, strerror(errno));
			free(lockpath);
			return -1;
		}
		if (waited >= lock_wait * 10) {
			error_set(err, EX_TEMPFAIL, "another popfetch is "
			    "already running for this account (%s is locked); "
			    "try again later", lockpath);
			free(lockpath);
			return -1;
		}
		nanosleep(&nap, NULL);
	}
	free(lockpath);
	return 0;
}

static struct uident *
find(const struct uidstate *us, const char *uid)
{
	struct uident	key;

	key.uid = (char *)uid;
	return RB_FIND(uidtree, (struct uidtree *)&us->tree, &key);
}

/* The entry for uid, created (neither delivered nor pending) if new. */
static struct uident *
insert(struct uidstate *us, const char *uid, time_t first)
{
	struct uident	*e;

	if ((e = find(us, uid)) != NULL) {
		if (first < e->first)
			e->first = first;
		return e;
	}
	e = xcalloc(1, sizeof *e);
	e->uid = arena_strndup(&us->uids, uid, strlen(uid));
	e->first = first;
	RB_INSERT(uidtree, &us->tree, e);
	return e;
}

/* Count a delivered entry once, however many record lines name it. */
static void
mark_delivered(struct uidstate *us, struct uident *e)
{
	if (!e->delivered)
		us->count++;
	e->delivered = 1;
}

/*
 * Lines are "<epoch> <uid>" (delivered) or "pending <uid>" (a delivery
 * may have started); a last line without "\n" was never finished.
 */
static int
parse(struct uidstate *us, char *data, size_t len, struct error *err)
{
	char		*line = data, *nl, *sp, *end;
	size_t		 lineno = 0;
	long long	 t;

	while ((nl = memchr(line, '\n', len - (size_t)(line - data))) != NULL) {
		*nl = '\0';
		lineno++;
		if (strncmp(line, REFUSED_TAG, strlen(REFUSED_TAG)) == 0) {
			if (strlen(line) != (size_t)(nl - line) ||
			    parse_refused(us, line + strlen(REFUSED_TAG)) == -1)
				goto bad;
			goto next;
		}
		if (line[0] == '#' || line[0] == '\0')
			goto next;
		/* fetch reads mpop's file itself (uidstate-mpop.h). */
		if (line[0] == ' ') {
			error_set(err, EX_DATAERR, "%s:%zu: a UID list in "
			    "mpop's format; a fetch uses such a uidls_file in "
			    "place, nothing can be added to it here", us->path,
			    lineno);
			return -1;
		}
		if (strncmp(line, PENDING_TAG, strlen(PENDING_TAG)) == 0) {
			sp = line + strlen(PENDING_TAG);
			if (!uid_valid(sp, strlen(sp)))
				goto bad;
			insert(us, sp, time(NULL))->pending = 1;
			goto next;
		}
		errno = 0;
		t = strtoll(line, &end, 10);
		sp = end;
		/*
		 * A NUL inside the line would make a UID of its prefix and
		 * so hide another message for good: corruption like any.
		 */
		if (errno != 0 || sp == line || *sp != ' ' || t < 0 ||
		    strlen(line) != (size_t)(nl - line) ||
		    !uid_valid(sp + 1, strlen(sp + 1))) {
bad:
			error_set(err, EX_DATAERR, "%s:%zu: corrupt UID state "
			    "line; fix or remove the line (a removed UID is "
			    "fetched again)", us->path, lineno);
			return -1;
		}
		mark_delivered(us, insert(us, sp + 1, (time_t)t));
next:
		line = nl + 1;
	}
	return 0;
}

/* "<runs> <uid>" after REFUSED_TAG; the last line of a UID counts. */
static int
parse_refused(struct uidstate *us, char *p)
{
	const char	*errstr;
	char		*sp;
	long long	 n;

	if ((sp = strchr(p, ' ')) == NULL || !uid_valid(sp + 1,
	    strlen(sp + 1)))
		return -1;
	*sp = '\0';
	n = strtonum(p, 0, REFUSED_MAX, &errstr);
	if (errstr != NULL || p[strspn(p, "0123456789")] != '\0')
		return -1;
	insert(us, sp + 1, time(NULL))->refusals = (unsigned int)n;
	return 0;
}

static int
load(struct uidstate *us, struct error *err)
{
	struct stat	 st;
	struct buf	 b;
	char		 chunk[65536];
	ssize_t		 n;
	int		 fd, rc;

	fd = open(us->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd == -1) {
		if (errno == ENOENT)
			return 0;
		error_set(err, EX_IOERR, "cannot read UID state %s: %s",
		    us->path, strerror(errno));
		return -1;
	}
	if (not_regular(fd, us->path, err)) {
		close(fd);
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		error_set(err, EX_IOERR, "cannot read UID state %s: %s",
		    us->path, strerror(errno));
		close(fd);
		return -1;
	}
	if (st.st_size > UIDSTATE_FILE_MAX) {
		error_set(err, EX_DATAERR, "UID state %s is larger than %d MiB, "
		    "more than any POP3 mailbox needs; move it away", us->path,
		    UIDSTATE_FILE_MAX / (1024 * 1024));
		close(fd);
		return -1;
	}
	us->size = (uint64_t)st.st_size;
	buf_init(&b);
	while ((n = read(fd, chunk, sizeof chunk)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			error_set(err, EX_IOERR, "cannot read UID state %s: %s",
			    us->path, strerror(errno));
			close(fd);
			buf_free(&b);
			return -1;
		}
		buf_add(&b, chunk, (size_t)n);
	}
	close(fd);
	rc = b.len == 0 ? 0 : parse(us, b.data, b.len, err);
	buf_free(&b);
	return rc;
}

struct uidstate *
uidstate_open(const char *path, int lock_wait, struct error *err)
{
	struct uidstate	*us;

	us = xcalloc(1, sizeof *us);
	us->path = xstrdup(path);
	us->lockfd = us->appendfd = -1;
	buf_init(&us->unsynced);
	RB_INIT(&us->tree);
	if (xmkdir_parents(path, "the UID state", err) == -1 || take_lock(us, lock_wait, err) == -1
	    || load(us, err) == -1) {
		uidstate_close(us);
		return NULL;
	}
	return us;
}

struct uidstate *
uidstate_parse_buffer(const char *name, const char *data, size_t len,
    struct error *err)
{
	struct uidstate	*us;
	char		*copy;
	int		 rc;

	us = xcalloc(1, sizeof *us);
	us->path = xstrdup(name);
	us->lockfd = us->appendfd = -1;
	buf_init(&us->unsynced);
	RB_INIT(&us->tree);
	/* parse() cuts lines in place. */
	copy = xmalloc(len + 1);
	memcpy(copy, data, len);
	copy[len] = '\0';
	rc = parse(us, copy, len, err);
	free(copy);
	if (rc == -1) {
		uidstate_close(us);
		return NULL;
	}
	return us;
}

void
uidstate_close(struct uidstate *us)
{
	struct uident	*e, *next;

	if (us == NULL)
		return;
	RB_FOREACH_SAFE(e, uidtree, &us->tree, next) {
		RB_REMOVE(uidtree, &us->tree, e);
		free(e);
	}
	arena_free(&us->uids);
	if (us->appendfd != -1)
		close(us->appendfd);
	if (us->lockfd != -1)
		close(us->lockfd);	/* releases the flock */
	buf_free(&us->unsynced);
	free(us->path);
	free(us);
}

size_t
uidstate_count(const struct uidstate *us)
{
	return us->count;
}

void
uidstate_foreach(const struct uidstate *us,
    void (*fn)(const char *, void *), void *arg)
{
	struct uident	*e;

	RB_FOREACH(e, uidtree, (struct uidtree *)&us->tree)
		if (e->delivered)
			fn(e->uid, arg);
}

int
uidstate_lookup(const struct uidstate *us, const char *uid, time_t *first)
{
	struct uident	*e;

	if ((e = find(us, uid)) == NULL || !e->delivered)
		return 0;
	if (first != NULL)
		*first = e->first;
	return 1;
}

static int
open_append(struct uidstate *us, struct error *err)
{
	struct stat	st;
	int		created;

	us->appendfd = open(us->path, O_WRONLY | O_APPEND | O_CREAT |
	    O_CLOEXEC | O_NONBLOCK, 0600);
	if (us->appendfd == -1 && errno == ENXIO) {
		/* A FIFO nobody reads: refuse it as load() does. */
		error_set(err, EX_DATAERR, "UID state %s is not a regular "
		    "file; remove it or point uidls_file elsewhere", us->path);
		return -1;
	}
	if (us->appendfd == -1 || fstat(us->appendfd, &st) == -1) {
		error_set(err, EX_IOERR, "cannot write UID state %s: %s",
		    us->path, strerror(errno));
		return -1;
	}
	if (not_regular(us->appendfd, us->path, err))
		return -1;
	created = st.st_size == 0;
	us->size = (uint64_t)st.st_size + (created ? strlen(UIDSTATE_HEADER) :
	    0);
	if (created && (xwrite_all(us->appendfd, UIDSTATE_HEADER,
	    strlen(UIDSTATE_HEADER)) == -1 || fsync(us->appendfd) == -1 ||
	    xsync_parent(us->path) == -1)) {
		error_set(err, EX_IOERR, "cannot write UID state %s: %s",
		    us->path, strerror(errno));
		return -1;
	}
	return 0;
}

int
uidstate_add(struct uidstate *us, const char *uid, time_t when,
    struct error *err)
{
	(void)err;
	if (strlen(uid) > UID_MAX)
		fatalx("UID too long for the state file");
	buf_printf(&us->unsynced, "%lld %s\n", (long long)when, uid);
	mark_delivered(us, insert(us, uid, when));
	return 0;
}

int
uidstate_pending(struct uidstate *us, const char *const *uids, size_t n,
    struct error *err)
{
	size_t	i;

	/* Unlike a record, a pending line may reach the disk early. */
	for (i = 0; i < n; i++) {
		if (strlen(uids[i]) > UID_MAX)
			fatalx("UID too long for the state file");
		buf_printf(&us->unsynced, PENDING_TAG "%s\n", uids[i]);
		insert(us, uids[i], time(NULL))->pending = 1;
	}
	return uidstate_sync(us, err);
}

int
uidstate_is_pending(const struct uidstate *us, const char *uid)
{
	struct uident	*e;

	return (e = find(us, uid)) != NULL && e->pending && !e->delivered;
}

int
uidstate_sync(struct uidstate *us, struct error *err)
{
	if (us->unsynced.len == 0)
		return 0;
	if (us->appendfd == -1 && open_append(us, err) == -1)
		return -1;
	if (xwrite_all(us->appendfd, us->unsynced.data, us->unsynced.len) == -1 ||
	    fsync(us->appendfd) == -1) {
		error_set(err, EX_IOERR, "cannot write UID state %s: %s",
		    us->path, strerror(errno));
		return -1;
	}
	us->size += us->unsynced.len;
	buf_reset(&us->unsynced);
	return 0;
}

unsigned int
uidstate_refusals(const struct uidstate *us, const char *uid)
{
	struct uident	*e;

	if ((e = find(us, uid)) == NULL || e->delivered)
		return 0;
	return e->refusals;
}

int
uidstate_set_refusals(struct uidstate *us, const char *uid,
    unsigned int runs, struct error *err)
{
	char	line[sizeof REFUSED_TAG + 16 + UID_MAX + 2];
	int	n;

	if (strlen(uid) > UID_MAX)
		fatalx("UID too long for the state file");
	if (runs > REFUSED_MAX)
		runs = REFUSED_MAX;
	insert(us, uid, time(NULL))->refusals = runs;
	/*
	 * Its own write, apart from the records waiting in unsynced: those
	 * must not reach the disk before their messages do.
	 */
	n = snprintf(line, sizeof line, REFUSED_TAG "%u %s\n", runs, uid);
	if (us->appendfd == -1 && open_append(us, err) == -1)
		return -1;
	if (xwrite_all(us->appendfd, line, (size_t)n) == -1 ||
	    fsync(us->appendfd) == -1) {
		error_set(err, EX_IOERR, "cannot write UID state %s: %s",
		    us->path, strerror(errno));
		return -1;
	}
	us->size += (uint64_t)n;
	return 0;
}

uint64_t
uidstate_bytes(const struct uidstate *us)
{
	return (us->size > 0 ? us->size : strlen(UIDSTATE_HEADER)) +
	    us->unsynced.len;
}

int
uidstate_record(struct uidstate *us, const char *uid, time_t when,
    struct error *err)
{
	if (uidstate_add(us, uid, when, err) == -1)
		return -1;
	return uidstate_sync(us, err);
}

/*
 * Add to b the line that keeps e, and return 1; 0 when e goes: gone from
 * the server, or a pending entry still open at the end (not delivered).
 * Refusals count until the message is delivered or gone.
 */
static int
rewrite_line(struct uident *e, struct buf *b)
{
	e->pending = 0;
	if (e->live && e->delivered)
		buf_printf(b, "%lld %s\n", (long long)e->first, e->uid);
	else if (e->live && e->refusals > 0)
		buf_printf(b, REFUSED_TAG "%u %s\n", e->refusals, e->uid);
	else
		return 0;
	return 1;
}

int
uidstate_rewrite(struct uidstate *us, const char *const *live, size_t nlive,
    struct error *err)
{
	struct uident	*e, *next, key;
	struct buf	 b;
	char		*tmp;
	size_t		 i;
	uint64_t	 written;
	int		 fd, rc = -1;

	RB_FOREACH(e, uidtree, &us->tree)
		e->live = 0;
	for (i = 0; i < nlive; i++) {
		key.uid = (char *)live[i];
		if ((e = RB_FIND(uidtree, &us->tree, &key)) != NULL)
			e->live = 1;
	}
	/* Written in 64 KiB pieces: a copy of a large state would double it. */
	xasprintf(&tmp, "%s.tmp", us->path);
	buf_init(&b);
	buf_addstr(&b, UIDSTATE_HEADER);
	written = 0;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1)
		goto fail;
	RB_FOREACH_SAFE(e, uidtree, &us->tree, next) {
		if (!rewrite_line(e, &b)) {
			/* Its uid stays in the arena until close. */
			RB_REMOVE(uidtree, &us->tree, e);
			if (e->delivered)
				us->count--;
			free(e);
			continue;
		}
		if (b.len >= 65536) {
			if (xwrite_all(fd, b.data, b.len) == -1)
				goto fail;
			written += b.len;
			buf_reset(&b);
		}
	}
	if (xwrite_all(fd, b.data, b.len) == -1 || fsync(fd) == -1) {
fail:
		error_set(err, EX_IOERR, "cannot write UID state %s: %s",
		    tmp, strerror(errno));
		if (fd != -1)
			close(fd);
		unlink(tmp);
		goto out;
	}
	if (close(fd) == -1 || rename(tmp, us->path) == -1 ||
	    xsync_parent(us->path) == -1) {
		error_set(err, EX_IOERR, "cannot replace UID state %s: %s",
		    us->path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	us->size = written + b.len;
	/* Later records go to the new file, not the replaced one. */
	if (us->appendfd != -1) {
		close(us->appendfd);
		us->appendfd = -1;
	}
	buf_reset(&us->unsynced);
	rc = 0;
out:
	free(tmp);
	buf_free(&b);
	return rc;
}
