#!/usr/bin/env bats
# lmtp-cyrus.bats -- `delivery lmtp` into a real Cyrus IMAP 3.6 lmtpd on its
# unix socket (tests/lib/cyrus.bash, unpacked by ./setup --deps-only), read
# back through Cyrus' own pop3d: a second LMTP implementation besides
# Dovecot's (lmtp.bats).

load lib/common
load lib/certs
load lib/servers
load lib/cyrus
load lib/popserver
load lib/delivered

setup_file() {
	servers_need usr/lib/cyrus/bin/master usr/lib/cyrus/bin/pop3d \
		usr/lib/cyrus/bin/lmtpd /usr/sbin/saslpasswd2
	cyrus_start
	export CYRUS_POP3_PORT CYRUS_POP3S_PORT CYRUS_CA CYRUS_DIR CYRUS_MASTER_PID
}

teardown_file() {
	cyrus_stop
}

teardown() {
	popserver_stop || true
}

@test "lmtp-cyrus: a tricky mailbox into Cyrus' lmtpd over its unix socket, byte for byte" {
	U=lm$BATS_TEST_NUMBER
	cyrus_add_user "$U" "pw-$U"
	"$PYTHON3" "$TESTS_SRCDIR/gen-corpus" tricky "$MB"
	cp -r "$MB" "$TEST_TMP/orig"
	popserver_start --mailbox "$MB"
	popserver_rc "timeout 30" "delivery lmtp $CYRUS_DIR/socket/lmtp $U" \
	    "received_header off" "uidls_file $TEST_TMP/state/%U"
	run "$POPFETCH" -C "$RC"
	assert_success
	[ "$(find "$MB" -maxdepth 1 -type f | wc -l)" -eq 0 ]
	mkdir -p "$TEST_TMP/got/new"
	cyrus_dump "$U" "$TEST_TMP/got/new"
	for f in "$TEST_TMP/got/new"/*; do
		"$PYTHON3" -c 'import sys; p=sys.argv[1]; d=open(p,"rb").read(); open(p,"wb").write(d.replace(b"\r\n", b"\n"))' "$f"
	done
	# Cyrus drops a bare CR (Postfix makes it a space; docs/servers.md).
	rm "$TEST_TMP/orig"/*-bare-cr
	run grep -l '^A bareCR inside a line\.$' "$TEST_TMP/got/new"/*
	[ "${#lines[@]}" -eq 1 ]
	rm "${lines[0]}"
	assert_delivered "$TEST_TMP/orig" "$TEST_TMP/got"
}

# take PATTERN: the one file of $TEST_TMP/got/new matching PATTERN, removed.
take() {
	run grep -la -- "$1" "$TEST_TMP/got/new"/*
	[ "${#lines[@]}" -eq 1 ] || fail "take $1: ${#lines[@]} files"
	rm "${lines[0]}"
}

@test "lmtp-cyrus: odd messages (gen-corpus odd): NUL refused (554), the rest as Cyrus keeps them" {
	U=lm$BATS_TEST_NUMBER
	cyrus_add_user "$U" "pw-$U"
	"$PYTHON3" "$TESTS_SRCDIR/gen-corpus" odd "$MB"
	cp -r "$MB" "$TEST_TMP/orig"
	popserver_start --mailbox "$MB"
	popserver_rc "timeout 30" "delivery lmtp $CYRUS_DIR/socket/lmtp $U" \
	    "received_header off" "uidls_file $TEST_TMP/state/%U"
	run "$POPFETCH" -C "$RC" --debug
	assert_failure 69
	assert_output --partial "message 3: the LMTP server $CYRUS_DIR/socket/lmtp refused the message: 554 5.6.0 Message contains NUL characters; it stays on the server"
	[ "$(find "$MB" -maxdepth 1 -type f | wc -l)" -eq 1 ]
	# No SMTPUTF8 in its LHLO: a UTF-8 Return-Path goes as <>, as for
	# the two messages without one.
	refute_output --partial "SMTPUTF8"
	[ "$(grep -c -- '-> MAIL FROM:<> SIZE=' <<<"$output")" -eq 3 ]
	mkdir -p "$TEST_TMP/got/new"
	cyrus_dump "$U" "$TEST_TMP/got/new"
	for f in "$TEST_TMP/got/new"/*; do
		"$PYTHON3" -c 'import sys; p=sys.argv[1]; d=open(p,"rb").read(); open(p,"wb").write(d.replace(b"\r\n", b"\n"))' "$f"
	done
	# Cyrus' quirks (docs/servers.md): a Message-ID and a Date added
	# where missing (the empty message gets only those), 8-bit header
	# bytes made X, every CR not before LF dropped.
	take '^Message-ID: <cmu-lmtpd-'
	take '^X-Last: no final newline$'
	take '^Subject: GrXXXXe, JXXrgen XXX'
	take '^bare CRend$'
	run grep -la '^Date: ' "$(grep -la '^no Date field$' "$TEST_TMP/got/new"/*)"
	assert_success
	take '^no Date field$'
	rm "$TEST_TMP/orig"/{01-empty,02-header-only,03-nul,04-cr-lf-mix,07-utf8-headers,09-no-date}
	assert_delivered "$TEST_TMP/orig" "$TEST_TMP/got"
}
