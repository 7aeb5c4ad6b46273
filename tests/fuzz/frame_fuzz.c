// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer harness for src/net/frame.c: parse the input as a frame, then
 * run every builder on what was parsed, into a buffer exactly as big as
 * the input says, and check that each answer parses back as what it
 * claims to be, with valid checksums. Also fragments the input as a UDP
 * payload and reassembles it. Any mismatch aborts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(what)                                                             \
	do {                                                                   \
		fprintf(stderr, "frame_fuzz: %s (%s:%d)\n", what, __FILE__,    \
			__LINE__);                                             \
		abort();                                                       \
	} while (0)

static const uint8_t mac[6] = {2, 0, 0, 0, 0, 1};

/* @out (@n bytes) must parse as IP to L4 with a valid transport
 * checksum. */
static void check_l4(const uint8_t *out, size_t n, uint8_t proto)
{
	struct msb_net_frame f;
	if (msb_net_frame_parse(&f, out, n) != 0 || f.layer != MSB_NET_L4)
		FAIL("answer does not parse");
	if (f.proto != proto)
		FAIL("answer protocol");
	if (msb_net_csum_fold(msb_net_csum_add(0, f.ip, f.ip_hlen)) != 0 &&
	    f.family == 4)
		FAIL("IPv4 header checksum");
	uint16_t c =
		f.proto == MSB_NET_IPPROTO_ICMP
			? msb_net_csum_fold(msb_net_csum_add(0, f.l4, f.l4_len))
			: msb_net_l4_csum(f.family, f.src, f.dst, f.proto, f.l4,
					  f.l4_len);
	if (c != 0)
		FAIL("transport checksum");
	if (memcmp(f.src_mac, mac, 6))
		FAIL("source MAC");
}

static void builders(const struct msb_net_frame *in, size_t cap)
{
	uint8_t *out = malloc(cap ? cap : 1);
	size_t n;
	if (!out)
		return;
	n = msb_net_build_tcp_rst(out, cap, in, mac);
	if (n > cap)
		FAIL("rst past cap");
	if (n)
		check_l4(out, n, MSB_NET_IPPROTO_TCP);
	n = msb_net_build_unreach(out, cap, in, 3, NULL, mac);
	if (n > cap)
		FAIL("unreach past cap");
	if (n)
		check_l4(out, n,
			 in->family == 4 ? MSB_NET_IPPROTO_ICMP
					 : MSB_NET_IPPROTO_ICMP6);
	n = msb_net_build_arp_reply(out, cap, in, mac);
	if (n > cap)
		FAIL("arp past cap");
	n = msb_net_build_na(out, cap, in, mac);
	if (n > cap)
		FAIL("na past cap");
	if (n)
		check_l4(out, n, MSB_NET_IPPROTO_ICMP6);
	n = msb_net_build_echo_reply(out, cap, in, mac);
	if (n > cap)
		FAIL("echo past cap");
	if (n)
		check_l4(out, n, MSB_NET_IPPROTO_ICMP);
	free(out);
}

static void fragments(const uint8_t *data, size_t size)
{
	static uint8_t l4[65536], got[65536], out[2048];
	struct msb_net_ip_out h = {.family = 4, .proto = 17, .id = 1};
	size_t mtu = 68 + (size ? data[0] * 6 : 0);
	h.src[0] = 1;
	h.dst[0] = 2;
	size_t t =
		msb_net_udp(l4, sizeof(l4), 4, h.src, h.dst, 1, 2, data, size);
	if (!t)
		return;
	size_t off = 0, seen = 0;
	while (off < t) {
		size_t n = msb_net_build_ip4_frag(out, sizeof(out), &h, l4, t,
						  &off, mtu);
		if (!n)
			FAIL("fragment");
		struct msb_net_frame f;
		if (msb_net_frame_parse(&f, out, n) != 0)
			FAIL("fragment does not parse");
		if (f.ip_len > mtu)
			FAIL("fragment above the MTU");
		size_t pl = f.ip_len - f.ip_hlen;
		if (f.frag_off + pl > t)
			FAIL("fragment past the datagram");
		memcpy(got + f.frag_off, f.ip + f.ip_hlen, pl);
		seen += pl;
	}
	if (seen != t || memcmp(got, l4, t))
		FAIL("reassembly");
	if (msb_net_l4_csum(4, h.src, h.dst, 17, got, t) != 0)
		FAIL("UDP checksum");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msb_net_frame f;
	/* a copy exactly as long as the input: reads past it are caught */
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	int rc = msb_net_frame_parse(&f, buf, size);
	if (rc == 0) {
		if (f.ip && (f.ip < buf || f.ip + f.ip_len > buf + size))
			FAIL("IP packet outside the frame");
		if (f.l4 && (f.l4 < f.ip || f.l4 + f.l4_len > f.ip + f.ip_len))
			FAIL("transport outside the IP packet");
		if (f.payload && f.payload + f.payload_len > f.l4 + f.l4_len)
			FAIL("payload outside the segment");
		size_t cap = size ? (size_t)data[size - 1] * 8 : 0;
		builders(&f, cap);
		builders(&f, 2048);
	} else if (rc != MSB_NET_ESHORT && rc != MSB_NET_EBAD) {
		FAIL("unknown error");
	}
	free(buf);
	if (size <= 4096)
		fragments(data, size);
	return 0;
}
