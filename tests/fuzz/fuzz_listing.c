/*
 * fuzz_listing.c -- what a hostile server lists: the input is split at
 * NUL bytes into a CAPA part, a LIST part and a UIDL part, each cut into
 * lines and parsed as popfetch would.  Whatever the lines, the parsers
 * must not crash, and a scan they accept must hold messages with rising
 * numbers and, after the uniqueness check, valid distinct UIDs.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pop3-parse.h"
#include "uid.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Each line of [p, end) to fn; stops at the first failure.  0 or -1. */
static int
lines(const char *p, const char *end, int (*fn)(void *, char *, struct error *),
    void *arg, struct error *err)
{
	char		 line[1024];
	const char	*nl;
	size_t		 n;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		n = (size_t)((nl != NULL ? nl : end) - p);
		if (n >= sizeof line)
			n = sizeof line - 1;
		memcpy(line, p, n);
		line[n] = '\0';
		if (fn(arg, line, err) == -1)
			return -1;
		p = nl != NULL ? nl + 1 : end;
	}
	return 0;
}

static int
capa(void *arg, char *line, struct error *err)
{
	return pop3_capa_line(arg, line, err);
}

static int
list(void *arg, char *line, struct error *err)
{
	return pop3_list_line(arg, line, err);
}

static int
uidl(void *arg, char *line, struct error *err)
{
	return pop3_uidl_line(arg, line, err);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char		*p = (const char *)data, *end = p + size;
	const char		*a, *b;
	struct pop3_caps	 c;
	struct pop3_scan	 sc;
	struct error		 err;
	size_t			 i;

	a = memchr(p, '\0', size);
	a = a != NULL ? a : end;
	b = a < end ? memchr(a + 1, '\0', (size_t)(end - a - 1)) : NULL;
	b = b != NULL ? b : end;
	memset(&c, 0, sizeof c);
	pop3_caps_clear(&c);
	lines(p, a, capa, &c, &err);
	pop3_caps_clear(&c);

	memset(&sc, 0, sizeof sc);
	error_clear(&err);
	if (lines(a < end ? a + 1 : end, b, list, &sc, &err) == 0) {
		for (i = 1; i < sc.count; i++)
			if (sc.msgs[i].num <= sc.msgs[i - 1].num)
				abort();
		if (lines(b < end ? b + 1 : end, end, uidl, &sc, &err) == 0 &&
		    pop3_check_unique_uids(&sc, &err) == 0) {
			for (i = 0; i < sc.count; i++)
				if (sc.msgs[i].uid == NULL ||
				    !uid_valid(sc.msgs[i].uid,
				    strlen(sc.msgs[i].uid)))
					abort();
			for (i = 1; i < sc.count; i++)
				if (strcmp(sc.msgs[i].uid, sc.msgs[0].uid) == 0)
					abort();
		}
	}
	free(sc.msgs);
	arena_free(&sc.uids);
	return 0;
}
