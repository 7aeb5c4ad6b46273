# SPDX-License-Identifier: Apache-2.0
"""microsandbox: run untrusted code in microVMs, from Python.

A binding of ``libmicrosandbox`` (ctypes): every feature of the C library,
with Python types, exceptions and context managers::

    from microsandbox import Sandbox

    with Sandbox.create() as sb:
        r = sb.shell("echo hello; uname -r")
        print(r.stdout, r.exit_code)
        sb.fs.write("/tmp/x.txt", "data")

``microsandbox.aio`` has the same API for asyncio. See docs/python.md.
"""
from __future__ import annotations

from . import errors as errors
from . import images as images
from ._exec import ExecStream as ExecStream
from ._exec import Process as Process
from ._lib import runtime_info as runtime_info
from ._lib import set_log_level as set_log_level
from ._lib import version as library_version
from .errors import (AgentError as AgentError,
                     AlreadyExistsError as AlreadyExistsError,
                     AuthError as AuthError,
                     CommandNotFound as CommandNotFound,
                     ExecError as ExecError, ExecTimeout as ExecTimeout,
                     FsError as FsError, FsExists as FsExists,
                     FsIsADirectory as FsIsADirectory,
                     FsNoSpace as FsNoSpace,
                     FsNotADirectory as FsNotADirectory,
                     FsNotEmpty as FsNotEmpty, FsNotFound as FsNotFound,
                     FsPermissionError as FsPermissionError,
                     HostSystemError as HostSystemError,
                     ImageNotFound as ImageNotFound,
                     InvalidArgumentError as InvalidArgumentError,
                     KvmError as KvmError, NoSpaceError as NoSpaceError,
                     NotFoundError as NotFoundError,
                     NotSupportedError as NotSupportedError,
                     OutOfMemoryError as OutOfMemoryError,
                     ProtocolError as ProtocolError,
                     SandboxError as SandboxError,
                     SandboxNotFound as SandboxNotFound,
                     SandboxTimeoutError as SandboxTimeoutError,
                     StateError as StateError,
                     VmDiedError as VmDiedError,
                     VolumeNotFound as VolumeNotFound)
from .fs import Filesystem as Filesystem
from .models import (BindMount as BindMount, CommandFailed as CommandFailed,
                     Detached as Detached, ExecEvent as ExecEvent,
                     ExecResult as ExecResult, Exited as Exited,
                     FileInfo as FileInfo, FileType as FileType,
                     Image as Image, Metrics as Metrics, Network as Network,
                     Port as Port, ProcessInfo as ProcessInfo,
                     SandboxInfo as SandboxInfo, Secret as Secret,
                     Started as Started,
                     Stderr as Stderr, Stdout as Stdout, Tmpfs as Tmpfs,
                     VolumeInfo as VolumeInfo, VolumeMount as VolumeMount)
from .sandbox import Sandbox as Sandbox
from .volume import Volume as Volume

__version__ = "0.1.0"

__all__ = [
    "Sandbox", "Volume", "Filesystem", "ExecStream", "Process", "images",
    "errors", "ExecResult", "CommandFailed", "Started", "Stdout", "Stderr",
    "Exited", "Detached", "ExecEvent", "Metrics", "FileInfo", "FileType",
    "SandboxInfo", "ProcessInfo", "VolumeInfo", "Image", "Port", "Network",
    "VolumeMount", "BindMount", "Tmpfs", "Secret", "library_version",
    "set_log_level",
    "runtime_info",
    "SandboxError", "InvalidArgumentError", "OutOfMemoryError",
    "HostSystemError", "NotFoundError", "SandboxNotFound", "ImageNotFound",
    "VolumeNotFound", "KvmError", "SandboxTimeoutError", "ExecTimeout",
    "VmDiedError", "ProtocolError", "AlreadyExistsError", "StateError",
    "ExecError", "CommandNotFound", "AgentError", "AuthError",
    "NoSpaceError", "NotSupportedError", "FsError", "FsNotFound",
    "FsExists", "FsPermissionError", "FsIsADirectory", "FsNotADirectory",
    "FsNotEmpty", "FsNoSpace",
]
