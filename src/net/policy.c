// SPDX-License-Identifier: Apache-2.0
/* The egress policy of a sandbox: policy.h. */

/*
 * DOC: Theory of operation
 *
 * msb-netd terminates every flow the guest opens and asks this module
 * whether to re-open it upstream: msb_net_policy_check() with the real
 * destination address, the protocol, the port, and the names this sandbox
 * resolved to that address (the pin set, src/net/pins.h). Nothing here
 * does I/O or allocates while checking; a check walks at most
 * MSB_NET_MAX_RULES rules and the names it is given.
 *
 * Judging an address:
 *  1. IPv6 forms that carry an IPv4 address (mapped, compatible, NAT64,
 *     6to4) are unwrapped: groups and the preset judge the IPv4 address;
 *     a CIDR rule matches either form.
 *  2. The `host` group is the gateway addresses plus loopback (127/8,
 *     ::1) and the unspecified addresses (0.0.0.0/8, ::), which a
 *     connect() on Linux sends to the host's loopback: netd would reach
 *     the host's own loopback for them. Only an
 *     allow rule for the group `host` allows them; every other allow rule
 *     and every preset skip them. Deny rules match them as usual.
 *  3. A blocked domain among the pinned names denies.
 *  4. The rules in order: the first whose target, protocol and ports
 *     match decides.
 *  5. The preset: `all` allows, `public` allows unless the address is in
 *     a special-purpose range (the table below), `none` denies (netd does
 *     not run under `none`; this is for completeness).
 *
 * The same table of special-purpose ranges gives the groups (an entry
 * carries the groups it belongs to) and the `public` preset, so the two
 * cannot disagree.
 */
#include "net/policy.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define G(g) (1u << MSB_NET_GROUP_##g)

struct special {
	struct msb_net_cidr cidr;
	unsigned groups; /* G(...) bits: the groups this range is in */
	const char *desc;
};

#define V4(a, b, c, d, l)                                                      \
	{                                                                      \
		{4, {a, b, c, d}}, l                                           \
	}
#define V6(l, ...)                                                             \
	{                                                                      \
		{6, {__VA_ARGS__}}, l                                          \
	}

/*
 * Every address here is not public. Sources: the IANA IPv4 and IPv6
 * Special-Purpose Address Registries (RFC 6890) with "globally reachable"
 * false, plus multicast, the limited broadcast, deprecated ranges and the
 * cloud metadata addresses. The first entry that contains an address
 * names it in the log, so specific entries come before the ranges that
 * contain them. The mapped, compatible, NAT64 (64:ff9b::/96) and 6to4
 * (2002::/16) forms never reach the IPv6 part: they are unwrapped first.
 * docs/network.md lists the same table: keep them in step.
 */
static const struct special specials[] = {
	/* IPv4 */
	{V4(0, 0, 0, 0, 8), G(HOST), "this-network range 0.0.0.0/8 (RFC 791)"},
	{V4(10, 0, 0, 0, 8), G(PRIVATE), "private range 10.0.0.0/8 (RFC 1918)"},
	{V4(100, 100, 100, 200, 32), G(METADATA),
	 "cloud metadata address 100.100.100.200 (Alibaba Cloud)"},
	{V4(100, 64, 0, 0, 10), G(PRIVATE),
	 "shared address space 100.64.0.0/10 (CGNAT, RFC 6598)"},
	{V4(127, 0, 0, 0, 8), G(LOOPBACK),
	 "loopback range 127.0.0.0/8 (RFC 1122)"},
	{V4(169, 254, 169, 254, 32), G(METADATA),
	 "cloud metadata address 169.254.169.254 (AWS, GCP, Azure, OCI, DigitalOcean)"},
	{V4(169, 254, 170, 2, 32), G(METADATA),
	 "cloud metadata address 169.254.170.2 (AWS ECS task metadata)"},
	{V4(169, 254, 0, 0, 16), G(LINK_LOCAL),
	 "link-local range 169.254.0.0/16 (RFC 3927)"},
	{V4(172, 16, 0, 0, 12), G(PRIVATE),
	 "private range 172.16.0.0/12 (RFC 1918)"},
	{V4(192, 0, 0, 0, 24), 0,
	 "IETF protocol assignments 192.0.0.0/24 (RFC 6890)"},
	{V4(192, 0, 2, 0, 24), 0,
	 "documentation range 192.0.2.0/24 (TEST-NET-1, RFC 5737)"},
	{V4(192, 88, 99, 0, 24), 0,
	 "6to4 relay anycast 192.88.99.0/24 (deprecated, RFC 7526)"},
	{V4(192, 168, 0, 0, 16), G(PRIVATE),
	 "private range 192.168.0.0/16 (RFC 1918)"},
	{V4(198, 18, 0, 0, 15), 0,
	 "benchmarking range 198.18.0.0/15 (RFC 2544)"},
	{V4(198, 51, 100, 0, 24), 0,
	 "documentation range 198.51.100.0/24 (TEST-NET-2, RFC 5737)"},
	{V4(203, 0, 113, 0, 24), 0,
	 "documentation range 203.0.113.0/24 (TEST-NET-3, RFC 5737)"},
	{V4(224, 0, 0, 0, 4), G(MULTICAST),
	 "multicast range 224.0.0.0/4 (RFC 5771)"},
	{V4(255, 255, 255, 255, 32), 0,
	 "limited broadcast 255.255.255.255 (RFC 919)"},
	{V4(240, 0, 0, 0, 4), 0, "reserved range 240.0.0.0/4 (RFC 1112)"},

	/* IPv6 */
	{V6(128, 0), G(HOST), "unspecified address :: (RFC 4291)"},
	{V6(128, [15] = 1), G(LOOPBACK), "loopback address ::1 (RFC 4291)"},
	{V6(48, 0, 0x64, 0xff, 0x9b, 0, 1), 0,
	 "local-use translation range 64:ff9b:1::/48 (RFC 8215)"},
	{V6(8, 0), 0, "reserved range ::/8 (RFC 4291)"},
	{V6(64, 1, 0), 0, "discard-only range 100::/64 (RFC 6666)"},
	{V6(32, 0x20, 0x01, 0x0d, 0xb8), 0,
	 "documentation range 2001:db8::/32 (RFC 3849)"},
	{V6(23, 0x20, 0x01), 0,
	 "IETF protocol assignments 2001::/23 (Teredo, benchmarking, ORCHID; RFC 2928)"},
	{V6(20, 0x3f, 0xff), 0, "documentation range 3fff::/20 (RFC 9637)"},
	{V6(16, 0x5f, 0x00), 0, "SRv6 SID range 5f00::/16 (RFC 9602)"},
	{V6(128, 0xfd, 0x00, 0x0e, 0xc2, [14] = 0x02, 0x54), G(METADATA),
	 "cloud metadata address fd00:ec2::254 (AWS)"},
	{V6(7, 0xfc), G(PRIVATE), "unique local range fc00::/7 (RFC 4193)"},
	{V6(10, 0xfe, 0x80), G(LINK_LOCAL),
	 "link-local range fe80::/10 (RFC 4291)"},
	{V6(10, 0xfe, 0xc0), 0,
	 "site-local range fec0::/10 (deprecated, RFC 3879)"},
	{V6(8, 0xff), G(MULTICAST), "multicast range ff00::/8 (RFC 4291)"},
	{V6(3, 0), 0, "not global unicast ::/3 (outside 2000::/3, RFC 4291)"},
	{V6(2, 0x40), 0,
	 "not global unicast 4000::/2 (outside 2000::/3, RFC 4291)"},
	{V6(1, 0x80), 0,
	 "not global unicast 8000::/1 (outside 2000::/3, RFC 4291)"},
};

static const char *const group_names[] = {
	[MSB_NET_GROUP_PUBLIC] = "public",
	[MSB_NET_GROUP_PRIVATE] = "private",
	[MSB_NET_GROUP_LOOPBACK] = "loopback",
	[MSB_NET_GROUP_LINK_LOCAL] = "link-local",
	[MSB_NET_GROUP_METADATA] = "metadata",
	[MSB_NET_GROUP_MULTICAST] = "multicast",
	[MSB_NET_GROUP_HOST] = "host",
};

static const char *const proto_names[] = {
	[MSB_NET_PROTO_ANY] = "any",
	[MSB_NET_PROTO_TCP] = "tcp",
	[MSB_NET_PROTO_UDP] = "udp",
	[MSB_NET_PROTO_ICMP] = "icmp",
};

static const char *const preset_names[] = {
	[MSB_NET_PRESET_PUBLIC] = "public",
	[MSB_NET_PRESET_ALL] = "all",
	[MSB_NET_PRESET_NONE] = "none",
};

#define NGROUPS (sizeof(group_names) / sizeof(group_names[0]))
#define NPROTOS (sizeof(proto_names) / sizeof(proto_names[0]))
#define NPRESETS (sizeof(preset_names) / sizeof(preset_names[0]))
#define NSPECIALS (sizeof(specials) / sizeof(specials[0]))

/* A rule and its canonical text (the verdict's reason). */
struct prule {
	struct msb_net_rule r;
	char text[MSB_NET_LINE_MAX];
};

struct msb_net_policy {
	enum msb_net_preset preset;
	struct prule *rules;
	size_t nrules, caprules;
	/* blocked names and suffixes (suffixes without their dot) */
	char (*domains)[MSB_NET_NAME_MAX + 1];
	char (*suffixes)[MSB_NET_NAME_MAX + 1];
	size_t ndomains, nsuffixes, capdomains, capsuffixes;
	struct msb_net_addr gateways[MSB_NET_MAX_GATEWAYS];
	size_t ngateways;
};

/* ------------------------------------------------------------------ */
/* Errors */

#define set_err msb_net_set_err

/*
 * Untrusted text to quote in a message: printable ASCII stays, except `
 * and \; everything else becomes \xNN. At most @cap - 1 bytes; cut with
 * "..." when longer. Return: @out.
 */
static char *quote(char *out, size_t cap, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (cap < 8) {
		if (cap)
			out[0] = '\0';
		return out;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		bool plain = c >= 0x20 && c < 0x7f && c != '`' && c != '\\';
		size_t need = plain ? 1 : 4;
		if (o + need + 4 > cap) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (plain) {
			out[o++] = (char)c;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return out;
}

/* ------------------------------------------------------------------ */
/* Names */

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* The keyword @w (NUL-terminated, lowercase) is the @n bytes at @s, in
 * any case. */
static bool word_is(const char *s, size_t n, const char *w)
{
	if (strlen(w) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower(s[i]) != w[i])
			return false;
	return true;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
	c = lower(c);
	return is_digit(c) || (c >= 'a' && c <= 'f');
}

/*
 * A domain name in the @n bytes at @s into @out: ASCII letters, digits,
 * '-' and '_' in dot-separated labels of 1..63 bytes (no '-' at either
 * end of a label), at most 253 bytes without the trailing dot (dropped),
 * lowercased. A name whose last label is a number ("10.0.0", "0x7f") is
 * refused: it would be an address. Return: 0, or -1 with @err set.
 */
static int norm_name(char out[MSB_NET_NAME_MAX + 1], const char *s, size_t n,
		     char *err, size_t errlen)
{
	if (n && s[n - 1] == '.')
		n--;
	if (n == 0) {
		set_err(err, errlen, "empty domain name");
		return -1;
	}
	if (n > MSB_NET_NAME_MAX) {
		set_err(err, errlen, "domain name longer than %d bytes",
			MSB_NET_NAME_MAX);
		return -1;
	}
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.') {
			char c = lower(s[i]);
			if (!(c >= 'a' && c <= 'z') && !is_digit(c) &&
			    c != '-' && c != '_') {
				set_err(err, errlen,
					"a domain name has only letters, digits, `-` and `_` between dots");
				return -1;
			}
			out[i] = c;
			continue;
		}
		size_t len = i - start;
		if (len == 0) {
			set_err(err, errlen, "empty label in domain name");
			return -1;
		}
		if (len > MSB_NET_LABEL_MAX) {
			set_err(err, errlen,
				"domain name label longer than %d bytes",
				MSB_NET_LABEL_MAX);
			return -1;
		}
		if (s[start] == '-' || s[i - 1] == '-') {
			set_err(err, errlen,
				"a domain name label cannot start or end with `-`");
			return -1;
		}
		if (i < n)
			out[i] = '.';
		start = i + 1;
	}
	out[n] = '\0';
	/* the last label: all digits, or 0x and hex digits */
	const char *last = strrchr(out, '.');
	last = last ? last + 1 : out;
	bool num = true;
	size_t ll = strlen(last);
	if (ll > 2 && last[0] == '0' && last[1] == 'x') {
		for (size_t i = 2; i < ll; i++)
			num = num && is_hex(last[i]);
	} else {
		for (size_t i = 0; i < ll; i++)
			num = num && is_digit(last[i]);
	}
	if (num) {
		set_err(err, errlen, "not an IP address nor a domain name");
		return -1;
	}
	return 0;
}

/* @name (any case, with or without a trailing dot, at most 254 bytes
 * read) is @rule (normalised), or a name under it with @under. */
static bool name_match(const char *name, const char *rule, bool under)
{
	size_t n = name ? strnlen(name, MSB_NET_NAME_MAX + 2) : 0;
	size_t r = strlen(rule);

	if (n && name[n - 1] == '.')
		n--;
	if (n == 0 || n > MSB_NET_NAME_MAX)
		return false;
	if (under) {
		if (n < r + 2 || name[n - r - 1] != '.')
			return false;
		name += n - r;
	} else if (n != r) {
		return false;
	}
	for (size_t i = 0; i < r; i++)
		if (lower(name[i]) != rule[i])
			return false;
	return true;
}

/* ------------------------------------------------------------------ */
/* Groups and the special-purpose ranges */

const struct msb_net_cidr *msb_net_special_range(size_t i, const char **desc)
{
	if (i >= NSPECIALS)
		return NULL;
	if (desc)
		*desc = specials[i].desc;
	return &specials[i].cidr;
}

/* The address groups and the preset judge: the IPv4 one carried by an
 * IPv6 form, else the address itself. */
static struct msb_net_addr effective(const struct msb_net_addr *a)
{
	struct msb_net_addr e;

	if (msb_net_addr_unwrap(&e, a))
		return e;
	return *a;
}

static const struct special *special_of(const struct msb_net_addr *eff)
{
	for (size_t i = 0; i < NSPECIALS; i++)
		if (msb_net_cidr_contains(&specials[i].cidr, eff))
			return &specials[i];
	return NULL;
}

const char *msb_net_addr_special(const struct msb_net_addr *addr)
{
	struct msb_net_addr e = effective(addr);
	const struct special *s = special_of(&e);

	return s ? s->desc : NULL;
}

static bool in_groups(const struct msb_net_addr *eff, unsigned groups)
{
	for (size_t i = 0; i < NSPECIALS; i++)
		if ((specials[i].groups & groups) &&
		    msb_net_cidr_contains(&specials[i].cidr, eff))
			return true;
	return false;
}

/* Judged on the effective address; HOST is loopback and the ranges
 * marked G(HOST) here (the gateways are the policy's: dest_init()). */
static bool eff_in_group(const struct msb_net_addr *eff, unsigned g)
{
	switch (g) {
	case MSB_NET_GROUP_PUBLIC:
		return (eff->family == 4 || eff->family == 6) &&
		       !special_of(eff);
	case MSB_NET_GROUP_HOST:
		return in_groups(eff, G(LOOPBACK) | G(HOST));
	default:
		return g < NGROUPS && in_groups(eff, 1u << g);
	}
}

bool msb_net_addr_in_group(const struct msb_net_addr *addr,
			   enum msb_net_group g)
{
	struct msb_net_addr e = effective(addr);

	return eff_in_group(&e, g);
}

int msb_net_group_parse(enum msb_net_group *out, const char *s)
{
	for (size_t i = 0; i < NGROUPS; i++)
		if (s && word_is(s, strlen(s), group_names[i])) {
			*out = (enum msb_net_group)i;
			return 0;
		}
	return -1;
}

const char *msb_net_group_name(enum msb_net_group g)
{
	return (unsigned)g < NGROUPS ? group_names[g] : "?";
}

int msb_net_preset_parse(enum msb_net_preset *out, const char *s)
{
	for (size_t i = 0; i < NPRESETS; i++)
		if (s && word_is(s, strlen(s), preset_names[i])) {
			*out = (enum msb_net_preset)i;
			return 0;
		}
	return -1;
}

const char *msb_net_preset_name(enum msb_net_preset p)
{
	return (unsigned)p < NPRESETS ? preset_names[p] : "?";
}

/* ------------------------------------------------------------------ */
/* Rules: parse and format */

/* A port 1..65535 in @n bytes at @s: decimal, no leading zero. */
static int parse_port(const char *s, size_t n)
{
	unsigned v = 0;

	if (n == 0 || n > 5 || s[0] == '0')
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	return v >= 1 && v <= 65535 ? (int)v : -1;
}

/* One FIELD into @r. Return: 0, or -1 with @err set. */
static int parse_field(struct msb_net_rule *r, bool *have_proto,
		       bool *have_ports, const char *s, size_t n, char *err,
		       size_t errlen)
{
	char q[40];

	if (n == 0) {
		set_err(err, errlen, "empty field after `:`");
		return -1;
	}
	for (size_t i = 0; i < NPROTOS; i++) {
		if (!word_is(s, n, proto_names[i]))
			continue;
		if (*have_proto) {
			set_err(err, errlen, "two protocols");
			return -1;
		}
		*have_proto = true;
		r->proto = (uint8_t)i;
		return 0;
	}
	if (!is_digit(s[0])) {
		set_err(err, errlen,
			"`%s` is not a protocol (tcp, udp, icmp, any) nor a port",
			quote(q, sizeof(q), s, n));
		return -1;
	}
	if (*have_ports) {
		set_err(err, errlen, "two port fields");
		return -1;
	}
	*have_ports = true;
	const char *dash = memchr(s, '-', n);
	size_t ln = dash ? (size_t)(dash - s) : n;
	int lo = parse_port(s, ln);
	int hi = dash ? parse_port(dash + 1, n - ln - 1) : lo;
	if (lo < 0 || hi < 0) {
		set_err(err, errlen,
			"`%s` is not a port (1-65535) or a range of ports (N-M)",
			quote(q, sizeof(q), s, n));
		return -1;
	}
	if (lo > hi) {
		set_err(err, errlen, "port range %d-%d is backwards", lo, hi);
		return -1;
	}
	r->port_lo = (uint16_t)lo;
	r->port_hi = (uint16_t)hi;
	return 0;
}

/* The TARGET in @n bytes at @s into @r. Return: 0, or -1 with @err. */
static int parse_target(struct msb_net_rule *r, const char *s, size_t n,
			char *err, size_t errlen)
{
	char q[80], why[160];

	if (n == 0) {
		set_err(err, errlen, "no target");
		return -1;
	}
	if (word_is(s, n, "*")) {
		r->target = MSB_NET_TARGET_ANY;
		return 0;
	}
	for (size_t i = 0; i < NGROUPS; i++)
		if (word_is(s, n, group_names[i])) {
			r->target = MSB_NET_TARGET_GROUP;
			r->group = (uint8_t)i;
			return 0;
		}
	for (size_t i = 0; i < NPROTOS; i++)
		if (word_is(s, n, proto_names[i])) {
			set_err(err, errlen,
				"`%s` is a protocol, not a target: write `*:%s`",
				proto_names[i], proto_names[i]);
			return -1;
		}
	if (s[0] == '[' || memchr(s, ':', n) || memchr(s, '/', n)) {
		if (msb_net_cidr_parse_n(&r->cidr, s, n, why, sizeof(why))) {
			set_err(err, errlen, "`%s`: %s",
				quote(q, sizeof(q), s, n), why);
			return -1;
		}
		r->target = MSB_NET_TARGET_CIDR;
		return 0;
	}
	bool dotted_digits = is_digit(s[0]);
	for (size_t i = 0; i < n; i++)
		dotted_digits =
			dotted_digits && (is_digit(s[i]) || s[i] == '.');
	if (dotted_digits) {
		if (msb_net_cidr_parse_n(&r->cidr, s, n, NULL, 0)) {
			set_err(err, errlen,
				"`%s` is not an IPv4 address (four numbers 0-255, no leading zeros)",
				quote(q, sizeof(q), s, n));
			return -1;
		}
		r->target = MSB_NET_TARGET_CIDR;
		return 0;
	}
	r->target = MSB_NET_TARGET_DOMAIN;
	if (n >= 2 && s[0] == '*' && s[1] == '.') {
		r->target = MSB_NET_TARGET_SUFFIX;
		s += 2;
		n -= 2;
	} else if (s[0] == '.') {
		r->target = MSB_NET_TARGET_SUFFIX;
		s++;
		n--;
	}
	if (norm_name(r->name, s, n, why, sizeof(why))) {
		set_err(err, errlen, "`%s`: %s", quote(q, sizeof(q), s, n),
			why);
		return -1;
	}
	/* a one-label name is most likely a misspelt group: it needs its
	   trailing dot */
	if (r->target == MSB_NET_TARGET_DOMAIN && !strchr(r->name, '.') &&
	    s[n - 1] != '.') {
		quote(q, sizeof(q), s, n);
		set_err(err, errlen,
			"`%s` is neither a group (public, private, loopback, link-local, metadata, multicast, host) nor a domain name with a dot (write `%s.` for a one-label name)",
			q, q);
		return -1;
	}
	return 0;
}

/* RULE (no action word) in @n bytes at @s. Return: 0, or -1 with @err. */
static int parse_rule_body(struct msb_net_rule *r, const char *s, size_t n,
			   char *err, size_t errlen)
{
	size_t tn = n;

	if (n == 0) {
		set_err(err, errlen, "empty rule");
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 ||
		    (unsigned char)s[i] >= 0x7f) {
			set_err(err, errlen,
				"a rule has no spaces and only printable ASCII");
			return -1;
		}
	if (s[0] == '[') {
		/* the target ends at the first ':' after ']' */
		const char *close = memchr(s, ']', n);
		if (close) {
			const char *c =
				memchr(close, ':', n - (size_t)(close - s));
			tn = c ? (size_t)(c - s) : n;
		}
	} else {
		size_t colons = 0;
		for (size_t i = 0; i < n; i++)
			colons += s[i] == ':';
		/* a bare IPv6 address (it cannot have fields): more than
		   two colons, or "::", and it starts like one */
		bool v6 = colons > 2;
		for (size_t i = 0; i + 1 < n && !v6; i++)
			v6 = s[i] == ':' && s[i + 1] == ':';
		v6 = v6 && (s[0] == ':' || is_hex(s[0]));
		if (!v6) {
			const char *c = memchr(s, ':', n);
			tn = c ? (size_t)(c - s) : n;
		}
	}
	if (parse_target(r, s, tn, err, errlen))
		return -1;
	bool have_proto = false, have_ports = false;
	size_t nfields = 0;
	for (size_t i = tn; i < n;) {
		/* s[i] is ':' */
		size_t f = i + 1, e = f;
		while (e < n && s[e] != ':')
			e++;
		if (++nfields > 2) {
			set_err(err, errlen,
				"too many fields: at most a protocol and ports");
			return -1;
		}
		if (parse_field(r, &have_proto, &have_ports, s + f, e - f, err,
				errlen))
			return -1;
		i = e;
	}
	if (r->port_lo && r->proto == MSB_NET_PROTO_ICMP) {
		set_err(err, errlen, "icmp has no ports");
		return -1;
	}
	return 0;
}

int msb_net_rule_parse(struct msb_net_rule *out, const char *s, bool allow_deny,
		       char *err, size_t errlen)
{
	char q[96], why[256];
	size_t n = s ? strnlen(s, MSB_NET_RULE_TEXT_MAX + 1) : 0;
	const char *body = s;
	size_t bn = n;

	memset(out, 0, sizeof(*out));
	if (!s) {
		set_err(err, errlen, "invalid rule: none given");
		return -1;
	}
	if (n > MSB_NET_RULE_TEXT_MAX) {
		set_err(err, errlen, "invalid rule `%s`: longer than %d bytes",
			quote(q, sizeof(q), s, n), MSB_NET_RULE_TEXT_MAX);
		return -1;
	}
	if (allow_deny) {
		size_t w = 0;
		while (w < n && s[w] != ' ')
			w++;
		if (word_is(s, w, "allow")) {
			out->allow = true;
		} else if (!word_is(s, w, "deny")) {
			set_err(err, errlen,
				"invalid rule `%s`: it must start with `allow ` or `deny `",
				quote(q, sizeof(q), s, n));
			return -1;
		}
		while (w < n && s[w] == ' ')
			w++;
		body = s + w;
		bn = n - w;
	}
	if (parse_rule_body(out, body, bn, why, sizeof(why))) {
		memset(out, 0, sizeof(*out));
		set_err(err, errlen, "invalid rule `%s`: %s",
			quote(q, sizeof(q), s, n), why);
		return -1;
	}
	return 0;
}

char *msb_net_rule_format(char *out, size_t cap, const struct msb_net_rule *r)
{
	char target[MSB_NET_NAME_MAX + 2], proto[8] = "", ports[16] = "";

	if (cap == 0)
		return out;
	switch (r->target) {
	case MSB_NET_TARGET_ANY:
		snprintf(target, sizeof(target), "*");
		break;
	case MSB_NET_TARGET_CIDR:
		msb_net_cidr_format(target, sizeof(target), &r->cidr, true);
		break;
	case MSB_NET_TARGET_GROUP:
		snprintf(target, sizeof(target), "%s",
			 msb_net_group_name((enum msb_net_group)r->group));
		break;
	case MSB_NET_TARGET_SUFFIX:
		snprintf(target, sizeof(target), ".%s", r->name);
		break;
	default:
		/* a one-label name keeps its trailing dot */
		snprintf(target, sizeof(target), "%s%s", r->name,
			 strchr(r->name, '.') ? "" : ".");
		break;
	}
	if (r->proto != MSB_NET_PROTO_ANY && r->proto < NPROTOS)
		snprintf(proto, sizeof(proto), ":%s", proto_names[r->proto]);
	if (r->port_lo && r->port_lo == r->port_hi)
		snprintf(ports, sizeof(ports), ":%u", r->port_lo);
	else if (r->port_lo)
		snprintf(ports, sizeof(ports), ":%u-%u", r->port_lo,
			 r->port_hi);
	snprintf(out, cap, "%s %s%s%s", r->allow ? "allow" : "deny", target,
		 proto, ports);
	return out;
}

/* ------------------------------------------------------------------ */
/* The policy */

struct msb_net_policy *msb_net_policy_new(void)
{
	return calloc(1, sizeof(struct msb_net_policy));
}

void msb_net_policy_free(struct msb_net_policy *p)
{
	if (!p)
		return;
	free(p->rules);
	free(p->domains);
	free(p->suffixes);
	free(p);
}

void msb_net_policy_set_preset(struct msb_net_policy *p,
			       enum msb_net_preset preset)
{
	if ((unsigned)preset < NPRESETS)
		p->preset = preset;
}

enum msb_net_preset msb_net_policy_preset(const struct msb_net_policy *p)
{
	return p->preset;
}

/* Make room for one more element of @size in *@v (@n used, @cap held),
 * growing up to @max. Return: 0, or -1. */
static int grow(void **v, size_t *cap, size_t n, size_t size, size_t max)
{
	if (n < *cap)
		return 0;
	if (n >= max)
		return -1;
	size_t ncap = *cap ? *cap * 2 : 8;
	if (ncap > max)
		ncap = max;
	void *nv = realloc(*v, ncap * size);
	if (!nv)
		return -1;
	*v = nv;
	*cap = ncap;
	return 0;
}

int msb_net_policy_add_rule(struct msb_net_policy *p, const char *s, char *err,
			    size_t errlen)
{
	struct msb_net_rule r;

	if (msb_net_rule_parse(&r, s, true, err, errlen))
		return -1;
	if (p->nrules >= MSB_NET_MAX_RULES) {
		set_err(err, errlen, "too many rules: at most %d",
			MSB_NET_MAX_RULES);
		return -1;
	}
	if (grow((void **)&p->rules, &p->caprules, p->nrules, sizeof(*p->rules),
		 MSB_NET_MAX_RULES)) {
		set_err(err, errlen, "out of memory");
		return -1;
	}
	struct prule *pr = &p->rules[p->nrules++];
	memcpy(&pr->r, &r, sizeof(r)); /* padding too: rules memcmp() */
	msb_net_rule_format(pr->text, sizeof(pr->text), &r);
	return 0;
}

static int add_blocked(struct msb_net_policy *p, const char *s, bool suffix,
		       char *err, size_t errlen)
{
	char name[MSB_NET_NAME_MAX + 1], why[160], q[80];
	size_t n = s ? strnlen(s, MSB_NET_RULE_TEXT_MAX + 1) : 0;
	const char *t = s;

	if (!s) {
		set_err(err, errlen, "no domain given");
		return -1;
	}
	if (suffix && n >= 2 && s[0] == '*' && s[1] == '.')
		t += 2;
	else if (suffix && n >= 1 && s[0] == '.')
		t++;
	if (n > MSB_NET_RULE_TEXT_MAX ||
	    norm_name(name, t, n - (size_t)(t - s), why, sizeof(why))) {
		if (n > MSB_NET_RULE_TEXT_MAX)
			snprintf(why, sizeof(why), "too long");
		set_err(err, errlen, "invalid blocked domain%s `%s`: %s",
			suffix ? " suffix" : "", quote(q, sizeof(q), s, n),
			why);
		return -1;
	}
	char(**v)[MSB_NET_NAME_MAX + 1] = suffix ? &p->suffixes : &p->domains;
	size_t *nv = suffix ? &p->nsuffixes : &p->ndomains;
	size_t *cv = suffix ? &p->capsuffixes : &p->capdomains;
	for (size_t i = 0; i < *nv; i++)
		if (!strcmp((*v)[i], name))
			return 0;
	if (p->ndomains + p->nsuffixes >= MSB_NET_MAX_BLOCKED) {
		set_err(err, errlen,
			"too many blocked domains and suffixes: at most %d",
			MSB_NET_MAX_BLOCKED);
		return -1;
	}
	if (grow((void **)v, cv, *nv, sizeof(**v), MSB_NET_MAX_BLOCKED)) {
		set_err(err, errlen, "out of memory");
		return -1;
	}
	memcpy((*v)[(*nv)++], name, sizeof(name));
	return 0;
}

int msb_net_policy_block_domain(struct msb_net_policy *p, const char *name,
				char *err, size_t errlen)
{
	return add_blocked(p, name, false, err, errlen);
}

int msb_net_policy_block_suffix(struct msb_net_policy *p, const char *suffix,
				char *err, size_t errlen)
{
	return add_blocked(p, suffix, true, err, errlen);
}

int msb_net_policy_add_gateway(struct msb_net_policy *p,
			       const struct msb_net_addr *a)
{
	struct msb_net_addr g;

	if (a->family != 4 && a->family != 6)
		return -1;
	/* only the bytes of the family count */
	memset(&g, 0, sizeof(g));
	g.family = a->family;
	memcpy(g.a, a->a, a->family == 4 ? 4 : 16);
	for (size_t i = 0; i < p->ngateways; i++)
		if (msb_net_addr_equal(&p->gateways[i], &g))
			return 0;
	if (p->ngateways >= MSB_NET_MAX_GATEWAYS)
		return -1;
	p->gateways[p->ngateways++] = g;
	return 0;
}

size_t msb_net_policy_rule_count(const struct msb_net_policy *p)
{
	return p->nrules;
}

const struct msb_net_rule *msb_net_policy_rule(const struct msb_net_policy *p,
					       size_t i)
{
	return i < p->nrules ? &p->rules[i].r : NULL;
}

int msb_net_policy_add_line(struct msb_net_policy *p, const char *line,
			    char *err, size_t errlen)
{
	char q[96];
	size_t n = line ? strnlen(line, MSB_NET_RULE_TEXT_MAX + 1) : 0;
	size_t w = 0;

	if (!line) {
		set_err(err, errlen, "invalid policy line: none given");
		return -1;
	}
	while (w < n && line[w] != ' ')
		w++;
	const char *arg = line + w;
	while (*arg == ' ')
		arg++;
	if (word_is(line, w, "allow") || word_is(line, w, "deny"))
		return msb_net_policy_add_rule(p, line, err, errlen);
	if (word_is(line, w, "block-domain"))
		return msb_net_policy_block_domain(p, arg, err, errlen);
	if (word_is(line, w, "block-domain-suffix"))
		return msb_net_policy_block_suffix(p, arg, err, errlen);
	if (word_is(line, w, "preset")) {
		enum msb_net_preset pr;
		if (msb_net_preset_parse(&pr, arg)) {
			set_err(err, errlen,
				"invalid preset `%s`: use public, all or none",
				quote(q, sizeof(q), arg, strnlen(arg, 64)));
			return -1;
		}
		p->preset = pr;
		return 0;
	}
	if (word_is(line, w, "gateway")) {
		struct msb_net_addr a;
		if (msb_net_addr_parse(&a, arg) ||
		    msb_net_policy_add_gateway(p, &a)) {
			set_err(err, errlen,
				"invalid gateway `%s`: not an IP address, or more than %d",
				quote(q, sizeof(q), arg, strnlen(arg, 64)),
				MSB_NET_MAX_GATEWAYS);
			return -1;
		}
		return 0;
	}
	set_err(err, errlen,
		"invalid policy line `%s`: it starts with preset, allow, deny, block-domain, block-domain-suffix or gateway",
		quote(q, sizeof(q), line, n));
	return -1;
}

char **msb_net_policy_lines(const struct msb_net_policy *p)
{
	size_t n = 1 + p->nrules + p->ndomains + p->nsuffixes + p->ngateways;
	char **v = calloc(n + 1, sizeof(*v));
	size_t k = 0;
	char a[MSB_NET_ADDR_STRLEN];

	if (!v)
		return NULL;
#define ADD(...)                                                               \
	do {                                                                   \
		if (asprintf(&v[k], __VA_ARGS__) < 0) {                        \
			v[k] = NULL;                                           \
			goto fail;                                             \
		}                                                              \
		k++;                                                           \
	} while (0)
	ADD("preset %s", msb_net_preset_name(p->preset));
	for (size_t i = 0; i < p->nrules; i++)
		ADD("%s", p->rules[i].text);
	for (size_t i = 0; i < p->ndomains; i++)
		ADD("block-domain %s", p->domains[i]);
	for (size_t i = 0; i < p->nsuffixes; i++)
		ADD("block-domain-suffix .%s", p->suffixes[i]);
	for (size_t i = 0; i < p->ngateways; i++)
		ADD("gateway %s",
		    msb_net_addr_format(a, sizeof(a), &p->gateways[i]));
#undef ADD
	return v;
fail:
	for (size_t i = 0; i < k; i++)
		free(v[i]);
	free(v);
	return NULL;
}

struct msb_net_policy *msb_net_policy_from_lines(const char *const *lines,
						 size_t n, char *err,
						 size_t errlen)
{
	struct msb_net_policy *p = msb_net_policy_new();

	if (!p) {
		set_err(err, errlen, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		if (msb_net_policy_add_line(p, lines[i], err, errlen)) {
			msb_net_policy_free(p);
			return NULL;
		}
	return p;
}

/* ------------------------------------------------------------------ */
/* Checks */

static const char *blocked_name(const struct msb_net_policy *p,
				const char *name)
{
	for (size_t i = 0; i < p->ndomains; i++)
		if (name_match(name, p->domains[i], false))
			return "blocked domain";
	for (size_t i = 0; i < p->nsuffixes; i++)
		if (name_match(name, p->suffixes[i], true))
			return "blocked domain suffix";
	return NULL;
}

bool msb_net_policy_name_blocked(const struct msb_net_policy *p,
				 const char *name)
{
	return blocked_name(p, name) != NULL;
}

/* What a check looks at, worked out once. */
struct dest {
	const struct msb_net_addr *addr;
	struct msb_net_addr eff;
	bool wrapped; /* eff is the IPv4 address carried by addr */
	bool host;
};

static void dest_init(struct dest *d, const struct msb_net_policy *p,
		      const struct msb_net_addr *addr)
{
	d->addr = addr;
	d->wrapped = msb_net_addr_unwrap(&d->eff, addr);
	if (!d->wrapped)
		d->eff = *addr;
	d->host = eff_in_group(&d->eff, MSB_NET_GROUP_HOST);
	for (size_t i = 0; i < p->ngateways && !d->host; i++)
		d->host = msb_net_addr_equal(&p->gateways[i], addr) ||
			  msb_net_addr_equal(&p->gateways[i], &d->eff);
}

/* The rule's target matches: return true, with *@name the name that did
 * for a domain rule. */
static bool target_match(const struct msb_net_rule *r, const struct dest *d,
			 const char *const *names, size_t nnames,
			 const char **name)
{
	switch (r->target) {
	case MSB_NET_TARGET_ANY:
		return true;
	case MSB_NET_TARGET_CIDR:
		return msb_net_cidr_contains(&r->cidr, d->addr) ||
		       (d->wrapped && msb_net_cidr_contains(&r->cidr, &d->eff));
	case MSB_NET_TARGET_GROUP:
		if (r->group == MSB_NET_GROUP_HOST)
			return d->host;
		if (r->group == MSB_NET_GROUP_PUBLIC && d->host)
			return false;
		return eff_in_group(&d->eff, r->group);
	case MSB_NET_TARGET_DOMAIN:
	case MSB_NET_TARGET_SUFFIX:
		for (size_t i = 0; i < nnames; i++)
			if (name_match(names[i], r->name,
				       r->target == MSB_NET_TARGET_SUFFIX)) {
				*name = names[i];
				return true;
			}
		return false;
	}
	return false;
}

static bool rule_is_full(const struct msb_net_rule *r)
{
	return r->proto == MSB_NET_PROTO_ANY && r->port_lo == 0;
}

static bool proto_port_match(const struct msb_net_rule *r,
			     enum msb_net_proto proto, uint16_t port)
{
	if (r->proto != MSB_NET_PROTO_ANY && r->proto != proto)
		return false;
	if (r->port_lo == 0)
		return true;
	if (proto != MSB_NET_PROTO_TCP && proto != MSB_NET_PROTO_UDP)
		return false;
	return port >= r->port_lo && port <= r->port_hi;
}

static bool verdict(struct msb_net_verdict *out, bool allow, enum msb_net_by by,
		    int rule, const char *name, const char *reason)
{
	if (out) {
		out->allow = allow;
		out->by = (uint8_t)by;
		out->rule = rule;
		out->name = name;
		out->reason = reason;
	}
	return allow;
}

/* Past the rules. */
static bool preset_verdict(struct msb_net_verdict *out,
			   const struct msb_net_policy *p, const struct dest *d)
{
	if (d->host)
		return verdict(
			out, false, MSB_NET_BY_HOST, -1, NULL,
			"host: allowed only by an allow rule for the host group");
	switch (p->preset) {
	case MSB_NET_PRESET_ALL:
		return verdict(out, true, MSB_NET_BY_PRESET, -1, NULL,
			       "allowed");
	case MSB_NET_PRESET_PUBLIC: {
		const struct special *s = special_of(&d->eff);
		if (s)
			return verdict(out, false, MSB_NET_BY_PRESET, -1, NULL,
				       s->desc);
		return verdict(out, true, MSB_NET_BY_PRESET, -1, NULL,
			       "public address");
	}
	default:
		return verdict(out, false, MSB_NET_BY_PRESET, -1, NULL,
			       "denied");
	}
}

bool msb_net_policy_check(struct msb_net_verdict *out,
			  const struct msb_net_policy *p,
			  const struct msb_net_addr *addr,
			  enum msb_net_proto proto, uint16_t port,
			  const char *const *names, size_t nnames)
{
	struct dest d;

	if (addr->family != 4 && addr->family != 6)
		return verdict(out, false, MSB_NET_BY_INVALID, -1, NULL,
			       "not an IP address");
	if (!names)
		nnames = 0;
	dest_init(&d, p, addr);
	for (size_t i = 0; i < nnames; i++) {
		const char *why = blocked_name(p, names[i]);
		if (why)
			return verdict(out, false, MSB_NET_BY_BLOCKED, -1,
				       names[i], why);
	}
	for (size_t i = 0; i < p->nrules; i++) {
		const struct msb_net_rule *r = &p->rules[i].r;
		const char *name = NULL;
		if (!proto_port_match(r, proto, port) ||
		    !target_match(r, &d, names, nnames, &name))
			continue;
		if (r->allow && d.host &&
		    !(r->target == MSB_NET_TARGET_GROUP &&
		      r->group == MSB_NET_GROUP_HOST))
			continue;
		return verdict(out, r->allow, MSB_NET_BY_RULE, (int)i, name,
			       p->rules[i].text);
	}
	return preset_verdict(out, p, &d);
}

bool msb_net_policy_may_connect(const struct msb_net_policy *p,
				const struct msb_net_addr *addr,
				const char *const *names, size_t nnames)
{
	struct dest d;

	if (addr->family != 4 && addr->family != 6)
		return false;
	if (!names)
		nnames = 0;
	dest_init(&d, p, addr);
	for (size_t i = 0; i < nnames; i++)
		if (blocked_name(p, names[i]))
			return false;
	for (size_t i = 0; i < p->nrules; i++) {
		const struct msb_net_rule *r = &p->rules[i].r;
		const char *name = NULL;
		if (!target_match(r, &d, names, nnames, &name))
			continue;
		if (r->allow) {
			if (d.host && !(r->target == MSB_NET_TARGET_GROUP &&
					r->group == MSB_NET_GROUP_HOST))
				continue;
			return true;
		}
		if (rule_is_full(r))
			return false;
	}
	return preset_verdict(NULL, p, &d);
}

/* A CIDR that holds only host addresses (loopback, 0/8, or one gateway). */
static bool cidr_only_host(const struct msb_net_policy *p,
			   const struct msb_net_cidr *c)
{
	struct msb_net_addr e;

	if (c->addr.family == 4 && c->len >= 8 &&
	    (c->addr.a[0] == 127 || c->addr.a[0] == 0))
		return true;
	if (c->addr.family == 6 && c->len == 128) {
		if (msb_net_addr_unwrap(&e, &c->addr) &&
		    (e.a[0] == 127 || e.a[0] == 0))
			return true;
		if (eff_in_group(&c->addr, MSB_NET_GROUP_HOST))
			return true;
	}
	if (c->len == (c->addr.family == 4 ? 32 : 128))
		for (size_t i = 0; i < p->ngateways; i++)
			if (msb_net_addr_equal(&p->gateways[i], &c->addr))
				return true;
	return false;
}

bool msb_net_policy_may_resolve(const struct msb_net_policy *p,
				const char *name)
{
	char norm[MSB_NET_NAME_MAX + 1];
	size_t n = name ? strnlen(name, MSB_NET_NAME_MAX + 2) : 0;

	if (!name || norm_name(norm, name, n, NULL, 0) || blocked_name(p, norm))
		return false;
	for (size_t i = 0; i < p->nrules; i++) {
		const struct msb_net_rule *r = &p->rules[i].r;
		switch (r->target) {
		case MSB_NET_TARGET_DOMAIN:
		case MSB_NET_TARGET_SUFFIX:
			if (!name_match(norm, r->name,
					r->target == MSB_NET_TARGET_SUFFIX))
				break;
			if (r->allow)
				return true;
			if (rule_is_full(r))
				return false;
			break;
		case MSB_NET_TARGET_ANY:
			if (r->allow)
				return true;
			if (rule_is_full(r))
				return false;
			break;
		case MSB_NET_TARGET_GROUP:
			if (r->allow && r->group != MSB_NET_GROUP_HOST &&
			    r->group != MSB_NET_GROUP_LOOPBACK)
				return true;
			if (!r->allow && rule_is_full(r) &&
			    r->group == MSB_NET_GROUP_PUBLIC &&
			    p->preset == MSB_NET_PRESET_PUBLIC)
				return false;
			break;
		case MSB_NET_TARGET_CIDR:
			if (r->allow && !cidr_only_host(p, &r->cidr))
				return true;
			break;
		}
	}
	return p->preset != MSB_NET_PRESET_NONE;
}

char *msb_net_verdict_format(char *out, size_t cap,
			     const struct msb_net_verdict *v,
			     const struct msb_net_policy *p)
{
	char q[MSB_NET_NAME_MAX * 4 + 8] = "";
	const char *reason = v->reason ? v->reason : "?";

	if (cap == 0)
		return out;
	if (v->name)
		quote(q, sizeof(q), v->name,
		      strnlen(v->name, MSB_NET_NAME_MAX + 2));
	switch (v->by) {
	case MSB_NET_BY_RULE:
		snprintf(out, cap, "rule %d `%s`%s%s%s", v->rule + 1, reason,
			 v->name ? " (" : "", q, v->name ? ")" : "");
		break;
	case MSB_NET_BY_BLOCKED:
		snprintf(out, cap, "%s %s", reason, q);
		break;
	case MSB_NET_BY_PRESET:
		snprintf(out, cap, "preset %s: %s",
			 msb_net_preset_name(p->preset), reason);
		break;
	default:
		snprintf(out, cap, "%s", reason);
		break;
	}
	return out;
}
