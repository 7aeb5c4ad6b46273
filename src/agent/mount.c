// SPDX-License-Identifier: Apache-2.0
/* msb-agent: the mounts of the hello (see mount.h). */
#include "mount.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

/* A decimal number of @n bytes, no sign, no overflow. */
static int parse_dec(const char *p, size_t n, uint64_t *out)
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

int agent_mount_parse(struct agent_mount *m, const char *spec, size_t len,
		      char *why, size_t whylen)
{
	const char *p = spec, *end = spec + len, *c1, *c2, *c3;

	memset(m, 0, sizeof(*m));
	c1 = memchr(p, ':', len);
	c2 = c1 ? memchr(c1 + 1, ':', (size_t)(end - c1 - 1)) : NULL;
	c3 = c2 ? memchr(c2 + 1, ':', (size_t)(end - c2 - 1)) : NULL;
	if (!c3) {
		snprintf(why, whylen, "expected KIND:SIZE:MODE:PATH");
		return -1;
	}
	if ((size_t)(c1 - p) != 5 || memcmp(p, "tmpfs", 5)) {
		snprintf(why, whylen, "unknown mount kind `%.*s`",
			 (int)((c1 - p) > 16 ? 16 : (c1 - p)), p);
		return -1;
	}
	m->kind = AGENT_MOUNT_TMPFS;
	uint64_t mode = 0;
	if (parse_dec(c1 + 1, (size_t)(c2 - c1 - 1), &m->size) < 0) {
		snprintf(why, whylen, "bad size");
		return -1;
	}
	/* The mode in octal: at most 4 digits 0-7. */
	if (c3 - c2 - 1 < 1 || c3 - c2 - 1 > 4) {
		snprintf(why, whylen, "bad mode");
		return -1;
	}
	for (const char *q = c2 + 1; q < c3; q++) {
		if (*q < '0' || *q > '7') {
			snprintf(why, whylen, "bad mode");
			return -1;
		}
		mode = mode * 8 + (uint64_t)(*q - '0');
	}
	m->mode = (unsigned int)mode;
	size_t plen = (size_t)(end - c3 - 1);
	if (!plen || c3[1] != '/' || plen >= sizeof(m->path) ||
	    memchr(c3 + 1, '\0', plen)) {
		snprintf(why, whylen, "the path must be absolute");
		return -1;
	}
	memcpy(m->path, c3 + 1, plen);
	m->path[plen] = '\0';
	return 0;
}

/* mkdir -p, modes 0755; existing directories are fine. */
static int make_dirs(const char *path)
{
	char buf[4096];
	size_t n = strlen(path);

	if (n >= sizeof(buf))
		return -1;
	memcpy(buf, path, n + 1);
	for (char *s = buf + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -1;
		*s = c;
		if (!c)
			return 0;
	}
}

int agent_mount_apply(const struct agent_mount *m, char *err, size_t errlen)
{
	char data[64];

	if (make_dirs(m->path) < 0) {
		snprintf(err, errlen, "mount point `%s`: %s", m->path,
			 strerror(errno));
		return -1;
	}
	if (m->size)
		snprintf(data, sizeof(data), "size=%llu,mode=%o",
			 (unsigned long long)m->size, m->mode);
	else
		snprintf(data, sizeof(data), "mode=%o", m->mode);
	if (mount("tmpfs", m->path, "tmpfs", MS_NOSUID | MS_NODEV, data) < 0) {
		snprintf(err, errlen, "mount tmpfs on `%s` (%s): %s", m->path,
			 data, strerror(errno));
		return -1;
	}
	return 0;
}
