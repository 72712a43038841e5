#!/usr/bin/env bats
# courier.bats -- interoperability with a real Courier POP3 server
# (couriertcpd + courierpop3login + courierpop3d, authdaemond with a private
# userdb), started by these tests on 127.0.0.1 in a private mount namespace.
# courier-pop is unpacked by ./setup --deps-only; see tests/lib/courier.bash
# and docs/servers.md.

load lib/common
load lib/certs
load lib/servers
load lib/courier
load lib/interop

setup_file() {
	servers_need usr/lib/courier/courier/courierpop3login \
		usr/lib/courier/courier/courierpop3d /usr/sbin/couriertcpd \
		/usr/bin/couriertls /usr/lib/courier/courier-authlib/authdaemond \
		/usr/sbin/makeuserdb /usr/sbin/userdbpw
	if [[ $(id -u) -ne 0 ]]; then
		skip "needs root: Courier's authlib paths are compiled in, the test mounts a private /etc/courier"
	fi
	courier_start
	export COURIER_POP3_PORT COURIER_POP3S_PORT COURIER_CA COURIER_DIR COURIER_PID
}

teardown_file() {
	courier_stop
}

setup() {
	SRV_PLAIN_PORT=$COURIER_POP3_PORT
	SRV_TLS_PORT=$COURIER_POP3S_PORT
	SRV_CA=$COURIER_CA
	interop_setup
}

srv_add_user() { courier_add_user "$@"; }
srv_deliver()  { courier_deliver "$@"; }
srv_count()    { courier_count "$@"; }
srv_dump()     { courier_dump "$@"; }

@test "courier: auth auto, minimal config (implicit TLS): logs in and fetches" {
	interop_deliver 3
	interop_snapshot
	interop_rc implicit
	interop_fetch
	assert_success
	assert_output --partial "3 messages fetched"
	assert_maildir_matches "$SERVED" "$MD"
	[ "$(courier_count "$U")" -eq 0 ]
}

@test "courier: auth auto over STLS" {
	interop_mech auto starttls
}

@test "courier: auth auto over tls off" {
	interop_mech auto plain
}

@test "courier: auth user (courierpop3login execs courierpop3d after PASS)" {
	interop_mech user implicit
}

@test "courier: auth plain" {
	interop_mech plain implicit
}

@test "courier: auth login over STLS" {
	interop_mech login starttls
}

@test "courier: auth cram-md5 (userdb hmac-md5pw)" {
	interop_mech cram-md5 plain
}

# As against authpam (Debian's default), which cannot check CRAM: Courier
# offers CRAM-MD5 but refuses it; auth auto goes on to USER/PASS.
@test "courier: auth auto over tls off, CRAM-MD5 offered but refused (a user without CRAM secrets): USER next" {
	U=${U}nocram
	COURIER_NO_HMAC=1 courier_add_user "$U" "$PW"
	interop_deliver 2
	interop_snapshot
	interop_rc plain "timeout 30"
	interop_fetch -v
	assert_success
	assert_output --partial "auth auto: CRAM-MD5 failed"
	assert_output --partial "logged in with USER"
	assert_maildir_matches "$SERVED" "$MD"
}

@test "courier: keep mode: second run fetches nothing, third only the new ones" {
	interop_keep implicit
}

@test "courier: delivery to an mbox" {
	interop_mbox starttls
}

@test "courier: a 6 MB message arrives byte for byte" {
	interop_big implicit 6
}

@test "courier: -s and -l count and list without fetching" {
	interop_status implicit
}

# After STLS Courier lists POP3AUTH_TLS (here PLAIN LOGIN), not POP3AUTH.
@test "courier: -S shows the server's capabilities without logging in" {
	interop_serverinfo starttls "STLS on a plain connection" "PLAIN LOGIN" \
		"Courier Mail Server"
}

@test "courier: wrong password (auth auto) is exit 77 within seconds" {
	interop_wrong_password auto implicit
}

@test "courier: wrong password (auth user) is exit 77 within seconds" {
	interop_wrong_password user starttls
}

@test "courier: wrong password (auth cram-md5) is exit 77 within seconds" {
	interop_wrong_password cram-md5 plain
}
