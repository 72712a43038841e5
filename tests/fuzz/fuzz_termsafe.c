/*
 * fuzz_termsafe.c -- termsafe() on any bytes, in both modes and with
 * buffers of every small size: the output must be terminated, within its
 * buffer, never longer than four times the input, and hold no byte a
 * terminal acts on (C0, DEL, and without UTF-8 nothing over 0x7f; with
 * it, only well-formed UTF-8 of characters termsafe_char() accepts).
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "termsafe.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(const unsigned char *o, size_t n, int utf8)
{
	size_t		i = 0, len, k;
	unsigned	cp;

	while (i < n) {
		if (o[i] < 0x80) {
			if (o[i] < 0x20 || o[i] == 0x7f)
				abort();
			i++;
			continue;
		}
		if (!utf8)
			abort();
		len = o[i] >= 0xf0 ? 4 : o[i] >= 0xe0 ? 3 : 2;
		cp = o[i] & (0x7f >> len);
		if (i + len > n)
			abort();
		for (k = 1; k < len; k++) {
			if ((o[i + k] & 0xc0) != 0x80)
				abort();
			cp = (cp << 6) | (o[i + k] & 0x3f);
		}
		if (!termsafe_char(cp))
			abort();
		i += len;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*out;
	size_t	 cap = size * 4 + 1, bufsize, n;
	int	 utf8;

	out = malloc(cap + 1);
	if (out == NULL)
		return 0;
	for (utf8 = 0; utf8 <= 1; utf8++) {
		termsafe_set_utf8(utf8);
		for (bufsize = 1; bufsize <= cap; bufsize = bufsize < 16 ?
		    bufsize + 1 : bufsize * 2 + 1) {
			memset(out, 'X', cap + 1);
			n = termsafe((const char *)data, size, out, bufsize);
			if (n >= bufsize || out[n] != '\0' ||
			    strlen(out) != n || out[bufsize] != 'X')
				abort();
			check((const unsigned char *)out, n, utf8);
		}
		n = termsafe((const char *)data, size, out, cap);
		if (n > size * 4)
			abort();
	}
	free(out);
	return 0;
}
