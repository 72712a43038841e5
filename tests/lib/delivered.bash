# tests/lib/delivered.bash -- what a mail server stored, compared with what
# was fetched: for the delivery kinds that hand messages to a server
# (lmtp.bats, smtp.bats).  Load after lib/common.
#
#   lmtpserver_start [FLAGS]  starts tests/lmtpserver.py (see its --help),
#                    storing into $STORE, logging to $LLOG; sets LMTP_PORT
#                    and LMTP_PID (stop it with popserver_stop "$LMTP_PID")

# assert_delivered SRCDIR MAILDIR: every source message exactly once in
# MAILDIR (LF line ends, a final LF added but to an empty one), compared after the leading
# trace fields (Return-Path, X-Original-To, Delivered-To, Received; Cyrus:
# X-Cyrus-Session-Id, X-Sieve) that
# the server adds, or drops (Postfix: Return-Path), on both sides;
# nothing else there.
assert_delivered() {
	local report
	if ! report=$("$PYTHON3" - "$1" "$2" <<'PY'
import collections, hashlib, os, re, sys
src, md = sys.argv[1], sys.argv[2]
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
problems = ["unexpected: %s" % f for f in bad]
for k, n in want.items():
    if got[k] != n:
        problems.append("%s: %d copies, want %d" % (k[:12], got[k], n))
print("\n".join(problems))
sys.exit(1 if problems else 0)
PY
	); then
		echo "assert_delivered: $report" >&2
		return 1
	fi
}

# lmtpserver_start [flags]: tests/lmtpserver.py storing into $STORE.
lmtpserver_start() {
	local pf=$TEST_TMP/lmtp.port n=0
	rm -f "$pf"
	"$PYTHON3" "$TESTS_SRCDIR/lmtpserver.py" --port-file "$pf" \
	    --store "$STORE" --log "$LLOG" "$@" </dev/null \
	    >"$TEST_TMP/lmtpserver.out" 2>&1 3>&- &
	LMTP_PID=$!
	while [[ ! -s $pf ]]; do
		n=$((n + 1))
		((n < 1200)) || { echo "lmtpserver: no port after 60 s" >&2; return 1; }
		sleep 0.05
	done
	read -r LMTP_PORT <"$pf"
}
