#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Integration tests of OCI images with a real registry and real VMs:
# pulls (anonymous, basic, token), every test image booted, platform
# selection, zstd layers, config defaults, the Debian image's python3,
# path escapes refused, the flattened tree against `umoci unpack`, image
# management, and errors.
#
#   test_images.sh MSB TOKEN_SERVER EXT4TREE DIRTREE
set -uo pipefail
MSB=$1 TOKEN_SERVER=$2 EXT4TREE=$3 DIRTREE=$4
src=$(cd "$(dirname "$0")/../.." && pwd)
for tool in docker-registry skopeo umoci; do
	command -v "$tool" >/dev/null || { echo "skip: $tool missing"; exit 77; }
done

export MSB_HOME
MSB_HOME=$(mktemp -d /tmp/msb-img-test-XXXXXX)
work=$(mktemp -d)
regdir=$work/registries
images=${MSB_TEST_IMAGES:-$src/.cache/test-images}
unset MSB_ACCEL
cleanup() {
	"$src/tests/registry/registry.sh" stop "$regdir" >/dev/null 2>&1
	rm -rf "$MSB_HOME" "$work"
}
trap cleanup EXIT

. "$(dirname "$0")/lib.sh"

echo "# building test images in $images"
"$src/tests/images/build.sh" "$images" >"$work/build.log" 2>&1 ||
	{ tail -20 "$work/build.log"; echo "FAIL - build test images"; exit 1; }
mkdir -p "$regdir"
"$src/tests/registry/registry.sh" start "$regdir" "$TOKEN_SERVER" >"$work/reg.log" 2>&1 ||
	{ cat "$work/reg.log"; echo "FAIL - start registries"; exit 1; }
# shellcheck disable=SC1091
. "$regdir/env"
# shellcheck disable=SC1091
. "$images/images.env"
"$src/tests/images/push.sh" "$images" "$REG_NOAUTH" >"$work/push.log" 2>&1 ||
	{ tail -20 "$work/push.log"; echo "FAIL - push images"; exit 1; }
"$src/tests/images/push.sh" "$images" "$REG_BASIC" --creds "$REG_USER:$REG_PASS" busybox:latest >>"$work/push.log" 2>&1 ||
	bad "push to the basic-auth registry"
"$src/tests/images/push.sh" "$images" "$REG_TOKEN" --creds "$REG_USER:$REG_PASS" busybox:latest >>"$work/push.log" 2>&1 ||
	bad "push to the token registry"
R=$REG_NOAUTH

# --- pulls and boots ---
expect "pull busybox" 0 "$MSB" pull "$R/busybox:latest"
contains "pull prints the digest" "$work/out" "$IMG_BUSYBOX_DIGEST"
expect "run busybox" 0 "$MSB" run "$R/busybox:latest" -- sh -c 'echo hi from $(cat /etc/hostname 2>/dev/null || echo busybox)'
contains "busybox ran" "$work/out" "hi from"
expect "image ls" 0 "$MSB" image ls
contains "image ls lists it" "$work/out" "$R/busybox:latest"
expect "pull policy never finds it" 0 "$MSB" run --pull never "$R/busybox:latest" -- true

expect "layers: entrypoint, cmd, user, workdir, env" 0 "$MSB" run "$R/layers:latest"
[ "$(tr '\n' ' ' <"$work/out")" = "hello from layers 1000 1000 /work " ] &&
	ok "image env, user and workdir by default" ||
	bad "image defaults: $(tr '\n' ' ' <"$work/out")"
# Its entrypoint is /bin/sh -c: our command is its script (docker run).
expect "layers: user and workdir apply to commands" 0 "$MSB" run "$R/layers:latest" -- 'id -u; id -g; pwd'
[ "$(tr '\n' ' ' <"$work/out")" = "1000 1000 /work " ] && ok "user 1000:1000 in /work" ||
	bad "user 1000:1000 in /work: $(tr '\n' ' ' <"$work/out")"
expect "layers: named user" 0 "$MSB" run "$R/layers:named" -- 'id -un'
contains "named user resolved" "$work/out" "user"
expect "layers: --user overrides" 0 "$MSB" run -u 0 "$R/layers:latest" -- 'id -u'
[ "$(cat "$work/out")" = 0 ] && ok "--user 0" || bad "--user 0"

expect "multi: host platform chosen" 0 "$MSB" run "$R/multi:latest" -- cat /platform
[ "$(cat "$work/out")" = amd64 ] && ok "amd64 manifest" || bad "amd64 manifest: $(cat "$work/out")"
expect "multi: --platform linux/arm64 pulls the arm64 manifest" 0 "$MSB" pull --platform linux/arm64 "$R/multi:latest"
contains "arm64 digest" "$work/out" "$IMG_MULTI_ARM64_DIGEST"
expect "multi: unknown platform" 1 "$MSB" pull --platform linux/s390x "$R/multi:latest"
contains "platform error" "$work/err" "linux/s390x"

# --- platforms: stored per platform, another architecture refused at run ---
host=$(uname -m | sed 's/x86_64/amd64/; s/aarch64/arm64/')
expect "image ls" 0 "$MSB" image ls
[ "$(grep -c "^$R/multi:latest " "$work/out")" = 2 ] &&
	ok "multi: stored twice, once per platform" ||
	bad "multi: per-platform entries: $(grep multi "$work/out")"
contains "image ls: amd64 entry" "$work/out" "linux/amd64"
contains "image ls: arm64 entry" "$work/out" "linux/arm64"
expect "multi: the host platform still runs" 0 "$MSB" run --pull never "$R/multi:latest" -- cat /platform
[ "$(cat "$work/out")" = "$host" ] && ok "host manifest after the arm64 pull" ||
	bad "host manifest after the arm64 pull: $(cat "$work/out")"
expect "multi: run --platform linux/arm64 refused" 125 "$MSB" run --platform linux/arm64 "$R/multi:latest" -- cat /platform
contains "refusal names both platforms" "$work/err" "msb: image \`$R/multi:latest\` is linux/arm64; this host runs linux/$host guests only"
"$src/tests/images/push.sh" "$images" "$REG_NOAUTH" multi:arm64 >>"$work/push.log" 2>&1 ||
	bad "push multi:arm64"
expect "single-platform arm64 image pulls" 0 "$MSB" pull "$R/multi:arm64"
"$MSB" image ls >"$work/ls" 2>&1
grep -q "^$R/multi:arm64 *linux/arm64 " "$work/ls" && ok "stored under its own platform, linux/arm64" ||
	bad "multi:arm64 platform: $(grep multi:arm64 "$work/ls")"
expect "single-platform arm64 image refused at run" 125 "$MSB" run --pull never "$R/multi:arm64" -- cat /platform
contains "refusal message" "$work/err" "is linux/arm64; this host runs linux/$host guests only"
[ "$(wc -l <"$work/err")" = 1 ] && ok "refusal is one line" || bad "refusal: $(cat "$work/err")"
expect "pull --platform linux/amd64 of an arm64-only image" 1 "$MSB" pull --platform "linux/$host" "$R/multi:arm64"
contains "mismatch named" "$work/err" "the image is linux/arm64, not linux/$host"
for p in bogus linux linux/bogus bogus/amd64 linux/arm/v9 linux/amd64/; do
	expect "pull --platform $p: usage error" 2 "$MSB" pull --platform "$p" "$R/multi:latest"
	contains "pull --platform $p: message" "$work/err" "msb: pull: invalid platform"
	[ "$(wc -l <"$work/err")" = 1 ] && ok "one line" || bad "--platform $p: $(cat "$work/err")"
done
expect "run --platform bogus refused" 2 "$MSB" run --platform bogus "$R/multi:latest" -- true
contains "run --platform bogus: message" "$work/err" "msb: run: invalid platform \`bogus\`"
expect "x86_64 is read as amd64" 0 "$MSB" pull -q --platform "linux/$(uname -m)" "$R/multi:latest"

expect "zstd layers" 0 "$MSB" run "$R/zstd:latest" -- cat /compression
contains "zstd content" "$work/out" "zstd"

expect "debian: python3" 0 "$MSB" run --memory 512 "$R/debian:bookworm" -- python3 -c 'print(6 * 7)'
[ "$(cat "$work/out")" = 42 ] && ok "python3 printed 42" || bad "python3: $(cat "$work/out" "$work/err")"

# --- the flattened tree equals umoci unpack's ---
for ref in busybox:latest layers:latest debian:bookworm; do
	name=${ref%%:*}
	"$MSB" image inspect "$R/$ref" >"$work/inspect.json" 2>&1
	disk=$(sed -n 's/.*"rootfs": "\(.*\)".*/\1/p' "$work/inspect.json")
	bundle=$work/bundle-$name
	if ! umoci unpack --image "$images/$ref" "$bundle" >"$work/umoci.log" 2>&1; then
		bad "umoci unpack $ref: $(tail -2 "$work/umoci.log")"
		continue
	fi
	"$EXT4TREE" --no-mtime "$disk" >"$work/ours" 2>"$work/ours.err"
	"$DIRTREE" --no-mtime "$bundle/rootfs" >"$work/theirs" 2>"$work/theirs.err"
	if [ -s "$work/ours" ] && diff -q "$work/ours" "$work/theirs" >/dev/null; then
		ok "$ref: tree matches umoci unpack ($(wc -l <"$work/ours") entries)"
	else
		bad "$ref: tree differs from umoci unpack"
		diff "$work/ours" "$work/theirs" | head -10 | sed 's/^/    /'
	fi
	rm -rf "$bundle"
done

# --- malicious layers ---
for tag in dotdot symlink symlink2 hardlink; do
	expect "escape:$tag refused" 1 "$MSB" pull "$R/escape:$tag"
	contains "escape:$tag error names the layer" "$work/err" "layer \`sha256:"
done
left=$(find "$MSB_HOME/images/rootfs" -name '*.tmp.*' 2>/dev/null | wc -l)
[ "$left" = 0 ] && ok "no partial root disks left" || bad "partial root disks left: $left"

# --- auth ---
expect "basic auth" 0 sh -c "echo '$REG_PASS' | '$MSB' pull --username '$REG_USER' '$REG_BASIC/busybox:latest'"
expect "basic auth, wrong password" 1 sh -c "echo wrong | '$MSB' pull --username '$REG_USER' '$REG_BASIC/busybox:latest'"
contains "wrong password message" "$work/err" "authentication failed"
expect "basic auth, anonymous" 1 "$MSB" pull "$REG_BASIC/busybox:latest"
expect "token auth" 0 sh -c "echo '$REG_PASS' | '$MSB' pull --username '$REG_USER' '$REG_TOKEN/busybox:latest'"
expect "token auth, wrong password" 1 sh -c "echo wrong | '$MSB' pull --username '$REG_USER' '$REG_TOKEN/busybox:latest'"
mkdir -p "$work/docker"
printf '{"auths":{"%s":{"auth":"%s"}}}' "$REG_BASIC" "$(printf '%s:%s' "$REG_USER" "$REG_PASS" | base64)" >"$work/docker/config.json"
expect "credentials from the Docker config" 0 env DOCKER_CONFIG="$work/docker" "$MSB" pull "$REG_BASIC/busybox:latest"

# --- errors ---
expect "missing image" 1 "$MSB" pull "$R/nope:latest"
contains "missing image named" "$work/err" "nope"
expect "invalid reference" 1 "$MSB" pull "Bad/Name"
contains "invalid reference shown" "$work/err" "Bad/Name"
expect "pull policy never, not stored" 125 "$MSB" run --pull never "$R/zstd:gzip" -- true
contains "never message" "$work/err" "pull policy is never"

# --- two processes pulling one image at once ---
export MSB_HOME_SAVED=$MSB_HOME
MSB_HOME=$work/home2
for i in 1 2; do
	"$MSB" pull -q "$R/layers:named" >"$work/par$i" 2>"$work/par$i.err" &
done
wait
if [ "$(cat "$work/par1")" = "$IMG_LAYERS_NAMED_DIGEST" ] &&
	[ "$(cat "$work/par2")" = "$IMG_LAYERS_NAMED_DIGEST" ]; then
	ok "concurrent pulls both succeed"
else
	bad "concurrent pulls: $(cat "$work/par1" "$work/par1.err" "$work/par2" "$work/par2.err")"
fi
n=$(find "$MSB_HOME/images/rootfs" -name '*.ext4' | wc -l)
[ "$n" = 1 ] && ok "one root disk built" || bad "root disks: $n"
[ -z "$(find "$MSB_HOME/images/blobs/tmp" -name '*.partial' 2>/dev/null)" ] &&
	ok "no partial downloads left" || bad "partial downloads left"
MSB_HOME=$MSB_HOME_SAVED

# --- management ---
expect "image inspect" 0 "$MSB" image inspect "$R/layers:latest"
contains "inspect shows the entrypoint" "$work/out" '"entrypoint"'
expect "image rm" 0 "$MSB" image rm "$R/zstd:latest"
expect "image rm again" 1 "$MSB" image rm "$R/zstd:latest"
expect "image prune" 0 "$MSB" image prune
expect "run after prune" 0 "$MSB" run "$R/busybox:latest" -- true

echo "test_images: $pass passed, $fail failed"
[ "$fail" = 0 ]
