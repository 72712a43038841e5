#!/bin/sh
# run-all.sh [--quick] -- the whole test suite: a normal build and an
# AddressSanitizer/UndefinedBehaviorSanitizer build, each running
# `make check` (unit tests and bats tests, against the project's test server
# and private real servers), plus the normal build's unit tests under
# valgrind, and each fuzz target for 10 s (tests/fuzz/run-all).  Ends with
# "N passed, N failed, N skipped" and exits non-zero if anything failed.
#
# The parts run side by side (tests/README, "Time"): once the normal build
# is done, its `make check`, the sanitizer build and its `make check`, and
# valgrind then the fuzzers start together; each `make check` runs
# POPFETCH_TEST_JOBS files at once (default 6: most files mostly wait for
# servers and timeouts, so more than the two cores), slowest first.  Every
# run ends with a table of the slowest files and tests (test-logs/slowest),
# and fails when it took more than half again its budget,
# POPFETCH_TEST_BUDGET seconds (default 600; 120 with --quick).
#
# --quick: the normal build's `make check-quick` only (unit tests and one
# bats file per area).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
quick=0
case ${1:-} in
--quick) quick=1 ;;
'') ;;
*) echo "usage: tests/run-all.sh [--quick]" >&2; exit 2 ;;
esac
jobs=${POPFETCH_TEST_JOBS:-6}
if [ "$quick" -eq 1 ]; then
	budget=${POPFETCH_TEST_BUDGET:-120}
else
	budget=${POPFETCH_TEST_BUDGET:-600}
fi
t0=$(date +%s)
logdir=$top/test-logs
rm -rf "$logdir"
mkdir -p "$logdir"
: >"$logdir/started"	# this run's test logs are the newer ones
status=0

# The files that take longest, started first so that the last to finish
# is not a long one started late (tests/slowest shows the current order).
SLOW_FIRST="tests/exactly-once-mbox.bats tests/exactly-once.bats
tests/cyrus.bats tests/modes.bats tests/courier.bats tests/daemon.bats
tests/service.bats tests/mpoprc.bats tests/proxies.bats tests/oauth.bats
tests/smallpop.bats tests/fetch.bats tests/dovecot.bats tests/mbox.bats
tests/auth.bats tests/deadlines.bats tests/infra.bats tests/hostile-stream.bats
tests/jobs.bats tests/import-uids.bats"

# Regenerated here, before the builds start side by side: each would
# otherwise rerun automake in this shared directory under the other.
if ! [ -x configure ] || [ configure.ac -nt configure ] ||
    [ Makefile.am -nt Makefile.in ]; then
	autoreconf -fi || exit 1
fi
if [ -f config.status ]; then
	echo "run-all.sh: this source tree is configured in place; the test builds"
	echo "run-all.sh: need a clean one: run 'make distclean' here first"
	echo "0 passed, 1 failed"
	exit 1
fi

# build NAME CONFIGURE-ARGS... -- configure (once) and build build-NAME
# with what its `make check` needs; a failure is noted in the summary.
build() {
	name=$1; shift
	dir=$top/build-$name
	mkdir -p "$dir"
	if ! (cd "$dir" && { [ -f Makefile ] || "$top/configure" "$@" >configure.log 2>&1 || { cat configure.log; exit 1; }; } &&
	    make -j2 check-build >build.log 2>&1 || { tail -n 60 build.log; exit 1; }); then
		echo "$name: build failed"
		echo "FAIL: $name build" >>"$logdir/summary"
		return 1
	fi
	echo "=== $name build done after $(( $(date +%s) - t0 )) s ==="
}

# check NAME TARGET -- make TARGET (check, check-quick) in build-NAME, slow
# files first, its output in test-logs/NAME.log and on stdout prefixed
# with [NAME].
check() {
	name=$1 target=$2
	dir=$top/build-$name
	order=
	if [ "$target" = check ]; then
		all=$(cd "$dir" && make -s print-tests 2>"$logdir/$name.tests.err" |
		    grep '^tests/[A-Za-z0-9_./-]*$')
		for t in $SLOW_FIRST; do
			case " $(echo $all) " in *" $t "*) order="$order $t" ;; esac
		done
		for t in $all; do
			case " $(echo $SLOW_FIRST) " in *" $t "*) ;; *) order="$order $t" ;; esac
		done
	fi
	echo "$order" >"$logdir/$name.tests"
	echo "=== $name: make $target ==="
	if [ -n "$order" ]; then
		(cd "$dir" && make -j"$jobs" "$target" TESTS="$order") 2>&1
	else
		(cd "$dir" && make -j"$jobs" "$target") 2>&1
	fi | tee "$logdir/$name.log" | sed -u "s/^/[$name] /"
	echo "=== $name: make $target done after $(( $(date +%s) - t0 )) s ==="
}

# valgrind_units: each unit test binary of the normal build under
# valgrind (memory errors and leaks fail it), counted as one test each.
valgrind_units() {
	dir=$top/build-normal
	log=$logdir/valgrind.log
	echo "=== valgrind: unit tests ==="
	if ! command -v valgrind >/dev/null 2>&1; then
		echo "valgrind not installed: skipped"
		printf '# PASS: 0\n# SKIP: 1\n# FAIL: 0\n# ERROR: 0\n' >"$log"
		return
	fi
	p=0; f=0
	for t in "$dir"/tests/unit/test_*; do
		case $t in *.*) continue ;; esac	# objects, logs
		[ -x "$t" ] || continue
		if (cd "$dir" && valgrind -q --error-exitcode=1 --leak-check=full \
		    --errors-for-leak-kinds=definite,indirect "$t") \
		    >"$logdir/valgrind-$(basename "$t").out" 2>&1; then
			echo "PASS: valgrind $(basename "$t")"; p=$((p + 1))
		else
			echo "FAIL: valgrind $(basename "$t")"
			tail -n 40 "$logdir/valgrind-$(basename "$t").out"
			f=$((f + 1))
		fi
	done
	printf '# PASS: %d\n# SKIP: 0\n# FAIL: %d\n# ERROR: 0\n' "$p" "$f" >"$log"
	echo "=== valgrind done after $(( $(date +%s) - t0 )) s ==="
}

# fuzz_briefly: make fuzz in the normal build, then every target for 10 s
# on its seed corpus; one test per target, a crash fails it.
fuzz_briefly() {
	dir=$top/build-normal
	log=$logdir/fuzz.log
	echo "=== fuzz: 10 s per target ==="
	if ! command -v clang >/dev/null 2>&1; then
		echo "clang not installed: skipped"
		printf '# PASS: 0\n# SKIP: 1\n# FAIL: 0\n# ERROR: 0\n' >"$log"
		return
	fi
	if ! (cd "$dir" && make fuzz) >"$logdir/fuzz-build.out" 2>&1; then
		tail -n 40 "$logdir/fuzz-build.out"
		echo "FAIL: fuzz build"
		printf '# PASS: 0\n# SKIP: 0\n# FAIL: 1\n# ERROR: 0\n' >"$log"
		return
	fi
	FUZZ_BIN=$dir/tests/fuzz "$top/tests/fuzz/run-all" 10 \
	    | tee "$logdir/fuzz.out"
	p=$(grep -c '^PASS: fuzz' "$logdir/fuzz.out")
	f=$(grep -c '^FAIL: fuzz' "$logdir/fuzz.out")
	printf '# PASS: %d\n# SKIP: 0\n# FAIL: %d\n# ERROR: 0\n' "$p" "$f" >"$log"
	echo "=== fuzz done after $(( $(date +%s) - t0 )) s ==="
}

# heartbeat: every two minutes, which test files are running. make check
# prints a file's results only when it ends, so without this a long
# file (the fault matrices, a real server's suite) looks like a hang.
heartbeat() {
	while sleep 120; do
		kill -0 $$ 2>/dev/null || exit 0	# run-all.sh is gone
		# This tree's files only (other checkouts may be testing too).
		running=$(ps -eo args= 2>/dev/null | grep -F "$top/tests/" |
		    sed -n 's|.*bats-exec-file --dummy-flag [^ ]*/tests/\([^ /]*\.bats\).*|\1|p' |
		    sort | uniq -c | awk '{ printf "%s%s ", $2, ($1 > 1 ? "(x" $1 ")" : "") }')
		echo "run-all.sh: $(( $(date +%s) - t0 )) s, running: ${running:-(no bats file)}"
	done
}
heartbeat &
heartbeat_pid=$!
trap 'kill "$heartbeat_pid" 2>/dev/null' EXIT
trap 'kill "$heartbeat_pid" 2>/dev/null; exit 143' TERM
trap 'kill "$heartbeat_pid" 2>/dev/null; exit 130' INT

if [ "$quick" -eq 1 ]; then
	echo "=== normal build ==="
	build normal && check normal check-quick
else
	# Configure the sanitizer build while the normal one compiles.
	mkdir -p build-sanitize
	(cd build-sanitize && { [ -f Makefile ] ||
	    "$top/configure" --enable-sanitizers >configure.log 2>&1; }) &
	cfg_pid=$!
	echo "=== normal build ==="
	if build normal; then
		check normal check &
		normal_pid=$!
		(valgrind_units; fuzz_briefly) 2>&1 | sed -u 's/^/[valgrind, fuzz] /' &
		vf_pid=$!
	fi
	wait "$cfg_pid"
	echo "=== sanitize build ==="
	if build sanitize --enable-sanitizers; then
		check sanitize check
	fi
	[ -z "${normal_pid:-}" ] || wait "$normal_pid"
	[ -z "${vf_pid:-}" ] || wait "$vf_pid"
fi

# Keep each failing test's log where CI output shows it (this run's).
for f in $(find "$top"/build-normal/tests "$top"/build-sanitize/tests -name '*.log' -newer "$logdir/started" 2>/dev/null); do
	if grep -q '^not ok\|^FAIL\|^ERROR' "$f" 2>/dev/null; then
		echo "--- $f"; tail -n 60 "$f"
	fi
done

# Where the time went: every run prints it.
dirs=$top/build-normal
[ "$quick" -eq 1 ] || dirs="$dirs $top/build-sanitize"
# shellcheck disable=SC2086
"$top/tests/slowest" -n 15 --newer "$logdir/started" $dirs >"$logdir/slowest" 2>&1
elapsed=$(( $(date +%s) - t0 ))
echo
cat "$logdir/slowest"
echo "run-all.sh: took $((elapsed / 60)) min $((elapsed % 60)) s; budget" \
    "$budget s (tests/README), fails over $((budget * 3 / 2)) s"

pass=0; fail=0; skip=0
for log in "$logdir"/*.log; do
	p=$(sed -n 's/^# PASS:  *//p' "$log" | tail -n 1)
	xp=$(sed -n 's/^# XPASS: *//p' "$log" | tail -n 1)
	f=$(sed -n 's/^# FAIL:  *//p' "$log" | tail -n 1)
	xf=$(sed -n 's/^# XFAIL: *//p' "$log" | tail -n 1)
	e=$(sed -n 's/^# ERROR: *//p' "$log" | tail -n 1)
	s=$(sed -n 's/^# SKIP:  *//p' "$log" | tail -n 1)
	[ -n "$p" ] || { echo "FAIL: no results in $log"; fail=$((fail + 1)); continue; }
	pass=$((pass + p + ${xp:-0}))
	fail=$((fail + ${f:-0} + ${xf:-0} + ${e:-0}))
	skip=$((skip + ${s:-0}))
done
[ -f "$logdir/summary" ] && fail=$((fail + $(wc -l <"$logdir/summary")))
if [ "$elapsed" -gt $((budget * 3 / 2)) ]; then
	echo "FAIL: the run took $elapsed s, more than half again its budget" \
	    "of $budget s: see the table above"
	fail=$((fail + 1))
fi
[ "$fail" -eq 0 ] || status=1
echo "$pass passed, $fail failed, $skip skipped"
exit $status
