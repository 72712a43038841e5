#!/usr/bin/env bats
# providers.bats -- the dialogues of big providers' POP3 servers, played as
# transcripts by tests/popserver.py over implicit TLS, with the smallest
# config (no `auth` line).  Each transcript cites where its lines were seen;
# message bodies and UIDs are ours.  Real servers: dovecot.bats, cyrus.bats
# and the others; the quirks are listed in docs/servers.md.

load lib/common
load lib/popserver
load lib/certs

setup() {
	CERTS=$BATS_RUN_TMPDIR/certs
	make_test_ca "$CERTS"
}

teardown() {
	popserver_stop || true
}

# rc USER PASSWORD [extra lines] -- implicit TLS with the test CA, no auth.
rc() {
	local user=$1 pass=$2 l
	shift 2
	{
		echo "account default"
		echo "host 127.0.0.1"
		echo "port $POPSERVER_PORT"
		echo "tls_trust_file $CERTS/ca.pem"
		echo "timeout 10"
		echo "user $user"
		echo "password $pass"
		echo "delivery maildir $MD"
		echo "uidls_file $TEST_TMP/uidls"
		echo "received_header off"
		for l in "$@"; do echo "$l"; done
	} | write_fetchrc "$RC"
}

serve() {
	popserver_start --script "$SCRIPT" --log "$SLOG" --tls implicit \
	    --cert "$CERTS/server.pem" --key "$CERTS/server-key.pem"
}

fetch() {
	run timeout 30 "$POPFETCH" -C "$RC" "$@"
}

# Gmail: CAPA modelled on pop.gmail.com's (no PIPELINING, so every command
# waits for its reply; EXPIRE 0, LOGIN-DELAY 300, SASL PLAIN XOAUTH2
# OAUTHBEARER), and the "recent:" user prefix, which is only a user name to
# the client; the "recent:" mode as described by an OpenPop.NET developer,
# https://exchangetuts.com/what-non-standard-behaviour-features-does-gmail-exhibit-when-it-is-programmatically-used-as-a-pop3-server-1640191203477183
gmail_head() {
	cat >"$SCRIPT" <<-'EOS'
	S: +OK Gpop ready for requests from 127.0.0.1 a1mb12345678pop
	C: ^CAPA$
	S: +OK Capability list follows
	S: USER
	S: RESP-CODES
	S: EXPIRE 0
	S: LOGIN-DELAY 300
	S: TOP
	S: UIDL
	S: X-GOOGLE-RICO
	S: SASL PLAIN XOAUTH2 OAUTHBEARER
	S: .
	EOS
}

@test "Gmail: 'recent:' user, AUTH PLAIN (auto), lock-step without PIPELINING" {
	gmail_head
	cat >>"$SCRIPT" <<-'EOS'
	C: ^AUTH PLAIN AHJlY2VudDptZUBnbWFpbC5jb20AYXBwLXBhc3N3b3Jk$
	S: +OK Welcome.
	C: ^CAPA$
	S: +OK Capability list follows
	S: USER
	S: RESP-CODES
	S: EXPIRE 0
	S: LOGIN-DELAY 300
	S: TOP
	S: UIDL
	S: X-GOOGLE-RICO
	S: .
	C: ^LIST$
	S: +OK 1 messages (120 bytes)
	S: 1 120
	S: .
	C: ^UIDL$
	S: +OK
	S: 1 GmailId18c1f0e2a3b4c5d6
	S: .
	C: ^RETR 1$
	S: +OK message follows
	S: From: a@example.org
	S: Subject: from gmail
	S:
	S: body
	S: .
	C: ^NOOP$
	S: +OK
	C: ^QUIT$
	S: +OK Farewell.
	EOS
	serve
	rc "recent:me@gmail.com" app-password "keep on"
	fetch
	assert_success
	assert_output --partial "1 message fetched"
	[ "$(maildir_count "$MD")" -eq 1 ]
	! grep -q MISMATCH "$SLOG" || false
}

@test "Gmail: [SYS/TEMP] for logins too close together is a temporary failure (75)" {
	# RFC 3206's [SYS/TEMP], which Gmail sends when logins come more often
	# than its LOGIN-DELAY allows (the text here is ours).
	gmail_head
	cat >>"$SCRIPT" <<-'EOS'
	C: AUTH PLAIN .*
	S: -ERR [SYS/TEMP] Temporary system problem. Please try again later.
	EOS
	serve
	rc me@gmail.com app-password
	fetch
	assert_failure 75
	assert_output --partial "[SYS/TEMP] Temporary system problem"
	# No other mechanism is tried after a temporary failure.
	[ "$(grep -c '^C: AUTH' "$SLOG")" -eq 1 ]
	! grep -q '^C: USER' "$SLOG" || false
}

@test "Gmail: XOAUTH2 with an expired token: the error JSON challenge is answered, 77" {
	# Google's XOAUTH2 protocol: a failed token gets a "+" challenge holding
	# base64 JSON {"status":"400","schemes":"Bearer","scope":...}; the
	# client sends an empty line and reads the -ERR.
	# https://developers.google.com/gmail/imap/xoauth2-protocol
	gmail_head
	cat >>"$SCRIPT" <<-'EOS'
	C: ^AUTH XOAUTH2 [A-Za-z0-9+/=]+$
	S: + eyJzdGF0dXMiOiI0MDAiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==
	C: ^$
	S: -ERR [AUTH] Invalid credentials (Failure)
	EOS
	serve
	rc me@gmail.com expired-token "auth xoauth2"
	fetch
	assert_failure 77
	assert_output --partial "is passwordeval giving a fresh access token?"
	! grep -q MISMATCH "$SLOG" || false
}

# Outlook.com / Office 365: a wrong password is "-ERR Logon failure: unknown
# user name or bad password." with no response code, after USER/PASS or
# AUTH PLAIN; seen in https://github.com/mattnenterprise/rust-pop3/issues/17
# (Microsoft Exchange POP3) and https://github.com/pulb/mailnag/issues/200.
# XOAUTH2 is two-step there (AUTH XOAUTH2, "+ ", then the token):
# https://github.com/simonrob/email-oauth2-proxy/issues/244
outlook_head() {
	cat >"$SCRIPT" <<-'EOS'
	S: +OK The Microsoft Exchange POP3 service is ready. [QQBNADgAUABSADAANgBDAEEAMAAwADEAMQAuAG4AYQBtAHAAcgBkADAANgAuAHAAcgBvAGQALgBvAHUAdABsAG8AbwBrAC4AYwBvAG0A]
	C: ^CAPA$
	S: +OK
	S: TOP
	S: UIDL
	S: SASL PLAIN XOAUTH2
	S: USER
	S: .
	EOS
}

# outlook_xoauth2_empty: after outlook_head, the two-step XOAUTH2 login
# (the token, 300 characters or more, after the server's empty "+") into
# an empty mailbox.
outlook_xoauth2_empty() {
	cat >>"$SCRIPT" <<-'EOS'
	C: ^AUTH XOAUTH2$
	S: +
	C: ^[A-Za-z0-9+/=]{300,}$
	S: +OK User successfully authenticated.
	C: ^CAPA$
	S: +OK
	S: TOP
	S: UIDL
	S: USER
	S: .
	C: ^LIST$
	S: +OK 0 0
	S: .
	C: ^UIDL$
	S: +OK
	S: .
	C: ^QUIT$
	S: +OK Microsoft Exchange Server POP3 server signing off.
	EOS
}

@test "Outlook: a wrong password without a response code is 77 at once, one attempt" {
	outlook_head
	cat >>"$SCRIPT" <<-'EOS'
	C: AUTH PLAIN .*
	S: -ERR Logon failure: unknown user name or bad password.
	EOS
	serve
	rc me@outlook.com wrong
	local start=$SECONDS
	fetch
	assert_failure 77
	assert_output --partial "authentication failed for user me@outlook.com"
	assert_output --partial "Logon failure: unknown user name or bad password."
	((SECONDS - start < 5))
	# PLAIN saw the password: USER/PASS would only be a second refusal.
	[ "$(grep -c '^C: \(AUTH\|USER\|PASS\)' "$SLOG")" -eq 1 ]
}

@test "Outlook: XOAUTH2 two-step (the token after the server's empty challenge)" {
	outlook_head
	outlook_xoauth2_empty
	serve
	rc me@outlook.com "$(printf 'eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9%0300d' 0)" "auth xoauth2"
	fetch
	assert_success
	assert_output --partial "no new messages"
	! grep -q MISMATCH "$SLOG" || false
}

@test "an old server without CAPA: USER/PASS, one command at a time" {
	# RFC 1939 servers answer CAPA with -ERR (it came with RFC 2449).
	cat >"$SCRIPT" <<-'EOS'
	S: +OK POP3 server ready
	C: ^CAPA$
	S: -ERR unknown command
	C: ^USER olduser$
	S: +OK
	C: ^PASS secret$
	S: +OK 1 message
	C: ^LIST$
	S: +OK
	S: 1 60
	S: .
	C: ^UIDL$
	S: +OK
	S: 1 0001
	S: .
	C: ^RETR 1$
	S: +OK
	S: Subject: old
	S:
	S: body
	S: .
	C: ^NOOP$
	S: +OK
	C: ^DELE 1$
	S: +OK
	C: ^QUIT$
	S: +OK
	EOS
	serve
	rc olduser secret
	fetch
	assert_success
	assert_output --partial "1 message fetched"
	! grep -q MISMATCH "$SLOG" || false
}

# qmail: qmail-popup greets with an APOP-style timestamp whatever the
# checkpassword program behind it supports, answers every command but
# USER/PASS/APOP/QUIT/NOOP with "-ERR authorization first" (so CAPA too),
# and after a refused login prints "-ERR authorization failed" and exits
# (doanddie() -> die_badauth(); die() in qmail-popup.c, qmail 1.03 and
# netqmail 1.06). djb's checkpassword cannot check APOP digests, so APOP
# always fails against it. After PASS qmail-popup execs qmail-pop3d, whose
# replies are "+OK " with a trailing space. Seen in the wild: a client's
# log in https://github.com/jstedfast/MailKit/issues/395 ("+OK
# <16184.1473445882@...>", "APOP ..." -> "-ERR authorization failed", "the
# server always closes the connection"); transcript shape also as in the
# Mail::Toaster documentation ("Testing a POP3 account").
@test "qmail (checkpassword without APOP), tls off: APOP refused and hang-up, USER/PASS on a new connection" {
	cat >"$SCRIPT" <<-'EOS'
	S: +OK <74917.1069208003@mail.example.com>
	C: ^CAPA$
	S: -ERR authorization first
	C: ^APOP matt@example\.com [0-9a-f]{32}$
	S: -ERR authorization failed
	CLOSE
	CONNECTION
	S: +OK <74918.1069208004@mail.example.com>
	C: ^CAPA$
	S: -ERR authorization first
	C: ^USER matt@example\.com$
	S: +OK 
	C: ^PASS secret\.words$
	S: +OK 
	C: ^LIST$
	S: +OK 
	S: 1 62
	S: .
	C: ^UIDL$
	S: +OK 
	S: 1 1069208003.74917.mail.example.com
	S: .
	C: ^RETR 1$
	S: +OK 
	S: Subject: from qmail
	S:
	S: body
	S: .
	C: ^NOOP$
	S: +OK 
	C: ^DELE 1$
	S: +OK 
	C: ^QUIT$
	S: +OK 
	EOS
	popserver_start --script "$SCRIPT" --log "$SLOG"
	rc matt@example.com secret.words "tls off"
	sed -i '/^tls_trust_file/d' "$RC"
	fetch -v
	assert_success
	assert_output --partial "the server closed the connection after refusing APOP; trying USER on a new connection"
	assert_output --partial "1 message fetched"
	! grep -q MISMATCH "$SLOG" || false
	[ "$(grep -c 'CONNECT$' "$SLOG")" -eq 2 ]
}

# Yahoo: popgate. CAPA as in a fetchmail -v log of pop.mail.yahoo.ca
# posted in a public help thread (fetchmail 6.3.8, 2009); greeting and
# replies also in a Node.js POP3 library's README (a session with
# pop.mail.yahoo.com, "popgate-0.8.0"). USER only,
# no SASL, PIPELINING, RESP-CODES, EXPIRE NEVER; "+OK password required.";
# "+OK maildrop ready, N messages (M octets) (T)" with a trailing number.
# With PIPELINING, LIST and UIDL go together after the login's +OK, and
# DELE and QUIT behind the last message.
@test "Yahoo: USER/PASS only (no SASL), PIPELINING, delete mode" {
	cat >"$SCRIPT" <<-'EOS'
	S: +OK hello from popgate 2.43 on pop106.plus.mail.mud.yahoo.com
	C: ^CAPA$
	S: +OK CAPA list follows
	S: EXPIRE NEVER
	S: IMPLEMENTATION popgate 2.43
	S: PIPELINING
	S: RESP-CODES
	S: TOP
	S: UIDL
	S: USER
	S: .
	C: ^USER me@yahoo\.ca$
	C: ^PASS app-pass$
	S: +OK password required.
	S: +OK maildrop ready, 1 messages (60 octets) (517000)
	C: ^CAPA$
	S: +OK CAPA list follows
	S: EXPIRE NEVER
	S: IMPLEMENTATION popgate 2.43
	S: PIPELINING
	S: RESP-CODES
	S: TOP
	S: UIDL
	S: USER
	S: .
	C: ^LIST$
	C: ^UIDL$
	S: +OK 1 messages (60 octets)
	S: 1 60
	S: .
	S: +OK
	S: 1 AD9sKxYAAA1aVqfBVQgNiPmH8hc
	S: .
	C: ^RETR 1$
	C: ^NOOP$
	S: +OK 60 octets
	S: Subject: from yahoo
	S:
	S: body
	S: .
	S: +OK
	C: ^DELE 1$
	C: ^QUIT$
	S: +OK message 1 marked as deleted
	S: +OK server signing off.
	EOS
	serve
	rc me@yahoo.ca app-pass
	fetch
	assert_success
	assert_output --partial "1 message fetched"
	! grep -q MISMATCH "$SLOG" || false
}

# Yandex: "+OK POP Ya! ..." with a timestamp-like token that has no "@"
# (not an APOP timestamp), CAPA with the misspelt "RESP-CODE", STLS listed
# twice and SASL mechanisms popfetch lacks (DIGEST-MD5, MSN, NTLM) besides
# PLAIN and LOGIN (CAPA as recorded in the tests of the Lua library
# lua-pop3, moteus/lua-pop3 on GitHub); "+OK password, please." (a student
# POP3 client's test log against pop.yandex.ru) and, on the plain port,
# "-ERR [AUTH] Working without SSL/TLS encryption is not allowed" right
# after USER (recorded with nc in a public university course's notebook).
# Over implicit TLS auth auto uses PLAIN.
@test "Yandex: odd CAPA (RESP-CODE, STLS twice, unknown SASL), AUTH PLAIN over TLS" {
	cat >"$SCRIPT" <<-'EOS'
	S: +OK POP Ya! na@6 BORhUH1KViEt
	C: ^CAPA$
	S: +OK Capability list follows
	S: SASL LOGIN PLAIN CRAM-MD5 DIGEST-MD5 GSSAPI MSN NTLM
	S: STLS
	S: TOP
	S: USER
	S: LOGIN-DELAY 60
	S: PIPELINING
	S: EXPIRE NEVER
	S: UIDL
	S: RESP-CODE
	S: AUTH-RESP-CODE
	S: IMPLEMENTATION Yandex
	S: STLS
	S: .
	C: ^AUTH PLAIN [A-Za-z0-9+/=]+$
	S: +OK 1 60
	C: ^CAPA$
	S: +OK Capability list follows
	S: SASL LOGIN PLAIN CRAM-MD5 DIGEST-MD5 GSSAPI MSN NTLM
	S: STLS
	S: TOP
	S: USER
	S: LOGIN-DELAY 60
	S: PIPELINING
	S: EXPIRE NEVER
	S: UIDL
	S: RESP-CODE
	S: AUTH-RESP-CODE
	S: IMPLEMENTATION Yandex
	S: STLS
	S: .
	C: ^LIST$
	C: ^UIDL$
	S: +OK 1 60
	S: 1 60
	S: .
	S: +OK
	S: 1 a703c7e378807083bc4158ca152cfc85
	S: .
	C: ^RETR 1$
	C: ^NOOP$
	S: +OK 60 octets.
	S: Subject: from yandex
	S:
	S: body
	S: .
	S: +OK
	C: ^QUIT$
	S: +OK shutting down.
	EOS
	serve
	rc me@yandex.ru app-pass "keep on"
	fetch -v
	assert_success
	assert_output --partial "1 message fetched"
	! grep -q MISMATCH "$SLOG" || false
}

@test "Yandex: -ERR [AUTH] for a login without TLS is 77 with the server's advice" {
	cat >"$SCRIPT" <<-'EOS'
	S: +OK POP Ya! na@3-7696ba5e005c neTA2hi5a4Y1
	C: ^CAPA$
	S: +OK Capability list follows
	S: USER
	S: TOP
	S: UIDL
	S: RESP-CODE
	S: AUTH-RESP-CODE
	S: STLS
	S: .
	C: ^USER me@yandex\.ru$
	S: -ERR [AUTH] Working without SSL/TLS encryption is not allowed. Please visit https://yandex.ru/support/mail-new/mail-clients/ssl.html  sc=neTA2hi5a4Y1_161640_3-7696ba5e005c
	EOS
	popserver_start --script "$SCRIPT" --log "$SLOG"
	rc me@yandex.ru secret "tls off"
	sed -i '/^tls_trust_file/d' "$RC"
	fetch
	assert_failure 77
	assert_output --partial "Working without SSL/TLS encryption is not allowed"
	# The password was never sent after USER's refusal.
	! grep -q '^C: PASS' "$SLOG" || false
}

# GMX: "+OK GMX POP3 ..." and "+OK May I have your password, please?"
# (strings a GMX client matches, in a public PureBasic mail checker); no
# CAPA answer here: an old, RFC 1939-only dialogue.
@test "GMX: RFC 1939 dialogue without CAPA, USER/PASS over TLS" {
	cat >"$SCRIPT" <<-'EOS'
	S: +OK GMX POP3 StreamProxy ready
	C: ^CAPA$
	S: -ERR Unknown command
	C: ^USER me@gmx\.de$
	S: +OK May I have your password, please?
	C: ^PASS secret$
	S: +OK mailbox locked and ready
	C: ^LIST$
	S: +OK
	S: 1 60
	S: .
	C: ^UIDL$
	S: +OK
	S: 1 GMX-1a2b3c
	S: .
	C: ^RETR 1$
	S: +OK
	S: Subject: from gmx
	S:
	S: body
	S: .
	C: ^NOOP$
	S: +OK
	C: ^QUIT$
	S: +OK POP server signing off
	EOS
	serve
	rc me@gmx.de secret "keep on"
	fetch
	assert_success
	assert_output --partial "1 message fetched"
	! grep -q MISMATCH "$SLOG" || false
}

# A server that hangs up after refusing a method and then, on the new
# connection, offers only what it refused: 77 naming what was tried, not
# a loop and not an empty error.
@test "a server that refuses, hangs up, and offers nothing new: 77 with what was tried" {
	cat >"$SCRIPT" <<-'EOS'
	S: +OK ready
	C: ^CAPA$
	S: +OK
	S: SASL SCRAM-SHA-256
	S: USER
	S: .
	C: ^AUTH SCRAM-SHA-256 .*
	S: -ERR [AUTH] not for you
	CLOSE
	CONNECTION
	S: +OK ready
	C: ^CAPA$
	S: +OK
	S: SASL SCRAM-SHA-256
	S: .
	EOS
	serve
	rc someone secret
	fetch
	assert_failure 77
	assert_output --partial "no login method left to try (tried SCRAM-SHA-256)"
	[ "$(grep -c 'CONNECT$' "$SLOG")" -eq 2 ]
}

@test "Outlook: auth auto with popfetch's own OAuth tokens picks XOAUTH2, two-step, no password sent" {
	outlook_head
	outlook_xoauth2_empty
	serve
	tok=$(printf 'eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9%0300d' 7)
	mkdir -p -m 0700 "$TEST_TMP/oauth"
	(umask 077 && printf '{"access_token":"%s","refresh_token":"rt","expires_at":4000000000}\n' \
	    "$tok" >"$TEST_TMP/oauth/default")
	rc me@outlook.com not-this-password "auth auto" "oauth2_provider microsoft" \
	    "oauth2_client_id 00000000-0000-0000-0000-000000000000" \
	    "oauth2_token_file $TEST_TMP/oauth/default"
	fetch
	assert_success
	assert_output --partial "no new messages"
	! grep -q MISMATCH "$SLOG" || false
	# The XOAUTH2 message carries the stored token, not the password.
	b64=$(sed -n 's/^C: \([A-Za-z0-9+\/=]\{300,\}\)$/\1/p' "$SLOG")
	decoded=$(printf '%s' "$b64" | base64 -d | tr '\001' '|')
	[ "$decoded" = "user=me@outlook.com|auth=Bearer $tok||" ]
}
