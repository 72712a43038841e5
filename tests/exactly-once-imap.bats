#!/usr/bin/env bats
# exactly-once-imap.bats -- exactly once with `delivery imap` into a real
# Dovecot IMAP server started here: the kill -9 loop of exactly-once.bats
# (tests/lib/faults.bash) with the messages appended to Dovecot, and the
# state a kill leaves between Dovecot's OK and the UID record made by hand:
# every UID pending, the pending journal (docs/exactly-once.md) with and
# without the APPENDUIDs, messages with and without a Message-ID, some
# never stored.  The faulty run's messages must be found in Dovecot, not
# appended again, and every message be there exactly once, byte for byte.

BATS_TEST_TIMEOUT=600
load lib/common
load lib/certs
load lib/dovecot
load lib/popserver
load lib/delivered
load lib/faults

setup_file() {
	make_test_ca "$BATS_RUN_TMPDIR/certs"
	DOVECOT_IMAP=yes
	dovecot_start
}

teardown_file() {
	dovecot_stop
}

setup() {
	DSTU=dst$BATS_TEST_NUMBER
	dovecot_add_user "$DSTU" "pw-$DSTU"
}

teardown() {
	faults_teardown
}

# rc DIR MODE -- the running test server into Dovecot user $DSTU's INBOX
# over imaps://, the state under DIR; MODE is keep or delete.
rc() {
	local dir=$1 keep=off
	[[ $2 == keep ]] && keep=on
	popserver_rc "timeout 30" "keep $keep" \
	    "delivery imap imaps://$DSTU@127.0.0.1:$DOVECOT_IMAPS_PORT/INBOX" \
	    "delivery_password pw-$DSTU" "delivery_tls_trust_file $DOVECOT_CA" \
	    "uidls_file $dir/state" "received_header off"
}

delivered_ok() {
	assert_maildir_matches "$TEST_TMP/corpus" "$(dovecot_maildir "$DSTU")"
}

delivered_count() {
	maildir_count "$(dovecot_maildir "$DSTU")"
}

# 300 messages (5 batches of 64): held at the listing, in the first RETR,
# in the 40th (39 appended, none recorded) and the 150th; caught at 33 %
# and 60 %; then after the last delivery.
K9_PLAN="hold:UIDL hold:retr:1 hold:retr:40 hold:retr:150 retr:33% retr:60%"

@test "imap: kill -9 at 7 moments spread over a 300-message fetch into Dovecot (delete): exactly once" {
	kill9_loop delete 300 "$K9_PLAN quit" --retr-delay 2
	# The kills left appended messages unrecorded, and later runs found
	# them in Dovecot instead of appending them again.
	grep -q ' [0-9]*:[0-9]* ' "$TEST_TMP/kill9/state.dest-journal"
}

@test "imap: kill -9 at 7 moments spread over a 300-message fetch into Dovecot (keep, pipelined): exactly once" {
	kill9_loop keep 300 "$K9_PLAN end hold:UIDL" --pipelining --retr-delay 2
}

# unrecord [strip]: after a whole keep-mode run, the state as a kill
# between Dovecot's OKs and the UID records leaves it: every UID pending,
# none recorded.  With strip, the journal loses the APPENDUIDs too (as
# when the kill came before the server's OK), so only the Message-ID and
# the digest can tell.
unrecord() {
	dest_unrecord "$W/mb" "$W/state" "${1:-}"
}

# deliver_whole: the tricky corpus and three messages without a
# Message-ID (two of one size) into Dovecot, in keep mode.
deliver_whole() {
	W=$TEST_TMP/w
	"$PYTHON3" "$TESTS_SRCDIR/gen-corpus" tricky "$TEST_TMP/corpus"
	printf 'Subject: no id\n\nsame size A\n' >"$TEST_TMP/corpus/20-noid-a"
	printf 'Subject: no id\n\nsame size B\n' >"$TEST_TMP/corpus/21-noid-b"
	printf 'Subject: no id, no newline\n\nlast' >"$TEST_TMP/corpus/22-noid-c"
	mkdir -p "$W"
	cp -r "$TEST_TMP/corpus" "$W/mb"
	popserver_start --mailbox "$W/mb" --log "$TEST_TMP/log"
	rc "$W" keep
	run "$POPFETCH" -q -C "$RC"
	assert_success
	delivered_ok
	N=$(ls "$W/mb" | wc -l)
	[ "$(delivered_count)" -eq "$N" ]
	rc "$W" delete
}

@test "imap: appended, not recorded, APPENDUIDs in the journal: found in Dovecot by UID, recorded, deleted" {
	deliver_whole
	unrecord
	run "$POPFETCH" -v -C "$RC"
	assert_success
	run grep -c "was delivered by an interrupted run; recording it" <<<"$output"
	assert_output "$N"
	[ "$(delivered_count)" -eq "$N" ]
	delivered_ok
	[ "$(count_files "$W/mb")" -eq 0 ]
}

@test "imap: appended, not recorded, no APPENDUIDs: found in Dovecot by Message-ID and digest, or by size and digest" {
	deliver_whole
	unrecord strip
	run "$POPFETCH" -v -C "$RC"
	assert_success
	run grep -c "was delivered by an interrupted run; recording it" <<<"$output"
	assert_output "$N"
	[ "$(delivered_count)" -eq "$N" ]
	delivered_ok
	[ "$(count_files "$W/mb")" -eq 0 ]
}

@test "imap: journalled but never stored (two gone from Dovecot): appended once, the rest found" {
	deliver_whole
	unrecord strip
	# As if the kill had come before these two reached the server.
	md=$(dovecot_maildir "$DSTU")
	grep -l -e '^Subject: tricky dot lines' -e '^same size A' \
	    "$md"/new/* "$md"/cur/* 2>/dev/null | head -n 3 >"$TEST_TMP/gone"
	[ "$(wc -l <"$TEST_TMP/gone")" -eq 2 ]
	xargs rm -f <"$TEST_TMP/gone"
	run "$POPFETCH" -v -C "$RC"
	assert_success
	run grep -c "was delivered by an interrupted run; recording it" <<<"$output"
	assert_output "$((N - 2))"
	[ "$(delivered_count)" -eq "$N" ]
	delivered_ok
	[ "$(count_files "$W/mb")" -eq 0 ]
}
