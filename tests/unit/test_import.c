/* test_import.c -- the .fetchmailrc parser of --import-fetchmailrc. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import-fetchmail.h"
#include "tap.h"

static int
parse(const char *text, struct fm_file *f, struct error *err)
{
	error_clear(err);
	return fm_parse(text, "rc", f, err);
}

static void
test_basic(void)
{
	struct fm_file	f;
	struct error	err;
	const char	*rc =
	    "# comment\n"
	    "set daemon 300\n"
	    "set logfile ~/.fetchmail.log\n"
	    "defaults proto pop3 timeout 60\n"
	    "poll pop.example.com with proto POP3 port 995:\n"
	    "  user 'joe' there with password \"se\\\"cret #1\" is jsmith here\n"
	    "  options ssl sslcertck keep fetchall; mda \"/usr/bin/procmail -d %T\"\n"
	    "poll imap.example.com proto imap user bob password x\n"
	    "skip other.example.org service 110 user a pass b no keep\n"
	    "  sslproto TLS1.2+ sslfingerprint 'AB:CD' limit 100000\n"
	    "  user c pass d nokeep via gate.example.net antispam 571\n";

	ok(parse(rc, &f, &err) == 0, "a realistic file parses");
	is_int(f.n, 4, "one entry per user");
	is_str(f.globals.data, "set daemon 300; set logfile ~/.fetchmail.log",
	    "set statements kept for a comment");
	is_str(f.entries[0].host, "pop.example.com", "host");
	is_str(f.entries[0].proto, "pop3", "protocol lower-cased");
	is_int(f.entries[0].port, 995, "port");
	is_int(f.entries[0].timeout, 60, "timeout from defaults");
	is_str(f.entries[0].user, "joe", "single-quoted user");
	is_str(f.entries[0].password, "se\"cret #1",
	    "double-quoted password with an escape and '#'");
	is_str(f.entries[0].localuser, "jsmith", "is NAME here");
	is_int(f.entries[0].ssl, 1, "ssl");
	is_int(f.entries[0].sslcertck, 1, "sslcertck");
	is_int(f.entries[0].keep, 1, "keep");
	is_str(f.entries[0].mda, "/usr/bin/procmail -d %T", "mda");
	is_str(f.entries[0].unmapped.data, "fetchall", "fetchall noted");
	is_str(f.entries[1].proto, "imap", "other protocol kept for skipping");
	is_int(f.entries[2].skip, 1, "skip entry");
	is_int(f.entries[2].port, 110, "service");
	is_int(f.entries[2].keep, 0, "no keep");
	is_str(f.entries[2].sslproto, "TLS1.2+", "sslproto");
	is_str(f.entries[2].sslfingerprint, "AB:CD", "sslfingerprint");
	is_int(f.entries[2].limit, 100000, "limit");
	is_str(f.entries[3].user, "c", "second user of a poll");
	is_int(f.entries[3].keep, 0, "nokeep");
	is_int(f.entries[3].limit, 0,
	    "options after a user clause belong to that user");
	is_str(f.entries[3].unmapped.data, "via gate.example.net; "
	    "antispam 571", "unmapped options with their values");
	fm_free(&f);
}

static void
test_edges(void)
{
	struct fm_file	f;
	struct error	err;

	ok(parse("poll host.only\n", &f, &err) == 0 && f.n == 1 &&
	    f.entries[0].user == NULL, "a poll without user clause");
	fm_free(&f);
	ok(parse("poll h port 1 user a user b\n", &f, &err) == 0 && f.n == 2 &&
	    f.entries[0].port == 1 && f.entries[1].port == 1,
	    "server options before the users apply to every user");
	fm_free(&f);
	ok(parse("", &f, &err) == 0 && f.n == 0, "an empty file");
	fm_free(&f);
	ok(parse("user x\n", &f, &err) == -1 && err.ex == EX_DATAERR,
	    "user outside of a poll is refused");
	is_str(err.msg, "rc:1: 'user' outside of a poll entry", "message");
	ok(parse("poll a user \"x\n", &f, &err) == -1, "open quote refused");
	is_str(err.msg, "rc:1: missing closing \"", "message");
	ok(parse("poll\n", &f, &err) == -1, "poll needs a host");
	is_str(err.msg, "rc:1: 'poll' needs a value", "message");
	ok(parse("poll a proto pop3 user b password\n", &f, &err) == -1,
	    "password needs a value");
	ok(parse("poll a user b pass ''\n", &f, &err) == 0 &&
	    strcmp(f.entries[0].password, "") == 0, "empty quoted password");
	fm_free(&f);
}

int
main(void)
{
	test_basic();
	test_edges();
	return tap_done();
}
