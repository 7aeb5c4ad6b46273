#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# mkrootfs.sh - build the default guest root filesystem (busybox on ext4)
#
# Usage: guest/mkrootfs.sh OUT [SIZE_MIB]
#
# OUT becomes a sparse, read-only ext4 image (label msb-root, SIZE_MIB
# MiB, default 256) holding Debian's static busybox with a symlink per
# applet, a minimal /etc and the usual empty folders. Root is not needed:
# mkfs.ext4 -d records the builder's uid/gid, so every inode is then set
# to 0:0 with debugfs. Timestamps come from SOURCE_DATE_EPOCH (default: the
# busybox binary's mtime) and the UUID from the inputs, so the same busybox
# gives the same image.
#
# BUSYBOX (environment) names the busybox binary; default /bin/busybox.

set -euo pipefail

prog=${0##*/}

die() {
	printf '%s: %s\n' "$prog" "$*" >&2
	exit 1
}

layout=
if [ "${1:-}" = --layout ]; then
	# OCI image layout of the same tree: the built-in default image.
	[ $# -eq 2 ] || die "usage: $prog --layout OUTDIR"
	layout=1
	shift
fi
{ [ $# -ge 1 ] && [ $# -le 2 ]; } || die "usage: $prog OUT [SIZE_MIB] | --layout OUTDIR"
out=$1
size_mib=${2:-256}
busybox=${BUSYBOX:-/bin/busybox}
case $size_mib in
'' | *[!0-9]*) die "SIZE_MIB must be a number of MiB, not '$size_mib'" ;;
esac
[ "$size_mib" -ge 8 ] || die "SIZE_MIB must be at least 8"

export PATH="$PATH:/sbin:/usr/sbin"
for tool in mkfs.ext4 debugfs e2fsck sha256sum; do
	command -v "$tool" >/dev/null 2>&1 ||
		die "$tool not found (install e2fsprogs / coreutils)"
done
[ -x "$busybox" ] ||
	die "$busybox not found: install busybox-static (or set BUSYBOX)"
if command -v readelf >/dev/null 2>&1 &&
	readelf -lW "$busybox" 2>/dev/null | grep -q 'program interpreter'; then
	die "$busybox is dynamically linked: install busybox-static"
fi

outdir=$(dirname "$out")
[ -d "$outdir" ] || die "no folder $outdir"
stage=$(mktemp -d "$outdir/.rootfs.XXXXXX") ||
	die "cannot create a folder in $outdir"
tmp=$out.tmp
cleanup() {
	rm -rf "$stage" "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

epoch=${SOURCE_DATE_EPOCH:-$(stat -c %Y "$busybox")}
case $epoch in
'' | *[!0-9]*) die "SOURCE_DATE_EPOCH must be a number of seconds" ;;
esac
bbversion=$("$busybox" 2>/dev/null | head -n 1 | awk '{ print $2 }') || true
bbversion=${bbversion#v}

tree=$stage/tree
mkdir -p "$tree"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,run,root,mnt,tmp,var/tmp}
chmod 1777 "$tree/tmp" "$tree/var/tmp"
chmod 0700 "$tree/root"
cp "$busybox" "$tree/bin/busybox"
chmod 0755 "$tree/bin/busybox"

# One symlink per applet, at the path busybox itself reports
# (bin/sh, usr/bin/env, sbin/init...). /linuxrc, the initrd-era name for
# init, is left out.
applets=$("$busybox" --list-full) || die "$busybox --list-full failed"
[ -n "$applets" ] || die "$busybox lists no applets"
while read -r path; do
	case $path in
	'' | linuxrc | bin/busybox) continue ;;
	/* | *..* | *[!A-Za-z0-9_./[-]*) die "odd applet path '$path'" ;;
	esac
	mkdir -p "$tree/$(dirname "$path")"
	[ -e "$tree/$path" ] || [ -L "$tree/$path" ] ||
		ln -s /bin/busybox "$tree/$path"
done <<<"$applets"

# Debian's static busybox has no nohup applet; scripts expect one.
if [ ! -e "$tree/usr/bin/nohup" ] && [ ! -L "$tree/usr/bin/nohup" ]; then
	mkdir -p "$tree/usr/bin"
	cat >"$tree/usr/bin/nohup" <<'EOF'
#!/bin/sh
# nohup CMD [ARG...]: run CMD immune to hangups (busybox has no applet).
if [ $# -eq 0 ]; then
	echo "Usage: nohup CMD [ARG...]" >&2
	exit 125
fi
trap '' HUP
if [ -t 1 ]; then
	exec >>nohup.out || exec >>"$HOME/nohup.out" || exit 125
	echo "nohup: appending output to nohup.out" >&2
fi
[ -t 2 ] && exec 2>&1
exec "$@"
EOF
	chmod 0755 "$tree/usr/bin/nohup"
fi

cat >"$tree/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$tree/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
echo microsandbox >"$tree/etc/hostname"
cat >"$tree/etc/hosts" <<'EOF'
127.0.0.1	localhost
::1		localhost ip6-localhost ip6-loopback
EOF
: >"$tree/etc/resolv.conf"
cat >"$tree/etc/os-release" <<EOF
NAME="microsandbox busybox"
PRETTY_NAME="microsandbox busybox${bbversion:+ $bbversion}"
ID=microsandbox-busybox
VERSION_ID="${bbversion:-unknown}"
EOF
ln -s /proc/self/mounts "$tree/etc/mtab"
chmod 0644 "$tree"/etc/{passwd,group,hostname,hosts,resolv.conf,os-release}

# Every path in the image, for the owner fix below. debugfs splits its
# arguments on blanks and quotes: none of our names has any.
paths=$(cd "$tree" && find . -mindepth 1 -printf '/%P\n' | LC_ALL=C sort)
if printf '%s\n' "$paths" | grep -q '[[:blank:]"'\''\\]'; then
	die "a path in the tree has blanks or quotes"
fi
find "$tree" -exec touch -h -d "@$epoch" {} +

# Same inputs, same UUID (so the same image bytes).
if [ -n "$layout" ]; then
	# One gzip layer (owners 0:0, sorted, fixed times), config, manifest,
	# index: a deterministic OCI layout written to $out.tmp, then renamed.
	rm -rf "$tmp"
	mkdir -p "$tmp/blobs/sha256"
	(cd "$tree" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort |
		tar --create --no-recursion --files-from=- --numeric-owner \
			--owner=0 --group=0 --mtime="@$epoch" --format=pax \
			--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime) \
		>"$stage/layer.tar" || die "tar failed"
	diff_id=$(sha256sum "$stage/layer.tar" | cut -d' ' -f1)
	gzip -n -9 <"$stage/layer.tar" >"$stage/layer.tar.gz" || die "gzip failed"
	layer=$(sha256sum "$stage/layer.tar.gz" | cut -d' ' -f1)
	layer_size=$(stat -c %s "$stage/layer.tar.gz")
	mv "$stage/layer.tar.gz" "$tmp/blobs/sha256/$layer"
	created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)
	printf '{"architecture":"amd64","os":"linux","created":"%s","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
		"$created" "$diff_id" >"$stage/config.json"
	config=$(sha256sum "$stage/config.json" | cut -d' ' -f1)
	config_size=$(stat -c %s "$stage/config.json")
	mv "$stage/config.json" "$tmp/blobs/sha256/$config"
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
		"$config" "$config_size" "$layer" "$layer_size" >"$stage/manifest.json"
	manifest=$(sha256sum "$stage/manifest.json" | cut -d' ' -f1)
	manifest_size=$(stat -c %s "$stage/manifest.json")
	mv "$stage/manifest.json" "$tmp/blobs/sha256/$manifest"
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"latest"}}]}' \
		"$manifest" "$manifest_size" >"$tmp/index.json"
	printf '{"imageLayoutVersion":"1.0.0"}' >"$tmp/oci-layout"
	rm -rf "$out"
	mv "$tmp" "$out"
	exit 0
fi

uuid=$( {
	sha256sum "$busybox" | cut -d' ' -f1
	echo "$size_mib $epoch"
	printf '%s\n' "$paths"
} | sha256sum | cut -c1-32 |
	sed -E 's/^(.{8})(.{4})(.{4})(.{4})(.{12})$/\1-\2-\3-\4-\5/')

rm -f "$tmp"
truncate -s "${size_mib}M" "$tmp" || die "cannot create $tmp"
E2FSPROGS_FAKE_TIME=$epoch mkfs.ext4 -q -F -d "$tree" -L msb-root \
	-U "$uuid" -E "hash_seed=$uuid" -T default "$tmp" ||
	die "mkfs.ext4 $tmp failed"

# Owners 0:0 and fixed times on every inode, in one debugfs run.
cmds=$stage/debugfs.cmds
{
	for p in / /lost+found $paths; do
		for field in uid gid; do
			printf 'set_inode_field %s %s 0\n' "$p" "$field"
		done
		for field in atime mtime ctime crtime; do
			printf 'set_inode_field %s %s @%s\n' "$p" "$field" "$epoch"
		done
	done
} >"$cmds"
log=$stage/debugfs.log
E2FSPROGS_FAKE_TIME=$epoch debugfs -w -f "$cmds" "$tmp" >"$log" 2>&1 ||
	die "debugfs -w $tmp failed: $(tail -n 3 "$log")"
# debugfs exits 0 even when a command fails: look for its complaints
# (anything but its banner and the echo of each command).
errors=$(grep -Ev '^debugfs( [0-9]|: )' "$log" | head -n 3) || true
[ -z "$errors" ] || die "debugfs -w $tmp: $errors"
e2fsck_out=$(e2fsck -fn "$tmp" 2>&1) || die "e2fsck $tmp: $e2fsck_out"

chmod 0444 "$tmp"
mv -f "$tmp" "$out"
