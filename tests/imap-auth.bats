#!/usr/bin/env bats
# imap-auth.bats -- `delivery imap` with delivery_auth: AUTHENTICATE
# (RFC 3501 6.2.2) through auth.c's SASL layer into a real Dovecot IMAP
# (tests/lib/dovecot.bash, DOVECOT_IMAP=yes) that offers PLAIN, LOGIN and
# SCRAM-SHA-256 and SASL-IR (RFC 4959); a refused login and a mechanism
# the server does not list.

load lib/common
load lib/certs
load lib/dovecot
load lib/popserver

setup_file() {
	make_test_ca "$BATS_RUN_TMPDIR/certs"
	DOVECOT_IMAP=yes
	DOVECOT_AUTH_MECHANISMS="plain login scram-sha-256"
	dovecot_start
	export DOVECOT_POP3_PORT DOVECOT_POP3S_PORT DOVECOT_IMAP_PORT \
	    DOVECOT_IMAPS_PORT DOVECOT_CA DOVECOT_DIR DOVECOT_HOME \
	    DOVECOT_CONF DOVECOT_LOG DOVECOT_MASTER_PID
}

teardown_file() {
	dovecot_stop
}

setup() {
	DSTU=dst$BATS_TEST_NUMBER
	dovecot_add_user "$DSTU" "pw-$DSTU"
}

teardown() {
	popserver_stop || true
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

server_count() {
	find "$MB" -maxdepth 1 -type f ! -name '.*' | wc -l
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
