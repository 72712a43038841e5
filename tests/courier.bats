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
	interop_server courier
	interop_setup
}

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

# utf8_mailbox -- four messages for U: UTF-8 (RFC 6532) in a display name
# and Subject, in an address's local part, in From and To at once, and one
# plain ASCII message; their copies as Courier holds them go to HELD.
utf8_mailbox() {
	mkdir -p "$SRC" "$TEST_TMP/held"
	printf '%s\n' 'From: Jörg Müller <joerg@example.org>' \
	    'To: u@example.org' 'Subject: Grüße aus Köln' \
	    'Message-ID: <utf8-1@example.org>' 'MIME-Version: 1.0' \
	    'Content-Type: text/plain; charset=utf-8' \
	    'Content-Transfer-Encoding: 8bit' '' 'Schöne Grüße.' >"$SRC/1"
	printf '%s\n' 'From: 山田太郎 <山田@example.jp>' 'To: u@example.org' \
	    'Subject: 会議の件' 'Message-ID: <utf8-2@example.jp>' \
	    'MIME-Version: 1.0' 'Content-Type: text/plain; charset=utf-8' \
	    '' 'よろしくお願いします。' >"$SRC/2"
	printf '%s\n' 'From: plain@example.org' 'To: u@example.org' \
	    'Subject: ascii only' 'Message-ID: <ascii-3@example.org>' '' \
	    'nothing special' >"$SRC/3"
	printf '%s\n' 'From: "Zoë" <zoë@exämple.org>' \
	    'To: Ünïcode <ü@example.org>' 'Subject: ✓ done' \
	    'Message-ID: <utf8-4@example.org>' '' 'ok' >"$SRC/4"
	courier_deliver "$U" "$SRC"/1 "$SRC"/2 "$SRC"/3 "$SRC"/4
	cp "$COURIER_DIR/home/$U/Maildir/new"/* "$TEST_TMP/held/"
}

# Without UTF8 (pop3-dump is such a client) Courier serves its notice for
# the three messages with UTF-8 headers: what popfetch must never get.
courier_substitutes() {
	srv_dump "$U" "$TEST_TMP/no-utf8"
	[ "$(grep -l 'Cannot display Unicode content' "$TEST_TMP/no-utf8"/* | wc -l)" -eq 3 ]
}

@test "courier: UTF-8 headers (RFC 6532): UTF8 sent, each message as Courier holds it, delete mode, maildir" {
	utf8_mailbox
	courier_substitutes
	interop_rc implicit "timeout 20"
	interop_fetch --debug
	assert_success
	assert_output --partial "-> UTF8"
	assert_output --partial "4 messages fetched"
	refute_output --partial "Cannot display"
	assert_maildir_matches "$TEST_TMP/held" "$MD"
	[ "$(courier_count "$U")" -eq 0 ]
}

@test "courier: UTF-8 headers, keep mode, mbox, over STLS: as Courier holds them, left on the server" {
	utf8_mailbox
	interop_rc starttls "keep on" "timeout 20"
	sed -i "s|^delivery .*|delivery mbox $TEST_TMP/mbox|" "$RC"
	interop_fetch
	assert_success
	assert_output --partial "4 messages fetched"
	interop_fetch
	assert_success
	assert_output --partial "no new messages"
	interop_mbox_unpack "$TEST_TMP/mbox" "$TEST_TMP/out"
	assert_maildir_matches "$TEST_TMP/held" "$TEST_TMP/out"
	[ "$(courier_count "$U")" -eq 4 ]
}

@test "courier: -S shows UTF8 USER as sent and that popfetch sends UTF8" {
	interop_rc implicit
	interop_fetch -S
	assert_success
	assert_line --regexp '^    UTF8 USER$'
	assert_line --regexp '^  UTF8 +popfetch sends UTF8'
}

@test "courier: a SASL mechanism Courier does not list is not sent: 69" {
	interop_deliver 1
	interop_rc implicit "auth scram-sha-256" "timeout 20"
	interop_fetch
	assert_failure 69
	assert_output --partial "the server does not offer SCRAM-SHA-256 (its SASL mechanisms: PLAIN LOGIN CRAM-MD5"
	[ "$(courier_count "$U")" -eq 1 ]
}
