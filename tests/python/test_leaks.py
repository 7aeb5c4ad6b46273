# SPDX-License-Identifier: Apache-2.0
"""No memory leaks across 10,000 calls: the process's resident memory
after 10,000 more calls of each kind stays where it was after a warm-up
(the allocator's pools are filled by then)."""
import gc

import microsandbox as m


def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def run(n, calls):
    for _ in range(n):
        for c in calls:
            c()


def test_no_leak_10000_calls(sb):
    sb.fs.write("/tmp/leak.txt", b"x" * 4096)
    calls = [
        lambda: sb.fs.exists("/tmp/leak.txt"),  # exists, an int out
        lambda: sb.fs.stat("/tmp/leak.txt"),    # strings in a struct
        lambda: sb.fs.read("/tmp/leak.txt"),    # a malloc'd buffer
    ]

    def errors():
        try:
            sb.fs.stat("/nope")                 # an exception each time
        except m.FsNotFound:
            pass

    calls.append(errors)
    run(1000, calls)  # warm-up
    gc.collect()
    before = rss()
    run(10000, calls)
    for _ in range(300):  # the listing and the exec output paths
        sb.fs.list("/etc")
        sb.exec("true")
        sb.metrics()
    gc.collect()
    grown = rss() - before
    # 40,000 calls: a leak of even 64 bytes a call would be 2.5 MiB
    assert grown < (1 << 20), "RSS grew by %d bytes" % grown
