/* test_netrc.c -- ~/.netrc lookups: machine, login, default, macdef, perms. */
#include "config.h"

#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netrc.h"
#include "tap.h"
#include "xmalloc.h"

/* The password netrc_parse() finds, or "" when none; static storage. */
static const char *
find(const char *text, const char *host, const char *user)
{
	static char	 got[256];
	char		*pw;

	if (netrc_parse(text, host, user, &pw) != 1)
		return "";
	snprintf(got, sizeof got, "%s", pw);
	freezero_str(pw);
	return got;
}

static void
test_parse(void)
{
	const char *rc =
	    "machine a.example login bob password pw-bob-a\n"
	    "machine a.example login amy password pw-amy-a\n"
	    "machine B.example\n  password any-user-b\n"
	    "macdef init\nmachine a.example login eve password macro\n\n"
	    "machine c.example login eve account x password pw-eve-c\n"
	    "default login amy password pw-default\n";

	is_str(find(rc, "a.example", "bob"), "pw-bob-a", "machine and login");
	is_str(find(rc, "a.example", "amy"), "pw-amy-a",
	    "second entry for the same machine, other login");
	is_str(find(rc, "b.example", "zed"), "any-user-b",
	    "an entry without login matches any user; host case ignored");
	is_str(find(rc, "c.example", "eve"), "pw-eve-c", "account is skipped");
	is_str(find(rc, "a.example", "eve"), "", "macdef bodies are skipped");
	is_str(find(rc, "other.example", "amy"), "pw-default",
	    "default entry for an unknown machine");
	is_str(find(rc, "other.example", "bob"), "",
	    "default entry with another login does not match");
	is_str(find("default password d\nmachine m password p\n", "m", "u"),
	    "p", "a machine entry wins over an earlier default");
	is_str(find("machine m login u\n", "m", "u"), "",
	    "an entry without password gives nothing");
	is_str(find("machine m login u password", "m", "u"), "",
	    "truncated file");
	is_str(find("", "m", "u"), "", "empty file");
}

static void
test_lookup(void)
{
	char		 dir[] = "/tmp/popfetch-netrc-XXXXXX", path[256], *pw;
	struct error	 err;
	FILE		*f;

	if (mkdtemp(dir) == NULL)
		return;
	snprintf(path, sizeof path, "%s/netrc", dir);
	error_clear(&err);
	is_int(netrc_lookup(path, "m", "u", &pw, &err), 0,
	    "a missing file is no password, not an error");
	f = fopen(path, "w");
	fputs("machine m login u password p\n", f);
	fclose(f);
	chmod(path, 0600);
	is_int(netrc_lookup(path, "m", "u", &pw, &err), 1, "found in a 0600 file");
	is_str(pw, "p", "the password");
	freezero_str(pw);
	chmod(path, 0644);
	is_int(netrc_lookup(path, "m", "u", &pw, &err), -1,
	    "a password in a file others can read is refused");
	is_int(err.ex, EX_CONFIG, "as a configuration error");
	ok(strstr(err.msg, "chmod 600") != NULL, "saying what to do");
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	test_parse();
	test_lookup();
	return tap_done();
}
