/*
 * pop3-parse.h -- what a POP3 server lists, parsed: the capabilities
 * (CAPA, RFC 2449), the messages and sizes (LIST) and their unique IDs
 * (UIDL).  Each function takes one line of a multi-line answer, already
 * dot-unstuffed and without its line end.  Lines come from the server and
 * are hostile: the parsers bound everything and fail with EX_PROTOCOL
 * naming the problem rather than guess.
 */
#ifndef POPFETCH_POP3_PARSE_H
#define POPFETCH_POP3_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "error.h"

#define POP3_MAX_MESSAGES	1000000	/* more is taken for a hostile server */

struct pop3_caps {
	int	 known;			/* CAPA succeeded */
	int	 top, user, uidl, pipelining, stls, resp_codes;
	int	 auth_resp_code, utf8;
	long	 expire;
	long	 login_delay;		/* -1 not announced */
	char	*sasl;			/* mechanism list, or NULL */
	char	*implementation;	/* or NULL */
	char	**lines;		/* every line as sent, for -S */
	size_t	 nlines;
};

/* One message of the maildrop, from LIST and UIDL. */
struct pop3_msg {
	unsigned long	 num;
	uint64_t	 size;		/* as LIST said: a hint only */
	char		*uid;		/* NULL without UIDL; in scan's arena */
};

struct pop3_scan {
	struct pop3_msg	*msgs;		/* sorted by num */
	size_t		 count;
	int		 have_uids;
	struct arena	 uids;		/* every msgs[].uid, one block per 64 KiB */
};

/* Forget every capability (before CAPA, and again after STLS). */
void	pop3_caps_clear(struct pop3_caps *);
/*
 * One CAPA line: kept as sent in lines (at most POP3_CAPA_LINES_MAX;
 * more is EX_PROTOCOL), then parsed; unknown capabilities are ignored,
 * line is changed.
 */
#define POP3_CAPA_LINES_MAX	1000
int	pop3_capa_line(struct pop3_caps *, char *line, struct error *);
/*
 * One LIST line, "NUM SIZE": appended to the scan.  Numbers must rise,
 * sizes fit in 64 bits, and at most POP3_MAX_MESSAGES messages.
 */
int	pop3_list_line(struct pop3_scan *, char *line, struct error *);
/*
 * One UIDL line, "NUM UID", after the whole LIST: the UID (1-70 printable
 * characters) goes to the message LIST named, which must have none yet.
 */
int	pop3_uidl_line(struct pop3_scan *, char *line, struct error *);
/* After UIDL: every message has a UID and no two share one. */
int	pop3_check_unique_uids(struct pop3_scan *, struct error *);

#endif
