/*
 * sink-maildir.c -- delivery into a maildir.
 *
 * A message is written to tmp/<unique>; once its data is on disk it is
 * linked to new/<unique> (link, unlike rename, never replaces an existing
 * file), new/ is fsync'd, and only then is the message durable; tmp/<unique>
 * is removed last.  A crash at any point leaves at most a stray file in
 * tmp/, which maildir readers ignore and clean up, and never a partial
 * file in new/.
 *
 * Group commit: md_stage only finishes writing the file in tmp/; md_sync
 * makes every message staged since the last sync durable at once with one
 * syncfs(2) of the maildir's file system (instead of an fsync per file,
 * each of which would force its own journal commit), then links them all
 * into new/ and fsyncs new/ once.  Three syncs per batch instead of two
 * per message; the price is that syncfs also writes back whatever else is
 * dirty on that file system.
 *
 * When the message has a tag (see sink.h), the name ends in ",U=<tag>"
 * (after the host, like Dovecot's ",S=<size>"; a reader adds ":2,<flags>"
 * behind it when it moves the file to cur/).  md_find looks for that
 * suffix, so a run that was interrupted after the link to new/ and before
 * the UID record can be completed without fetching the message again.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/time.h>

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sink.h"
#include "xio.h"
#include "xmalloc.h"

#define MAILDIR_NAME_MAX	256
#define MAILDIR_LINK_TRIES	100

struct maildir {
	char		*path;
	int		 tmpfd, newfd;		/* directory fds */
	int		 fd;			/* the message in tmp/ */
	char		 name[MAILDIR_NAME_MAX];
	char		 host[128];
	char		 tag[SINK_TAG_LEN + 1];	/* "" for none */
	unsigned long	 seq;			/* Q<n>: unique within the run */
	struct wbuf	 w;			/* buffered writes to fd */
	char		**staged;		/* written to tmp/, not yet durable */
	size_t		 nstaged;
	int		 probe;			/* find only, changing nothing */
	/* md_find's view, from one scan of new/, cur/ and tmp/ per run. */
	int		 scanned;
	char		(*tags)[SINK_TAG_LEN + 1];	/* in new/ or cur/, sorted */
	size_t		 ntags;
	char		**leftovers;		/* tagged names in tmp/ */
	size_t		 nleftovers;
};

static int	md_open(struct sink *, const struct sink_msginfo *,
		    struct error *);
static int	md_write(struct sink *, const char *, size_t, struct error *);
static int	md_commit(struct sink *, struct error *);
static int	md_stage(struct sink *, struct error *);
static int	md_sync(struct sink *, struct error *);
static int	link_new(struct maildir *, char **, struct error *);
static void	drop_staged(struct maildir *);
static void	md_abort(struct sink *);
static void	md_free(struct sink *);
static int	md_flush(struct maildir *, struct error *);
static int	write_error(struct maildir *, struct error *);
static int	make_dir(const char *, struct error *);
static void	make_name(struct maildir *);
static int	md_find(struct sink *, const char *, struct error *);
static int	scan_dir(struct maildir *, const char *, struct error *);
static int	tag_of(const char *, char *);
static int	tag_cmp(const void *, const void *);
static void	tidy_tmp(struct maildir *);
static int	stale_name(const struct maildir *, const char *);

static const struct sink_ops maildir_ops = {
	"maildir", md_open, md_write, md_commit, md_abort, md_free,
	md_stage, md_sync, md_find, NULL
};

/* Create a directory (and missing parents) with mode 0700. */
static int
make_dir(const char *path, struct error *err)
{
	char	*copy, *p;
	int	 rc = 0;

	copy = xstrdup(path);
	for (p = copy + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(copy, 0700) == -1 && errno != EEXIST) {
			error_set(err, EX_CANTCREAT, "cannot create directory "
			    "%s: %s", copy, strerror(errno));
			rc = -1;
			break;
		}
		*p = c;
		if (c == '\0')
			break;
	}
	free(copy);
	return rc;
}

struct sink *
sink_maildir_new(const struct sink_dest *d, struct error *err)
{
	const char	*dir = d->arg;
	int		 probe = d->probe;
	struct maildir	*md;
	struct sink	*s;
	char		*sub = NULL;
	const char	*subs[] = { "tmp", "new", "cur" };
	size_t		 i;
	char		*h;

	md = xcalloc(1, sizeof *md);
	md->path = xstrdup(dir);
	md->tmpfd = md->newfd = md->fd = -1;
	md->probe = probe;
	if (probe) {
		s = xcalloc(1, sizeof *s);
		s->ops = &maildir_ops;
		s->data = md;
		return s;
	}
	for (i = 0; i < 3; i++) {
		free(sub);
		xasprintf(&sub, "%s/%s", dir, subs[i]);
		if (make_dir(sub, err) == -1)
			goto fail;
	}
	free(sub);
	sub = NULL;
	xasprintf(&sub, "%s/tmp", dir);
	md->tmpfd = open(sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(sub);
	xasprintf(&sub, "%s/new", dir);
	md->newfd = open(sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (md->tmpfd == -1 || md->newfd == -1) {
		error_set(err, EX_CANTCREAT, "cannot open maildir %s: %s",
		    dir, strerror(errno));
		goto fail;
	}
	free(sub);

	/* The maildir spec escapes '/' and ':' in the host part. */
	if (gethostname(md->host, sizeof md->host) == -1 || md->host[0] == '\0')
		strlcpy(md->host, "localhost", sizeof md->host);
	md->host[sizeof md->host - 1] = '\0';
	for (h = md->host; *h != '\0'; h++)
		if (*h == '/' || *h == ':')
			*h = '_';
	tidy_tmp(md);

	s = xcalloc(1, sizeof *s);
	s->ops = &maildir_ops;
	s->data = md;
	return s;

fail:
	free(sub);
	s = xcalloc(1, sizeof *s);
	s->ops = &maildir_ops;
	s->data = md;
	md_free(s);
	return NULL;
}

static void
make_name(struct maildir *md)
{
	struct timeval	tv;

	gettimeofday(&tv, NULL);
	snprintf(md->name, sizeof md->name, "%lld.M%06ldP%ldQ%lu.%s%s%s",
	    (long long)tv.tv_sec, (long)tv.tv_usec, (long)getpid(),
	    ++md->seq, md->host, md->tag[0] != '\0' ? ",U=" : "", md->tag);
}

static int
md_open(struct sink *s, const struct sink_msginfo *mi, struct error *err)
{
	struct maildir	*md = s->data;
	int		 tries;

	md->tag[0] = '\0';
	if (mi->tag != NULL)
		strlcpy(md->tag, mi->tag, sizeof md->tag);
	for (tries = 0; tries < MAILDIR_LINK_TRIES; tries++) {
		make_name(md);
		md->fd = openat(md->tmpfd, md->name,
		    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (md->fd != -1 || errno != EEXIST)
			break;
	}
	if (md->fd == -1) {
		error_set(err, EX_CANTCREAT, "cannot create %s/tmp/%s: %s",
		    md->path, md->name, strerror(errno));
		return -1;
	}
	wbuf_init(&md->w, md->fd, 0);
	return 0;
}

static int
md_flush(struct maildir *md, struct error *err)
{
	if (wbuf_flush(&md->w) == -1)
		return write_error(md, err);
	return 0;
}

static int
write_error(struct maildir *md, struct error *err)
{
	error_set(err, EX_IOERR, "cannot write to %s/tmp/%s: %s", md->path,
	    md->name, strerror(errno));
	return -1;
}

static int
md_write(struct sink *s, const char *p, size_t n, struct error *err)
{
	struct maildir	*md = s->data;

	if (wbuf_write(&md->w, p, n) == -1)
		return write_error(md, err);
	return 0;
}

static int
md_stage(struct sink *s, struct error *err)
{
	struct maildir	*md = s->data;

	if (md_flush(md, err) == -1)
		return -1;
	if (close(md->fd) == -1) {
		md->fd = -1;
		error_set(err, EX_IOERR, "cannot write %s/tmp/%s: %s",
		    md->path, md->name, strerror(errno));
		return -1;
	}
	md->fd = -1;
	md->staged = xreallocarray(md->staged, md->nstaged + 1,
	    sizeof *md->staged);
	md->staged[md->nstaged++] = xstrdup(md->name);
	md->name[0] = '\0';
	return 0;
}

/* Link tmp/name into new/; on a clash pick another name: never replace. */
static int
link_new(struct maildir *md, char **name, struct error *err)
{
	char	*old, *tag;
	int	 tries;

	for (tries = 0; tries < MAILDIR_LINK_TRIES; tries++) {
		if (linkat(md->tmpfd, *name, md->newfd, *name, 0) == 0)
			return 0;
		if (errno != EEXIST) {
			error_set(err, EX_IOERR, "cannot move %s/tmp/%s to "
			    "new/: %s", md->path, *name, strerror(errno));
			return -1;
		}
		/* The new name must carry this message's tag, not the last. */
		tag = strstr(*name, ",U=");
		strlcpy(md->tag, tag != NULL ? tag + 3 : "", sizeof md->tag);
		make_name(md);
		if (renameat(md->tmpfd, *name, md->tmpfd, md->name) == -1) {
			error_set(err, EX_IOERR, "cannot rename in %s/tmp: %s",
			    md->path, strerror(errno));
			md->name[0] = '\0';
			return -1;
		}
		old = *name;
		*name = xstrdup(md->name);
		md->name[0] = '\0';
		free(old);
	}
	error_set(err, EX_IOERR, "cannot find a free name in %s/new",
	    md->path);
	return -1;
}

static int
md_sync(struct sink *s, struct error *err)
{
	struct maildir	*md = s->data;
	size_t		 i;

	if (md->nstaged == 0)
		return 0;
	/* The data and tmp/ entries of the whole batch, in one go. */
	if (syncfs(md->tmpfd) == -1) {
		error_set(err, EX_IOERR, "cannot sync the file system of %s: "
		    "%s", md->path, strerror(errno));
		return -1;
	}
	for (i = 0; i < md->nstaged; i++)
		if (link_new(md, &md->staged[i], err) == -1)
			return -1;
	if (fsync(md->newfd) == -1) {
		error_set(err, EX_IOERR, "cannot sync %s/new: %s", md->path,
		    strerror(errno));
		/* The links exist but may not survive a crash: keep the
		 * server copies; the caller reports the failure. */
		return -1;
	}
	/* The messages are durable; a leftover tmp file is only untidy. */
	drop_staged(md);
	return 0;
}

/* Remove the tmp/ names of staged messages (linked into new/ if a sync got that far). */
static void
drop_staged(struct maildir *md)
{
	size_t	i;

	for (i = 0; i < md->nstaged; i++) {
		(void)unlinkat(md->tmpfd, md->staged[i], 0);
		free(md->staged[i]);
	}
	md->nstaged = 0;
}

static int
md_commit(struct sink *s, struct error *err)
{
	if (md_stage(s, err) == -1)
		return -1;
	return md_sync(s, err);
}

static void
md_abort(struct sink *s)
{
	struct maildir	*md = s->data;

	if (md->fd != -1) {
		close(md->fd);
		md->fd = -1;
	}
	if (md->name[0] != '\0')
		(void)unlinkat(md->tmpfd, md->name, 0);
	md->name[0] = '\0';
}

static void
md_free(struct sink *s)
{
	struct maildir	*md = s->data;

	if (md->fd != -1)
		close(md->fd);
	drop_staged(md);
	free(md->staged);
	if (md->tmpfd != -1)
		close(md->tmpfd);
	if (md->newfd != -1)
		close(md->newfd);
	wbuf_free(&md->w);
	free(md->tags);
	for (size_t i = 0; i < md->nleftovers; i++)
		free(md->leftovers[i]);
	free(md->leftovers);
	free(md->path);
	free(md);
	free(s);
}

/*
 * The tag in name's ",U=<tag>" field (ended by ',', ':' or the end), into
 * tag; 0 when it has none.
 */
static int
tag_of(const char *name, char *tag)
{
	const char	*p = name;

	while ((p = strstr(p, ",U=")) != NULL) {
		p += 3;
		if (strspn(p, "0123456789abcdef") == SINK_TAG_LEN &&
		    (p[SINK_TAG_LEN] == '\0' || p[SINK_TAG_LEN] == ',' ||
		    p[SINK_TAG_LEN] == ':')) {
			memcpy(tag, p, SINK_TAG_LEN);
			tag[SINK_TAG_LEN] = '\0';
			return 1;
		}
	}
	return 0;
}

static int
tag_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/*
 * Note the tags in sub/ (new/ or cur/), or the tagged names in tmp/.  A
 * maildir that is not there (--dry-run before the first delivery) holds
 * nothing.  Unless probing, a directory holding a tag is fsync'd, since
 * a crash may have come before our own fsync.
 */
static int
scan_dir(struct maildir *md, const char *sub, struct error *err)
{
	char		 tag[SINK_TAG_LEN + 1];
	struct dirent	*de;
	DIR		*d;
	char		*path;
	size_t		 before = md->ntags;
	int		 rc = 0, tmp = strcmp(sub, "tmp") == 0;

	xasprintf(&path, "%s/%s", md->path, sub);
	if ((d = opendir(path)) == NULL) {
		if (!(md->probe && errno == ENOENT)) {
			error_set(err, EX_IOERR, "cannot read %s: %s", path,
			    strerror(errno));
			rc = -1;
		}
		free(path);
		return rc;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || !tag_of(de->d_name, tag))
			continue;
		if (tmp) {
			md->leftovers = xreallocarray(md->leftovers,
			    md->nleftovers + 1, sizeof *md->leftovers);
			md->leftovers[md->nleftovers++] = xstrdup(de->d_name);
			continue;
		}
		md->tags = xreallocarray(md->tags, md->ntags + 1,
		    sizeof *md->tags);
		memcpy(md->tags[md->ntags++], tag, sizeof tag);
	}
	if (!tmp && !md->probe && md->ntags > before && fsync(dirfd(d)) == -1) {
		error_set(err, EX_IOERR, "cannot sync %s: %s", path,
		    strerror(errno));
		rc = -1;
	}
	closedir(d);
	free(path);
	return rc;
}

/*
 * One scan of the maildir for however many messages an interrupted run
 * left: we hold the account's lock, so no one else adds our tags.  A
 * leftover in tmp/ with the tag is the trace of an unfinished delivery
 * and goes (not when probing).
 */
static int
md_find(struct sink *s, const char *tag, struct error *err)
{
	struct maildir	*md = s->data;
	size_t		 i;

	if (!md->scanned) {
		if (scan_dir(md, "new", err) == -1 ||
		    scan_dir(md, "cur", err) == -1 ||
		    scan_dir(md, "tmp", err) == -1)
			return -1;
		if (md->ntags > 1)
			qsort(md->tags, md->ntags, sizeof *md->tags, tag_cmp);
		md->scanned = 1;
	}
	for (i = 0; i < md->nleftovers && !md->probe; i++) {
		char	t[SINK_TAG_LEN + 1];

		if (tag_of(md->leftovers[i], t) && strcmp(t, tag) == 0)
			(void)unlinkat(md->tmpfd, md->leftovers[i], 0);
	}
	return md->ntags > 0 && bsearch(tag, md->tags, md->ntags,
	    sizeof *md->tags, tag_cmp) != NULL;
}

/*
 * A tmp/ name popfetch gave a tagged message, on this host, by a process
 * that no longer exists: a run killed before its batch was synced.  The
 * message is either linked into new/ already or was never delivered, so
 * the tmp/ name is only clutter.
 */
static int
stale_name(const struct maildir *md, const char *name)
{
	const char	*host, *tag;
	long long	 sec;
	long		 usec, pid;
	unsigned long	 q;
	int		 off = 0;

	if ((tag = strstr(name, ",U=")) == NULL ||
	    sscanf(name, "%lld.M%ldP%ldQ%lu.%n", &sec, &usec, &pid, &q,
	    &off) != 4 || off == 0 || pid <= 0)
		return 0;
	host = name + off;
	if ((size_t)(tag - host) != strlen(md->host) ||
	    strncmp(host, md->host, (size_t)(tag - host)) != 0)
		return 0;
	return kill((pid_t)pid, 0) == -1 && errno == ESRCH;
}

/* Remove what runs killed mid-batch left in tmp/; see stale_name(). */
static void
tidy_tmp(struct maildir *md)
{
	struct dirent	*de;
	DIR		*d;
	int		 fd;

	if ((fd = dup(md->tmpfd)) == -1)
		return;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && stale_name(md, de->d_name))
			(void)unlinkat(md->tmpfd, de->d_name, 0);
	closedir(d);
}
