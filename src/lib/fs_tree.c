// SPDX-License-Identifier: Apache-2.0
/*
 * Copying files and trees between the host and a sandbox through the
 * guest filesystem API, keeping permission bits, and symlinks as symlinks,
 * in bounded memory (each file streams). Other file types are skipped with
 * a warning. Used by msb cp and by rootfs patches.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/internal.h"

#define MAX_DEPTH 256

static long from_fd(void *buf, size_t cap, void *ud)
{
	ssize_t n;

	do
		n = read(*(int *)ud, buf, cap);
	while (n < 0 && errno == EINTR);
	return n;
}

static int to_fd(const void *data, size_t len, void *ud)
{
	return write_all(*(int *)ud, data, len) < 0;
}

/* Host → guest, recursively. */
static int put(msb_sandbox *sb, const char *src, const char *dst, int depth)
{
	struct stat st;

	if (depth > MAX_DEPTH)
		return msb__error(MSB_EINVAL, 0, "`%s`: tree too deep", src);
	if (lstat(src, &st) < 0)
		return msb__error(errno == ENOENT ? MSB_ENOTFOUND : MSB_ESYS,
				  errno, "`%s`: %s", src, strerror(errno));
	if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlink(src, target, sizeof(target) - 1);
		if (n < 0)
			return msb__error(MSB_ESYS, errno, "readlink `%s`: %s",
					  src, strerror(errno));
		target[n] = '\0';
		msb_sandbox_fs_remove(sb, dst, 0);
		return msb_sandbox_fs_symlink(sb, dst, target);
	}
	if (S_ISREG(st.st_mode)) {
		_cleanup_close_ int fd = open(src, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return msb__error(MSB_ESYS, errno, "open `%s`: %s", src,
					  strerror(errno));
		int rc = msb_sandbox_fs_write_stream(sb, dst, from_fd, &fd,
						     st.st_mode & 07777, 0);
		return rc < 0 ? rc
			      : msb_sandbox_fs_chmod(sb, dst,
						     st.st_mode & 07777);
	}
	if (!S_ISDIR(st.st_mode)) {
		msb__log(MSB_LOG_WARN,
			 "skipping `%s`: not a file, directory or symlink",
			 src);
		return 0;
	}
	int rc = msb_sandbox_fs_mkdir(sb, dst, 0700, 1);
	if (rc < 0)
		return rc;
	DIR *d = opendir(src);
	if (!d)
		return msb__error(MSB_ESYS, errno, "opendir `%s`: %s", src,
				  strerror(errno));
	struct dirent *e;
	while (rc == 0 && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		_cleanup_free_ char *s = xasprintf("%s/%s", src, e->d_name);
		_cleanup_free_ char *t = xasprintf("%s/%s", dst, e->d_name);
		rc = s && t ? put(sb, s, t, depth + 1)
			    : msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	}
	closedir(d);
	/* The directory's own mode last, in case it forbids writing. */
	return rc < 0 ? rc : msb_sandbox_fs_chmod(sb, dst, st.st_mode & 07777);
}

/* Guest → host, recursively. */
static int get(msb_sandbox *sb, const char *src, const char *dst, int depth)
{
	msb_fs_entry e;
	int rc = 0;

	if (depth > MAX_DEPTH)
		return msb__error(MSB_EINVAL, 0, "`%s`: tree too deep", src);
	if ((rc = msb_sandbox_fs_stat(&e, sb, src)) < 0)
		return rc;
	if (e.type == MSB_FS_SYMLINK) {
		unlink(dst);
		if (!e.target || symlink(e.target, dst) < 0)
			rc = msb__error(MSB_ESYS, errno, "symlink `%s`: %s",
					dst, strerror(errno));
	} else if (e.type == MSB_FS_FILE) {
		_cleanup_close_ int fd = open(
			dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0)
			rc = msb__error(MSB_ESYS, errno, "open `%s`: %s", dst,
					strerror(errno));
		else if ((rc = msb_sandbox_fs_read_stream(sb, src, to_fd,
							  &fd)) < 0)
			;
		else if (fchmod(fd, e.mode) < 0)
			rc = msb__error(MSB_ESYS, errno, "chmod `%s`: %s", dst,
					strerror(errno));
	} else if (e.type == MSB_FS_DIR) {
		msb_fs_entry *v = NULL;
		size_t n = 0;
		if (mkdir(dst, 0700) < 0 && errno != EEXIST)
			rc = msb__error(MSB_ESYS, errno, "mkdir `%s`: %s", dst,
					strerror(errno));
		else
			rc = msb_sandbox_fs_list(&v, &n, sb, src);
		for (size_t i = 0; rc == 0 && i < n; i++) {
			_cleanup_free_ char *s =
				xasprintf("%s/%s", src, v[i].name);
			_cleanup_free_ char *t =
				xasprintf("%s/%s", dst, v[i].name);
			rc = s && t ? get(sb, s, t, depth + 1)
				    : msb__error(MSB_ENOMEM, ENOMEM,
						 "out of memory");
		}
		msb_fs_entries_free(v, n);
		if (rc == 0 && chmod(dst, e.mode) < 0)
			rc = msb__error(MSB_ESYS, errno, "chmod `%s`: %s", dst,
					strerror(errno));
	} else {
		msb__log(MSB_LOG_WARN,
			 "skipping `%s`: not a file, directory or symlink",
			 src);
	}
	msb_fs_entry_clear(&e);
	return rc < 0 ? rc : 0;
}

EXPORT int msb_sandbox_fs_copy_in(msb_sandbox *sb, const char *host_path,
				  const char *guest_path)
{
	msb__error_clear();
	if (!sb || !host_path || !guest_path)
		return msb__error(MSB_EINVAL, 0,
				  "sandbox and both paths are required");
	return put(sb, host_path, guest_path, 0);
}

EXPORT int msb_sandbox_fs_copy_out(msb_sandbox *sb, const char *guest_path,
				   const char *host_path)
{
	msb__error_clear();
	if (!sb || !host_path || !guest_path)
		return msb__error(MSB_EINVAL, 0,
				  "sandbox and both paths are required");
	return get(sb, guest_path, host_path, 0);
}
