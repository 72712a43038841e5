#!/usr/bin/env python3
"""verify.py SRCDIR MAILDIR|MBOX -- every source message arrived once, intact.

An mbox (a regular file) is split at its From_ lines and mboxrd quoting
(">From" for "From", ">>From" for ">From", ...) is undone first.

Headers that fetchers add on delivery (Received, Delivered-To, Return-Path,
X-Getmail-*, Status, X-UIDL) are ignored on both sides; everything else,
body included, must match byte for byte (CRLF -> LF).  Prints "ok N" or the
first problem, and exits non-zero on any.
"""
import collections, hashlib, os, re, sys

ADDED = re.compile(rb"^(received|delivered-to|return-path|x-getmail[-a-z]*|"
                   rb"status|x-uidl):", re.I)


def norm(data):
    data = data.replace(b"\r\n", b"\n")
    if not data.endswith(b"\n"):
        data += b"\n"
    head, sep, body = data.partition(b"\n\n")
    out, skip = [], False
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t") and out is not None:
            if not skip:
                out.append(line)
            continue
        skip = bool(ADDED.match(line))
        if not skip:
            out.append(line)
    return hashlib.sha256(b"\n".join(out) + sep + body).hexdigest()


def files(d):
    return [os.path.join(d, f) for f in sorted(os.listdir(d))
            if os.path.isfile(os.path.join(d, f))]


def mbox_messages(path):
    """Each message of an mboxrd file, as it was before quoting."""
    msgs, cur = [], None
    for line in open(path, "rb").read().split(b"\n"):
        if line.startswith(b"From "):
            if cur is not None:
                msgs.append(cur)
            cur = []
        elif cur is not None:
            cur.append(re.sub(rb"^>(>*From )", rb"\1", line))
    if cur is not None:
        msgs.append(cur)
    # Each message ends with the empty line that separates it from the next
    # (and the file with a newline, so the last has one empty piece more).
    out = []
    for i, m in enumerate(msgs):
        if i == len(msgs) - 1 and m and m[-1] == b"":
            m = m[:-1]
        if m and m[-1] == b"":
            m = m[:-1]
        out.append(b"\n".join(m) + b"\n")
    return out


src, md = sys.argv[1], sys.argv[2]
want = collections.Counter(norm(open(f, "rb").read()) for f in files(src))
have = collections.Counter()
if os.path.isfile(md):
    have.update(norm(m) for m in mbox_messages(md))
for sub in ("new", "cur"):
    p = os.path.join(md, sub)
    if os.path.isdir(p):
        have.update(norm(open(f, "rb").read()) for f in files(p))
if want != have:
    missing = sum((want - have).values())
    extra = sum((have - want).values())
    sys.exit("FAIL: %d missing or changed, %d unexpected" % (missing, extra))
print("ok %d" % sum(want.values()))
