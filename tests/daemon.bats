#!/usr/bin/env bats
# daemon.bats -- runs that survive cron, flaky links and each other:
# --daemon, --retry, lock_wait, keep DAYS, temporary failures.

BATS_TEST_TIMEOUT=60
load lib/common
load lib/popserver

setup() {
	OUT=$TEST_TMP/daemon.out
	DAEMON_PID=
	LISTEN_PID=
}

teardown() {
	if [[ -n $DAEMON_PID ]]; then
		kill -KILL "$DAEMON_PID" 2>/dev/null || true
		wait "$DAEMON_PID" 2>/dev/null || true
	fi
	if [[ -n $LISTEN_PID ]]; then
		kill "$LISTEN_PID" 2>/dev/null || true
		wait "$LISTEN_PID" 2>/dev/null || true
	fi
	if [[ -n ${HOLDER_PID:-} ]]; then
		kill "$HOLDER_PID" 2>/dev/null || true
		wait "$HOLDER_PID" 2>/dev/null || true
	fi
	popserver_stop || true
}

rc() {
	popserver_rc "timeout 5" "delivery maildir $MD" \
	    "uidls_file $TEST_TMP/state" \
	    "received_header off" "$@"	# byte-for-byte comparisons
}


count_is() {
	[[ $(maildir_count "$MD") -eq $1 ]]
}

daemon_start() {
	"$POPFETCH" -C "$RC" "$@" >"$OUT" 2>&1 3>&- &
	DAEMON_PID=$!
}

# Stop with SIGTERM; it must be gone within 10 s with status 0.
daemon_stop() {
	kill -TERM "$DAEMON_PID"
	local ex=0
	wait_for 30 eval '! kill -0 "$DAEMON_PID" 2>/dev/null'
	wait "$DAEMON_PID" || ex=$?
	DAEMON_PID=
	[[ $ex -eq 0 ]] || { cat "$OUT"; echo "daemon exit $ex"; return 1; }
}

@test "--daemon fetches mail that arrives between polls, stops on SIGTERM" {
	make_mailbox "$TEST_TMP/first" 2
	make_mailbox "$TEST_TMP/second" 3
	cp "$TEST_TMP/first"/* "$MB/"
	popserver_start --mailbox "$MB"
	rc
	daemon_start --daemon 1s
	wait_for 30 count_is 2
	for f in "$TEST_TMP/second"/*; do cp "$f" "$MB/new-$(basename "$f")"; done
	wait_for 30 count_is 5
	daemon_stop
	mkdir -p "$TEST_TMP/all"
	cp "$TEST_TMP/first"/* "$TEST_TMP/all/"
	for f in "$TEST_TMP/second"/*; do cp "$f" "$TEST_TMP/all/new-$(basename "$f")"; done
	assert_maildir_matches "$TEST_TMP/all" "$MD"
	[[ $(server_count) -eq 0 ]]
	run cat "$OUT"
	assert_output --partial "polling 1 account every 1 s"
	assert_output --partial "stopping"
	refute_output --partial "no new messages"
}

@test "--daemon backs off on a temporary failure, says it once, logs the recovery" {
	make_mailbox "$MB" 2
	cp -r "$MB" "$TEST_TMP/orig"
	# The first three sessions are cut: waits of 1, 2 and 4 s follow.
	popserver_start --mailbox "$MB" --log "$TEST_TMP/slog" \
	    --cut-before-reply 1 --fault-sessions 3
	rc
	daemon_start --daemon 1s
	wait_for 30 count_is 2
	daemon_stop
	assert_maildir_matches "$TEST_TMP/orig" "$MD"
	run grep -c "connection" "$OUT"
	assert_output 1
	run cat "$OUT"
	assert_output --partial "will keep trying"
	assert_output --partial "default: working again"
	# Backoff, not a poll a second: the connections are spread out.
	run grep -c '^CONNECT' "$TEST_TMP/slog"
	[[ $output -ge 4 && $output -le 6 ]]
}

@test "--daemon re-reads the configuration on SIGHUP" {
	make_mailbox "$TEST_TMP/first" 1
	make_mailbox "$TEST_TMP/second" 1
	cp "$TEST_TMP/first"/* "$MB/"
	popserver_start --mailbox "$MB"
	rc
	daemon_start --daemon 1s
	wait_for 30 count_is 1
	MD_OLD=$MD
	MD=$TEST_TMP/Other
	rc
	kill -HUP "$DAEMON_PID"
	wait_for 30 grep -q "configuration re-read" "$OUT"
	cp "$TEST_TMP/second"/* "$MB/x-second"
	wait_for 30 count_is 1
	daemon_stop
	assert_maildir_matches "$TEST_TMP/second" "$MD"
	assert_maildir_matches "$TEST_TMP/first" "$MD_OLD"
}

@test "--daemon with a broken configuration does not start (78)" {
	echo "account default" | write_fetchrc "$RC"
	run "$POPFETCH" -C "$RC" --daemon 1s
	assert_failure 78
}

@test "--daemon and --retry reject bad values (64)" {
	run "$POPFETCH" --daemon 0s
	assert_failure 64
	assert_output --partial "invalid interval"
	run "$POPFETCH" --daemon 5x
	assert_failure 64
	run "$POPFETCH" --retry -1
	assert_failure 64
	run "$POPFETCH" --retry 1 --daemon 5m
	assert_failure 64
}

@test "--retry N tries a temporary failure again with backoff" {
	make_mailbox "$MB" 2
	cp -r "$MB" "$TEST_TMP/orig"
	popserver_start --mailbox "$MB" --cut-after 3 --fault-sessions 2
	rc
	run "$POPFETCH" -C "$RC" --retry 2
	assert_success
	assert_output --partial "trying again in 1 s (1 of 2)"
	assert_output --partial "trying again in 2 s (2 of 2)"
	assert_output --partial "2 messages fetched"
	assert_maildir_matches "$TEST_TMP/orig" "$MD"
}

@test "--retry gives up after N tries with 75; permanent failures are not retried" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB" --cut-after 3 --fault-sessions 5
	rc
	run "$POPFETCH" -C "$RC" --retry 1
	assert_failure 75
	run grep -c "trying again" <<<"$output"
	assert_output 1
	popserver_stop
	popserver_start --mailbox "$MB" --password other
	rc
	run "$POPFETCH" -C "$RC" --retry 3
	assert_failure 77
	refute_output --partial "trying again"
}

@test "a second run waits lock_wait seconds, then exits 75 'already running'" {
	popserver_start --mailbox "$MB"
	rc "lock_wait 1"
	mkdir -p "$TEST_TMP"
	: >"$TEST_TMP/state.lock"
	# The sleep itself holds the lock, so killing it frees the lock.
	(exec 9>"$TEST_TMP/state.lock" 3>&- && flock 9 && exec sleep 30) &
	HOLDER_PID=$!
	wait_for 30 eval '! flock -n "$TEST_TMP/state.lock" true'
	local t0=$SECONDS
	run "$POPFETCH" -C "$RC"
	assert_failure 75
	assert_output --partial "already running"
	(( SECONDS - t0 <= 4 ))
	kill "$HOLDER_PID"
	wait "$HOLDER_PID" 2>/dev/null || true
	HOLDER_PID=
	run "$POPFETCH" -C "$RC"
	assert_success
}

@test "keep 14d deletes a message 14 days after its first delivery, not before" {
	make_mailbox "$MB" 3
	cp -r "$MB" "$TEST_TMP/orig"
	popserver_start --mailbox "$MB" --log "$TEST_TMP/slog"
	rc "keep 14d"
	run "$POPFETCH" -C "$RC"
	assert_success
	assert_output --partial "3 messages fetched"
	[[ $(server_count) -eq 3 ]]
	# Age two of them: one 15 days, one 13 days.
	local now=$(date +%s)
	sed -i -e "s/^[0-9]* msg-00001\$/$((now - 15 * 86400)) msg-00001/" \
	    -e "s/^[0-9]* msg-00002\$/$((now - 13 * 86400)) msg-00002/" \
	    "$TEST_TMP/state"
	run "$POPFETCH" -C "$RC"
	assert_success
	assert_output --partial "1 deleted"
	[[ ! -e $MB/msg-00001 && -e $MB/msg-00002 && -e $MB/msg-00003 ]]
	# The first-seen times survive the rewrite at the end of the run.
	run grep -c "^$((now - 13 * 86400)) msg-00002\$" "$TEST_TMP/state"
	assert_output 1
	assert_maildir_matches "$TEST_TMP/orig" "$MD"
}

@test "a server that stops answering mid-message: timeout, 75, nothing lost" {
	make_mailbox "$MB" 3
	cp -r "$MB" "$TEST_TMP/orig"
	popserver_start --mailbox "$MB" --hang-in-retr 2
	rc
	sed -i 's/^timeout .*/timeout 1/' "$RC"
	local t0=$SECONDS
	run "$POPFETCH" -C "$RC"
	assert_failure 75
	(( SECONDS - t0 <= 5 ))
	[[ $(server_count) -eq 3 ]]
	run "$POPFETCH" -C "$RC"
	assert_success
	assert_maildir_matches "$TEST_TMP/orig" "$MD"
	[[ $(server_count) -eq 0 ]]
}

@test "[LOGIN-DELAY] is a temporary failure (75)" {
	popserver_start --mailbox "$MB" --auth-fail-code LOGIN-DELAY
	rc
	run "$POPFETCH" -C "$RC"
	assert_failure 75
	assert_output --partial "LOGIN-DELAY"
	[[ $(grep -c . <<<"$output") -le 2 ]]
}

@test "an unknown host name: exit 75 or 68 with one line" {
	popserver_start --mailbox "$MB"
	rc
	sed -i 's/^host .*/host no-such-host.invalid/' "$RC"
	run "$POPFETCH" -q -C "$RC"
	[[ $status -eq 75 || $status -eq 68 ]]
	[[ $(grep -c . <<<"$output") -eq 1 ]]
}

# add_other [LINE...] -- a second account, "other", on the same server in
# keep mode, with its own maildir ($TEST_TMP/Other) and state.
add_other() {
	local l
	{
		echo "account other"
		echo "host 127.0.0.1"
		echo "port $POPSERVER_PORT"
		echo "tls off"
		echo "user test"
		echo "password secret"
		echo "keep on"
		echo "delivery maildir $TEST_TMP/Other"
		echo "uidls_file $TEST_TMP/state-other"
		for l in "$@"; do echo "$l"; done
	} >>"$RC"
}

# dgram_listen SOCKET FILE -- a datagram socket whose messages go to FILE,
# one a line (newlines inside a message become spaces); LISTEN_PID.
dgram_listen() {
	"$PYTHON3" - "$1" "$2" <<-'PY' &
	import os, socket, sys
	s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
	s.bind(sys.argv[1])
	with open(sys.argv[2], "ab", buffering=0) as out:
	    while True:
	        m = s.recv(65536).rstrip(b"\0\n").replace(b"\n", b" ")
	        out.write(m + b"\n")
	PY
	LISTEN_PID=$!
	wait_for 30 test -S "$1"
}

# syslog_listen FILE -- a private /dev/log for the commands run with
# in_syslog_ns, its messages in FILE.
syslog_listen() {
	SYSLOG_DIR=$TEST_TMP/dev
	mkdir -p "$SYSLOG_DIR"
	dgram_listen "$SYSLOG_DIR/log" "$1"
	SYSLOG_PID=$LISTEN_PID
}

# in_syslog_ns CMD... -- CMD in a mount namespace whose /dev is a copy of
# the real one with SYSLOG_DIR/log as /dev/log (the machine's is untouched).
# Run it in the background (&): it execs, so that $! is CMD itself.
in_syslog_ns() {
	exec unshare -m --propagation private sh -c '
		d=$1; shift
		for n in null zero full random urandom tty; do
			[ -e /dev/$n ] || continue
			: >"$d/$n" && mount --bind /dev/$n "$d/$n" || exit 1
		done
		mount --bind "$d" /dev || exit 1
		exec "$@"' sh "$SYSLOG_DIR" "$@"
}

@test "--daemon: each account's logfile and syslog get its summary line, as a single run's do" {
	if [[ $(id -u) -ne 0 ]]; then
		skip "needs root for a private /dev/log (unshare -m)"
	fi
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB"
	rc "logfile $TEST_TMP/default.log" "syslog mail" "keep on"
	add_other "logfile $TEST_TMP/other.log"
	syslog_listen "$TEST_TMP/syslog"
	in_syslog_ns "$POPFETCH" -C "$RC" --daemon 1s -a >"$OUT" 2>&1 3>&- &
	DAEMON_PID=$!
	wait_for 30 grep -q "default: 1 message fetched" "$TEST_TMP/default.log"
	wait_for 30 grep -q "other: 1 message fetched" "$TEST_TMP/other.log"
	wait_for 30 grep -q "popfetch.*default: 1 message fetched" "$TEST_TMP/syslog"
	# A poll without news writes nothing: still one summary line each
	# after a few more polls.
	sleep 2.5
	daemon_stop
	kill "$SYSLOG_PID" 2>/dev/null || true
	[ "$(grep -c 'message fetched\|no new messages' "$TEST_TMP/default.log")" -eq 1 ]
	[ "$(grep -c 'message fetched\|no new messages' "$TEST_TMP/other.log")" -eq 1 ]
	# Each account's lines go to its own file only.
	! grep -q "other:" "$TEST_TMP/default.log" || false
	! grep -q "default:" "$TEST_TMP/other.log" || false
	# syslog is only the default account's.
	! grep -q "other: 1 message" "$TEST_TMP/syslog" || false
}

@test "--daemon -j 2: the due accounts are polled at once, each in its own process" {
	make_mailbox "$MB" 1
	# Each RETR takes 1.5 s: one after the other, the second session
	# would start after the first one's QUIT.
	popserver_start --mailbox "$MB" --log "$TEST_TMP/slog" --retr-delay 1500
	rc "keep on"
	add_other
	daemon_start --daemon 1h -a -j 2
	wait_for 30 count_is 1
	wait_for 30 eval '[ "$(maildir_count "$TEST_TMP/Other")" -eq 1 ]'
	daemon_stop
	# Both sessions began before either ended.
	run awk '/CONNECT$/ { c++ } /C: QUIT/ { if (c < 2) exit 1; exit 0 }' "$TEST_TMP/slog"
	assert_success
}

@test "--daemon under systemd (Type=notify): READY, STATUS, watchdog pings, STOPPING" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB"
	rc
	dgram_listen "$TEST_TMP/notify" "$TEST_TMP/notes"
	NOTIFY_SOCKET=$TEST_TMP/notify WATCHDOG_USEC=400000 \
		daemon_start --daemon 1h
	wait_for 30 count_is 1
	wait_for 30 grep -q '^READY=1$' "$TEST_TMP/notes"
	wait_for 30 grep -q '^STATUS=last poll [0-9:]*: 1 account, 0 failing$' "$TEST_TMP/notes"
	# Every 0.2 s, also while nothing else happens.
	sleep 1.5
	[ "$(grep -c '^WATCHDOG=1$' "$TEST_TMP/notes")" -ge 4 ]
	daemon_stop
	wait_for 30 grep -q '^STOPPING=1$' "$TEST_TMP/notes"
	kill "$LISTEN_PID" 2>/dev/null || true
	# A watchdog meant for another process is not fed.
	dgram_listen "$TEST_TMP/notify2" "$TEST_TMP/notes2"
	NOTIFY_SOCKET=$TEST_TMP/notify2 WATCHDOG_USEC=400000 WATCHDOG_PID=1 \
		daemon_start --daemon 1h
	wait_for 30 grep -q '^READY=1$' "$TEST_TMP/notes2"
	sleep 1
	daemon_stop
	kill "$LISTEN_PID" 2>/dev/null || true
	! grep -q WATCHDOG "$TEST_TMP/notes2" || false
}

# cpu_ticks PID -- user + system CPU time of PID so far, in clock ticks.
cpu_ticks() {
	local stat
	stat=$(cat "/proc/$1/stat")
	stat=${stat##*) }	# the fields after "pid (comm) "
	set -- $stat
	echo $((${12} + ${13}))
}

@test "--daemon: a NOTIFY_SOCKET nobody reads never blocks it; it keeps polling and stops on SIGTERM" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB" --log "$SLOG"
	rc
	# Bound, never read: its queue (net.unix.max_dgram_qlen, 10 or so)
	# is full after the first second of pings.
	"$PYTHON3" -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
time.sleep(120)' "$TEST_TMP/deaf" 3>&- &
	LISTEN_PID=$!
	wait_for 5 test -S "$TEST_TMP/deaf"
	NOTIFY_SOCKET=$TEST_TMP/deaf WATCHDOG_USEC=200000 \
		daemon_start --daemon 1s
	wait_for 10 count_is 1
	# Six polls: dozens of pings and status lines past a full queue.
	wait_for 30 eval '[ "$(grep -c "^CONNECT" "$SLOG")" -ge 6 ]'
	daemon_stop
	kill "$LISTEN_PID" 2>/dev/null || true
	wait "$LISTEN_PID" 2>/dev/null || true
}

@test "--daemon: WATCHDOG_USEC=1 does not spin a core; pings are clamped to every 100 ms" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB"
	rc
	dgram_listen "$TEST_TMP/notify" "$TEST_TMP/notes"
	NOTIFY_SOCKET=$TEST_TMP/notify WATCHDOG_USEC=1 \
		daemon_start --daemon 1h
	wait_for 10 count_is 1
	wait_for 5 grep -q '^READY=1$' "$TEST_TMP/notes"
	local t0 c0 c1 pings
	c0=$(cpu_ticks "$DAEMON_PID")
	t0=$(grep -c '^WATCHDOG=1$' "$TEST_TMP/notes" || true)
	sleep 3
	c1=$(cpu_ticks "$DAEMON_PID")
	pings=$(( $(grep -c '^WATCHDOG=1$' "$TEST_TMP/notes" || true) - t0 ))
	daemon_stop
	kill "$LISTEN_PID" 2>/dev/null || true
	# Idle for 3 s: well under half a second of CPU (a 1 us timer spun
	# the whole time), and about 30 pings, not thousands.
	local hz
	hz=$(getconf CLK_TCK)
	[ $((c1 - c0)) -lt $((hz / 2)) ] ||
		fail "the idle daemon used $((c1 - c0)) ticks of CPU in 3 s"
	[ "$pings" -ge 5 ] && [ "$pings" -le 60 ] ||
		fail "$pings watchdog pings in 3 s"
}

# In a private network namespace (unshare -n; the machine's network is
# never touched): the loopback link goes down, the first poll fails, then
# the link comes back -- the daemon polls within seconds, not in an hour.
@test "--daemon: when the network comes back (rtnetlink), the waiting account is polled at once" {
	if [[ $(id -u) -ne 0 ]] || ! command -v ip >/dev/null; then
		skip "needs root and ip(8) for a private network namespace"
	fi
	make_mailbox "$MB" 1
	rc
	sed -i 's/^port .*/port 20110/' "$RC"
	cat >"$TEST_TMP/netns.sh" <<-EOF
	ip link set lo up || exit 1
	"$PYTHON3" "$TESTS_SRCDIR/popserver.py" --mailbox "$MB" --port 20110 \\
		--log "$TEST_TMP/slog" >"$TEST_TMP/server.out" 2>&1 &
	server=\$!
	# Each wait bounded in wall-clock seconds, not turns.
	end=\$((SECONDS + 60))
	while [ \$SECONDS -le \$end ]; do grep -q . "$TEST_TMP/slog" 2>/dev/null && break;
		(exec 3<>/dev/tcp/127.0.0.1/20110) 2>/dev/null && break; sleep 0.1; done
	ip link set lo down
	"$POPFETCH" -C "$RC" -v --daemon 1h >"$OUT" 2>&1 &
	daemon=\$!
	# The first poll fails: the network is unreachable.
	end=\$((SECONDS + 30))
	while [ \$SECONDS -le \$end ]; do grep -q "will keep trying" "$OUT" && break; sleep 0.1; done
	date +%s >"$TEST_TMP/up-at"
	ip link set lo up
	end=\$((SECONDS + 30))
	while [ \$SECONDS -le \$end ]; do
		[ "\$(find "$MD/new" -type f 2>/dev/null | wc -l)" -ge 1 ] && break
		sleep 0.1
	done
	date +%s >"$TEST_TMP/fetched-at"
	kill -TERM \$daemon; wait \$daemon
	kill \$server; wait \$server
	EOF
	run timeout 60 unshare -n bash "$TEST_TMP/netns.sh"
	cat "$OUT"
	assert_success
	[ "$(maildir_count "$MD")" -eq 1 ]
	run cat "$OUT"
	assert_output --partial "will keep trying"
	assert_output --partial "the network changed: polling 1 account"
	# Within seconds (debounced by 2 s), not the hour the timer says.
	(( $(cat "$TEST_TMP/fetched-at") - $(cat "$TEST_TMP/up-at") <= 10 ))
}

@test "--daemon -v: one line per account and poll, also without news" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB"
	rc
	daemon_start --daemon 1s -v
	wait_for 30 count_is 1
	wait_for 30 grep -q "default: no new messages" "$OUT"
	daemon_stop
}

# two_logs JOBS -- account "other" (wrong password: it fails) written
# before "default", each with its own logfile; the daemon runs with -j JOBS.
two_logs() {
	: | write_fetchrc "$RC"
	add_other "password wrong" "logfile $TEST_TMP/other.log"
	popserver_account "timeout 5" "delivery maildir $MD" \
	    "uidls_file $TEST_TMP/state" "logfile $TEST_TMP/default.log" \
	    >>"$RC"
	daemon_start --daemon 1s -a -j "$1"
	wait_for 20 grep -q "default: 1 message fetched" "$TEST_TMP/default.log"
	wait_for 20 grep -q "other: .*auth\|other: .*password\|other: .*login" \
	    "$TEST_TMP/other.log"
	daemon_stop
	# The failure is in other's file, and only there.
	! grep -q "other:" "$TEST_TMP/default.log" || false
	! grep -q "default:" "$TEST_TMP/other.log" || false
	[ "$(grep -c 'other:' "$OUT")" -ge 1 ]
	# The daemon's own lines go to both.
	grep -q "popfetch: polling 2 accounts" "$TEST_TMP/default.log"
	grep -q "popfetch: polling 2 accounts" "$TEST_TMP/other.log"
	grep -q "popfetch: stopping" "$TEST_TMP/default.log"
	grep -q "popfetch: stopping" "$TEST_TMP/other.log"
}

@test "--daemon: an account's failure goes to its own logfile, not the last one fetched (-j 1)" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB"
	two_logs 1
}

@test "--daemon -j 2: an account's failure goes to its own logfile, the daemon's lines to each" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB"
	two_logs 2
}

@test "--daemon: a logfile logrotate renamed is reopened, at the next poll and on SIGHUP" {
	make_mailbox "$TEST_TMP/first" 1
	make_mailbox "$TEST_TMP/second" 1
	cp "$TEST_TMP/first"/* "$MB/"
	popserver_start --mailbox "$MB"
	rc "logfile $TEST_TMP/default.log"
	daemon_start --daemon 1s
	wait_for 20 grep -q "default: 1 message fetched" "$TEST_TMP/default.log"
	mv "$TEST_TMP/default.log" "$TEST_TMP/default.log.1"
	kill -HUP "$DAEMON_PID"
	wait_for 20 grep -q "popfetch: configuration re-read" "$TEST_TMP/default.log"
	cp "$TEST_TMP/second"/* "$MB/x-second"
	wait_for 20 grep -q "default: 1 message fetched" "$TEST_TMP/default.log"
	daemon_stop
	grep -q "popfetch: stopping" "$TEST_TMP/default.log"
	# Nothing went on into the renamed file.
	! grep -q "re-read\|stopping" "$TEST_TMP/default.log.1" || false
	[ "$(grep -c 'message fetched' "$TEST_TMP/default.log.1")" -eq 1 ]
}

# passes N -- the server saw at least N logins.
passes() {
	[[ $(grep -c '^C: PASS' "$TEST_TMP/slog" 2>/dev/null) -ge $1 ]]
}

@test "--daemon: per-connection warnings once per account and change, not at every poll" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB" --log "$TEST_TMP/slog"
	rc "auth user" "keep on" "logfile $TEST_TMP/default.log"
	add_other "auth user"
	daemon_start --daemon 1s -a
	wait_for 30 passes 6
	# Once for each account, on the terminal and in the logfile.
	[ "$(grep -c 'default: warning: tls is off' "$OUT")" -eq 1 ]
	[ "$(grep -c 'other: warning: tls is off' "$OUT")" -eq 1 ]
	[ "$(grep -c 'tls is off' "$TEST_TMP/default.log")" -eq 1 ]
	# A re-read that changes nothing says nothing again ...
	kill -HUP "$DAEMON_PID"
	wait_for 20 grep -q "configuration re-read" "$OUT"
	local n
	n=$(grep -c '^C: PASS' "$TEST_TMP/slog")
	wait_for 30 passes $((n + 4))
	[ "$(grep -c 'default: warning: tls is off' "$OUT")" -eq 1 ]
	# ... one that changes the account says it once more, for it alone.
	sed -i 's/^timeout 5$/timeout 6/' "$RC"
	kill -HUP "$DAEMON_PID"
	wait_for 20 eval '[ "$(grep -c "configuration re-read" "$OUT")" -eq 2 ]'
	n=$(grep -c '^C: PASS' "$TEST_TMP/slog")
	wait_for 30 passes $((n + 4))
	daemon_stop
	[ "$(grep -c 'default: warning: tls is off' "$OUT")" -eq 2 ]
	[ "$(grep -c 'other: warning: tls is off' "$OUT")" -eq 1 ]
}

@test "--daemon: the connection's address goes away mid-fetch: dropped at once, fetched again on the new network, each message once" {
	if [[ $(id -u) -ne 0 ]] || ! command -v ip >/dev/null; then
		skip "needs root and ip(8) for a private network namespace"
	fi
	make_mailbox "$MB" 5
	cp -r "$MB" "$TEST_TMP/orig"
	# The server on loopback (popserver.py binds nothing else), popfetch
	# bound to an address of a veth link: the one that goes away.
	rc "source_ip 10.9.0.1"
	sed -i 's/^port .*/port 20110/; s/^timeout .*/timeout 60/' "$RC"
	cat >"$TEST_TMP/netns.sh" <<-EOF
	trap 'kill \$daemon \$server 2>/dev/null' EXIT TERM
	ip link set lo up || exit 1
	ip link add veth0 type veth peer name veth1 || exit 1
	ip link set veth0 up && ip link set veth1 up || exit 1
	ip addr add 10.9.0.1/24 dev veth0 || exit 1
	# The first session goes silent halfway through the third RETR.
	"$PYTHON3" "$TESTS_SRCDIR/popserver.py" --mailbox "$MB" --port 20110 \\
		--port-file "$TEST_TMP/portfile" --hang-in-retr 3 \\
		--log "$TEST_TMP/slog" >"$TEST_TMP/server.out" 2>&1 &
	server=\$!
	for i in \$(seq 600); do [ -s "$TEST_TMP/portfile" ] && break; sleep 0.1; done
	"$POPFETCH" -C "$RC" --daemon 1h >"$OUT" 2>&1 &
	daemon=\$!
	for i in \$(seq 300); do grep -q "^C: RETR 3" "$TEST_TMP/slog" && break; sleep 0.1; done
	grep -q "^C: RETR 3" "$TEST_TMP/slog" || exit 2
	date +%s >"$TEST_TMP/down-at"
	ip addr del 10.9.0.1/24 dev veth0
	for i in \$(seq 300); do grep -q "the network changed" "$OUT" && break; sleep 0.1; done
	date +%s >"$TEST_TMP/dropped-at"
	ip addr add 10.9.0.1/24 dev veth0
	for i in \$(seq 600); do
		[ "\$(find "$MD/new" -type f 2>/dev/null | wc -l)" -ge 5 ] && break
		sleep 0.1
	done
	date +%s >"$TEST_TMP/fetched-at"
	kill -TERM \$daemon; wait \$daemon
	kill \$server; wait \$server
	trap - EXIT TERM
	EOF
	run timeout 120 unshare -n bash "$TEST_TMP/netns.sh" 3>&-
	cat "$OUT"
	assert_success
	run cat "$OUT"
	assert_output --partial "the network changed (the connection's address or route went away)"
	# At once, not after the 60 s timeout; then again within seconds.
	(( $(cat "$TEST_TMP/dropped-at") - $(cat "$TEST_TMP/down-at") <= 5 ))
	(( $(cat "$TEST_TMP/fetched-at") - $(cat "$TEST_TMP/dropped-at") <= 20 ))
	# Each message exactly once, and none left on the server.
	assert_maildir_matches "$TEST_TMP/orig" "$MD"
	[[ $(server_count) -eq 0 ]]
	# Two sessions: the one dropped, the one on the new network.
	[ "$(grep -c '^CONNECT' "$TEST_TMP/slog")" -eq 2 ]
}
