/*
 * pop3-parse.c -- the parsers of the server's multi-line answers (CAPA,
 * LIST, UIDL); see pop3-parse.h.  Everything here is hostile input.
 */
#include "config.h"

#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pop3-parse.h"
#include "termsafe.h"
#include "uid.h"
#include "xmalloc.h"

/* How much of a bad line an error message quotes (as the server sent it). */
#define QUOTE_MAX	60

static int	parse_u64(const char **, uint64_t *);
static const char *quote(const char *, char *, size_t);
static int	msg_cmp_num(const void *, const void *);
static int	uid_ptr_cmp(const void *, const void *);

void
pop3_caps_clear(struct pop3_caps *c)
{
	size_t	i;

	for (i = 0; i < c->nlines; i++)
		free(c->lines[i]);
	free(c->lines);
	free(c->sasl);
	free(c->implementation);
	memset(c, 0, sizeof *c);
	c->expire = -1;
	c->login_delay = -1;
}

int
pop3_capa_line(struct pop3_caps *c, char *line, struct error *err)
{
	char	*word, *rest;

	if (c->nlines == POP3_CAPA_LINES_MAX) {
		error_set(err, EX_PROTOCOL, "the server's CAPA list has more "
		    "than %d lines", POP3_CAPA_LINES_MAX);
		return -1;
	}
	c->lines = xreallocarray(c->lines, c->nlines + 1, sizeof *c->lines);
	c->lines[c->nlines++] = xstrdup(line);
	word = line;
	rest = strchr(line, ' ');
	if (rest != NULL)
		*rest++ = '\0';
	if (strcasecmp(word, "TOP") == 0)
		c->top = 1;
	else if (strcasecmp(word, "USER") == 0)
		c->user = 1;
	else if (strcasecmp(word, "UIDL") == 0)
		c->uidl = 1;
	else if (strcasecmp(word, "PIPELINING") == 0)
		c->pipelining = 1;
	else if (strcasecmp(word, "STLS") == 0)
		c->stls = 1;
	else if (strcasecmp(word, "RESP-CODES") == 0)
		c->resp_codes = 1;
	else if (strcasecmp(word, "AUTH-RESP-CODE") == 0)
		c->auth_resp_code = 1;
	else if (strcasecmp(word, "UTF8") == 0)
		c->utf8 = 1;
	else if (strcasecmp(word, "SASL") == 0 && rest != NULL) {
		free(c->sasl);
		c->sasl = xstrdup(rest);
	} else if (strcasecmp(word, "IMPLEMENTATION") == 0 && rest != NULL) {
		free(c->implementation);
		c->implementation = xstrdup(rest);
	} else if (strcasecmp(word, "EXPIRE") == 0 && rest != NULL) {
		if (strncasecmp(rest, "NEVER", 5) == 0)
			c->expire = -2;
		else if (isdigit((unsigned char)rest[0]))
			c->expire = strtol(rest, NULL, 10);
	} else if (strcasecmp(word, "LOGIN-DELAY") == 0 && rest != NULL) {
		if (isdigit((unsigned char)rest[0]))
			c->login_delay = strtol(rest, NULL, 10);
	}
	return 0;
}

/* Parse a decimal number; fails on overflow or no digits. */
static int
parse_u64(const char **sp, uint64_t *out)
{
	const char	*s = *sp;
	uint64_t	 v = 0;

	if (!isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++) {
		unsigned d = (unsigned)(*s - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*sp = s;
	*out = v;
	return 0;
}

/* The first QUOTE_MAX bytes of a server's line, for an error message. */
static const char *
quote(const char *line, char *buf, size_t size)
{
	size_t	len = strlen(line);

	(void)termsafe(line, len < QUOTE_MAX ? len : QUOTE_MAX, buf, size);
	return buf;
}

int
pop3_list_line(struct pop3_scan *sc, char *line, struct error *err)
{
	const char		*s = line;
	char			 q[TERMSAFE_SIZE(QUOTE_MAX)];
	uint64_t		 num, size;

	if (parse_u64(&s, &num) == -1 || *s != ' ') {
		error_set(err, EX_PROTOCOL, "malformed LIST line from the "
		    "server: \"%s\"", quote(line, q, sizeof q));
		return -1;
	}
	s++;
	if (parse_u64(&s, &size) == -1 || (*s != '\0' && *s != ' ')) {
		error_set(err, EX_PROTOCOL, "bad message size in LIST line "
		    "\"%s\" (not a number, or too large)",
		    quote(line, q, sizeof q));
		return -1;
	}
	if (num == 0 || num > ULONG_MAX ||
	    (sc->count > 0 && num <= sc->msgs[sc->count - 1].num)) {
		error_set(err, EX_PROTOCOL, "bad message number in LIST line "
		    "\"%s\"", quote(line, q, sizeof q));
		return -1;
	}
	if (sc->count >= POP3_MAX_MESSAGES) {
		error_set(err, EX_PROTOCOL, "the server lists more than %d "
		    "messages", POP3_MAX_MESSAGES);
		return -1;
	}
	if ((sc->count & (sc->count - 1)) == 0)
		sc->msgs = xreallocarray(sc->msgs, sc->count == 0 ? 1 :
		    sc->count * 2, sizeof *sc->msgs);
	sc->msgs[sc->count].num = (unsigned long)num;
	sc->msgs[sc->count].size = size;
	sc->msgs[sc->count].uid = NULL;
	sc->count++;
	return 0;
}

static int
msg_cmp_num(const void *a, const void *b)
{
	const struct pop3_msg	*x = a, *y = b;

	return x->num < y->num ? -1 : x->num > y->num;
}

int
pop3_uidl_line(struct pop3_scan *sc, char *line, struct error *err)
{
	struct pop3_msg		 key, *m;
	const char		*s = line;
	char			 q[TERMSAFE_SIZE(QUOTE_MAX)];
	uint64_t		 num;

	if (parse_u64(&s, &num) == -1 || *s != ' ' || num > ULONG_MAX) {
		error_set(err, EX_PROTOCOL, "malformed UIDL line from the "
		    "server: \"%s\"", quote(line, q, sizeof q));
		return -1;
	}
	s++;
	if (!uid_valid(s, strlen(s))) {
		error_set(err, EX_PROTOCOL, "the server sent an invalid UID "
		    "for message %llu (%zu bytes; UIDs are 1-70 printable "
		    "characters)", (unsigned long long)num, strlen(s));
		return -1;
	}
	key.num = (unsigned long)num;
	m = sc->count == 0 ? NULL : bsearch(&key, sc->msgs, sc->count,
	    sizeof *sc->msgs, msg_cmp_num);
	if (m == NULL) {
		error_set(err, EX_PROTOCOL, "UIDL names message %llu, which "
		    "LIST does not have", (unsigned long long)num);
		return -1;
	}
	if (m->uid != NULL) {
		error_set(err, EX_PROTOCOL, "UIDL names message %llu twice",
		    (unsigned long long)num);
		return -1;
	}
	m->uid = arena_strndup(&sc->uids, s, strlen(s));
	return 0;
}

static int
uid_ptr_cmp(const void *a, const void *b)
{
	const struct pop3_msg	*const *x = a, *const *y = b;

	return strcmp((*x)->uid, (*y)->uid);
}

/* Two messages with one UID would make "already fetched" ambiguous. */
int
pop3_check_unique_uids(struct pop3_scan *sc, struct error *err)
{
	struct pop3_msg	**v;
	size_t		  i;
	int		  rc = 0;

	for (i = 0; i < sc->count; i++) {
		if (sc->msgs[i].uid == NULL) {
			error_set(err, EX_PROTOCOL, "UIDL gave no UID for "
			    "message %lu", sc->msgs[i].num);
			return -1;
		}
	}
	if (sc->count < 2)
		return 0;
	v = xreallocarray(NULL, sc->count, sizeof *v);
	for (i = 0; i < sc->count; i++)
		v[i] = &sc->msgs[i];
	qsort(v, sc->count, sizeof *v, uid_ptr_cmp);
	for (i = 1; i < sc->count; i++) {
		if (strcmp(v[i - 1]->uid, v[i]->uid) == 0) {
			error_set(err, EX_PROTOCOL, "the server gave messages "
			    "%lu and %lu the same UID \"%s\"", v[i - 1]->num,
			    v[i]->num, v[i]->uid);
			rc = -1;
			break;
		}
	}
	free(v);
	return rc;
}
