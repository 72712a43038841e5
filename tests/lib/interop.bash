# tests/lib/interop.bash -- the checks every real POP3 server gets
# (tests/cyrus.bats, tests/courier.bats, tests/solid-pop3d.bats), written
# once so that each server is held to the same standard.
#
# Load after lib/common. The .bats file provides, for the server it started:
#   srv_add_user USER PASSWORD     a mailbox that can log in
#   srv_deliver USER FILE...       puts messages into the mailbox, in order
#   srv_count USER                 prints how many messages the server holds
#   srv_dump USER DIR              writes the messages as the server serves
#                                  them (RETR) to DIR, one file each
# and sets SRV_PLAIN_PORT (plain POP3, STLS when offered), SRV_TLS_PORT
# (implicit TLS, empty if none) and SRV_CA (trust file for its certificate).
# For a server whose library names these NAME_add_user, NAME_deliver,
# NAME_count, NAME_dump, NAME_POP3_PORT, NAME_POP3S_PORT and NAME_CA
# (lib/cyrus.bash, lib/courier.bash), `interop_server NAME` in setup() does
# all of it.
#
# Each test gets its own user U (password PW) and files under TEST_TMP:
#   SRC  messages to deliver      MD   the Maildir popfetch delivers to
#   RC   the fetchrc              SERVED  what the server served (srv_dump)
#
# Every check of what arrived compares byte for byte with what the server
# serves (a server may rewrite a message on delivery: Cyrus adds headers
# and turns LF into CRLF), never with the file that was delivered to it.

# interop_server NAME -- SRV_* from the server lib/NAME.bash started, and
# srv_* calling its functions (see above). NAME: cyrus, courier.
interop_server() {
	local n=${1:?interop_server NAME} v
	INTEROP_SERVER=$n
	v=${n^^}_POP3_PORT
	SRV_PLAIN_PORT=${!v}
	v=${n^^}_POP3S_PORT
	SRV_TLS_PORT=${!v}
	v=${n^^}_CA
	SRV_CA=${!v}
}

# The srv_* of interop_server; a .bats file that defines its own (after
# loading this file) replaces them.
srv_add_user() { "${INTEROP_SERVER:?interop_server NAME first}_add_user" "$@"; }
srv_deliver()  { "${INTEROP_SERVER:?interop_server NAME first}_deliver" "$@"; }
srv_count()    { "${INTEROP_SERVER:?interop_server NAME first}_count" "$@"; }
srv_dump()     { "${INTEROP_SERVER:?interop_server NAME first}_dump" "$@"; }

interop_setup() {
	U=u$BATS_TEST_NUMBER
	PW="pw-$U-S3cret"
	SRC=$TEST_TMP/src
	SERVED=$TEST_TMP/served
	mkdir -p "$SRC"
	srv_add_user "$U" "$PW"
}

# interop_rc MODE [LINE...] -- MODE: implicit, starttls or plain. Only
# what a user must write (host, port, user, password, delivery and the test
# CA), plus LINEs; `received_header off` keeps the comparison byte-exact
# (fetch.bats tests the header). No timeout: the default is what users get.
interop_rc() {
	local mode=$1 l
	shift
	{
		echo "account default"
		echo "host 127.0.0.1"
		case $mode in
		implicit) echo "port $SRV_TLS_PORT" ;;
		starttls) echo "port $SRV_PLAIN_PORT"; echo "tls_starttls on" ;;
		plain)    echo "port $SRV_PLAIN_PORT"; echo "tls off" ;;
		esac
		echo "user $U"
		echo "password $PW"
		echo "delivery maildir $MD"
		[[ $mode == plain ]] || echo "tls_trust_file $SRV_CA"
		echo "received_header off"
		for l in "$@"; do echo "$l"; done
	} | write_fetchrc "$RC"
}

interop_fetch() {
	run "$POPFETCH" -C "$RC" "$@"
}

# interop_deliver N [SIZE] -- N new messages into SRC (named after the test
# so that a second batch differs), delivered to U.
_interop_batch=0
interop_deliver() {
	local n=$1 size=${2:-0} d
	_interop_batch=$((_interop_batch + 1))
	d=$TEST_TMP/batch$_interop_batch
	make_mailbox "$d" "$n" "$size"
	srv_deliver "$U" "$d"/*
}

# interop_snapshot -- what the server serves now goes to SERVED (added to
# what earlier snapshots saw: files are named by content).
interop_snapshot() {
	local tmp=$TEST_TMP/snap f
	rm -rf "$tmp"
	srv_dump "$U" "$tmp"
	mkdir -p "$SERVED"
	for f in "$tmp"/*; do
		[[ -f $f ]] || continue
		cp "$f" "$SERVED/$(sha256sum <"$f" | cut -c1-16)"
	done
}

# interop_mech MECH MODE -- `auth MECH` by name fetches 3 messages in delete
# mode, byte-exact; the server is left empty.
interop_mech() {
	local mech=$1 mode=$2
	interop_deliver 3
	interop_snapshot
	# A bounded timeout: a login that goes wrong must fail, not hang.
	interop_rc "$mode" "auth $mech" "timeout 20"
	interop_fetch
	assert_success
	assert_output --partial "3 messages fetched"
	assert_maildir_matches "$SERVED" "$MD"
	[ "$(srv_count "$U")" -eq 0 ]
}

# interop_wrong_password MECH MODE -- exit 77 within seconds, nothing
# delivered or deleted. timeout 30 so that a hang shows as >= 30 s.
interop_wrong_password() {
	local mech=$1 mode=$2 t0
	interop_deliver 2
	interop_rc "$mode" "auth $mech" "timeout 30"
	sed -i "s/^password .*/password wrong-$PW/" "$RC"
	t0=$SECONDS
	interop_fetch
	assert_failure 77
	assert_output --partial "authentication failed"
	if ((SECONDS - t0 > 10)); then
		fail "wrong password took $((SECONDS - t0)) s (must be quick)"
	fi
	[ "$(maildir_count "$MD")" -eq 0 ]
	[ "$(srv_count "$U")" -eq 2 ]
}

# interop_keep MODE -- keep mode: the second run fetches nothing, the third
# exactly the messages added since.
interop_keep() {
	interop_deliver 3
	interop_rc "$1" "keep on"
	interop_fetch
	assert_success
	assert_output --partial "3 messages fetched"
	interop_fetch
	assert_success
	assert_output --partial "no new messages"
	[ "$(maildir_count "$MD")" -eq 3 ]
	interop_deliver 2
	interop_fetch
	assert_success
	assert_output --partial "2 messages fetched"
	interop_snapshot
	assert_maildir_matches "$SERVED" "$MD"
	[ "$(srv_count "$U")" -eq 5 ]
}

# interop_mbox_unpack MBOX DIR -- each message of MBOX, read by Python's
# mailbox and un-quoted (>From), as a file in the Maildir DIR/new.
interop_mbox_unpack() {
	"$PYTHON3" - "${1:?interop_mbox_unpack MBOX DIR}" "${2:?interop_mbox_unpack MBOX DIR}" <<'PY'
import mailbox, os, re, sys
src, out = sys.argv[1], sys.argv[2]
os.makedirs(os.path.join(out, "new"), exist_ok=True)
os.makedirs(os.path.join(out, "tmp"), exist_ok=True)
mb = mailbox.mbox(src, create=False)
for i, key in enumerate(mb.keys()):
    data = mb.get_bytes(key, from_=False)
    data = re.sub(rb"(?m)^>(>*From )", rb"\1", data)
    with open(os.path.join(out, "new", "%05d" % i), "wb") as fp:
        fp.write(data)
PY
}

# interop_mbox MODE -- delivery to an mbox, read back by Python's mailbox.
interop_mbox() {
	interop_deliver 4
	interop_snapshot
	interop_rc "$1"
	sed -i "s|^delivery .*|delivery mbox $TEST_TMP/mbox|" "$RC"
	interop_fetch
	assert_success
	assert_output --partial "4 messages fetched"
	interop_mbox_unpack "$TEST_TMP/mbox" "$TEST_TMP/out"
	assert_maildir_matches "$SERVED" "$TEST_TMP/out"
	[ "$(srv_count "$U")" -eq 0 ]
}

# interop_big MODE MB -- one message of about MB megabytes, byte-exact.
interop_big() {
	"$PYTHON3" "$TESTS_SRCDIR/gen-corpus" big "$SRC/big" "$2"
	srv_deliver "$U" "$SRC/big"
	interop_snapshot
	interop_rc "$1"
	interop_fetch
	assert_success
	assert_output --partial "1 message fetched"
	assert_maildir_matches "$SERVED" "$MD"
}

# interop_status MODE -- -s counts, -l lists (subjects), neither fetches.
interop_status() {
	interop_deliver 3
	interop_rc "$1" "keep on"
	interop_fetch -s
	assert_success
	assert_output --partial "3"
	refute_output --partial "fetched"
	interop_fetch -l
	assert_success
	local s
	for s in "$TEST_TMP"/batch*/*; do
		assert_output --partial "$(sed -n 's/^Subject: //p' "$s" | head -1)"
	done
	[ "$(maildir_count "$MD")" -eq 0 ]
	[ "$(srv_count "$U")" -eq 3 ]
}

# interop_serverinfo MODE WORD... -- -S shows what the server offers: each
# WORD appears in the output; it does not log in.
interop_serverinfo() {
	local mode=$1 w
	shift
	interop_rc "$mode"
	interop_fetch -S
	assert_success
	for w in "$@"; do
		assert_output --partial "$w"
	done
}
