#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# build.sh - build the OCI test images as OCI image layouts
#
# Usage: tests/images/build.sh OUTDIR [IMAGE...]
#
# IMAGE is any of busybox layers multi zstd debian escape (default: all).
# Each image is its own OCI layout, OUTDIR/NAME, holding one or more tags
# (skopeo and umoci name them oci:OUTDIR/NAME:TAG):
#   busybox:latest    busybox-static rootfs; Cmd /bin/sh
#   layers:latest     busybox + 3 layers of tar edge cases (README.md);
#                     User 1000:1000, WorkingDir /work, Entrypoint + Cmd
#   layers:named      the same, with User "user" (from its /etc/passwd)
#   multi:latest      an image index: arm64 first, then amd64
#   multi:amd64, multi:arm64   the two manifests it lists
#   zstd:latest       busybox + /compression, one zstd layer
#   zstd:gzip         the same tar gzipped (umoci 0.4.7 cannot unpack zstd)
#   debian:bookworm   debootstrap minbase + python3-minimal; Cmd python3
#   escape:dotdot, escape:symlink, escape:symlink2, escape:hardlink
#                     malicious layers a converter must refuse
# and OUTDIR/images.env records IMG_<NAME>_REF and IMG_<NAME>_DIGEST for
# each tag, and IMG_PUSH_REFS, the tags push.sh pushes.
#
# Everything but debian is built without root, from tarballs written by
# imgtool.py and added with umoci, with fixed times and owners: the same
# inputs give the same digests. An image whose inputs (these scripts,
# umoci, zstd, busybox) have not changed is not rebuilt. debian needs root
# the first time: debootstrap's tree and the packed layout are cached in
# IMAGES_CACHE and reused until the recipe or mirror changes.
#
# Environment: BUSYBOX (default /bin/busybox), DEBIAN_MIRROR (default: the
# bookworm mirror in this machine's apt sources), IMAGES_CACHE (default
# .cache/images at the top of the tree).

set -euo pipefail
shopt -s inherit_errexit

prog=${0##*/}
here=$(cd "$(dirname "$0")" && pwd)
srcroot=$(cd "$here/../.." && pwd)
cache=${IMAGES_CACHE:-$srcroot/.cache/images}
busybox=${BUSYBOX:-/bin/busybox}
imgtool=$here/imgtool.py
# Every image's creation time: 2024-01-01 (imgtool.py's EPOCH).
created=2024-01-01T00:00:00Z
path_env=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
all_images="busybox layers multi zstd debian escape"

die() {
	printf '%s: %s\n' "$prog" "$*" >&2
	exit 1
}
say() {
	printf '%s: %s\n' "$prog" "$*" >&2
}

usage="usage: $prog OUTDIR [IMAGE...] (IMAGE: $all_images)"
case ${1:-} in
'') die "$usage" ;;
-h | --help)
	sed -n '3,33s/^# \{0,1\}//p' "$0"
	exit 0
	;;
esac
out=$1
shift
images=${*:-$all_images}
for name in $images; do
	case " $all_images " in
	*" $name "*) ;;
	*) die "unknown image '$name': $usage" ;;
	esac
done

for tool in umoci python3 zstd sha256sum flock; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool not found: run ./setup.sh"
done
[ -x "$busybox" ] || die "$busybox not found: install busybox-static or set BUSYBOX"

mkdir -p "$out" || die "cannot create $out"
out=$(cd "$out" && pwd)
mkdir -p "$out/.stamps"
exec 9>"$out/.lock"
flock -n 9 || die "another build.sh is writing $out"

work=$(mktemp -d "${TMPDIR:-/tmp}/msb-images.XXXXXX")
cache_tmp=
cleanup() {
	rm -rf "$work"
	# Half-built layouts of this run (OUTDIR is locked, so all are ours).
	rm -rf "$out"/.*.tmp ${cache_tmp:+"$cache_tmp"}
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# What every image depends on; an image is rebuilt when this (or, for
# debian, the cache key) changes.
common_key=$(
	{
		cat "$0" "$imgtool"
		umoci --version
		zstd --version
		python3 --version
		sha256sum <"$busybox"
	} | sha256sum | cut -d' ' -f1
)

# umoci_add LAYOUT:TAG TAR DESCRIPTION - append TAR as a gzip layer
umoci_add() {
	umoci raw add-layer --image "$1" --history.created "$created" \
		--history.created_by "tests/images/build.sh: $3" "$2"
}

# umoci_config LAYOUT:TAG ARGS... - set config fields, no history entry
umoci_config() {
	local image=$1
	shift
	umoci config --image "$image" --created "$created" --no-history "$@"
}

# new_layout DIR TAG - an empty layout with an empty image tagged TAG
new_layout() {
	rm -rf "$1"
	umoci init --layout "$1"
	umoci new --image "$1:$2"
}

busybox_tar() {
	[ -f "$work/busybox.tar" ] ||
		python3 "$imgtool" busybox-tar "$work/busybox.tar" "$busybox"
}

build_busybox() {
	local l=$1
	busybox_tar
	new_layout "$l" latest
	umoci_add "$l:latest" "$work/busybox.tar" "busybox rootfs"
	umoci_config "$l:latest" --config.env "$path_env" --config.cmd /bin/sh
}

build_layers() {
	local l=$1 i
	busybox_tar
	python3 "$imgtool" layers-tars "$work"
	new_layout "$l" latest
	umoci_add "$l:latest" "$work/busybox.tar" "busybox rootfs"
	for i in 1 2 3; do
		umoci_add "$l:latest" "$work/l$i.tar" "layers: layer $i"
	done
	# shellcheck disable=SC2016 # the Cmd is expanded by the image's shell
	umoci_config "$l:latest" --config.env "$path_env" \
		--config.env "GREETING=hello from layers" \
		--config.env "EQUALS=a=b" \
		--config.entrypoint /bin/sh --config.entrypoint -c \
		--config.cmd 'echo "$GREETING"; id -u; id -g; pwd' \
		--config.workingdir /work --config.user 1000:1000 \
		--config.label org.example.test=layers
	umoci_config "$l:latest" --tag named --config.user user
}

build_multi() {
	local l=$1
	busybox_tar
	python3 "$imgtool" files-tar "$work/amd64.tar" platform=amd64
	python3 "$imgtool" files-tar "$work/arm64.tar" platform=arm64 \
		README="an arm64 image that is never booted"
	new_layout "$l" amd64
	umoci_add "$l:amd64" "$work/busybox.tar" "busybox rootfs"
	umoci_add "$l:amd64" "$work/amd64.tar" "multi: /platform"
	umoci_config "$l:amd64" --config.env "$path_env" --config.cmd /bin/sh \
		--architecture amd64 --os linux
	umoci new --image "$l:arm64"
	umoci_add "$l:arm64" "$work/arm64.tar" "multi: /platform"
	umoci_config "$l:arm64" --config.env "$path_env" --config.cmd /bin/sh \
		--architecture arm64 --os linux
	# arm64 first: a client that takes the first entry gets it wrong.
	python3 "$imgtool" index "$l" latest arm64 amd64
}

build_zstd() {
	local l=$1
	# Its own rootfs (busybox plus /compression), so that no registry
	# holding the busybox gzip blob can stand in for this layer: skopeo
	# silently swaps in a blob with the same uncompressed digest.
	python3 "$imgtool" busybox-tar "$work/zstd.tar" "$busybox" \
		compression=zstd
	new_layout "$l" gzip
	umoci_add "$l:gzip" "$work/zstd.tar" "busybox rootfs + /compression"
	umoci_config "$l:gzip" --config.env "$path_env" --config.cmd /bin/sh
	python3 "$imgtool" zstd "$l" gzip latest
}

build_escape() {
	local l=$1 tag
	python3 "$imgtool" escape-tars "$work"
	umoci init --layout "$l"
	for tag in dotdot symlink symlink2 hardlink; do
		umoci new --image "$l:$tag"
		if [ "$tag" = symlink2 ]; then
			umoci_add "$l:$tag" "$work/symlink2-a.tar" "escape: evil -> /etc"
			umoci_add "$l:$tag" "$work/symlink2-b.tar" "escape: evil/passwd"
		else
			umoci_add "$l:$tag" "$work/$tag.tar" "escape: $tag"
		fi
		umoci_config "$l:$tag" --config.env "$path_env" --config.cmd /bin/sh
	done
}

# debian_mirror - the bookworm mirror of this machine's apt sources
debian_mirror() {
	local uri
	uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '
		/^[ \t]*$/ { if (deb && suite && uri != "") { print uri; exit }
			deb = suite = 0; uri = ""; next }
		tolower($1) == "types:" && / deb( |$)/ { deb = 1 }
		tolower($1) == "suites:" && / bookworm( |$)/ { suite = 1 }
		tolower($1) == "uris:" { uri = $2 }
		END { if (deb && suite && uri != "") print uri }' | head -n 1)
	if [ -z "$uri" ]; then
		uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
			2>/dev/null | awk '$1 == "deb" {
				i = 2; if ($i ~ /^\[/) while ($i !~ /\]$/) i++
				if ($i ~ /^\[/) i++
				if ($(i + 1) == "bookworm") { print $i; exit } }')
	fi
	echo "${uri:-http://deb.debian.org/debian}"
}

debian_include=python3-minimal
debian_suite=bookworm

# debian_rootfs DIR - debootstrap DIR (root only); cleaned up like Debian's
# official images: no apt caches or lists, an empty /dev.
debian_rootfs() {
	local dir=$1 mirror=$2 start
	[ "$(id -u)" -eq 0 ] ||
		die "the debian image needs root the first time (debootstrap): run as root, or build the other images"
	command -v debootstrap >/dev/null 2>&1 || die "debootstrap not found: run ./setup.sh"
	rm -rf "$dir"
	say "debian: debootstrap --variant=minbase --include=$debian_include $debian_suite from $mirror"
	start=$(date +%s)
	debootstrap --variant=minbase --include="$debian_include" \
		"$debian_suite" "$dir" "$mirror" >"$work/debootstrap.log" 2>&1 ||
		die "debootstrap failed: $(tail -n 5 "$work/debootstrap.log") (full log: rerun by hand)"
	rm -rf "${dir:?}"/var/cache/apt/archives/*.deb "${dir:?}"/var/cache/apt/*.bin \
		"${dir:?}"/var/lib/apt/lists/* "${dir:?}"/dev/*
	say "debian: debootstrap took $(($(date +%s) - start)) s, tree $(du -sh "$dir" | cut -f1)"
}

# debian_pack ROOTFS LAYOUT - a one-layer image of ROOTFS, made by umoci
debian_pack() {
	local rootfs=$1 l=$2 bundle=$work/debian-bundle
	[ "$(id -u)" -eq 0 ] || die "packing the debian image needs root (its tree is root's)"
	new_layout "$l" bookworm
	umoci unpack --image "$l:bookworm" "$bundle" >/dev/null
	rm -rf "$bundle/rootfs"
	cp -a "$rootfs" "$bundle/rootfs"
	umoci repack --image "$l:bookworm" --history.created "$created" \
		--history.created_by "debootstrap --variant=minbase --include=$debian_include $debian_suite" \
		"$bundle"
	umoci_config "$l:bookworm" --config.env "$path_env" \
		--config.env LANG=C.UTF-8 --config.cmd python3
	python3 "$imgtool" gc "$l"
	rm -rf "$bundle"
}

# debian_cached - makes sure the cache holds an up-to-date debian layout;
# sets debian_key to its key
debian_cached() {
	local mirror rkey lkey start
	mirror=${DEBIAN_MIRROR:-$(debian_mirror)}
	mkdir -p "$cache"
	exec 8>"$cache/.lock"
	flock 8
	rkey="$debian_suite minbase $debian_include $mirror $(dpkg --print-architecture)"
	if [ ! -d "$cache/debian-rootfs" ] ||
		[ "$(cat "$cache/debian-rootfs.key" 2>/dev/null)" != "$rkey" ]; then
		rm -f "$cache/debian-rootfs.key" "$cache/debian-oci.key"
		cache_tmp=$cache/debian-rootfs.tmp
		debian_rootfs "$cache_tmp" "$mirror"
		rm -rf "$cache/debian-rootfs"
		mv "$cache_tmp" "$cache/debian-rootfs"
		echo "$rkey" >"$cache/debian-rootfs.key"
	fi
	# The layout is repacked when the packing recipe changes.
	lkey=$({
		echo "$rkey"
		declare -f debian_pack new_layout umoci_config
		echo "$created $path_env"
		umoci --version
	} | sha256sum | cut -d' ' -f1)
	if [ ! -f "$cache/debian-oci/index.json" ] ||
		[ "$(cat "$cache/debian-oci.key" 2>/dev/null)" != "$lkey" ]; then
		rm -f "$cache/debian-oci.key"
		start=$(date +%s)
		cache_tmp=$cache/debian-oci.tmp
		debian_pack "$cache/debian-rootfs" "$cache_tmp" >&2
		rm -rf "$cache/debian-oci"
		mv "$cache/debian-oci.tmp" "$cache/debian-oci"
		echo "$lkey" >"$cache/debian-oci.key"
		say "debian: packing took $(($(date +%s) - start)) s"
	fi
	cache_tmp=
	flock -u 8
	debian_key=$lkey
}

build_debian() {
	local l=$1
	rm -rf "$l"
	cp -a --reflink=auto "$cache/debian-oci" "$l"
}

for name in $images; do
	key=$common_key
	if [ "$name" = debian ]; then
		debian_cached
		key="$key $debian_key"
	fi
	if [ -f "$out/$name/index.json" ] &&
		[ "$(cat "$out/.stamps/$name" 2>/dev/null)" = "$key" ]; then
		say "$name: up to date"
		continue
	fi
	rm -f "$out/.stamps/$name"
	tmp=$out/.$name.tmp
	# In a subshell of its own, not under ||, so that set -e holds in it.
	set +e
	(
		set -e
		"build_$name" "$tmp"
	) >"$work/$name.log" 2>&1
	rc=$?
	set -e
	[ "$rc" -eq 0 ] || die "building $name failed: $(tail -n 5 "$work/$name.log")"
	python3 "$imgtool" gc "$tmp"
	# umoci writes index.json 0600: let a registry or VM user read it.
	chmod -R a+rX "$tmp"
	rm -rf "${out:?}/$name"
	mv "$tmp" "$out/$name"
	echo "$key" >"$out/.stamps/$name"
	say "$name: built"
done

# images.env, from every layout present (including ones built earlier).
refs="busybox:latest layers:latest layers:named multi:latest multi:amd64
multi:arm64 zstd:latest zstd:gzip debian:bookworm escape:dotdot escape:symlink
escape:symlink2 escape:hardlink"
{
	echo "# written by tests/images/build.sh; oci:$out/NAME:TAG"
	push=
	for ref in $refs; do
		name=${ref%%:*}
		tag=${ref#*:}
		[ -f "$out/$name/index.json" ] || continue
		var=IMG_$(echo "$name" | tr '[:lower:]' '[:upper:]')
		case $tag in
		latest | bookworm) ;;
		*) var=${var}_$(echo "$tag" | tr '[:lower:]' '[:upper:]') ;;
		esac
		digest=$(python3 "$imgtool" digest "$out/$name" "$tag") ||
			die "$out/$name has no tag $tag: remove $out and rebuild"
		echo "${var}_REF=$ref"
		echo "${var}_DIGEST=$digest"
		case $ref in
		multi:amd64 | multi:arm64) ;; # reached through multi:latest
		zstd:gzip) ;;                 # only for unpack-check.sh
		*) push="$push $ref" ;;
		esac
	done
	echo "IMG_PUSH_REFS=\"${push# }\""
} >"$out/images.env.tmp"
mv "$out/images.env.tmp" "$out/images.env"
say "wrote $out/images.env"
