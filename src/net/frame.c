// SPDX-License-Identifier: Apache-2.0
/* Bounded parsing and building of Ethernet/ARP/IP/TCP/UDP/ICMP frames. */
#include <string.h>

#include "net/frame.h"

#define IP4_HLEN 20
#define IP6_HLEN 40
#define TCP_HLEN 20
#define UDP_HLEN 8
#define ICMP_HLEN 8
/* RFC 1812 4.3.2.3: an ICMP error is at most 576 bytes; RFC 4443 2.4(c):
 * an ICMPv6 error at most the minimum IPv6 MTU. */
#define ICMP4_ERR_MAX 576
#define ICMP6_ERR_MAX 1280

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static size_t addr_len(uint8_t family)
{
	return family == 4 ? 4 : 16;
}

static bool addr_is_zero(uint8_t family, const uint8_t *a)
{
	for (size_t i = 0; i < addr_len(family); i++)
		if (a[i])
			return false;
	return true;
}

/* Multicast, limited broadcast: never the source of, nor answered by, a
 * unicast reply. */
static bool addr_is_group(uint8_t family, const uint8_t *a)
{
	if (family == 4)
		return (a[0] & 0xf0) == 0xe0 || (a[0] == 255 && a[1] == 255 &&
						 a[2] == 255 && a[3] == 255);
	return a[0] == 0xff;
}

static bool addr_is_unicast(uint8_t family, const uint8_t *a)
{
	return !addr_is_zero(family, a) && !addr_is_group(family, a);
}

/* The transport header at @p (@n bytes of this packet). */
static int parse_l4(struct msb_net_frame *f, const uint8_t *p, size_t n)
{
	/* a first fragment too short for the header stays at L3 */
	int short_err = f->frag ? 0 : MSB_NET_ESHORT;
	size_t hl;

	switch (f->proto) {
	case MSB_NET_IPPROTO_TCP:
		if (n < TCP_HLEN)
			return short_err;
		hl = (size_t)(p[12] >> 4) * 4;
		if (hl < TCP_HLEN)
			return MSB_NET_EBAD;
		if (hl > n)
			return short_err;
		f->sport = be16(p);
		f->dport = be16(p + 2);
		f->seq = be32(p + 4);
		f->ack = be32(p + 8);
		f->tcp_flags = p[13];
		f->tcp_win = be16(p + 14);
		break;
	case MSB_NET_IPPROTO_UDP: {
		if (n < UDP_HLEN)
			return short_err;
		size_t ulen = be16(p + 4);
		if (ulen < UDP_HLEN)
			return MSB_NET_EBAD;
		if (!f->frag) {
			if (ulen > n)
				return MSB_NET_ESHORT;
			n = ulen;
		}
		f->sport = be16(p);
		f->dport = be16(p + 2);
		hl = UDP_HLEN;
		break;
	}
	case MSB_NET_IPPROTO_ICMP:
	case MSB_NET_IPPROTO_ICMP6: {
		bool v6 = f->proto == MSB_NET_IPPROTO_ICMP6;
		if (v6 != (f->family == 6))
			return 0; /* ICMP in IPv6 or ICMPv6 in IPv4: unknown */
		if (n < ICMP_HLEN)
			return short_err;
		f->icmp_type = p[0];
		f->icmp_code = p[1];
		if ((!v6 && (p[0] == 8 || p[0] == 0)) ||
		    (v6 && (p[0] == 128 || p[0] == 129))) {
			f->icmp_id = be16(p + 4);
			f->icmp_seq = be16(p + 6);
		}
		if (v6 && p[0] == 135) {
			if (n < ICMP_HLEN + 16)
				return short_err;
			f->ns_target = p + 8;
		}
		hl = ICMP_HLEN;
		break;
	}
	default:
		return 0;
	}
	f->l4 = p;
	f->l4_len = n;
	f->payload = p + hl;
	f->payload_len = n - hl;
	f->layer = MSB_NET_L4;
	return 0;
}

static int parse_ip4(struct msb_net_frame *f, const uint8_t *p, size_t n)
{
	if (n < IP4_HLEN)
		return MSB_NET_ESHORT;
	if (p[0] >> 4 != 4)
		return MSB_NET_EBAD;
	size_t hl = (size_t)(p[0] & 15) * 4;
	size_t total = be16(p + 2);
	if (hl < IP4_HLEN || total < hl)
		return MSB_NET_EBAD;
	if (total > n)
		return MSB_NET_ESHORT;
	uint16_t fl = be16(p + 6);
	f->family = 4;
	f->ip = p;
	f->ip_len = total;
	f->ip_hlen = hl;
	f->ttl = p[8];
	f->proto = p[9];
	f->ip_id = be16(p + 4);
	memcpy(f->src, p + 12, 4);
	memcpy(f->dst, p + 16, 4);
	f->frag_off = (uint32_t)(fl & 0x1fff) * 8;
	f->frag = (fl & 0x2000) || f->frag_off;
	f->layer = MSB_NET_L3;
	if (f->frag_off)
		return 0;
	return parse_l4(f, p + hl, total - hl);
}

static int parse_ip6(struct msb_net_frame *f, const uint8_t *p, size_t n)
{
	if (n < IP6_HLEN)
		return MSB_NET_ESHORT;
	if (p[0] >> 4 != 6)
		return MSB_NET_EBAD;
	size_t total = IP6_HLEN + (size_t)be16(p + 4);
	if (total > n)
		return MSB_NET_ESHORT;
	f->family = 6;
	f->ip = p;
	f->ip_len = total;
	f->ttl = p[7];
	memcpy(f->src, p + 8, 16);
	memcpy(f->dst, p + 24, 16);

	uint8_t nh = p[6];
	size_t off = IP6_HLEN;
	for (unsigned i = 0;; i++) {
		size_t hl;
		bool ext =
			nh == 0 || nh == 43 || nh == 60 || nh == 44 || nh == 51;
		if (!ext)
			break;
		if (i >= MSB_NET_MAX_EXT)
			return MSB_NET_EBAD;
		if (total - off < 8)
			return MSB_NET_ESHORT;
		if (nh == 44)
			hl = 8;
		else if (nh == 51) /* AH counts 4-byte words, minus 2 */
			hl = ((size_t)p[off + 1] + 2) * 4;
		else
			hl = ((size_t)p[off + 1] + 1) * 8;
		if (hl > total - off)
			return MSB_NET_ESHORT;
		if (nh == 44) {
			uint16_t fo = be16(p + off + 2);
			f->frag_off = fo & 0xfff8;
			f->frag = (fo & 1) || f->frag_off;
			f->ip_id = be32(p + off + 4);
		}
		nh = p[off];
		off += hl;
	}
	f->proto = nh;
	f->ip_hlen = off;
	f->layer = MSB_NET_L3;
	if (f->frag_off)
		return 0;
	return parse_l4(f, p + off, total - off);
}

int msb_net_frame_parse(struct msb_net_frame *f, const uint8_t *buf, size_t len)
{
	memset(f, 0, sizeof(*f));
	if (!buf || len < MSB_NET_ETH_HLEN)
		return MSB_NET_ESHORT;
	memcpy(f->dst_mac, buf, 6);
	memcpy(f->src_mac, buf + 6, 6);
	f->ethertype = be16(buf + 12);
	f->layer = MSB_NET_L2;
	const uint8_t *p = buf + MSB_NET_ETH_HLEN;
	size_t n = len - MSB_NET_ETH_HLEN;

	switch (f->ethertype) {
	case MSB_NET_ETH_ARP:
		if (n < 28)
			return MSB_NET_ESHORT;
		if (be16(p) != 1 || be16(p + 2) != MSB_NET_ETH_IP4 ||
		    p[4] != 6 || p[5] != 4)
			return MSB_NET_EBAD;
		f->arp_op = be16(p + 6);
		memcpy(f->arp_sha, p + 8, 6);
		memcpy(f->arp_spa, p + 14, 4);
		memcpy(f->arp_tha, p + 18, 6);
		memcpy(f->arp_tpa, p + 24, 4);
		f->layer = MSB_NET_L3;
		return 0;
	case MSB_NET_ETH_IP4:
		return parse_ip4(f, p, n);
	case MSB_NET_ETH_IP6:
		return parse_ip6(f, p, n);
	default:
		return 0;
	}
}

uint32_t msb_net_csum_add(uint32_t sum, const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t s = sum;

	while (n > 1) {
		s += (uint32_t)(b[0] << 8 | b[1]);
		b += 2;
		n -= 2;
	}
	if (n)
		s += (uint32_t)b[0] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint32_t)s;
}

uint16_t msb_net_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

uint16_t msb_net_l4_csum(uint8_t family, const uint8_t *src, const uint8_t *dst,
			 uint8_t proto, const uint8_t *l4, size_t len)
{
	uint8_t ph[12];
	uint32_t s;

	if (family == 4) {
		s = msb_net_csum_add(0, src, 4);
		s = msb_net_csum_add(s, dst, 4);
		ph[0] = 0;
		ph[1] = proto;
		put16(ph + 2, (uint16_t)len);
		s = msb_net_csum_add(s, ph, 4);
	} else {
		s = msb_net_csum_add(0, src, 16);
		s = msb_net_csum_add(s, dst, 16);
		put32(ph, (uint32_t)len);
		ph[4] = ph[5] = ph[6] = 0;
		ph[7] = proto;
		s = msb_net_csum_add(s, ph, 8);
	}
	return msb_net_csum_fold(msb_net_csum_add(s, l4, len));
}

static void put_eth(uint8_t *out, const struct msb_net_ip_out *h, uint16_t type)
{
	memcpy(out, h->dst_mac, 6);
	memcpy(out + 6, h->src_mac, 6);
	put16(out + 12, type);
}

static void put_ip4(uint8_t *ip, const struct msb_net_ip_out *h, size_t total,
		    uint16_t frag)
{
	ip[0] = 0x45;
	ip[1] = 0;
	put16(ip + 2, (uint16_t)total);
	put16(ip + 4, h->id);
	put16(ip + 6, frag);
	ip[8] = h->ttl ? h->ttl : 64;
	ip[9] = h->proto;
	ip[10] = ip[11] = 0;
	memcpy(ip + 12, h->src, 4);
	memcpy(ip + 16, h->dst, 4);
	put16(ip + 10, msb_net_csum_fold(msb_net_csum_add(0, ip, IP4_HLEN)));
}

size_t msb_net_build_ip(uint8_t *out, size_t cap,
			const struct msb_net_ip_out *h, const uint8_t *l4,
			size_t l4_len)
{
	if (!out || !h || (h->family != 4 && h->family != 6))
		return 0;
	size_t hl = h->family == 4 ? IP4_HLEN : IP6_HLEN;
	size_t max = h->family == 4 ? 65535 - IP4_HLEN : 65535;
	if (l4_len > max || cap < MSB_NET_ETH_HLEN + hl ||
	    l4_len > cap - MSB_NET_ETH_HLEN - hl)
		return 0;
	uint8_t *ip = out + MSB_NET_ETH_HLEN;
	if (l4_len)
		memmove(ip + hl, l4, l4_len);
	if (h->family == 4) {
		put_eth(out, h, MSB_NET_ETH_IP4);
		put_ip4(ip, h, hl + l4_len, 0x4000);
	} else {
		put_eth(out, h, MSB_NET_ETH_IP6);
		put32(ip, 0x60000000u);
		put16(ip + 4, (uint16_t)l4_len);
		ip[6] = h->proto;
		ip[7] = h->ttl ? h->ttl : 64;
		memcpy(ip + 8, h->src, 16);
		memcpy(ip + 24, h->dst, 16);
	}
	return MSB_NET_ETH_HLEN + hl + l4_len;
}

size_t msb_net_build_ip4_frag(uint8_t *out, size_t cap,
			      const struct msb_net_ip_out *h, const uint8_t *l4,
			      size_t l4_len, size_t *off, size_t mtu)
{
	if (!out || !h || !off || h->family != 4 || mtu < 68 ||
	    l4_len > 65535 - IP4_HLEN || *off >= l4_len || *off % 8)
		return 0;
	size_t chunk = l4_len - *off, room = (mtu - IP4_HLEN) / 8 * 8;
	uint16_t flags = (uint16_t)(*off / 8);
	if (*off == 0 && chunk <= mtu - IP4_HLEN) {
		flags = 0; /* whole: no DF (the path is ours), no MF */
	} else if (chunk > room) {
		chunk = room;
		flags |= 0x2000;
	}
	if (cap < MSB_NET_ETH_HLEN + IP4_HLEN ||
	    chunk > cap - MSB_NET_ETH_HLEN - IP4_HLEN)
		return 0;
	uint8_t *ip = out + MSB_NET_ETH_HLEN;
	memmove(ip + IP4_HLEN, l4 + *off, chunk);
	put_eth(out, h, MSB_NET_ETH_IP4);
	put_ip4(ip, h, IP4_HLEN + chunk, flags);
	*off += chunk;
	return MSB_NET_ETH_HLEN + IP4_HLEN + chunk;
}

size_t msb_net_udp(uint8_t *l4, size_t cap, uint8_t family, const uint8_t *src,
		   const uint8_t *dst, uint16_t sport, uint16_t dport,
		   const void *payload, size_t n)
{
	if (!l4 || n > 65535 - UDP_HLEN || cap < UDP_HLEN || n > cap - UDP_HLEN)
		return 0;
	if (n)
		memmove(l4 + UDP_HLEN, payload, n);
	put16(l4, sport);
	put16(l4 + 2, dport);
	put16(l4 + 4, (uint16_t)(UDP_HLEN + n));
	put16(l4 + 6, 0);
	uint16_t c = msb_net_l4_csum(family, src, dst, MSB_NET_IPPROTO_UDP, l4,
				     UDP_HLEN + n);
	put16(l4 + 6, c ? c : 0xffff);
	return UDP_HLEN + n;
}

size_t msb_net_icmp_echo(uint8_t *l4, size_t cap, uint8_t type, uint16_t id,
			 uint16_t seq, const void *data, size_t n)
{
	if (!l4 || cap < ICMP_HLEN || n > cap - ICMP_HLEN)
		return 0;
	if (n)
		memmove(l4 + ICMP_HLEN, data, n);
	l4[0] = type;
	l4[1] = 0;
	put16(l4 + 2, 0);
	put16(l4 + 4, id);
	put16(l4 + 6, seq);
	put16(l4 + 2,
	      msb_net_csum_fold(msb_net_csum_add(0, l4, ICMP_HLEN + n)));
	return ICMP_HLEN + n;
}

/* The header of a reply to @in: from its destination to its source. */
static void reply_hdr(struct msb_net_ip_out *h, const struct msb_net_frame *in,
		      const uint8_t mac[6], uint8_t proto)
{
	memset(h, 0, sizeof(*h));
	h->family = in->family;
	memcpy(h->src_mac, mac, 6);
	memcpy(h->dst_mac, in->src_mac, 6);
	memcpy(h->src, in->dst, 16);
	memcpy(h->dst, in->src, 16);
	h->proto = proto;
}

/* Room for the transport segment of a reply in @out, or 0. */
static size_t l4_room(size_t cap, uint8_t family)
{
	size_t hl = MSB_NET_ETH_HLEN + (family == 4 ? IP4_HLEN : IP6_HLEN);
	return cap > hl ? cap - hl : 0;
}

size_t msb_net_build_tcp_rst(uint8_t *out, size_t cap,
			     const struct msb_net_frame *in,
			     const uint8_t mac[6])
{
	if (!out || !in || in->layer != MSB_NET_L4 ||
	    in->proto != MSB_NET_IPPROTO_TCP ||
	    (in->tcp_flags & MSB_NET_TCP_RST) || in->frag ||
	    !addr_is_unicast(in->family, in->src) ||
	    !addr_is_unicast(in->family, in->dst))
		return 0;
	if (l4_room(cap, in->family) < TCP_HLEN)
		return 0;
	struct msb_net_ip_out h;
	reply_hdr(&h, in, mac, MSB_NET_IPPROTO_TCP);
	uint8_t *t = out + cap - l4_room(cap, in->family);
	memset(t, 0, TCP_HLEN);
	put16(t, in->dport);
	put16(t + 2, in->sport);
	if (in->tcp_flags & MSB_NET_TCP_ACK) {
		put32(t + 4, in->ack);
		t[13] = MSB_NET_TCP_RST;
	} else {
		uint32_t span = (uint32_t)in->payload_len;
		span += !!(in->tcp_flags & MSB_NET_TCP_SYN);
		span += !!(in->tcp_flags & MSB_NET_TCP_FIN);
		put32(t + 8, in->seq + span);
		t[13] = MSB_NET_TCP_RST | MSB_NET_TCP_ACK;
	}
	t[12] = 5 << 4;
	put16(t + 16, msb_net_l4_csum(h.family, h.src, h.dst,
				      MSB_NET_IPPROTO_TCP, t, TCP_HLEN));
	return msb_net_build_ip(out, cap, &h, t, TCP_HLEN);
}

/* Whether @in is an ICMP error or neighbour discovery (never answered
 * with an error), or cannot be told apart from one. */
static bool is_icmp_error(const struct msb_net_frame *in)
{
	if (in->family == 4 && in->proto == MSB_NET_IPPROTO_ICMP)
		return in->layer != MSB_NET_L4 || in->icmp_type == 3 ||
		       in->icmp_type == 4 || in->icmp_type == 5 ||
		       in->icmp_type == 11 || in->icmp_type == 12;
	if (in->family == 6 && in->proto == MSB_NET_IPPROTO_ICMP6)
		return in->layer != MSB_NET_L4 || in->icmp_type < 128 ||
		       (in->icmp_type >= 133 && in->icmp_type <= 137);
	return false;
}

size_t msb_net_build_unreach(uint8_t *out, size_t cap,
			     const struct msb_net_frame *in, uint8_t code,
			     const uint8_t *src, const uint8_t mac[6])
{
	if (!out || !in || (in->family != 4 && in->family != 6) || !in->ip ||
	    in->frag_off || !addr_is_unicast(in->family, in->src) ||
	    addr_is_group(in->family, in->dst) || is_icmp_error(in))
		return 0;
	bool v4 = in->family == 4;
	size_t max = v4 ? ICMP4_ERR_MAX - IP4_HLEN - ICMP_HLEN
			: ICMP6_ERR_MAX - IP6_HLEN - ICMP_HLEN;
	size_t q = in->ip_len < max ? in->ip_len : max;
	size_t room = l4_room(cap, in->family);
	if (room < ICMP_HLEN + q)
		return 0;
	struct msb_net_ip_out h;
	reply_hdr(&h, in, mac,
		  v4 ? MSB_NET_IPPROTO_ICMP : MSB_NET_IPPROTO_ICMP6);
	if (src)
		memcpy(h.src, src, addr_len(in->family));
	uint8_t *m = out + cap - room;
	memset(m, 0, ICMP_HLEN);
	m[0] = v4 ? 3 : 1;
	m[1] = code;
	memmove(m + ICMP_HLEN, in->ip, q);
	uint16_t c =
		v4 ? msb_net_csum_fold(msb_net_csum_add(0, m, ICMP_HLEN + q))
		   : msb_net_l4_csum(6, h.src, h.dst, MSB_NET_IPPROTO_ICMP6, m,
				     ICMP_HLEN + q);
	put16(m + 2, c);
	return msb_net_build_ip(out, cap, &h, m, ICMP_HLEN + q);
}

size_t msb_net_build_arp_reply(uint8_t *out, size_t cap,
			       const struct msb_net_frame *in,
			       const uint8_t mac[6])
{
	if (!out || !in || in->ethertype != MSB_NET_ETH_ARP ||
	    in->layer < MSB_NET_L3 || in->arp_op != 1 ||
	    cap < MSB_NET_ETH_HLEN + 28)
		return 0;
	memcpy(out, in->src_mac, 6);
	memcpy(out + 6, mac, 6);
	put16(out + 12, MSB_NET_ETH_ARP);
	uint8_t *a = out + MSB_NET_ETH_HLEN;
	put16(a, 1);
	put16(a + 2, MSB_NET_ETH_IP4);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, 2);
	memcpy(a + 8, mac, 6);
	memcpy(a + 14, in->arp_tpa, 4);
	memcpy(a + 18, in->arp_sha, 6);
	memcpy(a + 24, in->arp_spa, 4);
	return MSB_NET_ETH_HLEN + 28;
}

size_t msb_net_build_na(uint8_t *out, size_t cap,
			const struct msb_net_frame *in, const uint8_t mac[6])
{
	if (!out || !in || in->family != 6 || in->layer != MSB_NET_L4 ||
	    in->proto != MSB_NET_IPPROTO_ICMP6 || in->icmp_type != 135 ||
	    in->icmp_code != 0 || !in->ns_target ||
	    !addr_is_unicast(6, in->src) || addr_is_group(6, in->ns_target))
		return 0;
	size_t room = l4_room(cap, 6);
	if (room < 32)
		return 0;
	struct msb_net_ip_out h;
	reply_hdr(&h, in, mac, MSB_NET_IPPROTO_ICMP6);
	memcpy(h.src, in->ns_target, 16);
	h.ttl = 255; /* RFC 4861 7.1.2: receivers check it */
	uint8_t *m = out + cap - room;
	memset(m, 0, 32);
	m[0] = 136;
	m[4] = 0xe0; /* router, solicited, override */
	memcpy(m + 8, in->ns_target, 16);
	m[24] = 2; /* target link-layer address option, 8 bytes */
	m[25] = 1;
	memcpy(m + 26, mac, 6);
	put16(m + 2,
	      msb_net_l4_csum(6, h.src, h.dst, MSB_NET_IPPROTO_ICMP6, m, 32));
	return msb_net_build_ip(out, cap, &h, m, 32);
}

size_t msb_net_build_echo_reply(uint8_t *out, size_t cap,
				const struct msb_net_frame *in,
				const uint8_t mac[6])
{
	if (!out || !in || in->family != 4 || in->layer != MSB_NET_L4 ||
	    in->proto != MSB_NET_IPPROTO_ICMP || in->icmp_type != 8 ||
	    in->icmp_code != 0 || in->frag || !addr_is_unicast(4, in->src) ||
	    !addr_is_unicast(4, in->dst))
		return 0;
	size_t room = l4_room(cap, 4);
	struct msb_net_ip_out h;
	reply_hdr(&h, in, mac, MSB_NET_IPPROTO_ICMP);
	uint8_t *m = out + cap - room;
	size_t n = msb_net_icmp_echo(m, room, 0, in->icmp_id, in->icmp_seq,
				     in->payload, in->payload_len);
	if (!n)
		return 0;
	return msb_net_build_ip(out, cap, &h, m, n);
}
