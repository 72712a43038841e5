/*
 * pop3.h -- the POP3 client (RFC 1939, 2449, 2595, 3206).
 *
 * The client talks to a struct transport only.  Commands are queued with
 * pop3_send() and their replies read back, oldest first, with
 * pop3_reply(); a multi-line reply's body is then read with
 * pop3_read_body() or pop3_read_lines().  Nothing here assumes that a
 * command waits for its reply: the caller decides how many commands are
 * in flight (one, unless the server announced PIPELINING).
 *
 * Everything from the server is treated as hostile: lines are bounded,
 * numbers checked, UIDs validated, counts capped.  The --debug trace
 * never shows a secret: commands sent with P3_SECRET are traced with
 * their argument replaced by "***".
 *
 * Errors: a -ERR is classified by its response code (RFC 2449/3206):
 * [IN-USE], [LOGIN-DELAY], [SYS/TEMP] EX_TEMPFAIL; [AUTH] EX_NOPERM;
 * [SYS/PERM] EX_UNAVAILABLE; others as the caller says.  Malformed replies
 * are EX_PROTOCOL.  Transport failures keep the transport's class.
 */
#ifndef POPFETCH_POP3_H
#define POPFETCH_POP3_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "msg.h"
#include "pop3-parse.h"
#include "transport.h"

/*
 * Commands in flight with PIPELINING: enough to keep a long fat link busy
 * (a window of 64 small messages drains in far less than a 50 ms round
 * trip), and at ~13 bytes a command still far below what the two socket
 * buffers hold, so the server never stops reading while we write.
 */
#define POP3_WINDOW		1000

enum pop3_cmd {
	P3_CAPA, P3_STLS, P3_USER, P3_PASS, P3_APOP, P3_STAT, P3_LIST,
	P3_UIDL, P3_RETR, P3_TOP, P3_DELE, P3_NOOP, P3_RSET, P3_QUIT,
	P3_AUTH, P3_UTF8,
};

/* What CAPA said.  expire: -1 not announced, -2 NEVER, else days. */
struct pop3;

/* The client takes ownership of the transport.  acct names log lines. */
struct pop3	*pop3_new(struct transport *, const char *acct);
void		 pop3_free(struct pop3 *);
struct transport *pop3_transport(struct pop3 *);

/* Read the greeting; keeps the APOP timestamp if there is one. */
int	pop3_greeting(struct pop3 *, struct error *);
/* The greeting's text after "+OK ", printable, cut; NULL before it. */
const char *pop3_greeting_text(const struct pop3 *);
/* CAPA; a -ERR leaves caps.known 0 and is not an error. */
int	pop3_capa(struct pop3 *, struct error *);
const struct pop3_caps *pop3_caps(const struct pop3 *);
/*
 * `pipelining off`: one command in flight at a time, even where CAPA
 * offers PIPELINING.  Call before pop3_capa().
 */
void	pop3_lockstep(struct pop3 *);
/*
 * After the last CAPA before login: UTF8 (RFC 6856) when the server
 * lists it, so that it serves messages with UTF-8 headers as it holds
 * them (Courier sends a notice in their place otherwise).  A -ERR is no
 * error: the session goes on without.
 */
int	pop3_utf8(struct pop3 *, struct error *);
/* Whether the server accepted UTF8. */
int	pop3_utf8_on(const struct pop3 *);
/*
 * After the login's final +OK, CAPA again when the server answered it
 * before (RFC 2449 §5: a proxy answers the first one itself, the mail
 * store after login).  Queued only, its answer read by pop3_scan(), when
 * the list before login allowed PIPELINING; else one round trip.  The
 * new list replaces the old; a -ERR keeps the old one.
 */
int	pop3_recapa(struct pop3 *, struct error *);
/*
 * A login step failed with err: when the server hung up instead of
 * answering, say so and at which step ("after the password (...)"); the
 * class stays.
 */
void	pop3_lost_at(struct pop3 *, const char *step, struct error *);
/* STLS then the TLS handshake; forgets the capabilities. */
int	pop3_stls(struct pop3 *, const struct tls_params *, struct error *);
/*
 * Log in as user with pass: APOP when apop is set, else USER and PASS
 * (pipelined together with PIPELINING).  A -ERR is EX_NOPERM unless its
 * code says the failure is temporary.
 */
int	pop3_login(struct pop3 *, int apop, const char *user,
	    const char *pass, struct error *);
/* Whether the greeting carried an APOP timestamp. */
int	pop3_apop_offered(const struct pop3 *);
/* LIST, and UIDL when the server has it (want_uids), into scan. */
int	pop3_scan(struct pop3 *, int want_uids, struct pop3_scan *,
	    struct error *);
void	pop3_scan_free(struct pop3_scan *);
/*
 * LIST and UIDL are sent only once the login's final +OK was read, never
 * pipelined behind PASS, APOP or AUTH: Cyrus drops input that arrives
 * before authentication completes, and Courier's and qmail's login
 * programs exec the mail daemon after PASS, losing what they had read.
 */

/*
 * Queue a command; arg may be NULL.  P3_SECRET hides arg in the trace.
 * tag is handed back by pop3_reply() for the caller's bookkeeping.
 */
#define P3_SECRET	0x1
int	pop3_send(struct pop3 *, enum pop3_cmd, const char *arg, int flags,
	    unsigned long tag, struct error *);
/* Commands queued or sent whose status line has not been read yet. */
size_t	pop3_inflight(const struct pop3 *);

struct pop3_reply {
	enum pop3_cmd	 cmd;
	unsigned long	 tag;
	int		 ok;		/* +OK */
	int		 multiline;	/* a body follows; read it */
	char		 text[512];	/* after "+OK "/"-ERR ", made
					   terminal-safe (termsafe.h), cut */
	int		 ex;		/* for -ERR: class from the response code, 0 if none */
};

/*
 * Flush what is queued and read the status line of the oldest command in
 * flight.  A -ERR is not an error here (returns 0 with ok 0); a reply
 * that is neither +OK nor -ERR is EX_PROTOCOL.
 */
int	pop3_reply(struct pop3 *, struct pop3_reply *, struct error *);

/*
 * Read the body of a multi-line reply through a message stream whose
 * output is out/arg (RETR, TOP).  Returns 0 at the terminating line.
 */
int	pop3_read_body(struct pop3 *, msg_out_fn out, void *arg,
	    struct error *);

/*
 * Send QUIT and read its reply: only a +OK means the server entered the
 * UPDATE state and carried out the DELEs.
 */
int	pop3_quit(struct pop3 *, struct error *);
/*
 * Send QUIT without reading the reply, for a session that deleted
 * nothing: the answer could change nothing, and waiting costs a round
 * trip.  Nothing but pop3_free() may follow.
 */
int	pop3_quit_nowait(struct pop3 *, struct error *);

/*
 * Parse a status line (first, flen bytes, line end included or not) into
 * r: 0 for +OK or -ERR, -1 (EX_PROTOCOL) for anything else.  The reply
 * parser's entry point, for pop3.c and the fuzz target.
 */
int	pop3_parse_status(const char *first, size_t flen, struct pop3_reply *,
	    struct error *);

/*
 * The AUTH exchange (RFC 5034), driven by auth.c.  Queue "AUTH MECH [IR]"
 * with pop3_send(P3_AUTH, ..., P3_SECRET); then pop3_auth_reply() returns
 * 1 with the server's base64 challenge in *chal (allocated, undecoded;
 * "" for an empty one) while the exchange goes on, or 0 with r holding
 * AUTH's final +OK/-ERR.  Answer each challenge with pop3_auth_answer()
 * (base64, or "*" to cancel).  The trace shows neither challenges nor
 * answers.
 */
#define POP3_AUTH_LINE_MAX	65536
int	pop3_auth_reply(struct pop3 *, struct pop3_reply *, char **chal,
	    struct error *);
int	pop3_auth_answer(struct pop3 *, const char *line, struct error *);

/* Human text for a -ERR: "the server said: <text>" style helpers. */
const char *pop3_cmd_name(enum pop3_cmd);

#endif
