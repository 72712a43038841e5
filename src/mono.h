/*
 * mono.h -- the monotonic clock, the scale of every deadline: the
 * network's waits, a child's run, a key derivation.  Wall-clock changes
 * (NTP, a suspended laptop) never move a deadline.
 */
#ifndef POPFETCH_MONO_H
#define POPFETCH_MONO_H

#include <time.h>

/* Milliseconds on clock id (CLOCK_MONOTONIC, CLOCK_BOOTTIME). */
long long	mono_clock_ms(clockid_t id);
/* Milliseconds on CLOCK_MONOTONIC: deadlines as now + a span. */
long long	mono_now_ms(void);
/* *end = now + secs seconds on CLOCK_MONOTONIC. */
void		mono_deadline(struct timespec *end, int secs);
/* Milliseconds until end (mono_deadline()), 0 once it has passed. */
long long	mono_left_ms(const struct timespec *end);

#endif
