// SPDX-License-Identifier: Apache-2.0
/* Resource use of a sandbox's VM: /proc of QEMU, and QMP block stats. */
#include "vmm/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool proc_stat_parse(const char *line, size_t len, uint64_t *utime,
		     uint64_t *stime)
{
	/* "pid (comm) state ppid ..." — utime and stime are fields 14 and
	 * 15; comm may contain anything, so count from the last ')'. */
	const char *p = NULL;
	for (size_t i = len; i > 0; i--) {
		if (line[i - 1] == ')') {
			p = line + i;
			break;
		}
	}
	if (!p)
		return false;
	const char *end = line + len;
	int field = 2; /* the ')' ends field 2 */
	while (p < end && field < 15) {
		while (p < end && *p == ' ')
			p++;
		if (p >= end)
			return false;
		field++;
		const char *start = p;
		while (p < end && *p != ' ')
			p++;
		if (field == 14 || field == 15) {
			uint64_t v = 0;
			for (const char *q = start; q < p; q++) {
				if (*q < '0' || *q > '9' ||
				    __builtin_mul_overflow(v, 10, &v) ||
				    __builtin_add_overflow(
					    v, (uint64_t)(*q - '0'), &v))
					return false;
			}
			*(field == 14 ? utime : stime) = v;
		}
	}
	return field == 15;
}

bool proc_usage(pid_t pid, uint64_t *cpu_us, uint64_t *rss)
{
	char path[64], buf[2048];
	uint64_t ut, st, pages_total, pages_res;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read_all(fd, buf, sizeof(buf) - 1) : -1;
	if (n <= 0 || !proc_stat_parse(buf, (size_t)n, &ut, &st))
		return false;
	long hz = sysconf(_SC_CLK_TCK);
	*cpu_us = (ut + st) * (1000000u / (uint64_t)(hz > 0 ? hz : 100));

	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	int ok = fscanf(f, "%lu %lu", &pages_total, &pages_res) == 2;
	fclose(f);
	if (!ok)
		return false;
	*rss = pages_res * (uint64_t)sysconf(_SC_PAGESIZE);
	return true;
}

/* A counter of a netd update: an integer from 0 to @max. */
static bool stat_field(json_t *o, const char *key, uint64_t max, uint64_t *v)
{
	json_t *j = json_object_get(o, key);

	if (!json_is_integer(j) || json_integer_value(j) < 0 ||
	    (uint64_t)json_integer_value(j) > max)
		return false;
	*v = (uint64_t)json_integer_value(j);
	return true;
}

bool netd_stats_parse(const char *buf, size_t len, struct net_counters *out)
{
	struct net_counters c;

	if (!buf || len == 0 || len > NETD_STATS_MAX)
		return false;
	json_t *o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
	bool ok = json_is_object(o) &&
		  stat_field(o, "rx_frames", UINT64_MAX, &c.tx_packets) &&
		  stat_field(o, "rx_bytes", UINT64_MAX, &c.tx_bytes) &&
		  stat_field(o, "tx_frames", UINT64_MAX, &c.rx_packets) &&
		  stat_field(o, "tx_bytes", UINT64_MAX, &c.rx_bytes) &&
		  stat_field(o, "flows", UINT32_MAX, &c.flows) &&
		  stat_field(o, "denied", UINT64_MAX, &c.denied);
	json_decref(o);
	if (ok)
		*out = c;
	return ok;
}

#define QMP_LINE_MAX (1u << 20)

/*
 * One line from QMP: the greeting (answered with qmp_capabilities), the
 * answer to that, or an event (to q->on_event) are handled here. Return:
 * anything else, a command's answer, for the caller to free; or NULL.
 */
static json_t *qmp_line(struct qmp *q, const uint8_t *p, size_t len)
{
	static const char caps[] = "{\"execute\":\"qmp_capabilities\"}\n";
	json_t *j = json_loadb((const char *)p, len, 0, NULL);
	json_t *ev = json_object_get(j, "event");

	if (!j)
		return NULL;
	if (json_is_string(ev)) {
		if (q->on_event)
			q->on_event(json_string_value(ev),
				    json_object_get(j, "data"), q->arg);
	} else if (json_object_get(j, "QMP")) {
		if (!q->greeted &&
		    write_all(q->fd, caps, sizeof(caps) - 1) == 0)
			q->greeted = true;
	} else if (!q->ready) {
		q->ready = q->greeted && json_object_get(j, "return");
	} else {
		return j;
	}
	json_decref(j);
	return NULL;
}

/* Handle the complete lines in q->in; the first command answer is
 * returned (the rest stays buffered), NULL if there is none. */
static json_t *qmp_lines(struct qmp *q)
{
	uint8_t *nl;

	/* (an empty buffer may have no storage yet: memchr wants one) */
	while (msb_buf_avail(&q->in) && (nl = memchr(msb_buf_head(&q->in), '\n',
						     msb_buf_avail(&q->in)))) {
		size_t len = (size_t)(nl - msb_buf_head(&q->in));
		json_t *j = qmp_line(q, msb_buf_head(&q->in), len);
		msb_buf_consume(&q->in, len + 1);
		if (j)
			return j;
	}
	return NULL;
}

/* One read, after waiting until @deadline for data. Return: -1 on EOF,
 * error or timeout. */
static int qmp_read(struct qmp *q, uint64_t deadline)
{
	uint64_t now = now_us();
	struct pollfd p = {.fd = q->fd, .events = POLLIN};

	if (msb_buf_avail(&q->in) > QMP_LINE_MAX)
		return -1;
	if (poll(&p, 1,
		 now >= deadline ? 0 : (int)((deadline - now) / 1000) + 1) <= 0)
		return -1;
	if (msb_buf_reserve(&q->in, 65536) < 0)
		return -1;
	ssize_t n = read(q->fd, q->in.data + q->in.len, q->in.cap - q->in.len);
	if (n <= 0)
		return -1;
	q->in.len += (size_t)n;
	return 0;
}

int qmp_pump(struct qmp *q)
{
	if (q->fd < 0 || qmp_read(q, 0) < 0)
		return -1;
	/* a command's late answer (its caller gave up): dropped */
	json_t *j;
	while ((j = qmp_lines(q)))
		json_decref(j);
	return 0;
}

/* The next command answer; NULL on timeout. */
static json_t *qmp_reply(struct qmp *q, uint64_t deadline)
{
	for (;;) {
		json_t *j = qmp_lines(q);
		if (j)
			return j;
		if (qmp_read(q, deadline) < 0)
			return NULL;
	}
}

static json_t *qmp_exec(struct qmp *q, const char *cmd, uint64_t deadline)
{
	char line[128];
	int n = snprintf(line, sizeof(line), "{\"execute\":\"%s\"}\n", cmd);

	if (q->fd < 0)
		return NULL;
	while (!q->ready) {
		json_t *j = qmp_lines(q);
		json_decref(j);
		if (!q->ready && qmp_read(q, deadline) < 0)
			return NULL;
	}
	if (write_all(q->fd, line, (size_t)n) < 0)
		return NULL;
	json_t *r = qmp_reply(q, deadline);
	if (r && !json_object_get(r, "return")) {
		json_decref(r);
		return NULL;
	}
	return r;
}

json_t *qmp_call(struct qmp *q, const char *line, int fd, int timeout_ms,
		 char *err, size_t errlen)
{
	uint64_t deadline = now_us() + (uint64_t)timeout_ms * 1000u;
	size_t n = strlen(line);

	snprintf(err, errlen, "no answer");
	if (q->fd < 0)
		return NULL;
	while (!q->ready) {
		json_t *j = qmp_lines(q);
		json_decref(j);
		if (!q->ready && qmp_read(q, deadline) < 0)
			return NULL;
	}
	/* The command and its newline in one message, the descriptor (if
	 * any) with it: QEMU takes it for the command it reads next. */
	struct iovec iov[2] = {{(void *)line, n}, {(void *)"\n", 1}};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
	if (fd >= 0) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	ssize_t w;
	while ((w = sendmsg(q->fd, &mh, MSG_NOSIGNAL)) < 0 && errno == EINTR)
		;
	if (w != (ssize_t)(n + 1)) {
		snprintf(err, errlen, "send: %s",
			 w < 0 ? strerror(errno) : "short write");
		return NULL;
	}
	json_t *r = qmp_reply(q, deadline);
	if (r && !json_object_get(r, "return")) {
		const char *desc = json_string_value(
			json_object_get(json_object_get(r, "error"), "desc"));
		snprintf(err, errlen, "%.200s", desc ? desc : "error");
		json_decref(r);
		return NULL;
	}
	return r;
}

bool qmp_command(struct qmp *q, const char *cmd, int timeout_ms)
{
	json_t *r = qmp_exec(q, cmd, now_us() + (uint64_t)timeout_ms * 1000u);

	json_decref(r);
	return r != NULL;
}

bool qmp_blockstats(struct qmp *q, int timeout_ms, uint64_t *rd, uint64_t *wr)
{
	uint64_t deadline = now_us() + (uint64_t)timeout_ms * 1000u;
	json_t *r = qmp_exec(q, "query-blockstats", deadline);
	json_t *devs = json_object_get(r, "return");

	*rd = *wr = 0;
	for (size_t i = 0; i < json_array_size(devs); i++) {
		json_t *st = json_object_get(json_array_get(devs, i), "stats");
		*rd += (uint64_t)json_integer_value(
			json_object_get(st, "rd_bytes"));
		*wr += (uint64_t)json_integer_value(
			json_object_get(st, "wr_bytes"));
	}
	json_decref(r);
	return r != NULL;
}
