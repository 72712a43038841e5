#!/usr/bin/env bats
# exactly-once-mbox.bats -- exactly once with `delivery mbox`: the fault
# matrix and the kill -9 loop of exactly-once.bats against an mbox, and
# the two states a crash can leave there made by hand: a block appended
# whole but its UID not recorded, and a block cut short by SIGKILL.
# Every check reads the mbox back with Python's mailbox.mbox.

BATS_TEST_TIMEOUT=600
load lib/common
load lib/popserver
load lib/mbox
load lib/faults

teardown() {
	faults_teardown
}

# rc DIR MODE -- account 'default' for the running server, state and mbox
# under DIR; MODE is keep or delete.
rc() {
	local dir=$1 keep=off
	[[ $2 == keep ]] && keep=on
	popserver_rc "timeout 30" "keep $keep" "delivery mbox $dir/inbox" \
	    "uidls_file $dir/state" \
	    "received_header off"	# byte-for-byte comparisons
}

delivered_ok() {
	assert_mbox_matches "$TEST_TMP/corpus" "$1/inbox"
}

delivered_count() {
	grep -c '^From ' "$1/inbox" 2>/dev/null || true
}

@test "mbox fault matrix, keep mode: a cut at every step of a session" {
	matrix_test keep
}

@test "mbox fault matrix, delete mode: a cut at every step of a session" {
	matrix_test delete
}

@test "mbox fault matrix, delete mode with PIPELINING: a cut at every step of a session" {
	matrix_test delete+pipelining --pipelining
}

# 1,200 messages (19 batches of 64), 8 kills at moments of progress (see
# exactly-once.bats): held at the listing, in the first RETR, in the 100th
# and the 200th; then caught at 20 %, 33 % and 50 % of the fetch; after the
# last delivery (delete: at QUIT; keep: held at UIDL in a run with nothing
# new).  5 ms per RETR keeps a caught kill near its moment.
K9_PLAN="hold:UIDL hold:retr:1 hold:retr:100 hold:retr:200 retr:20% retr:33% retr:50%"

@test "mbox: kill -9 at 8 moments spread over a 1,200-message fetch (delete, pipelined): exactly once" {
	kill9_loop delete 1200 "$K9_PLAN quit" --pipelining --retr-delay 5
}

@test "mbox: kill -9 at 8 moments spread over a 1,200-message fetch (keep): exactly once" {
	kill9_loop keep 1200 "$K9_PLAN end hold:UIDL" --retr-delay 5
}

# fetch_keep N [SIZE] -- deliver N messages (keep mode, one batch) into
# $W/inbox: N journal lines, written together.
fetch_keep() {
	W=$TEST_TMP/w
	make_mailbox "$TEST_TMP/corpus" "$@"
	mkdir -p "$W"
	cp -r "$TEST_TMP/corpus" "$W/mb"
	popserver_start --mailbox "$W/mb" --log "$TEST_TMP/log"
	rc "$W" keep
	run "$POPFETCH" -q -C "$RC"
	assert_success
	assert_mbox_matches "$TEST_TMP/corpus" "$W/inbox"
	[[ $(wc -l <"$W/inbox.popfetch-journal") -eq $1 ]]
}

# fetch_two -- deliver 2 messages into $W/inbox, then make the state look
# as if the run had died before recording message 2.
fetch_two() {
	fetch_keep 2
	sed -i 's/^[0-9]* msg-00002$/pending msg-00002/' "$W/state"
	grep -qx 'pending msg-00002' "$W/state"
	: >"$TEST_TMP/log"
}

# cut_last_block -- truncate the mbox halfway through the last block, as a
# SIGKILL during its append would leave it.
cut_last_block() {
	local off len
	read -r _ off len _ < <(tail -n 1 "$W/inbox.popfetch-journal")
	truncate -s $((off + len / 2)) "$W/inbox"
	CUT_AT=$off
}

@test "mbox: a block appended whole but not recorded is recorded, not fetched again" {
	fetch_two
	cp "$W/inbox" "$TEST_TMP/before"
	run "$POPFETCH" -v -C "$RC"
	assert_success
	assert_output --partial "was delivered by an interrupted run"
	run grep -c '^C: RETR' "$TEST_TMP/log"
	assert_output 0
	cmp "$TEST_TMP/before" "$W/inbox"
	grep -qE '^[0-9]+ msg-00002$' "$W/state"
}

@test "mbox: --dry-run counts a pending message found in the mbox as delivered, and changes nothing" {
	fetch_two
	cp "$W/inbox" "$TEST_TMP/before"
	cp "$W/inbox.popfetch-journal" "$TEST_TMP/journal.before"
	cp "$W/state" "$TEST_TMP/state.before"
	command -v strace >/dev/null || skip "strace is not installed (./setup installs it)"
	# LeakSanitizer cannot run under ptrace.
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
	    run strace -f -qq -o "$TEST_TMP/trace" -e trace=link,openat,fsync \
	    "$POPFETCH" -n -v -C "$RC"
	assert_success
	assert_output --partial "message 2 (UID msg-00002) was delivered by an interrupted run; would record it"
	assert_output --regexp "dry run: would fetch 0 messages"
	cmp "$TEST_TMP/before" "$W/inbox"
	cmp "$TEST_TMP/journal.before" "$W/inbox.popfetch-journal"
	cmp "$TEST_TMP/state.before" "$W/state"
	# No lock taken, nothing synced, nothing opened for writing there.
	run grep -E 'link\(|fsync\(|inbox[^"]*", O_(WRONLY|RDWR)' "$TEST_TMP/trace"
	assert_failure
	# A changed block is not found: the message counts as new.
	truncate -s -10 "$W/inbox"
	run "$POPFETCH" -n -C "$RC"
	assert_success
	assert_output --regexp "dry run: would fetch 1 message "
}

@test "mbox: a block changed since its append is not taken for delivered" {
	fetch_two
	# A mail reader rewrote the last message (a Status: header, say).
	"$PYTHON3" - "$W/inbox" <<'PY'
import sys
p = sys.argv[1]
data = open(p, "rb").read()
i = data.rindex(b"\nSubject:")
open(p, "wb").write(data[:i] + b"\nStatus: RO" + data[i:])
PY
	run "$POPFETCH" -v -C "$RC"
	assert_success
	refute_output --partial "was delivered by an interrupted run"
	run grep -c '^C: RETR' "$TEST_TMP/log"
	assert_output 1
}

@test "mbox: a block cut short by a kill is removed and the message fetched once" {
	fetch_two
	cut_last_block
	run "$POPFETCH" -C "$RC"
	assert_success
	# Under the account's name, as every line about it (-j runs several).
	assert_line --regexp "^default: warning: mbox .*: removed the partial message an interrupted run left at byte $CUT_AT$"
	assert_output --partial "1 message fetched"
	assert_mbox_matches "$TEST_TMP/corpus" "$W/inbox"
}

@test "mbox: a kill inside a batch's append: the whole blocks before stay and are recorded, the cut one goes" {
	# One batch: three journal lines written together, blocks end to end.
	fetch_keep 3 3000
	local off len
	read -r _ off len _ < <(sed -n 2p "$W/inbox.popfetch-journal")
	truncate -s $((off + len / 2)) "$W/inbox"
	# As if the run died there: none of the three UIDs recorded yet.
	sed -i 's/^[0-9]* \(msg-0000[123]\)$/pending \1/' "$W/state"
	: >"$TEST_TMP/log"
	run "$POPFETCH" -v -C "$RC"
	assert_success
	assert_output --partial "removed the partial message an interrupted run left at byte $off"
	assert_output --partial "message 1 (UID msg-00001) was delivered by an interrupted run"
	run grep -c '^C: RETR' "$TEST_TMP/log"
	assert_output 2
	assert_mbox_matches "$TEST_TMP/corpus" "$W/inbox"
}

@test "mbox: a partial block is repaired even when no UID is pending" {
	fetch_two
	cut_last_block
	# The next run of another account (here: the same one, state intact).
	sed -i 's/^pending msg-00002$/1 msg-00002/' "$W/state"
	run "$POPFETCH" -C "$RC"
	assert_success
	assert_output --partial "removed the partial message"
	[[ $(stat -c %s "$W/inbox") -eq $CUT_AT ]]
}

@test "mbox: other mail after a partial block is never cut off" {
	fetch_two
	cut_last_block
	# Like procmail: an empty line first, as the mbox does not end in one.
	printf '\n\nFrom someone@example.org Sat Nov 21 10:00:00 2026\nSubject: procmail\n\nhello\n\n' >>"$W/inbox"
	cp "$W/inbox" "$TEST_TMP/before"
	run "$POPFETCH" -C "$RC"
	assert_success
	assert_output --partial "other mail follows it"
	# Untouched up to where it ended; message 2 appended again after it.
	cmp -n "$(stat -c %s "$TEST_TMP/before")" "$TEST_TMP/before" "$W/inbox"
	grep -q '^Subject: procmail$' "$W/inbox"
}

@test "mbox: a dot-lock left by a killed popfetch is removed at once" {
	fetch_two
	sed -i 's/^pending msg-00002$/1 msg-00002/' "$W/state"
	sh -c 'echo $$ >"$1"' sh "$W/inbox.lock"
	local start=$SECONDS
	run "$POPFETCH" -C "$RC"
	assert_success
	assert_line --regexp "^default: warning: removing .*: the popfetch that took it is gone$"
	((SECONDS - start < 10))
	[[ ! -e $W/inbox.lock ]]
}
