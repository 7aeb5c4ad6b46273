/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Ethernet, ARP, IPv4, IPv6, TCP, UDP, ICMP and ICMPv6 headers: bounded
 * parsing of the frames a guest sends, and builders for the frames
 * msb-netd answers with (TCP resets, ICMP errors, ARP and neighbour
 * replies, UDP datagrams and ICMP messages, IPv4 fragments).
 *
 * Pure: no I/O, no allocation, no clock. Every frame is hostile: the
 * parser reads only inside (buf, len), honours the IP length fields (the
 * rest is Ethernet padding), walks at most MSB_NET_MAX_EXT IPv6 extension
 * headers, and says how far it got rather than guessing. Builders never
 * write past @cap and return 0 when the answer does not fit or must not
 * be sent (no error is ever answered with an error, no reset with a
 * reset). The @out buffer of a builder must not overlap the frame its
 * @in was parsed from.
 */
#ifndef MSB_NET_FRAME_H
#define MSB_NET_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MSB_NET_ETH_HLEN 14
#define MSB_NET_ETH_IP4 0x0800
#define MSB_NET_ETH_ARP 0x0806
#define MSB_NET_ETH_IP6 0x86dd

#define MSB_NET_IPPROTO_ICMP 1
#define MSB_NET_IPPROTO_TCP 6
#define MSB_NET_IPPROTO_UDP 17
#define MSB_NET_IPPROTO_ICMP6 58

#define MSB_NET_TCP_FIN 0x01
#define MSB_NET_TCP_SYN 0x02
#define MSB_NET_TCP_RST 0x04
#define MSB_NET_TCP_PSH 0x08
#define MSB_NET_TCP_ACK 0x10

/* ICMPv4 destination unreachable codes (RFC 792, RFC 1812). */
#define MSB_NET_UNREACH_NET 0
#define MSB_NET_UNREACH_HOST 1
#define MSB_NET_UNREACH_PROTO 2
#define MSB_NET_UNREACH_PORT 3
#define MSB_NET_UNREACH_ADMIN 13
/* ICMPv6 destination unreachable codes (RFC 4443). */
#define MSB_NET_UNREACH6_NOROUTE 0
#define MSB_NET_UNREACH6_ADMIN 1
#define MSB_NET_UNREACH6_ADDR 3
#define MSB_NET_UNREACH6_PORT 4

/* IPv6 extension headers walked before giving up. */
#define MSB_NET_MAX_EXT 8

/* How far msb_net_frame_parse() understood a frame. */
enum msb_net_layer {
	MSB_NET_L2 = 1, /* Ethernet header only (unknown ethertype) */
	MSB_NET_L3,     /* ARP, or an IP header (no transport header) */
	MSB_NET_L4,     /* IP and a complete transport header */
};

/* Why a frame was refused. */
enum msb_net_frame_err {
	MSB_NET_ESHORT = -1, /* shorter than a header says */
	MSB_NET_EBAD = -2,   /* a field is impossible */
};

/*
 * struct msb_net_frame - what the parser found. Pointers point into the
 * parsed buffer and live as long as it. Addresses: IPv4 in the first four
 * bytes of @src/@dst.
 */
struct msb_net_frame {
	enum msb_net_layer layer;
	uint8_t dst_mac[6], src_mac[6];
	uint16_t ethertype;

	/* ARP (Ethernet/IPv4 only) */
	uint16_t arp_op;
	uint8_t arp_sha[6], arp_spa[4], arp_tha[6], arp_tpa[4];

	/* IP: @ip points at the IP header, @ip_len bytes (the IP total
	 * length, without Ethernet padding), @ip_hlen of them header
	 * (IPv6: with the extension headers walked) */
	uint8_t family; /* 4 or 6; 0 if not IP */
	const uint8_t *ip;
	size_t ip_len, ip_hlen;
	uint8_t src[16], dst[16];
	uint8_t proto; /* transport protocol (after IPv6 extensions) */
	uint8_t ttl;
	uint32_t ip_id;    /* IPv4 id, IPv6 fragment id */
	bool frag;         /* part of a fragmented datagram */
	uint32_t frag_off; /* its offset in bytes */

	/* transport (layer == MSB_NET_L4): @l4 points at its header */
	const uint8_t *l4;
	size_t l4_len; /* header + payload in this packet */
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t tcp_flags;
	uint16_t tcp_win;
	uint8_t icmp_type, icmp_code;
	uint16_t icmp_id, icmp_seq; /* echo request / reply */
	const uint8_t *ns_target;   /* ICMPv6 neighbour solicitation */
	const uint8_t *payload;     /* after the transport header */
	size_t payload_len;
};

/*
 * msb_net_frame_parse() - parse the Ethernet frame of @len bytes at @buf
 * into @f (zeroed first). Unknown ethertypes and IP protocols are not
 * errors: @f->layer says what was understood. A non-first fragment stops
 * at MSB_NET_L3; a first fragment's transport header is parsed when
 * complete (its payload is then partial: @f->frag is set).
 * Return: 0, or a negative enum msb_net_frame_err.
 */
int msb_net_frame_parse(struct msb_net_frame *f, const uint8_t *buf,
			size_t len);

/* The Internet checksum: add @n bytes at @p to the running sum @sum. */
uint32_t msb_net_csum_add(uint32_t sum, const void *p, size_t n);
/* Fold a running sum into the 16-bit one's complement checksum. */
uint16_t msb_net_csum_fold(uint32_t sum);
/*
 * msb_net_l4_csum() - the checksum of the transport segment @l4 (@len
 * bytes, its checksum field zero or included) with the IPv4 or IPv6
 * pseudo-header of @family, @src, @dst and @proto. 0 means valid when the
 * segment carries its checksum.
 */
uint16_t msb_net_l4_csum(uint8_t family, const uint8_t *src, const uint8_t *dst,
			 uint8_t proto, const uint8_t *l4, size_t len);

/* The header of an IP packet to build. */
struct msb_net_ip_out {
	uint8_t family; /* 4 or 6 */
	uint8_t src_mac[6], dst_mac[6];
	uint8_t src[16], dst[16];
	uint8_t proto;
	uint8_t ttl; /* hop limit for IPv6; 0 means 64 */
	uint16_t id; /* IPv4 id */
};

/*
 * msb_net_build_ip() - an Ethernet frame carrying one unfragmented IP
 * packet with @h and the transport segment @l4 (@l4_len bytes, checksum
 * already set). IPv4 packets get DF.
 * Return: the frame's length, or 0 if it does not fit in @cap or in an
 * IP packet.
 */
size_t msb_net_build_ip(uint8_t *out, size_t cap,
			const struct msb_net_ip_out *h, const uint8_t *l4,
			size_t l4_len);

/*
 * msb_net_build_ip4_frag() - the next IPv4 fragment of the datagram @l4
 * (@l4_len bytes, at most 65515), starting at *@off, for a link of @mtu
 * (IP packet bytes, at least 68). Advances *@off; the caller loops while
 * *@off < @l4_len. A datagram that fits is one unfragmented packet
 * without DF.
 * Return: the frame's length, or 0 on a bad argument or a small @cap.
 */
size_t msb_net_build_ip4_frag(uint8_t *out, size_t cap,
			      const struct msb_net_ip_out *h, const uint8_t *l4,
			      size_t l4_len, size_t *off, size_t mtu);

/*
 * msb_net_udp() - a UDP segment (header, then @n bytes of @payload) into
 * @l4 with its checksum for the pseudo-header of @family, @src, @dst.
 * Return: its length, or 0 if it does not fit in @cap or in 65535.
 */
size_t msb_net_udp(uint8_t *l4, size_t cap, uint8_t family, const uint8_t *src,
		   const uint8_t *dst, uint16_t sport, uint16_t dport,
		   const void *payload, size_t n);

/*
 * msb_net_icmp_echo() - an ICMPv4 echo message (@type 0 reply or 8
 * request) with @id, @seq and @n bytes of @data, checksummed.
 * Return: its length, or 0 if it does not fit in @cap.
 */
size_t msb_net_icmp_echo(uint8_t *l4, size_t cap, uint8_t type, uint16_t id,
			 uint16_t seq, const void *data, size_t n);

/*
 * msb_net_build_tcp_rst() - the reset that answers the TCP segment @in
 * (layer MSB_NET_L4, IPv4 or IPv6), from its destination to its source,
 * RFC 793 style: seq = its ack if it has one, else ack its sequence
 * space. @mac is the sender's Ethernet address.
 * Return: the frame's length, or 0 if @in is a reset itself, not TCP, or
 * @cap is small.
 */
size_t msb_net_build_tcp_rst(uint8_t *out, size_t cap,
			     const struct msb_net_frame *in,
			     const uint8_t mac[6]);

/*
 * msb_net_build_unreach() - an ICMP (IPv4) or ICMPv6 destination
 * unreachable with @code about the packet @in, quoting as much of it as
 * RFC 1812 / RFC 4443 allow (576 / 1280 bytes in all). The message comes
 * from @src (4 or 16 bytes of @in's family; NULL: @in's destination) and
 * @mac.
 * Return: the frame's length, or 0 if @in is not IP, is an ICMP error,
 * a non-first fragment, comes from an unspecified or multicast address,
 * or @cap is small.
 */
size_t msb_net_build_unreach(uint8_t *out, size_t cap,
			     const struct msb_net_frame *in, uint8_t code,
			     const uint8_t *src, const uint8_t mac[6]);

/*
 * msb_net_build_arp_reply() - the reply "@in's target is at @mac" to the
 * ARP request @in.
 * Return: the frame's length, or 0 if @in is not an ARP request.
 */
size_t msb_net_build_arp_reply(uint8_t *out, size_t cap,
			       const struct msb_net_frame *in,
			       const uint8_t mac[6]);

/*
 * msb_net_build_na() - the solicited neighbour advertisement "@in's
 * target is at @mac" (router flag set) answering the neighbour
 * solicitation @in.
 * Return: the frame's length, or 0 if @in is not a neighbour
 * solicitation or is a duplicate address detection probe (from ::).
 */
size_t msb_net_build_na(uint8_t *out, size_t cap,
			const struct msb_net_frame *in, const uint8_t mac[6]);

/*
 * msb_net_build_echo_reply() - the ICMPv4 echo reply to the echo request
 * @in, from its destination, with its identifier, sequence and data.
 * Return: the frame's length, or 0 if @in is not a complete echo request.
 */
size_t msb_net_build_echo_reply(uint8_t *out, size_t cap,
				const struct msb_net_frame *in,
				const uint8_t mac[6]);

#endif
