#!/usr/bin/env bats
# cyrus.bats -- interoperability with a real Cyrus IMAP 3.6 POP3 server
# (pop3d under Cyrus' master, SASL users in a private sasldb, mail delivered
# by Cyrus' deliver/lmtpd), started by these tests on 127.0.0.1. Unpacked
# by ./setup --deps-only; see tests/lib/cyrus.bash and docs/servers.md.

load lib/common
load lib/certs
load lib/servers
load lib/cyrus
load lib/interop

setup_file() {
	servers_need usr/lib/cyrus/bin/master usr/lib/cyrus/bin/pop3d \
		usr/lib/cyrus/bin/lmtpd usr/lib/cyrus/bin/deliver \
		/usr/sbin/saslpasswd2
	cyrus_start
	export CYRUS_POP3_PORT CYRUS_POP3S_PORT CYRUS_CA CYRUS_DIR CYRUS_MASTER_PID
}

teardown_file() {
	cyrus_stop
}

setup() {
	interop_server cyrus
	interop_setup
}

@test "cyrus: auth auto, minimal config (implicit TLS): logs in and fetches" {
	interop_deliver 3
	interop_snapshot
	interop_rc implicit
	interop_fetch
	assert_success
	assert_output --partial "3 messages fetched"
	assert_maildir_matches "$SERVED" "$MD"
	[ "$(cyrus_count "$U")" -eq 0 ]
}

@test "cyrus: auth auto over STLS" {
	interop_mech auto starttls
}

@test "cyrus: auth auto over tls off" {
	interop_mech auto plain
}

@test "cyrus: auth user" {
	interop_mech user implicit
}

@test "cyrus: auth apop (allowapop, sasldb)" {
	interop_mech apop plain
}

@test "cyrus: auth plain" {
	interop_mech plain implicit
}

@test "cyrus: auth login over STLS" {
	interop_mech login starttls
}

@test "cyrus: auth cram-md5" {
	interop_mech cram-md5 plain
}

@test "cyrus: auth scram-sha-1" {
	interop_mech scram-sha-1 starttls
}

@test "cyrus: auth scram-sha-256" {
	interop_mech scram-sha-256 implicit
}

# Cyrus SASL 2.1.28 knows only the tls-unique channel binding, which TLS 1.3
# does not have: -PLUS works over TLS 1.2 (popfetch sends tls-unique there).
@test "cyrus: auth scram-sha-1-plus over TLS 1.2 (tls-unique)" {
	interop_deliver 2
	interop_snapshot
	interop_rc implicit "auth scram-sha-1-plus" "timeout 20" \
		"tls_priorities NORMAL:-VERS-ALL:+VERS-TLS1.2"
	interop_fetch
	assert_success
	assert_output --partial "2 messages fetched"
	assert_maildir_matches "$SERVED" "$MD"
}

@test "cyrus: auth scram-sha-256-plus over STLS and TLS 1.2 (tls-unique)" {
	interop_deliver 2
	interop_snapshot
	interop_rc starttls "auth scram-sha-256-plus" "timeout 20" \
		"tls_priorities NORMAL:-VERS-ALL:+VERS-TLS1.2"
	interop_fetch
	assert_success
	assert_output --partial "2 messages fetched"
	assert_maildir_matches "$SERVED" "$MD"
}

# Over TLS 1.3 popfetch binds with tls-exporter, which Cyrus SASL rejects
# ("bad protocol / cancel"): named by the user, that is a clear 77 at once;
# auth auto goes on to SCRAM-SHA-256 (the tests above).
@test "cyrus: auth scram-sha-256-plus over TLS 1.3 is refused quickly with 77, nothing lost" {
	interop_deliver 2
	interop_rc implicit "auth scram-sha-256-plus" "timeout 30" \
		"tls_priorities NORMAL:-VERS-ALL:+VERS-TLS1.3"
	local t0=$SECONDS
	interop_fetch
	assert_failure 77
	assert_output --partial "SCRAM-SHA-256-PLUS"
	((SECONDS - t0 <= 10)) || fail "took $((SECONDS - t0)) s"
	[ "$(maildir_count "$MD")" -eq 0 ]
	[ "$(cyrus_count "$U")" -eq 2 ]
}

@test "cyrus: keep mode: second run fetches nothing, third only the new ones" {
	interop_keep implicit
}

@test "cyrus: delivery to an mbox" {
	interop_mbox starttls
}

@test "cyrus: a 6 MB message arrives byte for byte" {
	interop_big implicit 6
}

@test "cyrus: -s and -l count and list without fetching" {
	interop_status implicit
}

@test "cyrus: -S shows the server's capabilities without logging in" {
	interop_serverinfo starttls STLS SCRAM-SHA-256 "Cyrus POP3"
}

@test "cyrus: wrong password (auth auto) is exit 77 within seconds" {
	interop_wrong_password auto implicit
}

@test "cyrus: wrong password (auth scram-sha-256) is exit 77 within seconds" {
	interop_wrong_password scram-sha-256 starttls
}

@test "cyrus: wrong password (auth plain) is exit 77 within seconds" {
	interop_wrong_password plain implicit
}

@test "cyrus: wrong password (auth user) is exit 77 within seconds" {
	interop_wrong_password user plain
}

@test "cyrus: wrong password (auth apop) is exit 77 within seconds" {
	interop_wrong_password apop plain
}
