// SPDX-License-Identifier: Apache-2.0
/*
 * Published ports: host listeners whose connections and datagrams go to
 * a port of the guest.
 *
 * DOC: Published ports
 *
 * Every entry of the configuration's `ports` is bound at startup, before
 * netd says it is up (the "start" line of net.log, the first stats
 * file); a port that cannot be bound (in use, privileged, not an address
 * of the host) stops netd with one line naming it, so that the sandbox's
 * create fails with it. An IPv6 host address is bound IPv6-only.
 *
 * TCP: a host client is accepted, then lwIP connects to the guest's port
 * from the gateway's address (tcp.c, tflow_inbound()). The guest's
 * SYN-ACK opens the flow, which is then proxied like any other (flow
 * control, caps, half-close, resets); its reset (nothing listens there)
 * resets the host client at once; no answer within timeouts.handshake
 * does too.
 *
 * UDP: each host client (address and port) of a published port gets a
 * flow, keyed like the guest's own: the gateway as destination, the
 * guest's port, and a random port of the gateway that is netd's source
 * for that client. Datagrams from the client go to the guest from that
 * port; the guest's answers to it come back to this client only, from
 * the published port. A bounded table per port maps clients to their
 * flows; flows expire after timeouts.udp_idle like the others. When
 * nothing listens on the guest's port, the guest answers with ICMP port
 * unreachable: the client's flow ends at once and a refuse event says
 * so, but the client is not told. Its connected socket would see
 * ECONNREFUSED only if the host's kernel received an ICMP error quoting
 * its datagram, and an unprivileged process can neither send one (raw
 * sockets need CAP_NET_RAW; ICMP sockets send echo requests only) nor
 * make the kernel generate one (it does so only for a port no socket
 * is bound to, and the published socket is bound for every client).
 * The client sees what it would see from a host that drops the
 * datagram: no answer.
 *
 * Inbound flows count as flows (caps, stats), and a `refuse` event says
 * why one was not opened; the egress policy does not apply to them: the
 * user published the port.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netd/netd.h"

/* Connections a published TCP port queues in the kernel. */
#define PUB_BACKLOG 256
/* Connections or datagrams taken from one port in a loop turn. */
#define PUB_BATCH 64

struct pub_client {
	struct sockaddr_in6 peer; /* IPv4 in a sockaddr_in's first bytes */
	socklen_t len;
	uint16_t sport; /* netd's port on the gateway; 0: unused */
};

struct netd_pub {
	struct netd_ev ev; /* EV_PUBLISH; first */
	struct msb_net_portspec spec;
	int fd;
	uint32_t events;
	bool paused; /* out of descriptors: not watched until the tick */
	/* UDP: NETD_PUB_CLIENTS entries, allocated at the first datagram */
	struct pub_client *clients;
};

/* a datagram from a host client, behind room for its UDP header */
static uint8_t dgram[8 + 65536];

/* @p cannot be bound: say why in @err. */
static int bind_error(const struct netd_pub *p, int e, char *err, size_t errlen)
{
	char spec[MSB_NET_PORTSPEC_STRLEN], host[MSB_NET_PORTSPEC_STRLEN];
	char addr[MSB_NET_ADDR_STRLEN];
	msb_net_portspec_format(spec, sizeof(spec), &p->spec);
	msb_net_portspec_host_format(host, sizeof(host), &p->spec);
	msb_net_addr_format(addr, sizeof(addr), &p->spec.host_ip);
	if (e == EADDRINUSE)
		snprintf(err, errlen, "cannot publish %s: %s is already in use",
			 spec, host);
	else if (e == EACCES || e == EPERM)
		snprintf(
			err, errlen,
			"cannot publish %s: host port %u needs privilege (see net.ipv4.ip_unprivileged_port_start)",
			spec, p->spec.host_port);
	else if (e == EADDRNOTAVAIL)
		snprintf(err, errlen,
			 "cannot publish %s: %s is not an address of this host",
			 spec, addr);
	else
		snprintf(err, errlen, "cannot publish %s: bind %s: %s", spec,
			 host, strerror(e));
	return -1;
}

static int bind_one(struct netd *nd, struct netd_pub *p, char *err,
		    size_t errlen)
{
	const struct msb_net_portspec *s = &p->spec;
	bool tcp = s->proto == MSB_NET_PROTO_TCP;
	bool v6 = s->host_ip.family == 6;
	struct sockaddr_in6 sa6 = {.sin6_family = AF_INET6};
	struct sockaddr_in sa4 = {.sin_family = AF_INET};
	int one = 1;

	p->ev.kind = EV_PUBLISH;
	p->fd = socket(v6 ? AF_INET6 : AF_INET,
		       (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK |
			       SOCK_CLOEXEC,
		       0);
	if (p->fd < 0)
		return bind_error(p, errno, err, errlen);
	/* a listener of a netd that just stopped may leave connections in
	 * TIME_WAIT: they must not keep the port */
	if (tcp) {
		setsockopt(p->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		netd_sock_buffers(nd, p->fd); /* its clients inherit them */
	}
	if (v6)
		setsockopt(p->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	int rc;
	if (v6) {
		sa6.sin6_port = htons(s->host_port);
		memcpy(&sa6.sin6_addr, s->host_ip.a, 16);
		rc = bind(p->fd, (struct sockaddr *)&sa6, sizeof(sa6));
	} else {
		sa4.sin_port = htons(s->host_port);
		memcpy(&sa4.sin_addr, s->host_ip.a, 4);
		rc = bind(p->fd, (struct sockaddr *)&sa4, sizeof(sa4));
	}
	if (rc < 0 || (tcp && listen(p->fd, PUB_BACKLOG) < 0))
		return bind_error(p, errno, err, errlen);
	if (netd_watch(nd, p->fd, &p->ev, &p->events, EPOLLIN) < 0) {
		snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int publish_init(struct netd *nd, char *err, size_t errlen)
{
	const struct netd_config *c = &nd->cfg;
	if (!c->n_ports)
		return 0;
	nd->pubs = calloc(c->n_ports, sizeof(*nd->pubs));
	if (!nd->pubs) {
		snprintf(err, errlen, "published ports: out of memory");
		return -1;
	}
	for (unsigned i = 0; i < c->n_ports; i++) {
		nd->pubs[i].spec = c->ports[i];
		nd->pubs[i].fd = -1;
		nd->n_pubs = i + 1;
		if (bind_one(nd, &nd->pubs[i], err, errlen) < 0)
			return -1;
	}
	return 0;
}

void publish_log(struct netd *nd)
{
	char host[MSB_NET_PORTSPEC_STRLEN];
	for (unsigned i = 0; i < nd->n_pubs; i++) {
		const struct msb_net_portspec *s = &nd->pubs[i].spec;
		msb_net_portspec_host_format(host, sizeof(host), s);
		netd_log(nd, "publish: %s -> guest port %u", host,
			 s->guest_port);
	}
}

/* Out of descriptors: stop watching @p until the next tick, or its
 * pending connection would wake the loop at once, forever. */
static void pause_pub(struct netd *nd, struct netd_pub *p, int e)
{
	nd->st.refused_cap++;
	netd_event(nd, "refuse", MSB_NET_IPPROTO_TCP, nd->cfg.guest_ip,
		   p->spec.guest_port, strerror(e));
	netd_watch(nd, p->fd, &p->ev, &p->events, 0);
	p->paused = true;
}

void publish_tick(struct netd *nd)
{
	for (unsigned i = 0; i < nd->n_pubs; i++) {
		struct netd_pub *p = &nd->pubs[i];
		if (p->paused &&
		    netd_watch(nd, p->fd, &p->ev, &p->events, EPOLLIN) == 0)
			p->paused = false;
	}
}

static void tcp_accept(struct netd *nd, struct netd_pub *p)
{
	for (int i = 0; i < PUB_BATCH; i++) {
		int fd = accept4(p->fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM)
				pause_pub(nd, p, errno);
			return;
		}
		tflow_inbound(nd, p, fd, p->spec.guest_port);
	}
}

static bool peer_eq(const struct sockaddr_in6 *a, socklen_t alen,
		    const struct sockaddr_in6 *b, socklen_t blen)
{
	if (alen != blen || a->sin6_family != b->sin6_family)
		return false;
	if (a->sin6_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a,
					 *y = (const void *)b;
		return x->sin_port == y->sin_port &&
		       x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	return a->sin6_port == b->sin6_port &&
	       !memcmp(&a->sin6_addr, &b->sin6_addr, 16) &&
	       a->sin6_scope_id == b->sin6_scope_id;
}

/* The live flow of client @c of @p, or NULL (the entry is then free). */
static struct flow *client_flow(struct netd *nd, struct netd_pub *p,
				struct pub_client *c)
{
	if (!c->sport)
		return NULL;
	struct flow *fl = flow_find(nd, MSB_NET_IPPROTO_UDP, nd->cfg.gw_ip,
				    p->spec.guest_port, c->sport);
	if (!fl || fl->pub != p ||
	    !peer_eq(&fl->peer, fl->peer_len, &c->peer, c->len)) {
		c->sport = 0; /* expired (or reused): free */
		return NULL;
	}
	return fl;
}

/* The flow of the host client @peer of @p: found, or opened. Return:
 * the flow, or NULL (refused: the datagram is dropped). */
static struct flow *udp_client(struct netd *nd, struct netd_pub *p,
			       const struct sockaddr_in6 *peer, socklen_t len)
{
	uint16_t gport = p->spec.guest_port;
	struct pub_client *spare = NULL;
	if (!p->clients) {
		p->clients = calloc(NETD_PUB_CLIENTS, sizeof(*p->clients));
		if (!p->clients)
			return NULL;
	}
	for (unsigned i = 0; i < NETD_PUB_CLIENTS; i++) {
		struct pub_client *c = &p->clients[i];
		if (c->sport && peer_eq(&c->peer, c->len, peer, len)) {
			struct flow *fl = client_flow(nd, p, c);
			if (fl)
				return fl;
			spare = c;
			break;
		}
	}
	for (unsigned i = 0; !spare && i < NETD_PUB_CLIENTS; i++)
		if (!client_flow(nd, p, &p->clients[i]))
			spare = &p->clients[i];
	if (!spare) {
		nd->st.refused_cap++;
		netd_event(nd, "refuse", MSB_NET_IPPROTO_UDP, nd->cfg.guest_ip,
			   gport, "published port: too many clients");
		return NULL;
	}
	if (!flow_admit(nd, MSB_NET_IPPROTO_UDP, nd->cfg.guest_ip, gport,
			false))
		return NULL;
	/* a port of the gateway no flow of this guest port uses */
	uint16_t sport = 0;
	for (int tries = 0; tries < 16 && !sport; tries++) {
		uint16_t c = (uint16_t)(49152 + (unsigned)rand() % 16384);
		if (!flow_find(nd, MSB_NET_IPPROTO_UDP, nd->cfg.gw_ip, gport,
			       c))
			sport = c;
	}
	struct flow *fl = sport ? flow_new(nd, MSB_NET_IPPROTO_UDP,
					   nd->cfg.gw_ip, gport, sport)
				: NULL;
	if (!fl)
		return NULL;
	fl->pub = p;
	fl->peer = *peer;
	fl->peer_len = len;
	spare->peer = *peer;
	spare->len = len;
	spare->sport = sport;
	nd->st.udp_flows++;
	nd->st.inbound_flows++;
	return fl;
}

static void udp_receive(struct netd *nd, struct netd_pub *p)
{
	for (int i = 0; i < PUB_BATCH; i++) {
		struct sockaddr_in6 peer;
		socklen_t len = sizeof(peer);
		memset(&peer, 0, sizeof(peer));
		ssize_t n = recvfrom(p->fd, dgram + 8, sizeof(dgram) - 8,
				     MSG_DONTWAIT | MSG_TRUNC,
				     (struct sockaddr *)&peer, &len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return; /* EAGAIN; errors of an unconnected socket
				 * are not ours to report */
		}
		if ((size_t)n > 65507 || len > sizeof(peer))
			continue; /* truncated: cannot be relayed */
		struct flow *fl = udp_client(nd, p, &peer, len);
		if (!fl)
			continue;
		fl->last = nd->now;
		size_t l4 = msb_net_udp(dgram, sizeof(dgram), 4, nd->cfg.gw_ip,
					nd->cfg.guest_ip, fl->dport, fl->sport,
					dgram + 8, (size_t)n);
		if (l4)
			link_send_ip4(nd, MSB_NET_IPPROTO_UDP, nd->cfg.gw_ip,
				      dgram, l4);
	}
}

void publish_event(struct netd *nd, struct netd_ev *ev, uint32_t events)
{
	struct netd_pub *p = (struct netd_pub *)ev;
	(void)events;
	if (p->spec.proto == MSB_NET_PROTO_TCP)
		tcp_accept(nd, p);
	else
		udp_receive(nd, p);
}

void publish_udp_unreach(struct netd *nd, struct flow *fl, uint8_t code)
{
	char why[160];
	if (code == MSB_NET_UNREACH_PORT)
		snprintf(
			why, sizeof(why),
			"published port: the guest's port is unreachable (nothing listens)");
	else if (code == MSB_NET_UNREACH_ADMIN)
		snprintf(
			why, sizeof(why),
			"published port: the guest refused the datagram (administratively prohibited)");
	else if (code <= MSB_NET_UNREACH_PROTO)
		snprintf(
			why, sizeof(why),
			"published port: the guest says unreachable (ICMP code %u)",
			code);
	else {
		/* fragmentation needed and the like: not a refusal */
		nd->st.rx_dropped++;
		return;
	}
	nd->st.upstream_failed++;
	netd_event(nd, "refuse", MSB_NET_IPPROTO_UDP, nd->cfg.guest_ip,
		   fl->sport, why);
	flow_kill(nd, fl, false);
}

void publish_udp_reply(struct netd *nd, struct flow *fl,
		       const struct msb_net_frame *f)
{
	fl->last = nd->now;
	for (;;) {
		if (sendto(fl->pub->fd, f->payload, f->payload_len,
			   MSG_DONTWAIT | MSG_NOSIGNAL,
			   (const struct sockaddr *)&fl->peer,
			   fl->peer_len) >= 0)
			return;
		if (errno != EINTR)
			break;
	}
	nd->st.rx_dropped++; /* a full socket buffer, a client gone */
}
