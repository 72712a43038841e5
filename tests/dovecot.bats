#!/usr/bin/env bats
# dovecot.bats -- interoperability with a real Dovecot POP3 server, started
# by these tests on 127.0.0.1 with its own configuration, ports and CA.

load lib/common
load lib/certs
load lib/dovecot

setup_file() {
	make_test_ca "$BATS_RUN_TMPDIR/certs"
	# 127.0.0.2 is an address the server's certificate does not name.
	DOVECOT_LISTEN="127.0.0.1 127.0.0.2"
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
}

# rc MODE [extra lines]: MODE is implicit, starttls or plain.
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

deliver() {
	dovecot_deliver "$U" "$SRC"/*
}

@test "dovecot: implicit TLS, delete mode" {
	make_mailbox "$SRC" 5
	deliver
	rc implicit
	fetch
	assert_success
	assert_output --partial "5 messages fetched"
	assert_maildir_matches "$SRC" "$MD"
	[ "$(dovecot_count "$U")" -eq 0 ]
}

@test "dovecot: STLS" {
	make_mailbox "$SRC" 3
	deliver
	rc starttls
	fetch
	assert_success
	assert_maildir_matches "$SRC" "$MD"
	[ "$(dovecot_count "$U")" -eq 0 ]
}

@test "dovecot: plain TCP (tls off)" {
	make_mailbox "$SRC" 3
	deliver
	rc plain
	fetch
	assert_success
	assert_output --partial "warning: tls is off"
	assert_maildir_matches "$SRC" "$MD"
}

@test "dovecot: wrong password is exit 77, nothing delivered or deleted" {
	make_mailbox "$SRC" 2
	deliver
	rc implicit
	sed -i "s/^password .*/password wrong/" "$RC"
	fetch
	assert_failure 77
	assert_output --partial "default: authentication failed for user $U"
	[ "$(maildir_count "$MD")" -eq 0 ]
	[ "$(dovecot_count "$U")" -eq 2 ]
}

@test "dovecot: a certificate for another host name is rejected, nothing delivered" {
	make_mailbox "$SRC" 2
	deliver
	rc implicit
	sed -i "s/^host .*/host 127.0.0.2/" "$RC"
	fetch
	assert_failure 76
	assert_output --partial "does not match"
	[ "$(maildir_count "$MD")" -eq 0 ]
	[ "$(dovecot_count "$U")" -eq 2 ]
}

@test "dovecot: a pinned fingerprint is accepted without a trust file" {
	make_mailbox "$SRC" 2
	deliver
	rc implicit
	# A pin replaces the CA and name checks: even 127.0.0.2 is accepted.
	sed -i "s/^host .*/host 127.0.0.2/" "$RC"
	sed -i "/^tls_trust_file/d" "$RC"
	echo "tls_fingerprint $(cert_sha256 "$BATS_RUN_TMPDIR/certs/server.pem")" >>"$RC"
	fetch
	assert_success
	assert_maildir_matches "$SRC" "$MD"
}

@test "dovecot: messages that break naive fetchers arrive byte for byte" {
	"$PYTHON3" "$TESTS_SRCDIR/gen-corpus" tricky "$SRC"
	deliver
	rc implicit
	fetch
	assert_success
	assert_maildir_matches "$SRC" "$MD"
}

@test "dovecot: keep mode's second run fetches nothing" {
	make_mailbox "$SRC" 4
	deliver
	rc implicit "keep on"
	fetch
	assert_success
	assert_output --partial "4 messages fetched"
	fetch
	assert_success
	assert_output "default: no new messages, 4 kept on the server"
	[ "$(maildir_count "$MD")" -eq 4 ]
	[ "$(dovecot_count "$U")" -eq 4 ]
}

@test "dovecot: 1,000 messages, every one byte-identical" {
	"$PYTHON3" "$TESTS_SRCDIR/gen-corpus" many "$SRC" 1000
	deliver
	rc implicit
	fetch
	assert_success
	assert_output --partial "1000 messages fetched"
	assert_maildir_matches "$SRC" "$MD"
	[ "$(dovecot_count "$U")" -eq 0 ]
}
