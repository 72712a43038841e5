# tests/lib/smallpop.bash -- the small inetd-style POP3 servers that
# authenticate system users through PAM: popa3d (mbox in /var/mail) and
# solid-pop3d (here with Maildirs, and APOP secrets in ~/.spop3d), for one
# bats file.
#
# Load after lib/common and lib/servers.
#
#   smallpop_start   starts, in a private mount namespace (unshare -m),
#                    tests/inetd.py twice: one port runs popa3d, the other
#                    solid-pop3d, one process per connection as under inetd.
#                    Needs root: both servers authenticate system users
#                    with PAM and switch to them, so the namespace
#                    bind-mounts private copies of /etc/passwd, /etc/shadow,
#                    /etc/group and /etc/pam.d (with the servers' own PAM
#                    files added), a private /var/mail and /var/lib (popa3d
#                    chroots into /var/lib/popa3d before the login); the
#                    machine's own files are never changed.
#                    Exports POPA3D_PORT, SOLID_PORT, SMALLPOP_DIR and
#                    SMALLPOP_PID (the namespace's first process).
#   smallpop_stop    stops every process of the instance, removes the dir
#   smallpop_add_user NAME PASSWORD   a system user of the namespace (home
#                    under SMALLPOP_DIR, an empty mbox in /var/mail and an
#                    empty ~/Maildir)
#   smallpop_apop_secret NAME SECRET  sets NAME's APOP secret for solid-pop3d
#                    with its own pop_auth, run as NAME
#   popa3d_deliver USER FILE...  appends the messages to USER's mbox
#   solid_deliver USER FILE...   puts the messages into USER's Maildir/new
#   smallpop_count PORT USER / smallpop_dump PORT USER DIR   as pop3_count /
#                    pop3_dump, with the password smallpop_add_user was given

SMALLPOP_UID_BASE=61000

_smallpop_running() {
	[[ -n ${SMALLPOP_PID:-} ]] && servers_alive "$SMALLPOP_PID"
}

# _smallpop_files -- the private /etc files, PAM configuration and the
# start script. Users the servers need (popa3d's chroot user, spop3d) are
# added only if the machine lacks them.
_smallpop_files() {
	local d=$SMALLPOP_DIR f
	mkdir -p "$d/etc" "$d/mail" "$d/home" "$d/varlib/popa3d" \
		"$d/varlib/solid-pop3d/bulletins" "$d/run" || return 1
	cp /etc/passwd /etc/group "$d/etc/" || return 1
	cp /etc/shadow "$d/etc/shadow" && chmod 0640 "$d/etc/shadow" || return 1
	cp -a /etc/pam.d "$d/etc/pam.d" || return 1
	for f in popa3d solid-pop3d; do
		cp "$SERVERS_ROOT/etc/pam.d/$f" "$d/etc/pam.d/$f" || return 1
	done
	if ! getent group mail >/dev/null; then
		echo "mail:x:8:" >>"$d/etc/group"
	fi
	chgrp mail "$d/mail" 2>/dev/null
	chmod 2775 "$d/mail"
	for f in popa3d spop3d; do
		if ! grep -q "^$f:" "$d/etc/passwd"; then
			echo "$f:x:$((SMALLPOP_UID_BASE - 1 - ${#f})):65534::/nonexistent:/usr/sbin/nologin" \
				>>"$d/etc/passwd"
			echo "$f:*:19000:0:99999:7:::" >>"$d/etc/shadow"
		fi
	done
	# Read by solid-pop3d as the unprivileged spop3d user.
	cat >"$d/spop3d.conf" <<CONF
<Global>
	MailDropName	Maildir
	MailDropType	maildir
	AllowAPOP	yes
	UserOverride	yes
	APOPServerName	popfetch-test
	AutoLogoutTime	2m
</Global>
CONF
	chmod 0644 "$d/spop3d.conf"
	cat >"$d/start.sh" <<SH
# Runs in the private mount namespace (written by tests/lib/smallpop.bash).
for f in passwd group shadow; do
	mount --bind "$d/etc/\$f" "/etc/\$f" || exit 1
done
mount --bind "$d/etc/pam.d" /etc/pam.d || exit 1
mount --bind "$d/mail" /var/mail || exit 1
mount --bind "$d/varlib" /var/lib || exit 1
"$PYTHON3" "$TESTS_SRCDIR/inetd.py" --port-file "$d/run/popa3d.port" \\
	--log "$d/popa3d.log" -- "$SERVERS_ROOT/usr/sbin/popa3d" &
"$PYTHON3" "$TESTS_SRCDIR/inetd.py" --port-file "$d/run/solid.port" \\
	--log "$d/solid.log" -- "$SERVERS_ROOT/usr/sbin/solid-pop3d" \\
	-f "$d/spop3d.conf" &
wait
SH
}

smallpop_start() {
	if _smallpop_running; then
		echo "smallpop_start: already running (pid $SMALLPOP_PID)" >&2
		return 1
	fi
	SMALLPOP_DIR=$(mktemp -d /tmp/pfsp.XXXXXX) || return 1
	chmod 0755 "$SMALLPOP_DIR"
	export SMALLPOP_DIR
	_smallpop_files || return 1
	# setsid: a server that signals its process group reaches only itself.
	setsid unshare -m --propagation private bash "$SMALLPOP_DIR/start.sh" \
		</dev/null >>"$SMALLPOP_DIR/start.log" 2>&1 3>&- 4>&- &
	SMALLPOP_PID=$!
	export SMALLPOP_PID
	local deadline=$((SECONDS + 60))
	while ((SECONDS <= deadline)) && _smallpop_running; do
		if [[ -s $SMALLPOP_DIR/run/popa3d.port && -s $SMALLPOP_DIR/run/solid.port ]]; then
			POPA3D_PORT=$(<"$SMALLPOP_DIR/run/popa3d.port")
			SOLID_PORT=$(<"$SMALLPOP_DIR/run/solid.port")
			export POPA3D_PORT SOLID_PORT
			return 0
		fi
		sleep 0.05
	done
	echo "smallpop_start: not listening after 60 s:" >&2
	cat "$SMALLPOP_DIR"/*.log >&2
	smallpop_stop
	return 1
}

smallpop_stop() {
	servers_stop_instance "${SMALLPOP_PID:-}" "${SMALLPOP_DIR:-}"
	SMALLPOP_PID=
	SMALLPOP_DIR=
}

# _smallpop_ns CMD... -- CMD inside the instance's mount namespace.
_smallpop_ns() {
	nsenter -t "$SMALLPOP_PID" -m -- "$@"
}

_smallpop_users=0

smallpop_add_user() {
	local name=${1:?smallpop_add_user NAME PASSWORD} pass=${2?smallpop_add_user NAME PASSWORD}
	local d=$SMALLPOP_DIR uid hash home
	_smallpop_users=$((_smallpop_users + 1))
	uid=$((SMALLPOP_UID_BASE + BATS_TEST_NUMBER * 10 + _smallpop_users))
	home=$d/home/$name
	hash=$(printf '%s' "$pass" | openssl passwd -6 -stdin) || return 1
	# Appended, never rewritten: the namespace's bind mounts hold the inodes.
	echo "$name:x:$uid:$uid::$home:/bin/sh" >>"$d/etc/passwd"
	echo "$name:x:$uid:" >>"$d/etc/group"
	echo "$name:$hash:19000:0:99999:7:::" >>"$d/etc/shadow"
	mkdir -p "$home/Maildir/new" "$home/Maildir/cur" "$home/Maildir/tmp" || return 1
	chown -R "$uid:$uid" "$home"
	chmod 0700 "$home"
	: >"$d/mail/$name"
	chown "$uid:mail" "$d/mail/$name"
	chmod 0600 "$d/mail/$name"
	printf '%s\n' "$pass" >"$d/pw.$name"
}

# pop_auth reads the secret twice with getpass(3), from standard input
# when there is no terminal.
smallpop_apop_secret() {
	local name=${1:?smallpop_apop_secret NAME SECRET} secret=${2:?smallpop_apop_secret NAME SECRET}
	local home=$SMALLPOP_DIR/home/$name
	printf '%s\n%s\n' "$secret" "$secret" |
		_smallpop_ns setsid runuser -u "$name" -- env HOME="$home" \
			"$SERVERS_ROOT/usr/bin/pop_auth" >/dev/null 2>&1 || return 1
	grep -qi '^APOPSecret' "$home/.spop3d"
}

# popa3d_deliver USER FILE... -- mbox (mboxo, as a local MDA writes it):
# a From_ line, body lines beginning with "From " quoted, a blank line.
popa3d_deliver() {
	local user=${1:?popa3d_deliver USER FILE...}
	shift
	"$PYTHON3" - "$SMALLPOP_DIR/mail/$user" "$@" <<'PY'
import re, sys
box, files = sys.argv[1], sys.argv[2:]
with open(box, "ab") as out:
    for f in files:
        data = open(f, "rb").read().replace(b"\r\n", b"\n")
        if not data.endswith(b"\n"):
            data += b"\n"
        data = re.sub(rb"(?m)^From ", b">From ", data)
        out.write(b"From popfetch-test@example.org Sat Nov 28 12:00:00 2026\n")
        out.write(data + b"\n")
PY
}

solid_deliver() {
	local user=${1:?solid_deliver USER FILE...}
	shift
	servers_maildir_deliver "$SMALLPOP_DIR/home/$user/Maildir" "$@"
}

smallpop_count() {
	local port=${1:?smallpop_count PORT USER} u=${2:?smallpop_count PORT USER}
	pop3_count 127.0.0.1 "$port" "$u" "$(cat "$SMALLPOP_DIR/pw.$u")"
}

smallpop_dump() {
	local port=${1:?smallpop_dump PORT USER DIR} u=${2:?smallpop_dump PORT USER DIR}
	pop3_dump 127.0.0.1 "$port" "$u" "$(cat "$SMALLPOP_DIR/pw.$u")" \
		"${3:?smallpop_dump PORT USER DIR}"
}
