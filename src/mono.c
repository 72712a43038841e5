/* mono.c -- the monotonic clock for deadlines; see mono.h. */
#include "config.h"

#include <time.h>

#include "mono.h"

long long
mono_clock_ms(clockid_t id)
{
	struct timespec	ts;

	clock_gettime(id, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long
mono_now_ms(void)
{
	return mono_clock_ms(CLOCK_MONOTONIC);
}

void
mono_deadline(struct timespec *end, int secs)
{
	clock_gettime(CLOCK_MONOTONIC, end);
	end->tv_sec += secs;
}

long long
mono_left_ms(const struct timespec *end)
{
	struct timespec	now;
	long long	ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (end->tv_sec - now.tv_sec) * 1000LL +
	    (end->tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : ms;
}
