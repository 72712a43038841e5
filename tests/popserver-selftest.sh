#!/bin/bash
# Self-test for tests/popserver.py and tests/lib/popserver.bash.
#
# Usage: tests/popserver-selftest.sh      (prints TAP, exits non-zero on failure)
#
# Clients are python's poplib or a raw socket, so the test server is checked
# independently of popfetch.  TLS uses a throwaway CA made with certtool.

set -eu

here=$(cd "$(dirname "$0")" && pwd)
: "${TESTS_SRCDIR:=$here}"
: "${PYTHON3:=python3}"
export TESTS_SRCDIR PYTHON3
# shellcheck source=tests/lib/popserver.bash
. "$here/lib/popserver.bash"

work=$(mktemp -d "${TMPDIR:-/tmp}/popserver-selftest.XXXXXX")
export TMPDIR=$work
trap 'popserver_stop; rm -rf "$work"' EXIT

count=0
failed=0

# run_test NAME FUNCTION: one TAP line per test, a failure keeps going.
# The test body runs in a subshell with errexit, so any failing command in
# it fails the test; the server it started is stopped either way.
run_test() {
    local name=$1 status=0
    count=$((count + 1))
    # Not `( ... ) || status=$?`: errexit is ignored inside a tested command.
    set +e
    ( set -e; trap popserver_stop EXIT; "$2" ) >"$work/test.out" 2>&1
    status=$?
    set -e
    if [ "$status" -eq 0 ]; then
        echo "ok $count - $name"
    else
        failed=$((failed + 1))
        echo "not ok $count - $name"
        sed 's/^/#   /' "$work/test.out"
        if [ -f "$work/server.log" ]; then
            echo "#   --- server log:"
            sed 's/^/#   /' "$work/server.log"
        fi
    fi
    rm -f "$work/server.log"
}

# pyclient: run python code from stdin after a small prelude of helpers.
pyclient() {
    { cat <<'PRELUDE'
import os, poplib, socket, ssl, sys, time
PORT = int(os.environ.get("POPSERVER_PORT", "0"))
CA = os.environ.get("CA")
MB = os.environ.get("MB")

def check(cond, what):
    if not cond:
        sys.exit("FAIL: %s" % what)

def tls_context():
    return ssl.create_default_context(cafile=CA)

class Raw:
    """A line-oriented raw socket client."""
    def __init__(self, timeout=5):
        self.s = socket.create_connection(("127.0.0.1", PORT), timeout=timeout)
        self.buf = b""
    def fill(self):
        data = self.s.recv(65536)
        if not data:
            raise EOFError()
        self.buf += data
    def line(self):
        while b"\r\n" not in self.buf:
            self.fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line
    def send(self, data):
        self.s.sendall(data)
    def cmd(self, command):
        self.send(command + b"\r\n")
        return self.line()
    def multi(self):
        lines = []
        while True:
            line = self.line()
            if line == b".":
                return lines
            lines.append(line)
    def until_eof(self):
        try:
            while True:
                self.fill()
        except EOFError:
            return self.buf
    def is_silent(self, seconds=0.5):
        """True if nothing arrives and the socket stays open."""
        self.s.settimeout(seconds)
        try:
            data = self.s.recv(1)
        except socket.timeout:
            return True
        return False
    def starttls(self):
        check(self.buf == b"", "no buffered bytes before TLS: %r" % self.buf)
        self.s = tls_context().wrap_socket(self.s, server_hostname="localhost")
    def login(self):
        self.line()
        check(self.cmd(b"USER test").startswith(b"+OK"), "USER")
        check(self.cmd(b"PASS secret").startswith(b"+OK"), "PASS")
PRELUDE
      cat; } | "$PYTHON3" -
}

# make_mailbox: a fresh maildrop with awkward line ends in $MB.
make_mailbox() {
    MB=$work/mailbox
    export MB
    rm -rf "$MB"
    mkdir -p "$MB/subdir"
    printf 'From: a\nSubject: one\n\nline1\n.dot line\n..two\nlast\n' >"$MB/01-lf"
    printf 'Subject: two\r\n\r\nbody\r\n' >"$MB/02-crlf"
    printf 'Subject: three\n\nno newline at end' >"$MB/03-noeol"
    printf 'Subject: four\n\nbare\rcr\n' >"$MB/04-barecr"
    printf 'not a message\n' >"$MB/.hidden"
}

make_certs() {
    CA=$work/ca.pem
    CERT=$work/server.pem
    KEY=$work/server.key
    export CA CERT KEY
    cat >"$work/ca.tmpl" <<'EOF'
cn = "popserver selftest CA"
ca
cert_signing_key
expiration_days = 2
EOF
    cat >"$work/server.tmpl" <<'EOF'
cn = "localhost"
dns_name = "localhost"
ip_address = "127.0.0.1"
tls_www_server
signing_key
encryption_key
expiration_days = 2
EOF
    certtool --generate-privkey --key-type=ecdsa --no-text \
        --outfile "$work/ca.key" 2>/dev/null
    certtool --generate-self-signed --load-privkey "$work/ca.key" \
        --template "$work/ca.tmpl" --outfile "$CA" 2>/dev/null
    certtool --generate-privkey --key-type=ecdsa --no-text \
        --outfile "$KEY" 2>/dev/null
    certtool --generate-certificate --load-privkey "$KEY" \
        --load-ca-certificate "$CA" --load-ca-privkey "$work/ca.key" \
        --template "$work/server.tmpl" --outfile "$CERT" 2>/dev/null
}

LOG=$work/server.log
export LOG

# refute CMD...: succeed only if CMD fails (a bare `! cmd` never trips errexit).
refute() {
    if "$@"; then
        return 1
    fi
}

# in_order FILE REGEX...: the first line matching each regex comes in this order.
in_order() {
    local file=$1 prev=0 n
    shift
    for re in "$@"; do
        n=$(grep -n -m1 -e "$re" "$file" | cut -d: -f1)
        if [ -z "$n" ] || [ "$n" -le "$prev" ]; then
            echo "order broken at $re"
            return 1
        fi
        prev=$n
    done
}

# ---------------------------------------------------------------------------

t_bad_arguments() {
    local rc
    for args in "--port 0" \
                "--mailbox $work/nonexistent --port 0" \
                "--mailbox $MB --port 0 --bind 192.0.2.1" \
                "--mailbox $MB --port 0 --list-size 1=5" \
                "--mailbox $MB --port 0 --tls implicit" \
                "--mailbox $MB --port 0 --cut-after 0" \
                "--mailbox $MB"; do
        rc=0
        # shellcheck disable=SC2086
        "$PYTHON3" "$TESTS_SRCDIR/popserver.py" $args >/dev/null 2>&1 || rc=$?
        [ "$rc" -eq 2 ] || { echo "args '$args' gave $rc, not 2"; return 1; }
    done
    # No stdout chatter without --verbose (argparse errors go to stderr).
    out=$("$PYTHON3" "$TESTS_SRCDIR/popserver.py" --port 0 2>/dev/null || true)
    [ -z "$out" ]
}

t_plain_session() {
    popserver_start --mailbox "$MB" --log "$LOG"
    pyclient <<'EOF'
p = poplib.POP3("127.0.0.1", PORT, timeout=5)
check(b"@popserver>" in p.getwelcome(), "APOP timestamp in greeting")
caps = p.capa()
for c in ("TOP", "USER", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "IMPLEMENTATION"):
    check(c in caps, "CAPA has " + c)
for c in ("STLS", "PIPELINING", "EXPIRE", "LOGIN-DELAY"):
    check(c not in caps, "CAPA lacks " + c)
try:
    p._shortcmd("STAT")
    check(False, "STAT refused before login")
except poplib.error_proto:
    pass
p.user("test"); p.pass_("secret")
wire = [b"From: a\r\nSubject: one\r\n\r\nline1\r\n.dot line\r\n..two\r\nlast\r\n",
        b"Subject: two\r\n\r\nbody\r\n",
        b"Subject: three\r\n\r\nno newline at end\r\n",
        b"Subject: four\r\n\r\nbare\rcr\r\n"]
check(p.stat() == (4, sum(map(len, wire))), "STAT %r" % (p.stat(),))
resp, lines, _ = p.list()
check(lines == [b"%d %d" % (i + 1, len(w)) for i, w in enumerate(wire)], "LIST %r" % lines)
check(p.list(2) == b"+OK 2 %d" % len(wire[1]), "LIST 2")
resp, lines, _ = p.uidl()
check(lines == [b"1 01-lf", b"2 02-crlf", b"3 03-noeol", b"4 04-barecr"], "UIDL %r" % lines)
check(p.uidl(3) == b"+OK 3 03-noeol", "UIDL 3")
for i, w in enumerate(wire, 1):
    resp, lines, octets = p.retr(i)
    check(b"\r\n".join(lines) + b"\r\n" == w, "RETR %d content %r" % (i, lines))
resp, lines, _ = p.top(1, 1)
check(lines == [b"From: a", b"Subject: one", b"", b"line1"], "TOP 1 1 %r" % lines)
resp, lines, _ = p.top(2, 0)
check(lines == [b"Subject: two", b""], "TOP 2 0 %r" % lines)
for bad in ("RETR 9", "RETR 0", "RETR x", "DELE 5", "TOP 1", "USER test", "FOO"):
    try:
        p._shortcmd(bad)
        check(False, bad + " should fail")
    except poplib.error_proto:
        pass
p.dele(1)
try:
    p.retr(1)
    check(False, "RETR of deleted message")
except poplib.error_proto:
    pass
check(p.stat()[0] == 3, "STAT after DELE")
p.rset()
check(p.stat()[0] == 4, "STAT after RSET")
p.dele(2)
check(p._shortcmd("noop").startswith(b"+OK"), "lower-case command")
p.quit()
check(sorted(os.listdir(MB)) == [".hidden", "01-lf", "03-noeol", "04-barecr", "subdir"],
      "only 02-crlf removed: %r" % os.listdir(MB))

# Dot-stuffing on the wire, seen raw.
r = Raw(); r.login()
r.send(b"RETR 1\r\n")
check(r.line() == b"+OK %d octets" % len(wire[0]), "RETR octets")
check(r.multi() == [b"From: a", b"Subject: one", b"", b"line1", b"..dot line", b"...two", b"last"],
      "dot-stuffed RETR")
# Ending without QUIT deletes nothing.
check(r.cmd(b"DELE 1").startswith(b"+OK"), "DELE 1")
r.s.close()
time.sleep(0.3)
check("01-lf" in os.listdir(MB), "no deletion without QUIT")
EOF
    grep -qx 'CONNECT' "$LOG"
    grep -qx 'C: PASS secret' "$LOG"
    grep -qx 'DELETED 02-crlf' "$LOG"
    [ "$(grep -c '^DELETED' "$LOG")" -eq 1 ]
    grep -qx 'CLOSE' "$LOG"
    popserver_stop
}

t_auth() {
    popserver_start --mailbox "$MB" --log "$LOG" --user alice --password 'pass word'
    pyclient <<'EOF'
p = poplib.POP3("127.0.0.1", PORT, timeout=5)
try:
    p.apop("alice", "wrong")
    check(False, "bad APOP accepted")
except poplib.error_proto as e:
    check(e.args[0] == b"-ERR [AUTH] invalid credentials", "APOP error %r" % e.args)
p.user("alice")
try:
    p.pass_("pass")
    check(False, "bad PASS accepted")
except poplib.error_proto as e:
    check(e.args[0] == b"-ERR [AUTH] invalid credentials", "PASS error %r" % e.args)
try:
    p.pass_("pass word")
    check(False, "PASS without USER accepted")
except poplib.error_proto:
    pass
p.user("alice")
p.pass_("pass word")          # blanks in passwords survive
p.quit()
p = poplib.POP3("127.0.0.1", PORT, timeout=5)
p.apop("alice", "pass word")
check(p.stat()[0] == 4, "APOP login")
p.quit()
EOF
    popserver_stop
    popserver_start --mailbox "$MB" --no-apop --auth-fail-code IN-USE
    pyclient <<'EOF'
p = poplib.POP3("127.0.0.1", PORT, timeout=5)
check(b"<" not in p.getwelcome(), "no timestamp with --no-apop")
try:
    p.apop("test", "secret")
    check(False, "APOP without timestamp")
except poplib.error_proto:
    pass
p.user("test")
try:
    p.pass_("secret")
    check(False, "login despite --auth-fail-code")
except poplib.error_proto as e:
    check(e.args[0].startswith(b"-ERR [IN-USE]"), "IN-USE %r" % e.args)
EOF
    popserver_stop
}

t_options() {
    printf '01-lf  uid with  blanks\n03-noeol \\x01\\\\x\n' >"$MB/.uids"
    popserver_start --mailbox "$MB" --list-size 2:18446744073709551616 \
        --pipelining --expire 0 --login-delay 900
    pyclient <<'EOF'
p = poplib.POP3("127.0.0.1", PORT, timeout=5)
caps = p.capa()
check(caps.get("EXPIRE") == ["0"] and caps.get("LOGIN-DELAY") == ["900"], "caps %r" % caps)
check("PIPELINING" in caps, "PIPELINING")
p.user("test"); p.pass_("secret")
check(p.list()[1][1] == b"2 18446744073709551616", "LIST override")
check(p.list(2) == b"+OK 2 18446744073709551616", "LIST 2 override")
check(p.uidl()[1] == [b"1 uid with  blanks", b"2 02-crlf", b"3 \x01\\x", b"4 04-barecr"],
      "odd UIDs %r" % p.uidl()[1])
p.quit()
EOF
    popserver_stop
    rm -f "$MB/.uids"
    popserver_start --mailbox "$MB" --no-uidl --greeting '* garbage'
    pyclient <<'EOF'
r = Raw()
check(r.line() == b"* garbage", "raw greeting")
check(b"UIDL" not in r.cmd(b"CAPA") + b"".join(r.multi()), "UIDL not in CAPA")
r.cmd(b"USER test"); r.cmd(b"PASS secret")
check(r.cmd(b"UIDL").startswith(b"-ERR"), "UIDL refused")
EOF
    popserver_stop
    popserver_start --mailbox "$MB" --no-capa
    pyclient <<'EOF'
r = Raw(); r.line()
check(r.cmd(b"CAPA").startswith(b"-ERR"), "CAPA refused")
EOF
    popserver_stop
}

t_pipelining() {
    popserver_start --mailbox "$MB" --log "$LOG"
    pyclient <<'EOF'
r = Raw()
r.line()
# Everything in one write; replies must come back in order.
r.send(b"USER test\r\nPASS secret\r\nSTAT\r\nLIST\r\nUIDL\r\nRETR 2\r\nNOOP\r\nQUIT\r\n")
check(r.line().startswith(b"+OK send"), "USER")
check(r.line().startswith(b"+OK maildrop"), "PASS")
check(r.line().startswith(b"+OK 4 "), "STAT")
r.line(); check(len(r.multi()) == 4, "LIST")
r.line(); check(len(r.multi()) == 4, "UIDL")
r.line(); check(r.multi() == [b"Subject: two", b"", b"body"], "RETR")
check(r.line() == b"+OK", "NOOP")
check(r.line().startswith(b"+OK"), "QUIT")
check(r.until_eof() == b"", "EOF after QUIT")
# A command split across packets works too.
r = Raw(); r.line()
r.send(b"US"); time.sleep(0.1); r.send(b"ER test\r")
time.sleep(0.1); r.send(b"\n")
check(r.line().startswith(b"+OK"), "split command")
EOF
    [ "$(grep -c '^C: ' "$LOG")" -eq 9 ]
    popserver_stop
}

t_implicit_tls() {
    popserver_start --mailbox "$MB" --log "$LOG" --tls implicit \
        --cert "$CERT" --key "$KEY"
    pyclient <<'EOF'
p = poplib.POP3_SSL("127.0.0.1", PORT, timeout=5, context=tls_context())
check("STLS" not in p.capa(), "no STLS over implicit TLS")
p.user("test"); p.pass_("secret")
check(p.stat()[0] == 4, "STAT over TLS")
p.quit()
EOF
    grep -qx 'TLS' "$LOG"
    popserver_stop
}

t_starttls() {
    popserver_start --mailbox "$MB" --log "$LOG" --tls starttls \
        --cert "$CERT" --key "$KEY"
    pyclient <<'EOF'
p = poplib.POP3("127.0.0.1", PORT, timeout=5)
check("STLS" in p.capa(), "STLS advertised")
p.stls(tls_context())
check("STLS" not in p.capa(), "STLS gone after TLS")
try:
    p._shortcmd("STLS")
    check(False, "second STLS")
except poplib.error_proto:
    pass
p.user("test"); p.pass_("secret")
check(p.stat()[0] == 4, "STAT after STLS")
p.quit()

# USER before STLS is forgotten; pipelined plaintext after STLS is dropped.
r = Raw(); r.line()
r.cmd(b"USER test")
r.send(b"STLS\r\nPASS early\r\n")
check(r.line().startswith(b"+OK"), "STLS ok")
r.starttls()
check(r.cmd(b"PASS secret").startswith(b"-ERR"), "state forgotten after STLS")
EOF
    # order: STLS, then TLS, then the PASS; the injected line never executed
    in_order "$LOG" '^C: STLS$' '^TLS$' '^C: PASS secret$'
    grep -qx 'DISCARD 12 bytes after STLS' "$LOG"
    refute grep -q 'PASS early' "$LOG"
    popserver_stop

    popserver_start --mailbox "$MB" --tls starttls --cert "$CERT" --key "$KEY" \
        --no-stls-capa
    pyclient <<'EOF'
p = poplib.POP3("127.0.0.1", PORT, timeout=5)
check("STLS" not in p.capa(), "STLS hidden")
try:
    p._shortcmd("STLS")
    check(False, "STLS accepted with --no-stls-capa")
except poplib.error_proto:
    pass
EOF
    popserver_stop

    popserver_start --mailbox "$MB" --log "$LOG" --tls starttls \
        --cert "$CERT" --key "$KEY" --inject-after-stls '+OK injected\r\n'
    pyclient <<'EOF'
r = Raw(); r.line()
r.send(b"STLS\r\n")
check(r.line().startswith(b"+OK begin"), "STLS answer")
check(r.line() == b"+OK injected", "injected line follows")
r.starttls()          # the handshake still happens afterwards
check(r.cmd(b"CAPA").startswith(b"+OK"), "CAPA over TLS")
EOF
    grep -qx 'FAULT inject-after-stls' "$LOG"
    popserver_stop
}

t_transcript() {
    cat >"$work/script" <<'EOF'
# a greeting, CAPA with STLS, then TLS
S: +OK scripted <1.2@x>
C: CAPA
S-RAW: +OK\r\nSTLS\r\n.\r\n
C: (?i)stls
S: +OK go ahead
STARTTLS
C: USER (\w+)
S: +OK
SLEEP 0.1
C: QUIT
S-RAW: +OK bye\r\n\x2e
CLOSE
S: never sent
EOF
    popserver_start --script "$work/script" --log "$LOG" --cert "$CERT" --key "$KEY"
    pyclient <<'EOF'
r = Raw()
check(r.line() == b"+OK scripted <1.2@x>", "scripted greeting")
r.send(b"CAPA\r\n"); check(r.line() == b"+OK" and r.multi() == [b"STLS"], "CAPA")
check(r.cmd(b"stls") == b"+OK go ahead", "STLS")
r.starttls()
check(r.cmd(b"USER bob") == b"+OK", "USER")
r.send(b"QUIT\r\n")
check(r.until_eof() == b"+OK bye\r\n.", "raw bytes then close")

r = Raw(); r.line()
r.send(b"NOOP\r\n")
check(r.until_eof() == b"", "mismatch closes")
EOF
    grep -qx 'C: USER bob' "$LOG"
    grep -qx 'MISMATCH expected CAPA got NOOP' "$LOG"
    [ "$(grep -c '^MISMATCH' "$LOG")" -eq 1 ]
    popserver_stop
    printf 'S: hi\nBOGUS\n' >"$work/bad-script"
    rc=0
    "$PYTHON3" "$TESTS_SRCDIR/popserver.py" --script "$work/bad-script" --port 0 \
        2>/dev/null || rc=$?
    [ "$rc" -eq 2 ]
}

t_cuts() {
    # Cut in the first RETR of the first session only.
    popserver_start --mailbox "$MB" --log "$LOG" --cut-in-retr 1
    pyclient <<'EOF'
r = Raw(); r.login()
check(r.cmd(b"DELE 2").startswith(b"+OK"), "DELE")
r.send(b"RETR 1\r\n")
data = r.until_eof()
check(data.startswith(b"+OK") and not data.endswith(b".\r\n"), "cut RETR %r" % data)
time.sleep(0.2)
check("02-crlf" in os.listdir(MB), "cut session deletes nothing")
p = poplib.POP3("127.0.0.1", PORT, timeout=5)
p.user("test"); p.pass_("secret")
check(len(p.retr(1)[1]) == 7, "second session unharmed")
p.quit()
EOF
    grep -qx 'FAULT cut-in-retr' "$LOG"
    popserver_stop

    # Command 4 is never answered, in the first two sessions only: an
    # unanswered QUIT deletes nothing.
    popserver_start --mailbox "$MB" --log "$LOG" --cut-before-reply 4 \
        --fault-sessions 2
    pyclient <<'EOF'
r = Raw(); r.login()
r.send(b"DELE 1\r\nQUIT\r\n")
check(r.until_eof().startswith(b"+OK message 1 deleted\r\n"), "QUIT unanswered")
time.sleep(0.2)
check("01-lf" in os.listdir(MB), "unanswered QUIT deletes nothing")
r = Raw(); r.login()
check(r.cmd(b"NOOP") == b"+OK", "NOOP")
r.send(b"STAT\r\n")
check(r.until_eof() == b"", "no reply to command 4")
r = Raw(); r.login()
r.cmd(b"NOOP")
check(r.cmd(b"STAT").startswith(b"+OK"), "third session unharmed")
EOF
    refute grep -q '^DELETED' "$LOG"
    popserver_stop

    popserver_start --mailbox "$MB" --cut-after 2
    pyclient <<'EOF'
r = Raw(); r.line()
r.send(b"USER test\r\nPASS secret\r\nSTAT\r\n")
check(r.until_eof().count(b"\r\n") == 2, "two replies then close")
EOF
    popserver_stop

    popserver_start --mailbox "$MB" --log "$LOG" --hang-after 2
    pyclient <<'EOF'
r = Raw(); r.login()
r.send(b"STAT\r\n")
check(r.is_silent(0.5), "silent after command 2")
EOF
    grep -qx 'FAULT hang-after' "$LOG"
    grep -qx 'C: STAT' "$LOG"
    popserver_stop

    popserver_start --mailbox "$MB" --hang-in-retr 1
    pyclient <<'EOF'
r = Raw(); r.login()
r.send(b"RETR 1\r\n")
check(r.line().startswith(b"+OK"), "RETR +OK")
check(r.is_silent(0.5), "stalls mid-message")
check(b".\r\n" not in r.buf[-3:], "no terminator")
EOF
    popserver_stop

    # Cut right after +OK to STLS: no handshake follows.
    popserver_start --mailbox "$MB" --tls starttls --cert "$CERT" --key "$KEY" \
        --cut-after 1
    pyclient <<'EOF'
r = Raw(); r.line()
r.send(b"STLS\r\n")
check(r.until_eof().startswith(b"+OK"), "+OK then close")
EOF
    popserver_stop
}

t_lifecycle() {
    local start rc pid
    # --max-sessions: exits by itself, status 0.
    popserver_start --mailbox "$MB" --max-sessions 2 --pidfile "$work/pid"
    [ "$(cat "$work/pid")" = "$POPSERVER_PID" ]
    pyclient <<'EOF'
for i in range(2):
    r = Raw(); r.line(); r.cmd(b"QUIT")
EOF
    rc=0
    wait "$POPSERVER_PID" || rc=$?
    [ "$rc" -eq 0 ]
    [ ! -e "$work/pid" ]
    popserver_stop      # already gone: must not fail

    # SIGTERM while a session hangs: prompt exit 0.
    popserver_start --mailbox "$MB" --hang-after 1
    pid=$POPSERVER_PID
    pyclient <<'EOF' &
r = Raw(); r.line(); r.cmd(b"NOOP"); time.sleep(1.5)
EOF
    sleep 0.5
    start=$(date +%s%N)
    kill -TERM "$pid"
    rc=0
    wait "$pid" || rc=$?
    [ "$rc" -eq 0 ]
    [ $(( ($(date +%s%N) - start) / 1000000 )) -lt 2000 ]
    wait
    # Port file name is the one given, written atomically (no .tmp left).
    [ -z "$(find "$POPSERVER_DIR" -name '*.tmp')" ]

    # popserver_stop after a start: the process is gone afterwards.
    popserver_start --mailbox "$MB"
    pid=$POPSERVER_PID
    popserver_stop
    refute kill -0 "$pid" 2>/dev/null
    [ -z "${POPSERVER_PID}" ]
}

t_lib_under_errexit() {
    # The library in a bats-like errexit + nounset shell; a failing start
    # must return non-zero, not kill the caller.
    bash -c '
        set -eu
        . "$1/lib/popserver.bash"
        if popserver_start --mailbox /nonexistent 2>/dev/null; then exit 1; fi
        popserver_start --mailbox "$2"
        [ -n "$POPSERVER_PORT" ] && [ -n "$POPSERVER_PID" ]
        popserver_stop
        popserver_stop
    ' _ "$TESTS_SRCDIR" "$MB"
}

# ---------------------------------------------------------------------------

make_certs
for t in bad_arguments plain_session auth options pipelining implicit_tls \
         starttls transcript cuts lifecycle lib_under_errexit; do
    make_mailbox
    run_test "$t" "t_$t"
done
echo "1..$count"
if [ "$failed" -ne 0 ]; then
    echo "# $failed of $count failed"
    exit 1
fi
