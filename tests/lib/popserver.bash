# shellcheck shell=bash
# Start and stop tests/popserver.py from bats tests or plain bash scripts.
#
#   load lib/popserver                  # bats
#   . tests/lib/popserver.bash          # bash
#
#   popserver_start --mailbox "$dir" --log "$log" [more popserver.py flags]
#   ... talk to 127.0.0.1:$POPSERVER_PORT ...
#   popserver_stop
#
# popserver_start passes --port-file itself: do not give --port/--port-file.
# It exports POPSERVER_PORT, POPSERVER_PID and POPSERVER_DIR (a fresh
# directory holding the port file and popserver.out, the server's stdout and
# stderr).  Starting several servers works; each call overwrites the
# variables, so keep the PID of an earlier one and pass it to popserver_stop.
#
# Environment: PYTHON3 (default python3), TESTS_SRCDIR (default: the
# directory above this file), BATS_TEST_TMPDIR or TMPDIR for the files.
#
# Everything here is written to be safe under `set -e` and `set -u`.

_popserver_lib_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# True while the process exists and is not a zombie.  kill -0 alone is not
# enough: our own child stays a zombie until we `wait` for it.
_popserver_alive() {
    local state=
    kill -0 "$1" 2>/dev/null || return 1
    if [ -r "/proc/$1/stat" ]; then
        # Field 3 is the state; the command name (field 2) may hold blanks,
        # so cut after its closing parenthesis.
        state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null) || state=
        state=${state%% *}
    else
        state=$(ps -o stat= -p "$1" 2>/dev/null) || state=
        state=${state# }
    fi
    case $state in
        Z*) return 1 ;;
    esac
    return 0
}

# script_login -- prints how a scripted session starts: the greeting, CAPA
# offering USER and UIDL (no PIPELINING: one command in flight), and the
# login as user "test" with password "secret", and the CAPA popfetch sends
# again after login (RFC 2449 §5); the caller goes on from LIST.
script_login() {
	printf '%s\n' 'S: +OK ready' 'C: CAPA' 'S: +OK' 'S: USER' 'S: UIDL' \
	    'S: .' 'C: USER test' 'S: +OK' 'C: PASS secret' 'S: +OK logged in' \
	    'C: CAPA' 'S: +OK' 'S: USER' 'S: UIDL' 'S: .'
}

# popserver_account [LINE...] -- prints account "default" for the running
# test server: 127.0.0.1, its port, no TLS, user "test" with password
# "secret"; then each LINE (a later line wins over an earlier one).
popserver_account() {
	local l
	echo "account default"
	echo "host 127.0.0.1"
	echo "port $POPSERVER_PORT"
	echo "tls off"
	echo "user test"
	echo "password secret"
	for l in "$@"; do echo "$l"; done
}

# popserver_rc [LINE...] -- the same as the whole of $RC.
popserver_rc() {
	popserver_account "$@" | write_fetchrc "$RC"
}

# server_count -- prints how many messages are left in the test server's
# mailbox $MB (one file each; dot files are the server's own).
server_count() {
	find "$MB" -maxdepth 1 -type f ! -name '.*' | wc -l
}

popserver_start() {
    local python=${PYTHON3:-python3}
    local server=${TESTS_SRCDIR:-$_popserver_lib_dir/..}/popserver.py
    local base=${BATS_TEST_TMPDIR:-${TMPDIR:-/tmp}}
    local dir portfile out pid deadline

    dir=$(mktemp -d "$base/popserver.XXXXXX") || return 1
    portfile=$dir/port
    out=$dir/popserver.out

    # fd 3 is bats' output channel; a background child holding it open
    # would make bats wait for the server.
    "$python" "$server" --port-file "$portfile" "$@" \
        </dev/null >"$out" 2>&1 3>&- &
    pid=$!

    # Bounded in wall-clock time, generously: a loaded machine may take
    # seconds to start python.
    deadline=$((SECONDS + 60))
    while [ ! -s "$portfile" ]; do
        if ! _popserver_alive "$pid"; then
            wait "$pid" 2>/dev/null || true
            echo "popserver_start: server exited during start-up:" >&2
            cat "$out" >&2 || true
            return 1
        fi
        if [ "$SECONDS" -gt "$deadline" ]; then
            echo "popserver_start: the test server (popserver.py $*) wrote no port file within 60 s" >&2
            popserver_stop "$pid" || true
            cat "$out" >&2 || true
            return 1
        fi
        sleep 0.05
    done

    POPSERVER_PORT=
    read -r POPSERVER_PORT <"$portfile" || true
    if [ -z "$POPSERVER_PORT" ]; then
        echo "popserver_start: empty port file" >&2
        popserver_stop "$pid" || true
        return 1
    fi
    POPSERVER_PID=$pid
    POPSERVER_DIR=$dir
    export POPSERVER_PORT POPSERVER_PID POPSERVER_DIR
    return 0
}

# popserver_stop [PID]: SIGTERM, SIGKILL after 10 s, then reap.  Stopping a
# server that already exited is not an error.
popserver_stop() {
    local pid=${1:-${POPSERVER_PID:-}}
    local deadline=$((SECONDS + 10))
    [ -n "$pid" ] || return 0

    if _popserver_alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        while _popserver_alive "$pid"; do
            if [ "$SECONDS" -gt "$deadline" ]; then
                kill -KILL "$pid" 2>/dev/null || true
                break
            fi
            sleep 0.05
        done
    fi
    # Reap our child; fails harmlessly if it belongs to another shell.
    wait "$pid" 2>/dev/null || true
    if [ "$pid" = "${POPSERVER_PID:-}" ]; then
        POPSERVER_PID=
    fi
    return 0
}
