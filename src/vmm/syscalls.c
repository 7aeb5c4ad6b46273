// SPDX-License-Identifier: Apache-2.0
/*
 * msb-vmm's system call allow-list.
 *
 * DOC: Theory of operation
 *
 * After its setup (folder, disk, QEMU and virtiofsd started, listening
 * socket bound) the supervisor only relays frames between sockets, talks
 * QMP, writes its logs and its SQLite state, reads /proc for metrics, and
 * kills and reaps its children. The filter below allows exactly that;
 * everything else (fork, exec, ptrace, mount, bpf, new sockets...) traps.
 * Each group names the code it serves: whoever adds a system call there
 * adds it here in the same commit.
 *
 * A trapped call is reported on stderr (logs/vmm.log) by number, e.g.
 * "seccomp: system call 57 is not allowed", and the supervisor exits; its
 * QEMU dies with it. `scmp_sys_resolver 57` names the call.
 */
#include "vmm/syscalls.h"

#include <errno.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/types.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <ucontext.h>
#include <unistd.h>

static const int supervisor_calls[] = {
	/* the poll loop, sockets and pipes (main.c: loop, fill, flush,
	 * accept_clients, the signalfd) */
	SCMP_SYS(poll),
	SCMP_SYS(ppoll),
	SCMP_SYS(read),
	SCMP_SYS(write),
	SCMP_SYS(readv),
	SCMP_SYS(writev),
	SCMP_SYS(close),
	SCMP_SYS(accept4),
	SCMP_SYS(recvmsg),
	SCMP_SYS(sendmsg),
	SCMP_SYS(recvfrom),
	SCMP_SYS(sendto),
	SCMP_SYS(shutdown),
	SCMP_SYS(fcntl),
	SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(rt_sigreturn),
	SCMP_SYS(rt_sigaction),
	/* time: deadlines, log stamps (vDSO, with these as fallback) */
	SCMP_SYS(clock_gettime),
	SCMP_SYS(gettimeofday),
	SCMP_SYS(time),
	SCMP_SYS(nanosleep),
	SCMP_SYS(clock_nanosleep),
	/* children: reap QEMU and virtiofsd (main.c: on_signal,
	 * reap_qemu_blocking); kill(2) is allowed for QEMU only, below */
	SCMP_SYS(wait4),
	SCMP_SYS(waitid),
	SCMP_SYS(getpid),
	SCMP_SYS(gettid),
	SCMP_SYS(getppid),
	/* memory (malloc) */
	SCMP_SYS(brk),
	SCMP_SYS(mmap),
	SCMP_SYS(munmap),
	SCMP_SYS(mremap),
	SCMP_SYS(madvise),
	SCMP_SYS(mprotect),
	/* files: logs (vmm.log, exec.log and their rotation: execlog.c),
	 * kernel.log tails, /proc/PID/stat for metrics (metrics.c), the
	 * sandbox folder's removal (rm_rf), the SQLite state (state.c) */
	SCMP_SYS(openat),
	SCMP_SYS(open),
	SCMP_SYS(lseek),
	SCMP_SYS(pread64),
	SCMP_SYS(pwrite64),
	SCMP_SYS(fstat),
	SCMP_SYS(newfstatat),
	SCMP_SYS(stat),
	SCMP_SYS(lstat),
	SCMP_SYS(statx),
	SCMP_SYS(fsync),
	SCMP_SYS(fdatasync),
	SCMP_SYS(ftruncate),
	SCMP_SYS(flock),
	SCMP_SYS(unlink),
	SCMP_SYS(unlinkat),
	SCMP_SYS(rmdir),
	SCMP_SYS(rename),
	SCMP_SYS(renameat),
	SCMP_SYS(renameat2),
	SCMP_SYS(mkdir),
	SCMP_SYS(mkdirat),
	SCMP_SYS(getdents64),
	SCMP_SYS(access),
	SCMP_SYS(faccessat),
	SCMP_SYS(faccessat2),
	SCMP_SYS(readlink),
	SCMP_SYS(readlinkat),
	SCMP_SYS(getcwd),
	SCMP_SYS(fchown),
	SCMP_SYS(fchmod),
	SCMP_SYS(geteuid),
	SCMP_SYS(getuid),
	SCMP_SYS(getegid),
	SCMP_SYS(getgid),
	SCMP_SYS(getrandom),
	SCMP_SYS(ioctl),
	SCMP_SYS(dup),
	SCMP_SYS(dup2),
	SCMP_SYS(dup3),
	SCMP_SYS(fallocate),
	SCMP_SYS(statfs),
	SCMP_SYS(fstatfs),
	SCMP_SYS(sched_yield),
	SCMP_SYS(futex),
	/* leaving */
	SCMP_SYS(exit),
	SCMP_SYS(exit_group),
};

static bool dev_mode;
/* The program named in the SIGSYS line (set by install()). */
static const char *who = "msb-vmm";
static size_t who_len = sizeof("msb-vmm") - 1;

static void put_num(char *out, size_t *o, long v)
{
	char tmp[24];
	int n = 0;

	if (v < 0) {
		out[(*o)++] = '-';
		v = -v;
	}
	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) && n < (int)sizeof(tmp));
	while (n)
		out[(*o)++] = tmp[--n];
}

/* SIGSYS from SCMP_ACT_TRAP: async-signal-safe reporting only. */
static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	static const char a[] = ": seccomp: system call ";
	static const char b[] = " is not allowed (see its allow-list)";
	char line[160];
	size_t o = 0;

	(void)sig;
	memcpy(line, who, who_len);
	o += who_len;
	memcpy(line + o, a, sizeof(a) - 1);
	o += sizeof(a) - 1;
	put_num(line, &o, si->si_syscall);
	memcpy(line + o, b, sizeof(b) - 1);
	o += sizeof(b) - 1;
	if (!dev_mode) {
		static const char c[] = ": exiting\n";
		memcpy(line + o, c, sizeof(c) - 1);
		o += sizeof(c) - 1;
		if (write(STDERR_FILENO, line, o) < 0) {
			/* nothing left to report with */
		}
		_exit(125);
	}
	line[o++] = '\n';
	if (write(STDERR_FILENO, line, o) < 0) {
		/* as above */
	}
#ifdef __x86_64__
	((ucontext_t *)uc)->uc_mcontext.gregs[REG_RAX] = -ENOSYS;
#else
	(void)uc;
#endif
}

bool msb_seccomp_available(void)
{
	return prctl(PR_SET_SECCOMP, 2, NULL, 0, 0) < 0 && errno == EFAULT;
}

/* The allow-list, plus @call when its first argument matches @cmp. */
static int install(const char *name, const int *allowed, size_t n, int call,
		   const struct scmp_arg_cmp *cmp);

int msb_seccomp_supervisor(pid_t qemu)
{
	/* main.c: kill_qemu. Root's msb-vmm keeps CAP_KILL for it: this
	 * keeps that capability from reaching any other process. */
	struct scmp_arg_cmp only_qemu =
		SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)qemu);

	return install("msb-vmm", supervisor_calls,
		       sizeof(supervisor_calls) / sizeof(supervisor_calls[0]),
		       SCMP_SYS(kill), &only_qemu);
}

int msb_seccomp_install(const char *name, const int *allowed, size_t n)
{
	return install(name, allowed, n, -1, NULL);
}

static int install(const char *name, const int *allowed, size_t n, int call,
		   const struct scmp_arg_cmp *cmp)
{
	const char *mode = getenv("MSB_SECCOMP");
	struct sigaction sa = {.sa_sigaction = on_sigsys,
			       .sa_flags = SA_SIGINFO};
	int rc;

	dev_mode = mode && !strcmp(mode, "log");
	who_len = strnlen(name, 64);
	who = name;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		return -1;
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx) {
		errno = ENOMEM;
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		/* A name this architecture lacks resolves negative: skip. */
		if (allowed[i] < 0)
			continue;
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
		if (rc < 0 && rc != -EEXIST)
			goto out;
	}
	if (call >= 0) {
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, call, 1, *cmp);
		if (rc < 0)
			goto out;
	}
	/* SIGSYS must stay deliverable: never block or re-handle it. */
	rc = seccomp_load(ctx);
out:
	seccomp_release(ctx);
	if (rc < 0) {
		errno = -rc;
		return -1;
	}
	return 0;
}
