// SPDX-License-Identifier: Apache-2.0
/*
 * msb-agent: the guest's network setup.
 *
 * DOC: Theory of operation
 *
 * `lo` is brought up at every boot, with or without a network, so that
 * servers and clients inside the guest can talk over 127.0.0.1.
 *
 * A sandbox with a network has one virtio-net device whose frames go to
 * the host's msb-netd. The hello says so ("net": the guest's address and
 * prefix, the gateway, the device's MAC); the agent then loads the driver
 * (/modules.net, from the initramfs, before the root switch), finds the
 * device by its MAC and configures it with ioctls: address, netmask, up,
 * and a default route through the gateway. No DHCP: the addresses are the
 * host's to choose (the same /30 in every sandbox, each on a link of its
 * own). After the root switch /etc/hosts and /etc/resolv.conf are written
 * into the root filesystem (the gateway is the name server, and
 * host.microsandbox.internal).
 */
#include "net.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"

#define NET_DEV_WAIT_MS 3000

static int set_up(int fd, const char *name, char *err, size_t errlen)
{
	struct ifreq ifr = {0};

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		snprintf(err, errlen, "SIOCGIFFLAGS `%s`: %m", name);
		return -1;
	}
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0) {
		snprintf(err, errlen, "SIOCSIFFLAGS `%s`: %m", name);
		return -1;
	}
	return 0;
}

void agent_net_lo(void)
{
	char err[128];
	_cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		agent_log("socket AF_INET: %m");
		return;
	}
	if (set_up(fd, "lo", err, sizeof(err)) < 0)
		agent_log("%s", err);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000u, (long)(ms % 1000u) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* The name of the device with @mac (any device but lo without one), or
 * false when none is there (yet). */
static bool find_dev(const struct agent_net *n, char name[IFNAMSIZ])
{
	DIR *d = opendir("/sys/class/net");
	struct dirent *de;
	bool found = false;

	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		char path[300], addr[32];
		uint8_t mac[6];
		ssize_t k;

		if (de->d_name[0] == '.' || !strcmp(de->d_name, "lo") ||
		    strlen(de->d_name) >= IFNAMSIZ)
			continue;
		if (!n->has_mac) {
			snprintf(name, IFNAMSIZ, "%s", de->d_name);
			found = true;
			break;
		}
		snprintf(path, sizeof(path), "/sys/class/net/%s/address",
			 de->d_name);
		_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		k = read_all(fd, addr, sizeof(addr) - 1);
		if (k < 17)
			continue;
		if (agent_net_parse_mac(mac, addr, 17) == 0 &&
		    !memcmp(mac, n->mac, sizeof(mac))) {
			snprintf(name, IFNAMSIZ, "%s", de->d_name);
			found = true;
		}
	}
	closedir(d);
	return found;
}

static void sin_set(struct sockaddr *sa, const uint8_t ip[4])
{
	struct sockaddr_in sin = {.sin_family = AF_INET};

	memcpy(&sin.sin_addr, ip, 4);
	memcpy(sa, &sin, sizeof(sin));
}

int agent_net_up(const struct agent_net *n, char *err, size_t errlen)
{
	char name[IFNAMSIZ];
	uint64_t t0 = now_ms();
	uint8_t mask[4];
	uint32_t m = n->prefix ? ~0u << (32 - n->prefix) : 0;

	/* The driver probes the device as it loads; the netdev is
	 * registered by then, but give sysfs a moment. */
	while (!find_dev(n, name)) {
		if (now_ms() - t0 > NET_DEV_WAIT_MS) {
			snprintf(err, errlen,
				 "no network device%s after %u ms (virtio_net "
				 "not loaded?)",
				 n->has_mac ? " with the sandbox's MAC" : "",
				 NET_DEV_WAIT_MS);
			return -1;
		}
		sleep_ms(2);
	}
	mask[0] = (uint8_t)(m >> 24);
	mask[1] = (uint8_t)(m >> 16);
	mask[2] = (uint8_t)(m >> 8);
	mask[3] = (uint8_t)m;

	_cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket AF_INET: %m");
		return -1;
	}
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	sin_set(&ifr.ifr_addr, n->ip);
	if (ioctl(fd, SIOCSIFADDR, &ifr) < 0) {
		snprintf(err, errlen, "SIOCSIFADDR `%s`: %m", name);
		return -1;
	}
	sin_set(&ifr.ifr_netmask, mask);
	if (ioctl(fd, SIOCSIFNETMASK, &ifr) < 0) {
		snprintf(err, errlen, "SIOCSIFNETMASK `%s`: %m", name);
		return -1;
	}
	if (set_up(fd, name, err, errlen) < 0)
		return -1;
	struct rtentry rt = {0};
	static const uint8_t any[4];
	sin_set(&rt.rt_dst, any);
	sin_set(&rt.rt_genmask, any);
	sin_set(&rt.rt_gateway, n->gw);
	rt.rt_flags = RTF_UP | RTF_GATEWAY;
	rt.rt_dev = name;
	if (ioctl(fd, SIOCADDRT, &rt) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "SIOCADDRT default via `%s`: %m", name);
		return -1;
	}
	agent_log("network: %s %u.%u.%u.%u/%u via %u.%u.%u.%u in %llu ms", name,
		  n->ip[0], n->ip[1], n->ip[2], n->ip[3], n->prefix, n->gw[0],
		  n->gw[1], n->gw[2], n->gw[3],
		  (unsigned long long)(now_ms() - t0));
	return 0;
}

/* Replace @path with the @len bytes at @text (a new file renamed over it:
 * a symlink there is replaced, never followed). */
static void write_etc(const char *path, const char *text, size_t len)
{
	char tmp[64];

	snprintf(tmp, sizeof(tmp), "%s.msb-new", path);
	if (mkdir("/etc", 0755) < 0 && errno != EEXIST) {
		agent_log("mkdir `/etc`: %m");
		return;
	}
	unlink(tmp);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		      0644);
	if (fd < 0) {
		agent_log("create `%s`: %m", tmp);
		return;
	}
	if (write_all(fd, text, len) < 0 || fchmod(fd, 0644) < 0) {
		agent_log("write `%s`: %m", tmp);
		close(fd);
		unlink(tmp);
		return;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		agent_log("rename `%s` to `%s`: %m", tmp, path);
		unlink(tmp);
	}
}

#define HOSTS_BEGIN "# microsandbox: begin (rewritten at every boot)\n"
#define HOSTS_END "# microsandbox: end\n"
#define HOSTS_KEEP_MAX (64u << 10)

/*
 * Our block of /etc/hosts, then what the file had besides an older block
 * of ours (the image's entries, rootfs patches, the user's edits), at
 * most HOSTS_KEEP_MAX bytes of it, whole lines. A symlink or anything but
 * a regular file there is replaced.
 */
static void write_hosts(const char *block, size_t blen)
{
	static char old[HOSTS_KEEP_MAX + 1];
	static char out[HOSTS_KEEP_MAX + 1024];
	ssize_t n = 0;
	size_t o = 0;
	struct stat st;

	int fd = open("/etc/hosts", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		n = read_all(fd, old, HOSTS_KEEP_MAX);
	if (fd >= 0)
		close(fd);
	if (n < 0)
		n = 0;
	old[n] = '\0';
	if (blen > sizeof(out) - HOSTS_KEEP_MAX)
		return; /* cannot happen: the block is < 512 bytes */
	memcpy(out, block, blen);
	o = blen;
	bool in_block = false;
	for (char *line = old, *next; *line; line = next) {
		bool nl = true;
		next = strchr(line, '\n');
		if (next) {
			next++;
		} else if ((size_t)n == HOSTS_KEEP_MAX) {
			break; /* a line cut at the limit: dropped */
		} else {
			next = line + strlen(line); /* no final newline */
			nl = false;
		}
		size_t len = (size_t)(next - line);
		if (len == strlen(HOSTS_BEGIN) &&
		    !memcmp(line, HOSTS_BEGIN, len))
			in_block = true;
		else if (in_block && len == strlen(HOSTS_END) &&
			 !memcmp(line, HOSTS_END, len))
			in_block = false;
		else if (!in_block) {
			memcpy(out + o, line, len);
			o += len;
			if (!nl)
				out[o++] = '\n';
		}
	}
	write_etc("/etc/hosts", out, o);
}

static void net_files(const struct agent_net *n, const char *hostname,
		      bool resolv_too)
{
	char hosts[768], resolv[160];
	int k, r = 0;

	if (n->on) {
		k = snprintf(
			hosts, sizeof(hosts),
			HOSTS_BEGIN
			"127.0.0.1\tlocalhost\n"
			"::1\tlocalhost ip6-localhost ip6-loopback\n"
			"%u.%u.%u.%u\t%s\n"
			"%u.%u.%u.%u\thost.microsandbox.internal\n" HOSTS_END,
			n->ip[0], n->ip[1], n->ip[2], n->ip[3], hostname,
			n->gw[0], n->gw[1], n->gw[2], n->gw[3]);
		r = snprintf(resolv, sizeof(resolv),
			     "# microsandbox: rewritten at every boot\n"
			     "nameserver %u.%u.%u.%u\n",
			     n->gw[0], n->gw[1], n->gw[2], n->gw[3]);
	} else {
		k = snprintf(hosts, sizeof(hosts),
			     HOSTS_BEGIN "127.0.0.1\tlocalhost\n"
					 "::1\tlocalhost ip6-localhost "
					 "ip6-loopback\n"
					 "127.0.1.1\t%s\n" HOSTS_END,
			     hostname);
	}
	if (k < 0 || (size_t)k >= sizeof(hosts) || r < 0 ||
	    (size_t)r >= sizeof(resolv))
		return; /* a hostname is at most 64 bytes: cannot happen */
	write_hosts(hosts, (size_t)k);
	if (n->on && resolv_too)
		write_etc("/etc/resolv.conf", resolv, (size_t)r);
}

void agent_net_files(const struct agent_net *n, const char *hostname)
{
	net_files(n, hostname, true);
}

void agent_net_hosts(const struct agent_net *n, const char *hostname)
{
	net_files(n, hostname, false);
}
