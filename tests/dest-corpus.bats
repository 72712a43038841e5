#!/usr/bin/env bats
# dest-corpus.bats -- odd messages (tests/gen-corpus odd: an empty one, a
# header without its end, NUL bytes, bare CRs, lines of 5,000 and 200,000
# characters in the body and the header, raw UTF-8 headers and a UTF-8
# Return-Path, missing, malformed and out-of-range dates) and a 30 MB one
# delivered into the real servers these tests start: Dovecot's LMTP and
# IMAP, and Postfix (as root; BDAT, and DATA in the last test, which
# restarts it with its default line_length_limit).  What arrives is
# compared byte for byte after the trace fields the server adds; what a
# server changes is a quirk, written in docs/servers.md; the peak memory
# of a 30 MB delivery is bounded.

load lib/common
load lib/certs
load lib/dovecot
load lib/popserver
load lib/delivered
load lib/postfix

setup_file() {
	make_test_ca "$BATS_RUN_TMPDIR/certs"
	DOVECOT_LMTP=yes
	DOVECOT_IMAP=yes
	dovecot_start
	export DOVECOT_POP3_PORT DOVECOT_POP3S_PORT DOVECOT_LMTP_PORT \
	    DOVECOT_LMTP_SOCKET DOVECOT_IMAP_PORT DOVECOT_IMAPS_PORT \
	    DOVECOT_CA DOVECOT_DIR DOVECOT_HOME DOVECOT_CONF DOVECOT_LOG \
	    DOVECOT_MASTER_PID
	if [[ $(id -u) -eq 0 ]]; then
		POSTFIX_USERS="bob"
		postfix_start
		export POSTFIX_PORT POSTFIX_DIR POSTFIX_CA POSTFIX_PID
	fi
}

teardown_file() {
	dovecot_stop
	[[ $(id -u) -ne 0 ]] || postfix_stop
}

setup() {
	DSTU=dst$BATS_TEST_NUMBER
	dovecot_add_user "$DSTU" "pw-$DSTU"
}

teardown() {
	popserver_stop || true
	[[ -z ${LMTP_PID:-} ]] || popserver_stop "$LMTP_PID" || true
	# A Postfix a test started in place of setup_file's is the test's to
	# stop: teardown_file knows only the first.
	[[ -z ${POSTFIX_OWN:-} ]] || postfix_stop
}

# rc DELIVERY [extra lines]: popserver.py's $MB into DELIVERY.
rc() {
	local dl=$1
	shift
	popserver_rc "timeout 30" "delivery $dl" "received_header off" \
	    "uidls_file $TEST_TMP/state/%U" "$@"
}

fetch() {
	run "$POPFETCH" -C "$RC" "$@"
}

server_count() {
	find "$MB" -maxdepth 1 -type f ! -name '.*' | wc -l
}

odd_mailbox() {
	"$PYTHON3" "$TESTS_SRCDIR/gen-corpus" odd "$MB"
	cp -r "$MB" "$TEST_TMP/orig"
	popserver_start --mailbox "$MB"
}

@test "dest-corpus: odd messages into Dovecot's LMTP" {
	odd_mailbox
	rc "lmtp 127.0.0.1:$DOVECOT_LMTP_PORT $DSTU"
	fetch --debug
	assert_success
	# A UTF-8 Return-Path needs SMTPUTF8, which Dovecot's LMTP does not
	# offer: the null sender, taken (RCPT and all), as for the two
	# messages without a Return-Path.
	[ "$(grep -c -- '-> MAIL FROM:<> BODY=8BITMIME$' <<<"$output")" -eq 3 ]
	refute_output --partial "SMTPUTF8"
	[ "$(server_count)" -eq 0 ]
	assert_delivered "$TEST_TMP/orig" "$(dovecot_maildir "$DSTU")"
}

@test "dest-corpus: odd messages into Dovecot's IMAP" {
	odd_mailbox
	rc "imap imaps://$DSTU@127.0.0.1:$DOVECOT_IMAPS_PORT/INBOX" \
	    "delivery_password pw-$DSTU" "delivery_tls_trust_file $DOVECOT_CA"
	fetch --debug
	# Dovecot refuses an empty message (docs/servers.md): a refusal
	# naming its answer; the message stays for the reject rules.
	assert_failure 69
	assert_output --partial "message 1: the IMAP server 127.0.0.1:$DOVECOT_IMAPS_PORT refused the message: Can't save a zero byte message"
	assert_output --partial "it stays on the server"
	[ "$(server_count)" -eq 1 ]
	# A Date that cannot be an internal date goes without one: no
	# 31-Feb, no year 9999, nothing before 1970 in local time or UTC.
	[ "$(grep -c 'APPEND "INBOX" ~\?{' <<<"$output")" -eq 8 ]
	# Dovecot lists BINARY: the message with NULs goes as a literal8.
	[ "$(grep -c 'APPEND "INBOX" .*~{' <<<"$output")" -eq 1 ]
	refute_output --regexp 'APPEND .*(Feb|9999|1900|1969|1970)'
	md=$(dovecot_maildir "$DSTU")
	rm "$TEST_TMP/orig/01-empty"
	assert_maildir_matches "$TEST_TMP/orig" "$md"
	# Those with a usable Date have it as their internal date (Dovecot:
	# the file's mtime), an unknown zone (+9959) read as +0000; the
	# others the time they arrived.
	want=$(date -d '2026-03-02 10:00:00 UTC' +%s)
	now=$(date +%s)
	for f in "$md"/new/* "$md"/cur/*; do
		[[ -f $f ]] || continue
		t=$(stat -c %Y "$f")
		if grep -aq '^Date: Mon, 02 Mar 2026 10:00:00' "$f"; then
			[ "$t" -eq "$want" ] || fail "$f: mtime $t, want $want"
		else
			((t > now - 600 && t <= now)) || fail "$f: mtime $t, not now ($now)"
		fi
	done
}

@test "dest-corpus: odd messages into Postfix" {
	[[ $(id -u) -eq 0 ]] || skip "Postfix's master needs root"
	odd_mailbox
	n=$(server_count)
	rc "smtp 127.0.0.1:$POSTFIX_PORT bob@popfetch.test" "delivery_tls_trust_file $POSTFIX_CA"
	fetch --debug
	# Postfix offers SMTPUTF8: a UTF-8 Return-Path goes as it is, and
	# becomes the stored message's Return-Path.
	assert_output --partial "SIZE=300 BODY=8BITMIME SMTPUTF8"
	assert_success
	[ "$(server_count)" -eq 0 ]
	postfix_wait bob "$n"
	run grep -la '^Return-Path: <jürgen@bücher\.popfetch\.test>$' \
	    "$(postfix_maildir bob)"/new/*
	[ "${#lines[@]}" -eq 1 ]
	# Postfix drops a CR before the line end and turns a bare CR into a
	# space, and cuts a header field at header_size_limit (102400
	# bytes) without a word (docs/servers.md): what it stores.
	"$PYTHON3" - "$TEST_TMP/orig/04-cr-lf-mix" "$TEST_TMP"/orig/*-long-header <<'PY'
import re, sys
data = open(sys.argv[1], "rb").read()
data = data.replace(b"\r\r\n", b"\n").replace(b"\r", b" ")
open(sys.argv[1], "wb").write(data)
data = open(sys.argv[2], "rb").read()
data = re.sub(rb"(?m)^(Subject: .{102391}).*$", rb"\1", data)
open(sys.argv[2], "wb").write(data)
PY
	assert_delivered "$TEST_TMP/orig" "$(postfix_maildir bob)"
}

@test "dest-corpus: a server offering neither 8BITMIME nor SMTPUTF8 gets the bytes as they are, the null sender for UTF-8" {
	STORE=$TEST_TMP/store
	LLOG=$TEST_TMP/lmtp.log
	lmtpserver_start --caps PIPELINING
	odd_mailbox
	rc "lmtp 127.0.0.1:$LMTP_PORT bob"
	fetch --debug
	assert_success
	# No BODY=8BITMIME where it is not offered; nothing is re-encoded
	# (popfetch never rewrites a message), so 8-bit bytes go as fetched.
	refute_output --partial "BODY="
	refute_output --partial "SMTPUTF8"
	[ "$(grep -c -- '-> MAIL FROM:<>$' <<<"$output")" -eq 3 ]
	assert_maildir_matches "$TEST_TMP/orig" "$STORE"
}

# big_run DELIVERY [extra lines]: a 30 MB message through DELIVERY (with
# --debug when BIG_DEBUG is set), its
# peak memory (KiB) in $rss; a popfetch that held the message in memory
# would need more than BIG_RSS_MAX_KB (30 MB is 30,720 KiB; the ASan
# build peaks near 22,000).
BIG_RSS_MAX_KB=30000
big_run() {
	"$PYTHON3" "$TESTS_SRCDIR/gen-corpus" big "$MB/big" 30
	cp -r "$MB" "$TEST_TMP/orig"
	popserver_start --mailbox "$MB"
	rc "$@"
	# ASan keeps freed memory in quarantine (256 MB): a small one, so
	# that the peak is what popfetch holds, as in the normal build.
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1 \
	    run /usr/bin/time -f '%M' -o "$TEST_TMP/rss" "$POPFETCH" -C "$RC" \
	    ${BIG_DEBUG:+--debug}
	# time(1) adds a line when the command failed: the last one is %M.
	rss=$(tail -n 1 "$TEST_TMP/rss")
	echo "# max RSS $rss KiB" >&3
	((rss < BIG_RSS_MAX_KB))
}

@test "dest-corpus: a 30 MB message into Dovecot's LMTP in bounded memory" {
	big_run "lmtp 127.0.0.1:$DOVECOT_LMTP_PORT $DSTU"
	assert_success
	[ "$(server_count)" -eq 0 ]
	assert_delivered "$TEST_TMP/orig" "$(dovecot_maildir "$DSTU")"
}

@test "dest-corpus: a 30 MB message into Dovecot's IMAP in bounded memory" {
	big_run "imap imaps://$DSTU@127.0.0.1:$DOVECOT_IMAPS_PORT/INBOX" \
	    "delivery_password pw-$DSTU" "delivery_tls_trust_file $DOVECOT_CA"
	assert_success
	[ "$(server_count)" -eq 0 ]
	assert_maildir_matches "$TEST_TMP/orig" "$(dovecot_maildir "$DSTU")"
}

@test "dest-corpus: a 30 MB message over Postfix's SIZE (10240000) is refused before sending, kept (69)" {
	[[ $(id -u) -eq 0 ]] || skip "Postfix's master needs root"
	BIG_DEBUG=yes big_run "smtp 127.0.0.1:$POSTFIX_PORT bob@popfetch.test" \
	    "delivery_tls_trust_file $POSTFIX_CA"
	assert_failure 69
	assert_output --partial "message 1: the message (31457257 bytes) is larger than the SMTP server 127.0.0.1:$POSTFIX_PORT takes (SIZE 10240000); it stays on the server"
	refute_output --partial "MAIL FROM"
	[ "$(server_count)" -eq 1 ]
}

@test "dest-corpus: Postfix with its default line_length_limit (2048): long lines; 30 MB over DATA in bounded memory" {
	[[ $(id -u) -eq 0 ]] || skip "Postfix's master needs root"
	# Last in the file: this Postfix replaces the one setup_file started.
	postfix_stop
	# Without CHUNKING: DATA and dot-stuffing (the others went by BDAT).
	POSTFIX_EXTRA_CONF="line_length_limit = 2048
message_size_limit = 40000000
smtpd_discard_ehlo_keywords = chunking"
	POSTFIX_OWN=yes
	postfix_start
	"$PYTHON3" "$TESTS_SRCDIR/gen-corpus" odd "$TEST_TMP/odd"
	mkdir -p "$MB"
	cp "$TEST_TMP"/odd/*-line-* "$MB"/
	BIG_DEBUG=yes big_run "smtp 127.0.0.1:$POSTFIX_PORT bob@popfetch.test" \
	    "delivery_tls_trust_file $POSTFIX_CA"
	assert_success
	assert_output --partial '(the message, then ".")'
	[ "$(server_count)" -eq 0 ]
	postfix_wait bob 3
	# It cuts a line into 2048-byte records as it comes in and joins
	# them when it delivers: byte for byte (docs/servers.md).
	assert_delivered "$TEST_TMP/orig" "$(postfix_maildir bob)"
}
