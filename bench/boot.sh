#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# boot.sh - `msb run -- true`, cold and from a warm template, against a
# bare QEMU boot of the same kernel
#
# Usage: bench/boot.sh [--bare-only]
#
# Each round times, one after the other, (a) `build/msb run -- true`
# booting cold (MSB_NO_TEMPLATE=1), (b) the same restored from its warm
# template (docs/snapshots.md; the warm-up run saves it) and (c) a bare
# boot: QEMU with the project's machine options, the same vmlinux and an
# initramfs with the same modules as the real one but
# bench/poweroff-init.c as /init, which powers off at once. Alternating
# spreads the machine's noise over all three. Prints the medians and their
# ratios, after one untimed warm-up run of each.
#
# Environment: BENCH_RUNS (rounds, default 9), BENCH_TIMEOUT (seconds per
# run, default 60), BUILD_DIR (default build), KERNEL_DIR (default
# .cache/kernel), MSB_ACCEL (kvm|tcg; default kvm when /dev/kvm is usable
# and the CPU flags show vmx or svm),
# QEMU (default qemu-system-x86_64), CC (default cc).

set -euo pipefail

prog=${0##*/}
srcroot=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$srcroot/build}
kdir=${KERNEL_DIR:-$srcroot/.cache/kernel}
runs=${BENCH_RUNS:-9}
limit=${BENCH_TIMEOUT:-60}
qemu=${QEMU:-qemu-system-x86_64}
cc=${CC:-cc}
work=$srcroot/.cache/bench

die() {
	printf '%s: %s\n' "$prog" "$*" >&2
	exit 1
}

bare_only=
case ${1:-} in
'') ;;
--bare-only) bare_only=1 ;;
-h | --help)
	sed -n '3,22s/^# \{0,1\}//p' "$0"
	exit 0
	;;
*) die "usage: $prog [--bare-only]" ;;
esac
[ $# -le 1 ] || die "usage: $prog [--bare-only]"
case $runs in '' | *[!0-9]* | 0) die "BENCH_RUNS must be a positive number" ;; esac
case $limit in '' | *[!0-9]* | 0) die "BENCH_TIMEOUT must be a positive number" ;; esac

command -v "$qemu" >/dev/null 2>&1 || die "$qemu not found: install qemu-system-x86"
msb=$build/msb
if [ -z "$bare_only" ] && [ ! -x "$msb" ]; then
	die "$msb not found: build the project first (meson setup build && ninja -C build), or run $prog --bare-only"
fi

[ -s "$kdir/version" ] ||
	die "no guest kernel in $kdir: run ./setup.sh (it runs guest/fetch-kernel.sh)"
# The kernel msb boots is the build's copy; they are the same file.
vmlinux=$build/guest/vmlinux
[ -f "$vmlinux" ] || vmlinux=$kdir/vmlinux
[ -f "$vmlinux" ] || die "no $vmlinux: run ./setup.sh"

# The power-off init and its initramfs, rebuilt when their inputs change.
mkdir -p "$work"
init=$work/poweroff-init
initrd=$work/initramfs-poweroff.cpio
if [ ! -x "$init" ] || [ "$srcroot/bench/poweroff-init.c" -nt "$init" ]; then
	"$cc" -static -O2 -o "$init.tmp" "$srcroot/bench/poweroff-init.c" ||
		die "cannot build a static poweroff-init with $cc (static libc missing?)"
	mv -f "$init.tmp" "$init"
fi
if [ ! -f "$initrd" ] || [ "$init" -nt "$initrd" ] ||
	[ "$kdir/version" -nt "$initrd" ] ||
	[ "$srcroot/guest/mkinitramfs.sh" -nt "$initrd" ]; then
	"$srcroot/guest/mkinitramfs.sh" "$init" "$kdir" "$initrd" ||
		die "cannot build $initrd"
fi

# Acceleration: KVM when /dev/kvm is usable for a stock kernel. A /dev/kvm
# without vmx/svm in the CPU flags is a paravirtual KVM (e.g. kvm_pvm in a
# Firecracker host) on which a stock Debian kernel hangs at once: TCG then.
kvm_usable() {
	[ -r /dev/kvm ] && [ -w /dev/kvm ] &&
		grep -qwE 'vmx|svm' /proc/cpuinfo
}
accel=${MSB_ACCEL:-}
if [ -z "$accel" ]; then
	if kvm_usable; then accel=kvm; else accel=tcg; fi
fi
case $accel in
kvm) { [ -r /dev/kvm ] && [ -w /dev/kvm ]; } ||
	die "/dev/kvm is not accessible: add yourself to the kvm group, or set MSB_ACCEL=tcg" ;;
tcg) ;;
*) die "MSB_ACCEL must be kvm or tcg, not '$accel'" ;;
esac

# Under TCG the guest must be told the TSC frequency (microvm has no timer
# to calibrate against); under KVM a wrong value would skew its clock.
cmdline="console=ttyS0 quiet"
if [ "$accel" = tcg ]; then
	khz=$(awk -F: '/^cpu MHz/ { printf "%d", $2 * 1000 + 0.5; exit }' \
		/proc/cpuinfo)
	{ [ -n "$khz" ] && [ "$khz" -gt 0 ]; } ||
		die "cannot read the host TSC frequency ('cpu MHz') from /proc/cpuinfo"
	cmdline="$cmdline tsc_early_khz=$khz"
fi
cmdline="$cmdline cryptomgr.notests mitigations=off panic=-1"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/msb-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP

now_ns() {
	date +%s%N
}

# bare_once - one bare boot; prints its wall time in ns
bare_once() {
	local log=$tmp/kernel.log start end rc=0
	rm -f "$log"
	start=$(now_ns)
	timeout -k 5 "$limit" "$qemu" -M microvm -accel "$accel" -m 512 -smp 1 \
		-nodefaults -no-user-config -display none -no-reboot \
		-global virtio-mmio.force-legacy=false \
		-serial chardev:con -chardev "file,id=con,path=$log" \
		-kernel "$vmlinux" -initrd "$initrd" -append "$cmdline" \
		</dev/null >"$tmp/qemu.out" 2>&1 || rc=$?
	end=$(now_ns)
	{ [ "$rc" -ne 124 ] && [ "$rc" -ne 137 ]; } ||
		die "bare boot did not end within ${limit}s (console: $(tail -n 3 "$log" 2>/dev/null))"
	[ "$rc" -eq 0 ] || die "$qemu failed ($rc): $(tail -n 3 "$tmp/qemu.out")"
	if grep -q 'Kernel panic' "$log" || ! grep -q 'reboot: Power down' "$log"; then
		die "bare boot did not power off cleanly: $(tail -n 5 "$log")"
	fi
	echo $((end - start))
}

# msb_once cold|template - one `msb run -- true`; prints its wall time in ns
msb_once() {
	local start end rc=0 no=
	[ "$1" = cold ] && no=1
	start=$(now_ns)
	MSB_NO_TEMPLATE=$no timeout -k 5 "$limit" "$msb" run -- true \
		</dev/null >"$tmp/msb.out" 2>&1 || rc=$?
	end=$(now_ns)
	{ [ "$rc" -ne 124 ] && [ "$rc" -ne 137 ]; } ||
		die "msb run -- true did not end within ${limit}s"
	[ "$rc" -eq 0 ] ||
		die "msb run -- true failed ($rc): $(tail -n 5 "$tmp/msb.out")"
	echo $((end - start))
}

# median - of the ns values on stdin, in ns
median() {
	sort -n | awk '{ v[NR] = $1 }
		END { printf "%.0f\n", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
secs() {
	awk -v ns="$1" 'BEGIN { printf "%.2f", ns / 1e9 }'
}

echo "$prog: $runs rounds, $accel, kernel $(cat "$kdir/version")" >&2
if [ -z "$bare_only" ]; then
	msb_once cold >/dev/null
	msb_once template >/dev/null # saves the template if there is none
fi
bare_once >/dev/null
: >"$tmp/cold.ns"
: >"$tmp/tmpl.ns"
: >"$tmp/bare.ns"
for i in $(seq 1 "$runs"); do
	line="round $i/$runs:"
	if [ -z "$bare_only" ]; then
		t=$(msb_once cold)
		echo "$t" >>"$tmp/cold.ns"
		line="$line cold $(secs "$t") s,"
		t=$(msb_once template)
		echo "$t" >>"$tmp/tmpl.ns"
		line="$line templated $(secs "$t") s,"
	fi
	t=$(bare_once)
	echo "$t" >>"$tmp/bare.ns"
	echo "$line bare $(secs "$t") s" >&2
done

bare=$(median <"$tmp/bare.ns")
if [ -n "$bare_only" ]; then
	echo "bare boot: median $(secs "$bare") s"
	exit 0
fi
cold=$(median <"$tmp/cold.ns")
tmpl=$(median <"$tmp/tmpl.ns")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "msb run -- true: cold median $(secs "$cold") s, templated median $(secs "$tmpl") s (templated/cold $(ratio "$tmpl" "$cold")); bare boot: median $(secs "$bare") s (cold/bare $(ratio "$cold" "$bare"), templated/bare $(ratio "$tmpl" "$bare"))"
