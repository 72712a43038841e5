/* http.c -- an HTTPS form POST through libcurl; see http.h. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "http.h"
#include "xmalloc.h"

/* What the body callback collects. */
struct body {
	char	*data;
	size_t	 len;
	int	 too_big;
};

static size_t	collect(char *, size_t, size_t, void *);
static int	setup(CURL *, const char *, const char *, int, struct body *,
		    struct error *);
static void	host_of(const char *, char *, size_t);
static void	failed(CURLcode, const char *, const char *, struct error *);

static int	curl_ready;

/* libcurl's write callback: keep up to HTTP_BODY_MAX bytes, then stop. */
static size_t
collect(char *p, size_t size, size_t n, void *arg)
{
	struct body	*b = arg;
	size_t		 len = size * n;

	if (len > HTTP_BODY_MAX - b->len) {
		b->too_big = 1;
		return 0;	/* makes libcurl stop with CURLE_WRITE_ERROR */
	}
	b->data = xreallocarray(b->data, 1, b->len + len + 1);
	memcpy(b->data + b->len, p, len);
	b->len += len;
	b->data[b->len] = '\0';
	return len;
}

/* The host part of url, for messages (the URL may carry a tenant, no secret). */
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
setup(CURL *c, const char *url, const char *trust_file, int timeout,
    struct body *b, struct error *err)
{
	CURLcode	r = CURLE_OK;

	if (strncasecmp(url, "https://", 8) != 0) {
		error_set(err, EX_CONFIG, "OAuth endpoint %.200s is not an "
		    "https: URL", url);
		return -1;
	}
#if LIBCURL_VERSION_NUM >= 0x075500
	r = curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
#else
	r = curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTPS);
#endif
	if (r == CURLE_OK)
		r = curl_easy_setopt(c, CURLOPT_URL, url);
	if (r == CURLE_OK)
		r = curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	if (r == CURLE_OK)
		r = curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	if (r == CURLE_OK)
		r = curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (r == CURLE_OK && trust_file != NULL)
		r = curl_easy_setopt(c, CURLOPT_CAINFO, trust_file);
	if (r == CURLE_OK)
		r = curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)timeout);
	if (r == CURLE_OK)
		r = curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)timeout);
	if (r == CURLE_OK)
		r = curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (r == CURLE_OK)
		r = curl_easy_setopt(c, CURLOPT_USERAGENT, PACKAGE_NAME "/"
		    PACKAGE_VERSION);
	if (r == CURLE_OK)
		r = curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	if (r == CURLE_OK)
		r = curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
	/* Proxies come from the config only, never from the environment. */
	if (r == CURLE_OK)
		r = curl_easy_setopt(c, CURLOPT_PROXY, "");
	if (r != CURLE_OK) {
		error_set(err, EX_SOFTWARE, "libcurl: %s", curl_easy_strerror(r));
		return -1;
	}
	return 0;
}

/* A transfer that failed: which class, and a line naming the host. */
static void
failed(CURLcode r, const char *host, const char *trust_file,
    struct error *err)
{
	switch (r) {
	case CURLE_SSL_CACERT_BADFILE:
		error_set(err, EX_CONFIG, "cannot use oauth2_trust_file %s",
		    trust_file != NULL ? trust_file : "(system)");
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
		error_set(err, EX_PROTOCOL, "the certificate of %s could not "
		    "be verified (%s); set oauth2_trust_file if it is "
		    "signed by a private CA", host, curl_easy_strerror(r));
		break;
	case CURLE_UNSUPPORTED_PROTOCOL:
		error_set(err, EX_CONFIG, "OAuth endpoint on %s: only https: "
		    "is used", host);
		break;
	default:
		error_set(err, EX_TEMPFAIL, "cannot reach the OAuth server %s: "
		    "%s", host, curl_easy_strerror(r));
		break;
	}
}

int
http_post_form(const char *url, const char *form, const char *trust_file,
    int timeout, struct http_reply *reply, struct error *err)
{
	struct body	 b = { NULL, 0, 0 };
	struct curl_slist *hdr = NULL;
	char		 host[256];
	CURL		*c = NULL;
	CURLcode	 r;
	int		 rc = -1;

	memset(reply, 0, sizeof *reply);
	host_of(url, host, sizeof host);
	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			error_set(err, EX_SOFTWARE, "cannot initialise libcurl");
			return -1;
		}
		curl_ready = 1;
	}
	if ((c = curl_easy_init()) == NULL) {
		error_set(err, EX_SOFTWARE, "cannot initialise libcurl");
		return -1;
	}
	if (setup(c, url, trust_file, timeout, &b, err) == -1)
		goto out;
	hdr = curl_slist_append(hdr, "Accept: application/json");
	if (hdr == NULL || curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr) !=
	    CURLE_OK || curl_easy_setopt(c, CURLOPT_POSTFIELDS, form) !=
	    CURLE_OK) {
		error_set(err, EX_SOFTWARE, "libcurl: cannot set up a POST");
		goto out;
	}
	if ((r = curl_easy_perform(c)) != CURLE_OK) {
		if (b.too_big)
			error_set(err, EX_PROTOCOL, "the OAuth server %s sent "
			    "an answer over %d bytes; not a token response",
			    host, HTTP_BODY_MAX);
		else
			failed(r, host, trust_file, err);
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply->status);
	reply->body = b.data != NULL ? b.data : xstrdup("");
	reply->len = b.len;
	b.data = NULL;
	rc = 0;
out:
	if (b.data != NULL)
		freezero(b.data, b.len + 1);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
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

	if ((enc = curl_easy_escape(NULL, value, 0)) == NULL)
		fatalx("curl_easy_escape: out of memory");
	xasprintf(form, "%s%s%s=%s", old != NULL ? old : "",
	    old != NULL ? "&" : "", name, enc);
	if (old != NULL)
		freezero_str(old);
	explicit_bzero(enc, strlen(enc));
	curl_free(enc);
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
