/*
 * fetch.c -- one account's pipeline; see fetch.h.
 *
 * connect -> (TLS) -> greeting -> CAPA -> (STLS, CAPA) -> login -> LIST +
 * UIDL -> RETR each new message into the sink -> commit (fsync) -> record
 * the UID (fsync) -> DELE -> QUIT -> rewrite the UID state.
 *
 * RETR and DELE go through one loop that keeps up to a window of commands
 * in flight: one without PIPELINING, POP3_WINDOW with it.  Replies come
 * back in order, so each is handled as it arrives.
 *
 * Delivery is group-committed: each message is staged in the sink; every
 * FETCH_BATCH messages (or FETCH_BATCH_BYTES, or the sink's own smaller
 * batch: LMTP and SMTP, which cannot be asked afterwards what they took,
 * keep to their transactions in flight), and when no RETR is left in
 * flight, one sink sync makes the whole batch durable (a sink with an
 * outcome op may say then that some of it was refused), the accepted
 * messages' UIDs are appended to the state with one fsync, and only then
 * are their DELEs queued.  With PIPELINING the QUIT rides with the last
 * DELEs.
 *
 * A message is staged only once the status line after it has parsed
 * (the next reply in flight, or a NOOP's): if its terminator was not the
 * real end, what follows is no reply, and the message is thrown away.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "buf.h"
#include "connect.h"
#include "fetch.h"
#include "fnv.h"
#include "log.h"
#include "msgevent.h"
#include "oauth.h"
#include "password.h"
#include "pop3.h"
#include "progress.h"
#include "received.h"
#include "sink.h"
#include "socks.h"
#include "survey.h"
#include "transport.h"
#include "uidstate.h"
#include "uidstate-mpop.h"
#include "xmalloc.h"

#define FETCH_BATCH	64	/* messages per group commit */
/*
 * ... or fewer when they add up to this many bytes: an mbox stays locked
 * while its batch is written and fsync'd, and a mail reader waiting for it
 * should not notice (16 MiB: a fraction of a second on a disk of today).
 */
#define FETCH_BATCH_BYTES	(16 * 1024 * 1024)
/*
 * Courier's POP3 server, to a client that did not send UTF8 (RFC 6856),
 * serves a message whose headers are UTF-8 as a notice of its own that
 * begins so (courierpop3d's text; the message stays on the server).
 */
#define COURIER_NOTICE	"From: Mail Delivery Subsystem <postmaster>\n" \
	"Subject: Cannot display Unicode content\n"
#define SUBSTITUTE_HEAD	128

/* What became of a message refused in delivery_reject_limit runs. */
#define ASIDE_NONE	0
#define ASIDE_REJECT	1	/* delivered to reject_maildir instead */
#define ASIDE_LEFT	2	/* left on the server, not tried */

struct session {
	const struct account	*a;
	struct fetch_stats	*st;
	struct pop3		*p;
	struct sink		*sink;
	struct sink		*reject;	/* reject_maildir's, or NULL */
	struct sink		*cur;		/* the message's: sink or reject */
	char			*aside;		/* per scan index: ASIDE_* */
	struct sink		*batch_sink;	/* the staged messages' */
	struct uidstate		*us;
	struct mpop_uidls	*mu;		/* uidls_file is mpop's, or NULL */
	struct pop3_scan	 scan;
	int			 deleting;	/* keep off */
	size_t			*todo;		/* scan indexes to retrieve */
	size_t			 ntodo;
	size_t			*dq;		/* scan indexes to DELE */
	size_t			 dq_head, dq_tail;
	char			*deleted;	/* per scan index: DELE accepted */
	uint64_t		 msg_bytes;	/* of the message being read */
	uint64_t		 size_limit;	/* skipsize/killsize; 0: none */
	int			 oversize;	/* it grew past size_limit */
	char			 head[SUBSTITUTE_HEAD]; /* its first bytes */
	size_t			 headlen;
	const struct fetch_opts	*fo;
	struct progress		 pg;		/* when fo->progress */
	size_t			*staged;	/* delivered, not yet durable */
	uint64_t		*staged_len;	/* their sizes */
	size_t			 nstaged;
	uint64_t		 staged_bytes;
	size_t			 retr_inflight;
	int			 held;		/* a message read, not yet staged */
	size_t			 held_tag;	/* its scan index */
	int			 noop_sent;	/* behind the last RETR */
	int			 quit_sent;	/* pipelined after the last DELE */
	int			 quit_done;	/* QUIT's +OK read */
	time_t			 now;		/* when the session started */
	volatile sig_atomic_t	*stop;		/* see struct fetch_opts */
	char			 localhost[256]; /* for the Received: line */
	struct msgevents	 ev;		/* log_format json */
};

static int	connect_and_login(struct session *, char **,
		    struct error *);
static void	session_init(struct session *, const struct account *,
		    const struct fetch_opts *, struct fetch_stats *);
static int	open_local(struct session *, struct error *);
static int	delivery_keys_fit(const struct account *, struct error *);
static char	*refresh_token(const void *, const char *, struct error *);
static const struct account *signin_of(const struct account *,
		    struct error *);
static char	*journal_path(const struct account *, const char *, int);
static int	open_sink(struct session *, struct sink_dest *,
		    struct error *);
static struct uidstate *open_state(struct session *, const char *,
		    struct error *);
static int	open_mpop(struct session *, char *, struct error *);
static int	write_mpop(struct session *, int, struct error *);
static int	plan(struct session *, struct error *);
static int	mark_pending(struct session *, struct error *);
static struct sink *sink_for(const struct session *, size_t);
static int	open_reject(struct session *, struct error *);
static int	classify_aside(struct session *, size_t, struct error *);
static void	tell_aside(const struct session *);
static void	count_refusal(struct session *, const struct pop3_msg *,
		    const struct error *);
static void	log_rejected(const struct session *, size_t);
static int	delivered_before(struct session *, const struct pop3_msg *,
		    int *, struct error *);
static int	expired(const struct session *, const struct pop3_msg *);
static void	make_tag(const struct session *, const char *, char *);
static void	count_new(struct session *);
static int	choose(struct session *, struct error *);
static void	count_left(struct session *);
static void	left_for_later(struct session *, const struct pop3_msg *,
		    const char *);
static int	look(struct session *, struct error *);
static void	progress_begin(struct session *);
static int	transfer(struct session *, struct error *);
static int	send_next(struct session *, size_t *, struct error *);
static int	confirm_held(struct session *, struct error *);
static int	next_reply(struct session *, struct pop3_reply *,
		    struct error *);
static int	got_retr(struct session *, const struct pop3_reply *,
		    struct error *);
static int	got_dele(struct session *, const struct pop3_reply *,
		    struct error *);
static int	got_quit(struct session *, const struct pop3_reply *,
		    struct error *);
static int	sync_batch(struct session *, struct error *);
static int	accepted(struct session *, struct error *);
static int	deliver_out(void *, const char *, size_t, struct error *);
static int	write_received(struct session *, struct error *);
static int	not_delivered(struct session *, const struct pop3_msg *,
		    const struct error *);
static int	sink_summary(struct session *, struct error *);
static int	is_substitute(const struct session *);
static int	finish(struct session *, struct error *);
static void	session_free(struct session *);

/*
 * Connect and log in; again on a new connection while auth auto has a
 * method left for a server that hung up after refusing one, and once
 * with a refreshed OAuth token when the server refused the stored one
 * (revoked early, or a clock that differs from the server's).
 */
static int
connect_and_login(struct session *s, char **pass, struct error *err)
{
	struct auth_progress	ap;
	enum auth_method	m;
	char			*fresh;
	int			rc, oauth = oauth_in_use(s->a), refreshed = 0;

	memset(&ap, 0, sizeof ap);
	for (;;) {
		ap.oauth_store = oauth ? s->a->name : NULL;
		if (connect_session(s->a, &s->p, err) == -1)
			return -1;
		m = oauth && s->a->pop.auth == AUTH_AUTO ?
		    auth_oauth_method(s->p) : s->a->pop.auth;
		if (oauth && m == AUTH_AUTO) {
			error_set(err, EX_UNAVAILABLE, "the server offers "
			    "neither XOAUTH2 nor OAUTHBEARER, so it takes no "
			    "OAuth token (see popfetch -S)");
			return -1;
		}
		rc = auth_login(s->p, m, s->a->pop.user, s->a->host,
		    account_port(s->a), s->a->name, *pass, &ap, err);
		/* Behind a proxy, what the mail store offers counts. */
		if (rc == 0)
			return pop3_recapa(s->p, err);
		if (rc == -1 && oauth && !refreshed && err->ex == EX_NOPERM) {
			log_verbose(s->a->name, "the server refused the OAuth "
			    "access token; refreshing it once");
			refreshed = 1;
			error_clear(err);
			if ((fresh = oauth_access_token(s->a, *pass, err)) ==
			    NULL)
				return -1;
			freezero_str(*pass);
			*pass = fresh;
			memset(&ap, 0, sizeof ap);
		} else if (rc != AUTH_RECONNECT)
			return rc;
		pop3_free(s->p);
		s->p = NULL;
		error_clear(err);
	}
}

/* Decide what to retrieve and what to delete without retrieving. */
static int
plan(struct session *s, struct error *err)
{
	const struct pop3_caps	*caps = pop3_caps(s->p);
	size_t			 i;

	if (s->a->keep && !s->scan.have_uids) {
		error_set(err, EX_UNAVAILABLE, "the server does not support "
		    "UIDL, so 'keep on' cannot tell new messages from old "
		    "ones; use 'keep off'");
		return -1;
	}
	if (s->a->keep && caps->expire == 0)
		log_warn_once(s->a->name, "the server announces EXPIRE 0: it "
		    "deletes messages once they are retrieved, whatever "
		    "'keep on' says");
	s->todo = xreallocarray(NULL, s->scan.count, sizeof *s->todo);
	s->dq = xreallocarray(NULL, s->scan.count, sizeof *s->dq);
	s->deleted = xcalloc(s->scan.count, 1);
	s->aside = xcalloc(s->scan.count, 1);
	msgev_init(&s->ev, s->scan.count);
	s->staged = xreallocarray(NULL, FETCH_BATCH, sizeof *s->staged);
	s->staged_len = xreallocarray(NULL, FETCH_BATCH,
	    sizeof *s->staged_len);
	for (i = 0; i < s->scan.count; i++) {
		const struct pop3_msg *m = &s->scan.msgs[i];
		int	 before;

		if (classify_aside(s, i, err) == -1 ||
		    delivered_before(s, m, &before, err) == -1)
			return -1;
		/* only_new off, keep mode: every run fetches them again. */
		if (before && !s->deleting && !s->a->only_new &&
		    !expired(s, m))
			before = 0;
		if (before) {
			if (s->deleting || expired(s, m))
				s->dq[s->dq_tail++] = i;
			else
				s->st->kept++;
			continue;
		}
		if (s->aside[i] != ASIDE_LEFT)
			s->todo[s->ntodo++] = i;
	}
	tell_aside(s);
	log_debug(s->a->name, "%zu messages on the server, %zu new, %zu "
	    "to delete from earlier runs", s->scan.count, s->ntodo,
	    s->dq_tail);
	return 0;
}

/*
 * Before any message of this session can reach the mailbox: one fsync
 * makes the recoveries of plan() durable and notes every UID about to be
 * fetched (what choose() kept) as pending (see uidstate.h), for a sink
 * that can find them.
 */
static int
mark_pending(struct session *s, struct error *err)
{
	const char	**uids;
	size_t		  i, n = 0;
	int		  rc;

	if (!s->scan.have_uids)
		return uidstate_sync(s->us, err);
	uids = xreallocarray(NULL, s->ntodo + 1, sizeof *uids);
	for (i = 0; i < s->ntodo; i++)
		if (s->scan.msgs[s->todo[i]].uid != NULL &&
		    sink_can_find(sink_for(s, s->todo[i])))
			uids[n++] = s->scan.msgs[s->todo[i]].uid;
	rc = n > 0 ? uidstate_pending(s->us, uids, n, err) :
	    uidstate_sync(s->us, err);
	free(uids);
	return rc;
}

/* The sink message i goes to: reject_maildir's once it is set aside. */
static struct sink *
sink_for(const struct session *s, size_t i)
{
	return s->aside[i] == ASIDE_REJECT ? s->reject : s->sink;
}

/*
 * A message refused in delivery_reject_limit runs is set aside, so that
 * it no longer holds up a run: it goes to reject_maildir, or stays on the
 * server untried until --retry-refused forgets its refusals.
 */
static int
classify_aside(struct session *s, size_t i, struct error *err)
{
	const struct pop3_msg	*m = &s->scan.msgs[i];
	unsigned int		 runs;

	if (m->uid == NULL || s->a->delivery_reject_limit <= 0 ||
	    (runs = uidstate_refusals(s->us, m->uid)) <
	    (unsigned int)s->a->delivery_reject_limit)
		return 0;
	if (s->fo->retry_refused) {
		log_verbose(s->a->name, "message %lu (UID %s), refused in %u "
		    "runs: trying it again (--retry-refused)", m->num, m->uid,
		    runs);
		return uidstate_set_refusals(s->us, m->uid, 0, err);
	}
	s->st->set_aside++;
	s->aside[i] = s->a->reject_maildir != NULL ? ASIDE_REJECT :
	    ASIDE_LEFT;
	log_verbose(s->a->name, "message %lu (UID %s) was refused in %u "
	    "runs: set aside, %s", m->num, m->uid, runs,
	    s->aside[i] == ASIDE_REJECT ? "it goes to reject_maildir" :
	    "it stays on the server untried");
	return 0;
}

/* Once a run: the set-aside messages left on the server, and the way out. */
static void
tell_aside(const struct session *s)
{
	size_t		i;
	unsigned long	left = 0;

	for (i = 0; i < s->scan.count; i++)
		if (s->aside[i] == ASIDE_LEFT)
			left++;
	if (left == 0 || s->fo->mode != FETCH_RUN)
		return;
	log_info(s->a->name, "%lu message%s refused in %d runs or more %s set "
	    "aside on the server, not tried (popfetch --retry-refused %s "
	    "tries %s again)", left, left == 1 ? "" : "s",
	    s->a->delivery_reject_limit, left == 1 ? "is" : "are", s->a->name,
	    left == 1 ? "it" : "them");
}

/*
 * Whether an earlier run delivered m.  A UID left pending by a run that
 * stopped between delivery and record is looked up in the mailbox; only
 * then is the mailbox scanned, so the common path stays cheap.
 */
static int
delivered_before(struct session *s, const struct pop3_msg *m, int *before,
    struct error *err)
{
	struct sink	*sk = sink_for(s, (size_t)(m - s->scan.msgs));
	char		 tag[SINK_TAG_LEN + 1];
	int		 found;

	*before = 0;
	if (m->uid == NULL)
		return 0;
	if (uidstate_lookup(s->us, m->uid, NULL)) {
		*before = 1;
		return 0;
	}
	/* Without a sink (--status, --list; MDA) nothing is looked up. */
	if (sk == NULL || !uidstate_is_pending(s->us, m->uid) ||
	    !sink_can_find(sk))
		return 0;
	make_tag(s, m->uid, tag);
	if ((found = sink_find(sk, tag, err)) == -1)
		return -1;
	if (!found) {
		log_debug(s->a->name, "message %lu (UID %s): an earlier run "
		    "did not finish delivering it; fetching it again", m->num,
		    m->uid);
		return 0;
	}
	log_verbose(s->a->name, "message %lu (UID %s) was delivered by an "
	    "interrupted run; %s it instead of fetching it again", m->num,
	    m->uid, s->fo->mode == FETCH_DRYRUN ? "would record" :
	    "recording");
	/* Made durable with the pending lines at the end of plan(). */
	if (uidstate_add(s->us, m->uid, s->now, err) == -1)
		return -1;
	*before = 1;
	return 0;
}

/* keep DAYS: m was first delivered long enough ago to go. */
static int
expired(const struct session *s, const struct pop3_msg *m)
{
	time_t	first;

	if (s->a->keep_days <= 0 || m->uid == NULL ||
	    !uidstate_lookup(s->us, m->uid, &first))
		return 0;
	return s->now - first >= (time_t)s->a->keep_days * 24 * 60 * 60;
}

/*
 * A name for one message of one account that survives across runs: FNV-1a
 * (64 bits) over user, host and UID, so two accounts delivering into one
 * maildir never take each other's messages for their own.
 */
static void
make_tag(const struct session *s, const char *uid, char *tag)
{
	const char	*parts[3] = { s->a->pop.user, s->a->host, uid };
	uint64_t	 h = FNV1A_INIT;
	const char	*p;
	size_t		 i;

	/* Each part with its NUL, so that ("ab", "c") is not ("a", "bc"). */
	for (i = 0; i < 3; i++) {
		p = parts[i] != NULL ? parts[i] : "";
		h = fnv1a_add(h, p, strlen(p) + 1);
	}
	snprintf(tag, SINK_TAG_LEN + 1, "%016llx", (unsigned long long)h);
}

static void
count_new(struct session *s)
{
	size_t	i;

	for (i = 0; i < s->scan.count; i++)
		s->st->on_server_bytes = size_add(s->st->on_server_bytes,
		    s->scan.msgs[i].size);
	s->st->new_msgs = s->ntodo;
	for (i = 0; i < s->ntodo; i++)
		s->st->new_bytes = size_add(s->st->new_bytes,
		    s->scan.msgs[s->todo[i]].size);
}

/*
 * Sort the new messages by what survey_choose() says: fetch, skip (left
 * alone: not recorded, so looked at again next time) or kill (DELE
 * without RETR, whatever keep says, as in mpop).
 */
/*
 * --status: how many new messages a run would leave for the next one
 * under fetch_limit and fetch_size_limit (as choose() does, without the
 * filter, which needs each header).
 */
static void
count_left(struct session *s)
{
	const struct pop3_msg	*m;
	uint64_t		 bytes = 0;
	size_t			 i, n = 0;

	for (i = 0; i < s->ntodo; i++) {
		m = &s->scan.msgs[s->todo[i]];
		if ((s->a->fetch_limit > 0 && n >= (size_t)s->a->fetch_limit) ||
		    (s->a->fetch_size_limit > 0 && n > 0 &&
		    size_add(bytes, m->size) > s->a->fetch_size_limit)) {
			s->st->left = s->ntodo - i;
			for (; i < s->ntodo; i++)
				s->st->left_bytes = size_add(s->st->left_bytes,
				    s->scan.msgs[s->todo[i]].size);
			return;
		}
		n++;
		bytes = size_add(bytes, m->size);
	}
}

/* m waits for the next run: a per-run limit was reached. */
static void
left_for_later(struct session *s, const struct pop3_msg *m, const char *why)
{
	s->st->left++;
	s->st->left_bytes = size_add(s->st->left_bytes, m->size);
	if (s->fo->mode == FETCH_DRYRUN)
		log_result(s->a->name, "message %lu (%llu bytes): would be left "
		    "for the next run (%s)", m->num,
		    (unsigned long long)m->size, why);
	else {
		log_verbose(s->a->name, "message %lu (%llu bytes) left for the "
		    "next run (%s)", m->num, (unsigned long long)m->size, why);
		msgev_emit(&s->ev, s->a, (size_t)(m - s->scan.msgs), m, "left",
		    NULL, why);
	}
}

static int
choose(struct session *s, struct error *err)
{
	const struct pop3_msg	*m;
	struct buf		 hdr;
	enum verdict		 v;
	const char		*why;
	size_t			 i, n = 0;
	uint64_t		 bytes = 0;
	const char		*full = NULL;	/* the limit reached */
	int			 rc = -1;

	buf_init(&hdr);
	for (i = 0; i < s->ntodo; i++) {
		m = &s->scan.msgs[s->todo[i]];
		/*
		 * Over fetch_limit or fetch_size_limit the rest waits, in
		 * order, for the next run: not even its header is read.
		 */
		if (full == NULL && s->a->fetch_limit > 0 &&
		    n >= (size_t)s->a->fetch_limit)
			full = "fetch_limit";
		if (full != NULL) {
			left_for_later(s, m, full);
			continue;
		}
		if (survey_choose(s->a, s->p, m, &hdr, &v, &why, err) == -1)
			goto out;
		/* The first message always goes, so every run gets ahead. */
		if (v == VERDICT_FETCH && s->a->fetch_size_limit > 0 && n > 0 &&
		    size_add(bytes, m->size) > s->a->fetch_size_limit) {
			full = "fetch_size_limit";
			left_for_later(s, m, full);
			continue;
		}
		if (s->fo->mode == FETCH_DRYRUN)
			survey_would(s->a, m, v, why);
		if (v == VERDICT_FETCH) {
			s->todo[n++] = s->todo[i];
			bytes = size_add(bytes, m->size);
		} else if (v == VERDICT_SKIP) {
			s->st->skipped++;
			if (s->fo->mode == FETCH_RUN) {
				log_info(s->a->name, "message %lu (%llu bytes) "
				    "left on the server (%s)", m->num,
				    (unsigned long long)m->size, why);
				msgev_emit(&s->ev, s->a, s->todo[i], m,
				    "skipped", NULL, why);
			}
		} else {
			s->st->killed++;
			s->dq[s->dq_tail++] = s->todo[i];
			log_verbose(s->a->name, "message %lu (%llu bytes) to "
			    "be deleted unread (%s)", m->num,
			    (unsigned long long)m->size, why);
		}
	}
	s->ntodo = n;
	rc = 0;
out:
	buf_free(&hdr);
	return rc;
}

/*
 * --status, --list, --dry-run: report, then QUIT.  No DELE was sent, so
 * the server changes nothing, and neither the mail nor the state is
 * touched here.
 */
static int
look(struct session *s, struct error *err)
{
	uint64_t	bytes = 0;
	size_t		i;

	switch (s->fo->mode) {
	case FETCH_STATUS:
		count_left(s);
		survey_status(s->a, s->st);
		break;
	case FETCH_LIST:
		if (survey_list(s->a, s->p, &s->scan, s->todo, s->ntodo,
		    err) == -1)
			return -1;
		break;
	case FETCH_DRYRUN:
		if (choose(s, err) == -1)
			return -1;
		for (i = 0; i < s->ntodo; i++)
			bytes = size_add(bytes,
			    s->scan.msgs[s->todo[i]].size);
		survey_dry_summary(s->a, s->st, s->ntodo, bytes, s->dq_tail +
		    (s->deleting ? s->ntodo : 0));
		break;
	case FETCH_RUN:
		fatalx("look: not a survey mode");
	}
	return pop3_quit(s->p, err);
}

static void
progress_begin(struct session *s)
{
	uint64_t	bytes = 0;
	size_t		i;

	if (!s->fo->progress || s->ntodo == 0)
		return;
	for (i = 0; i < s->ntodo; i++)
		bytes = size_add(bytes, s->scan.msgs[s->todo[i]].size);
	progress_start(&s->pg, s->a->name, s->ntodo, bytes);
}

/* Queue the next DELE (first, to free the server early) or RETR. */
static int
send_next(struct session *s, size_t *next, struct error *err)
{
	char	arg[32];
	size_t	i;

	if (s->dq_head < s->dq_tail) {
		i = s->dq[s->dq_head++];
		snprintf(arg, sizeof arg, "%lu", s->scan.msgs[i].num);
		return pop3_send(s->p, P3_DELE, arg, 0, i, err);
	}
	i = s->todo[(*next)++];
	snprintf(arg, sizeof arg, "%lu", s->scan.msgs[i].num);
	s->retr_inflight++;
	return pop3_send(s->p, P3_RETR, arg, 0, i, err);
}

/*
 * A message that LIST said was small but that grows past skipsize (or
 * killsize) as it arrives is abandoned: the rest of it is read and thrown
 * away, up to OVERSIZE_DISCARD_FACTOR times the limit, beyond which the
 * connection is dropped (a server streaming without end).
 */
#define OVERSIZE_DISCARD_FACTOR	4

static int
deliver_out(void *arg, const char *p, size_t n, struct error *err)
{
	struct session	*s = arg;

	if (s->headlen < sizeof s->head) {
		size_t	k = sizeof s->head - s->headlen < n ?
		    sizeof s->head - s->headlen : n;

		memcpy(s->head + s->headlen, p, k);
		s->headlen += k;
	}
	s->msg_bytes += n;
	msgev_bytes(&s->ev, p, n);
	if (s->fo->progress)
		progress_bytes(&s->pg, n);
	if (s->size_limit > 0 && s->msg_bytes >= s->size_limit) {
		if (!s->oversize) {
			s->oversize = 1;
			sink_abort(s->cur);
		}
		if (s->msg_bytes / OVERSIZE_DISCARD_FACTOR >= s->size_limit) {
			error_set(err, EX_PROTOCOL, "the server sends far more "
			    "than the size it listed (over %llu bytes); "
			    "giving up on it", (unsigned long long)
			    s->msg_bytes);
			return -1;
		}
		return 0;
	}
	return sink_write(s->cur, p, n, err);
}

/* The trace header goes through the sink like the message, whatever kind. */
static int
write_received(struct session *s, struct error *err)
{
	char	*h;
	int	 rc;

	h = received_header(s->a->host, s->a->pop.user, s->localhost,
	    transport_tls_desc(pop3_transport(s->p)), time(NULL));
	rc = sink_write(s->cur, h, strlen(h), err);
	free(h);
	return rc;
}

/*
 * The sink refused the message: it stays on the server, the run goes on.
 * A permanent refusal counts towards delivery_reject_limit.
 */
static int
not_delivered(struct session *s, const struct pop3_msg *m,
    const struct error *why)
{
	if (why->ex == EX_UNAVAILABLE && m->uid != NULL &&
	    s->a->delivery_reject_limit > 0)
		count_refusal(s, m, why);
	else
		log_error(s->a->name, "message %lu: %s; it stays on the server",
		    m->num, why->msg);
	msgev_emit(&s->ev, s->a, (size_t)(m - s->scan.msgs), m,
	    why->ex == EX_TEMPFAIL ? "deferred" : "refused", why->msg, NULL);
	if (why->ex == EX_TEMPFAIL)
		s->st->deferred++;
	else
		s->st->refused++;
	return 0;
}

/*
 * One more run refused m, durably (a crash later in the run keeps the
 * count); the line says how many, and what comes of it at the limit.  A
 * count that cannot be written is a warning: the message is tried again
 * as often as before, nothing is lost (the UID state's next sync reports
 * the disk's trouble).
 */
static void
count_refusal(struct session *s, const struct pop3_msg *m,
    const struct error *why)
{
	unsigned int	runs = uidstate_refusals(s->us, m->uid) + 1;
	int		limit = s->a->delivery_reject_limit;
	struct error	werr;

	error_clear(&werr);
	if (uidstate_set_refusals(s->us, m->uid, runs, &werr) == -1) {
		log_warn(s->a->name, "message %lu: cannot count its refusal: %s",
		    m->num, werr.msg);
		runs--;
	}
	if (runs < (unsigned int)limit)
		log_error(s->a->name, "message %lu: %s; it stays on the server "
		    "(refused in %u of the %d runs delivery_reject_limit "
		    "allows)", m->num, why->msg, runs, limit);
	else if (s->a->reject_maildir != NULL)
		log_error(s->a->name, "message %lu: %s; it stays on the server, "
		    "refused in %u runs: the next run delivers it to "
		    "reject_maildir %s", m->num, why->msg, runs,
		    s->a->reject_maildir);
	else
		log_error(s->a->name, "message %lu: %s; it stays on the server, "
		    "refused in %u runs: set aside, later runs do not try it "
		    "(popfetch --retry-refused %s does)", m->num, why->msg, runs,
		    s->a->name);
}

static int
got_retr(struct session *s, const struct pop3_reply *r, struct error *err)
{
	const struct pop3_msg	*m = &s->scan.msgs[r->tag];
	struct sink_msginfo	 mi;
	char			 tag[SINK_TAG_LEN + 1];

	if (!r->ok) {
		/* One message the server cannot give must not block the rest. */
		log_error(s->a->name, "message %lu: the server refused RETR: "
		    "%s; it stays on the server", m->num, r->text);
		s->st->failed++;
		return 0;
	}
	mi.uid = m->uid;
	mi.size = m->size;
	mi.tag = NULL;
	s->cur = sink_for(s, r->tag);
	if (m->uid != NULL && sink_can_find(s->cur)) {
		make_tag(s, m->uid, tag);
		mi.tag = tag;
	}
	s->msg_bytes = 0;
	s->oversize = 0;
	s->headlen = 0;
	msgev_begin(&s->ev, r->tag);
	if (sink_open(s->cur, &mi, err) == -1)
		return -1;
	if ((s->a->received_header && write_received(s, err) == -1) ||
	    pop3_read_body(s->p, deliver_out, s, err) == -1) {
		if (!s->oversize)
			sink_abort(s->cur);
		error_prefix(err, "message %lu", m->num);
		return -1;
	}
	if (s->oversize) {
		log_warn(s->a->name, "message %lu: listed as %llu bytes but "
		    "%llu arrived, over %s; not delivered, it stays on the "
		    "server", m->num, (unsigned long long)m->size,
		    (unsigned long long)s->msg_bytes, s->a->skipsize > 0 &&
		    s->size_limit == s->a->skipsize ? "skipsize" : "killsize");
		msgev_emit(&s->ev, s->a, r->tag, m, "skipped", NULL,
		    "it grew past its size limit as it arrived");
		s->st->skipped++;
		return 0;
	}
	if (is_substitute(s)) {
		sink_abort(s->cur);
		log_error(s->a->name, "message %lu: the server sent its "
		    "\"Cannot display Unicode content\" notice in place of "
		    "the message (its headers are UTF-8, and the server did "
		    "not accept UTF8); not delivered, the message stays on "
		    "the server", m->num);
		s->st->failed++;
		return 0;
	}
	/* Staged only once the reply after it parses: see next_reply(). */
	s->held = 1;
	s->held_tag = r->tag;
	return 0;
}

/*
 * Whether the message that arrived is a server's stand-in for the real
 * one: never delivered, so never recorded nor deleted.  Only without
 * UTF8: in UTF-8 mode the server has no reason to send one.
 */
static int
is_substitute(const struct session *s)
{
	size_t	n = sizeof COURIER_NOTICE - 1;

	return !pop3_utf8_on(s->p) && s->headlen >= n &&
	    memcmp(s->head, COURIER_NOTICE, n) == 0;
}

/*
 * The reply after the held message parsed, so its terminator was the
 * real one: stage it, record its UID, and close the batch when full.
 */
static int
confirm_held(struct session *s, struct error *err)
{
	const struct pop3_msg	*m = &s->scan.msgs[s->held_tag];
	struct error		 why;
	int			 rc;

	s->held = 0;
	error_clear(&why);
	/* A batch goes into one sink: a set-aside message closes the batch. */
	if (s->nstaged > 0 && s->batch_sink != s->cur &&
	    sync_batch(s, err) == -1) {
		sink_abort(s->cur);
		return -1;
	}
	if ((rc = sink_stage(s->cur, &why)) == SINK_REFUSED)
		return not_delivered(s, m, &why);
	if (rc == -1) {
		error_set(err, why.ex, "message %lu: %s", m->num, why.msg);
		return -1;
	}
	s->staged_len[s->nstaged] = s->msg_bytes;
	s->staged[s->nstaged++] = s->held_tag;
	s->batch_sink = s->cur;
	s->staged_bytes += s->msg_bytes;
	if (s->fo->progress && log_level() >= LOG_VERBOSE)
		progress_end(&s->pg);	/* the line below replaces it */
	log_verbose(s->a->name, "message %lu of %zu delivered (%llu bytes%s%s)",
	    m->num, s->scan.count, (unsigned long long)s->msg_bytes,
	    m->uid != NULL ? ", UID " : "", m->uid != NULL ? m->uid : "");
	if (s->fo->progress)
		progress_message(&s->pg);
	if (s->nstaged >= sink_batch_max(s->batch_sink, FETCH_BATCH) ||
	    s->staged_bytes >= FETCH_BATCH_BYTES)
		return sync_batch(s, err);
	return 0;
}

/*
 * After the sink's sync: the staged messages it refused one by one leave
 * the batch (not recorded, not deleted); the UIDs of the others are
 * recorded, in memory until the state's sync.
 */
static int
accepted(struct session *s, struct error *err)
{
	const struct pop3_msg	*m;
	struct error		 why;
	size_t			 i, n = 0;

	for (i = 0; i < s->nstaged; i++) {
		m = &s->scan.msgs[s->staged[i]];
		error_clear(&why);
		if (sink_outcome(s->batch_sink, i, &why) == SINK_REFUSED) {
			s->staged_bytes -= s->staged_len[i];
			(void)not_delivered(s, m, &why);
			continue;
		}
		if (m->uid != NULL &&
		    uidstate_add(s->us, m->uid, time(NULL), err) == -1)
			return -1;
		s->staged_len[n] = s->staged_len[i];
		s->staged[n++] = s->staged[i];
	}
	s->nstaged = n;
	return 0;
}

/*
 * Make the staged messages and their UIDs durable, in that order, and only
 * then queue their DELEs.
 */
static int
sync_batch(struct session *s, struct error *err)
{
	size_t	i;

	if (s->nstaged == 0)
		return 0;
	if (sink_sync(s->batch_sink, err) == -1) {
		/*
		 * The batch is not delivered (the sink undid or dropped it),
		 * so its UIDs are never recorded: nothing is staged any
		 * more, and the session ends.
		 */
		s->nstaged = 0;
		s->staged_bytes = 0;
		return -1;
	}
	if (accepted(s, err) == -1 || uidstate_sync(s->us, err) == -1)
		return -1;
	s->st->fetched += s->nstaged;
	s->st->bytes += s->staged_bytes;
	/* Durable now: only now is a message "delivered". */
	for (i = 0; i < s->nstaged; i++) {
		if (s->aside[s->staged[i]] == ASIDE_REJECT)
			log_rejected(s, s->staged[i]);
		msgev_emit(&s->ev, s->a, s->staged[i],
		    &s->scan.msgs[s->staged[i]], "delivered",
		    s->aside[s->staged[i]] == ASIDE_REJECT ?
		    "set aside: written and synced into reject_maildir" :
		    s->a->delivery == DELIVERY_MDA ? "exit status 0" :
		    "written and synced", NULL);
	}
	for (i = 0; i < s->nstaged && s->deleting; i++)
		s->dq[s->dq_tail++] = s->staged[i];
	s->nstaged = 0;
	s->staged_bytes = 0;
	return 0;
}

/* A set-aside message is in reject_maildir, durably: say so. */
static void
log_rejected(const struct session *s, size_t i)
{
	const struct pop3_msg	*m = &s->scan.msgs[i];

	log_info(s->a->name, "message %lu (UID %s), refused by the delivery in "
	    "%d runs or more, was delivered to reject_maildir %s instead%s",
	    m->num, m->uid, s->a->delivery_reject_limit, s->a->reject_maildir,
	    s->deleting ? "; it is deleted on the server" : "");
}

static int
got_dele(struct session *s, const struct pop3_reply *r, struct error *err)
{
	const struct pop3_msg	*m = &s->scan.msgs[r->tag];

	if (!r->ok) {
		error_set(err, r->ex != 0 ? r->ex : EX_PROTOCOL, "message "
		    "%lu: the server refused DELE: %s", m->num, r->text);
		return -1;
	}
	s->deleted[r->tag] = 1;
	s->st->deleted++;
	msgev_emit(&s->ev, s->a, r->tag, m, "deleted", r->text, NULL);
	return 0;
}

/*
 * QUIT's +OK came while DELE replies were still arriving: only a -ERR to
 * one of those can follow, and it fails the run as it would without.
 */
static int
got_quit(struct session *s, const struct pop3_reply *r, struct error *err)
{
	if (!r->ok) {
		error_set(err, r->ex != 0 ? r->ex : EX_PROTOCOL, "the server "
		    "rejected QUIT: %s; deletions may not have been carried "
		    "out", r->text);
		return -1;
	}
	s->quit_done = 1;
	return 0;
}

/*
 * The next status line, with the held message's fate tied to it: a message
 * counts as received whole only when the line after its terminator is a
 * well-formed reply.  A body holding an unstuffed CRLF "." CRLF would end
 * early, and the rest of it would then be read as replies; the message,
 * cut short, must then be neither delivered nor recorded (and so never
 * deleted).  With nothing in flight to tell, a NOOP asks.
 */
static int
next_reply(struct session *s, struct pop3_reply *r, struct error *err)
{
	const struct pop3_msg	*m;

	if (s->held && pop3_inflight(s->p) == 0 &&
	    pop3_send(s->p, P3_NOOP, NULL, 0, 0, err) == -1)
		goto abort;
	if (pop3_reply(s->p, r, err) == -1)
		goto abort;
	if (s->held && confirm_held(s, err) == -1)
		return -1;
	return 0;
abort:
	if (s->held) {
		m = &s->scan.msgs[s->held_tag];
		sink_abort(s->cur);
		s->held = 0;
		if (err->ex == EX_PROTOCOL)
			error_prefix(err, "message %lu was not delivered: the "
			    "reply after it is malformed, so it may have been "
			    "cut short; it stays on the server", m->num);
	}
	return -1;
}

static int
transfer(struct session *s, struct error *err)
{
	const struct pop3_caps	*caps = pop3_caps(s->p);
	struct pop3_reply	 r;
	size_t			 window, next = 0;

	window = caps->pipelining ? POP3_WINDOW : 1;
	for (;;) {
		/* Asked to stop: finish what is in flight, start nothing new. */
		if (s->stop != NULL && *s->stop && next < s->ntodo) {
			log_info(s->a->name, "stopping: %zu new messages left "
			    "on the server for the next run", s->ntodo - next);
			s->ntodo = next;
		}
		while (pop3_inflight(s->p) < window &&
		    (s->dq_head < s->dq_tail || next < s->ntodo))
			if (send_next(s, &next, err) == -1)
				return -1;
		/*
		 * With PIPELINING, a NOOP right behind the last RETR vouches
		 * for that message's end without a round trip of its own.
		 */
		if (caps->pipelining && !s->noop_sent && s->ntodo > 0 &&
		    next == s->ntodo && s->retr_inflight > 0) {
			if (pop3_send(s->p, P3_NOOP, NULL, 0, 0, err) == -1)
				return -1;
			s->noop_sent = 1;
		}
		/* The last RETR is in: close the batch, its DELEs go next. */
		if (next == s->ntodo && s->retr_inflight == 0 && !s->held &&
		    s->nstaged > 0) {
			if (sync_batch(s, err) == -1)
				return -1;
			continue;
		}
		/* Nothing left to send: with PIPELINING, QUIT need not wait. */
		if (caps->pipelining && !s->quit_sent && next == s->ntodo &&
		    s->retr_inflight == 0 && s->dq_head == s->dq_tail &&
		    !s->held && pop3_inflight(s->p) > 0) {
			if (pop3_send(s->p, P3_QUIT, NULL, 0, 0, err) == -1)
				return -1;
			s->quit_sent = 1;
		}
		if (pop3_inflight(s->p) == 0 && !s->held)
			return 0;
		if (next_reply(s, &r, err) == -1)
			return -1;
		switch (r.cmd) {
		case P3_NOOP:
			break;
		case P3_RETR:
			s->retr_inflight--;
			if (got_retr(s, &r, err) == -1)
				return -1;
			break;
		case P3_DELE:
			if (got_dele(s, &r, err) == -1)
				return -1;
			break;
		case P3_QUIT:
			if (got_quit(s, &r, err) == -1)
				return -1;
			break;
		default:
			fatalx("unexpected reply in the transfer loop");
		}
	}
}

/* QUIT, then forget UIDs no longer on the server. */
static int
finish(struct session *s, struct error *err)
{
	const char	**live;
	size_t		  i, n = 0;
	int		  rc;

	/*
	 * Only DELEs make QUIT's answer matter; without any, do not spend a
	 * round trip waiting for it.
	 */
	if (!s->quit_done && s->dq_tail == 0 && !s->quit_sent) {
		if (pop3_quit_nowait(s->p, err) == -1)
			return -1;
	} else if (!s->quit_done && pop3_quit(s->p, err) == -1)
		return -1;
	if (!s->scan.have_uids)
		return 0;
	live = xreallocarray(NULL, s->scan.count, sizeof *live);
	for (i = 0; i < s->scan.count; i++)
		if (!s->deleted[i])
			live[n++] = s->scan.msgs[i].uid;
	rc = uidstate_rewrite(s->us, live, n, err);
	free(live);
	return rc;
}

static void
session_init(struct session *s, const struct account *a,
    const struct fetch_opts *fo, struct fetch_stats *st)
{
	memset(s, 0, sizeof *s);
	memset(st, 0, sizeof *st);
	s->a = a;
	s->st = st;
	s->fo = fo;
	s->deleting = !a->keep;
	s->now = time(NULL);
	s->stop = fo->stop;
	/* LIST's size is a hint: what arrives is held to the same limits. */
	s->size_limit = a->skipsize;
	if (a->killsize > 0 && (s->size_limit == 0 ||
	    a->killsize < s->size_limit))
		s->size_limit = a->killsize;
	if (gethostname(s->localhost, sizeof s->localhost) == -1 ||
	    s->localhost[0] == '\0')
		strlcpy(s->localhost, "localhost", sizeof s->localhost);
	s->localhost[sizeof s->localhost - 1] = '\0';
}

/*
 * The account block whose OAuth sign-in the delivery server takes
 * (delivery_oauth2_account), or NULL with err set.
 */
static const struct account *
signin_of(const struct account *a, struct error *err)
{
	const struct account	*o;

	if ((o = account_sibling(a, a->delivery_oauth2_account)) == NULL) {
		error_set(err, EX_CONFIG, "delivery_oauth2_account %s: no "
		    "account block of that name", a->delivery_oauth2_account);
		return NULL;
	}
	if (o == a || o->oauth2_client_id == NULL) {
		error_set(err, EX_CONFIG, "delivery_oauth2_account %s: that "
		    "account block sets no oauth2_client_id", o->name);
		return NULL;
	}
	return o;
}

/* Keys a delivery kind would not use are an error, not ignored. */
static int
delivery_keys_fit(const struct account *a, struct error *err)
{
	if (a->delivery_oauth2_account != NULL && a->delivery !=
	    DELIVERY_IMAP && a->delivery != DELIVERY_GMAIL) {
		error_set(err, EX_CONFIG, "delivery_oauth2_account is for "
		    "delivery imap and gmail only");
		return -1;
	}
	if (a->delivery != DELIVERY_GMAIL && (a->gmail_api_url != NULL ||
	    a->gmail_never_spam)) {
		error_set(err, EX_CONFIG, "gmail_api_url and gmail_never_spam "
		    "are for delivery gmail only");
		return -1;
	}
	if (a->delivery == DELIVERY_GMAIL && a->delivery_flags != NULL) {
		error_set(err, EX_CONFIG, "delivery_flags is for delivery imap "
		    "(delivery gmail takes labels: delivery gmail INBOX "
		    "UNREAD ...)");
		return -1;
	}
	if (a->delivery == DELIVERY_GMAIL &&
	    a->delivery_oauth2_account == NULL) {
		error_set(err, EX_CONFIG, "delivery gmail needs "
		    "delivery_oauth2_account, the account block of a Google "
		    "sign-in (see README, \"Delivering into Gmail\")");
		return -1;
	}
	if (a->dest.user != NULL && a->delivery != DELIVERY_SMTP) {
		error_set(err, EX_CONFIG, "delivery_user is for delivery smtp "
		    "only (delivery imap takes the user from its URL)");
		return -1;
	}
	return 0;
}

/* A sink's refresher (sink_token_fn): arg is the sign-in's account. */
static char *
refresh_token(const void *arg, const char *refused, struct error *err)
{
	return oauth_access_token(arg, refused, err);
}

/*
 * The sink, with the delivery server's password or OAuth token; a token
 * the server refuses is refreshed once by the sink, as for the POP3
 * server.  A server's sink checks its settings now and connects only
 * when the first message is handed over.
 */
static int
open_sink(struct session *s, struct sink_dest *d, struct error *err)
{
	const struct account	*a = s->a, *o = NULL;
	char			*pw = NULL;
	int			 rc;

	if (delivery_keys_fit(a, err) == -1)
		return -1;
	if (a->delivery_oauth2_account != NULL) {
		if ((o = signin_of(a, err)) == NULL ||
		    (pw = oauth_access_token(o, NULL, err)) == NULL)
			return -1;
		d->oauth_store = o->name;
		d->refresh = refresh_token;
		d->refresh_arg = o;
	} else if ((a->delivery == DELIVERY_IMAP || (a->delivery ==
	    DELIVERY_SMTP && a->dest.user != NULL)) &&
	    (pw = account_delivery_password(a, err)) == NULL && error_isset(err))
		return -1;
	d->password = pw;
	/* A refused token is refreshed by the sink, which connects later. */
	s->sink = sink_new(d, err);
	rc = s->sink == NULL ? -1 : 0;
	freezero_str(pw);
	return rc;
}

/*
 * The pending journal of a destination that can be asked (IMAP), beside
 * the account's own UID state file (with mpop's shared file, beside
 * popfetch's own for the account); allocated.
 */
static char *
journal_path(const struct account *a, const char *statepath, int mpop)
{
	char	*own, *path;

	own = mpop ? mpop_uidls_own_path(statepath, a) : xstrdup(statepath);
	xasprintf(&path, "%s.dest-journal", own);
	free(own);
	return path;
}

/* The sink and the UID state, before connecting: a bad path fails now. */
static int
open_local(struct session *s, struct error *err)
{
	const struct account	*a = s->a;
	struct sink_dest	 d = { .kind = a->delivery,
				    .arg = a->delivery_arg,
				    .mda_timeout = a->mda_timeout,
				    .timeout = a->timeout, .who = a->name,
				    .tls = a->delivery_tls,
				    .tls_trust_file =
				    a->dest.tls_trust_file };
	char			*statepath, *journal;
	int			 mpop, rc;

	d.user = a->dest.user;
	d.auth = a->dest.auth;
	d.flags = a->delivery_flags;
	d.api_url = a->gmail_api_url;
	d.never_spam = a->gmail_never_spam;
	statepath = account_uidls_path(a);
	mpop = mpop_uidls_detect(statepath);
	journal = journal_path(a, statepath, mpop);
	d.journal = journal;
	rc = s->fo->mode == FETCH_RUN ? open_sink(s, &d, err) : 0;
	free(journal);
	if (rc == -1) {
		free(statepath);
		return -1;
	}
	/* --dry-run looks, read-only, for what an interrupted run left. */
	if (s->fo->mode == FETCH_DRYRUN)
		s->sink = sink_probe_new(a->delivery, a->delivery_arg);
	if (mpop)
		return open_mpop(s, statepath, err);
	s->us = open_state(s, statepath, err);
	free(statepath);
	return s->us == NULL ? -1 : 0;
}

/*
 * reject_maildir's sink, made (or probed, for --dry-run) before
 * connecting, like the delivery's: a bad path fails now.
 */
static int
open_reject(struct session *s, struct error *err)
{
	const struct account	*a = s->a;
	struct sink_dest	 rd;

	if (a->reject_maildir == NULL || a->delivery_reject_limit <= 0)
		return 0;
	if (s->fo->mode == FETCH_DRYRUN)
		s->reject = sink_probe_new(DELIVERY_MAILDIR, a->reject_maildir);
	if (s->fo->mode != FETCH_RUN)
		return 0;
	memset(&rd, 0, sizeof rd);
	rd.kind = DELIVERY_MAILDIR;
	rd.arg = a->reject_maildir;
	rd.who = a->name;
	if ((s->reject = sink_new(&rd, err)) == NULL) {
		error_prefix(err, "reject_maildir");
		return -1;
	}
	return 0;
}

/*
 * Looking (-s, -l, -n) writes nothing: with no state yet, it works on an
 * empty one instead of creating the file, its lock and directory.
 */
static struct uidstate *
open_state(struct session *s, const char *path, struct error *err)
{
	if (s->fo->mode != FETCH_RUN && access(path, F_OK) == -1 &&
	    errno == ENOENT)
		return uidstate_parse_buffer(path, "", 0, err);
	return uidstate_open(path, s->fo->lock_wait, err);
}

/* mpop's uidls file: popfetch's own state beside it (uidstate-mpop.h). */
static int
open_mpop(struct session *s, char *mpoppath, struct error *err)
{
	char	*own;
	int	 run = s->fo->mode == FETCH_RUN;

	own = mpop_uidls_own_path(mpoppath, s->a);
	if (run && access(own, F_OK) == -1 && errno == ENOENT)
		log_info(s->a->name, "uidls_file %s is in mpop's format: "
		    "popfetch reads it and writes it back in that format, and "
		    "keeps its own state in %s", mpoppath, own);
	if ((s->us = open_state(s, own, err)) != NULL)
		s->mu = mpop_uidls_open(mpoppath, s->a, s->us,
		    s->fo->lock_wait, run, err);
	free(own);
	free(mpoppath);
	return s->mu == NULL ? -1 : 0;
}

/*
 * Write mpop's file back after every run that may have delivered, after
 * an error too: else mpop, next, would fetch again what was delivered.
 */
static int
write_mpop(struct session *s, int rc, struct error *err)
{
	struct error	e2;

	if (s->mu == NULL || s->fo->mode != FETCH_RUN)
		return rc;
	error_clear(&e2);
	if (mpop_uidls_write(s->mu, s->us, &e2) == 0)
		return rc;
	if (rc == 0) {
		*err = e2;
		return -1;
	}
	log_error(s->a->name, "%s", e2.msg);
	return rc;
}

/* Messages the sink refused make the run fail, after all the others. */
static int
sink_summary(struct session *s, struct error *err)
{
	const struct fetch_stats	*st = s->st;

	if (st->refused > 0) {
		error_set(err, EX_UNAVAILABLE, "%lu message%s could not be "
		    "delivered%s and stayed on the server; see the errors "
		    "above", st->refused, st->refused == 1 ? "" : "s",
		    st->deferred > 0 ? " (more were deferred)" : "");
		return -1;
	}
	if (st->deferred > 0) {
		error_set(err, EX_TEMPFAIL, "%lu message%s deferred by the "
		    "delivery and left on the server; a later run delivers "
		    "%s", st->deferred, st->deferred == 1 ? "" : "s",
		    st->deferred == 1 ? "it" : "them");
		return -1;
	}
	return 0;
}

static void
session_free(struct session *s)
{
	progress_end(&s->pg);
	pop3_free(s->p);	/* drops the connection if still open */
	sink_free(s->sink);
	sink_free(s->reject);
	mpop_uidls_close(s->mu);
	uidstate_close(s->us);
	pop3_scan_free(&s->scan);
	free(s->todo);
	free(s->dq);
	free(s->deleted);
	free(s->aside);
	free(s->staged);
	free(s->staged_len);
	msgev_free(&s->ev);
}

int
fetch_account(const struct account *a, const struct fetch_opts *fo,
    struct fetch_stats *st, struct error *err)
{
	struct session	 s;
	char		*pass = NULL;
	int		 rc = -1;

	session_init(&s, a, fo, st);
	/* Everything that can fail locally fails before connecting. */
	if (oauth_in_use(a)) {
		if ((pass = oauth_access_token(a, NULL, err)) == NULL)
			goto out;
	} else if (auth_needs_password(a->pop.auth) &&
	    (pass = account_password(a, err)) == NULL)
		goto out;
	if (open_local(&s, err) == -1 || open_reject(&s, err) == -1)
		goto out;
	if (connect_and_login(&s, &pass, err) == -1)
		goto out;
	freezero_str(pass);
	pass = NULL;
	if (pop3_scan(s.p, 1, &s.scan, err) == -1)
		goto out;
	st->on_server = s.scan.count;
	if (plan(&s, err) == -1)
		goto out;
	count_new(&s);
	if (fo->mode != FETCH_RUN) {
		rc = look(&s, err);
		goto out;
	}
	if (choose(&s, err) == -1 || mark_pending(&s, err) == -1)
		goto out;
	progress_begin(&s);
	if (transfer(&s, err) == -1 || finish(&s, err) == -1)
		goto out;
	if (st->failed > 0) {
		error_set(err, EX_PROTOCOL, "%lu message%s could not be "
		    "retrieved and stayed on the server", st->failed,
		    st->failed == 1 ? "" : "s");
		goto out;
	}
	if (sink_summary(&s, err) == -1)
		goto out;
	rc = 0;
out:
	if (rc == -1 && s.nstaged > 0) {
		struct error	e2;

		/* Delivered is delivered: record it, so no duplicate next run. */
		error_clear(&e2);
		(void)sync_batch(&s, &e2);
	}
	rc = write_mpop(&s, rc, err);
	freezero_str(pass);
	session_free(&s);
	return rc;
}
