#!/usr/bin/env bats
# imap.bats -- `delivery imap URL` into a real Dovecot IMAP started by these
# tests (tests/lib/dovecot.bash with DOVECOT_IMAP=yes): imaps:// and
# imap:// with STARTTLS, the folder created on [TRYCREATE], byte for byte
# in Dovecot's maildir, the internal date from the Date field, flags,
# delivery_passwordeval, a refused login and an unverifiable certificate.

load lib/common
load lib/certs
load lib/dovecot
load lib/popserver
load lib/delivered

setup_file() {
	make_test_ca "$BATS_RUN_TMPDIR/certs"
	DOVECOT_IMAP=yes
	dovecot_start
}

teardown_file() {
	dovecot_stop
}

setup() {
	DSTU=dst$BATS_TEST_NUMBER
	dovecot_add_user "$DSTU" "pw-$DSTU"
	IMAP_PID=
}

teardown() {
	delivered_teardown
}

# rc URL [extra lines]: popserver.py's $MB into Dovecot's IMAP.
rc() {
	local url=$1
	shift
	popserver_rc "timeout 30" "delivery imap $url" "received_header off" \
	    "uidls_file $TEST_TMP/state/%U" "$@"
}

fetch() {
	run "$POPFETCH" -C "$RC" "$@"
}

@test "imap: imaps:// into a new folder (TRYCREATE), byte for byte, internal date from Date" {
	"$PYTHON3" "$TESTS_SRCDIR/gen-corpus" tricky "$MB"
	"$PYTHON3" "$TESTS_SRCDIR/gen-corpus" big "$MB/big" 2
	cp -r "$MB" "$TEST_TMP/orig"
	popserver_start --mailbox "$MB"
	rc "imaps://$DSTU@127.0.0.1:$DOVECOT_IMAPS_PORT/Fetched" \
	    "delivery_password pw-$DSTU" "delivery_tls_trust_file $DOVECOT_CA"
	fetch
	assert_success
	assert_output --partial "created folder Fetched"
	[ "$(server_count)" -eq 0 ]
	md=$(dovecot_maildir "$DSTU")/.Fetched
	assert_maildir_matches "$TEST_TMP/orig" "$md"
	# Dovecot keeps the internal date as the file's mtime: the corpus's
	# Date, Mon, 02 Mar 2026 10:00:00 +0000.
	want=$(date -d '2026-03-02 10:00:00 UTC' +%s)
	for f in "$md"/new/* "$md"/cur/*; do
		[[ -f $f ]] || continue
		[ "$(stat -c %Y "$f")" -eq "$want" ] || { echo "$f: mtime $(stat -c %Y "$f")"; false; }
	done
}

@test "imap: imap:// with STARTTLS into INBOX, delivery_flags \\Seen, password from delivery_passwordeval" {
	make_mailbox "$MB" 3
	cp -r "$MB" "$TEST_TMP/orig"
	popserver_start --mailbox "$MB"
	rc "imap://$DSTU@127.0.0.1:$DOVECOT_IMAP_PORT" \
	    "delivery_passwordeval echo pw-$DSTU" \
	    "delivery_tls_trust_file $DOVECOT_CA" 'delivery_flags \Seen'
	fetch --debug
	assert_success
	assert_output --partial "STARTTLS"
	# LITERAL+ (RFC 7888), which Dovecot offers after the login: no
	# round trip for the continuation.
	assert_output --regexp 'APPEND "INBOX" \(\\Seen\) " 2-Mar-2026 10:00:00 \+0000" \{[0-9]+\+\}'
	refute_output --partial "pw-$DSTU"
	md=$(dovecot_maildir "$DSTU")
	assert_maildir_matches "$TEST_TMP/orig" "$md"
	# Seen: in cur/ with the S flag.
	run find "$md/cur" -name '*:2,S' -type f
	[ "${#lines[@]}" -eq 3 ]
}

@test "imap: a refused login stops the run at the first message, nothing delivered or deleted (77)" {
	make_mailbox "$MB" 2
	popserver_start --mailbox "$MB"
	rc "imaps://$DSTU@127.0.0.1:$DOVECOT_IMAPS_PORT/INBOX" \
	    "delivery_password wrong" "delivery_tls_trust_file $DOVECOT_CA"
	fetch
	assert_failure 77
	assert_output --partial "the IMAP server 127.0.0.1:$DOVECOT_IMAPS_PORT refused the login of $DSTU"
	refute_output --partial "wrong"
	[ "$(server_count)" -eq 2 ]
}

@test "imap: a run with no new mail does not connect to the destination: exit 0 with it down; a message then waits (75)" {
	mkdir -p "$MB"
	popserver_start --mailbox "$MB"
	port=$("$PYTHON3" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	rc "imaps://$DSTU@127.0.0.1:$port/INBOX" "delivery_password pw"
	fetch
	assert_success
	refute_output --partial "IMAP"
	make_mailbox "$MB" 2
	fetch
	assert_failure 75
	assert_output --partial "the IMAP server 127.0.0.1:$port"
	[ "$(server_count)" -eq 2 ]
}

@test "imap: a certificate that cannot be verified stops the run at the first message, nothing deleted" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB"
	rc "imaps://$DSTU@127.0.0.1:$DOVECOT_IMAPS_PORT/INBOX" \
	    "delivery_password pw-$DSTU"
	fetch
	assert_failure
	assert_output --partial "set delivery_tls_trust_file to the CA"
	[ "$(server_count)" -eq 1 ]
}

@test "imap: no password, a bad URL, bad flags: configuration errors (78)" {
	POPSERVER_PORT=110
	rc "imaps://$DSTU@127.0.0.1/INBOX"
	fetch
	assert_failure 78
	assert_output --partial "delivery imap needs delivery_password or delivery_passwordeval"
	rc "imaps://127.0.0.1/INBOX" "delivery_password x"
	fetch
	assert_failure 78
	assert_output --partial "delivery imap: bad URL"
	rc "imaps://u@127.0.0.1/INBOX" "delivery_password x" 'delivery_flags \Seen)'
	fetch
	assert_failure 78
	assert_output --partial "delivery_flags: only flags"
}

# mock_rc [extra lines]: into tests/imapserver.py, in clear.
mock_rc() {
	rc "imap://u@127.0.0.1:$IMAP_PORT/INBOX" "delivery_password secret" \
	    "delivery_tls off" "$@"
}

@test "imap: without LITERAL+ the message waits for the continuation" {
	make_mailbox "$MB" 2
	cp -r "$MB" "$TEST_TMP/orig"
	imapserver_start --no-literal-plus
	popserver_start --mailbox "$MB"
	mock_rc
	fetch
	assert_success
	assert_maildir_matches "$TEST_TMP/orig" "$STORE"
	run grep -c '^C: p[0-9]* APPEND "INBOX" " 2-Mar-2026 10:00:00 +0000" {[0-9]*}$' "$ILOG"
	assert_output 2
}

@test "imap: with LITERAL+ up to 8 APPENDs are in flight, each answered on its own" {
	make_mailbox "$MB" 20
	cp -r "$MB" "$TEST_TMP/orig"
	imapserver_start --append-reply "5:NO message rejected by policy"
	popserver_start --mailbox "$MB"
	mock_rc
	fetch --debug
	assert_failure 69
	# The most APPENDs sent and not yet answered, from the trace.
	run awk '$3 == "->" && $5 == "APPEND" { a[$4] = 1; if (++n - r > m) m = n - r }
	    $3 == "<-" && ($4 in a) { r++ } END { print m }' <<<"$output"
	assert_output 8
	# Message 5 alone stays; the others are delivered and deleted.
	[ "$(server_count)" -eq 1 ] && [ -e "$MB/msg-00005" ]
	rm "$TEST_TMP/orig/msg-00005"
	assert_maildir_matches "$TEST_TMP/orig" "$STORE"
}

@test "imap: BAD to an internal date: appended again without it, not refused (with and without LITERAL+)" {
	local flags
	for flags in "" --no-literal-plus; do
		rm -rf "$MB" "$TEST_TMP/orig" "$TEST_TMP/state" "$TEST_TMP/store" \
		    "$TEST_TMP/imap.log"
		make_mailbox "$MB" 3
		printf 'Subject: no date\n\nx\n' >"$MB/msg-00004"
		cp -r "$MB" "$TEST_TMP/orig"
		imapserver_start --bad-date $flags
		popserver_start --mailbox "$MB"
		mock_rc
		fetch
		assert_success
		assert_output --partial "the internal date  2-Mar-2026 10:00:00 +0000 was refused"
		assert_output --partial "Invalid date-time); appending the message without it"
		[ "$(server_count)" -eq 0 ]
		# The fault landed: each dated APPEND got its BAD, once.
		[ "$(grep -c '^fault: BAD to the date' "$ILOG")" -eq 3 ]
		run grep -c '^C: p[0-9]* APPEND "INBOX" {[0-9]*+\?}$' "$ILOG"
		assert_output 4
		assert_maildir_matches "$TEST_TMP/orig" "$STORE"
		popserver_stop
		popserver_stop "$IMAP_PID"
		IMAP_PID=
	done
}

@test "imap: NO [OVERQUOTA] defers, a plain NO refuses (69 wins over 75); both stay, the rest go" {
	make_mailbox "$MB" 3
	imapserver_start --append-reply "1:NO [OVERQUOTA] mailbox is full" \
	    --append-reply "3:NO message rejected by policy"
	popserver_start --mailbox "$MB"
	mock_rc
	fetch
	assert_failure 69
	assert_output --partial "1 message could not be delivered (more were deferred)"
	assert_output --partial "message 1: the IMAP server 127.0.0.1:$IMAP_PORT refused the message: [OVERQUOTA] mailbox is full; it stays on the server"
	assert_output --partial "message 3: the IMAP server 127.0.0.1:$IMAP_PORT refused the message: message rejected by policy; it stays on the server"
	[ "$(server_count)" -eq 2 ]
	[ -e "$MB/msg-00001" ] && [ -e "$MB/msg-00003" ]
	[ "$(maildir_count "$STORE")" -eq 1 ]
}

@test "imap: a NO before the literal refuses without sending the message" {
	make_mailbox "$MB" 1
	imapserver_start --no-literal-plus --refuse-before-literal \
	    --append-reply "1:NO [TOOBIG] too large"
	popserver_start --mailbox "$MB"
	mock_rc
	fetch
	assert_failure 69
	assert_output --partial "refused the message: [TOOBIG] too large"
	[ "$(server_count)" -eq 1 ]
}

@test "imap: the tagged OK lost after APPEND: found by Message-ID and size, not appended twice" {
	make_mailbox "$MB" 3
	cp -r "$MB" "$TEST_TMP/orig"
	imapserver_start --hangup-after-append 2
	popserver_start --mailbox "$MB"
	mock_rc
	fetch
	assert_success
	assert_output --partial "the message had been appended before the connection broke (found in INBOX); not appended again"
	run grep -c '^fault: hang up after APPEND 2' "$ILOG"
	assert_output 1
	run grep -c '^C: p[0-9]* UID SEARCH HEADER Message-ID "<msg-00002\.' "$ILOG"
	assert_output 1
	[ "$(server_count)" -eq 0 ]
	assert_maildir_matches "$TEST_TMP/orig" "$STORE"
}

@test "imap: the connection lost inside APPEND: not found, so appended on a new connection" {
	make_mailbox "$MB" 3
	cp -r "$MB" "$TEST_TMP/orig"
	imapserver_start --hangup-in-append 2
	popserver_start --mailbox "$MB"
	mock_rc
	fetch
	assert_success
	run grep -c '^fault: hang up in APPEND 2' "$ILOG"
	assert_output 1
	run grep -c '^C: p[0-9]* APPEND ' "$ILOG"
	assert_output 4
	[ "$(server_count)" -eq 0 ]
	assert_maildir_matches "$TEST_TMP/orig" "$STORE"
}

@test "imap: without a Message-ID a lost OK is told by size and digest: appended once" {
	mkdir -p "$TEST_TMP/orig"
	printf 'Subject: one\n\nfirst\n' >"$MB/m1"
	printf 'Subject: two\n\nsecond\n' >"$MB/m2"
	# A decoy of the same size: compared, not taken for ours.
	printf 'Subject: ONE\n\nfirst\n' >"$MB/m0"
	cp "$MB"/m* "$TEST_TMP/orig"
	imapserver_start --hangup-after-append 2
	popserver_start --mailbox "$MB"
	mock_rc
	fetch
	assert_success
	assert_output --partial "not appended again"
	run grep -c '^fault: hang up after APPEND 2' "$ILOG"
	assert_output 1
	# Message 2 (m1) is 23 bytes with CRLF, as is the decoy: the newest
	# of that size, fetched without setting \Seen, is ours.
	run grep -c '^C: p[0-9]* UID SEARCH LARGER 22 SMALLER 24$' "$ILOG"
	assert_output 1
	run grep -c '^C: p[0-9]* UID FETCH 2 (BODY.PEEK\[\])$' "$ILOG"
	assert_output 1
	[ "$(server_count)" -eq 0 ]
	assert_maildir_matches "$TEST_TMP/orig" "$STORE"
}

# kill9_when PATTERN: popfetch started, killed with SIGKILL once the IMAP
# server's log has a line matching PATTERN (progress, within 60 s).
kill9_when() {
	local pid n=0
	"$POPFETCH" -C "$RC" >"$TEST_TMP/out" 2>&1 3>&- &
	pid=$!
	until grep -q "$1" "$ILOG" 2>/dev/null; do
		n=$((n + 1))
		((n < 1200)) || { kill -9 "$pid"; echo "no '$1' in 60 s"; false; }
		sleep 0.05
	done
	kill -9 "$pid"
	wait "$pid" || true
}

# imap_append_raw FILE: FILE (LF line ends) appended to the test IMAP
# server by another client, as a user's mail program would.
imap_append_raw() {
	"$PYTHON3" - "$IMAP_PORT" "$1" <<'PY'
import socket, sys
data = open(sys.argv[2], "rb").read().replace(b"\n", b"\r\n")
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
f = s.makefile("rwb", buffering=0)
f.readline()
f.write(b'a LOGIN u "secret"\r\n'); f.readline()
f.write(b'b APPEND "INBOX" {%d+}\r\n' % len(data) + data + b"\r\n")
assert f.readline().startswith(b"b OK")
PY
}

# Each Message-ID in the store, with how many times: "msg-00001:1 ...".
msgid_counts() {
	"$PYTHON3" - "$STORE" <<'PY'
import collections, email, os, sys
c = collections.Counter()
for sub in ("new", "cur"):
    d = os.path.join(sys.argv[1], sub)
    for f in os.listdir(d) if os.path.isdir(d) else []:
        m = email.message_from_binary_file(open(os.path.join(d, f), "rb"))
        c[(m["Message-ID"] or "none").strip("<>").split(".")[0]] += 1
if not c:
    # Never expected: say what the store holds, for the log.
    for root, dirs, files in os.walk(sys.argv[1]):
        print("store:", root, sorted(files))
    print("store: no messages in", sys.argv[1])
print(" ".join("%s:%d" % kv for kv in sorted(c.items())))
PY
}

@test "imap: kill -9 after the server stored message 2, before its OK: every message exactly once" {
	make_mailbox "$MB" 3
	cp -r "$MB" "$TEST_TMP/orig"
	imapserver_start --stall-after-append 2
	popserver_start --mailbox "$MB"
	mock_rc
	kill9_when '^fault: stall after APPEND 2'
	# The fault landed: message 2 stored, its OK never sent.
	run grep -c '^stored 2$' "$ILOG"
	assert_output 1
	[ "$(server_count)" -eq 3 ]
	[ -s "$TEST_TMP/state/test.dest-journal" ]
	: >"$ILOG"
	fetch
	assert_success
	# Message 1 by the UID its APPENDUID named, 2 by its Message-ID (no
	# OK, no UID), 3 appended: the only APPEND of the second run.
	run grep -c '^C: p[0-9]* UID FETCH 1 (UID RFC822.SIZE)$' "$ILOG"
	assert_output 1
	run grep -c '^C: p[0-9]* UID SEARCH HEADER Message-ID "<msg-00002\.' "$ILOG"
	assert_output 1
	run grep -c '^C: p[0-9]* APPEND ' "$ILOG"
	assert_output 1
	[ "$(server_count)" -eq 0 ]
	run msgid_counts
	echo "msgid_counts: status $status"
	assert_output "msg-00001:1 msg-00002:1 msg-00003:1"
	assert_maildir_matches "$TEST_TMP/orig" "$STORE"
}

@test "imap: the same kill without LITERAL+ (one APPEND at a time, each waiting for its continuation): exactly once" {
	make_mailbox "$MB" 3
	cp -r "$MB" "$TEST_TMP/orig"
	imapserver_start --no-literal-plus --stall-after-append 2
	popserver_start --mailbox "$MB"
	mock_rc
	kill9_when '^fault: stall after APPEND 2'
	run grep -c '^stored 2$' "$ILOG"
	assert_output 1
	# Message 3 never went out: one APPEND at a time.
	run grep -c '^C: p[0-9]* APPEND ' "$ILOG"
	assert_output 2
	[ "$(server_count)" -eq 3 ]
	: >"$ILOG"
	fetch
	assert_success
	run grep -c '^C: p[0-9]* UID FETCH 1 (UID RFC822.SIZE)$' "$ILOG"
	assert_output 1
	run grep -c '^C: p[0-9]* APPEND ' "$ILOG"
	assert_output 1
	[ "$(server_count)" -eq 0 ]
	run msgid_counts
	echo "msgid_counts: status $status"
	assert_output "msg-00001:1 msg-00002:1 msg-00003:1"
	assert_maildir_matches "$TEST_TMP/orig" "$STORE"
}

@test "imap: kill -9 in the middle of message 2's literal: not stored, appended once by the next run" {
	make_mailbox "$MB" 3 20000
	cp -r "$MB" "$TEST_TMP/orig"
	imapserver_start --stall-in-append 2
	popserver_start --mailbox "$MB"
	mock_rc
	kill9_when '^fault: stall in APPEND 2 after'
	run grep -c '^stored' "$ILOG"
	assert_output 1
	[ "$(server_count)" -eq 3 ]
	: >"$ILOG"
	fetch
	assert_success
	# Looked for (the journal names it) when the run starts and again
	# just before it is sent, not found, appended: 2 and 3.
	run grep -c '^C: p[0-9]* UID SEARCH HEADER Message-ID "<msg-00002\.' "$ILOG"
	assert_output 2
	run grep -c '^C: p[0-9]* APPEND ' "$ILOG"
	assert_output 2
	[ "$(server_count)" -eq 0 ]
	run msgid_counts
	echo "msgid_counts: status $status"
	assert_output "msg-00001:1 msg-00002:1 msg-00003:1"
	assert_maildir_matches "$TEST_TMP/orig" "$STORE"
}

@test "imap: kill -9 after the server stored a message without Message-ID: found by digest, exactly once" {
	mkdir -p "$TEST_TMP/orig"
	printf 'Subject: one\n\nfirst\n' >"$MB/m1"
	printf 'Subject: two\n\nsecond\n' >"$MB/m2"
	printf 'Subject: three\n\nthird\n' >"$MB/m3"
	cp "$MB"/m* "$TEST_TMP/orig"
	imapserver_start --stall-after-append 2
	popserver_start --mailbox "$MB"
	mock_rc
	kill9_when '^fault: stall after APPEND 2'
	run grep -c '^stored 2$' "$ILOG"
	assert_output 1
	[ "$(server_count)" -eq 3 ]
	# Before the next run, a message of m2's size from elsewhere (UID 3).
	printf 'Subject: TWO\n\nsecond\n' >"$TEST_TMP/decoy"
	imap_append_raw "$TEST_TMP/decoy"
	cp "$TEST_TMP/decoy" "$TEST_TMP/orig/decoy"
	: >"$ILOG"
	fetch
	assert_success
	# m1 by its APPENDUID; m2 among the two of its size, newest first:
	# the decoy compared and passed over, then ours.
	run grep -c '^C: p[0-9]* UID FETCH 1 (UID RFC822.SIZE)$' "$ILOG"
	assert_output 1
	run grep -c '^C: p[0-9]* UID SEARCH LARGER 23 SMALLER 25$' "$ILOG"
	assert_output 1
	run grep -c '^C: p[0-9]* UID FETCH [32] (BODY.PEEK\[\])$' "$ILOG"
	assert_output 2
	run grep -c '^C: p[0-9]* APPEND ' "$ILOG"
	assert_output 1
	[ "$(server_count)" -eq 0 ]
	assert_maildir_matches "$TEST_TMP/orig" "$STORE"
}

@test "imap: a BODY[] longer than the message looked for: that message deferred (75), the rest go on" {
	printf 'Subject: one\n\nfirst\n' >"$MB/m1"
	printf 'Subject: two\n\nsecond\n' >"$MB/m2"
	imapserver_start --hangup-after-append 1 --body-extra 100000000
	popserver_start --mailbox "$MB"
	mock_rc
	fetch
	assert_failure 75
	assert_output --partial "message 1: the IMAP server 127.0.0.1:$IMAP_PORT answered FETCH BODY[] with something it was not asked for; it stays on the server"
	run grep -c '^C: p[0-9]* UID FETCH 1 (BODY.PEEK\[\])$' "$ILOG"
	assert_output 1
	# Message 1, in doubt, stays; message 2 went.
	[ "$(server_count)" -eq 1 ] && [ -e "$MB/m1" ]
	# The run ended, its pending UIDs forgotten, but the journal still
	# names message 1: the next run looks for it before sending it.
	: >"$ILOG"
	fetch
	assert_failure 75
	run grep -c '^C: p[0-9]* UID FETCH 1 (BODY.PEEK\[\])$' "$ILOG"
	assert_output 1
	run grep -c '^C: p[0-9]* APPEND ' "$ILOG"
	assert_output 0
	[ -e "$MB/m1" ]
}

@test "imap: a changed UIDVALIDITY: the APPENDUID is not trusted; same Message-ID and size, other bytes: not ours" {
	make_mailbox "$MB" 2
	cp -r "$MB" "$TEST_TMP/orig"
	imapserver_start --stall-after-append 2 --uidvalidity 7
	popserver_start --mailbox "$MB"
	mock_rc
	kill9_when '^fault: stall after APPEND 2'
	grep -q ' 7:1 ' "$TEST_TMP/state/test.dest-journal"
	# Another server (the folder recreated): its UID 1 is another message
	# with message 1's Message-ID and size (one word changed).
	popserver_stop "$IMAP_PID"
	IMAP_PID=
	mv "$STORE" "$TEST_TMP/old-store"
	imapserver_start --uidvalidity 8
	mock_rc
	sed 's/Test message/Test massage/' "$TEST_TMP/orig/msg-00001" >"$TEST_TMP/decoy"
	[ "$(stat -c %s "$TEST_TMP/decoy")" -eq "$(stat -c %s "$MB/msg-00001")" ]
	imap_append_raw "$TEST_TMP/decoy"
	: >"$ILOG"
	fetch
	assert_success
	run grep -c '^C: p[0-9]* UID FETCH 1 (UID RFC822.SIZE)$' "$ILOG"
	assert_output 0
	# At the start and before sending it again.
	run grep -c '^C: p[0-9]* UID SEARCH HEADER Message-ID "<msg-00001\.' "$ILOG"
	assert_output 2
	# The look-alike fetched and compared, then passed over.
	run grep -c '^C: p[0-9]* UID FETCH 1 (BODY.PEEK\[\])$' "$ILOG"
	[ "$output" -ge 1 ]
	# Neither is there: both appended.

	run grep -c '^C: p[0-9]* APPEND ' "$ILOG"
	assert_output 2
	cp "$TEST_TMP/decoy" "$TEST_TMP/orig/decoy"
	assert_maildir_matches "$TEST_TMP/orig" "$STORE"
}

@test "imap: a message over the server's APPENDLIMIT is refused before sending (69)" {
	make_mailbox "$MB" 2
	"$PYTHON3" "$TESTS_SRCDIR/gen-corpus" big "$MB/msg-00002" 1
	imapserver_start --appendlimit 100000
	popserver_start --mailbox "$MB"
	mock_rc
	fetch
	assert_failure 69
	assert_output --partial "message 2: the message ("
	assert_output --partial "is larger than the IMAP server 127.0.0.1:$IMAP_PORT takes (APPENDLIMIT=100000)"
	[ "$(maildir_count "$STORE")" -eq 1 ]
	[ -e "$MB/msg-00002" ]
	run grep -c '^C: p[0-9]* APPEND ' "$ILOG"
	assert_output 1
}

@test "imap: endless untagged lines end in a clear error, nothing fetched" {
	make_mailbox "$MB" 1
	imapserver_start --untagged-flood 20000
	popserver_start --mailbox "$MB"
	mock_rc
	fetch
	assert_failure 76
	assert_output --partial "sent more than 10000 untagged lines"
	[ "$(server_count)" -eq 1 ]
}
