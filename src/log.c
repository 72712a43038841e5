/* log.c -- user-facing messages and the protocol trace; see log.h. */
#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "jsonw.h"
#include "log.h"
#include "termsafe.h"

#define LOG_LINE_MAX	2048
#define TRACE_SHOW_MAX	200

static void	emit(int, int, const char *, const char *, const char *,
		    va_list) __attribute__((format(printf, 5, 0)));

static void	to_targets(int, const char *, const char *, size_t);
static const char *level_name(int);
static void	json_head(struct buf *, const char *, const char *);
static void	emit_json(int, int, const char *, const char *);
static void	write_json(int, const char *, const struct buf *);
static void	to_daemon_files(const char *, size_t);
static void	stamp_write(int, const char *, size_t);
static int	open_logfile(const char *, struct error *);
static void	once_map(void);
static uint64_t	once_hash(const char *);

static enum log_level	cur_level = LOG_NORMAL;
static int		cur_debug;
static int		out_fd = STDOUT_FILENO;	/* stderr with --json */
static int		logfile_fd = -1;
static int		syslog_on;
static enum log_format	cur_format = LOG_FORMAT_TEXT;
static enum log_format	base_format = LOG_FORMAT_TEXT;
/* --daemon: where lines about no account go (log_daemon_targets). */
static char		**daemon_files;
static size_t		  ndaemon_files;
static int		  daemon_facility = -1;

void
log_init(enum log_level level, int debug)
{
	cur_level = level;
	cur_debug = debug;
	once_map();
}

/*
 * log_once()'s table: per slot the hashes of the account and of what was
 * said, in memory shared with the children forked later, so that what one
 * poll's child said the next one knows.  Two children racing may both say
 * it: a repeat, nothing worse.
 */
struct once_slot {
	uint64_t	acct;
	uint64_t	what;
};
static struct once_slot	*once_seen;

static void
once_map(void)
{
	void	*m;

	if (once_seen != NULL)
		return;
	m = mmap(NULL, LOG_ONCE_MAX * sizeof *once_seen, PROT_READ |
	    PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (m != MAP_FAILED)
		once_seen = m;
}

/* FNV-1a; 0 marks a free slot, so never 0. */
static uint64_t
once_hash(const char *s)
{
	uint64_t	h = 14695981039346656037ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h != 0 ? h : 1;
}

int
log_once(const char *acct, const char *what)
{
	uint64_t	ha, hw;
	size_t		i;

	once_map();
	if (once_seen == NULL)
		return 1;
	ha = once_hash(acct != NULL ? acct : "");
	hw = once_hash(what);
	for (i = 0; i < LOG_ONCE_MAX; i++) {
		if (once_seen[i].acct == ha && once_seen[i].what == hw)
			return 0;
		if (once_seen[i].acct == 0) {
			once_seen[i].acct = ha;
			once_seen[i].what = hw;
			return 1;
		}
	}
	return 1;
}

void
log_once_forget(const char *acct)
{
	uint64_t	ha;
	size_t		i, j;

	if (once_seen == NULL)
		return;
	ha = once_hash(acct != NULL ? acct : "");
	/* Keep the used slots packed: the search stops at the first free. */
	for (i = j = 0; i < LOG_ONCE_MAX && once_seen[i].acct != 0; i++)
		if (once_seen[i].acct != ha)
			once_seen[j++] = once_seen[i];
	for (; j < i; j++)
		memset(&once_seen[j], 0, sizeof once_seen[j]);
}

void
log_warn_once(const char *acct, const char *fmt, ...)
{
	char	msg[LOG_LINE_MAX];
	va_list	ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (log_once(acct, msg))
		log_warn(acct, "%s", msg);
}

enum log_level
log_level(void)
{
	return cur_level;
}

int
log_debugging(void)
{
	return cur_debug;
}

/*
 * Format "acct: tag message\n" and write it with a single write(2); in
 * the JSON format, write an object of event "log" instead (syslog always
 * gets the text).
 */
static void
emit(int fd, int prio, const char *acct, const char *tag, const char *fmt,
    va_list ap)
{
	char	line[LOG_LINE_MAX], msg[LOG_LINE_MAX];
	int	n;
	size_t	len;

	if (vsnprintf(msg, sizeof msg, fmt, ap) < 0)
		msg[0] = '\0';
	n = snprintf(line, sizeof line, "%s: %s%s", acct != NULL ? acct :
	    "popfetch", tag, msg);
	len = n < 0 ? 0 : (size_t)n;
	if (len > sizeof line - 2)
		len = sizeof line - 2;
	line[len++] = '\n';
	if (cur_format == LOG_FORMAT_JSON) {
		emit_json(fd, prio, acct, msg);
		if (syslog_on)
			syslog(prio, "%.*s", (int)len - 1, line);
		return;
	}
	(void)!write(fd, line, len);
	to_targets(prio, acct, line, len);
}

static const char *
level_name(int prio)
{
	switch (prio) {
	case LOG_ERR:		return "error";
	case LOG_WARNING:	return "warning";
	case LOG_DEBUG:		return "debug";
	default:		return "info";
	}
}

/* The start of every JSON line: time, account and event. */
static void
json_head(struct buf *b, const char *acct, const char *event)
{
	char		when[40];
	struct timespec	ts;
	struct tm	tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
	buf_printf(b, "{\"time\":\"%s.%03ldZ\"", when, ts.tv_nsec / 1000000);
	jsonw_str(b, "account", acct);
	jsonw_str(b, "event", event);
}

static void
emit_json(int fd, int prio, const char *acct, const char *msg)
{
	struct buf	b;

	buf_init(&b);
	json_head(&b, acct, "log");
	jsonw_str(&b, "level", level_name(prio));
	jsonw_str(&b, "message", msg);
	buf_addstr(&b, "}\n");
	write_json(fd, acct, &b);
	buf_free(&b);
}

/* One JSON line to fd and to the logfile (or the daemon's files). */
static void
write_json(int fd, const char *acct, const struct buf *b)
{
	struct error	err;
	size_t		i;
	int		lfd;

	(void)!write(fd, b->data, b->len);
	if (logfile_fd != -1) {
		(void)!write(logfile_fd, b->data, b->len);
		return;
	}
	if (acct != NULL || syslog_on)
		return;
	for (i = 0; i < ndaemon_files; i++) {
		error_clear(&err);
		if ((lfd = open_logfile(daemon_files[i], &err)) == -1)
			continue;
		(void)!write(lfd, b->data, b->len);
		close(lfd);
	}
}

void
log_set_format(enum log_format f)
{
	cur_format = f;
}

void
log_base_format(enum log_format f)
{
	base_format = cur_format = f;
}

int
log_events_on(void)
{
	return cur_format == LOG_FORMAT_JSON;
}

void
log_event(const char *acct, const char *event, const struct buf *fields)
{
	struct buf	b;

	if (cur_format != LOG_FORMAT_JSON)
		return;
	buf_init(&b);
	json_head(&b, acct, event);
	if (fields != NULL && fields->len > 0)
		buf_add(&b, fields->data, fields->len);
	buf_addstr(&b, "}\n");
	write_json(out_fd, acct, &b);
	buf_free(&b);
}

/* A time stamp and the line, to a logfile. */
static void
stamp_write(int fd, const char *line, size_t len)
{
	char		stamp[64];
	struct tm	tm;
	time_t		now;
	int		n;

	now = time(NULL);
	localtime_r(&now, &tm);
	n = (int)strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S ", &tm);
	/* Two writes, but O_APPEND keeps each where it belongs. */
	(void)!write(fd, stamp, (size_t)n);
	(void)!write(fd, line, len);
}

/*
 * The same line to the account's logfile and syslog, if it has them; a
 * daemon's own line (no account, no account's log in use) to the
 * daemon's files and syslog.
 */
static void
to_targets(int prio, const char *acct, const char *line, size_t len)
{
	if (logfile_fd != -1)
		stamp_write(logfile_fd, line, len);
	if (syslog_on)
		syslog(prio, "%.*s", (int)len - 1, line);
	if (acct != NULL || logfile_fd != -1 || syslog_on)
		return;
	to_daemon_files(line, len);
	if (daemon_facility != -1) {
		openlog("popfetch", LOG_PID, daemon_facility);
		syslog(prio, "%.*s", (int)len - 1, line);
		closelog();
	}
}

/*
 * Each file is opened for the line and closed again: a file logrotate
 * renamed is replaced by a new one at the next line.  A file that cannot
 * be opened is skipped (its account's own poll reports it).
 */
static void
to_daemon_files(const char *line, size_t len)
{
	struct error	err;
	size_t		i;
	int		fd;

	for (i = 0; i < ndaemon_files; i++) {
		error_clear(&err);
		if ((fd = open_logfile(daemon_files[i], &err)) == -1)
			continue;
		stamp_write(fd, line, len);
		close(fd);
	}
}

void
log_daemon_targets(const char *const *files, size_t n, int facility)
{
	size_t	i, j;

	for (i = 0; i < ndaemon_files; i++)
		free(daemon_files[i]);
	free(daemon_files);
	daemon_files = NULL;
	ndaemon_files = 0;
	daemon_facility = facility;
	if (n == 0)
		return;
	if ((daemon_files = calloc(n, sizeof *daemon_files)) == NULL)
		return;
	for (i = 0; i < n; i++) {
		for (j = 0; j < ndaemon_files; j++)
			if (strcmp(daemon_files[j], files[i]) == 0)
				break;
		if (j < ndaemon_files)
			continue;	/* one line per file, however shared */
		if ((daemon_files[ndaemon_files] = strdup(files[i])) == NULL)
			break;
		ndaemon_files++;
	}
}

void
log_reserve_stdout(void)
{
	out_fd = STDERR_FILENO;
}

/* Whether st is /dev/null, the one file besides a regular one allowed. */
static int
is_dev_null(const struct stat *st)
{
	struct stat	null;

	return S_ISCHR(st->st_mode) && stat("/dev/null", &null) == 0 &&
	    S_ISCHR(null.st_mode) && st->st_rdev == null.st_rdev;
}

/*
 * Open the logfile for appending.  O_NONBLOCK: opening a FIFO would
 * otherwise wait for a reader for ever (with no reader it fails at once
 * with ENXIO); then only a regular file or /dev/null is taken -- a FIFO,
 * socket, terminal or other device is not a log.
 */
static int
open_logfile(const char *path, struct error *err)
{
	struct stat	st;
	int		fd, flags;

	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NOCTTY | O_NONBLOCK, 0600)) == -1) {
		if (errno == ENXIO)
			error_set(err, EX_CANTCREAT, "logfile %s: not a "
			    "regular file (a FIFO or socket); name a file",
			    path);
		else
			error_set(err, EX_CANTCREAT, "logfile %s: %s", path,
			    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || (!S_ISREG(st.st_mode) &&
	    !is_dev_null(&st))) {
		error_set(err, EX_CANTCREAT, "logfile %s: not a regular file; "
		    "name a file (or /dev/null)", path);
		close(fd);
		return -1;
	}
	if ((flags = fcntl(fd, F_GETFL)) != -1)
		(void)fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	return fd;
}

int
log_targets(const char *logfile, int facility, struct error *err)
{
	if (logfile_fd != -1)
		close(logfile_fd);
	logfile_fd = -1;
	if (syslog_on)
		closelog();
	syslog_on = 0;
	if (logfile == NULL && facility == -1)
		cur_format = base_format;	/* no account's any more */
	if (logfile != NULL && (logfile_fd = open_logfile(logfile, err)) == -1)
		return -1;
	if (facility != -1) {
		openlog("popfetch", LOG_PID, facility);
		syslog_on = 1;
	}
	return 0;
}

void
log_error(const char *acct, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	emit(STDERR_FILENO, LOG_ERR, acct, "", fmt, ap);
	va_end(ap);
}

void
log_warn(const char *acct, const char *fmt, ...)
{
	va_list	ap;

	if (cur_level < LOG_NORMAL)
		return;
	va_start(ap, fmt);
	emit(STDERR_FILENO, LOG_WARNING, acct, "warning: ", fmt, ap);
	va_end(ap);
}

void
log_info(const char *acct, const char *fmt, ...)
{
	va_list	ap;

	if (cur_level < LOG_NORMAL)
		return;
	va_start(ap, fmt);
	emit(out_fd, LOG_INFO, acct, "", fmt, ap);
	va_end(ap);
}

void
log_result(const char *acct, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	emit(out_fd, LOG_INFO, acct, "", fmt, ap);
	va_end(ap);
}

void
log_result_line(const char *line)
{
	struct iovec	iov[2];

	iov[0].iov_base = (void *)line;
	iov[0].iov_len = strlen(line);
	iov[1].iov_base = (void *)"\n";
	iov[1].iov_len = 1;
	(void)!writev(out_fd, iov, 2);
}

int
log_result_tty(void)
{
	return isatty(out_fd);
}

void
log_verbose(const char *acct, const char *fmt, ...)
{
	va_list	ap;

	if (cur_level < LOG_VERBOSE)
		return;
	va_start(ap, fmt);
	emit(out_fd, LOG_INFO, acct, "", fmt, ap);
	va_end(ap);
}

void
log_debug(const char *acct, const char *fmt, ...)
{
	va_list	ap;

	if (!cur_debug)
		return;
	va_start(ap, fmt);
	emit(STDERR_FILENO, LOG_DEBUG, acct, "debug: ", fmt, ap);
	va_end(ap);
}

void
log_trace(const char *acct, const char *dir, const char *s, size_t len)
{
	char	show[TERMSAFE_SIZE(TRACE_SHOW_MAX) + 32];
	size_t	o;

	if (!cur_debug)
		return;
	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r'))
		len--;
	o = termsafe(s, len < TRACE_SHOW_MAX ? len : TRACE_SHOW_MAX, show,
	    TERMSAFE_SIZE(TRACE_SHOW_MAX));
	if (len > TRACE_SHOW_MAX)
		o += (size_t)snprintf(show + o, sizeof show - o,
		    "... (%zu bytes)", len);
	show[o] = '\0';
	log_debug(acct, "%s %s", dir, show);
}
