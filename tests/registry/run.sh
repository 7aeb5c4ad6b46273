#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Integration tests of the registry client: start the three local
# registries, push small test images built here with umoci and skopeo, run
# test_registry against them, stop everything.
#   run.sh PATH/TO/test_registry PATH/TO/token_server
# Exit status 77 (skip) when docker-registry, skopeo or umoci is missing.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
test_bin=$1
token_server=$2
for t in docker-registry skopeo umoci htpasswd openssl; do
	if ! command -v "$t" >/dev/null; then
		echo "skip: \`$t\` is not installed"
		exit 77
	fi
done

# shellcheck disable=SC1091
source "$here/registry.sh"
dir=$(mktemp -d /tmp/msb-registry-test-XXXXXX)
cleanup() {
	cmd_stop "$dir/reg"
	chmod -R u+w "$dir" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

cmd_start "$dir/reg" "$token_server"

# skopeo and umoci keep caches under $HOME: a private one, so that no
# blob is reused from an earlier run
export HOME=$dir/home
mkdir -p "$HOME"

# small:1, one gzip layer; zstd:1, another layer compressed with zstd
mklayer() { # DIR TAR TEXT
	mkdir -p "$1/etc" && echo "$3" >"$1/etc/hello" &&
		head -c 100000 /dev/urandom >"$1/etc/random" &&
		tar -C "$1" -cf "$2" etc
}
lay=$dir/layout
{
	mklayer "$dir/l1" "$dir/l1.tar" "hello from small" &&
		mklayer "$dir/l2" "$dir/l2.tar" "hello from zstd" &&
		umoci init --layout "$lay" &&
		umoci new --image "$lay:small" &&
		umoci raw add-layer --image "$lay:small" "$dir/l1.tar" &&
		umoci config --image "$lay:small" --config.cmd /bin/true &&
		umoci new --image "$lay:zstd" &&
		umoci raw add-layer --image "$lay:zstd" "$dir/l2.tar"
} >"$dir/umoci.log" 2>&1 || {
	echo "umoci failed:"
	cat "$dir/umoci.log"
	exit 1
}
push() { cmd_push "$dir/reg" "$@"; }
for kind in noauth basic token; do
	push "$kind" "oci:$lay:small" small:1 || exit 1
done
push noauth "oci:$lay:zstd" zstd:1 --dest-compress-format zstd || exit 1

set -a
# shellcheck disable=SC1091
source "$dir/reg/env"
set +a
# in the background, so that a TERM (meson's timeout) is acted on at once;
# its temporary files in $dir
TMPDIR=$dir "$test_bin" &
test_pid=$!
trap 'kill "$test_pid" 2>/dev/null; exit 143' TERM
trap 'kill "$test_pid" 2>/dev/null; exit 130' INT
wait "$test_pid"
