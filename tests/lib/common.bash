# tests/lib/common.bash -- loaded by every bats file with `load lib/common`.
#
# Sets up:
#   POPFETCH      the program under test (env wins; default ../src/popfetch)
#   TESTS_SRCDIR  the tests/ source directory (env wins; default the .bats dir)
#   PYTHON3       a python3 interpreter (env wins)
#   TEST_TMP      a per-test scratch directory ($BATS_TEST_TMPDIR)
#   HOME          $TEST_TMP/home, so no test ever reads or writes the real home;
#                 XDG_STATE_HOME and XDG_CONFIG_HOME are emptied for the same
#                 reason.
#   BATS_TEST_TIMEOUT  120 s per test unless the caller set it (generous:
#                 a test that takes 10 s alone may take 60 on a loaded machine).
#   MB, MD, RC, SLOG, SCRIPT  the scratch paths most tests use, named the
#                 same in every file: the test server's mailbox (created),
#                 the Maildir popfetch delivers to, the fetchrc, the test
#                 server's log, a scripted server's script.
# and provides write_fetchrc, make_mailbox, maildir_count,
# assert_maildir_matches and wait_for (see each function).

bats_lib_dir=${BATS_LIB_DIR:-/usr/lib/bats}
load "$bats_lib_dir/bats-support/load"
load "$bats_lib_dir/bats-assert/load"

: "${TESTS_SRCDIR:=$BATS_TEST_DIRNAME}"
: "${POPFETCH:=$BATS_TEST_DIRNAME/../src/popfetch}"
if [[ -z ${PYTHON3:-} ]]; then
	if [[ -x /usr/bin/python3 ]]; then
		PYTHON3=/usr/bin/python3
	else
		PYTHON3=$(command -v python3)
	fi
fi
export TESTS_SRCDIR POPFETCH PYTHON3

# Every test is bounded; a file may set its own limit before loading us.
: "${BATS_TEST_TIMEOUT:=120}"

# In setup_file there is no per-test directory yet: use the file's one.
TEST_TMP=${BATS_TEST_TMPDIR:-${BATS_FILE_TMPDIR:-}}
if [[ -z $TEST_TMP ]]; then
	echo "common.bash: neither BATS_TEST_TMPDIR nor BATS_FILE_TMPDIR is set" >&2
	return 1
fi
export TEST_TMP
export HOME=$TEST_TMP/home XDG_STATE_HOME='' XDG_CONFIG_HOME=''
mkdir -p "$HOME"

MB=$TEST_TMP/mailbox
MD=$TEST_TMP/Maildir
RC=$TEST_TMP/fetchrc
SLOG=$TEST_TMP/server.log
SCRIPT=$TEST_TMP/script
mkdir -p "$MB"

# wait_for SECONDS COMMAND... -- runs COMMAND every 0.05 s until it
# succeeds; fails after SECONDS of wall-clock time (never a count of turns:
# a busy machine takes longer per turn), saying on stderr what it waited
# for.  Give generous limits: 60 s for a server's start-up.
wait_for() {
	local limit=${1:?wait_for SECONDS COMMAND...} end
	shift
	end=$((${EPOCHREALTIME//[.,]/} + limit * 1000000))
	until "$@"; do
		if ((${EPOCHREALTIME//[.,]/} > end)); then
			echo "timed out after $limit s waiting for: $*" >&2
			return 1
		fi
		sleep 0.05
	done
}

# write_fetchrc FILE <<EOF ... EOF
# Writes standard input to FILE with mode 0600 (popfetch may refuse a
# configuration file that others can read).
write_fetchrc() {
	local file=${1:?write_fetchrc FILE}
	(umask 077 && cat >"$file") || return 1
	chmod 0600 "$file"
}

# make_mailbox DIR N [SIZE]
# Writes N distinct RFC 5322 messages DIR/msg-00001 ... DIR/msg-NNNNN with LF
# line ends, each about SIZE bytes (default: a few hundred). Message-ID and
# Subject are unique, also across different DIRs.
make_mailbox() {
	local dir=${1:?make_mailbox DIR N [SIZE]} n=${2:?make_mailbox DIR N [SIZE]}
	local size=${3:-0}
	"$PYTHON3" "$TESTS_SRCDIR/gen-corpus" simple "$dir" "$n" "$size"
}

# maildir_count DIR -- prints the number of messages in DIR/new and DIR/cur.
maildir_count() {
	local dir=${1:?maildir_count DIR} d n=0 f
	for d in "$dir/new" "$dir/cur"; do
		[[ -d $d ]] || continue
		for f in "$d"/* "$d"/.[!.]*; do
			[[ -f $f ]] && n=$((n + 1))
		done
	done
	echo "$n"
}

# assert_maildir_matches SRCDIR MAILDIR
# Every regular file in SRCDIR must appear exactly once in MAILDIR/new or
# MAILDIR/cur, as a correct fetcher writes it: CRLF turned into LF and a final
# LF added when the source lacks one (an empty message stays empty). Nothing
# else may be there, and MAILDIR/tmp must be empty. On failure, prints which
# messages are missing, duplicated or unexpected.
assert_maildir_matches() {
	local src=${1:?assert_maildir_matches SRCDIR MAILDIR}
	local md=${2:?assert_maildir_matches SRCDIR MAILDIR}
	local report
	if ! report=$("$PYTHON3" - "$src" "$md" <<'PY'
import collections, hashlib, os, sys

src, md = sys.argv[1], sys.argv[2]

def files(d):
    if not os.path.isdir(d):
        return []
    return sorted(os.path.join(d, f) for f in os.listdir(d)
                  if os.path.isfile(os.path.join(d, f)))

def expected(data):
    data = data.replace(b"\r\n", b"\n")
    # An empty message stays empty: it has no last line to end.
    if data and not data.endswith(b"\n"):
        data += b"\n"
    return data

def subject(data):
    for line in data.split(b"\n\n", 1)[0].split(b"\n"):
        if line.lower().startswith(b"subject:"):
            return line[8:].strip().decode("latin-1")[:60]
    return "(no subject)"

want = collections.defaultdict(list)   # hash -> source files
wdata = {}
for f in files(src):
    with open(f, "rb") as fp:
        data = expected(fp.read())
    h = hashlib.sha256(data).hexdigest()
    want[h].append(f)
    wdata[h] = data

have = collections.defaultdict(list)   # hash -> maildir files
hdata = {}
for f in files(os.path.join(md, "new")) + files(os.path.join(md, "cur")):
    with open(f, "rb") as fp:
        data = fp.read()
    h = hashlib.sha256(data).hexdigest()
    have[h].append(f)
    hdata[h] = data

problems = []
missing, extra = [], []
for h, srcs in sorted(want.items(), key=lambda kv: kv[1]):
    got = len(have.get(h, []))
    if got < len(srcs):
        missing.append(h)
        problems.append("missing (%d of %d copies delivered): %s [%s]" % (
            got, len(srcs), ", ".join(os.path.basename(s) for s in srcs),
            subject(wdata[h])))
    elif got > len(srcs):
        problems.append("duplicated (%d copies for %d sources): %s [%s] -> %s" % (
            got, len(srcs), ", ".join(os.path.basename(s) for s in srcs),
            subject(wdata[h]), ", ".join(have[h])))
for h, fs in sorted(have.items()):
    if h not in want:
        extra.append(h)
        for f in fs:
            problems.append("unexpected file: %s (%d bytes) [%s]" % (
                f, len(hdata[h]), subject(hdata[h])))
for f in files(os.path.join(md, "tmp")):
    problems.append("left in tmp/: %s" % f)

# Point at the first differing byte for messages that came out changed.
for h in missing:
    for e in extra:
        if subject(wdata[h]) == subject(hdata[e]):
            a, b = wdata[h], hdata[e]
            i = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]),
                     min(len(a), len(b)))
            problems.append("  [%s] expected %d bytes, got %d; first difference "
                            "at byte %d: expected %r, got %r" % (
                                subject(a), len(a), len(b), i,
                                a[max(0, i - 20):i + 20], b[max(0, i - 20):i + 20]))
            break

if problems:
    print("maildir %s does not match %s (%d messages expected, %d found):" % (
        md, src, sum(len(v) for v in want.values()),
        sum(len(v) for v in have.values())))
    print("\n".join("  " + p for p in problems))
    sys.exit(1)
PY
	); then
		fail "$report"
		return 1
	fi
}
