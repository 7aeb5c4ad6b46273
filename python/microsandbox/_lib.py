# SPDX-License-Identifier: Apache-2.0
"""The ctypes binding of libmicrosandbox: library discovery, the C
structures (field for field as include/microsandbox.h declares them) and
the function prototypes. Internal: use the classes of the package.

Discovery, first match wins:

1. ``MSB_LIB``: the path of ``libmicrosandbox.so`` (or of its folder);
2. the build tree of the checkout this package sits in
   (``<checkout>/build/src/lib``), when run from ``python/``;
3. the build tree recorded when the package was installed with pip from a
   checkout (``_buildinfo.BUILD_DIR``);
4. an install prefix: ``sys.prefix``, ``/usr/local`` and ``/usr``
   (``lib/``, ``lib64/`` and ``lib/<multiarch>/``; ``libmicrosandbox.so``
   or ``.so.0``), then the dynamic
   loader's search path.

The library finds its supervisor, msb-netd and guest files itself:
relative to its own location in an install prefix, or in its build tree
(``runtime_info()`` says which; docs/install.md).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import importlib
import os
import sys
import threading
from ctypes import (CFUNCTYPE, POINTER, Structure, byref, c_char, c_char_p,
                    c_double, c_int, c_int64, c_long, c_longlong, c_size_t,
                    c_uint, c_uint64, c_void_p)
from typing import Any, Dict, Iterable, List, Optional, Tuple, Union

from . import errors

LIB_NAME = "libmicrosandbox.so"


def _candidates() -> List[str]:
    out: List[str] = []
    env = os.environ.get("MSB_LIB")
    if env:
        out.append(os.path.join(env, LIB_NAME) if os.path.isdir(env) else env)
        return out
    pkg = os.path.dirname(os.path.abspath(__file__))
    checkout = os.path.dirname(os.path.dirname(pkg))
    out.append(os.path.join(checkout, "build", "src", "lib", LIB_NAME))
    try:  # written by setup.py at install time
        info = importlib.import_module(__package__ + "._buildinfo")
        out.append(os.path.join(info.BUILD_DIR, "src", "lib", LIB_NAME))
    except ImportError:
        pass
    multiarch = getattr(sys.implementation, "_multiarch", "") or ""
    for prefix in dict.fromkeys([sys.prefix, "/usr/local", "/usr"]):
        for sub in ("lib", "lib64", os.path.join("lib", multiarch)):
            # the .so link comes with the -dev package; .so.0 always
            for name in (LIB_NAME, LIB_NAME + ".0"):
                out.append(os.path.join(prefix, sub, name))
    return out


def _load() -> ctypes.CDLL:
    tried = []
    for path in _candidates():
        tried.append(path)
        if os.path.isfile(path):
            lib = ctypes.CDLL(path)
            lib._msb_path = path  # type: ignore[attr-defined]
            return lib
    if not os.environ.get("MSB_LIB"):
        found = ctypes.util.find_library("microsandbox")
        if found:
            lib = ctypes.CDLL(found)
            lib._msb_path = found  # type: ignore[attr-defined]
            return lib
    raise ImportError(
        "libmicrosandbox.so not found (tried %s): build the project "
        "(./setup.sh) or set MSB_LIB to the library's path" % ", ".join(tried))


lib = _load()
libc = ctypes.CDLL(None)
libc.free.argtypes = [c_void_p]
libc.free.restype = None

# ---------------------------------------------------------------- structs

c_char_pp = POINTER(c_char_p)


class msb_error(Structure):
    _fields_ = [("code", c_int), ("sys_errno", c_int),
                ("message", c_char * 1024), ("exec_failure", c_int)]


class msb_runtime_info(Structure):
    _fields_ = [("vmm", c_char_p), ("netd", c_char_p),
                ("guest_dir", c_char_p), ("vmm_origin", c_char_p),
                ("netd_origin", c_char_p), ("guest_origin", c_char_p)]


PULL_PROGRESS_FN = CFUNCTYPE(None, c_char_p, c_uint64, c_uint64, c_void_p)


class msb_pull_options(Structure):
    _fields_ = [("version", c_uint), ("policy", c_int),
                ("platform", c_char_p), ("username", c_char_p),
                ("password", c_char_p), ("insecure", c_int),
                ("progress", PULL_PROGRESS_FN), ("userdata", c_void_p)]


class msb_volume_mount(Structure):
    _fields_ = [("name", c_char_p), ("path", c_char_p), ("readonly", c_int)]


class msb_bind_mount(Structure):
    _fields_ = [("host_path", c_char_p), ("path", c_char_p),
                ("readonly", c_int)]


class msb_tmpfs(Structure):
    _fields_ = [("path", c_char_p), ("size_bytes", c_uint64), ("mode", c_uint)]


class msb_patch(Structure):
    _fields_ = [("kind", c_int), ("path", c_char_p), ("content", c_char_p),
                ("mode", c_uint)]


class msb_port(Structure):
    _fields_ = [("host_ip", c_char_p), ("host_port", c_uint),
                ("guest_port", c_uint), ("protocol", c_int)]


class msb_secret_spec(Structure):
    _fields_ = [("name", c_char_p), ("value", c_char_p),
                ("hosts", c_char_pp), ("body", c_int)]


class msb_sandbox_options(Structure):
    _fields_ = [
        ("version", c_uint), ("name", c_char_p), ("image", c_char_p),
        ("cpus", c_uint), ("memory_mib", c_uint), ("env", c_char_pp),
        ("boot_timeout_s", c_uint), ("pull", POINTER(msb_pull_options)),
        ("detached", c_int), ("idle_timeout_s", c_uint),
        ("max_duration_s", c_uint), ("labels", c_char_pp),
        ("volumes", POINTER(msb_volume_mount)), ("n_volumes", c_size_t),
        ("tmpfs", POINTER(msb_tmpfs)), ("n_tmpfs", c_size_t),
        ("patches", POINTER(msb_patch)), ("n_patches", c_size_t),
        ("root_size_mib", c_uint), ("root_fstype", c_char_p),
        ("root_writable", c_int),
        ("binds", POINTER(msb_bind_mount)), ("n_binds", c_size_t),
        ("workdir", c_char_p), ("user", c_char_p), ("rlimits", c_char_pp),
        ("exec_timeout_ms", c_uint), ("hostname", c_char_p),
        ("run_main", c_int), ("entrypoint", c_char_pp), ("cmd", c_char_pp),
        ("restart", c_int), ("restart_max", c_uint), ("auto_remove", c_int),
        ("network", c_int), ("net_rules", c_char_pp),
        ("block_domains", c_char_pp), ("block_suffixes", c_char_pp),
        ("ports", POINTER(msb_port)), ("n_ports", c_size_t),
        ("main_stdin", c_int), ("main_tty", c_int),  # version 4
        ("no_template", c_int),  # version 5
        ("secrets", POINTER(msb_secret_spec)), ("n_secrets", c_size_t),
        ("tls_intercept", c_int), ("tls_ports", POINTER(c_uint)),
        ("n_tls_ports", c_size_t), ("tls_bypass", c_char_pp),
        ("tls_ca", c_char_p), ("on_idle", c_int),
        ("snapshot", c_char_p),  # version 6
    ]


OUTPUT_FN = CFUNCTYPE(c_int, c_int, c_void_p, c_size_t, c_void_p)


class msb_exec_options(Structure):
    _fields_ = [
        ("version", c_uint), ("env", c_char_pp), ("cwd", c_char_p),
        ("on_output", OUTPUT_FN), ("userdata", c_void_p),
        ("user", c_char_p), ("timeout_ms", c_uint),
        ("stdin_data", c_void_p), ("stdin_len", c_size_t),
        ("stdin_fd", c_int), ("rlimits", c_char_pp), ("tty", c_int),
        ("rows", c_uint), ("cols", c_uint), ("kill_group", c_int),
    ]


class msb_exec_event(Structure):
    _fields_ = [("type", c_int), ("pid", c_int), ("data", c_void_p),
                ("len", c_size_t), ("exit_code", c_int), ("signal", c_int)]


class msb_proc_info(Structure):
    _fields_ = [("id", c_uint), ("pid", c_int), ("command", c_char_p),
                ("running", c_int), ("detached", c_int),
                ("started_ms", c_longlong), ("exit_code", c_int),
                ("signal", c_int)]


class msb_fs_entry(Structure):
    _fields_ = [("name", c_char_p), ("type", c_int), ("size", c_uint64),
                ("mode", c_uint), ("uid", c_int64), ("gid", c_int64),
                ("mtime_ns", c_int64), ("target", c_char_p)]


class msb_copy_options(Structure):
    _fields_ = [("version", c_uint), ("archive", c_int),
                ("max_bytes", c_uint64), ("max_files", c_uint64)]


class msb_volume_info(Structure):
    _fields_ = [("name", c_char_p), ("quota_bytes", c_uint64),
                ("used_bytes", c_uint64), ("created", c_int64),
                ("sandboxes", c_char_pp)]


class msb_sandbox_info(Structure):
    _fields_ = [("name", c_char_p), ("status", c_char_p),
                ("image", c_char_p), ("cpus", c_uint),
                ("memory_mib", c_uint), ("ephemeral", c_int), ("pid", c_int),
                ("created", c_int64), ("updated", c_int64),
                ("labels", c_char_pp), ("status_reason", c_char_p)]


class msb_metrics(Structure):
    _fields_ = [("cpu_time_ms", c_uint64), ("cpu_percent", c_double),
                ("memory_bytes", c_uint64),
                ("guest_memory_used_bytes", c_uint64),
                ("guest_memory_total_bytes", c_uint64),
                ("disk_read_bytes", c_uint64), ("disk_write_bytes", c_uint64),
                ("net_rx_bytes", c_uint64), ("net_tx_bytes", c_uint64),
                ("uptime_ms", c_uint64), ("net_rx_packets", c_uint64),
                ("net_tx_packets", c_uint64), ("net_flows", c_uint64),
                ("net_denied", c_uint64)]


SANDBOX_OPTIONS_VERSION = 6
EXEC_OPTIONS_VERSION = 2
PULL_OPTIONS_VERSION = 1
COPY_OPTIONS_VERSION = 1

FS_SINK_FN = CFUNCTYPE(c_int, c_void_p, c_size_t, c_void_p)
FS_SOURCE_FN = CFUNCTYPE(c_long, c_void_p, c_size_t, c_void_p)
LOG_FN = CFUNCTYPE(None, c_int, c_char_p, c_void_p)

# ------------------------------------------------------------- prototypes

P = c_void_p  # opaque handles
_PROTOS = {
    "msb_last_error": (POINTER(msb_error), []),
    "msb_strerror": (c_char_p, [c_int]),
    "msb_version": (c_char_p, []),
    "msb_runtime_get": (c_int, [POINTER(msb_runtime_info)]),
    "msb_runtime_info_free": (None, [POINTER(msb_runtime_info)]),
    "msb_set_log_callback": (None, [LOG_FN, c_int, c_void_p]),
    # images
    "msb_image_pull": (c_int, [POINTER(P), c_char_p,
                               POINTER(msb_pull_options)]),
    "msb_image_get": (c_int, [POINTER(P), c_char_p]),
    "msb_image_list": (c_int, [POINTER(POINTER(P)), POINTER(c_size_t)]),
    "msb_image_list_free": (None, [POINTER(P), c_size_t]),
    "msb_image_remove": (c_int, [c_char_p]),
    "msb_image_prune": (c_int, [POINTER(c_uint64)]),
    "msb_image_reference": (c_char_p, [P]),
    "msb_image_digest": (c_char_p, [P]),
    "msb_image_id": (c_char_p, [P]),
    "msb_image_created": (c_char_p, [P]),
    "msb_image_size": (c_uint64, [P]),
    "msb_image_platform": (c_char_p, [P]),
    "msb_image_env": (c_char_pp, [P]),
    "msb_image_entrypoint": (c_char_pp, [P]),
    "msb_image_cmd": (c_char_pp, [P]),
    "msb_image_workdir": (c_char_p, [P]),
    "msb_image_user": (c_char_p, [P]),
    "msb_image_free": (None, [P]),
    # sandboxes
    "msb_sandbox_create": (c_int, [POINTER(P),
                                   POINTER(msb_sandbox_options)]),
    "msb_sandbox_start": (c_int, [POINTER(P), c_char_p, c_int]),
    "msb_sandbox_connect": (c_int, [POINTER(P), c_char_p]),
    "msb_sandbox_remove": (c_int, [c_char_p, c_int]),
    "msb_sandbox_list": (c_int, [POINTER(POINTER(msb_sandbox_info)),
                                 POINTER(c_size_t)]),
    "msb_sandbox_list_free": (None, [POINTER(msb_sandbox_info), c_size_t]),
    "msb_sandbox_wait": (c_int, [c_char_p, c_int, c_char_p, c_size_t]),
    "msb_sandbox_pause": (c_int, [c_char_p]),
    "msb_sandbox_resume": (c_int, [c_char_p]),
    "msb_sandbox_suspend": (c_int, [c_char_p]),
    "msb_sandbox_snapshot": (c_int, [c_char_p, c_char_p, c_int]),
    "msb_sandbox_create_from_snapshot": (c_int, [c_char_p, c_char_p,
                                                 c_int]),
    "msb_sandbox_fork": (c_int, [c_char_p, POINTER(c_char_p), c_size_t,
                                 c_int]),
    "msb_sandbox_config": (c_int, [c_char_p, POINTER(c_void_p)]),
    "msb_sandbox_inspect": (c_int, [c_char_p, POINTER(c_void_p)]),
    "msb_sandbox_metrics": (c_int, [POINTER(msb_metrics), P]),
    "msb_sandbox_name": (c_char_p, [P]),
    "msb_sandbox_stop": (c_int, [P, c_uint]),
    "msb_sandbox_free": (None, [P]),
    # volumes
    "msb_volume_create": (c_int, [c_char_p, c_uint64]),
    "msb_volume_list": (c_int, [POINTER(POINTER(msb_volume_info)),
                                POINTER(c_size_t)]),
    "msb_volume_list_free": (None, [POINTER(msb_volume_info), c_size_t]),
    "msb_volume_delete": (c_int, [c_char_p, c_int]),
    "msb_volume_list_dir": (c_int, [POINTER(POINTER(msb_fs_entry)),
                                    POINTER(c_size_t), c_char_p, c_char_p]),
    "msb_volume_copy_out": (c_int, [c_char_p, c_char_p, c_char_p,
                                    POINTER(msb_copy_options)]),
    "msb_volume_copy_in": (c_int, [c_char_p, c_char_p, c_char_p]),
    # commands
    "msb_sandbox_exec": (c_int, [POINTER(P), P, c_char_pp,
                                 POINTER(msb_exec_options)]),
    "msb_exec_output_stdout": (c_void_p, [P, POINTER(c_size_t)]),
    "msb_exec_output_stderr": (c_void_p, [P, POINTER(c_size_t)]),
    "msb_exec_output_exit_code": (c_int, [P]),
    "msb_exec_output_signal": (c_int, [P]),
    "msb_exec_output_duration_ms": (c_uint64, [P]),
    "msb_exec_output_free": (None, [P]),
    "msb_exec_start": (c_int, [POINTER(P), P, c_char_pp,
                               POINTER(msb_exec_options)]),
    "msb_exec_next": (c_int, [P, POINTER(msb_exec_event), c_int]),
    "msb_exec_fd": (c_int, [P]),
    "msb_exec_write": (c_int, [P, c_void_p, c_size_t]),
    "msb_exec_try_write": (c_long, [P, c_void_p, c_size_t]),
    "msb_exec_close_stdin": (c_int, [P]),
    "msb_exec_signal": (c_int, [P, c_int]),
    "msb_exec_resize": (c_int, [P, c_uint, c_uint]),
    "msb_exec_tty": (c_int, [P]),
    "msb_exec_wait": (c_int, [P, POINTER(c_int), POINTER(c_int)]),
    "msb_exec_free": (None, [P]),
    # background processes
    "msb_sandbox_exec_detached": (c_int, [POINTER(c_uint), P, c_char_pp,
                                          POINTER(msb_exec_options)]),
    "msb_sandbox_procs": (c_int, [POINTER(POINTER(msb_proc_info)),
                                  POINTER(c_size_t), P]),
    "msb_proc_list_free": (None, [POINTER(msb_proc_info), c_size_t]),
    "msb_sandbox_proc_signal": (c_int, [P, c_uint, c_int]),
    "msb_sandbox_proc_attach": (c_int, [POINTER(P), P, c_uint, c_int]),
    "msb_sandbox_proc_remove": (c_int, [P, c_uint, c_int]),
    "msb_sandbox_proc_wait": (c_int, [P, c_uint, POINTER(c_int),
                                      POINTER(c_int)]),
    # guest filesystem
    "msb_sandbox_fs_stat": (c_int, [POINTER(msb_fs_entry), P, c_char_p]),
    "msb_fs_entry_clear": (None, [POINTER(msb_fs_entry)]),
    "msb_sandbox_fs_exists": (c_int, [POINTER(c_int), P, c_char_p]),
    "msb_sandbox_fs_list": (c_int, [POINTER(POINTER(msb_fs_entry)),
                                    POINTER(c_size_t), P, c_char_p]),
    "msb_fs_entries_free": (None, [POINTER(msb_fs_entry), c_size_t]),
    "msb_sandbox_fs_read": (c_int, [POINTER(c_void_p), POINTER(c_size_t), P,
                                    c_char_p]),
    "msb_sandbox_fs_read_stream": (c_int, [P, c_char_p, FS_SINK_FN,
                                           c_void_p]),
    "msb_sandbox_fs_write": (c_int, [P, c_char_p, c_void_p, c_size_t, c_uint,
                                     c_int]),
    "msb_sandbox_fs_write_stream": (c_int, [P, c_char_p, FS_SOURCE_FN,
                                            c_void_p, c_uint, c_int]),
    "msb_sandbox_fs_mkdir": (c_int, [P, c_char_p, c_uint, c_int]),
    "msb_sandbox_fs_remove": (c_int, [P, c_char_p, c_int]),
    "msb_sandbox_fs_rename": (c_int, [P, c_char_p, c_char_p]),
    "msb_sandbox_fs_copy": (c_int, [P, c_char_p, c_char_p, c_int]),
    "msb_sandbox_fs_chmod": (c_int, [P, c_char_p, c_uint]),
    "msb_sandbox_fs_symlink": (c_int, [P, c_char_p, c_char_p]),
    "msb_sandbox_fs_chown": (c_int, [P, c_char_p, c_int64, c_int64]),
    "msb_sandbox_fs_copy_in": (c_int, [P, c_char_p, c_char_p]),
    "msb_sandbox_fs_copy_out": (c_int, [P, c_char_p, c_char_p,
                                        POINTER(msb_copy_options)]),
}

for _name, (_res, _args) in _PROTOS.items():
    _fn = getattr(lib, _name)
    _fn.restype = _res
    _fn.argtypes = _args

# ---------------------------------------------------------------- helpers


def last_error(rc: int, context: Optional[str] = None) -> errors.SandboxError:
    """The exception for a failed call that returned @rc, from this
    thread's msb_last_error() (read right after the call)."""
    e = lib.msb_last_error().contents
    code = e.code or -rc
    msg = e.message.decode("utf-8", "replace")
    if not msg:
        msg = lib.msb_strerror(code).decode("utf-8", "replace")
    return errors.make_error(code, msg, e.sys_errno, e.exec_failure, context)


def check(rc: int, context: Optional[str] = None) -> int:
    """Raise the library's error for a negative @rc; return @rc."""
    if rc < 0:
        raise last_error(rc, context)
    return rc


def enc(s: "Union[str, bytes, os.PathLike[str]]") -> bytes:
    """A str (or path) as the C library takes it (UTF-8, or the
    filesystem encoding for host paths)."""
    if isinstance(s, bytes):
        return s
    return os.fsencode(s)


def opt_enc(s: "Union[str, bytes, os.PathLike[str], None]") -> Optional[bytes]:
    return None if s is None else enc(s)


def dec(b: Optional[bytes]) -> Optional[str]:
    return None if b is None else b.decode("utf-8", "surrogateescape")


def strv(items: Optional[Iterable[Any]]) -> "Optional[ctypes.Array[c_char_p]]":
    """A NULL-terminated char* array, or None (NULL) for None."""
    if items is None:
        return None
    enc_items = [enc(i) for i in items]
    arr = (c_char_p * (len(enc_items) + 1))(*enc_items)
    return arr


def from_strv(p: Any) -> List[str]:
    """A NULL-terminated char** as a list of str."""
    out: List[str] = []
    if not p:
        return out
    i = 0
    while p[i] is not None:
        out.append(p[i].decode("utf-8", "surrogateescape"))
        i += 1
    return out


def take_string(p: Any) -> str:
    """A malloc'd C string as str; frees it."""
    try:
        return ctypes.string_at(p).decode("utf-8", "surrogateescape")
    finally:
        libc.free(p)


def version() -> str:
    """The version of the loaded libmicrosandbox."""
    v: bytes = lib.msb_version()
    return v.decode()


def runtime_info() -> Dict[str, Tuple[str, str]]:
    """Where the library takes msb-vmm, msb-netd and the guest files from,
    and why: {"vmm": (path, origin), "netd": ..., "guest_dir": ...}. The
    origin is a variable's name (MSB_VMM...), "prefix DIR", "build tree
    DIR" or "configured prefix DIR" (see msb doctor)."""
    info = msb_runtime_info()
    check(lib.msb_runtime_get(byref(info)))
    try:
        def pair(path: bytes, origin: bytes) -> Tuple[str, str]:
            return (path.decode("utf-8", "surrogateescape"),
                    origin.decode("utf-8", "surrogateescape"))
        return {"vmm": pair(info.vmm, info.vmm_origin),
                "netd": pair(info.netd, info.netd_origin),
                "guest_dir": pair(info.guest_dir, info.guest_origin)}
    finally:
        lib.msb_runtime_info_free(byref(info))


# ----------------------------------------------------------------- logging

_log_lock = threading.Lock()


def _log_cb(level: int, message: bytes, _ud: Any) -> None:
    import logging
    lv = {0: logging.ERROR, 1: logging.WARNING, 2: logging.INFO}.get(
        level, logging.DEBUG)
    try:
        logging.getLogger("microsandbox").log(
            lv, "%s", message.decode("utf-8", "replace"))
    except Exception:  # never let an exception into C
        pass


_log_fn = LOG_FN(_log_cb)
lib.msb_set_log_callback(_log_fn, 1, None)  # errors and warnings


def set_log_level(level: int) -> None:
    """Deliver the library's messages up to @level (0 errors, 1 warnings,
    2 info, 3 debug) to the ``microsandbox`` logger."""
    lib.msb_set_log_callback(_log_fn, level, None)


__all__ = ["lib", "libc", "check", "last_error", "enc", "dec", "strv",
           "from_strv", "take_string", "byref", "version"]
