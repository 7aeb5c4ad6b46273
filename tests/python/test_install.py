# SPDX-License-Identifier: Apache-2.0
"""`pip install ./python` with Debian's pip and setuptools (no PyPI), and
how the installed package finds the library: the build tree recorded at
install time, MSB_LIB, and a clear ImportError without one."""
import os
import shutil
import subprocess

import pytest

from conftest import BUILD, CHECKOUT

PY = "/usr/bin/python3"


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True,
                          timeout=300, **kw)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    if run([PY, "-m", "pip", "--version"]).returncode != 0:
        pytest.skip("Debian's python3-pip is not installed")
    root = tmp_path_factory.mktemp("inst")
    # a copy of the checkout's python/ beside a link to the build tree,
    # so that the in-tree build leaves nothing in the source folder
    shutil.copytree(os.path.join(CHECKOUT, "python"), root / "co" / "python",
                    ignore=shutil.ignore_patterns("build", "*.egg-info",
                                                  "__pycache__"))
    os.symlink(BUILD, root / "co" / "build")
    target = root / "site"
    r = run([PY, "-m", "pip", "install", "--no-build-isolation",
             "--no-index", "--target", str(target),
             str(root / "co" / "python")])
    assert r.returncode == 0, r.stdout + r.stderr
    return target, root / "co" / "build"


def probe(target, env_extra=None, cwd="/"):
    env = {k: v for k, v in os.environ.items() if k != "MSB_LIB"}
    env["PYTHONPATH"] = str(target)
    env.update(env_extra or {})
    return run([PY, "-c",
                "import microsandbox as m, microsandbox._lib as L; "
                "print(L.lib._msb_path); print(m.__file__); "
                "print(len(m.Sandbox.list()) >= 0)"], env=env, cwd=cwd)


def test_installed_package_finds_build_tree(installed):
    target, build = installed
    assert (target / "microsandbox" / "py.typed").exists()
    r = probe(target)
    assert r.returncode == 0, r.stderr
    lib, pkg, ok = r.stdout.split()
    assert lib == os.path.join(str(build), "src", "lib", "libmicrosandbox.so")
    assert pkg.startswith(str(target)) and ok == "True"


def test_install_prefix(installed, tmp_path):
    """A library in an install prefix (PREFIX/LIBDIR, as meson installs it)
    finds msb-vmm, msb-netd and the guest files under that prefix by
    itself (runtime_info() says so), unless the variables are set, and
    boots a sandbox with them."""
    target, _ = installed
    p = tmp_path / "prefix"
    libdir = p / "lib" / "x86_64-linux-gnu"
    libdir.mkdir(parents=True)
    shutil.copy(os.path.join(BUILD, "src", "lib", "libmicrosandbox.so"),
                libdir / "libmicrosandbox.so")
    (p / "libexec" / "microsandbox").mkdir(parents=True)
    for exe in ("msb-vmm", "msb-netd"):
        src = os.path.join(BUILD, "src", exe.split("-")[1], exe)
        if os.path.exists(src):
            os.symlink(src, p / "libexec" / "microsandbox" / exe)
    os.symlink(os.path.join(BUILD, "guest"), p / "lib" / "microsandbox")
    code = ("import microsandbox as m; r = m.runtime_info(); "
            "print(r['vmm'][0]); print(r['guest_dir'][0]); "
            "print(r['guest_dir'][1].replace(' ', '_')); "
            "s = m.Sandbox.create(); print(s.exec('echo', ['up']).stdout); "
            "s.close()")
    env = {k: v for k, v in os.environ.items()
           if k not in ("MSB_VMM", "MSB_NETD", "MSB_GUEST_DIR")}
    env.update(PYTHONPATH=str(target), MSB_LIB=str(libdir))
    r = run([PY, "-c", code], env=env, cwd="/")
    assert r.returncode == 0, r.stderr
    vmm, guest, origin, up = r.stdout.split()
    assert vmm == str(p / "libexec" / "microsandbox" / "msb-vmm")
    assert guest == str(p / "lib" / "microsandbox")
    assert origin == "prefix_" + str(p)
    assert up == "up"
    env["MSB_GUEST_DIR"] = os.path.join(BUILD, "guest")  # set: it wins
    r = run([PY, "-c", "import microsandbox as m; "
             "print(m.runtime_info()['guest_dir'])"], env=env, cwd="/")
    assert r.stdout.strip() == str((os.path.join(BUILD, "guest"),
                                    "MSB_GUEST_DIR"))


def test_msb_lib(installed, tmp_path):
    target, _ = installed
    real = os.path.join(BUILD, "src", "lib", "libmicrosandbox.so")
    r = probe(target, {"MSB_LIB": os.path.dirname(real)})
    assert r.returncode == 0 and r.stdout.split()[0] == real
    r = probe(target, {"MSB_LIB": str(tmp_path / "none.so")})
    assert r.returncode != 0
    assert "libmicrosandbox.so not found" in r.stderr
    assert "MSB_LIB" in r.stderr
