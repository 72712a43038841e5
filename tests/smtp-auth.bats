#!/usr/bin/env bats
# smtp-auth.bats -- SMTP AUTH (RFC 4954) for `delivery smtp` with
# delivery_user: a real Postfix (tests/lib/postfix.bash) whose smtpd asks
# the tests' Dovecot (tests/lib/dovecot.bash) to check passwords over
# Dovecot's auth socket (smtpd_sasl_type dovecot), AUTH only after
# STARTTLS (smtpd_tls_auth_only); tests/lmtpserver.py for a server without
# STARTTLS, where the password must not go out.

load lib/common
load lib/certs
load lib/popserver
load lib/delivered
load lib/dovecot
load lib/postfix

setup_file() {
	if [[ $(id -u) -ne 0 ]]; then
		skip "Postfix's master needs root"
	fi
	make_test_ca "$BATS_RUN_TMPDIR/certs"
	# Postfix's smtpd runs as "postfix": the socket is for anyone here.
	DOVECOT_AUTH_MECHANISMS="plain login cram-md5 scram-sha-256"
	DOVECOT_EXTRA_CONF="service auth {
  unix_listener postfix-auth {
    mode = 0666
  }
}"
	dovecot_start
	dovecot_add_user bob s3cret-pw
	POSTFIX_USERS="bob"
	POSTFIX_EXTRA_CONF="smtpd_discard_ehlo_keywords = chunking
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = $DOVECOT_DIR/run/postfix-auth
smtpd_tls_auth_only = yes
smtpd_sasl_authenticated_header = yes"
	postfix_start
	export POSTFIX_PORT POSTFIX_DIR POSTFIX_CA POSTFIX_PID
}

teardown_file() {
	postfix_stop
	dovecot_stop
}

setup() {
	delivered_setup
}

teardown() {
	delivered_teardown
}

# rc [extra lines]: popserver.py's $MB into Postfix for bob.
rc() {
	popserver_rc "timeout 30" \
	    "delivery smtp 127.0.0.1:$POSTFIX_PORT bob@popfetch.test" \
	    "received_header off" "uidls_file $TEST_TMP/state/%U" \
	    "delivery_tls_trust_file $POSTFIX_CA" "$@"
}

fetch() {
	run "$POPFETCH" -C "$RC" "$@"
}

# The messages in bob's Maildir whose Received field names the login.
authenticated_count() {
	grep -l '(Authenticated sender: bob)' "$(postfix_maildir bob)"/new/* \
	    2>/dev/null | wc -l
}

@test "smtp auth: auto logs in with SCRAM-SHA-256 (the server's proof checked) after STARTTLS" {
	make_mailbox "$MB" 2
	popserver_start --mailbox "$MB"
	before=$(maildir_count "$(postfix_maildir bob)")
	rc "delivery_user bob" "delivery_password s3cret-pw"
	fetch --debug
	assert_success
	assert_output --partial "AUTH SCRAM-SHA-256 as bob"
	refute_output --partial "s3cret-pw"
	[ "$(server_count)" -eq 0 ]
	postfix_wait bob $((before + 2))
}

@test "smtp auth: delivery_auth cram-md5" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB"
	before=$(maildir_count "$(postfix_maildir bob)")
	rc "delivery_user bob" "delivery_password s3cret-pw" \
	    "delivery_auth cram-md5"
	fetch --debug
	assert_success
	assert_output --partial "AUTH CRAM-MD5 as bob"
	[ "$(server_count)" -eq 0 ]
	postfix_wait bob $((before + 1))
}

@test "smtp auth: delivery_auth plain logs in after STARTTLS; the password never in the trace" {
	make_mailbox "$MB" 3
	cp -r "$MB" "$TEST_TMP/orig"
	popserver_start --mailbox "$MB"
	before=$(maildir_count "$(postfix_maildir bob)")
	rc "delivery_user bob" "delivery_password s3cret-pw" \
	    "delivery_auth plain"
	fetch --debug
	assert_success
	assert_output --partial "AUTH PLAIN as bob"
	assert_output --partial "AUTH PLAIN (initial response not shown)"
	refute_output --partial "s3cret-pw"
	# PLAIN's initial response holds the password in base64.
	refute_output --partial "$(printf '\0bob\0s3cret-pw' | base64)"
	[ "$(server_count)" -eq 0 ]
	postfix_wait bob $((before + 3))
	[ "$(authenticated_count)" -eq $((before + 3)) ]
}

@test "smtp auth: delivery_auth login, password from delivery_passwordeval" {
	make_mailbox "$MB" 2
	popserver_start --mailbox "$MB"
	before=$(maildir_count "$(postfix_maildir bob)")
	rc "delivery_user bob" "delivery_passwordeval echo s3cret-pw" \
	    "delivery_auth login"
	fetch --debug
	assert_success
	assert_output --partial "AUTH LOGIN as bob"
	assert_output --partial "334 (challenge not shown)"
	assert_output --partial "(SASL response not shown)"
	refute_output --partial "s3cret-pw"
	[ "$(server_count)" -eq 0 ]
	postfix_wait bob $((before + 2))
}

@test "smtp auth: a wrong password is refused (535): nothing fetched or deleted, 77" {
	make_mailbox "$MB" 2
	popserver_start --mailbox "$MB"
	rc "delivery_user bob" "delivery_password wrong" "delivery_auth plain"
	fetch
	assert_failure 77
	assert_output --partial "the SMTP server 127.0.0.1:$POSTFIX_PORT: the server rejected AUTH PLAIN: 535"
	refute_output --partial "wrong"
	[ "$(server_count)" -eq 2 ]
}

@test "smtp auth: a mechanism the server does not list: a clear error naming what it lists" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB"
	rc "delivery_user bob" "delivery_password s3cret-pw" \
	    "delivery_auth scram-sha-1"
	fetch
	assert_failure 69
	assert_output --partial "offers no AUTH mechanism popfetch can use as delivery_auth says: SCRAM-SHA-1 (it lists: PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256 )"
	[ "$(server_count)" -eq 1 ]
}

@test "smtp auth: delivery_user without a password is a config error" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB"
	rc "delivery_user bob"
	fetch
	assert_failure 78
	assert_output --partial "delivery_user is set but no password"
	[ "$(server_count)" -eq 1 ]
}

@test "smtp auth: no STARTTLS on offer: the password is not sent in clear, nothing deleted" {
	make_mailbox "$MB" 1
	lmtpserver_start --greeting "220 plain ESMTP" \
	    --caps PIPELINING "AUTH PLAIN LOGIN"
	popserver_start --mailbox "$MB"
	popserver_rc "timeout 20" "delivery smtp 127.0.0.1:$LMTP_PORT bob@x" \
	    "delivery_user bob" "delivery_password s3cret-pw"
	fetch
	assert_failure 69
	assert_output --partial "the SMTP server 127.0.0.1:$LMTP_PORT: does not offer STARTTLS, and popfetch does not send the delivery password in clear (delivery_tls off allows it)"
	[ "$(server_count)" -eq 1 ]
	run grep -c '^C: AUTH' "$LLOG"
	assert_output 0
}

@test "smtp auth: delivery_auth user is refused by the config parser" {
	POPSERVER_PORT=110
	popserver_rc "delivery smtp 127.0.0.1:25 bob@x" "delivery_auth user"
	fetch
	assert_failure 78
	assert_output --partial "delivery_auth"
}

@test "smtp auth: auto falls back past a refused SCRAM-SHA-256 (a hashed password) to PLAIN over TLS" {
	make_mailbox "$MB" 1
	dovecot_add_user carol carol-pw
	# Stored hashed, Dovecot cannot do SCRAM for carol: it refuses (535).
	hash=$(printf %s carol-pw | "$PYTHON3" -c 'import base64, hashlib, sys; print(base64.b64encode(hashlib.sha256(sys.stdin.buffer.read()).digest()).decode())')
	printf 'carol:{SHA256}%s::::::\n' "$hash" >"$DOVECOT_DIR/passwd.d/carol"
	popserver_start --mailbox "$MB"
	before=$(maildir_count "$(postfix_maildir bob)")
	rc "delivery_user carol" "delivery_password carol-pw"
	fetch -v
	assert_success
	assert_output --partial "auth auto: SCRAM-SHA-256 failed (the server rejected AUTH SCRAM-SHA-256: 535"
	assert_output --partial "logged in with PLAIN"
	refute_output --partial "carol-pw"
	[ "$(server_count)" -eq 0 ]
	postfix_wait bob $((before + 1))
}

@test "smtp auth: auto stops after PLAIN is refused (535): the password is wrong, nothing else tried" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB"
	rc "delivery_user bob" "delivery_password wrong-pw"
	fetch -v
	assert_failure 77
	assert_output --partial "tried SCRAM-SHA-256, PLAIN: the server rejected AUTH PLAIN: 535"
	refute_output --partial "AUTH LOGIN"
	refute_output --partial "CRAM-MD5 failed"
	[ "$(server_count)" -eq 1 ]
}

@test "smtp auth: 504 to a listed mechanism: auto takes the next one the server lists" {
	make_mailbox "$MB" 1
	lmtpserver_start --greeting "220 plain ESMTP" \
	    --caps PIPELINING "AUTH SCRAM-SHA-256 CRAM-MD5" \
	    --auth-reply "SCRAM-SHA-256:504 5.5.4 not here after all"
	popserver_start --mailbox "$MB"
	popserver_rc "timeout 20" "delivery smtp 127.0.0.1:$LMTP_PORT bob@x" \
	    "delivery_user bob" "delivery_password s3cret-pw" \
	    "delivery_tls off" "uidls_file $TEST_TMP/state/%U"
	fetch -v
	assert_success
	assert_output --partial "auth auto: SCRAM-SHA-256 failed (the server rejected AUTH SCRAM-SHA-256: 504 5.5.4 not here after all)"
	run grep '^auth: ' "$LLOG"
	assert_output "$(printf 'auth: SCRAM-SHA-256\nauth: CRAM-MD5')"
	[ "$(server_count)" -eq 0 ]
}

@test "smtp auth: without TLS, auto never falls back to PLAIN or LOGIN" {
	make_mailbox "$MB" 1
	lmtpserver_start --greeting "220 plain ESMTP" \
	    --caps PIPELINING "AUTH SCRAM-SHA-256 PLAIN LOGIN" \
	    --auth-reply "SCRAM-SHA-256:535 5.7.8 no"
	popserver_start --mailbox "$MB"
	popserver_rc "timeout 20" "delivery smtp 127.0.0.1:$LMTP_PORT bob@x" \
	    "delivery_user bob" "delivery_password s3cret-pw" \
	    "delivery_tls off" "uidls_file $TEST_TMP/state/%U"
	fetch
	assert_failure 77
	assert_output --partial "tried SCRAM-SHA-256: the server rejected AUTH SCRAM-SHA-256: 535 5.7.8 no"
	run grep -c '^auth: ' "$LLOG"
	assert_output 1
	[ "$(server_count)" -eq 1 ]
}
