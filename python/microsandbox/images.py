# SPDX-License-Identifier: Apache-2.0
"""OCI images: pull, list, remove (``microsandbox.images``)."""
from __future__ import annotations

import threading
from ctypes import POINTER, byref, c_size_t, c_uint64, c_void_p
from typing import Any, Callable, List, Optional

from ._lib import (PULL_OPTIONS_VERSION, PULL_PROGRESS_FN, check, dec, enc,
                   from_strv, lib, msb_pull_options, opt_enc)
from .models import Image

__all__ = ["pull", "get", "list", "remove", "prune", "Image"]

_POLICIES = {"if-missing": 0, "always": 1, "never": 2}

ProgressFn = Callable[[str, int, int], Any]


def _image(h: c_void_p) -> Image:
    return Image(
        reference=dec(lib.msb_image_reference(h)) or "",
        digest=dec(lib.msb_image_digest(h)) or "",
        id=dec(lib.msb_image_id(h)) or "",
        created=dec(lib.msb_image_created(h)),
        size=lib.msb_image_size(h),
        platform=dec(lib.msb_image_platform(h)) or "",
        env=from_strv(lib.msb_image_env(h)),
        entrypoint=from_strv(lib.msb_image_entrypoint(h)),
        cmd=from_strv(lib.msb_image_cmd(h)),
        workdir=dec(lib.msb_image_workdir(h)),
        user=dec(lib.msb_image_user(h)))


def _take(h: c_void_p) -> Image:
    try:
        return _image(h)
    finally:
        lib.msb_image_free(h)


def pull(reference: str, *, progress: Optional[ProgressFn] = None,
         policy: str = "always", platform: Optional[str] = None,
         username: Optional[str] = None, password: Optional[str] = None,
         insecure: bool = False) -> Image:
    """Pull @reference ("alpine", "python:3.12", "ghcr.io/o/i@sha256:..."),
    verify it and build its root disk.

    Args:
        progress: called as ``progress(layer_digest, done, total)`` while
            layers download (from the library's download threads, one
            call at a time). Exceptions it raises are ignored.
        policy: "always" (ask the registry again; the default here, as
            ``msb pull``), "if-missing" or "never" (the store only).
        platform: "os/arch[/variant]" (default: the host's).
        username, password: registry credentials (default: those of
            ~/.docker/config.json, else anonymous).
        insecure: SECURITY NOTE: allows plain HTTP to this registry.

    Raises:
        ImageNotFound, AuthError, ProtocolError, InvalidArgumentError...
    """
    if policy not in _POLICIES:
        raise ValueError("policy must be one of always, if-missing, never")
    o = msb_pull_options()
    o.version = PULL_OPTIONS_VERSION
    o.policy = _POLICIES[policy]
    o.platform = opt_enc(platform)
    o.username = opt_enc(username)
    o.password = opt_enc(password)
    o.insecure = 1 if insecure else 0
    cb = None
    if progress is not None:
        lock = threading.Lock()
        report = progress

        def _cb(digest: bytes, done: int, total: int, _ud: Any) -> None:
            try:
                with lock:
                    report(digest.decode(), done, total)
            except BaseException:
                pass

        cb = PULL_PROGRESS_FN(_cb)
        o.progress = cb
    h = c_void_p()
    check(lib.msb_image_pull(byref(h), enc(reference), byref(o)), "image")
    return _take(h)


def get(reference: str) -> Image:
    """A stored image by reference or ID, without network access."""
    h = c_void_p()
    check(lib.msb_image_get(byref(h), enc(reference)), "image")
    return _take(h)


def list() -> List[Image]:  # noqa: A001  (mirrors `msb image ls`)
    """Every stored image, sorted by reference."""
    arr = POINTER(c_void_p)()
    n = c_size_t()
    check(lib.msb_image_list(byref(arr), byref(n)))
    try:
        return [_image(arr[i]) for i in range(n.value)]
    finally:
        lib.msb_image_list_free(arr, n)


def remove(reference: str) -> None:
    """Forget a reference (or the image an ID names). Refused
    (:class:`StateError`) while a sandbox uses it."""
    check(lib.msb_image_remove(enc(reference)), "image")


def prune() -> int:
    """Delete blobs and disks no image uses; returns the bytes freed."""
    n = c_uint64()
    check(lib.msb_image_prune(byref(n)))
    return n.value
