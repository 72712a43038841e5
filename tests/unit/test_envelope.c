/*
 * test_envelope.c -- the envelope sender from Return-Path, the shell
 * quoting of %F, and the Received: header.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "received.h"
#include "tap.h"

static char	*sender(const char *);
static char	*through_sh(const char *);
static void	 test_sender(void);
static void	 test_quote(void);
static void	 test_received(void);
static void	 test_expand(void);
static void	 test_utf8(void);
static char	*utf8_sender(const char *);

static char *
sender(const char *hdr)
{
	return envelope_sender(hdr, strlen(hdr));
}

static void
test_sender(void)
{
	char	*s, big[ENVELOPE_ADDR_MAX + 64];

	is_str(s = sender("Return-Path: <a@b.example>\nSubject: x\n\nbody\n"),
	    "a@b.example", "angle brackets are removed");
	free(s);
	is_str(s = sender("Subject: x\nreturn-PATH:   <c@d>  \n\n"), "c@d",
	    "the field name is matched without regard to case");
	free(s);
	is_str(s = sender("Return-Path:\n\t<folded@ex>\nX: y\n\n"), "folded@ex",
	    "a folded field is unfolded");
	free(s);
	is_str(s = sender("Return-Path : <obs@ex>\n\n"), "obs@ex",
	    "blanks before the colon (obsolete syntax)");
	free(s);
	is_str(s = sender("Return-Path: bare@ex (comment)\n\n"), "bare@ex",
	    "an address without brackets");
	free(s);
	is_str(s = sender("Return-Path: <>\n\n"), NULL,
	    "the null sender <> gives none");
	free(s);
	is_str(s = sender("Subject: no return path\n\n"), NULL,
	    "no Return-Path gives none");
	free(s);
	is_str(s = sender("Subject: x\n\nReturn-Path: <in@body>\n"), NULL,
	    "a Return-Path in the body is not looked at");
	free(s);
	is_str(s = sender("X-Return-Path: <no@ex>\nReturn-Pathx: <no@ex>\n"
	    "Return-Path: <yes@ex>\n\n"), "yes@ex",
	    "only the exact field name counts");
	free(s);
	is_str(s = sender("Return-Path: <first@ex>\nReturn-Path: <second@ex>"
	    "\n\n"), "first@ex", "the topmost Return-Path wins");
	free(s);
	is_str(s = sender("Return-Path: <bad\001ctl@ex>\n\n"), NULL,
	    "control characters: none");
	free(s);
	is_str(s = sender("Return-Path: <caf\xc3\xa9@ex>\n\n"), NULL,
	    "non-ASCII: none");
	free(s);
	is_str(s = sender("Return-Path: <unterminated@ex\n\n"), NULL,
	    "an unclosed bracket: none");
	free(s);
	snprintf(big, sizeof big, "Return-Path: <%0*d>\n\n",
	    ENVELOPE_ADDR_MAX + 1, 0);
	is_str(s = sender(big), NULL, "an over-long address: none");
	free(s);
	is_str(s = sender("Return-Path: <a'b;rm -rf x$(touch pwned)@ex>\n\n"),
	    "a'b;rm -rf x$(touch pwned)@ex",
	    "shell syntax is kept (it is quoted later)");
	free(s);
	is_str(s = envelope_sender("Return-Path: <cut@ex>\n", 14), NULL,
	    "only len bytes are read");
	free(s);
}

/* What sh makes of "printf %s QUOTED". */
static char *
through_sh(const char *quoted)
{
	char	 cmd[1024], out[1024];
	FILE	*f;
	size_t	 n;

	snprintf(cmd, sizeof cmd, "cd /nonexistent 2>/dev/null; printf %%s %s",
	    quoted);
	if ((f = popen(cmd, "r")) == NULL)
		return NULL;
	n = fread(out, 1, sizeof out - 1, f);
	pclose(f);
	out[n] = '\0';
	return strdup(out);
}

static void
test_quote(void)
{
	const char	*hostile[] = {
		"a'b;rm -rf x$(touch pwned)@ex",
		"'''",
		"`id`\"$HOME\"\\n*?[a]",
		"",
	};
	char		*q, *back;
	size_t		 i;

	is_str(q = envelope_shell_quote("it's"), "'it'\\''s'",
	    "' becomes '\\''");
	free(q);
	for (i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
		q = envelope_shell_quote(hostile[i]);
		back = through_sh(q);
		is_str(back, hostile[i], "sh reads back the quoted word %zu "
		    "unchanged", i);
		free(q);
		free(back);
	}
}

/* %F as mpop's manual writes it, and as popfetch's own. */
static void
test_expand(void)
{
	const struct {
		const char	*cmd, *sender, *want;
	} t[] = {
		{ "procmail -f '%F' -d $USER", "o'brien@example.org",
		  "procmail -f 'o_brien@example.org' -d $USER" },
		{ "sendmail -oi -f \"%F\" -- u", "a b$(id)@x",
		  "sendmail -oi -f \"a-b__id_@x\" -- u" },
		{ "procmail -f %F", "o'brien@example.org",
		  "procmail -f 'o'\\''brien@example.org'" },
		{ "msmtp --from='%F' x %F", "a;b@x",
		  "msmtp --from='a_b@x' x 'a;b@x'" },
		/* A quote inside the other kind, an escaped one: no toggle. */
		{ "x \"it's\" %F", "q'@x", "x \"it's\" 'q'\\''@x'" },
		{ "x \\' %F", "a@x", "x \\' 'a@x'" },
		{ "x \"a\\\"b %F\"", "a b@x", "x \"a\\\"b a-b@x\"" },
		{ "%%F %", "a@x", "%'a@x' %" },
	};
	char	*got, *back;
	size_t	 i;

	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		got = envelope_expand_sender(t[i].cmd, t[i].sender);
		is_str(got, t[i].want, "expand %zu: %s", i, t[i].cmd);
		free(got);
	}
	is_str(got = envelope_mpop_safe("Ab9.@_-+/ \t'\"$;\x7f"),
	    "Ab9.@_-+/--_____", "mpop's safe set");
	free(got);
	/* Unquoted, the whole address reaches the MDA as one word. */
	got = envelope_expand_sender("%F", "o'brien@example.org");
	back = through_sh(got);
	is_str(back, "o'brien@example.org", "sh reads the unquoted %%F back");
	free(got);
	free(back);
}

static void
test_received(void)
{
	const char	*want = "Received: from pop.example (user joe)\n\tby "
	    "box with POP3S (popfetch " PACKAGE_VERSION ", (TLS1.3)-"
	    "(ECDHE-X25519)-(AES-256-GCM));\n\t";
	char		*h;

	/* 2001-09-09, far enough from any time zone's new year. */
	h = received_header("pop.example", "joe", "box",
	    "(TLS1.3)-(ECDHE-X25519)-(AES-256-GCM)", 1000000000);
	ok(strncmp(h, want, strlen(want)) == 0, "names server, user, host, "
	    "version and TLS");
	ok(strstr(h, " Sep 2001 ") != NULL && h[strlen(h) - 1] == '\n',
	    "ends with the date and a newline");
	free(h);
	h = received_header("pop.example", "joe", "box", NULL, 0);
	ok(strstr(h, "with POP3 (popfetch " PACKAGE_VERSION ");") != NULL,
	    "without TLS: POP3, no TLS text");
	free(h);
	h = received_header("evil\nX-Injected: 1", "j\roe", "box", NULL, 0);
	ok(strstr(h, "\nX-Injected") == NULL && strchr(h, '\r') == NULL,
	    "control characters cannot start a new header line");
	free(h);
}

static char *
utf8_sender(const char *hdr)
{
	char	*s;

	s = envelope_sender_utf8_of(hdr, strlen(hdr), strlen(hdr));
	if (strcmp(s, ENVELOPE_UNKNOWN) == 0) {
		free(s);
		return NULL;
	}
	return s;
}

/* SMTPUTF8's addresses: well-formed UTF-8 only, and only when asked. */
static void
test_utf8(void)
{
	char	*s;

	is_str(s = envelope_sender_of("Return-Path: <j\xc3\xbcrgen@ex>\n\n",
	    20, 20), ENVELOPE_UNKNOWN, "UTF-8 is unusable by default");
	free(s);
	is_str(s = utf8_sender("Return-Path: <j\xc3\xbcrgen@b\xc3\xbc"
	    "cher.ex>\n\n"), "j\xc3\xbcrgen@b\xc3\xbc" "cher.ex",
	    "UTF-8 local part and domain when asked");
	free(s);
	is_str(s = utf8_sender("Return-Path: <\xe6\x97\xa5\xf0\x9f\x93\xa7@ex>"
	    "\n\n"), "\xe6\x97\xa5\xf0\x9f\x93\xa7@ex",
	    "three- and four-byte sequences");
	free(s);
	is_str(utf8_sender("Return-Path: <lat\xfcn1@ex>\n\n"), NULL,
	    "Latin-1 is no UTF-8");
	is_str(utf8_sender("Return-Path: <a\xc3@ex>\n\n"), NULL,
	    "a cut sequence");
	is_str(utf8_sender("Return-Path: <a\xc0\xaf@ex>\n\n"), NULL,
	    "an overlong form");
	is_str(utf8_sender("Return-Path: <a\xed\xa0\x80@ex>\n\n"), NULL,
	    "a surrogate");
	is_str(utf8_sender("Return-Path: <a\xc2\x85@ex>\n\n"), NULL,
	    "a C1 control (U+0085)");
	is_str(s = utf8_sender("Return-Path: <a\xc2\xa0@ex>\n\n"),
	    "a\xc2\xa0@ex", "U+00A0, the first after them");
	free(s);
	is_str(utf8_sender("Return-Path: <a\x01@ex>\n\n"), NULL,
	    "a control character");
}

int
main(void)
{
	test_sender();
	test_utf8();
	test_quote();
	test_received();
	test_expand();
	return tap_done();
}
