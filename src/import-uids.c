/* import-uids.c -- other fetchers' UID state into popfetch's; see import-uids.h. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "import-uids.h"
#include "log.h"
#include "uid.h"
#include "uidstate.h"
#include "xmalloc.h"

/* A state file line is short; anything longer is not one of these files. */
#define LINE_MAX_LEN	4096

struct reader {
	FILE		*f;
	const char	*path;
	int		 lineno;
	char		*line;
	size_t		 cap;
	size_t		 len;		/* of the line, without the newline */
};

static int	 next_line(struct reader *, struct error *);
static struct uid_list *new_list(struct uid_list **, size_t *);
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
	if ((r.f = fopen(path, "r")) == NULL) {
		error_set(err, EX_NOINPUT, "%s: %s", path, strerror(errno));
		return -1;
	}
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

	if (a->host == NULL || a->user == NULL)
		return 0;
	if (l->oldmail == NULL)
		return strcmp(l->user, a->user) == 0 &&
		    strcasecmp(l->host, a->host) == 0;
	/* getmail6 names the file "oldmail-%s-%d-%s" % (server, port, user). */
	if (asprintf(&name, "oldmail-%s-%d-%s", a->host, account_port(a),
	    a->user) == -1)
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
	free(path);
	if (us == NULL)
		return -1;
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
	return rc;
}

/* The next line into r->line (newline removed); 0 at the end, -1 on error. */
static int
next_line(struct reader *r, struct error *err)
{
	ssize_t	n;

	if ((n = getline(&r->line, &r->cap, r->f)) == -1)
		return 0;
	r->lineno++;
	if (n > LINE_MAX_LEN) {
		error_set(err, EX_DATAERR, "%s:%d: line too long for a UID "
		    "state file", r->path, r->lineno);
		return -1;
	}
	if (n > 0 && r->line[n - 1] == '\n')
		r->line[--n] = '\0';
	r->len = (size_t)n;
	return 1;
}

static struct uid_list *
new_list(struct uid_list **v, size_t *n)
{
	struct uid_list	*l;

	*v = xreallocarray(*v, *n + 1, sizeof **v);
	l = &(*v)[(*n)++];
	memset(l, 0, sizeof *l);
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
	l->uids = xreallocarray(l->uids, l->n + 1, sizeof *l->uids);
	l->when = xreallocarray(l->when, l->n + 1, sizeof *l->when);
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
			l = new_list(v, n);
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
	size_t		 i;
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
		for (i = 0, l = NULL; i < *n; i++)
			if (strcmp((*v)[i].user, r->line) == 0 &&
			    strcmp((*v)[i].host, at + 1) == 0)
				l = &(*v)[i];
		if (l == NULL) {
			l = new_list(v, n);
			l->user = xstrdup(r->line);
			l->host = xstrdup(at + 1);
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
	l = new_list(v, n);
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
