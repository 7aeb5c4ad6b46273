#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# netguest_rootfs.sh DIR: make sure DIR is a Debian bookworm root with the
# network clients test_net_guest.sh, test_tls.sh, bench/net.sh and
# bench/tls.sh run in the guest: curl, python3 (the whole standard
# library: urllib, http.client, ssl), git, openssl (s_client) with
# Debian's ca-certificates bundle, and busybox (nc, ping) as
# /usr/local/bin/busybox; and DIR.ext4, the same tree as an ext4
# disk image (msb boots it under an overlay, and its agent writes /etc
# there, which it leaves alone in a shared directory). Built once with
# debootstrap from the machine's bookworm mirror (root only, ~2 min), then
# reused while its key (suite, packages, mirror, architecture) is the
# same. Prints DIR.ext4.
set -eu
dir=$1
include=curl,python3,git,openssl,ca-certificates
mirror=${DEBIAN_MIRROR:-$(awk '$1 == "URIs:" { u = $2 } $1 == "Suites:" &&
	/ bookworm( |$)/ { print u; exit }' /etc/apt/sources.list.d/*.sources 2>/dev/null)}
mirror=${mirror:-http://deb.debian.org/debian}
key="bookworm minbase $include $mirror $(dpkg --print-architecture) busybox ext4"
if [ -d "$dir" ] && [ "$(cat "$dir.key" 2>/dev/null)" = "$key" ]; then
	echo "$dir.ext4"
	exit 0
fi
[ "$(id -u)" = 0 ] || {
	echo "netguest_rootfs: debootstrap needs root" >&2
	exit 1
}
mkdir -p "$(dirname "$dir")"
exec 9>"$dir.lock"
flock 9
if [ -d "$dir" ] && [ "$(cat "$dir.key" 2>/dev/null)" = "$key" ]; then
	echo "$dir.ext4"
	exit 0
fi
rm -rf "$dir.tmp" "$dir.key" "$dir.ext4"
debootstrap --variant=minbase --include="$include" bookworm "$dir.tmp" \
	"$mirror" >"$dir.log" 2>&1 || {
	echo "netguest_rootfs: debootstrap failed: $(tail -n 3 "$dir.log")" >&2
	exit 1
}
rm -rf "$dir.tmp"/var/cache/apt/archives/*.deb "$dir.tmp"/var/cache/apt/*.bin \
	"$dir.tmp"/var/lib/apt/lists/*
cp /bin/busybox "$dir.tmp/usr/local/bin/busybox"
mkfs.ext4 -q -F -L netguest -d "$dir.tmp" "$dir.ext4.tmp" 768M >>"$dir.log" 2>&1 || {
	echo "netguest_rootfs: mkfs.ext4 failed: $(tail -n 3 "$dir.log")" >&2
	exit 1
}
rm -rf "$dir"
mv "$dir.tmp" "$dir"
mv "$dir.ext4.tmp" "$dir.ext4"
echo "$key" >"$dir.key"
echo "$dir.ext4"
