// SPDX-License-Identifier: Apache-2.0
/* The seccomp mechanism of msb's host processes (src/vmm/syscalls.c) as a
 * helper such as msb-netd uses it: a call outside the allow-list ends the
 * process with exit status 125 and one line naming the program and the
 * call; with MSB_SECCOMP=log the call fails with ENOSYS after the same
 * line and the process goes on. Each case runs in a child process. */
#include <errno.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "vmm/syscalls.h"

/* What a helper needs to write a line and leave; getppid is not in it. */
static const int calls[] = {
	SCMP_SYS(write),        SCMP_SYS(exit),         SCMP_SYS(exit_group),
	SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigaction), SCMP_SYS(brk),
	SCMP_SYS(mmap),         SCMP_SYS(munmap),       SCMP_SYS(fstat),
	SCMP_SYS(newfstatat),   SCMP_SYS(futex),        -1, /* skipped */
};

/* Run a child that installs the list and calls getppid(2); its stderr
 * in @err, its status returned. */
static int run(const char *mode, char *err, size_t cap)
{
	int p[2];
	if (pipe(p) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], STDERR_FILENO);
		close(p[0]);
		if (mode)
			setenv("MSB_SECCOMP", mode, 1);
		else
			unsetenv("MSB_SECCOMP");
		if (msb_seccomp_install("msb-test", calls,
					sizeof(calls) / sizeof(calls[0])) < 0)
			_exit(2);
		long r = syscall(SYS_getppid);
		/* only reached in log mode */
		_exit(r == -1 && errno == ENOSYS ? 7 : 3);
	}
	close(p[1]);
	size_t n = 0;
	ssize_t k;
	while (n + 1 < cap && (k = read(p[0], err + n, cap - 1 - n)) > 0)
		n += (size_t)k;
	err[n] = '\0';
	close(p[0]);
	int st = 0;
	waitpid(pid, &st, 0);
	return st;
}

int main(void)
{
	char err[512], want[128];

#ifdef __SANITIZE_ADDRESS__
	/* The sanitizer's runtime makes calls of its own (at exit, in the
	   signal path) that no allow-list of ours has. */
	printf("SKIP: an ASan build: its runtime's system calls\n");
	return 77;
#endif
	if (!msb_seccomp_available()) {
		printf("SKIP: seccomp unavailable in this kernel\n");
		return 77;
	}
	snprintf(want, sizeof(want),
		 "msb-test: seccomp: system call %d is not allowed",
		 SCMP_SYS(getppid));
	int st = run(NULL, err, sizeof(err));
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 125);
	CHECK(strstr(err, want) == err);
	CHECK(strstr(err, ": exiting\n") != NULL);
	CHECK(strchr(err, '\n') == err + strlen(err) - 1);

	st = run("log", err, sizeof(err));
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 7);
	CHECK(strstr(err, want) == err);
	CHECK(strstr(err, "exiting") == NULL);
	return check_summary("test_seccomp");
}
