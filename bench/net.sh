#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# net.sh - the guest's network through msb-netd against QEMU's own slirp
# (-netdev user) on the same guest, in the same run, rounds alternating:
#   - TCP throughput, guest -> a server in a test namespace (upload, python3
#     writing zeros) and back (download of 64 MiB with curl);
#   - TCP_RR-style setup: N times connect + 1 byte echoed + close
#     (python3), the rate and the mean latency (timed over the whole loop:
#     the guest's clock ticks in 4 ms steps under TCG, too coarse for
#     one connection);
#   - msb-netd's RSS with 1,000 idle flows (and the slirp process's, for
#     scale).
# Prints the medians and the ratios netd / slirp. Needs root (ip netns)
# and the Debian guest root of tests/integration/netguest_rootfs.sh
# (debootstrap the first time). msb runs inside a network namespace made
# here whose only route is a veth to the server's namespace: nothing
# leaves the machine. The slirp side is build/bench/slirp_netd started
# by msb-vmm in msb-netd's place (MSB_NETD): a QEMU whose hub joins the
# same guest link to a slirp netdev.
#   bench/net.sh [--rr-only] [ROUNDS [RR_COUNT]]   (default 5 500)
#     --rr-only  only the connection setup rounds (no throughput, no RSS)
#   With --rr-only, NETD_B=PATH (a msb-netd outside /tmp, which the jail
#   hides) adds a third sandbox whose netd is PATH, in the same rounds:
#   two builds of netd compared under the same load.
set -euo pipefail
rr_only=false
case ${1:-} in
-h | --help)
	sed -n '3,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
	exit 0
	;;
--rr-only)
	rr_only=true
	shift
	;;
esac
src=$(cd "$(dirname "$0")/.." && pwd)
msb=$src/build/msb
slirp=$src/build/bench/slirp_netd
lab=$src/tests/integration/netd_lab.py
guestpy=$src/tests/integration/netguest.py
rounds=${1:-5} rrn=${2:-500}
py=/usr/bin/python3
for f in "$msb" "$slirp"; do
	[ -x "$f" ] || { echo "net.sh: $f not found: build first (ninja -C build)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "net.sh: needs root (ip netns)" >&2; exit 1; }
img=$("$src/tests/integration/netguest_rootfs.sh" "$src/.cache/images/netguest-rootfs")

work=$(mktemp -d /tmp/msb-bench-net-XXXXXX)
export MSB_HOME=$work/home
A=msbnb$$a I=msbnb$$i
pids=()
cleanup() {
	set +e
	ip netns exec $A "$msb" rm -f bnetd bslirp bnetdb >/dev/null 2>&1
	[ -n "${spid:-}" ] && kill "$spid" 2>/dev/null
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	for ns in $A $I; do ip netns del "$ns" 2>/dev/null; done
	rm -rf "$work"
}
trap cleanup EXIT
m() { ip netns exec $A "$msb" "$@"; }

for ns in $A $I; do
	ip netns add $ns
	ip -n $ns link set lo up
done
ip link add va$$ netns $A type veth peer name vi$$ netns $I
ip -n $A addr add 1.2.3.254/24 dev va$$
ip -n $A link set va$$ up
ip -n $I addr add 1.2.3.4/24 dev vi$$
ip -n $I link set vi$$ up
mkdir -p "$work/www" "$work/s"
head -c 64M /dev/zero >"$work/www/big.bin"
ip netns exec $I "$py" "$lab" serve 1.2.3.4 "$work/www" "$work/s" &
pids+=($!)
for _ in $(seq 300); do [ -e "$work/s/ready" ] && break; sleep 0.1; done
[ -e "$work/s/ready" ] || { echo "net.sh: the server did not start" >&2; exit 1; }

copy=(--patch-copy "$guestpy:/opt/netguest.py")
m run -d --name bnetd --network all "${copy[@]}" "$img" -- sleep 100000 >/dev/null 2>&1
MSB_NETD=$slirp m run -d --name bslirp --network all "${copy[@]}" "$img" -- sleep 100000 >/dev/null 2>&1
sbs=(bnetd bslirp)
if $rr_only && [ -n "${NETD_B:-}" ]; then
	MSB_NETD=$NETD_B m run -d --name bnetdb --network all "${copy[@]}" "$img" -- sleep 100000 >/dev/null 2>&1
	sbs+=(bnetdb)
fi
netd_pid() {
	sed -n 's/.*msb-netd pid \([0-9]*\) (network.*/\1/p' \
		"$MSB_HOME/sandboxes/$1/logs/vmm.log" | tail -1
}
npid=$(netd_pid bnetd) spid=$(netd_pid bslirp)
declare -A netpid=([bnetd]=$npid [bslirp]=$spid)
[ ${#sbs[@]} = 3 ] && netpid[bnetdb]=$(netd_pid bnetdb)
grep -q "hubid=0,netdev=u" "/proc/$spid/cmdline" 2>/dev/null ||
	{ echo "net.sh: the slirp sandbox has no slirp_netd" >&2; exit 1; }
g() { m exec "$1" -- "${@:2}"; }
# field NAME LINE: the value of NAME=VALUE in LINE
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# warm up both (TCG code caches, lwIP and slirp paths)
for sb in "${sbs[@]}"; do
	g $sb python3 /opt/netguest.py rr 1.2.3.4 7 20 >/dev/null
	$rr_only || g $sb curl -sS -o /dev/null http://1.2.3.4/big.bin
done
# the QEMU of sandbox NAME
qemu_pid() {
	local p
	for p in /proc/[0-9]*; do
		case $(tr '\0' ' ' <"$p/cmdline" 2>/dev/null) in
		*"guest=msb-$1:$MSB_HOME/sandboxes/$1/"*)
			echo "${p#/proc/}"
			return
			;;
		esac
	done
}
# CPU time of PID, all threads, in ns
cpu_ns() { cat /proc/"$1"/task/*/schedstat | awk '{ s += $1 } END { printf "%.0f\n", s }'; }
# times PID went to sleep (voluntary context switches), all threads
sleeps() { cat /proc/"$1"/task/*/status | awk '/^voluntary_ctxt/ { s += $2 } END { print s }'; }
declare -A qpid
for sb in "${sbs[@]}"; do
	qpid[$sb]=$(qemu_pid $sb)
	[ -n "${qpid[$sb]}" ] ||
		{ echo "net.sh: the QEMU of $sb not found" >&2; exit 1; }
done
if $rr_only; then
	# besides the rates: CPU time per connection of the guest's QEMU
	# (the guest's cost under TCG) and of msb-netd or slirp's QEMU: the
	# machine is shared, so wall-clock figures move with its load, these
	# much less
	for r in $(seq "$rounds"); do
		for sb in "${sbs[@]}"; do
			qp=${qpid[$sb]} np=${netpid[$sb]}
			q0=$(cpu_ns "$qp") n0=$(cpu_ns "$np") w0=$(sleeps "$np")
			l=$(g $sb python3 /opt/netguest.py rr 1.2.3.4 7 "$rrn")
			q1=$(cpu_ns "$qp") n1=$(cpu_ns "$np") w1=$(sleeps "$np")
			echo "$w0 $w1" | awk -v n="$rrn" '{ printf "%.2f\n", ($2 - $1) / n }' >>"$work/$sb.sleeps"
			field rate "$l" >>"$work/$sb.rate"
			echo $(((q1 - q0) / rrn / 1000)) >>"$work/$sb.qcpu"
			echo $(((n1 - n0) / rrn / 1000)) >>"$work/$sb.ncpu"
			echo "round $r: $sb $l guest_cpu=$(tail -1 "$work/$sb.qcpu")us net_cpu=$(tail -1 "$work/$sb.ncpu")us net_sleeps=$(tail -1 "$work/$sb.sleeps")" >&2
		done
	done
	awk -v nr="$(median <"$work/bnetd.rate")" \
		-v sr="$(median <"$work/bslirp.rate")" -v rounds="$rounds" \
		-v nq="$(median <"$work/bnetd.qcpu")" -v sq="$(median <"$work/bslirp.qcpu")" \
		-v nn="$(median <"$work/bnetd.ncpu")" -v sn="$(median <"$work/bslirp.ncpu")" \
		-v nw="$(median <"$work/bnetd.sleeps")" -v sw="$(median <"$work/bslirp.sleeps")" \
		-v rrn="$rrn" 'BEGIN {
		printf "medians of %d rounds        netd        slirp   netd/slirp\n", rounds
		printf "connect+1B+close (x%d)  %6.0f/s     %6.0f/s     %5.2f\n", rrn, nr, sr, nr / sr
		printf "  mean latency           %6.0f us    %6.0f us    %5.2f\n", 1e6 / nr, 1e6 / sr, sr / nr
		printf "  CPU, guest QEMU        %6.0f us    %6.0f us    %5.2f\n", nq, sq, nq / sq
		printf "  CPU, netd / slirp      %6.0f us    %6.0f us    %5.2f\n", nn, sn, nn / sn
		printf "  sleeps, netd / slirp   %9.2f     %9.2f     %5.2f\n", nw, sw, nw / sw
	}'
	if [ ${#sbs[@]} = 3 ]; then
		awk -v nr="$(median <"$work/bnetdb.rate")" \
			-v sr="$(median <"$work/bslirp.rate")" \
			-v nq="$(median <"$work/bnetdb.qcpu")" -v sq="$(median <"$work/bslirp.qcpu")" \
			-v nn="$(median <"$work/bnetdb.ncpu")" -v sn="$(median <"$work/bslirp.ncpu")" \
			-v nw="$(median <"$work/bnetdb.sleeps")" -v sw="$(median <"$work/bslirp.sleeps")" 'BEGIN {
			printf "NETD_B                    netd_b        slirp   netd_b/slirp\n"
			printf "connect+1B+close          %6.0f/s     %6.0f/s     %5.2f\n", nr, sr, nr / sr
			printf "  mean latency           %6.0f us    %6.0f us    %5.2f\n", 1e6 / nr, 1e6 / sr, sr / nr
			printf "  CPU, guest QEMU        %6.0f us    %6.0f us    %5.2f\n", nq, sq, nq / sq
			printf "  CPU, netd_b / slirp    %6.0f us    %6.0f us    %5.2f\n", nn, sn, nn / sn
			printf "  sleeps, netd_b / slirp %9.2f     %9.2f     %5.2f\n", nw, sw, nw / sw
		}'
	fi
	exit 0
fi
for r in $(seq "$rounds"); do
	for sb in bnetd bslirp; do
		d=$(g $sb curl -sS -o /dev/null -w '%{speed_download}' http://1.2.3.4/big.bin)
		echo "$d" >>"$work/$sb.down"
		u=$(g $sb python3 /opt/netguest.py up 1.2.3.4 8083 $((64 << 20)))
		field MBps "$u" >>"$work/$sb.up"
		l=$(g $sb python3 /opt/netguest.py rr 1.2.3.4 7 "$rrn")
		field rate "$l" >>"$work/$sb.rate"
	done
	echo "round $r: netd down $(tail -1 "$work/bnetd.down" | awk '{printf "%.1f", $1 / 1e6}') MB/s" \
		"up $(tail -1 "$work/bnetd.up") MB/s rr $(tail -1 "$work/bnetd.rate")/s;" \
		"slirp down $(tail -1 "$work/bslirp.down" | awk '{printf "%.1f", $1 / 1e6}') MB/s" \
		"up $(tail -1 "$work/bslirp.up") MB/s rr $(tail -1 "$work/bslirp.rate")/s" >&2
done

# 1,000 idle flows: RSS of netd (and of the slirp process) before and with
rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
idle() {
	local sb=$1 pid=$2
	rss "$pid" >"$work/$sb.rss0"
	m exec --ulimit nofile=4096 "$sb" -- python3 /opt/netguest.py hold \
		1.2.3.4 7 1000 /tmp/held >"$work/$sb.hold" 2>&1 </dev/null &
	local h=$!
	for _ in $(seq 600); do
		g "$sb" test -e /tmp/held 2>/dev/null && break
		sleep 0.2
	done
	rss "$pid" >"$work/$sb.rss1"
	g "$sb" rm -f /tmp/held
	wait $h
}
idle bnetd "$npid"
idle bslirp "$spid"
nb=$(cat "$work/bnetd.rss0") na=$(cat "$work/bnetd.rss1")
sb=$(cat "$work/bslirp.rss0") sa=$(cat "$work/bslirp.rss1")
held_n=$(cat "$work/bnetd.hold") held_s=$(cat "$work/bslirp.hold")

med() { median <"$work/$1"; }
awk -v nd="$(med bnetd.down)" -v sd="$(med bslirp.down)" \
	-v nu="$(med bnetd.up)" -v su="$(med bslirp.up)" \
	-v nr="$(med bnetd.rate)" -v sr="$(med bslirp.rate)" \
	-v rounds="$rounds" -v rrn="$rrn" 'BEGIN {
	printf "medians of %d rounds        netd        slirp   netd/slirp\n", rounds
	printf "download (curl, 64 MiB)  %6.1f MB/s  %6.1f MB/s  %5.2f\n", nd / 1e6, sd / 1e6, nd / sd
	printf "upload (python3, 64 MiB) %6.1f MB/s  %6.1f MB/s  %5.2f\n", nu, su, nu / su
	printf "connect+1B+close (x%d)  %6.0f/s     %6.0f/s     %5.2f\n", rrn, nr, sr, nr / sr
	printf "  mean latency           %6.0f us    %6.0f us    %5.2f\n", 1e6 / nr, 1e6 / sr, sr / nr
}'
echo "1,000 idle flows: msb-netd RSS $((nb / 1024)).$(((nb % 1024) * 10 / 1024)) -> $((na / 1024)).$(((na % 1024) * 10 / 1024)) MiB ($held_n);" \
	"slirp's QEMU $((sb / 1024)) -> $((sa / 1024)) MiB ($held_s)"
