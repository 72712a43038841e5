/*
 * oauth.h -- OAuth 2.0 built in: getting the first tokens (--authorize)
 * and keeping a fresh access token for each run.
 *
 * An account uses it when oauth2_client_id is set and auth is xoauth2,
 * oauthbearer or auto.  The endpoints and scope come from the provider's
 * preset (oauth2_provider microsoft or google) unless the account sets
 * them; generic needs oauth2_token_endpoint and the endpoint of its flow.
 * Tokens live in the token store (tokenstore.h), one file per account.
 *
 * Errors, one line naming what to do: a grant the server refuses
 * (invalid_grant: expired, revoked, consent withdrawn; with Microsoft's
 * AADSTS code when it sends one) or no tokens yet is EX_NOPERM with "run
 * popfetch --authorize ACCOUNT"; a client the server does not know or a
 * scope it refuses is EX_CONFIG; a token endpoint that cannot be reached
 * or answers 5xx is EX_TEMPFAIL; an answer that is not a token response
 * (not JSON, wrong types, too big, a redirect) is EX_PROTOCOL.  No token,
 * code or secret ever reaches a message or a trace.
 */
#ifndef POPFETCH_OAUTH_H
#define POPFETCH_OAUTH_H

#include "account.h"
#include "error.h"

enum oauth_flow {
	OAUTH_FLOW_DEFAULT = 0,	/* what the provider supports best */
	OAUTH_FLOW_DEVICE,	/* RFC 8628 */
	OAUTH_FLOW_BROWSER,	/* RFC 6749 code + PKCE, RFC 8252 loopback */
	OAUTH_FLOW_PASTE,	/* the same, the redirect pasted back */
};

/* Whether the account's token comes from the token store. */
int	 oauth_in_use(const struct account *);

/*
 * A usable access token: the stored one, or a refreshed one when it
 * expires within 60 seconds, or when refused is the stored token (the
 * POP3 server would not take it) and no other run has refreshed it
 * since.  A rotated refresh token is stored before the new access token
 * is returned.  The caller freezero_str()s the result; NULL with err.
 */
char	*oauth_access_token(const struct account *, const char *refused,
	    struct error *);

/*
 * Sign in with flow and store the tokens; the instructions (URL, code)
 * go to stdout at once, the flow reads stdin for --paste.  0 or -1 with
 * err.
 */
int	 oauth_authorize(const struct account *, enum oauth_flow,
	    struct error *);

#endif
