// SPDX-License-Identifier: Apache-2.0
/* A suspended sandbox's saved state: its files (suspend.h). */
#include "vmm/suspend.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/util.h"

/* The first bytes of a QEMU migration stream: "QEVM", version 3. */
static const uint8_t stream_magic[8] = {'Q', 'E', 'V', 'M', 0, 0, 0, 3};

static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

int susp_save_begin(struct susp_save *s, const char *sandbox_dir,
		    const char *folder, char *err, size_t errlen)
{
	char path[PATH_MAX + 16];

	*s = (struct susp_save){.state_fd = -1};
	snprintf(s->parent, sizeof(s->parent), "%s", sandbox_dir);
	if (snprintf(s->tmp, sizeof(s->tmp), "%s/%s.tmp", sandbox_dir,
		     folder) >= (int)sizeof(s->tmp)) {
		snprintf(err, errlen, "folder name too long");
		return -1;
	}
	snprintf(s->dir, sizeof(s->dir), "%s/%s", sandbox_dir, folder);
	/* What a save killed half-way left: never a state to restore. */
	if (rm_rf(s->tmp) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "remove `%s`: %s", s->tmp,
			 strerror(errno));
		return -1;
	}
	if (mkdir(s->tmp, 0700) < 0) {
		snprintf(err, errlen, "mkdir `%s`: %s", s->tmp,
			 strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/state", s->tmp);
	s->state_fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (s->state_fd < 0) {
		snprintf(err, errlen, "create `%s`: %s", path, strerror(errno));
		rm_rf(s->tmp);
		return -1;
	}
	return 0;
}

int susp_save_file(struct susp_save *s, const char *name, const void *buf,
		   size_t len, char *err, size_t errlen)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", s->tmp, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write_all(fd, buf, len) < 0 || fsync(fd) < 0) {
		snprintf(err, errlen, "write `%s`: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (close(fd) < 0) {
		snprintf(err, errlen, "write `%s`: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int susp_save_commit(struct susp_save *s, char *err, size_t errlen)
{
	if (fsync(s->state_fd) < 0 || sync_dir(s->tmp) < 0) {
		snprintf(err, errlen, "sync `%s`: %s", s->tmp, strerror(errno));
		susp_save_abort(s);
		return -1;
	}
	close_fd(&s->state_fd);
	/* An older state cannot be current: the disk has changed since. */
	if ((rm_rf(s->dir) < 0 && errno != ENOENT) ||
	    rename(s->tmp, s->dir) < 0) {
		snprintf(err, errlen, "rename `%s`: %s", s->tmp,
			 strerror(errno));
		susp_save_abort(s);
		return -1;
	}
	if (sync_dir(s->parent) < 0) {
		snprintf(err, errlen, "sync `%s`: %s", s->parent,
			 strerror(errno));
		return -1;
	}
	return 0;
}

void susp_save_abort(struct susp_save *s)
{
	close_fd(&s->state_fd);
	if (s->tmp[0])
		rm_rf(s->tmp);
}

bool susp_exists(const char *sandbox_dir)
{
	char path[PATH_MAX + 32];
	struct stat st;

	snprintf(path, sizeof(path), "%s/" SUSP_DIR, sandbox_dir);
	return stat(path, &st) == 0;
}

long susp_read(const char *sandbox_dir, const char *name, void *buf, size_t cap)
{
	char path[PATH_MAX + 64];
	size_t len = 0;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/" SUSP_DIR "/%s", sandbox_dir, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	while (len < cap && (n = read(fd, (char *)buf + len, cap - len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		len += (size_t)n;
	}
	close(fd);
	return (long)len;
}

const char *susp_value(const char *text, const char *name, char *out,
		       size_t outlen)
{
	size_t nl = strlen(name);

	for (const char *p = text; p && *p;) {
		const char *end = strchr(p, '\n');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len > nl && !strncmp(p, name, nl) && p[nl] == '=') {
			snprintf(out, outlen, "%.*s", (int)(len - nl - 1),
				 p + nl + 1);
			return out;
		}
		p = end ? end + 1 : NULL;
	}
	return NULL;
}

int susp_open(const char *sandbox_dir, const char *key, size_t keylen,
	      char *why, size_t whylen)
{
	static char buf[8192 + 1];
	char path[PATH_MAX + 32];
	uint8_t head[sizeof(stream_magic)];

	snprintf(path, sizeof(path), "%s/" SUSP_DIR "/state", sandbox_dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, whylen, "open `%s`: %s", path, strerror(errno));
		return -1;
	}
	if (pread(fd, head, sizeof(head), 0) != (ssize_t)sizeof(head) ||
	    memcmp(head, stream_magic, sizeof(head))) {
		snprintf(why, whylen, "`%s` is not a QEMU state", path);
		close(fd);
		return -1;
	}
	long n = susp_read(sandbox_dir, "key", buf, sizeof(buf));
	if (n < 0 || (size_t)n != keylen || memcmp(buf, key, keylen)) {
		snprintf(why, whylen,
			 "it was saved by another msb-vmm, QEMU, kernel or "
			 "initramfs, or with other devices");
		close(fd);
		return -1;
	}
	return fd;
}

int susp_remove(const char *sandbox_dir)
{
	char path[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/" SUSP_DIR, sandbox_dir);
	if (rm_rf(path) < 0 && errno != ENOENT)
		return -1;
	return sync_dir(sandbox_dir);
}
