#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Host disk full: a sandbox whose MSB_HOME (a small tmpfs) fills is paused,
# says so in `msb ls`/`inspect` and to new requests, resumes once space is
# freed, and loses nothing it had written. Needs root (mount); else 77.
#   test_diskfull.sh PATH/TO/msb
set -uo pipefail
MSB=$1
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: mounting a small tmpfs MSB_HOME needs root"
	exit 77
fi
export MSB_HOME
MSB_HOME=$(mktemp -d /tmp/msb-diskfull-test-XXXXXX)
unset MSB_ACCEL
work=$(mktemp -d)
bg=
cleanup() {
	[ -n "$bg" ] && kill "$bg" 2>/dev/null
	rm -f "$MSB_HOME/filler"
	"$MSB" rm -f df >/dev/null 2>&1
	"$MSB" volume rm dfvol >/dev/null 2>&1
	umount "$MSB_HOME" 2>/dev/null
	rm -rf "$MSB_HOME" "$work"
}
trap cleanup EXIT
if ! mount -t tmpfs -o size=160m,mode=0700 msb-diskfull "$MSB_HOME"; then
	echo "SKIP: cannot mount a tmpfs"
	exit 77
fi

. "$(dirname "$0")/lib.sh"

status_of() { "$MSB" ls 2>/dev/null | awk -v n="$1" '$1 == n { print $2 }'; }
# wait_for DESC SECONDS CMD...: until CMD succeeds, or fail at the deadline
wait_for() {
	local desc=$1 end=$((SECONDS + $2))
	shift 2
	until "$@"; do
		if [ $SECONDS -ge $end ]; then
			bad "$desc: not within the deadline"
			return 1
		fi
		sleep 0.2
	done
	ok "$desc"
}
is_status() { [ "$(status_of df)" = "$1" ]; }
bg_done() { ! kill -0 "$bg" 2>/dev/null; }

expect "volume create" 0 "$MSB" volume create --quota 256m dfvol
expect "run -d" 0 "$MSB" run -d --name df -v dfvol:/v
expect "data written before" 0 "$MSB" exec df -- sh -c \
	'dd if=/dev/urandom of=/root/before bs=1M count=8 2>/dev/null && sync && sha256sum /root/before'
sum=$(awk '{ print $1 }' "$work/out")
[ "$fail" = 0 ] || exit 1

# Leave 16 MiB: less than a 64 MiB write needs, and less than the
# supervisor waits for before it resumes the VM.
fill() {
	local avail
	avail=$(df -B1 --output=avail "$MSB_HOME" | tail -1)
	fallocate -l $((avail - (16 << 20))) "$MSB_HOME/filler" ||
		{ bad "fallocate the filler"; exit 1; }
}
fill

"$MSB" exec df -- sh -c \
	'dd if=/dev/zero of=/root/big bs=1M count=64 conv=fsync 2>&1; echo "dd=$?"' \
	>"$work/bg.out" 2>"$work/bg.err" </dev/null &
bg=$!
wait_for "the sandbox is paused when the disk fills" 120 is_status paused ||
	{ cat "$work/bg.out" "$work/bg.err"; tail -5 "$MSB_HOME/sandboxes/df/logs/vmm.log"; exit 1; }
expect "inspect" 0 "$MSB" inspect df
contains "inspect gives the reason" "$work/out" \
	'"status_reason": "host disk full under MSB_HOME"'
expect "ls" 0 "$MSB" ls
contains "ls says why on stderr" "$work/err" "host disk full under MSB_HOME"
start=$SECONDS
expect "a new exec fails at once" 125 timeout 60 "$MSB" exec df -- true
contains "with the reason" "$work/err" "host disk full under MSB_HOME ("
contains "and what to do" "$work/err" "free space and the sandbox resumes"
[ $((SECONDS - start)) -lt 30 ] && ok "without waiting" || bad "the refused exec took $((SECONDS - start)) s"
expect "a copy fails at once too" 1 timeout 60 "$MSB" cp df:/root/before "$work/copy"
contains "copy: the reason" "$work/err" "host disk full under MSB_HOME ("
kill -0 "$bg" 2>/dev/null && ok "the writing command waits" || bad "the writing command ended while paused: $(cat "$work/bg.out" "$work/bg.err")"
grep -q "paused: host disk full under MSB_HOME" "$MSB_HOME/sandboxes/df/logs/vmm.log" &&
	ok "vmm.log says so" || bad "vmm.log: $(tail -3 "$MSB_HOME/sandboxes/df/logs/vmm.log")"

rm -f "$MSB_HOME/filler"
wait_for "the writing command ends once space is freed" 120 bg_done
wait "$bg"
rc=$?
bg=
[ $rc = 0 ] && ok "exec exit status 0" || bad "exec exit $rc: $(cat "$work/bg.err")"
contains "the write completed" "$work/bg.out" "dd=0"
wait_for "running again" 30 is_status running
expect "inspect after" 0 "$MSB" inspect df
grep -q status_reason "$work/out" && bad "a reason left: $(cat "$work/out")" || ok "no reason once running"
expect "exec works again" 0 "$MSB" exec df -- sh -c 'sha256sum /root/before; stat -c %s /root/big'
contains "data written before intact" "$work/out" "$sum"
contains "the big file complete" "$work/out" "67108864"

# A volume's image fills the same way.
fill
"$MSB" exec df -- sh -c \
	'dd if=/dev/zero of=/v/big bs=1M count=32 conv=fsync 2>&1; echo "dd=$?"' \
	>"$work/bg.out" 2>"$work/bg.err" </dev/null &
bg=$!
wait_for "volume: paused when the disk fills" 120 is_status paused
expect "volume: a new exec fails at once" 125 timeout 60 "$MSB" exec df -- true
contains "volume: with the reason" "$work/err" "host disk full under MSB_HOME ("
rm -f "$MSB_HOME/filler"
wait_for "volume: the write ends once space is freed" 120 bg_done
wait "$bg"
bg=
contains "volume: the write completed" "$work/bg.out" "dd=0"
wait_for "volume: running again" 30 is_status running

expect "stop" 0 "$MSB" stop df
expect "start" 0 "$MSB" start df
expect "after a restart" 0 "$MSB" exec df -- sh -c 'sha256sum /root/before; stat -c %s /root/big /v/big'
contains "data intact after a restart" "$work/out" "$sum"
contains "the big file kept" "$work/out" "67108864"
contains "the volume's file kept" "$work/out" "33554432"
expect "rm" 0 "$MSB" rm -f df
expect "volume rm" 0 "$MSB" volume rm dfvol

echo "# $pass passed, $fail failed"
[ "$fail" = 0 ]
