# tests/lib/servers.bash -- what the real-server test libraries share
# (lib/cyrus.bash, lib/courier.bash, lib/solid.bash).
#
# The servers are Debian packages that conflict with each other and with
# dovecot-pop3d, so ./setup does not install them: it unpacks them with
# `apt-get download` + `dpkg-deb -x` into SERVERS_ROOT (env POPFETCH_SERVERS,
# default /opt/popfetch-servers/root), with their versions in
# SERVERS_ROOT/VERSIONS. The tests run the binaries from there with
# private configurations; nothing of the machine's is read or changed.
#
#   servers_need PATH...   in setup_file: every PATH (relative to
#                          SERVERS_ROOT, or absolute) must be executable.
#                          If one is missing the file's tests are skipped
#                          with a message that says to run ./setup --deps-only
#                          -- unless POPFETCH_REQUIRE_SERVERS=1 or CI=true
#                          (set by .ci/run), where it is a failure instead.
#   servers_version PKG    prints the unpacked version of Debian package PKG
#   servers_free_ports N   prints N free loopback TCP ports
#   servers_listening PID PORT  true when process PID listens on 127.0.0.1:PORT
#   servers_alive PID      true while PID runs (a zombie does not count)
#   servers_stop PID PATTERN    SIGTERM to PID and, after <= 8 s, SIGKILL; then
#                          kills its children left over whose command line
#                          still matches the glob PATTERN (pids get reused)
#   servers_stop_tree PID  SIGTERM to PID and all its descendants, SIGKILL to
#                          those left after 5 s
#   servers_kill_naming DIR  SIGKILL to every process naming DIR in its
#                          command line
#   servers_stop_instance PID DIR  both of the above, then removes DIR
#   servers_maildir_deliver MAILDIR FILE...  delivers as a local MDA would
#   servers_mail_owner     prints "user group" that owns the servers' mail:
#                          nobody/nogroup as root, else the current user
#   pop3_dump HOST PORT USER PASS DIR   RETRs every message over plain TCP
#                          with USER/PASS and writes each as it was served
#                          (dot-unstuffed, CRLF line ends) to DIR/srv-NNNNN
#   pop3_count HOST PORT USER PASS      prints the server's message count

SERVERS_ROOT=${POPFETCH_SERVERS:-/opt/popfetch-servers/root}

servers_need() {
	local p missing=
	for p in "$@"; do
		[[ $p == /* ]] || p=$SERVERS_ROOT/$p
		[[ -x $p ]] || missing="$missing $p"
	done
	[[ -z $missing ]] && return 0
	if [[ ${POPFETCH_REQUIRE_SERVERS:-} == 1 || ${CI:-} == true ]]; then
		echo "servers_need: missing:$missing (run ./setup --deps-only)" >&2
		return 1
	fi
	skip "not unpacked:$missing (./setup --deps-only unpacks the servers)"
}

servers_version() {
	awk -v p="${1:?servers_version PKG}" '$1 == p { print $2 }' \
		"$SERVERS_ROOT/VERSIONS" 2>/dev/null
}

servers_free_ports() {
	"${PYTHON3:-python3}" - "${1:-1}" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

# Looks at the socket tables instead of connecting, so that no server
# process is started by the check and a stranger on the port does not count.
servers_listening() {
	local pid=$1 hex inode fd link
	hex=$(printf '%04X' "$2")
	for inode in $(awk -v port=":$hex" \
		'$4 == "0A" && substr($2, length($2) - 4) == port { print $10 }' \
		/proc/net/tcp); do
		for fd in /proc/"$pid"/fd/*; do
			link=$(readlink "$fd" 2>/dev/null) || continue
			[[ $link == "socket:[$inode]" ]] && return 0
		done
	done
	return 1
}

servers_alive() {
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	st=${st//[[:space:]]/}
	[[ -n $st && $st != Z* ]]
}

servers_stop() {
	local pid=${1:?servers_stop PID PATTERN} pat=${2:?servers_stop PID PATTERN}
	local kids=() k deadline
	mapfile -t kids < <(ps -o pid= --ppid "$pid" 2>/dev/null)
	kill -TERM "$pid" 2>/dev/null || true
	deadline=$((SECONDS + 8))
	while servers_alive "$pid" && ((SECONDS < deadline)); do
		sleep 0.05
	done
	if servers_alive "$pid"; then
		echo "servers_stop: $pid ignored SIGTERM, killing" >&2
		mapfile -t -O "${#kids[@]}" kids < <(ps -o pid= --ppid "$pid" 2>/dev/null)
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
	deadline=$((SECONDS + 2))
	for k in "${kids[@]}"; do
		k=${k//[[:space:]]/}
		[[ -n $k ]] || continue
		while servers_alive "$k" && ((SECONDS < deadline)); do
			sleep 0.05
		done
		# shellcheck disable=SC2053
		if servers_alive "$k" && [[ $(ps -o args= -p "$k" 2>/dev/null) == $pat ]]; then
			echo "servers_stop: killing leftover process $k" >&2
			kill -KILL "$k" 2>/dev/null || true
		fi
	done
	return 0
}

# _servers_tree PID -- PID and all its descendants.
_servers_tree() {
	local k
	echo "$1"
	for k in $(ps -o pid= --ppid "$1" 2>/dev/null); do
		_servers_tree "$k"
	done
}

# Under bats' errexit: every kill may find its process gone already.
servers_stop_tree() {
	local pids p deadline
	pids=$(_servers_tree "${1:?servers_stop_tree PID}")
	for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
	deadline=$((SECONDS + 5))
	for p in $pids; do
		while servers_alive "$p" && ((SECONDS < deadline)); do
			sleep 0.05
		done
		if servers_alive "$p"; then kill -KILL "$p" 2>/dev/null || true; fi
	done
	wait "$1" 2>/dev/null || true
}

# servers_kill_naming DIR -- SIGKILL to every process whose command line
# names DIR (an instance's private directory, which nothing else names):
# what escaped the tree, such as a session whose parent is gone.
servers_kill_naming() {
	local d=$1 p
	[[ -n $d ]] || return 0
	for p in $(ps -eo pid=,args= | awk -v d="$d" 'index($0, d) && !/awk/ { print $1 }'); do
		[[ $p == "$$" || $p == "$BASHPID" ]] || kill -KILL "$p" 2>/dev/null || true
	done
}

# servers_stop_instance PID DIR -- everything of one server instance:
# the process tree from PID (may be empty), what else names DIR, and DIR.
servers_stop_instance() {
	[[ -n $1 ]] && servers_stop_tree "$1"
	servers_kill_naming "$2"
	if [[ -n $2 && -d $2 ]]; then
		rm -rf "$2"
	fi
	return 0
}

_servers_seq=0

# servers_maildir_deliver MAILDIR FILE... -- each file into MAILDIR/new
# through tmp/, owned as MAILDIR is (what a local MDA does).
servers_maildir_deliver() {
	local md=${1:?servers_maildir_deliver MAILDIR FILE...} f name
	shift
	for f in "$@"; do
		_servers_seq=$((_servers_seq + 1))
		name=$(printf '%d.M%06dP%d.popfetch-test' "$(date +%s)" "$_servers_seq" "$$")
		cp "$f" "$md/tmp/$name" && chown --reference="$md" "$md/tmp/$name" &&
			mv "$md/tmp/$name" "$md/new/$name" || return 1
	done
}

servers_mail_owner() {
	if [[ $(id -u) -eq 0 ]]; then
		echo "nobody $(id -gn nobody)"
	else
		echo "$(id -un) $(id -gn)"
	fi
}

pop3_dump() {
	"$PYTHON3" "$TESTS_SRCDIR/pop3-dump" "$@"
}

pop3_count() {
	"$PYTHON3" "$TESTS_SRCDIR/pop3-dump" --count "$@"
}
