#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""An agent runs untrusted, model-generated Python in a sandbox.

The "model" here is a list of canned answers (plug in your LLM client
where `generate_code` is): each answer is Python source the agent must
run to get a result, and that code is untrusted. It runs in a microVM:
its own kernel, no network, a time limit, resource limits, an unprivileged
user. Whatever it does (loop forever, fill memory, delete files, fork
bomb) stays inside, and the agent gets back stdout, stderr and the exit
status, or the reason it was stopped.

    examples/python/untrusted_code.py [--image IMAGE]

IMAGE must have python3: an OCI reference ("python:3.12-slim", pulled
from Docker Hub; needs network access) or an ext4 disk image. Default:
$MSB_PYTHON_IMAGE, else the Debian root the network tests build
(.cache/images/netguest-rootfs.ext4 in the checkout; make it with
`sudo tests/integration/netguest_rootfs.sh .cache/images/netguest-rootfs`).
Run it from the checkout (it finds the package in python/) or with the
package installed.
"""
import argparse
import json
import os
import signal
import sys
from dataclasses import dataclass
from typing import Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKOUT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(CHECKOUT, "python"))

import microsandbox as msb  # noqa: E402

# What a model might answer to "compute this for me". The last ones are
# what a confused, or hostile, model produces.
MODEL_ANSWERS = [
    ("sum of squares", "print(sum(i * i for i in range(1, 101)))"),
    ("primes", """
def primes(n):
    s = [True] * (n + 1)
    for i in range(2, int(n ** 0.5) + 1):
        if s[i]:
            s[i * i::i] = [False] * len(s[i * i::i])
    return [i for i in range(2, n + 1) if s[i]]
print(primes(50))
"""),
    ("reads its input", "import json, sys\n"
     "d = json.load(sys.stdin)\nprint(d['a'] * d['b'])"),
    ("raises", "print('working...')\n1 / 0"),
    ("never ends", "while True:\n    pass"),
    ("wants the network", "import urllib.request\n"
     "print(urllib.request.urlopen('http://example.com', timeout=3).read())"),
    ("deletes everything", "import shutil, os\n"
     "shutil.rmtree('/etc', ignore_errors=True)\n"
     "print('gone:', not os.path.exists('/etc/passwd'))"),
    ("eats memory", "x = []\nwhile True:\n    x.append(bytearray(1 << 20))"),
]


@dataclass
class RunResult:
    ok: bool
    stdout: str
    stderr: str
    exit_code: Optional[int]
    error: Optional[str] = None  # why it was stopped, if it was


def generate_code(task_index: int) -> Tuple[str, str]:
    """Stand-in for the model call."""
    return MODEL_ANSWERS[task_index]


def run_untrusted(sb: msb.Sandbox, code: str, stdin: bytes = b"",
                  cpu_seconds: int = 5, timeout: float = 60.0) -> RunResult:
    """Run @code with python3 in @sb as user nobody, with limits: CPU
    time (@cpu_seconds, the guest kernel's count, so a loaded host does
    not cut honest code short), wall time (@timeout: also catches code
    that sleeps), memory, processes, file size, open files. Never raises
    for what the code does."""
    path = "/tmp/snippet.py"
    sb.fs.write(path, code, mode=0o644)
    try:
        r = sb.exec("python3", [path], stdin=stdin, timeout=timeout,
                    user="65534:65534", cwd="/tmp", kill_group=True,
                    rlimits=["cpu=%d:%d" % (cpu_seconds, cpu_seconds + 5),
                             "as=268435456",
                             "nproc=64", "fsize=10485760", "nofile=64"])
    except msb.ExecTimeout:
        return RunResult(False, "", "", None,
                         "killed after %g s (time limit)" % timeout)
    err = None
    if r.signal == signal.SIGXCPU:
        err = "killed by SIGXCPU (CPU time limit)"
    elif r.signal:
        err = "killed by signal %d" % r.signal
    return RunResult(r.ok, r.stdout, r.stderr[-2000:], r.exit_code, err)


def default_image() -> Optional[str]:
    if os.environ.get("MSB_PYTHON_IMAGE"):
        return os.environ["MSB_PYTHON_IMAGE"]
    disk = os.path.join(CHECKOUT, ".cache", "images", "netguest-rootfs.ext4")
    return disk if os.path.exists(disk) else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", default=default_image(),
                    help="an image with python3 (OCI reference or ext4 disk)")
    ap.add_argument("--timeout", type=float, default=60.0,
                    help="wall-clock limit of each run, seconds")
    ap.add_argument("--json", action="store_true",
                    help="print the results as JSON lines")
    a = ap.parse_args()
    if not a.image:
        print("untrusted_code.py: no image with python3: pass --image "
              "(e.g. python:3.12-slim) or set MSB_PYTHON_IMAGE",
              file=sys.stderr)
        return 2
    # No network, 512 MiB, and gone when the block ends, whatever happens.
    with msb.Sandbox.create(image=a.image, network="none", memory="512M",
                            labels={"example": "untrusted-code"}) as sb:
        for i in range(len(MODEL_ANSWERS)):
            title, code = generate_code(i)
            stdin = json.dumps({"a": 6, "b": 7}).encode()
            res = run_untrusted(sb, code, stdin=stdin, timeout=a.timeout)
            if a.json:
                print(json.dumps({"task": title, **res.__dict__}))
                continue
            status = ("ok" if res.ok else res.error or
                      "exit %s" % res.exit_code)
            print("-- %s: %s" % (title, status))
            if res.stdout:
                print("   stdout: %s" % res.stdout.strip()[:200])
            if res.stderr:
                print("   stderr: %s" % res.stderr.strip().splitlines()[-1])
        # The sandbox is still healthy after all that.
        print("-- afterwards, the sandbox answers:",
              sb.exec("python3", ["-c", "print('still here')"]).stdout.strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
