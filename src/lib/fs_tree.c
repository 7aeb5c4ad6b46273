// SPDX-License-Identifier: Apache-2.0
/*
 * Copying files and trees between the host and a sandbox through the
 * guest filesystem API, keeping permission bits, and symlinks as symlinks,
 * in bounded memory (each file streams). Other file types are skipped with
 * a warning. Used by msb cp and by rootfs patches. Host files are written
 * only through hostout.c, which treats what the guest sends as hostile.
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

#include "lib/hostout.h"
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

/* Guest → host: one copy, through the safe writer (hostout.c). */
struct getter {
	msb_sandbox *sb;
	struct msb_out out;
	char what[128];
};

struct file_sink {
	struct getter *g;
	struct msb_out_file *f;
	const char *shown;
	int rc;
	msb_error err; /* the writer's error, kept across the cancel */
};

static int to_out_file(const void *data, size_t len, void *ud)
{
	struct file_sink *s = ud;

	s->rc = msb__out_file_write(&s->g->out, s->f, data, len, s->shown);
	if (s->rc < 0)
		msb__error_save(&s->err);
	return s->rc < 0;
}

static int hole_to_out_file(uint64_t len, void *ud)
{
	struct file_sink *s = ud;

	s->rc = msb__out_file_hole(&s->g->out, s->f, len, s->shown);
	if (s->rc < 0)
		msb__error_save(&s->err);
	return s->rc < 0;
}

/*
 * Entry @e of the guest (at guest path @src) to @name in host directory
 * @dir (@shown: its host path, for messages).
 */
static int get(struct getter *g, const msb_fs_entry *e, const char *src,
	       int dir, const char *name, const char *shown, int depth)
{
	int rc;

	if (depth > MAX_DEPTH)
		return msb__error(MSB_EINVAL, 0, "`%s`: tree too deep", src);
	if (e->type == MSB_FS_SYMLINK)
		return msb__out_symlink(&g->out, dir, name, e->target, shown);
	if (e->type == MSB_FS_FILE) {
		struct msb_out_file f;
		if ((rc = msb__out_file_begin(&g->out, &f, dir, name, shown)) <
		    0)
			return rc;
		struct file_sink s = {.g = g, .f = &f, .shown = shown};
		rc = msb__fs_read_holes(g->sb, src, to_out_file,
					hole_to_out_file, &s);
		if (s.rc < 0)
			rc = msb__error_restore(&s.err); /* the writer's */
		if (rc == 0)
			return msb__out_file_commit(&g->out, &f, e->mode,
						    e->uid, e->gid, shown);
		msb__out_file_abort(&f);
		return rc;
	}
	if (e->type != MSB_FS_DIR) {
		msb__log(MSB_LOG_WARN,
			 "skipping `%s`: not a file, directory or symlink",
			 src);
		return 0;
	}
	_cleanup_close_ int fd = -1;
	msb_fs_entry *v = NULL;
	size_t n = 0;
	if ((rc = msb__out_dir(&g->out, &fd, dir, name, shown)) < 0 ||
	    (rc = msb_sandbox_fs_list(&v, &n, g->sb, src)) < 0)
		return rc;
	/* msb_sandbox_fs_list() has checked the names. */
	for (size_t i = 0; rc == 0 && i < n; i++) {
		_cleanup_free_ char *s = xasprintf(
			"%s%s%s", src, src[strlen(src) - 1] == '/' ? "" : "/",
			v[i].name);
		_cleanup_free_ char *t = xasprintf("%s/%s", shown, v[i].name);
		rc = s && t ? get(g, &v[i], s, fd, v[i].name, t, depth + 1)
			    : msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	}
	msb_fs_entries_free(v, n);
	if (rc < 0)
		return rc;
	/* The directory's own mode last, in case it forbids writing. */
	return msb__out_dir_done(&g->out, fd, e->mode, e->uid, e->gid, shown);
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
				   const char *host_path,
				   const msb_copy_options *opts)
{
	struct getter g = {.sb = sb};
	msb_fs_entry e;
	int rc;

	msb__error_clear();
	if (!sb || !host_path || !guest_path)
		return msb__error(MSB_EINVAL, 0,
				  "sandbox and both paths are required");
	snprintf(g.what, sizeof(g.what), "copy out of sandbox `%s`", sb->name);
	if ((rc = msb__out_init(&g.out, opts, g.what)) < 0)
		return rc;
	_cleanup_close_ int dir = -1;
	_cleanup_free_ char *name = NULL;
	if ((rc = msb__out_open_top(&dir, &name, host_path)) < 0)
		return rc;
	if ((rc = msb_sandbox_fs_stat(&e, sb, guest_path)) < 0)
		return rc;
	rc = get(&g, &e, guest_path, dir, name, host_path, 0);
	msb_fs_entry_clear(&e);
	return rc < 0 ? rc : 0;
}
