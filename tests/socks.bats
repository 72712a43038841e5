#!/usr/bin/env bats
# socks.bats -- proxy_host/proxy_port: fetching through a real SOCKS5 proxy
# (microsocks, on 127.0.0.1) with TLS and STLS, and clear errors from a
# proxy that refuses, hangs up or answers garbage (tests/badsocks.py).

bats_require_minimum_version 1.5.0

load lib/common
load lib/popserver
load lib/certs

setup() {
	command -v microsocks >/dev/null ||
	    skip "microsocks is not installed (setup installs it)"
	CERTS=$BATS_RUN_TMPDIR/certs
	make_test_ca "$CERTS"
	PLOG=$TEST_TMP/proxy.log
	PROXY_PID=
}

teardown() {
	popserver_stop || true
	if [ -n "$PROXY_PID" ]; then
		kill "$PROXY_PID" 2>/dev/null || true
		wait "$PROXY_PID" 2>/dev/null || true
	fi
}

# listening PORT: true when something accepts on 127.0.0.1:PORT.
listening() {
	(exec 5<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# wait_port PORT: until something listens on 127.0.0.1:PORT (60 s at most).
wait_port() {
	wait_for 60 listening "$1" || {
		echo "nothing listens on port $1" >&2
		return 1
	}
}

# microsocks_start [flags]: a real SOCKS5 proxy on 127.0.0.1:$PROXY_PORT.
microsocks_start() {
	PROXY_PORT=$("$PYTHON3" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	microsocks -i 127.0.0.1 -p "$PROXY_PORT" "$@" >"$PLOG" 2>&1 3>&- &
	PROXY_PID=$!
	wait_port "$PROXY_PORT"
}

# badsocks_start MODE [flags]: the scripted proxy; its port in $PROXY_PORT.
badsocks_start() {
	rm -f "$TEST_TMP/proxy.port"
	"$PYTHON3" "$TESTS_SRCDIR/badsocks.py" --mode "$@" \
	    --port-file "$TEST_TMP/proxy.port" --log "$PLOG" \
	    </dev/null >/dev/null 2>&1 3>&- &
	PROXY_PID=$!
	wait_for 60 test -s "$TEST_TMP/proxy.port" ||
	    { echo "badsocks.py wrote no port file" >&2; return 1; }
	read -r PROXY_PORT <"$TEST_TMP/proxy.port"
}

# rc HOST PORT [lines]: an account through the proxy.
rc() {
	local host=$1 port=$2
	shift 2
	{
		printf 'account default\nhost %s\nport %s\n' "$host" "$port"
		printf 'proxy_host 127.0.0.1\nproxy_port %s\n' "$PROXY_PORT"
		printf 'user test\npassword secret\ntimeout 20\nreceived_header off\n'
		printf 'tls_trust_file %s\ndelivery maildir %s\n' \
		    "$CERTS/ca.pem" "$MD"
		printf '%s\n' "$@"
	} | write_fetchrc "$RC"
}

@test "through a real SOCKS5 proxy with implicit TLS: byte-exact" {
	make_mailbox "$MB" 5 20000
	popserver_start --mailbox "$MB" --log "$SLOG" --tls implicit \
	    --cert "$CERTS/server.pem" --key "$CERTS/server-key.pem"
	# The proxy's outgoing address tells the server it came through it.
	microsocks_start -b 127.0.0.4
	rc 127.0.0.1 "$POPSERVER_PORT"
	cp -r "$MB" "$TEST_TMP/sent"
	run "$POPFETCH" -C "$RC" -q
	assert_success
	assert_maildir_matches "$TEST_TMP/sent" "$MD"
	run grep '^PEER ' "$SLOG"
	assert_output "PEER 127.0.0.4"
}

@test "through a real SOCKS5 proxy with STLS" {
	make_mailbox "$MB" 3
	popserver_start --mailbox "$MB" --log "$SLOG" --tls starttls \
	    --cert "$CERTS/server.pem" --key "$CERTS/server-key.pem"
	microsocks_start -b 127.0.0.4
	rc 127.0.0.1 "$POPSERVER_PORT" "tls_starttls on"
	cp -r "$MB" "$TEST_TMP/sent"
	run "$POPFETCH" -C "$RC" -q
	assert_success
	assert_maildir_matches "$TEST_TMP/sent" "$MD"
	run grep -c '^C: STLS' "$SLOG"
	assert_output 1
	run grep '^PEER ' "$SLOG"
	assert_output "PEER 127.0.0.4"
}

@test "the server's name goes to the proxy unresolved (as Tor needs)" {
	badsocks_start refuse
	rc pop.example.invalid 995
	run "$POPFETCH" -C "$RC"
	assert_failure 75
	assert_output "default: SOCKS proxy 127.0.0.1:$PROXY_PORT cannot connect to pop.example.invalid port 995: connection refused"
	run cat "$PLOG"
	assert_output "REQUEST 3 pop.example.invalid 995"
}

@test "a proxy that hangs up, answers garbage or wants a login: clear errors" {
	badsocks_start close
	rc pop.example.invalid 995
	run "$POPFETCH" -C "$RC"
	assert_failure 75
	assert_output --partial "SOCKS proxy 127.0.0.1:$PROXY_PORT closed the connection during the handshake"
	wait "$PROXY_PID" || true

	badsocks_start garbage
	rc pop.example.invalid 995
	run "$POPFETCH" -C "$RC"
	assert_failure 76
	assert_output --partial "SOCKS proxy 127.0.0.1:$PROXY_PORT: not a SOCKS5 proxy"
	wait "$PROXY_PID" || true

	badsocks_start auth
	rc pop.example.invalid 995
	run "$POPFETCH" -C "$RC"
	assert_failure 69
	assert_output --partial "SOCKS proxy 127.0.0.1:$PROXY_PORT wants a login; set proxy_user and proxy_password"
	wait "$PROXY_PID" || true
	PROXY_PID=
}

@test "a proxy that answers each step just in time: the whole handshake ends within timeout" {
	# Three answers 2.5 s apart: each within 'timeout 3', all of them not.
	badsocks_start slow --delay 2.5
	rc pop.example.invalid 995 "timeout 3"
	local t0=$SECONDS
	run "$POPFETCH" -C "$RC"
	local took=$((SECONDS - t0))
	assert_failure 75
	assert_output "default: SOCKS proxy 127.0.0.1:$PROXY_PORT: the handshake did not finish within 3 seconds"
	# timeout 3 plus a margin; per-step deadlines took 7.5 s.
	[ "$took" -le 6 ] || fail "the handshake took $took s with timeout 3"
	kill "$PROXY_PID" 2>/dev/null || true
	wait "$PROXY_PID" || true
	PROXY_PID=
}

@test "SIGTERM during a slow SOCKS handshake: exit 75 at once" {
	badsocks_start slow --delay 20
	rc pop.example.invalid 995 "timeout 30"
	"$POPFETCH" -C "$RC" >"$TEST_TMP/out" 2>&1 3>&- &
	local pid=$! i ex=0 t0
	for i in $(seq 100); do
		grep -q '^GREETING$' "$PLOG" 2>/dev/null && break
		sleep 0.1
	done
	grep -q '^GREETING$' "$PLOG"
	t0=$SECONDS
	kill -TERM "$pid"
	for i in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid"
		fail "SIGTERM did not end the handshake within 10 s"
	fi
	wait "$pid" || ex=$?
	[ "$ex" -eq 75 ]
	[ $((SECONDS - t0)) -le 3 ]
	run cat "$TEST_TMP/out"
	assert_output --partial "stopped by a signal"
	kill "$PROXY_PID" 2>/dev/null || true
	wait "$PROXY_PID" || true
	PROXY_PID=
}

@test "SIGTERM while a proxy stalls in the middle of its CONNECT reply: exit 75 at once" {
	# The handshake waits on the transport's waits, so the stop flag ends
	# a read that has half of what it needs, not only one that has none.
	badsocks_start stall
	rc pop.example.invalid 995 "timeout 60"
	"$POPFETCH" -C "$RC" >"$TEST_TMP/out" 2>&1 3>&- &
	local pid=$! ex=0 t0
	wait_for 60 grep -qs '^STALLED$' "$PLOG" ||
	    fail "the proxy never got the CONNECT request"
	t0=$SECONDS
	kill -TERM "$pid"
	wait_for 10 eval "! kill -0 $pid 2>/dev/null" || {
		kill -KILL "$pid"
		fail "SIGTERM did not end the stalled handshake within 10 s"
	}
	wait "$pid" || ex=$?
	[ "$ex" -eq 75 ] || fail "exit $ex, not 75"
	[ $((SECONDS - t0)) -le 3 ] || fail "took $((SECONDS - t0)) s"
	run cat "$TEST_TMP/out"
	assert_output --partial "stopped by a signal"
	run cat "$PLOG"
	assert_line "REQUEST 3 pop.example.invalid 995"
	kill "$PROXY_PID" 2>/dev/null || true
	wait "$PROXY_PID" || true
	PROXY_PID=
}

@test "no proxy listening: a temporary failure naming the proxy" {
	PROXY_PORT=$("$PYTHON3" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	rc pop.example.invalid 995
	run "$POPFETCH" -C "$RC"
	assert_failure 75
	assert_output --partial "SOCKS proxy: cannot connect to 127.0.0.1:$PROXY_PORT"
}

@test "a proxy with a login (RFC 1929): byte-exact with the right one, 77 with a wrong one, 69 without" {
	make_mailbox "$MB" 3 5000
	popserver_start --mailbox "$MB" --log "$SLOG" --tls implicit \
	    --cert "$CERTS/server.pem" --key "$CERTS/server-key.pem"
	microsocks_start -b 127.0.0.4 -u proxyuser -P 'pr0xy s3cret'
	cp -r "$MB" "$TEST_TMP/sent"

	rc 127.0.0.1 "$POPSERVER_PORT"
	run "$POPFETCH" -C "$RC"
	assert_failure 69
	assert_output "default: SOCKS proxy 127.0.0.1:$PROXY_PORT wants a login; set proxy_user and proxy_password"

	rc 127.0.0.1 "$POPSERVER_PORT" "proxy_user proxyuser" \
	    "proxy_password wrong"
	run "$POPFETCH" -C "$RC"
	assert_failure 77
	assert_output "default: SOCKS proxy 127.0.0.1:$PROXY_PORT refused user proxyuser; check proxy_user and proxy_password"

	rc 127.0.0.1 "$POPSERVER_PORT" "proxy_user proxyuser" \
	    "proxy_password \"pr0xy s3cret\""
	run "$POPFETCH" -C "$RC" -v
	assert_success
	refute_output --partial "s3cret"
	assert_maildir_matches "$TEST_TMP/sent" "$MD"
	run grep '^PEER ' "$SLOG"
	assert_output "PEER 127.0.0.4"
}

@test "proxy_user without proxy_password is a configuration error" {
	PROXY_PORT=1080
	rc pop.example.invalid 995 "proxy_user someone"
	run "$POPFETCH" -C "$RC"
	assert_failure 78
	assert_output --partial "'proxy_user' and 'proxy_password' go together"
}

@test "a proxy_user or proxy_password over 255 bytes (RFC 1929) is a configuration error, before connecting" {
	# No proxy listens there: the error must come from the file.
	PROXY_PORT=$("$PYTHON3" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	local long
	long=$(printf 'u%.0s' $(seq 300))
	rc pop.example.invalid 995 "proxy_user $long" "proxy_password secret"
	run "$POPFETCH" -C "$RC"
	assert_failure 78
	assert_output --regexp "^popfetch: $RC:[0-9]+: 'proxy_user' is longer than 255 bytes"
	rc pop.example.invalid 995 "proxy_user someone" "proxy_password $long"
	run "$POPFETCH" -C "$RC"
	assert_failure 78
	assert_output --regexp "^popfetch: $RC:[0-9]+: 'proxy_password' is longer than 255 bytes"
	refute_output --partial "uuuu"
}
