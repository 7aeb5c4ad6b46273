#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# fetch-kernel.sh - download Debian's cloud kernel and unpack it for the guest
#
# Usage: guest/fetch-kernel.sh OUTDIR
#
# Network step, run by ./setup.sh (never by the build). Produces:
#   OUTDIR/root/      the unpacked linux-image-VERSION package, with
#                     lib/modules/VERSION/modules.dep made by depmod
#   OUTDIR/vmlinux    the uncompressed kernel ELF (booted PVH by QEMU)
#   OUTDIR/version    VERSION (e.g. 6.1.0-56-cloud-amd64), written last
#   OUTDIR/package    the Debian package name and version it came from
# Nothing is installed on the host; root is not needed. Running it again
# when OUTDIR already holds the apt candidate does nothing.

set -euo pipefail

prog=${0##*/}
here=$(cd "$(dirname "$0")" && pwd)
meta=linux-image-cloud-amd64

die() {
	printf '%s: %s\n' "$prog" "$*" >&2
	exit 1
}

[ $# -eq 1 ] || die "usage: $prog OUTDIR"
out=$1

for tool in apt-get apt-cache dpkg-deb depmod; do
	command -v "$tool" >/dev/null 2>&1 ||
		die "$tool not found: this script needs Debian's apt, dpkg and kmod"
done

# versioned_dep TEXT - the linux-image-<version>-cloud-amd64 name in a
# Depends line or `apt-cache depends` output
versioned_dep() {
	grep -oE 'linux-image-[0-9][^ ,|()]*-cloud-amd64' | grep -v -- '-dbg$' |
		head -n 1 || true
}

# Quick check without network: what would apt download now?
depends=$(apt-cache show --no-all-versions "$meta" 2>/dev/null |
	sed -n 's/^Depends: //p' | head -n 1) || true
cand_pkg=$(printf '%s\n' "$depends" | versioned_dep)
[ -n "$cand_pkg" ] ||
	die "apt knows no $meta package: run apt-get update (needs the Debian main archive)"
cand_ver=${cand_pkg#linux-image-}
# The meta package pins the exact version: "pkg (= 6.1.192-2)".
cand_debver=$(printf '%s\n' "$depends" |
	sed -n "s/.*$cand_pkg (= \([^)]*\)).*/\1/p")
have_pkg=$(cat "$out/package" 2>/dev/null || true)

if [ -s "$out/vmlinux" ] && [ -s "$out/version" ] &&
	[ "$(cat "$out/version")" = "$cand_ver" ] &&
	[ -s "$out/root/lib/modules/$cand_ver/modules.dep" ] &&
	{ [ "$have_pkg" = "$cand_pkg $cand_debver" ] ||
		{ [ -z "$cand_debver" ] && [ "${have_pkg%% *}" = "$cand_pkg" ]; }; }; then
	echo "$prog: kernel $cand_ver already in $out"
	exit 0
fi

mkdir -p "$out" || die "cannot create $out"
out=$(cd "$out" && pwd)
tmp=$(mktemp -d "$out/.fetch.XXXXXX") || die "cannot create a folder in $out"
cleanup() {
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
# apt-get download as root drops privileges to _apt, which must be able to
# write where it downloads (otherwise it warns and works unsandboxed).
dl=$tmp/dl
mkdir "$dl"
if [ "$(id -u)" -eq 0 ] && id _apt >/dev/null 2>&1; then
	chmod 0755 "$tmp"
	chown _apt "$dl" || true
fi

echo "$prog: downloading $meta"
(cd "$dl" && apt-get download -q "$meta") >&2 ||
	die "apt-get download $meta failed (network? apt-get update?)"
meta_deb=$(find "$dl" -maxdepth 1 -name "${meta}_*.deb" | head -n 1)
[ -n "$meta_deb" ] || die "apt-get download $meta produced no .deb"

pkg=$(dpkg-deb -f "$meta_deb" Depends | versioned_dep) || true
[ -n "$pkg" ] || die "$meta_deb depends on no linux-image-*-cloud-amd64 package"
version=${pkg#linux-image-}

echo "$prog: downloading $pkg"
(cd "$dl" && apt-get download -q "$pkg") >&2 ||
	die "apt-get download $pkg failed"
deb=$(find "$dl" -maxdepth 1 -name "${pkg}_*.deb" | head -n 1)
[ -n "$deb" ] || die "apt-get download $pkg produced no .deb"
debver=$(dpkg-deb -f "$deb" Version)

echo "$prog: unpacking $pkg $debver"
dpkg-deb -x "$deb" "$tmp/root" || die "dpkg-deb -x $deb failed"
bzimage=$tmp/root/boot/vmlinuz-$version
[ -f "$bzimage" ] || die "$deb has no boot/vmlinuz-$version"
[ -d "$tmp/root/lib/modules/$version" ] ||
	die "$deb has no lib/modules/$version"

# The package's postinst makes modules.dep; we never run it.
depmod -b "$tmp/root" "$version" || die "depmod -b $tmp/root $version failed"
[ -s "$tmp/root/lib/modules/$version/modules.dep" ] ||
	die "depmod made no modules.dep"

"$here/extract-vmlinux.sh" "$bzimage" "$tmp/vmlinux" ||
	die "cannot extract vmlinux from $bzimage"
# QEMU boots an ELF kernel only through its PVH entry point, the Xen ELF
# note of type 0x12 (XEN_ELFNOTE_PHYS32_ENTRY).
if command -v readelf >/dev/null 2>&1; then
	notes=$(readelf -nW "$tmp/vmlinux" 2>&1) || die "readelf: $notes"
	grep -q 'Xen.*(0x00000012)' <<<"$notes" ||
		die "$pkg's vmlinux has no PVH entry note: QEMU cannot boot it"
fi

# Replace the old contents; version goes last so that an interrupted run
# is never mistaken for a complete one.
rm -f "$out/version"
rm -rf "$out/root"
mv "$tmp/root" "$out/root"
mv -f "$tmp/vmlinux" "$out/vmlinux"
printf '%s %s\n' "$pkg" "$debver" >"$tmp/package"
mv -f "$tmp/package" "$out/package"
printf '%s\n' "$version" >"$tmp/version"
mv -f "$tmp/version" "$out/version"

echo "$prog: kernel $version ready in $out"
