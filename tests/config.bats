#!/usr/bin/env bats
# config.bats -- configuration errors as the user sees them: FILE:LINE,
# exit 78, permission checks.  (The parser itself has unit tests.)

load lib/common

@test "an unknown key: FILE:LINE and exit 78" {
	printf 'account default\nhost h\nfrobnicate yes\n' | write_fetchrc "$RC"
	run "$POPFETCH" -C "$RC"
	assert_failure 78
	assert_output --partial "$RC:3:"
	assert_output --partial "frobnicate"
}

@test "a key without its value: exit 78" {
	printf 'account default\nhost\n' | write_fetchrc "$RC"
	run "$POPFETCH" -C "$RC"
	assert_failure 78
	assert_output --partial "$RC:2:"
}

@test "a bad number: exit 78" {
	printf 'account default\nhost h\nport 99999\n' | write_fetchrc "$RC"
	run "$POPFETCH" -C "$RC"
	assert_failure 78
	assert_output --partial "$RC:3:"
	assert_output --partial "port"
}

@test "an mpop key popfetch lacks gets a clear message" {
	printf 'account default\nhost h\nsocket /tmp/s\n' | write_fetchrc "$RC"
	run "$POPFETCH" -C "$RC"
	assert_failure 78
	assert_output --partial "socket"
}

@test "a password in a file others can read is refused with the fix" {
	printf 'account default\nhost h\npassword s3cret\n' >"$RC"
	chmod 644 "$RC"
	run "$POPFETCH" -C "$RC"
	assert_failure 78
	assert_output --partial "chmod 600"
	refute_output --partial "s3cret"
}

@test "a world-readable file without a password is fine" {
	printf 'account default\nhost 127.0.0.1\nport 1\nuser u\npasswordeval "echo x"\ndelivery maildir %s\ntimeout 2\n' "$TEST_TMP/md" >"$RC"
	chmod 644 "$RC"
	run "$POPFETCH" -C "$RC"
	# It gets as far as connecting (nothing listens on port 1).
	assert_failure 75
}

@test "an account without host: exit 78 naming file, line and account" {
	printf 'account default\nuser u\npassword p\ndelivery maildir /tmp/x\n' | write_fetchrc "$RC"
	run "$POPFETCH" -C "$RC"
	assert_failure 78
	assert_output --partial "$RC:1:"
	assert_output --partial "default"
	assert_output --partial "host"
}

@test "a failing passwordeval: exit 78, nothing fetched" {
	printf 'account default\nhost 127.0.0.1\nuser u\npasswordeval "exit 3"\ndelivery maildir %s\n' "$TEST_TMP/md" | write_fetchrc "$RC"
	run "$POPFETCH" -C "$RC"
	assert_failure 78
	assert_output --partial "passwordeval"
}

@test "defaults and inheritance reach the account" {
	printf 'defaults\nhost 127.0.0.1\ntimeout 2\naccount base\nport 1\nuser u\npassword p\ndelivery maildir %s\naccount default : base\n' "$TEST_TMP/md" | write_fetchrc "$RC"
	run "$POPFETCH" -C "$RC"
	# host from defaults, port from base: the connection to port 1 fails.
	assert_failure 75
	assert_output --partial "127.0.0.1"
}
