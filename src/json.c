/* json.c -- the --json summary; see json.h. */
#include "config.h"

#include <sysexits.h>
#include <stdint.h>
#include <string.h>

#include "json.h"
#include "jsonw.h"

const char *
json_exit_class(int ex)
{
	switch (ex) {
	case EX_OK:		return "ok";
	case EX_USAGE:		return "usage";
	case EX_DATAERR:	return "dataerr";
	case EX_NOUSER:		return "nouser";
	case EX_NOHOST:		return "nohost";
	case EX_UNAVAILABLE:	return "unavailable";
	case EX_SOFTWARE:	return "software";
	case EX_OSERR:		return "oserr";
	case EX_CANTCREAT:	return "cantcreat";
	case EX_IOERR:		return "ioerr";
	case EX_TEMPFAIL:	return "tempfail";
	case EX_PROTOCOL:	return "protocol";
	case EX_NOPERM:		return "noperm";
	case EX_CONFIG:		return "config";
	default:		return "other";
	}
}

void
json_account(struct buf *b, int first, const char *name,
    const struct fetch_stats *st, int ex, const char *errmsg)
{
	if (!first)
		buf_add(b, ",", 1);
	buf_addstr(b, "\n    {\"account\":");
	json_string(b, name);
	buf_printf(b, ",\"fetched\":%lu,\"left\":%lu,\"deleted\":%lu,"
	    "\"skipped\":%lu,"
	    "\"killed\":%lu,\"kept\":%lu,\"failed\":%lu,\"set_aside\":%lu,"
	    "\"bytes\":%llu,"
	    "\"on_server\":%lu,\"on_server_bytes\":%llu,\"new\":%lu,"
	    "\"new_bytes\":%llu,\"error\":", st->fetched, st->left,
	    st->deleted,
	    st->skipped, st->killed, st->kept, st->failed, st->set_aside,
	    (unsigned long long)st->bytes, st->on_server,
	    (unsigned long long)st->on_server_bytes, st->new_msgs,
	    (unsigned long long)st->new_bytes);
	if (errmsg == NULL) {
		buf_addstr(b, "null");
		return;
	}
	buf_printf(b, "{\"exit\":%d,\"class\":\"%s\",\"message\":", ex,
	    json_exit_class(ex));
	json_string(b, errmsg);
	buf_addstr(b, "}");
}

void
json_document(struct buf *out, int ex, const struct buf *accounts)
{
	buf_printf(out, "{\"version\":1,\"exit\":%d,\"class\":\"%s\","
	    "\"accounts\":[", ex, json_exit_class(ex));
	if (accounts->len > 0)
		buf_add(out, accounts->data, accounts->len);
	buf_addstr(out, accounts->len > 0 ? "\n  ]}\n" : "]}\n");
}
