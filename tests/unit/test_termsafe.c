/*
 * test_termsafe.c -- termsafe(): what a hostile server's text becomes
 * before it reaches a terminal, byte for byte.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "termsafe.h"

static char	out[256];

/* termsafe() of the len bytes in, as a string. */
static const char *
safe(const char *in, size_t len)
{
	termsafe(in, len, out, sizeof out);
	return out;
}

#define S(lit)	safe(lit, sizeof lit - 1)

static void
test_ascii(void)
{
	is_str(S("+OK Dovecot ready."), "+OK Dovecot ready.",
	    "printable ASCII passes as it is");
	is_str(S("a\\b"), "a\\b", "a backslash passes");
	is_str(S(""), "", "nothing is nothing");
}

static void
test_controls(void)
{
	is_str(S("1 \x1b]52;c;aGVsbG8=\x07"), "1 \\x1b]52;c;aGVsbG8=\\x07",
	    "OSC 52 (clipboard write): ESC and BEL escaped");
	is_str(S("\x1b]8;;http://evil/\x1b\\click\x1b]8;;\x1b\\"),
	    "\\x1b]8;;http://evil/\\x1b\\click\\x1b]8;;\\x1b\\",
	    "OSC 8 (hyperlink): every ESC escaped");
	is_str(S("\x1b[2J\x1b]0;title\x07"), "\\x1b[2J\\x1b]0;title\\x07",
	    "clear screen and set title");
	is_str(S("a\rb\nc\td\0e"), "a\\x0db\\x0ac\\x09d\\x00e",
	    "CR, LF, TAB, NUL");
	is_str(S("x\x7fy"), "x\\x7fy", "DEL");
	is_str(S("\x9b" "31m"), "\\x9b31m", "C1 CSI as one byte");
	is_str(S("\x80\x9f\xa0\xff"), "\\x80\\x9f\\xa0\\xff",
	    "high bytes that are not UTF-8");
}

static void
test_utf8(void)
{
	termsafe_set_utf8(0);
	is_str(S("caf\xc3\xa9"), "caf\\xc3\\xa9",
	    "without a UTF-8 terminal, non-ASCII is escaped");
	termsafe_set_utf8(1);
	is_str(S("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa7"),
	    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa7",
	    "with one, printable UTF-8 passes");
	is_str(S("\xc2\x9b" "31m"), "\\xc2\\x9b31m", "C1 CSI as UTF-8 U+009B");
	is_str(S("\xc2\x80\xc2\x9f"), "\\xc2\\x80\\xc2\\x9f",
	    "U+0080 and U+009F");
	is_str(S("abc\xe2\x80\xae" "fdp.exe"), "abc\\xe2\\x80\\xaefdp.exe",
	    "U+202E right-to-left override");
	is_str(S("\xe2\x80\xaa\xe2\x80\xab\xe2\x80\xac\xe2\x80\xad"),
	    "\\xe2\\x80\\xaa\\xe2\\x80\\xab\\xe2\\x80\\xac\\xe2\\x80\\xad",
	    "U+202A-U+202D");
	is_str(S("\xe2\x81\xa6\xe2\x81\xa9"), "\\xe2\\x81\\xa6\\xe2\\x81\\xa9",
	    "U+2066 and U+2069 isolates");
	is_str(S("\xe2\x80\x8e\xd8\x9c\xef\xbb\xbf\xe2\x80\xa8"),
	    "\\xe2\\x80\\x8e\\xd8\\x9c\\xef\\xbb\\xbf\\xe2\\x80\\xa8",
	    "LRM, ALM, BOM, line separator");
	is_str(S("\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80\xe2\x82"),
	    "\\xc0\\xaf\\xed\\xa0\\x80\\xf4\\x90\\x80\\x80\\xe2\\x82",
	    "overlong, surrogate, past U+10FFFF, cut short");
	termsafe_set_utf8(0);
}

static void
test_bounds(void)
{
	char	small[8];
	size_t	n;

	n = termsafe("abcdefghij", 10, small, sizeof small);
	is_str(small, "abcdefg", "cut to the buffer");
	is_int((long long)n, 7, "the length written");
	n = termsafe("abcde\x1b", 6, small, sizeof small);
	is_str(small, "abcde", "an escape that does not fit is left out whole");
	termsafe_set_utf8(1);
	n = termsafe("abcde\xc3\xa9", 7, small, sizeof small);
	is_str(small, "abcde\xc3\xa9", "a character that fits stays");
	n = termsafe("abcdef\xc3\xa9", 8, small, sizeof small);
	is_str(small, "abcdef", "one that does not is left out whole");
	termsafe_set_utf8(0);
	n = termsafe("x", 1, small, 1);
	is_str(small, "", "a one-byte buffer holds the NUL");
	ok(termsafe_char('a') && !termsafe_char(0x1b) && !termsafe_char(0x9b)
	    && !termsafe_char(0x202e) && termsafe_char(0xe9) &&
	    !termsafe_char(0xd800) && !termsafe_char(0x110000),
	    "termsafe_char");
}

int
main(void)
{
	test_ascii();
	test_controls();
	test_utf8();
	test_bounds();
	return tap_done();
}
