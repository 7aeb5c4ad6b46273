#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# extract-vmlinux.sh - turn an x86 bzImage into the uncompressed vmlinux ELF
#
# Usage: guest/extract-vmlinux.sh BZIMAGE OUT
#
# Theory of operation: an x86 bzImage is the real-mode setup code
# (setup_sects + 1 sectors of 512 bytes) followed by the protected-mode
# part, which embeds the compressed kernel. Boot protocol 2.08+ says where:
# payload_offset (u32 at 0x248) counts from the start of the protected-mode
# part, payload_length (u32 at 0x24c) is its size. The compressed stream is
# followed by a u32 holding the uncompressed size (the kernel build appends
# it; for gzip it is the gzip trailer's own ISIZE field), which we use to
# check the result. The result is the stripped vmlinux ELF, which QEMU
# boots through its PVH note without running the decompressor.

set -euo pipefail

prog=${0##*/}

die() {
	printf '%s: %s\n' "$prog" "$*" >&2
	exit 1
}

[ $# -eq 2 ] || die "usage: $prog BZIMAGE OUT"
in=$1
out=$2
{ [ -f "$in" ] && [ -r "$in" ]; } || die "cannot read $in"

# u8 OFFSET / u16 OFFSET / u32 OFFSET - little-endian integers from $in
u8() {
	od -An -v -tu1 -j "$1" -N 1 "$in" | tr -d ' \n'
}
u16() {
	echo $(($(u8 "$1") | $(u8 $(($1 + 1))) << 8))
}
u32() {
	echo $(($(u16 "$1") | $(u16 $(($1 + 2))) << 16))
}
# magic_at FILE OFFSET COUNT - COUNT bytes as lowercase hex, no spaces
magic_at() {
	od -An -v -tx1 -j "$2" -N "$3" "$1" | tr -d ' \n'
}

tmp=$out.tmp
payload=$out.payload.tmp
cleanup() {
	rm -f "$tmp" "$payload" "$payload.err"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
rm -f "$tmp" "$payload" "$payload.err"

size=$(stat -L -c %s "$in")
if [ "$(magic_at "$in" 0 4)" = 7f454c46 ]; then
	# Already an ELF (an uncompressed vmlinux): just copy it.
	cp "$in" "$tmp"
	mv -f "$tmp" "$out"
	exit 0
fi

[ "$size" -ge 1024 ] || die "$in is too small to be a bzImage"
[ "$(magic_at "$in" 0x202 4)" = 48647253 ] ||
	die "$in is not an x86 bzImage (no HdrS boot header)"
proto=$(u16 0x206)
[ "$proto" -ge $((0x208)) ] ||
	die "$in uses boot protocol $((proto >> 8)).$((proto & 255)): 2.08 or newer needed"

setup_sects=$(u8 0x1f1)
[ "$setup_sects" -ne 0 ] || setup_sects=4
payload_offset=$(u32 0x248)
payload_length=$(u32 0x24c)
start=$(((setup_sects + 1) * 512 + payload_offset))
{ [ "$payload_length" -gt 4 ] && [ $((start + payload_length)) -le "$size" ]; } ||
	die "$in: payload (offset $start, length $payload_length) is outside the file ($size bytes)"

# The uncompressed size the build appended (mod 2^32).
expect=$(od -An -v -tu1 -j $((start + payload_length - 4)) -N 4 "$in" |
	awk '{ print $1 + $2 * 256 + $3 * 65536 + $4 * 16777216 }')

magic=$(magic_at "$in" "$start" 6)
case $magic in
1f8b*) fmt=gzip tool="gzip -dc" ;;
fd377a585a00) fmt=xz tool="xz -dc" ;;
28b52ffd*) fmt=zstd tool="zstd -dcq" ;;
02214c18*) fmt=lz4 tool="lz4 -dc" ;; # lz4 legacy frame
5d0000*) fmt=lzma tool="xz --format=lzma -dc" ;;
425a68*) fmt=bzip2 tool="bzip2 -dc" ;;
894c5a4f*) fmt=lzo tool="lzop -dc" ;;
*) die "$in: unknown payload compression (magic $magic)" ;;
esac
command -v "${tool%% *}" >/dev/null 2>&1 ||
	die "$in is $fmt-compressed but ${tool%% *} is not installed"

# Cut the stream; for all but gzip leave out the appended size, which the
# decompressors would take for trailing garbage.
len=$payload_length
[ "$fmt" = gzip ] || len=$((len - 4))
dd if="$in" of="$payload" bs=64K iflag=skip_bytes,count_bytes \
	skip="$start" count="$len" status=none || die "cannot read $in"
[ "$(stat -c %s "$payload")" -eq "$len" ] || die "short read from $in"

# Decompressors may complain about padding after the stream; judge by
# the result instead of their exit status.
$tool <"$payload" >"$tmp" 2>"$payload.err" || true
err=$(head -c 2000 "$payload.err")
[ "$(magic_at "$tmp" 0 4)" = 7f454c46 ] ||
	die "$fmt decompression of $in gave no ELF file${err:+: $err}"
got=$(stat -c %s "$tmp")
[ $((got % 4294967296)) -eq "$expect" ] ||
	die "$in: decompressed $got bytes, the image says $expect${err:+ ($err)}"

mv -f "$tmp" "$out"
