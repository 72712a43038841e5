#!/usr/bin/env bats
# deadlines.bats -- a server that trickles or goes silent cannot hold a run,
# and SIGTERM/SIGINT/SIGHUP end any wait on the network at once.
#
# The rules (fetchrc(5), timeout): each line the server sends must arrive
# within `timeout` seconds, the whole TLS handshake too, and in every
# `timeout` seconds spent waiting for the server at least 1 KiB must come.
# The servers are transcripts played by tests/popserver.py --script; the
# account's timeout is 3 s, so every case ends within seconds.

load lib/common
load lib/popserver

setup() {
	STATE=$TEST_TMP/state/uidls
}

teardown() {
	[[ -n ${PF_PID:-} ]] && kill -KILL "$PF_PID" 2>/dev/null
	popserver_stop "${SECOND_PID:-}" || true
	popserver_stop || true
}

# rc [extra lines] -- a plain-TCP account, USER/PASS, timeout 3.
rc() {
	popserver_rc "timeout 3" "auth user" "delivery maildir $MD" \
	    "uidls_file $STATE" "received_header off" "$@"
}

# login_script -- greeting, CAPA, USER/PASS, LIST and UIDL of one message.
login_script() {
	{
		script_login
		cat <<-'EOS'
		C: LIST
		S: +OK
		S: 1 5000
		S: .
		C: UIDL
		S: +OK
		S: 1 uid-one
		S: .
		C: RETR 1
		EOS
	} >"$SCRIPT"
}

# trickle TEXT INTERVAL -- append script steps sending TEXT one byte each
# INTERVAL seconds (a TEXT of escapes like \r\n counts them as one byte).
trickle() {
	local text=$1 interval=$2 i c
	for ((i = 0; i < ${#text}; i++)); do
		c=${text:i:1}
		if [[ $c == '\' ]]; then
			c=${text:i:2}
			i=$((i + 1))
		fi
		printf 'S-RAW: %s\nSLEEP %s\n' "$c" "$interval" >>"$SCRIPT"
	done
}

# now_ms -- the time in milliseconds.
now_ms() {
	local t=${EPOCHREALTIME/[.,]/}
	echo $((t / 1000))
}

# timed_fetch [args] -- run popfetch under timeout 30; ELAPSED in ms, less
# what merely starting popfetch takes right now (popfetch -V): on a loaded
# machine a sanitizer build can take seconds to start, which is not the
# deadline under test.
timed_fetch() {
	local start startup
	start=$(now_ms)
	"$POPFETCH" -V >/dev/null 2>&1 || true
	startup=$(($(now_ms) - start))
	start=$(now_ms)
	run timeout 30 "$POPFETCH" -C "$RC" "$@"
	ELAPSED=$(($(now_ms) - start - startup))
}

# elapsed_below N -- ELAPSED < N seconds.
elapsed_below() {
	((ELAPSED < $1 * 1000)) || fail "took ${ELAPSED} ms, more than $1 s"
}

nothing_delivered() {
	[ "$(maildir_count "$MD")" -eq 0 ]
	[ ! -d "$MD/tmp" ] || [ -z "$(ls -A "$MD/tmp")" ]
}

@test "a greeting trickled one byte a second: 75 within about the timeout" {
	: >"$SCRIPT"
	trickle '+OK this greeting comes one byte at a time and never ends' 1
	popserver_start --script "$SCRIPT" --log "$SLOG"
	rc
	timed_fetch
	assert_failure 75
	assert_output --partial "default: timed out after 3 seconds waiting for the server"
	elapsed_below 6
}

@test "a status line trickled (a byte each 0.5 s, never a line end): 75 within about the timeout" {
	login_script
	trickle '+OK 5000 octets, and this status line goes on and on and on' 0.5
	popserver_start --script "$SCRIPT" --log "$SLOG"
	rc
	timed_fetch
	assert_failure 75
	assert_output --partial "timed out after 3 seconds"
	elapsed_below 6
	nothing_delivered
}

@test "a body trickled in short whole lines: 75 by the rate rule, nothing delivered or recorded" {
	login_script
	echo 'S: +OK 5000 octets' >>"$SCRIPT"
	# Each line completes in well under the timeout; the rate does not.
	local i
	for ((i = 0; i < 60; i++)); do
		printf 'S: line %d\nSLEEP 0.3\n' "$i" >>"$SCRIPT"
	done
	popserver_start --script "$SCRIPT" --log "$SLOG"
	rc
	timed_fetch
	assert_failure 75
	assert_output --partial "the server sent only"
	assert_output --partial "bytes in 3 seconds"
	elapsed_below 8
	nothing_delivered
	! grep -qsE '^[0-9]+ uid-one$' "$STATE" || false
	! grep -q '^C: \(DELE\|QUIT\)' "$SLOG" || false
}

@test "a slow but steady server (20 KB/s, longer than the timeout in all) is fetched whole" {
	login_script
	sed -i 's/^S: 1 5000$/S: 1 102400/' "$SCRIPT"
	echo 'S: +OK 102400 octets' >>"$SCRIPT"
	local line i j
	line=$(printf '%099d' 0)
	for ((i = 0; i < 50; i++)); do
		for ((j = 0; j < 20; j++)); do
			echo "S: $line" >>"$SCRIPT"
		done
		echo 'SLEEP 0.1' >>"$SCRIPT"
	done
	cat >>"$SCRIPT" <<-'EOS'
	S: .
	C: NOOP
	S: +OK
	C: QUIT
	S: +OK bye
	EOS
	popserver_start --script "$SCRIPT" --log "$SLOG"
	rc "keep on"
	timed_fetch
	assert_success
	[ "$(maildir_count "$MD")" -eq 1 ]
	[ "$(wc -c <"$(ls "$MD"/new/*)")" -eq 100000 ]
	((ELAPSED > 4000)) || fail "the transfer was not slow (${ELAPSED} ms)"
}

@test "a TLS handshake trickled byte by byte: 75 within about the timeout" {
	# A record header announcing 16 KiB, then its body a byte a second.
	: >"$SCRIPT"
	echo 'S-RAW: \x16\x03\x03\x40\x00' >>"$SCRIPT"
	local i
	for ((i = 0; i < 30; i++)); do
		printf 'S-RAW: \\x00\nSLEEP 0.5\n' >>"$SCRIPT"
	done
	popserver_start --script "$SCRIPT" --log "$SLOG"
	rc
	sed -i 's/^tls off$/tls on/' "$RC"
	timed_fetch
	assert_failure 75
	assert_output --partial "TLS handshake did not finish in time"
	elapsed_below 6
}

# start_bg -- popfetch in the background; PF_PID.
start_bg() {
	"$POPFETCH" -C "$RC" "$@" >"$TEST_TMP/out" 2>&1 &
	PF_PID=$!
}

# in_retr -- the server has got the RETR (and now stays silent, or
# trickles): popfetch is waiting for the message.
in_retr() {
	grep -q '^C: RETR' "$SLOG"
}

# retrs_served N -- the server has got N RETRs (so popfetch holds N - 1
# messages, received whole).
retrs_served() {
	(($(grep -c '^C: RETR' "$SLOG") >= $1))
}

# stop_bg SIGNAL [SECONDS] -- send SIGNAL, wait at most SECONDS (2); sets
# STATUS and ELAPSED.
stop_bg() {
	local start limit=${2:-2}
	kill -"$1" "$PF_PID"
	start=$(now_ms)
	while (($(now_ms) - start < limit * 1000)); do
		kill -0 "$PF_PID" 2>/dev/null || break
		sleep 0.05
	done
	ELAPSED=$(($(now_ms) - start))
	if kill -0 "$PF_PID" 2>/dev/null; then
		kill -KILL "$PF_PID"
		fail "popfetch still running $limit s after SIG$1"
	fi
	STATUS=0
	wait "$PF_PID" || STATUS=$?
	PF_PID=
}

@test "SIGTERM while the server is silent: exit 75 within 2 s, the lock free" {
	login_script
	echo 'SLEEP 60' >>"$SCRIPT"
	popserver_start --script "$SCRIPT" --log "$SLOG"
	# A long timeout: only the signal can end this wait.
	rc
	sed -i 's/^timeout 3$/timeout 600/' "$RC"
	start_bg
	wait_for 30 in_retr
	stop_bg TERM
	[ "$STATUS" -eq 75 ]
	grep -q "default: stopped by a signal" "$TEST_TMP/out"
	nothing_delivered
	# The lock is free: a second run gets past it to the server at once.
	timed_fetch -s
	refute_output --partial "already running"
}

@test "SIGINT while the server trickles a body: exit 75 within 2 s, nothing partial" {
	login_script
	echo 'S: +OK 5000 octets' >>"$SCRIPT"
	local i
	for ((i = 0; i < 600; i++)); do
		printf 'S: line %d\nSLEEP 0.2\n' "$i" >>"$SCRIPT"
	done
	popserver_start --script "$SCRIPT" --log "$SLOG"
	rc
	sed -i 's/^timeout 3$/timeout 600/' "$RC"
	start_bg
	wait_for 30 in_retr
	stop_bg INT
	[ "$STATUS" -eq 75 ]
	nothing_delivered
	! grep -qsE '^[0-9]+ uid-one$' "$STATE" || false
	! grep -q '^C: \(DELE\|QUIT\)' "$SLOG" || false
}

@test "SIGHUP ends a single run too (a daemon reloads instead)" {
	login_script
	echo 'SLEEP 60' >>"$SCRIPT"
	popserver_start --script "$SCRIPT" --log "$SLOG"
	rc
	sed -i 's/^timeout 3$/timeout 600/' "$RC"
	start_bg
	wait_for 30 in_retr
	stop_bg HUP
	[ "$STATUS" -eq 75 ]
}

@test "SIGTERM mid-fetch: what was delivered stays recorded; the next run fetches the rest once" {
	make_mailbox "$TEST_TMP/mb" 12
	cp -r "$TEST_TMP/mb" "$TEST_TMP/orig"
	popserver_start --mailbox "$TEST_TMP/mb" --retr-delay 400 --log "$SLOG"
	rc "keep on"
	sed -i 's/^timeout 3$/timeout 600/' "$RC"
	start_bg
	wait_for 30 retrs_served 4
	# It finishes the message under way and commits what it holds: the
	# disk may be slow on a busy machine.
	stop_bg TERM 10
	[ "$STATUS" -eq 75 ]
	local got
	got=$(maildir_count "$MD")
	[ "$got" -ge 1 ] && [ "$got" -lt 12 ]
	[ "$(grep -c '^[0-9]' "$STATE")" -eq "$got" ]
	run timeout 60 "$POPFETCH" -C "$RC"
	assert_success
	assert_output --partial "$((12 - got)) messages fetched"
	assert_maildir_matches "$TEST_TMP/orig" "$MD"
}

@test "-a: a trickling first account ends in 75; the second is still fetched" {
	: >"$SCRIPT"
	trickle '+OK never done' 1
	popserver_start --script "$SCRIPT" --log "$SLOG"
	SECOND_PID=$POPSERVER_PID
	local port1=$POPSERVER_PORT
	make_mailbox "$TEST_TMP/mb" 2
	popserver_start --mailbox "$TEST_TMP/mb"
	{
		echo "defaults"
		echo "tls off"
		echo "timeout 3"
		echo "user test"
		echo "password secret"
		echo "auth user"
		echo "account slow"
		echo "host 127.0.0.1"
		echo "port $port1"
		echo "delivery maildir $TEST_TMP/slow"
		echo "account good"
		echo "host 127.0.0.1"
		echo "port $POPSERVER_PORT"
		echo "delivery maildir $MD"
	} | write_fetchrc "$RC"
	timed_fetch -a
	assert_failure 75
	# Trickled at a byte a second, the line deadline and the rate rule
	# (1024 bytes per timeout) expire within a millisecond of each
	# other: either may be the one reported.
	assert_output --regexp "slow: (timed out after 3 seconds|the server sent only [0-9]+ bytes)"
	assert_output --partial "good: 2 messages fetched"
	elapsed_below 10
}
