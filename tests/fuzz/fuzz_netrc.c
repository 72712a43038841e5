/* fuzz_netrc.c -- the ~/.netrc parser, netrc_parse(). */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netrc.h"
#include "xmalloc.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*text, *pass = NULL;
	int	 rc;

	text = xmalloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	rc = netrc_parse(text, "pop.example.com", "alice", &pass);
	if (rc == 1 && pass == NULL)
		abort();
	if (rc == 1)
		freezero_str(pass);
	free(text);
	return 0;
}
