/* http.c -- HTTPS requests through libcurl; see http.h. */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "http.h"
#include "mono.h"
#include "xmalloc.h"

/* Bytes of body per second of the transfer's time limit beyond timeout. */
#define HTTP_RATE_FLOOR	(64 * 1024)

struct http_conn {
	CURL	*c;
};

/* What the callbacks of one request share. */
struct xfer {
	const struct http_request *rq;
	char		*data;		/* the answer's body */
	size_t		 len, max;
	int		 too_big;
	long		 retry_after;
	uint64_t	 sent;		/* body bytes handed to libcurl */
	struct error	 rerr;		/* the reader's */
	int		 reader_failed;
};

/* One request of a struct http_multi in flight. */
struct mslot {
	CURL			*c;		/* NULL: the slot is free */
	struct xfer		 x;
	struct curl_slist	*hdr;
	void			*arg;
};

struct http_multi {
	CURLM		*m;
	struct mslot	*slot;
	size_t		 max, running;
};

static size_t	collect(char *, size_t, size_t, void *);
static size_t	header(char *, size_t, size_t, void *);
static size_t	feed(char *, size_t, size_t, void *);
static int	setup(CURL *, const struct http_request *, struct xfer *,
		    struct curl_slist **, struct error *);
static int	setup_body(CURL *, const struct http_request *, struct xfer *);
static int	check_url(const struct http_request *, struct error *);
static void	host_of(const char *, char *, size_t);
static void	failed(CURLcode, const char *, const struct http_request *,
		    struct error *);
static void	scrub(struct curl_slist *);
static int	prepare(const struct http_request *, struct xfer *,
		    struct http_reply *, struct error *);
static int	finish(CURL *, CURLcode, struct xfer *, struct http_reply *,
		    struct error *);
static void	release(struct xfer *, struct curl_slist *);
static int	init_curl(struct error *);

static int	curl_ready;

/* libcurl's write callback: keep up to max bytes, then stop. */
static size_t
collect(char *p, size_t size, size_t n, void *arg)
{
	struct xfer	*x = arg;
	size_t		 len = size * n;

	if (len > x->max - x->len) {
		x->too_big = 1;
		return 0;	/* makes libcurl stop with CURLE_WRITE_ERROR */
	}
	x->data = xreallocarray(x->data, 1, x->len + len + 1);
	memcpy(x->data + x->len, p, len);
	x->len += len;
	x->data[x->len] = '\0';
	return len;
}

/* libcurl's header callback: only Retry-After (seconds) is wanted. */
static size_t
header(char *p, size_t size, size_t n, void *arg)
{
	struct xfer	*x = arg;
	size_t		 len = size * n, i = 12;
	long		 v = 0;

	if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
		while (i < len && (p[i] == ' ' || p[i] == '\t'))
			i++;
		if (i == len || !isdigit((unsigned char)p[i]))
			return len;	/* an HTTP date: as if none */
		for (; i < len && isdigit((unsigned char)p[i]); i++)
			if ((v = v * 10 + (p[i] - '0')) > 86400)
				v = 86400;
		x->retry_after = v;
	}
	return len;
}

/* libcurl's read callback: the body from the request's reader. */
static size_t
feed(char *buf, size_t size, size_t n, void *arg)
{
	struct xfer	*x = arg;
	ssize_t		 got;

	got = x->rq->reader(x->rq->reader_arg, buf, size * n, &x->rerr);
	if (got < 0) {
		x->reader_failed = 1;
		return CURL_READFUNC_ABORT;
	}
	x->sent += (uint64_t)got;
	return (size_t)got;
}

/* The host part of url, for messages (never the path or the query). */
static void
host_of(const char *url, char *out, size_t size)
{
	const char	*p = strstr(url, "://");
	size_t		 n;

	p = p != NULL ? p + 3 : url;
	n = strcspn(p, "/?#");
	if (n >= size)
		n = size - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

static int
check_url(const struct http_request *rq, struct error *err)
{
	char	host[256];

	if (strncasecmp(rq->url, "https://", 8) == 0 ||
	    (rq->plain_ok && strncasecmp(rq->url, "http://", 7) == 0))
		return 0;
	host_of(rq->url, host, sizeof host);
	error_set(err, EX_CONFIG, "the URL of %s on %s is not an https: URL",
	    rq->what, host);
	return -1;
}

static int
setup_body(CURL *c, const struct http_request *rq, struct xfer *x)
{
	CURLcode	r;

	if (strcmp(rq->method, "GET") == 0)
		return curl_easy_setopt(c, CURLOPT_HTTPGET, 1L) == CURLE_OK ?
		    0 : -1;
	if (rq->reader == NULL) {
		r = curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)rq->body_len);
		if (r == CURLE_OK)
			r = curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body);
		return r == CURLE_OK ? 0 : -1;
	}
	r = curl_easy_setopt(c, CURLOPT_POST, 1L);
	if (r == CURLE_OK)
		r = curl_easy_setopt(c, CURLOPT_POSTFIELDS, NULL);
	if (r == CURLE_OK)
		r = curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)rq->reader_len);
	if (r == CURLE_OK)
		r = curl_easy_setopt(c, CURLOPT_READFUNCTION, feed);
	if (r == CURLE_OK)
		r = curl_easy_setopt(c, CURLOPT_READDATA, x);
	return r == CURLE_OK ? 0 : -1;
}

static int
setup(CURL *c, const struct http_request *rq, struct xfer *x,
    struct curl_slist **hdr, struct error *err)
{
	CURLcode	r;
	uint64_t	blen = rq->reader != NULL ? rq->reader_len :
			    rq->body_len;
	long		limit = rq->timeout + (long)(blen / HTTP_RATE_FLOOR);
	char		*line;

#if LIBCURL_VERSION_NUM >= 0x075500
	r = curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, rq->plain_ok ?
	    "https,http" : "https");
#else
	r = curl_easy_setopt(c, CURLOPT_PROTOCOLS, rq->plain_ok ?
	    (long)(CURLPROTO_HTTPS | CURLPROTO_HTTP) : (long)CURLPROTO_HTTPS);
#endif
	if (r == CURLE_OK)
		r = curl_easy_setopt(c, CURLOPT_URL, rq->url);
	if (r == CURLE_OK)
		r = curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	if (r == CURLE_OK)
		r = curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	if (r == CURLE_OK)
		r = curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (r == CURLE_OK && rq->trust_file != NULL)
		r = curl_easy_setopt(c, CURLOPT_CAINFO, rq->trust_file);
	if (r == CURLE_OK)
		r = curl_easy_setopt(c, CURLOPT_TIMEOUT, limit);
	if (r == CURLE_OK)
		r = curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT,
		    (long)rq->timeout);
	/* A stalled exchange ends after timeout seconds of silence. */
	if (r == CURLE_OK)
		r = curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	if (r == CURLE_OK)
		r = curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME,
		    (long)rq->timeout);
	if (r == CURLE_OK)
		r = curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (r == CURLE_OK)
		r = curl_easy_setopt(c, CURLOPT_USERAGENT, PACKAGE_NAME "/"
		    PACKAGE_VERSION);
	if (r == CURLE_OK)
		r = curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	if (r == CURLE_OK)
		r = curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	if (r == CURLE_OK)
		r = curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header);
	if (r == CURLE_OK)
		r = curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
	/* Proxies come from the config only, never from the environment. */
	if (r == CURLE_OK)
		r = curl_easy_setopt(c, CURLOPT_PROXY, "");
	if (r != CURLE_OK || setup_body(c, rq, x) == -1) {
		error_set(err, EX_SOFTWARE, "libcurl: cannot set up a %s",
		    rq->method);
		return -1;
	}
	*hdr = curl_slist_append(*hdr, "Accept: application/json");
	/* No 100-continue round trip: the answer comes at the end anyway. */
	*hdr = curl_slist_append(*hdr, "Expect:");
	if (rq->content_type != NULL) {
		xasprintf(&line, "Content-Type: %s", rq->content_type);
		*hdr = curl_slist_append(*hdr, line);
		free(line);
	}
	if (rq->bearer != NULL) {
		xasprintf(&line, "Authorization: Bearer %s", rq->bearer);
		*hdr = curl_slist_append(*hdr, line);
		freezero_str(line);
	}
	if (*hdr == NULL || curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hdr) !=
	    CURLE_OK) {
		error_set(err, EX_SOFTWARE, "libcurl: cannot set up the headers");
		return -1;
	}
	return 0;
}

/* A transfer that failed: which class, and a line naming the host. */
static void
failed(CURLcode r, const char *host, const struct http_request *rq,
    struct error *err)
{
	switch (r) {
	case CURLE_SSL_CACERT_BADFILE:
		error_set(err, EX_CONFIG, "cannot use %s %s", rq->trust_key,
		    rq->trust_file != NULL ? rq->trust_file : "(system)");
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
		error_set(err, EX_PROTOCOL, "the certificate of %s could not "
		    "be verified (%s); set %s if it is signed by a private CA",
		    host, curl_easy_strerror(r), rq->trust_key);
		break;
	case CURLE_UNSUPPORTED_PROTOCOL:
		error_set(err, EX_CONFIG, "%s on %s: only https: is used",
		    rq->what, host);
		break;
	default:
		error_set(err, EX_TEMPFAIL, "cannot reach %s %s: %s", rq->what,
		    host, curl_easy_strerror(r));
		break;
	}
}

static void
scrub(struct curl_slist *l)
{
	for (; l != NULL; l = l->next)
		explicit_bzero(l->data, strlen(l->data));
}

struct http_conn *
http_conn_new(struct error *err)
{
	struct http_conn	*h;

	if (init_curl(err) == -1)
		return NULL;
	h = xcalloc(1, sizeof *h);
	if ((h->c = curl_easy_init()) == NULL) {
		free(h);
		error_set(err, EX_SOFTWARE, "cannot initialise libcurl");
		return NULL;
	}
	return h;
}

void
http_conn_free(struct http_conn *h)
{
	if (h == NULL)
		return;
	curl_easy_cleanup(h->c);
	free(h);
}

/* A request's state before its transfer: checked, reply and x cleared. */
static int
prepare(const struct http_request *rq, struct xfer *x,
    struct http_reply *reply, struct error *err)
{
	memset(reply, 0, sizeof *reply);
	reply->retry_after = -1;
	memset(x, 0, sizeof *x);
	x->rq = rq;
	x->max = rq->body_max != 0 ? rq->body_max : HTTP_BODY_MAX;
	x->retry_after = -1;
	error_clear(&x->rerr);
	return check_url(rq, err);
}

/* The transfer on c ended with r: reply filled (0), or err (-1). */
static int
finish(CURL *c, CURLcode r, struct xfer *x, struct http_reply *reply,
    struct error *err)
{
	const struct http_request *rq = x->rq;
	char			 host[256];

	host_of(rq->url, host, sizeof host);
	reply->body_sent = rq->reader != NULL ? x->sent == rq->reader_len :
	    r == CURLE_OK;
	if (r != CURLE_OK) {
		if (x->reader_failed)
			*err = x->rerr;
		else if (x->too_big)
			error_set(err, EX_PROTOCOL, "%s %s sent an answer over "
			    "%zu bytes; not what it should send", rq->what,
			    host, x->max);
		else
			failed(r, host, rq, err);
		return -1;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply->status);
	reply->body = x->data != NULL ? x->data : xstrdup("");
	reply->len = x->len;
	reply->retry_after = x->retry_after;
	x->data = NULL;
	return 0;
}

/* What is left of a request's transfer: its body, its headers (scrubbed). */
static void
release(struct xfer *x, struct curl_slist *hdr)
{
	if (x->data != NULL)
		freezero(x->data, x->len + 1);
	x->data = NULL;
	scrub(hdr);	/* the token, in libcurl's memory */
	curl_slist_free_all(hdr);
}

static int
init_curl(struct error *err)
{
	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			error_set(err, EX_SOFTWARE, "cannot initialise libcurl");
			return -1;
		}
		curl_ready = 1;
	}
	return 0;
}

int
http_request(struct http_conn *h, const struct http_request *rq,
    struct http_reply *reply, struct error *err)
{
	struct xfer		 x;
	struct curl_slist	*hdr = NULL;
	int			 rc = -1;

	if (prepare(rq, &x, reply, err) == -1)
		return -1;
	/* Options of the previous request do not carry over. */
	curl_easy_reset(h->c);
	if (setup(h->c, rq, &x, &hdr, err) == 0)
		rc = finish(h->c, curl_easy_perform(h->c), &x, reply, err);
	release(&x, hdr);
	return rc;
}

struct http_multi *
http_multi_new(size_t max, struct error *err)
{
	struct http_multi	*m;

	if (init_curl(err) == -1)
		return NULL;
	m = xcalloc(1, sizeof *m);
	m->slot = xcalloc(max, sizeof *m->slot);
	m->max = max;
	if ((m->m = curl_multi_init()) == NULL ||
	    curl_multi_setopt(m->m, CURLMOPT_MAX_HOST_CONNECTIONS,
	    (long)max) != CURLM_OK) {
		http_multi_free(m);
		error_set(err, EX_SOFTWARE, "cannot initialise libcurl");
		return NULL;
	}
	return m;
}

/* A transfer's slot emptied: its handle and what it held let go. */
static void
drop_slot(struct http_multi *m, struct mslot *sl)
{
	curl_multi_remove_handle(m->m, sl->c);
	curl_easy_cleanup(sl->c);
	release(&sl->x, sl->hdr);
	memset(sl, 0, sizeof *sl);
	m->running--;
}

void
http_multi_free(struct http_multi *m)
{
	size_t	i;

	if (m == NULL)
		return;
	for (i = 0; i < m->max; i++)
		if (m->slot[i].c != NULL)
			drop_slot(m, &m->slot[i]);
	if (m->m != NULL)
		curl_multi_cleanup(m->m);
	free(m->slot);
	free(m);
}

size_t
http_multi_running(const struct http_multi *m)
{
	return m->running;
}

int
http_multi_start(struct http_multi *m, const struct http_request *rq,
    void *arg, struct error *err)
{
	struct http_reply	 unused;
	struct mslot		*sl = NULL;
	size_t			 i;

	for (i = 0; i < m->max && sl == NULL; i++)
		if (m->slot[i].c == NULL)
			sl = &m->slot[i];
	if (sl == NULL) {
		error_set(err, EX_SOFTWARE, "more than %zu requests at once",
		    m->max);
		return -1;
	}
	if (prepare(rq, &sl->x, &unused, err) == -1)
		return -1;
	if ((sl->c = curl_easy_init()) == NULL) {
		error_set(err, EX_SOFTWARE, "cannot initialise libcurl");
		return -1;
	}
	sl->arg = arg;
	m->running++;
	if (setup(sl->c, rq, &sl->x, &sl->hdr, err) == -1)
		goto fail;
	if (curl_easy_setopt(sl->c, CURLOPT_PRIVATE, sl) != CURLE_OK ||
	    curl_multi_add_handle(m->m, sl->c) != CURLM_OK) {
		error_set(err, EX_SOFTWARE, "libcurl: cannot start a %s",
		    rq->method);
		goto fail;
	}
	return 0;
fail:
	curl_easy_cleanup(sl->c);
	release(&sl->x, sl->hdr);
	memset(sl, 0, sizeof *sl);
	m->running--;
	return -1;
}

/* A transfer that ended, taken out of m into done; 0 when none has. */
static int
take_done(struct http_multi *m, struct http_done *done)
{
	struct mslot	*sl;
	CURLMsg		*msg;
	int		 left;
	char		*p;

	while ((msg = curl_multi_info_read(m->m, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		if (curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
		    &p) != CURLE_OK || p == NULL)
			fatalx("http: a transfer without its slot");
		sl = (struct mslot *)(void *)p;
		error_clear(&done->err);
		done->arg = sl->arg;
		done->rc = finish(sl->c, msg->data.result, &sl->x,
		    &done->reply, &done->err);
		drop_slot(m, sl);
		return 1;
	}
	return 0;
}

int
http_multi_next(struct http_multi *m, long ms, struct http_done *done,
    struct error *err)
{
	long long	 end = mono_now_ms() + ms;
	long		 left = ms;
	int		 still, n;

	memset(done, 0, sizeof *done);
	done->reply.retry_after = -1;
	for (;;) {
		if (curl_multi_perform(m->m, &still) != CURLM_OK) {
			error_set(err, EX_SOFTWARE, "libcurl: the transfers "
			    "failed");
			return -1;
		}
		if (take_done(m, done))
			return 1;
		if (left <= 0)
			return 0;
		if (curl_multi_poll(m->m, NULL, 0, left > 1000 ? 1000 :
		    (int)left, &n) != CURLM_OK) {
			error_set(err, EX_SOFTWARE, "libcurl: cannot wait for "
			    "the transfers");
			return -1;
		}
		left = (long)(end - mono_now_ms());
	}
}

int
http_post_form(const char *url, const char *form, const char *trust_file,
    int timeout, struct http_reply *reply, struct error *err)
{
	struct http_request	 rq;
	struct http_conn	*h;
	int			 rc;

	memset(&rq, 0, sizeof rq);
	rq.method = "POST";
	rq.url = url;
	rq.body = form;
	rq.body_len = strlen(form);
	rq.trust_file = trust_file;
	rq.trust_key = "oauth2_trust_file";
	rq.what = "the OAuth server";
	rq.timeout = timeout;
	if ((h = http_conn_new(err)) == NULL)
		return -1;
	rc = http_request(h, &rq, reply, err);
	http_conn_free(h);
	return rc;
}

void
http_reply_free(struct http_reply *r)
{
	if (r->body != NULL)
		freezero(r->body, r->len + 1);
	r->body = NULL;
	r->len = 0;
}

void
http_form_add(char **form, const char *name, const char *value)
{
	char	*enc, *old = *form;

	enc = http_escape(value);
	xasprintf(form, "%s%s%s=%s", old != NULL ? old : "",
	    old != NULL ? "&" : "", name, enc);
	if (old != NULL)
		freezero_str(old);
	freezero_str(enc);
}

char *
http_escape(const char *s)
{
	char	*enc, *out;

	if ((enc = curl_easy_escape(NULL, s, 0)) == NULL)
		fatalx("curl_easy_escape: out of memory");
	out = xstrdup(enc);
	explicit_bzero(enc, strlen(enc));
	curl_free(enc);
	return out;
}

char *
http_unescape(const char *s, size_t len)
{
	char	*raw, *out;
	int	 n;

	if ((raw = curl_easy_unescape(NULL, s, (int)len, &n)) == NULL)
		fatalx("curl_easy_unescape: out of memory");
	if (memchr(raw, '\0', (size_t)n) != NULL) {
		curl_free(raw);
		return NULL;
	}
	out = xstrndup(raw, (size_t)n);
	explicit_bzero(raw, (size_t)n);
	curl_free(raw);
	return out;
}
