/* rfc2047.c -- decoding encoded words, text safe for a terminal; see rfc2047.h. */
#include "config.h"

#include <errno.h>
#include <iconv.h>
#include <langinfo.h>
#include <string.h>
#include <strings.h>
#include <wchar.h>

#include "rfc2047.h"
#include "termsafe.h"

/* Longer than any real charset name or encoded word; more is garbage. */
#define CHARSET_MAX	64
#define WORD_MAX	4096

static const char	replacement[] = "\xef\xbf\xbd";	/* U+FFFD */

static int	 parse_word(const char *, const char *, const char **,
		    struct buf *);
static int	 unbase64(const char *, size_t, struct buf *);
static int	 unquote(const char *, size_t, struct buf *);
static int	 to_utf8(const char *, const char *, size_t, struct buf *);
static int	 is_space(char);
static size_t	 utf8_next(const unsigned char *, size_t, unsigned *);

void
rfc2047_decode(const char *in, size_t len, struct buf *out)
{
	const char	*p = in, *end = in + len, *next, *ws;
	int		 after_word = 0;

	while (p < end) {
		if (p + 1 < end && p[0] == '=' && p[1] == '?' &&
		    parse_word(p, end, &next, out) == 0) {
			p = next;
			after_word = 1;
			continue;
		}
		if (is_space(*p)) {
			/* White space between two encoded words is dropped. */
			for (ws = p; ws < end && is_space(*ws); ws++)
				;
			if (after_word && ws + 1 < end && ws[0] == '=' &&
			    ws[1] == '?') {
				struct buf	probe;

				buf_init(&probe);
				if (parse_word(ws, end, &next, &probe) == 0) {
					buf_add(out, probe.data, probe.len);
					buf_free(&probe);
					p = next;
					continue;
				}
				buf_free(&probe);
			}
			buf_add(out, p, (size_t)(ws - p));
			p = ws;
			after_word = 0;
			continue;
		}
		buf_add(out, p, 1);
		p++;
		after_word = 0;
	}
}

/*
 * One "=?charset?e?text?=" at p: decoded into out, *next after it; -1
 * (out untouched) if it is not one.
 */
static int
parse_word(const char *p, const char *end, const char **next,
    struct buf *out)
{
	const char	*cs, *q, *text, *stop;
	char		 charset[CHARSET_MAX + 1], enc, *star;
	struct buf	 raw;
	size_t		 cslen;
	int		 rc;

	cs = p + 2;
	if ((q = memchr(cs, '?', (size_t)(end - cs))) == NULL)
		return -1;
	cslen = (size_t)(q - cs);
	if (cslen == 0 || cslen > CHARSET_MAX || q + 3 >= end || q[2] != '?')
		return -1;
	enc = q[1];
	if (enc != 'B' && enc != 'b' && enc != 'Q' && enc != 'q')
		return -1;
	text = q + 3;
	for (stop = text; stop + 1 < end; stop++) {
		if (stop[0] == '?' && stop[1] == '=')
			break;
		if (is_space(*stop) || stop - text > WORD_MAX)
			return -1;
	}
	if (stop + 1 >= end)
		return -1;
	memcpy(charset, cs, cslen);
	charset[cslen] = '\0';
	/* RFC 2231: "charset*language". */
	if ((star = strchr(charset, '*')) != NULL)
		*star = '\0';
	if (charset[0] == '\0')
		return -1;
	buf_init(&raw);
	if (enc == 'B' || enc == 'b')
		rc = unbase64(text, (size_t)(stop - text), &raw);
	else
		rc = unquote(text, (size_t)(stop - text), &raw);
	/* An unknown charset leaves the word as it was. */
	if (rc == 0)
		rc = to_utf8(charset, raw.data != NULL ? raw.data : "",
		    raw.len, out);
	buf_free(&raw);
	if (rc == -1)
		return -1;
	*next = stop + 2;
	return 0;
}

static int
unbase64(const char *s, size_t n, struct buf *out)
{
	static const char	 digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	const char		*d;
	unsigned		 acc = 0;
	int			 bits = 0;
	size_t			 i;
	unsigned char		 c;

	for (i = 0; i < n; i++) {
		if (s[i] == '=')
			break;		/* padding; what follows must be '=' */
		if ((d = strchr(digits, s[i])) == NULL || s[i] == '\0')
			return -1;
		acc = (acc << 6) | (unsigned)(d - digits);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			c = (unsigned char)(acc >> bits);
			buf_add(out, &c, 1);
			acc &= (1u << bits) - 1;
		}
	}
	for (; i < n; i++)
		if (s[i] != '=')
			return -1;
	return 0;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int
unquote(const char *s, size_t n, struct buf *out)
{
	size_t		i;
	int		hi, lo;
	unsigned char	c;

	for (i = 0; i < n; i++) {
		if (s[i] == '_')
			c = ' ';
		else if (s[i] == '=') {
			if (i + 2 >= n ||
			    (hi = hexval(s[i + 1])) == -1 ||
			    (lo = hexval(s[i + 2])) == -1)
				return -1;
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		} else
			c = (unsigned char)s[i];
		buf_add(out, &c, 1);
	}
	return 0;
}

/*
 * in/len from charset to UTF-8 into out; what does not convert is U+FFFD.
 * -1 (out untouched) when iconv does not know the charset.
 */
static int
to_utf8(const char *charset, const char *in, size_t len, struct buf *out)
{
	iconv_t	 cd;
	char	 tmp[256], *ip = (char *)in, *op;
	size_t	 il = len, ol, r;

	if ((cd = iconv_open("UTF-8", charset)) == (iconv_t)-1)
		return -1;
	while (il > 0) {
		op = tmp;
		ol = sizeof tmp;
		r = iconv(cd, &ip, &il, &op, &ol);
		buf_add(out, tmp, sizeof tmp - ol);
		if (r == (size_t)-1 && errno == EINVAL) {
			/* A sequence cut short at the end: one U+FFFD. */
			buf_add(out, replacement, sizeof replacement - 1);
			break;
		}
		if (r == (size_t)-1 && errno != E2BIG) {
			/* EILSEQ: one bad byte, then go on. */
			buf_add(out, replacement, sizeof replacement - 1);
			ip++;
			il--;
			(void)iconv(cd, NULL, NULL, NULL, NULL);
		}
	}
	op = tmp;
	ol = sizeof tmp;
	(void)iconv(cd, NULL, NULL, &op, &ol);
	buf_add(out, tmp, sizeof tmp - ol);
	iconv_close(cd);
	return 0;
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * The code point of the UTF-8 sequence at s (n bytes left) in *cp and
 * its length, or 0 when it is not a valid, shortest-form sequence.
 */
static size_t
utf8_next(const unsigned char *s, size_t n, unsigned *cp)
{
	size_t		len, i;
	unsigned	c = s[0], min;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		c &= 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		c &= 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		c &= 0x07;
		min = 0x10000;
	} else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

size_t
rfc2047_display(const char *in, size_t len, int utf8, size_t max_cols,
    char *out, size_t size)
{
	const unsigned char	*s = (const unsigned char *)in;
	size_t			 i = 0, o = 0, cols = 0, n, w;
	unsigned		 cp;
	int			 space = 0, cw;

	out[0] = '\0';
	while (i < len) {
		n = utf8_next(s + i, len - i, &cp);
		if (n == 0) {
			n = 1;
			cp = '?';
		} else if (cp == ' ' || cp == '\t' || cp == '\r' ||
		    cp == '\n') {
			space = 1;
			i += n;
			continue;
		} else if (!termsafe_char(cp) || (cp >= 0x80 && !utf8))
			cp = '?';
		if (space && o > 0) {
			if (cols + 1 > max_cols || o + 2 > size)
				break;
			out[o++] = ' ';
			cols++;
		}
		space = 0;
		if (cp == '?' || cp < 0x80) {
			w = 1;
			if (cols + w > max_cols || o + 2 > size)
				break;
			out[o++] = (char)cp;
		} else {
			cw = wcwidth((wchar_t)cp);
			w = cw < 0 ? 1 : (size_t)cw;
			if (cols + w > max_cols || o + n + 1 > size)
				break;
			if (cw < 0)
				out[o++] = '?';
			else {
				memcpy(out + o, s + i, n);
				o += n;
			}
		}
		cols += w;
		i += n;
	}
	out[o] = '\0';
	return cols;
}

int
rfc2047_locale_utf8(void)
{
	const char	*cs = nl_langinfo(CODESET);

	return cs != NULL && (strcasecmp(cs, "UTF-8") == 0 ||
	    strcasecmp(cs, "utf8") == 0);
}
