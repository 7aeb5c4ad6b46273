# SPDX-License-Identifier: Apache-2.0
"""Exceptions: one class per ``MSB_E*`` code of the C library.

Every failure of a library call raises a :class:`SandboxError` subclass;
no method returns an error code. The exception carries what
``msb_last_error()`` reported: :attr:`~SandboxError.code` (the ``MSB_E*``
number), :attr:`~SandboxError.errno` (of the failing system call, or the
guest's errno for file operations, else 0) and the one-line message.

File operations (``sandbox.fs``) raise :class:`FsError` subclasses, which
are also the matching built-in :class:`OSError` subclasses, so
``except FileNotFoundError`` works as it does for local files.
"""
from __future__ import annotations

import errno as _errno
from typing import Any, Dict, Optional, Tuple, Type

__all__ = [
    "SandboxError", "InvalidArgumentError", "OutOfMemoryError",
    "HostSystemError", "NotFoundError", "SandboxNotFound", "ImageNotFound",
    "VolumeNotFound", "KvmError", "SandboxTimeoutError", "ExecTimeout",
    "VmDiedError", "ProtocolError", "AlreadyExistsError", "StateError",
    "ExecError", "CommandNotFound", "AgentError", "AuthError",
    "NoSpaceError", "NotSupportedError", "FsError", "FsNotFound",
    "FsExists", "FsPermissionError", "FsIsADirectory", "FsNotADirectory",
    "FsNotEmpty", "FsNoSpace",
]

# enum msb_error_code
MSB_EINVAL = 1
MSB_ENOMEM = 2
MSB_ESYS = 3
MSB_ENOTFOUND = 4
MSB_EKVM = 5
MSB_ETIMEDOUT = 6
MSB_EVMDIED = 7
MSB_EPROTO = 8
MSB_EEXIST = 9
MSB_ESTATE = 10
MSB_ECMDNOTFOUND = 11
MSB_EEXEC = 12
MSB_EAGENT = 13
MSB_EAUTH = 14
MSB_EPERM = 15
MSB_EISDIR = 16
MSB_ENOTDIR = 17
MSB_ENOTEMPTY = 18
MSB_ENOSPC = 19
MSB_ENOTSUP = 20

# enum msb_exec_failure, by name
EXEC_FAILURES = {
    0: None, 1: "not_found", 2: "permission", 3: "not_executable",
    4: "cwd", 5: "user", 6: "rlimit", 7: "other",
}


class SandboxError(Exception):
    """Base class of every error the library reports.

    Attributes:
        code: the ``MSB_E*`` code (positive).
        errno: errno of the failing system call (the guest's for file
            operations), or 0.
        message: the library's one-line message, naming the operation
            and the object.
        exec_failure: for :class:`ExecError` and :class:`CommandNotFound`,
            why the command could not start (``"not_found"``,
            ``"permission"``, ``"not_executable"``, ``"cwd"``, ``"user"``,
            ``"rlimit"``, ``"other"``), else None.
    """

    code: int = 0

    def __init__(self, message: str, code: Optional[int] = None,
                 errno: int = 0, exec_failure: Optional[str] = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.errno = errno
        self.exec_failure = exec_failure

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> Tuple[Any, ...]:  # pickling (multiprocessing)
        return (_rebuild, (type(self), self.message, self.code, self.errno,
                           self.exec_failure))


def _rebuild(cls: Type["SandboxError"], message: str, code: int, errno: int,
             exec_failure: Optional[str]) -> "SandboxError":
    return cls(message, code, errno, exec_failure)


class InvalidArgumentError(SandboxError, ValueError):
    """An invalid argument or option (``MSB_EINVAL``)."""
    code = MSB_EINVAL


class OutOfMemoryError(SandboxError, MemoryError):
    """The library ran out of memory (``MSB_ENOMEM``)."""
    code = MSB_ENOMEM


class HostSystemError(SandboxError):
    """A system call failed on the host (``MSB_ESYS``); see ``errno``."""
    code = MSB_ESYS


class NotFoundError(SandboxError):
    """A required program, file, sandbox, image or volume is missing
    (``MSB_ENOTFOUND``)."""
    code = MSB_ENOTFOUND


class SandboxNotFound(NotFoundError):
    """No sandbox of that name."""


class ImageNotFound(NotFoundError):
    """No such image (in the registry, or in the store)."""


class VolumeNotFound(NotFoundError):
    """No volume of that name."""


class KvmError(SandboxError):
    """KVM was requested but cannot be used (``MSB_EKVM``)."""
    code = MSB_EKVM


class SandboxTimeoutError(SandboxError, TimeoutError):
    """The guest or an operation did not answer in time
    (``MSB_ETIMEDOUT``)."""
    code = MSB_ETIMEDOUT


class ExecTimeout(SandboxTimeoutError):
    """A command ran past its ``timeout`` and was killed."""


class VmDiedError(SandboxError):
    """The VM stopped unexpectedly (``MSB_EVMDIED``)."""
    code = MSB_EVMDIED


class ProtocolError(SandboxError):
    """The guest (or a registry) sent something invalid (``MSB_EPROTO``)."""
    code = MSB_EPROTO


class AlreadyExistsError(SandboxError):
    """A sandbox, volume or file of that name exists (``MSB_EEXIST``)."""
    code = MSB_EEXIST


class StateError(SandboxError):
    """The sandbox (or process) is not in a usable state (``MSB_ESTATE``):
    stopped, running when it must not be, in use..."""
    code = MSB_ESTATE


class ExecError(SandboxError):
    """The command could not be started in the guest (``MSB_EEXEC``):
    permission, not executable, bad working directory, unknown user, a
    refused resource limit. ``exec_failure`` says which."""
    code = MSB_EEXEC


class CommandNotFound(ExecError):
    """The command does not exist in the guest (``MSB_ECMDNOTFOUND``)."""
    code = MSB_ECMDNOTFOUND


class AgentError(SandboxError):
    """The guest agent reported an error (``MSB_EAGENT``)."""
    code = MSB_EAGENT


class AuthError(SandboxError):
    """A registry refused the credentials (``MSB_EAUTH``)."""
    code = MSB_EAUTH


class NoSpaceError(SandboxError):
    """No space left: a quota, a limit, or the host disk (``MSB_ENOSPC``)."""
    code = MSB_ENOSPC


class NotSupportedError(SandboxError):
    """A feature this build of the library lacks (``MSB_ENOTSUP``)."""
    code = MSB_ENOTSUP


class FsError(SandboxError, OSError):
    """A file operation in the guest failed; ``errno`` is the guest's."""

    def __init__(self, message: str, code: Optional[int] = None,
                 errno: int = 0, exec_failure: Optional[str] = None) -> None:
        OSError.__init__(self, errno, message)
        self.message = message
        if code is not None:
            self.code = code
        self.errno = errno
        self.exec_failure = exec_failure

    def __str__(self) -> str:
        return self.message


class FsNotFound(FsError, FileNotFoundError):
    """No such file or directory."""
    code = MSB_ENOTFOUND


class FsExists(FsError, FileExistsError):
    """The file exists."""
    code = MSB_EEXIST


class FsPermissionError(FsError, PermissionError):
    """Permission denied, or a read-only filesystem."""
    code = MSB_EPERM


class FsIsADirectory(FsError, IsADirectoryError):
    """Is a directory."""
    code = MSB_EISDIR


class FsNotADirectory(FsError, NotADirectoryError):
    """A path component is not a directory."""
    code = MSB_ENOTDIR


class FsNotEmpty(FsError):
    """Directory not empty."""
    code = MSB_ENOTEMPTY


class FsNoSpace(FsError, NoSpaceError):
    """No space left on the guest filesystem (or its quota)."""
    code = MSB_ENOSPC


_BY_CODE: Dict[int, Type[SandboxError]] = {
    MSB_EINVAL: InvalidArgumentError, MSB_ENOMEM: OutOfMemoryError,
    MSB_ESYS: HostSystemError, MSB_ENOTFOUND: NotFoundError,
    MSB_EKVM: KvmError, MSB_ETIMEDOUT: SandboxTimeoutError,
    MSB_EVMDIED: VmDiedError, MSB_EPROTO: ProtocolError,
    MSB_EEXIST: AlreadyExistsError, MSB_ESTATE: StateError,
    MSB_ECMDNOTFOUND: CommandNotFound, MSB_EEXEC: ExecError,
    MSB_EAGENT: AgentError, MSB_EAUTH: AuthError,
    MSB_EPERM: FsPermissionError, MSB_EISDIR: FsIsADirectory,
    MSB_ENOTDIR: FsNotADirectory, MSB_ENOTEMPTY: FsNotEmpty,
    MSB_ENOSPC: NoSpaceError, MSB_ENOTSUP: NotSupportedError,
}

_FS_BY_CODE: Dict[int, Type[SandboxError]] = {
    MSB_ENOTFOUND: FsNotFound, MSB_EEXIST: FsExists,
    MSB_EPERM: FsPermissionError, MSB_EISDIR: FsIsADirectory,
    MSB_ENOTDIR: FsNotADirectory, MSB_ENOTEMPTY: FsNotEmpty,
    MSB_ENOSPC: FsNoSpace, MSB_ESYS: FsError,
}

# Which class a code maps to in a given context ("fs", "image", ...).
_CONTEXT: Dict[str, Dict[int, Type[SandboxError]]] = {
    "fs": _FS_BY_CODE,
    "image": {MSB_ENOTFOUND: ImageNotFound},
    "volume": {MSB_ENOTFOUND: VolumeNotFound},
    "sandbox": {MSB_ENOTFOUND: SandboxNotFound},
    "exec": {MSB_ETIMEDOUT: ExecTimeout},
}


def error_class(code: int, context: Optional[str] = None) -> Type[SandboxError]:
    """The exception class for ``MSB_E*`` @code in @context."""
    if context is not None:
        cls = _CONTEXT.get(context, {}).get(code)
        if cls is not None:
            return cls
    return _BY_CODE.get(code, SandboxError)


def make_error(code: int, message: str, errno: int = 0,
               exec_failure: int = 0,
               context: Optional[str] = None) -> SandboxError:
    """Build the exception for one failure."""
    cls = error_class(code, context)
    if cls is FsError and not errno:
        errno = _errno.EIO
    return cls(message, code, errno, EXEC_FAILURES.get(exec_failure))
