#!/usr/bin/env bats
# exactly-once.bats -- every message is delivered exactly once, whatever
# breaks: the connection cut at every step of a session (the fault matrix),
# popfetch killed with SIGKILL at random moments, a run stopped between
# "message in the maildir" and "UID recorded".
#
# The matrix is printed on fd 3 (bats shows it) and its rows are what
# docs/exactly-once.md tabulates.

BATS_TEST_TIMEOUT=300
load lib/common
load lib/popserver

NMSG=3
MAX_RUNS=4

setup() {
	RC=$TEST_TMP/fetchrc
}

teardown() {
	popserver_stop || true
	if [[ -n ${FETCH_PID:-} ]]; then
		kill -KILL "$FETCH_PID" 2>/dev/null || true
		wait "$FETCH_PID" 2>/dev/null || true
	fi
}

# rc DIR MODE -- account 'default' for the running server, state and maildir
# under DIR; MODE is keep or delete.
rc() {
	local dir=$1 keep=off
	[[ $2 == keep ]] && keep=on
	{
		echo "account default"
		echo "host 127.0.0.1"
		echo "port $POPSERVER_PORT"
		echo "tls off"
		echo "user test"
		echo "password secret"
		echo "timeout 30"
		echo "keep $keep"
		echo "delivery maildir $dir/Maildir"
		echo "uidls_file $dir/state"
		echo "received_header off"	# byte-for-byte comparisons
	} | write_fetchrc "$RC"
}

count_files() {
	find "$1" -maxdepth 1 -type f ! -name '.*' | wc -l
}

# The commands of a clean session in MODE, one per line, as the server
# logged them ("CAPA", "RETR 2", ...).
clean_session() {
	local mode=$1 dir=$TEST_TMP/clean-$1-$2
	shift 2
	mkdir -p "$dir"
	cp -r "$TEST_TMP/corpus" "$dir/mb"
	popserver_start --mailbox "$dir/mb" --log "$dir/log" "$@"
	rc "$dir" "${mode%%+*}"
	"$POPFETCH" -q -C "$RC" >/dev/null 2>&1 || return 1
	popserver_stop
	sed -n 's/^C: //p' "$dir/log"
}

# scenario MODE LABEL FAULT-FLAGS... -- one cell of the matrix: a fresh
# mailbox, a server faulty in its first session, popfetch run until it
# succeeds (at most MAX_RUNS times); then every message must be in the
# maildir exactly once and, in delete mode, none left on the server.
# Appends a row to $TABLE; returns 1 when the cell failed.
scenario() {
	local mode=$1 label=$2 dir codes="" ex runs=0 verdict=ok why=""
	shift 2
	NCASE=$((NCASE + 1))
	dir=$TEST_TMP/case-$NCASE
	mkdir -p "$dir"
	cp -r "$TEST_TMP/corpus" "$dir/mb"
	popserver_start --mailbox "$dir/mb" --log "$dir/log" "$@" || return 1
	rc "$dir" "${mode%%+*}"
	while ((runs < MAX_RUNS)); do
		runs=$((runs + 1))
		ex=0
		"$POPFETCH" -q -C "$RC" >>"$dir/out" 2>&1 || ex=$?
		codes+="${codes:+,}$ex"
		((ex == 0)) && break
	done
	popserver_stop
	if ((ex != 0)); then
		verdict=FAIL why="no successful run"
	elif ! (assert_maildir_matches "$TEST_TMP/corpus" "$dir/Maildir") \
	    >"$dir/check" 2>&1; then
		verdict=FAIL why=$(head -n 3 "$dir/check" | tr '\n' ' ')
	elif [[ $mode == delete* ]] && (($(count_files "$dir/mb") != 0)); then
		verdict=FAIL why="$(count_files "$dir/mb") left on the server"
	elif [[ $mode == keep ]] && (($(count_files "$dir/mb") != NMSG)); then
		verdict=FAIL why="keep mode lost messages on the server"
	fi
	printf '| %-32s | %-16s | %-9s | %s %s |\n' "$label" "$mode" \
	    "$codes" "$verdict" "$why" >>"$TABLE"
	[[ $verdict == ok ]]
}

# matrix MODE [SERVER-FLAGS...] -- every cut point of a session in MODE.
matrix() {
	local mode=$1 n i failed=0
	local -a cmds
	shift
	mapfile -t cmds < <(clean_session "$mode" base "$@")
	n=${#cmds[@]}
	[[ $n -gt 5 ]] || { echo "no clean session for $mode" >&3; return 1; }
	scenario "$mode" "after the greeting" --cut-before-reply 1 "$@" ||
	    failed=1
	for ((i = 1; i <= n; i++)); do
		scenario "$mode" "before reply to ${cmds[i - 1]}" \
		    --cut-before-reply "$i" "$@" || failed=1
		scenario "$mode" "after reply to ${cmds[i - 1]}" \
		    --cut-after "$i" "$@" || failed=1
	done
	for ((i = 1; i <= NMSG; i++)); do
		scenario "$mode" "in the body of RETR #$i" --cut-in-retr "$i" \
		    "$@" || failed=1
	done
	# QUIT carried out (deletions done) but its +OK never arrives.
	scenario "$mode" "QUIT done, reply lost" --drop-reply "$n" "$@" ||
	    failed=1
	return $failed
}

print_table() {
	{
		echo "| cut point                        | mode             | exit codes | outcome |"
		echo "|----------------------------------|------------------|-----------|---------|"
		cat "$TABLE"
	} >&3
}

# matrix_test MODE [SERVER-FLAGS...] -- one mode's matrix, its table on
# fd 3. One test per mode keeps each within BATS_TEST_TIMEOUT on a slow
# (sanitizer) build.
matrix_test() {
	make_mailbox "$TEST_TMP/corpus" "$NMSG"
	TABLE=$TEST_TMP/table NCASE=0
	local failed=0
	matrix "$@" || failed=1
	print_table
	if ((failed)); then
		grep FAIL "$TABLE"
		return 1
	fi
	# Every cell ran: at least 2 cuts per command of the session.
	(($(wc -l <"$TABLE") >= 20))
}

@test "fault matrix, keep mode: a cut at every step of a session" {
	matrix_test keep
}

@test "fault matrix, delete mode: a cut at every step of a session" {
	matrix_test delete
}

@test "fault matrix, delete mode with PIPELINING: a cut at every step of a session" {
	matrix_test delete+pipelining --pipelining
}

# kill9_loop MODE [SERVER-FLAGS...]
kill9_loop() {
	local mode=$1 dir=$TEST_TMP/kill9 i ex kills=0 partial=0
	shift
	mkdir -p "$dir"
	make_mailbox "$TEST_TMP/corpus" 500
	cp -r "$TEST_TMP/corpus" "$dir/mb"
	popserver_start --mailbox "$dir/mb" "$@"
	rc "$dir" "$mode"
	for ((i = 0; i < 10; i++)); do
		"$POPFETCH" -q -C "$RC" >>"$dir/out" 2>&1 &
		FETCH_PID=$!
		sleep "0.$(printf '%03d' $((50 + RANDOM % 451)))"
		if kill -KILL "$FETCH_PID" 2>/dev/null; then
			kills=$((kills + 1))
		fi
		wait "$FETCH_PID" 2>/dev/null || true
		FETCH_PID=
		# What was there when it died, for the record.
		partial=$(maildir_count "$dir/Maildir")
		echo "# kill $((i + 1)): $partial messages in the maildir" >&3
	done
	ex=0
	"$POPFETCH" -q -C "$RC" >>"$dir/out" 2>&1 || ex=$?
	popserver_stop
	echo "# $mode: $kills runs killed with SIGKILL, final run exit $ex" >&3
	[[ $ex -eq 0 ]] || { cat "$dir/out"; return 1; }
	assert_maildir_matches "$TEST_TMP/corpus" "$dir/Maildir"
	if [[ $mode == delete ]]; then
		[[ $(count_files "$dir/mb") -eq 0 ]]
	else
		[[ $(count_files "$dir/mb") -eq 500 ]]
	fi
	# The kills must have struck while there was work left.
	((kills == 10))
}

# A RETR takes 4 ms, so a run needs 2 s and a batch of 64 about 250 ms:
# each kill strikes mid-fetch, some after a batch reached new/.
@test "kill -9 at 10 random moments of a 500-message fetch (delete, pipelined): exactly once" {
	kill9_loop delete --pipelining --retr-delay 4
}

@test "kill -9 at 10 random moments of a 500-message fetch (keep): exactly once" {
	kill9_loop keep --retr-delay 4
}

# deliver_then_unrecord MODE -- fetch one message, then make the state
# look as if popfetch had died after linking it into new/ and before
# recording its UID: the record line becomes a pending line.
deliver_then_unrecord() {
	local mode=$1 uid
	make_mailbox "$TEST_TMP/corpus" 1
	mkdir -p "$TEST_TMP/w"
	cp -r "$TEST_TMP/corpus" "$TEST_TMP/w/mb"
	popserver_start --mailbox "$TEST_TMP/w/mb" --log "$TEST_TMP/log" \
	    --fault-sessions 0
	rc "$TEST_TMP/w" "$mode"
	run "$POPFETCH" -q -C "$RC"
	assert_success
	# Keep mode leaves the state alone after the run; delete mode rewrote
	# it empty, so put the message back on the server as it was.
	if [[ $mode == delete ]]; then
		cp "$TEST_TMP/corpus"/* "$TEST_TMP/w/mb/"
	fi
	uid=$(ls "$TEST_TMP/w/mb" | head -n 1)
	printf '# popfetch uid state v1\npending %s\n' "$uid" \
	    >"$TEST_TMP/w/state"
}

@test "a message linked into new/ but not recorded is recorded, not fetched again" {
	deliver_then_unrecord keep
	# A leftover copy in tmp/ from the interrupted delivery goes too.
	local name
	name=$(ls "$TEST_TMP/w/Maildir/new")
	[[ $name == *,U=[0-9a-f]* ]]
	echo partial >"$TEST_TMP/w/Maildir/tmp/$name"
	: >"$TEST_TMP/log"
	run "$POPFETCH" -v -C "$RC"
	assert_success
	assert_output --partial "was delivered by an interrupted run"
	refute_output --partial "1 message fetched"
	run grep -c '^C: RETR' "$TEST_TMP/log"
	assert_output 0
	assert_maildir_matches "$TEST_TMP/corpus" "$TEST_TMP/w/Maildir"
	run grep -c "^[0-9]* " "$TEST_TMP/w/state"
	assert_output 1
}

@test "delete mode: the recovered message is deleted on the server without a RETR" {
	deliver_then_unrecord delete
	# A reader moved it to cur/ and flagged it meanwhile.
	local name
	name=$(ls "$TEST_TMP/w/Maildir/new")
	mv "$TEST_TMP/w/Maildir/new/$name" "$TEST_TMP/w/Maildir/cur/$name:2,S"
	: >"$TEST_TMP/log"
	run "$POPFETCH" -C "$RC"
	assert_success
	run grep -c '^C: RETR' "$TEST_TMP/log"
	assert_output 0
	run grep -c '^C: DELE' "$TEST_TMP/log"
	assert_output 1
	assert_maildir_matches "$TEST_TMP/corpus" "$TEST_TMP/w/Maildir"
	[[ $(count_files "$TEST_TMP/w/mb") -eq 0 ]]
}

@test "--dry-run counts a pending message found in the maildir as delivered, and changes nothing" {
	deliver_then_unrecord delete
	local name
	name=$(ls "$TEST_TMP/w/Maildir/new")
	echo partial >"$TEST_TMP/w/Maildir/tmp/$name"
	cp "$TEST_TMP/w/state" "$TEST_TMP/state.before"
	: >"$TEST_TMP/log"
	run "$POPFETCH" -n -v -C "$RC"
	assert_success
	assert_output --partial "was delivered by an interrupted run; would record it"
	assert_output --regexp "dry run: would fetch 0 messages .*delete 1"
	run grep -c '^C: RETR' "$TEST_TMP/log"
	assert_output 0
	# Nothing changed: the state, the leftover in tmp/, the server.
	cmp "$TEST_TMP/state.before" "$TEST_TMP/w/state"
	[[ -e $TEST_TMP/w/Maildir/tmp/$name ]]
	[[ $(count_files "$TEST_TMP/w/mb") -eq 1 ]]
	# And without the message in the maildir it is new.
	rm "$TEST_TMP/w/Maildir/new/$name"
	run "$POPFETCH" -n -C "$RC"
	assert_success
	assert_output --regexp "dry run: would fetch 1 message "
}

@test "a pending UID whose message never reached new/ is fetched again" {
	deliver_then_unrecord keep
	rm "$TEST_TMP/w/Maildir/new/"*
	: >"$TEST_TMP/log"
	run "$POPFETCH" -C "$RC"
	assert_success
	assert_output --partial "1 message fetched"
	assert_maildir_matches "$TEST_TMP/corpus" "$TEST_TMP/w/Maildir"
}

@test "the pending lines reach the disk before any message reaches new/" {
	make_mailbox "$TEST_TMP/corpus" 2
	popserver_start --mailbox "$TEST_TMP/corpus" --hang-in-retr 2 \
	    --log "$TEST_TMP/log"
	mkdir -p "$TEST_TMP/w"
	rc "$TEST_TMP/w" keep
	sed -i 's/^timeout .*/timeout 1/' "$RC"
	run "$POPFETCH" -q -C "$RC"
	assert_failure 75
	# Both noted pending before the first RETR; then message 1 recorded.
	run cat "$TEST_TMP/w/state"
	assert_line --index 1 "pending msg-00001"
	assert_line --index 2 "pending msg-00002"
	assert_line --index 3 --regexp '^[0-9]+ msg-00001$'
	[[ $(maildir_count "$TEST_TMP/w/Maildir") -eq 1 ]]
	[[ $(count_files "$TEST_TMP/w/Maildir/tmp") -eq 0 ]]
}
