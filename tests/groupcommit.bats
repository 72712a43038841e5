#!/usr/bin/env bats
# groupcommit.bats -- delivery is group-committed (one directory fsync and
# one UID state fsync per batch, not per message) without ever sending a
# DELE before the message and its UID record are durable.  Watched with
# strace: the order of fsync(2) calls and of the commands written to the
# socket is the property under test.

load lib/common
load lib/popserver
load lib/mbox

setup() {
	command -v strace >/dev/null || skip "strace is not installed (./setup installs it)"
	TRACE=$TEST_TMP/strace.out
}

teardown() {
	popserver_stop || true
}

rc() {
	# Byte-for-byte comparisons; fetch.bats tests the header.
	popserver_rc "timeout 10" "delivery maildir $MD" \
	    "received_header off" "uidls_file $TEST_TMP/state/uidls" "$@"
}

traced_fetch() {
	# LeakSanitizer cannot run under ptrace: no leak check in traced runs.
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
	    run strace -f -qq -o "$TRACE" -s 4096 -e trace=openat,fsync,fdatasync,syncfs,write,sendto,linkat \
	    "$POPFETCH" -C "$RC" "$@"
	merge_trace
}

# merge_trace -- with more than one process or thread traced, strace may
# print a call in two halves ("<unfinished ...>", then "<... resumed>")
# with other calls between them.  Rewrites $TRACE with each call
# on one line: where it began for writes (the bytes may be out from then
# on), where it ended for everything else (a sync counts once it is done).
merge_trace() {
	"$PYTHON3" - "$TRACE" <<'PY'
import re, sys
path = sys.argv[1]
out, open_calls = [], {}
for line in open(path, errors="replace"):
    line = line.rstrip("\n")
    m = re.match(r"(\d+) +(.*) <unfinished \.\.\.>$", line)
    if m:
        pid, head = m.group(1), m.group(2)
        if re.match(r"(write|sendto)\(", head):
            out.append("%s %s = ?" % (pid, head))
            open_calls[pid] = None
        else:
            open_calls[pid] = head
        continue
    m = re.match(r"(\d+) +<\.\.\. \w+ resumed>(.*)$", line)
    if m:
        head = open_calls.pop(m.group(1), None)
        if head is not None:
            out.append("%s %s%s" % (m.group(1), head, m.group(2)))
        continue
    out.append(line)
open(path, "w").write("\n".join(out) + "\n")
PY
}

# check_trace N_MESSAGES -- reads $TRACE; fails unless
#  - syncs (fsync, fdatasync, syncfs) number at most 4 per batch of 64 + 6:
#    never one per message;
#  - whenever "DELE" is written to the socket, at least as many UIDs have
#    been made durable (appended, then fsync'd) as DELEs have gone out
#    (DELEs go out in delivery order, so the count is enough).
check_trace() {
	"$PYTHON3" - "$TRACE" "$1" <<'PY'
import re, sys
path, n = sys.argv[1], int(sys.argv[2])
state_fds, fsyncs, dirty, durable, deles = set(), 0, 0, 0, 0
for line in open(path, errors="replace"):
    m = re.search(r'openat\(.*"[^"]*/state/uidls", .*\) = (\d+)', line)
    if m:
        state_fds.add(int(m.group(1)))
        continue
    m = re.search(r'\b(fsync|fdatasync|syncfs)\((\d+)\)\s+= 0', line)
    if m:
        fsyncs += 1
        if int(m.group(2)) in state_fds:
            durable += dirty
            dirty = 0
        continue
    m = re.search(r'\b(?:write|sendto)\((\d+), "(.*?)"', line)
    if not m:
        continue
    fd, data = int(m.group(1)), m.group(2)
    if fd in state_fds and not data.startswith("#"):
        dirty += data.count("\\n")
    k = len(re.findall(r"DELE \d+", data))
    if k:
        deles += k
        if deles > durable:
            sys.exit("DELE sent with %d UIDs not yet durable (%d DELEs, "
                     "%d durable UIDs)" % (dirty, deles, durable))
batches = (n + 63) // 64
limit = 4 * batches + 6
if fsyncs > limit:
    sys.exit("%d syncs for %d messages (limit %d): not group-committed"
             % (fsyncs, n, limit))
if deles != n:
    sys.exit("%d DELEs seen, expected %d" % (deles, n))
print("%d syncs, %d DELEs" % (fsyncs, deles))
PY
}

@test "PIPELINING: a few syncs per batch, not per message; DELE only after the batch is durable" {
	make_mailbox "$MB" 150
	cp -r "$MB" "$TEST_TMP/orig"
	popserver_start --mailbox "$MB" --pipelining --log "$SLOG"
	rc
	traced_fetch
	assert_success
	assert_maildir_matches "$TEST_TMP/orig" "$MD"
	run check_trace 150
	assert_success
	[ -z "$(ls "$MD/tmp")" ]
}

@test "lock-step (no PIPELINING): same group commit, same order" {
	make_mailbox "$MB" 20
	cp -r "$MB" "$TEST_TMP/orig"
	popserver_start --mailbox "$MB" --log "$SLOG"
	rc
	traced_fetch
	assert_success
	assert_maildir_matches "$TEST_TMP/orig" "$MD"
	run check_trace 20
	assert_success
}

# check_order N -- reads $TRACE; fails unless every DELE comes after the
# syncfs, the link into new/ and the fsync of new/ of as many messages,
# and after the fsync of as many UIDs (records, not pending lines).
check_order() {
	"$PYTHON3" - "$TRACE" "$1" <<'PY'
import re, sys
path, n = sys.argv[1], int(sys.argv[2])
state, newdirs = set(), set()
synced = False          # a syncfs since the last fsync of new/
links, md_durable = 0, 0
dirty, uid_durable, deles = 0, 0, 0
for line in open(path, errors="replace"):
    m = re.search(r'openat\(.*"[^"]*/state/uidls", .*\) = (\d+)', line)
    if m:
        state.add(int(m.group(1)))
    m = re.search(r'openat\(.*"[^"]*/new", O_RDONLY[^)]*O_DIRECTORY.*\) = (\d+)', line)
    if m:
        newdirs.add(int(m.group(1)))
    if re.search(r"\bsyncfs\(\d+\) += 0", line):
        synced = True
    m = re.search(r"\blinkat\(\d+, \"[^\"]*\", (\d+), .*\) = 0", line)
    if m and int(m.group(1)) in newdirs:
        if not synced:
            sys.exit("a message linked into new/ before its syncfs")
        links += 1
    m = re.search(r"\bfsync\((\d+)\) += 0", line)
    if m and int(m.group(1)) in newdirs and links:
        md_durable += links
        links, synced = 0, False
    if m and int(m.group(1)) in state:
        uid_durable += dirty
        dirty = 0
    m = re.search(r'\b(?:write|sendto)\((\d+), "(.*?)"', line)
    if not m:
        continue
    fd, data = int(m.group(1)), m.group(2)
    if fd in state:
        # Records only ("<time> <uid>"), not the pending lines.
        dirty += len(re.findall(r"(?:^|\\n)\d+ ", data))
    k = len(re.findall(r"DELE \d+", data))
    if k:
        deles += k
        if deles > md_durable or deles > uid_durable:
            sys.exit("DELE %d went out with %d messages and %d UIDs durable"
                     % (deles, md_durable, uid_durable))
if deles != n:
    sys.exit("%d DELEs seen, expected %d" % (deles, n))
print("%d DELEs, each after its message's and its UID's syncs" % deles)
PY
}

@test "each DELE after its message's syncfs, link into new/, fsync of new/ and its UID's fsync" {
	make_mailbox "$MB" 200
	cp -r "$MB" "$TEST_TMP/orig"
	popserver_start --mailbox "$MB" --pipelining --log "$SLOG"
	rc
	traced_fetch
	assert_success
	assert_maildir_matches "$TEST_TMP/orig" "$MD"
	run check_order 200
	assert_success
	[ "$(grep -c '^C: DELE' "$SLOG")" -eq 200 ]
	[ -z "$(ls "$MD/tmp")" ]
}

@test "keep mode: UIDs recorded once per batch, nothing deleted" {
	make_mailbox "$MB" 70
	popserver_start --mailbox "$MB" --pipelining --log "$SLOG"
	rc "keep on"
	traced_fetch
	assert_success
	[ "$(maildir_count "$MD")" -eq 70 ]
	[ "$(grep -vc '^#' "$TEST_TMP/state/uidls")" -eq 70 ]
	run grep -c '^C: DELE' "$SLOG"
	assert_output 0
	# 70 files + 2 batches x (new/ + state) + rewrite and header: well under 2 per message.
	[ "$(grep -cE '\bf(data)?sync\([0-9]+\) += 0' "$TRACE")" -le 82 ]
}

@test "with PIPELINING, QUIT goes out before the last DELE replies are read" {
	make_mailbox "$MB" 5
	popserver_start --mailbox "$MB" --pipelining --log "$SLOG"
	rc
	run "$POPFETCH" -C "$RC" --debug
	assert_success
	# The trace shows what was sent and received in order: QUIT is sent
	# before the +OK to the fifth DELE is read.
	"$PYTHON3" - <<PY
import sys
lines = """$output""".splitlines()
quit = next(i for i, l in enumerate(lines) if "-> QUIT" in l)
oks = [i for i, l in enumerate(lines) if "<- +OK" in l]
assert oks[-1] > quit and oks[-2] > quit, "QUIT waited for the DELE replies"
PY
	[ "$(server_count_files)" -eq 0 ]
}

server_count_files() {
	find "$MB" -maxdepth 1 -type f ! -name '.*' | wc -l
}

@test "a connection cut mid-batch: what was delivered is recorded, nothing deleted, no duplicate next run" {
	make_mailbox "$MB" 10
	cp -r "$MB" "$TEST_TMP/orig"
	# CAPA USER PASS, CAPA again (what the server offers once logged in),
	# LIST UIDL and 5 RETRs, then the connection drops.
	# The fifth message is whole, but no reply after it confirmed its
	# end: it is thrown away with the connection, fetched again next run.
	popserver_start --mailbox "$MB" --cut-after 11 --log "$SLOG"
	rc "auth user"
	run "$POPFETCH" -C "$RC"
	assert_failure 75
	[ "$(maildir_count "$MD")" -eq 4 ]
	# Records only: pending lines (exactly-once recovery) are not deliveries.
	[ "$(grep -c '^[0-9]' "$TEST_TMP/state/uidls")" -eq 4 ]
	run "$POPFETCH" -C "$RC"
	assert_success
	assert_output --partial "6 messages fetched"
	assert_maildir_matches "$TEST_TMP/orig" "$MD"
}

@test "mbox: per batch of 64, one lock, one journal fsync and one mbox fsync; DELE only after both and the state" {
	make_mailbox "$MB" 150
	cp -r "$MB" "$TEST_TMP/orig"
	popserver_start --mailbox "$MB" --pipelining --log "$SLOG"
	rc
	sed -i "s|^delivery maildir .*|delivery mbox $TEST_TMP/inbox|" "$RC"
	traced_fetch
	assert_success
	mbox_extract "$TEST_TMP/inbox" "$TEST_TMP/out"
	assert_maildir_matches "$TEST_TMP/orig" "$TEST_TMP/out"
	# Every sync still comes before the DELEs it allows (3 batches).
	run check_trace 150
	assert_success
	# By file: 3 batches -> 3 fsyncs of the mbox, 3 of the journal, and
	# 3 dot-locks taken; no read-back of the mbox beyond the separator.
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
	    strace -f -qq -y -o "$TRACE.y" -e trace=fsync,link,pread64 \
	    "$POPFETCH" -C "$RC" -q
	run grep -c "^[0-9]* *fsync([0-9]*<$TEST_TMP/inbox>)" "$TRACE.y"
	assert_output 0		# nothing new: no batch, no fsync
	popserver_stop
	rm -rf "$MB" "$TEST_TMP/inbox" "$TEST_TMP/inbox.popfetch-journal" "$TEST_TMP/state"
	cp -r "$TEST_TMP/orig" "$MB"
	popserver_start --mailbox "$MB" --pipelining --log "$SLOG"
	sed -i "s|^port .*|port $POPSERVER_PORT|" "$RC"
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
	    strace -f -qq -y -o "$TRACE.y" -e trace=fsync,link,pread64 \
	    "$POPFETCH" -C "$RC" -q
	run grep -c "fsync([0-9]*<$TEST_TMP/inbox>)" "$TRACE.y"
	assert_output 3
	run grep -c "fsync([0-9]*<$TEST_TMP/inbox.popfetch-journal>)" "$TRACE.y"
	assert_output 3
	run grep -c "link(\"$TEST_TMP/inbox.lock.P" "$TRACE.y"
	assert_output 3
	run grep -c "pread64([0-9]*<$TEST_TMP/inbox>" "$TRACE.y"
	[ "$output" -le 3 ]
}
