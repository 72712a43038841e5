/*
 * headers.h -- a message's header, fetched with TOP n 0 before deciding
 * whether to retrieve the message (--list, `filter`).
 *
 * The header comes from the server and is hostile: what is kept is
 * bounded (HEADERS_MAX; the rest is read and dropped), and the fields
 * shown to the user are unfolded, cut, and made printable ASCII.
 */
#ifndef POPFETCH_HEADERS_H
#define POPFETCH_HEADERS_H

#include <stddef.h>

#include "buf.h"
#include "error.h"
#include "pop3.h"

#define HEADERS_MAX	(64 * 1024)	/* kept of a header; more is dropped */
#define HEADERS_FIELD_MAX 200		/* shown of one field */

/*
 * TOP num 0 into hdr (reset first; LF line ends, at most HEADERS_MAX
 * bytes).  The server needs TOP: without it the error is EX_UNAVAILABLE.
 * Only call with nothing else in flight.
 */
int	headers_top(struct pop3 *, unsigned long num, struct buf *hdr,
	    struct error *);

/*
 * The first field called name (case-insensitive) in the header hdr/len,
 * unfolded, with runs of white space as one space, anything that is not
 * printable ASCII as '?', cut to fit out (size > 0, always terminated).
 * Returns 1 if the field was found, 0 if not (out is then "").
 */
int	headers_field(const char *hdr, size_t len, const char *name,
	    char *out, size_t size);

/*
 * The same field for people: unfolded, RFC 2047 encoded words decoded,
 * then made printable (UTF-8 kept when utf8 is set, see rfc2047_display),
 * at most HEADERS_FIELD_MAX columns and size bytes.  Returns 1 if found.
 */
int	headers_field_text(const char *hdr, size_t len, const char *name,
	    int utf8, char *out, size_t size);

#endif
