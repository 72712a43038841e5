/*
 * test_pbkdf2.c -- SCRAM's key derivation: the RFC 6070 and RFC 7914
 * vectors, and a derivation that a stop flag or a deadline ends at once
 * whatever iteration count the server asked for.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mono.h"
#include "pbkdf2.h"
#include "tap.h"

static const char *
hex(const unsigned char *b, size_t n)
{
	static char	s[2 * PBKDF2_MAX_LEN + 1];
	size_t		i;

	for (i = 0; i < n; i++)
		snprintf(s + 2 * i, 3, "%02x", b[i]);
	s[2 * n] = '\0';
	return s;
}

static const char *
derive(enum pbkdf2_hash h, const char *p, const char *s, unsigned long c)
{
	static struct error	err;
	unsigned char		out[PBKDF2_MAX_LEN];

	error_clear(&err);
	if (pbkdf2(h, p, strlen(p), s, strlen(s), c, out, NULL, 0, &err) == -1)
		return err.msg;
	return hex(out, pbkdf2_len(h));
}

static void
test_vectors(void)
{
	is_str(derive(PBKDF2_SHA1, "password", "salt", 1),
	    "0c60c80f961f0e71f3a9b524af6012062fe037a6", "RFC 6070, c=1");
	is_str(derive(PBKDF2_SHA1, "password", "salt", 4096),
	    "4b007901b765489abead49d926f721d065a429c1", "RFC 6070, c=4096");
	is_str(derive(PBKDF2_SHA256, "passwd", "salt", 1),
	    "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc",
	    "RFC 7914, c=1 (first block)");
	is_str(derive(PBKDF2_SHA256, "pencil", "salt", 5000),
	    "5a2d10359b30bea9901ad2ee87938f3282494b58768e4b9de4faa7adcf571676",
	    "SHA-256, c=5000 (across slices)");
	is_str(derive(PBKDF2_SHA256, "x", "salt", 0),
	    "an iteration count of 0", "c=0 is refused");
}

static void
test_interrupted(void)
{
	unsigned char		out[PBKDF2_MAX_LEN];
	volatile sig_atomic_t	stop = 1;
	struct error		err;
	long long		t0;
	int			rc;

	error_clear(&err);
	t0 = mono_now_ms();
	rc = pbkdf2(PBKDF2_SHA256, "p", 1, "s", 1, 4294967295UL, out, &stop,
	    0, &err);
	ok(rc == -1 && err.ex == EX_TEMPFAIL &&
	    strcmp(err.msg, "stopped by a signal") == 0,
	    "a set stop flag ends i=4294967295: %s", err.msg);
	ok(mono_now_ms() - t0 < 2000, "at once");
	is_str(hex(out, 32), "00000000000000000000000000000000000000000000000"
	    "00000000000000000", "nothing of the key is left");

	error_clear(&err);
	t0 = mono_now_ms();
	rc = pbkdf2(PBKDF2_SHA1, "p", 1, "s", 1, 4294967295UL, out, NULL,
	    t0 + 200, &err);
	ok(rc == -1 && err.ex == EX_TEMPFAIL &&
	    strstr(err.msg, "longer than the timeout") != NULL,
	    "a deadline 0.2 s away ends i=4294967295: %s", err.msg);
	ok(mono_now_ms() - t0 < 5000, "soon after the deadline");
}

int
main(void)
{
	test_vectors();
	test_interrupted();
	return tap_done();
}
