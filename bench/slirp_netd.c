// SPDX-License-Identifier: Apache-2.0
/*
 * slirp_netd - bench/net.sh's baseline: started by msb-vmm in msb-netd's
 * place (MSB_NETD=.../slirp_netd), it puts QEMU's own user-mode network
 * (slirp, -netdev user) behind the guest's link instead: a QEMU without a
 * machine whose hub joins the link (descriptor 3, one datagram per frame)
 * to a slirp netdev. The guest keeps its address and gateway (slirp's
 * "host" is the gateway, 100.96.0.1); nothing is filtered. For
 * measurements only.
 *
 *   slirp_netd --link-fd 3 --config FILE --stats-fd 5   (msb-netd's
 *   arguments; only --link-fd is used)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	const char *link = NULL;
	for (int i = 1; i + 1 < argc; i++)
		if (!strcmp(argv[i], "--link-fd"))
			link = argv[i + 1];
	if (!link) {
		fprintf(stderr, "slirp_netd: --link-fd is missing\n");
		return 2;
	}
	const char *qemu = getenv("SLIRP_QEMU");
	if (!qemu)
		qemu = "/usr/bin/qemu-system-x86_64";
	char sock[64];
	snprintf(sock, sizeof(sock), "socket,id=s,fd=%s", link);
	char *args[] = {
		(char *)qemu,
		"-M",
		"none",
		"-nodefaults",
		"-no-user-config",
		"-display",
		"none",
		"-netdev",
		sock,
		"-netdev",
		"user,id=u,net=100.96.0.0/24,host=100.96.0.1,"
		"dhcpstart=100.96.0.16,dns=100.96.0.3,ipv6=off",
		"-netdev",
		"hubport,id=h0,hubid=0,netdev=s",
		"-netdev",
		"hubport,id=h1,hubid=0,netdev=u",
		NULL,
	};
	execv(qemu, args);
	perror("slirp_netd: exec QEMU");
	return 1;
}
