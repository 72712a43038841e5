/*
 * auth.h -- logging in: choosing a mechanism and running the SASL
 * exchange (RFC 5034) through GNU SASL, or USER/PASS and APOP through
 * pop3_login().
 *
 * auth auto tries, strongest first, every method both sides have.  Over
 * TLS: SCRAM-SHA-256-PLUS, SCRAM-SHA-1-PLUS, SCRAM-SHA-256, SCRAM-SHA-1,
 * PLAIN, LOGIN, USER/PASS, APOP.  Without TLS (possible only with `tls
 * off` set by name): SCRAM-SHA-256, SCRAM-SHA-1, CRAM-MD5, APOP, USER/PASS.
 * A method the server refuses with a plain -ERR leads to the next one,
 * unless it handed over the password itself (PLAIN, LOGIN, USER): that
 * refusal, a temporary failure, a broken exchange or a server that could
 * not prove it knows the password ends the login (see worth_next() in
 * auth.c).  A server that hangs up after a refusal gets the next method
 * on a new connection (AUTH_RECONNECT).  OAuth (XOAUTH2, OAUTHBEARER), EXTERNAL and GSSAPI are used
 * only when named.
 *
 * A SASL mechanism named by the user is sent only when the server's CAPA
 * lists it (else EX_UNAVAILABLE naming what it lists, nothing sent); a
 * server without CAPA gets it anyway.  Without TLS, a method that hands
 * over the password itself (USER, PLAIN, LOGIN) is warned about once per
 * account and process (log_once).  A server that hangs up during the
 * login is named with the step (pop3_lost_at).
 *
 * Errors: a -ERR to AUTH is EX_NOPERM with the server's text, unless its
 * response code says the failure is temporary (EX_TEMPFAIL); a server that
 * breaks the exchange is EX_PROTOCOL; a mechanism the library lacks is
 * EX_UNAVAILABLE.  SCRAM's key derivation (the one costly step, its cost
 * set by the server) is capped at 1,000,000 iterations (EX_PROTOCOL
 * above) and ends like a network wait on a stop signal or the timeout
 * (EX_TEMPFAIL).  Neither the password, the token nor any SASL payload
 * ever reaches the trace or an error message.
 */
#ifndef POPFETCH_AUTH_H
#define POPFETCH_AUTH_H

#include "error.h"

struct pop3;

/* How to log in; the names and the choice for auto are below. */
enum auth_method {
	AUTH_AUTO = 0,
	AUTH_USER,
	AUTH_APOP,
	AUTH_PLAIN,
	AUTH_LOGIN,
	AUTH_CRAM_MD5,
	AUTH_SCRAM_SHA_1,
	AUTH_SCRAM_SHA_1_PLUS,
	AUTH_SCRAM_SHA_256,
	AUTH_SCRAM_SHA_256_PLUS,
	AUTH_XOAUTH2,
	AUTH_OAUTHBEARER,
	AUTH_EXTERNAL,
	AUTH_GSSAPI,
};

/* "scram-sha-256" etc. (case-insensitive) to a method; -1 if unknown. */
int		 auth_method_parse(const char *, enum auth_method *);
/* The SASL mechanism or command name: "SCRAM-SHA-256", "USER", "auto". */
const char	*auth_method_name(enum auth_method);
/* Whether the method needs a password or token (EXTERNAL, GSSAPI don't). */
int		 auth_needs_password(enum auth_method);

/*
 * What auth auto has tried so far, kept across connections: some servers
 * (solid-pop3d, qpopper) hang up after refusing one method, so the next
 * one must go on a new connection.  Zero it before the first auth_login().
 */
struct auth_progress {
	unsigned	 done;		/* bit per enum auth_method: refused */
	char		 tried[256];	/* "SCRAM-SHA-256, PLAIN", for errors */
	unsigned	 refusals;	/* how many methods were refused */
	const char	*oauth_store;	/* set by the caller to the account's
					   name when the OAuth token comes
					   from popfetch's token store (a
					   refusal says to run --authorize),
					   not from passwordeval */
};

/* auth_login() returned this: the server hung up; reconnect, call again. */
#define AUTH_RECONNECT	1

/*
 * Log in on p (after CAPA, and after STLS when used) as user with method
 * (host and port name the server for GSSAPI and OAUTHBEARER, name the
 * account in log lines); pass is the password or OAuth token,
 * NULL when auth_needs_password() is false.
 * 0 when logged in, -1 on failure (err), or AUTH_RECONNECT when auth auto
 * has a method left but the server closed the connection after refusing
 * the one before (err says so, for the log): call again on a new
 * connection with the same progress.  Each method is tried at most once,
 * so the reconnections end.
 */
int		 auth_login(struct pop3 *, enum auth_method, const char *user,
		    const char *host, int port, const char *name,
		    const char *pass, struct auth_progress *, struct error *);

/*
 * For auth auto with an OAuth token: XOAUTH2 when the server offers it
 * (Microsoft and Google do), else OAUTHBEARER when it does, else
 * AUTH_AUTO: the server takes no OAuth token.
 */
enum auth_method auth_oauth_method(struct pop3 *);

/*
 * The protocol-neutral SASL layer: one mechanism's exchange (GNU SASL,
 * or XOAUTH2/OAUTHBEARER) with the command framing a protocol gives.
 * POP3 (RFC 5034: "AUTH M [IR]", "+ b64") is auth_login()'s; SMTP
 * (RFC 4954: "AUTH M [IR]", "334 b64") is smtp.c's.
 */
struct transport;

struct sasl_reply {
	int	 ok;		/* the exchange's final answer is yes */
	int	 ex;		/* for a no: the class (EX_TEMPFAIL...), or 0 */
	char	 text[512];	/* the server's words, terminal-safe */
};

struct sasl_io {
	void		*arg;		/* the protocol's connection */
	struct transport *t;		/* channel binding, the timeout */
	const char	*service;	/* GSSAPI/SCRAM service: "pop", "smtp" */
	size_t		 cmd_max;	/* longest "AUTH M IR" line */
	/* Send "AUTH " line ("MECH" or "MECH IR"); never traced. */
	int		(*send)(void *, const char *line, struct error *);
	/*
	 * Read the next reply: 1 with the base64 challenge in *chal
	 * (allocated), 0 with the final answer in r, -1 on failure.
	 */
	int		(*reply)(void *, struct sasl_reply *r, char **chal,
			    struct error *);
	/* Send one answer line (base64, or "*" to cancel); never traced. */
	int		(*answer)(void *, const char *line, struct error *);
	/*
	 * The server hung up at step: set err saying so.  NULL: err gets
	 * step in front of the transport's message.
	 */
	void		(*lost)(void *, const char *step, struct error *);
};

/*
 * A sasl_io's send for a protocol whose command is "VERB LINE" (SMTP's
 * AUTH, IMAP's AUTHENTICATE): builds the command, hands it to write with
 * what the trace may show of it (the verb and the mechanism, never the
 * initial response, which holds secrets), and wipes it after.  Returns
 * what write returned.
 */
typedef int	(*sasl_write_fn)(void *arg, const char *cmd, const char *shown,
		    struct error *);
int		 sasl_command(const char *verb, const char *line,
		    sasl_write_fn write, void *arg, struct error *);

/*
 * Log in over io with the SASL mechanism m (not AUTH_AUTO, USER, APOP).
 * oauth_store as in struct auth_progress.  0 when logged in, else -1
 * with err as for auth_login().
 */
int		 sasl_login(const struct sasl_io *, enum auth_method,
		    const char *user, const char *host, int port,
		    const char *name, const char *pass,
		    const char *oauth_store, struct error *);

#endif
