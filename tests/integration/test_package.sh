#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Debian packages (debian/, docs/install.md): built from a copy of the
# source tree with dpkg-buildpackage -us -uc -b, checked by lintian (no
# errors or warnings beyond debian/*.lintian-overrides), installed with
# apt, then used from /usr/bin/msb, as root and as the unprivileged user
# nobody: msb doctor (everything from the prefix /usr), msb run -- uname
# -a, a pull from a local registry and a run of that image, a C program
# built only with `pkg-config --cflags --libs microsandbox`, and the
# Python module (python3-microsandbox) running a command.
# Purged at the end: nothing may be left outside MSB_HOME. Needs root (it
# installs packages); skipped otherwise.
#
#   test_package.sh TOKEN_SERVER
set -uo pipefail
TOKEN_SERVER=$1
src=$(cd "$(dirname "$0")/../.." && pwd)
[ "$(id -u)" = 0 ] || { echo "skip: installs packages (needs root)"; exit 77; }
for tool in dpkg-buildpackage dh lintian apt-get docker-registry skopeo umoci cc runuser; do
	command -v "$tool" >/dev/null || { echo "skip: $tool missing (./setup.sh installs it)"; exit 77; }
done
if dpkg-query -W -f='${Status}' microsandbox 2>/dev/null | grep -q 'ok installed'; then
	echo "skip: a microsandbox package is already installed here"
	exit 77
fi

work=$(mktemp -d /tmp/msb-package-XXXXXX)
chmod 755 "$work"
regdir=$work/registries
pkgs=(microsandbox libmicrosandbox0 libmicrosandbox-dev python3-microsandbox)
installed=0
cleanup() {
	"$src/tests/registry/registry.sh" stop "$regdir" >/dev/null 2>&1
	[ "$installed" = 1 ] && apt-get purge -y -qq "${pkgs[@]}" >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT
. "$(dirname "$0")/lib.sh"
unset MSB_VMM MSB_NETD MSB_GUEST_DIR MSB_ACCEL MSB_HOME

# --- build ---
mkdir "$work/src"
(cd "$src" && git ls-files -co --exclude-standard -z) |
	(cd "$src" && xargs -0 cp --parents -t "$work/src") ||
	{ echo "FAIL - copy the source tree"; exit 1; }
if [ -f "$src/.cache/kernel/version" ]; then
	mkdir -p "$work/src/.cache" && cp -rL "$src/.cache/kernel" "$work/src/.cache/kernel"
fi
(cd "$work/src" && DEB_BUILD_OPTIONS=nocheck dpkg-buildpackage -us -uc -b) \
	>"$work/build.log" 2>&1
if [ $? = 0 ]; then ok "dpkg-buildpackage -us -uc -b"; else
	tail -30 "$work/build.log"
	echo "FAIL - dpkg-buildpackage"
	exit 1
fi
for p in "${pkgs[@]}"; do
	f=$(ls "$work/${p}_"*.deb 2>/dev/null | head -n 1)
	[ -n "$f" ] && ok "built $p" || bad "built $p: no .deb"
done
lintian --tag-display-limit 0 "$work"/microsandbox_*_amd64.changes >"$work/lintian" 2>&1
grep -E '^[EW]: ' "$work/lintian" | grep -v -- '-dbgsym' >"$work/lintian.ew"
[ -s "$work/lintian.ew" ] && bad "lintian: $(head -c 600 "$work/lintian.ew")" ||
	ok "lintian: no errors or warnings"
dpkg-deb -c "$work"/microsandbox_*_amd64.deb >"$work/contents"
for f in usr/bin/msb usr/libexec/microsandbox/msb-vmm usr/libexec/microsandbox/msb-netd \
	usr/lib/microsandbox/vmlinux usr/lib/microsandbox/default-image/index.json \
	usr/share/man/man1/msb-run.1.gz usr/share/bash-completion/completions/msb; do
	contains "microsandbox has $f" "$work/contents" "./$f"
done
dpkg-deb -I "$work"/microsandbox_*_amd64.deb >"$work/info"
contains "microsandbox depends on qemu-system-x86" "$work/info" "qemu-system-x86"
contains "microsandbox depends on qemu-utils" "$work/info" "qemu-utils"
# loaded with dlopen, so listed by hand in debian/control
dpkg-deb -I "$work"/libmicrosandbox0_*_amd64.deb >"$work/libinfo"
contains "libmicrosandbox0 depends on libcurl4" "$work/libinfo" "libcurl4"
contains "libmicrosandbox0 depends on libarchive13" "$work/libinfo" "libarchive13"
for s in preinst postinst prerm postrm; do
	dpkg-deb -e "$work"/microsandbox_*_amd64.deb "$work/ctl" 2>/dev/null
	[ -e "$work/ctl/$s" ] && bad "microsandbox has a $s script" || ok "microsandbox has no $s script"
done

# --- a local registry with the busybox test image ---
"$src/tests/images/build.sh" "$work/images" busybox >"$work/images.log" 2>&1 ||
	{ tail -20 "$work/images.log"; echo "FAIL - build test images"; exit 1; }
mkdir -p "$regdir"
"$src/tests/registry/registry.sh" start "$regdir" "$TOKEN_SERVER" >"$work/reg.log" 2>&1 ||
	{ cat "$work/reg.log"; echo "FAIL - start registries"; exit 1; }
# shellcheck disable=SC1091
. "$regdir/env"
"$src/tests/images/push.sh" "$work/images" "$REG_NOAUTH" busybox:latest >"$work/push.log" 2>&1 ||
	{ tail -20 "$work/push.log"; echo "FAIL - push images"; exit 1; }

# --- install ---
# what is on the host outside the places apt and other tests write
snapshot() {
	find /usr /etc /opt /var/lib /var/cache -xdev \
		\( -path /var/lib/dpkg -o -path /var/lib/apt -o -path /var/cache/apt \
		-o -path /var/cache/debconf -o -path /etc/netns -o -path /var/cache/man \
		-o -path /etc/ld.so.cache -o -path /var/lib/ucf \
		\) -prune -o -print 2>/dev/null | sort
}
snapshot >"$work/before"
expect "apt install ./*.deb" 0 apt-get install -y -q --no-install-recommends \
	"$work"/microsandbox_*_amd64.deb "$work"/libmicrosandbox0_*_amd64.deb \
	"$work"/libmicrosandbox-dev_*_amd64.deb "$work"/python3-microsandbox_*_all.deb
installed=1
[ "$(command -v msb)" = /usr/bin/msb ] && ok "msb is /usr/bin/msb" || bad "msb is $(command -v msb)"

cat >"$work/hello.c" <<'EOF'
#include <stdio.h>
#include <microsandbox.h>

int main(void)
{
	msb_sandbox_options o = MSB_SANDBOX_OPTIONS_INIT;
	msb_sandbox *sb;
	msb_exec_output *out;
	const char *argv[] = {"echo", "hello from pkg-config", NULL};
	size_t len;

	if (msb_sandbox_create(&sb, &o) < 0 ||
	    msb_sandbox_exec(&out, sb, argv, NULL) < 0) {
		fprintf(stderr, "hello: %s\n", msb_last_error()->message);
		return 1;
	}
	const char *text = msb_exec_output_stdout(out, &len);
	fwrite(text, 1, len, stdout);
	int code = msb_exec_output_exit_code(out);
	msb_exec_output_free(out);
	msb_sandbox_stop(sb, 10000);
	msb_sandbox_free(sb);
	return code;
}
EOF
# shellcheck disable=SC2046
expect "a C program builds with pkg-config --cflags --libs microsandbox" 0 \
	cc -o "$work/hello" "$work/hello.c" $(pkg-config --cflags --libs microsandbox)
expect "man msb-run" 0 env MANWIDTH=80 man msb-run
contains "man msb-run renders" "$work/out" "msb-run - boot a new sandbox"

# checks USER: run as root, or as USER (nobody) through runuser
checks() {
	local who=$1 home=$work/home-$1
	mkdir -p "$home"
	[ "$who" = root ] || chown "$who" "$home"
	as() {
		if [ "$who" = root ]; then env MSB_HOME="$home" "$@"
		else runuser -u "$who" -- env HOME="$home" MSB_HOME="$home" "$@"; fi
	}
	expect "$who: msb doctor" 0 as /usr/bin/msb doctor
	for what in supervisor msb-netd "guest kernel" "default image"; do
		grep "^ok   $what " "$work/out" | grep -qF "(prefix /usr)" &&
			ok "$who: doctor: $what from /usr" ||
			bad "$who: doctor: $what: $(grep "$what" "$work/out")"
	done
	expect "$who: msb run -- uname -a" 0 as /usr/bin/msb run -- uname -a
	contains "$who: the guest answers" "$work/out" "Linux"
	expect "$who: pull from the local registry" 0 as /usr/bin/msb pull --insecure -q "$REG_NOAUTH/busybox:latest"
	expect "$who: run the pulled image" 0 as /usr/bin/msb run "$REG_NOAUTH/busybox:latest" -- echo pulled-ok
	contains "$who: the pulled image's output" "$work/out" "pulled-ok"
	expect "$who: the pkg-config program runs a command" 0 as "$work/hello"
	contains "$who: its output" "$work/out" "hello from pkg-config"
	expect "$who: python3 -c 'import microsandbox' runs a command" 0 as sh -c \
		"cd / && /usr/bin/python3 -c 'import microsandbox as m
print(m.runtime_info()[\"vmm\"][1])
with m.Sandbox.create() as s:
    print(s.exec(\"echo\", [\"python-ok\"]).stdout)'"
	contains "$who: python: the library's files from /usr" "$work/out" "prefix /usr"
	contains "$who: python: the command's output" "$work/out" "python-ok"
	expect "$who: no sandbox left" 0 as /usr/bin/msb ls -q
	[ -s "$work/out" ] && bad "$who: sandboxes left: $(cat "$work/out")" || ok "$who: msb ls is empty"
}
checks root
checks nobody

# --- purge: nothing left outside MSB_HOME ---
expect "apt purge" 0 apt-get purge -y -q "${pkgs[@]}"
installed=0
snapshot >"$work/after"
left=$(comm -13 "$work/before" "$work/after" | head -20)
[ -z "$left" ] && ok "nothing left after the purge" || bad "left after the purge: $left"
[ ! -e /usr/bin/msb ] && ok "/usr/bin/msb is gone" || bad "/usr/bin/msb is still there"

echo "test_package: $pass passed, $fail failed"
[ "$fail" = 0 ]
