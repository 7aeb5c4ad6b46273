# SPDX-License-Identifier: Apache-2.0
"""examples/python/untrusted_code.py runs as documented, with a guest
image that has python3 (MSB_PYTHON_IMAGE, or the Debian root the
network tests build; skipped without one)."""
import json
import os
import subprocess
import sys

import pytest

from conftest import CHECKOUT


def python_image():
    img = os.environ.get("MSB_PYTHON_IMAGE")
    if img:
        return img
    disk = os.path.join(CHECKOUT, ".cache", "images", "netguest-rootfs.ext4")
    return disk if os.path.exists(disk) else None


def test_untrusted_code_example():
    img = python_image()
    if not img:
        pytest.skip("no guest image with python3 (set MSB_PYTHON_IMAGE)")
    r = subprocess.run(
        [sys.executable,
         os.path.join(CHECKOUT, "examples", "python", "untrusted_code.py"),
         "--image", img, "--json", "--timeout", "600"],
        capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    res = {d["task"]: d for d in map(json.loads, lines[:-1])}
    assert res["sum of squares"]["stdout"] == "338350\n"
    assert res["reads its input"]["stdout"] == "42\n"
    assert not res["raises"]["ok"] and "ZeroDivisionError" in \
        res["raises"]["stderr"]
    assert "CPU time limit" in res["never ends"]["error"]
    assert not res["wants the network"]["ok"]
    assert res["deletes everything"]["stdout"] == "gone: False\n"
    assert not res["eats memory"]["ok"]
    assert lines[-1].endswith("still here")
