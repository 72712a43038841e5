/*
 * test_destjournal.c -- the pending journal of an IMAP or Gmail
 * destination: entries read back by tag across opens, the last line of a
 * tag wins, a line a crash cut short is skipped and the next one starts
 * afresh, damaged and hostile lines are skipped, the file stays small and
 * private.
 */
#include "config.h"

#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "destjournal.h"
#include "error.h"
#include "log.h"
#include "tap.h"
#include "xmalloc.h"

static char	dir[] = "/tmp/test_destjournal.XXXXXX";

static void
sample(struct dj_entry *e, const char *tag, uint64_t size, const char *msgid)
{
	memset(e, 0, sizeof *e);
	snprintf(e->tag, sizeof e->tag, "%s", tag);
	e->size = size;
	memset(e->digest, (int)(size & 0xff), sizeof e->digest);
	snprintf(e->msgid, sizeof e->msgid, "%s", msgid);
}

static void
append_raw(const char *path, const char *s)
{
	int	fd;

	fd = open(path, O_WRONLY | O_APPEND);
	ok(fd != -1 && write(fd, s, strlen(s)) == (ssize_t)strlen(s),
	    "raw bytes appended");
	if (fd != -1)
		close(fd);
}

/* A line whose check is right: only its values can make it wrong. */
static void
append_checked(const char *path, const char *body)
{
	uint64_t	 h = UINT64_C(0xcbf29ce484222325);
	const char	*p;
	char		 line[600];

	for (p = body; *p != '\0'; p++) {
		h ^= (unsigned char)*p;
		h *= UINT64_C(0x100000001b3);
	}
	snprintf(line, sizeof line, "%s %016llx\n", body, (unsigned long long)h);
	append_raw(path, line);
}

static void
test_roundtrip(void)
{
	struct destjournal	*j;
	struct dj_entry		 e;
	const struct dj_entry	*got;
	struct error		 err;
	struct stat		 st;
	char			*path;

	error_clear(&err);
	xasprintf(&path, "%s/sub/acct.dest-journal", dir);
	j = destjournal_open(path, "test", &err);
	ok(j != NULL, "a journal is created with its directory");
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600,
	    "the journal is created 0600");
	sample(&e, "0123456789abcdef", 1234, "a.b@example.org");
	ok(destjournal_add(j, &e, &err) == 0, "an entry is added");
	sample(&e, "fedcba9876543210", 77, "");
	ok(destjournal_add(j, &e, &err) == 0, "one without a Message-ID too");
	snprintf(e.destid, sizeof e.destid, "%s", "1700000000:42");
	ok(destjournal_note(j, &e, &err) == 0, "its destination id is noted");
	got = destjournal_lookup(j, "0123456789abcdef");
	ok(got != NULL && got->size == 1234, "an entry added is found");
	destjournal_free(j);

	j = destjournal_open(path, "test", &err);
	ok(j != NULL && destjournal_count(j) == 3, "all lines read back");
	got = destjournal_lookup(j, "0123456789abcdef");
	ok(got != NULL && got->size == 1234 && got->digest[0] == (1234 & 0xff)
	    && strcmp(got->msgid, "a.b@example.org") == 0 &&
	    got->destid[0] == '\0', "its fields read back");
	got = destjournal_lookup(j, "fedcba9876543210");
	ok(got != NULL && strcmp(got->destid, "1700000000:42") == 0 &&
	    got->msgid[0] == '\0', "the last line of a tag wins");
	ok(destjournal_lookup(j, "0000000000000000") == NULL,
	    "an unknown tag is not found");
	sample(&e, "bad tag", 1, "");
	ok(destjournal_add(j, &e, &err) == -1 && err.ex == EX_SOFTWARE,
	    "a tag with a blank is refused");
	error_clear(&err);
	sample(&e, "0123456789abcdef", 1, "a b");
	ok(destjournal_add(j, &e, &err) == -1, "so is such a Message-ID");
	error_clear(&err);
	destjournal_free(j);
	free(path);
}

/* What a crash, a disk or a hostile hand can leave. */
static void
test_damage(void)
{
	struct destjournal	*j;
	struct dj_entry		 e;
	struct error		 err;
	char			*path, *line, big[5000];
	FILE			*f;
	size_t			 cap = 0;

	error_clear(&err);
	xasprintf(&path, "%s/damage", dir);
	j = destjournal_open(path, "test", &err);
	sample(&e, "1111111111111111", 10, "x@y");
	ok(j != NULL && destjournal_add(j, &e, &err) == 0, "one good line");
	destjournal_free(j);
	f = fopen(path, "r");
	line = NULL;
	ok(f != NULL && getline(&line, &cap, f) > 0, "the line reads");
	if (f != NULL)
		fclose(f);
	/* A changed digit, a line of junk, a huge line, a NUL. */
	line[17] = line[17] == '1' ? '2' : '1';
	append_raw(path, line);
	append_raw(path, "garbage\n\n- - - - - -\n");
	memset(big, 'a', sizeof big - 2);
	big[sizeof big - 2] = '\n';
	big[sizeof big - 1] = '\0';
	append_raw(path, big);
	ok((f = fopen(path, "a")) != NULL && fwrite("a\0b\n", 1, 4, f) == 4,
	    "a NUL appended");
	if (f != NULL)
		fclose(f);
	/* Checked lines with values no writer makes. */
	append_checked(path, "4444444444444444 -5 "
	    "0000000000000000000000000000000000000000000000000000000000000000 - -");
	append_checked(path, "4444444444444444 5 "
	    "zz00000000000000000000000000000000000000000000000000000000000000 - -");
	append_checked(path, "4444444444444444 99999999999999999999999 "
	    "0000000000000000000000000000000000000000000000000000000000000000 - -");
	append_checked(path, "4444444444444444 5 00 - -");
	append_checked(path, "4444444444444444 5 "
	    "0000000000000000000000000000000000000000000000000000000000000000 - - x");
	/* Then half a line, as a crash during the write leaves it. */
	append_raw(path, "2222222222222222 10 abcd");
	j = destjournal_open(path, "test", &err);
	ok(j != NULL && destjournal_count(j) == 1,
	    "damaged, hostile and cut lines are skipped, the good one kept");
	sample(&e, "3333333333333333", 20, "");
	ok(destjournal_add(j, &e, &err) == 0, "an entry after a cut line");
	destjournal_free(j);
	j = destjournal_open(path, "test", &err);
	ok(j != NULL && destjournal_lookup(j, "3333333333333333") != NULL &&
	    destjournal_lookup(j, "1111111111111111") != NULL,
	    "... starts a line of its own and reads back");
	destjournal_free(j);
	free(line);
	free(path);
}

/* The file and the memory stay bounded, and the newest entries stay. */
static void
test_trim(void)
{
	struct destjournal	*j;
	struct dj_entry		 e;
	struct error		 err;
	struct stat		 st;
	char			*path, tag[20], msgid[300];
	int			 i, n = 6000;

	error_clear(&err);
	xasprintf(&path, "%s/trim", dir);
	j = destjournal_open(path, "test", &err);
	memset(msgid, 'm', 250);
	msgid[250] = '\0';
	for (i = 0; i < n; i++) {
		snprintf(tag, sizeof tag, "%016x", i);
		sample(&e, tag, (uint64_t)i, msgid);
		if (destjournal_note(j, &e, &err) == -1)
			break;
	}
	ok(i == n, "%d entries written", n);
	ok(destjournal_count(j) <= 2 * DESTJOURNAL_KEEP, "memory stays bounded");
	ok(destjournal_lookup(j, "0000000000001770") == NULL &&
	    destjournal_lookup(j, "000000000000176f") != NULL,
	    "the newest entry is in memory");
	destjournal_free(j);
	ok(stat(path, &st) == 0 && st.st_size > DESTJOURNAL_TRIM_SIZE,
	    "the file grew past the trim size");
	j = destjournal_open(path, "test", &err);
	ok(j != NULL, "a large journal opens");
	ok(stat(path, &st) == 0 && st.st_size <= DESTJOURNAL_TRIM_SIZE,
	    "and is trimmed");
	ok(destjournal_lookup(j, "000000000000176f") != NULL &&
	    destjournal_lookup(j, "0000000000000000") == NULL,
	    "keeping the newest entries");
	destjournal_free(j);
	j = destjournal_open(path, "test", &err);
	ok(j != NULL && destjournal_count(j) > 0 &&
	    destjournal_lookup(j, "000000000000176f") != NULL,
	    "the trimmed journal reads back whole");
	destjournal_free(j);
	free(path);
}

/* A long run does not push out what the run before it left. */
static void
test_survives_run(void)
{
	struct destjournal	*j;
	struct dj_entry		 e;
	struct error		 err;
	char			*path, tag[20];
	int			 i;

	error_clear(&err);
	xasprintf(&path, "%s/survive", dir);
	j = destjournal_open(path, "test", &err);
	sample(&e, "aaaaaaaaaaaaaaaa", 5, "left@before");
	ok(j != NULL && destjournal_add(j, &e, &err) == 0, "an entry");
	destjournal_free(j);
	j = destjournal_open(path, "test", &err);
	for (i = 0; j != NULL && i < 3 * DESTJOURNAL_KEEP; i++) {
		snprintf(tag, sizeof tag, "%016x", i);
		sample(&e, tag, (uint64_t)i, "");
		if (destjournal_note(j, &e, &err) == -1)
			break;
	}
	ok(j != NULL && destjournal_lookup(j, "aaaaaaaaaaaaaaaa") != NULL,
	    "the earlier run's entry is there after %d of this run's",
	    3 * DESTJOURNAL_KEEP);
	destjournal_free(j);
	free(path);
}

static void
test_not_regular(void)
{
	struct error	 err;
	char		*path;

	error_clear(&err);
	xasprintf(&path, "%s/adir", dir);
	ok(mkdir(path, 0700) == 0, "a directory where the journal goes");
	ok(destjournal_open(path, "test", &err) == NULL && err.ex == EX_IOERR,
	    "is refused");
	free(path);
}

int
main(void)
{
	char	cmd[128];

	log_init(LOG_QUIET, 0);
	if (mkdtemp(dir) == NULL)
		return 1;
	test_roundtrip();
	test_damage();
	test_trim();
	test_survives_run();
	test_not_regular();
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	return tap_done();
}
