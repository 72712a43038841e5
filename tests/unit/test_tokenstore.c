/* test_tokenstore.c -- the OAuth token file: round trip, modes, hostile files, the lock. */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "tokenstore.h"

static char	dir[] = "/tmp/popfetch-tokens-XXXXXX";
static char	path[256];

static void
put(const char *text, mode_t mode)
{
	int	fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd == -1 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		printf("# cannot write %s\n", path);
	fchmod(fd, mode);
	close(fd);
}

static void
test_round_trip(void)
{
	struct tokens	t = { NULL, NULL, 0 }, r;
	struct error	err;
	struct stat	st;
	char		tmp[300];

	error_clear(&err);
	is_int(tokenstore_read(path, &r, &err), 1, "no file yet: 1");
	t.access = "at-1";
	t.refresh = "rt-1 with \"quotes\" and \\ back";
	t.expires_at = 1800000000LL;
	is_int(tokenstore_write(path, &t, &err), 0, "write");
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "mode 0600");
	ok(stat(dir, &st) == 0, "directory there");
	is_int(tokenstore_read(path, &r, &err), 0, "read back");
	is_str(r.access, "at-1", "access token");
	is_str(r.refresh, t.refresh, "refresh token, escapes kept");
	is_int(r.expires_at, 1800000000LL, "expiry");
	tokens_free(&r);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	ok(access(tmp, F_OK) != 0, "no temporary file left");
}

static void
test_hostile(void)
{
	struct tokens	r;
	struct error	err;

	error_clear(&err);
	put("{\"access_token\":\"a\"}", 0644);
	is_int(tokenstore_read(path, &r, &err), -1, "readable by others: -1");
	is_int(err.ex, EX_NOPERM, "readable by others: EX_NOPERM");
	error_clear(&err);
	put("<html>not json</html>", 0600);
	is_int(tokenstore_read(path, &r, &err), -1, "not JSON: -1");
	is_int(err.ex, EX_DATAERR, "not JSON: EX_DATAERR");
	ok(strstr(err.msg, "--authorize") != NULL, "not JSON: says --authorize");
	error_clear(&err);
	put("{\"access_token\":5,\"refresh_token\":[],\"expires_at\":\"x\"}",
	    0600);
	is_int(tokenstore_read(path, &r, &err), 0, "wrong types: read");
	ok(r.access == NULL && r.refresh == NULL && r.expires_at == 0,
	    "wrong types: ignored, not used");
	tokens_free(&r);
	unlink(path);
	mkfifo(path, 0600);
	error_clear(&err);
	is_int(tokenstore_read(path, &r, &err), -1, "a FIFO: -1");
	is_int(err.ex, EX_DATAERR, "a FIFO: EX_DATAERR, without hanging");
	unlink(path);
}

static void
test_lock(void)
{
	struct error	err;
	int		fd, fd2, status;
	pid_t		pid;

	error_clear(&err);
	fd = tokenstore_lock(path, 5, &err);
	ok(fd != -1, "lock taken");
	if ((pid = fork()) == 0) {
		struct error	e2;

		error_clear(&e2);
		fd2 = tokenstore_lock(path, 0, &e2);
		_exit(fd2 == -1 && e2.ex == EX_TEMPFAIL ? 0 : 1);
	}
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "a second run waits, then gives up with EX_TEMPFAIL");
	close(fd);
	fd2 = tokenstore_lock(path, 0, &err);
	ok(fd2 != -1, "free again once closed");
	close(fd2);
}

int
main(void)
{
	if (mkdtemp(dir) == NULL)
		return 99;
	snprintf(path, sizeof path, "%s/sub/tokens", dir);
	test_round_trip();
	test_hostile();
	test_lock();
	unlink(path);
	strcat(path, ".lock");
	unlink(path);
	path[strlen(path) - strlen("/tokens.lock")] = '\0';
	rmdir(path);
	rmdir(dir);
	return tap_done();
}
