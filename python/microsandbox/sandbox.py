# SPDX-License-Identifier: Apache-2.0
"""Sandboxes: create, connect, run commands, stop and remove.

Theory of operation: a :class:`Sandbox` owns one C handle
(``msb_sandbox``), which the library lets one thread use at a time. Calls
take that handle under a lock; a call that finds it busy (another thread,
or the asyncio mirror's thread pool, is using it) gets a second handle
from ``msb_sandbox_connect()`` instead, kept for later calls, so calls on
one sandbox run concurrently without breaking the library's rule. Each
library call and the read of its thread-local error happen on the same
thread, in :func:`_lib.check`.
"""
from __future__ import annotations

import ctypes
import json
import os
import secrets as _secrets
import threading
from contextlib import contextmanager
from ctypes import POINTER, byref, c_char_p, c_size_t, c_uint, c_void_p
from typing import (Any, Dict, Iterator, List, Mapping, Optional, Sequence,
                    Tuple, TypeVar, Union)

from . import errors
from ._exec import (Env, ExecOpts, ExecStream, Process, StdinArg, argv_of,
                    env_list, take_output)
from ._lib import (PULL_OPTIONS_VERSION, SANDBOX_OPTIONS_VERSION, check, dec,
                   enc, from_strv, last_error, lib, msb_bind_mount,
                   msb_metrics, msb_port, msb_proc_info, msb_pull_options,
                   msb_sandbox_info, msb_sandbox_options, msb_secret_spec,
                   msb_tmpfs,
                   msb_volume_mount, opt_enc, strv, take_string)
from .models import (BindMount, ExecResult, Metrics, Network, Port,
                     ProcessInfo, SandboxInfo, Secret, Tmpfs, VolumeMount,
                     parse_size)

T = TypeVar("T")

__all__ = ["Sandbox"]

_NETWORKS = {"public": 0, "all": 1, "none": 2}
_POLICIES = {"if-missing": 0, "if_missing": 0, "missing": 0, "always": 1,
             "never": 2}
_RESTART = {"no": 0, "on-failure": 1, "on_failure": 1, "always": 2}
_ON_IDLE = {"stop": 0, "suspend": 1}

_RUNTIME_FILES = ("qemu", "msb-vmm", "msb-netd", "guest kernel",
                  "initramfs", "default root filesystem", "home folder")

MountSpec = Union[str, VolumeMount, BindMount, Tmpfs, "Any"]


def _secs(v: Optional[float], what: str) -> int:
    if v is None:
        return 0
    if v < 0:
        raise ValueError("%s must not be negative" % what)
    return int(v)


def _memory_mib(memory: Union[int, str, None]) -> int:
    if memory is None:
        return 0
    if isinstance(memory, int) and not isinstance(memory, bool):
        return memory  # MiB
    b = parse_size(memory, "m")
    if b % (1 << 20):
        raise ValueError("memory must be a whole number of MiB: %r" % memory)
    return b >> 20


class _Options:
    """msb_sandbox_options built from keyword arguments, with the arrays
    it points to kept alive."""

    def __init__(self, name: Optional[str], image: Optional[str], *,
                 cpus: Optional[int], memory: Union[int, str, None],
                 env: Env,
                 volumes: Optional[Mapping[str, MountSpec]],
                 ports: Union[Mapping[int, int], Sequence[Port], None],
                 network: Union[str, Network, None], detached: bool,
                 labels: Optional[Mapping[str, str]],
                 workdir: Optional[str], user: Optional[str],
                 hostname: Optional[str], rlimits: Optional[Sequence[str]],
                 exec_timeout: Optional[float], boot_timeout: Optional[float],
                 idle_timeout: Optional[float],
                 max_duration: Optional[float],
                 root_size: Union[int, str, None],
                 pull_policy: Optional[str], platform: Optional[str],
                 registry_auth: Optional[Tuple[str, str]],
                 command: Optional[Sequence[str]],
                 entrypoint: Optional[Sequence[str]],
                 restart: Optional[str], restart_max: int,
                 auto_remove: bool, template: bool = True,
                 secrets: Optional[Mapping[str, Secret]] = None,
                 tls_intercept: bool = False,
                 tls_ports: Optional[Sequence[int]] = None,
                 tls_bypass: Optional[Sequence[str]] = None,
                 tls_ca: Optional[str] = None,
                 snapshot: Optional[str] = None,
                 on_idle: Optional[str] = None) -> None:
        o = msb_sandbox_options()
        o.version = SANDBOX_OPTIONS_VERSION
        self.keep: List[Any] = []
        o.name = opt_enc(name)
        o.image = opt_enc(image)
        o.cpus = cpus or 0
        o.memory_mib = _memory_mib(memory)
        e = env_list(env)
        if e is not None:
            o.env = self._k(strv(e))
        o.detached = 1 if detached else 0
        if labels:
            o.labels = self._k(strv("%s=%s" % (k, v)
                                    for k, v in labels.items()))
        o.workdir = opt_enc(workdir)
        o.user = opt_enc(user)
        o.hostname = opt_enc(hostname)
        if rlimits is not None:
            o.rlimits = self._k(strv(rlimits))
        if exec_timeout:
            o.exec_timeout_ms = max(1, int(exec_timeout * 1000))
        o.boot_timeout_s = _secs(boot_timeout, "boot_timeout")
        o.idle_timeout_s = _secs(idle_timeout, "idle_timeout")
        o.max_duration_s = _secs(max_duration, "max_duration")
        if root_size is not None:
            o.root_size_mib = parse_size(root_size, "m") >> 20
        self._mounts(o, volumes or {})
        self._ports(o, ports)
        self._network(o, network)
        if pull_policy is not None or platform or registry_auth:
            p = msb_pull_options()
            p.version = PULL_OPTIONS_VERSION
            if pull_policy is not None:
                if pull_policy not in _POLICIES:
                    raise ValueError("pull_policy must be one of if-missing, "
                                     "always, never")
                p.policy = _POLICIES[pull_policy]
            p.platform = opt_enc(platform)
            if registry_auth:
                p.username = enc(registry_auth[0])
                p.password = enc(registry_auth[1])
            o.pull = ctypes.pointer(self._k(p))
        if command is not None or entrypoint is not None:
            o.run_main = 1
            if command is not None:
                o.cmd = self._k(strv(command))
            if entrypoint is not None:
                o.entrypoint = self._k(strv(entrypoint))
            if restart is not None:
                if restart not in _RESTART:
                    raise ValueError("restart must be no, on-failure or "
                                     "always")
                o.restart = _RESTART[restart]
            o.restart_max = restart_max
        o.auto_remove = 1 if auto_remove else 0
        o.no_template = 0 if template else 1
        self._tls(o, secrets, tls_intercept, tls_ports, tls_bypass, tls_ca)
        o.snapshot = opt_enc(snapshot)
        if on_idle is not None:
            if on_idle not in _ON_IDLE:
                raise ValueError("on_idle must be stop or suspend")
            o.on_idle = _ON_IDLE[on_idle]
        self.opts = o

    def _k(self, obj: T) -> T:
        self.keep.append(obj)
        return obj

    def _mounts(self, o: msb_sandbox_options,
                volumes: Mapping[str, MountSpec]) -> None:
        from .volume import Volume
        vols, binds, tmps = [], [], []
        for path, spec in volumes.items():
            gp = enc(path)
            if isinstance(spec, Tmpfs):
                size = 0 if spec.size is None else parse_size(spec.size)
                tmps.append(msb_tmpfs(gp, size, spec.mode))
            elif isinstance(spec, BindMount):
                binds.append(msb_bind_mount(
                    enc(os.path.abspath(spec.host_path)), gp,
                    1 if spec.readonly else 0))
            elif isinstance(spec, VolumeMount):
                vols.append(msb_volume_mount(enc(spec.volume), gp,
                                             1 if spec.readonly else 0))
            elif isinstance(spec, (str, os.PathLike)):
                s = os.fspath(spec)
                if s.startswith(("/", "./", "../", "~")):
                    binds.append(msb_bind_mount(
                        enc(os.path.abspath(os.path.expanduser(s))), gp, 0))
                else:
                    vols.append(msb_volume_mount(enc(s), gp, 0))
            elif isinstance(spec, Volume):
                vols.append(msb_volume_mount(enc(spec.name), gp, 0))
            else:
                raise TypeError("volumes values are volume names, host "
                                "paths, Volume, VolumeMount, BindMount or "
                                "Tmpfs, not %r" % (spec,))
        if vols:
            o.volumes = self._k((msb_volume_mount * len(vols))(*vols))
            o.n_volumes = len(vols)
        if binds:
            o.binds = self._k((msb_bind_mount * len(binds))(*binds))
            o.n_binds = len(binds)
        if tmps:
            o.tmpfs = self._k((msb_tmpfs * len(tmps))(*tmps))
            o.n_tmpfs = len(tmps)

    def _ports(self, o: msb_sandbox_options,
               ports: Union[Mapping[int, int], Sequence[Port], None]) -> None:
        if not ports:
            return
        items: List[Port] = []
        if isinstance(ports, Mapping):
            items = [Port(int(h), int(g)) for h, g in ports.items()]
        else:
            for p in ports:
                if not isinstance(p, Port):
                    raise TypeError("ports is a {host: guest} mapping or a "
                                    "list of Port")
                items.append(p)
        arr = []
        for p in items:
            if p.protocol not in ("tcp", "udp"):
                raise ValueError("port protocol must be tcp or udp")
            arr.append(msb_port(opt_enc(p.host_ip), p.host_port,
                                p.guest_port, 0 if p.protocol == "tcp" else 1))
        o.ports = self._k((msb_port * len(arr))(*arr))
        o.n_ports = len(arr)

    def _tls(self, o: msb_sandbox_options,
             secrets: Optional[Mapping[str, Secret]], intercept: bool,
             ports: Optional[Sequence[int]], bypass: Optional[Sequence[str]],
             ca: Optional[str]) -> None:
        arr = []
        for name, s in (secrets or {}).items():
            if not isinstance(s, Secret):
                raise TypeError("secrets values are microsandbox.Secret, "
                                "not %s" % type(s).__name__)
            if isinstance(s.hosts, str):
                raise TypeError("Secret hosts is a list of names")
            arr.append(msb_secret_spec(enc(name), enc(s.value),
                                       self._k(strv(s.hosts)),
                                       1 if s.body else 0))
        if arr:
            o.secrets = self._k((msb_secret_spec * len(arr))(*arr))
            o.n_secrets = len(arr)
        o.tls_intercept = 1 if intercept else 0
        if ports:
            o.tls_ports = self._k((c_uint * len(ports))(*map(int, ports)))
            o.n_tls_ports = len(ports)
        if bypass:
            o.tls_bypass = self._k(strv(bypass))
        if ca is not None:
            o.tls_ca = enc(os.path.abspath(os.fspath(ca)))

    def _network(self, o: msb_sandbox_options,
                 network: Union[str, Network, None]) -> None:
        if network is None:
            return
        if isinstance(network, str):
            network = Network(network)
        if network.preset not in _NETWORKS:
            raise ValueError("network preset must be public, all or none")
        o.network = _NETWORKS[network.preset]
        if network.rules:
            o.net_rules = self._k(strv(network.rules))
        if network.block_domains:
            o.block_domains = self._k(strv(network.block_domains))
        if network.block_suffixes:
            o.block_suffixes = self._k(strv(network.block_suffixes))


def _info(i: msb_sandbox_info) -> SandboxInfo:
    labels = {}
    for kv in from_strv(i.labels):
        k, _, v = kv.partition("=")
        labels[k] = v
    return SandboxInfo(dec(i.name) or "", dec(i.status) or "", dec(i.image),
                       i.cpus, i.memory_mib, bool(i.ephemeral), i.pid,
                       i.created, i.updated, labels, dec(i.status_reason))


class Sandbox:
    """A microVM running an OCI image, where untrusted code runs.

    Make one with :meth:`create` (or get one running elsewhere with
    :meth:`connect`). Use it as a context manager::

        with Sandbox.create(image="python") as sb:
            print(sb.exec("python3", ["-c", "print(1 + 1)"]).stdout)

    On exit a sandbox this process created (not ``detached``) is stopped
    and removed, also when the block raised; a connected or detached one
    is only disconnected. Methods are safe to call from several threads.
    """

    def __init__(self, _handle: c_void_p, *, owned: bool,
                 detached: bool) -> None:
        self._primary: Optional[c_void_p] = _handle
        self._lock = threading.Lock()
        self._extra: List[c_void_p] = []
        self._extra_lock = threading.Lock()
        self.name: str = lib.msb_sandbox_name(_handle).decode()
        self._owned = owned
        self._detached = detached
        self._closed = False
        from .fs import Filesystem
        self.fs = Filesystem(self)
        """The guest filesystem (:class:`microsandbox.fs.Filesystem`)."""

    def __repr__(self) -> str:
        return "Sandbox(%r)" % self.name

    # ------------------------------------------------------- lifecycle
    @classmethod
    def create(cls, name: Optional[str] = None, image: Optional[str] = None,
               *, cpus: Optional[int] = None,
               memory: Union[int, str, None] = None,
               env: Env = None,
               volumes: Optional[Mapping[str, MountSpec]] = None,
               ports: Union[Mapping[int, int], Sequence[Port], None] = None,
               network: Union[str, Network, None] = None,
               detached: bool = False,
               labels: Optional[Mapping[str, str]] = None,
               workdir: Optional[str] = None, user: Optional[str] = None,
               hostname: Optional[str] = None,
               rlimits: Optional[Sequence[str]] = None,
               exec_timeout: Optional[float] = None,
               boot_timeout: Optional[float] = None,
               idle_timeout: Optional[float] = None,
               max_duration: Optional[float] = None,
               root_size: Union[int, str, None] = None,
               pull_policy: Optional[str] = None,
               platform: Optional[str] = None,
               registry_auth: Optional[Tuple[str, str]] = None,
               command: Optional[Sequence[str]] = None,
               entrypoint: Optional[Sequence[str]] = None,
               restart: Optional[str] = None, restart_max: int = 0,
               auto_remove: bool = False,
               template: bool = True,
               secrets: Optional[Mapping[str, Secret]] = None,
               tls_intercept: bool = False,
               tls_ports: Optional[Sequence[int]] = None,
               tls_bypass: Optional[Sequence[str]] = None,
               tls_ca: Optional[str] = None,
               snapshot: Optional[str] = None,
               on_idle: Optional[str] = None) -> "Sandbox":
        """Boot a new sandbox and wait until it is ready.

        Args:
            name: letters, digits, ``-_.``, at most 63; None generates one
                (such a sandbox is removed when it stops).
            image: an OCI reference ("alpine", "python:3.12"), a stored
                image's ID, the path of an ext4 disk image, or None for
                the built-in busybox image. Pulled if missing.
            cpus: vCPUs (1..64; None: 1).
            memory: guest RAM: MiB as an int, or "512M", "1G" (None:
                512 MiB).
            env: every command's environment (mapping or "K=V" list);
                the host's is never passed in.
            volumes: guest path -> a named volume (its name, a
                :class:`Volume` or :class:`VolumeMount`), a host
                directory (a path starting with "/", "./" or "~", or a
                :class:`BindMount`) or a :class:`Tmpfs`.
            ports: published ports, ``{host_port: guest_port}`` or a list
                of :class:`Port`.
            network: "public" (default), "all", "none" or a
                :class:`Network` with rules.
            detached: the sandbox outlives this process and this object
                (needs a name); reconnect with :meth:`connect`.
            labels: metadata shown by :meth:`list` and ``msb ls``.
            workdir, user, rlimits, exec_timeout: defaults of every exec.
            hostname: the guest's host name (default: the name).
            boot_timeout, idle_timeout, max_duration: seconds (None: the
                library's defaults: 60 s to boot, no idle or duration
                limit).
            root_size: size of the writable root filesystem ("2G").
            pull_policy: "if-missing" (default), "always" or "never".
            platform: "os/arch[/variant]" of the image to pull.
            registry_auth: (username, password) for the registry.
            command, entrypoint: run a main process (as ``docker run
                -d``), with the ``restart`` policy ("no", "on-failure",
                "always") and ``restart_max``.
            auto_remove: remove the sandbox when it stops.
            template: restore from a warm template when one matches (the
                default; docs/snapshots.md); False boots cold.
            secrets: ``{"NAME": Secret(value, hosts=[...], body=False)}``:
                the guest's $NAME is a placeholder, replaced by the value
                in HTTPS requests to the secret's hosts only (TLS
                interception with the sandbox's own CA, which the guest
                trusts; docs/network.md). Values stay on the host, in a
                0600 file of the sandbox; :meth:`inspect` shows name,
                hosts and placeholder only.
            tls_intercept: intercept TLS even without secrets.
            tls_ports: TCP ports to intercept (default [443]).
            tls_bypass: names never intercepted ("host" or "*.suffix").
            tls_ca: a PEM file of extra CAs the upstream side trusts.
            snapshot: make the sandbox from this snapshot
                (:meth:`snapshot`) instead of an image: it has the
                snapshot's options, files, memory and processes and
                continues from its instant. Only name, detached, labels
                and auto_remove go with it; image, cpus and memory only
                if they are the snapshot's (else InvalidArgumentError,
                naming the option).
            on_idle: what ``idle_timeout`` does: "stop" (the default) or
                "suspend" (save the sandbox to disk and end its VM;
                :meth:`resume`, ``msb resume`` or ``msb exec`` restores
                it). Suspending needs a name, no ``auto_remove`` and no
                host directory volumes.

        Raises:
            AlreadyExistsError, ImageNotFound, InvalidArgumentError,
            SandboxTimeoutError, VmDiedError, NotFoundError (QEMU or the
            guest files missing), ...
        """
        o = _Options(name, image, cpus=cpus, memory=memory, env=env,
                     volumes=volumes, ports=ports, network=network,
                     detached=detached, labels=labels, workdir=workdir,
                     user=user, hostname=hostname, rlimits=rlimits,
                     exec_timeout=exec_timeout, boot_timeout=boot_timeout,
                     idle_timeout=idle_timeout, max_duration=max_duration,
                     root_size=root_size, pull_policy=pull_policy,
                     platform=platform, registry_auth=registry_auth,
                     command=command, entrypoint=entrypoint,
                     restart=restart, restart_max=restart_max,
                     auto_remove=auto_remove, template=template,
                     secrets=secrets, tls_intercept=tls_intercept,
                     tls_ports=tls_ports, tls_bypass=tls_bypass,
                     tls_ca=tls_ca, snapshot=snapshot, on_idle=on_idle)
        h = c_void_p()
        rc = lib.msb_sandbox_create(byref(h), byref(o.opts))
        if rc < 0:
            err = last_error(rc)
            # ENOTFOUND with an image: the image, unless the message names
            # one of the runtime's own files (QEMU, supervisor, guest)
            msg = err.message.lower()
            if (image and err.code == errors.MSB_ENOTFOUND and
                    not any(w in msg for w in _RUNTIME_FILES)):
                err = errors.ImageNotFound(err.message, err.code, err.errno)
            raise err
        return cls(h, owned=True, detached=detached)

    @classmethod
    def connect(cls, name: str) -> "Sandbox":
        """A handle on the running sandbox @name (from any process).
        Closing it leaves the sandbox running; :meth:`stop` stops it."""
        h = c_void_p()
        check(lib.msb_sandbox_connect(byref(h), enc(name)), "sandbox")
        return cls(h, owned=False, detached=True)

    @classmethod
    def start(cls, name: str, *, detached: bool = False) -> "Sandbox":
        """Boot the stored, stopped sandbox @name again, with its options
        and its disk as the last run left it."""
        h = c_void_p()
        check(lib.msb_sandbox_start(byref(h), enc(name), 1 if detached
                                    else 0), "sandbox")
        return cls(h, owned=not detached, detached=detached)

    @staticmethod
    def list() -> List[SandboxInfo]:
        """Every sandbox (running or stopped), sorted by name."""
        arr = POINTER(msb_sandbox_info)()
        n = c_size_t()
        check(lib.msb_sandbox_list(byref(arr), byref(n)))
        try:
            return [_info(arr[i]) for i in range(n.value)]
        finally:
            lib.msb_sandbox_list_free(arr, n)

    @staticmethod
    def remove_named(name: str, *, force: bool = False) -> None:
        """Remove the stopped sandbox @name (its disk and logs); @force
        stops it first if it runs (else that is :class:`StateError`)."""
        check(lib.msb_sandbox_remove(enc(name), 1 if force else 0), "sandbox")

    @staticmethod
    def stop_named(name: str, *, timeout: float = 10.0) -> None:
        """Stop the sandbox @name (see :meth:`stop`)."""
        h = c_void_p()
        check(lib.msb_sandbox_connect(byref(h), enc(name)), "sandbox")
        try:
            check(lib.msb_sandbox_stop(h, max(1, int(timeout * 1000))))
        finally:
            lib.msb_sandbox_free(h)

    @staticmethod
    def kill_named(name: str) -> None:
        """Kill the sandbox @name's VM at once."""
        Sandbox.stop_named(name, timeout=0.001)

    @staticmethod
    def wait_named(name: str, timeout: Optional[float] = None) -> str:
        """Wait until the sandbox @name has stopped; its final status."""
        buf = ctypes.create_string_buffer(64)
        ms = -1 if timeout is None else int(timeout * 1000)
        check(lib.msb_sandbox_wait(enc(name), ms, buf, 64), "sandbox")
        return buf.value.decode()

    # ---------------------------------------------------------- handles
    @contextmanager
    def _handle(self) -> Iterator[c_void_p]:
        """A C handle on this sandbox for one call (see the module doc)."""
        if self._closed or self._primary is None:
            raise errors.StateError("sandbox `%s`: the handle is closed" %
                                    self.name, errors.MSB_ESTATE)
        if self._lock.acquire(blocking=False):
            try:
                yield self._primary
            finally:
                self._lock.release()
            return
        with self._extra_lock:
            h = self._extra.pop() if self._extra else None
        if h is None:
            h = c_void_p()
            check(lib.msb_sandbox_connect(byref(h), enc(self.name)),
                  "sandbox")
        try:
            yield h
        finally:
            with self._extra_lock:
                if self._closed:
                    lib.msb_sandbox_free(h)
                else:
                    self._extra.append(h)

    def _free_extra(self) -> None:
        with self._extra_lock:
            extra, self._extra = self._extra, []
        for h in extra:
            lib.msb_sandbox_free(h)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the VM: the guest syncs and powers off; after @timeout
        seconds it is killed. Idempotent. The object stays usable for
        :meth:`remove` and :meth:`close`."""
        self._free_extra()
        with self._lock:
            if self._primary is None:
                return
            check(lib.msb_sandbox_stop(self._primary,
                                       max(1, int(timeout * 1000))))

    def kill(self) -> None:
        """Stop the VM at once, without a graceful shutdown."""
        self.stop(timeout=0.001)

    def pause(self) -> None:
        """Stop the VM's vCPUs, keeping its memory (``msb pause``). New
        requests then fail with :class:`StateError` until :meth:`resume`."""
        check(lib.msb_sandbox_pause(enc(self.name)), "sandbox")

    def suspend(self) -> None:
        """Save the VM's whole state to disk and end it (``msb suspend``):
        it costs no memory until :meth:`resume`. Named sandboxes only."""
        self._free_extra()
        with self._lock:
            check(lib.msb_sandbox_suspend(enc(self.name)), "sandbox")
            if self._primary is not None:
                lib.msb_sandbox_free(self._primary)
                self._primary = None

    def snapshot(self, snap: str, *, disk_only: bool = False) -> None:
        """Save a snapshot @snap of this sandbox (``msb snapshot create``):
        memory, devices and root disk of one instant; the sandbox runs on.
        ``disk_only`` is for a stopped sandbox (its disk only)."""
        check(lib.msb_sandbox_snapshot(enc(self.name), enc(snap),
                                       1 if disk_only else 0), "sandbox")

    @classmethod
    def from_snapshot(cls, snap: str, name: str) -> "Sandbox":
        """A new sandbox @name made from snapshot @snap and started: the
        processes that ran at the snapshot run on, with files of that
        instant; its writes stay its own (``msb run --from-snapshot``)."""
        check(lib.msb_sandbox_create_from_snapshot(enc(snap), enc(name), 1),
              "snapshot")
        return cls.connect(name)

    def fork(self, names: Union[int, str, Sequence[str]] = 1
             ) -> List["Sandbox"]:
        """Copy this running sandbox into new ones (``msb fork``): one
        snapshot of it (it stops only for the save), then a sandbox per
        name made from it and started detached, continuing from that
        instant with its own disk, clock and randomness; the snapshot is
        removed. All or nothing: when one cannot be made, none is left.

        Args:
            names: the new sandboxes' names (a list, or one name), or how
                many (1 to 64), named ``NAME-fork-XXXXXX-1``... after this
                one (NAME cut to 40 characters).

        Returns:
            a handle on each, in order (closing one leaves it running).
        """
        if isinstance(names, bool):
            raise TypeError("names must be a count, a name or a list")
        if isinstance(names, int):
            if not 1 <= names <= 64:
                raise ValueError("a fork makes 1 to 64 sandboxes")
            tag = _secrets.token_hex(3)
            new = ["%s-fork-%s-%d" % (self.name[:40], tag, i + 1)
                   for i in range(names)]
        elif isinstance(names, str):
            new = [names]
        else:
            new = list(names)
        arr = (c_char_p * max(1, len(new)))(*[enc(n) for n in new])
        check(lib.msb_sandbox_fork(enc(self.name), arr, len(new), 0),
              "sandbox")
        return [Sandbox.connect(n) for n in new]

    def resume(self) -> None:
        """Run a paused sandbox again, or restore a suspended one with its
        processes and files (``msb resume``), for instance one that its
        idle timeout suspended (``on_idle="suspend"``)."""
        suspended = self.status == "suspended"
        if suspended:
            self._free_extra()
        with self._lock:
            check(lib.msb_sandbox_resume(enc(self.name)), "sandbox")
            if suspended and self._primary is not None:
                # its connection ended with the VM (an idle suspend)
                lib.msb_sandbox_free(self._primary)
                self._primary = None
            if self._primary is None and not self._closed:
                h = c_void_p()
                check(lib.msb_sandbox_connect(byref(h), enc(self.name)),
                      "sandbox")
                self._primary = h

    def remove(self) -> None:
        """Stop the sandbox if it runs and delete it (disk and logs)."""
        self.stop()
        self.close()
        try:
            check(lib.msb_sandbox_remove(enc(self.name), 1), "sandbox")
        except errors.NotFoundError:
            pass  # unnamed sandboxes are removed when they stop

    def close(self) -> None:
        """Release the handles. A sandbox this process created (not
        detached) stops; a connected or detached one runs on. Use the
        context manager (or :meth:`remove`) to also delete it."""
        if self._closed:
            return
        self._closed = True
        self._free_extra()
        with self._lock:
            h, self._primary = self._primary, None
            if h is not None:
                lib.msb_sandbox_free(h)

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._owned and not self._detached and not self._closed:
            try:
                self.stop()
            except errors.SandboxError:
                pass
            self.close()
            try:
                check(lib.msb_sandbox_remove(enc(self.name), 1), "sandbox")
            except errors.NotFoundError:
                pass
        else:
            self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    # --------------------------------------------------------- commands
    def exec(self, cmd: Union[str, Sequence[str]],
             args: Optional[Sequence[str]] = None, *, env: Env = None,
             cwd: Optional[str] = None, user: Optional[str] = None,
             timeout: Optional[float] = None, stdin: StdinArg = None,
             tty: bool = False, rlimits: Optional[Sequence[str]] = None,
             kill_group: bool = False) -> ExecResult:
        """Run a command and wait for it.

        ``exec("ls", ["-l", "/"])`` or ``exec(["ls", "-l", "/"])``; the
        command is looked up in the guest's PATH. A command that ran
        returns whatever its exit status (see :attr:`ExecResult.ok`).

        Args:
            env: extra environment over the sandbox's.
            cwd: working directory (default: the image's, else "/").
            user: "name", "uid", "name:group" or "uid:gid".
            timeout: seconds; past it the command's process group is
                killed and :class:`ExecTimeout` raised.
            stdin: bytes or str to feed, or a file object / descriptor
                read to its end. None: empty.
            tty: run in a pseudo-terminal (all output comes as stdout).
            rlimits: "NAME=SOFT[:HARD]" as ``docker run --ulimit``.
            kill_group: kill what the command left in the background when
                it exits.

        Raises:
            CommandNotFound, ExecError, ExecTimeout, VmDiedError,
            StateError (the sandbox is stopped).
        """
        argv = strv(argv_of(cmd, args))
        o = ExecOpts(env=env, cwd=cwd, user=user, timeout=timeout,
                     stdin=stdin, tty=tty, rlimits=rlimits,
                     kill_group=kill_group)
        out = c_void_p()
        with self._handle() as h:
            rc = lib.msb_sandbox_exec(byref(out), h, argv, byref(o.opts))
            if rc < 0:
                raise last_error(rc, "exec")
        return take_output(out)

    def shell(self, script: str, **kwargs: Any) -> ExecResult:
        """:meth:`exec` of ``/bin/sh -c script`` (same keyword
        arguments)."""
        return self.exec(["/bin/sh", "-c", script], **kwargs)

    def exec_stream(self, cmd: Union[str, Sequence[str]],
                    args: Optional[Sequence[str]] = None, *,
                    env: Env = None, cwd: Optional[str] = None,
                    user: Optional[str] = None,
                    stdin: Union[bytes, str, None] = None,
                    tty: bool = False, rows: int = 0, cols: int = 0,
                    rlimits: Optional[Sequence[str]] = None) -> ExecStream:
        """Start a command and return at once: an :class:`ExecStream`
        yielding :class:`Started`, :class:`Stdout`, :class:`Stderr` and
        :class:`Exited` events, with ``write_stdin``, ``close_stdin``,
        ``signal``, ``resize`` and ``wait``. @stdin (bytes) is sent
        first; stdin stays open until ``close_stdin()``. Start failures
        (:class:`CommandNotFound`...) are raised by the first read."""
        argv = strv(argv_of(cmd, args))
        o = ExecOpts(env=env, cwd=cwd, user=user, stdin=stdin, tty=tty,
                     rows=rows, cols=cols, rlimits=rlimits)
        out = c_void_p()
        with self._handle() as h:
            check(lib.msb_exec_start(byref(out), h, argv, byref(o.opts)))
        return ExecStream(out, self)

    def spawn(self, cmd: Union[str, Sequence[str]],
              args: Optional[Sequence[str]] = None, *, env: Env = None,
              cwd: Optional[str] = None, user: Optional[str] = None,
              tty: bool = False, stdin: bool = False,
              rlimits: Optional[Sequence[str]] = None) -> Process:
        """Start a command in the background (``msb exec -d``): it runs on
        its own, its output kept in the guest. Returns a
        :class:`Process` to wait for, signal, attach to, remove. With
        @stdin (or @tty) its stdin stays open for ``attach(stdin=True)``."""
        argv = strv(argv_of(cmd, args))
        o = ExecOpts(env=env, cwd=cwd, user=user, tty=tty, rlimits=rlimits,
                     stdin=0 if stdin else None)
        pid = c_uint()
        with self._handle() as h:
            rc = lib.msb_sandbox_exec_detached(byref(pid), h, argv,
                                               byref(o.opts))
            if rc < 0:
                raise last_error(rc, "exec")
        return Process(self, pid.value)

    def processes(self) -> List[ProcessInfo]:
        """The guest agent's process table, oldest first."""
        arr = POINTER(msb_proc_info)()
        n = c_size_t()
        with self._handle() as h:
            check(lib.msb_sandbox_procs(byref(arr), byref(n), h))
        try:
            out = []
            for i in range(n.value):
                p = arr[i]
                out.append(ProcessInfo(p.id, p.pid, dec(p.command) or "",
                                       bool(p.running), bool(p.detached),
                                       p.started_ms, p.exit_code, p.signal))
            return out
        finally:
            lib.msb_proc_list_free(arr, n)

    def process(self, id: int) -> Process:
        """The process of id @id (see :meth:`processes`)."""
        return Process(self, id)

    # -------------------------------------------------------- inspection
    def metrics(self) -> Metrics:
        """Resource use now (:class:`Metrics`)."""
        m = msb_metrics()
        with self._handle() as h:
            check(lib.msb_sandbox_metrics(byref(m), h))
        return Metrics(*(getattr(m, f) for f, _ in msb_metrics._fields_))

    def inspect(self) -> Dict[str, Any]:
        """The sandbox as ``msb inspect`` shows it (a dict)."""
        p = c_void_p()
        check(lib.msb_sandbox_inspect(enc(self.name), byref(p)), "sandbox")
        d: Dict[str, Any] = json.loads(take_string(p))
        return d

    def config(self) -> Dict[str, Any]:
        """The options the sandbox was created with, as stored."""
        p = c_void_p()
        check(lib.msb_sandbox_config(enc(self.name), byref(p)), "sandbox")
        d: Dict[str, Any] = json.loads(take_string(p))
        return d

    @property
    def status(self) -> str:
        """Its status now ("running", "stopped"...)."""
        for s in Sandbox.list():
            if s.name == self.name:
                return s.status
        return "removed"
