#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Integration tests of the jail around a sandbox's host processes, with real
# VMs: QEMU under its -sandbox filter with descriptors instead of paths, in
# namespaces of its own and (as root) under a uid of its own; the detached
# supervisor with a seccomp filter and only its own descriptors; and the
# sandbox still working through all of it (exec, cp, a volume, a virtio-fs
# share, stop/start).
# Then the fallbacks, on a kernel made to look older (jail_without).
#   test_jail.sh PATH/TO/msb PATH/TO/jail_without
set -uo pipefail
MSB=$1 JW=$2
export MSB_HOME
MSB_HOME=$(mktemp -d /tmp/msb-jail-test-XXXXXX)
unset MSB_ACCEL MSB_SECCOMP
work=$(mktemp -d)
cleanup() {
	exec 7>&-
	"$MSB" rm -f jail fb >/dev/null 2>&1
	"$MSB" volume rm jv >/dev/null 2>&1
	pkill -9 -f "$MSB_HOME/" 2>/dev/null
	rm -rf "$MSB_HOME" "$work"
}
trap cleanup EXIT

. "$(dirname "$0")/lib.sh"
field() { awk -v f="$1:" '$1 == f { print $2 }' "/proc/$2/status"; }
root=0
[ "$(id -u)" = 0 ] && root=1

expect "doctor reports the jail" 0 "$MSB" doctor
contains "doctor: seccomp line" "$work/out" "seccomp"
contains "doctor: namespaces line" "$work/out" "user namespaces"

mkdir "$work/share"
echo fromhost >"$work/share/h"
expect "volume create" 0 "$MSB" volume create jv

# A shell holding an extra descriptor starts the detached supervisor: it
# must not keep it.
exec 7>"$work/extra-fd"
expect "run -d with a volume and a share" 0 "$MSB" run -d --name jail \
	-v jv:/data -v "$work/share:/mnt/s"
exec 7>&-

vmm=$(head -n1 "$MSB_HOME/sandboxes/jail/lock" 2>/dev/null)
qemu=$(pgrep -P "${vmm:-0}" -f qemu-system | head -n1)
if [ -z "$vmm" ] || [ -z "$qemu" ]; then
	bad "supervisor ($vmm) or QEMU ($qemu) not found"
	echo "1..$((pass + fail))"
	exit 1
fi

# QEMU: its own filter, no privileges, no paths of ours.
[ "$(field Seccomp "$qemu")" = 2 ] && ok "QEMU: Seccomp 2" ||
	bad "QEMU: Seccomp $(field Seccomp "$qemu")"
tr '\0' '\n' <"/proc/$qemu/cmdline" >"$work/cmdline"
contains "QEMU: -sandbox" "$work/cmdline" \
	"on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"
# The guest name labels the folder for ps; no option opens a path there.
if grep -F "$MSB_HOME" "$work/cmdline" | grep -qv '^process=msb-jail,guest=msb-jail:'; then
	bad "QEMU's command line names MSB_HOME: $(grep -F "$MSB_HOME" "$work/cmdline" | head -3)"
else ok "QEMU: no path under MSB_HOME on its command line"; fi
contains "QEMU: the root disk by descriptor" "$work/cmdline" "file=/dev/fdset/"
[ "$(field NoNewPrivs "$qemu")" = 1 ] && ok "QEMU: no_new_privs" ||
	bad "QEMU: NoNewPrivs $(field NoNewPrivs "$qemu")"
[ "$(field CapEff "$qemu")" = 0000000000000000 ] && ok "QEMU: no capabilities" ||
	bad "QEMU: CapEff $(field CapEff "$qemu")"
[ "$(awk '$1 == "Max" && $2 == "core" { print $5 }' "/proc/$qemu/limits")" = 0 ] &&
	ok "QEMU: RLIMIT_CORE 0" || bad "QEMU: core limit $(grep core "/proc/$qemu/limits")"
# A root of its own: /usr, a few devices, /proc; none of the host's data.
if [ -d "/proc/$qemu/root/usr/lib" ] && [ ! -e "/proc/$qemu/root$MSB_HOME" ] &&
	[ ! -e "/proc/$qemu/root/home" ] && [ ! -e "/proc/$qemu/root/tmp" ] &&
	[ -c "/proc/$qemu/root/dev/null" ]; then
	ok "QEMU: a minimal root of its own"
else bad "QEMU's root: $(ls "/proc/$qemu/root/" | tr '\n' ' ')"; fi
for ns in mnt ipc pid; do
	if [ "$(readlink "/proc/$qemu/ns/$ns")" != "$(readlink "/proc/$vmm/ns/$ns")" ]; then
		ok "QEMU: own $ns namespace"
	else bad "QEMU: shares the supervisor's $ns namespace"; fi
done
if [ $root = 1 ]; then
	uid=$(awk '$1 == "Uid:" { print $3 }' "/proc/$qemu/status")
	[ "$uid" != 0 ] && ok "QEMU: runs as uid $uid, not root" ||
		bad "QEMU: runs as root"
	if [ "$(readlink "/proc/$qemu/ns/user")" != "$(readlink /proc/self/ns/user)" ]; then
		ok "QEMU: own user namespace"
	else bad "QEMU: in the host's user namespace"; fi
fi

# virtiofsd: its own user namespace, no_new_privs, and (its own) filter.
vfs=$(pgrep -P "$vmm" -x virtiofsd | head -n1)
if [ -n "$vfs" ]; then
	[ "$(readlink "/proc/$vfs/ns/user")" != "$(readlink /proc/self/ns/user)" ] &&
		ok "virtiofsd: own user namespace" || bad "virtiofsd: host's user namespace"
	[ "$(field NoNewPrivs "$vfs")" = 1 ] && ok "virtiofsd: no_new_privs" ||
		bad "virtiofsd: NoNewPrivs $(field NoNewPrivs "$vfs")"
	filtered=0
	for p in "$vfs" $(pgrep -P "$vfs"); do
		[ "$(field Seccomp "$p")" = 2 ] && filtered=1
	done
	[ $filtered = 1 ] && ok "virtiofsd: seccomp filter" || bad "virtiofsd: no seccomp filter"
else bad "virtiofsd not found"; fi

# The supervisor: its filter, and only its descriptors.
[ "$(field Seccomp "$vmm")" = 2 ] && ok "msb-vmm: Seccomp 2" ||
	bad "msb-vmm: Seccomp $(field Seccomp "$vmm")"
[ "$(field NoNewPrivs "$vmm")" = 1 ] && ok "msb-vmm: no_new_privs" ||
	bad "msb-vmm: NoNewPrivs $(field NoNewPrivs "$vmm")"
if [ $root = 1 ]; then
	# CAP_KILL (bit 5) only: it signals QEMU, which runs as another uid.
	[ "$(field CapEff "$vmm")" = 0000000000000020 ] &&
		ok "msb-vmm: CAP_KILL only" || bad "msb-vmm: CapEff $(field CapEff "$vmm")"
fi
ls -l "/proc/$vmm/fd" >"$work/vmmfd"
if grep -q "extra-fd" "$work/vmmfd"; then
	bad "msb-vmm inherited the caller's descriptor 7"
else ok "msb-vmm: the caller's descriptor is not inherited"; fi
# Only its own: stdio, logs, lock, state, sockets, pipes, signalfd, disks.
others=$(awk 'NR > 1 { print $NF }' "$work/vmmfd" |
	grep -vE "^(/dev/null|$MSB_HOME/.*|socket:.*|pipe:.*|anon_inode:.*)$")
[ -z "$others" ] && ok "msb-vmm: only its expected descriptors" ||
	bad "msb-vmm: unexpected descriptors: $others"

# The sandbox works under all of it.
expect "exec" 0 "$MSB" exec jail -- sh -c 'echo hi; cat /mnt/s/h; echo vol >/data/v; echo fromguest >/mnt/s/g; sync'
contains "exec output" "$work/out" "hi"
contains "share readable" "$work/out" "fromhost"
[ "$(cat "$work/share/g" 2>/dev/null)" = fromguest ] && ok "share writable" ||
	bad "share: guest's file missing"
[ "$(stat -c %u "$work/share/g" 2>/dev/null)" = "$(stat -c %u "$work/share")" ] &&
	ok "share: the guest's file belongs to the folder's owner" ||
	bad "share: owner $(stat -c %u "$work/share/g" 2>/dev/null)"
echo payload >"$work/in"
expect "cp in" 0 "$MSB" cp "$work/in" jail:/root/in
expect "cp out" 0 "$MSB" cp jail:/root/in "$work/back"
[ "$(cat "$work/back" 2>/dev/null)" = payload ] && ok "cp round trip" || bad "cp round trip"
expect "metrics (QMP blockstats)" 0 "$MSB" metrics jail
expect "stop" 0 "$MSB" stop jail
if grep -q "not allowed" "$MSB_HOME/sandboxes/jail/logs/vmm.log"; then
	bad "a seccomp denial in vmm.log: $(grep "not allowed" "$MSB_HOME/sandboxes/jail/logs/vmm.log" | head -3)"
else ok "no seccomp denial in vmm.log"; fi
contains "vmm.log: QEMU's jail" "$MSB_HOME/sandboxes/jail/logs/vmm.log" "jail: qemu pid"
if grep -q "without a root of its own" "$MSB_HOME/sandboxes/jail/logs/vmm.log"; then
	bad "vmm.log: $(grep "without a root of its own" "$MSB_HOME/sandboxes/jail/logs/vmm.log")"
else ok "vmm.log: QEMU got its own root"; fi
expect "start" 0 "$MSB" start jail
expect "exec after start" 0 "$MSB" exec jail -- cat /data/v /root/in
contains "volume and disk kept" "$work/out" "payload"
expect "rm" 0 "$MSB" rm -f jail

# As root, guest files QEMU's uid may not read (a root-private checkout)
# still boot: the supervisor hands them over.
if [ $root = 1 ]; then
	mkdir -m 0700 "$work/private"
	cp -r --sparse=always "$MSB_TEST_GUEST_DIR"/. "$work/private/"
	chmod -R go-rwx "$work/private"
	MSB_GUEST_DIR=$work/private expect "guest files private to root" 0 "$MSB" run -- echo private
	contains "private guest files: output" "$work/out" "private"
fi

# Fallbacks: no user namespaces, no seccomp, no close_range. Each is said
# by doctor and in vmm.log, and the sandbox still runs.
all=userns,seccomp,close_range
expect "doctor on an older kernel" 0 "$JW" $all "$MSB" doctor
contains "doctor: no user namespaces" "$work/out" "warn user namespaces"
contains "doctor: no seccomp" "$work/out" "warn seccomp"
contains "doctor: no close_range" "$work/out" "warn close_range"
# virtiofsd always installs its own filter: no share without seccomp.
expect "share without seccomp refused" 125 "$JW" seccomp "$MSB" run -v "$work/share:/mnt/s" -- true
contains "share without seccomp: why" "$work/err" "sharing host folders needs seccomp"
if [ $root = 1 ]; then
	expect "share without user namespaces" 0 "$JW" userns "$MSB" run -v "$work/share:/mnt/s" -- cat /mnt/s/h
	contains "share without user namespaces works" "$work/out" "fromhost"
else
	expect "share without user namespaces refused" 125 "$JW" userns "$MSB" run -v "$work/share:/mnt/s" -- true
	contains "share without user namespaces: why" "$work/err" "needs root or user namespaces"
fi
expect "run -d on an older kernel" 0 "$JW" $all "$MSB" run -d --name fb -v jv:/data
log=$MSB_HOME/sandboxes/fb/logs/vmm.log
contains "vmm.log: namespaces fallback" "$log" "falling back to fewer"
contains "vmm.log: QEMU without -sandbox" "$log" "QEMU runs without -sandbox"
contains "vmm.log: msb-vmm without a filter" "$log" "msb-vmm runs without a system call filter"
contains "vmm.log: close_range fallback" "$log" "close_range(2) unavailable"
vmm=$(head -n1 "$MSB_HOME/sandboxes/fb/lock" 2>/dev/null)
qemu=$(pgrep -P "${vmm:-0}" -f qemu-system | head -n1)
if [ -n "$qemu" ]; then
	[ "$(readlink "/proc/$qemu/ns/user")" = "$(readlink /proc/self/ns/user)" ] &&
		ok "fallback: QEMU in the host's user namespace" ||
		bad "fallback: QEMU got a user namespace anyway"
	tr '\0' '\n' <"/proc/$qemu/cmdline" | grep -qx -- -sandbox &&
		bad "fallback: QEMU has -sandbox" || ok "fallback: QEMU without -sandbox"
	if [ $root = 1 ]; then
		[ "$(awk '$1 == "Uid:" { print $3 }' "/proc/$qemu/status")" != 0 ] &&
			ok "fallback: QEMU still under its own uid" ||
			bad "fallback: QEMU runs as root"
		[ "$(readlink "/proc/$qemu/ns/pid")" != "$(readlink /proc/self/ns/pid)" ] &&
			ok "fallback: QEMU still in its own PID namespace" ||
			bad "fallback: QEMU in the host's PID namespace"
	fi
else bad "fallback: QEMU not found"; fi
expect "fallback: exec" 0 "$MSB" exec fb -- cat /data/v
contains "fallback: volume works" "$work/out" "vol"
expect "fallback: rm" 0 "$MSB" rm -f fb

echo "1..$((pass + fail))"
[ "$fail" = 0 ]
