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
#include "proc.h"
#include "xmalloc.h"

#define DEFAULT_TIMEOUT	180
#define DEFAULT_MDA_TIMEOUT	300
#define DEFAULT_LOCK_WAIT	5
/* Longer than any password; it bounds what we keep of passwordeval. */
#define PASSWORD_MAX	4096
/* Time to type a passphrase when passwordeval can prompt on a terminal. */
#define PASSWORDEVAL_TTY_WAIT	600

static char	*strdup_or_null(const char *);
static void	 replace_str(char **, const char *);
static void	 inherit_key(struct account *, const struct account *,
		    enum account_key);
static void	 add_path_part(struct buf *, const char *);
static char	*run_passwordeval(const struct account *, struct error *);
static char	*prompt_password(const struct account *, struct error *);
static void	 exec_passwordeval(int, const char *, int)
		    __attribute__((noreturn));
static int	 read_bounded(int, char *, size_t *, size_t *, long long,
		    int *);
static int	 reap_bounded(pid_t, int, long long, int *);

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
	a->proxy_user = strdup_or_null(src->proxy_user);
	a->proxy_password = strdup_or_null(src->proxy_password);
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
	case AK_FETCH_LIMIT:
		dst->fetch_limit = src->fetch_limit;
		break;
	case AK_FETCH_SIZE_LIMIT:
		dst->fetch_size_limit = src->fetch_size_limit;
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
	case AK_PROXY_USER:
		replace_str(&dst->proxy_user, src->proxy_user);
		break;
	case AK_PROXY_PASSWORD:
		replace_str(&dst->proxy_password, src->proxy_password);
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
	free(a->proxy_user);
	freezero_str(a->proxy_password);
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
	else if ((a->proxy_user == NULL) != (a->proxy_password == NULL))
		why = "'proxy_user' and 'proxy_password' go together; set "
		    "both";
	if (why == NULL)
		return 0;
	error_set(err, EX_CONFIG, "%s:%d: %s",
	    a->file != NULL ? a->file : "(no file)", a->line, why);
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
	if (rc == -1)
		return NULL;
	if (rc == 1)
		return pw;
	if (isatty(STDIN_FILENO))
		return prompt_password(a, err);
	error_set(err, EX_CONFIG, "no password (set password or "
	    "passwordeval, add %s to ~/.netrc, or run popfetch from a "
	    "terminal to be asked)", a->host != NULL ? a->host : "the host");
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
		error_set(err, EX_CONFIG, "cannot read a password "
		    "from the terminal: %s", strerror(errno));
	else if (buf[0] == '\0')
		error_set(err, EX_CONFIG, "no password given");
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
 *
 * A command that hangs (a locked keyring, a network helper that never
 * answers) must not hold a run from cron, and with it the account lock:
 * it gets the account's `timeout`, or PASSWORDEVAL_TTY_WAIT when stdin is
 * a terminal so that a passphrase can be typed.  Without a terminal the
 * command runs in a process group of its own, and the whole group is
 * killed at the bound; on a terminal it must stay in the foreground group
 * to read from it, so only the shell is killed.
 */
static char *
run_passwordeval(const struct account *a, struct error *err)
{
	char		 out[PASSWORD_MAX], *pw = NULL, *nl;
	int		 pfd[2] = { -1, -1 }, status, read_errno = 0;
	int		 tty, bound, own_group, rc;
	size_t		 len = 0, dropped = 0;
	long long	 deadline;
	pid_t		 pid;

	tty = isatty(STDIN_FILENO);
	bound = a->timeout;
	if (tty && bound < PASSWORDEVAL_TTY_WAIT)
		bound = PASSWORDEVAL_TTY_WAIT;
	own_group = !tty;
	if (pipe2(pfd, O_CLOEXEC) == -1) {
		error_set(err, EX_OSERR, "passwordeval: pipe: %s",
		    strerror(errno));
		goto out;
	}
	deadline = proc_now_ms() + (long long)bound * 1000;
	if ((pid = fork()) == -1) {
		error_set(err, EX_OSERR, "passwordeval: fork: %s",
		    strerror(errno));
		goto out;
	}
	if (pid == 0)
		exec_passwordeval(pfd[1], a->passwordeval, own_group);
	if (own_group)
		(void)setpgid(pid, pid);	/* no race with the child's own */
	close(pfd[1]);
	pfd[1] = -1;

	/* A failed read gives the child no more time: kill it at once. */
	rc = read_bounded(pfd[0], out, &len, &dropped, deadline, &read_errno);
	if (reap_bounded(pid, own_group, rc == -1 ? 0 : deadline,
	    &status) == -1 || rc == -1) {
		if (read_errno != 0)
			error_set(err, EX_OSERR, "passwordeval: "
			    "%s", strerror(read_errno));
		else
			error_set(err, EX_TEMPFAIL, "passwordeval "
			    "command did not finish within %d seconds and was "
			    "killed; nothing was fetched (check the command, "
			    "or raise timeout)", bound);
		goto out;
	}

	if (WIFSIGNALED(status)) {
		error_set(err, EX_CONFIG, "passwordeval command "
		    "failed (killed by signal %d)", WTERMSIG(status));
		goto out;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		error_set(err, EX_CONFIG, "passwordeval command "
		    "failed (exit %d)", WEXITSTATUS(status));
		goto out;
	}
	if ((nl = memchr(out, '\n', len)) != NULL)
		len = (size_t)(nl - out);
	else if (dropped > 0) {
		error_set(err, EX_CONFIG, "passwordeval command "
		    "printed a line longer than %d bytes", PASSWORD_MAX);
		goto out;
	}
	if (len > 0 && out[len - 1] == '\r')
		len--;
	if (len == 0) {
		error_set(err, EX_CONFIG, "passwordeval command "
		    "failed (no output)");
		goto out;
	}
	pw = xstrndup(out, len);

out:
	if (pfd[0] != -1)
		close(pfd[0]);
	if (pfd[1] != -1)
		close(pfd[1]);
	explicit_bzero(out, sizeof out);
	return pw;
}

/*
 * Read fd to its end by the deadline: the first PASSWORD_MAX bytes into
 * out, the rest counted in *dropped.  -1 at the deadline, or on a read
 * error with *read_errno set.
 */
static int
read_bounded(int fd, char *out, size_t *len, size_t *dropped,
    long long deadline, int *read_errno)
{
	struct pollfd	pfd = { fd, POLLIN, 0 };
	char		drain[512];
	long long	left;
	ssize_t		n;
	int		r;

	for (;;) {
		if ((left = deadline - proc_now_ms()) <= 0)
			return -1;
		r = poll(&pfd, 1, left > 1000 ? 1000 : (int)left);
		if (r == -1 && errno != EINTR) {
			*read_errno = errno;
			return -1;
		}
		if (r <= 0)
			continue;
		if (*len < PASSWORD_MAX)
			n = read(fd, out + *len, PASSWORD_MAX - *len);
		else
			n = read(fd, drain, sizeof drain);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == -1) {
			*read_errno = errno;
			explicit_bzero(drain, sizeof drain);
			return -1;
		}
		if (n == 0)
			break;
		if (*len < PASSWORD_MAX)
			*len += (size_t)n;
		else
			*dropped += (size_t)n;
	}
	explicit_bzero(drain, sizeof drain);
	return 0;
}

/*
 * Wait for the child until the deadline (0: not at all); past it, kill it
 * (and its group if it has one), reap it and return -1.
 */
static int
reap_bounded(pid_t pid, int own_group, long long deadline, int *status)
{
	int	rc;

	do
		if ((rc = proc_wait(pid, status, deadline, -1, 0)) != 0)
			return rc == 1 ? 0 : -1;
	while (proc_now_ms() < deadline);
	proc_stop(pid, own_group, 0, status);
	return -1;
}

/* In the child: only async-signal-safe calls until exec. */
static void
exec_passwordeval(int fd, const char *cmd, int own_group)
{
	char *const	argv[] = { "sh", "-c", (char *)cmd, NULL };

	/* Its own group, so a timeout kills what it started too. */
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
