#!/usr/bin/env python3
"""inetd.py -- run an inetd-style POP3 server (popa3d, solid-pop3d) on a
loopback port for the tests.

    inetd.py --port-file FILE [--log FILE] -- COMMAND [ARG...]

Listens on 127.0.0.1 at a free port, writes the port number to FILE once
listening, and for each connection forks COMMAND with the connection as its
standard input and output (inetd's "nowait" mode: one process per
connection, as the servers expect). Their standard error goes to --log.
Ends on SIGTERM or SIGINT; sessions still running end when their client
hangs up. Used by tests/lib/smallpop.bash only.
"""

import argparse
import os
import signal
import sys

from scriptserver_common import listen_loopback


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", default=None)
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.command
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        ap.error("no command")

    # Children are reaped by the kernel: nobody waits for their status.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))

    lsock = listen_loopback(args.port_file, backlog=16)

    log = os.open(args.log or os.devnull,
                  os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    while True:
        try:
            conn, _ = lsock.accept()
        except InterruptedError:
            continue
        pid = os.fork()
        if pid == 0:
            lsock.close()
            fd = conn.fileno()
            os.dup2(fd, 0)
            os.dup2(fd, 1)
            os.dup2(log, 2)
            os.closerange(3, 1024)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGPIPE, signal.SIG_DFL)
            try:
                os.execv(cmd[0], cmd)
            finally:
                os._exit(127)
        conn.close()


if __name__ == "__main__":
    main()
