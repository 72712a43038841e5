/* sink.c -- the delivery interface and the choice of kind; see sink.h. */
#include "config.h"

#include <signal.h>
#include <stdlib.h>

#include "sighold.h"
#include "sink.h"
#include "xmalloc.h"

/*
 * The kinds, one row each (fdm's one struct per delivery kind): adding a
 * kind is its file and its row.  probes: the kind can make a sink that
 * changes nothing, for sink_find() alone.
 */
static const struct sink_kind {
	enum delivery_kind	 kind;
	struct sink		*(*new)(const struct sink_dest *,
				    struct error *);
	int			 probes;
} kinds[] = {
	{ DELIVERY_MAILDIR,	sink_maildir_new,	1 },
	{ DELIVERY_MBOX,	sink_mbox_new,		1 },
	{ DELIVERY_MDA,		sink_mda_new,		0 },
	{ DELIVERY_LMTP,	sink_smtp_new,		0 },
	{ DELIVERY_SMTP,	sink_smtp_new,		0 },
	{ DELIVERY_IMAP,	sink_imap_new,		0 },
	{ DELIVERY_GMAIL,	sink_gmail_new,		0 },
};

static const struct sink_kind *
kind_of(enum delivery_kind kind)
{
	size_t	i;

	for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		if (kinds[i].kind == kind)
			return &kinds[i];
	return NULL;
}

static int	stage_op(struct sink *, struct error *);

struct sink *
sink_new(const struct sink_dest *d, struct error *err)
{
	const struct sink_kind	*k;

	if ((k = kind_of(d->kind)) == NULL) {
		error_set(err, EX_CONFIG, "no delivery set");
		return NULL;
	}
	return k->new(d, err);
}

struct sink *
sink_probe_new(enum delivery_kind kind, const char *arg)
{
	const struct sink_kind	*k;
	struct sink_dest	 d = { .kind = kind, .arg = arg, .probe = 1 };
	struct error		 ignored;

	/* Probing sinks cannot fail: they look at nothing before find. */
	error_clear(&ignored);
	if ((k = kind_of(kind)) == NULL || !k->probes)
		return NULL;
	return k->new(&d, &ignored);
}

void
sink_free(struct sink *s)
{
	if (s == NULL)
		return;
	if (s->is_open)
		sink_abort(s);
	s->ops->free(s);
}

int
sink_open(struct sink *s, const struct sink_msginfo *mi, struct error *err)
{
	if (s->is_open)
		fatalx("sink_open on an open sink");
	if (s->ops->open(s, mi, err) == -1)
		return -1;
	s->is_open = 1;
	return 0;
}

int
sink_write(struct sink *s, const char *p, size_t n, struct error *err)
{
	return s->ops->write(s, p, n, err);
}

/*
 * A kind that only queues in stage and hands over in sync (IMAP, LMTP,
 * SMTP) has no commit of its own: one message is a batch of one.
 */
static int
commit_alone(struct sink *s, struct error *err)
{
	int	rc;

	if ((rc = stage_op(s, err)) != 0 || (rc = sink_sync(s, err)) != 0)
		return rc;
	return sink_outcome(s, s->staged - 1, err);
}

int
sink_commit(struct sink *s, struct error *err)
{
	int	rc;

	if (s->ops->commit != NULL)
		rc = s->ops->commit(s, err);
	else
		rc = commit_alone(s, err);
	if (rc != 0)
		s->ops->abort(s);
	s->is_open = 0;
	return rc;
}

void
sink_abort(struct sink *s)
{
	if (!s->is_open)
		return;
	s->ops->abort(s);
	s->is_open = 0;
}

/* The kind's stage, counting the messages a sync will settle. */
static int
stage_op(struct sink *s, struct error *err)
{
	int	rc;

	if (s->synced)
		s->staged = s->synced = 0;
	if ((rc = s->ops->stage(s, err)) == 0)
		s->staged++;
	return rc;
}

int
sink_stage(struct sink *s, struct error *err)
{
	int	rc;

	if (s->ops->stage == NULL)
		return sink_commit(s, err);
	rc = stage_op(s, err);
	if (rc == -1)
		s->ops->abort(s);
	s->is_open = 0;
	return rc;
}

int
sink_sync(struct sink *s, struct error *err)
{
	sigset_t	old;
	int		rc;

	if (s->ops->sync == NULL)
		return 0;
	if (s->ops->outcome == NULL)
		return s->ops->sync(s, err);
	/*
	 * A kind that hands the batch over (IMAP, LMTP, SMTP, Gmail): once
	 * per batch, whole or not at all -- a signal waits until the server
	 * has answered for every message.
	 */
	if (s->staged == 0 || s->synced != 0)
		return 0;
	sig_hold(&old);
	rc = s->ops->sync(s, err);
	sig_release(&old);
	s->synced = rc == 0 ? 1 : -1;
	return rc;
}

int
sink_outcome(struct sink *s, size_t i, struct error *err)
{
	if (s->ops->outcome == NULL)
		return 0;
	if (s->synced != 1 || i >= s->staged) {
		error_set(err, EX_SOFTWARE, "no outcome for message %zu", i);
		return SINK_REFUSED;
	}
	return s->ops->outcome(s, i, err);
}

int
sink_can_find(const struct sink *s)
{
	return s->ops->find != NULL;
}

size_t
sink_batch_max(const struct sink *s, size_t dflt)
{
	return s->batch_max != 0 && s->batch_max < dflt ? s->batch_max : dflt;
}

int
sink_find(struct sink *s, const char *tag, struct error *err)
{
	if (s->ops->find == NULL) {
		error_set(err, EX_SOFTWARE, "the %s sink cannot find messages",
		    s->ops->name);
		return -1;
	}
	return s->ops->find(s, tag, err);
}
