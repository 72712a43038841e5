/*
 * redirect.h -- the browser's side of an OAuth authorization code sign-in
 * (RFC 6749 4.1 with PKCE, RFC 7636, and a loopback redirect, RFC 8252):
 * the PKCE secrets, a socket on 127.0.0.1 the browser comes back to, or
 * an address the user pastes back, and the code in it.  Knows no account
 * and no endpoint; oauth.c builds the URL and exchanges the code.
 */
#ifndef POPFETCH_REDIRECT_H
#define POPFETCH_REDIRECT_H

#include "error.h"

#define REDIRECT_VERIFIER	64	/* buffer for a verifier or challenge */
#define REDIRECT_STATE		32	/* buffer for a state */
/* A pasted address or a browser's request head, at most. */
#define REDIRECT_LINE_MAX	8192

/*
 * A fresh PKCE code verifier (43 base64url characters from 32 random
 * bytes), its S256 challenge, and a random state.
 */
void	redirect_pkce(char *verifier, char *challenge, char *state);

/* A listening socket on 127.0.0.1, any free port: 0, or -1 with err. */
int	redirect_listen(int *fd, int *port, struct error *);

/*
 * Wait (at most REDIRECT_WAIT seconds) for the browser to come back to
 * fd with our state: the first request carrying a state or an error is
 * answered with a short page and its code taken (redirect_take_code);
 * others get a 404.  0 with *code (the caller freezero_str()s it), or -1.
 */
#define REDIRECT_WAIT	1800
int	redirect_wait(int fd, const char *state, char **code, struct error *);

/*
 * The code in what came back: an address or query carrying code= and our
 * state (an error= there is the sign-in's failure, EX_NOPERM), or a bare
 * code as pasted.  Another state, no code or junk is EX_DATAERR.
 */
int	redirect_take_code(const char *back, const char *state, char **code,
	    struct error *);

/*
 * Start $BROWSER, else xdg-open when there is a display, on url in the
 * background; without either nothing happens (the URL is printed anyway).
 */
void	redirect_open_browser(const char *url);

#endif
