# SPDX-License-Identifier: Apache-2.0
"""Sandboxes' lives: context-manager cleanup, named and detached
sandboxes, connect, stop, kill, remove, start, volumes, two threads with
two sandboxes, and the errors of each."""
import logging
import socket
import threading
import time

import pytest

import microsandbox as m
from microsandbox import BindMount, Sandbox, Tmpfs, Volume, VolumeMount

from conftest import msb


def free_port():
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        return so.getsockname()[1]


def names():
    return msb("ls", "-q").split()


def test_with_cleans_up_after_exception(caplog):
    """Nothing left (`msb ls`) after an exception inside `with`, named or
    not. (The library's debug log reaches the `microsandbox` logger.)"""
    caplog.set_level(logging.DEBUG, logger="microsandbox")
    m.set_log_level(3)
    seen = []
    with pytest.raises(RuntimeError, match="boom"):
        with Sandbox.create(name="cm-named") as a:
            seen.append(a.name)
            assert "cm-named" in names()
            raise RuntimeError("boom")
    with pytest.raises(KeyError):
        with Sandbox.create() as b:
            seen.append(b.name)
            assert b.exec("true").ok
            raise KeyError("x")
    m.set_log_level(1)
    assert any(r.message.startswith("ready: ") for r in caplog.records)
    left = names()
    for n in seen:
        assert n not in left
    assert all(s.name not in seen for s in Sandbox.list())
    with pytest.raises(m.StateError):
        b.exec("true")  # the object is closed


def test_named_detached_connect_stop_start_remove():
    name = "py-life"
    port = free_port()
    with Sandbox.create(name=name, detached=True, memory="256M", cpus=1,
                        env={"LIFE": "1"}, hostname="lifehost",
                        workdir="/tmp", labels={"k": "v"},
                        volumes={"/scratch": Tmpfs(size="1M")},
                        ports={port: 80},
                        network=m.Network("public",
                                          rules=["deny 10.0.0.0/8"],
                                          block_domains=["ads.example"],
                                          block_suffixes=[".tracker"])
                        ) as s:
        net = s.inspect()["network"]
        assert net["rules"] == ["deny 10.0.0.0/8"]
        assert net["block_domains"] == ["ads.example"]
        assert net["block_suffixes"] == [".tracker"]
        assert net["ports"][0]["host_port"] == port
        assert net["ports"][0]["guest_port"] == 80
        socket.create_connection(("127.0.0.1", port), timeout=10).close()
        assert s.exec("hostname").stdout == "lifehost\n"
        assert s.shell("pwd; echo $LIFE").stdout == "/tmp\n1\n"
        # a tmpfs of 1 MiB: a 2 MiB write fails with the guest's ENOSPC
        with pytest.raises(m.FsNoSpace) as ei:
            s.fs.write("/scratch/f", b"x" * (2 << 20))
        assert ei.value.errno == 28
        with pytest.raises(m.AlreadyExistsError):
            Sandbox.create(name=name)
    # detached: leaving `with` only disconnected
    info = {i.name: i for i in Sandbox.list()}[name]
    assert info.status == "running" and not info.ephemeral
    assert info.labels == {"k": "v"} and info.memory_mib == 256
    c = Sandbox.connect(name)
    assert c.exec("sh", ["-c", "echo $LIFE"]).stdout == "1\n"
    c.fs.write("/root/keep", b"kept")
    c.stop()
    with pytest.raises(m.StateError):
        c.exec("true")
    c.close()
    assert {i.name: i.status for i in Sandbox.list()}[name] == "stopped"
    assert Sandbox.wait_named(name, timeout=5) == "stopped"
    with pytest.raises(m.SandboxNotFound):
        Sandbox.connect("no-such-sandbox")
    s2 = Sandbox.start(name)
    assert s2.fs.read("/root/keep") == b"kept"
    s2.kill()
    assert {i.name: i.status for i in Sandbox.list()}[name] == "stopped"
    s2.remove()
    assert name not in names()


def test_named_helpers():
    s = Sandbox.create(name="py-helpers", detached=True,
                       command=["sh", "-c", "echo main >/tmp/main; "
                                "exec sleep 1000"], restart="on-failure",
                       restart_max=2, exec_timeout=1, user="1000",
                       rlimits=["nofile=77"])
    # the main process runs; the exec defaults apply to every exec
    # (its own timeout over the 1 s default: no dependence on load)
    assert s.exec("sh", ["-c", "until [ -e /tmp/main ]; do sleep 0.05; "
                               "done; id -u; ulimit -n"],
                  timeout=300).stdout == "1000\n77\n"
    with pytest.raises(m.ExecTimeout):
        s.exec("sleep", ["30"])
    assert s.config()["exec_timeout_ms"] == 1000
    s.close()
    assert "py-helpers" in names()
    with pytest.raises(m.StateError):
        Sandbox.remove_named("py-helpers")  # running
    Sandbox.stop_named("py-helpers")
    Sandbox.remove_named("py-helpers")
    s = Sandbox.create(name="py-helpers2", detached=True)
    s.close()
    Sandbox.kill_named("py-helpers2")
    Sandbox.remove_named("py-helpers2", force=True)
    assert "py-helpers2" not in names()
    with pytest.raises(m.SandboxNotFound):
        Sandbox.remove_named("py-helpers2")


def test_invalid_options():
    with pytest.raises(m.InvalidArgumentError) as ei:
        Sandbox.create(memory=16)
    assert isinstance(ei.value, ValueError) and "memory" in str(ei.value)
    with pytest.raises(m.InvalidArgumentError):
        Sandbox.create(name="-bad name")
    with pytest.raises(m.InvalidArgumentError):
        Sandbox.create(network=m.Network(rules=["allow nonsense:::"]))
    with pytest.raises(m.InvalidArgumentError):
        Sandbox.create(detached=True)  # needs a name
    with pytest.raises(ValueError):
        Sandbox.create(memory="lots")
    with pytest.raises(ValueError):
        Sandbox.create(network="everything")
    with pytest.raises(m.NotFoundError):
        Sandbox.create(image="/no/such/disk.ext4")


def test_volumes(tmp_path):
    v = Volume.create("pyvol", quota="64M")
    assert isinstance(v, Volume) and v.quota == 64 << 20
    with pytest.raises(m.AlreadyExistsError):
        Volume.create("pyvol")
    host = tmp_path / "seed"
    host.write_text("seeded")
    v.copy_from_host(host, "/seed.txt")
    assert [e.name for e in v.list_dir("/") if e.name == "seed.txt"]
    share = tmp_path / "share"
    share.mkdir()
    (share / "h.txt").write_text("from host")
    with Sandbox.create(volumes={"/data": v, "/host": str(share),
                                 "/hostro": BindMount(share, readonly=True)
                                 }) as s:
        assert s.fs.read_text("/data/seed.txt") == "seeded"
        assert s.fs.read_text("/host/h.txt") == "from host"
        s.fs.write("/host/g.txt", "to host")
        assert (share / "g.txt").read_text() == "to host"
        with pytest.raises(m.FsPermissionError) as ei:
            s.fs.write("/hostro/x", "no")
        assert isinstance(ei.value, PermissionError)
        s.fs.write("/data/out.txt", "written in the guest")
        assert Volume.list()[0].sandboxes == [s.name]
        with pytest.raises(m.StateError):
            v.remove()
    v.copy_to_host("/out.txt", tmp_path / "out.txt")
    assert (tmp_path / "out.txt").read_text() == "written in the guest"
    infos = {i.name: i for i in Volume.list()}
    assert infos["pyvol"].quota_bytes == 64 << 20
    assert infos["pyvol"].used_bytes > 0
    with Sandbox.create(volumes={"/ro": VolumeMount("pyvol", readonly=True)}
                        ) as s:
        assert s.fs.read_text("/ro/out.txt") == "written in the guest"
        with pytest.raises(m.FsPermissionError):
            s.fs.write("/ro/x", "no")
    v.remove()
    assert "pyvol" not in [i.name for i in Volume.list()]
    with pytest.raises(m.VolumeNotFound):
        v.remove()
    with pytest.raises(m.VolumeNotFound):
        v.info()


def test_two_threads_two_sandboxes():
    """Two threads, each with its own sandbox, both running at once."""
    barrier = threading.Barrier(2, timeout=120)
    results = {}
    errors = []

    def work(i):
        try:
            with Sandbox.create(labels={"thread": str(i)}) as s:
                barrier.wait()  # both sandboxes are up now
                # (the status may still say "starting" for a moment
                # after create returns: the supervisor records it)
                running = {x.name for x in Sandbox.list()
                           if x.status in ("starting", "running") and
                           x.labels.get("thread")}
                out = []
                for j in range(20):
                    s.fs.write("/tmp/t", "%d-%d" % (i, j))
                    out.append(s.exec("cat", ["/tmp/t"]).stdout)
                results[i] = (s.name, running, out)
                barrier.wait()
        except BaseException as e:
            errors.append(e)
            barrier.abort()

    ts = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors
    (n0, r0, o0), (n1, r1, o1) = results[0], results[1]
    assert n0 != n1 and {n0, n1} <= r0 and {n0, n1} <= r1
    assert o0 == ["0-%d" % j for j in range(20)]
    assert o1 == ["1-%d" % j for j in range(20)]


def test_template_false_boots_cold():
    """template=False is stored with the sandbox (no_template) and the
    sandbox works."""
    with Sandbox.create("py-cold", template=False) as s:
        assert s.config().get("no_template") is True
        assert s.exec("echo", ["cold"]).stdout.strip() == "cold"


def test_pause_suspend_resume():
    """pause: requests fail with StateError until resume; suspend ends the
    VM, resume restores it with its processes and files."""
    with Sandbox.create("py-pause", detached=True) as s:
        s.shell("echo kept > /root/f; sleep 100000 >/dev/null 2>&1 & echo $! > /root/pid")
        s.pause()
        assert "paused" in msb("ls")
        with pytest.raises(m.StateError):
            s.exec("true")
        s.resume()
        assert s.exec("cat", ["/root/f"]).stdout.strip() == "kept"
        s.shell("sync")
        s.suspend()
        assert "suspended" in msb("ls")
        s.resume()
        pid = s.exec("cat", ["/root/pid"]).stdout.strip()
        assert s.exec("kill", ["-0", pid]).exit_code == 0
        s.remove()


def test_on_idle_suspend():
    """on_idle="suspend": the idle timeout suspends the sandbox (its files
    and processes kept) instead of stopping it; resume() brings it back.
    Refused: an unknown action, and a sandbox that would not be kept."""
    with pytest.raises(ValueError):
        Sandbox.create("py-idle-bad", on_idle="sleep")
    with pytest.raises(m.InvalidArgumentError, match="kept"):
        Sandbox.create(None, idle_timeout=5, on_idle="suspend")
    with Sandbox.create("py-idle", detached=True, idle_timeout=2,
                        on_idle="suspend") as s:
        assert s.inspect()["limits"]["on_idle"] == "suspend"
        s.shell("echo kept > /root/f; sync")
        deadline = time.monotonic() + 90
        while s.status != "suspended" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert s.status == "suspended"
        s.resume()
        assert s.exec("cat", ["/root/f"]).stdout.strip() == "kept"
        s.remove()


def test_snapshot_and_from_snapshot():
    """snapshot() of a running sandbox, from_snapshot() starts a copy that
    has the files of that instant and keeps its own writes."""
    with Sandbox.create("py-snap-src", detached=True) as s:
        s.shell("echo before > /root/f; sync")
        s.snapshot("py-snap")
        s.shell("echo after > /root/f")
        try:
            c = Sandbox.from_snapshot("py-snap", "py-snap-copy")
            try:
                assert c.exec("cat", ["/root/f"]).stdout.strip() == "before"
                c.shell("echo mine > /root/g")
                assert not s.fs.exists("/root/g")
            finally:
                c.remove()
        finally:
            s.remove()
            msb("snapshot", "rm", "py-snap")
    with pytest.raises(m.NotFoundError):
        Sandbox.from_snapshot("py-no-such-snap", "py-x")


def test_fork_and_create_from_snapshot():
    """fork() into two sandboxes that have the file written before it and
    keep their writes; fork(count); a fork onto a taken name leaves
    nothing; create(snapshot=...) running from the snapshot's instant;
    options that cannot go with a snapshot are refused, naming them."""
    with Sandbox.create("py-fork-src", detached=True) as s:
        s.shell("echo before > /root/f")
        kids = s.fork(["py-fork-1", "py-fork-2"])
        try:
            assert [k.name for k in kids] == ["py-fork-1", "py-fork-2"]
            for k in kids:
                assert k.exec("cat", ["/root/f"]).stdout.strip() == "before"
            kids[0].shell("echo mine > /root/g")
            assert not kids[1].fs.exists("/root/g")
            assert not s.fs.exists("/root/g")
            more = s.fork(2)
            assert len(more) == 2 and all(
                k.name.startswith("py-fork-src-fork-") for k in more)
            kids += more
            with pytest.raises(m.AlreadyExistsError):
                s.fork(["py-fork-3", "py-fork-1"])
            assert "py-fork-3" not in names()
            assert s.exec("cat", ["/root/f"]).stdout.strip() == "before"
            assert msb("snapshot", "ls", "-q").strip() == ""

            s.snapshot("py-fork-snap")
            with Sandbox.create("py-from-snap", snapshot="py-fork-snap") as c:
                assert c.exec("cat", ["/root/f"]).stdout.strip() == "before"
            with pytest.raises(m.InvalidArgumentError, match="options.env"):
                Sandbox.create("py-x", snapshot="py-fork-snap", env={"A": "1"})
            with pytest.raises(m.InvalidArgumentError, match="memory_mib"):
                Sandbox.create("py-x", snapshot="py-fork-snap", memory="1G")
            assert "py-x" not in names()
        finally:
            for k in kids:
                k.remove()
            s.remove()
            msb("snapshot", "rm", "py-fork-snap", check=False)
