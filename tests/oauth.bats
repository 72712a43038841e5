#!/usr/bin/env bats
# oauth.bats -- OAuth 2.0 built in (issue 21), against real parts: the
# tests' own authorization server (tests/oauthserver.py, HTTPS with the
# test CA) and a Dovecot whose oauth2 passdb checks every token popfetch
# sends by introspection against that server.  The user and the browser
# are played by curl at the URL popfetch prints.

load lib/common
load lib/certs
load lib/dovecot
load lib/oauth
load lib/popserver

setup_file() {
	make_test_ca "$BATS_RUN_TMPDIR/certs"
	oauth_start
	oauth_dovecot_start
}

teardown_file() {
	dovecot_stop
	oauth_stop
}

setup() {
	U=user$BATS_TEST_NUMBER
	TOKENS=$TEST_TMP/state/oauth/default
	dovecot_add_user "$U" unused
	SRC=$TEST_TMP/src
	mkdir -p "$SRC"
	make_mailbox "$SRC" 2
	dovecot_deliver "$U" "$SRC"/*
	oauth_reset "$U"
}

refreshes() {
	grep -c '^refresh ' "$OAUTH_DIR/log" || true
}

@test "oauth: --authorize --device, then fetch from Dovecot with XOAUTH2" {
	oauth_rc xoauth2
	oauth_authorize
	cat "$TEST_TMP/authorize.out"
	[ "$AUTH_RC" -eq 0 ]
	grep -q "open $OAUTH_URL/verify and enter the code UC" "$TEST_TMP/authorize.out"
	grep -q "signed in as $U@example.test; tokens saved in $TOKENS" "$TEST_TMP/authorize.out"
	grep -q '^device approved' "$OAUTH_DIR/log"
	[ "$(stat -c %a "$TOKENS")" = 600 ]
	[ "$(stat -c %a "$(dirname "$TOKENS")")" = 700 ]
	run "$POPFETCH" -C "$RC"
	assert_success
	assert_output --partial "2 messages fetched"
	[ "$(maildir_count "$MD")" -eq 2 ]
	[ "$(dovecot_count "$U")" -eq 0 ]
	grep -q "introspect $(field access_token) active" "$OAUTH_DIR/log"
	grep -q "user=<$U>, method=XOAUTH2" "$DOVECOT_LOG"
}

@test "oauth: OAUTHBEARER, and auth auto picks XOAUTH2 from CAPA" {
	oauth_rc oauthbearer "keep on"
	oauth_authorize
	[ "$AUTH_RC" -eq 0 ]
	run "$POPFETCH" -C "$RC"
	assert_success
	grep -q "user=<$U>, method=OAUTHBEARER" "$DOVECOT_LOG"
	run grep -q "user=<$U>, method=XOAUTH2" "$DOVECOT_LOG"
	assert_failure
	oauth_rc auto "uidls_file $TEST_TMP/uidls-auto"
	rm -rf "$MD"
	run "$POPFETCH" -C "$RC"
	assert_success
	grep -q "user=<$U>, method=XOAUTH2" "$DOVECOT_LOG"
	[ "$(maildir_count "$MD")" -eq 2 ]
}

@test "oauth: an expiring token is refreshed and the rotated refresh token kept" {
	echo 30 >"$OAUTH_DIR/expires_in"	# within the 60 s margin
	oauth_rc xoauth2 "keep on" "only_new off"
	oauth_authorize
	[ "$AUTH_RC" -eq 0 ]
	rt1=$(field refresh_token)
	run "$POPFETCH" -C "$RC" -v
	assert_success
	rt2=$(field refresh_token)
	[ "$rt1" != "$rt2" ]
	grep -q "^refresh $rt1 -> $rt2 " "$OAUTH_DIR/log"
	run "$POPFETCH" -C "$RC" -v
	assert_success
	grep -q "^refresh $rt2 -> " "$OAUTH_DIR/log"
	[ "$(refreshes)" -eq 2 ]
	run grep '^reuse' "$OAUTH_DIR/log"
	assert_failure
	# A lasting token is used as it is.
	echo 3600 >"$OAUTH_DIR/expires_in"
	run "$POPFETCH" -C "$RC"
	assert_success
	run "$POPFETCH" -C "$RC"
	assert_success
	[ "$(refreshes)" -eq 3 ]
}

@test "oauth: a token the server refuses is refreshed once, then used" {
	oauth_rc xoauth2
	oauth_authorize
	[ "$AUTH_RC" -eq 0 ]
	# A token that still looks valid but that the server does not know.
	sed -i 's/"access_token":"[^"]*"/"access_token":"at-unknown"/' "$TOKENS"
	run "$POPFETCH" -C "$RC" -v
	assert_success
	assert_output --partial "refreshing it once"
	[ "$(refreshes)" -eq 1 ]
	[ "$(maildir_count "$MD")" -eq 2 ]
}

@test "oauth: a revoked grant is exit 77 naming --authorize; nothing fetched or deleted" {
	oauth_rc xoauth2
	oauth_authorize
	[ "$AUTH_RC" -eq 0 ]
	touch "$OAUTH_DIR/revoked"
	run "$POPFETCH" -C "$RC"
	[ "$status" -eq 77 ]
	assert_output --partial "default: the OAuth server refused the grant (invalid_grant, AADSTS50173)"
	assert_output --partial "run popfetch --authorize default"
	[ "$(maildir_count "$MD")" -eq 0 ]
	[ "$(dovecot_count "$U")" -eq 2 ]
	# The status record says so: --health names it at the first failure,
	# and on_failure hears of it (needs_authorize).
	run "$POPFETCH" -C "$RC" --health
	[ "$status" -eq 1 ]
	assert_output --partial "default: unhealthy: needs authorizing again: "
	grep -q '"needs_authorize":true' "$HOME/.local/state/popfetch/status/default.json"
}

@test "oauth: no tokens yet is exit 77 naming --authorize" {
	oauth_rc xoauth2
	run "$POPFETCH" -C "$RC"
	[ "$status" -eq 77 ]
	assert_output --partial "no OAuth tokens yet"
	assert_output --partial "run popfetch --authorize default"
}

@test "oauth: two runs sharing a token file refresh it once" {
	echo 30 >"$OAUTH_DIR/expires_in"
	oauth_rc xoauth2 "keep on"
	oauth_authorize
	[ "$AUTH_RC" -eq 0 ]
	echo 3600 >"$OAUTH_DIR/expires_in"
	# A second account on the same mailbox and token file.
	cp "$RC" "$TEST_TMP/rc2"
	sed -i "s|^delivery .*|delivery maildir $TEST_TMP/md2|" "$TEST_TMP/rc2"
	echo "uidls_file $TEST_TMP/uidls2" >>"$TEST_TMP/rc2"
	touch "$OAUTH_DIR/hold-refresh"
	"$POPFETCH" -C "$RC" --debug >"$TEST_TMP/a.out" 2>&1 3>&- &
	a=$!
	_oauth_wait_file "$OAUTH_DIR/held" "$a"
	"$POPFETCH" -C "$TEST_TMP/rc2" --debug >"$TEST_TMP/b.out" 2>&1 3>&- &
	b=$!
	# B waits for A's lock while A's refresh is held.
	_oauth_wait_for "$TEST_TMP/b.out" "locked by another run" "$b"
	touch "$OAUTH_DIR/release"
	wait "$a"
	wait "$b"
	cat "$TEST_TMP/a.out" "$TEST_TMP/b.out"
	[ "$(refreshes)" -eq 1 ]
	[ "$(maildir_count "$MD")" -eq 2 ]
	[ "$(maildir_count "$TEST_TMP/md2")" -eq 2 ]
}

@test "oauth: kill -9 during a refresh leaves a usable token file" {
	echo 30 >"$OAUTH_DIR/expires_in"
	oauth_rc xoauth2
	oauth_authorize
	[ "$AUTH_RC" -eq 0 ]
	cp "$TOKENS" "$TEST_TMP/before"
	touch "$OAUTH_DIR/hold-refresh"
	"$POPFETCH" -C "$RC" >"$TEST_TMP/a.out" 2>&1 3>&- &
	a=$!
	_oauth_wait_file "$OAUTH_DIR/held" "$a"
	kill -KILL "$a"
	wait "$a" || true
	touch "$OAUTH_DIR/release"
	rm -f "$OAUTH_DIR/hold-refresh"
	grep -q '^refresh ' "$OAUTH_DIR/log"	# the kill landed in the refresh
	cmp "$TEST_TMP/before" "$TOKENS"
	[ "$(stat -c %a "$TOKENS")" = 600 ]
	[ "$(maildir_count "$MD")" -eq 0 ]
	run "$POPFETCH" -C "$RC"
	assert_success
	[ "$(maildir_count "$MD")" -eq 2 ]
}

@test "oauth: token endpoint unreachable or 5xx is exit 75, tokens kept" {
	echo 30 >"$OAUTH_DIR/expires_in"
	oauth_rc xoauth2
	oauth_authorize
	[ "$AUTH_RC" -eq 0 ]
	cp "$TOKENS" "$TEST_TMP/before"
	echo down >"$OAUTH_DIR/mode"
	run "$POPFETCH" -C "$RC"
	[ "$status" -eq 75 ]
	assert_output --partial "answered HTTP 503"
	rm "$OAUTH_DIR/mode"
	port=$("$PYTHON3" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	oauth_rc xoauth2 "oauth2_token_endpoint https://127.0.0.1:$port/token"
	run "$POPFETCH" -C "$RC"
	[ "$status" -eq 75 ]
	assert_output --partial "cannot reach the OAuth server 127.0.0.1:$port"
	cmp "$TEST_TMP/before" "$TOKENS"
	[ "$(dovecot_count "$U")" -eq 2 ]
}

@test "oauth: hostile token endpoint answers are exit 76, tokens kept" {
	echo 30 >"$OAUTH_DIR/expires_in"
	oauth_rc xoauth2
	oauth_authorize
	[ "$AUTH_RC" -eq 0 ]
	cp "$TOKENS" "$TEST_TMP/before"
	for m in huge types html redirect; do
		echo "$m" >"$OAUTH_DIR/mode"
		run "$POPFETCH" -C "$RC"
		echo "$m: $output"
		[ "$status" -eq 76 ]
		grep -q "^fault $m" "$OAUTH_DIR/log"
	done
	run "$POPFETCH" -C "$RC"
	assert_output --partial "redirect (HTTP 302)"
	refute_output --partial "elsewhere.invalid"
	cmp "$TEST_TMP/before" "$TOKENS"
	[ "$(dovecot_count "$U")" -eq 2 ]
}

@test "oauth: tokens never appear in -v or --debug output" {
	echo 30 >"$OAUTH_DIR/expires_in"
	oauth_rc xoauth2
	oauth_authorize
	[ "$AUTH_RC" -eq 0 ]
	at1=$(field access_token) rt1=$(field refresh_token)
	run "$POPFETCH" -C "$RC" -v --debug
	assert_success
	at2=$(field access_token) rt2=$(field refresh_token)
	[ "$rt1" != "$rt2" ]
	for t in "$at1" "$rt1" "$at2" "$rt2"; do
		refute_output --partial "$t"
		run grep -c -- "$t" "$TEST_TMP/authorize.out"
		[ "$output" = 0 ]
	done
}

@test "oauth: --browser: code + PKCE S256 with a loopback redirect" {
	oauth_rc xoauth2
	"$POPFETCH" -C "$RC" --authorize --browser default \
	    </dev/null >"$TEST_TMP/b.out" 2>&1 3>&- &
	p=$!
	_oauth_wait_for "$TEST_TMP/b.out" "^$OAUTH_URL/authorize?" "$p"
	url=$(grep "^$OAUTH_URL/authorize?" "$TEST_TMP/b.out")
	[[ $url == *code_challenge_method=S256* ]]
	[[ $url == *redirect_uri=http%3A%2F%2F127.0.0.1%3A* ]]
	# The browser: follow the redirect to popfetch's loopback socket.
	run curl -s -L --cacert "$OAUTH_CA" "$url"
	assert_output --partial "popfetch: done"
	wait "$p"
	grep -q '^code tokens' "$OAUTH_DIR/log"
	run "$POPFETCH" -C "$RC"
	assert_success
	[ "$(maildir_count "$MD")" -eq 2 ]
}

@test "oauth: --paste takes the address the browser was sent to" {
	oauth_rc oauthbearer
	mkfifo "$TEST_TMP/in"
	"$POPFETCH" -C "$RC" --authorize --paste default \
	    <"$TEST_TMP/in" >"$TEST_TMP/p.out" 2>&1 3>&- &
	p=$!
	exec 5>"$TEST_TMP/in"
	_oauth_wait_for "$TEST_TMP/p.out" "^$OAUTH_URL/authorize?" "$p"
	url=$(grep "^$OAUTH_URL/authorize?" "$TEST_TMP/p.out")
	loc=$(curl -s -o /dev/null -w '%{redirect_url}' --cacert "$OAUTH_CA" "$url")
	[[ $loc == http://localhost/?code=* ]]
	echo "$loc" >&5
	exec 5>&-
	wait "$p"
	cat "$TEST_TMP/p.out"
	grep -q "signed in as $U@example.test" "$TEST_TMP/p.out"
	run "$POPFETCH" -C "$RC"
	assert_success
	[ "$(maildir_count "$MD")" -eq 2 ]
}

@test "oauth: --paste refuses an address with another sign-in's state" {
	oauth_rc xoauth2
	run "$POPFETCH" -C "$RC" --authorize --paste default \
	    <<<"http://localhost/?code=code-1&state=not-ours"
	[ "$status" -eq 65 ]
	assert_output --partial "does not carry this sign-in's state"
	[ ! -e "$TOKENS" ]
}

@test "oauth: the device flow slows down when told to" {
	oauth_rc xoauth2
	touch "$OAUTH_DIR/slow_down"
	oauth_authorize
	[ "$AUTH_RC" -eq 0 ]
	grep -q '^device slow_down' "$OAUTH_DIR/log"
	grep -q '^device tokens' "$OAUTH_DIR/log"
}

@test "oauth: generic without a token endpoint is a configuration error" {
	oauth_rc xoauth2
	grep -v oauth2_token_endpoint "$RC" | write_fetchrc "$TEST_TMP/rc3"
	run "$POPFETCH" -C "$TEST_TMP/rc3" --authorize default
	[ "$status" -eq 78 ]
	assert_output --partial "needs oauth2_token_endpoint"
}

@test "oauth: --daemon says once that the account needs --authorize" {
	oauth_rc xoauth2
	oauth_authorize
	[ "$AUTH_RC" -eq 0 ]
	touch "$OAUTH_DIR/revoked"
	"$POPFETCH" -C "$RC" --daemon 1s >"$TEST_TMP/d.out" 2>&1 3>&- &
	d=$!
	# Three polls, each refused by the authorization server.
	deadline=$((SECONDS + 60))
	until [ "$(grep -c '^grant refresh_token refused' "$OAUTH_DIR/log")" -ge 3 ]; do
		((SECONDS < deadline)) || break
		kill -0 "$d" || break
		sleep 0.1
	done
	kill -TERM "$d"
	wait "$d" || true
	cat "$TEST_TMP/d.out"
	[ "$(grep -c '^grant refresh_token refused' "$OAUTH_DIR/log")" -ge 3 ]
	[ "$(grep -c 'run popfetch --authorize default' "$TEST_TMP/d.out")" -eq 1 ]
	[ "$(dovecot_count "$U")" -eq 2 ]
}

@test "oauth: -s and --json report an account that needs --authorize" {
	oauth_rc xoauth2
	run "$POPFETCH" -C "$RC" -s
	[ "$status" -eq 77 ]
	assert_output --partial "run popfetch --authorize default"
	run "$POPFETCH" -C "$RC" --json
	[ "$status" -eq 77 ]
	assert_output --partial '"exit":77'
	assert_output --partial 'run popfetch --authorize default'
	oauth_authorize
	[ "$AUTH_RC" -eq 0 ]
	run "$POPFETCH" -C "$RC" -s
	assert_success
	assert_output --partial "2 messages"
}

@test "oauth: auth auto on a server that takes no OAuth token says so (69)" {
	popserver_start --mailbox "$MB" --log "$SLOG" --sasl "PLAIN"
	make_mailbox "$MB" 1
	mkdir -p -m 0700 "$(dirname "$TOKENS")"
	(umask 077 && printf '{"access_token":"at-x","refresh_token":"rt-x","expires_at":4000000000}\n' >"$TOKENS")
	{
		popserver_account "auth auto" "oauth2_client_id popfetch-test-client" \
		    "oauth2_token_endpoint $OAUTH_URL/token" "oauth2_token_file $TOKENS" \
		    "delivery maildir $MD"
	} | write_fetchrc "$RC"
	run "$POPFETCH" -C "$RC"
	popserver_stop
	[ "$status" -eq 69 ]
	assert_output --partial "neither XOAUTH2 nor OAUTHBEARER"
	run grep -c '^C: AUTH' "$SLOG"
	[ "$output" = 0 ]
}

@test "oauth: Ctrl-C ends --authorize --device at once, storing nothing" {
	oauth_rc xoauth2
	# Bash starts background jobs with SIGINT ignored; give it back.
	"$PYTHON3" -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execv(sys.argv[1], sys.argv[1:])' "$POPFETCH" -C "$RC" --authorize \
	    --device default </dev/null >"$TEST_TMP/c.out" 2>&1 3>&- &
	p=$!
	_oauth_wait_for "$TEST_TMP/c.out" "Waiting for the sign-in" "$p"
	kill -INT "$p"
	rc=0
	wait "$p" || rc=$?
	[ "$rc" -eq 130 ]
	[ ! -e "$TOKENS" ]
}

@test "oauth: the client secret from oauth2_client_secret_eval; a wrong one is 78" {
	echo s3cret-42 >"$OAUTH_DIR/client_secret"
	oauth_rc xoauth2 "oauth2_client_secret_eval echo s3cret-42"
	oauth_authorize
	[ "$AUTH_RC" -eq 0 ]
	oauth_rc xoauth2 "oauth2_client_secret wrong"
	echo 30 >"$OAUTH_DIR/expires_in"
	sed -i 's/"expires_at":[0-9]*/"expires_at":1/' "$TOKENS"
	run "$POPFETCH" -C "$RC" -v --debug
	[ "$status" -eq 78 ]
	assert_output --partial "refused the client (invalid_client, AADSTS7000215)"
	refute_output --partial "wrong"
	refute_output --partial "s3cret"
	oauth_rc xoauth2 "oauth2_client_secret_eval exit 3"
	run "$POPFETCH" -C "$RC"
	[ "$status" -eq 78 ]
	assert_output --partial "oauth2_client_secret_eval command failed (exit 3)"
	[ "$(dovecot_count "$U")" -eq 2 ]
}
