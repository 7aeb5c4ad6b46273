#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""cowram.py - copy-on-write guest RAM for clones (issue 14, item 5): bare
QEMU, today's restore against a restore from a file-backed RAM mapped
private.

Usage: bench/cowram.py BUILD_DIR WORK_DIR [CLONES [KINDS]]

Boots one VM of msb's machine (microvm, TCG, 512 MiB, 1 vCPU, msb's
kernel, initramfs and command line, virtio-serial agent port, virtio-rng)
with its RAM in a file (memory-backend-file, share=on) under WORK_DIR, and
pings the agent until it answers: the template point. Then it saves, from
that one stopped VM:
  dev:  the state with the x-ignore-shared capability: devices only; the
        RAM is the file;
  full: the whole state, RAM included (today's template and snapshot
        files), of the same VM: "dev" loaded over a copy of the RAM file,
        not run, and saved again without the capability.
Each is restored CLONES times (default 10), one after the other, all left
running: QEMU started with -incoming defer, capabilities set, the state
loaded from a descriptor, `cont`, then a ping answered by the agent. The
"full" clones have anonymous RAM (today's path); the "dev" ones map the
RAM file private (memory-backend-file, share=off): unmodified pages are
the file's page cache, shared by every clone. Prints, for each: the
median restore time (QEMU start to the agent's pong), and the summed PSS
of the CLONES QEMUs 2 s after the last one answered. KINDS (default
"full,dev") may add "devro": "dev" with readonly=on, which QEMU 7.2 maps
read-only (the way a clone's QEMU would not need a writable descriptor
of the shared file, docs/snapshots.md).
"""
import json
import os
import socket
import statistics
import struct
import subprocess
import sys
import time

MEM_MIB = 512
PING = bytes.fromhex("a1617464" + "70696e67")  # {"t": "ping"}
PONG = bytes.fromhex("a1617464" + "706f6e67")  # {"t": "pong"}


def tsc_arg():
    """msb's tsc_early_khz and tsc=reliable under TCG (src/vmm/qemu.c):
    without the first the guest cannot calibrate its TSC on microvm and
    hangs."""
    try:
        with open("/sys/devices/system/cpu/cpu0/tsc_freq_khz") as f:
            return " tsc_early_khz=%d tsc=reliable" % int(f.read())
    except (OSError, ValueError):
        pass
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("cpu MHz"):
                return " tsc_early_khz=%d tsc=reliable" % round(
                    float(line.split(":")[1]) * 1000)
    return ""


def frame(payload, stream=0, flags=0):
    return struct.pack(">IIB", len(payload) + 5, stream, flags) + payload


class Qmp:
    def __init__(self, sock):
        self.s = sock
        self.buf = b""
        self.read()  # greeting
        self.cmd("qmp_capabilities")

    def read(self):
        while b"\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise RuntimeError("QMP closed")
            self.buf += d
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def cmd(self, name, **args):
        m = {"execute": name}
        if args:
            m["arguments"] = args
        self.s.sendall(json.dumps(m).encode() + b"\n")
        while True:
            r = self.read()
            if "return" in r:
                return r["return"]
            if "error" in r:
                raise RuntimeError("%s: %s" % (name, r["error"]))


class Vm:
    def __init__(self, build, work, mem, incoming=None, caps=(), run=True):
        self.agent, agent_q = socket.socketpair()
        qmp, qmp_q = socket.socketpair()
        fds = [agent_q.fileno(), qmp_q.fileno()]
        self.state_fd = None
        if incoming:
            self.state_fd = os.open(incoming, os.O_RDONLY)
            fds.append(self.state_fd)
        mach = "microvm,memory-backend=mem"
        argv = [os.environ.get("QEMU", "qemu-system-x86_64"),
                "-M", mach, "-accel", "tcg", "-m", str(MEM_MIB),
                "-object", mem, "-smp", "1", "-nodefaults",
                "-no-user-config", "-display", "none", "-no-reboot",
                "-global", "virtio-mmio.force-legacy=false",
                "-serial", "file:%s" % os.path.join(work, "console.log"),
                "-kernel", os.path.join(build, "guest", "vmlinux"),
                "-initrd", os.path.join(build, "guest", "initramfs.cpio"),
                "-append", "console=ttyS0 quiet panic=-1 "
                "cryptomgr.notests mitigations=off random.trust_cpu=on"
                + tsc_arg(),
                "-device", "virtio-serial-device",
                "-chardev", "socket,id=agent,fd=%d" % agent_q.fileno(),
                "-device", "virtserialport,chardev=agent,name=agent",
                "-device", "virtio-rng-device",
                "-chardev", "socket,id=qmp,fd=%d" % qmp_q.fileno(),
                "-mon", "chardev=qmp,mode=control"]
        if incoming:
            argv += ["-incoming", "defer"]
        self.t0 = time.monotonic()
        self.p = subprocess.Popen(argv, pass_fds=fds,
                                  stdout=subprocess.DEVNULL)
        agent_q.close()
        qmp_q.close()
        self.qmp = Qmp(qmp)
        if incoming:
            self.qmp.cmd("migrate-set-capabilities", capabilities=[
                {"capability": c, "state": True} for c in caps])
            self.qmp.cmd("migrate-incoming", uri="fd:%d" % self.state_fd)
            while self.qmp.cmd("query-status")["status"] != "paused":
                if self.p.poll() is not None:
                    raise RuntimeError("QEMU exited while loading")
                time.sleep(0.005)
            os.close(self.state_fd)
            if run:
                self.qmp.cmd("cont")

    def ping(self, timeout):
        """Ping the agent until it answers (it backs off while no host
        is there); return the time since QEMU started."""
        deadline = time.monotonic() + timeout
        self.agent.settimeout(0.2)
        buf = b""
        while time.monotonic() < deadline:
            try:
                self.agent.sendall(frame(PING))
                d = self.agent.recv(65536)
            except socket.timeout:
                continue
            if not d:
                raise RuntimeError("agent port closed")
            buf += d
            if PONG in buf:
                return time.monotonic() - self.t0
        raise RuntimeError("the agent did not answer")

    def save(self, path, caps):
        self.qmp.cmd("migrate-set-capabilities", capabilities=[
            {"capability": "x-ignore-shared", "state": bool(caps)}])
        self.qmp.cmd("migrate-set-parameters", **{"max-bandwidth":
                                                  1 << 40})
        t = time.monotonic()
        self.qmp.cmd("migrate", uri="exec:cat > %s" % path)
        while True:
            st = self.qmp.cmd("query-migrate").get("status")
            if st == "completed":
                return time.monotonic() - t
            if st in ("failed", "cancelled"):
                raise RuntimeError("migrate: " + st)
            time.sleep(0.01)

    def pss_kb(self):
        with open("/proc/%d/smaps_rollup" % self.p.pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
        return 0

    def kill(self):
        self.p.kill()
        self.p.wait()


def main():
    build, work = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    os.makedirs(work, exist_ok=True)
    ram = os.path.join(work, "cow.ram")
    full = os.path.join(work, "cow.full")
    dev = os.path.join(work, "cow.dev")
    for p in (ram, full, dev):
        if os.path.exists(p):
            os.unlink(p)
    src = Vm(build, work, "memory-backend-file,id=mem,size=%dM,"
             "mem-path=%s,share=on" % (MEM_MIB, ram))
    src.ping(120)
    src.qmp.cmd("stop")
    t_dev = src.save(dev, True)
    src.kill()
    # A stopped source migrates once: the full state comes from the
    # devices-only one loaded over a copy of the RAM file, not run.
    copy = ram + ".copy"
    subprocess.run(["cp", "--sparse=always", ram, copy], check=True)
    conv = Vm(build, work, "memory-backend-file,id=mem,size=%dM,"
              "mem-path=%s,share=on" % (MEM_MIB, copy), incoming=dev,
              caps=("x-ignore-shared",), run=False)
    t_full = conv.save(full, False)
    conv.kill()
    os.unlink(copy)
    print("saved: full %.1f MiB in %.2f s; devices only %.2f MiB in "
          "%.2f s; RAM file %.1f MiB on disk"
          % (os.path.getsize(full) / 2**20, t_full,
             os.path.getsize(dev) / 2**20, t_dev,
             os.stat(ram).st_blocks * 512 / 2**20))

    results = {}
    kinds = sys.argv[4].split(",") if len(sys.argv) > 4 else ["full", "dev"]
    for kind in kinds:
        vms, times = [], []
        try:
            for _ in range(n):
                if kind == "full":
                    vm = Vm(build, work, "memory-backend-ram,id=mem,"
                            "size=%dM" % MEM_MIB, incoming=full)
                else:
                    vm = Vm(build, work, "memory-backend-file,id=mem,"
                            "size=%dM,mem-path=%s,share=off%s"
                            % (MEM_MIB, ram, ",readonly=on"
                               if kind == "devro" else ""), incoming=dev,
                            caps=("x-ignore-shared",))
                vms.append(vm)
                times.append(vm.ping(60))
            time.sleep(2)
            pss = sum(vm.pss_kb() for vm in vms)
        finally:
            for vm in vms:
                vm.kill()
        results[kind] = (statistics.median(times), pss)
        print("%-5s restore to pong: median %4.0f ms (min %4.0f, max "
              "%4.0f); PSS of %d clones: %6.1f MiB"
              % (kind, statistics.median(times) * 1000, min(times) * 1000,
                 max(times) * 1000, n, pss / 1024))
    (tf, pf), (td, pd) = results["full"], results["dev"]
    print("ratio copy-on-write / today: restore %.2f, PSS %.2f"
          % (td / tf, pd / pf))
    for p in (ram, full, dev):
        os.unlink(p)


if __name__ == "__main__":
    main()
