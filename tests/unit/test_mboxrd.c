/*
 * test_mboxrd.c -- mboxrd quoting: known cases, the same input cut into
 * pieces at every place, and random messages quoted and unquoted back
 * byte for byte; and the test that decides what a killed append left.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mboxrd.h"
#include "tap.h"

static int	collect(void *, const char *, size_t, struct error *);
static char	*quote_in(const char *, size_t, const size_t *, size_t);
static char	*unquote(const char *);
static void	test_cases(void);
static void	test_splits(void);
static void	test_round_trips(void);

static int
collect(void *arg, const char *p, size_t n, struct error *err)
{
	(void)err;
	buf_add(arg, p, n);
	return 0;
}

/* Quote in, cut into pieces of the sizes cuts[] (the rest in one). */
static char *
quote_in(const char *in, size_t len, const size_t *cuts, size_t ncuts)
{
	struct mboxrd	q;
	struct buf	b;
	struct error	err;
	size_t		i, off = 0, k;

	buf_init(&b);
	buf_add(&b, "", 0);
	error_clear(&err);
	mboxrd_init(&q, collect, &b);
	for (i = 0; i < ncuts && off < len; i++) {
		k = cuts[i] < len - off ? cuts[i] : len - off;
		mboxrd_quote(&q, in + off, k, &err);
		off += k;
	}
	mboxrd_quote(&q, in + off, len - off, &err);
	mboxrd_end(&q, &err);
	return b.data;
}

/* What a reader does: one '>' off each line matching ^>+From . */
static char *
unquote(const char *s)
{
	struct buf	 b;
	const char	*line = s, *nl;
	size_t		 g;

	buf_init(&b);
	buf_add(&b, "", 0);
	while (*line != '\0') {
		nl = strchr(line, '\n');
		g = strspn(line, ">");
		if (g > 0 && strncmp(line + g, "From ", 5) == 0)
			line++;
		if (nl == NULL) {
			buf_addstr(&b, line);
			break;
		}
		buf_add(&b, line, (size_t)(nl - line) + 1);
		line = nl + 1;
	}
	return b.data;
}

static const struct {
	const char	*in, *out;
} cases[] = {
	{ "", "" },
	{ "From x\n", ">From x\n" },
	{ ">From x\n", ">>From x\n" },
	{ ">>>From x\n", ">>>>From x\n" },
	{ "a\nFrom b\n", "a\n>From b\n" },
	{ " From x\n", " From x\n" },
	{ "From\n", "From\n" },
	{ "Fro", "Fro" },
	{ ">", ">" },
	{ ">>\n", ">>\n" },
	{ "FromX\n", "FromX\n" },
	{ "from x\n", "from x\n" },
	{ ">From", ">From" },
	{ ">From ", ">>From " },
	{ "x From y\nFrom z", "x From y\n>From z" },
	{ "\nFrom \n\n>From \n", "\n>From \n\n>>From \n" },
	{ ">x>From y\n", ">x>From y\n" },
	{ "Fr>om \n", "Fr>om \n" },
};

static void
test_cases(void)
{
	size_t	i;
	char	*got;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		got = quote_in(cases[i].in, strlen(cases[i].in), NULL, 0);
		is_str(got, cases[i].out, "quote case %zu", i);
		free(got);
	}
}

/* Every case, cut in two at every place and fed byte by byte. */
static void
test_splits(void)
{
	size_t	 i, at, len, ones[256];
	char	*got;
	int	 bad;

	for (i = 0; i < sizeof ones / sizeof ones[0]; i++)
		ones[i] = 1;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		len = strlen(cases[i].in);
		bad = 0;
		for (at = 0; at <= len; at++) {
			got = quote_in(cases[i].in, len, &at, 1);
			bad |= strcmp(got, cases[i].out) != 0;
			free(got);
		}
		got = quote_in(cases[i].in, len, ones, len);
		bad |= strcmp(got, cases[i].out) != 0;
		free(got);
		ok(!bad, "quote case %zu in pieces", i);
	}
}

static void
test_round_trips(void)
{
	static const char *const tok[] = {
		"From ", ">", "\n", "x", "Fro", " ", "From", ">From ", "\n\n"
	};
	char	 in[400], *q, *back;
	size_t	 cuts[8], len, i, n;
	int	 round, bad = 0, safe = 1;

	srand(4155);
	for (round = 0; round < 2000; round++) {
		len = 0;
		n = (size_t)(rand() % 40);
		for (i = 0; i < n; i++) {
			const char *t = tok[rand() % (sizeof tok / sizeof *tok)];
			memcpy(in + len, t, strlen(t));
			len += strlen(t);
		}
		in[len] = '\0';
		for (i = 0; i < 8; i++)
			cuts[i] = (size_t)(rand() % 12);
		q = quote_in(in, len, cuts, 8);
		back = unquote(q);
		bad |= strcmp(back, in) != 0;
		/* No quoted line may start a message. */
		safe &= strncmp(q, "From ", 5) != 0 &&
		    strstr(q, "\nFrom ") == NULL;
		free(q);
		free(back);
	}
	ok(!bad, "2000 random messages quoted and read back byte for byte");
	ok(safe, "no quoted line starts with \"From \"");
}

int
main(void)
{
	test_cases();
	test_splits();
	test_round_trips();
	return tap_done();
}
