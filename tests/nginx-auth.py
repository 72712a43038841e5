#!/usr/bin/env python3
"""The auth_http service of the tests' nginx mail proxy (loopback only).

  nginx-auth.py PORTFILE BACKEND_PORT PASSWORDS_FILE LOG

Listens on 127.0.0.1 (a free port, written to PORTFILE) and answers
nginx's auth_http requests (http://nginx.org/en/docs/mail/
ngx_mail_auth_http_module.html): a user whose password matches a
"user password" line of PASSWORDS_FILE is sent on to 127.0.0.1:
BACKEND_PORT (APOP digests are checked against nginx's timestamp, and
the password handed back for nginx's login to the store); a wrong
password gets "Invalid login or password"; user
"dropme" gets no answer at all (the HTTP connection is closed), which
nginx turns into dropping the client at login.  Every request is logged
to LOG as "method user protocol".
"""

import hashlib
import http.server
import os
import sys


def passwords(path):
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            user, _, pw = line.rstrip("\n").partition(" ")
            out[user] = pw
    return out


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        user = self.headers.get("Auth-User", "")
        method = self.headers.get("Auth-Method", "")
        with open(self.server.log, "a", encoding="utf-8") as f:
            f.write("%s %s %s\n" % (method, user,
                                    self.headers.get("Auth-Protocol", "")))
        if user == "dropme":
            self.close_connection = True
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        self.send_response(200)
        pw = passwords(self.server.pwfile).get(user)
        given = self.headers.get("Auth-Pass", "")
        if method == "apop" and pw is not None:
            # APOP: the digest of nginx's greeting timestamp and the password.
            salt = self.headers.get("Auth-Salt", "").strip()
            ok = hashlib.md5((salt + pw).encode()).hexdigest() == given
        else:
            ok = pw is not None and pw == given
        if ok:
            self.send_header("Auth-Status", "OK")
            self.send_header("Auth-Server", "127.0.0.1")
            self.send_header("Auth-Port", str(self.server.backend))
            # nginx logs in to the store with USER/PASS: for APOP it needs
            # the password itself.
            self.send_header("Auth-Pass", pw)
        else:
            self.send_header("Auth-Status", "Invalid login or password")
        self.end_headers()

    def log_message(self, fmt, *args):
        pass


def main(argv):
    if len(argv) != 5:
        sys.exit(__doc__)
    srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    srv.backend = int(argv[2])
    srv.pwfile = argv[3]
    srv.log = argv[4]
    tmp = argv[1] + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, argv[1])
    srv.serve_forever()


if __name__ == "__main__":
    main(sys.argv)
