// SPDX-License-Identifier: Apache-2.0
/* The egress decision for a new flow: the policy engine of src/net. */
#include <string.h>

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
	/* TODO(N3): the names this sandbox resolved to @dst (the pin set of
	 * src/net/pins.h), once netd answers DNS: until then domain rules
	 * match nothing */
	bool ok = msb_net_policy_check(&v, nd->cfg.policy, &a, proto, port,
				       NULL, 0);
	msb_net_verdict_format(why, cap, &v, nd->cfg.policy);
	return ok;
}
