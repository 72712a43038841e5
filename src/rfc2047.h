/*
 * rfc2047.h -- header text for people: RFC 2047 encoded words decoded to
 * UTF-8, and text made safe for a terminal.
 *
 * Everything here comes from the server and is hostile: input and output
 * are bounded by the caller's buffer, an encoded word that does not parse
 * or names a charset iconv(3) does not know is left as it was, and the
 * display form holds no control characters (C0, C1, DEL), no
 * bidirectional overrides and no invalid UTF-8.
 */
#ifndef POPFETCH_RFC2047_H
#define POPFETCH_RFC2047_H

#include <stddef.h>

#include "buf.h"

/*
 * Append the decoded form of in/len to out: encoded words (B and Q, any
 * charset iconv knows; "charset*lang" too) become UTF-8, white space
 * between two encoded words goes, everything else is copied as it is
 * (raw 8-bit bytes included).  Bytes a charset cannot convert become
 * U+FFFD.
 */
void	rfc2047_decode(const char *in, size_t len, struct buf *out);

/*
 * in/len (UTF-8, possibly invalid) made printable into out (size > 0,
 * always terminated), cut at a character boundary so that it fits out and
 * takes at most max_cols terminal columns.  With utf8 set, valid printable
 * characters stay; otherwise each non-ASCII character becomes one '?'.
 * Control characters and invalid bytes become '?', runs of white space
 * one space.  Returns the columns used.
 */
size_t	rfc2047_display(const char *in, size_t len, int utf8, size_t max_cols,
	    char *out, size_t size);

/* Whether the locale's character set (LC_CTYPE) is UTF-8. */
int	rfc2047_locale_utf8(void);

#endif
