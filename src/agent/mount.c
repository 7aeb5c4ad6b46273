// SPDX-License-Identifier: Apache-2.0
/* msb-agent: the mounts of the hello (see mount.h). */
#include "mount.h"

#include "util/util.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <sys/stat.h>
#include <time.h>

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
	size_t klen = (size_t)(c1 - p);
	if (klen == 4 && !memcmp(p, "bind", 4)) {
		size_t tlen = (size_t)(c2 - c1 - 1);
		m->kind = AGENT_MOUNT_BIND;
		if (!tlen || tlen >= sizeof(m->tag) ||
		    memchr(c1 + 1, '\0', tlen)) {
			snprintf(why, whylen, "bad share tag");
			return -1;
		}
		memcpy(m->tag, c1 + 1, tlen);
		m->tag[tlen] = '\0';
		if (c3 - c2 - 1 != 2 ||
		    (memcmp(c2 + 1, "ro", 2) && memcmp(c2 + 1, "rw", 2))) {
			snprintf(why, whylen, "expected ro or rw");
			return -1;
		}
		m->readonly = !memcmp(c2 + 1, "ro", 2);
	} else if (klen == 3 && !memcmp(p, "vol", 3)) {
		uint64_t id;
		m->kind = AGENT_MOUNT_VOLUME;
		if (msb_parse_dec(c1 + 1, (size_t)(c2 - c1 - 1), &id) < 0 ||
		    id > 255) {
			snprintf(why, whylen, "bad volume target");
			return -1;
		}
		m->target = (unsigned int)id;
		if (c3 - c2 - 1 != 2 ||
		    (memcmp(c2 + 1, "ro", 2) && memcmp(c2 + 1, "rw", 2))) {
			snprintf(why, whylen, "expected ro or rw");
			return -1;
		}
		m->readonly = !memcmp(c2 + 1, "ro", 2);
	} else if (klen == 5 && !memcmp(p, "tmpfs", 5)) {
		uint64_t mode = 0;
		m->kind = AGENT_MOUNT_TMPFS;
		if (msb_parse_dec(c1 + 1, (size_t)(c2 - c1 - 1), &m->size) <
		    0) {
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
	} else {
		snprintf(why, whylen, "unknown mount kind `%.*s`",
			 (int)(klen > 16 ? 16 : klen), p);
		return -1;
	}
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

/*
 * The block device of SCSI target @target ("sdX" in @name), waiting for
 * the asynchronous SCSI scan up to @wait_ms. Return: 0 or -1.
 */
static int find_scsi_disk(unsigned int target, char *name, size_t len,
			  unsigned int wait_ms)
{
	char want[32];

	snprintf(want, sizeof(want), ":0:%u:0", target);
	for (unsigned int t = 0;; t += 10) {
		DIR *d = opendir("/sys/bus/scsi/devices");
		struct dirent *e;
		while (d && (e = readdir(d))) {
			const char *tail = strchr(e->d_name, ':');
			if (!tail || strcmp(tail, want))
				continue;
			char path[300];
			snprintf(path, sizeof(path),
				 "/sys/bus/scsi/devices/%s/block", e->d_name);
			DIR *b = opendir(path);
			struct dirent *be;
			while (b && (be = readdir(b))) {
				if (be->d_name[0] == '.')
					continue;
				snprintf(name, len, "%s", be->d_name);
				closedir(b);
				closedir(d);
				return 0;
			}
			if (b)
				closedir(b);
		}
		if (d)
			closedir(d);
		if (t >= wait_ms)
			return -1;
		struct timespec ts = {.tv_nsec = 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

static int mount_volume(const struct agent_mount *m, char *err, size_t errlen)
{
	char disk[NAME_MAX + 1], dev[NAME_MAX + 8];

	if (find_scsi_disk(m->target, disk, sizeof(disk), 10000) < 0) {
		snprintf(err, errlen,
			 "volume for `%s`: no disk on SCSI target %u", m->path,
			 m->target);
		return -1;
	}
	snprintf(dev, sizeof(dev), "/dev/%s", disk);
	/* Read-only: no journal replay either (noload), so the disk is not
	 * written at all. */
	unsigned long flags =
		MS_NOSUID | MS_NODEV | (m->readonly ? MS_RDONLY : 0);
	if (mount(dev, m->path, "ext4", flags, m->readonly ? "noload" : NULL) <
	    0) {
		snprintf(err, errlen, "mount volume %s on `%s`: %s", dev,
			 m->path, strerror(errno));
		return -1;
	}
	return 0;
}

int agent_mount_apply(const struct agent_mount *m, char *err, size_t errlen)
{
	char data[64];

	if (make_dirs(m->path) < 0) {
		snprintf(err, errlen, "mount point `%s`: %s", m->path,
			 strerror(errno));
		return -1;
	}
	if (m->kind == AGENT_MOUNT_VOLUME)
		return mount_volume(m, err, errlen);
	if (m->kind == AGENT_MOUNT_BIND) {
		unsigned long fl =
			MS_NOSUID | MS_NODEV | (m->readonly ? MS_RDONLY : 0);
		if (mount(m->tag, m->path, "virtiofs", fl, NULL) < 0) {
			snprintf(err, errlen,
				 "mount shared directory %s on `%s`: %s",
				 m->tag, m->path, strerror(errno));
			return -1;
		}
		return 0;
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

/* From the kernel's fs/ext4/ext4.h: grow a mounted ext4 to n blocks. */
#define EXT4_IOC_RESIZE_FS _IOW('f', 16, uint64_t)
#define EXT4_MAGIC 0xEF53

int agent_grow_root(const char *dev, char *err, size_t errlen)
{
	char path[300], buf[64];
	struct statfs sf;
	const char *base = strrchr(dev, '/');

	snprintf(path, sizeof(path), "/sys/class/block/%s/size",
		 base ? base + 1 : dev);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0; /* not a block device: nothing to grow */
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0 || statfs("/", &sf) < 0 || sf.f_type != EXT4_MAGIC ||
	    sf.f_bsize <= 0)
		return 0;
	buf[n] = '\0';
	uint64_t bytes = strtoull(buf, NULL, 10) * 512u;
	uint64_t blocks = bytes / (uint64_t)sf.f_bsize;
	/* Nothing to do when the disk is the filesystem's size: the kernel
	 * returns at once. */
	fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, EXT4_IOC_RESIZE_FS, &blocks) < 0) {
		snprintf(err, errlen,
			 "grow the root filesystem to %llu bytes: %s",
			 (unsigned long long)bytes, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}
