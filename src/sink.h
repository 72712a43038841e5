/*
 * sink.h -- where a message goes: the delivery interface.
 *
 * A sink receives one message at a time: open, any number of writes (the
 * decoded message, LF line ends), then commit or abort.  commit returns
 * only once the message is durable (fsync'd, directory entry included):
 * only then may the UID be recorded and the message deleted on the
 * server.  abort removes every trace of the message.  After commit or
 * abort the sink may be opened for the next message.
 *
 * Group commit (optional per kind): sink_stage ends a message like
 * sink_commit, but may leave the last steps of durability (a directory
 * fsync, say) to the next sink_sync, which makes every message staged
 * since the previous sync durable at once.  Until sink_sync returns 0 a
 * staged message counts as not delivered: its UID is not yet durable and
 * it is not deleted on the server.  A kind without stage/sync ops commits
 * in sink_stage and has nothing to do in sink_sync.  Freeing a sink with
 * staged messages leaves them where a crash would.  A kind may also hand
 * the batch over in sync and have each message accepted or refused on
 * its own: its outcome op says which (IMAP).
 *
 * Errors from a sink are EX_IOERR (write failures, a full disk) or
 * EX_CANTCREAT (the mailbox cannot be created), with the path in the
 * message; EX_TEMPFAIL when a mailbox stayed locked by another program.
 * All of these stop the session.
 *
 * commit (and so sink_stage for a kind without a stage op) may also
 * return SINK_REFUSED: the sink worked, but the message was not delivered
 * and stays on the server, and the session goes on with the next message.  err says why; err->ex is EX_TEMPFAIL when a later run
 * should try again (an MDA exiting 75, or hanging past its timeout), and
 * EX_UNAVAILABLE when the delivery failed (an MDA's other exit statuses).
 * EX_UNAVAILABLE says that this message was refused (a 5xx reply, an IMAP
 * NO): fetch counts it towards delivery_reject_limit.  A destination
 * that fails as a whole (lost, unreachable, or refusing a new connection
 * it took earlier in the run) uses another class, so that no message is
 * set aside for it.
 */
#ifndef POPFETCH_SINK_H
#define POPFETCH_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "delivery.h"
#include "error.h"

/* What a sink may want to know about the message it is given. */
struct sink_msginfo {
	const char	*uid;		/* NULL when the server has no UIDL */
	uint64_t	 size;		/* LIST's size: a hint */
	/*
	 * NULL, or SINK_TAG_LEN lower-case hex digits naming this message of
	 * this account: a sink with a find op stores it with the message.
	 */
	const char	*tag;
};

/* sink_commit(): not delivered, but go on with the next message. */
#define SINK_REFUSED	1
#define SINK_TAG_LEN	16

struct sink;

struct sink_ops {
	const char	*name;
	int		(*open)(struct sink *, const struct sink_msginfo *,
			    struct error *);
	int		(*write)(struct sink *, const char *, size_t,
			    struct error *);
	/*
	 * NULL for a kind with stage, sync and outcome ops: sink_commit()
	 * then stages, syncs and gives the message's outcome.
	 */
	int		(*commit)(struct sink *, struct error *);
	void		(*abort)(struct sink *);
	void		(*free)(struct sink *);
	/* Optional (NULL): group commit, see above. */
	int		(*stage)(struct sink *, struct error *);
	int		(*sync)(struct sink *, struct error *);
	/*
	 * Optional (NULL: the sink cannot tell, so a delivery cut short
	 * between commit and the UID record is repeated).  1 when a message
	 * committed with tag is in the mailbox, made durable before
	 * returning, with leftovers of an unfinished delivery of it removed;
	 * 0 when it is not there; -1 with err set.
	 */
	int		(*find)(struct sink *, const char *tag, struct error *);
	/*
	 * Optional (NULL: every message a sync made durable is delivered),
	 * for a kind whose stage only queues a message and whose sync hands
	 * the batch over, each message accepted or not on its own (IMAP,
	 * several APPENDs in flight): after sink_sync() returned 0, what
	 * became of the i-th message staged before it (0 the first): 0
	 * delivered, or SINK_REFUSED with err set as commit's.  Valid until
	 * the next sink_open(); sink.c calls it only after a sync that
	 * returned 0, and only for an i that sync settled.  For such a kind
	 * sink.c calls sync once per batch, never for an empty one, with
	 * signals held until it returns.
	 */
	int		(*outcome)(struct sink *, size_t i, struct error *);
};

struct sink {
	const struct sink_ops	*ops;
	void			*data;		/* the kind's own state */
	int			 is_open;
	size_t			 staged;	/* staged since the last sync */
	int			 synced;	/* then synced: 1 whole, -1 failed */
	/*
	 * 0, or the most messages a sync should take, set by a kind that
	 * cannot find what it handed over (LMTP, SMTP, MDA): a kill -9 between
	 * the server's acceptance and the UID record delivers the whole
	 * batch again, so the batch is no larger than the kind's window.
	 */
	size_t			 batch_max;
};

/*
 * A fresh OAuth access token once refused (the one the destination
 * refused) was refused; the caller freezero_str()s it.  NULL with err:
 * EX_NOPERM when the sign-in must be done again (its message says how).
 */
typedef char	*(*sink_token_fn)(const void *arg, const char *refused,
		    struct error *err);

/* A destination, as the account describes it; the strings are the caller's. */
struct sink_dest {
	enum delivery_kind	 kind;
	const char		*arg;		/* as after `delivery KIND` */
	int			 mda_timeout;	/* seconds per MDA run */
	int			 timeout;	/* seconds per network wait */
	int			 tls;		/* SMTP: SMTP_TLS_* of smtp.h */
	const char		*tls_trust_file; /* NULL: the system's */
	const char		*password;	/* IMAP, SMTP: the login's, or NULL */
	const char		*user;		/* SMTP: AUTH as this, or NULL */
	int			 auth;		/* enum auth_method */
	const char		*oauth_store;	/* IMAP: the password is the
						   token of this account's
						   sign-in, or NULL */
	const char		*flags;		/* IMAP: APPEND's, or NULL */
	/* Gmail: the API's base URL, its neverMarkSpam, a token refresher. */
	const char		*api_url;
	int			 never_spam;
	sink_token_fn		 refresh;
	const void		*refresh_arg;
	/*
	 * IMAP, Gmail: the account's pending journal (destjournal.h), next
	 * to its UID state, opened when first needed (once the UID state is
	 * locked), or NULL for none (then nothing is found).
	 */
	const char		*journal;
	/*
	 * Names the account in the warnings and traces a sink logs itself
	 * (a stale lock removed, a partial message cut), so that they can
	 * be told apart under -j; it must outlive the sink.
	 */
	const char		*who;
	int			 probe;		/* sink_probe_new()'s: for
						   sink_find() alone */
};

/*
 * The sink for a `delivery`: checks/creates the mailbox now; a server's
 * settings are checked now, and it is connected to when the first
 * message is handed over (its sync, or a find), so that a run without
 * new mail never touches it.  A server that cannot be reached then fails
 * that sync (EX_TEMPFAIL): the session ends and nothing is deleted.
 */
struct sink	*sink_new(const struct sink_dest *, struct error *);
/*
 * A sink for sink_find only, that changes nothing (for --dry-run): it
 * creates no mailbox, takes no lock, repairs and syncs nothing, and finds
 * nothing in a mailbox that does not exist.  NULL when the kind cannot
 * find messages (MDA).
 */
struct sink	*sink_probe_new(enum delivery_kind, const char *arg);
void		 sink_free(struct sink *);

int	sink_open(struct sink *, const struct sink_msginfo *, struct error *);
int	sink_write(struct sink *, const char *, size_t, struct error *);
int	sink_commit(struct sink *, struct error *);
void	sink_abort(struct sink *);
int	sink_stage(struct sink *, struct error *);
int	sink_sync(struct sink *, struct error *);
/* The outcome op, or 0 when the kind has none. */
int	sink_outcome(struct sink *, size_t i, struct error *);
/* The find op, or -1 with EX_SOFTWARE when the kind has none. */
int	sink_find(struct sink *, const char *tag, struct error *);
/* 1 when the kind can find a message it delivered. */
int	sink_can_find(const struct sink *);
/* The most messages to stage before a sync: the kind's, or dflt. */
size_t	sink_batch_max(const struct sink *, size_t dflt);

/*
 * One constructor per kind, the rows of sink.c's table of kinds; with
 * dest->probe, the sink sink_probe_new() describes.
 */
/* Deliver into the maildir dest->arg. */
struct sink	*sink_maildir_new(const struct sink_dest *, struct error *);
/* Append to the mbox file dest->arg (created 0600 now if missing). */
struct sink	*sink_mbox_new(const struct sink_dest *, struct error *);
/* Pipe each message into /bin/sh -c dest->arg; see sink-mda.c. */
struct sink	*sink_mda_new(const struct sink_dest *, struct error *);
/*
 * Hand each message to an LMTP server (arg "ADDRESS [RECIPIENT]") or an
 * SMTP server (arg "HOST[:PORT] RECIPIENT"); see sink-smtp.c.  Checks
 * the settings now, and connects at the first sync.
 */
struct sink	*sink_smtp_new(const struct sink_dest *, struct error *);
/* APPEND each message to an IMAP folder (arg a URL); see sink-imap.c. */
struct sink	*sink_imap_new(const struct sink_dest *, struct error *);
/*
 * Import each message into Gmail through its API (arg the labels, maybe
 * ""); see sink-gmail.c.  The password is the OAuth access token.
 */
struct sink	*sink_gmail_new(const struct sink_dest *, struct error *);

#endif
