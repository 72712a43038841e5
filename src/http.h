/*
 * http.h -- HTTPS requests through libcurl (its GnuTLS build: one TLS
 * stack in the program): the OAuth token endpoints' form POSTs, and the
 * Gmail API's GETs and uploads with a bearer token.
 *
 * Only https: URLs are used (plain http: only where the caller allows it,
 * which the configuration does when TLS is turned off by name); the
 * certificate is verified against the system's trust store or trust_file;
 * redirects are not followed (an API that redirects is answering wrongly,
 * and the requests hold secrets); proxies come from the configuration,
 * never from the environment; each exchange is bounded in time, and the
 * answer's body by a size.  Nothing sent or received is ever logged: the
 * forms hold refresh tokens and secrets, the headers bearer tokens, the
 * bodies access tokens and mail.
 */
#ifndef POPFETCH_HTTP_H
#define POPFETCH_HTTP_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* More than any token response; a longer body is refused (EX_PROTOCOL). */
#define HTTP_BODY_MAX	(64 * 1024)

struct http_reply {
	long	 status;	/* the HTTP status code */
	char	*body;		/* NUL-terminated; the caller frees it with
				   http_reply_free(), which zeroes it */
	size_t	 len;
	long	 retry_after;	/* Retry-After in seconds, or -1 */
	int	 body_sent;	/* the request's whole body went out (set
				   on failures too) */
};

/*
 * Reads the next bytes of a request body into buf (at most len): the
 * count, 0 at the end, -1 with err.
 */
typedef ssize_t	(*http_reader)(void *arg, char *buf, size_t len,
		    struct error *err);

struct http_request {
	const char	*method;	/* "GET" or "POST" */
	const char	*url;
	const char	*bearer;	/* Authorization: Bearer, or NULL */
	const char	*content_type;	/* of the body, or NULL */
	const char	*body;		/* the body, len body_len ... */
	size_t		 body_len;
	http_reader	 reader;	/* ... or from here, reader_len bytes */
	void		*reader_arg;
	uint64_t	 reader_len;
	/*
	 * A body from a reader is never sent twice by libcurl on its own
	 * (no seek callback): when a kept connection turns out closed after
	 * the body began, the request fails (EX_TEMPFAIL, body_sent) and the
	 * caller, who knows whether a second copy would harm, decides.
	 */
	const char	*trust_file;	/* NULL: the system's */
	const char	*trust_key;	/* the key that sets it, for errors */
	const char	*what;		/* "the OAuth server", for errors */
	int		 timeout;	/* seconds: to connect, and of silence */
	int		 plain_ok;	/* http: allowed too */
	size_t		 body_max;	/* 0: HTTP_BODY_MAX */
};

struct http_conn;

/*
 * A handle that keeps its connection open between requests (one TLS
 * handshake for a run, not one per message).  NULL with EX_SOFTWARE when
 * libcurl cannot be set up.
 */
struct http_conn	*http_conn_new(struct error *);
void			 http_conn_free(struct http_conn *);

/*
 * One request.  0 with r filled for any HTTP answer, whatever its status;
 * -1 with err: EX_TEMPFAIL when the server could not be reached, timed
 * out or broke the connection (try later; r->body_sent says whether the
 * whole body had gone out), EX_CONFIG for a URL the request does not allow
 * or a trust_file that cannot be used, EX_PROTOCOL for an answer over the
 * body limit or a certificate that does not verify, EX_SOFTWARE when
 * libcurl cannot be set up, or the reader's own error.  err names the
 * host, never the URL's query, the token or a body.  The whole exchange
 * is bounded: timeout to connect, timeout of silence, and timeout plus a
 * second per 64 KiB of body in all.
 */
int	http_request(struct http_conn *, const struct http_request *,
	    struct http_reply *r, struct error *err);

/*
 * Several requests in flight at once (libcurl's multi interface), each
 * bounded as http_request()'s, on connections kept between them.
 */
struct http_multi;

/* What became of a request of a struct http_multi. */
struct http_done {
	void			*arg;	/* as given to http_multi_start() */
	int			 rc;	/* http_request()'s: 0 with reply, */
	struct http_reply	 reply;	/* (body_sent set either way) */
	struct error		 err;	/* or -1 with err */
};

/* Up to max requests at once.  NULL with EX_SOFTWARE. */
struct http_multi	*http_multi_new(size_t max, struct error *);
/* Ends the requests still in flight (their answers are never known). */
void			 http_multi_free(struct http_multi *);
/* The requests started whose end was not yet taken by http_multi_next. */
size_t			 http_multi_running(const struct http_multi *);
/*
 * Start rq, which (and what it points to, its reader's arg included) must
 * stay as it is until http_multi_next() gives its end.  -1 with err as
 * http_request()'s (the request is not started), EX_SOFTWARE when max are
 * running.
 */
int	http_multi_start(struct http_multi *, const struct http_request *rq,
	    void *arg, struct error *);
/*
 * Move the transfers on for up to ms milliseconds: 1 with done filled as
 * soon as one request has ended (the caller http_reply_free()s its
 * reply), 0 when none ended in that time, -1 with err (EX_SOFTWARE) when
 * libcurl fails.  Every request ends within its own bounds, so a caller
 * waiting for all of them waits a bounded time.
 */
int	http_multi_next(struct http_multi *, long ms, struct http_done *done,
	    struct error *err);

/*
 * POST form (already encoded, see http_form_add) to url, waiting at most
 * timeout seconds in all, as http_request() with what "the OAuth server"
 * and trust_key oauth2_trust_file.
 */
int	http_post_form(const char *url, const char *form,
	    const char *trust_file, int timeout, struct http_reply *r,
	    struct error *err);
void	http_reply_free(struct http_reply *);

/* Append "name=value" (value URL-encoded) to *form, '&'-separated. */
void	http_form_add(char **form, const char *name, const char *value);
/* %XX-encoded copy of s (every byte but A-Z a-z 0-9 - . _ ~). */
char	*http_escape(const char *s);
/* %XX-decoded copy of s (len bytes), or NULL if it holds a NUL byte. */
char	*http_unescape(const char *s, size_t len);

#endif
