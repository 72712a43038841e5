# tests/lib/dovecot.bash -- a private Dovecot POP3 server for one test.
#
# Load after lib/common and lib/certs. Typical use:
#
#   setup()    { dovecot_start; dovecot_add_user alice secret; }
#   teardown() { dovecot_stop; }
#
#   dovecot_start      starts Dovecot from its own config (no system-wide
#                      config is read), listening on loopback only, on two
#                      free ports; waits (<= 60 s, a busy machine) until they listen.
#                      Before it, a test may set:
#                        DOVECOT_PLAINTEXT_AUTH=yes  allow USER/PASS and AUTH
#                                                    without TLS on the plain
#                                                    port (default: TLS needed,
#                                                    but see DOVECOT_LISTEN)
#                        DOVECOT_LISTEN              addresses to listen on,
#                                                    default "127.0.0.1"
#                        DOVECOT_AUTH_MECHANISMS     default "plain login"
#                                                    (passwords are stored in
#                                                    clear: apop cram-md5
#                                                    scram-sha-1 scram-sha-256
#                                                    work too)
#                        DOVECOT_CERTS               make_test_ca dir, made if
#                                                    needed (default
#                                                    $BATS_RUN_TMPDIR/certs)
#                        DOVECOT_CERT / DOVECOT_KEY  server certificate and key
#                                                    (default server.pem and
#                                                    server-key.pem there; e.g.
#                                                    expired.pem for a test of
#                                                    certificate checks)
#                        DOVECOT_EXTRA_CONF          lines appended to the config
#                        DOVECOT_LMTP=yes            also an LMTP service (a
#                                                    destination for delivery
#                                                    lmtp): on a loopback port
#                                                    and a unix socket
#                        DOVECOT_IMAP=yes            also IMAP and IMAPS
#                        DOVECOT_PASSDB              a passdb { } block in place
#                                                    of the passwd-file one
#                                                    (e.g. driver = oauth2)
#                      Exports:
#                        DOVECOT_POP3_PORT   plain POP3, offers STLS
#                        DOVECOT_POP3S_PORT  implicit TLS
#                        DOVECOT_LMTP_PORT, DOVECOT_LMTP_SOCKET  with LMTP
#                        DOVECOT_IMAP_PORT, DOVECOT_IMAPS_PORT   with IMAP
#                        DOVECOT_CA          CA file that verifies the server
#                        DOVECOT_DIR         all of this instance's files
#                        DOVECOT_HOME        users' homes: $DOVECOT_HOME/USER
#                        DOVECOT_CONF, DOVECOT_LOG, DOVECOT_MASTER_PID
#                      (exported: started in setup_file, they reach the tests)
#   dovecot_stop       stops the master and everything it started (<= 10 s),
#                      removes DOVECOT_DIR; prints the log if the test failed.
#                      Safe to call twice or without a start.
#   dovecot_add_user NAME PASSWORD   adds a user with an empty Maildir
#                      (works before or after start; no ':' in either)
#   dovecot_deliver USER FILE...     puts the files into USER's Maildir/new, in
#                      order: POP3 message 1 is the first FILE
#   dovecot_count USER prints the number of messages left on the server
#   dovecot_maildir USER prints the path of USER's Maildir
#   dovecot_log        prints the server log
#   dovecot_account MODE USER PASSWORD [LINE...]
#                      prints account "default" fetching USER's mail from
#                      this Dovecot: MODE implicit (POP3S), starttls or
#                      plain (tls off), the test CA, timeout 30; then each
#                      LINE (a later line wins over an earlier one)
#
# Dovecot 2.3 counts a connection whose remote IP equals its local IP as
# secure, so on 127.0.0.1 -> 127.0.0.1 it accepts passwords without TLS
# whatever DOVECOT_PLAINTEXT_AUTH says. A test that needs the server to refuse
# them sets DOVECOT_LISTEN="127.0.0.1 127.0.0.2" and connects to 127.0.0.2
# (Linux then uses 127.0.0.1 as the source address); server.pem does not name
# 127.0.0.2, so such a test trusts the certificate by fingerprint or does not
# verify it.
#
# Every function is safe under bats' errexit. Call dovecot_start directly,
# not through `run` (its exports would be lost in the subshell).
#
# As root, mail is owned by a non-root user (Dovecot refuses uid 0 for mail
# access): DOVECOT_MAIL_USER, default "nobody"; Dovecot's own processes run as
# "dovecot"/"dovenull" from the Debian package. As non-root, all of it runs as
# the current user. The instance lives in a short mktemp dir under /tmp
# (unix socket paths are limited to ~100 bytes, and the mail user must be able
# to reach the homes, which BATS_TEST_TMPDIR's 0700 parents do not allow).

DOVECOT_BIN=${DOVECOT_BIN:-/usr/sbin/dovecot}

# The process and port plumbing is lib/servers.bash's. Sourced by path, not
# with bats' load, as bench/run sources this file outside bats; a .bats file
# may load lib/servers too (loading it twice is harmless).
# shellcheck source=tests/lib/servers.bash
. "${BASH_SOURCE[0]%/*}/servers.bash"

# _dovecot_free_ports [N] -- prints N (default two) free loopback TCP ports.
_dovecot_free_ports() {
	servers_free_ports "${1:-2}"
}

# _dovecot_port_open PORT -- true when something accepts on 127.0.0.1:PORT.
_dovecot_port_open() {
	(exec 8<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# _dovecot_listening PID PORT -- true when process PID holds a socket that
# listens on loopback TCP PORT. Looks at the socket tables instead of
# connecting, so that Dovecot starts no login process that a quick stop would
# have to wait for, and a stranger on the port does not count.
_dovecot_listening() {
	[[ -r /proc/net/tcp && -d /proc/$1/fd ]] || { _dovecot_port_open "$2"; return; }
	servers_listening "$1" "$2"
}

_dovecot_write_conf() {
	local plain_auth=no
	[[ ${DOVECOT_PLAINTEXT_AUTH:-no} == yes ]] && plain_auth=yes
	local disable_plain=yes
	[[ $plain_auth == yes ]] && disable_plain=no
	local internal_user internal_group login_user chroot_line=
	if [[ $(id -u) -eq 0 ]]; then
		internal_user=dovecot
		internal_group=dovecot
		login_user=dovenull
	else
		internal_user=$(id -un)
		internal_group=$(id -gn)
		login_user=$internal_user
		# chroot needs root.
		chroot_line="chroot ="
	fi

	cat >"$DOVECOT_CONF" <<EOF
# Private test instance; written by tests/lib/dovecot.bash.
base_dir = $DOVECOT_DIR/run
state_dir = $DOVECOT_DIR/state
log_path = $DOVECOT_LOG
instance_name = popfetch-test-$$
protocols = pop3${DOVECOT_LMTP:+ lmtp}${DOVECOT_IMAP:+ imap}
listen = ${DOVECOT_LISTEN:-127.0.0.1}
shutdown_clients = yes

default_internal_user = $internal_user
default_internal_group = $internal_group
default_login_user = $login_user

ssl = yes
ssl_cert = <$DOVECOT_DIR/server.pem
ssl_key = <$DOVECOT_DIR/server-key.pem
disable_plaintext_auth = $disable_plain
auth_mechanisms = ${DOVECOT_AUTH_MECHANISMS:-plain login}
auth_failure_delay = 0
auth_cache_size = 0

${DOVECOT_PASSDB:-passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $DOVECOT_DIR/passwd.d/%u
\}}
userdb {
  driver = static
  args = uid=$_dovecot_mail_uid gid=$_dovecot_mail_gid home=$DOVECOT_HOME/%u
}
first_valid_uid = $_dovecot_mail_uid
last_valid_uid = 0
first_valid_gid = $_dovecot_mail_gid
last_valid_gid = 0
mail_location = maildir:$DOVECOT_HOME/%u/Maildir
pop3_uidl_format = %08Xu%08Xv
# No statistics: fewer processes, and a quick stop does not leave a login
# process waiting for the stats socket.
stats_writer_socket_path =

service pop3-login {
  $chroot_line
  inet_listener pop3 {
    address = ${DOVECOT_LISTEN:-127.0.0.1}
    port = $DOVECOT_POP3_PORT
  }
  inet_listener pop3s {
    address = ${DOVECOT_LISTEN:-127.0.0.1}
    port = $DOVECOT_POP3S_PORT
    ssl = yes
  }
}
service anvil {
  $chroot_line
}
$(_dovecot_lmtp_conf)
$(_dovecot_imap_conf)
${DOVECOT_EXTRA_CONF:-}
EOF
}

_dovecot_lmtp_conf() {
	[[ -n ${DOVECOT_LMTP:-} ]] || return 0
	cat <<EOF
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $DOVECOT_LMTP_PORT
  }
  unix_listener lmtp {
    mode = 0666
  }
}
EOF
}

_dovecot_imap_conf() {
	[[ -n ${DOVECOT_IMAP:-} ]] || return 0
	cat <<EOF
service imap-login {
  $chroot_line
  inet_listener imap {
    address = ${DOVECOT_LISTEN:-127.0.0.1}
    port = $DOVECOT_IMAP_PORT
  }
  inet_listener imaps {
    address = ${DOVECOT_LISTEN:-127.0.0.1}
    port = $DOVECOT_IMAPS_PORT
    ssl = yes
  }
}
EOF
}

_dovecot_mail_ids() {
	if [[ $(id -u) -eq 0 ]]; then
		local u=${DOVECOT_MAIL_USER:-nobody}
		_dovecot_mail_uid=$(id -u "$u") || return 1
		_dovecot_mail_gid=$(id -g "$u") || return 1
	else
		_dovecot_mail_uid=$(id -u)
		_dovecot_mail_gid=$(id -g)
	fi
	export _dovecot_mail_uid _dovecot_mail_gid
}

# _dovecot_prepare -- the instance directory, certificates and users file;
# idempotent so that dovecot_add_user may come before dovecot_start.
_dovecot_prepare() {
	[[ -n ${DOVECOT_DIR:-} && -d $DOVECOT_DIR ]] && return 0
	_dovecot_mail_ids || return 1
	DOVECOT_DIR=$(mktemp -d /tmp/pfdc.XXXXXX) || return 1
	chmod 0755 "$DOVECOT_DIR"
	DOVECOT_HOME=$DOVECOT_DIR/home
	DOVECOT_CONF=$DOVECOT_DIR/dovecot.conf
	DOVECOT_LOG=$DOVECOT_DIR/dovecot.log
	mkdir -p "$DOVECOT_HOME" "$DOVECOT_DIR/run" "$DOVECOT_DIR/state" || return 1
	mkdir -p "$DOVECOT_DIR/passwd.d" && chmod 0755 "$DOVECOT_DIR/passwd.d"
	export DOVECOT_DIR DOVECOT_HOME DOVECOT_CONF DOVECOT_LOG
}

dovecot_start() {
	if [[ -n ${DOVECOT_MASTER_PID:-} ]]; then
		echo "dovecot_start: already running (pid $DOVECOT_MASTER_PID)" >&2
		return 1
	fi
	[[ -x $DOVECOT_BIN ]] || { echo "dovecot_start: no $DOVECOT_BIN" >&2; return 1; }
	_dovecot_prepare || return 1

	local certs=${DOVECOT_CERTS:-${BATS_RUN_TMPDIR:-$DOVECOT_DIR}/certs}
	make_test_ca "$certs" || return 1
	cp "${DOVECOT_CERT:-$certs/server.pem}" "$DOVECOT_DIR/server.pem" &&
		cp "${DOVECOT_KEY:-$certs/server-key.pem}" "$DOVECOT_DIR/server-key.pem" ||
		return 1
	DOVECOT_CA=${DOVECOT_CA:-$certs/ca.pem}
	export DOVECOT_CA

	# The ports are free when picked but might be taken before Dovecot binds
	# them: try a few times.
	local port deadline ok all
	for _ in 1 2 3; do
		read -r DOVECOT_POP3_PORT DOVECOT_POP3S_PORT DOVECOT_LMTP_PORT \
			DOVECOT_IMAP_PORT DOVECOT_IMAPS_PORT \
			< <(_dovecot_free_ports 5) || return 1
		DOVECOT_LMTP_SOCKET=$DOVECOT_DIR/run/lmtp
		export DOVECOT_POP3_PORT DOVECOT_POP3S_PORT DOVECOT_LMTP_PORT \
			DOVECOT_LMTP_SOCKET DOVECOT_IMAP_PORT DOVECOT_IMAPS_PORT
		all="$DOVECOT_POP3_PORT $DOVECOT_POP3S_PORT"
		[[ -n ${DOVECOT_LMTP:-} ]] && all+=" $DOVECOT_LMTP_PORT"
		[[ -n ${DOVECOT_IMAP:-} ]] && all+=" $DOVECOT_IMAP_PORT $DOVECOT_IMAPS_PORT"
		_dovecot_write_conf || return 1
		: >"$DOVECOT_LOG"
		# -F keeps the master in the foreground so that $! is its pid; fds 3
		# and 4 belong to bats and must not be inherited.
		"$DOVECOT_BIN" -c "$DOVECOT_CONF" -F \
			</dev/null >>"$DOVECOT_DIR/stderr.log" 2>&1 3>&- 4>&- &
		DOVECOT_MASTER_PID=$!
		export DOVECOT_MASTER_PID
		deadline=$((SECONDS + 60))
		ok=
		while ((SECONDS <= deadline)); do
			if ! _dovecot_alive "$DOVECOT_MASTER_PID"; then
				break
			fi
			ok=1
			for port in $all; do
				_dovecot_listening "$DOVECOT_MASTER_PID" "$port" || ok=
			done
			[[ -n $ok ]] && return 0
			sleep 0.05
		done
		if _dovecot_alive "$DOVECOT_MASTER_PID"; then
			echo "dovecot_start: ports not open after 60 s" >&2
			dovecot_stop
			return 1
		fi
		wait "$DOVECOT_MASTER_PID" 2>/dev/null || true
		DOVECOT_MASTER_PID=
		if ! grep -q -i "address already in use" \
			"$DOVECOT_DIR/stderr.log" "$DOVECOT_LOG" 2>/dev/null; then
			break
		fi
	done
	echo "dovecot_start: Dovecot failed to start:" >&2
	cat "$DOVECOT_DIR/stderr.log" "$DOVECOT_LOG" >&2 2>/dev/null
	return 1
}

# _dovecot_alive PID -- true while PID runs (a zombie does not count).
_dovecot_alive() {
	servers_alive "$1"
}

dovecot_stop() {
	# Dovecot's processes are all children of the master; a leftover one is
	# killed only if it still is one of Dovecot's (pids get reused).
	if [[ -n ${DOVECOT_MASTER_PID:-} ]]; then
		servers_stop "$DOVECOT_MASTER_PID" 'dovecot*'
	fi
	DOVECOT_MASTER_PID=
	if [[ -n ${DOVECOT_DIR:-} && -d $DOVECOT_DIR ]]; then
		if [[ -n ${BATS_TEST_NAME:-} && -z ${BATS_TEST_COMPLETED:-} ]]; then
			echo "--- dovecot log ($DOVECOT_LOG) ---" >&2
			tail -n 40 "$DOVECOT_DIR/stderr.log" "$DOVECOT_LOG" >&2 2>/dev/null
		fi
		rm -rf "$DOVECOT_DIR"
	fi
	DOVECOT_DIR=
}

dovecot_log() {
	cat "$DOVECOT_LOG" "$DOVECOT_DIR/stderr.log" 2>/dev/null
}

dovecot_account() {
	local mode=${1:?dovecot_account MODE USER PASSWORD [LINE...]} l
	local user=${2:?dovecot_account MODE USER PASSWORD [LINE...]}
	local pass=${3?dovecot_account MODE USER PASSWORD [LINE...]}
	shift 3
	echo "account default"
	echo "host 127.0.0.1"
	case $mode in
	implicit) echo "port $DOVECOT_POP3S_PORT" ;;
	starttls) echo "port $DOVECOT_POP3_PORT"; echo "tls_starttls on" ;;
	plain)    echo "port $DOVECOT_POP3_PORT"; echo "tls off" ;;
	*) echo "dovecot_account: MODE is implicit, starttls or plain" >&2; return 1 ;;
	esac
	echo "tls_trust_file $DOVECOT_CA"
	echo "timeout 30"
	echo "user $user"
	echo "password $pass"
	for l in "$@"; do echo "$l"; done
}

dovecot_maildir() {
	echo "$DOVECOT_HOME/${1:?dovecot_maildir USER}/Maildir"
}

dovecot_add_user() {
	local name=${1:?dovecot_add_user NAME PASSWORD} pass=${2?dovecot_add_user NAME PASSWORD}
	if [[ $name == *[:/[:space:]]* || $pass == *[:$'\n']* ]]; then
		echo "dovecot_add_user: no ':', '/' or blanks in names, no ':' in passwords" >&2
		return 1
	fi
	_dovecot_prepare || return 1
	local md=$DOVECOT_HOME/$name/Maildir
	mkdir -p "$md/new" "$md/cur" "$md/tmp" || return 1
	chown -R "$_dovecot_mail_uid:$_dovecot_mail_gid" "$DOVECOT_HOME/$name" || return 1
	chmod -R u+rwX,go-rwx "$DOVECOT_HOME/$name"
	# One passwd-file per user: Dovecot re-reads a passwd-file at most once
	# a second, so a user added to a shared file just after another one
	# logged in would be unknown for up to a second.
	mkdir -p "$DOVECOT_DIR/passwd.d"
	printf '%s:{PLAIN}%s::::::\n' "$name" "$pass" >"$DOVECOT_DIR/passwd.d/$name"
	chmod 0644 "$DOVECOT_DIR/passwd.d/$name"
}

_dovecot_seq=0

dovecot_deliver() {
	local user=${1:?dovecot_deliver USER FILE...}
	shift
	local md=$DOVECOT_HOME/$user/Maildir
	[[ -d $md/new ]] || { echo "dovecot_deliver: no user $user" >&2; return 1; }
	# One process for the lot: four per message (cp, chown, chmod, mv)
	# made a 1,000-message delivery take most of a minute on a busy machine.
	# Dovecot numbers new mail in the order of the time in the name.
	_dovecot_seq=$("${PYTHON3:-python3}" - "$md" "$_dovecot_mail_uid" \
	    "$_dovecot_mail_gid" "${_dovecot_seq:-0}" "$$" "$@" <<'PY'
import os, shutil, sys, time
md, uid, gid, seq, pid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
now = int(time.time())
for f in sys.argv[6:]:
    seq += 1
    name = "%d.M%06dP%sQ%d.popfetch-test" % (now, seq, pid, seq)
    tmp = os.path.join(md, "tmp", name)
    shutil.copyfile(f, tmp)
    os.chown(tmp, uid, gid)
    os.chmod(tmp, 0o600)
    os.rename(tmp, os.path.join(md, "new", name))
print(seq)
PY
) || return 1
}

dovecot_count() {
	maildir_count "$DOVECOT_HOME/${1:?dovecot_count USER}/Maildir"
}
