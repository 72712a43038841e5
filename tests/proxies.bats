#!/usr/bin/env bats
# proxies.bats -- popfetch behind real POP3 proxies in front of the tests'
# Dovecot: Debian's nginx mail proxy (libnginx-mod-mail; its auth_http
# answered by tests/nginx-auth.py) and perdition.  Before login each proxy
# answers CAPA itself with a short list (nginx: TOP USER UIDL SASL PLAIN
# LOGIN; perdition: UIDL USER), without PIPELINING; after login Dovecot's
# list applies.  popfetch asks CAPA again after login (RFC 2449 §5): -l
# finds TOP, and RETR and DELE are pipelined.  See tests/lib/proxies.bash
# and docs/servers.md.

load lib/common
load lib/certs
load lib/servers
load lib/dovecot
load lib/popserver
load lib/proxies

setup_file() {
	command -v nginx >/dev/null && [[ -f $NGINX_MODULE ]] ||
		skip "nginx with libnginx-mod-mail is not installed (./setup --deps-only)"
	command -v perdition >/dev/null ||
		skip "perdition is not installed (./setup --deps-only)"
	export DOVECOT_PLAINTEXT_AUTH=yes
	dovecot_start
	PW_FILE=$BATS_FILE_TMPDIR/proxy-passwords
	: >"$PW_FILE"
	nginx_start "$DOVECOT_POP3_PORT" "$PW_FILE"
	perdition_start "$DOVECOT_POP3_PORT"
	export DOVECOT_POP3_PORT DOVECOT_DIR DOVECOT_HOME DOVECOT_MASTER_PID \
		PW_FILE NGINX_PORT NGINX_DIR NGINX_PID NGINX_AUTH_PID \
		NGINX_AUTH_LOG PERDITION_PORT PERDITION_DIR PERDITION_PID
}

teardown_file() {
	nginx_stop || true
	perdition_stop || true
	dovecot_stop || true
}

setup() {
	U=u$BATS_TEST_NUMBER
	PW="pw-$U-S3cret"
	SRC=$TEST_TMP/src
	dovecot_add_user "$U" "$PW"
	echo "$U $PW" >>"$PW_FILE"
	mkdir -p "$SRC"
}

teardown() {
	popserver_stop || true
	[[ -z ${DROP_PID:-} ]] || servers_stop_instance "$DROP_PID" "$DROP_DIR"
}

# port_of PROXY -- nginx, perdition or direct (Dovecot itself).
port_of() {
	case $1 in
	nginx) echo "$NGINX_PORT" ;;
	perdition) echo "$PERDITION_PORT" ;;
	direct) echo "$DOVECOT_POP3_PORT" ;;
	esac
}

# rc PROXY [LINE...] -- the minimal account a user writes, through PROXY.
# No TLS: the proxies here speak plain POP3 on loopback.
rc() {
	local port l
	port=$(port_of "$1")
	shift
	{
		echo "account default"
		echo "host 127.0.0.1"
		echo "port $port"
		echo "tls off"
		echo "user $U"
		echo "password $PW"
		echo "delivery maildir $MD"
		echo "received_header off"
		echo "timeout 30"
		for l in "$@"; do echo "$l"; done
	} | write_fetchrc "$RC"
}

deliver() {
	make_mailbox "$SRC" "$1"
	dovecot_deliver "$U" "$SRC"/*
}

fetch() {
	run timeout 60 "$POPFETCH" -C "$RC" "$@"
}

# round_trips -- in a --debug trace ($output), how often popfetch waited:
# each run of commands sent ("->") followed by a reply read ("<-").
round_trips() {
	grep -o -- ' \(->\|<-\) ' <<<"$output" | tr -d ' ' | uniq |
		grep -c -- '<-'
}

# The client's commands, in order, from the --debug trace.
sent() {
	grep -o -- '-> [A-Z0-9]*' <<<"$output" | cut -c4-
}

# fetch_through PROXY -- delete mode, auth auto: every message byte for
# byte, the mailbox empty after; after login RETRs and DELEs pipelined.
fetch_through() {
	deliver 5
	rc "$1"
	fetch --debug
	assert_success
	assert_output --partial "5 messages fetched"
	assert_maildir_matches "$SRC" "$MD"
	[ "$(dovecot_count "$U")" -eq 0 ]
	run sent
	assert_output --partial "$(printf 'CAPA\nLIST\nUIDL\nRETR\nRETR\nRETR\nRETR\nRETR\nNOOP')"
	assert_output --partial "$(printf 'DELE\nDELE\nDELE\nDELE\nDELE\nQUIT')"
}

keep_through() {
	deliver 3
	rc "$1" "keep on"
	fetch
	assert_success
	assert_output --partial "3 messages fetched"
	fetch
	assert_success
	assert_output --partial "no new messages"
	[ "$(dovecot_count "$U")" -eq 3 ]
	assert_maildir_matches "$SRC" "$MD"
}

# list_through PROXY -- -s counts, -l lists with TOP, which only the
# list after login names (before it, perdition lists no TOP at all).
list_through() {
	deliver 3
	rc "$1" "keep on"
	fetch -s
	assert_success
	assert_output --partial "3"
	fetch -l
	assert_success
	local s
	for s in "$SRC"/*; do
		assert_output --partial "$(sed -n 's/^Subject: //p' "$s" | head -1)"
	done
	[ "$(maildir_count "$MD")" -eq 0 ]
	[ "$(dovecot_count "$U")" -eq 3 ]
}

wrong_password_through() {
	local t0=$SECONDS
	deliver 2
	rc "$1"
	sed -i "s/^password .*/password wrong-$PW/" "$RC"
	fetch
	assert_failure 77
	assert_output --partial "authentication failed for user $U"
	((SECONDS - t0 < 20))
	[ "$(maildir_count "$MD")" -eq 0 ]
	[ "$(dovecot_count "$U")" -eq 2 ]
}

# Round trips through PROXY against Dovecot directly, same mailbox: the
# proxy's list costs lock-step USER and PASS and one CAPA, no more.
round_trips_through() {
	local direct proxied
	deliver 20
	rc direct "keep on"
	fetch --debug
	assert_success
	direct=$(round_trips)
	rm -rf "$MD" "$HOME/.local/state/popfetch"
	rc "$1" "keep on"
	fetch --debug
	assert_success
	proxied=$(round_trips)
	echo "round trips: direct $direct, through $1 $proxied" >&3
	((proxied <= direct + 2))
	# Twenty messages in far fewer round trips: pipelined.
	((proxied < 12))
}

@test "nginx: auth auto (APOP from its greeting, checked by auth_http), delete mode, byte for byte; RETR and DELE pipelined after login" {
	fetch_through nginx
	grep -q "^apop $U pop3$" "$NGINX_AUTH_LOG"
}

@test "perdition: auth auto, delete mode, byte for byte; RETR and DELE pipelined after login" {
	fetch_through perdition
}

@test "nginx: keep mode: the second run fetches nothing" {
	keep_through nginx
}

@test "perdition: keep mode: the second run fetches nothing" {
	keep_through perdition
}

@test "nginx: -s counts and -l lists (TOP from the list after login)" {
	list_through nginx
}

@test "perdition: -s counts and -l lists (TOP only in the list after login)" {
	list_through perdition
}

@test "nginx: -S shows the proxy's own short list, as sent" {
	rc nginx
	fetch -S
	assert_success
	assert_line "    TOP"
	assert_line "    SASL PLAIN LOGIN"
	refute_output --partial "PIPELINING"
}

@test "perdition: -S shows the proxy's own short list, as sent" {
	rc perdition
	fetch -S
	assert_success
	assert_line --regexp '^Greeting: POP3 perditon ready'
	assert_line "    UIDL"
	assert_line "    USER"
	refute_output --partial "TOP"
}

@test "nginx: wrong password (auth_http says so): 77 within seconds, nothing touched" {
	wrong_password_through nginx
}

@test "perdition: wrong password (Dovecot refuses, perdition relays): 77, nothing touched" {
	wrong_password_through perdition
}

@test "nginx: round trips within two of Dovecot's own" {
	round_trips_through nginx
}

@test "perdition: round trips within two of Dovecot's own" {
	round_trips_through perdition
}

@test "perdition: the store hangs up after the password, perdition drops the client: 75, the step named" {
	printf '%s\n' 'S: +OK ready' 'C: USER .*' 'S: +OK' 'C: PASS .*' 'CLOSE' >"$SCRIPT"
	popserver_start --script "$SCRIPT" --log "$SLOG"
	local saved_port=$PERDITION_PORT saved_pid=$PERDITION_PID saved_dir=$PERDITION_DIR
	perdition_start "$POPSERVER_PORT"
	DROP_PID=$PERDITION_PID DROP_DIR=$PERDITION_DIR
	rc perdition
	PERDITION_PORT=$saved_port PERDITION_PID=$saved_pid PERDITION_DIR=$saved_dir
	fetch
	assert_failure 75
	assert_output --partial "the server closed the connection after the password (a proxy that drops pipelined commands, or an account the provider has locked)"
	grep -q '^C: PASS' "$SLOG"
}

@test "nginx: auth_http gives no answer: nginx's '-ERR internal server error' at login, 77 with its text" {
	U=dropme
	rc nginx
	fetch
	assert_failure 77
	assert_output --partial "internal server error"
	grep -q "^plain dropme pop3$" "$NGINX_AUTH_LOG"
}

@test "nginx: auth plain by name (listed by nginx before login), keep mode" {
	deliver 2
	rc nginx "auth plain" "keep on"
	fetch
	assert_success
	assert_output --partial "2 messages fetched"
	assert_output --partial "tls is off"
	grep -q "^plain $U pop3$" "$NGINX_AUTH_LOG"
}
