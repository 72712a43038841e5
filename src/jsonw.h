/*
 * jsonw.h -- writing JSON values into a buf: the one JSON writer, for
 * --json, the status records and the event log (log_format json).
 * Strings are escaped per RFC 8259; bytes that are not valid UTF-8
 * become U+FFFD, so the output is valid JSON whatever a server sent.
 */
#ifndef POPFETCH_JSONW_H
#define POPFETCH_JSONW_H

#include "buf.h"

/* s as a JSON string, quotes included. */
void	json_string(struct buf *, const char *s);

/* ,"key":"val" (val NULL: null), and ,"key":n -- members after the first. */
void	jsonw_str(struct buf *, const char *key, const char *val);
void	jsonw_num(struct buf *, const char *key, unsigned long long n);

#endif
