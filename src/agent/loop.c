// SPDX-License-Identifier: Apache-2.0
/*
 * msb-agent: the event loop, frames in and out of the agent port.
 *
 * DOC: Theory of operation
 *
 * One thread, one poll() over the port, a signalfd (SIGCHLD, SIGIO) and
 * the stdout/stderr pipes of every running process. File reads and
 * directory listings (fs.c) are always ready: while one is going on the
 * poll() does not wait, and each pass serves them a piece each after the
 * pipes.
 *
 * Output: every frame for the host is appended to one queue (a->out) and
 * written without blocking when the port is writable, so frames of a
 * stream stay in order and nothing is dropped.
 *
 * Flow control (proto.h, MSB_WINDOW): a process's pipes are read only
 * while the host has credit for that stream's output, and a file only
 * while its reader has credit; stdin written to a process and file data
 * written to disk are credited back to the host. So the port is always
 * read (credits, signals and new requests are never stuck behind data),
 * and a stream whose consumer is slow stalls only itself: its process
 * blocks on a full pipe. On top of that, when the out queue holds more
 * than AGENT_OUT_HIGH bytes the loop stops reading pipes and files until
 * it drains below AGENT_OUT_LOW, and above AGENT_OUT_HARD (a host that
 * sends requests without reading the answers) it stops reading the port.
 *
 * Input: bytes from the port are collected in a->in and cut into frames.
 * A bad payload is answered with an error frame; a bad length field
 * cannot be resynchronised, so the buffered input is thrown away.
 *
 * While the host side is disconnected, virtio_console makes read() return
 * 0 and poll() report POLLHUP at once. The loop then leaves the port out
 * for AGENT_PORT_BACKOFF_MS, or until SIGIO says the host connected.
 *
 * Error replies carry END unless the stream is still running a process or
 * a file operation: an error about one frame (stdin, signal, data) must
 * not end a live stream.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/random.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "net.h"
#include "mount.h"
#include "proto/cbor.h"

#define PORT_READ_CHUNK (64u << 10)

/*
 * agent_text_fix() - make @s valid UTF-8 in place, as text on the wire
 * must be: a byte that does not start a valid sequence becomes '?'. For
 * messages that quote file names or were cut short.
 */
void agent_text_fix(char *s)
{
	uint8_t *p = (uint8_t *)s;

	while (*p) {
		size_t n = *p < 0x80 ? 1 : *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : 2;

		if (strnlen((char *)p, n) < n || !cbor_utf8_valid(p, n))
			*p = '?', n = 1;
		p += n;
	}
}

void agent_send(struct agent *a, uint32_t stream, uint8_t flags,
		const struct msb_msg *m)
{
	if (msb_frame_encode(&a->out, stream, flags, m) < 0)
		agent_log("encode %s frame for stream %u: %m",
			  msb_msg_type_name(m->type), stream);
}

void agent_grant(struct agent *a, uint32_t stream, uint64_t *owed, uint64_t n)
{
	struct msb_msg m;

	if (msb_credit_due(owed, n, &m))
		agent_send(a, stream, 0, &m);
}

/*
 * agent_error() - queue an ERROR frame on @stream.
 * @end: set MSB_F_END (the stream is over, or never started)
 * @err: errno value to send, 0 for none
 */
void agent_error(struct agent *a, uint32_t stream, bool end, int err,
		 const char *fmt, ...)
{
	struct msb_msg m = {
		.type = MSB_MSG_ERROR,
		.has = MSB_HAS(MSB_FLD_MSG),
	};
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	agent_text_fix(msg); /* cut short, maybe within a character */
	m.msg = msb_str(msg);
	if (err) {
		m.has |= MSB_HAS(MSB_FLD_ERRNO);
		m.err = err;
	}
	agent_send(a, stream, end ? MSB_F_END : 0, &m);
}

static void port_down(struct agent *a)
{
	if (a->port_up && msb_buf_avail(&a->in))
		agent_log(
			"host disconnected: dropping %zu bytes of a partial frame",
			msb_buf_avail(&a->in));
	a->port_up = false;
	a->port_retry = now_ms() + AGENT_PORT_BACKOFF_MS;
	/* A new connection starts on a frame boundary. */
	msb_buf_reset(&a->in);
}

/* agent_flush() - write as much of the out queue as the port takes. */
void agent_flush(struct agent *a)
{
	while (a->port_up && msb_buf_avail(&a->out)) {
		ssize_t n = write(a->port, msb_buf_head(&a->out),
				  msb_buf_avail(&a->out));

		if (n > 0) {
			msb_buf_consume(&a->out, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN) {
			agent_log("write agent port: %m");
			port_down(a);
		}
		break;
	}
}

/* Whether @stream has a process or a file operation still going on. */
static bool live(struct agent *a, uint32_t stream)
{
	return stream != 0 && (proc_find(a, stream) || fs_find(a, stream));
}

static bool is_fs_request(enum msb_msg_type t)
{
	return t >= MSB_MSG_FS_STAT && t <= MSB_MSG_FS_SYMLINK;
}

static void send_ready(struct agent *a, uint32_t stream)
{
	uint64_t now = boot_us();
	struct msb_msg m = {
		.type = MSB_MSG_READY,
		.has = MSB_HAS(MSB_FLD_VERSION) | MSB_HAS(MSB_FLD_UPTIME) |
		       MSB_HAS(MSB_FLD_AGENT) | MSB_HAS(MSB_FLD_MODULES) |
		       MSB_HAS(MSB_FLD_MOUNT),
		.version = MSB_PROTO_VERSION,
		.uptime_us = now,
		.agent_us = now - a->t.start,
		.modules_us = a->t.modules,
		.mount_us = a->t.mount,
	};

	agent_send(a, stream, 0, &m);
	agent_log(
		"ready %llu ms after boot (agent %llu ms, modules %llu ms, root %llu ms)",
		(unsigned long long)(now / 1000u),
		(unsigned long long)((now - a->t.start) / 1000u),
		(unsigned long long)(a->t.modules / 1000u),
		(unsigned long long)(a->t.mount / 1000u));
}

/*
 * Check and duplicate the optional string fields of a hello. Return 0, or
 * -1 after replying ERROR.
 */
static int hello_strings(struct agent *a, uint32_t stream,
			 const struct msb_msg *m, char **root, char **fstype,
			 char **host, char ***env)
{
	if (!(m->has & MSB_HAS(MSB_FLD_ROOT))) {
		agent_error(a, stream, true, EINVAL,
			    "hello: `root` is missing");
		return -1;
	}
	*root = msb_bytes_dup(m->root);
	if (!*root || !**root) {
		agent_error(a, stream, true, EINVAL, "hello: bad `root`");
		return -1;
	}
	if (m->has & MSB_HAS(MSB_FLD_FSTYPE)) {
		*fstype = msb_bytes_dup(m->fstype);
		if (!*fstype) {
			agent_error(a, stream, true, EINVAL, "hello: bad `fs`");
			return -1;
		}
	}
	if (m->has & MSB_HAS(MSB_FLD_HOSTNAME)) {
		*host = msb_bytes_dup(m->hostname);
		if (!*host || strlen(*host) > 64) {
			agent_error(
				a, stream, true, EINVAL,
				"hello: bad `host` (at most 64 bytes, no NUL)");
			return -1;
		}
	}
	if (m->has & MSB_HAS(MSB_FLD_ENV)) {
		*env = msb_strv_dup(&m->env);
		if (!*env) {
			agent_error(a, stream, true, EINVAL,
				    "hello: bad `env`: %m");
			return -1;
		}
		for (size_t i = 0; (*env)[i]; i++) {
			const char *eq = strchr((*env)[i], '=');

			if (!eq || eq == (*env)[i]) {
				agent_error(a, stream, true, EINVAL,
					    "hello: `env` entry %zu is not K=V",
					    i);
				return -1;
			}
		}
	}
	return 0;
}

/* Whether a hello has a mount of kind @prefix ("vol:"). */
static bool wants_mount(const struct msb_msg *m, const char *prefix)
{
	struct msb_bytes s;
	size_t it = 0, n = strlen(prefix);

	while (m->has & MSB_HAS(MSB_FLD_MOUNTS) &&
	       msb_strv_next(&m->mounts, &it, &s))
		if (s.n > n && !memcmp(s.p, prefix, n))
			return true;
	return false;
}

/* The mounts of a hello, in order (checked by agent_request_check()). */
static int apply_mounts(const struct msb_msg *m, char *err, size_t errlen)
{
	static struct agent_mount mnt;
	struct msb_bytes s;
	size_t it = 0;

	if (!(m->has & MSB_HAS(MSB_FLD_MOUNTS)))
		return 0;
	while (msb_strv_next(&m->mounts, &it, &s)) {
		if (agent_mount_parse(&mnt, (const char *)s.p, s.n, err,
				      errlen) < 0 ||
		    agent_mount_apply(&mnt, err, errlen) < 0)
			return -1;
	}
	return 0;
}

/*
 * add_entropy() - mix the host's bytes into the kernel's pool, credit them,
 * and reseed the CRNG from it now. A sandbox restored from a template
 * (docs/snapshots.md) starts with the template's RNG state, shared by
 * every clone: after this, /dev/urandom and getrandom() differ between
 * them. The virtio-rng device would reseed it too, but later.
 */
static void add_entropy(struct msb_bytes e)
{
	struct {
		struct rand_pool_info info;
		uint8_t buf[MSB_HELLO_ENTROPY_MAX];
	} req;

	if (!e.n || e.n > sizeof(req.buf))
		return;
	int fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		agent_log("open /dev/urandom: %m");
		return;
	}
	req.info.entropy_count = (int)(e.n * 8);
	req.info.buf_size = (int)e.n;
	memcpy(req.buf, e.p, e.n);
	if (ioctl(fd, RNDADDENTROPY, &req) < 0)
		agent_log("RNDADDENTROPY: %m");
	else if (ioctl(fd, RNDRESEEDCRNG) < 0)
		agent_log("RNDRESEEDCRNG: %m");
	explicit_bzero(&req, sizeof(req));
	close(fd);
}

/*
 * Clock sync (docs/snapshots.md, "Clock"). The host sends its wall clock on
 * a hello, on the ping after a restore, on its liveness pings and on a
 * ping ahead of each exec request, so a command always starts with the
 * host's time, however far the guest's clock went (a restore, a paused VM,
 * TCG under load, a command that set it). An offset of AGENT_CLOCK_STEP_NS
 * or more is stepped; a smaller one is slewed (adjtime()), so that the
 * clock does not jump, backwards in particular, by the time the message
 * took to arrive. Under AGENT_CLOCK_SLEW_MIN_NS it is left alone: that is
 * the message's own latency.
 */
#define AGENT_CLOCK_STEP_NS 250000000ll    /* 250 ms */
#define AGENT_CLOCK_SLEW_MIN_NS 10000000ll /* 10 ms */

/*
 * sync_clock() - bring CLOCK_REALTIME to the host's @host_ns: step it when
 * @step or when off by AGENT_CLOCK_STEP_NS or more, else slew it.
 */
static void sync_clock(uint64_t host_ns, bool step)
{
	struct timespec now;
	struct timeval zero = {0}, delta;

	if (host_ns > (uint64_t)INT64_MAX)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	int64_t guest = (int64_t)now.tv_sec * 1000000000ll + now.tv_nsec;
	int64_t off = (int64_t)host_ns - guest;
	int64_t mag = off < 0 ? -off : off;
	if (step || mag >= AGENT_CLOCK_STEP_NS) {
		struct timespec ts = {
			.tv_sec = (time_t)(host_ns / 1000000000u),
			.tv_nsec = (long)(host_ns % 1000000000u),
		};
		/* A slew still going would pull it off again. */
		adjtime(&zero, NULL);
		if (clock_settime(CLOCK_REALTIME, &ts) < 0)
			agent_log("clock_settime CLOCK_REALTIME: %m");
		else if (!step)
			agent_log("clock stepped by %lld ms to the host's",
				  (long long)(off / 1000000));
		return;
	}
	if (mag < AGENT_CLOCK_SLEW_MIN_NS)
		return;
	delta.tv_sec = (time_t)(off / 1000000000ll);
	delta.tv_usec = (suseconds_t)(off % 1000000000ll / 1000);
	if (adjtime(&delta, NULL) < 0)
		agent_log("adjtime: %m");
}

/*
 * set_identity() - reseed the RNG from the host's `entropy` and set the
 * wall clock from its `time`, when @m has them: a hello (@step: the clock
 * is set exactly), or a ping (the clock is synced, sync_clock()).
 */
static void set_identity(const struct msb_msg *m, bool step)
{
	if (m->has & MSB_HAS(MSB_FLD_ENTROPY))
		add_entropy(m->entropy);
	if (m->has & MSB_HAS(MSB_FLD_TIME))
		sync_clock(m->time, step);
}

/*
 * set_hostname() - the hostname of a ping's `host` (a sandbox made from a
 * snapshot or a fork gets its own after the restore, as a cold boot gets
 * it from its hello): sethostname() and /etc/hosts, as handle_hello().
 * Ignored before the hello (that sets it) and when invalid (logged).
 */
static void set_hostname(struct agent *a, const struct msb_msg *m)
{
	_cleanup_free_ char *host = msb_bytes_dup(m->hostname);

	if (a->state != AGENT_READY)
		return;
	if (!host || !*host || strlen(host) > 64) {
		agent_log("ping: bad `host` (1 to 64 bytes, no NUL): ignored");
		return;
	}
	if (sethostname(host, strlen(host)) < 0)
		agent_log("sethostname `%s`: %m", host);
	if (a->etc_ours)
		agent_net_hosts(&a->net, host);
}

/*
 * env_prepend() - @n entries of @first, then those of @rest (may be
 * NULL), as one allocation (pointers and strings), NULL-terminated.
 * Return: it, or NULL (no memory).
 */
static char **env_prepend(char *const *first, size_t n, char *const *rest)
{
	size_t nr = 0, bytes = 0;

	while (rest && rest[nr])
		bytes += strlen(rest[nr++]) + 1;
	for (size_t i = 0; i < n; i++)
		bytes += strlen(first[i]) + 1;
	char **v = malloc((n + nr + 1) * sizeof(char *) + bytes);
	if (!v)
		return NULL;
	char *p = (char *)(v + n + nr + 1);
	for (size_t i = 0; i < n + nr; i++) {
		const char *s = i < n ? first[i] : rest[i - n];
		size_t l = strlen(s) + 1;
		memcpy(p, s, l);
		v[i] = p;
		p += l;
	}
	v[n + nr] = NULL;
	return v;
}

/*
 * handle_hello() - set the clock, switch to the root filesystem, reply
 * READY. On any failure reply ERROR and stay waiting for a hello.
 */
static void handle_hello(struct agent *a, uint32_t stream,
			 const struct msb_msg *m)
{
	_cleanup_free_ char *root = NULL, *fstype = NULL, *host = NULL;
	_cleanup_free_ char **env = NULL;
	char err[512];
	uint64_t t0;

	if (stream != 0) {
		agent_error(a, stream, true, EINVAL,
			    "hello belongs on stream 0");
		return;
	}
	if (a->state == AGENT_READY) {
		agent_error(a, stream, true, EALREADY,
			    "hello: the agent is already initialised");
		return;
	}
	if (!(m->has & MSB_HAS(MSB_FLD_VERSION))) {
		agent_error(a, stream, true, EINVAL, "hello: `v` is missing");
		return;
	}
	if (m->version != MSB_PROTO_VERSION) {
		agent_error(
			a, stream, true, EPROTO,
			"hello: unsupported protocol version %llu (the agent speaks %d)",
			(unsigned long long)m->version, MSB_PROTO_VERSION);
		return;
	}
	if (hello_strings(a, stream, m, &root, &fstype, &host, &env) < 0)
		return;

	set_identity(m, true);

	struct agent_net net = {0};
	if (m->has & MSB_HAS(MSB_FLD_NET) &&
	    agent_net_parse(&net, &m->net, err, sizeof(err)) < 0) {
		agent_error(a, stream, true, EINVAL, "hello: %s", err);
		return;
	}

	t0 = boot_us();
	/* Volume drivers come from the initramfs, so before the switch. */
	if (wants_mount(m, "vol:"))
		init_modules_once(AGENT_VOLUME_MODULES);
	if (wants_mount(m, "bind:") || (fstype && !strcmp(fstype, "virtiofs")))
		init_modules_once(AGENT_VIRTIOFS_MODULES);
	/* So is the network's; a device that cannot be set up leaves the
	 * sandbox without a network, not without its commands. */
	if (net.on) {
		init_modules_once(AGENT_NET_MODULES);
		if (agent_net_up(&net, err, sizeof(err)) < 0)
			agent_log("network: %s", err);
	}
	if (init_switch_root(root, fstype, err, sizeof(err)) < 0) {
		agent_log("%s", err);
		agent_error(a, stream, true, 0, "%s", err);
		return;
	}
	if (agent_grow_root(root, err, sizeof(err)) < 0)
		agent_log("%s", err); /* the disk still works at its size */
	if (apply_mounts(m, err, sizeof(err)) < 0) {
		agent_log("%s", err);
		agent_error(a, stream, true, 0, "%s", err);
		return;
	}
	a->t.mount = boot_us() - t0;
	if (host && sethostname(host, strlen(host)) < 0)
		agent_log("sethostname `%s`: %m", host);
	/* A shared host directory as the root is the user's own: its /etc
	 * is left alone. */
	a->net = net;
	a->etc_ours = !fstype || strcmp(fstype, "virtiofs");
	if (a->etc_ours)
		agent_net_files(&net, host ? host : "localhost");
	/* The sandbox CA (TLS interception): its variables come first, so
	   that the sandbox's own env and an exec's win. */
	char *ca_env[4] = {NULL, NULL, NULL, NULL};
	if (m->has & MSB_HAS(MSB_FLD_CA) &&
	    (!fstype || strcmp(fstype, "virtiofs")))
		agent_ca_install(m->ca.p, m->ca.n, ca_env);
	if (ca_env[0]) {
		char **merged = env_prepend(ca_env, 4, env);
		if (merged) {
			free(env);
			env = merged;
		} else {
			agent_log("TLS CA: out of memory for its variables");
		}
	}
	free(a->env);
	a->env = steal_ptr(&env);
	a->state = AGENT_READY;
	send_ready(a, stream);
}

static void handle_stdin(struct agent *a, uint32_t stream,
			 const struct msb_msg *m, bool end)
{
	if (!live(a, stream)) {
		agent_error(a, stream, true, ESRCH,
			    "stdin: no process on stream %u", stream);
		return;
	}
	struct proc *p = proc_find(a, stream);
	if (p->attach == stream && !(p->attach_flags & MSB_PATTACH_STDIN)) {
		/* Attached for output only: stdin goes nowhere. */
		if (m->has & MSB_HAS(MSB_FLD_DATA))
			agent_grant(a, stream, &p->in_owed, m->data.n);
		return;
	}
	if (p->in_fd < 0 && !p->in_eof && (m->has & MSB_HAS(MSB_FLD_DATA)) &&
	    m->data.n) {
		/* Started without MSB_EXEC_STDIN: stdin is /dev/null. */
		agent_error(a, stream, false, EINVAL,
			    "stdin: the process was started without stdin");
		p->in_eof = true; /* say it once */
		agent_grant(a, stream, &p->in_owed, m->data.n);
		return;
	}
	proc_stdin(a, p, m, end);
}

/* Guest memory from /proc/meminfo: in use (total - available) and total. */
static void send_metrics(struct agent *a, uint32_t stream)
{
	struct msb_msg m = {.type = MSB_MSG_METRICS};
	char line[256];
	unsigned long long total = 0, avail = 0, v;
	FILE *f = fopen("/proc/meminfo", "re");

	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "MemTotal: %llu kB", &v) == 1)
			total = v;
		else if (sscanf(line, "MemAvailable: %llu kB", &v) == 1)
			avail = v;
	}
	if (f)
		fclose(f);
	if (total && avail <= total) {
		m.has = MSB_HAS(MSB_FLD_MEM_USED) | MSB_HAS(MSB_FLD_MEM_TOTAL);
		m.mem_total = total * 1024;
		m.mem_used = (total - avail) * 1024;
	}
	agent_send(a, stream, MSB_F_END, &m);
}

static void handle_frame(struct agent *a, const struct msb_frame *f)
{
	uint32_t id = f->hdr.stream;
	struct msb_msg m;
	const char *name;

	if (msb_msg_decode(&m, f->payload, f->payload_len) < 0) {
		agent_error(a, id, !live(a, id), EINVAL,
			    "malformed payload (%zu bytes)", f->payload_len);
		return;
	}
	name = msb_msg_type_name(m.type);
	{
		char why[320];
		int err;
		if (agent_request_check(&m, f->hdr.flags, why, sizeof(why),
					&err) < 0) {
			agent_text_fix(why);
			agent_error(a, id, !live(a, id), err, "%s: %s",
				    name ? name : "request", why);
			return;
		}
	}
	switch (m.type) {
	case MSB_MSG_HELLO:
		handle_hello(a, id, &m);
		return;
	case MSB_MSG_PING: {
		struct msb_msg pong = {.type = MSB_MSG_PONG};

		if (id == 0) {
			set_identity(&m, false);
			if (m.has & MSB_HAS(MSB_FLD_HOSTNAME))
				set_hostname(a, &m);
		}

		agent_send(a, id, MSB_F_END, &pong);
		return;
	}
	case MSB_MSG_METRICS:
		send_metrics(a, id);
		return;
	case MSB_MSG_SHUTDOWN:
		/* Open files would keep the root from going read-only. */
		fs_close_all(a);
		init_shutdown(a);
		return;
	case MSB_MSG_ERROR:
		/* Never answer an error with an error. */
		agent_log("error from the host on stream %u: %.*s", id,
			  (int)(m.msg.n > 200 ? 200 : m.msg.n),
			  m.msg.p ? (const char *)m.msg.p : "");
		return;
	case MSB_MSG_CREDIT: {
		/* For a stream that has ended meanwhile: nothing to do. */
		struct proc *p = id ? proc_find(a, id) : NULL;
		struct fs_stream *s = id ? fs_find(a, id) : NULL;

		if (p)
			msb_credit_add(&p->out_credit, &m);
		else if (s)
			fs_credit(s, &m);
		return;
	}
	default:
		break;
	}

	if (m.type == MSB_MSG_EXEC || m.type == MSB_MSG_SIGNAL ||
	    m.type == MSB_MSG_STDIN || m.type == MSB_MSG_FS_DATA ||
	    m.type == MSB_MSG_PROC_LIST || m.type == MSB_MSG_PROC_SIGNAL ||
	    m.type == MSB_MSG_PROC_ATTACH || m.type == MSB_MSG_PROC_REMOVE ||
	    m.type == MSB_MSG_RESIZE || is_fs_request(m.type)) {
		if (a->state != AGENT_READY) {
			agent_error(
				a, id, true, EAGAIN,
				"%s: the agent is not ready (send hello first)",
				name);
			return;
		}
	}
	if ((f->hdr.flags & MSB_F_START) && live(a, id)) {
		agent_error(a, id, false, EEXIST,
			    "%s: stream %u is already in use",
			    name ? name : "?", id);
		return;
	}
	if (is_fs_request(m.type)) {
		fs_request(a, id, f->hdr.flags, &m);
		return;
	}
	switch (m.type) {
	case MSB_MSG_EXEC:
		exec_start(a, id, &m);
		return;
	case MSB_MSG_PROC_LIST:
		proc_list(a, id);
		return;
	case MSB_MSG_PROC_SIGNAL:
		proc_signal(a, id, &m);
		return;
	case MSB_MSG_PROC_REMOVE:
		proc_remove(a, id, &m);
		return;
	case MSB_MSG_PROC_ATTACH:
		if (id == 0) {
			agent_error(
				a, id, true, EINVAL,
				"proc_attach: stream 0 is the control stream");
			return;
		}
		proc_attach(a, id, &m);
		return;
	case MSB_MSG_SIGNAL: {
		struct fs_stream *s = id ? fs_find(a, id) : NULL;

		if (s)
			fs_cancel(a, s);
		else
			exec_signal(a, id, &m);
		return;
	}
	case MSB_MSG_STDIN:
		handle_stdin(a, id, &m, f->hdr.flags & MSB_F_END);
		return;
	case MSB_MSG_RESIZE:
		exec_resize(a, id, &m);
		return;
	case MSB_MSG_FS_DATA:
		fs_data(a, id, f->hdr.flags, &m);
		return;
	default:
		agent_error(a, id, !live(a, id), ENOTSUP,
			    "unexpected message `%s` from the host",
			    name ? name : "?");
		return;
	}
}

/* Log a bad length field, at most once a second. */
static void log_desync(size_t dropped)
{
	static uint64_t last;
	static unsigned long suppressed;
	uint64_t now = now_ms();

	if (last && now - last < 1000) {
		suppressed++;
		return;
	}
	agent_log(
		"bad frame length from the host: dropped %zu buffered bytes (%lu similar messages suppressed)",
		dropped, suppressed);
	last = now;
	suppressed = 0;
}

static void process_frames(struct agent *a)
{
	for (;;) {
		struct msb_frame f;
		int r = msb_frame_next(&f, &a->in);

		if (r == 0)
			return;
		if (r < 0) {
			log_desync(msb_buf_avail(&a->in));
			msb_buf_reset(&a->in);
			return;
		}
		handle_frame(a, &f);
		msb_buf_consume(&a->in, msb_frame_size(&f));
		if (msb_buf_avail(&a->out) > AGENT_OUT_HARD)
			return; /* the rest waits for the host to read */
	}
}

/* Read what the port has (bounded), handling complete frames. */
static void port_read(struct agent *a)
{
	size_t total = 0;

	while (a->port_up && total < AGENT_PORT_READ_MAX &&
	       msb_buf_avail(&a->out) <= AGENT_OUT_HARD) {
		ssize_t n;

		if (msb_buf_reserve(&a->in, PORT_READ_CHUNK) < 0) {
			agent_log("read agent port: %m");
			return;
		}
		n = read(a->port, a->in.data + a->in.len, PORT_READ_CHUNK);
		if (n > 0) {
			a->in.len += (size_t)n;
			total += (size_t)n;
			process_frames(a);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0)
			agent_log("read agent port: %m");
		port_down(a);
		return;
	}
}

/* Drain the signalfd; reap on SIGCHLD, look at the port again on SIGIO. */
static void handle_signals(struct agent *a)
{
	struct signalfd_siginfo si;

	while (read(a->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGIO && !a->port_up)
			a->port_retry = 0;
	}
	/* Standard signals coalesce: reap whatever woke us. */
	procs_reap(a);
}

/* What a pollfd of a process pipe belongs to. */
struct pipe_ref {
	struct proc *p;
	bool is_err;
	bool is_in; /* its stdin, waiting to be written */
};

void agent_loop(struct agent *a)
{
	static struct pollfd pfd[2 + 3 * AGENT_MAX_PROCS];
	static struct pipe_ref ref[2 + 3 * AGENT_MAX_PROCS];

	for (;;) {
		size_t avail = msb_buf_avail(&a->out), n = 2;
		uint64_t now = now_ms();
		int timeout = -1, r;

		if (avail > AGENT_OUT_HIGH)
			a->throttled = true;
		else if (avail < AGENT_OUT_LOW)
			a->throttled = false;
		if (!a->port_up && now >= a->port_retry)
			a->port_up = true;
		/* Frames left over when the out queue filled up. */
		if (avail <= AGENT_OUT_HARD && msb_buf_avail(&a->in)) {
			process_frames(a);
			avail = msb_buf_avail(&a->out);
		}

		pfd[0] = (struct pollfd){.fd = a->sigfd, .events = POLLIN};
		pfd[1] = (struct pollfd){.fd = -1};
		if (a->port_up) {
			pfd[1].fd = a->port;
			pfd[1].events = (avail > AGENT_OUT_HARD ? 0 : POLLIN) |
					(avail ? POLLOUT : 0);
		} else {
			timeout = (int)(a->port_retry - now);
		}
		/* Exited commands whose output is draining. */
		r = procs_drain_timeout(a, now);
		if (r >= 0 && (timeout < 0 || r < timeout))
			timeout = r;
		/* Files to read: look at the descriptors, do not wait. */
		if (!a->throttled && fs_pending(a))
			timeout = 0;
		/* Start at a different process each time: fairness when
		 * the out queue fills up within one pass. */
		for (size_t i = 0; !a->throttled && i < a->nprocs; i++) {
			struct proc *p = a->procs[(a->rr + i) % a->nprocs];

			if (!p->detached && !p->out_credit)
				continue; /* the host has not caught up */
			if (p->out_fd >= 0) {
				ref[n] = (struct pipe_ref){p, false, false};
				pfd[n++] =
					(struct pollfd){p->out_fd, POLLIN, 0};
			}
			if (p->err_fd >= 0) {
				ref[n] = (struct pipe_ref){p, true, false};
				pfd[n++] =
					(struct pollfd){p->err_fd, POLLIN, 0};
			}
		}
		/* Stdin waiting for room in a process's pipe. */
		for (size_t i = 0; i < a->nprocs; i++) {
			struct proc *p = a->procs[i];

			if (p->in_fd >= 0 && msb_buf_avail(&p->in_q)) {
				ref[n] = (struct pipe_ref){p, false, true};
				pfd[n++] =
					(struct pollfd){p->in_fd, POLLOUT, 0};
			}
		}

		r = poll(pfd, n, timeout);
		if (r < 0) {
			if (errno != EINTR) {
				agent_log("poll: %m");
				sleep(1);
			}
			continue;
		}

		if (pfd[0].revents)
			handle_signals(a);
		a->rr++;
		for (size_t i = 2; i < n; i++) {
			struct proc *p = ref[i].p;

			if (ref[i].is_in) {
				if (pfd[i].revents)
					proc_write_stdin(a, p);
				continue;
			}
			if (msb_buf_avail(&a->out) > AGENT_OUT_HIGH ||
			    (!p->detached && !p->out_credit))
				continue;
			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			proc_read(a, p, ref[i].is_err ? &p->err_fd : &p->out_fd,
				  ref[i].is_err);
		}
		if (!a->throttled)
			fs_serve(a);
		if (pfd[1].fd >= 0 && pfd[1].revents) {
			short rev = pfd[1].revents;

			if (rev & POLLOUT)
				agent_flush(a);
			if (rev & POLLIN)
				port_read(a);
			else if (rev & (POLLHUP | POLLERR))
				port_down(a);
		}
		procs_finish(a);
		agent_flush(a);
	}
}
