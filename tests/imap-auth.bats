#!/usr/bin/env bats
# imap-auth.bats -- `delivery imap` with delivery_auth: AUTHENTICATE
# (RFC 3501 6.2.2) through auth.c's SASL layer into a real Dovecot IMAP
# (tests/lib/dovecot.bash, DOVECOT_IMAP=yes) that offers PLAIN, LOGIN and
# SCRAM-SHA-256 and SASL-IR (RFC 4959); a refused login and a mechanism
# the server does not list; tests/imapserver.py for a server without
# SASL-IR and one whose challenges never end.

load lib/common
load lib/certs
load lib/dovecot
load lib/popserver
load lib/delivered

setup_file() {
	make_test_ca "$BATS_RUN_TMPDIR/certs"
	DOVECOT_IMAP=yes
	DOVECOT_AUTH_MECHANISMS="plain login scram-sha-256"
	dovecot_start
}

teardown_file() {
	dovecot_stop
}

setup() {
	DSTU=dst$BATS_TEST_NUMBER
	dovecot_add_user "$DSTU" "pw-$DSTU"
}

teardown() {
	delivered_teardown
}

# rc AUTH [LINE...]: $MB into $DSTU's INBOX over imaps:// with delivery_auth AUTH.
rc() {
	local auth=$1
	shift
	popserver_rc "timeout 30" \
	    "delivery imap imaps://$DSTU@127.0.0.1:$DOVECOT_IMAPS_PORT/INBOX" \
	    "received_header off" "uidls_file $TEST_TMP/state/%U" \
	    "delivery_tls_trust_file $DOVECOT_CA" "delivery_auth $auth" "$@"
}

fetch() {
	run "$POPFETCH" -C "$RC" "$@"
}

@test "imap auth: AUTHENTICATE PLAIN with SASL-IR, byte for byte; the password never in the trace" {
	make_mailbox "$MB" 3
	cp -r "$MB" "$TEST_TMP/orig"
	popserver_start --mailbox "$MB"
	rc plain "delivery_password pw-$DSTU"
	fetch --debug
	assert_success
	assert_output --partial "AUTHENTICATE PLAIN as $DSTU"
	assert_output --partial "AUTHENTICATE PLAIN (initial response not shown)"
	refute_output --partial "pw-$DSTU"
	refute_output --partial "$(printf '\0%s\0pw-%s' "$DSTU" "$DSTU" | base64)"
	refute_output --regexp 'LOGIN "'
	[ "$(server_count)" -eq 0 ]
	assert_maildir_matches "$TEST_TMP/orig" "$(dovecot_maildir "$DSTU")"
}

@test "imap auth: AUTHENTICATE SCRAM-SHA-256 (the server's proof checked)" {
	make_mailbox "$MB" 2
	popserver_start --mailbox "$MB"
	rc scram-sha-256 "delivery_passwordeval echo pw-$DSTU"
	fetch --debug
	assert_success
	assert_output --partial "AUTHENTICATE SCRAM-SHA-256 as $DSTU"
	assert_output --partial "(SASL response not shown)"
	refute_output --partial "pw-$DSTU"
	[ "$(server_count)" -eq 0 ]
	[ "$(dovecot_count "$DSTU")" -eq 2 ]
}

@test "imap auth: AUTHENTICATE LOGIN (the server speaks first)" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB"
	rc login "delivery_password pw-$DSTU"
	fetch --debug
	assert_success
	assert_output --partial "AUTHENTICATE LOGIN as $DSTU"
	[ "$(server_count)" -eq 0 ]
	[ "$(dovecot_count "$DSTU")" -eq 1 ]
}

@test "imap auth: a wrong password is refused: 77, nothing fetched or deleted" {
	make_mailbox "$MB" 2
	popserver_start --mailbox "$MB"
	rc plain "delivery_password wrong-pw"
	fetch
	assert_failure 77
	assert_output --partial "the IMAP server 127.0.0.1:$DOVECOT_IMAPS_PORT: the server rejected AUTH PLAIN: "
	refute_output --partial "wrong-pw"
	[ "$(server_count)" -eq 2 ]
	[ "$(dovecot_count "$DSTU")" -eq 0 ]
}

@test "imap auth: a mechanism the server does not list: 69 naming what it lists, nothing sent" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB"
	rc cram-md5 "delivery_password pw-$DSTU"
	fetch --debug
	assert_failure 69
	assert_output --partial "does not offer AUTH=CRAM-MD5 (delivery_auth; it lists: PLAIN LOGIN SCRAM-SHA-256 )"
	refute_output --partial "AUTHENTICATE CRAM-MD5"
	[ "$(server_count)" -eq 1 ]
}

@test "imap auth: without SASL-IR the initial response goes after the empty continuation" {
	make_mailbox "$MB" 2
	cp -r "$MB" "$TEST_TMP/orig"
	imapserver_start --password pw-x
	popserver_start --mailbox "$MB"
	popserver_rc "timeout 30" \
	    "delivery imap imap://u@127.0.0.1:$IMAP_PORT/INBOX" \
	    "delivery_tls off" "received_header off" "delivery_auth plain" \
	    "delivery_password pw-x"
	fetch --debug
	assert_success
	assert_output --partial "-> p2 AUTHENTICATE PLAIN"$'\n'
	refute_output --partial "initial response not shown"
	grep -qx 'C: p2 AUTHENTICATE PLAIN' "$ILOG"
	grep -qx 'C: (SASL response)' "$ILOG"
	[ "$(server_count)" -eq 0 ]
	assert_maildir_matches "$TEST_TMP/orig" "$STORE"
}

@test "imap auth: a server whose challenges never end: cancelled, a clear error, nothing deleted" {
	make_mailbox "$MB" 1
	imapserver_start --password pw-x --sasl-ir --auth-endless
	popserver_start --mailbox "$MB"
	popserver_rc "timeout 30" \
	    "delivery imap imap://u@127.0.0.1:$IMAP_PORT/INBOX" \
	    "delivery_tls off" "delivery_auth plain" "delivery_password pw-x"
	run timeout 60 "$POPFETCH" -C "$RC"
	assert_failure 76
	assert_output --partial "PLAIN exchange failed: the server sent a challenge after the exchange ended"
	[ "$(server_count)" -eq 1 ]
}
