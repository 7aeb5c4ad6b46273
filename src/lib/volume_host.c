// SPDX-License-Identifier: Apache-2.0
/*
 * Host-side access to a volume that no sandbox writes: list a directory
 * and copy files or trees out, straight from its ext4 image through
 * libext2fs (no root, no loop mount). A shared lock on the image keeps a
 * sandbox from attaching it read-write meanwhile; read-only attachments
 * may run alongside.
 */
#include <dirent.h>
#include <errno.h>
#include <et/com_err.h>
#include <ext2fs/ext2fs.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
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

/* A child of a directory: its inode and name (not NUL-terminated). */
typedef int (*child_fn)(ext2_ino_t ino, const char *name, size_t len,
			void *priv);

struct children {
	child_fn fn;
	void *priv;
	int rc;
};

static int each_child(struct ext2_dir_entry *d, int offset, int blocksize,
		      char *buf, void *priv)
{
	struct children *c = priv;
	size_t len = (size_t)ext2fs_dirent_name_len(d);
	(void)offset;
	(void)blocksize;
	(void)buf;

	if ((len == 1 && d->name[0] == '.') ||
	    (len == 2 && d->name[0] == '.' && d->name[1] == '.'))
		return 0;
	c->rc = c->fn(d->inode, d->name, len, c->priv);
	return c->rc < 0 ? DIRENT_ABORT : 0;
}

/* Call @fn for each entry of directory @dir but "." and "..", until one
 * returns a negative value, which is returned. */
static int for_each_child(struct vol *v, ext2_ino_t dir, child_fn fn,
			  void *priv)
{
	struct children c = {fn, priv, 0};

	ext2fs_dir_iterate(v->fs, dir, 0, NULL, each_child, &c);
	return c.rc;
}

struct listing {
	struct vol *v;
	msb_fs_entry *e;
	size_t n;
};

static int list_one(ext2_ino_t ino, const char *name, size_t len, void *priv)
{
	struct listing *l = priv;
	msb_fs_entry *g = realloc(l->e, (l->n + 1) * sizeof(*g));
	int rc;

	if (!g)
		return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	l->e = g;
	if ((rc = entry_of(&l->e[l->n], l->v, ino, name, len)) < 0)
		return rc;
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

	MSB_LIST_START(out, count);
	if ((rc = vol_open(&v, volume)) < 0)
		return rc;
	if ((rc = vol_lookup(&v, path, &ino)) == 0) {
		if (ext2fs_check_directory(v.fs, ino)) {
			rc = msb__error(MSB_ENOTDIR, ENOTDIR,
					"volume `%s`: `%s` is not a directory",
					volume, path);
		} else {
			rc = for_each_child(&v, ino, list_one, &l);
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
};

static int copy_child(ext2_ino_t ino, const char *name, size_t len, void *priv)
{
	struct tree *t = priv;
	_cleanup_free_ char *s = xasprintf("%s/%.*s", t->src, (int)len, name);
	_cleanup_free_ char *h = xasprintf("%s/%.*s", t->dst, (int)len, name);

	return s && h ? copy_out(t->v, ino, s, h, t->depth + 1)
		      : msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
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
	struct tree t = {v, src, dst, depth};
	int rc = for_each_child(v, ino, copy_child, &t);
	if (rc < 0)
		return rc;
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

/* --- copying in (the image opened read-write, held alone) --- */

static int ext_err(struct vol *v, errcode_t e, const char *what,
		   const char *path)
{
	if (e == EXT2_ET_BLOCK_ALLOC_FAIL || e == EXT2_ET_INODE_ALLOC_FAIL ||
	    e == EXT2_ET_DIR_NO_SPACE_FOR_CSUM)
		return msb__error(MSB_ENOSPC, ENOSPC,
				  "volume `%s` is full: %s `%s`", v->name, what,
				  path);
	return msb__error(MSB_ESYS, 0, "volume `%s`: %s `%s`: %s", v->name,
			  what, path, error_message(e));
}

/* Link @ino into @dir as @name, growing the directory if it is full. */
static errcode_t link_in(ext2_filsys fs, ext2_ino_t dir, const char *name,
			 ext2_ino_t ino, int type)
{
	errcode_t e = ext2fs_link(fs, dir, name, ino, type);
	if (e == EXT2_ET_DIR_NO_SPACE) {
		if ((e = ext2fs_expand_dir(fs, dir)))
			return e;
		e = ext2fs_link(fs, dir, name, ino, type);
	}
	return e;
}

/* Owner, mode bits and times of @st on inode @ino. */
static errcode_t set_attrs(ext2_filsys fs, ext2_ino_t ino,
			   const struct stat *st)
{
	struct ext2_inode in;
	errcode_t e = ext2fs_read_inode(fs, ino, &in);

	if (e)
		return e;
	in.i_mode =
		(uint16_t)((in.i_mode & LINUX_S_IFMT) | (st->st_mode & 07777));
	ext2fs_set_i_uid_high(in, st->st_uid >> 16);
	in.i_uid = (uint16_t)st->st_uid;
	ext2fs_set_i_gid_high(in, st->st_gid >> 16);
	in.i_gid = (uint16_t)st->st_gid;
	in.i_mtime = (uint32_t)st->st_mtime;
	in.i_atime = (uint32_t)st->st_atime;
	in.i_ctime = (uint32_t)time(NULL);
	return ext2fs_write_inode(fs, ino, &in);
}

/* A new, empty regular file @name in @dir; its inode in *@ino. */
static errcode_t new_file(ext2_filsys fs, ext2_ino_t dir, const char *name,
			  ext2_ino_t *ino)
{
	struct ext2_inode in;
	errcode_t e =
		ext2fs_new_inode(fs, dir, LINUX_S_IFREG | 0600, NULL, ino);

	if (e || (e = link_in(fs, dir, name, *ino, EXT2_FT_REG_FILE)))
		return e;
	ext2fs_inode_alloc_stats2(fs, *ino, +1, 0);
	memset(&in, 0, sizeof(in));
	in.i_mode = LINUX_S_IFREG | 0600;
	in.i_links_count = 1;
	in.i_atime = in.i_ctime = in.i_mtime = (uint32_t)time(NULL);
	if (ext2fs_has_feature_extents(fs->super)) {
		/* an empty extent tree in the inode */
		ext2_extent_handle_t h;
		if ((e = ext2fs_extent_open2(fs, *ino, &in, &h)))
			return e;
		ext2fs_extent_free(h);
	}
	return ext2fs_write_new_inode(fs, *ino, &in);
}

/* Write the host file @src into inode @ino (truncated first). */
static int fill_file(struct vol *v, ext2_ino_t ino, const char *src,
		     const char *dst)
{
	_cleanup_close_ int fd = open(src, O_RDONLY | O_CLOEXEC);
	ext2_file_t f;
	errcode_t e;
	static char buf[1 << 16];

	if (fd < 0)
		return msb__error(MSB_ESYS, errno, "open `%s`: %s", src,
				  strerror(errno));
	if ((e = ext2fs_file_open(v->fs, ino, EXT2_FILE_WRITE, &f)))
		return ext_err(v, e, "open", dst);
	e = ext2fs_file_set_size2(f, 0);
	for (;;) {
		ssize_t n = e ? 0 : read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ext2fs_file_close(f);
			return msb__error(MSB_ESYS, errno, "read `%s`: %s", src,
					  strerror(errno));
		}
		if (n == 0)
			break;
		for (ssize_t off = 0; !e && off < n;) {
			unsigned int w = 0;
			e = ext2fs_file_write(f, buf + off,
					      (unsigned int)(n - off), &w);
			off += w;
		}
	}
	errcode_t c = ext2fs_file_close(f);
	if (e || c)
		return ext_err(v, e ? e : c, "write", dst);
	return 0;
}

/* Host @src → @name in directory @dir of the volume (@dst for messages). */
static int copy_in(struct vol *v, const char *src, ext2_ino_t dir,
		   const char *name, const char *dst, int depth)
{
	struct stat st;
	ext2_ino_t ino = 0;
	errcode_t e;
	int rc;

	if (depth > MAX_DEPTH)
		return msb__error(MSB_EINVAL, 0, "`%s`: tree too deep", src);
	if (lstat(src, &st) < 0)
		return msb__error(errno == ENOENT ? MSB_ENOTFOUND : MSB_ESYS,
				  errno, "`%s`: %s", src, strerror(errno));
	bool exists =
		!ext2fs_lookup(v->fs, dir, name, strlen(name), NULL, &ino);
	struct ext2_inode cur;
	if (exists && (e = ext2fs_read_inode(v->fs, ino, &cur)))
		return ext_err(v, e, "read", dst);

	if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlink(src, target, sizeof(target) - 1);
		if (n < 0)
			return msb__error(MSB_ESYS, errno, "readlink `%s`: %s",
					  src, strerror(errno));
		target[n] = '\0';
		if (exists)
			return msb__error(MSB_EEXIST, EEXIST,
					  "volume `%s`: `%s` exists", v->name,
					  dst);
		if ((e = ext2fs_symlink(v->fs, dir, 0, name, target)))
			return ext_err(v, e, "symlink", dst);
		return 0;
	}
	if (S_ISREG(st.st_mode)) {
		if (exists && !LINUX_S_ISREG(cur.i_mode))
			return msb__error(MSB_EEXIST, EEXIST,
					  "volume `%s`: `%s` exists and is not "
					  "a file",
					  v->name, dst);
		if (!exists && (e = new_file(v->fs, dir, name, &ino)))
			return ext_err(v, e, "create", dst);
		if ((rc = fill_file(v, ino, src, dst)) < 0)
			return rc;
		if ((e = set_attrs(v->fs, ino, &st)))
			return ext_err(v, e, "set attributes of", dst);
		return 0;
	}
	if (!S_ISDIR(st.st_mode)) {
		msb__log(MSB_LOG_WARN,
			 "skipping `%s`: not a file, directory or symlink",
			 src);
		return 0;
	}
	if (exists && !LINUX_S_ISDIR(cur.i_mode))
		return msb__error(MSB_EEXIST, EEXIST,
				  "volume `%s`: `%s` exists and is not a "
				  "directory",
				  v->name, dst);
	if (!exists) {
		if ((e = ext2fs_mkdir(v->fs, dir, 0, name)) ==
			    EXT2_ET_DIR_NO_SPACE &&
		    !(e = ext2fs_expand_dir(v->fs, dir)))
			e = ext2fs_mkdir(v->fs, dir, 0, name);
		if (e || (e = ext2fs_lookup(v->fs, dir, name, strlen(name),
					    NULL, &ino)))
			return ext_err(v, e, "mkdir", dst);
	}
	DIR *d = opendir(src);
	if (!d)
		return msb__error(MSB_ESYS, errno, "opendir `%s`: %s", src,
				  strerror(errno));
	struct dirent *de;
	rc = 0;
	while (rc == 0 && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		_cleanup_free_ char *s = xasprintf("%s/%s", src, de->d_name);
		_cleanup_free_ char *t = xasprintf("%s/%s", dst, de->d_name);
		rc = s && t ? copy_in(v, s, ino, de->d_name, t, depth + 1)
			    : msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	}
	closedir(d);
	if (rc == 0 && (e = set_attrs(v->fs, ino, &st)))
		return ext_err(v, e, "set attributes of", dst);
	return rc;
}

EXPORT int msb_volume_copy_in(const char *volume, const char *host_path,
			      const char *path)
{
	struct msb_paths paths;
	_cleanup_free_ char *img = NULL, *parent = NULL;
	struct vol v = {.lock_fd = -1, .name = volume};
	ext2_ino_t dir;
	errcode_t e;
	int rc;

	msb__error_clear();
	if (!host_path || !path || path[0] != '/' || !path[strspn(path, "/")])
		return msb__error(MSB_EINVAL, 0,
				  "a host path and an absolute volume path "
				  "(not /) are required");
	if ((rc = msb__paths_home(&paths)) < 0)
		return rc;
	if ((rc = msb__volume_path(&img, paths.home, volume)) < 0)
		goto out;
	v.lock_fd = open(img, O_RDONLY | O_CLOEXEC);
	if (v.lock_fd < 0) {
		rc = msb__error(MSB_ENOTFOUND, errno, "no volume named `%s`",
				volume);
		goto out;
	}
	/* Written from here: no sandbox may have it, even read-only. */
	if (flock(v.lock_fd, LOCK_EX | LOCK_NB) < 0) {
		msb__volume_conflict(paths.home, volume, "");
		rc = -MSB_ESTATE;
		goto out;
	}
	if ((e = ext2fs_open(img, EXT2_FLAG_RW | EXT2_FLAG_64BITS, 0, 0,
			     unix_io_manager, &v.fs))) {
		v.fs = NULL;
		rc = msb__error(MSB_ESYS, 0, "volume `%s`: open: %s", volume,
				error_message(e));
		goto out;
	}
	if ((e = ext2fs_read_bitmaps(v.fs))) {
		rc = ext_err(&v, e, "read bitmaps of", "/");
		goto out;
	}
	/* The parent must exist; the last component is made. */
	parent = strdup(path);
	char *slash = parent ? strrchr(parent, '/') : NULL;
	while (slash && slash > parent && !slash[1]) { /* trailing '/' */
		*slash = '\0';
		slash = strrchr(parent, '/');
	}
	if (!slash) {
		rc = msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
		goto out;
	}
	*slash = '\0';
	const char *name = slash + 1;
	if ((rc = vol_lookup(&v, parent[0] ? parent : "/", &dir)) < 0)
		goto out;
	rc = copy_in(&v, host_path, dir, name, path, 0);
out:
	if (v.fs) {
		/* write back bitmaps, group descriptors, superblock */
		e = ext2fs_close_free(&v.fs);
		if (e && rc == 0)
			rc = msb__error(MSB_ESYS, 0, "volume `%s`: close: %s",
					volume, error_message(e));
	}
	close_fd(&v.lock_fd);
	msb__paths_clear(&paths);
	return rc;
}
