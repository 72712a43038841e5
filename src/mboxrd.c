/* mboxrd.c -- mboxrd quoting as a stream; see mboxrd.h. */
#include "config.h"

#include <string.h>

#include "mboxrd.h"

static int	pending(struct mboxrd *, struct error *);

static const char from_[] = "From ";

void
mboxrd_init(struct mboxrd *q, mboxrd_out out, void *arg)
{
	memset(q, 0, sizeof *q);
	q->out = out;
	q->arg = arg;
	q->bol = 1;
}

/* The '>'s and the part of "From " held back at a line start, as they were. */
static int
pending(struct mboxrd *q, struct error *err)
{
	static const char gts[] = ">>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>";
	size_t		  k;

	while (q->gts > 0) {
		k = q->gts < sizeof gts - 1 ? q->gts : sizeof gts - 1;
		if (q->out(q->arg, gts, k, err) == -1)
			return -1;
		q->gts -= k;
	}
	if (q->from > 0 && q->out(q->arg, from_, q->from, err) == -1)
		return -1;
	q->from = 0;
	return 0;
}

int
mboxrd_quote(struct mboxrd *q, const char *p, size_t n, struct error *err)
{
	const char	*nl;
	size_t		 i = 0, span = 0;

	while (i < n) {
		if (!q->bol) {
			nl = memchr(p + i, '\n', n - i);
			i = nl == NULL ? n : (size_t)(nl - p) + 1;
			q->bol = nl != NULL;
			if (q->out(q->arg, p + span, i - span, err) == -1)
				return -1;
			span = i;
			continue;
		}
		if (q->from == 0 && p[i] == '>') {
			q->gts++;
			span = ++i;
			continue;
		}
		if (p[i] == from_[q->from]) {
			span = ++i;
			if (++q->from < sizeof from_ - 1)
				continue;
			q->gts++;		/* the quoting '>' */
		}
		/* Settled: write what was held back; the line goes on. */
		if (pending(q, err) == -1)
			return -1;
		q->bol = 0;
	}
	return 0;
}

int
mboxrd_end(struct mboxrd *q, struct error *err)
{
	return pending(q, err);
}
