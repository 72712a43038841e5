#!/usr/bin/env bats
# serverinfo.bats -- popfetch -S/--serverinfo against the project's test
# server (STLS, implicit TLS, plain, a transcript) and a real Dovecot.

bats_require_minimum_version 1.5.0

load lib/common
load lib/popserver
load lib/certs
load lib/dovecot

setup() {
	CERTS=$BATS_RUN_TMPDIR/certs
	make_test_ca "$CERTS"
	make_mailbox "$MB" 1
}

teardown() {
	popserver_stop || true
	dovecot_stop || true
}

# rc HOST PORT [extra lines]
rc() {
	local host=$1 port=$2 l
	shift 2
	{
		echo "account default"
		echo "host $host"
		echo "port $port"
		echo "timeout 10"
		echo "user test"
		echo "password secret"
		echo "delivery maildir $MD"
		for l in "$@"; do echo "$l"; done
	} | write_fetchrc "$RC"
}

serverinfo() {
	run --separate-stderr timeout 20 "$POPFETCH" -C "$RC" --serverinfo "$@"
}

nothing_secret_sent() {
	! grep -q '^C: \(USER\|PASS\|APOP\|AUTH\)' "$SLOG" || false
}

@test "serverinfo: STLS, certificate and capabilities in words, no login" {
	popserver_start --mailbox "$MB" --log "$SLOG" --tls starttls \
	    --cert "$CERTS/server.pem" --key "$CERTS/server-key.pem" \
	    --expire 30 --login-delay 900 --pipelining --sasl "PLAIN CRAM-MD5"
	rc localhost "$POPSERVER_PORT" "tls_starttls on" \
	    "tls_trust_file $CERTS/ca.pem"
	serverinfo
	assert_success
	assert_line "Account default: localhost port $POPSERVER_PORT, STLS (tls_starttls on)"
	assert_line --regexp '^Greeting: popserver ready <[0-9.]+@popserver>$'
	assert_line --regexp '^TLS: STLS on a plain connection, \(TLS1\.[23]\)-'
	assert_line --regexp '^  Subject: +CN=localhost,O=popfetch tests$'
	assert_line --regexp '^  Issuer: +CN=popfetch test CA,O=popfetch tests$'
	assert_line --regexp '^  Not before: +20[0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9:]{8} UTC$'
	assert_line --regexp '^  Not after: +20[0-9][0-9]-'
	assert_line "    tls_fingerprint $(cert_sha256 "$CERTS/server.pem")"
	assert_line --regexp '^  SASL +PLAIN CRAM-MD5$'
	assert_line --regexp '^  PIPELINING '
	assert_line --regexp '^  EXPIRE +messages are deleted 30 days after retrieval$'
	assert_line --regexp '^  LOGIN-DELAY +logins at most every 900 seconds$'
	nothing_secret_sent
	run grep -c '^C: CAPA' "$SLOG"
	assert_output 2
	[ "$(maildir_count "$MD")" -eq 0 ]
}

@test "serverinfo: the printed tls_fingerprint line, pasted, lets a fetch through" {
	popserver_start --mailbox "$MB" --log "$SLOG" --tls implicit \
	    --cert "$CERTS/selfsigned.pem" --key "$CERTS/selfsigned-key.pem"
	# A pin is checked even with certcheck off: show, then pin.
	rc 127.0.0.1 "$POPSERVER_PORT" "tls_certcheck off"
	serverinfo
	assert_success
	assert_line --regexp '^TLS: implicit, \(TLS'
	pin=$(printf '%s\n' "$output" | sed -n 's/^ *\(tls_fingerprint .*\)$/\1/p')
	[ "$pin" = "tls_fingerprint $(cert_sha256 "$CERTS/selfsigned.pem")" ]
	rc 127.0.0.1 "$POPSERVER_PORT" "$pin"
	run timeout 20 "$POPFETCH" -C "$RC"
	assert_success
	[ "$(maildir_count "$MD")" -eq 1 ]
}

@test "serverinfo: an untrusted certificate is refused as a fetch refuses it, with its fingerprint" {
	popserver_start --mailbox "$MB" --log "$SLOG" --tls implicit \
	    --cert "$CERTS/selfsigned.pem" --key "$CERTS/selfsigned-key.pem"
	rc localhost "$POPSERVER_PORT" "tls_trust_file $CERTS/ca.pem"
	serverinfo
	assert_failure 76
	refute_output --partial "Capabilities"
	refute_output --partial "Greeting"
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == "default: cannot verify the certificate of localhost: "* ]]
	[[ $stderr == *"tls_fingerprint $(cert_sha256 "$CERTS/selfsigned.pem")"* ]]
	nothing_secret_sent
}

@test "serverinfo: EXPIRE NEVER, EXPIRE 0, LOGIN-DELAY 1 and no UIDL, over plain TCP" {
	cat >"$TEST_TMP/script" <<-'EOS'
	S: +OK ready
	C: CAPA
	S: +OK caps
	S: USER
	S: EXPIRE NEVER
	S: LOGIN-DELAY 1
	S: .
	C: QUIT
	S: +OK bye
	EOS
	popserver_start --script "$TEST_TMP/script" --log "$SLOG"
	rc 127.0.0.1 "$POPSERVER_PORT" "tls off"
	serverinfo
	assert_success
	assert_line "Greeting: ready"
	assert_line --regexp '^TLS: off'
	refute_output --partial "Certificate"
	assert_line --regexp '^  EXPIRE +messages are never deleted by the server$'
	assert_line --regexp '^  LOGIN-DELAY +logins at most every 1 second$'
	assert_line --regexp "^  \\(no UIDL\\) +'keep on' cannot work$"
	refute_output --partial "secret"
	[ -z "$stderr" ]
	! grep -q MISMATCH "$SLOG" || false

	sed -i 's/EXPIRE NEVER/EXPIRE 0/' "$TEST_TMP/script"
	popserver_stop
	popserver_start --script "$TEST_TMP/script" --log "$SLOG"
	rc 127.0.0.1 "$POPSERVER_PORT" "tls off"
	serverinfo
	assert_success
	assert_line --regexp "^  EXPIRE +messages are deleted as soon as they are retrieved \\('keep on' cannot keep them\\)$"
}

@test "serverinfo: a server without CAPA, and an unknown account" {
	popserver_start --mailbox "$MB" --log "$SLOG" --no-capa
	rc 127.0.0.1 "$POPSERVER_PORT" "tls off"
	serverinfo
	assert_success
	assert_line "Capabilities: unknown (the server does not support CAPA)"
	serverinfo nosuch
	assert_failure 64
	serverinfo --json
	assert_failure 64
	[[ $stderr == *"-S cannot be combined"* ]]
	serverinfo -s
	assert_failure 64
}

@test "serverinfo: Dovecot over implicit TLS and STLS" {
	dovecot_start
	rc localhost "$DOVECOT_POP3S_PORT" "tls_trust_file $DOVECOT_CA"
	serverinfo
	assert_success
	assert_line --regexp '^Greeting: Dovecot'
	assert_line --regexp '^TLS: implicit, \(TLS1\.[23]\)-'
	assert_line --regexp '^  Subject: +CN=localhost'
	assert_line "    tls_fingerprint $(cert_sha256 "$DOVECOT_DIR/server.pem")"
	assert_line --regexp '^  SASL +PLAIN'
	assert_line --regexp '^  UIDL '
	rc localhost "$DOVECOT_POP3_PORT" "tls_starttls on" \
	    "tls_trust_file $DOVECOT_CA"
	serverinfo
	assert_success
	assert_line --regexp '^TLS: STLS on a plain connection, \(TLS'
	assert_line "    tls_fingerprint $(cert_sha256 "$DOVECOT_DIR/server.pem")"
}
