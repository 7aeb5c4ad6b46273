// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for the rootfs builder: layers written in memory with
 * libarchive, applied to images in a temporary folder, read back through
 * libext2fs, and checked by `e2fsck -fn` when it is installed.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <ext2fs/ext2_fs.h>
#include <ext2fs/ext2fs.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "lib/image/rootfs.h"
#include "microsandbox.h"
#include "util/util.h"

static char tmpdir[] = "/tmp/msb-test-rootfs-XXXXXX";
static const char *e2fsck;
static int images;

/* --- Layers written in memory --- */

struct tw {
	struct archive *a;
	uint8_t *buf;
	size_t len, cap;
};

static la_ssize_t tw_write(struct archive *a, void *ud, const void *p, size_t n)
{
	struct tw *t = ud;

	(void)a;
	if (t->len + n > t->cap) {
		t->cap = (t->len + n) * 2;
		t->buf = realloc(t->buf, t->cap);
		if (!t->buf)
			abort();
	}
	memcpy(t->buf + t->len, p, n);
	t->len += n;
	return (la_ssize_t)n;
}

enum { F_NONE, F_GZIP, F_ZSTD };

static void tw_begin(struct tw *t, int filter, bool gnutar)
{
	memset(t, 0, sizeof(*t));
	t->a = archive_write_new();
	if (gnutar)
		archive_write_set_format_gnutar(t->a);
	else
		archive_write_set_format_pax(t->a);
	if (filter == F_GZIP)
		archive_write_add_filter_gzip(t->a);
	else if (filter == F_ZSTD)
		archive_write_add_filter_zstd(t->a);
	else
		archive_write_add_filter_none(t->a);
	archive_write_set_bytes_in_last_block(t->a, 1);
	if (archive_write_open2(t->a, t, NULL, tw_write, NULL, NULL))
		abort();
}

static void tw_end(struct tw *t)
{
	archive_write_close(t->a);
	archive_write_free(t->a);
	t->a = NULL;
}

/* One tar entry: zero fields take defaults (0644 / 0755, owner 0). */
struct ent {
	const char *path;
	unsigned type; /* AE_IF*, 0 for a hard link */
	unsigned mode;
	int64_t uid, gid;
	int64_t mtime;
	long nsec;
	const void *data;
	size_t len;
	const char *link; /* symlink or hard link target */
	unsigned maj, min;
	const char *xname[2];
	const char *xval[2];
	size_t xlen[2];
};

static void tw_add(struct tw *t, const struct ent *e)
{
	struct archive_entry *ae = archive_entry_new();
	unsigned type = e->type ? e->type : AE_IFREG;
	int i, rc;

	archive_entry_copy_pathname(ae, e->path);
	archive_entry_set_filetype(ae, type);
	archive_entry_set_perm(ae, e->mode            ? e->mode
				   : type == AE_IFDIR ? 0755
						      : 0644);
	archive_entry_set_uid(ae, e->uid);
	archive_entry_set_gid(ae, e->gid);
	archive_entry_set_mtime(ae, e->mtime ? e->mtime : 1700000000, e->nsec);
	if (!e->type && e->link) {
		archive_entry_copy_hardlink(ae, e->link);
		archive_entry_set_size(ae, 0);
	} else if (type == AE_IFLNK) {
		archive_entry_copy_symlink(ae, e->link);
	} else if (type == AE_IFCHR || type == AE_IFBLK) {
		archive_entry_set_rdevmajor(ae, e->maj);
		archive_entry_set_rdevminor(ae, e->min);
	}
	if (type == AE_IFREG && !(!e->type && e->link))
		archive_entry_set_size(ae, (la_int64_t)e->len);
	for (i = 0; i < 2; i++)
		if (e->xname[i])
			archive_entry_xattr_add_entry(ae, e->xname[i],
						      e->xval[i], e->xlen[i]);
	rc = archive_write_header(t->a, ae);
	if (rc < ARCHIVE_WARN) {
		fprintf(stderr, "tar %s: %s\n", e->path,
			archive_error_string(t->a));
		abort();
	}
	if (e->len &&
	    archive_write_data(t->a, e->data, e->len) != (la_ssize_t)e->len)
		abort();
	archive_entry_free(ae);
}

/* A layer of the given entries. */
static void layer(struct tw *t, int filter, const struct ent *e, size_t n)
{
	size_t i;

	tw_begin(t, filter, false);
	for (i = 0; i < n; i++)
		tw_add(t, &e[i]);
	tw_end(t);
}

/* --- Images --- */

static void image_path(char *out, size_t size)
{
	snprintf(out, size, "%s/img%d.ext4", tmpdir, images++);
}

/* e2fsck -fn: 0 clean, -1 not, 77 skipped. */
static int fsck(const char *img)
{
	pid_t pid;
	int st;

	if (!e2fsck)
		return 77;
	pid = fork();
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		if (!getenv("MSB_TEST_VERBOSE")) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(e2fsck, "e2fsck", "-fn", img, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return -1;
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "e2fsck -fn %s: status %d\n", img, st);
		return -1;
	}
	return 0;
}

#define CHECK_FSCK(img)                                                        \
	do {                                                                   \
		int _f = fsck(img);                                            \
		if (_f != 77)                                                  \
			CHECK(_f == 0);                                        \
	} while (0)

/* Build an image of the layers; 0 or the failing apply's code. */
static int build(char *img, size_t size, struct tw *layers, size_t n)
{
	struct msb_rootfs *r;
	size_t i;
	int rc;

	image_path(img, size);
	rc = msb_rootfs_create(&r, img, 64ULL << 20);
	if (rc < 0) {
		fprintf(stderr, "create: %s\n", msb_last_error()->message);
		return rc;
	}
	for (i = 0; i < n; i++) {
		char name[32];

		snprintf(name, sizeof(name), "sha256:layer%zu", i);
		rc = msb_rootfs_apply_mem(r, layers[i].buf, layers[i].len,
					  name);
		if (rc < 0) {
			msb_rootfs_free(r);
			return rc;
		}
	}
	rc = msb_rootfs_finish(r);
	if (rc < 0)
		fprintf(stderr, "finish: %s\n", msb_last_error()->message);
	return rc;
}

static void layers_free(struct tw *layers, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(layers[i].buf);
}

static ext2_filsys img_open(const char *img)
{
	ext2_filsys fs = NULL;

	if (ext2fs_open(img, EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &fs))
		return NULL;
	return fs;
}

/* Inode of @path (no symlink followed at the end); 0 if missing. */
static ext2_ino_t img_ino(ext2_filsys fs, const char *path)
{
	ext2_ino_t ino = 0;

	if (ext2fs_namei(fs, EXT2_ROOT_INO, EXT2_ROOT_INO, path, &ino))
		return 0;
	return ino;
}

static bool img_inode(ext2_filsys fs, const char *path,
		      struct ext2_inode_large *li)
{
	ext2_ino_t ino = img_ino(fs, path);

	memset(li, 0, sizeof(*li));
	return ino && !ext2fs_read_inode_full(fs, ino, (struct ext2_inode *)li,
					      sizeof(*li));
}

/* The data of @path (malloc'd), or NULL. */
static uint8_t *img_data(ext2_filsys fs, const char *path, size_t *len)
{
	ext2_ino_t ino = img_ino(fs, path);
	struct ext2_inode in;
	ext2_file_t f;
	uint8_t *buf;
	unsigned got;

	if (!ino || ext2fs_read_inode(fs, ino, &in))
		return NULL;
	*len = EXT2_I_SIZE(&in);
	buf = malloc(*len + 1);
	if (!buf || ext2fs_file_open2(fs, ino, &in, 0, &f))
		abort();
	if (ext2fs_file_read(f, buf, (unsigned)*len, &got) || got != *len) {
		free(buf);
		buf = NULL;
	}
	ext2fs_file_close(f);
	if (buf)
		buf[*len] = '\0';
	return buf;
}

static bool img_data_is(ext2_filsys fs, const char *path, const void *data,
			size_t len)
{
	size_t got = 0;
	uint8_t *buf = img_data(fs, path, &got);
	bool ok = buf && got == len && !memcmp(buf, data, len);

	free(buf);
	return ok;
}

/* Symlink target of @path, in @out. */
static const char *img_link(ext2_filsys fs, const char *path, char *out,
			    size_t size)
{
	struct ext2_inode_large li;
	size_t len;
	uint8_t *buf;

	if (!img_inode(fs, path, &li) || !LINUX_S_ISLNK(li.i_mode))
		return NULL;
	if (ext2fs_is_fast_symlink((struct ext2_inode *)&li)) {
		snprintf(out, size, "%s", (const char *)li.i_block);
		return out;
	}
	buf = img_data(fs, path, &len);
	if (!buf)
		return NULL;
	snprintf(out, size, "%s", (const char *)buf);
	free(buf);
	return out;
}

/* Xattr @name of @path, as on disk: its length, or -1. */
static ssize_t img_xattr(ext2_filsys fs, const char *path, const char *name,
			 void *out, size_t size)
{
	struct ext2_xattr_handle *h;
	ext2_ino_t ino = img_ino(fs, path);
	unsigned raw = XATTR_HANDLE_FLAG_RAW;
	void *v = NULL;
	size_t len = 0;
	ssize_t rc = -1;

	if (!ino || ext2fs_xattrs_open(fs, ino, &h))
		return -1;
	if (!ext2fs_xattrs_flags(h, &raw, NULL) && !ext2fs_xattrs_read(h) &&
	    !ext2fs_xattr_get(h, name, &v, &len)) {
		rc = (ssize_t)len;
		memcpy(out, v, len < size ? len : size);
		free(v);
	}
	ext2fs_xattrs_close(&h);
	return rc;
}

static size_t img_xattr_count(ext2_filsys fs, const char *path)
{
	struct ext2_xattr_handle *h;
	ext2_ino_t ino = img_ino(fs, path);
	size_t n = 99;

	if (!ino || ext2fs_xattrs_open(fs, ino, &h))
		return n;
	if (ext2fs_xattrs_read(h) || ext2fs_xattrs_count(h, &n))
		n = 99;
	ext2fs_xattrs_close(&h);
	return n;
}

/* A listing of the tree: "path type links size", one per line, sorted
 * by the order of a depth-first walk of sorted names. */
struct listing {
	char *p;
	size_t len, cap;
};

static void list_put(struct listing *l, const char *s)
{
	size_t n = strlen(s);

	if (l->len + n + 1 > l->cap) {
		l->cap = (l->len + n + 1) * 2;
		l->p = realloc(l->p, l->cap);
		if (!l->p)
			abort();
	}
	memcpy(l->p + l->len, s, n + 1);
	l->len += n;
}

struct names {
	char name[64][256];
	ext2_ino_t ino[64];
	int n;
};

static int list_entry(struct ext2_dir_entry *de, int off, int bs, char *buf,
		      void *priv)
{
	struct names *nm = priv;
	int len = ext2fs_dirent_name_len(de);

	(void)off;
	(void)bs;
	(void)buf;
	if ((len == 1 && de->name[0] == '.') ||
	    (len == 2 && !memcmp(de->name, "..", 2)) || nm->n == 64)
		return 0;
	memcpy(nm->name[nm->n], de->name, (size_t)len);
	nm->name[nm->n][len] = '\0';
	nm->ino[nm->n++] = de->inode;
	return 0;
}

static void list_dir(ext2_filsys fs, ext2_ino_t dir, const char *path,
		     struct listing *l)
{
	struct names *nm = calloc(1, sizeof(*nm));
	int i, j;

	if (!nm || ext2fs_dir_iterate(fs, dir, 0, NULL, list_entry, nm))
		abort();
	for (i = 0; i < nm->n; i++) /* sort by name */
		for (j = i + 1; j < nm->n; j++)
			if (strcmp(nm->name[i], nm->name[j]) > 0) {
				char tmp[256];
				ext2_ino_t t = nm->ino[i];

				memcpy(tmp, nm->name[i], 256);
				memcpy(nm->name[i], nm->name[j], 256);
				memcpy(nm->name[j], tmp, 256);
				nm->ino[i] = nm->ino[j];
				nm->ino[j] = t;
			}
	for (i = 0; i < nm->n; i++) {
		struct ext2_inode in;
		char line[PATH_MAX + 64], sub[PATH_MAX];

		if (ext2fs_read_inode(fs, nm->ino[i], &in))
			abort();
		snprintf(sub, sizeof(sub), "%s/%s", path, nm->name[i]);
		snprintf(line, sizeof(line), "%s %o %u %llu\n", sub,
			 in.i_mode & LINUX_S_IFMT, in.i_links_count,
			 LINUX_S_ISDIR(in.i_mode)
				 ? 0ULL
				 : (unsigned long long)EXT2_I_SIZE(&in));
		list_put(l, line);
		if (LINUX_S_ISDIR(in.i_mode))
			list_dir(fs, nm->ino[i], sub, l);
	}
	free(nm);
}

static char *img_list(const char *img)
{
	struct listing l = {0};
	ext2_filsys fs = img_open(img);

	if (!fs)
		return NULL;
	list_put(&l, "");
	list_dir(fs, EXT2_ROOT_INO, "", &l);
	ext2fs_close_free(&fs);
	return l.p;
}

static bool has_error(const char *needle)
{
	const char *m = msb_last_error()->message;

	if (strstr(m, needle))
		return true;
	fprintf(stderr, "error `%s` lacks `%s`\n", m, needle);
	return false;
}

/* --- Tests --- */

static const char capability[20] = {0x01, 0x00, 0x00, 0x02, 0x00, 0x20};

static void test_create(void)
{
	struct msb_rootfs *r;
	char img[PATH_MAX];
	struct stat st;
	uint64_t t0, t1;
	ext2_filsys fs;

	image_path(img, sizeof(img));
	t0 = now_us();
	CHECK(msb_rootfs_create(&r, img, 4ULL << 30) == 0);
	CHECK(msb_rootfs_finish(r) == 0);
	t1 = now_us();
	/* well under a second, a few MB on disk */
	printf("4 GiB image: %llu ms\n", (unsigned long long)(t1 - t0) / 1000);
	CHECK(t1 - t0 < 500000);
	CHECK(stat(img, &st) == 0);
	CHECK(st.st_size == (off_t)(4ULL << 30));
	CHECK((uint64_t)st.st_blocks * 512 < (8ULL << 20));
	CHECK_FSCK(img);
	fs = img_open(img);
	CHECK(fs != NULL);
	if (fs) {
		struct ext2_inode_large li;

		CHECK(ext2fs_has_feature_extents(fs->super));
		CHECK(ext2fs_has_feature_metadata_csum(fs->super));
		CHECK(ext2fs_has_feature_journal(fs->super));
		CHECK(EXT2_INODE_SIZE(fs->super) == 256);
		CHECK(img_inode(fs, "/", &li));
		CHECK(li.i_mode == (LINUX_S_IFDIR | 0755));
		CHECK(img_inode(fs, "lost+found", &li));
		ext2fs_close_free(&fs);
	}
	unlink(img);

	CHECK(msb_rootfs_create(&r, img, 1 << 20) == -MSB_EINVAL);
	CHECK(msb_rootfs_create(&r, "/nonexistent/dir/img", 64 << 20) ==
	      -MSB_ESYS);
	CHECK(has_error("open `/nonexistent/dir/img`"));
	msb_rootfs_free(NULL);
}

static void test_entries(int filter)
{
	static const char setcap[] = "security.capability";
	static const char longlink[] =
		"/usr/lib/x86_64-linux-gnu/some/very/long/target/path/that/"
		"does/not/fit/in/the/inode/at/all.so.1";
	/* user::rw- group::r-- other::r--, in the Linux API's format... */
	static const char acl[] = "\x02\0\0\0"
				  "\x01\0\x06\0\xff\xff\xff\xff"
				  "\x04\0\x04\0\xff\xff\xff\xff"
				  "\x20\0\x04\0\xff\xff\xff\xff";
	/* ...and in ext4's: version 1, short entries without ids */
	static const char acl_disk[] = "\x01\0\0\0"
				       "\x01\0\x06\0"
				       "\x04\0\x04\0"
				       "\x20\0\x04\0";
	size_t big_len = 6 << 20, i;
	uint8_t *big = malloc(big_len);
	char longname[300], longpath[PATH_MAX], img[PATH_MAX], buf[512];
	struct ext2_inode_large li;
	struct tw t;
	ext2_filsys fs;
	uint32_t x = 12345;

	for (i = 0; i < big_len; i++) {
		x = x * 1103515245 + 12345;
		big[i] = (uint8_t)(x >> 16);
	}
	memset(big + (2 << 20), 0, 1 << 20); /* a hole */
	memset(longname, 'n', 255);
	longname[255] = '\0';
	snprintf(longpath, sizeof(longpath), "dir/%s", longname);

	struct ent e[] = {
		{.path = "./", .type = AE_IFDIR, .mode = 0755},
		{.path = "./dir/",
		 .type = AE_IFDIR,
		 .mode = 0750,
		 .uid = 1000,
		 .gid = 1001,
		 .mtime = 1600000000,
		 .nsec = 123456789,
		 .xname = {"user.dir"},
		 .xval = {"d"},
		 .xlen = {1}},
		{.path = "./dir/hello",
		 .mode = 0644,
		 .uid = 1000,
		 .gid = 1001,
		 .mtime = 1650000000,
		 .nsec = 5,
		 .data = "hello\n",
		 .len = 6,
		 .xname = {"user.color", "trusted.t"},
		 .xval = {"blue", "x"},
		 .xlen = {4, 1}},
		{.path = "./dir/suid",
		 .mode = 04755,
		 .data = "#!\n",
		 .len = 3,
		 .xname = {setcap},
		 .xval = {capability},
		 .xlen = {sizeof(capability)}},
		{.path = "./dir/sgid",
		 .mode = 02711,
		 .uid = 70000,
		 .gid = 80000},
		{.path = "./tmp/", .type = AE_IFDIR, .mode = 01777},
		{.path = "./dir/empty", .mode = 0600},
		{.path = "./dir/big", .data = big, .len = big_len},
		{.path = "./dir/link",
		 .type = AE_IFLNK,
		 .link = "hello",
		 .uid = 7},
		{.path = "./dir/longlink", .type = AE_IFLNK, .link = longlink},
		{.path = "./dir/hard", .link = "dir/hello"},
		{.path = "./dev/null",
		 .type = AE_IFCHR,
		 .mode = 0666,
		 .maj = 1,
		 .min = 3},
		{.path = "./dev/sda1",
		 .type = AE_IFBLK,
		 .mode = 0660,
		 .maj = 8,
		 .min = 1},
		{.path = "./dev/wide",
		 .type = AE_IFCHR,
		 .maj = 511,
		 .min = 70000},
		{.path = "./dev/fifo", .type = AE_IFIFO, .mode = 0620},
		{.path = longpath, .data = "long", .len = 4},
		{.path = "./caf\xc3\xa9/\xe2\x82\xac \xf0\x9f\x90\xb3",
		 .data = "utf8",
		 .len = 4},
		{.path = "./raw\xff\xfe", .data = "raw", .len = 3},
		{.path = "/abs", .data = "abs", .len = 3},
		{.path = "a//b/./c", .data = "c", .len = 1},
		{.path = "./acl/",
		 .type = AE_IFDIR,
		 .xname = {"system.posix_acl_access"},
		 .xval = {acl},
		 .xlen = {sizeof(acl) - 1}},
		{.path = "./weird",
		 .xname = {"foo.bar"},
		 .xval = {"z"},
		 .xlen = {1}},
	};

	layer(&t, filter, e, ARRAY_SIZE(e));
	CHECK(build(img, sizeof(img), &t, 1) == 0);
	layers_free(&t, 1);
	CHECK_FSCK(img);
	fs = img_open(img);
	CHECK(fs != NULL);
	if (!fs) {
		free(big);
		return;
	}

	CHECK(img_inode(fs, "dir", &li));
	CHECK(li.i_mode == (LINUX_S_IFDIR | 0750));
	CHECK(inode_uid(li) == 1000 && inode_gid(li) == 1001);
	CHECK(li.i_mtime == 1600000000);
	CHECK(li.i_mtime_extra >> 2 == 123456789);
	CHECK(li.i_atime == 1600000000 && li.i_ctime == 1600000000);
	CHECK(img_xattr(fs, "dir", "user.dir", buf, sizeof(buf)) == 1);

	CHECK(img_inode(fs, "dir/hello", &li));
	CHECK(li.i_mode == (LINUX_S_IFREG | 0644));
	CHECK(li.i_links_count == 2);
	CHECK(li.i_mtime == 1650000000 && li.i_mtime_extra >> 2 == 5);
	CHECK(img_data_is(fs, "dir/hello", "hello\n", 6));
	CHECK(img_xattr(fs, "dir/hello", "user.color", buf, sizeof(buf)) == 4 &&
	      !memcmp(buf, "blue", 4));
	CHECK(img_xattr(fs, "dir/hello", "trusted.t", buf, sizeof(buf)) == 1);
	CHECK(img_ino(fs, "dir/hard") == img_ino(fs, "dir/hello"));

	CHECK(img_inode(fs, "dir/suid", &li));
	CHECK(li.i_mode == (LINUX_S_IFREG | 04755));
	CHECK(img_xattr(fs, "dir/suid", setcap, buf, sizeof(buf)) ==
		      sizeof(capability) &&
	      !memcmp(buf, capability, sizeof(capability)));
	CHECK(img_inode(fs, "dir/sgid", &li));
	CHECK(li.i_mode == (LINUX_S_IFREG | 02711));
	CHECK(inode_uid(li) == 70000 && inode_gid(li) == 80000);
	CHECK(img_inode(fs, "tmp", &li));
	CHECK(li.i_mode == (LINUX_S_IFDIR | 01777));
	CHECK(img_data_is(fs, "dir/empty", "", 0));

	CHECK(img_data_is(fs, "dir/big", big, big_len));
	CHECK(img_inode(fs, "dir/big", &li));
	/* the hole takes no blocks */
	CHECK(ext2fs_get_stat_i_blocks(fs, (struct ext2_inode *)&li) * 512 <
	      big_len - (1 << 20) + (64 << 10));

	CHECK_STR(img_link(fs, "dir/link", buf, sizeof(buf)), "hello");
	CHECK(img_inode(fs, "dir/link", &li));
	CHECK(li.i_mode == (LINUX_S_IFLNK | 0777) && inode_uid(li) == 7);
	CHECK_STR(img_link(fs, "dir/longlink", buf, sizeof(buf)), longlink);

	CHECK(img_inode(fs, "dev/null", &li));
	CHECK(li.i_mode == (LINUX_S_IFCHR | 0666));
	CHECK(li.i_block[0] == (1 << 8 | 3));
	CHECK(img_inode(fs, "dev/sda1", &li));
	CHECK(li.i_mode == (LINUX_S_IFBLK | 0660));
	CHECK(li.i_block[0] == (8 << 8 | 1));
	CHECK(img_inode(fs, "dev/wide", &li));
	CHECK(li.i_block[0] == 0 &&
	      li.i_block[1] ==
		      ((70000 & 0xff) | 511 << 8 | (70000 & ~0xffu) << 12));
	CHECK(img_inode(fs, "dev/fifo", &li));
	CHECK(li.i_mode == (LINUX_S_IFIFO | 0620));
	/* implicit parent */
	CHECK(img_inode(fs, "dev", &li));
	CHECK(li.i_mode == (LINUX_S_IFDIR | 0755) && inode_uid(li) == 0);

	CHECK(img_data_is(fs, longpath, "long", 4));
	CHECK(img_data_is(fs, "caf\xc3\xa9/\xe2\x82\xac \xf0\x9f\x90\xb3",
			  "utf8", 4));
	CHECK(img_data_is(fs, "raw\xff\xfe", "raw", 3));
	CHECK(img_data_is(fs, "abs", "abs", 3));
	CHECK(img_data_is(fs, "a/b/c", "c", 1));
	CHECK(img_xattr(fs, "acl", "system.posix_acl_access", buf,
			sizeof(buf)) == sizeof(acl_disk) - 1 &&
	      !memcmp(buf, acl_disk, sizeof(acl_disk) - 1));
	CHECK(img_ino(fs, "weird") != 0);
	CHECK(img_xattr_count(fs, "weird") == 0);
	ext2fs_close_free(&fs);
	free(big);
}

/* UTF-8 names written by a UTF-8 locale, read in the C locale. */
static void test_utf8_locale(void)
{
	static const char name[] = "d\xc3\xa9j\xc3\xa0/\xe2\x82\xac.txt";
	char img[PATH_MAX];
	struct tw t;
	ext2_filsys fs;

	if (!setlocale(LC_ALL, "C.UTF-8")) {
		printf("C.UTF-8 locale missing: UTF-8 pax names skipped\n");
		return;
	}
	tw_begin(&t, F_NONE, false);
	{
		struct archive_entry *ae = archive_entry_new();

		archive_entry_set_pathname_utf8(ae, name);
		archive_entry_set_filetype(ae, AE_IFREG);
		archive_entry_set_perm(ae, 0644);
		archive_entry_set_size(ae, 2);
		if (archive_write_header(t.a, ae) != ARCHIVE_OK) {
			CHECK(!"pax header in C.UTF-8");
			fprintf(stderr, "%s\n", archive_error_string(t.a));
		}
		archive_write_data(t.a, "ok", 2);
		archive_entry_free(ae);
	}
	tw_end(&t);
	setlocale(LC_ALL, "C");
	CHECK(build(img, sizeof(img), &t, 1) == 0);
	layers_free(&t, 1);
	fs = img_open(img);
	CHECK(fs && img_data_is(fs, name, "ok", 2));
	if (fs)
		ext2fs_close_free(&fs);
	CHECK_FSCK(img);
}

static void test_layers(void)
{
	char img[PATH_MAX], buf[256];
	struct ext2_inode_large li;
	struct tw t[4];
	ext2_filsys fs;
	size_t big = 3 << 20;
	uint8_t *data = malloc(big);

	memset(data, 0x5a, big);
	struct ent l0[] = {
		{.path = "a/", .type = AE_IFDIR},
		{.path = "a/f1", .data = "1", .len = 1},
		{.path = "a/f2", .data = "2", .len = 1},
		{.path = "a/d/x", .data = data, .len = big},
		{.path = "op/", .type = AE_IFDIR, .mode = 0700},
		{.path = "op/old", .data = "old", .len = 3},
		{.path = "op/sub/old", .data = "old", .len = 3},
		{.path = "op/keep/old", .data = "old", .len = 3},
		{.path = "h1", .data = "h", .len = 1},
		{.path = "gone/inner/deep", .data = "g", .len = 1},
		{.path = "gone/hl", .link = "h1"},
		{.path = "e/", .type = AE_IFDIR},
		{.path = "e/child", .data = "c", .len = 1},
		{.path = "s", .data = "file", .len = 4},
		{.path = "md/",
		 .type = AE_IFDIR,
		 .mode = 0711,
		 .uid = 3,
		 .xname = {"user.old"},
		 .xval = {"o"},
		 .xlen = {1}},
		{.path = "md/kid", .data = "k", .len = 1},
		{.path = "same/x", .data = "x", .len = 1},
	};
	struct ent l1[] = {
		{.path = "a/.wh.f1"},
		{.path = "op/new", .data = "new", .len = 3},
		{.path = "op/keep/", .type = AE_IFDIR},
		{.path = "op/keep/new", .data = "n", .len = 1},
		{.path = "op/.wh..wh..opq"},
		{.path = "h2", .link = "h1"},
		{.path = ".wh.gone"},
		{.path = "e", .data = "now a file", .len = 10},
		{.path = "s", .type = AE_IFLNK, .link = "a/f2"},
		{.path = "md/",
		 .type = AE_IFDIR,
		 .mode = 0755,
		 .uid = 4,
		 .xname = {"user.new"},
		 .xval = {"n"},
		 .xlen = {1}},
		{.path = "same/y", .data = "y", .len = 1},
		{.path = "same/.wh.y"},
		{.path = ".wh.nothing-here"},
		{.path = "nodir/.wh.x"},
		{.path = ".wh..wh.plnk"},
	};
	struct ent l2[] = {
		{.path = "e/", .type = AE_IFDIR, .mode = 0700},
		{.path = "e/again", .data = "a", .len = 1},
		{.path = "a/d", .data = "d is a file", .len = 11},
		{.path = ".wh.h1"},
	};

	layer(&t[0], F_GZIP, l0, ARRAY_SIZE(l0));
	layer(&t[1], F_ZSTD, l1, ARRAY_SIZE(l1));
	layer(&t[2], F_NONE, l2, ARRAY_SIZE(l2));
	CHECK(build(img, sizeof(img), t, 3) == 0);
	layers_free(t, 3);
	CHECK_FSCK(img);
	fs = img_open(img);
	CHECK(fs != NULL);
	if (!fs) {
		free(data);
		return;
	}
	/* whiteout */
	CHECK(img_ino(fs, "a/f1") == 0);
	CHECK(img_data_is(fs, "a/f2", "2", 1));
	/* opaque, marker after the new entries */
	CHECK(img_ino(fs, "op/old") == 0);
	CHECK(img_ino(fs, "op/sub") == 0);
	CHECK(img_ino(fs, "op/keep/old") == 0);
	CHECK(img_data_is(fs, "op/new", "new", 3));
	CHECK(img_data_is(fs, "op/keep/new", "n", 1));
	CHECK(img_inode(fs, "op", &li) && (li.i_mode & 07777) == 0700);
	/* hard links across layers, whiteout of a linked tree */
	CHECK(img_ino(fs, "gone") == 0);
	CHECK(img_ino(fs, "h1") == 0);
	CHECK(img_inode(fs, "h2", &li) && li.i_links_count == 1);
	CHECK(img_data_is(fs, "h2", "h", 1));
	/* directory to file and back */
	CHECK(img_inode(fs, "e", &li) && LINUX_S_ISDIR(li.i_mode) &&
	      (li.i_mode & 07777) == 0700);
	CHECK(img_ino(fs, "e/child") == 0);
	CHECK(img_data_is(fs, "e/again", "a", 1));
	CHECK(img_data_is(fs, "a/d", "d is a file", 11));
	/* file to symlink */
	CHECK_STR(img_link(fs, "s", buf, sizeof(buf)), "a/f2");
	/* directory over directory: children kept, metadata replaced */
	CHECK(img_inode(fs, "md", &li) && (li.i_mode & 07777) == 0755 &&
	      inode_uid(li) == 4);
	CHECK(img_data_is(fs, "md/kid", "k", 1));
	CHECK(img_xattr(fs, "md", "user.old", buf, sizeof(buf)) < 0);
	CHECK(img_xattr(fs, "md", "user.new", buf, sizeof(buf)) == 1);
	/* a whiteout does not hide its own layer */
	CHECK(img_data_is(fs, "same/x", "x", 1));
	CHECK(img_data_is(fs, "same/y", "y", 1));
	CHECK(img_ino(fs, "nodir") == 0);
	ext2fs_close_free(&fs);
	free(data);
}

/* Opaque directories and whiteouts give one tree whatever the order. */
static void test_order(void)
{
	struct ent lower[] = {
		{.path = "d/", .type = AE_IFDIR},
		{.path = "d/a", .data = "a", .len = 1},
		{.path = "d/sub/b", .data = "b", .len = 1},
		{.path = "d/sub/c", .data = "c", .len = 1},
		{.path = "w/", .type = AE_IFDIR},
		{.path = "w/in/old", .data = "o", .len = 1},
	};
	struct ent upper[] = {
		{.path = "d/.wh..wh..opq"},
		{.path = "d/sub/", .type = AE_IFDIR},
		{.path = "d/sub/new", .data = "n", .len = 1},
		{.path = "d/z", .data = "z", .len = 1},
		{.path = "w/.wh.in"},
		{.path = "w/in/", .type = AE_IFDIR},
		{.path = "w/in/new", .data = "n", .len = 1},
	};
	struct ent rev[ARRAY_SIZE(upper)];
	char img1[PATH_MAX], img2[PATH_MAX];
	char *list1, *list2;
	struct tw t[2];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(upper); i++)
		rev[i] = upper[ARRAY_SIZE(upper) - 1 - i];
	layer(&t[0], F_NONE, lower, ARRAY_SIZE(lower));
	layer(&t[1], F_NONE, upper, ARRAY_SIZE(upper));
	CHECK(build(img1, sizeof(img1), t, 2) == 0);
	free(t[1].buf);
	layer(&t[1], F_NONE, rev, ARRAY_SIZE(rev));
	CHECK(build(img2, sizeof(img2), t, 2) == 0);
	layers_free(t, 2);
	CHECK_FSCK(img1);
	CHECK_FSCK(img2);
	list1 = img_list(img1);
	list2 = img_list(img2);
	CHECK_STR(list1, list2);
	CHECK(list1 && !strstr(list1, "/d/a "));
	CHECK(list1 && !strstr(list1, "/d/sub/b "));
	CHECK(list1 && strstr(list1, "/d/sub/new "));
	CHECK(list1 && strstr(list1, "/d/z "));
	CHECK(list1 && !strstr(list1, "/w/in/old "));
	CHECK(list1 && strstr(list1, "/w/in/new "));
	free(list1);
	free(list2);
}

/* Refused layers: EPROTO naming the layer and the entry. */
static void refused(const struct ent *e, size_t n, const char *needle)
{
	char img[PATH_MAX];
	struct tw t;

	layer(&t, F_GZIP, e, n);
	CHECK(build(img, sizeof(img), &t, 1) == -MSB_EPROTO);
	CHECK(has_error("layer `sha256:layer0`"));
	CHECK(has_error(needle));
	layers_free(&t, 1);
}

static void test_refused(void)
{
	struct ent dotdot[] = {{.path = "../x", .data = "x", .len = 1}};
	struct ent deep[] = {{.path = "a/../../x", .data = "x", .len = 1}};
	struct ent inner[] = {{.path = "a/b/../c", .data = "x", .len = 1}};
	struct ent slashes[] = {{.path = "//etc/x", .data = "x", .len = 1}};
	struct ent evil[] = {
		{.path = "evil", .type = AE_IFLNK, .link = "/etc"},
		{.path = "evil/passwd",
		 .data = "root::0:0::/:/bin/sh\n",
		 .len = 21},
	};
	struct ent evil2[] = {
		{.path = "evil", .type = AE_IFLNK, .link = "."},
		{.path = "evil/x/y", .type = AE_IFDIR},
	};
	struct ent missing[] = {{.path = "h", .link = "nothere"}};
	struct ent escape[] = {
		{.path = "f", .data = "f", .len = 1},
		{.path = "h", .link = "../f"},
	};
	struct ent linkroot[] = {{.path = "h", .link = "./"}};
	struct ent linkdir[] = {
		{.path = "d/", .type = AE_IFDIR},
		{.path = "h", .link = "d"},
	};
	struct ent replaced[] = {
		{.path = "x/y/f1", .data = "1", .len = 1},
		{.path = "x", .data = "x", .len = 1},
		{.path = "x/y/f2", .data = "2", .len = 1},
	};
	struct ent notdir[] = {
		{.path = "f", .data = "f", .len = 1},
		{.path = "f/x", .data = "x", .len = 1},
	};
	char longname[300];
	struct ent toolong[] = {{.path = longname, .data = "x", .len = 1}};

	refused(dotdot, 1, "path `../x` escapes the root");
	refused(deep, 1, "path `a/../../x` escapes the root");
	refused(inner, 1, "escapes the root");
	refused(slashes, 1, "path `//etc/x` is absolute");
	refused(evil, 2, "path `evil/passwd` goes through the symlink `evil`");
	refused(evil2, 2, "goes through the symlink");
	refused(missing, 1, "hard link to `nothere`, which does not exist");
	refused(escape, 2, "`../f` escapes the root");
	refused(linkdir, 2, "hard link to the directory");
	refused(linkroot, 1, "hard link to the root");
	refused(notdir, 2, "not a directory");
	refused(replaced, 3, "path `x/y/f2` is under `x`, not a directory");
	memset(longname, 'x', 256);
	longname[256] = '\0';
	refused(toolong, 1, "longer than 255");
}

static void test_errors(void)
{
	struct ent e[] = {{.path = "f", .data = "data", .len = 4}};
	char img[PATH_MAX];
	struct msb_rootfs *r;
	struct tw t, t2, full;
	uint8_t *big;
	size_t n = 20 << 20;
	int fd;

	layer(&t, F_GZIP, e, 1);
	image_path(img, sizeof(img));

	/* not a tar, a cut stream */
	CHECK(msb_rootfs_create(&r, img, 64 << 20) == 0);
	CHECK(msb_rootfs_apply_mem(r, "garbage garbage garbage", 23,
				   "sha256:bad") == -MSB_EPROTO);
	CHECK(has_error("layer `sha256:bad`"));
	/* the image is unusable after a failed layer */
	CHECK(msb_rootfs_apply_mem(r, t.buf, t.len, "next") == -MSB_EINVAL);
	CHECK(msb_rootfs_finish(r) == -MSB_EINVAL);

	CHECK(msb_rootfs_create(&r, img, 64 << 20) == 0);
	CHECK(msb_rootfs_apply_mem(r, t.buf, t.len / 2, "sha256:cut") ==
	      -MSB_EPROTO);
	msb_rootfs_free(r);

	/* an empty stream is an empty layer */
	CHECK(msb_rootfs_create(&r, img, 64 << 20) == 0);
	CHECK(msb_rootfs_apply_mem(r, NULL, 0, "empty") == 0);
	/* from a file descriptor */
	fd = memfd_create("layer", MFD_CLOEXEC);
	CHECK(fd >= 0 && write(fd, t.buf, t.len) == (ssize_t)t.len);
	CHECK(lseek(fd, 0, SEEK_SET) == 0);
	CHECK(msb_rootfs_apply(r, fd, "sha256:fd") == 0);
	close(fd);
	CHECK(msb_rootfs_apply(r, -1, "x") == -MSB_EINVAL);
	CHECK(msb_rootfs_finish(r) == 0);
	CHECK_FSCK(img);

	/* reading fails: a system error, not a bad layer */
	CHECK(msb_rootfs_create(&r, img, 64 << 20) == 0);
	fd = open(tmpdir, O_RDONLY | O_DIRECTORY);
	CHECK(msb_rootfs_apply(r, fd, "sha256:dir") == -MSB_ESYS);
	CHECK(msb_last_error()->sys_errno == EISDIR);
	CHECK(has_error("layer `sha256:dir`"));
	close(fd);
	msb_rootfs_free(r);

	/* an opaque root hides lost+found too: it comes back */
	{
		struct ent opq[] = {{.path = "./.wh..wh..opq"},
				    {.path = "x", .data = "x", .len = 1}};
		ext2_filsys fs;

		layer(&t2, F_NONE, opq, 2);
		CHECK(msb_rootfs_create(&r, img, 64 << 20) == 0);
		CHECK(msb_rootfs_apply_mem(r, t2.buf, t2.len, "l") == 0);
		CHECK(msb_rootfs_finish(r) == 0);
		layers_free(&t2, 1);
		CHECK_FSCK(img);
		fs = img_open(img);
		CHECK(fs && img_ino(fs, "lost+found") && img_ino(fs, "x"));
		if (fs)
			ext2fs_close_free(&fs);
	}
	layers_free(&t, 1);

	/* a full image */
	big = malloc(n);
	memset(big, 1, n);
	{
		struct ent b[] = {{.path = "big", .data = big, .len = n}};

		layer(&full, F_GZIP, b, 1);
	}
	CHECK(msb_rootfs_create(&r, img, 16 << 20) == 0);
	CHECK(msb_rootfs_apply_mem(r, full.buf, full.len, "sha256:big") ==
	      -MSB_ESYS);
	CHECK(msb_last_error()->sys_errno == ENOSPC);
	CHECK(has_error("full"));
	msb_rootfs_free(r);
	layers_free(&full, 1);
	free(big);
	unlink(img);
}

/* Many entries in one directory, many hard links: dir blocks, link
 * counts, removal. */
static void test_many(void)
{
	enum { N = 3000 };
	char img[PATH_MAX], name[64];
	struct ext2_inode_large li;
	struct tw t[2];
	ext2_filsys fs;
	int i;

	tw_begin(&t[0], F_GZIP, false);
	tw_add(&t[0], &(struct ent){.path = "f", .data = "x", .len = 1});
	for (i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "many/file-%d-with-a-longer-name",
			 i);
		tw_add(&t[0], &(struct ent){.path = name,
					    .data = name,
					    .len = strlen(name)});
		snprintf(name, sizeof(name), "links/%d", i);
		tw_add(&t[0], &(struct ent){.path = name, .link = "f"});
		if (i % 10 == 0) {
			snprintf(name, sizeof(name), "subs/d%d/", i);
			tw_add(&t[0],
			       &(struct ent){.path = name, .type = AE_IFDIR});
		}
	}
	tw_end(&t[0]);
	tw_begin(&t[1], F_NONE, false);
	for (i = 0; i < N; i += 2) {
		snprintf(name, sizeof(name),
			 "many/.wh.file-%d-with-a-longer-name", i);
		tw_add(&t[1], &(struct ent){.path = name});
	}
	tw_add(&t[1], &(struct ent){.path = ".wh.links"});
	tw_end(&t[1]);
	CHECK(build(img, sizeof(img), t, 2) == 0);
	layers_free(t, 2);
	CHECK_FSCK(img);
	fs = img_open(img);
	CHECK(fs != NULL);
	if (!fs)
		return;
	CHECK(img_inode(fs, "f", &li) && li.i_links_count == 1);
	CHECK(img_data_is(fs, "many/file-2999-with-a-longer-name",
			  "many/file-2999-with-a-longer-name", 33));
	CHECK(img_ino(fs, "many/file-2998-with-a-longer-name") == 0);
	CHECK(img_inode(fs, "subs", &li) && li.i_links_count == N / 10 + 2);
	ext2fs_close_free(&fs);
}

static void rm_tmpdir(void)
{
	char path[PATH_MAX];
	int i;

	for (i = 0; i < images; i++) {
		snprintf(path, sizeof(path), "%s/img%d.ext4", tmpdir, i);
		unlink(path);
	}
	rmdir(tmpdir);
}

int main(void)
{
	static const char *const fscks[] = {"/usr/sbin/e2fsck", "/sbin/e2fsck",
					    "/usr/bin/e2fsck"};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(fscks); i++)
		if (access(fscks[i], X_OK) == 0)
			e2fsck = fscks[i];
	if (!e2fsck)
		printf("e2fsck not found: images are not checked by it\n");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	initialize_ext2_error_table();
	test_create();
	test_entries(F_NONE);
	test_entries(F_GZIP);
	test_entries(F_ZSTD);
	test_utf8_locale();
	test_layers();
	test_order();
	test_refused();
	test_errors();
	test_many();
	rm_tmpdir();
	return check_summary("rootfs");
}
