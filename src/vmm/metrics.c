// SPDX-License-Identifier: Apache-2.0
/* Resource use of a sandbox's VM: /proc of QEMU, and QMP block stats. */
#include "vmm/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
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

/* The next JSON line from QMP that is not an event; NULL on timeout. */
static json_t *qmp_reply(struct qmp *q, uint64_t deadline)
{
	for (;;) {
		uint8_t *nl = memchr(msb_buf_head(&q->in), '\n',
				     msb_buf_avail(&q->in));
		if (nl) {
			size_t len = (size_t)(nl - msb_buf_head(&q->in));
			json_t *j =
				json_loadb((const char *)msb_buf_head(&q->in),
					   len, 0, NULL);
			msb_buf_consume(&q->in, len + 1);
			if (j && !json_object_get(j, "event"))
				return j;
			json_decref(j);
			continue;
		}
		uint64_t now = now_us();
		if (now >= deadline || msb_buf_avail(&q->in) > (1u << 20))
			return NULL;
		struct pollfd p = {.fd = q->fd, .events = POLLIN};
		if (poll(&p, 1, (int)((deadline - now) / 1000) + 1) <= 0)
			return NULL;
		if (msb_buf_reserve(&q->in, 65536) < 0)
			return NULL;
		ssize_t n = read(q->fd, q->in.data + q->in.len,
				 q->in.cap - q->in.len);
		if (n <= 0)
			return NULL;
		q->in.len += (size_t)n;
	}
}

static json_t *qmp_exec(struct qmp *q, const char *cmd, uint64_t deadline)
{
	char line[128];
	int n = snprintf(line, sizeof(line), "{\"execute\":\"%s\"}\n", cmd);

	if (write_all(q->fd, line, (size_t)n) < 0)
		return NULL;
	json_t *r = qmp_reply(q, deadline);
	if (r && !json_object_get(r, "return")) {
		json_decref(r);
		return NULL;
	}
	return r;
}

bool qmp_blockstats(struct qmp *q, int timeout_ms, uint64_t *rd, uint64_t *wr)
{
	uint64_t deadline = now_us() + (uint64_t)timeout_ms * 1000u;

	if (q->fd < 0)
		return false;
	if (!q->ready) {
		json_t *greeting = qmp_reply(q, deadline);
		json_t *caps =
			greeting ? qmp_exec(q, "qmp_capabilities", deadline)
				 : NULL;
		q->ready = greeting && caps;
		json_decref(greeting);
		json_decref(caps);
		if (!q->ready)
			return false;
	}
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
