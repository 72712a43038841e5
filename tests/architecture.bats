#!/usr/bin/env bats
# architecture.bats -- src/ stays as docs/architecture.md draws it: no
# #include against the flow of the layers, no cycle within a layer, every
# module placed; and the checker itself catches each kind of break.

load lib/common

setup() {
	TOP=$(cd "$TESTS_SRCDIR/.." && pwd)
	CHECK=$TESTS_SRCDIR/include-graph
	DOC=$TOP/docs/architecture.md
}

@test "the #include graph of src/ follows docs/architecture.md" {
	run "$PYTHON3" "$CHECK" "$TOP/src" "$DOC"
	assert_success
	assert_output --partial "no edge against the flow"
}

@test "an include against the flow fails the check (pop3.c including fetch.h)" {
	cp -r "$TOP/src" "$TEST_TMP/src"
	sed -i '0,/^#include "pop3.h"/s//#include "fetch.h"\n#include "pop3.h"/' "$TEST_TMP/src/pop3.c"
	run "$PYTHON3" "$CHECK" "$TEST_TMP/src" "$DOC"
	assert_failure
	assert_output --partial "pop3.c: includes fetch.h, a layer above (5 > 3): against the flow"
}

@test "a cycle within a layer fails the check (pop3.h including auth.h)" {
	cp -r "$TOP/src" "$TEST_TMP/src"
	sed -i '0,/^#include "error.h"/s//#include "auth.h"\n#include "error.h"/' "$TEST_TMP/src/pop3.h"
	run "$PYTHON3" "$CHECK" "$TEST_TMP/src" "$DOC"
	assert_failure
	assert_output --partial "cycle: "
}

@test "a module the table does not place fails the check" {
	cp -r "$TOP/src" "$TEST_TMP/src"
	printf '#include "config.h"\n' >"$TEST_TMP/src/newthing.c"
	run "$PYTHON3" "$CHECK" "$TEST_TMP/src" "$DOC"
	assert_failure
	assert_output "newthing.c: module newthing is in no layer of $DOC"
}
