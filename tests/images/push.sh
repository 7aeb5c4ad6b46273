#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# push.sh - push the test images to a registry and check their digests
#
# Usage: tests/images/push.sh OUTDIR HOST:PORT [--creds USER:PASS] [REF...]
#
# Pushes each REF (NAME:TAG; default: IMG_PUSH_REFS from OUTDIR/images.env,
# which build.sh writes) with
#   skopeo copy --all --preserve-digests oci:OUTDIR/NAME:TAG
#       docker://HOST:PORT/NAME:TAG --dest-tls-verify=false
# then reads the manifest back from the registry and fails unless its
# digest is the one in images.env. --preserve-digests makes skopeo fail
# rather than rewrite a manifest, e.g. to swap our zstd layer for a gzip
# blob of the same content it knows the registry has.

set -euo pipefail
shopt -s inherit_errexit

prog=${0##*/}
usage="usage: $prog OUTDIR HOST:PORT [--creds USER:PASS] [REF...]"

die() {
	printf '%s: %s\n' "$prog" "$*" >&2
	exit 1
}

case ${1:-} in
-h | --help)
	sed -n '3,14s/^# \{0,1\}//p' "$0"
	exit 0
	;;
esac
[ $# -ge 2 ] || die "$usage"
out=$1
host=$2
shift 2
creds=()
refs=()
while [ $# -gt 0 ]; do
	case $1 in
	--creds)
		[ $# -ge 2 ] || die "--creds needs USER:PASS"
		case $2 in *:*) ;; *) die "--creds needs USER:PASS, not '$2'" ;; esac
		creds=("$2")
		shift 2
		;;
	--creds=*)
		creds=("${1#--creds=}")
		shift
		;;
	-*) die "unknown option '$1': $usage" ;;
	*)
		refs+=("$1")
		shift
		;;
	esac
done
case $host in
*/* | '') die "HOST:PORT is a registry address such as 127.0.0.1:5000, not '$host'" ;;
esac
case $out in *:*) die "OUTDIR must not contain ':' (skopeo's oci: syntax): $out" ;; esac
[ -f "$out/images.env" ] || die "no $out/images.env: run tests/images/build.sh $out first"
command -v skopeo >/dev/null 2>&1 || die "skopeo not found: run ./setup.sh"

# shellcheck source=/dev/null
. "$out/images.env"
if [ ${#refs[@]} -eq 0 ]; then
	read -r -a refs <<<"${IMG_PUSH_REFS:-}"
	[ ${#refs[@]} -gt 0 ] || die "$out/images.env lists no images"
fi

dest_creds=()
src_creds=()
if [ ${#creds[@]} -gt 0 ]; then
	dest_creds=(--dest-creds "${creds[0]}")
	src_creds=(--creds "${creds[0]}")
fi

log=$(mktemp "${TMPDIR:-/tmp}/msb-push.XXXXXX")
trap 'rm -f "$log"' EXIT
trap 'exit 130' INT TERM HUP

for ref in "${refs[@]}"; do
	name=${ref%%:*}
	tag=${ref#*:}
	if [ "$name:$tag" != "$ref" ] || [ -z "$name" ] || [ -z "$tag" ]; then
		die "'$ref' is not NAME:TAG"
	fi
	[ -f "$out/$name/index.json" ] || die "$ref: no layout $out/$name: build it first"
	var=IMG_$(echo "$name" | tr '[:lower:]' '[:upper:]')
	case $tag in
	latest | bookworm) ;;
	*) var=${var}_$(echo "$tag" | tr '[:lower:]' '[:upper:]') ;;
	esac
	var=${var}_DIGEST
	want=${!var:-}
	[ -n "$want" ] || die "$ref: no $var in $out/images.env: rebuild it"

	if ! skopeo --insecure-policy copy --all --preserve-digests --quiet \
		--dest-tls-verify=false "${dest_creds[@]}" \
		"oci:$out/$name:$tag" "docker://$host/$name:$tag" >"$log" 2>&1; then
		die "pushing $ref to $host failed: $(tail -n 3 "$log")"
	fi
	if ! got=$(skopeo --insecure-policy inspect --raw --tls-verify=false \
		"${src_creds[@]}" "docker://$host/$name:$tag" 2>"$log" |
		sha256sum | cut -d' ' -f1) || [ -s "$log" ]; then
		die "reading $ref back from $host failed: $(tail -n 3 "$log")"
	fi
	[ "sha256:$got" = "$want" ] ||
		die "$host/$ref has digest sha256:$got, not $want: the registry or skopeo changed the manifest"
	echo "$host/$ref@$want"
done
