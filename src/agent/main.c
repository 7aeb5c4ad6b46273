// SPDX-License-Identifier: Apache-2.0
/*
 * msb-agent: PID 1 of the guest.
 *
 * DOC: Theory of operation
 *
 * The kernel starts the agent as /init from the initramfs. It mounts the
 * pseudo filesystems, loads the kernel modules listed in /modules, finds
 * the virtio-serial port named "agent" and waits there for the host's
 * hello. The hello names the root device: the agent mounts it, moves /dev,
 * /proc and /sys into it, makes it the root (the switch_root way: initramfs
 * cannot be pivot_root'ed), answers ready with its boot timings and then
 * serves exec, signal, filesystem, ping and shutdown requests from one
 * poll() loop (loop.c, exec.c, fs.c). Being init, it reaps every process
 * in the guest and must never exit: bad input gets an error frame,
 * failures get logged to the console, and the loop carries on.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "net.h"

/*
 * agent_log() - write one line to the console, prefixed "msb-agent: ".
 * One write() per line so that lines from the kernel do not split it.
 */
void agent_log(const char *fmt, ...)
{
	char line[512];
	int saved = errno;
	va_list ap;
	int n;

	n = snprintf(line, sizeof(line), "msb-agent: ");
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, (size_t)n);
	errno = saved;
}

/* CLOCK_BOOTTIME in microseconds: time since the guest kernel started. */
uint64_t boot_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t now_ms(void)
{
	return now_us() / 1000u;
}

/*
 * Block the signals the loop reads from a signalfd. SIGCHLD tells it to
 * reap; SIGIO comes from virtio_console when the host side of the port
 * connects or disconnects. Blocked signals are queued even for init.
 */
static int setup_signals(void)
{
	struct sigaction sa = {.sa_handler = SIG_IGN};
	sigset_t set;
	int fd;

	sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGIO);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) {
		agent_log("sigprocmask: %m");
		return -1;
	}
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		agent_log("signalfd: %m");
	return fd;
}

/*
 * Raise the descriptor limit so that AGENT_MAX_PROCS processes with two
 * pipes each fit; children get the original limit back.
 */
static void setup_nofile(struct agent *a)
{
	struct rlimit want;

	if (getrlimit(RLIMIT_NOFILE, &a->nofile) < 0) {
		agent_log("getrlimit RLIMIT_NOFILE: %m");
		a->nofile.rlim_cur = a->nofile.rlim_max = 1024;
		return;
	}
	want = a->nofile;
	if (want.rlim_max < 4 * AGENT_MAX_PROCS)
		want.rlim_max = 4 * AGENT_MAX_PROCS;
	want.rlim_cur = want.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &want) < 0)
		agent_log("setrlimit RLIMIT_NOFILE %llu: %m",
			  (unsigned long long)want.rlim_cur);
}

int main(int argc, char **argv)
{
	static struct agent a = {.port = -1, .sigfd = -1};

	(void)argc;
	(void)argv;
	a.t.start = boot_us();
	if (getpid() != 1) {
		fprintf(stderr, "msb-agent: must run as PID 1 of a guest\n");
		return 1;
	}

	init_early();
	agent_log("started at %llu.%03llu s",
		  (unsigned long long)(a.t.start / 1000000u),
		  (unsigned long long)(a.t.start / 1000u % 1000u));
	setup_nofile(&a);
	while ((a.sigfd = setup_signals()) < 0)
		sleep(1);

	a.t.modules = init_modules();
	/* The network driver, when this sandbox's initramfs has it (its
	 * device is there): before the hello, so that a warm template
	 * (docs/snapshots.md) has it loaded. Not the volumes' drivers: they
	 * would read the disks, which differ between sandboxes. */
	if (access(AGENT_NET_MODULES, F_OK) == 0)
		a.t.modules += init_modules_once(AGENT_NET_MODULES);
	agent_net_lo();
	a.port = init_find_port();
	a.port_up = true;
	agent_loop(&a);
}
