#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# An installed msb works without its build tree (docs/install.md):
# `meson install` into a DESTDIR, the prefix moved elsewhere, then, with
# the source and build trees hidden (a mount namespace with empty folders
# over them; as root only), the installed tools:
# - the man pages and completion scripts are installed;
# - msb doctor finds every helper and guest file under the moved prefix;
# - msb run -- uname -a boots the default image;
# - an OCI image pulled from a local registry runs;
# - a C program built only with `pkg-config --cflags --libs microsandbox`
#   creates a sandbox and runs a command.
#
#   test_install.sh BUILD_ROOT TOKEN_SERVER
set -uo pipefail
build=$1 TOKEN_SERVER=$2
src=$(cd "$(dirname "$0")/../.." && pwd)
for tool in docker-registry skopeo umoci pkg-config cc; do
	command -v "$tool" >/dev/null || { echo "skip: $tool missing"; exit 77; }
done

work=$(mktemp -d /tmp/msb-install-XXXXXX)
regdir=$work/registries
export MSB_HOME=$work/home
unset MSB_VMM MSB_NETD MSB_GUEST_DIR MSB_ACCEL
cleanup() {
	"$src/tests/registry/registry.sh" stop "$regdir" >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT
. "$(dirname "$0")/lib.sh"

# --- install, then move the prefix ---
prefix=$(meson introspect "$build" --buildoptions |
	python3 -c 'import json, sys
print([o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"][0])')
expect "meson install into a DESTDIR" 0 \
	meson install -C "$build" --no-rebuild --quiet --destdir "$work/dest"
expect "the prefix can be moved" 0 mv "$work/dest$prefix" "$work/moved"
P=$work/moved
libdir=$(dirname "$(find "$P" -name libmicrosandbox.so.0 | head -n 1)")
for f in bin/msb libexec/microsandbox/msb-vmm lib/microsandbox/vmlinux \
	lib/microsandbox/initramfs.cpio lib/microsandbox/rootfs.ext4 \
	lib/microsandbox/default-image/index.json include/microsandbox.h \
	share/man/man1/msb.1 share/man/man1/msb-run.1 \
	share/bash-completion/completions/msb share/zsh/vendor-completions/_msb; do
	if [ -e "$P/$f" ]; then ok "installed $f"; else bad "installed $f: missing"; fi
done
if [ -f "$libdir/pkgconfig/microsandbox.pc" ]; then
	ok "installed microsandbox.pc"
else
	bad "installed microsandbox.pc: missing under $libdir"
fi

MANWIDTH=80 man -l "$P/share/man/man1/msb-run.1" >"$work/man.txt" 2>&1
contains "the installed msb-run(1) renders" "$work/man.txt" "msb-run - boot a new sandbox"
expect "the bash completion loads" 0 bash -c ". '$P/share/bash-completion/completions/msb' && complete -p msb"

# --- a C program built with pkg-config only ---
flags=$(PKG_CONFIG_PATH=$libdir/pkgconfig pkg-config --define-variable=prefix="$P" --cflags --libs microsandbox)
# shellcheck disable=SC2086
expect "a C program builds with pkg-config --cflags --libs" 0 \
	cc -o "$work/hello" "$src/tests/integration/pkgconfig_hello.c" $flags "-Wl,-rpath,$libdir"

# --- an image in a local registry ---
"$src/tests/images/build.sh" "$work/images" busybox >"$work/build.log" 2>&1 ||
	{ tail -20 "$work/build.log"; echo "FAIL - build test images"; exit 1; }
mkdir -p "$regdir"
"$src/tests/registry/registry.sh" start "$regdir" "$TOKEN_SERVER" >"$work/reg.log" 2>&1 ||
	{ cat "$work/reg.log"; echo "FAIL - start registries"; exit 1; }
# shellcheck disable=SC1091
. "$regdir/env"
"$src/tests/images/push.sh" "$work/images" "$REG_NOAUTH" busybox:latest >"$work/push.log" 2>&1 ||
	{ tail -20 "$work/push.log"; echo "FAIL - push images"; exit 1; }

# --- the installed tools with the trees hidden ---
# The phase runs from a copy: its own script is in the hidden source tree.
cat >"$work/phase.sh" <<'EOF'
set -u
P=$1 work=$2 reg=$3 hide=$4
if [ "$hide" = 1 ]; then
	for d in "${@:5}"; do mount -t tmpfs -o size=1m none "$d" || exit 3; done
fi
. "$work/lib.sh"
for d in "${@:5}"; do
	if [ -e "$d/meson.build" ] || [ -e "$d/build.ninja" ]; then
		bad "not hidden: $d"
	else
		ok "hidden: $d"
	fi
done
expect "doctor" 0 "$P/bin/msb" doctor
for what in supervisor msb-netd "guest kernel" "guest initramfs" \
	"default root disk" "default image"; do
	if grep "^ok   $what " "$work/out" | grep -qF "(prefix $P)"; then
		ok "doctor: $what from the moved prefix"
	else
		bad "doctor: $what: $(grep "$what" "$work/out")"
	fi
done
expect "run -- uname -a" 0 "$P/bin/msb" run -- uname -a
contains "run: the guest kernel answers" "$work/out" "Linux"
expect "pull from the local registry" 0 "$P/bin/msb" pull --insecure -q "$reg/busybox:latest"
expect "run the pulled image" 0 "$P/bin/msb" run "$reg/busybox:latest" -- echo pulled-ok
contains "the pulled image's output" "$work/out" "pulled-ok"
expect "the pkg-config program runs a command" 0 "$work/hello"
contains "the pkg-config program's output" "$work/out" "hello from pkg-config"
echo "installed tools: $pass passed, $fail failed"
[ "$fail" = 0 ]
EOF
cp "$(dirname "$0")/lib.sh" "$work/lib.sh"
hide=0
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
	hide=1
else
	echo "# not root: the build and source trees stay visible"
fi
# the build tree first: it may be inside the source tree
dirs=("$(cd "$build" && pwd)" "$src")
if [ "$hide" = 1 ]; then
	unshare -m --propagation private bash "$work/phase.sh" "$P" "$work" \
		"$REG_NOAUTH" 1 "${dirs[@]}"
else
	bash "$work/phase.sh" "$P" "$work" "$REG_NOAUTH" 0
fi
st=$?
[ "$st" = 0 ] || bad "the installed tools (status $st)"
echo "test_install: $pass passed, $fail failed (before the hidden phase)"
[ "$fail" = 0 ]
