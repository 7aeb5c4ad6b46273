// SPDX-License-Identifier: Apache-2.0
/*
 * The egress decision for a new flow.
 *
 * TODO(N2): this is a stand-in for the policy engine (src/net/policy.h,
 * msb_net_policy_check()) until it is merged: presets only (no rules, no
 * domains, no `host` allow), IPv4 only. Replace the body of
 * netd_egress_allowed() with a call to the engine; nothing else in netd
 * decides policy.
 */
#include <stdio.h>
#include <string.h>

#include "netd/netd.h"

struct range {
	uint32_t net;
	unsigned len;
	const char *what;
};

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (b) << 16 | (c) << 8 | (d))

/* IANA IPv4 special-purpose registry (RFC 6890 and successors). */
static const struct range special[] = {
	{IP(0, 0, 0, 0), 8, "this network"},        /* RFC 791 */
	{IP(10, 0, 0, 0), 8, "private"},            /* RFC 1918 */
	{IP(100, 64, 0, 0), 10, "shared (CGNAT)"},  /* RFC 6598 */
	{IP(127, 0, 0, 0), 8, "loopback"},          /* RFC 1122 */
	{IP(169, 254, 0, 0), 16, "link-local"},     /* RFC 3927 */
	{IP(172, 16, 0, 0), 12, "private"},         /* RFC 1918 */
	{IP(192, 0, 0, 0), 24, "IETF protocol"},    /* RFC 6890 */
	{IP(192, 0, 2, 0), 24, "documentation"},    /* RFC 5737 */
	{IP(192, 168, 0, 0), 16, "private"},        /* RFC 1918 */
	{IP(198, 18, 0, 0), 15, "benchmarking"},    /* RFC 2544 */
	{IP(198, 51, 100, 0), 24, "documentation"}, /* RFC 5737 */
	{IP(203, 0, 113, 0), 24, "documentation"},  /* RFC 5737 */
	{IP(224, 0, 0, 0), 4, "multicast"},         /* RFC 5771 */
	{IP(240, 0, 0, 0), 4, "reserved"},          /* RFC 1112 */
	{IP(255, 255, 255, 255), 32, "broadcast"},  /* RFC 919 */
};

bool netd_egress_allowed(const struct netd *nd, const uint8_t dst[4],
			 uint8_t proto, uint16_t port, char *why, size_t cap)
{
	uint32_t a =
		(uint32_t)dst[0] << 24 | dst[1] << 16 | dst[2] << 8 | dst[3];
	(void)proto; /* TODO(N2): rules match protocols and ports */
	(void)port;

	if (nd->cfg.preset == NETD_PRESET_NONE) {
		snprintf(why, cap, "preset none");
		return false;
	}
	/* the host is reached only through an explicit `host` allow rule,
	 * under every preset */
	if (!memcmp(dst, nd->cfg.gw_ip, 4) || dst[0] == 127) {
		snprintf(why, cap,
			 "host (the gateway and loopback) needs an allow rule");
		return false;
	}
	if (nd->cfg.preset == NETD_PRESET_ALL) {
		snprintf(why, cap, "preset all");
		return true;
	}
	for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++) {
		uint32_t m = ~0u << (32 - special[i].len);
		if ((a & m) == special[i].net) {
			snprintf(why, cap, "preset public: %s %u.%u.%u.%u/%u",
				 special[i].what, special[i].net >> 24,
				 special[i].net >> 16 & 255,
				 special[i].net >> 8 & 255,
				 special[i].net & 255, special[i].len);
			return false;
		}
	}
	snprintf(why, cap, "preset public");
	return true;
}
