#!/usr/bin/env bats
# gmail.bats -- `delivery gmail [LABEL...]`: users.messages.import into the
# tests' own mock of the Gmail API (tests/gmailserver.py, HTTPS with the
# test CA), the access token from popfetch's token store, signed in at the
# tests' OAuth server (tests/oauthserver.py), which the mock asks whether
# each bearer token is active.  Faults are chosen by progress: the K-th
# import the mock sees.

load lib/common
load lib/certs
load lib/oauth
load lib/popserver

setup_file() {
	make_test_ca "$BATS_RUN_TMPDIR/certs"
	oauth_start
}

teardown_file() {
	oauth_stop
}

setup() {
	TOKENS=$TEST_TMP/state/oauth/out
	oauth_reset alice
	OAUTH_ACCOUNT=out
	GDIR=$TEST_TMP/gmail
	mkdir -p "$GDIR"
	GMAIL_PID=
}

teardown() {
	popserver_stop || true
	gmail_stop
}

# gmail_start: the mock on a free port; GMAIL_URL, GLOG.
gmail_start() {
	local deadline=$((SECONDS + 60))
	"$PYTHON3" "$TESTS_SRCDIR/gmailserver.py" "$GDIR" \
	    "$BATS_RUN_TMPDIR/certs/server.pem" \
	    "$BATS_RUN_TMPDIR/certs/server-key.pem" \
	    --introspect "$OAUTH_URL/introspect" --ca "$OAUTH_CA" \
	    </dev/null >"$TEST_TMP/gmail.err" 2>&1 3>&- &
	GMAIL_PID=$!
	until [[ -s $GDIR/port ]]; do
		if ! kill -0 "$GMAIL_PID" 2>/dev/null || ((SECONDS > deadline)); then
			cat "$TEST_TMP/gmail.err" >&2
			return 1
		fi
		sleep 0.05
	done
	GMAIL_URL=https://127.0.0.1:$(cat "$GDIR/port")
	GLOG=$GDIR/log
	touch "$GLOG"
}

gmail_stop() {
	[[ -n ${GMAIL_PID:-} ]] || return 0
	kill -TERM "$GMAIL_PID" 2>/dev/null || true
	wait "$GMAIL_PID" 2>/dev/null || true
	GMAIL_PID=
}

# rc [LINE...]: $MB into the mock, signed in as the account block "out".
rc() {
	local delivery="delivery gmail"
	if [[ ${1:-} == "delivery "* ]]; then
		delivery=$1
		shift
	fi
	oauth_popserver_rc "timeout 30" "$delivery" \
	    "received_header off" "uidls_file $TEST_TMP/state/%U" \
	    "gmail_api_url $GMAIL_URL" \
	    "delivery_tls_trust_file $OAUTH_CA" \
	    "delivery_oauth2_account out" "$@"
}

fetch() {
	run "$POPFETCH" -C "$RC" "$@"
}

# meta N KEY: the labels or parameters the N-th stored message came with.
meta() {
	"$PYTHON3" -c 'import json,sys; m=json.load(open(sys.argv[1]))
v=m[sys.argv[2]]
print(",".join(v) if isinstance(v, list) else ",".join("%s=%s" % kv for kv in sorted(v.items())))' \
	    "$GDIR/meta/$(printf %05d "$1")" "$2"
}

# msgids DIR...: the sorted Message-IDs of the files in DIRs, one a line.
msgids() {
	"$PYTHON3" -c '
import os, sys
ids = []
for d in sys.argv[1:]:
    for f in os.listdir(d):
        p = os.path.join(d, f)
        if f.startswith(".") or not os.path.isfile(p):
            continue
        for line in open(p, "rb").read().split(b"\n\n")[0].splitlines():
            if line.lower().startswith(b"message-id:"):
                ids.append(line[11:].strip().decode())
print("\n".join(sorted(ids)))' "$@"
}

# signed_in N: a mailbox of N messages, the servers up, tokens stored.
signed_in() {
	make_mailbox "$MB" "$1"
	cp -r "$MB" "$TEST_TMP/orig"
	gmail_start
	popserver_start --mailbox "$MB"
	shift
	rc "$@"
	oauth_authorize
	[ "$AUTH_RC" -eq 0 ]
}

@test "gmail: a mixed mailbox arrives byte for byte with CRLF line ends, INBOX and UNREAD; no token in the trace" {
	"$PYTHON3" "$TESTS_SRCDIR/gen-corpus" tricky "$MB"
	"$PYTHON3" "$TESTS_SRCDIR/gen-corpus" big "$MB/big" 2
	cp -r "$MB" "$TEST_TMP/orig"
	gmail_start
	popserver_start --mailbox "$MB"
	rc
	oauth_authorize
	[ "$AUTH_RC" -eq 0 ]
	n=$(server_count)
	fetch -v --debug
	assert_success
	refute_output --partial "$(field access_token)"
	refute_output --partial "$(field refresh_token)"
	refute_output --partial "Bearer"
	[ "$(server_count)" -eq 0 ]
	assert_maildir_matches "$TEST_TMP/orig" "$GDIR"
	[ "$(find "$GDIR/raw" -type f | wc -l)" -eq "$n" ]
	# What Gmail was sent: CRLF line ends only, no bare LF.
	run "$PYTHON3" -c '
import os, re, sys
for f in os.listdir(sys.argv[1]):
    d = open(os.path.join(sys.argv[1], f), "rb").read()
    if re.search(rb"(?<!\r)\n", d):
        print("bare LF in", f)' "$GDIR/raw"
	assert_output ""
	[ "$(meta 1 labelIds)" = INBOX,UNREAD ]
	[ "$(meta 1 params)" = internalDateSource=dateHeader,uploadType=multipart ]
	# No labels to look up: no labels.list.
	run grep -c '^labels' "$GLOG"
	assert_output 0
}

@test "gmail: odd messages (gen-corpus odd: empty, NULs, long lines, UTF-8 headers, odd dates) arrive byte for byte" {
	"$PYTHON3" "$TESTS_SRCDIR/gen-corpus" odd "$MB"
	cp -r "$MB" "$TEST_TMP/orig"
	gmail_start
	popserver_start --mailbox "$MB"
	rc
	oauth_authorize
	[ "$AUTH_RC" -eq 0 ]
	fetch
	assert_success
	[ "$(server_count)" -eq 0 ]
	assert_maildir_matches "$TEST_TMP/orig" "$GDIR"
}

@test "gmail: labels by name, created once and applied; gmail_never_spam on sends neverMarkSpam; JSON events valid" {
	echo '{"Receipts": "Label_1"}' >"$GDIR/labels"
	signed_in 2 'delivery gmail INBOX receipts "Fetched mail"' \
	    "gmail_never_spam on" "log_format json" "logfile $TEST_TMP/events"
	fetch
	assert_success
	# The message events name the destination as written.
	run "$PYTHON3" - "$TESTS_SRCDIR/lib/events.schema.json" "$TEST_TMP/events" <<-'PY'
	import json, sys
	import jsonschema
	v = jsonschema.Draft202012Validator(json.load(open(sys.argv[1])))
	for line in open(sys.argv[2]):
	    e = json.loads(line)
	    assert not list(v.iter_errors(e)), line
	    if e["event"] == "message":
	        print(e["action"], e["destination"])
	PY
	assert_success
	assert_output --partial 'delivered gmail INBOX receipts "Fetched mail"'
	# The log lines went to the logfile, as JSON events too.
	run cat "$TEST_TMP/events"
	assert_output --partial "created the Gmail label Fetched mail"
	for i in 1 2; do
		[ "$(meta $i labelIds)" = INBOX,Label_1,Label_2 ]
		[ "$(meta $i params)" = internalDateSource=dateHeader,neverMarkSpam=true,uploadType=multipart ]
	done
	[ "$(grep -c '^labels.list' "$GLOG")" -eq 1 ]
	[ "$(grep -c '^labels.create Fetched mail -> Label_2' "$GLOG")" -eq 1 ]
	# The next run finds the label it made.
	printf 'Subject: three\nMessage-ID: <three@x>\n\nthird\n' >"$MB/m3"
	fetch
	assert_success
	[ "$(meta 3 labelIds)" = INBOX,Label_1,Label_2 ]
	[ "$(grep -c '^labels.create' "$GLOG")" -eq 1 ]
	[ "$(grep -c '^labels.list' "$GLOG")" -eq 2 ]
}

@test "gmail: a label made meanwhile (409 on create) is listed again and applied" {
	signed_in 1 "delivery gmail Raced"
	touch "$GDIR/create-conflict"
	fetch
	assert_success
	grep -q '^labels.create Raced -> 409, Label_1 made elsewhere' "$GLOG"
	[ "$(grep -c '^labels.list' "$GLOG")" -eq 2 ]
	[ "$(meta 1 labelIds)" = Label_1 ]
}

@test "gmail: a token Gmail refuses is refreshed once, then used" {
	signed_in 2
	sed -i 's/"access_token":"[^"]*"/"access_token":"at-unknown"/' "$TOKENS"
	fetch -v
	assert_success
	assert_output --partial "Gmail refused the OAuth access token; refreshing it once"
	[ "$(grep -c '^refresh ' "$OAUTH_DIR/log")" -eq 1 ]
	[ "$(grep -c '^auth refused' "$GLOG")" -eq 1 ]
	[ "$(field access_token)" != at-unknown ]
	[ "$(server_count)" -eq 0 ]
	assert_maildir_matches "$TEST_TMP/orig" "$GDIR"
}

@test "gmail: 401 again after a refresh stops the run (77) naming --authorize; nothing deleted" {
	signed_in 2
	printf '1 401\n2 401\n' >"$GDIR/faults"
	fetch
	assert_failure 77
	assert_output --partial "Gmail refused the OAuth access token even after a refresh; run popfetch --authorize out"
	grep -q '^fault import 2 401' "$GLOG"
	[ "$(grep -c '^refresh ' "$OAUTH_DIR/log")" -eq 1 ]
	[ "$(grep -c '^import ' "$GLOG")" -eq 2 ]
	[ "$(server_count)" -eq 2 ]
	[ ! -d "$GDIR/raw" ]
}

@test "gmail: a revoked grant stops the run (77) naming --authorize; nothing deleted" {
	signed_in 2
	touch "$OAUTH_DIR/revoked"
	fetch
	assert_failure 77
	assert_output --partial "popfetch --authorize out"
	[ "$(server_count)" -eq 2 ]
	[ ! -d "$GDIR/raw" ]
}

@test "gmail: 429 beyond timeout defers the message and the rest (75); the next run delivers them" {
	signed_in 3
	echo "2 429:3600" >"$GDIR/faults"
	fetch
	assert_failure 75
	grep -q '^fault import 2 429:3600' "$GLOG"
	assert_output --partial "Gmail asks to slow down (HTTP 429: Too many concurrent requests for user); this message and the rest wait for a later run"
	[ "$(server_count)" -eq 2 ]
	# Message 3 was not sent at all.
	[ "$(grep -c '^import ' "$GLOG")" -eq 2 ]
	fetch
	assert_success
	[ "$(server_count)" -eq 0 ]
	assert_maildir_matches "$TEST_TMP/orig" "$GDIR"
}

@test "gmail: 429 with a Retry-After within timeout waits and sends again" {
	signed_in 2
	echo "1 429:1" >"$GDIR/faults"
	fetch -v
	assert_success
	assert_output --partial "waiting 1 s"
	grep -q '^import 1 -> 429' "$GLOG"
	grep -q '^import 2 -> 200' "$GLOG"
	assert_maildir_matches "$TEST_TMP/orig" "$GDIR"
}

@test "gmail: 500 and 503 defer (75) and the rest go; then 400 refuses with Gmail's message (69)" {
	signed_in 4
	printf '1 500\n2 503\n' >"$GDIR/faults"
	fetch
	assert_failure 75
	assert_output --partial "message 1: Gmail answered HTTP 500: Backend Error after the message went out; Gmail does not show it (yet)"
	assert_output --partial "HTTP 503: The service is currently unavailable."
	grep -q '^fault import 1 500' "$GLOG"
	grep -q '^fault import 2 503' "$GLOG"
	[ "$(server_count)" -eq 2 ]
	# A 5xx after the upload: Gmail is asked whether it kept it.
	[ "$(grep -c '^list rfc822msgid:<msg-00001\..*spamtrash=true -> 0' "$GLOG")" -eq 1 ]
	# Imports 5 and 6 are messages 1 and 2 again.
	echo '5 400' >"$GDIR/faults"
	fetch
	assert_failure 69
	assert_output --partial "message 1: Gmail refused the message (HTTP 400: Invalid message: no recipients)"
	grep -q '^fault import 5 400' "$GLOG"
	[ "$(server_count)" -eq 1 ]
	rm "$GDIR/faults"
	fetch
	assert_success
	[ "$(server_count)" -eq 0 ]
	assert_maildir_matches "$TEST_TMP/orig" "$GDIR"
}

@test "gmail: a 500 for a message Gmail kept, its search lagging: the next run finds it before sending it again" {
	signed_in 2
	echo "1 hide500" >"$GDIR/faults"
	fetch
	assert_failure 75
	assert_output --partial "message 1: Gmail answered HTTP 500: Backend Error after the message went out; Gmail does not show it (yet)"
	grep -q '^fault import 1 hide500' "$GLOG"
	[ "$(server_count)" -eq 1 ]
	rm "$GDIR/faults"
	fetch
	assert_success
	assert_output --partial "an earlier run had imported the message (Gmail holds it); not imported again"
	[ "$(grep -c '^list rfc822msgid:<msg-00001\..* -> 1' "$GLOG")" -eq 1 ]
	[ "$(grep -c '^import ' "$GLOG")" -eq 2 ]
	[ "$(server_count)" -eq 0 ]
	assert_maildir_matches "$TEST_TMP/orig" "$GDIR"
}

@test "gmail: the reply lost after Gmail stored the message: found by Message-ID, not imported twice" {
	signed_in 3
	echo "2 drop" >"$GDIR/faults"
	fetch
	assert_success
	assert_output --partial "Gmail holds the message (found by its Message-ID); not imported again"
	grep -q '^fault import 2 drop' "$GLOG"
	[ "$(grep -c '^list rfc822msgid:<msg-00002\..* -> 1' "$GLOG")" -eq 1 ]
	[ "$(server_count)" -eq 0 ]
	assert_maildir_matches "$TEST_TMP/orig" "$GDIR"
}

@test "gmail: the connection cut before Gmail read the upload: not found, deferred (75), imported by the next run, once" {
	signed_in 2
	echo "1 cut" >"$GDIR/faults"
	fetch
	assert_failure 75
	assert_output --partial "message 1: the connection to Gmail broke after the message went out; Gmail does not show it (yet)"
	grep -q '^fault import 1 cut' "$GLOG"
	[ "$(grep -c '^list rfc822msgid:<msg-00001\..* -> 0' "$GLOG")" -eq 1 ]
	[ "$(server_count)" -eq 1 ]
	fetch
	assert_success
	[ "$(server_count)" -eq 0 ]
	assert_maildir_matches "$TEST_TMP/orig" "$GDIR"
}

@test "gmail: a kept connection the API closed after its answer: the next imports go on a new one, once each" {
	signed_in 3
	printf '1 close\n2 close\n' >"$GDIR/faults"
	fetch --debug
	assert_success
	grep -q '^fault import 1 close' "$GLOG"
	grep -q '^fault import 2 close' "$GLOG"
	[ "$(server_count)" -eq 0 ]
	assert_maildir_matches "$TEST_TMP/orig" "$GDIR"
}

@test "gmail: kill -9 while Gmail holds its answer: the next run finds the message (pending journal); exactly once" {
	signed_in 3
	echo "2 stall" >"$GDIR/faults"
	"$POPFETCH" -C "$RC" >"$TEST_TMP/out" 2>&1 3>&- &
	pid=$!
	wait_for 60 test -e "$GDIR/stalled-2" || { kill -9 "$pid"; false; }
	grep -q '^fault import 2 stall' "$GLOG"
	kill -9 "$pid"
	wait "$pid" || true
	touch "$GDIR/release"
	rm "$GDIR/faults"
	[ "$(server_count)" -eq 3 ]
	[ "$(find "$GDIR/raw" -type f | wc -l)" -eq 2 ]
	fetch -v
	assert_success
	assert_output --partial "was delivered by an interrupted run"
	# Message 1's answer had come (its UID not yet durable): found by
	# the id Gmail gave; message 2's had not: found by its Message-ID.
	[ "$(grep -c '^get m00001 -> 200' "$GLOG")" -eq 1 ]
	[ "$(grep -c '^list rfc822msgid:<msg-00001\.' "$GLOG")" -eq 0 ]
	[ "$(grep -c '^list rfc822msgid:<msg-00002\..* -> 1' "$GLOG")" -eq 1 ]
	[ "$(server_count)" -eq 0 ]
	assert_maildir_matches "$TEST_TMP/orig" "$GDIR"
}

@test "gmail: several imports in flight once one was accepted, never more than 4; each message once" {
	signed_in 12
	# Imports 5 to 8 are answered only once all four are in flight.
	echo "5 gather:4" >"$GDIR/faults"
	fetch
	assert_success
	[ "$(grep -c '^import [5-8] gathered 4$' "$GLOG")" -eq 4 ]
	max=$(cat "$GDIR/maxinflight")
	((max > 1 && max <= 4))
	[ "$(server_count)" -eq 0 ]
	[ "$(find "$GDIR/raw" -type f | wc -l)" -eq 12 ]
	assert_maildir_matches "$TEST_TMP/orig" "$GDIR"
}

@test "gmail: a 503 and a 400 among imports in flight: only the accepted messages are deleted; the next run imports the rest once" {
	signed_in 12
	printf '5 gather:4\n6 503\n7 400\n' >"$GDIR/faults"
	fetch
	assert_failure 69
	grep -q '^import [5-8] gathered 4$' "$GLOG"
	grep -q '^import 6 -> 503' "$GLOG"
	grep -q '^import 7 -> 400' "$GLOG"
	assert_output --partial "Gmail refused the message (HTTP 400: Invalid message: no recipients)"
	assert_output --partial "HTTP 503: The service is currently unavailable."
	# The two messages left on the server are the two Gmail does not hold.
	[ "$(server_count)" -eq 2 ]
	[ "$(find "$GDIR/raw" -type f | wc -l)" -eq 10 ]
	[ -z "$(comm -12 <(msgids "$MB") <(msgids "$GDIR/raw"))" ]
	[ "$(sort <(msgids "$MB") <(msgids "$GDIR/raw"))" = "$(msgids "$TEST_TMP/orig")" ]
	rm "$GDIR/faults"
	fetch
	assert_success
	[ "$(server_count)" -eq 0 ]
	[ "$(find "$GDIR/raw" -type f | wc -l)" -eq 12 ]
	assert_maildir_matches "$TEST_TMP/orig" "$GDIR"
}

@test "gmail: a 429 among imports in flight waits its Retry-After, the others land; all delivered once" {
	signed_in 12
	printf '5 gather:4\n6 429:1\n' >"$GDIR/faults"
	fetch -v
	assert_success
	assert_output --partial "waiting 1 s"
	grep -q '^import 6 -> 429' "$GLOG"
	[ "$(grep -c '^import [5-8] gathered 4$' "$GLOG")" -eq 4 ]
	[ "$(grep -c '^import .* -> 200' "$GLOG")" -eq 12 ]
	[ "$(server_count)" -eq 0 ]
	assert_maildir_matches "$TEST_TMP/orig" "$GDIR"
}

@test "gmail: two imports in flight refused with an expired token: one refresh, both sent again with the new one" {
	signed_in 12
	printf '5 gather:4\n6 401\n7 401\n' >"$GDIR/faults"
	fetch -v
	assert_success
	grep -q '^import 6 -> 401' "$GLOG"
	grep -q '^import 7 -> 401' "$GLOG"
	[ "$(grep -c '^refresh ' "$OAUTH_DIR/log")" -eq 1 ]
	[ "$(grep -c 'refreshing it once' <<<"$output")" -eq 1 ]
	[ "$(server_count)" -eq 0 ]
	[ "$(find "$GDIR/raw" -type f | wc -l)" -eq 12 ]
	assert_maildir_matches "$TEST_TMP/orig" "$GDIR"
}

@test "gmail: kill -9 with four imports in flight, Gmail holding their answers: the next run imports each message exactly once" {
	signed_in 12
	printf '5 gather:4\n5 stall\n6 stall\n7 stall\n8 stall\n' >"$GDIR/faults"
	"$POPFETCH" -C "$RC" >"$TEST_TMP/out" 2>&1 3>&- &
	pid=$!
	wait_for 60 test -e "$GDIR/stalled-8" -a -e "$GDIR/stalled-7" -a \
	    -e "$GDIR/stalled-6" -a -e "$GDIR/stalled-5" || { kill -9 "$pid"; false; }
	kill -9 "$pid"
	wait "$pid" || true
	touch "$GDIR/release"
	rm "$GDIR/faults"
	[ "$(server_count)" -eq 12 ]
	[ "$(find "$GDIR/raw" -type f | wc -l)" -eq 8 ]
	fetch -v
	assert_success
	assert_output --partial "was delivered by an interrupted run"
	# Answered before the kill: found by the ids Gmail gave; held: by
	# Message-ID; never sent: imported now.
	[ "$(grep -c '^get m0000[1-4] -> 200' "$GLOG")" -eq 4 ]
	[ "$(grep -c '^list rfc822msgid:.* -> 1' "$GLOG")" -eq 4 ]
	[ "$(server_count)" -eq 0 ]
	[ "$(find "$GDIR/raw" -type f | wc -l)" -eq 12 ]
	assert_maildir_matches "$TEST_TMP/orig" "$GDIR"
}

@test "gmail: hostile answers (HTML, 2 MiB, wrong JSON types) end in a clear error; nothing lost or doubled" {
	signed_in 1
	k=0
	for f in html huge types; do
		k=$((k + 1))
		echo "$k $f" >"$GDIR/faults"
		fetch
		assert_failure 76
		case $f in
		huge) assert_output --partial "sent an answer over 65536 bytes" ;;
		*) assert_output --partial "the Gmail API answered HTTP 200 to the import, but not with a message; the message stays on the server" ;;
		esac
		refute_output --partial "html"
		[ "$(server_count)" -eq 1 ]
		grep -q "^fault import $k $f" "$GLOG"
	done
	# Each time Gmail was asked first (the message was pending).
	rm "$GDIR/faults"
	fetch
	assert_success
	[ "$(server_count)" -eq 0 ]
	assert_maildir_matches "$TEST_TMP/orig" "$GDIR"
}

@test "gmail: an API that never answers: 75 within the timeout, the message kept" {
	signed_in 1 "timeout 3"
	echo "1 hang" >"$GDIR/faults"
	start=$SECONDS
	fetch
	assert_failure 75
	assert_output --partial "the connection to Gmail broke after the message went out"
	((SECONDS - start < 60))
	[ "$(server_count)" -eq 1 ]
}

@test "gmail: no sign-in block, bad labels, a plain http: URL, keys of other kinds: configuration errors (78)" {
	make_mailbox "$MB" 1
	gmail_start
	popserver_start --mailbox "$MB"
	popserver_rc "delivery gmail"
	fetch
	assert_failure 78
	assert_output --partial "delivery gmail needs delivery_oauth2_account"
	rc 'delivery gmail "Unclosed'
	oauth_authorize
	fetch
	assert_failure 78
	assert_output --partial "delivery gmail: bad labels"
	rc "gmail_api_url http://127.0.0.1:1"
	fetch
	assert_failure 78
	assert_output --partial "gmail_api_url http://127.0.0.1:1: only https: URLs (http: with delivery_tls off)"
	rc 'delivery_flags \Seen'
	fetch
	assert_failure 78
	assert_output --partial "delivery_flags is for delivery imap (delivery gmail takes labels"
	popserver_rc "delivery maildir $MD" "gmail_never_spam on"
	fetch
	assert_failure 78
	assert_output --partial "gmail_api_url and gmail_never_spam are for delivery gmail only"
	[ "$(server_count)" -eq 1 ]
}
