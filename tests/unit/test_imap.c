/*
 * test_imap.c -- the internal date of `delivery imap`: a message's Date
 * field as an IMAP date-time, and the fields that give none.
 */
#include "config.h"

#include <string.h>

#include "imap.h"
#include "tap.h"

static const char	*date(const char *);
static const char	*msgid(const char *);

/* The Message-ID of hdr, or "none". */
static const char *
msgid(const char *hdr)
{
	static char	out[64];

	if (imap_msgid_of(hdr, strlen(hdr), out, sizeof out) == -1)
		return "none";
	return out;
}

/* The date-time of hdr, or "none". */
static const char *
date(const char *hdr)
{
	static char	out[40];

	if (imap_date_of(hdr, strlen(hdr), out, sizeof out) == -1)
		return "none";
	return out;
}

int
main(void)
{
	is_str(date("Date: Mon, 02 Mar 2026 10:00:00 +0000\n\nx\n"),
	    " 2-Mar-2026 10:00:00 +0000", "RFC 5322 with a day name");
	is_str(date("Subject: a\ndate: 7 jan 2025 23:59 -0130\n\n"),
	    " 7-Jan-2025 23:59:00 -0130",
	    "no day name, no seconds, lower case, negative zone");
	is_str(date("Date: Tue, 31 Dec 99 08:01:02 EST\n\n"),
	    "31-Dec-1999 08:01:02 -0500", "two-digit year, zone name");
	is_str(date("Date:\n\tWed, 1 Apr 2026\n 12:00:00 GMT\n\n"),
	    " 1-Apr-2026 12:00:00 +0000", "a folded field");
	is_str(date("Date: 1 Apr 2026 12:00:00 (no zone)\n\n"),
	    " 1-Apr-2026 12:00:00 +0000", "an unknown zone is +0000");
	is_str(date("Subject: x\n\nDate: Mon, 02 Mar 2026 10:00:00 +0000\n"),
	    "none", "a Date in the body does not count");
	is_str(date("Date: yesterday\n\n"), "none", "text that is no date");
	is_str(date("Date: 32 Jan 2026 10:00:00 +0000\n\n"), "none",
	    "day 32");
	is_str(date("Date: 1 Foo 2026 10:00:00 +0000\n\n"), "none",
	    "no such month");
	is_str(date("Date: 1 Jan 2026 24:00:00 +0000\n\n"), "none",
	    "hour 24");
	is_str(date("Date: 1 Jan 2026 10:00:00 +9999\n\n"),
	    " 1-Jan-2026 10:00:00 +0000", "a zone out of range is +0000");
	is_str(date("Date: Tue, 31 Feb 2026 10:00:00 +0000\n\n"), "none",
	    "31 February");
	is_str(date("Date: Sun, 29 Feb 2026 10:00:00 +0000\n\n"), "none",
	    "29 February in a common year");
	is_str(date("Date: Sat, 29 Feb 2020 10:00:00 +0000\n\n"),
	    "29-Feb-2020 10:00:00 +0000", "29 February in a leap year");
	is_str(date("Date: Tue, 29 Feb 2000 10:00:00 +0000\n\n"),
	    "29-Feb-2000 10:00:00 +0000", "2000 was a leap year");
	is_str(date("Date: Mon, 01 Jan 1900 00:00:00 +0000\n\n"), "none",
	    "before 1970");
	is_str(date("Date: 31 Dec 1969 23:59:59 -0100\n\n"), "none",
	    "its instant is 1970, its local time is not");
	is_str(date("Date: 1 Jan 1970 00:30:00 +0100\n\n"), "none",
	    "its local time is 1970, its instant is not");
	is_str(date("Date: 1 Jan 1970 00:00:00 +0000\n\n"),
	    " 1-Jan-1970 00:00:00 +0000", "the epoch");
	is_str(date("Date: 19 Jan 2038 03:14:07 +0000\n\n"),
	    "19-Jan-2038 03:14:07 +0000", "the last second of a 32-bit time_t");
	is_str(date("Date: 19 Jan 2038 03:14:08 +0000\n\n"), "none",
	    "one second later");
	is_str(date("Date: Fri, 31 Dec 9999 23:59:59 +0000\n\n"), "none",
	    "year 9999");
	is_str(date("Date: Mon, 02 Mar 2026 10:00:60 +0000\n\n"),
	    " 2-Mar-2026 10:00:60 +0000", "a leap second is kept");
	is_str(date("X: y\n\n"), "none", "no Date field");
	is_str(msgid("Message-ID: <a.b@c>\n\n"), "a.b@c", "a Message-ID");
	is_str(msgid("X: y\nmessage-id:\t<x@y> (c)\n\n"), "x@y",
	    "lower case, a comment after it");
	is_str(msgid("Message-ID: <a\"b@c>\n\n"), "none",
	    "a quote cannot go into SEARCH");
	is_str(msgid("Message-ID: <>\n\n"), "none", "empty");
	is_str(msgid("Subject: x\n\nMessage-ID: <a@b>\n"), "none",
	    "in the body it does not count");
	return tap_done();
}
