#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Errors that carry their cause (issue 13, part 6), with real VMs: QEMU's
# own words in a failed start, the memory minimum, the --cpus warning,
# interrupted pulls that leave nothing behind, volume rm refusing a volume
# in use, msb doctor failing when a run would, and usage errors of
# msb volume and msb doctor.
#   test_errors.sh PATH/TO/msb PATH/TO/token_server
set -uo pipefail
MSB=$1 TOKEN_SERVER=$2
src=$(cd "$(dirname "$0")/../.." && pwd)
export MSB_HOME
MSB_HOME=$(mktemp -d /tmp/msb-errors-test-XXXXXX)
unset MSB_ACCEL MSB_QEMU MSB_QEMU_IMG
work=$(mktemp -d)
regdir=$work/registries
cleanup() {
	"$MSB" rm -f user1 user2 nonetd >/dev/null 2>&1
	[ -f "$regdir/env" ] && "$src/tests/registry/registry.sh" stop "$regdir" >/dev/null 2>&1
	rm -rf "$MSB_HOME" "$work"
}
trap cleanup EXIT

. "$(dirname "$0")/lib.sh"

# one_line DESC: stderr is exactly one line starting "msb: " (warnings
# about KVM aside, which TCG hosts print first).
one_line() {
	grep -v '^msb: warning: KVM is not usable' "$work/err" >"$work/err1"
	if [ "$(wc -l <"$work/err1")" -eq 1 ] && grep -q '^msb: ' "$work/err1"; then
		ok "$1: one line"
	else
		bad "$1: stderr: $(head -c 400 "$work/err")"
	fi
}

# --- 1. a failed start carries QEMU's own error ---
# QEMU refuses guest RAM the kernel will not overcommit: with the default
# heuristic overcommit, one allocation past RAM + swap.
ram_kib=$(awk '/^MemTotal:/ {m=$2} /^SwapTotal:/ {s=$2} END {print m + s}' /proc/meminfo)
if [ "$(cat /proc/sys/vm/overcommit_memory)" != 1 ] && [ "$ram_kib" -lt $((60 * 1024 * 1024)) ]; then
	expect "--memory 65536 on a smaller host fails" 125 "$MSB" run --memory 65536 -- true
	contains "QEMU's message is in the error" "$work/err" "cannot set up guest memory 'microvm.ram': Cannot allocate memory"
	contains "with how QEMU ended" "$work/err" "msb: the VM stopped during boot (QEMU exited with status 1: "
	contains "and what the host has" "$work/err" "(65536 MiB asked; this host has "
	one_line "--memory 65536"
else
	echo "# skip: this host could give a 64 GiB guest"
fi
# Any program as QEMU: its last stderr lines, joined, without its name.
expect "a QEMU that refuses its options" 125 env MSB_QEMU=/usr/bin/cat "$MSB" run -- true
contains "its first line" "$work/err" "(QEMU exited with status 1: invalid option -- 'a'; Try "
contains "its second line, joined with '; '" "$work/err" "for more information.)"
one_line "QEMU's stderr"

# --- 2. the memory minimum ---
expect "--memory 96 (the minimum) boots" 0 "$MSB" run --memory 96 -- true
expect "--memory 95: a usage error" 2 "$MSB" run --memory 95 -- true
contains "the minimum is named" "$work/err" "between 96 and 65536 MiB"
one_line "--memory 95"

# --- 3. more vCPUs than host CPUs: a warning, not an error ---
host=$(nproc)
if [ "$host" -lt 64 ]; then
	n=$((host + 1))
	expect "--cpus $n on $host CPUs runs" 0 "$MSB" run --cpus "$n" -- sh -c 'grep -c ^processor /proc/cpuinfo'
	[ "$(cat "$work/out")" = "$n" ] && ok "the guest has $n CPUs" || bad "guest CPUs: $(cat "$work/out")"
	contains "the warning" "$work/err" "msb: warning: $n vCPUs on a host with $host online CPUs"
	expect "--cpus $host: no warning" 0 "$MSB" run --cpus "$host" -- true
	if grep -q "vCPUs on a host" "$work/err"; then bad "warned at $host vCPUs"; else ok "no warning at $host vCPUs"; fi
fi

# --- 4. interrupted pulls and flattening leave no temporary files ---
if command -v docker-registry >/dev/null && command -v skopeo >/dev/null; then
	/usr/bin/python3 "$src/tests/integration/mkbigimage.py" "$work/big" 100000 ||
		bad "build the big image"
	mkdir -p "$regdir"
	"$src/tests/registry/registry.sh" start "$regdir" "$TOKEN_SERVER" >"$work/reg.log" 2>&1 ||
		bad "start registries: $(tail -3 "$work/reg.log")"
	# shellcheck disable=SC1091
	. "$regdir/env"
	"$src/tests/registry/registry.sh" push "$regdir" noauth "oci:$work/big:latest" big:latest ||
		bad "push the big image"
	R=$REG_NOAUTH
	rootfs=$MSB_HOME/images/rootfs
	# Ctrl-C while the layers are flattened: the disk being built is an
	# unnamed file (O_TMPFILE) that the process holds; it goes with it.
	mkdir -p "$rootfs"
	before=$(ls "$rootfs")
	# (A background job of a script ignores SIGINT: undo that, as a
	# terminal's Ctrl-C finds msb.)
	env --default-signal=INT "$MSB" pull -q "$R/big:latest" >"$work/out" 2>"$work/err" </dev/null &
	pid=$!
	caught=
	for _ in $(seq 3000); do # 60 s at most
		if ls -l "/proc/$pid/fd" 2>/dev/null | grep -q "$rootfs/#"; then
			caught=1
			break
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.02
	done
	[ -n "$caught" ] && ok "the pull flattens into an unnamed file" ||
		bad "the pull never held a root disk being built (it exited: $(cat "$work/err"))"
	kill -INT "$pid"
	wait "$pid"
	st=$?
	[ "$st" = 130 ] && ok "SIGINT ends the pull (130)" || bad "pull after SIGINT: exit $st"
	left=$(find "$MSB_HOME/images" -name '*.tmp.*' -o -name '*.partial' -o -name '*.put.*' | head -5)
	[ -z "$left" ] && ok "no temporary files after an interrupted flatten" || bad "left: $left"
	left=$(ls "$rootfs" | grep -v '\.lock$' | grep -vxF "$before")
	[ -z "$left" ] && ok "no root disk, whole or partial" || bad "left in images/rootfs: $left"
	expect "image ls after the interrupted pull" 0 "$MSB" image ls
	if grep -q "big" "$work/out"; then bad "the interrupted image is listed"; else ok "it is not listed"; fi
	expect "the pull again" 0 "$MSB" pull -q "$R/big:latest"
	digest=$(cat "$work/out")
	hex=${digest#sha256:}
	[ -f "$rootfs/$hex.ext4" ] && ok "its root disk" || bad "no $rootfs/$hex.ext4"

	# Where a filesystem has no O_TMPFILE, a build that died leaves
	# "<hex>.ext4.tmp.<pid>", and a download ".partial": image prune
	# removes them when no one holds their lock.
	blobtmp=$MSB_HOME/images/blobs/tmp
	fake=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
	head -c 1048576 /dev/zero >"$rootfs/$hex.ext4.tmp.4242"
	head -c 1048576 /dev/zero >"$blobtmp/$fake.partial"
	exec 8>"$rootfs/$hex.ext4.lock" 9>"$blobtmp/$fake.lock"
	flock 8 && flock 9 || bad "take the locks"
	expect "image prune while a build and a download hold their locks" 0 "$MSB" image prune
	[ -f "$rootfs/$hex.ext4.tmp.4242" ] && ok "a build in progress is kept" || bad "a locked build was removed"
	[ -f "$blobtmp/$fake.partial" ] && ok "a download in progress is kept" || bad "a locked download was removed"
	exec 8>&- 9>&-
	expect "image prune" 0 "$MSB" image prune
	[ ! -e "$rootfs/$hex.ext4.tmp.4242" ] && ok "prune removes a stale build" || bad "stale build kept"
	[ ! -e "$blobtmp/$fake.partial" ] && [ ! -e "$blobtmp/$fake.lock" ] &&
		ok "prune removes a stale download and its lock" || bad "stale download kept: $(ls "$blobtmp")"
	[ -f "$rootfs/$hex.ext4" ] && ok "prune keeps the stored image's root disk" || bad "root disk pruned"
	# The next build of that image removes its stale builds too.
	head -c 4096 /dev/zero >"$rootfs/$hex.ext4.tmp.4243"
	expect "pull again" 0 "$MSB" pull -q "$R/big:latest"
	[ ! -e "$rootfs/$hex.ext4.tmp.4243" ] && ok "the next pull removes a stale build" || bad "stale build kept by a pull"
	expect "image rm big" 0 "$MSB" image rm "$R/big:latest"
	expect "image prune" 0 "$MSB" image prune

	# The fallback for real: without /proc there is no O_TMPFILE path
	# for libext2fs, so the disk is built under a name. Interrupted, it
	# stays until image prune (or the next build) removes it.
	if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
		libdir=$(cd "$(dirname "$MSB")/../lib" && pwd)
		env --default-signal=INT unshare -m sh -c 'mount -t tmpfs none /proc &&
			exec env LD_LIBRARY_PATH="$1" "$2" pull -q "$3"' sh \
			"$libdir" "$MSB" "$R/big:latest" >"$work/out" 2>"$work/err" </dev/null &
		pid=$!
		caught=
		for _ in $(seq 3000); do
			if [ -e "$rootfs/$hex.ext4.tmp.$pid" ]; then
				caught=1
				break
			fi
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.02
		done
		[ -n "$caught" ] && ok "without /proc: the disk is built under a name" ||
			bad "without /proc: no $hex.ext4.tmp.$pid ($(cat "$work/err"))"
		kill -INT "$pid"
		wait "$pid"
		[ -e "$rootfs/$hex.ext4.tmp.$pid" ] && ok "an interrupted fallback build leaves its file" ||
			bad "no stale build to prune"
		expect "image prune" 0 "$MSB" image prune
		[ -z "$(find "$MSB_HOME/images" -name '*.tmp.*')" ] && ok "prune removes it" ||
			bad "left after prune: $(find "$MSB_HOME/images" -name '*.tmp.*')"
	fi
else
	echo "# skip: docker-registry or skopeo missing"
fi

# --- 5. volume rm refuses a volume that any sandbox uses, unless -f ---
expect "volume create" 0 "$MSB" volume create vol1
expect "a sandbox created with it (never started)" 0 "$MSB" create --name user1 -v vol1:/data
expect "volume rm: refused for a created sandbox" 1 "$MSB" volume rm vol1
contains "names the sandbox and its state" "$work/err" "msb: volume \`vol1\` is used by sandbox \`user1\` (created): remove it first"
contains "says how to force" "$work/err" "msb volume rm -f"
one_line "volume rm, created sandbox"
expect "a running sandbox with it read-only" 0 "$MSB" run -d --name user2 -v vol1:/data:ro
expect "volume rm -f: refused while a sandbox runs with it" 1 "$MSB" volume rm -f vol1
contains "names the running sandbox" "$work/err" "is mounted by running sandbox \`user2 (ro)\`: stop it first"
one_line "volume rm -f, running sandbox"
expect "the volume is still there" 0 "$MSB" volume inspect vol1
expect "stop it" 0 "$MSB" stop user2
expect "volume rm: refused for stopped sandboxes too" 1 "$MSB" volume rm vol1
contains "names them all, with their states" "$work/err" "used by sandboxes \`user1\` (created), \`user2\` (stopped): remove them first"
expect "volume rm -f removes it" 0 "$MSB" volume rm -f vol1
contains "and prints its name" "$work/out" "vol1"
expect "it is gone" 1 "$MSB" volume inspect vol1
"$MSB" start user1 >"$work/out" 2>"$work/err" </dev/null
[ $? != 0 ] && ok "a sandbox whose volume was removed does not start" || bad "user1 started without its volume"
contains "and says why" "$work/err" "no volume named \`vol1\`"
expect "volume create vol2" 0 "$MSB" volume create --quota 16m vol2
expect "an unused volume is removed without -f" 0 "$MSB" volume rm vol2

# --- 6. msb doctor fails when msb run would, and says what to fix ---
expect "doctor on a working host" 0 "$MSB" doctor
contains "doctor's verdict" "$work/out" "msb doctor: ready to run sandboxes"
# ENV | line that fails | text of its fix
while IFS='|' read -r env what fix; do
	[ -n "$env" ] || continue
	expect "doctor with $env" 1 env "$env" "$MSB" doctor
	grep -q "^FAIL $what " "$work/out" && ok "doctor with $env: a FAIL $what line" ||
		bad "doctor with $env: no FAIL $what line: $(grep -v '^ok' "$work/out" | head -c 400)"
	grep -A1 "^FAIL $what " "$work/out" | grep -qF "fix: $fix" && ok "doctor with $env: says what to fix" ||
		bad "doctor with $env: fix: $(grep -A1 "^FAIL" "$work/out" | head -c 400)"
	contains "doctor with $env: verdict" "$work/out" "msb doctor: problems found"
	env "$env" "$MSB" run -- true >/dev/null 2>&1 </dev/null
	[ $? = 125 ] && ok "msb run fails too with $env" || bad "msb run did not fail with $env"
done <<'TABLE'
MSB_QEMU=/nonexistent|QEMU|point MSB_QEMU at qemu-system-x86_64 (the qemu-system-x86 package), or unset it
MSB_QEMU=/usr/bin/cat|QEMU|point MSB_QEMU at a working qemu-system-x86_64
MSB_QEMU_IMG=/nonexistent|qemu-img|point MSB_QEMU_IMG at qemu-img
MSB_ACCEL=bogus|KVM|set MSB_ACCEL to kvm, tcg or auto
MSB_GUEST_DIR=/nonexistent|guest kernel|point MSB_GUEST_DIR at the guest files, or unset it
MSB_VMM=/nonexistent|supervisor|point MSB_VMM at msb-vmm
MSB_HOME=relative/home|state folder|set MSB_HOME to an absolute path
TABLE
why=$("$MSB" doctor | grep '^warn KVM')
if [ -n "$why" ]; then
	# KVM unusable here: MSB_ACCEL=kvm must fail, and so does a run.
	expect "doctor with MSB_ACCEL=kvm and no usable KVM" 1 env MSB_ACCEL=kvm "$MSB" doctor
	contains "the KVM line fails" "$work/out" "FAIL KVM                    MSB_ACCEL=kvm: "
	contains "and says what to fix" "$work/out" "or set MSB_ACCEL=tcg"
	expect "msb run with MSB_ACCEL=kvm fails too" 125 env MSB_ACCEL=kvm "$MSB" run -- true
fi
expect "doctor with MSB_ACCEL=tcg" 0 env MSB_ACCEL=tcg "$MSB" doctor
contains "KVM not looked at" "$work/out" "ok   KVM                    not used: MSB_ACCEL=tcg"

# without msb-netd (in a build with a network), a sandbox that asks for a
# network fails with one line, and doctor says FAIL; --network none runs
if "$MSB" doctor 2>/dev/null | grep -q "this build has no network"; then
	echo "# skip: a build without a network (-Dnet=false): msb-netd cases"
else
	expect "doctor with MSB_NETD=/nonexistent" 1 env MSB_NETD=/nonexistent "$MSB" doctor
	contains "doctor: a FAIL msb-netd line" "$work/out" "FAIL msb-netd               /nonexistent (MSB_NETD)"
	contains "doctor: msb-netd's fix" "$work/out" "fix: point MSB_NETD at msb-netd, or unset it"
	expect "run without msb-netd" 125 env MSB_NETD=/nonexistent "$MSB" run -- true
	one_line "run without msb-netd"
	contains "it names msb-netd" "$work/err" "msb: msb-netd \`/nonexistent\`: No such file or directory: the sandbox's network needs it"
	expect "run -d without msb-netd" 125 env MSB_NETD=/nonexistent "$MSB" run -d --name nonetd
	[ -z "$("$MSB" ls -q 2>/dev/null | grep -x nonetd)" ] && ok "the failed create left no sandbox" ||
		bad "the failed create left a sandbox"
	[ -e "$MSB_HOME/sandboxes/nonetd" ] && bad "the failed create left a folder" ||
		ok "the failed create left no folder"
	expect "create without booting, then start without msb-netd" 1 sh -c \
		"\"$MSB\" create --name nonetd >/dev/null && MSB_NETD=/nonexistent \"$MSB\" start nonetd"
	contains "start names msb-netd" "$work/err" "msb: msb-netd \`/nonexistent\`"
	expect "the stored sandbox starts with msb-netd back" 0 "$MSB" start nonetd
	expect "rm it" 0 "$MSB" rm -f nonetd
	expect "--network none needs no msb-netd" 0 env MSB_NETD=/nonexistent "$MSB" run --network none -- true
fi

# --- 7. usage errors of msb volume and msb doctor: exit 2, one line ---
# one_usage DESC: stderr is one line "msb: CMD: ...; see 'msb CMD --help'"
one_usage() {
	if [ "$(wc -l <"$work/err")" -eq 1 ] && grep -q "^msb: .*; see 'msb .*--help'$" "$work/err"; then
		ok "$1: one line"
	else
		bad "$1: stderr: $(head -c 300 "$work/err")"
	fi
}
while IFS='|' read -r args desc; do
	[ -n "$args" ] || continue
	# shellcheck disable=SC2086
	expect "$desc" 2 "$MSB" $args
	one_usage "$desc"
	[ ! -s "$work/out" ] && ok "$desc: nothing on stdout" || bad "$desc: stdout: $(head -c 200 "$work/out")"
done <<'TABLE'
volume|volume without a command
volume bogus|volume with an unknown command
volume --bogus|volume with an unknown option
volume create|volume create without a name
volume create a b|volume create with a stray argument
volume create -x a|volume create with an unknown option
volume create --quota|volume create --quota without a value
volume create --quota lots a|volume create with a bad --quota
volume create a --quota 0|volume create --quota 0, after the name
volume ls a b c|volume ls with a stray argument
volume ls --bogus|volume ls with an unknown option
volume ls a --json|volume ls NAME --json
volume inspect|volume inspect without a name
volume inspect -q a|volume inspect with an unknown option
volume rm|volume rm without a name
volume rm -x a|volume rm with an unknown option
volume rm --force|volume rm --force without a name
volume cp a|volume cp with one path
volume cp a b c|volume cp with three paths
volume cp a b|volume cp without a volume side
volume cp --max-size x a:/b c|volume cp with a bad --max-size
volume cp --max-files 0 a:/b c|volume cp with a bad --max-files
volume cp -z a:/b c|volume cp with an unknown option
doctor x|doctor with a stray argument
doctor --bogus|doctor with an unknown option
doctor -q|doctor with an unknown short option
TABLE
for c in "volume" "volume create" "volume ls" "volume inspect" "volume rm" "volume cp" "doctor"; do
	# shellcheck disable=SC2086
	expect "$c --help" 0 "$MSB" $c --help
	contains "$c --help prints its usage" "$work/out" "Usage: msb $c"
done
expect "volume rm NAME -h: help, not removal" 0 "$MSB" volume rm nosuch -h
# options after the names are options
expect "volume create NAME --quota SIZE" 0 "$MSB" volume create vol3 --quota 16m
expect "volume ls --json lists it" 0 "$MSB" volume ls --json
contains "its quota" "$work/out" '"quota_bytes": 16777216'
expect "volume rm NAME -f" 0 "$MSB" volume rm vol3 -f
expect "volume rm -- NAME" 1 "$MSB" volume rm -- -f
contains "a name after -- is a name" "$work/err" "\`-f\`"

echo "# $pass passed, $fail failed"
[ "$fail" = 0 ]
