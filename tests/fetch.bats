#!/usr/bin/env bats
# fetch.bats -- the fetch pipeline against the project's own POP3 test server
# (plain TCP here; TLS has tls.bats): delivery, delete and keep modes,
# hostile replies, broken connections, exit codes.

load lib/common
load lib/popserver

teardown() {
	popserver_stop || true
}

# rc [extra lines...] -- a plain-TCP account 'default' for the running server.
rc() {
	{
		printf 'defaults\ntimeout 10\n'
		# Byte-for-byte comparisons; the header has its own test.
		popserver_account "delivery maildir $MD" "received_header off" \
		    "uidls_file $TEST_TMP/state/%U_at_%H" "$@"
	} | write_fetchrc "$RC"
}

fetch() {
	run "$POPFETCH" -C "$RC" "$@"
}

@test "delete mode: every message delivered once, then removed from the server" {
	make_mailbox "$MB" 5
	cp -r "$MB" "$TEST_TMP/orig"
	popserver_start --mailbox "$MB" --log "$SLOG"
	rc
	fetch
	assert_success
	assert_output --partial "default: 5 messages fetched"
	assert_output --partial "5 deleted"
	assert_maildir_matches "$TEST_TMP/orig" "$MD"
	[ "$(server_count)" -eq 0 ]
	run stat -c %a "$MD/new/$(ls "$MD/new" | head -n 1)"
	assert_output 600
}

@test "messages that break naive fetchers arrive byte for byte" {
	"$PYTHON3" "$TESTS_SRCDIR/gen-corpus" tricky "$MB"
	cp -r "$MB" "$TEST_TMP/orig"
	popserver_start --mailbox "$MB"
	rc
	fetch
	assert_success
	assert_maildir_matches "$TEST_TMP/orig" "$MD"
}

@test "received_header on (the default): a Received: line, then the message unchanged" {
	make_mailbox "$MB" 1
	cp -r "$MB" "$TEST_TMP/orig"
	popserver_start --mailbox "$MB"
	rc
	sed -i '/^received_header off$/d' "$RC"
	fetch
	assert_success
	f=$(ls "$MD"/new/*)
	run head -n 3 "$f"
	assert_line --index 0 "Received: from 127.0.0.1 (user test)"
	assert_line --index 1 --regexp "^	by .+ with POP3 \(popfetch [0-9.]+\);$"
	assert_line --index 2 --regexp "^	[A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} [-+][0-9]{4}$"
	tail -n +4 "$f" | cmp - "$TEST_TMP/orig/msg-00001"
}

@test "an empty maildrop is success with 'no new messages'" {
	popserver_start --mailbox "$MB"
	rc
	fetch
	assert_success
	assert_line "default: no new messages"
	[ -d "$MD/new" ] && [ -d "$MD/cur" ] && [ -d "$MD/tmp" ]
}

@test "keep mode: a second run fetches nothing, a new message is fetched alone" {
	make_mailbox "$MB" 3
	popserver_start --mailbox "$MB" --log "$SLOG"
	rc "keep on"
	fetch
	assert_success
	assert_output --partial "3 messages fetched"
	[ "$(maildir_count "$MD")" -eq 3 ]
	[ "$(server_count)" -eq 3 ]
	fetch
	assert_success
	assert_line "default: no new messages, 3 kept on the server"
	[ "$(maildir_count "$MD")" -eq 3 ]
	printf 'Subject: late\n\nlate\n' >"$MB/zz-late"
	fetch
	assert_success
	assert_output --partial "1 message fetched"
	[ "$(maildir_count "$MD")" -eq 4 ]
	run grep -c '^C: DELE' "$SLOG"
	assert_output 0
}

@test "keep mode: UIDs no longer on the server are forgotten" {
	make_mailbox "$MB" 3
	popserver_start --mailbox "$MB"
	rc "keep on"
	fetch
	assert_success
	state=$(ls "$TEST_TMP"/state/test_at_127.0.0.1)
	run grep -c . "$state"
	assert_output 4
	rm "$MB/msg-00002"
	fetch
	assert_success
	run grep -v '^#' "$state"
	refute_output --partial msg-00002
	assert_output --partial msg-00001
	run stat -c %a "$state"
	assert_output 600
}

@test "keep mode against a server without UIDL is a clear error (69)" {
	make_mailbox "$MB" 2
	popserver_start --mailbox "$MB" --no-uidl
	rc "keep on"
	fetch
	assert_failure 69
	assert_output --partial "default: the server does not support UIDL"
	[ "$(maildir_count "$MD")" -eq 0 ]
}

@test "delete mode works without UIDL" {
	make_mailbox "$MB" 2
	popserver_start --mailbox "$MB" --no-uidl
	rc
	fetch
	assert_success
	[ "$(maildir_count "$MD")" -eq 2 ]
	[ "$(server_count)" -eq 0 ]
}

@test "wrong password: exit 77, the account named, nothing delivered" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB" --password other
	rc
	fetch
	assert_failure 77
	assert_output --partial "default: authentication failed for user test"
	assert_output --partial "[AUTH]"
	[ "$(maildir_count "$MD")" -eq 0 ]
	[ "$(server_count)" -eq 1 ]
}

@test "APOP login" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB" --log "$SLOG"
	rc "auth apop"
	fetch
	assert_success
	run grep -c '^C: APOP test [0-9a-f]\{32\}$' "$SLOG"
	assert_output 1
	run grep -c '^C: PASS' "$SLOG"
	assert_output 0
}

@test "APOP with a server that offers none: exit 77 with advice" {
	popserver_start --mailbox "$MB" --no-apop
	rc "auth apop"
	fetch
	assert_failure 77
	assert_output --partial "use 'auth user'"
}

@test "[IN-USE] and [SYS/TEMP] are temporary failures (75)" {
	popserver_start --mailbox "$MB" --auth-fail-code IN-USE
	rc
	fetch
	assert_failure 75
	assert_output --partial "IN-USE"
	popserver_stop
	popserver_start --mailbox "$MB" --auth-fail-code SYS/TEMP
	rc
	fetch
	assert_failure 75
}

@test "garbage instead of a greeting: exit 76" {
	popserver_start --mailbox "$MB" --greeting "220 smtp.example.com ESMTP"
	rc
	fetch
	assert_failure 76
	assert_output --partial "greeting"
	assert_output --partial "220 smtp.example.com"
}

@test "nothing listening: exit 75 naming host and port" {
	popserver_start --mailbox "$MB"
	port=$POPSERVER_PORT
	rc
	popserver_stop
	fetch
	assert_failure 75
	assert_output --partial "127.0.0.1"
}

@test "connection cut in the middle of a message: nothing partial, nothing lost, then exactly once" {
	make_mailbox "$MB" 4 20000
	cp -r "$MB" "$TEST_TMP/orig"
	popserver_start --mailbox "$MB" --cut-in-retr 2 --log "$SLOG"
	rc
	fetch
	assert_failure 75
	assert_output --partial "message 2"
	[ -z "$(ls -A "$MD/tmp")" ]
	[ "$(maildir_count "$MD")" -eq 1 ]
	[ "$(server_count)" -eq 4 ]
	run grep -c '^C: QUIT' "$SLOG"
	assert_output 0
	fetch
	assert_success
	assert_maildir_matches "$TEST_TMP/orig" "$MD"
	[ "$(server_count)" -eq 0 ]
}

@test "connection cut after a DELE: the next run deletes without fetching again" {
	make_mailbox "$MB" 3
	cp -r "$MB" "$TEST_TMP/orig"
	# CAPA USER PASS CAPA LIST UIDL, RETR x3 (one group commit), DELE 1:
	# cut after the 10th command.
	popserver_start --mailbox "$MB" --cut-after 10 --log "$SLOG"
	rc
	fetch
	assert_failure 75
	[ "$(maildir_count "$MD")" -eq 3 ]
	[ "$(server_count)" -eq 3 ]
	fetch
	assert_success
	assert_maildir_matches "$TEST_TMP/orig" "$MD"
	[ "$(server_count)" -eq 0 ]
}

@test "a server that stops answering mid-message times out (75), nothing lost" {
	make_mailbox "$MB" 2 50000
	popserver_start --mailbox "$MB" --hang-in-retr 1
	rc "timeout 2"
	SECONDS=0
	fetch
	assert_failure 75
	assert_output --partial "timed out"
	[ "$SECONDS" -lt 20 ]
	[ "$(maildir_count "$MD")" -eq 0 ]
	[ -z "$(ls -A "$MD/tmp")" ]
	[ "$(server_count)" -eq 2 ]
}

@test "a LIST size of 2^64 is a protocol error (76), nothing delivered" {
	make_mailbox "$MB" 2
	popserver_start --mailbox "$MB" --list-size 1:18446744073709551616
	rc
	fetch
	assert_failure 76
	assert_output --partial "size"
	[ "$(maildir_count "$MD")" -eq 0 ]
	[ "$(server_count)" -eq 2 ]
}

@test "hostile UIDs are refused (76): too long, non-printable, duplicate" {
	make_mailbox "$MB" 2
	popserver_start --mailbox "$MB"
	rc
	long=$(printf 'x%.0s' $(seq 1 10000))
	printf 'msg-00001 %s\nmsg-00002 ok\n' "$long" >"$MB/.uids"
	fetch
	assert_failure 76
	assert_output --partial "longer than"
	printf 'msg-00001 a\x01b\nmsg-00002 ok\n' >"$MB/.uids"
	fetch
	assert_failure 76
	assert_output --partial "invalid UID"
	printf 'msg-00001 same\nmsg-00002 same\n' >"$MB/.uids"
	fetch
	assert_failure 76
	assert_output --partial "same UID"
	[ "$(maildir_count "$MD")" -eq 0 ]
	[ "$(server_count)" -eq 2 ]
}

@test "PIPELINING: many messages, each exactly once, commands batched" {
	make_mailbox "$MB" 150
	cp -r "$MB" "$TEST_TMP/orig"
	popserver_start --mailbox "$MB" --pipelining --log "$SLOG"
	rc
	fetch
	assert_success
	assert_maildir_matches "$TEST_TMP/orig" "$MD"
	[ "$(server_count)" -eq 0 ]
}

@test "-q prints nothing on success; -v prints a line per message" {
	make_mailbox "$MB" 2
	popserver_start --mailbox "$MB" --max-sessions 2
	rc "keep on"
	fetch -q
	assert_success
	assert_output ""
	rm -rf "$MD" "$TEST_TMP/state"
	fetch -v
	assert_success
	assert_line --partial "default: message 1 of 2 delivered"
	assert_line --partial "default: message 2 of 2 delivered"
}

@test "--debug traces the dialogue without the password" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB"
	rc "auth user"
	fetch --debug
	assert_success
	assert_output --partial "-> USER test"
	assert_output --partial "-> PASS ***"
	refute_output --partial "secret"
}

@test "a second run on the same account waits, then exits 75 'already running'" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB" --hang-after 1 --log "$SLOG"
	rc "timeout 12"
	"$POPFETCH" -C "$RC" -q >/dev/null 2>&1 &
	first=$!
	# The first run holds the account's lock once it talks to the server.
	wait_for 30 grep -q '^C: ' "$SLOG"
	fetch
	kill "$first" 2>/dev/null || true
	wait "$first" 2>/dev/null || true
	assert_failure 75
	assert_output --partial "already running"
}

@test "one failing account does not stop the others; the exit code is the first failure" {
	make_mailbox "$MB" 2
	popserver_start --mailbox "$MB"
	{
		echo "defaults"
		echo "tls off"
		echo "user test"
		echo "timeout 10"
		echo "account bad"
		echo "host 127.0.0.1"
		echo "port $POPSERVER_PORT"
		echo "password wrong"
		echo "delivery maildir $TEST_TMP/bad"
		echo "account good"
		echo "host 127.0.0.1"
		echo "port $POPSERVER_PORT"
		echo "password secret"
		echo "delivery maildir $MD"
	} | write_fetchrc "$RC"
	fetch -a
	assert_failure 77
	assert_output --partial "bad: authentication failed"
	assert_output --partial "good: 2 messages fetched"
	[ "$(maildir_count "$MD")" -eq 2 ]
}

@test "an unwritable maildir fails before anything is fetched (73)" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB" --log "$SLOG"
	mkdir -p "$TEST_TMP/ro"
	touch "$TEST_TMP/ro/Maildir"
	MD=$TEST_TMP/ro/Maildir
	rc
	fetch
	assert_failure 73
	assert_output --partial "default: cannot create directory"
	[ "$(server_count)" -eq 1 ]
	[ ! -s "$SLOG" ] || ! grep -q '^C: RETR' "$SLOG"
}

@test "PIPELINING: USER and PASS go together; LIST and UIDL only after the login's +OK" {
	make_mailbox "$MB" 2
	popserver_start --mailbox "$MB" --pipelining
	rc "auth user"
	fetch --debug
	assert_success
	# Nothing crosses the login: Cyrus drops it, Courier's login execs.
	run grep -o -- '-> [A-Z]*\|<- [+-][A-Z]*' <<<"$output"
	# The CAPA after login rides with LIST and UIDL: no round trip of its own.
	assert_output --partial "$(printf -- '-> USER\n-> PASS\n<- +OK\n<- +OK\n-> CAPA\n-> LIST\n-> UIDL\n<- +OK')"
}

@test "without PIPELINING, LIST waits for the login's answer" {
	make_mailbox "$MB" 2
	popserver_start --mailbox "$MB"
	rc "auth user"
	fetch --debug
	assert_success
	run grep -o -- '-> [A-Z]*\|<- [+-][A-Z]*' <<<"$output"
	# The CAPA after login too (the list before it did not allow PIPELINING).
	assert_output --partial "$(printf -- '-> PASS\n<- +OK\n-> CAPA\n<- +OK')"
	assert_output --partial "$(printf -- '-> LIST\n<- +OK')"
}
