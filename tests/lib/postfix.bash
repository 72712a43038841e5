# tests/lib/postfix.bash -- a private Postfix MTA for one test file: a real
# SMTP destination for `delivery smtp`.
#
# Load after lib/common and lib/certs.
#
#   postfix_start     starts Postfix (`postfix -c DIR start-fg`) from a config
#                     directory of its own (nothing under /etc/postfix is
#                     read or changed), its own queue, data and mail
#                     directories, an smtpd on 127.0.0.1 on a free port that
#                     offers STARTTLS with the tests' CA's server.pem;
#                     waits (<= 60 s) until it listens.  Mail for
#                     USER@popfetch.test (each USER of POSTFIX_USERS,
#                     default "bob") goes by Postfix's virtual(8) agent to a
#                     Maildir; other recipients get 550 5.1.1.  Needs root
#                     (Postfix's master runs as root and drops to "postfix").
#                     Before it a test may set POSTFIX_EXTRA_CONF (lines
#                     appended to main.cf).  Exports:
#                       POSTFIX_PORT, POSTFIX_DIR, POSTFIX_CA, POSTFIX_PID
#   postfix_maildir USER     prints USER's Maildir
#   postfix_wait USER N      waits (<= 60 s) until USER's Maildir holds N
#                     messages: Postfix delivers from its queue after
#                     accepting, so a test waits for that progress
#   postfix_stop      stops it (<= 30 s) and removes POSTFIX_DIR; prints the
#                     log if the test failed.  Safe to call twice.

POSTFIX_BIN=${POSTFIX_BIN:-/usr/sbin/postfix}

postfix_start() {
	[[ $(id -u) -eq 0 ]] || { echo "postfix_start: needs root" >&2; return 1; }
	[[ -x $POSTFIX_BIN ]] || { echo "postfix_start: no $POSTFIX_BIN" >&2; return 1; }
	local certs=${BATS_RUN_TMPDIR:-/tmp}/certs u maps= n=0
	make_test_ca "$certs" || return 1
	POSTFIX_CA=$certs/ca.pem
	POSTFIX_DIR=$(mktemp -d /tmp/pfmta.XXXXXX) || return 1
	chmod 0755 "$POSTFIX_DIR"
	mkdir -p "$POSTFIX_DIR"/{conf,queue,data,mail} || return 1
	chown postfix "$POSTFIX_DIR/data"
	chown nobody:nogroup "$POSTFIX_DIR/mail"
	install -m 0644 "$certs/server.pem" "$POSTFIX_DIR/conf/server.pem"
	install -m 0600 "$certs/server-key.pem" "$POSTFIX_DIR/conf/server-key.pem"
	for u in ${POSTFIX_USERS:-bob}; do
		maps+="${maps:+, }$u@popfetch.test=$u/Maildir/"
	done
	POSTFIX_PORT=$("${PYTHON3:-python3}" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') || return 1
	_postfix_main_cf "$maps" >"$POSTFIX_DIR/conf/main.cf"
	_postfix_master_cf >"$POSTFIX_DIR/conf/master.cf"
	"$POSTFIX_BIN" -c "$POSTFIX_DIR/conf" start-fg </dev/null \
	    >>"$POSTFIX_DIR/start.log" 2>&1 3>&- 4>&- &
	POSTFIX_PID=$!
	export POSTFIX_PORT POSTFIX_DIR POSTFIX_CA POSTFIX_PID
	until (exec 8<>"/dev/tcp/127.0.0.1/$POSTFIX_PORT") 2>/dev/null; do
		n=$((n + 1))
		if ((n > 1200)) || ! kill -0 "$POSTFIX_PID" 2>/dev/null; then
			echo "postfix_start: not listening on $POSTFIX_PORT:" >&2
			cat "$POSTFIX_DIR/start.log" "$POSTFIX_DIR/maillog" >&2 2>/dev/null
			postfix_stop
			return 1
		fi
		sleep 0.05
	done
}

_postfix_main_cf() {
	cat <<EOF
# Private test instance; written by tests/lib/postfix.bash.
compatibility_level = 3.6
queue_directory = $POSTFIX_DIR/queue
data_directory = $POSTFIX_DIR/data
maillog_file = $POSTFIX_DIR/maillog
maillog_file_prefixes = /tmp
mail_owner = postfix
myhostname = mta.popfetch.test
mydomain = popfetch.test
myorigin = popfetch.test
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mydestination =
relay_domains =
relayhost =
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
biff = no
# Leave the message as it came: no header rewriting, no added headers,
# no folding of long lines.
local_header_rewrite_clients =
always_add_missing_headers = no
line_length_limit = 1000000
smtpd_banner = \$myhostname ESMTP popfetch-test
smtpd_tls_security_level = may
smtpd_tls_cert_file = $POSTFIX_DIR/conf/server.pem
smtpd_tls_key_file = $POSTFIX_DIR/conf/server-key.pem
virtual_mailbox_domains = popfetch.test
virtual_mailbox_base = $POSTFIX_DIR/mail
virtual_mailbox_maps = inline:{ $1 }
virtual_uid_maps = static:$(id -u nobody)
virtual_gid_maps = static:$(id -g nobody)
virtual_minimum_uid = 1
${POSTFIX_EXTRA_CONF:-}
EOF
}

# No chroot, no pickup (nothing is posted locally), only what an smtpd to
# virtual(8) delivery needs.
_postfix_master_cf() {
	cat <<EOF
127.0.0.1:$POSTFIX_PORT inet n - n - - smtpd
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
virtual   unix  - n n - - virtual
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
showq     unix  n - n - - showq
EOF
}

postfix_maildir() {
	echo "$POSTFIX_DIR/mail/${1:?postfix_maildir USER}/Maildir"
}

postfix_wait() {
	local u=${1:?postfix_wait USER N} want=${2:?postfix_wait USER N} n=0
	while (($(maildir_count "$(postfix_maildir "$u")") < want)); do
		n=$((n + 1))
		if ((n > 1200)); then
			echo "postfix_wait: $u has $(maildir_count "$(postfix_maildir "$u")") of $want after 60 s" >&2
			tail -n 20 "$POSTFIX_DIR/maillog" >&2
			return 1
		fi
		sleep 0.05
	done
}

postfix_stop() {
	local pid=${POSTFIX_PID:-} n=0
	if [[ -n $pid ]]; then
		timeout 30 "$POSTFIX_BIN" -c "$POSTFIX_DIR/conf" stop \
		    >/dev/null 2>&1 </dev/null 3>&- 4>&- || true
		while kill -0 "$pid" 2>/dev/null && ((n < 600)); do
			n=$((n + 1))
			sleep 0.05
		done
		if kill -0 "$pid" 2>/dev/null; then
			echo "postfix_stop: master $pid still runs, killing" >&2
			kill -KILL "$pid" 2>/dev/null || true
		fi
		wait "$pid" 2>/dev/null || true
	fi
	POSTFIX_PID=
	if [[ -n ${POSTFIX_DIR:-} && -d $POSTFIX_DIR ]]; then
		if [[ -n ${BATS_TEST_NAME:-} && -z ${BATS_TEST_COMPLETED:-} ]]; then
			echo "--- postfix log ---" >&2
			tail -n 40 "$POSTFIX_DIR/start.log" "$POSTFIX_DIR/maillog" >&2 2>/dev/null
		fi
		rm -rf "$POSTFIX_DIR"
	fi
	POSTFIX_DIR=
}
