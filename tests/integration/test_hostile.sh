#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A hostile guest attacks the host, with real VMs: a compromised agent
# (tests/tools/hostile.c takes PID 1's channel) forges listings, frames,
# floods and stalls; guest root writes a hostile ext4 volume; an honest
# agent plays the two-copy symlink trick, setuid files and a sparse file.
# Every attack must fail safely: nothing written outside the destination,
# host files unchanged, a clear one-line `msb: ...` error naming the
# entry, and the sandbox and the host still usable.
#   test_hostile.sh PATH/TO/msb PATH/TO/hostile PATH/TO/ext4evil
set -uo pipefail
MSB=$1
HOSTILE=$2
EXT4EVIL=$3
export MSB_HOME
MSB_HOME=$(mktemp -d /tmp/msb-hostile-test-XXXXXX)
unset MSB_ACCEL MSB_AGENT_TIMEOUT_MS
PATH=$PATH:/usr/sbin:/sbin # mkfs.ext4
work=$(mktemp -d /tmp/msb-hostile-work-XXXXXX)
cleanup() {
	"$MSB" rm -f box idle >/dev/null 2>&1
	rm -rf "$MSB_HOME" "$work"
}
trap cleanup EXIT
umask 022

. "$(dirname "$0")/lib.sh"

# Every call is bounded: a hang is a failure (exit 137: SIGKILL), never a
# stuck test.
m() { timeout --preserve-status -s KILL "${LIMIT:-60}" "$MSB" "$@"; }
# gave_up DESC: the last call failed by itself (not killed as hung).
gave_up() {
	if [ "$rc" != 0 ] && [ "$rc" != 137 ]; then ok "$1: exit $rc"; else
		bad "$1: exit $rc${2:+ (}${2:-}${2:+)}"
		sed 's/^/    stderr: /' "$work/err" | tail -3
	fi
}
vlog=$MSB_HOME/sandboxes/box/logs/vmm.log
klog=$MSB_HOME/sandboxes/box/logs/kernel.log
status_of() { "$MSB" ls | awk -v n="$1" '$1 == n { print $2 }'; }
not_running() { [ "$(status_of "$1")" != running ]; }
stopped() { [ "$(status_of "$1")" = stopped ]; }
# wait_for SECONDS CMD...: until CMD succeeds, or fail after SECONDS.
wait_for() {
	local until=$((SECONDS + $1))
	shift
	while ! "$@"; do
		[ "$SECONDS" -ge "$until" ] && return 1
		sleep 0.2
	done
}
# How many times the tool said TEXT on stream 0 (the supervisor logs it).
said() { cat "$vlog.1" "$vlog" 2>/dev/null | grep -c "hostile: $1"; }
said_ge() { [ "$(said "$1")" -ge "$2" ]; }

# The canary: host files an attack would change. snap prints its state.
canary=$work/canary
mkdir -p "$canary/dir" "$work/d"
echo precious >"$canary/file"
chmod 644 "$canary/file"
snap() {
	find "$canary" -printf '%p %y %m %s %l\n' | LC_ALL=C sort
	find "$canary" -type f -exec md5sum {} + | LC_ALL=C sort
}
before=$(snap)
# contained DESC CASE: nothing but dst appeared in the case's folder, it
# kept its mode, and the canary is unchanged.
contained() {
	local p=$work/d/$2 extra
	extra=$(find "$p" -mindepth 1 -maxdepth 1 ! -name dst -printf '%f ')
	if [ -z "$extra" ] && [ "$(stat -c %a "$p")" = 755 ] &&
		[ "$(snap)" = "$before" ]; then
		ok "$1: nothing outside the destination"
	else
		bad "$1: written outside the destination: $(stat -c '%a %n' "$p" "$p"/* | tr '\n' ' ')"
		diff <(echo "$before") <(snap) | sed 's/^/    /' | head -10
		# Put the canary back for the next cases.
		rm -rf "$canary" "${p:?}"/* && mkdir -p "$canary/dir" "$p" &&
			echo precious >"$canary/file" && chmod 644 "$canary/file" &&
			chmod 755 "$p"
	fi
}
# one_line DESC TEXT: the error is one `msb: ` line quoting TEXT, with no
# raw control characters.
one_line() {
	local e
	e=$(grep -v '^msb: warning:' "$work/err")
	if [ "$(printf '%s\n' "$e" | wc -l)" = 1 ] && [[ $e == "msb: "* ]] &&
		grep -qF -- "$2" <<<"$e" && ! LC_ALL=C grep -q '[[:cntrl:]]' <<<"$e"; then
		ok "$1: message quotes $2"
	else
		bad "$1: message does not quote $2: $(head -c 300 "$work/err" | cat -v)"
	fi
}
# take DESC ARGS...: start the tool in box; wait until it holds the channel.
take() {
	local desc=$1 n
	shift
	n=$(said holding)
	expect "$desc: the tool starts" 0 m exec box -- /hostile "$@"
	wait_for 60 said_ge holding $((n + 1)) || bad "$desc: the tool never took the channel"
}
# give_back DESC: ask the tool to detach; the agent answers again.
give_back() {
	local n
	n=$(said giving)
	m cp box:/.hostile-release "$work/rel" >/dev/null 2>&1
	if wait_for 60 said_ge giving $((n + 1)) &&
		m exec box -- true >/dev/null 2>&1; then
		ok "$1: the sandbox is usable again"
	else
		bad "$1: the sandbox is not usable again"
	fi
}
# forged CASE TEXT SPEC...: a forged tree at /evil, copied out into
# out/CASE/dst: must fail, quote TEXT, write nothing outside dst.
forged() {
	local case=$1 text=$2
	shift 2
	mkdir -p "$work/d/$case"
	take "forged $case" -t 120 list /evil "$@"
	expect "forged $case: cp fails" 1 m cp box:/evil "$work/d/$case/dst"
	one_line "forged $case" "$text"
	contained "forged $case" "$case"
	give_back "forged $case"
}

# --- a hostile ext4 image, made on the host with raw entries ---
vol=$work/vol
mkdir -p "$vol"/{dotdot,traverse,slash,empty,dup,cycle,symfile,esc,holes}
for d in "$vol"/*; do echo data >"$d/f"; done
echo x >"$vol/holes/big"
echo x >"$vol/holes/huge"
img=$work/evil.img
mkfs.ext4 -q -F -d "$vol" "$img" 8M 2>"$work/err" || bad "mkfs.ext4: $(cat "$work/err")"
if "$EXT4EVIL" "$img" \
	link /dotdot .. /dotdot/f \
	link /traverse "../../../../../../../../../..$canary/x" /traverse/f \
	link /slash a/b /slash/f \
	link /empty "" /empty/f \
	link /dup f /dup/f \
	link /cycle up / \
	symlink /symfile v "$canary/pwned" \
	link /symfile v /symfile/f \
	link /esc $'\e]0;owned\a\e[31mred\nnext' /esc/f \
	link /esc $'\e]0;owned\a\e[31mred\nnext' /esc/f \
	size /holes/big $((4 << 30)) \
	size /holes/huge $((1 << 40)) 2>"$work/err"; then
	ok "hostile ext4 image made"
else
	bad "ext4evil: $(cat "$work/err")"
fi

# --- one sandbox for the attacks through the agent channel ---
expect "volume create" 0 m volume create --quota 8m evilvol
LIMIT=120 expect "boot" 0 m run -d --name box -v evilvol:/v
expect "copy the tool in" 0 m cp "$HOSTILE" box:/hostile
expect "copy the image in" 0 m cp "$img" box:/evil.img

# --- forged listings ---
forged dotdot '`..`' 'd:0777:0:..'
forged dot '`.`' 'd:0777:0:.'
forged empty '``' 'f:0644:5:'
forged abs '`/abs`' 'f:0644:5:/abs'
forged slash '`a/b`' 'f:0644:5:a/b'
forged parent '`../x`' 'f:0644:5:../x'
forged deep '`../../' "f:0644:5:../../../../../../../../../..$canary/x"
forged dup '`dup`' 'f:0644:5:ok' 'f:0644:5:dup' 'f:0644:5:dup'
forged symfile '`v`' "l:0777:$canary/pwned:v" 'f:0644:5:v'
forged symdir '`v`' "l:0777:$canary/dir:v" 'd:0777:0:v'
# A legal name with control characters, quoted in an error (it repeats).
ctl=$'\e]0;owned\a\e[31mred\nnext'
forged control 'red' "f:0644:5:$ctl" "f:0644:5:$ctl"

# setuid, setgid and sticky bits from a forged listing are dropped.
mkdir -p "$work/d/modes"
take "forged modes" -t 120 list /evil 'f:04755:5:suid' 'f:02755:5:sgid' 'd:01777:0:sticky'
expect "forged modes: cp" 0 m cp box:/evil "$work/d/modes/dst"
modes=$(stat -c %a "$work/d/modes/dst/suid" "$work/d/modes/dst/sgid" \
	"$work/d/modes/dst/sticky" 2>&1 | tr '\n' ' ')
[ "$modes" = "755 755 755 " ] && ok "forged modes: no setuid, setgid or sticky bit" ||
	bad "forged modes: modes on the host: $modes"
give_back "forged modes"

# Size and count caps against a lying agent.
mkdir -p "$work/d/big" "$work/d/huge" "$work/d/loop"
take "more data than stated" -t 120 list /evil 'f:0644:4/8m:big'
expect "more data than stated: cp fails" 1 m cp --max-size 1m box:/evil "$work/d/big/dst"
one_line "more data than stated" 'max-size'
used=$(du -sk "$work/d/big" | cut -f1)
[ "$used" -lt 1200 ] && ok "more data than stated: at most the cap written (${used} KiB)" ||
	bad "more data than stated: ${used} KiB written"
contained "more data than stated" big
give_back "more data than stated"
take "huge stated size" -t 120 list /evil 'f:0644:1t/64k:huge'
# The entry claims 1 TiB and sends 64 KiB: refusing it and copying what
# came are both safe; a file bigger than the cap (even sparse) is not.
m cp --max-size 1g box:/evil "$work/d/huge/dst" >"$work/out" 2>"$work/err"
rc=$?
[ "$rc" = 0 ] || [ "$rc" = 1 ] && ok "huge stated size: cp exit $rc" || bad "huge stated size: cp exit $rc"
[ "$rc" = 0 ] || one_line "huge stated size" 'huge`'
apparent=$(find "$work/d/huge" -type f -printf '%s\n' | sort -n | tail -1)
used=$(du -sk "$work/d/huge" | cut -f1)
[ "${apparent:-0}" -le $((1 << 30)) ] && [ "$used" -lt 1200 ] &&
	ok "huge stated size: no file past the cap (largest ${apparent:-0} bytes, ${used} KiB used)" ||
	bad "huge stated size: a file of $apparent bytes, ${used} KiB used"
contained "huge stated size" huge
give_back "huge stated size"
take "directory cycle" -t 120 list /evil 'r:0755:0:loop' 'f:0644:5:x'
expect "directory cycle: cp fails" 1 m cp --max-files 50 box:/evil "$work/d/loop/dst"
one_line "directory cycle" 'max-files'
files=$(find "$work/d/loop" | wc -l)
[ "$files" -le 60 ] && ok "directory cycle: at most the cap created ($files)" ||
	bad "directory cycle: $files files created"
contained "directory cycle" loop
give_back "directory cycle"

# --- an honest agent, a hostile guest ---
# Two copies into the same destination: the symlink the first one left
# must not be followed by the second.
hostdir=$work/hostdir
mkdir -p "$hostdir" "$work/d/two"
chmod 755 "$hostdir"
expect "two copies: a symlink in the guest" 0 m exec box -- sh -c "mkdir -p /d && ln -s '$hostdir' /d/v"
expect "two copies: first copy" 0 m cp box:/d "$work/d/two"
expect "two copies: the symlink becomes a folder" 0 m exec box -- sh -c 'rm /d/v && mkdir /d/v && echo pwned >/d/v/pwned && chmod 777 /d/v'
m cp box:/d "$work/d/two" >"$work/out.txt" 2>"$work/err"
[ ! -e "$hostdir/pwned" ] && [ "$(stat -c %a "$hostdir")" = 755 ] &&
	ok "two copies: the host folder behind the old symlink is untouched" ||
	bad "two copies: wrote through the symlink: $(ls -la "$hostdir" | tr '\n' ' ')"
# setuid stripping on an honest copy-out.
mkdir -p "$work/d/suid"
expect "setuid: a 04755 file in the guest" 0 m exec box -- sh -c 'echo x >/s && chmod 4755 /s && chmod 2755 /s && chmod 6755 /s'
expect "setuid: copy out" 0 m cp box:/s "$work/d/suid/s"
[ "$(stat -c %a "$work/d/suid/s" 2>&1)" = 755 ] && ok "setuid: the file arrives without setuid/setgid" ||
	bad "setuid: mode on the host $(stat -c %a "$work/d/suid/s" 2>&1)"
# Sparse preservation: 2 GiB of holes stays (almost) nothing on the host.
mkdir -p "$work/d/sparse"
expect "sparse: a 2 GiB sparse file in the guest" 0 m exec box -- sh -c 'truncate -s 2G /sp && echo end >>/sp'
LIMIT=180 expect "sparse: copy out" 0 m cp box:/sp "$work/d/sparse/sp"
size=$(stat -c %s "$work/d/sparse/sp" 2>/dev/null)
kib=$(du -k "$work/d/sparse/sp" 2>/dev/null | cut -f1)
[ "$size" = $((2 * 1024 * 1024 * 1024 + 4)) ] && ok "sparse: size kept" || bad "sparse: size $size"
[ -n "$kib" ] && [ "$kib" -lt 1024 ] && ok "sparse: holes kept (${kib} KiB used)" || bad "sparse: ${kib} KiB used on the host"
rm -f "$work/d/sparse/sp"

# --- malformed frames and replies ---
take "malformed frames" -t 120 frames garbage unknown error0
MSB_AGENT_TIMEOUT_MS=3000 LIMIT=30 expect "malformed reply to a stat: cp fails" 1 m cp box:/etc/hostname "$work/d/x"
one_line "malformed reply to a stat" "msb: "
MSB_AGENT_TIMEOUT_MS=3000 LIMIT=30 m exec box -- true >"$work/out.txt" 2>"$work/err"
rc=$?
gave_up "malformed reply to an exec"
[ ! -e "$work/d/x" ] && ok "malformed reply: nothing written" || bad "malformed reply: out/x written"
give_back "malformed frames"

# --- a frozen agent: every call ends with a timeout error ---
take "stall" -t 120 stall
start=$SECONDS
MSB_AGENT_TIMEOUT_MS=3000 LIMIT=20 m exec box -- true >"$work/out.txt" 2>"$work/err"
rc=$?
gave_up "stall: exec fails" "137: hung"
[ $((SECONDS - start)) -lt 15 ] && ok "stall: exec gave up in $((SECONDS - start)) s" || bad "stall: exec took $((SECONDS - start)) s"
contains "stall: exec says the agent did not answer" "$work/err" "did not answer"
start=$SECONDS
MSB_AGENT_TIMEOUT_MS=3000 LIMIT=20 expect "stall: cp fails" 1 m cp box:/etc/hostname "$work/d/y"
[ $((SECONDS - start)) -lt 15 ] && ok "stall: cp gave up in $((SECONDS - start)) s" || bad "stall: cp took $((SECONDS - start)) s"
contains "stall: cp says the agent did not answer" "$work/err" "did not answer"
give_back "stall"

# The same forged listings copied out as a tar (after the checks that
# count lines of the supervisor's log, which these push out of its window).
# forged_tar CASE TEXT SPEC...: the same, copied out as a tar to stdout:
# must fail, quote TEXT, and no member of what was written is absolute or
# has `..`.
forged_tar() {
	local case=$1 text=$2
	shift 2
	take "forged tar $case" -t 120 list /evil "$@"
	expect "forged tar $case: cp - fails" 1 sh -c "\"$MSB\" cp box:/evil - >\"$work/d/$case.tar\""
	one_line "forged tar $case" "$text"
	if tar -tf "$work/d/$case.tar" 2>/dev/null | grep -qE '(^/|(^|/)\.\.(/|$))'; then
		bad "forged tar $case: a member escapes: $(tar -tf "$work/d/$case.tar" 2>/dev/null | head -3)"
	else
		ok "forged tar $case: every member relative"
	fi
	give_back "forged tar $case"
}
forged_tar dotdot '`..`' 'd:0777:0:..'
forged_tar parent '`../x`' 'f:0644:5:../x'
forged_tar abs '`/abs`' 'f:0644:5:/abs'

# --- the hostile volume goes over the volume's block device ---
expect "volume: dd the image over its device" 0 m exec box -- sh -c '
	dev=$(awk "\$2 == \"/v\" { print \$1 }" /proc/mounts)
	[ -b "$dev" ] || exit 9
	umount /v && dd if=/evil.img of="$dev" bs=1M conv=fsync 2>/dev/null && sync'

# --- log caps ---
# The serial console: 12 MiB of text; kernel.log stays within its cap.
LIMIT=300 expect "console flood" 0 m exec box -- /hostile -t 100 console 12m
kl=$(cat "$klog" "$klog".* 2>/dev/null | wc -c)
[ "$kl" -lt $((9 * 1024 * 1024)) ] && ok "kernel.log capped ($kl bytes)" || bad "kernel.log grew to $kl bytes"
# Error frames on stream 0, as fast as the port takes them.
guest_lines() { cat "$vlog.1" "$vlog" 2>/dev/null | grep -c 'guest agent says'; }
n=$(guest_lines)
expect "log flood: the tool starts" 0 m exec box -- /hostile -t 100 flood 40000
# Not an assertion: the flood has begun once the supervisor logs it.
more_guest_lines() { [ "$(guest_lines)" -gt "$n" ]; }
wait_for 60 more_guest_lines || bad "log flood: nothing reached vmm.log"
if wait_for 120 timeout --preserve-status -s KILL 10 "$MSB" exec box -- true >/dev/null 2>&1; then
	ok "log flood: the sandbox is usable again"
else
	bad "log flood: the sandbox is not usable again"
fi
vl=$(cat "$vlog" "$vlog".* 2>/dev/null | wc -c)
[ "$vl" -lt $((9 * 1024 * 1024)) ] && ok "vmm.log capped ($vl bytes)" || bad "vmm.log grew to $vl bytes"
# The console is the guest's own text; vmm.log records are the supervisor's.
forged_lines=$(cat "$vlog" "$vlog".* 2>/dev/null | grep -c 'FORGED msb-vmm')
[ "$forged_lines" -gt 0 ] && ok "the flood's text is in vmm.log" || bad "nothing of the flood in vmm.log"
forged_lines=$(cat "$vlog" "$vlog".* 2>/dev/null | grep -c '^FORGED')
[ "$forged_lines" = 0 ] && ok "no forged log records" || bad "$forged_lines forged log records"

# --- an oversized frame: the supervisor stops the VM and says why ---
# (The tool's "holding" line may be rate-limited right after the flood:
# the VM stopping is the sign here.)
expect "oversized frame: the tool starts" 0 m exec box -- /hostile -t 60 frames oversize
if wait_for 60 not_running box; then
	ok "oversized frame: the VM was stopped ($(status_of box))"
else
	bad "oversized frame: box still $(status_of box)"
fi
contains "oversized frame: vmm.log says why" "$vlog" "invalid frame length"

# --- msb volume ls/cp on the hostile volume (no VM) ---
volcase() { # CASE TEXT: copy /CASE out, must fail quoting TEXT
	mkdir -p "$work/d/vol-$1"
	expect "volume $1: cp fails" 1 m volume cp "evilvol:/$1" "$work/d/vol-$1/dst"
	one_line "volume $1" "$2"
	contained "volume $1" "vol-$1"
}
expect "volume ls of the hostile root" 0 m volume ls evilvol /
LC_ALL=C grep -q '[[:cntrl:]]' "$work/out" && bad "volume ls: raw control characters" || ok "volume ls: no raw control characters"
m volume ls evilvol /esc >"$work/out" 2>"$work/err"
LC_ALL=C grep -q $'\e' "$work/out" "$work/err" && bad "volume ls /esc: an escape sequence printed raw" ||
	ok "volume ls /esc: names escaped"
volcase dotdot '`..`'
volcase traverse '`../../'
volcase slash '`a/b`'
volcase empty '``'
volcase dup '`f`'
volcase cycle '/cycle/up'
volcase symfile '`v`'
volcase esc 'red'
# A file of holes: 4 GiB stays sparse; 1 TiB is over the default limit.
mkdir -p "$work/d/vol-holes"
LIMIT=120 expect "volume holes: 4 GiB of holes" 0 m volume cp evilvol:/holes/big "$work/d/vol-holes/big"
size=$(stat -c %s "$work/d/vol-holes/big" 2>/dev/null)
kib=$(du -k "$work/d/vol-holes/big" 2>/dev/null | cut -f1)
[ "$size" = $((4 << 30)) ] && [ -n "$kib" ] && [ "$kib" -lt 1024 ] &&
	ok "volume holes: size kept, holes kept (${kib} KiB used)" || bad "volume holes: size $size, ${kib} KiB used"
rm -f "$work/d/vol-holes/big"
expect "volume holes: 1 TiB refused" 1 m volume cp evilvol:/holes/huge "$work/d/vol-holes/huge"
one_line "volume holes: 1 TiB" 'max-size'
[ ! -e "$work/d/vol-holes/huge" ] && ok "volume holes: nothing left of the refused file" ||
	bad "volume holes: $(ls -ls "$work/d/vol-holes")"
contained "volume holes" vol-holes
[ ! -e "$canary/pwned" ] && [ ! -e "$canary/x" ] && ok "volume: no file created through the canary" ||
	bad "volume: files created in the canary"

# --- the idle timeout counts the host's activity, not guest frames ---
LIMIT=120 expect "idle: boot" 0 m run -d --name idle --idle-timeout 5
expect "idle: copy the tool in" 0 m cp "$HOSTILE" idle:/hostile
expect "idle: keepalive starts" 0 m exec idle -- /hostile -t 90 keepalive
if wait_for 40 stopped idle; then
	ok "idle: stopped despite guest frames"
else
	bad "idle: still $(status_of idle) 40 s after the last command"
fi

# --- the host stays usable ---
LIMIT=120 expect "the host still runs sandboxes" 0 m run -- true

echo "passed $pass, failed $fail"
[ "$fail" = 0 ]
