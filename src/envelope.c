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
static char		*address(const char *);

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

/* "<addr> (comment)" or a bare "addr" into addr, checked; NULL if unusable. */
static char *
address(const char *v)
{
	const char	*start, *stop, *q;
	size_t		 len;

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
	for (q = start; q < stop; q++)
		if ((unsigned char)*q < 0x20 || (unsigned char)*q > 0x7e)
			return NULL;
	return xstrndup(start, len);
}

char *
envelope_sender(const char *hdr, size_t len)
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
		addr = address(value);
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

char *
envelope_sender_of(const char *hdr, size_t len, uint64_t msgsize)
{
	const char	*end;
	char		*s = NULL;

	end = len > 0 && hdr[0] == '\n' ? hdr : memmem(hdr, len, "\n\n", 2);
	if (len > 0 && (end != NULL || msgsize <= ENVELOPE_HEADER_MAX))
		s = envelope_sender(hdr, len);
	return s != NULL ? s : xstrdup(ENVELOPE_UNKNOWN);
}
