#!/usr/bin/env python3
"""badsocks.py -- a SOCKS5 proxy that misbehaves on purpose, for tests.

Listens on 127.0.0.1 (a free port, written to --port-file), takes the
client's greeting and CONNECT request, logs the request to --log as
"REQUEST ATYP ADDRESS PORT", and then, as --mode says:
  refuse   answers CONNECT with REP 5 (connection refused)
  close    closes the connection right after the greeting
  garbage  answers the greeting with bytes that are not SOCKS5
  auth     accepts none of the offered methods (wants a login)
  slow     takes --delay seconds before each of its three answers (the
           method, the head of the CONNECT reply, the bound address),
           then refuses: each step within the client's timeout, the
           whole handshake not (logs "GREETING" when the client's came)
  stall    answers the greeting, then sends 2 of the 4 bytes that head
           the CONNECT reply, logs "STALLED" and sends nothing more
           until the client goes away
It never connects anywhere.  Exits after --max-sessions connections.
"""
import argparse
import socket
import sys
import time


def recv_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError()
        data += chunk
    return data


def session(conn, mode, log, delay):
    ver, nmethods = recv_exact(conn, 2)
    recv_exact(conn, nmethods)
    if mode == "slow":
        with open(log, "a") as f:
            f.write("GREETING\n")
        time.sleep(delay)
    if mode == "close":
        return
    if mode == "garbage":
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        return
    if mode == "auth":
        conn.sendall(b"\x05\xff")
        return
    conn.sendall(b"\x05\x00")
    ver, cmd, rsv, atyp = recv_exact(conn, 4)
    if atyp == 1:
        addr = socket.inet_ntop(socket.AF_INET, recv_exact(conn, 4))
    elif atyp == 4:
        addr = socket.inet_ntop(socket.AF_INET6, recv_exact(conn, 16))
    else:
        addr = recv_exact(conn, recv_exact(conn, 1)[0]).decode("latin-1")
    port = int.from_bytes(recv_exact(conn, 2), "big")
    with open(log, "a") as f:
        f.write("REQUEST %d %s %d\n" % (atyp, addr, port))
    if mode == "stall":
        conn.sendall(b"\x05\x00")
        with open(log, "a") as f:
            f.write("STALLED\n")
        while conn.recv(1):
            pass
        return
    if mode == "slow":
        time.sleep(delay)
        conn.sendall(b"\x05\x05\x00\x01")
        time.sleep(delay)
        conn.sendall(b"\x00\x00\x00\x00\x00\x00")
        return
    conn.sendall(b"\x05\x05\x00\x01\x00\x00\x00\x00\x00\x00")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--mode", required=True,
                   choices=("refuse", "close", "garbage", "auth", "slow",
                            "stall"))
    p.add_argument("--delay", type=float, default=2.0)
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--max-sessions", type=int, default=1)
    a = p.parse_args()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(4)
    s.settimeout(30)            # a test that never connects ends anyway
    with open(a.port_file + ".tmp", "w") as f:
        f.write("%d\n" % s.getsockname()[1])
    import os
    os.rename(a.port_file + ".tmp", a.port_file)
    for _ in range(a.max_sessions):
        conn, _ = s.accept()
        conn.settimeout(30)
        try:
            session(conn, a.mode, a.log, a.delay)
        except (EOFError, OSError):
            pass
        finally:
            conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
