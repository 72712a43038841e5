/* account.c -- account defaults, inheritance, validation, passwords. */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <readpassphrase.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "account.h"
#include "buf.h"
#include "error.h"
#include "netrc.h"
#include "xmalloc.h"

#define DEFAULT_TIMEOUT	180
#define DEFAULT_MDA_TIMEOUT	300
#define DEFAULT_LOCK_WAIT	5
/* Longer than any password; it bounds what we keep of passwordeval. */
#define PASSWORD_MAX	4096

static char	*strdup_or_null(const char *);
static void	 replace_str(char **, const char *);
static void	 inherit_key(struct account *, const struct account *,
		    enum account_key);
static void	 add_path_part(struct buf *, const char *);
static char	*run_passwordeval(const struct account *, struct error *);
static char	*prompt_password(const struct account *, struct error *);
static void	 exec_passwordeval(int, const char *, int)
		    __attribute__((noreturn));
static int	 wait_output(int, const struct timespec *);

struct account *
account_new(const char *name, const char *file, int line)
{
	struct account	*a;

	a = xcalloc(1, sizeof *a);
	a->name = xstrdup(name);
	a->file = strdup_or_null(file);
	a->line = line;
	a->tls = 1;
	a->tls_certcheck = 1;
	a->auth = AUTH_AUTO;
	a->delivery = DELIVERY_NONE;
	a->timeout = DEFAULT_TIMEOUT;
	a->syslog = -1;
	a->received_header = 1;
	a->mda_timeout = DEFAULT_MDA_TIMEOUT;
	a->lock_wait = DEFAULT_LOCK_WAIT;
	a->only_new = 1;
	a->pipelining = 1;
	return a;
}

struct account *
account_copy(const struct account *src, const char *name, const char *file,
    int line)
{
	struct account	*a;

	a = xmalloc(sizeof *a);
	*a = *src;
	a->name = xstrdup(name);
	a->file = strdup_or_null(file);
	a->line = line;
	a->host = strdup_or_null(src->host);
	a->tls_trust_file = strdup_or_null(src->tls_trust_file);
	a->user = strdup_or_null(src->user);
	a->password = strdup_or_null(src->password);
	a->passwordeval = strdup_or_null(src->passwordeval);
	a->delivery_arg = strdup_or_null(src->delivery_arg);
	a->uidls_file = strdup_or_null(src->uidls_file);
	a->filter = strdup_or_null(src->filter);
	a->logfile = strdup_or_null(src->logfile);
	a->tls_priorities = strdup_or_null(src->tls_priorities);
	a->tls_cert_file = strdup_or_null(src->tls_cert_file);
	a->tls_key_file = strdup_or_null(src->tls_key_file);
	a->tls_crl_file = strdup_or_null(src->tls_crl_file);
	a->source_ip = strdup_or_null(src->source_ip);
	a->proxy_host = strdup_or_null(src->proxy_host);
	memset(&a->entry, 0, sizeof a->entry);
	return a;
}

/*
 * What dst takes over becomes dst's own explicit setting, so that an
 * account inheriting from dst later gets it too.
 */
void
account_inherit(struct account *dst, const struct account *src)
{
	int	k;

	for (k = 0; k < AK__COUNT; k++) {
		if (src->set & (UINT64_C(1) << k))
			inherit_key(dst, src, k);
	}
	dst->set |= src->set;
}

static void
inherit_key(struct account *dst, const struct account *src,
    enum account_key k)
{
	switch (k) {
	case AK_HOST:
		replace_str(&dst->host, src->host);
		break;
	case AK_PORT:
		dst->port = src->port;
		break;
	case AK_TLS:
		dst->tls = src->tls;
		break;
	case AK_TLS_STARTTLS:
		dst->tls_starttls = src->tls_starttls;
		break;
	case AK_TLS_TRUST_FILE:
		replace_str(&dst->tls_trust_file, src->tls_trust_file);
		break;
	case AK_TLS_FINGERPRINT:
		dst->has_fingerprint = src->has_fingerprint;
		memcpy(dst->tls_fingerprint, src->tls_fingerprint,
		    sizeof dst->tls_fingerprint);
		break;
	case AK_TLS_CERTCHECK:
		dst->tls_certcheck = src->tls_certcheck;
		break;
	case AK_USER:
		replace_str(&dst->user, src->user);
		break;
	case AK_PASSWORD:
		replace_str(&dst->password, src->password);
		break;
	case AK_PASSWORDEVAL:
		replace_str(&dst->passwordeval, src->passwordeval);
		break;
	case AK_AUTH:
		dst->auth = src->auth;
		break;
	case AK_DELIVERY:
		dst->delivery = src->delivery;
		replace_str(&dst->delivery_arg, src->delivery_arg);
		break;
	case AK_KEEP:
		dst->keep = src->keep;
		dst->keep_days = src->keep_days;
		break;
	case AK_UIDLS_FILE:
		replace_str(&dst->uidls_file, src->uidls_file);
		break;
	case AK_TIMEOUT:
		dst->timeout = src->timeout;
		break;
	case AK_SKIPSIZE:
		dst->skipsize = src->skipsize;
		break;
	case AK_KILLSIZE:
		dst->killsize = src->killsize;
		break;
	case AK_FILTER:
		replace_str(&dst->filter, src->filter);
		break;
	case AK_LOGFILE:
		replace_str(&dst->logfile, src->logfile);
		break;
	case AK_SYSLOG:
		dst->syslog = src->syslog;
		break;
	case AK_JOBS:
		dst->jobs = src->jobs;
		break;
	case AK_TLS_PRIORITIES:
		replace_str(&dst->tls_priorities, src->tls_priorities);
		break;
	case AK_TLS_CERT_FILE:
		replace_str(&dst->tls_cert_file, src->tls_cert_file);
		break;
	case AK_TLS_KEY_FILE:
		replace_str(&dst->tls_key_file, src->tls_key_file);
		break;
	case AK_TLS_CRL_FILE:
		replace_str(&dst->tls_crl_file, src->tls_crl_file);
		break;
	case AK_RECEIVED_HEADER:
		dst->received_header = src->received_header;
		break;
	case AK_MDA_TIMEOUT:
		dst->mda_timeout = src->mda_timeout;
		break;
	case AK_LOCK_WAIT:
		dst->lock_wait = src->lock_wait;
		break;
	case AK_ONLY_NEW:
		dst->only_new = src->only_new;
		break;
	case AK_PIPELINING:
		dst->pipelining = src->pipelining;
		break;
	case AK_TLS_MIN_DH_PRIME_BITS:
		dst->tls_min_dh_prime_bits = src->tls_min_dh_prime_bits;
		break;
	case AK_SOURCE_IP:
		replace_str(&dst->source_ip, src->source_ip);
		break;
	case AK_PROXY_HOST:
		replace_str(&dst->proxy_host, src->proxy_host);
		break;
	case AK_PROXY_PORT:
		dst->proxy_port = src->proxy_port;
		break;
	case AK__COUNT:
		fatalx("inherit_key: no such key");
	}
}

static char *
strdup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

/* Every string may be the password, so old values are always zeroed. */
static void
replace_str(char **dst, const char *src)
{
	freezero_str(*dst);
	*dst = strdup_or_null(src);
}

void
account_free(struct account *a)
{
	if (a == NULL)
		return;
	free(a->name);
	free(a->file);
	free(a->host);
	free(a->tls_trust_file);
	free(a->user);
	freezero_str(a->password);
	free(a->passwordeval);
	free(a->delivery_arg);
	free(a->uidls_file);
	free(a->filter);
	free(a->logfile);
	free(a->tls_priorities);
	free(a->tls_cert_file);
	free(a->tls_key_file);
	free(a->tls_crl_file);
	free(a->source_ip);
	free(a->proxy_host);
	free(a);
}

void
accounts_free(struct accounts *list)
{
	struct account	*a;

	while ((a = TAILQ_FIRST(list)) != NULL) {
		TAILQ_REMOVE(list, a, entry);
		account_free(a);
	}
}

struct account *
accounts_find(struct accounts *list, const char *name)
{
	struct account	*a;

	TAILQ_FOREACH(a, list, entry) {
		if (strcmp(a->name, name) == 0)
			return a;
	}
	return NULL;
}

int
account_port(const struct account *a)
{
	if (a->port != 0)
		return a->port;
	return a->tls && !a->tls_starttls ? 995 : 110;
}

int
account_validate(const struct account *a, struct error *err)
{
	const char	*why = NULL;

	if (a->host == NULL)
		why = "no host set (add 'host pop.example.com')";
	else if (a->user == NULL)
		why = "no user set (add 'user NAME')";
	else if (a->delivery == DELIVERY_NONE)
		why = "no delivery set (add 'delivery maildir ~/Maildir')";
	else if (!a->tls && a->tls_starttls)
		why = "'tls_starttls on' needs 'tls on'";
	else if (!a->tls && a->has_fingerprint)
		why = "'tls_fingerprint' needs 'tls on'";
	else if ((a->tls_cert_file == NULL) != (a->tls_key_file == NULL))
		why = "'tls_cert_file' and 'tls_key_file' go together; set "
		    "both";
	else if (!a->tls_certcheck && a->has_fingerprint)
		why = "'tls_fingerprint' and 'tls_certcheck off' contradict "
		    "each other; remove one";
	if (why == NULL)
		return 0;
	error_set(err, EX_CONFIG, "%s:%d: account %s: %s",
	    a->file != NULL ? a->file : "(no file)", a->line, a->name, why);
	return -1;
}

const char *
account_home_dir(void)
{
	const char	*home;
	struct passwd	*pw;

	if ((home = getenv("HOME")) != NULL && *home != '\0')
		return home;
	if ((pw = getpwuid(getuid())) != NULL && pw->pw_dir != NULL)
		return pw->pw_dir;
	return "/";
}

/* A user or host name as one path component. */
static void
add_path_part(struct buf *b, const char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		buf_add(b, *s == '/' ? "_" : s, 1);
}

char *
account_uidls_path(const struct account *a)
{
	struct buf	 b;
	char		*dflt = NULL;
	const char	*p, *state;

	if ((p = a->uidls_file) == NULL) {
		/* XDG: a relative XDG_STATE_HOME is invalid and ignored. */
		state = getenv("XDG_STATE_HOME");
		if (state != NULL && *state == '/')
			xasprintf(&dflt, "%s/popfetch/uidls/%%U@%%H", state);
		else
			xasprintf(&dflt, "%s/.local/state/popfetch/uidls/%%U@%%H",
			    account_home_dir());
		p = dflt;
	}

	buf_init(&b);
	for (; *p != '\0'; p++) {
		if (p[0] == '%' && p[1] == 'U') {
			add_path_part(&b, a->user);
			p++;
		} else if (p[0] == '%' && p[1] == 'H') {
			add_path_part(&b, a->host);
			p++;
		} else
			buf_add(&b, p, 1);
	}
	free(dflt);
	if (b.data == NULL)
		return xstrdup("");
	return b.data;
}

char *
account_password(const struct account *a, struct error *err)
{
	char	*pw = NULL, *path;
	int	 rc;

	if (a->password != NULL)
		return xstrdup(a->password);
	if (a->passwordeval != NULL)
		return run_passwordeval(a, err);
	xasprintf(&path, "%s/.netrc", account_home_dir());
	rc = netrc_lookup(path, a->host, a->user, &pw, err);
	free(path);
	if (rc == -1) {
		error_prefix(err, "account %s", a->name);
		return NULL;
	}
	if (rc == 1)
		return pw;
	if (isatty(STDIN_FILENO))
		return prompt_password(a, err);
	error_set(err, EX_CONFIG, "account %s: no password (set password or "
	    "passwordeval, add %s to ~/.netrc, or run popfetch from a "
	    "terminal to be asked)", a->name,
	    a->host != NULL ? a->host : "the host");
	return NULL;
}

/* The last source: ask on the terminal, never echoing. */
static char *
prompt_password(const struct account *a, struct error *err)
{
	char	 buf[PASSWORD_MAX], *prompt, *pw = NULL;

	xasprintf(&prompt, "popfetch: password for %s@%s (account %s): ",
	    a->user, a->host, a->name);
	if (readpassphrase(prompt, buf, sizeof buf, RPP_REQUIRE_TTY) == NULL)
		error_set(err, EX_CONFIG, "account %s: cannot read a password "
		    "from the terminal: %s", a->name, strerror(errno));
	else if (buf[0] == '\0')
		error_set(err, EX_CONFIG, "account %s: no password given",
		    a->name);
	else
		pw = xstrdup(buf);
	explicit_bzero(buf, sizeof buf);
	free(prompt);
	return pw;
}

/*
 * Run passwordeval through /bin/sh and keep the first line of its output.
 * stdin and stderr stay the user's so that gpg and friends can prompt.  The
 * output is read to the end so that the command never dies of SIGPIPE, but
 * only the first PASSWORD_MAX bytes are kept, and zeroed afterwards.
 */
static char *
run_passwordeval(const struct account *a, struct error *err)
{
	char		 out[PASSWORD_MAX], drain[512], *pw = NULL, *nl;
	int		 pfd[2] = { -1, -1 }, status, read_errno = 0;
	int		 bounded, timed_out = 0;
	size_t		 len = 0, dropped = 0;
	ssize_t		 n;
	pid_t		 pid;
	struct timespec	 end;

	if (pipe2(pfd, O_CLOEXEC) == -1) {
		error_set(err, EX_OSERR, "account %s: passwordeval: pipe: %s",
		    a->name, strerror(errno));
		goto out;
	}
	if ((pid = fork()) == -1) {
		error_set(err, EX_OSERR, "account %s: passwordeval: fork: %s",
		    a->name, strerror(errno));
		goto out;
	}
	/*
	 * Bounded unless on a terminal, where it may be asking for a
	 * passphrase (gpg's pinentry) and Ctrl-C reaches it anyway.
	 */
	bounded = !isatty(STDIN_FILENO);
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += a->timeout;
	if (pid == 0)
		exec_passwordeval(pfd[1], a->passwordeval, bounded);
	close(pfd[1]);
	pfd[1] = -1;

	for (;;) {
		if (bounded && wait_output(pfd[0], &end) == 0) {
			/* Its own process group: all of it goes. */
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			timed_out = 1;
			break;
		}
		if (len < sizeof out)
			n = read(pfd[0], out + len, sizeof out - len);
		else
			n = read(pfd[0], drain, sizeof drain);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			read_errno = errno;
		if (n <= 0)
			break;
		if (len < sizeof out)
			len += (size_t)n;
		else
			dropped += (size_t)n;
	}
	close(pfd[0]);
	pfd[0] = -1;
	while (waitpid(pid, &status, 0) == -1) {
		if (errno != EINTR) {
			error_set(err, EX_OSERR, "account %s: passwordeval: "
			    "waitpid: %s", a->name, strerror(errno));
			goto out;
		}
	}

	if (timed_out) {
		error_set(err, EX_TEMPFAIL, "account %s: passwordeval command "
		    "printed no password within %d seconds (the account's "
		    "timeout); it was stopped", a->name, a->timeout);
		goto out;
	}
	if (WIFSIGNALED(status)) {
		error_set(err, EX_CONFIG, "account %s: passwordeval command "
		    "failed (killed by signal %d)", a->name, WTERMSIG(status));
		goto out;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		error_set(err, EX_CONFIG, "account %s: passwordeval command "
		    "failed (exit %d)", a->name, WEXITSTATUS(status));
		goto out;
	}
	if (read_errno != 0) {
		error_set(err, EX_IOERR, "account %s: passwordeval: read: %s",
		    a->name, strerror(read_errno));
		goto out;
	}
	if ((nl = memchr(out, '\n', len)) != NULL)
		len = (size_t)(nl - out);
	else if (dropped > 0) {
		error_set(err, EX_CONFIG, "account %s: passwordeval command "
		    "printed a line longer than %d bytes", a->name,
		    PASSWORD_MAX);
		goto out;
	}
	if (len > 0 && out[len - 1] == '\r')
		len--;
	if (len == 0) {
		error_set(err, EX_CONFIG, "account %s: passwordeval command "
		    "failed (no output)", a->name);
		goto out;
	}
	pw = xstrndup(out, len);

out:
	if (pfd[0] != -1)
		close(pfd[0]);
	if (pfd[1] != -1)
		close(pfd[1]);
	explicit_bzero(out, sizeof out);
	explicit_bzero(drain, sizeof drain);
	return pw;
}

/* In the child: only async-signal-safe calls until exec. */
/* 1 when fd has input or end of file, 0 once end has passed. */
static int
wait_output(int fd, const struct timespec *end)
{
	struct pollfd	pfd;
	struct timespec	now;
	long long	ms;

	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = (end->tv_sec - now.tv_sec) * 1000LL +
		    (end->tv_nsec - now.tv_nsec) / 1000000;
		if (ms <= 0)
			return 0;
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, ms > 1000 ? 1000 : (int)ms) > 0)
			return 1;
	}
}

static void
exec_passwordeval(int fd, const char *cmd, int own_group)
{
	char *const	argv[] = { "sh", "-c", (char *)cmd, NULL };

	/* So that a timeout can stop the command and what it started. */
	if (own_group)
		(void)setpgid(0, 0);
	/* popfetch ignores these; ignored signals survive exec. */
	signal(SIGPIPE, SIG_DFL);
	signal(SIGXFSZ, SIG_DFL);
	if (fd == STDOUT_FILENO) {
		/* dup2() onto itself would keep close-on-exec set. */
		if (fcntl(fd, F_SETFD, 0) == -1)
			_exit(127);
	} else if (dup2(fd, STDOUT_FILENO) == -1)
		_exit(127);
	execv("/bin/sh", argv);
	_exit(127);
}
