#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Set up microsandbox-c on Debian 12: install the Debian packages it needs to
# build, run and test, fetch the guest kernel, and build everything in build/.
# Safe to run again: it only does what is missing.
#
#   ./setup.sh            packages + kernel + build
#   ./setup.sh --no-deps  skip the package step (no root needed)
set -euo pipefail
cd "$(dirname "$0")"

# Build, run and test dependencies, all from Debian's archive.
PACKAGES=(
	# build
	gcc libc6-dev meson ninja-build pkg-config libjansson-dev
	libcurl4-openssl-dev libarchive-dev libext2fs-dev libssl-dev
	zlib1g-dev libzstd-dev libsqlite3-dev libseccomp-dev liblwip-dev
	# run: the VMM and the tools that make root disks
	qemu-system-x86 qemu-utils
	# guest assembly: kernel unpacking, initramfs, default rootfs
	busybox-static e2fsprogs cpio kmod lz4 dpkg
	# tests: sanitizers and fuzzing; a real registry and image tools
	clang libclang-rt-14-dev
	docker-registry umoci skopeo apache2-utils debootstrap zstd tmux
	# tests: the network lab's DNS server and client
	dnsmasq-base bind9-dnsutils
	# the Debian packages (debian/) and their test
	debhelper dh-python python3-all lintian man-db groff-base
	# the Python SDK (python/): its tests, and pip install ./python
	python3 python3-pytest python3-pip python3-setuptools python3-wheel mypy
)

want_deps=1
for arg in "$@"; do
	case "$arg" in
	--no-deps) want_deps=0 ;;
	-h | --help)
		sed -n '3,8p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "setup.sh: unknown option $arg" >&2
		exit 2
		;;
	esac
done

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

if [ "$want_deps" = 1 ]; then
	missing=()
	for p in "${PACKAGES[@]}"; do
		case "$p" in \#*) continue ;; esac
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q 'install ok installed' || missing+=("$p")
	done
	# tests/mcp: Node and npm. A Node of another source (nodesource's
	# bundles npm) is kept: Debian's packages only when either is missing.
	if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
		missing+=(nodejs npm)
	fi
	if [ "${#missing[@]}" -gt 0 ]; then
		say "installing Debian packages: ${missing[*]}"
		SUDO=
		[ "$(id -u)" = 0 ] || SUDO=sudo
		$SUDO apt-get update -qq
		DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
			--no-install-recommends "${missing[@]}" >/dev/null
	fi
fi

say "guest kernel"
guest/fetch-kernel.sh .cache/kernel

if [ ! -f build/build.ninja ]; then
	say "configuring build/"
	meson setup build >/dev/null
fi
say "building"
ninja -C build
say "ready: build/msb"
