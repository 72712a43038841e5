/*
 * sink-mbox.c -- delivery into an mbox file (mboxrd, RFC 4155).
 *
 * Group commit, as for maildir: each message is mboxrd-quoted and hashed
 * (SHA-256) while it arrives, in one pass, into a spool (sink-spool.h) that
 * holds the whole batch; the mbox is touched only by mb_sync, which takes
 * the locks once (sink-mbox-lock.h), journals every block of the batch
 * with one fsync (sink-mbox-journal.h), appends the blocks, fsyncs the mbox
 * once and lets the locks go.  The locks are held only for that copy, so
 * a mail reader waits at most for one batch to be written (fetch.c bounds
 * a batch in messages and bytes), never for the network.  A broken
 * connection never touches the mbox; on any failure of the append the
 * file is truncated back to its old size, so it never holds half a
 * message; SIGINT, SIGTERM and SIGHUP are held back during the append.
 *
 * SIGKILL and crashes are covered by the journal: mb_find tells a message
 * of an interrupted run that is in the mbox in whole, and sink_mbox_new
 * cuts off a block that a killed run left half written.  The journal is
 * read once per run, however many messages an interrupted run left.
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
#include "sighold.h"
#include "sink-mbox-journal.h"
#include "mboxrd.h"
#include "sink.h"
#include "sink-mbox-lock.h"
#include "sink-spool.h"
#include "xmalloc.h"

#define MBOX_COPY_SIZE	65536
/* The separator and From_ line: what a block holds before its message. */
#define MBOX_PREFIX_MAX	(2 + ENVELOPE_ADDR_MAX + 64)

/* A staged message: its quoted text is in the spool at [off, off + len). */
struct staged {
	char		 tag[SINK_TAG_LEN + 1];	/* "-" for none */
	char		*fromline;
	uint64_t	 off, len;
	unsigned char	 digest[JOURNAL_DIGEST_LEN];
};

struct mbox {
	char		*path;
	struct mbox_lock lk;
	struct spool	 sp;		/* the quoted messages of the batch */
	struct staged	*st;
	size_t		 nst, capst;
	char		*jpath;		/* the journal */
	struct journal_entry *jcache;	/* the journal as read by mb_find */
	size_t		 njcache;
	int		 jloaded;
	int		 probe;		/* find only, changing nothing */
	/* The message being received. */
	char		 tag[SINK_TAG_LEN + 1];
	uint64_t	 start;		/* its offset in the spool */
	gnutls_hash_hd_t hash;
	char		*hdr;		/* its header section, for the sender */
	size_t		 hdrlen, hdrcap;
	int		 hdrdone;
	uint64_t	 rawlen;
	struct mboxrd	 q;
	char		 last;		/* the last byte of the message */
};

static int	mb_open(struct sink *, const struct sink_msginfo *,
		    struct error *);
static int	mb_write(struct sink *, const char *, size_t, struct error *);
static int	mb_stage(struct sink *, struct error *);
static int	mb_sync(struct sink *, struct error *);
static int	mb_commit(struct sink *, struct error *);
static void	mb_abort(struct sink *);
static void	mb_free(struct sink *);
static int	mb_find(struct sink *, const char *, struct error *);
static int	probe(struct mbox *, const struct journal_entry *,
		    struct error *);
static int	check_file(const char *, struct error *);
static int	emit(void *, const char *, size_t, struct error *);
static void	keep_header(struct mbox *, const char *, size_t);
static char	*from_line(struct mbox *);
static int	separator(struct mbox *, off_t, const char **,
		    struct error *);
static int	write_all(struct mbox *, const char *, size_t,
		    struct error *);
static int	copy_spool(struct mbox *, uint64_t, uint64_t,
		    struct error *);
static int	append_batch(struct mbox *, off_t, struct error *);
static void	clear_batch(struct mbox *);
static int	hash_range(struct mbox *, off_t, off_t,
		    unsigned char *, struct error *);
static int	prefix_ok(struct mbox *, const struct journal_entry *);
static const struct journal_entry *cached_entry(struct mbox *,
		    const char *, struct error *);
static int	recover(struct mbox *, struct error *);
static int	fill_head(struct mbox *, struct journal_entry *,
		    const char *, const struct staged *, struct error *);
static int	tail_proven(const struct journal_entry *, const char *,
		    size_t);
static int	cut_partial(struct mbox *, const struct journal_entry *,
		    off_t, struct error *);

static const struct sink_ops mbox_ops = {
	"mbox", mb_open, mb_write, mb_commit, mb_abort, mb_free, mb_stage,
	mb_sync, mb_find, NULL
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
sink_mbox_new(const struct sink_dest *d, struct error *err)
{
	const char	*path = d->arg, *who = d->who;
	int		 probe = d->probe;
	struct mbox	*m;
	struct sink	*s;

	if (!probe && check_file(path, err) == -1)
		return NULL;
	m = xcalloc(1, sizeof *m);
	m->path = xstrdup(path);
	m->lk.path = m->path;
	m->lk.who = who;
	m->lk.fd = -1;
	xasprintf(&m->lk.lockpath, "%s.lock", path);
	xasprintf(&m->jpath, "%s.popfetch-journal", path);
	s = xcalloc(1, sizeof *s);
	s->ops = &mbox_ops;
	s->data = m;
	m->probe = probe;
	m->sp.fd = -1;
	if (probe)
		return s;
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

	if (gnutls_hash_init(&m->hash, GNUTLS_DIG_SHA256) < 0) {
		m->hash = NULL;
		error_set(err, EX_SOFTWARE, "cannot hash with SHA-256");
		return -1;
	}
	snprintf(m->tag, sizeof m->tag, "%s", mi->tag != NULL ? mi->tag : "-");
	m->start = m->sp.w.size;
	m->hdrlen = 0;
	m->hdrdone = 0;
	m->rawlen = 0;
	mboxrd_init(&m->q, emit, m);
	m->last = '\n';
	return 0;
}

/* Quoted bytes (arg: the mbox) go to the spool and into the hash. */
static int
emit(void *arg, const char *p, size_t n, struct error *err)
{
	struct mbox	*m = arg;

	if (n == 0)
		return 0;
	gnutls_hash(m->hash, p, n);
	return spool_write(&m->sp, p, n, err);
}

/* The header section, kept until its end for the envelope sender. */
static void
keep_header(struct mbox *m, const char *p, size_t n)
{
	size_t	from, take;

	if (m->hdrdone)
		return;
	take = ENVELOPE_HEADER_MAX - m->hdrlen;
	if (take > n)
		take = n;
	if (m->hdrlen + take + 1 > m->hdrcap) {
		m->hdrcap = m->hdrlen + take + 1 + 4096;
		m->hdr = xreallocarray(m->hdr, m->hdrcap, 1);
	}
	memcpy(m->hdr + m->hdrlen, p, take);
	from = m->hdrlen > 0 ? m->hdrlen - 1 : 0;
	m->hdrlen += take;
	if ((m->hdrlen > 0 && m->hdr[0] == '\n') ||
	    memmem(m->hdr + from, m->hdrlen - from, "\n\n", 2) != NULL ||
	    m->hdrlen == ENVELOPE_HEADER_MAX)
		m->hdrdone = 1;
}

static int
mb_write(struct sink *s, const char *p, size_t n, struct error *err)
{
	struct mbox	*m = s->data;

	if (n == 0)
		return 0;
	keep_header(m, p, n);
	m->rawlen += n;
	m->last = p[n - 1];
	return mboxrd_quote(&m->q, p, n, err);
}

/* "From <sender> <date>\n" for the message just received.  Allocated. */
static char *
from_line(struct mbox *m)
{
	char		 date[32], *sender, *line;
	time_t		 now = time(NULL);
	struct tm	 tm;

	sender = envelope_sender_of(m->hdr, m->hdrlen, m->rawlen);
	/* The From_ line is split at blanks: such an address cannot go there. */
	gmtime_r(&now, &tm);
	strftime(date, sizeof date, "%a %b %e %H:%M:%S %Y", &tm);
	xasprintf(&line, "From %s %s\n", strpbrk(sender, " \t") == NULL ?
	    sender : ENVELOPE_UNKNOWN, date);
	free(sender);
	return line;
}

/* The message is whole: end its block and add it to the batch. */
static int
mb_stage(struct sink *s, struct error *err)
{
	struct mbox	*m = s->data;
	struct staged	*st;

	if (mboxrd_end(&m->q, err) == -1)
		return -1;
	/* A final newline, then the empty line that ends the message. */
	if ((m->last != '\n' && emit(m, "\n", 1, err) == -1) ||
	    emit(m, "\n", 1, err) == -1)
		return -1;
	if (m->nst == m->capst) {
		m->capst = m->capst == 0 ? 16 : m->capst * 2;
		m->st = xreallocarray(m->st, m->capst, sizeof *m->st);
	}
	st = &m->st[m->nst++];
	memcpy(st->tag, m->tag, sizeof st->tag);
	st->fromline = from_line(m);
	st->off = m->start;
	st->len = m->sp.w.size - m->start;
	gnutls_hash_deinit(m->hash, st->digest);
	m->hash = NULL;
	return 0;
}

/* Messages are separated by an empty line, whoever wrote the last one. */
static int
separator(struct mbox *m, off_t size, const char **sep, struct error *err)
{
	char	tail[2];
	ssize_t	n;

	*sep = "";
	if (size == 0)
		return 0;
	if (size == 1) {
		tail[0] = 'x';
		n = pread(m->lk.fd, tail + 1, 1, 0);
	} else
		n = pread(m->lk.fd, tail, 2, size - 2);
	if (n <= 0) {
		error_set(err, EX_IOERR, "cannot read mbox %s: %s", m->path,
		    n == 0 ? "file shrank" : strerror(errno));
		return -1;
	}
	if (tail[1] != '\n')
		*sep = "\n\n";
	else if (tail[0] != '\n')
		*sep = "\n";
	return 0;
}

static int
write_all(struct mbox *m, const char *p, size_t n, struct error *err)
{
	ssize_t	w;

	while (n > 0) {
		if ((w = write(m->lk.fd, p, n)) == -1 && errno == EINTR)
			continue;
		if (w == -1) {
			error_set(err, EX_IOERR, "cannot write to mbox %s: %s",
			    m->path, strerror(errno));
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Bytes [off, off + len) of the spool onto the end of the mbox. */
static int
copy_spool(struct mbox *m, uint64_t off, uint64_t len, struct error *err)
{
	char	buf[MBOX_COPY_SIZE];
	ssize_t	n;

	while (len > 0) {
		n = spool_pread(&m->sp, buf, len < sizeof buf ? (size_t)len :
		    sizeof buf, off, err);
		if (n == -1)
			return -1;
		if (n == 0) {
			error_set(err, EX_IOERR, "the temporary file shrank");
			return -1;
		}
		if (write_all(m, buf, (size_t)n, err) == -1)
			return -1;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

/*
 * The first bytes of the block st will be (the separator sep, its From_
 * line, the start of its message) into je's head: what lets a later run
 * prove that a partial block at je's offset is this one.
 */
static int
fill_head(struct mbox *m, struct journal_entry *je, const char *sep,
    const struct staged *st, struct error *err)
{
	size_t	slen = strlen(sep), flen = strlen(st->fromline), body;
	ssize_t	got;

	if (slen + flen + JOURNAL_HEAD_BODY > sizeof je->head)
		fatalx("a From_ line of %zu bytes", flen);
	memcpy(je->head, sep, slen);
	memcpy(je->head + slen, st->fromline, flen);
	body = st->len < JOURNAL_HEAD_BODY ? (size_t)st->len : JOURNAL_HEAD_BODY;
	got = spool_pread(&m->sp, (char *)je->head + slen + flen, body, st->off,
	    err);
	if (got == -1)
		return -1;
	if ((size_t)got != body) {
		error_set(err, EX_IOERR, "the temporary file shrank");
		return -1;
	}
	je->headlen = slen + flen + body;
	return 0;
}

/*
 * Under the locks, with the mbox size at size: journal the batch (one
 * fsync), append it, fsync the mbox.
 */
static int
append_batch(struct mbox *m, off_t size, struct error *err)
{
	struct journal_entry	*je;
	const char		*sep;
	off_t			 at = size;
	size_t			 i, plen;
	int			 rc = -1;

	if (separator(m, size, &sep, err) == -1)
		return -1;
	je = xreallocarray(NULL, m->nst, sizeof *je);
	for (i = 0; i < m->nst; i++) {
		plen = (i == 0 ? strlen(sep) : 0) + strlen(m->st[i].fromline);
		snprintf(je[i].tag, sizeof je[i].tag, "%s", m->st[i].tag);
		je[i].offset = at;
		je[i].skip = (off_t)plen;
		je[i].length = (off_t)(plen + m->st[i].len);
		memcpy(je[i].digest, m->st[i].digest, sizeof je[i].digest);
		if (fill_head(m, &je[i], i == 0 ? sep : "", &m->st[i],
		    err) == -1)
			goto out;
		at += je[i].length;
	}
	if (journal_add(m->jpath, je, m->nst, err) == -1)
		goto out;
	for (i = 0; i < m->nst; i++) {
		if ((i == 0 && write_all(m, sep, strlen(sep), err) == -1) ||
		    write_all(m, m->st[i].fromline, strlen(m->st[i].fromline),
		    err) == -1 || copy_spool(m, m->st[i].off, m->st[i].len,
		    err) == -1)
			goto out;
	}
	if (fsync(m->lk.fd) == -1) {
		error_set(err, EX_IOERR, "cannot sync mbox %s: %s", m->path,
		    strerror(errno));
		goto out;
	}
	journal_done(m->jpath);
	rc = 0;
out:
	free(je);
	return rc;
}

static int
mb_sync(struct sink *s, struct error *err)
{
	struct mbox	*m = s->data;
	sigset_t	 old;
	off_t		 size = -1;
	int		 rc = -1;

	if (m->nst == 0)
		return 0;
	if (spool_flush(&m->sp, err) == -1)
		return -1;
	sig_hold(&old);
	if (mbox_lock(&m->lk, err) == -1)
		goto out;
	if ((size = lseek(m->lk.fd, 0, SEEK_END)) == -1) {
		error_set(err, EX_IOERR, "cannot seek in mbox %s: %s",
		    m->path, strerror(errno));
		goto out;
	}
	if ((rc = append_batch(m, size, err)) == 0)
		goto out;
	/* Never leave half a message behind for a reader to choke on. */
	if (ftruncate(m->lk.fd, size) == -1 || fsync(m->lk.fd) == -1)
		error_prefix(err, "the partial message could not be "
		    "removed (truncate %s to %lld bytes by hand: %s)", m->path,
		    (long long)size, strerror(errno));
out:
	mbox_unlock(&m->lk);
	sig_release(&old);
	clear_batch(m);
	return rc;
}

/* The batch is written or given up: the spool starts afresh. */
static void
clear_batch(struct mbox *m)
{
	struct error	ignored;
	size_t		i;

	for (i = 0; i < m->nst; i++)
		free(m->st[i].fromline);
	m->nst = 0;
	error_clear(&ignored);
	(void)spool_reset(&m->sp, &ignored);
}

static int
mb_commit(struct sink *s, struct error *err)
{
	if (mb_stage(s, err) == -1)
		return -1;
	return mb_sync(s, err);
}

/* Drop the message being received; the batch before it stays. */
static void
mb_abort(struct sink *s)
{
	struct mbox	*m = s->data;
	unsigned char	 ignored[JOURNAL_DIGEST_LEN];
	struct error	 e;

	if (m->hash != NULL)
		gnutls_hash_deinit(m->hash, ignored);
	m->hash = NULL;
	error_clear(&e);
	(void)spool_truncate(&m->sp, m->start, &e);
}

static void
mb_free(struct sink *s)
{
	struct mbox	*m = s->data;
	unsigned char	 ignored[JOURNAL_DIGEST_LEN];
	size_t		 i;

	mbox_unlock(&m->lk);
	if (m->hash != NULL)
		gnutls_hash_deinit(m->hash, ignored);
	for (i = 0; i < m->nst; i++)
		free(m->st[i].fromline);
	free(m->st);
	free(m->jcache);
	free(m->hdr);
	spool_free(&m->sp);
	free(m->lk.lockpath);
	free(m->jpath);
	free(m->path);
	free(m);
	free(s);
}

/* SHA-256 of the bytes [off, off + len) of the locked mbox. */
static int
hash_range(struct mbox *m, off_t off, off_t len, unsigned char *digest,
    struct error *err)
{
	gnutls_hash_hd_t	 h;
	char			 buf[MBOX_COPY_SIZE];
	ssize_t			 n;

	if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0) {
		error_set(err, EX_SOFTWARE, "cannot hash with SHA-256");
		return -1;
	}
	while (len > 0) {
		n = pread(m->lk.fd, buf, len < (off_t)sizeof buf ? (size_t)len :
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
 * The bytes the digest leaves out are still a separator and one From_
 * line: up to two newlines, "From ", no other newline before the last.
 */
static int
prefix_ok(struct mbox *m, const struct journal_entry *je)
{
	char	buf[MBOX_PREFIX_MAX];
	size_t	n = (size_t)je->skip, i = 0;

	if (je->skip == 0)
		return 1;
	if (n > sizeof buf || pread(m->lk.fd, buf, n, je->offset) !=
	    (ssize_t)n || buf[n - 1] != '\n')
		return 0;
	while (i < n && i < 2 && buf[i] == '\n')
		i++;
	return n - i > sizeof from_ - 1 &&
	    memcmp(buf + i, from_, sizeof from_ - 1) == 0 &&
	    memchr(buf + i, '\n', n - i - 1) == NULL;
}

/*
 * The last journal entry for tag, the journal being read once per run:
 * only this run's account writes entries with its tags, and it does not
 * while it looks for them.
 */
static const struct journal_entry *
cached_entry(struct mbox *m, const char *tag, struct error *err)
{
	size_t	i;

	if (!m->jloaded) {
		if (journal_read(m->jpath, &m->jcache, &m->njcache, err) == -1)
			return NULL;
		m->jloaded = 1;
	}
	for (i = m->njcache; i > 0; i--)
		if (!m->jcache[i - 1].done &&
		    strcmp(m->jcache[i - 1].tag, tag) == 0)
			return &m->jcache[i - 1];
	return NULL;
}

/*
 * 1 when the mbox holds, where the journal says, the whole block last
 * appended with tag (it is fsync'd again before we say so).  A block
 * moved or changed since (a mail reader rewrote the mbox) is not found.
 */
static int
mb_find(struct sink *s, const char *tag, struct error *err)
{
	struct mbox			*m = s->data;
	const struct journal_entry	*je;
	unsigned char			 digest[JOURNAL_DIGEST_LEN];
	struct stat			 st;
	int				 rc = -1;

	error_clear(err);
	if ((je = cached_entry(m, tag, err)) == NULL)
		return err->ex != 0 ? -1 : 0;
	if (m->probe)
		return probe(m, je, err);
	if (mbox_lock(&m->lk, err) == -1)
		goto out;
	if (fstat(m->lk.fd, &st) == -1) {
		error_set(err, EX_IOERR, "cannot stat mbox %s: %s", m->path,
		    strerror(errno));
		goto out;
	}
	rc = 0;
	if (st.st_size < je->offset + je->length || !prefix_ok(m, je))
		goto out;
	if (hash_range(m, je->offset + je->skip, je->length - je->skip,
	    digest, err) == -1) {
		rc = -1;
		goto out;
	}
	if (memcmp(digest, je->digest, sizeof digest) != 0)
		goto out;
	if (fsync(m->lk.fd) == -1) {
		error_set(err, EX_IOERR, "cannot sync mbox %s: %s", m->path,
		    strerror(errno));
		rc = -1;
		goto out;
	}
	rc = 1;
out:
	mbox_unlock(&m->lk);
	return rc;
}

/* mb_find for --dry-run: the same test, read-only, without the locks. */
static int
probe(struct mbox *m, const struct journal_entry *je, struct error *err)
{
	unsigned char	digest[JOURNAL_DIGEST_LEN];
	struct stat	st;
	int		rc = 0;

	m->lk.fd = open(m->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (m->lk.fd == -1)
		return 0;
	if (fstat(m->lk.fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_size >= je->offset + je->length && prefix_ok(m, je)) {
		rc = hash_range(m, je->offset + je->skip,
		    je->length - je->skip, digest, err);
		if (rc == 0)
			rc = memcmp(digest, je->digest, sizeof digest) == 0;
	}
	close(m->lk.fd);
	m->lk.fd = -1;
	return rc;
}

/*
 * Whether the n bytes tail, with which the mbox ends inside the block je
 * describes, are provably the start of that block: the head the journal
 * recorded, byte for byte, and after it no "From " anywhere.  Our quoted
 * message has none at a line's start; another program's message appended
 * after a partial block of ours starts with one, at a line's start or in
 * the middle of our last line.  Bytes beyond the head that hold "From "
 * in the middle of a line are ours too, but cannot be told apart: left.
 */
static int
tail_proven(const struct journal_entry *je, const char *tail, size_t n)
{
	size_t	from;

	if (je->headlen == 0)
		return 0;	/* an older journal line: no head to compare */
	if (memcmp(tail, je->head, n < je->headlen ? n : je->headlen) != 0)
		return 0;
	if (n <= je->headlen)
		return 1;
	/* From the head's last bytes, in case "From " straddles its end. */
	from = je->headlen > sizeof from_ - 2 ? je->headlen -
	    (sizeof from_ - 2) : 0;
	return memmem(tail + from, n - from, from_, sizeof from_ - 1) == NULL;
}

/*
 * The mbox ends size bytes in, inside the block je describes: cut it off
 * when the tail is provably ours, else stop with EX_DATAERR and leave
 * every byte where it is.
 */
static int
cut_partial(struct mbox *m, const struct journal_entry *je, off_t size,
    struct error *err)
{
	char	*tail;
	size_t	 n = (size_t)(size - je->offset);
	ssize_t	 got;
	int	 ours;

	tail = xmalloc(n);
	got = pread(m->lk.fd, tail, n, je->offset);
	ours = got == (ssize_t)n && tail_proven(je, tail, n);
	free(tail);
	if (!ours) {
		error_set(err, EX_DATAERR, "mbox %s ends with %zu bytes at byte "
		    "%jd that an interrupted delivery was to write but that "
		    "popfetch cannot prove it wrote (other mail may follow it); "
		    "nothing was removed: look at the mbox from that byte, "
		    "remove any partial message by hand, then move %s away",
		    m->path, n, (intmax_t)je->offset, m->jpath);
		return -1;
	}
	if (ftruncate(m->lk.fd, je->offset) == -1 || fsync(m->lk.fd) == -1) {
		error_set(err, EX_IOERR, "mbox %s: cannot remove the partial "
		    "message an interrupted run left at byte %jd (truncate "
		    "it there by hand): %s", m->path, (intmax_t)je->offset,
		    strerror(errno));
		return -1;
	}
	log_warn(m->lk.who, "mbox %s: removed the partial message an interrupted "
	    "run left at byte %jd", m->path, (intmax_t)je->offset);
	return 0;
}

/*
 * Only the last batch in the journal can describe a half-written block,
 * and only when no "done" line follows it: any later append of ours
 * would have added later entries.  Its entries are the contiguous run at
 * the end; the one the mbox ends inside, if any, is cut off when provably
 * ours (the whole blocks before it stay, for mb_find).  The batch is then
 * marked done, so that no later run looks at it again after a mail reader
 * has moved things around.  Trim the journal under the same locks.
 */
static int
recover(struct mbox *m, struct error *err)
{
	struct journal_entry	*je = NULL;
	struct stat		 st;
	size_t			 n, i;
	int			 rc = -1;

	if (access(m->jpath, F_OK) == -1)
		return 0;
	if (mbox_lock(&m->lk, err) == -1)
		goto out;
	if (journal_read(m->jpath, &je, &n, err) == -1)
		goto out;
	if (fstat(m->lk.fd, &st) == -1) {
		error_set(err, EX_IOERR, "cannot stat mbox %s: %s", m->path,
		    strerror(errno));
		goto out;
	}
	if (n > 0 && !je[n - 1].done) {
		for (i = n; i > 0; i--) {
			if (st.st_size > je[i - 1].offset &&
			    st.st_size < je[i - 1].offset + je[i - 1].length) {
				if (cut_partial(m, &je[i - 1], st.st_size,
				    err) == -1)
					goto out;
				break;
			}
			if (i < 2 || je[i - 2].done || je[i - 2].offset +
			    je[i - 2].length != je[i - 1].offset)
				break;
		}
		journal_done(m->jpath);
	}
	rc = journal_trim(m->jpath, err);
out:
	free(je);
	mbox_unlock(&m->lk);
	return rc;
}
