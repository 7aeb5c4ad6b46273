# SPDX-License-Identifier: Apache-2.0
"""The guest filesystem of a sandbox (``sandbox.fs``).

Paths are absolute guest paths; operations run as root in the guest.
Failures raise :class:`~microsandbox.errors.FsError` subclasses carrying
the guest's errno (also the built-in ``FileNotFoundError``...).
"""
from __future__ import annotations

import ctypes
import io
import os
from ctypes import POINTER, byref, c_int, c_size_t, c_void_p
from typing import IO, TYPE_CHECKING, Any, List, Optional, Union

from ._lib import (COPY_OPTIONS_VERSION, FS_SINK_FN, FS_SOURCE_FN, check,
                   dec, enc, last_error, lib, libc, msb_copy_options,
                   msb_fs_entry)
from .models import FileInfo, FileType

if TYPE_CHECKING:
    from .sandbox import Sandbox

__all__ = ["Filesystem"]

WRITE_APPEND = 1
WRITE_EXCL = 2
_CHUNK = 256 << 10

PathArg = Union[str, "os.PathLike[str]"]
Data = Union[bytes, bytearray, memoryview, str, IO[bytes], IO[str]]

_TYPES = list(FileType)


def entry_info(e: msb_fs_entry) -> FileInfo:
    t = _TYPES[e.type] if 0 <= e.type < len(_TYPES) else FileType.UNKNOWN
    return FileInfo(dec(e.name) or "", t, e.size, e.mode, e.uid, e.gid,
                    e.mtime_ns, dec(e.target))


def copy_options(archive: bool, max_bytes: Optional[int],
                 max_files: Optional[int]) -> msb_copy_options:
    return msb_copy_options(COPY_OPTIONS_VERSION, 1 if archive else 0,
                            max_bytes or 0, max_files or 0)


def entries(arr: Any, n: int) -> List[FileInfo]:
    try:
        return [entry_info(arr[i]) for i in range(n)]
    finally:
        lib.msb_fs_entries_free(arr, n)


class _Source:
    """Feeds msb_sandbox_fs_write_stream() from a file object; keeps the
    first exception to raise after the call."""

    def __init__(self, f: Any) -> None:
        self.f = f
        self.exc: Optional[BaseException] = None
        self.readinto = (f.readinto if isinstance(
            f, (io.RawIOBase, io.BufferedIOBase)) else None)
        self.fn = FS_SOURCE_FN(self._read)

    def _read(self, buf: int, cap: int, _ud: Any) -> int:
        try:
            if self.readinto is not None:
                n = self.readinto((ctypes.c_char * cap).from_address(buf))
                if n is None:
                    raise BlockingIOError("the file object would block")
                return n
            data = self.f.read(cap)
            if isinstance(data, str):
                data = data.encode()
            if not data:
                return 0
            if len(data) > cap:  # text encoded may grow; keep the rest
                self.f = _Prepend(data[cap:], self.f)
                data = data[:cap]
            ctypes.memmove(buf, data, len(data))
            return len(data)
        except BaseException as e:  # never unwind into C
            self.exc = e
            return -1


class _Prepend:
    def __init__(self, head: bytes, f: Any) -> None:
        self.head, self.f = head, f

    def read(self, n: int) -> bytes:
        if self.head:
            out, self.head = self.head[:n], self.head[n:]
            return out
        d = self.f.read(n)
        return d.encode() if isinstance(d, str) else bytes(d)


class Filesystem:
    """Files in a sandbox's guest. Obtain it as ``sandbox.fs``."""

    def __init__(self, sandbox: "Sandbox") -> None:
        self._sb = sandbox

    def read(self, path: PathArg) -> bytes:
        """The whole file (at most 1 GiB; stream bigger ones with
        :meth:`read_into` or :meth:`copy_to_host`)."""
        data = c_void_p()
        n = c_size_t()
        with self._sb._handle() as h:
            check(lib.msb_sandbox_fs_read(byref(data), byref(n), h,
                                          enc(path)), "fs")
        try:
            out: bytes = ctypes.string_at(data, n.value) if n.value else b""
            return out
        finally:
            libc.free(data)

    def read_text(self, path: PathArg, encoding: str = "utf-8",
                  errors: str = "strict") -> str:
        """The file decoded as text."""
        return self.read(path).decode(encoding, errors)

    def read_into(self, path: PathArg, file: Union[IO[bytes], Any]) -> int:
        """Stream the file into the binary file object @file, in chunks
        of at most 64 KiB (bounded memory). Returns the bytes written."""
        total = [0]
        exc: List[BaseException] = []

        def sink(p: int, n: int, _ud: Any) -> int:
            try:
                file.write(ctypes.string_at(p, n))
                total[0] += n
                return 0
            except BaseException as e:
                exc.append(e)
                return 1

        fn = FS_SINK_FN(sink)
        with self._sb._handle() as h:
            rc = lib.msb_sandbox_fs_read_stream(h, enc(path), fn, None)
            if rc < 0 and not exc:
                raise last_error(rc, "fs")
        if exc:
            raise exc[0]
        return total[0]

    def write(self, path: PathArg, data: Data, *, mode: int = 0o644,
              append: bool = False, exclusive: bool = False) -> None:
        """Create or replace @path with @data: bytes, str (UTF-8), or a
        file object read to its end and streamed (bounded memory).

        Args:
            mode: permission bits of a new file.
            append: append instead of replacing.
            exclusive: fail with :class:`FsExists` if it exists.
        """
        flags = (WRITE_APPEND if append else 0) | (WRITE_EXCL if exclusive
                                                   else 0)
        p = enc(path)
        if isinstance(data, str):
            data = data.encode()
        if isinstance(data, (bytes, bytearray, memoryview)):
            b = bytes(data) if not isinstance(data, bytes) else data
            with self._sb._handle() as h:
                check(lib.msb_sandbox_fs_write(h, p, b, len(b), mode, flags),
                      "fs")
            return
        if not hasattr(data, "read"):
            raise TypeError("data must be bytes, str or a file object")
        src = _Source(data)
        with self._sb._handle() as h:
            rc = lib.msb_sandbox_fs_write_stream(h, p, src.fn, None, mode,
                                                 flags)
            if rc < 0 and src.exc is None:
                raise last_error(rc, "fs")
        if src.exc is not None:
            raise src.exc

    def list(self, path: PathArg = "/") -> List[FileInfo]:
        """The entries of directory @path, sorted by name."""
        arr = POINTER(msb_fs_entry)()
        n = c_size_t()
        with self._sb._handle() as h:
            check(lib.msb_sandbox_fs_list(byref(arr), byref(n), h,
                                          enc(path)), "fs")
        return sorted(entries(arr, n.value), key=lambda e: e.name)

    def stat(self, path: PathArg) -> FileInfo:
        """Metadata of @path (a final symlink is not followed)."""
        e = msb_fs_entry()
        with self._sb._handle() as h:
            check(lib.msb_sandbox_fs_stat(byref(e), h, enc(path)), "fs")
        try:
            return entry_info(e)
        finally:
            lib.msb_fs_entry_clear(byref(e))

    def exists(self, path: PathArg) -> bool:
        """Whether @path exists (as lstat sees it)."""
        r = c_int()
        with self._sb._handle() as h:
            check(lib.msb_sandbox_fs_exists(byref(r), h, enc(path)), "fs")
        return bool(r.value)

    def mkdir(self, path: PathArg, *, parents: bool = False,
              mode: int = 0o755) -> None:
        """Create directory @path; @parents: also missing parents, and
        fine if it exists (``mkdir -p``)."""
        with self._sb._handle() as h:
            check(lib.msb_sandbox_fs_mkdir(h, enc(path), mode,
                                           1 if parents else 0), "fs")

    def remove(self, path: PathArg, *, recursive: bool = False) -> None:
        """Remove a file, symlink or empty directory; @recursive: a whole
        tree."""
        with self._sb._handle() as h:
            check(lib.msb_sandbox_fs_remove(h, enc(path),
                                            1 if recursive else 0), "fs")

    def rename(self, src: PathArg, dst: PathArg) -> None:
        """Rename (move) @src to @dst."""
        with self._sb._handle() as h:
            check(lib.msb_sandbox_fs_rename(h, enc(src), enc(dst)), "fs")

    def copy(self, src: PathArg, dst: PathArg, *,
             recursive: bool = False) -> None:
        """Copy inside the guest; @recursive for directories."""
        with self._sb._handle() as h:
            check(lib.msb_sandbox_fs_copy(h, enc(src), enc(dst),
                                          1 if recursive else 0), "fs")

    def chmod(self, path: PathArg, mode: int) -> None:
        with self._sb._handle() as h:
            check(lib.msb_sandbox_fs_chmod(h, enc(path), mode), "fs")

    def chown(self, path: PathArg, uid: int = -1, gid: int = -1) -> None:
        """Change the owner; -1 leaves it unchanged."""
        with self._sb._handle() as h:
            check(lib.msb_sandbox_fs_chown(h, enc(path), uid, gid), "fs")

    def symlink(self, path: PathArg, target: str) -> None:
        """Make @path a symbolic link to @target."""
        with self._sb._handle() as h:
            check(lib.msb_sandbox_fs_symlink(h, enc(path), enc(target)), "fs")

    def copy_from_host(self, host_path: PathArg, guest_path: PathArg) -> None:
        """Copy a host file, symlink or directory tree to @guest_path,
        keeping permission bits. Streams, in bounded memory."""
        with self._sb._handle() as h:
            check(lib.msb_sandbox_fs_copy_in(h, enc(host_path),
                                             enc(guest_path)), "fs")

    def copy_to_host(self, guest_path: PathArg, host_path: PathArg, *,
                     archive: bool = False, max_bytes: Optional[int] = None,
                     max_files: Optional[int] = None) -> None:
        """Copy a guest file, symlink or tree to @host_path. The guest is
        untrusted: names are checked, nothing is written outside
        @host_path, modes are clamped and files belong to you unless
        @archive (SECURITY NOTE: never with an untrusted sandbox).
        @max_bytes/@max_files bound the copy (:class:`NoSpaceError`)."""
        o = copy_options(archive, max_bytes, max_files)
        with self._sb._handle() as h:
            check(lib.msb_sandbox_fs_copy_out(h, enc(guest_path),
                                              enc(host_path), byref(o)), "fs")
