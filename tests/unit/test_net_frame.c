// SPDX-License-Identifier: Apache-2.0
/* Frame parsing and building (src/net/frame.c). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "net/frame.h"

static const uint8_t gw_mac[6] = {2, 0, 0, 0, 0, 1};
static const uint8_t guest_mac[6] = {2, 0, 0, 0, 0, 2};
static const uint8_t guest4[4] = {100, 96, 0, 2};
static const uint8_t gw4[4] = {100, 96, 0, 1};
static const uint8_t far4[4] = {1, 2, 3, 4};
static const uint8_t guest6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 2};
static const uint8_t far6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, [15] = 9};

/* A reference checksum, written independently of frame.c. */
static uint16_t ref_sum(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] * 256 + p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] * 256;
	while (s > 0xffff)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static bool ip4_hdr_ok(const uint8_t *ip)
{
	return ref_sum(ip, (size_t)(ip[0] & 15) * 4, 0) == 0xffff;
}

/* Whether the transport checksum of a parsed packet verifies. */
static bool l4_ok(const struct msb_net_frame *f)
{
	uint32_t s = 0;
	size_t al = f->family == 4 ? 4 : 16;
	s = ref_sum(f->src, al, s);
	s = ref_sum(f->dst, al, s);
	s += f->proto + (uint32_t)f->l4_len;
	return ref_sum(f->l4, f->l4_len, s) == 0xffff;
}

static void put16(uint8_t *p, unsigned v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

/* Ethernet + IPv4 header + @l4 (@n bytes) into @b; returns the length. */
static size_t mk4(uint8_t *b, uint8_t proto, const uint8_t *src,
		  const uint8_t *dst, const uint8_t *l4, size_t n,
		  unsigned frag)
{
	memcpy(b, gw_mac, 6);
	memcpy(b + 6, guest_mac, 6);
	put16(b + 12, 0x0800);
	uint8_t *ip = b + 14;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (unsigned)(20 + n));
	put16(ip + 4, 0x1234);
	put16(ip + 6, frag);
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, src, 4);
	memcpy(ip + 16, dst, 4);
	put16(ip + 10, (uint16_t)~ref_sum(ip, 20, 0));
	memcpy(ip + 20, l4, n);
	return 14 + 20 + n;
}

static size_t mk6(uint8_t *b, uint8_t nh, const uint8_t *src,
		  const uint8_t *dst, const uint8_t *rest, size_t n)
{
	memcpy(b, gw_mac, 6);
	memcpy(b + 6, guest_mac, 6);
	put16(b + 12, 0x86dd);
	uint8_t *ip = b + 14;
	memset(ip, 0, 40);
	ip[0] = 0x60;
	put16(ip + 4, (unsigned)n);
	ip[6] = nh;
	ip[7] = 64;
	memcpy(ip + 8, src, 16);
	memcpy(ip + 24, dst, 16);
	memcpy(ip + 40, rest, n);
	return 14 + 40 + n;
}

static size_t mk_tcp(uint8_t *t, unsigned sport, unsigned dport, uint32_t seq,
		     uint32_t ack, uint8_t flags, size_t data)
{
	memset(t, 0, 20 + data);
	put16(t, sport);
	put16(t + 2, dport);
	t[4] = seq >> 24;
	t[5] = seq >> 16;
	t[6] = seq >> 8;
	t[7] = seq;
	t[8] = ack >> 24;
	t[9] = ack >> 16;
	t[10] = ack >> 8;
	t[11] = ack;
	t[12] = 5 << 4;
	t[13] = flags;
	put16(t + 14, 64240);
	for (size_t i = 0; i < data; i++)
		t[20 + i] = (uint8_t)i;
	return 20 + data;
}

static void test_csum(void)
{
	/* the classic example header: checksum 0xb861 */
	uint8_t h[20] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40,
			 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
			 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
	CHECK(msb_net_csum_fold(msb_net_csum_add(0, h, 20)) == 0xb861);
	h[10] = 0xb8;
	h[11] = 0x61;
	CHECK(msb_net_csum_fold(msb_net_csum_add(0, h, 20)) == 0);
	/* odd length pads with a zero byte */
	const uint8_t odd[3] = {1, 2, 3};
	CHECK(msb_net_csum_fold(msb_net_csum_add(0, odd, 3)) ==
	      (uint16_t)~0x0402);
	/* sums can be chained (even lengths) */
	CHECK(msb_net_csum_add(msb_net_csum_add(0, h, 10), h + 10, 10) ==
	      msb_net_csum_add(0, h, 20));
}

static void test_arp(void)
{
	uint8_t b[64] = {0}, out[64];
	struct msb_net_frame f, r;
	memset(b, 0xff, 6);
	memcpy(b + 6, guest_mac, 6);
	put16(b + 12, 0x0806);
	const uint8_t arp[8] = {0, 1, 8, 0, 6, 4, 0, 1};
	memcpy(b + 14, arp, 8);
	memcpy(b + 22, guest_mac, 6);
	memcpy(b + 28, guest4, 4);
	memcpy(b + 38, gw4, 4);
	CHECK(msb_net_frame_parse(&f, b, 60) == 0);
	CHECK(f.layer == MSB_NET_L3 && f.arp_op == 1);
	CHECK(!memcmp(f.arp_tpa, gw4, 4) && !memcmp(f.arp_spa, guest4, 4));
	size_t n = msb_net_build_arp_reply(out, sizeof(out), &f, gw_mac);
	CHECK(n == 42);
	CHECK(msb_net_frame_parse(&r, out, n) == 0);
	CHECK(r.arp_op == 2 && !memcmp(r.arp_sha, gw_mac, 6));
	CHECK(!memcmp(r.arp_spa, gw4, 4) && !memcmp(r.arp_tpa, guest4, 4));
	CHECK(!memcmp(r.arp_tha, guest_mac, 6));
	CHECK(!memcmp(r.dst_mac, guest_mac, 6));
	/* a reply is not answered; short and foreign ARP refused */
	CHECK(msb_net_build_arp_reply(out, sizeof(out), &r, gw_mac) == 0);
	CHECK(msb_net_build_arp_reply(out, 41, &f, gw_mac) == 0);
	CHECK(msb_net_frame_parse(&f, b, 41) == MSB_NET_ESHORT);
	b[14 + 5] = 16; /* plen */
	CHECK(msb_net_frame_parse(&f, b, 60) == MSB_NET_EBAD);
}

static void test_ip4_tcp(void)
{
	uint8_t l4[128], b[256], out[256];
	struct msb_net_frame f, r;

	size_t n = mk4(b, 6, guest4, far4, l4,
		       mk_tcp(l4, 40000, 80, 1000, 0, MSB_NET_TCP_SYN, 0), 0);
	CHECK(msb_net_frame_parse(&f, b, n) == 0);
	CHECK(f.layer == MSB_NET_L4 && f.family == 4 && f.proto == 6);
	CHECK(f.sport == 40000 && f.dport == 80 && f.seq == 1000);
	CHECK(f.tcp_flags == MSB_NET_TCP_SYN && !f.frag);
	CHECK(!memcmp(f.src, guest4, 4) && !memcmp(f.dst, far4, 4));
	CHECK(f.ip_len == 40 && f.ip_hlen == 20 && f.payload_len == 0);

	/* Ethernet padding after the IP packet is not payload */
	memset(b + n, 0xee, 20);
	CHECK(msb_net_frame_parse(&f, b, n + 20) == 0);
	CHECK(f.ip_len == 40 && f.payload_len == 0);

	/* SYN -> RST|ACK acknowledging the SYN, from the destination */
	size_t m = msb_net_build_tcp_rst(out, sizeof(out), &f, gw_mac);
	CHECK(m == 54);
	CHECK(msb_net_frame_parse(&r, out, m) == 0);
	CHECK(r.tcp_flags == (MSB_NET_TCP_RST | MSB_NET_TCP_ACK));
	CHECK(r.ack == 1001 && r.seq == 0);
	CHECK(r.sport == 80 && r.dport == 40000);
	CHECK(!memcmp(r.src, far4, 4) && !memcmp(r.dst, guest4, 4));
	CHECK(!memcmp(r.dst_mac, guest_mac, 6) &&
	      !memcmp(r.src_mac, gw_mac, 6));
	CHECK(ip4_hdr_ok(out + 14) && l4_ok(&r));
	/* a reset is never answered */
	CHECK(msb_net_build_tcp_rst(out, sizeof(out), &r, gw_mac) == 0);

	/* data with ACK -> RST with seq = their ack */
	n = mk4(b, 6, guest4, far4, l4,
		mk_tcp(l4, 40000, 80, 5, 777, MSB_NET_TCP_ACK | MSB_NET_TCP_PSH,
		       10),
		0);
	CHECK(msb_net_frame_parse(&f, b, n) == 0 && f.payload_len == 10);
	CHECK(f.payload[3] == 3);
	m = msb_net_build_tcp_rst(out, sizeof(out), &f, gw_mac);
	CHECK(msb_net_frame_parse(&r, out, m) == 0);
	CHECK(r.tcp_flags == MSB_NET_TCP_RST && r.seq == 777);
	/* data + FIN without ACK: ack covers data and FIN */
	n = mk4(b, 6, guest4, far4, l4,
		mk_tcp(l4, 1, 2, 0xfffffffe, 0, MSB_NET_TCP_FIN, 10), 0);
	CHECK(msb_net_frame_parse(&f, b, n) == 0);
	m = msb_net_build_tcp_rst(out, sizeof(out), &f, gw_mac);
	CHECK(msb_net_frame_parse(&r, out, m) == 0 && r.ack == 9);
	/* too small an output buffer */
	CHECK(msb_net_build_tcp_rst(out, 53, &f, gw_mac) == 0);
	/* not to or from broadcast / unspecified */
	const uint8_t bc[4] = {255, 255, 255, 255}, zero[4] = {0};
	n = mk4(b, 6, guest4, bc, l4, mk_tcp(l4, 1, 2, 0, 0, 2, 0), 0);
	CHECK(msb_net_frame_parse(&f, b, n) == 0);
	CHECK(msb_net_build_tcp_rst(out, sizeof(out), &f, gw_mac) == 0);
	n = mk4(b, 6, zero, far4, l4, mk_tcp(l4, 1, 2, 0, 0, 2, 0), 0);
	CHECK(msb_net_frame_parse(&f, b, n) == 0);
	CHECK(msb_net_build_tcp_rst(out, sizeof(out), &f, gw_mac) == 0);

	/* bad headers */
	n = mk4(b, 6, guest4, far4, l4, mk_tcp(l4, 1, 2, 0, 0, 2, 0), 0);
	b[14 + 20 + 12] = 4 << 4; /* data offset < 5 */
	CHECK(msb_net_frame_parse(&f, b, n) == MSB_NET_EBAD);
	b[14 + 20 + 12] = 15 << 4; /* past the packet */
	CHECK(msb_net_frame_parse(&f, b, n) == MSB_NET_ESHORT);
	b[14 + 20 + 12] = 5 << 4;
	b[14] = 0x44; /* IHL 4 */
	CHECK(msb_net_frame_parse(&f, b, n) == MSB_NET_EBAD);
	b[14] = 0x55; /* version 5 */
	CHECK(msb_net_frame_parse(&f, b, n) == MSB_NET_EBAD);
	b[14] = 0x45;
	put16(b + 16, 41); /* total length past the frame */
	CHECK(msb_net_frame_parse(&f, b, n) == MSB_NET_ESHORT);
	put16(b + 16, 19); /* shorter than the header */
	CHECK(msb_net_frame_parse(&f, b, n) == MSB_NET_EBAD);
	put16(b + 16, 30); /* TCP header cut short */
	CHECK(msb_net_frame_parse(&f, b, n) == MSB_NET_ESHORT);

	/* every prefix of a frame is refused or parsed less deep */
	n = mk4(b, 6, guest4, far4, l4, mk_tcp(l4, 1, 2, 0, 0, 2, 0), 0);
	for (size_t i = 0; i < n; i++) {
		uint8_t *cut = malloc(i ? i : 1);
		memcpy(cut, b, i);
		int rc = msb_net_frame_parse(&f, cut, i);
		CHECK(rc < 0 || f.layer == MSB_NET_L2);
		free(cut);
	}
	CHECK(msb_net_frame_parse(&f, NULL, 0) == MSB_NET_ESHORT);
}

static void test_ip4_frag(void)
{
	uint8_t l4[64], b[256];
	struct msb_net_frame f;
	/* first fragment: transport header parsed, payload partial */
	size_t t = mk_tcp(l4, 1, 2, 0, 0, 2, 8);
	size_t n = mk4(b, 6, guest4, far4, l4, t, 0x2000);
	CHECK(msb_net_frame_parse(&f, b, n) == 0);
	CHECK(f.frag && f.frag_off == 0 && f.layer == MSB_NET_L4);
	/* a first fragment too short for the header: L3, not an error */
	n = mk4(b, 6, guest4, far4, l4, 8, 0x2000);
	CHECK(msb_net_frame_parse(&f, b, n) == 0 && f.layer == MSB_NET_L3);
	/* later fragment: L3 only */
	n = mk4(b, 17, guest4, far4, l4, 16, 0x0003);
	CHECK(msb_net_frame_parse(&f, b, n) == 0);
	CHECK(f.frag && f.frag_off == 24 && f.layer == MSB_NET_L3);
	/* UDP first fragment: the length field may exceed this packet */
	memset(l4, 0, 16);
	put16(l4 + 4, 3000);
	n = mk4(b, 17, guest4, far4, l4, 16, 0x2000);
	CHECK(msb_net_frame_parse(&f, b, n) == 0 && f.layer == MSB_NET_L4);
	CHECK(f.payload_len == 8);
	/* unfragmented, it may not */
	n = mk4(b, 17, guest4, far4, l4, 16, 0x4000);
	CHECK(msb_net_frame_parse(&f, b, n) == MSB_NET_ESHORT);
}

static void test_udp_and_unreach(void)
{
	uint8_t l4[2000], b[2100], out[2100];
	struct msb_net_frame f, r;
	const char msg[] = "hello";

	size_t t =
		msb_net_udp(l4, sizeof(l4), 4, guest4, far4, 5353, 53, msg, 5);
	CHECK(t == 13);
	size_t n = mk4(b, 17, guest4, far4, l4, t, 0x4000);
	CHECK(msb_net_frame_parse(&f, b, n) == 0);
	CHECK(f.layer == MSB_NET_L4 && f.sport == 5353 && f.dport == 53);
	CHECK(f.payload_len == 5 && !memcmp(f.payload, "hello", 5));
	CHECK(l4_ok(&f));
	CHECK(msb_net_l4_csum(4, f.src, f.dst, 17, f.l4, f.l4_len) == 0);
	/* UDP length field */
	put16(b + 14 + 20 + 4, 7);
	CHECK(msb_net_frame_parse(&f, b, n) == MSB_NET_EBAD);
	put16(b + 14 + 20 + 4, 14);
	CHECK(msb_net_frame_parse(&f, b, n) == MSB_NET_ESHORT);
	put16(b + 14 + 20 + 4, 13);

	/* port unreachable from the destination, quoting the datagram */
	CHECK(msb_net_frame_parse(&f, b, n) == 0);
	size_t m = msb_net_build_unreach(out, sizeof(out), &f,
					 MSB_NET_UNREACH_PORT, NULL, gw_mac);
	CHECK(m == 14 + 20 + 8 + 33);
	CHECK(msb_net_frame_parse(&r, out, m) == 0);
	CHECK(r.proto == 1 && r.icmp_type == 3 && r.icmp_code == 3);
	CHECK(!memcmp(r.src, far4, 4) && !memcmp(r.dst, guest4, 4));
	CHECK(!memcmp(r.payload, b + 14, 33));
	CHECK(ip4_hdr_ok(out + 14));
	CHECK(ref_sum(r.l4, r.l4_len, 0) == 0xffff);
	/* an ICMP error is never answered with one */
	CHECK(msb_net_build_unreach(out, sizeof(out), &r, 3, NULL, gw_mac) ==
	      0);
	/* from the gateway instead */
	m = msb_net_build_unreach(out, sizeof(out), &f, MSB_NET_UNREACH_ADMIN,
				  gw4, gw_mac);
	CHECK(msb_net_frame_parse(&r, out, m) == 0);
	CHECK(!memcmp(r.src, gw4, 4) && r.icmp_code == 13);
	/* a big datagram is quoted up to 576 bytes in all */
	t = msb_net_udp(l4, sizeof(l4), 4, guest4, far4, 1, 2, b, 1400);
	n = mk4(b, 17, guest4, far4, l4, t, 0);
	CHECK(msb_net_frame_parse(&f, b, n) == 0);
	m = msb_net_build_unreach(out, sizeof(out), &f, 3, NULL, gw_mac);
	CHECK(m == 14 + 576);
	CHECK(msb_net_build_unreach(out, m - 1, &f, 3, NULL, gw_mac) == 0);
	/* not about a later fragment */
	n = mk4(b, 17, guest4, far4, l4, 16, 0x0003);
	CHECK(msb_net_frame_parse(&f, b, n) == 0);
	CHECK(msb_net_build_unreach(out, sizeof(out), &f, 3, NULL, gw_mac) ==
	      0);
	/* not to multicast */
	const uint8_t mc[4] = {224, 0, 0, 251};
	t = msb_net_udp(l4, sizeof(l4), 4, guest4, mc, 5353, 5353, msg, 5);
	n = mk4(b, 17, guest4, mc, l4, t, 0);
	CHECK(msb_net_frame_parse(&f, b, n) == 0);
	CHECK(msb_net_build_unreach(out, sizeof(out), &f, 3, NULL, gw_mac) ==
	      0);
}

static void test_ip6(void)
{
	uint8_t rest[256], b[512], out[2048], l4[64];
	struct msb_net_frame f, r;

	/* TCP SYN behind a hop-by-hop and a destination options header */
	memset(rest, 0, 16);
	rest[0] = 60; /* hop-by-hop -> dest opts */
	rest[8] = 6;  /* dest opts -> TCP */
	size_t t = mk_tcp(rest + 16, 50000, 443, 42, 0, MSB_NET_TCP_SYN, 0);
	size_t n = mk6(b, 0, guest6, far6, rest, 16 + t);
	CHECK(msb_net_frame_parse(&f, b, n) == 0);
	CHECK(f.family == 6 && f.layer == MSB_NET_L4 && f.proto == 6);
	CHECK(f.ip_hlen == 56 && f.dport == 443 && f.seq == 42);
	size_t m = msb_net_build_tcp_rst(out, sizeof(out), &f, gw_mac);
	CHECK(m == 14 + 40 + 20);
	CHECK(msb_net_frame_parse(&r, out, m) == 0);
	CHECK(r.tcp_flags == (MSB_NET_TCP_RST | MSB_NET_TCP_ACK));
	CHECK(r.ack == 43 && !memcmp(r.src, far6, 16));
	CHECK(l4_ok(&r));

	/* too many extension headers */
	memset(rest, 0, sizeof(rest));
	for (int i = 0; i < 9; i++)
		rest[i * 8] = 60;
	n = mk6(b, 60, guest6, far6, rest, 9 * 8);
	CHECK(msb_net_frame_parse(&f, b, n) == MSB_NET_EBAD);
	/* an extension header past the packet */
	rest[1] = 200;
	n = mk6(b, 60, guest6, far6, rest, 16);
	CHECK(msb_net_frame_parse(&f, b, n) == MSB_NET_ESHORT);
	/* payload length past the frame */
	n = mk6(b, 59, guest6, far6, rest, 8);
	CHECK(msb_net_frame_parse(&f, b, n - 1) == MSB_NET_ESHORT);
	CHECK(msb_net_frame_parse(&f, b, n) == 0 && f.layer == MSB_NET_L3);
	CHECK(f.proto == 59);

	/* a later fragment: L3 */
	memset(rest, 0, 16);
	rest[0] = 17;
	put16(rest + 2, 8 << 3);
	n = mk6(b, 44, guest6, far6, rest, 16);
	CHECK(msb_net_frame_parse(&f, b, n) == 0);
	CHECK(f.frag && f.frag_off == 64 && f.layer == MSB_NET_L3);
	CHECK(f.proto == 17);

	/* UDP -> ICMPv6 unreachable (administratively prohibited) */
	t = msb_net_udp(l4, sizeof(l4), 6, guest6, far6, 1000, 53, "q", 1);
	n = mk6(b, 17, guest6, far6, l4, t);
	CHECK(msb_net_frame_parse(&f, b, n) == 0 && l4_ok(&f));
	m = msb_net_build_unreach(out, sizeof(out), &f, MSB_NET_UNREACH6_ADMIN,
				  NULL, gw_mac);
	CHECK(m == 14 + 40 + 8 + 40 + 9);
	CHECK(msb_net_frame_parse(&r, out, m) == 0);
	CHECK(r.proto == 58 && r.icmp_type == 1 && r.icmp_code == 1);
	CHECK(l4_ok(&r) && !memcmp(r.dst, guest6, 16));
	CHECK(msb_net_build_unreach(out, sizeof(out), &r, 1, NULL, gw_mac) ==
	      0);

	/* neighbour solicitation -> advertisement; DAD probes ignored */
	uint8_t ns[32] = {135};
	memcpy(ns + 8, far6, 16);
	ns[24] = 1;
	ns[25] = 1;
	memcpy(ns + 26, guest_mac, 6);
	n = mk6(b, 58, guest6, far6, ns, 32);
	CHECK(msb_net_frame_parse(&f, b, n) == 0 && f.ns_target);
	m = msb_net_build_na(out, sizeof(out), &f, gw_mac);
	CHECK(m == 14 + 40 + 32);
	CHECK(msb_net_frame_parse(&r, out, m) == 0);
	CHECK(r.icmp_type == 136 && r.ttl == 255 && l4_ok(&r));
	CHECK(!memcmp(r.src, far6, 16) && !memcmp(r.l4 + 8, far6, 16));
	CHECK(!memcmp(r.l4 + 26, gw_mac, 6));
	CHECK(msb_net_build_unreach(out, sizeof(out), &f, 1, NULL, gw_mac) ==
	      0);
	const uint8_t zero[16] = {0};
	n = mk6(b, 58, zero, far6, ns, 32);
	CHECK(msb_net_frame_parse(&f, b, n) == 0);
	CHECK(msb_net_build_na(out, sizeof(out), &f, gw_mac) == 0);
	/* a neighbour solicitation cut short */
	n = mk6(b, 58, guest6, far6, ns, 20);
	CHECK(msb_net_frame_parse(&f, b, n) == MSB_NET_ESHORT);
	/* ICMPv4 inside IPv6 is not understood, not an error */
	n = mk6(b, 1, guest6, far6, ns, 32);
	CHECK(msb_net_frame_parse(&f, b, n) == 0 && f.layer == MSB_NET_L3);
}

static void test_echo(void)
{
	uint8_t l4[128], b[256], out[256];
	struct msb_net_frame f, r;
	size_t t = msb_net_icmp_echo(l4, sizeof(l4), 8, 0xabcd, 7, "ping!", 5);
	CHECK(t == 13);
	size_t n = mk4(b, 1, guest4, gw4, l4, t, 0x4000);
	CHECK(msb_net_frame_parse(&f, b, n) == 0);
	CHECK(f.icmp_type == 8 && f.icmp_id == 0xabcd && f.icmp_seq == 7);
	CHECK(ref_sum(f.l4, f.l4_len, 0) == 0xffff);
	size_t m = msb_net_build_echo_reply(out, sizeof(out), &f, gw_mac);
	CHECK(m == n);
	CHECK(msb_net_frame_parse(&r, out, m) == 0);
	CHECK(r.icmp_type == 0 && r.icmp_id == 0xabcd && r.icmp_seq == 7);
	CHECK(!memcmp(r.src, gw4, 4) && !memcmp(r.payload, "ping!", 5));
	CHECK(ref_sum(r.l4, r.l4_len, 0) == 0xffff && ip4_hdr_ok(out + 14));
	/* replies are not answered */
	CHECK(msb_net_build_echo_reply(out, sizeof(out), &r, gw_mac) == 0);
	/* an echo request is answered with unreachable when asked */
	m = msb_net_build_unreach(out, sizeof(out), &f, 1, NULL, gw_mac);
	CHECK(m == 14 + 20 + 8 + 33);
}

static void test_build_frag(void)
{
	static uint8_t l4[3008], got[3008], out[1600];
	struct msb_net_ip_out h = {.family = 4, .proto = 17, .id = 99};
	memcpy(h.src, far4, 4);
	memcpy(h.dst, guest4, 4);
	for (size_t i = 0; i < sizeof(l4); i++)
		l4[i] = (uint8_t)(i * 7);
	size_t off = 0, frames = 0, total = 0;
	while (off < 3000) {
		size_t n = msb_net_build_ip4_frag(out, sizeof(out), &h, l4,
						  3000, &off, 1500);
		CHECK(n > 0);
		if (!n)
			break;
		struct msb_net_frame f;
		CHECK(msb_net_frame_parse(&f, out, n) == 0);
		CHECK(f.frag && f.ip_id == 99 && ip4_hdr_ok(out + 14));
		CHECK(f.ip_len <= 1500);
		size_t pl = f.ip_len - f.ip_hlen;
		memcpy(got + f.frag_off, f.ip + f.ip_hlen, pl);
		total += pl;
		frames++;
	}
	CHECK(frames == 3 && total == 3000 && !memcmp(got, l4, 3000));
	/* fits: one packet, neither MF nor DF */
	off = 0;
	size_t n = msb_net_build_ip4_frag(out, sizeof(out), &h, l4, 1480, &off,
					  1500);
	CHECK(n == 14 + 1500 && off == 1480);
	CHECK(out[14 + 6] == 0 && out[14 + 7] == 0);
	/* bad arguments */
	off = 0;
	CHECK(msb_net_build_ip4_frag(out, sizeof(out), &h, l4, 100, &off, 67) ==
	      0);
	off = 3;
	CHECK(msb_net_build_ip4_frag(out, sizeof(out), &h, l4, 100, &off,
				     1500) == 0);
	off = 0;
	CHECK(msb_net_build_ip4_frag(out, 100, &h, l4, 1000, &off, 1500) == 0);
	/* build_ip refuses what does not fit */
	CHECK(msb_net_build_ip(out, sizeof(out), &h, l4, 1600) == 0);
	CHECK(msb_net_udp(l4, 10, 4, far4, guest4, 1, 2, "abc", 3) == 0);
}

int main(void)
{
	test_csum();
	test_arp();
	test_ip4_tcp();
	test_ip4_frag();
	test_udp_and_unreach();
	test_ip6();
	test_echo();
	test_build_frag();
	return check_summary("net_frame");
}
