#!/usr/bin/env bats
# exactly-once-mbox.bats -- exactly once with `delivery mbox`: the fault
# matrix and the kill -9 loop of exactly-once.bats against an mbox, and
# the two states a crash can leave there made by hand: a block appended
# whole but its UID not recorded, and a block cut short by SIGKILL.
# Every check reads the mbox back with Python's mailbox.mbox.

BATS_TEST_TIMEOUT=300
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

# 1,200 messages, 8 kills; with 10 ms per RETR a run needs 12 s, so every
# kill (0.2 to 2 s in) strikes mid-fetch: before, during or after the
# append of one of the batches of 64 messages (0.64 s each), and the runs
# get through 6.4 s of the 12 on average before the last kill.
@test "mbox: kill -9 at 8 random moments of a 1,200-message fetch (delete, pipelined): exactly once" {
	kill9_loop delete 1200 8 200 1800 --pipelining --retr-delay 10
}

@test "mbox: kill -9 at 8 random moments of a 1,200-message fetch (keep): exactly once" {
	kill9_loop keep 1200 8 200 1800 --retr-delay 10
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
	# N block lines, then the line that marks the batch done.
	[[ $(grep -vcx done "$W/inbox.popfetch-journal") -eq $1 ]]
	[[ $(tail -n 1 "$W/inbox.popfetch-journal") == done ]]
}

# undone -- drop the batch's "done" line, as a run killed during the
# append never writes it.
undone() {
	sed -i '${/^done$/d}' "$W/inbox.popfetch-journal"
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
	undone
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
	undone
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

@test "mbox: other mail after a partial block is never cut off: the account stops with 65" {
	fetch_two
	cut_last_block
	# Like procmail: an empty line first, as the mbox does not end in one.
	printf '\n\nFrom someone@example.org Sat Nov 21 10:00:00 2026\nSubject: procmail\n\nhello\n\n' >>"$W/inbox"
	cp "$W/inbox" "$TEST_TMP/before"
	run "$POPFETCH" -C "$RC"
	assert_failure 65
	assert_line --regexp "^default: mbox .*/inbox ends with [0-9]+ bytes at byte $CUT_AT that an interrupted delivery was to write but that popfetch cannot prove it wrote .*then move .*inbox.popfetch-journal away$"
	cmp "$TEST_TMP/before" "$W/inbox"
	run grep -c '^C: RETR' "$TEST_TMP/log"
	assert_output 0
	# What the message says to do: the run after it appends message 2.
	mv "$W/inbox.popfetch-journal" "$TEST_TMP/journal.old"
	run "$POPFETCH" -C "$RC"
	assert_success
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

# --- crashes followed by other writers ------------------------------------
# Another delivery agent (procmail, the MTA) may append to the mbox after
# a popfetch was killed, once it has removed the dead run's dot-lock.
# Recovery then must never take that mail for the partial block of ours.

OLD_MAIL=$'From old@example.org Fri Nov 20 09:00:00 2026\nSubject: before\n\nearlier mail\n'
FOREIGN_MAIL=$'From procmail@example.org Sat Nov 21 10:00:00 2026\nSubject: procmail\n\nhello\n\n'

# crash_setup -- 3 messages of about 3000 bytes on the server (keep mode),
# an mbox that already holds another program's message ending in a single
# newline: a batch is 7 writes (the separator, then a From_ line and the
# message for each).
crash_setup() {
	W=$TEST_TMP/w
	make_mailbox "$TEST_TMP/corpus" 3 3000
	mkdir -p "$W" "$TEST_TMP/expect"
	cp -r "$TEST_TMP/corpus" "$W/mb"
	cp "$TEST_TMP/corpus"/* "$TEST_TMP/expect/"
	printf 'Subject: before\n\nearlier mail\n' >"$TEST_TMP/expect/old"
	popserver_start --mailbox "$W/mb" --log "$TEST_TMP/log"
	rc "$W" keep
}

crash_reset() {
	rm -f "$W/inbox" "$W/inbox.popfetch-journal" "$W/state" "$W/inbox.lock"
	printf '%s' "$OLD_MAIL" >"$W/inbox"
}

# kill_at_write K [N] -- one run of N messages (3) killed by strace's
# fault injection on entering its K-th write(2) to the mbox: the batch's
# journal lines are fsynced and K-1 of its writes are in.  Asserts that
# the kill landed there.
kill_at_write() {
	local n=${2:-3}
	command -v strace >/dev/null || skip "strace is not installed (./setup installs it)"
	# LeakSanitizer cannot run under ptrace.
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
	    run strace -f -qq -o "$TEST_TMP/trace" -P "$W/inbox" -e trace=write \
	    -e inject=write:signal=KILL:when="$1" "$POPFETCH" -q -C "$RC"
	assert_failure 137
	[[ $(grep -c ' write(' "$TEST_TMP/trace") -eq $1 ]]
	grep -q '+++ killed by SIGKILL +++' "$TEST_TMP/trace"
	grep -q "^pending msg-0000$n\$" "$W/state"
	[[ $(tail -n 1 "$W/inbox.popfetch-journal") != done ]]
	[[ $(grep -vcx done "$W/inbox.popfetch-journal") -eq $n ]]
}

@test "mbox: killed after the journal's fsync, before the append, then a procmail delivery: kept byte for byte, 65" {
	crash_setup
	crash_reset
	kill_at_write 1
	printf '%s' "$OLD_MAIL" | cmp - "$W/inbox"
	# procmail finds the dead run's lock stale and delivers a message
	# shorter than our first block, where that block was to go.
	rm "$W/inbox.lock"
	printf '%s' "$FOREIGN_MAIL" >>"$W/inbox"
	cp "$W/inbox" "$TEST_TMP/before"
	: >"$TEST_TMP/log"
	run "$POPFETCH" -C "$RC"
	assert_failure 65
	assert_line --regexp "^default: mbox $W/inbox ends with [0-9]+ bytes at byte ${#OLD_MAIL} that an interrupted delivery was to write but that popfetch cannot prove it wrote"
	refute_output --partial "removed the partial"
	cmp "$TEST_TMP/before" "$W/inbox"
	run grep -c '^C: RETR' "$TEST_TMP/log"
	assert_output 0
	# Again: the journal is not acted on while the message stands.
	run "$POPFETCH" -C "$RC"
	assert_failure 65
	cmp "$TEST_TMP/before" "$W/inbox"
}

@test "mbox: a kill at every write of a batch, then another program's mail: every byte it wrote stays" {
	crash_setup
	local k
	for k in 1 2 3 4 5 6 7; do
		crash_reset
		kill_at_write "$k"
		printf '%s' "$FOREIGN_MAIL" >>"$W/inbox"
		cp "$W/inbox" "$TEST_TMP/before"
		run "$POPFETCH" -C "$RC"
		echo "write $k: $output"
		assert_failure 65
		cmp "$TEST_TMP/before" "$W/inbox"
	done
}

@test "mbox: a kill at every write of a batch, nothing else writing: the partial block goes, each message once" {
	crash_setup
	local k
	for k in 1 2 3 4 5 6 7; do
		crash_reset
		kill_at_write "$k"
		run "$POPFETCH" -C "$RC"
		echo "write $k: $output"
		assert_success
		assert_mbox_matches "$TEST_TMP/expect" "$W/inbox"
		[[ $(tail -n 1 "$W/inbox.popfetch-journal") == done ]]
	done
}

@test "mbox: a kill inside a large block, then another program's mail after our partial line: kept, 65" {
	W=$TEST_TMP/w
	# One message of 200 KB: its copy is four writes; kill at the third.
	make_mailbox "$TEST_TMP/corpus" 1 200000
	mkdir -p "$W"
	cp -r "$TEST_TMP/corpus" "$W/mb"
	popserver_start --mailbox "$W/mb" --log "$TEST_TMP/log"
	rc "$W" keep
	kill_at_write 3 1
	(($(stat -c %s "$W/inbox") > 65536))
	printf '%s' "$FOREIGN_MAIL" >>"$W/inbox"
	cp "$W/inbox" "$TEST_TMP/before"
	run "$POPFETCH" -C "$RC"
	assert_failure 65
	cmp "$TEST_TMP/before" "$W/inbox"
	# Without the other mail, the same partial block is ours and goes.
	truncate -s $(($(stat -c %s "$W/inbox") - ${#FOREIGN_MAIL})) "$W/inbox"
	run "$POPFETCH" -C "$RC"
	assert_success
	assert_output --partial "removed the partial message an interrupted run left at byte 0"
	assert_mbox_matches "$TEST_TMP/corpus" "$W/inbox"
}

@test "mbox: a damaged journal (one length changed) removes nothing and stops the account with 65" {
	fetch_two
	cp "$W/inbox" "$TEST_TMP/before"
	# The issue's damage: the last block's length made larger, so that
	# the mbox seems to end inside it; and the batch made to look
	# interrupted, so that recovery looks at it.
	undone
	local off len
	read -r _ off len _ < <(tail -n 1 "$W/inbox.popfetch-journal")
	sed -i "\$s/^\\([^ ]* $off\\) $len /\\1 $((len + 93)) /" "$W/inbox.popfetch-journal"
	grep -q " $off $((len + 93)) " "$W/inbox.popfetch-journal"
	run "$POPFETCH" -C "$RC"
	assert_failure 65
	assert_output --regexp "^default: the delivery journal $W/inbox.popfetch-journal is damaged at line 2: nothing was removed"
	cmp "$TEST_TMP/before" "$W/inbox"
	run grep -c '^C: RETR' "$TEST_TMP/log"
	assert_output 0
	# --dry-run does not act on it either.
	run "$POPFETCH" -n -C "$RC"
	assert_failure 65
	cmp "$TEST_TMP/before" "$W/inbox"
}

@test "mbox: an older journal line (no head) never proves a partial block: nothing removed, 65" {
	fetch_two
	cut_last_block
	# The line as popfetch 0.x wrote it: five fields, no head, no check.
	sed -i '$s/^\([^ ]* [^ ]* [^ ]* [^ ]* [^ ]*\) .*/\1/' "$W/inbox.popfetch-journal"
	[[ $(tail -n 1 "$W/inbox.popfetch-journal" | wc -w) -eq 5 ]]
	cp "$W/inbox" "$TEST_TMP/before"
	run "$POPFETCH" -C "$RC"
	assert_failure 65
	assert_output --partial "cannot prove it wrote"
	cmp "$TEST_TMP/before" "$W/inbox"
}

@test "mbox: a batch marked done is never looked at again, however a mail reader shrank the mbox" {
	fetch_keep 3 3000
	# A mail reader deleted the first message: the mbox now ends inside
	# the last block's old place.  Nothing is cut, the run succeeds.
	"$PYTHON3" - "$W/inbox" <<'PY'
import mailbox, sys
mb = mailbox.mbox(sys.argv[1])
mb.lock()
mb.remove(next(iter(mb.keys())))
mb.flush()
mb.unlock()
PY
	cp "$W/inbox" "$TEST_TMP/before"
	run "$POPFETCH" -C "$RC"
	assert_success
	refute_output --partial "removed"
	cmp "$TEST_TMP/before" "$W/inbox"
}
