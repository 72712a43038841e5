/* msgevent.c -- per-message events for log_format json; see msgevent.h. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "jsonw.h"
#include "log.h"
#include "msgevent.h"
#include "xmalloc.h"

static void	header_line(struct msgevents *);
static void	set_msgid(struct msgevents *, const char *);
static const char *kind_name(enum delivery_kind);

void
msgev_init(struct msgevents *e, size_t n)
{
	memset(e, 0, sizeof *e);
	if (!(e->on = log_events_on()))
		return;
	e->n = n;
	e->msgid = xcalloc(n > 0 ? n : 1, sizeof *e->msgid);
	e->got = xcalloc(n > 0 ? n : 1, sizeof *e->got);
}

void
msgev_free(struct msgevents *e)
{
	size_t	i;

	for (i = 0; i < e->n; i++)
		free(e->msgid[i]);
	free(e->msgid);
	free(e->got);
	memset(e, 0, sizeof *e);
}

void
msgev_begin(struct msgevents *e, size_t idx)
{
	if (!e->on || idx >= e->n)
		return;
	e->cur = idx;
	e->in_head = 1;
	e->want_cont = 0;
	e->len = 0;
	e->got[idx] = 0;
}

/* The value, trimmed of blanks; the first Message-ID wins. */
static void
set_msgid(struct msgevents *e, const char *v)
{
	size_t	n;

	v += strspn(v, " \t");
	n = strlen(v);
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t' ||
	    v[n - 1] == '\r'))
		n--;
	if (n == 0) {
		e->want_cont = 1;	/* folded: on the next line */
		return;
	}
	e->want_cont = 0;
	if (e->msgid[e->cur] == NULL)
		e->msgid[e->cur] = xstrndup(v, n);
}

static void
header_line(struct msgevents *e)
{
	e->line[e->len] = '\0';
	if (e->len == 0 || (e->len == 1 && e->line[0] == '\r')) {
		e->in_head = 0;		/* the blank line: the body begins */
		return;
	}
	if (e->want_cont && (e->line[0] == ' ' || e->line[0] == '\t'))
		set_msgid(e, e->line);
	else if (strncasecmp(e->line, "Message-ID:", 11) == 0)
		set_msgid(e, e->line + 11);
	else
		e->want_cont = 0;
}

void
msgev_bytes(struct msgevents *e, const char *p, size_t n)
{
	size_t	i;

	if (!e->on || e->cur >= e->n)
		return;
	e->got[e->cur] += n;
	for (i = 0; i < n && e->in_head; i++) {
		if (p[i] != '\n') {
			/* A longer line is cut: its start says what it is. */
			if (e->len < sizeof e->line - 1)
				e->line[e->len++] = p[i];
			continue;
		}
		header_line(e);
		e->len = 0;
	}
}

static const char *
kind_name(enum delivery_kind k)
{
	switch (k) {
	case DELIVERY_MAILDIR:	return "maildir";
	case DELIVERY_MBOX:	return "mbox";
	case DELIVERY_MDA:	return "mda";
	case DELIVERY_LMTP:	return "lmtp";
	case DELIVERY_SMTP:	return "smtp";
	case DELIVERY_IMAP:	return "imap";
	case DELIVERY_GMAIL:	return "gmail";
	case DELIVERY_NONE:	break;
	}
	return "none";
}

void
msgev_emit(const struct msgevents *e, const struct account *a, size_t idx,
    const struct pop3_msg *m, const char *action, const char *answer,
    const char *reason)
{
	struct buf	 b;
	char		*dest;

	if (!e->on)
		return;
	buf_init(&b);
	jsonw_str(&b, "action", action);
	jsonw_num(&b, "num", m->num);
	jsonw_str(&b, "uid", m->uid);
	jsonw_str(&b, "message_id", idx < e->n ? e->msgid[idx] : NULL);
	jsonw_num(&b, "size", idx < e->n && e->got[idx] > 0 ? e->got[idx] :
	    m->size);
	xasprintf(&dest, "%s %s", kind_name(a->delivery),
	    a->delivery_arg != NULL ? a->delivery_arg : "");
	jsonw_str(&b, "destination", dest);
	jsonw_str(&b, "answer", answer);
	jsonw_str(&b, "reason", reason);
	log_event(a->name, "message", &b);
	free(dest);
	buf_free(&b);
}
