#!/usr/bin/env bats
# migrate.bats -- moving from mpop (its config works for the shared keys)
# and from fetchmail (--import-fetchmailrc), end to end against the test
# server.

bats_require_minimum_version 1.5.0

load lib/common
load lib/popserver

teardown() {
	popserver_stop || true
}

@test "a realistic mpop config works unchanged" {
	make_mailbox "$MB" 2
	popserver_start --mailbox "$MB" --max-sessions 2
	write_fetchrc "$TEST_TMP/mpoprc" <<EOF
# ~/.mpoprc
# Set default values for all following accounts.
defaults
tls on
tls_starttls off
tls_trust_file system
keep on
uidls_file ~/.mpop_uidls/%U_at_%H
delivery maildir ~/Mail/inbox
timeout 30

account default
host 127.0.0.1
port $POPSERVER_PORT
tls off
user test
passwordeval "echo secret"
auth user
killsize 10M
skipsize 1m

account other : default
user someone
EOF
	mkdir -p "$HOME/Mail/inbox"/{cur,new,tmp}
	run "$POPFETCH" -C "$TEST_TMP/mpoprc" -q
	assert_success
	assert_output ""
	[ "$(maildir_count "$HOME/Mail/inbox")" -eq 2 ]
	[ -s "$HOME/.mpop_uidls/test_at_127.0.0.1" ]
	run "$POPFETCH" -C "$TEST_TMP/mpoprc" -s
	assert_success
	assert_output --partial "default: 2 messages"
	assert_output --partial "0 new"
}

@test "mpop keys popfetch does not have: a clear message with file and line" {
	for key in "ntlmdomain CORP" "tls_host_override x" \
	    "socket /tmp/s"; do
		write_fetchrc "$TEST_TMP/mpoprc" <<EOF
defaults
keep on
account default
host pop.example.com
$key
EOF
		run "$POPFETCH" -C "$TEST_TMP/mpoprc"
		assert_failure 78
		assert_output --regexp "^popfetch: $TEST_TMP/mpoprc:5: mpop key '${key%% *}' is not supported by popfetch: .+$"
	done
}

@test "--import-fetchmailrc: the converted POP3 entry fetches mail" {
	make_mailbox "$MB" 2
	popserver_start --mailbox "$MB" --log "$SLOG"
	cat >"$HOME/.fetchmailrc" <<EOF
set daemon 600
set postmaster "joe"
poll 127.0.0.1 with proto POP3 and port $POPSERVER_PORT
    user "test" there with password "secret" is joe here
    options keep sslproto '' fetchall
    mda "cat >> $TEST_TMP/delivered.%T"
poll imap.example.com proto IMAP user bob password x
EOF
	run --separate-stderr "$POPFETCH" --import-fetchmailrc
	assert_success
	printf '%s\n' "$output" >"$TEST_TMP/fetchrc"
	assert_line "# not mapped: set daemon 600; set postmaster joe"
	assert_line "account 127.0.0.1"
	assert_line "tls off"
	assert_line 'password "secret"'
	assert_line "keep on"
	assert_line "delivery mda cat >> $TEST_TMP/delivered.joe"
	assert_line "# not mapped: fetchall"
	assert_line --regexp "^# .*fetchmailrc:7: skipped imap.example.com: protocol imap is not POP3$"
	refute_line "account imap.example.com"
	# MDA delivery is another issue's: deliver to a maildir here, so that
	# the rest of the conversion (host, port, TLS, login, keep) is tried.
	sed -i "s|^delivery mda .*|delivery maildir $TEST_TMP/Maildir|" \
	    "$TEST_TMP/fetchrc"
	chmod 600 "$TEST_TMP/fetchrc"
	run "$POPFETCH" -C "$TEST_TMP/fetchrc" -q 127.0.0.1
	assert_success
	[ "$(maildir_count "$TEST_TMP/Maildir")" -eq 2 ]
	run grep -c '^C: DELE' "$SLOG"
	assert_output 0
}

@test "--import-fetchmailrc FILE: ssl options, skip, defaults, no mda, several users" {
	cat >"$TEST_TMP/fmrc" <<'EOF'
defaults proto pop3 timeout 60 nokeep
poll pop.example.com port 995 user a pass 'x"y\\z' ssl sslcertck
    sslcertfile /etc/ssl/my.pem sslfingerprint "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF"
  user b pass c no sslcertck limit 5000 smtphost mail.local
skip pop.other.net user d
EOF
	run --separate-stderr "$POPFETCH" --import-fetchmailrc "$TEST_TMP/fmrc"
	assert_success
	assert_line "account pop.example.com-a"
	assert_line "account pop.example.com-b"
	assert_line "account pop.other.net"
	assert_line "tls on"
	assert_line "tls_starttls off"
	assert_line 'password "x\"y\\z"'
	assert_line 'tls_trust_file "/etc/ssl/my.pem"'
	assert_line --partial "is not a SHA-256 fingerprint"
	assert_line "tls_certcheck off"
	assert_line "skipsize 5000"
	assert_line "timeout 60"
	assert_line "tls_starttls on"
	assert_line --partial "fetchmail forwarded to SMTP on mail.local"
	assert_line --regexp "^delivery mda /usr/sbin/sendmail -oi -f %F -- "
	assert_line --regexp "^# .*fmrc:5: skip pop.other.net \(fetched only when named\)$"
	# What it printed is a valid fetchrc.
	printf '%s\n' "$output" | write_fetchrc "$TEST_TMP/fetchrc"
	run "$POPFETCH" -C "$TEST_TMP/fetchrc" --dry-run no-such-account
	assert_failure 64
	assert_output --partial "no account named 'no-such-account'"
}

@test "--import-fetchmailrc: missing file (66), bad file (65), bad use (64)" {
	run "$POPFETCH" --import-fetchmailrc "$TEST_TMP/nope"
	assert_failure 66
	assert_output --partial "$TEST_TMP/nope: cannot open"
	printf 'poll a user "open\n' >"$TEST_TMP/bad"
	run "$POPFETCH" --import-fetchmailrc="$TEST_TMP/bad"
	assert_failure 65
	assert_output "popfetch: $TEST_TMP/bad:1: missing closing \""
	run "$POPFETCH" --import-fetchmailrc "$TEST_TMP/bad" -a
	assert_failure 64
}
