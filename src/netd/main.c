// SPDX-License-Identifier: Apache-2.0
/*
 * msb-netd: the userspace network of one sandbox.
 *
 * DOC: Theory of operation
 *
 * The guest's virtio-net device is one end of a SOCK_DGRAM socketpair
 * (QEMU -netdev socket,fd=); msb-netd holds the other end (--link-fd) and
 * reads and writes one Ethernet frame per datagram. Any descriptor that
 * carries one frame per read()/write() works, a TAP device included (the
 * tests use one). msb-netd is the guest's gateway: it answers ARP for the
 * subnet, terminates every TCP connection in lwIP (the packaged
 * liblwip, raw API, driven from this loop: lwip_init() and
 * sys_check_timeouts(), no tcpip thread) and re-opens it from a host
 * socket, relays UDP and ICMP echo through host sockets, and refuses
 * IPv6 at once (reset, or ICMPv6 unreachable). It answers DNS on port
 * 53 of any address itself (dns.c). Published ports (publish.c) are host
 * listeners whose clients it connects to the guest through lwIP. Nothing
 * is routed, nothing needs privileges: what leaves the host leaves from
 * ordinary sockets of this process, after the egress policy allowed it.
 *
 * One thread, one epoll loop, non-blocking descriptors only: the link,
 * a signalfd (SIGTERM, SIGINT: exit), one socket per published port and
 * one per flow. Each turn handles the ready descriptors (a bounded batch
 * each), runs lwIP's timers, once a second expires flows, sweeps a slice
 * of the pin set for expired pins and writes the stats, and frees the
 * flows killed during the turn (so no callback ever sees a freed flow).
 *
 * Memory is bounded by the caps of the configuration: flows (and half-
 * open ones), bytes buffered per flow and in all, the link queue, lwIP's
 * TIME_WAIT list; see link.c, tcp.c and udp.c for how each path respects
 * them. What goes beyond a cap is refused the way a network refuses
 * (reset, ICMP unreachable), logged and counted.
 *
 * Usage: msb-netd --link-fd N --config FILE [--log FILE] [--stats FILE]
 *                 [--stats-fd N] [--tls-fd N]
 *   --link-fd N    the guest link (inherited; made non-blocking)
 *   --config FILE  JSON: addresses, policy, caps, timeouts (config.c,
 *                  docs/network.md)
 *   --log FILE     net.log: start, deny and cap events, errors (appended,
 *                  rotated at log_max); default stderr
 *   --stats FILE   counters as one JSON object, replaced atomically at
 *                  most once a second while they change, and at exit
 *   --stats-fd N   the same object as one datagram on N (inherited; a
 *                  SOCK_DGRAM socket, the supervisor's): a whole update
 *                  or none, never a torn one; if the reader is behind,
 *                  the update is sent again at the next tick
 *   --tls-fd N     TLS interception's CA and the secrets: one JSON object
 *                  read to EOF, then closed (inherited; required when the
 *                  configuration has "tls", refused otherwise; tls.c)
 * It exits 0 on SIGTERM/SIGINT or when the link's peer is gone (and when
 * its parent dies), 1 on a failure to start (one line on stderr: a bad
 * configuration, a published port that cannot be bound). The published
 * ports are bound before the "start" line and the first stats file.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lwip/timeouts.h"
#include "netd/netd.h"
#include "netd/syscalls.h"
#include "util/util.h"

#define TICK_US 1000000
/* Pin-set buckets swept a tick: the default set (8192 buckets) in 16 s,
 * so a pin no lookup meets is freed within 16 s of its expiry. */
#define PINS_SWEEP 512

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
	va_list ap;
	fputs("msb-netd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

void netd_log(struct netd *nd, const char *fmt, ...)
{
	char rec[LOGFILE_LINE];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(rec, sizeof(rec), "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(rec + n, sizeof(rec) - n, ".%03ldZ ",
			      ts.tv_nsec / 1000000);
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(rec + n, sizeof(rec) - n - 1, fmt, ap);
	va_end(ap);
	if (k < 0)
		return;
	n += (size_t)k < sizeof(rec) - n - 1 ? (size_t)k : sizeof(rec) - n - 2;
	rec[n++] = '\n';
	if (nd->log.fd >= 0)
		logfile_write(&nd->log, rec, n);
	else
		write_all(STDERR_FILENO, rec, n);
}

static const char *proto_name(uint8_t proto)
{
	switch (proto) {
	case MSB_NET_IPPROTO_TCP:
		return "tcp";
	case MSB_NET_IPPROTO_UDP:
		return "udp";
	case MSB_NET_IPPROTO_ICMP:
		return "icmp";
	default:
		return "ip";
	}
}

void netd_event(struct netd *nd, const char *what, uint8_t proto,
		const uint8_t dst[4], uint16_t port, const char *why)
{
	uint64_t suppressed = 0;
	char name[300], reason[400];
	if (!ratelimit_allow(&nd->event_rl, nd->now, &suppressed))
		return;
	if (suppressed)
		netd_log(nd, "%" PRIu64 " events suppressed (rate limit)",
			 suppressed);
	logfile_escape(name, sizeof(name), (const uint8_t *)nd->cfg.sandbox,
		       strlen(nd->cfg.sandbox), true);
	logfile_escape(reason, sizeof(reason), (const uint8_t *)why,
		       strlen(why), true);
	if (proto == MSB_NET_IPPROTO_ICMP)
		netd_log(nd, "%s %s %u.%u.%u.%u sandbox=\"%s\" reason=\"%s\"",
			 what, proto_name(proto), dst[0], dst[1], dst[2],
			 dst[3], name, reason);
	else
		netd_log(nd,
			 "%s %s %u.%u.%u.%u:%u sandbox=\"%s\" reason=\"%s\"",
			 what, proto_name(proto), dst[0], dst[1], dst[2],
			 dst[3], port, name, reason);
}

void netd_sock_buffers(const struct netd *nd, int fd)
{
	/* fixed sizes also turn the kernel's autotuning off, which would
	 * grow each buffer to tcp_rmem[2] / tcp_wmem[2] */
	int n = nd->cfg.caps.sock_buffer > INT_MAX / 2
			? INT_MAX / 2
			: (int)nd->cfg.caps.sock_buffer;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &n, sizeof(n));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &n, sizeof(n));
}

int netd_watch(struct netd *nd, int fd, struct netd_ev *ev, uint32_t *cur,
	       uint32_t events)
{
	if (*cur == events)
		return 0;
	struct epoll_event e = {.events = events, .data.ptr = ev};
	int op = !*cur     ? EPOLL_CTL_ADD
		 : !events ? EPOLL_CTL_DEL
			   : EPOLL_CTL_MOD;
	if (epoll_ctl(nd->epfd, op, fd, &e) < 0)
		return -1;
	*cur = events;
	return 0;
}

static void write_stats(struct netd *nd)
{
	char buf[2048], tmp[4200];
	if (!nd->stats_path[0] && nd->stats_fd < 0)
		return;
	const struct netd_stats *s = &nd->st;
	int n = snprintf(
		buf, sizeof(buf),
		"{\"rx_frames\":%" PRIu64 ",\"rx_bytes\":%" PRIu64
		",\"tx_frames\":%" PRIu64 ",\"tx_bytes\":%" PRIu64
		",\"rx_dropped\":%" PRIu64 ",\"tx_dropped\":%" PRIu64
		",\"flows\":%u,\"tcp_open\":%u,\"udp_open\":%u"
		",\"icmp_open\":%u,\"pending\":%u,\"buffered\":%zu"
		",\"tcp_flows\":%" PRIu64 ",\"udp_flows\":%" PRIu64
		",\"icmp_flows\":%" PRIu64 ",\"denied\":%" PRIu64
		",\"refused_cap\":%" PRIu64 ",\"upstream_failed\":%" PRIu64
		",\"timeouts\":%" PRIu64 ",\"ip6_refused\":%" PRIu64
		",\"inbound_flows\":%" PRIu64 ",\"tls_flows\":%" PRIu64
		",\"http_requests\":%" PRIu64 ",\"http_blocked\":%" PRIu64
		",\"secrets_substituted\":%" PRIu64 "}\n",
		s->rx_frames, s->rx_bytes, s->tx_frames, s->tx_bytes,
		s->rx_dropped, s->tx_dropped, nd->flows, nd->tcp_open,
		nd->udp_open, nd->icmp_open, nd->pending, nd->buffered,
		s->tcp_flows, s->udp_flows, s->icmp_flows, s->denied,
		s->refused_cap, s->upstream_failed, s->timeouts, s->ip6_refused,
		s->inbound_flows, s->tls_flows, s->http_requests,
		s->http_blocked, s->secrets_substituted);
	nd->stats_dirty = false;
	nd->stats_written = nd->now;
	if (nd->stats_fd >= 0 && send(nd->stats_fd, buf, (size_t)n,
				      MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
		    errno == ENOBUFS)
			nd->stats_dirty = true; /* again at the next tick */
		else
			close_fd(&nd->stats_fd); /* the reader is gone */
	}
	if (!nd->stats_path[0])
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", nd->stats_path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		nd->stats_dirty = true; /* again at the next tick */
		return;
	}
	int rc = write_all(fd, buf, (size_t)n);
	close(fd);
	if (rc < 0 || rename(tmp, nd->stats_path) < 0)
		unlink(tmp);
}

/* As many descriptors as the hard limit allows; fewer flows if few. */
static void fit_fd_limit(struct netd *nd)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur == RLIM_INFINITY)
		return;
	/* DNS queries waiting upstream hold a socket each */
	if (nd->cfg.caps.dns_queries > rl.rlim_cur / 4)
		nd->cfg.caps.dns_queries =
			rl.rlim_cur >= 8 ? (unsigned)rl.rlim_cur / 4 : 1;
	/* the published ports' listeners, and the second descriptor of
	 * each DNS-over-TCP flow (its socketpair) */
	unsigned reserve = 64 + nd->cfg.caps.dns_queries + nd->cfg.n_ports +
			   NETD_DNS_STREAMS;
	if (nd->cfg.caps.max_flows + reserve > rl.rlim_cur) {
		unsigned fit = rl.rlim_cur > 2 * reserve
				       ? (unsigned)rl.rlim_cur - reserve
				       : 64;
		netd_log(nd,
			 "max_flows %u lowered to %u (open files limit %llu)",
			 nd->cfg.caps.max_flows, fit,
			 (unsigned long long)rl.rlim_cur);
		nd->cfg.caps.max_flows = fit;
		if (nd->cfg.caps.max_pending > fit)
			nd->cfg.caps.max_pending = fit;
	}
}

static void usage(FILE *f)
{
	fputs("usage: msb-netd --link-fd N --config FILE [--log FILE] [--stats FILE]\n"
	      "                [--stats-fd N] [--tls-fd N]\n",
	      f);
}

int main(int argc, char **argv)
{
	static struct netd nd_s;
	struct netd *nd = &nd_s;
	const char *config = NULL, *log = NULL, *stats = NULL;
	int linkfd = -1, statsfd = -1, tlsfd = -1;
	static const struct option opts[] = {
		{"link-fd", required_argument, NULL, 'l'},
		{"config", required_argument, NULL, 'c'},
		{"log", required_argument, NULL, 'L'},
		{"stats", required_argument, NULL, 's'},
		{"stats-fd", required_argument, NULL, 'S'},
		{"tls-fd", required_argument, NULL, 'T'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		uint64_t v;
		switch (c) {
		case 'l':
			if (msb_parse_dec(optarg, strlen(optarg), &v) < 0 ||
			    v > 65535)
				die("--link-fd: not a descriptor number: %s",
				    optarg);
			linkfd = (int)v;
			break;
		case 'c':
			config = optarg;
			break;
		case 'L':
			log = optarg;
			break;
		case 's':
			stats = optarg;
			break;
		case 'S':
			if (msb_parse_dec(optarg, strlen(optarg), &v) < 0 ||
			    v > 65535)
				die("--stats-fd: not a descriptor number: %s",
				    optarg);
			statsfd = (int)v;
			break;
		case 'T':
			if (msb_parse_dec(optarg, strlen(optarg), &v) < 0 ||
			    v > 65535)
				die("--tls-fd: not a descriptor number: %s",
				    optarg);
			tlsfd = (int)v;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc || linkfd < 0 || !config) {
		usage(stderr);
		return 2;
	}
	if (fcntl(linkfd, F_GETFD) < 0)
		die("--link-fd %d: not an open descriptor", linkfd);
	if (statsfd >= 0 && (statsfd == linkfd || fcntl(statsfd, F_GETFD) < 0))
		die("--stats-fd %d: not an open descriptor", statsfd);
	if (tlsfd >= 0 &&
	    (tlsfd == linkfd || tlsfd == statsfd || fcntl(tlsfd, F_GETFD) < 0))
		die("--tls-fd %d: not an open descriptor", tlsfd);

	/* a supervisor that dies takes its network with it */
	pid_t parent = getppid();
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		return 0;

	char err[512];
	nd->log.fd = -1;
	nd->epfd = nd->sigfd = -1;
	nd->stats_fd = -1;
	nd->event_rl.burst = 50;
	nd->event_rl.per_s = 10;
	if (netd_config_load(&nd->cfg, config, err, sizeof(err)) < 0)
		die("%s", err);
	if (nd->cfg.tls.on && tlsfd < 0)
		die("config has \"tls\": --tls-fd is required");
	if (!nd->cfg.tls.on && tlsfd >= 0)
		die("--tls-fd: the configuration has no \"tls\"");
	if (tlsfd >= 0 && netd_tls_init(nd, tlsfd, err, sizeof(err)) < 0)
		die("%s", err);
	if (log && logfile_open(&nd->log, log, nd->cfg.log_max) < 0)
		die("--log `%s`: %s", log, strerror(errno));
	if (stats) {
		if (strlen(stats) >= sizeof(nd->stats_path) - 8)
			die("--stats: path too long");
		snprintf(nd->stats_path, sizeof(nd->stats_path), "%s", stats);
	}
	nd->ping_ok = -1;
	nd->linkfd = linkfd;
	if (statsfd >= 0) {
		int type = 0;
		socklen_t tl = sizeof(type);
		if (getsockopt(statsfd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 ||
		    type != SOCK_DGRAM)
			die("--stats-fd %d: not a datagram socket", statsfd);
		if (fcntl(statsfd, F_SETFD, FD_CLOEXEC) < 0)
			die("--stats-fd %d: %s", statsfd, strerror(errno));
		nd->stats_fd = statsfd;
	}
	fit_fd_limit(nd);
	unsigned seed;
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (unsigned)now_us();
	srand(seed); /* lwIP's LWIP_RAND(): ports, initial sequence numbers */

	signal(SIGPIPE, SIG_IGN);
	sigset_t ss;
	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	nd->sigfd = signalfd(-1, &ss, SFD_NONBLOCK | SFD_CLOEXEC);
	nd->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (nd->sigfd < 0 || nd->epfd < 0)
		die("epoll/signalfd: %s", strerror(errno));
	if (set_nonblock(linkfd, 1) < 0 ||
	    fcntl(linkfd, F_SETFD, FD_CLOEXEC) < 0)
		die("--link-fd %d: %s", linkfd, strerror(errno));
	nd->link_ev.kind = EV_LINK;
	nd->sig_ev.kind = EV_SIGNAL;
	struct epoll_event le = {.events = EPOLLIN, .data.ptr = &nd->link_ev};
	struct epoll_event se = {.events = EPOLLIN, .data.ptr = &nd->sig_ev};
	if (epoll_ctl(nd->epfd, EPOLL_CTL_ADD, linkfd, &le) < 0 ||
	    epoll_ctl(nd->epfd, EPOLL_CTL_ADD, nd->sigfd, &se) < 0)
		die("epoll_ctl: %s", strerror(errno));
	nd->now = now_us();
	if (flows_init(nd) < 0 || tflow_init(nd) < 0 || link_init(nd) < 0 ||
	    netd_dns_init(nd) < 0)
		die("initialisation: out of memory");
	if (publish_init(nd, err, sizeof(err)) < 0)
		die("%s", err);

	const struct netd_config *cf = &nd->cfg;
	netd_log(
		nd,
		"start: guest %u.%u.%u.%u/%u gateway %u.%u.%u.%u mtu %u preset %s rules %zu max_flows %u max_pending %u",
		cf->guest_ip[0], cf->guest_ip[1], cf->guest_ip[2],
		cf->guest_ip[3], cf->prefix, cf->gw_ip[0], cf->gw_ip[1],
		cf->gw_ip[2], cf->gw_ip[3], cf->mtu,
		msb_net_preset_name(msb_net_policy_preset(cf->policy)),
		msb_net_policy_rule_count(cf->policy), cf->caps.max_flows,
		cf->caps.max_pending);
	netd_dns_log_start(nd);
	publish_log(nd);
	if (nd->tls)
		netd_tls_log_start(nd);
	write_stats(nd);

	/* From here on only the steady state's system calls (syscalls.c). */
	if (netd_seccomp() < 0)
		netd_log(nd, "seccomp: no system call filter (%s)",
			 errno == ENOSYS ? "unavailable in this kernel"
					 : strerror(errno));
	else
		netd_log(nd, "seccomp: filter on%s",
			 getenv("MSB_SECCOMP") &&
					 !strcmp(getenv("MSB_SECCOMP"), "log")
				 ? " (MSB_SECCOMP=log: calls outside it fail "
				   "with ENOSYS, logged)"
				 : "");
	uint64_t next_tick = nd->now + TICK_US;
	while (!nd->quit) {
		struct epoll_event evs[64];
		nd->now = now_us();
		uint64_t wait_us =
			next_tick > nd->now ? next_tick - nd->now : 0;
		u32_t lw = sys_timeouts_sleeptime();
		if (lw != SYS_TIMEOUTS_SLEEPTIME_INFINITE &&
		    (uint64_t)lw * 1000 < wait_us)
			wait_us = (uint64_t)lw * 1000;
		netd_dns_wait(nd, &wait_us);
		int n = epoll_wait(nd->epfd, evs, 64,
				   (int)((wait_us + 999) / 1000));
		if (n < 0 && errno != EINTR)
			die("epoll_wait: %s", strerror(errno));
		nd->now = now_us();
		for (int i = 0; i < n; i++) {
			struct netd_ev *ev = evs[i].data.ptr;
			uint32_t e = evs[i].events;
			if (ev->kind == EV_LINK) {
				if (e & EPOLLOUT)
					link_writable(nd);
				if (e & (EPOLLIN | EPOLLERR | EPOLLHUP))
					link_readable(nd);
			} else if (ev->kind == EV_SIGNAL) {
				struct signalfd_siginfo si;
				if (read(nd->sigfd, &si, sizeof(si)) > 0) {
					netd_log(nd, "signal %u: exiting",
						 si.ssi_signo);
					nd->quit = true;
				}
			} else if (ev->kind == EV_DNS) {
				netd_dns_event(nd, ev, e);
			} else if (ev->kind == EV_PUBLISH) {
				publish_event(nd, ev, e);
			} else {
				struct flow *fl = (struct flow *)ev;
				if (fl->dead)
					continue;
				if (fl->proto == MSB_NET_IPPROTO_TCP)
					tflow_event(nd, fl, e);
				else
					dflow_event(nd, fl, e);
			}
		}
		sys_check_timeouts();
		if (nd->now >= next_tick) {
			flows_tick(nd);
			tflow_trim_timewait(nd);
			publish_tick(nd);
			msb_pins_sweep(nd->pins, nd->now / 1000000, PINS_SWEEP);
			next_tick = nd->now + TICK_US;
		}
		if (nd->budget_blocked &&
		    nd->buffered < nd->cfg.caps.total_buffer / 4 * 3) {
			nd->budget_blocked = false;
			tflow_budget_freed(nd);
		}
		if (nd->stats_dirty && nd->now - nd->stats_written >= TICK_US)
			write_stats(nd);
		netd_dns_turn(nd);
		flows_reap(nd);
	}
	write_stats(nd);
	logfile_close(&nd->log);
	return 0;
}
