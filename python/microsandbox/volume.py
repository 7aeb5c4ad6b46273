# SPDX-License-Identifier: Apache-2.0
"""Named volumes: data that outlives sandboxes."""
from __future__ import annotations

from ctypes import POINTER, byref, c_size_t
from typing import List, Optional, Union

from . import errors
from ._lib import check, dec, enc, from_strv, lib, msb_fs_entry, \
    msb_volume_info
from .fs import PathArg, copy_options, entries
from .models import FileInfo, VolumeInfo, parse_size

__all__ = ["Volume"]

VOLUME_FORCE = 1


class Volume:
    """A named volume: an ext4 filesystem in a sparse file under
    ``$MSB_HOME/volumes``, mounted into sandboxes with
    ``Sandbox.create(volumes={"/data": volume})``. A volume is attached
    read-write to one sandbox at a time, or read-only to any number.

    ``Volume(name)`` refers to an existing volume without checking it.
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return "Volume(%r)" % self.name

    @property
    def quota(self) -> int:
        """Its size limit in bytes."""
        return self.info().quota_bytes

    @classmethod
    def create(cls, name: str,
               quota: Union[int, str, None] = None) -> "Volume":
        """A new, empty volume of @quota bytes (int, or "1G"; None:
        1 GiB; 8 MiB to 16 TiB). :class:`AlreadyExistsError` if it
        exists."""
        q = 0 if quota is None else parse_size(quota)
        check(lib.msb_volume_create(enc(name), q), "volume")
        return cls(name)

    @staticmethod
    def list() -> List[VolumeInfo]:
        """Every volume, sorted by name."""
        arr = POINTER(msb_volume_info)()
        n = c_size_t()
        check(lib.msb_volume_list(byref(arr), byref(n)))
        try:
            return [VolumeInfo(dec(v.name) or "", v.quota_bytes,
                               v.used_bytes, v.created,
                               from_strv(v.sandboxes))
                    for v in (arr[i] for i in range(n.value))]
        finally:
            lib.msb_volume_list_free(arr, n)

    def info(self) -> VolumeInfo:
        for v in Volume.list():
            if v.name == self.name:
                return v
        raise errors.VolumeNotFound("volume `%s` not found" % self.name,
                                    errors.MSB_ENOTFOUND)

    def remove(self, *, force: bool = False) -> None:
        """Delete the volume and its data. Refused
        (:class:`StateError`) while a running sandbox has it mounted, or
        (unless @force) while a stored sandbox has it in its config."""
        check(lib.msb_volume_delete(enc(self.name),
                                    VOLUME_FORCE if force else 0), "volume")

    def list_dir(self, path: PathArg = "/") -> List[FileInfo]:
        """Entries of directory @path in the volume, read on the host
        (no sandbox may have it mounted read-write)."""
        arr = POINTER(msb_fs_entry)()
        n = c_size_t()
        check(lib.msb_volume_list_dir(byref(arr), byref(n), enc(self.name),
                                      enc(path)), "fs")
        return sorted(entries(arr, n.value), key=lambda e: e.name)

    def copy_to_host(self, path: PathArg, host_path: PathArg, *,
                     archive: bool = False, max_bytes: Optional[int] = None,
                     max_files: Optional[int] = None) -> None:
        """Copy @path in the volume to @host_path (the rules of
        ``Filesystem.copy_to_host`` apply)."""
        o = copy_options(archive, max_bytes, max_files)
        check(lib.msb_volume_copy_out(enc(self.name), enc(path),
                                      enc(host_path), byref(o)), "fs")

    def copy_from_host(self, host_path: PathArg, path: PathArg) -> None:
        """Copy a host file or tree to @path in the volume (no sandbox
        may have it mounted)."""
        check(lib.msb_volume_copy_in(enc(self.name), enc(host_path),
                                     enc(path)), "fs")
