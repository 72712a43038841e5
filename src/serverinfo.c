/* serverinfo.c -- popfetch --serverinfo; see serverinfo.h. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "connect.h"
#include "pop3.h"
#include "serverinfo.h"
#include "transport.h"

static void	put_clean(FILE *, const char *);
static void	print_value(FILE *, const char *, const char *);
static void	print_time(FILE *, const char *, time_t);
static int	print_tls(FILE *, const struct account *, struct transport *,
		    struct error *);
static void	print_caps(FILE *, const struct pop3_caps *);

/* Server text goes to a terminal: no control characters get through. */
static void
put_clean(FILE *f, const char *s)
{
	for (; *s != '\0'; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, f);
}

static void
print_value(FILE *f, const char *label, const char *s)
{
	fprintf(f, "  %-15s ", label);
	put_clean(f, s);
	fputc('\n', f);
}

static void
print_time(FILE *f, const char *label, time_t t)
{
	struct tm	tm;
	char		buf[64];

	if (t == (time_t)-1 || gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		strlcpy(buf, "(unknown)", sizeof buf);
	print_value(f, label, buf);
}

static int
print_tls(FILE *f, const struct account *a, struct transport *t,
    struct error *err)
{
	struct tls_certinfo	ci;
	time_t			now = time(NULL);

	if (!transport_is_tls(t)) {
		fprintf(f, "TLS: off (everything, the password too, crosses the "
		    "network unencrypted)\n");
		return 0;
	}
	fprintf(f, "TLS: %s, %s\n",
	    account_tls_mode(a, NULL) == TLS_MODE_STLS ?
	    "STLS on a plain connection" : "implicit", transport_tls_desc(t));
	if (transport_certinfo(t, &ci, err) == -1)
		return -1;
	fprintf(f, "Certificate:\n");
	print_value(f, "Subject:", ci.subject);
	print_value(f, "Issuer:", ci.issuer);
	print_time(f, "Not before:", ci.not_before);
	print_time(f, "Not after:", ci.not_after);
	if (ci.not_after != (time_t)-1 && ci.not_after < now)
		fprintf(f, "  (expired)\n");
	print_value(f, "SHA-256:", ci.sha256);
	fprintf(f, "  To pin it, add to the account:\n"
	    "    tls_fingerprint %s\n", ci.sha256);
	tls_certinfo_free(&ci);
	return 0;
}

void
serverinfo_expire_text(long expire, char *buf, size_t size)
{
	if (expire == -2)
		snprintf(buf, size, "messages are never deleted by the server");
	else if (expire == 0)
		snprintf(buf, size, "messages are deleted as soon as they are "
		    "retrieved ('keep on' cannot keep them)");
	else
		snprintf(buf, size, "messages are deleted %ld day%s after "
		    "retrieval", expire, expire == 1 ? "" : "s");
}

void
serverinfo_login_delay_text(long delay, char *buf, size_t size)
{
	snprintf(buf, size, "logins at most every %ld second%s", delay,
	    delay == 1 ? "" : "s");
}

static void
print_caps(FILE *f, const struct pop3_caps *c)
{
	char	buf[128];

	if (!c->known) {
		fprintf(f, "Capabilities: unknown (the server does not "
		    "support CAPA)\n");
		return;
	}
	fprintf(f, "Capabilities (before login):\n");
	if (c->implementation != NULL)
		print_value(f, "IMPLEMENTATION", c->implementation);
	if (c->user)
		print_value(f, "USER", "login with USER and PASS");
	if (c->sasl != NULL)
		print_value(f, "SASL", c->sasl);
	if (c->stls)
		print_value(f, "STLS", "TLS on the plain port");
	if (c->top)
		print_value(f, "TOP", "headers without the whole message");
	if (c->uidl)
		print_value(f, "UIDL", "unique message ids ('keep on' works)");
	else
		print_value(f, "(no UIDL)", "'keep on' cannot work");
	if (c->pipelining)
		print_value(f, "PIPELINING", "many commands per round trip");
	if (c->resp_codes)
		print_value(f, "RESP-CODES", "error replies say why");
	if (c->auth_resp_code)
		print_value(f, "AUTH-RESP-CODE", "login failures say why");
	if (c->utf8)
		print_value(f, "UTF8", "UTF-8 user names and passwords");
	if (c->expire != -1) {
		serverinfo_expire_text(c->expire, buf, sizeof buf);
		print_value(f, "EXPIRE", buf);
	}
	if (c->login_delay != -1) {
		serverinfo_login_delay_text(c->login_delay, buf, sizeof buf);
		print_value(f, "LOGIN-DELAY", buf);
	}
}

int
serverinfo_print(const struct account *a, FILE *f, struct error *err)
{
	struct pop3	*p = NULL;
	const char	*greeting, *why;
	enum tls_mode	 mode;
	int		 rc = -1;

	if (connect_session(a, &p, err) == -1)
		goto out;
	mode = account_tls_mode(a, &why);
	fprintf(f, "Account %s: %s port %d, %s (%s)\n", a->name, a->host,
	    account_port(a), account_tls_mode_name(mode), why);
	greeting = pop3_greeting_text(p);
	fprintf(f, "Greeting: ");
	put_clean(f, greeting != NULL ? greeting : "");
	fputc('\n', f);
	if (print_tls(f, a, pop3_transport(p), err) == -1)
		goto out;
	print_caps(f, pop3_caps(p));
	if (pop3_apop_offered(p))
		fprintf(f, "APOP: offered (the greeting carries a timestamp)\n");
	if (fflush(f) == EOF) {
		error_set(err, EX_IOERR, "cannot write the server information");
		goto out;
	}
	/* Politeness only: nothing depends on the answer. */
	(void)pop3_quit_nowait(p, err);
	error_clear(err);
	rc = 0;
out:
	pop3_free(p);
	return rc;
}
