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
#include <pthread.h>
#include <unistd.h>

#include "lib/hostout.h"
#include "lib/internal.h"

#define MAX_DEPTH 256

struct vol {
	ext2_filsys fs;
	int lock_fd;
	const char *name;
	char what[96]; /* "volume `name`", for messages */
};

static pthread_once_t ext2_table_once = PTHREAD_ONCE_INIT;

static void ext2_table_init(void)
{
	initialize_ext2_error_table();
}

/* A libext2fs error code in words (not "Unknown code ext2 19"). */
static const char *ext_strerror(errcode_t e)
{
	pthread_once(&ext2_table_once, ext2_table_init);
	return error_message(e);
}

/* Open the filesystem in image @img for reading, named @name. */
static int vol_open_image(struct vol *v, const char *img, const char *name)
{
	errcode_t e;

	pthread_once(&ext2_table_once, ext2_table_init);
	v->name = name;
	snprintf(v->what, sizeof(v->what), "volume `%s`", name);
	if ((e = ext2fs_open(img, EXT2_FLAG_64BITS, 0, 0, unix_io_manager,
			     &v->fs))) {
		v->fs = NULL;
		return msb__error(MSB_ESYS, 0,
				  "volume `%s`: its filesystem cannot be "
				  "read: %s",
				  name, ext_strerror(e));
	}
	return 0;
}

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
		} else {
			rc = vol_open_image(v, img, name);
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

/* One entry of a directory. */
struct child {
	ext2_ino_t ino;
	char *name;
};

struct children {
	struct child *v;
	size_t n, cap;
	int rc;
};

static void children_free(struct children *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i].name);
	free(c->v);
	memset(c, 0, sizeof(*c));
}

static int each_child(ext2_ino_t dir, int entry, struct ext2_dir_entry *d,
		      int offset, int blocksize, char *buf, void *priv)
{
	struct children *c = priv;
	size_t len = (size_t)ext2fs_dirent_name_len(d);
	(void)dir;
	(void)offset;
	(void)blocksize;
	(void)buf;

	/* The directory's own "." and ".." by their place; any other entry
	 * named so is the guest's forgery, for the name check to refuse. */
	if (entry == DIRENT_DOT_FILE || entry == DIRENT_DOT_DOT_FILE)
		return 0;
	if (c->n >= MSB_FS_LIST_MAX) {
		c->rc = msb__error(MSB_EPROTO, 0,
				   "more than %u entries in one directory",
				   MSB_FS_LIST_MAX);
		return DIRENT_ABORT;
	}
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 32;
		struct child *v = realloc(c->v, cap * sizeof(*v));
		if (!v)
			goto nomem;
		c->v = v;
		c->cap = cap;
	}
	/* Kept whole, NUL included, for the name check to see. */
	char *name = malloc(len + 1);
	if (!name)
		goto nomem;
	memcpy(name, d->name, len);
	name[len] = '\0';
	c->v[c->n++] = (struct child){d->inode, name};
	if (memchr(name, '\0', len)) /* a NUL inside: never a plain name */
		name[0] = '\0';
	return 0;
nomem:
	c->rc = msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	return DIRENT_ABORT;
}

/*
 * The entries of directory @dir (@path in messages) but "." and "..",
 * checked as any listing from a guest is: plain names, none twice.
 */
static int read_children(struct vol *v, ext2_ino_t dir, const char *path,
			 struct children *c)
{
	errcode_t e;
	struct msb_out o = {.what = v->what};

	memset(c, 0, sizeof(*c));
	e = ext2fs_dir_iterate2(v->fs, dir, 0, NULL, each_child, c);
	if (c->rc == 0 && e)
		c->rc = msb__error(MSB_ESYS, 0, "%s: read directory `%s`: %s",
				   v->what, path, ext_strerror(e));
	if (c->rc == 0) {
		_cleanup_free_ const char **names =
			malloc((c->n ? c->n : 1) * sizeof(*names));
		if (!names) {
			c->rc = msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
		} else {
			for (size_t i = 0; i < c->n; i++)
				names[i] = c->v[i].name;
			c->rc = msb__out_check_listing(&o, path, names, c->n);
		}
	}
	if (c->rc < 0) {
		int rc = c->rc;
		children_free(c);
		return rc;
	}
	return 0;
}

EXPORT int msb_volume_list_dir(msb_fs_entry **out, size_t *count,
			       const char *volume, const char *path)
{
	struct vol v;
	struct children c = {0};
	msb_fs_entry *list = NULL;
	size_t n = 0;
	ext2_ino_t ino;
	int rc;

	MSB_LIST_START(out, count);
	if ((rc = vol_open(&v, volume)) < 0)
		return rc;
	if ((rc = vol_lookup(&v, path, &ino)) == 0) {
		if (ext2fs_check_directory(v.fs, ino))
			rc = msb__error(MSB_ENOTDIR, ENOTDIR,
					"volume `%s`: `%s` is not a directory",
					volume, path);
		else
			rc = read_children(&v, ino, path, &c);
	}
	if (rc == 0 && c.n && !(list = calloc(c.n, sizeof(*list))))
		rc = msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	for (size_t i = 0; rc == 0 && i < c.n; i++) {
		rc = entry_of(&list[n], &v, c.v[i].ino, c.v[i].name,
			      strlen(c.v[i].name));
		if (rc == 0)
			n++;
	}
	children_free(&c);
	vol_close(&v);
	if (rc < 0) {
		msb_fs_entries_free(list, n);
		return rc;
	}
	*out = list;
	*count = n;
	return 0;
}

/* One copy out of a volume. */
struct getter {
	struct vol *v;
	struct msb_out out;
	ext2_ino_t up[MAX_DEPTH + 2]; /* the directories above, for cycles */
};

static int owner_ids(const struct ext2_inode *in, int64_t *uid, int64_t *gid)
{
	*uid = inode_uid(*in);
	*gid = inode_gid(*in);
	return 0;
}

/* Copying one file: where it stands. */
struct span {
	struct getter *g;
	struct msb_out_file *f;
	ext2_file_t ef;
	const char *src, *shown;
	uint64_t pos; /* bytes of the file done */
};

/* Read the file from sp->pos up to @end into the host file. */
static int copy_span(struct span *sp, uint64_t end)
{
	static char buf[1 << 16];
	errcode_t e;
	int rc = 0;

	if ((e = ext2fs_file_llseek(sp->ef, sp->pos, EXT2_SEEK_SET, NULL)))
		return msb__error(MSB_ESYS, 0, "%s: seek `%s`: %s",
				  sp->g->v->what, sp->src, ext_strerror(e));
	while (rc == 0 && sp->pos < end) {
		unsigned int got = 0;
		uint64_t left = end - sp->pos;
		unsigned int want =
			left < sizeof(buf) ? (unsigned int)left : sizeof(buf);
		if ((e = ext2fs_file_read(sp->ef, buf, want, &got)))
			return msb__error(MSB_ESYS, 0, "%s: read `%s`: %s",
					  sp->g->v->what, sp->src,
					  ext_strerror(e));
		if (!got)
			break; /* shorter than its size says */
		rc = msb__out_file_write(&sp->g->out, sp->f, buf, got,
					 sp->shown);
		sp->pos += got;
	}
	return rc;
}

/*
 * An extent-mapped file: only its mapped, initialised extents are read;
 * what lies between them is a hole (so a file of holes costs nothing).
 * Extents that overlap or go backwards (a hostile tree) are read from
 * where the copy stands; their number is bounded by the blocks there are.
 */
static int copy_extents(struct span *sp, ext2_ino_t ino, struct ext2_inode *in,
			uint64_t size)
{
	ext2_filsys fs = sp->g->v->fs;
	ext2_extent_handle_t h;
	struct ext2fs_extent ext;
	uint64_t bs = fs->blocksize;
	uint64_t steps = ext2fs_blocks_count(fs->super) + 16;
	errcode_t e;
	int rc = 0;

	if ((e = ext2fs_extent_open2(fs, ino, in, &h)))
		return msb__error(MSB_ESYS, 0, "%s: extents of `%s`: %s",
				  sp->g->v->what, sp->src, ext_strerror(e));
	e = ext2fs_extent_get(h, EXT2_EXTENT_ROOT, &ext);
	while (rc == 0 && !e && sp->pos < size) {
		if (!steps--) {
			rc = msb__error(MSB_EPROTO, 0,
					"%s: `%s`: its extent tree does not "
					"end",
					sp->g->v->what, sp->src);
			break;
		}
		if (ext.e_flags & EXT2_EXTENT_FLAGS_LEAF &&
		    !(ext.e_flags & EXT2_EXTENT_FLAGS_UNINIT)) {
			uint64_t start = ext.e_lblk * bs;
			uint64_t end = (ext.e_lblk + (uint64_t)ext.e_len) * bs;
			if (end > size)
				end = size;
			if (start > sp->pos && start < size) {
				rc = msb__out_file_hole(&sp->g->out, sp->f,
							start - sp->pos,
							sp->shown);
				sp->pos = start;
			}
			if (rc == 0 && end > sp->pos)
				rc = copy_span(sp, end);
		}
		e = ext2fs_extent_get(h, EXT2_EXTENT_NEXT_LEAF, &ext);
	}
	ext2fs_extent_free(h);
	if (rc == 0 && e && e != EXT2_ET_EXTENT_NO_NEXT &&
	    e != EXT2_ET_NO_CURRENT_NODE)
		rc = msb__error(MSB_ESYS, 0, "%s: extents of `%s`: %s",
				sp->g->v->what, sp->src, ext_strerror(e));
	return rc;
}

/* Regular file @ino: its contents, holes kept, bounded by the limits. */
static int copy_file(struct getter *g, ext2_ino_t ino, struct ext2_inode *in,
		     int dir, const char *name, const char *src,
		     const char *shown)
{
	struct msb_out_file f;
	ext2_file_t ef;
	errcode_t e;
	int rc;

	uint64_t size = EXT2_I_SIZE(in);
	if (size > g->out.max_bytes - g->out.bytes)
		return msb__error(MSB_ENOSPC, 0,
				  "%s: `%s` is %llu bytes: over the limit of "
				  "%llu (raise it with --max-size)",
				  g->v->what, src, (unsigned long long)size,
				  (unsigned long long)g->out.max_bytes);
	if ((rc = msb__out_file_begin(&g->out, &f, dir, name, shown)) < 0)
		return rc;
	if ((e = ext2fs_file_open(g->v->fs, ino, 0, &ef))) {
		msb__out_file_abort(&f);
		return msb__error(MSB_ESYS, 0, "%s: open `%s`: %s", g->v->what,
				  src, ext_strerror(e));
	}
	struct span sp = {g, &f, ef, src, shown, 0};
	if (in->i_flags & EXT4_EXTENTS_FL)
		rc = copy_extents(&sp, ino, in, size);
	else
		rc = copy_span(&sp, size);
	if (rc == 0 && sp.pos < size)
		rc = msb__out_file_hole(&g->out, &f, size - sp.pos, shown);
	ext2fs_file_close(ef);
	int64_t uid, gid;
	owner_ids(in, &uid, &gid);
	if (rc == 0)
		return msb__out_file_commit(&g->out, &f, in->i_mode & 07777,
					    uid, gid, shown);
	msb__out_file_abort(&f);
	return rc;
}

/*
 * Inode @ino of the volume (@src there) to @name in host directory @dir
 * (@shown on the host, for messages); @depth directories above it.
 */
static int copy_out(struct getter *g, ext2_ino_t ino, const char *src, int dir,
		    const char *name, const char *shown, int depth)
{
	struct ext2_inode in;
	errcode_t e;
	int rc;

	if (depth > MAX_DEPTH)
		return msb__error(MSB_EINVAL, 0, "%s: `%s`: tree too deep",
				  g->v->what, src);
	if ((e = ext2fs_read_inode(g->v->fs, ino, &in)))
		return msb__error(MSB_ESYS, 0, "%s: inode of `%s`: %s",
				  g->v->what, src, ext_strerror(e));
	if (LINUX_S_ISLNK(in.i_mode)) {
		_cleanup_free_ char *t = link_target(g->v->fs, ino, &in);
		if (!t)
			return msb__error(MSB_EPROTO, 0,
					  "%s: cannot read the symlink `%s`",
					  g->v->what, src);
		return msb__out_symlink(&g->out, dir, name, t, shown);
	}
	if (LINUX_S_ISREG(in.i_mode))
		return copy_file(g, ino, &in, dir, name, src, shown);
	if (!LINUX_S_ISDIR(in.i_mode)) {
		msb__log(MSB_LOG_WARN,
			 "skipping `%s`: not a file, directory or symlink",
			 src);
		return 0;
	}
	for (int i = 0; i < depth; i++)
		if (g->up[i] == ino)
			return msb__error(MSB_EPROTO, 0,
					  "%s: `%s` is a directory that "
					  "contains itself: the filesystem is "
					  "corrupt or hostile",
					  g->v->what, src);
	g->up[depth] = ino;

	_cleanup_close_ int fd = -1;
	struct children c;
	if ((rc = msb__out_dir(&g->out, &fd, dir, name, shown)) < 0 ||
	    (rc = read_children(g->v, ino, src, &c)) < 0)
		return rc;
	for (size_t i = 0; rc == 0 && i < c.n; i++) {
		_cleanup_free_ char *s = xasprintf(
			"%s%s%s", src, src[strlen(src) - 1] == '/' ? "" : "/",
			c.v[i].name);
		_cleanup_free_ char *h = xasprintf("%s/%s", shown, c.v[i].name);
		rc = s && h ? copy_out(g, c.v[i].ino, s, fd, c.v[i].name, h,
				       depth + 1)
			    : msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	}
	children_free(&c);
	if (rc < 0)
		return rc;
	int64_t uid, gid;
	owner_ids(&in, &uid, &gid);
	return msb__out_dir_done(&g->out, fd, in.i_mode & 07777, uid, gid,
				 shown);
}

static int copy_out_fs(struct vol *v, const char *path, const char *host_path,
		       const msb_copy_options *opts)
{
	struct getter g = {.v = v};
	_cleanup_close_ int dir = -1;
	_cleanup_free_ char *name = NULL;
	ext2_ino_t ino;
	int rc;

	if ((rc = msb__out_init(&g.out, opts, v->what)) < 0 ||
	    (rc = msb__out_open_top(&dir, &name, host_path)) < 0 ||
	    (rc = vol_lookup(v, path, &ino)) < 0)
		return rc;
	return copy_out(&g, ino, path, dir, name, host_path, 0);
}

EXPORT int msb_volume_copy_out(const char *volume, const char *path,
			       const char *host_path,
			       const msb_copy_options *opts)
{
	struct vol v;
	int rc;

	msb__error_clear();
	if (!host_path)
		return msb__error(MSB_EINVAL, 0, "host path is NULL");
	if ((rc = vol_open(&v, volume)) < 0)
		return rc;
	rc = copy_out_fs(&v, path, host_path, opts);
	vol_close(&v);
	return rc;
}

int msb__volume_image_copy_out(const char *img, const char *path,
			       const char *host_path,
			       const msb_copy_options *opts)
{
	struct vol v = {.lock_fd = -1};
	int rc = vol_open_image(&v, img, "image");

	if (rc == 0)
		rc = copy_out_fs(&v, path, host_path, opts);
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
			  what, path, ext_strerror(e));
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
