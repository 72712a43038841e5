# mbox.bash -- reading back what popfetch wrote into an mbox.

# mbox_extract MBOX DIR -- splits MBOX with Python's mailbox.mbox into
# DIR/new/<n> (mboxrd quoting undone) and writes the From_ lines to
# DIR/from, so that assert_maildir_matches can compare.
mbox_extract() {
	"$PYTHON3" - "$1" "$2" <<'PY'
import mailbox, os, re, sys
src, out = sys.argv[1], sys.argv[2]
os.makedirs(os.path.join(out, "new"), exist_ok=True)
os.makedirs(os.path.join(out, "tmp"), exist_ok=True)
mb = mailbox.mbox(src, create=False)
with open(os.path.join(out, "from"), "w") as f:
    for i, key in enumerate(mb.keys()):
        data = mb.get_bytes(key, from_=False)
        data = re.sub(rb"(?m)^>(>*From )", rb"\1", data)
        with open(os.path.join(out, "new", "%05d" % i), "wb") as fp:
            fp.write(data)
        f.write(mb.get_message(key).get_from() + "\n")
PY
}

# assert_mbox_matches SRCDIR MBOX -- every message of SRCDIR in MBOX
# exactly once and intact (mboxrd quoting undone), nothing else: a
# partial block would read back as a message of its own, or spoil one.
assert_mbox_matches() {
	local out
	out=$(mktemp -d "$TEST_TMP/extract.XXXXXX")
	mbox_extract "$2" "$out" || return 1
	assert_maildir_matches "$1" "$out"
	# Whole blocks only: the file ends with a message's empty line.
	[[ $(tail -c 2 "$2" | od -An -c | tr -d ' ') == '\n\n' ]]
}
