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

# --- hostile .fetchmailrc values ---------------------------------------
# The converted file must say only what the input's options mean: no
# value may start a line of its own, reach a shell unquoted, or put
# terminal controls into a comment.

# refused LINE TEXT -- TEXT (printf format) as a .fetchmailrc is refused
# with 65 naming line LINE, and nothing is written to stdout.
refused() {
	local line=$1
	shift
	# shellcheck disable=SC2059
	printf "$@" >"$TEST_TMP/fmrc"
	run --separate-stderr "$POPFETCH" --import-fetchmailrc "$TEST_TMP/fmrc"
	assert_failure 65
	[[ -z $output ]]
	[[ $stderr == "popfetch: $TEST_TMP/fmrc:$line: "* ]] || {
		echo "stderr: $stderr"
		return 1
	}
}

@test "--import-fetchmailrc: a newline, NUL or control character in any value is refused with file:line" {
	# A newline inside quotes, raw or escaped, would start a config line.
	refused 2 'set daemon 60\npoll "pop.example.com\ntls off" user a pass b\n'
	assert_equal "$stderr" "popfetch: $TEST_TMP/fmrc:2: a value holds a control character (a newline, a tab, an escape...); popfetch cannot write it into a fetchrc safely"
	refused 1 'poll "pop.example.com\\ndelivery mda touch /tmp/pwned" user a\n'
	refused 3 'poll p.example.com\n user a pass b\n sslfingerprint "AA\\ntls_certcheck off"\n'
	# An option without a fetchrc key goes into a comment; so do `set`s.
	refused 2 'poll p.example.com user a\n folder "INBOX\\ntls off"\n'
	refused 1 'set postmaster "joe\\ndelivery mda id"\npoll p user a\n'
	refused 1 'poll p user "a\\tb"\n'
	refused 2 'poll p user a\n password "x\033]52;c;aGk=\007"\n'
	refused 1 'poll p user a mda "procmail\x7f"\n'
	refused 3 'poll p\nuser a\npassword "x\0y"\n'
	assert_equal "$stderr" "popfetch: $TEST_TMP/fmrc:3: a NUL byte: not a .fetchmailrc"
}

@test "--import-fetchmailrc: the local user (is NAME) reaches the MDA command only as a plain name" {
	local bad
	for bad in "joe; touch $TEST_TMP/pwned" 'x$(id)' "joe'x" 'a b' '-oQ/tmp' '`id`'; do
		refused 2 'poll p.example.com user a\n is "%s" here mda "procmail -d %%T"\n' "$bad"
		assert_equal "$stderr" "popfetch: $TEST_TMP/fmrc:2: 'is': the local user goes into a shell command and must be a plain name (letters, digits, '.', '_', '@', '+', '-')"
	done
	refused 1 'poll p.example.com user a to "joe|id"\n'
	[[ ! -e $TEST_TMP/pwned ]]
	# A plain name goes in as it is; with no mda, into sendmail's line.
	printf 'poll p.example.com user a is joe.doe@x here mda "procmail -d %%T"\npoll q.example.com user b is jane\n' >"$TEST_TMP/fmrc"
	run --separate-stderr "$POPFETCH" --import-fetchmailrc "$TEST_TMP/fmrc"
	assert_success
	assert_line "delivery mda procmail -d joe.doe@x"
	assert_line "delivery mda /usr/sbin/sendmail -oi -f %F -- jane"
	# Without `is`, the login name -- only when it is a plain name.
	printf 'poll p.example.com user a\n' >"$TEST_TMP/fmrc"
	USER='x; id' run --separate-stderr "$POPFETCH" --import-fetchmailrc "$TEST_TMP/fmrc"
	assert_success
	assert_line "delivery mda /usr/sbin/sendmail -oi -f %F -- CHANGE-ME"
}

@test "--import-fetchmailrc: comments carry no raw input, fingerprints are checked, the output is a valid fetchrc" {
	# Bidi override, C1 and other non-ASCII bytes in values that end up
	# in comments; a 95-character fingerprint that is not hex.
	printf 'set logfile "\xe2\x80\xaelog"\npoll "h\xc2\x9b.example" proto imap user a\npoll p.example.com user a pass "p\xc3\xa4ss" folder "\xe2\x80\xaeX" sslfingerprint "%s"\n' \
	    "$(printf 'ZZ:%.0s' {1..31})ZZ" >"$TEST_TMP/fmrc"
	run --separate-stderr "$POPFETCH" --import-fetchmailrc "$TEST_TMP/fmrc"
	assert_success
	printf '%s\n' "$output" >"$TEST_TMP/out"
	# Every comment line is printable ASCII.
	run grep -n -P '^#.*[^\x20-\x7e]' "$TEST_TMP/out"
	assert_failure
	grep -qF '# not mapped: set logfile \xe2\x80\xaelog' "$TEST_TMP/out"
	grep -qF 'skipped h\xc2\x9b.example: protocol imap' "$TEST_TMP/out"
	grep -qF '# not mapped: folder \xe2\x80\xaeX' "$TEST_TMP/out"
	grep -q '^# sslfingerprint ZZ:ZZ:.* is not a SHA-256 fingerprint' "$TEST_TMP/out"
	run grep -c '^tls_fingerprint' "$TEST_TMP/out"
	assert_output 0
	# A value keeps its bytes, in quotes.
	grep -qx "password \"p$(printf '\xc3\xa4')ss\"" "$TEST_TMP/out"
	# An MDA command that starts with a quote is written quoted, so the
	# fetchrc parser gives the shell the same command.
	printf 'poll p.example.com user a mda "\\"/usr/bin/procmail\\" -d %%T" is joe\n' >"$TEST_TMP/fmrc2"
	run --separate-stderr "$POPFETCH" --import-fetchmailrc "$TEST_TMP/fmrc2"
	assert_success
	assert_line 'delivery mda "\"/usr/bin/procmail\" -d joe"'
	printf '%s\n' "$output" | write_fetchrc "$TEST_TMP/fetchrc"
	run "$POPFETCH" -C "$TEST_TMP/fetchrc" --dry-run no-such-account
	assert_failure 64
	assert_output --partial "no account named 'no-such-account'"
}

@test "--import-fetchmailrc: a FIFO, /dev/zero, a file over 1 MiB refused at once; 60,000 entries in bounded time" {
	mkfifo "$TEST_TMP/fifo"
	local start=$SECONDS
	run timeout 20 "$POPFETCH" --import-fetchmailrc "$TEST_TMP/fifo"
	assert_failure 66
	assert_output "popfetch: $TEST_TMP/fifo: not a regular file"
	run timeout 20 "$POPFETCH" --import-fetchmailrc /dev/zero
	assert_failure 66
	assert_output "popfetch: /dev/zero: not a regular file"
	# One line of 2 MB: read no further than the limit.
	head -c 2000000 /dev/zero | tr '\0' x >"$TEST_TMP/huge"
	run timeout 20 "$POPFETCH" --import-fetchmailrc "$TEST_TMP/huge"
	assert_failure 65
	assert_output "popfetch: $TEST_TMP/huge: larger than 1024 KiB: not a .fetchmailrc"
	# At once: a FIFO that blocked open() would have run into timeout.
	((SECONDS - start < 60))
	# A value is bounded too.
	printf 'poll p.example.com\n user a password "%s"\n' "$(head -c 5000 /dev/zero | tr '\0' x)" >"$TEST_TMP/long"
	run "$POPFETCH" --import-fetchmailrc "$TEST_TMP/long"
	assert_failure 65
	assert_output "popfetch: $TEST_TMP/long:2: a value longer than 4096 bytes"
	# Quadratic before (30 s on a quiet machine); generous bound now.
	"$PYTHON3" -c '
import sys
with open(sys.argv[1], "w") as f:
    for i in range(60000):
        f.write("poll h%d user u\n" % (i % 1000))
' "$TEST_TMP/many"
	# Judged by CPU time, which a loaded machine does not stretch: the
	# quadratic importer spent 27 s of it, the linear one 0.1 s.
	run --separate-stderr timeout 300 /usr/bin/time -f '%U %S' \
	    -o "$TEST_TMP/cpu" "$POPFETCH" --import-fetchmailrc "$TEST_TMP/many"
	assert_success
	read -r user sys <"$TEST_TMP/cpu"
	echo "# 60,000 entries: ${user} s user, ${sys} s system" >&3
	awk -v u="$user" -v s="$sys" 'BEGIN { exit !(u + s < 8) }'
	[[ $(grep -c '^account ' <<<"$output") -eq 60000 ]]
	assert_line "account h999-u"
}
