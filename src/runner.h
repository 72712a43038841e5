/*
 * runner.h -- running several accounts at once (-j, `jobs`).
 *
 * Each item runs in a child process of its own, so accounts share no
 * state (connections, locks, the GnuTLS session, memory) and a crash in
 * one cannot touch another.  Children write their output themselves; log.c
 * writes each line with one write(2), so lines never interleave mid-line.
 */
#ifndef POPFETCH_RUNNER_H
#define POPFETCH_RUNNER_H

#include <signal.h>
#include <stddef.h>
#include <sysexits.h>

#define RUNNER_JOBS_MAX	64

/* Runs one item in the child; returns a sysexits code. */
typedef int (*runner_fn)(void *item);

/* The exit code of an item not started because a stop was asked for. */
#define RUNNER_STOPPED	EX_TEMPFAIL

/*
 * Run fn on each of the n items, at most jobs at a time (jobs <= 1: one
 * after the other in this process).  ex[i] receives item i's exit code;
 * a child killed by a signal or that cannot be started counts as
 * EX_SOFTWARE / EX_OSERR.  Once *stop (may be NULL) is set, no further
 * item starts (RUNNER_STOPPED) and running children get SIGTERM.
 */
void	runner_run(void *const *items, size_t n, int jobs, runner_fn fn,
	    int *ex, volatile sig_atomic_t *stop);

#endif
