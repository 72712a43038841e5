/*
 * termsafe.h -- text from a server made safe for a terminal.  Every
 * error message, -S line and --debug trace that quotes a server goes
 * through termsafe(); header display (rfc2047_display()) asks
 * termsafe_char() what may pass.
 *
 * What passes as it is: printable ASCII, and, when termsafe_set_utf8(1)
 * said the terminal takes UTF-8, well-formed UTF-8 of characters
 * termsafe_char() accepts.  Every other byte is written as the four
 * characters \xHH: the C0 controls (ESC among them, so no escape sequence
 * -- CSI, OSC 52's clipboard write, OSC 8's links, a title -- can start),
 * DEL, the C1 controls as bytes (0x80-0x9f, 0x9b being a one-byte CSI) and
 * as UTF-8 (U+0080-U+009F), the bidirectional controls that reorder what
 * is shown (U+202A-U+202E, U+2066-U+2069, U+200E, U+200F, U+061C), the
 * line and paragraph separators, U+FEFF, and invalid UTF-8.  The output
 * is printable ASCII (plus the UTF-8 allowed) and nothing else.
 */
#ifndef POPFETCH_TERMSAFE_H
#define POPFETCH_TERMSAFE_H

#include <stddef.h>

/*
 * in/len made safe into out (size > 0, always NUL-terminated); when out
 * is full the text is cut before a character or escape that does not
 * fit.  Returns the length written (without the NUL).
 */
size_t	termsafe(const char *in, size_t len, char *out, size_t size);

/* The size of an out that holds any len bytes of input whole. */
#define TERMSAFE_SIZE(len)	((len) * 4 + 1)

/* Whether code point cp may reach a terminal as it is. */
int	termsafe_char(unsigned cp);

/*
 * Whether non-ASCII characters may pass (the locale's character set is
 * UTF-8); set once at start.  Off until then: everything not ASCII is
 * escaped.
 */
void	termsafe_set_utf8(int);

#endif
