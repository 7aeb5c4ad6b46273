/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers for the integration tests: temporary MSB_HOME, leftover checks,
 * checksums. */
#ifndef MSB_TEST_HELPERS_H
#define MSB_TEST_HELPERS_H

#include <dirent.h>
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* CRC-32 as zlib and busybox's crc32 compute it (reflected, 0xEDB88320). */
static inline uint32_t crc32_buf(const uint8_t *p, size_t n)
{
	uint32_t crc = 0xffffffffu;

	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int b = 0; b < 8; b++)
			crc = crc & 1 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
	}
	return ~crc;
}

/* KVM usable as msb judges it: /dev/kvm read-write and vmx/svm. */
static inline int kvm_usable(void)
{
	if (access("/dev/kvm", R_OK | W_OK) != 0)
		return 0;
	FILE *f = fopen("/proc/cpuinfo", "re");
	char line[8192];
	int found = 0;
	while (f && !found && fgets(line, sizeof(line), f))
		if (!strncmp(line, "flags", 5) &&
		    (strstr(line, " vmx") || strstr(line, " svm")))
			found = 1;
	if (f)
		fclose(f);
	return found;
}

/* Number of entries in $MSB_HOME/sandboxes (0 if it does not exist). */
static inline int count_sandbox_dirs(void)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/sandboxes", getenv("MSB_HOME"));
	DIR *d = opendir(path);
	int n = 0;
	if (!d)
		return 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/*
 * PID of a process whose command line contains @needle as one argument
 * (QEMU carries "-name msb-<sandbox>,..."), or 0.
 */
static inline pid_t find_process(const char *needle)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	pid_t found = 0;

	if (!d)
		return 0;
	while (!found && (e = readdir(d))) {
		char path[300], buf[16384];
		pid_t pid = (pid_t)atoi(e->d_name);
		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		for (size_t i = 0; i < n; i += strlen(buf + i) + 1) {
			buf[n] = '\0';
			if (strstr(buf + i, needle)) {
				found = pid;
				break;
			}
		}
	}
	closedir(d);
	return found;
}

static inline int rm_one(const char *p, const struct stat *st, int flag,
			 struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

/* Make a private MSB_HOME under /tmp; returns it (static storage). */
static inline const char *temp_home(void)
{
	static char dir[] = "/tmp/msb-test-XXXXXX";
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(1);
	}
	setenv("MSB_HOME", dir, 1);
	return dir;
}

static inline void remove_tree(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * Per-case watchdog. test_case() names the case on stderr and arms an alarm;
 * if the case is still running when it fires, the handler prints the stacks
 * of this process and of every process below it (gdb, when installed), the
 * process tree and the tails of the sandbox logs, then exits. A hang thus
 * ends as a diagnosis instead of a bare timeout of the test runner.
 */
static const char *watchdog_case = "";

static inline void watchdog_fire(int sig)
{
	char cmd[1024];
	(void)sig;
	fprintf(stderr, "\n!! watchdog: case `%s` still running; diagnosis:\n",
		watchdog_case);
	snprintf(cmd, sizeof(cmd),
		 "ps -eo pid,ppid,stat,wchan:24,etime,args --forest | "
		 "grep -E 'test|msb|qemu' | cut -c1-160 >&2; "
		 "ss -xpn | grep -E 'test|msb|qemu' >&2; "
		 "for p in %d $(pgrep -P %d -f msb-vmm); do "
		 "command -v gdb >/dev/null && gdb -p $p -batch -nx "
		 "-ex 'thread apply all bt' -ex 'print vmm' "
		 "-ex 'print *vmm.clients[0]' -ex 'print *vmm.clients[1]' "
		 "2>&1 | grep -vE '^(\\[|Using|warning|Reading|Download)' >&2; "
		 "done; "
		 "for f in \"$MSB_HOME\"/sandboxes/*/logs/*.log; do "
		 "[ -f \"$f\" ] && { echo \"-- $f\"; tail -n 30 \"$f\"; } >&2; "
		 "done",
		 (int)getpid(), (int)getpid());
	if (system(cmd) < 0)
		perror("system");
	_exit(3);
}

static inline void test_case(const char *name, unsigned seconds)
{
	watchdog_case = name;
	signal(SIGALRM, watchdog_fire);
	fprintf(stderr, "== %s\n", name);
	alarm(seconds);
}

#endif
