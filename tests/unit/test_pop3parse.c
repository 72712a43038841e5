/*
 * test_pop3parse.c -- the parsers of CAPA, LIST and UIDL lines: what a
 * well-behaved server sends, and what hostile or broken ones do.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "pop3-parse.h"
#include "tap.h"

static void	test_capa(void);
static void	test_list(void);
static void	test_uidl(void);
static int	list(struct pop3_scan *, const char *, struct error *);
static int	uidl(struct pop3_scan *, const char *, struct error *);
static void	scan_done(struct pop3_scan *);

static int
list(struct pop3_scan *sc, const char *l, struct error *err)
{
	char	line[256];

	strlcpy(line, l, sizeof line);
	error_clear(err);
	return pop3_list_line(sc, line, err);
}

static int
uidl(struct pop3_scan *sc, const char *l, struct error *err)
{
	char	line[256];

	strlcpy(line, l, sizeof line);
	error_clear(err);
	return pop3_uidl_line(sc, line, err);
}

static void
scan_done(struct pop3_scan *sc)
{
	free(sc->msgs);
	arena_free(&sc->uids);
	memset(sc, 0, sizeof *sc);
}

static void
test_capa(void)
{
	struct pop3_caps	c;
	struct error		err;
	char			l[8][64] = { "TOP", "user", "UIDL", "PIPELINING",
	    "SASL SCRAM-SHA-256 PLAIN", "EXPIRE NEVER", "LOGIN-DELAY 900",
	    "X-UNKNOWN whatever" };
	size_t			i;

	memset(&c, 0, sizeof c);
	error_clear(&err);
	pop3_caps_clear(&c);
	ok(c.expire == -1 && c.login_delay == -1, "capa: cleared to unknown");
	for (i = 0; i < 8; i++)
		pop3_capa_line(&c, l[i], &err);
	ok(c.top && c.user && c.uidl && c.pipelining, "capa: words, any case");
	ok(!c.stls && !c.resp_codes, "capa: what was not said is not set");
	is_str(c.sasl, "SCRAM-SHA-256 PLAIN", "capa: SASL mechanisms");
	ok(c.expire == -2, "capa: EXPIRE NEVER");
	ok(c.login_delay == 900, "capa: LOGIN-DELAY 900");
	strlcpy(l[0], "EXPIRE 0 USER", sizeof l[0]);
	pop3_capa_line(&c, l[0], &err);
	ok(c.expire == 0, "capa: EXPIRE 0 (per user)");
	strlcpy(l[0], "EXPIRE soon", sizeof l[0]);
	pop3_capa_line(&c, l[0], &err);
	ok(c.expire == 0, "capa: a malformed EXPIRE changes nothing");
	strlcpy(l[0], "SASL", sizeof l[0]);
	pop3_capa_line(&c, l[0], &err);
	is_str(c.sasl, "SCRAM-SHA-256 PLAIN", "capa: SASL without a list is ignored");
	strlcpy(l[0], "", sizeof l[0]);
	pop3_capa_line(&c, l[0], &err);
	ok(1, "capa: an empty line is harmless");
	ok(c.nlines == 12 && strcmp(c.lines[7], "X-UNKNOWN whatever") == 0 &&
	    strcmp(c.lines[9], "EXPIRE soon") == 0,
	    "capa: every line kept as sent, unknown and malformed ones too");
	pop3_caps_clear(&c);
	ok(c.sasl == NULL && !c.top && c.nlines == 0,
	    "capa: cleared again after STLS");
	for (i = 0; i < POP3_CAPA_LINES_MAX; i++) {
		strlcpy(l[0], "X-FILLER", sizeof l[0]);
		if (pop3_capa_line(&c, l[0], &err) == -1)
			break;
	}
	strlcpy(l[0], "TOP", sizeof l[0]);
	ok(i == POP3_CAPA_LINES_MAX && pop3_capa_line(&c, l[0], &err) == -1 &&
	    err.ex == EX_PROTOCOL, "capa: more than POP3_CAPA_LINES_MAX lines "
	    "is EX_PROTOCOL");
	pop3_caps_clear(&c);
}

static void
test_list(void)
{
	struct pop3_scan	sc;
	struct error		err;

	memset(&sc, 0, sizeof sc);
	ok(list(&sc, "1 120", &err) == 0 && list(&sc, "2 4500", &err) == 0 &&
	    list(&sc, "7 18446744073709551615", &err) == 0,
	    "list: rising numbers, sizes up to 2^64-1");
	ok(sc.count == 3 && sc.msgs[2].num == 7 &&
	    sc.msgs[2].size == UINT64_MAX, "list: three messages kept");
	ok(list(&sc, "8 18446744073709551616", &err) == -1 &&
	    err.ex == EX_PROTOCOL, "list: a size past 64 bits");
	ok(list(&sc, "7 10", &err) == -1, "list: a number that does not rise");
	ok(list(&sc, "0 10", &err) == -1, "list: message 0");
	ok(list(&sc, "9", &err) == -1, "list: no size");
	ok(list(&sc, "9  10", &err) == -1, "list: two spaces");
	ok(list(&sc, "-9 10", &err) == -1, "list: a sign");
	ok(list(&sc, "9 10x", &err) == -1, "list: garbage after the size");
	ok(list(&sc, "9 10 extra words", &err) == 0,
	    "list: words after the size (RFC 1939 allows them)");
	ok(list(&sc, "", &err) == -1, "list: an empty line");
	ok(strstr(err.msg, "malformed LIST line") != NULL,
	    "list: the error names LIST: %s", err.msg);
	scan_done(&sc);
}

static void
test_uidl(void)
{
	struct pop3_scan	sc;
	struct error		err;
	char			l[128];

	memset(&sc, 0, sizeof sc);
	ok(uidl(&sc, "1 a", &err) == -1, "uidl: after an empty LIST");
	list(&sc, "1 10", &err);
	list(&sc, "2 10", &err);
	list(&sc, "5 10", &err);
	ok(uidl(&sc, "2 b-uid", &err) == 0 && uidl(&sc, "1 a-uid", &err) == 0,
	    "uidl: in any order");
	ok(uidl(&sc, "3 c", &err) == -1 && strstr(err.msg, "LIST does not "
	    "have") != NULL, "uidl: a message LIST did not name");
	ok(uidl(&sc, "2 again", &err) == -1 && strstr(err.msg, "twice") != NULL,
	    "uidl: a message named twice");
	ok(uidl(&sc, "5 has space", &err) == -1, "uidl: a UID with a space");
	memset(l, 'x', sizeof l);
	memcpy(l, "5 ", 2);
	l[2 + 71] = '\0';
	ok(uidl(&sc, l, &err) == -1, "uidl: a UID of 71 characters");
	l[2 + 70] = '\0';
	ok(uidl(&sc, "5 ", &err) == -1, "uidl: an empty UID");
	error_clear(&err);
	ok(pop3_check_unique_uids(&sc, &err) == -1 && strstr(err.msg,
	    "no UID for message 5") != NULL, "uidl: a message left without one");
	ok(uidl(&sc, "5 a-uid", &err) == 0, "uidl: a duplicate is parsed...");
	error_clear(&err);
	ok(pop3_check_unique_uids(&sc, &err) == -1 && strstr(err.msg,
	    "the same UID") != NULL, "...and refused by the check");
	is_str(sc.msgs[0].uid, "a-uid", "uidl: message 1's UID");
	scan_done(&sc);
	memset(&sc, 0, sizeof sc);
	list(&sc, "1 10", &err);
	list(&sc, "2 10", &err);
	uidl(&sc, "1 x", &err);
	memcpy(l, "2 ", 2);
	l[2 + 70] = '\0';
	ok(uidl(&sc, l, &err) == 0, "uidl: a UID of 70 characters");
	ok(pop3_check_unique_uids(&sc, &err) == 0, "uidl: all unique");
	scan_done(&sc);
}

int
main(void)
{
	test_capa();
	test_list();
	test_uidl();
	return tap_done();
}
