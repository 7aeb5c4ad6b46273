# SPDX-License-Identifier: Apache-2.0
"""pytest setup of the Python SDK tests: real VMs, the package from the
checkout (python/), its library from the build tree, a private MSB_HOME.

Environment (meson's `python` test sets them): MSB_TEST_BUILD_DIR (the
build tree, default <checkout>/build), MSB_TEST_MSB (the msb binary).
MSB_TEST_INSTALLED=1 tests the installed package instead of python/.
"""
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

CHECKOUT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BUILD = os.environ.get("MSB_TEST_BUILD_DIR") or os.path.join(CHECKOUT, "build")
MSB = os.environ.get("MSB_TEST_MSB") or os.path.join(BUILD, "msb")

if not os.environ.get("MSB_TEST_INSTALLED"):
    sys.path.insert(0, os.path.join(CHECKOUT, "python"))
if not os.environ.get("MSB_LIB"):
    os.environ["MSB_LIB"] = os.path.join(BUILD, "src", "lib",
                                         "libmicrosandbox.so")

_home = tempfile.mkdtemp(prefix="msb-pytest-")
os.environ["MSB_HOME"] = _home
os.environ.pop("MSB_ACCEL", None)

import microsandbox  # noqa: E402  (after the environment is set)


def pytest_sessionfinish(session, exitstatus):
    # Sandboxes of this process stop when it exits; stop any left now so
    # that their folders can go.
    try:
        for s in microsandbox.Sandbox.list():
            if s.status == "running":
                try:
                    microsandbox.Sandbox.kill_named(s.name)
                except microsandbox.SandboxError:
                    pass
    except Exception:
        pass
    shutil.rmtree(_home, ignore_errors=True)


def msb(*args, check=True):
    """Run the msb CLI against the test MSB_HOME; its stdout."""
    r = subprocess.run([MSB, *args], capture_output=True, text=True,
                       timeout=120)
    if check and r.returncode != 0:
        raise AssertionError("msb %s: %s" % (" ".join(args), r.stderr))
    return r.stdout


@pytest.fixture(scope="session")
def sb():
    """One sandbox shared by the tests that allow it."""
    with microsandbox.Sandbox.create(labels={"test": "shared"}) as s:
        yield s


@pytest.fixture(scope="session")
def home():
    return _home
