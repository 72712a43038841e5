/* serverinfo.c -- popfetch --serverinfo; see serverinfo.h. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "connect.h"
#include "pop3.h"
#include "serverinfo.h"
#include "termsafe.h"
#include "transport.h"
#include "xmalloc.h"

static void	put_clean(FILE *, const char *);
static void	print_value(FILE *, const char *, const char *);
static void	print_time(FILE *, const char *, time_t);
static int	print_tls(FILE *, const struct account *, struct transport *,
		    struct error *);
static void	print_caps(FILE *, const struct pop3_caps *, int);
static void	print_lines(FILE *, const struct pop3_caps *);
static int	known_word(const char *);

/* Server text goes to a terminal: through termsafe(). */
static void
put_clean(FILE *f, const char *s)
{
	size_t	 len = strlen(s);
	char	*buf = xmalloc(TERMSAFE_SIZE(len));

	(void)termsafe(s, len, buf, TERMSAFE_SIZE(len));
	fputs(buf, f);
	free(buf);
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

/* Whether popfetch knows the capability line starts with. */
static int
known_word(const char *line)
{
	static const char *const words[] = { "TOP", "USER", "UIDL",
	    "PIPELINING", "STLS", "RESP-CODES", "AUTH-RESP-CODE", "UTF8",
	    "SASL", "IMPLEMENTATION", "EXPIRE", "LOGIN-DELAY" };
	size_t	i, n = strcspn(line, " ");

	for (i = 0; i < sizeof words / sizeof words[0]; i++)
		if (strlen(words[i]) == n && strncasecmp(line, words[i], n) == 0)
			return 1;
	return 0;
}

/* Every line as the server sent it: what a user asks -S about. */
static void
print_lines(FILE *f, const struct pop3_caps *c)
{
	size_t	i;

	fprintf(f, "Capabilities (before login), as the server sent them:\n");
	for (i = 0; i < c->nlines; i++) {
		fputs("    ", f);
		put_clean(f, c->lines[i]);
		fputs(known_word(c->lines[i]) ? "\n" :
		    "    (not known to popfetch)\n", f);
	}
}

static void
print_caps(FILE *f, const struct pop3_caps *c, int utf8_on)
{
	char	buf[128];

	if (!c->known) {
		fprintf(f, "Capabilities: unknown (the server does not "
		    "support CAPA)\n");
		return;
	}
	print_lines(f, c);
	fprintf(f, "What they mean:\n");
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
		print_value(f, "UTF8", utf8_on ? "popfetch sends UTF8, so "
		    "messages with UTF-8 headers arrive as stored (RFC 6856)" :
		    "the server refused popfetch's UTF8: messages with UTF-8 "
		    "headers may not arrive as stored");
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
	print_caps(f, pop3_caps(p), pop3_utf8_on(p));
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
