#!/usr/bin/env bats
# jobs.bats -- -j N and `jobs N`: several accounts fetched at once, each in
# its own process; output lines stay whole and prefixed; the exit code is
# the first failure in account order, as in a sequential run.

load lib/common
load lib/popserver

setup() {
	PIDS=()
}

teardown() {
	local p
	for p in "${PIDS[@]}"; do
		popserver_stop "$p" || true
	done
}

# server NAME N [popserver flags] -- a mailbox of N messages served on
# 127.0.0.1; sets PORT_<NAME>.
server() {
	local name=$1 n=$2
	shift 2
	mkdir -p "$TEST_TMP/mb-$name"
	make_mailbox "$TEST_TMP/mb-$name" "$n" 2000
	cp -r "$TEST_TMP/mb-$name" "$TEST_TMP/orig-$name"
	popserver_start --mailbox "$TEST_TMP/mb-$name" "$@"
	PIDS+=("$POPSERVER_PID")
	printf -v "PORT_$name" %s "$POPSERVER_PORT"
}

# account NAME [password] -- fetchrc lines for an account on NAME's server.
account() {
	local port_var=PORT_$1
	echo "account $1"
	echo "host 127.0.0.1"
	echo "port ${!port_var}"
	echo "password ${2:-secret}"
	echo "delivery maildir $TEST_TMP/md-$1"
	echo "received_header off"	# byte-for-byte comparisons
	# Same user and host for all: each account needs its own state (and lock).
	echo "uidls_file $TEST_TMP/state/$1"
}

defaults() {
	echo "defaults"
	echo "tls off"
	echo "user test"
	echo "timeout 10"
	local l
	for l in "$@"; do echo "$l"; done
}

# no_warnings -- L: the lines of $output without the 'tls is off' warnings.
no_warnings() {
	mapfile -t L < <(grep -v ': warning: tls is off: ' <<<"$output")
}

@test "-j 3: all accounts fetched, every output line whole and prefixed" {
	server one 60 --pipelining
	server two 60
	server three 60 --pipelining
	{ defaults; account one; account two; account three; } | write_fetchrc "$RC"
	# -v: a line per message, so that lines of the three runs cross often.
	run "$POPFETCH" -C "$RC" -v -j 3 -a
	assert_success
	local l n=0
	while IFS= read -r l; do
		[[ $l == *": warning: tls is off: "* ]] && continue
		# -v's line on the port and TLS mode chosen, one per account.
		[[ $l =~ ^(one|two|three):\ connecting\ to\  ]] && continue
		[[ $l =~ ^(one|two|three):\ (message\ [0-9]+\ of\ 60\ delivered\ \(.*\)|60\ messages\ fetched\ .*)$ ]] ||
		    fail "mangled line: '$l'"
		n=$((n + 1))
	done <<<"$output"
	[ "$n" -eq 183 ]
	assert_maildir_matches "$TEST_TMP/orig-one" "$TEST_TMP/md-one"
	assert_maildir_matches "$TEST_TMP/orig-two" "$TEST_TMP/md-two"
	assert_maildir_matches "$TEST_TMP/orig-three" "$TEST_TMP/md-three"
}

@test "-j 2: a slow account does not hold up the next one" {
	# 'slow' answers CAPA, then goes silent until the 3 s timeout.
	server slow 1 --hang-after 1
	server fast 3
	{ defaults "timeout 3"; account slow; account fast; } | write_fetchrc "$RC"
	run "$POPFETCH" -C "$RC" -j 2 -a
	assert_failure 75
	# In a sequential run the slow account's error would come first.
	no_warnings
	[[ ${L[0]} == "fast: 3 messages fetched"* ]] ||
	    fail "first line is not fast's summary: ${L[0]}"
	[[ ${L[1]} == "slow: "* ]] || fail "second line: ${L[1]}"
}

@test "exit code: the first failure in account order, not the first to happen" {
	server hang 1 --hang-after 1
	server auth 1
	server good 2
	{
		defaults "timeout 2"
		account hang
		account auth wrong
		account good
	} | write_fetchrc "$RC"
	run "$POPFETCH" -C "$RC" -j 3 -a
	# 'auth' fails (77) well before 'hang' times out (75).
	assert_failure 75
	assert_output --partial "auth: authentication failed"
	assert_output --partial "good: 2 messages fetched"
	[ "$(maildir_count "$TEST_TMP/md-good")" -eq 2 ]
}

@test "'jobs 2' in the defaults works like -j 2; -j overrides it" {
	server slow 1 --hang-after 1 --fault-sessions 2
	server fast 2
	{ defaults "timeout 3" "jobs 2"; account slow; account fast; } | write_fetchrc "$RC"
	run "$POPFETCH" -C "$RC" -a
	assert_failure 75
	no_warnings
	[[ ${L[0]} == "fast: 2 messages fetched"* ]] ||
	    fail "first line is not fast's summary: ${L[0]}"
	# -j 1: one after the other, in account order.
	run "$POPFETCH" -C "$RC" -j 1 -a
	assert_failure 75
	no_warnings
	[[ ${L[0]} == "slow: "* ]] || fail "first line: ${L[0]}"
}

@test "'jobs' outside the defaults, and bad -j values, are refused" {
	{ echo "account x"; echo "jobs 2"; } | write_fetchrc "$RC"
	run "$POPFETCH" -C "$RC" -a
	assert_failure 78
	assert_output --partial "'jobs' belongs in the defaults section"
	{ echo "defaults"; echo "jobs 0"; } | write_fetchrc "$RC"
	run "$POPFETCH" -C "$RC" -a
	assert_failure 78
	run "$POPFETCH" -C "$RC" -j 0 -a
	assert_failure 64
	assert_output --partial "-j 0: the number of accounts at once must be from 1 to 64"
	run "$POPFETCH" -C "$RC" -j many -a
	assert_failure 64
}
