#!/usr/bin/env bats
# mda.bats -- `delivery mda COMMAND`: real procmail, %F quoting against a
# hostile sender, the exit-status contract (0, 75, others, signals, stdin
# closed early), mda_timeout, and that children never outlive the run.

load lib/common
load lib/popserver

setup() {
	PMRC=$TEST_TMP/procmailrc
	mkdir -p "$MD/new" "$MD/cur" "$MD/tmp" "$TEST_TMP/cwd"
	printf ':0\n%s/\n' "$MD" >"$PMRC"
}

teardown() {
	popserver_stop || true
}

# rc MDA-COMMAND [extra lines...]
rc() {
	local mda=$1
	shift
	popserver_rc "timeout 10" "delivery mda $mda" "received_header off" \
	    "uidls_file $TEST_TMP/state/%U" "$@"
}

# Run from a scratch directory, so that injected commands would show there.
fetch() {
	cd "$TEST_TMP/cwd" && run "$POPFETCH" -C "$RC" "$@"
}

@test "mda: procmail -f %F delivers into a maildir, byte for byte" {
	"$PYTHON3" "$TESTS_SRCDIR/gen-corpus" tricky "$MB"
	cp -r "$MB" "$TEST_TMP/orig"
	popserver_start --mailbox "$MB"
	rc "procmail -f %F -m $PMRC"
	fetch
	assert_success
	assert_maildir_matches "$TEST_TMP/orig" "$MD"
	[ "$(server_count)" -eq 0 ]
}

@test "mda: a hostile sender reaches the MDA as one word, no shell syntax runs" {
	printf "Return-Path: <a'b;rm -rf x\$(touch pwned)@ex>\nSubject: evil\n\nx\n" >"$MB/m1"
	printf 'Return-Path: <>\nSubject: null sender\n\nx\n' >"$MB/m2"
	printf 'Subject: none\n\nx\n' >"$MB/m3"
	popserver_start --mailbox "$MB"
	rc "printf '%s|\n' %F >>$TEST_TMP/senders; cat >/dev/null"
	fetch
	assert_success
	run cat "$TEST_TMP/senders"
	assert_output "$(printf "a'b;rm -rf x\$(touch pwned)@ex|\nMAILER-DAEMON|\nMAILER-DAEMON|")"
	[ ! -e "$TEST_TMP/cwd/pwned" ]
	[ ! -e pwned ]
}

@test "mda: exit 75 keeps the message, the others go on, exit 75; a later run delivers it once" {
	make_mailbox "$MB" 3
	cp -r "$MB" "$TEST_TMP/orig"
	cat >"$TEST_TMP/mda.sh" <<EOS
cat >"$TEST_TMP/in"
if [ -e "$TEST_TMP/defer" ] && grep -q '^Subject: Test message 2 ' "$TEST_TMP/in"; then
	exit 75
fi
exec procmail -f "\$1" -m "$PMRC" <"$TEST_TMP/in"
EOS
	touch "$TEST_TMP/defer"
	popserver_start --mailbox "$MB"
	rc "sh $TEST_TMP/mda.sh %F"
	fetch
	assert_failure 75
	assert_output --partial "default: message 2: the MDA exited 75 (temporary failure); it stays on the server"
	assert_output --partial "1 message deferred"
	[ "$(maildir_count "$MD")" -eq 2 ]
	[ "$(server_count)" -eq 1 ]
	[ -e "$MB/msg-00002" ]
	rm "$TEST_TMP/defer"
	fetch
	assert_success
	assert_output --partial "1 message fetched"
	assert_maildir_matches "$TEST_TMP/orig" "$MD"
	[ "$(server_count)" -eq 0 ]
}

@test "mda: keep on: a deferred message is delivered by the next run, the others not again" {
	make_mailbox "$MB" 2
	popserver_start --mailbox "$MB"
	rc "if [ -e $TEST_TMP/defer ]; then exit 75; fi; procmail -m $PMRC" "keep on"
	touch "$TEST_TMP/defer"
	fetch
	assert_failure 75
	rm "$TEST_TMP/defer"
	fetch
	assert_success
	assert_output --partial "2 messages fetched"
	fetch
	assert_success
	assert_output --partial "no new messages"
	[ "$(maildir_count "$MD")" -eq 2 ]
}

@test "mda: kill -9 while the MDA takes message 5: the next run delivers that one again, not the four before it" {
	make_mailbox "$MB" 10
	cp -r "$MB" "$TEST_TMP/orig"
	# The MDA's shell is popfetch's child: at the 5th message, once
	# procmail has delivered it, it kills popfetch before the UID record.
	cat >"$TEST_TMP/mda.sh" <<EOS
procmail -m "$PMRC" || exit 75
echo x >>"$TEST_TMP/count"
[ "\$(wc -l <"$TEST_TMP/count")" -ne 5 ] || kill -9 "\$1"
EOS
	popserver_start --mailbox "$MB"
	rc "sh $TEST_TMP/mda.sh \$PPID"
	fetch
	assert_equal "$status" 137
	# The fault landed: five delivered, none deleted on the server.
	[ "$(maildir_count "$MD")" -eq 5 ]
	[ "$(server_count)" -eq 10 ]
	fetch
	assert_success
	assert_output --partial "6 messages fetched"
	[ "$(server_count)" -eq 0 ]
	# Message 5 twice (the window of one), every other once.
	run grep -l '^Subject: Test message 5 ' -r "$MD/new" "$MD/cur"
	[ "${#lines[@]}" -eq 2 ]
	for n in 1 2 3 4 6 7 8 9 10; do
		run grep -l "^Subject: Test message $n " -r "$MD/new" "$MD/cur"
		[ "${#lines[@]}" -eq 1 ] || fail "message $n: ${#lines[@]} copies"
	done
}

@test "mda: any other exit fails (69), keeps the message, reports, goes on" {
	make_mailbox "$MB" 3
	popserver_start --mailbox "$MB"
	rc "cat >$TEST_TMP/in; if grep -q '^Subject: Test message 1 ' $TEST_TMP/in; then exit 3; fi; procmail -m $PMRC <$TEST_TMP/in"
	fetch
	assert_failure 69
	assert_output --partial "message 1: the MDA failed (exit 3); it stays on the server"
	assert_output --partial "1 message could not be delivered"
	[ "$(maildir_count "$MD")" -eq 2 ]
	[ -e "$MB/msg-00001" ]
	[ "$(server_count)" -eq 1 ]
}

@test "mda: death by a signal is a failure (69)" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB"
	rc 'cat >/dev/null; kill -KILL $$'
	fetch
	assert_failure 69
	assert_output --partial "the MDA was killed by signal 9"
	[ "$(server_count)" -eq 1 ]
}

@test "mda: an MDA closing stdin early fails (69) even with exit 0; SIGPIPE does not kill popfetch" {
	make_mailbox "$MB" 1 300000
	popserver_start --mailbox "$MB"
	rc 'head -c 100 >/dev/null; exec 0<&-; sleep 0.3; exit 0'
	fetch
	assert_failure 69
	assert_output --regexp "the MDA stopped reading after [0-9]+ of [0-9]+ bytes \(exit 0\)"
	[ "$(server_count)" -eq 1 ]
}

@test "mda: a hung MDA is killed after mda_timeout with its children (75), the message kept" {
	make_mailbox "$MB" 2
	popserver_start --mailbox "$MB"
	# The ':' keeps sh from exec'ing sleep: sleep is a grandchild.  Its
	# argument is this run's own (other builds run this test at once).
	local nap=4711.$RANDOM$RANDOM
	rc "cat >/dev/null; sleep $nap; :" "mda_timeout 2"
	start=$(date +%s)
	fetch
	end=$(date +%s)
	assert_failure 75
	assert_output --partial "message 1: the MDA did not finish within mda_timeout (2 s) and was killed"
	assert_output --partial "message 2: the MDA did not finish"
	[ $((end - start)) -lt 15 ]
	[ "$(server_count)" -eq 2 ]
	run pgrep -x -f "sleep $nap"
	assert_failure
}

@test "mda: a command that does not exist fails (69) with a hint" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB"
	rc "/nonexistent/procmail"
	fetch
	assert_failure 69
	assert_output --partial "exit 127"
	[ "$(server_count)" -eq 1 ]
}

@test "mda: the Received: header is the first line the MDA reads" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB"
	rc "cat >$TEST_TMP/in" "received_header on"
	fetch
	assert_success
	run head -n 3 "$TEST_TMP/in"
	assert_line --index 0 "Received: from 127.0.0.1 (user test)"
	assert_line --index 2 --regexp "^	[A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} [-+][0-9]{4}$"
	run sed -n 4p "$TEST_TMP/in"
	assert_output "Return-Path: <sender@popfetch.test>"
}

@test "mda: mda_timeout and received_header are checked in the config (78)" {
	popserver_start --mailbox "$MB"
	rc "cat" "mda_timeout 0"
	fetch
	assert_failure 78
	assert_output --partial "invalid value '0' for 'mda_timeout'"
	rc "cat" "received_header maybe"
	fetch
	assert_failure 78
	assert_output --partial "'received_header'"
}
