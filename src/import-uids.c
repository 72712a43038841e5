/* import-uids.c -- other fetchers' UID state into popfetch's; see import-uids.h. */
#include "config.h"

#include <sys/cdefs.h>
#ifndef __unused			/* tree(3) wants it; glibc lacks it */
#define __unused __attribute__((__unused__))
#endif
#include <sys/stat.h>
#include <sys/tree.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "import-uids.h"
#include "log.h"
#include "uid.h"
#include "uidstate.h"
#include "xmalloc.h"

/* A state file line is short; anything longer is not one of these files. */
#define LINE_MAX_LEN	4096
/*
 * Bounds on what is read, and so on memory: a million UIDs of 70
 * characters fit in 64 MiB of any of the formats, two million short ones
 * cost some 100 MB here, and either makes a state file well under
 * UIDSTATE_FILE_MAX (which import_uids_record checks before it writes,
 * for a state that holds much already).
 */
#define IMPORT_FILE_MAX		(64 * 1024 * 1024)
#define IMPORT_UIDS_MAX		2000000
#define IMPORT_LISTS_MAX	100000

/* USER@HOST to its list, for fetchmail's one line per UID. */
struct listkey {
	RB_ENTRY(listkey)	 link;
	const char		*user, *host;
	size_t			 idx;		/* in the lists array */
};
RB_HEAD(listtree, listkey);

struct reader {
	FILE		*f;
	const char	*path;
	int		 lineno;
	char		*line;		/* LINE_MAX_LEN + 1 bytes */
	size_t		 len;		/* of the line, without the newline */
	uint64_t	 total;		/* bytes read so far */
	size_t		 caplists;	/* lists allocated */
	size_t		 nuids;		/* in all lists */
	struct listtree	 keys;
};

static int	 listkey_cmp(struct listkey *, struct listkey *);
RB_PROTOTYPE_STATIC(listtree, listkey, link, listkey_cmp)
RB_GENERATE_STATIC(listtree, listkey, link, listkey_cmp)

static int	 next_line(struct reader *, struct error *);
static FILE	*open_regular(const char *, struct error *);
static struct uid_list *new_list(struct reader *, struct uid_list **,
		    size_t *);
static struct uid_list *fetchmail_list(struct reader *, struct uid_list **,
		    size_t *, const char *, const char *);
static void	 free_keys(struct reader *);
static int	 would_fit(struct uidstate *, const struct uid_list *,
		    const char *, time_t, struct error *);
static int	 add_uid(struct reader *, struct uid_list *, const char *,
		    size_t, time_t, struct error *);
static int	 read_mpop(struct reader *, struct uid_list **, size_t *,
		    struct error *);
static int	 read_fetchmail(struct reader *, struct uid_list **, size_t *,
		    struct error *);
static int	 read_getmail(struct reader *, struct uid_list **, size_t *,
		    struct error *);
static const char *base_name(const char *);

int
import_uids_format(const char *s, enum uid_format *fmt)
{
	if (strcmp(s, "mpop") == 0)
		*fmt = UIDFMT_MPOP;
	else if (strcmp(s, "fetchmail") == 0)
		*fmt = UIDFMT_FETCHMAIL;
	else if (strcmp(s, "getmail") == 0 || strcmp(s, "getmail6") == 0)
		*fmt = UIDFMT_GETMAIL;
	else
		return -1;
	return 0;
}

int
import_uids_read(enum uid_format fmt, const char *path,
    struct uid_list **lists, size_t *nlists, struct error *err)
{
	struct reader	r;
	int		rc;

	*lists = NULL;
	*nlists = 0;
	memset(&r, 0, sizeof r);
	r.path = path;
	RB_INIT(&r.keys);
	if ((r.f = open_regular(path, err)) == NULL)
		return -1;
	r.line = xmalloc(LINE_MAX_LEN + 1);
	switch (fmt) {
	case UIDFMT_MPOP:
		rc = read_mpop(&r, lists, nlists, err);
		break;
	case UIDFMT_FETCHMAIL:
		rc = read_fetchmail(&r, lists, nlists, err);
		break;
	default:
		rc = read_getmail(&r, lists, nlists, err);
		break;
	}
	if (rc == 0 && ferror(r.f)) {
		error_set(err, EX_IOERR, "%s: read error", path);
		rc = -1;
	}
	fclose(r.f);
	free(r.line);
	free_keys(&r);
	if (rc == -1) {
		import_uids_free(*lists, *nlists);
		*lists = NULL;
		*nlists = 0;
	}
	return rc;
}

void
import_uids_free(struct uid_list *v, size_t n)
{
	size_t	i, j;

	for (i = 0; i < n; i++) {
		for (j = 0; j < v[i].n; j++)
			free(v[i].uids[j]);
		free(v[i].uids);
		free(v[i].when);
		free(v[i].user);
		free(v[i].host);
		free(v[i].oldmail);
	}
	free(v);
}

int
import_uids_match(const struct uid_list *l, const struct account *a)
{
	char	*name;
	int	 same;

	if (a->host == NULL || a->pop.user == NULL)
		return 0;
	if (l->oldmail == NULL)
		return strcmp(l->user, a->pop.user) == 0 &&
		    strcasecmp(l->host, a->host) == 0;
	/* getmail6 names the file "oldmail-%s-%d-%s" % (server, port, user). */
	if (asprintf(&name, "oldmail-%s-%d-%s", a->host, account_port(a),
	    a->pop.user) == -1)
		fatalx("out of memory");
	same = strcmp(name, l->oldmail) == 0;
	free(name);
	return same;
}

int
import_uids_record(const struct uid_list *l, const struct account *a,
    size_t *added, size_t *known, struct error *err)
{
	struct uidstate	*us;
	char		*path;
	time_t		 now = time(NULL);
	size_t		 i;
	int		 rc = -1;

	*added = *known = 0;
	path = account_uidls_path(a);
	us = uidstate_open(path, a->lock_wait, err);
	if (us == NULL) {
		free(path);
		return -1;
	}
	if (would_fit(us, l, path, now, err) == -1)
		goto out;
	for (i = 0; i < l->n; i++) {
		if (uidstate_lookup(us, l->uids[i], NULL)) {
			(*known)++;
			continue;
		}
		if (uidstate_add(us, l->uids[i], l->when[i] != 0 ?
		    l->when[i] : now, err) == -1)
			goto out;
		(*added)++;
	}
	rc = uidstate_sync(us, err);
out:
	uidstate_close(us);
	free(path);
	return rc;
}

/* Refuse, before writing, a list that would make the state file larger
 * than uidstate_open reads back: the real UIDs there would go with it. */
static int
would_fit(struct uidstate *us, const struct uid_list *l, const char *path,
    time_t now, struct error *err)
{
	uint64_t	add = 0;
	size_t		i;
	char		stamp[32];

	for (i = 0; i < l->n; i++) {
		if (uidstate_lookup(us, l->uids[i], NULL))
			continue;
		/* The line uidstate_add writes: "<epoch> <uid>\n". */
		add += (uint64_t)snprintf(stamp, sizeof stamp, "%lld ",
		    (long long)(l->when[i] != 0 ? l->when[i] : now)) +
		    strlen(l->uids[i]) + 1;
	}
	if (uidstate_bytes(us) + add <= UIDSTATE_FILE_MAX)
		return 0;
	error_set(err, EX_DATAERR, "%zu UIDs would make the UID state %s "
	    "larger than the %d MiB popfetch reads back; nothing was written",
	    l->n, path, UIDSTATE_FILE_MAX / (1024 * 1024));
	return -1;
}

/* O_NONBLOCK and S_ISREG: a FIFO is refused at once, not waited on. */
static FILE *
open_regular(const char *path, struct error *err)
{
	struct stat	 st;
	FILE		*f;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1) {
		error_set(err, EX_NOINPUT, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		error_set(err, EX_NOINPUT, "%s: not a regular file", path);
		close(fd);
		return NULL;
	}
	if ((f = fdopen(fd, "r")) == NULL) {
		error_set(err, EX_OSERR, "%s: %s", path, strerror(errno));
		close(fd);
	}
	return f;
}

/*
 * The next line into r->line (newline removed, NUL bytes kept: getmail
 * has them); 0 at the end, -1 on error.  Never reads more than
 * LINE_MAX_LEN bytes of a line, nor more than IMPORT_FILE_MAX in all.
 */
static int
next_line(struct reader *r, struct error *err)
{
	int	c = EOF;

	r->len = 0;
	while (r->len <= LINE_MAX_LEN && (c = getc_unlocked(r->f)) != EOF &&
	    c != '\n')
		r->line[r->len++] = (char)c;
	if (c == EOF && r->len == 0)
		return 0;
	r->lineno++;
	r->total += r->len + 1;
	if (r->len > LINE_MAX_LEN) {
		error_set(err, EX_DATAERR, "%s:%d: line too long for a UID "
		    "state file (over %d bytes)", r->path, r->lineno,
		    LINE_MAX_LEN);
		return -1;
	}
	if (r->total > IMPORT_FILE_MAX) {
		error_set(err, EX_DATAERR, "%s: larger than %d MiB: more UIDs "
		    "than popfetch's state file holds", r->path,
		    IMPORT_FILE_MAX / (1024 * 1024));
		return -1;
	}
	r->line[r->len] = '\0';
	return 1;
}

static int
listkey_cmp(struct listkey *a, struct listkey *b)
{
	int	c;

	if ((c = strcmp(a->user, b->user)) != 0)
		return c;
	return strcmp(a->host, b->host);
}

static void
free_keys(struct reader *r)
{
	struct listkey	*k, *next;

	RB_FOREACH_SAFE(k, listtree, &r->keys, next) {
		RB_REMOVE(listtree, &r->keys, k);
		free(k);
	}
}

static struct uid_list *
new_list(struct reader *r, struct uid_list **v, size_t *n)
{
	struct uid_list	*l;

	if (*n == IMPORT_LISTS_MAX)
		return NULL;
	if (*n == r->caplists) {
		r->caplists = r->caplists == 0 ? 8 : r->caplists * 2;
		*v = xreallocarray(*v, r->caplists, sizeof **v);
	}
	l = &(*v)[(*n)++];
	memset(l, 0, sizeof *l);
	return l;
}

/* The list for user@host, made when new: a tree lookup per line, not a
 * scan of every list (40,000 mailboxes took 4.6 s). */
static struct uid_list *
fetchmail_list(struct reader *r, struct uid_list **v, size_t *n,
    const char *user, const char *host)
{
	struct listkey	 want, *k;
	struct uid_list	*l;

	want.user = user;
	want.host = host;
	if ((k = RB_FIND(listtree, &r->keys, &want)) != NULL)
		return &(*v)[k->idx];
	if ((l = new_list(r, v, n)) == NULL)
		return NULL;
	l->user = xstrdup(user);
	l->host = xstrdup(host);
	k = xcalloc(1, sizeof *k);
	k->user = l->user;
	k->host = l->host;
	k->idx = *n - 1;
	RB_INSERT(listtree, &r->keys, k);
	return l;
}

static int
add_uid(struct reader *r, struct uid_list *l, const char *uid, size_t len,
    time_t when, struct error *err)
{
	if (!uid_valid(uid, len) || memchr(uid, '\0', len) != NULL) {
		error_set(err, EX_DATAERR, "%s:%d: not a POP3 UID (1-70 "
		    "printable characters)", r->path, r->lineno);
		return -1;
	}
	if (++r->nuids > IMPORT_UIDS_MAX) {
		error_set(err, EX_DATAERR, "%s:%d: more than %d UIDs: more "
		    "than popfetch imports at once", r->path, r->lineno,
		    IMPORT_UIDS_MAX);
		return -1;
	}
	/* Grown at each power of two: linear in all. */
	if ((l->n & (l->n - 1)) == 0) {
		l->uids = xreallocarray(l->uids, l->n == 0 ? 1 : l->n * 2,
		    sizeof *l->uids);
		l->when = xreallocarray(l->when, l->n == 0 ? 1 : l->n * 2,
		    sizeof *l->when);
	}
	l->uids[l->n] = xstrndup(uid, len);
	l->when[l->n] = when;
	l->n++;
	return 0;
}

/*
 * mpop 1.4 (uidls.c): comment lines, then " COUNT HOST USER" and COUNT
 * UIDs.  The user is the rest of the line: it may hold spaces.
 */
static int
read_mpop(struct reader *r, struct uid_list **v, size_t *n,
    struct error *err)
{
	struct uid_list	*l = NULL;
	unsigned long	 want = 0;
	char		*p, *host, *end;
	int		 rc;

	while ((rc = next_line(r, err)) == 1) {
		if (r->line[0] == '#' && l == NULL)
			continue;
		if (r->line[0] == ' ') {
			if (l != NULL && l->n != want)
				goto short_list;
			errno = 0;
			want = strtoul(r->line + 1, &end, 10);
			if (end == r->line + 1 || *end != ' ' || errno != 0)
				goto bad;
			host = end + 1;
			if ((p = strchr(host, ' ')) == NULL || p == host ||
			    p[1] == '\0')
				goto bad;
			if ((l = new_list(r, v, n)) == NULL)
				goto too_many;
			l->host = xstrndup(host, p - host);
			l->user = xstrdup(p + 1);
			continue;
		}
		if (l == NULL || l->n == want)
			goto bad;
		if (add_uid(r, l, r->line, r->len, 0, err) == -1)
			return -1;
	}
	if (rc == -1)
		return -1;
	if (l != NULL && l->n != want)
		goto short_list;
	return 0;
short_list:
	error_set(err, EX_DATAERR, "%s:%d: the list of %s@%s is shorter than "
	    "its count (%lu): a cut-off file?", r->path, r->lineno, l->user,
	    l->host, want);
	return -1;
too_many:
	error_set(err, EX_DATAERR, "%s:%d: more than %d mailboxes: more than "
	    "popfetch imports at once", r->path, r->lineno, IMPORT_LISTS_MAX);
	return -1;
bad:
	error_set(err, EX_DATAERR, "%s:%d: not an mpop uidls file (expected "
	    "\" COUNT HOST USER\" or a UID)", r->path, r->lineno);
	return -1;
}

/*
 * fetchmail 6 (uid.c): "USER@HOST UID" per line.  A user may hold "@"
 * (user@example.com@pop.example.com), a host never: the last "@" of the
 * first word splits them.  One list per USER@HOST, in file order.
 */
static int
read_fetchmail(struct reader *r, struct uid_list **v, size_t *n,
    struct error *err)
{
	struct uid_list	*l;
	char		*sp, *at, *uid;
	int		 rc;

	while ((rc = next_line(r, err)) == 1) {
		if (r->len == 0)
			continue;
		if ((sp = strchr(r->line, ' ')) == NULL)
			goto bad;
		*sp = '\0';
		uid = sp + 1;
		if ((at = strrchr(r->line, '@')) == NULL || at == r->line ||
		    at[1] == '\0')
			goto bad;
		*at = '\0';
		if ((l = fetchmail_list(r, v, n, r->line, at + 1)) == NULL) {
			error_set(err, EX_DATAERR, "%s:%d: more than %d "
			    "mailboxes: more than popfetch imports at once",
			    r->path, r->lineno, IMPORT_LISTS_MAX);
			return -1;
		}
		if (add_uid(r, l, uid, strlen(uid), 0, err) == -1)
			return -1;
	}
	return rc == -1 ? -1 : 0;
bad:
	error_set(err, EX_DATAERR, "%s:%d: not a fetchmail .fetchids line "
	    "(expected \"USER@HOST UID\")", r->path, r->lineno);
	return -1;
}

/* getmail6 (_retrieverbases.py): "UID\0EPOCH" per line; the file names the mailbox. */
static int
read_getmail(struct reader *r, struct uid_list **v, size_t *n,
    struct error *err)
{
	struct uid_list	*l;
	const char	*base = base_name(r->path), *when;
	char		*nul, *end;
	long long	 t;
	int		 rc;

	if (strncmp(base, "oldmail-", 8) != 0 || base[8] == '\0') {
		error_set(err, EX_DATAERR, "%s: not a getmail state file (its "
		    "name is oldmail-HOST-PORT-USER)", r->path);
		return -1;
	}
	l = new_list(r, v, n);
	l->oldmail = xstrdup(base);
	while ((rc = next_line(r, err)) == 1) {
		if (r->len == 0)
			continue;
		if ((nul = memchr(r->line, '\0', r->len)) == NULL)
			goto bad;
		when = nul + 1;
		errno = 0;
		t = strtoll(when, &end, 10);
		if (end == when || *end != '\0' || errno != 0 || t < 0 ||
		    (size_t)(end - r->line) != r->len)
			goto bad;
		if (add_uid(r, l, r->line, nul - r->line, (time_t)t, err) == -1)
			return -1;
	}
	return rc == -1 ? -1 : 0;
bad:
	error_set(err, EX_DATAERR, "%s:%d: not a getmail oldmail line "
	    "(expected UID, a NUL byte and a time)", r->path, r->lineno);
	return -1;
}

static const char *
base_name(const char *path)
{
	const char	*s = strrchr(path, '/');

	return s != NULL ? s + 1 : path;
}
