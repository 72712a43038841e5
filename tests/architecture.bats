#!/usr/bin/env bats
# architecture.bats -- src/ stays as docs/architecture.md draws it: no
# #include and no call (from the built objects) against the flow of the
# layers, no cycle within a layer, every module placed; and the checker
# itself catches each kind of break.

load lib/common

setup() {
	TOP=$(cd "$TESTS_SRCDIR/.." && pwd)
	CHECK=$TESTS_SRCDIR/include-graph
	DOC=$TOP/docs/architecture.md
	OBJ=$(dirname "$POPFETCH")
}

# graft OBJECT C-TEXT: in a copy of the built objects ($TEST_TMP/obj),
# OBJECT (say termsafe.o) also holds the code of C-TEXT.
graft() {
	mkdir -p "$TEST_TMP/obj"
	cp "$OBJ"/*.o "$TEST_TMP/obj/"
	printf '%s\n' "$2" >"$TEST_TMP/graft.c"
	"${CC:-cc}" -c -o "$TEST_TMP/graft.o" "$TEST_TMP/graft.c"
	ld -r -o "$TEST_TMP/obj/$1" "$OBJ/$1" "$TEST_TMP/graft.o"
}

@test "the #include graph of src/ follows docs/architecture.md" {
	run "$PYTHON3" "$CHECK" "$TOP/src" "$DOC"
	assert_success
	assert_output --partial "no edge against the flow"
}

@test "the calls between the built objects follow docs/architecture.md too" {
	ls "$OBJ"/fetch.o "$OBJ"/sink.o >/dev/null
	run "$PYTHON3" "$CHECK" "$TOP/src" "$DOC" "$OBJ"
	assert_success
	assert_output --regexp "calls of [0-9]+ objects, no edge against the flow"
}

@test "a call against the flow fails the check (termsafe.o calling fetch_account)" {
	graft termsafe.o 'void fetch_account(void); void graft_up(void) { fetch_account(); }'
	run "$PYTHON3" "$CHECK" "$TOP/src" "$DOC" "$TEST_TMP/obj"
	assert_failure
	assert_output "termsafe.o: uses fetch_account of fetch.c, a layer above (5 > 1): against the flow"
}

@test "a call cycle the includes cannot see fails the check (a sink kind calling back into sink.c)" {
	# sink.c calls the kinds' constructors; a kind includes sink.h for
	# struct sink anyway, so only the objects show it calling sink.c.
	graft sink-maildir.o 'struct sink; void sink_free(struct sink *); void graft_back(struct sink *s) { sink_free(s); }'
	run "$PYTHON3" "$CHECK" "$TOP/src" "$DOC" "$TEST_TMP/obj"
	assert_failure
	assert_output "call cycle: sink -> sink-maildir -> sink"
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

@test "no function in src/ is longer than 80 lines" {
	run "$PYTHON3" "$TESTS_SRCDIR/function-lengths" "$TOP/src" 80
	assert_success
	assert_output "no function in $TOP/src over 80 lines"
}

@test "the length check catches a long function" {
	mkdir "$TEST_TMP/src"
	{ printf 'static int\nlong_one(void)\n{\n'
	  for i in $(seq 80); do printf '\tx++;\n'; done
	  printf '}\n'; } >"$TEST_TMP/src/a.c"
	run "$PYTHON3" "$TESTS_SRCDIR/function-lengths" "$TEST_TMP/src" 80
	assert_failure
	assert_output "a.c:3: long_one is 82 lines (more than 80)"
}
