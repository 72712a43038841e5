#!/usr/bin/env bats
# import-uids.bats -- moving in without duplicates: the real mpop, fetchmail
# and getmail6 fetch a mailbox from the test Dovecot in keep mode, more mail
# arrives, `popfetch --import-uids` takes over the old tool's state, and
# popfetch's keep-mode run fetches exactly the new messages, once.

load lib/common
load lib/certs
load lib/dovecot

setup_file() {
	local t
	for t in mpop fetchmail getmail; do
		if ! command -v "$t" >/dev/null; then
			if [[ ${POPFETCH_REQUIRE_SERVERS:-} == 1 || ${CI:-} == true ]]; then
				echo "$t is not installed (./setup --deps-only)" >&2
				return 1
			fi
			skip "$t is not installed (./setup --deps-only installs it)"
		fi
	done
	dovecot_start
}

teardown_file() {
	dovecot_stop
}

setup() {
	U=imp$BATS_TEST_NUMBER
	PW=pw-$U
	dovecot_add_user "$U" "$PW"
	make_mailbox "$TEST_TMP/old" 3
	dovecot_deliver "$U" "$TEST_TMP"/old/*
}

# popfetch_rc [LINE...] -- keep mode against the test Dovecot, plain TCP.
popfetch_rc() {
	local l
	{
		echo "account $U"
		echo "host 127.0.0.1"
		echo "port $DOVECOT_POP3_PORT"
		echo "tls off"
		echo "user $U"
		echo "password $PW"
		echo "keep on"
		echo "delivery maildir $MD"
		echo "received_header off"
		for l in "$@"; do echo "$l"; done
	} | write_fetchrc "$RC"
}

# server_uids -- the UIDL of each message on the server, in order.
server_uids() {
	"$PYTHON3" - "$DOVECOT_POP3_PORT" "$U" "$PW" <<-'PY'
	import poplib, sys
	p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=30)
	p.user(sys.argv[2]); p.pass_(sys.argv[3])
	for line in p.uidl()[1]:
	    print(line.split()[1].decode())
	p.quit()
	PY
}

# Two messages arrive after the old tool's run.
more_mail() {
	make_mailbox "$TEST_TMP/new" 2
	dovecot_deliver "$U" "$TEST_TMP"/new/*
}

# popfetch fetches exactly the two new messages, then nothing.
fetches_only_the_new() {
	run "$POPFETCH" -C "$RC" "$U"
	assert_success
	assert_output --partial "2 messages fetched"
	assert_maildir_matches "$TEST_TMP/new" "$MD"
	run "$POPFETCH" -C "$RC" "$U"
	assert_success
	assert_output --partial "no new messages"
	[ "$(maildir_count "$MD")" -eq 2 ]
	[ "$(dovecot_count "$U")" -eq 5 ]
}

@test "mpop's uidls file: after --import-uids mpop, only the new messages are fetched" {
	cat >"$TEST_TMP/mpoprc" <<-EOF
	account default
	host 127.0.0.1
	port $DOVECOT_POP3_PORT
	tls off
	auth user
	user $U
	password $PW
	keep on
	delivery maildir $TEST_TMP/mpop-md
	uidls_file $TEST_TMP/mpop-uidls
	EOF
	chmod 600 "$TEST_TMP/mpoprc"
	mkdir -p "$TEST_TMP"/mpop-md/{new,cur,tmp}
	run mpop -q -C "$TEST_TMP/mpoprc"
	assert_success
	[ "$(maildir_count "$TEST_TMP/mpop-md")" -eq 3 ]
	more_mail
	popfetch_rc
	run "$POPFETCH" -C "$RC" --import-uids mpop "$TEST_TMP/mpop-uidls"
	assert_success
	assert_output --partial "$U: 3 UIDs imported from $TEST_TMP/mpop-uidls (0 known already)"
	fetches_only_the_new
	# Importing again changes nothing.
	run "$POPFETCH" -C "$RC" --import-uids mpop "$TEST_TMP/mpop-uidls"
	assert_success
	assert_output --partial "0 UIDs imported"
}

@test "fetchmail's .fetchids: after --import-uids fetchmail, only the new messages are fetched" {
	cat >"$TEST_TMP/fetchmailrc" <<-EOF
	poll 127.0.0.1 proto POP3 port $DOVECOT_POP3_PORT uidl
	  user "$U" with password "$PW" is root here options keep sslproto ''
	  mda "cat >> $TEST_TMP/fetchmail.mbox"
	EOF
	chmod 600 "$TEST_TMP/fetchmailrc"
	run fetchmail -f "$TEST_TMP/fetchmailrc" -i "$TEST_TMP/fetchids" \
		--pidfile "$TEST_TMP/fetchmail.pid" --nosyslog
	assert_success
	[ "$(grep -c "^$U@127.0.0.1 " "$TEST_TMP/fetchids")" -eq 3 ]
	more_mail
	popfetch_rc
	run "$POPFETCH" -C "$RC" --import-uids fetchmail "$TEST_TMP/fetchids"
	assert_success
	assert_output --partial "3 UIDs imported"
	fetches_only_the_new
}

@test "getmail6's oldmail file: after --import-uids getmail, only the new messages are fetched" {
	mkdir -p "$TEST_TMP/gm"
	# MDA_external: getmail refuses to write a Maildir as root.
	cat >"$TEST_TMP/gm/getmailrc" <<-EOF
	[retriever]
	type = SimplePOP3Retriever
	server = 127.0.0.1
	port = $DOVECOT_POP3_PORT
	username = $U
	password = $PW
	[destination]
	type = MDA_external
	path = /bin/sh
	arguments = ("-c", "cat >> $TEST_TMP/getmail.mbox")
	allow_root_commands = true
	[options]
	delete = false
	read_all = false
	EOF
	run getmail --getmaildir "$TEST_TMP/gm" -r getmailrc
	assert_success
	local old=$TEST_TMP/gm/oldmail-127.0.0.1-$DOVECOT_POP3_PORT-$U
	[ "$(wc -l <"$old")" -eq 3 ]
	more_mail
	popfetch_rc
	run "$POPFETCH" -C "$RC" --import-uids getmail "$old"
	assert_success
	assert_output --partial "3 UIDs imported"
	fetches_only_the_new
}

@test "delete mode after an import: the old tool's messages are deleted unfetched, the new ones fetched" {
	server_uids | sed "s/^/$U@127.0.0.1 /" >"$TEST_TMP/fetchids"
	[ "$(wc -l <"$TEST_TMP/fetchids")" -eq 3 ]
	more_mail
	popfetch_rc
	sed -i 's/^keep on$/keep off/' "$RC"
	run "$POPFETCH" -C "$RC" --import-uids fetchmail "$TEST_TMP/fetchids"
	assert_success
	run "$POPFETCH" -C "$RC" "$U"
	assert_success
	assert_output --partial "2 messages fetched"
	assert_maildir_matches "$TEST_TMP/new" "$MD"
	[ "$(dovecot_count "$U")" -eq 0 ]
}

@test "--import-uids: only the accounts with the file's user and host; a named account takes a single list" {
	printf ' 2 pop.example.org someone\nA1\nA2\n' >"$TEST_TMP/uidls"
	popfetch_rc
	run "$POPFETCH" -C "$RC" --import-uids mpop "$TEST_TMP/uidls"
	assert_failure 67
	assert_output --partial "no mailbox in it belongs to any account"
	assert_output --partial "--import-uids mpop $TEST_TMP/uidls ACCOUNT"
	run "$POPFETCH" -C "$RC" --import-uids mpop "$TEST_TMP/uidls" "$U"
	assert_success
	assert_output --partial "2 UIDs imported"
}

@test "--import-uids: bad files and bad use are clear errors" {
	popfetch_rc
	run "$POPFETCH" -C "$RC" --import-uids mpop "$TEST_TMP/missing"
	assert_failure 66
	assert_output --partial "$TEST_TMP/missing: No such file or directory"
	run "$POPFETCH" -C "$RC" --import-uids imap "$TEST_TMP/x"
	assert_failure 64
	assert_output --partial "use mpop, fetchmail or getmail"
	run "$POPFETCH" -C "$RC" --import-uids mpop
	assert_failure 64
	run "$POPFETCH" -C "$RC" --import-uids mpop "$TEST_TMP/x" nosuchaccount
	assert_failure
	# A list shorter than its count (a cut-off file), a line of garbage.
	printf ' 3 127.0.0.1 %s\nA1\n' "$U" >"$TEST_TMP/short"
	run "$POPFETCH" -C "$RC" --import-uids mpop "$TEST_TMP/short"
	assert_failure 65
	assert_output --partial "shorter than its count"
	printf 'garbage\n' >"$TEST_TMP/garbage"
	run "$POPFETCH" -C "$RC" --import-uids fetchmail "$TEST_TMP/garbage"
	assert_failure 65
	assert_output --partial "$TEST_TMP/garbage:1: not a fetchmail .fetchids line"
	# UIDs no server could send: too long, a control character.
	printf '%s@127.0.0.1 %s\n' "$U" "$(printf 'x%.0s' {1..71})" >"$TEST_TMP/long"
	run "$POPFETCH" -C "$RC" --import-uids fetchmail "$TEST_TMP/long"
	assert_failure 65
	assert_output --partial "not a POP3 UID"
	printf ' 1 127.0.0.1 %s\nab\001c\n' "$U" >"$TEST_TMP/ctl"
	run "$POPFETCH" -C "$RC" --import-uids mpop "$TEST_TMP/ctl"
	assert_failure 65
	printf 'uid-without-nul\n' >"$TEST_TMP/oldmail-127.0.0.1-$DOVECOT_POP3_PORT-$U"
	run "$POPFETCH" -C "$RC" --import-uids getmail "$TEST_TMP/oldmail-127.0.0.1-$DOVECOT_POP3_PORT-$U"
	assert_failure 65
	run "$POPFETCH" -C "$RC" --import-uids getmail "$TEST_TMP/garbage"
	assert_failure 65
	assert_output --partial "oldmail-HOST-PORT-USER"
	# Nothing was recorded by any of them.
	run "$POPFETCH" -C "$RC" "$U"
	assert_success
	assert_output --partial "3 messages fetched"
}

@test "--import-uids: a FIFO, /dev/zero and a 200 MB line are refused at once" {
	popfetch_rc
	mkfifo "$TEST_TMP/fifo"
	local start=$SECONDS
	run timeout 20 "$POPFETCH" -C "$RC" --import-uids fetchmail "$TEST_TMP/fifo"
	assert_failure 66
	assert_output "popfetch: $TEST_TMP/fifo: not a regular file"
	run timeout 20 "$POPFETCH" -C "$RC" --import-uids mpop /dev/zero
	assert_failure 66
	assert_output "popfetch: /dev/zero: not a regular file"
	# One line of 200 MB (sparse: no disk): refused after 4 KiB of it.
	truncate -s 200M "$TEST_TMP/oldmail-127.0.0.1-$DOVECOT_POP3_PORT-$U"
	run timeout 20 "$POPFETCH" -C "$RC" --import-uids getmail "$TEST_TMP/oldmail-127.0.0.1-$DOVECOT_POP3_PORT-$U"
	assert_failure 65
	assert_output "popfetch: $TEST_TMP/oldmail-127.0.0.1-$DOVECOT_POP3_PORT-$U:1: line too long for a UID state file (over 4096 bytes)"
	# At once: a FIFO that blocked open() would have run into timeout.
	((SECONDS - start < 60))
}

@test "--import-uids: over 64 MiB, 2 million UIDs or 100,000 mailboxes: refused with the limit" {
	popfetch_rc
	# Lines of a plausible length all the way: only the total tells.
	"$PYTHON3" - "$TEST_TMP/big" "$TEST_TMP/uids" "$TEST_TMP/boxes" "$U" <<-'PY'
	import sys
	with open(sys.argv[1], "w") as f:
	    f.write(" 1000000 127.0.0.1 %s\n" % sys.argv[4])
	    for i in range(1000000):
	        f.write("%070d\n" % i)
	with open(sys.argv[2], "w") as f:
	    f.write(" 3000000 127.0.0.1 %s\n" % sys.argv[4])
	    f.write("X\n" * 2000001)
	with open(sys.argv[3], "w") as f:
	    for i in range(100001):
	        f.write("u%d@h x\n" % i)
	PY
	local start=$SECONDS
	run timeout 60 "$POPFETCH" -C "$RC" --import-uids mpop "$TEST_TMP/big"
	assert_failure 65
	assert_output "popfetch: $TEST_TMP/big: larger than 64 MiB: more UIDs than popfetch's state file holds"
	run timeout 60 "$POPFETCH" -C "$RC" --import-uids mpop "$TEST_TMP/uids"
	assert_failure 65
	assert_output "popfetch: $TEST_TMP/uids:2000002: more than 2000000 UIDs: more than popfetch imports at once"
	run timeout 60 "$POPFETCH" -C "$RC" --import-uids fetchmail "$TEST_TMP/boxes"
	assert_failure 65
	assert_output "popfetch: $TEST_TMP/boxes:100001: more than 100000 mailboxes: more than popfetch imports at once"
	rm -f "$TEST_TMP/big" "$TEST_TMP/uids" "$TEST_TMP/boxes"
	((SECONDS - start < 60))
}

@test "--import-uids fetchmail: 100,000 mailboxes and 200,000 UIDs in linear time" {
	popfetch_rc
	"$PYTHON3" - "$TEST_TMP/many" "$TEST_TMP/one" "$U" <<-'PY'
	import sys
	with open(sys.argv[1], "w") as f:
	    for i in range(99999):
	        f.write("u%d@pop%d.example.com uid-%d\n" % (i, i, i))
	    f.write("%s@127.0.0.1 uid-x\n" % sys.argv[3])
	with open(sys.argv[2], "w") as f:
	    for i in range(200000):
	        f.write("%s@127.0.0.1 uid-%d\n" % (sys.argv[3], i))
	PY
	# A scan of every mailbox per line before: 4.6 s of CPU for 40,000
	# mailboxes, some 30 s for these; a fraction of a second now.  Judged
	# by CPU time, which a loaded machine does not stretch.
	run timeout 300 /usr/bin/time -f '%U %S' -o "$TEST_TMP/cpu1" \
	    "$POPFETCH" -C "$RC" --import-uids fetchmail "$TEST_TMP/many"
	assert_success
	assert_output "$U: 1 UID imported from $TEST_TMP/many (0 known already)"
	run timeout 300 /usr/bin/time -f '%U %S' -o "$TEST_TMP/cpu2" \
	    "$POPFETCH" -C "$RC" --import-uids fetchmail "$TEST_TMP/one"
	assert_success
	assert_output "$U: 200000 UIDs imported from $TEST_TMP/one (0 known already)"
	cat "$TEST_TMP/cpu1" "$TEST_TMP/cpu2" |
	    awk '{ t += $1 + $2 } END { print "# CPU: " t " s" >"/dev/stderr"; exit !(t < 8) }'
}

@test "--import-uids: UIDs that would make the state larger than popfetch reads back are refused before writing" {
	popfetch_rc "uidls_file $TEST_TMP/state"
	# A state file 100 KB short of the limit (a comment line, sparse).
	printf '# popfetch uid state v1\n# ' >"$TEST_TMP/state"
	truncate -s $((256 * 1024 * 1024 - 100000 - 1)) "$TEST_TMP/state"
	printf '\n' >>"$TEST_TMP/state"
	cp --sparse=always "$TEST_TMP/state" "$TEST_TMP/state.before"
	# 2,000 UIDs of 70 characters: about 160 KB of records.
	"$PYTHON3" - "$TEST_TMP/ids" "$U" <<-'PY'
	import sys
	with open(sys.argv[1], "w") as f:
	    f.write(" 2000 127.0.0.1 %s\n" % sys.argv[2])
	    for i in range(2000):
	        f.write("%070d\n" % i)
	PY
	run "$POPFETCH" -C "$RC" --import-uids mpop "$TEST_TMP/ids"
	assert_failure 65
	assert_output "$U: 2000 UIDs would make the UID state $TEST_TMP/state larger than the 256 MiB popfetch reads back; nothing was written"
	cmp "$TEST_TMP/state.before" "$TEST_TMP/state"
	# What fits still goes in, and the state still loads.
	head -n 101 "$TEST_TMP/ids" | sed '1s/2000/100/' >"$TEST_TMP/ids100"
	run "$POPFETCH" -C "$RC" --import-uids mpop "$TEST_TMP/ids100"
	assert_success
	assert_output "$U: 100 UIDs imported from $TEST_TMP/ids100 (0 known already)"
	run "$POPFETCH" -C "$RC" "$U"
	assert_success
	assert_output --partial "3 messages fetched"
	# A state over the limit says which limit.
	truncate -s $((256 * 1024 * 1024 + 1)) "$TEST_TMP/state"
	run "$POPFETCH" -C "$RC" "$U"
	assert_failure 65
	assert_output --partial "UID state $TEST_TMP/state is larger than 256 MiB"
}
