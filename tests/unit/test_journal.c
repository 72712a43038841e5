/*
 * test_journal.c -- the mbox delivery journal's lines: what a crash can
 * leave (a line cut short) is skipped, what a hand or a disk changed is
 * refused, older lines still read, and nothing in between.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "sink-mbox-journal.h"
#include "tap.h"
#include "xmalloc.h"

static char	dir[] = "/tmp/test_journal.XXXXXX";

/* The line journal_add writes for a sample entry; allocated. */
static char *
sample_line(char **path)
{
	struct journal_entry	 e;
	struct error		 err;
	FILE			*f;
	char			*line = NULL;
	size_t			 cap = 0;
	const char		 head[] = "\nFrom a@b.example Mon Nov 30 10:00:00 2026\nSubject: x";

	memset(&e, 0, sizeof e);
	strcpy(e.tag, "0123456789abcdef");
	e.offset = 828;
	e.length = 207;
	e.skip = 43;
	memset(e.digest, 0xa5, sizeof e.digest);
	e.headlen = sizeof head - 1;
	memcpy(e.head, head, e.headlen);
	xasprintf(path, "%s/j", dir);
	(void)unlink(*path);
	ok(journal_add(*path, &e, 1, &err) == 0, "journal_add writes a line");
	f = fopen(*path, "r");
	ok(f != NULL && getline(&line, &cap, f) > 0, "the line reads back");
	if (f != NULL)
		fclose(f);
	return line;
}

static void
test_lines(void)
{
	struct journal_entry	 e;
	char			*path, *line, *cut, *bad;
	size_t			 i, len;
	int			 damaged = 0, torn = 0;

	line = sample_line(&path);
	ok(journal_parse_line(line, &e) == JOURNAL_OK, "a current line parses");
	ok(e.offset == 828 && e.length == 207 && e.skip == 43 &&
	    e.headlen == 53 && memcmp(e.head, "\nFrom a@b", 9) == 0 &&
	    e.digest[31] == 0xa5, "its fields read back");
	/* Every prefix is what a crash during the write can leave. */
	len = strlen(line);
	for (i = 0; i < len; i++) {
		cut = xstrdup(line);
		cut[i] = '\0';
		switch (journal_parse_line(cut, &e)) {
		case JOURNAL_DAMAGED:
			damaged++;
			break;
		case JOURNAL_TORN:
			torn++;
			break;
		case JOURNAL_OK:
			damaged += i + 1 < len;	/* only the newline may go */
			break;
		default:
			/* An older line's shape: records only a digest match. */
			ok(e.headlen == 0, "a prefix at %zu proves nothing", i);
			break;
		}
		free(cut);
	}
	ok(damaged == 0 && torn > 0, "no line cut short is taken for damage "
	    "or for a whole current line");
	/* The damage: one length changed, 207 -> 300. */
	bad = xstrdup(line);
	memcpy(strstr(bad, " 207 ") + 1, "300", 3);
	ok(journal_parse_line(bad, &e) == JOURNAL_DAMAGED,
	    "a changed length is damage");
	free(bad);
	bad = xstrdup(line);
	bad[strlen(bad) - 3] = bad[strlen(bad) - 3] == '0' ? '1' : '0';
	ok(journal_parse_line(bad, &e) == JOURNAL_DAMAGED,
	    "a changed check is damage");
	free(bad);
	ok(journal_parse_line("done\n", &e) == JOURNAL_DONE && e.done,
	    "the end of a batch");
	ok(journal_parse_line("0123456789abcdef 0 10 "
	    "a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5"
	    " 3\n", &e) == JOURNAL_OLD && e.headlen == 0 && e.skip == 3,
	    "an older line with skip reads, with no head");
	ok(journal_parse_line("- 5 10 "
	    "a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5"
	    "\n", &e) == JOURNAL_OLD && e.skip == 0,
	    "an older line without skip reads");
	free(line);
	free(path);
}

static void
test_read(void)
{
	struct journal_entry	*e;
	struct error		 err;
	FILE			*f;
	char			*path, *line, *bad;
	size_t			 n;

	line = sample_line(&path);
	bad = xstrdup(line);
	memcpy(strstr(bad, " 207 ") + 1, "300", 3);
	f = fopen(path, "w");
	fprintf(f, "%sdone\n0123456789abcdef 1035 2", line);	/* torn */
	fclose(f);
	ok(journal_read(path, &e, &n, &err) == 0 && n == 2 && !e[0].done &&
	    e[1].done, "a torn last line is skipped");
	free(e);
	f = fopen(path, "w");
	fprintf(f, "%sdone\n", bad);
	fclose(f);
	error_clear(&err);
	ok(journal_read(path, &e, &n, &err) == -1 && err.ex == EX_DATAERR &&
	    e == NULL && strstr(err.msg, "damaged at line 1") != NULL,
	    "a damaged line refuses the whole journal: %s", err.msg);
	free(bad);
	free(line);
	(void)unlink(path);
	free(path);
}

int
main(void)
{
	if (mkdtemp(dir) == NULL)
		return 1;
	test_lines();
	test_read();
	(void)rmdir(dir);
	return tap_done();
}
