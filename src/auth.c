/* auth.c -- choosing a login mechanism and the AUTH exchange; see auth.h. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <gsasl.h>

#include "auth.h"
#include "log.h"
#include "mono.h"
#include "pbkdf2.h"
#include "pop3.h"
#include "termsafe.h"
#include "transport.h"
#include "xmalloc.h"

/* RFC 2449: "AUTH MECH initial-response" must fit a command line. */
#define AUTH_CMD_MAX	255
/* Rounds a mechanism may take; more is a server stringing us along. */
#define AUTH_ROUNDS_MAX	16
/*
 * The most SCRAM iterations (the server-first message's i=) we compute.
 * The server picks the count and the client pays for it: PBKDF2 is one
 * uninterruptible call into GNU SASL, and i=4294967295 is about two hours
 * of one core (RFC 5802, section 9, warns of exactly this).  Real servers
 * use far less: Dovecot's and Cyrus SASL's default is 4096, the minimum
 * RFC 7677 asks for; the highest figure any current guidance gives is
 * OWASP's 600,000 for PBKDF2-HMAC-SHA256 password storage.  A million
 * keeps such servers working and costs 0.8 s of one core with GNU SASL
 * 2.2 on the test machine (2 s on a core of 600,000 iterations a second),
 * so a signal or the timeout takes effect within that; anything above
 * is refused.
 */
#define SCRAM_ITER_MAX	1000000UL

static const struct method {
	enum auth_method	 m;
	const char		*name;
	int			 needs_password;
} methods[] = {
	{ AUTH_AUTO,		"auto",			1 },
	{ AUTH_USER,		"USER",			1 },
	{ AUTH_APOP,		"APOP",			1 },
	{ AUTH_PLAIN,		"PLAIN",		1 },
	{ AUTH_LOGIN,		"LOGIN",		1 },
	{ AUTH_CRAM_MD5,	"CRAM-MD5",		1 },
	{ AUTH_SCRAM_SHA_1,	"SCRAM-SHA-1",		1 },
	{ AUTH_SCRAM_SHA_1_PLUS, "SCRAM-SHA-1-PLUS",	1 },
	{ AUTH_SCRAM_SHA_256,	"SCRAM-SHA-256",	1 },
	{ AUTH_SCRAM_SHA_256_PLUS, "SCRAM-SHA-256-PLUS", 1 },
	{ AUTH_XOAUTH2,		"XOAUTH2",		1 },
	{ AUTH_OAUTHBEARER,	"OAUTHBEARER",		1 },
	{ AUTH_EXTERNAL,	"EXTERNAL",		0 },
	{ AUTH_GSSAPI,		"GSSAPI",		0 },
};

/*
 * auth auto's candidates, strongest first.  Over TLS the password-sending
 * forms are all equally safe, so PLAIN, LOGIN and USER come before APOP
 * (whose MD5 digest adds nothing inside TLS).  Without TLS (only with
 * `tls off` set by name) every form that hides the password comes before
 * USER.
 */
static const enum auth_method auto_tls[] = {
	AUTH_SCRAM_SHA_256_PLUS, AUTH_SCRAM_SHA_1_PLUS, AUTH_SCRAM_SHA_256,
	AUTH_SCRAM_SHA_1, AUTH_PLAIN, AUTH_LOGIN, AUTH_USER, AUTH_APOP,
};
static const enum auth_method auto_plain[] = {
	AUTH_SCRAM_SHA_256, AUTH_SCRAM_SHA_1, AUTH_CRAM_MD5, AUTH_APOP,
	AUTH_USER,
};
#define AUTO_MAX	(sizeof auto_tls / sizeof auto_tls[0])

/* Who logs in, and how: what auth_login() was given. */
struct login {
	const char		*name;		/* the account, for log lines */
	const char		*user;
	const char		*host;
	int			 port;		/* OAUTHBEARER names it */
	enum auth_method	 auth;
	const char		*oauth_store;	/* see struct auth_progress */
};

/* One AUTH exchange in progress. */
struct exchange {
	const struct sasl_io	*io;		/* the protocol's framing */
	const struct login	*a;
	enum auth_method	 m;
	Gsasl			*ctx;
	Gsasl_session		*sx;		/* NULL for OAuth */
	char			*first;		/* client-first data, base64 */
	int			 done;		/* the client side has finished */
	const char		*pass;		/* SCRAM: derived in slices */
	struct error		 why;		/* SCRAM: why the key was not */
};

static int	 server_offers(const struct pop3_caps *, const char *);
static int	 is_plus(enum auth_method);
static size_t	 candidates(struct pop3 *, const struct login *,
		    enum auth_method *);
static int	 offered(struct pop3 *, Gsasl *, enum auth_method, int);
static int	 worth_next(enum auth_method, const struct error *);
static int	 named_offered(struct pop3 *, enum auth_method, struct error *);
static void	 warn_cleartext(struct pop3 *, const struct login *,
		    enum auth_method);
static int	 try_method(struct pop3 *, const struct login *,
		    enum auth_method, const char *, struct error *);
static int	 sasl_start(struct exchange *, const char *, struct error *);
static int	 set_channel_binding(struct exchange *, struct error *);
static int	 oauth_start(struct exchange *, const char *, struct error *);
static int	 run_exchange(struct exchange *, struct error *);
static int	 send_auth(struct exchange *, char **, struct error *);
static int	 answer(struct exchange *, const char *, struct error *);
static int	 cancel(struct exchange *, const char *, struct error *);
static void	 lost_in_exchange(struct exchange *, int, struct error *);
static void	 refused(struct exchange *, const struct sasl_reply *,
		    struct error *);
static void	 free_secret(char *);
static int	 is_scram(enum auth_method);
static int	 scram_iterations(const char *, unsigned long *);
static int	 sasl_step(struct exchange *, const char *, char **,
		    struct error *);
static int	 sasl_callback(Gsasl *, Gsasl_session *, Gsasl_property);
static int	 salted_password(struct exchange *, Gsasl_session *);
static int	 derive(struct exchange *, const char *, const char *,
		    unsigned long, unsigned char *);

int
auth_method_parse(const char *s, enum auth_method *m)
{
	size_t	i;

	/* mpop's `auth on` means: pick the best method. */
	if (strcasecmp(s, "on") == 0) {
		*m = AUTH_AUTO;
		return 0;
	}
	for (i = 0; i < sizeof methods / sizeof methods[0]; i++) {
		if (strcasecmp(s, methods[i].name) == 0) {
			*m = methods[i].m;
			return 0;
		}
	}
	return -1;
}

const char *
auth_method_name(enum auth_method m)
{
	size_t	i;

	for (i = 0; i < sizeof methods / sizeof methods[0]; i++)
		if (methods[i].m == m)
			return methods[i].name;
	fatalx("auth_method_name: no such method");
}

int
auth_needs_password(enum auth_method m)
{
	size_t	i;

	for (i = 0; i < sizeof methods / sizeof methods[0]; i++)
		if (methods[i].m == m)
			return methods[i].needs_password;
	return 1;
}

static int
is_plus(enum auth_method m)
{
	return m == AUTH_SCRAM_SHA_1_PLUS || m == AUTH_SCRAM_SHA_256_PLUS;
}

/* Whether CAPA's SASL line names mech (a whole word, any case). */
static int
server_offers(const struct pop3_caps *c, const char *mech)
{
	const char	*s;
	size_t		 n, len = strlen(mech);

	if (c->sasl == NULL)
		return 0;
	for (s = c->sasl; *s != '\0'; s += n) {
		s += strspn(s, " \t");
		n = strcspn(s, " \t");
		if (n == len && strncasecmp(s, mech, n) == 0)
			return 1;
	}
	return 0;
}

/* Whether auto may try m here: the server offers it and we can do it. */
static int
offered(struct pop3 *p, Gsasl *ctx, enum auth_method m, int have_cb)
{
	const struct pop3_caps	*caps = pop3_caps(p);

	switch (m) {
	case AUTH_USER:
		/* A server without CAPA may still take USER/PASS. */
		return caps->user || !caps->known;
	case AUTH_APOP:
		return pop3_apop_offered(p);
	default:
		return server_offers(caps, auth_method_name(m)) &&
		    gsasl_client_support_p(ctx, auth_method_name(m)) &&
		    (!is_plus(m) || have_cb);
	}
}

/*
 * The methods auth auto will try, in order, into c (AUTO_MAX slots).
 * Never empty: with nothing offered that we know, USER/PASS is tried, as
 * a server that answers CAPA badly may still take it.
 */
static size_t
candidates(struct pop3 *p, const struct login *a, enum auth_method *c)
{
	const struct pop3_caps	*caps = pop3_caps(p);
	const enum auth_method	*order;
	Gsasl			*ctx = NULL;
	struct error		 cberr;
	char			 shown[TERMSAFE_SIZE(200)];
	unsigned char		*cb = NULL;
	size_t			 i, n, k = 0, cblen;
	int			 tls, have_cb = 0, exporter;

	tls = transport_is_tls(pop3_transport(p));
	order = tls ? auto_tls : auto_plain;
	n = tls ? sizeof auto_tls / sizeof auto_tls[0] :
	    sizeof auto_plain / sizeof auto_plain[0];
	error_clear(&cberr);
	if (tls && transport_channel_binding(pop3_transport(p), &cb, &cblen,
	    &exporter, &cberr) == 0)
		have_cb = 1;
	free(cb);
	if (gsasl_init(&ctx) != GSASL_OK)
		ctx = NULL;
	for (i = 0; i < n; i++) {
		if (ctx == NULL && order[i] != AUTH_USER &&
		    order[i] != AUTH_APOP)
			continue;
		if (offered(p, ctx, order[i], have_cb))
			c[k++] = order[i];
	}
	if (ctx != NULL)
		gsasl_done(ctx);
	if (k == 0)
		c[k++] = AUTH_USER;
	/* The server's own words: at most 200 bytes of them, made safe. */
	if (caps->sasl != NULL)
		(void)termsafe(caps->sasl, strnlen(caps->sasl, 200), shown,
		    sizeof shown);
	log_debug(a->name, "auth auto: the server offers SASL %s%s%s",
	    caps->sasl != NULL ? shown : "nothing",
	    caps->user ? ", USER" : "",
	    pop3_apop_offered(p) ? ", APOP" : "");
	return k;
}

/*
 * Whether auto goes on to the next method after m failed with err.  Only
 * a plain refusal of a method that may fail for reasons other than the
 * password lets it go on: SCRAM and CRAM-MD5 need secrets the server may
 * not store (Courier with PAM), -PLUS needs channel binding the server
 * may not support (Cyrus SASL 2.1.28 with tls-exporter), APOP needs a
 * password in clear on the server.  PLAIN, LOGIN and USER hand the
 * password itself to the server, so their refusal is the final word; and
 * so is anything temporary ([SYS/TEMP], [IN-USE], [LOGIN-DELAY]), a
 * broken connection, or a server that failed to prove it knows the
 * password (a possible impostor must not be handed PLAIN next).
 */
static int
worth_next(enum auth_method m, const struct error *err)
{
	if (err->ex != EX_NOPERM)
		return 0;
	switch (m) {
	case AUTH_PLAIN:
	case AUTH_LOGIN:
	case AUTH_USER:
		return 0;
	default:
		return 1;
	}
}

/*
 * A SASL mechanism named in the config goes only to a server that lists
 * it: credentials are not handed to a server that said nothing of the
 * mechanism, and "not supported" must not read like a wrong password.
 * No SASL line, or an empty one, lists none: Courier with Debian's
 * default (empty) POP3AUTH takes AUTH unlisted, but offers USER, which
 * auth auto uses; Dovecot and Cyrus list every mechanism they take (see
 * docs/servers.md).  Only a server without CAPA at all (RFC 1734 predates
 * it) gets AUTH unannounced.
 */
static int
named_offered(struct pop3 *p, enum auth_method m, struct error *err)
{
	const struct pop3_caps	*caps = pop3_caps(p);
	const char		*list = caps->sasl;

	if (m == AUTH_USER || m == AUTH_APOP || !caps->known ||
	    server_offers(caps, auth_method_name(m)))
		return 0;
	if (list != NULL)
		list += strspn(list, " \t");
	error_set(err, EX_UNAVAILABLE, "the server does not offer %s (its "
	    "SASL mechanisms: %s); nothing was sent; choose one of them with "
	    "'auth', or 'auth auto'", auth_method_name(m),
	    list != NULL && *list != '\0' ? list : "none");
	return -1;
}

/*
 * Said once per account and method (log_warn_once): USER/PASS, PLAIN and LOGIN hand the
 * password itself to the server, and here without TLS.  The other
 * methods never send it.
 */
static void
warn_cleartext(struct pop3 *p, const struct login *a, enum auth_method m)
{
	if (transport_is_tls(pop3_transport(p)))
		return;
	if (m != AUTH_USER && m != AUTH_PLAIN && m != AUTH_LOGIN)
		return;
	log_warn_once(a->name, "tls is off: the password crosses the "
	    "network unencrypted (%s)", auth_method_name(m));
}

/* POP3's framing of the exchange (RFC 5034): "AUTH M [IR]", "+ b64". */
static int
pop3_io_send(void *arg, const char *line, struct error *err)
{
	return pop3_send(arg, P3_AUTH, line, P3_SECRET, 0, err);
}

static int
pop3_io_reply(void *arg, struct sasl_reply *sr, char **chal,
    struct error *err)
{
	struct pop3_reply	r;
	int			s;

	memset(sr, 0, sizeof *sr);
	if ((s = pop3_auth_reply(arg, &r, chal, err)) == 0) {
		sr->ok = r.ok;
		sr->ex = r.ex;
		snprintf(sr->text, sizeof sr->text, "%s", r.text);
	}
	return s;
}

static int
pop3_io_answer(void *arg, const char *line, struct error *err)
{
	return pop3_auth_answer(arg, line, err);
}

static void
pop3_io_lost(void *arg, const char *step, struct error *err)
{
	pop3_lost_at(arg, step, err);
}

/* One SASL or OAuth mechanism over io, whatever the protocol. */
static int
exchange_run(const struct sasl_io *io, const struct login *a,
    enum auth_method m, const char *pass, struct error *err)
{
	struct exchange	 x;
	int		 rc = -1;

	memset(&x, 0, sizeof x);
	x.io = io;
	x.a = a;
	x.m = m;
	if (m == AUTH_XOAUTH2 || m == AUTH_OAUTHBEARER) {
		if (oauth_start(&x, pass, err) == -1)
			goto out;
	} else if (sasl_start(&x, pass, err) == -1)
		goto out;
	rc = run_exchange(&x, err);
out:
	free_secret(x.first);
	if (x.sx != NULL)
		gsasl_finish(x.sx);
	if (x.ctx != NULL)
		gsasl_done(x.ctx);
	return rc;
}

int
sasl_login(const struct sasl_io *io, enum auth_method m, const char *user,
    const char *host, int port, const char *name, const char *pass,
    const char *oauth_store, struct error *err)
{
	struct login	a;

	if (m == AUTH_AUTO || m == AUTH_USER || m == AUTH_APOP) {
		error_set(err, EX_SOFTWARE, "sasl_login: %s is no SASL "
		    "mechanism", auth_method_name(m));
		return -1;
	}
	memset(&a, 0, sizeof a);
	a.name = name;
	a.user = user;
	a.host = host;
	a.port = port;
	a.auth = m;
	a.oauth_store = oauth_store;
	return exchange_run(io, &a, m, pass, err);
}

/* One method, named or picked by auto, on the session as it is. */
static int
try_method(struct pop3 *p, const struct login *a, enum auth_method m,
    const char *pass, struct error *err)
{
	struct sasl_io	io = {
		.arg = p,
		.t = pop3_transport(p),
		.service = "pop",
		.cmd_max = AUTH_CMD_MAX,
		.send = pop3_io_send,
		.reply = pop3_io_reply,
		.answer = pop3_io_answer,
		.lost = pop3_io_lost,
	};

	warn_cleartext(p, a, m);
	if (m == AUTH_USER || m == AUTH_APOP)
		return pop3_login(p, m == AUTH_APOP, a->user, pass, err);
	return exchange_run(&io, a, m, pass, err);
}

/*
 * Two methods that stand or fall together: the -PLUS forms (the server's
 * channel binding support), and the plain SCRAM forms (its SCRAM secrets).
 * After one is refused the other is not tried, which keeps a wrong
 * password to a few refusals (and a few of the server's failure delays).
 */
static int
same_family(enum auth_method x, enum auth_method y)
{
	int	sx = x == AUTH_SCRAM_SHA_1 || x == AUTH_SCRAM_SHA_256;
	int	sy = y == AUTH_SCRAM_SHA_1 || y == AUTH_SCRAM_SHA_256;

	return x == y || (is_plus(x) && is_plus(y)) || (sx && sy);
}

/* The first of c[i..n) not refused yet (with its family), or n. */
static size_t
untried(const enum auth_method *c, size_t n, size_t i, unsigned done)
{
	for (; i < n; i++)
		if ((done & (1u << c[i])) == 0)
			return i;
	return n;
}

/* m was refused: neither it nor its family is worth another try. */
static void
refuse(struct auth_progress *ap, const enum auth_method *c, size_t n,
    enum auth_method m)
{
	size_t	j;

	for (j = 0; j < n; j++)
		if (same_family(m, c[j]))
			ap->done |= 1u << c[j];
	ap->refusals++;
}

enum auth_method
auth_oauth_method(struct pop3 *p)
{
	const struct pop3_caps	*caps = pop3_caps(p);

	if (server_offers(caps, "XOAUTH2"))
		return AUTH_XOAUTH2;
	if (server_offers(caps, "OAUTHBEARER"))
		return AUTH_OAUTHBEARER;
	return AUTH_AUTO;
}

/* The named method, or auth auto's candidates one after another. */
int
auth_login(struct pop3 *p, enum auth_method method, const char *user,
    const char *host, int port, const char *name, const char *pass,
    struct auth_progress *ap, struct error *err)
{
	const struct login	 l = { name, user, host, port, method,
				    ap->oauth_store };
	const struct login	*a = &l;
	enum auth_method c[AUTO_MAX];
	enum auth_method last = AUTH_AUTO; /* refused on this connection */
	size_t		 i, j, n;
	int		 rc = -1;

	if (a->auth != AUTH_AUTO) {
		if (named_offered(p, a->auth, err) == -1)
			return -1;
		if ((rc = try_method(p, a, a->auth, pass, err)) == 0)
			log_debug(a->name, "logged in with %s",
			    auth_method_name(a->auth));
		goto out;
	}
	n = candidates(p, a, c);
	if (untried(c, n, 0, ap->done) == n) {
		/* A new connection offers only what was refused before. */
		error_set(err, EX_NOPERM, "no login method left to try (tried "
		    "%s)", ap->tried);
		goto out;
	}
	for (i = untried(c, n, 0, ap->done); i < n; i = j) {
		error_clear(err);
		if ((rc = try_method(p, a, c[i], pass, err)) == 0)
			break;
		/* Refused one method, then hung up: the next goes anew. */
		if (last != AUTH_AUTO && transport_lost(pop3_transport(p))) {
			log_verbose(a->name, "auth auto: the server closed the "
			    "connection after refusing %s; trying %s on a new "
			    "connection", auth_method_name(last),
			    auth_method_name(c[i]));
			return AUTH_RECONNECT;
		}
		if (ap->tried[0] != '\0')
			strlcat(ap->tried, ", ", sizeof ap->tried);
		strlcat(ap->tried, auth_method_name(c[i]), sizeof ap->tried);
		refuse(ap, c, n, c[i]);
		last = c[i];
		j = untried(c, n, i + 1, ap->done);
		if (j == n || !worth_next(c[i], err))
			break;
		log_verbose(a->name, "auth auto: %s failed (%s); trying %s",
		    auth_method_name(c[i]), err->msg, auth_method_name(c[j]));
	}
	if (rc == 0 && ap->refusals > 0)
		log_verbose(a->name, "logged in with %s", auth_method_name(c[i]));
	else if (rc == 0)
		log_debug(a->name, "logged in with %s", auth_method_name(c[i]));
	else if (ap->refusals > 1 && err->ex == EX_NOPERM)
		error_prefix(err, "tried %s", ap->tried);
out:
	if (rc == -1 && err->ex == EX_NOPERM)
		error_prefix(err, "authentication failed for user %s",
		    a->user);
	return rc;
}

/* Set up GNU SASL and compute the client-first data, if the mechanism has any. */
static int
sasl_start(struct exchange *x, const char *pass, struct error *err)
{
	const char	*name = auth_method_name(x->m);
	char		*out = NULL;
	int		 r;

	if ((r = gsasl_init(&x->ctx)) != GSASL_OK) {
		x->ctx = NULL;
		error_set(err, EX_SOFTWARE, "cannot initialise GNU SASL: %s",
		    gsasl_strerror(r));
		return -1;
	}
	if (!gsasl_client_support_p(x->ctx, name) ||
	    (r = gsasl_client_start(x->ctx, name, &x->sx)) != GSASL_OK) {
		x->sx = NULL;
		error_set(err, EX_UNAVAILABLE, "this build of GNU SASL cannot "
		    "do %s; choose another 'auth' method", name);
		return -1;
	}
	gsasl_property_set(x->sx, GSASL_AUTHID, x->a->user);
	/*
	 * SCRAM asks sasl_callback() for the salted password instead, which
	 * derives it in slices a signal or the timeout can end; GNU SASL's
	 * own derivation is one call nothing stops.
	 */
	if (is_scram(x->m)) {
		x->pass = pass;
		error_clear(&x->why);
		gsasl_callback_set(x->ctx, sasl_callback);
		gsasl_session_hook_set(x->sx, x);
	} else if (pass != NULL)
		gsasl_property_set(x->sx, GSASL_PASSWORD, pass);
	gsasl_property_set(x->sx, GSASL_SERVICE, x->io->service);
	gsasl_property_set(x->sx, GSASL_HOSTNAME, x->a->host);
	if (is_plus(x->m) && set_channel_binding(x, err) == -1)
		return -1;

	/* In LOGIN and CRAM-MD5 the server speaks first. */
	if (x->m == AUTH_LOGIN || x->m == AUTH_CRAM_MD5)
		return 0;
	r = gsasl_step64(x->sx, "", &out);
	if (r != GSASL_OK && r != GSASL_NEEDS_MORE) {
		error_set(err, EX_SOFTWARE, "%s: %s", name, gsasl_strerror(r));
		return -1;
	}
	x->done = r == GSASL_OK;
	x->first = xstrdup(out);
	free_secret(out);
	return 0;
}

/* SCRAM-*-PLUS binds the login to this very TLS session. */
static int
set_channel_binding(struct exchange *x, struct error *err)
{
	unsigned char	*cb = NULL;
	char		*b64 = NULL;
	size_t		 len, b64len;
	int		 exporter, rc = -1;

	if (transport_channel_binding(x->io->t, &cb, &len,
	    &exporter, err) == -1) {
		error_prefix(err, "%s needs TLS channel binding",
		    auth_method_name(x->m));
		err->ex = EX_CONFIG;
		goto out;
	}
	if (gsasl_base64_to((const char *)cb, len, &b64, &b64len) !=
	    GSASL_OK) {
		error_set(err, EX_SOFTWARE, "cannot encode channel binding");
		goto out;
	}
	gsasl_property_set(x->sx, exporter ? GSASL_CB_TLS_EXPORTER :
	    GSASL_CB_TLS_UNIQUE, b64);
	log_debug(x->a->name, "channel binding: %s",
	    exporter ? "tls-exporter" : "tls-unique");
	rc = 0;
out:
	free(cb);
	free(b64);
	return rc;
}

/*
 * XOAUTH2 (Google, Microsoft) and OAUTHBEARER (RFC 7628) are one message
 * each, so they need no library.  The token comes from passwordeval.
 */
static int
oauth_start(struct exchange *x, const char *token, struct error *err)
{
	char	*raw = NULL, *b64 = NULL;
	size_t	 b64len;
	int	 n, rc = -1;

	if (strchr(x->a->user, ',') != NULL ||
	    strchr(x->a->user, '=') != NULL ||
	    strchr(x->a->user, '\001') != NULL) {
		error_set(err, EX_CONFIG, "a user name for %s must not "
		    "contain ',', '=' or control characters",
		    auth_method_name(x->m));
		return -1;
	}
	if (x->m == AUTH_XOAUTH2)
		n = asprintf(&raw, "user=%s\001auth=Bearer %s\001\001",
		    x->a->user, token);
	else
		n = asprintf(&raw, "n,a=%s,\001host=%s\001port=%d\001"
		    "auth=Bearer %s\001\001", x->a->user, x->a->host,
		    x->a->port, token);
	if (n < 0)
		fatalx("asprintf: out of memory");
	if (gsasl_base64_to(raw, (size_t)n, &b64, &b64len) != GSASL_OK) {
		error_set(err, EX_SOFTWARE, "cannot encode the OAuth token");
		goto out;
	}
	x->first = b64;
	x->done = 1;
	rc = 0;
out:
	free_secret(raw);
	return rc;
}

/*
 * AUTH with the client-first data as initial response when it fits the
 * command line; else (long OAuth tokens, always so with Microsoft) the
 * mechanism alone, and the data after the server's empty challenge.
 */
static int
send_auth(struct exchange *x, char **held, struct error *err)
{
	char	cmd[AUTH_CMD_MAX + 1];
	int	n, rc;

	*held = NULL;
	if (x->first == NULL)
		return x->io->send(x->io->arg, auth_method_name(x->m), err);
	n = snprintf(cmd, sizeof cmd, "%s %s", auth_method_name(x->m),
	    x->first[0] != '\0' ? x->first : "=");
	/* 5 = "AUTH ": the whole line must fit the protocol's limit. */
	if (n < 0 || (size_t)n + 5 > x->io->cmd_max || (size_t)n + 5 >
	    AUTH_CMD_MAX) {
		explicit_bzero(cmd, sizeof cmd);
		*held = x->first;
		return x->io->send(x->io->arg, auth_method_name(x->m), err);
	}
	rc = x->io->send(x->io->arg, cmd, err);
	explicit_bzero(cmd, sizeof cmd);
	return rc;
}

static int
run_exchange(struct exchange *x, struct error *err)
{
	struct sasl_reply	 r;
	char			*chal = NULL, *held, *out = NULL;
	int			 rc = -1, rounds = 0, s;

	if (send_auth(x, &held, err) == -1)
		return -1;
	for (;;) {
		free(chal);
		chal = NULL;
		if ((s = x->io->reply(x->io->arg, &r, &chal, err)) == -1) {
			lost_in_exchange(x, rounds, err);
			goto out;
		}
		if (s == 0)
			break;
		if (++rounds > AUTH_ROUNDS_MAX) {
			cancel(x, "the server sent too many AUTH challenges",
			    err);
			goto out;
		}
		if (held != NULL) {
			/* The data that did not fit the AUTH line. */
			if (answer(x, held, err) == -1)
				goto out;
			held = NULL;
			continue;
		}
		if (x->sx == NULL) {
			/*
			 * OAuth: a challenge after the token carries the
			 * server's error; RFC 7628 and Google say to answer
			 * it with a dummy response and read the -ERR.
			 */
			if (answer(x, x->m == AUTH_OAUTHBEARER ? "AQ==" : "",
			    err) == -1)
				goto out;
			continue;
		}
		if (x->done) {
			cancel(x, "the server sent a challenge after the "
			    "exchange ended", err);
			goto out;
		}
		if (sasl_step(x, chal, &out, err) == -1)
			goto out;
		s = answer(x, out, err);
		free_secret(out);
		out = NULL;
		if (s == -1)
			goto out;
	}
	if (!r.ok) {
		refused(x, &r, err);
		goto out;
	}
	/* SCRAM's last step checks the server's proof; +OK before it is a fake. */
	if (!x->done) {
		error_set(err, EX_PROTOCOL, "the server accepted %s before "
		    "proving that it knows the password; not trusting it",
		    auth_method_name(x->m));
		goto out;
	}
	rc = 0;
out:
	free(chal);
	return rc;
}

/* The server hung up during AUTH: say after what. */
static void
lost_in_exchange(struct exchange *x, int rounds, struct error *err)
{
	char	step[128];

	snprintf(step, sizeof step, "%s AUTH %s%s", rounds == 0 ? "after" :
	    "during", auth_method_name(x->m), rounds == 0 ? "" : " (after "
	    "a response to its challenge)");
	if (x->io->lost != NULL)
		x->io->lost(x->io->arg, step, err);
	else
		error_prefix(err, "%s", step);
}

static int
is_scram(enum auth_method m)
{
	return m == AUTH_SCRAM_SHA_1 || m == AUTH_SCRAM_SHA_256 || is_plus(m);
}

/*
 * The i= of a SCRAM server-first message (base64 chal): 0 and *iter set,
 * or -1 when chal is not one (no i=, not a number: GNU SASL refuses it).
 */
static int
scram_iterations(const char *chal, unsigned long *iter)
{
	char		*dec = NULL, *raw, *a, *end;
	size_t		 len, n;
	int		 rc = -1;

	if (gsasl_base64_from(chal, strlen(chal), &dec, &len) != GSASL_OK)
		return -1;
	/* NUL-terminated, and cut at any NUL inside. */
	raw = xstrndup(dec, len);
	free(dec);
	len = strlen(raw);
	for (a = raw; a < raw + len; a += n + 1) {
		n = strcspn(a, ",");
		if (n > 2 && a[0] == 'i' && a[1] == '=' &&
		    a[2] >= '0' && a[2] <= '9') {
			errno = 0;
			*iter = strtoul(a + 2, &end, 10);
			if (errno == ERANGE)
				*iter = ULONG_MAX;
			rc = end == a + n || *end == ',' ? 0 : -1;
			break;
		}
	}
	free(raw);
	return rc;
}

/*
 * One GNU SASL step on the server's challenge chal: *out is the answer.
 * SCRAM's first step derives the key from the password, the one costly
 * step of a login; the server's iteration count is checked first, and a
 * stop request before and after, as every network wait does.
 */
static int
sasl_step(struct exchange *x, const char *chal, char **out,
    struct error *err)
{
	unsigned long	iter;
	int		s;

	*out = NULL;
	if (is_scram(x->m) && scram_iterations(chal, &iter) == 0 &&
	    iter > SCRAM_ITER_MAX) {
		char	why[160];

		snprintf(why, sizeof why, "the server asks for %lu iterations, "
		    "more than the %lu popfetch computes (real servers use "
		    "4096); not logging in", iter, SCRAM_ITER_MAX);
		cancel(x, why, err);
		return -1;
	}
	if (transport_check_stop(err) == -1)
		return -1;
	s = gsasl_step64(x->sx, chal, out);
	if (s != GSASL_OK && s != GSASL_NEEDS_MORE && x->why.ex != 0) {
		/*
		 * The key was not derived: a signal or the timeout ends the
		 * session as a network wait would; anything else is the
		 * server's doing.
		 */
		if (x->why.ex == EX_TEMPFAIL)
			*err = x->why;
		else
			cancel(x, x->why.msg, err);
		return -1;
	}
	if (s != GSASL_OK && s != GSASL_NEEDS_MORE) {
		cancel(x, gsasl_strerror(s), err);
		return -1;
	}
	x->done = s == GSASL_OK;
	if (transport_check_stop(err) == -1) {
		free_secret(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

/* GNU SASL asks for what it lacks; SCRAM's salted password comes from here. */
static int
sasl_callback(Gsasl *ctx, Gsasl_session *sx, Gsasl_property prop)
{
	struct exchange	*x = gsasl_session_hook_get(sx);

	(void)ctx;
	if (x == NULL || x->pass == NULL)
		return GSASL_NO_CALLBACK;
	switch (prop) {
	case GSASL_SCRAM_SALTED_PASSWORD:
		return salted_password(x, sx);
	case GSASL_PASSWORD:
		/* A library that does not ask for the salted one (capped). */
		if (x->why.ex != 0)
			return GSASL_NO_CALLBACK;
		gsasl_property_set(sx, GSASL_PASSWORD, x->pass);
		return GSASL_OK;
	default:
		return GSASL_NO_CALLBACK;
	}
}

/* SaltedPassword := Hi(Normalize(password), salt, i), as hex, into sx. */
static int
salted_password(struct exchange *x, Gsasl_session *sx)
{
	const char	*iter_s = gsasl_property_fast(sx, GSASL_SCRAM_ITER);
	const char	*salt = gsasl_property_fast(sx, GSASL_SCRAM_SALT);
	unsigned char	 key[PBKDF2_MAX_LEN];
	char		 hex[2 * PBKDF2_MAX_LEN + 1], *end;
	unsigned long	 iter;
	size_t		 i, len;
	int		 rc;

	if (iter_s == NULL || salt == NULL)
		return GSASL_NO_CALLBACK;
	errno = 0;
	iter = strtoul(iter_s, &end, 10);
	if (errno != 0 || end == iter_s || *end != '\0' ||
	    iter > SCRAM_ITER_MAX) {
		error_set(&x->why, EX_PROTOCOL, "the server asks for %s "
		    "iterations, more than the %lu popfetch computes", iter_s,
		    SCRAM_ITER_MAX);
		return GSASL_NO_CALLBACK;
	}
	log_debug(x->a->name, "%s: deriving the key (%lu iterations)",
	    auth_method_name(x->m), iter);
	if (derive(x, x->pass, salt, iter, key) == -1)
		return GSASL_NO_CALLBACK;
	len = x->m == AUTH_SCRAM_SHA_1 || x->m == AUTH_SCRAM_SHA_1_PLUS ? 20 :
	    32;
	for (i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", key[i]);
	rc = gsasl_property_set(sx, GSASL_SCRAM_SALTED_PASSWORD, hex);
	explicit_bzero(key, sizeof key);
	explicit_bzero(hex, sizeof hex);
	return rc;
}

/* The PBKDF2 of the SASLprep'd password, under the stop flag and timeout. */
static int
derive(struct exchange *x, const char *pass, const char *salt64,
    unsigned long iter, unsigned char *key)
{
	char		*prep = NULL, *salt = NULL;
	size_t		 saltlen;
	long long	 deadline = 0;
	int		 timeout, rc = -1;

	if (gsasl_saslprep(pass, GSASL_ALLOW_UNASSIGNED, &prep, NULL) !=
	    GSASL_OK || gsasl_base64_from(salt64, strlen(salt64), &salt,
	    &saltlen) != GSASL_OK) {
		error_set(&x->why, EX_PROTOCOL, "cannot prepare the password "
		    "or decode the server's salt");
		goto out;
	}
	if ((timeout = transport_timeout(x->io->t)) > 0)
		deadline = mono_now_ms() + (long long)timeout * 1000;
	rc = pbkdf2(x->m == AUTH_SCRAM_SHA_1 || x->m == AUTH_SCRAM_SHA_1_PLUS ?
	    PBKDF2_SHA1 : PBKDF2_SHA256, prep, strlen(prep), salt, saltlen,
	    iter, key, transport_stop_flag(), deadline, &x->why);
out:
	free_secret(prep);
	free(salt);
	return rc;
}

static int
answer(struct exchange *x, const char *line, struct error *err)
{
	return x->io->answer(x->io->arg, line, err);
}

/* Give up on the exchange: "*", then read the server's -ERR. */
static int
cancel(struct exchange *x, const char *why, struct error *err)
{
	struct sasl_reply	 r;
	char			*chal = NULL;
	int			 s;

	if (x->io->answer(x->io->arg, "*", err) == -1)
		return -1;
	s = x->io->reply(x->io->arg, &r, &chal, err);
	free(chal);
	if (s == -1)
		return -1;
	error_set(err, EX_PROTOCOL, "%s exchange failed: %s%s",
	    auth_method_name(x->m), why, s == 1 ? " (and the server would "
	    "not stop)" : "");
	return -1;
}

static void
refused(struct exchange *x, const struct sasl_reply *r, struct error *err)
{
	int	ex = r->ex != 0 ? r->ex : EX_NOPERM;

	if ((x->m == AUTH_XOAUTH2 || x->m == AUTH_OAUTHBEARER) &&
	    x->a->oauth_store != NULL)
		error_set(err, ex, "the server refused the OAuth token with "
		    "%s: %s (if the account's sign-in is gone, run popfetch "
		    "--authorize %s)", auth_method_name(x->m),
		    r->text[0] != '\0' ? r->text : "(no reason given)",
		    x->a->oauth_store);
	else if (x->m == AUTH_XOAUTH2 || x->m == AUTH_OAUTHBEARER)
		error_set(err, ex, "the server refused the OAuth token with "
		    "%s: %s (is passwordeval giving a fresh access token?)",
		    auth_method_name(x->m), r->text[0] != '\0' ? r->text :
		    "(no reason given)");
	else
		error_set(err, ex, "the server rejected AUTH %s: %s",
		    auth_method_name(x->m), r->text[0] != '\0' ? r->text :
		    "(no reason given)");
}

/* SASL output and the base64 around it may hold the password. */
static void
free_secret(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

int
sasl_command(const char *verb, const char *line, sasl_write_fn write,
    void *arg, struct error *err)
{
	char	*cmd, shown[64];
	int	 rc;

	snprintf(shown, sizeof shown, "%s %.*s%s", verb,
	    (int)strcspn(line, " "), line, strchr(line, ' ') != NULL ?
	    " (initial response not shown)" : "");
	xasprintf(&cmd, "%s %s", verb, line);
	rc = write(arg, cmd, shown, err);
	free_secret(cmd);
	return rc;
}
