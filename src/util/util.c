// SPDX-License-Identifier: Apache-2.0
/* Small helpers shared by the host components and the guest agent. */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdbool.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int msb_buf_reserve(struct msb_buf *b, size_t extra)
{
	size_t need;

	if (b->off && b->off == b->len) {
		b->off = b->len = 0;
	}
	if (__builtin_add_overflow(b->len, extra, &need)) {
		errno = ENOMEM;
		return -1;
	}
	if (need <= b->cap)
		return 0;
	if (b->off) {
		/* Compact before growing. */
		memmove(b->data, b->data + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
		need = b->len + extra;
		if (need <= b->cap)
			return 0;
	}
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need) {
		if (__builtin_mul_overflow(cap, 2, &cap)) {
			errno = ENOMEM;
			return -1;
		}
	}
	uint8_t *p = realloc(b->data, cap);
	if (!p)
		return -1;
	b->data = p;
	b->cap = cap;
	return 0;
}

int msb_buf_append(struct msb_buf *b, const void *p, size_t n)
{
	if (msb_buf_reserve(b, n) < 0)
		return -1;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

void msb_buf_consume(struct msb_buf *b, size_t n)
{
	b->off += n;
	if (b->off >= b->len)
		b->off = b->len = 0;
}

void msb_buf_reset(struct msb_buf *b)
{
	b->off = b->len = 0;
}

void msb_buf_free(struct msb_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

ssize_t read_all(int fd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, (char *)buf + got, n - got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

ssize_t read_file_max(const char *path, int oflags, size_t max, char **out)
{
	struct stat st;
	ssize_t n = -1;

	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | oflags);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) == 0) {
		if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > max)
			errno = EINVAL;
		else if (!(*out = malloc((size_t)st.st_size + 1)))
			errno = ENOMEM;
		else if ((n = read_all(fd, *out, (size_t)st.st_size)) >= 0)
			(*out)[n] = '\0';
	}
	int e = errno;
	close(fd);
	if (n < 0) {
		free(*out);
		*out = NULL;
		errno = e;
	}
	return n;
}

int write_all(int fd, const void *buf, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = write(fd, (const char *)buf + done, n - done);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		done += (size_t)r;
	}
	return 0;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

int rm_rf(const char *path)
{
	return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

int copy_sparse(int in, int out)
{
	static char buf[1 << 16];
	struct stat st;

	if (fstat(in, &st) < 0)
		return -1;
	if (ioctl(out, FICLONE, in) == 0)
		return fsync(out);
	for (off_t pos = 0; pos < st.st_size;) {
		off_t data = lseek(in, pos, SEEK_DATA);
		if (data < 0) {
			if (errno == ENXIO)
				break; /* a hole to the end */
			if (errno != EINVAL)
				return -1;
			data = pos; /* no SEEK_DATA: copy it all */
		}
		off_t hole = lseek(in, data, SEEK_HOLE);
		if (hole < 0)
			hole = st.st_size;
		for (pos = data; pos < hole;) {
			size_t want = (size_t)(hole - pos) < sizeof(buf)
					      ? (size_t)(hole - pos)
					      : sizeof(buf);
			ssize_t n = pread(in, buf, want, pos);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				if (n == 0)
					errno = EIO; /* shrank meanwhile */
				return -1;
			}
			for (ssize_t w = 0; w < n;) {
				ssize_t m = pwrite(out, buf + w,
						   (size_t)(n - w), pos + w);
				if (m < 0 && errno == EINTR)
					continue;
				if (m <= 0)
					return -1;
				w += m;
			}
			pos += n;
		}
	}
	if (ftruncate(out, st.st_size) < 0)
		return -1;
	return fsync(out);
}

uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int set_nonblock(int fd, int on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -1;
	fl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
	return fcntl(fd, F_SETFL, fl);
}

int msb_parse_dec(const char *p, size_t n, uint64_t *out)
{
	uint64_t x = 0;

	if (!n || n > 20)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		uint64_t d = (uint64_t)(p[i] - '0');
		if (x > (UINT64_MAX - d) / 10)
			return -1;
		x = x * 10 + d;
	}
	*out = x;
	return 0;
}

char *msb_printable(char *s)
{
	for (char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	return s;
}

void msb_strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* Whether the variable "NAME=..." @e is one the supervisor may keep. */
static bool supervisor_var(const char *e, size_t nl)
{
	static const char *const exact[] = {"PATH",
					    "TZ",
					    "LANG",
					    "ASAN_OPTIONS",
					    "UBSAN_OPTIONS",
					    "LSAN_OPTIONS",
					    "LLVM_PROFILE_FILE",
					    "GCOV_PREFIX",
					    "GCOV_PREFIX_STRIP",
					    "LD_LIBRARY_PATH",
					    "SSL_CERT_FILE"};

	if ((nl > 3 && !strncmp(e, "LC_", 3)) ||
	    (nl > 4 && !strncmp(e, "MSB_", 4)))
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(exact); i++)
		if (strlen(exact[i]) == nl && !strncmp(e, exact[i], nl))
			return true;
	return false;
}

char **msb_env_for_supervisor(char *const *env, const char *const *drop)
{
	size_t n = 0, k = 0;

	for (char *const *e = env; e && *e; e++)
		n++;
	char **v = calloc(n + 1, sizeof(char *));
	if (!v)
		return NULL;
	for (char *const *e = env; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		size_t nl = eq ? (size_t)(eq - *e) : 0;
		bool keep = nl && supervisor_var(*e, nl);
		for (const char *const *d = drop; keep && d && *d; d++)
			if (strlen(*d) == nl && !strncmp(*e, *d, nl))
				keep = false;
		if (keep)
			v[k++] = *e;
	}
	return v;
}

size_t msb_utf8_len(const uint8_t *p, size_t n)
{
	uint8_t c = p[0];
	size_t len;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
	    (cp >= 0x80 && cp <= 0x9f))
		return 0;
	return len;
}

char *msb_escape(char *out, size_t cap, const void *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *s = p;
	size_t o = 0;

	if (!cap)
		return out;
	for (size_t i = 0; i < n;) {
		size_t len = msb_utf8_len(s + i, n - i);
		bool plain = len > 1 || (len == 1 && s[i] >= 0x20 &&
					 s[i] != 0x7f && s[i] != '\\');
		size_t need = plain ? len : 4;
		if (o + need + 4 > cap) { /* room for "..." and the NUL */
			if (o + 4 <= cap)
				memcpy(out + o, "...", 3), o += 3;
			break;
		}
		if (plain) {
			memcpy(out + o, s + i, len);
			o += len;
			i += len;
			continue;
		}
		out[o++] = '\\';
		out[o++] = 'x';
		out[o++] = hex[s[i] >> 4];
		out[o++] = hex[s[i] & 15];
		i++;
	}
	out[o] = '\0';
	return out;
}
