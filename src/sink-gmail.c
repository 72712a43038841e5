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
 * Group commit, as sink-imap.c: stage only queues the message in the
 * spool; sync hands the batch over, up to GMAIL_INFLIGHT imports in
 * flight at once (http_multi), and the outcome op says which were
 * accepted, so that only those are recorded and deleted.
 *
 * Answers decide as an MDA's exit status does: 2xx delivered; 429 (or 403
 * rateLimitExceeded) waits for Retry-After once when that fits in
 * `timeout` (no import starts meanwhile), else defers the message and the
 * rest of the run (75); 5xx and a lost connection defer the message (75);
 * other 4xx refuse it (69) with Gmail's own message; 401 refreshes the
 * token once (the imports refused with the old one go again with the new
 * one), and a 401 to the new one stops the run (77, sign in again).
 *
 * Exactly once: before a byte of a batch leaves, the tag, size, digest
 * and Message-ID of each message go into the pending journal
 * (destjournal.h), fsynced once.  A reply lost after the upload, in this
 * run or in a run killed then, is answered by asking Gmail
 * (users.messages.list q=rfc822msgid:, spam and trash included; in this
 * run once nothing is in flight) whether it holds the message.  A
 * message without a Message-ID cannot be asked for: it is imported again
 * (at least once).
 */
#include "config.h"

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
#include "mono.h"
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
/*
 * Imports in flight at once.  Google's per-user quota is 250 units a
 * second and an import costs 25 (developers.google.com/gmail/api/
 * reference/quota): 4 at once, each taking a good part of a second, stay
 * well inside it.
 */
#define GMAIL_INFLIGHT		4

/* The multipart body of an import, read in three parts. */
struct upload {
	struct spool	*sp;
	const char	*head, *tail;
	size_t		 headlen, taillen;
	uint64_t	 off;		/* into the whole body */
	uint64_t	 start;		/* of the message in the spool */
	uint64_t	 msglen;	/* the message with CRLF line ends */
	struct spool_crlf crlf;		/* where the message is */
};

/* A message staged: where it is in the spool, its import, its fate. */
enum gstate { G_ASK, G_QUEUED, G_SENT, G_DOUBT, G_DONE };
struct gmsg {
	uint64_t	 start, len;	/* in the spool, LF line ends */
	struct dj_entry	 e;		/* its journal line */
	enum gstate	 state;		/* G_ASK: an earlier run sent it */
	struct upload	 u;
	struct http_request rq;		/* its import, once built */
	char		*url, *ctype, *head, *tail;
	unsigned	 gen;		/* the token it went with */
	int		 refreshed;	/* sent again with a fresh token */
	int		 resent;	/* sent again: nothing had gone */
	int		 waited;	/* sent again after a 429 */
	char		 doubt[TERMSAFE_SIZE(GMAIL_WHY_LEN) + 32];
	int		 rc;		/* once G_DONE: 0 or SINK_REFUSED */
	struct error	 why;		/* ... and why */
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
	struct gmsg	*q;		/* staged since the last sync */
	size_t		 nq, qcap;
	uint64_t	 cur;		/* where the open message starts */
	int		 synced;	/* q holds a sync's outcomes */
	struct http_multi *hm;		/* the imports in flight */
	unsigned	 gen;		/* tokens refreshed in this run */
	size_t		 ok;		/* imports accepted in a row */
	long long	 resume;	/* no import starts before (429) */
	int		 failed;	/* the sync fails: fail says why */
	struct error	 fail;
};

static int	gm_open(struct sink *, const struct sink_msginfo *,
		    struct error *);
static int	gm_write(struct sink *, const char *, size_t, struct error *);
static int	gm_stage(struct sink *, struct error *);
static int	gm_sync(struct sink *, struct error *);
static int	gm_outcome(struct sink *, size_t, struct error *);
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
static int	measure(struct gdest *, struct gmsg *, struct error *);
static int	note_batch(struct gdest *, struct error *);
static ssize_t	upload_read(void *, char *, size_t, struct error *);
static void	upload_rewind(void *);
static void	build_import(struct gdest *, struct gmsg *);
static void	free_imports(struct gdest *);
static void	settle(struct gmsg *, const struct error *);
static void	fail(struct gdest *, struct gmsg *, const struct error *);
static void	defer_rest(struct gdest *, const struct error *);
static size_t	window(const struct gdest *);
static int	queued(const struct gdest *);
static int	start_more(struct gdest *);
static void	lost(struct gdest *, struct gmsg *, struct http_done *);
static void	refused_token(struct gdest *, struct gmsg *);
static void	answer(struct gdest *, struct gmsg *, struct http_reply *);
static int	send_all(struct gdest *, struct error *);
static int	ask_earlier(struct gdest *, struct error *);
static int	settle_doubts(struct gdest *, struct error *);
static int	hand_over(struct gdest *, struct error *);
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
	"gmail", gm_open, gm_write, NULL, gm_abort, gm_free, gm_stage, gm_sync,
	gm_find, gm_outcome
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

	if (d->synced) {
		free_imports(d);
		d->nq = d->synced = 0;
	}
	d->tag[0] = '\0';
	if (mi != NULL && mi->tag != NULL)
		strlcpy(d->tag, mi->tag, sizeof d->tag);
	if (d->nq == 0 && spool_reset(&d->sp, err) == -1)
		return -1;
	d->cur = d->sp.w.size;
	return 0;
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
 * One request with the access token (not an import: see send_all()); a
 * 401 refreshes it once and sends the request again, a second 401 stops
 * the run.
 */
static int
call(struct gdest *d, struct http_request *rq, struct http_reply *r,
    struct error *err)
{
	char	*fresh;
	int	 again;

	for (again = 0;; again++) {
		rq->bearer = d->token;
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

/* Size and SHA-256 with CRLF line ends, and the Message-ID, into m->e. */
static int
measure(struct gdest *d, struct gmsg *m, struct error *err)
{
	struct spool_span	 sp = { &d->sp, m->start, m->len };
	struct dj_entry		*e = &m->e;
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
	while ((n = spool_span_read(&sp, buf, GMAIL_SCAN, off, err)) > 0) {
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

/*
 * The pending lines of the messages about to leave, made durable with one
 * fsync before any of them does, so that a later run can ask.
 */
static int
note_batch(struct gdest *d, struct error *err)
{
	size_t	i, n = 0;

	for (i = 0; d->dj != NULL && i < d->nq; i++) {
		if (d->q[i].state != G_QUEUED || d->q[i].e.tag[0] == '\0')
			continue;
		if (destjournal_note(d->dj, &d->q[i].e, err) == -1)
			return -1;
		n++;
	}
	return n > 0 ? destjournal_sync(d->dj, err) : 0;
}

static void
upload_rewind(void *arg)
{
	struct upload	*u = arg;

	u->off = 0;
	memset(&u->crlf, 0, sizeof u->crlf);
	u->crlf.off = u->start;
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

/* The message's import, built once: its boundary, body parts and URL. */
static void
build_import(struct gdest *d, struct gmsg *m)
{
	unsigned char	rnd[GMAIL_BOUNDARY_LEN / 2];
	char		b[GMAIL_BOUNDARY_LEN + 1];
	size_t		i;

	if (m->url != NULL)
		return;
	/* 128 random bits: no message holds the boundary, by chance or not. */
	arc4random_buf(rnd, sizeof rnd);
	for (i = 0; i < sizeof rnd; i++)
		snprintf(b + 2 * i, 3, "%02x", rnd[i]);
	xasprintf(&m->head, "--%s\r\nContent-Type: application/json; "
	    "charset=UTF-8\r\n\r\n%s\r\n--%s\r\nContent-Type: "
	    "message/rfc822\r\n\r\n", b, d->meta, b);
	xasprintf(&m->tail, "\r\n--%s--\r\n", b);
	xasprintf(&m->ctype, "multipart/related; boundary=%s", b);
	xasprintf(&m->url, "%s/upload/gmail/v1/users/me/messages/import?"
	    "uploadType=multipart&internalDateSource=dateHeader%s", d->base,
	    d->never_spam ? "&neverMarkSpam=true" : "");
	memset(&m->u, 0, sizeof m->u);
	m->u.sp = &d->sp;
	m->u.start = m->start;
	m->u.head = m->head;
	m->u.headlen = strlen(m->head);
	m->u.tail = m->tail;
	m->u.taillen = strlen(m->tail);
	m->u.msglen = m->e.size;
	m->rq = d->proto;
	m->rq.method = "POST";
	m->rq.url = m->url;
	m->rq.content_type = m->ctype;
	m->rq.reader = upload_read;
	m->rq.reader_arg = &m->u;
	m->rq.reader_len = m->u.headlen + m->u.msglen + m->u.taillen;
}

static void
free_imports(struct gdest *d)
{
	size_t	i;

	for (i = 0; i < d->nq; i++) {
		free(d->q[i].url);
		free(d->q[i].ctype);
		free(d->q[i].head);
		free(d->q[i].tail);
	}
}

/* The message is settled: rc 0 delivered, or SINK_REFUSED with why. */
static void
settle(struct gmsg *m, const struct error *why)
{
	m->state = G_DONE;
	m->rc = why == NULL ? 0 : SINK_REFUSED;
	if (why != NULL)
		m->why = *why;
}

/* The sync fails (the first cause kept): nothing new starts. */
static void
fail(struct gdest *d, struct gmsg *m, const struct error *why)
{
	if (!d->failed) {
		d->failed = 1;
		d->fail = *why;
	}
	if (m != NULL) {
		m->state = G_DONE;
		m->rc = SINK_REFUSED;
		m->why = *why;
	}
}

/* The messages not yet sent wait for a later run. */
static void
defer_rest(struct gdest *d, const struct error *why)
{
	struct error	e = *why;
	size_t		i;

	for (i = 0; i < d->nq; i++)
		if (d->q[i].state == G_ASK || d->q[i].state == G_QUEUED)
			settle(&d->q[i], &e);
}

/*
 * How many imports may be in flight: one until one was accepted, then one
 * more per import accepted in a row, up to GMAIL_INFLIGHT (a slow start:
 * a token Gmail refuses, a rate limit or a failing API meets one message
 * of the run, not a window of them).
 */
static size_t
window(const struct gdest *d)
{
	if (d->ok < 1)
		return 1;
	return d->ok < GMAIL_INFLIGHT ? d->ok : GMAIL_INFLIGHT;
}

/* Whether a message waits to be sent. */
static int
queued(const struct gdest *d)
{
	size_t	i;

	for (i = 0; i < d->nq; i++)
		if (d->q[i].state == G_QUEUED)
			return 1;
	return 0;
}

/* Imports started, in the order staged, as far as the window allows. */
static int
start_more(struct gdest *d)
{
	struct gmsg	*m;
	struct error	 e;
	size_t		 i;

	for (i = 0; i < d->nq; i++) {
		if (d->failed || d->down || mono_now_ms() < d->resume ||
		    http_multi_running(d->hm) >= window(d))
			return 0;
		m = &d->q[i];
		if (m->state != G_QUEUED)
			continue;
		build_import(d, m);
		m->rq.bearer = d->token;	/* copied into its header */
		m->gen = d->gen;
		upload_rewind(&m->u);
		error_clear(&e);
		if (http_multi_start(d->hm, &m->rq, m, &e) == -1) {
			fail(d, m, &e);
			return -1;
		}
		m->state = G_SENT;
	}
	return 0;
}

/* An import that got no answer (done->rc -1). */
static void
lost(struct gdest *d, struct gmsg *m, struct http_done *done)
{
	if (done->err.ex != EX_TEMPFAIL) {
		fail(d, m, &done->err);
		return;
	}
	d->ok = 0;
	if (done->reply.body_sent) {
		snprintf(m->doubt, sizeof m->doubt, "the connection to Gmail "
		    "broke");
		m->state = G_DOUBT;
	} else if (!m->resent) {
		m->resent = 1;		/* nothing went: once more */
		m->state = G_QUEUED;
	} else {
		d->down = 1;
		settle(m, &done->err);
	}
}

/*
 * A 401: the token is refreshed once (the other imports Gmail refuses
 * with the old one are sent again with the new one), and a 401 to a
 * message sent with a refreshed token stops the run.
 */
static void
refused_token(struct gdest *d, struct gmsg *m)
{
	struct error	 e;
	char		*fresh;

	error_clear(&e);
	m->state = G_QUEUED;
	if (m->gen != d->gen) {
		m->refreshed = 1;	/* refreshed since it left */
		return;
	}
	if (m->refreshed || d->refresh == NULL) {
		error_set(&e, EX_NOPERM, "Gmail refused the OAuth access "
		    "token%s; run popfetch --authorize %s", m->refreshed ?
		    " even after a refresh" : "", d->signin);
		fail(d, m, &e);
		return;
	}
	log_verbose(d->who, "Gmail refused the OAuth access token; "
	    "refreshing it once");
	if ((fresh = d->refresh(d->refresh_arg, d->token, &e)) == NULL) {
		fail(d, m, &e);
		return;
	}
	freezero_str(d->token);
	d->token = fresh;
	d->gen++;
	m->refreshed = 1;
}

/* An import's answer, other than 401. */
static void
answer(struct gdest *d, struct gmsg *m, struct http_reply *r)
{
	char			 why[TERMSAFE_SIZE(GMAIL_WHY_LEN)];
	struct json_object	*o, *id;
	struct error		 e;
	long			 wait;

	error_clear(&e);
	if (r->status >= 200 && r->status < 300) {
		if (parse_json(r, &o) == -1 ||
		    !json_object_object_get_ex(o, "id", &id) ||
		    !json_object_is_type(id, json_type_string)) {
			json_object_put(o);
			error_set(&e, EX_PROTOCOL, "the Gmail API answered "
			    "HTTP %ld to the import, but not with a message; "
			    "the message stays on the server", r->status);
			fail(d, m, &e);
			return;
		}
		note_id(d, &m->e, json_object_get_string(id));
		json_object_put(o);
		d->ok++;
		settle(m, NULL);
		return;
	}
	why_of(r, why, sizeof why);
	if (rate_limited(r)) {
		d->ok = 0;
		wait = r->retry_after >= 0 ? r->retry_after : 1;
		if (!m->waited && wait <= d->timeout) {
			/* No import starts meanwhile; those in flight land. */
			log_verbose(d->who, "Gmail asks to slow down (%s); "
			    "waiting %ld s", why, wait);
			m->waited = 1;
			m->state = G_QUEUED;
			if (mono_now_ms() + wait * 1000 > d->resume)
				d->resume = mono_now_ms() + wait * 1000;
			return;
		}
		d->down = 1;
		error_set(&e, EX_TEMPFAIL, "Gmail asks to slow down (%s); "
		    "this message and the rest wait for a later run", why);
		settle(m, &e);
	} else if (r->status >= 500) {
		d->ok = 0;
		snprintf(m->doubt, sizeof m->doubt, "Gmail answered %s", why);
		m->state = G_DOUBT;
	} else {
		error_set(&e, EX_UNAVAILABLE, "Gmail refused the message (%s)",
		    why);
		settle(m, &e);
	}
}

/*
 * The queued messages imported, up to window() at once, each answer
 * taken as it comes; bounded as each request is, and a 429's wait by
 * timeout.
 */
static int
send_all(struct gdest *d, struct error *err)
{
	struct http_done	 done;
	struct gmsg		*m;
	long long		 now;
	long			 wait;
	size_t			 running;
	int			 n;

	if (d->hm == NULL &&
	    (d->hm = http_multi_new(GMAIL_INFLIGHT, err)) == NULL)
		return -1;
	for (;;) {
		(void)start_more(d);
		now = mono_now_ms();
		running = http_multi_running(d->hm);
		if (running == 0 && (d->failed || d->down || !queued(d)))
			break;
		/* To the next answer or the end of a 429's wait, if sooner. */
		wait = d->resume > now ? (long)(d->resume - now) :
		    running > 0 ? 1000 : 0;
		if ((n = http_multi_next(d->hm, wait, &done, err)) == -1)
			return -1;
		if (n == 0)
			continue;
		m = done.arg;
		if (done.rc == -1)
			lost(d, m, &done);
		else {
			log_debug(d->who, "Gmail API: POST %.80s: HTTP %ld",
			    m->url + strlen(d->base), done.reply.status);
			if (done.reply.status == 401)
				refused_token(d, m);
			else
				answer(d, m, &done.reply);
		}
		http_reply_free(&done.reply);
	}
	if (d->failed) {
		*err = d->fail;
		return -1;
	}
	error_set(err, EX_TEMPFAIL, "Gmail could not take mail earlier in "
	    "this run; the message waits for a later run");
	defer_rest(d, err);
	error_clear(err);
	return 0;
}

/* The messages an earlier run sent, looked for before they are sent. */
static int
ask_earlier(struct gdest *d, struct error *err)
{
	struct gmsg	*m;
	size_t		 i;
	int		 f;

	for (i = 0; i < d->nq; i++) {
		m = &d->q[i];
		if (m->state != G_ASK)
			continue;
		error_clear(&m->why);
		if ((f = sent_before(d, &m->e, &m->why)) == 1)
			settle(m, NULL);
		else if (f == 0)
			m->state = G_QUEUED;
		else if (m->why.ex == EX_TEMPFAIL)
			settle(m, &m->why);
		else {
			*err = m->why;
			return -1;
		}
	}
	return 0;
}

/* The imports whose answers did not say what became of them: Gmail asked. */
static int
settle_doubts(struct gdest *d, struct error *err)
{
	struct gmsg	*m;
	size_t		 i;
	int		 rc;

	for (i = 0; i < d->nq; i++) {
		m = &d->q[i];
		if (m->state != G_DOUBT)
			continue;
		error_clear(&m->why);
		if ((rc = in_doubt(d, &m->e, m->doubt, &m->why)) == -1) {
			*err = m->why;
			return -1;
		}
		settle(m, rc == 0 ? NULL : &m->why);
	}
	return 0;
}

/* Every staged message to Gmail, each with its outcome. */
static int
hand_over(struct gdest *d, struct error *err)
{
	struct error	e;

	error_clear(&e);
	if (d->down) {
		error_set(&e, EX_TEMPFAIL, "Gmail could not take mail earlier "
		    "in this run; the message waits for a later run");
		defer_rest(d, &e);
		return 0;
	}
	if (resolve_labels(d, &e) == -1) {
		if (e.ex != EX_TEMPFAIL) {
			*err = e;
			return -1;
		}
		d->down = 1;
		defer_rest(d, &e);
		return 0;
	}
	if (ask_earlier(d, err) == -1 || note_batch(d, err) == -1 ||
	    send_all(d, err) == -1)
		return -1;
	return settle_doubts(d, err);
}

/* The message joins the batch; it leaves at the next sync. */
static int
gm_stage(struct sink *s, struct error *err)
{
	struct gdest	*d = s->data;
	struct gmsg	*m;

	if (spool_flush(&d->sp, err) == -1)
		return -1;
	d->q = xgrow(d->q, &d->qcap, d->nq, 16, sizeof *d->q);
	m = &d->q[d->nq];
	memset(m, 0, sizeof *m);
	m->start = d->cur;
	m->len = d->sp.w.size - d->cur;
	m->state = G_QUEUED;
	if (measure(d, m, err) == -1 || open_journal(d, err) == -1)
		return -1;
	/*
	 * An earlier run sent it and did not learn its fate (the UID state
	 * forgets pending UIDs when a run ends): Gmail is asked first.
	 */
	if (destjournal_lookup(d->dj, m->e.tag) != NULL)
		m->state = G_ASK;
	d->nq++;
	return 0;
}

static int
gm_sync(struct sink *s, struct error *err)
{
	struct gdest	*d = s->data;

	d->synced = 1;
	d->failed = 0;
	return hand_over(d, err);
}

/* sink.c asks only after a whole sync, for a message it settled. */
static int
gm_outcome(struct sink *s, size_t i, struct error *err)
{
	struct gdest	*d = s->data;

	if (d->q[i].rc != 0)
		*err = d->q[i].why;
	return d->q[i].rc;
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

	if ((e = destjournal_lookup(d->dj, now->tag)) == NULL)
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
	if ((e = destjournal_lookup(d->dj, tag)) == NULL)
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
	(void)spool_truncate(&d->sp, d->cur, &ignored);
}

static void
gm_free(struct sink *s)
{
	struct gdest	*d = s->data;
	size_t		 i;

	http_multi_free(d->hm);
	http_conn_free(d->hc);
	free_imports(d);
	free(d->q);
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
