#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Helpers of test_netd.sh (Debian's python3, standard library only).

  netd_lab.py serve ADDR WWW DIR         the test's "internet" host: HTTP on
        :80 (files of WWW), TCP and UDP echo on :7, a listener that never
        accepts on :8081, one that resets what it accepts on :8082, one
        that writes how each connection ended to DIR/ended on :8083;
        touches DIR/ready once all are bound
  netd_lab.py tcp HOST PORT              connect; print ok or the errno name
  netd_lab.py echo HOST PORT BYTES       TCP echo of BYTES random bytes with
        a half-close; print ok, mismatch or the errno name
  netd_lab.py udp HOST PORT BYTES        one UDP datagram and its echo
  netd_lab.py udp2 HOST PORT             two UDP clients, interleaved: each
        gets its own echoes back (ok, or what went wrong)
  netd_lab.py ping ADDR                  one ICMP echo (raw socket): print
        reply, "unreach CODE" or timeout
  netd_lab.py flood ADDR PORT COUNT      COUNT TCP SYNs from random ports
        (raw socket), never completed
  netd_lab.py recv HOST PORT             connect, read: print EOF, data or
        the errno name
  netd_lab.py reset HOST PORT            connect, send, close with a reset
  netd_lab.py stall HOST PORT STATS      send to an echo server without
        reading until no byte moves for 3 s; print "blocked" and netd's
        "buffered" from the stats file STATS
  netd_lab.py many HOST PORT N DIR       open N connections one by one;
        print "ok=A refused=B echo=R" (R: an echo on the first one), touch
        DIR/opened, hold them until DIR/release exists
  netd_lab.py clients HOST PORT N DIR    open N connections to an echo
        server, then send on each: print "ok=A reset=B timeout=C" (echoed;
        reset or closed; nothing by the deadline), touch DIR/opened, hold
        the open ones until DIR/release exists
  netd_lab.py udpsend HOST PORT          send one UDP datagram, print sent
  netd_lab.py dnsraw HOST MODE          a raw UDP DNS message to HOST:53:
        "formerr" a query whose question is cut short, "short" 4 bytes;
        print "rcode N" of the reply, or timeout (3 s)
  netd_lab.py dnsflood HOST N            N A queries for distinct names to
        HOST:53 from one socket at once; print "replies=R" and the count
        of each rcode, once all came or at the deadline
  netd_lab.py dnstcp HOST N NAME         N A queries for NAME in one write
        on one TCP connection to HOST:53, then a half-close; print
        "answers=A" and the count of each rcode, then how it ended
  netd_lab.py raw0 IF GWMAC PROTO PORT  one frame on interface IF (AF_PACKET,
        to the gateway's MAC GWMAC) to 0.0.0.0:PORT, PROTO tcp (a SYN) or
        udp, which the guest's own stack would never send out; print what
        came back: rst, synack, "unreach CODE", reply, or timeout
  netd_lab.py zerowin HOST N DIR         N DNS-over-TCP connections to HOST:53
        that never read (a receive buffer of 1 KiB: a zero window), each
        sending 800 queries for host.microsandbox.internal, a malformed
        one (netd closes the stream after its answers) and a FIN; print
        held=N, touch DIR/opened, close them (unread: a reset) once
        DIR/release exists
  netd_lab.py dnsmany HOST N DIR         open N TCP connections to HOST:53 one by
        one, then ask host.microsandbox.internal on the first; print
        "ok=A refused=B query=Q" (Q: ok, or what went wrong), touch
        DIR/opened, hold them until DIR/release exists
  netd_lab.py withlink PROG ARGS...      exec PROG with one end of a
        SOCK_DGRAM socketpair as descriptor 3 (a link for msb-netd)
Every wait has a deadline (30 s): a probe prints timeout rather than hang.
"""
import errno
import functools
import http.server
import os
import random
import socket
import struct
import sys
import threading

DEADLINE = 30


def serve(addr, www, d):
    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    class Server(http.server.ThreadingHTTPServer):
        request_queue_size = 1024
        daemon_threads = True

    httpd = Server((addr, 80), functools.partial(Handler, directory=www))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()

    def echo(c):
        with c:
            try:
                while True:
                    d = c.recv(65536)
                    if not d:
                        break
                    c.sendall(d)
            except OSError:
                pass  # the stall case resets it

    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, 7))
    ls.listen(1024)

    def acceptor():
        while True:
            c, _ = ls.accept()
            threading.Thread(target=echo, args=(c,), daemon=True).start()

    threading.Thread(target=acceptor, daemon=True).start()
    us = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    us.bind((addr, 7))

    def uecho():
        while True:
            d, a = us.recvfrom(65535)
            us.sendto(d, a)

    threading.Thread(target=uecho, daemon=True).start()
    never = socket.socket()
    never.bind((addr, 8081))
    never.listen(4096)

    def listener(port, handle):
        ls = socket.socket()
        ls.bind((addr, port))
        ls.listen(64)

        def loop():
            while True:
                c, _ = ls.accept()
                handle(c)

        threading.Thread(target=loop, daemon=True).start()

    def rst(c):
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                     struct.pack("ii", 1, 0))
        c.close()

    def ended(c):
        try:
            while c.recv(65536):
                pass
            how = "EOF"
        except OSError as e:
            how = err_name(e)
        c.close()
        with open(os.path.join(d, "ended"), "a") as f:
            f.write(how + "\n")

    listener(8082, rst)
    listener(8083, lambda c: threading.Thread(target=ended, args=(c,),
                                               daemon=True).start())
    open(os.path.join(d, "ready"), "w").close()
    threading.Event().wait()


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def err_name(e):
    if isinstance(e, socket.timeout):
        return "timeout"
    return errno.errorcode.get(e.errno, "E?") if e.errno else repr(e)


def tcp(host, port):
    s = socket.socket(family(host), socket.SOCK_STREAM)
    s.settimeout(DEADLINE)
    s.connect((host, port))
    return "ok"


def echo(host, port, size):
    data = os.urandom(size)
    s = socket.socket(family(host), socket.SOCK_STREAM)
    s.settimeout(DEADLINE)
    s.connect((host, port))

    def send():
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)

    t = threading.Thread(target=send, daemon=True)
    t.start()
    got = bytearray()
    while True:
        d = s.recv(65536)
        if not d:
            break
        got += d
    t.join(DEADLINE)
    return "ok" if bytes(got) == data else "mismatch %d/%d" % (len(got), size)


def udp(host, port, size):
    data = os.urandom(size)
    s = socket.socket(family(host), socket.SOCK_DGRAM)
    s.settimeout(DEADLINE)
    s.connect((host, port))
    s.send(data)
    got = s.recv(70000)
    return "ok" if got == data else "mismatch"


def udp2(host, port):
    socks = []
    for _ in range(2):
        s = socket.socket(family(host), socket.SOCK_DGRAM)
        s.settimeout(DEADLINE)
        s.connect((host, port))
        socks.append(s)
    for rnd in range(3):
        for i, s in enumerate(socks):
            s.send(b"client %d round %d" % (i, rnd))
        for i, s in enumerate(socks):
            got = s.recv(100)
            if got != b"client %d round %d" % (i, rnd):
                return "client %d got %r" % (i, got)
    return "ok"


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ping(addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.settimeout(DEADLINE)
    ident = random.randint(1, 65535)
    msg = struct.pack("!BBHHH", 8, 0, 0, ident, 1) + b"netd-lab"
    msg = msg[:2] + struct.pack("!H", csum(msg)) + msg[4:]
    s.sendto(msg, (addr, 0))
    while True:
        pkt = s.recv(65535)
        icmp = pkt[(pkt[0] & 15) * 4:]
        if icmp[0] == 0 and struct.unpack("!H", icmp[4:6])[0] == ident:
            return "reply"
        if icmp[0] == 3:
            inner = icmp[8:]
            ih = (inner[0] & 15) * 4
            if inner[9] == 1 and struct.unpack("!H", inner[ih + 4:ih + 6])[0] == ident:
                return "unreach %d" % icmp[1]


def flood(addr, port, count):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.connect((addr, 9))
    src = socket.inet_aton(probe.getsockname()[0])
    dst = socket.inet_aton(addr)
    sent = 0
    for _ in range(count):
        h = struct.pack("!HHIIBBHHH", random.randint(1024, 65535), port,
                        random.getrandbits(32), 0, 5 << 4, 2, 64240, 0, 0)
        c = csum(src + dst + struct.pack("!BBH", 0, 6, len(h)) + h)
        h = h[:16] + struct.pack("!H", c) + h[18:]
        try:
            s.sendto(h, (addr, 0))
            sent += 1
        except OSError:
            pass
    return "sent %d" % sent


def raw0(ifname, gwmac, proto, port):
    with open("/sys/class/net/%s/address" % ifname) as f:
        mac = bytes.fromhex(f.read().strip().replace(":", ""))
    gw = bytes.fromhex(gwmac.replace(":", ""))
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.connect(("1.2.3.4", 9))  # no packet: the guest's address
    src = socket.inet_aton(probe.getsockname()[0])
    dst = bytes(4)
    sport = random.randint(20000, 60000)
    if proto == "tcp":
        num = 6
        l4 = struct.pack("!HHIIBBHHH", sport, port, random.getrandbits(32),
                         0, 5 << 4, 2, 64240, 0, 0)
        c = csum(src + dst + struct.pack("!BBH", 0, 6, len(l4)) + l4)
        l4 = l4[:16] + struct.pack("!H", c) + l4[18:]
    else:
        num = 17
        data = b"netd-lab"
        l4 = struct.pack("!HHHH", sport, port, 8 + len(data), 0) + data
        c = csum(src + dst + struct.pack("!BBH", 0, 17, len(l4)) + l4)
        l4 = l4[:6] + struct.pack("!H", c or 0xFFFF) + l4[8:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4),
                     random.randint(1, 65535), 0x4000, 64, num, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    s.bind((ifname, 0x0800))
    s.settimeout(DEADLINE)
    s.send(gw + mac + b"\x08\x00" + ip + l4)
    while True:
        fr, addr = s.recvfrom(65535)
        if addr[2] == socket.PACKET_OUTGOING or len(fr) < 34:
            continue
        p = fr[14:]
        hl = (p[0] & 15) * 4
        q = p[hl:]
        if p[9] == 6 and p[12:16] == dst and len(q) >= 14 and \
                struct.unpack("!HH", q[:4]) == (port, sport):
            return "rst" if q[13] & 4 else "synack" if q[13] & 18 == 18 \
                else "tcp flags %#x" % q[13]
        if p[9] == 17 and p[12:16] == dst and len(q) >= 4 and \
                struct.unpack("!HH", q[:4]) == (port, sport):
            return "reply"
        if p[9] == 1 and len(q) >= 36 and q[0] == 3:
            inner = q[8:]
            ih = (inner[0] & 15) * 4
            if inner[9] == num and inner[16:20] == dst and \
                    struct.unpack("!H", inner[ih:ih + 2])[0] == sport:
                return "unreach %d" % q[1]


def recv(host, port):
    s = socket.socket(family(host), socket.SOCK_STREAM)
    s.settimeout(DEADLINE)
    s.connect((host, port))
    return "data" if s.recv(1) else "EOF"


def reset(host, port):
    s = socket.socket(family(host), socket.SOCK_STREAM)
    s.settimeout(DEADLINE)
    s.connect((host, port))
    s.sendall(b"x")
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    return "ok"


def stall(host, port, stats):
    import json
    import select
    s = socket.socket(family(host), socket.SOCK_STREAM)
    s.settimeout(DEADLINE)
    s.connect((host, port))
    s.setblocking(False)
    chunk = bytes(65536)
    sent = 0
    while sent < 1 << 30:
        if not select.select([], [s], [], 3)[1]:
            break
        try:
            sent += s.send(chunk)
        except BlockingIOError:
            pass
    else:
        return "never blocked"
    with open(stats) as f:
        return "blocked buffered=%d" % json.load(f)["buffered"]


def connect_n(host, port, n, failures):
    """N connections one after another: the connected sockets, and how
    many connects failed with one of the exceptions FAILURES."""
    socks, failed = [], 0
    for _ in range(n):
        s = socket.socket(family(host), socket.SOCK_STREAM)
        s.settimeout(DEADLINE)
        try:
            s.connect((host, port))
            socks.append(s)
        except failures:
            failed += 1
            s.close()
    return socks, failed


def hold(d):
    """Touch D/opened, then wait for D/release (120 s at most)."""
    import time
    open(os.path.join(d, "opened"), "w").close()
    end = time.monotonic() + 120
    while not os.path.exists(os.path.join(d, "release")):
        if time.monotonic() > end:
            break
        time.sleep(0.1)


def many(host, port, n, d):
    socks, refused = connect_n(host, port, n, ConnectionRefusedError)
    res = "none"
    if socks:
        socks[0].sendall(b"still here")
        res = "ok" if socks[0].recv(100) == b"still here" else "mismatch"
    print("ok=%d refused=%d echo=%s" % (len(socks), refused, res), flush=True)
    hold(d)
    return None


def clients(host, port, n, d):
    import selectors
    import time
    socks, reset = connect_n(host, port, n, OSError)
    ok = []
    sel = selectors.DefaultSelector()
    for s in socks:
        try:
            s.sendall(b"x")
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ)
        except OSError:
            reset += 1
            s.close()
    end = time.monotonic() + DEADLINE
    while sel.get_map() and time.monotonic() < end:
        for key, _ in sel.select(max(0.0, end - time.monotonic())):
            s = key.fileobj
            sel.unregister(s)
            try:
                got = s.recv(1)
            except OSError:
                got = b""
            if got == b"x":
                ok.append(s)
            else:
                reset += 1
                s.close()
    waiting = len(sel.get_map())
    print("ok=%d reset=%d timeout=%d" % (len(ok), reset, waiting), flush=True)
    hold(d)
    return None


def udpsend(host, port):
    s = socket.socket(family(host), socket.SOCK_DGRAM)
    s.sendto(b"x", (host, port))
    return "sent"


def dnsraw(host, mode):
    if mode == "formerr":
        # id, RD, one question... that ends inside its first label
        msg = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + b"\x05ab"
    else:
        msg = b"\x12\x34\x01\x00"
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    s.connect((host, 53))
    s.send(msg)
    got = s.recv(65535)
    if len(got) < 12 or got[:2] != msg[:2]:
        return "bad reply"
    return "rcode %d" % (got[3] & 15)


def dnsflood(host, n):
    import time
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # room for every reply at once (the excess comes back at once):
    # SO_RCVBUFFORCE, as the test runs as root
    s.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)
    s.connect((host, 53))
    for i in range(n):
        name = b"".join(bytes([len(x)]) + x for x in
                        [b"flood%d" % i, b"test"]) + b"\0"
        s.send(struct.pack("!HHHHHH", i, 0x0100, 1, 0, 0, 0) + name +
               struct.pack("!HH", 1, 1))
    seen, rcodes = set(), {}
    end = time.monotonic() + DEADLINE
    while len(seen) < n and time.monotonic() < end:
        s.settimeout(max(0.1, end - time.monotonic()))
        try:
            got = s.recv(65535)
        except socket.timeout:
            break
        qid = struct.unpack("!H", got[:2])[0]
        if qid in seen:
            continue
        seen.add(qid)
        rc = got[3] & 15
        rcodes[rc] = rcodes.get(rc, 0) + 1
    return "replies=%d" % len(seen) + "".join(
        " rcode%d=%d" % (k, v) for k, v in sorted(rcodes.items()))


def dnstcp(host, n, name):
    qname = b"".join(bytes([len(x)]) + x
                     for x in name.encode().split(b".")) + b"\0"
    msgs = b""
    for i in range(n):
        m = struct.pack("!HHHHHH", i, 0x0100, 1, 0, 0, 0) + qname + \
            struct.pack("!HH", 1, 1)
        msgs += struct.pack("!H", len(m)) + m
    s = socket.create_connection((host, 53), timeout=DEADLINE)
    s.sendall(msgs)
    s.shutdown(socket.SHUT_WR)
    buf, seen, rcodes = b"", set(), {}
    end = "EOF"
    while True:
        try:
            d = s.recv(65536)
        except OSError as e:
            end = err_name(e)
            break
        if not d:
            break
        buf += d
        while len(buf) >= 2 and len(buf) >= 2 + struct.unpack("!H", buf[:2])[0]:
            ln = struct.unpack("!H", buf[:2])[0]
            m, buf = buf[2:2 + ln], buf[2 + ln:]
            seen.add(struct.unpack("!H", m[:2])[0])
            rcodes[m[3] & 15] = rcodes.get(m[3] & 15, 0) + 1
    return "answers=%d" % len(seen) + "".join(
        " rcode%d=%d" % (k, v) for k, v in sorted(rcodes.items())) + " " + end


def hostq(i):
    """A framed A query for host.microsandbox.internal, id I."""
    name = b"host.microsandbox.internal"
    qname = b"".join(bytes([len(x)]) + x for x in name.split(b".")) + b"\0"
    m = struct.pack("!HHHHHH", i, 0x0100, 1, 0, 0, 0) + qname + \
        struct.pack("!HH", 1, 1)
    return struct.pack("!H", len(m)) + m


def dnsmany(host, n, d):
    socks, refused = connect_n(host, 53, n, ConnectionRefusedError)
    res = "none"
    if socks:
        socks[0].sendall(hostq(7))
        got = b""
        try:
            while len(got) < 4:
                b = socks[0].recv(4096)
                if not b:
                    break
                got += b
            res = "ok" if got[2:4] == b"\x00\x07" else "bad answer"
        except OSError as e:
            res = err_name(e)
    print("ok=%d refused=%d query=%s" % (len(socks), refused, res),
          flush=True)
    hold(d)
    return None


def zerowin(host, n, d):
    msgs = b"".join(hostq(i) for i in range(800))
    msgs += b"\x00\x01x"  # a 1-byte query: netd ends the stream
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        s.settimeout(DEADLINE)
        s.connect((host, 53))
        s.sendall(msgs)
        s.shutdown(socket.SHUT_WR)
        socks.append(s)
    print("held=%d" % len(socks), flush=True)
    hold(d)
    for s in socks:
        s.close()
    return None


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "withlink":
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        os.dup2(b.fileno(), 3)  # inheritable
        os.execv(args[0], args)
    if cmd == "serve":
        serve(args[0], args[1], args[2])
        return
    try:
        if cmd == "tcp":
            out = tcp(args[0], int(args[1]))
        elif cmd == "echo":
            out = echo(args[0], int(args[1]), int(args[2]))
        elif cmd == "udp":
            out = udp(args[0], int(args[1]), int(args[2]))
        elif cmd == "udp2":
            out = udp2(args[0], int(args[1]))
        elif cmd == "ping":
            out = ping(args[0])
        elif cmd == "flood":
            out = flood(args[0], int(args[1]), int(args[2]))
        elif cmd == "raw0":
            out = raw0(args[0], args[1], args[2], int(args[3]))
        elif cmd == "recv":
            out = recv(args[0], int(args[1]))
        elif cmd == "reset":
            out = reset(args[0], int(args[1]))
        elif cmd == "stall":
            out = stall(args[0], int(args[1]), args[2])
        elif cmd == "dnsflood":
            out = dnsflood(args[0], int(args[1]))
        elif cmd == "dnstcp":
            out = dnstcp(args[0], int(args[1]), args[2])
        elif cmd == "dnsraw":
            out = dnsraw(args[0], args[1])
        elif cmd == "clients":
            out = clients(args[0], int(args[1]), int(args[2]), args[3])
        elif cmd == "udpsend":
            out = udpsend(args[0], int(args[1]))
        elif cmd == "dnsmany":
            out = dnsmany(args[0], int(args[1]), args[2])
        elif cmd == "zerowin":
            out = zerowin(args[0], int(args[1]), args[2])
        elif cmd == "many":
            out = many(args[0], int(args[1]), int(args[2]), args[3])
        else:
            sys.exit("netd_lab.py: unknown command " + cmd)
    except OSError as e:
        out = err_name(e)
    if out is not None:
        print(out)


if __name__ == "__main__":
    main()
