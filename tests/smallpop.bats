#!/usr/bin/env bats
# smallpop.bats -- interoperability with the small inetd-style POP3 servers
# that log system users in through PAM: popa3d 1.0 (mbox spool in
# /var/mail, USER/PASS only, no CAPA) and solid-pop3d 0.15 (here with
# Maildirs; APOP offered in the greeting for every user, though only users
# with a secret in ~/.spop3d can use it; no CAPA). Both run from
# tests/inetd.py on 127.0.0.1 in a private mount namespace; neither speaks
# TLS, so every test uses `tls off` (by name, as users of such servers must).
# Unpacked by ./setup --deps-only; see tests/lib/smallpop.bash and
# docs/servers.md.

load lib/common
load lib/servers
load lib/smallpop
load lib/interop

setup_file() {
	servers_need usr/sbin/popa3d usr/sbin/solid-pop3d usr/bin/pop_auth \
		/usr/bin/nsenter /usr/bin/unshare /usr/sbin/runuser
	if [[ $(id -u) -ne 0 ]]; then
		skip "needs root: the servers switch to system users; the test mounts a private /etc/passwd"
	fi
	smallpop_start
	export POPA3D_PORT SOLID_PORT SMALLPOP_DIR SMALLPOP_PID
}

teardown_file() {
	smallpop_stop
}

# The server under test comes from the test's name: "popa3d: ..." or
# "solid-pop3d: ...".
setup() {
	case $BATS_TEST_DESCRIPTION in
	popa3d:*) SRV=popa3d SRV_PLAIN_PORT=$POPA3D_PORT ;;
	solid-pop3d:*) SRV=solid SRV_PLAIN_PORT=$SOLID_PORT ;;
	*) fail "test name names no server" ;;
	esac
	SRV_TLS_PORT=
	SRV_CA=
	interop_setup
}

srv_add_user() { smallpop_add_user "$@"; }
srv_deliver()  { "${SRV}_deliver" "$@"; }
srv_count()    { smallpop_count "$SRV_PLAIN_PORT" "$@"; }
srv_dump()     { smallpop_dump "$SRV_PLAIN_PORT" "$@"; }

# --- popa3d ---------------------------------------------------------------

@test "popa3d: auth auto, minimal config: USER/PASS, fetched byte for byte" {
	interop_deliver 3
	interop_snapshot
	interop_rc plain
	interop_fetch -v
	assert_success
	assert_output --partial "3 messages fetched"
	assert_maildir_matches "$SERVED" "$MD"
	[ "$(srv_count "$U")" -eq 0 ]
}

@test "popa3d: auth user" {
	interop_mech user plain
}

@test "popa3d: a mechanism it lacks (auth cram-md5) is exit 77 naming it, nothing sent" {
	interop_deliver 1
	interop_rc plain "auth cram-md5" "timeout 20"
	interop_fetch
	assert_failure 77
	assert_output --partial "CRAM-MD5"
	[ "$(srv_count "$U")" -eq 1 ]
}

@test "popa3d: keep mode: second run fetches nothing, third only the new ones" {
	interop_keep plain
}

@test "popa3d: delivery to an mbox" {
	interop_mbox plain
}

@test "popa3d: a 6 MB message arrives byte for byte" {
	interop_big plain 6
}

@test "popa3d: -s and -l count and list without fetching" {
	interop_status plain
}

@test "popa3d: -S shows a server without CAPA, without logging in" {
	interop_serverinfo plain "does not support CAPA"
}

@test "popa3d: wrong password (auth auto) is exit 77 within seconds" {
	interop_wrong_password auto plain
}

# --- solid-pop3d ----------------------------------------------------------

# The greeting carries an APOP timestamp for every user; a user without a
# secret gets "-ERR ... can't find APOP secret". auth auto goes on to
# USER/PASS (tls off by name), which works.
@test "solid-pop3d: auth auto, no APOP secret: APOP refused, USER/PASS next, byte for byte" {
	interop_deliver 3
	interop_snapshot
	interop_rc plain
	interop_fetch -v
	assert_success
	assert_output --partial "APOP failed"
	assert_output --partial "logged in with USER"
	assert_output --partial "3 messages fetched"
	assert_maildir_matches "$SERVED" "$MD"
	[ "$(srv_count "$U")" -eq 0 ]
}

@test "solid-pop3d: auth auto with an APOP secret: logs in with APOP" {
	smallpop_apop_secret "$U" "$PW"
	interop_deliver 2
	interop_snapshot
	interop_rc plain
	interop_fetch --debug
	assert_success
	assert_output --partial "2 messages fetched"
	assert_output --partial "-> APOP ***"
	refute_output --partial "USER $U"
	refute_output --partial "$PW"
	assert_maildir_matches "$SERVED" "$MD"
}

@test "solid-pop3d: auth apop" {
	smallpop_apop_secret "$U" "$PW"
	interop_mech apop plain
}

@test "solid-pop3d: auth user" {
	interop_mech user plain
}

@test "solid-pop3d: keep mode: second run fetches nothing, third only the new ones" {
	interop_keep plain
}

@test "solid-pop3d: delivery to an mbox" {
	interop_mbox plain
}

@test "solid-pop3d: a 6 MB message arrives byte for byte" {
	interop_big plain 6
}

@test "solid-pop3d: -s and -l count and list without fetching" {
	interop_status plain
}

@test "solid-pop3d: -S shows APOP from the greeting and no CAPA" {
	interop_serverinfo plain "APOP: offered" "does not support CAPA"
}

@test "solid-pop3d: wrong password (auth auto) is exit 77 within seconds" {
	interop_wrong_password auto plain
}

@test "solid-pop3d: wrong APOP secret (auth apop) is exit 77 within seconds" {
	smallpop_apop_secret "$U" "other-$PW"
	interop_wrong_password apop plain
}
