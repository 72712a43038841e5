/* fuzz_config.c -- the fetchrc parser, config_parse_string(). */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "xmalloc.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct accounts	 accts;
	struct error	 err;
	char		*text;

	/* A config file is text: it ends at the first NUL, as C reads it. */
	text = xmalloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	TAILQ_INIT(&accts);
	error_clear(&err);
	if (config_parse_string(text, "fuzz", &accts, &err) == -1 &&
	    err.ex != EX_CONFIG)
		abort();
	accounts_free(&accts);
	free(text);
	return 0;
}
