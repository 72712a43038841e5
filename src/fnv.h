/*
 * fnv.h -- FNV-1a, 64 bits: the check on the journals' lines (damage
 * detection, not authentication: who can write a journal can write what
 * it describes) and the tag naming one message of one account.
 */
#ifndef POPFETCH_FNV_H
#define POPFETCH_FNV_H

#include <stddef.h>
#include <stdint.h>

#define FNV1A_INIT	UINT64_C(0xcbf29ce484222325)

/* h (FNV1A_INIT to start) carried over the n bytes at p. */
static inline uint64_t
fnv1a_add(uint64_t h, const void *p, size_t n)
{
	const unsigned char	*b = p;

	while (n-- > 0) {
		h ^= *b++;
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

static inline uint64_t
fnv1a(const char *p, size_t n)
{
	return fnv1a_add(FNV1A_INIT, p, n);
}

#endif
