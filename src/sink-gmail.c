/*
 * sink-gmail.c -- delivery into Gmail through its API (`delivery gmail
 * [LABEL...]`): users.messages.import, so that Gmail files, threads and
 * classifies the message as if it had come by SMTP (no forwarding: no SPF
 * or DMARC trouble), with its internal date from the Date field.
 *
 * One request per message: a multipart upload (uploadType=multipart) of
 * the labels as JSON metadata and the message as message/rfc822 with CRLF
 * line ends, so that a message is in Gmail with its labels or not at all
 * (a users.messages.modify after a media upload could fail and leave it
 * out of the inbox).  Without LABELs a message gets INBOX and UNREAD, as
 * Gmail's own "Check mail from other accounts" filed it; with LABELs
 * exactly those (INBOX among them to keep it in the inbox).  Label names
 * are looked up once per run (users.labels.list) and created when missing
 * (users.labels.create).
 *
 * Answers decide as an MDA's exit status does: 2xx delivered; 429 (or 403
 * rateLimitExceeded) waits for Retry-After once when that fits in
 * `timeout`, else defers the message and the rest of the run (75); 5xx
 * and a lost connection defer the message (75); other 4xx refuse it (69)
 * with Gmail's own message; 401 refreshes the token once, and a second
 * 401 stops the run (77, sign in again).
 *
 * Exactly once: before a byte of the message leaves, its tag, size,
 * digest and Message-ID go into the pending journal (destjournal.h).  A
 * reply lost after the upload, in this run or in a run killed then, is
 * answered by asking Gmail (users.messages.list q=rfc822msgid:, spam and
 * trash included) whether it holds the message.  A message without a
 * Message-ID cannot be asked for: it is imported again (at least once).
 */
#include "config.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <json-c/json_object.h>
#include <json-c/json_tokener.h>

#include "destjournal.h"
#include "http.h"
#include "imap.h"
#include "log.h"
#include "sighold.h"
#include "sink.h"
#include "sink-spool.h"
#include "smtp.h"
#include "termsafe.h"
#include "xmalloc.h"

#define GMAIL_DEFAULT_URL	"https://gmail.googleapis.com"
#define GMAIL_SCAN		65536	/* where the Message-ID is looked for */
#define GMAIL_LABELS_MAX	32
#define GMAIL_LABEL_LEN		225	/* Gmail's own limit on a name */
#define GMAIL_LIST_MAX		(1024 * 1024)	/* a labels.list answer */
#define GMAIL_WHY_LEN		300	/* of Gmail's message, as shown */
#define GMAIL_BOUNDARY_LEN	32
#define SEND_AGAIN		(SINK_REFUSED + 1)	/* answer(): wait over */

/* The multipart body of an import, read in three parts. */
struct upload {
	struct spool	*sp;
	const char	*head, *tail;
	size_t		 headlen, taillen;
	uint64_t	 off;		/* into the whole body */
	uint64_t	 msglen;	/* the message with CRLF line ends */
	struct spool_crlf crlf;		/* where the message is */
};

struct gdest {
	char		*base;		/* the API's URL, no trailing '/' */
	char		*token;
	sink_token_fn	 refresh;
	const void	*refresh_arg;
	const char	*signin;	/* the sign-in block's name */
	char		*names[GMAIL_LABELS_MAX];
	size_t		 nnames;
	char		*meta;		/* {"labelIds":[...]}, once resolved */
	int		 never_spam;
	int		 timeout;
	struct http_request proto;	/* trust, timeout, what */
	char		*trust_file;
	struct http_conn *hc;
	struct spool	 sp;
	char		 tag[SINK_TAG_LEN + 1];
	char		*jpath;
	struct destjournal *dj;
	int		 down;		/* the rest of the run waits */
	const char	*who;
};

static int	gm_open(struct sink *, const struct sink_msginfo *,
		    struct error *);
static int	gm_write(struct sink *, const char *, size_t, struct error *);
static int	gm_commit(struct sink *, struct error *);
static void	gm_abort(struct sink *);
static void	gm_free(struct sink *);
static int	gm_find(struct sink *, const char *, struct error *);
static int	parse_labels(struct gdest *, const char *, struct error *);
static int	parse_json(const struct http_reply *, struct json_object **);
static void	why_of(const struct http_reply *, char *, size_t);
static int	rate_limited(const struct http_reply *);
static int	call(struct gdest *, struct http_request *,
		    struct http_reply *, struct error *);
static int	resolve_labels(struct gdest *, struct error *);
static int	list_labels(struct gdest *, struct json_object **,
		    struct error *);
static const char *label_id(struct json_object *, const char *);
static int	create_label(struct gdest *, const char *, char **,
		    struct error *);
static int	is_system(const char *);
static int	lookup(struct gdest *, const char *, struct error *);
static int	measure(struct gdest *, struct dj_entry *, struct error *);
static int	journal(struct gdest *, const struct dj_entry *,
		    struct error *);
static ssize_t	upload_read(void *, char *, size_t, struct error *);
static void	upload_rewind(void *);
static int	import(struct gdest *, const struct dj_entry *,
		    struct error *);
static int	answer(struct gdest *, const struct dj_entry *,
		    struct http_reply *, int, struct error *);
static int	in_doubt(struct gdest *, const struct dj_entry *,
		    const char *, struct error *);
static void	note_id(struct gdest *, const struct dj_entry *,
		    const char *);
static int	by_id(struct gdest *, const char *, struct error *);
static int	open_journal(struct gdest *, struct error *);
static int	find_entry(struct gdest *, const struct dj_entry *,
		    struct error *);
static int	sent_before(struct gdest *, const struct dj_entry *,
		    struct error *);

static const struct sink_ops gmail_ops = {
	"gmail", gm_open, gm_write, gm_commit, gm_abort, gm_free, NULL, NULL,
	gm_find, NULL
};

/* The labels Gmail names itself: their ids are their names. */
static const char *const system_labels[] = {
	"INBOX", "UNREAD", "STARRED", "IMPORTANT", "SPAM", "TRASH",
	"CATEGORY_PERSONAL", "CATEGORY_SOCIAL", "CATEGORY_PROMOTIONS",
	"CATEGORY_UPDATES", "CATEGORY_FORUMS", NULL
};

struct sink *
sink_gmail_new(const struct sink_dest *sd, struct error *err)
{
	struct gdest	*d;
	struct sink	*s;
	const char	*url = sd->api_url != NULL ? sd->api_url :
			    GMAIL_DEFAULT_URL;
	size_t		 n;

	d = xcalloc(1, sizeof *d);
	s = xcalloc(1, sizeof *s);
	s->ops = &gmail_ops;
	s->data = d;
	d->sp.fd = -1;
	d->who = sd->who;
	d->base = xstrdup(url);
	for (n = strlen(d->base); n > 0 && d->base[n - 1] == '/'; n--)
		d->base[n - 1] = '\0';
	if (sd->password == NULL || sd->oauth_store == NULL) {
		error_set(err, EX_CONFIG, "delivery gmail needs "
		    "delivery_oauth2_account (a Google sign-in)");
		goto fail;
	}
	d->token = xstrdup(sd->password);
	d->signin = sd->oauth_store;
	d->refresh = sd->refresh;
	d->refresh_arg = sd->refresh_arg;
	d->never_spam = sd->never_spam;
	d->timeout = sd->timeout;
	if (sd->tls_trust_file != NULL)
		d->trust_file = xstrdup(sd->tls_trust_file);
	if (sd->journal != NULL)
		d->jpath = xstrdup(sd->journal);
	d->proto.trust_file = d->trust_file;
	d->proto.trust_key = "delivery_tls_trust_file";
	d->proto.what = "the Gmail API";
	d->proto.timeout = sd->timeout;
	d->proto.plain_ok = sd->tls == SMTP_TLS_OFF;
	if (strncasecmp(d->base, "https://", 8) != 0 && !(d->proto.plain_ok &&
	    strncasecmp(d->base, "http://", 7) == 0)) {
		error_set(err, EX_CONFIG, "gmail_api_url %.200s: only https: "
		    "URLs (http: with delivery_tls off)", d->base);
		goto fail;
	}
	if (parse_labels(d, sd->arg != NULL ? sd->arg : "", err) == -1 ||
	    spool_init(&d->sp, err) == -1 ||
	    (d->hc = http_conn_new(err)) == NULL)
		goto fail;
	return s;
fail:
	gm_free(s);
	return NULL;
}

/*
 * LABEL... as blank-separated words; "..." holds blanks (\" and \\
 * inside).  None: INBOX and UNREAD.
 */
static int
parse_labels(struct gdest *d, const char *arg, struct error *err)
{
	char		 name[GMAIL_LABEL_LEN + 1];
	const char	*p = arg;
	size_t		 n;
	int		 quoted;

	for (;;) {
		p += strspn(p, " \t");
		if (*p == '\0')
			break;
		quoted = *p == '"';
		p += quoted;
		for (n = 0; *p != '\0' && (quoted ? *p != '"' : *p != ' ' &&
		    *p != '\t'); p++) {
			if (quoted && *p == '\\' && p[1] != '\0')
				p++;
			if (n == GMAIL_LABEL_LEN || (unsigned char)*p < 0x20 ||
			    *p == 0x7f)
				goto bad;
			name[n++] = *p;
		}
		if ((quoted && *p++ != '"') || n == 0 ||
		    d->nnames == GMAIL_LABELS_MAX)
			goto bad;
		name[n] = '\0';
		d->names[d->nnames++] = xstrdup(name);
	}
	if (d->nnames == 0) {
		d->names[d->nnames++] = xstrdup("INBOX");
		d->names[d->nnames++] = xstrdup("UNREAD");
	}
	return 0;
bad:
	error_set(err, EX_CONFIG, "delivery gmail: bad labels '%.200s' (want "
	    "up to %d label names, \"quoted\" when they hold blanks)", arg,
	    GMAIL_LABELS_MAX);
	return -1;
}

static int
gm_open(struct sink *s, const struct sink_msginfo *mi, struct error *err)
{
	struct gdest	*d = s->data;

	d->tag[0] = '\0';
	if (mi != NULL && mi->tag != NULL)
		strlcpy(d->tag, mi->tag, sizeof d->tag);
	return spool_reset(&d->sp, err);
}

static int
gm_write(struct sink *s, const char *p, size_t n, struct error *err)
{
	struct gdest	*d = s->data;

	return spool_write(&d->sp, p, n, err);
}

/* A JSON object, or -1 (not JSON, or not an object). */
static int
parse_json(const struct http_reply *r, struct json_object **out)
{
	struct json_tokener	*tok;

	*out = NULL;
	if ((tok = json_tokener_new_ex(32)) == NULL)
		return -1;
	*out = json_tokener_parse_ex(tok, r->body, (int)r->len);
	if (json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(*out, json_type_object)) {
		json_object_put(*out);
		*out = NULL;
	}
	json_tokener_free(tok);
	return *out == NULL ? -1 : 0;
}

/* What Gmail said, on one line made safe: its error.message, or less. */
static void
why_of(const struct http_reply *r, char *out, size_t size)
{
	struct json_object	*o, *e, *m;
	char			 raw[GMAIL_WHY_LEN + 1];
	const char		*text = NULL;
	size_t			 i;

	if (parse_json(r, &o) == 0 && json_object_object_get_ex(o, "error",
	    &e) && json_object_object_get_ex(e, "message", &m) &&
	    json_object_is_type(m, json_type_string))
		text = json_object_get_string(m);
	if (text == NULL)
		snprintf(raw, sizeof raw, "HTTP %ld, and not Gmail's JSON "
		    "error", r->status);
	else
		snprintf(raw, sizeof raw, "HTTP %ld: %s", r->status, text);
	for (i = 0; raw[i] != '\0'; i++)
		if (raw[i] == '\n' || raw[i] == '\r' || raw[i] == '\t')
			raw[i] = ' ';
	termsafe(raw, strlen(raw), out, size);
	json_object_put(o);
}

/*
 * 429, or Gmail's 403 for a rate limit: error.status RESOURCE_EXHAUSTED
 * or an error.errors[].reason such as userRateLimitExceeded.
 */
static int
rate_limited(const struct http_reply *r)
{
	struct json_object	*o, *e, *v, *a, *reason;
	const char		*t;
	size_t			 i;
	int			 yes = 0;

	if (r->status == 429)
		return 1;
	if (r->status != 403 || parse_json(r, &o) == -1)
		return 0;
	if (json_object_object_get_ex(o, "error", &e) &&
	    json_object_is_type(e, json_type_object)) {
		if (json_object_object_get_ex(e, "status", &v) &&
		    json_object_is_type(v, json_type_string) &&
		    strcmp(json_object_get_string(v), "RESOURCE_EXHAUSTED") == 0)
			yes = 1;
		if (json_object_object_get_ex(e, "errors", &a) &&
		    json_object_is_type(a, json_type_array))
			for (i = 0; i < json_object_array_length(a); i++) {
				v = json_object_array_get_idx(a, i);
				if (!json_object_is_type(v, json_type_object) ||
				    !json_object_object_get_ex(v, "reason",
				    &reason) || !json_object_is_type(reason,
				    json_type_string))
					continue;
				t = json_object_get_string(reason);
				if (strcasestr(t, "RateLimitExceeded") != NULL)
					yes = 1;
			}
	}
	json_object_put(o);
	return yes;
}

/*
 * One request with the access token; a 401 refreshes it once and sends
 * the request again (the upload anew), a second 401 stops the run.
 */
static int
call(struct gdest *d, struct http_request *rq, struct http_reply *r,
    struct error *err)
{
	char	*fresh;
	int	 again;

	for (again = 0;; again++) {
		rq->bearer = d->token;
		if (rq->reader != NULL)
			upload_rewind(rq->reader_arg);
		if (http_request(d->hc, rq, r, err) == -1)
			return -1;
		log_debug(d->who, "Gmail API: %s %.80s: HTTP %ld", rq->method,
		    rq->url + strlen(d->base), r->status);
		if (r->status != 401)
			return 0;
		http_reply_free(r);
		if (again || d->refresh == NULL) {
			error_set(err, EX_NOPERM, "Gmail refused the OAuth "
			    "access token%s; run popfetch --authorize %s",
			    again ? " even after a refresh" : "", d->signin);
			return -1;
		}
		log_verbose(d->who, "Gmail refused the OAuth access token; "
		    "refreshing it once");
		if ((fresh = d->refresh(d->refresh_arg, d->token, err)) ==
		    NULL)
			return -1;
		freezero_str(d->token);
		d->token = fresh;
	}
}

/* users.labels.list as a JSON object holding a "labels" array. */
static int
list_labels(struct gdest *d, struct json_object **o, struct error *err)
{
	struct http_request	 rq = d->proto;
	struct http_reply	 r;
	struct json_object	*a;
	char			*url, why[TERMSAFE_SIZE(GMAIL_WHY_LEN)];
	int			 rc = -1;

	xasprintf(&url, "%s/gmail/v1/users/me/labels", d->base);
	rq.method = "GET";
	rq.url = url;
	rq.body_max = GMAIL_LIST_MAX;
	*o = NULL;
	if (call(d, &rq, &r, err) == -1)
		goto out;
	if (r.status != 200) {
		why_of(&r, why, sizeof why);
		error_set(err, r.status >= 500 || rate_limited(&r) ?
		    EX_TEMPFAIL : EX_UNAVAILABLE, "Gmail did not list the "
		    "labels (%s)%s", why, r.status == 403 ? "; does the "
		    "sign-in have the gmail.labels scope?" : "");
	} else if (parse_json(&r, o) == -1 ||
	    !json_object_object_get_ex(*o, "labels", &a) ||
	    !json_object_is_type(a, json_type_array)) {
		json_object_put(*o);
		*o = NULL;
		error_set(err, EX_PROTOCOL, "the Gmail API answered the "
		    "labels list with something that is not one");
	} else
		rc = 0;
	http_reply_free(&r);
out:
	free(url);
	return rc;
}

/* The id of the label called name in a labels.list answer, or NULL. */
static const char *
label_id(struct json_object *o, const char *name)
{
	struct json_object	*a, *l, *n, *id;
	size_t			 i;

	(void)json_object_object_get_ex(o, "labels", &a);
	for (i = 0; i < json_object_array_length(a); i++) {
		l = json_object_array_get_idx(a, i);
		if (json_object_is_type(l, json_type_object) &&
		    json_object_object_get_ex(l, "name", &n) &&
		    json_object_object_get_ex(l, "id", &id) &&
		    json_object_is_type(n, json_type_string) &&
		    json_object_is_type(id, json_type_string) &&
		    json_object_get_string_len(id) > 0 &&
		    strcasecmp(json_object_get_string(n), name) == 0)
			return json_object_get_string(id);
	}
	return NULL;
}

/*
 * users.labels.create; *id the new label's (allocated).  1 when Gmail
 * says it exists (409: made meanwhile, or a request of ours sent twice).
 */
static int
create_label(struct gdest *d, const char *name, char **id, struct error *err)
{
	struct http_request	 rq = d->proto;
	struct http_reply	 r;
	struct json_object	*o, *v;
	char			*url, why[TERMSAFE_SIZE(GMAIL_WHY_LEN)];
	int			 rc = -1;

	o = json_object_new_object();
	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "labelListVisibility",
	    json_object_new_string("labelShow"));
	json_object_object_add(o, "messageListVisibility",
	    json_object_new_string("show"));
	xasprintf(&url, "%s/gmail/v1/users/me/labels", d->base);
	rq.method = "POST";
	rq.url = url;
	rq.content_type = "application/json; charset=UTF-8";
	rq.body = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	rq.body_len = strlen(rq.body);
	if (call(d, &rq, &r, err) == -1)
		goto out;
	json_object_put(o);
	o = NULL;
	if (r.status == 409)
		rc = 1;
	else if (r.status != 200) {
		why_of(&r, why, sizeof why);
		error_set(err, r.status >= 500 || rate_limited(&r) ?
		    EX_TEMPFAIL : EX_UNAVAILABLE, "Gmail did not create the "
		    "label %s (%s)", name, why);
	} else if (parse_json(&r, &o) == -1 ||
	    !json_object_object_get_ex(o, "id", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) == 0)
		error_set(err, EX_PROTOCOL, "the Gmail API answered the "
		    "creation of a label without its id");
	else {
		*id = xstrdup(json_object_get_string(v));
		log_info(d->who, "created the Gmail label %s", name);
		rc = 0;
	}
	http_reply_free(&r);
out:
	json_object_put(o);
	free(url);
	return rc;
}

static int
is_system(const char *name)
{
	size_t	i;

	for (i = 0; system_labels[i] != NULL; i++)
		if (strcmp(system_labels[i], name) == 0)
			return 1;
	return 0;
}

/*
 * The import's metadata, {"labelIds":[...]}: the system labels as they
 * are, the others by their ids (one labels.list per run, created when
 * missing).
 */
static int
resolve_labels(struct gdest *d, struct error *err)
{
	struct json_object	*list = NULL, *meta, *ids;
	const char		*id;
	char			*made;
	size_t			 i;
	int			 rc = -1, made_rc;

	if (d->meta != NULL)
		return 0;
	meta = json_object_new_object();
	ids = json_object_new_array();
	json_object_object_add(meta, "labelIds", ids);
	for (i = 0; i < d->nnames; i++) {
		if (is_system(d->names[i])) {
			json_object_array_add(ids,
			    json_object_new_string(d->names[i]));
			continue;
		}
		if (list == NULL && list_labels(d, &list, err) == -1)
			goto out;
		if ((id = label_id(list, d->names[i])) != NULL) {
			json_object_array_add(ids, json_object_new_string(id));
			continue;
		}
		if ((made_rc = create_label(d, d->names[i], &made, err)) == -1)
			goto out;
		if (made_rc == 1) {
			/* It exists after all: list again, once. */
			json_object_put(list);
			if (list_labels(d, &list, err) == -1)
				goto out;
			if ((id = label_id(list, d->names[i])) == NULL) {
				error_set(err, EX_PROTOCOL, "Gmail says the "
				    "label %s exists but does not list it",
				    d->names[i]);
				goto out;
			}
			made = xstrdup(id);
		}
		json_object_array_add(ids, json_object_new_string(made));
		free(made);
	}
	d->meta = xstrdup(json_object_to_json_string_ext(meta,
	    JSON_C_TO_STRING_PLAIN));
	rc = 0;
out:
	json_object_put(list);
	json_object_put(meta);
	return rc;
}

/*
 * Whether Gmail holds a message with this Message-ID, in spam and trash
 * too: 1, 0, or -1 with err.
 */
static int
lookup(struct gdest *d, const char *msgid, struct error *err)
{
	struct http_request	 rq = d->proto;
	struct http_reply	 r;
	struct json_object	*o = NULL, *a;
	char			*url, *q, *esc, why[TERMSAFE_SIZE(GMAIL_WHY_LEN)];
	int			 rc = -1;

	xasprintf(&q, "rfc822msgid:<%s>", msgid);
	esc = http_escape(q);
	xasprintf(&url, "%s/gmail/v1/users/me/messages?q=%s&"
	    "includeSpamTrash=true&maxResults=10", d->base, esc);
	rq.method = "GET";
	rq.url = url;
	if (call(d, &rq, &r, err) == -1)
		goto out;
	if (r.status != 200) {
		why_of(&r, why, sizeof why);
		error_set(err, r.status >= 500 || rate_limited(&r) ?
		    EX_TEMPFAIL : EX_UNAVAILABLE, "Gmail did not answer the "
		    "search for a message (%s)%s", why, r.status == 403 ?
		    "; does the sign-in have the gmail.readonly scope?" : "");
	} else if (parse_json(&r, &o) == -1 || (json_object_object_get_ex(o,
	    "messages", &a) && !json_object_is_type(a, json_type_array)))
		error_set(err, EX_PROTOCOL, "the Gmail API answered a search "
		    "with something that is not a list of messages");
	else
		rc = json_object_object_get_ex(o, "messages", &a) &&
		    json_object_array_length(a) > 0;
	json_object_put(o);
	http_reply_free(&r);
out:
	free(url);
	free(esc);
	free(q);
	return rc;
}

/* Size and SHA-256 with CRLF line ends, and the Message-ID. */
static int
measure(struct gdest *d, struct dj_entry *e, struct error *err)
{
	char			*buf, *out;
	gnutls_hash_hd_t	 h;
	uint64_t		 off = 0;
	ssize_t			 n, i;
	size_t			 o;

	memset(e, 0, sizeof *e);
	strlcpy(e->tag, d->tag, sizeof e->tag);
	if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0) {
		error_set(err, EX_SOFTWARE, "gnutls_hash_init failed");
		return -1;
	}
	buf = xmalloc(GMAIL_SCAN);
	out = xmalloc(2 * GMAIL_SCAN);
	while ((n = spool_pread(&d->sp, buf, GMAIL_SCAN, off, err)) > 0) {
		if (off == 0 && imap_msgid_of(buf, (size_t)n, e->msgid,
		    sizeof e->msgid) == -1)
			e->msgid[0] = '\0';
		for (i = 0, o = 0; i < n; i++) {
			if (buf[i] == '\n')
				out[o++] = '\r';
			out[o++] = buf[i];
		}
		gnutls_hash(h, out, o);
		e->size += o;
		off += (uint64_t)n;
	}
	gnutls_hash_deinit(h, e->digest);
	free(buf);
	free(out);
	return n == -1 ? -1 : 0;
}

/* The pending line, fsynced, before the message leaves. */
static int
journal(struct gdest *d, const struct dj_entry *e, struct error *err)
{
	if (d->dj == NULL || e->tag[0] == '\0')
		return 0;
	return destjournal_add(d->dj, e, err);
}

static void
upload_rewind(void *arg)
{
	struct upload	*u = arg;

	u->off = 0;
	memset(&u->crlf, 0, sizeof u->crlf);
}

/* The multipart body: head, the message with CRLF line ends, tail. */
static ssize_t
upload_read(void *arg, char *buf, size_t len, struct error *err)
{
	struct upload	*u = arg;
	size_t		 o = 0;
	uint64_t	 left;
	ssize_t		 n;

	while (o < len && u->off < u->headlen)
		buf[o++] = u->head[u->off++];
	if (o < len && u->off < u->headlen + u->msglen) {
		left = u->headlen + u->msglen - u->off;
		if ((n = spool_read_crlf(u->sp, &u->crlf, buf + o,
		    left < len - o ? (size_t)left : len - o, err)) == -1)
			return -1;
		if (n == 0) {
			error_set(err, EX_IOERR, "the spooled message ended "
			    "early");
			return -1;
		}
		o += (size_t)n;
		u->off += (uint64_t)n;
	}
	while (o < len && u->off >= u->headlen + u->msglen &&
	    u->off < u->headlen + u->msglen + u->taillen) {
		buf[o++] = u->tail[u->off - u->headlen - u->msglen];
		u->off++;
	}
	return (ssize_t)o;
}

/*
 * Gmail's id for the message, added to its journal line (not synced:
 * without it a later look-up searches by Message-ID instead).
 */
static void
note_id(struct gdest *d, const struct dj_entry *e, const char *id)
{
	struct dj_entry	 n;
	struct error	 err;

	if (d->dj == NULL || e->tag[0] == '\0' || id[0] == '\0' ||
	    strlen(id) > DESTJOURNAL_DESTID_MAX ||
	    id[strspn(id, "0123456789abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ_-")] != '\0')
		return;
	n = *e;
	strlcpy(n.destid, id, sizeof n.destid);
	error_clear(&err);
	if (destjournal_note(d->dj, &n, &err) == -1)
		log_warn(d->who, "%s", err.msg);
}

/*
 * users.messages.get of the id Gmail gave for the message: 1 there, 0
 * not (404: deleted since, or never), -1 with err.
 */
static int
by_id(struct gdest *d, const char *id, struct error *err)
{
	struct http_request	 rq = d->proto;
	struct http_reply	 r;
	char			*url, why[TERMSAFE_SIZE(GMAIL_WHY_LEN)];
	int			 rc = -1;

	xasprintf(&url, "%s/gmail/v1/users/me/messages/%s?format=minimal",
	    d->base, id);
	rq.method = "GET";
	rq.url = url;
	if (call(d, &rq, &r, err) == -1)
		goto out;
	if (r.status == 200 || r.status == 404)
		rc = r.status == 200;
	else {
		why_of(&r, why, sizeof why);
		error_set(err, r.status >= 500 || rate_limited(&r) ?
		    EX_TEMPFAIL : EX_UNAVAILABLE, "Gmail did not answer the "
		    "look-up of a message (%s)", why);
	}
	http_reply_free(&r);
out:
	free(url);
	return rc;
}

/*
 * The upload went out and no answer told what became of it: Gmail is
 * asked.  0 found (delivered), SINK_REFUSED not found or not known (the
 * message stays pending: the next run asks again), -1 with err.
 */
static int
in_doubt(struct gdest *d, const struct dj_entry *e, const char *why,
    struct error *err)
{
	int	f;

	if (e->msgid[0] == '\0') {
		error_set(err, EX_TEMPFAIL, "%s after the message went out; "
		    "it has no Message-ID to look it up by, so it stays on "
		    "the server and a later run imports it again", why);
		return SINK_REFUSED;
	}
	error_clear(err);
	if ((f = lookup(d, e->msgid, err)) == 1) {
		log_info(d->who, "%s, but Gmail holds the message (found by "
		    "its Message-ID); not imported again", why);
		return 0;
	}
	if (f == -1 && err->ex != EX_TEMPFAIL && err->ex != EX_UNAVAILABLE &&
	    err->ex != EX_PROTOCOL)
		return -1;
	error_set(err, EX_TEMPFAIL, "%s after the message went out; Gmail "
	    "does not show it (yet), so it stays on the server and a later "
	    "run looks for it again", why);
	return SINK_REFUSED;
}

/* An import's answer: 0 delivered, SINK_REFUSED, SEND_AGAIN, or -1. */
static int
answer(struct gdest *d, const struct dj_entry *e, struct http_reply *r,
    int tries, struct error *err)
{
	char			 why[TERMSAFE_SIZE(GMAIL_WHY_LEN)];
	char			 ctx[TERMSAFE_SIZE(GMAIL_WHY_LEN) + 20];
	struct json_object	*o, *id;
	long			 wait;

	if (r->status >= 200 && r->status < 300) {
		if (parse_json(r, &o) == -1 ||
		    !json_object_object_get_ex(o, "id", &id) ||
		    !json_object_is_type(id, json_type_string)) {
			json_object_put(o);
			error_set(err, EX_PROTOCOL, "the Gmail API answered "
			    "HTTP %ld to the import, but not with a message; "
			    "the message stays on the server", r->status);
			return -1;
		}
		note_id(d, e, json_object_get_string(id));
		json_object_put(o);
		return 0;
	}
	why_of(r, why, sizeof why);
	if (rate_limited(r)) {
		wait = r->retry_after >= 0 ? r->retry_after : 1;
		if (tries == 0 && wait <= d->timeout) {
			log_verbose(d->who, "Gmail asks to slow down (%s); "
			    "waiting %ld s", why, wait);
			sleep((unsigned)wait);
			return SEND_AGAIN;
		}
		d->down = 1;
		error_set(err, EX_TEMPFAIL, "Gmail asks to slow down (%s); "
		    "this message and the rest wait for a later run", why);
		return SINK_REFUSED;
	}
	if (r->status >= 500) {
		snprintf(ctx, sizeof ctx, "Gmail answered %s", why);
		return in_doubt(d, e, ctx, err);
	}
	error_set(err, EX_UNAVAILABLE, "Gmail refused the message (%s)", why);
	return SINK_REFUSED;
}

/* users.messages.import of the spooled message, as the header says. */
static int
import(struct gdest *d, const struct dj_entry *e, struct error *err)
{
	struct http_request	 rq = d->proto;
	struct http_reply	 r;
	struct upload		 u;
	unsigned char		 rnd[GMAIL_BOUNDARY_LEN / 2];
	char			 b[GMAIL_BOUNDARY_LEN + 1], *head, *tail;
	char			*url, *ctype;
	int			 rc, tries;
	size_t			 i;

	/* 128 random bits: no message holds the boundary, by chance or not. */
	arc4random_buf(rnd, sizeof rnd);
	for (i = 0; i < sizeof rnd; i++)
		snprintf(b + 2 * i, 3, "%02x", rnd[i]);
	xasprintf(&head, "--%s\r\nContent-Type: application/json; "
	    "charset=UTF-8\r\n\r\n%s\r\n--%s\r\nContent-Type: "
	    "message/rfc822\r\n\r\n", b, d->meta, b);
	xasprintf(&tail, "\r\n--%s--\r\n", b);
	xasprintf(&ctype, "multipart/related; boundary=%s", b);
	xasprintf(&url, "%s/upload/gmail/v1/users/me/messages/import?"
	    "uploadType=multipart&internalDateSource=dateHeader%s", d->base,
	    d->never_spam ? "&neverMarkSpam=true" : "");
	memset(&u, 0, sizeof u);
	u.sp = &d->sp;
	u.head = head;
	u.headlen = strlen(head);
	u.tail = tail;
	u.taillen = strlen(tail);
	u.msglen = e->size;
	rq.method = "POST";
	rq.url = url;
	rq.content_type = ctype;
	rq.reader = upload_read;
	rq.reader_arg = &u;
	rq.reader_len = u.headlen + u.msglen + u.taillen;
	for (tries = 0;; tries++) {
		if (call(d, &rq, &r, err) == -1) {
			rc = err->ex != EX_TEMPFAIL ? -1 : r.body_sent ?
			    in_doubt(d, e, "the connection to Gmail broke",
			    err) : SINK_REFUSED;
			if (!r.body_sent && rc == SINK_REFUSED && tries == 0) {
				error_clear(err);
				continue;	/* nothing went: once more */
			}
			if (!r.body_sent && rc == SINK_REFUSED)
				d->down = 1;
			break;
		}
		rc = answer(d, e, &r, tries, err);
		http_reply_free(&r);
		if (rc != SEND_AGAIN)
			break;
	}
	free(url);
	free(ctype);
	free(head);
	free(tail);
	return rc;
}

static int
gm_commit(struct sink *s, struct error *err)
{
	struct gdest	*d = s->data;
	struct dj_entry	 e;
	sigset_t	 old;
	int		 rc;

	if (d->down) {
		error_set(err, EX_TEMPFAIL, "Gmail could not take mail earlier "
		    "in this run; the message waits for a later run");
		return SINK_REFUSED;
	}
	if (spool_flush(&d->sp, err) == -1 || measure(d, &e, err) == -1)
		return -1;
	if (resolve_labels(d, err) == -1) {
		if (err->ex != EX_TEMPFAIL)
			return -1;
		d->down = 1;
		return SINK_REFUSED;
	}
	if (open_journal(d, err) == -1)
		return -1;
	if ((rc = sent_before(d, &e, err)) == 1)
		return 0;
	if (rc == -1)
		return err->ex == EX_TEMPFAIL ? SINK_REFUSED : -1;
	if (journal(d, &e, err) == -1)
		return -1;
	sig_hold(&old);
	rc = import(d, &e, err);
	sig_release(&old);
	return rc;
}

/* The journal, opened when first needed (the UID state is locked then). */
static int
open_journal(struct gdest *d, struct error *err)
{
	if (d->jpath == NULL || d->dj != NULL)
		return 0;
	d->dj = destjournal_open(d->jpath, d->who, err);
	return d->dj == NULL ? -1 : 0;
}

/*
 * Whether Gmail holds the message of a journal line: by the id Gmail gave
 * when its answer came (exact, no search), else by Message-ID.  1, 0, or
 * -1 with err.
 */
static int
find_entry(struct gdest *d, const struct dj_entry *e, struct error *err)
{
	int	found;

	if (e->destid[0] != '\0' && (found = by_id(d, e->destid, err)) != 0)
		return found;
	if (e->msgid[0] == '\0')
		return 0;
	return lookup(d, e->msgid, err);
}

/*
 * A message the journal names was sent by an earlier run that did not
 * learn its fate (a lost reply, a 5xx; its UID is no longer pending once
 * that run ended): Gmail is asked before it is sent again.  0 send it, 1
 * Gmail holds it, -1 with err (EX_TEMPFAIL when Gmail could not be asked:
 * the message waits for a later run).
 */
static int
sent_before(struct gdest *d, const struct dj_entry *now, struct error *err)
{
	const struct dj_entry	*e;
	int			 f;

	if (d->dj == NULL || now->tag[0] == '\0' ||
	    (e = destjournal_lookup(d->dj, now->tag)) == NULL)
		return 0;
	if ((f = find_entry(d, e, err)) == 1)
		log_info(d->who, "an earlier run had imported the message "
		    "(Gmail holds it); not imported again");
	if (f == -1 && (err->ex == EX_TEMPFAIL || err->ex == EX_UNAVAILABLE ||
	    err->ex == EX_PROTOCOL)) {
		error_prefix(err, "cannot ask Gmail whether an earlier run "
		    "imported the message");
		err->ex = EX_TEMPFAIL;	/* the message waits: see gm_commit */
	}
	return f;
}

/* The message journalled under tag, looked up in Gmail. */
static int
gm_find(struct sink *s, const char *tag, struct error *err)
{
	struct gdest		*d = s->data;
	const struct dj_entry	*e;

	if (open_journal(d, err) == -1)
		return -1;
	if (d->dj == NULL || (e = destjournal_lookup(d->dj, tag)) == NULL)
		return 0;	/* never sent */
	if (e->destid[0] == '\0' && e->msgid[0] == '\0') {
		log_verbose(d->who, "a message an earlier run may have "
		    "imported has no Message-ID to look it up by; importing "
		    "it again");
		return 0;
	}
	return find_entry(d, e, err);
}

static void
gm_abort(struct sink *s)
{
	struct gdest	*d = s->data;
	struct error	 ignored;

	error_clear(&ignored);
	(void)spool_reset(&d->sp, &ignored);
}

static void
gm_free(struct sink *s)
{
	struct gdest	*d = s->data;
	size_t		 i;

	http_conn_free(d->hc);
	destjournal_free(d->dj);
	if (d->sp.fd != -1)
		spool_free(&d->sp);
	if (d->token != NULL)
		freezero_str(d->token);
	for (i = 0; i < d->nnames; i++)
		free(d->names[i]);
	free(d->meta);
	free(d->base);
	free(d->trust_file);
	free(d->jpath);
	free(d);
	free(s);
}
