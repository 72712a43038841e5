"""What the scriptable destination servers share (tests/imapserver.py,
tests/lmtpserver.py, tests/inetd.py): a loopback listener whose port goes
to a port file, the accept loop, and the Maildir they store into.

The servers run as `python3 tests/NAME.py`, so this file, next to them,
is on their import path.
"""
import os
import socket
import sys


def listen_loopback(port_file, backlog=8):
    """A socket listening on 127.0.0.1 on a free port; the port is written
    to port_file at once and whole (through a rename), as the tests wait
    for the file to be non-empty."""
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(backlog)
    tmp = port_file + ".tmp"
    with open(tmp, "w") as fp:
        fp.write("%d\n" % ls.getsockname()[1])
    os.rename(tmp, port_file)
    return ls


def serve_one_at_a_time(ls, serve, note, quiet=()):
    """Accepts connections on ls forever and hands each to serve(conn), one
    after the other.  A connection error is noted (note(text)) and the next
    connection served; the exceptions in quiet end a connection silently."""
    while True:
        conn, _ = ls.accept()
        try:
            serve(conn)
        except quiet:
            pass
        except (ConnectionError, OSError) as e:
            note("connection error: %s" % e)
        finally:
            conn.close()


def maildir_store(maildir, n, data):
    """data as message n (named %05d) in maildir/new, through maildir/tmp."""
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(maildir, sub), exist_ok=True)
    tmp = os.path.join(maildir, "tmp", "%05d" % n)
    with open(tmp, "wb") as fp:
        fp.write(data)
    os.rename(tmp, os.path.join(maildir, "new", "%05d" % n))


def run(main):
    """main(), with SIGINT (a test's teardown) ending it quietly."""
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
