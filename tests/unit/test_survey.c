/* test_survey.c -- header fields for --list, JSON strings for --json. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "headers.h"
#include "json.h"
#include "tap.h"

static const char *
field(const char *hdr, const char *name, size_t size)
{
	static char	out[512];

	headers_field(hdr, strlen(hdr), name, out, size < sizeof out ? size :
	    sizeof out);
	return out;
}

static const char *
js(const char *s)
{
	static struct buf	b;

	buf_free(&b);
	buf_init(&b);
	json_string(&b, s);
	return b.data;
}

static void
test_headers(void)
{
	const char	*h = "Received: x\nsubject: Hello\n  folded\tline\n"
	    "From: a <b@c>\nSubject: second\n\nSubject: in the body\n";
	char		 out[16];

	is_str(field(h, "Subject", 512), "Hello folded line",
	    "case-insensitive, unfolded, white space collapsed");
	is_str(field(h, "From", 512), "a <b@c>", "simple field");
	is_str(field(h, "Date", 512), "", "missing field is empty");
	ok(headers_field(h, strlen(h), "Date", out, sizeof out) == 0,
	    "missing field returns 0");
	is_str(field("Subject: in\r\n\r\nSubject: body\r\n", "Subject", 512),
	    "in", "CRLF: the body is not the header");
	is_str(field("Subject: \033[31mred\007\xc3\xa9\n", "Subject", 512),
	    "?[31mred???", "control and 8-bit bytes become '?'");
	is_str(field("Subject: 0123456789abcdefghij\n", "Subject", 8),
	    "0123456", "cut to the buffer, terminated");
	is_str(field("Subjects: no\nSubject:yes\n", "Subject", 512), "yes",
	    "the name must end at the colon");
	is_str(field("X: 1\nSubject: a\n", "Subject", 1), "",
	    "a one-byte buffer holds the terminator only");
	is_str(field("Subject: a\n b", "Subject", 512), "a b",
	    "a header without a final newline");
}

static void
test_json(void)
{
	is_str(js("plain"), "\"plain\"", "plain string");
	is_str(js("q\"b\\"), "\"q\\\"b\\\\\"", "quote and backslash escaped");
	is_str(js("a\nb\tc\001\177"), "\"a\\u000ab\\u0009c\\u0001\\u007f\"",
	    "control characters as \\u");
	is_str(js("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
	    "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"",
	    "valid UTF-8 passes");
	is_str(js("\xff\xc3"), "\"\\ufffd\\ufffd\"", "invalid bytes replaced");
	is_str(js("\xc0\xaf"), "\"\\ufffd\\ufffd\"", "overlong form replaced");
	is_str(js("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"",
	    "surrogate replaced");
	is_str(json_exit_class(75), "tempfail", "exit class name");
	is_str(json_exit_class(12), "other", "unknown exit class");
}

int
main(void)
{
	test_headers();
	test_json();
	return tap_done();
}
