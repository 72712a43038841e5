#!/usr/bin/env bats
# mbox.bats -- `delivery mbox FILE`: the mboxrd format read back by Python's
# mailbox module, the From_ line, locking against procmail and other
# writers, and never half a message on a full disk or a broken connection.

load lib/common
load lib/popserver
load lib/mbox

setup() {
	MBOX=$TEST_TMP/mail/inbox
	SMALL=$TEST_TMP/small
	mkdir -p "$TEST_TMP/mail"
}

teardown() {
	popserver_stop "${PID2:-}" || true
	popserver_stop || true
	if mountpoint -q "$SMALL" 2>/dev/null; then
		umount "$SMALL" || true
	fi
}

# account NAME PORT MBOX [extra lines...]
account() {
	local name=$1 port=$2 mbox=$3 l
	shift 3
	echo "account $name"
	echo "host 127.0.0.1"
	echo "port $port"
	echo "tls off"
	echo "timeout 10"
	echo "user test"
	echo "password secret"
	echo "delivery mbox $mbox"
	echo "received_header off"
	echo "uidls_file $TEST_TMP/state/$name"
	for l in "$@"; do echo "$l"; done
}

# rc [extra lines...] -- account 'default' for the running server into $MBOX.
rc() {
	account default "$POPSERVER_PORT" "$MBOX" "$@" | write_fetchrc "$RC"
}

fetch() {
	run "$POPFETCH" -C "$RC" "$@"
}

@test "mbox: messages with From and >From lines read back by mailbox.mbox byte for byte" {
	"$PYTHON3" "$TESTS_SRCDIR/gen-corpus" tricky "$MB"
	printf 'Subject: froms\n\nFrom the start\n>From quoted\n>>From twice\n From not at the start\nFrom\nFro\n>\n>>\n' >"$MB/zz-froms"
	printf 'Subject: no final newline\n\nFrom x' >"$MB/zz-nonl"
	cp -r "$MB" "$TEST_TMP/orig"
	popserver_start --mailbox "$MB"
	rc
	fetch
	assert_success
	mbox_extract "$MBOX" "$TEST_TMP/out"
	assert_maildir_matches "$TEST_TMP/orig" "$TEST_TMP/out"
	# mboxrd on disk: one more '>' on every ^>*From line.
	run grep -c '^>>>From twice$' "$MBOX"
	assert_output 1
	run grep -c '^From the start$' "$MBOX"
	assert_output 0
	run stat -c %a "$MBOX"
	assert_output 600
	# The file ends with a message's last line and the empty line after it.
	[ "$(tail -c 2 "$MBOX" | od -An -c | tr -d ' ')" = '\n\n' ]
}

@test "mbox: the From_ line carries Return-Path's address, else MAILER-DAEMON" {
	printf 'Return-Path: <alice@example.org>\nSubject: a\n\na\n' >"$MB/m1"
	printf 'Subject: b\n\nb\n' >"$MB/m2"
	printf 'Return-Path: <>\nSubject: c\n\nc\n' >"$MB/m3"
	printf "Return-Path: <a'b;rm -rf x\$(touch pwned)@ex>\nSubject: d\n\nd\n" >"$MB/m4"
	popserver_start --mailbox "$MB"
	rc
	fetch
	assert_success
	mbox_extract "$MBOX" "$TEST_TMP/out"
	run cut -d' ' -f1 "$TEST_TMP/out/from"
	assert_output "$(printf 'alice@example.org\nMAILER-DAEMON\nMAILER-DAEMON\nMAILER-DAEMON')"
	# asctime date, in UTC.
	run grep -cE '^From alice@example.org (Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} [0-9]{4}$' "$MBOX"
	assert_output 1
}

@test "mbox: appending to an existing mbox keeps it and adds the missing empty line" {
	printf 'From old@ex Mon Jan  1 00:00:00 2024\nSubject: old\n\nold body' >"$MBOX"
	make_mailbox "$MB" 2
	popserver_start --mailbox "$MB"
	rc
	fetch
	assert_success
	head -c 60 "$MBOX" | grep -q '^From old@ex'
	mbox_extract "$MBOX" "$TEST_TMP/out"
	run cat "$TEST_TMP/out/new/00000"
	assert_output "$(printf 'Subject: old\n\nold body')"
	[ "$(ls "$TEST_TMP/out/new" | wc -l)" -eq 3 ]
}

@test "mbox: the Received: header is written first, Return-Path is kept as sent" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB"
	rc "received_header on"
	fetch
	assert_success
	run sed -n 2,4p "$MBOX"
	assert_line --index 0 "Received: from 127.0.0.1 (user test)"
	assert_line --index 1 --regexp "^	by .* with POP3 \(popfetch [0-9.]+\);$"
	run grep -c '^Return-Path: <sender@popfetch.test>$' "$MBOX"
	assert_output 1
	# The sender still comes from Return-Path, below the Received: line.
	run head -n 1 "$MBOX"
	assert_output --regexp '^From sender@popfetch.test '
}

@test "mbox: a dot-lock held by another program is waited for" {
	make_mailbox "$MB" 2
	cp -r "$MB" "$TEST_TMP/orig"
	popserver_start --mailbox "$MB"
	rc
	touch "$MBOX.lock"
	start=$(date +%s)
	"$POPFETCH" -C "$RC" >"$TEST_TMP/out.txt" 2>&1 3>&- &
	pf=$!
	sleep 2
	# Still waiting: nothing written yet.
	[ ! -s "$MBOX" ]
	rm "$MBOX.lock"
	wait "$pf"
	[ $(( $(date +%s) - start )) -ge 2 ]
	[ ! -e "$MBOX.lock" ]
	mbox_extract "$MBOX" "$TEST_TMP/out"
	assert_maildir_matches "$TEST_TMP/orig" "$TEST_TMP/out"
}

@test "mbox: SIGTERM while a batch waits for the lock: whole messages only, recorded, then exactly once" {
	make_mailbox "$MB" 100
	cp -r "$MB" "$TEST_TMP/orig"
	# Lock-step: once RETR 65 is served, the reply to it confirms message
	# 64, so the first batch of 64 is synced next, and waits for the lock.
	popserver_start --mailbox "$MB" --log "$SLOG"
	rc
	touch "$MBOX.lock"
	"$POPFETCH" -C "$RC" >"$TEST_TMP/out.txt" 2>&1 3>&- &
	pf=$!
	for _ in $(seq 600); do
		[ "$(grep -c '^C: RETR' "$SLOG")" -ge 65 ] && break
		sleep 0.1
	done
	[ "$(grep -c '^C: RETR' "$SLOG")" -ge 65 ]
	[ ! -s "$MBOX" ]
	kill -TERM "$pf"
	rm "$MBOX.lock"
	status=0
	wait "$pf" || status=$?
	# Stopped (75), after what it had appended was durable: whole
	# messages, each of them recorded, none deleted before that.
	[ "$status" -eq 75 ]
	grep -q "stopped by a signal" "$TEST_TMP/out.txt"
	mbox_extract "$MBOX" "$TEST_TMP/out"
	n=$(ls "$TEST_TMP/out/new" | wc -l)
	[ "$n" -ge 64 ]
	[ "$(grep -c '^[0-9]' "$TEST_TMP/state/default")" -eq "$n" ]
	[ "$(grep -c '^C: DELE' "$SLOG")" -le "$n" ]
	[[ $(tail -c 2 "$MBOX" | od -An -c | tr -d ' ') == '\n\n' ]]
	[ ! -e "$MBOX.lock" ]
	fetch
	assert_success
	assert_mbox_matches "$TEST_TMP/orig" "$MBOX"
}

@test "mbox: an fcntl lock held by another program is waited for" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB"
	rc
	: >"$MBOX"
	"$PYTHON3" -c '
import fcntl, sys, time
f = open(sys.argv[1], "a")
fcntl.lockf(f, fcntl.LOCK_EX)
open(sys.argv[2], "w").close()
time.sleep(2)
f.write("From locker@ex Mon Jan  1 00:00:00 2024\nSubject: locker\n\nx\n\n")
f.flush()
' "$MBOX" "$TEST_TMP/locked" 3>&- &
	py=$!
	wait_for 60 test -e "$TEST_TMP/locked"
	fetch
	wait "$py"
	assert_success
	mbox_extract "$MBOX" "$TEST_TMP/out"
	# The locker's message came first and whole, then ours.
	run cat "$TEST_TMP/out/from"
	assert_line --index 0 --partial "locker@ex"
	assert_line --index 1 --partial "sender@popfetch.test"
}

@test "mbox: a stale dot-lock is removed with a warning" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB"
	rc
	touch -d '-10 minutes' "$MBOX.lock"
	fetch
	assert_success
	assert_output --partial "default: warning: removing stale lock $MBOX.lock"
	[ ! -e "$MBOX.lock" ]
	[ "$(grep -c '^From ' "$MBOX")" -eq 1 ]
}

@test "mbox: two popfetch runs and a procmail writing one mbox at once: all intact, none interleaved" {
	mb1=$TEST_TMP/mb1 mb2=$TEST_TMP/mb2 mb3=$TEST_TMP/mb3
	make_mailbox "$mb1" 40 3000
	make_mailbox "$mb2" 40 3000
	make_mailbox "$mb3" 40 3000
	mkdir -p "$TEST_TMP/all"
	cp "$mb1"/* "$TEST_TMP/all/"
	for f in "$mb2"/* "$mb3"/*; do cp "$f" "$TEST_TMP/all/$(basename "$(dirname "$f")")-$(basename "$f")"; done
	popserver_start --mailbox "$mb1"
	PID2=$POPSERVER_PID port1=$POPSERVER_PORT
	popserver_start --mailbox "$mb2"
	{
		account one "$port1" "$MBOX"
		account two "$POPSERVER_PORT" "$MBOX"
	} | write_fetchrc "$RC"
	printf ':0:\n%s\n' "$MBOX" >"$TEST_TMP/procmailrc"
	(
		for f in "$mb3"/*; do
			{ echo "From procmail@ex Mon Jan  1 00:00:00 2024"; cat "$f"; } |
			    procmail -m "$TEST_TMP/procmailrc" || exit 1
		done
	) 3>&- &
	pm=$!
	"$POPFETCH" -C "$RC" one >"$TEST_TMP/one.out" 2>&1 3>&- &
	p1=$!
	"$POPFETCH" -C "$RC" two >"$TEST_TMP/two.out" 2>&1 3>&- &
	p2=$!
	wait "$p1"
	wait "$p2"
	wait "$pm"
	mbox_extract "$MBOX" "$TEST_TMP/out"
	assert_maildir_matches "$TEST_TMP/all" "$TEST_TMP/out"
	[ ! -e "$MBOX.lock" ]
}

@test "mbox: a connection cut in the middle of a message leaves the mbox untouched, then exactly once" {
	make_mailbox "$MB" 3 20000
	cp -r "$MB" "$TEST_TMP/orig"
	popserver_start --mailbox "$MB" --cut-in-retr 2
	rc
	fetch
	assert_failure 75
	[ "$(grep -c '^From ' "$MBOX")" -eq 1 ]
	fetch
	assert_success
	mbox_extract "$MBOX" "$TEST_TMP/out"
	assert_maildir_matches "$TEST_TMP/orig" "$TEST_TMP/out"
}

@test "mbox: a full disk (tmpfs) leaves no partial message, exit 74, the next run delivers once" {
	mkdir -p "$SMALL"
	if ! mount -t tmpfs -o size=1m tmpfs "$SMALL" 2>/dev/null; then
		skip "cannot mount a tmpfs here (needs root); the ulimit -f test covers the failure path"
	fi
	MBOX=$SMALL/inbox
	make_mailbox "$MB" 1
	"$PYTHON3" "$TESTS_SRCDIR/gen-corpus" big "$MB/msg-00002" 1.5
	cp -r "$MB" "$TEST_TMP/orig"
	popserver_start --mailbox "$MB"
	rc
	fetch
	assert_failure 74
	assert_output --partial "No space left on device"
	# Both are one batch: it is truncated away whole, nothing partial is
	# left, and both messages are still on the server.
	[ "$(stat -c %s "$MBOX")" -eq 0 ]
	[ "$(server_count)" -eq 2 ]
	mount -o remount,size=8m "$SMALL"
	fetch
	assert_success
	mbox_extract "$MBOX" "$TEST_TMP/out"
	assert_maildir_matches "$TEST_TMP/orig" "$TEST_TMP/out"
	[ "$(server_count)" -eq 0 ]
}

@test "mbox: a file size limit (ulimit -f) leaves no partial message, exit 74, then once" {
	"$PYTHON3" - "$MBOX" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(100):
        f.write("From old@ex Mon Jan  1 00:00:00 2024\nSubject: old %d\n\n%s\n\n" % (i, "y" * 1000))
PY
	before=$(stat -c %s "$MBOX")
	make_mailbox "$MB" 1 80000
	cp -r "$MB" "$TEST_TMP/orig"
	popserver_start --mailbox "$MB"
	rc
	# 150 KiB: the spool (80 KB) fits, the mbox (100 KB + 80 KB) does not.
	run bash -c 'ulimit -f 150 && exec "$0" -C "$1"' "$POPFETCH" "$RC"
	assert_failure 74
	assert_output --partial "File too large"
	[ "$(stat -c %s "$MBOX")" -eq "$before" ]
	[ "$(server_count)" -eq 1 ]
	fetch
	assert_success
	[ "$(grep -c '^From ' "$MBOX")" -eq 101 ]
	[ "$(server_count)" -eq 0 ]
}

@test "mbox: a path that cannot be created fails before connecting (73)" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB"
	rc
	sed -i "s|^delivery .*|delivery mbox $TEST_TMP/no/such/dir/inbox|" "$RC"
	fetch
	assert_failure 73
	assert_output --partial "cannot open mbox $TEST_TMP/no/such/dir/inbox"
	[ "$(server_count)" -eq 1 ]
}
