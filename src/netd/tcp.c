// SPDX-License-Identifier: Apache-2.0
/*
 * TCP flows: a guest connection terminated by lwIP, proxied to a host
 * socket.
 *
 * DOC: Life of a TCP flow
 *
 * A guest SYN for a new (destination, ports) is judged before lwIP sees
 * it: policy (deny: reset + event), caps (refuse: reset + event). Allowed,
 * the host socket connects (non-blocking) while the SYN is held and the
 * guest's retransmissions of it are dropped. If the connect fails, the
 * guest gets what a real network would say: a reset for "refused", ICMP
 * unreachable for unreachable or timed out. If it succeeds, the held SYN
 * is given to lwIP through a listener on that port (made on demand,
 * dropped when no handshake needs it), and the accepted PCB is paired
 * with the socket. So the guest's connect() succeeds only when the
 * upstream one did.
 *
 * Open, bytes flow both ways with flow control and no unbounded buffer:
 * - guest -> host: lwIP hands received chains to on_recv(); they are
 *   written to the socket and acknowledged to lwIP (tcp_recved(), which
 *   reopens the guest's window) only once the socket took them. A socket
 *   that does not drain closes the guest's window.
 * - host -> guest: the socket is read only while lwIP's send buffer, the
 *   flow's buffer cap and the total cap have room; lwIP's sent callback
 *   reopens the tap.
 * FIN goes across once everything before it has (the ACK of the guest's
 * FIN waits a moment for netd's, see hold_fin_ack()); resets go across both
 * ways (lwIP's error callback, and SO_LINGER 0 on the socket). A flow
 * whose both directions closed is released (lwIP finishes the closing
 * handshake by itself). Flows idle too long, and handshakes or connects
 * past their deadline, are reset.
 *
 * With TLS interception or secrets ("tls" in the configuration), the
 * flow may be marked at the SYN (netd_tls_flow_open()): once open, its
 * bytes go through tls.c's engine (tls_run() from on_recv(),
 * on_sent() and the socket's events) instead of the raw paths below,
 * until the engine says raw (then nothing was consumed yet, and the
 * raw paths take over). The engine uses the same queue, lw_out and FIN
 * bookkeeping through tflow_peek(), tflow_consume(), tflow_to_guest()
 * and tflow_send_fin().
 *
 * Port 53 (DNS over TCP, to any address) is not judged nor connected: its
 * "host socket" is a socketpair to dns.c, which answers the queries.
 *
 * Inbound flows (published ports, publish.c) start the other way round:
 * the host client is accepted first, then lwIP connects to the guest
 * from the gateway's address (tflow_inbound()); the guest's SYN-ACK
 * opens the flow, its reset (nothing listens) or the handshake deadline
 * resets the host client. Once open, an inbound flow is proxied exactly
 * like an outbound one.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "lwip/ip4_addr.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "netd/netd.h"

/* How long the ACK of the guest's FIN may wait to ride on netd's FIN. */
#define FIN_ACK_HOLD_MS 10

struct listener {
	struct tcp_pcb *pcb;
	uint32_t refs;
};

static struct netd *g_nd; /* lwIP callbacks have only their arg */
/* the PCB tflow_release() last aborted: a callback of that PCB must then
 * return ERR_ABRT */
static struct tcp_pcb *aborted;
static struct listener *ports; /* 65536, touched lazily */
static uint8_t hostbuf[65536];

static void update_events(struct netd *nd, struct flow *fl);

/* tls.c's engine of @fl, if any: run it; once it said raw, free it (a
 * raw flow needs none of it). Return: as netd_tls_run(). */
static int tls_run(struct netd *nd, struct flow *fl, uint32_t events)
{
	int rc = netd_tls_run(nd, fl, events);
	if (rc == 0 && fl->tx && !netd_tls_active(fl))
		netd_tls_flow_free(nd, fl);
	return rc;
}

int tflow_init(struct netd *nd)
{
	g_nd = nd;
	ports = calloc(65536, sizeof(*ports));
	return ports ? 0 : -1;
}

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err);
static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err);
static err_t on_sent(void *arg, struct tcp_pcb *pcb, u16_t len);

static bool listener_get(uint16_t port)
{
	struct listener *l = &ports[port];
	if (!l->pcb) {
		struct tcp_pcb *p = tcp_new_ip_type(IPADDR_TYPE_V4);
		if (!p)
			return false;
		/* accepted PCBs inherit it, so a listener can be made again
		 * while connections of that port are open */
		ip_set_option(p, SOF_REUSEADDR);
		if (tcp_bind(p, IP4_ADDR_ANY, port) != ERR_OK) {
			tcp_abort(p);
			return false;
		}
		struct tcp_pcb *lp = tcp_listen_with_backlog(p, 255);
		if (!lp) {
			tcp_abort(p);
			return false;
		}
		tcp_arg(lp, NULL);
		tcp_accept(lp, on_accept);
		l->pcb = lp;
	}
	l->refs++;
	return true;
}

static void listener_put(uint16_t port)
{
	struct listener *l = &ports[port];
	if (l->refs && --l->refs == 0) {
		tcp_close(l->pcb);
		l->pcb = NULL;
	}
}

static bool pcb_is(const struct tcp_pcb *p, const struct netd *nd,
		   const struct flow *fl)
{
	return p->local_port == fl->dport && p->remote_port == fl->sport &&
	       !memcmp(&ip_2_ip4(&p->local_ip)->addr, fl->dst, 4) &&
	       !memcmp(&ip_2_ip4(&p->remote_ip)->addr, nd->cfg.guest_ip, 4);
}

/* lwIP state of an older connection on this flow's addresses: the guest
 * has moved on (it would not reuse them otherwise), so drop it before a
 * new SYN meets it. */
static void forget_old_pcbs(struct netd *nd, struct flow *fl)
{
	struct tcp_pcb *p, *next;
	for (p = tcp_tw_pcbs; p; p = next) {
		next = p->next;
		if (pcb_is(p, nd, fl))
			tcp_abort(p); /* TIME_WAIT: freed, nothing sent */
	}
	for (p = tcp_active_pcbs; p; p = next) {
		next = p->next;
		if (pcb_is(p, nd, fl) && !p->callback_arg) {
			tcp_err(p, NULL);
			tcp_abort(p);
		}
	}
}

void tflow_trim_timewait(struct netd *nd)
{
	/* lwIP keeps TIME_WAIT 2 MSL with no count limit (its PCBs come
	 * from malloc here): keep the newest as many as flows may be open */
	unsigned n = 0;
	struct tcp_pcb *p, *next;
	for (p = tcp_tw_pcbs; p; p = next) {
		next = p->next;
		if (++n > nd->cfg.caps.max_flows)
			tcp_abort(p);
	}
	/* PCBs released (detached: no flow is their argument) finish their
	 * closing handshake in lwIP alone, holding no data (tflow_release()
	 * aborts those that would): keep the newest as many as flows may be
	 * open, none idle longer than NETD_DETACHED_AGE (their timer stops
	 * at the close, which sets TF_RXCLOSED) */
	n = 0;
	for (p = tcp_active_pcbs; p; p = next) { /* newest first */
		next = p->next;
		if (p->callback_arg)
			continue;
		if (++n > nd->cfg.caps.max_flows ||
		    (u32_t)(tcp_ticks - p->tmr) >
			    NETD_DETACHED_AGE * 1000 / TCP_SLOW_INTERVAL)
			tcp_abort(p);
	}
}

static void fin_ack_release(void *arg)
{
	struct flow *fl = arg;
	fl->fin_ack_held = false;
	if (fl->pcb && (fl->pcb->flags & TF_ACK_DELAY)) {
		tcp_ack_now(fl->pcb);
		tcp_output(fl->pcb);
	}
}

static void fin_ack_cancel(struct flow *fl)
{
	if (fl->fin_ack_held) {
		sys_untimeout(fin_ack_release, fl);
		fl->fin_ack_held = false;
	}
}

/*
 * The guest sent FIN while the host's side is still open. lwIP would
 * acknowledge it at once, and send netd's FIN in a frame of its own when
 * the host's end comes, which is usually a moment later (a server closes
 * when its client did). Hold that ACK for at most FIN_ACK_HOLD_MS, so
 * that netd's FIN carries it: one frame less for the guest to take (and
 * under TCG every frame costs the guest more than netd). If the host
 * takes longer, the ACK goes alone, well within the guest's
 * retransmission timeout (200 ms at least); lwIP's own timer would send
 * a delayed ACK within 250 ms anyway.
 */
static void hold_fin_ack(struct flow *fl)
{
	if (!fl->pcb || fl->host_eof || fl->fin_ack_held ||
	    !(fl->pcb->flags & TF_ACK_NOW))
		return;
	tcp_clear_flags(fl->pcb, TF_ACK_NOW);
	tcp_set_flags(fl->pcb, TF_ACK_DELAY);
	sys_timeout(FIN_ACK_HOLD_MS, fin_ack_release, fl);
	fl->fin_ack_held = true;
}

static void detach(struct tcp_pcb *pcb)
{
	tcp_arg(pcb, NULL);
	tcp_recv(pcb, NULL);
	tcp_sent(pcb, NULL);
	tcp_err(pcb, NULL);
}

void tflow_release(struct netd *nd, struct flow *fl, bool rst)
{
	fin_ack_cancel(fl);
	if (fl->pcb) {
		detach(fl->pcb);
		/* bytes lwIP still holds for the guest (a zero window):
		 * counted in no cap once released, so they go now */
		if (rst || fl->lw_out || fl->stash_len ||
		    tcp_close(fl->pcb) != ERR_OK) {
			tcp_abort(fl->pcb);
			aborted = fl->pcb;
		}
		fl->pcb = NULL;
	}
	if (fl->listening) {
		listener_put(fl->dport);
		fl->listening = false;
	}
	while (fl->qn) {
		pbuf_free(fl->q[fl->qhead]);
		fl->q[fl->qhead] = NULL;
		fl->qhead = (fl->qhead + 1) % NETD_TCP_QUEUE;
		fl->qn--;
	}
	nd->buffered -= fl->qbytes + fl->stash_len + fl->lw_out + fl->ooseq;
	fl->qbytes = fl->stash_len = fl->lw_out = fl->ooseq = 0;
	free(fl->stash);
	fl->stash = NULL;
	free(fl->syn);
	fl->syn = NULL;
	netd_tls_flow_free(nd, fl);
}

/* The guest connection @pcb of @fl is established: proxy both ways. */
static void start_proxy(struct netd *nd, struct flow *fl, struct tcp_pcb *pcb)
{
	fl->st = TCP_OPEN;
	flow_set_pending(nd, fl, false);
	fl->last = nd->now;
	tcp_recv(pcb, on_recv);
	tcp_sent(pcb, on_sent);
	tcp_nagle_disable(pcb);
	update_events(nd, fl);
}

/* Reset both sides. Return ERR_ABRT, for lwIP callbacks to pass on. */
static err_t abort_flow(struct netd *nd, struct flow *fl)
{
	flow_kill(nd, fl, true);
	return ERR_ABRT;
}

/* Both directions done, and the guest has acknowledged every byte (until
 * then the flow and its bytes stay counted, and tcp_half bounds it):
 * release gracefully. */
static void maybe_finish(struct netd *nd, struct flow *fl)
{
	if (!fl->host_shut || !fl->fin_sent)
		return;
	if (!fl->lw_out || !fl->pcb) {
		flow_kill(nd, fl, false);
	} else if (fl->fd >= 0 && fl->host_eof) {
		/* the host socket is done both ways (and would report
		 * EPOLLHUP each turn): only lwIP's bytes are left */
		close(fl->fd);
		fl->fd = -1;
	}
}

static void recved(struct flow *fl, size_t n)
{
	while (fl->pcb && n) {
		u16_t k = n > 0xffff ? 0xffff : (u16_t)n;
		tcp_recved(fl->pcb, k);
		n -= k;
	}
}

static void consume(struct netd *nd, struct flow *fl, size_t n)
{
	fl->qbytes -= n;
	nd->buffered -= n;
	recved(fl, n);
	while (n) {
		struct pbuf *h = fl->q[fl->qhead];
		size_t left = h->tot_len - fl->qoff;
		if (n < left) {
			fl->qoff += n;
			return;
		}
		n -= left;
		pbuf_free(h);
		fl->q[fl->qhead] = NULL;
		fl->qhead = (fl->qhead + 1) % NETD_TCP_QUEUE;
		fl->qn--;
		fl->qoff = 0;
	}
}

void tflow_consume(struct netd *nd, struct flow *fl, size_t n)
{
	consume(nd, fl, n);
}

size_t tflow_peek(const struct flow *fl, uint8_t *out, size_t cap)
{
	size_t n = 0, skip = fl->qoff;
	for (unsigned i = 0; i < fl->qn && n < cap; i++) {
		const struct pbuf *q = fl->q[(fl->qhead + i) % NETD_TCP_QUEUE];
		for (; q && n < cap; q = q->next) {
			if (skip >= q->len) {
				skip -= q->len;
				continue;
			}
			size_t k = q->len - skip;
			if (k > cap - n)
				k = cap - n;
			memcpy(out + n, (const uint8_t *)q->payload + skip, k);
			n += k;
			skip = 0;
		}
	}
	return n;
}

size_t tflow_to_guest(struct netd *nd, struct flow *fl, const uint8_t *p,
		      size_t n)
{
	const struct netd_caps *c = &nd->cfg.caps;
	if (!fl->pcb || fl->fin_sent || fl->lw_out >= c->flow_buffer ||
	    tcp_sndqueuelen(fl->pcb) + 8 >= TCP_SND_QUEUELEN)
		return 0;
	size_t room = tcp_sndbuf(fl->pcb);
	if (room > c->flow_buffer - fl->lw_out)
		room = c->flow_buffer - fl->lw_out;
	if (n > room)
		n = room;
	if (!n ||
	    tcp_write(fl->pcb, p, (u16_t)n, TCP_WRITE_FLAG_COPY) != ERR_OK)
		return 0;
	fl->lw_out += n;
	nd->buffered += n;
	fl->last = nd->now;
	tcp_output(fl->pcb);
	return n;
}

void tflow_send_fin(struct netd *nd, struct flow *fl)
{
	(void)nd;
	if (fl->fin_sent)
		return;
	if (!fl->pcb || tcp_shutdown(fl->pcb, 0, 1) == ERR_OK) {
		fl->fin_sent = true;
		fin_ack_cancel(fl);
	}
}

/* Write what the guest sent to the host socket. Return: 0, or -1 if the
 * socket failed (the caller resets the flow). */
static int flush_to_host(struct netd *nd, struct flow *fl)
{
	while (fl->qn) {
		struct iovec iov[64];
		int cnt = 0;
		size_t want = 0, skip = fl->qoff;
		for (unsigned i = 0; i < fl->qn && cnt < 64; i++) {
			struct pbuf *q =
				fl->q[(fl->qhead + i) % NETD_TCP_QUEUE];
			for (; q && cnt < 64; q = q->next) {
				if (skip >= q->len) {
					skip -= q->len;
					continue;
				}
				iov[cnt].iov_base =
					(uint8_t *)q->payload + skip;
				iov[cnt].iov_len = q->len - skip;
				want += q->len - skip;
				skip = 0;
				cnt++;
			}
		}
		struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)cnt};
		ssize_t n = sendmsg(fl->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -1;
		}
		fl->last = nd->now;
		consume(nd, fl, (size_t)n);
		if ((size_t)n < want)
			break;
	}
	if (!fl->qn && fl->guest_fin && !fl->host_shut) {
		shutdown(fl->fd, SHUT_WR);
		fl->host_shut = true;
	}
	return 0;
}

static void send_fin(struct netd *nd, struct flow *fl)
{
	if (fl->fin_sent || !fl->host_eof || fl->stash_len)
		return;
	if (!fl->pcb || tcp_shutdown(fl->pcb, 0, 1) == ERR_OK) {
		fl->fin_sent = true; /* else retried from on_sent() */
		fin_ack_cancel(fl);  /* the FIN carried it */
	}
	(void)nd;
}

/* Give lwIP the bytes it had no room for. Return: 0, or -1 on a fatal
 * lwIP error. */
static int push_stash(struct netd *nd, struct flow *fl)
{
	if (!fl->stash_len || !fl->pcb)
		return 0;
	size_t room = tcp_sndbuf(fl->pcb);
	size_t n = fl->stash_len < room ? fl->stash_len : room;
	if (!n)
		return 0;
	err_t e = tcp_write(fl->pcb, fl->stash, (u16_t)n, TCP_WRITE_FLAG_COPY);
	if (e == ERR_MEM)
		return 0;
	if (e != ERR_OK)
		return -1;
	fl->lw_out += n; /* moves from the stash: nd->buffered unchanged */
	fl->stash_len -= n;
	memmove(fl->stash, fl->stash + n, fl->stash_len);
	if (!fl->stash_len) {
		free(fl->stash);
		fl->stash = NULL;
	}
	tcp_output(fl->pcb);
	return 0;
}

/* How many bytes may be read from the host now. */
static size_t host_room(const struct netd *nd, const struct flow *fl)
{
	const struct netd_caps *c = &nd->cfg.caps;
	if (!fl->pcb || fl->host_eof || fl->stash_len ||
	    fl->lw_out >= c->flow_buffer || nd->buffered >= c->total_buffer ||
	    tcp_sndqueuelen(fl->pcb) + 8 >= TCP_SND_QUEUELEN)
		return 0;
	size_t room = tcp_sndbuf(fl->pcb);
	if (room > c->flow_buffer - fl->lw_out)
		room = c->flow_buffer - fl->lw_out;
	if (room > c->total_buffer - nd->buffered)
		room = c->total_buffer - nd->buffered;
	return room;
}

static void update_events(struct netd *nd, struct flow *fl)
{
	uint32_t ev = 0;
	if (fl->dead || fl->fd < 0)
		return;
	if (fl->st == TCP_CONNECTING) {
		/* edge-triggered: the connect's end is reported once, and the
		 * registration can stay as it is through the guest's
		 * handshake (no system call), where nothing is read or
		 * written; the level-triggered one of the open flow then
		 * reports what came meanwhile */
		ev = EPOLLOUT | EPOLLET;
	} else if (fl->st == TCP_HANDSHAKE) {
		return;
	} else if (fl->st == TCP_OPEN && netd_tls_active(fl)) {
		ev = netd_tls_events(nd, fl);
	} else if (fl->st == TCP_OPEN) {
		if (host_room(nd, fl))
			ev |= EPOLLIN;
		else if (fl->pcb && !fl->host_eof &&
			 nd->buffered >= nd->cfg.caps.total_buffer)
			nd->budget_blocked = true;
		if (fl->qn)
			ev |= EPOLLOUT;
	}
	netd_watch(nd, fl->fd, &fl->ev, &fl->events, ev);
}

void tflow_budget_freed(struct netd *nd)
{
	for (struct flow *f = nd->oldest; f; f = f->next)
		if (f->proto == MSB_NET_IPPROTO_TCP && f->st == TCP_OPEN)
			update_events(nd, f);
}

/* Read from the host into lwIP. */
static void pump_from_host(struct netd *nd, struct flow *fl)
{
	if (push_stash(nd, fl) < 0) {
		abort_flow(nd, fl);
		return;
	}
	size_t room = host_room(nd, fl);
	if (room) {
		if (room > sizeof(hostbuf))
			room = sizeof(hostbuf);
		ssize_t n = recv(fl->fd, hostbuf, room, MSG_DONTWAIT);
		if (n > 0) {
			fl->last = nd->now;
			err_t e = tcp_write(fl->pcb, hostbuf, (u16_t)n,
					    TCP_WRITE_FLAG_COPY);
			if (e == ERR_OK) {
				fl->lw_out += (size_t)n;
				nd->buffered += (size_t)n;
			} else if (e == ERR_MEM) {
				fl->stash = malloc((size_t)n);
				if (!fl->stash) {
					abort_flow(nd, fl);
					return;
				}
				memcpy(fl->stash, hostbuf, (size_t)n);
				fl->stash_len = (size_t)n;
				nd->buffered += (size_t)n;
			} else {
				abort_flow(nd, fl);
				return;
			}
			tcp_output(fl->pcb);
		} else if (n == 0) {
			fl->host_eof = true;
			send_fin(nd, fl);
			maybe_finish(nd, fl);
			if (fl->dead)
				return;
		} else if (errno != EAGAIN && errno != EWOULDBLOCK &&
			   errno != EINTR) {
			abort_flow(nd, fl);
			return;
		}
	}
	update_events(nd, fl);
}

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	struct flow *fl = arg;
	struct netd *nd = g_nd;
	aborted = NULL;
	if (!fl) {
		if (p) {
			tcp_recved(pcb, p->tot_len);
			pbuf_free(p);
		}
		return ERR_OK;
	}
	if (!p) {
		fl->guest_fin = true;
		hold_fin_ack(fl);
	} else {
		if (err != ERR_OK) {
			pbuf_free(p);
			return ERR_OK;
		}
		if (fl->qn == NETD_TCP_QUEUE)
			return ERR_MEM; /* lwIP keeps it and stops acking */
		fl->q[(fl->qhead + fl->qn) % NETD_TCP_QUEUE] = p;
		fl->qn++;
		fl->qbytes += p->tot_len;
		nd->buffered += p->tot_len;
		fl->last = nd->now;
	}
	if (netd_tls_active(fl)) {
		if (tls_run(nd, fl, 0) < 0)
			return abort_flow(nd, fl);
	}
	if (!netd_tls_active(fl) && flush_to_host(nd, fl) < 0)
		return abort_flow(nd, fl);
	maybe_finish(nd, fl);
	update_events(nd, fl);
	return aborted == pcb ? ERR_ABRT : ERR_OK;
}

static err_t on_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
	struct flow *fl = arg;
	struct netd *nd = g_nd;
	aborted = NULL;
	if (!fl)
		return ERR_OK;
	size_t n = len < fl->lw_out ? len : fl->lw_out;
	fl->lw_out -= n;
	nd->buffered -= n;
	fl->last = nd->now;
	if (netd_tls_active(fl)) {
		if (tls_run(nd, fl, 0) < 0)
			return abort_flow(nd, fl);
		maybe_finish(nd, fl);
		update_events(nd, fl);
		return aborted == pcb ? ERR_ABRT : ERR_OK;
	}
	if (push_stash(nd, fl) < 0)
		return abort_flow(nd, fl);
	send_fin(nd, fl);
	maybe_finish(nd, fl);
	update_events(nd, fl);
	return aborted == pcb ? ERR_ABRT : ERR_OK;
}

static void on_err(void *arg, err_t err)
{
	struct flow *fl = arg;
	struct netd *nd = g_nd;
	if (!fl)
		return;
	fl->pcb = NULL; /* already freed by lwIP */
	if (fl->pub && fl->st == TCP_HANDSHAKE) {
		/* inbound, the guest refused: reset the host client now */
		nd->st.upstream_failed++;
		netd_event(nd, "refuse", MSB_NET_IPPROTO_TCP, nd->cfg.guest_ip,
			   fl->sport,
			   err == ERR_RST ? "published port: the guest refused "
					    "the connection (nothing listens)"
					  : "published port: the guest did "
					    "not answer");
		flow_kill(nd, fl, true);
		return;
	}
	if (err == ERR_CLSD && fl->st == TCP_OPEN) {
		/* lwIP completed the close (the guest acknowledged our FIN
		 * after sending its own): finish writing to the host */
		fl->guest_fin = true;
		fl->fin_sent = true;
		if (netd_tls_active(fl)) {
			fl->pcb = NULL;
			if (tls_run(nd, fl, 0) < 0) {
				flow_kill(nd, fl, true);
				return;
			}
		} else if (flush_to_host(nd, fl) < 0) {
			flow_kill(nd, fl, true);
			return;
		}
		maybe_finish(nd, fl);
		update_events(nd, fl);
		return;
	}
	flow_kill(nd, fl, true);
}

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
	struct flow *fl = arg;
	struct netd *nd = g_nd;
	if (!fl || err != ERR_OK || fl->dead || fl->pcb != pcb) {
		detach(pcb);
		tcp_abort(pcb);
		if (fl && !fl->dead && fl->pcb == pcb) {
			fl->pcb = NULL;
			flow_kill(nd, fl, true);
		}
		return ERR_ABRT;
	}
	if (fl->host_reset) {
		fl->pcb = NULL;
		detach(pcb);
		tcp_abort(pcb);
		flow_kill(nd, fl, true);
		return ERR_ABRT;
	}
	if (fl->listening) {
		listener_put(fl->dport);
		fl->listening = false;
	}
	start_proxy(nd, fl, pcb);
	return ERR_OK;
}

/* lwIP's connection to the guest (inbound) is established. */
static err_t on_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
	struct flow *fl = arg;
	struct netd *nd = g_nd;
	(void)err; /* always ERR_OK in lwIP 2.1 */
	if (!fl || fl->dead || fl->pcb != pcb) {
		detach(pcb);
		tcp_abort(pcb);
		return ERR_ABRT;
	}
	start_proxy(nd, fl, pcb);
	return ERR_OK;
}

void tflow_inbound(struct netd *nd, struct netd_pub *pub, int fd,
		   uint16_t guest_port)
{
	struct tcp_pcb *pcb = NULL;
	ip_addr_t gw = IPADDR4_INIT(0), guest = IPADDR4_INIT(0);
	memcpy(&ip_2_ip4(&gw)->addr, nd->cfg.gw_ip, 4);
	memcpy(&ip_2_ip4(&guest)->addr, nd->cfg.guest_ip, 4);
	if (!flow_admit(nd, MSB_NET_IPPROTO_TCP, nd->cfg.guest_ip, guest_port,
			true))
		goto refuse;
	/* a port of the gateway that no flow with this guest port uses (the
	 * guest's own connections to the gateway are in the same table) */
	for (int tries = 0; tries < 8 && !pcb; tries++) {
		pcb = tcp_new_ip_type(IPADDR_TYPE_V4);
		if (!pcb)
			break;
		if (tcp_bind(pcb, &gw, 0) != ERR_OK ||
		    flow_find(nd, MSB_NET_IPPROTO_TCP, nd->cfg.gw_ip,
			      guest_port, pcb->local_port)) {
			tcp_abort(pcb);
			pcb = NULL;
		}
	}
	if (!pcb) {
		nd->st.refused_cap++;
		netd_event(nd, "refuse", MSB_NET_IPPROTO_TCP, nd->cfg.guest_ip,
			   guest_port, "published port: no lwIP connection");
		goto refuse;
	}
	struct flow *fl = flow_new(nd, MSB_NET_IPPROTO_TCP, nd->cfg.gw_ip,
				   guest_port, pcb->local_port);
	if (!fl) {
		tcp_abort(pcb);
		goto refuse;
	}
	fl->fd = fd;
	fl->pub = pub;
	fl->pcb = pcb;
	fl->st = TCP_HANDSHAKE;
	flow_set_pending(nd, fl, true);
	fl->deadline = nd->now + (uint64_t)nd->cfg.to.handshake * 1000000;
	nd->st.tcp_flows++;
	nd->st.inbound_flows++;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	tcp_arg(pcb, fl);
	tcp_err(pcb, on_err);
	if (tcp_connect(pcb, &guest, guest_port, on_connected) != ERR_OK)
		flow_kill(nd, fl, true); /* aborts the pcb, resets fd */
	return;
refuse:;
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

/* The upstream connect of @fl failed with @e: tell the guest as a real
 * network would. */
static void upstream_failed(struct netd *nd, const struct msb_net_frame *f,
			    int e)
{
	nd->st.upstream_failed++;
	if (e == ECONNREFUSED)
		link_reset(nd, f);
	else if (e == ENETUNREACH)
		link_unreach(nd, f, MSB_NET_UNREACH_NET, nd->cfg.gw_ip);
	else if (e == EACCES || e == EPERM)
		link_unreach(nd, f, MSB_NET_UNREACH_ADMIN, nd->cfg.gw_ip);
	else
		link_unreach(nd, f, MSB_NET_UNREACH_HOST, nd->cfg.gw_ip);
}

static void connected(struct netd *nd, struct flow *fl)
{
	struct msb_net_frame f;
	char why[320];
	if (msb_net_frame_parse(&f, fl->syn, fl->syn_len) < 0) {
		flow_kill(nd, fl, true);
		return;
	}
	/* connected to this host after all (0.0.0.0, an address of its
	 * own): the host group decides; the host's service sees a reset */
	if (!netd_egress_recheck(nd, fl->fd, fl->dst, MSB_NET_IPPROTO_TCP,
				 fl->dport, why, sizeof(why))) {
		nd->st.denied++;
		netd_event(nd, "deny", MSB_NET_IPPROTO_TCP, fl->dst, fl->dport,
			   why);
		link_reset(nd, &f);
		flow_kill(nd, fl, true);
		return;
	}
	forget_old_pcbs(nd, fl);
	if (!listener_get(fl->dport)) {
		link_reset(nd, &f);
		flow_kill(nd, fl, true);
		return;
	}
	fl->listening = true;
	link_feed_lwip(nd, &f);
	free(fl->syn);
	fl->syn = NULL;
	for (struct tcp_pcb *p = tcp_active_pcbs; p; p = p->next) {
		if (p->state == SYN_RCVD && pcb_is(p, nd, fl)) {
			fl->pcb = p;
			break;
		}
	}
	if (!fl->pcb) { /* lwIP did not take the SYN */
		flow_kill(nd, fl, true);
		return;
	}
	tcp_arg(fl->pcb, fl);
	tcp_err(fl->pcb, on_err);
	fl->st = TCP_HANDSHAKE;
	fl->deadline = nd->now + (uint64_t)nd->cfg.to.handshake * 1000000;
	update_events(nd, fl);
}

static void open_flow(struct netd *nd, const struct msb_net_frame *f)
{
	char why[160];
	/* DNS over TCP, to any address, is answered by netd (dns.c) */
	bool dns = f->dport == NETD_DNS_PORT;
	if (!dns && !netd_egress_allowed(nd, f->dst, MSB_NET_IPPROTO_TCP,
					 f->dport, why, sizeof(why))) {
		nd->st.denied++;
		netd_event(nd, "deny", MSB_NET_IPPROTO_TCP, f->dst, f->dport,
			   why);
		link_reset(nd, f);
		return;
	}
	if (!flow_admit(nd, MSB_NET_IPPROTO_TCP, f->dst, f->dport, true)) {
		link_reset(nd, f);
		return;
	}
	int fd = dns ? netd_dns_stream_open(nd)
		     : socket(AF_INET,
			      SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		nd->st.refused_cap++;
		netd_event(nd, "refuse", MSB_NET_IPPROTO_TCP, f->dst, f->dport,
			   dns && errno == EAGAIN
				   ? "cap of DNS-over-TCP connections reached"
				   : strerror(errno));
		link_reset(nd, f);
		return;
	}
	int one = 1, rc = 0;
	if (!dns) {
		struct sockaddr_in sa;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		netd_sock_buffers(nd, fd);
		flow_upstream(nd, f->dst, f->dport, &sa);
		rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	}
	if (rc < 0 && errno != EINPROGRESS) {
		int e = errno;
		close(fd);
		upstream_failed(nd, f, e);
		return;
	}
	size_t flen = MSB_NET_ETH_HLEN + f->ip_len;
	struct flow *fl =
		flow_new(nd, MSB_NET_IPPROTO_TCP, f->dst, f->sport, f->dport);
	uint8_t *syn = malloc(flen);
	if (!fl || !syn) {
		free(syn);
		close(fd);
		if (fl)
			flow_kill(nd, fl, false);
		link_reset(nd, f);
		return;
	}
	memcpy(syn, f->ip - MSB_NET_ETH_HLEN, flen);
	fl->syn = syn;
	fl->syn_len = flen;
	fl->fd = fd;
	fl->st = TCP_CONNECTING;
	if (!dns)
		netd_tls_flow_open(nd, fl);
	flow_set_pending(nd, fl, true);
	fl->deadline = nd->now + (uint64_t)nd->cfg.to.connect * 1000000;
	nd->st.tcp_flows++;
	if (rc == 0)
		connected(nd, fl);
	else
		update_events(nd, fl);
}

/*
 * Whether a data segment at @seq would be one out-of-order segment too
 * many for lwIP to hold. lwIP keeps what arrives out of order within the
 * window, with no count limit in Debian's build: tiny segments would cost
 * a buffer each, so a hostile guest could make one flow hold thousands.
 */
static bool ooseq_full(const struct flow *fl, uint32_t seq)
{
	unsigned n = 0;
	if (!fl->pcb || seq == fl->pcb->rcv_nxt)
		return false;
	for (const struct tcp_seg *s = fl->pcb->ooseq; s; s = s->next)
		if (++n >= NETD_TCP_OOSEQ)
			return true;
	return false;
}

/* Count what lwIP holds out of order for @fl in the budget (at most
 * NETD_TCP_OOSEQ segments; a buffer each, with its overhead). */
static void count_ooseq(struct netd *nd, struct flow *fl)
{
	size_t n = 0;
	if (fl->dead)
		return;
	for (const struct tcp_seg *s = fl->pcb ? fl->pcb->ooseq : NULL; s;
	     s = s->next)
		n += s->p->tot_len + 256;
	nd->buffered = nd->buffered - fl->ooseq + n;
	fl->ooseq = n;
}

/* A SYN is judged before lwIP checks it: check its checksums first, so
 * that nothing is connected for a segment lwIP would then drop. */
static bool syn_ok(const struct msb_net_frame *f)
{
	return !msb_net_csum_fold(msb_net_csum_add(0, f->ip, f->ip_hlen)) &&
	       !msb_net_l4_csum(4, f->src, f->dst, MSB_NET_IPPROTO_TCP, f->l4,
				f->l4_len);
}

void tflow_guest(struct netd *nd, const struct msb_net_frame *f)
{
	uint8_t fl_bits = f->tcp_flags &
			  (MSB_NET_TCP_SYN | MSB_NET_TCP_ACK | MSB_NET_TCP_RST);
	struct flow *fl =
		flow_find(nd, MSB_NET_IPPROTO_TCP, f->dst, f->sport, f->dport);
	if (!fl) {
		if (fl_bits == MSB_NET_TCP_SYN && !syn_ok(f))
			nd->st.rx_dropped++; /* lwIP would drop it too */
		else if (fl_bits == MSB_NET_TCP_SYN)
			open_flow(nd, f);
		else /* strays: lwIP resets them or its TIME_WAIT takes them */
			link_feed_lwip(nd, f);
		return;
	}
	fl->last = nd->now;
	if (fl->st == TCP_CONNECTING) {
		/* SYN retransmissions wait for the upstream connect; a reset
		 * means the guest gave up */
		if (fl_bits & MSB_NET_TCP_RST)
			flow_kill(nd, fl, true);
		return;
	}
	if (f->payload_len && (nd->buffered >= nd->cfg.caps.total_buffer ||
			       ooseq_full(fl, f->seq))) {
		/* over the budget: the guest retransmits it later */
		nd->st.rx_dropped++;
		return;
	}
	link_feed_lwip(nd, f);
	count_ooseq(nd, fl); /* fl may be dead, not yet freed */
}

void tflow_event(struct netd *nd, struct flow *fl, uint32_t events)
{
	if (fl->st == TCP_CONNECTING) {
		int e = 0;
		socklen_t el = sizeof(e);
		/* writable without an error: connected (no SO_ERROR call) */
		if ((events & (EPOLLERR | EPOLLHUP)) &&
		    getsockopt(fl->fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
			e = errno;
		/* reset as soon as it was accepted: the guest's connect()
		 * succeeds too, and then the reset comes */
		if (e == ECONNRESET || e == EPIPE)
			fl->host_reset = true;
		if (!e || fl->host_reset) {
			connected(nd, fl);
			return;
		}
		struct msb_net_frame f;
		if (msb_net_frame_parse(&f, fl->syn, fl->syn_len) == 0)
			upstream_failed(nd, &f, e);
		flow_kill(nd, fl, false);
		return;
	}
	if (fl->st == TCP_HANDSHAKE)
		return; /* the edge-triggered registration of the connect */
	if (fl->st != TCP_OPEN) {
		abort_flow(nd, fl);
		return;
	}
	if (events & EPOLLERR) {
		int e = 0;
		socklen_t el = sizeof(e);
		getsockopt(fl->fd, SOL_SOCKET, SO_ERROR, &e, &el);
		if (e) {
			abort_flow(nd, fl);
			return;
		}
	}
	if (netd_tls_active(fl)) {
		if (tls_run(nd, fl, events) < 0) {
			abort_flow(nd, fl);
			return;
		}
		if (fl->pcb && fl->pcb->refused_data &&
		    fl->qn < NETD_TCP_QUEUE &&
		    tcp_process_refused_data(fl->pcb) == ERR_ABRT)
			return;
		if (fl->dead)
			return;
		if (netd_tls_active(fl)) {
			maybe_finish(nd, fl);
			if (!fl->dead)
				update_events(nd, fl);
			return;
		}
		/* raw from now on */
		events |= EPOLLOUT;
	}
	if ((events & EPOLLOUT) && flush_to_host(nd, fl) < 0) {
		abort_flow(nd, fl);
		return;
	}
	/* room again in the queue: lwIP may hold data it could not give */
	if (fl->pcb && fl->pcb->refused_data && fl->qn < NETD_TCP_QUEUE &&
	    tcp_process_refused_data(fl->pcb) == ERR_ABRT)
		return;
	if (fl->dead)
		return;
	maybe_finish(nd, fl);
	if (!fl->dead && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
		pump_from_host(nd, fl);
	else
		update_events(nd, fl);
}

void tflow_expire(struct netd *nd, struct flow *fl)
{
	if (fl->st == TCP_CONNECTING) {
		if (nd->now < fl->deadline)
			return;
		struct msb_net_frame f;
		if (msb_net_frame_parse(&f, fl->syn, fl->syn_len) == 0)
			upstream_failed(nd, &f, ETIMEDOUT);
		flow_kill(nd, fl, false);
		return;
	}
	if (fl->st == TCP_HANDSHAKE) {
		if (nd->now < fl->deadline)
			return;
		if (fl->pub) {
			nd->st.upstream_failed++;
			netd_event(nd, "refuse", MSB_NET_IPPROTO_TCP,
				   nd->cfg.guest_ip, fl->sport,
				   "published port: the guest did not answer");
		}
		abort_flow(nd, fl);
		return;
	}
	if (netd_tls_expired(nd, fl)) {
		abort_flow(nd, fl);
		return;
	}
	count_ooseq(nd, fl); /* lwIP drops what waits too long */
	uint64_t limit = fl->guest_fin || fl->host_eof ? nd->cfg.to.tcp_half
						       : nd->cfg.to.tcp_idle;
	if (nd->now - fl->last > limit * 1000000) {
		nd->st.timeouts++;
		abort_flow(nd, fl);
	}
}
