#!/usr/bin/env bats
# tls-options.bats -- tls_priorities, tls_cert_file + tls_key_file (client
# certificates) and tls_crl_file, against the project's test server.

load lib/common
load lib/popserver
load lib/certs

setup() {
	CERTS=$BATS_RUN_TMPDIR/certs
	make_test_ca "$CERTS"
	make_mailbox "$MB" 1
}

teardown() {
	popserver_stop || true
}

start() {
	popserver_start --mailbox "$MB" --log "$SLOG" --tls implicit \
	    --cert "$CERTS/server.pem" --key "$CERTS/server-key.pem" "$@"
}

rc() {
	local l
	{
		echo "account default"
		echo "host 127.0.0.1"
		echo "port $POPSERVER_PORT"
		echo "tls_trust_file $CERTS/ca.pem"
		echo "timeout 10"
		echo "user test"
		echo "password secret"
		echo "delivery maildir $MD"
		echo "uidls_file $TEST_TMP/state"
		for l in "$@"; do echo "$l"; done
	} | write_fetchrc "$RC"
}

fetch() {
	run "$POPFETCH" -C "$RC" "$@"
}

# A client certificate signed by the test CA, made once per run.
client_cert() {
	local d=$BATS_RUN_TMPDIR/client
	[[ -f $d/client.pem ]] && return 0
	mkdir -p "$d"
	certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 \
	    --outfile "$d/client-key.pem" >/dev/null 2>&1
	printf '%s\n' 'cn = "popfetch client"' 'tls_www_client' 'signing_key' \
	    'serial = 40' 'expiration_days = 30' >"$d/client.tmpl"
	certtool --generate-certificate --load-privkey "$d/client-key.pem" \
	    --load-ca-certificate "$CERTS/ca.pem" \
	    --load-ca-privkey "$CERTS/ca-key.pem" --template "$d/client.tmpl" \
	    --outfile "$d/client.pem" >/dev/null 2>&1
}

@test "tls_priorities limits the protocol version" {
	start
	rc "tls_priorities NORMAL:-VERS-ALL:+VERS-TLS1.2"
	fetch --debug
	assert_success
	assert_output --partial "TLS1.2"
	refute_output --partial "TLS1.3"
}

@test "tls_priorities that the server cannot meet: refused, nothing sent" {
	start
	rc "tls_priorities NORMAL:-VERS-ALL:+VERS-TLS1.0"
	fetch
	assert_failure
	run grep -c '^.*C: ' "$SLOG"
	assert_output 0
}

@test "an invalid tls_priorities string: exit 78 naming the key" {
	start
	rc "tls_priorities NORMAL:+NO-SUCH-THING"
	fetch
	assert_failure 78
	assert_output --partial "tls_priorities:"
	assert_output --partial "NO-SUCH-THING"
}

@test "client certificate: sent when the server asks; refused without it" {
	client_cert
	start --client-ca "$CERTS/ca.pem"
	rc
	fetch
	assert_failure
	[ "$(maildir_count "$MD")" -eq 0 ]
	rc "tls_cert_file $BATS_RUN_TMPDIR/client/client.pem" \
	    "tls_key_file $BATS_RUN_TMPDIR/client/client-key.pem"
	fetch
	assert_success
	grep -q "CLIENT-CERT popfetch client" "$SLOG"
}

@test "tls_cert_file without tls_key_file, or unreadable: exit 78" {
	start
	rc "tls_cert_file $CERTS/server.pem"
	fetch
	assert_failure 78
	assert_output --partial "'tls_cert_file' and 'tls_key_file' go together"
	rc "tls_cert_file $TEST_TMP/none.pem" "tls_key_file $TEST_TMP/none-key.pem"
	fetch
	assert_failure 78
	assert_output --partial "tls_cert_file $TEST_TMP/none.pem"
}

@test "tls_crl_file: a revoked server certificate is refused" {
	local crl=$TEST_TMP/crl.pem
	printf '%s\n' 'crl_next_update = 30' 'crl_number = 1' >"$TEST_TMP/crl.tmpl"
	certtool --generate-crl --load-ca-certificate "$CERTS/ca.pem" \
	    --load-ca-privkey "$CERTS/ca-key.pem" \
	    --load-certificate "$CERTS/server.pem" \
	    --template "$TEST_TMP/crl.tmpl" --outfile "$crl" >/dev/null 2>&1
	start
	rc "tls_crl_file $crl"
	fetch
	assert_failure 76
	assert_output --partial "revoked"
	[ "$(maildir_count "$MD")" -eq 0 ]

	# An empty CRL from the same CA revokes nothing.
	certtool --generate-crl --load-ca-certificate "$CERTS/ca.pem" \
	    --load-ca-privkey "$CERTS/ca-key.pem" \
	    --template "$TEST_TMP/crl.tmpl" --outfile "$crl" >/dev/null 2>&1
	fetch
	assert_success

	rc "tls_crl_file $TEST_TMP/missing.pem"
	fetch
	assert_failure 78
	assert_output --partial "tls_crl_file $TEST_TMP/missing.pem"
}
