# tests/lib/delivered.bash -- what a mail server stored, compared with what
# was fetched: for the delivery kinds that hand messages to a server
# (lmtp.bats, smtp.bats, imap.bats).  Load after lib/common.
#
#   delivered_setup  in setup(): STORE ($TEST_TMP/store) and LLOG
#                    ($TEST_TMP/lmtp.log); LMTP_PID and IMAP_PID empty
#   delivered_teardown  in teardown(): stops the test server (popserver_stop)
#                    and the lmtpserver.py or imapserver.py the test started
#   lmtpserver_start [FLAGS]  starts tests/lmtpserver.py (see its --help),
#                    storing into $STORE, logging to $LLOG; sets LMTP_PORT
#                    and LMTP_PID (stop it with popserver_stop "$LMTP_PID")
#   dest_unrecord MAILBOX STATE [strip]  a UID state with every UID pending
#                    (see below)
#   scriptserver_start NAME LOG PIDVAR PORTVAR [FLAGS]  the plumbing of
#                    both: tests/NAME.py into $STORE, see below
#   imapserver_start [FLAGS]  the same for tests/imapserver.py: sets STORE
#                    ($TEST_TMP/store), ILOG, IMAP_PORT and IMAP_PID

# dest_unrecord MAILBOX STATE [strip] -- after a whole keep-mode run, the
# UID state STATE as a kill between the destination's OKs and the UID
# records leaves it: every UID of the test server's MAILBOX pending, none
# recorded.  With strip, the pending journal STATE.dest-journal loses the
# destination's UIDs too (as when the kill came before the server's OK), so
# only the Message-ID and the digest can tell; each line's checksum
# (FNV-1a 64) is made anew.
dest_unrecord() {
	"$PYTHON3" - "${1:?dest_unrecord MAILBOX STATE [strip]}" \
	    "${2:?dest_unrecord MAILBOX STATE [strip]}" \
	    "$2.dest-journal" "${3:-}" <<'PY'
import os, sys
mb, state, journal, strip = sys.argv[1:5]
with open(state, "w") as f:
    f.write("# popfetch uid state v1\n")
    for uid in sorted(os.listdir(mb)):
        f.write("pending %s\n" % uid)
if strip:
    out = []
    for line in open(journal).read().splitlines():
        w = line.split(" ")
        w[3] = "-"
        body = " ".join(w[:5]).encode()
        h = 0xcbf29ce484222325
        for b in body:
            h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
        out.append("%s %016x\n" % (body.decode(), h))
    open(journal, "w").write("".join(out))
PY
}

# assert_delivered SRCDIR MAILDIR: every source message exactly once in
# MAILDIR (LF line ends, a final LF added but to an empty one), compared after the leading
# trace fields (Return-Path, X-Original-To, Delivered-To, Received; Cyrus:
# X-Cyrus-Session-Id, X-Sieve) that
# the server adds, or drops (Postfix: Return-Path), on both sides;
# nothing else there.
assert_delivered() {
	_delivered "$1" "$2" exact >/dev/null
}

# assert_delivered_at_least SRCDIR MAILDIR MAXDUP: at least once, never
# lost (LMTP and SMTP, which cannot be asked what arrived): every source
# message once or more, compared as assert_delivered does, nothing else
# there, and no more than MAXDUP copies beyond the first in all.  Prints
# the number of those extra copies.
assert_delivered_at_least() {
	_delivered "$1" "$2" "${3:?assert_delivered_at_least SRC MAILDIR MAXDUP}"
}

# delivered_distinct SRCDIR MAILDIR: how many of the source messages are
# in MAILDIR, each counted once however many copies it has.
delivered_distinct() {
	_delivered "$1" "$2" distinct
}

# _delivered SRCDIR MAILDIR exact|distinct|MAXDUP: the comparison above.
_delivered() {
	local report
	if ! report=$("$PYTHON3" - "$1" "$2" "$3" <<'PY'
import collections, hashlib, os, re, sys
src, md, mode = sys.argv[1], sys.argv[2], sys.argv[3]
TRACE = re.compile(rb"(return-path|x-original-to|delivered-to|received|x-cyrus-session-id|x-sieve):", re.I)

def files(d):
    return sorted(os.path.join(d, f) for f in os.listdir(d)) if os.path.isdir(d) else []

def h(b):
    return hashlib.sha256(b).hexdigest()

def strip_trace(data):
    # Servers put Return-Path, Delivered-To and Received in front, and
    # Postfix drops a Return-Path the message had (the envelope's wins):
    # compare what follows the leading trace fields on both sides.
    for _ in range(8):
        if not TRACE.match(data):
            break
        end = data.index(b"\n") + 1
        while data[end:end + 1] in (b" ", b"\t"):
            end = data.index(b"\n", end) + 1
        data = data[end:]
    return data

want = collections.Counter()
for f in files(src):
    data = open(f, "rb").read().replace(b"\r\n", b"\n")
    # An empty message stays empty: no line to end.
    if data and not data.endswith(b"\n"):
        data += b"\n"
    want[h(strip_trace(data))] += 1

got, bad = collections.Counter(), []
for f in files(os.path.join(md, "new")) + files(os.path.join(md, "cur")):
    k = h(strip_trace(open(f, "rb").read()))
    if k in want:
        got[k] += 1
    else:
        bad.append(f)
if mode == "distinct":
    print(sum(1 for k in want if got[k] > 0))
    sys.exit(0)
problems = ["unexpected: %s" % f for f in bad]
extra = 0
for k, n in want.items():
    if got[k] == n or (mode != "exact" and got[k] > n):
        extra += got[k] - n
        continue
    problems.append("%s: %d copies, want %s%d" % (k[:12], got[k],
                    "" if mode == "exact" else "at least ", n))
if mode not in ("exact", "distinct") and extra > int(mode):
    problems.append("%d copies too many: more than the %s allowed"
                    % (extra, mode))
if problems:
    print("\n".join(problems))
    sys.exit(1)
print(extra)
PY
	); then
		echo "assert_delivered: $report" >&2
		return 1
	fi
	echo "$report"
}

# scriptserver_start NAME LOG PIDVAR PORTVAR [FLAGS...] -- starts
# tests/NAME.py storing into $STORE, logging to LOG, its output in
# $TEST_TMP/NAME.out; sets the variable named PIDVAR to its pid at once (so
# that a teardown stops it even after a failed start) and, once it listens
# (<= 60 s), the one named PORTVAR to its port.
scriptserver_start() {
	local name=$1 log=$2 pidvar=$3 portvar=$4 pf
	shift 4
	pf=$TEST_TMP/${name%server}.port
	rm -f "$pf"
	"$PYTHON3" "$TESTS_SRCDIR/$name.py" --port-file "$pf" \
	    --store "$STORE" --log "$log" "$@" </dev/null \
	    >"$TEST_TMP/$name.out" 2>&1 3>&- &
	printf -v "$pidvar" %s "$!"
	wait_for 60 test -s "$pf" || { echo "$name: no port after 60 s" >&2; return 1; }
	# The variable named PORTVAR, not PORTVAR.
	read -r "${portvar?}" <"$pf"
}

delivered_setup() {
	STORE=$TEST_TMP/store
	LLOG=$TEST_TMP/lmtp.log
	LMTP_PID=
	IMAP_PID=
}

# Also after a failed assertion: no test server outlives its test.
delivered_teardown() {
	popserver_stop || true
	[[ -z ${LMTP_PID:-} ]] || popserver_stop "$LMTP_PID" || true
	[[ -z ${IMAP_PID:-} ]] || popserver_stop "$IMAP_PID" || true
}

# lmtpserver_start [flags]: tests/lmtpserver.py storing into $STORE.
lmtpserver_start() {
	scriptserver_start lmtpserver "$LLOG" LMTP_PID LMTP_PORT "$@"
}

# imapserver_start [flags]: tests/imapserver.py storing into $STORE (set
# here: $TEST_TMP/store), logging to $ILOG ($TEST_TMP/imap.log).
imapserver_start() {
	STORE=$TEST_TMP/store
	ILOG=$TEST_TMP/imap.log
	scriptserver_start imapserver "$ILOG" IMAP_PID IMAP_PORT "$@"
}
