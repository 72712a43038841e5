# tests/lib/cyrus.bash -- a private Cyrus IMAP 3.6 POP3 server (pop3d under
# Cyrus' own `master`) for one bats file.
#
# Load after lib/common, lib/certs and lib/servers. Typical use:
#
#   setup_file()    { servers_need ...; cyrus_start; }
#   teardown_file() { cyrus_stop; }
#   setup()         { cyrus_add_user alice secret; cyrus_deliver alice f...; }
#
#   cyrus_start      writes imapd.conf and cyrus.conf into a private mktemp
#                    dir, starts master in the foreground; waits (<= 60 s)
#                    until pop3, pop3s and lmtpd's socket are there.
#                    Before it, a test may set CYRUS_MECHS (sasl_mech_list,
#                    default: every mechanism Cyrus SASL offers with sasldb:
#                    PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1 SCRAM-SHA-256 and their
#                    -PLUS forms) and CYRUS_EXTRA_CONF (lines for imapd.conf).
#                    Exports CYRUS_POP3_PORT (STLS), CYRUS_POP3S_PORT
#                    (implicit TLS), CYRUS_CA, CYRUS_DIR, CYRUS_MASTER_PID.
#                    With CYRUS_IMAP=yes also imapd (package cyrus-imapd),
#                    on CYRUS_IMAP_PORT (plain, STARTTLS offered): a
#                    destination for delivery imap.
#   cyrus_stop       stops master and its children, removes CYRUS_DIR; safe
#                    twice or without a start.
#   cyrus_add_user NAME PASSWORD   a SASL user in the private sasldb
#   cyrus_deliver USER FILE...     delivers with Cyrus' `deliver` (LMTP to
#                    lmtpd), so the INBOX holds what Cyrus makes of the
#                    message: CRLF line ends, Return-Path, Received and
#                    other headers of its own
#   cyrus_count USER               messages on the server (POP3 STAT)
#   cyrus_dump USER DIR            the messages as Cyrus serves them (RETR)
#
# Configuration notes (what differs from an installed cyrus-pop3d):
#   - cmd= paths are absolute: the binaries are not in their compiled-in
#     /usr/lib/cyrus/bin but under SERVERS_ROOT, their libraries found
#     through LD_LIBRARY_PATH (master passes its environment on).
#   - cyrus_user is nobody as root (the Debian package creates "cyrus";
#     an unpacked one has no user), the current user otherwise.
#   - allowplaintext: yes, so the tests can also use `tls off` on loopback.
#   - autocreate_post/autocreate_quota create a user's INBOX on first
#     delivery (no cyradm needed).
#   - Cyrus logs to syslog only; on a machine without one its log is lost.

CYRUS_BIN=$SERVERS_ROOT/usr/lib/cyrus/bin
CYRUS_LIBS=$SERVERS_ROOT/usr/lib/x86_64-linux-gnu
: "${CYRUS_MECHS:=PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1 SCRAM-SHA-256 SCRAM-SHA-1-PLUS SCRAM-SHA-256-PLUS}"

_cyrus_env() {
	env LD_LIBRARY_PATH="$CYRUS_LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$@"
}

_cyrus_write_conf() {
	local owner user group imap=
	[[ -z ${CYRUS_IMAP_PORT:-} ]] || imap="	imap cmd=\"$CYRUS_BIN/imapd -C $CYRUS_DIR/imapd.conf\" listen=\"127.0.0.1:$CYRUS_IMAP_PORT\" prefork=0 maxchild=20"
	owner=$(servers_mail_owner)
	user=${owner% *}
	group=${owner#* }
	cat >"$CYRUS_DIR/imapd.conf" <<CONF
# Private test instance; written by tests/lib/cyrus.bash.
configdirectory: $CYRUS_DIR/conf
defaultpartition: default
partition-default: $CYRUS_DIR/spool
cyrus_user: $user
cyrus_group: $group
syslog_prefix: popfetch-test
sasl_pwcheck_method: auxprop
sasl_auxprop_plugin: sasldb
sasl_sasldb_path: $CYRUS_DIR/sasldb2
sasl_mech_list: $CYRUS_MECHS
allowplaintext: yes
allowapop: yes
autocreate_post: 1
autocreate_quota: 0
lmtpsocket: $CYRUS_DIR/socket/lmtp
idlesocket: $CYRUS_DIR/socket/idle
notifysocket: $CYRUS_DIR/socket/notify
tls_server_cert: $CYRUS_DIR/server.pem
tls_server_key: $CYRUS_DIR/server-key.pem
${CYRUS_EXTRA_CONF:-}
CONF
	cat >"$CYRUS_DIR/cyrus.conf" <<CONF
START {
	recover cmd="$CYRUS_BIN/ctl_cyrusdb -C $CYRUS_DIR/imapd.conf -r"
}
SERVICES {
	pop3 cmd="$CYRUS_BIN/pop3d -C $CYRUS_DIR/imapd.conf" listen="127.0.0.1:$CYRUS_POP3_PORT" prefork=0 maxchild=20
	pop3s cmd="$CYRUS_BIN/pop3d -s -C $CYRUS_DIR/imapd.conf" listen="127.0.0.1:$CYRUS_POP3S_PORT" prefork=0 maxchild=20
	lmtpunix cmd="$CYRUS_BIN/lmtpd -C $CYRUS_DIR/imapd.conf" listen="$CYRUS_DIR/socket/lmtp" prefork=0 maxchild=4
$imap
}
EVENTS {
}
CONF
	chown -R "$user:$group" "$CYRUS_DIR"
}

cyrus_start() {
	if [[ -n ${CYRUS_MASTER_PID:-} ]]; then
		echo "cyrus_start: already running (pid $CYRUS_MASTER_PID)" >&2
		return 1
	fi
	CYRUS_DIR=$(mktemp -d /tmp/pfcy.XXXXXX) || return 1
	chmod 0755 "$CYRUS_DIR"
	mkdir -p "$CYRUS_DIR/conf" "$CYRUS_DIR/spool" "$CYRUS_DIR/socket" || return 1
	export CYRUS_DIR
	local certs=${CYRUS_CERTS:-${BATS_RUN_TMPDIR:-$CYRUS_DIR}/certs}
	make_test_ca "$certs" || return 1
	cp "$certs/server.pem" "$certs/server-key.pem" "$CYRUS_DIR/" || return 1
	CYRUS_CA=$certs/ca.pem
	export CYRUS_CA

	local ports deadline ok port
	for _ in 1 2 3; do
		ports=$(servers_free_ports 3) || return 1
		read -r CYRUS_POP3_PORT CYRUS_POP3S_PORT CYRUS_IMAP_PORT <<<"$ports"
		[[ ${CYRUS_IMAP:-} == yes ]] || CYRUS_IMAP_PORT=
		export CYRUS_POP3_PORT CYRUS_POP3S_PORT CYRUS_IMAP_PORT
		_cyrus_write_conf || return 1
		# -D: stay in the foreground, so that $! is master's pid; fds 3
		# and 4 belong to bats and must not be inherited.
		# Not through _cyrus_env: its subshell would be $!, not master.
		# setsid: master's shutdown sends SIGTERM to its own process
		# group (kill(0, ...)), which must not be the tests' one.
		setsid env LD_LIBRARY_PATH="$CYRUS_LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
			"$CYRUS_BIN/master" -C "$CYRUS_DIR/imapd.conf" \
			-M "$CYRUS_DIR/cyrus.conf" -p "$CYRUS_DIR/master.pid" -D \
			</dev/null >>"$CYRUS_DIR/master.log" 2>&1 3>&- 4>&- &
		CYRUS_MASTER_PID=$!
		export CYRUS_MASTER_PID
		deadline=$((SECONDS + 60))
		while ((SECONDS <= deadline)) && servers_alive "$CYRUS_MASTER_PID"; do
			ok=1
			for port in "$CYRUS_POP3_PORT" "$CYRUS_POP3S_PORT" \
			    ${CYRUS_IMAP_PORT:+"$CYRUS_IMAP_PORT"}; do
				servers_listening "$CYRUS_MASTER_PID" "$port" || ok=
			done
			[[ -S $CYRUS_DIR/socket/lmtp ]] || ok=
			[[ -n $ok ]] && return 0
			sleep 0.05
		done
		if servers_alive "$CYRUS_MASTER_PID"; then
			echo "cyrus_start: not listening after 60 s" >&2
			cyrus_stop
			return 1
		fi
		wait "$CYRUS_MASTER_PID" 2>/dev/null || true
		CYRUS_MASTER_PID=
		grep -q -i "address already in use" "$CYRUS_DIR/master.log" || break
	done
	echo "cyrus_start: master failed to start:" >&2
	cat "$CYRUS_DIR/master.log" >&2
	return 1
}

cyrus_stop() {
	if [[ -n ${CYRUS_MASTER_PID:-} ]]; then
		servers_stop "$CYRUS_MASTER_PID" "$CYRUS_BIN/*"
	fi
	CYRUS_MASTER_PID=
	if [[ -n ${CYRUS_DIR:-} && -d $CYRUS_DIR ]]; then
		rm -rf "$CYRUS_DIR"
	fi
	CYRUS_DIR=
}

cyrus_add_user() {
	local name=${1:?cyrus_add_user NAME PASSWORD} pass=${2?cyrus_add_user NAME PASSWORD}
	local owner
	owner=$(servers_mail_owner)
	printf '%s' "$pass" | saslpasswd2 -p -f "$CYRUS_DIR/sasldb2" -c "$name" ||
		return 1
	chown "${owner% *}:${owner#* }" "$CYRUS_DIR/sasldb2"
	chmod 0600 "$CYRUS_DIR/sasldb2"
	printf '%s\n' "$pass" >"$CYRUS_DIR/pw.$name"
}

cyrus_deliver() {
	local user=${1:?cyrus_deliver USER FILE...} f
	shift
	for f in "$@"; do
		_cyrus_env "$CYRUS_BIN/deliver" -C "$CYRUS_DIR/imapd.conf" \
			"$user" <"$f" || {
			echo "cyrus_deliver: deliver failed for $f" >&2
			return 1
		}
	done
}

cyrus_count() {
	local u=${1:?cyrus_count USER}
	pop3_count 127.0.0.1 "$CYRUS_POP3_PORT" "$u" "$(cat "$CYRUS_DIR/pw.$u")"
}

cyrus_dump() {
	local u=${1:?cyrus_dump USER DIR}
	pop3_dump 127.0.0.1 "$CYRUS_POP3_PORT" "$u" "$(cat "$CYRUS_DIR/pw.$u")" \
		"${2:?cyrus_dump USER DIR}"
}
