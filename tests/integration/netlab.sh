# SPDX-License-Identifier: Apache-2.0
# The network lab of test_netd.sh and test_net_guest.sh (sourced after
# lib.sh): network namespaces made by the test, an "internet" namespace
# holding the test's servers on public-looking addresses, and a cleanup
# that leaves nothing behind. No namespace gets a default route, so no
# packet leaves the lab. Needs $work, $py (python3) and $lab
# (netd_lab.py), and root.
#
#   netlab_ns NAME...             make namespaces, lo up (exit 1 if not)
#   netlab_internet NS INET       a veth: NS has 1.2.3.254/24, INET
#                                 1.2.3.4, 1.2.3.5 and 1.2.3.53
#   netlab_bg CMD...              CMD in the background, ended by cleanup
#   netlab_serve NS ADDR WWW DIR  netd_lab.py's servers on ADDR in NS
#                                 (files from WWW; DIR/ready once up)
#   netlab_dnsmasq NS HOSTS ARG...  dnsmasq on 1.2.3.53 answering .test
#                                 from the hosts file HOSTS, every query
#                                 logged to $work/dnsmasq.log
#   netlab_resolv NS LINE...      /etc/netns/NS/resolv.conf (ip netns
#                                 exec mounts it on /etc/resolv.conf)
#   netlab_cleanup                end every process of the lab (its
#                                 background jobs, then whatever still
#                                 runs in its namespaces), delete the
#                                 namespaces and their /etc/netns files
#   wait_for DESC SECONDS CMD...  until CMD succeeds; `bad` at the deadline
netlab_nss=()
netlab_pids=()

netlab_ns() {
	local ns
	for ns in "$@"; do
		if ! ip netns add "$ns" || ! ip -n "$ns" link set lo up; then
			echo "FAIL - cannot make namespace $ns"
			exit 1
		fi
		netlab_nss+=("$ns")
	done
}

netlab_internet() {
	local ns=$1 inet=$2 a
	# interface names of at most 15 bytes, unique per test process
	ip link add "vl$$" netns "$ns" type veth peer name "vi$$" netns "$inet"
	ip -n "$ns" addr add 1.2.3.254/24 dev "vl$$"
	ip -n "$ns" link set "vl$$" up
	for a in 1.2.3.4 1.2.3.5 1.2.3.53; do
		ip -n "$inet" addr add "$a/24" dev "vi$$"
	done
	ip -n "$inet" link set "vi$$" up
}

netlab_bg() {
	"$@" &
	netlab_pids+=($!)
}

netlab_serve() {
	mkdir -p "$4"
	netlab_bg ip netns exec "$1" "$py" "$lab" serve "$2" "$3" "$4"
}

netlab_dnsmasq() {
	local ns=$1 hosts=$2
	shift 2
	netlab_bg ip netns exec "$ns" dnsmasq --keep-in-foreground \
		--no-resolv --no-hosts --bind-interfaces \
		--listen-address=1.2.3.53 --port=53 --user=root \
		--pid-file="$work/dnsmasq.pid" --addn-hosts="$hosts" \
		--local=/test/ --log-queries \
		--log-facility="$work/dnsmasq.log" "$@"
}

netlab_resolv() {
	local ns=$1
	shift
	mkdir -p "/etc/netns/$ns"
	printf '%s\n' "$@" >"/etc/netns/$ns/resolv.conf"
}

netlab_cleanup() {
	local p ns
	[ -s "$work/dnsmasq.pid" ] && kill "$(cat "$work/dnsmasq.pid")" 2>/dev/null
	for p in "${netlab_pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${netlab_pids[@]}"; do wait "$p" 2>/dev/null; done
	# whatever still runs in the namespaces (a server whose starter was
	# killed, a netd): it would hold the test's output open
	for ns in "${netlab_nss[@]}"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
	done
	for ns in "${netlab_nss[@]}"; do
		ip netns del "$ns" 2>/dev/null
		rm -rf "/etc/netns/$ns"
	done
	rmdir /etc/netns 2>/dev/null
	netlab_nss=()
	netlab_pids=()
}

wait_for() {
	local desc=$1 secs=$2
	shift 2
	local end=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		if [ $SECONDS -ge $end ]; then
			bad "$desc: not within ${secs}s"
			return 1
		fi
		sleep 0.1
	done
}

# --- for tests that run msb in namespace $A (net_guest, tls) --------------
# m ARGS...: msb in $A
m() { ip netns exec $A "$msb" "$@"; }
# gx SANDBOX CMD...: run CMD in the guest (stdout, stderr to $work/out, err)
gx() {
	local sb=$1
	shift
	m exec "$sb" -- "$@" >"$work/out" 2>"$work/err" </dev/null
}
# is DESC WANT SANDBOX CMD...: CMD in the guest prints WANT (one line)
is() {
	local desc=$1 want=$2 sb=$3
	shift 3
	gx "$sb" "$@"
	local got
	got=$(cat "$work/out")
	if [ "$got" = "$want" ]; then ok "$desc"; else
		bad "$desc: got '$got' $(head -c 300 "$work/err"), wanted '$want'"
	fi
}
# netlab_guest_image: the Debian guest root of netguest_rootfs.sh
# (debootstrap the first time, then cached; $MSB_TEST_NETGUEST_IMAGE
# overrides) into $img; exits the test if it cannot be built.
netlab_guest_image() {
	img=${MSB_TEST_NETGUEST_IMAGE:-}
	[ -n "$img" ] && return 0
	echo "# the guest's root (debootstrap the first time, then cached)"
	img=$("$here/netguest_rootfs.sh" "$src/.cache/images/netguest-rootfs") || {
		echo "FAIL - build the guest's root"
		exit 1
	}
}
