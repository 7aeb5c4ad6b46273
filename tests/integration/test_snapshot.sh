#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Snapshots and sandboxes made from them (docs/snapshots.md, "Snapshots")
# with real VMs: a snapshot of a running sandbox leaves it running; a new
# sandbox from it has the files written before the snapshot, not those
# written after, keeps its own writes, runs the process that ran at the
# snapshot (same pid), has its own randomness and the host's clock; a
# disk-only snapshot of a stopped sandbox boots cold with its files;
# snapshot ls/rm; bad names and states are refused with one line, and so
# are sandboxes with volumes, host folders or --root-writable, running or
# not, saying why.
#   test_snapshot.sh PATH/TO/msb
set -uo pipefail
MSB=$1
export MSB_HOME
MSB_HOME=$(mktemp -d /tmp/msb-snapshot-test-XXXXXX)
unset MSB_ACCEL
work=$(mktemp -d)
cleanup() {
	for n in src c1 c2 d1 vs f1 f-1 f-2 p1 g-1 x4 vb rw hs hf; do "$MSB" rm -f "$n" >/dev/null 2>&1; done
	pkill -9 -f "$MSB_HOME/" 2>/dev/null
	rm -rf "$MSB_HOME" "$work"
}
trap cleanup EXIT

. "$(dirname "$0")/lib.sh"
# one_line DESC: the last command's stderr is one `msb: ` line
one_line() {
	[ "$(grep -v '^msb: warning' "$work/err" | wc -l)" = 1 ] &&
		grep -q '^msb: ' "$work/err" && ok "$1: one line" ||
		bad "$1: $(cat "$work/err")"
}
# sx SANDBOX CMD: its output
sx() { "$MSB" exec "$1" -- sh -c "$2" 2>&1; }
# the pid of `sleep 100000` in SANDBOX
sleep_pid() { sx "$1" "ps -o pid,args | awk '\$2 == \"sleep\" && \$3 == 100000 {print \$1}'"; }
# clock_ok DESC SANDBOX: its clock within 2 s of the host's
clock_ok() {
	local h1 g h2
	h1=$(date +%s)
	g=$(sx "$2" 'date +%s')
	h2=$(date +%s)
	[ "$g" -ge $((h1 - 2)) ] 2>/dev/null && [ "$g" -le $((h2 + 2)) ] &&
		ok "$1: guest clock $g, host $h1..$h2" ||
		bad "$1: guest clock '$g', host $h1..$h2"
}
status_of() { "$MSB" ls 2>/dev/null | awk -v n="$1" '$1 == n {print $2}'; }
# one_line DESC: $work/err is one `msb: ` line
one_line() {
	[ "$(wc -l <"$work/err")" = 1 ] && grep -q '^msb: ' "$work/err" &&
		ok "$1: one line" || bad "$1: $(cat "$work/err")"
}

expect "run -d" 0 "$MSB" run -d --name src
expect "a process" 0 "$MSB" exec -d src -- sleep 100000
expect "a file before" 0 "$MSB" exec src -- sh -c 'echo before > /root/before'
pid=$(sleep_pid src)
[ -n "$pid" ] && ok "sleep runs as $pid" || bad "no sleep"

# A command a client runs (not detached) while the snapshot is taken: it
# goes on in the source, and ends in a sandbox made from the snapshot.
"$MSB" exec src -- sleep 100001 >/dev/null 2>&1 </dev/null &
fg_client=$!
# fg_pid SANDBOX: the pid of that command there
fg_pid() { sx "$1" "ps -o pid,args | awk '\$2 == \"sleep\" && \$3 == 100001 {print \$1}'"; }
for i in $(seq 300); do [ -n "$(fg_pid src)" ] && break; sleep 0.1; done
[ -n "$(fg_pid src)" ] && ok "a client's command runs" || bad "the client's command did not start"

# 1. Snapshot of a running sandbox: it runs on.
expect "snapshot create" 0 "$MSB" snapshot create src snap1
contains "create prints the snapshot" "$work/out" snap1
[ "$(status_of src)" = running ] && ok "source still running" ||
	bad "source is $(status_of src)"
expect "exec after the snapshot" 0 "$MSB" exec src -- sh -c 'echo after > /root/after'
for f in state key vmm disk.qcow2 meta config.json; do
	[ -e "$MSB_HOME/snapshots/snap1/$f" ] || bad "snapshot has no $f"
done
ok "snapshot files"
expect "snapshot ls" 0 "$MSB" snapshot ls
contains "ls: the snapshot" "$work/out" snap1
contains "ls: full" "$work/out" full
expect "snapshot ls -q" 0 "$MSB" snapshot ls -q
[ "$(cat "$work/out")" = snap1 ] && ok "ls -q: the name" || bad "ls -q: $(cat "$work/out")"
expect "snapshot ls --json" 0 "$MSB" snapshot ls --json
contains "ls --json" "$work/out" '"name": "snap1", "kind": "full"'
contains "ls --json: its sandbox" "$work/out" '"sandbox": "src"'

# 2. Sandboxes from it.
sleep 3 # a gap the snapshot's guest clock does not see
expect "run --from-snapshot" 0 "$MSB" run --from-snapshot snap1 --name c1
contains "run prints the name" "$work/out" c1
[ "$(status_of c1)" = running ] && ok "clone running" || bad "clone is $(status_of c1)"
# first, before the guest's clock can drift (TCG under load)
clock_ok "clone: clock" c1
[ "$(sx c1 'cat /root/before')" = before ] && ok "clone: file written before" ||
	bad "clone: before: $(sx c1 'cat /root/before')"
sx c1 'test -e /root/after' >/dev/null && bad "clone: sees a file written after the snapshot" ||
	ok "clone: a file written after the snapshot is not there"
[ "$(sleep_pid c1)" = "$pid" ] && ok "clone: the sleep runs, pid $pid" ||
	bad "clone: sleep '$(sleep_pid c1)', wanted $pid"
for i in $(seq 300); do [ -z "$(fg_pid c1)" ] && break; sleep 0.1; done
[ -z "$(fg_pid c1)" ] && ok "clone: the source's client command was ended" ||
	bad "clone: the source's client command runs: $(fg_pid c1)"
[ -n "$(fg_pid src)" ] && ok "source: the client's command runs on" ||
	bad "source: the client's command is gone"
kill "$fg_client" 2>/dev/null
wait "$fg_client" 2>/dev/null
r0=$(sx src 'head -c 16 /dev/urandom | od -An -tx1 | tr -d " \n"')
r1=$(sx c1 'head -c 16 /dev/urandom | od -An -tx1 | tr -d " \n"')
expect "create --from-snapshot" 0 "$MSB" create --from-snapshot snap1 --name c2
[ "$(status_of c2)" = suspended ] && ok "create: suspended until started" ||
	bad "create: status $(status_of c2)"
expect "start the second clone" 0 "$MSB" start c2
r2=$(sx c2 'head -c 16 /dev/urandom | od -An -tx1 | tr -d " \n"')
[ "${#r1}" = 32 ] && [ "$r0" != "$r1" ] && [ "$r1" != "$r2" ] && [ "$r0" != "$r2" ] &&
	ok "urandom differs: $r0 $r1 $r2" || bad "urandom: '$r0' '$r1' '$r2'"
[ "$(sleep_pid c2)" = "$pid" ] && ok "second clone: the sleep runs" ||
	bad "second clone: sleep '$(sleep_pid c2)'"
# writes stay private
expect "write in the clone" 0 "$MSB" exec c1 -- sh -c 'echo mine > /root/mine; sync'
sx src 'test -e /root/mine' >/dev/null && bad "the source sees the clone's file" ||
	ok "the source does not see the clone's file"
sx c2 'test -e /root/mine' >/dev/null && bad "the other clone sees it" ||
	ok "the other clone does not see it"
# the clone is a sandbox of its own: it stops and starts (cold) with its disk
expect "stop the clone" 0 "$MSB" stop c1
expect "start the clone again" 0 "$MSB" start c1
[ "$(sx c1 'cat /root/mine')" = mine ] && ok "clone restarted: its own file" ||
	bad "clone restarted: $(sx c1 'cat /root/mine')"
# removing the snapshot does not touch sandboxes made from it
expect "snapshot rm" 0 "$MSB" snapshot rm snap1
[ -e "$MSB_HOME/snapshots/snap1" ] && bad "snapshot left" || ok "snapshot removed"
[ "$(sx c2 'cat /root/before')" = before ] && ok "clone works after snapshot rm" ||
	bad "clone after snapshot rm: $(sx c2 'cat /root/before')"

# 3. A disk-only snapshot of a stopped sandbox.
expect "disk-only of a running sandbox: refused" 1 "$MSB" snapshot create --disk-only src d
contains "disk-only running: says why" "$work/err" "is running"
one_line "disk-only running"
expect "stop the source" 0 "$MSB" stop src
expect "full of a stopped sandbox: refused" 1 "$MSB" snapshot create src d
contains "stopped: names --disk-only" "$work/err" "--disk-only"
expect "snapshot create --disk-only" 0 "$MSB" snapshot create --disk-only src disk1
expect "ls: disk" 0 "$MSB" snapshot ls
contains "ls: kind disk" "$work/out" disk
expect "run --from-snapshot (disk)" 0 "$MSB" run --from-snapshot disk1 --name d1
[ "$(sx d1 'cat /root/before /root/after')" = "before
after" ] && ok "disk clone: both files (written before the stop)" ||
	bad "disk clone: $(sx d1 'cat /root/before /root/after')"
[ -z "$(sleep_pid d1)" ] && ok "disk clone: booted cold (no sleep)" ||
	bad "disk clone runs a sleep"

# A paused sandbox: the snapshot leaves it paused.
expect "pause c2" 0 "$MSB" pause c2
expect "snapshot of a paused sandbox" 0 "$MSB" snapshot create c2 psnap
[ "$(status_of c2)" = paused ] && ok "still paused after the snapshot" ||
	bad "after the snapshot of a paused sandbox: $(status_of c2)"
expect "resume c2" 0 "$MSB" resume c2
expect "run from the paused one's snapshot" 0 "$MSB" run --from-snapshot psnap --name p1
[ "$(sleep_pid p1)" = "$pid" ] && ok "from a paused one: the sleep runs" ||
	bad "from a paused one: sleep '$(sleep_pid p1)'"
"$MSB" rm -f p1 >/dev/null 2>&1
expect "snapshot rm psnap" 0 "$MSB" snapshot rm psnap

# 4. Fork: a snapshot, sandboxes from it, the snapshot gone.
expect "fork" 0 "$MSB" fork c2 f1
[ "$(cat "$work/out")" = f1 ] && ok "fork prints the name" || bad "fork: $(cat "$work/out")"
expect "fork --count 2" 0 "$MSB" fork c2 f --count 2
[ "$(cat "$work/out" | tr '\n' ' ')" = "f-1 f-2 " ] && ok "fork --count: the names" ||
	bad "fork --count: $(cat "$work/out")"
for n in f1 f-1 f-2; do
	[ "$(sleep_pid $n)" = "$pid" ] && [ "$(sx $n 'cat /root/before')" = before ] &&
		ok "fork $n: the sleep and the file" || bad "fork $n: sleep '$(sleep_pid $n)'"
done
[ "$(status_of c2)" = running ] && ok "fork: the source runs on" || bad "fork: c2 is $(status_of c2)"
# each child is its own machine: its name as hostname (in /etc/hosts too,
# as a cold boot writes it) and its own randomness
for n in c2 f1 f-1 f-2; do
	[ "$(sx $n hostname)" = "$n" ] && grep -q "[[:space:]]$n\$" <<<"$(sx $n 'cat /etc/hosts')" &&
		ok "fork $n: hostname $n" || bad "fork $n: hostname '$(sx $n hostname)'"
done
u1=$(sx f1 'head -c 16 /dev/urandom | od -An -tx1 | tr -d " \n"')
u2=$(sx f-1 'head -c 16 /dev/urandom | od -An -tx1 | tr -d " \n"')
u3=$(sx f-2 'head -c 16 /dev/urandom | od -An -tx1 | tr -d " \n"')
[ "${#u1}" = 32 ] && [ "$u1" != "$u2" ] && [ "$u2" != "$u3" ] && [ "$u1" != "$u3" ] &&
	ok "fork: urandom differs across children" || bad "fork urandom: '$u1' '$u2' '$u3'"
# a source with an explicit --hostname: its children keep it
expect "run --hostname" 0 "$MSB" run -d --name hs --hostname fixed
expect "fork of it" 0 "$MSB" fork hs hf
[ "$(sx hf hostname)" = fixed ] && ok "fork: an explicit --hostname is kept" ||
	bad "fork of --hostname: '$(sx hf hostname)'"
"$MSB" rm -f hs hf >/dev/null 2>&1
"$MSB" snapshot ls -q >"$work/out" 2>&1
grep -q '^fork' "$work/out" && bad "fork left its snapshot" || ok "fork: no snapshot left"
expect "fork of a stopped sandbox" 1 "$MSB" fork src f9
contains "fork stopped: says so" "$work/err" "copies a running sandbox"
one_line "fork stopped"
expect "fork --count 0" 2 "$MSB" fork c2 f9 --count 0
expect "fork onto an existing name" 1 "$MSB" fork c2 f1
contains "fork existing: says so" "$work/err" "already exists"
one_line "fork existing"
# all or nothing: g-1 is made, g-2's folder is in the way, g-1 goes again
mkdir -p "$MSB_HOME/sandboxes/g-2"
expect "fork: the second cannot be made" 1 "$MSB" fork c2 g --count 2
[ -z "$(status_of g-1)" ] && [ ! -e "$MSB_HOME/sandboxes/g-1" ] &&
	ok "failed fork: the first is removed" || bad "g-1 left: $(status_of g-1)"
[ "$(status_of c2)" = running ] && ok "failed fork: the source runs on" ||
	bad "failed fork: c2 is $(status_of c2)"
rmdir "$MSB_HOME/sandboxes/g-2"
"$MSB" snapshot ls -q >"$work/out" 2>&1
grep -q '^fork' "$work/out" && bad "a failed fork left its snapshot" || ok "failed fork: no snapshot left"

# 5. Errors.
expect "a bad snapshot name" 1 "$MSB" snapshot create c2 'a/b'
contains "bad name: says so" "$work/err" "invalid snapshot name"
one_line "bad name"
expect "an existing snapshot" 1 "$MSB" snapshot create --disk-only src disk1
contains "exists: says so" "$work/err" "already exists"
expect "no such sandbox" 1 "$MSB" snapshot create nosuch x
expect "no such snapshot" 125 "$MSB" run --from-snapshot nosuch --name x1
contains "no such snapshot: says so" "$work/err" "no snapshot \`nosuch\`"
one_line "no such snapshot"
[ -z "$(status_of x1)" ] && ok "nothing left of a failed clone" || bad "x1 left: $(status_of x1)"
expect "--from-snapshot with an image" 2 "$MSB" run --from-snapshot disk1 alpine
contains "with an image: usage" "$work/err" "--from-snapshot takes only"
expect "--from-snapshot with --memory" 2 "$MSB" create --from-snapshot disk1 -m 1024 --name x2
expect "--from-snapshot --label --rm" 0 "$MSB" run --from-snapshot disk1 --name x4 --label k=v --rm
expect "ls --json" 0 "$MSB" ls --json
grep '"name": "x4"' "$work/out" | grep -q '"labels": {"k": "v"}' &&
	ok "the label is the clone's" || bad "x4's label: $(cat "$work/out")"
expect "stop the --rm clone" 0 "$MSB" stop x4
[ -z "$(status_of x4)" ] && [ ! -e "$MSB_HOME/sandboxes/x4" ] &&
	ok "--rm: the clone is removed when it stops" || bad "x4 left: $(status_of x4)"
expect "a clone's name taken" 125 "$MSB" run --from-snapshot disk1 --name c2
contains "name taken: says so" "$work/err" "already exists"
expect "snapshot rm of none" 1 "$MSB" snapshot rm nosuch
contains "rm none: says so" "$work/err" "no snapshot"
expect "snapshot rm of a bad name" 1 "$MSB" snapshot rm ../x
expect "snapshot without a command" 2 "$MSB" snapshot
expect "volumes refused" 0 "$MSB" volume create v1
expect "run with a volume" 0 "$MSB" run -d --name vs -v v1:/data
expect "snapshot of a sandbox with volumes" 1 "$MSB" snapshot create vs x3
contains "volumes: says why" "$work/err" "it has volumes (-v NAME:PATH), and a snapshot copies only the root disk"
one_line "volumes"
[ "$(status_of vs)" = running ] && ok "volumes: still running" || bad "vs is $(status_of vs)"
expect "stop the sandbox with a volume" 0 "$MSB" stop vs
expect "disk-only snapshot of a sandbox with volumes" 1 "$MSB" snapshot create --disk-only vs x3
contains "volumes, disk-only: says why" "$work/err" "it has volumes"
one_line "volumes, disk-only"
mkdir -p "$work/hostdir"
expect "create with a host folder" 0 "$MSB" create --name vb -v "$work/hostdir:/x"
expect "snapshot of a sandbox with a host folder" 1 "$MSB" snapshot create --disk-only vb x6
contains "host folder: says why" "$work/err" "it shares host folders over virtio-fs (-v DIR:PATH"
one_line "host folder"
cp --sparse=always "$MSB_TEST_GUEST_DIR/rootfs.ext4" "$work/root.raw"
expect "create --root-writable" 0 "$MSB" create --name rw --root-writable "$work/root.raw"
expect "snapshot of a --root-writable sandbox" 1 "$MSB" snapshot create --disk-only rw x7
contains "root-writable: says why" "$work/err" "its root disk is the image itself (--root-writable)"
one_line "root-writable"
[ ! -e "$MSB_HOME/snapshots/x3" ] && [ ! -e "$MSB_HOME/snapshots/x6" ] &&
	[ ! -e "$MSB_HOME/snapshots/x7" ] && ok "refused: no snapshot left" ||
	bad "refused: $(ls "$MSB_HOME/snapshots")"

echo "# $pass passed, $fail failed"
[ "$fail" = 0 ]
