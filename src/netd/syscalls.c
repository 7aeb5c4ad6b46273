// SPDX-License-Identifier: Apache-2.0
/*
 * msb-netd's system call allow-list.
 *
 * DOC: Theory of operation
 *
 * After its start (configuration, /etc/resolv.conf, and with TLS
 * interception --tls-fd's input and the host's trust store read, the log
 * opened, the published ports' listeners bound, the epoll loop and its
 * signalfd made) msb-netd only moves bytes: frames on the link, one host
 * socket per flow or DNS query (created, connected, read, written and
 * closed while it runs), accepted connections on its listeners, its log
 * (appended, rotated) and its stats file (written, renamed). The filter
 * below allows exactly that; everything else (fork, exec, ptrace, mount,
 * bpf, kill, open_by_handle_at, io_uring...) traps. The list is the one
 * measured with `strace -f -c` over test_netd.sh (docs/network.md,
 * System calls), grouped by the code each call serves: whoever adds a
 * system call there adds it here in the same commit.
 *
 * It is installed with the supervisor's mechanism (src/vmm/syscalls.c):
 * a call outside the list writes "msb-netd: seccomp: system call N is not
 * allowed" to stderr (the supervisor copies it to logs/net.log) and netd
 * exits 125; the sandbox keeps running without a network (the supervisor
 * says so in vmm.log). MSB_SECCOMP=log (the supervisor passes it on)
 * makes the call fail with ENOSYS after the same line instead.
 */
#include "netd/syscalls.h"

#include <errno.h>
#include <seccomp.h>
#include <stddef.h>

#include "vmm/syscalls.h"

static const int netd_calls[] = {
	/* the loop (main.c): epoll, the signalfd, the link (link.c) */
	SCMP_SYS(epoll_wait),
	SCMP_SYS(epoll_pwait),
	SCMP_SYS(epoll_ctl),
	SCMP_SYS(read),
	SCMP_SYS(write),
	SCMP_SYS(readv),
	SCMP_SYS(writev),
	SCMP_SYS(close),
	SCMP_SYS(fcntl),
	/* flows (tcp.c, udp.c, flow.c) and DNS upstream (dns.c): host
	 * sockets made while the guest asks; AF_UNIX pairs for DNS over
	 * TCP; the stats datagrams to the supervisor (main.c) */
	SCMP_SYS(socket),
	SCMP_SYS(socketpair),
	SCMP_SYS(connect),
	SCMP_SYS(setsockopt),
	SCMP_SYS(getsockopt),
	SCMP_SYS(getsockname),
	SCMP_SYS(getpeername),
	SCMP_SYS(shutdown),
	SCMP_SYS(recvfrom),
	SCMP_SYS(sendto),
	SCMP_SYS(recvmsg),
	SCMP_SYS(sendmsg),
	/* the link's frames, a batch at a time (link.c) */
	SCMP_SYS(recvmmsg),
	/* published ports (publish.c): listeners are bound at start, UDP
	 * replies may bind; accepted connections */
	SCMP_SYS(bind),
	SCMP_SYS(listen),
	SCMP_SYS(accept4),
	/* files: net.log appended and rotated (vmm/logfile.c), the stats
	 * file written and renamed into place (main.c: write_stats) */
	SCMP_SYS(openat),
	SCMP_SYS(open),
	SCMP_SYS(fstat),
	SCMP_SYS(newfstatat),
	SCMP_SYS(lseek),
	SCMP_SYS(rename),
	SCMP_SYS(renameat),
	SCMP_SYS(unlink),
	SCMP_SYS(unlinkat),
	/* DNS query ids (dns.c), OpenSSL's random numbers (tls.c) */
	SCMP_SYS(getrandom),
	/* signals: SIGPIPE ignored, the SIGSYS handler's return */
	SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(rt_sigaction),
	SCMP_SYS(rt_sigreturn),
	/* time (vDSO, with these as fallback) */
	SCMP_SYS(clock_gettime),
	SCMP_SYS(gettimeofday),
	SCMP_SYS(time),
	/* memory: malloc, lwIP's pools (MEMP_MEM_MALLOC) */
	SCMP_SYS(brk),
	SCMP_SYS(mmap),
	SCMP_SYS(munmap),
	SCMP_SYS(mremap),
	SCMP_SYS(madvise),
	SCMP_SYS(mprotect),
	SCMP_SYS(futex),
	SCMP_SYS(getpid),
	SCMP_SYS(gettid),
	SCMP_SYS(getppid),
	/* leaving */
	SCMP_SYS(exit),
	SCMP_SYS(exit_group),
};

int netd_seccomp(void)
{
	if (!msb_seccomp_available()) {
		errno = ENOSYS;
		return -1;
	}
	return msb_seccomp_install("msb-netd", netd_calls,
				   sizeof(netd_calls) / sizeof(netd_calls[0]));
}
