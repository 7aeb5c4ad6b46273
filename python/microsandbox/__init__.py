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

from . import errors, images
from ._exec import ExecStream, Process
from ._lib import set_log_level, version as library_version
from .errors import *  # noqa: F401,F403
from .fs import Filesystem
from .models import (BindMount, CommandFailed, Detached, ExecEvent,
                     ExecResult, Exited, FileInfo, FileType, Image, Metrics,
                     Network, Port, ProcessInfo, SandboxInfo, Started,
                     Stderr, Stdout, Tmpfs, VolumeInfo, VolumeMount)
from .sandbox import Sandbox
from .volume import Volume

__version__ = "0.1.0"

__all__ = [
    "Sandbox", "Volume", "Filesystem", "ExecStream", "Process", "images",
    "errors", "ExecResult", "CommandFailed", "Started", "Stdout", "Stderr",
    "Exited", "Detached", "ExecEvent", "Metrics", "FileInfo", "FileType",
    "SandboxInfo", "ProcessInfo", "VolumeInfo", "Image", "Port", "Network",
    "VolumeMount", "BindMount", "Tmpfs", "library_version", "set_log_level",
] + errors.__all__
