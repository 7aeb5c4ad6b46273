#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The upstream servers of test_tls.sh and bench/tls.sh (Debian's python3,
standard library only; git mode needs Debian's git).

  tls_servers.py MODE --addr ADDR --port PORT [options]

Modes:
  echo   HTTPS (HTTP with --plain) that answers every request, whatever
         its method, with one JSON object:
           {"method", "target", "version", "headers": [[name, value]...],
            "body_len", "body_sha256", "sni", "alpn", "conn", "seq",
            "basic": "user:pass" of an Authorization: Basic (or null),
            "secrets": how many --secret-file values the request held}
         conn numbers the connection (from 1), seq the request on it
         (from 1): keep-alive is visible. HTTP/1.1 with Content-Length
         on every answer (keep-alive, pipelining); a request body is
         read by Content-Length or chunked.
           /gzip      the same JSON, gzip-compressed, Content-Encoding: gzip
           /big?n=N   N bytes (a fixed pseudo-random pattern), with
                      X-Body-Sha256 (N at most 1 GiB)
           /status?c=C  the JSON with status C
  git    smart HTTP (git clone/fetch/push) by `git http-backend` as a CGI
         for the repositories under --repo DIR (GIT_HTTP_EXPORT_ALL);
         --basic-file FILE (one line "user:pass") requires that Basic
         auth (401 with WWW-Authenticate otherwise).
  proxy  a CONNECT proxy over plain HTTP: "CONNECT host:port" opens a TCP
         connection to host:port (the name resolved here), answers 200
         and relays both ways; any other request gets 405. Each CONNECT
         line is appended to --log.

  scan WORDS FILE...  (no server) how often any 16-byte window of each
         line of WORDS occurs in the FILEs: a word cut in two anywhere
         (a QEMU state file has a header between two pages) still has a
         whole window on one side when it is 32 bytes or longer; print
         "hits=N" and, for each word found, "word L: N"

Options:
  --cert FILE --key FILE   the server's certificate chain and key (PEM);
                           required by echo and git unless --plain
  --plain                  no TLS (echo and git)
  --alpn LIST              ALPN protocols offered, comma-separated
                           (default http/1.1)
  --ready FILE             written once the socket listens
  --log FILE               one JSON line per request (echo, git: as seen,
                           unredacted) or per CONNECT (proxy), appended
  --secret-file FILE       values (one a line) the answer must not carry
                           back: each is replaced by "[secret]" in what
                           echo sends (target, headers, basic), raw,
                           percent-encoded and inside Basic credentials;
                           the --log file keeps them (the host's side)
A connection idle for 60 s is closed; every read has that deadline.
"""
import argparse
import base64
import gzip
import hashlib
import itertools
import json
import os
import random
import select
import socket
import socketserver
import ssl
import subprocess
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

IDLE = 60
MAX_BODY = 64 << 20
MAX_BIG = 1 << 30

args = None
secrets = []
log_lock = threading.Lock()
conn_ids = itertools.count(1)


def log_line(obj):
    if not args.log:
        return
    with log_lock, open(args.log, "a") as f:
        f.write(json.dumps(obj) + "\n")


def redact(s):
    """s with every --secret-file value (raw or percent-encoded) replaced;
    the count of those replaced."""
    n = 0
    for v in secrets:
        for form in {v, urllib.parse.quote(v, safe=""), urllib.parse.quote(v)}:
            if form and form in s:
                n += s.count(form)
                s = s.replace(form, "[secret]")
    return s, n


def big_block():
    r = random.Random(12)
    return bytes(r.getrandbits(8) for _ in range(65536))


BLOCK = big_block()


def big_chunks(n):
    while n > 0:
        k = min(n, len(BLOCK))
        yield BLOCK[:k]
        n -= k


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "tls_servers"
    sys_version = ""

    def setup(self):
        super().setup()
        self.connection.settimeout(IDLE)
        # an answer's head and body are two writes: without this, Nagle
        # holds the body for the client's delayed ACK (40 ms a request)
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.conn_id = next(conn_ids)
        self.seq = 0
        self.sni = getattr(self.connection, "msb_sni", None)
        alpn = None
        if isinstance(self.connection, ssl.SSLSocket):
            try:
                alpn = self.connection.selected_alpn_protocol()
            except ssl.SSLError:
                pass
        self.alpn = alpn

    def log_message(self, fmt, *a):
        pass

    def read_body(self):
        """The request body (Content-Length or chunked), or None after an
        error answer."""
        te = self.headers.get("Transfer-Encoding", "")
        if te.lower() == "chunked":
            out = bytearray()
            while True:
                line = self.rfile.readline(1024)
                if not line.endswith(b"\n"):
                    self.send_error(400, "bad chunk size line")
                    return None
                try:
                    size = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    self.send_error(400, "bad chunk size")
                    return None
                if size == 0:
                    while True:  # trailers up to the empty line
                        t = self.rfile.readline(8192)
                        if t in (b"\r\n", b"\n", b""):
                            break
                    return bytes(out)
                if len(out) + size > MAX_BODY:
                    self.send_error(413)
                    return None
                out += self.rfile.read(size)
                self.rfile.readline(8)
        n = self.headers.get("Content-Length")
        if n is None:
            return b""
        try:
            n = int(n)
        except ValueError:
            self.send_error(400, "bad Content-Length")
            return None
        if n < 0 or n > MAX_BODY:
            self.send_error(413)
            return None
        return self.rfile.read(n)

    def basic(self):
        a = self.headers.get("Authorization", "")
        if not a.lower().startswith("basic "):
            return None
        try:
            return base64.b64decode(a[6:].strip(), validate=True).decode(
                "utf-8", "replace")
        except (ValueError, UnicodeError):
            return "(bad base64)"

    def answer(self, status, body, ctype, extra=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        # head and body in one write (one TLS record, one segment), as
        # most servers send a small answer
        self._headers_buffer.append(b"\r\n")
        head = b"".join(self._headers_buffer)
        self._headers_buffer = []
        self.wfile.write(head + (body if self.command != "HEAD" else b""))

    # --- echo ------------------------------------------------------------
    def echo(self):
        self.seq += 1
        body = self.read_body()
        if body is None:
            return
        basic = self.basic()
        seen = {
            "method": self.command,
            "target": self.path,
            "version": self.request_version,
            "headers": [[k, v] for k, v in self.headers.items()],
            "body_len": len(body),
            "body_sha256": hashlib.sha256(body).hexdigest(),
            "sni": self.sni,
            "alpn": self.alpn,
            "conn": self.conn_id,
            "seq": self.seq,
            "basic": basic,
        }
        log_line(dict(seen, body=body[:65536].decode("utf-8", "replace")))
        # what goes back to the client: the secrets replaced
        n = 0
        out = dict(seen)
        out["target"], k = redact(self.path)
        n += k
        hdrs = []
        for name, v in self.headers.items():
            v2, k = redact(v)
            n += k
            if name.lower() in ("authorization", "proxy-authorization") \
                    and basic is not None:
                b2, k = redact(basic)
                if k:
                    v2 = "Basic [secret]"
                    n += k
            hdrs.append([name, v2])
        out["headers"] = hdrs
        if basic is not None:
            out["basic"], _ = redact(basic)
        _, k = redact(body.decode("utf-8", "replace"))
        out["secrets"] = n + k
        url = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(url.query)
        if url.path == "/big":
            try:
                size = int(q.get("n", ["0"])[0])
            except ValueError:
                size = -1
            if size < 0 or size > MAX_BIG:
                self.answer(400, b"bad n\n", "text/plain")
                return
            h = hashlib.sha256()
            for c in big_chunks(size):
                h.update(c)
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size))
            self.send_header("X-Body-Sha256", h.hexdigest())
            self.end_headers()
            if self.command != "HEAD":
                for c in big_chunks(size):
                    self.wfile.write(c)
            return
        data = (json.dumps(out) + "\n").encode()
        if url.path == "/gzip":
            self.answer(200, gzip.compress(data, mtime=0), "application/json",
                        [("Content-Encoding", "gzip")])
            return
        status = 200
        if url.path == "/status":
            try:
                status = int(q.get("c", ["200"])[0])
            except ValueError:
                pass
            if not 200 <= status <= 599:
                status = 200
        self.answer(status, data, "application/json")

    # --- git -------------------------------------------------------------
    def git(self):
        body = self.read_body()
        if body is None:
            return
        url = urllib.parse.urlsplit(self.path)
        basic = self.basic()
        log_line({"method": self.command, "target": self.path,
                  "headers": [[k, v] for k, v in self.headers.items()],
                  "basic": basic, "sni": self.sni, "body_len": len(body)})
        if args.basic_file:
            with open(args.basic_file) as f:
                want = f.readline().rstrip("\n")
            if basic != want:
                self.answer(401, b"authentication required\n", "text/plain",
                            [("WWW-Authenticate", 'Basic realm="git"')])
                return
        env = {
            "PATH": "/usr/bin:/bin",
            "GIT_PROJECT_ROOT": os.path.abspath(args.repo),
            "GIT_HTTP_EXPORT_ALL": "1",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": urllib.parse.unquote(url.path),
            "QUERY_STRING": url.query,
            "REMOTE_ADDR": self.client_address[0],
            "REMOTE_USER": (basic or "").split(":")[0],
            "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
        }
        for h, e in (("Content-Encoding", "HTTP_CONTENT_ENCODING"),
                     ("Git-Protocol", "GIT_PROTOCOL")):
            if self.headers.get(h):
                env[e] = self.headers[h]
        if self.command == "POST" and basic:  # allow push when authenticated
            env["REMOTE_USER"] = basic.split(":")[0] or "user"
        try:
            p = subprocess.run(["git", "http-backend"], input=body, env=env,
                               capture_output=True, timeout=IDLE)
        except subprocess.TimeoutExpired:
            self.answer(504, b"git http-backend timed out\n", "text/plain")
            return
        out = p.stdout
        sep, skip = out.find(b"\r\n\r\n"), 4
        lf = out.find(b"\n\n")
        if lf >= 0 and (sep < 0 or lf < sep):
            sep, skip = lf, 2
        if sep < 0:
            self.answer(500, b"git http-backend: " + p.stderr[:400] + b"\n",
                        "text/plain")
            return
        status, hdrs = 200, []
        for line in out[:sep].decode("latin-1").splitlines():
            k, _, v = line.partition(":")
            if k.lower() == "status":
                status = int(v.split()[0])
            else:
                hdrs.append((k.strip(), v.strip()))
        content = out[sep + skip:]
        self.send_response(status)
        for k, v in hdrs:
            if k.lower() not in ("content-length", "connection"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(content)

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except (socket.timeout, ConnectionError, ssl.SSLError):
            self.close_connection = True

    def __getattr__(self, name):
        if name.startswith("do_"):
            return self.git if args.mode == "git" else self.echo
        raise AttributeError(name)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, ctx):
        self.ctx = ctx
        super().__init__(addr, Handler)

    def finish_request(self, sock, addr):
        # the handshake in the connection's own thread, not the acceptor
        if self.ctx is not None:
            sock.settimeout(IDLE)
            try:
                sock = self.ctx.wrap_socket(sock, server_side=True)
            except (ssl.SSLError, OSError) as e:
                log_line({"tls_error": str(e), "peer": addr[0]})
                sock.close()
                return
            sock.msb_sni = getattr(sock, "msb_sni_seen", None)
        super().finish_request(sock, addr)

    def handle_error(self, request, client_address):
        pass


def tls_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    ctx.set_alpn_protocols([a for a in args.alpn.split(",") if a])

    def sni_cb(sock, name, _ctx):
        sock.msb_sni_seen = name

    ctx.sni_callback = sni_cb
    return ctx


# --- proxy ----------------------------------------------------------------
def relay(a, b):
    socks = [a, b]
    peer = {a: b, b: a}
    open_ = {a: True, b: True}
    while open_[a] or open_[b]:
        r, _, _ = select.select([s for s in socks if open_[s]], [], [], IDLE)
        if not r:
            return
        for s in r:
            try:
                data = s.recv(65536)
            except OSError:
                return
            if not data:
                open_[s] = False
                try:
                    peer[s].shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                continue
            try:
                peer[s].sendall(data)
            except OSError:
                return


class ProxyHandler(socketserver.StreamRequestHandler):
    def handle(self):
        self.connection.settimeout(IDLE)
        try:
            line = self.rfile.readline(8192)
            while True:
                h = self.rfile.readline(8192)
                if h in (b"\r\n", b"\n", b""):
                    break
        except (socket.timeout, OSError):
            return
        text = line.decode("latin-1").rstrip("\r\n")
        parts = text.split()
        if len(parts) != 3 or parts[0] != "CONNECT":
            log_line({"refused": text})
            self.wfile.write(b"HTTP/1.1 405 Method Not Allowed\r\n"
                             b"Content-Length: 0\r\nConnection: close\r\n\r\n")
            return
        host, _, port = parts[1].rpartition(":")
        host = host.strip("[]")
        try:
            up = socket.create_connection((host, int(port)), timeout=10)
        except (OSError, ValueError) as e:
            log_line({"connect": text, "error": str(e)})
            self.wfile.write(b"HTTP/1.1 502 Bad Gateway\r\n"
                             b"Content-Length: 0\r\nConnection: close\r\n\r\n")
            return
        log_line({"connect": text, "peer": up.getpeername()[0]})
        up.settimeout(None)
        self.connection.settimeout(None)
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self.wfile.flush()
        pending = self.rfile.peek() if hasattr(self.rfile, "peek") else b""
        if pending:
            up.sendall(self.rfile.read(len(pending)))
        try:
            relay(self.connection, up)
        finally:
            up.close()


class ProxyServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        pass


def scan(words_file, files):
    with open(words_file, "rb") as f:
        words = [w for w in f.read().split(b"\n") if w]
    found = [0] * len(words)
    for name in files:
        with open(name, "rb") as f:
            data = f.read()
        for i, w in enumerate(words):
            k = min(16, len(w))
            for j in range(0, len(w) - k + 1):
                found[i] += data.count(w[j:j + k])
    print("hits=%d" % sum(found))
    for i, n in enumerate(found):
        if n:
            print("word %d: %d" % (i + 1, n))
    return 0


def main():
    global args, secrets
    if len(sys.argv) >= 3 and sys.argv[1] == "scan":
        return scan(sys.argv[2], sys.argv[3:])
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("mode", choices=["echo", "git", "proxy"])
    p.add_argument("--addr", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--plain", action="store_true")
    p.add_argument("--alpn", default="http/1.1")
    p.add_argument("--ready")
    p.add_argument("--log")
    p.add_argument("--secret-file")
    p.add_argument("--repo")
    p.add_argument("--basic-file")
    args = p.parse_args()
    if args.secret_file:
        with open(args.secret_file) as f:
            secrets = [s for s in f.read().splitlines() if s]
    if args.mode == "proxy":
        srv = ProxyServer((args.addr, args.port), ProxyHandler)
    else:
        if args.mode == "git" and not args.repo:
            p.error("git needs --repo")
        ctx = None
        if not args.plain:
            if not args.cert or not args.key:
                p.error("--cert and --key (or --plain)")
            ctx = tls_context()
        srv = Server((args.addr, args.port), ctx)
    if args.ready:
        with open(args.ready + ".tmp", "w") as f:
            f.write("%d\n" % os.getpid())
        os.rename(args.ready + ".tmp", args.ready)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
