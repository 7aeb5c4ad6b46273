// SPDX-License-Identifier: Apache-2.0
/*
 * ext4tree IMAGE / dirtree DIR: one line per path of an ext4 image (read
 * through libext2fs) or of a host directory tree (lstat), in one format,
 * so that two trees are identical when the outputs are:
 *
 *   path type mode uid gid size mtime content xattrs
 *
 * path     from the root, "/" first; bytes outside 0x21-0x7e and `\` `=`
 *          `,` as \xNN
 * type     f d l c b p s
 * mode     permission bits with setuid/setgid/sticky, 4 octal digits
 * size     regular files and symlinks; 0 otherwise
 * mtime    seconds.nanoseconds, or "-" with --no-mtime
 * content  sha256 of a file, target of a symlink (escaped), major:minor
 *          of a device, "-" otherwise
 * xattrs   name=hexvalue,... sorted by name (POSIX ACLs in the format
 *          of the Linux API), or "-"
 *
 * Lines are sorted by path; "/lost+found" and what is under it are left
 * out (mke2fs makes it, images do not have it). One program: it works on
 * a directory when called as "dirtree" or with --dir.
 *
 * Usage: ext4tree [--no-mtime] [--dir] PATH
 */
#include <dirent.h>
#include <errno.h>
#include <ext2fs/ext2_fs.h>
#include <ext2fs/ext2fs.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

struct buf {
	char *p;
	size_t len, cap;
};

struct line {
	char *path; /* escaped: the sort key */
	char *rest;
};

static struct line *lines;
static size_t nlines, caplines;
static bool show_mtime = true;

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt,
								...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("ext4tree: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		die("out of memory");
	return p;
}

static void put(struct buf *b, const void *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

__attribute__((format(printf, 2, 3))) static void putf(struct buf *b,
						       const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	put(b, tmp, (size_t)n);
}

static void put_escaped(struct buf *b, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c >= 0x7f || c == '\\' || c == '=' || c == ',')
			putf(b, "\\x%02x", c);
		else
			put(b, &c, 1);
	}
}

static void put_hex(struct buf *b, const void *v, size_t n)
{
	const unsigned char *p = v;
	size_t i;

	for (i = 0; i < n; i++)
		putf(b, "%02x", p[i]);
}

/* One xattr, kept to be sorted by name. */
struct xattr {
	char *name;
	void *value;
	size_t len;
};

static int xattr_cmp(const void *a, const void *b)
{
	return strcmp(((const struct xattr *)a)->name,
		      ((const struct xattr *)b)->name);
}

static void put_xattrs(struct buf *b, struct xattr *x, size_t n)
{
	size_t i;

	if (!n) {
		put(b, "-", 1);
		return;
	}
	qsort(x, n, sizeof(*x), xattr_cmp);
	for (i = 0; i < n; i++) {
		if (i)
			put(b, ",", 1);
		put_escaped(b, x[i].name, strlen(x[i].name));
		put(b, "=", 1);
		put_hex(b, x[i].value, x[i].len);
		free(x[i].name);
		free(x[i].value);
	}
	free(x);
}

static void add_line(const char *path, size_t plen, struct buf *rest)
{
	struct buf p = {0};

	if (nlines == caplines) {
		caplines = caplines ? caplines * 2 : 1024;
		lines = xrealloc(lines, caplines * sizeof(*lines));
	}
	put(&p, "/", 1);
	put_escaped(&p, path, plen);
	lines[nlines].path = p.p;
	lines[nlines].rest = rest->p;
	nlines++;
}

static void put_common(struct buf *b, char type, unsigned mode, unsigned uid,
		       unsigned gid, unsigned long long size, long long sec,
		       unsigned nsec)
{
	putf(b, " %c %04o %u %u %llu ", type, mode & 07777, uid, gid, size);
	if (show_mtime)
		putf(b, "%lld.%09u ", sec, nsec);
	else
		put(b, "- ", 2);
}

static void sha_hex(struct buf *b, EVP_MD_CTX *ctx)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;

	if (!EVP_DigestFinal_ex(ctx, md, &n))
		die("sha256 failed");
	EVP_MD_CTX_free(ctx);
	put_hex(b, md, n);
}

static EVP_MD_CTX *sha_new(void)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
		die("sha256 failed");
	return ctx;
}

static bool is_lpf(const char *path, size_t len)
{
	return len >= 10 && !memcmp(path, "lost+found", 10) &&
	       (len == 10 || path[10] == '/');
}

/* --- ext4 image --- */

static ext2_filsys fs;

static long long ext4_time(uint32_t t, uint32_t extra, bool has_extra,
			   unsigned *nsec)
{
	long long sec = (int32_t)t;

	*nsec = 0;
	if (has_extra) {
		sec += (long long)(extra & 3) << 32;
		*nsec = extra >> 2;
	}
	return sec;
}

struct x_names {
	char **names;
	size_t n;
};

static int x_name(char *name, char *value, size_t len, void *data)
{
	struct x_names *xn = data;

	(void)value;
	(void)len;
	xn->names = xrealloc(xn->names, (xn->n + 1) * sizeof(char *));
	xn->names[xn->n] = strdup(name);
	if (!xn->names[xn->n])
		die("out of memory");
	xn->n++;
	return 0;
}

/*
 * An ACL in ext4's format (version 1, ids only for named users and
 * groups) as Linux's getxattr() gives it (version 2, every entry with an
 * id, -1 when there is none). libext2fs's own conversion writes 0.
 */
static void acl_from_disk(struct xattr *x)
{
	const unsigned char *d = x->value;
	unsigned char *out, *o;
	size_t i = 4, n = 0;

	if (x->len < 4 || d[0] != 1 || d[1] || d[2] || d[3])
		die("xattr %s: not an ext4 ACL", x->name);
	o = out = xrealloc(NULL, 4 + x->len * 2);
	memcpy(o, "\2\0\0\0", 4);
	o += 4;
	while (i + 4 <= x->len) {
		unsigned tag = d[i] | d[i + 1] << 8;

		memcpy(o, d + i, 4);
		if (tag == 0x02 || tag == 0x08) {
			if (i + 8 > x->len)
				die("xattr %s: cut ACL entry", x->name);
			memcpy(o + 4, d + i + 4, 4);
			i += 8;
		} else {
			memset(o + 4, 0xff, 4);
			i += 4;
		}
		o += 8;
		n++;
	}
	if (i != x->len)
		die("xattr %s: cut ACL", x->name);
	free(x->value);
	x->value = out;
	x->len = 4 + n * 8;
}

static struct xattr *ext4_xattrs(ext2_ino_t ino, size_t *n)
{
	struct ext2_xattr_handle *h;
	struct x_names xn = {0};
	unsigned raw = XATTR_HANDLE_FLAG_RAW;
	struct xattr *x;
	errcode_t e;
	size_t i;

	*n = 0;
	e = ext2fs_xattrs_open(fs, ino, &h);
	if (!e)
		e = ext2fs_xattrs_flags(h, &raw, NULL);
	if (!e)
		e = ext2fs_xattrs_read(h);
	if (!e)
		e = ext2fs_xattrs_iterate(h, x_name, &xn);
	if (e)
		die("xattrs of inode %u: %s", ino, error_message(e));
	x = xrealloc(NULL, xn.n * sizeof(*x));
	for (i = 0; i < xn.n; i++) {
		x[i].name = xn.names[i];
		e = ext2fs_xattr_get(h, xn.names[i], &x[i].value, &x[i].len);
		if (e)
			die("xattr %s of inode %u: %s", xn.names[i], ino,
			    error_message(e));
		if (!strcmp(xn.names[i], "system.posix_acl_access") ||
		    !strcmp(xn.names[i], "system.posix_acl_default"))
			acl_from_disk(&x[i]);
	}
	free(xn.names);
	ext2fs_xattrs_close(&h);
	*n = i;
	return x;
}

static void ext4_content(struct buf *b, ext2_ino_t ino,
			 struct ext2_inode_large *li)
{
	struct ext2_inode *in = (struct ext2_inode *)li;
	unsigned long long size = EXT2_I_SIZE(in);
	char *data = NULL;
	ext2_file_t f;
	errcode_t e;
	unsigned got;

	if (LINUX_S_ISLNK(li->i_mode) && ext2fs_is_fast_symlink(in)) {
		put_escaped(b, (const char *)li->i_block,
			    strnlen((const char *)li->i_block,
				    sizeof(li->i_block)));
		return;
	}
	if (LINUX_S_ISCHR(li->i_mode) || LINUX_S_ISBLK(li->i_mode)) {
		unsigned maj, min;

		if (li->i_block[0]) {
			maj = (li->i_block[0] >> 8) & 0xff;
			min = li->i_block[0] & 0xff;
		} else {
			maj = (li->i_block[1] & 0xfff00) >> 8;
			min = (li->i_block[1] & 0xff) |
			      ((li->i_block[1] >> 12) & 0xfff00);
		}
		putf(b, "%u:%u", maj, min);
		return;
	}
	if (!LINUX_S_ISREG(li->i_mode) && !LINUX_S_ISLNK(li->i_mode)) {
		put(b, "-", 1);
		return;
	}
	e = ext2fs_file_open2(fs, ino, in, 0, &f);
	if (e)
		die("open inode %u: %s", ino, error_message(e));
	data = xrealloc(NULL, 1 << 20);
	if (LINUX_S_ISLNK(li->i_mode)) {
		if (size >= 1 << 20)
			die("symlink inode %u too long", ino);
		e = ext2fs_file_read(f, data, (unsigned)size, &got);
		if (e || got != size)
			die("read inode %u: %s", ino, error_message(e));
		put_escaped(b, data, got);
	} else {
		EVP_MD_CTX *ctx = sha_new();
		unsigned long long total = 0;

		for (;;) {
			e = ext2fs_file_read(f, data, 1 << 20, &got);
			if (e)
				die("read inode %u: %s", ino, error_message(e));
			if (!got)
				break;
			EVP_DigestUpdate(ctx, data, got);
			total += got;
		}
		if (total != size)
			die("inode %u: read %llu of %llu bytes", ino, total,
			    size);
		sha_hex(b, ctx);
	}
	free(data);
	ext2fs_file_close(f);
}

static void ext4_inode(const char *path, size_t plen, ext2_ino_t ino)
{
	struct ext2_inode_large li;
	struct ext2_inode *in = (struct ext2_inode *)&li;
	struct buf b = {0};
	struct xattr *x;
	unsigned nsec;
	long long sec;
	size_t nx;
	char type;
	errcode_t e;
	unsigned long long size = 0;

	memset(&li, 0, sizeof(li));
	e = ext2fs_read_inode_full(fs, ino, in, sizeof(li));
	if (e)
		die("read inode %u: %s", ino, error_message(e));
	switch (li.i_mode & LINUX_S_IFMT) {
	case LINUX_S_IFREG:
		type = 'f';
		size = EXT2_I_SIZE(in);
		break;
	case LINUX_S_IFDIR:
		type = 'd';
		break;
	case LINUX_S_IFLNK:
		type = 'l';
		size = EXT2_I_SIZE(in);
		break;
	case LINUX_S_IFCHR:
		type = 'c';
		break;
	case LINUX_S_IFBLK:
		type = 'b';
		break;
	case LINUX_S_IFIFO:
		type = 'p';
		break;
	case LINUX_S_IFSOCK:
		type = 's';
		break;
	default:
		die("inode %u: bad mode 0%o", ino, li.i_mode);
	}
	sec = ext4_time(li.i_mtime, li.i_mtime_extra, li.i_extra_isize >= 24,
			&nsec);
	put_common(&b, type, li.i_mode, inode_uid(li), inode_gid(li), size, sec,
		   nsec);
	ext4_content(&b, ino, &li);
	put(&b, " ", 1);
	x = ext4_xattrs(ino, &nx);
	put_xattrs(&b, x, nx);
	add_line(path, plen, &b);
}

struct dir_ctx {
	ext2_ino_t *inos;
	char **names;
	size_t n;
};

static int dir_entry(struct ext2_dir_entry *de, int offset, int blocksize,
		     char *buf, void *priv)
{
	struct dir_ctx *c = priv;
	int len = ext2fs_dirent_name_len(de);

	(void)offset;
	(void)blocksize;
	(void)buf;
	if ((len == 1 && de->name[0] == '.') ||
	    (len == 2 && de->name[0] == '.' && de->name[1] == '.'))
		return 0;
	c->inos = xrealloc(c->inos, (c->n + 1) * sizeof(*c->inos));
	c->names = xrealloc(c->names, (c->n + 1) * sizeof(*c->names));
	c->inos[c->n] = de->inode;
	c->names[c->n] = xrealloc(NULL, (size_t)len + 1);
	memcpy(c->names[c->n], de->name, (size_t)len);
	c->names[c->n][len] = '\0';
	c->n++;
	return 0;
}

static void ext4_dir(char *path, size_t len, ext2_ino_t dir)
{
	struct dir_ctx c = {0};
	struct ext2_inode in;
	errcode_t e;
	size_t i, n;

	e = ext2fs_dir_iterate(fs, dir, 0, NULL, dir_entry, &c);
	if (e)
		die("read directory inode %u: %s", dir, error_message(e));
	for (i = 0; i < c.n; i++) {
		n = strlen(c.names[i]);
		if (len + n + 2 >= PATH_MAX)
			die("path too long");
		if (len)
			path[len] = '/';
		memcpy(path + len + (len ? 1 : 0), c.names[i], n + 1);
		n += len + (len ? 1 : 0);
		if (!is_lpf(path, n)) {
			ext4_inode(path, n, c.inos[i]);
			e = ext2fs_read_inode(fs, c.inos[i], &in);
			if (e)
				die("read inode %u: %s", c.inos[i],
				    error_message(e));
			if (LINUX_S_ISDIR(in.i_mode))
				ext4_dir(path, n, c.inos[i]);
		}
		path[len] = '\0';
		free(c.names[i]);
	}
	free(c.names);
	free(c.inos);
}

static void ext4_tree(const char *image)
{
	static char path[PATH_MAX];
	errcode_t e;

	initialize_ext2_error_table();
	e = ext2fs_open(image, EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &fs);
	if (e)
		die("open `%s`: %s", image, error_message(e));
	ext4_inode("", 0, EXT2_ROOT_INO);
	ext4_dir(path, 0, EXT2_ROOT_INO);
	ext2fs_close_free(&fs);
}

/* --- host directory --- */

static struct xattr *dir_xattrs(const char *path, size_t *n)
{
	struct xattr *x = NULL;
	char *names = NULL, *p;
	ssize_t len, vlen;

	*n = 0;
	len = llistxattr(path, NULL, 0);
	if (len < 0 && (errno == ENOTSUP || errno == ENODATA))
		return NULL;
	if (len < 0)
		die("llistxattr `%s`: %s", path, strerror(errno));
	names = xrealloc(NULL, (size_t)len + 1);
	len = llistxattr(path, names, (size_t)len);
	if (len < 0)
		die("llistxattr `%s`: %s", path, strerror(errno));
	for (p = names; p < names + len; p += strlen(p) + 1) {
		vlen = lgetxattr(path, p, NULL, 0);
		if (vlen < 0)
			die("lgetxattr `%s` %s: %s", path, p, strerror(errno));
		x = xrealloc(x, (*n + 1) * sizeof(*x));
		x[*n].name = strdup(p);
		x[*n].value = xrealloc(NULL, (size_t)vlen);
		vlen = lgetxattr(path, p, x[*n].value, (size_t)vlen);
		if (vlen < 0 || !x[*n].name)
			die("lgetxattr `%s` %s: %s", path, p, strerror(errno));
		x[*n].len = (size_t)vlen;
		(*n)++;
	}
	free(names);
	return x;
}

static void dir_inode(const char *full, const char *rel, size_t rlen,
		      const struct stat *st)
{
	struct buf b = {0};
	struct xattr *x;
	size_t nx;
	char type;
	unsigned long long size = 0;

	switch (st->st_mode & S_IFMT) {
	case S_IFREG:
		type = 'f';
		size = (unsigned long long)st->st_size;
		break;
	case S_IFDIR:
		type = 'd';
		break;
	case S_IFLNK:
		type = 'l';
		size = (unsigned long long)st->st_size;
		break;
	case S_IFCHR:
		type = 'c';
		break;
	case S_IFBLK:
		type = 'b';
		break;
	case S_IFIFO:
		type = 'p';
		break;
	default:
		type = 's';
		break;
	}
	put_common(&b, type, st->st_mode, st->st_uid, st->st_gid, size,
		   (long long)st->st_mtim.tv_sec,
		   (unsigned)st->st_mtim.tv_nsec);
	if (type == 'l') {
		char target[PATH_MAX];
		ssize_t n = readlink(full, target, sizeof(target));

		if (n < 0)
			die("readlink `%s`: %s", full, strerror(errno));
		put_escaped(&b, target, (size_t)n);
	} else if (type == 'c' || type == 'b') {
		putf(&b, "%u:%u", major(st->st_rdev), minor(st->st_rdev));
	} else if (type == 'f') {
		EVP_MD_CTX *ctx = sha_new();
		static char data[1 << 16];
		int fd = open(full, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		ssize_t n;

		if (fd < 0)
			die("open `%s`: %s", full, strerror(errno));
		while ((n = read(fd, data, sizeof(data))) > 0)
			EVP_DigestUpdate(ctx, data, (size_t)n);
		if (n < 0)
			die("read `%s`: %s", full, strerror(errno));
		close(fd);
		sha_hex(&b, ctx);
	} else {
		put(&b, "-", 1);
	}
	put(&b, " ", 1);
	x = dir_xattrs(full, &nx);
	put_xattrs(&b, x, nx);
	add_line(rel, rlen, &b);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* @full is the host path; @rel starts at @full + @skip. */
static void dir_walk(char *full, size_t len, size_t skip)
{
	struct dirent *de;
	struct stat st;
	char **names = NULL;
	size_t n = 0, i, nl;
	DIR *d = opendir(full);

	if (!d)
		die("opendir `%s`: %s", full, strerror(errno));
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		names = xrealloc(names, (n + 1) * sizeof(*names));
		names[n] = strdup(de->d_name);
		if (!names[n])
			die("out of memory");
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof(*names), name_cmp);
	for (i = 0; i < n; i++) {
		nl = strlen(names[i]);
		if (len + nl + 2 >= PATH_MAX)
			die("path too long");
		full[len] = '/';
		memcpy(full + len + 1, names[i], nl + 1);
		nl += len + 1;
		if (!is_lpf(full + skip, nl - skip)) {
			if (lstat(full, &st) < 0)
				die("lstat `%s`: %s", full, strerror(errno));
			dir_inode(full, full + skip, nl - skip, &st);
			if (S_ISDIR(st.st_mode))
				dir_walk(full, nl, skip);
		}
		full[len] = '\0';
		free(names[i]);
	}
	free(names);
}

static void dir_tree(const char *dir)
{
	static char full[PATH_MAX];
	struct stat st;
	size_t len = strlen(dir);

	while (len > 1 && dir[len - 1] == '/')
		len--;
	if (len + 2 >= PATH_MAX)
		die("path too long");
	memcpy(full, dir, len);
	full[len] = '\0';
	if (lstat(full, &st) < 0)
		die("lstat `%s`: %s", full, strerror(errno));
	dir_inode(full, "", 0, &st);
	dir_walk(full, len, len + 1);
}

static int line_cmp(const void *a, const void *b)
{
	return strcmp(((const struct line *)a)->path,
		      ((const struct line *)b)->path);
}

int main(int argc, char **argv)
{
	const char *base = strrchr(argv[0], '/');
	bool dir = !strcmp(base ? base + 1 : argv[0], "dirtree");
	const char *path = NULL;
	size_t i;
	int a;

	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--no-mtime"))
			show_mtime = false;
		else if (!strcmp(argv[a], "--dir"))
			dir = true;
		else if (argv[a][0] == '-' || path)
			die("usage: %s [--no-mtime] [--dir] %s", argv[0],
			    dir ? "DIR" : "IMAGE");
		else
			path = argv[a];
	}
	if (!path)
		die("usage: %s [--no-mtime] [--dir] %s", argv[0],
		    dir ? "DIR" : "IMAGE");
	if (dir)
		dir_tree(path);
	else
		ext4_tree(path);
	qsort(lines, nlines, sizeof(*lines), line_cmp);
	for (i = 0; i < nlines; i++) {
		printf("%s%s\n", lines[i].path, lines[i].rest);
		free(lines[i].path);
		free(lines[i].rest);
	}
	free(lines);
	if (fflush(stdout) || ferror(stdout))
		die("write: %s", strerror(errno));
	return 0;
}
