#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# msb-netd with real traffic and no VM: three network namespaces made here.
#   guest     a TAP device (the guest's eth0: 100.96.0.2/30, gateway .1),
#             bridged by tapbridge to netd's link socketpair, as QEMU would
#   netd      where msb-netd runs; its only route is a veth to "internet"
#   internet  the test's servers on 1.2.3.4 and 1.2.3.5 (HTTP, TCP/UDP
#             echo) and a DNS server, dnsmasq, on 1.2.3.53
# netd's sockets can reach 1.2.3.0/24 in the internet namespace and
# nothing else (no default route anywhere): no packet leaves the lab.
# The guest namespace runs the same servers on 100.96.0.2 for the
# published ports, whose clients are in netd's namespace (its loopback).
#
#   test_netd.sh MSB_NETD TAPBRIDGE
set -u
netd=$1
bridge=$2
here=$(cd "$(dirname "$0")" && pwd)
lab=$here/netd_lab.py
py=/usr/bin/python3

work=$(mktemp -d /tmp/test_netd.XXXXXX)
. "$here/lib.sh"
trap 'rm -rf "$work"' EXIT

# --- the configuration: checked before anything starts ------------------
# badconf DESC TEXT JSON: netd refuses JSON with one line containing TEXT
badconf() {
	printf '%s\n' "$3" >"$work/bad.json"
	expect "config: $1" 1 "$netd" --link-fd 0 --config "$work/bad.json"
	contains "config: $1 (message)" "$work/err" "$2"
	grep -q '^msb-netd: ' "$work/err" && [ "$(wc -l <"$work/err")" = 1 ] ||
		bad "config: $1: not one msb-netd: line"
}
addr='"guest_mac":"02:00:00:00:00:02","guest_ip":"100.96.0.2","gateway_mac":"02:00:00:00:00:01","gateway_ip":"100.96.0.1"'
badconf "a missing address" "gateway_ip is missing" \
	'{"guest_mac":"02:00:00:00:00:02","guest_ip":"100.96.0.2","gateway_mac":"02:00:00:00:00:01"}'
badconf "an unknown key" 'unknown key "colour"' "{$addr,\"colour\":1}"
badconf "a multicast MAC" "guest_mac: not a unicast MAC" \
	'{"guest_mac":"01:00:5e:00:00:01","guest_ip":"100.96.0.2","gateway_mac":"02:00:00:00:00:01","gateway_ip":"100.96.0.1"}'
badconf "addresses of two subnets" "not two addresses of one /30" \
	'{"guest_mac":"02:00:00:00:00:02","guest_ip":"100.96.0.6","gateway_mac":"02:00:00:00:00:01","gateway_ip":"100.96.0.1"}'
badconf "a bad preset" "policy[0]: invalid preset \`open\`" "{$addr,\"policy\":[\"preset open\"]}"
badconf "a bad rule" "policy[1]: invalid rule \`allow 10.0.0\`" \
	"{$addr,\"policy\":[\"preset all\",\"allow 10.0.0\"]}"
badconf "a policy that is not lines" "policy: not an array" \
	"{$addr,\"policy\":{\"preset\":\"all\"}}"
badconf "a cap out of range" "caps.max_flows: not an integer" "{$addr,\"caps\":{\"max_flows\":0}}"
badconf "a socket buffer out of range" "caps.sock_buffer: not an integer" "{$addr,\"caps\":{\"sock_buffer\":1024}}"
badconf "not JSON" "config \`$work/bad.json\`:" "{$addr"
badconf "a resolver that is not an address" "resolvers[1]: not IP or IP:PORT" \
	"{$addr,\"resolvers\":[\"1.2.3.4\",\"1.2.3\"]}"
badconf "a resolver port out of range" "resolvers[0]: not IP or IP:PORT" \
	"{$addr,\"resolvers\":[\"1.2.3.4:65536\"]}"
badconf "a DNS timeout out of range" "timeouts.dns: not an integer" \
	"{$addr,\"timeouts\":{\"dns\":0}}"
badconf "ports that are not a list" "ports: not an array" "{$addr,\"ports\":\"8080:80\"}"
badconf "a published port 0" "ports[0].host_port: not an integer in [1, 65535]" \
	"{$addr,\"ports\":[{\"host_port\":0,\"guest_port\":80}]}"
badconf "a guest port beyond 65535" "ports[0].guest_port: not an integer in [1, 65535]" \
	"{$addr,\"ports\":[{\"host_port\":8080,\"guest_port\":65536}]}"
badconf "a published port without a guest port" "ports[0]: guest_port is missing" \
	"{$addr,\"ports\":[{\"host_port\":8080}]}"
badconf "a published port of another protocol" "ports[0].proto: not \"tcp\" or \"udp\"" \
	"{$addr,\"ports\":[{\"host_port\":8080,\"guest_port\":80,\"proto\":\"sctp\"}]}"
badconf "a bad published host address" "ports[0].host_ip: not an IPv4 or IPv6 address" \
	"{$addr,\"ports\":[{\"host_ip\":\"localhost\",\"host_port\":8080,\"guest_port\":80}]}"
badconf "an unknown key of a published port" "ports[0]: unknown key \"protocol\"" \
	"{$addr,\"ports\":[{\"host_port\":8080,\"guest_port\":80,\"protocol\":\"tcp\"}]}"
badconf "a published port in the -p syntax" "ports[1]: guest port \`70000\` is not a port (1-65535)" \
	"{$addr,\"ports\":[\"8080:80\",\"8081:70000\"]}"
badconf "a port published twice" "ports[1]: 127.0.0.1:8080/tcp is published twice (ports[0])" \
	"{$addr,\"ports\":[\"0.0.0.0:8080:80\",{\"host_port\":8080,\"guest_port\":81}]}"
expect "usage error" 2 "$netd" --link-fd 3
expect "a link descriptor that is not open" 1 "$netd" --link-fd 999 \
	--config "$work/bad.json"

[ $fail = 0 ] || exit 1
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root (ip netns)"
	exit 77
fi
for t in ip curl cmp dig dnsmasq "$py"; do
	command -v "$t" >/dev/null || {
		echo "SKIP: $t not installed"
		exit 77
	}
done
[ -c /dev/net/tun ] || {
	echo "SKIP: no /dev/net/tun"
	exit 77
}

G=msbt$$g N=msbt$$n I=msbt$$i
netd_pid=
. "$here/netlab.sh"
cleanup() {
	[ -n "$netd_pid" ] && kill "$netd_pid" 2>/dev/null
	netlab_cleanup
	rm -rf "$work"
}
trap cleanup EXIT

in_g() { ip netns exec $G "$@"; }
probe() { in_g "$py" "$lab" "$@"; }
# is DESC WANT PROBE-ARGS...: the probe prints WANT
is() {
	local desc=$1 want=$2
	shift 2
	local got
	got=$(probe "$@" 2>&1)
	if [ "$got" = "$want" ]; then ok "$desc"; else bad "$desc: got '$got', wanted '$want'"; fi
}

# --- the lab -----------------------------------------------------------
netlab_ns $G $N $I
netlab_internet $N $I
# 7.7.7.0/24 leads into the internet namespace, which does not forward:
# SYNs there get no answer at all
ip -n $N route add 7.7.7.0/24 via 1.2.3.4

mkdir -p "$work/www"
head -c 8M /dev/urandom >"$work/www/big.bin"
head -c 64K /dev/urandom >"$work/www/small.bin"
netlab_serve $I 1.2.3.4 "$work/www" "$work"
# api.test's server, 1.2.3.5
netlab_serve $I 1.2.3.5 "$work/www" "$work/api"
# the test's DNS: names under .test from a hosts file, every query logged
cat >"$work/hosts" <<EOF
1.2.3.4 www.test ads.test sub.ads.test bad.test
1.2.3.5 api.test
::ffff:1.2.3.5 v6.test
10.0.0.5 rebind.test
1.2.3.4 mixed.test
10.0.0.5 mixed.test
EOF
netlab_dnsmasq $I "$work/hosts" --cname=alias.test,api.test \
	--txt-record="big.test$(for i in 1 2 3 4 5 6 7 8; do printf ',"%0250d"' $i; done)"
# the host's loopback, as netd's namespace has it: the same servers on
# 127.0.0.1 (a rule allows its TCP port 7, and nothing else)
netlab_serve $N 127.0.0.1 "$work/www" "$work/host"
# ...and on an address of its own that is not loopback (1.2.3.254, on the
# veth: a public address to the policy)
netlab_serve $N 1.2.3.254 "$work/www" "$work/self"

cat >"$work/netd.json" <<EOF
{
  "sandbox": "lab",
  "guest_mac": "02:00:00:00:00:02", "guest_ip": "100.96.0.2",
  "gateway_mac": "02:00:00:00:00:01", "gateway_ip": "100.96.0.1",
  "prefix": 30, "mtu": 1500,
  "policy": ["preset public", "allow host:tcp:7", "deny 1.2.3.6:tcp",
	     "allow 10.99.0.0/16:tcp", "block-domain bad.test",
	     "allow 0.0.0.0/8", "block-domain-suffix .ads.test"],
  "resolvers": ["1.2.3.53"],
  "caps": {"max_flows": 1100, "max_pending": 300},
  "timeouts": {"connect": 5, "udp_idle": 5},
  "ports": [{"host_port": 18080, "guest_port": 80},
	    {"host_ip": "::1", "host_port": 18080, "guest_port": 80,
	     "proto": "tcp"},
	    "127.0.0.1:18007:7/tcp", "127.0.0.1:18009:9",
	    {"host_port": 17007, "guest_port": 7, "proto": "udp"},
	    "[::1]:17007:7/udp", "127.0.0.1:17009:9/udp"]
}
EOF
# start_netd CONFIG LOG STATS: netd behind the guest's TAP device mt0
start_netd() {
	netlab_bg in_g "$bridge" -p "$work/netd.pid" mt0 \
		ip netns exec $N "$netd" --link-fd 3 --config "$1" \
		--log "$2" --stats "$3"
	bridge_pid=$!
	wait_for "netd up" 20 test -s "$3" || exit 1
	netd_pid=$(cat "$work/netd.pid")
	wait_for "tap" 20 ip -n $G link show mt0 || exit 1
	ip -n $G link set mt0 address 02:00:00:00:00:02
	ip -n $G link set mt0 up
	ip -n $G addr add 100.96.0.2/30 dev mt0
	ip -n $G route add default via 100.96.0.1
	ip -n $G -6 addr add 2001:db8::2/64 dev mt0 nodad
	ip -n $G -6 route add default via 2001:db8::1
}
start_netd "$work/netd.json" "$work/net.log" "$work/stats.json"
wait_for "servers" 20 test -e "$work/ready" || exit 1
wait_for "host servers" 20 test -e "$work/host/ready" || exit 1
wait_for "servers on the host's own address" 20 test -e "$work/self/ready" || exit 1
wait_for "api.test's servers" 20 test -e "$work/api/ready" || exit 1
wait_for "dnsmasq" 20 sh -c "ip netns exec $I dig +time=1 +tries=1 @1.2.3.53 www.test | grep -q 'status: NOERROR'" ||
	exit 1
# the guest's servers, for the published ports (HTTP :80, echo :7)
netlab_serve $G 100.96.0.2 "$work/www" "$work/guest"
wait_for "guest servers" 20 test -e "$work/guest/ready" || exit 1

# --- cases ---------------------------------------------------------------
is "ping to the gateway is answered" "reply" ping 100.96.0.1

expect "HTTP download of 8 MiB through netd" 0 \
	in_g curl -sS -o "$work/got.bin" -w '%{speed_download}' \
	http://1.2.3.4/big.bin
via=$(cat "$work/out")
expect "the download is intact" 0 cmp "$work/www/big.bin" "$work/got.bin"
direct=$(ip netns exec $N curl -sS -o /dev/null -w '%{speed_download}' \
	http://1.2.3.4/big.bin)
echo "# throughput: through netd $((${via%.*} / 1048576)) MiB/s, direct from netd's namespace $((${direct%.*} / 1048576)) MiB/s"

is "TCP echo of 1 MiB with a half-close" "ok" echo 1.2.3.4 7 1048576
is "a refused port looks refused" "ECONNREFUSED" tcp 1.2.3.4 81
expect "curl sees the refusal (exit 7)" 7 in_g curl -v http://1.2.3.4:81/
contains "curl says Connection refused" "$work/err" "Connection refused"
is "an unroutable address is unreachable" "ENETUNREACH" tcp 5.6.7.8 80
is "a silent address is unreachable at the connect deadline" "EHOSTUNREACH" \
	tcp 7.7.7.7 80

is "a private destination is denied with a reset" "ECONNREFUSED" \
	tcp 10.1.2.3 80
is "the metadata address is denied" "ECONNREFUSED" tcp 169.254.169.254 80
is "the host (gateway) is denied without a rule" "ECONNREFUSED" \
	tcp 100.96.0.1 80
wait_for "deny events in net.log" 10 grep -q 'deny tcp 169.254.169.254:80' \
	"$work/net.log"
contains "the deny event names the destination and reason" "$work/net.log" \
	'deny tcp 10.1.2.3:80 sandbox="lab" reason="preset public: private range 10.0.0.0/8 (RFC 1918)"'
is "a deny rule" "ECONNREFUSED" tcp 1.2.3.6 80
wait_for "the deny rule in net.log" 10 grep -qF \
	'deny tcp 1.2.3.6:80 sandbox="lab" reason="rule 2 `deny 1.2.3.6:tcp`"' \
	"$work/net.log" && ok "the deny event names the rule"
is "an allow rule opens a private range (then: no route)" "ENETUNREACH" \
	tcp 10.99.1.1 80
is "the host through an allow rule for the host group" "ok" \
	echo 100.96.0.1 7 1000
contains "host deny reason" "$work/net.log" \
	'deny tcp 100.96.0.1:80 sandbox="lab" reason="host: allowed only by an allow rule for the host group"'
is "a denied UDP destination is unreachable" "EHOSTUNREACH" udp 10.0.0.1 9 4

# 0.0.0.0/8: Linux connects it to the host's loopback. Refused at the
# link (ICMP 13 from the gateway), though "allow 0.0.0.0/8" and a host
# rule for TCP port 7 would let it through the policy; the guest's own
# stack never sends it out, so the frames are made by hand (AF_PACKET)
is "0.0.0.0 over TCP (a host rule's port) is refused" "unreach 13" \
	raw0 mt0 02:00:00:00:00:01 tcp 7
is "0.0.0.0 over UDP is administratively prohibited" "unreach 13" \
	raw0 mt0 02:00:00:00:00:01 udp 7
wait_for "0.0.0.0 in net.log" 10 grep -qF \
	"deny udp 0.0.0.0:7 sandbox=\"lab\" reason=\"this-network range 0.0.0.0/8 is not a destination (it would reach the host's loopback)\"" \
	"$work/net.log" && ok "0.0.0.0 is a deny event"
# an address of the host's own (public to the policy): its sockets land
# on this host, so the host group judges them
is "the host's own address over TCP is the host: denied" "ECONNREFUSED" \
	tcp 1.2.3.254 80
is "...over UDP too" "EHOSTUNREACH" udp 1.2.3.254 7 4
is "...and a host rule's port is allowed" "ok" echo 1.2.3.254 7 1000
wait_for "the host's own address in net.log" 10 grep -qF \
	'deny udp 1.2.3.254:7 sandbox="lab" reason="1.2.3.254 is this host (judged as the host group): host: allowed only by an allow rule for the host group"' \
	"$work/net.log" && ok "the host's own address is a deny event naming the host group"
contains "...for TCP too" "$work/net.log" \
	'deny tcp 1.2.3.254:80 sandbox="lab" reason="1.2.3.254 is this host'


# --- DNS -----------------------------------------------------------------
# dns DESC STATUS ADDRS DIG-ARGS...: dig in the guest gets STATUS and the
# addresses ADDRS (sorted, space-separated; "" for none) in its answer
dns() {
	local desc=$1 status=$2 want=$3
	shift 3
	local out st got
	out=$(in_g dig +time=10 +tries=1 +noall +comments +answer "$@" 2>&1)
	st=$(printf '%s\n' "$out" | sed -n 's/.*status: \([A-Z]*\),.*/\1/p')
	got=$(printf '%s\n' "$out" | awk '$4 == "A" || $4 == "AAAA" {print $5}' |
		sort | tr '\n' ' ' | sed 's/ $//')
	if [ "$st" = "$status" ] && [ "$got" = "$want" ]; then ok "$desc"; else
		bad "$desc: got ${st:-no answer} [$got], wanted $status [$want]"
		printf '%s\n' "$out" | head -20 | sed 's/^/    /'
	fi
}
# asked NAME: how many queries for NAME reached dnsmasq
asked() { grep -c "query\[[A-Z]*\] $1 from" "$work/dnsmasq.log"; }

dns "DNS through the gateway" NOERROR "1.2.3.4" @100.96.0.1 www.test
dns "DNS to another address is answered by netd" NOERROR "1.2.3.4" \
	@8.8.8.8 www.test
grep -q "query\[A\] www.test from 1.2.3.254" "$work/dnsmasq.log" &&
	ok "the query reached the resolver from netd's address" ||
	bad "no query from netd in the resolver's log"
dns "DNS over TCP" NOERROR "1.2.3.4" +tcp @100.96.0.1 www.test
dns "DNS over TCP to another address" NOERROR "1.2.3.5" +tcp @9.9.9.9 api.test
dns "a CNAME chain" NOERROR "1.2.3.5" @100.96.0.1 alias.test
is "40 queries in one TCP write: each answered, then FIN" \
	"answers=40 rcode0=40 EOF" dnstcp 100.96.0.1 40 www.test
# each went upstream over a TCP connection of its own, closed with a
# reset: netd keeps no TIME_WAIT towards its resolver (ports)
n=$(ip netns exec $N ss -Htan state time-wait '( dport = :53 )' | wc -l)
[ "$n" = 0 ] && ok "no TIME_WAIT towards the resolver after DNS over TCP" ||
	bad "$n connections to the resolver in TIME_WAIT"
# a 2 KB answer: truncated over UDP, whole over TCP (netd asks over TCP)
in_g dig +time=10 +tries=1 +ignore +notcp @100.96.0.1 big.test TXT >"$work/out" 2>&1
contains "a large answer over UDP is truncated (TC)" "$work/out" " tc"
n=$(in_g dig +time=10 +tries=1 +tcp +short @100.96.0.1 big.test TXT | tr -cd 0-9 | wc -c)
[ "$n" = 2000 ] && ok "...and whole over TCP" || bad "big.test over TCP: $n digits"
dns "a name the resolver does not know: its NXDOMAIN" NXDOMAIN "" \
	@100.96.0.1 nothing.test
dns "host.microsandbox.internal is the gateway" NOERROR "100.96.0.1" \
	@100.96.0.1 host.microsandbox.internal
dns "host.microsandbox.internal has no IPv6 address" NOERROR "" \
	@100.96.0.1 host.microsandbox.internal AAAA
dns "a blocked domain: NXDOMAIN" NXDOMAIN "" @100.96.0.1 bad.test
dns "a name under a blocked suffix: NXDOMAIN" NXDOMAIN "" @100.96.0.1 \
	sub.ads.test
dns "...over TCP too" NXDOMAIN "" +tcp @100.96.0.1 sub.ads.test
dns "the suffix itself is not blocked" NOERROR "1.2.3.4" @100.96.0.1 ads.test
[ "$(asked bad.test)" = 0 ] && [ "$(asked sub.ads.test)" = 0 ] &&
	ok "blocked names never reach the resolver" ||
	bad "blocked names reached the resolver"
contains "a blocked lookup is a deny event" "$work/net.log" \
	'deny dns bad.test sandbox="lab" reason="blocked domain (NXDOMAIN)"'
dns "rebinding: an answer into 10/8 is removed" NOERROR "" @100.96.0.1 \
	rebind.test
[ "$(asked rebind.test)" = 1 ] && ok "...after the resolver was asked" ||
	bad "rebind.test: asked $(asked rebind.test) times"
dns "rebinding: only the public address of two is kept" NOERROR "1.2.3.4" \
	@100.96.0.1 mixed.test
contains "the removed answer is logged" "$work/net.log" \
	'filter dns rebind.test sandbox="lab" reason="1 address removed from the answer (rebinding protection): 10.0.0.5"'
is "a malformed query gets FORMERR" "rcode 1" dnsraw 1.2.3.4 formerr
is "a message that is not a query gets nothing (and is no flow)" \
	"timeout" dnsraw 100.96.0.1 short
is "DoT is refused while domain rules are in force" "ECONNREFUSED" \
	tcp 1.2.3.4 853
is "QUIC is refused while domain rules are in force" "EHOSTUNREACH" \
	udp 1.2.3.4 443 4
is "DNS over QUIC (UDP 853) too" "EHOSTUNREACH" udp 1.2.3.4 853 4
contains "the DoT refusal is logged" "$work/net.log" \
	'deny tcp 1.2.3.4:853 sandbox="lab" reason="DNS over TLS refused while domain rules are in force"'
contains "the DoQ refusal is logged" "$work/net.log" \
	'deny udp 1.2.3.4:853 sandbox="lab" reason="DNS over QUIC refused while domain rules are in force"'

is "UDP echo" "ok" udp 1.2.3.4 7 100
is "UDP echo of a fragmented 3000-byte datagram" "ok" udp 1.2.3.4 7 3000
is "UDP to a closed port is refused" "ECONNREFUSED" udp 1.2.3.4 9 10
wait_for "idle UDP flows expire" 60 grep -q '"udp_open":0,' "$work/stats.json" &&
	ok "idle UDP flows expire"

is "a reset from the host reaches the guest" "ECONNRESET" recv 1.2.3.4 8082
is "the guest resets a connection" "ok" reset 1.2.3.4 8083
wait_for "the host sees the reset" 30 grep -qx ECONNRESET "$work/ended" &&
	ok "the host sees the reset"
got=$(probe stall 1.2.3.4 7 "$work/stats.json")
case "$got" in
"blocked buffered="*) b=${got#*=}
	if [ "$b" -le 262144 ]; then ok "flow control: a guest that does not read is held back ($got)"
	else bad "flow control: netd buffered $b bytes"; fi ;;
*) bad "flow control: $got" ;;
esac

is "ping beyond the gateway without ICMP sockets: host unreachable" \
	"unreach 1" ping 1.2.3.4
ip netns exec $N sysctl -qw net.ipv4.ping_group_range="0 2147483647"
is "ping beyond the gateway with ICMP sockets" "reply" ping 1.2.3.4
is "ping to a denied address: administratively prohibited" "unreach 13" \
	ping 10.9.9.9

# multicast: dropped without an ICMP error (RFC 1122 3.2.2), but logged
is "multicast UDP from the guest is sent" "sent" udpsend 224.1.2.3 5000
wait_for "multicast in net.log" 20 grep -qF \
	'deny udp 224.1.2.3:5000 sandbox="lab" reason="multicast is not relayed (dropped, no ICMP error)"' \
	"$work/net.log" && ok "multicast UDP is a deny event in net.log"

is "IPv6 TCP is refused at once" "ECONNREFUSED" tcp 2001:db8:1::9 80
is "IPv6 UDP is refused at once" "EACCES" udp 2001:db8:1::9 53 4

# --- published ports: clients on netd's side (its loopback) -------------
in_n() { ip netns exec $N "$@"; }
# his DESC WANT PROBE-ARGS...: the probe, run in netd's namespace, prints WANT
his() {
	local desc=$1 want=$2
	shift 2
	local got
	got=$(in_n "$py" "$lab" "$@" 2>&1)
	if [ "$got" = "$want" ]; then ok "$desc"; else bad "$desc: got '$got', wanted '$want'"; fi
}
contains "net.log lists the published ports" "$work/net.log" \
	"publish: [::1]:17007/udp -> guest port 7"
expect "a published TCP port: the guest's page" 0 \
	in_n curl -sS -o "$work/pub.bin" http://127.0.0.1:18080/big.bin
expect "...intact" 0 cmp "$work/www/big.bin" "$work/pub.bin"
expect "a published port on an IPv6 host address" 0 \
	in_n curl -sS -g -o "$work/pub6.bin" 'http://[::1]:18080/small.bin'
expect "...intact" 0 cmp "$work/www/small.bin" "$work/pub6.bin"
his "TCP echo of 1 MiB with a half-close through a published port" "ok" \
	echo 127.0.0.1 18007 1048576
his "a published port where nothing listens: reset at once" "ECONNRESET" \
	recv 127.0.0.1 18009
wait_for "the refusal in net.log" 10 grep -qF \
	'refuse tcp 100.96.0.2:9 sandbox="lab" reason="published port: the guest refused the connection (nothing listens)"' \
	"$work/net.log" && ok "net.log says the guest refused the published port"
# curl sees the reset as a failed connect (7) or a failed receive (56),
# depending on when it looks: never a timeout or an empty reply
in_n curl -sS http://127.0.0.1:18009/ >"$work/out" 2>"$work/err"
rc=$?
case $rc in
7 | 56) ok "curl sees the reset (exit $rc)" ;;
*) bad "curl sees the reset: exit $rc: $(cat "$work/err")" ;;
esac
his "UDP round trip through a published port" "ok" udp 127.0.0.1 17007 100
his "...of a fragmented 3000-byte datagram" "ok" udp 127.0.0.1 17007 3000
his "...on an IPv6 host address" "ok" udp ::1 17007 200
# nothing listens on the guest's UDP port 9: the guest's ICMP port
# unreachable ends the client's flow, with a refuse event (the host
# client cannot be told: docs/network.md, "Publishing ports")
his "a datagram to a published UDP port where nothing listens" "sent" \
	udpsend 127.0.0.1 17009
wait_for "the guest's port unreachable in net.log" 20 grep -qF \
	"refuse udp 100.96.0.2:9 sandbox=\"lab\" reason=\"published port: the guest's port is unreachable (nothing listens)\"" \
	"$work/net.log" && ok "net.log says the guest's UDP port is unreachable"
# two clients at once: each gets its own answers
his "two UDP clients of one published port" "ok" udp2 127.0.0.1 17007
mkdir -p "$work/pub"
for i in $(seq 50); do
	in_n curl -sS -o "$work/pub/$i" http://127.0.0.1:18080/small.bin \
		2>>"$work/pub.err" &
done
pub_curls() {
	local n=0
	for f in "$work"/pub/*; do
		cmp -s "$f" "$work/www/small.bin" && n=$((n + 1))
	done
	[ $n = 50 ]
}
wait_for "50 concurrent clients of a published port" 120 pub_curls &&
	ok "50 concurrent clients of a published port get the guest's page"
wait_for "the stats count inbound flows" 10 \
	grep -Eq '"inbound_flows":([6-9][0-9]|[1-9][0-9][0-9])' "$work/stats.json" &&
	ok "the stats count inbound flows"
# a port already in use: another netd cannot publish it, says so in one
# line and never reports ready (no stats file)
sed 's/"sandbox": "lab"/"sandbox": "lab2"/' "$work/netd.json" >"$work/inuse.json"
expect "a published port already in use: netd exits 1" 1 in_n "$py" "$lab" \
	withlink "$netd" --link-fd 3 --config "$work/inuse.json" \
	--stats "$work/inuse.stats" --log "$work/inuse.log"
contains "...naming the port" "$work/err" \
	"msb-netd: cannot publish 127.0.0.1:18080:80/tcp: 127.0.0.1:18080/tcp is already in use"
[ "$(wc -l <"$work/err")" = 1 ] && ok "...in one line" || bad "...in one line: $(cat "$work/err")"
[ ! -e "$work/inuse.stats" ] && ok "...before it reports ready" ||
	bad "...a stats file was written"

# many flows at once
mkdir -p "$work/par"
for i in $(seq 200); do
	in_g curl -sS -o "$work/par/$i" http://1.2.3.4/small.bin 2>>"$work/par.err" &
done
wait_curls() {
	local n=0
	for f in "$work"/par/*; do
		cmp -s "$f" "$work/www/small.bin" && n=$((n + 1))
	done
	[ $n = 200 ]
}
wait_for "200 parallel downloads complete and intact" 120 wait_curls &&
	ok "200 parallel downloads complete and intact"

# 1000 idle flows, then the max_flows cap (1100)
probe many 1.2.3.4 7 1000 "$work" >"$work/many.out" &
many=$!
if wait_for "1000 connections open" 120 test -e "$work/opened"; then
	contains "1000 idle connections" "$work/many.out" "ok=1000 refused=0 echo=ok"
	# caps.sock_buffer (256 KiB; the kernel doubles it): fixed buffers,
	# no autotuning to tcp_rmem[2] for a flow the guest does not drain
	n=$(ip netns exec $N ss -tmnH dst 1.2.3.4 | grep -c 'rb524288,t[0-9]*,tb524288')
	[ "$n" -ge 1000 ] && ok "netd's host sockets have caps.sock_buffer ($n)" ||
		bad "netd's host sockets with caps.sock_buffer: $n of 1000"
	echo "# netd RSS with 1000 idle flows: $(awk '/^VmRSS/ {print $2}' /proc/"$netd_pid"/status) KiB"
fi
rm -f "$work/opened"
probe many 1.2.3.4 7 200 "$work" >"$work/many2.out" &
many2=$!
wait_for "200 more connections tried" 120 test -e "$work/opened"
out2=$(cat "$work/many2.out")
case "$out2" in
"ok="*" refused="[1-9]*" echo=ok") ok "beyond max_flows new flows are refused, open ones work ($out2)" ;;
*) bad "max_flows: $out2" ;;
esac
touch "$work/release"
wait $many $many2
wait_for "the flows close" 60 grep -q '"tcp_open":0,' "$work/stats.json"
rm -f "$work/release" "$work/opened"

# a guest that never reads (zero window) its DNS-over-TCP answers, which
# netd ends with a FIN: the bytes lwIP holds for it stay counted in its
# flow and the budget until the guest takes or resets them (a released
# connection holds no data)
probe zerowin 100.96.0.1 20 "$work" >"$work/zerowin.out" &
zw=$!
if wait_for "20 zero-window connections" 60 test -e "$work/opened"; then
	wait_for "zero window: the unread answers stay counted" 30 awk \
		'match($0, /"tcp_open":[0-9]+/) && substr($0, RSTART + 11, RLENGTH - 11) == 20 &&
		 match($0, /"buffered":[0-9]+/) && substr($0, RSTART + 11, RLENGTH - 11) + 0 >= 20 * 30000 {f = 1}
		 END {exit !f}' "$work/stats.json" &&
		ok "zero window: the 20 flows and their unread answers stay counted ($(grep -o '"buffered":[0-9]*' "$work/stats.json"))"
fi
touch "$work/release"
wait $zw
wait_for "zero window: the flows end with the guest's resets" 60 \
	sh -c "grep -q '\"tcp_open\":0,' '$work/stats.json' && grep -q '\"buffered\":0,' '$work/stats.json'" &&
	ok "zero window: the flows end with the guest's resets, nothing left buffered"
rm -f "$work/release" "$work/opened"
# DNS-over-TCP connections are capped (64: each holds a socketpair and
# up to 256 KiB of answers); beyond, a reset and a refuse event
probe dnsmany 100.96.0.1 70 "$work" >"$work/streams.out" &
st=$!
if wait_for "70 DNS-over-TCP connections tried" 60 test -e "$work/opened"; then
	contains "64 DNS-over-TCP connections at once, the other 6 refused" \
		"$work/streams.out" "ok=64 refused=6 query=ok"
	contains "...with a refuse event" "$work/net.log" \
		'refuse tcp 100.96.0.1:53 sandbox="lab" reason="cap of DNS-over-TCP connections reached"'
fi
touch "$work/release"
wait $st
wait_for "the DNS flows close" 60 grep -q '"tcp_open":0,' "$work/stats.json"
rm -f "$work/release" "$work/opened"
is "DNS over TCP works again after them" "answers=1 rcode0=1 EOF" \
	dnstcp 100.96.0.1 1 www.test

# a SYN flood beyond the caps: netd stays small, and still works
rss() { awk '/^VmRSS/ {print $2}' /proc/"$netd_pid"/status; }
before=$(rss)
is "a flood of 20000 SYNs to a silent host" "sent 20000" flood 1.2.3.9 80 20000
is "a flood of 20000 SYNs to a listener" "sent 20000" flood 1.2.3.4 8081 20000
hwm=$(awk '/^VmHWM/ {print $2}' /proc/"$netd_pid"/status)
after=$(rss)
echo "# netd RSS: ${before} KiB before the floods, ${after} KiB after, peak ${hwm} KiB"
if [ "$hwm" -lt 65536 ]; then ok "netd's peak RSS stays under 64 MiB"; else
	bad "netd's peak RSS ${hwm} KiB"; fi
wait_for "cap refusals in net.log" 20 grep -q 'refuse tcp 1.2.3.9:80.*cap max_pending' \
	"$work/net.log"
# half-open flows hold the pending cap until their connects fail (the
# silent host's ARP times out) or the guest resets their handshakes: a
# new flow works again once they are gone
dl() { in_g curl -sS -o "$work/got2.bin" http://1.2.3.4/small.bin; }
wait_for "a download works again after the floods" 60 dl &&
	ok "a download works again after the floods"
expect "...intact" 0 cmp "$work/www/small.bin" "$work/got2.bin"
wait_for "the stats count denials and cap refusals" 5 \
	grep -Eq '"denied":[1-9].*"refused_cap":[1-9]' "$work/stats.json"

echo "# stats: $(cat "$work/stats.json")"
# stop_netd: SIGTERM; it exits, and so does its bridge (and the TAP)
stop_netd() {
	kill "$netd_pid"
	wait_for "netd exits on SIGTERM" 20 sh -c "! kill -0 $netd_pid" &&
		ok "netd exits on SIGTERM"
	wait "$bridge_pid"
	netd_pid=
	wait_for "the TAP device goes" 20 sh -c "! ip -n $G link show mt0"
}
stop_netd

# other policies: netdconf NAME POLICY-JSON RESOLVERS-JSON [DNS-TIMEOUT
# [DNS-QUERIES-CAP]]; RESOLVERS-JSON "-": none (the host's resolv.conf)
netdconf() {
	local res="\"resolvers\": $3,"
	[ "$3" = - ] && res=
	cat >"$work/$1.json" <<EOF
{
  "sandbox": "$1",
  "guest_mac": "02:00:00:00:00:02", "guest_ip": "100.96.0.2",
  "gateway_mac": "02:00:00:00:00:01", "gateway_ip": "100.96.0.1",
  "policy": $2, $res "timeouts": {"dns": ${4:-4}},
  "caps": {"dns_queries": ${5:-256}${6:+, \"dns_rate\": $6}}
}
EOF
}

# deny-all: no lookup leaves
netdconf denyall '["preset public", "deny *"]' '["1.2.3.53"]'
start_netd "$work/denyall.json" "$work/denyall.log" "$work/denyall.stats"
dns "deny-all: REFUSED" REFUSED "" @100.96.0.1 exfil-1.test
dns "deny-all: REFUSED at another address" REFUSED "" @8.8.8.8 exfil-2.test
dns "deny-all: REFUSED over TCP" REFUSED "" +tcp @100.96.0.1 exfil-3.test
dns "deny-all: host.microsandbox.internal still resolves" NOERROR \
	"100.96.0.1" @100.96.0.1 host.microsandbox.internal
n=$(grep -c 'exfil' "$work/dnsmasq.log")
[ "$n" = 0 ] && ok "deny-all: no query reached the resolver" ||
	bad "deny-all: $n lines of the resolver's log name exfil"
contains "deny-all: the refusal is a deny event" "$work/denyall.log" \
	'deny dns exfil-1.test sandbox="denyall" reason="the policy lets no lookup of this name out (REFUSED)"'
stop_netd

# a domain rule, through the pins; the first resolver never answers, so
# each lookup also moves on to the second
netdconf domain '["preset public", "allow api.test:tcp:80", "allow v6.test:tcp:7", "deny *"]' \
	'["7.7.7.7", "1.2.3.53"]' 4
start_netd "$work/domain.json" "$work/domain.log" "$work/domain.stats"
is "domain rule: the address before a lookup is denied" "ECONNREFUSED" \
	tcp 1.2.3.5 80
dns "domain rule: the name resolves (past a silent resolver)" NOERROR \
	"1.2.3.5" @100.96.0.1 api.test
is "domain rule: its address connects now (pinned)" "ok" tcp 1.2.3.5 80
expect "domain rule: an HTTP download from it" 0 in_g curl -sS -o \
	"$work/got3.bin" http://1.2.3.5/small.bin
is "domain rule: the same server's address not resolved is denied" \
	"ECONNREFUSED" tcp 1.2.3.4 80
is "domain rule: the pinned address on another port is denied" \
	"ECONNREFUSED" tcp 1.2.3.5 7
dns "domain rule: other names are REFUSED" REFUSED "" @100.96.0.1 www.test
contains "domain rule: the unresolved address is denied by the rule" \
	"$work/domain.log" \
	'deny tcp 1.2.3.4:80 sandbox="domain" reason="rule 3 `deny *`"'
dns "domain rule: an IPv4-mapped AAAA answer" NOERROR "::ffff:1.2.3.5" \
	@100.96.0.1 v6.test AAAA
is "domain rule: ...pins its IPv4 address" "ok" tcp 1.2.3.5 7
stop_netd

# an upstream that never answers: SERVFAIL at the deadline, not a hang
# (no resolvers in the configuration: the IPv4 ones of /etc/resolv.conf,
# which ip netns exec takes from /etc/netns/NAME/)
netlab_resolv $N "search test" "nameserver 2001:db8::53" "nameserver 7.7.7.7"
netdconf silent '["preset public"]' - 2 64 50
start_netd "$work/silent.json" "$work/silent.log" "$work/silent.stats"
contains "resolvers from /etc/resolv.conf (IPv4 only)" "$work/silent.log" \
	"dns: resolvers 7.7.7.7:53 (/etc/resolv.conf)"
fds() { ls /proc/"$netd_pid"/fd | wc -l; }
fds0=$(fds)
dns "a silent resolver: SERVFAIL (dig waits 10 s)" SERVFAIL "" \
	@100.96.0.1 www.test
dns "a silent resolver over TCP: SERVFAIL" SERVFAIL "" +tcp @100.96.0.1 \
	api.test
# a flood of queries beyond caps.dns_queries (64): every one is answered
# (the excess at once), and netd's descriptors come back
is "a flood of 500 queries: each gets SERVFAIL" "replies=500 rcode2=500" \
	dnsflood 100.96.0.1 500
contains "...and the cap is logged" "$work/silent.log" \
	'reason="cap dns_queries reached (SERVFAIL)"'
contains "...and so is the rate cap (caps.dns_rate 50)" "$work/silent.log" \
	'reason="cap dns_rate reached (SERVFAIL)"'
wait_for "netd's descriptors after the flood" 20 sh -c "[ \$(ls /proc/$netd_pid/fd | wc -l) -le $fds0 ]" &&
	ok "netd holds no descriptor for the flood once it is answered"
dns "...and a query after it is still answered" SERVFAIL "" @100.96.0.1 \
	www.test
stop_netd

# inbound caps: more host clients of a published port than max_flows;
# the excess is reset at once, netd stays small, the port works after
cat >"$work/inbound.json" <<EOF
{
  "sandbox": "inbound",
  "guest_mac": "02:00:00:00:00:02", "guest_ip": "100.96.0.2",
  "gateway_mac": "02:00:00:00:00:01", "gateway_ip": "100.96.0.1",
  "caps": {"max_flows": 64, "max_pending": 64},
  "ports": ["127.0.0.1:18007:7/tcp"]
}
EOF
start_netd "$work/inbound.json" "$work/inbound.log" "$work/inbound.stats"
his "inbound: the published port works" "ok" echo 127.0.0.1 18007 1000
wait_for "inbound: the first flow closes" 30 \
	grep -q '"tcp_open":0,' "$work/inbound.stats"
rm -f "$work/opened" "$work/release"
in_n "$py" "$lab" clients 127.0.0.1 18007 600 "$work" >"$work/clients.out" &
clients=$!
wait_for "inbound: 600 clients tried" 120 test -e "$work/opened"
got=$(cat "$work/clients.out")
case "$got" in
"ok=64 reset=536 timeout=0") ok "inbound: 64 clients served (max_flows), the other 536 reset at once" ;;
*) bad "inbound: 600 clients, max_flows 64: $got" ;;
esac
contains "inbound: the cap in net.log" "$work/inbound.log" \
	'refuse tcp 100.96.0.2:7 sandbox="inbound" reason="cap max_flows reached"'
hwm=$(awk '/^VmHWM/ {print $2}' /proc/"$netd_pid"/status)
echo "# netd peak RSS after 600 inbound clients: ${hwm} KiB"
if [ "$hwm" -lt 65536 ]; then ok "inbound: netd's peak RSS stays under 64 MiB"; else
	bad "inbound: netd's peak RSS ${hwm} KiB"; fi
touch "$work/release"
wait $clients
wait_for "inbound: the clients' flows close" 60 \
	grep -q '"tcp_open":0,' "$work/inbound.stats"
his "inbound: the published port works after" "ok" echo 127.0.0.1 18007 1000
stop_netd

echo "# passed $pass, failed $fail"
[ $fail = 0 ]
