#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Guest-side clients of test_net_guest.sh and bench/net.sh (python3,
standard library only; copied into the guest).

  netguest.py dns NAME [A|AAAA]      one query to the first nameserver of
        /etc/resolv.conf (UDP); print the rcode name and the addresses
        answered ("NOERROR 1.2.3.4"), or timeout
  netguest.py get URL FILE           urllib.request GET (as pip does) into
        FILE; print ok BYTES or the error
  netguest.py tcp HOST PORT          connect; print ok or the errno name
  netguest.py udp HOST PORT          one datagram, wait for an answer or an
        error; print ok or the errno name (or timeout)
  netguest.py connects HOST PORT N   N connections one after the other,
        each closed at once; print "ok=A" and the count of each error
  netguest.py udpflood HOST N        N datagrams, each from a new socket
        (a new flow) to ports 10000 and up; print sent=N
  netguest.py rr HOST PORT N         N times: connect, 1 byte to an echo
        server, its echo, close; print "n=N p50_us=.. p99_us=.. rate=../s"
  netguest.py up HOST PORT BYTES     send BYTES to a sink, half-close, wait
        for its close; print "bytes=B secs=S MBps=R"
  netguest.py down HOST PORT PATH    HTTP/1.0 GET PATH over one socket,
        read to EOF; print "bytes=B secs=S MBps=R"
  netguest.py hold HOST PORT N FILE  open N connections, touch FILE, hold
        them until FILE is removed (60 s at most); print ok=A
Every wait has a deadline (30 s): nothing hangs.
"""
import errno
import os
import random
import socket
import struct
import sys
import time

DEADLINE = 30
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN",
          4: "NOTIMP", 5: "REFUSED"}


def err_name(e):
    if isinstance(e, socket.timeout):
        return "timeout"
    if isinstance(e, OSError) and e.errno:
        return errno.errorcode.get(e.errno, "E?")
    return type(e).__name__ + ":" + str(e)[:80]


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def nameserver():
    with open("/etc/resolv.conf") as f:
        for line in f:
            w = line.split()
            if len(w) >= 2 and w[0] == "nameserver":
                return w[1]
    return "127.0.0.1"


def dns(name, qtype="A"):
    qt = {"A": 1, "AAAA": 28}[qtype]
    qid = random.randint(0, 65535)
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack("!HH", qt, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(10)
    s.sendto(q, (nameserver(), 53))
    while True:
        r = s.recv(65535)
        if len(r) >= 12 and r[:2] == q[:2]:
            break
    rcode = r[3] & 15
    an = struct.unpack("!H", r[6:8])[0]
    p = len(q)  # the question is echoed
    addrs = []
    for _ in range(an):
        while r[p] and r[p] < 0xC0:
            p += r[p] + 1
        p += 2 if r[p] >= 0xC0 else 1
        t, _, _, ln = struct.unpack("!HHIH", r[p:p + 10])
        p += 10
        if t == 1:
            addrs.append(socket.inet_ntop(socket.AF_INET, r[p:p + ln]))
        elif t == 28:
            addrs.append(socket.inet_ntop(socket.AF_INET6, r[p:p + ln]))
        p += ln
    return " ".join([RCODES.get(rcode, "rcode%d" % rcode)] + addrs)


def get(url, path):
    import urllib.request
    with urllib.request.urlopen(url, timeout=DEADLINE) as r, \
            open(path, "wb") as f:
        n = 0
        while True:
            d = r.read(65536)
            if not d:
                break
            f.write(d)
            n += len(d)
    return "ok %d" % n


def tcp(host, port):
    s = socket.socket(family(host), socket.SOCK_STREAM)
    s.settimeout(DEADLINE)
    s.connect((host, port))
    return "ok"


def udp(host, port):
    s = socket.socket(family(host), socket.SOCK_DGRAM)
    s.settimeout(10)
    s.connect((host, port))
    s.send(b"netguest")
    s.recv(65535)
    return "ok"


def connects(host, port, n):
    counts = {}
    for _ in range(n):
        s = socket.socket(family(host), socket.SOCK_STREAM)
        s.settimeout(DEADLINE)
        try:
            s.connect((host, port))
            k = "ok"
        except OSError as e:
            k = err_name(e)
        s.close()
        counts[k] = counts.get(k, 0) + 1
    out = ["ok=%d" % counts.pop("ok", 0)]
    return " ".join(out + ["%s=%d" % kv for kv in sorted(counts.items())])


def udpflood(host, n):
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.sendto(b"flood", (host, 10000 + i % 50000))
        except OSError:
            pass
        s.close()
    return "sent=%d" % n


def rr(host, port, n):
    times = []
    t0 = time.monotonic()
    for _ in range(n):
        t = time.monotonic()
        s = socket.socket(family(host), socket.SOCK_STREAM)
        s.settimeout(DEADLINE)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.connect((host, port))
        s.sendall(b"x")
        if s.recv(1) != b"x":
            return "bad echo"
        s.close()
        times.append(time.monotonic() - t)
    total = time.monotonic() - t0
    times.sort()
    return "n=%d p50_us=%d p99_us=%d rate=%.0f/s" % (
        n, times[n // 2] * 1e6, times[min(n - 1, n * 99 // 100)] * 1e6,
        n / total)


def up(host, port, size):
    s = socket.socket(family(host), socket.SOCK_STREAM)
    s.settimeout(DEADLINE * 4)
    s.connect((host, port))
    buf = b"\0" * 65536
    t = time.monotonic()
    left = size
    while left > 0:
        left -= s.send(buf[:min(left, len(buf))])
    s.shutdown(socket.SHUT_WR)
    s.recv(1)  # the sink closes when it has read everything
    secs = time.monotonic() - t
    return "bytes=%d secs=%.3f MBps=%.1f" % (size, secs, size / secs / 1e6)


def down(host, port, path):
    s = socket.socket(family(host), socket.SOCK_STREAM)
    s.settimeout(DEADLINE * 4)
    t = time.monotonic()
    s.connect((host, port))
    s.sendall(("GET %s HTTP/1.0\r\nHost: %s\r\n\r\n" % (path, host)).encode())
    n = 0
    while True:
        d = s.recv(262144)
        if not d:
            break
        n += len(d)
    secs = time.monotonic() - t
    return "bytes=%d secs=%.3f MBps=%.1f" % (n, secs, n / secs / 1e6)


def hold(host, port, n, flag):
    socks = []
    for _ in range(n):
        s = socket.socket(family(host), socket.SOCK_STREAM)
        s.settimeout(DEADLINE)
        try:
            s.connect((host, port))
            socks.append(s)
        except OSError:
            s.close()
    open(flag, "w").close()
    end = time.monotonic() + 60
    while os.path.exists(flag) and time.monotonic() < end:
        time.sleep(0.1)
    return "ok=%d" % len(socks)


def main():
    a = sys.argv[1:]
    cmd = a[0]
    try:
        if cmd == "dns":
            out = dns(a[1], a[2] if len(a) > 2 else "A")
        elif cmd == "get":
            out = get(a[1], a[2])
        elif cmd == "tcp":
            out = tcp(a[1], int(a[2]))
        elif cmd == "udp":
            out = udp(a[1], int(a[2]))
        elif cmd == "connects":
            out = connects(a[1], int(a[2]), int(a[3]))
        elif cmd == "udpflood":
            out = udpflood(a[1], int(a[2]))
        elif cmd == "rr":
            out = rr(a[1], int(a[2]), int(a[3]))
        elif cmd == "up":
            out = up(a[1], int(a[2]), int(a[3]))
        elif cmd == "down":
            out = down(a[1], int(a[2]), a[3])
        elif cmd == "hold":
            out = hold(a[1], int(a[2]), int(a[3]), a[4])
        else:
            sys.exit("netguest.py: unknown command " + cmd)
    except Exception as e:  # the error is the answer
        out = err_name(e)
    print(out)


if __name__ == "__main__":
    main()
