/*
 * envelope.h -- the envelope sender of a fetched message, for the mbox
 * From_ line and the MDA's %F.
 *
 * POP3 carries no envelope; the final MTA records the sender in a
 * Return-Path header field, so that is where we look.  Everything in the
 * header is hostile: the result is bounded, has no control characters and
 * is never passed to a shell unquoted.
 */
#ifndef POPFETCH_ENVELOPE_H
#define POPFETCH_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

/* A header section larger than this gets ENVELOPE_UNKNOWN. */
#define ENVELOPE_HEADER_MAX	(1024 * 1024)
/* Longer addresses are taken for garbage (RFC 5321 allows 256). */
#define ENVELOPE_ADDR_MAX	512
#define ENVELOPE_UNKNOWN	"MAILER-DAEMON"

/*
 * The address in the first Return-Path field of the header section hdr
 * (len bytes, LF line ends; anything after the first empty line is
 * ignored), without its angle brackets; folded fields are unfolded and
 * the field name is matched without regard to case.  Returns an allocated
 * string, or NULL when there is no usable Return-Path: none, the null
 * sender <>, or an address that is too long or holds control or non-ASCII
 * characters.  The result may hold spaces and shell syntax.
 */
char	*envelope_sender(const char *hdr, size_t len);
/*
 * The same for the first len bytes hdr of a message of msgsize bytes
 * (len at most ENVELOPE_HEADER_MAX): a header section that does not end
 * within them is not trusted for an address.  Always an allocated
 * string: ENVELOPE_UNKNOWN when there is no usable address.
 */
char	*envelope_sender_of(const char *hdr, size_t len, uint64_t msgsize);
/*
 * The same, but an address may also hold well-formed UTF-8 (RFC 6531's
 * internationalized address, for SMTPUTF8); other bytes over 0x7e and
 * control characters still make it unusable.
 */
char	*envelope_sender_utf8_of(const char *hdr, size_t len,
	    uint64_t msgsize);

/*
 * s as one word for /bin/sh: in single quotes, each ' written as '\''.
 * Allocated.
 */
char	*envelope_shell_quote(const char *s);

/*
 * s by mpop's rule for %F: letters, digits and ".@_-+/" stay, white
 * space becomes "-", anything else "_" (o'brien@example.org becomes
 * o_brien@example.org).  Harmless anywhere in a shell command, inside
 * quotes too.  Allocated.
 */
char	*envelope_mpop_safe(const char *s);

/*
 * The shell command cmd with each %F replaced by sender: where %F stands
 * inside single or double quotes, the user quoted it as mpop's manual
 * says ('%F'), and it becomes envelope_mpop_safe(sender), the same bytes
 * mpop passes; elsewhere it becomes envelope_shell_quote(sender), the
 * whole address as one word.  Allocated.
 */
char	*envelope_expand_sender(const char *cmd, const char *sender);

#endif
