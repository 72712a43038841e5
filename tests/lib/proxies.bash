# tests/lib/proxies.bash -- POP3 proxies in front of the tests' Dovecot,
# as large providers and hosting setups run them: before login the proxy
# answers CAPA itself with a short list; after login the client talks to
# the mail store.
#
# Load after lib/common and lib/servers.
#
#   nginx_start BACKEND_PORT PWFILE
#                    Debian's nginx with libnginx-mod-mail, from its own
#                    config in a private directory (no system config read),
#                    in the foreground (daemon off), listening on
#                    127.0.0.1:NGINX_PORT; its auth_http is answered by
#                    tests/nginx-auth.py (users and passwords from PWFILE,
#                    "user password" lines; user "dropme" gets no answer).
#                    Waits (<= 60 s) until both listen.  Exports NGINX_PORT,
#                    NGINX_DIR, NGINX_PID, NGINX_AUTH_LOG.
#   nginx_stop       stops both, removes NGINX_DIR
#   perdition_start BACKEND_PORT
#                    Debian's perdition in POP3 mode (-f '' -n: no config
#                    file, no PAM), in the foreground, on 127.0.0.1:
#                    PERDITION_PORT, sending every user to
#                    127.0.0.1:BACKEND_PORT (-s, a fixed outgoing server).
#                    Exports PERDITION_PORT, PERDITION_DIR, PERDITION_PID.
#   perdition_stop   stops it, removes PERDITION_DIR

NGINX_MODULE=/usr/lib/nginx/modules/ngx_mail_module.so

_proxies_wait() {
	local pid=$1 port=$2 deadline=$((SECONDS + 60))
	while ((SECONDS <= deadline)) && servers_alive "$pid"; do
		servers_listening "$pid" "$port" && return 0
		sleep 0.05
	done
	return 1
}

nginx_start() {
	local backend=${1:?nginx_start BACKEND_PORT PWFILE} pw=${2:?nginx_start BACKEND_PORT PWFILE}
	local auth_port deadline
	NGINX_DIR=$(mktemp -d /tmp/pfngx.XXXXXX) || return 1
	NGINX_AUTH_LOG=$NGINX_DIR/auth.log
	: >"$NGINX_AUTH_LOG"
	export NGINX_DIR NGINX_AUTH_LOG
	"${PYTHON3:-python3}" "$TESTS_SRCDIR/nginx-auth.py" "$NGINX_DIR/auth.port" \
		"$backend" "$pw" "$NGINX_AUTH_LOG" </dev/null \
		>"$NGINX_DIR/auth.out" 2>&1 3>&- &
	NGINX_AUTH_PID=$!
	deadline=$((SECONDS + 60))
	while [[ ! -s $NGINX_DIR/auth.port ]] && ((SECONDS <= deadline)); do
		sleep 0.05
	done
	read -r auth_port <"$NGINX_DIR/auth.port" || return 1
	NGINX_PORT=$(servers_free_ports 1) || return 1
	export NGINX_PORT NGINX_AUTH_PID
	mkdir -p "$NGINX_DIR/tmp"
	cat >"$NGINX_DIR/nginx.conf" <<CONF
load_module $NGINX_MODULE;
daemon off;
master_process on;
worker_processes 1;
pid $NGINX_DIR/nginx.pid;
error_log $NGINX_DIR/error.log info;
events { worker_connections 64; }
mail {
	server_name localhost;
	auth_http 127.0.0.1:$auth_port/auth;
	pop3_auth plain apop;
	proxy_pass_error_message on;
	server {
		listen 127.0.0.1:$NGINX_PORT;
		protocol pop3;
	}
}
CONF
	setsid nginx -c "$NGINX_DIR/nginx.conf" -p "$NGINX_DIR" -e "$NGINX_DIR/error.log" \
		</dev/null >"$NGINX_DIR/nginx.out" 2>&1 3>&- &
	NGINX_PID=$!
	export NGINX_PID
	if ! _proxies_wait "$NGINX_PID" "$NGINX_PORT"; then
		echo "nginx_start: not listening after 60 s:" >&2
		cat "$NGINX_DIR"/nginx.out "$NGINX_DIR"/error.log >&2
		nginx_stop
		return 1
	fi
}

nginx_stop() {
	[[ -n ${NGINX_AUTH_PID:-} ]] && servers_stop_tree "$NGINX_AUTH_PID"
	servers_stop_instance "${NGINX_PID:-}" "${NGINX_DIR:-}"
	NGINX_PID= NGINX_AUTH_PID= NGINX_DIR=
}

perdition_start() {
	local backend=${1:?perdition_start BACKEND_PORT}
	PERDITION_DIR=$(mktemp -d /tmp/pfperd.XXXXXX) || return 1
	PERDITION_PORT=$(servers_free_ports 1) || return 1
	export PERDITION_DIR PERDITION_PORT
	setsid perdition --protocol POP3 --no_daemon --no_lookup \
		--config_file '' --bind_address 127.0.0.1 \
		--listen_port "$PERDITION_PORT" \
		--outgoing_server "127.0.0.1:$backend" \
		--pid_file "$PERDITION_DIR/perdition.pid" \
		--ssl_mode none --log_facility - --debug \
		</dev/null >"$PERDITION_DIR/perdition.out" 2>&1 3>&- &
	PERDITION_PID=$!
	export PERDITION_PID
	if ! _proxies_wait "$PERDITION_PID" "$PERDITION_PORT"; then
		echo "perdition_start: not listening after 60 s:" >&2
		cat "$PERDITION_DIR/perdition.out" >&2
		perdition_stop
		return 1
	fi
}

perdition_stop() {
	servers_stop_instance "${PERDITION_PID:-}" "${PERDITION_DIR:-}"
	PERDITION_PID= PERDITION_DIR=
}
