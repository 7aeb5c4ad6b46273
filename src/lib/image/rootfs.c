// SPDX-License-Identifier: Apache-2.0
/* Root disks from image layers: tar streams applied to one ext4 image. */
/*
 * DOC: Theory of operation
 *
 * The image is made through libext2fs the way mke2fs makes ext4 on a
 * device known to read back zeroes: the file is created sparse, group
 * tables are allocated, the inode tables are never written (they read as
 * zeroes and are flagged as zeroed, so the guest kernel does not zero them
 * either), the journal is created lazily. A 4 GiB image costs a few
 * hundred KiB of writes.
 *
 * While layers are applied, the directory tree lives in memory: one node
 * per name, found through a hash table keyed by (directory inode, name)
 * with a random SipHash key, so a lookup costs the same in a directory of
 * ten entries or of a million, and crafted names cannot make it slower.
 * Everything else is written as its entry is read: files with their data,
 * symlinks, devices, fifos, and the directories' own inodes with owners,
 * modes, times and xattrs. Directory blocks are written once, by
 * msb_rootfs_finish(). Removing a tree (whiteouts, replaced entries) frees
 * its inodes and blocks at once, hard link counts honoured.
 *
 * Each node carries the number of the last layer that wrote it: created
 * it, updated it, or created something under it. An opaque marker removes
 * everything under its directory that the current layer did not write; a
 * whiteout of a name the current layer wrote removes only what lower
 * layers left under it. Both thus give the same tree whatever the order of
 * the entries in the tar stream.
 *
 * Names are looked up without following symlinks: an entry whose parent
 * is a symlink in the image is refused, never written through it.
 * Memory is the tree (a node of ~64 bytes plus the name per name in the
 * image) and a staging buffer for file data; nothing else grows with the
 * input.
 */
#include <errno.h>
#include <ext2fs/ext2_fs.h>
#include <ext2fs/ext2fs.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "lib/image/rootfs.h"
#include "lib/archive_lazy.h"
#include "lib/internal.h"

#define RF_BLOCK_SIZE 4096
#define RF_LOG_BLOCK 2      /* 1024 << 2 */
#define RF_INODE_SIZE 256   /* room for xattrs and nanosecond times */
#define RF_INODE_RATIO 8192 /* bytes of image per inode */
#define RF_MIN_SIZE (16ULL << 20)
#define RF_MAX_SIZE (1ULL << 44) /* 16 TiB: the 32-bit extent limit */
#define RF_LPF_BLOCKS 4          /* lost+found, as mke2fs makes it */
#define RF_RUN_BLOCKS 64         /* file data staged per write */
#define RF_READ_BLOCK (64 * 1024)
#define RF_XATTR_MAX 65536 /* XATTR_SIZE_MAX */
#define RF_MAX_FILE_BLOCKS (1ULL << 32)

/* Where a tar entry's name lands: components, each NUL-terminated. */
struct rf_path {
	char buf[PATH_MAX];
	uint16_t off[PATH_MAX / 2];
	uint8_t len[PATH_MAX / 2];
	size_t n;
};

struct node {
	struct node *parent;
	struct node *child; /* first child (directories) */
	struct node *next;  /* siblings */
	struct node *prev;
	struct node *hnext; /* hash chain */
	uint64_t hash;
	ext2_ino_t ino;
	uint32_t layer; /* the last layer that wrote this node */
	uint8_t type;   /* EXT2_FT_* */
	uint8_t len;
	char name[];
};

struct msb_rootfs {
	ext2_filsys fs;
	char *image;
	struct node *root;
	struct node **tab;
	size_t mask; /* buckets - 1 */
	size_t count;
	uint64_t key[2];
	uint32_t layer;
	bool broken; /* a layer failed half-way: only _free() remains */
	unsigned isize;
	uint8_t *ibuf;     /* one on-disk inode */
	uint8_t *data;     /* RF_RUN_BLOCKS blocks of file data */
	const char *lname; /* the layer being applied */
	const char *ename; /* the raw name of its current entry */
	struct rf_path path;
	struct rf_path target;
	uint64_t removals; /* tree_remove() calls, to trust the cache */
	struct {
		char buf[PATH_MAX]; /* parent components of the last entry */
		size_t len;
		struct node *dir;
		uint32_t layer;
		uint64_t removals;
	} last; /* where the last entry went: the next often goes there too */
};

/* Metadata of an entry, validated. */
struct rf_meta {
	unsigned perm;
	uint32_t uid;
	uint32_t gid;
	int64_t sec;
	uint32_t nsec;
};

/* --- Errors --- */

static pthread_once_t et_once = PTHREAD_ONCE_INIT;

static void et_init(void)
{
	initialize_ext2_error_table();
}

/* Map a libext2fs error to an MSB_E* code and an errno. */
static int ext2_code(errcode_t e, int *err)
{
	switch (e) {
	case EXT2_ET_NO_MEMORY:
		*err = ENOMEM;
		return MSB_ENOMEM;
	case EXT2_ET_BLOCK_ALLOC_FAIL:
	case EXT2_ET_INODE_ALLOC_FAIL:
		*err = ENOSPC;
		return MSB_ESYS;
	default:
		break;
	}
	if (e > 0 && e < 4096) {
		*err = (int)e;
		return e == ENOMEM ? MSB_ENOMEM : MSB_ESYS;
	}
	*err = EIO;
	return MSB_ESYS;
}

static const char *ext2_msg(errcode_t e)
{
	if (e == EXT2_ET_BLOCK_ALLOC_FAIL || e == EXT2_ET_INODE_ALLOC_FAIL)
		return "the image is full: make it larger";
	return error_message(e);
}

/* A name fit for a one-line message: escaped, cut at 200 bytes. */
static const char *shown(char *out, size_t size, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (!s)
		s = "";
	for (; *s && o + 8 < size; s++) {
		unsigned char c = (unsigned char)*s;

		if (o >= 200) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (c < 0x20 || c == 0x7f || c == '`' || c == '\\') {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
	return out;
}

/* A refused entry: "layer `L`: path `P` <why>". */
__attribute__((format(printf, 2, 3))) static int refuse(struct msb_rootfs *r,
							const char *fmt, ...)
{
	char why[512], name[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	r->broken = true;
	return msb__error(MSB_EPROTO, 0, "layer `%s`: path `%s` %s", r->lname,
			  shown(name, sizeof(name), r->ename), why);
}

/* A failed operation on the image: "layer `L`: <op> `P`: <why>". */
static int fail(struct msb_rootfs *r, errcode_t e, const char *op)
{
	char name[256];
	int err, code = ext2_code(e, &err);

	r->broken = true;
	return msb__error(code, err, "layer `%s`: %s `%s`: %s", r->lname, op,
			  shown(name, sizeof(name), r->ename), ext2_msg(e));
}

static int nomem(struct msb_rootfs *r)
{
	r->broken = true;
	return msb__error(MSB_ENOMEM, ENOMEM, "layer `%s`: out of memory",
			  r->lname);
}

/* libarchive failed: a bad layer, unless reading the file failed. */
static int read_fail(struct msb_rootfs *r, struct archive *a)
{
	const char *why = archive_error_string(a);
	int err = archive_errno(a), code = MSB_EPROTO;
	char name[256];

	if (err == ENOMEM)
		code = MSB_ENOMEM;
	else if (err == EIO || err == EBADF || err == ENXIO || err == EINTR ||
		 err == EISDIR)
		code = MSB_ESYS;
	r->broken = true;
	if (!why)
		why = "not a tar archive";
	if (r->ename)
		return msb__error(code, err > 0 ? err : 0,
				  "layer `%s`: read `%s`: %s", r->lname,
				  shown(name, sizeof(name), r->ename), why);
	return msb__error(code, err > 0 ? err : 0, "layer `%s`: read: %s",
			  r->lname, why);
}

/* --- The name table: SipHash-2-4 of (directory inode, name) --- */

#define ROTL64(x, b) (((x) << (b)) | ((x) >> (64 - (b))))

static void sip_round(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = ROTL64(v[1], 13);
	v[1] ^= v[0];
	v[0] = ROTL64(v[0], 32);
	v[2] += v[3];
	v[3] = ROTL64(v[3], 16);
	v[3] ^= v[2];
	v[0] += v[3];
	v[3] = ROTL64(v[3], 21);
	v[3] ^= v[0];
	v[2] += v[1];
	v[1] = ROTL64(v[1], 17);
	v[1] ^= v[2];
	v[2] = ROTL64(v[2], 32);
}

static uint64_t siphash(uint64_t k0, uint64_t k1, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t v[4] = {
		k0 ^ 0x736f6d6570736575ULL,
		k1 ^ 0x646f72616e646f6dULL,
		k0 ^ 0x6c7967656e657261ULL,
		k1 ^ 0x7465646279746573ULL,
	};
	uint64_t m, b = (uint64_t)len << 56;
	size_t i;

	for (; len >= 8; p += 8, len -= 8) {
		m = 0;
		for (i = 0; i < 8; i++)
			m |= (uint64_t)p[i] << (8 * i);
		v[3] ^= m;
		sip_round(v);
		sip_round(v);
		v[0] ^= m;
	}
	for (i = 0; i < len; i++)
		b |= (uint64_t)p[i] << (8 * i);
	v[3] ^= b;
	sip_round(v);
	sip_round(v);
	v[0] ^= b;
	v[2] ^= 0xff;
	for (i = 0; i < 4; i++)
		sip_round(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

static uint64_t name_hash(const struct msb_rootfs *r, ext2_ino_t dir,
			  const char *name, size_t len)
{
	return siphash(r->key[0] ^ dir, r->key[1], name, len);
}

static struct node *node_find(struct msb_rootfs *r, struct node *dir,
			      const char *name, size_t len)
{
	uint64_t h = name_hash(r, dir->ino, name, len);
	struct node *n;

	for (n = r->tab[h & r->mask]; n; n = n->hnext)
		if (n->hash == h && n->parent == dir && n->len == len &&
		    !memcmp(n->name, name, len))
			return n;
	return NULL;
}

static int table_grow(struct msb_rootfs *r)
{
	size_t size = (r->mask + 1) * 2, i;
	struct node **tab, *n, *next;

	if (size > SIZE_MAX / sizeof(*tab))
		return -1;
	tab = calloc(size, sizeof(*tab));
	if (!tab)
		return -1;
	for (i = 0; i <= r->mask; i++) {
		for (n = r->tab[i]; n; n = next) {
			next = n->hnext;
			n->hnext = tab[n->hash & (size - 1)];
			tab[n->hash & (size - 1)] = n;
		}
	}
	free(r->tab);
	r->tab = tab;
	r->mask = size - 1;
	return 0;
}

/* Add @name under @dir, stamped with the current layer. */
static struct node *node_add(struct msb_rootfs *r, struct node *dir,
			     const char *name, size_t len, uint8_t type,
			     ext2_ino_t ino)
{
	struct node *n;

	if (r->count >= r->mask + 1 && table_grow(r) < 0)
		return NULL;
	n = calloc(1, sizeof(*n) + len + 1);
	if (!n)
		return NULL;
	memcpy(n->name, name, len);
	n->len = (uint8_t)len;
	n->type = type;
	n->ino = ino;
	n->layer = r->layer;
	n->parent = dir;
	n->hash = name_hash(r, dir->ino, name, len);
	n->hnext = r->tab[n->hash & r->mask];
	r->tab[n->hash & r->mask] = n;
	n->next = dir->child;
	if (dir->child)
		dir->child->prev = n;
	dir->child = n;
	r->count++;
	return n;
}

/* Take @n out of its directory and of the table (children stay). */
static void node_detach(struct msb_rootfs *r, struct node *n)
{
	struct node **pp = &r->tab[n->hash & r->mask];

	while (*pp != n)
		pp = &(*pp)->hnext;
	*pp = n->hnext;
	if (n->prev)
		n->prev->next = n->next;
	else
		n->parent->child = n->next;
	if (n->next)
		n->next->prev = n->prev;
	n->next = n->prev = n->hnext = NULL;
	r->count--;
}

/* --- Inodes --- */

static struct ext2_inode_large *ibuf(struct msb_rootfs *r)
{
	return (struct ext2_inode_large *)r->ibuf;
}

static errcode_t inode_read(struct msb_rootfs *r, ext2_ino_t ino)
{
	return ext2fs_read_inode_full(r->fs, ino, (struct ext2_inode *)r->ibuf,
				      r->isize);
}

static errcode_t inode_write(struct msb_rootfs *r, ext2_ino_t ino)
{
	return ext2fs_write_inode_full(r->fs, ino, (struct ext2_inode *)r->ibuf,
				       r->isize);
}

/* ext4 times: 32 bits of seconds, 2 more bits in the "extra" field with
 * the nanoseconds; the range is 1901 to 2446. */
static void set_time(uint32_t *t, uint32_t *extra, int64_t sec, uint32_t nsec)
{
	const int64_t lo = INT32_MIN, hi = (int64_t)INT32_MIN + (4LL << 32) - 1;

	if (sec < lo)
		sec = lo;
	if (sec > hi)
		sec = hi;
	*t = (uint32_t)sec;
	*extra = (uint32_t)(((sec - (int64_t)(int32_t)*t) >> 32) & 3) |
		 nsec << 2;
}

static void set_meta(struct ext2_inode_large *li, const struct rf_meta *m)
{
	li->i_mode = (uint16_t)((li->i_mode & LINUX_S_IFMT) | m->perm);
	li->i_uid = (uint16_t)m->uid;
	ext2fs_set_i_uid_high(*li, m->uid >> 16);
	li->i_gid = (uint16_t)m->gid;
	ext2fs_set_i_gid_high(*li, m->gid >> 16);
	set_time(&li->i_mtime, &li->i_mtime_extra, m->sec, m->nsec);
	set_time(&li->i_atime, &li->i_atime_extra, m->sec, m->nsec);
	set_time(&li->i_ctime, &li->i_ctime_extra, m->sec, m->nsec);
	set_time(&li->i_crtime, &li->i_crtime_extra, m->sec, m->nsec);
}

/* A fresh inode in the buffer: nothing but @mode and @m. */
static struct ext2_inode_large *inode_new(struct msb_rootfs *r, unsigned mode,
					  const struct rf_meta *m)
{
	struct ext2_inode_large *li = ibuf(r);

	memset(r->ibuf, 0, r->isize);
	li->i_mode = (uint16_t)mode;
	li->i_extra_isize = sizeof(*li) - EXT2_GOOD_OLD_INODE_SIZE;
	li->i_links_count = 1;
	set_meta(li, m);
	return li;
}

/* An empty extent tree in the inode's i_block. */
static errcode_t extents_init(struct msb_rootfs *r, ext2_ino_t ino)
{
	ext2_extent_handle_t h;
	errcode_t e;

	e = ext2fs_extent_open2(r->fs, ino, (struct ext2_inode *)r->ibuf, &h);
	if (!e)
		ext2fs_extent_free(h);
	return e;
}

static errcode_t ino_alloc(struct msb_rootfs *r, ext2_ino_t dir, unsigned mode,
			   ext2_ino_t *ino)
{
	errcode_t e = ext2fs_new_inode(r->fs, dir, (int)mode, NULL, ino);

	if (!e)
		ext2fs_inode_alloc_stats2(r->fs, *ino, +1,
					  LINUX_S_ISDIR(mode) ? 1 : 0);
	return e;
}

/* Free inode @ino, read into the buffer: its blocks, its xattr block,
 * then the inode itself (links 0 and a dtime, as e2fsck expects). */
static errcode_t inode_free(struct msb_rootfs *r, ext2_ino_t ino)
{
	struct ext2_inode_large *li = ibuf(r);
	struct ext2_inode *in = (struct ext2_inode *)li;
	int isdir = LINUX_S_ISDIR(li->i_mode);
	errcode_t e;

	if (ext2fs_inode_has_valid_blocks2(r->fs, in)) {
		e = ext2fs_punch(r->fs, ino, in, NULL, 0, ~0ULL);
		if (e)
			return e;
	}
	if (ext2fs_file_acl_block(r->fs, in)) {
		e = ext2fs_free_ext_attr(r->fs, ino, li);
		if (e)
			return e;
	}
	li->i_links_count = 0;
	li->i_dtime = (uint32_t)(r->fs->now ? r->fs->now : time(NULL));
	e = inode_write(r, ino);
	if (e)
		return e;
	ext2fs_inode_alloc_stats2(r->fs, ino, -1, isdir);
	return 0;
}

/* One name of @ino goes away. */
static errcode_t inode_unref(struct msb_rootfs *r, ext2_ino_t ino)
{
	struct ext2_inode_large *li = ibuf(r);
	errcode_t e = inode_read(r, ino);

	if (e)
		return e;
	if (li->i_links_count > 1 && !LINUX_S_ISDIR(li->i_mode)) {
		li->i_links_count--;
		return inode_write(r, ino);
	}
	return inode_free(r, ino);
}

/*
 * tree_remove() - remove @top and everything under it from the tree and
 * the image. Nodes are freed even after an error, which is returned.
 */
static errcode_t tree_remove(struct msb_rootfs *r, struct node *top)
{
	struct node *n = top, *up;
	errcode_t e = 0, e2;

	r->removals++;
	node_detach(r, top);
	for (;;) {
		while (n->child)
			n = n->child;
		up = n->parent;
		if (!e) {
			e2 = inode_unref(r, n->ino);
			if (e2)
				e = e2;
		}
		if (n == top) {
			free(n);
			return e;
		}
		node_detach(r, n);
		free(n);
		n = up;
	}
}

/* Free all nodes (no image changes). */
static void tree_free(struct msb_rootfs *r)
{
	struct node *n, *next;
	size_t i;

	if (r->tab) {
		for (i = 0; i <= r->mask; i++) {
			for (n = r->tab[i]; n; n = next) {
				next = n->hnext;
				free(n);
			}
		}
	}
	free(r->tab);
	r->tab = NULL;
	free(r->root);
	r->root = NULL;
}

/* --- Names --- */

/*
 * parse_path() - split @raw into normalised components: one leading "./"
 * or "/" stripped, empty and "." components dropped.
 * Return: NULL, or why the name is refused.
 */
static const char *parse_path(struct rf_path *p, const char *raw)
{
	const char *s = raw, *c;
	size_t used = 0, total = 0, len;

	p->n = 0;
	if (s[0] == '.' && s[1] == '/')
		s += 2;
	else if (s[0] == '/')
		s++;
	if (*s == '/')
		return "is absolute";
	while (*s) {
		c = s;
		while (*s && *s != '/')
			s++;
		len = (size_t)(s - c);
		while (*s == '/')
			s++;
		if (len == 1 && c[0] == '.')
			continue;
		if (len == 2 && c[0] == '.' && c[1] == '.')
			return "escapes the root";
		if (len > EXT2_NAME_LEN)
			return "has a component longer than 255 bytes";
		total += len + (p->n ? 1 : 0);
		if (total >= PATH_MAX)
			return "is longer than PATH_MAX";
		p->off[p->n] = (uint16_t)used;
		p->len[p->n] = (uint8_t)len;
		memcpy(p->buf + used, c, len);
		p->buf[used + len] = '\0';
		used += len + 1;
		p->n++;
	}
	return NULL;
}

static const char *comp(const struct rf_path *p, size_t i)
{
	return p->buf + p->off[i];
}

static int mkdir_node(struct msb_rootfs *r, struct node *dir, const char *name,
		      size_t len, const struct rf_meta *m, struct node **out);

enum walk_mode {
	WALK_CREATE, /* make missing directories, stamp what is passed */
	WALK_FIND,   /* missing or not a directory: *out = NULL */
};

/*
 * walk() - find the directory holding the last component of @p, without
 * following symlinks (one on the way is refused).
 */
static int walk(struct msb_rootfs *r, const struct rf_path *p,
		enum walk_mode mode, const struct rf_meta *m, struct node **out)
{
	struct node *d = r->root, *n;
	size_t i, plen = p->n ? p->off[p->n - 1] : 0;
	int rc;

	*out = NULL;
	if (mode == WALK_CREATE && r->last.dir && r->last.len == plen &&
	    r->last.layer == r->layer && r->last.removals == r->removals &&
	    !memcmp(r->last.buf, p->buf, plen)) {
		*out = r->last.dir;
		return 0;
	}
	for (i = 0; i + 1 < p->n; i++) {
		n = node_find(r, d, comp(p, i), p->len[i]);
		if (!n) {
			if (mode == WALK_FIND)
				return 0;
			rc = mkdir_node(r, d, comp(p, i), p->len[i], m, &n);
			if (rc < 0)
				return rc;
		} else if (n->type == EXT2_FT_SYMLINK) {
			char name[256];

			return refuse(r, "goes through the symlink `%s`",
				      shown(name, sizeof(name), comp(p, i)));
		} else if (n->type != EXT2_FT_DIR) {
			char name[256];

			if (mode == WALK_FIND)
				return 0;
			return refuse(r, "is under `%s`, not a directory",
				      shown(name, sizeof(name), comp(p, i)));
		}
		if (mode == WALK_CREATE)
			n->layer = r->layer;
		d = n;
	}
	if (mode == WALK_CREATE) {
		memcpy(r->last.buf, p->buf, plen);
		r->last.len = plen;
		r->last.dir = d;
		r->last.layer = r->layer;
		r->last.removals = r->removals;
	}
	*out = d;
	return 0;
}

/* --- Xattrs --- */

/* POSIX ACL in the xattr format of the Linux API. */
static bool acl_valid(const uint8_t *v, size_t len)
{
	size_t i;

	if (len < 4 || (len - 4) % 8 || len == 4)
		return false;
	if (v[0] != 2 || v[1] || v[2] || v[3]) /* POSIX_ACL_XATTR_VERSION */
		return false;
	for (i = 4; i < len; i += 8) {
		unsigned tag = v[i] | v[i + 1] << 8;

		if (tag != 0x01 && tag != 0x02 && tag != 0x04 && tag != 0x08 &&
		    tag != 0x10 && tag != 0x20)
			return false;
	}
	return true;
}

/* Whether ext4 in Linux keeps an xattr of that name: 1 yes, 0 skip it. */
static int xattr_kept(const char *name, size_t *suffix)
{
	static const char *const prefixes[] = {"user.", "trusted.",
					       "security."};
	size_t i, n;

	if (!strcmp(name, "system.posix_acl_access") ||
	    !strcmp(name, "system.posix_acl_default")) {
		*suffix = 0;
		return 1;
	}
	for (i = 0; i < ARRAY_SIZE(prefixes); i++) {
		n = strlen(prefixes[i]);
		if (!strncmp(name, prefixes[i], n) && name[n]) {
			*suffix = strlen(name + n);
			return 1;
		}
	}
	return 0;
}

/* Drop every xattr of @ino. */
static errcode_t xattrs_clear(struct msb_rootfs *r, ext2_ino_t ino)
{
	struct ext2_xattr_handle *h;
	size_t count = 0;
	errcode_t e;

	e = ext2fs_xattrs_open(r->fs, ino, &h);
	if (e)
		return e;
	e = ext2fs_xattrs_read(h);
	if (!e)
		e = ext2fs_xattrs_count(h, &count);
	ext2fs_xattrs_close(&h);
	if (e || !count)
		return e;
	e = ext2fs_free_ext_attr(r->fs, ino, NULL);
	if (e)
		return e;
	e = ext2fs_xattrs_open(r->fs, ino, &h);
	if (e)
		return e;
	e = ext2fs_xattrs_write(h); /* an empty set */
	ext2fs_xattrs_close(&h);
	return e;
}

/* Set the entry's xattrs on @ino, which has none. */
static int xattrs_set(struct msb_rootfs *r, ext2_ino_t ino,
		      struct archive_entry *ae)
{
	struct ext2_xattr_handle *h = NULL;
	const char *name;
	const void *value;
	size_t size, suffix;
	errcode_t e = 0;
	int rc = 0;

	if (archive_entry_xattr_reset(ae) == 0)
		return 0;
	while (archive_entry_xattr_next(ae, &name, &value, &size) ==
	       ARCHIVE_OK) {
		if (!name || !xattr_kept(name, &suffix)) {
			char sn[256];

			msb__log(
				MSB_LOG_DEBUG,
				"layer `%s`: xattr `%s` skipped: not kept by ext4",
				r->lname, shown(sn, sizeof(sn), name));
			continue;
		}
		if (suffix > 255 || size > RF_XATTR_MAX) {
			rc = refuse(r, "has an xattr too long for ext4");
			break;
		}
		if (!strncmp(name, "system.", 7) && !acl_valid(value, size)) {
			rc = refuse(r, "has a malformed POSIX ACL");
			break;
		}
		if (!h) {
			e = ext2fs_xattrs_open(r->fs, ino, &h);
			if (e)
				break;
		}
		e = ext2fs_xattr_set(h, name, size ? value : "", size);
		if (e == EXT2_ET_EA_NO_SPACE) {
			rc = refuse(r, "has more xattrs than fit in ext4");
			e = 0;
			break;
		}
		if (e)
			break;
	}
	if (h)
		ext2fs_xattrs_close(&h);
	if (e)
		return fail(r, e, "set xattrs of");
	return rc;
}

/* --- Entries --- */

static int get_meta(struct msb_rootfs *r, struct archive_entry *ae,
		    struct rf_meta *m)
{
	la_int64_t uid = archive_entry_uid(ae), gid = archive_entry_gid(ae);
	long nsec = archive_entry_mtime_nsec(ae);

	if (uid < 0 || uid > UINT32_MAX || gid < 0 || gid > UINT32_MAX)
		return refuse(r, "has an owner out of range");
	m->perm = archive_entry_perm(ae) & 07777;
	m->uid = (uint32_t)uid;
	m->gid = (uint32_t)gid;
	m->sec = archive_entry_mtime_is_set(ae) ? archive_entry_mtime(ae) : 0;
	m->nsec = nsec >= 0 && nsec < 1000000000 ? (uint32_t)nsec : 0;
	return 0;
}

/*
 * mkdir_node() - a new directory @name in @dir: its inode now, its blocks
 * at finish.
 */
static int mkdir_node(struct msb_rootfs *r, struct node *dir, const char *name,
		      size_t len, const struct rf_meta *m, struct node **out)
{
	unsigned mode = LINUX_S_IFDIR | m->perm;
	ext2_ino_t ino;
	errcode_t e;

	e = ino_alloc(r, dir->ino, mode, &ino);
	if (e)
		return fail(r, e, "create");
	inode_new(r, mode, m)->i_links_count = 2;
	e = extents_init(r, ino);
	if (!e)
		e = inode_write(r, ino);
	if (e)
		return fail(r, e, "create");
	*out = node_add(r, dir, name, len, EXT2_FT_DIR, ino);
	if (!*out)
		return nomem(r);
	return 0;
}

/* Directory over directory: new metadata and xattrs, children kept. */
static int dir_update(struct msb_rootfs *r, struct node *n,
		      struct archive_entry *ae, const struct rf_meta *m)
{
	errcode_t e = inode_read(r, n->ino);

	if (!e) {
		set_meta(ibuf(r), m);
		e = inode_write(r, n->ino);
	}
	if (!e)
		e = xattrs_clear(r, n->ino);
	if (e)
		return fail(r, e, "update");
	n->layer = r->layer;
	return xattrs_set(r, n->ino, ae);
}

static bool is_zero(const uint8_t *p, size_t n)
{
	return p[0] == 0 && !memcmp(p, p + 1, n - 1);
}

struct rf_writer {
	ext2_file_t f;
	uint64_t blk; /* file block of data[0] */
	size_t fill;  /* bytes staged from there */
	uint64_t end; /* end of the data seen */
};

/* Write the staged blocks, leaving holes for blocks of zeroes. */
static errcode_t writer_commit(struct msb_rootfs *r, struct rf_writer *w)
{
	size_t bs = r->fs->blocksize, n = (w->fill + bs - 1) / bs, i, j;
	errcode_t e;

	if (n * bs > w->fill)
		memset(r->data + w->fill, 0, n * bs - w->fill);
	for (i = 0; i < n; i = j) {
		if (is_zero(r->data + i * bs, bs)) {
			j = i + 1;
			continue;
		}
		for (j = i + 1; j < n && !is_zero(r->data + j * bs, bs); j++)
			;
		e = ext2fs_file_llseek(w->f, (w->blk + i) * bs, EXT2_SEEK_SET,
				       NULL);
		if (!e)
			e = ext2fs_file_write(w->f, r->data + i * bs,
					      (unsigned)((j - i) * bs), NULL);
		if (e)
			return e;
	}
	w->blk += n;
	w->fill = 0;
	return 0;
}

/* Stage @len bytes at file offset @off. */
static int writer_add(struct msb_rootfs *r, struct rf_writer *w, uint64_t off,
		      const uint8_t *p, size_t len)
{
	size_t bs = r->fs->blocksize, cap = RF_RUN_BLOCKS * bs, n;
	uint64_t cur = w->blk * bs + w->fill, last;
	errcode_t e;

	if (off < cur)
		return refuse(r, "has file data out of order");
	if (__builtin_add_overflow(off, len, &last) ||
	    last > RF_MAX_FILE_BLOCKS * bs - bs)
		return refuse(r, "is larger than ext4 allows");
	if (off > cur) {
		if (w->fill && off / bs == (cur - 1) / bs) {
			/* a hole inside the last staged block */
			memset(r->data + w->fill, 0, (size_t)(off - cur));
			w->fill += (size_t)(off - cur);
		} else {
			e = writer_commit(r, w);
			if (e)
				return fail(r, e, "write");
			w->blk = off / bs;
			w->fill = (size_t)(off % bs);
			memset(r->data, 0, w->fill);
		}
	}
	while (len) {
		n = cap - w->fill;
		if (n > len)
			n = len;
		memcpy(r->data + w->fill, p, n);
		w->fill += n;
		p += n;
		len -= n;
		if (w->fill == cap) {
			e = writer_commit(r, w);
			if (e)
				return fail(r, e, "write");
		}
	}
	if (last > w->end)
		w->end = last;
	return 0;
}

/* The data of a regular file, from the archive into inode @ino. */
static int file_data(struct msb_rootfs *r, struct archive *a,
		     struct archive_entry *ae, ext2_ino_t ino)
{
	struct rf_writer w = {0};
	la_int64_t size = archive_entry_size(ae), off;
	uint64_t bs = r->fs->blocksize, end;
	const void *buf;
	size_t len;
	errcode_t e;
	int rc = 0, ar;

	if (size < 0 || (uint64_t)size > RF_MAX_FILE_BLOCKS * bs - bs)
		return refuse(r, "is larger than ext4 allows");
	e = ext2fs_file_open2(r->fs, ino, (struct ext2_inode *)r->ibuf,
			      EXT2_FILE_WRITE, &w.f);
	if (e)
		return fail(r, e, "write");
	for (;;) {
		ar = archive_read_data_block(a, &buf, &len, &off);
		if (ar == ARCHIVE_EOF)
			break;
		if (ar < ARCHIVE_WARN || off < 0) {
			rc = read_fail(r, a);
			break;
		}
		if (len) {
			rc = writer_add(r, &w, (uint64_t)off, buf, len);
			if (rc < 0)
				break;
		}
	}
	if (!rc) {
		e = writer_commit(r, &w);
		end = w.end > (uint64_t)size ? w.end : (uint64_t)size;
		if (!e)
			e = ext2fs_file_set_size2(w.f, end);
		if (e)
			rc = fail(r, e, "write");
	}
	e = ext2fs_file_close(w.f);
	if (e && !rc)
		rc = fail(r, e, "write");
	return rc;
}

static int new_file(struct msb_rootfs *r, struct archive *a,
		    struct archive_entry *ae, struct node *dir,
		    const char *name, size_t len, const struct rf_meta *m)
{
	unsigned mode = LINUX_S_IFREG | m->perm;
	ext2_ino_t ino;
	errcode_t e;
	int rc;

	e = ino_alloc(r, dir->ino, mode, &ino);
	if (e)
		return fail(r, e, "create");
	inode_new(r, mode, m);
	e = extents_init(r, ino);
	if (!e)
		e = inode_write(r, ino);
	if (e)
		return fail(r, e, "create");
	if (!node_add(r, dir, name, len, EXT2_FT_REG_FILE, ino))
		return nomem(r);
	if (!archive_entry_size_is_set(ae) || archive_entry_size(ae) != 0) {
		rc = file_data(r, a, ae, ino);
		if (rc < 0)
			return rc;
	}
	return xattrs_set(r, ino, ae);
}

static int new_symlink(struct msb_rootfs *r, struct archive_entry *ae,
		       struct node *dir, const char *name, size_t len,
		       const struct rf_meta *m)
{
	const char *target = archive_entry_symlink(ae);
	struct ext2_inode_large *li = ibuf(r);
	ext2_ino_t ino;
	errcode_t e;

	if (!target)
		target = archive_entry_symlink_utf8(ae);
	if (!target || !*target)
		return refuse(r, "is a symlink without a target");
	if (strlen(target) >= r->fs->blocksize)
		return refuse(r, "is a symlink with a target too long");
	e = ext2fs_new_inode(r->fs, dir->ino, LINUX_S_IFLNK | 0777, NULL, &ino);
	if (!e)
		e = ext2fs_symlink(r->fs, dir->ino, ino, NULL, target);
	if (!e)
		e = inode_read(r, ino);
	if (e)
		return fail(r, e, "create");
	li->i_extra_isize = sizeof(*li) - EXT2_GOOD_OLD_INODE_SIZE;
	set_meta(li, m);
	li->i_mode = LINUX_S_IFLNK | 0777;
	e = inode_write(r, ino);
	if (e)
		return fail(r, e, "create");
	if (!node_add(r, dir, name, len, EXT2_FT_SYMLINK, ino))
		return nomem(r);
	return xattrs_set(r, ino, ae);
}

/* Character and block devices, fifos: the device number in i_block. */
static int new_special(struct msb_rootfs *r, struct archive_entry *ae,
		       struct node *dir, const char *name, size_t len,
		       const struct rf_meta *m, unsigned type)
{
	unsigned mode = type | m->perm, maj = 0, min = 0;
	struct ext2_inode_large *li;
	uint8_t ft = EXT2_FT_FIFO;
	ext2_ino_t ino;
	errcode_t e;

	if (type != LINUX_S_IFIFO) {
		maj = (unsigned)archive_entry_rdevmajor(ae);
		min = (unsigned)archive_entry_rdevminor(ae);
		if (maj > 0xfff || min > 0xfffff)
			return refuse(r, "is a device number out of range");
		ft = type == LINUX_S_IFCHR ? EXT2_FT_CHRDEV : EXT2_FT_BLKDEV;
	}
	e = ino_alloc(r, dir->ino, mode, &ino);
	if (e)
		return fail(r, e, "create");
	li = inode_new(r, mode, m);
	if (maj < 256 && min < 256) {
		li->i_block[0] = maj << 8 | min;
	} else {
		li->i_block[1] = (min & 0xff) | maj << 8 | (min & ~0xffu) << 12;
	}
	e = inode_write(r, ino);
	if (e)
		return fail(r, e, "create");
	if (!node_add(r, dir, name, len, ft, ino))
		return nomem(r);
	return xattrs_set(r, ino, ae);
}

/* A hard link to what the image has at the entry's link target. */
static int new_hardlink(struct msb_rootfs *r, struct archive_entry *ae,
			struct node *dir, const char *name, size_t len)
{
	const char *raw = archive_entry_hardlink(ae), *why;
	struct ext2_inode_large *li = ibuf(r);
	struct node *tdir = NULL, *t = NULL, *old;
	char tn[256];
	ext2_ino_t ino;
	uint8_t type;
	errcode_t e;
	int rc;

	if (!raw)
		raw = archive_entry_hardlink_utf8(ae);
	if (!raw)
		return refuse(r, "is a hard link without a target");
	why = parse_path(&r->target, raw);
	if (why)
		return refuse(r, "is a hard link whose target `%s` %s",
			      shown(tn, sizeof(tn), raw), why);
	if (!r->target.n)
		return refuse(r, "is a hard link to the root");
	rc = walk(r, &r->target, WALK_FIND, NULL, &tdir);
	if (rc < 0)
		return rc;
	if (tdir)
		t = node_find(r, tdir, comp(&r->target, r->target.n - 1),
			      r->target.len[r->target.n - 1]);
	if (!t)
		return refuse(r, "is a hard link to `%s`, which does not exist",
			      shown(tn, sizeof(tn), raw));
	if (t->type == EXT2_FT_DIR)
		return refuse(r, "is a hard link to the directory `%s`",
			      shown(tn, sizeof(tn), raw));
	ino = t->ino;
	type = t->type;
	old = node_find(r, dir, name, len);
	if (old && old->ino == ino) {
		old->layer = r->layer;
		return 0;
	}
	/* Count the new name first: the old one may be the last. */
	e = inode_read(r, ino);
	if (e)
		return fail(r, e, "link");
	if (li->i_links_count >= EXT2_LINK_MAX)
		return refuse(r, "is one hard link too many to `%s`",
			      shown(tn, sizeof(tn), raw));
	li->i_links_count++;
	e = inode_write(r, ino);
	if (!e && old)
		e = tree_remove(r, old);
	if (e)
		return fail(r, e, "link");
	if (!node_add(r, dir, name, len, type, ino))
		return nomem(r);
	return 0;
}

/*
 * opaque() - remove what is under @d that the current layer did not
 * write, descending into the directories it wrote.
 */
static int opaque(struct msb_rootfs *r, struct node *d)
{
	struct node *n = d->child, *next, *up;
	errcode_t e;

	while (n) {
		/* the next node once n is done with (not under n) */
		next = n->next;
		for (up = n->parent; !next && up != d; up = up->parent)
			next = up->next;
		if (n->layer != r->layer) {
			e = tree_remove(r, n);
			if (e)
				return fail(r, e, "remove what is hidden by");
		} else if (n->type == EXT2_FT_DIR && n->child) {
			next = n->child;
		}
		n = next;
	}
	return 0;
}

/* ".wh.NAME" in @p's directory: NAME of lower layers goes. */
static int whiteout(struct msb_rootfs *r, const char *name, size_t len)
{
	struct node *dir, *n;
	errcode_t e;
	int rc;

	rc = walk(r, &r->path, WALK_FIND, NULL, &dir);
	if (rc < 0 || !dir)
		return rc;
	n = node_find(r, dir, name, len);
	if (!n)
		return 0;
	if (n->layer == r->layer)
		return n->type == EXT2_FT_DIR ? opaque(r, n) : 0;
	e = tree_remove(r, n);
	if (e)
		return fail(r, e, "remove what is hidden by");
	return 0;
}

static int apply_entry(struct msb_rootfs *r, struct archive *a,
		       struct archive_entry *ae)
{
	const char *raw = archive_entry_pathname(ae), *why, *name = NULL;
	unsigned type;
	struct node *dir, *old;
	struct rf_meta m;
	size_t len = 0;
	errcode_t e;
	int rc;

	if (!raw)
		raw = archive_entry_pathname_utf8(ae);
	if (!raw)
		return refuse(r, "has no name");
	r->ename = raw;
	why = parse_path(&r->path, raw);
	if (why)
		return refuse(r, "%s", why);
	if (r->path.n) {
		name = comp(&r->path, r->path.n - 1);
		len = r->path.len[r->path.n - 1];
		if (len >= 4 && !memcmp(name, ".wh.", 4)) {
			if (!strcmp(name, ".wh..wh..opq")) {
				rc = walk(r, &r->path, WALK_FIND, NULL, &dir);
				return rc < 0 || !dir ? rc : opaque(r, dir);
			}
			if (len >= 8 && !memcmp(name, ".wh..wh.", 8))
				return 0; /* aufs metadata */
			if (len == 4 || !strcmp(name, ".wh..") ||
			    !strcmp(name, ".wh..."))
				return refuse(r, "is a whiteout of nothing");
			return whiteout(r, name + 4, len - 4);
		}
	}
	rc = get_meta(r, ae, &m);
	if (rc < 0)
		return rc;
	type = archive_entry_filetype(ae);
	if (archive_entry_hardlink(ae) || archive_entry_hardlink_utf8(ae))
		type = 0;
	else if (type == AE_IFSOCK)
		return 0; /* sockets are made by their servers */
	if (!r->path.n) {
		if (type != AE_IFDIR)
			return refuse(r, "is the root, and not a directory");
		return dir_update(r, r->root, ae, &m);
	}
	{
		/* implicit parents: root-owned 0755, like Docker makes */
		struct rf_meta pm = {0755, 0, 0, m.sec, m.nsec};

		rc = walk(r, &r->path, WALK_CREATE, &pm, &dir);
		if (rc < 0)
			return rc;
	}
	if (type == 0)
		return new_hardlink(r, ae, dir, name, len);
	old = node_find(r, dir, name, len);
	if (old && old->type == EXT2_FT_DIR && type == AE_IFDIR)
		return dir_update(r, old, ae, &m);
	if (old) {
		e = tree_remove(r, old);
		if (e)
			return fail(r, e, "replace");
	}
	switch (type) {
	case AE_IFDIR:
		rc = mkdir_node(r, dir, name, len, &m, &old);
		return rc < 0 ? rc : xattrs_set(r, old->ino, ae);
	case AE_IFREG:
		return new_file(r, a, ae, dir, name, len, &m);
	case AE_IFLNK:
		return new_symlink(r, ae, dir, name, len, &m);
	case AE_IFCHR:
		return new_special(r, ae, dir, name, len, &m, LINUX_S_IFCHR);
	case AE_IFBLK:
		return new_special(r, ae, dir, name, len, &m, LINUX_S_IFBLK);
	case AE_IFIFO:
		return new_special(r, ae, dir, name, len, &m, LINUX_S_IFIFO);
	default:
		return refuse(r, "has an unsupported type 0%o", type);
	}
}

static int apply_archive(struct msb_rootfs *r, struct archive *a)
{
	struct archive_entry *ae;
	int ar, rc;

	for (;;) {
		r->ename = NULL;
		ar = archive_read_next_header(a, &ae);
		if (ar == ARCHIVE_EOF)
			return 0;
		if (ar < ARCHIVE_WARN)
			return read_fail(r, a);
		rc = apply_entry(r, a, ae);
		if (rc < 0)
			return rc;
	}
}

/* The common part of msb_rootfs_apply and msb_rootfs_apply_mem. */
static int apply(struct msb_rootfs *r, int fd, const void *buf, size_t len,
		 const char *name)
{
	struct archive *a;
	int rc;

	if (!r)
		return msb__error(MSB_EINVAL, 0, "apply a layer: no image");
	if (r->broken)
		return msb__error(
			MSB_EINVAL, 0,
			"apply layer `%s`: an earlier layer failed, the image is unusable",
			name ? name : "");
	if (r->layer == UINT32_MAX)
		return msb__error(MSB_EINVAL, 0,
				  "apply layer `%s`: too many layers",
				  name ? name : "");
	if ((rc = msb_libarchive_load()) < 0)
		return rc;
	a = archive_read_new();
	if (!a)
		return msb__error(MSB_ENOMEM, ENOMEM,
				  "apply a layer: out of memory");
	if (archive_read_support_filter_gzip(a) != ARCHIVE_OK ||
	    archive_read_support_filter_zstd(a) != ARCHIVE_OK ||
	    archive_read_support_filter_none(a) != ARCHIVE_OK ||
	    archive_read_support_format_tar(a) != ARCHIVE_OK ||
	    archive_read_support_format_empty(a) != ARCHIVE_OK) {
		rc = msb__error(
			MSB_ENOTFOUND, 0,
			"apply a layer: libarchive lacks built-in gzip or zstd: %s",
			archive_error_string(a) ? archive_error_string(a)
						: "unknown");
		archive_read_free(a);
		return rc;
	}
	if (fd >= 0)
		rc = archive_read_open_fd(a, fd, RF_READ_BLOCK);
	else
		rc = archive_read_open_memory(a, buf, len);
	r->lname = name ? name : "";
	r->layer++;
	r->ename = NULL;
	if (rc != ARCHIVE_OK)
		rc = read_fail(r, a);
	else
		rc = apply_archive(r, a);
	archive_read_free(a);
	r->lname = NULL;
	r->ename = NULL;
	return rc;
}

int msb_rootfs_apply(struct msb_rootfs *r, int fd, const char *name)
{
	if (fd < 0)
		return msb__error(MSB_EINVAL, 0, "apply layer `%s`: no file",
				  name ? name : "");
	return apply(r, fd, NULL, 0, name);
}

int msb_rootfs_apply_mem(struct msb_rootfs *r, const void *buf, size_t len,
			 const char *name)
{
	if (!buf && len)
		return msb__error(MSB_EINVAL, 0, "apply layer `%s`: no data",
				  name ? name : "");
	return apply(r, -1, buf ? buf : "", len, name);
}

/* --- Creating and finishing --- */

/* Directory entries, packed into blocks as ext4 reads them. */
struct rf_dirw {
	uint8_t *blk;
	size_t pos;  /* where the next entry goes */
	size_t last; /* where the last entry is */
	size_t usable;
	blk64_t lblk;
	ext2_ino_t ino;
};

static errcode_t dirw_flush(struct msb_rootfs *r, struct rf_dirw *w)
{
	ext2_filsys fs = r->fs;
	struct ext2_dir_entry *de;
	blk64_t pblk = 0;
	errcode_t e;

	if (w->pos == 0) {
		/* an empty block: one unused entry over all of it */
		de = (struct ext2_dir_entry *)w->blk;
		memset(de, 0, 8);
		w->last = 0;
	}
	de = (struct ext2_dir_entry *)(w->blk + w->last);
	e = ext2fs_set_rec_len(fs, (unsigned)(w->usable - w->last), de);
	if (e)
		return e;
	if (w->usable < fs->blocksize)
		ext2fs_initialize_dirent_tail(
			fs, EXT2_DIRENT_TAIL(w->blk, fs->blocksize));
	e = ext2fs_bmap2(fs, w->ino, (struct ext2_inode *)r->ibuf, NULL,
			 BMAP_ALLOC, w->lblk, NULL, &pblk);
	if (!e)
		e = ext2fs_write_dir_block4(fs, pblk, w->blk, 0, w->ino);
	if (e)
		return e;
	w->lblk++;
	w->pos = 0;
	memset(w->blk, 0, fs->blocksize);
	return 0;
}

static errcode_t dirw_add(struct msb_rootfs *r, struct rf_dirw *w,
			  ext2_ino_t ino, const char *name, size_t len,
			  uint8_t type)
{
	unsigned need = EXT2_DIR_REC_LEN(len);
	struct ext2_dir_entry *de;
	errcode_t e;

	if (w->pos + need > w->usable) {
		e = dirw_flush(r, w);
		if (e)
			return e;
	}
	de = (struct ext2_dir_entry *)(w->blk + w->pos);
	de->inode = ino;
	ext2fs_dirent_set_name_len(de, (int)len);
	ext2fs_dirent_set_file_type(de, type);
	memcpy(de->name, name, len);
	e = ext2fs_set_rec_len(r->fs, need, de);
	if (e)
		return e;
	w->last = w->pos;
	w->pos += need;
	return 0;
}

/* Write the blocks of directory @d and finish its inode. */
static errcode_t dir_write(struct msb_rootfs *r, struct node *d, uint8_t *blk)
{
	ext2_filsys fs = r->fs;
	struct rf_dirw w = {blk, 0, 0, fs->blocksize, 0, d->ino};
	struct ext2_inode_large *li = ibuf(r);
	unsigned subdirs = 0;
	struct node *c;
	errcode_t e;

	if (ext2fs_has_feature_metadata_csum(fs->super))
		w.usable -= sizeof(struct ext2_dir_entry_tail);
	memset(blk, 0, fs->blocksize);
	e = inode_read(r, d->ino);
	if (!e)
		e = dirw_add(r, &w, d->ino, ".", 1, EXT2_FT_DIR);
	if (!e)
		e = dirw_add(r, &w, d->parent ? d->parent->ino : d->ino, "..",
			     2, EXT2_FT_DIR);
	for (c = d->child; c && !e; c = c->next) {
		e = dirw_add(r, &w, c->ino, c->name, c->len, c->type);
		if (c->type == EXT2_FT_DIR)
			subdirs++;
	}
	if (!e)
		e = dirw_flush(r, &w);
	while (!e && d->parent == r->root && d->len == 10 &&
	       !memcmp(d->name, "lost+found", 10) && w.lblk < RF_LPF_BLOCKS)
		e = dirw_flush(r, &w);
	if (e)
		return e;
	e = ext2fs_inode_size_set(fs, (struct ext2_inode *)li,
				  w.lblk * fs->blocksize);
	if (e)
		return e;
	li->i_links_count =
		subdirs + 2 > EXT2_LINK_MAX ? 1 : (uint16_t)(subdirs + 2);
	return inode_write(r, d->ino);
}

static int finish_dirs(struct msb_rootfs *r)
{
	struct node *n = r->root;
	uint8_t *blk = malloc(r->fs->blocksize);
	errcode_t e = 0;

	if (!blk)
		return msb__error(MSB_ENOMEM, ENOMEM,
				  "finish ext4 image `%s`: out of memory",
				  r->image);
	while (n && !e) {
		if (n->type == EXT2_FT_DIR)
			e = dir_write(r, n, blk);
		if (n->child) {
			n = n->child;
			continue;
		}
		while (n && !n->next)
			n = n->parent;
		if (n)
			n = n->next;
	}
	free(blk);
	if (e) {
		int err, code = ext2_code(e, &err);

		return msb__error(
			code, err,
			"finish ext4 image `%s`: write directories: %s",
			r->image, ext2_msg(e));
	}
	return 0;
}

/* lost+found, mode 0700, unless a layer removed it. */
static errcode_t lpf_make(struct msb_rootfs *r, time_t now)
{
	struct rf_meta m = {0700, 0, 0, (int64_t)now, 0};
	ext2_ino_t ino;
	errcode_t e;

	e = ino_alloc(r, EXT2_ROOT_INO, LINUX_S_IFDIR | 0700, &ino);
	if (e)
		return e;
	inode_new(r, LINUX_S_IFDIR | 0700, &m)->i_links_count = 2;
	e = extents_init(r, ino);
	if (!e)
		e = inode_write(r, ino);
	if (e)
		return e;
	if (!node_add(r, r->root, "lost+found", 10, EXT2_FT_DIR, ino))
		return EXT2_ET_NO_MEMORY;
	return 0;
}

/* e2fsck puts what it finds unconnected there: put it back if hidden. */
static int lost_found(struct msb_rootfs *r)
{
	errcode_t e;
	int err, code;

	if (node_find(r, r->root, "lost+found", 10))
		return 0;
	e = lpf_make(r, time(NULL));
	if (!e)
		return 0;
	code = ext2_code(e, &err);
	return msb__error(code, err, "finish ext4 image `%s`: lost+found: %s",
			  r->image, ext2_msg(e));
}

/* Reserved inodes (1 to 10), zeroed with valid checksums, as mke2fs. */
static errcode_t reserve_inodes(struct msb_rootfs *r)
{
	ext2_ino_t ino;
	errcode_t e;

	memset(r->ibuf, 0, r->isize);
	for (ino = 1; ino < EXT2_FIRST_INO(r->fs->super); ino++) {
		e = inode_write(r, ino);
		if (e)
			return e;
		if (ino != EXT2_ROOT_INO)
			ext2fs_inode_alloc_stats2(r->fs, ino, +1, 0);
	}
	return ext2fs_update_bb_inode(r->fs, NULL);
}

static void random_bytes(void *buf, size_t len)
{
	uint8_t *p = buf;
	ssize_t n;

	while (len) {
		n = getrandom(p, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		p += n;
		len -= (size_t)n;
	}
	if (len) { /* no getrandom: weaker, still distinct per image */
		uint64_t x = now_us() ^ (uint64_t)getpid() << 32 ^
			     (uint64_t)(uintptr_t)buf;

		while (len--) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			*p++ = (uint8_t)x;
		}
	}
}

/* The file system, empty: root and lost+found, journal. */
static errcode_t make_fs(struct msb_rootfs *r, uint64_t size)
{
	struct ext2_super_block param;
	struct ext2fs_journal_params jp;
	ext2_filsys fs;
	struct rf_meta m = {0755, 0, 0, (int64_t)time(NULL), 0};
	dgrp_t g;
	errcode_t e;
	uint64_t inodes = size / RF_INODE_RATIO;

	memset(&param, 0, sizeof(param));
	ext2fs_blocks_count_set(&param, size / RF_BLOCK_SIZE);
	param.s_log_block_size = RF_LOG_BLOCK;
	param.s_rev_level = EXT2_DYNAMIC_REV;
	param.s_inode_size = RF_INODE_SIZE;
	param.s_inodes_count = inodes > UINT32_MAX - 65536 ? UINT32_MAX - 65536
							   : (uint32_t)inodes;
	param.s_log_groups_per_flex = 4;
	param.s_feature_compat =
		EXT2_FEATURE_COMPAT_DIR_INDEX | EXT2_FEATURE_COMPAT_EXT_ATTR;
	param.s_feature_incompat =
		EXT2_FEATURE_INCOMPAT_FILETYPE | EXT3_FEATURE_INCOMPAT_EXTENTS |
		EXT4_FEATURE_INCOMPAT_64BIT | EXT4_FEATURE_INCOMPAT_FLEX_BG;
	param.s_feature_ro_compat = EXT2_FEATURE_RO_COMPAT_SPARSE_SUPER |
				    EXT2_FEATURE_RO_COMPAT_LARGE_FILE |
				    EXT4_FEATURE_RO_COMPAT_HUGE_FILE |
				    EXT4_FEATURE_RO_COMPAT_DIR_NLINK |
				    EXT4_FEATURE_RO_COMPAT_EXTRA_ISIZE |
				    EXT4_FEATURE_RO_COMPAT_METADATA_CSUM;
	e = ext2fs_initialize(r->image, EXT2_FLAG_RW | EXT2_FLAG_64BITS, &param,
			      unix_io_manager, &fs);
	if (e)
		return e;
	r->fs = fs;
	r->isize = EXT2_INODE_SIZE(fs->super);
	random_bytes(fs->super->s_uuid, sizeof(fs->super->s_uuid));
	fs->super->s_uuid[6] = (fs->super->s_uuid[6] & 0x0f) | 0x40;
	fs->super->s_uuid[8] = (fs->super->s_uuid[8] & 0x3f) | 0x80;
	ext2fs_init_csum_seed(fs);
	fs->super->s_checksum_type = EXT2_CRC32C_CHKSUM;
	random_bytes(fs->super->s_hash_seed, sizeof(fs->super->s_hash_seed));
	fs->super->s_def_hash_version = EXT2_HASH_HALF_MD4;
	fs->super->s_max_mnt_count = (__s16)-1;
	e = ext2fs_allocate_tables(fs);
	if (e)
		return e;
	/* The file reads as zeroes: so do the inode tables. */
	for (g = 0; g < fs->group_desc_count; g++) {
		ext2fs_bg_flags_set(fs, g, EXT2_BG_INODE_ZEROED);
		ext2fs_group_desc_csum_set(fs, g);
	}
	r->ibuf = calloc(1, r->isize > sizeof(struct ext2_inode_large)
				    ? r->isize
				    : sizeof(struct ext2_inode_large));
	r->data = malloc((size_t)RF_RUN_BLOCKS * fs->blocksize);
	r->root = calloc(1, sizeof(*r->root));
	r->tab = calloc(1024, sizeof(*r->tab));
	if (!r->ibuf || !r->data || !r->root || !r->tab)
		return EXT2_ET_NO_MEMORY;
	r->mask = 1023;
	random_bytes(r->key, sizeof(r->key));
	e = reserve_inodes(r);
	if (e)
		return e;
	/* root */
	ext2fs_inode_alloc_stats2(fs, EXT2_ROOT_INO, +1, 1);
	inode_new(r, LINUX_S_IFDIR | 0755, &m)->i_links_count = 2;
	e = extents_init(r, EXT2_ROOT_INO);
	if (!e)
		e = inode_write(r, EXT2_ROOT_INO);
	if (e)
		return e;
	r->root->ino = EXT2_ROOT_INO;
	r->root->type = EXT2_FT_DIR;
	e = lpf_make(r, (time_t)m.sec);
	if (e)
		return e;
	/* a journal, never written until the guest mounts the image */
	if (!ext2fs_get_journal_params(&jp, fs)) {
		e = ext2fs_add_journal_inode3(
			fs, &jp, ~0ULL,
			EXT2_MKJOURNAL_LAZYINIT | EXT2_MKJOURNAL_NO_MNT_CHECK);
		if (e)
			return e;
	}
	return 0;
}

int msb_rootfs_create(struct msb_rootfs **out, const char *path,
		      uint64_t size_bytes)
{
	struct msb_rootfs *r;
	errcode_t e;
	int fd, err, code;

	if (!out || !path || !*path)
		return msb__error(MSB_EINVAL, 0, "create ext4 image: no path");
	*out = NULL;
	if (size_bytes < RF_MIN_SIZE || size_bytes > RF_MAX_SIZE)
		return msb__error(
			MSB_EINVAL, 0,
			"create ext4 image `%s`: size %llu is not between 16 MiB and 16 TiB",
			path, (unsigned long long)size_bytes);
	pthread_once(&et_once, et_init);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return msb__error(MSB_ESYS, errno, "open `%s`: %s", path,
				  strerror(errno));
	if (ftruncate(fd, (off_t)size_bytes) < 0) {
		err = errno;
		close(fd);
		return msb__error(MSB_ESYS, err, "truncate `%s`: %s", path,
				  strerror(err));
	}
	close(fd);
	r = calloc(1, sizeof(*r));
	if (!r || !(r->image = strdup(path))) {
		free(r);
		return msb__error(MSB_ENOMEM, ENOMEM,
				  "create ext4 image `%s`: out of memory",
				  path);
	}
	e = make_fs(r, size_bytes);
	if (e) {
		code = ext2_code(e, &err);
		msb_rootfs_free(r);
		return msb__error(code, err, "create ext4 image `%s`: %s", path,
				  ext2_msg(e));
	}
	*out = r;
	return 0;
}

int msb_rootfs_finish(struct msb_rootfs *r)
{
	errcode_t e;
	int rc, err, code;

	if (!r)
		return msb__error(MSB_EINVAL, 0, "finish ext4 image: no image");
	if (r->broken) {
		rc = msb__error(
			MSB_EINVAL, 0,
			"finish ext4 image `%s`: a layer failed, the image is unusable",
			r->image);
		msb_rootfs_free(r);
		return rc;
	}
	rc = lost_found(r);
	if (!rc)
		rc = finish_dirs(r);
	if (rc < 0) {
		msb_rootfs_free(r);
		return rc;
	}
	e = ext2fs_close_free(&r->fs);
	if (e) {
		code = ext2_code(e, &err);
		rc = msb__error(code, err, "finish ext4 image `%s`: %s",
				r->image, ext2_msg(e));
	}
	msb_rootfs_free(r);
	return rc;
}

void msb_rootfs_free(struct msb_rootfs *r)
{
	if (!r)
		return;
	if (r->fs)
		ext2fs_free(r->fs);
	tree_free(r);
	free(r->ibuf);
	free(r->data);
	free(r->image);
	free(r);
}
