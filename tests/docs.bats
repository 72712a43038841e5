#!/usr/bin/env bats
# docs.bats -- the manual pages are clean groff and cover every option and
# key; the examples parse; the bash completion completes options and
# account names.

load lib/common

setup() {
	SRC=$TESTS_SRCDIR/..
}

@test "the man pages pass groff's and man's lint without warnings" {
	command -v groff >/dev/null || skip "groff is not installed"
	for page in "$SRC/docs/popfetch.1" "$SRC/docs/fetchrc.5"; do
		run groff -man -ww -z "$page"
		assert_success
		assert_output ""
		if command -v man >/dev/null; then
			run bash -c 'man --warnings -E UTF-8 -l -Tutf8 -Z "$1" 2>&1 >/dev/null' _ "$page"
			assert_success
			assert_output ""
		fi
	done
}

@test "popfetch(1) documents every long option of --help" {
	run "$POPFETCH" --help
	assert_success
	local opts
	opts=$(grep -o -- '--[a-z][a-z-]*' <<<"$output" | sort -u)
	[ -n "$opts" ]
	for o in $opts; do
		grep -q -- "${o//-/\\\\-}" "$SRC/docs/popfetch.1" ||
			fail "popfetch.1 does not mention $o"
	done
}

@test "fetchrc(5) and fetchrc.example document every key the parser takes" {
	local keys
	keys=$(sed -n '/^const struct account_key account_keys/,/mpop keys that popfetch does not support/p' \
	    "$SRC/src/account.c" | grep -o '^	{ KEY("[a-z_0-9]*"' | grep -o '"[a-z_0-9]*"' | tr -d '"' | sort -u)
	[ "$(wc -w <<<"$keys")" -gt 15 ]
	for k in $keys; do
		grep -Eq "^\.B[IR]? \"?$k( |\"|$)" "$SRC/docs/fetchrc.5" ||
			fail "fetchrc.5 has no entry for $k"
		grep -q "^#\?$k " "$SRC/fetchrc.example" ||
			fail "fetchrc.example does not show $k"
	done
}

@test "fetchrc.example and the example configurations parse" {
	cp "$SRC/fetchrc.example" "$TEST_TMP/rc"
	chmod 600 "$TEST_TMP/rc"
	run "$POPFETCH" -C "$TEST_TMP/rc" -s no-such-account
	assert_failure 64
	assert_output --partial "no account named 'no-such-account'"
	for ex in procmail.fetchrc oauth2.fetchrc; do
		cp "$SRC/docs/examples/$ex" "$TEST_TMP/rc2"
		run "$POPFETCH" -C "$TEST_TMP/rc2" -s no-such-account
		assert_failure 64
		assert_output --partial "no account named 'no-such-account'"
	done
}

@test "the systemd units are valid" {
	command -v systemd-analyze >/dev/null || skip "no systemd-analyze"
	mkdir -p "$TEST_TMP/units"
	sed 's|/usr/local/bin/popfetch|'"$POPFETCH"'|' \
	    "$SRC/docs/examples/popfetch.service" >"$TEST_TMP/units/popfetch.service"
	sed 's|/usr/local/bin/popfetch|'"$POPFETCH"'|' \
	    "$SRC/docs/examples/popfetch-daemon.service" \
	    >"$TEST_TMP/units/popfetch-daemon.service"
	cp "$SRC/docs/examples/popfetch.timer" "$TEST_TMP/units/"
	run systemd-analyze verify --man=no "$TEST_TMP/units/popfetch.timer" \
	    "$TEST_TMP/units/popfetch.service" \
	    "$TEST_TMP/units/popfetch-daemon.service"
	[ "$status" -eq 0 ] || [[ $output == *"Failed to"*"bus"* ]] ||
		fail "$output"
}

# complete WORDS... -- what the completion offers for the last word.
complete_words() {
	bash -c '
		. "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		_popfetch
		printf "%s\n" "${COMPREPLY[@]}" | sort
	' _ "$SRC/docs/completion/popfetch" "$@"
}

@test "bash completion: options and account names from the config" {
	command -v bash >/dev/null
	write_fetchrc "$TEST_TMP/rc" <<'EOF'
defaults
keep on
account work
host a
account "home" : work
account	work2 : work,home
EOF
	run complete_words popfetch --st
	assert_output "--status"
	run complete_words popfetch --d
	assert_output "--debug
--device
--dry-run"
	run complete_words popfetch -C "$TEST_TMP/r"
	assert_output "$TEST_TMP/rc"
	run complete_words popfetch -C "$TEST_TMP/rc" wo
	assert_output "work
work2"
	run complete_words popfetch -C "$TEST_TMP/rc" ""
	assert_line home
	assert_line work
	assert_line work2
	refute_line defaults
	cp "$TEST_TMP/rc" "$HOME/.fetchrc"
	run complete_words popfetch h
	assert_output home
}
