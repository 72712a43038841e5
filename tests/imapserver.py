#!/usr/bin/env python3
"""Scriptable IMAP APPEND test server for popfetch's `delivery imap` (loopback, no TLS).

Takes LOGIN (any user, password --password), AUTHENTICATE PLAIN (with
an initial response only when --sasl-ir lists SASL-IR; --auth-endless
answers every response with another challenge, a hostile server),
CAPABILITY, APPEND (with or
without LITERAL+; the OK carries APPENDUID), CREATE, EXAMINE (with
UIDVALIDITY), UID SEARCH HEADER Message-ID, UID SEARCH LARGER/SMALLER, UID
FETCH (RFC822.SIZE) and (BODY.PEEK[]), LOGOUT (one folder: what is stored,
kept while the server runs, over connections).  Appended messages are stored with LF
line ends in DIR/new/NNNNN (a Maildir, for assert_maildir_matches).
Faults are chosen by progress: the K-th APPEND the server has seen, over
all connections.  Every command line is logged to --log.
"""
import argparse
import base64
import binascii
import re

from scriptserver_common import listen_loopback, maildir_store, run, serve_one_at_a_time


class Server:
    def __init__(self, a):
        self.a = a
        self.appends = 0
        self.stored = 0
        self.msgs = []  # (uid, size with CRLF, raw bytes)
        self.log = open(a.log, "a", buffering=1) if a.log else None
        self.reply = {}
        for spec in a.append_reply:
            k, _, r = spec.partition(":")
            self.reply[int(k)] = r

    def note(self, s):
        if self.log:
            self.log.write(s + "\n")

    def caps(self):
        return ("IMAP4rev1 AUTH=PLAIN" + (" SASL-IR" if self.a.sasl_ir else "") +
                (" LITERAL+" if self.a.literal_plus else "") +
                (" APPENDLIMIT=%d" % self.a.appendlimit if self.a.appendlimit else ""))

    def serve(self, conn):
        f = conn.makefile("rwb", buffering=0)
        f.write(b"* OK test IMAP ready\r\n")
        for _ in range(self.a.untagged_flood):
            f.write(b"* OK flood\r\n")
        while True:
            line = f.readline(1 << 20)
            if not line:
                return
            text = line.rstrip(b"\r\n").decode("latin-1")
            self.note("C: " + text)
            tag, _, rest = text.partition(" ")
            verb = rest.split(" ", 1)[0].upper()
            if verb == "CAPABILITY":
                f.write(("* CAPABILITY %s\r\n%s OK done\r\n" % (self.caps(), tag)).encode())
            elif verb == "LOGIN":
                ok = rest.endswith('"%s"' % self.a.password)
                f.write(("%s %s\r\n" % (tag, "OK logged in" if ok else "NO [AUTHENTICATIONFAILED] no")).encode())
            elif verb == "AUTHENTICATE":
                if self.authenticate(f, tag, rest) is None:
                    return
            elif verb == "EXAMINE":
                f.write(("* %d EXISTS\r\n* OK [UIDVALIDITY %d] ok\r\n%s OK [READ-ONLY] done\r\n"
                         % (len(self.msgs), self.a.uidvalidity, tag)).encode())
            elif verb == "UID" and " SEARCH " in rest.upper() and "HEADER" not in rest.upper():
                f.write(("* SEARCH %s\r\n%s OK done\r\n" % (self.size_search(rest), tag)).encode())
            elif verb == "UID" and " FETCH " in rest.upper() and "BODY.PEEK[]" in rest.upper():
                want = set(int(u) for u in rest.split()[2].split(","))
                for i, (u, n, d) in enumerate(self.msgs):
                    if u in want:
                        d += b"x" * self.a.body_extra
                        f.write(b"* %d FETCH (UID %d BODY[] {%d}\r\n" % (i + 1, u, len(d)) + d + b")\r\n")
                f.write(("%s OK done\r\n" % tag).encode())
            elif verb == "UID" and " SEARCH HEADER MESSAGE-ID " in rest.upper():
                want = rest.split('"')[1].encode()
                uids = [str(u) for u, _, d in self.msgs
                        if b"\nmessage-id: " + want.lower() + b"\n" in b"\n" + d.lower().split(b"\r\n\r\n")[0].replace(b"\r\n", b"\n") + b"\n"]
                f.write(("* SEARCH %s\r\n%s OK done\r\n" % (" ".join(uids), tag)).encode())
            elif verb == "UID" and " FETCH " in rest.upper():
                want = set(int(u) for u in rest.split()[2].split(","))
                out = "".join("* %d FETCH (UID %d RFC822.SIZE %d)\r\n" % (i + 1, u, n)
                              for i, (u, n, _) in enumerate(self.msgs) if u in want)
                f.write((out + "%s OK done\r\n" % tag).encode())
            elif verb == "CREATE":
                f.write(("%s OK created\r\n" % tag).encode())
            elif verb == "LOGOUT":
                f.write(("* BYE\r\n%s OK bye\r\n" % tag).encode())
                return
            elif verb == "APPEND":
                if self.append(f, tag, rest) is None:
                    return
            else:
                f.write(("%s BAD unknown\r\n" % tag).encode())

    def size_search(self, rest):
        """UID SEARCH [LARGER n] [SMALLER n]: the UIDs, as a string."""
        words = rest.upper().split()[2:]
        larger, smaller = -1, 1 << 62
        for i in range(0, len(words) - 1, 2):
            if words[i] == "LARGER":
                larger = int(words[i + 1])
            elif words[i] == "SMALLER":
                smaller = int(words[i + 1])
        return " ".join(str(u) for u, n, _ in self.msgs if larger < n < smaller)

    def authenticate(self, f, tag, rest):
        words = rest.split(" ")
        if len(words) < 2 or words[1].upper() != "PLAIN":
            f.write(("%s NO unsupported mechanism\r\n" % tag).encode())
            return True
        if len(words) > 2 and not self.a.sasl_ir:
            f.write(("%s BAD no SASL-IR here\r\n" % tag).encode())
            return True
        resp = words[2] if len(words) > 2 else None
        while resp is None or self.a.auth_endless:
            f.write(b"+ \r\n")
            line = f.readline(1 << 20)
            if not line:
                return None
            resp = line.rstrip(b"\r\n").decode("latin-1")
            self.note("C: (SASL response)")
            if resp == "*":
                f.write(("%s BAD cancelled\r\n" % tag).encode())
                return True
        try:
            parts = base64.b64decode(resp, validate=True).split(b"\0")
        except (binascii.Error, ValueError):
            parts = []
        ok = len(parts) == 3 and parts[2] == self.a.password.encode()
        f.write(("%s %s\r\n" % (tag, "OK logged in" if ok else
                                  "NO [AUTHENTICATIONFAILED] no")).encode())
        return True

    def append(self, f, tag, rest):
        self.appends += 1
        k = self.appends
        size = int(rest[rest.rindex("{") + 1:].rstrip("}+"))
        dated = re.search(r'"[ 0-9]?[0-9]-[A-Za-z]{3}-[0-9]{4} ', rest)
        if self.a.bad_date and dated and not rest.endswith("+}"):
            self.note("fault: BAD to the date of APPEND %d" % k)
            f.write(("%s BAD Invalid date-time\r\n" % tag).encode())
            return True
        if not rest.endswith("+}"):
            if self.a.literal_plus is False and k in self.reply and self.a.refuse_before_literal:
                f.write(("%s %s\r\n" % (tag, self.reply[k])).encode())
                return True
            f.write(b"+ go ahead\r\n")
        data = b""
        if k in self.a.stall_in_append:
            data = f.read(size // 2)
            self.note("fault: stall in APPEND %d after %d of %d bytes" % (k, len(data), size))
            while f.read(4096):
                pass
            return None
        while len(data) < size:
            chunk = f.read(size - len(data))
            if not chunk:
                break
            data += chunk
        if len(data) < size:
            return None
        f.readline()  # the CRLF that ends the command
        if k in self.a.hangup_in_append:
            self.note("fault: hang up in APPEND %d" % k)
            return None
        if k in self.a.stall_after_append:
            self.store(data)
            self.note("fault: stall after APPEND %d" % k)
            while f.read(4096):
                pass
            return None
        if k in self.a.hangup_after_append:
            self.store(data)
            self.note("fault: hang up after APPEND %d" % k)
            return None
        if k in self.reply:
            f.write(("%s %s\r\n" % (tag, self.reply[k])).encode())
            return True
        if self.a.bad_date and dated:
            self.note("fault: BAD to the date of APPEND %d" % k)
            f.write(("%s BAD Invalid date-time\r\n" % tag).encode())
            return True
        self.store(data)
        f.write(("%s OK [APPENDUID %d %d] done\r\n" % (tag, self.a.uidvalidity, self.stored)).encode())
        return True

    def store(self, data):
        self.stored += 1
        self.msgs.append((self.stored, len(data), data))
        maildir_store(self.a.store, self.stored, data.replace(b"\r\n", b"\n"))
        self.note("stored %d" % self.stored)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--store", required=True)
    ap.add_argument("--log")
    ap.add_argument("--password", default="secret")
    ap.add_argument("--appendlimit", type=int, default=0, metavar="BYTES",
                    help="advertise APPENDLIMIT=BYTES (RFC 7889)")
    ap.add_argument("--sasl-ir", action="store_true", help="list SASL-IR")
    ap.add_argument("--auth-endless", action="store_true",
                    help="answer every AUTHENTICATE response with another challenge")
    ap.add_argument("--no-literal-plus", dest="literal_plus", action="store_false")
    ap.add_argument("--bad-date", action="store_true",
                    help="answer BAD to every APPEND with a date-time (as a server that cannot take it)")
    ap.add_argument("--append-reply", action="append", default=[], metavar="K:REPLY",
                    help="answer the K-th APPEND with REPLY (e.g. 'NO [OVERQUOTA] full'), not stored")
    ap.add_argument("--refuse-before-literal", action="store_true",
                    help="with --no-literal-plus: answer --append-reply instead of the continuation")
    ap.add_argument("--hangup-after-append", action="append", type=int, default=[], metavar="K",
                    help="store the K-th APPEND, then close without the tagged reply")
    ap.add_argument("--stall-after-append", action="append", type=int, default=[], metavar="K",
                    help="store the K-th APPEND, then never reply (until the client goes)")
    ap.add_argument("--hangup-in-append", action="append", type=int, default=[], metavar="K",
                    help="read the K-th APPEND's message, then close without storing it")
    ap.add_argument("--stall-in-append", action="append", type=int, default=[], metavar="K",
                    help="read half the K-th APPEND's message, then never reply (until the client goes)")
    ap.add_argument("--body-extra", type=int, default=0, metavar="N",
                    help="a hostile FETCH BODY[]: N bytes more than RFC822.SIZE said")
    ap.add_argument("--uidvalidity", type=int, default=1, metavar="N",
                    help="the folder's UIDVALIDITY (APPENDUID and EXAMINE)")
    ap.add_argument("--untagged-flood", type=int, default=0, metavar="N",
                    help="send N untagged lines after the greeting")
    a = ap.parse_args()
    srv = Server(a)
    serve_one_at_a_time(listen_loopback(a.port_file), srv.serve, srv.note)


if __name__ == "__main__":
    run(main)
