#!/bin/sh
# run-all.sh -- the whole test suite: a normal build and an
# AddressSanitizer/UndefinedBehaviorSanitizer build, each running
# `make check` (unit tests and bats tests, against the project's test server
# and a private Dovecot), plus the normal build's unit tests under
# valgrind, and each fuzz target for 10 s (tests/fuzz/run-all).  Ends with "N passed, N failed, N skipped" and
# exits non-zero if anything failed.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
logdir=$top/test-logs
rm -rf "$logdir"
mkdir -p "$logdir"
status=0

[ -x configure ] || autoreconf -fi || exit 1
if [ -f config.status ]; then
	echo "run-all.sh: this source tree is configured in place; the test builds"
	echo "run-all.sh: need a clean one: run 'make distclean' here first"
	echo "0 passed, 1 failed"
	exit 1
fi

# build_and_check NAME CONFIGURE-ARGS...
build_and_check() {
	name=$1; shift
	dir=$top/build-$name
	mkdir -p "$dir"
	echo "=== $name build ==="
	if ! (cd "$dir" && { [ -f Makefile ] || "$top/configure" "$@" >configure.log 2>&1 || { cat configure.log; exit 1; }; } &&
	    make -j2 >build.log 2>&1 || { cat build.log; exit 1; }); then
		echo "$name: build failed"
		echo "FAIL: $name build" >>"$logdir/summary"
		status=1
		return
	fi
	(cd "$dir" && make -j2 check) 2>&1 | tee "$logdir/$name.log"
	# Keep each failing test's log where CI output shows it.
	for f in $(find "$dir/tests" -name '*.log' 2>/dev/null); do
		if grep -q '^not ok\|^FAIL\|^ERROR' "$f" 2>/dev/null; then
			echo "--- $f"; tail -n 60 "$f"
		fi
	done
	if ! grep -q '^# FAIL:  *0$' "$logdir/$name.log" ||
	    ! grep -q '^# ERROR: *0$' "$logdir/$name.log"; then
		status=1
	fi
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
			f=$((f + 1)); status=1
		fi
	done
	printf '# PASS: %d\n# SKIP: 0\n# FAIL: %d\n# ERROR: 0\n' "$p" "$f" >"$log"
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
		status=1
		return
	fi
	FUZZ_BIN=$dir/tests/fuzz "$top/tests/fuzz/run-all" 10 \
	    | tee "$logdir/fuzz.out"
	p=$(grep -c '^PASS: fuzz' "$logdir/fuzz.out")
	f=$(grep -c '^FAIL: fuzz' "$logdir/fuzz.out")
	[ "$f" -eq 0 ] || status=1
	printf '# PASS: %d\n# SKIP: 0\n# FAIL: %d\n# ERROR: 0\n' "$p" "$f" >"$log"
}

# heartbeat: every two minutes, which test files are running. make -j2
# check prints a file's results only when it ends, so without this a long
# file (the fault matrices, a real server's suite) looks like a hang.
heartbeat() {
	t0=$(date +%s)
	while sleep 120; do
		kill -0 $$ 2>/dev/null || exit 0	# run-all.sh is gone
		running=$(ps -eo args= 2>/dev/null |
		    sed -n 's|.*bats-exec-file --dummy-flag [^ ]*/tests/\([^ /]*\.bats\).*|\1|p' |
		    sort -u | tr '\n' ' ')
		echo "run-all.sh: $(( $(date +%s) - t0 )) s, running: ${running:-(no bats file)}"
	done
}
heartbeat &
heartbeat_pid=$!
trap 'kill "$heartbeat_pid" 2>/dev/null' EXIT
trap 'kill "$heartbeat_pid" 2>/dev/null; exit 143' TERM
trap 'kill "$heartbeat_pid" 2>/dev/null; exit 130' INT

build_and_check normal
valgrind_units
fuzz_briefly
build_and_check sanitize --enable-sanitizers

pass=0; fail=0; skip=0
for log in "$logdir"/*.log; do
	p=$(sed -n 's/^# PASS:  *//p' "$log" | tail -n 1)
	xp=$(sed -n 's/^# XPASS: *//p' "$log" | tail -n 1)
	f=$(sed -n 's/^# FAIL:  *//p' "$log" | tail -n 1)
	xf=$(sed -n 's/^# XFAIL: *//p' "$log" | tail -n 1)
	e=$(sed -n 's/^# ERROR: *//p' "$log" | tail -n 1)
	s=$(sed -n 's/^# SKIP:  *//p' "$log" | tail -n 1)
	[ -n "$p" ] || { status=1; fail=$((fail + 1)); continue; }
	pass=$((pass + p + ${xp:-0}))
	fail=$((fail + ${f:-0} + ${xf:-0} + ${e:-0}))
	skip=$((skip + ${s:-0}))
done
[ -f "$logdir/summary" ] && fail=$((fail + $(wc -l <"$logdir/summary")))
[ "$fail" -eq 0 ] || status=1
echo "$pass passed, $fail failed, $skip skipped"
exit $status
