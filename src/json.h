/*
 * json.h -- the --json summary of a run, for monitoring scripts:
 *
 *   {"version":1,"exit":75,"accounts":[{"account":"work","fetched":2,
 *    "deleted":2,"skipped":0,"killed":0,"kept":5,"bytes":4096,
 *    "on_server":7,"new":2,"error":null | {"exit":75,
 *    "class":"tempfail","message":"..."},"status":null | {the
 *    account's status record, health.h}}, ...]}
 *
 * Strings are escaped per RFC 8259; bytes that are not valid UTF-8 become
 * U+FFFD, so the output is valid JSON whatever a server sent.
 */
#ifndef POPFETCH_JSON_H
#define POPFETCH_JSON_H

#include "buf.h"
#include "jsonw.h"
#include "fetch-stats.h"


/* The short name of a sysexits code ("tempfail", "noperm", ...). */
const char *json_exit_class(int ex);

/*
 * Append one account's object (with a leading comma unless first), left
 * open: the caller adds its last members and the closing '}'.
 * errmsg is NULL when the account succeeded.
 */
void	json_account(struct buf *, int first, const char *name,
	    const struct fetch_stats *, int ex, const char *errmsg);

/* Wrap the account objects into the whole document, newline-ended. */
void	json_document(struct buf *out, int ex, const struct buf *accounts);

#endif
