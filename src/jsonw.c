/* jsonw.c -- writing JSON values; see jsonw.h. */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "jsonw.h"

static size_t	utf8_len(const unsigned char *);

/* The length of the valid UTF-8 sequence at s, or 0. */
static size_t
utf8_len(const unsigned char *s)
{
	size_t		n, i;
	uint32_t	c;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, c = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, c = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, c = s[0] & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and beyond U+10FFFF are not UTF-8. */
	if ((n == 3 && c < 0x800) || (n == 4 && c < 0x10000) ||
	    (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
		return 0;
	return n;
}

void
json_string(struct buf *b, const char *str)
{
	const unsigned char	*s = (const unsigned char *)str;
	size_t			 n;

	buf_add(b, "\"", 1);
	while (*s != '\0') {
		if (*s == '"' || *s == '\\') {
			buf_printf(b, "\\%c", *s);
			s++;
		} else if (*s < 0x20 || *s == 0x7f) {
			buf_printf(b, "\\u%04x", *s);
			s++;
		} else if ((n = utf8_len(s)) == 0) {
			buf_addstr(b, "\\ufffd");
			s++;
		} else {
			buf_add(b, s, n);
			s += n;
		}
	}
	buf_add(b, "\"", 1);
}


void
jsonw_str(struct buf *b, const char *key, const char *val)
{
	buf_printf(b, ",\"%s\":", key);
	if (val != NULL)
		json_string(b, val);
	else
		buf_addstr(b, "null");
}

void
jsonw_num(struct buf *b, const char *key, unsigned long long n)
{
	buf_printf(b, ",\"%s\":%llu", key, n);
}
