#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# netd_rr.sh - msb-netd's cost per connection, without a VM: the TAP
# vehicle of tests/integration/test_netd.sh (a TAP device in a "guest"
# namespace, bridged to netd's link by tapbridge; a server in an
# "internet" namespace) and N times connect + 1 byte echoed + close from
# the guest namespace (netguest.py rr). Prints what netd did per
# connection: frames each way (its stats) and, with WRAP, whatever the
# wrapper measured. Wall-clock figures here are the host kernel's, not a
# guest's: use bench/net.sh for the latency a sandbox sees.
#   bench/netd_rr.sh [N]                 (default 500; needs root)
#   NETD=build/bench/slirp_netd bench/netd_rr.sh   (QEMU's slirp instead)
#   WRAP='strace -c -f -o FILE' bench/netd_rr.sh 500
#   WRAP='valgrind --tool=callgrind --callgrind-out-file=FILE' ...
# WRAP is split on spaces and put before msb-netd's command line.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
netd=${NETD:-$src/build/src/netd/msb-netd}
bridge=$src/build/tests/tapbridge
lab=$src/tests/integration/netd_lab.py
guestpy=$src/tests/integration/netguest.py
py=/usr/bin/python3
n=${1:-500}
for f in "$netd" "$bridge"; do
	[ -x "$f" ] || { echo "netd_rr.sh: $f not found: build first" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "netd_rr.sh: needs root (ip netns)" >&2; exit 1; }

work=$(mktemp -d /tmp/msb-bench-rr-XXXXXX)
G=msbr$$g N=msbr$$n I=msbr$$i
pids=()
cleanup() {
	set +e
	[ -s "$work/netd.pid" ] && kill "$(cat "$work/netd.pid")" 2>/dev/null
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	for ns in $G $N $I; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
	done
	for ns in $G $N $I; do ip netns del "$ns" 2>/dev/null; done
	rm -rf "$work"
}
trap cleanup EXIT
# until CMD succeeds, for at most SECONDS
wait_for() {
	local secs=$1 end
	shift
	end=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $end ] || { echo "netd_rr.sh: timed out: $*" >&2; exit 1; }
		sleep 0.1
	done
}

for ns in $G $N $I; do
	ip netns add $ns
	ip -n $ns link set lo up
done
ip link add vn$$ netns $N type veth peer name vi$$ netns $I
ip -n $N addr add 1.2.3.254/24 dev vn$$
ip -n $N link set vn$$ up
ip -n $I addr add 1.2.3.4/24 dev vi$$
ip -n $I link set vi$$ up
mkdir -p "$work/www" "$work/s"
ip netns exec $I "$py" "$lab" serve 1.2.3.4 "$work/www" "$work/s" &
pids+=($!)

cat >"$work/netd.json" <<EOF
{"sandbox": "rr", "guest_mac": "02:00:00:00:00:02",
 "guest_ip": "100.96.0.2", "gateway_mac": "02:00:00:00:00:01",
 "gateway_ip": "100.96.0.1", "prefix": 30, "mtu": 1500,
 "policy": ["preset all"], "resolvers": ["1.2.3.53"]}
EOF
read -ra wrap <<<"${WRAP:-}"
ip netns exec $G "$bridge" -p "$work/netd.pid" mt0 ip netns exec $N \
	"${wrap[@]}" "$netd" --link-fd 3 --config "$work/netd.json" \
	--log "$work/net.log" --stats "$work/stats.json" &
pids+=($!)
if [ -n "${NETD:-}" ]; then
	wait_for 60 test -s "$work/netd.pid"
	sleep 1
else
	wait_for 60 test -s "$work/stats.json"
fi
wait_for 20 ip -n $G link show mt0
ip -n $G link set mt0 address 02:00:00:00:00:02
ip -n $G link set mt0 up
ip -n $G addr add 100.96.0.2/30 dev mt0
ip -n $G route add default via 100.96.0.1
wait_for 20 test -e "$work/s/ready"
ip netns exec $G "$py" "$guestpy" rr 1.2.3.4 7 10 >/dev/null # warm up
[ -n "${SNIFF:-}" ] && { ip netns exec $G $SNIFF mt0 & sleep 0.5; ip netns exec $G "$py" "$guestpy" rr 1.2.3.4 7 2; wait $!; }
sleep 1.2 # the stats file is written at most once a second
cp "$work/stats.json" "$work/stats0.json" 2>/dev/null || true
npid=$(cat "$work/netd.pid")
# CPU time (ns, all threads) and voluntary context switches (wakeups)
cpu() {
	cat /proc/"$npid"/task/*/schedstat | awk '{ s += $1 } END { print s }'
	cat /proc/"$npid"/task/*/status |
		awk '/^voluntary_ctxt/ { s += $2 } END { print s }'
}
cpu >"$work/cpu0"
ip netns exec $G "$py" "$guestpy" rr 1.2.3.4 7 "$n"
cpu >"$work/cpu1"
paste "$work/cpu0" "$work/cpu1" | awk -v n="$n" '
	NR == 1 { printf "per connection: %.1f us of CPU", ($2 - $1) / 1e3 / n }
	NR == 2 { printf ", %.2f wakeups\n", ($2 - $1) / n }'
# let the closes finish and the stats be written
sleep 2.5
[ -n "${NETD:-}" ] || "$py" - "$work/stats0.json" "$work/stats.json" "$n" <<'EOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
n = int(sys.argv[3])
d = {k: b[k] - a[k] for k in ("rx_frames", "tx_frames", "rx_bytes", "tx_bytes")}
print("per connection: guest->netd %.2f frames, netd->guest %.2f frames"
      % (d["rx_frames"] / n, d["tx_frames"] / n))
EOF
# netd first (and alone: its wrapper writes its report at exit)
kill "$(cat "$work/netd.pid")"
wait "${pids[1]}" 2>/dev/null || true
