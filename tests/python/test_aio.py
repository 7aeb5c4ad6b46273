# SPDX-License-Identifier: Apache-2.0
"""microsandbox.aio: every method as a coroutine, on the shared sandbox
(wrapped) and on sandboxes of its own; streams with stdin; the event
loop keeps running while library calls wait."""
import asyncio
import io
import os
import signal

import pytest

import microsandbox as m
from microsandbox import Exited, Started, Stdout, aio

from conftest import msb


def run(coro, timeout=120):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def test_exec_shell(sb):
    async def main():
        a = aio.Sandbox(sb)
        r = await a.exec("echo", ["hi"])
        assert r.stdout == "hi\n" and r.ok
        r = await a.shell("echo $X; exit 3", env={"X": "y"})
        assert (r.stdout, r.exit_code) == ("y\n", 3)
        assert (await a.exec("cat", stdin=b"in")).stdout == "in"
        with pytest.raises(m.CommandNotFound):
            await a.exec("no-such-command")
        with pytest.raises(m.ExecTimeout):
            await a.exec("sleep", ["30"], timeout=0.3)
        # many at once on one sandbox
        rs = await asyncio.gather(*(a.exec("echo", [str(i)])
                                    for i in range(8)))
        assert [r.stdout for r in rs] == ["%d\n" % i for i in range(8)]
    run(main())


def test_loop_not_blocked(sb):
    """While an exec waits for a file, the loop writes that file: with a
    blocked loop this never finishes (wait_for fails)."""
    async def main():
        a = aio.Sandbox(sb)
        await a.fs.remove("/tmp/go") if await a.fs.exists("/tmp/go") \
            else None
        waiter = asyncio.ensure_future(a.shell(
            "while [ ! -e /tmp/go ]; do sleep 0.05; done; echo released"))
        await asyncio.sleep(0)
        await a.fs.write("/tmp/go", b"")
        assert (await waiter).stdout == "released\n"
    run(main(), timeout=60)


def test_stream_with_stdin(sb):
    async def main():
        a = aio.Sandbox(sb)
        chunk = os.urandom(256 << 10)
        async with await a.exec_stream("cat") as s:
            for _ in range(8):
                await s.write_stdin(chunk)
            await s.close_stdin()
            out = bytearray()
            first = None
            async for ev in s:
                first = first or ev
                if isinstance(ev, Stdout):
                    out += ev.data
            assert isinstance(first, Started) and s.pid
            assert s.exited == Exited(0, 0)
            assert bytes(out) == chunk * 8
        async with await a.exec_stream("sh", ["-c", "read x; echo $x"],
                                       stdin=b"pre\n") as s:
            r = await s.collect()
            assert r.stdout == "pre\n"
        async with await a.exec_stream("sleep", ["60"]) as s:
            await s.signal(signal.SIGTERM)
            assert (await s.wait()).signal == signal.SIGTERM
        async with await a.exec_stream("sleep", ["60"]) as s:
            await s.kill()
            assert (await s.wait()).signal == signal.SIGKILL
        async with await a.exec_stream("sh", ["-c", "read x; stty size"],
                                       tty=True) as s:
            await s.resize(20, 50)
            await s.write_stdin("\n")
            assert "20 50" in (await s.collect()).stdout
        async with await a.exec_stream("no-such-command") as s:
            with pytest.raises(m.CommandNotFound):
                async for _ in s:
                    pass
    run(main())


def test_spawn_processes(sb):
    async def main():
        a = aio.Sandbox(sb)
        p = await a.spawn("sh", ["-c", "echo bg; read x; echo $x"],
                          stdin=True)
        assert (await p.info()).running
        assert p.id in [q.id for q in await a.processes()]
        s = await p.attach(stdin=True)
        async with s:
            await s.write_stdin("fed\n")
            assert (await s.collect()).stdout == "bg\nfed\n"
        assert await p.wait() == Exited(0, 0)
        assert (await p.logs()).stdout == "bg\nfed\n"
        await p.remove()
        q = await a.spawn("sleep", ["60"])
        await q.signal(signal.SIGTERM)
        assert (await a.process(q.id).wait()).signal == signal.SIGTERM
        r = await a.spawn("sleep", ["60"])
        await r.kill()
        await r.wait()
        await r.remove(force=True)
        await q.remove()
    run(main())


def test_fs(sb, tmp_path):
    async def main():
        fs = aio.Sandbox(sb).fs
        await fs.mkdir("/tmp/afs/sub", parents=True)
        await fs.write("/tmp/afs/a.txt", "text")
        await fs.write("/tmp/afs/b.bin", io.BytesIO(b"\x00" * 100000))
        await fs.write("/tmp/afs/a.txt", "+", append=True)
        assert await fs.read_text("/tmp/afs/a.txt") == "text+"
        assert await fs.read("/tmp/afs/b.bin") == b"\x00" * 100000
        buf = io.BytesIO()
        assert await fs.read_into("/tmp/afs/b.bin", buf) == 100000
        assert [e.name for e in await fs.list("/tmp/afs")] == [
            "a.txt", "b.bin", "sub"]
        assert (await fs.stat("/tmp/afs/a.txt")).size == 5
        assert await fs.exists("/tmp/afs") and not await fs.exists("/x")
        await fs.copy("/tmp/afs/a.txt", "/tmp/afs/c.txt")
        await fs.rename("/tmp/afs/c.txt", "/tmp/afs/d.txt")
        await fs.chmod("/tmp/afs/d.txt", 0o600)
        await fs.chown("/tmp/afs/d.txt", 5, 6)
        await fs.symlink("/tmp/afs/l", "d.txt")
        st = await fs.stat("/tmp/afs/d.txt")
        assert (st.mode, st.uid, st.gid) == (0o600, 5, 6)
        assert (await fs.stat("/tmp/afs/l")).target == "d.txt"
        await fs.copy("/tmp/afs", "/tmp/afs2", recursive=True)
        await fs.copy_to_host("/tmp/afs2", tmp_path / "out")
        assert (tmp_path / "out" / "a.txt").read_text() == "text+"
        await fs.copy_from_host(tmp_path / "out", "/tmp/afs3")
        assert await fs.read_text("/tmp/afs3/d.txt") == "text+"
        with pytest.raises(FileNotFoundError):
            await fs.read("/tmp/none")
        with pytest.raises(m.FsNotEmpty):
            await fs.remove("/tmp/afs")
        for d in ("/tmp/afs", "/tmp/afs2", "/tmp/afs3"):
            await fs.remove(d, recursive=True)
    run(main())


def test_metrics_inspect(sb):
    async def main():
        a = aio.Sandbox(sb)
        mt = await a.metrics()
        assert isinstance(mt, m.Metrics) and mt.memory_bytes > 0
        assert (await a.inspect())["name"] == sb.name
        assert (await a.config())["cpus"] == 1
        assert await a.status() == "running"
        assert sb.name in [i.name for i in await aio.Sandbox.list()]
    run(main())


def test_async_with_cleanup_and_lifecycle():
    """`async with` cleans up after an exception; named and detached
    sandboxes through the async API."""
    async def main():
        name = None
        with pytest.raises(RuntimeError):
            async with aio.Sandbox.create(name="aio-cm") as s:
                name = s.name
                assert (await s.exec("true")).ok
                raise RuntimeError("boom")
        assert name == "aio-cm" and name not in msb("ls", "-q").split()

        s = await aio.Sandbox.create(name="aio-life", detached=True)
        await s.close()
        c = await aio.Sandbox.connect("aio-life")
        assert (await c.exec("true")).ok
        await c.stop()
        await c.close()
        assert await aio.Sandbox.wait_named("aio-life", 10) == "stopped"
        s2 = await aio.Sandbox.start("aio-life", detached=True)
        await s2.kill()
        await s2.remove()
        s3 = await aio.Sandbox.create(name="aio-life2", detached=True)
        await s3.close()
        await aio.Sandbox.stop_named("aio-life2")
        await aio.Sandbox.remove_named("aio-life2")
        s4 = await aio.Sandbox.create(name="aio-life3", detached=True)
        await s4.close()
        await aio.Sandbox.kill_named("aio-life3")
        await aio.Sandbox.remove_named("aio-life3", force=True)
        left = msb("ls", "-q").split()
        assert not {"aio-life", "aio-life2", "aio-life3"} & set(left)
        with pytest.raises(m.SandboxNotFound):
            await aio.Sandbox.connect("aio-life")
        with pytest.raises(m.InvalidArgumentError):
            await aio.Sandbox.create(memory=1)
    run(main(), timeout=300)


def test_cancelled_create_cleans_up():
    """A create cancelled while the VM boots: the sandbox it was making
    is stopped and removed once the boot ends."""
    async def main():
        task = asyncio.ensure_future(aio.Sandbox.create(
            labels={"cancel": "me"}))
        # cancel once the boot has begun (the sandbox is listed)
        while not [s for s in await aio.Sandbox.list()
                   if s.labels.get("cancel")]:
            await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        while [s for s in await aio.Sandbox.list()
               if s.labels.get("cancel")]:
            await asyncio.sleep(0.05)
    run(main(), timeout=120)


def test_volumes(tmp_path):
    async def main():
        v = await aio.Volume.create("aiovol", quota="32M")
        (tmp_path / "f").write_text("v")
        await v.copy_from_host(tmp_path / "f", "/f")
        assert "f" in [e.name for e in await v.list_dir("/")]
        await v.copy_to_host("/f", tmp_path / "g")
        assert (tmp_path / "g").read_text() == "v"
        assert (await v.info()).quota_bytes == 32 << 20
        assert "aiovol" in [i.name for i in await aio.Volume.list()]
        await v.remove()
        with pytest.raises(m.VolumeNotFound):
            await v.remove(force=True)
    run(main())


def test_pause_suspend_resume():
    async def main():
        s = await aio.Sandbox.create(name="aio-pause", detached=True)
        try:
            await s.pause()
            with pytest.raises(m.StateError):
                await s.exec("true")
            await s.resume()
            await s.suspend()
            assert "suspended" in msb("ls")
            await s.resume()
            assert (await s.exec("echo", ["back"])).stdout.strip() == "back"
        finally:
            await s.remove()
        # on_idle reaches the library (which refuses it unnamed)
        with pytest.raises(m.InvalidArgumentError, match="kept"):
            await aio.Sandbox.create(idle_timeout=5, on_idle="suspend")
    run(main())


def test_fork_and_create_from_snapshot():
    async def main():
        s = await aio.Sandbox.create(name="aio-fork", detached=True)
        kids = []
        try:
            await s.shell("echo before > /root/f")
            kids = await s.fork(["aio-fork-1"])
            assert isinstance(kids[0], aio.Sandbox)
            r = await kids[0].exec("cat", ["/root/f"])
            assert r.stdout.strip() == "before"
            await s.snapshot("aio-fork-snap")
            async with aio.Sandbox.create(snapshot="aio-fork-snap") as c:
                r = await c.exec("cat", ["/root/f"])
                assert r.stdout.strip() == "before"
        finally:
            for k in kids:
                await k.remove()
            await s.remove()
            msb("snapshot", "rm", "aio-fork-snap", check=False)
    run(main())
