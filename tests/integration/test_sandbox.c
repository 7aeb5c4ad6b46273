// SPDX-License-Identifier: Apache-2.0
/*
 * Integration tests through the public API, with real VMs: one shared
 * sandbox for the command cases, three sandboxes booted at once, QEMU
 * killed under a running command, and the boot errors (timeout, panic,
 * KVM). Each case checks that nothing is left behind.
 */
#include <poll.h>
#include <stddef.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "../unit/check.h"
#include "helpers.h"
#include "microsandbox.h"

/* msb_sandbox_metrics() as a program built against the version 1
 * msb_metrics (which ends at uptime_ms) is bound to it. */
int metrics_v1(msb_metrics *out, msb_sandbox *sb);
__asm__(".symver metrics_v1,msb_sandbox_metrics@MICROSANDBOX_0.1");

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void log_cb(int level, const char *msg, void *u)
{
	(void)u;
	fprintf(stderr, "  [lib %d] %s\n", level, msg);
}

static msb_exec_output *sh(msb_sandbox *sb, const char *cmd)
{
	msb_exec_output *o = NULL;
	int rc = msb_sandbox_shell(&o, sb, cmd, NULL);
	if (rc < 0)
		fprintf(stderr, "  shell `%s`: %s\n", cmd,
			msb_last_error()->message);
	return o;
}

static int collected_calls;
static size_t collected_bytes;
static int count_output(int stream, const void *d, size_t n, void *u)
{
	(void)d;
	(void)u;
	if (stream == 1) {
		collected_calls++;
		collected_bytes += n;
	}
	return 0;
}

static int samples;
static int count_sample(const msb_metrics *m, void *ud)
{
	(void)ud;
	if (m->uptime_ms > 0 && m->guest_memory_total_bytes > 0)
		samples++;
	return samples == 5; /* stop early */
}

/* The command cases, all in one booted sandbox. */
static void test_commands(void)
{
	const char *env[] = {"SB_VAR=sandbox", "SHARED=from-sandbox", NULL};
	msb_sandbox_options o = MSB_SANDBOX_OPTIONS_INIT;
	msb_sandbox *sb = NULL;
	msb_exec_output *out;

	o.env = env;
	o.cpus = 2;
	o.memory_mib = 256;
	setenv("HOST_ONLY_SECRET", "leak", 1);
	int rc = msb_sandbox_create(&sb, &o);
	CHECK(rc == 0);
	if (rc < 0) {
		fprintf(stderr, "  create: %s\n", msb_last_error()->message);
		return;
	}
	CHECK(msb_last_error()->code == MSB_OK);
	CHECK(strncmp(msb_sandbox_name(sb), "msb-", 4) == 0);

	/* echo, argv passed as is */
	const char *echo[] = {"echo", "hello", "two words", NULL};
	CHECK(msb_sandbox_exec(&out, sb, echo, NULL) == 0);
	CHECK_STR(msb_exec_output_stdout(out, NULL), "hello two words\n");
	CHECK(msb_exec_output_exit_code(out) == 0);
	CHECK(msb_exec_output_signal(out) == 0);
	msb_exec_output_free(out);

	/* the guest kernel, vCPUs and memory */
	out = sh(sb, "uname -s; nproc; grep MemTotal /proc/meminfo");
	const char *s = msb_exec_output_stdout(out, NULL);
	CHECK(strncmp(s, "Linux\n2\nMemTotal:", 17) == 0);
	unsigned long kb = 0;
	const char *mt = strstr(s, "MemTotal:");
	if (mt)
		kb = strtoul(mt + 9, NULL, 10);
	CHECK(kb > 150 * 1024 && kb <= 256 * 1024);
	msb_exec_output_free(out);

	/* exit codes and stderr */
	out = sh(sb, "echo to-out; echo to-err >&2; exit 7");
	CHECK(msb_exec_output_exit_code(out) == 7);
	CHECK_STR(msb_exec_output_stdout(out, NULL), "to-out\n");
	CHECK_STR(msb_exec_output_stderr(out, NULL), "to-err\n");
	msb_exec_output_free(out);
	out = sh(sb, "exit 255");
	CHECK(msb_exec_output_exit_code(out) == 255);
	msb_exec_output_free(out);

	/* environment: sandbox env, exec env over it, no host env */
	msb_exec_options eo = MSB_EXEC_OPTIONS_INIT;
	const char *xenv[] = {"EX_VAR=exec", "SHARED=from-exec", NULL};
	eo.env = xenv;
	CHECK(msb_sandbox_shell(&out, sb, "echo $SB_VAR $EX_VAR $SHARED",
				&eo) == 0);
	CHECK_STR(msb_exec_output_stdout(out, NULL),
		  "sandbox exec from-exec\n");
	msb_exec_output_free(out);
	out = sh(sb, "env");
	CHECK(strstr(msb_exec_output_stdout(out, NULL), "HOST_ONLY_SECRET") ==
	      NULL);
	CHECK(strstr(msb_exec_output_stdout(out, NULL), "PATH=") != NULL);
	msb_exec_output_free(out);

	/* working directory */
	eo = (msb_exec_options)MSB_EXEC_OPTIONS_INIT;
	eo.cwd = "/tmp";
	CHECK(msb_sandbox_shell(&out, sb, "pwd", &eo) == 0);
	CHECK_STR(msb_exec_output_stdout(out, NULL), "/tmp\n");
	msb_exec_output_free(out);
	eo.cwd = "/nonexistent";
	CHECK(msb_sandbox_shell(&out, sb, "pwd", &eo) == -MSB_EEXEC);
	CHECK(strstr(msb_last_error()->message, "/nonexistent") != NULL);
	CHECK(msb_last_error()->exec_failure == MSB_EXEC_FAILURE_CWD);

	/* 10 MiB of binary output, intact */
	out = sh(
		sb,
		"head -c 10485760 /dev/urandom > /tmp/big && wc -c < /tmp/big && crc32 /tmp/big");
	unsigned long want = 0, wantlen = 0;
	CHECK(sscanf(msb_exec_output_stdout(out, NULL), "%lu %lx", &wantlen,
		     &want) == 2);
	CHECK(wantlen == 10485760);
	msb_exec_output_free(out);
	const char *cat[] = {"cat", "/tmp/big", NULL};
	CHECK(msb_sandbox_exec(&out, sb, cat, NULL) == 0);
	size_t len = 0;
	const char *data = msb_exec_output_stdout(out, &len);
	CHECK(len == 10485760);
	CHECK(crc32_buf((const uint8_t *)data, len) == (uint32_t)want);
	msb_exec_output_free(out);

	/* streamed output reaches the callback, nothing is collected */
	eo = (msb_exec_options)MSB_EXEC_OPTIONS_INIT;
	eo.on_output = count_output;
	CHECK(msb_sandbox_exec(&out, sb, cat, &eo) == 0);
	CHECK(collected_bytes == 10485760);
	CHECK(collected_calls > 1);
	size_t l2 = 1;
	msb_exec_output_stdout(out, &l2);
	CHECK(l2 == 0);
	msb_exec_output_free(out);

	/* a missing command, distinct from a failing one; the sandbox stays
	 * usable */
	const char *missing[] = {"no-such-command", "x", NULL};
	CHECK(msb_sandbox_exec(&out, sb, missing, NULL) == -MSB_ECMDNOTFOUND);
	CHECK(out == NULL);
	CHECK(strstr(msb_last_error()->message, "no-such-command") != NULL);
	const char *abs_missing[] = {"/bin/nope", NULL};
	CHECK(msb_sandbox_exec(&out, sb, abs_missing, NULL) ==
	      -MSB_ECMDNOTFOUND);
	CHECK(msb_last_error()->exec_failure == MSB_EXEC_FAILURE_NOT_FOUND);
	out = sh(sb, "echo still-alive");
	CHECK_STR(msb_exec_output_stdout(out, NULL), "still-alive\n");
	msb_exec_output_free(out);

	/* not executable: permission denied, not "not found" */
	out = sh(sb, "echo 'echo hi' > /tmp/noexec; chmod 644 /tmp/noexec");
	msb_exec_output_free(out);
	const char *noexec[] = {"/tmp/noexec", NULL};
	CHECK(msb_sandbox_exec(&out, sb, noexec, NULL) == -MSB_EEXEC);
	CHECK(msb_last_error()->exec_failure == MSB_EXEC_FAILURE_PERMISSION);
	/* executable, but not a program */
	out = sh(sb,
		 "printf '\\001\\002junk' > /tmp/junk; chmod 755 /tmp/junk");
	msb_exec_output_free(out);
	const char *junk[] = {"/tmp/junk", NULL};
	CHECK(msb_sandbox_exec(&out, sb, junk, NULL) == -MSB_EEXEC);
	CHECK(msb_last_error()->exec_failure ==
	      MSB_EXEC_FAILURE_NOT_EXECUTABLE);

	/* killed by a signal */
	out = sh(sb, "kill -9 $$");
	CHECK(msb_exec_output_signal(out) == 9);
	CHECK(msb_exec_output_exit_code(out) == -1);
	msb_exec_output_free(out);
	out = sh(sb, "kill -TERM $$");
	CHECK(msb_exec_output_signal(out) == SIGTERM);
	msb_exec_output_free(out);

	/* stdin: empty by default (nothing waits), a buffer, EOF */
	out = sh(sb, "cat; echo rc=$?");
	CHECK_STR(msb_exec_output_stdout(out, NULL), "rc=0\n");
	msb_exec_output_free(out);
	eo = (msb_exec_options)MSB_EXEC_OPTIONS_INIT;
	eo.stdin_data = "one\ntwo\n";
	eo.stdin_len = 8;
	CHECK(msb_sandbox_shell(&out, sb, "wc -l", &eo) == 0);
	CHECK_STR(msb_exec_output_stdout(out, NULL), "2\n");
	msb_exec_output_free(out);
	/* 3 MiB of binary through cat, both ways at once */
	size_t big = 3u << 20;
	uint8_t *blob = malloc(big);
	for (size_t i = 0; blob && i < big; i++)
		blob[i] = (uint8_t)(i * 2654435761u >> 13);
	eo.stdin_data = blob;
	eo.stdin_len = big;
	const char *catv[] = {"cat", NULL};
	CHECK(blob && msb_sandbox_exec(&out, sb, catv, &eo) == 0);
	size_t got = 0;
	const char *echoed = msb_exec_output_stdout(out, &got);
	CHECK(got == big && blob && !memcmp(echoed, blob, big));
	msb_exec_output_free(out);
	/* stdin from a descriptor, to its end */
	int pfd[2];
	CHECK(pipe(pfd) == 0);
	CHECK(write(pfd[1], "via fd\n", 7) == 7);
	close(pfd[1]);
	eo = (msb_exec_options)MSB_EXEC_OPTIONS_INIT;
	eo.stdin_fd = pfd[0];
	CHECK(msb_sandbox_exec(&out, sb, catv, &eo) == 0);
	CHECK_STR(msb_exec_output_stdout(out, NULL), "via fd\n");
	msb_exec_output_free(out);
	close(pfd[0]);
	free(blob);

	/* a timeout kills the whole process group */
	eo = (msb_exec_options)MSB_EXEC_OPTIONS_INIT;
	eo.timeout_ms = 1000;
	CHECK(msb_sandbox_shell(&out, sb, "sleep 30 & sleep 31; echo done",
				&eo) == -MSB_ETIMEDOUT);
	CHECK(strstr(msb_last_error()->message, "timed out") != NULL);
	out = sh(sb, "pgrep sleep || echo none");
	CHECK_STR(msb_exec_output_stdout(out, NULL), "none\n");
	msb_exec_output_free(out);
	/* ...and does not touch a command that finishes in time */
	eo.timeout_ms = 30000;
	CHECK(msb_sandbox_shell(&out, sb, "sleep 1; echo in-time", &eo) == 0);
	CHECK_STR(msb_exec_output_stdout(out, NULL), "in-time\n");
	msb_exec_output_free(out);
	out = sh(sb, "sleep 1");
	/* a lower bound only: the guest's clock under a loaded TCG host
	   can run slow, never fast enough to halve a second */
	CHECK(msb_exec_output_duration_ms(out) >= 500);
	msb_exec_output_free(out);

	/* resource limits: set, refused by the guest, invalid */
	eo = (msb_exec_options)MSB_EXEC_OPTIONS_INIT;
	const char *limits[] = {"nofile=64:100", "core=0", NULL};
	eo.rlimits = limits;
	CHECK(msb_sandbox_shell(&out, sb, "ulimit -n; ulimit -Hn; ulimit -c",
				&eo) == 0);
	CHECK_STR(msb_exec_output_stdout(out, NULL), "64\n100\n0\n");
	msb_exec_output_free(out);
	const char *huge[] = {"nofile=99999999", NULL};
	eo.rlimits = huge;
	CHECK(msb_sandbox_shell(&out, sb, "true", &eo) == -MSB_EEXEC);
	CHECK(strstr(msb_last_error()->message, "resource limit") != NULL);
	CHECK(msb_last_error()->exec_failure == MSB_EXEC_FAILURE_RLIMIT);
	const char *bogus[] = {"files=1", NULL};
	eo.rlimits = bogus;
	CHECK(msb_sandbox_shell(&out, sb, "true", &eo) == -MSB_EINVAL);
	CHECK(strstr(msb_last_error()->message, "files") != NULL);

	/* metrics at an interval: a count, a steady rate, an early stop */
	uint64_t t0 = now_ms();
	samples = 0;
	CHECK(msb_sandbox_metrics_watch(sb, 100, 3, count_sample, NULL) == 0);
	CHECK(samples == 3 && now_ms() - t0 >= 200);
	samples = 0;
	CHECK(msb_sandbox_metrics_watch(sb, 10, 0, count_sample, NULL) == 0);
	CHECK(samples == 5);
	CHECK(msb_sandbox_metrics_watch(sb, 0, 1, count_sample, NULL) ==
	      -MSB_EINVAL);

	/* the version 1 symbol fills the version 1 struct, nothing past it */
	msb_metrics mv;
	memset(&mv, 0xa5, sizeof(mv));
	CHECK(metrics_v1(&mv, sb) == 0);
	CHECK(mv.uptime_ms > 0 && mv.uptime_ms < 3600000u);
	const unsigned char *tail = (const unsigned char *)&mv +
				    offsetof(msb_metrics, net_rx_packets);
	size_t untouched = 0;
	for (size_t i = 0;
	     i < sizeof(mv) - offsetof(msb_metrics, net_rx_packets); i++)
		untouched += tail[i] == 0xa5;
	CHECK(untouched == sizeof(mv) - offsetof(msb_metrics, net_rx_packets));

#ifdef HAVE_NETD
	/* network metrics: echo requests to the gateway and a connection
	 * to a private address (denied under `public`, never sent), as
	 * msb-netd counts them (it reports once a second at most) */
	msb_metrics m0, m1;
	CHECK(msb_sandbox_metrics(&m0, sb) == 0);
	out = sh(sb, "ping -c3 -W5 100.96.0.1 >/dev/null && echo ping-ok; "
		     "nc -w 5 10.1.2.3 80 </dev/null 2>&1");
	CHECK(strstr(msb_exec_output_stdout(out, NULL), "ping-ok") != NULL);
	CHECK(strstr(msb_exec_output_stdout(out, NULL), "refused") != NULL);
	msb_exec_output_free(out);
	bool risen = false;
	for (uint64_t until = now_ms() + 20000; !risen && now_ms() < until;) {
		if (msb_sandbox_metrics(&m1, sb) < 0)
			break;
		risen = m1.net_tx_packets >= m0.net_tx_packets + 4 &&
			m1.net_rx_packets >= m0.net_rx_packets + 3 &&
			m1.net_tx_bytes >= m0.net_tx_bytes + 3 * 98 &&
			m1.net_rx_bytes >= m0.net_rx_bytes + 3 * 98 &&
			m1.net_denied >= m0.net_denied + 1;
		if (!risen)
			nanosleep(&(struct timespec){.tv_nsec = 100000000},
				  NULL);
	}
	CHECK(risen);
#endif

	/* empty command */
	const char *empty[] = {"", NULL};
	CHECK(msb_sandbox_exec(&out, sb, empty, NULL) == -MSB_EINVAL);
	const char *none[] = {NULL};
	CHECK(msb_sandbox_exec(&out, sb, none, NULL) == -MSB_EINVAL);

	/* the base image is never changed by a sandbox */
	out = sh(sb,
		 "echo scribble > /etc/scribble && sync && cat /etc/scribble");
	CHECK_STR(msb_exec_output_stdout(out, NULL), "scribble\n");
	msb_exec_output_free(out);

	char name[64];
	snprintf(name, sizeof(name), "msb-%s,", msb_sandbox_name(sb));
	CHECK(find_process(name) > 0);
	CHECK(msb_sandbox_stop(sb, 0) == 0);
	CHECK(msb_sandbox_stop(sb, 0) == 0); /* idempotent */
	CHECK(msb_sandbox_shell(&out, sb, "true", NULL) == -MSB_ESTATE);
	msb_sandbox_free(sb);
	CHECK(find_process(name) == 0);
	CHECK(count_sandbox_dirs() == 0);
	unsetenv("HOST_ONLY_SECRET");
}

/* Read events until EXITED, appending stdout to @buf. */
static int drain(msb_exec *e, char *buf, size_t cap, int *code)
{
	msb_exec_event ev;
	size_t len = strlen(buf);

	for (;;) {
		int rc = msb_exec_next(e, &ev, 60000);
		if (rc < 0)
			return rc;
		if (ev.type == MSB_EXEC_STDOUT && len + ev.len < cap) {
			memcpy(buf + len, ev.data, ev.len);
			len += ev.len;
			buf[len] = '\0';
		}
		if (ev.type == MSB_EXEC_EXITED) {
			*code = ev.signal ? 128 + ev.signal : ev.exit_code;
			return 0;
		}
	}
}

/* Whether `ps` in the guest shows a process whose arguments end in @tail. */
static bool guest_runs(msb_sandbox *sb, const char *tail)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd),
		 "ps -o args | grep -v grep | grep -q -- '%s$'", tail);
	msb_exec_output *out = sh(sb, cmd);
	bool yes = out && msb_exec_output_exit_code(out) == 0;
	msb_exec_output_free(out);
	return yes;
}

/* Processes that outlive their exec; the process table through the API. */
static void test_procs(void)
{
	msb_sandbox_options o = MSB_SANDBOX_OPTIONS_INIT;
	msb_exec_options eo = MSB_EXEC_OPTIONS_INIT;
	msb_sandbox *sb;
	msb_exec *e = NULL;
	msb_exec_event ev;
	char buf[4096] = "";
	int code = -2, sig = -2;
	unsigned int id = 0, sid = 0;

	if (msb_sandbox_create(&sb, &o) < 0) {
		CHECK(!"create");
		return;
	}
	/* The result is the command's: its background child runs on. */
	msb_exec_output *out = sh(sb, "sleep 30 & echo done");
	size_t n = 0;
	const char *txt = out ? msb_exec_output_stdout(out, &n) : NULL;
	CHECK(txt && n == 5 && !memcmp(txt, "done\n", 5));
	CHECK(out && msb_exec_output_exit_code(out) == 0);
	msb_exec_output_free(out);
	CHECK(guest_runs(sb, "sleep 30"));

	/* kill_group: it does not. */
	const char *kg[] = {"sh", "-c", "sleep 31 & echo kg", NULL};
	eo.kill_group = 1;
	CHECK(msb_sandbox_exec(&out, sb, kg, &eo) == 0);
	msb_exec_output_free(out);
	CHECK(!guest_runs(sb, "sleep 31"));

	/* Version 1 options (no kill_group) are still accepted. */
	eo = (msb_exec_options)MSB_EXEC_OPTIONS_INIT;
	eo.version = 1;
	const char *t[] = {"true", NULL};
	CHECK(msb_sandbox_exec(&out, sb, t, &eo) == 0);
	msb_exec_output_free(out);

	/* Detached, with stdin kept for an attach. */
	eo = (msb_exec_options)MSB_EXEC_OPTIONS_INIT;
	eo.stdin_fd = 0;
	const char *d[] = {"sh", "-c", "echo hi; read x; echo got-$x; exit 9",
			   NULL};
	CHECK(msb_sandbox_exec_detached(&id, sb, d, &eo) == 0 && id > 0);
	msb_proc_info *v = NULL;
	size_t nv = 0;
	bool listed = false;
	CHECK(msb_sandbox_procs(&v, &nv, sb) == 0);
	for (size_t i = 0; i < nv; i++)
		if (v[i].id == id)
			listed = v[i].running && v[i].detached &&
				 v[i].pid > 1 &&
				 !strcmp(v[i].command, "sh -c echo hi; read x; "
						       "echo got-$x; exit 9");
	CHECK(listed);
	msb_proc_list_free(v, nv);

	CHECK(msb_sandbox_proc_attach(&e, sb, id,
				      MSB_ATTACH_LOGS | MSB_ATTACH_FOLLOW |
					      MSB_ATTACH_STDIN) == 0);
	CHECK(e && msb_exec_write(e, "yes\n", 4) == 0);
	CHECK(e && drain(e, buf, sizeof(buf), &code) == 0);
	CHECK_STR(buf, "hi\ngot-yes\n");
	CHECK(code == 9);
	msb_exec_free(e);
	/* Waiting for one that has exited answers at once. */
	CHECK(msb_sandbox_proc_wait(sb, id, &code, &sig) == 0 && code == 9 &&
	      sig == 0);
	/* Its output is kept: logs without follow end with EXITED. */
	CHECK(msb_sandbox_proc_attach(&e, sb, id, MSB_ATTACH_LOGS) == 0);
	buf[0] = '\0';
	CHECK(e && drain(e, buf, sizeof(buf), &code) == 0);
	CHECK_STR(buf, "hi\ngot-yes\n");
	msb_exec_free(e);

	/* Signal and wait by id; a running one without FOLLOW: DETACHED. */
	const char *sl[] = {"sleep", "600", NULL};
	CHECK(msb_sandbox_exec_detached(&sid, sb, sl, NULL) == 0);
	CHECK(msb_sandbox_proc_attach(&e, sb, sid, MSB_ATTACH_LOGS) == 0);
	/* An attachment starts with what it is attached to. */
	CHECK(e && msb_exec_next(e, &ev, 30000) == 0 &&
	      ev.type == MSB_EXEC_STARTED && ev.pid > 1);
	CHECK(e && !msb_exec_tty(e));
	CHECK(e && msb_exec_next(e, &ev, 30000) == 0 &&
	      ev.type == MSB_EXEC_DETACHED);
	msb_exec_free(e);
	/* A running one is removed only by force. */
	CHECK(msb_sandbox_proc_remove(sb, sid, 0) == -MSB_ESTATE);
	CHECK(msb_sandbox_proc_signal(sb, sid, SIGKILL) == 0);
	CHECK(msb_sandbox_proc_wait(sb, sid, &code, &sig) == 0 && code == -1 &&
	      sig == SIGKILL);
	/* Removed: gone from the table, its id unknown. */
	CHECK(msb_sandbox_proc_remove(sb, sid, 0) == 0);
	CHECK(msb_sandbox_proc_remove(sb, sid, 0) == -MSB_ENOTFOUND);
	CHECK(msb_sandbox_proc_attach(&e, sb, sid, MSB_ATTACH_LOGS) == 0);
	CHECK(e && msb_exec_next(e, &ev, 30000) == -MSB_ENOTFOUND);
	msb_exec_free(e);
	CHECK(msb_sandbox_procs(&v, &nv, sb) == 0);
	listed = false;
	for (size_t i = 0; i < nv; i++)
		listed |= v[i].id == sid;
	CHECK(!listed);
	msb_proc_list_free(v, nv);
	/* With a terminal: msb_exec_tty() says so; force kills and removes. */
	eo = (msb_exec_options)MSB_EXEC_OPTIONS_INIT;
	eo.tty = 1;
	CHECK(msb_sandbox_exec_detached(&sid, sb, sl, &eo) == 0);
	CHECK(msb_sandbox_proc_attach(&e, sb, sid, MSB_ATTACH_FOLLOW) == 0);
	CHECK(e && msb_exec_next(e, &ev, 30000) == 0 &&
	      ev.type == MSB_EXEC_STARTED);
	CHECK(e && msb_exec_tty(e));
	CHECK(e && msb_exec_resize(e, 33, 77) == 0);
	CHECK(msb_sandbox_proc_remove(sb, sid, MSB_PROC_REMOVE_FORCE) == 0);
	CHECK(e && msb_exec_wait(e, &code, &sig) == 0 && sig == SIGKILL);
	msb_exec_free(e);
	CHECK(msb_sandbox_proc_signal(sb, sid, SIGTERM) == -MSB_ENOTFOUND);
	CHECK(msb_sandbox_proc_remove(sb, 0, 0) == -MSB_EINVAL);
	CHECK(msb_sandbox_proc_signal(sb, 999999, SIGTERM) == -MSB_ENOTFOUND);
	CHECK(msb_sandbox_proc_wait(sb, 999999, &code, &sig) == -MSB_ENOTFOUND);
	msb_sandbox_free(sb);
}

/* Streaming exec handles: stdin, events, a pollable fd, signals, many at
 * once. */
static void test_streaming(void)
{
	msb_sandbox_options o = MSB_SANDBOX_OPTIONS_INIT;
	msb_sandbox *sb;
	msb_exec *e;
	msb_exec_event ev;
	char buf[4096];
	int code = -2;

	if (msb_sandbox_create(&sb, &o) < 0) {
		CHECK(!"create");
		return;
	}
	/* cat: what goes in comes out; EOF ends it */
	const char *cat[] = {"cat", NULL};
	CHECK(msb_exec_start(&e, sb, cat, NULL) == 0);
	CHECK(msb_exec_next(e, &ev, 30000) == 0 &&
	      ev.type == MSB_EXEC_STARTED && ev.pid > 1);
	CHECK(msb_exec_write(e, "ping\n", 5) == 0);
	buf[0] = '\0';
	CHECK(msb_exec_next(e, &ev, 30000) == 0 && ev.type == MSB_EXEC_STDOUT &&
	      ev.len == 5 && !memcmp(ev.data, "ping\n", 5));
	CHECK(msb_exec_next(e, &ev, 200) == -MSB_ETIMEDOUT);
	CHECK(msb_exec_write(e, "pong\n", 5) == 0);
	CHECK(msb_exec_close_stdin(e) == 0);
	CHECK(drain(e, buf, sizeof(buf), &code) == 0);
	CHECK_STR(buf, "pong\n");
	CHECK(code == 0);
	CHECK(msb_exec_next(e, &ev, 0) == -MSB_ESTATE);
	msb_exec_free(e);

	/* the fd polls readable when output comes */
	const char *late[] = {"sh", "-c", "sleep 1; echo late", NULL};
	CHECK(msb_exec_start(&e, sb, late, NULL) == 0);
	struct pollfd p = {.fd = msb_exec_fd(e), .events = POLLIN};
	CHECK(poll(&p, 1, 30000) == 1);
	buf[0] = '\0';
	CHECK(drain(e, buf, sizeof(buf), &code) == 0);
	CHECK_STR(buf, "late\n");
	msb_exec_free(e);

	/* a signal to the process group */
	const char *sleeper[] = {"sleep", "30", NULL};
	CHECK(msb_exec_start(&e, sb, sleeper, NULL) == 0);
	CHECK(msb_exec_next(e, &ev, 30000) == 0 && ev.type == MSB_EXEC_STARTED);
	CHECK(msb_exec_signal(e, SIGTERM) == 0);
	int ec = 0, sig = 0;
	CHECK(msb_exec_wait(e, &ec, &sig) == 0 && ec == -1 && sig == SIGTERM);
	msb_exec_free(e);

	/* a missing command is an error of next() */
	const char *nope[] = {"no-such-thing", NULL};
	CHECK(msb_exec_start(&e, sb, nope, NULL) == 0);
	CHECK(msb_exec_next(e, &ev, 30000) == -MSB_ECMDNOTFOUND);
	msb_exec_free(e);

	/* a terminal: its size, a resize, output as stdout */
	msb_exec_options to = MSB_EXEC_OPTIONS_INIT;
	to.tty = 1;
	to.rows = 10;
	to.cols = 50;
	const char *ttycmd[] = {
		"sh", "-c", "stty size; read x; stty size; echo err >&2", NULL};
	CHECK(msb_exec_start(&e, sb, ttycmd, &to) == 0);
	buf[0] = '\0';
	for (int i = 0; i < 50 && !strstr(buf, "10 50\r\n"); i++) {
		if (msb_exec_next(e, &ev, 30000) < 0)
			break;
		if (ev.type == MSB_EXEC_STDOUT &&
		    strlen(buf) + ev.len < sizeof(buf))
			strncat(buf, ev.data, ev.len);
	}
	CHECK(strstr(buf, "10 50\r\n") != NULL);
	CHECK(msb_exec_resize(e, 33, 77) == 0);
	CHECK(msb_exec_write(e, "go\n", 3) == 0);
	CHECK(drain(e, buf, sizeof(buf), &code) == 0);
	CHECK(strstr(buf, "33 77\r\n") != NULL);
	CHECK(strstr(buf, "err\r\n") != NULL); /* stderr: the terminal too */
	CHECK(code == 0);
	msb_exec_free(e);
	CHECK(msb_exec_start(&e, sb, cat, NULL) == 0);
	CHECK(msb_exec_resize(e, 10, 10) == -MSB_ESTATE);
	msb_exec_free(e);

	/* freeing a running handle kills its command */
	const char *marker[] = {"sh", "-c",
				"echo $$ > /tmp/pid; exec sleep 300", NULL};
	CHECK(msb_exec_start(&e, sb, marker, NULL) == 0);
	CHECK(msb_exec_next(e, &ev, 30000) == 0);
	msb_exec_free(e);
	msb_exec_output *out = sh(sb, "sleep 1; pgrep sleep || echo none");
	CHECK_STR(msb_exec_output_stdout(out, NULL), "none\n");
	msb_exec_output_free(out);

	/* 100 commands at once in one sandbox */
	enum { N = 100 };
	msb_exec *many[N] = {0};
	char args[N][16];
	int started = 0;
	for (int i = 0; i < N; i++) {
		snprintf(args[i], sizeof(args[i]), "echo %d", i);
		const char *argv[] = {"sh", "-c", args[i], NULL};
		if (msb_exec_start(&many[i], sb, argv, NULL) == 0)
			started++;
	}
	CHECK(started == N);
	int right = 0;
	for (int i = 0; i < N; i++) {
		char want[16];
		if (!many[i])
			continue;
		buf[0] = '\0';
		snprintf(want, sizeof(want), "%d\n", i);
		if (drain(many[i], buf, sizeof(buf), &code) == 0 && code == 0 &&
		    !strcmp(buf, want))
			right++;
		msb_exec_free(many[i]);
	}
	CHECK(right == N);
	if (right != N)
		fprintf(stderr, "  %d of %d concurrent execs right\n", right,
			N);

	CHECK(msb_sandbox_stop(sb, 0) == 0);
	msb_sandbox_free(sb);
}

struct waited {
	const char *name;
	int rc;
	char status[32];
};

static void *wait_thread(void *arg)
{
	struct waited *w = arg;
	w->rc = msb_sandbox_wait(w->name, 60000, w->status, sizeof(w->status));
	return NULL;
}

/* A named sandbox persists when stopped; a second one of that name is
 * refused while the first exists. The base image stays pristine. */
static void test_named(void)
{
	msb_sandbox_options o = MSB_SANDBOX_OPTIONS_INIT;
	msb_sandbox *a = NULL, *b = NULL;
	msb_exec_output *out;
	char name[32], proc[48];

	/* unique per process: stress runs start several of these at once */
	snprintf(name, sizeof(name), "named-%d", (int)getpid());
	snprintf(proc, sizeof(proc), "msb-%s,", name);
	o.name = name;
	if (msb_sandbox_create(&a, &o) < 0) {
		CHECK(!"create named");
		fprintf(stderr, "  %s\n", msb_last_error()->message);
		return;
	}
	CHECK_STR(msb_sandbox_name(a), name);
	CHECK(msb_sandbox_create(&b, &o) == -MSB_EEXIST);
	CHECK(strstr(msb_last_error()->message, name) != NULL);
	out = sh(a, "test -e /etc/scribble && echo changed || echo pristine");
	CHECK_STR(msb_exec_output_stdout(out, NULL), "pristine\n");
	msb_exec_output_free(out);
	/* Its image cannot be removed while the sandbox exists. */
	const msb_image *img = msb_sandbox_image(a);
	CHECK(img != NULL);
	CHECK(msb_image_remove(msb_image_reference(img)) == -MSB_ESTATE);
	CHECK(strstr(msb_last_error()->message, name) != NULL);
	/* waiting: it runs, so a short wait times out */
	char st[32] = "";
	CHECK(msb_sandbox_wait(name, 300, st, sizeof(st)) == -MSB_ETIMEDOUT);
	CHECK(msb_sandbox_wait("no-such-sandbox", 300, st, sizeof(st)) ==
	      -MSB_ENOTFOUND);
	pthread_t waiter;
	struct waited w = {.name = name};
	pthread_create(&waiter, NULL, wait_thread, &w);
	CHECK(msb_sandbox_stop(a, 0) == 0);
	pthread_join(waiter, NULL);
	CHECK(w.rc == 0);
	CHECK_STR(w.status, "stopped");
	msb_sandbox_free(a);
	CHECK(find_process(proc) == 0);
	/* Its folder (disk, logs) stays; nothing runs. */
	CHECK(count_sandbox_dirs() == 1);
	/* Started again by name, with its disk. */
	CHECK(msb_sandbox_start(&a, name, 0) == 0);
	out = sh(a, "test -e /etc/scribble && echo changed || echo pristine");
	CHECK_STR(msb_exec_output_stdout(out, NULL), "pristine\n");
	msb_exec_output_free(out);
	CHECK(msb_sandbox_remove(name, 0) == -MSB_ESTATE);
	msb_sandbox_free(a);
	CHECK(msb_sandbox_remove(name, 0) == 0);
	CHECK(count_sandbox_dirs() == 0);
	CHECK(msb_sandbox_remove(name, 0) == -MSB_ENOTFOUND);
}

struct par {
	int index;
	int ok;
};

static void *boot_one(void *arg)
{
	struct par *p = arg;
	msb_sandbox_options o = MSB_SANDBOX_OPTIONS_INIT;
	msb_sandbox *sb;
	msb_exec_output *out;
	char cmd[64], want[64];

	if (msb_sandbox_create(&sb, &o) < 0) {
		fprintf(stderr, "  parallel create %d: %s\n", p->index,
			msb_last_error()->message);
		return NULL;
	}
	snprintf(cmd, sizeof(cmd), "echo sandbox-%d", p->index);
	snprintf(want, sizeof(want), "sandbox-%d\n", p->index);
	if (msb_sandbox_shell(&out, sb, cmd, NULL) == 0) {
		p->ok = !strcmp(msb_exec_output_stdout(out, NULL), want);
		msb_exec_output_free(out);
	}
	if (msb_sandbox_stop(sb, 0) < 0)
		p->ok = 0;
	msb_sandbox_free(sb);
	return NULL;
}

static void test_three_at_once(void)
{
	pthread_t t[3];
	struct par p[3];

	for (int i = 0; i < 3; i++) {
		p[i] = (struct par){.index = i};
		pthread_create(&t[i], NULL, boot_one, &p[i]);
	}
	for (int i = 0; i < 3; i++) {
		pthread_join(t[i], NULL);
		CHECK(p[i].ok);
	}
	CHECK(count_sandbox_dirs() == 0);
}

struct bg_exec {
	msb_sandbox *sb;
	int rc;
	char message[1024];
};

static void *run_sleep(void *arg)
{
	struct bg_exec *b = arg;
	msb_exec_output *out = NULL;

	b->rc = msb_sandbox_shell(&out, b->sb, "echo started; sleep 60", NULL);
	snprintf(b->message, sizeof(b->message), "%s",
		 msb_last_error()->message);
	msb_exec_output_free(out);
	return NULL;
}

/* QEMU killed under a running command: a clear error, nothing left. */
static void test_qemu_killed(void)
{
	msb_sandbox_options o = MSB_SANDBOX_OPTIONS_INIT;
	msb_sandbox *sb;
	char name[64];

	if (msb_sandbox_create(&sb, &o) < 0) {
		CHECK(!"create");
		return;
	}
	snprintf(name, sizeof(name), "msb-%s,", msb_sandbox_name(sb));
	pid_t qemu = find_process(name);
	CHECK(qemu > 0);

	struct bg_exec b = {.sb = sb};
	pthread_t t;
	pthread_create(&t, NULL, run_sleep, &b);
	struct timespec ts = {.tv_sec = 1};
	nanosleep(&ts, NULL);
	if (qemu > 0)
		kill(qemu, SIGKILL);
	pthread_join(t, NULL);
	CHECK(b.rc == -MSB_EVMDIED);
	CHECK(strstr(b.message, "signal 9") != NULL);
	fprintf(stderr, "  QEMU killed: %s\n", b.message);
	msb_sandbox_free(sb);
	CHECK(find_process(name) == 0);
	CHECK(count_sandbox_dirs() == 0);
}

/* The sandbox stops when the process that created it dies, even by
 * SIGKILL: the supervisor sees EOF on its watch pipe. */
static void test_creator_killed(void)
{
	int pfd[2];
	char name[80] = "";

	if (pipe(pfd) < 0)
		return;
	pid_t child = fork();
	if (child == 0) {
		msb_sandbox_options o = MSB_SANDBOX_OPTIONS_INIT;
		msb_sandbox *sb;
		close(pfd[0]);
		if (msb_sandbox_create(&sb, &o) == 0)
			dprintf(pfd[1], "msb-%s,", msb_sandbox_name(sb));
		close(pfd[1]);
		pause();
		_exit(0);
	}
	close(pfd[1]);
	ssize_t n = read(pfd[0], name, sizeof(name) - 1);
	close(pfd[0]);
	CHECK(n > 0);
	if (n > 0)
		name[n] = '\0';
	CHECK(n > 0 && find_process(name) > 0);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	/* Gone within seconds. */
	int tries = 0;
	while (n > 0 && find_process(name) && tries++ < 150) {
		struct timespec ts = {.tv_nsec = 100 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	CHECK(n > 0 && find_process(name) == 0);
	tries = 0;
	while (count_sandbox_dirs() && tries++ < 50) {
		struct timespec ts = {.tv_nsec = 100 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	CHECK(count_sandbox_dirs() == 0);
}

/* Boot failures, with test guests whose init hangs or exits. */
/* A guest folder like the real one but with another initramfs. */
static void make_guest(char *dir, size_t len, const char *home, const char *tag,
		       const char *initramfs)
{
	const char *real = getenv("MSB_TEST_GUEST_DIR");
	char src[4096], dst[4096];

	snprintf(dir, len, "%s/guest-%s", home, tag);
	mkdir(dir, 0700);
	/* the network's driver archive: sandboxes have a network by
	 * default */
	const char *names[] = {"vmlinux", "rootfs.ext4", "initramfs-net.cpio"};
	for (int i = 0; i < 3; i++) {
		snprintf(src, sizeof(src), "%s/%s", real, names[i]);
		snprintf(dst, sizeof(dst), "%s/%s", dir, names[i]);
		if (symlink(src, dst) < 0)
			perror(dst);
	}
	snprintf(dst, sizeof(dst), "%s/initramfs.cpio", dir);
	char *abs = realpath(initramfs, NULL);
	if (!abs || symlink(abs, dst) < 0)
		perror(dst);
	free(abs);
}

static void test_boot_errors(const char *home, const char *hang_initrd,
			     const char *panic_initrd)
{
	msb_sandbox_options o = MSB_SANDBOX_OPTIONS_INIT;
	msb_sandbox *sb = NULL;
	char hang_dir[4096], panic_dir[4096];

	make_guest(hang_dir, sizeof(hang_dir), home, "hang", hang_initrd);
	make_guest(panic_dir, sizeof(panic_dir), home, "panic", panic_initrd);

	setenv("MSB_GUEST_DIR", hang_dir, 1);
	/* long enough for the hanging init to have printed its line even
	   on a loaded host: the message must carry it */
	o.boot_timeout_s = 20;
	CHECK(msb_sandbox_create(&sb, &o) == -MSB_ETIMEDOUT);
	fprintf(stderr, "  timeout: %s\n", msb_last_error()->message);
	CHECK(strstr(msb_last_error()->message, "not ready after 20 s") !=
	      NULL);
	/* the kernel log's last lines are part of the message */
	CHECK(strstr(msb_last_error()->message, "test-init: hanging") != NULL);
	CHECK(count_sandbox_dirs() == 0);

	setenv("MSB_GUEST_DIR", panic_dir, 1);
	o.boot_timeout_s = 30;
	CHECK(msb_sandbox_create(&sb, &o) == -MSB_EVMDIED);
	fprintf(stderr, "  panic: %s\n", msb_last_error()->message);
	CHECK(strstr(msb_last_error()->message, "panic") != NULL);
	CHECK(count_sandbox_dirs() == 0);
	unsetenv("MSB_GUEST_DIR");
}

static void test_kvm_required(void)
{
	msb_sandbox_options o = MSB_SANDBOX_OPTIONS_INIT;
	msb_sandbox *sb = NULL;

	if (kvm_usable()) {
		printf("  KVM is usable here: the MSB_ACCEL=kvm error is not testable\n");
		return;
	}
	setenv("MSB_ACCEL", "kvm", 1);
	CHECK(msb_sandbox_create(&sb, &o) == -MSB_EKVM);
	CHECK(strstr(msb_last_error()->message, "MSB_ACCEL=tcg") != NULL);
	unsetenv("MSB_ACCEL");
	CHECK(count_sandbox_dirs() == 0);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s HANG_INITRAMFS PANIC_INITRAMFS\n",
			argv[0]);
		return 2;
	}
	const char *home = temp_home();
	msb_set_log_callback(log_cb, MSB_LOG_INFO, NULL);
	unsetenv("MSB_ACCEL");

	test_case("test_commands", 180);
	test_commands();
	test_case("test_named", 120);
	test_named();
	test_case("test_streaming", 180);
	test_streaming();
	test_case("test_procs", 180);
	test_procs();
	test_case("test_three_at_once", 180);
	test_three_at_once();
	test_case("test_qemu_killed", 120);
	test_qemu_killed();
	test_case("test_creator_killed", 120);
	test_creator_killed();
	test_case("test_boot_errors", 180);
	test_boot_errors(home, argv[1], argv[2]);
	test_case("test_kvm_required", 60);
	test_kvm_required();

	alarm(0);
	remove_tree(home);
	return check_summary("test_sandbox");
}
