/*
 * import-fetchmail.h -- `popfetch --import-fetchmailrc`: read a
 * .fetchmailrc and print a fetchrc for its POP3 entries.
 *
 * The parser knows fetchmail's run-control grammar well enough for real
 * files: `set` lines, `defaults`, `poll`/`server`/`skip` entries with
 * server options, one or more `user` clauses with user options, quoted
 * strings, the noise words (and, with, has, wants, options, here, there,
 * is, to...) and punctuation.  What maps -- host, port, protocol, user,
 * password, ssl/sslproto/sslcertck/sslcertfile/sslfingerprint, keep,
 * mda, limit, timeout -- becomes fetchrc keys; everything else is listed
 * in a comment so that nothing is dropped silently.  Entries for other
 * protocols (IMAP, ETRN...) are listed as skipped.
 *
 * The output cannot be changed by its input: a value holding a control
 * character (a newline, a NUL, an escape...) is refused with file:line,
 * values are written in fetchrc quotes, comments show anything but
 * printable ASCII as \xHH, and the local user (`is NAME`), which goes
 * into a shell command, must be a plain name.  Linear in the file's size.
 */
#ifndef POPFETCH_IMPORT_FETCHMAIL_H
#define POPFETCH_IMPORT_FETCHMAIL_H

#include <stdio.h>

#include "buf.h"
#include "error.h"

/* One user of one server, with the defaults and server options merged. */
struct fm_entry {
	char	*host;
	int	 line;			/* where the poll statement was */
	int	 skip;			/* `skip` instead of `poll` */
	char	*proto;			/* lower case; NULL: auto */
	int	 port;			/* 0: not given */
	int	 timeout;		/* 0: not given */
	char	*user;
	char	*password;
	char	*localuser;		/* `is NAME here` */
	int	 keep;			/* -1 not given, 0 nokeep, 1 keep */
	int	 ssl;			/* -1, 0, 1 */
	char	*sslproto;		/* NULL: not given */
	int	 sslcertck;		/* -1, 0, 1 */
	char	*sslcertfile;
	char	*sslfingerprint;
	char	*mda;
	char	*smtphost;
	long long limit;		/* 0: not given */
	struct buf unmapped;		/* "keyword value; ..." */
};

struct fm_file {
	struct fm_entry	*entries;
	size_t		 n, cap;
	struct buf	 globals;	/* `set` statements we do not map */
};

/*
 * Parse text (name for messages) into f, which the caller frees with
 * fm_free().  On error (EX_DATAERR, "name:line: ...") f is left empty.
 */
int	fm_parse(const char *text, const char *name, struct fm_file *,
	    struct error *);
void	fm_free(struct fm_file *);

/* Print the fetchrc for f (from the file name) to out. */
void	fm_write(const struct fm_file *, const char *name, FILE *out);

/* Read path, parse, write to out.  EX_NOINPUT when it cannot be read. */
int	import_fetchmailrc(const char *path, FILE *out, struct error *);

#endif
