#!/usr/bin/env python3
"""first-bytes.py -- how a POP3 client starts on a port, for mpoprc.bats.

Listens on 127.0.0.1 on each port given and writes one line per
connection to --log: "PORT MODE", where MODE is
  implicit-tls  the client's first bytes were a TLS handshake record
  stls          a plain-text client asked for STLS (after CAPA, if any)
  plain         a plain-text client went on without STLS
  closed        the client closed without sending anything
The greeting goes out at once; a client speaking TLS from the start has
sent its ClientHello by then and never reads it as POP3.  CAPA is
answered offering STLS, USER and UIDL; after the deciding line the
connection is closed, so no client ever logs in.  Writes --port-file
(the word "ready") once every port listens.  Runs until killed, or
--lifetime seconds, whichever comes first.
"""

import argparse
import os
import selectors
import socket
import sys
import time


def classify(conn):
    """The MODE of the client on conn."""
    conn.settimeout(20)
    first = b""
    try:
        conn.sendall(b"+OK first-bytes ready\r\n")
        first = conn.recv(1)
        if not first:
            return "closed"
        if first == b"\x16":
            return "implicit-tls"
        buf = first
        while True:
            while b"\n" not in buf:
                more = conn.recv(512)
                if not more:
                    return "plain"
                buf += more
            line, buf = buf.split(b"\n", 1)
            word = line.strip().split(b" ")[0].upper()
            if word == b"CAPA":
                conn.sendall(b"+OK\r\nSTLS\r\nUSER\r\nUIDL\r\n.\r\n")
                continue
            return "stls" if word == b"STLS" else "plain"
    except (OSError, socket.timeout):
        return "closed" if not first else "plain"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--lifetime", type=float, default=600)
    ap.add_argument("ports", type=int, nargs="+")
    args = ap.parse_args()

    sel = selectors.DefaultSelector()
    for port in args.ports:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen(8)
        sel.register(s, selectors.EVENT_READ, port)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("ready\n")
    os.rename(tmp, args.port_file)

    end = time.monotonic() + args.lifetime
    while time.monotonic() < end:
        for key, _ in sel.select(timeout=1):
            conn, _ = key.fileobj.accept()
            # Counted before the greeting goes out: a TLS client that
            # reads it may be gone before its line is written, and the
            # caller waits for as many lines as accepts.
            with open(args.log + ".accepts", "a") as f:
                f.write("%d\n" % key.data)
            with conn:
                mode = classify(conn)
                # Logged before the close the client waits for: once the
                # client has exited, its line is there.
                with open(args.log, "a") as f:
                    f.write("%d %s\n" % (key.data, mode))
    return 0


if __name__ == "__main__":
    sys.exit(main())
