/* netrc.c -- passwords from ~/.netrc; see netrc.h. */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netrc.h"
#include "xio.h"
#include "xmalloc.h"

/* A .netrc is a few lines; more is not one. */
#define NETRC_MAX	(256 * 1024)
#define NETRC_BLANKS	" \t\r\n"

struct entry {
	int	 in_entry;
	int	 is_default;
	char	*machine, *login, *password;
};

static const char *next_token(const char **, char *, size_t);
static int	 entry_matches(const struct entry *, const char *,
		    const char *);
static void	 entry_clear(struct entry *);
static int	 end_entry(struct entry *, struct entry *, const char *,
		    const char *, char **);
static int	 read_file(int, const char *, char **, size_t *,
		    struct error *);

/*
 * The next blank-separated token into tok (cut at size), or NULL at the
 * end.  macdef bodies are skipped by the caller.
 */
static const char *
next_token(const char **sp, char *tok, size_t size)
{
	const char	*s = *sp;
	size_t		 n;

	s += strspn(s, NETRC_BLANKS);
	if (*s == '\0')
		return NULL;
	n = strcspn(s, NETRC_BLANKS);
	if (n >= size)
		n = size - 1;
	memcpy(tok, s, n);
	tok[n] = '\0';
	*sp = s + strcspn(s, NETRC_BLANKS);
	return tok;
}

static int
entry_matches(const struct entry *e, const char *host, const char *user)
{
	if (e->password == NULL)
		return 0;
	if (e->login != NULL && strcmp(e->login, user) != 0)
		return 0;
	return e->is_default || (e->machine != NULL &&
	    strcasecmp(e->machine, host) == 0);
}

static void
entry_clear(struct entry *e)
{
	free(e->machine);
	free(e->login);
	freezero_str(e->password);
	memset(e, 0, sizeof *e);
}

/*
 * An entry has ended: 1 if it is the machine entry we want (the password
 * goes to *pass); a matching `default` is kept in *dflt for the end.
 */
static int
end_entry(struct entry *e, struct entry *dflt, const char *host,
    const char *user, char **pass)
{
	int	found = 0;

	if (entry_matches(e, host, user)) {
		if (!e->is_default) {
			*pass = e->password;
			e->password = NULL;
			found = 1;
		} else if (dflt->password == NULL) {
			*dflt = *e;
			memset(e, 0, sizeof *e);
		}
	}
	entry_clear(e);
	return found;
}

int
netrc_parse(const char *text, const char *host, const char *user,
    char **pass)
{
	struct entry	 e, dflt;
	const char	*s = text, *t, *end;
	char		 tok[1024], val[1024];
	int		 found = 0;

	memset(&e, 0, sizeof e);
	memset(&dflt, 0, sizeof dflt);
	*pass = NULL;
	while (!found && (t = next_token(&s, tok, sizeof tok)) != NULL) {
		if (strcmp(t, "machine") == 0 || strcmp(t, "default") == 0) {
			if ((found = end_entry(&e, &dflt, host, user, pass)))
				break;
			e.in_entry = 1;
			if (strcmp(t, "default") == 0)
				e.is_default = 1;
			else if (next_token(&s, val, sizeof val) != NULL)
				e.machine = xstrdup(val);
		} else if (strcmp(t, "macdef") == 0) {
			/* A macro runs to the next empty line. */
			if ((end = strstr(s, "\n\n")) == NULL)
				break;
			s = end + 2;
		} else if (e.in_entry && (strcmp(t, "login") == 0 ||
		    strcmp(t, "password") == 0 || strcmp(t, "account") == 0)) {
			if (next_token(&s, val, sizeof val) == NULL)
				break;
			if (strcmp(t, "login") == 0) {
				free(e.login);
				e.login = xstrdup(val);
			} else if (strcmp(t, "password") == 0) {
				freezero_str(e.password);
				e.password = xstrdup(val);
			}
		}
	}
	if (!found)
		found = end_entry(&e, &dflt, host, user, pass);
	if (!found && dflt.password != NULL) {
		*pass = dflt.password;
		dflt.password = NULL;
		found = 1;
	}
	entry_clear(&e);
	entry_clear(&dflt);
	explicit_bzero(tok, sizeof tok);
	explicit_bzero(val, sizeof val);
	return found;
}

int
netrc_lookup(const char *path, const char *host, const char *user,
    char **pass, struct error *err)
{
	struct stat	 st;
	char		*text = NULL;
	size_t		 len = 0;
	int		 fd, rc = -1;

	*pass = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1) {
		if (errno == ENOENT)
			return 0;
		error_set(err, EX_IOERR, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		error_set(err, EX_CONFIG, "%s: not a regular file", path);
		goto out;
	}
	if (read_file(fd, path, &text, &len, err) == -1)
		goto out;
	rc = netrc_parse(text, host, user, pass);
	if (rc == 1 && (st.st_mode & 077) != 0) {
		freezero_str(*pass);
		*pass = NULL;
		error_set(err, EX_CONFIG, "%s: holds passwords but is "
		    "readable by others; run chmod 600 %s", path, path);
		rc = -1;
	}
out:
	if (text != NULL) {
		explicit_bzero(text, len);
		free(text);
	}
	close(fd);
	return rc;
}

static int
read_file(int fd, const char *path, char **textp, size_t *lenp,
    struct error *err)
{
	char	*text;

	*textp = text = xmalloc(NETRC_MAX + 1);
	if (read_bounded(fd, text, NETRC_MAX, lenp) == -1) {
		error_set(err, EX_IOERR, "%s: read: %s", path,
		    strerror(errno));
		return -1;
	}
	if (*lenp == NETRC_MAX) {
		error_set(err, EX_CONFIG, "%s: larger than %d bytes",
		    path, NETRC_MAX);
		return -1;
	}
	text[*lenp] = '\0';
	return 0;
}
