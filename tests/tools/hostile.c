// SPDX-License-Identifier: Apache-2.0
/*
 * hostile: a compromised guest agent, for the integration tests of the
 * host's trust boundary (test_hostile.sh). A static guest binary.
 *
 * DOC: Theory of operation
 *
 * Guest root can take the agent's channel away from PID 1, so the host
 * must treat every byte on it as hostile. This tool does what such an
 * attacker would:
 *
 *  1. it leaves the exec that started it (fork, setsid, fork, standard
 *     descriptors on /dev/null), so the host's exec ends normally; then
 *     waits until that exec's process has been reaped and PID 1 sleeps
 *     in poll() again, its EXITED frame sent;
 *  2. it stops PID 1 (PTRACE_SEIZE + PTRACE_INTERRUPT) and copies its
 *     descriptor of the virtio-serial agent port (pidfd_getfd());
 *  3. it tells the host it holds the channel with an ERROR frame on
 *     stream 0 ("hostile: holding the channel"), which the supervisor
 *     logs in vmm.log: the test waits for that line;
 *  4. it reads the host's requests and answers as MODE says, until its
 *     time (-t) or request (-n) budget is spent, the host stats the path
 *     RELEASE_PATH, or the host disconnects; then it gives the channel
 *     back (PTRACE_DETACH) and says so the same way. A SHUTDOWN from the
 *     host, which PID 1 will never see, powers the guest off.
 *
 * Modes:
 *   list ROOT SPEC...  serve a forged tree at ROOT. SPEC is
 *                      TYPE:MODE:SIZE:NAME (NAME is the rest, any bytes,
 *                      may be empty); TYPE f (file; SIZE may be
 *                      STATED/SENT: the entry says STATED bytes, a read
 *                      sends SENT), d (an empty directory), r (a
 *                      directory listing as ROOT: a cycle), l (a
 *                      symlink; SIZE is its target). Repeated names are
 *                      answered in turn: the k-th stat of a name gets
 *                      its k-th SPEC; a list or read gets the first of
 *                      a fitting type.
 *   frames KIND...     unsolicited frames (oversize: a length field over
 *                      the 4 MiB limit; garbage: bad CBOR; unknown: an
 *                      unknown type; error0: error frames on stream 0),
 *                      then every request answered with a malformed reply
 *                      (garbage CBOR, an unknown type, a wrong type).
 *   flood COUNT        COUNT error frames on stream 0 as fast as the
 *                      port takes them, with newlines and forged log
 *                      lines in their text, and malformed frames.
 *   console BYTES      BYTES of text to the serial console (kernel.log),
 *                      with no channel taken.
 *   stall              never answer (requests are read and dropped).
 *   keepalive          a PING on stream 0 every second.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proto/proto.h"
#include "util/util.h"

#define RELEASE_PATH "/.hostile-release"
#define OUT_HIGH (256u << 10)
#define MAX_SPECS 256
#define MAX_READS 16

enum mode { M_LIST, M_FRAMES, M_FLOOD, M_CONSOLE, M_STALL, M_KEEPALIVE };

struct spec {
	char type; /* f d r l */
	unsigned mode;
	uint64_t size, sent;
	const char *target;
	const char *name;
	unsigned uses;
};

/* A file read being answered: FS_DATA chunks until @left is 0. */
struct reading {
	uint32_t stream;
	uint64_t left;
};

static struct {
	enum mode mode;
	int port;
	bool seized;
	int stop_sig;
	struct msb_buf in, out;
	uint64_t deadline_us;
	unsigned requests, max_requests;
	const char *root;
	struct spec specs[MAX_SPECS];
	size_t nspecs;
	struct reading reads[MAX_READS];
	char **kinds;
	bool release;
} h = {.port = -1, .max_requests = 10000};

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("hostile: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void die(const char *what)
{
	say("%s: %m", what);
	if (h.seized)
		ptrace(PTRACE_DETACH, 1, NULL, (void *)(long)h.stop_sig);
	exit(1);
}

static uint64_t parse_size(const char *s)
{
	char *end;
	uint64_t v = strtoull(s, &end, 10);

	switch (*end) {
	case 'k':
		return v << 10;
	case 'm':
		return v << 20;
	case 'g':
		return v << 30;
	case 't':
		return v << 40;
	default:
		return v;
	}
}

/* --- taking the channel --- */

/* Leave the exec: the host's exec ends once this process exits and the
 * pipes it inherited are closed everywhere. */
static void leave_exec(void)
{
	pid_t top = getpid(), pid = fork();
	int st;

	if (pid < 0)
		die("fork");
	if (pid > 0) {
		waitpid(pid, &st, 0);
		_exit(0);
	}
	if (setsid() < 0)
		die("setsid");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid > 0)
		_exit(0);
	int null = open("/dev/null", O_RDWR);
	int log = open("/tmp/hostile.log", O_WRONLY | O_CREAT | O_APPEND, 0644);
	dup2(null, 0);
	dup2(null, 1);
	dup2(log >= 0 ? log : null, 2);
	if (null > 2)
		close(null);
	if (log > 2)
		close(log);
	/* Wait until the agent has reaped the exec and sent its EXITED:
	 * the process gone, PID 1 asleep in poll() twice in a row. */
	uint64_t until = now_us() + 20000000;
	unsigned idle = 0;
	while (now_us() < until && idle < 3) {
		char buf[512] = "", wchan[64] = "";
		int fd;
		struct timespec ts = {0, 100000000};

		nanosleep(&ts, NULL);
		if (kill(top, 0) == 0 || errno != ESRCH) {
			idle = 0;
			continue;
		}
		fd = open("/proc/1/stat", O_RDONLY);
		if (fd >= 0) {
			ssize_t n = read(fd, buf, sizeof(buf) - 1);
			buf[n > 0 ? n : 0] = '\0';
			close(fd);
		}
		fd = open("/proc/1/wchan", O_RDONLY);
		if (fd >= 0) {
			ssize_t n = read(fd, wchan, sizeof(wchan) - 1);
			wchan[n > 0 ? n : 0] = '\0';
			close(fd);
		}
		char *p = strrchr(buf, ')');
		if (p && p[1] == ' ' && p[2] == 'S' && strstr(wchan, "poll"))
			idle++;
		else
			idle = 0;
	}
}

static void seize(void)
{
	int st;

	if (ptrace(PTRACE_SEIZE, 1, NULL, NULL) < 0)
		die("ptrace seize PID 1");
	h.seized = true;
	if (ptrace(PTRACE_INTERRUPT, 1, NULL, NULL) < 0)
		die("ptrace interrupt PID 1");
	for (;;) {
		if (waitpid(1, &st, __WALL) < 0) {
			if (errno == EINTR)
				continue;
			die("wait for PID 1");
		}
		if (WIFSTOPPED(st))
			break;
	}
	/* A signal-delivery stop holds a signal to give back on detach. */
	h.stop_sig = (st >> 16) == 0 ? WSTOPSIG(st) : 0;
	if (h.stop_sig == SIGTRAP)
		h.stop_sig = 0;
	say("PID 1 stopped");
}

/* Copy PID 1's descriptor of the virtio-serial port. */
static void grab_port(void)
{
	DIR *d = opendir("/proc/1/fd");
	struct dirent *de;
	int target = -1;

	if (!d)
		die("open /proc/1/fd");
	while ((de = readdir(d))) {
		char p[300], link[256];
		ssize_t n;

		snprintf(p, sizeof(p), "/proc/1/fd/%s", de->d_name);
		n = readlink(p, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (!strncmp(link, "/dev/vport", 10)) {
			target = atoi(de->d_name);
			break;
		}
	}
	closedir(d);
	if (target < 0) {
		errno = ENOENT;
		die("find PID 1's agent port");
	}
	int pidfd = (int)syscall(SYS_pidfd_open, 1, 0);
	if (pidfd < 0)
		die("pidfd_open");
	h.port = (int)syscall(SYS_pidfd_getfd, pidfd, target, 0);
	if (h.port < 0)
		die("pidfd_getfd");
	close(pidfd);
	set_nonblock(h.port, 1);
	say("holding PID 1's fd %d", target);
}

/* --- output --- */

static void send_msg(uint32_t stream, uint8_t flags, const struct msb_msg *m)
{
	if (msb_frame_encode(&h.out, stream, flags, m) < 0)
		say("encode a frame: %m");
}

/* A frame with any payload bytes (no CBOR check). */
static void send_raw(uint32_t stream, uint8_t flags, const void *p, size_t n)
{
	uint8_t hdr[MSB_FRAME_HDR];

	msb_frame_put_hdr(hdr, (uint32_t)n, stream, flags);
	msb_buf_append(&h.out, hdr, sizeof(hdr));
	msb_buf_append(&h.out, p, n);
}

static void send_error(uint32_t stream, uint8_t flags, const char *text)
{
	struct msb_msg m = {
		.type = MSB_MSG_ERROR,
		.has = MSB_HAS(MSB_FLD_MSG),
		.msg = msb_str(text),
	};
	send_msg(stream, flags, &m);
}

/* Write what the port takes. Return -1 when the host has gone. */
static int flush_some(void)
{
	while (msb_buf_avail(&h.out)) {
		ssize_t n = write(h.port, msb_buf_head(&h.out),
				  msb_buf_avail(&h.out));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0)
			return -1;
		msb_buf_consume(&h.out, (size_t)n);
	}
	return 0;
}

/* Flush everything, with a deadline. */
static void flush_all(unsigned ms)
{
	uint64_t until = now_us() + ms * 1000ull;

	while (msb_buf_avail(&h.out) && now_us() < until) {
		struct pollfd p = {h.port, POLLOUT, 0};
		poll(&p, 1, 100);
		if (flush_some() < 0)
			return;
	}
}

/* --- the forged tree --- */

static bool parse_spec(struct spec *s, char *arg)
{
	char *f[3];

	for (int i = 0; i < 3; i++) {
		f[i] = arg;
		arg = strchr(arg, ':');
		if (!arg)
			return false;
		*arg++ = '\0';
	}
	s->type = f[0][0];
	s->mode = (unsigned)strtoul(f[1], NULL, 8);
	s->name = arg;
	if (s->type == 'l') {
		s->target = f[2];
		s->size = strlen(f[2]);
	} else {
		char *slash = strchr(f[2], '/');
		s->size = parse_size(f[2]);
		s->sent = slash ? parse_size(slash + 1) : s->size;
	}
	return strchr("fdrl", s->type) && s->type;
}

static void send_entry(uint32_t stream, const char *name, const struct spec *s)
{
	static const char *const types[] = {['f'] = "file",
					    ['d'] = "dir",
					    ['r'] = "dir",
					    ['l'] = "symlink"};
	struct msb_msg m = {
		.type = MSB_MSG_FS_ENTRY,
		.has = MSB_HAS(MSB_FLD_NAME) | MSB_HAS(MSB_FLD_FTYPE) |
		       MSB_HAS(MSB_FLD_SIZE) | MSB_HAS(MSB_FLD_MODE) |
		       MSB_HAS(MSB_FLD_UID) | MSB_HAS(MSB_FLD_GID) |
		       MSB_HAS(MSB_FLD_MTIME),
		.name = msb_str(name),
		.ftype = msb_str(s ? types[(unsigned char)s->type] : "dir"),
		.size = s ? s->size : 4096,
		.mode = s ? s->mode : 0755,
		.mtime_ns = 1000000000,
	};
	if (s && s->type == 'l') {
		m.has |= MSB_HAS(MSB_FLD_TARGET);
		m.target = msb_str(s->target);
	}
	send_msg(stream, 0, &m);
}

static void send_done(uint32_t stream)
{
	struct msb_msg m = {.type = MSB_MSG_FS_DONE};
	send_msg(stream, MSB_F_END, &m);
}

static void send_failed(uint32_t stream, const char *path)
{
	char text[300];
	struct msb_msg m = {
		.type = MSB_MSG_FAILED,
		.has = MSB_HAS(MSB_FLD_KIND) | MSB_HAS(MSB_FLD_ERRNO) |
		       MSB_HAS(MSB_FLD_MSG),
		.kind = msb_str("fs"),
		.err = ENOENT,
	};
	snprintf(text, sizeof(text), "`%s`: No such file or directory", path);
	m.msg = msb_str(text);
	send_msg(stream, MSB_F_END, &m);
}

/*
 * Find what @path names: NULL for ROOT itself (*@is_root), else the next
 * SPEC of that name in turn (@take: count this use). A path below an 'r'
 * directory names what ROOT's listing holds.
 */
static struct spec *lookup(const char *path, bool *is_root, bool take)
{
	size_t rl = strlen(h.root);
	struct spec *first = NULL, *pick = NULL;
	unsigned k = 0, seen = 0;

	*is_root = false;
	if (!strcmp(path, h.root)) {
		*is_root = true;
		return NULL;
	}
	if (strncmp(path, h.root, rl) || path[rl] != '/')
		return NULL;
	const char *rest = path + rl + 1;
	/* Descend through cycle directories: "loop/loop/x" is "x". */
	for (;;) {
		bool moved = false;
		for (size_t i = 0; i < h.nspecs; i++) {
			size_t nl = strlen(h.specs[i].name);
			if (h.specs[i].type == 'r' && nl &&
			    !strncmp(rest, h.specs[i].name, nl) &&
			    rest[nl] == '/') {
				rest += nl + 1;
				moved = true;
				break;
			}
		}
		if (!moved)
			break;
	}
	for (size_t i = 0; i < h.nspecs; i++)
		if (!strcmp(rest, h.specs[i].name)) {
			if (!first)
				first = &h.specs[i];
			seen++;
		}
	if (!first)
		return NULL;
	k = first->uses % seen;
	for (size_t i = 0; i < h.nspecs; i++)
		if (!strcmp(rest, h.specs[i].name) && k-- == 0)
			pick = &h.specs[i];
	if (take)
		first->uses++;
	return pick;
}

/* The first SPEC named by @path whose type is in @types. */
static struct spec *lookup_type(const char *path, const char *types)
{
	bool is_root;
	struct spec *s = lookup(path, &is_root, false);

	for (size_t i = 0; s && i < h.nspecs; i++)
		if (!strcmp(h.specs[i].name, s->name) &&
		    strchr(types, h.specs[i].type))
			return &h.specs[i];
	return NULL;
}

static void start_read(uint32_t stream, uint64_t n)
{
	for (size_t i = 0; i < MAX_READS; i++)
		if (!h.reads[i].stream) {
			h.reads[i].stream = stream;
			h.reads[i].left = n;
			return;
		}
	send_done(stream);
}

/* Feed the file reads in progress while the out queue is short. */
static void pump_reads(void)
{
	static uint8_t chunk[MSB_CHUNK_MAX];
	static bool filled;

	if (!filled) {
		static const char text[] = "pwned by the guest\n";
		for (size_t i = 0; i < sizeof(chunk); i++)
			chunk[i] = (uint8_t)text[i % (sizeof(text) - 1)];
		filled = true;
	}
	for (size_t i = 0; i < MAX_READS; i++) {
		struct reading *r = &h.reads[i];
		while (r->stream && msb_buf_avail(&h.out) < OUT_HIGH) {
			if (!r->left) {
				send_done(r->stream);
				r->stream = 0;
				break;
			}
			size_t n = r->left < sizeof(chunk) ? (size_t)r->left
							   : sizeof(chunk);
			struct msb_msg m = {
				.type = MSB_MSG_FS_DATA,
				.has = MSB_HAS(MSB_FLD_DATA),
				.data = {chunk, n},
			};
			send_msg(r->stream, 0, &m);
			r->left -= n;
		}
	}
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

static void answer_fs(uint32_t stream, const struct msb_msg *m, char *path)
{
	bool is_root;
	struct spec *s;

	switch (m->type) {
	case MSB_MSG_FS_STAT:
		s = lookup(path, &is_root, true);
		if (!s && !is_root)
			return send_failed(stream, path);
		send_entry(stream, base_name(path), s);
		return send_done(stream);
	case MSB_MSG_FS_LIST:
		s = lookup_type(path, "dr");
		lookup(path, &is_root, false);
		if (is_root || (s && s->type == 'r')) {
			for (size_t i = 0; i < h.nspecs; i++)
				send_entry(stream, h.specs[i].name,
					   &h.specs[i]);
		} else if (!s) {
			return send_failed(stream, path);
		}
		return send_done(stream);
	case MSB_MSG_FS_READ:
		s = lookup_type(path, "f");
		if (!s)
			return send_failed(stream, path);
		send_entry(stream, base_name(path), s);
		return start_read(stream, s->sent);
	default:
		send_error(stream, MSB_F_END, "hostile: not served");
	}
}

/* --- malformed replies --- */

static void answer_badly(uint32_t stream)
{
	static unsigned turn;
	static const uint8_t garbage[] = {0xbf, 0xff, 0x1c, 0x00,
					  0xa1, 0x61, 't'};
	struct msb_msg wrong = {
		.type = MSB_MSG_STDOUT,
		.has = MSB_HAS(MSB_FLD_DATA),
		.data = {(const uint8_t *)"x", 1},
	};
	/* {"t": "bogus"} */
	static const uint8_t unknown[] = {0xa1, 0x61, 't', 0x65, 'b',
					  'o',  'g',  'u', 's'};

	switch (turn++ % 3) {
	case 0:
		return send_raw(stream, MSB_F_END, garbage, sizeof(garbage));
	case 1:
		return send_raw(stream, MSB_F_END, unknown, sizeof(unknown));
	default:
		return send_msg(stream, MSB_F_END, &wrong);
	}
}

static void send_kinds(void)
{
	for (char **k = h.kinds; *k; k++) {
		if (!strcmp(*k, "oversize")) {
			uint8_t hdr[MSB_FRAME_HDR + 64] = {0};
			put_be32(hdr, MSB_FRAME_MAX + 1);
			msb_buf_append(&h.out, hdr, sizeof(hdr));
		} else if (!strcmp(*k, "garbage")) {
			static const uint8_t g[] = {0xff, 0xfe, 0x9f, 0x00};
			send_raw(0, 0, g, sizeof(g));
			send_raw(7, MSB_F_START, g, sizeof(g));
		} else if (!strcmp(*k, "unknown")) {
			static const uint8_t u[] = {0xa1, 0x61, 't', 0x63,
						    'z',  'z',  'z'};
			send_raw(0, 0, u, sizeof(u));
			send_raw(9, MSB_F_END, u, sizeof(u));
		} else if (!strcmp(*k, "error0")) {
			send_error(0, 0, "hostile: an error frame on stream 0");
		} else {
			say("unknown kind %s", *k);
		}
	}
}

/* --- flood --- */

static void flood(unsigned long count)
{
	static const uint8_t g[] = {0xa2, 0x61, 't',  0x65, 'e', 'r', 'r',
				    'o',  'r',  0x63, 'm',  's', 'g', 0x1b};
	char text[600];
	unsigned long i = 0;

	while (i < count && now_us() < h.deadline_us) {
		while (i < count && msb_buf_avail(&h.out) < OUT_HIGH) {
			if (i % 4 == 3) {
				send_raw(0, 0, g, sizeof(g));
			} else {
				snprintf(text, sizeof(text),
					 "flood %lu\nFORGED msb-vmm: sandbox "
					 "stopped by the user\n\r\x1b[2K%0400d",
					 i, 0);
				send_error(0, 0, text);
			}
			i++;
		}
		struct pollfd p = {h.port, POLLOUT | POLLIN, 0};
		poll(&p, 1, 100);
		if (p.revents & POLLIN) {
			uint8_t drop[4096];
			while (read(h.port, drop, sizeof(drop)) > 0)
				;
		}
		if (flush_some() < 0)
			return;
	}
	say("flood: %lu frames", i);
}

static void console(uint64_t bytes)
{
	int fd = open("/dev/ttyS0", O_WRONLY | O_NOCTTY);
	char line[256];
	uint64_t done = 0;
	unsigned long i = 0;

	if (fd < 0)
		fd = open("/dev/console", O_WRONLY | O_NOCTTY);
	if (fd < 0)
		die("open the console");
	while (done < bytes && now_us() < h.deadline_us) {
		int n = snprintf(line, sizeof(line),
				 "FORGED console line %lu %0180d\n", i++, 0);
		if (write_all(fd, line, (size_t)n) < 0)
			die("write the console");
		done += (uint64_t)n;
	}
	say("console: %llu bytes", (unsigned long long)done);
	close(fd);
}

/* --- the loop --- */

static void on_frame(const struct msb_frame *f)
{
	struct msb_msg m;
	_cleanup_free_ char *path = NULL;

	if (msb_msg_decode(&m, f->payload, f->payload_len) < 0)
		return;
	if (f->hdr.stream == 0) {
		if (m.type == MSB_MSG_SHUTDOWN) {
			say("shutdown from the host: powering off");
			ptrace(PTRACE_DETACH, 1, NULL,
			       (void *)(long)h.stop_sig);
			sync();
			reboot(RB_POWER_OFF);
		} else if (m.type == MSB_MSG_PING) {
			struct msb_msg pong = {.type = MSB_MSG_PONG};
			if (h.mode != M_STALL)
				send_msg(0, 0, &pong);
		}
		return;
	}
	if (!(f->hdr.flags & MSB_F_START) || m.type == MSB_MSG_CREDIT)
		return;
	h.requests++;
	if (m.has & MSB_HAS(MSB_FLD_PATH))
		path = msb_bytes_dup(m.path);
	if (path && m.type == MSB_MSG_FS_STAT && !strcmp(path, RELEASE_PATH)) {
		send_failed(f->hdr.stream, path);
		h.release = true;
		return;
	}
	say("request %s %s on stream %u",
	    msb_msg_type_name(m.type) ? msb_msg_type_name(m.type) : "?",
	    path ? path : "", f->hdr.stream);
	switch (h.mode) {
	case M_LIST:
		if (path)
			answer_fs(f->hdr.stream, &m, path);
		else
			send_error(f->hdr.stream, MSB_F_END,
				   "hostile: not served");
		break;
	case M_FRAMES:
		answer_badly(f->hdr.stream);
		break;
	default:
		break; /* stall, keepalive: never answer */
	}
}

static void serve(void)
{
	uint64_t next_ping = now_us() + 1000000;

	while (!h.release && now_us() < h.deadline_us &&
	       h.requests < h.max_requests) {
		struct pollfd p = {h.port, POLLIN, 0};

		pump_reads();
		if (msb_buf_avail(&h.out))
			p.events |= POLLOUT;
		poll(&p, 1, 200);
		if (p.revents & POLLIN) {
			uint8_t buf[65536];
			ssize_t n;
			while ((n = read(h.port, buf, sizeof(buf))) > 0)
				msb_buf_append(&h.in, buf, (size_t)n);
			if (n == 0) {
				say("the host went away");
				return;
			}
		}
		struct msb_frame f;
		int r;
		while ((r = msb_frame_next(&f, &h.in)) == 1) {
			on_frame(&f);
			msb_buf_consume(&h.in, msb_frame_size(&f));
		}
		if (r < 0)
			msb_buf_reset(&h.in);
		if (h.mode == M_KEEPALIVE && now_us() >= next_ping) {
			struct msb_msg ping = {.type = MSB_MSG_PING};
			send_msg(0, 0, &ping);
			next_ping = now_us() + 1000000;
		}
		if (flush_some() < 0) {
			say("the host went away");
			return;
		}
	}
}

static int usage(void)
{
	fputs("usage: hostile [-t SECONDS] [-n REQUESTS] MODE ARGS...\n"
	      "modes: list ROOT SPEC..., frames KIND..., flood COUNT,\n"
	      "       console BYTES, stall, keepalive\n",
	      stderr);
	return 2;
}

int main(int argc, char **argv)
{
	static const char *const names[] = {
		[M_LIST] = "list",   [M_FRAMES] = "frames",
		[M_FLOOD] = "flood", [M_CONSOLE] = "console",
		[M_STALL] = "stall", [M_KEEPALIVE] = "keepalive"};
	unsigned seconds = 60;
	int c;
	size_t i;

	while ((c = getopt(argc, argv, "+t:n:")) != -1) {
		if (c == 't')
			seconds = (unsigned)strtoul(optarg, NULL, 10);
		else if (c == 'n')
			h.max_requests = (unsigned)strtoul(optarg, NULL, 10);
		else
			return usage();
	}
	if (optind >= argc)
		return usage();
	for (i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcmp(argv[optind], names[i]))
			break;
	if (i == ARRAY_SIZE(names))
		return usage();
	h.mode = (enum mode)i;
	argv += optind + 1;
	argc -= optind + 1;
	if (h.mode == M_LIST) {
		if (argc < 1)
			return usage();
		h.root = argv[0];
		for (int k = 1; k < argc && h.nspecs < MAX_SPECS; k++)
			if (!parse_spec(&h.specs[h.nspecs++], argv[k])) {
				say("bad spec `%s`", argv[k]);
				return 2;
			}
	}
	h.kinds = argv;
	h.deadline_us = now_us() + seconds * 1000000ull;
	if (h.mode == M_CONSOLE) {
		console(argc ? parse_size(argv[0]) : 1 << 20);
		return 0;
	}

	leave_exec();
	h.deadline_us = now_us() + seconds * 1000000ull;
	seize();
	grab_port();
	char ready[80];
	snprintf(ready, sizeof(ready), "hostile: holding the channel (%s)",
		 names[h.mode]);
	send_error(0, 0, ready);
	flush_all(5000);
	if (h.mode == M_FRAMES)
		send_kinds();
	if (h.mode == M_FLOOD)
		flood(argc ? strtoul(argv[0], NULL, 10) : 10000);
	else
		serve();
	/* The last words before PID 1 writes to the port again. */
	send_error(0, 0, "hostile: giving the channel back");
	flush_all(5000);
	if (ptrace(PTRACE_DETACH, 1, NULL, (void *)(long)h.stop_sig) < 0)
		say("ptrace detach: %m");
	say("done after %u requests", h.requests);
	return 0;
}
