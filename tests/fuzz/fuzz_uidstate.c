/* fuzz_uidstate.c -- the UID state file parser, uidstate_parse_buffer(). */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "uidstate.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct uidstate	*us;
	struct error	 err;

	error_clear(&err);
	us = uidstate_parse_buffer("fuzz", (const char *)data, size, &err);
	if (us == NULL) {
		if (err.ex != EX_DATAERR)
			abort();
		return 0;
	}
	(void)uidstate_lookup(us, "a", NULL);
	uidstate_close(us);
	return 0;
}
