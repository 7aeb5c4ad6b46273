# SPDX-License-Identifier: Apache-2.0
"""Commands: option building, the streaming handle and background
processes. Internal module; the public names are re-exported by the
package."""
from __future__ import annotations

import ctypes
import os
import select
import signal as _signal
from collections import deque
from ctypes import byref, c_int, c_size_t, c_void_p
from typing import (TYPE_CHECKING, Any, Deque, List, Mapping, Optional,
                    Sequence, TypeVar, Union)

from . import errors
from ._lib import (EXEC_OPTIONS_VERSION, check, last_error, lib,
                   msb_exec_event, msb_exec_options, opt_enc, strv)
from .models import (Detached, ExecEvent, ExecResult, Exited, Started, Stderr,
                    Stdout)

if TYPE_CHECKING:
    from .sandbox import Sandbox

T = TypeVar("T")

Env = Union[Mapping[str, str], Sequence[str], None]
StdinArg = Union[bytes, bytearray, memoryview, str, Any, None]

# enum msb_exec_event_type
EV_STARTED, EV_STDOUT, EV_STDERR, EV_EXITED, EV_DETACHED = 1, 2, 3, 4, 5
ATTACH_LOGS, ATTACH_FOLLOW, ATTACH_STDIN = 1, 2, 4


def env_list(env: Env) -> Optional[List[str]]:
    """``{"K": "V"}`` or ``["K=V"]`` as a list of "K=V" strings."""
    if env is None:
        return None
    if isinstance(env, Mapping):
        out = []
        for k, v in env.items():
            if not k or "=" in k:
                raise ValueError("invalid environment variable name %r" % k)
            out.append("%s=%s" % (k, v))
        return out
    if isinstance(env, (str, bytes)):
        raise TypeError("env must be a mapping or a list of 'KEY=VALUE'")
    return [str(e) for e in env]


def argv_of(cmd: Union[str, Sequence[str]],
            args: Optional[Sequence[str]]) -> List[str]:
    """exec("ls", ["-l"]), exec(["ls", "-l"]) or exec("ls")."""
    if isinstance(cmd, (str, bytes, os.PathLike)):
        argv = [cmd]
    else:
        argv = list(cmd)
    if args is not None:
        if isinstance(args, (str, bytes)):
            raise TypeError("args must be a list of strings, not a string")
        argv.extend(args)
    if not argv:
        raise ValueError("empty command")
    return argv


class ExecOpts:
    """A msb_exec_options and the buffers it points to (kept alive)."""

    def __init__(self, *, env: Env = None, cwd: Optional[str] = None,
                 user: Optional[str] = None, timeout: Optional[float] = None,
                 stdin: StdinArg = None, tty: bool = False,
                 rows: int = 0, cols: int = 0,
                 rlimits: Optional[Sequence[str]] = None,
                 kill_group: bool = False) -> None:
        o = msb_exec_options()
        o.version = EXEC_OPTIONS_VERSION
        o.stdin_fd = -1
        self.keep: List[Any] = []
        e = env_list(env)
        if e is not None:
            o.env = self._k(strv(e))
        o.cwd = opt_enc(cwd)
        o.user = opt_enc(user)
        if timeout is not None:
            if timeout <= 0:
                raise ValueError("timeout must be positive")
            o.timeout_ms = max(1, int(timeout * 1000))
        if stdin is not None:
            if isinstance(stdin, str):
                stdin = stdin.encode()
            if isinstance(stdin, (bytes, bytearray, memoryview)):
                data = bytes(stdin)
                buf = self._k(ctypes.create_string_buffer(data, len(data)))
                o.stdin_data = ctypes.cast(buf, c_void_p)
                o.stdin_len = len(data)
            elif hasattr(stdin, "fileno"):
                try:
                    o.stdin_fd = stdin.fileno()
                except (OSError, ValueError):
                    data = stdin.read()
                    if isinstance(data, str):
                        data = data.encode()
                    buf = self._k(ctypes.create_string_buffer(data, len(data)))
                    o.stdin_data = ctypes.cast(buf, c_void_p)
                    o.stdin_len = len(data)
            elif isinstance(stdin, int) and not isinstance(stdin, bool):
                o.stdin_fd = stdin
            elif hasattr(stdin, "read"):
                data = stdin.read()
                if isinstance(data, str):
                    data = data.encode()
                buf = self._k(ctypes.create_string_buffer(data, len(data)))
                o.stdin_data = ctypes.cast(buf, c_void_p)
                o.stdin_len = len(data)
            else:
                raise TypeError("stdin must be bytes, str, a file object or "
                                "a file descriptor")
        if rlimits is not None:
            o.rlimits = self._k(strv(rlimits))
        o.tty = 1 if tty else 0
        o.rows = rows
        o.cols = cols
        o.kill_group = 1 if kill_group else 0
        self.opts = o

    def _k(self, obj: T) -> T:
        self.keep.append(obj)
        return obj


def take_output(out: c_void_p) -> ExecResult:
    """An msb_exec_output as an ExecResult; frees it."""
    try:
        n = c_size_t()
        p = lib.msb_exec_output_stdout(out, byref(n))
        so = ctypes.string_at(p, n.value) if n.value else b""
        p = lib.msb_exec_output_stderr(out, byref(n))
        se = ctypes.string_at(p, n.value) if n.value else b""
        return ExecResult(so, se, lib.msb_exec_output_exit_code(out),
                          lib.msb_exec_output_signal(out),
                          lib.msb_exec_output_duration_ms(out))
    finally:
        lib.msb_exec_output_free(out)


def _event(ev: msb_exec_event) -> ExecEvent:
    t = ev.type
    if t == EV_STDOUT:
        return Stdout(ctypes.string_at(ev.data, ev.len) if ev.len else b"")
    if t == EV_STDERR:
        return Stderr(ctypes.string_at(ev.data, ev.len) if ev.len else b"")
    if t == EV_STARTED:
        return Started(ev.pid)
    if t == EV_EXITED:
        return Exited(ev.exit_code, ev.signal)
    if t == EV_DETACHED:
        return Detached()
    raise errors.ProtocolError("unknown exec event type %d" % t,
                               errors.MSB_EPROTO)


class ExecStream:
    """A running command: iterate over it for its events
    (:class:`Started`, :class:`Stdout`, :class:`Stderr`, then
    :class:`Exited`), feed its stdin, signal it, resize its terminal.

    Use it as a context manager, or call :meth:`close`: closing a stream
    whose command still runs kills the command (a background process's
    attachment only detaches). It is not thread-safe: use it from one
    thread at a time.
    """

    def __init__(self, handle: c_void_p, keep: Any = None) -> None:
        self._e: Optional[c_void_p] = handle
        self._keep = keep  # the sandbox stays alive while we run
        self._ev = msb_exec_event()
        self._pending: Deque[ExecEvent] = deque()
        self._done = False
        self.pid: Optional[int] = None
        """The guest pid, once :class:`Started` was read."""
        self.exited: Optional[Exited] = None
        """The :class:`Exited` event, once read."""

    # -- internals
    def _h(self) -> c_void_p:
        if self._e is None:
            raise errors.StateError("the stream is closed", errors.MSB_ESTATE)
        return self._e

    def _next(self, timeout_ms: int) -> Optional[ExecEvent]:
        rc = lib.msb_exec_next(self._h(), byref(self._ev), timeout_ms)
        if rc < 0:
            if rc == -errors.MSB_ETIMEDOUT:
                return None
            self._done = True
            raise last_error(rc)
        ev = _event(self._ev)
        if isinstance(ev, Started):
            self.pid = ev.pid
        elif isinstance(ev, Exited):
            self.exited = ev
            self._done = True
        elif isinstance(ev, Detached):
            self._done = True
        return ev

    def _drain(self) -> None:
        """Read every event already available into the queue."""
        while not self._done:
            ev = self._next(0)
            if ev is None:
                return
            self._pending.append(ev)

    # -- iteration
    def __iter__(self) -> "ExecStream":
        return self

    def __next__(self) -> ExecEvent:
        if self._pending:
            return self._pending.popleft()
        if self._done:
            raise StopIteration
        ev = self._next(-1)
        assert ev is not None
        return ev

    def next_event(self, timeout: Optional[float] = None) -> Optional[ExecEvent]:
        """The next event, waiting at most @timeout seconds (None: no
        limit); None if none came in time or the stream has ended."""
        if self._pending:
            return self._pending.popleft()
        if self._done:
            return None
        return self._next(-1 if timeout is None else int(timeout * 1000))

    # -- control
    def fileno(self) -> int:
        """A descriptor that polls readable when an event may be ready
        (read every ready event with ``next_event(0)`` before polling)."""
        fd: int = lib.msb_exec_fd(self._h())
        return fd

    @property
    def tty(self) -> bool:
        return bool(lib.msb_exec_tty(self._h()))

    def write_stdin(self, data: Union[bytes, bytearray, memoryview, str]) -> None:
        """Write all of @data to the command's stdin.

        Stdin is flow-controlled; while the command is not reading, this
        waits, reading (and queueing for the iterator) the output the
        command writes meanwhile, so it never deadlocks on a command that
        writes before it reads. Raises :class:`StateError` if the command
        has exited.
        """
        if isinstance(data, str):
            data = data.encode()
        view = memoryview(data).cast("B")
        off, total = 0, len(view)
        if not total:
            return
        buf = (ctypes.c_char * total).from_buffer_copy(view)
        e = self._h()
        while off < total:
            self._drain()
            n = lib.msb_exec_try_write(e, ctypes.addressof(buf) + off,
                                         total - off)
            if n < 0:
                raise last_error(n)
            if n == 0:
                if self._done:
                    raise errors.StateError("the command has exited",
                                            errors.MSB_ESTATE)
                select.select([lib.msb_exec_fd(e)], [], [])
                continue
            off += n

    def close_stdin(self) -> None:
        """Close the command's stdin (it reads end of file)."""
        check(lib.msb_exec_close_stdin(self._h()))

    def signal(self, sig: int = _signal.SIGTERM) -> None:
        """Send @sig to the command's process group."""
        check(lib.msb_exec_signal(self._h(), int(sig)))

    def kill(self) -> None:
        """SIGKILL the command's process group."""
        self.signal(_signal.SIGKILL)

    def resize(self, rows: int, cols: int) -> None:
        """Resize the command's terminal (started with ``tty=True``)."""
        check(lib.msb_exec_resize(self._h(), rows, cols))

    def wait(self) -> Exited:
        """Wait for the command to end, discarding output not yet read;
        return its :class:`Exited` event."""
        for ev in self._pending:
            if isinstance(ev, Exited):
                self._pending.clear()
                return ev
        self._pending.clear()
        if self.exited is not None:
            return self.exited
        if self._done:
            raise errors.StateError("the stream ended without an exit "
                                    "status (detached)", errors.MSB_ESTATE)
        code, sig = c_int(), c_int()
        rc = lib.msb_exec_wait(self._h(), byref(code), byref(sig))
        self._done = True
        check(rc)
        self.exited = Exited(code.value, sig.value)
        return self.exited

    def collect(self) -> ExecResult:
        """Read the remaining events and return the output and status."""
        out, err = [], []
        status: Optional[Exited] = None
        for ev in self:
            if isinstance(ev, Stdout):
                out.append(ev.data)
            elif isinstance(ev, Stderr):
                err.append(ev.data)
            elif isinstance(ev, Exited):
                status = ev
        if status is None:
            status = self.exited or Exited(-1, 0)
        return ExecResult(b"".join(out), b"".join(err), status.exit_code,
                          status.signal)

    def close(self) -> None:
        """Release the stream; a command still running is killed."""
        e, self._e = self._e, None
        if e is not None:
            lib.msb_exec_free(e)
        self._keep = None

    def __enter__(self) -> "ExecStream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


class Process:
    """A background process in a sandbox (:meth:`Sandbox.spawn`), by its
    id in the sandbox's process table. It runs on its own; its output is
    kept in the guest (the last 1 MiB)."""

    def __init__(self, sandbox: "Sandbox", id: int) -> None:
        self.sandbox = sandbox
        self.id = id

    def __repr__(self) -> str:
        return "Process(%r, id=%d)" % (self.sandbox.name, self.id)

    def info(self) -> "ProcessInfo":
        """Its entry in the process table."""
        for p in self.sandbox.processes():
            if p.id == self.id:
                return p
        raise errors.NotFoundError("no process %d in sandbox `%s`" % (
            self.id, self.sandbox.name), errors.MSB_ENOTFOUND)

    def signal(self, sig: int = _signal.SIGTERM) -> None:
        """Send @sig to its process group (fine if it has exited)."""
        with self.sandbox._handle() as h:
            check(lib.msb_sandbox_proc_signal(h, self.id, int(sig)))

    def kill(self) -> None:
        self.signal(_signal.SIGKILL)

    def wait(self) -> Exited:
        """Wait until it exits."""
        code, sig = c_int(), c_int()
        with self.sandbox._handle() as h:
            check(lib.msb_sandbox_proc_wait(h, self.id, byref(code),
                                            byref(sig)))
        return Exited(code.value, sig.value)

    def attach(self, *, logs: bool = True, follow: bool = True,
               stdin: bool = False) -> ExecStream:
        """A stream of its output: first what the guest kept (@logs), then
        new output until it exits (@follow); with @stdin,
        :meth:`ExecStream.write_stdin` feeds it (spawned with
        ``stdin=True``). Closing the stream detaches; it runs on."""
        flags = ((ATTACH_LOGS if logs else 0) |
                 (ATTACH_FOLLOW if follow else 0) |
                 (ATTACH_STDIN if stdin else 0))
        out = c_void_p()
        with self.sandbox._handle() as h:
            check(lib.msb_sandbox_proc_attach(byref(out), h, self.id, flags))
        return ExecStream(out, self.sandbox)

    def logs(self) -> ExecResult:
        """The output kept so far (stdout and stderr), without waiting;
        ``exit_code`` is -1 while the process runs."""
        with self.attach(logs=True, follow=False) as s:
            r = s.collect()
        return r

    def remove(self, force: bool = False) -> None:
        """Take it out of the process table; @force kills it if it runs
        (else a running one is :class:`StateError`)."""
        with self.sandbox._handle() as h:
            check(lib.msb_sandbox_proc_remove(h, self.id, 1 if force else 0))


from .models import ProcessInfo  # noqa: E402  (annotation above)
