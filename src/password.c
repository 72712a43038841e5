/* password.c -- an account's password, from the first source that has one. */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <readpassphrase.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "account.h"
#include "error.h"
#include "mono.h"
#include "netrc.h"
#include "password.h"
#include "proc.h"
#include "xmalloc.h"

/* Longer than any password; it bounds what we keep of passwordeval. */
#define PASSWORD_MAX	4096
/* Time to type a passphrase when passwordeval can prompt on a terminal. */
#define PASSWORDEVAL_TTY_WAIT	600

static char	*run_passwordeval(const struct account *, const char *,
		    const char *, struct error *);
static char	*first_line(int, const char *, const char *, size_t, size_t,
		    struct error *);
static char	*prompt_password(const struct account *, struct error *);
static int	 read_output(int, char *, size_t *, size_t *, long long,
		    int *);

char *
account_password(const struct account *a, struct error *err)
{
	char	*pw = NULL, *path;
	int	 rc;

	if (a->pop.password != NULL || a->pop.passwordeval != NULL)
		return endpoint_password(a, &a->pop, "passwordeval", err);
	xasprintf(&path, "%s/.netrc", account_home_dir());
	rc = netrc_lookup(path, a->host, a->pop.user, &pw, err);
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

char *
account_delivery_password(const struct account *a, struct error *err)
{
	return endpoint_password(a, &a->dest, "delivery_passwordeval", err);
}

char *
endpoint_password(const struct account *a, const struct endpoint *ep,
    const char *evalkey, struct error *err)
{
	if (ep->password != NULL)
		return xstrdup(ep->password);
	if (ep->passwordeval == NULL)
		return NULL;
	/* One command runner for either side, bounded by a's timeout. */
	return run_passwordeval(a, ep->passwordeval, evalkey, err);
}

char *
account_secret_eval(const struct account *a, const char *cmd,
    const char *key, struct error *err)
{
	return run_passwordeval(a, cmd, key, err);
}

/* The last source: ask on the terminal, never echoing. */
static char *
prompt_password(const struct account *a, struct error *err)
{
	char	 buf[PASSWORD_MAX], *prompt, *pw = NULL;

	xasprintf(&prompt, "popfetch: password for %s@%s (account %s): ",
	    a->pop.user, a->host, a->name);
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
run_passwordeval(const struct account *a, const char *cmd, const char *key,
    struct error *err)
{
	struct proc_spec spec = { .cmd = cmd, .in = -1 };
	char		 out[PASSWORD_MAX], *pw = NULL;
	int		 pfd[2] = { -1, -1 }, status, read_errno = 0;
	int		 bound, rc;
	size_t		 len = 0, dropped = 0;
	long long	 deadline;
	pid_t		 pid;

	spec.own_group = !isatty(STDIN_FILENO);
	bound = a->timeout;
	if (!spec.own_group && bound < PASSWORDEVAL_TTY_WAIT)
		bound = PASSWORDEVAL_TTY_WAIT;
	if (pipe2(pfd, O_CLOEXEC) == -1) {
		error_set(err, EX_OSERR, "%s: pipe: %s", key,
		    strerror(errno));
		goto out;
	}
	deadline = mono_now_ms() + (long long)bound * 1000;
	spec.out = pfd[1];
	if (proc_spawn(&spec, &pid) == -1) {
		error_set(err, EX_OSERR, "%s: cannot run /bin/sh: "
		    "%s", key, strerror(errno));
		goto out;
	}
	close(pfd[1]);
	pfd[1] = -1;

	/* A failed read gives the child no more time: kill it at once. */
	rc = read_output(pfd[0], out, &len, &dropped, deadline, &read_errno);
	if (proc_wait_or_stop(pid, &status, rc == -1 ? 0 : deadline,
	    spec.own_group, 0) != 1 || rc == -1) {
		if (read_errno != 0)
			error_set(err, EX_OSERR, "%s: "
			    "%s", key, strerror(read_errno));
		else
			error_set(err, EX_TEMPFAIL, "%s "
			    "command did not finish within %d seconds and was "
			    "killed; nothing was fetched (check the command, "
			    "or raise timeout)", key, bound);
		goto out;
	}
	pw = first_line(status, key, out, len, dropped, err);

out:
	if (pfd[0] != -1)
		close(pfd[0]);
	if (pfd[1] != -1)
		close(pfd[1]);
	explicit_bzero(out, sizeof out);
	return pw;
}

/* The password in what a command that ended with status printed. */
static char *
first_line(int status, const char *key, const char *out, size_t len,
    size_t dropped, struct error *err)
{
	const char	*nl;

	if (WIFSIGNALED(status)) {
		error_set(err, EX_CONFIG, "%s command "
		    "failed (killed by signal %d)", key, WTERMSIG(status));
		return NULL;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		error_set(err, EX_CONFIG, "%s command "
		    "failed (exit %d)", key, WEXITSTATUS(status));
		return NULL;
	}
	if ((nl = memchr(out, '\n', len)) != NULL)
		len = (size_t)(nl - out);
	else if (dropped > 0) {
		error_set(err, EX_CONFIG, "%s command "
		    "printed a line longer than %d bytes", key, PASSWORD_MAX);
		return NULL;
	}
	if (len > 0 && out[len - 1] == '\r')
		len--;
	if (len == 0) {
		error_set(err, EX_CONFIG, "%s command "
		    "failed (no output)", key);
		return NULL;
	}
	return xstrndup(out, len);
}

/*
 * Read fd to its end by the deadline: the first PASSWORD_MAX bytes into
 * out, the rest counted in *dropped.  -1 at the deadline, or on a read
 * error with *read_errno set.
 */
static int
read_output(int fd, char *out, size_t *len, size_t *dropped,
    long long deadline, int *read_errno)
{
	struct pollfd	pfd = { fd, POLLIN, 0 };
	char		drain[512];
	long long	left;
	ssize_t		n;
	int		r;

	for (;;) {
		if ((left = deadline - mono_now_ms()) <= 0)
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

