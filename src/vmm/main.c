// SPDX-License-Identifier: Apache-2.0
/*
 * msb-vmm - the per-sandbox supervisor.
 *
 * DOC: Theory of operation
 *
 * The library starts one msb-vmm per sandbox (posix_spawn, new session) with
 * four descriptors (spec.h): the VM spec as JSON, a status pipe, the
 * creator's agent connection and a watch pipe. The supervisor
 *
 *  1. creates the sandbox folder (the name's lock), its logs/ and a qcow2
 *     overlay over the read-only base root disk;
 *  2. picks KVM or TCG and starts QEMU with the agent's virtio-serial port
 *     on one end of a socketpair (QEMU dies with the supervisor:
 *     PR_SET_PDEATHSIG);
 *  3. sends the agent its HELLO (bootstrap) and waits for READY, with a
 *     deadline; reports "R" (or "E" with the reason and the kernel log's
 *     last lines) on the status pipe;
 *  4. relays frames between its clients and the guest: each client has its
 *     own stream id space, mapped to guest stream ids here, so the relay
 *     only rewrites frame headers and never decodes bulk data. Stream 0 of
 *     a client is the supervisor's control stream (SHUTDOWN, PING);
 *  5. stops the VM when asked, when the creator goes away (watch pipe EOF)
 *     or on SIGTERM: SHUTDOWN to the agent, then SIGKILL at the deadline;
 *  6. when QEMU has exited, tells clients why if it was unexpected, removes
 *     what must not outlive the VM (everything, for an ephemeral sandbox)
 *     and exits.
 *
 * Single-threaded: one poll() loop, a signalfd for SIGCHLD/SIGTERM/SIGINT.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "microsandbox.h"
#include "net/policy.h"
#include "proto/proto.h"
#include "util/util.h"
#include "vmm/diskfull.h"
#include "vmm/execlog.h"
#include "vmm/hosttools.h"
#include "vmm/jail.h"
#include "vmm/logfile.h"
#include "vmm/metrics.h"
#include "vmm/qcow2.h"
#include "vmm/qemu.h"
#include "vmm/relay.h"
#include "vmm/syscalls.h"
#include "vmm/spec.h"
#include "vmm/template.h"
#include "vmm/state.h"
#include "vmm/suspend.h"
#include "vmm/workload.h"
#include <sys/un.h>

#define MAX_CLIENTS 256
#define BUF_HIGH (8u << 20) /* stop reading a producer above this */
#define DEFAULT_STOP_MS 10000
/* Caps of vmm.log and kernel.log (each keeps one older file, .1). */
#define VMM_LOG_MAX (4u << 20)
#define KERNEL_LOG_MAX (4u << 20)
#define NET_LOG_MAX (4u << 20)
/* The console read per loop turn, at most (the guest waits meanwhile). */
#define CONSOLE_READ_MAX (256u << 10)

struct client {
	int fd;
	struct msb_buf in, out;
};

/*
 * The main process's attach slot (MSB_MSG_MAIN_ATTACH, msb attach NAME).
 * One client at a time; a second is refused ("busy"). Its output is a
 * copy of what goes to main.log: the guest is credited as the log is
 * written, whatever the client does, and a client that has more than
 * ATTACH_LAG_MAX bytes of it unacknowledged (not credited) is dropped,
 * so neither the workload nor the log waits for a client. Its input
 * waits in @pend for the guest's window (wl.in_credit); the client is
 * credited as it goes to the guest, so @pend holds a window at most.
 */
#define ATTACH_LAG_MAX (1u << 20)
struct main_attach {
	struct client *c;    /* NULL: the slot is free */
	uint32_t stream;     /* the client's stream id */
	bool feed;           /* its STDIN goes to the main process */
	bool eof;            /* it closed stdin: close it once @pend is sent */
	uint64_t lag;        /* output sent it and not yet credited */
	uint64_t owed;       /* input sent on to the guest, not yet credited */
	struct msb_buf pend; /* input waiting for the guest's window */
};

enum state { BOOTING, RUNNING, STOPPING };

static struct vmm {
	struct msb_vm_spec spec;
	enum state state;
	int status_fd, watch_fd, agent_fd, sig_fd, lock_fd;
	struct qmp qmp; /* QEMU's QMP monitor */
	/* Clients waiting for metrics while the agent is asked for guest
	 * memory (answered when it replies, or at metrics_deadline). */
	struct client *metrics_wait[16];
	size_t nmetrics_wait;
	uint64_t metrics_deadline;
	uint64_t mem_used, mem_total;      /* the agent's last answer */
	uint64_t cpu_prev_us, cpu_prev_at; /* last metrics sample */
	pid_t qemu_pid;
	int qemu_status;
	bool qemu_exited;
	uint64_t start_us, deadline_us;
	uint64_t ready_us;        /* when the guest became ready */
	uint64_t activity_us;     /* last client request on a stream, or the end
				     of a client's stream (never a guest frame) */
	struct relay_watch watch; /* the agent's liveness (agent_check()) */
	char stop_reason[128];
	struct msb_buf agent_in, agent_out;
	struct client *clients[MAX_CLIENTS];
	struct relay relay; /* the routes of client streams (relay.h) */
	bool dir_created;   /* by this run: remove it all if creation fails */
	bool locked;        /* we hold the sandbox's lock */
	int listen_fd;      /* run/agent.sock: more clients (reconnect) */
	char log_dir[PATH_MAX], console_log[PATH_MAX + 32], disk[PATH_MAX + 32];
	struct execlog execlog;
	struct workload wl;     /* the main process (workload.h) */
	struct main_attach att; /* its one attach slot */
	/* Logs (logfile.h): our own diagnostics and the stderr of QEMU and
	 * virtiofsd (a pipe we read, @stderr_fd) in vmm.log; the serial
	 * console (a socket we read, @console_fd) in kernel.log. */
	struct logfile vmmlog, kernlog;
	int stderr_fd, console_fd;
	struct linebuf stderr_lb, console_lb;
	/* QEMU's own stderr: a pipe of its own, copied to vmm.log; its last
	 * lines explain a failed start (vm_died()). */
	int qemu_err_fd;
	struct linebuf qemu_err_lb;
	struct linetail qemu_tail;
	uint64_t host_ram_mib; /* for messages; 0: unknown */
	long host_cpus;        /* online CPUs; 0: unknown */
	bool overcommitted;    /* more vCPUs than host CPUs, under TCG */
	/* Lines the guest can trigger in vmm.log, and the children's. */
	struct ratelimit guest_rl, stderr_rl;
	/* msb-netd (start_network()): its stderr, a pipe we copy into the
	 * capped logs/net.log. */
	pid_t netd_pid;
	int net_err_fd;
	bool net_up;        /* it logged its start line */
	char net_last[512]; /* its last line before that, escaped */
	struct linebuf net_lb;
	struct logfile netlog;
	/* Its counters: a SOCK_DGRAM socket it sends one update a datagram
	 * to (--stats-fd), and the last good update (read_net_stats()). */
	int net_stats_fd;
	struct net_counters net;
	uint64_t net_bad; /* updates dropped as invalid */
	/* Warm templates (template.h): what this boot does with one. */
	struct tmpl tmpl;
	int kvm;         /* choose_kvm()'s answer; -1: not asked yet */
	bool disk_fresh; /* create_disk() made the overlay just now */
	int net_link_fd; /* a copy of QEMU's end of netd's link, kept while
			    a restore may still fall back to a cold boot */
	/* Pause, suspend and resume (docs/snapshots.md, "Pause, resume and
	 * suspend"). */
	bool user_paused;       /* msb pause: the vCPUs are stopped */
	bool suspended;         /* the state is saved: end as "suspended" */
	bool resuming;          /* this boot restores a suspended state */
	bool keep_suspended;    /* a resume failed: the state is kept */
	bool vm_key_ok;         /* @vm_key is complete */
	struct tmpl_key vm_key; /* made before confine_self() */
	char susp_vmm[8192];    /* the saved "vmm" file, while resuming */
	/* TLS interception (spec.tls): the sandbox CA's certificate (PEM,
	 * tls/ca.pem), which every hello hands the guest; NULL: none. */
	char *ca_pem;
} vmm = {
	.status_fd = MSB_VMM_FD_STATUS,
	.watch_fd = MSB_VMM_FD_WATCH,
	.agent_fd = -1,
	.sig_fd = -1,
	.lock_fd = -1,
	.listen_fd = -1,
	.qmp = {.fd = -1},
	.relay = {.next_guest_id = 1},
	.execlog = {.log = {.fd = -1}},
	.wl = {.log = {.fd = -1}},
	.vmmlog = {.fd = -1},
	.kernlog = {.fd = -1},
	.stderr_fd = -1,
	.qemu_err_fd = -1,
	.console_fd = -1,
	.net_err_fd = -1,
	.net_stats_fd = -1,
	.netlog = {.fd = -1},
	.guest_rl = {.burst = 20, .per_s = 2},
	.stderr_rl = {.burst = 200, .per_s = 20},
	.tmpl = TMPL_INIT,
	.kvm = -1,
	.net_link_fd = -1,
};

/*
 * One record in vmm.log (on stderr before it is open): a time stamp, then
 * the message with any control character escaped, so that it stays one
 * line whatever it quotes.
 */
__attribute__((format(printf, 1, 2))) static void logmsg(const char *fmt, ...)
{
	char msg[LOGFILE_LINE], rec[LOGFILE_LINE + 64];
	struct timespec ts;
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	int h = snprintf(rec, sizeof(rec),
			 "%lld.%03ld msb-vmm[%d]: ", (long long)ts.tv_sec,
			 ts.tv_nsec / 1000000, (int)getpid());
	size_t len =
		(size_t)h + logfile_escape(rec + h, sizeof(rec) - (size_t)h - 1,
					   (const uint8_t *)msg,
					   strnlen(msg, sizeof(msg)), false);
	rec[len++] = '\n';
	if (vmm.vmmlog.fd >= 0)
		logfile_write(&vmm.vmmlog, rec, len);
	else
		write_all(STDERR_FILENO, rec, len);
}

/*
 * Text from the guest in vmm.log: quoted and escaped, after @what, and
 * rate-limited (then one "suppressed N messages" line when it resumes).
 */
static void log_guest(const char *what, const uint8_t *p, size_t n)
{
	char text[1024];
	uint64_t suppressed;

	if (!ratelimit_allow(&vmm.guest_rl, now_us(), &suppressed))
		return;
	if (suppressed)
		logmsg("suppressed %" PRIu64 " messages from the guest",
		       suppressed);
	if (!p) {
		logmsg("%s", what);
		return;
	}
	logfile_escape(text, sizeof(text), p, n > 512 ? 512 : n, true);
	logmsg("%s: \"%s\"%s", what, text, n > 512 ? " (cut)" : "");
}

/* A line of QEMU's or virtiofsd's stderr (linebuf_emit_fn). */
static void stderr_line(const uint8_t *line, size_t len, void *ud)
{
	char text[LOGFILE_LINE];
	uint64_t suppressed;

	(void)ud;
	if (!ratelimit_allow(&vmm.stderr_rl, now_us(), &suppressed))
		return;
	if (suppressed)
		logmsg("suppressed %" PRIu64 " lines of stderr", suppressed);
	logfile_escape(text, sizeof(text), line, len, false);
	logmsg("stderr: %s", text);
}

/* A line of QEMU's stderr (linebuf_emit_fn): vmm.log, and the tail. */
static void qemu_err_line(const uint8_t *line, size_t len, void *ud)
{
	linetail_add(&vmm.qemu_tail, line, len);
	stderr_line(line, len, ud);
}

/* A line of msb-netd's stderr (linebuf_emit_fn): net.log, escaped (it
 * may quote names the guest chose); netd stamps its own lines. */
static void net_line(const uint8_t *line, size_t len, void *ud)
{
	char rec[LOGFILE_LINE + 2];

	(void)ud;
	size_t n = logfile_escape(rec, sizeof(rec) - 1, line, len, false);
	/* Until it is up (wait_netd_up()): its last line, and whether it
	   said it started ("<time> start: guest ..."). */
	if (!vmm.net_up) {
		rec[n] = '\0';
		size_t k =
			n < sizeof(vmm.net_last) ? n : sizeof(vmm.net_last) - 1;
		memcpy(vmm.net_last, rec, k);
		vmm.net_last[k] = '\0';
		const char *sp = strchr(rec, ' ');
		if (sp && !strncmp(sp, " start: ", 8))
			vmm.net_up = true;
	}
	rec[n++] = '\n';
	logfile_write(&vmm.netlog, rec, n);
}

/* A line of the serial console (linebuf_emit_fn): kernel.log as is,
 * escaped; what could not be written is reported once writes work. */
static void console_record(const uint8_t *line, size_t len, void *ud)
{
	char rec[4 * LOGFILE_LINE + 2];
	uint64_t dropped = vmm.kernlog.dropped;

	(void)ud;
	size_t n = logfile_escape(rec, sizeof(rec) - 1, line, len, false);
	rec[n++] = '\n';
	if (logfile_write(&vmm.kernlog, rec, n) == 0 && dropped) {
		int k = snprintf(rec, sizeof(rec),
				 "[msb-vmm: %" PRIu64 " bytes dropped]\n",
				 dropped);
		vmm.kernlog.dropped = 0;
		logfile_write(&vmm.kernlog, rec, (size_t)k);
	}
}

/*
 * Move what @fd has (up to @max bytes) through @lb to @emit. Return: false
 * at EOF or on an error (the descriptor is then closed).
 */
static bool drain_fd(int *fd, struct linebuf *lb, linebuf_emit_fn emit,
		     size_t max)
{
	uint8_t buf[65536];

	for (size_t done = 0; *fd >= 0 && done < max;) {
		ssize_t n = read(*fd, buf, sizeof(buf));
		if (n > 0) {
			linebuf_feed(lb, buf, (size_t)n, emit, NULL);
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return true;
		linebuf_flush(lb, emit, NULL);
		close_fd(fd);
		return false;
	}
	return true;
}

/* Everything the console and the children's stderr have now, partial
 * lines included: before reading kernel.log, and at exit. */
static void drain_logs(void)
{
	drain_fd(&vmm.console_fd, &vmm.console_lb, console_record, SIZE_MAX);
	linebuf_flush(&vmm.console_lb, console_record, NULL);
	drain_fd(&vmm.stderr_fd, &vmm.stderr_lb, stderr_line, SIZE_MAX);
	linebuf_flush(&vmm.stderr_lb, stderr_line, NULL);
	drain_fd(&vmm.qemu_err_fd, &vmm.qemu_err_lb, qemu_err_line, SIZE_MAX);
	linebuf_flush(&vmm.qemu_err_lb, qemu_err_line, NULL);
	drain_fd(&vmm.net_err_fd, &vmm.net_lb, net_line, SIZE_MAX);
	linebuf_flush(&vmm.net_lb, net_line, NULL);
}

/* A bounded read of the console, the supervisor's stderr and QEMU's,
 * each when its poll entry says so (@con, @err, @qerr: revents). */
static void drain_ready(short con, short err, short qerr)
{
	if (con)
		drain_fd(&vmm.console_fd, &vmm.console_lb, console_record,
			 CONSOLE_READ_MAX);
	if (err)
		drain_fd(&vmm.stderr_fd, &vmm.stderr_lb, stderr_line,
			 CONSOLE_READ_MAX);
	if (qerr)
		drain_fd(&vmm.qemu_err_fd, &vmm.qemu_err_lb, qemu_err_line,
			 CONSOLE_READ_MAX);
}

__attribute__((format(printf, 1, 2))) static void status(const char *fmt, ...)
{
	char line[2048];
	va_list ap;

	if (vmm.status_fd < 0)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	/* One line: fold any newline inside the message. */
	for (int i = 0; i < n; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[n++] = '\n';
	if (write_all(vmm.status_fd, line, (size_t)n) < 0)
		close_fd(&vmm.status_fd);
}

/* The last lines of the kernel console, joined with " | ". */
static void console_tail(char *out, size_t outlen, int lines)
{
	char buf[8192];

	drain_logs();
	_cleanup_close_ int fd = open(vmm.console_log, O_RDONLY | O_CLOEXEC);

	out[0] = '\0';
	if (fd < 0)
		return;
	off_t size = lseek(fd, 0, SEEK_END);
	off_t from = size > (off_t)sizeof(buf) - 1
			     ? size - (off_t)sizeof(buf) + 1
			     : 0;
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, from);
	if (n <= 0)
		return;
	buf[n] = '\0';
	/* Walk back over @lines non-empty lines. */
	char *end = buf + n, *start = end;
	int found = 0;
	while (start > buf && found < lines) {
		char *p = start - 1;
		while (p > buf && (*p == '\n' || *p == '\r'))
			p--;
		char *q = p;
		while (q > buf && q[-1] != '\n')
			q--;
		if (p >= q && (*p != '\n'))
			found++;
		start = q;
		if (q == buf)
			break;
	}
	size_t o = 0;
	for (char *p = start; p < end && o + 4 < outlen; p++) {
		if (*p == '\r')
			continue;
		if (*p == '\n') {
			if (o && p + 1 < end) {
				memcpy(out + o, " | ", 3);
				o += 3;
			}
			continue;
		}
		/* One printable ASCII line: it travels in a CBOR text. */
		unsigned char ch = (unsigned char)*p;
		out[o++] = ch < 0x20 ? ' ' : ch >= 0x7f ? '?' : (char)ch;
	}
	/* Drop a trailing separator. */
	while (o >= 3 && !memcmp(out + o - 3, " | ", 3))
		o -= 3;
	out[o] = '\0';
}

/* The last console line containing @needle, copied to @out; false if
 * there is none. */
static bool console_line(const char *needle, char *out, size_t outlen)
{
	char buf[65536];

	drain_logs();
	_cleanup_close_ int fd = open(vmm.console_log, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	off_t size = lseek(fd, 0, SEEK_END);
	off_t from = size > (off_t)sizeof(buf) - 1
			     ? size - (off_t)sizeof(buf) + 1
			     : 0;
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, from);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	char *hit = NULL;
	for (char *p = buf; (p = strstr(p, needle)); p++)
		hit = p;
	if (!hit)
		return false;
	size_t len = strcspn(hit, "\r\n");
	snprintf(out, outlen, "%.*s", (int)len, hit);
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	return true;
}

/* Remove what must not outlive the VM. */
static void cleanup_dir(bool everything)
{
	/* An ephemeral sandbox's folder goes with its row, also when it was
	 * made before this supervisor (msb create --rm, a sandbox from a
	 * snapshot), but only by the supervisor that holds its lock: one
	 * that lost the race to start it must leave the running one be. */
	if (everything &&
	    (vmm.dir_created || (vmm.spec.ephemeral && vmm.locked))) {
		rm_rf(vmm.spec.sandbox_dir);
		return;
	}
	if (!vmm.locked)
		return;
	char run[PATH_MAX];
	snprintf(run, sizeof(run), "%s/run", vmm.spec.sandbox_dir);
	rm_rf(run);
}

static void kill_qemu(void)
{
	if (vmm.qemu_pid > 0 && !vmm.qemu_exited)
		kill(vmm.qemu_pid, SIGKILL);
}

static void reap_qemu_blocking(void)
{
	if (vmm.qemu_pid <= 0 || vmm.qemu_exited)
		return;
	while (waitpid(vmm.qemu_pid, &vmm.qemu_status, 0) < 0 && errno == EINTR)
		;
	vmm.qemu_exited = true;
}

/* Creation failed: report, undo everything, exit. */
__attribute__((noreturn, format(printf, 3, 4))) static void
fail(int code, int err, const char *fmt, ...)
{
	char msg[1536];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	logmsg("error: %s", msg);
	status("E %d %d %s", code, err, msg);
	kill_qemu();
	reap_qemu_blocking();
	drain_logs();
	/* The row goes when this create made it (the library inserted it
	 * for this boot), or with an ephemeral sandbox's folder, only by
	 * the supervisor that holds its lock: one that lost the race to
	 * start it must leave the running one's row be. */
	bool creating = vmm.spec.mode && !strcmp(vmm.spec.mode, "create");
	if (creating || (vmm.spec.ephemeral && vmm.locked)) {
		state_delete();
	} else if (vmm.locked) {
		state_run_end(msg);
		state_status(vmm.keep_suspended ? "suspended" : "stopped", 0);
	}
	cleanup_dir(true);
	_exit(1);
}

static int mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

static void open_logs(void);

static void setup_dir(void)
{
	const char *dir = vmm.spec.sandbox_dir;
	char parent[PATH_MAX], path[PATH_MAX + 32];

	if (strlen(dir) > PATH_MAX - 64)
		fail(MSB_EINVAL, ENAMETOOLONG, "sandbox folder `%s` too long",
		     dir);
	snprintf(parent, sizeof(parent), "%s", dir);
	char *slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		if (mkdir_p(parent, 0700) < 0)
			fail(MSB_ESYS, errno, "mkdir `%s`: %s", parent,
			     strerror(errno));
	}
	bool starting = !strcmp(vmm.spec.mode, "start") ||
			!strcmp(vmm.spec.mode, "resume");
	/* A sandbox defined but never started has no folder yet. */
	if (starting && mkdir(dir, 0700) < 0 && errno != EEXIST)
		fail(MSB_ESYS, errno, "mkdir `%s`: %s", dir, strerror(errno));
	/* A sandbox with secrets: the library made its folder with them. */
	if (!starting && !vmm.spec.prepared && mkdir(dir, 0700) < 0) {
		if (errno == EEXIST)
			fail(MSB_EEXIST, 0,
			     "sandbox `%s` already exists (%s): choose another name or remove it",
			     vmm.spec.name, dir);
		fail(MSB_ESYS, errno, "mkdir `%s`: %s", dir, strerror(errno));
	}
	vmm.dir_created = !starting;

	snprintf(path, sizeof(path), "%s/lock", dir);
	vmm.lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (vmm.lock_fd < 0)
		fail(starting && errno == ENOENT ? MSB_ENOTFOUND : MSB_ESYS,
		     errno, "open `%s`: %s", path, strerror(errno));
	if (flock(vmm.lock_fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			fail(MSB_ESTATE, 0, "sandbox `%s` is already running",
			     vmm.spec.name);
		fail(MSB_ESYS, errno, "lock `%s`: %s", path, strerror(errno));
	}
	vmm.locked = true;
	if (ftruncate(vmm.lock_fd, 0) < 0)
		fail(MSB_ESYS, errno, "truncate `%s`: %s", path,
		     strerror(errno));
	char pid[32];
	int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (write_all(vmm.lock_fd, pid, (size_t)n) < 0)
		fail(MSB_ESYS, errno, "write `%s`: %s", path, strerror(errno));

	/* Which image this sandbox's disk depends on (image rm checks). */
	if (vmm.spec.image[0]) {
		snprintf(path, sizeof(path), "%s/image", dir);
		_cleanup_close_ int ifd =
			open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (ifd < 0 ||
		    write_all(ifd, vmm.spec.image, strlen(vmm.spec.image)) < 0)
			fail(MSB_ESYS, errno, "write `%s`: %s", path,
			     strerror(errno));
	}

	snprintf(vmm.log_dir, sizeof(vmm.log_dir), "%s/logs", dir);
	snprintf(path, sizeof(path), "%s/run", dir);
	if ((mkdir(vmm.log_dir, 0700) < 0 && errno != EEXIST) ||
	    (mkdir(path, 0700) < 0 && errno != EEXIST))
		fail(MSB_ESYS, errno, "mkdir in `%s`: %s", dir,
		     strerror(errno));
	snprintf(vmm.console_log, sizeof(vmm.console_log), "%s/kernel.log",
		 vmm.log_dir);
	execlog_open(&vmm.execlog, vmm.log_dir);
	snprintf(vmm.disk, sizeof(vmm.disk), "%s/disk.qcow2", dir);
	open_logs();
}

/*
 * From here on our own diagnostics go to logs/vmm.log, and our stderr,
 * which the programs we start inherit, is a pipe whose lines we copy there.
 * The kernel console starts afresh each run (its last lines explain a
 * failed boot).
 */
static void open_logs(void)
{
	char path[sizeof(vmm.console_log) + 8];
	int p[2];

	snprintf(path, sizeof(path), "%s/vmm.log", vmm.log_dir);
	if (logfile_open(&vmm.vmmlog, path, VMM_LOG_MAX) < 0)
		fail(MSB_ESYS, errno, "open `%s`: %s", path, strerror(errno));
	snprintf(path, sizeof(path), "%s.1", vmm.console_log);
	unlink(path);
	unlink(vmm.console_log);
	if (logfile_open(&vmm.kernlog, vmm.console_log, KERNEL_LOG_MAX) < 0)
		fail(MSB_ESYS, errno, "open `%s`: %s", vmm.console_log,
		     strerror(errno));
	if (pipe2(p, O_CLOEXEC) < 0)
		fail(MSB_ESYS, errno, "pipe: %s", strerror(errno));
	fcntl(p[0], F_SETPIPE_SZ, 1 << 20); /* best effort */
	/* dup2() leaves the new descriptor inheritable */
	if (dup2(p[1], STDERR_FILENO) < 0)
		fail(MSB_ESYS, errno, "dup2: %s", strerror(errno));
	close(p[1]);
	vmm.stderr_fd = p[0];
	set_nonblock(vmm.stderr_fd, 1);
	setvbuf(stderr, NULL, _IOLBF, 0);
}

/*
 * Run a helper program to completion with stdout/stderr in vmm.log.
 * Return: its exit status (0..255), or -1 if it could not run.
 */
static int run_helper(char *const argv[])
{
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(STDERR_FILENO, STDOUT_FILENO);
		sigset_t all;
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		execv(argv[0], argv);
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void create_disk(void)
{
	/* The base stays unwritten by every sandbox that reads it (shared);
	 * one booted read-write in place has it alone (exclusive). */
	int lfd = open(vmm.spec.rootfs, O_RDONLY | O_CLOEXEC);
	if (lfd < 0)
		fail(MSB_ENOTFOUND, errno, "root disk `%s`: %s",
		     vmm.spec.rootfs, strerror(errno));
	if (flock(lfd, (vmm.spec.root_direct ? LOCK_EX : LOCK_SH) | LOCK_NB) <
	    0)
		fail(MSB_ESTATE, 0,
		     "root disk `%s` is in use by another sandbox%s",
		     vmm.spec.rootfs,
		     vmm.spec.root_direct ? "" : " that writes it");
	/* lfd stays open: the lock lasts until we exit */
	if (vmm.spec.root_direct) {
		snprintf(vmm.disk, sizeof(vmm.disk), "%s", vmm.spec.rootfs);
		return;
	}
	/* A started sandbox keeps its disk: its writes survive restarts. */
	if ((!strcmp(vmm.spec.mode, "start") ||
	     !strcmp(vmm.spec.mode, "resume")) &&
	    access(vmm.disk, F_OK) == 0)
		return;
	char size[32];
	char *argv[] = {vmm.spec.qemu_img,
			"create",
			"-q",
			"-f",
			"qcow2",
			"-b",
			vmm.spec.rootfs,
			"-F",
			vmm.spec.root_format,
			vmm.disk,
			NULL,
			NULL};
	if (vmm.spec.root_size_mib) {
		/* Larger than the image: the agent grows the filesystem. */
		struct stat st;
		uint64_t want = (uint64_t)vmm.spec.root_size_mib << 20;
		if (stat(vmm.spec.rootfs, &st) == 0 &&
		    (uint64_t)st.st_size > want)
			fail(MSB_EINVAL, 0,
			     "root size %u MiB is smaller than the image's "
			     "root filesystem (%llu MiB)",
			     vmm.spec.root_size_mib,
			     (unsigned long long)(st.st_size >> 20));
		snprintf(size, sizeof(size), "%uM", vmm.spec.root_size_mib);
		argv[10] = size;
	}

	/* Written here, qemu-img (which says why in vmm.log) only if this
	 * cannot do it. */
	char err[256];
	if (qcow2_create_overlay(vmm.disk, vmm.spec.rootfs,
				 vmm.spec.root_format,
				 (uint64_t)vmm.spec.root_size_mib << 20, err,
				 sizeof(err)) == 0) {
		vmm.disk_fresh = true;
		return;
	}
	logmsg("root overlay: %s: trying qemu-img", err);
	int rc = run_helper(argv);
	if (rc != 0)
		fail(MSB_ESYS, 0,
		     "qemu-img create `%s` over `%s` failed (status %d): see %s/vmm.log",
		     vmm.disk, vmm.spec.rootfs, rc, vmm.log_dir);
	vmm.disk_fresh = true;
}

/* KVM when it is usable (or required), else TCG. */
static bool choose_kvm(void)
{
	const char *accel = vmm.spec.accel;
	char why[256];

	if (vmm.kvm >= 0)
		return vmm.kvm;
	vmm.kvm = 0;
	if (!strcmp(accel, "tcg"))
		return false;
	if (msb_kvm_usable(why, sizeof(why)))
		return (vmm.kvm = 1);
	if (!strcmp(accel, "kvm"))
		fail(MSB_EKVM, 0,
		     "MSB_ACCEL=kvm but KVM is not usable: %s: enable KVM and add yourself to the kvm group, or set MSB_ACCEL=tcg",
		     why);
	status("W KVM is not usable (%s): running under TCG software emulation, which is much slower",
	       why);
	return false;
}

/*
 * More vCPUs than the host has online CPUs: allowed, and said. Under TCG
 * every vCPU is a host thread emulating instructions; past the host's
 * CPUs they take turns, and the guest boots and runs slower (measured
 * on 2 CPUs: 4 vCPUs +5%, 8 vCPUs +45%, 64 vCPUs not ready within a
 * minute). Under KVM QEMU takes
 * them too (it refuses only past KVM's maximum, far above 64): idle vCPUs
 * cost little, busy ones share the CPUs.
 */
static void warn_cpus(bool kvm)
{
	if (!vmm.host_cpus || vmm.spec.cpus <= (unsigned)vmm.host_cpus)
		return;
	vmm.overcommitted = !kvm;
	if (kvm)
		status("W %u vCPUs on a host with %ld online CPUs: they share "
		       "the CPUs",
		       vmm.spec.cpus, vmm.host_cpus);
	else
		status("W %u vCPUs on a host with %ld online CPUs under TCG: "
		       "they take turns on the host's CPUs, and the guest "
		       "boots and runs slower (many may not boot in time); "
		       "use %ld or fewer",
		       vmm.spec.cpus, vmm.host_cpus, vmm.host_cpus);
}

/* A socketpair whose child end is numbered at least 10, so that dup2() to
 * a low number in the child never meets itself. */
static void socketpair_high(int sv[2])
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		fail(MSB_ESYS, errno, "socketpair: %s", strerror(errno));
	int high = fcntl(sv[1], F_DUPFD_CLOEXEC, 10);
	if (high < 0)
		fail(MSB_ESYS, errno, "fcntl: %s", strerror(errno));
	close(sv[1]);
	sv[1] = high;
}

#define MAX_DISKS 64

/*
 * Take each volume's lock for the life of this supervisor: shared for a
 * read-only attachment, exclusive for a read-write one; and fill @qc's
 * disk list. A volume another sandbox holds fails the boot.
 */
static void lock_volumes(struct msb_qemu_config *qc)
{
	static const char *paths[MAX_DISKS];
	static bool ro[MAX_DISKS];
	static size_t n;
	static bool done; /* a second QEMU (template fallback) reuses it */

	for (char **d = vmm.spec.disks; !done && d && *d; d++) {
		if (n == MAX_DISKS)
			fail(MSB_EINVAL, 0, "more than %d volumes", MAX_DISKS);
		if (strncmp(*d, "ro:", 3) && strncmp(*d, "rw:", 3))
			fail(MSB_EINVAL, 0, "invalid disk `%s` in the spec",
			     *d);
		ro[n] = !strncmp(*d, "ro:", 3);
		paths[n] = *d + 3;
		/* The volume's name is its folder's. */
		char name[256] = "?";
		const char *end = strrchr(paths[n], '/'), *start = end;
		while (start && start > paths[n] && start[-1] != '/')
			start--;
		if (end && start && end > start)
			snprintf(name, sizeof(name), "%.*s", (int)(end - start),
				 start);
		int fd = open(paths[n], O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			fail(MSB_ENOTFOUND, errno, "volume `%s`: %s", name,
			     strerror(errno));
		if (flock(fd, (ro[n] ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0)
			fail(MSB_ESTATE, 0,
			     "volume `%s` is attached to another sandbox%s",
			     name,
			     ro[n] ? " read-write"
				   : " (read-write needs it alone)");
		n++; /* fd stays open: the lock lasts until we exit */
	}
	done = true;
	qc->disks = paths;
	qc->disks_ro = ro;
	qc->ndisks = n;
}

#define VIRTIOFSD MSB_VIRTIOFSD_PATH
#define MAX_SHARES 16

static void jail_log(const char *line)
{
	logmsg("%s", line);
}

struct share {
	const char *dir;
	bool ro;
};

/*
 * In virtiofsd's jail, before its ids change: a private /run for its pid
 * files and, for a read-only share, @dir bind-mounted read-only: the host
 * refuses the writes, whatever the guest does.
 */
static int virtiofsd_setup(void *userdata)
{
	const struct share *s = userdata;

	if (mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") <
	    0)
		return -1;
	mkdir("/run/virtiofsd", 0755);
	if (s->ro && (mount(s->dir, s->dir, NULL, MS_BIND | MS_REC, NULL) < 0 ||
		      mount(NULL, s->dir, NULL,
			    MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0))
		return -1;
	return 0;
}

/*
 * A listening socket for a virtiofsd and our connection to it, made in
 * run/ (0700) and unlinked at once: no other process can reach either.
 */
static void share_socket(size_t n, int *listen_fd, int *conn_fd)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int k = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/run/fs%zu.sock",
			 vmm.spec.sandbox_dir, n);

	if (k < 0 || (size_t)k >= sizeof(sa.sun_path))
		fail(MSB_EINVAL, 0,
		     "the sandbox folder's path is too long for a socket: use a shorter MSB_HOME");
	unlink(sa.sun_path);
	int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || c < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(l, 1) < 0 ||
	    connect(c, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		fail(MSB_ESYS, errno, "socket `%s`: %s", sa.sun_path,
		     strerror(errno));
	unlink(sa.sun_path);
	*listen_fd = l;
	*conn_fd = c;
}

/* Whether the canonical path @p is @dir or below it. */
static bool path_within(const char *p, const char *dir)
{
	size_t n = strlen(dir);
	if (!strcmp(dir, "/"))
		return true;
	return !strncmp(p, dir, n) && (p[n] == '/' || !p[n]);
}

/*
 * MSB_HOME holds every sandbox's disks, secrets (secrets.json) and CA
 * keys, and the database: a guest must never reach it through a share.
 * A share that is MSB_HOME or inside it is refused; MSB_HOME inside a
 * share (say `-v ~:/home/me` with the default ~/.microsandbox) is covered,
 * in virtiofsd's mount namespace, by an empty read-only folder.
 * Return: the canonical MSB_HOME to hide in @dir's share, or NULL.
 */
static const char *home_in_share(const char *dir)
{
	static char home[PATH_MAX];
	char real[PATH_MAX];

	if (!home[0] && !realpath(vmm.spec.home, home))
		fail(MSB_ESYS, errno, "realpath `%s`: %s", vmm.spec.home,
		     strerror(errno));
	if (!realpath(dir, real))
		fail(MSB_ENOTFOUND, errno, "shared folder `%s`: %s", dir,
		     strerror(errno));
	if (path_within(real, home))
		fail(MSB_EINVAL, 0,
		     "cannot share `%s`: it is in MSB_HOME (`%s`), which "
		     "holds the disks, secrets and CA keys of sandboxes",
		     dir, home);
	return path_within(home, real) ? home : NULL;
}

/*
 * Start a jailed virtiofsd for each shared host directory (in its own user
 * namespace, root there; as root, mapped to the folder's owner, so that
 * what the guest creates belongs to whoever owns the folder). QEMU gets
 * our end of each one's socket. MSB_HOME is never shared
 * (home_in_share()).
 */
static void start_shares(struct msb_qemu_config *qc, int *fs_fds)
{
	static struct share shares[MAX_SHARES];
	size_t n = 0;

	for (char **s = vmm.spec.shares; s && *s; s++, n++) {
		if (n == MAX_SHARES)
			fail(MSB_EINVAL, 0, "more than %d shared directories",
			     MAX_SHARES);
		if (strncmp(*s, "ro:", 3) && strncmp(*s, "rw:", 3))
			fail(MSB_EINVAL, 0, "invalid share `%s` in the spec",
			     *s);
		_cleanup_close_ int exe = open(VIRTIOFSD, O_PATH | O_CLOEXEC);
		if (exe < 0)
			fail(MSB_ENOTFOUND, errno,
			     "%s not found: install the qemu-system-common "
			     "package (./setup.sh does)",
			     VIRTIOFSD);
		/* Debian's virtiofsd always installs its own filter. */
		if (!msb_seccomp_available())
			fail(MSB_EINVAL, 0,
			     "sharing host folders needs seccomp, which this kernel lacks (virtiofsd will not run without it): use a volume instead");
		shares[n] = (struct share){*s + 3, !strncmp(*s, "ro:", 3)};
		struct stat st;
		if (stat(shares[n].dir, &st) < 0)
			fail(MSB_ENOTFOUND, errno, "shared folder `%s`: %s",
			     shares[n].dir, strerror(errno));
		const char *home = home_in_share(shares[n].dir);
		const char *hide[] = {home, NULL};
		if (home)
			logmsg("sharing `%s`: MSB_HOME (`%s`) in it is hidden "
			       "from the guest",
			       shares[n].dir, home);
		_cleanup_close_ int lfd = -1;
		share_socket(n, &lfd, &fs_fds[n]);
		char src[PATH_MAX + 16];
		snprintf(src, sizeof(src), "source=%s", shares[n].dir);
		/* One descriptor per inode the guest looks up: 65536 (or
		 * the hard limit, if lower) bounds that. */
		struct rlimit rl;
		rlim_t nofile = 65536;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
		    rl.rlim_max != RLIM_INFINITY && rl.rlim_max < nofile)
			nofile = rl.rlim_max;
		char nofile_opt[48];
		snprintf(nofile_opt, sizeof(nofile_opt), "--rlimit-nofile=%llu",
			 (unsigned long long)nofile);
		char *argv[] = {VIRTIOFSD,    "--fd=3", nofile_opt,
				"-o",         src,      "-o",
				"cache=auto", "-o",     "sandbox=namespace",
				NULL};
		_cleanup_close_ int devnull =
			open("/dev/null", O_RDWR | O_CLOEXEC);
		struct msb_jail j = {
			.name = "virtiofsd",
			.exec_fd = exe,
			.argv = argv,
			.fds = {{lfd, 3}},
			.nfds = 1,
			.stdio_fd = devnull,
			.uid = st.st_uid,
			.gid = st.st_gid,
			.ns_root = true,
			.nofile = (unsigned long)nofile,
			.setup = virtiofsd_setup,
			.userdata = &shares[n],
			.hide = home ? hide : NULL,
		};
		pid_t pid;
		char err[512];
		if (msb_jail_spawn(&pid, &j, err, sizeof(err), jail_log) < 0)
			fail(MSB_ESYS, 0, "sharing `%s` failed: %s",
			     shares[n].dir, err);
	}
	qc->fs_fds = n ? fs_fds : NULL;
	qc->nfs = n;
}

/* Bytes of the host's CA bundle passed to msb-netd (Debian's: 220 KB). */
#define HOST_CA_MAX (4 << 20)

/*
 * read_tls_file() - the file @name of the sandbox folder (a regular file
 * not followed through a link, at most 1 MiB), NUL-terminated, into
 * *@out (malloc'd). Return: its length, or -1 with errno set (ENOENT:
 * there is none).
 */
static ssize_t read_tls_file(const char *name, char **out)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", vmm.spec.sandbox_dir, name);
	return read_file_max(path, O_NOFOLLOW, 1 << 20, out);
}

/*
 * tls_secrets_fd() - what msb-netd reads from --tls-fd (docs/network.md,
 * "In msb-netd"): one JSON object with the CA's certificate and key, the
 * extra upstream CAs and the secrets with their values, in a memfd
 * rewound to its start (a pipe would not hold 1 MiB before netd reads
 * it). The values go from secrets.json to netd and nowhere else.
 * Return: the descriptor.
 */
/* jansson's free while it holds the secrets: the bytes are wiped first
 * (malloc_usable_size(): what the allocator gave). */
static void wiping_free(void *p)
{
	if (p)
		explicit_bzero(p, malloc_usable_size(p));
	free(p);
}

/*
 * host_ca_bundle() - the host's trust store for netd's upstream leg: the
 * first readable bundle of $SSL_CERT_FILE (as OpenSSL takes it), then
 * OpenSSL's default file and the distributions' bundles (links
 * followed: they are the host's own). netd's jail shows no /etc, so it
 * gets the bundle from us; without one it falls back to the
 * certificates under /usr/share/ca-certificates.
 * Return: the bundle (malloc'd, NUL-terminated), or NULL.
 */
static char *host_ca_bundle(void)
{
	const char *const paths[] = {
		getenv("SSL_CERT_FILE"),
		"/usr/lib/ssl/cert.pem",
		"/etc/ssl/certs/ca-certificates.crt",
		"/etc/pki/tls/certs/ca-bundle.crt",
		"/etc/ssl/cert.pem",
	};
	for (size_t i = 0; i < sizeof(paths) / sizeof(*paths); i++) {
		char *buf;
		if (!paths[i] || !*paths[i] ||
		    read_file_max(paths[i], 0, HOST_CA_MAX, &buf) < 0)
			continue;
		if (*buf) {
			logmsg("network: upstream trust store %s", paths[i]);
			return buf;
		}
		free(buf);
	}
	logmsg("network: no host CA bundle found; msb-netd uses "
	       "/usr/share/ca-certificates");
	return NULL;
}

static int tls_secrets_fd(void)
{
	_cleanup_free_ char *cert = NULL, *key = NULL, *up = NULL,
			    *secrets = NULL;

	/* The values and the CA key pass through jansson: wiped when it
	 * frees them (objects made before are freed the same way). */
	json_set_alloc_funcs(malloc, wiping_free);

	if (read_tls_file("tls/ca.pem", &cert) < 0 ||
	    read_tls_file("tls/ca.key", &key) < 0)
		fail(MSB_ESYS, errno, "read the sandbox CA (%s/tls): %s",
		     vmm.spec.sandbox_dir, strerror(errno));
	if (read_tls_file("tls/upstream-ca.pem", &up) < 0 && errno != ENOENT)
		fail(MSB_ESYS, errno, "read %s/tls/upstream-ca.pem: %s",
		     vmm.spec.sandbox_dir, strerror(errno));
	ssize_t sn = read_tls_file("secrets.json", &secrets);
	if (sn < 0 && errno != ENOENT)
		fail(MSB_ESYS, errno, "read %s/secrets.json: %s",
		     vmm.spec.sandbox_dir, strerror(errno));
	json_t *list = json_array();
	if (sn >= 0) {
		json_t *f = json_loadb(secrets, (size_t)sn, 0, NULL);
		json_t *v = json_object_get(f, "secrets");
		if (!json_is_array(v)) {
			json_decref(f);
			fail(MSB_EPROTO, 0, "%s/secrets.json is not valid",
			     vmm.spec.sandbox_dir);
		}
		json_array_extend(list, v);
		json_decref(f);
		explicit_bzero(secrets, (size_t)sn);
	}
	json_t *c = json_pack("{s:s, s:s, s:o}", "ca_cert", cert, "ca_key", key,
			      "secrets", list);
	if (c && up &&
	    json_object_set_new(c, "upstream_ca", json_string(up)) < 0)
		fail(MSB_ENOMEM, ENOMEM, "out of memory");
	_cleanup_free_ char *sys = host_ca_bundle();
	if (c && sys &&
	    json_object_set_new(c, "system_ca", json_string(sys)) < 0)
		fail(MSB_ENOMEM, ENOMEM, "out of memory");
	explicit_bzero(key, strlen(key));
	char *text = c ? json_dumps(c, JSON_COMPACT) : NULL;
	json_decref(c);
	if (!text)
		fail(MSB_ENOMEM, ENOMEM, "out of memory");
	size_t len = strlen(text);
	int fd = memfd_create("msb-netd-tls", MFD_CLOEXEC);
	if (fd < 0 || write_all(fd, text, len) < 0 ||
	    lseek(fd, 0, SEEK_SET) < 0)
		fail(MSB_ESYS, errno, "memfd for msb-netd: %s",
		     strerror(errno));
	explicit_bzero(text, len);
	free(text);
	json_set_alloc_funcs(malloc, free);
	/* The guest trusts this CA (every hello carries it). */
	if (!vmm.ca_pem)
		vmm.ca_pem = steal_ptr(&cert);
	return fd;
}

/*
 * msb-netd's configuration (src/netd/config.c, docs/network.md): the
 * addresses of both ends of the link and the policy as canonical lines
 * (the library checked every rule and name; netd adds the gateway), in
 * run/netd.json (0600, the jailed uid's).
 * Return: a descriptor open on it for reading.
 */
static int write_netd_config(uid_t uid)
{
	char path[PATH_MAX + 32], err[512];
	enum msb_net_preset preset;
	struct msb_net_policy *p = msb_net_policy_new();

	if (!p)
		fail(MSB_ENOMEM, ENOMEM, "out of memory");
	if (msb_net_preset_parse(&preset, vmm.spec.network) < 0)
		fail(MSB_EINVAL, 0, "invalid network `%s` in the spec",
		     vmm.spec.network);
	msb_net_policy_set_preset(p, preset);
	for (char **r = vmm.spec.net_rules; r && *r; r++)
		if (msb_net_policy_add_rule(p, *r, err, sizeof(err)) < 0)
			fail(MSB_EINVAL, 0, "%s", err);
	for (char **d = vmm.spec.net_block_domains; d && *d; d++)
		if (msb_net_policy_block_domain(p, *d, err, sizeof(err)) < 0)
			fail(MSB_EINVAL, 0, "%s", err);
	for (char **d = vmm.spec.net_block_suffixes; d && *d; d++)
		if (msb_net_policy_block_suffix(p, *d, err, sizeof(err)) < 0)
			fail(MSB_EINVAL, 0, "%s", err);
	char **lines = msb_net_policy_lines(p);
	bool have_lines = lines != NULL;
	msb_net_policy_free(p);
	json_t *policy = json_array();
	for (char **l = lines; l && *l; l++) {
		json_array_append_new(policy, json_string(*l));
		free(*l);
	}
	free(lines);
	json_t *c = json_pack(
		"{s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:o}", "sandbox",
		vmm.spec.name, "guest_mac", MSB_NET_GUEST_MAC, "gateway_mac",
		MSB_NET_GATEWAY_MAC, "guest_ip", MSB_NET_GUEST_IP, "gateway_ip",
		MSB_NET_GATEWAY_IP, "prefix", MSB_NET_PREFIX, "log_max",
		(json_int_t)NET_LOG_MAX, "policy", policy);
	if (!c || !have_lines)
		fail(MSB_ENOMEM, ENOMEM, "out of memory");
	/* Published ports, in the canonical form netd takes as is
	   ("HOSTIP:HOSTPORT:GUESTPORT/PROTO"); netd binds them before it
	   says it started (wait_netd_up()). */
	json_t *ports = json_array();
	for (char **port = vmm.spec.ports; port && *port; port++)
		if (!ports ||
		    json_array_append_new(ports, json_string(*port)) < 0)
			fail(MSB_ENOMEM, ENOMEM, "out of memory");
	if (!ports || json_object_set_new(c, "ports", ports) < 0)
		fail(MSB_ENOMEM, ENOMEM, "out of memory");
	/* TLS interception: the settings here, the CA and the secrets on
	   --tls-fd (tls_secrets_fd()). The library checked them all. */
	if (vmm.spec.tls) {
		json_t *tp = json_array(), *by = json_array();
		for (char **t = vmm.spec.tls_ports; tp && t && *t; t++)
			json_array_append_new(tp, json_integer(atoi(*t)));
		if (tp && !json_array_size(tp))
			json_array_append_new(tp, json_integer(443));
		for (char **b = vmm.spec.tls_bypass; by && b && *b; b++)
			json_array_append_new(by, json_string(*b));
		json_t *tls = json_pack("{s:b, s:o*, s:o*}", "intercept", 1,
					"ports", tp, "bypass", by);
		if (!tls || json_object_set_new(c, "tls", tls) < 0)
			fail(MSB_ENOMEM, ENOMEM, "out of memory");
	}
	_cleanup_free_ char *text = json_dumps(c, JSON_INDENT(1));
	json_decref(c);
	if (!text)
		fail(MSB_ENOMEM, ENOMEM, "out of memory");
	snprintf(path, sizeof(path), "%s/run/netd.json", vmm.spec.sandbox_dir);
	unlink(path);
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		      0600);
	if (fd < 0 || write_all(fd, text, strlen(text)) < 0 ||
	    write_all(fd, "\n", 1) < 0)
		fail(MSB_ESYS, errno, "write `%s`: %s", path, strerror(errno));
	/* Its reader reopens it through /proc/self/fd: as root, netd's
	 * own uid must be its owner. */
	if (geteuid() == 0 && fchown(fd, uid, (gid_t)uid) < 0)
		fail(MSB_ESYS, errno, "chown `%s`: %s", path, strerror(errno));
	return fd;
}

/*
 * The network stage: for a sandbox with a network, a SOCK_DGRAM
 * socketpair whose one end becomes QEMU's virtio-net (one datagram = one
 * Ethernet frame) and the other msb-netd's link, netd jailed like the
 * other helpers (own uid as root, new user/mount/PID namespaces, the
 * host's network: it opens the guest's flows from host sockets). Its
 * stderr goes to logs/net.log. It dies with us (PR_SET_PDEATHSIG); if it
 * dies first, the guest keeps running without a network (on_signal()
 * says so in vmm.log). Without a netd in this build the device is there
 * and nothing answers on it.
 * Return: QEMU's end of the link (to give()), or -1 for no network.
 */
/*
 * wait_netd_up() - wait until msb-netd logged its start line (its
 * published ports are bound then), so that a port in use fails the
 * create with netd's own line rather than leaving a sandbox whose ports
 * do not work. A netd that stays silent past the deadline is let be
 * (the sandbox runs, vmm.log says so); one that exits fails the create.
 */
static void wait_netd_up(void)
{
	const uint64_t deadline = now_us() + 15 * 1000000u;

	while (!vmm.net_up) {
		uint64_t now = now_us();
		if (now >= deadline) {
			logmsg("msb-netd did not say it started within 15 s");
			return;
		}
		struct pollfd p = {.fd = vmm.net_err_fd, .events = POLLIN};
		int n = poll(&p, 1, (int)((deadline - now) / 1000 + 1));
		if (n < 0 && errno != EINTR)
			return;
		if (!drain_fd(&vmm.net_err_fd, &vmm.net_lb, net_line,
			      SIZE_MAX) &&
		    !vmm.net_up)
			fail(MSB_ESYS, 0, "the network did not start: %s",
			     vmm.net_last[0] ? vmm.net_last
					     : "msb-netd exited");
	}
}

static int start_network(void)
{
	int sv[2], errp[2], st[2];

	if (!msb_spec_has_network(&vmm.spec))
		return -1;
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) < 0)
		fail(MSB_ESYS, errno, "socketpair: %s", strerror(errno));
	/* Room for bursts of full frames in both directions. */
	int sz = 1 << 20;
	for (int i = 0; i < 2; i++) {
		setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		setsockopt(sv[i], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	}
	/* A build without a network (-Dnet=false) names no msb-netd (and
	 * its sandboxes ask for none); one with a network needs it. */
	if (!vmm.spec.netd[0]) {
		logmsg("network: this build has no msb-netd: the guest's "
		       "network device has nothing behind it (no network)");
		close(sv[0]);
		return sv[1];
	}
	_cleanup_close_ int exe = open(vmm.spec.netd, O_PATH | O_CLOEXEC);
	if (exe < 0)
		fail(errno == ENOENT ? MSB_ENOTFOUND : MSB_ESYS, errno,
		     "msb-netd `%s`: %s: the sandbox's network needs it "
		     "(msb doctor says where it is looked for), or use "
		     "--network none",
		     vmm.spec.netd, strerror(errno));
	uid_t uid = msb_jail_uid(getpid());
	int cfg = write_netd_config(uid);
	char log_path[PATH_MAX + 16];
	snprintf(log_path, sizeof(log_path), "%s/net.log", vmm.log_dir);
	if (logfile_open(&vmm.netlog, log_path, NET_LOG_MAX) < 0)
		fail(MSB_ESYS, errno, "open `%s`: %s", log_path,
		     strerror(errno));
	if (pipe2(errp, O_CLOEXEC) < 0)
		fail(MSB_ESYS, errno, "pipe: %s", strerror(errno));
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, st) < 0)
		fail(MSB_ESYS, errno, "socketpair: %s", strerror(errno));
	_cleanup_close_ int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	int tls_fd = vmm.spec.tls ? tls_secrets_fd() : -1;
	char *argv[] = {(char *)vmm.spec.netd,
			"--link-fd",
			"3",
			"--config",
			"/proc/self/fd/4",
			"--stats-fd",
			"5",
			tls_fd >= 0 ? "--tls-fd" : NULL,
			"6",
			NULL};
	/* It reads the host's resolver configuration (/etc, /run): no root
	 * of its own, the private folders hidden. */
	const char *hide[] = {vmm.spec.home, "/home",    "/root",
			      "/tmp",        "/var/tmp", "/mnt",
			      "/media",      "/srv",     NULL};
	struct msb_jail j = {
		.name = "msb-netd",
		.exec_fd = exe,
		.argv = argv,
		.fds = {{sv[0], 3},
			{cfg, 4},
			{errp[1], STDERR_FILENO},
			{st[0], 5},
			{tls_fd, 6}},
		.nfds = tls_fd >= 0 ? 5 : 4,
		.stdio_fd = devnull,
		.uid = uid,
		.gid = (gid_t)uid,
		.hide = hide,
		.fresh_proc = true,
		/* a host socket per flow (netd's max_flows is 4096) */
		.nofile = 8192,
		/* netd filters itself (src/netd/syscalls.c) */
		.seccomp_log = getenv("MSB_SECCOMP") &&
			       !strcmp(getenv("MSB_SECCOMP"), "log"),
		.nproc = 16,
	};
	char err[512];
	if (msb_jail_spawn(&vmm.netd_pid, &j, err, sizeof(err), jail_log) < 0)
		fail(MSB_ESYS, 0, "start msb-netd: %s", err);
	close(sv[0]);
	close(cfg);
	close(errp[1]);
	close(st[0]);
	if (tls_fd >= 0)
		close(tls_fd);
	vmm.net_err_fd = errp[0];
	set_nonblock(vmm.net_err_fd, 1);
	wait_netd_up();
	vmm.net_stats_fd = st[1];
	set_nonblock(vmm.net_stats_fd, 1);
	logmsg("msb-netd pid %d (network `%s`)", (int)vmm.netd_pid,
	       vmm.spec.network);
	return sv[1];
}

/*
 * The initramfs to boot: the shared one, or, when the sandbox needs
 * drivers others do not (volumes, virtio-fs), a copy in run/ with their
 * archives appended (the kernel unpacks concatenated archives).
 */
static const char *initrd_path(void)
{
	static char path[PATH_MAX + 32];
	static const char *done;
	char buf[65536];

	if (done)
		return done;
	if (!vmm.spec.initrd_extras || !vmm.spec.initrd_extras[0])
		return done = vmm.spec.initrd;
	snprintf(path, sizeof(path), "%s/run/initrd.cpio",
		 vmm.spec.sandbox_dir);
	/* 0644: QEMU's jailed uid reopens it through /proc/self/fd (guest
	 * code, no secret; run/ itself stays 0700). */
	int out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0)
		fail(MSB_ESYS, errno, "create `%s`: %s", path, strerror(errno));
	fchmod(out, 0644);
	const char *first[] = {vmm.spec.initrd, NULL};
	for (int part = 0; part < 2; part++) {
		const char *const *list =
			part ? (const char *const *)vmm.spec.initrd_extras
			     : first;
		for (size_t i = 0; list[i]; i++) {
			int in = open(list[i], O_RDONLY | O_CLOEXEC);
			if (in < 0)
				fail(MSB_ENOTFOUND, errno,
				     "guest initramfs `%s`: %s: run ./setup.sh",
				     list[i], strerror(errno));
			ssize_t n;
			while ((n = read(in, buf, sizeof(buf))) > 0)
				if (write_all(out, buf, (size_t)n) < 0)
					fail(MSB_ESYS, errno, "write `%s`: %s",
					     path, strerror(errno));
			close(in);
		}
	}
	close(out);
	return done = path;
}

/* The descriptors QEMU is started with: the parent's copies to close. */
struct qemu_fds {
	struct msb_jail *j;
	int next; /* next descriptor number in QEMU */
	struct msb_qemu_fd add[2 * MAX_DISKS + 8];
	size_t nadd;
};

/* Give QEMU @fd (ours: closed after the spawn) as its next descriptor. */
static int give(struct qemu_fds *q, int fd)
{
	if (q->j->nfds == MSB_JAIL_MAX_FDS)
		fail(MSB_EINVAL, 0, "too many descriptors for QEMU");
	q->j->fds[q->j->nfds].from = fd;
	q->j->fds[q->j->nfds].to = q->next;
	q->j->nfds++;
	return q->next++;
}

/* Open @path for QEMU; as an fdset @set when @set is not 0. */
static int give_file(struct qemu_fds *q, const char *path, int flags,
		     unsigned int set, const char *what)
{
	int fd = open(path, flags | O_CLOEXEC, 0600);

	if (fd < 0)
		fail(errno == ENOENT ? MSB_ENOTFOUND : MSB_ESYS, errno,
		     "%s `%s`: %s", what, path, strerror(errno));
	int to = give(q, fd);
	if (set)
		q->add[q->nadd++] = (struct msb_qemu_fd){to, set};
	return to;
}

/*
 * Give QEMU a file its loader opens by path (kernel, initramfs): as
 * /proc/self/fd/N, which reopens our descriptor with an inode permission
 * check only. When QEMU's uid may not read the file (a root-private
 * checkout), a sealed memfd copy goes instead.
 */
static const char *give_loader_file(struct qemu_fds *q, const char *path,
				    uid_t uid, char *out, size_t outlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0)
		fail(errno == ENOENT ? MSB_ENOTFOUND : MSB_ESYS, errno,
		     "guest file `%s`: %s: run ./setup.sh", path,
		     strerror(errno));
	bool readable = st.st_uid == uid ? (st.st_mode & S_IRUSR)
					 : (st.st_mode & S_IROTH);
	if (!readable) {
		int m = memfd_create("msb-guest-file",
				     MFD_CLOEXEC | MFD_ALLOW_SEALING);
		char buf[65536];
		ssize_t n;
		if (m < 0)
			fail(MSB_ESYS, errno, "memfd_create: %s",
			     strerror(errno));
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			if (write_all(m, buf, (size_t)n) < 0)
				fail(MSB_ESYS, errno, "copy `%s`: %s", path,
				     strerror(errno));
		if (n < 0)
			fail(MSB_ESYS, errno, "read `%s`: %s", path,
			     strerror(errno));
		fcntl(m, F_ADD_SEALS,
		      F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
		close(fd);
		fd = m;
	}
	snprintf(out, outlen, "/proc/self/fd/%d", give(q, fd));
	return out;
}

static void spawn_qemu(void)
{
	int sv[2], qmp[2], con[2], errp[2];
	static char paths[MAX_DISKS + 4][32];
	static const char *disk_paths[MAX_DISKS];
	static int fs_fds[MAX_SHARES];
	struct msb_jail j = {.name = "qemu", .stdio_fd = -1};
	struct qemu_fds q = {.j = &j, .next = 3};
	static char label[PATH_MAX + 2];

	/* The folder, as tools match it: "…/sandboxes/NAME/". */
	snprintf(label, sizeof(label), "%s/", vmm.spec.sandbox_dir);

	socketpair_high(sv);
	socketpair_high(qmp);
	socketpair_high(con);
	/* QEMU's end never blocks: a console we do not read stalls the
	 * guest's serial port, not QEMU. */
	set_nonblock(con[1], 1);
	/* QEMU's stderr: a pipe of its own, so that its last lines are
	 * QEMU's and not a helper's. */
	if (pipe2(errp, O_CLOEXEC) < 0)
		fail(MSB_ESYS, errno, "pipe: %s", strerror(errno));
	j.fds[j.nfds].from = errp[1];
	j.fds[j.nfds].to = STDERR_FILENO;
	j.nfds++;

	bool kvm = choose_kvm();
	/* Known now: the seccomp filter later forbids sysinfo(). */
	long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
	if (pages > 0 && psize > 0)
		vmm.host_ram_mib = (uint64_t)pages * (uint64_t)psize >> 20;
	vmm.host_cpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (vmm.host_cpus < 0)
		vmm.host_cpus = 0;
	warn_cpus(kvm);
	struct msb_qemu_config qc = {
		.qemu = vmm.spec.qemu,
		.name = vmm.spec.name,
		.label = label,
		.disk = strcmp(vmm.spec.root_format, "dir") ? vmm.disk : NULL,
		.disk_format =
			vmm.spec.root_direct ? vmm.spec.root_format : "qcow2",
		.cpus = vmm.spec.cpus,
		.memory_mib = vmm.spec.memory_mib,
		.kvm = kvm,
		.tsc_khz = kvm ? 0 : msb_host_tsc_khz(),
		.agent_fd = give(&q, sv[1]),
		.qmp_fd = give(&q, qmp[1]),
		/* QEMU refuses to start with -sandbox where seccomp is
		 * missing: then without it, and said so. */
		.sandbox = msb_seccomp_available(),
	};
	if (!qc.sandbox)
		logmsg("jail: seccomp unavailable in this kernel: QEMU runs without -sandbox");
	lock_volumes(&qc);
	start_shares(&qc, fs_fds);
	/* A second QEMU (a template that failed to restore) gets the same
	 * link to the msb-netd the first one had. */
	int net_fd = vmm.net_link_fd >= 0
			     ? fcntl(vmm.net_link_fd, F_DUPFD_CLOEXEC, 10)
			     : start_network();
	if (net_fd >= 0 && vmm.net_link_fd < 0 && vmm.tmpl.mode == TMPL_RESTORE)
		vmm.net_link_fd = fcntl(net_fd, F_DUPFD_CLOEXEC, 10);
	if (net_fd >= 0) {
		qc.net_mac = MSB_NET_GUEST_MAC;
		qc.net_fd = give(&q, net_fd);
	}

	/*
	 * QEMU opens no path of ours: every file comes as a descriptor. The
	 * kernel and initramfs loaders take only paths: /proc/self/fd/N
	 * reopens our descriptor (an inode permission check only). Drives
	 * and the console take /dev/fdset/N (-add-fd).
	 */
	uid_t uid = msb_jail_uid(getpid());
	qc.kernel = give_loader_file(&q, vmm.spec.kernel, uid, paths[0],
				     sizeof(paths[0]));
	qc.initrd = give_loader_file(&q, initrd_path(), uid, paths[1],
				     sizeof(paths[1]));
	/* The console: a socket whose other end the supervisor reads into
	 * the capped kernel.log. */
	qc.console_fd = give(&q, con[1]);
	if (qc.disk) {
		give_file(&q, vmm.disk, O_RDWR, 2, "root disk");
		give_file(&q, vmm.disk, O_RDONLY, 2, "root disk");
		qc.disk = "/dev/fdset/2";
		if (!vmm.spec.root_direct) {
			/* The overlay records the base by path: override. */
			give_file(&q, vmm.spec.rootfs, O_RDONLY, 3,
				  "root disk");
			qc.backing = "/dev/fdset/3";
			qc.backing_format = vmm.spec.root_format;
		}
	}
	for (size_t i = 0; i < qc.ndisks; i++) {
		unsigned int set = 4 + (unsigned int)i;
		if (!qc.disks_ro[i])
			give_file(&q, qc.disks[i], O_RDWR, set, "volume");
		give_file(&q, qc.disks[i], O_RDONLY, set, "volume");
		snprintf(paths[4 + i], sizeof(paths[4 + i]), "/dev/fdset/%u",
			 set);
		disk_paths[i] = paths[4 + i];
	}
	qc.disks = disk_paths;
	for (size_t i = 0; i < qc.nfs; i++)
		fs_fds[i] = give(&q, fs_fds[i]);
	if (vmm.tmpl.mode == TMPL_RESTORE) {
		/* QEMU's own copy: ours stays, for the next restore try. */
		qc.incoming = true;
		qc.incoming_fd =
			give(&q, fcntl(vmm.tmpl.fd, F_DUPFD_CLOEXEC, 10));
	}
	qc.add_fds = q.add;
	qc.nadd_fds = q.nadd;

	_cleanup_free_ char **argv = msb_qemu_argv(&qc);
	if (!argv)
		fail(MSB_ENOMEM, ENOMEM, "out of memory");
	for (char **a = argv; *a; a++)
		fprintf(stderr, "%s%s", a == argv ? "exec: " : " ", *a);
	fputc('\n', stderr);

	_cleanup_close_ int exe = open(vmm.spec.qemu, O_PATH | O_CLOEXEC);
	if (exe < 0)
		fail(MSB_ENOTFOUND, errno, "QEMU `%s`: %s", vmm.spec.qemu,
		     strerror(errno));
	_cleanup_close_ int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	/* Folders QEMU has no business reading (it has its descriptors). */
	const char *hide[] = {vmm.spec.home, "/home", "/root", "/tmp",
			      "/var/tmp",    "/run",  "/mnt",  "/media",
			      "/srv",        NULL};
	j.exec_fd = exe;
	j.argv = argv;
	j.stdio_fd = devnull; /* stderr: errp[1] (vmm.log) */
	j.uid = uid;
	j.gid = (gid_t)uid;
	j.hide = hide;
	j.fresh_proc = true;
	/* Devices, vCPU and I/O threads use well under 1024 descriptors;
	 * 4096 bounds a compromised QEMU's share of the host's table. */
	j.nofile = 4096;
	/* Its uid is its own: threads (vCPUs, I/O workers) only, and
	 * -sandbox spawn=deny already forbids processes. */
	j.nproc = 1024;
	j.thp_disable = true;
	/* KVM as root: /dev/kvm is usually root:kvm 0660. */
	struct stat kst;
	if (kvm && geteuid() == 0 && stat("/dev/kvm", &kst) == 0 &&
	    kst.st_gid != 0 && (kst.st_mode & 0060) == 0060)
		j.extra_gid = kst.st_gid;

	vmm.start_us = now_us();
	pid_t pid;
	char err[512];
	j.minimal_root = true;
	if (msb_jail_spawn(&pid, &j, err, sizeof(err), jail_log) < 0) {
		/* A host laid out unlike Debian: the hidden folders only. */
		logmsg("jail: QEMU without a root of its own (%s): retrying with the host's, its private folders hidden",
		       err);
		j.minimal_root = false;
		if (msb_jail_spawn(&pid, &j, err, sizeof(err), jail_log) < 0)
			fail(MSB_ESYS, 0, "start QEMU: %s", err);
	}
	for (size_t i = 0; i < j.nfds; i++)
		close(j.fds[i].from);
	vmm.console_fd = con[0];
	set_nonblock(vmm.console_fd, 1);
	vmm.qemu_err_fd = errp[0];
	set_nonblock(vmm.qemu_err_fd, 1);
	vmm.qemu_pid = pid;
	vmm.agent_fd = sv[0];
	vmm.qmp.fd = qmp[0];
	if (set_nonblock(vmm.agent_fd, 1) < 0)
		fail(MSB_ESYS, errno, "fcntl: %s", strerror(errno));
	logmsg("qemu pid %d (%s)", (int)pid, kvm ? "kvm" : "tcg");
}

static int send_to_agent(uint32_t stream, uint8_t flags,
			 const struct msb_msg *m)
{
	if (msb_frame_encode(&vmm.agent_out, stream, flags, m) < 0) {
		logmsg("encode %s: %s", msb_msg_type_name(m->type),
		       strerror(errno));
		return -1;
	}
	return 0;
}

/* The host's wall clock, in ns (proto.h, `time`). */
static uint64_t host_time_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * send_clock_ping() - a PING carrying the host's time: the agent brings its
 * clock to it (a step when far off, else a slew; docs/snapshots.md). Sent
 * as the liveness ping and ahead of every exec request, so that a command
 * starts with the host's time whatever the guest's clock did meanwhile
 * (TCG under load after a restore, a command that set it).
 */
static void send_clock_ping(void)
{
	struct msb_msg m = {.type = MSB_MSG_PING,
			    .has = MSB_HAS(MSB_FLD_TIME),
			    .time = host_time_ns()};

	send_to_agent(0, 0, &m);
}

/* The hostname a hello gives: --hostname, else the sandbox's name. */
static const char *sandbox_hostname(void)
{
	return vmm.spec.hostname && *vmm.spec.hostname ? vmm.spec.hostname
						       : vmm.spec.name;
}

/*
 * send_identity_ping() - a PING carrying the host's time and fresh entropy:
 * the agent sets its clock and reseeds its RNG from them (proto.h). Sent
 * after every restore that gets no hello (resume of a suspended or
 * paused sandbox, a sandbox made from a snapshot): its guest's clock has
 * stood still since the save, and its RNG state is the saved one. With
 * @hostname (the first start of a sandbox made from a snapshot or a
 * fork), the agent also sets the hostname, as a hello would.
 */
static void send_identity_ping(bool hostname)
{
	uint8_t entropy[64];
	char host[65];
	struct msb_msg m = {.type = MSB_MSG_PING, .has = MSB_HAS(MSB_FLD_TIME)};

	if (getrandom(entropy, sizeof(entropy), GRND_NONBLOCK) ==
	    (ssize_t)sizeof(entropy)) {
		m.has |= MSB_HAS(MSB_FLD_ENTROPY);
		m.entropy = (struct msb_bytes){entropy, sizeof(entropy)};
	}
	if (hostname) {
		snprintf(host, sizeof(host), "%s", sandbox_hostname());
		m.has |= MSB_HAS(MSB_FLD_HOSTNAME);
		m.hostname = msb_str(host);
	}
	m.time = host_time_ns();
	send_to_agent(0, 0, &m);
	explicit_bzero(entropy, sizeof(entropy));
}

static void send_hello(void)
{
	struct timespec ts;
	char host[65];
	uint8_t entropy[64];

	/* Every sandbox gets its own: one restored from a template starts
	 * with the template's RNG state (the agent reseeds from these). */
	if (getrandom(entropy, sizeof(entropy), 0) != (ssize_t)sizeof(entropy))
		fail(MSB_ESYS, errno, "getrandom: %s", strerror(errno));
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(host, sizeof(host), "%s", sandbox_hostname());
	struct msb_msg m = {
		.type = MSB_MSG_HELLO,
		.has = MSB_HAS(MSB_FLD_VERSION) | MSB_HAS(MSB_FLD_ROOT) |
		       MSB_HAS(MSB_FLD_FSTYPE) | MSB_HAS(MSB_FLD_HOSTNAME) |
		       MSB_HAS(MSB_FLD_ENV) | MSB_HAS(MSB_FLD_TIME) |
		       MSB_HAS(MSB_FLD_ENTROPY),
		.version = MSB_PROTO_VERSION,
		.entropy = {entropy, sizeof(entropy)},
		.root = msb_str(vmm.spec.root_dev),
		.fstype = msb_str(vmm.spec.root_fstype),
		.hostname = msb_str(host),
		.env = {.v = (const char *const *)vmm.spec.env},
		.time = (uint64_t)ts.tv_sec * 1000000000u +
			(uint64_t)ts.tv_nsec,
	};
	if (vmm.spec.mounts && vmm.spec.mounts[0]) {
		m.has |= MSB_HAS(MSB_FLD_MOUNTS);
		m.mounts.v = (const char *const *)vmm.spec.mounts;
	}
	static const char *const net[] = {
		"ip=" MSB_NET_GUEST_IP "/" MSB_NET_PREFIX_TEXT,
		"gw=" MSB_NET_GATEWAY_IP,
		"mac=" MSB_NET_GUEST_MAC,
		NULL,
	};
	if (msb_spec_has_network(&vmm.spec)) {
		m.has |= MSB_HAS(MSB_FLD_NET);
		m.net.v = net;
	}
	/* TLS interception: the guest trusts the sandbox CA (read by
	   tls_secrets_fd()); every hello carries it, a template's too. */
	if (vmm.ca_pem) {
		m.has |= MSB_HAS(MSB_FLD_CA);
		m.ca = msb_str(vmm.ca_pem);
	}
	if (send_to_agent(0, MSB_F_START, &m) < 0)
		fail(MSB_ENOMEM, ENOMEM, "out of memory");
}

static void send_client_error(struct client *c, uint32_t stream,
			      const char *msg)
{
	struct msb_msg m = {
		.type = MSB_MSG_ERROR,
		.has = MSB_HAS(MSB_FLD_MSG),
		.msg = msb_str(msg),
	};
	msb_frame_encode(&c->out, stream, MSB_F_END, &m);
}

static void attach_refuse(struct client *c, uint32_t id, const char *kind,
			  const char *msg);
static void attach_clear(void);

static void begin_stop(unsigned int timeout_ms, const char *why)
{
	if (vmm.state == STOPPING)
		return;
	logmsg("stopping (%s)", why);
	if (vmm.att.c) {
		/* the main process goes with the VM: say so, not "gone" */
		char msg[192];
		snprintf(msg, sizeof(msg), "the sandbox is stopping (%s)", why);
		attach_refuse(vmm.att.c, vmm.att.stream, "stopped", msg);
		attach_clear();
	}
	snprintf(vmm.stop_reason, sizeof(vmm.stop_reason), "%s", why);
	state_status("stopping", getpid());
	/* A paused guest would not hear its shutdown. */
	if (vmm.user_paused && qmp_command(&vmm.qmp, "cont", 2000))
		vmm.user_paused = false;
	if (vmm.state == BOOTING) {
		kill_qemu();
		vmm.state = STOPPING;
		return;
	}
	vmm.state = STOPPING;
	vmm.deadline_us = now_us() + (uint64_t)timeout_ms * 1000u;
	struct msb_msg m = {.type = MSB_MSG_SHUTDOWN};
	send_to_agent(0, MSB_F_START | MSB_F_END | MSB_F_SHUTDOWN, &m);
}

static void on_ready(const struct msb_msg *m)
{
	uint64_t boot_us = now_us() - vmm.start_us;

	if (!(m->has & MSB_HAS(MSB_FLD_VERSION)) ||
	    m->version != MSB_PROTO_VERSION)
		fail(MSB_EPROTO, 0,
		     "guest agent speaks protocol version %" PRIu64
		     ", the host %d: rebuild the initramfs (./setup.sh)",
		     m->version, MSB_PROTO_VERSION);
	logmsg("ready after %" PRIu64 " ms (guest uptime %" PRIu64
	       " ms, agent %" PRIu64 " ms, modules %" PRIu64
	       " ms, mount %" PRIu64 " ms)",
	       boot_us / 1000, m->uptime_us / 1000, m->agent_us / 1000,
	       m->modules_us / 1000, m->mount_us / 1000);
	/* The row says running before the creator hears ready, so that a
	 * list right after the create returns sees it so. */
	state_status("running", getpid());
	status("R {\"boot_us\":%" PRIu64 ",\"guest_uptime_us\":%" PRIu64
	       ",\"agent_us\":%" PRIu64 ",\"modules_us\":%" PRIu64
	       ",\"mount_us\":%" PRIu64 "}",
	       boot_us, m->uptime_us, m->agent_us, m->modules_us, m->mount_us);
	close_fd(&vmm.status_fd);
	vmm.state = RUNNING;
	vmm.ready_us = vmm.activity_us = now_us();
	vmm.deadline_us = 0;
	relay_watch_heard(&vmm.watch, vmm.ready_us);
}

/* A frame on the guest's control stream (relay_ops). */
static void on_guest_control(void *ud, const struct msb_msg *m)
{
	(void)ud;
	switch (m->type) {
	case MSB_MSG_READY:
		if (vmm.state == BOOTING)
			on_ready(m);
		break;
	case MSB_MSG_ERROR:
		log_guest("guest agent says", m->msg.p, m->msg.n);
		if (vmm.state == BOOTING) {
			char text[512];
			logfile_escape(text, sizeof(text), m->msg.p,
				       m->msg.n > 400 ? 400 : m->msg.n, false);
			fail(MSB_EAGENT, 0, "guest agent failed to start: %s",
			     text);
		}
		break;
	default:
		break;
	}
}

static void flush_metrics_waiters(void);
static void on_signal(void);

/* The agent's answer to our metrics request (relay_ops). */
static void on_guest_metrics(void *ud, const struct msb_msg *m)
{
	(void)ud;
	if (m && m->has & MSB_HAS(MSB_FLD_MEM_TOTAL)) {
		vmm.mem_used = m->mem_used;
		vmm.mem_total = m->mem_total;
	}
	flush_metrics_waiters();
}

/* Output and end of a command, for logs/exec.log (relay_ops). */
static void log_exec_frame(void *ud, const struct relay_route *r,
			   const struct msb_frame *f)
{
	struct msb_msg m;

	(void)ud;
	if (msb_msg_decode(&m, f->payload, f->payload_len) < 0)
		return;
	if (m.type == MSB_MSG_STDOUT || m.type == MSB_MSG_STDERR)
		execlog_output(&vmm.execlog, r->guest_id,
			       m.type == MSB_MSG_STDERR, m.data.p, m.data.n);
	else if (f->hdr.flags & MSB_F_END)
		execlog_end(&vmm.execlog, r->guest_id, &m);
}

/* A client's exec request, about to be passed on (relay_ops): the clock
 * ping goes first, so the agent has set its clock when the command starts. */
static void on_exec_start(void *ud, const struct relay_route *r,
			  const struct msb_msg *m)
{
	(void)ud;
	send_clock_ping();
	execlog_start(&vmm.execlog, r->guest_id, m);
}

static void on_malformed(void *ud, const char *what)
{
	(void)ud;
	log_guest(what, NULL, 0);
}

/*
 * A client's stream ended (relay_ops): its command was busy until now
 * (idle timeout); if the client left, kill the command.
 */
static void on_stream_end(void *ud, const struct relay_route *r,
			  bool client_left)
{
	(void)ud;
	vmm.activity_us = now_us();
	if (client_left) {
		/* A detached process outlives a client that watched it. */
		struct msb_msg m = {
			.type = MSB_MSG_SIGNAL,
			.has = MSB_HAS(MSB_FLD_SIG),
			.sig = r->attach ? 0 : SIGKILL,
		};
		send_to_agent(r->guest_id, 0, &m);
	}
}

/* Start the main process if it is due (at ready, or after a back-off). */
static void workload_tick(void)
{
	struct msb_msg m;
	uint64_t due = workload_due(&vmm.wl, vmm.state != RUNNING);

	if (vmm.state != RUNNING || vmm.spec.hold || !due || now_us() < due)
		return;
	if (workload_start(&vmm.wl, &m, now_us())) {
		if (vmm.wl.restarts)
			logmsg("main process: restart %u", vmm.wl.restarts);
		send_to_agent(RELAY_MAIN_STREAM, MSB_F_START, &m);
	}
}

/* Free the attach slot (the client stays connected). */
static void attach_clear(void)
{
	msb_buf_free(&vmm.att.pend);
	vmm.att = (struct main_attach){0};
}

/* End the attachment with FAILED {kind, msg} (client @c, stream @id). */
static void attach_refuse(struct client *c, uint32_t id, const char *kind,
			  const char *msg)
{
	struct msb_msg m = {
		.type = MSB_MSG_FAILED,
		.has = MSB_HAS(MSB_FLD_KIND) | MSB_HAS(MSB_FLD_MSG),
		.kind = msb_str(kind),
		.msg = msb_str(msg),
	};
	msb_frame_encode(&c->out, id, MSB_F_END, &m);
}

/* MAIN_ATTACH from @c on its new stream @id. */
static void attach_begin(struct client *c, uint32_t id,
			 const struct msb_msg *req)
{
	bool feed = req->has & MSB_HAS(MSB_FLD_FLAGS) &&
		    req->flags & MSB_PATTACH_STDIN;

	if (!vmm.wl.enabled) {
		attach_refuse(c, id, "not_found",
			      "the sandbox has no main process");
		return;
	}
	if (vmm.state != RUNNING || !vmm.wl.running) {
		attach_refuse(c, id, "not_running",
			      "the main process is not running (msb logs "
			      "shows its output)");
		return;
	}
	if (vmm.att.c) {
		attach_refuse(c, id, "busy",
			      "the main process is attached elsewhere: one "
			      "attach at a time (Ctrl-P Ctrl-Q detaches it)");
		return;
	}
	if (feed && !workload_has_stdin(&vmm.wl)) {
		attach_refuse(c, id, "no_stdin",
			      "the main process has no stdin: it was not "
			      "started with -i or -t");
		return;
	}
	vmm.att = (struct main_attach){.c = c, .stream = id, .feed = feed};
	struct msb_msg info = {
		.type = MSB_MSG_PROC_INFO,
		.has = MSB_HAS(MSB_FLD_PID) | MSB_HAS(MSB_FLD_FLAGS) |
		       MSB_HAS(MSB_FLD_KIND),
		.pid = vmm.wl.pid,
		.flags = (vmm.spec.main_tty ? MSB_EXEC_TTY : 0) |
			 (workload_has_stdin(&vmm.wl) ? MSB_EXEC_STDIN : 0),
		.kind = msb_str("running"),
	};
	msb_frame_encode(&c->out, id, 0, &info);
	logmsg("main process: attached%s", feed ? " with stdin" : "");
}

/* Send the attached client's input on as the guest's window allows. */
static void attach_pump(void)
{
	struct main_attach *a = &vmm.att;
	struct workload *w = &vmm.wl;

	if (!a->c || !w->running)
		return;
	while (msb_buf_avail(&a->pend) && w->in_credit && w->stdin_open) {
		size_t n = msb_buf_avail(&a->pend);
		if (n > MSB_CHUNK_MAX)
			n = MSB_CHUNK_MAX;
		if (n > w->in_credit)
			n = (size_t)w->in_credit;
		struct msb_msg m = {
			.type = MSB_MSG_STDIN,
			.has = MSB_HAS(MSB_FLD_DATA),
			.data = {msb_buf_head(&a->pend), n},
		};
		if (send_to_agent(RELAY_MAIN_STREAM, 0, &m) < 0)
			return;
		w->in_credit -= n;
		msb_buf_consume(&a->pend, n);
		struct msb_msg cr;
		if (msb_credit_due(&a->owed, n, &cr))
			msb_frame_encode(&a->c->out, a->stream, 0, &cr);
	}
	if (!msb_buf_avail(&a->pend) && a->eof && w->stdin_open) {
		struct msb_msg m = {.type = MSB_MSG_STDIN};
		send_to_agent(RELAY_MAIN_STREAM, MSB_F_END, &m);
		w->stdin_open = false;
		a->eof = false;
		logmsg("main process: stdin closed by the attached client");
	}
}

/* A frame of the attached client on its attach stream. */
static void attach_frame(struct client *c, const struct msb_frame *f)
{
	struct main_attach *a = &vmm.att;
	struct msb_msg m;

	if (msb_msg_decode(&m, f->payload, f->payload_len) < 0)
		return;
	switch (m.type) {
	case MSB_MSG_CREDIT:
		if (m.has & MSB_HAS(MSB_FLD_SIZE))
			a->lag = m.size >= a->lag ? 0 : a->lag - m.size;
		break;
	case MSB_MSG_STDIN:
		if (!a->feed || !vmm.wl.stdin_open)
			break; /* nothing to feed: dropped */
		if (m.data.n &&
		    msb_buf_append(&a->pend, m.data.p, m.data.n) < 0)
			break;
		if (msb_buf_avail(&a->pend) > MSB_WINDOW + MSB_CHUNK_MAX) {
			/* more than its window: not a client of ours */
			attach_refuse(c, a->stream, "dropped",
				      "input beyond the flow-control window");
			attach_clear();
			return;
		}
		if (f->hdr.flags & MSB_F_END)
			a->eof = true;
		attach_pump();
		break;
	case MSB_MSG_RESIZE:
		if (vmm.spec.main_tty && vmm.wl.running &&
		    m.has & MSB_HAS(MSB_FLD_ROWS) &&
		    m.has & MSB_HAS(MSB_FLD_COLS) && m.rows && m.cols &&
		    m.rows <= 0xffff && m.cols <= 0xffff) {
			struct msb_msg r = {
				.type = MSB_MSG_RESIZE,
				.has = MSB_HAS(MSB_FLD_ROWS) |
				       MSB_HAS(MSB_FLD_COLS),
				.rows = m.rows,
				.cols = m.cols,
			};
			send_to_agent(RELAY_MAIN_STREAM, 0, &r);
		}
		break;
	case MSB_MSG_SIGNAL:
		if (!(m.has & MSB_HAS(MSB_FLD_SIG)) || m.sig < 0 || m.sig > 64)
			break;
		if (m.sig == 0) {
			struct msb_msg d = {
				.type = MSB_MSG_PROC_INFO,
				.has = MSB_HAS(MSB_FLD_KIND),
				.kind = msb_str("detached"),
			};
			msb_frame_encode(&c->out, a->stream, MSB_F_END, &d);
			logmsg("main process: detached");
			attach_clear();
		} else if (vmm.wl.running) {
			struct msb_msg sg = {
				.type = MSB_MSG_SIGNAL,
				.has = MSB_HAS(MSB_FLD_SIG),
				.sig = m.sig,
			};
			send_to_agent(RELAY_MAIN_STREAM, 0, &sg);
		}
		break;
	default:
		break;
	}
}

/*
 * The main process's frame @f, for the attached client: output is
 * copied (or the client dropped past its lag), credit from the guest
 * lets input go on, and the end of the run ends the attachment.
 */
static void attach_main_frame(const struct msb_frame *f, bool was_running)
{
	struct main_attach *a = &vmm.att;
	struct msb_msg m;

	if (!a->c)
		return;
	bool ok = msb_msg_decode(&m, f->payload, f->payload_len) == 0;
	if (ok && was_running &&
	    (m.type == MSB_MSG_STDOUT || m.type == MSB_MSG_STDERR) &&
	    m.data.n) {
		if (a->lag + m.data.n > ATTACH_LAG_MAX) {
			attach_refuse(a->c, a->stream, "dropped",
				      "the client fell more than 1 MiB behind "
				      "the main process's output: detached");
			logmsg("main process: attached client too slow, "
			       "dropped");
			attach_clear();
			return;
		}
		struct msb_msg o = {
			.type = m.type,
			.has = MSB_HAS(MSB_FLD_DATA),
			.data = m.data,
		};
		if (msb_frame_encode(&a->c->out, a->stream, 0, &o) == 0)
			a->lag += m.data.n;
	}
	if (ok && m.type == MSB_MSG_CREDIT)
		attach_pump();
	if (was_running && !vmm.wl.running) {
		/* this run is over: so is the attachment */
		int code = vmm.wl.code;
		struct msb_msg e = {
			.type = MSB_MSG_EXITED,
			.has = MSB_HAS(MSB_FLD_CODE),
			.code = code,
		};
		if (ok && m.type == MSB_MSG_EXITED &&
		    m.has & MSB_HAS(MSB_FLD_SIG) && m.sig > 0 && m.sig <= 64) {
			e.has |= MSB_HAS(MSB_FLD_SIG);
			e.sig = m.sig;
			e.code = 0;
		}
		msb_frame_encode(&a->c->out, a->stream, MSB_F_END, &e);
		attach_clear();
	}
}

/* A frame of the main process (relay_ops): log, credit, policy. */
static void on_main_frame(void *ud, const struct msb_frame *f)
{
	struct msb_msg reply;
	bool was_running = vmm.wl.running;
	enum workload_do todo = workload_frame(&vmm.wl, f, &reply, now_us(),
					       vmm.state != RUNNING);

	(void)ud;
	attach_main_frame(f, was_running);
	switch (todo) {
	case WORKLOAD_SEND:
		send_to_agent(RELAY_MAIN_STREAM, 0, &reply);
		break;
	case WORKLOAD_STOP: {
		char why[64];
		logmsg("main process exited with status %d", vmm.wl.code);
		/* killed by a stop from outside: no status of its own */
		if (vmm.state != RUNNING)
			break;
		snprintf(why, sizeof(why), "main process exited with status %d",
			 vmm.wl.code);
		state_exit_code(vmm.wl.code);
		begin_stop(DEFAULT_STOP_MS, why);
		break;
	}
	default:
		if (!vmm.wl.running && vmm.wl.code >= 0)
			logmsg("main process exited with status %d; restart "
			       "in %" PRIu64 " ms",
			       vmm.wl.code,
			       (vmm.wl.restart_at_us - now_us()) / 1000);
		break;
	}
}

static struct msb_buf *client_out(struct client *c)
{
	return &c->out;
}

static const struct relay_ops relay_ops = {
	.client_out = client_out,
	.control = on_guest_control,
	.metrics = on_guest_metrics,
	.exec_frame = log_exec_frame,
	.exec_start = on_exec_start,
	.malformed = on_malformed,
	.stream_end = on_stream_end,
	.main_frame = on_main_frame,
};

/*
 * msb-netd's counters: the updates waiting on its socket, a bounded batch
 * (netd sends one a second at most; a netd that sends more only delays
 * its own updates). A whole, valid update replaces vmm.net; anything
 * else (truncated, not JSON, a bad counter) is dropped, so the last good
 * values stay.
 */
static void read_net_stats(void)
{
	char buf[NETD_STATS_MAX];

	for (int i = 0; i < 32 && vmm.net_stats_fd >= 0; i++) {
		ssize_t n = recv(vmm.net_stats_fd, buf, sizeof(buf),
				 MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				close_fd(&vmm.net_stats_fd);
			return;
		}
		if ((size_t)n > sizeof(buf) ||
		    !netd_stats_parse(buf, (size_t)n, &vmm.net)) {
			if (!vmm.net_bad++)
				logmsg("msb-netd sent invalid counters "
				       "(%zd bytes): dropped, the last good "
				       "ones are kept",
				       n);
		}
	}
}

/*
 * Answer a metrics request: CPU time and percent since the previous
 * request (or since boot), QEMU's resident memory, disk bytes from QMP,
 * msb-netd's last counters (0 without a network).
 */
static void reply_metrics(struct client *c)
{
	struct msb_msg m = {.type = MSB_MSG_METRICS};
	uint64_t now = now_us(), cpu, rss, rd, wr;

	if (vmm.qemu_pid > 0 && proc_usage(vmm.qemu_pid, &cpu, &rss)) {
		uint64_t since =
			vmm.cpu_prev_at ? vmm.cpu_prev_at : vmm.start_us;
		uint64_t used = cpu - (vmm.cpu_prev_at ? vmm.cpu_prev_us : 0);
		m.cpu_us = cpu;
		m.cpu_pct = now > since ? used * 10000u / (now - since) : 0;
		m.rss = rss;
		m.has |= MSB_HAS(MSB_FLD_CPU_US) | MSB_HAS(MSB_FLD_CPU_PCT) |
			 MSB_HAS(MSB_FLD_RSS);
		vmm.cpu_prev_us = cpu;
		vmm.cpu_prev_at = now;
	}
	if (qmp_blockstats(&vmm.qmp, 2000, &rd, &wr)) {
		m.disk_rd = rd;
		m.disk_wr = wr;
		m.has |= MSB_HAS(MSB_FLD_DISK_RD) | MSB_HAS(MSB_FLD_DISK_WR);
	}
	m.uptime_us = vmm.ready_us ? now - vmm.ready_us : 0;
	read_net_stats(); /* what came since the last turn */
	m.net_rx = vmm.net.rx_bytes;
	m.net_tx = vmm.net.tx_bytes;
	m.net_rx_pkts = vmm.net.rx_packets;
	m.net_tx_pkts = vmm.net.tx_packets;
	m.net_flows = vmm.net.flows;
	m.net_denied = vmm.net.denied;
	m.has |= MSB_HAS(MSB_FLD_UPTIME) | MSB_HAS(MSB_FLD_NET_RX) |
		 MSB_HAS(MSB_FLD_NET_TX) | MSB_HAS(MSB_FLD_RX_PKTS) |
		 MSB_HAS(MSB_FLD_TX_PKTS) | MSB_HAS(MSB_FLD_FLOWS) |
		 MSB_HAS(MSB_FLD_DENIED);
	if (vmm.mem_total) {
		m.mem_used = vmm.mem_used;
		m.mem_total = vmm.mem_total;
		m.has |= MSB_HAS(MSB_FLD_MEM_USED) | MSB_HAS(MSB_FLD_MEM_TOTAL);
	}
	msb_frame_encode(&c->out, 0, MSB_F_END, &m);
}

/* Answer every client waiting for metrics. */
static void flush_metrics_waiters(void)
{
	for (size_t i = 0; i < vmm.nmetrics_wait; i++)
		reply_metrics(vmm.metrics_wait[i]);
	vmm.nmetrics_wait = 0;
	vmm.metrics_deadline = 0;
}

/* A metrics request: ask the agent for guest memory first (1 s at most). */
static void send_metrics(struct client *c)
{
	if (vmm.state != RUNNING ||
	    vmm.nmetrics_wait == ARRAY_SIZE(vmm.metrics_wait)) {
		reply_metrics(c);
		return;
	}
	vmm.metrics_wait[vmm.nmetrics_wait++] = c;
	if (vmm.nmetrics_wait == 1) {
		struct msb_msg m = {.type = MSB_MSG_METRICS};
		send_to_agent(RELAY_METRICS_STREAM, MSB_F_START | MSB_F_END,
			      &m);
		vmm.metrics_deadline = now_us() + 1000000u;
	}
}

static bool qmp_do(const char *line, int fd, int timeout_ms, char *err,
		   size_t errlen);
static void drop_client(size_t i);
static int flush(int fd, struct msb_buf *out);
static void read_agent(void);
static int qmp_wait_status(const char *cmd, const char *const *done,
			   const char *const *bad, uint64_t deadline, char *err,
			   size_t errlen);

/*
 * save_vm_state() - stop the VM and write its state (memory and devices)
 * to @fd, handed to QEMU as @fdname: QMP getfd, a bandwidth cap raised
 * (the default, 32 MiB/s, would make a save take seconds), stop, migrate
 * to the descriptor, then wait until the migration completed or
 * @deadline (µs) passed. Templates, suspend and snapshots save this way.
 * Return: true, or false with QEMU's reason in @err (the VM may be left
 * stopped: the caller decides whether to cont it).
 */
static bool save_vm_state(int fd, const char *fdname, uint64_t deadline,
			  char *err, size_t errlen)
{
	static const char *const completed[] = {"completed", NULL};
	static const char *const failed[] = {"failed", "cancelled", NULL};
	char getfd[128], migrate[128];

	snprintf(getfd, sizeof(getfd),
		 "{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"%s\"}}",
		 fdname);
	snprintf(migrate, sizeof(migrate),
		 "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"fd:%s\"}}",
		 fdname);
	return qmp_do(getfd, fd, 5000, err, errlen) &&
	       qmp_do("{\"execute\":\"migrate-set-parameters\","
		      "\"arguments\":{\"max-bandwidth\":17179869184}}",
		      -1, 5000, err, errlen) &&
	       qmp_do("{\"execute\":\"stop\"}", -1, 5000, err, errlen) &&
	       qmp_do(migrate, -1, 5000, err, errlen) &&
	       qmp_wait_status("query-migrate", completed, failed, deadline,
			       err, errlen) == 0;
}

/*
 * Pause, resume, suspend (docs/snapshots.md).
 *
 * Pause stops the vCPUs (QMP stop); the VM stays in memory. While paused,
 * new requests are refused (an ERROR of kind "paused" naming msb resume),
 * as docker refuses exec on a paused container; streams already open
 * wait. The agent's liveness watch and the idle timeout do not run.
 *
 * Suspend saves the VM (suspend.h) and ends it: the other clients are
 * dropped first (their commands end, as when they disconnect; exec -d
 * processes stay), every byte queued for the guest is made to reach it
 * (the socket to QEMU is empty: SIOCOUTQ), then QMP stop and migrate to
 * the state file, as a template is saved. QEMU is killed once the stream
 * is complete; what the guest had sent is read to the end (the main
 * process's output goes to its log) and a frame cut short is kept in the
 * saved state, as are frames not yet sent to the guest.
 */
#define SUSPEND_QUIESCE_MS 10000
#define SUSPEND_SAVE_MS 120000

/* The answer to control request @type: done, or @err says why not. */
static void reply_control(struct client *c, enum msb_msg_type type,
			  const char *err)
{
	struct msb_msg m = {.type = type};

	if (err) {
		m.has = MSB_HAS(MSB_FLD_MSG);
		m.msg = msb_str(err);
	}
	msb_frame_encode(&c->out, 0, MSB_F_END, &m);
}

static int pause_vm(char *err, size_t errlen)
{
	if (vmm.state != RUNNING) {
		snprintf(err, errlen, "sandbox `%s` is %s: it cannot be paused",
			 vmm.spec.name,
			 vmm.state == BOOTING ? "starting" : "stopping");
		return -1;
	}
	if (vmm.user_paused) {
		snprintf(err, errlen, "sandbox `%s` is already paused",
			 vmm.spec.name);
		return -1;
	}
	if (diskfull_paused()) {
		snprintf(err, errlen,
			 "sandbox `%s` is already paused: the host disk is "
			 "full",
			 vmm.spec.name);
		return -1;
	}
	if (!qmp_do("{\"execute\":\"stop\"}", -1, 5000, err, errlen))
		return -1;
	vmm.user_paused = true;
	state_status("paused", getpid());
	state_reason("paused by `msb pause`");
	logmsg("paused");
	return 0;
}

static int resume_vm(char *err, size_t errlen)
{
	if (!vmm.user_paused) {
		if (diskfull_paused())
			snprintf(err, errlen,
				 "sandbox `%s` is paused because the host disk "
				 "is full: free space and it resumes by itself",
				 vmm.spec.name);
		else
			snprintf(err, errlen, "sandbox `%s` is not paused",
				 vmm.spec.name);
		return -1;
	}
	if (!qmp_do("{\"execute\":\"cont\"}", -1, 5000, err, errlen))
		return -1;
	vmm.user_paused = false;
	vmm.activity_us = now_us();
	relay_watch_heard(&vmm.watch, vmm.activity_us);
	state_status("running", getpid());
	state_reason(NULL);
	send_identity_ping(false);
	logmsg("resumed");
	return 0;
}

/* Refuse a new request on client stream @id while paused. */
static void paused_refuse(struct client *c, uint32_t id)
{
	char msg[256];

	snprintf(msg, sizeof(msg),
		 "sandbox `%s` is paused: resume it with `msb resume %s`",
		 vmm.spec.name, vmm.spec.name);
	struct msb_msg m = {
		.type = MSB_MSG_ERROR,
		.has = MSB_HAS(MSB_FLD_MSG) | MSB_HAS(MSB_FLD_KIND),
		.msg = msb_str(msg),
		.kind = msb_str("paused"),
	};
	msb_frame_encode(&c->out, id, MSB_F_END, &m);
}

/* Why this sandbox cannot be suspended, or NULL if it can. */
static const char *suspend_unusable(void)
{
	if (!strcmp(vmm.spec.root_format, "dir") ||
	    (vmm.spec.shares && vmm.spec.shares[0]))
		return "host folders shared over virtio-fs cannot be saved";
	if (vmm.spec.root_direct)
		return "its root disk is the image itself (--root-writable)";
	if (vmm.spec.ephemeral)
		return "it is removed when it stops (--rm, or no name)";
	if (!vmm.vm_key_ok)
		return "its VM description is too long";
	return NULL;
}

/* The identity (size, modification time) of the root disk and of each
 * volume, which must not change between a suspend and its resume: the
 * guest's memory holds what it read of them. */
static void disk_identity(char *out, size_t len)
{
	struct stat st;
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; o < len; i++) {
		const char *path = i == 0 ? vmm.disk : NULL;
		if (i > 0) {
			if (!vmm.spec.disks || !vmm.spec.disks[i - 1])
				break;
			path = vmm.spec.disks[i - 1] + 3; /* "rw:", "ro:" */
		}
		int n = stat(path, &st) < 0
				? snprintf(out + o, len - o, "%smissing",
					   i ? ";" : "")
				: snprintf(out + o, len - o,
					   "%s%lld %lld.%09ld", i ? ";" : "",
					   (long long)st.st_size,
					   (long long)st.st_mtim.tv_sec,
					   st.st_mtim.tv_nsec);
		if (n < 0)
			break;
		o += (size_t)n;
	}
}

/* Every byte for the guest has reached QEMU (so the guest's memory). */
static int quiesce_agent(uint64_t deadline, char *err, size_t errlen)
{
	for (;;) {
		int outq = -1;
		if (vmm.agent_fd < 0 || vmm.qemu_exited) {
			snprintf(err, errlen, "the VM stopped");
			return -1;
		}
		if (!msb_buf_avail(&vmm.agent_out) &&
		    ioctl(vmm.agent_fd, SIOCOUTQ, &outq) == 0 && outq == 0)
			return 0;
		if (now_us() >= deadline) {
			snprintf(err, errlen,
				 "the guest agent does not read what is sent "
				 "to it");
			return -1;
		}
		struct pollfd p = {
			.fd = vmm.agent_fd,
			.events = POLLIN |
				  (msb_buf_avail(&vmm.agent_out) ? POLLOUT : 0),
		};
		if (poll(&p, 1, 5) < 0 && errno != EINTR) {
			snprintf(err, errlen, "poll: %s", strerror(errno));
			return -1;
		}
		if (p.revents & POLLOUT &&
		    flush(vmm.agent_fd, &vmm.agent_out) < 0) {
			snprintf(err, errlen, "the VM stopped");
			return -1;
		}
		if (p.revents & (POLLIN | POLLHUP))
			read_agent();
	}
}

/* The supervisor's state a resume needs ("name=value" lines). */
static int vmm_state_text(char *out, size_t len)
{
	char disk[2048];

	disk_identity(disk, sizeof(disk));
	int n = snprintf(out, len,
			 "disk=%s\nnext_guest_id=%" PRIu32
			 "\nmain_running=%d\nmain_pid=%" PRId64
			 "\nmain_restarts=%u\nmain_code=%d\n"
			 "main_stdin_open=%d\nmain_in_credit=%" PRIu64
			 "\nmain_owed=%" PRIu64 "\nmain_due=%d\n",
			 disk, vmm.relay.next_guest_id, vmm.wl.running,
			 vmm.wl.pid, vmm.wl.restarts, vmm.wl.code,
			 vmm.wl.stdin_open, vmm.wl.in_credit, vmm.wl.owed,
			 workload_due(&vmm.wl, false) != 0);
	return n < 0 || (size_t)n >= len ? -1 : n;
}

/*
 * not_now() - whether the VM is in no state to be saved (booting,
 * stopping, or paused for disk space); if so, @err says so, for @what
 * ("suspended", "snapshotted").
 */
static bool not_now(const char *what, char *err, size_t errlen)
{
	if (vmm.state == RUNNING && !diskfull_paused())
		return false;
	snprintf(err, errlen, "sandbox `%s` is %s: it cannot be %s now",
		 vmm.spec.name,
		 vmm.state == BOOTING    ? "starting"
		 : vmm.state == STOPPING ? "stopping"
					 : "paused for disk space",
		 what);
	return true;
}

/*
 * Save the VM into the sandbox folder and end it (@keep: the client that
 * asked, which gets the answer). Return: 0 (QEMU has exited: the main
 * loop ends), or -1 with @err set; @err says whether the VM still runs.
 */
static int suspend_vm(struct client *keep, char *err, size_t errlen)
{
	const char *no = suspend_unusable();
	char e[512];
	uint64_t t0 = now_us();

	if (no) {
		snprintf(err, errlen, "sandbox `%s` cannot be suspended: %s",
			 vmm.spec.name, no);
		return -1;
	}
	if (not_now("suspended", err, errlen))
		return -1;
	/* The other clients go, as if they had disconnected. */
	for (size_t i = 0; i < MAX_CLIENTS; i++)
		if (vmm.clients[i] && vmm.clients[i] != keep)
			drop_client(i);
	if (vmm.user_paused) {
		if (!qmp_do("{\"execute\":\"cont\"}", -1, 5000, e, sizeof(e))) {
			snprintf(err, errlen, "cont: %s", e);
			return -1;
		}
		vmm.user_paused = false;
	}
	logmsg("suspending");
	if (quiesce_agent(t0 + SUSPEND_QUIESCE_MS * 1000ull, e, sizeof(e)) <
	    0) {
		snprintf(err, errlen, "sandbox `%s` not suspended: %s",
			 vmm.spec.name, e);
		return -1;
	}
	struct susp_save sv;
	if (susp_save_begin(&sv, vmm.spec.sandbox_dir, SUSP_DIR, e, sizeof(e)) <
	    0) {
		snprintf(err, errlen, "sandbox `%s` not suspended: %s",
			 vmm.spec.name, e);
		return -1;
	}
	bool ok = save_vm_state(sv.state_fd, "msb-suspend",
				now_us() + SUSPEND_SAVE_MS * 1000ull, e,
				sizeof(e));
	if (!ok) {
		char c[256];
		susp_save_abort(&sv);
		if (!qmp_do("{\"execute\":\"cont\"}", -1, 5000, c, sizeof(c)))
			logmsg("suspend: cont: %s", c);
		snprintf(err, errlen, "sandbox `%s` not suspended: %s",
			 vmm.spec.name, e);
		return -1;
	}
	/* The stream is complete: from here on the VM exists only there.
	 * QEMU must not send the guest's data on after the stream, or a
	 * restore would send it again. */
	kill_qemu();
	reap_qemu_blocking();
	for (int i = 0; i < 4096 && vmm.agent_fd >= 0; i++)
		read_agent();
	static char text[4096];
	size_t in_n = msb_buf_avail(&vmm.agent_in),
	       out_n = msb_buf_avail(&vmm.agent_out);
	int tn = vmm_state_text(text, sizeof(text));
	struct stat st;
	off_t size = fstat(sv.state_fd, &st) == 0 ? st.st_size : 0;
	if (in_n > SUSP_PENDING_MAX || out_n > SUSP_PENDING_MAX || tn < 0) {
		snprintf(e, sizeof(e), "too much data in flight");
		ok = false;
	} else {
		ok = susp_save_file(&sv, "key", vmm.vm_key.text, vmm.vm_key.len,
				    e, sizeof(e)) == 0 &&
		     susp_save_file(&sv, "vmm", text, (size_t)tn, e,
				    sizeof(e)) == 0 &&
		     susp_save_file(&sv, "agent_in",
				    msb_buf_head(&vmm.agent_in), in_n, e,
				    sizeof(e)) == 0 &&
		     susp_save_file(&sv, "agent_out",
				    msb_buf_head(&vmm.agent_out), out_n, e,
				    sizeof(e)) == 0 &&
		     susp_save_commit(&sv, e, sizeof(e)) == 0;
	}
	vmm.state = STOPPING;
	if (!ok) {
		susp_save_abort(&sv);
		snprintf(vmm.stop_reason, sizeof(vmm.stop_reason),
			 "suspend failed: %.100s", e);
		snprintf(err, errlen,
			 "sandbox `%s`: suspend failed after the VM was "
			 "saved (%s): it is stopped",
			 vmm.spec.name, e);
		return -1;
	}
	vmm.suspended = true;
	snprintf(vmm.stop_reason, sizeof(vmm.stop_reason), "suspended");
	logmsg("suspended (%lld MiB in %" PRIu64 " ms)",
	       (long long)(size >> 20), (now_us() - t0) / 1000);
	return 0;
}

/*
 * Append to the vmm text (@len bytes of @out) the commands clients run at
 * a snapshot: "orphans=ID:SIG,..." (guest stream, the signal their
 * client's leaving would send). A sandbox made from the snapshot has no
 * such clients, and sends those signals at once (resumed_ready()).
 * Return: the new length (as many as fit), or -1.
 */
static int orphans_text(char *out, size_t cap, size_t len)
{
	size_t n = 0;
	int w = snprintf(out + len, cap - len, "orphans=");

	if (w < 0 || (size_t)w >= cap - len)
		return (int)len;
	len += (size_t)w;
	for (size_t k = 0; k < vmm.relay.nroutes; k++) {
		const struct relay_route *r = &vmm.relay.routes[k];
		if (!r->c || (!r->exec && !r->attach))
			continue;
		w = snprintf(out + len, cap - len, "%s%" PRIu32 ":%d",
			     n ? "," : "", r->guest_id,
			     r->attach ? 0 : SIGKILL);
		if (w < 0 || (size_t)w >= cap - len - 1)
			break; /* the rest are left to block */
		len += (size_t)w;
		n++;
	}
	out[len++] = '\n';
	out[len] = '\0';
	return (int)len;
}

/* A sandbox made from a snapshot: end the commands of the source's
 * clients, which have no client here (orphans_text()). */
static void end_orphans(const char *t)
{
	static char v[4096];
	char snap[128];

	if (!susp_value(t, "snapshot", snap, sizeof(snap)) ||
	    !susp_value(t, "orphans", v, sizeof(v)))
		return;
	for (char *p = v; *p;) {
		char *end;
		unsigned long id = strtoul(p, &end, 10);
		if (end == p || *end != ':')
			break;
		long sig = strtol(end + 1, &end, 10);
		if (id && id < RELAY_METRICS_STREAM && sig >= 0 && sig < 65) {
			struct msb_msg m = {.type = MSB_MSG_SIGNAL,
					    .has = MSB_HAS(MSB_FLD_SIG),
					    .sig = sig};
			send_to_agent((uint32_t)id, 0, &m);
		}
		if (*end != ',')
			break;
		p = end + 1;
	}
}

/*
 * Save a snapshot of the running VM into the sandbox folder (SNAP_DIR,
 * suspend.h): as a suspend saves it, but QEMU goes on afterwards, and the
 * root overlay is copied while the VM is stopped. QEMU's `stop` drains
 * and flushes every block device (its qcow2 caches included), and
 * nothing writes the overlay until the `cont`, so the copy is the disk
 * at the instant of the memory state. The library moves the folder to
 * $MSB_HOME/snapshots/. Return: 0, or -1 with @err set (the VM runs on).
 */
static int snapshot_vm(char *err, size_t errlen)
{
	const char *no = suspend_unusable();
	char e[512], path[PATH_MAX + 32];
	uint64_t t0 = now_us();
	bool was_paused = vmm.user_paused;

	if (no && !vmm.spec.ephemeral) {
		snprintf(err, errlen, "sandbox `%s` cannot be snapshotted: %s",
			 vmm.spec.name, no);
		return -1;
	}
	if (vmm.spec.disks && vmm.spec.disks[0]) {
		snprintf(err, errlen,
			 "sandbox `%s` cannot be snapshotted: it has volumes "
			 "(a snapshot copies only the root disk)",
			 vmm.spec.name);
		return -1;
	}
	if (not_now("snapshotted", err, errlen))
		return -1;
	/* The guest must run to read what is queued for it; the migration
	 * stops it again, and it stays so. */
	if (was_paused &&
	    !qmp_do("{\"execute\":\"cont\"}", -1, 5000, e, sizeof(e))) {
		snprintf(err, errlen, "cont: %s", e);
		return -1;
	}
	if (quiesce_agent(t0 + SUSPEND_QUIESCE_MS * 1000ull, e, sizeof(e)) <
	    0) {
		snprintf(err, errlen, "snapshot of `%s` not taken: %s",
			 vmm.spec.name, e);
		if (was_paused)
			qmp_do("{\"execute\":\"stop\"}", -1, 5000, e,
			       sizeof(e));
		return -1;
	}
	struct susp_save sv;
	if (susp_save_begin(&sv, vmm.spec.sandbox_dir, SNAP_DIR, e, sizeof(e)) <
	    0) {
		snprintf(err, errlen, "snapshot of `%s` not taken: %s",
			 vmm.spec.name, e);
		if (was_paused)
			qmp_do("{\"execute\":\"stop\"}", -1, 5000, e,
			       sizeof(e));
		return -1;
	}
	bool ok = save_vm_state(sv.state_fd, "msb-snapshot",
				now_us() + SUSPEND_SAVE_MS * 1000ull, e,
				sizeof(e));
	/* The VM is stopped: what the guest sent before is read now, so
	 * that only a frame cut short stays (agent_in, for the copy). */
	for (int i = 0; ok && i < 4096 && vmm.agent_fd >= 0; i++) {
		struct pollfd p = {.fd = vmm.agent_fd, .events = POLLIN};
		if (poll(&p, 1, 0) <= 0 || !(p.revents & (POLLIN | POLLHUP)))
			break;
		read_agent();
	}
	if (ok) {
		static char text[4096];
		size_t in_n = msb_buf_avail(&vmm.agent_in);
		int tn = vmm_state_text(text, sizeof(text));
		if (tn >= 0)
			tn = orphans_text(text, sizeof(text), (size_t)tn);
		int in = open(vmm.disk, O_RDONLY | O_CLOEXEC);
		snprintf(path, sizeof(path), "%s/" SNAP_DISK, sv.tmp);
		int out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			       0600);
		if (in < 0 || out < 0 || copy_sparse(in, out) < 0) {
			snprintf(e, sizeof(e), "copy the root disk: %s",
				 strerror(errno));
			ok = false;
		} else if (in_n > SUSP_PENDING_MAX || tn < 0) {
			snprintf(e, sizeof(e), "too much data in flight");
			ok = false;
		} else {
			ok = susp_save_file(&sv, "key", vmm.vm_key.text,
					    vmm.vm_key.len, e,
					    sizeof(e)) == 0 &&
			     susp_save_file(&sv, "vmm", text, (size_t)tn, e,
					    sizeof(e)) == 0 &&
			     susp_save_file(&sv, "agent_in",
					    msb_buf_head(&vmm.agent_in), in_n,
					    e, sizeof(e)) == 0 &&
			     susp_save_commit(&sv, e, sizeof(e)) == 0;
		}
		if (in >= 0)
			close(in);
		if (out >= 0)
			close(out);
	}
	if (!ok)
		susp_save_abort(&sv);
	if (!was_paused) {
		char c[256];
		if (!qmp_do("{\"execute\":\"cont\"}", -1, 5000, c, sizeof(c)))
			logmsg("snapshot: cont: %s", c);
	}
	if (!ok) {
		snprintf(err, errlen, "snapshot of `%s` not taken: %s",
			 vmm.spec.name, e);
		return -1;
	}
	logmsg("snapshot saved in %" PRIu64 " ms", (now_us() - t0) / 1000);
	return 0;
}

static void on_client_control(struct client *c, const struct msb_frame *f)
{
	struct msb_msg m;

	if (msb_msg_decode(&m, f->payload, f->payload_len) < 0) {
		send_client_error(c, 0, "malformed control frame");
		return;
	}
	switch (m.type) {
	case MSB_MSG_SHUTDOWN:
		begin_stop(m.has & MSB_HAS(MSB_FLD_TIMEOUT) && m.timeout_ms &&
					   m.timeout_ms <= 3600000u
				   ? (unsigned int)m.timeout_ms
				   : DEFAULT_STOP_MS,
			   "requested");
		break;
	case MSB_MSG_PING: {
		struct msb_msg pong = {.type = MSB_MSG_PONG};
		msb_frame_encode(&c->out, 0, MSB_F_END, &pong);
		break;
	}
	case MSB_MSG_METRICS:
		send_metrics(c);
		break;
	case MSB_MSG_PAUSE:
	case MSB_MSG_RESUME:
	case MSB_MSG_SUSPEND:
	case MSB_MSG_SNAPSHOT: {
		char err[1024];
		int r = m.type == MSB_MSG_PAUSE    ? pause_vm(err, sizeof(err))
			: m.type == MSB_MSG_RESUME ? resume_vm(err, sizeof(err))
			: m.type == MSB_MSG_SNAPSHOT
				? snapshot_vm(err, sizeof(err))
				: suspend_vm(c, err, sizeof(err));
		reply_control(c, m.type, r == 0 ? NULL : err);
		break;
	}
	case MSB_MSG_OPEN:
		if (vmm.spec.hold)
			logmsg("prepared: accepting other clients");
		vmm.spec.hold = false;
		break;
	default:
		send_client_error(c, 0, "unknown control request");
		break;
	}
}

static void on_client_frame(struct client *c, const struct msb_frame *f,
			    const uint8_t *raw)
{
	if (f->hdr.stream)
		vmm.activity_us = now_us();
	uint32_t id = f->hdr.stream;

	if (id == 0) {
		on_client_control(c, f);
		return;
	}
	if (vmm.att.c == c && vmm.att.stream == id) {
		attach_frame(c, f);
		return;
	}
	if (f->hdr.flags & MSB_F_START && vmm.user_paused &&
	    !relay_find_client(&vmm.relay, c, id)) {
		paused_refuse(c, id);
		return;
	}
	if (f->hdr.flags & MSB_F_START &&
	    !relay_find_client(&vmm.relay, c, id)) {
		struct msb_msg m;
		if (msb_msg_decode(&m, f->payload, f->payload_len) == 0 &&
		    m.type == MSB_MSG_MAIN_ATTACH) {
			attach_begin(c, id, &m);
			return;
		}
	}
	/* host disk full: refused with the reason (diskfull.h) */
	if (f->hdr.flags & MSB_F_START &&
	    !relay_find_client(&vmm.relay, c, id) &&
	    diskfull_refuse(&c->out, id))
		return;
	const char *err = relay_from_client(
		&vmm.relay, c, f, raw, &vmm.agent_out, vmm.state == RUNNING);
	if (err)
		send_client_error(c, id, err);
}

static struct client *add_client(int fd)
{
	for (size_t i = 0; i < MAX_CLIENTS; i++) {
		if (vmm.clients[i])
			continue;
		struct client *c = calloc(1, sizeof(*c));
		if (!c)
			return NULL;
		c->fd = fd;
		set_nonblock(fd, 1);
		vmm.clients[i] = c;
		return c;
	}
	return NULL;
}

/* A client went away: kill what it started, forget it. */
static void drop_client(size_t i)
{
	struct client *c = vmm.clients[i];

	relay_client_gone(&vmm.relay, c); /* kills its commands */
	if (vmm.att.c == c) {
		logmsg("main process: the attached client left");
		attach_clear(); /* the main process's stdin stays open */
	}
	for (size_t k = 0; k < vmm.nmetrics_wait; k++)
		if (vmm.metrics_wait[k] == c)
			vmm.metrics_wait[k--] =
				vmm.metrics_wait[--vmm.nmetrics_wait];
	close(c->fd);
	msb_buf_free(&c->in);
	msb_buf_free(&c->out);
	free(c);
	vmm.clients[i] = NULL;
}

/*
 * Read what @fd has into @in. Return: 1 if data or nothing yet, 0 at EOF,
 * -1 on error.
 */
static int fill(int fd, struct msb_buf *in)
{
	for (int rounds = 0; rounds < 16; rounds++) {
		if (msb_buf_reserve(in, 65536) < 0)
			return -1;
		ssize_t n = read(fd, in->data + in->len, in->cap - in->len);
		if (n > 0) {
			in->len += (size_t)n;
			continue;
		}
		if (n == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			return 1;
		return -1;
	}
	return 1;
}

/* Write what we can of @out. Return 0, or -1 if the peer is gone. */
static int flush(int fd, struct msb_buf *out)
{
	while (msb_buf_avail(out)) {
		ssize_t n = write(fd, msb_buf_head(out), msb_buf_avail(out));
		if (n > 0) {
			msb_buf_consume(out, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		return -1;
	}
	return 0;
}

static void read_agent(void)
{
	size_t before = msb_buf_avail(&vmm.agent_in);
	int rc = fill(vmm.agent_fd, &vmm.agent_in);

	if (msb_buf_avail(&vmm.agent_in) != before) {
		/* Alive; but the guest's frames are not activity (idle
		 * timeout). */
		relay_watch_heard(&vmm.watch, now_us());
	}
	if (relay_from_guest(&vmm.relay, &vmm.agent_in) < 0) {
		/* Cannot resynchronise a byte stream: the guest is not
		 * trustworthy any more. */
		logmsg("invalid frame length from the guest: stopping");
		kill_qemu();
	}
	if (rc <= 0) {
		/* QEMU closed the channel: it is exiting. */
		close_fd(&vmm.agent_fd);
	}
}

static void read_client(size_t i)
{
	struct client *c = vmm.clients[i];
	int rc = fill(c->fd, &c->in);
	struct msb_frame f;

	for (;;) {
		int r = msb_frame_next(&f, &c->in);
		if (r == 0)
			break;
		if (r < 0) {
			rc = -1;
			break;
		}
		on_client_frame(c, &f, msb_buf_head(&c->in));
		msb_buf_consume(&c->in, msb_frame_size(&f));
	}
	if (rc <= 0)
		drop_client(i);
}

static void on_signal(void)
{
	struct signalfd_siginfo si;

	while (read(vmm.sig_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGCHLD) {
			int st;
			pid_t p;
			while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
				if (p == vmm.qemu_pid) {
					vmm.qemu_exited = true;
					vmm.qemu_status = st;
				} else if (p == vmm.netd_pid) {
					vmm.netd_pid = 0;
					drain_fd(&vmm.net_err_fd, &vmm.net_lb,
						 net_line, SIZE_MAX);
					/* its last counters stay; no flow is
					 * open any more */
					read_net_stats();
					close_fd(&vmm.net_stats_fd);
					vmm.net.flows = 0;
					logmsg("msb-netd %s %d: the sandbox "
					       "has no network from now on "
					       "(logs/net.log may say why)",
					       WIFSIGNALED(st)
						       ? "was killed by signal"
						       : "exited with status",
					       WIFSIGNALED(st)
						       ? WTERMSIG(st)
						       : WEXITSTATUS(st));
				}
			}
		} else {
			begin_stop(DEFAULT_STOP_MS, "signal");
		}
	}
}

static void describe_exit(char *out, size_t len)
{
	int st = vmm.qemu_status;

	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS)
		snprintf(
			out, len,
			"QEMU was killed by its seccomp filter (-sandbox): it made a system call the filter denies");
	else if (WIFSIGNALED(st))
		snprintf(out, len, "QEMU was killed by signal %d (%s)",
			 WTERMSIG(st), strsignal(WTERMSIG(st)));
	else
		snprintf(out, len, "QEMU exited with status %d",
			 WEXITSTATUS(st));
}

/*
 * How QEMU ended, with its last words: "QEMU exited with status 1: cannot
 * set up guest memory 'microvm.ram': Cannot allocate memory". What QEMU
 * wrote is escaped and bounded (it may quote guest-controlled text).
 */
static void describe_qemu_end(char *out, size_t len)
{
	char said[480];

	drain_logs();
	describe_exit(out, len);
	linetail_join(&vmm.qemu_tail, vmm.spec.qemu, said, sizeof(said));
	if (!said[0])
		return;
	size_t o = strlen(out);
	snprintf(out + o, len - o, ": %s", said);
	/* The most common one: more RAM than the host will give. */
	o = strlen(out);
	if (strstr(said, "cannot set up guest memory") && vmm.host_ram_mib)
		snprintf(out + o, len - o,
			 " (%u MiB asked; this host has %llu MiB of RAM)",
			 vmm.spec.memory_mib,
			 (unsigned long long)vmm.host_ram_mib);
}

/* QEMU is gone while it should be running: say why. */
static void vm_died(char *msg, size_t msglen)
{
	char why[768], tail[1024], panic[512];

	describe_qemu_end(why, sizeof(why));
	console_tail(tail, sizeof(tail), 5);
	if (console_line("Kernel panic", panic, sizeof(panic)))
		snprintf(msg, msglen, "guest kernel panicked: %s (%s)", panic,
			 why);
	else if (vmm.state == BOOTING)
		snprintf(msg, msglen, "the VM stopped during boot (%s)%s%.600s",
			 why, tail[0] ? ": " : "", tail);
	else
		snprintf(msg, msglen, "the VM stopped unexpectedly (%s)", why);
	if (vmm.state == BOOTING)
		fail(MSB_EVMDIED, 0, "%s", msg);
	logmsg("%s", msg);
	struct msb_msg m = {
		.type = MSB_MSG_ERROR,
		.has = MSB_HAS(MSB_FLD_MSG),
		.msg = msb_str(msg),
	};
	for (size_t i = 0; i < MAX_CLIENTS; i++) {
		struct client *c = vmm.clients[i];
		if (!c)
			continue;
		msb_frame_encode(&c->out, 0, MSB_F_END, &m);
		set_nonblock(c->fd, 0);
		flush(c->fd, &c->out);
	}
}

/*
 * run/agent.sock: other processes (msb exec, a reconnecting library) join
 * as more clients. Only the owner may connect (the folder is 0700).
 */
static void listen_agent(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/run/agent.sock",
			 vmm.spec.sandbox_dir);

	if (n < 0 || (size_t)n >= sizeof(sa.sun_path)) {
		logmsg("%s/run/agent.sock: path too long for a socket; other processes cannot connect",
		       vmm.spec.sandbox_dir);
		return;
	}
	unlink(sa.sun_path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 16) < 0)
		fail(MSB_ESYS, errno, "listen on `%s`: %s", sa.sun_path,
		     strerror(errno));
	vmm.listen_fd = fd;
}

static void accept_clients(void)
{
	for (;;) {
		int fd = accept4(vmm.listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (!add_client(fd)) {
			logmsg("too many clients: connection refused");
			close(fd);
		}
	}
}

/*
 * When a running sandbox reaches a limit: its maximum duration, or its
 * idle timeout: no client stream open and no client request on a stream
 * for that long. Only the host's side counts: a guest that sends frames
 * (or never ends a stream whose client has gone) does not keep the
 * sandbox alive. 0: none.
 */
static uint64_t limit_at(const char **why)
{
	uint64_t at = 0;

	if (vmm.state != RUNNING)
		return 0;
	if (vmm.spec.max_duration_s) {
		at = vmm.ready_us +
		     (uint64_t)vmm.spec.max_duration_s * 1000000u;
		*why = "maximum duration reached";
	}
	/* paused for disk space: not idle, and could not stop cleanly; a
	 * main process (or one due to restart) is not idle either */
	if (vmm.spec.idle_timeout_s && !relay_live(&vmm.relay) &&
	    !vmm.wl.running && !workload_due(&vmm.wl, false) &&
	    !diskfull_paused() && !vmm.user_paused) {
		uint64_t idle = vmm.activity_us +
				(uint64_t)vmm.spec.idle_timeout_s * 1000000u;
		if (!at || idle < at) {
			at = idle;
			*why = "idle timeout";
		}
	}
	return at;
}

/*
 * The clients' streams have ended because the agent stopped answering:
 * each gets an ERROR of kind "timeout" (the library's MSB_ETIMEDOUT), and
 * its command is killed if the agent ever wakes up.
 */
static void agent_silent(uint64_t silent_us)
{
	char msg[128];
	size_t n = 0;

	snprintf(msg, sizeof(msg),
		 "the guest agent did not answer for %" PRIu64 " s",
		 silent_us / 1000000u);
	struct msb_msg e = {
		.type = MSB_MSG_ERROR,
		.has = MSB_HAS(MSB_FLD_MSG) | MSB_HAS(MSB_FLD_KIND),
		.msg = msb_str(msg),
		.kind = msb_str("timeout"),
	};
	struct msb_msg kill = {
		.type = MSB_MSG_SIGNAL,
		.has = MSB_HAS(MSB_FLD_SIG),
		.sig = SIGKILL,
	};
	for (size_t i = 0; i < vmm.relay.nroutes; i++) {
		struct relay_route *r = &vmm.relay.routes[i];
		if (!r->c)
			continue;
		msb_frame_encode(&r->c->out, r->client_id, MSB_F_END, &e);
		kill.sig = r->attach ? 0 : SIGKILL;
		send_to_agent(r->guest_id, 0, &kill);
		r->c = NULL;
		n++;
	}
	logmsg("%s: %zu client streams ended", msg, n);
	vmm.activity_us = now_us();
}

/*
 * agent_check() - watch the agent's liveness (relay_watch_step()) while a
 * client waits on it; time we spend not reading the guest (@paused: a
 * client is slow) or with the VM paused for disk space does not count
 * against it.
 * Return: when to look again (µs), or 0.
 */
static uint64_t agent_check(bool paused)
{
	uint64_t now = now_us(), next;
	/* paused for disk space (diskfull.h): the guest is stopped */
	bool watching = vmm.state == RUNNING && vmm.agent_fd >= 0 &&
			relay_live(&vmm.relay) && !paused &&
			!diskfull_paused() && !vmm.user_paused;
	uint64_t silent_us = now - vmm.watch.guest_us;

	switch (relay_watch_step(&vmm.watch, now, watching, &next)) {
	case RELAY_PING:
		send_clock_ping();
		break;
	case RELAY_SILENT:
		agent_silent(silent_us);
		break;
	case RELAY_WAIT:
		break;
	}
	return next;
}

static int poll_timeout(uint64_t watch)
{
	const char *why;
	uint64_t limit = limit_at(&why);
	uint64_t at = vmm.deadline_us;

	if (vmm.metrics_deadline && (!at || vmm.metrics_deadline < at))
		at = vmm.metrics_deadline;

	if (limit && (!at || limit < at))
		at = limit;
	if (watch && (!at || watch < at))
		at = watch;
	uint64_t disk = diskfull_deadline();
	if (disk && (!at || disk < at))
		at = disk;
	uint64_t main = vmm.state == RUNNING ? workload_due(&vmm.wl, false) : 0;
	if (main && (!at || main < at))
		at = main;
	if (!at)
		return -1;
	uint64_t now = now_us();
	if (now >= at)
		return 0;
	uint64_t ms = (at - now + 999) / 1000;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

static void on_deadline(void)
{
	if (vmm.state == BOOTING) {
		char tail[1024], hint[160] = "";
		kill_qemu();
		reap_qemu_blocking();
		console_tail(tail, sizeof(tail), 5);
		if (vmm.overcommitted)
			snprintf(hint, sizeof(hint),
				 " (%u vCPUs emulated on %ld host CPUs: use "
				 "%ld or fewer)",
				 vmm.spec.cpus, vmm.host_cpus, vmm.host_cpus);
		fail(MSB_ETIMEDOUT, 0,
		     "the guest was not ready after %u s%s%s%s",
		     vmm.spec.boot_timeout_ms / 1000, hint,
		     tail[0] ? "; kernel log: " : " and printed nothing", tail);
	}
	if (vmm.state == STOPPING) {
		logmsg("graceful stop timed out: killing QEMU");
		kill_qemu();
		vmm.deadline_us = 0;
	}
}

/* Host disk full (diskfull.h): the images QEMU writes, by drive id. */
static void watch_disk_space(void)
{
	size_t n = 0, cap = 2;

	for (char **d = vmm.spec.disks; d && *d; d++)
		cap++;
	_cleanup_free_ char **img = calloc(cap, sizeof(*img));
	if (!img)
		fail(MSB_ENOMEM, ENOMEM, "out of memory");
	if (strcmp(vmm.spec.root_format, "dir"))
		img[n++] = xasprintf("root=%s", vmm.disk);
	for (size_t i = 0; vmm.spec.disks && vmm.spec.disks[i]; i++)
		if (!strncmp(vmm.spec.disks[i], "rw:", 3) && n < cap - 1)
			img[n++] = xasprintf("vol%zu=%s", i,
					     vmm.spec.disks[i] + 3);
	for (size_t i = 0; i < n; i++)
		if (!img[i])
			fail(MSB_ENOMEM, ENOMEM, "out of memory");
	char reserve[PATH_MAX + 32];
	snprintf(reserve, sizeof(reserve), "%s/run/disk-reserve",
		 vmm.spec.sandbox_dir);
	diskfull_init(&vmm.qmp, vmm.spec.home, img, reserve);
	for (size_t i = 0; i < n; i++)
		free(img[i]);
}

/*
 * idle_suspend() - the idle timeout of a sandbox created with --on-idle
 * suspend (E2B's auto-pause): suspend it as `msb suspend` does; its next
 * client resumes it (msb_sandbox_connect()). If it cannot be saved, it
 * stops as on any idle timeout.
 */
static void idle_suspend(void)
{
	char err[512];

	logmsg("idle timeout: suspending");
	if (suspend_vm(NULL, err, sizeof(err)) == 0) {
		snprintf(vmm.stop_reason, sizeof(vmm.stop_reason),
			 "idle timeout: suspended");
		return;
	}
	logmsg("idle timeout: %s", err);
	if (vmm.state == RUNNING)
		begin_stop(DEFAULT_STOP_MS, "idle timeout (not suspended)");
}

static void loop(void)
{
	/* 7 before the clients, QMP and netd's two after them */
	struct pollfd pfd[7 + MAX_CLIENTS + 3];
	size_t idx[MAX_CLIENTS];

	while (!vmm.qemu_exited) {
		size_t n = 0, nc = 0;
		bool agent_full = false;

		for (size_t i = 0; i < MAX_CLIENTS; i++)
			if (vmm.clients[i] &&
			    msb_buf_avail(&vmm.clients[i]->out) > BUF_HIGH)
				agent_full = true;
		/* Before the poll set: they may queue frames to send. */
		workload_tick();
		uint64_t watch = agent_check(agent_full);

		pfd[n++] = (struct pollfd){.fd = vmm.sig_fd, .events = POLLIN};
		pfd[n++] = (struct pollfd){
			.fd = vmm.watch_fd,
			.events = vmm.watch_fd >= 0 ? POLLIN : 0,
		};
		short ev = agent_full ? 0 : POLLIN;
		if (msb_buf_avail(&vmm.agent_out))
			ev |= POLLOUT;
		pfd[n++] = (struct pollfd){.fd = vmm.agent_fd, .events = ev};
		pfd[n++] = (struct pollfd){
			.fd = vmm.listen_fd,
			/* held: the creator is still preparing it */
			.events = vmm.state == RUNNING && !vmm.spec.hold
					  ? POLLIN
					  : 0,
		};
		/* Logs are read whatever else waits. */
		pfd[n++] =
			(struct pollfd){.fd = vmm.console_fd, .events = POLLIN};
		pfd[n++] =
			(struct pollfd){.fd = vmm.stderr_fd, .events = POLLIN};
		pfd[n++] = (struct pollfd){.fd = vmm.qemu_err_fd,
					   .events = POLLIN};
		bool clients_wait = msb_buf_avail(&vmm.agent_out) > BUF_HIGH;
		for (size_t i = 0; i < MAX_CLIENTS; i++) {
			struct client *c = vmm.clients[i];
			if (!c)
				continue;
			short cev = clients_wait ? 0 : POLLIN;
			if (msb_buf_avail(&c->out))
				cev |= POLLOUT;
			idx[nc++] = i;
			pfd[n++] = (struct pollfd){.fd = c->fd, .events = cev};
		}
		size_t qmp_at = n;
		pfd[n++] = (struct pollfd){.fd = vmm.qmp.fd, .events = POLLIN};
		size_t net_at = n;
		pfd[n++] =
			(struct pollfd){.fd = vmm.net_err_fd, .events = POLLIN};
		pfd[n++] = (struct pollfd){.fd = vmm.net_stats_fd,
					   .events = POLLIN};

		int r = poll(pfd, n, poll_timeout(watch));
		if (r < 0 && errno != EINTR) {
			logmsg("poll: %s", strerror(errno));
			kill_qemu();
			break;
		}
		if (r == 0 && vmm.deadline_us && now_us() >= vmm.deadline_us) {
			on_deadline();
			continue;
		}
		if (vmm.metrics_deadline && now_us() >= vmm.metrics_deadline)
			flush_metrics_waiters(); /* the agent did not answer */
		const char *why;
		uint64_t limit = limit_at(&why);
		if (r == 0 && limit && now_us() >= limit) {
			if (vmm.spec.idle_suspend &&
			    !strcmp(why, "idle timeout"))
				idle_suspend();
			else
				begin_stop(DEFAULT_STOP_MS, why);
			continue;
		}
		if (pfd[qmp_at].revents && qmp_pump(&vmm.qmp) < 0)
			close_fd(&vmm.qmp.fd); /* QEMU is on its way out */
		if (pfd[net_at].revents)
			drain_fd(&vmm.net_err_fd, &vmm.net_lb, net_line,
				 CONSOLE_READ_MAX);
		if (pfd[net_at + 1].revents)
			read_net_stats();
		const char *disk_note = diskfull_tick();
		if (disk_note)
			logmsg("%s", disk_note);
		if (pfd[0].revents)
			on_signal();
		drain_ready(pfd[4].revents, pfd[5].revents, pfd[6].revents);
		if (pfd[1].revents) {
			char b[64];
			ssize_t k = read(vmm.watch_fd, b, sizeof(b));
			if (k == 0 ||
			    (k < 0 && errno != EINTR && errno != EAGAIN)) {
				close_fd(&vmm.watch_fd);
				begin_stop(DEFAULT_STOP_MS, "creator gone");
			}
		}
		if (pfd[3].revents & POLLIN)
			accept_clients();
		if (vmm.agent_fd >= 0 && pfd[2].revents & (POLLIN | POLLHUP))
			read_agent();
		if (vmm.agent_fd >= 0 && pfd[2].revents & POLLOUT &&
		    flush(vmm.agent_fd, &vmm.agent_out) < 0)
			close_fd(&vmm.agent_fd);
		for (size_t k = 0; k < nc; k++) {
			size_t i = idx[k];
			struct pollfd *p = &pfd[7 + k];
			if (!vmm.clients[i])
				continue;
			if (p->revents & (POLLIN | POLLHUP | POLLERR)) {
				read_client(i);
				if (!vmm.clients[i])
					continue;
			}
		}
		/* Push out what the guest produced for clients. */
		for (size_t i = 0; i < MAX_CLIENTS; i++) {
			struct client *c = vmm.clients[i];
			if (c && msb_buf_avail(&c->out) &&
			    flush(c->fd, &c->out) < 0)
				drop_client(i);
		}
		if (vmm.agent_fd < 0 && !vmm.qemu_exited) {
			/* Channel closed: QEMU is on its way out. Wait for it,
			 * but not forever. */
			if (!vmm.deadline_us)
				vmm.deadline_us = now_us() + 5000000u;
		}
	}
}

/* MSB_AGENT_TIMEOUT_MS if set to a positive number, else 30 s (the
 * library's default for each answer, see docs/architecture.md). */
static unsigned int agent_timeout_ms(void)
{
	const char *s = getenv("MSB_AGENT_TIMEOUT_MS");
	char *end;

	if (s && *s) {
		errno = 0;
		unsigned long v = strtoul(s, &end, 10);
		if (!errno && !*end && v > 0 && v <= 24ul * 3600 * 1000 &&
		    s[0] != '-')
			return (unsigned int)v;
	}
	return 30000;
}

static void setup_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	vmm.sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (vmm.sig_fd < 0)
		fail(MSB_ESYS, errno, "signalfd: %s", strerror(errno));
}

/*
 * Setup is done (QEMU and helpers run, the socket listens): keep only
 * what relaying needs. Each missing kernel feature is one line in vmm.log.
 */
static void confine_self(bool close_range_ok)
{
	if (!close_range_ok)
		logmsg("jail: close_range(2) unavailable: inherited descriptors were closed one by one");
	if (msb_jail_self() < 0)
		logmsg("jail: cannot drop privileges (%s): msb-vmm keeps them",
		       strerror(errno));
	if (!msb_seccomp_available())
		logmsg("jail: seccomp unavailable in this kernel: msb-vmm runs without a system call filter");
	else if (msb_seccomp_supervisor(vmm.qemu_pid) < 0)
		logmsg("jail: seccomp filter not installed (%s): msb-vmm runs without one",
		       strerror(errno));
	else
		logmsg("jail: msb-vmm: seccomp filter on, no_new_privs%s",
		       geteuid() == 0 ? ", capabilities: kill only" : "");
}

/*
 * Warm templates (template.h, docs/snapshots.md).
 *
 * The template point is "the agent waits for its hello": nothing of this
 * sandbox is in the guest yet. A boot that saves one sends a PING instead
 * of the hello; the PONG says the agent is in its loop. Then QMP stop,
 * migrate into the template's temp file (a descriptor passed over QMP:
 * QEMU opens no path), cont, rename it into place. A boot that restores
 * one starts QEMU with -incoming from the state file, waits for the state
 * to load, conts and pings. Either way the hello follows, as on a cold
 * boot, with this sandbox's identity (entropy, clock, hostname, env,
 * network, mounts).
 *
 * All of it happens before confine_self(): a restore that fails (QEMU
 * exits, no answer in time) is killed and the sandbox boots cold, which
 * needs a new QEMU. The guest runs only our kernel and agent meanwhile:
 * it has not been told anything yet, so it has nothing to act on.
 */
#define TMPL_RESTORE_TIMEOUT_MS 10000
#define TMPL_SAVE_TIMEOUT_MS 60000

/* Why this sandbox cannot use a template, or NULL if it can. */
static const char *template_unusable(void)
{
	const char *env = getenv("MSB_NO_TEMPLATE");

	if (vmm.spec.no_template)
		return "--no-template";
	if (env && *env && strcmp(env, "0"))
		return "MSB_NO_TEMPLATE is set";
	if (!strcmp(vmm.spec.root_format, "dir") ||
	    (vmm.spec.shares && vmm.spec.shares[0]))
		return "shared host directories (virtio-fs) cannot be saved";
	if (vmm.spec.root_direct)
		return "the root disk is booted read-write in place";
	if (!vmm.disk_fresh)
		return "the root disk has earlier writes (a restarted sandbox)";
	return NULL;
}

/* The CPU's model and flags, for a KVM key (-cpu host). */
static void key_cpu(struct tmpl_key *k)
{
	FILE *f = fopen("/proc/cpuinfo", "re");
	char line[4096];
	bool model = false, flags = false;

	while (f && (!model || !flags) && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!model && !strncmp(line, "model name", 10)) {
			tmpl_key_add(k, "cpu_model", "%s", line);
			model = true;
		} else if (!flags && !strncmp(line, "flags", 5)) {
			tmpl_key_add(k, "cpu_flags", "%s", line);
			flags = true;
		}
	}
	if (f)
		fclose(f);
}

/* Everything that shapes the VM's state at the template point. */
static int template_key(struct tmpl_key *k)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	bool kvm = choose_kvm();

	exe[n > 0 ? n : 0] = '\0';
	tmpl_key_add(k, "format", "1");
	tmpl_key_add(k, "msb", "%s", MSB_VERSION_STRING);
	tmpl_key_add(k, "protocol", "%d", MSB_PROTO_VERSION);
	tmpl_key_add_file(k, "msb-vmm", exe);
	tmpl_key_add_file(k, "qemu", vmm.spec.qemu);
	tmpl_key_add_file(k, "kernel", vmm.spec.kernel);
	tmpl_key_add_file(k, "initrd", vmm.spec.initrd);
	for (char **e = vmm.spec.initrd_extras; e && *e; e++)
		tmpl_key_add_file(k, "initrd_extra", *e);
	tmpl_key_add(k, "image", "%s", vmm.spec.image);
	tmpl_key_add_file(k, "rootfs", vmm.spec.rootfs);
	tmpl_key_add(k, "root_format", "%s", vmm.spec.root_format);
	tmpl_key_add(k, "root_size_mib", "%u", vmm.spec.root_size_mib);
	tmpl_key_add(k, "memory_mib", "%u", vmm.spec.memory_mib);
	tmpl_key_add(k, "cpus", "%u", vmm.spec.cpus);
	tmpl_key_add(k, "accel", "%s", kvm ? "kvm" : "tcg");
	if (kvm)
		key_cpu(k);
	else
		tmpl_key_add(k, "tsc_khz", "%lu", msb_host_tsc_khz());
	tmpl_key_add(k, "seccomp", "%d", msb_seccomp_available());
	tmpl_key_add(k, "network", "%s",
		     msb_spec_has_network(&vmm.spec) ? "yes" : "no");
	size_t nd = 0;
	char ro[2 * MAX_DISKS + 1] = "";
	for (char **d = vmm.spec.disks; d && *d && nd < MAX_DISKS; d++, nd++)
		ro[nd] = !strncmp(*d, "ro:", 3) ? 'r' : 'w';
	ro[nd] = '\0';
	tmpl_key_add(k, "volumes", "%zu", nd);
	tmpl_key_add(k, "volume_modes", "%s", ro);
	return tmpl_key_finish(k);
}

/* Decide, before QEMU starts, whether this boot restores or saves. */
static void template_prepare(void)
{
	static struct tmpl_key k;
	char why[PATH_MAX + 128];
	const char *no = template_unusable();

	if (no) {
		logmsg("template: not used (%s)", no);
		return;
	}
	if (template_key(&k) < 0) {
		logmsg("template: not used (its key is too long)");
		return;
	}
	/* Room for the state (at most the guest's RAM) and 512 MiB more. */
	uint64_t need = ((uint64_t)vmm.spec.memory_mib + 512) << 20;
	if (tmpl_open(&vmm.tmpl, vmm.spec.home, &k, need, why, sizeof(why)) < 0)
		logmsg("template %s: not used (%s)", k.id, why);
	else
		logmsg("template %s: %s", k.id, why);
	if (vmm.tmpl.mode == TMPL_RESTORE)
		tmpl_touch(&vmm.tmpl);
}

/*
 * Wait until the agent answers a PING on stream 0, or @deadline (µs),
 * reading the logs meanwhile. Stops early when QEMU exits or a signal or
 * the creator's end wants the main loop (left unread for it).
 * Return: 0 (PONG), -1 (QEMU exited), -2 (timeout), -3 (signal, creator).
 */
static int wait_pong(uint64_t deadline)
{
	struct msb_msg ping = {.type = MSB_MSG_PING};

	if (send_to_agent(0, MSB_F_START | MSB_F_END, &ping) < 0)
		return -2;
	for (;;) {
		struct msb_frame f;
		int r;
		while ((r = msb_frame_next(&f, &vmm.agent_in)) == 1) {
			struct msb_msg m;
			bool pong = f.hdr.stream == 0 &&
				    msb_msg_decode(&m, f.payload,
						   f.payload_len) == 0 &&
				    m.type == MSB_MSG_PONG;
			msb_buf_consume(&vmm.agent_in, msb_frame_size(&f));
			if (pong)
				return 0;
		}
		if (r < 0)
			return -1; /* not our agent: treat as a dead VM */
		int st;
		if (vmm.qemu_exited ||
		    waitpid(vmm.qemu_pid, &st, WNOHANG) == vmm.qemu_pid) {
			if (!vmm.qemu_exited)
				vmm.qemu_status = st;
			vmm.qemu_exited = true;
			return -1;
		}
		uint64_t now = now_us();
		if (now >= deadline)
			return -2;
		struct pollfd p[7] = {
			{.fd = vmm.agent_fd,
			 .events =
				 POLLIN |
				 (msb_buf_avail(&vmm.agent_out) ? POLLOUT : 0)},
			{.fd = vmm.console_fd, .events = POLLIN},
			{.fd = vmm.stderr_fd, .events = POLLIN},
			{.fd = vmm.qemu_err_fd, .events = POLLIN},
			{.fd = vmm.qmp.fd, .events = POLLIN},
			{.fd = vmm.sig_fd, .events = POLLIN},
			{.fd = vmm.watch_fd, .events = POLLIN},
		};
		/* SIGCHLD is on the signalfd: look at QEMU every 50 ms. */
		uint64_t ms = (deadline - now) / 1000 + 1;
		if (poll(p, 7, ms > 50 ? 50 : (int)ms) < 0 && errno != EINTR)
			return -2;
		if (p[0].revents & POLLOUT &&
		    flush(vmm.agent_fd, &vmm.agent_out) < 0)
			return -1;
		if (p[0].revents & (POLLIN | POLLHUP)) {
			if (fill(vmm.agent_fd, &vmm.agent_in) <= 0 &&
			    !msb_buf_avail(&vmm.agent_in))
				return -1;
		}
		drain_ready(p[1].revents, p[2].revents, p[3].revents);
		if (p[4].revents && qmp_pump(&vmm.qmp) < 0)
			close_fd(&vmm.qmp.fd);
		if (p[6].revents) {
			char b[64];
			ssize_t k = read(vmm.watch_fd, b, sizeof(b));
			if (k == 0 ||
			    (k < 0 && errno != EINTR && errno != EAGAIN)) {
				close_fd(&vmm.watch_fd);
				begin_stop(DEFAULT_STOP_MS, "creator gone");
				return -3;
			}
		}
		if (p[5].revents) {
			on_signal(); /* reaps QEMU; a stop signal kills it */
			if (vmm.state == STOPPING)
				return -3;
			if (vmm.qemu_exited)
				return -1;
		}
	}
}

/* A QMP command; false (the reason in @err) if it failed. */
static bool qmp_do(const char *line, int fd, int timeout_ms, char *err,
		   size_t errlen)
{
	json_t *r = qmp_call(&vmm.qmp, line, fd, timeout_ms, err, errlen);

	json_decref(r);
	return r != NULL;
}

/*
 * Poll @cmd (query-status, query-migrate) until its "status" is one of
 * @done (NULL-terminated), another of @bad, or @deadline. Return: the index
 * in @done, or -1 with @err set.
 */
static int qmp_wait_status(const char *cmd, const char *const *done,
			   const char *const *bad, uint64_t deadline, char *err,
			   size_t errlen)
{
	char line[64];

	snprintf(line, sizeof(line), "{\"execute\":\"%s\"}", cmd);
	for (;;) {
		uint64_t now = now_us();
		if (now >= deadline) {
			snprintf(err, errlen, "%s: not done in time", cmd);
			return -1;
		}
		json_t *r = qmp_call(&vmm.qmp, line, -1,
				     (int)((deadline - now) / 1000) + 1, err,
				     errlen);
		if (!r)
			return -1;
		const char *st = json_string_value(json_object_get(
			json_object_get(r, "return"), "status"));
		char s[64];
		snprintf(s, sizeof(s), "%s", st ? st : "");
		const char *desc = json_string_value(json_object_get(
			json_object_get(r, "return"), "error-desc"));
		if (desc)
			snprintf(err, errlen, "%s: %.200s", s, desc);
		else
			snprintf(err, errlen, "%s: %s", cmd, s);
		json_decref(r);
		for (size_t i = 0; done[i]; i++)
			if (!strcmp(s, done[i]))
				return (int)i;
		for (size_t i = 0; bad[i]; i++)
			if (!strcmp(s, bad[i]))
				return -1;
		struct timespec ts = {0, 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

/* The agent waits for its hello: save the VM's state as the template. */
static void template_save(void)
{
	char err[512];
	uint64_t t0 = now_us();

	bool ok = save_vm_state(vmm.tmpl.fd, "msb-template",
				t0 + TMPL_SAVE_TIMEOUT_MS * 1000ull, err,
				sizeof(err));
	struct stat st;
	off_t size = fstat(vmm.tmpl.fd, &st) == 0 ? st.st_size : 0;
	if (ok && tmpl_commit(&vmm.tmpl, err, sizeof(err)) == 0)
		logmsg("template %s: saved (%lld MiB in %" PRIu64 " ms)",
		       vmm.tmpl.id, (long long)(size >> 20),
		       (now_us() - t0) / 1000);
	else
		logmsg("template %s: not saved (%s)", vmm.tmpl.id, err);
	tmpl_close(&vmm.tmpl);
	char cerr[256];
	/* Stopped or not (a failed stop): it must run now. */
	if (!qmp_do("{\"execute\":\"cont\"}", -1, 5000, cerr, sizeof(cerr)))
		logmsg("template: cont: %s", cerr);
	size_t removed;
	uint64_t left = tmpl_prune(vmm.spec.home, tmpl_max_bytes(), vmm.tmpl.id,
				   &removed);
	if (removed)
		logmsg("template: %zu least recently used removed "
		       "(MSB_TEMPLATE_MAX_MB; %llu MiB kept)",
		       removed, (unsigned long long)(left >> 20));
}

/* Restored QEMU: wait for the state to load, run it, ping the agent.
 * Return: 0, or -1 with @err set (and whether the state is to blame). */
static int template_restore(char *err, size_t errlen, bool *corrupt)
{
	uint64_t deadline = vmm.start_us + TMPL_RESTORE_TIMEOUT_MS * 1000ull;
	static const char *const loaded[] = {"paused", "running", NULL};
	static const char *const bad[] = {"internal-error", "shutdown",
					  "guest-panicked", NULL};

	*corrupt = false;
	if (qmp_wait_status("query-status", loaded, bad, deadline, err,
			    errlen) < 0 ||
	    !qmp_do("{\"execute\":\"cont\"}", -1, 5000, err, errlen)) {
		/* QEMU exits when the stream does not load (its QMP closes
		 * first: give it a moment). */
		for (int i = 0; i < 50 && !vmm.qemu_exited; i++) {
			if (waitpid(vmm.qemu_pid, &vmm.qemu_status, WNOHANG) ==
			    vmm.qemu_pid)
				vmm.qemu_exited = true;
			else
				nanosleep(&(struct timespec){0, 10000000},
					  NULL);
		}
		*corrupt = vmm.qemu_exited;
		if (*corrupt)
			describe_qemu_end(err, errlen);
		return -1;
	}
	switch (wait_pong(deadline)) {
	case 0:
		return 0;
	case -1:
		*corrupt = true;
		describe_qemu_end(err, errlen);
		return -1;
	case -3:
		return 0; /* the main loop stops it */
	default:
		snprintf(err, errlen, "the agent did not answer within %d ms",
			 TMPL_RESTORE_TIMEOUT_MS);
		return -1;
	}
}

/* Undo a QEMU that was to restore a template or a suspended state, and
 * boot cold instead (@new_disk: on a new overlay). */
static void boot_cold_again(bool new_disk)
{
	kill_qemu();
	reap_qemu_blocking();
	drain_logs();
	close_fd(&vmm.agent_fd);
	close_fd(&vmm.console_fd);
	close_fd(&vmm.qemu_err_fd);
	close_fd(&vmm.qmp.fd);
	msb_buf_free(&vmm.qmp.in);
	vmm.qmp = (struct qmp){.fd = -1};
	msb_buf_free(&vmm.agent_in);
	msb_buf_free(&vmm.agent_out);
	vmm.agent_in = vmm.agent_out = (struct msb_buf){0};
	vmm.qemu_exited = false;
	vmm.qemu_status = 0;
	vmm.qemu_pid = 0;
	/* A failure of the cold boot quotes its own QEMU, not this one. */
	memset(&vmm.qemu_tail, 0, sizeof(vmm.qemu_tail));
	tmpl_close(&vmm.tmpl);
	if (!new_disk) {
		spawn_qemu();
		return;
	}
	/* What the first QEMU's guest may have done to the overlay (it was
	 * told nothing, so nothing): gone with it all the same. */
	if (unlink(vmm.disk) < 0 && errno != ENOENT)
		fail(MSB_ESYS, errno, "unlink `%s`: %s", vmm.disk,
		     strerror(errno));
	create_disk();
	spawn_qemu();
}

/*
 * A start (or resume) of a suspended sandbox (suspend.h): restore its saved
 * state if it matches this VM, before QEMU starts. Resume insists (an
 * error that says `msb start` boots cold); start boots cold instead, and
 * removes the state.
 */
static void suspend_prepare(void)
{
	bool resume = !strcmp(vmm.spec.mode, "resume");
	const char *dir = vmm.spec.sandbox_dir;
	char why[PATH_MAX + 256];
	static char buf[SUSP_PENDING_MAX];

	if (!susp_exists(dir)) {
		if (resume)
			fail(MSB_ESTATE, 0,
			     "sandbox `%s` has no saved state to resume: "
			     "start it with `msb start %s`",
			     vmm.spec.name, vmm.spec.name);
		return;
	}
	int fd = -1;
	if (!vmm.vm_key_ok)
		snprintf(why, sizeof(why), "its VM description is too long");
	else
		fd = susp_open(dir, vmm.vm_key.text, vmm.vm_key.len, why,
			       sizeof(why));
	if (fd >= 0) {
		char saved[2048], now[2048];
		long n = susp_read(dir, "vmm", vmm.susp_vmm,
				   sizeof(vmm.susp_vmm) - 1);
		vmm.susp_vmm[n > 0 ? n : 0] = '\0';
		disk_identity(now, sizeof(now));
		if (n <= 0 ||
		    !susp_value(vmm.susp_vmm, "disk", saved, sizeof(saved))) {
			snprintf(why, sizeof(why), "its `vmm` file is missing");
			close_fd(&fd);
		} else if (strcmp(saved, now) &&
			   !susp_value(vmm.susp_vmm, "snapshot", now,
				       sizeof(now))) {
			/* A sandbox made from a snapshot (`snapshot=` in
			 * its vmm file, written by the library) has a new
			 * copy of the snapshot's disk, not the disk the
			 * identity was taken of. */
			snprintf(why, sizeof(why),
				 "its root disk or a volume changed since it "
				 "was suspended");
			close_fd(&fd);
		}
	}
	long in_n = fd >= 0 ? susp_read(dir, "agent_in", buf, sizeof(buf)) : 0;
	if (in_n < 0 || (in_n > 0 && msb_buf_append(&vmm.agent_in, buf,
						    (size_t)in_n) < 0)) {
		snprintf(why, sizeof(why), "its `agent_in` file: %s",
			 strerror(errno));
		close_fd(&fd);
	}
	long out_n =
		fd >= 0 ? susp_read(dir, "agent_out", buf, sizeof(buf)) : 0;
	if (out_n < 0 || (out_n > 0 && msb_buf_append(&vmm.agent_out, buf,
						      (size_t)out_n) < 0)) {
		snprintf(why, sizeof(why), "its `agent_out` file: %s",
			 strerror(errno));
		close_fd(&fd);
	}
	if (fd < 0) {
		msb_buf_reset(&vmm.agent_in);
		msb_buf_reset(&vmm.agent_out);
		if (resume) {
			vmm.keep_suspended = true;
			fail(MSB_ESTATE, 0,
			     "sandbox `%s`: its saved state cannot be "
			     "restored (%s): `msb start %s` boots it cold, "
			     "without its processes",
			     vmm.spec.name, why, vmm.spec.name);
		}
		logmsg("suspended state not restored (%s): booting cold; "
		       "the state is removed",
		       why);
		susp_remove(dir);
		return;
	}
	vmm.tmpl = (struct tmpl)TMPL_INIT;
	vmm.tmpl.mode = TMPL_RESTORE;
	vmm.tmpl.fd = fd;
	snprintf(vmm.tmpl.id, sizeof(vmm.tmpl.id), "suspended");
	vmm.resuming = true;
	/* Until the state is loaded, a failure leaves it as it was. */
	vmm.keep_suspended = true;
	logmsg("resuming its suspended state");
}

/* The restoring QEMU has started: wait for the state to load, forget the
 * state (the disk changes from now on), run the VM. */
static void resume_phase(void)
{
	static const char *const loaded[] = {"paused", "running", NULL};
	static const char *const bad[] = {"internal-error", "shutdown",
					  "guest-panicked", NULL};
	uint64_t deadline =
		vmm.start_us + (uint64_t)vmm.spec.boot_timeout_ms * 1000u;
	char err[768];

	if (qmp_wait_status("query-status", loaded, bad, deadline, err,
			    sizeof(err)) < 0) {
		for (int i = 0; i < 50 && !vmm.qemu_exited; i++) {
			if (waitpid(vmm.qemu_pid, &vmm.qemu_status, WNOHANG) ==
			    vmm.qemu_pid)
				vmm.qemu_exited = true;
			else
				nanosleep(&(struct timespec){0, 10000000},
					  NULL);
		}
		if (vmm.qemu_exited)
			describe_qemu_end(err, sizeof(err));
		if (!strcmp(vmm.spec.mode, "resume")) {
			vmm.keep_suspended = true;
			fail(MSB_ESTATE, 0,
			     "sandbox `%s`: its saved state did not load "
			     "(%s): `msb start %s` boots it cold, without its "
			     "processes",
			     vmm.spec.name, err, vmm.spec.name);
		}
		logmsg("suspended state did not load (%s): booting cold; the "
		       "state is removed",
		       err);
		susp_remove(vmm.spec.sandbox_dir);
		vmm.resuming = vmm.keep_suspended = false;
		msb_buf_reset(&vmm.agent_in);
		msb_buf_reset(&vmm.agent_out);
		boot_cold_again(false);
		return;
	}
	if (susp_remove(vmm.spec.sandbox_dir) < 0)
		fail(MSB_ESYS, errno, "remove the saved state of `%s`: %s",
		     vmm.spec.name, strerror(errno));
	vmm.keep_suspended = false;
	tmpl_close(&vmm.tmpl);
	if (!qmp_do("{\"execute\":\"cont\"}", -1, 5000, err, sizeof(err)))
		fail(MSB_ESYS, 0, "resume `%s`: %s", vmm.spec.name, err);
	logmsg("state loaded and running after %" PRIu64 " ms",
	       (now_us() - vmm.start_us) / 1000);
}

/* A restored sandbox is ready as it is (no hello: its agent has had its
 * own): take up the supervisor's state where the suspend left it. */
static void resumed_ready(void)
{
	uint64_t boot_us = now_us() - vmm.start_us;
	char v[64];
	const char *t = vmm.susp_vmm;

	/* running in the row before ready is heard, as in on_ready() */
	state_status("running", getpid());
	status("R {\"boot_us\":%" PRIu64 ",\"resumed\":true}", boot_us);
	close_fd(&vmm.status_fd);
	if (susp_value(t, "next_guest_id", v, sizeof(v)))
		vmm.relay.next_guest_id = (uint32_t)strtoul(v, NULL, 10);
	if (!vmm.relay.next_guest_id)
		vmm.relay.next_guest_id = 1;
	if (vmm.wl.enabled) {
		bool running = susp_value(t, "main_running", v, sizeof(v)) &&
			       !strcmp(v, "1");
		vmm.wl.running = running;
		vmm.wl.restart_at_us = 0;
		if (susp_value(t, "main_pid", v, sizeof(v)))
			vmm.wl.pid = strtoll(v, NULL, 10);
		if (susp_value(t, "main_restarts", v, sizeof(v)))
			vmm.wl.restarts = (unsigned)strtoul(v, NULL, 10);
		if (susp_value(t, "main_code", v, sizeof(v)))
			vmm.wl.code = (int)strtol(v, NULL, 10);
		if (susp_value(t, "main_stdin_open", v, sizeof(v)))
			vmm.wl.stdin_open = !strcmp(v, "1");
		if (susp_value(t, "main_in_credit", v, sizeof(v)))
			vmm.wl.in_credit = strtoull(v, NULL, 10);
		if (susp_value(t, "main_owed", v, sizeof(v)))
			vmm.wl.owed = strtoull(v, NULL, 10);
		if (!running && susp_value(t, "main_due", v, sizeof(v)) &&
		    !strcmp(v, "1"))
			vmm.wl.restart_at_us = 1; /* due now */
		vmm.wl.started_us = now_us();
	}
	vmm.state = RUNNING;
	vmm.ready_us = vmm.activity_us = now_us();
	vmm.deadline_us = 0;
	relay_watch_heard(&vmm.watch, vmm.ready_us);
	/* A sandbox made from a snapshot (a fork child) is not the source:
	 * it gets its own hostname, as its cold boot would have. */
	send_identity_ping(susp_value(t, "snapshot", v, sizeof(v)) != NULL);
	end_orphans(t);
	logmsg("resumed after %" PRIu64 " ms", boot_us / 1000);
}

/* After spawn_qemu(): take or restore the template, if there is one. */
static void template_phase(void)
{
	char err[768];
	bool corrupt;

	if (vmm.resuming) {
		resume_phase();
		close_fd(&vmm.net_link_fd);
		return;
	}

	if (vmm.tmpl.mode == TMPL_RESTORE) {
		if (template_restore(err, sizeof(err), &corrupt) == 0) {
			logmsg("template %s: restored in %" PRIu64 " ms",
			       vmm.tmpl.id, (now_us() - vmm.start_us) / 1000);
			tmpl_close(&vmm.tmpl);
		} else {
			logmsg("template %s: restore failed (%s): booting cold%s",
			       vmm.tmpl.id, err,
			       corrupt ? "; the template is removed" : "");
			if (corrupt)
				tmpl_remove(vmm.spec.home, vmm.tmpl.id);
			boot_cold_again(true);
		}
		close_fd(&vmm.net_link_fd);
		return;
	}
	close_fd(&vmm.net_link_fd);
	if (vmm.tmpl.mode != TMPL_SAVE)
		return;
	int r = wait_pong(vmm.start_us +
			  (uint64_t)vmm.spec.boot_timeout_ms * 1000u);
	if (r == 0) {
		template_save();
		return;
	}
	/* The boot itself failed or was interrupted: the main loop says
	 * so, as without templates. */
	logmsg("template %s: not saved (%s)", vmm.tmpl.id,
	       r == -1   ? "the VM stopped during boot"
	       : r == -2 ? "the agent did not answer in time"
			 : "interrupted");
	tmpl_close(&vmm.tmpl);
}

static void read_spec(void)
{
	struct msb_buf b = {0};
	char err[256];

	for (;;) {
		if (msb_buf_reserve(&b, 4096) < 0)
			fail(MSB_ENOMEM, ENOMEM, "out of memory");
		ssize_t n =
			read(MSB_VMM_FD_SPEC, b.data + b.len, b.cap - b.len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fail(MSB_ESYS, errno, "read spec: %s", strerror(errno));
		if (n == 0)
			break;
		b.len += (size_t)n;
		if (b.len > (1u << 20))
			fail(MSB_EINVAL, 0, "spec too large");
	}
	close(MSB_VMM_FD_SPEC);
	if (msb_spec_from_json(&vmm.spec, (const char *)b.data, b.len, err,
			       sizeof(err)) < 0)
		fail(MSB_EINVAL, 0, "%s", err);
	msb_buf_free(&b);
}

int main(int argc, char **argv)
{
	if (argc > 1 &&
	    (!strcmp(argv[1], "--help") || !strcmp(argv[1], "--version"))) {
		printf("msb-vmm %s: the microsandbox supervisor; started by "
		       "libmicrosandbox, not by hand\n",
		       MSB_VERSION_STRING);
		return 0;
	}
	if (fcntl(MSB_VMM_FD_SPEC, F_GETFD) < 0 ||
	    fcntl(MSB_VMM_FD_CLIENT, F_GETFD) < 0) {
		fprintf(stderr, "msb-vmm: started without its descriptors; "
				"it is run by libmicrosandbox\n");
		return 2;
	}
	/* No core dump, from the start: the supervisor reads the sandbox's
	 * CA key and secrets before it confines itself, and its working
	 * folder is the caller's. */
	struct rlimit nocore = {0, 0};
	setrlimit(RLIMIT_CORE, &nocore);
	/* Start clean: the caller's other descriptors are not ours. */
	bool close_range_ok = msb_jail_clean_fds(MSB_VMM_FD_WATCH) == 0;
	for (int fd = MSB_VMM_FD_SPEC; fd <= MSB_VMM_FD_WATCH; fd++)
		fcntl(fd, F_SETFD, FD_CLOEXEC);
	/* Detached: leave the creator's process tree (it reaps the parent at
	 * once); the sandbox outlives it. */
	if (argc > 1 && !strcmp(argv[1], "--detach")) {
		pid_t child = fork();
		if (child < 0)
			return 1;
		if (child > 0)
			_exit(0);
	}
	set_nonblock(vmm.watch_fd, 1);

	vmm.relay.ops = &relay_ops;
	setup_signals();
	read_spec();
	vmm.watch.timeout_us = (uint64_t)agent_timeout_ms() * 1000u;
	state_open(vmm.spec.home, vmm.spec.name);
	if (vmm.spec.detached)
		close_fd(&vmm.watch_fd);
	setup_dir();
	state_status("starting", getpid());
	state_run_begin(getpid());
	workload_init(&vmm.wl, &vmm.spec, vmm.log_dir);
	listen_agent();
	logmsg("sandbox `%s`: %u vCPU, %u MiB", vmm.spec.name, vmm.spec.cpus,
	       vmm.spec.memory_mib);
	if (strcmp(vmm.spec.root_format, "dir"))
		create_disk(); /* else the root is a shared directory */
	/* What a suspend saves and a resume checks (made now: the seccomp
	 * filter forbids what it reads). */
	vmm.vm_key_ok = template_key(&vmm.vm_key) == 0;
	if (strcmp(vmm.spec.mode, "create"))
		suspend_prepare();
	if (!vmm.resuming)
		template_prepare();
	spawn_qemu();
	template_phase();
	watch_disk_space();
	if (!add_client(MSB_VMM_FD_CLIENT))
		fail(MSB_ENOMEM, ENOMEM, "out of memory");
	confine_self(close_range_ok);
	if (vmm.resuming) {
		resumed_ready();
	} else {
		send_hello();
		/* From QEMU's start: a boot that saved a template has spent
		 * part of it already. */
		vmm.deadline_us = vmm.start_us +
				  (uint64_t)vmm.spec.boot_timeout_ms * 1000u;
	}

	loop();

	reap_qemu_blocking();
	drain_logs();
	char reason[1536];
	snprintf(reason, sizeof(reason), "stopped (%s)",
		 vmm.stop_reason[0] ? vmm.stop_reason : "requested");
	if (vmm.state != STOPPING)
		vm_died(reason, sizeof(reason));
	else if (!vmm.suspended)
		logmsg("stopped");
	for (size_t i = 0; i < MAX_CLIENTS; i++)
		if (vmm.clients[i])
			drop_client(i);
	close_fd(&vmm.listen_fd);
	/* Clean up first: once the state says stopped, nothing is left.
	 * An ephemeral sandbox's row goes before its folder: whoever finds
	 * the folder (its lock) gone takes the sandbox for ended (msb stop,
	 * msb ls), and must not find its row still there. */
	if (vmm.spec.ephemeral) {
		state_delete();
		cleanup_dir(true);
	} else {
		cleanup_dir(false);
		state_run_end(reason);
		state_status(vmm.suspended           ? "suspended"
			     : vmm.state == STOPPING ? "stopped"
						     : "crashed",
			     0);
	}
	workload_close(&vmm.wl);
	state_close();
	return 0;
}
