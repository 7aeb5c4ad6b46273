#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Run the whole test suite: set up (./setup.sh), then unit tests and fuzz
# corpus replay, integration tests that boot real VMs (KVM if usable, else
# TCG), and the unit tests again in an ASan+UBSan build. Ends with one
# summary line; exits non-zero if anything failed.
#
#   ./run-tests.sh [--no-deps] [-- MESON_TEST_ARGS...]
set -uo pipefail
cd "$(dirname "$0")"

setup_args=()
test_args=()
while [ $# -gt 0 ]; do
	case "$1" in
	--) shift; test_args=("$@"); break ;;
	*) setup_args+=("$1"); shift ;;
	esac
done

./setup.sh "${setup_args[@]}" || { echo "TESTS: setup failed"; exit 1; }

status=0
echo "==> tests (build/)"
meson test -C build --print-errorlogs "${test_args[@]}" || status=1

echo "==> unit tests under ASan+UBSan (build-asan/)"
if [ ! -f build-asan/build.ninja ]; then
	meson setup build-asan -Db_sanitize=address,undefined \
		-Db_lundef=false -Dguest=false >/dev/null || status=1
fi
if ninja -C build-asan; then
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C build-asan --suite unit --print-errorlogs || status=1
else
	echo "build-asan: build failed"
	status=1
fi

python3 - build/meson-logs/testlog.json build-asan/meson-logs/testlog.json <<'PY'
import json, sys
passed = failed = skipped = 0
names = []
for path in sys.argv[1:]:
    try:
        lines = open(path).read().splitlines()
    except OSError:
        continue
    for line in lines:
        t = json.loads(line)
        r = t.get("result")
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
            names.append(path.split("/")[0] + ":" + t.get("name", "?"))
print(f"TESTS: {passed} passed, {failed} failed, {skipped} skipped"
      + (f" ({', '.join(names)})" if names else ""))
PY
exit $status
