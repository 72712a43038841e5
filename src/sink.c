/* sink.c -- the delivery interface and the choice of kind; see sink.h. */
#include "config.h"

#include <signal.h>
#include <stdlib.h>

#include "sink.h"
#include "xmalloc.h"

struct sink *
sink_new(const struct sink_dest *d, struct error *err)
{
	switch (d->kind) {
	case DELIVERY_MAILDIR:
		return sink_maildir_new(d->arg, 0, err);
	case DELIVERY_MBOX:
		return sink_mbox_new(d->arg, 0, d->who, err);
	case DELIVERY_MDA:
		return sink_mda_new(d->arg, d->mda_timeout, err);
	case DELIVERY_LMTP:
	case DELIVERY_SMTP:
		return sink_smtp_new(d, err);
	case DELIVERY_IMAP:
		return sink_imap_new(d, err);
	case DELIVERY_GMAIL:
		return sink_gmail_new(d, err);
	case DELIVERY_NONE:
	default:
		error_set(err, EX_CONFIG, "no delivery set");
		return NULL;
	}
}

struct sink *
sink_probe_new(enum delivery_kind kind, const char *arg)
{
	struct error	ignored;

	/* Probing sinks cannot fail: they look at nothing before find. */
	error_clear(&ignored);
	switch (kind) {
	case DELIVERY_MAILDIR:
		return sink_maildir_new(arg, 1, &ignored);
	case DELIVERY_MBOX:
		return sink_mbox_new(arg, 1, NULL, &ignored);
	default:
		return NULL;
	}
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

int
sink_commit(struct sink *s, struct error *err)
{
	int	rc;

	rc = s->ops->commit(s, err);
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

int
sink_stage(struct sink *s, struct error *err)
{
	int	rc;

	if (s->ops->stage == NULL)
		return sink_commit(s, err);
	rc = s->ops->stage(s, err);
	if (rc == -1)
		s->ops->abort(s);
	s->is_open = 0;
	return rc;
}

int
sink_sync(struct sink *s, struct error *err)
{
	if (s->ops->sync == NULL)
		return 0;
	return s->ops->sync(s, err);
}

void
sink_hold_signals(sigset_t *old)
{
	sigset_t	set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, old);
}

void
sink_release_signals(const sigset_t *old)
{
	sigprocmask(SIG_SETMASK, old, NULL);
}

int
sink_outcome(struct sink *s, size_t i, struct error *err)
{
	if (s->ops->outcome == NULL)
		return 0;
	return s->ops->outcome(s, i, err);
}

int
sink_can_find(const struct sink *s)
{
	return s->ops->find != NULL;
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
