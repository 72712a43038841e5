#!/usr/bin/env bats
# imap-cyrus.bats -- `delivery imap` into a real Cyrus IMAP 3.6 imapd
# (tests/lib/cyrus.bash with CYRUS_IMAP=yes; the cyrus-imapd package is
# unpacked by ./setup --deps-only), read back through Cyrus' own pop3d: a
# second IMAP server besides Dovecot's (imap.bats), and the lookups of the
# pending journal (docs/exactly-once.md) against it.

load lib/common
load lib/certs
load lib/servers
load lib/cyrus
load lib/popserver
load lib/delivered

setup_file() {
	servers_need usr/lib/cyrus/bin/master usr/lib/cyrus/bin/pop3d \
		usr/lib/cyrus/bin/imapd /usr/sbin/saslpasswd2
	CYRUS_IMAP=yes
	cyrus_start
	export CYRUS_POP3_PORT CYRUS_POP3S_PORT CYRUS_IMAP_PORT CYRUS_CA \
	    CYRUS_DIR CYRUS_MASTER_PID
}

teardown_file() {
	cyrus_stop
}

setup() {
	U=im$BATS_TEST_NUMBER
	cyrus_add_user "$U" "pw-$U"
}

teardown() {
	popserver_stop || true
}

# rc MODE: the test server's mailbox into $U's INBOX, imap:// with STARTTLS.
rc() {
	local keep=off
	[[ $1 == keep ]] && keep=on
	popserver_rc "timeout 30" "keep $keep" \
	    "delivery imap imap://$U@127.0.0.1:$CYRUS_IMAP_PORT/INBOX" \
	    "delivery_password pw-$U" "delivery_tls_trust_file $CYRUS_CA" \
	    "received_header off" "uidls_file $TEST_TMP/state"
}

# got: what Cyrus serves, LF line ends, into $TEST_TMP/got/new.
got() {
	rm -rf "$TEST_TMP/got"
	mkdir -p "$TEST_TMP/got/new"
	cyrus_dump "$U" "$TEST_TMP/got/new"
	for f in "$TEST_TMP/got/new"/*; do
		"$PYTHON3" -c 'import sys; p=sys.argv[1]; d=open(p,"rb").read(); open(p,"wb").write(d.replace(b"\r\n", b"\n"))' "$f"
	done
}

@test "imap-cyrus: a tricky mailbox APPENDed to Cyrus' imapd over STARTTLS" {
	"$PYTHON3" "$TESTS_SRCDIR/gen-corpus" tricky "$MB"
	cp -r "$MB" "$TEST_TMP/orig"
	popserver_start --mailbox "$MB"
	rc delete
	run "$POPFETCH" --debug -C "$RC"
	assert_success
	[ "$(find "$MB" -maxdepth 1 -type f | wc -l)" -eq 0 ]
	# LITERAL+ and UIDPLUS, as after Dovecot's login: batches in flight,
	# each message's UID for the journal.
	assert_output --regexp '-> p[0-9]+ APPEND "INBOX" " 2-Mar-2026 10:00:00 \+0000" \{[0-9]+\+\}'
	assert_output --regexp '<- p[0-9]+ OK \[APPENDUID [0-9]+ [0-9]+\]'
	# The bare CRs too: Cyrus' lmtpd drops them, its imapd keeps them.
	got
	assert_delivered "$TEST_TMP/orig" "$TEST_TMP/got"
}

# unrecord [strip]: after a whole keep-mode run, every UID pending and
# none recorded, as a kill between the server's OKs and the UID records
# leaves the state; with strip, the journal without the APPENDUIDs too.
unrecord() {
	dest_unrecord "$MB" "$TEST_TMP/state" "${1:-}"
}

@test "imap-cyrus: appended but not recorded, with and without APPENDUIDs: found in Cyrus, never appended twice" {
	"$PYTHON3" "$TESTS_SRCDIR/gen-corpus" tricky "$MB"
	printf 'Subject: no id\n\nsame size A\n' >"$MB/20-noid-a"
	printf 'Subject: no id\n\nsame size B\n' >"$MB/21-noid-b"
	# NULs: appended as literal8, BODY[] compared by digest all the same.
	printf 'Subject: nul no id\n\na\0b\n' >"$MB/22-nul-noid"
	printf 'Subject: nul\nMessage-ID: <nul.cyrus@popfetch.test>\n\na\0b\n' \
	    >"$MB/23-nul-id"
	cp -r "$MB" "$TEST_TMP/orig"
	n=$(ls "$MB" | wc -l)
	popserver_start --mailbox "$MB"
	rc keep
	run "$POPFETCH" -q -C "$RC"
	assert_success
	[ "$(cyrus_count "$U")" -eq "$n" ]
	grep -q ' [0-9]*:[0-9]* ' "$TEST_TMP/state.dest-journal"
	# By APPENDUID (UID FETCH under Cyrus' UIDVALIDITY).
	unrecord
	run "$POPFETCH" -v -C "$RC"
	assert_success
	run grep -c "was delivered by an interrupted run; recording it" <<<"$output"
	assert_output "$n"
	[ "$(cyrus_count "$U")" -eq "$n" ]
	# By Message-ID and digest, or size and digest; delete mode now.
	unrecord strip
	rc delete
	run "$POPFETCH" -v -C "$RC"
	assert_success
	run grep -c "was delivered by an interrupted run; recording it" <<<"$output"
	assert_output "$n"
	[ "$(find "$MB" -maxdepth 1 -type f | wc -l)" -eq 0 ]
	got
	# Cyrus' pop3d cuts a line at a NUL: those two are not compared.
	run grep -la '^Subject: nul' "$TEST_TMP/got/new"/*
	[ "${#lines[@]}" -eq 2 ]
	rm "${lines[@]}" "$TEST_TMP/orig"/2[23]-nul-*
	assert_delivered "$TEST_TMP/orig" "$TEST_TMP/got"
}

@test "imap-cyrus: odd messages (gen-corpus odd): NULs as a literal8 (BINARY), empty refused, 8-bit header bytes made X" {
	"$PYTHON3" "$TESTS_SRCDIR/gen-corpus" odd "$MB"
	cp -r "$MB" "$TEST_TMP/orig"
	popserver_start --mailbox "$MB"
	rc delete
	run "$POPFETCH" --debug -C "$RC"
	assert_failure 69
	assert_output --partial "message 1: the IMAP server 127.0.0.1:$CYRUS_IMAP_PORT refused the message: Zero-length message literal; it stays on the server"
	[ "$(find "$MB" -maxdepth 1 -type f | wc -l)" -eq 1 ]
	# Cyrus refuses NUL in a literal ("Message contains NUL
	# characters") and lists BINARY: that message alone goes as ~{n+}.
	[ "$(grep -c -- '-> p[0-9]* APPEND "INBOX" .*~{' <<<"$output")" -eq 1 ]
	got
	# Cyrus' munge8bit (docs/servers.md); its imapd, unlike its lmtpd,
	# keeps CRs and adds no Date or Message-ID.
	run grep -la '^Subject: GrXXXXe, JXXrgen XXX' "$TEST_TMP/got/new"/*
	[ "${#lines[@]}" -eq 1 ]
	rm "${lines[0]}" "$TEST_TMP/orig"/{01-empty,07-utf8-headers}
	# Its pop3d serves a line with a NUL cut there (docs/servers.md):
	# the NUL message compared in Cyrus' spool instead, byte for byte.
	run grep -la '^Subject: odd nul ' "$TEST_TMP/got/new"/*
	[ "${#lines[@]}" -eq 1 ]
	rm "${lines[0]}"
	spooled=$(grep -rla --exclude='cyrus.*' '^Message-ID: <odd-nul\.' "$CYRUS_DIR/spool")
	"$PYTHON3" -c 'import sys; a=open(sys.argv[1],"rb").read().replace(b"\r\n",b"\n"); b=open(sys.argv[2],"rb").read(); sys.exit(a!=b)' \
	    "$spooled" "$TEST_TMP/orig/03-nul"
	rm "$TEST_TMP/orig/03-nul"
	assert_delivered "$TEST_TMP/orig" "$TEST_TMP/got"
}
