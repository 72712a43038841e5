#!/usr/bin/env bats
# tls.bats -- implicit TLS, STLS, certificate checks and pinning, against the
# project's test server with certificates made at test time.

load lib/common
load lib/popserver
load lib/certs

setup() {
	CERTS=$BATS_RUN_TMPDIR/certs
	make_test_ca "$CERTS"
	make_mailbox "$MB" 2
}

teardown() {
	popserver_stop || true
}

# start MODE CERTNAME [more server flags]
start() {
	local mode=$1 name=$2
	shift 2
	popserver_start --mailbox "$MB" --log "$SLOG" --tls "$mode" \
	    --cert "$CERTS/$name.pem" --key "$CERTS/$name-key.pem" "$@"
}

# rc HOST [extra lines] -- an account using TLS, trusting the test CA.
rc() {
	local host=$1 l
	shift
	{
		echo "account default"
		echo "host $host"
		echo "port $POPSERVER_PORT"
		echo "timeout 10"
		echo "user test"
		echo "password secret"
		echo "delivery maildir $MD"
		for l in "$@"; do echo "$l"; done
	} | write_fetchrc "$RC"
}

fetch() {
	run "$POPFETCH" -C "$RC" "$@"
}

no_password_sent() {
	! grep -q '^C: PASS\|^C: APOP\|^C: USER' "$SLOG" || false
}

@test "implicit TLS, certificate checked against a trust file (IP address)" {
	start implicit server
	rc 127.0.0.1 "tls_trust_file $CERTS/ca.pem"
	fetch
	assert_success
	assert_output --partial "2 messages fetched"
	[ "$(maildir_count "$MD")" -eq 2 ]
}

@test "implicit TLS by host name (SNI and name check)" {
	start implicit server --bind 127.0.0.1
	rc localhost "tls_trust_file $CERTS/ca.pem"
	fetch
	assert_success
	[ "$(maildir_count "$MD")" -eq 2 ]
}

@test "STLS: upgrade, then CAPA again, then login" {
	start starttls server
	rc 127.0.0.1 "tls_starttls on" "tls_trust_file $CERTS/ca.pem"
	fetch
	assert_success
	run grep -n '^C: ' "$SLOG"
	assert_line --index 0 --partial "C: CAPA"
	assert_line --index 1 --partial "C: STLS"
	assert_line --index 2 --partial "C: CAPA"
	assert_line --index 3 --partial "C: USER test"
}

@test "STLS stripped from CAPA: abort before any credential is sent (76)" {
	start starttls server --no-stls-capa
	rc 127.0.0.1 "tls_starttls on" "tls_trust_file $CERTS/ca.pem"
	fetch
	assert_failure 76
	assert_output --partial "does not offer STLS"
	no_password_sent
	[ "$(maildir_count "$MD")" -eq 0 ]
}

@test "bytes injected after STLS's +OK: abort (76), no credential sent" {
	start starttls server --inject-after-stls '+OK injected\r\n'
	rc 127.0.0.1 "tls_starttls on" "tls_trust_file $CERTS/ca.pem"
	fetch
	assert_failure 76
	assert_output --partial "injection"
	no_password_sent
}

@test "a certificate for another host name is refused, nothing delivered" {
	start implicit wronghost
	rc localhost "tls_trust_file $CERTS/ca.pem"
	fetch
	assert_failure 76
	assert_output --partial "default: cannot verify the certificate of localhost"
	assert_output --partial "does not match"
	assert_output --partial "tls_fingerprint"
	no_password_sent
	[ "$(maildir_count "$MD")" -eq 0 ]
}

@test "an expired certificate is refused" {
	start implicit expired
	rc localhost "tls_trust_file $CERTS/ca.pem"
	fetch
	assert_failure 76
	assert_output --partial "expired"
	no_password_sent
}

@test "a self-signed certificate is refused without trust, accepted when pinned" {
	start implicit selfsigned
	rc localhost
	fetch
	assert_failure 76
	assert_output --partial "NOT trusted"
	assert_output --partial "issuer is unknown"
	no_password_sent
	fp=$(cert_sha256 "$CERTS/selfsigned.pem")
	rc localhost "tls_fingerprint $fp"
	fetch
	assert_success
	[ "$(maildir_count "$MD")" -eq 2 ]
}

@test "a pinned fingerprint that does not match is refused" {
	start implicit server
	fp=$(cert_sha256 "$CERTS/selfsigned.pem")
	rc localhost "tls_fingerprint $fp"
	fetch
	assert_failure 76
	assert_output --partial "fingerprint"
	no_password_sent
}

@test "tls_certcheck off accepts any certificate, with a warning" {
	start implicit selfsigned
	rc localhost "tls_certcheck off"
	fetch
	assert_success
	assert_output --partial "warning"
	[ "$(maildir_count "$MD")" -eq 2 ]
}

@test "tls off warns that the password is sent in clear (auth user), unless -q" {
	popserver_start --mailbox "$MB" --log "$SLOG"
	rc 127.0.0.1 "tls off" "auth user"
	fetch
	assert_success
	assert_output --partial "warning: tls is off"
	make_mailbox "$MB" 1
	fetch -q
	assert_success
	assert_output ""
}

@test "a plain-text server on the TLS port fails cleanly (76), no credential sent" {
	popserver_start --mailbox "$MB" --log "$SLOG"
	rc 127.0.0.1 "tls_trust_file $CERTS/ca.pem"
	fetch
	assert_failure 76
	assert_output --partial "TLS"
	no_password_sent
}

@test "the Received: header names the TLS protocol and cipher" {
	start implicit server
	rc 127.0.0.1 "tls_trust_file $CERTS/ca.pem"
	fetch
	assert_success
	f=$(ls "$MD"/new/* | head -n 1)
	run head -n 3 "$f"
	assert_line --index 0 "Received: from 127.0.0.1 (user test)"
	assert_line --index 1 --regexp "^	by .+ with POP3S \(popfetch [0-9.]+, \(TLS1\.[23]\)-.+-\([A-Z0-9-]+\)\);$"
	run sed -n 4p "$f"
	assert_output "Return-Path: <sender@popfetch.test>"
}
