// SPDX-License-Identifier: Apache-2.0
/*
 * Host-side access to a volume that no sandbox writes: list a directory
 * and copy files or trees out, straight from its ext4 image through
 * libext2fs (no root, no loop mount). A shared lock on the image keeps a
 * sandbox from attaching it read-write meanwhile; read-only attachments
 * may run alongside.
 */
#include <errno.h>
#include <ext2fs/ext2fs.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "lib/internal.h"

#define MAX_DEPTH 256

struct vol {
	ext2_filsys fs;
	int lock_fd;
	const char *name;
};

static int vol_open(struct vol *v, const char *name)
{
	struct msb_paths paths;
	_cleanup_free_ char *img = NULL;
	int rc;

	*v = (struct vol){.lock_fd = -1, .name = name};
	if ((rc = msb__paths_home(&paths)) < 0)
		return rc;
	rc = msb__volume_path(&img, paths.home, name);
	if (rc == 0) {
		v->lock_fd = open(img, O_RDONLY | O_CLOEXEC);
		if (v->lock_fd < 0)
			rc = msb__error(MSB_ENOTFOUND, errno,
					"no volume named `%s`", name);
		else if (flock(v->lock_fd, LOCK_SH | LOCK_NB) < 0) {
			msb__volume_conflict(paths.home, name, "");
			rc = -MSB_ESTATE;
		} else if (ext2fs_open(img, EXT2_FLAG_64BITS, 0, 0,
				       unix_io_manager, &v->fs)) {
			v->fs = NULL;
			rc = msb__error(MSB_ESYS, 0,
					"volume `%s`: its filesystem cannot be "
					"read",
					name);
		}
	}
	msb__paths_clear(&paths);
	if (rc < 0)
		close_fd(&v->lock_fd);
	return rc;
}

static void vol_close(struct vol *v)
{
	if (v->fs)
		ext2fs_close_free(&v->fs);
	close_fd(&v->lock_fd);
}

/* The inode of absolute @path (a final symlink not followed). */
static int vol_lookup(struct vol *v, const char *path, ext2_ino_t *ino)
{
	if (!path || path[0] != '/')
		return msb__error(MSB_EINVAL, 0,
				  "volume `%s`: the path must be absolute, not "
				  "`%s`",
				  v->name, path ? path : "(null)");
	if (!path[strspn(path, "/")]) {
		*ino = EXT2_ROOT_INO;
		return 0;
	}
	if (ext2fs_namei(v->fs, EXT2_ROOT_INO, EXT2_ROOT_INO, path + 1, ino))
		return msb__error(MSB_ENOTFOUND, ENOENT, "volume `%s`: no `%s`",
				  v->name, path);
	return 0;
}

/* A symlink's target (malloc'd), fast or in blocks. */
static char *link_target(ext2_filsys fs, ext2_ino_t ino, struct ext2_inode *in)
{
	size_t len = EXT2_I_SIZE(in);
	char *t;

	if (len >= PATH_MAX || !(t = malloc(len + 1)))
		return NULL;
	if (ext2fs_is_fast_symlink(in)) {
		memcpy(t, in->i_block, len);
	} else {
		ext2_file_t f;
		unsigned int got = 0;
		if (ext2fs_file_open(fs, ino, 0, &f)) {
			free(t);
			return NULL;
		}
		ext2fs_file_read(f, t, (unsigned int)len, &got);
		ext2fs_file_close(f);
		len = got;
	}
	t[len] = '\0';
	return t;
}

static msb_fs_type type_of(uint16_t mode)
{
	return LINUX_S_ISDIR(mode)    ? MSB_FS_DIR
	       : LINUX_S_ISLNK(mode)  ? MSB_FS_SYMLINK
	       : LINUX_S_ISREG(mode)  ? MSB_FS_FILE
	       : LINUX_S_ISCHR(mode)  ? MSB_FS_CHAR
	       : LINUX_S_ISBLK(mode)  ? MSB_FS_BLOCK
	       : LINUX_S_ISFIFO(mode) ? MSB_FS_FIFO
				      : MSB_FS_SOCKET;
}

static int entry_of(msb_fs_entry *e, struct vol *v, ext2_ino_t ino,
		    const char *name, size_t nlen)
{
	struct ext2_inode in;

	memset(e, 0, sizeof(*e));
	if (ext2fs_read_inode(v->fs, ino, &in))
		return msb__error(MSB_ESYS, 0, "volume `%s`: bad inode %u",
				  v->name, ino);
	e->name = strndup(name, nlen);
	e->type = type_of(in.i_mode);
	e->size = EXT2_I_SIZE(&in);
	e->mode = in.i_mode & 07777;
	e->uid = inode_uid(in);
	e->gid = inode_gid(in);
	e->mtime_ns = (int64_t)in.i_mtime * 1000000000;
	if (e->type == MSB_FS_SYMLINK)
		e->target = link_target(v->fs, ino, &in);
	if (!e->name || (e->type == MSB_FS_SYMLINK && !e->target)) {
		msb_fs_entry_clear(e);
		return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	}
	return 0;
}

struct listing {
	struct vol *v;
	msb_fs_entry *e;
	size_t n;
	int rc;
};

static int list_one(struct ext2_dir_entry *d, int offset, int blocksize,
		    char *buf, void *priv)
{
	struct listing *l = priv;
	size_t nlen = (size_t)ext2fs_dirent_name_len(d);
	(void)offset;
	(void)blocksize;
	(void)buf;

	if ((nlen == 1 && d->name[0] == '.') ||
	    (nlen == 2 && d->name[0] == '.' && d->name[1] == '.'))
		return 0;
	msb_fs_entry *g = realloc(l->e, (l->n + 1) * sizeof(*g));
	if (!g) {
		l->rc = msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
		return DIRENT_ABORT;
	}
	l->e = g;
	if ((l->rc = entry_of(&l->e[l->n], l->v, d->inode, d->name, nlen)) < 0)
		return DIRENT_ABORT;
	l->n++;
	return 0;
}

EXPORT int msb_volume_list_dir(msb_fs_entry **out, size_t *count,
			       const char *volume, const char *path)
{
	struct vol v;
	struct listing l = {.v = &v};
	ext2_ino_t ino;
	int rc;

	msb__error_clear();
	if (!out || !count)
		return msb__error(MSB_EINVAL, 0, "out and count are required");
	*out = NULL;
	*count = 0;
	if ((rc = vol_open(&v, volume)) < 0)
		return rc;
	if ((rc = vol_lookup(&v, path, &ino)) == 0) {
		if (ext2fs_check_directory(v.fs, ino)) {
			rc = msb__error(MSB_ENOTDIR, ENOTDIR,
					"volume `%s`: `%s` is not a directory",
					volume, path);
		} else {
			ext2fs_dir_iterate(v.fs, ino, 0, NULL, list_one, &l);
			rc = l.rc;
		}
	}
	vol_close(&v);
	if (rc < 0) {
		msb_fs_entries_free(l.e, l.n);
		return rc;
	}
	*out = l.e;
	*count = l.n;
	return 0;
}

/* Copy inode @ino (named @src in messages) to host path @dst. */
static int copy_out(struct vol *v, ext2_ino_t ino, const char *src,
		    const char *dst, int depth);

struct tree {
	struct vol *v;
	const char *src, *dst;
	int depth;
	int rc;
};

static int copy_child(struct ext2_dir_entry *d, int offset, int blocksize,
		      char *buf, void *priv)
{
	struct tree *t = priv;
	size_t nlen = (size_t)ext2fs_dirent_name_len(d);
	(void)offset;
	(void)blocksize;
	(void)buf;

	if ((nlen == 1 && d->name[0] == '.') ||
	    (nlen == 2 && d->name[0] == '.' && d->name[1] == '.'))
		return 0;
	_cleanup_free_ char *s =
		xasprintf("%s/%.*s", t->src, (int)nlen, d->name);
	_cleanup_free_ char *h =
		xasprintf("%s/%.*s", t->dst, (int)nlen, d->name);
	t->rc = s && h ? copy_out(t->v, d->inode, s, h, t->depth + 1)
		       : msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	return t->rc < 0 ? DIRENT_ABORT : 0;
}

static int copy_out(struct vol *v, ext2_ino_t ino, const char *src,
		    const char *dst, int depth)
{
	struct ext2_inode in;

	if (depth > MAX_DEPTH)
		return msb__error(MSB_EINVAL, 0, "`%s`: tree too deep", src);
	if (ext2fs_read_inode(v->fs, ino, &in))
		return msb__error(MSB_ESYS, 0,
				  "volume `%s`: bad inode for `%s`", v->name,
				  src);
	unsigned int mode = in.i_mode & 07777;
	if (LINUX_S_ISLNK(in.i_mode)) {
		_cleanup_free_ char *t = link_target(v->fs, ino, &in);
		unlink(dst);
		if (!t || symlink(t, dst) < 0)
			return msb__error(MSB_ESYS, errno, "symlink `%s`: %s",
					  dst, strerror(errno));
		return 0;
	}
	if (LINUX_S_ISREG(in.i_mode)) {
		_cleanup_close_ int fd = open(
			dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		ext2_file_t f;
		if (fd < 0)
			return msb__error(MSB_ESYS, errno, "open `%s`: %s", dst,
					  strerror(errno));
		if (ext2fs_file_open(v->fs, ino, 0, &f))
			return msb__error(MSB_ESYS, 0,
					  "volume `%s`: cannot read `%s`",
					  v->name, src);
		static char buf[1 << 16];
		int rc = 0;
		for (;;) {
			unsigned int got = 0;
			if (ext2fs_file_read(f, buf, sizeof(buf), &got)) {
				rc = msb__error(MSB_ESYS, 0,
						"volume `%s`: read `%s` failed",
						v->name, src);
				break;
			}
			if (!got)
				break;
			if (write_all(fd, buf, got) < 0) {
				rc = msb__error(MSB_ESYS, errno,
						"write `%s`: %s", dst,
						strerror(errno));
				break;
			}
		}
		ext2fs_file_close(f);
		if (rc == 0 && fchmod(fd, mode) < 0)
			rc = msb__error(MSB_ESYS, errno, "chmod `%s`: %s", dst,
					strerror(errno));
		return rc;
	}
	if (!LINUX_S_ISDIR(in.i_mode)) {
		msb__log(MSB_LOG_WARN,
			 "skipping `%s`: not a file, directory or symlink",
			 src);
		return 0;
	}
	if (mkdir(dst, 0700) < 0 && errno != EEXIST)
		return msb__error(MSB_ESYS, errno, "mkdir `%s`: %s", dst,
				  strerror(errno));
	struct tree t = {v, src, dst, depth, 0};
	ext2fs_dir_iterate(v->fs, ino, 0, NULL, copy_child, &t);
	if (t.rc < 0)
		return t.rc;
	if (chmod(dst, mode) < 0)
		return msb__error(MSB_ESYS, errno, "chmod `%s`: %s", dst,
				  strerror(errno));
	return 0;
}

EXPORT int msb_volume_copy_out(const char *volume, const char *path,
			       const char *host_path)
{
	struct vol v;
	ext2_ino_t ino;
	int rc;

	msb__error_clear();
	if (!host_path)
		return msb__error(MSB_EINVAL, 0, "host path is NULL");
	if ((rc = vol_open(&v, volume)) < 0)
		return rc;
	if ((rc = vol_lookup(&v, path, &ino)) == 0)
		rc = copy_out(&v, ino, path, host_path, 0);
	vol_close(&v);
	return rc;
}
