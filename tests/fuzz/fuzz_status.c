/* fuzz_status.c -- the POP3 status-line parser, pop3_parse_status(). */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pop3.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pop3_reply	r;
	struct error		err;
	size_t			i;

	memset(&r, 0, sizeof r);
	error_clear(&err);
	if (pop3_parse_status((const char *)data, size, &r, &err) == 0) {
		/* The promise callers rely on: text is printable and ends. */
		if (memchr(r.text, '\0', sizeof r.text) == NULL)
			abort();
		for (i = 0; r.text[i] != '\0'; i++)
			if ((unsigned char)r.text[i] < 0x20 ||
			    (unsigned char)r.text[i] > 0x7e)
				abort();
	} else if (err.ex != EX_PROTOCOL)
		abort();
	return 0;
}
