/*
 * test_rfc2047.c -- decoding RFC 2047 encoded words and the display form
 * of header text (what --list shows).
 */
#include "config.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "rfc2047.h"
#include "tap.h"

static char	out[1024];

/* in decoded, then shown (utf8 or not) in at most cols columns. */
static const char *
show(const char *in, int utf8, size_t cols)
{
	struct buf	b;

	buf_init(&b);
	rfc2047_decode(in, strlen(in), &b);
	rfc2047_display(b.data != NULL ? b.data : "", b.len, utf8, cols, out,
	    sizeof out);
	buf_free(&b);
	return out;
}

static void
test_decode(void)
{
	is_str(show("=?UTF-8?B?w6lsw6h2ZQ==?=", 1, 80), "élève", "B, UTF-8");
	is_str(show("=?utf-8?b?w6lsw6h2ZQ?=", 1, 80), "élève",
	    "lower case, padding left out");
	is_str(show("=?ISO-8859-1?Q?caf=E9_cr=E8me?=", 1, 80), "café crème",
	    "Q, Latin-1, _ is a space");
	is_str(show("=?KOI8-R?B?8NLJ18XU?=", 1, 80), "Привет", "KOI8-R");
	is_str(show("=?UTF-8*ru?Q?=D0=BC=D0=B8=D1=80?=", 1, 80), "мир",
	    "charset*language (RFC 2231)");
	is_str(show("=?UTF-8?Q?a?= \t =?UTF-8?Q?b?=", 1, 80), "ab",
	    "white space between two encoded words goes");
	is_str(show("=?UTF-8?Q?a?= x =?UTF-8?Q?b?=", 1, 80), "a x b",
	    "text between encoded words stays");
	is_str(show("Re: =?UTF-8?Q?=C3=A9t=C3=A9?= report", 1, 80),
	    "Re: été report", "encoded word inside plain text");
	is_str(show("=?x-no-such-charset?Q?abc?=", 1, 80),
	    "=?x-no-such-charset?Q?abc?=", "unknown charset: left as it was");
	is_str(show("=?UTF-8?B?!!!?=", 1, 80), "=?UTF-8?B?!!!?=",
	    "bad base64: left as it was");
	is_str(show("=?UTF-8?Q?=ZZ?=", 1, 80), "=?UTF-8?Q?=ZZ?=",
	    "bad Q escape: left as it was");
	is_str(show("=?UTF-8?X?abc?=", 1, 80), "=?UTF-8?X?abc?=",
	    "unknown encoding: left as it was");
	is_str(show("=?UTF-8?Q?a b?=", 1, 80), "=?UTF-8?Q?a b?=",
	    "a space ends an encoded word");
	is_str(show("=?UTF-8?Q?=E2=80?=", 1, 80), "\xef\xbf\xbd",
	    "a sequence cut short is one U+FFFD");
	is_str(show("=?UTF-8?Q?a=FFb?=", 1, 80), "a\xef\xbf\xbd" "b",
	    "a byte the charset does not have is U+FFFD");
	is_str(show("=?", 1, 80), "=?", "a lone =? is text");
}

static void
test_display(void)
{
	is_str(show("Gr\xc3\xbc\xc3\x9f" "e", 1, 80), "Grüße",
	    "raw UTF-8 stays with utf8");
	is_str(show("Gr\xc3\xbc\xc3\x9f" "e", 0, 80), "Gr??e",
	    "one '?' per non-ASCII character without");
	is_str(show("a\xff\xfe" "b", 1, 80), "a??b", "invalid bytes are '?'");
	is_str(show("=?UTF-8?Q?x=1B[2J=07y=C2=9Bz?=", 1, 80), "x?[2J?y?z",
	    "decoded ESC, BEL and C1 controls are '?'");
	is_str(show("=?UTF-8?B?4oCuZXZpbA==?=", 1, 80), "?evil",
	    "a bidi override is '?'");
	is_str(show("  a \t\r b  ", 1, 80), "a b", "white space collapses");
	is_str(show("abcdefghij", 1, 4), "abcd", "cut at the column limit");
	is_str(show("ééééé", 1, 3), "ééé", "cut at a character boundary");
	is_str(show("日本語", 1, 5), "日本", "wide characters take two columns");
}

static void
test_bounds(void)
{
	struct buf	 b;
	char		*big;
	size_t		 i, cols;

	big = malloc(100000);
	for (i = 0; i + 30 < 100000; i += 20)
		memcpy(big + i, "=?UTF-8?Q?=FF=FE?= ", 20);
	big[i] = '\0';
	buf_init(&b);
	rfc2047_decode(big, strlen(big), &b);
	cols = rfc2047_display(b.data, b.len, 1, 200, out, sizeof out);
	ok(cols <= 200 && strlen(out) < sizeof out,
	    "100 KB of encoded words: the display stays within its limits");
	buf_free(&b);
	free(big);
}

int
main(void)
{
	if (setlocale(LC_CTYPE, "C.UTF-8") == NULL)
		(void)setlocale(LC_CTYPE, "en_US.UTF-8");
	test_decode();
	test_display();
	test_bounds();
	return tap_done();
}
