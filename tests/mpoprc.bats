#!/usr/bin/env bats
# mpoprc.bats -- the keys and forms of mpop's configuration that popfetch
# takes with mpop's meaning: bare booleans, only_new, pipelining,
# tls_min_dh_prime_bits, source_ip; and the clear refusals of the rest.
# Then behaviour beside the real mpop (1.4.18): every file of
# tests/mpoprc parses in both; each account connects to the same port with
# the same TLS mode (first bytes seen on loopback, in a network namespace
# of its own); mpop's documented MDA lines get the same arguments; mpop
# and popfetch take turns on one mpop uidls file.

bats_require_minimum_version 1.5.0

load lib/common
load lib/popserver
load lib/certs

setup() {
	RC=$TEST_TMP/mpoprc
}

teardown() {
	popserver_stop || true
	# A second server, if a test started one.
	popserver_stop "${FIRST_SERVER_PID:-}" || true
}

# account_rc EXTRA-LINES...: a plain-text account on the test server.
account_rc() {
	{
		printf 'account default\nhost 127.0.0.1\nport %s\n' \
		    "$POPSERVER_PORT"
		printf 'tls off\nuser test\npassword secret\nauth user\n'
		printf 'delivery maildir %s\ntimeout 30\n' "$MD"
		printf '%s\n' "$@"
	} | write_fetchrc "$RC"
}

@test "bare on/off keys mean on, as in mpop's 'key [(on|off)]'" {
	make_mailbox "$MB" 2
	popserver_start --mailbox "$MB" --log "$SLOG" --max-sessions 2
	# tls bare in the defaults, turned off in the account: both forms.
	write_fetchrc "$RC" <<EOF
defaults
tls
tls_certcheck
keep
only_new
received_header
auth

account default
host 127.0.0.1
port $POPSERVER_PORT
tls off
user test
password secret
delivery maildir $MD
timeout 30
EOF
	run "$POPFETCH" -C "$RC" -q
	assert_success
	[ "$(maildir_count "$MD")" -eq 2 ]
	# keep: nothing deleted; received_header: a Received: line on top.
	run grep -c '^C: DELE' "$SLOG"
	assert_output 0
	run head -n 1 "$MD"/new/*
	assert_output --partial "Received: "
	# only_new: the second run finds nothing new.
	run "$POPFETCH" -C "$RC" -q
	assert_success
	[ "$(maildir_count "$MD")" -eq 2 ]
}

@test "a bare 'tls' really turns TLS on" {
	popserver_start --mailbox "$MB"
	account_rc "tls"
	run "$POPFETCH" -C "$RC"
	# A plain server cannot answer a TLS handshake: not a config error.
	refute [ "$status" -eq 0 ]
	refute [ "$status" -eq 78 ]
	assert_output --partial "TLS"
}

@test "a bare key with a wrong value is still refused" {
	printf 'account default\nhost h\ntls yes\n' | write_fetchrc "$RC"
	run "$POPFETCH" -C "$RC"
	assert_failure 78
	assert_output --partial "$RC:3: invalid value 'yes' for 'tls'"
	printf 'account default\nhost h\nonly_new maybe\n' | write_fetchrc "$RC"
	run "$POPFETCH" -C "$RC"
	assert_failure 78
	assert_output --partial "$RC:3: invalid value 'maybe' for 'only_new'"
}

@test "only_new off with keep: every run fetches every message again" {
	make_mailbox "$MB" 3
	popserver_start --mailbox "$MB" --log "$SLOG" --max-sessions 2
	account_rc "keep on" "only_new off"
	run "$POPFETCH" -C "$RC" -q
	assert_success
	[ "$(maildir_count "$MD")" -eq 3 ]
	run "$POPFETCH" -C "$RC" -q
	assert_success
	[ "$(maildir_count "$MD")" -eq 6 ]
	run grep -c '^C: RETR' "$SLOG"
	assert_output 6
	run grep -c '^C: DELE' "$SLOG"
	assert_output 0
}

@test "only_new off without keep: each message once, then deleted" {
	make_mailbox "$MB" 3
	popserver_start --mailbox "$MB" --log "$SLOG" --max-sessions 2
	account_rc "keep off" "only_new off"
	run "$POPFETCH" -C "$RC" -q
	assert_success
	[ "$(maildir_count "$MD")" -eq 3 ]
	run grep -c '^C: DELE' "$SLOG"
	assert_output 3
	run "$POPFETCH" -C "$RC" -q
	assert_success
	[ "$(maildir_count "$MD")" -eq 3 ]
}

@test "pipelining off: one command in flight, though the server offers it" {
	make_mailbox "$MB" 8
	popserver_start --mailbox "$MB" --log "$SLOG" --pipelining
	account_rc "pipelining off"
	run "$POPFETCH" -C "$RC" -q
	assert_success
	[ "$(maildir_count "$MD")" -eq 8 ]
	run grep -c '^PIPELINED' "$SLOG"
	assert_output 0
	run grep -c '^C: DELE' "$SLOG"
	assert_output 8
}

@test "pipelining auto and on: commands go together where offered" {
	for mode in auto on; do
		rm -rf "$MB" "$MD" "$SLOG"
		mkdir -p "$MB"
		make_mailbox "$MB" 8
		popserver_start --mailbox "$MB" --log "$SLOG" --pipelining
		account_rc "pipelining $mode"
		run "$POPFETCH" -C "$RC" -q
		assert_success
		[ "$(maildir_count "$MD")" -eq 8 ]
		run grep -c '^PIPELINED' "$SLOG"
		refute_output 0
		popserver_stop
	done
	printf 'account default\nhost h\npipelining yes\n' | write_fetchrc "$RC"
	run "$POPFETCH" -C "$RC"
	assert_failure 78
	assert_output --partial "$RC:3: invalid value 'yes' for 'pipelining'"
}

@test "tls_min_dh_prime_bits: accepted; -v says it has no effect" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB" --max-sessions 2
	account_rc "tls_min_dh_prime_bits 2048"
	run "$POPFETCH" -C "$RC"
	assert_success
	refute_output --partial "tls_min_dh_prime_bits"
	run "$POPFETCH" -C "$RC" -v
	assert_success
	assert_output --partial "tls_min_dh_prime_bits is ignored"
	printf 'account default\nhost h\ntls_min_dh_prime_bits lots\n' |
	    write_fetchrc "$RC"
	run "$POPFETCH" -C "$RC"
	assert_failure 78
	assert_output --partial "$RC:3:"
}

@test "delivery exchange: refused with what to use instead" {
	printf 'account default\nhost h\ndelivery exchange /srv/pickup\n' |
	    write_fetchrc "$RC"
	run "$POPFETCH" -C "$RC"
	assert_failure 78
	assert_output "popfetch: $RC:3: 'delivery exchange' (an Exchange pickup directory) is not supported; use 'delivery maildir DIR' or 'delivery mda COMMAND'"
}

@test "mpop keys popfetch lacks: key, file:line and what to do" {
	for key in "socket /tmp/s" "ntlmdomain CORP" "tls_host_override x" \
	    "eval echo host h" "tls_nocertcheck" "domain example.org"; do
		printf 'defaults\nkeep on\naccount default\nhost h\n%s\n' \
		    "$key" | write_fetchrc "$RC"
		run "$POPFETCH" -C "$RC"
		assert_failure 78
		assert_output --regexp "^popfetch: $RC:5: mpop key '${key%% *}' is not supported by popfetch: .+$"
	done
	printf 'account default\nhost h\ntls_nocertcheck\n' | write_fetchrc "$RC"
	run "$POPFETCH" -C "$RC"
	assert_output --partial "write 'tls_certcheck off' instead"
}

@test "auth ntlm and digest-md5: refused with what to use instead" {
	for m in ntlm digest-md5; do
		printf 'account default\nhost h\nauth %s\n' "$m" |
		    write_fetchrc "$RC"
		run "$POPFETCH" -C "$RC"
		assert_failure 78
		assert_output --regexp "^popfetch: $RC:3: 'auth $m' is not supported by popfetch \(.+\); use 'auth auto', or a method the server offers \(see popfetch --serverinfo\)$"
	done
}

@test "a string key alone unsets what was inherited; tls_force_sslv3 is ignored" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB" --log "$SLOG"
	write_fetchrc "$RC" <<EOF
defaults
password wrong
tls_fingerprint 3E:4B:2C:9A:1D:0F:77:65:12:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67
tls_priorities NONE:bogus
tls_force_sslv3 on

account default
host 127.0.0.1
port $POPSERVER_PORT
tls off
user test
auth user
password
passwordeval "echo secret"
tls_fingerprint
tls_priorities
tls_force_sslv3
delivery maildir $MD
timeout 30
EOF
	run "$POPFETCH" -C "$RC" -q
	assert_success
	[ "$(maildir_count "$MD")" -eq 1 ]
	run grep -c '^C: PASS' "$SLOG"
	assert_output 1
}

@test "source_ip: the server sees the connection from that address" {
	make_mailbox "$MB" 1
	popserver_start --mailbox "$MB" --log "$SLOG" --max-sessions 2
	account_rc "keep on" "source_ip 127.0.0.2"
	run "$POPFETCH" -C "$RC" -q
	assert_success
	run grep '^PEER ' "$SLOG"
	assert_output "PEER 127.0.0.2"
	# The same account from the other address: the server sees that one.
	: >"$SLOG"
	account_rc "keep on" "source_ip 127.0.0.3"
	run "$POPFETCH" -C "$RC" -q
	assert_success
	run grep '^PEER ' "$SLOG"
	assert_output "PEER 127.0.0.3"
	[ "$(maildir_count "$MD")" -eq 1 ]
}

@test "source_ip: an address this host lacks, or of the wrong family" {
	popserver_start --mailbox "$MB" --log "$SLOG"
	# TEST-NET-1: no host has it, so the bind fails and nothing is sent.
	account_rc "source_ip 192.0.2.1"
	run "$POPFETCH" -C "$RC"
	assert_failure 69
	assert_output --partial "cannot use source_ip 192.0.2.1"
	account_rc "source_ip ::1"
	run "$POPFETCH" -C "$RC"
	assert_failure 68
	assert_output --partial "host 127.0.0.1 has no IPv6 address to reach from source_ip ::1"
	run grep -c '^CONNECT' "$SLOG"
	assert_output 0
	printf 'account default\nhost h\nsource_ip my.host.name\n' |
	    write_fetchrc "$RC"
	run "$POPFETCH" -C "$RC"
	assert_failure 78
	assert_output --partial "$RC:3: invalid value 'my.host.name' for 'source_ip'"
}

# mpop_accepts FILE: mpop 1.4.18 parses FILE (--pretend prints the
# settings of every account and connects nowhere; it runs passwordeval,
# so the password tools are stand-ins from tests/mpoprc/bin).
mpop_accepts() {
	PATH=$TESTS_SRCDIR/mpoprc/bin:$PATH mpop -C "$1" --pretend -a \
	    >/dev/null 2>"$TEST_TMP/mpop.err"
}

# popfetch_parses FILE: popfetch reads FILE through; an account name no
# file has makes it stop right after parsing, before any connection.
popfetch_parses() {
	run "$POPFETCH" -C "$1" -s no-such-account-popfetch-compat
	[ "$status" -eq 64 ] && [[ $output == *"no account named"* ]]
}

@test "compatibility: every mpoprc mpop accepts, popfetch accepts (exceptions: tests/mpoprc/EXCEPTIONS)" {
	command -v mpop >/dev/null || skip "mpop is not installed (setup installs it)"
	local f name reason failed=0 checked=0
	for f in "$TESTS_SRCDIR"/mpoprc/*.mpoprc; do
		name=${f##*/}
		cp "$f" "$TEST_TMP/$name"
		chmod 600 "$TEST_TMP/$name"
		grep -q "^$name[[:space:]]" "$TESTS_SRCDIR/mpoprc/SOURCES" || {
			echo "$name: no origin in tests/mpoprc/SOURCES"
			failed=1
		}
		if ! mpop_accepts "$TEST_TMP/$name"; then
			echo "$name: mpop refuses it: $(cat "$TEST_TMP/mpop.err")"
			failed=1
			continue
		fi
		checked=$((checked + 1))
		reason=$(sed -n "s/^$name[[:space:]]*//p" "$TESTS_SRCDIR/mpoprc/EXCEPTIONS")
		if [ -n "$reason" ]; then
			# A documented exception must stay a clear refusal.
			run "$POPFETCH" -C "$TEST_TMP/$name" -s no-such-account
			if [ "$status" -ne 78 ] || [[ $output != *"$TEST_TMP/$name:"* ]]; then
				echo "$name: listed as an exception ($reason) but popfetch says ($status): $output"
				failed=1
			fi
		elif ! popfetch_parses "$TEST_TMP/$name"; then
			echo "$name: mpop accepts it, popfetch refuses it ($status): $output"
			failed=1
		fi
	done
	[ "$checked" -ge 13 ]
	[ "$failed" -eq 0 ]
}

# in_own_netns: a private network namespace works here (both-connect
# listens on 110 and 995 there, where no real server can be in the way).
in_own_netns() {
	unshare -rn true 2>/dev/null && command -v ip >/dev/null
}

@test "behaviour: each mpoprc account connects to mpop's port with mpop's TLS mode (first bytes on loopback)" {
	command -v mpop >/dev/null || skip "mpop is not installed (setup installs it)"
	in_own_netns || skip "no private network namespace (unshare -rn, iproute2)"
	local f name line acct tool rest failed=0 compared=0 port110=0
	local -A mp pf why st
	for f in "$TESTS_SRCDIR"/mpoprc/*.mpoprc; do
		name=${f##*/}
		grep -q "^$name[[:space:]]" "$TESTS_SRCDIR/mpoprc/EXCEPTIONS" &&
		    continue
		mkdir -p "$TEST_TMP/$name"
		run timeout 600 unshare -rn "$TESTS_SRCDIR/mpoprc/both-connect" \
		    "$f" "$TEST_TMP/$name"
		[ "$status" -eq 0 ] || { echo "$name: $output"; failed=1; }
		mp=() pf=() why=() st=()
		while read -r acct tool rest; do
			case $tool in
			mpop) mp[$acct]=$rest ;;
			popfetch) pf[$acct]=$rest ;;
			why) why[$acct]=$rest ;;
			status) st[$acct]=$rest ;;
			esac
		done <<<"$output"
		for acct in "${!mp[@]}"; do
			[ "${mp[$acct]}" = "- none" ] || compared=$((compared + 1))
			[[ ${mp[$acct]} == "110 stls" && ${pf[$acct]} == "110 stls" &&
			    ${why[$acct]} == "port 110 speaks STLS"* ]] &&
			    port110=$((port110 + 1))
			[ "${mp[$acct]}" = "${pf[$acct]}" ] && continue
			# An account popfetch refuses (78, file:line) before
			# connecting, such as one whose user was unset.
			[[ ${pf[$acct]} == "- none" && ${st[$acct]} == 78 ]] &&
			    continue
			# Documented in fetchrc(5), DIFFERENCES FROM MPOP: no
			# port named, popfetch's default is implicit TLS on 995
			# (mpop's: STLS on 110 with tls on, else no TLS).
			[[ ( ${mp[$acct]} == "110 stls" ||
			    ${mp[$acct]} == "110 plain" ) &&
			    ${pf[$acct]} == "995 implicit-tls" &&
			    ${why[$acct]} == "popfetch's default: neither port nor tls_starttls is set" ]] &&
			    continue
			# Port 995 named, no tls_starttls: mpop tries STLS on the
			# implicit-TLS port (no such server answers it);
			# popfetch speaks the port's TLS.
			[[ ${mp[$acct]} == "995 stls" &&
			    ${pf[$acct]} == "995 implicit-tls" &&
			    ${why[$acct]} == "port 995 speaks implicit TLS"* ]] &&
			    continue
			echo "$name, account $acct: mpop ${mp[$acct]}, popfetch ${pf[$acct]} (${why[$acct]})"
			failed=1
		done
	done
	[ "$failed" -eq 0 ]
	# Most accounts really connected; tls on + port 110 (no
	# tls_starttls) was STLS for both.
	[ "$compared" -ge 25 ]
	[ "$port110" -ge 2 ]
}

# mda_recorder FILE: a stand-in MDA that writes its arguments to FILE.
mda_recorder() {
	cat >"$TEST_TMP/mda" <<EOS
#!/bin/sh
printf '[%s]\n' "\$@" >"$1"
cat >/dev/null
EOS
	chmod +x "$TEST_TMP/mda"
}

# both_rc FILE EXTRA...: one account for mpop and popfetch on the test
# server, in keep mode.
both_rc() {
	local out=$1
	shift
	{
		printf 'account default\nhost 127.0.0.1\nport %s\n' \
		    "$POPSERVER_PORT"
		printf 'tls off\nuser test\npassword secret\nauth user\n'
		printf 'keep on\ntimeout 30\n'
		printf '%s\n' "$@"
	} >"$out"
	chmod 600 "$out"
}

@test "behaviour: mpop's documented MDA lines get the same arguments from both tools for o'brien@example.org" {
	command -v mpop >/dev/null || skip "mpop is not installed (setup installs it)"
	local cmd n=0
	printf "Return-Path: <o'brien@example.org>\nSubject: s\n\nbody\n" \
	    >"$MB/1"
	popserver_start --mailbox "$MB" --log "$SLOG" --max-sessions 40
	mda_recorder "$TEST_TMP/args"
	# The forms of mpop's manual and of tests/mpoprc/*.mpoprc, the
	# program replaced by the recorder; then popfetch's own, unquoted.
	while IFS= read -r cmd; do
		n=$((n + 1))
		for tool in mpop popfetch; do
			rm -f "$TEST_TMP/args" "$TEST_TMP"/uidls*
			both_rc "$TEST_TMP/rc.$tool" "only_new off" \
			    "uidls_file $TEST_TMP/uidls.$tool" \
			    "delivery mda $TEST_TMP/mda $cmd"
			if [ "$tool" = mpop ]; then
				USER=tester run mpop -C "$TEST_TMP/rc.mpop" -q
			else
				USER=tester run "$POPFETCH" -C "$TEST_TMP/rc.popfetch" -q
			fi
			assert_success
			cp "$TEST_TMP/args" "$TEST_TMP/args.$tool"
		done
		run cmp "$TEST_TMP/args.mpop" "$TEST_TMP/args.popfetch"
		assert_success
		run cat "$TEST_TMP/args.popfetch"
		assert_output --partial "o_brien@example.org"
	done < <(
		sed -n "s/^[[:space:]]*delivery mda \"[^ ]* \(.*%F.*\)\"\$/\1/p" \
		    "$TESTS_SRCDIR"/mpoprc/*.mpoprc | sort -u
		echo "-oi -oem -f '%F' -- \$USER"
		echo "--host=localhost --from='%F' -- \$USER"
		echo "-f \"%F\" -d \$USER"
	)
	[ "$n" -ge 4 ]
	# Unquoted, popfetch passes the whole address as one argument.
	both_rc "$RC" "only_new off" "uidls_file $TEST_TMP/uidls.pf" \
	    "delivery mda $TEST_TMP/mda -f %F"
	run "$POPFETCH" -C "$RC" -q
	assert_success
	run cat "$TEST_TMP/args"
	assert_output "[-f]
[o'brien@example.org]"
}

# uids_of FILE: the UID lines of an mpop uidls file, comments left out.
uids_of() {
	grep -v '^#' "$1"
}

@test "behaviour: mpop, popfetch and mpop again take turns on one mpop uidls file in keep mode, nothing fetched twice" {
	command -v mpop >/dev/null || skip "mpop is not installed (setup installs it)"
	local u="$TEST_TMP/uidls/%U_at_%H" file="$TEST_TMP/uidls/test_at_127.0.0.1"
	mkdir -p "$TEST_TMP/uidls" "$MD"/{new,cur,tmp}
	make_mailbox "$MB" 2
	popserver_start --mailbox "$MB" --log "$SLOG" --max-sessions 10
	both_rc "$RC" "uidls_file $u" "delivery maildir $MD"
	run mpop -C "$RC" -q
	assert_success
	[ "$(maildir_count "$MD")" -eq 2 ]
	cp "$MB/msg-00001" "$MB/msg-00003"
	cp "$MB/msg-00002" "$MB/msg-00004"
	run "$POPFETCH" -C "$RC"
	assert_success
	assert_output --partial "uidls_file $file is in mpop's format"
	[ "$(maildir_count "$MD")" -eq 4 ]
	# The file stays mpop's: a header line with the count, sorted UIDs.
	run uids_of "$file"
	assert_output " 4 127.0.0.1 test
msg-00001
msg-00002
msg-00003
msg-00004"
	# Said once only.
	run "$POPFETCH" -C "$RC"
	assert_success
	refute_output --partial "mpop's format"
	cp "$MB/msg-00001" "$MB/msg-00005"
	run mpop -C "$RC" -q
	assert_success
	[ "$(maildir_count "$MD")" -eq 5 ]
	run uids_of "$file"
	assert_line --index 0 " 5 127.0.0.1 test"
	# Each message crossed the wire once, whoever fetched it.
	run bash -c "grep '^C: RETR' '$SLOG' | wc -l"
	assert_output 5
	# mpop leaves the file as popfetch left it, but for its own header.
	[ "$(uids_of "$file" | head -n 5 | tail -n 4)" = "$(printf 'msg-00001\nmsg-00002\nmsg-00003\nmsg-00004')" ]
	# popfetch, last, leaves what mpop would: the file mpop leaves
	# now and the one popfetch leaves after one more run are alike.
	uids_of "$file" >"$TEST_TMP/after-mpop"
	run "$POPFETCH" -C "$RC" -q
	assert_success
	run diff "$TEST_TMP/after-mpop" <(uids_of "$file")
	assert_success
	# --import-uids cannot write into it, and says why.
	run "$POPFETCH" -C "$RC" --import-uids mpop "$file"
	assert_failure 65
	assert_output --partial "a UID list in mpop's format; a fetch uses such a uidls_file in place"
}

@test "behaviour: one mpop uidls file for two mailboxes whose UIDs are alike: each keeps its own list" {
	command -v mpop >/dev/null || skip "mpop is not installed (setup installs it)"
	local file="$TEST_TMP/mpop_uidls" pa pb mba=$TEST_TMP/mba mbb=$TEST_TMP/mbb
	mkdir -p "$mba" "$mbb" "$MD"/{new,cur,tmp}
	make_mailbox "$mba" 2
	make_mailbox "$mbb" 3
	popserver_start --mailbox "$mba" --log "$SLOG" --max-sessions 10
	pa=$POPSERVER_PORT FIRST_SERVER_PID=$POPSERVER_PID
	popserver_start --mailbox "$mbb" --log "$SLOG.b" --max-sessions 10 \
	    --user other
	pb=$POPSERVER_PORT
	cat >"$RC" <<EOS
defaults
tls off
password secret
auth user
keep on
timeout 30
uidls_file $file
delivery maildir $MD

account a
host 127.0.0.1
port $pa
user test

account b
host 127.0.0.1
port $pb
user other
EOS
	chmod 600 "$RC"
	run mpop -C "$RC" -a -q
	assert_success
	[ "$(maildir_count "$MD")" -eq 5 ]
	# The same names, so the same UIDs, on both servers.
	cp "$mba/msg-00001" "$mba/msg-00004"
	cp "$mbb/msg-00001" "$mbb/msg-00004"
	run "$POPFETCH" -C "$RC" -a -q
	assert_success
	[ "$(maildir_count "$MD")" -eq 7 ]
	run mpop -C "$RC" -a -q
	assert_success
	[ "$(maildir_count "$MD")" -eq 7 ]
	run uids_of "$file"
	assert_line " 3 127.0.0.1 test"
	assert_line " 4 127.0.0.1 other"
	run bash -c "grep -c '^C: RETR' '$SLOG'; grep -c '^C: RETR' '$SLOG.b'"
	assert_output "3
4"
	[ -f "$file.popfetch-test@127.0.0.1" ]
	[ -f "$file.popfetch-other@127.0.0.1" ]
}

@test "behaviour: a filter with mpop's quoted '%F' gets the same arguments from both tools" {
	command -v mpop >/dev/null || skip "mpop is not installed (setup installs it)"
	local tool
	printf "Return-Path: <o'brien@example.org>\nSubject: s\n\nbody\n" \
	    >"$MB/1"
	popserver_start --mailbox "$MB" --log "$SLOG" --max-sessions 4
	mda_recorder "$TEST_TMP/args"
	mkdir -p "$MD"/{new,cur,tmp}
	for tool in mpop popfetch; do
		rm -f "$TEST_TMP/args"
		both_rc "$TEST_TMP/rc.$tool" "only_new off" \
		    "uidls_file $TEST_TMP/uidls.$tool" "delivery maildir $MD" \
		    "filter $TEST_TMP/mda --from '%F' \"%F\" -s %S"
		if [ "$tool" = mpop ]; then
			run mpop -C "$TEST_TMP/rc.mpop" -q
		else
			run "$POPFETCH" -C "$TEST_TMP/rc.popfetch" -q
		fi
		assert_success
		cp "$TEST_TMP/args" "$TEST_TMP/args.$tool"
	done
	run cmp "$TEST_TMP/args.mpop" "$TEST_TMP/args.popfetch"
	assert_success
	run cat "$TEST_TMP/args.popfetch"
	assert_line --index 1 "[o_brien@example.org]"
	[ "$(maildir_count "$MD")" -eq 2 ]
}

@test "behaviour: tls on with port 110 and no tls_starttls (posteo's shape) fetches over STLS from a server on 110" {
	in_own_netns || skip "no private network namespace (unshare -rn, iproute2)"
	CERTS=$BATS_RUN_TMPDIR/certs
	make_test_ca "$CERTS"
	make_mailbox "$MB" 2
	write_fetchrc "$RC" <<EOF
account default
host 127.0.0.1
port 110
tls on
tls_trust_file $CERTS/ca.pem
user test
password secret
delivery maildir $MD
timeout 30
EOF
	# The server on 110 in a network namespace of its own, popfetch there.
	cat >"$TEST_TMP/run" <<EOF
set -eu
ip link set lo up
"$PYTHON3" "$TESTS_SRCDIR/popserver.py" --port 110 --port-file "$TEST_TMP/port" \\
    --mailbox "$MB" --log "$SLOG" --tls starttls \\
    --cert "$CERTS/server.pem" --key "$CERTS/server-key.pem" &
pid=\$!
trap 'kill \$pid; wait \$pid || true' EXIT
for _ in \$(seq 600); do [ -e "$TEST_TMP/port" ] && break; sleep 0.1; done
"$POPFETCH" -C "$RC" -v
EOF
	run timeout 120 unshare -rn bash "$TEST_TMP/run"
	assert_success
	assert_output --partial "connecting to 127.0.0.1 port 110, STLS (port 110 speaks STLS, and tls_starttls is not set)"
	[ "$(maildir_count "$MD")" -eq 2 ]
	run grep -c '^C: STLS' "$SLOG"
	assert_output 1
}
