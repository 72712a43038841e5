/* envelope.c -- the envelope sender from Return-Path; see envelope.h. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "envelope.h"
#include "xmalloc.h"

#define RETURN_PATH	"Return-Path"

static const char	*field_value(const char *, const char *, const char **);
static char		*unfold(const char *, const char *);
static char		*address(const char *, int);
static size_t		 utf8_len(const unsigned char *, const unsigned char *);
static char		*sender(const char *, size_t, int);
static char		*sender_of(const char *, size_t, uint64_t, int);

/*
 * If the field starting at p (a line start before end) is Return-Path,
 * return where its value starts; *next gets the start of the next field.
 */
static const char *
field_value(const char *p, const char *end, const char **next)
{
	const char	*colon, *q, *name_end;
	size_t		 namelen = strlen(RETURN_PATH);

	/* The field runs on over continuation lines (starting with WSP). */
	for (q = p; q < end; q++)
		if (*q == '\n' && (q + 1 == end ||
		    (q[1] != ' ' && q[1] != '\t')))
			break;
	*next = q < end ? q + 1 : end;

	if ((colon = memchr(p, ':', (size_t)(q - p))) == NULL)
		return NULL;
	/* RFC 5322's obsolete syntax allows blanks before the colon. */
	for (name_end = colon; name_end > p &&
	    (name_end[-1] == ' ' || name_end[-1] == '\t'); name_end--)
		;
	if ((size_t)(name_end - p) != namelen ||
	    strncasecmp(p, RETURN_PATH, namelen) != 0)
		return NULL;
	return colon + 1;
}

/* The value from v to the field's end, line breaks of the folding removed. */
static char *
unfold(const char *v, const char *field_end)
{
	struct buf	 b;
	const char	*q;

	buf_init(&b);
	buf_add(&b, "", 0);
	for (q = v; q < field_end; q++) {
		if (*q == '\n' || *q == '\r')
			continue;
		buf_add(&b, q, 1);
	}
	return b.data;
}

/*
 * The length of the well-formed UTF-8 sequence of 2 to 4 bytes at p
 * (before end), no overlong form, no surrogate, nothing over U+10FFFF,
 * no C1 control (U+0080 to U+009F); 0 when there is none.
 */
static size_t
utf8_len(const unsigned char *p, const unsigned char *end)
{
	size_t		n, i;
	unsigned char	lo = 0x80, hi = 0xbf;

	if (*p >= 0xc2 && *p <= 0xdf) {
		n = 2;
		lo = *p == 0xc2 ? 0xa0 : 0x80;
	} else if (*p >= 0xe0 && *p <= 0xef) {
		n = 3;
		lo = *p == 0xe0 ? 0xa0 : 0x80;
		hi = *p == 0xed ? 0x9f : 0xbf;
	} else if (*p >= 0xf0 && *p <= 0xf4) {
		n = 4;
		lo = *p == 0xf0 ? 0x90 : 0x80;
		hi = *p == 0xf4 ? 0x8f : 0xbf;
	} else
		return 0;
	if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

/*
 * "<addr> (comment)" or a bare "addr" into addr, checked; NULL if
 * unusable.  Printable ASCII, and with utf8 well-formed UTF-8 too.
 */
static char *
address(const char *v, int utf8)
{
	const char	*start, *stop, *q;
	size_t		 len, n;

	v += strspn(v, " \t");
	if (*v == '<') {
		start = v + 1;
		if ((stop = strchr(start, '>')) == NULL)
			return NULL;
	} else {
		start = v;
		stop = start + strcspn(start, " \t");
	}
	len = (size_t)(stop - start);
	if (len == 0 || len > ENVELOPE_ADDR_MAX)
		return NULL;
	for (q = start; q < stop; q++) {
		if ((unsigned char)*q >= 0x20 && (unsigned char)*q <= 0x7e)
			continue;
		if (!utf8 || (unsigned char)*q < 0x80 ||
		    (n = utf8_len((const unsigned char *)q,
		    (const unsigned char *)stop)) == 0)
			return NULL;
		q += n - 1;
	}
	return xstrndup(start, len);
}

char *
envelope_sender(const char *hdr, size_t len)
{
	return sender(hdr, len, 0);
}

char *
envelope_sender_of(const char *hdr, size_t len, uint64_t msgsize)
{
	return sender_of(hdr, len, msgsize, 0);
}

char *
envelope_sender_utf8_of(const char *hdr, size_t len, uint64_t msgsize)
{
	return sender_of(hdr, len, msgsize, 1);
}

static char *
sender(const char *hdr, size_t len, int utf8)
{
	const char	*p, *end, *next, *v;
	char		*value, *addr;

	end = hdr + len;
	for (p = hdr; p < end; p = next) {
		if (*p == '\n')
			break;		/* the empty line ends the header */
		if ((v = field_value(p, end, &next)) == NULL)
			continue;
		value = unfold(v, next);
		addr = address(value, utf8);
		free(value);
		return addr;
	}
	return NULL;
}

char *
envelope_shell_quote(const char *s)
{
	struct buf	b;

	buf_init(&b);
	buf_add(&b, "'", 1);
	for (; *s != '\0'; s++) {
		if (*s == '\'')
			buf_addstr(&b, "'\\''");
		else
			buf_add(&b, s, 1);
	}
	buf_add(&b, "'", 1);
	return b.data;
}

char *
envelope_mpop_safe(const char *s)
{
	struct buf	b;

	buf_init(&b);
	buf_add(&b, "", 0);
	for (; *s != '\0'; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr(".@_-+/", *s) != NULL)
			buf_add(&b, s, 1);
		else
			buf_add(&b, strchr(" \f\n\r\t\v", *s) != NULL ? "-" :
			    "_", 1);
	}
	return b.data;
}

/*
 * The quoting state of /bin/sh as far as %F needs it: outside quotes,
 * inside '...' (nothing escapes), inside "..." (a backslash escapes).
 */
char *
envelope_expand_sender(const char *cmd, const char *sender)
{
	struct buf	 b;
	char		*quoted, *safe;
	const char	*p;
	char		 in = 0;	/* 0, '\'' or '"' */

	quoted = envelope_shell_quote(sender);
	safe = envelope_mpop_safe(sender);
	buf_init(&b);
	buf_add(&b, "", 0);
	for (p = cmd; *p != '\0'; p++) {
		if (p[0] == '%' && p[1] == 'F') {
			buf_addstr(&b, in != 0 ? safe : quoted);
			p++;
			continue;
		}
		buf_add(&b, p, 1);
		if (*p == '\\' && in != '\'' && p[1] != '\0')
			buf_add(&b, ++p, 1);
		else if (in == 0 && (*p == '\'' || *p == '"'))
			in = *p;
		else if (in != 0 && *p == in)
			in = 0;
	}
	free(quoted);
	free(safe);
	return b.data;
}

static char *
sender_of(const char *hdr, size_t len, uint64_t msgsize, int utf8)
{
	const char	*end;
	char		*s = NULL;

	end = len > 0 && hdr[0] == '\n' ? hdr : memmem(hdr, len, "\n\n", 2);
	if (len > 0 && (end != NULL || msgsize <= ENVELOPE_HEADER_MAX))
		s = sender(hdr, len, utf8);
	return s != NULL ? s : xstrdup(ENVELOPE_UNKNOWN);
}
