# SPDX-License-Identifier: Apache-2.0
"""The package's type hints hold: mypy --strict over the package and the
example (Debian's mypy; skipped when it is not installed)."""
import os
import subprocess

import pytest

from conftest import CHECKOUT


def test_mypy_strict():
    mypy = "/usr/bin/python3"
    if subprocess.run([mypy, "-m", "mypy", "--version"],
                      capture_output=True).returncode != 0:
        pytest.skip("mypy is not installed (Debian package mypy)")
    env = dict(os.environ, MYPYPATH=os.path.join(CHECKOUT, "python"))
    r = subprocess.run(
        [mypy, "-m", "mypy", "--strict", "--no-incremental",
         "--cache-dir", "/dev/null",
         os.path.join(CHECKOUT, "python", "microsandbox"),
         os.path.join(CHECKOUT, "examples", "python", "untrusted_code.py")],
        capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr


def test_py_typed_shipped():
    assert os.path.exists(os.path.join(CHECKOUT, "python", "microsandbox",
                                       "py.typed"))
