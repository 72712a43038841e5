/*
 * uid.h -- what a POP3 unique-id may be (RFC 1939): 1 to 70 octets in the
 * range 0x21-0x7e.  Checked on what the server sends and on what the
 * state file holds, so a UID can never break a line or a file name.
 */
#ifndef POPFETCH_UID_H
#define POPFETCH_UID_H

#include <stddef.h>

#define UID_MAX		70

static inline int
uid_valid(const char *uid, size_t len)
{
	size_t	i;

	if (len == 0 || len > UID_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)uid[i] < 0x21 ||
		    (unsigned char)uid[i] > 0x7e)
			return 0;
	return 1;
}

#endif
