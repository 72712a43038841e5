/*
 * fuzz_rfc2047.c -- header text for people: rfc2047_decode() on hostile
 * header values, then rfc2047_display() in both modes.  The display form
 * must be terminated, within its buffer and column limit, and free of
 * control characters.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "rfc2047.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf	dec;
	char		out[801];
	size_t		cols, i;
	int		utf8;

	buf_init(&dec);
	rfc2047_decode((const char *)data, size, &dec);
	for (utf8 = 0; utf8 <= 1; utf8++) {
		memset(out, 'X', sizeof out);
		cols = rfc2047_display(dec.data != NULL ? dec.data : "",
		    dec.len, utf8, 200, out, sizeof out);
		if (cols > 200 || memchr(out, '\0', sizeof out) == NULL)
			abort();
		for (i = 0; out[i] != '\0'; i++)
			if ((unsigned char)out[i] < 0x20 ||
			    (unsigned char)out[i] == 0x7f ||
			    (!utf8 && (unsigned char)out[i] >= 0x80))
				abort();
	}
	buf_free(&dec);
	return 0;
}
