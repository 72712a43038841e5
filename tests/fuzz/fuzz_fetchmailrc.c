/*
 * fuzz_fetchmailrc.c -- the .fetchmailrc importer, fm_parse() and
 * fm_write(): whatever the input, the fetchrc written holds only the
 * lines the importer means to write (no value starts a line of its own),
 * comments are printable ASCII, and every account gets one delivery.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import-fetchmail.h"
#include "xmalloc.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char *const keys[] = {
	"account ", "host \"", "port ", "tls on", "tls off",
	"tls_starttls on", "tls_starttls off", "tls_certcheck off", "tls_trust_file \"",
	"tls_fingerprint ", "timeout ", "user \"", "auth apop",
	"password \"", "keep on", "keep off", "skipsize ", "delivery mda ",
};

/* One line of the output (without its newline); the accounts and
 * deliveries counted. */
static void
check_line(const char *l, size_t n, size_t *accounts, size_t *deliveries)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if ((unsigned char)l[i] < 0x20 || l[i] == 0x7f ||
		    (l[0] == '#' && (unsigned char)l[i] >= 0x7f))
			abort();
	if (n == 0 || l[0] == '#')
		return;
	for (i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (strncmp(l, keys[i], strlen(keys[i])) == 0)
			break;
	if (i == sizeof keys / sizeof keys[0])
		abort();
	*accounts += strncmp(l, "account ", 8) == 0;
	*deliveries += strncmp(l, "delivery mda ", 13) == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fm_file	 f;
	struct error	 err;
	FILE		*out;
	char		*text, *buf = NULL, *p, *nl;
	size_t		 len = 0, accounts = 0, deliveries = 0;

	/* The importer refuses a NUL before it parses. */
	text = xmalloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	error_clear(&err);
	if (fm_parse(text, "fuzz", &f, &err) == -1) {
		if (err.ex != EX_DATAERR)
			abort();
		free(text);
		return 0;
	}
	if ((out = open_memstream(&buf, &len)) == NULL)
		abort();
	fm_write(&f, "fuzz", out);
	fclose(out);
	for (p = buf; (nl = memchr(p, '\n', len - (size_t)(p - buf))) != NULL;
	    p = nl + 1)
		check_line(p, (size_t)(nl - p), &accounts, &deliveries);
	if (p != buf + len || accounts != deliveries)
		abort();
	fm_free(&f);
	free(buf);
	free(text);
	return 0;
}
