#!/usr/bin/env bats
# imap-oauth.bats -- `delivery imap` with an OAuth token from popfetch's
# token store: delivery_oauth2_account names an account block that holds
# only the oauth2_* settings (signed in with popfetch --authorize NAME);
# the tests' authorization server (tests/oauthserver.py) and a Dovecot
# IMAP whose oauth2 passdb checks each token there by introspection
# (tests/lib/oauth.bash).  XOAUTH2 picked by auto, OAUTHBEARER named, a
# refused token refreshed once, no sign-in yet, -a leaving the sign-in
# block out.

load lib/common
load lib/certs
load lib/dovecot
load lib/oauth
load lib/popserver

setup_file() {
	make_test_ca "$BATS_RUN_TMPDIR/certs"
	oauth_start
	DOVECOT_IMAP=yes
	oauth_dovecot_start
}

teardown_file() {
	dovecot_stop
	oauth_stop
}

setup() {
	U=dst$BATS_TEST_NUMBER
	TOKENS=$TEST_TMP/state/oauth/out
	dovecot_add_user "$U" unused
	oauth_reset "$U"
	OAUTH_ACCOUNT=out
}

teardown() {
	popserver_stop || true
}

# rc [LINE...]: $MB into $U's INBOX, the token from the account block "out".
rc() {
	oauth_popserver_rc "timeout 30" \
	    "delivery imap imaps://$U@127.0.0.1:$DOVECOT_IMAPS_PORT/INBOX" \
	    "received_header off" "uidls_file $TEST_TMP/state/%U" \
	    "delivery_tls_trust_file $DOVECOT_CA" \
	    "delivery_oauth2_account out" "$@"
}

fetch() {
	run "$POPFETCH" -C "$RC" "$@"
}

@test "imap oauth: --authorize the sign-in block, then XOAUTH2 (auto) into Dovecot; no token in the trace" {
	make_mailbox "$MB" 2
	cp -r "$MB" "$TEST_TMP/orig"
	popserver_start --mailbox "$MB"
	rc
	oauth_authorize
	cat "$TEST_TMP/authorize.out"
	[ "$AUTH_RC" -eq 0 ]
	fetch --debug
	assert_success
	assert_output --partial "AUTHENTICATE XOAUTH2 as $U"
	refute_output --partial "$(field access_token)"
	[ "$(server_count)" -eq 0 ]
	assert_maildir_matches "$TEST_TMP/orig" "$(dovecot_maildir "$U")"
	grep -q "introspect $(field access_token) active" "$OAUTH_DIR/log"
	grep -q "user=<$U>, method=XOAUTH2" "$DOVECOT_LOG"
}

@test "imap oauth: delivery_auth oauthbearer" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB"
	rc "delivery_auth oauthbearer"
	oauth_authorize
	[ "$AUTH_RC" -eq 0 ]
	fetch --debug
	assert_success
	assert_output --partial "AUTHENTICATE OAUTHBEARER as $U"
	[ "$(dovecot_count "$U")" -eq 1 ]
	grep -q "user=<$U>, method=OAUTHBEARER" "$DOVECOT_LOG"
}

@test "imap oauth: a token the server refuses is refreshed once, then used" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB"
	rc
	oauth_authorize
	[ "$AUTH_RC" -eq 0 ]
	# A token that still looks valid but that the server does not know.
	sed -i 's/"access_token":"[^"]*"/"access_token":"at-unknown"/' "$TOKENS"
	old=$(field access_token)
	[ "$old" = at-unknown ]
	fetch -v --debug
	assert_success
	assert_output --partial "the delivery server refused the OAuth access token; refreshing it once"
	# Dovecot answers the refused token with a continuation (its JSON
	# error), then NO after the empty answer; the trace hides it.
	assert_output --partial "+ (challenge not shown)"
	assert_output --regexp "NO \[AUTHENTICATIONFAILED\]"
	[ "$(field access_token)" != "$old" ]
	[ "$(grep -c '^refresh ' "$OAUTH_DIR/log")" -eq 1 ]
	[ "$(dovecot_count "$U")" -eq 1 ]
	[ "$(server_count)" -eq 0 ]
}

@test "imap oauth: no sign-in yet: 77 naming --authorize out; nothing fetched or deleted" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB"
	rc
	fetch
	assert_failure 77
	assert_output --partial "--authorize out"
	[ "$(server_count)" -eq 1 ]
}

@test "imap oauth: -a fetches the mailbox, not the sign-in block" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB"
	rc
	oauth_authorize
	[ "$AUTH_RC" -eq 0 ]
	fetch -a
	assert_success
	refute_output --partial "no host set"
	[ "$(dovecot_count "$U")" -eq 1 ]
}

@test "imap oauth: delivery_oauth2_account naming no block is a config error" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB"
	popserver_rc "delivery imap imaps://u@127.0.0.1:1/INBOX" \
	    "delivery_oauth2_account nosuch"
	fetch
	assert_failure 78
	assert_output --partial "delivery_oauth2_account nosuch: no account block of that name"
	[ "$(server_count)" -eq 1 ]
}

@test "imap oauth: delivery_oauth2_account or delivery_user with a kind that does not use it is a config error" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB"
	popserver_rc "delivery smtp 127.0.0.1:1 bob@x" \
	    "delivery_oauth2_account out"
	fetch
	assert_failure 78
	assert_output --partial "delivery_oauth2_account is for delivery imap and gmail only"
	popserver_rc "delivery imap imaps://u@127.0.0.1:1/INBOX" \
	    "delivery_user bob" "delivery_password x"
	fetch
	assert_failure 78
	assert_output --partial "delivery_user is for delivery smtp only"
	[ "$(server_count)" -eq 1 ]
}
