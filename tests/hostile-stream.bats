#!/usr/bin/env bats
# hostile-stream.bats -- what arrives decides, not what the server promised:
# a message whose end is followed by garbage is not delivered, recorded or
# deleted (maildir and mbox); a message that grows past skipsize while read
# is abandoned and left on the server; a FIFO as a state file is refused at
# once.  Transcripts are played by tests/popserver.py --script.

load lib/common
load lib/popserver

setup() {
	MBOX=$TEST_TMP/mbox
	UIDLS=$TEST_TMP/uidls
}

teardown() {
	popserver_stop || true
}

# rc DELIVERY [extra lines] -- a plain-TCP account with USER/PASS.
rc() {
	popserver_rc "timeout 30" "auth user" "received_header off" \
	    "uidls_file $UIDLS" "$@"
}

# Login, then LIST and UIDL of two messages (no PIPELINING: one command in
# flight, so the client must not read past a reply before asking again).
script_two() {
	{
		script_login
		cat <<-'EOS'
		C: LIST
		S: +OK
		S: 1 60
		S: 2 60
		S: .
		C: UIDL
		S: +OK
		S: 1 uid-one
		S: 2 uid-two
		S: .
		C: RETR 1
		S: +OK 60 octets
		S: Subject: one
		S:
		S: body one
		S: .
		S-RAW: * garbage where a status line belongs\r\n
		C: RETR 2
		S: +OK 60 octets
		S: Subject: two
		S:
		S: body two
		S: .
		C: QUIT
		S: +OK bye
		EOS
	} >"$SCRIPT"
}

# script_grows CHAR -- login, then one message listed as 100 bytes that
# arrives as 2 KiB of lines of CHAR.
script_grows() {
	local big
	printf -v big '%100s' ''
	big=${big// /${1:?script_grows CHAR}}
	{
		script_login
		cat <<-'EOS'
		C: LIST
		S: +OK
		S: 1 100
		S: .
		C: UIDL
		S: +OK
		S: 1 uid-one
		S: .
		C: RETR 1
		S: +OK 100 octets
		S: Subject: liar
		S:
		EOS
		# 2 KiB: past the limit, under four times it (then the
		# connection would be dropped: hardening.bats).
		for i in $(seq 1 20); do echo "S: $big"; done
		cat <<-'EOS'
		S: .
		C: QUIT
		S: +OK bye
		EOS
	} >"$SCRIPT"
}

fetch_quickly() {
	run timeout 20 "$POPFETCH" -C "$RC"
}

@test "garbage after a message's terminator: the message is not delivered, recorded or deleted (maildir)" {
	script_two
	popserver_start --script "$SCRIPT" --log "$SLOG"
	rc "delivery maildir $MD" "keep off"
	fetch_quickly
	[ "$status" -eq 76 ]
	[[ "$output" == *"message 1"*"not delivered"* ]]
	[ "$(maildir_count "$MD")" -eq 0 ]
	[ -z "$(ls -A "$MD/tmp")" ]
	! grep -qsE '^[0-9]+ uid-one$' "$UIDLS" || false
	! grep -q "C: DELE" "$SLOG" || false
}

@test "garbage after a message's terminator: nothing of it stays in the mbox" {
	script_two
	popserver_start --script "$SCRIPT" --log "$SLOG"
	rc "delivery mbox $MBOX" "keep off"
	fetch_quickly
	[ "$status" -eq 76 ]
	[ ! -s "$MBOX" ]
	! grep -qsE '^[0-9]+ uid-one$' "$UIDLS" || false
	! grep -q "C: DELE" "$SLOG" || false
}

@test "a message that grows past skipsize while read is abandoned and left on the server" {
	script_grows x
	popserver_start --script "$SCRIPT" --log "$SLOG"
	rc "delivery maildir $MD" "keep off" "skipsize 1k"
	fetch_quickly
	[ "$status" -eq 0 ]
	[[ "$output" == *"listed as 100 bytes but"*"over skipsize; not delivered, it stays on the server"* ]]
	[ "$(maildir_count "$MD")" -eq 0 ]
	[ -z "$(ls -A "$MD/tmp")" ]
	! grep -qsE '^[0-9]+ uid-one$' "$UIDLS" || false
	! grep -q "C: DELE" "$SLOG" || false
	grep -q "C: QUIT" "$SLOG"
}

@test "killsize exceeded only while reading: left on the server, never deleted unseen" {
	script_grows y
	popserver_start --script "$SCRIPT" --log "$SLOG"
	rc "delivery maildir $MD" "keep off" "killsize 1k"
	fetch_quickly
	[ "$status" -eq 0 ]
	[[ "$output" == *"listed as 100 bytes but"*"over killsize; not delivered, it stays on the server"* ]]
	[ "$(maildir_count "$MD")" -eq 0 ]
	! grep -q "C: DELE" "$SLOG" || false
}

@test "a FIFO as uidls_file (or its lock file) is refused at once with 65, before connecting" {
	script_two
	popserver_start --script "$SCRIPT" --log "$SLOG"
	rc "delivery maildir $MD"
	mkfifo "$UIDLS"
	run timeout 10 "$POPFETCH" -C "$RC"
	[ "$status" -eq 65 ]
	[[ "$output" == *"not a regular file"* ]]
	rm -f "$UIDLS" "$UIDLS.lock"
	mkfifo "$UIDLS.lock"
	run timeout 10 "$POPFETCH" -C "$RC"
	[ "$status" -eq 65 ]
	[[ "$output" == *"not a regular file"* ]]
	! grep -q "C: USER" "$SLOG" || false
}

@test "a listing of 1,000,000 messages is taken whole: all but the new one are known (correctness, not speed)" {
	# One S-RAW step per listing; the UID state records every UID but the
	# last, so -s must match 999,999 of them through the compact store.
	python3 - "$SCRIPT" "$UIDLS" <<-'PY'
	import sys
	n = 1000000
	uid = lambda i: "%08x.%08x" % (0x5f000000 + i, i * 2654435761 % (1 << 32))
	with open(sys.argv[1], "w") as f:
	    f.write("S: +OK ready\nC: CAPA\nS: +OK\nS: USER\nS: UIDL\nS: .\n"
	            "C: USER test\nS: +OK\nC: PASS secret\nS: +OK\n"
	            "C: CAPA\nS: +OK\nS: USER\nS: UIDL\nS: .\nC: LIST\n")
	    f.write("S-RAW: +OK\\r\\n" + "".join("%d 120\\r\\n" % i
	            for i in range(1, n + 1)) + ".\\r\\n\nC: UIDL\n")
	    f.write("S-RAW: +OK\\r\\n" + "".join("%d %s\\r\\n" % (i, uid(i))
	            for i in range(1, n + 1)) + ".\\r\\n\n")
	    f.write("C: QUIT\nS: +OK bye\n")
	with open(sys.argv[2], "w") as f:
	    f.write("".join("1700000000 %s\n" % uid(i) for i in range(1, n)))
	PY
	popserver_start --script "$SCRIPT" --log "$SLOG"
	rc "delivery maildir $MD" "keep on"
	run timeout 300 "$POPFETCH" -C "$RC" -s
	assert_success
	[[ "$output" == *"1000000 messages"*"on the server, 1 new"* ]]
}
