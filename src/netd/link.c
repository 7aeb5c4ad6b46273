// SPDX-License-Identifier: Apache-2.0
/*
 * The guest link: Ethernet frames in and out of the link descriptor, the
 * lwIP network interface, and the first look at every frame.
 *
 * Every frame is parsed by src/net/frame.c before anything else sees it.
 * ARP and IPv6 are answered here (lwIP never sees them); IPv4 must come
 * from the guest's address and go to a unicast destination. TCP goes to
 * tcp.c, which hands lwIP what it accepts; unfragmented UDP and ICMP go
 * straight to udp.c; fragments go through lwIP for reassembly, and raw
 * lwIP PCBs give the whole datagrams back to udp.c.
 *
 * lwIP owns one interface whose address follows each packet's
 * destination while the packet is input (the catch-all trick: the
 * address is written directly, never with netif_set_ipaddr(), which would
 * abort every PCB bound to the old one), so it accepts connections to
 * any address; the pcbs keep the real destination as their local
 * address. Its output is wrapped in an Ethernet header to the guest's
 * MAC here: no ARP inside lwIP.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "lwip/init.h"
#include "lwip/ip.h"
#include "lwip/ip4.h"
#include "lwip/pbuf.h"
#include "lwip/raw.h"
#include "netd/netd.h"

struct txq_ent {
	struct txq_ent *next;
	size_t len;
	uint8_t frame[];
};

/* Link reads: a batch of frames per system call (recvmmsg), each buffer
 * one byte longer than the largest frame, so that a longer one shows as
 * truncated. */
#define LINK_BATCH 16
static uint8_t rxbuf[LINK_BATCH][NETD_FRAME_MAX + 1];
static struct mmsghdr rxmsg[LINK_BATCH];
static struct iovec rxiov[LINK_BATCH];
/* the link is not a socket (a TAP device): one read() per frame */
static bool link_not_socket;
/* reassembled datagrams from lwIP, behind a made-up Ethernet header */
static uint8_t reasm[MSB_NET_ETH_HLEN + 65535];

static bool mac_is_group(const uint8_t *m)
{
	return m[0] & 1;
}

static void ip4_addr_put(ip4_addr_t *a, const uint8_t b[4])
{
	memcpy(&a->addr, b, 4);
}

static void txq_push(struct netd *nd, const uint8_t *frame, size_t len)
{
	if (nd->txq_bytes + len > nd->cfg.caps.link_queue) {
		nd->st.tx_dropped++;
		return;
	}
	struct txq_ent *e = malloc(sizeof(*e) + len);
	if (!e) {
		nd->st.tx_dropped++;
		return;
	}
	e->next = NULL;
	e->len = len;
	memcpy(e->frame, frame, len);
	if (nd->txq_tail)
		nd->txq_tail->next = e;
	else
		nd->txq_head = e;
	nd->txq_tail = e;
	nd->txq_bytes += len;
	if (!nd->link_out) {
		struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT,
					 .data.ptr = &nd->link_ev};
		epoll_ctl(nd->epfd, EPOLL_CTL_MOD, nd->linkfd, &ev);
		nd->link_out = true;
	}
}

/* Write one frame. Return: 1 written, 0 would block, -1 dropped. */
static int link_write(struct netd *nd, const uint8_t *frame, size_t len)
{
	for (;;) {
		ssize_t n = write(nd->linkfd, frame, len);
		if (n >= 0) {
			nd->st.tx_frames++;
			nd->st.tx_bytes += len;
			nd->stats_dirty = true;
			return 1;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
			return 0;
		if (errno == ECONNREFUSED || errno == ENOTCONN ||
		    errno == EPIPE) {
			if (!nd->quit)
				netd_log(nd,
					 "the link's peer is gone: exiting");
			nd->quit = true;
		}
		nd->st.tx_dropped++;
		return -1;
	}
}

void link_send(struct netd *nd, const uint8_t *frame, size_t len)
{
	if (nd->txq_head || link_write(nd, frame, len) == 0)
		txq_push(nd, frame, len);
}

void link_writable(struct netd *nd)
{
	while (nd->txq_head) {
		struct txq_ent *e = nd->txq_head;
		if (link_write(nd, e->frame, e->len) == 0)
			return;
		nd->txq_head = e->next;
		if (!nd->txq_head)
			nd->txq_tail = NULL;
		nd->txq_bytes -= e->len;
		free(e);
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &nd->link_ev};
	epoll_ctl(nd->epfd, EPOLL_CTL_MOD, nd->linkfd, &ev);
	nd->link_out = false;
}

void link_send_ip4(struct netd *nd, uint8_t proto, const uint8_t src[4],
		   const uint8_t *l4, size_t len)
{
	uint8_t frame[NETD_FRAME_MAX];
	struct msb_net_ip_out h = {.family = 4, .proto = proto};
	memcpy(h.src_mac, nd->cfg.gw_mac, 6);
	memcpy(h.dst_mac, nd->cfg.guest_mac, 6);
	memcpy(h.src, src, 4);
	memcpy(h.dst, nd->cfg.guest_ip, 4);
	h.id = nd->ip_id++;
	size_t off = 0;
	while (off < len) {
		size_t n = msb_net_build_ip4_frag(frame, sizeof(frame), &h, l4,
						  len, &off, nd->cfg.mtu);
		if (!n) {
			nd->st.tx_dropped++;
			return;
		}
		link_send(nd, frame, n);
	}
}

void link_reset(struct netd *nd, const struct msb_net_frame *f)
{
	uint8_t out[128];
	size_t n = msb_net_build_tcp_rst(out, sizeof(out), f, nd->cfg.gw_mac);
	if (n)
		link_send(nd, out, n);
}

void link_unreach(struct netd *nd, const struct msb_net_frame *f, uint8_t code,
		  const uint8_t *src)
{
	uint8_t out[1400];
	size_t n = msb_net_build_unreach(out, sizeof(out), f, code, src,
					 nd->cfg.gw_mac);
	if (n)
		link_send(nd, out, n);
}

void link_feed_lwip(struct netd *nd, const struct msb_net_frame *f)
{
	struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)f->ip_len, PBUF_RAM);
	if (!p) {
		nd->st.rx_dropped++;
		return;
	}
	memcpy(p->payload, f->ip, f->ip_len);
	ip4_addr_t *a = ip_2_ip4(&nd->netif.ip_addr);
	ip4_addr_put(a, f->dst);
	ip4_input(p, &nd->netif); /* frees p */
	ip4_addr_put(a, nd->cfg.gw_ip);
}

static err_t nif_output(struct netif *n, struct pbuf *p,
			const ip4_addr_t *next_hop)
{
	struct netd *nd = n->state;
	uint8_t frame[NETD_FRAME_MAX];
	(void)next_hop;
	if ((size_t)p->tot_len + MSB_NET_ETH_HLEN > sizeof(frame))
		return ERR_BUF;
	memcpy(frame, nd->cfg.guest_mac, 6);
	memcpy(frame + 6, nd->cfg.gw_mac, 6);
	frame[12] = MSB_NET_ETH_IP4 >> 8;
	frame[13] = MSB_NET_ETH_IP4 & 0xff;
	pbuf_copy_partial(p, frame + MSB_NET_ETH_HLEN, p->tot_len, 0);
	link_send(nd, frame, MSB_NET_ETH_HLEN + p->tot_len);
	return ERR_OK;
}

/* IPv6 never reaches lwIP; nothing of it leaves. */
static err_t nif_output6(struct netif *n, struct pbuf *p, const ip6_addr_t *a)
{
	(void)n;
	(void)p;
	(void)a;
	return ERR_OK;
}

static err_t nif_linkoutput(struct netif *n, struct pbuf *p)
{
	(void)n;
	(void)p;
	return ERR_OK;
}

static err_t nif_init(struct netif *n)
{
	struct netd *nd = n->state;
	n->name[0] = 'm';
	n->name[1] = '0';
	n->mtu = (u16_t)nd->cfg.mtu;
	n->hwaddr_len = 6;
	memcpy(n->hwaddr, nd->cfg.gw_mac, 6);
	/* no BROADCAST flag: with the catch-all address no destination may
	 * count as a subnet broadcast; no ETHARP: we frame output */
	n->flags = NETIF_FLAG_LINK_UP;
	n->output = nif_output;
	n->output_ip6 = nif_output6;
	n->linkoutput = nif_linkoutput;
	return ERR_OK;
}

/* The checksum of a whole UDP datagram (0: none) or ICMP message. */
static bool l4_csum_ok(const struct msb_net_frame *f)
{
	if (f->proto == MSB_NET_IPPROTO_UDP)
		return !(f->l4[6] | f->l4[7]) ||
		       !msb_net_l4_csum(4, f->src, f->dst, f->proto, f->l4,
					f->l4_len);
	return !msb_net_csum_fold(msb_net_csum_add(0, f->l4, f->l4_len));
}

/* A datagram lwIP reassembled (UDP or ICMP): back to udp.c, if its
 * checksum (over the whole datagram) is right. */
static u8_t raw_whole(void *arg, struct raw_pcb *pcb, struct pbuf *p,
		      const ip_addr_t *addr)
{
	struct netd *nd = arg;
	struct msb_net_frame f;
	(void)pcb;
	(void)addr;
	size_t n = pbuf_copy_partial(p, reasm + MSB_NET_ETH_HLEN,
				     sizeof(reasm) - MSB_NET_ETH_HLEN, 0);
	pbuf_free(p);
	memcpy(reasm, nd->cfg.gw_mac, 6);
	memcpy(reasm + 6, nd->cfg.guest_mac, 6);
	reasm[12] = MSB_NET_ETH_IP4 >> 8;
	reasm[13] = MSB_NET_ETH_IP4 & 0xff;
	if (msb_net_frame_parse(&f, reasm, MSB_NET_ETH_HLEN + n) < 0 ||
	    f.family != 4 || f.layer != MSB_NET_L4 || f.frag ||
	    memcmp(f.src, nd->cfg.guest_ip, 4) || !l4_csum_ok(&f)) {
		nd->st.rx_dropped++;
		return 1;
	}
	if (f.proto == MSB_NET_IPPROTO_UDP)
		dflow_udp(nd, &f);
	else
		dflow_icmp(nd, &f);
	return 1;
}

int link_init(struct netd *nd)
{
	ip4_addr_t ip, mask, gw;
	lwip_init();
	ip4_addr_put(&ip, nd->cfg.gw_ip);
	ip4_addr_set_u32(&mask, PP_HTONL(0xffffffffUL));
	ip4_addr_set_zero(&gw);
	if (!netif_add(&nd->netif, &ip, &mask, &gw, nd, nif_init, ip4_input))
		return -1;
	netif_set_default(&nd->netif);
	netif_set_up(&nd->netif);
	netif_set_link_up(&nd->netif);
	const u8_t protos[] = {IP_PROTO_UDP, IP_PROTO_ICMP};
	for (size_t i = 0; i < sizeof(protos); i++) {
		struct raw_pcb *r = raw_new(protos[i]);
		if (!r)
			return -1;
		raw_recv(r, raw_whole, nd);
	}
	return 0;
}

static bool in_subnet(const struct netd *nd, const uint8_t *a)
{
	const uint8_t *g = nd->cfg.gw_ip;
	uint32_t x = (uint32_t)a[0] << 24 | a[1] << 16 | a[2] << 8 | a[3];
	uint32_t y = (uint32_t)g[0] << 24 | g[1] << 16 | g[2] << 8 | g[3];
	uint32_t m = ~0u << (32 - nd->cfg.prefix);
	return (x & m) == (y & m);
}

static void arp(struct netd *nd, const struct msb_net_frame *f)
{
	uint8_t out[64];
	/* proxy ARP for the subnet, never for the guest's own address */
	if (f->arp_op != 1 || !memcmp(f->arp_tpa, nd->cfg.guest_ip, 4) ||
	    !memcmp(f->arp_tpa, f->arp_spa, 4) || !in_subnet(nd, f->arp_tpa))
		return;
	size_t n = msb_net_build_arp_reply(out, sizeof(out), f, nd->cfg.gw_mac);
	if (n)
		link_send(nd, out, n);
}

static void ip6(struct netd *nd, const struct msb_net_frame *f)
{
	uint8_t out[128];
	if (f->layer == MSB_NET_L4 && f->proto == MSB_NET_IPPROTO_ICMP6 &&
	    f->icmp_type == 135) {
		/* resolve every neighbour, so that what follows is refused
		 * at once rather than after neighbour discovery times out */
		size_t n =
			msb_net_build_na(out, sizeof(out), f, nd->cfg.gw_mac);
		if (n)
			link_send(nd, out, n);
		return;
	}
	if (f->layer == MSB_NET_L4 && f->proto == MSB_NET_IPPROTO_TCP) {
		nd->st.ip6_refused++;
		link_reset(nd, f);
	} else if (f->proto == MSB_NET_IPPROTO_UDP ||
		   (f->layer == MSB_NET_L4 &&
		    f->proto == MSB_NET_IPPROTO_ICMP6 && f->icmp_type == 128)) {
		nd->st.ip6_refused++;
		link_unreach(nd, f, MSB_NET_UNREACH6_ADMIN, NULL);
	} else {
		nd->st.rx_dropped++;
	}
}

static bool ip4_is_group(const struct netd *nd, const uint8_t *a)
{
	static const uint8_t bc[4] = {255, 255, 255, 255};
	if ((a[0] & 0xf0) == 0xe0 || !memcmp(a, bc, 4))
		return true;
	/* the subnet's broadcast address */
	uint32_t x = (uint32_t)a[0] << 24 | a[1] << 16 | a[2] << 8 | a[3];
	uint32_t m = ~0u << (32 - nd->cfg.prefix);
	return in_subnet(nd, a) && (x & ~m) == ~m;
}

/* A packet to 0.0.0.0/8, which no host may be sent to (RFC 1122
 * 3.2.1.3) and a connect() on Linux would send to the host's loopback:
 * refused as a denied destination, whatever the policy says. */
static void this_network(struct netd *nd, const struct msb_net_frame *f)
{
	const char *why = "this-network range 0.0.0.0/8 is not a destination "
			  "(it would reach the host's loopback)";
	bool syn = f->proto == MSB_NET_IPPROTO_TCP && f->layer == MSB_NET_L4 &&
		   (f->tcp_flags & (MSB_NET_TCP_SYN | MSB_NET_TCP_ACK |
				    MSB_NET_TCP_RST)) == MSB_NET_TCP_SYN;
	bool udp = f->proto == MSB_NET_IPPROTO_UDP && f->layer == MSB_NET_L4;
	bool echo = f->proto == MSB_NET_IPPROTO_ICMP &&
		    f->layer == MSB_NET_L4 && f->icmp_type == 8;
	if (f->frag || !(syn || udp || echo)) {
		nd->st.rx_dropped++; /* no answer to other packets */
		return;
	}
	nd->st.denied++;
	netd_event(nd, "deny", f->proto, f->dst,
		   f->proto == MSB_NET_IPPROTO_ICMP ? 0 : f->dport, why);
	/* from the gateway: a reset would come from 0.0.0.0 */
	link_unreach(nd, f, MSB_NET_UNREACH_ADMIN, nd->cfg.gw_ip);
}

static void ip4(struct netd *nd, const struct msb_net_frame *f)
{
	if (memcmp(f->src, nd->cfg.guest_ip, 4) || ip4_is_group(nd, f->dst) ||
	    !memcmp(f->dst, nd->cfg.guest_ip, 4)) {
		if (!memcmp(f->src, nd->cfg.guest_ip, 4) &&
		    ip4_is_group(nd, f->dst))
			dflow_group(nd, f); /* udp.c: logged, not answered */
		nd->st.rx_dropped++;
		return;
	}
	if (f->dst[0] == 0) {
		this_network(nd, f);
		return;
	}
	if (f->frag) {
		/* TCP is never fragmented by a sane guest (it sends DF and
		 * segments to the MSS); the rest is reassembled by lwIP */
		if (f->proto == MSB_NET_IPPROTO_TCP)
			nd->st.rx_dropped++;
		else if (f->proto == MSB_NET_IPPROTO_UDP ||
			 f->proto == MSB_NET_IPPROTO_ICMP)
			link_feed_lwip(nd, f);
		else
			link_unreach(nd, f, MSB_NET_UNREACH_PROTO,
				     nd->cfg.gw_ip);
		return;
	}
	switch (f->proto) {
	case MSB_NET_IPPROTO_TCP:
		if (f->layer != MSB_NET_L4)
			break;
		tflow_guest(nd, f);
		return;
	case MSB_NET_IPPROTO_UDP:
		if (f->layer != MSB_NET_L4 ||
		    ((f->l4[6] | f->l4[7]) &&
		     msb_net_l4_csum(4, f->src, f->dst, f->proto, f->l4,
				     f->l4_len)))
			break;
		dflow_udp(nd, f);
		return;
	case MSB_NET_IPPROTO_ICMP:
		if (f->layer != MSB_NET_L4 ||
		    msb_net_csum_fold(msb_net_csum_add(0, f->l4, f->l4_len)))
			break;
		dflow_icmp(nd, f);
		return;
	default:
		link_unreach(nd, f, MSB_NET_UNREACH_PROTO, nd->cfg.gw_ip);
		return;
	}
	nd->st.rx_dropped++;
}

static void frame_in(struct netd *nd, const uint8_t *buf, size_t len)
{
	struct msb_net_frame f;
	nd->st.rx_frames++;
	nd->st.rx_bytes += len;
	nd->stats_dirty = true;
	if (msb_net_frame_parse(&f, buf, len) < 0 ||
	    (memcmp(f.dst_mac, nd->cfg.gw_mac, 6) &&
	     !mac_is_group(f.dst_mac))) {
		nd->st.rx_dropped++;
		return;
	}
	switch (f.ethertype) {
	case MSB_NET_ETH_ARP:
		arp(nd, &f);
		break;
	case MSB_NET_ETH_IP4:
		ip4(nd, &f);
		break;
	case MSB_NET_ETH_IP6:
		ip6(nd, &f);
		break;
	default:
		nd->st.rx_dropped++;
	}
}

/* Read up to @max frames into rxbuf. Return: how many (their lengths in
 * rxmsg[].msg_len, truncated ones flagged in msg_flags), 0 if none is
 * waiting, -1 on a link error (errno set). */
static int link_read(struct netd *nd, int max)
{
	if (link_not_socket) {
		ssize_t n = read(nd->linkfd, rxbuf[0], sizeof(rxbuf[0]));
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
		rxmsg[0].msg_len = (unsigned)n;
		rxmsg[0].msg_hdr.msg_flags =
			(size_t)n > NETD_FRAME_MAX ? MSG_TRUNC : 0;
		return 1;
	}
	for (int i = 0; i < max; i++) {
		rxiov[i].iov_base = rxbuf[i];
		rxiov[i].iov_len = sizeof(rxbuf[i]);
		rxmsg[i].msg_hdr =
			(struct msghdr){.msg_iov = &rxiov[i], .msg_iovlen = 1};
	}
	int n = recvmmsg(nd->linkfd, rxmsg, (unsigned)max, MSG_DONTWAIT, NULL);
	if (n < 0 && errno == ENOTSOCK) {
		link_not_socket = true;
		return link_read(nd, max);
	}
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
	return n;
}

void link_readable(struct netd *nd)
{
	/* a bounded batch, then the other descriptors get their turn; a
	 * short batch means the queue is empty (the link is level-triggered:
	 * what comes after is the next turn's) */
	for (int got = 0; got < 128 && !nd->quit;) {
		int n = link_read(nd, LINK_BATCH);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			netd_log(nd, "read from the link: %s: exiting",
				 strerror(errno));
			nd->quit = true;
			return;
		}
		for (int i = 0; i < n && !nd->quit; i++) {
			size_t len = rxmsg[i].msg_len;
			if (!len || (rxmsg[i].msg_hdr.msg_flags & MSG_TRUNC) ||
			    len > nd->cfg.mtu + MSB_NET_ETH_HLEN) {
				nd->st.rx_dropped++;
				continue;
			}
			frame_in(nd, rxbuf[i], len);
		}
		got += n;
		if (n < (link_not_socket ? 1 : LINK_BATCH))
			return;
	}
}
