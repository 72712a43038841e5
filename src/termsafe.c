/* termsafe.c -- server text made safe for a terminal; see termsafe.h. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "termsafe.h"

static int	utf8_ok;

static size_t	utf8_next(const unsigned char *, size_t, unsigned *);

void
termsafe_set_utf8(int on)
{
	utf8_ok = on != 0;
}

/* No controls, no line or paragraph separators, no bidi controls. */
int
termsafe_char(unsigned c)
{
	if (c < 0x20 || (c >= 0x7f && c < 0xa0))
		return 0;
	if (c == 0x2028 || c == 0x2029 || (c >= 0x202a && c <= 0x202e) ||
	    (c >= 0x2066 && c <= 0x2069) || c == 0x200e || c == 0x200f ||
	    c == 0x061c || c == 0xfeff)
		return 0;
	return c <= 0x10ffff && (c < 0xd800 || c > 0xdfff);
}

/*
 * The well-formed UTF-8 sequence at s (n bytes left): its length, with
 * the code point in *cp; 0 when s does not start one (overlong forms,
 * surrogates and values past U+10FFFF are not well-formed).
 */
static size_t
utf8_next(const unsigned char *s, size_t n, unsigned *cp)
{
	size_t		len, i;
	unsigned	c, min;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		c = s[0] & 0x1f;
		min = 0x80;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		c = s[0] & 0x0f;
		min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		c = s[0] & 0x07;
		min = 0x10000;
	} else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

size_t
termsafe(const char *in, size_t len, char *out, size_t size)
{
	const unsigned char	*s = (const unsigned char *)in;
	size_t			 i = 0, o = 0, n;
	unsigned		 cp;

	while (i < len) {
		n = utf8_next(s + i, len - i, &cp);
		if (n > 0 && termsafe_char(cp) && (n == 1 || utf8_ok)) {
			if (o + n >= size)
				break;
			memcpy(out + o, s + i, n);
			o += n;
			i += n;
			continue;
		}
		/* One byte escaped; the rest of a sequence follows as bytes. */
		if (o + 4 >= size)
			break;
		snprintf(out + o, size - o, "\\x%02x", s[i]);
		o += 4;
		i++;
	}
	out[o] = '\0';
	return o;
}
