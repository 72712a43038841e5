/* pbkdf2.c -- PBKDF2 in slices a signal or a deadline ends; see pbkdf2.h. */
#include "config.h"

#include <string.h>
#include <time.h>

#include <gnutls/crypto.h>

#include "mono.h"
#include "pbkdf2.h"

/* Iterations between two looks at the flag and the clock (~2 ms). */
#define SLICE	2048

static int		interrupted(volatile sig_atomic_t *, long long,
			    struct error *);

size_t
pbkdf2_len(enum pbkdf2_hash h)
{
	return h == PBKDF2_SHA1 ? 20 : 32;
}

static int
interrupted(volatile sig_atomic_t *stop, long long deadline_ms,
    struct error *err)
{
	if (stop != NULL && *stop) {
		error_set(err, EX_TEMPFAIL, "stopped by a signal");
		return 1;
	}
	if (deadline_ms != 0 && mono_now_ms() >= deadline_ms) {
		error_set(err, EX_TEMPFAIL, "deriving the SCRAM key took "
		    "longer than the timeout");
		return 1;
	}
	return 0;
}

/* T_1 = U_1 ^ ... ^ U_c, U_1 = HMAC(P, S || INT(1)), U_i = HMAC(P, U_i-1). */
int
pbkdf2(enum pbkdf2_hash h, const void *pass, size_t passlen,
    const void *salt, size_t saltlen, unsigned long iter, unsigned char *out,
    volatile sig_atomic_t *stop, long long deadline_ms, struct error *err)
{
	static const unsigned char	 one[4] = { 0, 0, 0, 1 };
	gnutls_hmac_hd_t		 mac = NULL;
	unsigned char			 u[PBKDF2_MAX_LEN];
	size_t				 len = pbkdf2_len(h), k;
	unsigned long			 i;
	int				 rc = -1;

	memset(out, 0, len);
	if (iter == 0) {
		error_set(err, EX_PROTOCOL, "an iteration count of 0");
		return -1;
	}
	if (gnutls_hmac_init(&mac, h == PBKDF2_SHA1 ? GNUTLS_MAC_SHA1 :
	    GNUTLS_MAC_SHA256, pass, passlen) < 0) {
		mac = NULL;
		error_set(err, EX_SOFTWARE, "HMAC is not available");
		goto out;
	}
	/* gnutls_hmac_output() leaves the key in place for the next round. */
	if (gnutls_hmac(mac, salt, saltlen) < 0 ||
	    gnutls_hmac(mac, one, sizeof one) < 0)
		goto fail;
	gnutls_hmac_output(mac, u);
	memcpy(out, u, len);
	for (i = 1; i < iter; i++) {
		if (i % SLICE == 0 && interrupted(stop, deadline_ms, err))
			goto out;
		if (gnutls_hmac(mac, u, len) < 0)
			goto fail;
		gnutls_hmac_output(mac, u);
		for (k = 0; k < len; k++)
			out[k] ^= u[k];
	}
	rc = 0;
	goto out;
fail:
	error_set(err, EX_SOFTWARE, "HMAC failed");
out:
	if (mac != NULL)
		gnutls_hmac_deinit(mac, NULL);
	explicit_bzero(u, sizeof u);
	if (rc == -1)
		explicit_bzero(out, len);
	return rc;
}
