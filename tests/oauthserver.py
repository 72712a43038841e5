#!/usr/bin/env python3
"""oauthserver -- a small OAuth 2.0 authorization server for popfetch's tests.

HTTPS on 127.0.0.1 (a free port, written to DIR/port) with the tests'
certificate.  It speaks what popfetch uses and what Dovecot's oauth2
passdb asks:

  POST /device      RFC 8628 device authorization (interval 1 s)
  GET  /verify      the user approves: ?user_code=CODE (curl plays the user)
  GET  /authorize   authorization code + PKCE S256: 302 to redirect_uri
                    with code and state (curl -L plays the browser)
  POST /token       grant_type device_code, authorization_code, refresh_token
  POST /introspect  RFC 7662: token=... -> {"active", "username"}

Refresh tokens rotate: each refresh issues a new one.  A spent refresh
token is refused with invalid_grant once its successor was used; before
that (the client died before saving the successor) it may be spent again,
as real servers allow for a grace period.

Control files in DIR, read at each request:
  user          the user name tokens are issued for (default "alice")
  expires_in    access token lifetime in seconds (default 3600)
  revoked       exists: every grant refused (AADSTS50173), every token
                inactive
  mode          a fault for /token: down (HTTP 503), huge (200 KiB JSON),
                types (fields of the wrong JSON types), html, redirect
  client_secret the secret /token requires (else invalid_client)
  slow_down     exists: the next device poll gets slow_down (then removed)
  hold-refresh  exists: a refresh's new tokens are issued, then DIR/held
                is created and the answer waits for DIR/release (<= 60 s)
Written to DIR: port; log (one line per event: "refresh rt-1 -> rt-2",
"device approved", "introspect at-3 active", "reuse rt-1 refused").

Test tooling: loopback only, logs tokens verbatim.  Python 3 stdlib only.
"""

import base64
import hashlib
import http.server
import json
import os
import ssl
import sys
import threading
import time
import urllib.parse

DIR = sys.argv[1]
CERT, KEY = sys.argv[2], sys.argv[3]
LOCK = threading.Lock()
STATE = {"n": 0, "devices": {}, "codes": {}, "access": {}, "refresh": {}}


def path(name):
    return os.path.join(DIR, name)


def ctl(name, default=None):
    try:
        with open(path(name)) as f:
            return f.read().strip()
    except FileNotFoundError:
        return default


def log(line):
    with open(path("log"), "a") as f:
        f.write(line + "\n")


def new_id(prefix):
    STATE["n"] += 1
    return "%s-%d-%s" % (prefix, STATE["n"], os.urandom(6).hex())


def issue(user, parent=None):
    """New access and refresh tokens for user; parent is the spent one."""
    at = new_id("at")
    rt = new_id("rt")
    life = int(ctl("expires_in", "3600"))
    STATE["access"][at] = {"user": user, "exp": time.time() + life}
    STATE["refresh"][rt] = {"user": user, "used": False, "child": None}
    if parent is not None:
        STATE["refresh"][parent]["child"] = rt
    t = {"access_token": at, "refresh_token": rt, "token_type": "Bearer",
         "expires_in": life, "scope": "pop"}
    if parent is None:
        # OpenID Connect: who signed in (the signature is not checked).
        claims = json.dumps({"preferred_username": user + "@example.test"})
        t["id_token"] = "e30." + base64.urlsafe_b64encode(
            claims.encode()).decode().rstrip("=") + ".sig"
    return t


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, code, body, ctype="application/json", extra=()):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def form(self):
        n = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(n).decode()
        return {k: v[0] for k, v in urllib.parse.parse_qs(raw).items()}

    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        q = {k: v[0] for k, v in urllib.parse.parse_qs(u.query).items()}
        if u.path == "/verify":
            with LOCK:
                for d in STATE["devices"].values():
                    if d["user_code"] == q.get("user_code"):
                        d["approved"] = True
                        log("device approved")
                        return self.send(200, b"approved\n", "text/plain")
            return self.send(404, b"no such code\n", "text/plain")
        if u.path == "/authorize":
            if q.get("response_type") != "code" or \
                    q.get("code_challenge_method") != "S256" or \
                    not q.get("code_challenge") or not q.get("state"):
                return self.send(400, b"bad request\n", "text/plain")
            with LOCK:
                code = new_id("code")
                STATE["codes"][code] = q
            log("authorize %s scope=%s" % (code, q.get("scope", "")))
            sep = "&" if "?" in q["redirect_uri"] else "?"
            loc = q["redirect_uri"] + sep + urllib.parse.urlencode(
                {"code": code, "state": q["state"]})
            return self.send(302, b"", "text/plain", [("Location", loc)])
        self.send(404, b"not found\n", "text/plain")

    def do_POST(self):
        f = self.form()
        if self.path == "/device":
            with LOCK:
                dc = new_id("dc")
                uc = "UC%d" % STATE["n"]
                STATE["devices"][dc] = {"user_code": uc, "approved": False}
            base = "https://127.0.0.1:%d/verify" % self.server.server_port
            log("device %s scope=%s" % (dc, f.get("scope", "")))
            return self.send(200, {"device_code": dc, "user_code": uc,
                                   "verification_uri": base,
                                   "verification_uri_complete":
                                   base + "?user_code=" + uc,
                                   "expires_in": 300, "interval": 1})
        if self.path == "/introspect":
            tok = f.get("token", "")
            with LOCK:
                a = STATE["access"].get(tok)
                ok = a is not None and a["exp"] > time.time() and \
                    not os.path.exists(path("revoked"))
            log("introspect %s %s" % (tok, "active" if ok else "inactive"))
            if not ok:
                return self.send(200, {"active": False})
            return self.send(200, {"active": True, "username": a["user"],
                                   "scope": "pop"})
        if self.path == "/token":
            return self.token(f)
        self.send(404, b"not found\n", "text/plain")

    def fault(self):
        mode = ctl("mode", "")
        if mode in ("down", "huge", "types", "html", "redirect"):
            # Logged first: the client may hang up in the middle.
            log("fault " + mode)
        if mode == "down":
            self.send(503, b"<html>down</html>", "text/html")
        elif mode == "huge":
            self.send(200, {"access_token": "A" * 200000,
                            "token_type": "Bearer"})
        elif mode == "types":
            self.send(200, {"access_token": 12345, "token_type": "Bearer",
                            "expires_in": "soon", "refresh_token": []})
        elif mode == "html":
            self.send(200, b"<html><body>Sign in</body></html>",
                      "text/html")
        elif mode == "redirect":
            self.send(302, b"", "text/plain",
                      [("Location", "https://elsewhere.invalid/token")])
        else:
            return False
        return True

    def error(self, code, desc, status=400):
        self.send(status, {"error": code, "error_description": desc,
                           "error_codes": [50173]})

    def token(self, f):
        if self.fault():
            return
        g = f.get("grant_type")
        user = ctl("user", "alice")
        want = ctl("client_secret")
        if want is not None and f.get("client_secret") != want:
            log("invalid_client")
            return self.error("invalid_client", "AADSTS7000215: Invalid "
                              "client secret provided.", 401)
        if os.path.exists(path("revoked")):
            log("grant %s refused: revoked" % g)
            return self.error("invalid_grant", "AADSTS50173: The provided "
                              "grant has expired due to it being revoked.")
        if g == "urn:ietf:params:oauth:grant-type:device_code":
            return self.device_grant(f, user)
        if g == "authorization_code":
            return self.code_grant(f, user)
        if g == "refresh_token":
            return self.refresh_grant(f)
        self.error("unsupported_grant_type", "no")

    def device_grant(self, f, user):
        if os.path.exists(path("slow_down")):
            os.unlink(path("slow_down"))
            log("device slow_down")
            return self.error("slow_down", "polling too fast")
        with LOCK:
            d = STATE["devices"].get(f.get("device_code"))
            if d is None:
                return self.error("invalid_grant", "unknown device code")
            if not d["approved"]:
                log("device pending")
                return self.error("authorization_pending", "waiting")
            del STATE["devices"][f["device_code"]]
            t = issue(user)
        log("device tokens %s %s" % (t["access_token"], t["refresh_token"]))
        self.send(200, t)

    def code_grant(self, f, user):
        with LOCK:
            q = STATE["codes"].pop(f.get("code"), None)
        if q is None or q["redirect_uri"] != f.get("redirect_uri"):
            return self.error("invalid_grant", "unknown code")
        v = f.get("code_verifier", "").encode()
        ch = base64.urlsafe_b64encode(hashlib.sha256(v).digest())
        if ch.decode().rstrip("=") != q["code_challenge"]:
            log("code pkce mismatch")
            return self.error("invalid_grant", "PKCE verification failed")
        with LOCK:
            t = issue(user)
        log("code tokens %s %s" % (t["access_token"], t["refresh_token"]))
        self.send(200, t)

    def refresh_grant(self, f):
        rt = f.get("refresh_token")
        with LOCK:
            r = STATE["refresh"].get(rt)
            child = r and r["child"] and STATE["refresh"][r["child"]]
            if r is None or (child and child["used"]):
                log("reuse %s refused" % rt)
                return self.error("invalid_grant", "AADSTS70000: the "
                                  "refresh token was already used")
            r["used"] = True
            t = issue(r["user"], rt)
        log("refresh %s -> %s %s" % (rt, t["refresh_token"],
                                     t["access_token"]))
        if os.path.exists(path("hold-refresh")):
            open(path("held"), "w").close()
            end = time.time() + 60
            while not os.path.exists(path("release")) and time.time() < end:
                time.sleep(0.05)
        try:
            self.send(200, t)
        except OSError:
            log("refresh answer lost")


def main():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(CERT, KEY)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    tmp = path("port.tmp")
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_port)
    os.rename(tmp, path("port"))
    srv.serve_forever()


if __name__ == "__main__":
    main()
