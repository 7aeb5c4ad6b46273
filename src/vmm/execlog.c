// SPDX-License-Identifier: Apache-2.0
/* The exec log of a sandbox: see execlog.h. */
#include "vmm/execlog.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "util/util.h"

void execlog_open(struct execlog *l, const char *dir)
{
	struct stat st;

	snprintf(l->path, sizeof(l->path), "%s/exec.log", dir);
	l->fd = open(l->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	l->size =
		l->fd >= 0 && fstat(l->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
}

void execlog_close(struct execlog *l)
{
	close_fd(&l->fd);
}

size_t execlog_escape(char *out, size_t cap, const uint8_t *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (!cap)
		return 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		if (c == '\r')
			continue;
		if (c < 0x20 || c == 0x7f) {
			if (c == '\t')
				goto plain;
			if (o + 4 >= cap)
				break;
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
			continue;
		}
	plain:
		if (o + 1 >= cap)
			break;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return o;
}

/* Write "<time> exec#<id> <what>: <text>\n", rotating at the cap. */
static void put_line(struct execlog *l, uint32_t id, const char *what,
		     const char *text, size_t len)
{
	char head[96];
	struct timeval tv;
	struct tm tm;

	if (l->fd < 0)
		return;
	if (l->size > EXECLOG_MAX) {
		char old[sizeof(l->path) + 2];
		snprintf(old, sizeof(old), "%s.1", l->path);
		rename(l->path, old);
		close_fd(&l->fd);
		l->fd = open(l->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
			     0600);
		l->size = 0;
		if (l->fd < 0)
			return;
	}
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	int h = snprintf(head, sizeof(head),
			 "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ exec#%u %s: ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec,
			 (int)(tv.tv_usec / 1000), id, what);
	if (write_all(l->fd, head, (size_t)h) < 0 ||
	    write_all(l->fd, text, len) < 0 || write_all(l->fd, "\n", 1) < 0)
		return;
	l->size += (uint64_t)h + len + 1;
}

void execlog_start(struct execlog *l, uint32_t id, const struct msb_msg *m)
{
	char line[1024];
	size_t o = 0;
	struct msb_bytes s;
	size_t it = 0;

	while (o + 4 < sizeof(line) && msb_strv_next(&m->argv, &it, &s)) {
		bool quote =
			!s.n || memchr(s.p, ' ', s.n) || memchr(s.p, '"', s.n);
		if (o)
			line[o++] = ' ';
		if (quote)
			line[o++] = '"';
		o += execlog_escape(line + o, sizeof(line) - o - 1, s.p, s.n);
		if (quote && o + 1 < sizeof(line))
			line[o++] = '"';
	}
	line[o] = '\0';
	put_line(l, id, "start", line, o);
}

void execlog_output(struct execlog *l, uint32_t id, bool is_err,
		    const uint8_t *p, size_t n)
{
	char line[4096];

	/* One log line per output line (a line longer than the buffer, or
	 * cut between two chunks, gives several). */
	while (n) {
		const uint8_t *nl = memchr(p, '\n', n);
		size_t k = nl ? (size_t)(nl - p) : n;
		size_t len = execlog_escape(line, sizeof(line), p, k);
		/* not the "\r" of a terminal's "\r\n" on its own */
		if (len || !k)
			put_line(l, id, is_err ? "stderr" : "stdout", line,
				 len);
		k += nl ? 1 : 0;
		p += k;
		n -= k;
	}
}

void execlog_end(struct execlog *l, uint32_t id, const struct msb_msg *m)
{
	char text[600];
	int n;

	if (m->type == MSB_MSG_EXITED && m->has & MSB_HAS(MSB_FLD_SIG))
		n = snprintf(text, sizeof(text), "killed by signal %lld",
			     (long long)m->sig);
	else if (m->type == MSB_MSG_EXITED)
		n = snprintf(text, sizeof(text), "%lld", (long long)m->code);
	else
		n = (int)execlog_escape(text, sizeof(text), m->msg.p,
					m->msg.n > 500 ? 500 : m->msg.n);
	put_line(l, id, m->type == MSB_MSG_EXITED ? "exit" : "failed", text,
		 (size_t)n < sizeof(text) ? (size_t)n : sizeof(text) - 1);
}
