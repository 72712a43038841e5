/* received.c -- the Received: trace header; see received.h. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "received.h"

static void	add_clean(struct buf *, const char *);

/* The arguments come from the config and the TLS library: keep lines whole. */
static void
add_clean(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			buf_add(b, "?", 1);
		else
			buf_add(b, s, 1);
	}
}

char *
received_header(const char *server, const char *user, const char *localhost,
    const char *tls_desc, time_t now)
{
	struct buf	 b;
	struct tm	 tm;
	char		 date[64];

	/* RFC 5322 date-time; the C locale gives English names. */
	if (localtime_r(&now, &tm) == NULL ||
	    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S %z", &tm) == 0)
		strlcpy(date, "Thu, 01 Jan 1970 00:00:00 +0000", sizeof date);

	buf_init(&b);
	buf_addstr(&b, "Received: from ");
	add_clean(&b, server);
	buf_addstr(&b, " (user ");
	add_clean(&b, user);
	buf_addstr(&b, ")\n\tby ");
	add_clean(&b, localhost);
	buf_printf(&b, " with %s (popfetch %s", tls_desc != NULL ? "POP3S" :
	    "POP3", PACKAGE_VERSION);
	if (tls_desc != NULL) {
		buf_addstr(&b, ", ");
		add_clean(&b, tls_desc);
	}
	buf_printf(&b, ");\n\t%s\n", date);
	return b.data;
}
