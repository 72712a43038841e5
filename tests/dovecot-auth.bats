#!/usr/bin/env bats
# dovecot-auth.bats -- SASL against a real Dovecot: SCRAM-SHA-256,
# SCRAM-SHA-1, CRAM-MD5 and PLAIN by name, and what `auth auto` picks
# from the list Dovecot announces.  (Dovecot 2.3 has no -PLUS forms.)

load lib/common
load lib/certs
load lib/dovecot

setup_file() {
	make_test_ca "$BATS_RUN_TMPDIR/certs"
	DOVECOT_AUTH_MECHANISMS="plain login cram-md5 scram-sha-1 scram-sha-256"
	DOVECOT_PLAINTEXT_AUTH=yes
	dovecot_start
}

teardown_file() {
	dovecot_stop
}

setup() {
	U=user$BATS_TEST_NUMBER
	dovecot_add_user "$U" "pw-$U"
	SRC=$TEST_TMP/src
	mkdir -p "$SRC"
	make_mailbox "$SRC" 2
	dovecot_deliver "$U" "$SRC"/*
}

# rc implicit|plain [extra lines]
# received_header off: byte-for-byte comparisons; fetch.bats tests the header.
rc() {
	local mode=$1
	shift
	dovecot_account "$mode" "$U" "pw-$U" "delivery maildir $MD" \
	    "received_header off" "$@" | write_fetchrc "$RC"
}

fetch() {
	run "$POPFETCH" -C "$RC" "$@"
}

@test "dovecot: auth scram-sha-256 over TLS, server proof checked" {
	rc implicit "auth scram-sha-256"
	fetch --debug -v
	assert_success
	assert_output --partial "-> AUTH SCRAM-SHA-256 ***"
	assert_output --partial "logged in with SCRAM-SHA-256"
	refute_output --partial "pw-$U"
	assert_maildir_matches "$SRC" "$MD"
}

@test "dovecot: auth scram-sha-1 without TLS" {
	rc plain "auth scram-sha-1"
	fetch
	assert_success
	assert_maildir_matches "$SRC" "$MD"
}

@test "dovecot: auth cram-md5 and auth plain by name" {
	rc plain "auth cram-md5"
	fetch
	assert_success
	make_mailbox "$SRC" 1
	dovecot_deliver "$U" "$SRC"/*
	rc implicit "auth plain"
	fetch
	assert_success
}

@test "dovecot: auth auto picks SCRAM-SHA-256 over TLS and without" {
	rc implicit
	fetch --debug -v
	assert_success
	assert_output --partial "logged in with SCRAM-SHA-256"
	make_mailbox "$SRC" 1
	dovecot_deliver "$U" "$SRC"/*
	rc plain
	fetch --debug -v
	assert_success
	assert_output --partial "logged in with SCRAM-SHA-256"
}

@test "dovecot: wrong password with SCRAM is exit 77" {
	rc implicit "auth scram-sha-256"
	sed -i "s/^password .*/password wrong/" "$RC"
	fetch
	assert_failure 77
	assert_output --partial "default: authentication failed for user $U"
	[ "$(maildir_count "$MD")" -eq 0 ]
}
