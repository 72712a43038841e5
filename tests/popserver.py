#!/usr/bin/env python3
"""popserver -- a small, scriptable POP3 server for popfetch's test-suite.

It serves a directory of message files (one file = one message) over plain
TCP, implicit TLS or STLS, and can misbehave on purpose: cut or stall the
connection at a chosen command, inject plaintext after STLS, report absurd
sizes, refuse logins with a given response code, or play a fixed transcript.

Everything the client sends and every notable event is appended to the
--log file, one line each, so that tests can assert on what the client
actually did (e.g. "no PASS was sent before TLS", "QUIT was never sent").

Log lines:  C: <client line>   CONNECT   TLS   TLS-FAIL <why>   LOGIN <user>
            DELETED <file>   DISCARD <n> bytes after STLS   FAULT <name>
            MISMATCH expected <regex> got <line>   TIMEOUT   ERROR <why>
            CLOSE   HANGUP after refusal

This is test tooling: it only ever binds a loopback address, logs
passwords verbatim and trusts its command line.  Python 3 stdlib only.
"""

import argparse
import base64
import binascii
import hmac
import hashlib
import ipaddress
import os
import re
import signal
import socket
import ssl
import sys
import threading
import time

# Real servers log idle clients out after about ten minutes (RFC 1939 says
# at least ten); doing the same keeps forgotten sessions from piling up.
IDLE_TIMEOUT = 600.0
# How long a "hang" fault keeps the socket open without answering.
HANG_SECONDS = 600.0
# A command line longer than this is hostile or broken; RFC 2449 allows 255.
MAX_LINE = 65536

CRLF = b"\r\n"
AUTHORIZATION, TRANSACTION = "AUTHORIZATION", "TRANSACTION"


class CloseConnection(Exception):
    """Raised anywhere in a session to drop the connection at once."""


class Shutdown(BaseException):
    """Raised in the main thread by SIGTERM/SIGINT.

    A BaseException so that no `except Exception` on the way can swallow it.
    """


# --------------------------------------------------------------------------
# Byte helpers
# --------------------------------------------------------------------------

_ESCAPE_RE = re.compile(rb"\\(x[0-9A-Fa-f]{2}|[rnt\\])")
_ESCAPES = {b"r": b"\r", b"n": b"\n", b"t": b"\t", b"\\": b"\\"}


def decode_escapes(raw):
    """Decode \\r \\n \\t \\\\ and \\xHH in a byte string.

    Unknown escapes are left alone so that a stray backslash in, say, a UID
    survives as written.
    """
    def one(match):
        code = match.group(1)
        if code.startswith(b"x"):
            return bytes([int(code[1:], 16)])
        return _ESCAPES[code]
    return _ESCAPE_RE.sub(one, raw)


_BARE_LF_RE = re.compile(rb"(?<!\r)\n")
_LEADING_DOT_RE = re.compile(rb"^\.", re.MULTILINE)


def to_wire(data):
    """Convert a message file's bytes to its on-the-wire form (unstuffed).

    Bare LF becomes CRLF; CRLF and bare CR are kept as they are (a bare CR
    is data, not a line end).  RFC 1939 needs a final CRLF before the
    terminating dot, so one is added when missing.  An empty file stays
    empty: it is an empty message, not a message made of one blank line.
    """
    # Without a CR every LF is bare: bytes.replace is some 20 times faster
    # than the regular expression, which matters for the 20 MB messages
    # of the tests that run with a 3 s timeout on a busy machine.
    if b"\r" not in data:
        wire = data.replace(b"\n", CRLF)
    else:
        wire = _BARE_LF_RE.sub(CRLF, data)
    if wire and not wire.endswith(b"\n"):
        wire += CRLF
    return wire


def dot_stuff(wire):
    """Byte-stuff a CRLF-terminated block: a leading '.' gets doubled.

    Every LF in a wire block follows a CR, so MULTILINE '^' (which matches
    after LF) finds exactly the starts of CRLF lines.
    """
    if not wire.startswith(b".") and b"\n." not in wire:
        return wire         # nothing to stuff (the common case, and fast)
    return _LEADING_DOT_RE.sub(b"..", wire)


def top_of(wire, count):
    """The header, the blank line and the first `count` body lines."""
    if wire.startswith(CRLF):
        head_end = 2                        # no header at all
    else:
        sep = wire.find(b"\r\n\r\n")
        if sep < 0:
            return wire                     # headers only, no body
        head_end = sep + 4
    pos = head_end
    for _ in range(count):
        nl = wire.find(CRLF, pos)
        if nl < 0:
            return wire
        pos = nl + 2
    return wire[:pos]


def is_number(arg):
    """RFC 1939 message numbers and line counts are plain decimal."""
    return re.fullmatch(rb"[0-9]{1,18}", arg) is not None


# --------------------------------------------------------------------------
# Logging
# --------------------------------------------------------------------------

class EventLog:
    """The --log file (for tests) and the --verbose trace (for humans).

    Every write is flushed at once: tests read the file while the server
    runs, and a killed server must not lose its last lines.
    """

    def __init__(self, path, verbose):
        self.lock = threading.Lock()
        self.file = open(path, "ab") if path else None
        self.verbose = verbose

    def event(self, session, text):
        """Record one line; `text` is bytes or str (str is latin-1)."""
        if isinstance(text, str):
            text = text.encode("latin-1", "replace")
        with self.lock:
            if self.file:
                self.file.write(text + b"\n")
                self.file.flush()
            if self.verbose:
                self._trace(session, text)

    def trace(self, session, text):
        """Verbose-only line (server replies), never in the test log."""
        if self.verbose:
            with self.lock:
                self._trace(session, text)

    @staticmethod
    def _trace(session, text):
        out = sys.stdout.buffer
        out.write(b"[%d] " % session + text + b"\n")
        out.flush()


# --------------------------------------------------------------------------
# The maildrop
# --------------------------------------------------------------------------

class Message:
    __slots__ = ("name", "path", "uid", "size")

    def __init__(self, name, path, uid, size):
        self.name, self.path, self.uid, self.size = name, path, uid, size


class Mailbox:
    """A directory in which each regular, non-dot file is one message."""

    def __init__(self, directory):
        self.dir = os.fsencode(directory)
        # Serialises snapshots against deletions by concurrent sessions.
        self.lock = threading.Lock()

    def _uid_map(self):
        """Parse DIR/.uids: 'filename uid' per line, uid with escapes.

        The UID is the rest of the line after the first run of blanks, taken
        literally apart from the escapes, so hostile UIDs (spaces, control
        characters, over-long, empty) can be served on purpose.
        """
        uids = {}
        try:
            with open(os.path.join(self.dir, b".uids"), "rb") as f:
                lines = f.read().split(b"\n")
        except FileNotFoundError:
            return uids
        for line in lines:
            if line.endswith(b"\r"):
                line = line[:-1]
            if not line.strip():
                continue
            parts = re.split(rb"[ \t]+", line, maxsplit=1)
            uids[parts[0]] = decode_escapes(parts[1]) if len(parts) > 1 else b""
        return uids

    def snapshot(self):
        """List the messages, in bytewise file-name order, with sizes."""
        with self.lock:
            uids = self._uid_map()
            messages = []
            for name in sorted(os.listdir(self.dir)):
                path = os.path.join(self.dir, name)
                if name.startswith(b".") or not os.path.isfile(path):
                    continue
                try:
                    with open(path, "rb") as f:
                        size = len(to_wire(f.read()))
                except OSError:
                    continue        # vanished or unreadable: not a message
                messages.append(Message(name, path, uids.get(name, name), size))
            return messages

    @staticmethod
    def wire(message):
        """Read a message afresh (kept out of memory between commands)."""
        with open(message.path, "rb") as f:
            return to_wire(f.read())

    def remove(self, messages, note):
        """Unlink messages at QUIT; returns the number that failed."""
        failed = 0
        with self.lock:
            for m in messages:
                try:
                    os.unlink(m.path)
                except FileNotFoundError:
                    pass            # another session removed it: same result
                except OSError:
                    failed += 1
                    continue
                note(b"DELETED " + m.name)
        return failed


# --------------------------------------------------------------------------
# Line reading
# --------------------------------------------------------------------------

class LineTooLong(Exception):
    pass


class LineReader:
    """Splits a socket's byte stream into lines.

    Lines are cut at LF with one trailing CR removed, so several pipelined
    commands in one packet, or one command across packets, both work.
    """

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()

    def readline(self):
        """The next line without its line end, or None at end of stream."""
        while True:
            nl = self.buf.find(b"\n")
            if nl >= 0:
                line = bytes(self.buf[:nl])
                del self.buf[:nl + 1]
                return line[:-1] if line.endswith(b"\r") else line
            if len(self.buf) > MAX_LINE:
                raise LineTooLong()
            data = self.sock.recv(65536)
            if not data:
                return None
            self.buf += data

    def discard(self):
        """Drop and count buffered bytes (used when TLS starts)."""
        n = len(self.buf)
        self.buf.clear()
        return n


# --------------------------------------------------------------------------
# Transcript scripts
# --------------------------------------------------------------------------

def parse_script(path):
    """Compile a --script file into a list of (kind, argument) steps.

    The file is read as latin-1 so that regexes and client lines compare
    byte for byte whatever the encoding.
    """
    steps = []
    with open(path, "rb") as f:
        lines = f.read().decode("latin-1").split("\n")
    for number, line in enumerate(lines, 1):
        if line.endswith("\r"):
            line = line[:-1]
        bare = line.strip()
        if not bare or bare.startswith("#"):
            continue
        where = "%s:%d" % (path, number)
        kind, colon, rest = line.lstrip().partition(":")
        if colon and kind in ("S", "S-RAW", "C"):
            if rest.startswith(" "):
                rest = rest[1:]
            raw = rest.encode("latin-1")
            if kind == "S":
                steps.append(("SEND", raw + CRLF))
            elif kind == "S-RAW":
                steps.append(("SEND", decode_escapes(raw)))
            else:
                try:
                    steps.append(("EXPECT", re.compile(rest)))
                except re.error as e:
                    raise ValueError("%s: bad regex: %s" % (where, e))
            continue
        words = bare.split()
        if words == ["CLOSE"]:
            steps.append(("CLOSE", None))
        elif words == ["CONNECTION"]:
            steps.append(("CONNECTION", None))
        elif words == ["STARTTLS"]:
            steps.append(("STARTTLS", None))
        elif words[0] == "SLEEP" and len(words) == 2:
            try:
                seconds = float(words[1])
            except ValueError:
                seconds = -1.0
            if seconds < 0:
                raise ValueError("%s: bad SLEEP time" % where)
            steps.append(("SLEEP", seconds))
        else:
            raise ValueError("%s: cannot parse: %s" % (where, bare))
    return steps


# --------------------------------------------------------------------------
# One connection
# --------------------------------------------------------------------------

class Session:
    """One client connection, served in its own thread."""

    # verb -> states in which it is allowed.  Handlers are cmd_<verb>.
    COMMANDS = {
        "USER": (AUTHORIZATION,), "PASS": (AUTHORIZATION,),
        "APOP": (AUTHORIZATION,), "STLS": (AUTHORIZATION,),
        "AUTH": (AUTHORIZATION,),
        "CAPA": (AUTHORIZATION, TRANSACTION),
        "QUIT": (AUTHORIZATION, TRANSACTION),
        "STAT": (TRANSACTION,), "LIST": (TRANSACTION,),
        "UIDL": (TRANSACTION,), "RETR": (TRANSACTION,),
        "TOP": (TRANSACTION,), "DELE": (TRANSACTION,),
        "NOOP": (TRANSACTION,), "RSET": (TRANSACTION,),
    }

    def __init__(self, server, sock, number):
        self.server = server
        self.cfg = server.cfg
        self.sock = sock
        self.number = number
        self.reader = LineReader(sock)
        # Faults hit only the first K sessions so a retry can succeed.
        self.faulty = number <= self.cfg.fault_sessions
        self.over = self.session_faults()
        self.tls_active = False
        self.state = AUTHORIZATION
        self.pending_user = None
        self.messages = []
        self.deleted = set()
        self.commands = 0       # client lines so far (for fault positions)
        self.retrs = 0          # successful RETRs so far
        self.start_tls_now = False
        self.mute = False       # --drop-reply: swallow what we would send
        self.finished = False   # QUIT answered
        self.graceful = False   # close TLS with close_notify
        self.timestamp = None

    # -- plumbing ----------------------------------------------------------

    def note(self, text):
        self.server.log.event(self.number, text)

    def send(self, data):
        if self.server.log.verbose:
            # First line only: a whole message would drown the trace.
            first, _, more = data.partition(b"\n")
            extra = b" [+%d bytes]" % len(more) if more else b""
            self.server.log.trace(self.number, b"S: " + first.rstrip(b"\r") + extra)
        if self.mute:
            return
        self.sock.sendall(data)

    def reply(self, text):
        """Send a single-line reply; `text` is str (latin-1) or bytes."""
        if isinstance(text, str):
            text = text.encode("latin-1")
        self.send(text + CRLF)

    def reply_multi(self, first, lines):
        """Send '+OK...' followed by stuffed lines and the final dot."""
        body = b"".join(line + CRLF for line in lines)
        self.send(first.encode("latin-1") + CRLF + dot_stuff(body) + b".\r\n")

    def session_faults(self):
        """This session's own faults from --session-faults FILE, read as
        the session starts: a test changes them between sessions without
        restarting the server."""
        over = {}
        if not self.cfg.session_faults:
            return over
        try:
            with open(self.cfg.session_faults) as fp:
                words = fp.read().split()
        except FileNotFoundError:
            return over
        for name, value in zip(words[::2], words[1::2]):
            if name == "hang-on":
                over["hang_on"] = value
            elif name in ("hang-in-retr", "cut-in-retr", "cut-after",
                          "cut-before-reply", "hang-after", "drop-reply"):
                over[name.replace("-", "_")] = int(value)
            else:
                raise SystemExit("--session-faults: unknown fault " + name)
        return over

    def fault(self, name, count):
        if name in self.over:
            return self.over[name] == count
        value = getattr(self.cfg, name)
        return self.faulty and value is not None and value == count

    def run(self):
        self.note("CONNECT")
        try:
            self.note("PEER %s" % self.sock.getpeername()[0])
        except OSError:
            pass
        try:
            self.sock.settimeout(IDLE_TIMEOUT)
            if self.cfg.tls == "implicit":
                self.start_tls()
            if self.cfg.script is not None:
                self.play_script()
            else:
                self.serve_pop3()
        except CloseConnection:
            pass
        except socket.timeout:
            self.note("TIMEOUT")
        except LineTooLong:
            self.note("ERROR line too long")
            try:
                self.reply("-ERR line too long")
            except OSError:
                pass
        except (OSError, ValueError) as e:   # resets, TLS errors, ...
            self.note("ERROR %s" % e)
        finally:
            self.close()
            self.note("CLOSE")

    def close(self):
        # A cut must look like a cut: no close_notify, just the TCP close.
        # After a proper QUIT over TLS, end the TLS session properly.
        if self.graceful and self.tls_active:
            try:
                self.sock.settimeout(1.0)
                self.sock = self.sock.unwrap()
            except (OSError, ValueError):
                pass
        try:
            self.sock.close()
        except OSError:
            pass

    def start_tls(self):
        """Server side of a TLS handshake on the current socket."""
        try:
            self.sock = self.server.ssl_context.wrap_socket(
                self.sock, server_side=True)
        except (OSError, ValueError) as e:
            self.note("TLS-FAIL %s" % e)
            raise CloseConnection()
        self.tls_active = True
        self.reader = LineReader(self.sock)
        self.note("TLS")
        peer = self.sock.getpeercert()
        if peer:
            subject = dict(x[0] for x in peer.get("subject", ()))
            self.note("CLIENT-CERT %s" % subject.get("commonName", "?"))
        self.server.log.trace(self.number, b"TLS " +
                              (self.sock.version() or "?").encode())

    def discard_before_tls(self):
        """Drop client bytes pipelined after STLS.

        They arrived in plaintext and must not be executed as if they came
        over TLS (the CVE-2011-0411 class of command injection).
        """
        n = self.reader.discard()
        if n:
            self.note("DISCARD %d bytes after STLS" % n)

    def hang(self, why):
        """Stay connected but silent; log what the client still sends.

        Ends when the client gives up (EOF) or after HANG_SECONDS.
        """
        self.note("FAULT " + why)
        deadline = time.monotonic() + HANG_SECONDS
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.sock.settimeout(left)
                line = self.reader.readline()
                if line is None:
                    break
                self.note(b"C: " + line)
        except (socket.timeout, OSError, LineTooLong):
            pass
        raise CloseConnection()

    # -- transcript mode ---------------------------------------------------

    def play_script(self):
        # A CONNECTION line starts the part played by the next connection;
        # connections past the last part play the last one.
        parts = [[]]
        for step in self.server.script:
            if step[0] == "CONNECTION":
                parts.append([])
            else:
                parts[-1].append(step)
        with self.server.lock:
            n = self.server.connections
            self.server.connections += 1
        for kind, arg in parts[min(n, len(parts) - 1)]:
            if kind == "SEND":
                self.send(arg)
            elif kind == "EXPECT":
                line = self.reader.readline()
                if line is None:
                    self.note("MISMATCH expected %s got EOF" % arg.pattern)
                    return
                self.note(b"C: " + line)
                text = line.decode("latin-1")
                if not arg.fullmatch(text):
                    self.note("MISMATCH expected %s got %s" % (arg.pattern, text))
                    return
            elif kind == "SLEEP":
                time.sleep(arg)
            elif kind == "STARTTLS":
                self.discard_before_tls()
                self.start_tls()
            elif kind == "CLOSE":
                return

    # -- POP3 mode ---------------------------------------------------------

    def greeting(self):
        if self.cfg.greeting is not None:
            line = os.fsencode(self.cfg.greeting)
            found = re.search(rb"<[^<>]*>", line)
            self.timestamp = found.group(0) if found else None
            self.send(line + CRLF)
            return
        if self.cfg.no_apop:
            self.reply("+OK popserver ready")
            return
        self.timestamp = b"<%d.%d@popserver>" % (os.getpid(), int(time.time()))
        self.reply(b"+OK popserver ready " + self.timestamp)

    def serve_pop3(self):
        self.greeting()
        while not self.finished:
            line = self.reader.readline()
            if line is None:
                return
            self.note(b"C: " + line)
            if b"\n" in self.reader.buf:
                # Another command came before this one's reply.
                self.note("PIPELINED")
            self.commands += 1
            n = self.commands
            if self.fault("cut_before_reply", n):
                self.note("FAULT cut-before-reply")
                raise CloseConnection()
            hang_on = self.over.get("hang_on",
                                    self.faulty and self.cfg.hang_on)
            if hang_on and line.split()[:1] == [hang_on.encode()]:
                # E.g. QUIT: the client alive, its work done, the
                # deletions not carried out.
                self.hang("hang-on " + hang_on)
            self.mute = self.fault("drop_reply", n)
            self.dispatch(line)
            if self.mute:
                self.note("FAULT drop-reply")
                raise CloseConnection()
            if self.fault("cut_after", n):
                self.note("FAULT cut-after")
                raise CloseConnection()
            if self.fault("hang_after", n):
                self.hang("hang-after")
            if self.start_tls_now:
                self.start_tls_now = False
                self.start_tls()
        self.graceful = True

    def dispatch(self, line):
        words = line.split()
        if not words:
            self.reply("-ERR empty command")
            return
        verb = words[0].decode("latin-1").upper()
        states = self.COMMANDS.get(verb)
        if states is None:
            self.reply("-ERR unknown command")
            return
        if self.state not in states:
            self.reply("-ERR %s not allowed in %s state" % (verb, self.state))
            return
        # PASS takes the rest of the line: passwords may contain blanks.
        rest = line.lstrip()[len(words[0]):]
        rest = rest[1:] if rest[:1] == b" " else rest
        getattr(self, "cmd_" + verb.lower())(words[1:], rest)

    def lookup(self, arg):
        """Message for a number argument, or None after an -ERR reply."""
        if not is_number(arg):
            self.reply("-ERR invalid message number")
            return None
        n = int(arg)
        if n < 1 or n > len(self.messages):
            self.reply("-ERR no such message")
            return None
        if n in self.deleted:
            self.reply("-ERR message %d already deleted" % n)
            return None
        return self.messages[n - 1]

    def live(self):
        """(number, message) pairs not marked deleted."""
        return [(i, m) for i, m in enumerate(self.messages, 1)
                if i not in self.deleted]

    def drop_summary(self):
        live = self.live()
        return "%d messages (%d octets)" % (len(live),
                                           sum(m.size for _, m in live))

    def listed_size(self, n, message):
        return os.fsencode(self.cfg.list_size.get(n, str(message.size)))

    def login(self, user, ok):
        """Common end of PASS and APOP."""
        self.pending_user = None
        if self.cfg.auth_fail_code is not None:
            code = self.cfg.auth_fail_code
            self.reply("-ERR %slogin refused" % ("[%s] " % code if code else ""))
            return
        if not ok:
            self.reply("-ERR [AUTH] invalid credentials")
            self.refused()
            return
        self.messages = self.server.mailbox.snapshot()
        self.state = TRANSACTION
        self.note(b"LOGIN " + user)
        if self.cfg.drop_input_at_login:
            self.drop_pending_input()
        self.reply("+OK maildrop has " + self.drop_summary())

    def refused(self):
        """After a refused login: hang up if so configured, as solid-pop3d
        does after any failed USER/PASS, APOP or AUTH."""
        if self.cfg.hangup_after_refusal:
            self.note("HANGUP after refusal")
            raise CloseConnection()

    def drop_pending_input(self):
        """Forget what the client sent before the login's +OK, as Cyrus
        does (input before authentication completes is discarded) and as
        Courier's and qmail's login programs do (they exec the POP3 daemon,
        which starts with an empty buffer)."""
        n = self.reader.discard()
        self.sock.settimeout(0.3)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    break
                n += len(data)
        except (socket.timeout, BlockingIOError):
            pass
        finally:
            self.sock.settimeout(IDLE_TIMEOUT)
        if n:
            self.note(b"DISCARD %d bytes at login" % n)

    # -- commands: AUTHORIZATION ---------------------------------------------

    def cmd_user(self, args, rest):
        if len(args) != 1:
            self.reply("-ERR usage: USER name")
            return
        self.pending_user = args[0]
        self.reply("+OK send PASS")

    def cmd_pass(self, args, rest):
        if self.pending_user is None:
            self.reply("-ERR USER first")
            return
        user = self.pending_user
        self.login(user, user == self.server.user and
                   rest == self.server.password)

    def cmd_apop(self, args, rest):
        if self.timestamp is None:
            self.reply("-ERR APOP not available")
            return
        if len(args) != 2:
            self.reply("-ERR usage: APOP name digest")
            return
        if self.cfg.refuse_apop:
            # solid-pop3d, a user without an APOP secret in ~/.spop3d.
            self.reply("-ERR authentication failed")
            self.refused()
            return
        digest = hashlib.md5(self.timestamp + self.server.password).hexdigest()
        self.login(args[0], args[0] == self.server.user and
                   args[1] == digest.encode())

    # -- AUTH (RFC 5034): PLAIN, LOGIN, CRAM-MD5, XOAUTH2, OAUTHBEARER, SCRAM

    def challenge(self, data):
        """Send '+ base64(data)'; the client's decoded answer, or None
        after '*' (answered with -ERR here) or undecodable base64."""
        self.send(b"+ " + base64.b64encode(data) + CRLF)
        line = self.reader.readline()
        if line is None:
            raise CloseConnection()
        self.note(b"C: " + line)
        if line == b"*":
            self.note("AUTH cancelled")
            self.reply("-ERR authentication cancelled")
            return None
        return self.decode(line)

    def decode(self, text):
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            self.reply("-ERR bad base64")
            return None

    def cmd_auth(self, args, rest):
        mechs = self.cfg.sasl.upper().split()
        refused = self.cfg.refuse_sasl.upper().split()
        if args and args[0].decode("latin-1").upper() in refused:
            # Offered but not carried out: Cyrus SASL and the channel
            # binding of -PLUS, Courier's CRAM-MD5 against PAM.
            self.note(b"REFUSED " + args[0])
            self.reply("-ERR [AUTH] authenticating: bad protocol / cancel")
            self.refused()
            return
        if not args or args[0].decode("latin-1").upper() not in mechs:
            self.reply("-ERR unsupported mechanism")
            return
        mech = args[0].decode("latin-1").upper()
        first = None
        if len(args) > 1:
            if mech == "XOAUTH2" and self.cfg.xoauth2_two_step:
                # Microsoft: the token only after the server's "+".
                self.reply("-ERR [AUTH] no initial response with XOAUTH2")
                return
            first = b"" if args[1] == b"=" else self.decode(args[1])
            if first is None:
                return
        getattr(self, "auth_" + mech.lower().replace("-", "_"))(first)

    def auth_plain(self, first):
        data = first if first is not None else self.challenge(b"")
        if data is None:
            return
        parts = data.split(b"\0")
        if len(parts) != 3:
            self.reply("-ERR malformed PLAIN response")
            return
        self.login(parts[1], parts[1] == self.server.user and
                   parts[2] == self.server.password)

    def auth_login(self, first):
        user = first if first is not None else self.challenge(b"Username:")
        if user is None:
            return
        password = self.challenge(b"Password:")
        if password is None:
            return
        self.login(user, user == self.server.user and
                   password == self.server.password)

    def auth_cram_md5(self, first):
        if first is not None:
            self.reply("-ERR CRAM-MD5 takes no initial response")
            return
        stamp = b"<%d.%d@popserver>" % (os.getpid(), int(time.time()))
        data = self.challenge(stamp)
        if data is None:
            return
        user, _, digest = data.rpartition(b" ")
        want = hmac.new(self.server.password, stamp, "md5").hexdigest()
        self.login(user, user == self.server.user and
                   digest == want.encode())

    def oauth_check(self, user, token, reply_to_error):
        if user == self.server.user and token == self.server.token:
            self.login(user, True)
            return
        # RFC 7628 / Google: the error as a challenge, then -ERR.
        error = b'{"status":"401","schemes":"bearer","scope":"pop"}'
        self.send(b"+ " + base64.b64encode(error) + CRLF)
        line = self.reader.readline()
        if line is None:
            raise CloseConnection()
        self.note(b"C: " + line)
        if line != reply_to_error:
            self.reply("-ERR protocol violation after the error challenge")
            return
        self.reply("-ERR [AUTH] invalid token")

    def auth_xoauth2(self, first):
        data = first if first is not None else self.challenge(b"")
        if data is None:
            return
        fields = dict(f.split(b"=", 1) for f in data.split(b"\x01") if b"=" in f)
        if not data.endswith(b"\x01\x01"):
            self.reply("-ERR malformed XOAUTH2 response")
            return
        auth = fields.get(b"auth", b"")
        token = auth[7:] if auth.startswith(b"Bearer ") else None
        self.oauth_check(fields.get(b"user"), token, b"")

    def auth_oauthbearer(self, first):
        data = first if first is not None else self.challenge(b"")
        if data is None:
            return
        gs2, _, kvs = data.partition(b"\x01")
        head = gs2.split(b",")
        if (len(head) < 2 or head[0] != b"n" or not head[1].startswith(b"a=")
                or not data.endswith(b"\x01\x01")):
            self.reply("-ERR malformed OAUTHBEARER response")
            return
        fields = dict(f.split(b"=", 1) for f in kvs.split(b"\x01") if b"=" in f)
        auth = fields.get(b"auth", b"")
        token = auth[7:] if auth.startswith(b"Bearer ") else None
        self.oauth_check(head[1][2:], token, b"AQ==")

    def auth_scram_sha_1(self, first):
        self.auth_scram(first, "sha1")

    def auth_scram_sha_256(self, first):
        self.auth_scram(first, "sha256")

    def auth_scram(self, first, digest):
        """RFC 5802 without channel binding; the iteration count it
        announces is --scram-iterations, whatever that costs."""
        data = first if first is not None else self.challenge(b"")
        if data is None:
            return
        head = data.split(b",", 2)
        if len(head) != 3 or head[0] != b"n":
            self.reply("-ERR malformed SCRAM client-first message")
            return
        bare = head[2]
        attrs = dict(a.split(b"=", 1) for a in bare.split(b",") if b"=" in a)
        user, cnonce = attrs.get(b"n"), attrs.get(b"r")
        if user is None or cnonce is None:
            self.reply("-ERR malformed SCRAM client-first message")
            return
        salt = b"popserver salt"
        iters = self.cfg.scram_iterations
        sfirst = b"r=%s%s,s=%s,i=%d" % (
            cnonce, base64.b64encode(os.urandom(12)),
            base64.b64encode(salt), iters)
        final = self.challenge(sfirst)
        if final is None:
            return
        without_proof, _, proof = final.rpartition(b",p=")

        def mac(key, msg):
            return hmac.new(key, msg, digest).digest()
        salted = hashlib.pbkdf2_hmac(digest, self.server.password, salt, iters)
        ckey = mac(salted, b"Client Key")
        auth_msg = bare + b"," + sfirst + b"," + without_proof
        csig = mac(hashlib.new(digest, ckey).digest(), auth_msg)
        want = base64.b64encode(bytes(a ^ b for a, b in zip(ckey, csig)))
        if user != self.server.user or proof != want:
            self.login(user, False)
            return
        ssig = mac(mac(salted, b"Server Key"), auth_msg)
        if self.challenge(b"v=" + base64.b64encode(ssig)) is None:
            return
        self.login(user, True)

    def cmd_stls(self, args, rest):
        if (self.cfg.tls != "starttls" or self.cfg.no_stls_capa
                or self.tls_active):
            self.reply("-ERR STLS not available")
            return
        if args:
            self.reply("-ERR usage: STLS")
            return
        answer = b"+OK begin TLS negotiation\r\n"
        if self.cfg.inject_after_stls is not None:
            # One write, so the injection arrives in the same segment as
            # the +OK: the case where a client's read buffer holds it.
            self.note("FAULT inject-after-stls")
            answer += decode_escapes(os.fsencode(self.cfg.inject_after_stls))
        self.send(answer)
        self.discard_before_tls()
        # RFC 2595: everything learnt before TLS is forgotten.
        self.pending_user = None
        # The handshake waits until fault checks for this command have run,
        # so --cut-after / --hang-after on STLS strike before it.
        self.start_tls_now = True

    # -- commands: both states -----------------------------------------------

    def cmd_capa(self, args, rest):
        if self.cfg.no_capa:
            self.reply("-ERR unknown command")
            return
        # A proxy in front of the store answers CAPA itself before login.
        if self.cfg.pre_login_capa is not None and self.state == AUTHORIZATION:
            self.reply_multi("+OK proxy capabilities", [
                os.fsencode(w) for w in self.cfg.pre_login_capa.split()])
            return
        caps = [b"TOP", b"USER"]
        if not self.cfg.no_uidl:
            caps.append(b"UIDL")
        caps += [b"RESP-CODES", b"AUTH-RESP-CODE"]
        if self.cfg.pipelining:
            caps.append(b"PIPELINING")
        if self.cfg.expire is not None:
            caps.append(b"EXPIRE " + os.fsencode(self.cfg.expire))
        if self.cfg.login_delay is not None:
            caps.append(b"LOGIN-DELAY %d" % self.cfg.login_delay)
        if (self.cfg.tls == "starttls" and not self.cfg.no_stls_capa
                and not self.tls_active and self.state == AUTHORIZATION):
            caps.append(b"STLS")
        offered = (self.cfg.refuse_sasl + " " + self.cfg.sasl).strip()
        if offered:
            caps.append(b"SASL " + os.fsencode(offered))
        caps.append(b"IMPLEMENTATION popserver")
        self.reply_multi("+OK capability list follows", caps)

    def cmd_quit(self, args, rest):
        self.finished = True
        if self.state != TRANSACTION:
            self.reply("+OK bye")
            return
        # UPDATE state: the only place where anything is removed.
        doomed = [self.messages[n - 1] for n in sorted(self.deleted)]
        failed = self.server.mailbox.remove(doomed, self.note)
        if failed:
            self.reply("-ERR [SYS/PERM] %d messages not removed" % failed)
        else:
            self.reply("+OK popserver signing off (%d messages deleted)"
                       % len(doomed))

    # -- commands: TRANSACTION -------------------------------------------------

    def cmd_stat(self, args, rest):
        live = self.live()
        self.reply("+OK %d %d" % (len(live), sum(m.size for _, m in live)))

    def cmd_list(self, args, rest):
        if len(args) > 1:
            self.reply("-ERR usage: LIST [msg]")
        elif args:
            m = self.lookup(args[0])
            if m:
                n = int(args[0])
                self.reply(b"+OK %d %s" % (n, self.listed_size(n, m)))
        else:
            self.reply_multi("+OK " + self.drop_summary(),
                             [b"%d %s" % (n, self.listed_size(n, m))
                              for n, m in self.live()])

    def cmd_uidl(self, args, rest):
        if self.cfg.no_uidl:
            self.reply("-ERR unknown command")
        elif len(args) > 1:
            self.reply("-ERR usage: UIDL [msg]")
        elif args:
            m = self.lookup(args[0])
            if m:
                self.reply(b"+OK %d %s" % (int(args[0]), m.uid))
        else:
            self.reply_multi("+OK unique-id listing follows",
                             [b"%d %s" % (n, m.uid) for n, m in self.live()])

    def read_message(self, m):
        """Wire form of a message, or None after an -ERR reply."""
        try:
            return self.server.mailbox.wire(m)
        except OSError:
            self.reply("-ERR [SYS/TEMP] cannot read message")
            return None

    def cmd_retr(self, args, rest):
        if len(args) != 1:
            self.reply("-ERR usage: RETR msg")
            return
        m = self.lookup(args[0])
        wire = m and self.read_message(m)
        if wire is None:
            return
        self.retrs += 1
        head = b"+OK %d octets\r\n" % len(wire)
        body = dot_stuff(wire)
        if self.fault("cut_in_retr", self.retrs):
            self.send(head + body[:len(body) // 2])
            self.note("FAULT cut-in-retr")
            raise CloseConnection()
        if self.fault("hang_in_retr", self.retrs):
            self.send(head + body[:len(body) // 2])
            self.hang("hang-in-retr")
        if self.cfg.retr_delay:
            time.sleep(self.cfg.retr_delay / 1000.0)
        self.send(head + body + b".\r\n")

    def cmd_top(self, args, rest):
        if len(args) != 2:
            self.reply("-ERR usage: TOP msg lines")
            return
        if not is_number(args[1]):
            self.reply("-ERR invalid line count")
            return
        m = self.lookup(args[0])
        wire = m and self.read_message(m)
        if wire is None:
            return
        self.send(b"+OK top of message follows\r\n" +
                  dot_stuff(top_of(wire, int(args[1]))) + b".\r\n")

    def cmd_dele(self, args, rest):
        if len(args) != 1:
            self.reply("-ERR usage: DELE msg")
            return
        if self.lookup(args[0]):
            n = int(args[0])
            self.deleted.add(n)
            self.reply("+OK message %d deleted" % n)

    def cmd_noop(self, args, rest):
        self.reply("+OK")

    def cmd_rset(self, args, rest):
        self.deleted.clear()
        self.reply("+OK maildrop has " + self.drop_summary())


# --------------------------------------------------------------------------
# The listening server
# --------------------------------------------------------------------------

class Server:
    def __init__(self, cfg, script, ssl_context):
        self.cfg = cfg
        self.script = script
        self.connections = 0        # transcript mode: how many so far
        self.lock = threading.Lock()
        self.ssl_context = ssl_context
        self.user = os.fsencode(cfg.user)
        self.password = os.fsencode(cfg.password)
        self.token = os.fsencode(cfg.token)
        self.mailbox = Mailbox(cfg.mailbox) if cfg.mailbox else None
        self.log = EventLog(cfg.log, cfg.verbose)
        self.listener = None

    def listen(self):
        family = socket.AF_INET6 if ":" in self.cfg.bind else socket.AF_INET
        self.listener = socket.socket(family, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((self.cfg.bind, self.cfg.port or 0))
        self.listener.listen(64)
        return self.listener.getsockname()[1]

    def serve(self):
        """Accept until --max-sessions connections were taken, then wait
        for them to end.  Sessions are daemon threads: a signal must not
        wait for a hung session."""
        threads = []
        accepted = 0
        limit = self.cfg.max_sessions
        while limit is None or accepted < limit:
            conn, _ = self.listener.accept()
            accepted += 1
            session = Session(self, conn, accepted)
            t = threading.Thread(target=session.run, daemon=True)
            t.start()
            threads = [x for x in threads if x.is_alive()] + [t]
        # Refuse further connections rather than leave them queued unseen.
        self.listener.close()
        for t in threads:
            while t.is_alive():
                t.join(0.2)     # short joins keep signals deliverable


def write_atomically(path, text):
    """Write FILE.tmp and rename it, so a reader never sees half a file."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError("must be a positive integer: %r" % text)
    return value


def non_negative_int(text):
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError("must be an integer >= 0: %r" % text)
    return value


def list_size(text):
    number, colon, size = text.partition(":")
    if not colon or not size or re.search(r"\s", size):
        raise argparse.ArgumentTypeError("expected N:SIZE, got %r" % text)
    return positive_int(number), size


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="popserver.py",
        description="Scriptable POP3 test server for popfetch (loopback only).")
    p.add_argument("--mailbox", metavar="DIR",
                   help="directory of messages, one per file")
    p.add_argument("--script", metavar="FILE",
                   help="play this transcript on every connection (S:, "
                        "S-RAW:, C: regex, SLEEP s, STARTTLS, CLOSE; a "
                        "CONNECTION line starts the next connection's part)")
    p.add_argument("--bind", default="127.0.0.1", metavar="ADDR",
                   help="loopback address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=non_negative_int, metavar="N")
    p.add_argument("--port-file", metavar="FILE",
                   help="write the bound port here (atomically)")
    p.add_argument("--pidfile", metavar="FILE")
    p.add_argument("--tls", choices=("off", "implicit", "starttls"),
                   default="off")
    p.add_argument("--cert", metavar="FILE", help="PEM certificate (chain)")
    p.add_argument("--key", metavar="FILE", help="PEM private key")
    p.add_argument("--client-ca", metavar="FILE",
                   help="require a client certificate signed by this CA")
    p.add_argument("--no-stls-capa", action="store_true",
                   help="with --tls starttls: hide STLS and refuse it")
    p.add_argument("--inject-after-stls", metavar="BYTES",
                   help="plaintext sent right after +OK to STLS "
                        "(escapes \\r \\n \\t \\\\ \\xHH)")
    p.add_argument("--user", default="test")
    p.add_argument("--password", default="secret")
    p.add_argument("--pre-login-capa", metavar="WORDS",
                   help="before login answer CAPA with just these words "
                        "(a proxy's short list); after login the full one")
    p.add_argument("--sasl", default="", metavar="MECHS",
                   help="advertise and accept these SASL mechanisms (PLAIN "
                        "LOGIN CRAM-MD5 XOAUTH2 OAUTHBEARER SCRAM-SHA-1 "
                        "SCRAM-SHA-256)")
    p.add_argument("--scram-iterations", type=positive_int, default=4096,
                   metavar="N", help="the i= of SCRAM-SHA-1 and "
                   "SCRAM-SHA-256 (advertise them with --sasl)")
    p.add_argument("--refuse-sasl", default="", metavar="MECHS",
                   help="advertise these SASL mechanisms too, but answer "
                        "AUTH with them -ERR [AUTH] (Cyrus, Courier)")
    p.add_argument("--drop-input-at-login", action="store_true",
                   help="discard client input that arrived before the "
                        "login's +OK (Cyrus; Courier's and qmail's exec)")
    p.add_argument("--refuse-apop", action="store_true",
                   help="offer APOP in the greeting but refuse it "
                        "(solid-pop3d: a user without an APOP secret)")
    p.add_argument("--hangup-after-refusal", action="store_true",
                   help="close the connection after refusing a login "
                        "(solid-pop3d)")
    p.add_argument("--token", default="token", metavar="TOKEN",
                   help="the OAuth access token XOAUTH2/OAUTHBEARER accept")
    p.add_argument("--xoauth2-two-step", action="store_true",
                   help="refuse XOAUTH2 with an initial response (Outlook)")
    p.add_argument("--no-apop", action="store_true",
                   help="no APOP timestamp in the greeting")
    p.add_argument("--auth-fail-code", metavar="CODE",
                   help="refuse every PASS/APOP with -ERR [CODE]")
    p.add_argument("--greeting", metavar="TEXT",
                   help="raw greeting line instead of +OK ...")
    p.add_argument("--no-capa", action="store_true")
    p.add_argument("--no-uidl", action="store_true")
    p.add_argument("--pipelining", action="store_true")
    p.add_argument("--expire", metavar="N", help="advertise EXPIRE N")
    p.add_argument("--login-delay", type=non_negative_int, metavar="N",
                   help="advertise LOGIN-DELAY N")
    p.add_argument("--list-size", type=list_size, action="append",
                   default=[], metavar="N:SIZE",
                   help="LIST reports SIZE for message N (repeatable)")
    for name, what in (
            ("cut-after", "close after answering the Nth command"),
            ("cut-before-reply", "close on the Nth command, unanswered"),
            ("drop-reply", "carry out the Nth command, then close without "
             "its reply (QUIT: delete, but the client never hears it)"),
            ("cut-in-retr", "close halfway through the Nth RETR"),
            ("hang-in-retr", "go silent halfway through the Nth RETR"),
            ("hang-after", "go silent after answering the Nth command")):
        p.add_argument("--" + name, type=positive_int, metavar="N", help=what)
    p.add_argument("--hang-on", metavar="VERB",
                   help="go silent when the command VERB (as sent, e.g. "
                   "QUIT) arrives, before carrying it out (in the fault "
                   "sessions: a client held there, to be killed)")
    p.add_argument("--session-faults", metavar="FILE",
                   help="each session's faults, read from FILE as it "
                   "starts: 'hang-on VERB', 'hang-in-retr N', "
                   "'cut-after N' ... (none if FILE is missing or empty)")
    p.add_argument("--retr-delay", type=non_negative_int, default=0,
                   metavar="MS",
                   help="wait MS milliseconds before answering each RETR "
                   "(a slow link, in every session)")
    p.add_argument("--fault-sessions", type=non_negative_int, default=1,
                   metavar="K",
                   help="faults apply to the first K connections (default 1)")
    p.add_argument("--log", metavar="FILE", help="event log for tests")
    p.add_argument("--max-sessions", type=positive_int, metavar="N",
                   help="exit after N connections have ended")
    p.add_argument("--verbose", "-v", action="store_true",
                   help="trace the conversation on stdout")
    cfg = p.parse_args(argv)

    if cfg.script is None and cfg.mailbox is None:
        p.error("--mailbox DIR is required (unless --script)")
    if cfg.mailbox is not None and not os.path.isdir(cfg.mailbox):
        p.error("--mailbox %s: not a directory" % cfg.mailbox)
    if cfg.port is None and cfg.port_file is None:
        p.error("give --port N or --port-file FILE")
    try:
        if not ipaddress.ip_address(cfg.bind).is_loopback:
            p.error("--bind %s: only loopback addresses are allowed" % cfg.bind)
    except ValueError:
        p.error("--bind %s: not an IP address" % cfg.bind)
    cfg.list_size = dict(cfg.list_size)
    return p, cfg


def main(argv=None):
    parser, cfg = parse_args(argv)

    script = None
    if cfg.script is not None:
        try:
            script = parse_script(cfg.script)
        except (OSError, ValueError) as e:
            parser.error("--script: %s" % e)

    ssl_context = None
    wants_tls = cfg.tls != "off" or (script and any(k == "STARTTLS" for k, _ in script))
    if wants_tls:
        if not (cfg.cert and cfg.key):
            parser.error("TLS needs --cert FILE and --key FILE")
        ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            ssl_context.load_cert_chain(cfg.cert, cfg.key)
        except (OSError, ssl.SSLError) as e:
            parser.error("cannot load --cert/--key: %s" % e)
        if cfg.client_ca:
            ssl_context.verify_mode = ssl.CERT_REQUIRED
            ssl_context.load_verify_locations(cfg.client_ca)

    try:
        server = Server(cfg, script, ssl_context)
        port = server.listen()
    except OSError as e:
        print("popserver: %s" % e, file=sys.stderr)
        sys.exit(1)

    def on_signal(signum, frame):
        raise Shutdown()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    status = 0
    try:
        if cfg.pidfile:
            write_atomically(cfg.pidfile, "%d\n" % os.getpid())
        if cfg.port_file:
            write_atomically(cfg.port_file, "%d\n" % port)
        server.serve()
    except Shutdown:
        pass
    except OSError as e:
        print("popserver: %s" % e, file=sys.stderr)
        status = 1
    finally:
        # A second signal must not interrupt the clean-up.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            server.listener.close()
            if cfg.pidfile:
                os.unlink(cfg.pidfile)
        except OSError:
            pass
        sys.stdout.flush()
        sys.stderr.flush()
    # Hung sessions may still sleep in their threads; do not wait for them.
    os._exit(status)


if __name__ == "__main__":
    main()
