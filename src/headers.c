/* headers.c -- fetching and reading a message header; see headers.h. */
#include "config.h"

#include <strings.h>
#include <stdio.h>
#include <string.h>

#include "headers.h"
#include "rfc2047.h"

/* Of a field's raw value, what is decoded; more is dropped. */
#define FIELD_RAW_MAX	4096

struct collect {
	struct buf	*hdr;
};

static int	collect_out(void *, const char *, size_t, struct error *);
static const char *line_end(const char *, const char *);
static void	append_clean(char *, size_t, size_t *, int *, const char *,
		    const char *);

int
headers_top(struct pop3 *p, unsigned long num, struct buf *hdr,
    struct error *err)
{
	struct pop3_reply	r;
	struct collect		c;
	char			arg[48];

	if (pop3_caps(p)->known && !pop3_caps(p)->top) {
		error_set(err, EX_UNAVAILABLE, "the server does not offer "
		    "TOP, which reading headers before retrieving needs");
		return -1;
	}
	buf_reset(hdr);
	snprintf(arg, sizeof arg, "%lu 0", num);
	if (pop3_send(p, P3_TOP, arg, 0, num, err) == -1 ||
	    pop3_reply(p, &r, err) == -1)
		return -1;
	if (!r.ok) {
		error_set(err, r.ex != 0 ? r.ex : EX_UNAVAILABLE, "message "
		    "%lu: the server refused TOP: %s", num, r.text);
		return -1;
	}
	c.hdr = hdr;
	return pop3_read_body(p, collect_out, &c, err);
}

/* Keep up to HEADERS_MAX; a longer header is read to its end all the same. */
static int
collect_out(void *arg, const char *s, size_t n, struct error *err)
{
	struct collect	*c = arg;
	size_t		 room;

	(void)err;
	if (c->hdr->len >= HEADERS_MAX)
		return 0;
	room = HEADERS_MAX - c->hdr->len;
	buf_add(c->hdr, s, n < room ? n : room);
	return 0;
}

static const char *
line_end(const char *s, const char *end)
{
	const char	*nl;

	nl = memchr(s, '\n', (size_t)(end - s));
	return nl != NULL ? nl : end;
}

/* Add s..e to out cleaned; *space collapses white space across calls. */
static void
append_clean(char *out, size_t size, size_t *o, int *space, const char *s,
    const char *e)
{
	unsigned char	c;

	for (; s < e && *o + 1 < size; s++) {
		c = (unsigned char)*s;
		if (c == ' ' || c == '\t' || c == '\r') {
			*space = 1;
			continue;
		}
		if (*space && *o > 0)
			out[(*o)++] = ' ';
		*space = 0;
		if (*o + 1 < size)
			out[(*o)++] = c >= 0x21 && c < 0x7f ? (char)c : '?';
	}
	out[*o] = '\0';
}

int
headers_field(const char *hdr, size_t len, const char *name, char *out,
    size_t size)
{
	const char	*s = hdr, *end = hdr + len, *e, *colon;
	size_t		 nlen = strlen(name), o = 0;
	int		 space = 0, found = 0;

	out[0] = '\0';
	while (s < end) {
		e = line_end(s, end);
		if (e == s || (e == s + 1 && *s == '\r'))
			break;		/* the empty line ends the header */
		if (found) {
			if (*s != ' ' && *s != '\t')
				break;
			space = 1;
			append_clean(out, size, &o, &space, s, e);
		} else if ((size_t)(e - s) > nlen && s[nlen] == ':' &&
		    strncasecmp(s, name, nlen) == 0) {
			found = 1;
			colon = s + nlen + 1;
			append_clean(out, size, &o, &space, colon, e);
		}
		s = e < end ? e + 1 : end;
	}
	return found;
}

/* The field's value, unfolded, bytes as they are (bounded), into raw. */
static int
field_raw(const char *hdr, size_t len, const char *name, struct buf *raw)
{
	const char	*s = hdr, *end = hdr + len, *e, *v;
	size_t		 nlen = strlen(name), n;
	int		 found = 0;

	while (s < end) {
		e = line_end(s, end);
		if (e == s || (e == s + 1 && *s == '\r'))
			break;
		v = NULL;
		if (found) {
			if (*s != ' ' && *s != '\t')
				break;
			v = s;
		} else if ((size_t)(e - s) > nlen && s[nlen] == ':' &&
		    strncasecmp(s, name, nlen) == 0) {
			found = 1;
			v = s + nlen + 1;
		}
		if (v != NULL && raw->len < FIELD_RAW_MAX) {
			n = (size_t)(e - v);
			if (n > FIELD_RAW_MAX - raw->len)
				n = FIELD_RAW_MAX - raw->len;
			/* Unfolding: the line break goes, the blank stays. */
			buf_add(raw, v, n);
		}
		s = e < end ? e + 1 : end;
	}
	return found;
}

int
headers_field_text(const char *hdr, size_t len, const char *name, int utf8,
    char *out, size_t size)
{
	struct buf	raw, dec;
	int		found;

	buf_init(&raw);
	buf_init(&dec);
	out[0] = '\0';
	if ((found = field_raw(hdr, len, name, &raw)) && raw.len > 0) {
		rfc2047_decode(raw.data, raw.len, &dec);
		if (dec.len > 0)
			(void)rfc2047_display(dec.data, dec.len, utf8,
			    HEADERS_FIELD_MAX, out, size);
	}
	buf_free(&raw);
	buf_free(&dec);
	return found;
}
