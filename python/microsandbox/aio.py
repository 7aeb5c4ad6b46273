# SPDX-License-Identifier: Apache-2.0
"""The asyncio mirror of the API: the same classes and methods, as
coroutines, that never block the event loop.

Theory of operation: a library call that can wait (booting, a command, a
file transfer) runs in a thread of a pool owned by this module (64
threads by default; ``MSB_AIO_THREADS`` changes it), and the coroutine
awaits it. The library's thread-local error is read on that thread, so
exceptions are the same as the synchronous API's. Streams
(:class:`AsyncExecStream`) use no thread: the handle's descriptor is
watched with ``loop.add_reader`` and events are read without waiting.

Cancelling a coroutine does not interrupt the library call already
running in its thread; a cancelled :meth:`Sandbox.create` stops and
removes the sandbox it was booting as soon as the boot finishes.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import ctypes
import functools
import os
import signal as _signal
import threading
from typing import (Any, Awaitable, Callable, Dict,
                    Generator, List, Optional, Sequence, TypeVar, Union)

from . import errors
from . import images as _images
from ._exec import ExecStream, Process
from ._lib import last_error, lib
from .fs import Data, PathArg
from .models import (ExecEvent, ExecResult, Exited, FileInfo, Image, Metrics,
                     ProcessInfo, SandboxInfo, Stderr, Stdout, VolumeInfo)
from .sandbox import Sandbox as _SyncSandbox
from .volume import Volume as _SyncVolume

__all__ = ["Sandbox", "Volume", "AsyncExecStream", "AsyncProcess",
           "AsyncFilesystem", "images"]

T = TypeVar("T")

_pool: Optional[concurrent.futures.ThreadPoolExecutor] = None
_pool_lock = threading.Lock()


def _executor() -> concurrent.futures.ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            n = int(os.environ.get("MSB_AIO_THREADS", "64"))
            _pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=max(1, n), thread_name_prefix="msb-aio")
        return _pool


async def _run(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_executor(),
                                      functools.partial(fn, *args, **kwargs))


class AsyncExecStream:
    """A running command, for ``async for``: events as in
    :class:`~microsandbox.ExecStream`. Reads use the handle's
    descriptor in the event loop (no thread). Close it (``async with``,
    or :meth:`close`) when done: a command still running is killed."""

    def __init__(self, stream: ExecStream) -> None:
        self._s = stream
        self._loop = asyncio.get_running_loop()
        self._fd = stream.fileno()
        self._wake = asyncio.Event()
        self._exc: Optional[BaseException] = None
        self._reading = True
        self._loop.add_reader(self._fd, self._pump)

    @property
    def pid(self) -> Optional[int]:
        return self._s.pid

    @property
    def exited(self) -> Optional[Exited]:
        return self._s.exited

    def _stop_reading(self) -> None:
        if self._reading:
            self._reading = False
            self._loop.remove_reader(self._fd)

    def _pump(self) -> None:
        """Read every event available now (never waits)."""
        if self._s._e is None:
            self._stop_reading()
            return
        try:
            self._s._drain()
        except BaseException as e:
            self._exc = e
        if self._s._done or self._exc is not None:
            self._stop_reading()
        self._wake.set()

    def __aiter__(self) -> "AsyncExecStream":
        return self

    async def __anext__(self) -> ExecEvent:
        while True:
            if self._s._pending:
                return self._s._pending.popleft()
            if self._exc is not None:
                e, self._exc = self._exc, None
                raise e
            if self._s._done or self._s._e is None:
                raise StopAsyncIteration
            self._wake.clear()
            self._pump()
            if self._s._pending or self._exc or self._s._done:
                continue
            await self._wake.wait()

    async def write_stdin(self, data: Union[bytes, bytearray, memoryview,
                                            str]) -> None:
        """Write all of @data to stdin, awaiting room in the window
        (output that arrives meanwhile is queued for the iterator)."""
        if isinstance(data, str):
            data = data.encode()
        view = memoryview(data).cast("B")
        total = len(view)
        if not total:
            return
        buf = (ctypes.c_char * total).from_buffer_copy(view)
        off = 0
        e = self._s._h()
        while off < total:
            self._wake.clear()
            self._pump()
            n = lib.msb_exec_try_write(e, ctypes.addressof(buf) + off,
                                       total - off)
            if n < 0:
                raise last_error(n)
            if n == 0:
                if self._s._done or not self._reading:
                    raise errors.StateError("the command has exited",
                                            errors.MSB_ESTATE)
                await self._wake.wait()
                continue
            off += n

    async def close_stdin(self) -> None:
        """Close the command's stdin."""
        self._s.close_stdin()

    async def signal(self, sig: int = _signal.SIGTERM) -> None:
        self._s.signal(sig)

    async def kill(self) -> None:
        self._s.kill()

    async def resize(self, rows: int, cols: int) -> None:
        self._s.resize(rows, cols)

    async def wait(self) -> Exited:
        """Wait for the command to end, discarding unread output."""
        async for ev in self:
            if isinstance(ev, Exited):
                return ev
        if self._s.exited is not None:
            return self._s.exited
        raise errors.StateError("the stream ended without an exit status "
                                "(detached)", errors.MSB_ESTATE)

    async def collect(self) -> ExecResult:
        """Read the remaining events; the output and status."""
        out, err = [], []
        async for ev in self:
            if isinstance(ev, Stdout):
                out.append(ev.data)
            elif isinstance(ev, Stderr):
                err.append(ev.data)
        st = self._s.exited or Exited(-1, 0)
        return ExecResult(b"".join(out), b"".join(err), st.exit_code,
                          st.signal)

    async def close(self) -> None:
        self._stop_reading()
        self._s.close()

    async def __aenter__(self) -> "AsyncExecStream":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def __del__(self) -> None:
        try:
            if self._reading and not self._loop.is_closed():
                self._loop.remove_reader(self._fd)
        except Exception:
            pass


class AsyncProcess:
    """A background process (:meth:`Sandbox.spawn`)."""

    def __init__(self, proc: Process, sandbox: "Sandbox") -> None:
        self._p = proc
        self.sandbox = sandbox
        self.id = proc.id

    def __repr__(self) -> str:
        return "AsyncProcess(%r, id=%d)" % (self.sandbox.name, self.id)

    async def info(self) -> ProcessInfo:
        return await _run(self._p.info)

    async def signal(self, sig: int = _signal.SIGTERM) -> None:
        await _run(self._p.signal, sig)

    async def kill(self) -> None:
        await _run(self._p.kill)

    async def wait(self) -> Exited:
        return await _run(self._p.wait)

    async def attach(self, *, logs: bool = True, follow: bool = True,
                     stdin: bool = False) -> AsyncExecStream:
        s = await _run(self._p.attach, logs=logs, follow=follow, stdin=stdin)
        return AsyncExecStream(s)

    async def logs(self) -> ExecResult:
        s = await self.attach(logs=True, follow=False)
        async with s:
            return await s.collect()

    async def remove(self, force: bool = False) -> None:
        await _run(self._p.remove, force)


class AsyncFilesystem:
    """``sandbox.fs`` of an async sandbox: the methods of
    :class:`~microsandbox.fs.Filesystem` as coroutines."""

    def __init__(self, sync: Any) -> None:
        self._fs = sync

    async def read(self, path: PathArg) -> bytes:
        return await _run(self._fs.read, path)

    async def read_text(self, path: PathArg, encoding: str = "utf-8",
                        errors: str = "strict") -> str:
        return await _run(self._fs.read_text, path, encoding, errors)

    async def read_into(self, path: PathArg, file: Any) -> int:
        return await _run(self._fs.read_into, path, file)

    async def write(self, path: PathArg, data: Data, *, mode: int = 0o644,
                    append: bool = False, exclusive: bool = False) -> None:
        await _run(self._fs.write, path, data, mode=mode, append=append,
                   exclusive=exclusive)

    async def list(self, path: PathArg = "/") -> List[FileInfo]:
        return await _run(self._fs.list, path)

    async def stat(self, path: PathArg) -> FileInfo:
        return await _run(self._fs.stat, path)

    async def exists(self, path: PathArg) -> bool:
        return await _run(self._fs.exists, path)

    async def mkdir(self, path: PathArg, *, parents: bool = False,
                    mode: int = 0o755) -> None:
        await _run(self._fs.mkdir, path, parents=parents, mode=mode)

    async def remove(self, path: PathArg, *, recursive: bool = False) -> None:
        await _run(self._fs.remove, path, recursive=recursive)

    async def rename(self, src: PathArg, dst: PathArg) -> None:
        await _run(self._fs.rename, src, dst)

    async def copy(self, src: PathArg, dst: PathArg, *,
                   recursive: bool = False) -> None:
        await _run(self._fs.copy, src, dst, recursive=recursive)

    async def chmod(self, path: PathArg, mode: int) -> None:
        await _run(self._fs.chmod, path, mode)

    async def chown(self, path: PathArg, uid: int = -1, gid: int = -1) -> None:
        await _run(self._fs.chown, path, uid, gid)

    async def symlink(self, path: PathArg, target: str) -> None:
        await _run(self._fs.symlink, path, target)

    async def copy_from_host(self, host_path: PathArg,
                             guest_path: PathArg) -> None:
        await _run(self._fs.copy_from_host, host_path, guest_path)

    async def copy_to_host(self, guest_path: PathArg, host_path: PathArg, *,
                           archive: bool = False,
                           max_bytes: Optional[int] = None,
                           max_files: Optional[int] = None) -> None:
        await _run(self._fs.copy_to_host, guest_path, host_path,
                   archive=archive, max_bytes=max_bytes, max_files=max_files)


class _Creating:
    """What :meth:`Sandbox.create` returns: await it for the sandbox, or
    use it in ``async with`` directly."""

    def __init__(self, make: Callable[[], Awaitable["Sandbox"]]) -> None:
        self._make = make
        self._sb: Optional["Sandbox"] = None

    async def _get(self) -> "Sandbox":
        if self._sb is None:
            self._sb = await self._make()
        return self._sb

    def __await__(self) -> Generator[Any, None, "Sandbox"]:
        return self._get().__await__()

    async def __aenter__(self) -> "Sandbox":
        return await (await self._get()).__aenter__()

    async def __aexit__(self, *exc: Any) -> None:
        if self._sb is not None:
            await self._sb.__aexit__(*exc)


class Sandbox:
    """The async :class:`microsandbox.Sandbox`::

        async with aio.Sandbox.create() as sb:
            r = await sb.exec("echo", ["hi"])

    (or ``sb = await aio.Sandbox.create()`` then ``await sb.remove()``).
    Every method of the synchronous class is a coroutine here, with the
    same arguments; ``fs`` is an :class:`AsyncFilesystem`.
    """

    def __init__(self, sync: _SyncSandbox) -> None:
        self._sync = sync
        self.name = sync.name
        self.fs = AsyncFilesystem(sync.fs)

    def __repr__(self) -> str:
        return "aio.Sandbox(%r)" % self.name

    @property
    def sync(self) -> _SyncSandbox:
        """The synchronous object behind this one."""
        return self._sync

    @classmethod
    def create(cls, name: Optional[str] = None, image: Optional[str] = None,
               **kwargs: Any) -> _Creating:
        """Boot a sandbox; arguments as :meth:`microsandbox.Sandbox.create`.
        Await the result, or use it in ``async with``."""
        async def make() -> "Sandbox":
            loop = asyncio.get_running_loop()
            fut = loop.run_in_executor(_executor(), functools.partial(
                _SyncSandbox.create, name, image, **kwargs))
            try:
                return cls(await asyncio.shield(fut))
            except asyncio.CancelledError:
                def cleanup(f: "asyncio.Future[_SyncSandbox]") -> None:
                    if not f.cancelled() and f.exception() is None:
                        _executor().submit(f.result().__exit__, None, None,
                                           None)
                fut.add_done_callback(cleanup)
                raise
        return _Creating(make)

    @classmethod
    async def connect(cls, name: str) -> "Sandbox":
        return cls(await _run(_SyncSandbox.connect, name))

    @classmethod
    async def start(cls, name: str, *, detached: bool = False) -> "Sandbox":
        return cls(await _run(_SyncSandbox.start, name, detached=detached))

    @staticmethod
    async def list() -> List[SandboxInfo]:
        return await _run(_SyncSandbox.list)

    @staticmethod
    async def remove_named(name: str, *, force: bool = False) -> None:
        await _run(_SyncSandbox.remove_named, name, force=force)

    @staticmethod
    async def stop_named(name: str, *, timeout: float = 10.0) -> None:
        await _run(_SyncSandbox.stop_named, name, timeout=timeout)

    @staticmethod
    async def kill_named(name: str) -> None:
        await _run(_SyncSandbox.kill_named, name)

    @staticmethod
    async def wait_named(name: str, timeout: Optional[float] = None) -> str:
        return await _run(_SyncSandbox.wait_named, name, timeout)

    async def stop(self, timeout: float = 10.0) -> None:
        await _run(self._sync.stop, timeout)

    async def kill(self) -> None:
        await _run(self._sync.kill)

    async def pause(self) -> None:
        await _run(self._sync.pause)

    async def suspend(self) -> None:
        await _run(self._sync.suspend)

    async def resume(self) -> None:
        await _run(self._sync.resume)

    async def snapshot(self, snap: str, *, disk_only: bool = False) -> None:
        await _run(self._sync.snapshot, snap, disk_only=disk_only)

    async def fork(self, names: Union[int, str, Sequence[str]] = 1
                   ) -> List["Sandbox"]:
        return [Sandbox(s) for s in await _run(self._sync.fork, names)]

    @classmethod
    async def from_snapshot(cls, snap: str, name: str) -> "Sandbox":
        return cls(await _run(_SyncSandbox.from_snapshot, snap, name))

    async def remove(self) -> None:
        await _run(self._sync.remove)

    async def close(self) -> None:
        await _run(self._sync.close)

    async def __aenter__(self) -> "Sandbox":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await _run(self._sync.__exit__, *exc)

    async def exec(self, cmd: Union[str, Sequence[str]],
                   args: Optional[Sequence[str]] = None,
                   **kwargs: Any) -> ExecResult:
        """:meth:`microsandbox.Sandbox.exec`."""
        return await _run(self._sync.exec, cmd, args, **kwargs)

    async def shell(self, script: str, **kwargs: Any) -> ExecResult:
        return await _run(self._sync.shell, script, **kwargs)

    async def exec_stream(self, cmd: Union[str, Sequence[str]],
                          args: Optional[Sequence[str]] = None,
                          **kwargs: Any) -> AsyncExecStream:
        """:meth:`microsandbox.Sandbox.exec_stream`, as an
        :class:`AsyncExecStream`."""
        s = await _run(self._sync.exec_stream, cmd, args, **kwargs)
        return AsyncExecStream(s)

    async def spawn(self, cmd: Union[str, Sequence[str]],
                    args: Optional[Sequence[str]] = None,
                    **kwargs: Any) -> AsyncProcess:
        p = await _run(self._sync.spawn, cmd, args, **kwargs)
        return AsyncProcess(p, self)

    async def processes(self) -> List[ProcessInfo]:
        return await _run(self._sync.processes)

    def process(self, id: int) -> AsyncProcess:
        return AsyncProcess(self._sync.process(id), self)

    async def metrics(self) -> Metrics:
        return await _run(self._sync.metrics)

    async def inspect(self) -> Dict[str, Any]:
        return await _run(self._sync.inspect)

    async def config(self) -> Dict[str, Any]:
        return await _run(self._sync.config)

    async def status(self) -> str:
        return await _run(lambda: self._sync.status)


class Volume:
    """The async :class:`microsandbox.Volume`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._v = _SyncVolume(name)

    def __repr__(self) -> str:
        return "aio.Volume(%r)" % self.name

    @classmethod
    async def create(cls, name: str,
                     quota: Union[int, str, None] = None) -> "Volume":
        await _run(_SyncVolume.create, name, quota)
        return cls(name)

    @staticmethod
    async def list() -> List[VolumeInfo]:
        return await _run(_SyncVolume.list)

    async def info(self) -> VolumeInfo:
        return await _run(self._v.info)

    async def remove(self, *, force: bool = False) -> None:
        await _run(self._v.remove, force=force)

    async def list_dir(self, path: PathArg = "/") -> List[FileInfo]:
        return await _run(self._v.list_dir, path)

    async def copy_to_host(self, path: PathArg, host_path: PathArg,
                           **kwargs: Any) -> None:
        await _run(self._v.copy_to_host, path, host_path, **kwargs)

    async def copy_from_host(self, host_path: PathArg, path: PathArg) -> None:
        await _run(self._v.copy_from_host, host_path, path)


class _Images:
    """``aio.images``: :mod:`microsandbox.images` as coroutines. A
    ``progress`` callback of :meth:`pull` runs in the event loop's
    thread."""

    async def pull(self, reference: str, *,
                   progress: Optional[Callable[[str, int, int], Any]] = None,
                   **kwargs: Any) -> Image:
        cb = None
        if progress is not None:
            loop = asyncio.get_running_loop()
            report = progress

            def cb(d: str, done: int, total: int) -> None:
                loop.call_soon_threadsafe(report, d, done, total)
        return await _run(_images.pull, reference, progress=cb, **kwargs)

    async def get(self, reference: str) -> Image:
        return await _run(_images.get, reference)

    async def list(self) -> List[Image]:
        return await _run(_images.list)

    async def remove(self, reference: str) -> None:
        await _run(_images.remove, reference)

    async def prune(self) -> int:
        return await _run(_images.prune)


images = _Images()
