// SPDX-License-Identifier: Apache-2.0
/* msb-netd's flow table: lookup, admission (caps), expiry, deferred free. */
#include <arpa/inet.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netd/netd.h"
#include "util/util.h"

static uint32_t hash_seed;

int flows_init(struct netd *nd)
{
	size_t n = 256;
	while (n < 2 * (size_t)nd->cfg.caps.max_flows)
		n *= 2;
	nd->hash = calloc(n, sizeof(*nd->hash));
	if (!nd->hash)
		return -1;
	nd->hash_mask = n - 1;
	/* the guest picks ports and destinations: keep it from choosing
	 * collisions */
	if (getrandom(&hash_seed, sizeof(hash_seed), 0) != sizeof(hash_seed))
		hash_seed = (uint32_t)now_us();
	return 0;
}

static size_t slot(const struct netd *nd, uint8_t proto, const uint8_t dst[4],
		   uint16_t sport, uint16_t dport)
{
	uint32_t h = hash_seed ^ proto;
	uint32_t a =
		(uint32_t)dst[0] << 24 | dst[1] << 16 | dst[2] << 8 | dst[3];
	uint32_t k[2] = {a, (uint32_t)sport << 16 | dport};
	for (int i = 0; i < 2; i++) {
		h ^= k[i];
		h *= 0x85ebca6bu;
		h ^= h >> 13;
		h *= 0xc2b2ae35u;
		h ^= h >> 16;
	}
	return h & nd->hash_mask;
}

struct flow *flow_find(struct netd *nd, uint8_t proto, const uint8_t dst[4],
		       uint16_t sport, uint16_t dport)
{
	for (struct flow *f = nd->hash[slot(nd, proto, dst, sport, dport)]; f;
	     f = f->hnext)
		if (f->proto == proto && f->sport == sport &&
		    f->dport == dport && !memcmp(f->dst, dst, 4))
			return f;
	return NULL;
}

struct flow *flow_new(struct netd *nd, uint8_t proto, const uint8_t dst[4],
		      uint16_t sport, uint16_t dport)
{
	struct flow *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->ev.kind = EV_FLOW;
	f->proto = proto;
	memcpy(f->dst, dst, 4);
	f->sport = sport;
	f->dport = dport;
	f->fd = -1;
	f->last = nd->now;
	size_t s = slot(nd, proto, dst, sport, dport);
	f->hnext = nd->hash[s];
	nd->hash[s] = f;
	f->prev = nd->newest;
	if (nd->newest)
		nd->newest->next = f;
	else
		nd->oldest = f;
	nd->newest = f;
	nd->flows++;
	if (proto == MSB_NET_IPPROTO_TCP)
		nd->tcp_open++;
	else if (proto == MSB_NET_IPPROTO_UDP)
		nd->udp_open++;
	else
		nd->icmp_open++;
	nd->stats_dirty = true;
	return f;
}

void flow_set_pending(struct netd *nd, struct flow *fl, bool on)
{
	if (fl->pending == on)
		return;
	fl->pending = on;
	if (on)
		nd->pending++;
	else
		nd->pending--;
}

void flow_kill(struct netd *nd, struct flow *fl, bool rst)
{
	if (fl->dead)
		return;
	struct flow **pp =
		&nd->hash[slot(nd, fl->proto, fl->dst, fl->sport, fl->dport)];
	while (*pp && *pp != fl)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = fl->hnext;
	if (fl->prev)
		fl->prev->next = fl->next;
	else
		nd->oldest = fl->next;
	if (fl->next)
		fl->next->prev = fl->prev;
	else
		nd->newest = fl->prev;
	if (fl->proto == MSB_NET_IPPROTO_TCP)
		tflow_release(nd, fl, rst);
	if (fl->fd >= 0) {
		if (rst) {
			struct linger lg = {.l_onoff = 1, .l_linger = 0};
			setsockopt(fl->fd, SOL_SOCKET, SO_LINGER, &lg,
				   sizeof(lg));
		}
		close(fl->fd); /* also leaves the epoll set */
		fl->fd = -1;
	}
	flow_set_pending(nd, fl, false);
	nd->flows--;
	if (fl->proto == MSB_NET_IPPROTO_TCP)
		nd->tcp_open--;
	else if (fl->proto == MSB_NET_IPPROTO_UDP)
		nd->udp_open--;
	else
		nd->icmp_open--;
	fl->dead = true;
	fl->hnext = nd->graveyard;
	nd->graveyard = fl;
	nd->stats_dirty = true;
}

void flows_reap(struct netd *nd)
{
	while (nd->graveyard) {
		struct flow *f = nd->graveyard;
		nd->graveyard = f->hnext;
		free(f);
	}
}

void flows_tick(struct netd *nd)
{
	struct flow *next;
	/* hand what bursts of flows freed back to the system: the heap
	 * would otherwise keep its high-water mark */
	if (++nd->ticks % 10 == 0 &&
	    nd->buffered < nd->cfg.caps.total_buffer / 16)
		malloc_trim(0);
	for (struct flow *f = nd->oldest; f; f = next) {
		next = f->next; /* expiry may kill f, never another flow */
		if (f->proto == MSB_NET_IPPROTO_TCP) {
			tflow_expire(nd, f);
			continue;
		}
		unsigned idle = f->proto == MSB_NET_IPPROTO_UDP
					? nd->cfg.to.udp_idle
					: nd->cfg.to.icmp_idle;
		if (nd->now - f->last > (uint64_t)idle * 1000000) {
			nd->st.timeouts++;
			flow_kill(nd, f, false);
		}
	}
}

void flow_upstream(const struct netd *nd, const uint8_t dst[4], uint16_t port,
		   struct sockaddr_in *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons(port);
	if (!memcmp(dst, nd->cfg.gw_ip, 4))
		sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else
		memcpy(&sa->sin_addr, dst, 4);
}

bool flow_admit(struct netd *nd, uint8_t proto, const uint8_t dst[4],
		uint16_t port, bool pending)
{
	const char *why = NULL;
	if (nd->flows >= nd->cfg.caps.max_flows)
		why = "cap max_flows reached";
	else if (pending && nd->pending >= nd->cfg.caps.max_pending)
		why = "cap max_pending reached";
	if (!why)
		return true;
	nd->st.refused_cap++;
	netd_event(nd, "refuse", proto, dst, port, why);
	return false;
}
