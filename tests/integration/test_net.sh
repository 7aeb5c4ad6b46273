#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The network plumbing (docs/network.md, "Using the network"): the guest's
# lo in every sandbox; eth0 with the sandbox's address, its default route,
# /etc/hosts and /etc/resolv.conf for a sandbox with a network; no device
# at all with --network none; the network options are checked (usage
# errors), stored with the sandbox, shown by inspect and kept across
# stop/start; the supervisor says in vmm.log what is behind the device;
# msb metrics shows msb-netd's counters (bytes, packets, open flows,
# denials) rising with guest traffic, and keeps them when netd dies.
# Two sandboxes are booted: one with the default network (kept for the
# cases that need a running guest, stopped and started once), one with
# --network none.
set -u
msb=$1
work=$(mktemp -d)
export MSB_HOME="$work/home"
trap '"$msb" rm -f netbox netbusy >/dev/null 2>&1; rm -rf "$work"' EXIT
. "$(dirname "$0")/lib.sh"

# one_line DESC: stderr is one line starting "msb: " naming --help
one_line() {
	if [ "$(wc -l <"$work/err")" -eq 1 ] && grep -q "^msb: .*--help'$" "$work/err"; then
		ok "$1: one line"
	else
		bad "$1: stderr: $(head -c 300 "$work/err")"
	fi
}

# metric KEY: the number KEY has in $work/out (msb metrics --json), 0 if none
metric() {
	v=$(sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" "$work/out")
	echo "${v:-0}"
}

# metrics_until DESC COND: msb metrics --json netbox until COND (shell,
# reading $work/out with metric) holds; 30 s at most
metrics_until() {
	end=$(($(date +%s) + 30))
	while :; do
		"$msb" metrics --json netbox >"$work/out" 2>"$work/err" &&
			eval "$2" && {
			ok "$1"
			return
		}
		if [ "$(date +%s)" -ge "$end" ]; then
			bad "$1: $(cat "$work/out" "$work/err")"
			return
		fi
		sleep 0.2
	done
}

# --- options: usage errors, before anything boots ---
while IFS='|' read -r args needle desc; do
	[ -n "$args" ] || continue
	# shellcheck disable=SC2086
	expect "$desc" 2 "$msb" run $args -- true
	one_line "$desc"
	contains "$desc: names it" "$work/err" "$needle"
done <<'TABLE'
--network open|`open`|--network: an unknown mode
--allow 10.0.0|`allow 10.0.0`|--allow: a bad address
--deny foo:tcp|`deny foo:tcp`|--deny: an unknown group
--allow *:tcp:0|`allow *:tcp:0`|--allow: port 0
--block-domain a..b|a..b|--block-domain: an empty label
--block-domain-suffix .|suffix|--block-domain-suffix: nothing under it
-p 8080|`8080`|-p: no guest port
-p 8080:70000|`8080:70000`|-p: a port past 65535
-p 1.2.3:8080:80|`1.2.3`|-p: a bad host address
-p ::1:8080:80|`::1:8080:80`|-p: IPv6 without brackets
-p 8080:80/sctp|`8080:80/sctp`|-p: an unknown protocol
--network none --allow host|needs a network|none with a rule
--network none -p 8080:80|needs a network|none with a port
TABLE

# --- stored: create (no boot), inspect ---
expect "create with network options" 0 "$msb" create --name netcfg \
	--network all --allow host:tcp:11434 --deny 10.0.0.0/8 \
	--block-domain evil.example --block-domain-suffix .tracker.example \
	-p 8080:80 -p '[::1]:5353:53/udp'
expect "inspect it" 0 "$msb" inspect netcfg
contains "inspect: the preset" "$work/out" '"preset": "all"'
contains "inspect: the rules, in order" "$work/out" \
	'"rules": ["allow host:tcp:11434", "deny 10.0.0.0/8"]'
contains "inspect: blocked domains" "$work/out" '"block_domains": ["evil.example"]'
contains "inspect: blocked suffixes" "$work/out" \
	'"block_suffixes": [".tracker.example"]'
contains "inspect: a TCP port on 127.0.0.1 by default" "$work/out" \
	'{"host_ip": "127.0.0.1", "host_port": 8080, "guest_port": 80, "protocol": "tcp"}'
contains "inspect: a UDP port on ::1" "$work/out" \
	'{"host_ip": "::1", "host_port": 5353, "guest_port": 53, "protocol": "udp"}'
expect "ls" 0 "$msb" ls
contains "ls: the PORTS column" "$work/out" \
	'127.0.0.1:8080->80/tcp, [::1]:5353->53/udp'
expect "ls --json" 0 "$msb" ls --json
contains "ls --json: the ports" "$work/out" \
	'"ports": ["127.0.0.1:8080->80/tcp", "[::1]:5353->53/udp"]'
expect "rm it" 0 "$msb" rm netcfg

# --- a sandbox with the default network ---
# two free host ports for publishing (a TCP one and one that is held)
read -r pub_port busy_port <<EOF2
$(python3 -c 'import socket
s=[socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
EOF2
expect "run -d (default network)" 0 "$msb" run -d --name netbox --hostname web1 \
	--patch-append /etc/hosts='10.9.9.9 mine.example' -p "$pub_port:8001"
if [ "$(cat "$work/out")" != netbox ]; then
	bad "run -d printed: $(cat "$work/out")"
fi
expect "eth0: the sandbox's address" 0 "$msb" exec netbox -- ip -4 addr show eth0
contains "eth0: 100.96.0.2/30" "$work/out" "inet 100.96.0.2/30"
contains "eth0: up" "$work/out" ",UP"
expect "eth0: the MAC" 0 "$msb" exec netbox -- cat /sys/class/net/eth0/address
contains "eth0: 02:6d:73:62:00:02" "$work/out" "02:6d:73:62:00:02"
expect "eth0: carrier" 0 "$msb" exec netbox -- cat /sys/class/net/eth0/carrier
contains "eth0: has a carrier" "$work/out" "1"
expect "route" 0 "$msb" exec netbox -- ip route
contains "route: default via the gateway" "$work/out" "default via 100.96.0.1 dev eth0"
expect "hosts" 0 "$msb" exec netbox -- cat /etc/hosts
contains "hosts: localhost" "$work/out" "$(printf '127.0.0.1\tlocalhost')"
contains "hosts: the hostname on the guest's address" "$work/out" \
	"$(printf '100.96.0.2\tweb1')"
contains "hosts: host.microsandbox.internal is the gateway" "$work/out" \
	"$(printf '100.96.0.1\thost.microsandbox.internal')"
expect "resolv.conf" 0 "$msb" exec netbox -- cat /etc/resolv.conf
contains "resolv.conf: the gateway is the name server" "$work/out" \
	"nameserver 100.96.0.1"
expect "resolv.conf: a file of its own" 0 "$msb" exec netbox -- test -f /etc/resolv.conf -a ! -L /etc/resolv.conf
# lo: ICMP and a TCP server and client inside the guest
expect "lo: ping 127.0.0.1" 0 "$msb" exec netbox -- ping -c1 -W5 127.0.0.1
expect "lo: a TCP server on 127.0.0.1" 0 "$msb" exec netbox -- sh -c \
	'mkdir -p /tmp/www && echo hello-lo >/tmp/www/x && httpd -p 127.0.0.1:8000 -h /tmp/www'
expect "lo: a client reaches it" 0 "$msb" exec netbox -- wget -qO- http://127.0.0.1:8000/x
contains "lo: the answer" "$work/out" "hello-lo"
# what the supervisor did about the device
log="$MSB_HOME/sandboxes/netbox/logs/vmm.log"
have_netd=0
if grep -q "msb-netd pid [0-9]* (network \`public\`)" "$log"; then
	have_netd=1
	ok "vmm.log: msb-netd started"
	[ -f "$MSB_HOME/sandboxes/netbox/logs/net.log" ] && ok "net.log is there" ||
		bad "no logs/net.log"
	cfg="$MSB_HOME/sandboxes/netbox/run/netd.json"
	[ "$(stat -c %a "$cfg" 2>/dev/null)" = 600 ] && ok "netd.json is 0600" ||
		bad "netd.json: mode $(stat -c %a "$cfg" 2>&1)"
elif grep -q "this build has no msb-netd" "$log"; then
	ok "vmm.log: says there is no msb-netd behind the device"
else
	bad "vmm.log says nothing about msb-netd: $(grep -i net "$log" | head -3)"
fi
contains "vmm.log: QEMU has the device" "$log" \
	"virtio-net-device,netdev=n0,mac=02:6d:73:62:00:02"

# --- with msb-netd: the gateway answers; netd's death is survived ---
if [ "$have_netd" = 1 ]; then
	expect "netd: ping the gateway" 0 "$msb" exec netbox -- ping -c1 -W5 100.96.0.1
	# a published port: the host's client reaches a server on the guest
	expect "publish: a server on the guest's port" 0 "$msb" exec netbox -- \
		sh -c 'mkdir -p /tmp/pub && echo hello-published >/tmp/pub/x && httpd -p 8001 -h /tmp/pub'
	got=
	for _ in $(seq 100); do
		got=$(curl -s --max-time 10 "http://127.0.0.1:$pub_port/x") && [ -n "$got" ] && break
		sleep 0.1
	done
	[ "$got" = hello-published ] && ok "publish: the host reaches the guest's server" ||
		bad "publish: curl 127.0.0.1:$pub_port/x gave \`$got\`"
	# a host port in use fails the create, with netd's own words
	python3 -c 'import socket,sys,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1); time.sleep(120)' "$busy_port" &
	holder=$!
	for _ in $(seq 100); do
		python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$busy_port" 2>/dev/null && break
		sleep 0.1
	done
	expect "publish: a port in use fails the create" 125 "$msb" run -d --name netbusy -p "$busy_port:80"
	contains "publish: the message names the port" "$work/err" "$busy_port/tcp is already in use"
	expect "publish: no sandbox is left" 1 "$msb" inspect netbusy
	kill "$holder" 2>/dev/null
	# a private destination under `public`: refused at once, never sent
	expect "netd: a private address is refused" 0 "$msb" exec netbox -- \
		sh -c 'nc -w 5 10.1.2.3 80 </dev/null 2>&1; echo rc=$?'
	contains "netd: the guest sees a refusal" "$work/out" "refused"
	expect "logs -s net" 0 "$msb" logs -s net netbox
	contains "logs -s net: the deny line" "$work/out" \
		'deny tcp 10.1.2.3:80 sandbox="netbox"'
	# metrics: msb-netd's counters reach `msb metrics` (netd reports
	# once a second at most: wait for them, with a deadline)
	expect "metrics --json: before" 0 "$msb" metrics --json netbox
	for k in net_rx_bytes net_tx_bytes net_rx_packets net_tx_packets \
		net_flows net_denied; do
		eval "b_$k=\$(metric $k)"
	done
	expect "metrics: traffic to the gateway and a denied address" 0 \
		"$msb" exec netbox -- sh -c 'ping -c3 -W5 100.96.0.1 >/dev/null &&
		echo ping-ok; nc -w 5 10.1.2.3 81 </dev/null 2>&1; true'
	contains "metrics: the pings were answered" "$work/out" ping-ok
	contains "metrics: the connection was refused" "$work/out" refused
	# 3 echo requests and the SYN out, 3 replies in (98-byte frames)
	metrics_until "metrics: the counters rise" \
		'[ "$(metric net_tx_packets)" -ge $((b_net_tx_packets + 4)) ] &&
		[ "$(metric net_rx_packets)" -ge $((b_net_rx_packets + 3)) ] &&
		[ "$(metric net_tx_bytes)" -ge $((b_net_tx_bytes + 3 * 98)) ] &&
		[ "$(metric net_rx_bytes)" -ge $((b_net_rx_bytes + 3 * 98)) ] &&
		[ "$(metric net_denied)" -ge $((b_net_denied + 1)) ]'
	denied=$(metric net_denied)
	# an open flow: a TCP connection to the gateway's DNS, held until
	# the test lets it go (a file in the guest), or 60 s
	rm -f "$work/held"
	"$msb" exec netbox -- sh -c 'i=0; while [ ! -e /tmp/letgo ] &&
		[ $i -lt 300 ]; do sleep 0.2; i=$((i + 1)); done |
		nc 100.96.0.1 53; echo held-done' >"$work/held" 2>&1 </dev/null &
	held=$!
	metrics_until "metrics: an open connection is a flow" \
		'[ "$(metric net_flows)" -ge 1 ]'
	expect "metrics: the table" 0 "$msb" metrics netbox
	contains "metrics: FLOWS and DENIED columns" "$work/out" "FLOWS  DENIED"
	if awk -v d="$denied" '$1 == "netbox" && $(NF-2) >= 1 && $(NF-1) >= d \
		{ found = 1 } END { exit !found }' "$work/out"; then
		ok "metrics: the table's row shows the flow and the denials"
	else
		bad "metrics: the table: $(cat "$work/out")"
	fi
	expect "metrics: let the connection go" 0 "$msb" exec netbox -- touch /tmp/letgo
	wait "$held"
	contains "metrics: the connection ended" "$work/held" held-done
	metrics_until "metrics: a closed connection is no flow" \
		'[ "$(metric net_flows)" -eq 0 ]'
	pid=$(sed -n 's/.*msb-netd pid \([0-9]*\) (network.*/\1/p' "$log" | tail -1)
	# netd's own seccomp filter (src/netd/syscalls.c) was on for all
	# of the traffic above, and nothing it did was outside its list
	seccomp=$(awk '$1 == "Seccomp:" { print $2 }' "/proc/$pid/status" 2>/dev/null)
	[ "$seccomp" = 2 ] && ok "netd: Seccomp 2 (a filter)" ||
		bad "netd: Seccomp '$seccomp' in /proc/$pid/status"
	netlog="$MSB_HOME/sandboxes/netbox/logs/net.log"
	contains "net.log: netd's filter is on" "$netlog" "seccomp: filter on"
	if grep -q "not allowed" "$netlog"; then
		bad "net.log: a seccomp denial: $(grep "not allowed" "$netlog" | head -3)"
	else
		ok "net.log: no seccomp denial"
	fi
	kill -9 "$pid" 2>/dev/null
	i=0
	until grep -q "msb-netd was killed by signal 9: the sandbox has no network" "$log" ||
		[ $i -ge 300 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	contains "netd killed: vmm.log says the network is gone" "$log" \
		"msb-netd was killed by signal 9: the sandbox has no network from now on"
	expect "netd killed: the sandbox still runs commands" 0 "$msb" exec netbox -- echo alive
	contains "netd killed: alive" "$work/out" "alive"
	expect "netd killed: metrics still answer" 0 "$msb" metrics --json netbox
	if [ "$(metric net_denied)" -ge "$denied" ] && [ "$(metric net_flows)" = 0 ]; then
		ok "netd killed: its last counters are kept, no flow is open"
	else
		bad "netd killed: metrics: $(cat "$work/out")"
	fi
else
	echo "# skip: no msb-netd in this build (MSB_NETD unset): the gateway cases"
fi

# --- stop and start: the network is the stored one ---
expect "stop" 0 "$msb" stop netbox
expect "start" 0 "$msb" start netbox
expect "after start: eth0 again" 0 "$msb" exec netbox -- ip -4 addr show eth0
contains "after start: 100.96.0.2/30" "$work/out" "inet 100.96.0.2/30"
expect "after start: hosts" 0 "$msb" exec netbox -- cat /etc/hosts
contains "hosts: a patch's entry is kept across boots" "$work/out" "10.9.9.9 mine.example"
n=$(grep -c 'host.microsandbox.internal' "$work/out")
[ "$n" = 1 ] && ok "hosts: our entries once after a restart" ||
	bad "hosts: host.microsandbox.internal $n times"
contains "hosts: the hostname first" "$work/out" "$(printf '100.96.0.2\tweb1')"
expect "inspect netbox" 0 "$msb" inspect netbox
contains "inspect: the default preset is public" "$work/out" '"preset": "public"'
expect "rm -f netbox" 0 "$msb" rm -f netbox

# --- --network none: lo only, no device, no netd ---
expect "run --network none" 0 "$msb" run --network none --hostname quiet -- sh -c \
	'ls /sys/class/net; cat /etc/hosts; ping -c1 -W5 127.0.0.1 >/dev/null && echo lo-ok'
if grep -qx lo "$work/out" && ! grep -q '^eth' "$work/out"; then
	ok "none: lo is the only interface"
else
	bad "none: interfaces: $(head -c 300 "$work/out")"
fi
contains "none: lo works" "$work/out" "lo-ok"
contains "none: the hostname on 127.0.1.1" "$work/out" "$(printf '127.0.1.1\tquiet')"
if grep -q 'host.microsandbox.internal' "$work/out"; then
	bad "none: host.microsandbox.internal in /etc/hosts"
else
	ok "none: no host.microsandbox.internal"
fi

# --- with msb-netd: a server in a test namespace, reached from the guest
# (msb runs in namespace A, the server in B; nothing leaves the host) ---
if [ "$have_netd" = 1 ] && [ "$(id -u)" = 0 ] && command -v ip >/dev/null &&
	ip netns add "msbA$$" 2>/dev/null; then
	nsa=msbA$$ nsb=msbB$$
	trap '"$msb" rm -f netbox >/dev/null 2>&1; kill "$srv" 2>/dev/null;
		ip netns del "$nsa" 2>/dev/null; ip netns del "$nsb" 2>/dev/null;
		rm -rf "$work"' EXIT
	ip netns add "$nsb"
	ip link add "va$$" type veth peer name "vb$$"
	ip link set "va$$" netns "$nsa"
	ip link set "vb$$" netns "$nsb"
	ip -n "$nsa" addr add 10.77.0.1/24 dev "va$$"
	ip -n "$nsb" addr add 10.77.0.2/24 dev "vb$$"
	for n in "$nsa" "$nsb"; do ip -n "$n" link set lo up; done
	ip -n "$nsa" link set "va$$" up
	ip -n "$nsb" link set "vb$$" up
	mkdir -p "$work/www"
	echo hello-through-netd >"$work/www/index.html"
	ip netns exec "$nsb" busybox httpd -f -p 10.77.0.2:8080 -h "$work/www" &
	srv=$!
	# the server is up when it answers in its namespace
	i=0
	until ip netns exec "$nsa" busybox wget -q -O /dev/null http://10.77.0.2:8080/ 2>/dev/null ||
		[ $i -ge 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	expect "netd: the guest reaches a server in a test namespace" 0 \
		ip netns exec "$nsa" "$msb" run --network all -- sh -c \
		'wget -O /tmp/x http://10.77.0.2:8080/ && cat /tmp/x'
	contains "netd: the server's answer" "$work/out" "hello-through-netd"
	# the rules reach netd: a deny, and the host's loopback (of
	# namespace A) by name, through an allow rule for the host group
	ip netns exec "$nsa" busybox httpd -f -p 127.0.0.1:8081 -h "$work/www" &
	srv2=$!
	trap '"$msb" rm -f netbox >/dev/null 2>&1; kill "$srv" "$srv2" 2>/dev/null;
		ip netns del "$nsa" 2>/dev/null; ip netns del "$nsb" 2>/dev/null;
		rm -rf "$work"' EXIT
	i=0
	until ip netns exec "$nsa" busybox wget -q -O /dev/null http://127.0.0.1:8081/ 2>/dev/null ||
		[ $i -ge 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	expect "netd: rules from the command line" 0 \
		ip netns exec "$nsa" "$msb" run --network all --deny 10.77.0.2 \
		--allow host:tcp:8081 -p 18080:80 -- sh -c \
		'wget -O /tmp/d http://10.77.0.2:8080/ 2>&1; echo denied=$?;
		wget -O /tmp/h http://host.microsandbox.internal:8081/ && cat /tmp/h'
	contains "netd: --deny refuses the server" "$work/out" "denied=1"
	contains "netd: --allow host reaches the host's loopback by name" "$work/out" \
		"hello-through-netd"
	kill "$srv2" 2>/dev/null
else
	echo "# skip: the namespace case needs msb-netd, root and ip netns"
fi

echo "# $pass passed, $fail failed"
[ "$fail" -eq 0 ]
