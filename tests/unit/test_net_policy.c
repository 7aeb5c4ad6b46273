// SPDX-License-Identifier: Apache-2.0
/* Unit tests for src/net/policy.c: the rule grammar, the special-purpose
 * ranges, groups, presets, first match, domains, DNS, canonical text. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "net/policy.h"

/* ------------------------------------------------------------------ */
/* Grammar */

/* "allow/deny RULE" @s parses and its canonical text is @canon. */
static void rule_ok(const char *s, const char *canon)
{
	struct msb_net_rule r, r2;
	char out[MSB_NET_LINE_MAX], err[512] = "";

	int rc = msb_net_rule_parse(&r, s, true, err, sizeof(err));
	CHECK(rc == 0);
	if (rc) {
		fprintf(stderr, "  refused `%s`: %s\n", s, err);
		return;
	}
	CHECK_STR(msb_net_rule_format(out, sizeof(out), &r), canon);
	CHECK(msb_net_rule_parse(&r2, out, true, NULL, 0) == 0);
	CHECK(!memcmp(&r, &r2, sizeof(r)));
}

/* @s is refused, with an error that quotes it and contains @why. */
static void rule_bad(const char *s, const char *why)
{
	struct msb_net_rule r;
	char err[512] = "";

	int rc = msb_net_rule_parse(&r, s, true, err, sizeof(err));
	CHECK(rc == -1);
	if (rc == 0) {
		fprintf(stderr, "  accepted `%s`\n", s);
		return;
	}
	CHECK(!strncmp(err, "invalid rule `", 14));
	CHECK(strchr(err, '\n') == NULL);
	CHECK(strstr(err, why) != NULL);
	if (!strstr(err, why))
		fprintf(stderr, "  `%s`: error `%s`, wanted `%s`\n", s, err,
			why);
	struct msb_net_rule zero;
	memset(&zero, 0, sizeof(zero));
	CHECK(!memcmp(&r, &zero, sizeof(r)));
}

static void test_grammar(void)
{
	static const struct {
		const char *in, *canon;
	} ok[] = {
		{"allow *", "allow *"},
		{"deny *", "deny *"},
		{"deny   *", "deny *"},
		{"deny *:udp:53", "deny *:udp:53"},
		{"deny *:53:udp", "deny *:udp:53"},
		{"allow *:any", "allow *"},
		{"allow *:any:443", "allow *:443"},
		{"allow *:1-65535", "allow *:1-65535"},
		{"allow *:80-80", "allow *:80"},
		{"allow *:icmp", "allow *:icmp"},
		{"deny 10.0.0.0/8", "deny 10.0.0.0/8"},
		{"deny 10.0.0.1", "deny 10.0.0.1"},
		{"deny 10.0.0.1/32", "deny 10.0.0.1"},
		{"deny 0.0.0.0/0", "deny 0.0.0.0/0"},
		{"allow 1.2.3.4:443", "allow 1.2.3.4:443"},
		{"allow 1.2.3.0/24:tcp:8000-8100",
		 "allow 1.2.3.0/24:tcp:8000-8100"},
		{"deny [2001:db8::]/32:tcp", "deny [2001:db8::]/32:tcp"},
		{"deny [2001:db8::/32]:tcp", "deny [2001:db8::]/32:tcp"},
		{"deny 2001:db8::/32", "deny [2001:db8::]/32"},
		{"deny 2001:DB8::1", "deny [2001:db8::1]"},
		{"allow [::1]:tcp:22", "allow [::1]:tcp:22"},
		{"deny ::", "deny [::]"},
		{"deny ::/0", "deny [::]/0"},
		{"deny ::ffff:10.0.0.1", "deny [::ffff:10.0.0.1]"},
		{"allow host:tcp:11434", "allow host:tcp:11434"},
		{"allow public", "allow public"},
		{"deny private", "deny private"},
		{"deny loopback", "deny loopback"},
		{"deny link-local", "deny link-local"},
		{"deny metadata", "deny metadata"},
		{"deny multicast:udp", "deny multicast:udp"},
		{"allow api.example.com:443", "allow api.example.com:443"},
		{"allow API.Example.COM.", "allow api.example.com"},
		{"allow .github.com", "allow .github.com"},
		{"allow *.github.com:tcp", "allow .github.com:tcp"},
		{"allow intranet.", "allow intranet."},
		{"allow INTRANET.", "allow intranet."},
		{"allow my_host.example", "allow my_host.example"},
		{"allow 1e100.net", "allow 1e100.net"},
		{"allow 1.2.3.a", "allow 1.2.3.a"},
		/* a name that reads as a keyword keeps its dot */
		{"allow host.", "allow host."},
		{"allow tcp.", "allow tcp."},
		{"allow .host", "allow .host"},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		rule_ok(ok[i].in, ok[i].canon);

	rule_bad("", "must start with `allow ` or `deny `");
	rule_bad("permit *", "must start with `allow ` or `deny `");
	rule_bad("allow", "empty rule");
	rule_bad("allow ", "empty rule");
	rule_ok("Allow *", "allow *");
	rule_bad("allow\t*", "must start");
	rule_bad("allow * ", "no spaces");
	rule_bad("allow a b", "no spaces");
	rule_bad("allow caf\xc3\xa9.fr", "printable ASCII");
	rule_bad("allow tcp",
		 "`tcp` is a protocol, not a target: write `*:tcp`");
	rule_bad("allow udp:53", "is a protocol");
	rule_bad(
		"deny metdata",
		"`metdata` is neither a group (public, private, loopback, link-local, metadata, multicast, host) nor a domain name with a dot (write `metdata.` for a one-label name)");
	rule_bad("deny hosts:tcp", "neither a group");
	rule_bad("allow intranet", "write `intranet.`");
	rule_bad("allow :443", "no target");
	rule_bad("allow *:", "empty field");
	rule_bad("allow *::", "empty field");
	rule_bad("allow *:tcp:", "empty field");
	rule_bad("allow *:tcp:udp", "two protocols");
	rule_bad("allow *:80:443", "two port fields");
	rule_bad("allow *:tcp:80:x", "too many fields");
	rule_bad("allow *:sctp", "`sctp` is not a protocol");
	rule_ok("allow *:TCP", "allow *:tcp");
	rule_bad("allow *:0", "`0` is not a port");
	rule_bad("allow *:65536", "not a port");
	rule_bad("allow *:080", "not a port");
	rule_bad("allow *:80-", "not a port");
	rule_bad("allow *:-80", "not a protocol");
	rule_bad("allow *:1-2-3", "not a port");
	rule_bad("allow *:443-80", "backwards");
	rule_bad("allow *:icmp:7", "icmp has no ports");
	rule_bad("deny 10.0.0/8", "not an IP address");
	rule_bad("deny 10.0.0", "not an IPv4 address");
	rule_bad("deny 10", "not an IPv4 address");
	rule_bad("deny 010.0.0.1", "not an IPv4 address");
	rule_bad("deny 10.0.0.01", "not an IPv4 address");
	rule_bad("deny 1.2.3.4.5", "not an IPv4 address");
	rule_bad("deny 256.0.0.1", "not an IPv4 address");
	rule_bad("deny 0x7f.0.0.1", "not an IP address nor a domain name");
	rule_bad("deny 0x7f000001", "not an IP address nor a domain name");
	rule_bad("deny 10.1.0.0/8", "starts at 10.0.0.0");
	rule_bad("deny 10.0.0.0/33", "0-32");
	rule_bad("deny [10.0.0.1]", "brackets");
	rule_bad("deny [2001:db8::]/129", "0-128");
	rule_bad("deny [2001:db8::", "without `]`");
	rule_bad("deny [::1]x:tcp", "after `]`");
	rule_bad("deny fe80::1%eth0", "not an IP address");
	rule_bad("deny 1:2:3", "not an IPv4 address");
	rule_bad("deny example.com/8", "not an IP address");
	rule_bad("allow .", "empty domain name");
	rule_bad("allow *.", "empty domain name");
	rule_bad("allow ..com", "empty label");
	rule_bad("allow a..com", "empty label");
	rule_bad("allow *foo.com", "only letters, digits");
	rule_bad("allow foo.*.com", "only letters, digits");
	rule_bad("allow -a.com", "start or end with `-`");
	rule_bad("allow a-.com", "start or end with `-`");
	rule_bad("allow a.com..", "empty label");
	rule_bad("deny *:tcp:80`x", "`80\\x60x` is not a port");

	/* labels and names at their limits */
	char name[400], rule[450];
	memset(name, 'a', 63);
	strcpy(name + 63, ".com");
	snprintf(rule, sizeof(rule), "allow %s", name);
	rule_ok(rule, rule);
	memset(name, 'a', 64);
	strcpy(name + 64, ".com");
	snprintf(rule, sizeof(rule), "allow %s", name);
	rule_bad(rule, "label longer than 63");
	/* 253 bytes: 3 x (63 + '.') + 61 */
	for (int i = 0; i < 3; i++) {
		memset(name + i * 64, 'a' + i, 63);
		name[i * 64 + 63] = '.';
	}
	memset(name + 192, 'd', 61);
	name[253] = '\0';
	snprintf(rule, sizeof(rule), "allow %s", name);
	rule_ok(rule, rule);
	snprintf(rule, sizeof(rule), "allow %s.", name);
	struct msb_net_rule r;
	CHECK(msb_net_rule_parse(&r, rule, true, NULL, 0) == 0);
	snprintf(rule, sizeof(rule), "allow %sd", name);
	rule_bad(rule, "longer than 253");
	snprintf(rule, sizeof(rule), "allow .%s", name);
	rule_ok(rule, rule);

	/* the rule text is bounded, and quoted short in the error */
	char big[700], err[512];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "allow ", 6);
	CHECK(msb_net_rule_parse(&r, big, true, err, sizeof(err)) == -1);
	CHECK(strstr(err, "longer than 512 bytes") != NULL);
	CHECK(strstr(err, "...") != NULL);
	CHECK(strlen(err) < 200);
	/* control characters in the error are escaped */
	CHECK(msb_net_rule_parse(&r, "allow a\nb\x1b[2J", true, err,
				 sizeof(err)) == -1);
	CHECK(strchr(err, '\n') == NULL && strchr(err, '\x1b') == NULL);
	CHECK(strstr(err, "a\\x0ab\\x1b[2J") != NULL);
	CHECK(msb_net_rule_parse(&r, NULL, true, err, sizeof(err)) == -1);

	/* a bare RULE */
	CHECK(msb_net_rule_parse(&r, "host:tcp:11434", false, NULL, 0) == 0);
	CHECK(r.target == MSB_NET_TARGET_GROUP &&
	      r.group == MSB_NET_GROUP_HOST);
	CHECK(r.proto == MSB_NET_PROTO_TCP && r.port_lo == 11434 &&
	      r.port_hi == 11434 && !r.allow);
	CHECK(msb_net_rule_parse(&r, "allow *", false, err, sizeof(err)) == -1);

	/* the fields of a few */
	CHECK(msb_net_rule_parse(&r, "deny .Example.org:udp:5-9", true, NULL,
				 0) == 0);
	CHECK(!r.allow && r.target == MSB_NET_TARGET_SUFFIX);
	CHECK_STR(r.name, "example.org");
	CHECK(r.proto == MSB_NET_PROTO_UDP && r.port_lo == 5 && r.port_hi == 9);
	CHECK(msb_net_rule_parse(&r, "allow [fc00::]/7", true, NULL, 0) == 0);
	CHECK(r.allow && r.target == MSB_NET_TARGET_CIDR);
	CHECK(r.cidr.addr.family == 6 && r.cidr.len == 7 &&
	      r.cidr.addr.a[0] == 0xfc);
}

/* ------------------------------------------------------------------ */
/* Helpers for checks */

static struct msb_net_policy *policy(enum msb_net_preset preset,
				     const char *const *rules)
{
	struct msb_net_policy *p = msb_net_policy_new();
	char err[512];

	if (!p)
		abort();
	msb_net_policy_set_preset(p, preset);
	for (size_t i = 0; rules && rules[i]; i++) {
		int rc = msb_net_policy_add_rule(p, rules[i], err, sizeof(err));
		CHECK(rc == 0);
		if (rc)
			fprintf(stderr, "  rule `%s`: %s\n", rules[i], err);
	}
	return p;
}

static struct msb_net_addr A(const char *s) {
	struct msb_net_addr a;

	if (msb_net_addr_parse(&a, s)) {
		fprintf(stderr, "bad test address `%s`\n", s);
		abort();
	}
	return a;
}

/* Check @addr over TCP to @port with @names (NULL-terminated, or NULL);
 * return the verdict too. */
static bool
chk(struct msb_net_verdict *v, const struct msb_net_policy *p, const char *addr,
    enum msb_net_proto proto, uint16_t port, const char *const *names)
{
	struct msb_net_addr a = A(addr);
	size_t n = 0;

	while (names && names[n])
		n++;
	return msb_net_policy_check(v, p, &a, proto, port, names, n);
}

static bool allowed(const struct msb_net_policy *p, const char *addr)
{
	return chk(NULL, p, addr, MSB_NET_PROTO_TCP, 443, NULL);
}

#define DENIED(p, addr)                                                        \
	do {                                                                   \
		bool _a = allowed(p, addr);                                    \
		CHECK(!_a);                                                    \
		if (_a)                                                        \
			fprintf(stderr, "  allowed: %s\n", addr);              \
	} while (0)
#define ALLOWED(p, addr)                                                       \
	do {                                                                   \
		bool _a = allowed(p, addr);                                    \
		CHECK(_a);                                                     \
		if (!_a)                                                       \
			fprintf(stderr, "  denied: %s\n", addr);               \
	} while (0)

/* ------------------------------------------------------------------ */
/* The `public` preset */

/* The list, written out independently of the table in policy.c:
 * the first, a middle and the last address of each range. */
static const char *const not_public[] = {
	/* RFC 1918 */
	"10.0.0.0",
	"10.1.2.3",
	"10.255.255.255",
	"172.16.0.0",
	"172.20.1.1",
	"172.31.255.255",
	"192.168.0.0",
	"192.168.1.1",
	"192.168.255.255",
	/* CGNAT */
	"100.64.0.0",
	"100.100.1.1",
	"100.127.255.255",
	/* loopback */
	"127.0.0.0",
	"127.0.0.1",
	"127.255.255.255",
	/* link-local and metadata */
	"169.254.0.0",
	"169.254.1.1",
	"169.254.255.255",
	"169.254.169.254",
	"169.254.170.2",
	"100.100.100.200",
	/* 0/8 */
	"0.0.0.0",
	"0.1.2.3",
	"0.255.255.255",
	/* 192.0.0/24, 192.0.2/24 */
	"192.0.0.0",
	"192.0.0.8",
	"192.0.0.170",
	"192.0.0.255",
	"192.0.2.0",
	"192.0.2.1",
	"192.0.2.255",
	/* 6to4 relay */
	"192.88.99.1",
	/* 198.18/15 */
	"198.18.0.0",
	"198.19.255.255",
	/* 198.51.100/24, 203.0.113/24 */
	"198.51.100.0",
	"198.51.100.7",
	"198.51.100.255",
	"203.0.113.0",
	"203.0.113.9",
	"203.0.113.255",
	/* multicast 224/4 */
	"224.0.0.0",
	"224.0.0.251",
	"239.255.255.250",
	"239.255.255.255",
	/* 240/4, broadcast */
	"240.0.0.0",
	"250.1.2.3",
	"255.255.255.254",
	"255.255.255.255",
	/* IPv6: unspecified, loopback */
	"::",
	"::1",
	/* ULA, metadata */
	"fc00::",
	"fc12::1",
	"fd00::1",
	"fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	"fd00:ec2::254",
	/* link-local, site-local */
	"fe80::",
	"fe80::1",
	"febf:ffff::1",
	"fec0::1",
	"feff::1",
	/* documentation */
	"2001:db8::",
	"2001:db8::1",
	"2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
	"3fff::1",
	"3fff:fff:ffff::1",
	/* multicast */
	"ff00::",
	"ff02::1",
	"ff05::1:3",
	"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	/* IETF assignments: Teredo, benchmarking, ORCHID */
	"2001::1",
	"2001:0:4136:e378:8000:63bf:3fff:fdd2",
	"2001:2::1",
	"2001:10::1",
	"2001:20::1",
	/* discard, translation, reserved, SRv6 */
	"100::1",
	"64:ff9b:1::1",
	"::1:0:0:0",
	"::ffff:0:10.0.0.1",
	"5f00::1",
	/* outside 2000::/3 */
	"1000::1",
	"4000::1",
	"8000::1",
	"e000::1",
	NULL,
};

static const char *const public_addrs[] = {
	"1.1.1.1",
	"8.8.8.8",
	"9.255.255.255",
	"11.0.0.0",
	"100.63.255.255",
	"100.128.0.0",
	"126.255.255.255",
	"128.0.0.0",
	"169.253.255.255",
	"169.255.0.0",
	"172.15.255.255",
	"172.32.0.0",
	"192.0.1.0",
	"192.0.3.0",
	"192.167.255.255",
	"192.169.0.0",
	"198.17.255.255",
	"198.20.0.0",
	"198.51.99.255",
	"198.51.101.0",
	"203.0.112.255",
	"203.0.114.0",
	"223.255.255.255",
	"2606:4700:4700::1111",
	"2001:4860:4860::8888",
	"2a00:1450::1",
	"2000::1",
	"3ffe::1",
	"3fff:1000::1",
	"2001:200::1",
	/* their mapped, compatible, NAT64 and 6to4 forms */
	"::ffff:8.8.8.8",
	"::8.8.8.8",
	"64:ff9b::8.8.8.8",
	"2002:808:808::1",
	NULL,
};

/* The IPv6 forms of @v4 that carry it. */
static void wrapped_forms(char out[4][64], const char *v4)
{
	struct msb_net_addr a = A(v4);

	snprintf(out[0], 64, "::ffff:%s", v4);
	snprintf(out[1], 64, "::%s", v4);
	snprintf(out[2], 64, "64:ff9b::%s", v4);
	snprintf(out[3], 64, "2002:%02x%02x:%02x%02x::1", a.a[0], a.a[1],
		 a.a[2], a.a[3]);
}

static void test_public(void)
{
	struct msb_net_policy *p = policy(MSB_NET_PRESET_PUBLIC, NULL);
	struct msb_net_policy *all = policy(MSB_NET_PRESET_ALL, NULL);
	char forms[4][64];

	for (size_t i = 0; not_public[i]; i++) {
		DENIED(p, not_public[i]);
		struct msb_net_addr a = A(not_public[i]);
		CHECK(msb_net_addr_special(&a) != NULL);
		CHECK(!msb_net_addr_in_group(&a, MSB_NET_GROUP_PUBLIC));
		if (a.family != 4)
			continue;
		wrapped_forms(forms, not_public[i]);
		for (int k = 0; k < 4; k++)
			DENIED(p, forms[k]);
	}
	for (size_t i = 0; public_addrs[i]; i++) {
		ALLOWED(p, public_addrs[i]);
		struct msb_net_addr a = A(public_addrs[i]);
		CHECK(msb_net_addr_special(&a) == NULL);
		CHECK(msb_net_addr_in_group(&a, MSB_NET_GROUP_PUBLIC));
		if (a.family != 4)
			continue;
		wrapped_forms(forms, public_addrs[i]);
		for (int k = 0; k < 4; k++)
			ALLOWED(p, forms[k]);
	}

	/* every entry of the table: its first and last address, and the
	 * wrapped forms of IPv4 ones, are denied; its text names itself */
	const char *desc;
	const struct msb_net_cidr *c;
	for (size_t i = 0; (c = msb_net_special_range(i, &desc)); i++) {
		char text[MSB_NET_CIDR_STRLEN];
		msb_net_cidr_format(text, sizeof(text), c, false);
		CHECK(strstr(desc, text) != NULL);
		if (!strstr(desc, text))
			fprintf(stderr, "  entry %zu `%s` is %s\n", i, desc,
				text);
		CHECK(strstr(desc, "(") != NULL); /* its source */
		struct msb_net_addr ends[2] = {c->addr, c->addr};
		size_t nb = c->addr.family == 4 ? 4 : 16;
		for (size_t b = 0; b < nb; b++) {
			unsigned keep = c->len > b * 8 ? c->len - b * 8 : 0;
			if (keep < 8)
				ends[1].a[b] |= (uint8_t)(0xff >> keep);
		}
		for (int e = 0; e < 2; e++) {
			char at[MSB_NET_ADDR_STRLEN];
			msb_net_addr_format(at, sizeof(at), &ends[e]);
			DENIED(p, at);
			if (c->addr.family != 4)
				continue;
			wrapped_forms(forms, at);
			for (int k = 0; k < 4; k++)
				DENIED(p, forms[k]);
		}
	}

	/* the reason names the range */
	struct msb_net_verdict v;
	char line[256];
	CHECK(!chk(&v, p, "10.1.2.3", MSB_NET_PROTO_TCP, 80, NULL));
	CHECK(v.rule == -1 && v.name == NULL && v.by == MSB_NET_BY_PRESET);
	CHECK_STR(v.reason, "private range 10.0.0.0/8 (RFC 1918)");
	CHECK_STR(msb_net_verdict_format(line, sizeof(line), &v, p),
		  "preset public: private range 10.0.0.0/8 (RFC 1918)");
	CHECK(!chk(&v, p, "64:ff9b::169.254.169.254", MSB_NET_PROTO_TCP, 80,
		   NULL));
	CHECK(strstr(v.reason, "metadata address 169.254.169.254") != NULL);
	CHECK(!chk(&v, p, "2002:c0a8:101::1", MSB_NET_PROTO_UDP, 53, NULL));
	CHECK_STR(v.reason, "private range 192.168.0.0/16 (RFC 1918)");
	CHECK(!chk(&v, p, "fd00:ec2::254", MSB_NET_PROTO_TCP, 80, NULL));
	CHECK(strstr(v.reason, "metadata") != NULL);
	CHECK(!chk(&v, p, "255.255.255.255", MSB_NET_PROTO_UDP, 67, NULL));
	CHECK(strstr(v.reason, "broadcast") != NULL);
	CHECK(chk(&v, p, "8.8.8.8", MSB_NET_PROTO_ICMP, 0, NULL));
	CHECK(v.rule == -1);
	CHECK_STR(msb_net_verdict_format(line, sizeof(line), &v, p),
		  "preset public: public address");

	/* `all` allows the special ranges, but not the host */
	CHECK(chk(&v, all, "10.1.2.3", MSB_NET_PROTO_TCP, 80, NULL));
	CHECK(v.by == MSB_NET_BY_PRESET);
	CHECK_STR(msb_net_verdict_format(line, sizeof(line), &v, all),
		  "preset all: allowed");
	ALLOWED(all, "169.254.169.254");
	ALLOWED(all, "fd00::1");
	ALLOWED(all, "::ffff:192.168.1.1");
	DENIED(all, "127.0.0.1");
	DENIED(all, "::1");
	DENIED(all, "::ffff:127.0.0.1");

	/* `none`: nothing (netd does not run then) */
	struct msb_net_policy *none = policy(MSB_NET_PRESET_NONE, NULL);
	DENIED(none, "8.8.8.8");
	CHECK(!chk(&v, none, "8.8.8.8", MSB_NET_PROTO_TCP, 80, NULL));
	CHECK_STR(msb_net_verdict_format(line, sizeof(line), &v, none),
		  "preset none: denied");

	/* an address of no family */
	struct msb_net_addr z;
	memset(&z, 0, sizeof(z));
	CHECK(!msb_net_policy_check(&v, all, &z, MSB_NET_PROTO_TCP, 1, NULL,
				    0));
	CHECK(v.by == MSB_NET_BY_INVALID);
	CHECK_STR(msb_net_verdict_format(line, sizeof(line), &v, all),
		  "not an IP address");
	CHECK(!msb_net_policy_may_connect(all, &z, NULL, 0));
	msb_net_policy_free(p);
	msb_net_policy_free(all);
	msb_net_policy_free(none);
}

static void test_groups(void)
{
	static const struct {
		const char *addr;
		enum msb_net_group g;
		bool in;
	} t[] = {
		{"10.0.0.1", MSB_NET_GROUP_PRIVATE, true},
		{"172.16.0.1", MSB_NET_GROUP_PRIVATE, true},
		{"192.168.0.1", MSB_NET_GROUP_PRIVATE, true},
		{"100.64.0.1", MSB_NET_GROUP_PRIVATE, true},
		{"fd00::1", MSB_NET_GROUP_PRIVATE, true},
		{"::ffff:10.0.0.1", MSB_NET_GROUP_PRIVATE, true},
		{"127.0.0.1", MSB_NET_GROUP_PRIVATE, false},
		{"8.8.8.8", MSB_NET_GROUP_PRIVATE, false},
		{"127.1.2.3", MSB_NET_GROUP_LOOPBACK, true},
		{"::1", MSB_NET_GROUP_LOOPBACK, true},
		{"::2", MSB_NET_GROUP_LOOPBACK, false},
		{"127.0.0.1", MSB_NET_GROUP_HOST, true},
		{"::1", MSB_NET_GROUP_HOST, true},
		{"10.0.2.2", MSB_NET_GROUP_HOST, false},
		{"0.0.0.0", MSB_NET_GROUP_HOST, true},
		{"0.1.2.3", MSB_NET_GROUP_HOST, true},
		{"0.255.255.255", MSB_NET_GROUP_HOST, true},
		{"::ffff:0.0.0.0", MSB_NET_GROUP_HOST, true},
		{"::", MSB_NET_GROUP_HOST, true},
		{"1.0.0.0", MSB_NET_GROUP_HOST, false},
		{"0.0.0.0", MSB_NET_GROUP_LOOPBACK, false},
		{"169.254.1.1", MSB_NET_GROUP_LINK_LOCAL, true},
		{"169.254.169.254", MSB_NET_GROUP_LINK_LOCAL, true},
		{"fe80::1", MSB_NET_GROUP_LINK_LOCAL, true},
		{"fec0::1", MSB_NET_GROUP_LINK_LOCAL, false},
		{"169.254.169.254", MSB_NET_GROUP_METADATA, true},
		{"169.254.170.2", MSB_NET_GROUP_METADATA, true},
		{"100.100.100.200", MSB_NET_GROUP_METADATA, true},
		{"fd00:ec2::254", MSB_NET_GROUP_METADATA, true},
		{"64:ff9b::a9fe:a9fe", MSB_NET_GROUP_METADATA, true},
		{"169.254.169.253", MSB_NET_GROUP_METADATA, false},
		{"224.0.0.1", MSB_NET_GROUP_MULTICAST, true},
		{"239.255.255.255", MSB_NET_GROUP_MULTICAST, true},
		{"ff02::1", MSB_NET_GROUP_MULTICAST, true},
		{"240.0.0.1", MSB_NET_GROUP_MULTICAST, false},
		{"8.8.8.8", MSB_NET_GROUP_PUBLIC, true},
		{"192.0.2.1", MSB_NET_GROUP_PUBLIC, false},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct msb_net_addr a = A(t[i].addr);
		bool in = msb_net_addr_in_group(&a, t[i].g);
		CHECK(in == t[i].in);
		if (in != t[i].in)
			fprintf(stderr, "  %s in %s: %d\n", t[i].addr,
				msb_net_group_name(t[i].g), in);
	}
	enum msb_net_group g;
	CHECK(msb_net_group_parse(&g, "link-local") == 0 &&
	      g == MSB_NET_GROUP_LINK_LOCAL);
	CHECK(msb_net_group_parse(&g, "Host") == 0 && g == MSB_NET_GROUP_HOST);
	CHECK(msb_net_group_parse(&g, "hosts") == -1);
	CHECK(msb_net_group_parse(&g, NULL) == -1);
	CHECK_STR(msb_net_group_name(MSB_NET_GROUP_METADATA), "metadata");

	/* group rules under `all` */
	const char *rules[] = {"deny metadata", "deny private:tcp", NULL};
	struct msb_net_policy *p = policy(MSB_NET_PRESET_ALL, rules);
	DENIED(p, "169.254.169.254");
	DENIED(p, "::ffff:169.254.169.254");
	DENIED(p, "10.0.0.1");
	CHECK(chk(NULL, p, "10.0.0.1", MSB_NET_PROTO_UDP, 53, NULL));
	ALLOWED(p, "169.254.1.1");
	msb_net_policy_free(p);
}

/* ------------------------------------------------------------------ */
/* Rules */

static void test_first_match(void)
{
	struct msb_net_verdict v;
	char line[256];

	/* allow before deny: allowed; the other way round: denied */
	const char *r1[] = {"allow 10.1.0.0/16:tcp:443", "deny 10.0.0.0/8",
			    "allow 10.0.0.0/8", NULL};
	struct msb_net_policy *p = policy(MSB_NET_PRESET_PUBLIC, r1);
	CHECK(chk(&v, p, "10.1.2.3", MSB_NET_PROTO_TCP, 443, NULL));
	CHECK(v.rule == 0);
	CHECK_STR(v.reason, "allow 10.1.0.0/16:tcp:443");
	CHECK_STR(msb_net_verdict_format(line, sizeof(line), &v, p),
		  "rule 1 `allow 10.1.0.0/16:tcp:443`");
	CHECK(!chk(&v, p, "10.1.2.3", MSB_NET_PROTO_TCP, 444, NULL));
	CHECK(v.rule == 1);
	CHECK_STR(msb_net_verdict_format(line, sizeof(line), &v, p),
		  "rule 2 `deny 10.0.0.0/8`");
	CHECK(!chk(&v, p, "10.1.2.3", MSB_NET_PROTO_UDP, 443, NULL));
	CHECK(v.rule == 1);
	/* the CIDR rule matches the wrapped forms too */
	CHECK(chk(&v, p, "::ffff:10.1.2.3", MSB_NET_PROTO_TCP, 443, NULL));
	CHECK(v.rule == 0);
	CHECK(chk(&v, p, "64:ff9b::10.1.2.3", MSB_NET_PROTO_TCP, 443, NULL));
	CHECK(v.rule == 0);
	CHECK(!chk(&v, p, "2002:a02:304::", MSB_NET_PROTO_TCP, 443, NULL));
	CHECK(v.rule == 1);
	msb_net_policy_free(p);

	/* deny first under `all` */
	const char *r2[] = {"deny *:udp:53", "deny 1.2.3.4", "allow 1.2.3.4",
			    "deny [2001:db8::]/32:tcp", NULL};
	p = policy(MSB_NET_PRESET_ALL, r2);
	CHECK(!chk(&v, p, "9.9.9.9", MSB_NET_PROTO_UDP, 53, NULL));
	CHECK(v.rule == 0);
	CHECK(chk(&v, p, "9.9.9.9", MSB_NET_PROTO_TCP, 53, NULL));
	CHECK(v.rule == -1);
	CHECK(chk(NULL, p, "9.9.9.9", MSB_NET_PROTO_UDP, 54, NULL));
	CHECK(!chk(&v, p, "1.2.3.4", MSB_NET_PROTO_ICMP, 0, NULL));
	CHECK(v.rule == 1);
	CHECK(!chk(&v, p, "2001:db8::5", MSB_NET_PROTO_TCP, 80, NULL));
	CHECK(v.rule == 3);
	CHECK(chk(&v, p, "2001:db8::5", MSB_NET_PROTO_UDP, 80, NULL));
	/* a rule a CIDR of one family never matches the other */
	CHECK(chk(NULL, p, "::ffff:1.2.3.5", MSB_NET_PROTO_TCP, 80, NULL));
	msb_net_policy_free(p);

	/* ports, ranges, protocols; ICMP never matches a port rule */
	const char *r3[] = {"allow *:tcp:8000-8010", "allow 8.8.8.8:icmp",
			    "allow *:53", "deny *", NULL};
	p = policy(MSB_NET_PRESET_PUBLIC, r3);
	CHECK(chk(NULL, p, "1.1.1.1", MSB_NET_PROTO_TCP, 8000, NULL));
	CHECK(chk(NULL, p, "1.1.1.1", MSB_NET_PROTO_TCP, 8010, NULL));
	CHECK(!chk(NULL, p, "1.1.1.1", MSB_NET_PROTO_TCP, 8011, NULL));
	CHECK(!chk(NULL, p, "1.1.1.1", MSB_NET_PROTO_TCP, 7999, NULL));
	CHECK(!chk(NULL, p, "1.1.1.1", MSB_NET_PROTO_UDP, 8000, NULL));
	CHECK(chk(NULL, p, "8.8.8.8", MSB_NET_PROTO_ICMP, 0, NULL));
	CHECK(!chk(NULL, p, "8.8.4.4", MSB_NET_PROTO_ICMP, 0, NULL));
	CHECK(!chk(NULL, p, "8.8.4.4", MSB_NET_PROTO_ICMP, 53, NULL));
	CHECK(chk(NULL, p, "8.8.4.4", MSB_NET_PROTO_UDP, 53, NULL));
	CHECK(chk(NULL, p, "8.8.4.4", MSB_NET_PROTO_TCP, 53, NULL));
	/* first match even when it allows into a special range */
	CHECK(chk(&v, p, "10.0.0.1", MSB_NET_PROTO_TCP, 8005, NULL));
	CHECK(v.rule == 0);
	msb_net_policy_free(p);

	/* allow into a special range, explicitly */
	const char *r4[] = {"allow 192.168.1.0/24", "allow private:tcp:5432",
			    NULL};
	p = policy(MSB_NET_PRESET_PUBLIC, r4);
	ALLOWED(p, "192.168.1.77");
	ALLOWED(p, "::ffff:192.168.1.77");
	DENIED(p, "192.168.2.1");
	CHECK(chk(NULL, p, "172.16.5.5", MSB_NET_PROTO_TCP, 5432, NULL));
	CHECK(chk(NULL, p, "fd00::5", MSB_NET_PROTO_TCP, 5432, NULL));
	CHECK(!chk(NULL, p, "172.16.5.5", MSB_NET_PROTO_TCP, 5433, NULL));
	msb_net_policy_free(p);

	/* `deny public` under `public`: nothing is left */
	const char *r5[] = {"deny public", NULL};
	p = policy(MSB_NET_PRESET_PUBLIC, r5);
	DENIED(p, "8.8.8.8");
	DENIED(p, "10.0.0.1");
	msb_net_policy_free(p);
}

static void test_host(void)
{
	struct msb_net_verdict v;
	char line[256];
	struct msb_net_addr gw = A("10.0.2.2"), gw6 = A("fd00:4d53:4200::1");

	/* under every preset, without a host rule, the host is denied */
	for (int pr = MSB_NET_PRESET_PUBLIC; pr <= MSB_NET_PRESET_ALL; pr++) {
		const char *rules[] = {"allow *",        "allow 10.0.0.0/8",
				       "allow loopback", "allow 127.0.0.1",
				       "allow private",  NULL};
		struct msb_net_policy *p =
			policy((enum msb_net_preset)pr, rules);
		CHECK(msb_net_policy_add_gateway(p, &gw) == 0);
		CHECK(msb_net_policy_add_gateway(p, &gw6) == 0);
		CHECK(msb_net_policy_add_gateway(p, &gw) == 0); /* dup */
		static const char *const host[] = {"10.0.2.2",
						   "::ffff:10.0.2.2",
						   "fd00:4d53:4200::1",
						   "127.0.0.1",
						   "127.0.0.53",
						   "::1",
						   "::ffff:127.0.0.1",
						   "64:ff9b::127.0.0.1",
						   "2002:7f00:1::",
						   "0.0.0.0",
						   "0.1.2.3",
						   "::ffff:0.0.0.0",
						   "::",
						   NULL};
		for (size_t i = 0; host[i]; i++) {
			DENIED(p, host[i]);
			struct msb_net_addr a = A(host[i]);
			CHECK(!msb_net_policy_may_connect(p, &a, NULL, 0));
		}
		CHECK(!chk(&v, p, "10.0.2.2", MSB_NET_PROTO_TCP, 11434, NULL));
		CHECK(v.rule == -1);
		CHECK_STR(
			msb_net_verdict_format(line, sizeof(line), &v, p),
			"host: allowed only by an allow rule for the host group");
		/* the rest of 10/8 is allowed by rule 1 */
		CHECK(chk(&v, p, "10.0.2.3", MSB_NET_PROTO_TCP, 1, NULL));
		CHECK(v.rule == 0);
		msb_net_policy_free(p);
	}

	/* an explicit host rule, with ports */
	const char *rules[] = {"deny 127.0.0.53", "allow host:tcp:11434",
			       "deny *", NULL};
	struct msb_net_policy *p = policy(MSB_NET_PRESET_ALL, rules);
	msb_net_policy_add_gateway(p, &gw);
	CHECK(chk(&v, p, "10.0.2.2", MSB_NET_PROTO_TCP, 11434, NULL));
	CHECK(v.rule == 1);
	CHECK(chk(NULL, p, "127.0.0.1", MSB_NET_PROTO_TCP, 11434, NULL));
	CHECK(chk(NULL, p, "::1", MSB_NET_PROTO_TCP, 11434, NULL));
	CHECK(!chk(NULL, p, "127.0.0.53", MSB_NET_PROTO_TCP, 11434, NULL));
	CHECK(!chk(NULL, p, "10.0.2.2", MSB_NET_PROTO_TCP, 11435, NULL));
	CHECK(!chk(NULL, p, "10.0.2.2", MSB_NET_PROTO_UDP, 11434, NULL));
	CHECK(!chk(NULL, p, "10.0.2.3", MSB_NET_PROTO_TCP, 11434, NULL));
	msb_net_policy_free(p);

	/* 0.0.0.0/8 is the host (a connect() to 0.0.0.0 reaches its
	 * loopback): not allowed by `allow *`, `allow 0.0.0.0/0` or
	 * `allow 0.0.0.0/8` under any preset; only by a host rule, with its
	 * protocol and ports */
	const char *r0[] = {"allow 0.0.0.0/8", "allow 0.0.0.0/0", "allow *",
			    NULL};
	p = policy(MSB_NET_PRESET_ALL, r0);
	CHECK(!chk(&v, p, "0.0.0.0", MSB_NET_PROTO_UDP, 6379, NULL));
	CHECK(v.by == MSB_NET_BY_HOST);
	CHECK(!chk(NULL, p, "0.0.0.0", MSB_NET_PROTO_TCP, 22, NULL));
	CHECK(!chk(NULL, p, "0.1.2.3", MSB_NET_PROTO_ICMP, 0, NULL));
	struct msb_net_addr zero = A("0.0.0.0");
	CHECK(!msb_net_policy_may_connect(p, &zero, NULL, 0));
	CHECK(chk(NULL, p, "1.0.0.0", MSB_NET_PROTO_TCP, 22, NULL));
	msb_net_policy_free(p);
	const char *r1[] = {"allow host:udp:1", NULL};
	p = policy(MSB_NET_PRESET_ALL, r1);
	CHECK(chk(NULL, p, "0.0.0.0", MSB_NET_PROTO_UDP, 1, NULL));
	CHECK(!chk(NULL, p, "0.0.0.0", MSB_NET_PROTO_UDP, 6379, NULL));
	CHECK(!chk(NULL, p, "0.0.0.0", MSB_NET_PROTO_TCP, 1, NULL));
	msb_net_policy_free(p);
	/* a rule that reaches only 0/8 lets no lookup out */
	const char *r3[] = {"allow 0.0.0.0/8", "deny *", NULL};
	p = policy(MSB_NET_PRESET_PUBLIC, r3);
	CHECK(!msb_net_policy_may_resolve(p, "example.com"));
	msb_net_policy_free(p);

	/* a domain allow does not reach the host either */
	const char *r2[] = {"allow host.microsandbox.internal", NULL};
	p = policy(MSB_NET_PRESET_ALL, r2);
	msb_net_policy_add_gateway(p, &gw);
	const char *names[] = {"host.microsandbox.internal", NULL};
	CHECK(!chk(NULL, p, "10.0.2.2", MSB_NET_PROTO_TCP, 80, names));
	msb_net_policy_free(p);

	/* gateways are bounded and validated */
	p = policy(MSB_NET_PRESET_ALL, NULL);
	struct msb_net_addr a;
	memset(&a, 0, sizeof(a));
	CHECK(msb_net_policy_add_gateway(p, &a) == -1);
	for (int i = 0; i < MSB_NET_MAX_GATEWAYS; i++) {
		a = A("10.0.0.1");
		a.a[3] = (uint8_t)(i + 1);
		CHECK(msb_net_policy_add_gateway(p, &a) == 0);
	}
	a.a[3] = 200;
	CHECK(msb_net_policy_add_gateway(p, &a) == -1);
	msb_net_policy_free(p);
}

static void test_domains(void)
{
	struct msb_net_verdict v;
	char line[512];
	const char *rules[] = {"allow api.example.com:tcp:443",
			       "deny .evil.example", "allow .github.com",
			       "deny *", NULL};
	struct msb_net_policy *p = policy(MSB_NET_PRESET_PUBLIC, rules);

	/* only through the names given (the pins) */
	DENIED(p, "93.184.216.34");
	const char *n1[] = {"api.example.com", NULL};
	CHECK(chk(&v, p, "93.184.216.34", MSB_NET_PROTO_TCP, 443, n1));
	CHECK(v.rule == 0 && v.name == n1[0]);
	CHECK_STR(msb_net_verdict_format(line, sizeof(line), &v, p),
		  "rule 1 `allow api.example.com:tcp:443` (api.example.com)");
	CHECK(!chk(&v, p, "93.184.216.34", MSB_NET_PROTO_TCP, 80, n1));
	CHECK(v.rule == 3);
	/* the exact name only, any case, trailing dot or not */
	const char *n2[] = {"www.api.example.com", "example.com", NULL};
	CHECK(!chk(NULL, p, "93.184.216.34", MSB_NET_PROTO_TCP, 443, n2));
	const char *n3[] = {"other.test", "API.EXAMPLE.COM.", NULL};
	CHECK(chk(&v, p, "93.184.216.34", MSB_NET_PROTO_TCP, 443, n3));
	CHECK(v.name == n3[1]);
	/* a suffix matches names under it, not itself */
	const char *n4[] = {"github.com", NULL};
	CHECK(!chk(NULL, p, "140.82.112.3", MSB_NET_PROTO_TCP, 443, n4));
	const char *n5[] = {"api.github.com", NULL};
	CHECK(chk(NULL, p, "140.82.112.3", MSB_NET_PROTO_TCP, 443, n5));
	const char *n6[] = {"a.b.github.com", NULL};
	CHECK(chk(NULL, p, "140.82.112.3", MSB_NET_PROTO_UDP, 443, n6));
	const char *n7[] = {"notgithub.com", "github.com.evil", NULL};
	CHECK(!chk(NULL, p, "140.82.112.3", MSB_NET_PROTO_TCP, 443, n7));
	/* first match among domain rules: a name that is denied first */
	const char *n8[] = {"api.github.com", "x.evil.example", NULL};
	CHECK(!chk(&v, p, "140.82.112.3", MSB_NET_PROTO_TCP, 443, n8));
	CHECK(v.rule == 1 && v.name == n8[1]);
	/* a domain rule allows into a special range (the user asked) */
	const char *n9[] = {"db.github.com", NULL};
	CHECK(chk(NULL, p, "10.0.0.5", MSB_NET_PROTO_TCP, 5432, n9));
	/* names that are not names match nothing */
	const char *n10[] = {"", ".", "api.example.com..", NULL};
	CHECK(!chk(NULL, p, "93.184.216.34", MSB_NET_PROTO_TCP, 443, n10));
	char longname[300];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	memcpy(longname + sizeof(longname) - 12, ".github.com", 11);
	const char *n11[] = {longname, NULL};
	CHECK(!chk(NULL, p, "140.82.112.3", MSB_NET_PROTO_TCP, 443, n11));
	/* the log line escapes what it quotes */
	const char *n12[] = {"\x1b[2J\n.github.com", NULL};
	CHECK(chk(&v, p, "140.82.112.3", MSB_NET_PROTO_TCP, 443, n12));
	CHECK_STR(msb_net_verdict_format(line, sizeof(line), &v, p),
		  "rule 3 `allow .github.com` (\\x1b[2J\\x0a.github.com)");
	/* a NULL name array */
	struct msb_net_addr a = A("93.184.216.34");
	CHECK(!msb_net_policy_check(&v, p, &a, MSB_NET_PROTO_TCP, 443, NULL,
				    3));
	msb_net_policy_free(p);
}

static void test_blocked(void)
{
	struct msb_net_verdict v;
	char line[512], err[512];
	const char *rules[] = {"allow .tracker.test", NULL};
	struct msb_net_policy *p = policy(MSB_NET_PRESET_ALL, rules);

	CHECK(msb_net_policy_block_domain(p, "Ads.Example.", err,
					  sizeof(err)) == 0);
	CHECK(msb_net_policy_block_suffix(p, ".tracker.test", err,
					  sizeof(err)) == 0);
	CHECK(msb_net_policy_block_suffix(p, "*.bad.test", err, sizeof(err)) ==
	      0);
	CHECK(msb_net_policy_block_suffix(p, "worse.test", err, sizeof(err)) ==
	      0);
	CHECK(msb_net_policy_block_domain(p, "ads.example", err, sizeof(err)) ==
	      0); /* dup */
	CHECK(msb_net_policy_block_domain(p, "bad name", err, sizeof(err)) ==
	      -1);
	CHECK_STR(
		err,
		"invalid blocked domain `bad name`: a domain name has only letters, digits, `-` and `_` between dots");
	CHECK(msb_net_policy_block_suffix(p, ".", err, sizeof(err)) == -1);
	CHECK(strstr(err, "invalid blocked domain suffix `.`") != NULL);
	CHECK(msb_net_policy_block_domain(p, "1.2.3.4", err, sizeof(err)) ==
	      -1);
	CHECK(msb_net_policy_block_domain(p, NULL, err, sizeof(err)) == -1);

	CHECK(msb_net_policy_name_blocked(p, "ads.example"));
	CHECK(msb_net_policy_name_blocked(p, "ADS.example."));
	CHECK(!msb_net_policy_name_blocked(p, "x.ads.example"));
	CHECK(msb_net_policy_name_blocked(p, "a.tracker.test"));
	CHECK(!msb_net_policy_name_blocked(p, "tracker.test"));
	CHECK(msb_net_policy_name_blocked(p, "x.bad.test"));
	CHECK(msb_net_policy_name_blocked(p, "x.worse.test"));
	CHECK(!msb_net_policy_name_blocked(p, "worse.test"));
	CHECK(!msb_net_policy_name_blocked(p, "example"));
	CHECK(!msb_net_policy_name_blocked(p, NULL));

	/* their pins are denied before any rule */
	const char *n1[] = {"x.tracker.test", NULL};
	CHECK(!chk(&v, p, "1.2.3.4", MSB_NET_PROTO_TCP, 443, n1));
	CHECK(v.rule == -1 && v.name == n1[0] && v.by == MSB_NET_BY_BLOCKED);
	CHECK_STR(msb_net_verdict_format(line, sizeof(line), &v, p),
		  "blocked domain suffix x.tracker.test");
	const char *n2[] = {"fine.test", "ads.example", NULL};
	CHECK(!chk(&v, p, "1.2.3.4", MSB_NET_PROTO_TCP, 443, n2));
	CHECK_STR(msb_net_verdict_format(line, sizeof(line), &v, p),
		  "blocked domain ads.example");
	struct msb_net_addr a = A("1.2.3.4");
	CHECK(!msb_net_policy_may_connect(p, &a, n2, 2));
	CHECK(msb_net_policy_may_connect(p, &a, n2, 1));
	CHECK(chk(NULL, p, "1.2.3.4", MSB_NET_PROTO_TCP, 443, NULL));
	/* and they are not resolved */
	CHECK(!msb_net_policy_may_resolve(p, "ads.example"));
	CHECK(!msb_net_policy_may_resolve(p, "x.tracker.test"));
	CHECK(msb_net_policy_may_resolve(p, "tracker.test"));

	/* bounded: MSB_NET_MAX_BLOCKED in all */
	struct msb_net_policy *q = msb_net_policy_new();
	char name[64];
	int rc = 0;
	for (int i = 0; i < MSB_NET_MAX_BLOCKED && !rc; i++) {
		snprintf(name, sizeof(name), "n%d.test", i);
		rc = i % 2 ? msb_net_policy_block_domain(q, name, err,
							 sizeof(err))
			   : msb_net_policy_block_suffix(q, name, err,
							 sizeof(err));
	}
	CHECK(rc == 0);
	CHECK(msb_net_policy_block_domain(q, "one.more", err, sizeof(err)) ==
	      -1);
	CHECK(strstr(err, "at most 1024") != NULL);
	CHECK(msb_net_policy_block_domain(q, "n1.test", err, sizeof(err)) ==
	      0); /* dup, not new */
	msb_net_policy_free(q);
	msb_net_policy_free(p);
}

static void test_may_resolve(void)
{
	static const struct {
		enum msb_net_preset preset;
		const char *rules[4];
		const char *name;
		bool yes;
	} t[] = {
		/* defaults: yes, but not under none */
		{MSB_NET_PRESET_PUBLIC, {NULL}, "example.com", true},
		{MSB_NET_PRESET_ALL, {NULL}, "example.com", true},
		{MSB_NET_PRESET_NONE, {NULL}, "example.com", false},
		/* deny-all: no lookups */
		{MSB_NET_PRESET_PUBLIC, {"deny *"}, "example.com", false},
		{MSB_NET_PRESET_ALL, {"deny *"}, "example.com", false},
		{MSB_NET_PRESET_PUBLIC, {"deny public"}, "example.com", false},
		/* `deny public` under all leaves the private ranges */
		{MSB_NET_PRESET_ALL, {"deny public"}, "example.com", true},
		/* a partial deny does not shadow */
		{MSB_NET_PRESET_PUBLIC,
		 {"deny *:tcp", "deny *:udp"},
		 "example.com",
		 true},
		/* deny-all with a domain allowed: that name only */
		{MSB_NET_PRESET_PUBLIC,
		 {"allow api.example.com", "deny *"},
		 "api.example.com",
		 true},
		{MSB_NET_PRESET_PUBLIC,
		 {"allow api.example.com", "deny *"},
		 "API.example.com.",
		 true},
		{MSB_NET_PRESET_PUBLIC,
		 {"allow api.example.com", "deny *"},
		 "x.api.example.com",
		 false},
		{MSB_NET_PRESET_PUBLIC,
		 {"allow api.example.com", "deny *"},
		 "example.com",
		 false},
		{MSB_NET_PRESET_PUBLIC,
		 {"allow .example.com:443", "deny *"},
		 "x.example.com",
		 true},
		{MSB_NET_PRESET_PUBLIC,
		 {"allow .example.com", "deny *"},
		 "example.com",
		 false},
		/* shadowed by an earlier deny-all */
		{MSB_NET_PRESET_PUBLIC,
		 {"deny *", "allow api.example.com"},
		 "api.example.com",
		 false},
		/* a domain denied in full */
		{MSB_NET_PRESET_PUBLIC,
		 {"deny .evil.test"},
		 "x.evil.test",
		 false},
		{MSB_NET_PRESET_PUBLIC,
		 {"deny .evil.test:tcp"},
		 "x.evil.test",
		 true},
		{MSB_NET_PRESET_PUBLIC, {"deny .evil.test"}, "evil.test", true},
		/* an IP destination out: yes */
		{MSB_NET_PRESET_PUBLIC,
		 {"allow 1.2.3.4:443", "deny *"},
		 "example.com",
		 true},
		{MSB_NET_PRESET_PUBLIC,
		 {"allow private", "deny *"},
		 "example.com",
		 true},
		{MSB_NET_PRESET_PUBLIC,
		 {"allow *:icmp", "deny *"},
		 "example.com",
		 true},
		/* the host is not out */
		{MSB_NET_PRESET_PUBLIC,
		 {"allow host:tcp:11434", "deny *"},
		 "example.com",
		 false},
		{MSB_NET_PRESET_PUBLIC,
		 {"allow loopback", "deny *"},
		 "example.com",
		 false},
		{MSB_NET_PRESET_PUBLIC,
		 {"allow 127.0.0.1", "deny *"},
		 "example.com",
		 false},
		{MSB_NET_PRESET_PUBLIC,
		 {"allow [::1]:22", "deny *"},
		 "example.com",
		 false},
		{MSB_NET_PRESET_PUBLIC,
		 {"allow 10.0.2.2", "deny *"},
		 "example.com",
		 false}, /* the gateway, set below */
		/* not a name */
		{MSB_NET_PRESET_ALL, {NULL}, "", false},
		{MSB_NET_PRESET_ALL, {NULL}, "a..b", false},
		{MSB_NET_PRESET_ALL, {NULL}, "bad name", false},
		{MSB_NET_PRESET_ALL, {NULL}, "1.2.3.4", false},
	};
	struct msb_net_addr gw = A("10.0.2.2");

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct msb_net_policy *p = policy(t[i].preset, t[i].rules);
		msb_net_policy_add_gateway(p, &gw);
		bool yes = msb_net_policy_may_resolve(p, t[i].name);
		CHECK(yes == t[i].yes);
		if (yes != t[i].yes)
			fprintf(stderr, "  case %zu: may_resolve(%s) = %d\n", i,
				t[i].name, yes);
		msb_net_policy_free(p);
	}
	struct msb_net_policy *p = policy(MSB_NET_PRESET_ALL, NULL);
	CHECK(!msb_net_policy_may_resolve(p, NULL));
	msb_net_policy_free(p);
}

static void test_may_connect(void)
{
	const char *rules[] = {"allow 10.0.0.5:tcp:80", "deny 10.0.0.0/8:udp",
			       "deny 172.16.0.0/12", "allow 172.16.0.1", NULL};
	struct msb_net_policy *p = policy(MSB_NET_PRESET_PUBLIC, rules);
	struct msb_net_addr a;

	/* the rebinding filter: special ranges are dropped under public */
	a = A("192.168.1.1");
	CHECK(!msb_net_policy_may_connect(p, &a, NULL, 0));
	a = A("::ffff:192.168.1.1");
	CHECK(!msb_net_policy_may_connect(p, &a, NULL, 0));
	a = A("8.8.8.8");
	CHECK(msb_net_policy_may_connect(p, &a, NULL, 0));
	/* some protocol and port allowed: kept */
	a = A("10.0.0.5");
	CHECK(msb_net_policy_may_connect(p, &a, NULL, 0));
	/* a partial deny is passed over, to the preset */
	a = A("10.0.0.6");
	CHECK(!msb_net_policy_may_connect(p, &a, NULL, 0));
	/* a full deny first */
	a = A("172.16.0.1");
	CHECK(!msb_net_policy_may_connect(p, &a, NULL, 0));
	msb_net_policy_free(p);

	struct msb_net_policy *all = policy(MSB_NET_PRESET_ALL, NULL);
	a = A("192.168.1.1");
	CHECK(msb_net_policy_may_connect(all, &a, NULL, 0));
	a = A("127.0.0.1");
	CHECK(!msb_net_policy_may_connect(all, &a, NULL, 0));
	msb_net_policy_free(all);

	/* a domain allowed into a private range keeps its answers */
	const char *r2[] = {"allow db.corp.test:5432", NULL};
	p = policy(MSB_NET_PRESET_PUBLIC, r2);
	const char *names[] = {"db.corp.test"};
	a = A("10.9.9.9");
	CHECK(msb_net_policy_may_connect(p, &a, names, 1));
	CHECK(!msb_net_policy_may_connect(p, &a, NULL, 0));
	msb_net_policy_free(p);
}

/* ------------------------------------------------------------------ */
/* Canonical text */

static void test_canonical(void)
{
	static const char *const in[] = {
		"preset all",
		"allow api.example.com:443",
		"deny   10.0.0.0/8",
		"allow HOST:11434:tcp",
		"deny 2001:db8::/32",
		"deny [2001:db8::/48]:tcp:1-1024",
		"allow *.GitHub.com.",
		"allow public.",
		"deny *:udp:53",
		"block-domain Ads.Example",
		"block-domain-suffix *.tracker.test",
		"block-domain-suffix .tracker2.test",
		"gateway 10.0.2.2",
		"gateway fd00::1",
		"preset public",
	};
	static const char *const want[] = {
		"preset public",
		"allow api.example.com:443",
		"deny 10.0.0.0/8",
		"allow host:tcp:11434",
		"deny [2001:db8::]/32",
		"deny [2001:db8::]/48:tcp:1-1024",
		"allow .github.com",
		"allow public.",
		"deny *:udp:53",
		"block-domain ads.example",
		"block-domain-suffix .tracker.test",
		"block-domain-suffix .tracker2.test",
		"gateway 10.0.2.2",
		"gateway fd00::1",
		NULL,
	};
	char err[512];
	struct msb_net_policy *p = msb_net_policy_new();

	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		int rc = msb_net_policy_add_line(p, in[i], err, sizeof(err));
		CHECK(rc == 0);
		if (rc)
			fprintf(stderr, "  `%s`: %s\n", in[i], err);
	}
	CHECK(msb_net_policy_preset(p) == MSB_NET_PRESET_PUBLIC);
	char **lines = msb_net_policy_lines(p);
	CHECK(lines != NULL);
	size_t n = 0;
	for (; lines && lines[n] && want[n]; n++)
		CHECK_STR(lines[n], want[n]);
	CHECK(lines && !lines[n] && !want[n]);

	/* the lines rebuild the same policy */
	struct msb_net_policy *q = msb_net_policy_from_lines(
		(const char *const *)lines, n, err, sizeof(err));
	CHECK(q != NULL);
	char **again = msb_net_policy_lines(q);
	for (size_t i = 0; i <= n; i++)
		CHECK((!lines[i] && !again[i]) ||
		      (lines[i] && again[i] && !strcmp(lines[i], again[i])));
	CHECK(msb_net_policy_rule_count(q) == 8);
	for (size_t i = 0; i < msb_net_policy_rule_count(q); i++)
		CHECK(!memcmp(msb_net_policy_rule(p, i),
			      msb_net_policy_rule(q, i),
			      sizeof(struct msb_net_rule)));
	CHECK(msb_net_policy_rule(q, 8) == NULL);
	/* `allow public.` is the domain "public", not the group */
	CHECK(msb_net_policy_rule(q, 6)->target == MSB_NET_TARGET_DOMAIN);
	/* and they judge the same */
	struct msb_net_addr gw = A("10.0.2.2"), a = A("2001:db8::1");
	CHECK(!msb_net_policy_check(NULL, q, &gw, MSB_NET_PROTO_TCP, 80, NULL,
				    0));
	CHECK(!msb_net_policy_check(NULL, q, &a, MSB_NET_PROTO_UDP, 80, NULL,
				    0));
	msb_net_policy_free(q);
	for (size_t i = 0; i <= n; i++) {
		free(lines[i]);
		free(again[i]);
	}
	free(lines);
	free(again);

	/* bad lines */
	static const struct {
		const char *line, *err;
	} bad[] = {
		{"preset", "invalid preset ``: use public, all or none"},
		{"preset open", "invalid preset `open`"},
		{"gateway 10.0.2", "invalid gateway `10.0.2`"},
		{"allow", "invalid rule `allow`: empty rule"},
		{"block-domain",
		 "invalid blocked domain ``: empty domain name"},
		{"policy x", "invalid policy line `policy x`"},
		{"", "invalid policy line ``"},
		{" allow *", "invalid policy line ` allow *`"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		CHECK(msb_net_policy_add_line(p, bad[i].line, err,
					      sizeof(err)) == -1);
		CHECK(strstr(err, bad[i].err) == err);
		if (strstr(err, bad[i].err) != err)
			fprintf(stderr, "  `%s`: `%s`\n", bad[i].line, err);
	}
	CHECK(msb_net_policy_add_line(p, NULL, err, sizeof(err)) == -1);
	const char *bad_lines[] = {"preset all", "allow 10.0.0/8"};
	CHECK(msb_net_policy_from_lines(bad_lines, 2, err, sizeof(err)) ==
	      NULL);
	CHECK(strstr(err, "10.0.0/8") != NULL);
	msb_net_policy_free(p);

	/* presets */
	enum msb_net_preset pr;
	CHECK(msb_net_preset_parse(&pr, "none") == 0 &&
	      pr == MSB_NET_PRESET_NONE);
	CHECK(msb_net_preset_parse(&pr, "public-only") == -1);
	CHECK(msb_net_preset_parse(&pr, NULL) == -1);
	CHECK_STR(msb_net_preset_name(MSB_NET_PRESET_ALL), "all");
	msb_net_policy_free(NULL);
}

static void test_limits(void)
{
	struct msb_net_policy *p = msb_net_policy_new();
	char rule[64], err[512];
	int rc = 0;

	for (int i = 0; i < MSB_NET_MAX_RULES && !rc; i++) {
		snprintf(rule, sizeof(rule), "deny 10.%d.%d.0/24", i / 256,
			 i % 256);
		rc = msb_net_policy_add_rule(p, rule, err, sizeof(err));
	}
	CHECK(rc == 0);
	CHECK(msb_net_policy_rule_count(p) == MSB_NET_MAX_RULES);
	CHECK(msb_net_policy_add_rule(p, "allow *", err, sizeof(err)) == -1);
	CHECK_STR(err, "too many rules: at most 1024");
	CHECK(msb_net_policy_add_rule(p, "allow 10.0.0/8", err, sizeof(err)) ==
	      -1);
	CHECK(strstr(err, "invalid rule") == err);
	struct msb_net_verdict v;
	CHECK(!chk(&v, p, "10.3.255.1", MSB_NET_PROTO_TCP, 1, NULL));
	CHECK(v.rule == MSB_NET_MAX_RULES - 1);
	CHECK(!chk(&v, p, "10.4.0.1", MSB_NET_PROTO_TCP, 1, NULL));
	CHECK(v.rule == -1);
	msb_net_policy_free(p);
}

int main(void)
{
	test_grammar();
	test_public();
	test_groups();
	test_first_match();
	test_host();
	test_domains();
	test_blocked();
	test_may_resolve();
	test_may_connect();
	test_canonical();
	test_limits();
	return check_summary("net_policy");
}
