/*
 * pbkdf2.h -- PBKDF2 (RFC 8018, section 5.2) with HMAC-SHA-1 or
 * HMAC-SHA-256, one block long: SCRAM's SaltedPassword (RFC 5802).
 *
 * The server picks the iteration count and the client pays for it, so the
 * derivation runs in slices and between them checks a stop flag (set by a
 * SIGTERM handler) and a deadline, as every network wait does: a signal
 * or the account's timeout ends it within a few milliseconds.
 */
#ifndef POPFETCH_PBKDF2_H
#define POPFETCH_PBKDF2_H

#include <signal.h>
#include <stddef.h>

#include "error.h"

enum pbkdf2_hash {
	PBKDF2_SHA1,		/* 20 bytes */
	PBKDF2_SHA256,		/* 32 bytes */
};

#define PBKDF2_MAX_LEN	32

/* The length of the hash's output, and so of pbkdf2()'s. */
size_t	pbkdf2_len(enum pbkdf2_hash);

/*
 * The first block of PBKDF2(pass, salt, iter) into out (pbkdf2_len()
 * bytes).  stop: NULL or a flag; deadline_ms: CLOCK_MONOTONIC
 * milliseconds, 0 for none.  0 when done; -1 with EX_TEMPFAIL "stopped
 * by a signal" or "... took longer than the timeout", or EX_SOFTWARE when
 * the HMAC cannot be had (iter 0 is EX_PROTOCOL); out is then zeroed.
 */
int	pbkdf2(enum pbkdf2_hash, const void *pass, size_t passlen,
	    const void *salt, size_t saltlen, unsigned long iter,
	    unsigned char *out, volatile sig_atomic_t *stop,
	    long long deadline_ms, struct error *);

#endif
