// SPDX-License-Identifier: Apache-2.0
/* Unit tests for src/net/addr.c: parse, format, prefixes, unwrapping. */
#include <string.h>

#include "check.h"
#include "net/addr.h"

/* @s parses, and formats back as @canon. */
static void addr_ok(const char *s, int family, const char *canon)
{
	struct msb_net_addr a;
	char out[MSB_NET_ADDR_STRLEN];

	int rc = msb_net_addr_parse(&a, s);
	CHECK(rc == 0);
	if (rc) {
		fprintf(stderr, "  refused: `%s`\n", s);
		return;
	}
	CHECK(a.family == family);
	CHECK_STR(msb_net_addr_format(out, sizeof(out), &a), canon);
}

static void addr_bad(const char *s)
{
	struct msb_net_addr a;

	memset(&a, 0xaa, sizeof(a));
	int rc = msb_net_addr_parse(&a, s);
	CHECK(rc == -1);
	if (rc == 0)
		fprintf(stderr, "  accepted: `%s`\n", s);
	CHECK(a.family == 0);
}

static void test_parse(void)
{
	addr_ok("0.0.0.0", 4, "0.0.0.0");
	addr_ok("10.0.0.1", 4, "10.0.0.1");
	addr_ok("255.255.255.255", 4, "255.255.255.255");
	addr_ok("192.168.100.200", 4, "192.168.100.200");
	addr_ok("::", 6, "::");
	addr_ok("::1", 6, "::1");
	addr_ok("2001:DB8::1", 6, "2001:db8::1");
	addr_ok("2001:0db8:0000:0000:0000:0000:0000:0001", 6, "2001:db8::1");
	addr_ok("::ffff:10.0.0.1", 6, "::ffff:10.0.0.1");
	addr_ok("64:ff9b::7f00:1", 6, "64:ff9b::7f00:1");
	addr_ok("fe80::1", 6, "fe80::1");

	/* IPv4: strict dotted quads only */
	addr_bad("");
	addr_bad("10");
	addr_bad("10.1");
	addr_bad("10.0.1");
	addr_bad("10.0.0.1.");
	addr_bad(".10.0.0.1");
	addr_bad("10..0.1");
	addr_bad("10.0.0.1.2");
	addr_bad("010.0.0.1"); /* octal in inet_aton */
	addr_bad("10.0.0.01");
	addr_bad("10.0.0.00");
	addr_bad("0x7f.0.0.1"); /* hex */
	addr_bad("0x7f000001");
	addr_bad("2130706433"); /* a number */
	addr_bad("256.0.0.1");
	addr_bad("1.2.3.1000");
	addr_bad("-1.2.3.4");
	addr_bad("+1.2.3.4");
	addr_bad(" 1.2.3.4");
	addr_bad("1.2.3.4 ");
	addr_bad("1.2.3.4/32");
	/* IPv6 */
	addr_bad("[::1]");
	addr_bad("fe80::1%eth0");
	addr_bad(":::");
	addr_bad("1:2:3:4:5:6:7:8:9");
	addr_bad("12345::");
	addr_bad("::ffff:010.0.0.1");
	addr_bad("::ffff:10.0.0");
	addr_bad("1::2::3");
	addr_bad("0000:0000:0000:0000:0000:0000:0000:0000:0"); /* > 45 */

	/* a length that cuts a valid address */
	struct msb_net_addr a;
	CHECK(msb_net_addr_parse_n(&a, "10.0.0.12", 8) == 0);
	CHECK(a.a[3] == 1);
	CHECK(msb_net_addr_parse_n(&a,
				   "10.0.0.1\0"
				   "2",
				   10) == -1);
	CHECK(msb_net_addr_parse_n(&a,
				   "::1\0"
				   ":",
				   5) == -1);
	CHECK(msb_net_addr_parse(&a, NULL) == -1);

	/* unknown family formats as "?"; a short buffer is cut, and
	 * terminated */
	char out[8];
	memset(&a, 0, sizeof(a));
	CHECK_STR(msb_net_addr_format(out, sizeof(out), &a), "?");
	msb_net_addr_parse(&a, "192.168.100.200");
	CHECK_STR(msb_net_addr_format(out, sizeof(out), &a), "192.168");
}

static void test_equal(void)
{
	struct msb_net_addr x, y;

	msb_net_addr_parse(&x, "10.0.0.1");
	msb_net_addr_parse(&y, "10.0.0.1");
	CHECK(msb_net_addr_equal(&x, &y));
	y.a[10] = 7; /* past the IPv4 bytes: not compared */
	CHECK(msb_net_addr_equal(&x, &y));
	msb_net_addr_parse(&y, "::ffff:10.0.0.1");
	CHECK(!msb_net_addr_equal(&x, &y));
	msb_net_addr_parse(&x, "::ffff:10.0.0.1");
	CHECK(msb_net_addr_equal(&x, &y));
	memset(&x, 0, sizeof(x));
	memset(&y, 0, sizeof(y));
	CHECK(!msb_net_addr_equal(&x, &y)); /* no family */
}

/* @in unwraps to @v4 (or not, if NULL). */
static void unwrap_is(const char *in, const char *v4)
{
	struct msb_net_addr a, out;
	char text[MSB_NET_ADDR_STRLEN];

	CHECK(msb_net_addr_parse(&a, in) == 0);
	memset(&out, 0xee, sizeof(out));
	bool r = msb_net_addr_unwrap(&out, &a);
	if (!v4) {
		CHECK(!r);
		CHECK(out.family == 0xee);
		if (r)
			fprintf(stderr, "  unwrapped: `%s`\n", in);
		return;
	}
	CHECK(r);
	if (!r) {
		fprintf(stderr, "  not unwrapped: `%s`\n", in);
		return;
	}
	CHECK(out.family == 4);
	CHECK_STR(msb_net_addr_format(text, sizeof(text), &out), v4);
}

static void test_unwrap(void)
{
	unwrap_is("::ffff:10.1.2.3", "10.1.2.3");
	unwrap_is("::ffff:a01:203", "10.1.2.3");
	unwrap_is("::ffff:127.0.0.1", "127.0.0.1");
	unwrap_is("::ffff:0.0.0.0", "0.0.0.0");
	unwrap_is("::10.1.2.3", "10.1.2.3"); /* IPv4-compatible */
	unwrap_is("::127.0.0.1", "127.0.0.1");
	unwrap_is("::0.0.0.2", "0.0.0.2");
	unwrap_is("64:ff9b::10.1.2.3", "10.1.2.3"); /* NAT64 */
	unwrap_is("64:ff9b::a9fe:a9fe", "169.254.169.254");
	unwrap_is("2002:a01:203::", "10.1.2.3"); /* 6to4 */
	unwrap_is("2002:a9fe:a9fe:1:2:3:4:5", "169.254.169.254");
	unwrap_is("2002:7f00:1::1", "127.0.0.1");
	unwrap_is("::", NULL);
	unwrap_is("::1", NULL);
	unwrap_is("::1:0:0:0", NULL);
	unwrap_is("::fffe:10.1.2.3", NULL);
	unwrap_is("::ffff:0:10.1.2.3", NULL); /* IPv4-translated: not this */
	unwrap_is("64:ff9b:1::10.1.2.3", NULL);
	unwrap_is("2003::1", NULL);
	unwrap_is("2001:db8::1", NULL);

	struct msb_net_addr a, out;
	msb_net_addr_parse(&a, "10.0.0.1");
	CHECK(!msb_net_addr_unwrap(&out, &a));
}

/* @s parses as a prefix, formatted (with brackets or not) as @canon. */
static void cidr_ok(const char *s, const char *canon, bool brackets)
{
	struct msb_net_cidr c, c2;
	char out[MSB_NET_CIDR_STRLEN], err[128] = "";

	int rc = msb_net_cidr_parse(&c, s, err, sizeof(err));
	CHECK(rc == 0);
	if (rc) {
		fprintf(stderr, "  refused: `%s`: %s\n", s, err);
		return;
	}
	CHECK_STR(msb_net_cidr_format(out, sizeof(out), &c, brackets), canon);
	/* the text parses back to the same prefix */
	CHECK(msb_net_cidr_parse(&c2, out, NULL, 0) == 0);
	CHECK(!memcmp(&c, &c2, sizeof(c)));
}

static void cidr_bad(const char *s, const char *why)
{
	struct msb_net_cidr c;
	char err[128] = "";

	int rc = msb_net_cidr_parse(&c, s, err, sizeof(err));
	CHECK(rc == -1);
	if (rc == 0) {
		fprintf(stderr, "  accepted: `%s`\n", s);
		return;
	}
	CHECK(c.addr.family == 0 && c.len == 0);
	CHECK(strstr(err, why) != NULL);
	if (!strstr(err, why))
		fprintf(stderr, "  `%s`: error `%s`, wanted `%s`\n", s, err,
			why);
}

static void test_cidr(void)
{
	cidr_ok("10.0.0.0/8", "10.0.0.0/8", true);
	cidr_ok("10.0.0.1", "10.0.0.1", true);
	cidr_ok("10.0.0.1/32", "10.0.0.1", true);
	cidr_ok("0.0.0.0/0", "0.0.0.0/0", true);
	cidr_ok("100.64.0.0/10", "100.64.0.0/10", true);
	cidr_ok("2001:db8::/32", "2001:db8::/32", false);
	cidr_ok("2001:db8::/32", "[2001:db8::]/32", true);
	cidr_ok("[2001:db8::]/32", "[2001:db8::]/32", true);
	cidr_ok("[2001:db8::/32]", "[2001:db8::]/32", true);
	cidr_ok("[::1]", "[::1]", true);
	cidr_ok("::1", "::1", false);
	cidr_ok("::/0", "::/0", false);
	cidr_ok("fc00::/7", "fc00::/7", false);
	cidr_ok("fe80::/10", "fe80::/10", false);

	cidr_bad("", "empty");
	cidr_bad("10.0.0.0/", "prefix length");
	cidr_bad("10.0.0.0/33", "0-32");
	cidr_bad("10.0.0.0/08", "prefix length");
	cidr_bad("10.0.0.0/-1", "prefix length");
	cidr_bad("10.0.0.0/8/8", "prefix length");
	cidr_bad("10.0.0/8", "not an IP address");
	cidr_bad("10.1.0.0/8", "starts at 10.0.0.0");
	cidr_bad("2001:db8::1/32", "starts at 2001:db8::");
	cidr_bad("fe80::/129", "0-128");
	cidr_bad("[10.0.0.1]", "brackets");
	cidr_bad("[::1", "without `]`");
	cidr_bad("[::1]x", "after `]`");
	cidr_bad("[::1/64]/64", "two prefix lengths");
	cidr_bad("[::]/1000", "0-128");
	cidr_bad("[]", "not an IP address");
	cidr_bad("example.com/8", "not an IP address");

	/* errors are optional */
	struct msb_net_cidr c;
	CHECK(msb_net_cidr_parse(&c, "nope", NULL, 0) == -1);
	CHECK(msb_net_cidr_parse(&c, NULL, NULL, 0) == -1);
}

static bool contains(const char *cidr, const char *addr)
{
	struct msb_net_cidr c;
	struct msb_net_addr a;

	CHECK(msb_net_cidr_parse(&c, cidr, NULL, 0) == 0);
	CHECK(msb_net_addr_parse(&a, addr) == 0);
	return msb_net_cidr_contains(&c, &a);
}

static void test_contains(void)
{
	CHECK(contains("10.0.0.0/8", "10.0.0.0"));
	CHECK(contains("10.0.0.0/8", "10.255.255.255"));
	CHECK(!contains("10.0.0.0/8", "11.0.0.0"));
	CHECK(!contains("10.0.0.0/8", "9.255.255.255"));
	CHECK(contains("100.64.0.0/10", "100.127.255.255"));
	CHECK(!contains("100.64.0.0/10", "100.128.0.0"));
	CHECK(!contains("100.64.0.0/10", "100.63.255.255"));
	CHECK(contains("198.18.0.0/15", "198.19.1.1"));
	CHECK(!contains("198.18.0.0/15", "198.20.0.0"));
	CHECK(contains("0.0.0.0/0", "1.2.3.4"));
	CHECK(contains("1.2.3.4", "1.2.3.4"));
	CHECK(!contains("1.2.3.4", "1.2.3.5"));
	CHECK(contains("fc00::/7", "fdff:ffff::1"));
	CHECK(!contains("fc00::/7", "fe00::"));
	CHECK(contains("fe80::/10", "febf::1"));
	CHECK(!contains("fe80::/10", "fec0::1"));
	CHECK(contains("::/0", "2001:db8::1"));
	CHECK(contains("::1", "::1"));
	CHECK(!contains("::1", "::2"));
	/* no unwrapping, no mixing of families */
	CHECK(!contains("10.0.0.0/8", "::ffff:10.0.0.1"));
	CHECK(!contains("::/0", "10.0.0.1"));
	CHECK(!contains("0.0.0.0/0", "::"));

	/* a prefix of no family, or too long, contains nothing */
	struct msb_net_cidr c;
	struct msb_net_addr a;
	memset(&c, 0, sizeof(c));
	memset(&a, 0, sizeof(a));
	CHECK(!msb_net_cidr_contains(&c, &a));
	msb_net_cidr_parse(&c, "10.0.0.1", NULL, 0);
	msb_net_addr_parse(&a, "10.0.0.1");
	c.len = 33;
	CHECK(!msb_net_cidr_contains(&c, &a));
}

int main(void)
{
	test_parse();
	test_equal();
	test_unwrap();
	test_cidr();
	test_contains();
	return check_summary("net_addr");
}
