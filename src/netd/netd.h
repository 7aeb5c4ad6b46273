/* SPDX-License-Identifier: Apache-2.0 */
/*
 * msb-netd internals shared by its files: the configuration, the process
 * state (one struct netd), flows and the functions each file provides.
 * See main.c for the theory of operation.
 */
#ifndef MSB_NETD_H
#define MSB_NETD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "lwip/netif.h"
#include "net/frame.h"
#include "net/pins.h"
#include "net/policy.h"
#include "net/portspec.h"
#include "vmm/logfile.h"

/* Largest Ethernet frame on the link (MTU 9000 + header); link reads
 * beyond this are dropped. */
#define NETD_FRAME_MAX 9014
/* A guest->host TCP queue holds at most this many received chains; more
 * and lwIP keeps the data (it stops acknowledging: flow control). */
#define NETD_TCP_QUEUE 64
/* Seconds a released TCP connection may take to finish its closing
 * handshake in lwIP (tflow_trim_timewait()). */
#define NETD_DETACHED_AGE 60
/* Out-of-order segments lwIP may hold for one flow. */
#define NETD_TCP_OOSEQ 16
/* DNS: the port netd answers on any address, and at most this many
 * upstream resolvers. */
#define NETD_DNS_PORT 53
#define NETD_RESOLVERS_MAX 8
/* Published ports in a configuration. */
#define NETD_MAX_PORTS 256
/* DNS-over-TCP connections at once (each holds a socketpair: two
 * descriptors, and up to 256 KiB of answers in dns.c). */
#define NETD_DNS_STREAMS 64
/* Host clients of one published UDP port with a flow at once. */
#define NETD_PUB_CLIENTS 256

struct netd_caps {
	unsigned max_flows;   /* TCP + UDP + ICMP flows open at once */
	unsigned max_pending; /* TCP flows connecting or in handshake */
	size_t flow_buffer;   /* bytes held for one flow, host -> guest */
	size_t total_buffer;  /* bytes held for all flows, both ways */
	size_t link_queue;    /* bytes queued for the guest link */
	size_t sock_buffer;   /* SO_RCVBUF, SO_SNDBUF of a flow's host TCP
			       * socket (the kernel's memory, outside
			       * total_buffer) */
	unsigned dns_queries; /* DNS queries waiting for an upstream answer */
	unsigned dns_rate;    /* DNS queries sent upstream a second (burst:
			       * twice as many) */
};

struct netd_timeouts {      /* seconds */
	unsigned connect;   /* upstream connect */
	unsigned handshake; /* guest handshake after the upstream connect */
	unsigned tcp_idle;  /* open TCP flow without traffic */
	unsigned tcp_half;  /* half-closed TCP flow without traffic */
	unsigned udp_idle;  /* UDP flow without traffic */
	unsigned icmp_idle; /* echo flow without traffic */
	unsigned dns;       /* a DNS query, all resolvers tried */
};

/* "tls": TLS interception and secrets (tls.c) */
#define NETD_TLS_PORTS 16
#define NETD_TLS_BYPASS 256
struct netd_tls_config {
	bool on;        /* the object is present: --tls-fd is required */
	bool intercept; /* intercept TLS on the ports below */
	uint16_t ports[NETD_TLS_PORTS];
	unsigned n_ports;
	char bypass[NETD_TLS_BYPASS][256]; /* "name" or "*.suffix", lowercase */
	unsigned n_bypass;
};

struct netd_config {
	char sandbox[128];
	uint8_t guest_mac[6], gw_mac[6];
	uint8_t guest_ip[4], gw_ip[4];
	unsigned prefix; /* of the guest's subnet */
	unsigned mtu;
	struct msb_net_policy *policy; /* owned; the gateway is its host */
	struct netd_caps caps;
	struct netd_timeouts to;
	uint64_t log_max; /* bytes of net.log before it rotates */
	/* upstream DNS resolvers ("resolvers", else the host's
	 * /etc/resolv.conf IPv4 nameservers at startup) */
	struct sockaddr_in resolvers[NETD_RESOLVERS_MAX];
	unsigned nresolvers;
	bool resolvers_given; /* by the configuration */
	/* the policy has a domain or suffix rule, or a blocked name: DoT
	 * and QUIC are refused so that lookups go through netd */
	bool domain_rules;
	/* published ports: host address and port -> guest port */
	struct msb_net_portspec ports[NETD_MAX_PORTS];
	unsigned n_ports;
	struct netd_tls_config tls;
};

/*
 * netd_config_load() - read and check the JSON configuration at @path
 * into @c (defaults for what it omits). On failure, @err (@errlen bytes)
 * says what is wrong in one line.
 * Return: 0, or -1.
 */
int netd_config_load(struct netd_config *c, const char *path, char *err,
		     size_t errlen);
/* netd_errf() - a one-line error: @fmt into @err (@errlen bytes).
 * Return: -1, for `return netd_errf(...)`. */
int netd_errf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The defaults, as netd_config_load() starts from. */
void netd_config_defaults(struct netd_config *c);

/* Counters for `msb metrics`, written to the stats file. */
struct netd_stats {
	uint64_t rx_frames, rx_bytes; /* from the guest */
	uint64_t tx_frames, tx_bytes; /* to the guest */
	uint64_t rx_dropped;          /* malformed, spoofed, unsupported */
	uint64_t tx_dropped;          /* link queue full */
	uint64_t tcp_flows, udp_flows, icmp_flows; /* opened, in all */
	uint64_t denied;                           /* by the policy */
	uint64_t refused_cap;                      /* beyond a cap */
	uint64_t upstream_failed; /* refused, unreachable, timed out */
	uint64_t timeouts;        /* flows ended for idleness */
	uint64_t ip6_refused;
	uint64_t inbound_flows; /* through published ports, opened in all */
	uint64_t tls_flows;     /* TLS flows intercepted (two legs) */
	uint64_t http_requests; /* requests read in followed flows */
	uint64_t http_blocked;  /* ...answered 403 by netd */
	uint64_t secrets_substituted; /* requests that got a secret */
};

/* What an epoll event belongs to (first member of its owner). */
enum netd_ev_kind { EV_LINK = 1, EV_SIGNAL, EV_FLOW, EV_DNS, EV_PUBLISH };
struct netd_ev {
	enum netd_ev_kind kind;
};

enum tflow_state {
	TCP_CONNECTING, /* upstream connect in progress; guest SYN held */
	TCP_HANDSHAKE,  /* SYN given to lwIP; waiting for its accept (or,
			 * inbound, lwIP's SYN to the guest's answer) */
	TCP_OPEN,       /* proxying */
};

/*
 * struct flow - one guest flow and the host socket it is proxied through.
 * Keyed by (proto, destination, guest port, destination port); for ICMP
 * echo, sport is the guest's identifier and dport 0. An inbound flow (a
 * published port's) has the gateway as destination, the guest's port as
 * sport and netd's port on the gateway as dport: the guest's packets of
 * it find it like any other.
 */
struct flow {
	struct netd_ev ev;
	struct flow *hnext;       /* hash chain */
	struct flow *prev, *next; /* all live flows, oldest first */
	uint8_t proto;
	uint8_t dst[4];
	uint16_t sport, dport;
	int fd;
	uint32_t events; /* registered with epoll */
	uint64_t last;   /* last traffic, µs */
	bool dead;       /* killed; freed at the end of the loop turn */
	bool pending;    /* counted in netd.pending */

	/* TCP */
	enum tflow_state st;
	struct tcp_pcb *pcb;
	uint64_t deadline; /* connect or handshake, µs */
	uint8_t *syn;      /* the held SYN frame (TCP_CONNECTING) */
	size_t syn_len;
	bool listening; /* holds a reference on the port's listener */
	/* guest -> host: received chains not yet written to the host */
	struct pbuf *q[NETD_TCP_QUEUE];
	unsigned qhead, qn;
	size_t qoff; /* bytes of q[qhead]'s first pbuf already written */
	size_t qbytes;
	size_t ooseq;   /* bytes lwIP holds out of order (in buffered) */
	bool guest_fin; /* the guest sent FIN */
	bool host_shut; /* ...and the host socket was shut down for writes */
	/* host -> guest */
	uint8_t *stash; /* read from the host, lwIP had no room */
	size_t stash_len;
	size_t lw_out;     /* bytes given to lwIP, not yet acknowledged */
	bool host_eof;     /* the host socket reached EOF */
	bool host_reset;   /* the host reset it before the guest handshake */
	bool fin_sent;     /* ...and lwIP was told to send FIN */
	bool fin_ack_held; /* the ACK of the guest's FIN waits for ours */

	/* UDP and ICMP: the start of the last guest datagram (IP header and
	 * 8 bytes), quoted in ICMP errors */
	uint8_t head[68];
	uint8_t head_len;

	/* inbound: the published port it came through; for UDP, the host
	 * client its replies go to (IPv4 in a sockaddr_in's first bytes) */
	struct netd_pub *pub;
	struct sockaddr_in6 peer;
	socklen_t peer_len;

	/* TLS interception, HTTP following (tls.c); NULL: raw */
	struct tflow_tls *tx;
};

struct netd_dns;
struct netd_tls;
struct tflow_tls;

struct netd {
	struct netd_config cfg;
	int epfd, linkfd, sigfd;
	struct netd_ev link_ev, sig_ev;
	struct netif netif;
	uint64_t now;   /* µs, CLOCK_MONOTONIC, set each loop turn */
	uint64_t ticks; /* flows_tick() calls */
	bool quit;

	/* link transmit queue, used when the peer is not reading */
	struct txq_ent *txq_head, *txq_tail;
	size_t txq_bytes;
	bool link_out; /* EPOLLOUT registered on the link */

	/* flows */
	struct flow **hash;
	size_t hash_mask;
	struct flow *oldest, *newest;
	struct flow *graveyard;
	unsigned flows, pending;
	unsigned tcp_open, udp_open, icmp_open;
	size_t buffered;     /* see struct netd_caps.total_buffer */
	bool budget_blocked; /* a flow stopped reading for the budget */
	int ping_ok;         /* ICMP sockets: 1 yes, 0 no, -1 not tried */
	uint16_t ip_id;

	struct netd_dns *dns;  /* dns.c */
	struct netd_tls *tls;  /* tls.c; NULL without "tls" */
	struct msb_pins *pins; /* names this sandbox resolved */
	/* published ports (publish.c), one per cfg.ports entry */
	struct netd_pub *pubs;
	unsigned n_pubs;

	struct netd_stats st;
	struct logfile log;
	struct ratelimit event_rl;
	char stats_path[4096];
	int stats_fd; /* --stats-fd: one datagram per update; -1: none */
	uint64_t stats_written; /* µs */
	bool stats_dirty;
};

/* main.c */
/* Log one record (printf-style; the caller escapes guest text). */
void netd_log(struct netd *nd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A deny or cap event: rate-limited, counted in @nd->st by the caller. */
void netd_event(struct netd *nd, const char *what, uint8_t proto,
		const uint8_t dst[4], uint16_t port, const char *why);
/* Set the kernel buffers of the host TCP socket @fd to
 * caps.sock_buffer (before its connect or listen: the window follows). */
void netd_sock_buffers(const struct netd *nd, int fd);
/* (Re)register @fd with epoll for @events, pointing at @ev; 0 events
 * still reports errors. */
int netd_watch(struct netd *nd, int fd, struct netd_ev *ev, uint32_t *cur,
	       uint32_t events);

/* link.c */
int link_init(struct netd *nd);
void link_readable(struct netd *nd);
void link_writable(struct netd *nd);
/* Send a whole frame to the guest (queued if the peer is busy). */
void link_send(struct netd *nd, const uint8_t *frame, size_t len);
/* Send an IPv4 datagram @l4 from @src to the guest, in fragments if it
 * exceeds the MTU. */
void link_send_ip4(struct netd *nd, uint8_t proto, const uint8_t src[4],
		   const uint8_t *l4, size_t len);
/* Give the guest's IPv4 packet @f to lwIP. */
void link_feed_lwip(struct netd *nd, const struct msb_net_frame *f);
/* Answer @f with a reset / ICMP unreachable (from @src: NULL for its
 * destination). */
void link_reset(struct netd *nd, const struct msb_net_frame *f);
void link_unreach(struct netd *nd, const struct msb_net_frame *f, uint8_t code,
		  const uint8_t *src);

/* flow.c */
int flows_init(struct netd *nd);
struct flow *flow_find(struct netd *nd, uint8_t proto, const uint8_t dst[4],
		       uint16_t sport, uint16_t dport);
/* A new flow in the table, or NULL (ENOMEM). Caps are the caller's. */
struct flow *flow_new(struct netd *nd, uint8_t proto, const uint8_t dst[4],
		      uint16_t sport, uint16_t dport);
/* Unlink @fl, close its socket (with a reset if @rst), free it later. */
void flow_kill(struct netd *nd, struct flow *fl, bool rst);
void flow_set_pending(struct netd *nd, struct flow *fl, bool on);
/* Free what was killed (end of each loop turn). */
void flows_reap(struct netd *nd);
/* Expire idle flows and missed deadlines (once a second). */
void flows_tick(struct netd *nd);
/* The host address that serves guest destination @dst (the gateway is
 * the host's loopback). */
void flow_upstream(const struct netd *nd, const uint8_t dst[4], uint16_t port,
		   struct sockaddr_in *sa);
/* Whether another flow may open now; if not, log and count why. */
bool flow_admit(struct netd *nd, uint8_t proto, const uint8_t dst[4],
		uint16_t port, bool pending);

/* egress.c */
/*
 * netd_egress_allowed() - whether the policy lets the guest reach @dst,
 * @ipproto (an IP protocol number), @port; @why (@cap bytes) gets what
 * decided, for the log.
 */
bool netd_egress_allowed(const struct netd *nd, const uint8_t dst[4],
			 uint8_t ipproto, uint16_t port, char *why, size_t cap);
/*
 * netd_egress_recheck() - @fd was connected upstream for the allowed
 * destination @dst: if it reached this host after all (its peer is a
 * loopback address, or the local address the kernel chose for it: an
 * address of the host's own, or 0.0.0.0, which Linux sends to
 * 127.0.0.1), the flow is judged again as the `host` group (as the
 * gateway) with @ipproto and @port; @why (@cap bytes) gets why not.
 * Return: true to go on, false if that denies it.
 */
bool netd_egress_recheck(const struct netd *nd, int fd, const uint8_t dst[4],
			 uint8_t ipproto, uint16_t port, char *why, size_t cap);

/* dns.c */
int netd_dns_init(struct netd *nd);
/* A UDP datagram from the guest to port 53 of any address: answered here,
 * never forwarded as it is. */
void netd_dns_udp(struct netd *nd, const struct msb_net_frame *f);
/* A guest TCP connection to port 53: the descriptor tcp.c proxies the
 * flow to (one end of a socketpair whose other end dns.c serves), or -1
 * (errno set; EAGAIN: NETD_DNS_STREAMS are open). */
int netd_dns_stream_open(struct netd *nd);
void netd_dns_event(struct netd *nd, struct netd_ev *ev, uint32_t events);
/* Once a loop turn, after the events: deadlines, deferred frees. */
void netd_dns_turn(struct netd *nd);
/* Lower *@wait_us to the next DNS deadline. */
void netd_dns_wait(const struct netd *nd, uint64_t *wait_us);
/* Log the resolvers in use (at start). */
void netd_dns_log_start(struct netd *nd);

/* tcp.c */
int tflow_init(struct netd *nd);
/* A TCP segment from the guest (IPv4, not a fragment, parsed from a
 * whole Ethernet frame). */
void tflow_guest(struct netd *nd, const struct msb_net_frame *f);
void tflow_event(struct netd *nd, struct flow *fl, uint32_t events);
void tflow_expire(struct netd *nd, struct flow *fl);
/* The total budget has room again: flows that paused may read. */
void tflow_budget_freed(struct netd *nd);
/* Drop lwIP TIME_WAIT state beyond a cap, and released connections
 * beyond a cap or NETD_DETACHED_AGE (memory bound; once a second). */
void tflow_trim_timewait(struct netd *nd);
/* Release what a TCP flow holds (from flow_kill). */
void tflow_release(struct netd *nd, struct flow *fl, bool rst);

/*
 * tflow_inbound() - a host client @fd (non-blocking, accepted on @pub)
 * to the guest's @guest_port: lwIP connects to the guest from the
 * gateway; the flow opens when the guest accepts and is reset (and @fd
 * with it) if the guest refuses or does not answer within
 * timeouts.handshake. Takes @fd in every case.
 */
void tflow_inbound(struct netd *nd, struct netd_pub *pub, int fd,
		   uint16_t guest_port);

/* Helpers of tcp.c for tls.c: copy up to @cap bytes the guest sent (not
 * yet consumed) into @out; consume @n of them (acknowledging them to the
 * guest); give the guest up to @n bytes (as many as lwIP and the caps
 * take: the count); send the guest FIN now. */
size_t tflow_peek(const struct flow *fl, uint8_t *out, size_t cap);
void tflow_consume(struct netd *nd, struct flow *fl, size_t n);
size_t tflow_to_guest(struct netd *nd, struct flow *fl, const uint8_t *p,
		      size_t n);
void tflow_send_fin(struct netd *nd, struct flow *fl);

/* tls.c */
/*
 * netd_tls_init() - read the CA, upstream CA and secrets from the
 * descriptor @fd (one JSON object, at most 1 MiB; closed), make the
 * TLS contexts (the host's trust store read now). On failure @err
 * (@errlen bytes) says why.
 * Return: 0, or -1.
 */
int netd_tls_init(struct netd *nd, int fd, char *err, size_t errlen);
/* The "tls:" line after "start". */
void netd_tls_log_start(struct netd *nd);
/* How many secrets; the index of the first whose placeholder (without
 * its '$') is in the @n bytes at @p (any case if @nocase), or -1. */
size_t netd_tls_secrets(const struct netd *nd);
int netd_tls_placeholder_in(const struct netd *nd, const uint8_t *p, size_t n,
			    bool nocase);
/* A new TCP flow: mark it for sniffing if interception or secrets
 * concern it. */
void netd_tls_flow_open(struct netd *nd, struct flow *fl);
/* The flow's bytes go through the engine (not raw). */
bool netd_tls_active(const struct flow *fl);
/* Move what can move (@events: the host socket's, or 0). Return: 0, or
 * -1 to reset the flow. */
int netd_tls_run(struct netd *nd, struct flow *fl, uint32_t events);
/* The host socket events the engine waits for. */
uint32_t netd_tls_events(struct netd *nd, struct flow *fl);
/* A TLS handshake of @fl is past timeouts.handshake (logged): reset it. */
bool netd_tls_expired(struct netd *nd, struct flow *fl);
/* Free the engine (from tflow_release). */
void netd_tls_flow_free(struct netd *nd, struct flow *fl);

/* udp.c (UDP and ICMP echo) */
void dflow_udp(struct netd *nd, const struct msb_net_frame *f);
void dflow_icmp(struct netd *nd, const struct msb_net_frame *f);
void dflow_event(struct netd *nd, struct flow *fl, uint32_t events);
/* A datagram @f from the guest to a group address (dropped by link.c):
 * a UDP one to 224.0.0.0/4 is a deny event, never answered. */
void dflow_group(struct netd *nd, const struct msb_net_frame *f);

/* publish.c (published ports) */
/*
 * publish_init() - bind and listen on every published port of the
 * configuration. On failure @err (@errlen bytes) names the port and the
 * reason in one line.
 * Return: 0, or -1.
 */
int publish_init(struct netd *nd, char *err, size_t errlen);
void publish_event(struct netd *nd, struct netd_ev *ev, uint32_t events);
/* Once a second: listeners paused for lack of descriptors resume. */
void publish_tick(struct netd *nd);
/* A UDP datagram @f from the guest on the inbound flow @fl: to its host
 * client. */
void publish_udp_reply(struct netd *nd, struct flow *fl,
		       const struct msb_net_frame *f);
/* The guest answered a datagram of the inbound flow @fl with ICMP
 * destination unreachable @code: the flow ends, with a refuse event. */
void publish_udp_unreach(struct netd *nd, struct flow *fl, uint8_t code);
/* Log the published ports (at start). */
void publish_log(struct netd *nd);

#endif
