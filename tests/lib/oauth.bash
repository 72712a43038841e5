# tests/lib/oauth.bash -- the tests' own OAuth 2.0 server (oauthserver.py)
# and a Dovecot that checks every token against it by introspection.
#
# Load after lib/common, lib/certs and lib/dovecot.
#
#   oauth_start        starts tests/oauthserver.py on 127.0.0.1 with the test
#                      CA's server certificate; waits (<= 60 s) for its port.
#                      Exports OAUTH_DIR (its control files and log),
#                      OAUTH_PORT, OAUTH_PID, OAUTH_URL (https://127.0.0.1:PORT)
#   oauth_stop         stops it (SIGTERM, then SIGKILL after 5 s)
#   oauth_dovecot_start  dovecot_start with passdb driver = oauth2,
#                      mechanisms xoauth2 and oauthbearer, introspection_mode
#                      post against $OAUTH_URL/introspect
#   oauth_rc AUTH [LINE...]  writes $RC: account default on Dovecot's POP3S
#                      port as user $U, `oauth2_provider generic` with the
#                      three endpoint keys, the token file in $TOKENS
#   oauth_provider_lines  prints those oauth2_* lines (the token file
#                      $TOKENS), for a .bats file's own account block
#   oauth_account NAME prints "account NAME" and oauth_provider_lines: an
#                      account that only holds the sign-in (as named by
#                      delivery_oauth2_account NAME)
#   oauth_popserver_rc [LINE...]  writes $RC: the test server's account
#                      (lib/popserver.bash) with the LINEs, then account
#                      "out" (oauth_account out) for delivery_oauth2_account
#   oauth_reset USER   in setup(): the server signs in USER, tokens last an
#                      hour, no control file of an earlier test is left
#   field NAME         prints member NAME of the token file $TOKENS
#   oauth_authorize    runs popfetch --authorize --device (for the account
#                      $OAUTH_ACCOUNT, default "default") in the background,
#                      plays the user with curl at the printed complete URL
#                      and waits for it to end; its output is in
#                      $TEST_TMP/authorize.out, its status in $AUTH_RC

_oauth_lib_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

oauth_start() {
	local certs=${BATS_RUN_TMPDIR:-$TEST_TMP}/certs deadline
	make_test_ca "$certs" || return 1
	OAUTH_DIR=$(mktemp -d "${BATS_FILE_TMPDIR:-$TEST_TMP}/oauth.XXXXXX") || return 1
	"$PYTHON3" "${TESTS_SRCDIR:-$_oauth_lib_dir/..}/oauthserver.py" "$OAUTH_DIR" \
		"$certs/server.pem" "$certs/server-key.pem" \
		</dev/null >"$OAUTH_DIR/stderr" 2>&1 3>&- 4>&- &
	OAUTH_PID=$!
	deadline=$((SECONDS + 60))
	while [[ ! -s $OAUTH_DIR/port ]]; do
		if ! kill -0 "$OAUTH_PID" 2>/dev/null || ((SECONDS > deadline)); then
			echo "oauth_start: the server did not start:" >&2
			cat "$OAUTH_DIR/stderr" >&2
			oauth_stop
			return 1
		fi
		sleep 0.05
	done
	read -r OAUTH_PORT <"$OAUTH_DIR/port"
	OAUTH_URL=https://127.0.0.1:$OAUTH_PORT
	OAUTH_CA=$certs/ca.pem
	export OAUTH_DIR OAUTH_PORT OAUTH_PID OAUTH_URL OAUTH_CA
}

oauth_stop() {
	local pid=${OAUTH_PID:-} deadline
	[[ -n $pid ]] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	deadline=$((SECONDS + 5))
	while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
		sleep 0.05
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	OAUTH_PID=
}

oauth_dovecot_start() {
	_dovecot_prepare || return 1
	# The auth process runs as Dovecot's internal user, which cannot
	# reach the bats directories.
	cp "$OAUTH_CA" "$DOVECOT_DIR/oauth-ca.pem" &&
		chmod 0644 "$DOVECOT_DIR/oauth-ca.pem" || return 1
	cat >"$DOVECOT_DIR/oauth2.conf.ext" <<EOC
introspection_mode = post
introspection_url = $OAUTH_URL/introspect
username_attribute = username
active_attribute = active
active_value = true
tls_ca_cert_file = $DOVECOT_DIR/oauth-ca.pem
EOC
	DOVECOT_AUTH_MECHANISMS="xoauth2 oauthbearer"
	DOVECOT_PASSDB="passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = $DOVECOT_DIR/oauth2.conf.ext
}"
	dovecot_start
}

oauth_provider_lines() {
	echo "oauth2_provider generic"
	echo "oauth2_client_id popfetch-test-client"
	echo "oauth2_device_endpoint $OAUTH_URL/device"
	echo "oauth2_auth_endpoint $OAUTH_URL/authorize"
	echo "oauth2_token_endpoint $OAUTH_URL/token"
	echo "oauth2_trust_file $OAUTH_CA"
	echo "oauth2_token_file $TOKENS"
}

oauth_account() {
	echo "account ${1:?oauth_account NAME}"
	oauth_provider_lines
}

# oauth_popserver_rc [LINE...] -- writes $RC: popserver_rc's account with
# the LINEs (they name delivery_oauth2_account out), then the sign-in
# account "out".
oauth_popserver_rc() {
	{
		popserver_account "$@"
		echo
		oauth_account out
	} | write_fetchrc "$RC"
}

# oauth_reset USER -- the server as new for a test: signs in USER, tokens
# live an hour, no fault or mode left from an earlier test, an empty log.
oauth_reset() {
	echo "${1:?oauth_reset USER}" >"$OAUTH_DIR/user"
	echo 3600 >"$OAUTH_DIR/expires_in"
	rm -f "$OAUTH_DIR"/{revoked,mode,hold-refresh,held,release,slow_down,client_secret}
	: >"$OAUTH_DIR/log"
}

# field NAME -- prints member NAME of the token file $TOKENS.
field() {
	"$PYTHON3" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
	    "$TOKENS" "$1"
}

oauth_rc() {
	local auth=$1 l
	shift
	{
		echo "account default"
		echo "host 127.0.0.1"
		echo "port $DOVECOT_POP3S_PORT"
		echo "tls_trust_file $DOVECOT_CA"
		echo "timeout 30"
		echo "user $U"
		echo "auth $auth"
		echo "delivery maildir $MD"
		oauth_provider_lines
		for l in "$@"; do echo "$l"; done
	} | write_fetchrc "$RC"
}

# _oauth_wait_for FILE PATTERN PID -- until FILE has PATTERN (<= 60 s) or
# PID ended.
_oauth_wait_for() {
	local deadline=$((SECONDS + 60))
	until grep -q -- "$2" "$1" 2>/dev/null; do
		((SECONDS < deadline)) || return 1
		[[ -z ${3:-} ]] || kill -0 "$3" 2>/dev/null || {
			grep -q -- "$2" "$1" 2>/dev/null; return; }
		sleep 0.05
	done
}

# _oauth_wait_file FILE PID -- until FILE exists (<= 60 s); fails if PID
# ended first.
_oauth_wait_file() {
	local deadline=$((SECONDS + 60))
	until [[ -e $1 ]]; do
		((SECONDS < deadline)) || return 1
		kill -0 "$2" 2>/dev/null || [[ -e $1 ]] || return 1
		sleep 0.05
	done
}

oauth_authorize() {
	local out=$TEST_TMP/authorize.out pid url
	"$POPFETCH" -C "$RC" --authorize --device "$@" "${OAUTH_ACCOUNT:-default}" \
		</dev/null >"$out" 2>&1 3>&- &
	pid=$!
	if _oauth_wait_for "$out" "or open https://" "$pid"; then
		url=$(sed -n 's/^(or open \(https:[^ )]*\))$/\1/p' "$out")
		curl -s -f --cacert "$OAUTH_CA" "$url" >/dev/null || true
	fi
	AUTH_RC=0
	wait "$pid" || AUTH_RC=$?
}
