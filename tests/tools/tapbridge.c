// SPDX-License-Identifier: Apache-2.0
/*
 * tapbridge [-p PIDFILE] TAP CMD [ARG...]: the test vehicle of msb-netd
 * without a VM. Opens the TAP device TAP (made in the current network
 * namespace, no packet information header), makes a SOCK_DGRAM
 * socketpair, runs CMD with one end as descriptor 3 (its pid written to
 * PIDFILE), and copies frames between the TAP and the other end, as QEMU
 * does between a virtio-net device and -netdev socket,fd=: one frame per
 * datagram, and a full peer makes it wait. Exits with CMD's status when
 * CMD exits, 1 if the bridge fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t child = -1;

static int status_of(int st)
{
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void fail(const char *what)
{
	fprintf(stderr, "tapbridge: %s: %s\n", what, strerror(errno));
	if (child > 0)
		kill(child, SIGTERM);
	exit(1);
}

int main(int argc, char **argv)
{
	const char *pidfile = NULL;
	int a = 1;
	if (argc > 3 && !strcmp(argv[1], "-p")) {
		pidfile = argv[2];
		a = 3;
	}
	if (argc - a < 2) {
		fprintf(stderr,
			"usage: tapbridge [-p PIDFILE] TAP CMD [ARG...]\n");
		return 2;
	}
	int tap = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (tap < 0)
		fail("open /dev/net/tun");
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", argv[a]);
	if (ioctl(tap, TUNSETIFF, &ifr) < 0)
		fail("TUNSETIFF");
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) < 0)
		fail("socketpair");
	child = fork();
	if (child < 0)
		fail("fork");
	if (child == 0) {
		if (dup2(sv[1], 3) < 0)
			_exit(127);
		execvp(argv[a + 1], argv + a + 1);
		_exit(127);
	}
	close(sv[1]);
	if (pidfile) {
		FILE *f = fopen(pidfile, "w");
		if (!f || fprintf(f, "%d\n", (int)child) < 0 || fclose(f))
			fail(pidfile);
	}
	int s = sv[0];
	if (fcntl(tap, F_SETFL, O_NONBLOCK) < 0)
		fail("O_NONBLOCK");
	static char buf[65536];
	for (;;) {
		int st;
		if (waitpid(child, &st, WNOHANG) == child)
			return status_of(st);
		struct pollfd p[2] = {{s, POLLIN, 0}, {tap, POLLIN, 0}};
		if (poll(p, 2, 200) < 0 && errno != EINTR)
			fail("poll");
		/* bounded batches, so that neither way starves the other */
		for (int i = 0; i < 64 && (p[0].revents & POLLIN); i++) {
			ssize_t n = recv(s, buf, sizeof(buf), MSG_DONTWAIT);
			if (n <= 0)
				break;
			if (write(tap, buf, (size_t)n) < 0 && errno != EIO &&
			    errno != EINVAL && errno != EAGAIN)
				fail("write to the TAP");
		}
		for (int i = 0; i < 64 && (p[1].revents & POLLIN); i++) {
			ssize_t n = read(tap, buf, sizeof(buf));
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				fail("read from the TAP");
			if (n <= 0)
				break;
			/* blocking: a full peer holds the guest back */
			if (send(s, buf, (size_t)n, 0) < 0 &&
			    errno != ECONNREFUSED)
				fail("send to the link");
		}
	}
}
