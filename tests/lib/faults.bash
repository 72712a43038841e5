# faults.bash -- the fault matrix and the kill -9 loop, written once for
# every kind of mailbox (exactly-once.bats: maildir, exactly-once-mbox.bats:
# mbox, exactly-once-imap.bats: IMAP; at-least-once.bats: LMTP and SMTP).
# The test file defines:
#   rc DIR MODE            the account for the running server, its state and
#                          mailbox under DIR; MODE is keep or delete
#   delivered_ok DIR [MAXDUP]
#                          succeeds when DIR's mailbox holds every message of
#                          $TEST_TMP/corpus exactly once, intact; with
#                          MAXDUP (kill9_loop's at-least-once mode, below)
#                          at least once, with no more than MAXDUP extra
#                          copies in all
#   delivered_count DIR    how many messages of the corpus DIR's mailbox
#                          holds now (in at-least-once mode each counted
#                          once, however many copies it has)
# and sets RC.

NMSG=${NMSG:-3}
MAX_RUNS=${MAX_RUNS:-4}
# Cells of a matrix run side by side, this many at once: each has its own
# server, mailbox and state, and most of a cell is waiting for processes
# to start.
MATRIX_JOBS=${MATRIX_JOBS:-4}

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

# scenario MODE LABEL FAULT-FLAGS... -- one cell of the matrix (case
# number NCASE + 1; run it in a subshell, as cell does): a fresh
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

# cell MODE LABEL FAULT-FLAGS... -- starts scenario in the background, at
# most MATRIX_JOBS at once; its row goes to $TEST_TMP/rows/NNNN, so that
# the table keeps the matrix's order.  cells_wait collects them.
# (Only our own jobs: bats runs a timeout watchdog in the test's shell.)
cell() {
	local -a running
	local p
	while :; do
		running=()
		for p in "${CELL_PIDS[@]}"; do
			kill -0 "$p" 2>/dev/null && running+=("$p")
		done
		((${#running[@]} < MATRIX_JOBS)) && break
		wait -n "${running[@]}" || true
	done
	# Each its own fetchrc too (rc writes $RC).
	(TABLE=$TEST_TMP/rows/$(printf '%04d' $((NCASE + 1)))
	    RC=$TABLE.fetchrc
	    scenario "$@" || echo "$TABLE" >>"$TEST_TMP/rows/failed") &
	CELL_PIDS+=("$!")
	NCASE=$((NCASE + 1))
}

# cells_wait -- waits for every cell; appends their rows to $TABLE in
# order; fails if one did.
cells_wait() {
	local p
	for p in "${CELL_PIDS[@]}"; do
		wait "$p" || true
	done
	CELL_PIDS=()
	cat "$TEST_TMP"/rows/[0-9][0-9][0-9][0-9] >>"$TABLE" 2>/dev/null
	[[ ! -e $TEST_TMP/rows/failed ]]
}

# matrix MODE [SERVER-FLAGS...] -- every cut point of a session in MODE.
matrix() {
	local mode=$1 n i
	local -a cmds
	shift
	mapfile -t cmds < <(clean_session "$mode" base "$@")
	n=${#cmds[@]}
	[[ $n -gt 5 ]] || { echo "no clean session for $mode" >&3; return 1; }
	rm -rf "$TEST_TMP/rows"
	mkdir -p "$TEST_TMP/rows"
	CELL_PIDS=()
	cell "$mode" "after the greeting" --cut-before-reply 1 "$@"
	for ((i = 1; i <= n; i++)); do
		cell "$mode" "before reply to ${cmds[i - 1]}" \
		    --cut-before-reply "$i" "$@"
		cell "$mode" "after reply to ${cmds[i - 1]}" \
		    --cut-after "$i" "$@"
	done
	for ((i = 1; i <= NMSG; i++)); do
		cell "$mode" "in the body of RETR #$i" --cut-in-retr "$i" "$@"
	done
	# QUIT carried out (deletions done) but its +OK never arrives.
	cell "$mode" "QUIT done, reply lost" --drop-reply "$n" "$@"
	cells_wait
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

# kill9_loop MODE N PLAN [SERVER-FLAGS...] -- N messages; for each word of
# PLAN one popfetch run killed with SIGKILL at the moment the word names,
# then one run to the end: every message exactly once (or at least once,
# below), every kill struck a
# running popfetch, and the kills covered the fetch: at least one struck a
# run before it delivered anything, one in the middle (some of its
# messages delivered, not all) and one after the last message was
# delivered.  Moments are progress, never a timer (a busy machine only
# slows the run down).  Held moments: the server stops there, and the run
# waits, blocked, for the kill:
#   hold:UIDL     the run's UIDL (or any command: hold:VERB)
#   hold:retr:K   halfway through the run's K-th RETR: K - 1 messages
#                 received, those of finished batches delivered
#   quit          at QUIT (delete mode: everything delivered and recorded,
#                 the DELEs sent, nothing deleted yet; in keep mode
#                 popfetch does not wait for QUIT's reply: use hold:UIDL
#                 in a run with nothing new, after an end)
# Moments caught on the fly, while popfetch works (a run that gets past
# them is still caught, held at QUIT):
#   retr:K        the server got the run's K-th RETR
#   retr:P%       ... at P % of the whole fetch (K = P % of N, less what
#                 earlier runs delivered; at least 1)
#   files:SUB:K   DIR/SUB holds K files (Maildir/tmp: a batch half staged)
# And a run that is not killed:
#   end           the run goes to the end and succeeds
# Writes one line per kill on fd 3.  Held moments make the coverage
# certain; the caught ones add kills that strike popfetch mid-work.
# At least once (destinations that cannot be asked what arrived: LMTP,
# SMTP): K9_DUPS_PER_KILL set to the most messages a kill may leave
# delivered but not recorded (those in flight), and delivered_ok is given
# that many per kill as the bound of the duplicates; unset, exactly once.
kill9_loop() {
	local mode=$1 n=$2 dir=$TEST_TMP/kill9 ex word i=0 kills=0 nkills=0
	local -a plan
	read -ra plan <<<"$3"
	shift 3
	local -A class=([before]=0 [mid]=0 [after]=0)
	K9_FLAGS=("$@") K9_DIR=$dir K9_MODE=$mode K9_KIND=
	mkdir -p "$dir"
	make_mailbox "$TEST_TMP/corpus" "$n"
	cp -r "$TEST_TMP/corpus" "$dir/mb"
	: >"$dir/log"
	exec {K9_FD}<"$dir/log" {K9_SLEEP}<> <(:)
	K9_PART=
	for word in "${plan[@]}"; do
		i=$((i + 1))
		if [[ $word == end ]]; then
			_k9_serve || break
			"$POPFETCH" -q -C "$RC" >>"$dir/out" 2>&1 ||
			    { echo "kill9_loop: run $i failed"; cat "$dir/out"; break; }
			continue
		fi
		nkills=$((nkills + 1))
		_k9_run "$dir" "$n" "$word" "$i" || break
		[[ $K9_CLASS == none ]] && { nkills=$((nkills - 1)); continue; }
		kills=$((kills + 1))
		class[$K9_CLASS]=$((${class[$K9_CLASS]} + 1))
	done
	exec {K9_FD}<&- {K9_SLEEP}<&-
	# Stopped here too: under `run` teardown does not know this server.
	((i == ${#plan[@]} && kills == nkills)) || { popserver_stop; return 1; }
	ex=0
	_k9_serve || { popserver_stop; return 1; }
	"$POPFETCH" -q -C "$RC" >>"$dir/out" 2>&1 || ex=$?
	popserver_stop
	echo "# $mode: $kills runs killed with SIGKILL: ${class[before]} before" \
	    "their first delivery, ${class[mid]} mid-fetch, ${class[after]}" \
	    "after the last; final run exit $ex;" \
	    "$(grep -c 'removed the partial message' "$dir/out") partial" \
	    "blocks cut off" >&3
	[[ $ex -eq 0 ]] || { cat "$dir/out"; return 1; }
	if [[ -n ${K9_DUPS_PER_KILL:-} ]]; then
		delivered_ok "$dir" $((K9_DUPS_PER_KILL * kills))
	else
		delivered_ok "$dir"
	fi
	if [[ $mode == delete ]]; then
		[[ $(count_files "$dir/mb") -eq 0 ]]
	else
		[[ $(count_files "$dir/mb") -eq $n ]]
	fi
	# Kills bunched in one place test one place: the spread is the test.
	if ((class[before] == 0 || class[mid] == 0 || class[after] == 0)); then
		echo "kill9_loop: the kills did not cover the fetch (before" \
		    "${class[before]}, mid ${class[mid]}, after ${class[after]})"
		return 1
	fi
}

# _k9_serve FAULT... -- the faults of the next run's session (none for
# none): written where the server reads them as the session starts
# (--session-faults); the first call starts the server.
_k9_serve() {
	echo "$*" >"$K9_DIR/faults"
	[[ -n $K9_KIND ]] && return 0
	popserver_start --mailbox "$K9_DIR/mb" --log "$K9_DIR/log" \
	    --session-faults "$K9_DIR/faults" "${K9_FLAGS[@]}" || return 1
	K9_KIND=started
	rc "$K9_DIR" "$K9_MODE"
	# A held run waits for its kill, not for popfetch's timeout, however
	# slowly a loaded machine lets the watcher see the moment.
	sed -i 's/^timeout .*/timeout 300/' "$RC"
}

# _k9_run DIR N WORD I -- one run killed at WORD; sets K9_CLASS to before,
# mid or after.  Fails, saying why, when the run ended on its own or the
# moment did not come within 60 s.
_k9_run() {
	local dir=$1 n=$2 word=$3 i=$4 d0 d1 at="" deadline k
	d0=$(delivered_count "$dir")
	K9_TARGET=0
	if [[ $word == *retr:* ]]; then
		k=${word##*retr:}
		[[ $k == *% ]] && k=$((n * ${k%\%} / 100 - d0))
		((k > 0)) || k=1
		K9_TARGET=$k
	fi
	case $word in
	hold:retr:*) _k9_serve hang-in-retr "$k" hang-on QUIT ;;
	hold:*) _k9_serve hang-on "${word#hold:}" ;;
	*) _k9_serve hang-on QUIT ;;
	esac || return 1
	K9_CONNECTED=0 K9_RETRS=0 K9_UIDL=0 K9_QUIT=0 K9_HELD=0 K9_CLOSED=0
	"$POPFETCH" -q -C "$RC" >>"$dir/out" 2>&1 &
	FETCH_PID=$!
	deadline=$((SECONDS + 60))
	# No process is started while watching: a loaded machine must not
	# slow the watcher down more than popfetch.
	while :; do
		_k9_read_log
		if _k9_reached "$dir" "$word"; then
			at=$word
		elif ((K9_QUIT)); then
			at="quit (before $word)"
		elif ! _k9_alive "$FETCH_PID"; then
			at=""
		elif ((SECONDS > deadline)); then
			at=""
			echo "kill9_loop: run $i: no '$word' after 60 s" \
			    "(the server saw $K9_RETRS RETRs)"
		else
			read -r -t 0.01 -u "$K9_SLEEP" _ || true
			continue
		fi
		break
	done
	if [[ -z $at ]] || ! kill -KILL "$FETCH_PID" 2>/dev/null; then
		wait "$FETCH_PID" 2>/dev/null
		k=$?
		# Keep mode, nothing left (a caught kill came late): no moment
		# to wait for, and the coverage check still judges the loop.
		if ((k == 0 && d0 >= n)); then
			echo "# run $i at $word: nothing left to fetch, not killed" >&3
			K9_CLASS=none FETCH_PID=
			return 0
		fi
		# Keep mode holds nothing at QUIT (popfetch does not wait for
		# its reply), so a run a loaded machine let past a caught
		# moment ends on its own: a whole run, judged like the others
		# by the final check; the held moments keep the coverage.
		if ((k == 0)) && [[ $K9_MODE == keep && $word != hold:* ]]; then
			echo "# run $i at $word: ended before the moment was" \
			    "seen, not killed" >&3
			K9_CLASS=none FETCH_PID=
			return 0
		fi
		echo "kill9_loop: run $i ended (exit $k) before '$word':"
		cat "$dir/out"
		FETCH_PID=
		return 1
	fi
	wait "$FETCH_PID" 2>/dev/null || true
	FETCH_PID=
	# The server notices the dead client; the next run is a new session.
	deadline=$((SECONDS + 60))
	while ((!K9_CLOSED && SECONDS <= deadline)); do
		read -r -t 0.01 -u "$K9_SLEEP" _ || true
		_k9_read_log
	done
	((K9_CLOSED)) || { echo "kill9_loop: run $i: the server did not close"; return 1; }
	d1=$(delivered_count "$dir")
	if ((d1 >= n)); then
		K9_CLASS=after
	elif ((d1 == d0)); then
		K9_CLASS=before
	else
		K9_CLASS=mid
	fi
	echo "# kill $i at $at: $((d1 - d0)) of $((n - d0)) delivered," \
	    "$d1 of $n in all ($K9_CLASS)" >&3
}

# _k9_alive PID -- true while PID runs (not a zombie), without a fork.
_k9_alive() {
	local st
	read -r st 2>/dev/null <"/proc/$1/stat" || return 1
	st=${st##*) }
	[[ ${st:0:1} != Z ]]
}

# _k9_read_log -- takes in the server log's new complete lines.
_k9_read_log() {
	local line
	while IFS= read -r line <&"$K9_FD"; do
		line=$K9_PART$line K9_PART=
		case $line in
		CONNECT) K9_CONNECTED=1 K9_RETRS=0 K9_UIDL=0 K9_QUIT=0 K9_HELD=0
			K9_CLOSED=0 ;;
		"C: RETR "*) K9_RETRS=$((K9_RETRS + 1)) ;;
		"C: UIDL"*) K9_UIDL=1 ;;
		"FAULT hang-on QUIT") K9_QUIT=1 ;;
		"FAULT hang-"*) K9_HELD=1 ;;
		CLOSE) K9_CLOSED=1 ;;
		esac
	done
	K9_PART+=$line	# a line the server is still writing
}

# _k9_reached DIR WORD -- true once the moment WORD has come in this run's
# session (files: once it has fetched something, so that leftovers of a
# killed run do not count).
_k9_reached() {
	local dir=$1 word=$2 sub k
	local -a f
	((K9_CONNECTED)) || return 1
	case $word in
	hold:*) ((K9_HELD)) ;;
	retr:*) ((K9_RETRS >= K9_TARGET)) ;;
	quit) ((K9_QUIT)) ;;
	files:*:*)
		sub=${word#files:} k=${sub##*:} sub=${sub%:*}
		f=("$dir/$sub"/*)
		((K9_RETRS >= k)) && [[ -e ${f[0]} ]] && ((${#f[@]} >= k)) ;;
	*) echo "kill9_loop: unknown moment '$word'" >&2; return 1 ;;
	esac
}
