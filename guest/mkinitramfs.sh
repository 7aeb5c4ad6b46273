#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# mkinitramfs.sh - build the guest initramfs: init binary + kernel modules
#
# Usage: guest/mkinitramfs.sh AGENT KERNEL_DIR OUT
#
# AGENT is a static executable that becomes /init (msb-agent; the boot
# benchmark passes its power-off init instead). KERNEL_DIR is the folder
# made by guest/fetch-kernel.sh. OUT is an uncompressed newc cpio archive
# (the kernel unpacks it faster than any compressed one under TCG) with:
#   /init                     AGENT, mode 0755
#   /lib/modules/VERSION/...  the modules below and their dependencies
#   /modules                  the absolute paths of those .ko files, one a
#                             line, in load order (dependencies and softdep
#                             "pre" modules first), no duplicates
#   /dev /proc /sys /mnt/root /tmp /run   empty folders
# Root is not needed: owners are written as 0:0 by cpio itself. There is
# no /dev/console here: the kernel's built-in initramfs, unpacked before
# this one, already has it, so init starts with the console as fds 0-2.
# The module list can be overridden with MSB_GUEST_MODULES (space-separated).

set -euo pipefail

prog=${0##*/}
# Only what every boot needs: each module costs boot time under TCG (the
# network, virtiofs and overlay modules come with the features using them).
modules_wanted=${MSB_GUEST_MODULES:-virtio_mmio virtio_blk virtio_console virtio_rng}
# Loaded by the agent only when a sandbox has volumes (/modules.volumes):
# they attach to one virtio-scsi controller.
modules_volumes="virtio_scsi sd_mod"
# ... and for host directories shared over virtio-fs (/modules.virtiofs).
modules_virtiofs="virtiofs"
# ... and for a network device (/modules.net): sandboxes without a network
# (--network none) have no device and do not load it.
modules_net="virtio_net"

die() {
	printf '%s: %s\n' "$prog" "$*" >&2
	exit 1
}

extras=0
if [ "${1:-}" = --extras ]; then
	extras=1
	shift
fi
[ $# -eq 3 ] || die "usage: $prog [--extras] AGENT KERNEL_DIR OUT"
agent=$1
kdir=$2
out=$3

for tool in cpio modprobe; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool not found"
done

{ [ -f "$agent" ] && [ -r "$agent" ]; } || die "cannot read $agent"
[ "$(od -An -tx1 -N 4 "$agent" | tr -d ' \n')" = 7f454c46 ] ||
	die "$agent is not an ELF executable"
if command -v readelf >/dev/null 2>&1 &&
	readelf -lW "$agent" 2>/dev/null | grep -q 'program interpreter'; then
	die "$agent is dynamically linked: the guest init must be a static executable"
fi

[ -s "$kdir/version" ] ||
	die "no kernel in $kdir: run guest/fetch-kernel.sh $kdir"
version=$(cat "$kdir/version")
kroot=$(cd "$kdir/root" 2>/dev/null && pwd) ||
	die "no $kdir/root: run guest/fetch-kernel.sh $kdir"
[ -s "$kroot/lib/modules/$version/modules.dep" ] ||
	die "no modules.dep for $version in $kdir: run guest/fetch-kernel.sh $kdir"

outdir=$(dirname "$out")
[ -d "$outdir" ] || die "no folder $outdir"
stage=$(mktemp -d "$outdir/.initramfs.XXXXXX") ||
	die "cannot create a folder in $outdir"
tmp=$out.tmp
cleanup() {
	rm -rf "$stage"
	rm -f "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# Drop a module's appended signature. The kernel then loads it as an
# unsigned module (allowed: signatures are not enforced) and skips the RSA
# verification, which costs ~10 ms a module under TCG. Layout at the end of
# a signed module: signature, 12-byte struct module_signature (its last 4
# bytes: the signature length, big-endian), "~Module signature appended~\n".
strip_signature() {
	local f=$1 size magic siglen
	size=$(stat -c %s "$f")
	[ "$size" -gt 40 ] || return 0
	magic=$(tail -c 28 "$f")
	[ "$magic" = "~Module signature appended~" ] || return 0
	siglen=$(od -An -tu1 -j $((size - 32)) -N 4 "$f" |
		awk '{ print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4 }')
	[ "$siglen" -gt 0 ] && [ $((siglen + 40)) -lt "$size" ] ||
		die "bad module signature trailer in $f"
	truncate -s $((size - 40 - siglen)) "$f"
}

tree=$stage/tree
mkdir -p "$tree"/{dev,proc,sys,mnt/root,tmp,run,"lib/modules/$version"}
chmod 1777 "$tree/tmp"
cp "$agent" "$tree/init"
chmod 0755 "$tree/init"

# Resolve every module to insmod lines in load order. -C /dev/null: read
# no host modprobe.d (blacklists, install commands, options); the modules'
# own softdeps come from modules.softdep and are still applied.
# add_modules LIST MODULE...: append to LIST (and copy into the tree) what
# the modules need that no list has yet.
add_modules() {
	local list=$1
	shift
	: >"$list"
	for mod in "$@"; do
		lines=$(modprobe -C /dev/null -d "$kroot" -S "$version" \
			--show-depends "$mod" 2>"$stage/modprobe.err") ||
			die "modprobe --show-depends $mod: $(head -n 3 "$stage/modprobe.err")"
		while read -r verb path _; do
			case $verb in
			builtin) continue ;; # built into the kernel: nothing to load
			insmod) ;;
			*) die "modprobe --show-depends $mod printed: $verb $path" ;;
			esac
			case $path in
			"$kroot"/lib/modules/*) ;;
			*) die "module $path is outside $kroot" ;;
			esac
			rel=${path#"$kroot"}
			# Compressed modules (newer Debian kernels) are stored plain, so
			# that init can finit_module() them without decompression support.
			case $rel in
			*.ko.xz) cmd="xz -dc" rel=${rel%.xz} ;;
			*.ko.zst) cmd="zstd -dcq" rel=${rel%.zst} ;;
			*.ko.gz) cmd="gzip -dc" rel=${rel%.gz} ;;
			*.ko) cmd= ;;
			*) die "unexpected module file name $path" ;;
			esac
			grep -qxF "$rel" "$list" && continue
			mkdir -p "$tree$(dirname "$rel")"
			if [ -n "$cmd" ]; then
				$cmd <"$path" >"$tree$rel" || die "cannot decompress $path"
			else
				cp "$path" "$tree$rel" || die "cannot copy $path"
			fi
			strip_signature "$tree$rel"
			chmod 0644 "$tree$rel"
			printf '%s\n' "$rel" >>"$list"
		done <<<"$lines"
	done
}
add_modules "$stage/modules" $modules_wanted
cp "$stage/modules" "$tree/modules"
chmod 0644 "$tree/modules"

# make_cpio TREE OUT: a deterministic archive (sorted names, fixed times,
# owner root).
make_cpio() {
	local epoch=${SOURCE_DATE_EPOCH:-0}
	find "$1" -exec touch -h -d "@$epoch" {} +
	(cd "$1" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort |
		cpio -o -H newc -R 0:0 --reproducible --quiet) >"$2.tmp" ||
		die "cpio failed"
	mv -f "$2.tmp" "$2"
}

# With --extras: the drivers only some sandboxes need, each in an archive
# of its own next to OUT (OUT-volumes.cpio...), which the supervisor
# appends to the initramfs of those sandboxes only: the kernel unpacks
# concatenated archives, and other boots do not pay for them.
if [ "$extras" = 1 ]; then
	for extra in volumes virtiofs net; do
		mods=modules_$extra
		xtree=$stage/tree-$extra
		mkdir -p "$xtree"
		tree=$xtree
		add_modules "$stage/modules.$extra" ${!mods}
		cp "$stage/modules.$extra" "$xtree/modules.$extra"
		chmod 0644 "$xtree/modules.$extra"
		make_cpio "$xtree" "${out%.cpio}-$extra.cpio"
	done
	tree=$stage/tree
fi

make_cpio "$tree" "$out"
