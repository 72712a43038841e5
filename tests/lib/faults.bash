# faults.bash -- the fault matrix and the kill -9 loop, written once for
# every kind of mailbox (exactly-once.bats: maildir, exactly-once-mbox.bats:
# mbox).  The test file defines:
#   rc DIR MODE            the account for the running server, its state and
#                          mailbox under DIR; MODE is keep or delete
#   delivered_ok DIR       succeeds when DIR's mailbox holds every message of
#                          $TEST_TMP/corpus exactly once, intact
#   delivered_count DIR    how many messages DIR's mailbox holds now
# and sets RC.

NMSG=${NMSG:-3}
MAX_RUNS=${MAX_RUNS:-4}

faults_teardown() {
	popserver_stop || true
	if [[ -n ${FETCH_PID:-} ]]; then
		kill -KILL "$FETCH_PID" 2>/dev/null || true
		wait "$FETCH_PID" 2>/dev/null || true
	fi
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
# mailbox exactly once and, in delete mode, none left on the server.
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
	elif ! (delivered_ok "$dir") >"$dir/check" 2>&1; then
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

# kill9_loop MODE N KILLS MIN-MS SPAN-MS [SERVER-FLAGS...] -- N messages;
# KILLS runs killed with SIGKILL each MIN-MS to MIN-MS + SPAN-MS after it
# started (the server's --retr-delay makes that mid-fetch), then one run
# to the end: every message exactly once, and every kill must have struck
# a run still working.
kill9_loop() {
	local mode=$1 n=$2 nkills=$3 min=$4 span=$5 dir=$TEST_TMP/kill9 i ex
	local kills=0 ms
	shift 5
	mkdir -p "$dir"
	make_mailbox "$TEST_TMP/corpus" "$n"
	cp -r "$TEST_TMP/corpus" "$dir/mb"
	popserver_start --mailbox "$dir/mb" "$@"
	rc "$dir" "$mode"
	for ((i = 0; i < nkills; i++)); do
		"$POPFETCH" -q -C "$RC" >>"$dir/out" 2>&1 &
		FETCH_PID=$!
		ms=$((min + RANDOM % span))
		sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
		if kill -KILL "$FETCH_PID" 2>/dev/null; then
			kills=$((kills + 1))
		fi
		wait "$FETCH_PID" 2>/dev/null || true
		FETCH_PID=
		# What was there when it died, for the record.
		echo "# kill $((i + 1)) after $ms ms: $(delivered_count "$dir")" \
		    "messages delivered" >&3
	done
	ex=0
	"$POPFETCH" -q -C "$RC" >>"$dir/out" 2>&1 || ex=$?
	popserver_stop
	echo "# $mode: $kills runs killed with SIGKILL, final run exit $ex;" \
	    "$(grep -c 'removed the partial message' "$dir/out") partial" \
	    "blocks cut off" >&3
	[[ $ex -eq 0 ]] || { cat "$dir/out"; return 1; }
	delivered_ok "$dir"
	if [[ $mode == delete ]]; then
		[[ $(count_files "$dir/mb") -eq 0 ]]
	else
		[[ $(count_files "$dir/mb") -eq $n ]]
	fi
	# The kills must have struck while there was work left.
	((kills == nkills))
}
