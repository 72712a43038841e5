/* test_uidstate.c -- the UID state file: records, rewrite, lock, recovery. */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "uidstate.h"

static char	dir[] = "/tmp/popfetch-uidstate-XXXXXX";
static char	path[256];

static void
put(const char *text)
{
	FILE	*f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
}

static char *
slurp(void)
{
	static char	data[4096];
	FILE		*f = fopen(path, "r");
	size_t		 n;

	if (f == NULL)
		return NULL;
	n = fread(data, 1, sizeof data - 1, f);
	data[n] = '\0';
	fclose(f);
	return data;
}

int
main(void)
{
	/* static: still reachable in the forked child, for valgrind. */
	static struct uidstate *us;
	struct uidstate	*us2;
	struct error	 err;
	struct stat	 st;
	time_t		 first;
	const char	*live[] = { "b", "c" };
	const char	*pend[] = { "z" };
	pid_t		 pid;
	int		 status;

	if (mkdtemp(dir) == NULL)
		return 99;
	snprintf(path, sizeof path, "%s/sub/dir/state", dir);

	error_clear(&err);
	us = uidstate_open(path, 0, &err);
	ok(us != NULL, "open creates missing directories");
	is_int((long long)uidstate_count(us), 0, "missing file is empty state");
	ok(uidstate_record(us, "a", 100, &err) == 0, "record a");
	ok(uidstate_record(us, "b", 200, &err) == 0, "record b");
	ok(uidstate_record(us, "c", 300, &err) == 0, "record c");
	ok(uidstate_lookup(us, "b", &first) && first == 200, "lookup b");
	ok(!uidstate_lookup(us, "zz", NULL), "unknown UID not found");
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "mode 0600");

	/* A second opener waits for the lock, then gives up: EX_TEMPFAIL. */
	pid = fork();
	if (pid == 0) {
		struct error e2;

		error_clear(&e2);
		us2 = uidstate_open(path, 1, &e2);
		_exit(us2 == NULL && e2.ex == EX_TEMPFAIL ? 0 : 1);
	}
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "a concurrent open fails with EX_TEMPFAIL after the wait");

	/* Records survive without a rewrite (crash after delivery). */
	uidstate_close(us);
	us = uidstate_open(path, 0, &err);
	ok(us != NULL && uidstate_count(us) == 3, "appended records reread");

	ok(uidstate_rewrite(us, live, 2, &err) == 0, "rewrite");
	ok(!uidstate_lookup(us, "a", NULL), "UID gone from the server forgotten");
	is_str(slurp(), "# popfetch uid state v1\n200 b\n300 c\n",
	    "rewritten file content");
	ok(uidstate_record(us, "d", 400, &err) == 0, "record after rewrite");
	uidstate_close(us);
	us = uidstate_open(path, 0, &err);
	ok(us != NULL && uidstate_lookup(us, "d", NULL) &&
	    uidstate_count(us) == 3, "record after rewrite goes to the new file");
	uidstate_close(us);

	/* Group commit: an added UID reaches the file only at the sync. */
	us = uidstate_open(path, 0, &err);
	ok(us != NULL && uidstate_add(us, "e", 500, &err) == 0, "add e");
	ok(uidstate_lookup(us, "e", NULL), "an added UID is seen at once");
	ok(strstr(slurp(), " e\n") == NULL, "an added UID is not on disk yet");
	ok(uidstate_sync(us, &err) == 0, "sync");
	ok(strstr(slurp(), "500 e\n") != NULL, "synced UID is on disk");
	ok(uidstate_add(us, "f", 600, &err) == 0, "add f");
	uidstate_close(us);
	us = uidstate_open(path, 0, &err);
	ok(us != NULL && !uidstate_lookup(us, "f", NULL),
	    "a UID never synced is not there after a restart");
	uidstate_close(us);

	/* A partial last line (crash during the append) is ignored. */
	put("# popfetch uid state v1\n5 x\n6 y");
	us = uidstate_open(path, 0, &err);
	ok(us != NULL && uidstate_lookup(us, "x", NULL) &&
	    !uidstate_lookup(us, "y", NULL), "partial last line ignored");
	uidstate_close(us);

	/* Corruption is reported with the line, EX_DATAERR. */
	put("# popfetch uid state v1\n5 x\ngarbage\n");
	error_clear(&err);
	us = uidstate_open(path, 0, &err);
	ok(us == NULL && err.ex == EX_DATAERR && strstr(err.msg, ":3:") != NULL,
	    "corrupt line reported: %s", err.msg);

	put("# popfetch uid state v1\n5 bad\x01uid\n");
	error_clear(&err);
	us = uidstate_open(path, 0, &err);
	ok(us == NULL && err.ex == EX_DATAERR, "non-printable UID rejected");

	/* The fuzz target's entry point: same parser, no file, no lock. */
	{
		static const char	text[] = "# popfetch uid state v1\n"
		    "7 u1\n\n8 u2\n9 cut";
		static const char	nul[] = "1 a\0b\n";

		error_clear(&err);
		us2 = uidstate_parse_buffer("mem", text, sizeof text - 1,
		    &err);
		ok(us2 != NULL && uidstate_count(us2) == 2 &&
		    uidstate_lookup(us2, "u2", &first) && first == 8 &&
		    !uidstate_lookup(us2, "cut", NULL),
		    "parse_buffer: two UIDs, unfinished last line ignored");
		uidstate_close(us2);
		error_clear(&err);
		us2 = uidstate_parse_buffer("mem", "1 ok\n2\n", 7, &err);
		ok(us2 == NULL && err.ex == EX_DATAERR &&
		    strstr(err.msg, "mem:2:") != NULL,
		    "parse_buffer: corrupt line: %s", err.msg);
		/* A NUL inside a line must not hide the rest of the line. */
		error_clear(&err);
		us2 = uidstate_parse_buffer("mem", nul, sizeof nul - 1, &err);
		ok(us2 == NULL || !uidstate_lookup(us2, "a", NULL),
		    "parse_buffer: a NUL byte does not make a UID of its prefix");
		uidstate_close(us2);
	}
	/* Pending lines: a started delivery, not a delivered message. */
	put("# popfetch uid state v1\n5 x\npending y\npending x\n");
	error_clear(&err);
	us = uidstate_open(path, 0, &err);
	ok(us != NULL && !uidstate_lookup(us, "y", NULL) &&
	    uidstate_is_pending(us, "y") && uidstate_count(us) == 1,
	    "a pending UID is not delivered");
	ok(us != NULL && !uidstate_is_pending(us, "x"),
	    "a recorded UID is not pending, whatever the line order");
	ok(us != NULL && uidstate_pending(us, pend, 1, &err) == 0 &&
	    strstr(slurp(), "pending z\n") != NULL, "pending is appended");
	ok(us != NULL && uidstate_record(us, "z", 9, &err) == 0 &&
	    !uidstate_is_pending(us, "z") && uidstate_count(us) == 2,
	    "a record ends the pending state");
	{
		const char *all[] = { "x", "y", "z" };

		ok(us != NULL && uidstate_rewrite(us, all, 3, &err) == 0 &&
		    strcmp(slurp(), "# popfetch uid state v1\n5 x\n9 z\n") == 0,
		    "the rewrite drops pending lines");
	}
	uidstate_close(us);
	/* Refusal counts: the last line of a UID counts, kept by the rewrite. */
	put("# popfetch uid state v1\n5 x\n#refused 1 r\n#refused 2 r\n"
	    "#refused 4 gone\n#refused 1 x\n");
	error_clear(&err);
	us = uidstate_open(path, 0, &err);
	ok(us != NULL && uidstate_refusals(us, "r") == 2 &&
	    !uidstate_lookup(us, "r", NULL) && uidstate_count(us) == 1,
	    "a refused UID has its count and is not delivered");
	ok(us != NULL && uidstate_refusals(us, "x") == 0,
	    "a delivered UID has no count");
	ok(us != NULL && uidstate_set_refusals(us, "r", 3, &err) == 0 &&
	    strstr(slurp(), "#refused 3 r\n") != NULL,
	    "a new count is appended at once");
	ok(us != NULL && uidstate_add(us, "s", 7, &err) == 0 &&
	    uidstate_set_refusals(us, "t", 1, &err) == 0 &&
	    strstr(slurp(), " s\n") == NULL,
	    "a count written does not write records not yet synced");
	{
		const char *all[] = { "r", "t", "x" };

		ok(us != NULL && uidstate_rewrite(us, all, 3, &err) == 0 &&
		    strcmp(slurp(), "# popfetch uid state v1\n#refused 3 r\n"
		    "#refused 1 t\n5 x\n") == 0,
		    "the rewrite keeps counts of messages still there: %s",
		    slurp());
	}
	ok(us != NULL && uidstate_record(us, "r", 8, &err) == 0 &&
	    uidstate_refusals(us, "r") == 0, "delivery clears the count");
	{
		const char *all[] = { "r", "x" };

		ok(us != NULL && uidstate_rewrite(us, all, 2, &err) == 0 &&
		    strcmp(slurp(), "# popfetch uid state v1\n8 r\n5 x\n") ==
		    0, "the rewrite forgets the count of a delivered message");
	}
	uidstate_close(us);
	put("# popfetch uid state v1\n#refused 1\n");
	error_clear(&err);
	us = uidstate_open(path, 0, &err);
	ok(us == NULL && err.ex == EX_DATAERR, "a broken count line is corrupt");
	put("# popfetch uid state v1\n#refused 99999999999 r\n");
	error_clear(&err);
	us = uidstate_open(path, 0, &err);
	ok(us == NULL && err.ex == EX_DATAERR, "a count out of range is corrupt");
	/* Any other comment is still a comment. */
	put("# popfetch uid state v1\n#refusedx 1 r\n# refused 1 r\n");
	error_clear(&err);
	us = uidstate_open(path, 0, &err);
	ok(us != NULL && uidstate_refusals(us, "r") == 0, "other comments");
	uidstate_close(us);

	put("# popfetch uid state v1\npending bad\x01uid\n");
	error_clear(&err);
	us = uidstate_open(path, 0, &err);
	ok(us == NULL && err.ex == EX_DATAERR, "a bad pending UID is rejected");

	/* A FIFO must be refused at once, not waited on (opening it blocks). */
	unlink(path);
	ok(mkfifo(path, 0600) == 0, "mkfifo");
	error_clear(&err);
	alarm(10);	/* a hang fails the test instead of stalling make check */
	us = uidstate_open(path, 0, &err);
	alarm(0);
	ok(us == NULL && err.ex == EX_DATAERR, "a FIFO as the state file: 65");
	unlink(path);
	{
		char	lock[300];

		snprintf(lock, sizeof lock, "%s.lock", path);
		unlink(lock);
		ok(mkfifo(lock, 0600) == 0, "mkfifo lock");
		error_clear(&err);
		alarm(10);
		us = uidstate_open(path, 0, &err);
		alarm(0);
		ok(us == NULL && err.ex == EX_DATAERR,
		    "a FIFO as the lock file: 65");
		unlink(lock);
	}

	return tap_done();
}
