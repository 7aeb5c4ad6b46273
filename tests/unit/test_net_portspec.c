// SPDX-License-Identifier: Apache-2.0
/* Unit tests for src/net/portspec.c: the `-p` syntax of published ports. */
#include <string.h>

#include "check.h"
#include "net/portspec.h"

/* @s parses, and formats back as @canon. */
static void spec_ok(const char *s, const char *canon)
{
	struct msb_net_portspec p, q;
	char out[MSB_NET_PORTSPEC_STRLEN], err[200] = "";

	int rc = msb_net_portspec_parse(&p, s, err, sizeof(err));
	CHECK(rc == 0);
	if (rc) {
		fprintf(stderr, "  refused: `%s`: %s\n", s, err);
		return;
	}
	CHECK_STR(msb_net_portspec_format(out, sizeof(out), &p), canon);
	/* the canonical form parses back to the same */
	CHECK(msb_net_portspec_parse(&q, out, NULL, 0) == 0);
	CHECK(!memcmp(&p, &q, sizeof(p)));
}

/* @s is refused with a message containing @want. */
static void spec_bad(const char *s, const char *want)
{
	struct msb_net_portspec p;
	char err[200] = "";

	memset(&p, 0xaa, sizeof(p));
	int rc = msb_net_portspec_parse(&p, s, err, sizeof(err));
	CHECK(rc == -1);
	if (rc == 0) {
		fprintf(stderr, "  accepted: `%s`\n", s);
		return;
	}
	CHECK(p.host_port == 0 && p.guest_port == 0 && p.host_ip.family == 0);
	CHECK(strstr(err, want) != NULL);
	if (!strstr(err, want))
		fprintf(stderr, "  `%s`: got `%s`, wanted `%s`\n", s, err,
			want);
	CHECK(!strchr(err, '\n'));
}

static void test_valid(void)
{
	spec_ok("8080:80", "127.0.0.1:8080:80/tcp");
	spec_ok("8080:80/tcp", "127.0.0.1:8080:80/tcp");
	spec_ok("8080:80/TCP", "127.0.0.1:8080:80/tcp");
	spec_ok("5353:53/udp", "127.0.0.1:5353:53/udp");
	spec_ok("5353:53/Udp", "127.0.0.1:5353:53/udp");
	spec_ok("1:65535", "127.0.0.1:1:65535/tcp");
	spec_ok("65535:1/udp", "127.0.0.1:65535:1/udp");
	spec_ok("127.0.0.1:8080:80", "127.0.0.1:8080:80/tcp");
	spec_ok("0.0.0.0:8080:80", "0.0.0.0:8080:80/tcp");
	spec_ok("192.168.1.10:443:8443/tcp", "192.168.1.10:443:8443/tcp");
	spec_ok("[::1]:8080:80", "[::1]:8080:80/tcp");
	spec_ok("[::]:8080:80/udp", "[::]:8080:80/udp");
	spec_ok("[2001:DB8::1]:9000:9000", "[2001:db8::1]:9000:9000/tcp");
	spec_ok("[::ffff:127.0.0.1]:8080:80", "[::ffff:127.0.0.1]:8080:80/tcp");

	struct msb_net_portspec p;
	CHECK(msb_net_portspec_parse(&p, "[::1]:8080:80/udp", NULL, 0) == 0);
	CHECK(p.host_ip.family == 6 && p.host_ip.a[15] == 1);
	CHECK(p.host_port == 8080 && p.guest_port == 80);
	CHECK(p.proto == MSB_NET_PROTO_UDP);
	CHECK(msb_net_portspec_parse(&p, "8080:80", NULL, 0) == 0);
	CHECK(p.host_ip.family == 4 && p.host_ip.a[0] == 127 &&
	      p.host_ip.a[3] == 1 && p.proto == MSB_NET_PROTO_TCP);
	/* _n stops at n */
	CHECK(msb_net_portspec_parse_n(&p, "8080:80/udpXXX", 11, NULL, 0) == 0);
	CHECK(p.proto == MSB_NET_PROTO_UDP);
}

static void test_invalid(void)
{
	spec_bad("", "empty");
	spec_bad(NULL, "empty");
	spec_bad("8080", "expected [HOSTIP:]HOSTPORT:GUESTPORT");
	spec_bad("80/tcp", "expected [HOSTIP:]HOSTPORT:GUESTPORT");
	spec_bad("0:80", "host port `0` is not a port (1-65535)");
	spec_bad("8080:0", "guest port `0` is not a port (1-65535)");
	spec_bad("65536:80", "host port `65536`");
	spec_bad("8080:65536", "guest port `65536`");
	spec_bad("99999:80", "host port `99999`");
	spec_bad("100000:80", "host port `100000`");
	spec_bad("-1:80", "host port `-1`");
	spec_bad("08080:80", "host port `08080`"); /* no leading zero */
	spec_bad("8080:+80", "guest port `+80`");
	spec_bad(":80", "host port ``");
	spec_bad("8080:", "guest port ``");
	spec_bad("8080:80/", "`` is not a protocol");
	spec_bad("8080:80/sctp", "`sctp` is not a protocol (tcp or udp)");
	spec_bad("8080:80/tcp/udp", "`tcp/udp` is not a protocol");
	spec_bad("8080-8090:80", "host port `8080-8090`"); /* no ranges */
	spec_bad("localhost:8080:80", "`localhost` is not an IPv4 address");
	spec_bad("10.0.0:8080:80", "`10.0.0` is not an IPv4 address");
	spec_bad("[127.0.0.1]:8080:80", "brackets are for IPv6");
	spec_bad("::1:8080:80", "an IPv6 host address goes in brackets");
	spec_bad("1:2:3:4", "too many `:`");
	spec_bad("[::1:8080:80", "`[` without `]`");
	spec_bad("[::1]8080:80", "`:` expected after `]`");
	spec_bad("[::1]", "`:` expected after `]`");
	spec_bad("[::1]:8080", "expected [HOSTIP:]HOSTPORT:GUESTPORT");
	spec_bad("[::1]:0:80", "host port `0`");
	spec_bad("[fe80::1%eth0]:80:80", "is not an IPv6 address");
	spec_bad("8080:80\n", "guest port `80?`");
	char big[300];
	memset(big, '1', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	spec_bad(big, "longer than 128 bytes");
	/* a long bad field is cut in the message */
	spec_bad("1234567890123456789012345678901234567890123456789:80",
		 "host port `1234567890123456789012345678901234567890...`");
}

static void test_conflict(void)
{
	struct msb_net_portspec a, b;
	static const struct {
		const char *a, *b;
		bool conflict;
	} cases[] = {
		{"8080:80", "8080:81", true},
		{"8080:80", "127.0.0.1:8080:90", true},
		{"8080:80", "8080:80/udp", false},
		{"8080:80", "8081:80", false},
		{"8080:80", "127.0.0.2:8080:80", false},
		{"0.0.0.0:8080:80", "127.0.0.1:8080:80", true},
		{"127.0.0.1:8080:80", "0.0.0.0:8080:80", true},
		{"[::1]:8080:80", "8080:80", false},
		{"[::]:8080:80", "0.0.0.0:8080:80", false},
		{"[::]:8080:80", "[::1]:8080:80", true},
		{"[::1]:8080:80", "[::1]:8080:80/udp", false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK(msb_net_portspec_parse(&a, cases[i].a, NULL, 0) == 0);
		CHECK(msb_net_portspec_parse(&b, cases[i].b, NULL, 0) == 0);
		bool c = msb_net_portspec_conflict(&a, &b);
		CHECK(c == cases[i].conflict);
		CHECK(msb_net_portspec_conflict(&b, &a) == c);
		if (c != cases[i].conflict)
			fprintf(stderr, "  conflict(`%s`, `%s`) = %d\n",
				cases[i].a, cases[i].b, c);
	}
}

static void test_host_format(void)
{
	struct msb_net_portspec p;
	char out[MSB_NET_PORTSPEC_STRLEN];

	CHECK(msb_net_portspec_parse(&p, "8080:80", NULL, 0) == 0);
	CHECK_STR(msb_net_portspec_host_format(out, sizeof(out), &p),
		  "127.0.0.1:8080/tcp");
	CHECK(msb_net_portspec_parse(
		      &p,
		      "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535:65535/udp",
		      NULL, 0) == 0);
	CHECK_STR(msb_net_portspec_format(out, sizeof(out), &p),
		  "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535:65535/udp");
	CHECK(strlen(out) < MSB_NET_PORTSPEC_STRLEN);
	/* a short buffer is cut, never overrun */
	CHECK_STR(msb_net_portspec_format(out, 6, &p), "[ffff");
}

int main(void)
{
	test_valid();
	test_invalid();
	test_conflict();
	test_host_format();
	return check_summary("net_portspec");
}
