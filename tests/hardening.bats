#!/usr/bin/env bats
# hardening.bats -- hostile and broken servers: a UIDL naming a message LIST
# does not have, a connection cut in the middle of a status line or of a
# message line, a certificate name with a NUL byte.  Protocol corners are
# transcripts played by tests/popserver.py --script.

load lib/common
load lib/popserver
load lib/certs

teardown() {
	popserver_stop || true
}

# rc HOST [extra lines] -- a plain-TCP account with USER/PASS.
rc() {
	local host=$1 l
	shift
	{
		echo "account default"
		echo "host $host"
		echo "port $POPSERVER_PORT"
		echo "timeout 30"
		echo "user test"
		echo "password secret"
		echo "auth user"
		echo "delivery maildir $MD"
		for l in "$@"; do echo "$l"; done
	} | write_fetchrc "$RC"
}

# The transcript up to and including LIST (one message of 120 octets) and
# UIDL's +OK; the caller appends the rest.
script_head() {
	{
		script_login
		cat <<-'EOS'
		C: LIST
		S: +OK
		S: 1 120
		S: .
		C: UIDL
		S: +OK
		EOS
	} >"$SCRIPT"
}

# fetch_quickly -- fetch, bounded by timeout(1): a hang shows as 124, and
# the run must end well before the account's 30 s timeout.
fetch_quickly() {
	local start=$SECONDS
	run timeout 20 "$POPFETCH" -C "$RC"
	ELAPSED=$((SECONDS - start))
}

nothing_delivered() {
	[ "$(maildir_count "$MD")" -eq 0 ]
	if [ -d "$MD/tmp" ]; then
		[ -z "$(ls -A "$MD/tmp")" ]
	fi
}

@test "a UIDL line naming a message LIST does not have: exit 76, nothing retrieved" {
	script_head
	cat >>"$SCRIPT" <<-'EOS'
	S: 1 uid-one
	S: 2 uid-two
	S: .
	SLEEP 5
	EOS
	popserver_start --script "$SCRIPT" --log "$SLOG"
	rc 127.0.0.1 "tls off"
	fetch_quickly
	assert_failure 76
	assert_output --partial "UIDL names message 2, which LIST does not have"
	nothing_delivered
	! grep -q '^C: \(RETR\|DELE\|QUIT\)' "$SLOG" || false
	! grep -q MISMATCH "$SLOG" || false
}

@test "the connection closed in the middle of a status line: exit 75 at once" {
	script_head
	cat >>"$SCRIPT" <<-'EOS'
	S: 1 uid-one
	S: .
	C: RETR 1
	S-RAW: +OK 120 oct
	CLOSE
	EOS
	popserver_start --script "$SCRIPT" --log "$SLOG"
	rc 127.0.0.1 "tls off"
	fetch_quickly
	assert_failure 75
	[ "$ELAPSED" -lt 10 ]
	assert_output --partial "connection closed by the server"
	nothing_delivered
	! grep -q '^C: \(DELE\|QUIT\)' "$SLOG" || false
	# No record: a "pending uid-one" line (exactly-once recovery) is not one.
	! grep -rqsE '^[0-9]+ uid-one$' "$HOME/.local/state/popfetch" || false
}

@test "the connection closed in the middle of a message line: exit 75 at once, no partial message" {
	script_head
	cat >>"$SCRIPT" <<-'EOS'
	S: 1 uid-one
	S: .
	C: RETR 1
	S: +OK 120 octets
	S: From: a@example.org
	S: Subject: cut
	S:
	S-RAW: the first line of the body is cut he
	CLOSE
	EOS
	popserver_start --script "$SCRIPT" --log "$SLOG"
	rc 127.0.0.1 "tls off"
	fetch_quickly
	assert_failure 75
	[ "$ELAPSED" -lt 10 ]
	assert_output --partial "connection closed by the server"
	nothing_delivered
	! grep -q '^C: \(DELE\|QUIT\)' "$SLOG" || false
	# No record: a "pending uid-one" line (exactly-once recovery) is not one.
	! grep -rqsE '^[0-9]+ uid-one$' "$HOME/.local/state/popfetch" || false
}

# start_nul_cert NAME [san|cn] -- a TLS server whose certificate names
# NAME (with escapes), signed by the CA $TEST_TMP/ca.pem that
# make-nul-cert also makes.  Skips without python3-cryptography.
start_nul_cert() {
	local rc=0
	"$PYTHON3" "$TESTS_SRCDIR/make-nul-cert" "$TEST_TMP" "$@" || rc=$?
	[ "$rc" -ne 77 ] || skip "python3 module cryptography not installed"
	[ "$rc" -eq 0 ]
	mkdir -p "$TEST_TMP/mailbox"
	make_mailbox "$TEST_TMP/mailbox" 1
	popserver_start --mailbox "$TEST_TMP/mailbox" --log "$SLOG" \
	    --tls implicit --cert "$TEST_TMP/cert.pem" \
	    --key "$TEST_TMP/cert-key.pem"
}

@test "a '.' line ended by a bare LF is message content, never the end (RFC 1939: CRLF . CRLF)" {
	script_head
	# The body holds "line B\n.\nline C": a client that took ".\n" for the
	# end recorded half a message and, in delete mode, later deleted it.
	cat >>"$SCRIPT" <<-'EOS'
	S: 1 uid-one
	S: .
	C: RETR 1
	S: +OK 120 octets
	S: Subject: bare LF
	S:
	S: line A
	S-RAW: line B\n.\nline C\r\n
	S: line D
	S: .
	C: NOOP
	S: +OK
	C: DELE 1
	S: +OK deleted
	C: QUIT
	S: +OK bye
	EOS
	popserver_start --script "$SCRIPT" --log "$SLOG"
	rc 127.0.0.1 "tls off" "received_header off"
	fetch_quickly
	assert_success
	[ "$(maildir_count "$MD")" -eq 1 ]
	run cat "$MD"/new/*
	assert_output "$(printf 'Subject: bare LF\n\nline A\nline B\n.\nline C\nline D')"
	! grep -q MISMATCH "$SLOG" || false
}

@test "a message followed by no valid reply (an unstuffed '.' line ended it early): not delivered, not recorded, not deleted" {
	script_head
	# The server failed to stuff a "." line: the message seems to end
	# there, and its rest arrives where the next reply should.
	cat >>"$SCRIPT" <<-'EOS'
	S: 1 uid-one
	S: .
	C: RETR 1
	S: +OK 120 octets
	S: Subject: unstuffed
	S:
	S: first part
	S: .
	S: the rest of the message
	S: .
	C: .*
	S: +OK
	C: .*
	S: +OK
	EOS
	popserver_start --script "$SCRIPT" --log "$SLOG"
	rc 127.0.0.1 "tls off"
	fetch_quickly
	assert_failure 76
	assert_output --partial "message 1 was not delivered"
	assert_output --partial "stays on the server"
	nothing_delivered
	! grep -q '^C: DELE' "$SLOG" || false
	! grep -rqsE '^[0-9]+ uid-one$' "$HOME/.local/state/popfetch" || false
}

@test "a certificate for 'localhost\\0.evil.example' (SAN and CN) is not taken for localhost" {
	start_nul_cert 'localhost\x00.evil.example' san
	rc localhost "tls_trust_file $TEST_TMP/ca.pem"
	fetch_quickly
	assert_failure 76
	assert_output --partial "cannot verify the certificate of localhost"
	assert_output --partial "tls_fingerprint $(cert_sha256 "$TEST_TMP/cert.pem")"
	[ "${#lines[@]}" -eq 1 ]
	! grep -q '^C: \(USER\|PASS\)' "$SLOG" || false
	nothing_delivered
}

@test "a certificate with 'localhost\\0.evil.example' as its only name (CN) is not taken for localhost" {
	start_nul_cert 'localhost\x00.evil.example' cn
	rc localhost "tls_trust_file $TEST_TMP/ca.pem"
	fetch_quickly
	assert_failure 76
	assert_output --partial "cannot verify the certificate of localhost"
	! grep -q '^C: \(USER\|PASS\)' "$SLOG" || false
	nothing_delivered
}

@test "control: the same generator's certificate for plain 'localhost' is accepted" {
	start_nul_cert 'localhost' san
	rc localhost "tls_trust_file $TEST_TMP/ca.pem"
	fetch_quickly
	assert_success
	[ "$(maildir_count "$MD")" -eq 1 ]
}

@test "a FIFO as uidls_file: exit 65 at once, before connecting" {
	make_mailbox "$TEST_TMP/mb" 1
	popserver_start --mailbox "$TEST_TMP/mb" --log "$SLOG"
	mkfifo "$TEST_TMP/uidls"
	rc 127.0.0.1 "tls off" "uidls_file $TEST_TMP/uidls"
	fetch_quickly
	assert_failure 65
	assert_output --partial "$TEST_TMP/uidls is not a regular file (a FIFO)"
	[ "${#lines[@]}" -eq 1 ]
	[ "$ELAPSED" -lt 5 ]
	! grep -q '^C: ' "$SLOG" || false
	# The survey modes refuse it the same way.
	run timeout 20 "$POPFETCH" -C "$RC" -s
	assert_failure 65
}

@test "a FIFO as the mbox: exit 73 at once, before connecting" {
	make_mailbox "$TEST_TMP/mb" 1
	popserver_start --mailbox "$TEST_TMP/mb" --log "$SLOG"
	mkfifo "$TEST_TMP/inbox"
	rc 127.0.0.1 "tls off" "delivery mbox $TEST_TMP/inbox"
	fetch_quickly
	assert_failure 73
	assert_output --partial "mbox $TEST_TMP/inbox is not a regular file"
	[ "$ELAPSED" -lt 5 ]
	! grep -q '^C: ' "$SLOG" || false
}

# big_second DIR -- three messages; the second one 60 KiB.
big_second() {
	make_mailbox "$1" 3
	local second
	second=$(ls "$1" | sed -n 2p)
	{
		printf 'Subject: big\n\n'
		for ((i = 0; i < 600; i++)); do printf '%099d\n' "$i"; done
	} >"$1/$second"
}

@test "skipsize holds for what arrives: a message listed small that grows past it stays on the server" {
	big_second "$TEST_TMP/mb"
	popserver_start --mailbox "$TEST_TMP/mb" --list-size 2:100 --log "$SLOG"
	rc 127.0.0.1 "tls off" "skipsize 20k"
	fetch_quickly
	assert_success
	assert_output --partial "message 2: listed as 100 bytes but"
	assert_output --partial "over skipsize; not delivered, it stays on the server"
	[ "$(maildir_count "$MD")" -eq 2 ]
	! grep -rq '^Subject: big' "$MD/new" || false
	[ -z "$(ls -A "$MD/tmp")" ]
	[ "$(ls "$TEST_TMP/mb" | wc -l)" -eq 1 ]
	grep -q '^C: DELE 1' "$SLOG"
	! grep -q '^C: DELE 2' "$SLOG" || false
	# And the next run leaves it again, nothing else to do.
	fetch_quickly
	assert_success
	[ "$(ls "$TEST_TMP/mb" | wc -l)" -eq 1 ]
}

@test "a message that streams far past its listed size: the connection is dropped (76), nothing of it kept" {
	big_second "$TEST_TMP/mb"
	popserver_start --mailbox "$TEST_TMP/mb" --list-size 2:100 --log "$SLOG"
	rc 127.0.0.1 "tls off" "killsize 10k" "keep on"
	fetch_quickly
	assert_failure 76
	assert_output --partial "the server sends far more than the size it listed"
	[ "$(maildir_count "$MD")" -eq 1 ]
	! grep -rq '^Subject: big' "$MD/new" || false
	[ -z "$(ls -A "$MD/tmp")" ]
	[ "$(ls "$TEST_TMP/mb" | wc -l)" -eq 3 ]
}
