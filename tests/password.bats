#!/usr/bin/env bats
# password.bats -- where the password comes from, in order: password,
# passwordeval, ~/.netrc, a prompt on the terminal; and which one wins.

load lib/common
load lib/popserver

setup() {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB" --log "$SLOG" --password "pw 1"
}

teardown() {
	popserver_stop || true
}

rc() {
	local l
	{
		echo "account default"
		echo "host 127.0.0.1"
		echo "port $POPSERVER_PORT"
		echo "tls off"
		echo "timeout ${RC_TIMEOUT:-10}"
		echo "user test"
		echo "delivery maildir $MD"
		echo "uidls_file $TEST_TMP/state"
		for l in "$@"; do echo "$l"; done
	} | write_fetchrc "$RC"
}

# gone_or_zombie PID -- true once PID has exited (killed, it may stay a
# zombie until whoever adopted it reaps it).
gone_or_zombie() {
	local state
	state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || true
	[[ -z $state || $state == Z ]]
}

netrc() {
	printf '%s\n' "$@" >"$HOME/.netrc"
	chmod 600 "$HOME/.netrc"
}

fetch() {
	run "$POPFETCH" -C "$RC" "$@" </dev/null
}

@test "~/.netrc: machine and login give the password" {
	# .netrc has no quoting: no blank in this password.
	popserver_stop
	popserver_start --mailbox "$MB" --log "$SLOG" --password "pw-netrc"
	netrc "machine other login test password wrong" \
	    "machine 127.0.0.1 login someone password wrong" \
	    "machine 127.0.0.1 login test password pw-netrc"
	rc
	fetch
	assert_success
	assert_output --partial "1 message fetched"
}

@test "password and passwordeval come before ~/.netrc" {
	netrc "machine 127.0.0.1 login test password from-netrc"
	rc "password pw 1"
	fetch
	assert_success
	rc "passwordeval printf 'pw 1\\n'"
	make_mailbox "$MB" 1
	fetch
	assert_success
	run grep -c 'from-netrc' "$SLOG"
	assert_output 0
}

@test "~/.netrc readable by others: refused, nothing sent" {
	netrc "machine 127.0.0.1 login test password x"
	chmod 644 "$HOME/.netrc"
	rc
	fetch
	assert_failure 78
	assert_output --partial ".netrc: holds passwords but is readable by others; run chmod 600"
	run grep -c 'CONNECT' "$SLOG"
	assert_output 0
}

@test "no source and no terminal: exit 78 listing the sources" {
	rc
	fetch
	assert_failure 78
	assert_output --partial "default: no password (set password or passwordeval, add 127.0.0.1 to ~/.netrc, or run popfetch from a terminal"
}

@test "prompt on a terminal when nothing else gives a password, not echoed" {
	rc
	run "$PYTHON3" "$TESTS_SRCDIR/pty-run" "password for test@127.0.0.1" \
	    "pw 1" "$POPFETCH" -C "$RC"
	assert_success
	assert_output --partial "popfetch: password for test@127.0.0.1 (account default): "
	assert_output --partial "1 message fetched"
	refute_output --partial "pw 1"
}

@test "an empty answer to the prompt is a clear error" {
	rc
	run "$PYTHON3" "$TESTS_SRCDIR/pty-run" "password for" "" \
	    "$POPFETCH" -C "$RC"
	assert_failure 78
	assert_output --partial "no password given"
}

# A hung passwordeval must not hold a run from cron (nor the account lock):
# without a terminal it gets `timeout` seconds, then its process group is
# killed and the account ends in 75 (try again later).
@test "passwordeval that never ends: killed after timeout, exit 75, lock free" {
	RC_TIMEOUT=2 rc "passwordeval sleep 30 & echo \$! >$TEST_TMP/bg; sleep 30"
	SECONDS=0
	run timeout 20 "$POPFETCH" -C "$RC" </dev/null
	local took=$SECONDS
	assert_failure 75
	assert_output --partial "default: passwordeval command did not finish within 2 seconds and was killed"
	(( took <= 5 ))
	# What the command started in the background is gone too.
	# (Killed, it may stay a zombie until whoever adopted it reaps it.)
	BG=$(cat "$TEST_TMP/bg")
	wait_for 10 gone_or_zombie "$BG"
	run grep -c 'CONNECT' "$SLOG"
	assert_output 0
	# The lock was released: the next run fetches.
	RC_TIMEOUT=2 rc "passwordeval printf 'pw 1\\n'"
	fetch
	assert_success
	assert_output --partial "1 message fetched"
}

@test "passwordeval that prints but keeps its output open is bounded too" {
	RC_TIMEOUT=2 rc "passwordeval printf 'pw 1\\n'; exec sleep 30"
	SECONDS=0
	run timeout 20 "$POPFETCH" -C "$RC" </dev/null
	assert_failure 75
	assert_output --partial "passwordeval command did not finish within 2 seconds"
	(( SECONDS <= 5 ))
}

# On a terminal the command may be asking for a passphrase: it gets at
# least 10 minutes and stays in the terminal's foreground group to read it.
@test "passwordeval on a terminal may take longer than timeout and read it" {
	RC_TIMEOUT=1 rc "passwordeval sleep 2; printf 'Passphrase: ' >&2; read p; printf '%s\\n' \"\$p\""
	PTY_RUN_TIMEOUT=20 run "$PYTHON3" "$TESTS_SRCDIR/pty-run" "Passphrase:" \
	    "pw 1" "$POPFETCH" -C "$RC"
	assert_success
	assert_output --partial "1 message fetched"
}

@test "errors name the account once: a failing passwordeval, an incomplete account" {
	rc "passwordeval exit 3"
	run "$POPFETCH" -C "$RC"
	assert_failure 78
	assert_output "default: passwordeval command failed (exit 3)"
	printf 'account broken\nuser x\ndelivery maildir %s\n' "$MD" >>"$RC"
	run "$POPFETCH" -C "$RC" broken
	assert_failure 78
	assert_output --regexp "^broken: $RC:[0-9]+: no host set \(add 'host pop.example.com'\)$"
}
