#!/usr/bin/env bats
# terminal.bats -- nothing a server sends reaches the terminal unfiltered:
# the text of its malformed LIST and UIDL lines and -ERR replies in error
# messages, its CAPA under -S, its SASL list and every line of the --debug
# trace all go through termsafe() (src/termsafe.h).  Escape sequences
# (CSI, OSC 52's clipboard write, OSC 8's links), C1 controls as bytes and
# as UTF-8, and bidi overrides come out as \xHH, checked byte for byte.
# Transcripts are played by tests/popserver.py --script.

bats_require_minimum_version 1.5.0

load lib/common
load lib/popserver

teardown() {
	popserver_stop || true
}

rc() {
	popserver_rc "timeout 10" "auth user" "delivery maildir $MD" \
	    "uidls_file $TEST_TMP/uidls" "$@"
}

# run_popfetch [options] -- stdout and stderr apart, in a UTF-8 locale
# (where U+009B and U+202E would otherwise pass as text).  The error is
# the last line of stderr (after the warning that tls is off).
run_popfetch() {
	run --separate-stderr env LC_ALL=C.UTF-8 timeout -k 5 30 "$POPFETCH" \
	    -C "$RC" "$@"
}

# no_control TEXT -- TEXT holds no C0 control, DEL or byte over 0x7f.
no_control() {
	if printf '%s' "$1" | LC_ALL=C grep -q '[^ -~]'; then
		printf '%s' "$1" | od -c | head -20
		fail "a control or 8-bit byte reached the terminal"
	fi
}

# script_list LINE -- login, then a LIST whose one line is LINE (S-RAW
# escapes).
script_list() {
	{
		script_login
		printf '%s\n' 'C: LIST' 'S: +OK' "S-RAW: $1\\r\\n" 'S: .'
	} >"$SCRIPT"
}

@test "a LIST line with OSC 52 (clipboard write): quoted escaped, byte for byte" {
	script_list '1 \x1b]52;c;aGVsbG8=\x07'
	popserver_start --script "$SCRIPT" --log "$SLOG"
	rc
	run_popfetch
	assert_failure 76
	[ "${stderr##*$'\n'}" = 'default: bad message size in LIST line "1 \x1b]52;c;aGVsbG8=\x07" (not a number, or too large)' ]
	no_control "$stderr$output"
}

@test "a LIST line with OSC 8, a clear screen, C1 CSI and U+202E: quoted escaped" {
	script_list '\x1b]8;;http://evil/\x1b\\x\x1b[2J\x9b31m\xc2\x9b\xe2\x80\xae 1'
	popserver_start --script "$SCRIPT" --log "$SLOG"
	rc
	run_popfetch
	assert_failure 76
	[ "${stderr##*$'\n'}" = 'default: malformed LIST line from the server: "\x1b]8;;http://evil/\x1b\x\x1b[2J\x9b31m\xc2\x9b\xe2\x80\xae 1"' ]
	no_control "$stderr$output"
}

@test "a malformed UIDL line and a -ERR reply: quoted escaped" {
	{
		script_login
		printf '%s\n' 'C: LIST' 'S: +OK' 'S: 1 100' 'S: .' 'C: UIDL' \
		    'S: +OK' 'S-RAW: x\x1b]0;owned\x07 uid\r\n' 'S: .'
	} >"$SCRIPT"
	popserver_start --script "$SCRIPT" --log "$SLOG"
	rc
	run_popfetch
	assert_failure 76
	[ "${stderr##*$'\n'}" = 'default: malformed UIDL line from the server: "x\x1b]0;owned\x07 uid"' ]
	no_control "$stderr$output"

	{
		printf '%s\n' 'S: +OK ready' 'C: CAPA' 'S: +OK' 'S: USER' 'S: .' \
		    'C: USER test' 'S: +OK' 'C: PASS secret' \
		    'S-RAW: -ERR \x1b[2J\x9bH\xe2\x80\xae no\r\n'
	} >"$SCRIPT"
	popserver_stop
	popserver_start --script "$SCRIPT" --log "$SLOG"
	rc
	run_popfetch
	assert_failure 77
	[ "${stderr##*$'\n'}" = 'default: authentication failed for user test: the server rejected PASS: \x1b[2J\x9bH\xe2\x80\xae no' ]
	no_control "$stderr$output"
}

@test "-S with a hostile CAPA and greeting: 0x9b, U+009B, U+202E and ESC come out escaped" {
	{
		printf '%s\n' 'S-RAW: +OK hi\x1b]0;t\x07\r\n' 'C: CAPA' 'S: +OK' \
		    'S-RAW: IMPLEMENTATION a\x9bb\xc2\x9bc\xe2\x80\xaed\r\n' \
		    'S-RAW: SASL PLAIN\x1b]52;c;aGk=\x07\r\n' 'S: USER' 'S: .' \
		    'C: QUIT' 'S: +OK'
	} >"$SCRIPT"
	popserver_start --script "$SCRIPT" --log "$SLOG"
	rc
	run_popfetch -S
	assert_success
	assert_line 'Greeting: hi\x1b]0;t\x07'
	assert_line '  IMPLEMENTATION  a\x9bb\xc2\x9bc\xe2\x80\xaed'
	assert_line '  SASL            PLAIN\x1b]52;c;aGk=\x07'
	no_control "$stderr$output"
}

@test "--debug with a hostile SASL list: the trace and the auth auto line come out escaped" {
	{
		printf '%s\n' 'S: +OK ready' 'C: CAPA' 'S: +OK' \
		    'S-RAW: SASL X\x1b]52;c;aGk=\x07 \xc2\x9b\xe2\x80\xae\r\n' \
		    'S: USER' 'S: .' 'C: USER test' 'S: +OK' 'C: PASS secret' \
		    'S: -ERR [AUTH] no'
	} >"$SCRIPT"
	popserver_start --script "$SCRIPT" --log "$SLOG"
	popserver_rc "timeout 10" "delivery maildir $MD" \
	    "uidls_file $TEST_TMP/uidls"
	run_popfetch --debug
	assert_failure 77
	no_control "$stderr$output"
	[[ $stderr == *'default: debug: <- SASL X\x1b]52;c;aGk=\x07 \xc2\x9b\xe2\x80\xae'* ]]
	[[ $stderr == *'default: debug: auth auto: the server offers SASL X\x1b]52;c;aGk=\x07 \xc2\x9b\xe2\x80\xae, USER'* ]]
}
