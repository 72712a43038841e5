#!/usr/bin/env bats
# Tests of the test infrastructure itself: certificates, the private Dovecot,
# the corpus generator and the maildir helpers.

BATS_TEST_TIMEOUT=60

load lib/common
load lib/certs
load lib/dovecot

teardown() {
	dovecot_stop
}

# pop3_fetch_all USER PASS OUTDIR [plain] -- fetch every message over POP3S
# (or STLS on the plain port) with python's poplib, trusting only
# $DOVECOT_CA; writes OUTDIR/N with LF line ends, as a fetcher would.
pop3_fetch_all() {
	timeout 30 "$PYTHON3" - "$@" <<'PY'
import os, poplib, ssl, sys
user, password, out = sys.argv[1:4]
mode = sys.argv[4] if len(sys.argv) > 4 else "pop3s"
poplib._MAXLINE = 1 << 20
ctx = ssl.create_default_context(cafile=os.environ["DOVECOT_CA"])
if mode == "stls":
    p = poplib.POP3("127.0.0.1", int(os.environ["DOVECOT_POP3_PORT"]), timeout=10)
    p.stls(context=ctx)
else:
    p = poplib.POP3_SSL("127.0.0.1", int(os.environ["DOVECOT_POP3S_PORT"]),
                        context=ctx, timeout=10)
p.user(user)
p.pass_(password)
count = len(p.list()[1])
os.makedirs(out, exist_ok=True)
for i in range(1, count + 1):
    lines = p.retr(i)[1]          # poplib removes the dot-stuffing
    with open(os.path.join(out, "%05d" % i), "wb") as fp:
        fp.write(b"".join(l + b"\n" for l in lines))
p.quit()
print(count)
PY
}

@test "make_test_ca creates a CA and certificates that certtool verifies" {
	make_test_ca "$TEST_TMP/ca"
	for f in ca ca-key server server-key wronghost wronghost-key \
		expired expired-key selfsigned selfsigned-key; do
		[ -s "$TEST_TMP/ca/$f.pem" ]
	done

	run certtool --verify --load-ca-certificate "$TEST_TMP/ca/ca.pem" \
		--verify-hostname localhost --infile "$TEST_TMP/ca/server.pem"
	assert_success
	assert_output --partial "Chain verification output: Verified"

	run certtool --verify --load-ca-certificate "$TEST_TMP/ca/ca.pem" \
		--verify-hostname localhost --infile "$TEST_TMP/ca/wronghost.pem"
	assert_failure
	assert_output --partial "does not match"

	run certtool --verify --load-ca-certificate "$TEST_TMP/ca/ca.pem" \
		--infile "$TEST_TMP/ca/expired.pem"
	assert_failure
	assert_output --partial "expired"

	run certtool --verify --load-ca-certificate "$TEST_TMP/ca/ca.pem" \
		--infile "$TEST_TMP/ca/selfsigned.pem"
	assert_failure
	assert_output --partial "issuer is unknown"

	run certtool -i --infile "$TEST_TMP/ca/server.pem"
	assert_output --partial "DNSname: localhost"
	assert_output --partial "IPAddress: 127.0.0.1"
}

@test "make_test_ca is cached and cert_sha256 matches certtool" {
	make_test_ca "$TEST_TMP/ca"
	before=$(cert_sha256 "$TEST_TMP/ca/server.pem")
	make_test_ca "$TEST_TMP/ca"
	run cert_sha256 "$TEST_TMP/ca/server.pem"
	assert_success
	assert_output "$before"
	assert_output --regexp '^([0-9A-F]{2}:){31}[0-9A-F]{2}$'

	want=$(certtool -i --infile "$TEST_TMP/ca/server.pem" |
		awk '/Fingerprint:/ { f = 1 } f && /sha256:/ { sub(/.*sha256:/, ""); print; exit }')
	[ -n "$want" ]
	[ "$output" = "$(echo "$want" | tr a-f A-F | sed 's/../&:/g; s/:$//')" ]
}

@test "gen-corpus odd writes what mail servers take oddly" {
	run "$PYTHON3" "$TESTS_SRCDIR/gen-corpus" odd "$TEST_TMP/odd"
	assert_success
	[ "$(ls "$TEST_TMP/odd" | wc -l)" -eq 16 ]
	[ ! -s "$TEST_TMP"/odd/*-empty ]
	[ "$(tail -c 1 "$TEST_TMP"/odd/*-header-only)" = e ]
	run grep -c '^$' "$TEST_TMP"/odd/*-header-only
	assert_output 0
	[ "$(tr -cd '\000' <"$TEST_TMP"/odd/*-nul | wc -c)" -eq 5 ]
	[ "$(awk '{ if (length($0) > m) m = length($0) } END { print m }' \
		"$TEST_TMP"/odd/*-line-200000)" -eq 200000 ]
	[ "$(awk '{ if (length($0) > m) m = length($0) } END { print m }' \
		"$TEST_TMP"/odd/*-long-header)" -gt 200000 ]
	grep -q '^Subject: Grüße' "$TEST_TMP"/odd/*-utf8-headers
	grep -q '^Return-Path: <jürgen@' "$TEST_TMP"/odd/*-utf8-return-path
	run grep -c '^Date:' "$TEST_TMP"/odd/*-no-date
	assert_output 0
	grep -q '^Date: .* 9999 ' "$TEST_TMP"/odd/*-date-future
}

@test "gen-corpus writes the tricky, many, simple and big corpora" {
	run "$PYTHON3" "$TESTS_SRCDIR/gen-corpus" tricky "$TEST_TMP/tricky"
	assert_success
	[ "$(ls "$TEST_TMP/tricky" | wc -l)" -ge 9 ]
	grep -qx '\.' "$TEST_TMP"/tricky/*-dot-lines
	grep -q '^\.\.' "$TEST_TMP"/tricky/*-dot-lines
	grep -q '^From ' "$TEST_TMP"/tricky/*-from-lines
	grep -q '^>From ' "$TEST_TMP"/tricky/*-from-lines
	[ "$(awk '{ if (length($0) > m) m = length($0) } END { print m }' \
		"$TEST_TMP"/tricky/*-long-line)" -eq 100000 ]
	[ "$(tail -c 1 "$TEST_TMP"/tricky/*-no-final-newline | od -An -c | tr -d ' ')" != '\n' ]
	grep -q $'\r$' "$TEST_TMP"/tricky/*-crlf
	LC_ALL=C grep -q $'A bare\rCR' "$TEST_TMP"/tricky/*-bare-cr
	LC_ALL=C grep -q $'[\x80-\xff]' "$TEST_TMP"/tricky/*-8bit
	LC_ALL=C grep -q $'[\x01-\x08]' "$TEST_TMP"/tricky/*-8bit
	if LC_ALL=C grep -qaP '\x00' "$TEST_TMP"/tricky/*; then
		fail "NUL byte in the tricky corpus"
	fi
	# Message-IDs are unique.
	[ "$(cat "$TEST_TMP"/tricky/* | grep -a '^Message-ID:' | sort -u | wc -l)" \
		-eq "$(ls "$TEST_TMP/tricky" | wc -l)" ]

	run "$PYTHON3" "$TESTS_SRCDIR/gen-corpus" many "$TEST_TMP/many" 120
	assert_success
	[ "$(ls "$TEST_TMP/many" | wc -l)" -eq 120 ]
	[ "$(find "$TEST_TMP/many" -size +800k | wc -l)" -ge 2 ]
	# Deterministic: the same seed gives the same bytes.
	"$PYTHON3" "$TESTS_SRCDIR/gen-corpus" many "$TEST_TMP/many2" 120
	(cd "$TEST_TMP/many" && cat msg-*) | sha256sum >"$TEST_TMP/a"
	(cd "$TEST_TMP/many2" && cat msg-*) | sha256sum >"$TEST_TMP/b"
	# Only the directory tag in Subject/Message-ID differs.
	[ "$(sed 's/(many\.[0-9a-f]*)/X/; s/many\.[0-9a-f]*@/X@/' "$TEST_TMP/many/msg-00007")" = \
		"$(sed 's/(many2\.[0-9a-f]*)/X/; s/many2\.[0-9a-f]*@/X@/' "$TEST_TMP/many2/msg-00007")" ]

	make_mailbox "$TEST_TMP/mb" 5 4000
	[ "$(ls "$TEST_TMP/mb")" = "$(printf 'msg-%05d\n' 1 2 3 4 5)" ]
	[ "$(wc -c <"$TEST_TMP/mb/msg-00003")" -eq 4000 ]
	[ "$(grep -h '^Subject:' "$TEST_TMP"/mb/* | sort -u | wc -l)" -eq 5 ]

	SECONDS=0
	run "$PYTHON3" "$TESTS_SRCDIR/gen-corpus" big "$TEST_TMP/big" 20
	assert_success
	size=$(wc -c <"$TEST_TMP/big")
	[ "$size" -gt $((19 * 1024 * 1024)) ]
	[ "$size" -le $((20 * 1024 * 1024)) ]
	# Not pathologically slow (it writes 20 MB): generous for a loaded
	# machine.
	[ "$SECONDS" -lt 60 ]
}

@test "write_fetchrc, maildir_count and assert_maildir_matches" {
	write_fetchrc "$TEST_TMP/rc" <<-EOF
	account test
	EOF
	[ "$(stat -c %a "$TEST_TMP/rc")" = 600 ]
	[ "$(cat "$TEST_TMP/rc")" = "account test" ]
	[ "$HOME" = "$BATS_TEST_TMPDIR/home" ]
	[ -d "$HOME" ]

	"$PYTHON3" "$TESTS_SRCDIR/gen-corpus" tricky "$TEST_TMP/src"
	md=$TEST_TMP/Maildir
	mkdir -p "$md/new" "$md/cur" "$md/tmp"
	i=0
	for f in "$TEST_TMP"/src/*; do
		i=$((i + 1))
		# What a correct fetcher writes.
		sed 's/\r$//' "$f" >"$md/new/$i.test"
		[ -n "$(tail -c 1 "$md/new/$i.test")" ] && echo >>"$md/new/$i.test"
	done
	mv "$md/new/1.test" "$md/cur/1.test:2,S"
	[ "$(maildir_count "$md")" -eq "$i" ]
	assert_maildir_matches "$TEST_TMP/src" "$md"

	cp "$md/new/2.test" "$md/new/dup"
	run assert_maildir_matches "$TEST_TMP/src" "$md"
	assert_failure
	assert_output --partial "duplicated"
	rm "$md/new/dup"

	mv "$md/new/3.test" "$TEST_TMP/gone"
	run assert_maildir_matches "$TEST_TMP/src" "$md"
	assert_failure
	assert_output --partial "missing"

	mv "$TEST_TMP/gone" "$md/new/3.test"
	assert_maildir_matches "$TEST_TMP/src" "$md"
	# A fetcher that forgets to remove the dot-stuffing.
	sed 's/^\.$/../' "$TEST_TMP"/src/*-dot-lines >"$md/cur/1.test:2,S"
	run assert_maildir_matches "$TEST_TMP/src" "$md"
	assert_failure
	assert_output --partial "first difference"
}

@test "private Dovecot serves messages over POP3S and STLS and stops cleanly" {
	dovecot_add_user alice 'sëcret pass'
	DOVECOT_LISTEN="127.0.0.1 127.0.0.2"
	dovecot_start
	[ -n "$DOVECOT_POP3_PORT" ]
	[ -n "$DOVECOT_POP3S_PORT" ]
	[ "$DOVECOT_POP3_PORT" != "$DOVECOT_POP3S_PORT" ]
	# Only on loopback.
	run ss -Hltn "sport = :$DOVECOT_POP3S_PORT"
	assert_output --partial "127.0.0.1:$DOVECOT_POP3S_PORT"
	refute_output --partial "*:$DOVECOT_POP3S_PORT"

	"$PYTHON3" "$TESTS_SRCDIR/gen-corpus" tricky "$TEST_TMP/src"
	make_mailbox "$TEST_TMP/src" 30
	dovecot_deliver alice "$TEST_TMP"/src/*
	[ "$(dovecot_count alice)" -eq "$(ls "$TEST_TMP/src" | wc -l)" ]

	run pop3_fetch_all alice 'sëcret pass' "$TEST_TMP/got"
	assert_success
	assert_output "$(ls "$TEST_TMP/src" | wc -l)"
	# In delivery order, byte for byte (after CRLF -> LF).
	i=0
	for f in "$TEST_TMP"/src/*; do
		i=$((i + 1))
		want=$(sed 's/\r$//' "$f" | sha256sum)
		[ "$(tail -c 1 "$f")" = "" ] || want=$( (sed 's/\r$//' "$f"; echo) | sha256sum)
		got=$(sha256sum <"$TEST_TMP/got/$(printf %05d "$i")")
		[ "$want" = "$got" ] || fail "message $i ($f) differs"
	done

	# The same over STLS on the plain port.
	run pop3_fetch_all alice 'sëcret pass' "$TEST_TMP/got2" stls
	assert_success
	[ "$(cat "$TEST_TMP"/got/* | sha256sum)" = "$(cat "$TEST_TMP"/got2/* | sha256sum)" ]

	# Without TLS, the plain port refuses the password (not on 127.0.0.1,
	# which Dovecot trusts: see lib/dovecot.bash).
	run timeout 10 "$PYTHON3" -c '
import os, poplib
p = poplib.POP3("127.0.0.2", int(os.environ["DOVECOT_POP3_PORT"]), timeout=5)
print(p.capa())
p.user("alice")'
	assert_failure
	assert_output --partial "STLS"
	assert_output --partial "Plaintext authentication disallowed"

	# A client that stays logged in must not hold up the stop.
	timeout 30 "$PYTHON3" -c '
import os, poplib, ssl, time
ctx = ssl.create_default_context(cafile=os.environ["DOVECOT_CA"])
p = poplib.POP3_SSL("127.0.0.1", int(os.environ["DOVECOT_POP3S_PORT"]),
                    context=ctx, timeout=10)
p.user("alice"); p.pass_("sëcret pass")
print("in", flush=True)
time.sleep(25)' >"$TEST_TMP/idle.out" 2>&1 3>&- 4>&- &
	idle=$!
	wait_for 30 test -s "$TEST_TMP/idle.out"
	[ "$(cat "$TEST_TMP/idle.out")" = in ]

	master=$DOVECOT_MASTER_PID
	mapfile -t kids < <(ps -o pid= --ppid "$master")
	[ "${#kids[@]}" -ge 1 ]
	ps -o args= --ppid "$master" | grep -q '/pop3$'
	dir=$DOVECOT_DIR
	SECONDS=0
	dovecot_stop
	# Not held until the idle client gives up (25 s); generous for a
	# loaded machine, where the stop itself takes seconds.
	[ "$SECONDS" -le 20 ]
	kill "$idle" 2>/dev/null || true
	wait "$idle" || true
	if _dovecot_alive "$master"; then fail "master $master still running"; fi
	for k in "${kids[@]}"; do
		if _dovecot_alive "$k"; then fail "dovecot process $k left behind"; fi
	done
	[ ! -e "$dir" ]
	if _dovecot_port_open "$DOVECOT_POP3S_PORT"; then fail "port still open"; fi
}

@test "private Dovecot: DELE at QUIT, plaintext auth when asked for" {
	DOVECOT_PLAINTEXT_AUTH=yes DOVECOT_LISTEN="127.0.0.1 127.0.0.2"
	dovecot_start
	dovecot_add_user bob pw
	make_mailbox "$TEST_TMP/src" 3
	dovecot_deliver bob "$TEST_TMP"/src/*
	run timeout 10 "$PYTHON3" -c '
import os, poplib
p = poplib.POP3("127.0.0.2", int(os.environ["DOVECOT_POP3_PORT"]), timeout=5)
p.user("bob"); p.pass_("pw")
print(" ".join(u.decode().split()[1] for u in p.uidl()[1]))
p.dele(2)
p.quit()'
	assert_success
	assert_output --regexp '^[0-9a-fA-F]{16} [0-9a-fA-F]{16} [0-9a-fA-F]{16}$'
	[ "$(dovecot_count bob)" -eq 2 ]

	run timeout 10 "$PYTHON3" -c '
import os, poplib
p = poplib.POP3("127.0.0.1", int(os.environ["DOVECOT_POP3_PORT"]), timeout=5)
p.user("bob"); p.pass_("wrong")'
	assert_failure
	assert_output --partial "[AUTH]"
}
