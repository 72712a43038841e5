/*
 * fuzz_journal.c -- the mbox delivery journal's line parser,
 * journal_parse_line(): whatever it accepts describes a block it could
 * prove, and no prefix of an accepted line (what a crash leaves) is ever
 * taken for a whole line or for damage.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sink-mbox-journal.h"
#include "xmalloc.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_entry(const struct journal_entry *e)
{
	if (e->length <= 0 || e->skip < 0 || e->skip >= e->length ||
	    e->headlen > JOURNAL_HEAD_MAX ||
	    (e->headlen != 0 && ((off_t)e->headlen < e->skip ||
	    (off_t)e->headlen > e->length)))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct journal_entry	 e;
	enum journal_line	 kind, k;
	char			*line;
	size_t			 len, i;

	/* A journal line is text: it ends at the first NUL, as C reads it. */
	line = xmalloc(size + 1);
	memcpy(line, data, size);
	line[size] = '\0';
	kind = journal_parse_line(line, &e);
	if (kind == JOURNAL_OK || kind == JOURNAL_OLD)
		check_entry(&e);
	if (kind == JOURNAL_OK && e.headlen == 0)
		abort();
	if (kind == JOURNAL_OK) {
		len = strcspn(line, "\n");
		for (i = 0; i < len; i++) {
			line[i] = '\0';
			k = journal_parse_line(line, &e);
			if (k == JOURNAL_OK || k == JOURNAL_DAMAGED)
				abort();
			if (k == JOURNAL_OLD && e.headlen != 0)
				abort();
			line[i] = (char)data[i];
		}
	}
	free(line);
	return 0;
}
