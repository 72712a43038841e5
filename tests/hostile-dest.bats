#!/usr/bin/env bats
# hostile-dest.bats -- a hostile or broken LMTP/SMTP destination
# (tests/lmtpserver.py --fault STEP:ACTION) at each step of a delivery:
# the greeting, LHLO/EHLO, MAIL, RCPT, DATA, the middle of the message,
# after the final dot.  Garbage, endless continuation lines, a 1 GB reply
# line and a server that never answers each end the run with one-line
# errors naming the account, within `timeout` (plus room for a busy
# machine), in bounded memory (max RSS), and nothing is deleted on the
# POP3 server.  The connection cut at each step (the fault matrix of
# tests/lib/faults.bash, on the destination's side) loses nothing: a later
# run against a healthy server delivers every message, once, or twice for
# a cut after the final dot (the window docs/exactly-once.md documents).

load lib/common
load lib/popserver
load lib/delivered

# The steps every hostile answer is tried at.
STEPS="greeting lhlo mail rcpt data dot"
# Far above popfetch's own (a few MB, more under ASan), far below 1 GB.
RSS_MAX_KB=300000

setup() {
	delivered_setup
}

teardown() {
	delivered_teardown
}

# dest_rc KIND [extra lines]: $MB into lmtpserver.py over KIND (lmtp, smtp).
dest_rc() {
	local kind=$1 d
	shift
	if [[ $kind == lmtp ]]; then
		d="lmtp 127.0.0.1:$LMTP_PORT bob"
	else
		d="smtp 127.0.0.1:$LMTP_PORT bob@popfetch.test"
	fi
	popserver_rc "timeout ${TIMEOUT:-10}" "delivery $d" \
	    "received_header off" "uidls_file $TEST_TMP/state/%U" "$@"
}

# against KIND STEP ACTION: one run against a destination playing ACTION
# at STEP.  Sets status and output (bats' run), ELAPSED (s) and RSS (KB).
against() {
	local kind=$1 step=$2 action=$3 t0
	[[ -z $LMTP_PID ]] || popserver_stop "$LMTP_PID"
	rm -f "$LLOG"
	lmtpserver_start --fault "$step:$action"
	dest_rc "$kind"
	t0=$SECONDS
	run /usr/bin/time -f '%M' -o "$TEST_TMP/rss" "$POPFETCH" -C "$RC"
	ELAPSED=$((SECONDS - t0))
	RSS=$(tail -n 1 "$TEST_TMP/rss")
	# time(1) adds a line when the command failed: the last one is %M.
}

# check KIND STEP ACTION: what every hostile case must leave.
check() {
	local kind=$1 step=$2 action=$3 name line
	name=$( [[ $kind == lmtp ]] && echo LMTP || echo SMTP)
	echo "# $kind $step $action: exit $status, ${ELAPSED}s, ${RSS} KB" >&3
	[[ $status -ne 0 ]] || fail "$kind $step $action: exit 0"
	# The fault landed where intended.
	grep -q "^fault: $action at $step " "$LLOG" ||
	    fail "$kind $step $action: the fault did not happen: $(cat "$LLOG")"
	# One-line errors, each naming the account, one naming the server.
	[[ -n $output ]] || fail "$kind $step $action: no error"
	while IFS= read -r line; do
		[[ $line == "default: "* ]] ||
		    fail "$kind $step $action: a line without the account: $line"
	done <<<"$output"
	[[ $output == *"$name server 127.0.0.1:$LMTP_PORT"* ]] ||
	    fail "$kind $step $action: the server is not named: $output"
	[[ $output != *$'\e'* && $output != *$'\a'* ]] ||
	    fail "$kind $step $action: control characters reached the terminal"
	((RSS < RSS_MAX_KB)) ||
	    fail "$kind $step $action: max RSS $RSS KB"
	[ "$(server_count)" -eq 2 ] ||
	    fail "$kind $step $action: messages deleted on the POP3 server"
}

# hostile ACTION KIND...: ACTION at every step, for each kind.
hostile() {
	local action=$1 kind step
	shift
	make_mailbox "$MB" 2 100000
	popserver_start --mailbox "$MB"
	for kind in "$@"; do
		for step in $STEPS; do
			against "$kind" "$step" "$action"
			check "$kind" "$step" "$action"
			((ELAPSED < 60)) || fail "$kind $step $action: ${ELAPSED}s"
		done
	done
}

@test "hostile destination: garbage replies at every step (LMTP, SMTP)" {
	hostile garbage lmtp smtp
	assert_output --partial "sent a reply that is not"
}

@test "hostile destination: endless continuation lines at every step (LMTP, SMTP)" {
	hostile endless lmtp smtp
	assert_output --partial "sent a reply longer than 65536 bytes"
}

@test "hostile destination: a 1 GB reply line at every step, never buffered (LMTP, SMTP)" {
	hostile longline lmtp smtp
	assert_output --partial "sent a reply line longer than"
}

# silent KIND: a destination that never answers, at every step and in the
# middle of a message too large for the socket buffers: each run ends
# within about one timeout, however many messages wait.
silent() {
	local kind=$1 step
	TIMEOUT=3
	make_mailbox "$MB" 2 100000
	popserver_start --mailbox "$MB"
	for step in $STEPS middata; do
		# Larger than what the socket buffers take.
		[[ $step != middata ]] || make_mailbox "$MB" 2 20000000
		against "$kind" "$step" silent
		check "$kind" "$step" silent
		[[ $status -eq 75 ]] || fail "$kind $step silent: exit $status"
		# One wait of `timeout` (3 s), not one per message or retry;
		# the rest is room for a busy machine.
		((ELAPSED < TIMEOUT + 15)) ||
		    fail "$kind $step silent: ${ELAPSED}s for a 3 s timeout"
	done
}

@test "hostile destination: an LMTP server that never answers, at every step" {
	silent lmtp
}

@test "hostile destination: an SMTP server that never answers, at every step" {
	silent smtp
}

# cut KIND: the connection cut at each step; then a healthy server gets
# every message, exactly once for a cut before the final dot.
cut() {
	local kind=$1 step n
	make_mailbox "$MB" 2 100000
	cp -r "$MB" "$TEST_TMP/orig"
	popserver_start --mailbox "$MB"
	for step in $STEPS middata; do
		rm -rf "$STORE" "$TEST_TMP/state"
		against "$kind" "$step" hangup
		check "$kind" "$step" hangup
		[[ $status -eq 75 ]] || fail "$kind $step hangup: exit $status"
		popserver_stop "$LMTP_PID"
		LMTP_PID=
		lmtpserver_start
		dest_rc "$kind"
		run "$POPFETCH" -C "$RC" --retry-refused
		[[ $status -eq 0 ]] || fail "$kind $step: the run after: $output"
		[ "$(server_count)" -eq 0 ]
		if [[ $step == dot ]]; then
			# Stored before the cut: at least once, at most twice.
			n=$(maildir_count "$STORE")
			((n >= 2 && n <= 4)) || fail "$kind dot: $n copies"
		else
			assert_maildir_matches "$TEST_TMP/orig" "$STORE"
		fi
		cp "$TEST_TMP/orig"/* "$MB"/
	done
}

@test "destination fault matrix: LMTP cut at every step, nothing lost" {
	cut lmtp
}

@test "destination fault matrix: SMTP cut at every step, nothing lost" {
	cut smtp
}
