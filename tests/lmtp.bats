#!/usr/bin/env bats
# lmtp.bats -- `delivery lmtp ADDRESS [RECIPIENT]`: into a real Dovecot LMTP
# (TCP port and unix socket) started by these tests, byte for byte; and the
# reply contract against tests/lmtpserver.py, which answers 4xx/5xx or hangs
# up where a real server will not: accepted is deleted, 4xx and lost
# connections defer (75), 5xx refuses (69), and nothing is ever lost.

load lib/common
load lib/certs
load lib/dovecot
load lib/popserver
load lib/delivered

setup_file() {
	make_test_ca "$BATS_RUN_TMPDIR/certs"
	DOVECOT_LMTP=yes
	dovecot_start
}

teardown_file() {
	dovecot_stop
}

setup() {
	SRCU=src$BATS_TEST_NUMBER
	DSTU=dst$BATS_TEST_NUMBER
	delivered_setup
}

teardown() {
	delivered_teardown
}

# dovecot_rc DELIVERY [extra lines]: fetch SRCU's mailbox from Dovecot POP3.
dovecot_rc() {
	local delivery=$1
	shift
	dovecot_account implicit "$SRCU" pw "delivery $delivery" \
	    "received_header off" "$@" | write_fetchrc "$RC"
}

fetch() {
	run "$POPFETCH" -C "$RC" "$@"
}

# mock_rc [extra lines]: popserver.py's mailbox $MB into lmtpserver.py.
mock_rc() {
	popserver_rc "timeout 20" "delivery lmtp 127.0.0.1:$LMTP_PORT bob" \
	    "received_header off" "uidls_file $TEST_TMP/state/%U" "$@"
}

@test "lmtp: a tricky mailbox moves into Dovecot over LMTP/TCP, byte for byte" {
	dovecot_add_user "$SRCU" pw
	dovecot_add_user "$DSTU" pw
	"$PYTHON3" "$TESTS_SRCDIR/gen-corpus" tricky "$TEST_TMP/orig"
	"$PYTHON3" "$TESTS_SRCDIR/gen-corpus" big "$TEST_TMP/orig/big" 3
	dovecot_deliver "$SRCU" "$TEST_TMP/orig"/*
	dovecot_rc "lmtp 127.0.0.1:$DOVECOT_LMTP_PORT $DSTU"
	fetch --debug
	assert_success
	# Dovecot offers PIPELINING and CHUNKING: several transactions (BDAT
	# LAST each) out before the first reply is read.
	run "$PYTHON3" - "$output" <<'PY'
import sys
lines = [l for l in sys.argv[1].split("\n") if " -> " in l or " <- " in l]
first_mail = next(i for i, l in enumerate(lines) if "-> MAIL FROM" in l)
first_reply = next(i for i, l in enumerate(lines) if i > first_mail and " <- " in l)
print(sum(1 for l in lines[first_mail:first_reply] if "-> BDAT" in l))
PY
	(( output > 1 ))
	assert_delivered "$TEST_TMP/orig" "$(dovecot_maildir "$DSTU")"
	[ "$(dovecot_count "$SRCU")" -eq 0 ]
}

@test "lmtp: over Dovecot's unix socket, to the local user name by default" {
	local me
	me=$(id -un)
	dovecot_add_user "$SRCU" pw
	dovecot_add_user "$me" pw
	make_mailbox "$TEST_TMP/orig" 4
	dovecot_deliver "$SRCU" "$TEST_TMP/orig"/*
	dovecot_rc "lmtp $DOVECOT_LMTP_SOCKET"
	fetch
	assert_success
	assert_output --partial "4 messages fetched"
	assert_delivered "$TEST_TMP/orig" "$(dovecot_maildir "$me")"
	[ "$(dovecot_count "$SRCU")" -eq 0 ]
}

@test "lmtp: the envelope sender is the Return-Path, as %F of delivery mda" {
	dovecot_add_user "$SRCU" pw
	dovecot_add_user "$DSTU" pw
	mkdir -p "$TEST_TMP/orig"
	printf 'Return-Path: <alice@example.org>\nSubject: a\n\nx\n' >"$TEST_TMP/orig/1"
	printf 'Subject: no return path\n\nx\n' >"$TEST_TMP/orig/2"
	dovecot_deliver "$SRCU" "$TEST_TMP/orig"/*
	dovecot_rc "lmtp 127.0.0.1:$DOVECOT_LMTP_PORT $DSTU"
	fetch --debug
	assert_success
	# Dovecot offers CHUNKING: BDAT of the exact size, no dot-stuffing.
	assert_output --partial "BDAT 51 LAST"
	assert_output --partial "MAIL FROM:<alice@example.org>"
	assert_output --partial "MAIL FROM:<>"
	assert_delivered "$TEST_TMP/orig" "$(dovecot_maildir "$DSTU")"
}

@test "lmtp: Dovecot refuses an unknown recipient (5xx): every message stays, 69" {
	dovecot_add_user "$SRCU" pw
	make_mailbox "$TEST_TMP/orig" 3
	dovecot_deliver "$SRCU" "$TEST_TMP/orig"/*
	dovecot_rc "lmtp 127.0.0.1:$DOVECOT_LMTP_PORT nosuchuser"
	fetch
	assert_failure 69
	assert_output --partial "message 1: the LMTP server 127.0.0.1:$DOVECOT_LMTP_PORT refused the recipient: 550"
	assert_output --partial "it stays on the server"
	[ "$(dovecot_count "$SRCU")" -eq 3 ]
}

@test "lmtp: no LMTP server at the first message: it and the rest stay, nothing deleted, 75" {
	dovecot_add_user "$SRCU" pw
	make_mailbox "$TEST_TMP/orig" 2
	dovecot_deliver "$SRCU" "$TEST_TMP/orig"/*
	dovecot_rc "lmtp $TEST_TMP/no-such-socket $DSTU"
	fetch
	assert_failure 75
	assert_output --partial "the LMTP server $TEST_TMP/no-such-socket: cannot connect to $TEST_TMP/no-such-socket"
	[ "$(dovecot_count "$SRCU")" -eq 2 ]
}

@test "lmtp: a run with no new mail does not connect to the destination: exit 0 with it down" {
	mkdir -p "$MB"
	lmtpserver_start
	popserver_start --mailbox "$MB"
	mock_rc
	fetch
	assert_success
	# The mock notes every connection: there was none.
	run grep -c '^connection' "$LLOG"
	assert_output 0
	# And with nothing listening at all, still 0.
	mock_rc "delivery lmtp $TEST_TMP/no-such-socket bob"
	fetch
	assert_success
	refute_output --partial "LMTP"
	# A message: now the destination is needed, and missed (75).
	make_mailbox "$MB" 1
	fetch
	assert_failure 75
	assert_output --partial "the LMTP server $TEST_TMP/no-such-socket: cannot connect"
	[ "$(server_count)" -eq 1 ]
}

@test "lmtp: 451 for one message defers it (75), the rest are delivered; the next run delivers it once" {
	make_mailbox "$MB" 3
	cp -r "$MB" "$TEST_TMP/orig"
	lmtpserver_start --rcpt-reply "2:451 4.3.0 try again later"
	popserver_start --mailbox "$MB"
	mock_rc
	fetch
	assert_failure 75
	assert_output --partial "message 2: the LMTP server 127.0.0.1:$LMTP_PORT refused the recipient: 451 4.3.0 try again later; it stays on the server"
	[ "$(server_count)" -eq 1 ]
	[ -e "$MB/msg-00002" ]
	[ "$(maildir_count "$STORE")" -eq 2 ]
	# After the refused transaction, RSET before the next one.
	run grep -c '^C: RSET' "$LLOG"
	assert_output 1
	fetch
	assert_success
	assert_maildir_matches "$TEST_TMP/orig" "$STORE"
	[ "$(server_count)" -eq 0 ]
}

@test "lmtp: 550 after DATA refuses the message (69) and names the reply; the others go" {
	make_mailbox "$MB" 3
	lmtpserver_start --data-reply "1:552 5.2.2 mailbox full"
	popserver_start --mailbox "$MB"
	mock_rc
	fetch
	assert_failure 69
	assert_output --partial "message 1: the LMTP server 127.0.0.1:$LMTP_PORT refused the message: 552 5.2.2 mailbox full; it stays on the server"
	[ "$(server_count)" -eq 1 ]
	[ -e "$MB/msg-00001" ]
	[ "$(maildir_count "$STORE")" -eq 2 ]
}

@test "lmtp: a reply lost after DATA keeps the message (75): delivered again, never lost" {
	make_mailbox "$MB" 3
	cp -r "$MB" "$TEST_TMP/orig"
	lmtpserver_start --hangup-after-data 2
	popserver_start --mailbox "$MB"
	mock_rc
	fetch
	assert_failure 75
	assert_output --partial "message 2: after the whole message was sent: the LMTP server 127.0.0.1:$LMTP_PORT: "
	# The fault landed where intended, the run reconnected for message 3.
	run grep -c '^fault: hang up after DATA 2' "$LLOG"
	assert_output 1
	run grep -c '^C: LHLO' "$LLOG"
	assert_output 2
	[ "$(server_count)" -eq 1 ]
	fetch
	assert_success
	[ "$(server_count)" -eq 0 ]
	# The documented window: message 2 twice, nothing missing.
	[ "$(maildir_count "$STORE")" -eq 4 ]
	run grep -l '^Subject: Test message 2 ' "$STORE"/new/*
	[ "${#lines[@]}" -eq 2 ]
}

@test "lmtp: kill -9 while the server holds its reply: nothing lost, the message at most twice" {
	make_mailbox "$MB" 4
	cp -r "$MB" "$TEST_TMP/orig"
	lmtpserver_start --stall-after-data 3
	popserver_start --mailbox "$MB"
	mock_rc
	"$POPFETCH" -C "$RC" >"$TEST_TMP/out" 2>&1 3>&- &
	pid=$!
	# The fault moment by progress: message 3 stored at the destination.
	n=0
	until grep -q '^fault: stall after DATA 3' "$LLOG" 2>/dev/null; do
		n=$((n + 1))
		((n < 1200)) || { kill -9 "$pid"; false; }
		sleep 0.05
	done
	kill -9 "$pid"
	wait "$pid" || true
	# Nothing was deleted: DELE comes after the batch, never before.
	[ "$(server_count)" -eq 4 ]
	fetch
	assert_success
	[ "$(server_count)" -eq 0 ]
	# Messages 1 to 3 twice at most (the documented window), 4 once.
	run "$PYTHON3" - "$STORE" <<'PY'
import collections, os, re, sys
d = os.path.join(sys.argv[1], "new")
c = collections.Counter(re.search(rb"Subject: Test message (\d+) ", open(os.path.join(d, f), "rb").read()).group(1) for f in os.listdir(d))
print(" ".join("%s:%d" % (k.decode(), c[k]) for k in sorted(c)))
PY
	assert_success
	for k in 1 2 3 4; do
		[[ $output == *"$k:"[12]* ]]
	done
	[[ $output == *"4:1"* ]]
}

@test "lmtp: kill -9 while the server holds its reply to the 20th of 30 (pipelined): at most the 8 in flight delivered twice" {
	make_mailbox "$MB" 30
	cp -r "$MB" "$TEST_TMP/orig"
	lmtpserver_start --caps PIPELINING CHUNKING 8BITMIME \
	    --stall-after-data 20
	popserver_start --mailbox "$MB"
	mock_rc
	"$POPFETCH" -C "$RC" >"$TEST_TMP/out" 2>&1 3>&- &
	pid=$!
	# The fault moment by progress: message 20 stored at the destination,
	# 1 to 19 accepted; one batch of POP3 messages (64) holds them all.
	n=0
	until grep -q '^fault: stall after DATA 20' "$LLOG" 2>/dev/null; do
		n=$((n + 1))
		((n < 1200)) || { kill -9 "$pid"; false; }
		sleep 0.05
	done
	kill -9 "$pid"
	wait "$pid" || true
	[ "$(maildir_count "$STORE")" -eq 20 ]
	fetch
	assert_success
	[ "$(server_count)" -eq 0 ]
	# Accepted messages are recorded 8 at a time (the transactions in
	# flight), not a whole batch of 64 at once: of the 20 stored before
	# the kill, only those after the last record of 8 (17 to 20) are
	# delivered again.
	run assert_delivered_at_least "$TEST_TMP/orig" "$STORE" 8
	assert_success
	assert_output 4
}

@test "lmtp: an idle connection the server dropped is opened again without deferring" {
	make_mailbox "$MB" 2
	cp -r "$MB" "$TEST_TMP/orig"
	lmtpserver_start --hangup-at-mail 1
	popserver_start --mailbox "$MB"
	mock_rc
	fetch
	assert_success
	run grep -c '^fault: hang up at MAIL 1' "$LLOG"
	assert_output 1
	assert_maildir_matches "$TEST_TMP/orig" "$STORE"
	[ "$(server_count)" -eq 0 ]
}

@test "lmtp: a server that cannot be reached again defers the rest at once" {
	make_mailbox "$MB" 3
	lmtpserver_start --hangup-after-data 1 --refuse-connection 2
	popserver_start --mailbox "$MB"
	mock_rc
	fetch
	assert_failure 75
	assert_output --partial "message 2: the LMTP server 127.0.0.1:$LMTP_PORT does not take mail: 421"
	assert_output --partial "message 3: the LMTP server could not be reached earlier in this run"
	[ "$(server_count)" -eq 3 ]
}

@test "lmtp: a greeting that is not LMTP is a clear error, nothing deleted" {
	make_mailbox "$MB" 1
	lmtpserver_start --greeting $'\e]0;pwned\a hello'
	popserver_start --mailbox "$MB"
	mock_rc
	fetch
	assert_failure
	assert_output --partial "sent a reply that is not LMTP"
	refute_output --partial $'\e'
	[ "$(server_count)" -eq 1 ]
}

@test "lmtp: a hostile server (an endless line, endless continuation) ends in a clear error" {
	make_mailbox "$MB" 1
	lmtpserver_start --hostile longline
	popserver_start --mailbox "$MB"
	mock_rc
	fetch
	assert_failure 76
	assert_output --partial "sent a reply line longer than 16384 bytes"
	popserver_stop "$LMTP_PID"
	lmtpserver_start --hostile continuation
	mock_rc
	fetch
	assert_failure 76
	assert_output --partial "sent a reply longer than 65536 bytes"
	[ "$(server_count)" -eq 1 ]
}

@test "lmtp: a message over the server's SIZE is refused before sending (69)" {
	make_mailbox "$MB" 2
	"$PYTHON3" "$TESTS_SRCDIR/gen-corpus" big "$MB/msg-00002" 1
	lmtpserver_start --caps PIPELINING "SIZE 100000"
	popserver_start --mailbox "$MB"
	mock_rc
	fetch
	assert_failure 69
	assert_output --partial "message 2: the message ("
	assert_output --partial "is larger than the LMTP server 127.0.0.1:$LMTP_PORT takes (SIZE 100000)"
	[ "$(maildir_count "$STORE")" -eq 1 ]
	[ -e "$MB/msg-00002" ]
}

@test "lmtp: CHUNKING: BDAT LAST of the exact size, byte for byte; a 5xx to it refuses" {
	"$PYTHON3" "$TESTS_SRCDIR/gen-corpus" tricky "$MB"
	printf 'Subject: refused\n\nx' >"$MB/zz-last"
	cp -r "$MB" "$TEST_TMP/orig"
	n=$(server_count)
	lmtpserver_start --caps PIPELINING CHUNKING 8BITMIME \
	    --data-reply "$n:554 5.6.0 not this one"
	popserver_start --mailbox "$MB"
	mock_rc
	fetch
	assert_failure 69
	assert_output --partial "message $n: the LMTP server 127.0.0.1:$LMTP_PORT refused the message: 554 5.6.0 not this one"
	run grep -c '^C: BDAT [0-9]* LAST$' "$LLOG"
	assert_output "$n"
	run grep -c '^C: DATA' "$LLOG"
	assert_output 0
	rm "$TEST_TMP/orig/zz-last"
	assert_maildir_matches "$TEST_TMP/orig" "$STORE"
	[ "$(server_count)" -eq 1 ]
}

@test "lmtp: without PIPELINING one command at a time, and bad arguments are config errors" {
	make_mailbox "$MB" 2
	cp -r "$MB" "$TEST_TMP/orig"
	lmtpserver_start --caps 8BITMIME
	popserver_start --mailbox "$MB"
	mock_rc
	fetch
	assert_success
	assert_maildir_matches "$TEST_TMP/orig" "$STORE"
	mock_rc "delivery lmtp 127.0.0.1:99999 bob"
	fetch
	assert_failure 78
	assert_output --partial "bad port"
}

@test "lmtp: with PIPELINING and CHUNKING the transactions go in one group (one round trip for several); a refused recipient and a dropped idle connection still hold" {
	make_mailbox "$MB" 4
	cp -r "$MB" "$TEST_TMP/orig"
	# The first connection dies at its first MAIL, before any reply: all
	# four go again on a new one, where the second (transaction 3) is
	# refused.
	lmtpserver_start --caps PIPELINING CHUNKING 8BITMIME \
	    --rcpt-reply "3:550 5.1.1 no such user" --hangup-at-mail 1
	popserver_start --mailbox "$MB"
	mock_rc
	fetch --debug
	assert_failure 69
	assert_output --partial "message 2: the LMTP server 127.0.0.1:$LMTP_PORT refused the recipient: 550 5.1.1 no such user"
	# Every transaction (MAIL, RCPT, BDAT and the message) out before the
	# first reply is read.
	run "$PYTHON3" - "$output" <<'PY'
import sys
lines = [l for l in sys.argv[1].split("\n") if " -> " in l or " <- " in l]
lhlo = [i for i, l in enumerate(lines) if "-> LHLO" in l][-1]
lines = lines[lhlo:]
first_reply = next(i for i, l in enumerate(lines) if "<- 250 2.1.0" in l)
sent = [l.split(" -> ", 1)[1] for l in lines[:first_reply] if " -> " in l]
sent = [c.strip() for c in sent if c.split(" ")[0] in ("MAIL", "RCPT", "DATA", "BDAT", "(the")]
want = ("MAIL FROM:", "RCPT TO:<bob>", "BDAT ", "(the message)") * 4
ok = len(sent) == 16 and all(c.startswith(w) for c, w in zip(sent, want))
print("one group" if ok else " | ".join(sent))
PY
	assert_output "one group"
	run grep -c '^fault: hang up at MAIL 1' "$LLOG"
	assert_output 1
	run grep -c '^C: LHLO' "$LLOG"
	assert_output 2
	# No RSET: the refused transaction was the last before QUIT... or
	# the server took the next ones; RSET only after a refusal.
	[ "$(grep -c '^C: RSET' "$LLOG")" -le 1 ]
	[ "$(server_count)" -eq 1 ]
	[ -e "$MB/msg-00002" ]
	rm "$TEST_TMP/orig/msg-00002"
	assert_maildir_matches "$TEST_TMP/orig" "$STORE"
}

@test "lmtp: pipelined, one refused (5xx) and one deferred (4xx) among accepted ones: only the accepted are deleted" {
	make_mailbox "$MB" 6
	cp -r "$MB" "$TEST_TMP/orig"
	lmtpserver_start --caps PIPELINING CHUNKING 8BITMIME \
	    --rcpt-reply "2:550 5.1.1 no such user" \
	    --data-reply "4:451 4.2.0 try later"
	popserver_start --mailbox "$MB"
	mock_rc
	fetch
	assert_failure
	[[ $status -eq 69 || $status -eq 75 ]]
	assert_output --partial "message 2: the LMTP server 127.0.0.1:$LMTP_PORT refused the recipient: 550 5.1.1 no such user"
	assert_output --partial "message 4: the LMTP server 127.0.0.1:$LMTP_PORT refused the message: 451 4.2.0 try later"
	# One connection, all six in flight together.
	run grep -c '^C: LHLO' "$LLOG"
	assert_output 1
	[ "$(server_count)" -eq 2 ]
	[ -e "$MB/msg-00002" ]
	[ -e "$MB/msg-00004" ]
	[ "$(maildir_count "$STORE")" -eq 4 ]
	rm "$TEST_TMP/orig/msg-00002" "$TEST_TMP/orig/msg-00004"
	assert_maildir_matches "$TEST_TMP/orig" "$STORE"
}

@test "lmtp: pipelined, a server that keeps a refused transaction's state: the ones behind it go again after RSET" {
	make_mailbox "$MB" 4
	lmtpserver_start --caps PIPELINING CHUNKING 8BITMIME --sticky \
	    --rcpt-reply "2:550 5.1.1 no such user"
	popserver_start --mailbox "$MB"
	mock_rc
	fetch
	assert_failure 69
	# The fault landed: messages 3 and 4 were refused for the state...
	run grep -c '^sticky: 503 to MAIL' "$LLOG"
	assert_output 2
	# ... and went again after one RSET, not counted as refused.
	run grep -c '^C: RSET' "$LLOG"
	assert_output 1
	refute_output --partial "message 3:"
	refute_output --partial "message 4:"
	[ "$(server_count)" -eq 1 ]
	[ -e "$MB/msg-00002" ]
	[ "$(maildir_count "$STORE")" -eq 3 ]
}

@test "lmtp: pipelined, the connection cut after the 2nd transaction's reply: the ones in flight stay (75), nothing lost, the next run delivers them once" {
	make_mailbox "$MB" 12
	cp -r "$MB" "$TEST_TMP/orig"
	lmtpserver_start --caps PIPELINING CHUNKING 8BITMIME \
	    --hangup-after-reply 2
	popserver_start --mailbox "$MB"
	mock_rc
	fetch
	assert_failure 75
	assert_output --partial "message 3: the LMTP server 127.0.0.1:$LMTP_PORT: connection closed by the server"
	assert_output --partial "message 8: the connection to the LMTP server 127.0.0.1:$LMTP_PORT was lost before its reply"
	refute_output --partial "message 9:"
	run grep -c '^fault: hang up after reply 2' "$LLOG"
	assert_output 1
	# 1 and 2 answered; 3 to 8, the rest of their batch (no larger than
	# the 8 transactions in flight), were in flight and stay; 9 to 12,
	# the next batch, went on a new connection.
	run grep -c '^C: LHLO' "$LLOG"
	assert_output 2
	[ "$(server_count)" -eq 6 ]
	for k in 03 04 05 06 07 08; do [ -e "$MB/msg-000$k" ]; done
	[ "$(maildir_count "$STORE")" -eq 6 ]
	fetch
	assert_success
	[ "$(server_count)" -eq 0 ]
	assert_maildir_matches "$TEST_TMP/orig" "$STORE"
}

@test "lmtp: pipelined, a server that drops every connection at MAIL: the run ends (75) after one retry, nothing deleted" {
	make_mailbox "$MB" 3
	lmtpserver_start --caps PIPELINING CHUNKING 8BITMIME --fault mail:hangup
	popserver_start --mailbox "$MB"
	mock_rc
	run timeout 60 "$POPFETCH" -C "$RC"
	assert_failure 75
	# The first loss, before any reply, is taken for an idle connection
	# and tried once more; the second is not.
	run grep -c '^C: LHLO' "$LLOG"
	assert_output 2
	[ "$(server_count)" -eq 3 ]
	[ "$(maildir_count "$STORE")" -eq 0 ]
}
