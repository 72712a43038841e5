#!/usr/bin/env bats
# auth.bats -- SASL logins (RFC 5034) against the project's test server:
# PLAIN, LOGIN, CRAM-MD5, XOAUTH2 in both forms, OAUTHBEARER, what `auth
# auto` picks with and without TLS, refusals and their exit codes, and
# traces that never show a secret; SCRAM and its cap on the server's
# iteration count.  SCRAM against a real server is in dovecot-auth.bats.

load lib/common
load lib/popserver
load lib/certs

setup() {
	make_mailbox "$MB" 2
}

teardown() {
	popserver_stop || true
}

# rc [extra lines] -- a plain-TCP account (tls off by name).
rc() {
	local l
	{
		echo "account default"
		echo "host 127.0.0.1"
		echo "port $POPSERVER_PORT"
		echo "tls off"
		echo "timeout 10"
		echo "user test"
		echo "delivery maildir $MD"
		echo "uidls_file $TEST_TMP/state"
		for l in "$@"; do echo "$l"; done
	} | write_fetchrc "$RC"
}

# tls_rc [extra lines] -- the same over implicit TLS with the test CA.
tls_rc() {
	local l
	{
		echo "account default"
		echo "host 127.0.0.1"
		echo "port $POPSERVER_PORT"
		echo "tls_trust_file $CERTS/ca.pem"
		echo "timeout 10"
		echo "user test"
		echo "delivery maildir $MD"
		echo "uidls_file $TEST_TMP/state"
		for l in "$@"; do echo "$l"; done
	} | write_fetchrc "$RC"
}

start_tls_server() {
	CERTS=$BATS_RUN_TMPDIR/certs
	make_test_ca "$CERTS"
	popserver_start --mailbox "$MB" --log "$SLOG" --tls implicit \
	    --cert "$CERTS/server.pem" --key "$CERTS/server-key.pem" "$@"
}

fetch() {
	run "$POPFETCH" -C "$RC" "$@"
}

# The client lines the server saw, without the "C: " prefix.
client_lines() {
	sed -n 's/^.*C: //p' "$SLOG"
}

b64() {
	printf '%b' "$1" | base64 -w0
}

@test "auth plain: initial response on the AUTH line" {
	popserver_start --mailbox "$MB" --log "$SLOG" --sasl "PLAIN"
	rc "password secret" "auth plain"
	fetch
	assert_success
	assert_output --partial "2 messages fetched"
	run client_lines
	assert_line "AUTH PLAIN $(b64 '\0test\0secret')"
	refute_line --partial "PASS"
}

@test "auth login: username and password after the server's prompts" {
	popserver_start --mailbox "$MB" --log "$SLOG" --sasl "LOGIN"
	rc "password secret" "auth login"
	fetch
	assert_success
	run client_lines
	assert_line "AUTH LOGIN"
	assert_line "$(b64 test)"
	assert_line "$(b64 secret)"
}

@test "auth cram-md5: HMAC answer to the server's challenge" {
	popserver_start --mailbox "$MB" --log "$SLOG" --sasl "CRAM-MD5"
	rc "password secret" "auth cram-md5"
	fetch
	assert_success
	assert_output --partial "2 messages fetched"
	run client_lines
	assert_line "AUTH CRAM-MD5"
	refute_line --partial "$(b64 secret)"
}

@test "auth plain with a wrong password: exit 77 with the server's text" {
	popserver_start --mailbox "$MB" --log "$SLOG" --sasl "PLAIN"
	rc "password wrong" "auth plain"
	fetch
	assert_failure 77
	assert_output --partial "default: authentication failed for user test"
	assert_output --partial "[AUTH] invalid credentials"
	[ "$(maildir_count "$MD")" -eq 0 ]
}

@test "auth plain refused with [SYS/TEMP]: exit 75" {
	popserver_start --mailbox "$MB" --log "$SLOG" --sasl "PLAIN" \
	    --auth-fail-code SYS/TEMP
	rc "password secret" "auth plain"
	fetch
	assert_failure 75
	assert_output --partial "[SYS/TEMP]"
}

@test "a named mechanism the server does not list: exit 69 naming it and the offer, nothing sent" {
	popserver_start --mailbox "$MB" --log "$SLOG" --sasl "PLAIN"
	rc "password secret" "auth login"
	fetch
	assert_failure 69
	assert_output --partial "the server does not offer LOGIN (its SASL mechanisms: PLAIN); nothing was sent"
	! grep -q '^C: \(AUTH\|USER\|PASS\)' "$SLOG" || false
}

@test "xoauth2: short token as an initial response, from passwordeval" {
	popserver_start --mailbox "$MB" --log "$SLOG" --sasl "XOAUTH2" \
	    --token tok-123
	rc "passwordeval echo tok-123" "auth xoauth2"
	fetch
	assert_success
	assert_output --partial "2 messages fetched"
	run client_lines
	assert_line "AUTH XOAUTH2 $(b64 'user=test\001auth=Bearer tok-123\001\001')"
}

@test "xoauth2 two-step (Outlook): a long token goes after the server's +" {
	local tok
	tok=$(head -c 1500 /dev/zero | tr '\0' 'T')
	popserver_start --mailbox "$MB" --log "$SLOG" --sasl "XOAUTH2" \
	    --token "$tok" --xoauth2-two-step
	rc "passwordeval echo $tok" "auth xoauth2"
	fetch
	assert_success
	assert_output --partial "2 messages fetched"
	run client_lines
	assert_line "AUTH XOAUTH2"
	assert_line "$(b64 "user=test\001auth=Bearer $tok\001\001")"
}

@test "xoauth2 with a bad token: error challenge answered, exit 77" {
	popserver_start --mailbox "$MB" --log "$SLOG" --sasl "XOAUTH2" \
	    --token good
	rc "passwordeval echo stale" "auth xoauth2"
	fetch
	assert_failure 77
	assert_output --partial "refused the OAuth token"
	assert_output --partial "[AUTH] invalid token"
	# The empty answer to the error challenge, not a protocol violation.
	refute_output --partial "protocol violation"
}

@test "oauthbearer: RFC 7628 message with host and port; bad token answered with AQ==" {
	popserver_start --mailbox "$MB" --log "$SLOG" --sasl "OAUTHBEARER" \
	    --token tok-9
	rc "passwordeval echo tok-9" "auth oauthbearer"
	fetch
	assert_success
	run client_lines
	assert_line "AUTH OAUTHBEARER $(b64 "n,a=test,\001host=127.0.0.1\001port=$POPSERVER_PORT\001auth=Bearer tok-9\001\001")"

	popserver_stop
	popserver_start --mailbox "$MB" --log "$SLOG" --sasl "OAUTHBEARER" \
	    --token other
	rc "passwordeval echo tok-9" "auth oauthbearer"
	fetch
	assert_failure 77
	assert_output --partial "[AUTH] invalid token"
}

@test "a failing passwordeval for a token: clear error, nothing sent" {
	popserver_start --mailbox "$MB" --log "$SLOG" --sasl "XOAUTH2"
	rc "passwordeval exit 3" "auth xoauth2"
	fetch
	assert_failure 78
	assert_output --partial "passwordeval command failed (exit 3)"
	run client_lines
	refute_output --partial "AUTH"
}

@test "--debug trace never shows the password, the SASL payloads or the token" {
	popserver_start --mailbox "$MB" --log "$SLOG" --sasl "PLAIN LOGIN" \
	    --password s3cr3t-PW
	rc "password s3cr3t-PW" "auth login"
	fetch --debug
	assert_success
	assert_output --partial "-> AUTH LOGIN"
	assert_output --partial "<- + (challenge"
	refute_output --partial "s3cr3t-PW"
	refute_output --partial "$(b64 s3cr3t-PW)"
	refute_output --partial "$(b64 test)"

	rm -rf "$MD" "$TEST_TMP/state"
	make_mailbox "$MB" 1
	rc "password s3cr3t-PW" "auth plain"
	fetch --debug
	assert_success
	assert_output --partial "-> AUTH PLAIN ***"
	refute_output --partial "s3cr3t-PW"
	refute_output --partial "$(b64 '\0test\0s3cr3t-PW')"

	popserver_stop
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB" --log "$SLOG" --sasl "XOAUTH2" \
	    --token tok-SECRET-77
	rc "passwordeval echo tok-SECRET-77" "auth xoauth2"
	fetch --debug
	assert_success
	refute_output --partial "tok-SECRET-77"
	refute_output --partial "$(b64 'user=test\001auth=Bearer tok-SECRET-77\001\001')"
}

@test "auth auto without TLS: CRAM-MD5 rather than a readable password" {
	popserver_start --mailbox "$MB" --log "$SLOG" --sasl "PLAIN LOGIN CRAM-MD5"
	rc "password secret"
	fetch
	assert_success
	run client_lines
	assert_line "AUTH CRAM-MD5"
	refute_line --partial "AUTH PLAIN"
	refute_line --partial "PASS"
}

@test "auth auto over TLS: PLAIN when the server offers it, USER when not" {
	start_tls_server --sasl "LOGIN PLAIN"
	tls_rc "password secret"
	fetch
	assert_success
	run client_lines
	assert_line --partial "AUTH PLAIN "

	popserver_stop
	rm -f "$SLOG"
	make_mailbox "$MB" 1
	start_tls_server
	tls_rc "password secret"
	fetch
	assert_success
	run client_lines
	assert_line "USER test"
}

@test "auth values: unknown one is a config error listing the choices" {
	popserver_start --mailbox "$MB" --log "$SLOG"
	rc "password secret" "auth bogus-mech"
	fetch
	assert_failure 78
	assert_output --partial "scram-sha-256-plus"
}

# -- auth auto falls back past mechanisms the server offers but refuses ------

@test "auth auto over TLS: SCRAM refused with [AUTH] (Cyrus -PLUS), PLAIN next" {
	start_tls_server --sasl "PLAIN" \
	    --refuse-sasl "SCRAM-SHA-256-PLUS SCRAM-SHA-1-PLUS SCRAM-SHA-256 SCRAM-SHA-1"
	tls_rc "password secret"
	fetch -v
	assert_success
	assert_output --partial "auth auto: SCRAM-SHA-256-PLUS failed (the server rejected AUTH SCRAM-SHA-256-PLUS: [AUTH] authenticating: bad protocol / cancel); trying SCRAM-SHA-256"
	assert_output --partial "auth auto: SCRAM-SHA-256 failed"
	assert_output --partial "logged in with PLAIN"
	[ "$(maildir_count "$MD")" -eq 2 ]
	run client_lines
	assert_line --index 1 --regexp '^AUTH SCRAM-SHA-256-PLUS '
	assert_line --regexp '^AUTH SCRAM-SHA-256 '
	assert_line --regexp '^AUTH PLAIN '
	# One refusal of a family is enough: the SHA-1 forms stand or fall
	# with the SHA-256 ones.
	refute_line --regexp '^AUTH SCRAM-SHA-1'
	refute_line "USER test"
}

@test "auth auto without TLS: CRAM-MD5 offered but refused (Courier with PAM), APOP next" {
	popserver_start --mailbox "$MB" --log "$SLOG" --refuse-sasl "CRAM-MD5"
	rc "password secret"
	fetch -v
	assert_success
	assert_output --partial "trying APOP"
	run client_lines
	assert_line "AUTH CRAM-MD5"
	assert_line --regexp '^APOP test [0-9a-f]{32}$'
	refute_line --partial "PASS"
}

@test "auth auto without TLS and without APOP: CRAM-MD5 refused, USER/PASS last" {
	popserver_start --mailbox "$MB" --log "$SLOG" --refuse-sasl "CRAM-MD5" --no-apop
	rc "password secret"
	fetch -v
	assert_success
	run client_lines
	assert_line "AUTH CRAM-MD5"
	assert_line "USER test"
}

@test "auth auto, wrong password: 77 after SCRAM's refusal and PLAIN's, never more; says what was tried" {
	start_tls_server --sasl "PLAIN LOGIN" --refuse-sasl "SCRAM-SHA-256"
	tls_rc "password wrong"
	local start=$SECONDS
	fetch
	assert_failure 77
	((SECONDS - start < 10))
	assert_output --partial "authentication failed for user test: tried SCRAM-SHA-256, PLAIN"
	run client_lines
	assert_line --regexp '^AUTH PLAIN '
	refute_line --regexp '^AUTH LOGIN'
	refute_line "USER test"
}

@test "auth auto: a temporary refusal ([SYS/TEMP]) ends the login at once (75), no next mechanism" {
	start_tls_server --auth-fail-code SYS/TEMP
	tls_rc "password secret"
	fetch
	assert_failure 75
	run client_lines
	assert_line "USER test"
	refute_line --regexp '^APOP'
}

# solid-pop3d offers APOP in its greeting to every user, refuses it for
# users without an APOP secret, and hangs up after any refused login.
@test "auth auto: a server that hangs up after refusing APOP (solid-pop3d): USER on a new connection" {
	popserver_start --mailbox "$MB" --log "$SLOG" --refuse-apop --hangup-after-refusal
	rc "password secret"
	fetch -v
	assert_success
	assert_output --partial "the server closed the connection after refusing APOP; trying USER on a new connection"
	assert_output --partial "logged in with USER"
	[ "$(grep -c '^.*CONNECT$' "$SLOG")" -eq 2 ]
	run client_lines
	assert_line --regexp '^APOP test [0-9a-f]{32}$'
	assert_line "USER test"
	[ "$(maildir_count "$MD")" -eq 2 ]
}

@test "auth auto over TLS: SCRAM refused, then a hang-up: PLAIN on a new connection" {
	start_tls_server --sasl "PLAIN" --refuse-sasl "SCRAM-SHA-256" --hangup-after-refusal
	tls_rc "password secret"
	fetch -v
	assert_success
	assert_output --partial "trying PLAIN on a new connection"
	[ "$(grep -c '^.*CONNECT$' "$SLOG")" -eq 2 ]
	run client_lines
	[ "$(grep -c '^AUTH SCRAM-SHA-256' <<<"$output")" -eq 1 ]
	assert_line --regexp '^AUTH PLAIN '
}

@test "auth auto, wrong password, a server that hangs up after each refusal: 77, one new connection per method, never more" {
	popserver_start --mailbox "$MB" --log "$SLOG" --hangup-after-refusal
	rc "password wrong"
	local start=$SECONDS
	fetch
	assert_failure 77
	((SECONDS - start < 10))
	assert_output --partial "authentication failed for user test: tried APOP, USER"
	[ "$(grep -c '^.*CONNECT$' "$SLOG")" -eq 2 ]
	[ "$(maildir_count "$MD")" -eq 0 ]
}

@test "auth by name is tried once: a hang-up after its refusal is 77, no new connection" {
	popserver_start --mailbox "$MB" --log "$SLOG" --refuse-apop --hangup-after-refusal
	rc "password secret" "auth apop"
	fetch
	assert_failure 77
	[ "$(grep -c '^.*CONNECT$' "$SLOG")" -eq 1 ]
}

@test "a server that drops input sent before the login's +OK (Cyrus; Courier's exec) still works with PIPELINING" {
	popserver_start --mailbox "$MB" --log "$SLOG" --pipelining --drop-input-at-login
	rc "password secret" "auth user"
	run timeout 20 "$POPFETCH" -C "$RC"
	assert_success
	[ "$(maildir_count "$MD")" -eq 2 ]
	! grep -q '^DISCARD' "$SLOG" || false
	# The same with a SASL login.
	popserver_stop
	rm -rf "$MD" "$TEST_TMP/state" "$SLOG"
	make_mailbox "$MB" 1
	start_tls_server --pipelining --drop-input-at-login --sasl PLAIN
	tls_rc "password secret"
	run timeout 20 "$POPFETCH" -C "$RC"
	assert_success
	[ "$(maildir_count "$MD")" -eq 1 ]
	! grep -q '^DISCARD' "$SLOG" || false
}

@test "auth scram-sha-256 and scram-sha-1 against the test server: logged in (i=4096, and a million, the cap)" {
	popserver_start --mailbox "$MB" --log "$SLOG" \
	    --sasl "SCRAM-SHA-256 SCRAM-SHA-1" --max-sessions 3
	rc "auth scram-sha-256" "password secret" "keep on"
	fetch --debug
	assert_success
	# popfetch's own derivation (in slices a signal can end), not GNU SASL's.
	assert_output --partial "default: debug: SCRAM-SHA-256: deriving the key (4096 iterations)"
	refute_output --partial "secret"
	rc "auth scram-sha-1" "password secret" "keep on"
	rm -f "$TEST_TMP/state"
	fetch
	assert_success
	popserver_stop
	popserver_start --mailbox "$MB" --log "$SLOG" --sasl "SCRAM-SHA-256" \
	    --scram-iterations 1000000
	rc "auth scram-sha-256" "password secret"
	fetch
	assert_success
	run grep -c '^LOGIN test' "$SLOG"
	assert_output 3
}

# i=4294967295 was about two hours of one core in GNU SASL's PBKDF2, past
# any timeout; auth auto picks SCRAM first whenever it is offered.
@test "SCRAM with a huge iteration count: refused at once (76), the exchange cancelled, no other method tried" {
	popserver_start --mailbox "$MB" --log "$SLOG" \
	    --sasl "SCRAM-SHA-256 PLAIN" --scram-iterations 4294967295
	rc "password secret"
	local t0=$SECONDS
	run timeout -k 5 60 "$POPFETCH" -C "$RC"
	assert_failure 76
	assert_line "default: SCRAM-SHA-256 exchange failed: the server asks for 4294967295 iterations, more than the 1000000 popfetch computes (real servers use 4096); not logging in"
	[ $((SECONDS - t0)) -le 10 ]
	run grep -c 'AUTH cancelled' "$SLOG"
	assert_output 1
	run client_lines
	refute_line --regexp '^AUTH PLAIN'
	refute_line --regexp '^PASS'
	# One over the cap is refused too.
	popserver_stop
	popserver_start --mailbox "$MB" --log "$SLOG" --sasl "SCRAM-SHA-1" \
	    --scram-iterations 1000001
	rc "password secret" "auth scram-sha-1"
	run timeout -k 5 60 "$POPFETCH" -C "$RC"
	assert_failure 76
	assert_output --partial "the server asks for 1000001 iterations"
}

@test "--daemon against a server with a huge SCRAM iteration count keeps polling and stops on SIGTERM" {
	popserver_start --mailbox "$MB" --log "$SLOG" \
	    --sasl "SCRAM-SHA-256" --scram-iterations 4294967295
	rc "password secret"
	"$POPFETCH" -C "$RC" --daemon 1s >"$TEST_TMP/daemon.out" 2>&1 3>&- &
	local pid=$! i
	# Two polls: each one refused, none computing for hours.
	for i in $(seq 300); do
		[ "$(grep -c 'AUTH cancelled' "$SLOG")" -ge 2 ] && break
		sleep 0.1
	done
	kill -TERM "$pid"
	for i in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid"
		wait "$pid" || true
		fail "the daemon did not stop within 10 s of SIGTERM"
	fi
	wait "$pid" || true
	run grep -c 'AUTH cancelled' "$SLOG"
	[ "$output" -ge 2 ]
}
