#!/usr/bin/env bats
# hostile-imap.bats -- a hostile or silent IMAP destination (`delivery
# imap`) at each step: the greeting, CAPABILITY, LOGIN, the APPEND
# command (where a continuation is due) and after the literal (where the
# tagged OK is due).  Garbage, endless untagged lines, a 1 GB line and
# silence each end the run with one-line errors naming the account,
# within `timeout` plus room, in bounded memory, nothing deleted on the
# POP3 server.  The server is a few lines of Python here, so that
# tests/imapserver.py stays as imap.bats needs it.

load lib/common
load lib/popserver

STEPS="greeting capability login append literal"
RSS_MAX_KB=300000

setup() {
	HLOG=$TEST_TMP/himap.log
	HIMAP_PID=
	cat >"$TEST_TMP/himap.py" <<'PY'
import os, socket, sys, time

step, action, portfile, log = sys.argv[1:5]
logf = open(log, "a", buffering=1)

def hostile(f, where):
    if where != step:
        return False
    logf.write("fault: %s at %s\n" % (action, step))
    if action == "garbage":
        f.write(b"\x1b]0;pwned\x07\x00\xff garbage, not IMAP\r\n")
    elif action == "endless":
        lines = b"* OK and more\r\n" * 4096
        while True:
            f.write(lines)
    elif action == "longline":
        f.write(b"* OK ")
        chunk = b"x" * 65536
        for _ in range(16384):
            f.write(chunk)
        f.write(b"\r\n")
    while f.read(65536):
        pass
    return True

def serve(f):
    if hostile(f, "greeting"):
        return
    f.write(b"* OK hostile IMAP ready\r\n")
    while True:
        line = f.readline(1 << 20)
        if not line:
            return
        text = line.rstrip(b"\r\n").decode("latin-1")
        logf.write("C: %s\n" % text[:80])
        tag, _, rest = text.partition(" ")
        verb = rest.split(" ", 1)[0].upper()
        if verb == "CAPABILITY":
            if hostile(f, "capability"):
                return
            f.write(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + tag.encode() + b" OK done\r\n")
        elif verb == "LOGIN":
            if hostile(f, "login"):
                return
            f.write(tag.encode() + b" OK logged in\r\n")
        elif verb == "APPEND":
            if hostile(f, "append"):
                return
            size = int(rest[rest.rindex("{") + 1:].rstrip("}+"))
            f.write(b"+ go ahead\r\n")
            got = 0
            while got < size:
                chunk = f.read(min(65536, size - got))
                if not chunk:
                    return
                got += len(chunk)
            f.readline()
            if hostile(f, "literal"):
                return
            f.write(tag.encode() + b" OK appended\r\n")
        elif verb == "LOGOUT":
            f.write(b"* BYE\r\n" + tag.encode() + b" OK bye\r\n")
            return
        elif verb == "EXAMINE" or verb == "SELECT":
            f.write(b"* 0 EXISTS\r\n" + tag.encode() + b" OK done\r\n")
        elif verb == "UID":
            f.write(b"* SEARCH\r\n" + tag.encode() + b" OK done\r\n")
        else:
            f.write(tag.encode() + b" OK done\r\n")

ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 0))
ls.listen(8)
with open(portfile + ".tmp", "w") as fp:
    fp.write("%d\n" % ls.getsockname()[1])
os.rename(portfile + ".tmp", portfile)
while True:
    conn, _ = ls.accept()
    try:
        serve(conn.makefile("rwb", buffering=0))
    except OSError as e:
        logf.write("connection error: %s\n" % e)
    finally:
        conn.close()
PY
}

teardown() {
	popserver_stop || true
	[[ -z $HIMAP_PID ]] || popserver_stop "$HIMAP_PID" || true
}

himap_start() {
	local pf=$TEST_TMP/himap.port
	rm -f "$pf" "$HLOG"
	"$PYTHON3" "$TEST_TMP/himap.py" "$1" "$2" "$pf" "$HLOG" </dev/null \
	    >"$TEST_TMP/himap.out" 2>&1 3>&- &
	HIMAP_PID=$!
	wait_for 60 test -s "$pf"
	read -r HIMAP_PORT <"$pf"
}

# against STEP ACTION: one run; sets status, output, ELAPSED, RSS.
against() {
	local t0
	[[ -z $HIMAP_PID ]] || popserver_stop "$HIMAP_PID"
	himap_start "$1" "$2"
	popserver_rc "timeout 3" \
	    "delivery imap imap://u@127.0.0.1:$HIMAP_PORT/INBOX" \
	    "delivery_password secret" "delivery_tls off" \
	    "received_header off" "uidls_file $TEST_TMP/state/%U"
	t0=$SECONDS
	run /usr/bin/time -f '%M' -o "$TEST_TMP/rss" "$POPFETCH" -C "$RC"
	ELAPSED=$((SECONDS - t0))
	RSS=$(tail -n 1 "$TEST_TMP/rss")
}

check() {
	local step=$1 action=$2 line
	echo "# imap $step $action: exit $status, ${ELAPSED}s, ${RSS} KB" >&3
	[[ $status -ne 0 ]] || fail "$step $action: exit 0"
	grep -q "^fault: $action at $step" "$HLOG" ||
	    fail "$step $action: the fault did not happen: $(cat "$HLOG")"
	[[ -n $output ]] || fail "$step $action: no error"
	while IFS= read -r line; do
		[[ $line == "default: "* ]] ||
		    fail "$step $action: a line without the account: $line"
	done <<<"$output"
	[[ $output == *"IMAP server"* ]] ||
	    fail "$step $action: the server is not named: $output"
	[[ $output != *$'\e'* && $output != *$'\a'* ]] ||
	    fail "$step $action: control characters reached the terminal"
	((RSS < RSS_MAX_KB)) || fail "$step $action: max RSS $RSS KB"
	# One timeout (3 s) per run, not one or two per message (12 s for
	# these two messages before); room for a busy machine.
	((ELAPSED < 10)) || fail "$step $action: ${ELAPSED}s"
	[ "$(server_count)" -eq 2 ] ||
	    fail "$step $action: messages deleted on the POP3 server"
}

hostile() {
	local action=$1 step
	make_mailbox "$MB" 2 100000
	popserver_start --mailbox "$MB"
	for step in $STEPS; do
		against "$step" "$action"
		check "$step" "$action"
	done
}

@test "hostile IMAP destination: garbage at every step" {
	hostile garbage
}

@test "hostile IMAP destination: endless untagged lines at every step" {
	hostile endless
}

@test "hostile IMAP destination: a 1 GB line at every step, never buffered" {
	hostile longline
}

@test "hostile IMAP destination: silence at every step, one timeout" {
	hostile silent
}
