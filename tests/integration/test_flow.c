// SPDX-License-Identifier: Apache-2.0
/*
 * Flow control end to end, with a real VM: a guest command writing 1 GiB
 * to a reader that stalls, then reads it all; memory of the host (this
 * process and the supervisor) and of the guest stays bounded, nothing is
 * lost or reordered, and other commands in the same sandbox keep running
 * while one stream is stalled. Stdin the other way: a command that does
 * not read its input takes one window, no more.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../unit/check.h"
#include "helpers.h"
#include "microsandbox.h"

#define BLOCK (1u << 20)
#define BLOCKS 1024u /* 1 GiB */
#define STALL_S 3

/* A field of /proc/PID/status in KiB ("VmHWM:", "VmRSS:"), or -1. */
static long status_kib(pid_t pid, const char *field)
{
	char path[64], line[256];
	long v = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, field, strlen(field)))
			v = atol(line + strlen(field));
	if (f)
		fclose(f);
	return v;
}

/* The msb-vmm started by this process (our only one). */
static pid_t supervisor_pid(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	pid_t found = 0;

	while (d && !found && (e = readdir(d))) {
		char path[300], buf[512];
		pid_t pid = (pid_t)atoi(e->d_name);
		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		char *close = strrchr(buf, ')');
		int ppid = 0;
		if (strstr(buf, "(msb-vmm)") && close &&
		    sscanf(close + 2, "%*c %d", &ppid) == 1 &&
		    ppid == (int)getpid())
			found = pid;
	}
	if (d)
		closedir(d);
	return found;
}

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static uint64_t guest_mem_used(msb_sandbox *sb)
{
	msb_metrics m;
	return msb_sandbox_metrics(&m, sb) == 0 ? m.guest_memory_used_bytes : 0;
}

/* 1 GiB to a reader that first stalls. */
static void test_big_stream(msb_sandbox *sb)
{
	void *block = NULL;
	size_t blen = 0;
	msb_exec *e = NULL;
	msb_exec_event ev;
	char script[256];

	/* One pseudo-random MiB, written out 1024 times by the guest. */
	msb_exec_output *o = NULL;
	CHECK(msb_sandbox_shell(&o, sb,
				"head -c 1048576 /dev/urandom > /tmp/block",
				NULL) == 0);
	msb_exec_output_free(o);
	CHECK(msb_sandbox_fs_read(&block, &blen, sb, "/tmp/block") == 0);
	CHECK(blen == BLOCK);
	if (blen != BLOCK)
		return;
	snprintf(script, sizeof(script),
		 "i=0; while [ $i -lt %u ]; do cat /tmp/block; i=$((i+1)); "
		 "done",
		 BLOCKS);

	pid_t vmm = supervisor_pid();
	CHECK(vmm > 0);
	long self0 = status_kib(getpid(), "VmRSS:");
	uint64_t guest0 = guest_mem_used(sb);
	const char *argv[] = {"/bin/sh", "-c", script, NULL};
	CHECK(msb_exec_start(&e, sb, argv, NULL) == 0);
	if (!e)
		return;

	/* Stalled: the guest stops at the window; the host holds little. */
	sleep_ms(STALL_S * 1000);
	long vmm_stalled = status_kib(vmm, "VmRSS:");
	uint64_t guest_stalled = guest_mem_used(sb);
	fprintf(stderr,
		"  stalled %d s: supervisor RSS %ld KiB, guest used +%lld KiB\n",
		STALL_S, vmm_stalled,
		(long long)(guest_stalled - guest0) / 1024);
	CHECK(vmm_stalled > 0 && vmm_stalled < 16 * 1024);
	CHECK(guest0 && guest_stalled < guest0 + (32u << 20));

	/* Meanwhile the sandbox serves other commands. */
	uint64_t t0 = now_us();
	o = NULL;
	CHECK(msb_sandbox_shell(&o, sb, "echo still here", NULL) == 0);
	CHECK_STR(msb_exec_output_stdout(o, NULL), "still here\n");
	msb_exec_output_free(o);
	fprintf(stderr, "  a command during the stall took %llu ms\n",
		(unsigned long long)(now_us() - t0) / 1000);

	/* Now read it all and compare, MiB by MiB. */
	uint64_t total = 0, bad = 0;
	int code = -2;
	t0 = now_us();
	for (;;) {
		int rc = msb_exec_next(e, &ev, 120000);
		if (rc < 0) {
			fprintf(stderr, "  next: %s\n",
				msb_last_error()->message);
			break;
		}
		if (ev.type == MSB_EXEC_STDOUT) {
			const uint8_t *p = ev.data;
			size_t n = ev.len;
			while (n) {
				size_t at = (size_t)(total % BLOCK);
				size_t k = BLOCK - at < n ? BLOCK - at : n;
				if (memcmp(p, (uint8_t *)block + at, k))
					bad++;
				p += k;
				n -= k;
				total += k;
			}
		}
		if (ev.type == MSB_EXEC_EXITED) {
			code = ev.exit_code;
			break;
		}
	}
	uint64_t us = now_us() - t0;
	long vmm_peak = status_kib(vmm, "VmHWM:");
	long self_peak = status_kib(getpid(), "VmHWM:");
	fprintf(stderr,
		"  %llu MiB in %.1f s (%.0f MiB/s); peak RSS: supervisor %ld "
		"KiB, this process %ld KiB (%ld at start)\n",
		(unsigned long long)(total >> 20), (double)us / 1e6,
		(double)total / 1048576.0 / ((double)us / 1e6), vmm_peak,
		self_peak, self0);
	CHECK(code == 0);
	CHECK(total == (uint64_t)BLOCK * BLOCKS);
	CHECK(bad == 0);
	CHECK(vmm_peak > 0 && vmm_peak < 16 * 1024);
	CHECK(self_peak > 0 && self_peak < self0 + 32 * 1024);
	msb_exec_free(e);
	free(block);
}

/* Stdin to a command that reads nothing for a while. */
static void test_stdin_window(msb_sandbox *sb)
{
	msb_exec *e = NULL;
	msb_exec_event ev;
	const char *argv[] = {"sh", "-c", "sleep 2; wc -c", NULL};
	size_t len = 64u << 20;
	uint8_t *data = calloc(1, len);

	CHECK(data && msb_exec_start(&e, sb, argv, NULL) == 0);
	if (!e || !data) {
		free(data);
		return;
	}
	/* Without blocking: one window goes, then no room. */
	long sent = msb_exec_try_write(e, data, len);
	CHECK(sent == (long)MSB_EXEC_WINDOW);
	CHECK(msb_exec_try_write(e, data, len) == 0);
	/* Blocking: the rest goes as the command reads. */
	CHECK(msb_exec_write(e, data + sent, len - (size_t)sent) == 0);
	CHECK(msb_exec_close_stdin(e) == 0);
	char out[64] = "";
	size_t olen = 0;
	int code = -2;
	for (;;) {
		if (msb_exec_next(e, &ev, 60000) < 0)
			break;
		if (ev.type == MSB_EXEC_STDOUT && olen + ev.len < sizeof(out)) {
			memcpy(out + olen, ev.data, ev.len);
			olen += ev.len;
		}
		if (ev.type == MSB_EXEC_EXITED) {
			code = ev.exit_code;
			break;
		}
	}
	CHECK(code == 0);
	CHECK(strtoull(out, NULL, 10) == len);
	msb_exec_free(e);

	/* Writing to a command that has ended is an error, not a hang. */
	const char *quick[] = {"true", NULL};
	CHECK(msb_exec_start(&e, sb, quick, NULL) == 0);
	CHECK(msb_exec_wait(e, NULL, NULL) == 0);
	CHECK(msb_exec_write(e, data, len) == -MSB_ESTATE);
	msb_exec_free(e);
	/* A command that closed its stdin: writes are dropped, not stuck. */
	const char *closer[] = {"sh", "-c", "exec 0<&-; sleep 1", NULL};
	CHECK(msb_exec_start(&e, sb, closer, NULL) == 0);
	CHECK(msb_exec_write(e, data, 4u << 20) == 0);
	CHECK(msb_exec_wait(e, &code, NULL) == 0 && code == 0);
	msb_exec_free(e);
	free(data);
}

int main(void)
{
	const char *home = temp_home();
	msb_sandbox_options o = MSB_SANDBOX_OPTIONS_INIT;
	msb_sandbox *sb = NULL;

	o.memory_mib = 256;
	test_case("create", 120);
	if (msb_sandbox_create(&sb, &o) < 0) {
		fprintf(stderr, "create: %s\n", msb_last_error()->message);
		return 1;
	}
	test_case("test_big_stream", 400);
	test_big_stream(sb);
	test_case("test_stdin_window", 180);
	test_stdin_window(sb);
	alarm(0);
	CHECK(msb_sandbox_stop(sb, 0) == 0);
	msb_sandbox_free(sb);
	remove_tree(home);
	return check_summary("test_flow");
}
