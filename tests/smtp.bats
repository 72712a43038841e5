#!/usr/bin/env bats
# smtp.bats -- `delivery smtp HOST[:PORT] RECIPIENT` into a real Postfix
# started by these tests (tests/lib/postfix.bash: its own config directory,
# queue and port on 127.0.0.1, STARTTLS with the tests' CA): byte for byte
# after its trace fields, STARTTLS checked against delivery_tls_trust_file,
# delivery_tls on/off, a 5xx recipient refusal; tests/lmtpserver.py for a
# server without STARTTLS.

load lib/common
load lib/certs
load lib/popserver
load lib/delivered
load lib/postfix

setup_file() {
	if [[ $(id -u) -ne 0 ]]; then
		skip "Postfix's master needs root"
	fi
	make_test_ca "$BATS_RUN_TMPDIR/certs"
	POSTFIX_USERS="bob carol"
	# Without CHUNKING, so that DATA and its dot-stuffing meet a real
	# server here; Dovecot's LMTP (lmtp.bats) takes BDAT.
	POSTFIX_EXTRA_CONF="smtpd_discard_ehlo_keywords = chunking"
	postfix_start
	export POSTFIX_PORT POSTFIX_DIR POSTFIX_CA POSTFIX_PID
}

teardown_file() {
	postfix_stop
}

setup() {
	delivered_setup
}

teardown() {
	delivered_teardown
}

# rc RECIPIENT [extra lines]: popserver.py's $MB into Postfix.
rc() {
	local rcpt=$1
	shift
	popserver_rc "timeout 30" "delivery smtp 127.0.0.1:$POSTFIX_PORT $rcpt" \
	    "received_header off" "uidls_file $TEST_TMP/state/%U" "$@"
}

fetch() {
	run "$POPFETCH" -C "$RC" "$@"
}

@test "smtp: a tricky mailbox into Postfix over STARTTLS, byte for byte" {
	"$PYTHON3" "$TESTS_SRCDIR/gen-corpus" tricky "$MB"
	"$PYTHON3" "$TESTS_SRCDIR/gen-corpus" big "$MB/big" 2
	cp -r "$MB" "$TEST_TMP/orig"
	n=$(server_count)
	popserver_start --mailbox "$MB"
	rc bob@popfetch.test "delivery_tls_trust_file $POSTFIX_CA"
	fetch --debug
	assert_success
	assert_output --partial "STARTTLS"
	assert_output --partial '(the message, then ".")'
	refute_output --partial "BDAT"
	[ "$(server_count)" -eq 0 ]
	postfix_wait bob "$n"
	# Postfix turns a bare CR (not allowed in SMTP, RFC 5321 2.3.8) into a
	# space (docs/servers.md); every other byte arrives as it was.
	rm "$TEST_TMP/orig"/*-bare-cr
	run grep -l '^A bare CR inside a line\.$' "$(postfix_maildir bob)"/new/*
	[ "${#lines[@]}" -eq 1 ]
	rm "${lines[0]}"
	assert_delivered "$TEST_TMP/orig" "$(postfix_maildir bob)"
	# Postfix says in its Received field that the message came over TLS.
	run grep -l 'with ESMTPS id' "$(postfix_maildir bob)"/new/*
	[ "${#lines[@]}" -eq $((n - 1)) ]
}

@test "smtp: delivery_tls off sends in clear" {
	make_mailbox "$MB" 2
	cp -r "$MB" "$TEST_TMP/orig"
	popserver_start --mailbox "$MB"
	rc carol@popfetch.test "delivery_tls off"
	fetch
	assert_success
	postfix_wait carol 2
	assert_delivered "$TEST_TMP/orig" "$(postfix_maildir carol)"
	run grep -l 'with ESMTP id' "$(postfix_maildir carol)"/new/*
	[ "${#lines[@]}" -eq 2 ]
}

@test "smtp: STARTTLS with a certificate that cannot be verified stops the run at the first message, nothing deleted" {
	make_mailbox "$MB" 2
	popserver_start --mailbox "$MB"
	rc bob@popfetch.test
	fetch
	assert_failure
	assert_output --partial "the SMTP server 127.0.0.1:$POSTFIX_PORT: STARTTLS (set delivery_tls_trust_file to the CA that signed its certificate)"
	[ "$(server_count)" -eq 2 ]
}

@test "smtp: Postfix refuses an unknown recipient (550): every message stays, 69" {
	make_mailbox "$MB" 2
	popserver_start --mailbox "$MB"
	rc nobody@popfetch.test "delivery_tls_trust_file $POSTFIX_CA"
	fetch
	assert_failure 69
	assert_output --partial "message 1: the SMTP server 127.0.0.1:$POSTFIX_PORT refused the recipient: 550 5.1.1"
	assert_output --partial "message 2: the SMTP server"
	[ "$(server_count)" -eq 2 ]
}

@test "smtp: delivery_tls on and a server without STARTTLS: a clear error, nothing deleted" {
	make_mailbox "$MB" 1
	lmtpserver_start --greeting "220 plain ESMTP"
	popserver_start --mailbox "$MB"
	popserver_rc "timeout 20" "delivery smtp 127.0.0.1:$LMTP_PORT bob@x" \
	    "delivery_tls on"
	fetch
	assert_failure 69
	assert_output --partial "the SMTP server 127.0.0.1:$LMTP_PORT: does not offer STARTTLS (delivery_tls on requires it"
	[ "$(server_count)" -eq 1 ]
	run grep -c '^C: EHLO ' "$LLOG"
	assert_output 1
	run grep -c '^C: MAIL' "$LLOG"
	assert_output 0
}

@test "smtp: without delivery_tls on, a server without STARTTLS gets the mail in clear" {
	make_mailbox "$MB" 2
	cp -r "$MB" "$TEST_TMP/orig"
	lmtpserver_start --greeting "220 plain ESMTP"
	popserver_start --mailbox "$MB"
	popserver_rc "timeout 20" "delivery smtp 127.0.0.1:$LMTP_PORT bob@x" \
	    "received_header off"
	fetch
	assert_success
	assert_maildir_matches "$TEST_TMP/orig" "$STORE"
}

@test "smtp: a recipient is required" {
	POPSERVER_PORT=110
	popserver_rc "delivery smtp 127.0.0.1:25"
	fetch
	assert_failure 78
	assert_output --partial "delivery smtp: no recipient"
}

@test "smtp: PIPELINING and CHUNKING: several transactions in flight, a 5xx and a 4xx among them; only the accepted are deleted" {
	"$PYTHON3" "$TESTS_SRCDIR/gen-corpus" tricky "$MB"
	cp -r "$MB" "$TEST_TMP/orig"
	n=$(server_count)
	lmtpserver_start --greeting "220 plain ESMTP" \
	    --caps PIPELINING CHUNKING 8BITMIME \
	    --rcpt-reply "2:550 5.1.1 no such user" \
	    --data-reply "3:452 4.2.2 over quota"
	popserver_start --mailbox "$MB"
	popserver_rc "timeout 20" "delivery smtp 127.0.0.1:$LMTP_PORT bob@x" \
	    "received_header off" "uidls_file $TEST_TMP/state/%U"
	fetch --debug
	assert_failure
	assert_output --partial "refused the recipient: 550 5.1.1 no such user"
	assert_output --partial "refused the message: 452 4.2.2 over quota"
	# EHLO, and several MAILs before the first reply to one.
	run "$PYTHON3" - "$output" <<'PY'
import sys
lines = [l for l in sys.argv[1].split("\n") if " -> " in l or " <- " in l]
first_mail = next(i for i, l in enumerate(lines) if "-> MAIL FROM" in l)
first_reply = next(i for i, l in enumerate(lines) if i > first_mail and " <- " in l)
print(sum(1 for l in lines[first_mail:first_reply] if "-> MAIL FROM" in l))
PY
	(( output > 1 ))
	run grep -c '^C: EHLO' "$LLOG"
	assert_output 1
	[ "$(server_count)" -eq 2 ]
	[ "$(maildir_count "$STORE")" -eq $((n - 2)) ]
	# The mock refuses by transaction number: the next run's go through.
	fetch
	assert_success
	[ "$(server_count)" -eq 0 ]
	assert_maildir_matches "$TEST_TMP/orig" "$STORE"
}
