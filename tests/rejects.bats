#!/usr/bin/env bats
# rejects.bats -- delivery_reject_limit and reject_maildir: a message the
# delivery refuses permanently (an MDA's failure exit, a 5xx from LMTP) is
# counted per run in the UID state; after the limit it is set aside (left
# on the server untried, or delivered to reject_maildir), so that it never
# holds up the others.  Temporary refusals never count; a crash keeps the
# count; --retry-refused is the way out.

load lib/common
load lib/popserver
load lib/delivered

setup() {
	mkdir -p "$TEST_TMP/cwd"
	STATE=$TEST_TMP/state/test@127.0.0.1
	delivered_setup
	RJ=$TEST_TMP/rejects
	# The MDA: logs each message's subject, refuses (exit 1) or defers
	# (exit 75) message 2 while $TEST_TMP/refuse or .../defer exists.
	cat >"$TEST_TMP/mda.sh" <<EOS
cat >"$TEST_TMP/in"
sed -n 's/^Subject: //p' "$TEST_TMP/in" >>"$TEST_TMP/tried"
if grep -q '^Subject: Test message 2 ' "$TEST_TMP/in"; then
	[ -e "$TEST_TMP/refuse" ] && exit 1
	[ -e "$TEST_TMP/defer" ] && exit 75
fi
if [ -e "$TEST_TMP/hold" ] && grep -q '^Subject: Test message 3 ' "$TEST_TMP/in"; then
	echo \$\$ >"$TEST_TMP/holding.tmp" && mv "$TEST_TMP/holding.tmp" "$TEST_TMP/holding"
	exec sleep 600
fi
mkdir -p "$MD/new" "$MD/tmp" "$MD/cur"
f=\$(mktemp "$MD/tmp/XXXXXX") && cat "$TEST_TMP/in" >"\$f" && mv "\$f" "$MD/new/"
EOS
}

teardown() {
	delivered_teardown
}

# rc [extra lines...]: the mailbox $MB into the MDA above.
rc() {
	popserver_rc "timeout 20" "delivery mda sh $TEST_TMP/mda.sh" \
	    "received_header off" "uidls_file $TEST_TMP/state/%U@%H" "$@"
}

fetch() {
	cd "$TEST_TMP/cwd" && run "$POPFETCH" -C "$RC" "$@"
}

# tried N: how often the MDA saw message N.
tried() {
	grep -c "^Test message $1 " "$TEST_TMP/tried" || true
}

@test "rejects: refused in 3 runs, set aside; the 4th run does not try it, the others flow" {
	make_mailbox "$MB" 3
	touch "$TEST_TMP/refuse"
	popserver_start --mailbox "$MB"
	rc
	fetch
	assert_failure 69
	assert_output --partial "message 2: the MDA failed (exit 1); it stays on the server (refused in 1 of the 3 runs delivery_reject_limit allows)"
	fetch
	assert_failure 69
	assert_output --partial "(refused in 2 of the 3 runs"
	# Runs that had nothing else to do still count.
	fetch
	assert_failure 69
	assert_output --partial "refused in 3 runs: set aside, later runs do not try it (popfetch --retry-refused default does)"
	# One line per run; the rewrite at the end of each keeps the last.
	run grep -c '^#refused 3 ' "$STATE"
	assert_output 1
	[ "$(tried 2)" -eq 3 ]
	# New mail flows past it; the run succeeds.
	make_mailbox "$TEST_TMP/more" 2
	cp "$TEST_TMP/more/msg-00001" "$MB/msg-00004"
	fetch
	assert_success
	assert_output --partial "1 message refused in 3 runs or more is set aside on the server, not tried (popfetch --retry-refused default tries it again)"
	assert_output --partial "1 message fetched"
	[ "$(tried 2)" -eq 3 ]
	[ "$(maildir_count "$MD")" -eq 3 ]
	[ "$(server_count)" -eq 1 ]
	[ -e "$MB/msg-00002" ]
	# -s lists it, --json counts it.
	fetch -s
	assert_success
	assert_output --partial "1 message (" 
	assert_output --partial "0 new"
	assert_output --partial "1 refused, set aside (popfetch --retry-refused tries them again)"
	fetch --json
	assert_success
	assert_output --partial '"set_aside":1'
	# The status record of the last fetch says so too.
	run cat "$HOME/.local/state/popfetch/status/default.json"
	assert_output --partial '"set_aside":1'
	# The rewrite at the end of a run keeps the count.
	run grep -c "^#refused 3 " "$STATE"
	assert_output 1
	# --retry-refused: tried again; accepted now, it is delivered and deleted.
	rm "$TEST_TMP/refuse"
	fetch --retry-refused
	assert_success
	assert_output --partial "1 message fetched"
	[ "$(tried 2)" -eq 4 ]
	[ "$(server_count)" -eq 0 ]
	run grep -c '^#refused ' "$STATE"
	assert_output 0
}

@test "rejects: reject_maildir gets the message byte for byte, and only then is it deleted" {
	make_mailbox "$MB" 3
	"$PYTHON3" "$TESTS_SRCDIR/gen-corpus" tricky "$TEST_TMP/tricky"
	# A message with lines starting with '.', 8-bit text, no final LF.
	first=$(ls "$TEST_TMP/tricky" | head -n 1)
	{ printf 'Subject: Test message 2 (tricky)\n'; cat "$TEST_TMP/tricky/$first"; } >"$MB/msg-00002"
	mkdir -p "$TEST_TMP/want"
	cp "$MB/msg-00002" "$TEST_TMP/want/"
	touch "$TEST_TMP/refuse"
	popserver_start --mailbox "$MB"
	rc "delivery_reject_limit 2" "reject_maildir $RJ"
	fetch
	assert_failure 69
	fetch
	assert_failure 69
	assert_output --partial "refused in 2 runs: the next run delivers it to reject_maildir $RJ"
	[ "$(maildir_count "$RJ")" -eq 0 ]
	[ -e "$MB/msg-00002" ]
	# A reject_maildir that cannot take it: the run stops, nothing deleted.
	rm -rf "$RJ"
	touch "$RJ"
	fetch
	assert_failure
	assert_output --partial "reject_maildir"
	[ -e "$MB/msg-00002" ]
	rm "$RJ"
	fetch -v
	assert_success
	assert_output --partial "was delivered to reject_maildir $RJ instead; it is deleted on the server"
	[ "$(tried 2)" -eq 2 ]
	assert_maildir_matches "$TEST_TMP/want" "$RJ"
	[ "$(server_count)" -eq 0 ]
	run grep -c '^#refused ' "$STATE"
	assert_output 0
}

@test "rejects: a set-aside message between others: each sink gets its own, nothing lost" {
	make_mailbox "$MB" 3
	make_mailbox "$TEST_TMP/more" 4
	touch "$TEST_TMP/refuse"
	popserver_start --mailbox "$MB"
	rc "delivery_reject_limit 1" "reject_maildir $RJ"
	fetch
	assert_failure 69
	# One new message on each side of the set-aside one.
	cp "$TEST_TMP/more/msg-00001" "$MB/msg-00001a"
	cp "$TEST_TMP/more/msg-00004" "$MB/msg-00004"
	fetch -v
	assert_success
	assert_output --partial "was delivered to reject_maildir $RJ instead"
	assert_output --partial "3 messages fetched"
	[ "$(maildir_count "$MD")" -eq 4 ]
	[ "$(maildir_count "$RJ")" -eq 1 ]
	run grep -l '^Subject: Test message 2 ' "$RJ"/new/*
	assert_success
	[ "$(tried 2)" -eq 1 ]
	[ "$(server_count)" -eq 0 ]
}

@test "rejects: temporary refusals (75) never count" {
	make_mailbox "$MB" 2
	touch "$TEST_TMP/defer"
	popserver_start --mailbox "$MB"
	rc "delivery_reject_limit 1"
	for i in 1 2 3; do
		fetch
		assert_failure 75
		refute_output --partial "refused in"
	done
	[ "$(tried 2)" -eq 3 ]
	run grep -c '^#refused ' "$STATE"
	assert_output 0
	rm "$TEST_TMP/defer"
	fetch
	assert_success
	[ "$(server_count)" -eq 0 ]
}

@test "rejects: delivery_reject_limit 0 never sets a message aside, and counts nothing" {
	make_mailbox "$MB" 2
	touch "$TEST_TMP/refuse"
	popserver_start --mailbox "$MB"
	rc "delivery_reject_limit 0" "reject_maildir $RJ"
	for i in 1 2 3 4; do
		fetch
		assert_failure 69
		assert_output --regexp "message [12]: the MDA failed \(exit 1\); it stays on the server"
		refute_output --partial "refused in"
	done
	[ "$(tried 2)" -eq 4 ]
	[ "$(maildir_count "$RJ")" -eq 0 ]
	run grep -c '^#refused ' "$STATE"
	assert_output 0
}

@test "rejects: a message accepted later has its count cleared (keep on)" {
	make_mailbox "$MB" 2
	touch "$TEST_TMP/refuse"
	popserver_start --mailbox "$MB"
	rc "keep on"
	fetch
	assert_failure 69
	fetch
	assert_failure 69
	run grep -c '^#refused 2 ' "$STATE"
	assert_output 1
	rm "$TEST_TMP/refuse"
	fetch
	assert_success
	run grep -c '^#refused ' "$STATE"
	assert_output 0
	# Refused again later: it starts from 1, it is not set aside at once.
	[ "$(server_count)" -eq 2 ]
}

@test "rejects: kill -9 mid-run keeps the count; the next run sets it aside" {
	make_mailbox "$MB" 2
	make_mailbox "$TEST_TMP/more" 3
	touch "$TEST_TMP/refuse"
	popserver_start --mailbox "$MB"
	rc
	fetch
	assert_failure 69
	fetch
	assert_failure 69
	# Third run: message 2 refused, then killed while message 3 is with
	# the MDA (the moment chosen by progress: the MDA holds message 3).
	cp "$TEST_TMP/more/msg-00003" "$MB/msg-00003"
	touch "$TEST_TMP/hold"
	"$POPFETCH" -C "$RC" >"$TEST_TMP/out" 2>&1 3>&- &
	pid=$!
	wait_for 60 test -s "$TEST_TMP/holding"
	kill -9 "$pid"
	wait "$pid" || true
	kill -KILL "$(cat "$TEST_TMP/holding")" 2>/dev/null || true
	run cat "$TEST_TMP/out"
	assert_output --partial "refused in 3 runs: set aside"
	rm "$TEST_TMP/hold"
	[ "$(tried 2)" -eq 3 ]
	[ "$(tried 3)" -eq 1 ]
	[ "$(server_count)" -eq 2 ]
	fetch
	assert_success
	assert_output --partial "1 message refused in 3 runs or more is set aside"
	assert_output --partial "1 message fetched"
	[ "$(tried 2)" -eq 3 ]
	[ "$(server_count)" -eq 1 ]
	[ -e "$MB/msg-00002" ]
}

@test "rejects: a 5xx from LMTP counts; set aside into reject_maildir, the others flow" {
	make_mailbox "$MB" 3
	# Transactions: run 1 is 1..3 (2 refused); run 2 is 4..5 (4 refused).
	lmtpserver_start --data-reply "2:554 5.6.0 not this one" \
	    --data-reply "4:554 5.6.0 not this one"
	popserver_start --mailbox "$MB"
	popserver_rc "timeout 20" "delivery lmtp 127.0.0.1:$LMTP_PORT bob" \
	    "received_header off" "uidls_file $TEST_TMP/state/%U@%H" \
	    "delivery_reject_limit 2" "reject_maildir $RJ"
	fetch
	assert_failure 69
	assert_output --partial "message 2: the LMTP server 127.0.0.1:$LMTP_PORT refused the message: 554 5.6.0 not this one; it stays on the server (refused in 1 of the 2 runs"
	fetch
	assert_failure 69
	assert_output --partial "refused in 2 runs: the next run delivers it to reject_maildir"
	fetch
	assert_success
	assert_output --partial "delivered to reject_maildir"
	[ "$(maildir_count "$RJ")" -eq 1 ]
	[ "$(maildir_count "$STORE")" -eq 2 ]
	[ "$(server_count)" -eq 0 ]
	# The LMTP server saw message 2 in two runs only.
	run grep -c '^C: MAIL' "$LLOG"
	assert_output 4
}

@test "rejects: a 5xx from SMTP counts, a 4xx does not" {
	make_mailbox "$MB" 2
	# Run 1: transactions 1 (451) and 2 (550); run 2: 3 and 4 (550).
	lmtpserver_start --greeting "220 test ESMTP" \
	    --rcpt-reply "1:451 4.3.0 later" --data-reply "2:550 5.7.1 spam" \
	    --data-reply "4:550 5.7.1 spam"
	popserver_start --mailbox "$MB"
	popserver_rc "timeout 20" \
	    "delivery smtp 127.0.0.1:$LMTP_PORT bob@popfetch.test" \
	    "received_header off" "uidls_file $TEST_TMP/state/%U@%H" \
	    "delivery_reject_limit 2"
	fetch
	assert_failure 69
	assert_output --partial "message 1: the SMTP server 127.0.0.1:$LMTP_PORT refused the recipient: 451 4.3.0 later; it stays on the server"
	assert_output --partial "message 2: the SMTP server 127.0.0.1:$LMTP_PORT refused the message: 550 5.7.1 spam; it stays on the server (refused in 1 of the 2 runs"
	fetch
	assert_failure 69
	assert_output --partial "refused in 2 runs: set aside"
	fetch
	assert_success
	assert_output --partial "1 message refused in 2 runs or more is set aside"
	[ "$(server_count)" -eq 1 ]
	[ "$(maildir_count "$STORE")" -eq 1 ]
	run grep -c '^C: MAIL' "$LLOG"
	assert_output 4
}

@test "rejects: an IMAP NO counts, NO [OVERQUOTA] does not" {
	make_mailbox "$MB" 2
	# APPENDs: run 1 is 1 (OVERQUOTA) and 2 (NO); run 2 is 3 and 4 (NO).
	# LMTP_PID: teardown stops it.
	scriptserver_start imapserver "$TEST_TMP/imap.log" LMTP_PID IMAP_PORT \
	    --append-reply "1:NO [OVERQUOTA] full" \
	    --append-reply "2:NO not this one" --append-reply "4:NO not this one"
	popserver_start --mailbox "$MB"
	popserver_rc "timeout 20" \
	    "delivery imap imap://u@127.0.0.1:$IMAP_PORT/INBOX" \
	    "delivery_password secret" "delivery_tls off" \
	    "received_header off" "uidls_file $TEST_TMP/state/%U@%H" \
	    "delivery_reject_limit 2" "reject_maildir $RJ"
	fetch
	assert_failure 69
	assert_output --partial "message 1: the IMAP server"
	assert_output --partial "full; it stays on the server"
	assert_output --partial "message 2: the IMAP server"
	assert_output --partial "not this one; it stays on the server (refused in 1 of the 2 runs"
	fetch
	assert_failure 69
	assert_output --partial "refused in 2 runs: the next run delivers it to reject_maildir"
	fetch
	assert_success
	assert_output --partial "delivered to reject_maildir"
	[ "$(maildir_count "$RJ")" -eq 1 ]
	[ "$(server_count)" -eq 0 ]
	run grep -c '^#refused ' "$STATE"
	assert_output 0
}

@test "rejects: a server that refuses to take the connection back (554 greeting) refuses no message" {
	make_mailbox "$MB" 2
	# The connection drops at message 2's MAIL; the new one is greeted 554.
	lmtpserver_start --hangup-at-mail 2 --refuse-connection 2 \
	    --refuse-greeting "554 5.3.2 not now, not ever"
	popserver_start --mailbox "$MB"
	popserver_rc "timeout 20" "delivery lmtp 127.0.0.1:$LMTP_PORT bob" \
	    "received_header off" "uidls_file $TEST_TMP/state/%U@%H" \
	    "delivery_reject_limit 1"
	fetch
	assert_failure 75
	assert_output --partial "message 2: the LMTP server 127.0.0.1:$LMTP_PORT does not take mail: 554 5.3.2 not now, not ever"
	refute_output --partial "refused in"
	run grep -c '^fault: hang up at MAIL 2' "$LLOG"
	assert_output 1
	[ "$(server_count)" -eq 1 ]
	run grep -c '^#refused ' "$STATE"
	assert_output 0
}

@test "rejects: a reject count line is a comment to older readers, and a broken one is corrupt" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB"
	rc
	mkdir -p "$TEST_TMP/state"
	printf '# popfetch uid state v1\n#refused x UIDL-1\n' >"$STATE"
	fetch
	assert_failure 65
	assert_output --partial "corrupt UID state line"
	[ "$(server_count)" -eq 1 ]
}

@test "rejects: --retry-refused goes with a fetch only; the keys are checked" {
	popserver_start --mailbox "$MB"
	rc
	fetch --retry-refused -s
	assert_failure 64
	assert_output --partial "--retry-refused goes with a fetch"
	rc "delivery_reject_limit -1"
	fetch
	assert_failure 78
	assert_output --partial "delivery_reject_limit"
	rc "delivery_reject_limit 1001"
	fetch
	assert_failure 78
}
