# SPDX-License-Identifier: Apache-2.0
"""Build hook: record the checkout's build tree in the installed package
(microsandbox/_buildinfo.py), so that a package installed from a checkout
finds that checkout's libmicrosandbox.so. Metadata is in pyproject.toml."""
import os

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


class BuildPy(build_py):
    def run(self):
        super().run()
        build = os.path.join(os.path.dirname(HERE), "build")
        out = os.path.join(self.build_lib, "microsandbox", "_buildinfo.py")
        with open(out, "w") as f:
            f.write("# Written by setup.py at install time.\n")
            f.write("BUILD_DIR = %r\n" % build)


setup(cmdclass={"build_py": BuildPy})
