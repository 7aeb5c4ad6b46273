// SPDX-License-Identifier: Apache-2.0
/* Capped log files, escaping and rate limiting: see logfile.h. */
#include "vmm/logfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/util.h"

int logfile_open(struct logfile *l, const char *path, uint64_t max)
{
	struct stat st;

	l->max = max;
	l->dropped = 0;
	l->rotations = 0;
	snprintf(l->path, sizeof(l->path), "%s", path);
	l->fd = open(l->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (l->fd < 0)
		return -1;
	l->size = fstat(l->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	return 0;
}

void logfile_close(struct logfile *l)
{
	close_fd(&l->fd);
}

/* The current file becomes <path>.1 and a new one starts. */
static int rotate(struct logfile *l)
{
	char old[sizeof(l->path) + 2];

	snprintf(old, sizeof(old), "%s.1", l->path);
	if (rename(l->path, old) < 0)
		return -1;
	close_fd(&l->fd);
	l->rotations++;
	l->size = 0;
	l->fd = open(l->path,
		     O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	return l->fd < 0 ? -1 : 0;
}

int logfile_write(struct logfile *l, const char *rec, size_t len)
{
	if (l->fd < 0) {
		l->dropped += len;
		return -1;
	}
	if (l->size && l->size + len > l->max && rotate(l) < 0) {
		/* Could not rotate: keep the cap, drop the record. */
		l->dropped += len;
		return -1;
	}
	if (write_all(l->fd, rec, len) < 0) {
		l->dropped += len;
		return -1;
	}
	l->size += len;
	return 0;
}

size_t logfile_escape(char *out, size_t cap, const uint8_t *p, size_t n,
		      bool quote)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (!cap)
		return 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		if (c == '\r')
			continue;
		size_t u = c >= 0x80 ? msb_utf8_len(p + i, n - i) : 1;
		if (u > 1) { /* a whole, valid UTF-8 character */
			if (o + u >= cap)
				break;
			memcpy(out + o, p + i, u);
			o += u;
			i += u - 1;
			continue;
		}
		/* Control characters, DEL, and bytes that are not valid UTF-8
		 * (C1 controls included: some terminals obey them). */
		if ((c < 0x20 && c != '\t') || c == 0x7f || u == 0) {
			if (o + 4 >= cap)
				break;
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
			continue;
		}
		if (quote && (c == '\\' || c == '"')) {
			if (o + 2 >= cap)
				break;
			out[o++] = '\\';
			out[o++] = (char)c;
			continue;
		}
		if (o + 1 >= cap)
			break;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return o;
}

bool ratelimit_allow(struct ratelimit *rl, uint64_t now_us,
		     uint64_t *suppressed)
{
	const uint64_t one = 1000000u, full = (uint64_t)rl->burst * one;

	if (!rl->last_us) {
		rl->tokens_x1e6 = full;
	} else if (now_us > rl->last_us) {
		/* per_s tokens a second: per_s millionths of a token a µs */
		uint64_t add;
		if (__builtin_mul_overflow(now_us - rl->last_us, rl->per_s,
					   &add) ||
		    add > full)
			add = full;
		rl->tokens_x1e6 = rl->tokens_x1e6 + add > full
					  ? full
					  : rl->tokens_x1e6 + add;
	}
	if (now_us > rl->last_us || !rl->last_us)
		rl->last_us = now_us ? now_us : 1;
	if (rl->tokens_x1e6 < one) {
		rl->suppressed++;
		return false;
	}
	rl->tokens_x1e6 -= one;
	if (suppressed)
		*suppressed = rl->suppressed;
	rl->suppressed = 0;
	return true;
}

void linebuf_feed(struct linebuf *lb, const uint8_t *p, size_t n,
		  linebuf_emit_fn emit, void *ud)
{
	while (n) {
		const uint8_t *nl = memchr(p, '\n', n);
		size_t k = nl ? (size_t)(nl - p) : n;
		size_t room = sizeof(lb->buf) - lb->len;
		if (k >= room) {
			/* Over-long: what fits is a record of its own. */
			memcpy(lb->buf + lb->len, p, room);
			emit(lb->buf, sizeof(lb->buf), ud);
			lb->len = 0;
			p += room;
			n -= room;
			continue;
		}
		memcpy(lb->buf + lb->len, p, k);
		lb->len += k;
		if (!nl)
			return;
		emit(lb->buf, lb->len, ud);
		lb->len = 0;
		p += k + 1;
		n -= k + 1;
	}
}

void linebuf_flush(struct linebuf *lb, linebuf_emit_fn emit, void *ud)
{
	if (!lb->len)
		return;
	emit(lb->buf, lb->len, ud);
	lb->len = 0;
}

void linetail_add(struct linetail *t, const uint8_t *line, size_t len)
{
	while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' ||
		       line[len - 1] == '\t'))
		len--;
	if (!len)
		return;
	if (len > LINETAIL_LINE)
		len = LINETAIL_LINE;
	memcpy(t->line[t->next], line, len);
	t->len[t->next] = len;
	t->next = (t->next + 1) % LINETAIL_LINES;
	if (t->count < LINETAIL_LINES)
		t->count++;
}

char *linetail_join(const struct linetail *t, const char *prefix, char *out,
		    size_t cap)
{
	const char *base = prefix ? strrchr(prefix, '/') : NULL;
	size_t o = 0;

	if (!cap)
		return out;
	out[0] = '\0';
	for (size_t k = 0; k < t->count; k++) {
		size_t i = (t->next + LINETAIL_LINES - t->count + k) %
			   LINETAIL_LINES;
		const uint8_t *p = t->line[i];
		size_t n = t->len[i];
		/* "PREFIX: " or "BASENAME: " */
		for (int pass = 0; prefix && pass < 2; pass++) {
			const char *x = pass ? (base ? base + 1 : "") : prefix;
			size_t l = strlen(x);
			if (l && n > l + 2 && !memcmp(p, x, l) && p[l] == ':' &&
			    p[l + 1] == ' ') {
				p += l + 2;
				n -= l + 2;
				break;
			}
		}
		if (o && o + 6 >= cap)
			break; /* no room for another line */
		if (o) {
			memcpy(out + o, "; ", 2);
			o += 2;
		}
		msb_escape(out + o, cap - o, p, n);
		o += strlen(out + o);
	}
	return out;
}
