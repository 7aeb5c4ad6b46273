#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# unpack-check.sh - unpack the test images with umoci, as a reference
#
# Usage: tests/images/unpack-check.sh OUTDIR [DEST]
#
# For each image in OUTDIR (made by build.sh) that a converter must accept,
# `umoci unpack --image OUTDIR/NAME:TAG DEST/NAME-TAG` makes an OCI runtime
# bundle; its reference tree is DEST/NAME-TAG/rootfs, e.g.
# DEST/layers-latest/rootfs, DEST/multi-amd64/rootfs, DEST/debian-bookworm/
# rootfs. DEST defaults to OUTDIR/unpacked; bundles there are replaced.
# The project's check compares our ext4 with these trees. The escape images
# are skipped (they are meant to be refused); multi is unpacked through its
# amd64 tag (umoci cannot pick a platform from an index) and zstd through
# its gzip twin zstd:gzip, same tar and config (umoci 0.4.7 rejects zstd
# layers: "blob is not correct mediatype"), so DEST/zstd-gzip/rootfs is the
# reference for zstd:latest.
#
# Then it checks that the trees are what the images say: the layers tree
# against imgtool.py check-layers (whiteouts, opaque dirs, hardlinks,
# devices, xattrs, owners...), and a marker file or binary in the others.
#
# As root, umoci restores owners, device nodes and security.* xattrs. Not
# as root, this runs `umoci unpack --rootless`: every file is the caller's,
# device nodes are skipped and security.* xattrs dropped, so those checks
# are skipped too and the trees are not a reference for owners or devices.

set -euo pipefail
shopt -s inherit_errexit

prog=${0##*/}
here=$(cd "$(dirname "$0")" && pwd)

die() {
	printf '%s: %s\n' "$prog" "$*" >&2
	exit 1
}

case ${1:-} in
'' | -h | --help) die "usage: $prog OUTDIR [DEST]" ;;
esac
[ $# -le 2 ] || die "usage: $prog OUTDIR [DEST]"
out=$1
dest=${2:-$out/unpacked}
[ -f "$out/images.env" ] || die "no $out/images.env: run tests/images/build.sh $out first"
command -v umoci >/dev/null 2>&1 || die "umoci not found: run ./setup.sh"

rootless=()
check_flags=()
if [ "$(id -u)" -ne 0 ]; then
	rootless=(--rootless)
	check_flags=(--rootless)
	echo "$prog: not root: umoci unpack --rootless (owners, devices and security.* xattrs are not checked)" >&2
fi

mkdir -p "$dest"
failed=0
current=
cleanup() {
	# A bundle left half-unpacked by a failure is not a reference.
	if [ -n "$current" ]; then
		chmod -R u+rwx "$current" 2>/dev/null || true
		rm -rf "$current"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# check NAME-TAG TEST... - run TEST in the bundle's rootfs, report
check() {
	local what=$1
	shift
	if ! (cd "$dest/$what/rootfs" && "$@"); then
		echo "$prog: $what: check failed: $*" >&2
		failed=1
	fi
}

for ref in busybox:latest layers:latest multi:amd64 zstd:gzip debian:bookworm; do
	name=${ref%%:*}
	tag=${ref#*:}
	if [ ! -f "$out/$name/index.json" ]; then
		echo "$prog: $ref: not built, skipped" >&2
		continue
	fi
	bundle=$dest/$name-$tag
	if [ -e "$bundle" ]; then
		chmod -R u+rwx "$bundle" 2>/dev/null || true
		rm -rf "$bundle"
	fi
	current=$bundle
	log=$(mktemp)
	if ! umoci unpack "${rootless[@]}" --image "$out/$name:$tag" \
		"$bundle" >"$log" 2>&1; then
		echo "$prog: umoci unpack $ref failed: $(tail -n 5 "$log")" >&2
		rm -f "$log"
		exit 1
	fi
	rm -f "$log"
	current=
	case $name in
	busybox)
		check "$name-$tag" test -x bin/busybox
		check "$name-$tag" test "$(readlink "$bundle/rootfs/bin/sh")" = /bin/busybox
		;;
	layers)
		check "$name-$tag" python3 "$here/imgtool.py" check-layers . \
			"${check_flags[@]}"
		;;
	multi)
		check "$name-$tag" grep -qx amd64 platform
		check "$name-$tag" test -x bin/busybox
		;;
	zstd)
		check "$name-$tag" grep -qx zstd compression
		check "$name-$tag" test -x bin/busybox
		;;
	debian)
		check "$name-$tag" test -x usr/bin/python3
		check "$name-$tag" grep -q 'VERSION_CODENAME=bookworm' etc/os-release
		;;
	esac
	echo "$ref -> $bundle/rootfs"
done
[ "$failed" -eq 0 ] || die "some unpacked trees are not what the images hold (see above)"
