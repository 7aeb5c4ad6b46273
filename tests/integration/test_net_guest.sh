#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The network from real guest clients (docs/network.md, "Tests"): curl,
# python3 (urllib, sockets) and busybox (nc, ping) in a Debian guest, msb
# and its msb-netd inside a network namespace made here:
#   msb       msb, its supervisors and netd; servers on 127.0.0.1 (the
#             host's loopback for `host` rules); its only route is a veth
#             to "internet"; resolv.conf (/etc/netns) names the test's DNS
#   internet  the test's servers on 1.2.3.4 and 1.2.3.5 (HTTP, TCP/UDP
#             echo, netd_lab.py) and dnsmasq on 1.2.3.53, answering .test
# No namespace has a default route: no packet leaves the lab.
# Two sandboxes stay booted: `pub` (preset public, a host rule, blocked
# names) and `dom` (a domain rule, deny the rest); a third runs once with
# --deny '*'.
#
#   test_net_guest.sh MSB
set -u
msb=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
py=/usr/bin/python3
lab=$here/netd_lab.py

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root"
	exit 77
fi
for t in ip dnsmasq "$py" debootstrap mkfs.ext4 sha256sum; do
	command -v "$t" >/dev/null || {
		echo "SKIP: $t not installed"
		exit 77
	}
done

work=$(mktemp -d /tmp/test_net_guest.XXXXXX)
export MSB_HOME=$work/home
. "$here/lib.sh"
A=msbng$$a I=msbng$$i
. "$here/netlab.sh"
cleanup() {
	ip netns exec $A "$msb" rm -f pub dom >/dev/null 2>&1
	netlab_cleanup
	rm -rf "$work"
}
trap cleanup EXIT

ng() { echo python3 /opt/netguest.py "$@"; }
asked() { grep -c "query\[[A-Z]*\] $1 from" "$work/dnsmasq.log"; }

# --- the guest's root: Debian with curl, python3 and busybox ---------------
netlab_guest_image

# --- the lab -------------------------------------------------------------
netlab_ns $A $I
netlab_internet $A $I
netlab_resolv $A "nameserver 1.2.3.53"

mkdir -p "$work/www"
head -c 8M /dev/urandom >"$work/www/big.bin"
head -c 3M /dev/urandom >"$work/www/pkg.whl"
echo hello-from-the-host >"$work/www/host.txt"
netlab_serve $I 1.2.3.4 "$work/www" "$work/s4"
netlab_serve $I 1.2.3.5 "$work/www" "$work/s5"
# the host's loopback, as msb's namespace has it (HTTP :80, echo :7)
netlab_serve $A 127.0.0.1 "$work/www" "$work/host"
cat >"$work/hosts" <<EOF
1.2.3.4 www.test bad.test sub.ads.test ads.test exfil.test exfil6.test
1.2.3.5 api.test
10.0.0.5 rebind.test
EOF
netlab_dnsmasq $I "$work/hosts"
for d in s4 s5 host; do
	wait_for "servers ($d)" 30 test -e "$work/$d/ready" || exit 1
done
wait_for "dnsmasq" 30 grep -q "started" "$work/dnsmasq.log" || exit 1

# --- the sandboxes ---------------------------------------------------------
copy=(--patch-copy "$here/netguest.py:/opt/netguest.py"
	--patch-copy "$lab:/opt/netd_lab.py")
expect "boot pub (public, a host rule, blocked names)" 0 m run -d --name pub \
	--allow host:tcp:80 --block-domain bad.test --block-domain-suffix .ads.test \
	"${copy[@]}" "$img" -- sleep 100000
expect "boot dom (allow api.test:tcp:80, deny *)" 0 m run -d --name dom \
	--allow api.test:tcp:80 --deny '*' "${copy[@]}" "$img" -- sleep 100000
[ $fail = 0 ] || exit 1

# --- allowed destinations: downloads --------------------------------------
want=$(sha256sum <"$work/www/big.bin" | cut -d' ' -f1)
gx pub sh -c 'curl -sS -o /tmp/big.bin http://www.test/big.bin &&
	sha256sum </tmp/big.bin'
contains "curl: 8 MiB by name, intact (sha256)" "$work/out" "$want"
want=$(sha256sum <"$work/www/pkg.whl" | cut -d' ' -f1)
gx pub sh -c "$(ng get http://www.test/pkg.whl /tmp/pkg.whl) && sha256sum </tmp/pkg.whl"
contains "python3 urllib (pip-style): 3 MiB" "$work/out" "ok 3145728"
contains "...intact (sha256)" "$work/out" "$want"
is "busybox nc: TCP echo" "hello-nc" pub sh -c \
	'echo hello-nc | busybox nc -w 10 1.2.3.4 7'
is "python3: UDP echo" "ok" pub $(ng udp 1.2.3.4 7)
is "busybox ping: the gateway" "0" pub sh -c \
	'busybox ping -c1 -W5 100.96.0.1 >/dev/null; echo $?'

# --- denied ranges: refused at once (the error's kind, not a time) --------
# a sample of each group of the public preset's list; 127/8 is not routed
# out of the guest (its own lo), so it is not sent to netd at all
addrs="10.1.2.3 172.16.5.5 172.31.255.1 192.168.1.1 100.64.1.1 100.127.0.9
169.254.169.254 169.254.1.1 100.100.100.200 0.1.2.3 192.0.0.8 192.0.2.1
198.18.0.1 198.19.255.1 198.51.100.1 203.0.113.1 240.0.0.1 250.1.2.3"
# curl_all ADDR...: curl each http://ADDR:80/ in the guest; $work/out has
# "ADDR EXIT WHY" lines, WHY the reason curl -v gives for the failed
# connect (its strerror)
curl_all() {
	gx pub sh -c "for a in $*; do
	curl -g -sS -v --max-time 25 -o /dev/null http://\$a:80/ 2>/tmp/e; r=\$?
	echo \"\$a \$r \$(grep -oE '(failed|fail for [^ ]*): [A-Za-z ]*' /tmp/e | head -1 | sed 's/.*: //')\"
	done"
}
curl_all $addrs
for a in $addrs; do
	line=$(grep "^$a " "$work/out")
	case $line in
	"$a 7 Connection refused" | "$a 7 No route to host" | "$a 7 Network is unreachable")
		ok "denied: $a (${line#"$a "})" ;;
	*) bad "denied: $a: '$line'" ;;
	esac
done
# IPv6 literals, the mapped and NAT64 forms of denied IPv4 included: the
# guest has no IPv6 route (unreachable at once), or its kernel reads the
# IPv4-mapped form as the IPv4 address (refused by netd)
v6="[::ffff:10.0.0.1] [64:ff9b::a00:1] [2002:a00:1::] [::a00:1] [fd00:ec2::254]
[fe80::1%25eth0] [2001:db8::1] [fc00::1] [ff02::1]"
curl_all $v6
for a in $v6; do
	line=$(grep -F "$a " "$work/out")
	case $line in
	"$a 7 Connection refused" | "$a 7 No route to host" | "$a 7 Network is unreachable")
		ok "denied: $a (${line#"$a "})" ;;
	*) bad "denied: $a: '$line'" ;;
	esac
done
# multicast (UDP): dropped by netd without an answer (no ICMP error about
# a multicast datagram, RFC 1122 3.2.2), and a deny event in net.log
is "multicast: UDP to 224.1.2.3 is sent" "sent" pub \
	python3 /opt/netd_lab.py udpsend 224.1.2.3 5000
mc() {
	m logs -s net pub >"$work/netlog" 2>&1 && grep -qF \
		'deny udp 224.1.2.3:5000 sandbox="pub" reason="multicast is not relayed (dropped, no ICMP error)"' \
		"$work/netlog"
}
wait_for "multicast: the deny event in net.log" 30 mc &&
	ok "multicast: a deny event in net.log"
is "busybox nc: a private address is refused" "refused" pub sh -c \
	'busybox nc -w 10 10.1.2.3 80 </dev/null 2>&1 | grep -o refused'
expect "logs -s net pub" 0 m logs -s net pub
contains "net.log: the private address" "$work/out" 'deny tcp 10.1.2.3:80 sandbox="pub"'
contains "net.log: the metadata address" "$work/out" 'deny tcp 169.254.169.254:80 sandbox="pub"'

# --- DNS: blocked names, rebinding ----------------------------------------
is "DNS: an allowed name" "NOERROR 1.2.3.4" pub $(ng dns www.test)
is "DNS: a blocked domain gets NXDOMAIN" "NXDOMAIN" pub $(ng dns bad.test)
is "DNS: a name under a blocked suffix gets NXDOMAIN" "NXDOMAIN" pub $(ng dns sub.ads.test)
is "DNS: the suffix itself resolves" "NOERROR 1.2.3.4" pub $(ng dns ads.test)
is "curl: a blocked name does not resolve (exit 6)" "6" pub sh -c \
	'curl -sS -o /dev/null http://bad.test/ 2>/dev/null; echo $?'
is "getent: a blocked name is not found" "2" pub sh -c \
	'getent hosts sub.ads.test; echo $?'
[ "$(asked bad.test)" = 0 ] && [ "$(asked sub.ads.test)" = 0 ] &&
	ok "blocked names never reach the resolver" ||
	bad "blocked names reached the resolver"
is "rebinding: an answer in 10/8 is removed" "NOERROR" pub $(ng dns rebind.test)
[ "$(asked rebind.test)" -ge 1 ] && ok "...after the resolver answered it" ||
	bad "rebind.test never asked"
is "rebinding: getent finds no address" "2" pub sh -c \
	'getent ahostsv4 rebind.test; echo $?'

# --- the host's loopback, through `--allow host:tcp:80` -------------------
is "host: the allowed port by name" "hello-from-the-host" pub \
	curl -sS http://host.microsandbox.internal:80/host.txt
is "host: another port is refused" "ECONNREFUSED" pub $(ng tcp host.microsandbox.internal 7)

# --- the guest's lo -------------------------------------------------------
is "lo: a server on 127.0.0.1 and a client" "hello-from-the-host" pub sh -c \
	'mkdir -p /tmp/w && cp /opt/host.txt /tmp/w 2>/dev/null ||
	echo hello-from-the-host >/tmp/w/host.txt
	busybox httpd -p 127.0.0.1:8000 -h /tmp/w && curl -sS http://127.0.0.1:8000/host.txt'

# --- a domain rule through the pins (dom: allow api.test:tcp:80, deny *) --
is "pins: api.test's address before a lookup is denied" "ECONNREFUSED" dom \
	$(ng tcp 1.2.3.5 80)
is "pins: curl by name works (the lookup pins the address)" "hello-from-the-host" dom \
	curl -sS http://api.test/host.txt
is "pins: the same address by literal, now pinned" "ok" dom $(ng tcp 1.2.3.5 80)
is "pins: another port of it is denied" "ECONNREFUSED" dom $(ng tcp 1.2.3.5 7)
is "pins: an address never resolved is denied" "ECONNREFUSED" dom $(ng tcp 1.2.3.4 80)
is "pins: other names are REFUSED" "REFUSED" dom $(ng dns www.test)
is "pins: the host is denied without a host rule" "ECONNREFUSED" dom \
	$(ng tcp host.microsandbox.internal 80)

# --- deny-all: no connection, no lookup reaches the resolver ---------------
expect "deny-all: run --deny '*'" 0 m run --deny '*' "${copy[@]}" "$img" -- sh -c \
	"$(ng dns exfil.test); $(ng dns exfil6.test AAAA); getent hosts exfil.test; echo getent=\$?;
	curl -sS -o /dev/null http://1.2.3.4/ 2>&1; echo curl=\$?"
[ "$(grep -cx REFUSED "$work/out")" = 2 ] && ok "deny-all: REFUSED (A and AAAA)" ||
	bad "deny-all: lookups: $(head -c 300 "$work/out")"
contains "deny-all: getent finds nothing" "$work/out" "getent=2"
contains "deny-all: a literal address is refused" "$work/out" "curl=7"
[ "$(asked exfil.test)" = 0 ] && [ "$(asked exfil6.test)" = 0 ] &&
	ok "deny-all: dnsmasq's log shows no query" ||
	bad "deny-all: the resolver was asked: $(grep exfil "$work/dnsmasq.log")"

# --- a guest flood: netd's memory stays bounded, the sandbox answers -------
log=$MSB_HOME/sandboxes/pub/logs/vmm.log
pid=$(sed -n 's/.*msb-netd pid \([0-9]*\) (network.*/\1/p' "$log" | tail -1)
if [ -n "$pid" ] && [ -r "/proc/$pid/status" ]; then
	rss() { awk "/^$1/ {print \$2}" "/proc/$pid/status"; }
	before=$(rss VmRSS)
	gx pub $(ng connects 1.2.3.4 7 2000)
	contains "flood: 2000 connections one after another" "$work/out" "ok=2000"
	is "flood: 5000 UDP flows" "sent=5000" pub $(ng udpflood 1.2.3.4 5000)
	gx pub python3 /opt/netd_lab.py flood 1.2.3.4 8081 5000
	contains "flood: 5000 SYNs (raw socket)" "$work/out" "sent 5000"
	hwm=$(rss VmHWM)
	echo "# netd RSS: ${before} KiB before the floods, $(rss VmRSS) KiB after, peak ${hwm} KiB"
	if [ "$hwm" -lt 65536 ]; then ok "flood: netd's peak RSS under 64 MiB (${hwm} KiB)"; else
		bad "flood: netd's peak RSS ${hwm} KiB"; fi
	is "flood: the sandbox answers msb exec" "alive" pub echo alive
	dl() {
		gx pub sh -c 'curl -sS --max-time 20 http://www.test/host.txt' &&
			grep -q hello-from-the-host "$work/out"
	}
	wait_for "flood: a download works afterwards" 90 dl &&
		ok "flood: a download works afterwards"
	kill -0 "$pid" 2>/dev/null && ok "flood: netd is still running" ||
		bad "flood: netd is gone"
else
	bad "no msb-netd pid in vmm.log: $(grep -i netd "$log" | head -3)"
fi

expect "rm -f pub dom" 0 m rm -f pub dom
echo "# $pass passed, $fail failed"
[ "$fail" -eq 0 ]
