#!/usr/bin/env python3
"""gmailserver -- the tests' own mock of the Gmail API, for `delivery gmail`.

  gmailserver.py DIR CERT KEY [--token T] [--introspect URL --ca FILE]
                 [--delay SECONDS]

HTTPS on 127.0.0.1 (a free port, written to DIR/port) with the tests'
certificate.  What popfetch uses of the API:

  POST /upload/gmail/v1/users/me/messages/import   uploadType=multipart
       (JSON metadata with labelIds, then message/rfc822) or media
  GET  /gmail/v1/users/me/labels                   users.labels.list
  POST /gmail/v1/users/me/labels                   users.labels.create
  GET  /gmail/v1/users/me/messages?q=rfc822msgid:<ID>  users.messages.list
  GET  /gmail/v1/users/me/messages/ID              users.messages.get

--delay makes each import take that long before its answer, as Google's
processing does (for measurements; tests choose fault moments by
progress).

Every request needs "Authorization: Bearer TOKEN": T when --token is
given, else a token the tests' OAuth server (oauthserver.py) says is
active at its introspection URL; otherwise 401 as Google answers it.

An imported message is stored byte-exact in DIR/raw/NNNNN, with LF line
ends in DIR/new/NNNNN (a maildir for assert_maildir_matches; written to
DIR/tmp first, then renamed), its labels and the import's parameters in
DIR/meta/NNNNN.  DIR/labels (JSON, read at start if present) seeds the
user labels {name: id}; while DIR/create-conflict exists, users.labels.create
makes the label and answers 409 (as if another client had made it).

Faults, by progress: DIR/faults, read at each import, holds lines
"K ACTION" for the K-th import request (counting every one, refused ones
too).  ACTION:
  401 | 400 | 403 | 413 | 500 | 503   that status, Google's JSON error
  429[:SECONDS]     Too Many Requests, with Retry-After SECONDS if given
  ratelimit         403 with reason userRateLimitExceeded
  drop              store the message, then close the connection unanswered
  cut               close the connection without reading the body
  stall             store, create DIR/stalled-K, answer once DIR/release
                    exists (at most 60 s)
  hang              store nothing, answer nothing for 120 s
  close             store, answer 200 (keep-alive), then close the
                    connection unannounced
  hide500           store, answer 500, and leave the message out of the
                    next rfc822msgid search (a search index lagging)
  html | huge | types   store nothing, answer 200 with an HTML page,
                    2 MiB of JSON, or an "id" that is a number
  gather:N          imports K to K+N-1 each wait (at most 60 s) until all
                    of them have come, so that N are in flight at once;
                    then each goes on as its own line says ("import K
                    gathered N" in the log, or "import K gather timed out")
The imports in flight at once are counted: the most seen so far is in
DIR/maxinflight.
Written to DIR: port; log (one line per request: "import 3 -> 200 m00003
labels=INBOX,UNREAD params=...", "labels.create NAME -> ID",
"list rfc822msgid:<ID> -> 1", "auth refused", "fault import 2 drop").

Test tooling: loopback only.  Python 3 stdlib only.
"""

import http.server
import json
import os
import socket
import ssl
import sys
import threading
import time
import urllib.parse
import urllib.request

DIR = sys.argv[1]
CERT, KEY = sys.argv[2], sys.argv[3]
ARGS = sys.argv[4:]
LOCK = threading.Lock()
STATE = {"imports": 0, "stored": 0, "labels": {}, "msgs": {},
         "hidden": set(), "inflight": 0, "maxinflight": 0}


def opt(name):
    return ARGS[ARGS.index(name) + 1] if name in ARGS else None


TOKEN = opt("--token")
INTROSPECT = opt("--introspect")
CA = opt("--ca")
DELAY = float(opt("--delay") or 0)


def path(*names):
    return os.path.join(DIR, *names)


def log(line):
    with LOCK, open(path("log"), "a") as f:
        f.write(line + "\n")


def faults():
    try:
        with open(path("faults")) as f:
            return [line.strip().partition(" ")[::2] for line in f]
    except FileNotFoundError:
        return []


def fault_for(k):
    for n, action in faults():
        if n == str(k) and not action.startswith("gather:"):
            return action
    return None


def gather(k):
    """Wait until the imports of k's gather:N line have all come."""
    for n, action in faults():
        if not action.startswith("gather:") or not n.isdigit():
            continue
        first, count = int(n), int(action[7:])
        if not first <= k < first + count:
            continue
        deadline = time.time() + 60
        while time.time() < deadline:
            with LOCK:
                come = STATE["imports"] >= first + count - 1
            if come:
                # All come, none answered yet: count in flight at once.
                return log("import %d gathered %d" % (k, count))
            time.sleep(0.02)
        log("import %d gather timed out" % k)


def count_in(delta):
    with LOCK:
        STATE["inflight"] += delta
        if STATE["inflight"] <= STATE["maxinflight"]:
            return
        STATE["maxinflight"] = STATE["inflight"]
        with open(path("maxinflight.tmp"), "w") as f:
            f.write("%d\n" % STATE["maxinflight"])
        os.rename(path("maxinflight.tmp"), path("maxinflight"))


def token_ok(tok):
    if TOKEN is not None:
        return tok == TOKEN
    ctx = ssl.create_default_context(cafile=CA)
    data = urllib.parse.urlencode({"token": tok}).encode()
    try:
        with urllib.request.urlopen(INTROSPECT, data, timeout=30,
                                    context=ctx) as r:
            return json.load(r).get("active") is True
    except OSError:
        return False


def google_error(code, message, status, reason=None):
    e = {"code": code, "message": message, "status": status}
    if reason:
        e["errors"] = [{"message": message, "domain": "usageLimits",
                        "reason": reason}]
    return {"error": e}


def msgid_of(raw):
    head = raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    for line in head.split(b"\n"):
        if line.lower().startswith(b"message-id:"):
            v = line[11:].strip()
            return v.decode("latin-1").strip("<>")
    return None


def store(raw, labels, params):
    with LOCK:
        STATE["stored"] += 1
        n = STATE["stored"]
        mid = "m%05d" % n
        STATE["msgs"][mid] = raw
    name = "%05d" % n
    for d in ("raw", "new", "tmp", "cur", "meta"):
        os.makedirs(path(d), exist_ok=True)
    with open(path("raw", name), "wb") as f:
        f.write(raw)
    with open(path("tmp", name), "wb") as f:
        f.write(raw.replace(b"\r\n", b"\n"))
    os.rename(path("tmp", name), path("new", name))
    with open(path("meta", name), "w") as f:
        json.dump({"labelIds": labels, "params": params, "id": mid}, f)
    return mid


def multipart(ctype, body):
    """The JSON metadata and the message of a multipart/related body."""
    b = None
    for p in ctype.split(";"):
        k, _, v = p.strip().partition("=")
        if k.lower() == "boundary":
            b = v.strip('"').encode()
    if b is None or not body.startswith(b"--" + b + b"\r\n"):
        raise ValueError("not multipart/related with its boundary first")
    end = body.rfind(b"\r\n--" + b + b"--")
    if end < 0:
        raise ValueError("no closing boundary")
    sep = body.find(b"\r\n--" + b + b"\r\n")
    if sep < 0 or sep >= end:
        raise ValueError("one part only")
    p1 = body[len(b) + 4:sep]
    p2 = body[sep + len(b) + 6:end]
    h1, _, meta = p1.partition(b"\r\n\r\n")
    h2, _, msg = p2.partition(b"\r\n\r\n")
    if b"application/json" not in h1.lower() or \
            b"message/rfc822" not in h2.lower():
        raise ValueError("wrong part types")
    return json.loads(meta or b"{}"), msg


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, code, body, ctype="application/json", extra=()):
        if not isinstance(body, (bytes, bytearray)):
            body = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def drop(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def body(self):
        n = int(self.headers.get("Content-Length", "0"))
        return self.rfile.read(n) if n > 0 else b""

    def authorized(self):
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer ") and token_ok(auth[7:]):
            return True
        log("auth refused")
        self.send(401, google_error(
            401, "Request had invalid authentication credentials. Expected "
            "OAuth 2 access token.", "UNAUTHENTICATED"),
            extra=[("WWW-Authenticate", 'Bearer realm="test"')])
        return False

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        if not self.authorized():
            return
        if u.path == "/gmail/v1/users/me/labels":
            labels = [{"id": i, "name": i, "type": "system"} for i in
                      ("INBOX", "UNREAD", "SPAM", "TRASH", "STARRED")]
            labels += [{"id": i, "name": n, "type": "user"}
                       for n, i in STATE["labels"].items()]
            log("labels.list")
            return self.send(200, {"labels": labels})
        if u.path == "/gmail/v1/users/me/messages":
            want = q.get("q", [""])[0]
            if not want.startswith("rfc822msgid:"):
                return self.send(400, google_error(
                    400, "unsupported query", "INVALID_ARGUMENT"))
            mid = want[12:].strip("<>")
            found = [{"id": k, "threadId": k} for k, raw in
                     sorted(STATE["msgs"].items()) if msgid_of(raw) == mid
                     and k not in STATE["hidden"]]
            # A lagging search finds a hidden message the next time.
            STATE["hidden"] -= {k for k, raw in STATE["msgs"].items()
                                if msgid_of(raw) == mid}
            log("list %s spamtrash=%s -> %d" % (
                want, q.get("includeSpamTrash", ["false"])[0], len(found)))
            r = {"resultSizeEstimate": len(found)}
            if found:
                r["messages"] = found
            return self.send(200, r)
        pre = "/gmail/v1/users/me/messages/"
        if u.path.startswith(pre):
            k = u.path[len(pre):]
            log("get %s -> %s" % (k, 200 if k in STATE["msgs"] else 404))
            if k in STATE["msgs"]:
                return self.send(200, {"id": k, "threadId": k, "sizeEstimate":
                                       len(STATE["msgs"][k])})
        self.send(404, google_error(404, "Not Found", "NOT_FOUND"))

    def do_POST(self):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        if u.path == "/upload/gmail/v1/users/me/messages/import":
            return self.do_import(q)
        data = self.body()
        if not self.authorized():
            return
        if u.path == "/gmail/v1/users/me/labels":
            name = json.loads(data).get("name")
            if not isinstance(name, str) or not name:
                return self.send(400, google_error(
                    400, "Invalid label name", "INVALID_ARGUMENT"))
            if any(n.lower() == name.lower() for n in STATE["labels"]):
                return self.send(409, google_error(
                    409, "Label name exists or conflicts", "ALREADY_EXISTS"))
            lid = "Label_%d" % (len(STATE["labels"]) + 1)
            STATE["labels"][name] = lid
            if os.path.exists(path("create-conflict")):
                # Made by someone else just before: 409 as Gmail answers.
                log("labels.create %s -> 409, %s made elsewhere" % (name, lid))
                return self.send(409, google_error(
                    409, "Label name exists or conflicts", "ALREADY_EXISTS"))
            log("labels.create %s -> %s" % (name, lid))
            return self.send(200, {"id": lid, "name": name})
        self.send(404, google_error(404, "Not Found", "NOT_FOUND"))

    def do_import(self, q):
        count_in(1)
        try:
            self.import_one(q)
        finally:
            count_in(-1)

    def import_one(self, q):
        with LOCK:
            STATE["imports"] += 1
            k = STATE["imports"]
        action = fault_for(k)
        if action:
            log("fault import %d %s" % (k, action))
        if action == "cut":
            return self.drop()
        data = self.body()
        if not self.authorized():
            return
        gather(k)
        if DELAY > 0:
            time.sleep(DELAY)
        code = action.split(":")[0] if action else None
        if code in ("401", "400", "403", "413", "500", "503"):
            texts = {"400": ("Invalid message: no recipients", "INVALID_ARGUMENT"),
                     "403": ("Insufficient Permission", "PERMISSION_DENIED"),
                     "413": ("Request Entity Too Large", "INVALID_ARGUMENT"),
                     "401": ("Invalid Credentials", "UNAUTHENTICATED"),
                     "500": ("Backend Error", "INTERNAL"),
                     "503": ("The service is currently unavailable.",
                             "UNAVAILABLE")}
            m, st = texts[code]
            log("import %d -> %s" % (k, code))
            return self.send(int(code), google_error(int(code), m, st))
        if code == "429":
            extra = [("Retry-After", action.split(":")[1])] \
                if ":" in action else []
            log("import %d -> 429" % k)
            return self.send(429, google_error(
                429, "Too many concurrent requests for user",
                "RESOURCE_EXHAUSTED", "rateLimitExceeded"), extra=extra)
        if code == "ratelimit":
            log("import %d -> 403 ratelimit" % k)
            return self.send(403, google_error(
                403, "User-rate limit exceeded", "PERMISSION_DENIED",
                "userRateLimitExceeded"))
        if code == "hang":
            time.sleep(120)
            return self.drop()
        try:
            if q.get("uploadType") == ["media"]:
                meta, raw = {}, data
            else:
                meta, raw = multipart(self.headers.get("Content-Type", ""),
                                      data)
        except ValueError as e:
            log("import %d -> 400 (%s)" % (k, e))
            return self.send(400, google_error(400, str(e),
                                               "INVALID_ARGUMENT"))
        params = {p: q[p][0] for p in ("uploadType", "internalDateSource",
                                       "neverMarkSpam") if p in q}
        labels = meta.get("labelIds", [])
        if code == "html":
            return self.send(200, b"<html><body>\x1b[31mhi</body></html>",
                             ctype="text/html")
        if code == "huge":
            return self.send(200, b'{"id": "' + b"x" * (2 << 20) + b'"}')
        if code == "types":
            return self.send(200, {"id": 12345, "labelIds": "INBOX"})
        mid = store(raw, labels, params)
        if code == "hide500":
            # Kept, but answered 500, and Gmail's search lags behind.
            STATE["hidden"].add(mid)
            log("import %d stored %s, answered 500" % (k, mid))
            return self.send(500, google_error(500, "Backend Error",
                                               "INTERNAL"))
        log("import %d -> 200 %s labels=%s params=%s" % (
            k, mid, ",".join(labels),
            ",".join("%s=%s" % kv for kv in sorted(params.items()))))
        if code == "drop":
            return self.drop()
        if code == "stall":
            open(path("stalled-%d" % k), "w").close()
            deadline = time.time() + 60
            while not os.path.exists(path("release")) and \
                    time.time() < deadline:
                time.sleep(0.05)
        self.send(200, {"id": mid, "threadId": mid, "labelIds": labels})
        if code == "close":
            self.drop()


def main():
    try:
        with open(path("labels")) as f:
            STATE["labels"] = json.load(f)
    except FileNotFoundError:
        pass
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(CERT, KEY)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    with open(path("port.tmp"), "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(path("port.tmp"), path("port"))
    srv.serve_forever()


if __name__ == "__main__":
    main()
