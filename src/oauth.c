/* oauth.c -- OAuth 2.0 sign-in and token refresh; see oauth.h. */
#include "config.h"

#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <json-c/json_object.h>
#include <json-c/json_tokener.h>

#include "account.h"
#include "http.h"
#include "log.h"
#include "mono.h"
#include "oauth.h"
#include "password.h"
#include "proc.h"
#include "redirect.h"
#include "termsafe.h"
#include "tokenstore.h"
#include "xmalloc.h"

/* Refresh an access token that dies within this many seconds. */
#define EXPIRY_MARGIN	60
/* Tokens longer than this are no tokens (Microsoft's are ~2-3 KiB). */
#define TOKEN_MAX	(16 * 1024)
/* The longest a device code is waited for. */
#define SIGNIN_MAX	1800
/* RFC 8628 3.5: slow_down adds 5 seconds to the interval. */
#define SLOW_DOWN	5
#define DEVICE_GRANT	"urn:ietf:params:oauth:grant-type:device_code"

/*
 * The presets.  Microsoft: identity platform v2.0 endpoints, %s is the
 * tenant (learn.microsoft.com/en-us/entra/identity-platform/
 * v2-oauth2-device-code and .../v2-oauth2-auth-code-flow), POP scope from
 * learn.microsoft.com/en-us/exchange/client-developer/
 * legacy-protocols/how-to-authenticate-an-imap-pop-smtp-application.
 * Google: developers.google.com/identity/protocols/oauth2/native-app and
 * developers.google.com/gmail/imap/xoauth2-protocol (scope).
 */
#define MS_BASE		"https://login.microsoftonline.com/%s/oauth2/v2.0/"
#define MS_SCOPE	"https://outlook.office.com/POP.AccessAsUser.All " \
			"offline_access"
#define GOOGLE_AUTH	"https://accounts.google.com/o/oauth2/v2/auth"
#define GOOGLE_TOKEN	"https://oauth2.googleapis.com/token"
#define GOOGLE_DEVICE	"https://oauth2.googleapis.com/device/code"
#define GOOGLE_SCOPE	"https://mail.google.com/"

/* One account's OAuth settings, presets applied. */
struct oauth_cfg {
	const struct account	*a;
	char			*device;	/* endpoints; NULL: none */
	char			*auth;
	char			*token;
	char			*scope;		/* NULL: none sent */
	char			*secret;	/* client secret, or NULL */
	int			 have_secret;	/* secret looked up */
	char			*path;		/* the token file */
	char			 who[128];	/* who signed in, if said */
};

/* A flow's answer from the token or device endpoint. */
struct answer {
	long			 status;
	struct json_object	*o;		/* a JSON object */
	const char		*error;		/* its "error", or NULL */
};

static int	 cfg_init(struct oauth_cfg *, const struct account *,
		    struct error *);
static void	 cfg_free(struct oauth_cfg *);
static int	 add_client(struct oauth_cfg *, char **, struct error *);
static int	 post(struct oauth_cfg *, const char *, char *,
		    struct answer *, struct error *);
static void	 answer_free(struct answer *);
static void	 refused(struct oauth_cfg *, const struct answer *,
		    struct error *);
static const char *aadsts_hint(const char *);
static int	 take_tokens(struct oauth_cfg *, const struct answer *,
		    struct tokens *, struct error *);
static int	 json_str(struct json_object *, const char *, int,
		    const char **);
static int	 json_num(struct json_object *, const char *, long long,
		    long long *);
static int	 token_ok(const char *);
static int	 refresh(struct oauth_cfg *, struct tokens *, struct error *);
static void	 signed_in_as(const struct answer *, char *, size_t);
static int	 save(struct oauth_cfg *, struct tokens *, struct error *);
static void	 show(const char *, char *, size_t);
static int	 device_flow(struct oauth_cfg *, struct tokens *,
		    struct error *);
static int	 device_poll(struct oauth_cfg *, const char *, long long,
		    long long, struct tokens *, struct error *);
static int	 code_flow(struct oauth_cfg *, int, struct tokens *,
		    struct error *);
static char	*auth_url(struct oauth_cfg *, const char *, const char *,
		    const char *);
static int	 exchange_code(struct oauth_cfg *, const char *, const char *,
		    const char *, struct tokens *, struct error *);

int
oauth_in_use(const struct account *a)
{
	return a->oauth2_client_id != NULL && (a->pop.auth == AUTH_XOAUTH2 ||
	    a->pop.auth == AUTH_OAUTHBEARER || a->pop.auth == AUTH_AUTO);
}

/* The account's endpoints: its own keys, else its provider's. */
static int
cfg_init(struct oauth_cfg *c, const struct account *a, struct error *err)
{
	const char	*tenant;
	char		*base = NULL;

	memset(c, 0, sizeof *c);
	c->a = a;
	if (a->oauth2_client_id == NULL || *a->oauth2_client_id == '\0') {
		error_set(err, EX_CONFIG, "OAuth needs oauth2_client_id (the "
		    "ID of the application registered with the provider)");
		return -1;
	}
	switch (a->oauth2_provider) {
	case OAUTH_PROVIDER_MICROSOFT:
		tenant = a->oauth2_tenant != NULL ? a->oauth2_tenant :
		    "common";
		xasprintf(&base, MS_BASE, tenant);
		xasprintf(&c->device, "%sdevicecode", base);
		xasprintf(&c->auth, "%sauthorize", base);
		xasprintf(&c->token, "%stoken", base);
		c->scope = xstrdup(MS_SCOPE);
		free(base);
		break;
	case OAUTH_PROVIDER_GOOGLE:
		c->device = xstrdup(GOOGLE_DEVICE);
		c->auth = xstrdup(GOOGLE_AUTH);
		c->token = xstrdup(GOOGLE_TOKEN);
		c->scope = xstrdup(GOOGLE_SCOPE);
		break;
	}
#define OVERRIDE(f, k) if (a->k != NULL) { free(c->f); c->f = xstrdup(a->k); }
	OVERRIDE(device, oauth2_device_endpoint);
	OVERRIDE(auth, oauth2_auth_endpoint);
	OVERRIDE(token, oauth2_token_endpoint);
	OVERRIDE(scope, oauth2_scope);
#undef OVERRIDE
	c->path = account_token_path(a);
	if (c->token == NULL) {
		error_set(err, EX_CONFIG, "oauth2_provider generic needs "
		    "oauth2_token_endpoint (or set oauth2_provider microsoft "
		    "or google)");
		return -1;
	}
	return 0;
}

static void
cfg_free(struct oauth_cfg *c)
{
	free(c->device);
	free(c->auth);
	free(c->token);
	free(c->scope);
	freezero_str(c->secret);
	free(c->path);
}

/*
 * client_id, and the client secret when the account has one, onto form;
 * -1 (form freed) when the secret's command fails.
 */
static int
add_client(struct oauth_cfg *c, char **form, struct error *err)
{
	http_form_add(form, "client_id", c->a->oauth2_client_id);
	if (!c->have_secret) {
		c->have_secret = 1;
		if (c->a->oauth2_client_secret != NULL)
			c->secret = xstrdup(c->a->oauth2_client_secret);
		else if (c->a->oauth2_client_secret_eval != NULL)
			c->secret = account_secret_eval(c->a,
			    c->a->oauth2_client_secret_eval,
			    "oauth2_client_secret_eval", err);
	}
	if (error_isset(err)) {
		freezero_str(*form);
		*form = NULL;
		return -1;
	}
	if (c->secret != NULL)
		http_form_add(form, "client_secret", c->secret);
	return 0;
}

/*
 * POST form (freed here) to url and parse the answer: 0 with a JSON
 * object in an (its "error" member too, for the caller to judge), or -1:
 * unreachable and 5xx are EX_TEMPFAIL, anything that is no JSON object
 * (HTML, a redirect, too big) EX_PROTOCOL.
 */
static int
post(struct oauth_cfg *c, const char *url, char *form, struct answer *an,
    struct error *err)
{
	struct http_reply	 r;
	struct json_tokener	*tok;
	int			 rc;

	memset(an, 0, sizeof *an);
	log_debug(c->a->name, "OAuth: POST %s", url);
	rc = http_post_form(url, form, c->a->oauth2_trust_file,
	    c->a->timeout, &r, err);
	freezero_str(form);
	if (rc == -1)
		return -1;
	an->status = r.status;
	log_debug(c->a->name, "OAuth: HTTP %ld, %zu bytes (not shown)",
	    r.status, r.len);
	rc = -1;
	if (r.status >= 500) {
		error_set(err, EX_TEMPFAIL, "the OAuth server answered HTTP "
		    "%ld at %s; try again later", r.status, url);
		goto out;
	}
	if (r.status >= 300 && r.status < 400) {
		error_set(err, EX_PROTOCOL, "the OAuth server answered with a "
		    "redirect (HTTP %ld) at %s, which popfetch does not follow; "
		    "check the endpoint URL", r.status, url);
		goto out;
	}
	tok = json_tokener_new_ex(16);
	an->o = json_tokener_parse_ex(tok, r.body, (int)r.len);
	if (json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(an->o, json_type_object)) {
		json_object_put(an->o);
		an->o = NULL;
	}
	json_tokener_free(tok);
	if (an->o == NULL) {
		error_set(err, EX_PROTOCOL, "the OAuth server sent an answer "
		    "that is not a JSON object (HTTP %ld) at %s", r.status, url);
		goto out;
	}
	if (json_str(an->o, "error", 0, &an->error) == -1) {
		error_set(err, EX_PROTOCOL, "the OAuth server sent an error "
		    "that is not a string (HTTP %ld)", r.status);
		goto out;
	}
	rc = 0;
out:
	if (rc == -1)
		answer_free(an);
	http_reply_free(&r);
	return rc;
}

static void
answer_free(struct answer *an)
{
	json_object_put(an->o);
	memset(an, 0, sizeof *an);
}

/* What a Microsoft AADSTS code means to the user (learn.microsoft.com
 * /en-us/entra/identity-platform/reference-error-codes). */
static const char *
aadsts_hint(const char *d)
{
	static const struct { const char *code, *hint; } hints[] = {
		{ "AADSTS700082", "the refresh token expired after 90 days "
		    "unused" },
		{ "AADSTS50173", "the grant was revoked (a password change "
		    "or an administrator)" },
		{ "AADSTS70043", "the sign-in frequency policy of the "
		    "organisation ended it" },
		{ "AADSTS65001", "the user or administrator has not consented "
		    "to the application" },
		{ "AADSTS50076", "multi-factor authentication is required" },
		{ "AADSTS700016", "the application (oauth2_client_id) is not "
		    "known in this tenant" },
	};
	size_t	i, n;

	if (d == NULL || (d = strstr(d, "AADSTS")) == NULL)
		return NULL;
	n = 6 + strspn(d + 6, "0123456789");
	for (i = 0; i < sizeof hints / sizeof hints[0]; i++)
		if (strlen(hints[i].code) == n &&
		    strncmp(d, hints[i].code, n) == 0)
			return hints[i].hint;
	return NULL;
}

/* The server said no to a grant: which class, and what to do. */
static void
refused(struct oauth_cfg *c, const struct answer *an, struct error *err)
{
	const char	*code = an->error, *desc = NULL, *hint;
	char		 shown[160], why[48], aad[24] = "";
	size_t		 n;

	(void)json_str(an->o, "error_description", 0, &desc);
	show(desc != NULL ? desc : "", shown, sizeof shown);
	show(code != NULL ? code : "", why, sizeof why);
	if (desc != NULL && (desc = strstr(desc, "AADSTS")) != NULL) {
		n = 6 + strspn(desc + 6, "0123456789");
		snprintf(aad, sizeof aad, ", %.*s", (int)(n < 16 ? n : 16),
		    desc);
	}
	hint = aadsts_hint(desc);
	if (code == NULL)
		error_set(err, EX_PROTOCOL, "the OAuth server refused the "
		    "request (HTTP %ld) without an error code", an->status);
	else if (strcmp(code, "invalid_client") == 0 ||
	    strcmp(code, "unauthorized_client") == 0 ||
	    strcmp(code, "invalid_scope") == 0 ||
	    strcmp(code, "unsupported_grant_type") == 0)
		error_set(err, EX_CONFIG, "the OAuth server refused the "
		    "client (%s%s)%s%s; check oauth2_client_id, "
		    "oauth2_client_secret and oauth2_scope", why, aad,
		    hint != NULL || shown[0] != '\0' ? ": " : "",
		    hint != NULL ? hint : shown);
	else
		error_set(err, EX_NOPERM, "the OAuth server refused the "
		    "grant (%s%s)%s%s; run popfetch --authorize %s", why, aad,
		    hint != NULL || shown[0] != '\0' ? ": " : "",
		    hint != NULL ? hint : shown, c->a->name);
}

/* s made printable and cut, for a message. */
static void
show(const char *s, char *out, size_t size)
{
	if (size == 0)
		return;
	(void)termsafe(s, strlen(s), out, size);
}

/*
 * The member key of o as a string: 0 with *v (NULL when absent and not
 * needed), -1 when it has another type or is missing but needed.
 */
static int
json_str(struct json_object *o, const char *key, int needed, const char **v)
{
	struct json_object	*m;

	*v = NULL;
	if (!json_object_object_get_ex(o, key, &m) || json_object_is_type(m,
	    json_type_null))
		return needed ? -1 : 0;
	if (!json_object_is_type(m, json_type_string))
		return -1;
	*v = json_object_get_string(m);
	return 0;
}

/*
 * A number member: an integer, or digits in a string (Azure AD v1 sent
 * "3599"), from 0 to max; absent leaves *v.  -1 for anything else.
 */
static int
json_num(struct json_object *o, const char *key, long long max,
    long long *v)
{
	struct json_object	*m;
	const char		*s, *errstr;
	long long		 n;

	if (!json_object_object_get_ex(o, key, &m))
		return 0;
	if (json_object_is_type(m, json_type_int))
		n = json_object_get_int64(m);
	else if (json_object_is_type(m, json_type_string)) {
		s = json_object_get_string(m);
		n = strtonum(s, 0, max, &errstr);
		if (errstr != NULL)
			return -1;
	} else
		return -1;
	if (n < 0 || n > max)
		return -1;
	*v = n;
	return 0;
}

/* A bearer token: 1 to TOKEN_MAX visible ASCII characters. */
static int
token_ok(const char *t)
{
	size_t	n = strlen(t);

	if (n == 0 || n > TOKEN_MAX)
		return 0;
	for (; *t != '\0'; t++)
		if (*t <= ' ' || *t > '~')
			return 0;
	return 1;
}

/*
 * A successful token response into t: the access token, the refresh
 * token when one came (else t keeps the old one), the expiry.
 */
static int
take_tokens(struct oauth_cfg *c, const struct answer *an, struct tokens *t,
    struct error *err)
{
	const char	*access, *rt, *type;
	long long	 expires = 0;

	if (an->error != NULL || an->status != 200) {
		refused(c, an, err);
		return -1;
	}
	if (json_str(an->o, "access_token", 1, &access) == -1 ||
	    !token_ok(access) ||
	    json_str(an->o, "refresh_token", 0, &rt) == -1 ||
	    (rt != NULL && !token_ok(rt)) ||
	    json_str(an->o, "token_type", 0, &type) == -1 ||
	    json_num(an->o, "expires_in", 10LL * 365 * 86400, &expires) ==
	    -1) {
		error_set(err, EX_PROTOCOL, "the OAuth server sent a malformed "
		    "token response (a token missing, or a field of the wrong "
		    "type)");
		return -1;
	}
	if (type != NULL && strcasecmp(type, "bearer") != 0) {
		error_set(err, EX_PROTOCOL, "the OAuth server sent a token of "
		    "type '%.20s', not Bearer", type);
		return -1;
	}
	freezero_str(t->access);
	t->access = xstrdup(access);
	if (rt != NULL) {
		freezero_str(t->refresh);
		t->refresh = xstrdup(rt);
	}
	t->expires_at = expires > 0 ? (long long)time(NULL) + expires : 0;
	signed_in_as(an, c->who, sizeof c->who);
	return 0;
}

/*
 * Who signed in, from the OpenID Connect id_token when the response has
 * one (its payload's preferred_username or email; the signature does not
 * matter here, it is only shown), made printable into who.
 */
static void
signed_in_as(const struct answer *an, char *who, size_t size)
{
	struct json_object	*o;
	struct json_tokener	*tok;
	gnutls_datum_t		 in, out = { NULL, 0 };
	const char		*idt, *p, *name = NULL;
	char			*b64;
	size_t			 n, i;

	if (json_str(an->o, "id_token", 0, &idt) == -1 || idt == NULL ||
	    (p = strchr(idt, '.')) == NULL || (n = strcspn(p + 1, ".")) == 0 ||
	    n > TOKEN_MAX)
		return;
	b64 = xmalloc(n + 4);
	for (i = 0; i < n; i++)
		b64[i] = p[1 + i] == '-' ? '+' : p[1 + i] == '_' ? '/' :
		    p[1 + i];
	while (i % 4 != 0)
		b64[i++] = '=';
	in.data = (unsigned char *)b64;
	in.size = (unsigned)i;
	if (gnutls_base64_decode2(&in, &out) >= 0 && out.size > 0 &&
	    memchr(out.data, '\0', out.size) == NULL) {
		tok = json_tokener_new_ex(16);
		o = json_tokener_parse_ex(tok, (const char *)out.data,
		    (int)out.size);
		json_tokener_free(tok);
		if (o != NULL && json_object_is_type(o, json_type_object) && (json_str(o, "preferred_username", 0,
		    &name) == 0 && name == NULL))
			(void)json_str(o, "email", 0, &name);
		if (name != NULL)
			show(name, who, size);
		json_object_put(o);
	}
	gnutls_free(out.data);
	free(b64);
}

/* Spend t's refresh token; t gets the new tokens. */
static int
refresh(struct oauth_cfg *c, struct tokens *t, struct error *err)
{
	struct answer	 an;
	char		*form = NULL;
	int		 rc;

	log_verbose(c->a->name, "refreshing the OAuth access token");
	http_form_add(&form, "grant_type", "refresh_token");
	http_form_add(&form, "refresh_token", t->refresh);
	if (add_client(c, &form, err) == -1)
		return -1;
	if (c->scope != NULL)
		http_form_add(&form, "scope", c->scope);
	if (post(c, c->token, form, &an, err) == -1)
		return -1;
	rc = take_tokens(c, &an, t, err);
	answer_free(&an);
	return rc;
}

char *
oauth_access_token(const struct account *a, const char *refused_token,
    struct error *err)
{
	struct oauth_cfg c;
	struct tokens	 t;
	char		*tok = NULL;
	int		 fd = -1, rc;

	memset(&t, 0, sizeof t);
	if (cfg_init(&c, a, err) == -1)
		goto out;
	/* Held until the new tokens are on disk: one run refreshes. */
	if ((fd = tokenstore_lock(c.path, a->timeout + 5, err)) == -1 ||
	    (rc = tokenstore_read(c.path, &t, err)) == -1)
		goto out;
	if (rc == 1 || (t.access == NULL && t.refresh == NULL)) {
		error_set(err, EX_NOPERM, "no OAuth tokens yet (%s); run "
		    "popfetch --authorize %s", c.path, a->name);
		goto out;
	}
	if (t.access != NULL && (refused_token == NULL ||
	    strcmp(t.access, refused_token) != 0) && (t.expires_at == 0 ||
	    t.expires_at > (long long)time(NULL) + EXPIRY_MARGIN)) {
		tok = xstrdup(t.access);
		goto out;
	}
	if (t.refresh == NULL) {
		error_set(err, EX_NOPERM, "the OAuth access token expired and "
		    "there is no refresh token; run popfetch --authorize %s",
		    a->name);
		goto out;
	}
	/* The rotated refresh token is on disk before anything uses it. */
	if (refresh(&c, &t, err) == -1 || tokenstore_write(c.path, &t,
	    err) == -1)
		goto out;
	log_debug(a->name, "OAuth tokens refreshed and saved in %s", c.path);
	tok = xstrdup(t.access);
out:
	if (fd != -1)
		close(fd);
	tokens_free(&t);
	cfg_free(&c);
	return tok;
}

/* Store fresh tokens from a sign-in, under the lock. */
static int
save(struct oauth_cfg *c, struct tokens *t, struct error *err)
{
	int	fd, rc;

	if ((fd = tokenstore_lock(c->path, c->a->timeout + 5, err)) == -1)
		return -1;
	rc = tokenstore_write(c->path, t, err);
	close(fd);
	return rc;
}

int
oauth_authorize(const struct account *a, enum oauth_flow flow,
    struct error *err)
{
	struct oauth_cfg c;
	struct tokens	 t;
	int		 rc = -1;

	memset(&t, 0, sizeof t);
	if (cfg_init(&c, a, err) == -1)
		goto out;
	if (flow == OAUTH_FLOW_DEFAULT) {
		if (a->oauth2_provider == OAUTH_PROVIDER_GOOGLE ||
		    c.device == NULL)
			flow = getenv("DISPLAY") != NULL ||
			    getenv("WAYLAND_DISPLAY") != NULL ?
			    OAUTH_FLOW_BROWSER : OAUTH_FLOW_PASTE;
		else
			flow = OAUTH_FLOW_DEVICE;
	}
	if (flow == OAUTH_FLOW_DEVICE)
		rc = device_flow(&c, &t, err);
	else
		rc = code_flow(&c, flow == OAUTH_FLOW_BROWSER, &t, err);
	if (rc == 0 && t.refresh == NULL)
		log_warn(a->name, "the OAuth server sent no refresh token: "
		    "the sign-in lasts only as long as the access token "
		    "(for Microsoft, the scope needs offline_access)");
	if (rc == 0 && (rc = save(&c, &t, err)) == 0)
		log_info(a->name, "signed in%s%s; tokens saved in %s",
		    c.who[0] != '\0' ? " as " : "", c.who, c.path);
out:
	tokens_free(&t);
	cfg_free(&c);
	return rc;
}

/* RFC 8628: show the code, then poll the token endpoint. */
static int
device_flow(struct oauth_cfg *c, struct tokens *t, struct error *err)
{
	struct answer	 an;
	const char	*dc, *uc, *uri, *full;
	char		*form = NULL, *code = NULL, s1[512], s2[64], s3[1024];
	long long	 expires = 900, interval = 5;
	int		 rc = -1;

	if (c->device == NULL) {
		error_set(err, EX_CONFIG, "the device flow needs "
		    "oauth2_device_endpoint (or use --browser or --paste)");
		return -1;
	}
	if (add_client(c, &form, err) == -1)
		return -1;
	if (c->scope != NULL)
		http_form_add(&form, "scope", c->scope);
	if (post(c, c->device, form, &an, err) == -1)
		return -1;
	if (an.error != NULL || an.status != 200) {
		refused(c, &an, err);
		goto out;
	}
	if (json_str(an.o, "device_code", 1, &dc) == -1 ||
	    json_str(an.o, "user_code", 1, &uc) == -1 ||
	    (json_str(an.o, "verification_uri", 0, &uri) == -1 ||
	    (uri == NULL && json_str(an.o, "verification_url", 1, &uri) ==
	    -1)) || json_str(an.o, "verification_uri_complete", 0, &full) ==
	    -1 || json_num(an.o, "expires_in", SIGNIN_MAX * 10, &expires) ==
	    -1 || json_num(an.o, "interval", 600, &interval) == -1 ||
	    !token_ok(dc) || strlen(dc) > 1024) {
		error_set(err, EX_PROTOCOL, "the OAuth server sent a malformed "
		    "device authorization response");
		goto out;
	}
	show(uri, s1, sizeof s1);
	show(uc, s2, sizeof s2);
	printf("To sign in account %s, open %s and enter the code %s\n",
	    c->a->name, s1, s2);
	if (full != NULL) {
		show(full, s3, sizeof s3);
		printf("(or open %s)\n", s3);
	}
	printf("Waiting for the sign-in...\n");
	fflush(stdout);
	code = xstrdup(dc);
	rc = device_poll(c, code, expires < SIGNIN_MAX ? expires : SIGNIN_MAX,
	    interval < 1 ? 1 : interval, t, err);
out:
	freezero_str(code);
	answer_free(&an);
	return rc;
}

static int
device_poll(struct oauth_cfg *c, const char *code, long long expires,
    long long interval, struct tokens *t, struct error *err)
{
	struct answer	 an;
	struct timespec	 nap;
	char		*form;
	long long	 deadline = mono_now_ms() + expires * 1000;
	int		 rc;

	for (;;) {
		nap.tv_sec = interval;
		nap.tv_nsec = 0;
		while (nanosleep(&nap, &nap) == -1 && errno == EINTR)
			;
		if (mono_now_ms() > deadline) {
			error_set(err, EX_NOPERM, "the code expired before the "
			    "sign-in was done; run popfetch --authorize %s "
			    "again", c->a->name);
			return -1;
		}
		form = NULL;
		http_form_add(&form, "grant_type", DEVICE_GRANT);
		http_form_add(&form, "device_code", code);
		if (add_client(c, &form, err) == -1 ||
		    post(c, c->token, form, &an, err) == -1)
			return -1;
		if (an.error != NULL && strcmp(an.error,
		    "authorization_pending") == 0) {
			answer_free(&an);
			continue;
		}
		if (an.error != NULL && strcmp(an.error, "slow_down") == 0) {
			interval += SLOW_DOWN;
			answer_free(&an);
			continue;
		}
		if (an.error != NULL && (strcmp(an.error, "expired_token") ==
		    0 || strcmp(an.error, "access_denied") == 0)) {
			error_set(err, EX_NOPERM, "%s; run popfetch "
			    "--authorize %s again", strcmp(an.error,
			    "access_denied") == 0 ? "the sign-in was declined" :
			    "the code expired before the sign-in was done",
			    c->a->name);
			answer_free(&an);
			return -1;
		}
		rc = take_tokens(c, &an, t, err);
		answer_free(&an);
		return rc;
	}
}

/* The authorization URL for redirect, state and the PKCE challenge. */
static char *
auth_url(struct oauth_cfg *c, const char *redirect, const char *state,
    const char *challenge)
{
	char	*q = NULL, *url;

	http_form_add(&q, "response_type", "code");
	http_form_add(&q, "client_id", c->a->oauth2_client_id);
	http_form_add(&q, "redirect_uri", redirect);
	if (c->scope != NULL)
		http_form_add(&q, "scope", c->scope);
	http_form_add(&q, "state", state);
	http_form_add(&q, "code_challenge", challenge);
	http_form_add(&q, "code_challenge_method", "S256");
	/* Google sends a refresh token only when asked for offline use. */
	if (c->a->oauth2_provider == OAUTH_PROVIDER_GOOGLE) {
		http_form_add(&q, "access_type", "offline");
		http_form_add(&q, "prompt", "consent");
	}
	if (c->a->pop.user != NULL)
		http_form_add(&q, "login_hint", c->a->pop.user);
	xasprintf(&url, "%s%c%s", c->auth, strchr(c->auth, '?') != NULL ?
	    '&' : '?', q);
	free(q);
	return url;
}

static int
exchange_code(struct oauth_cfg *c, const char *code, const char *redirect,
    const char *verifier, struct tokens *t, struct error *err)
{
	struct answer	 an;
	char		*form = NULL;
	int		 rc;

	http_form_add(&form, "grant_type", "authorization_code");
	http_form_add(&form, "code", code);
	http_form_add(&form, "redirect_uri", redirect);
	http_form_add(&form, "code_verifier", verifier);
	if (add_client(c, &form, err) == -1 ||
	    post(c, c->token, form, &an, err) == -1)
		return -1;
	rc = take_tokens(c, &an, t, err);
	answer_free(&an);
	return rc;
}

/*
 * Authorization code with PKCE S256: the browser comes back to our
 * loopback socket, or (paste) the user copies the address it was sent
 * to, or just the code.
 */
static int
code_flow(struct oauth_cfg *c, int browser, struct tokens *t,
    struct error *err)
{
	char		 verifier[REDIRECT_VERIFIER], challenge[REDIRECT_VERIFIER];
	char		 state[REDIRECT_STATE], *redirect = NULL;
	char		*url = NULL, *code = NULL, line[REDIRECT_LINE_MAX];
	int		 lfd = -1, port, rc = -1;

	if (c->auth == NULL) {
		error_set(err, EX_CONFIG, "this sign-in needs "
		    "oauth2_auth_endpoint (or use --device)");
		return -1;
	}
	redirect_pkce(verifier, challenge, state);
	if (browser) {
		if (redirect_listen(&lfd, &port, err) == -1)
			goto out;
		xasprintf(&redirect, "http://127.0.0.1:%d/", port);
	} else
		redirect = xstrdup("http://localhost/");
	url = auth_url(c, redirect, state, challenge);
	printf("To sign in account %s, open this address in a browser:\n%s\n",
	    c->a->name, url);
	if (!browser)
		printf("Then paste here the address the browser ends up at "
		    "(it will not load), or just its code:\n");
	fflush(stdout);
	if (browser) {
		redirect_open_browser(url);
		if (redirect_wait(lfd, state, &code, err) == -1)
			goto out;
	} else {
		if (fgets(line, sizeof line, stdin) == NULL) {
			error_set(err, EX_NOPERM, "nothing was pasted");
			goto out;
		}
		line[strcspn(line, "\r\n")] = '\0';
		if (redirect_take_code(line, state, &code, err) == -1)
			goto out;
	}
	rc = exchange_code(c, code, redirect, verifier, t, err);
out:
	explicit_bzero(line, sizeof line);
	explicit_bzero(verifier, sizeof verifier);
	if (lfd != -1)
		close(lfd);
	freezero_str(code);
	free(redirect);
	free(url);
	return rc;
}
