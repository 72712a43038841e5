/* progress.c -- the live progress line; see progress.h. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "progress.h"

#define REDRAW_MS	200

static double	elapsed(const struct timespec *, const struct timespec *);
static void	draw(struct progress *, int);

void
progress_human_size(char *buf, size_t size, uint64_t n)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB",
	    "PiB", "EiB" };
	double	v = (double)n / 1024;
	size_t	u = 0;

	if (n < 1024) {
		snprintf(buf, size, "%llu bytes", (unsigned long long)n);
		return;
	}
	while (v >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
		v /= 1024;
		u++;
	}
	/* A saturated sum (size_add()): the true total may be larger. */
	snprintf(buf, size, "%.1f %s%s", v, units[u], n == UINT64_MAX ?
	    " or more" : "");
}

void
progress_start(struct progress *pg, const char *acct, unsigned long total,
    uint64_t total_bytes)
{
	memset(pg, 0, sizeof *pg);
	pg->acct = acct;
	pg->total = total;
	pg->total_bytes = total_bytes;
	clock_gettime(CLOCK_MONOTONIC, &pg->start);
	draw(pg, 1);
}

void
progress_bytes(struct progress *pg, uint64_t n)
{
	pg->bytes += n;
	draw(pg, 0);
}

void
progress_message(struct progress *pg)
{
	pg->done++;
	draw(pg, 1);
}

void
progress_end(struct progress *pg)
{
	static const char	clear[] = "\r\033[K";

	if (pg->drawn)
		(void)!write(STDERR_FILENO, clear, sizeof clear - 1);
	pg->drawn = 0;
}

static double
elapsed(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) +
	    (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

/* One write per redraw; "\033[K" erases what a longer line left. */
static void
draw(struct progress *pg, int force)
{
	struct timespec	now;
	char		line[256], got[32], all[32], rate[32] = "", eta[32] = "";
	double		secs, bps;
	unsigned long	cur;
	int		n;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!force && pg->drawn && elapsed(&pg->last, &now) * 1000 < REDRAW_MS)
		return;
	pg->last = now;
	secs = elapsed(&pg->start, &now);
	progress_human_size(got, sizeof got, pg->bytes);
	progress_human_size(all, sizeof all, pg->total_bytes);
	if (secs >= 0.5 && pg->bytes > 0) {
		bps = (double)pg->bytes / secs;
		progress_human_size(rate, sizeof rate, (uint64_t)bps);
		strlcat(rate, "/s", sizeof rate);
		if (pg->total_bytes > pg->bytes) {
			long left = (long)((double)(pg->total_bytes -
			    pg->bytes) / bps);

			snprintf(eta, sizeof eta, ", ETA %ld:%02ld", left / 60,
			    left % 60);
		}
	}
	cur = pg->done < pg->total ? pg->done + 1 : pg->total;
	n = snprintf(line, sizeof line, "\r%s: message %lu of %lu, %s of %s%s"
	    "%s%s\033[K", pg->acct, cur, pg->total, got, all,
	    rate[0] != '\0' ? ", " : "", rate, eta);
	if (n < 0 || (size_t)n >= sizeof line)
		return;
	(void)!write(STDERR_FILENO, line, (size_t)n);
	pg->drawn = 1;
}
