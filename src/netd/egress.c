// SPDX-License-Identifier: Apache-2.0
/* The egress decision for a new flow: the policy engine of src/net, with
 * the names this sandbox resolved to the destination (its pins). */
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "netd/netd.h"

bool netd_egress_allowed(const struct netd *nd, const uint8_t dst[4],
			 uint8_t ipproto, uint16_t port, char *why, size_t cap)
{
	struct msb_net_addr a = {.family = 4};
	struct msb_net_verdict v;
	enum msb_net_proto proto =
		ipproto == MSB_NET_IPPROTO_TCP   ? MSB_NET_PROTO_TCP
		: ipproto == MSB_NET_IPPROTO_UDP ? MSB_NET_PROTO_UDP
						 : MSB_NET_PROTO_ICMP;
	memcpy(a.a, dst, 4);
	/* DNS over TLS, DNS over QUIC (UDP 853) and QUIC would hide
	 * lookups from netd: with domain rules in force they are refused,
	 * and clients fall back to plain DNS (which netd answers) and to
	 * TCP */
	if (nd->cfg.domain_rules &&
	    ((proto == MSB_NET_PROTO_TCP && port == 853) ||
	     (proto == MSB_NET_PROTO_UDP && (port == 443 || port == 853)))) {
		snprintf(why, cap, "%s refused while domain rules are in force",
			 proto == MSB_NET_PROTO_TCP ? "DNS over TLS"
			 : port == 853              ? "DNS over QUIC"
						    : "QUIC");
		return false;
	}
	/* the destination is IPv4 here (netd refuses IPv6 at the link);
	 * its names are those pinned to it, and to its IPv4-mapped form
	 * (an AAAA answer ::ffff:a.b.c.d, which a dual-stack client
	 * connects to over IPv4) */
	const char *names[2 * MSB_PINS_PER_ADDR];
	size_t n = 0;
	if (nd->pins) {
		struct msb_net_addr m = {.family = 6};
		uint64_t now = nd->now / 1000000;
		m.a[10] = m.a[11] = 0xff;
		memcpy(m.a + 12, dst, 4);
		/* the second lookup frees only expired pins, none of which
		 * the first returned: its names stay valid */
		n = msb_pins_names(names, MSB_PINS_PER_ADDR, nd->pins, &a, now);
		n += msb_pins_names(names + n, MSB_PINS_PER_ADDR, nd->pins, &m,
				    now);
	}
	bool ok = msb_net_policy_check(&v, nd->cfg.policy, &a, proto, port,
				       names, n);
	msb_net_verdict_format(why, cap, &v, nd->cfg.policy);
	return ok;
}

bool netd_egress_recheck(const struct netd *nd, int fd, const uint8_t dst[4],
			 uint8_t ipproto, uint16_t port, char *why, size_t cap)
{
	struct sockaddr_in peer, local;
	socklen_t pl = sizeof(peer), ll = sizeof(local);
	/* the gateway was judged as the host already (it is the host's
	 * loopback); a socket that is not connected (a reset already) or
	 * not IPv4 (DNS's socketpair) fails or is not a flow upstream */
	if (!memcmp(dst, nd->cfg.gw_ip, 4) ||
	    getpeername(fd, (struct sockaddr *)&peer, &pl) < 0 ||
	    getsockname(fd, (struct sockaddr *)&local, &ll) < 0 ||
	    peer.sin_family != AF_INET || local.sin_family != AF_INET)
		return true;
	const uint8_t *p = (const uint8_t *)&peer.sin_addr;
	/* this host: its loopback (what 0.0.0.0 reaches), or an address of
	 * its own, for which the kernel picks that address as the source */
	if (p[0] != 127 && p[0] != 0 &&
	    peer.sin_addr.s_addr != local.sin_addr.s_addr)
		return true;
	char r[160];
	if (netd_egress_allowed(nd, nd->cfg.gw_ip, ipproto, port, r, sizeof(r)))
		return true;
	snprintf(why, cap,
		 "%u.%u.%u.%u is this host (judged as the host group): %s",
		 p[0], p[1], p[2], p[3], r);
	return false;
}
