/* survey.c -- selection and the look-before-fetching modes; see survey.h. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "headers.h"
#include "log.h"
#include "progress.h"
#include "survey.h"

int
survey_choose(const struct account *a, struct pop3 *p,
    const struct pop3_msg *m, struct buf *hdr, enum verdict *v,
    const char **why, struct error *err)
{
	struct filter_msg	fm;

	*v = VERDICT_FETCH;
	*why = NULL;
	if (a->killsize > 0 && m->size >= a->killsize) {
		*v = VERDICT_KILL;
		*why = "killsize";
		return 0;
	}
	if (a->skipsize > 0 && m->size >= a->skipsize) {
		*v = VERDICT_SKIP;
		*why = "skipsize";
		return 0;
	}
	if (a->filter == NULL)
		return 0;
	if (headers_top(p, m->num, hdr, err) == -1)
		return -1;
	fm.num = m->num;
	fm.size = m->size;
	fm.uid = m->uid;
	if (filter_run(a->filter, &fm, hdr->data, hdr->len, a->timeout, v,
	    err) == -1)
		return -1;
	if (*v != VERDICT_FETCH)
		*why = "filter";
	return 0;
}

void
survey_status(const struct account *a, const struct fetch_stats *st)
{
	char	all[32], fresh[32];

	progress_human_size(all, sizeof all, st->on_server_bytes);
	progress_human_size(fresh, sizeof fresh, st->new_bytes);
	log_result(a->name, "%lu message%s (%s) on the server, %lu new (%s)",
	    st->on_server, st->on_server == 1 ? "" : "s", all, st->new_msgs,
	    fresh);
}

int
survey_list(const struct account *a, struct pop3 *p,
    const struct pop3_scan *sc, const size_t *todo, size_t ntodo,
    struct error *err)
{
	const struct pop3_msg	*m;
	struct buf		 hdr;
	char			 size[32], date[HEADERS_FIELD_MAX];
	char			 from[HEADERS_FIELD_MAX], subj[HEADERS_FIELD_MAX];
	size_t			 i;
	int			 rc = -1;

	buf_init(&hdr);
	for (i = 0; i < ntodo; i++) {
		m = &sc->msgs[todo[i]];
		if (headers_top(p, m->num, &hdr, err) == -1)
			goto out;
		headers_field(hdr.data, hdr.len, "Date", date, sizeof date);
		headers_field(hdr.data, hdr.len, "From", from, sizeof from);
		if (!headers_field(hdr.data, hdr.len, "Subject", subj,
		    sizeof subj))
			strlcpy(subj, "(no subject)", sizeof subj);
		progress_human_size(size, sizeof size, m->size);
		log_result(a->name, "%lu  %s  %s  %s  %s", m->num, size,
		    date[0] != '\0' ? date : "(no date)",
		    from[0] != '\0' ? from : "(no sender)", subj);
	}
	if (ntodo == 0)
		log_result(a->name, "no new messages");
	rc = 0;
out:
	buf_free(&hdr);
	return rc;
}

void
survey_would(const struct account *a, const struct pop3_msg *m,
    enum verdict v, const char *why)
{
	char	size[32];

	progress_human_size(size, sizeof size, m->size);
	if (v == VERDICT_FETCH)
		log_result(a->name, "message %lu (%s): would fetch", m->num,
		    size);
	else
		log_result(a->name, "message %lu (%s): would %s (%s)", m->num,
		    size, v == VERDICT_KILL ? "delete unread" : "leave on "
		    "the server", why);
}

void
survey_dry_summary(const struct account *a, const struct fetch_stats *st,
    unsigned long fetch, uint64_t fetch_bytes, unsigned long dele)
{
	char	size[32];

	progress_human_size(size, sizeof size, fetch_bytes);
	log_result(a->name, "dry run: would fetch %lu message%s (%s), delete "
	    "%lu, leave %lu on the server; nothing was changed", fetch,
	    fetch == 1 ? "" : "s", size, dele + st->killed, st->skipped);
}
