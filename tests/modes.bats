#!/usr/bin/env bats
# modes.bats -- looking before fetching (--status, --list, --dry-run), the
# --json summary, the progress line, selection (skipsize, killsize,
# filter) and the logfile/syslog keys, against the scriptable test server.

bats_require_minimum_version 1.5.0

load lib/common
load lib/popserver

setup() {
	STATE=$TEST_TMP/state
}

teardown() {
	popserver_stop || true
}

rc() {
	popserver_rc "timeout 10" "delivery maildir $MD" \
	    "uidls_file $STATE/%U_at_%H" "$@"
}

fetch() {
	run "$POPFETCH" -C "$RC" "$@"
}

# big_message FILE SIZE -- one message of about SIZE bytes.
big_message() {
	"$PYTHON3" "$TESTS_SRCDIR/gen-corpus" simple "$TEST_TMP/big.$$" 1 "$2"
	mv "$TEST_TMP/big.$$/msg-00001" "$1"
	rm -rf "$TEST_TMP/big.$$"
}

@test "--status counts messages and new ones, downloads and changes nothing" {
	make_mailbox "$MB" 3
	popserver_start --mailbox "$MB" --log "$SLOG"
	rc "keep on"
	run "$POPFETCH" -C "$RC" -q
	assert_success
	popserver_stop
	make_mailbox "$TEST_TMP/more" 2
	for f in "$TEST_TMP"/more/*; do cp "$f" "$MB/new-${f##*/}"; done
	popserver_start --mailbox "$MB" --log "$SLOG"
	rc "keep on"
	fetch -s -q
	assert_success
	assert_output --regexp "^default: 5 messages \([0-9.]+ KiB\) on the server, 2 new \([0-9]+ bytes\)$"
	run grep -c '^C: RETR' "$SLOG"
	assert_output 3
	[ "$(maildir_count "$MD")" -eq 3 ]
}

@test "--status: LIST sizes that add up past 2^64 do not wrap around" {
	make_mailbox "$MB" 3
	popserver_start --mailbox "$MB" --list-size 1:18446744073709551615 \
	    --list-size 2:18446744073709551615
	rc "keep on"
	fetch -s -q
	assert_success
	# A wrapped sum showed about 1 KiB here.
	assert_output "default: 3 messages (16.0 EiB or more) on the server, 3 new (16.0 EiB or more)"
}

@test "--status does not create the mailbox" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB"
	rc
	fetch --status
	assert_success
	assert_line --partial "1 new"
	[ ! -e "$MD" ]
	[ "$(server_count)" -eq 1 ]
}

@test "--list shows size, date, sender and subject of each new message via TOP" {
	make_mailbox "$MB" 2
	popserver_start --mailbox "$MB" --log "$SLOG"
	rc
	fetch -l
	assert_success
	# Not a terminal: the tab-separated form for scripts.
	assert_line --regexp $'^default\t1\t[0-9]+\t.*2026.*\tTest Sender <sender@popfetch.test>\tTest message 1 '
	assert_line --regexp $'^default\t2\t'
	run grep -c '^C: TOP [12] 0$' "$SLOG"
	assert_output 2
	run grep -c '^C: RETR\|^C: DELE' "$SLOG"
	assert_output 0
	[ "$(server_count)" -eq 2 ]
}

@test "--list is robust to hostile headers: unfolded, printable, bounded" {
	{
		printf 'From: \033[2J\033]0;pwned\007Evil <e@x>\n'
		printf 'Subject: first\n\tfolded\r\n'
		printf 'Date: %s\n' "$(head -c 5000 /dev/zero | tr '\0' 'D')"
		printf '\nbody\n'
	} >"$MB/msg-1"
	printf 'X-Nothing: here\n\nno usual fields\n' >"$MB/msg-2"
	popserver_start --mailbox "$MB"
	rc
	fetch --list
	assert_success
	assert_line --regexp $'^default\t1\t.*\t\\?\\[2J\\?\\]0;pwned\\?Evil <e@x>\tfirst folded$'
	assert_line --regexp $'^default\t2\t[0-9]+\t\\(no date\\)\t\\(no sender\\)\t\\(no subject\\)$'
	# Nothing but printable ASCII, tabs and newlines reached the terminal.
	run bash -c 'LC_ALL=C; [[ $1 != *[![:print:]$'"'"'\n\t'"'"']* ]]' _ "$output"
	assert_success
	# The 5000-byte Date was cut.
	run bash -c '"$@" | awk "{ if (length(\$0) > 700) exit 1 }"' _ \
	    "$POPFETCH" -C "$RC" -l
	assert_success
}

# subjects -- messages with encoded words, raw 8-bit and hostile text.
list_corpus() {
	local i=0 subj
	while IFS= read -r subj; do
		i=$((i + 1))
		printf 'From: =?UTF-8?Q?J=C3=B6rg?= <j@x>\nSubject: %s\nDate: Mon, 02 Mar 2026 10:00:00 +0000\n\nbody\n' \
			"$subj" >"$MB/msg-$i"
	done <<'EOS'
=?UTF-8?B?w6lsw6h2ZQ==?=
=?ISO-8859-1?Q?caf=E9_cr=E8me?=
=?KOI8-R?B?8NLJ18XU?= =?utf-8*ru?q?_=D0=BC=D0=B8=D1=80?=
=?UTF-8?Q?a?=   =?UTF-8?Q?b?= c =?UTF-8?Q?d?=
Grüße aus Köln
=?x-unknown-charset?Q?abc?= and =?UTF-8?B?!!!?=
=?UTF-8?Q?ctl=1B[2J=07bell=C2=9B?= =?UTF-8?B?4oCuZXZpbA==?=
EOS
}

@test "--list: RFC 2047 encoded words (B and Q, several charsets) and raw UTF-8 shown as UTF-8 under a UTF-8 locale" {
	list_corpus
	popserver_start --mailbox "$MB"
	rc
	LC_ALL=C.UTF-8 fetch -l
	assert_success
	assert_line --regexp $'^default\t1\t.*\tJörg <j@x>\télève$'
	assert_line --regexp $'^default\t2\t.*\tcafé crème$'
	assert_line --regexp $'^default\t3\t.*\tПривет мир$'
	assert_line --regexp $'^default\t4\t.*\tab c d$'
	assert_line --regexp $'^default\t5\t.*\tGrüße aus Köln$'
	# Unknown charsets and broken base64 stay as they were.
	assert_line --regexp $'^default\t6\t.*\t=\\?x-unknown-charset\\?Q\\?abc\\?= and =\\?UTF-8\\?B\\?!!!\\?=$'
	# Decoded controls (ESC, BEL, C1 CSI) and a bidi override are '?'.
	assert_line --regexp $'^default\t7\t.*\tctl\\?\\[2J\\?bell\\?\\?evil$'
}

@test "--list under the C locale: one '?' per non-ASCII character, never raw bytes" {
	list_corpus
	popserver_start --mailbox "$MB"
	rc
	LC_ALL=C fetch -l
	assert_success
	assert_line --regexp $'^default\t1\t.*\tJ\\?rg <j@x>\t\\?l\\?ve$'
	assert_line --regexp $'^default\t3\t.*\t\\?\\?\\?\\?\\?\\? \\?\\?\\?$'
	assert_line --regexp $'^default\t5\t.*\tGr\\?\\?e aus K\\?ln$'
	run bash -c 'LC_ALL=C; [[ $1 != *[![:print:]$'"'"'\n\t'"'"']* ]]' _ "$output"
	assert_success
}

@test "--list: hostile encoded words stay bounded and printable" {
	{
		printf 'Subject: =?UTF-8?B?%s?=\n' "$(head -c 30000 /dev/zero | base64 -w0)"
		printf 'From: %s\n' "$(for i in $(seq 500); do printf '=?UTF-8?Q?=FF=FE?= '; done)"
		printf '\nbody\n'
	} >"$MB/msg-1"
	printf 'Subject: =?UTF-8?Q?=E2=80?= =?UTF-8?Q?=ZZ?= =?UTF-8?B?====?=\n\nbody\n' >"$MB/msg-2"
	popserver_start --mailbox "$MB"
	rc
	LC_ALL=C.UTF-8 fetch -l
	assert_success
	run bash -c 'printf "%s\n" "$1" | awk "{ if (length(\$0) > 1200) exit 1 }"' _ "$output"
	assert_success
	run bash -c 'printf "%s" "$1" | LC_ALL=C grep -c -P "[\x00-\x08\x0b-\x1f\x7f]"' _ "$output"
	assert_output 0
}

@test "--list on a terminal: aligned columns, the subject cut to the width, never wrapped" {
	make_mailbox "$MB" 3
	printf 'From: A Very Long Sender Name Indeed <sender@example.org>\nSubject: %s\nDate: Mon, 02 Mar 2026 10:00:00 +0000\n\nbody\n' \
		"$(printf 'word%.0s ' {1..60})" >"$MB/msg-9"
	popserver_start --mailbox "$MB"
	rc
	run env LC_ALL=C.UTF-8 "$PYTHON3" "$TESTS_SRCDIR/pty-run" NEVER-PROMPTED x \
		"$POPFETCH" -C "$RC" -l
	assert_success
	local lines
	lines=$(printf '%s\n' "$output" | tr -d '\r' | grep -E '^default: +[0-9]+  ')
	[ "$(printf '%s\n' "$lines" | wc -l)" -eq 4 ]
	# No line wider than the terminal (80 columns when it will not say).
	run awk '{ if (length($0) > 80) exit 1 }' <<<"$lines"
	assert_success
	# The subjects start in the same column on every line.
	run awk '{ i = index($0, "Test message"); if (i == 0) i = index($0, "word"); print i }' <<<"$lines"
	[ "$(sort -u <<<"$output" | wc -l)" -eq 1 ]
}

@test "--list without TOP is a clear error (69)" {
	make_mailbox "$MB" 1
	script_login >"$TEST_TMP/script"
	cat >>"$TEST_TMP/script" <<'EOS'
C: LIST
S: +OK
S: 1 100
S: .
C: UIDL
S: +OK
S: 1 a
S: .
EOS
	popserver_start --script "$TEST_TMP/script"
	rc
	fetch -l
	assert_failure 69
	assert_output --partial "default: the server does not offer TOP"
}

@test "--dry-run says what would happen and changes nothing" {
	make_mailbox "$MB" 2
	big_message "$MB/msg-big" 30000
	popserver_start --mailbox "$MB" --log "$SLOG"
	rc "skipsize 20k"
	fetch -n
	assert_success
	assert_line --regexp "^default: message 1 \([0-9]+ bytes\): would fetch$"
	assert_line --regexp "^default: message 3 \(.* KiB\): would leave on the server \(skipsize\)$"
	assert_line --regexp "^default: dry run: would fetch 2 messages \(.*\), delete 2, leave 1 on the server; nothing was changed$"
	run grep -c '^C: RETR\|^C: DELE' "$SLOG"
	assert_output 0
	[ ! -e "$MD" ]
	[ ! -e "$STATE/test_at_127.0.0.1" ] || [ "$(wc -l <"$STATE/test_at_127.0.0.1")" -le 1 ]
	[ "$(server_count)" -eq 3 ]
}

@test "-s, -l and -n create no state directory, file or lock when there is none yet" {
	make_mailbox "$MB" 2
	popserver_start --mailbox "$MB"
	rc
	for m in -s -l -n; do
		fetch "$m"
		assert_success
		[ ! -e "$STATE" ]
	done
	# Once a fetch made it, they read it: nothing is new any more.
	rc "keep on"
	fetch
	assert_success
	fetch -s
	assert_success
	assert_line --partial "0 new"
}

@test "-s, -l and -n cannot be combined (64)" {
	run "$POPFETCH" -s -n
	assert_failure 64
	assert_output --partial "cannot be combined"
}

@test "skipsize leaves larger messages on the server and reports them; again next run" {
	make_mailbox "$MB" 2
	big_message "$MB/msg-big" 30000
	popserver_start --mailbox "$MB" --max-sessions 2
	rc "skipsize 20K"
	fetch
	assert_success
	assert_line --regexp "^default: message 3 \([0-9]+ bytes\) left on the server \(skipsize\)$"
	assert_line --partial "default: 2 messages fetched"
	[ "$(maildir_count "$MD")" -eq 2 ]
	[ "$(server_count)" -eq 1 ]
	fetch
	assert_success
	assert_line --partial "left on the server (skipsize)"
}

@test "killsize deletes larger messages unread, even with keep on" {
	make_mailbox "$MB" 1
	big_message "$MB/msg-big" 30000
	popserver_start --mailbox "$MB" --log "$SLOG"
	rc "killsize 0020k" "keep on"
	fetch
	assert_success
	run grep -c '^C: RETR 2' "$SLOG"
	assert_output 0
	run grep -c '^C: DELE 2$' "$SLOG"
	assert_output 1
	[ "$(maildir_count "$MD")" -eq 1 ]
	[ "$(server_count)" -eq 1 ]
}

@test "fetch_limit: at most N messages per run, in order; the next run takes the rest, each once" {
	make_mailbox "$MB" 7
	popserver_start --mailbox "$MB" --log "$SLOG"
	rc "fetch_limit 3" "keep on" "received_header off"
	fetch -s
	assert_success
	assert_line --partial "7 new"
	assert_line --partial "a run takes 3, 4 wait for the next"
	fetch
	assert_success
	assert_line --partial "3 messages fetched"
	assert_line --partial "4 left for the next run"
	[ "$(maildir_count "$MD")" -eq 3 ]
	# Not even their headers were read: TOP or RETR only for the three.
	run grep -c '^C: RETR' "$SLOG"
	assert_output 3
	fetch --json
	assert_success
	[[ $output == *'"fetched":3,"left":1'* ]]
	fetch
	assert_success
	assert_line --partial "1 message fetched"
	refute_line --partial "left for the next run"
	assert_maildir_matches "$MB" "$MD"
	fetch
	assert_line --partial "no new messages"
}

@test "fetch_size_limit: bytes per run (k/M/G); the first message always goes; delete mode, exactly once" {
	make_mailbox "$MB" 4 3000
	popserver_start --mailbox "$MB" --log "$SLOG"
	cp -r "$MB" "$TEST_TMP/orig"
	# Room for two messages of about 3 KB, not three.
	rc "fetch_size_limit 7k" "received_header off"
	fetch -n
	assert_success
	assert_line --partial "would be left for the next run (fetch_size_limit)"
	fetch
	assert_success
	assert_line --partial "2 messages fetched"
	assert_line --partial "2 left for the next run"
	[ "$(server_count)" -eq 2 ]
	fetch
	assert_success
	assert_line --partial "2 messages fetched"
	[ "$(server_count)" -eq 0 ]
	assert_maildir_matches "$TEST_TMP/orig" "$MD"
	# A single message larger than the limit is still fetched.
	make_mailbox "$MB" 1 9000
	rc "fetch_size_limit 1k"
	fetch
	assert_success
	assert_line --partial "1 message fetched"
}

@test "fetch_limit and fetch_size_limit: bad values are config errors (78); off turns an inherited one off" {
	popserver_start --mailbox "$MB"
	for v in 0 -1 x 1000001; do
		rc "fetch_limit $v"
		fetch -s
		assert_failure 78
		assert_output --partial "fetch_limit"
	done
	rc "fetch_size_limit 3X"
	fetch -s
	assert_failure 78
	rc "fetch_limit off" "fetch_size_limit off"
	fetch -s
	assert_success
}

@test "sizes: suffixes and bad values" {
	popserver_start --mailbox "$MB"
	for v in 1 10k 10K 3M 1G off; do
		rc "skipsize $v"
		fetch -s
		assert_success
	done
	for v in 10KB -1 1.5M k 99999999999999G; do
		rc "killsize $v"
		fetch -s
		assert_failure 78
		assert_output --partial "invalid value"
	done
}

@test "filter: exit 0 fetches, 1 kills, 2 skips (mpop's codes); headers on stdin" {
	make_mailbox "$MB" 3
	cat >"$TEST_TMP/filter" <<EOF
#!/bin/sh
cat >"$TEST_TMP/seen.\$POPFETCH_FILTER_NUMBER"
grep -q '^Subject: Test message 2 ' "$TEST_TMP/seen.\$POPFETCH_FILTER_NUMBER" && exit 1
grep -q '^Subject: Test message 3 ' "$TEST_TMP/seen.\$POPFETCH_FILTER_NUMBER" && exit 2
exit 0
EOF
	chmod +x "$TEST_TMP/filter"
	popserver_start --mailbox "$MB" --log "$SLOG"
	rc "filter $TEST_TMP/filter" "keep on"
	fetch
	assert_success
	assert_line --partial "message 3 ("
	assert_line --partial "left on the server (filter)"
	run grep -c '^C: TOP [123] 0$' "$SLOG"
	assert_output 3
	run grep '^C: \(RETR\|DELE\)' "$SLOG"
	assert_output "C: DELE 2
C: RETR 1"
	# The filter saw the header (and the empty line after it) only.
	run awk 'body { n++ } /^$/ { body = 1 } END { print n + 0 }' \
	    "$TEST_TMP/seen.1"
	assert_output 0
	run grep -c '^Subject: Test message 1 ' "$TEST_TMP/seen.1"
	assert_output 1
	[ "$(maildir_count "$MD")" -eq 1 ]
}

@test "filter: its environment names the message (number, size, UID) and keeps ours" {
	make_mailbox "$MB" 2 1000
	popserver_start --mailbox "$MB"
	rc "filter echo \"\$POPFETCH_FILTER_NUMBER \$POPFETCH_FILTER_SIZE \$POPFETCH_FILTER_UID \$KEEPME\" >>$TEST_TMP/env" "keep on"
	KEEPME=kept POPFETCH_FILTER_UID=stale run "$POPFETCH" -C "$RC"
	assert_success
	run cat "$TEST_TMP/env"
	assert_line --index 0 --regexp "^1 [0-9]+ msg-00001 kept$"
	assert_line --index 1 --regexp "^2 [0-9]+ msg-00002 kept$"
}

@test "filter: %F (the envelope sender, made harmless) and %S (the size) as in mpop" {
	printf 'Return-Path: <a'"'"'b;$(touch %s/pwned)@ex.org>\nSubject: s\n\nbody\n' \
		"$TEST_TMP" >"$MB/1"
	printf 'Subject: no return path\n\nbody\n' >"$MB/2"
	popserver_start --mailbox "$MB" --log "$SLOG"
	rc "filter echo '%F' %S >>$TEST_TMP/args; exit 0" "keep on"
	fetch
	assert_success
	run cat "$TEST_TMP/args"
	assert_line --index 0 --regexp "^a_b___touch-/.*/pwned_@ex\.org [0-9]+$"
	assert_line --index 1 --regexp "^MAILER-DAEMON [0-9]+$"
	[ ! -e "$TEST_TMP/pwned" ]
	[ "$(maildir_count "$MD")" -eq 2 ]
}

@test "filter: another exit status or a hang is an error, nothing touched" {
	make_mailbox "$MB" 2
	popserver_start --mailbox "$MB" --log "$SLOG" --max-sessions 2
	rc "filter exit 7"
	fetch
	assert_failure 69
	assert_output --partial "default: message 1: the filter exited with 7"
	rc "filter sleep 30" "timeout 1"
	SECONDS=0
	fetch
	assert_failure 69
	assert_output --partial "did not finish within 1 seconds"
	[ "$SECONDS" -lt 10 ]
	run grep -c '^C: \(RETR\|DELE\)' "$SLOG"
	assert_output 0
	[ "$(server_count)" -eq 2 ]
}

@test "--json: a valid summary per account with counts and exit classes" {
	make_mailbox "$MB" 2
	popserver_start --mailbox "$MB"
	{
		echo "defaults"
		echo "host 127.0.0.1"
		echo "port $POPSERVER_PORT"
		echo "tls off"
		echo "timeout 10"
		echo "delivery maildir $MD"
		echo "uidls_file $STATE/%U_at_%H"
		echo "account good"
		echo "user test"
		echo "password secret"
		echo "account bad\"name"
		echo "user test"
		echo "password wrong"
	} | write_fetchrc "$RC"
	run --separate-stderr "$POPFETCH" -C "$RC" --json good 'bad"name'
	assert_failure 77
	printf '%s\n' "$output" >"$TEST_TMP/out.json"
	run "$PYTHON3" - "$TEST_TMP/out.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["exit"] == 77 and d["class"] == "noperm", d
g, b = d["accounts"]
assert g["account"] == "good" and g["fetched"] == 2 and g["deleted"] == 2, g
assert g["bytes"] > 0 and g["error"] is None, g
assert b["account"] == 'bad"name' and b["fetched"] == 0, b
assert b["error"]["exit"] == 77 and b["error"]["class"] == "noperm", b
print("ok")
EOF
	assert_output ok
}

@test "--json: stdout holds only JSON; a config error still gives JSON" {
	run --separate-stderr "$POPFETCH" -C "$TEST_TMP/missing" --json
	assert_failure 78
	run "$PYTHON3" -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["exit"]==78 and d["accounts"]==[]' "$output"
	assert_success
}

@test "--json escapes control characters and invalid UTF-8" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB" --password other
	rc "user $(printf 'u\001\\x\377\303')"
	run --separate-stderr "$POPFETCH" -C "$RC" --json
	assert_failure
	run "$PYTHON3" -c 'import json,sys; d=json.loads(sys.argv[1]); print("ok")' "$output"
	assert_output ok
}

@test "progress: a live line on a terminal, erased at the end" {
	make_mailbox "$MB" 3 2000
	popserver_start --mailbox "$MB"
	rc
	run "$PYTHON3" - "$POPFETCH" "$RC" <<'EOF'
import os, pty, subprocess, sys
master, slave = pty.openpty()
p = subprocess.run([sys.argv[1], "-C", sys.argv[2]], stdin=subprocess.DEVNULL,
                   stdout=subprocess.PIPE, stderr=slave, timeout=30)
os.close(slave)
err = b""
while True:
    try:
        chunk = os.read(master, 4096)
    except OSError:
        break
    if not chunk:
        break
    err += chunk
sys.stdout.write(repr(err) + "\n" + p.stdout.decode())
sys.exit(p.returncode)
EOF
	assert_success
	assert_output --partial '\rdefault: message 1 of 3, 0 bytes of 6.0 KiB'
	assert_output --partial 'message 3 of 3'
	assert_output --partial '\r\x1b[K'
	assert_line --regexp "^default: 3 messages fetched \(.* KiB\), 3 deleted$"
}

@test "progress: nothing on a non-terminal, and -q output is empty on success" {
	make_mailbox "$MB" 3
	popserver_start --mailbox "$MB" --max-sessions 2
	rc "keep on"
	run "$POPFETCH" -C "$RC"
	assert_success
	refute_output --partial $'\r'
	rm -rf "$STATE" "$MD"
	run "$POPFETCH" -C "$RC" -q
	assert_success
	assert_output ""
}

@test "logfile: errors and the summary, with time and account name" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB" --max-sessions 2 --password other
	mkdir "$TEST_TMP/log"
	rc "logfile $TEST_TMP/log/popfetch.log"
	fetch -q
	assert_failure 77
	run cat "$TEST_TMP/log/popfetch.log"
	assert_line --regexp '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} default: '
	refute_output --partial "warning"
	[ "$(stat -c %a "$TEST_TMP/log/popfetch.log")" = 600 ]
	fetch
	run cat "$TEST_TMP/log/popfetch.log"
	assert_line --regexp '^[0-9-]{10} [0-9:]{8} default: warning: tls is off'
}

@test "logfile that cannot be opened: exit 73 naming the account" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB"
	rc "logfile $TEST_TMP/no/such/dir/log"
	fetch
	assert_failure 73
	assert_output --partial "default: logfile $TEST_TMP/no/such/dir/log"
	[ "$(server_count)" -eq 1 ]
}

@test "logfile that is a FIFO: refused at once (73), in a single run and in the daemon; /dev/null is fine" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB" --max-sessions 3
	mkfifo "$TEST_TMP/fifo"
	rc "logfile $TEST_TMP/fifo"
	# No reader: open(2) without O_NONBLOCK waited for one for ever.
	run timeout -k 5 20 "$POPFETCH" -C "$RC"
	assert_failure 73
	assert_output "default: logfile $TEST_TMP/fifo: not a regular file (a FIFO or socket); name a file"
	# With a reader the open succeeds: the file type check refuses it.
	# The daemon says so at its first poll and goes on polling.
	sleep 60 <>"$TEST_TMP/fifo" 3>&- &
	local holder=$! daemon i
	"$POPFETCH" -C "$RC" --daemon 1h >"$TEST_TMP/daemon.out" 2>&1 3>&- &
	daemon=$!
	for i in $(seq 100); do
		grep -q 'logfile' "$TEST_TMP/daemon.out" && break
		sleep 0.1
	done
	kill -TERM "$daemon"
	wait "$daemon" || true
	kill "$holder" 2>/dev/null || true
	wait "$holder" 2>/dev/null || true
	run cat "$TEST_TMP/daemon.out"
	assert_line "default: logfile $TEST_TMP/fifo: not a regular file; name a file (or /dev/null)"
	[ "$(server_count)" -eq 1 ]
	rc "logfile /dev/null"
	fetch
	assert_success
	[ "$(server_count)" -eq 0 ]
}

@test "syslog: on, facilities, and mpop's LOG_ spelling; bad values refused" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB" --max-sessions 3
	for v in on LOG_MAIL local3; do
		rc "syslog $v" "keep on"
		rm -rf "$STATE"
		fetch -q
		assert_success
	done
	rc "syslog kernel"
	fetch
	assert_failure 78
	assert_output --partial "invalid value 'kernel' for 'syslog'"
}

@test "--json with -j 2: every account's outcome, from the child processes" {
	make_mailbox "$MB" 2
	popserver_start --mailbox "$MB"
	{
		echo "defaults"
		echo "host 127.0.0.1"
		echo "port $POPSERVER_PORT"
		echo "tls off"
		echo "timeout 10"
		echo "keep on"
		echo "user test"
		echo "password secret"
		echo "account one"
		echo "delivery maildir $MD/one"
		echo "uidls_file $STATE/one"
		echo "account two"
		echo "delivery maildir $MD/two"
		echo "uidls_file $STATE/two"
		echo "account three"
		echo "password wrong"
		echo "delivery maildir $MD/three"
		echo "uidls_file $STATE/three"
	} | write_fetchrc "$RC"
	run --separate-stderr "$POPFETCH" -C "$RC" -j 2 --json -a
	assert_failure 77
	run "$PYTHON3" -c '
import json, sys
d = json.loads(sys.argv[1])
a = {x["account"]: x for x in d["accounts"]}
assert [x["account"] for x in d["accounts"]] == ["one", "two", "three"], d
assert a["one"]["fetched"] == 2 and a["two"]["fetched"] == 2, d
assert a["three"]["error"]["class"] == "noperm", d
print("ok")' "$output"
	assert_output ok
}
