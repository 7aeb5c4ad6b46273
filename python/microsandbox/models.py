# SPDX-License-Identifier: Apache-2.0
"""Plain data types returned and taken by the API (dataclasses)."""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Union

__all__ = [
    "ExecResult", "Started", "Stdout", "Stderr", "Exited", "Detached",
    "ExecEvent", "Metrics", "FileType", "FileInfo", "SandboxInfo",
    "ProcessInfo", "VolumeInfo", "Image", "Port", "Network", "VolumeMount",
    "BindMount", "Tmpfs", "parse_size",
]


def _text(b: bytes) -> str:
    return b.decode("utf-8", "replace")


@dataclass(frozen=True)
class ExecResult:
    """What a finished command left: its output and exit status.

    ``stdout``/``stderr`` are the output decoded as UTF-8 (invalid bytes
    replaced); ``stdout_bytes``/``stderr_bytes`` the raw bytes.
    """
    stdout_bytes: bytes
    stderr_bytes: bytes
    exit_code: int
    """0..255, or -1 when a signal killed the command."""
    signal: int = 0
    """The signal that killed the command, or 0."""
    duration_ms: int = 0

    @property
    def stdout(self) -> str:
        return _text(self.stdout_bytes)

    @property
    def stderr(self) -> str:
        return _text(self.stderr_bytes)

    @property
    def ok(self) -> bool:
        """The command exited with status 0."""
        return self.exit_code == 0 and self.signal == 0

    def check(self) -> "ExecResult":
        """Return self if :attr:`ok`, else raise :class:`CommandFailed`."""
        if not self.ok:
            raise CommandFailed(self)
        return self


class CommandFailed(Exception):
    """Raised by :meth:`ExecResult.check` for a non-zero exit status (the
    library call itself succeeded: the command ran)."""

    def __init__(self, result: ExecResult) -> None:
        how = ("signal %d" % result.signal if result.signal
               else "status %d" % result.exit_code)
        super().__init__("command failed with %s: %s" % (
            how, result.stderr.strip()[-500:]))
        self.result = result


@dataclass(frozen=True)
class Started:
    """The command started in the guest as process @pid."""
    pid: int


@dataclass(frozen=True)
class Stdout:
    """A chunk of standard output."""
    data: bytes

    @property
    def text(self) -> str:
        return _text(self.data)


@dataclass(frozen=True)
class Stderr:
    """A chunk of standard error."""
    data: bytes

    @property
    def text(self) -> str:
        return _text(self.data)


@dataclass(frozen=True)
class Exited:
    """The command ended: the last event."""
    exit_code: int
    """0..255, or -1 when a signal killed it."""
    signal: int = 0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.signal == 0


@dataclass(frozen=True)
class Detached:
    """An attachment without ``follow`` sent all kept output; the process
    still runs. The last event."""


ExecEvent = Union[Started, Stdout, Stderr, Exited, Detached]


@dataclass(frozen=True)
class Metrics:
    """Resource use of a running sandbox, as its supervisor measures it."""
    cpu_time_ms: int
    cpu_percent: float
    memory_bytes: int
    guest_memory_used_bytes: int
    guest_memory_total_bytes: int
    disk_read_bytes: int
    disk_write_bytes: int
    net_rx_bytes: int
    net_tx_bytes: int
    uptime_ms: int
    net_rx_packets: int
    net_tx_packets: int
    net_flows: int
    net_denied: int


class FileType(str, enum.Enum):
    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    CHAR = "char"
    BLOCK = "block"
    FIFO = "fifo"
    SOCKET = "socket"
    UNKNOWN = "unknown"


_FILE_TYPES = list(FileType)


@dataclass(frozen=True)
class FileInfo:
    """Metadata of one file in the guest (or in a volume)."""
    name: str
    type: FileType
    size: int
    mode: int
    """Permission bits (07777)."""
    uid: int
    gid: int
    mtime_ns: int
    target: Optional[str] = None
    """A symlink's target."""

    @property
    def mtime(self) -> float:
        return self.mtime_ns / 1e9

    @property
    def is_dir(self) -> bool:
        return self.type is FileType.DIR

    @property
    def is_file(self) -> bool:
        return self.type is FileType.FILE

    @property
    def is_symlink(self) -> bool:
        return self.type is FileType.SYMLINK


@dataclass(frozen=True)
class SandboxInfo:
    """One sandbox as :meth:`Sandbox.list` reports it."""
    name: str
    status: str
    """created, starting, running, paused, stopping, stopped or crashed."""
    image: Optional[str]
    cpus: int
    memory_mib: int
    ephemeral: bool
    pid: int
    created: int
    updated: int
    labels: Dict[str, str] = field(default_factory=dict)
    status_reason: Optional[str] = None


@dataclass(frozen=True)
class ProcessInfo:
    """One entry of a sandbox's process table."""
    id: int
    pid: int
    command: str
    running: bool
    detached: bool
    started_ms: int
    exit_code: int
    signal: int


@dataclass(frozen=True)
class VolumeInfo:
    name: str
    quota_bytes: int
    used_bytes: int
    created: int
    sandboxes: List[str] = field(default_factory=list)


@dataclass(frozen=True)
class Image:
    """A stored OCI image."""
    reference: str
    digest: str
    id: str
    created: Optional[str]
    size: int
    platform: str
    env: List[str]
    entrypoint: List[str]
    cmd: List[str]
    workdir: Optional[str]
    user: Optional[str]

    @property
    def short_id(self) -> str:
        return self.id.split(":", 1)[-1][:12]


@dataclass(frozen=True)
class Port:
    """A published port: @host_ip:@host_port on the host reaches the
    guest's @guest_port."""
    host_port: int
    guest_port: int
    protocol: str = "tcp"
    host_ip: Optional[str] = None


@dataclass(frozen=True)
class Network:
    """The network of a sandbox (docs/network.md).

    preset: "public" (default: public internet only), "all" (everything
    but the host) or "none" (no device). rules: "allow RULE"/"deny RULE"
    strings, the first match decides. SECURITY NOTE: "all" and allow rules
    for the private, host or metadata groups let untrusted code reach the
    host's services or the local network.
    """
    preset: str = "public"
    rules: Sequence[str] = ()
    block_domains: Sequence[str] = ()
    block_suffixes: Sequence[str] = ()


@dataclass(frozen=True)
class Secret:
    """A secret (``Sandbox.create(secrets={"NAME": Secret(...)})``,
    docs/network.md): the guest's environment variable NAME holds a
    placeholder, never @value; msb-netd puts @value in its place in HTTPS
    requests to @hosts only ("api.example.com", or "*.example.com" for any
    name under it). @body: also in request bodies, not only the headers
    and the request line. The value is kept in a 0600 file of the
    sandbox, never shown (not even by repr()).
    """
    value: str = field(repr=False)
    hosts: Sequence[str] = ()
    body: bool = False


@dataclass(frozen=True)
class VolumeMount:
    """A named volume to mount (``volumes={"/data": VolumeMount("v")}``)."""
    volume: str
    readonly: bool = False


@dataclass(frozen=True)
class BindMount:
    """A host directory shared into the guest (virtio-fs)."""
    host_path: str
    readonly: bool = False


@dataclass(frozen=True)
class Tmpfs:
    """A tmpfs in the guest; @size in bytes or "64M" (None: half of RAM)."""
    size: Union[int, str, None] = None
    mode: int = 0


_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30,
          "t": 1 << 40}


def parse_size(value: Union[int, str], default_unit: str = "") -> int:
    """Bytes in @value: an int (in @default_unit), or "512M", "1G", "1GiB",
    "64k"; a bare number string is in @default_unit."""
    if isinstance(value, bool):
        raise TypeError("size must be an int or a string like '512M'")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("size must not be negative: %r" % value)
        return value * _UNITS[default_unit.lower()]
    m = re.fullmatch(r"\s*(\d+)\s*([kKmMgGtT]?)(?:i?[bB])?\s*", str(value))
    if not m:
        raise ValueError("invalid size %r: a number with an optional K, M, "
                         "G or T suffix" % (value,))
    unit = m.group(2).lower() or default_unit.lower()
    return int(m.group(1)) * _UNITS[unit]
