#!/usr/bin/env bats
# capa-login.bats -- what the server lists and how the login goes: CAPA
# again after login (a proxy's short list before it), UTF8 (RFC 6856) and
# a server's stand-in for a message with UTF-8 headers, a named SASL
# mechanism the server does not list, a connection lost at a login step,
# the cleartext-password warning, -S showing every capability line.
# Protocol corners are transcripts played by tests/popserver.py --script.

load lib/common
load lib/popserver

setup() {
	OUT=$TEST_TMP/daemon.out
	DAEMON_PID=
}

teardown() {
	if [[ -n $DAEMON_PID ]]; then
		kill -KILL "$DAEMON_PID" 2>/dev/null || true
		wait "$DAEMON_PID" 2>/dev/null || true
	fi
	popserver_stop || true
}

# rc [extra lines] -- the test server's account, delivering to $MD.
rc() {
	popserver_rc "timeout 20" "delivery maildir $MD" "received_header off" \
	    "$@"
}

fetch() {
	run timeout 30 "$POPFETCH" -C "$RC" "$@"
}

# The client's commands, in order, from the --debug trace.
sent() {
	grep -o -- '-> [A-Z0-9]*' <<<"$output" | cut -c4-
}

@test "a proxy's short CAPA before login: CAPA again after it, whose PIPELINING, TOP and UIDL count" {
	make_mailbox "$MB" 3
	popserver_start --mailbox "$MB" --log "$SLOG" --pipelining \
	    --pre-login-capa "USER UIDL"
	rc "auth user" "keep on"
	# -l needs TOP, which only the list after login names.
	fetch -l
	assert_success
	grep -q '^C: TOP' "$SLOG"
	fetch --debug
	assert_success
	[ "$(maildir_count "$MD")" -eq 3 ]
	# Lock-step before login (the proxy's list has no PIPELINING), then
	# one CAPA on its own, then pipelined: the store's list decides.
	run sent
	assert_output --partial "$(printf 'USER\nPASS\nCAPA\nLIST\nUIDL\nRETR\nRETR\nRETR\nNOOP\nQUIT')"
	[ "$(grep -c '^C: CAPA' "$SLOG")" -eq 4 ]
}

@test "with PIPELINING before login, the CAPA after it rides with LIST and UIDL" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB" --pipelining
	rc "auth user"
	fetch --debug
	assert_success
	run grep -o -- '-> [A-Z]*\|<- [+-][A-Z]*' <<<"$output"
	assert_output --partial "$(printf -- '<- +OK\n<- +OK\n-> CAPA\n-> LIST\n-> UIDL\n<- +OK')"
}

@test "transcript: the CAPA after login replaces the list; a -ERR to it keeps the old one" {
	cat >"$SCRIPT" <<-'EOS'
	S: +OK proxy ready
	C: CAPA
	S: +OK
	S: USER
	S: .
	C: USER test
	S: +OK
	C: PASS secret
	S: +OK welcome
	C: CAPA
	S: +OK
	S: TOP
	S: UIDL
	S: USER
	S: PIPELINING
	S: EXPIRE NEVER
	S: .
	C: LIST
	C: UIDL
	S: +OK
	S: 1 120
	S: .
	S: +OK
	S: 1 uid-one
	S: .
	C: QUIT
	S: +OK bye
	CONNECTION
	S: +OK proxy ready
	C: CAPA
	S: +OK
	S: USER
	S: UIDL
	S: .
	C: USER test
	S: +OK
	C: PASS secret
	S: +OK welcome
	C: CAPA
	S: -ERR not here
	C: LIST
	S: +OK
	S: 1 120
	S: .
	C: UIDL
	S: +OK
	S: 1 uid-one
	S: .
	C: QUIT
	S: +OK bye
	EOS
	popserver_start --script "$SCRIPT" --log "$SLOG"
	rc "auth user"
	fetch -s
	assert_success
	fetch -s
	assert_success
	! grep -q MISMATCH "$SLOG" || false
}

@test "a named SASL mechanism the server does not list: 69 naming it and the offer, nothing sent" {
	popserver_start --mailbox "$MB" --log "$SLOG" --sasl "PLAIN"
	rc "auth cram-md5"
	fetch
	assert_failure 69
	assert_output --partial "the server does not offer CRAM-MD5 (its SASL mechanisms: PLAIN); nothing was sent"
	! grep -q '^C: \(AUTH\|USER\|PASS\|APOP\)' "$SLOG" || false
}

@test "a named SASL mechanism when CAPA lists no SASL line at all: 69, nothing sent" {
	popserver_start --mailbox "$MB" --log "$SLOG"
	rc "auth plain"
	fetch
	assert_failure 69
	assert_output --partial "the server does not offer PLAIN (its SASL mechanisms: none)"
	! grep -q '^C: \(AUTH\|USER\|PASS\|APOP\)' "$SLOG" || false
}

@test "a server without CAPA still gets a named mechanism (RFC 1734 predates CAPA)" {
	popserver_start --mailbox "$MB" --log "$SLOG" --no-capa --sasl PLAIN
	rc "auth plain"
	fetch
	assert_success
	grep -q '^C: AUTH PLAIN' "$SLOG"
}

@test "the server closes the connection after the password: 75, the step named" {
	{
		printf '%s\n' 'S: +OK ready' 'C: CAPA' 'S: +OK' 'S: USER' 'S: UIDL' \
		    'S: .' 'C: USER test' 'S: +OK' 'C: PASS secret' 'CLOSE'
	} >"$SCRIPT"
	popserver_start --script "$SCRIPT" --log "$SLOG"
	rc "auth user"
	fetch
	assert_failure 75
	assert_output --partial "the server closed the connection after the password (a proxy that drops pipelined commands, or an account the provider has locked)"
	! grep -q MISMATCH "$SLOG" || false
}

@test "the server closes the connection after the user name, after AUTH, during AUTH: 75, each named" {
	printf '%s\n' 'S: +OK ready' 'C: CAPA' 'S: +OK' 'S: USER' 'S: .' \
	    'C: USER test' 'CLOSE' >"$SCRIPT"
	popserver_start --script "$SCRIPT"
	rc "auth user"
	fetch
	assert_failure 75
	assert_output --partial "the server closed the connection after the user name"
	popserver_stop
	printf '%s\n' 'S: +OK ready' 'C: CAPA' 'S: +OK' 'S: SASL PLAIN LOGIN' \
	    'S: .' 'C: AUTH PLAIN .*' 'CLOSE' >"$SCRIPT"
	popserver_start --script "$SCRIPT"
	rc "auth plain"
	fetch
	assert_failure 75
	assert_output --partial "the server closed the connection after AUTH PLAIN"
	popserver_stop
	printf '%s\n' 'S: +OK ready' 'C: CAPA' 'S: +OK' 'S: SASL PLAIN LOGIN' \
	    'S: .' 'C: AUTH LOGIN' 'S: + VXNlcm5hbWU6' 'C: .*' 'CLOSE' >"$SCRIPT"
	popserver_start --script "$SCRIPT"
	rc "auth login"
	fetch
	assert_failure 75
	assert_output --partial "the server closed the connection during AUTH LOGIN"
}

@test "UTF8 listed: sent before login, messages as stored; -S shows it" {
	cat >"$SCRIPT" <<-'EOS'
	S: +OK ready
	C: CAPA
	S: +OK
	S: USER
	S: UIDL
	S: UTF8 USER
	S: .
	C: UTF8
	S: +OK UTF8 enabled
	C: USER test
	S: +OK
	C: PASS secret
	S: +OK
	C: CAPA
	S: +OK
	S: USER
	S: UIDL
	S: UTF8 USER
	S: .
	C: LIST
	S: +OK
	S: 1 60
	S: .
	C: UIDL
	S: +OK
	S: 1 uid-one
	S: .
	C: RETR 1
	S: +OK
	S: From: Jörg <jörg@example.org>
	S: Subject: Grüße
	S:
	S: body
	S: .
	C: NOOP
	S: +OK
	C: DELE 1
	S: +OK
	C: QUIT
	S: +OK bye
	CONNECTION
	S: +OK ready
	C: CAPA
	S: +OK
	S: USER
	S: UTF8 USER
	S: .
	C: UTF8
	S: +OK UTF8 enabled
	C: QUIT
	S: +OK
	EOS
	popserver_start --script "$SCRIPT" --log "$SLOG"
	rc "auth user"
	fetch
	assert_success
	[ "$(maildir_count "$MD")" -eq 1 ]
	grep -q 'Subject: Grüße' "$MD"/new/*
	run timeout 30 "$POPFETCH" -C "$RC" -S
	assert_success
	assert_line --regexp '^    UTF8 USER$'
	assert_line --regexp '^  UTF8 +popfetch sends UTF8, so messages with UTF-8 headers arrive as stored'
	! grep -q MISMATCH "$SLOG" || false
}

@test "no UTF8: Courier's 'Cannot display Unicode content' notice is neither delivered nor deleted" {
	script_login >"$SCRIPT"
	cat >>"$SCRIPT" <<-'EOS'
	C: LIST
	S: +OK
	S: 1 300
	S: 2 60
	S: .
	C: UIDL
	S: +OK
	S: 1 uid-one
	S: 2 uid-two
	S: .
	C: RETR 1
	S: +OK
	S: From: Mail Delivery Subsystem <postmaster>
	S: Subject: Cannot display Unicode content
	S: Mime-Version: 1.0
	S: Content-Type: multipart/mixed; boundary="b"
	S:
	S: --b
	S: Content-Type: text/plain
	S:
	S: This E-mail message was determined to be Unicode-formatted
	S: --b--
	S: .
	C: RETR 2
	S: +OK
	S: From: a@example.org
	S: Subject: plain
	S:
	S: body
	S: .
	C: NOOP
	S: +OK
	C: DELE 2
	S: +OK
	C: QUIT
	S: +OK bye
	EOS
	popserver_start --script "$SCRIPT" --log "$SLOG"
	rc "auth user"
	fetch
	assert_failure 76
	assert_output --partial "message 1: the server sent its \"Cannot display Unicode content\" notice in place of the message"
	assert_output --partial "the message stays on the server"
	[ "$(maildir_count "$MD")" -eq 1 ]
	! grep -q 'Cannot display' "$MD"/new/* || false
	! grep -q '^C: DELE 1' "$SLOG" || false
	! grep -q MISMATCH "$SLOG" || false
}

@test "tls off: no cleartext warning for APOP or CRAM-MD5, one for USER" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB" --sasl CRAM-MD5
	rc "auth apop" "keep on"
	fetch
	assert_success
	refute_output --partial "tls is off"
	rc "auth cram-md5" "keep on"
	fetch
	assert_success
	refute_output --partial "tls is off"
	rc "auth user" "keep on"
	fetch
	assert_success
	assert_output --partial "warning: tls is off: the password crosses the network unencrypted (USER)"
}

@test "tls off: the cleartext warning once per account in a daemon, not on every poll" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB" --log "$SLOG"
	rc "auth user" "keep on"
	"$POPFETCH" -C "$RC" --daemon 1s >"$OUT" 2>&1 3>&- &
	DAEMON_PID=$!
	local i
	for ((i = 0; i < 300; i++)); do
		[[ $(grep -c '^C: PASS' "$SLOG" 2>/dev/null) -ge 3 ]] && break
		sleep 0.1
	done
	[[ $(grep -c '^C: PASS' "$SLOG") -ge 3 ]]
	kill -TERM "$DAEMON_PID"
	wait "$DAEMON_PID" || true
	DAEMON_PID=
	[ "$(grep -c 'tls is off' "$OUT")" -eq 1 ]
}

@test "-S prints every capability line as sent, unknown and malformed ones too, made safe" {
	printf '%s\n' 'S: +OK ready' 'C: CAPA' 'S: +OK' 'S: USER' 'S: EXPIRENEVER' \
	    'S-RAW: X-EVIL \x1b]0;title\x07\r\n' 'S: .' 'C: QUIT' 'S: +OK' >"$SCRIPT"
	popserver_start --script "$SCRIPT"
	rc
	run timeout 30 "$POPFETCH" -C "$RC" -S
	assert_success
	assert_line "    EXPIRENEVER    (not known to popfetch)"
	assert_line "    X-EVIL \\x1b]0;title\\x07    (not known to popfetch)"
	assert_line --regexp '^  USER +login with USER and PASS$'
	[[ $output != *$'\x1b'* ]]
}
