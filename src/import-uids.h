/*
 * import-uids.h -- `popfetch --import-uids FORMAT FILE [account ...]`:
 * take over the UIDs another fetcher recorded in keep mode, so that the
 * first popfetch run does not fetch again what it already delivered.
 *
 * Formats (each as its tool writes it):
 *   mpop       the uidls file: "#" comments, then per mailbox a line
 *              " COUNT HOST USER" followed by COUNT UID lines.
 *   fetchmail  .fetchids: one "USER@HOST UID" line per message (USER may
 *              hold "@" itself; the last "@" of the first word splits).
 *   getmail    getmail6's oldmail-HOST-PORT-USER file: "UID\0EPOCH" lines;
 *              host, port and user come from the file name.
 * A mailbox goes to the popfetch accounts with the same user and host
 * (and port, for getmail), or only to the accounts named.  The UIDs are
 * recorded through the state file's normal locked, fsync'd writer as
 * delivered (at getmail's time, else now); those known already are left
 * as they are.  In delete mode the next run then deletes them on the
 * server without fetching them: the old tool delivered them.
 */
#ifndef POPFETCH_IMPORT_UIDS_H
#define POPFETCH_IMPORT_UIDS_H

#include <stdio.h>
#include <time.h>

#include "account.h"
#include "error.h"

enum uid_format {
	UIDFMT_MPOP,
	UIDFMT_FETCHMAIL,
	UIDFMT_GETMAIL,
};

/* The UIDs of one mailbox on one server. */
struct uid_list {
	char	*user;			/* NULL for getmail: see oldmail */
	char	*host;
	char	*oldmail;		/* getmail: "oldmail-HOST-PORT-USER" */
	char	**uids;
	time_t	*when;			/* 0: not recorded */
	size_t	 n;
};

/* "mpop", "fetchmail", "getmail" (or "getmail6"); -1 if none of them. */
int	import_uids_format(const char *, enum uid_format *);

/*
 * Read path in format fmt into *lists (*nlists entries; free with
 * import_uids_free).  EX_NOINPUT when it cannot be read, EX_DATAERR
 * naming file and line when it is not in that format or holds a UID no
 * POP3 server could send.
 */
int	import_uids_read(enum uid_format fmt, const char *path,
	    struct uid_list **lists, size_t *nlists, struct error *);
void	import_uids_free(struct uid_list *, size_t);

/*
 * Whether list l belongs to account a: same user and host; for getmail,
 * whose file name joins host, port and user with "-" (so that it cannot
 * be split back), the name a's host, port and user would give.
 */
int	import_uids_match(const struct uid_list *l, const struct account *a);

/*
 * Record l's UIDs in a's state file; *added and *known say how many were
 * new and how many were there already.
 */
int	import_uids_record(const struct uid_list *l, const struct account *a,
	    size_t *added, size_t *known, struct error *);

#endif
