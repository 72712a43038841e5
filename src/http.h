/*
 * http.h -- one HTTPS POST of a form, for the OAuth token endpoints,
 * through libcurl (its GnuTLS build: one TLS stack in the program).
 *
 * Only https: URLs are used; the certificate is verified against the
 * system's trust store or trust_file; redirects are not followed (a token
 * endpoint that redirects is answering wrongly, and the form holds
 * secrets); the whole exchange is bounded by a timeout, and the body by
 * HTTP_BODY_MAX.  Nothing sent or received is ever logged: the form holds
 * refresh tokens and secrets, the body access tokens.
 */
#ifndef POPFETCH_HTTP_H
#define POPFETCH_HTTP_H

#include <stddef.h>

#include "error.h"

/* More than any token response; a longer body is refused (EX_PROTOCOL). */
#define HTTP_BODY_MAX	(64 * 1024)

struct http_reply {
	long	 status;	/* the HTTP status code */
	char	*body;		/* NUL-terminated; the caller frees it with
				   http_reply_free(), which zeroes it */
	size_t	 len;
};

/*
 * POST form (already encoded, see http_form_add) to url, waiting at most
 * timeout seconds in all.  0 with r filled for any HTTP answer, whatever
 * its status; -1 with err: EX_TEMPFAIL when the server could not be
 * reached, timed out or broke the connection (try later), EX_CONFIG for a
 * URL that is not https: or a trust_file that cannot be used,
 * EX_PROTOCOL for a body over HTTP_BODY_MAX, EX_SOFTWARE when libcurl
 * cannot be set up.  err names the host, never the form.
 */
int	http_post_form(const char *url, const char *form,
	    const char *trust_file, int timeout, struct http_reply *r,
	    struct error *err);
void	http_reply_free(struct http_reply *);

/* Append "name=value" (value URL-encoded) to *form, '&'-separated. */
void	http_form_add(char **form, const char *name, const char *value);
/* %XX-decoded copy of s (len bytes), or NULL if it holds a NUL byte. */
char	*http_unescape(const char *s, size_t len);

#endif
