/*
 * sink-mbox.c -- delivery into an mbox file (mboxrd, RFC 4155).
 *
 * The message is spooled first (spool.h) and appended only once it is
 * complete, so the mailbox is locked just for the append and a broken
 * connection never touches it.  Locking interoperates with procmail, mutt
 * and Dovecot: a FILE.lock dot-lock (created exclusively, taken for stale
 * after MBOX_LOCK_STALE seconds) and then an fcntl write lock, both waited
 * for at most MBOX_LOCK_WAIT seconds.  The append is fsync'd before the
 * locks go; on any failure the file is truncated back to its old size, so
 * it never holds half a message.  SIGINT, SIGTERM and SIGHUP are held back
 * during the append so that they cannot cut it short either.
 *
 * SIGKILL and crashes are covered by the journal (mbox-journal.h): the
 * block is built twice, once only to learn its length and SHA-256, which
 * are journalled before the block is written.  With it, mb_find tells a
 * message of an interrupted run that is in the mbox in whole, and
 * sink_mbox_new cuts off a block that a killed run left half written.
 * The dot-lock holds our PID, so a lock left by a killed popfetch on this
 * host is removed at once rather than after MBOX_LOCK_STALE seconds.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <gnutls/crypto.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "envelope.h"
#include "log.h"
#include "mbox-journal.h"
#include "sink.h"
#include "spool.h"
#include "xmalloc.h"

#define MBOX_LOCK_WAIT		60	/* seconds, for each lock */
#define MBOX_LOCK_STALE		300	/* a dot-lock older than this is stale */
#define MBOX_LOCK_POLL_NS	100000000L
#define MBOX_OUT_SIZE		65536

struct mbox {
	char		*path;
	char		*lockpath;
	struct spool	 sp;
	int		 fd;		/* the mbox, while appending */
	int		 dotlocked;
	off_t		 oldsize;
	char		*out;
	size_t		 outlen;
	/* The mboxrd quoting state at the start of a line. */
	int		 bol;
	size_t		 gts;		/* '>' seen at the line start */
	size_t		 from;		/* bytes of "From " matched after them */
	char		 last;		/* the last byte of the message */
	char		*jpath;		/* the journal */
	char		 tag[SINK_TAG_LEN + 1];	/* "-" for none */
	/* While measuring a block: bytes go into the hash, not the file. */
	gnutls_hash_hd_t hash;
	off_t		 blocklen;
};

static int	mb_open(struct sink *, const struct sink_msginfo *,
		    struct error *);
static int	mb_write(struct sink *, const char *, size_t, struct error *);
static int	mb_commit(struct sink *, struct error *);
static void	mb_abort(struct sink *);
static void	mb_free(struct sink *);
static int	check_file(const char *, struct error *);
static int	dotlock(struct mbox *, struct error *);
static int	take_dotlock(struct mbox *, struct error *);
static int	lock_file(struct mbox *, struct error *);
static void	unlock(struct mbox *);
static void	pause_poll(void);
static int	append(struct mbox *, struct error *);
static int	append_body(struct mbox *, struct error *);
static int	separator(struct mbox *, struct error *);
static int	quote_byte(struct mbox *, char, struct error *);
static int	quote_pending(struct mbox *, struct error *);
static int	out_add(struct mbox *, const char *, size_t, struct error *);
static int	out_flush(struct mbox *, struct error *);
static int	build(struct mbox *, const char *, struct error *);
static int	measure(struct mbox *, const char *, struct journal_entry *,
		    struct error *);
static int	hash_range(struct mbox *, off_t, off_t,
		    unsigned char *, struct error *);
static int	mb_find(struct sink *, const char *, struct error *);
static int	recover(struct mbox *, struct error *);
static int	cut_partial(struct mbox *, const struct journal_entry *,
		    off_t, struct error *);
static int	only_ours(const char *, size_t);
static int	holder_gone(const char *);

static const struct sink_ops mbox_ops = {
	"mbox", mb_open, mb_write, mb_commit, mb_abort, mb_free, NULL, NULL,
	mb_find
};

static const char from_[] = "From ";

/* Create the mailbox now, so that a bad path fails before connecting. */
static int
check_file(const char *path, struct error *err)
{
	struct stat	st;
	int		fd;

	/* O_NONBLOCK: a FIFO there must fail here, not hang in open(). */
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK,
	    0600);
	if (fd == -1 && errno == ENXIO) {
		error_set(err, EX_CANTCREAT, "mbox %s is not a regular file",
		    path);
		return -1;
	}
	if (fd == -1) {
		error_set(err, EX_CANTCREAT, "cannot open mbox %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		error_set(err, EX_CANTCREAT, "mbox %s is not a regular file",
		    path);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

struct sink *
sink_mbox_new(const char *path, struct error *err)
{
	struct mbox	*m;
	struct sink	*s;

	if (check_file(path, err) == -1)
		return NULL;
	m = xcalloc(1, sizeof *m);
	m->fd = -1;
	m->path = xstrdup(path);
	xasprintf(&m->lockpath, "%s.lock", path);
	xasprintf(&m->jpath, "%s.popfetch-journal", path);
	s = xcalloc(1, sizeof *s);
	s->ops = &mbox_ops;
	s->data = m;
	m->out = xmalloc(MBOX_OUT_SIZE);
	if (spool_init(&m->sp, err) == -1 || recover(m, err) == -1) {
		mb_free(s);
		return NULL;
	}
	return s;
}

static int
mb_open(struct sink *s, const struct sink_msginfo *mi, struct error *err)
{
	struct mbox	*m = s->data;

	snprintf(m->tag, sizeof m->tag, "%s", mi->tag != NULL ? mi->tag : "-");
	return spool_reset(&m->sp, err);
}

static int
mb_write(struct sink *s, const char *p, size_t n, struct error *err)
{
	struct mbox	*m = s->data;

	return spool_write(&m->sp, p, n, err);
}

static void
pause_poll(void)
{
	struct timespec	ts = { 0, MBOX_LOCK_POLL_NS };

	nanosleep(&ts, NULL);
}

/*
 * FILE.lock appears with our PID already in it (written to a file of our
 * own, then linked), so a kill never leaves an empty lock that only
 * MBOX_LOCK_STALE could clear.  1 when taken, or when the directory does
 * not let us (then the fcntl lock alone has to do); 0 when another holds
 * it; -1 with err set.
 */
static int
take_dotlock(struct mbox *m, struct error *err)
{
	char	*tmp;
	int	 fd, rc = -1, e;

	xasprintf(&tmp, "%s.P%ld", m->lockpath, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1) {
		e = errno;
		rc = e == EACCES || e == EROFS ? 1 : -1;
		goto out;
	}
	dprintf(fd, "%ld\n", (long)getpid());
	close(fd);
	if (link(tmp, m->lockpath) == 0) {
		m->dotlocked = 1;
		rc = 1;
	} else if ((e = errno) == EEXIST)
		rc = 0;
	(void)unlink(tmp);
out:
	free(tmp);
	if (rc == -1)
		error_set(err, EX_IOERR, "cannot create %s: %s", m->lockpath,
		    strerror(e));
	return rc;
}

/*
 * Where the directory does not let us create FILE.lock (a system spool
 * like /var/mail without group mail), the fcntl lock alone has to do, as
 * in mutt.
 */
static int
dotlock(struct mbox *m, struct error *err)
{
	struct stat	st;
	time_t		start = time(NULL);
	int		rc;

	for (;;) {
		if ((rc = take_dotlock(m, err)) != 0)
			return rc == 1 ? 0 : -1;
		if (holder_gone(m->lockpath)) {
			log_warn(NULL, "removing %s: the popfetch that took "
			    "it is gone", m->lockpath);
			(void)unlink(m->lockpath);
			continue;
		}
		if (stat(m->lockpath, &st) == 0 &&
		    time(NULL) - st.st_mtime > MBOX_LOCK_STALE) {
			log_warn(NULL, "removing stale lock %s (older than %d "
			    "seconds)", m->lockpath, MBOX_LOCK_STALE);
			(void)unlink(m->lockpath);
			continue;
		}
		if (time(NULL) - start >= MBOX_LOCK_WAIT) {
			error_set(err, EX_TEMPFAIL, "%s: locked by another "
			    "program for %d seconds; try again later, or "
			    "remove the lock file if no program holds it",
			    m->lockpath, MBOX_LOCK_WAIT);
			return -1;
		}
		pause_poll();
	}
}

/*
 * A dot-lock holding just a PID (ours hold that) whose process does not
 * exist on this host.  Two popfetches may both remove it and both take a
 * new one; the fcntl lock still keeps them apart.
 */
static int
holder_gone(const char *lockpath)
{
	char	 buf[32], *end;
	ssize_t	 n;
	long	 pid;
	int	 fd;

	if ((fd = open(lockpath, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 1 || buf[n - 1] != '\n')
		return 0;
	buf[n - 1] = '\0';
	errno = 0;
	pid = strtol(buf, &end, 10);
	if (errno != 0 || *end != '\0' || pid <= 0)
		return 0;
	return kill((pid_t)pid, 0) == -1 && errno == ESRCH;
}

static int
lock_file(struct mbox *m, struct error *err)
{
	struct flock	fl;
	struct stat	st;
	time_t		start = time(NULL);

	if (dotlock(m, err) == -1)
		return -1;
	m->fd = open(m->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NONBLOCK, 0600);
	if (m->fd == -1) {
		error_set(err, EX_IOERR, "cannot open mbox %s: %s", m->path,
		    strerror(errno));
		return -1;
	}
	if (fstat(m->fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		error_set(err, EX_IOERR, "mbox %s is not a regular file",
		    m->path);
		return -1;
	}
	memset(&fl, 0, sizeof fl);
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	while (fcntl(m->fd, F_SETLK, &fl) == -1) {
		if (errno != EAGAIN && errno != EACCES && errno != EINTR) {
			error_set(err, EX_IOERR, "cannot lock mbox %s: %s",
			    m->path, strerror(errno));
			return -1;
		}
		if (time(NULL) - start >= MBOX_LOCK_WAIT) {
			error_set(err, EX_TEMPFAIL, "mbox %s: locked by "
			    "another program for %d seconds; try again later",
			    m->path, MBOX_LOCK_WAIT);
			return -1;
		}
		pause_poll();
	}
	return 0;
}

/* Closing the descriptor releases the fcntl lock. */
static void
unlock(struct mbox *m)
{
	if (m->fd != -1)
		close(m->fd);
	m->fd = -1;
	if (m->dotlocked)
		(void)unlink(m->lockpath);
	m->dotlocked = 0;
}

static int
out_flush(struct mbox *m, struct error *err)
{
	size_t	off = 0;
	ssize_t	n;

	if (m->hash != NULL) {
		gnutls_hash(m->hash, m->out, m->outlen);
		m->blocklen += (off_t)m->outlen;
		m->outlen = 0;
		return 0;
	}
	while (off < m->outlen) {
		n = write(m->fd, m->out + off, m->outlen - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			error_set(err, EX_IOERR, "cannot write to mbox %s: %s",
			    m->path, strerror(errno));
			return -1;
		}
		off += (size_t)n;
	}
	m->outlen = 0;
	return 0;
}

static int
out_add(struct mbox *m, const char *p, size_t n, struct error *err)
{
	size_t	take;

	while (n > 0) {
		if (m->outlen == MBOX_OUT_SIZE && out_flush(m, err) == -1)
			return -1;
		take = MBOX_OUT_SIZE - m->outlen;
		if (take > n)
			take = n;
		memcpy(m->out + m->outlen, p, take);
		m->outlen += take;
		p += take;
		n -= take;
	}
	return 0;
}

/* Messages are separated by an empty line, whoever wrote the last one. */
static int
separator(struct mbox *m, struct error *err)
{
	char	tail[2];
	ssize_t	n;

	if (m->oldsize == 0)
		return 0;
	if (m->oldsize == 1) {
		tail[0] = 'x';
		n = pread(m->fd, tail + 1, 1, 0);
	} else
		n = pread(m->fd, tail, 2, m->oldsize - 2);
	if (n <= 0) {
		error_set(err, EX_IOERR, "cannot read mbox %s: %s", m->path,
		    n == 0 ? "file shrank" : strerror(errno));
		return -1;
	}
	if (tail[1] != '\n')
		return out_add(m, "\n\n", 2, err);
	if (tail[0] != '\n')
		return out_add(m, "\n", 1, err);
	return 0;
}

/* The '>'s and the part of "From " held back at a line start, as they were. */
static int
quote_pending(struct mbox *m, struct error *err)
{
	for (; m->gts > 0; m->gts--)
		if (out_add(m, ">", 1, err) == -1)
			return -1;
	if (m->from > 0 && out_add(m, from_, m->from, err) == -1)
		return -1;
	m->from = 0;
	return 0;
}

/* mboxrd: a line matching ^>*From gets one more '>'. */
static int
quote_byte(struct mbox *m, char c, struct error *err)
{
	m->last = c;
	if (m->bol) {
		if (m->from == 0 && c == '>') {
			m->gts++;
			return 0;
		}
		if (c == from_[m->from]) {
			if (++m->from < sizeof from_ - 1)
				return 0;
			m->gts++;
			m->from = 0;
			m->bol = 0;
			if (quote_pending(m, err) == -1)
				return -1;
			return out_add(m, from_, sizeof from_ - 1, err);
		}
		if (quote_pending(m, err) == -1)
			return -1;
		m->bol = 0;
	}
	if (c == '\n')
		m->bol = 1;
	return out_add(m, &c, 1, err);
}

static int
append_body(struct mbox *m, struct error *err)
{
	char		 buf[16384];
	uint64_t	 off = 0;
	ssize_t		 n, i;

	m->bol = 1;
	m->gts = m->from = 0;
	m->last = '\n';
	for (;;) {
		if ((n = spool_pread(&m->sp, buf, sizeof buf, off, err)) == -1)
			return -1;
		if (n == 0)
			break;
		for (i = 0; i < n; i++)
			if (quote_byte(m, buf[i], err) == -1)
				return -1;
		off += (uint64_t)n;
	}
	if (quote_pending(m, err) == -1)
		return -1;
	/* A final newline, then the empty line that ends the message. */
	if (m->last != '\n' && out_add(m, "\n", 1, err) == -1)
		return -1;
	return out_add(m, "\n", 1, err);
}

/* The block for the message: separator, From_ line, body, empty line. */
static int
build(struct mbox *m, const char *line, struct error *err)
{
	if (separator(m, err) == -1 || out_add(m, line, strlen(line),
	    err) == -1 || append_body(m, err) == -1 || out_flush(m,
	    err) == -1)
		return -1;
	return 0;
}

/* The journal entry for the block about to be appended at m->oldsize. */
static int
measure(struct mbox *m, const char *line, struct journal_entry *je,
    struct error *err)
{
	int	rc;

	if (gnutls_hash_init(&m->hash, GNUTLS_DIG_SHA256) < 0) {
		m->hash = NULL;
		error_set(err, EX_SOFTWARE, "cannot hash with SHA-256");
		return -1;
	}
	m->blocklen = 0;
	rc = build(m, line, err);
	gnutls_hash_deinit(m->hash, je->digest);
	m->hash = NULL;
	m->outlen = 0;
	snprintf(je->tag, sizeof je->tag, "%s", m->tag);
	je->offset = m->oldsize;
	je->length = m->blocklen;
	return rc;
}

/* SHA-256 of the bytes [off, off + len) of the locked mbox. */
static int
hash_range(struct mbox *m, off_t off, off_t len, unsigned char *digest,
    struct error *err)
{
	gnutls_hash_hd_t	 h;
	char			 buf[16384];
	ssize_t			 n;

	if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0) {
		error_set(err, EX_SOFTWARE, "cannot hash with SHA-256");
		return -1;
	}
	while (len > 0) {
		n = pread(m->fd, buf, len < (off_t)sizeof buf ? (size_t)len :
		    sizeof buf, off);
		if (n <= 0) {
			gnutls_hash_deinit(h, digest);
			error_set(err, EX_IOERR, "cannot read mbox %s: %s",
			    m->path, n == 0 ? "file shrank" : strerror(errno));
			return -1;
		}
		gnutls_hash(h, buf, (size_t)n);
		off += n;
		len -= n;
	}
	gnutls_hash_deinit(h, digest);
	return 0;
}

/*
 * 1 when the mbox holds, where the journal says, the whole block last
 * appended with tag (it is fsync'd again before we say so).  A block
 * moved or changed since (a mail reader rewrote the mbox) is not found.
 */
static int
mb_find(struct sink *s, const char *tag, struct error *err)
{
	struct mbox		*m = s->data;
	struct journal_entry	 je;
	unsigned char		 digest[JOURNAL_DIGEST_LEN];
	struct stat		 st;
	int			 rc = -1;

	if (lock_file(m, err) == -1)
		goto out;
	if ((rc = journal_last(m->jpath, tag, &je, err)) != 1)
		goto out;
	rc = -1;
	if (fstat(m->fd, &st) == -1) {
		error_set(err, EX_IOERR, "cannot stat mbox %s: %s", m->path,
		    strerror(errno));
		goto out;
	}
	rc = 0;
	if (st.st_size < je.offset + je.length)
		goto out;
	if (hash_range(m, je.offset, je.length, digest, err) == -1) {
		rc = -1;
		goto out;
	}
	if (memcmp(digest, je.digest, sizeof digest) != 0)
		goto out;
	if (fsync(m->fd) == -1) {
		error_set(err, EX_IOERR, "cannot sync mbox %s: %s", m->path,
		    strerror(errno));
		rc = -1;
		goto out;
	}
	rc = 1;
out:
	unlock(m);
	return rc;
}

/*
 * Bytes a killed append left at the end: up to two newlines of separator,
 * then a prefix of "From " or a From_ line with no other line starting
 * "From " after it (our block is mboxrd-quoted, so it has none).  Anything
 * else means another program wrote after us.
 */
static int
only_ours(const char *p, size_t n)
{
	size_t	i = 0, k;

	while (i < n && i < 2 && p[i] == '\n')
		i++;
	k = n - i < sizeof from_ - 1 ? n - i : sizeof from_ - 1;
	if (memcmp(p + i, from_, k) != 0)
		return 0;
	for (i += k; i + sizeof from_ - 1 <= n; i++)
		if (p[i - 1] == '\n' && memcmp(p + i, from_,
		    sizeof from_ - 1) == 0)
			return 0;
	return 1;
}

/* The mbox ends size bytes in, inside the block je describes. */
static int
cut_partial(struct mbox *m, const struct journal_entry *je, off_t size,
    struct error *err)
{
	char	*tail;
	size_t	 n = (size_t)(size - je->offset);
	ssize_t	 got;
	int	 ours;

	tail = xmalloc(n);
	got = pread(m->fd, tail, n, je->offset);
	ours = got == (ssize_t)n && only_ours(tail, n);
	free(tail);
	if (!ours) {
		log_warn(NULL, "mbox %s: an interrupted delivery left part of "
		    "a message at byte %jd, and other mail follows it; leaving "
		    "it for you to remove", m->path, (intmax_t)je->offset);
		return 0;
	}
	if (ftruncate(m->fd, je->offset) == -1 || fsync(m->fd) == -1) {
		error_set(err, EX_IOERR, "mbox %s: cannot remove the partial "
		    "message an interrupted run left at byte %jd (truncate "
		    "it there by hand): %s", m->path, (intmax_t)je->offset,
		    strerror(errno));
		return -1;
	}
	log_warn(NULL, "mbox %s: removed the partial message an interrupted "
	    "run left at byte %jd", m->path, (intmax_t)je->offset);
	return 0;
}

/*
 * Only the last journal entry can describe a half-written block: every
 * later append of ours would have added a later entry.  Trim the journal
 * under the same locks.
 */
static int
recover(struct mbox *m, struct error *err)
{
	struct journal_entry	 je;
	struct stat		 st;
	int			 rc = -1, found;

	if (access(m->jpath, F_OK) == -1)
		return 0;
	if (lock_file(m, err) == -1)
		goto out;
	if ((found = journal_last(m->jpath, NULL, &je, err)) == -1)
		goto out;
	if (fstat(m->fd, &st) == -1) {
		error_set(err, EX_IOERR, "cannot stat mbox %s: %s", m->path,
		    strerror(errno));
		goto out;
	}
	if (found && st.st_size > je.offset &&
	    st.st_size < je.offset + je.length &&
	    cut_partial(m, &je, st.st_size, err) == -1)
		goto out;
	rc = journal_trim(m->jpath, err);
out:
	unlock(m);
	return rc;
}

static int
append(struct mbox *m, struct error *err)
{
	char		 line[ENVELOPE_ADDR_MAX + 64], date[32];
	char		*sender;
	struct journal_entry je;
	time_t		 now = time(NULL);
	struct tm	 tm;
	int		 rc = -1;

	if ((sender = spool_sender(&m->sp, err)) == NULL)
		return -1;
	/* The From_ line is split at blanks: such an address cannot go there. */
	if (strpbrk(sender, " \t") != NULL) {
		free(sender);
		sender = xstrdup(ENVELOPE_UNKNOWN);
	}
	gmtime_r(&now, &tm);
	strftime(date, sizeof date, "%a %b %e %H:%M:%S %Y", &tm);
	snprintf(line, sizeof line, "From %s %s\n", sender, date);
	free(sender);

	if (lock_file(m, err) == -1)
		goto out;
	if ((m->oldsize = lseek(m->fd, 0, SEEK_END)) == -1) {
		error_set(err, EX_IOERR, "cannot seek in mbox %s: %s",
		    m->path, strerror(errno));
		goto out;
	}
	m->outlen = 0;
	if (measure(m, line, &je, err) == -1 ||
	    journal_add(m->jpath, &je, err) == -1)
		goto out;
	if (build(m, line, err) == -1)
		goto truncate;
	if (fsync(m->fd) == -1) {
		error_set(err, EX_IOERR, "cannot sync mbox %s: %s", m->path,
		    strerror(errno));
		goto truncate;
	}
	rc = 0;
	goto out;

truncate:
	/* Never leave half a message behind for a reader to choke on. */
	if (ftruncate(m->fd, m->oldsize) == -1 || fsync(m->fd) == -1)
		error_prefix(err, "the partial message could not be "
		    "removed (truncate %s to %lld bytes by hand: %s)", m->path,
		    (long long)m->oldsize, strerror(errno));
out:
	m->outlen = 0;
	unlock(m);
	return rc;
}

static int
mb_commit(struct sink *s, struct error *err)
{
	struct mbox	*m = s->data;
	sigset_t	 old;
	int		 rc;

	if (spool_flush(&m->sp, err) == -1)
		return -1;
	sink_hold_signals(&old);
	rc = append(m, err);
	sink_release_signals(&old);
	return rc;
}

static void
mb_abort(struct sink *s)
{
	struct mbox	*m = s->data;
	struct error	 ignored;

	error_clear(&ignored);
	(void)spool_reset(&m->sp, &ignored);
}

static void
mb_free(struct sink *s)
{
	struct mbox	*m = s->data;

	unlock(m);
	spool_free(&m->sp);
	free(m->out);
	free(m->lockpath);
	free(m->jpath);
	free(m->path);
	free(m);
	free(s);
}
