#!/usr/bin/env bats
# cli.bats -- options, account selection, config file location, exit codes.

load lib/common

@test "-V prints the version" {
	run "$POPFETCH" -V
	assert_success
	assert_output --regexp '^popfetch [0-9]+\.[0-9]+\.[0-9]+$'
}

@test "-h prints usage on stdout and exits 0" {
	run "$POPFETCH" -h
	assert_success
	assert_output --partial "usage: popfetch"
	assert_output --partial "--debug"
}

@test "an unknown option is a usage error (64)" {
	run "$POPFETCH" --bogus
	assert_failure 64
	assert_output --partial "usage: popfetch"
}

@test "-a with account names is a usage error (64)" {
	printf 'account a\nhost h\n' | write_fetchrc "$RC"
	run "$POPFETCH" -C "$RC" -a a
	assert_failure 64
}

@test "no account named 'default' without names: exit 64 with advice" {
	printf 'account work\nhost h\n' | write_fetchrc "$RC"
	run "$POPFETCH" -C "$RC"
	assert_failure 64
	assert_output --partial "no account named 'default'"
	assert_output --partial "-a"
}

@test "an unknown account name: exit 64" {
	printf 'account work\nhost h\n' | write_fetchrc "$RC"
	run "$POPFETCH" -C "$RC" play
	assert_failure 64
	assert_output --partial "no account named 'play'"
}

@test "a missing config file: exit 78 naming it" {
	run "$POPFETCH" -C "$TEST_TMP/nope"
	assert_failure 78
	assert_output --partial "$TEST_TMP/nope"
}

@test "~/.fetchrc is read by default" {
	printf 'account other\nhost h\n' | write_fetchrc "$HOME/.fetchrc"
	run "$POPFETCH"
	assert_failure 64
	assert_output --partial "$HOME/.fetchrc: no account named 'default'"
}

@test "\$XDG_CONFIG_HOME/popfetch/fetchrc wins over ~/.fetchrc when it exists" {
	printf 'account other\nhost h\n' | write_fetchrc "$HOME/.fetchrc"
	mkdir -p "$TEST_TMP/xdg/popfetch"
	printf 'account x\nhost h\n' | write_fetchrc "$TEST_TMP/xdg/popfetch/fetchrc"
	XDG_CONFIG_HOME=$TEST_TMP/xdg run "$POPFETCH"
	assert_failure 64
	assert_output --partial "$TEST_TMP/xdg/popfetch/fetchrc"
}
