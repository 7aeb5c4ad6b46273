#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# python.sh - the overhead of the Python SDK: `sandbox.exec("true")` from
# Python against msb_sandbox_exec() of `true` from C, on one running
# sandbox. The C side is a small program built here against the build
# tree, driven call by call through a pipe: the two alternate, one call
# each, so that the machine's drift (TCG, other load) hits both alike.
# Both connect to the same detached sandbox by name. Prints both medians
# and the ratio (target <= 1.2); BENCH_RAW=1 also times the bare ctypes
# call from Python (the floor of any binding).
#   bench/python.sh [ROUNDS]   (default 300)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${MSB_BUILD_DIR:-$src/build}
lib=$build/src/lib
py=/usr/bin/python3
[ -f "$lib/libmicrosandbox.so" ] || {
	echo "python.sh: $lib/libmicrosandbox.so not found: build first (ninja -C build)" >&2
	exit 1
}
rounds=${1:-300}
export MSB_HOME MSB_LIB=$lib/libmicrosandbox.so
MSB_HOME=$(mktemp -d /tmp/msb-bench-py-XXXXXX)
tmp=$(mktemp -d)
trap 'rm -rf "$MSB_HOME" "$tmp"' EXIT

cat >"$tmp/exec_true.c" <<'C'
/* exec_true NAME: for each line on stdin, one timed msb_sandbox_exec()
 * of `true` on the running sandbox NAME; prints its time in ns. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "microsandbox.h"

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	const char *argv_true[] = {"true", NULL};
	char line[16];
	msb_sandbox *sb;

	if (argc < 2 || msb_sandbox_connect(&sb, argv[1]) < 0) {
		fprintf(stderr, "exec_true: %s\n", msb_last_error()->message);
		return 1;
	}
	while (fgets(line, sizeof(line), stdin)) {
		msb_exec_output *out = NULL;
		long long t0 = now_ns();
		if (msb_sandbox_exec(&out, sb, argv_true, NULL) < 0) {
			fprintf(stderr, "exec_true: %s\n",
				msb_last_error()->message);
			return 1;
		}
		long long t = now_ns() - t0;
		msb_exec_output_free(out);
		printf("%lld\n", t);
		fflush(stdout);
	}
	msb_sandbox_free(sb);
	return 0;
}
C
cc -O2 -I"$src/include" -o "$tmp/exec_true" "$tmp/exec_true.c" \
	-L"$lib" -lmicrosandbox -Wl,-rpath,"$lib"

PYTHONPATH=$src/python "$py" - "$tmp/exec_true" "$rounds" <<'PY'
import os, statistics, subprocess, sys, time
from ctypes import byref, c_void_p
import microsandbox as m
from microsandbox._lib import lib, strv

exe, rounds = sys.argv[1], int(sys.argv[2])
raw = bool(os.environ.get("BENCH_RAW"))
name = "bench-py"
m.Sandbox.create(name=name, detached=True).close()  # it runs on
try:
    sb = m.Sandbox.connect(name)
    c = subprocess.Popen([exe, name], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True, bufsize=1)
    argv = strv(["true"])
    c_ns, py_ns, raw_ns = [], [], []
    for i in range(-10, rounds):  # 10 warm-up rounds
        c.stdin.write("x\n")
        t_c = int(c.stdout.readline())
        t0 = time.perf_counter_ns()
        sb.exec("true")
        t_py = time.perf_counter_ns() - t0
        if raw:
            t0 = time.perf_counter_ns()
            out = c_void_p()
            lib.msb_sandbox_exec(byref(out), sb._primary, argv, None)
            lib.msb_exec_output_free(out)
            t_raw = time.perf_counter_ns() - t0
        if i >= 0:
            c_ns.append(t_c)
            py_ns.append(t_py)
            if raw:
                raw_ns.append(t_raw)
    c.stdin.close()
    c.wait()
    sb.close()
finally:
    m.Sandbox.remove_named(name, force=True)
mc = statistics.median(c_ns) / 1e6
mp = statistics.median(py_ns) / 1e6
print("exec true, %d calls each: C median %.3f ms; Python median %.3f ms; "
      "ratio %.2f (target <= 1.2)" % (rounds, mc, mp, mp / mc))
if raw_ns:
    print("bare ctypes call from Python: median %.3f ms" %
          (statistics.median(raw_ns) / 1e6))
PY
