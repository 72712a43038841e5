#!/usr/bin/env python3
"""verify.py SRCDIR MAILDIR -- every source message arrived once, intact.

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


src, md = sys.argv[1], sys.argv[2]
want = collections.Counter(norm(open(f, "rb").read()) for f in files(src))
have = collections.Counter()
for sub in ("new", "cur"):
    p = os.path.join(md, sub)
    if os.path.isdir(p):
        have.update(norm(open(f, "rb").read()) for f in files(p))
if want != have:
    missing = sum((want - have).values())
    extra = sum((have - want).values())
    sys.exit("FAIL: %d missing or changed, %d unexpected" % (missing, extra))
print("ok %d" % sum(want.values()))
