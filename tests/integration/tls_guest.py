#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Guest-side clients of test_tls.sh and bench/tls.sh (python3, standard
library only; copied into the guest). TLS trusts the default paths
(SSL_CERT_FILE when set, else Debian's bundle): the sandbox's CA.

  tls_guest.py get URL [HEADER:VALUE...]    urllib.request GET; print the
        status, then the body's first line (at most 2000 bytes)
  tls_guest.py ka HOST PATH N [HEADER:VALUE...]  http.client: N GETs of
        PATH over one HTTPS connection (keep-alive); for each, print
        "STATUS conn=C seq=S secrets=K" from the echo server's answer
  tls_guest.py pipe HOST N [HEADER:VALUE...]  N GETs written at once
        (pipelined) on one TLS connection, then the N answers read;
        print "STATUS conn=C seq=S secrets=K" for each
  tls_guest.py connect PROXY PORT TARGET    a raw "CONNECT TARGET
        HTTP/1.1" to the proxy; print its status line (or the error)
  tls_guest.py bench HOST PATH N MODE [HEADER:VALUE...]  after 3
        warm-up requests, N GETs of PATH (at most 120 s): MODE ka over
        one connection; new each on a new connection (a new handshake);
        cold each on a new connection to a new name, HOST with %d in it
        (c%d.api.test: a leaf minted for each; the names resolved first).
        Print "mode=M n=N p50_ms=.. p90_ms=.. mean_ms=.. rps=.. res_ms=.."
        (res_ms: the step of the guest's clock)
A HEADER:VALUE's value has $NAME replaced by the environment's NAME (the
placeholder of a secret). TLS_GUEST_CA=FILE: trust FILE too (a bypassed
host's own CA). Every wait has a deadline (30 s).
"""
import http.client
import json
import os
import re
import socket
import ssl
import sys
import time
import urllib.request

DEADLINE = 30


def context():
    ctx = ssl.create_default_context()
    if os.environ.get("TLS_GUEST_CA"):
        ctx.load_verify_locations(os.environ["TLS_GUEST_CA"])
    return ctx


def expand(s):
    return re.sub(r"\$([A-Z_][A-Z0-9_]*)",
                  lambda m: os.environ.get(m.group(1), m.group(0)), s)


def headers(items):
    out = {}
    for h in items:
        k, _, v = h.partition(":")
        out[k.strip()] = expand(v.strip())
    return out


def summary(status, body):
    try:
        j = json.loads(body)
        return "%d conn=%s seq=%s secrets=%s" % (status, j.get("conn"),
                                                 j.get("seq"), j.get("secrets"))
    except ValueError:
        return "%d %s" % (status, body[:200].decode("utf-8", "replace").strip())


def get(url, *hs):
    req = urllib.request.Request(expand(url), headers=headers(hs))
    try:
        with urllib.request.urlopen(req, timeout=DEADLINE,
                                    context=context()) as r:
            status, body = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read()
    except (urllib.error.URLError, OSError) as e:
        print("error %s" % getattr(e, "reason", e))
        return 1
    print(status)
    print(body[:2000].decode("utf-8", "replace").split("\n")[0])
    return 0


def ka(host, path, n, *hs):
    c = http.client.HTTPSConnection(host, timeout=DEADLINE,
                                    context=context())
    h = headers(hs)
    for _ in range(int(n)):
        c.request("GET", expand(path), headers=h)
        r = c.getresponse()
        print(summary(r.status, r.read()))
    c.close()
    return 0


def read_response(f):
    line = f.readline(8192)
    if not line:
        return None
    status = int(line.split()[1])
    length = 0
    while True:
        h = f.readline(8192)
        if h in (b"\r\n", b"\n", b""):
            break
        k, _, v = h.decode("latin-1").partition(":")
        if k.strip().lower() == "content-length":
            length = int(v)
    return status, f.read(length)


def pipe(host, n, *hs):
    ctx = context()
    s = ctx.wrap_socket(socket.create_connection((host, 443), DEADLINE),
                        server_hostname=host)
    extra = "".join("%s: %s\r\n" % kv for kv in headers(hs).items())
    reqs = "".join("GET /pipe/%d HTTP/1.1\r\nHost: %s\r\n%s\r\n" %
                   (i, host, extra) for i in range(int(n)))
    s.sendall(reqs.encode())
    f = s.makefile("rb")
    for _ in range(int(n)):
        r = read_response(f)
        if r is None:
            print("eof")
            break
        print(summary(*r))
    s.close()
    return 0


def connect(proxy, port, target):
    try:
        s = socket.create_connection((proxy, int(port)), DEADLINE)
        s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" %
                   (expand(target), expand(target))).encode())
        line = s.makefile("rb").readline(8192)
        print(line.decode("latin-1").strip() or "eof")
    except OSError as e:
        print("error %s" % e)
    return 0


def bench(host, path, n, mode, *hs):
    ctx = context()
    n = int(n)
    h = headers(hs)
    conn = None
    times = []
    names = [host] * (n + 3)
    if mode == "cold":  # a new name each time: HOST holds %d
        names = [host % i for i in range(n + 3)]
        for name in names:  # resolved before the clock runs
            socket.getaddrinfo(name, 443, socket.AF_INET, socket.SOCK_STREAM)

    def one(name):
        nonlocal conn
        if conn is None or mode != "ka":
            if conn is not None:
                conn.close()
            conn = http.client.HTTPSConnection(name, timeout=DEADLINE,
                                               context=ctx)
        conn.request("GET", path, headers=h)
        r = conn.getresponse()
        r.read()
        if r.status != 200:
            raise SystemExit("status %d from %s" % (r.status, name))

    for name in names[:3]:  # warm-up: the leaf minted, code paths hot
        one(name)
    start = time.monotonic()
    for name in names[3:]:
        if time.monotonic() - start > 120:
            break
        t = time.perf_counter()
        one(name)
        times.append(time.perf_counter() - t)
    total = time.monotonic() - start
    times.sort()

    def pct(p):
        return times[min(len(times) - 1, int(len(times) * p))] * 1000

    # the clock's step: under TCG the guest may fall back from the TSC
    # to jiffies (4 ms), too coarse for one request; mean_ms (the loop's
    # time over N) holds then
    res, t0 = None, time.perf_counter()
    for _ in range(5):  # the smallest of 5 steps of perf_counter
        t1 = time.perf_counter()
        while t1 == t0:
            t1 = time.perf_counter()
        res = t1 - t0 if res is None else min(res, t1 - t0)
        t0 = t1
    print("mode=%s n=%d p50_ms=%.3f p90_ms=%.3f mean_ms=%.3f rps=%.1f "
          "res_ms=%.3f" % (mode, len(times), pct(0.5), pct(0.9),
                           total * 1000 / len(times), len(times) / total,
                           res * 1000))
    return 0


def main():
    cmds = {"get": get, "ka": ka, "pipe": pipe, "connect": connect,
            "bench": bench}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        return cmds[sys.argv[1]](*sys.argv[2:])
    except (OSError, ssl.SSLError, http.client.HTTPException) as e:
        print("error %s: %s" % (type(e).__name__, e))
        return 1


if __name__ == "__main__":
    sys.exit(main())
