// SPDX-License-Identifier: Apache-2.0
/*
 * Datagram flows: UDP, and ICMP echo.
 *
 * UDP: one connected host socket per (guest port, destination address,
 * destination port), so that only the destination's replies come back,
 * and they come back from its address. ICMP errors the host socket sees
 * (refused, unreachable) go back to the guest as ICMP errors quoting its
 * last datagram. Idle flows expire.
 *
 * Port 53 of any address is not a flow: dns.c answers it.
 *
 * Multicast (224.0.0.0/4) is not relayed: link.c drops it, and
 * dflow_group() logs a UDP datagram to a group as a deny event, without
 * an ICMP error to the guest (RFC 1122 3.2.2: none about multicast).
 *
 * The guest's ICMP "destination unreachable" about a datagram netd sent
 * it from a published UDP port (nothing listens on the guest's port)
 * ends that client's flow, with a refuse event (publish.c); netd cannot
 * pass it on to the host client (see publish_udp_unreach()).
 *
 * ICMP echo: pings to the gateway are answered here; pings elsewhere go
 * through an unprivileged ICMP socket (SOCK_DGRAM, IPPROTO_ICMP) when
 * net.ipv4.ping_group_range lets this process have one, else the guest is
 * told "host unreachable": never a silent drop, never a fake reply.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netd/netd.h"

/* a datagram from the host, behind room for its UDP header */
static uint8_t dgram[8 + 65536];

/* What the guest's last datagram of @fl looked like, for ICMP errors. */
static void head_frame(const struct netd *nd, const struct flow *fl,
		       struct msb_net_frame *f)
{
	memset(f, 0, sizeof(*f));
	f->layer = MSB_NET_L4;
	f->ethertype = MSB_NET_ETH_IP4;
	f->family = 4;
	memcpy(f->src_mac, nd->cfg.guest_mac, 6);
	memcpy(f->dst_mac, nd->cfg.gw_mac, 6);
	memcpy(f->src, nd->cfg.guest_ip, 4);
	memcpy(f->dst, fl->dst, 4);
	f->proto = fl->proto;
	f->ip = fl->head;
	f->ip_len = fl->head_len;
	f->ip_hlen = 20;
	if (fl->proto == MSB_NET_IPPROTO_ICMP)
		f->icmp_type = 8;
}

static void save_head(struct flow *fl, const struct msb_net_frame *f)
{
	size_t n = f->ip_hlen + 8;
	if (n > sizeof(fl->head))
		n = sizeof(fl->head);
	if (n > f->ip_len)
		n = f->ip_len;
	memcpy(fl->head, f->ip, n);
	fl->head_len = (uint8_t)n;
}

/* Tell the guest its datagrams on @fl fail with @e. */
static void dgram_error(struct netd *nd, const struct flow *fl, int e)
{
	struct msb_net_frame f;
	if (!fl->head_len)
		return;
	head_frame(nd, fl, &f);
	if (e == ECONNREFUSED)
		link_unreach(nd, &f, MSB_NET_UNREACH_PORT, NULL);
	else if (e == ENETUNREACH)
		link_unreach(nd, &f, MSB_NET_UNREACH_NET, nd->cfg.gw_ip);
	else if (e == EHOSTUNREACH || e == EHOSTDOWN)
		link_unreach(nd, &f, MSB_NET_UNREACH_HOST, nd->cfg.gw_ip);
}

/* Policy, caps and a connected host socket for a new datagram flow.
 * Return: the flow, or NULL (the guest has been answered). */
static struct flow *open_dgram(struct netd *nd, const struct msb_net_frame *f,
			       uint16_t sport, uint16_t dport)
{
	char why[320];
	uint8_t proto = f->proto;
	if (!netd_egress_allowed(nd, f->dst, proto, dport, why, sizeof(why))) {
		nd->st.denied++;
		netd_event(nd, "deny", proto, f->dst, dport, why);
		link_unreach(nd, f, MSB_NET_UNREACH_ADMIN, nd->cfg.gw_ip);
		return NULL;
	}
	if (!flow_admit(nd, proto, f->dst, dport, false)) {
		link_unreach(nd, f, MSB_NET_UNREACH_ADMIN, nd->cfg.gw_ip);
		return NULL;
	}
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			proto == MSB_NET_IPPROTO_ICMP ? IPPROTO_ICMP : 0);
	if (fd < 0) {
		int e = errno;
		if (proto == MSB_NET_IPPROTO_ICMP &&
		    (e == EACCES || e == EPERM || e == EPROTONOSUPPORT)) {
			/* tried again at each new echo flow: the sysctl
			 * may change, and a failing socket() is cheap */
			if (nd->ping_ok != 0)
				netd_log(
					nd,
					"no ICMP socket (%s): pings beyond the gateway are answered \"host unreachable\" (see net.ipv4.ping_group_range)",
					strerror(e));
			nd->ping_ok = 0;
		} else {
			nd->st.refused_cap++;
			netd_event(nd, "refuse", proto, f->dst, dport,
				   strerror(e));
		}
		link_unreach(nd, f, MSB_NET_UNREACH_HOST, nd->cfg.gw_ip);
		return NULL;
	}
	if (proto == MSB_NET_IPPROTO_ICMP)
		nd->ping_ok = 1;
	struct sockaddr_in sa;
	flow_upstream(nd, f->dst, dport, &sa);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		nd->st.upstream_failed++;
		if (e == ENETUNREACH)
			link_unreach(nd, f, MSB_NET_UNREACH_NET, nd->cfg.gw_ip);
		else
			link_unreach(nd, f, MSB_NET_UNREACH_HOST,
				     nd->cfg.gw_ip);
		return NULL;
	}
	/* connected to this host after all (nothing sent yet): the host
	 * group decides */
	if (!netd_egress_recheck(nd, fd, f->dst, proto, dport, why,
				 sizeof(why))) {
		close(fd);
		nd->st.denied++;
		netd_event(nd, "deny", proto, f->dst, dport, why);
		link_unreach(nd, f, MSB_NET_UNREACH_ADMIN, nd->cfg.gw_ip);
		return NULL;
	}
	struct flow *fl = flow_new(nd, proto, f->dst, sport, dport);
	if (!fl) {
		close(fd);
		link_unreach(nd, f, MSB_NET_UNREACH_HOST, nd->cfg.gw_ip);
		return NULL;
	}
	fl->fd = fd;
	netd_watch(nd, fd, &fl->ev, &fl->events, EPOLLIN);
	if (proto == MSB_NET_IPPROTO_UDP)
		nd->st.udp_flows++;
	else
		nd->st.icmp_flows++;
	return fl;
}

static void send_up(struct netd *nd, struct flow *fl, const void *p, size_t n)
{
	for (;;) {
		if (send(fl->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
			return;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
			nd->st.rx_dropped++; /* as a full queue would */
		else
			dgram_error(nd, fl, errno);
		return;
	}
}

void dflow_udp(struct netd *nd, const struct msb_net_frame *f)
{
	if (f->dport == NETD_DNS_PORT) {
		/* to any address: netd answers it (dns.c) */
		netd_dns_udp(nd, f);
		return;
	}
	struct flow *fl =
		flow_find(nd, MSB_NET_IPPROTO_UDP, f->dst, f->sport, f->dport);
	if (fl && fl->pub) { /* the guest answers a published port's client */
		publish_udp_reply(nd, fl, f);
		return;
	}
	if (!fl) {
		fl = open_dgram(nd, f, f->sport, f->dport);
		if (!fl)
			return;
	}
	fl->last = nd->now;
	save_head(fl, f);
	send_up(nd, fl, f->payload, f->payload_len);
}

/* An ICMP destination unreachable from the guest (@f, type 3): if it
 * quotes a datagram of a published UDP port's flow, that flow fails. */
static void guest_unreach(struct netd *nd, const struct msb_net_frame *f)
{
	/* ICMP header, then the quoted IP header and 8 bytes of UDP */
	const uint8_t *q = f->l4 + 8;
	size_t qlen = f->l4_len >= 8 ? f->l4_len - 8 : 0;
	size_t ihl = qlen >= 20 ? (size_t)(q[0] & 0x0f) * 4 : 0;
	if (qlen < 20 || q[0] >> 4 != 4 || ihl < 20 || qlen < ihl + 8 ||
	    q[9] != MSB_NET_IPPROTO_UDP || memcmp(q + 12, nd->cfg.gw_ip, 4) ||
	    memcmp(q + 16, nd->cfg.guest_ip, 4)) {
		nd->st.rx_dropped++;
		return;
	}
	uint16_t from = (uint16_t)(q[ihl] << 8 | q[ihl + 1]);
	uint16_t to = (uint16_t)(q[ihl + 2] << 8 | q[ihl + 3]);
	struct flow *fl =
		flow_find(nd, MSB_NET_IPPROTO_UDP, nd->cfg.gw_ip, to, from);
	if (!fl || !fl->pub) {
		nd->st.rx_dropped++; /* about an outbound flow's reply: the
				      * flow expires as it would */
		return;
	}
	publish_udp_unreach(nd, fl, f->icmp_code);
}

void dflow_group(struct netd *nd, const struct msb_net_frame *f)
{
	if (f->family != 4 || f->proto != MSB_NET_IPPROTO_UDP ||
	    f->layer != MSB_NET_L4 || (f->dst[0] & 0xf0) != 0xe0)
		return;
	nd->st.denied++;
	netd_event(nd, "deny", MSB_NET_IPPROTO_UDP, f->dst, f->dport,
		   "multicast is not relayed (dropped, no ICMP error)");
}

void dflow_icmp(struct netd *nd, const struct msb_net_frame *f)
{
	if (f->icmp_type == 3) {
		guest_unreach(nd, f);
		return;
	}
	if (f->icmp_type != 8 || f->icmp_code != 0) {
		nd->st.rx_dropped++; /* only echo requests go anywhere */
		return;
	}
	if (!memcmp(f->dst, nd->cfg.gw_ip, 4)) {
		uint8_t out[NETD_FRAME_MAX];
		if (f->l4_len + 20 <= nd->cfg.mtu) {
			size_t n = msb_net_build_echo_reply(out, sizeof(out), f,
							    nd->cfg.gw_mac);
			if (n)
				link_send(nd, out, n);
		} else if (f->l4_len <= sizeof(dgram)) {
			/* bigger than a frame (it was reassembled) */
			size_t n;
			memcpy(dgram, f->l4, f->l4_len);
			n = msb_net_icmp_echo(dgram, sizeof(dgram), 0,
					      f->icmp_id, f->icmp_seq,
					      dgram + 8, f->l4_len - 8);
			if (n)
				link_send_ip4(nd, MSB_NET_IPPROTO_ICMP, f->dst,
					      dgram, n);
		}
		return;
	}
	struct flow *fl =
		flow_find(nd, MSB_NET_IPPROTO_ICMP, f->dst, f->icmp_id, 0);
	if (!fl) {
		fl = open_dgram(nd, f, f->icmp_id, 0);
		if (!fl)
			return;
	}
	fl->last = nd->now;
	save_head(fl, f);
	/* the kernel sets the identifier and the checksum */
	memcpy(dgram, f->l4, f->l4_len);
	size_t n = msb_net_icmp_echo(dgram, sizeof(dgram), 8, 0, f->icmp_seq,
				     dgram + 8, f->l4_len - 8);
	if (n)
		send_up(nd, fl, dgram, n);
}

void dflow_event(struct netd *nd, struct flow *fl, uint32_t events)
{
	(void)events;
	/* a bounded batch per turn */
	for (int i = 0; i < 64 && !fl->dead; i++) {
		ssize_t n = recv(fl->fd, dgram + 8, sizeof(dgram) - 8,
				 MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			dgram_error(nd, fl, errno);
			continue;
		}
		if ((size_t)n > sizeof(dgram) - 8)
			continue; /* truncated: cannot be relayed */
		fl->last = nd->now;
		size_t l4;
		if (fl->proto == MSB_NET_IPPROTO_UDP) {
			l4 = msb_net_udp(dgram, sizeof(dgram), 4, fl->dst,
					 nd->cfg.guest_ip, fl->dport, fl->sport,
					 dgram + 8, (size_t)n);
		} else {
			const uint8_t *m = dgram + 8;
			if (n < 8 || m[0] != 0 || m[1] != 0)
				continue; /* only echo replies */
			uint16_t seq = (uint16_t)(m[6] << 8 | m[7]);
			l4 = msb_net_icmp_echo(dgram, sizeof(dgram), 0,
					       fl->sport, seq, dgram + 16,
					       (size_t)n - 8);
		}
		if (l4)
			link_send_ip4(nd, fl->proto, fl->dst, dgram, l4);
	}
}
