# tests/lib/courier.bash -- a private Courier POP3 server (couriertcpd +
# courierpop3login + courierpop3d, authdaemond with authuserdb) for one bats
# file.
#
# Load after lib/common, lib/certs and lib/servers.
#
#   courier_start    starts, in a private mount namespace (unshare -m),
#                    authdaemond and two couriertcpd: a plain port with STLS
#                    and an implicit-TLS port (couriertls -server -tcpd);
#                    waits (<= 10 s) until both listen. Needs root: Courier's
#                    authlib reads /etc/courier/authdaemonrc, the userdb and
#                    the socket /run/courier/authdaemon/socket at paths
#                    compiled in, so the namespace bind-mounts a private
#                    directory over /etc/courier and /run/courier; the
#                    machine's own are never touched.
#                    Exports COURIER_POP3_PORT, COURIER_POP3S_PORT, COURIER_CA,
#                    COURIER_DIR, COURIER_PID (the namespace's first process).
#   courier_stop     stops every process of the instance, removes COURIER_DIR
#   courier_add_user NAME PASSWORD  a userdb user (systempw and, unless
#                    COURIER_NO_HMAC=1, the hmac-md5/sha1/sha256 secrets
#                    for CRAM-*) with an empty Maildir under COURIER_DIR
#   courier_deliver USER FILE...    puts the files into USER's Maildir/new
#   courier_count USER / courier_dump USER DIR   as in lib/cyrus.bash

COURIER_LIBEXEC=$SERVERS_ROOT/usr/lib/courier/courier

_courier_running() {
	[[ -n ${COURIER_PID:-} ]] && servers_alive "$COURIER_PID"
}

# _courier_listening PORT -- something listens on 127.0.0.1:PORT (the
# couriertcpd are not children one can name beforehand; the port was free).
_courier_listening() {
	local hex
	hex=$(printf '%04X' "$1")
	awk -v port=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == port { f = 1 }
		END { exit !f }' /proc/net/tcp
}

_courier_write() {
	local d=$COURIER_DIR
	cat >"$d/etc/authdaemonrc" <<CONF
authmodulelist="authuserdb"
daemons=1
authdaemonvar=/run/courier/authdaemon
DEBUG_LOGIN=0
DEFAULTOPTIONS=""
LOGGEROPTS=""
CONF
	cat >"$d/start.sh" <<SH
# Runs in the private mount namespace (written by tests/lib/courier.bash).
mount --bind "$d/etc" /etc/courier || exit 1
mount --bind "$d/run" /run/courier || exit 1
makeuserdb || exit 1
/usr/lib/courier/courier-authlib/authdaemond >>"$d/authdaemond.log" 2>&1 &
export COURIERTLS=/usr/bin/couriertls TLS_CERTFILE="$d/pop3d.pem" \\
	TLS_DHPARAMS="$d/dhparams.pem" \\
	TLS_VERIFYPEER=NONE MAILDIRPATH=Maildir \\
	POP3AUTH="${COURIER_POP3AUTH:-PLAIN LOGIN CRAM-MD5 CRAM-SHA1 CRAM-SHA256}" \\
	POP3AUTH_TLS="${COURIER_POP3AUTH_TLS:-PLAIN LOGIN}" POP3_TLS_REQUIRED=0
POP3_STARTTLS=YES /usr/sbin/couriertcpd -address=127.0.0.1 -nodnslookup \\
	-noidentlookup -stderr="$d/pop3.log" $COURIER_POP3_PORT \\
	"$COURIER_LIBEXEC/courierpop3login" "$COURIER_LIBEXEC/courierpop3d" Maildir &
POP3_STARTTLS=NO /usr/sbin/couriertcpd -address=127.0.0.1 -nodnslookup \\
	-noidentlookup -stderr="$d/pop3s.log" $COURIER_POP3S_PORT \\
	/usr/bin/couriertls -server -tcpd \\
	"$COURIER_LIBEXEC/courierpop3login" "$COURIER_LIBEXEC/courierpop3d" Maildir &
wait
SH
}

courier_start() {
	if _courier_running; then
		echo "courier_start: already running (pid $COURIER_PID)" >&2
		return 1
	fi
	COURIER_DIR=$(mktemp -d /tmp/pfco.XXXXXX) || return 1
	chmod 0755 "$COURIER_DIR"
	mkdir -p "$COURIER_DIR/etc" "$COURIER_DIR/run/authdaemon" "$COURIER_DIR/home" ||
		return 1
	chown -R courier:courier "$COURIER_DIR/run" 2>/dev/null || true
	touch "$COURIER_DIR/etc/userdb" && chmod 0600 "$COURIER_DIR/etc/userdb"
	export COURIER_DIR
	local certs=${COURIER_CERTS:-${BATS_RUN_TMPDIR:-$COURIER_DIR}/certs}
	make_test_ca "$certs" || return 1
	cat "$certs/server-key.pem" "$certs/server.pem" >"$COURIER_DIR/pop3d.pem"
	# courierpop3login runs couriertls for STLS without root: the test key
	# (throw-away, in a private dir) must be readable to it.
	chmod 0644 "$COURIER_DIR/pop3d.pem"
	cp /etc/courier/dhparams.pem "$COURIER_DIR/dhparams.pem" 2>/dev/null ||
		certtool --generate-dh-params --sec-param medium \
			--outfile "$COURIER_DIR/dhparams.pem" >/dev/null 2>&1
	COURIER_CA=$certs/ca.pem
	export COURIER_CA

	local ports deadline
	ports=$(servers_free_ports 2) || return 1
	COURIER_POP3_PORT=${ports% *}
	COURIER_POP3S_PORT=${ports#* }
	export COURIER_POP3_PORT COURIER_POP3S_PORT
	_courier_write || return 1
	setsid unshare -m --propagation private bash "$COURIER_DIR/start.sh" \
		</dev/null >>"$COURIER_DIR/start.log" 2>&1 3>&- 4>&- &
	COURIER_PID=$!
	export COURIER_PID
	deadline=$((SECONDS + 10))
	while ((SECONDS <= deadline)) && _courier_running; do
		if _courier_listening "$COURIER_POP3_PORT" &&
			_courier_listening "$COURIER_POP3S_PORT" &&
			[[ -S $COURIER_DIR/run/authdaemon/socket ]]; then
			return 0
		fi
		sleep 0.05
	done
	echo "courier_start: not listening after 10 s:" >&2
	cat "$COURIER_DIR"/*.log >&2
	courier_stop
	return 1
}

courier_stop() {
	servers_stop_instance "${COURIER_PID:-}" "${COURIER_DIR:-}"
	COURIER_PID=
	COURIER_DIR=
}

courier_add_user() {
	local name=${1:?courier_add_user NAME PASSWORD} pass=${2?courier_add_user NAME PASSWORD}
	local owner uid gid md f line
	owner=$(servers_mail_owner)
	uid=$(id -u "${owner% *}") && gid=$(getent group "${owner#* }" | cut -d: -f3) ||
		return 1
	md=$COURIER_DIR/home/$name/Maildir
	mkdir -p "$md/new" "$md/cur" "$md/tmp" || return 1
	chown -R "$uid:$gid" "$COURIER_DIR/home/$name"
	line="$name	home=$COURIER_DIR/home/$name|uid=$uid|gid=$gid|mail=$md"
	line="$line|systempw=$(printf '%s\n%s\n' "$pass" "$pass" | userdbpw -md5)"
	# Without them (COURIER_NO_HMAC=1) the user is like one of authpam,
	# Debian's default: CRAM-* offered, but refused.
	if [[ -z ${COURIER_NO_HMAC:-} ]]; then
		for f in md5 sha1 sha256; do
			line="$line|hmac-${f}pw=$(printf '%s\n%s\n' "$pass" "$pass" | userdbpw -hmac-$f)"
		done
	fi
	printf '%s\n' "$line" >>"$COURIER_DIR/etc/userdb"
	printf '%s\n' "$pass" >"$COURIER_DIR/pw.$name"
	nsenter -t "$COURIER_PID" -m makeuserdb
}

courier_deliver() {
	local user=${1:?courier_deliver USER FILE...}
	shift
	servers_maildir_deliver "$COURIER_DIR/home/$user/Maildir" "$@"
}

courier_count() {
	local u=${1:?courier_count USER}
	pop3_count 127.0.0.1 "$COURIER_POP3_PORT" "$u" "$(cat "$COURIER_DIR/pw.$u")"
}

courier_dump() {
	local u=${1:?courier_dump USER DIR}
	pop3_dump 127.0.0.1 "$COURIER_POP3_PORT" "$u" "$(cat "$COURIER_DIR/pw.$u")" \
		"${2:?courier_dump USER DIR}"
}
