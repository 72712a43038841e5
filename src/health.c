/* health.c -- per-account status records; see health.h. */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "account.h"
#include "health.h"
#include "json.h"
#include "mono.h"
#include "proc.h"
#include "xio.h"
#include "xmalloc.h"

/* A record is a few hundred bytes; anything this large is not one. */
#define RECORD_MAX	(64 * 1024)

static int	write_atomic(const char *, const struct buf *, struct error *);
static int	parse_record(const char *, size_t, struct health_record *);
static int64_t	get_int(struct json_object *, const char *, int *);
static const char *change_name(enum health_change);

char *
health_path(const char *name)
{
	char		*state, *dir, *path, *safe, *p;

	state = account_state_dir();
	xasprintf(&dir, "%s/status", state);
	free(state);
	/* One path component: no '/', and no leading '.' (no "..") */
	safe = xstrdup(name);
	for (p = safe; *p != '\0'; p++)
		if (*p == '/' || (p == safe && *p == '.'))
			*p = '_';
	xasprintf(&path, "%s/%s.json", dir, safe);
	free(safe);
	free(dir);
	return path;
}

/* Temporary file, fsync, rename over path, fsync the directory. */
static int
write_atomic(const char *path, const struct buf *b, struct error *err)
{
	char	*tmp;
	int	 fd, rv = -1;

	xasprintf(&tmp, "%s.tmp.%ld", path, (long)getpid());
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) == -1) {
		error_set(err, EX_CANTCREAT, "status record %s: %s", tmp,
		    strerror(errno));
		goto out;
	}
	if (xwrite_all(fd, b->data, b->len) == -1 || fsync(fd) == -1) {
		error_set(err, EX_IOERR, "status record %s: %s", tmp,
		    strerror(errno != 0 ? errno : EIO));
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	if (rename(tmp, path) == -1) {
		error_set(err, EX_CANTCREAT, "status record %s: %s", path,
		    strerror(errno));
		unlink(tmp);
		goto out;
	}
	(void)xsync_parent(path);
	rv = 0;
out:
	free(tmp);
	return rv;
}

/* An integer member; *bad set if it is there but not an integer. */
static int64_t
get_int(struct json_object *o, const char *key, int *bad)
{
	struct json_object	*v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < 0) {
		*bad = 1;
		return 0;
	}
	return json_object_get_int64(v);
}

static int
parse_record(const char *text, size_t len, struct health_record *r)
{
	struct json_tokener	*tok;
	struct json_object	*o, *v;
	int			 bad = 0;

	memset(r, 0, sizeof *r);
	if ((tok = json_tokener_new()) == NULL)
		return -1;
	o = json_tokener_parse_ex(tok, text, (int)len);
	json_tokener_free(tok);
	if (o == NULL || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return -1;
	}
	r->last_attempt = (time_t)get_int(o, "last_attempt", &bad);
	r->last_success = (time_t)get_int(o, "last_success", &bad);
	r->ex = (int)get_int(o, "exit", &bad);
	r->messages = (unsigned long)get_int(o, "messages", &bad);
	r->bytes = (uint64_t)get_int(o, "bytes", &bad);
	r->failures = (unsigned long)get_int(o, "consecutive_failures", &bad);
	/* Older records lack it: 0. */
	r->set_aside = (unsigned long)get_int(o, "set_aside", &bad);
	if (json_object_object_get_ex(o, "needs_authorize", &v))
		r->needs_authorize = json_object_get_boolean(v);
	if (json_object_object_get_ex(o, "error", &v) &&
	    json_object_is_type(v, json_type_string))
		strlcpy(r->error, json_object_get_string(v), sizeof r->error);
	if (get_int(o, "version", &bad) != 1)
		bad = 1;
	json_object_put(o);
	return bad ? -1 : 0;
}

int
health_read(const char *name, struct health_record *r, struct error *err)
{
	struct stat	 st;
	char		*path, *text = NULL;
	size_t		 len = 0;
	int		 fd, rv = -1;

	memset(r, 0, sizeof *r);
	path = health_path(name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1) {
		if (errno == ENOENT)
			rv = 0;
		else
			error_set(err, EX_IOERR, "%s: %s", path,
			    strerror(errno));
		goto out;
	}
	text = xmalloc(RECORD_MAX + 1);
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode))
		error_set(err, EX_DATAERR, "%s: not a regular file", path);
	else if (read_bounded(fd, text, RECORD_MAX + 1, &len) == -1)
		error_set(err, EX_IOERR, "%s: %s", path, strerror(errno));
	else if (len > RECORD_MAX || parse_record(text, len, r) == -1)
		error_set(err, EX_DATAERR, "%s: not a status record; remove "
		    "it (the next poll writes a new one)", path);
	else
		rv = 1;
	close(fd);
out:
	free(text);
	free(path);
	return rv;
}

void
health_json(struct buf *b, const char *name, const struct health_record *r)
{
	buf_addstr(b, "{\"version\":1,\"account\":");
	json_string(b, name);
	buf_printf(b, ",\"last_attempt\":%lld,\"last_success\":",
	    (long long)r->last_attempt);
	if (r->last_success != 0)
		buf_printf(b, "%lld", (long long)r->last_success);
	else
		buf_addstr(b, "null");
	buf_printf(b, ",\"result\":\"%s\",\"exit\":%d,\"messages\":%lu,"
	    "\"bytes\":%llu,\"consecutive_failures\":%lu,\"error\":",
	    json_exit_class(r->ex), r->ex, r->messages,
	    (unsigned long long)r->bytes, r->failures);
	if (r->error[0] != '\0')
		json_string(b, r->error);
	else
		buf_addstr(b, "null");
	buf_printf(b, ",\"set_aside\":%lu,\"needs_authorize\":%s}",
	    r->set_aside, r->needs_authorize ? "true" : "false");
}

int
health_update(const char *name, const struct fetch_stats *st, int rc,
    const struct error *err, int needs_authorize,
    enum health_change *change, struct error *werr)
{
	struct health_record	 old, r;
	struct error		 rerr;
	struct buf		 b;
	char			*path;
	int			 had, was_failing, rv;

	error_clear(&rerr);
	/* An unreadable old record counts as none: this one replaces it. */
	if ((had = health_read(name, &old, &rerr)) != 1)
		memset(&old, 0, sizeof old);
	was_failing = had == 1 && old.failures > 0;
	memset(&r, 0, sizeof r);
	r.last_attempt = time(NULL);
	r.messages = st->fetched;
	r.bytes = st->bytes;
	r.set_aside = st->set_aside;
	if (rc == 0) {
		r.last_success = r.last_attempt;
		*change = was_failing ? HEALTH_RECOVERED : HEALTH_SAME;
	} else {
		r.last_success = old.last_success;
		r.ex = err->ex != 0 ? err->ex : EX_SOFTWARE;
		r.failures = old.failures + 1;
		r.needs_authorize = needs_authorize;
		strlcpy(r.error, err->msg, sizeof r.error);
		if (needs_authorize && !old.needs_authorize)
			*change = HEALTH_AUTHORIZE;
		else
			*change = was_failing ? HEALTH_SAME : HEALTH_FAILING;
	}
	buf_init(&b);
	health_json(&b, name, &r);
	buf_add(&b, "\n", 1);
	path = health_path(name);
	rv = xmkdir_parents(path, "the status record", werr) == -1 ? -1 : write_atomic(path, &b, werr);
	free(path);
	buf_free(&b);
	return rv;
}

int
health_judge(const struct health_record *r, unsigned long max_failures,
    long max_age, time_t now, char *why, size_t whylen)
{
	if (r->needs_authorize) {
		snprintf(why, whylen, "needs authorizing again: %s", r->error);
		return 0;
	}
	if (max_failures > 0 && r->failures >= max_failures) {
		snprintf(why, whylen, "%lu failure%s in a row: %s",
		    r->failures, r->failures == 1 ? "" : "s", r->error);
		return 0;
	}
	if (max_age > 0 && (r->last_success == 0 ||
	    now - r->last_success > max_age)) {
		if (r->last_success == 0)
			snprintf(why, whylen, "no successful poll yet");
		else
			snprintf(why, whylen, "last successful poll %lld s "
			    "ago", (long long)(now - r->last_success));
		return 0;
	}
	return 1;
}

static const char *
change_name(enum health_change c)
{
	switch (c) {
	case HEALTH_FAILING:	return "failing";
	case HEALTH_AUTHORIZE:	return "needs_authorize";
	case HEALTH_RECOVERED:	return "working";
	case HEALTH_SAME:	break;
	}
	return "same";
}

int
health_hook(const char *cmd, const char *name, enum health_change c, int ex,
    const char *msg, int timeout, struct error *err)
{
	struct proc_spec	 spec = { .cmd = cmd, .own_group = 1 };
	char			*set[5], **env;
	long long		 deadline;
	pid_t			 pid;
	int			 status, rc, i;

	xasprintf(&set[0], "POPFETCH_ACCOUNT=%s", name);
	xasprintf(&set[1], "POPFETCH_STATE=%s", change_name(c));
	xasprintf(&set[2], "POPFETCH_EXIT=%d", ex);
	xasprintf(&set[3], "POPFETCH_MESSAGE=%s", msg != NULL ? msg : "");
	set[4] = NULL;
	env = proc_env((const char *const *)set, NULL);
	spec.env = env;
	if ((spec.in = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1 ||
	    proc_spawn(&spec, &pid) == -1) {
		error_set(err, EX_OSERR, "on_failure: cannot run /bin/sh: %s",
		    strerror(errno));
		goto out;
	}
	deadline = mono_now_ms() + (long long)timeout * 1000;
	if ((rc = proc_wait_or_stop(pid, &status, deadline, 1, 0)) != 1) {
		error_set(err, EX_TEMPFAIL, "on_failure command did not "
		    "finish within %d seconds and was killed", timeout);
	} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		error_set(err, EX_SOFTWARE, "on_failure command failed "
		    "(status %d)", WIFEXITED(status) ? WEXITSTATUS(status) :
		    128 + WTERMSIG(status));
out:
	if (spec.in != -1)
		close(spec.in);
	free(env);
	for (i = 0; i < 4; i++)
		free(set[i]);
	return error_isset(err) ? -1 : 0;
}
