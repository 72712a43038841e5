#!/usr/bin/env bats
# service.bats -- popfetch run for others (mail servers, containers, admin
# panels): a directory of account files and include, reloads that add,
# remove and change accounts.

BATS_TEST_TIMEOUT=90
load lib/common
load lib/popserver

setup() {
	OUT=$TEST_TMP/daemon.out
	DIR=$TEST_TMP/accounts.d
	mkdir -p "$DIR"
	DAEMON_PID=
}

teardown() {
	if [[ -n $DAEMON_PID ]]; then
		kill -KILL "$DAEMON_PID" 2>/dev/null || true
		wait "$DAEMON_PID" 2>/dev/null || true
	fi
	popserver_stop || true
}

# wait_for SECONDS COMMAND... -- poll every 0.1 s until COMMAND succeeds.
wait_for() {
	local i limit=$(($1 * 10))
	shift
	for ((i = 0; i < limit; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	echo "timed out waiting for: $*" >&2
	return 1
}

# acct NAME [LINE...] -- account NAME on the test server, keep mode, its
# own maildir $TEST_TMP/md-NAME and state; prints it.
acct() {
	local name=$1 l
	shift
	printf '%s\n' "account $name" "host 127.0.0.1" "port $POPSERVER_PORT" \
	    "tls off" "user test" "password secret" "timeout 10" "keep on" \
	    "delivery maildir $TEST_TMP/md-$name" \
	    "uidls_file $TEST_TMP/state-$name"
	for l in "$@"; do echo "$l"; done
}

# has NAME N -- account NAME's maildir holds N messages.
has() {
	[[ $(maildir_count "$TEST_TMP/md-$1") -eq $2 ]]
}

daemon_start() {
	"$POPFETCH" "$@" >"$OUT" 2>&1 3>&- &
	DAEMON_PID=$!
}

daemon_stop() {
	kill -TERM "$DAEMON_PID"
	local ex=0
	wait_for 10 eval '! kill -0 "$DAEMON_PID" 2>/dev/null'
	wait "$DAEMON_PID" || ex=$?
	DAEMON_PID=
	[[ $ex -eq 0 ]] || { cat "$OUT"; echo "daemon exit $ex"; return 1; }
}

# reloaded N -- the daemon said "configuration re-read" N times.
reloaded() {
	[[ $(grep -c "configuration re-read" "$OUT") -ge $1 ]]
}

@test "-C DIR reads every *.conf and *.rc in name order, each file with its own defaults" {
	make_mailbox "$MB" 2
	popserver_start --mailbox "$MB"
	{ printf 'defaults\nkeep on\n'; acct a; } | write_fetchrc "$DIR/10-a.conf"
	# No `keep` here: a's defaults must not reach b, which deletes.
	acct b | sed '/^keep/d' | write_fetchrc "$DIR/20-b.rc"
	echo "this is not a fetchrc" >"$DIR/README"
	echo "frobnicate" >"$DIR/.20-b.rc.swp.conf"
	echo "frobnicate" >"$DIR/30-c.conf~"
	run "$POPFETCH" -C "$DIR" -a
	assert_success
	has a 2
	has b 2
	[ "$(find "$MB" -type f | wc -l)" -eq 0 ]
	# Name order: a (10-) fetched before b (20-).
	[[ $(grep -n '^a:' <<<"$output" | cut -d: -f1) -lt \
	    $(grep -n '^b:' <<<"$output" | cut -d: -f1) ]]
}

@test "-C DIR: an error names the file and line; an account in two files names both" {
	popserver_start --mailbox "$MB"
	acct a | write_fetchrc "$DIR/10-a.conf"
	{ acct b; echo "frobnicate yes"; } | write_fetchrc "$DIR/20-b.conf"
	run "$POPFETCH" -C "$DIR" -a
	assert_failure 78
	assert_output --partial "$DIR/20-b.conf:11: unknown key 'frobnicate'"
	acct a | write_fetchrc "$DIR/20-b.conf"
	run "$POPFETCH" -C "$DIR" -a
	assert_failure 78
	assert_output --partial "$DIR/20-b.conf:1: account 'a' is already defined in $DIR/10-a.conf, line 1"
	# A file with a password others can read is named too.
	acct b >"$DIR/20-b.conf"
	chmod 644 "$DIR/20-b.conf"
	run "$POPFETCH" -C "$DIR" -a
	assert_failure 78
	assert_output --partial "$DIR/20-b.conf: contains a password but is readable by others"
}

@test "include GLOB: the files it matches, relative to the file, with the includer's defaults" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB"
	acct a | sed '/^delivery\|^uidls_file/d' | write_fetchrc "$DIR/a.conf"
	acct b | sed '/^delivery\|^uidls_file/d' | write_fetchrc "$DIR/b.conf"
	printf '%s\n' defaults "keep on" "delivery maildir $TEST_TMP/md-all" \
	    "uidls_file $TEST_TMP/state-%U-%H" "include accounts.d/*.conf" \
	    "include nothing-here/*.conf" | write_fetchrc "$RC"
	# a and b share a user and host here, so one state: b finds a's UID.
	run "$POPFETCH" -C "$RC" -a
	assert_success
	has all 1
	assert_output --partial "a: 1 message fetched"
	assert_output --partial "b: no new messages"
	[ "$(find "$MB" -type f | wc -l)" -eq 1 ]
}

@test "include: a file that includes itself is a clear error, not a loop" {
	printf 'include %s\n' "$RC" | write_fetchrc "$RC"
	run timeout 20 "$POPFETCH" -C "$RC" -a
	assert_failure 78
	assert_output --partial "included more than 8 deep"
}

@test "--daemon -C DIR: SIGHUP adds, removes, changes accounts; a broken directory keeps the old one until fixed" {
	make_mailbox "$TEST_TMP/m" 4
	popserver_start --mailbox "$MB"
	acct a | write_fetchrc "$DIR/a.conf"
	acct b | write_fetchrc "$DIR/b.conf"
	cp "$TEST_TMP/m/msg-00001" "$MB/"
	daemon_start -C "$DIR" -a --daemon 1s
	wait_for 20 has a 1
	wait_for 20 has b 1
	grep -q "polling 2 accounts" "$OUT"
	# Add c, remove b, change a's maildir.
	acct c | write_fetchrc "$DIR/c.conf"
	rm "$DIR/b.conf"
	acct a | sed "s|md-a|md-a2|" | write_fetchrc "$DIR/a.conf"
	kill -HUP "$DAEMON_PID"
	wait_for 20 reloaded 1
	grep -q "configuration re-read: 2 accounts" "$OUT"
	cp "$TEST_TMP/m/msg-00002" "$MB/"
	wait_for 20 has c 2
	wait_for 20 has a2 1
	# Broken: the old configuration stays and polls on.
	echo "frobnicate" >>"$DIR/c.conf"
	kill -HUP "$DAEMON_PID"
	wait_for 20 grep -q "c.conf:11: unknown key 'frobnicate'; keeping the configuration loaded before" "$OUT"
	cp "$TEST_TMP/m/msg-00003" "$MB/"
	wait_for 20 has c 3
	wait_for 20 has a2 2
	# Fixed: loads again.
	acct c | write_fetchrc "$DIR/c.conf"
	kill -HUP "$DAEMON_PID"
	wait_for 20 reloaded 2
	cp "$TEST_TMP/m/msg-00004" "$MB/"
	wait_for 20 has c 4
	daemon_stop
	# b was removed before the second message: it never got it.
	has b 1
	has a 1
}
