#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# pull.sh - `msb pull` of the Debian image against skopeo + umoci + mkfs.ext4
#
# Usage: bench/pull.sh [--baseline-only]
#
# Pull-and-prepare of tests/images' debian:bookworm (debootstrap minbase +
# python3-minimal, one gzip layer) from a local registry into a boot-ready
# root disk, two ways, both from a cold store, alternating in the same run
# (the first of the pair swaps each round):
#   msb       MSB_HOME=<fresh dir> build/msb pull -q HOST/debian:bookworm
#   baseline  in a fresh dir: skopeo copy docker://HOST/debian:bookworm
#             oci:DIR:bookworm; umoci unpack --image DIR:bookworm BUNDLE;
#             mkfs.ext4 -q -d BUNDLE/rootfs IMG SIZE, SIZE = the tree's
#             size + 25% + 64 MiB
# After one untimed warm-up of each, prints the medians and their ratio
# (msb / baseline; the target is 0.5 or less) and the baseline's steps.
# --baseline-only runs the baseline alone. It starts its own registry
# (tests/registry/registry.sh when a token server is built for it, else
# docker-registry), and leaves no process or file behind.
#
# Environment: BENCH_RUNS (rounds, default 5), BENCH_TIMEOUT (seconds per
# step, default 600), BUILD_DIR (default build), TOKEN_SERVER (for
# registry.sh; default BUILD_DIR/tests/registry/token_server).

set -euo pipefail
shopt -s inherit_errexit

prog=${0##*/}
srcroot=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$srcroot/build}
runs=${BENCH_RUNS:-5}
limit=${BENCH_TIMEOUT:-600}
token_server=${TOKEN_SERVER:-$build/tests/registry/token_server}

die() {
	printf '%s: %s\n' "$prog" "$*" >&2
	exit 1
}
say() {
	printf '%s: %s\n' "$prog" "$*" >&2
}

baseline_only=
case ${1:-} in
'') ;;
--baseline-only) baseline_only=1 ;;
-h | --help)
	sed -n '3,25s/^# \{0,1\}//p' "$0"
	exit 0
	;;
*) die "usage: $prog [--baseline-only]" ;;
esac
[ $# -le 1 ] || die "usage: $prog [--baseline-only]"
case $runs in '' | *[!0-9]* | 0) die "BENCH_RUNS must be a positive number" ;; esac
case $limit in '' | *[!0-9]* | 0) die "BENCH_TIMEOUT must be a positive number" ;; esac

for tool in skopeo umoci mkfs.ext4 docker-registry python3 du timeout; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool not found: run ./setup.sh"
done
msb=$build/msb
if [ -z "$baseline_only" ]; then
	[ -x "$msb" ] ||
		die "$msb not found: build the project first (meson setup build && ninja -C build), or run $prog --baseline-only"
	"$msb" pull --help >/dev/null 2>&1 ||
		die "\`$msb pull\` is not available (\`$msb pull --help\` failed): build a tree that has it, or run $prog --baseline-only"
fi
# As root, umoci restores owners and devices as msb must; without root it
# needs --rootless (and mkfs.ext4 -d then records the wrong owners).
rootless=()
if [ "$(id -u)" -ne 0 ]; then
	rootless=(--rootless)
	say "not root: the baseline runs umoci unpack --rootless"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/msb-bench-pull.XXXXXX")
reg_pid=
reg_dir=
cleanup() {
	if [ -n "$reg_dir" ]; then
		"$srcroot/tests/registry/registry.sh" stop "$reg_dir" || true
	fi
	if [ -n "$reg_pid" ] && kill -0 "$reg_pid" 2>/dev/null; then
		kill -TERM "$reg_pid" 2>/dev/null || true
		wait "$reg_pid" 2>/dev/null || true
	fi
	# umoci's bundles can hold read-only directories.
	chmod -R u+rwx "$tmp" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# The image, as an OCI layout (built once and cached by build.sh).
"$srcroot/tests/images/build.sh" "$tmp/images" debian ||
	die "cannot build the debian test image (tests/images/build.sh)"
# shellcheck source=/dev/null
. "$tmp/images/images.env"

# A registry on 127.0.0.1.
if [ -x "$srcroot/tests/registry/registry.sh" ] && [ -x "$token_server" ]; then
	reg_dir=$tmp/registry
	"$srcroot/tests/registry/registry.sh" start "$reg_dir" "$token_server" ||
		die "tests/registry/registry.sh could not start the registries"
	# shellcheck source=/dev/null
	. "$reg_dir/env"
	host=$REG_NOAUTH
else
	mkdir -p "$tmp/registry/data"
	cat >"$tmp/registry/config.yml" <<-EOF
		version: 0.1
		log:
		  level: info
		storage:
		  filesystem:
		    rootdirectory: $tmp/registry/data
		http:
		  addr: 127.0.0.1:0
	EOF
	docker-registry serve "$tmp/registry/config.yml" </dev/null \
		>"$tmp/registry/log" 2>&1 &
	reg_pid=$!
	host=
	for _ in $(seq 1 200); do
		host=$(grep -o 'listening on 127.0.0.1:[0-9]*' \
			"$tmp/registry/log" | head -n 1) && break
		kill -0 "$reg_pid" 2>/dev/null ||
			die "docker-registry exited: $(tail -n 3 "$tmp/registry/log")"
		sleep 0.05
	done
	[ -n "$host" ] || die "docker-registry did not start: $(tail -n 3 "$tmp/registry/log")"
	host=${host#listening on }
fi
"$srcroot/tests/images/push.sh" "$tmp/images" "$host" debian:bookworm >/dev/null ||
	die "cannot push debian:bookworm to $host"
ref=$host/debian:bookworm

now_ns() {
	date +%s%N
}

# step NAME CMD... - run CMD under the time limit; its output to a log
step() {
	local what=$1 rc=0
	shift
	timeout -k 5 "$limit" "$@" </dev/null >"$tmp/step.log" 2>&1 || rc=$?
	{ [ "$rc" -ne 124 ] && [ "$rc" -ne 137 ]; } ||
		die "$what did not end within ${limit}s"
	[ "$rc" -eq 0 ] || die "$what failed ($rc): $(tail -n 5 "$tmp/step.log")"
}

# msb_once - one `msb pull` into a fresh MSB_HOME; prints its time in ns
msb_once() {
	local home start end
	home=$(mktemp -d "$tmp/msb-home.XXXXXX")
	start=$(now_ns)
	step "msb pull $ref" env MSB_HOME="$home" "$msb" pull -q "$ref"
	end=$(now_ns)
	grep -qx "$IMG_DEBIAN_DIGEST" "$tmp/step.log" ||
		say "warning: msb pull printed '$(head -c 100 "$tmp/step.log")', not $IMG_DEBIAN_DIGEST"
	chmod -R u+rwx "$home" 2>/dev/null || true
	rm -rf "$home"
	echo $((end - start))
}

# baseline_once - skopeo copy, umoci unpack, mkfs.ext4 -d in a fresh dir;
# prints the total and each step's time in ns
baseline_once() {
	local d t0 t1 t2 t3 kib
	d=$(mktemp -d "$tmp/baseline.XXXXXX")
	t0=$(now_ns)
	step "skopeo copy" skopeo --insecure-policy copy --quiet \
		--src-tls-verify=false "docker://$ref" "oci:$d/oci:bookworm"
	t1=$(now_ns)
	step "umoci unpack" umoci unpack "${rootless[@]}" \
		--image "$d/oci:bookworm" "$d/bundle"
	t2=$(now_ns)
	kib=$(du -sk "$d/bundle/rootfs" | cut -f1)
	kib=$((kib + kib / 4 + 65536))
	step "mkfs.ext4 -d" mkfs.ext4 -q -d "$d/bundle/rootfs" "$d/root.img" \
		"${kib}k"
	t3=$(now_ns)
	chmod -R u+rwx "$d" 2>/dev/null || true
	rm -rf "$d"
	echo "$((t3 - t0)) $((t1 - t0)) $((t2 - t1)) $((t3 - t2))"
}

# median COLUMN - of the ns values in that column of stdin, in ns (%.0f:
# mawk's %d stops at 2^31 - 1 ns, 2.15 s)
median() {
	awk -v c="$1" '{ print $c }' | sort -n | awk '{ v[NR] = $1 }
		END { printf "%.0f\n", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
secs() {
	awk -v ns="$1" 'BEGIN { printf "%.2f", ns / 1e9 }'
}

say "$runs rounds; $ref ($IMG_DEBIAN_DIGEST)"
[ -n "$baseline_only" ] || msb_once >/dev/null
baseline_once >/dev/null
: >"$tmp/msb.ns"
: >"$tmp/baseline.ns"
for i in $(seq 1 "$runs"); do
	line="round $i/$runs:"
	if [ -z "$baseline_only" ] && [ $((i % 2)) -eq 1 ]; then
		t=$(msb_once)
		echo "$t" >>"$tmp/msb.ns"
		line="$line msb $(secs "$t") s,"
	fi
	b=$(baseline_once)
	echo "$b" >>"$tmp/baseline.ns"
	line="$line baseline $(secs "${b%% *}") s"
	if [ -z "$baseline_only" ] && [ $((i % 2)) -eq 0 ]; then
		t=$(msb_once)
		echo "$t" >>"$tmp/msb.ns"
		line="$line, msb $(secs "$t") s"
	fi
	say "$line"
done

base=$(median 1 <"$tmp/baseline.ns")
steps="skopeo $(secs "$(median 2 <"$tmp/baseline.ns")") s, umoci $(secs "$(median 3 <"$tmp/baseline.ns")") s, mkfs $(secs "$(median 4 <"$tmp/baseline.ns")") s"
if [ -n "$baseline_only" ]; then
	echo "skopeo+umoci+mkfs: median $(secs "$base") s ($steps)"
	exit 0
fi
msbm=$(median 1 <"$tmp/msb.ns")
summary=$(awk -v a="$msbm" -v b="$base" 'BEGIN {
	if (a <= b) printf "ratio %.2f (%.1fx faster)", a / b, b / a
	else printf "ratio %.2f (%.1fx slower)", a / b, a / b }')
echo "msb pull: median $(secs "$msbm") s; skopeo+umoci+mkfs: median $(secs "$base") s ($steps); $summary"
