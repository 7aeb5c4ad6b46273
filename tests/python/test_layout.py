# SPDX-License-Identifier: Apache-2.0
"""The ctypes structures match include/microsandbox.h: a C program built
against the header prints every field's offset and each struct's size,
compared with what ctypes computes."""
import ctypes
import os
import shutil
import subprocess

import pytest

from conftest import CHECKOUT

from microsandbox import _lib

STRUCTS = {
    "msb_error": _lib.msb_error,
    "msb_pull_options": _lib.msb_pull_options,
    "msb_volume_mount": _lib.msb_volume_mount,
    "msb_bind_mount": _lib.msb_bind_mount,
    "msb_tmpfs": _lib.msb_tmpfs,
    "msb_patch": _lib.msb_patch,
    "msb_port": _lib.msb_port,
    "msb_secret_spec": _lib.msb_secret_spec,
    "msb_sandbox_options": _lib.msb_sandbox_options,
    "msb_exec_options": _lib.msb_exec_options,
    "msb_exec_event": _lib.msb_exec_event,
    "msb_proc_info": _lib.msb_proc_info,
    "msb_fs_entry": _lib.msb_fs_entry,
    "msb_copy_options": _lib.msb_copy_options,
    "msb_volume_info": _lib.msb_volume_info,
    "msb_sandbox_info": _lib.msb_sandbox_info,
    "msb_metrics": _lib.msb_metrics,
}


def test_struct_layouts(tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler")
    lines = ['#include <stdio.h>', '#include <stddef.h>',
             '#include "microsandbox.h"', 'int main(void) {']
    want = []
    for name, st in STRUCTS.items():
        lines.append('printf("%%zu\\n", sizeof(%s));' % name)
        want.append(ctypes.sizeof(st))
        for field, _ in st._fields_:
            lines.append('printf("%%zu\\n", offsetof(%s, %s));' % (name, field))
            want.append(getattr(st, field).offset)
    # every field of the C struct is declared: the INIT macros have as
    # many initialisers as ctypes has fields
    lines.append("return 0; }")
    src = tmp_path / "layout.c"
    src.write_text("\n".join(lines))
    exe = tmp_path / "layout"
    subprocess.run([cc, "-I", os.path.join(CHECKOUT, "include"), "-o",
                    str(exe), str(src)], check=True)
    got = [int(x) for x in subprocess.run(
        [str(exe)], check=True, capture_output=True, text=True).stdout.split()]
    assert got == want


def test_options_versions():
    hdr = open(os.path.join(CHECKOUT, "include", "microsandbox.h")).read()
    assert "#define MSB_SANDBOX_OPTIONS_VERSION %d" % \
        _lib.SANDBOX_OPTIONS_VERSION in hdr
    assert "#define MSB_EXEC_OPTIONS_VERSION %d" % \
        _lib.EXEC_OPTIONS_VERSION in hdr
    assert "#define MSB_PULL_OPTIONS_VERSION %d" % \
        _lib.PULL_OPTIONS_VERSION in hdr
    assert "#define MSB_COPY_OPTIONS_VERSION %d" % \
        _lib.COPY_OPTIONS_VERSION in hdr
    assert "#define MSB_METRICS_VERSION 2" in hdr


def test_error_codes_match_header():
    import re
    from microsandbox import errors
    hdr = open(os.path.join(CHECKOUT, "include", "microsandbox.h")).read()
    codes = dict(re.findall(r"\b(MSB_E[A-Z]+) = (\d+),", hdr))
    assert codes, "no error codes found in the header"
    for name, value in codes.items():
        assert getattr(errors, name) == int(value), name
        assert errors.error_class(int(value)) is not errors.SandboxError
