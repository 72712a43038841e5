#!/usr/bin/env python3
"""Scriptable LMTP/SMTP test server for popfetch's `delivery lmtp` (loopback only).

Accepted messages are stored, dot-unstuffed with LF line ends, in
DIR/new/NNNNN (a Maildir, so tests compare with assert_maildir_matches).
Faults are chosen by progress: the K-th transaction (the K-th MAIL
command the server has seen, over all connections), never by a timer.
Every command line is logged to --log, so tests can check what was sent.
"""
import argparse
import socket
import time

from scriptserver_common import listen_loopback, maildir_store, run, serve_one_at_a_time


class Hangup(Exception):
    """A fault ended the connection."""


# The reply code each step's hostile answer pretends to be.
STEP_CODE = {"greeting": b"220", "lhlo": b"250", "mail": b"250",
             "rcpt": b"250", "data": b"354", "middata": b"250", "dot": b"250"}


def read_exactly(f, n):
    """n bytes from the unbuffered file f, fewer only at the end of input."""
    out = b""
    while len(out) < n:
        chunk = f.read(n - len(out))
        if not chunk:
            break
        out += chunk
    return out


def parse_word(spec):
    w, _, reply = spec.partition(":")
    return w, reply


def parse_step_fault(spec):
    """STEP[@K]:ACTION -> (STEP, K or None, ACTION)."""
    where, _, action = spec.partition(":")
    step, _, k = where.partition("@")
    if step not in STEP_CODE or action not in ("hangup", "garbage", "endless",
                                               "longline", "silent"):
        raise SystemExit("bad --fault %r" % spec)
    return step, (int(k) if k else None), action


def parse_fault(spec):
    k, _, reply = spec.partition(":")
    return int(k), reply


class Server:
    def __init__(self, args):
        self.a = args
        self.txn = 0
        self.stored = 0
        self.log = open(args.log, "a", buffering=1) if args.log else None
        self.rcpt = dict(parse_fault(s) for s in args.rcpt_reply)
        self.data = dict(parse_fault(s) for s in args.data_reply)
        self.mail = dict(parse_fault(s) for s in args.mail_reply)
        self.hangup_after_data = set(args.hangup_after_data)
        self.hangup_at_mail = set(args.hangup_at_mail)
        self.hangup_after_reply = set(args.hangup_after_reply)
        # --sticky: a refused transaction's state stays until RSET.
        self.stuck = False
        self.bad = set()
        self.auth_reply = dict((m.upper(), r) for m, r in
                               (parse_word(s) for s in args.auth_reply))
        self.connections = 0
        self.hellos = 0
        self.faults = {}
        for spec in args.fault:
            step, k, action = parse_step_fault(spec)
            self.faults[step] = (k, action)

    def armed(self, step, n):
        k, action = self.faults.get(step, (0, None))
        return action is not None and (k is None or k == n)

    def act(self, f, step, n):
        """Play the fault set for step (the n-th of its kind), if any:
        raises Hangup once the connection is done with."""
        if not self.armed(step, n):
            return
        action = self.faults[step][1]
        self.note("fault: %s at %s %d" % (action, step, n))
        code = STEP_CODE[step]
        if action == "garbage":
            f.write(b"\x1b]0;pwned\x07\x00\xff garbage, not a reply\r\n")
        elif action == "endless":
            lines = (code + b"-and more\r\n") * 4096
            while True:
                f.write(lines)
        elif action == "longline":
            # 1 GB in one line, streamed: the client must stop reading.
            chunk = b"x" * 65536
            f.write(code + b" ")
            for _ in range(16384):
                f.write(chunk)
            f.write(b"\r\n")
        elif action == "silent" and step == "middata":
            # Stop reading: the client's writes block.  Ended by the test.
            while True:
                time.sleep(3600)
        if action in ("garbage", "longline", "silent"):
            # Until the client hangs up, answering nothing more.
            while f.read(65536):
                pass
        raise Hangup()

    def note(self, line):
        if self.log:
            self.log.write(line + "\n")

    def serve(self, conn):
        self.connections += 1
        self.note("connection %d" % self.connections)
        f = conn.makefile("rwb", buffering=0)
        self.stuck = False
        self.act(f, "greeting", self.connections)
        if self.connections in self.a.refuse_connection:
            f.write((self.a.refuse_greeting + "\r\n").encode())
            return
        if self.a.hostile == "longline":
            self.note("fault: a greeting line of 100 MB")
            chunk = b"x" * 65536
            f.write(b"220 ")
            for _ in range(1600):
                f.write(chunk)
            return
        if self.a.hostile == "continuation":
            self.note("fault: an endless greeting")
            for _ in range(1000000):
                f.write(b"220-and more\r\n")
            return
        f.write((self.a.greeting + "\r\n").encode())
        while True:
            line = f.readline(self.a.max_line)
            if not line:
                return
            cmd = line.rstrip(b"\r\n").decode("latin-1")
            self.note("C: " + cmd)
            verb = cmd.split(" ", 1)[0].upper()
            if verb in ("LHLO", "EHLO", "HELO"):
                self.hellos += 1
                self.act(f, "lhlo", self.hellos)
                caps = ["test"] + self.a.caps
                out = "".join("250-%s\r\n" % c for c in caps[:-1])
                f.write((out + "250 %s\r\n" % caps[-1]).encode())
            elif verb == "MAIL":
                self.txn += 1
                self.act(f, "mail", self.txn)
                if self.txn in self.hangup_at_mail:
                    self.note("fault: hang up at MAIL %d" % self.txn)
                    return
                if self.stuck:
                    self.bad.add(self.txn)
                    self.note("sticky: 503 to MAIL %d" % self.txn)
                    f.write(b"503 5.5.1 MAIL already given\r\n")
                    continue
                f.write((self.mail.get(self.txn, "250 2.1.0 ok") + "\r\n").encode())
            elif verb == "RCPT":
                self.act(f, "rcpt", self.txn)
                if self.txn in self.bad:
                    f.write(b"503 5.5.1 no transaction\r\n")
                    continue
                f.write((self.rcpt.get(self.txn, "250 2.1.5 ok") + "\r\n").encode())
                if self.a.sticky and self.txn in self.rcpt:
                    self.stuck = True
            elif verb in ("DATA", "BDAT"):
                if verb == "DATA" and (self.txn in self.mail or self.txn in self.rcpt):
                    f.write(b"503 5.5.1 no valid recipients\r\n")
                    continue
                if verb == "BDAT":
                    # One chunk, LAST: what popfetch sends (RFC 3030).
                    n = int(cmd.split()[1])
                    body = read_exactly(f, n)
                    if len(body) < n or not cmd.upper().endswith(" LAST"):
                        return
                    body = body.replace(b"\r\n", b"\n")
                    if self.txn in self.mail or self.txn in self.rcpt or self.txn in self.bad:
                        f.write(b"503 5.5.1 no valid recipients\r\n")
                        continue
                else:
                    self.act(f, "data", self.txn)
                    f.write(b"354 go ahead\r\n")
                    body = self.read_data(f)
                if body is None:
                    return
                if self.armed("dot", self.txn):
                    # Delivered, then the reply to the final dot is the fault.
                    self.store(body)
                    self.act(f, "dot", self.txn)
                if self.txn in self.a.stall_after_data:
                    # Delivered, and the reply never comes: the test kills
                    # the client now; wait for its end of the connection.
                    self.store(body)
                    self.note("fault: stall after DATA %d" % self.txn)
                    while f.read(4096):
                        pass
                    return
                if self.txn in self.hangup_after_data:
                    # Store first: the server delivered, the reply is lost.
                    self.store(body)
                    self.note("fault: hang up after DATA %d" % self.txn)
                    return
                reply = self.data.get(self.txn)
                if reply is None:
                    self.store(body)
                    reply = "250 2.0.0 ok stored"
                f.write((reply + "\r\n").encode())
                if self.txn in self.hangup_after_reply:
                    # The reply goes out whole, then the connection ends
                    # (no reset: what was said before arrives).
                    self.note("fault: hang up after reply %d" % self.txn)
                    conn.shutdown(socket.SHUT_WR)
                    while f.read(65536):
                        pass
                    return
            elif verb == "AUTH":
                if not self.auth(f, cmd):
                    return
            elif verb == "RSET":
                self.stuck = False
                f.write(b"250 2.0.0 ok\r\n")
            elif verb == "QUIT":
                f.write(b"221 2.0.0 bye\r\n")
                return
            elif verb == "NOOP":
                f.write(b"250 2.0.0 ok\r\n")
            else:
                f.write(b"500 5.5.2 unknown command\r\n")

    def auth(self, f, cmd):
        """AUTH: the scripted reply for the mechanism at once, else accept
        PLAIN, LOGIN and CRAM-MD5 after their rounds (any credentials)."""
        words = cmd.split()
        mech = words[1].upper() if len(words) > 1 else ""
        self.note("auth: " + mech)
        if mech in self.auth_reply:
            f.write((self.auth_reply[mech] + "\r\n").encode())
            return True
        rounds = {"PLAIN": 0 if len(words) > 2 else 1, "LOGIN": 2,
                  "CRAM-MD5": 1}.get(mech)
        if rounds is None:
            f.write(b"504 5.5.4 unrecognized authentication type\r\n")
            return True
        for k in range(rounds):
            chal = b"PDEyMzQuNTY3OEB0ZXN0Pg==" if mech == "CRAM-MD5" else b""
            f.write(b"334 " + chal + b"\r\n")
            if not f.readline(self.a.max_line):
                return False
        f.write(b"235 2.7.0 authenticated\r\n")
        return True

    def read_data(self, f):
        lines = []
        got = 0
        while True:
            if got > 65536 and self.armed("middata", self.txn):
                self.act(f, "middata", self.txn)
            line = f.readline()
            if not line:
                return None
            if line in (b".\r\n", b".\n"):
                break
            if line.startswith(b"."):
                line = line[1:]
            lines.append(line.replace(b"\r\n", b"\n"))
            got += len(line)
        return b"".join(lines)

    def store(self, body):
        self.stored += 1
        maildir_store(self.a.store, self.stored, body)
        self.note("stored %d" % self.stored)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--store", required=True, help="Maildir for accepted mail")
    ap.add_argument("--log")
    ap.add_argument("--greeting", default="220 test LMTP ready")
    ap.add_argument("--caps", nargs="*", default=["PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES"],
                    help="words after the first line of the LHLO reply")
    ap.add_argument("--mail-reply", action="append", default=[], metavar="K:REPLY")
    ap.add_argument("--rcpt-reply", action="append", default=[], metavar="K:REPLY")
    ap.add_argument("--data-reply", action="append", default=[], metavar="K:REPLY",
                    help="answer the end of DATA of transaction K with REPLY (not stored)")
    ap.add_argument("--hangup-after-data", action="append", type=int, default=[], metavar="K",
                    help="store transaction K, then close without a reply")
    ap.add_argument("--stall-after-data", action="append", type=int, default=[], metavar="K",
                    help="store transaction K, then never reply (until the client goes)")
    ap.add_argument("--hangup-at-mail", action="append", type=int, default=[], metavar="K",
                    help="close the connection on transaction K's MAIL command")
    ap.add_argument("--hangup-after-reply", action="append", type=int, default=[], metavar="K",
                    help="store transaction K, reply, then close (reading what else comes)")
    ap.add_argument("--sticky", action="store_true",
                    help="after a refused RCPT, refuse every MAIL until RSET")
    ap.add_argument("--refuse-connection", action="append", type=int, default=[], metavar="N",
                    help="greet the N-th connection with --refuse-greeting and close it")
    ap.add_argument("--refuse-greeting", default="421 4.3.2 not now",
                    help="what --refuse-connection says")
    ap.add_argument("--auth-reply", action="append", default=[], metavar="MECH:REPLY",
                    help="answer AUTH MECH with REPLY at once (list it with --caps 'AUTH ...')")
    ap.add_argument("--fault", action="append", default=[], metavar="STEP[@K]:ACTION",
                    help="at STEP (greeting, lhlo, mail, rcpt, data, middata, dot), the K-th"
                    " (default: every one), ACTION: hangup, garbage, endless (continuation"
                    " lines), longline (1 GB), silent (never answer)")
    ap.add_argument("--max-line", type=int, default=1 << 20)
    ap.add_argument("--hostile", choices=["longline", "continuation"],
                    help="greet with one endless line, or endless 220- lines")
    a = ap.parse_args()

    srv = Server(a)
    serve_one_at_a_time(listen_loopback(a.port_file), srv.serve, srv.note,
                        quiet=Hangup)


if __name__ == "__main__":
    run(main)
