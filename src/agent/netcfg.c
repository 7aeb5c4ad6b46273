// SPDX-License-Identifier: Apache-2.0
/* msb-agent: the hello's "net" entries (pure, bounded; fuzzed with the
 * request checks). */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "net.h"

#define NET_ENTRY_MAX 64

static int parse_ip4(uint8_t out[4], const char *s, size_t n)
{
	char buf[16];
	struct in_addr a;

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET, buf, &a) != 1)
		return -1;
	memcpy(out, &a, 4);
	return 0;
}

int agent_net_parse_mac(uint8_t out[6], const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";

	if (n != 17)
		return -1;
	for (size_t i = 0; i < 6; i++) {
		const char *hi, *lo;
		char c0 = s[3 * i], c1 = s[3 * i + 1];

		if (i < 5 && s[3 * i + 2] != ':')
			return -1;
		c0 = (char)(c0 >= 'A' && c0 <= 'F' ? c0 + 32 : c0);
		c1 = (char)(c1 >= 'A' && c1 <= 'F' ? c1 + 32 : c1);
		hi = c0 ? strchr(hex, c0) : NULL;
		lo = c1 ? strchr(hex, c1) : NULL;
		if (!hi || !lo)
			return -1;
		out[i] = (uint8_t)((hi - hex) << 4 | (lo - hex));
	}
	return 0;
}

int agent_net_parse(struct agent_net *n, const struct msb_strv *v, char *why,
		    size_t whylen)
{
	struct msb_bytes s;
	size_t it = 0;
	bool have_ip = false, have_gw = false;

	memset(n, 0, sizeof(*n));
	if (v->count > NET_ENTRY_MAX) {
		snprintf(why, whylen, "more than %d entries", NET_ENTRY_MAX);
		return -1;
	}
	while (msb_strv_next(v, &it, &s)) {
		const char *p = (const char *)s.p;
		const char *eq = memchr(p, '=', s.n);
		size_t klen = eq ? (size_t)(eq - p) : s.n;
		const char *val = eq ? eq + 1 : "";
		size_t vlen = eq ? s.n - klen - 1 : 0;

		if (klen == 2 && !memcmp(p, "ip", 2)) {
			const char *slash = memchr(val, '/', vlen);
			unsigned prefix = 0;
			size_t plen =
				slash ? vlen - (size_t)(slash - val) - 1 : 0;
			if (!slash || plen < 1 || plen > 2 ||
			    parse_ip4(n->ip, val, (size_t)(slash - val)) < 0)
				goto bad;
			for (size_t i = 0; i < plen; i++) {
				if (slash[1 + i] < '0' || slash[1 + i] > '9')
					goto bad;
				prefix = prefix * 10 +
					 (unsigned)(slash[1 + i] - '0');
			}
			if (prefix < 1 || prefix > 30)
				goto bad;
			n->prefix = prefix;
			have_ip = true;
		} else if (klen == 2 && !memcmp(p, "gw", 2)) {
			if (parse_ip4(n->gw, val, vlen) < 0)
				goto bad;
			have_gw = true;
		} else if (klen == 3 && !memcmp(p, "mac", 3)) {
			if (agent_net_parse_mac(n->mac, val, vlen) < 0)
				goto bad;
			n->has_mac = true;
		}
		/* other keys: a newer host's; ignored */
	}
	if (!have_ip || !have_gw) {
		snprintf(why, whylen, "`net` needs ip= and gw=");
		return -1;
	}
	n->on = true;
	return 0;
bad:
	snprintf(why, whylen, "`net` entry %zu is invalid", it - 1);
	return -1;
}
