#!/usr/bin/env bats
# password.bats -- where the password comes from, in order: password,
# passwordeval, ~/.netrc, a prompt on the terminal; and which one wins.

load lib/common
load lib/popserver

setup() {
	MB=$TEST_TMP/mailbox
	MD=$TEST_TMP/Maildir
	RC=$TEST_TMP/fetchrc
	SLOG=$TEST_TMP/server.log
	mkdir -p "$MB"
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
		echo "timeout 10"
		echo "user test"
		echo "delivery maildir $MD"
		echo "uidls_file $TEST_TMP/state"
		for l in "$@"; do echo "$l"; done
	} | write_fetchrc "$RC"
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

@test "a passwordeval that never prints: stopped after the account's timeout (75), with what it started" {
	rc "passwordeval sleep 300 & sleep 300"
	sed -i 's/^timeout 10$/timeout 2/' "$RC"
	local start=$SECONDS
	run timeout 30 "$POPFETCH" -C "$RC" </dev/null
	assert_failure 75
	assert_output --partial "default: passwordeval command printed no password within 2 seconds"
	((SECONDS - start < 6))
	! grep -q '^C: PASS' "$SLOG"
	# Neither sleep outlived it (the command's process group was killed).
	sleep 0.5
	! pgrep -f '^sleep 300$' >/dev/null
}

@test "a slow passwordeval within the timeout is waited for" {
	rc "passwordeval sleep 1; echo 'pw 1'"
	sed -i 's/^timeout 10$/timeout 3/' "$RC"
	fetch
	assert_success
	[ "$(maildir_count "$MD")" -eq 1 ]
}
