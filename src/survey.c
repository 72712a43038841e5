/* survey.c -- selection and the look-before-fetching modes; see survey.h. */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/param.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "headers.h"
#include "rfc2047.h"
#include "xmalloc.h"
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
	char	all[32], fresh[32], left[96] = "", aside[128] = "";

	progress_human_size(all, sizeof all, st->on_server_bytes);
	progress_human_size(fresh, sizeof fresh, st->new_bytes);

	if (st->left > 0)
		snprintf(left, sizeof left, "; a run takes %lu, %lu wait for "
		    "the next (fetch_limit/fetch_size_limit)",
		    st->new_msgs - st->left, st->left);
	if (st->set_aside > 0)
		snprintf(aside, sizeof aside, "; %lu refused, set aside (%s)",
		    st->set_aside, a->reject_maildir != NULL ? "the next run "
		    "delivers them to reject_maildir" : "popfetch "
		    "--retry-refused tries them again");
	log_result(a->name, "%lu message%s (%s) on the server, %lu new (%s)%s%s",
	    st->on_server, st->on_server == 1 ? "" : "s", all, st->new_msgs,
	    fresh, left, aside);
}

/* --list on a terminal: the narrowest the columns get. */
#define SUBJ_MIN	20
#define FROM_MIN	12
#define DATE_MIN	16

/* One --list row: the fields as they will be shown. */
struct row {
	unsigned long	 num;
	uint64_t	 size;
	char		 hsize[32];
	char		 date[HEADERS_FIELD_MAX * 4];
	char		 sdate[HEADERS_FIELD_MAX * 4];	/* short, for terminals */
	char		 from[HEADERS_FIELD_MAX * 4];
	char		 subj[HEADERS_FIELD_MAX * 4];
};

/* Columns of the terminal on standard output; 80 if it will not say. */
static size_t
term_cols(void)
{
	struct winsize	ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
		return ws.ws_col;
	return 80;
}

/*
 * An RFC 5322 date as "2026-03-02 10:00" (the sender's own time, as
 * written) into out; the text as it was when it does not parse.
 */
static void
short_date(const char *date, char *out, size_t size)
{
	static const char *const formats[] = {
		"%a, %d %b %Y %H:%M:%S", "%d %b %Y %H:%M:%S",
		"%a, %d %b %Y %H:%M", "%d %b %Y %H:%M",
	};
	struct tm	tm;
	size_t		i;

	for (i = 0; i < sizeof formats / sizeof formats[0]; i++) {
		memset(&tm, 0, sizeof tm);
		if (strptime(date, formats[i], &tm) != NULL &&
		    strftime(out, size, "%Y-%m-%d %H:%M", &tm) > 0)
			return;
	}
	strlcpy(out, date, size);
}

/* Terminal columns of a display string (valid UTF-8, all printable). */
static size_t
cols_of(const char *s, int utf8)
{
	char	tmp[HEADERS_FIELD_MAX * 4];

	return rfc2047_display(s, strlen(s), utf8, (size_t)-1, tmp,
	    sizeof tmp);
}

/* s cut to at most w columns and padded with spaces to w, into b. */
static void
add_cell(struct buf *b, const char *s, size_t w, int utf8, int pad)
{
	char	tmp[HEADERS_FIELD_MAX * 4];
	size_t	c;

	c = rfc2047_display(s, strlen(s), utf8, w, tmp, sizeof tmp);
	buf_addstr(b, tmp);
	for (; pad && c < w; c++)
		buf_add(b, " ", 1);
}

/*
 * On a terminal: aligned columns, the subject cut to the terminal's width
 * (never wrapped).  Elsewhere, for scripts: one line per message with the
 * account, number, size in bytes, date, sender and subject, separated by
 * tabs (fields never hold a tab or a newline).
 */
static void
print_rows(const struct account *a, const struct row *r, size_t n, int utf8)
{
	struct buf	 b;
	size_t		 i, numw = 1, sizew = 1, datew = 1, fromw = 1, fixed,
			 cols, w, avail;
	char		 num[32];

	buf_init(&b);
	if (!log_result_tty()) {
		for (i = 0; i < n; i++) {
			buf_reset(&b);
			buf_printf(&b, "%s\t%lu\t%llu\t%s\t%s\t%s", a->name,
			    r[i].num, (unsigned long long)r[i].size,
			    r[i].date, r[i].from, r[i].subj);
			buf_add(&b, "", 1);
			log_result_line(b.data);
		}
		buf_free(&b);
		return;
	}
	for (i = 0; i < n; i++) {
		snprintf(num, sizeof num, "%lu", r[i].num);
		numw = MAX(numw, strlen(num));
		sizew = MAX(sizew, strlen(r[i].hsize));
		datew = MAX(datew, cols_of(r[i].sdate, utf8));
		fromw = MAX(fromw, cols_of(r[i].from, utf8));
	}
	datew = MIN(datew, 31);		/* an unparsed Date as written */
	fromw = MIN(fromw, 32);
	/*
	 * The subject gets what is left, at least SUBJ_MIN: the sender
	 * shrinks first (to FROM_MIN), then the date (to DATE_MIN).
	 */
	cols = term_cols();
	fixed = strlen(a->name) + 2 + numw + 2 + sizew + 2 + 2 + 2 + 1;
	avail = cols > fixed ? cols - fixed : 0;
	if (avail < datew + fromw + SUBJ_MIN)
		fromw = MAX(FROM_MIN, avail > datew + SUBJ_MIN ?
		    avail - datew - SUBJ_MIN : 0);
	if (avail < datew + fromw + SUBJ_MIN)
		datew = MAX(DATE_MIN, avail > fromw + SUBJ_MIN ?
		    avail - fromw - SUBJ_MIN : 0);
	w = avail > datew + fromw + 5 ? avail - datew - fromw : 5;
	for (i = 0; i < n; i++) {
		buf_reset(&b);
		buf_printf(&b, "%s: %*lu  %*s  ", a->name, (int)numw,
		    r[i].num, (int)sizew, r[i].hsize);
		add_cell(&b, r[i].sdate, datew, utf8, 1);
		buf_add(&b, "  ", 2);
		add_cell(&b, r[i].from, fromw, utf8, 1);
		buf_add(&b, "  ", 2);
		add_cell(&b, r[i].subj, w, utf8, 0);
		buf_add(&b, "", 1);
		log_result_line(b.data);
	}
	buf_free(&b);
}

int
survey_list(const struct account *a, struct pop3 *p,
    const struct pop3_scan *sc, const size_t *todo, size_t ntodo,
    struct error *err)
{
	const struct pop3_msg	*m;
	struct buf		 hdr;
	struct row		*rows;
	size_t			 i;
	int			 rc = -1, utf8 = rfc2047_locale_utf8();

	buf_init(&hdr);
	rows = xcalloc(ntodo > 0 ? ntodo : 1, sizeof *rows);
	for (i = 0; i < ntodo; i++) {
		m = &sc->msgs[todo[i]];
		if (headers_top(p, m->num, &hdr, err) == -1)
			goto out;
		rows[i].num = m->num;
		rows[i].size = m->size;
		headers_field_text(hdr.data, hdr.len, "Date", utf8,
		    rows[i].date, sizeof rows[i].date);
		headers_field_text(hdr.data, hdr.len, "From", utf8,
		    rows[i].from, sizeof rows[i].from);
		headers_field_text(hdr.data, hdr.len, "Subject", utf8,
		    rows[i].subj, sizeof rows[i].subj);
		if (rows[i].date[0] == '\0')
			strlcpy(rows[i].date, "(no date)", sizeof rows[i].date);
		if (rows[i].from[0] == '\0')
			strlcpy(rows[i].from, "(no sender)",
			    sizeof rows[i].from);
		if (rows[i].subj[0] == '\0')
			strlcpy(rows[i].subj, "(no subject)",
			    sizeof rows[i].subj);
		progress_human_size(rows[i].hsize, sizeof rows[i].hsize,
		    m->size);
		short_date(rows[i].date, rows[i].sdate, sizeof rows[i].sdate);
	}
	print_rows(a, rows, ntodo, utf8);
	if (ntodo == 0)
		log_result(a->name, "no new messages");
	rc = 0;
out:
	free(rows);
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

	char	left[64] = "";

	progress_human_size(size, sizeof size, fetch_bytes);
	if (st->left > 0)
		snprintf(left, sizeof left, " (%lu more wait for the next run)",
		    st->left);
	log_result(a->name, "dry run: would fetch %lu message%s (%s)%s, delete "
	    "%lu, leave %lu on the server; nothing was changed", fetch,
	    fetch == 1 ? "" : "s", size, left, dele + st->killed, st->skipped);
}
