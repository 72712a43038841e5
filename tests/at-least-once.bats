#!/usr/bin/env bats
# at-least-once.bats -- at least once and never lost, with `delivery lmtp`
# into a real Dovecot LMTP and `delivery smtp` into a real Postfix, both
# started here: the kill -9 loop of tests/lib/faults.bash (as
# exactly-once-imap.bats) in its at-least-once mode.  LMTP and SMTP cannot
# be asked afterwards what arrived (docs/exactly-once.md), so a kill may
# leave messages the server accepted and popfetch never recorded: the next
# run delivers them again.  Those are the only duplicates allowed: at most
# the transactions in flight at once (8, sink-smtp.c's SMTP_INFLIGHT) per
# kill.  Every message must arrive byte for byte after the trace fields
# the server adds, none may be lost, and in delete mode the POP3 server
# must be empty at the end.

BATS_TEST_TIMEOUT=240
load lib/common
load lib/certs
load lib/dovecot
load lib/popserver
load lib/delivered
load lib/postfix
load lib/faults

setup_file() {
	make_test_ca "$BATS_RUN_TMPDIR/certs"
	DOVECOT_LMTP=yes
	dovecot_start
	export DOVECOT_POP3_PORT DOVECOT_POP3S_PORT DOVECOT_LMTP_PORT \
	    DOVECOT_LMTP_SOCKET DOVECOT_CA DOVECOT_DIR DOVECOT_HOME \
	    DOVECOT_CONF DOVECOT_LOG DOVECOT_MASTER_PID
	# Postfix's master needs root; the SMTP tests skip without it.
	if [[ $(id -u) -eq 0 ]]; then
		POSTFIX_USERS="bob carol"
		postfix_start
		export POSTFIX_PORT POSTFIX_DIR POSTFIX_CA POSTFIX_PID
	fi
}

teardown_file() {
	postfix_stop
	dovecot_stop
}

# A kill leaves at most the transactions in flight accepted and not
# recorded.
K9_DUPS_PER_KILL=8

teardown() {
	faults_teardown
}

# lmtp_dest: into Dovecot user $DSTU over LMTP/TCP.
lmtp_dest() {
	DSTU=dst$BATS_TEST_NUMBER
	dovecot_add_user "$DSTU" "pw-$DSTU"
	DELIVERY="delivery lmtp 127.0.0.1:$DOVECOT_LMTP_PORT $DSTU"
	DEST_EXTRA=()
	DEST_MAILDIR=$(dovecot_maildir "$DSTU")
	POSTFIX_QUEUE=
}

# smtp_dest USER: into Postfix's USER@popfetch.test over STARTTLS.
smtp_dest() {
	[[ -n ${POSTFIX_PORT:-} ]] || skip "Postfix's master needs root"
	DELIVERY="delivery smtp 127.0.0.1:$POSTFIX_PORT $1@popfetch.test"
	DEST_EXTRA=("delivery_tls_trust_file $POSTFIX_CA")
	DEST_MAILDIR=$(postfix_maildir "$1")
	POSTFIX_QUEUE=$POSTFIX_DIR/queue
}

# rc DIR MODE -- the running test server into the destination, the state
# under DIR; MODE is keep or delete.
rc() {
	local dir=$1 keep=off
	[[ $2 == keep ]] && keep=on
	popserver_rc "timeout 30" "keep $keep" "$DELIVERY" "${DEST_EXTRA[@]}" \
	    "uidls_file $dir/state" "received_header off"
}

# queue_drained: Postfix delivers from its queue after its 250, so what
# it accepted is in the Maildir only once the queue is empty (<= 60 s).
queue_drained() {
	local deadline=$((SECONDS + 60)) n
	[[ -n $POSTFIX_QUEUE ]] || return 0
	while :; do
		n=$(find "$POSTFIX_QUEUE"/{maildrop,incoming,active,deferred,hold} \
		    -type f 2>/dev/null | wc -l)
		((n == 0)) && return 0
		if ((SECONDS > deadline)); then
			echo "Postfix's queue still holds $n messages after 60 s" >&2
			tail -n 20 "$POSTFIX_DIR/maillog" >&2
			return 1
		fi
		sleep 0.1
	done
}

delivered_ok() {
	local extra
	queue_drained || return 1
	extra=$(assert_delivered_at_least "$TEST_TMP/corpus" "$DEST_MAILDIR" \
	    "$2") || return 1
	echo "# at least once: every message there, $extra extra copies" \
	    "(at most $2 allowed: $K9_DUPS_PER_KILL per kill)" >&3
}

delivered_count() {
	queue_drained || return 1
	delivered_distinct "$TEST_TMP/corpus" "$DEST_MAILDIR"
}

# 300 messages (5 batches of 64): held at the listing, in the first RETR,
# in the 40th and the 150th; caught at 33 % and 60 %; then after the last
# delivery (delete: held at QUIT; keep: a run with nothing new held at
# its listing).
K9_PLAN="hold:UIDL hold:retr:1 hold:retr:40 hold:retr:150 retr:33% retr:60%"

@test "lmtp: kill -9 at 7 moments spread over a 300-message fetch into Dovecot (delete): at least once, never lost" {
	lmtp_dest
	kill9_loop delete 300 "$K9_PLAN quit" --retr-delay 2
}

@test "lmtp: kill -9 at 7 moments spread over a 300-message fetch into Dovecot (keep, pipelined): at least once, never lost" {
	lmtp_dest
	kill9_loop keep 300 "$K9_PLAN end hold:UIDL" --pipelining --retr-delay 2
}

@test "smtp: kill -9 at 7 moments spread over a 200-message fetch into Postfix (delete): at least once, never lost" {
	smtp_dest bob
	kill9_loop delete 200 "$K9_PLAN quit" --retr-delay 2
}

@test "smtp: kill -9 at 7 moments spread over a 200-message fetch into Postfix (keep, pipelined): at least once, never lost" {
	smtp_dest carol
	kill9_loop keep 200 "$K9_PLAN end hold:UIDL" --pipelining --retr-delay 2
}
