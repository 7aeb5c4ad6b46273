// SPDX-License-Identifier: Apache-2.0
/*
 * msb-netd's DNS: every query the guest sends to port 53, of any address,
 * over UDP or TCP, is answered here; nothing on port 53 is forwarded as
 * the guest wrote it.
 *
 * DOC: Theory of operation
 *
 * A query is parsed by src/net/dns.c (pure, bounded, fuzzed) and decided
 * in this order:
 *  1. malformed, not a query, other opcode or class: as
 *     msb_dns_parse_query() says (nothing, FORMERR, NOTIMP, REFUSED...);
 *  2. `host.microsandbox.internal`: the gateway's address (A), nothing
 *     (AAAA), answered here;
 *  3. a blocked name or a name under a blocked suffix: NXDOMAIN;
 *  4. a name the policy does not let resolve (msb_net_policy_may_resolve:
 *     a deny-all sandbox cannot send data out through lookups): REFUSED,
 *     and a deny event in net.log;
 *  5. otherwise a new query is built (never the guest's bytes) with a
 *     random id and sent from a new non-blocking UDP socket (a random
 *     source port: the kernel's) to the first upstream resolver; one
 *     that does not answer within its share of `timeouts.dns`, or
 *     refuses, is replaced by the next; when all have failed the guest
 *     gets SERVFAIL. Only an answer with the id and the question of the
 *     query counts (msb_dns_filter_answer()); others are ignored.
 * The answer is rebuilt for the guest: its A/AAAA records are kept only if
 * the policy could allow some connection to them, given the names of the
 * answer's CNAME chain (rebinding protection: under `public` a name that
 * resolves into 10/8 gets no address unless a rule allows it), TTLs are
 * lowered to an hour, and the kept addresses are pinned to the chain's
 * names (src/net/pins.c), which is how domain rules match a destination.
 *
 * At most `caps.dns_queries` queries wait upstream at once (one socket
 * each, in a table allocated at start); beyond, the guest gets SERVFAIL.
 *
 * TCP: tcp.c terminates the guest's connection to port 53 as any other,
 * but its "host socket" is one end of a socketpair whose other end is a
 * stream served here: length-prefixed queries are read from it (at most
 * STREAM_MSG_MAX bytes each, STREAM_PENDING at once) and the answers are
 * written back in the order they come. So flow control, caps, FIN and
 * resets are tcp.c's, unchanged. Queries that came over TCP go upstream
 * over TCP (a new connection each), so that answers too large for UDP
 * reach the guest whole.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/dns.h"
#include "net/pins.h"
#include "netd/netd.h"

/* A query read from a TCP stream may be this long (a real one is a few
 * hundred bytes); longer ones close the stream. */
#define STREAM_MSG_MAX 4096
/* Queries of one stream waiting upstream at once; it is not read beyond. */
#define STREAM_PENDING 8
/* Answers of one stream not yet taken by tcp.c; the stream is not read
 * while any wait. */
#define STREAM_OUT_MAX (4 * (MSB_DNS_MSG_MAX + 2))
/* TTL of host.microsandbox.internal */
#define HOST_TTL 300

enum { T_QUERY = 1, T_STREAM };

struct stream;

struct query {
	struct netd_ev ev; /* EV_DNS */
	uint8_t type;      /* T_QUERY */
	bool used;
	int fd; /* upstream socket, connected to resolvers[server] */
	uint32_t events;
	unsigned server;   /* resolver tried now */
	unsigned tries;    /* resolvers tried */
	uint16_t id;       /* upstream id of this try */
	uint64_t deadline; /* of this try, µs */
	uint64_t end;      /* of the query, µs */
	struct msb_dns_query q;
	/* where the answer goes: a stream (NULL once it is gone) or, over
	 * UDP, the guest's port and the address it asked */
	bool tcp;
	struct stream *st;
	uint8_t gdst[4];
	uint16_t gport;
	struct query *next_free;
	/* upstream over TCP (for queries that came over TCP): the framed
	 * query and how much of it went, the answer's length prefix and the
	 * answer as it comes */
	uint8_t tq[2 + MSB_DNS_NAME_MAX + 64];
	size_t tqlen, tqoff;
	uint8_t thdr[2];
	size_t tgot; /* bytes of prefix and answer read */
	uint8_t *tbuf;
	size_t tlen;
};

struct stream {
	struct netd_ev ev; /* EV_DNS */
	uint8_t type;      /* T_STREAM */
	bool dead;
	bool eof;     /* tcp.c shut its side: the guest sent FIN */
	bool parsing; /* in stream_parse() */
	int fd;
	uint32_t events;
	unsigned pending;
	size_t inlen;
	uint8_t *out;
	size_t outlen, outoff;
	struct stream *gnext; /* graveyard */
	uint8_t in[2 + STREAM_MSG_MAX];
};

struct netd_dns {
	struct query *q; /* caps.dns_queries of them */
	struct query *free;
	unsigned used;
	unsigned streams;      /* open, at most NETD_DNS_STREAMS */
	struct ratelimit rate; /* queries sent upstream: caps.dns_rate */
	uint64_t next;         /* earliest deadline, µs; 0: none */
	struct stream *graveyard;
};

/* an upstream answer, and replies being built */
static uint8_t ans[MSB_DNS_MSG_MAX + 1];
static uint8_t scratch[MSB_DNS_MSG_MAX];
static uint8_t out[8 + MSB_DNS_MSG_MAX + 2];
static struct msb_dns_answer res;

static void stream_update(struct netd *nd, struct stream *st);

int netd_dns_init(struct netd *nd)
{
	struct netd_dns *d = calloc(1, sizeof(*d));
	unsigned n = nd->cfg.caps.dns_queries;
	uint64_t seed;
	if (!d)
		return -1;
	d->q = calloc(n, sizeof(*d->q));
	if (!d->q) {
		free(d);
		return -1;
	}
	d->rate.per_s = nd->cfg.caps.dns_rate;
	d->rate.burst = 2 * nd->cfg.caps.dns_rate;
	for (unsigned i = n; i-- > 0;) {
		d->q[i].ev.kind = EV_DNS;
		d->q[i].type = T_QUERY;
		d->q[i].fd = -1;
		d->q[i].next_free = d->free;
		d->free = &d->q[i];
	}
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = nd->now;
	nd->pins = msb_pins_new(0, 0, seed);
	if (!nd->pins) {
		free(d->q);
		free(d);
		return -1;
	}
	nd->dns = d;
	return 0;
}

void netd_dns_log_start(struct netd *nd)
{
	char list[NETD_RESOLVERS_MAX * 24] = "", a[INET_ADDRSTRLEN];
	size_t n = 0;
	for (unsigned i = 0; i < nd->cfg.nresolvers; i++) {
		const struct sockaddr_in *sa = &nd->cfg.resolvers[i];
		const uint8_t *b = (const uint8_t *)&sa->sin_addr;
		snprintf(a, sizeof(a), "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s:%u",
				      i ? " " : "", a, ntohs(sa->sin_port));
	}
	if (!nd->cfg.nresolvers)
		netd_log(
			nd,
			"dns: no upstream resolver (none in /etc/resolv.conf): lookups get SERVFAIL");
	else
		netd_log(nd, "dns: resolvers %s (%s)%s", list,
			 nd->cfg.resolvers_given ? "configured"
						 : "/etc/resolv.conf",
			 nd->cfg.domain_rules
				 ? "; DoT and QUIC refused (domain rules)"
				 : "");
}

/* A DNS event in net.log: rate-limited like netd_event(). */
static void dns_event(struct netd *nd, const char *what, const char *name,
		      const char *why)
{
	uint64_t suppressed = 0;
	char n[MSB_DNS_TEXT_MAX * 4 + 4], sb[300], r[400];
	if (!ratelimit_allow(&nd->event_rl, nd->now, &suppressed))
		return;
	if (suppressed)
		netd_log(nd, "%llu events suppressed (rate limit)",
			 (unsigned long long)suppressed);
	if (!*name)
		name = ".";
	logfile_escape(n, sizeof(n), (const uint8_t *)name, strlen(name), true);
	logfile_escape(sb, sizeof(sb), (const uint8_t *)nd->cfg.sandbox,
		       strlen(nd->cfg.sandbox), true);
	logfile_escape(r, sizeof(r), (const uint8_t *)why, strlen(why), true);
	netd_log(nd, "%s dns %s sandbox=\"%s\" reason=\"%s\"", what, n, sb, r);
}

/* --- answers to the guest ---------------------------------------------- */

static void stream_flush(struct netd *nd, struct stream *st);
static void stream_kill(struct netd *nd, struct stream *st);

/* Send the DNS message at out + 8 (@n bytes) to the guest's UDP port
 * @gport from @gdst:53. */
static void send_udp(struct netd *nd, const uint8_t gdst[4], uint16_t gport,
		     size_t n)
{
	size_t l4 = msb_net_udp(out, sizeof(out), 4, gdst, nd->cfg.guest_ip,
				NETD_DNS_PORT, gport, out + 8, n);
	if (l4)
		link_send_ip4(nd, MSB_NET_IPPROTO_UDP, gdst, out, l4);
}

/* Queue the message at out + 8 (@n bytes) on @st. */
static void send_stream(struct netd *nd, struct stream *st, size_t n)
{
	if (!st || st->dead)
		return;
	if (st->outlen - st->outoff + n + 2 > STREAM_OUT_MAX) {
		/* the guest does not read its answers: end the stream (tcp.c
		 * closes the guest's connection), rather than leave a query
		 * without an answer */
		stream_kill(nd, st);
		return;
	}
	if (st->outoff) {
		memmove(st->out, st->out + st->outoff, st->outlen - st->outoff);
		st->outlen -= st->outoff;
		st->outoff = 0;
	}
	uint8_t *p = realloc(st->out, st->outlen + n + 2);
	if (!p) {
		stream_kill(nd, st);
		return;
	}
	st->out = p;
	if (msb_dns_tcp_frame(p + st->outlen, n + 2, out + 8, n) < 0)
		return;
	st->outlen += n + 2;
	stream_flush(nd, st);
}

/* Where a reply for a query goes. */
struct dest {
	struct stream *st; /* NULL: UDP */
	const uint8_t *gdst;
	uint16_t gport;
};

static size_t reply_cap(const struct dest *to, const struct msb_dns_query *q)
{
	return to->st ? MSB_DNS_MSG_MAX : msb_dns_udp_limit(q);
}

static void deliver(struct netd *nd, const struct dest *to, int n)
{
	if (n <= 0)
		return;
	if (to->st)
		send_stream(nd, to->st, (size_t)n);
	else
		send_udp(nd, to->gdst, to->gport, (size_t)n);
}

static void reply_rcode(struct netd *nd, const struct dest *to,
			const struct msb_dns_query *q, unsigned rcode)
{
	deliver(nd, to,
		msb_dns_build_reply(out + 8, reply_cap(to, q), q, rcode));
}

/* --- upstream --------------------------------------------------------- */

static void upstream_close(struct query *q)
{
	if (q->fd >= 0 && q->tcp) {
		/* no TIME_WAIT left behind per query: a guest's queries over
		 * TCP would otherwise use up the ports to its resolver */
		struct linger lg = {.l_onoff = 1, .l_linger = 0};
		setsockopt(q->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	if (q->fd >= 0)
		close(q->fd); /* also leaves the epoll set */
	q->fd = -1;
	q->events = 0;
	free(q->tbuf);
	q->tbuf = NULL;
	q->tlen = q->tgot = q->tqlen = q->tqoff = 0;
}

static struct query *query_get(struct netd *nd)
{
	struct netd_dns *d = nd->dns;
	struct query *q = d->free;
	if (!q)
		return NULL;
	d->free = q->next_free;
	q->next_free = NULL;
	q->used = true;
	q->fd = -1;
	q->events = 0;
	q->tries = 0;
	q->server = 0;
	q->st = NULL;
	d->used++;
	return q;
}

static void query_put(struct netd *nd, struct query *q)
{
	struct netd_dns *d = nd->dns;
	upstream_close(q);
	struct stream *st = q->st;
	q->st = NULL;
	q->used = false;
	q->next_free = d->free;
	d->free = q;
	d->used--;
	if (st) {
		st->pending--;
		stream_update(nd, st);
	}
}

static struct dest dest_of(const struct query *q)
{
	struct dest to = {.st = q->st, .gdst = q->gdst, .gport = q->gport};
	return to;
}

static void query_fail(struct netd *nd, struct query *q, unsigned rcode)
{
	struct dest to = dest_of(q);
	if (!q->tcp || q->st)
		reply_rcode(nd, &to, &q->q, rcode);
	query_put(nd, q);
}

static void note_deadline(struct netd *nd, uint64_t t)
{
	if (!nd->dns->next || t < nd->dns->next)
		nd->dns->next = t;
}

/* Send @q to resolver @q->server from a new socket with a new id: over
 * UDP, or over TCP (connect, then write) if the guest asked over TCP.
 * Return: 0, or -1 if it could not be sent. */
static int query_try(struct netd *nd, struct query *q)
{
	uint8_t *pkt = q->tq + 2;
	const struct sockaddr_in *sa = &nd->cfg.resolvers[q->server];
	upstream_close(q);
	if (getrandom(&q->id, sizeof(q->id), GRND_NONBLOCK) != sizeof(q->id))
		q->id = (uint16_t)rand();
	int n = msb_dns_build_query(pkt, sizeof(q->tq) - 2, &q->q, q->id,
				    q->tcp ? 0 : MSB_DNS_EDNS_SIZE);
	if (n < 0)
		return -1;
	int fd = socket(AF_INET,
			(q->tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK |
				SOCK_CLOEXEC,
			0);
	if (fd < 0)
		return -1;
	int rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	if (q->tcp) {
		if ((rc < 0 && errno != EINPROGRESS) ||
		    msb_dns_tcp_frame(q->tq, sizeof(q->tq), pkt, (size_t)n) <
			    0) {
			close(fd);
			return -1;
		}
		q->tqlen = (size_t)n + 2;
	} else if (rc < 0 || send(fd, pkt, (size_t)n, MSG_NOSIGNAL) != n) {
		close(fd);
		return -1;
	}
	q->fd = fd;
	if (netd_watch(nd, fd, &q->ev, &q->events,
		       q->tcp ? EPOLLOUT : EPOLLIN) < 0) {
		close(fd);
		q->fd = -1;
		return -1;
	}
	/* each resolver gets an equal share of what is left */
	unsigned left = nd->cfg.nresolvers - q->server;
	uint64_t share = q->end > nd->now ? (q->end - nd->now) / left : 0;
	q->deadline = nd->now + share;
	note_deadline(nd, q->deadline);
	return 0;
}

/* Move @q on to the next resolver; SERVFAIL when none is left. */
static void query_next(struct netd *nd, struct query *q)
{
	while (q->tries < nd->cfg.nresolvers && nd->now < q->end) {
		q->server = q->tries++;
		if (query_try(nd, q) == 0)
			return;
	}
	query_fail(nd, q, MSB_DNS_RCODE_SERVFAIL);
}

/* keep() of the answer filter: addresses the policy could reach. */
struct keep_ctx {
	struct netd *nd;
	const char *names[MSB_DNS_CHAIN_MAX];
	size_t n;
	unsigned rejected;
	struct msb_net_addr first; /* the first rejected */
};

static bool keep(const struct msb_net_addr *a, void *userdata)
{
	struct keep_ctx *k = userdata;
	if (msb_net_policy_may_connect(k->nd->cfg.policy, a, k->names, k->n))
		return true;
	if (!k->rejected++)
		k->first = *a;
	return false;
}

/* The upstream's answer @msg (@len bytes) to @q: to the guest, filtered
 * and pinned. Return: false if it does not answer @q. */
static bool query_answer(struct netd *nd, struct query *q, const uint8_t *msg,
			 size_t len)
{
	struct keep_ctx k = {.nd = nd};
	struct msb_dns_filter f = {
		.keep = keep, .userdata = &k, .ttl_max = MSB_PINS_TTL_MAX};
	/* first the CNAME chain, whose names the policy sees: a domain
	 * rule lets its own answers through */
	int n = msb_dns_filter_answer(scratch, sizeof(scratch), &res, NULL,
				      &q->q, q->id, msg, len);
	if (n == MSB_DNS_EMISMATCH)
		return false;
	if (n < 0) {
		query_fail(nd, q, MSB_DNS_RCODE_SERVFAIL);
		return true;
	}
	for (unsigned i = 0; i < res.nnames && k.n < MSB_DNS_CHAIN_MAX; i++)
		if (res.names[i][0])
			k.names[k.n++] = res.names[i];
	if (!k.n)
		k.names[k.n++] = q->q.name;
	static char chain[MSB_DNS_CHAIN_MAX][MSB_DNS_TEXT_MAX];
	for (size_t i = 0; i < k.n; i++) {
		snprintf(chain[i], sizeof(chain[i]), "%s", k.names[i]);
		k.names[i] = chain[i];
	}
	struct dest to = dest_of(q);
	n = msb_dns_filter_answer(out + 8, reply_cap(&to, &q->q), &res, &f,
				  &q->q, q->id, msg, len);
	if (n < 0) {
		query_fail(nd, q, MSB_DNS_RCODE_SERVFAIL);
		return true;
	}
	if (!res.truncated)
		msb_pins_add_answer(nd->pins, &res, nd->now / 1000000);
	if (k.rejected) {
		char a[MSB_NET_ADDR_STRLEN], why[200];
		msb_net_addr_format(a, sizeof(a), &k.first);
		snprintf(
			why, sizeof(why),
			"%u address%s removed from the answer (rebinding protection): %s%s",
			k.rejected, k.rejected > 1 ? "es" : "", a,
			k.rejected > 1 ? "..." : "");
		dns_event(nd, "filter", q->q.name, why);
	}
	if (!q->tcp || q->st)
		deliver(nd, &to, n);
	query_put(nd, q);
	return true;
}

/* Upstream over TCP: finish the connect, write the query, read the
 * answer (a prefix, then that many bytes). */
static void query_tcp_event(struct netd *nd, struct query *q)
{
	if (q->tqoff < q->tqlen) {
		int e = 0;
		socklen_t el = sizeof(e);
		if (getsockopt(q->fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0 || e) {
			query_next(nd, q);
			return;
		}
		ssize_t n = send(q->fd, q->tq + q->tqoff, q->tqlen - q->tqoff,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				query_next(nd, q);
			return;
		}
		q->tqoff += (size_t)n;
		if (q->tqoff < q->tqlen)
			return;
		netd_watch(nd, q->fd, &q->ev, &q->events, EPOLLIN);
		return;
	}
	for (int i = 0; i < 16 && q->used; i++) {
		ssize_t n;
		if (q->tgot < 2)
			n = recv(q->fd, q->thdr + q->tgot, 2 - q->tgot,
				 MSG_DONTWAIT);
		else
			n = recv(q->fd, q->tbuf + q->tgot - 2,
				 q->tlen - (q->tgot - 2), MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) { /* reset, or closed before the answer */
			query_next(nd, q);
			return;
		}
		q->tgot += (size_t)n;
		if (q->tgot == 2) {
			q->tlen = (size_t)q->thdr[0] << 8 | q->thdr[1];
			q->tbuf = q->tlen >= MSB_DNS_HEADER_LEN
					  ? malloc(q->tlen)
					  : NULL;
			if (!q->tbuf) {
				query_next(nd, q);
				return;
			}
		} else if (q->tgot == q->tlen + 2) {
			/* one query per connection: anything else than
			 * its answer ends this try */
			if (!query_answer(nd, q, q->tbuf, q->tlen))
				query_next(nd, q);
			return;
		}
	}
}

static void query_event(struct netd *nd, struct query *q)
{
	if (q->tcp) {
		query_tcp_event(nd, q);
		return;
	}
	/* a bounded batch: strays and mismatches cannot keep us here */
	for (int i = 0; i < 16 && q->used && q->fd >= 0; i++) {
		ssize_t n = recv(q->fd, ans, sizeof(ans), MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			/* refused, unreachable: the next resolver */
			query_next(nd, q);
			return;
		}
		if ((size_t)n > MSB_DNS_MSG_MAX)
			continue;
		query_answer(nd, q, ans, (size_t)n); /* else: not ours */
	}
}

/* --- a query from the guest ------------------------------------------ */

static void query_in(struct netd *nd, const struct dest *to, const uint8_t *msg,
		     size_t len)
{
	struct msb_dns_query pq;
	int v = msb_dns_parse_query(&pq, msg, len);
	if (v == MSB_DNS_DROP)
		return;
	if (v > 0) {
		reply_rcode(nd, to, &pq, (unsigned)v);
		return;
	}
	if (!strcmp(pq.name, MSB_DNS_HOST_NAME)) {
		struct msb_net_addr gw = {.family = 4};
		memcpy(gw.a, nd->cfg.gw_ip, 4);
		deliver(nd, to,
			msb_dns_build_addr_reply(out + 8, reply_cap(to, &pq),
						 &pq, &gw, 1, HOST_TTL));
		return;
	}
	if (netd_tls_placeholder_in(nd, (const uint8_t *)pq.name,
				    strlen(pq.name), true) >= 0) {
		nd->st.denied++;
		dns_event(nd, "deny", pq.name,
			  "a secret's placeholder in the name (REFUSED)");
		reply_rcode(nd, to, &pq, MSB_DNS_RCODE_REFUSED);
		return;
	}
	if (msb_net_policy_name_blocked(nd->cfg.policy, pq.name)) {
		nd->st.denied++;
		dns_event(nd, "deny", pq.name, "blocked domain (NXDOMAIN)");
		reply_rcode(nd, to, &pq, MSB_DNS_RCODE_NXDOMAIN);
		return;
	}
	if (!msb_net_policy_may_resolve(nd->cfg.policy, pq.name)) {
		nd->st.denied++;
		dns_event(
			nd, "deny", pq.name,
			"the policy lets no lookup of this name out (REFUSED)");
		reply_rcode(nd, to, &pq, MSB_DNS_RCODE_REFUSED);
		return;
	}
	if (!nd->cfg.nresolvers) {
		reply_rcode(nd, to, &pq, MSB_DNS_RCODE_SERVFAIL);
		return;
	}
	if (to->st && to->st->pending >= STREAM_PENDING) {
		reply_rcode(nd, to, &pq, MSB_DNS_RCODE_SERVFAIL);
		return;
	}
	/* the host's resolvers serve every sandbox: one may not flood them */
	if (!ratelimit_allow(&nd->dns->rate, nd->now, NULL)) {
		nd->st.refused_cap++;
		dns_event(nd, "refuse", pq.name,
			  "cap dns_rate reached (SERVFAIL)");
		reply_rcode(nd, to, &pq, MSB_DNS_RCODE_SERVFAIL);
		return;
	}
	struct query *q = query_get(nd);
	if (!q) {
		nd->st.refused_cap++;
		dns_event(nd, "refuse", pq.name,
			  "cap dns_queries reached (SERVFAIL)");
		reply_rcode(nd, to, &pq, MSB_DNS_RCODE_SERVFAIL);
		return;
	}
	q->q = pq;
	q->tcp = to->st != NULL;
	q->st = to->st;
	if (q->st)
		q->st->pending++;
	if (to->gdst)
		memcpy(q->gdst, to->gdst, 4);
	q->gport = to->gport;
	q->end = nd->now + (uint64_t)nd->cfg.to.dns * 1000000;
	query_next(nd, q);
}

void netd_dns_udp(struct netd *nd, const struct msb_net_frame *f)
{
	struct dest to = {.gdst = f->dst, .gport = f->sport};
	query_in(nd, &to, f->payload, f->payload_len);
}

/* --- TCP streams -------------------------------------------------------- */

static void stream_kill(struct netd *nd, struct stream *st)
{
	if (st->dead)
		return;
	st->dead = true;
	close(st->fd);
	st->fd = -1;
	nd->dns->streams--;
	/* its queries answer no one now */
	for (unsigned i = 0; i < nd->cfg.caps.dns_queries; i++) {
		struct query *q = &nd->dns->q[i];
		if (q->used && q->st == st) {
			q->st = NULL;
			st->pending--;
		}
	}
	free(st->out);
	st->out = NULL;
	st->gnext = nd->dns->graveyard;
	nd->dns->graveyard = st;
}

/* Done when the guest has sent FIN and every answer went out. */
static bool stream_done(const struct stream *st)
{
	return st->eof && !st->pending && st->outoff == st->outlen;
}

/* Decide the whole queries read so far, while the stream may have more
 * waiting (STREAM_PENDING) and its answers have all gone: so a guest that
 * sends many at once is served as answers come, in bounded memory. */
static void stream_parse(struct netd *nd, struct stream *st)
{
	size_t mlen;
	int r = 0;
	if (st->parsing)
		return; /* query_in() below came back here */
	st->parsing = true;
	while (!st->dead && st->pending < STREAM_PENDING &&
	       st->outoff == st->outlen &&
	       (r = msb_dns_tcp_next(&mlen, st->in, st->inlen)) == 1) {
		struct dest to = {.st = st};
		query_in(nd, &to, st->in + 2, mlen);
		memmove(st->in, st->in + 2 + mlen, st->inlen - 2 - mlen);
		st->inlen -= 2 + mlen;
	}
	st->parsing = false;
	if (!st->dead && (r < 0 || (r == 0 && st->inlen == sizeof(st->in))))
		/* a broken stream, or a message beyond our limit */
		stream_kill(nd, st);
}

static void stream_update(struct netd *nd, struct stream *st)
{
	uint32_t ev = 0;
	if (st->dead)
		return;
	stream_parse(nd, st);
	if (st->dead)
		return;
	if (stream_done(st)) {
		/* closing our end: tcp.c reads what was written, then EOF,
		 * and sends the guest FIN */
		stream_kill(nd, st);
		return;
	}
	if (st->outoff < st->outlen)
		ev |= EPOLLOUT;
	else if (!st->eof && st->pending < STREAM_PENDING)
		ev |= EPOLLIN;
	/* none: not even hangups, which would fire while answers are
	 * awaited after the guest's FIN (a failed send ends the stream) */
	netd_watch(nd, st->fd, &st->ev, &st->events, ev);
}

static void stream_flush(struct netd *nd, struct stream *st)
{
	while (!st->dead && st->outoff < st->outlen) {
		ssize_t n = send(st->fd, st->out + st->outoff,
				 st->outlen - st->outoff,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				stream_kill(nd, st);
			break;
		}
		st->outoff += (size_t)n;
	}
	if (!st->dead && st->outoff == st->outlen) {
		free(st->out);
		st->out = NULL;
		st->outoff = st->outlen = 0;
	}
	stream_update(nd, st);
}

static void stream_read(struct netd *nd, struct stream *st)
{
	/* a bounded batch of reads */
	for (int i = 0; i < 16 && !st->dead && !st->eof; i++) {
		if (st->pending >= STREAM_PENDING || st->outoff < st->outlen ||
		    st->inlen == sizeof(st->in))
			break;
		ssize_t n = recv(st->fd, st->in + st->inlen,
				 sizeof(st->in) - st->inlen, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				stream_kill(nd, st);
			break;
		}
		if (n == 0) {
			st->eof = true;
			break;
		}
		st->inlen += (size_t)n;
		stream_parse(nd, st);
	}
	stream_update(nd, st);
}

int netd_dns_stream_open(struct netd *nd)
{
	int sv[2];
	if (nd->dns->streams >= NETD_DNS_STREAMS) {
		errno = EAGAIN;
		return -1;
	}
	struct stream *st = malloc(sizeof(*st));
	if (!st)
		return -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
		       sv) < 0) {
		free(st);
		return -1;
	}
	/* queries one way, answers the other: little for the kernel to
	 * hold (dns.c keeps at most STREAM_OUT_MAX of answers itself) */
	int sz = 16384;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	memset(st, 0, offsetof(struct stream, in));
	st->ev.kind = EV_DNS;
	st->type = T_STREAM;
	st->fd = sv[1];
	if (netd_watch(nd, st->fd, &st->ev, &st->events, EPOLLIN) < 0) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		free(st);
		errno = e;
		return -1;
	}
	nd->dns->streams++;
	return sv[0];
}

/* --- the loop ---------------------------------------------------------- */

void netd_dns_event(struct netd *nd, struct netd_ev *ev, uint32_t events)
{
	uint8_t type = ((struct query *)ev)->type;
	if (type == T_QUERY) {
		struct query *q = (struct query *)ev;
		if (q->used)
			query_event(nd, q);
		return;
	}
	struct stream *st = (struct stream *)ev;
	if (st->dead)
		return;
	if (events & EPOLLOUT)
		stream_flush(nd, st);
	if (!st->dead &&
	    (events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)))
		stream_read(nd, st);
	if (!st->dead && (events & (EPOLLHUP | EPOLLERR)) &&
	    st->outoff == st->outlen && !(events & EPOLLIN))
		stream_kill(nd, st);
}

void netd_dns_turn(struct netd *nd)
{
	struct netd_dns *d = nd->dns;
	while (d->graveyard) {
		struct stream *st = d->graveyard;
		d->graveyard = st->gnext;
		free(st);
	}
	if (!d->next || nd->now < d->next)
		return;
	d->next = 0;
	for (unsigned i = 0; i < nd->cfg.caps.dns_queries; i++) {
		struct query *q = &d->q[i];
		if (!q->used)
			continue;
		if (nd->now >= q->deadline)
			query_next(nd, q);
		if (q->used)
			note_deadline(nd, q->deadline);
	}
}

void netd_dns_wait(const struct netd *nd, uint64_t *wait_us)
{
	uint64_t t = nd->dns ? nd->dns->next : 0;
	if (!t)
		return;
	uint64_t w = t > nd->now ? t - nd->now : 0;
	if (w < *wait_us)
		*wait_us = w;
}
