/* tokenstore.c -- OAuth tokens on disk; see tokenstore.h. */
#include "config.h"

#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json_object.h>
#include <json-c/json_tokener.h>

#include "log.h"
#include "tokenstore.h"
#include "xio.h"
#include "xmalloc.h"

/* A token file is small; a bigger one is not ours. */
#define TOKENFILE_MAX	(64 * 1024)

static int	check_file(int, const char *, struct error *);
static int	parse(const char *, const char *, struct tokens *,
		    struct error *);
static char	*get_string(struct json_object *, const char *);

int
tokenstore_lock(const char *path, int wait, struct error *err)
{
	struct timespec	 nap = { 0, 100 * 1000 * 1000 };
	time_t		 deadline = time(NULL) + wait;
	char		*lockpath;
	int		 fd, said = 0;

	if (xmkdir_parents(path, "the OAuth tokens", err) == -1)
		return -1;
	xasprintf(&lockpath, "%s.lock", path);
	/* O_NONBLOCK: a FIFO put there must not hang the run in open(). */
	fd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NONBLOCK |
	    O_NOFOLLOW, 0600);
	if (fd == -1) {
		error_set(err, EX_CANTCREAT, "cannot open %s: %s", lockpath,
		    strerror(errno));
		goto fail;
	}
	if (check_file(fd, lockpath, err) == -1)
		goto fail;
	while (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			error_set(err, EX_IOERR, "cannot lock %s: %s",
			    lockpath, strerror(errno));
			goto fail;
		}
		if (!said++)
			log_debug(NULL, "%s is locked by another run; "
			    "waiting", lockpath);
		if (time(NULL) >= deadline) {
			error_set(err, EX_TEMPFAIL, "another popfetch run "
			    "holds %s; try again later", lockpath);
			goto fail;
		}
		nanosleep(&nap, NULL);
	}
	free(lockpath);
	return fd;
fail:
	if (fd != -1)
		close(fd);
	free(lockpath);
	return -1;
}

/* A regular file, private to its owner; else err. */
static int
check_file(int fd, const char *path, struct error *err)
{
	struct stat	st;

	if (fstat(fd, &st) == -1) {
		error_set(err, EX_IOERR, "cannot stat %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		error_set(err, EX_DATAERR, "%s is not a regular file; remove "
		    "it or point oauth2_token_file elsewhere", path);
		return -1;
	}
	if ((st.st_mode & 077) != 0) {
		error_set(err, EX_NOPERM, "%s may be read by others (mode "
		    "%03o); it holds OAuth tokens: chmod 600 it, and run "
		    "popfetch --authorize again if others may have read it",
		    path, (unsigned)(st.st_mode & 0777));
		return -1;
	}
	return 0;
}

int
tokenstore_read(const char *path, struct tokens *t, struct error *err)
{
	char	*buf;
	size_t	 got = 0;
	ssize_t	 n;
	int	 fd, rc = -1;

	memset(t, 0, sizeof *t);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
	if (fd == -1 && errno == ENOENT)
		return 1;
	if (fd == -1) {
		error_set(err, EX_IOERR, "cannot open %s: %s", path,
		    strerror(errno));
		return -1;
	}
	buf = xmalloc(TOKENFILE_MAX + 1);
	if (check_file(fd, path, err) == -1)
		goto out;
	if ((n = read_bounded(fd, buf, TOKENFILE_MAX + 1, &got)) == -1) {
		error_set(err, EX_IOERR, "cannot read %s: %s", path,
		    strerror(errno));
		goto out;
	}
	if ((got = (size_t)n) > TOKENFILE_MAX) {
		error_set(err, EX_DATAERR, "%s is too big for a token file",
		    path);
		goto out;
	}
	buf[got] = '\0';
	rc = parse(path, buf, t, err);
out:
	freezero(buf, TOKENFILE_MAX + 1);
	close(fd);
	return rc;
}

/* A string member of o, copied, or NULL when missing or not a string. */
static char *
get_string(struct json_object *o, const char *key)
{
	struct json_object	*v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return xstrdup(json_object_get_string(v));
}

static int
parse(const char *path, const char *text, struct tokens *t,
    struct error *err)
{
	struct json_object	*o, *v;

	o = json_tokener_parse(text);
	if (o == NULL || !json_object_is_type(o, json_type_object)) {
		error_set(err, EX_DATAERR, "%s is not a popfetch token file; "
		    "remove it and run popfetch --authorize", path);
		json_object_put(o);
		return -1;
	}
	t->access = get_string(o, "access_token");
	t->refresh = get_string(o, "refresh_token");
	if (json_object_object_get_ex(o, "expires_at", &v) &&
	    json_object_is_type(v, json_type_int))
		t->expires_at = json_object_get_int64(v);
	json_object_put(o);
	return 0;
}

int
tokenstore_write(const char *path, const struct tokens *t,
    struct error *err)
{
	struct json_object	*o;
	const char		*text;
	char			*tmp;
	int			 fd, rc = -1;

	if (xmkdir_parents(path, "the OAuth tokens", err) == -1)
		return -1;
	o = json_object_new_object();
	if (t->access != NULL)
		json_object_object_add(o, "access_token",
		    json_object_new_string(t->access));
	if (t->refresh != NULL)
		json_object_object_add(o, "refresh_token",
		    json_object_new_string(t->refresh));
	json_object_object_add(o, "expires_at",
	    json_object_new_int64(t->expires_at));
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
	xasprintf(&tmp, "%s.tmp", path);
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd == -1) {
		error_set(err, EX_CANTCREAT, "cannot create %s: %s", tmp,
		    strerror(errno));
		goto out;
	}
	if (xwrite_all(fd, text, strlen(text)) == -1 ||
	    xwrite_all(fd, "\n", 1) == -1 || fsync(fd) == -1) {
		error_set(err, EX_IOERR, "cannot write %s: %s", tmp,
		    strerror(errno));
		close(fd);
		(void)unlink(tmp);
		goto out;
	}
	if (close(fd) == -1 || rename(tmp, path) == -1 ||
	    xsync_parent(path) == -1) {
		error_set(err, EX_IOERR, "cannot replace %s: %s", path,
		    strerror(errno));
		(void)unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	/* The text held the tokens. */
	explicit_bzero((char *)text, strlen(text));
	json_object_put(o);
	free(tmp);
	return rc;
}

void
tokens_free(struct tokens *t)
{
	freezero_str(t->access);
	freezero_str(t->refresh);
	memset(t, 0, sizeof *t);
}
