// SPDX-License-Identifier: Apache-2.0
/* The exec log of a sandbox: see execlog.h. */
#include "vmm/execlog.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "util/util.h"

void execlog_open(struct execlog *l, const char *dir)
{
	char path[sizeof(l->log.path)];

	snprintf(path, sizeof(path), "%s/exec.log", dir);
	logfile_open(&l->log, path, EXECLOG_MAX);
}

void execlog_close(struct execlog *l)
{
	logfile_close(&l->log);
}

size_t execlog_escape(char *out, size_t cap, const uint8_t *p, size_t n)
{
	return logfile_escape(out, cap, p, n, false);
}

/* Write "<time> exec#<id> <what>: <text>\n", rotating at the cap. */
static void put_line(struct execlog *l, uint32_t id, const char *what,
		     const char *text, size_t len)
{
	char rec[160 + LOGFILE_LINE];
	struct timeval tv;
	struct tm tm;

	if (l->log.fd < 0)
		return;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	int h = snprintf(rec, sizeof(rec),
			 "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ exec#%u %s: ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec,
			 (int)(tv.tv_usec / 1000), id, what);
	if (h < 0)
		return;
	if (len > sizeof(rec) - (size_t)h - 1)
		len = sizeof(rec) - (size_t)h - 1;
	memcpy(rec + h, text, len);
	rec[(size_t)h + len] = '\n';
	logfile_write(&l->log, rec, (size_t)h + len + 1);
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

	if (m->type == MSB_MSG_STARTED) {
		/* A detached command: it runs on, its output stays in the
		 * guest (msb logs NAME --exec ID). */
		n = snprintf(text, sizeof(text), "id %llu",
			     (unsigned long long)m->id);
		put_line(l, id, "detached", text, (size_t)n);
		return;
	}
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
