#!/usr/bin/env bats
# service.bats -- popfetch run for others (mail servers, containers, admin
# panels): a directory of account files and include, reloads that add,
# remove and change accounts.

# 300 s: the 300-account test waits for two rounds of polls (a first
# round that takes over a minute on a busy two-core machine, then 30 s);
# its own waits are bounded at 120 s each.
BATS_TEST_TIMEOUT=300
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

# field NAME KEY -- KEY of account NAME's status record (python's repr).
field() {
	"$PYTHON3" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
	    "$HOME/.local/state/popfetch/status/$1.json" "$2"
}

@test "status records after each run; --health exits 0 or 1 with a line per unhealthy account" {
	make_mailbox "$MB" 2
	popserver_start --mailbox "$MB"
	{ acct a; acct b "password wrong"; } | write_fetchrc "$RC"
	run "$POPFETCH" -C "$RC" --health
	assert_failure 1
	assert_output "a: unhealthy: not polled yet (no status record)
b: unhealthy: not polled yet (no status record)"
	run "$POPFETCH" -C "$RC" -a
	assert_failure 77
	# Every field, with its type.
	"$PYTHON3" - "$HOME/.local/state/popfetch/status" <<-'PY'
	import json, sys, time
	d = sys.argv[1]
	a = json.load(open(d + "/a.json"))
	b = json.load(open(d + "/b.json"))
	keys = {"version", "account", "last_attempt", "last_success", "result",
	        "exit", "messages", "bytes", "consecutive_failures", "error",
	        "set_aside", "needs_authorize"}
	assert set(a) == keys and set(b) == keys, (a, b)
	now = time.time()
	assert a["version"] == 1 and a["account"] == "a"
	assert abs(a["last_attempt"] - now) < 60 and a["last_success"] == a["last_attempt"]
	assert a["result"] == "ok" and a["exit"] == 0 and a["error"] is None
	assert a["messages"] == 2 and a["bytes"] > 0 and a["consecutive_failures"] == 0
	assert a["needs_authorize"] is False
	assert a["set_aside"] == 0 and b["set_aside"] == 0
	assert b["result"] == "noperm" and b["exit"] == 77 and b["last_success"] is None
	assert b["consecutive_failures"] == 1 and "b" not in b["error"][:2]
	assert b["messages"] == 0 and isinstance(b["error"], str) and b["error"]
	PY
	[ "$(stat -c %a "$HOME/.local/state/popfetch/status/a.json")" = 600 ]
	run "$POPFETCH" -C "$RC" --health
	assert_success
	assert_output ""
	run "$POPFETCH" -C "$RC" --health --max-failures 1
	assert_failure 1
	assert_output --regexp '^b: unhealthy: 1 failure in a row: .+$'
	run "$POPFETCH" -C "$RC" --health --max-failures 1 a
	assert_success
	"$POPFETCH" -C "$RC" -q -a || true
	"$POPFETCH" -C "$RC" -q -a || true
	[ "$(field b consecutive_failures)" = 3 ]
	[ "$(field a consecutive_failures)" = 0 ]
	run "$POPFETCH" -C "$RC" --health
	assert_failure 1
	assert_output --regexp '^b: unhealthy: 3 failures in a row: '
	# Fixed: working again, healthy.
	sed -i 's/^password wrong$/password secret/' "$RC"
	run "$POPFETCH" -C "$RC" -a
	assert_success
	[ "$(field b consecutive_failures)" = 0 ]
	run "$POPFETCH" -C "$RC" --health --max-failures 1
	assert_success
	# --max-age: a success longer ago than that is not healthy.
	"$PYTHON3" - "$HOME/.local/state/popfetch/status/a.json" <<-'PY'
	import json, sys
	r = json.load(open(sys.argv[1])); r["last_success"] -= 7200
	json.dump(r, open(sys.argv[1], "w"))
	PY
	run "$POPFETCH" -C "$RC" --health --max-age 1h
	assert_failure 1
	assert_output --regexp '^a: unhealthy: last successful poll 72[0-9][0-9] s ago$'
	run "$POPFETCH" -C "$RC" --health --max-age 3h
	assert_success
	# A record that is not one is named, not trusted.
	echo '{"version":1,"consecutive_failures":"x"}' >"$HOME/.local/state/popfetch/status/b.json"
	run "$POPFETCH" -C "$RC" --health
	assert_failure 1
	assert_output --partial "b: unhealthy: $HOME/.local/state/popfetch/status/b.json: not a status record"
}

@test "--health: bad values and combinations are usage errors (64)" {
	run "$POPFETCH" --health --max-failures 0
	assert_failure 64
	run "$POPFETCH" --health --max-age soon
	assert_failure 64
	run "$POPFETCH" --max-age 1h
	assert_failure 64
	run "$POPFETCH" --health -s
	assert_failure 64
}

@test "-s --json carries each account's status record" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB"
	{ acct a; acct b; } | write_fetchrc "$RC"
	run "$POPFETCH" -C "$RC" a
	assert_success
	"$POPFETCH" -C "$RC" -s --json -a >"$TEST_TMP/j" 2>/dev/null
	"$PYTHON3" -c '
import json, sys
d = json.load(open(sys.argv[1]))
a, b = d["accounts"]
assert a["status"]["consecutive_failures"] == 0 and a["status"]["messages"] == 1, a
assert a["status"]["result"] == "ok" and a["status"]["needs_authorize"] is False
assert b["status"] is None, b
' "$TEST_TMP/j"
}

@test "--daemon writes each account's status record after every poll" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB"
	{ acct a; acct b "password wrong"; } | write_fetchrc "$DIR/ab.conf"
	daemon_start -C "$DIR" -a --daemon 1s
	wait_for 30 eval '[ "$(field b consecutive_failures 2>/dev/null)" -ge 2 ]'
	wait_for 30 eval '[ "$(field a messages 2>/dev/null)" = 0 ]'
	daemon_stop
	[ "$(field a last_success)" != None ]
	[ "$(field b last_success)" = None ]
	run "$POPFETCH" -C "$DIR" --health --max-failures 2
	assert_failure 1
	assert_output --regexp '^b: unhealthy: [0-9]+ failures in a row: '
	refute_output --partial "a:"
}

# polls NAME -- how many "NAME: no new messages|fetched" lines (-v) so far.
polls() {
	grep -c "^$1: \(no new messages\|[0-9]* messages\? fetched\)" "$OUT"
}

@test "--daemon: an account's own interval wins over --daemon's" {
	popserver_start --mailbox "$MB"
	{ acct a; acct b "interval 1h"; } | write_fetchrc "$RC"
	daemon_start -C "$RC" -a -v --daemon 1s
	wait_for 30 eval '[ "$(polls a)" -ge 4 ]'
	daemon_stop
	[ "$(polls b)" -eq 1 ]
}

@test "--poll-now (SIGUSR1 through the pid file) polls every account at once" {
	make_mailbox "$TEST_TMP/m" 2
	popserver_start --mailbox "$MB"
	{ acct a; acct b "interval 30s"; } | write_fetchrc "$RC"
	run "$POPFETCH" --poll-now
	assert_failure 69
	assert_output --partial "no daemon to poll: $HOME/.local/state/popfetch/daemon.pid"
	daemon_start -C "$RC" -a -v --daemon 1h
	wait_for 20 eval '[ "$(polls b)" -eq 1 ]'
	wait_for 20 test -s "$HOME/.local/state/popfetch/daemon.pid"
	[ "$(cat "$HOME/.local/state/popfetch/daemon.pid")" = "$DAEMON_PID" ]
	cp "$TEST_TMP/m/msg-00001" "$MB/"
	run "$POPFETCH" --poll-now
	assert_success
	assert_output --partial "asked the daemon (pid $DAEMON_PID) to poll every account"
	wait_for 20 has a 1
	wait_for 20 has b 1
	grep -q "asked to poll now: polling 2 accounts" "$OUT"
	# Plain SIGUSR1 does the same.
	cp "$TEST_TMP/m/msg-00002" "$MB/"
	kill -USR1 "$DAEMON_PID"
	wait_for 20 has a 2
	wait_for 20 has b 2
	daemon_stop
	# Gone with the daemon; a stale file does not signal anything else.
	[ ! -e "$HOME/.local/state/popfetch/daemon.pid" ]
	sleep 60 &
	echo $! >"$HOME/.local/state/popfetch/daemon.pid"
	run "$POPFETCH" --poll-now
	kill $! 2>/dev/null || true
	assert_failure 69
	assert_output --partial "not a running popfetch (a stale file)"
}

# rss PID -- its resident set size in KiB.
rss() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

@test "300 accounts in a directory, 30 s intervals: one process, polls spread, memory flat" {
	popserver_start --mailbox "$MB"
	local i
	for ((i = 0; i < 300; i++)); do
		acct "u$i" "interval 30s" | write_fetchrc "$DIR/u$i.conf"
	done
	daemon_start -C "$DIR" -a --daemon 1h
	local st=$HOME/.local/state/popfetch/status
	# The first round: every account polled once.
	wait_for 120 eval '[ "$(find "$st" -name "*.json" 2>/dev/null | wc -l)" -eq 300 ]'
	local first
	first=$(rss "$DAEMON_PID")
	# No process per account: the daemon polls them itself (-j 1).
	[ -z "$(pgrep -P "$DAEMON_PID")" ]
	# The second round: each again 30 s (plus 0-3 s) after its first.
	local t0
	t0=$(date +%s)
	wait_for 120 eval '[ "$("$PYTHON3" -c "
import glob, json, sys
print(sum(1 for f in glob.glob(sys.argv[1] + \"/*.json\")
          if json.load(open(f))[\"last_attempt\"] >= int(sys.argv[2]) + 20))" "$st" "$t0")" -eq 300 ]'
	[ -z "$(pgrep -P "$DAEMON_PID")" ]
	local second
	second=$(rss "$DAEMON_PID")
	daemon_stop
	# Memory flat: a second round adds no more than 2 MiB (not measurable
	# under ASan, whose quarantine keeps freed memory: LeakSanitizer checks
	# that build instead).
	if ! grep -qa __asan_init "$POPFETCH"; then
		[ $((second - first)) -lt 2048 ] ||
			{ echo "RSS $first -> $second KiB"; false; }
	fi
	# Spread: no second holds half of the accounts' polls (0-3 s of
	# spread over 300 polls puts about 75 in each; a busy machine that
	# stalls the daemon for a moment bunches them, 138 seen once).
	"$PYTHON3" - "$st" <<-'PY'
	import collections, glob, json, sys
	t = [json.load(open(f))["last_attempt"] for f in glob.glob(sys.argv[1] + "/*.json")]
	c = collections.Counter(t)
	assert len(t) == 300, len(t)
	assert max(c.values()) < 150, c.most_common(3)
	assert len(c) >= 3, c
	PY
}

@test "on_failure runs once per change: failing, then working again, with its environment" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB"
	local hook='printf "%s|%s|%s|%s\n" "$POPFETCH_ACCOUNT" "$POPFETCH_STATE" "$POPFETCH_EXIT" "$POPFETCH_MESSAGE" >>'"$TEST_TMP/hooks"
	{ acct a "on_failure $hook"; acct b "password wrong" "on_failure $hook"; } |
	    write_fetchrc "$RC"
	run "$POPFETCH" -C "$RC" -a
	assert_failure 77
	run "$POPFETCH" -C "$RC" -a
	run "$POPFETCH" -C "$RC" -a
	[ "$(wc -l <"$TEST_TMP/hooks")" -eq 1 ]
	run cat "$TEST_TMP/hooks"
	assert_output --regexp '^b\|failing\|77\|.+$'
	sed -i 's/^password wrong$/password secret/' "$RC"
	run "$POPFETCH" -C "$RC" -a
	assert_success
	run "$POPFETCH" -C "$RC" -a
	assert_success
	[ "$(wc -l <"$TEST_TMP/hooks")" -eq 2 ]
	[ "$(sed -n 2p "$TEST_TMP/hooks")" = "b|working|0|" ]
}

@test "on_failure: a hook that hangs is killed at the account's timeout; the daemon goes on" {
	local nap=917.$RANDOM$RANDOM	# this run's own: builds run at once
	popserver_start --mailbox "$MB"
	acct b "password wrong" "timeout 2" \
	    "on_failure echo ran >>$TEST_TMP/hooks; exec sleep $nap" |
	    write_fetchrc "$RC"
	daemon_start -C "$RC" -a --daemon 1s
	wait_for 30 grep -q "b: warning: on_failure command did not finish within 2 seconds and was killed" "$OUT"
	wait_for 30 eval '[ "$(field b consecutive_failures 2>/dev/null)" -ge 3 ]'
	daemon_stop
	[ "$(wc -l <"$TEST_TMP/hooks")" -eq 1 ]
	! pgrep -f "sleep $nap" || false
}

# validate FILE... -- every line of each FILE is an event of the schema;
# prints "event/action" for each, one a line.
validate() {
	"$PYTHON3" - "$TESTS_SRCDIR/lib/events.schema.json" "$@" <<-'PY'
	import json, sys
	import jsonschema
	schema = json.load(open(sys.argv[1]))
	v = jsonschema.Draft202012Validator(schema)
	for path in sys.argv[2:]:
	    for n, line in enumerate(open(path), 1):
	        e = json.loads(line)
	        errs = list(v.iter_errors(e))
	        assert not errs, (path, n, line, [x.message for x in errs])
	        print(e["event"] + "/" + str(e.get("action", e.get("level", e.get("result")))))
	PY
}

@test "log_format json: message and run events, every kind, valid against the schema" {
	make_mailbox "$TEST_TMP/m" 3
	make_mailbox "$TEST_TMP/big" 1 20000
	cp "$TEST_TMP/m"/* "$MB/"
	cp "$TEST_TMP/big/msg-00001" "$MB/zz-big"
	popserver_start --mailbox "$MB"
	acct a "keep off" "log_format json" "logfile $TEST_TMP/a.log" \
	    "skipsize 10k" "fetch_limit 1" | write_fetchrc "$RC"
	run "$POPFETCH" -C "$RC" a
	assert_success
	sed -i '/^fetch_limit/d' "$RC"
	run "$POPFETCH" -C "$RC" a
	assert_success
	# The terminal got the same objects as the file.
	printf '%s\n' "$output" >"$TEST_TMP/stdout"
	run validate "$TEST_TMP/a.log" "$TEST_TMP/stdout"
	assert_success
	assert_line "message/delivered"
	assert_line "message/deleted"
	assert_line "message/left"
	assert_line "message/skipped"
	assert_line "run/ok"
	assert_line "log/info"
	# The fields of one delivery, as the message and server had them.
	"$PYTHON3" - "$TEST_TMP/a.log" "$TEST_TMP/m/msg-00001" "$TEST_TMP/md-a" <<-'PY'
	import json, sys, email
	ev = [json.loads(l) for l in open(sys.argv[1])]
	want = email.message_from_file(open(sys.argv[2]))["Message-ID"]
	d = [e for e in ev if e["event"] == "message" and e["action"] == "delivered"]
	assert len(d) == 3, d
	first = d[0]
	assert first["account"] == "a" and first["num"] == 1, first
	assert first["message_id"] == want, (first, want)
	assert first["uid"] and first["size"] > 100
	assert first["destination"] == "maildir " + sys.argv[3], first
	assert first["answer"] == "written and synced" and first["reason"] is None
	left = [e for e in ev if e.get("action") == "left"]
	assert len(left) == 3 and left[0]["reason"] == "fetch_limit", left
	sk = [e for e in ev if e.get("action") == "skipped"]
	assert len(sk) == 1 and "skipsize" in sk[0]["reason"] and sk[0]["size"] > 10000, sk
	dl = [e for e in ev if e.get("action") == "deleted"]
	assert len(dl) == 3, dl
	runs = [e for e in ev if e["event"] == "run"]
	assert [r["fetched"] for r in runs] == [1, 2] and runs[0]["left"] == 3, runs
	assert runs[1]["skipped"] == 1 and runs[1]["error"] is None
	PY
}

@test "log_format json: an MDA's refusal and deferral carry its answer; a failed run its error" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB"
	{ acct r "log_format json" "delivery mda exit 1"
	  acct d "log_format json" "delivery mda exit 75"
	  acct p "log_format json" "password wrong"; } | write_fetchrc "$RC"
	run "$POPFETCH" -C "$RC" -a
	printf '%s\n' "$output" >"$TEST_TMP/out"
	run validate "$TEST_TMP/out"
	assert_success
	assert_line "message/refused"
	assert_line "message/deferred"
	assert_line "run/noperm"
	assert_line "log/error"
	"$PYTHON3" - "$TEST_TMP/out" <<-'PY'
	import json, sys
	ev = [json.loads(l) for l in open(sys.argv[1])]
	r = [e for e in ev if e.get("action") == "refused"][0]
	assert r["account"] == "r" and r["destination"] == "mda exit 1", r
	assert "1" in r["answer"], r
	d = [e for e in ev if e.get("action") == "deferred"][0]
	assert d["account"] == "d" and "75" in d["answer"], d
	p = [e for e in ev if e["event"] == "run" and e["account"] == "p"][0]
	assert p["exit"] == 77 and p["error"], p
	PY
}

@test "--daemon -a on an empty directory starts with no account, is healthy, and polls files added on SIGHUP" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB"
	daemon_start -C "$DIR" -a --daemon 1h
	wait_for 20 grep -q "polling 0 accounts" "$OUT"
	run "$POPFETCH" -C "$DIR" --health
	assert_success
	acct a | write_fetchrc "$DIR/.a.conf.tmp"
	mv "$DIR/.a.conf.tmp" "$DIR/a.conf"
	kill -HUP "$DAEMON_PID"
	wait_for 20 has a 1
	daemon_stop
	run "$POPFETCH" -C "$DIR" --health
	assert_success
}

@test "docs/examples/popfetch-accounts.service: systemd-analyze verify; its ExecStart and ExecReload run" {
	local unit=$TESTS_SRCDIR/../docs/examples/popfetch-accounts.service
	if command -v systemd-analyze >/dev/null; then
		mkdir -p "$TEST_TMP/units"
		sed 's|/usr/local/bin/popfetch|'"$POPFETCH"'|' "$unit" \
		    >"$TEST_TMP/units/popfetch-accounts.service"
		run systemd-analyze verify --man=no "$TEST_TMP/units/popfetch-accounts.service"
		[ "$status" -eq 0 ] || [[ $output == *"Failed to"*"bus"* ]] ||
			fail "$output"
	fi
	make_mailbox "$TEST_TMP/m" 2
	popserver_start --mailbox "$MB"
	acct a | write_fetchrc "$DIR/a.conf"
	local start reload state
	start=$(sed -n 's/^ExecStart=//p' "$unit")
	reload=$(sed -n 's/^ExecReload=//p' "$unit")
	state=$(sed -n 's/^Environment=XDG_STATE_HOME=//p' "$unit")
	[[ $start == "/usr/local/bin/popfetch -C /etc/popfetch/accounts.d -a --daemon 5m" ]]
	[[ $state == /var/lib/popfetch ]]
	start=${start//\/usr\/local\/bin\/popfetch/$POPFETCH}
	start=${start//\/etc\/popfetch\/accounts.d/$DIR}
	export XDG_STATE_HOME=$TEST_TMP/state
	cp "$TEST_TMP/m/msg-00001" "$MB/"
	# shellcheck disable=SC2086 # the unit's words, as systemd splits them
	$start >"$OUT" 2>&1 3>&- &
	DAEMON_PID=$!
	wait_for 20 grep -q "polling 1 account" "$OUT"
	wait_for 20 has a 1
	acct b | write_fetchrc "$DIR/b.conf"
	reload=${reload//\$MAINPID/$DAEMON_PID}
	$reload
	wait_for 20 has b 1
	daemon_stop
	[ -e "$TEST_TMP/state/popfetch/status/b.json" ]
}

# docker_cmd LINE -- the JSON array of a Dockerfile's CMD, one word a line.
docker_cmd() {
	"$PYTHON3" -c 'import json, sys; print("\n".join(json.loads(sys.argv[1])))' "$1"
}

@test "docs/examples/Dockerfile: Debian's packages exist; its CMD and HEALTHCHECK run as written" {
	local df=$TESTS_SRCDIR/../docs/examples/Dockerfile p
	grep -q '^FROM debian:bookworm' "$df"
	# Every package it installs is one of this Debian's (one apt-cache
	# call: each loads the whole package cache, seconds on a busy machine).
	local -a pkgs
	mapfile -t pkgs < <(sed -n '/apt-get install/,/rm -rf/p' "$df" |
	    tr ' \\' '\n\n' | grep -E '^(lib|build-|auto|pkg-|ca-)')
	((${#pkgs[@]} > 5))
	local known
	known=$(apt-cache show --no-all-versions "${pkgs[@]}" 2>/dev/null |
	    sed -n 's/^Package: //p')
	for p in "${pkgs[@]}"; do
		grep -qx "$p" <<<"$known" || fail "no Debian package $p"
	done
	local -a cmd health
	mapfile -t cmd < <(docker_cmd "$(sed -n 's/^CMD //p' "$df")")
	mapfile -t health < <(docker_cmd "$(sed -n 's/^ *CMD \(\["popfetch", "--health".*\)/\1/p' "$df")")
	[[ ${cmd[0]} == popfetch && ${health[1]} == --health ]]
	export XDG_STATE_HOME=$TEST_TMP/state
	local i
	for i in "${!cmd[@]}"; do
		cmd[i]=${cmd[i]/#\/etc\/popfetch\/accounts.d/$DIR}
	done
	for i in "${!health[@]}"; do
		health[i]=${health[i]/#\/etc\/popfetch\/accounts.d/$DIR}
	done
	cmd[0]=$POPFETCH
	health[0]=$POPFETCH
	popserver_start --mailbox "$MB"
	acct a "interval 30s" "password wrong" | write_fetchrc "$DIR/a.conf"
	"${cmd[@]}" >"$OUT" 2>&1 3>&- &
	DAEMON_PID=$!
	wait_for 20 test -e "$TEST_TMP/state/popfetch/status/a.json"
	# One failure: healthy still (--max-failures 3).
	run "${health[@]}"
	assert_success
	kill -USR1 "$DAEMON_PID"
	kill -USR1 "$DAEMON_PID"
	wait_for 30 eval '[ "$(XDG_STATE_HOME=$TEST_TMP/state HOME=/nonexistent "$PYTHON3" -c "import json; print(json.load(open(\"$TEST_TMP/state/popfetch/status/a.json\"))[\"consecutive_failures\"])")" -ge 3 ] || { kill -USR1 $DAEMON_PID; false; }'
	run "${health[@]}"
	assert_failure 1
	assert_output --regexp '^a: unhealthy: [0-9]+ failures in a row'
	# The container's stop signal: gone at once, status 0.
	kill -TERM "$DAEMON_PID"
	wait_for 10 eval '! kill -0 "$DAEMON_PID" 2>/dev/null'
	wait "$DAEMON_PID"
	DAEMON_PID=
}
