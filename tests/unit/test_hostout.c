// SPDX-License-Identifier: Apache-2.0
/*
 * The writer of host files from guest data (src/lib/hostout.c) and the
 * volume copy-out built on it, against hostile input: names, symlinks
 * left in the destination, modes, holes, limits, and ext4 images whose
 * directories hold "..", "a/b", duplicates and cycles (made here with
 * libext2fs, which writes whatever name it is given).
 */
#include <errno.h>
#include <et/com_err.h>
#include <ext2fs/ext2fs.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "lib/hostout.h"
#include "lib/internal.h"

static char tmp[64];

static int last_code(void)
{
	return msb_last_error()->code;
}

static bool msg_has(const char *s)
{
	return strstr(msb_last_error()->message, s) != NULL;
}

static void test_names(void)
{
	CHECK(msb__name_ok("a", 1));
	CHECK(msb__name_ok("...", 3));
	CHECK(msb__name_ok(".hidden", 7));
	CHECK(msb__name_ok("with space\n", 11));
	CHECK(!msb__name_ok("", 0));
	CHECK(!msb__name_ok(".", 1));
	CHECK(!msb__name_ok("..", 2));
	CHECK(!msb__name_ok("a/b", 3));
	CHECK(!msb__name_ok("/", 1));
	CHECK(!msb__name_ok("a\0b", 3));
	char long_name[300];
	memset(long_name, 'x', sizeof(long_name));
	CHECK(msb__name_ok(long_name, 255));
	CHECK(!msb__name_ok(long_name, 256));

	const char *ok[] = {"b", "a", "c"};
	const char *dup[] = {"v", "x", "v"};
	CHECK(msb__names_dup(ok, 3) == -1);
	CHECK(msb__names_dup(dup, 3) == 2);
	CHECK(msb__names_dup(ok, 0) == -1);

	struct msb_out o;
	CHECK(msb__out_init(&o, NULL, "test") == 0);
	CHECK(msb__out_check_listing(&o, "/d", ok, 3) == 0);
	CHECK(msb__out_check_listing(&o, "/d", dup, 3) == -MSB_EPROTO);
	CHECK(msg_has("refusing entry `v` in `/d`: the name appears twice"));
	const char *dots[] = {"a", "..", "b"};
	CHECK(msb__out_check_listing(&o, "/d", dots, 3) == -MSB_EPROTO);
	CHECK(msg_has("refusing entry `..`"));
	/* A name with a terminal escape is shown escaped. */
	const char *esc[] = {"x/\x1b[2J"};
	CHECK(msb__out_check_listing(&o, "/d", esc, 1) == -MSB_EPROTO);
	CHECK(msg_has("`x/\\x1b[2J`"));
	CHECK(!strchr(msb_last_error()->message, 0x1b));

	msb_copy_options bad = {.version = 99};
	CHECK(msb__out_init(&o, &bad, "test") == -MSB_EINVAL);
}

static void test_escape(void)
{
	char out[64];

	CHECK_STR(msb_escape(out, sizeof(out), "plain", 5), "plain");
	CHECK_STR(msb_escape(out, sizeof(out), "a\nb\tc\\", 6),
		  "a\\x0ab\\x09c\\x5c");
	CHECK_STR(msb_escape(out, sizeof(out), "caf\xc3\xa9", 5),
		  "caf\xc3\xa9");
	/* Invalid UTF-8, and a C1 control (U+009B, a CSI on some
	 * terminals) as UTF-8. */
	CHECK_STR(msb_escape(out, sizeof(out), "\xff\xc2\x9b", 3),
		  "\\xff\\xc2\\x9b");
	CHECK_STR(msb_escape(out, 8, "0123456789", 10), "0123...");
	CHECK_STR(msb_escape(out, sizeof(out), "a\0b", 3), "a\\x00b");
}

/* A file of @path, or NULL. */
static char *slurp(const char *path)
{
	static char buf[256];
	int fd = open(path, O_RDONLY | O_NOFOLLOW);
	if (fd < 0)
		return NULL;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return buf;
}

static void test_writer(void)
{
	struct msb_out o;
	struct msb_out_file f;
	char path[256], target[256];
	struct stat st;
	int top, d;
	char *name;

	/* The destination's folder is the caller's; its last name is made. */
	snprintf(path, sizeof(path), "%s/dst/out", tmp);
	CHECK(msb__out_open_top(&top, &name, path) == -MSB_ENOTFOUND);
	snprintf(path, sizeof(path), "%s/dst", tmp);
	CHECK(mkdir(path, 0755) == 0);
	snprintf(path, sizeof(path), "%s/dst/..", tmp);
	CHECK(msb__out_open_top(&top, &name, path) == -MSB_EINVAL);
	snprintf(path, sizeof(path), "%s/dst/out/", tmp);
	CHECK(msb__out_open_top(&top, &name, path) == 0);
	CHECK_STR(name, "out");
	free(name);

	/* An earlier copy left out/v -> a host folder: a new copy that has
	 * a directory v replaces the link and writes nothing through it. */
	snprintf(target, sizeof(target), "%s/victim", tmp);
	CHECK(mkdir(target, 0700) == 0);
	CHECK(msb__out_init(&o, NULL, "copy") == 0);
	CHECK(msb__out_dir(&o, &d, top, "out", "out") == 0);
	CHECK(symlinkat(target, d, "v") == 0);
	int v;
	CHECK(msb__out_dir(&o, &v, d, "v", "out/v") == 0);
	CHECK(msb__out_file_begin(&o, &f, v, "pwned", "out/v/pwned") == 0);
	CHECK(msb__out_file_write(&o, &f, "x", 1, "pwned") == 0);
	CHECK(msb__out_file_commit(&o, &f, 0644, -1, -1, "pwned") == 0);
	CHECK(msb__out_dir_done(&o, v, 0777, -1, -1, "out/v") == 0);
	snprintf(path, sizeof(path), "%s/victim/pwned", tmp);
	CHECK(access(path, F_OK) < 0 && errno == ENOENT);
	CHECK(stat(target, &st) == 0 && (st.st_mode & 07777) == 0700);
	snprintf(path, sizeof(path), "%s/dst/out/v", tmp);
	CHECK(lstat(path, &st) == 0 && S_ISDIR(st.st_mode));
	/* The umask (022 here) clamps 0777. */
	CHECK((st.st_mode & 07777) == 0755);
	close(v);

	/* A file over a symlink to a host file: the link is replaced. */
	snprintf(target, sizeof(target), "%s/victim/file", tmp);
	CHECK(close(open(target, O_CREAT | O_WRONLY, 0600)) == 0);
	CHECK(symlinkat(target, d, "f") == 0);
	CHECK(msb__out_file_begin(&o, &f, d, "f", "out/f") == 0);
	CHECK(msb__out_file_write(&o, &f, "data", 4, "out/f") == 0);
	CHECK(msb__out_file_commit(&o, &f, 04755, -1, -1, "out/f") == 0);
	CHECK(stat(target, &st) == 0 && st.st_size == 0);
	snprintf(path, sizeof(path), "%s/dst/out/f", tmp);
	CHECK(lstat(path, &st) == 0 && S_ISREG(st.st_mode));
	/* setuid dropped */
	CHECK((st.st_mode & 07777) == 0755);
	CHECK(slurp(path) && !strcmp(slurp(path), "data"));

	/* Archive mode keeps it. */
	struct msb_out a;
	msb_copy_options ao = MSB_COPY_OPTIONS_INIT;
	ao.archive = 1;
	CHECK(msb__out_init(&a, &ao, "copy") == 0);
	CHECK(msb__out_file_begin(&a, &f, d, "suid", "out/suid") == 0);
	CHECK(msb__out_file_commit(&a, &f, 04755, -1, -1, "out/suid") == 0);
	snprintf(path, sizeof(path), "%s/dst/out/suid", tmp);
	CHECK(lstat(path, &st) == 0 && (st.st_mode & 07777) == 04755);

	/* A directory where a file goes: an error, nothing changed. */
	CHECK(mkdirat(d, "isdir", 0700) == 0);
	CHECK(msb__out_file_begin(&o, &f, d, "isdir", "out/isdir") ==
	      -MSB_EISDIR);
	/* A file where a directory goes. */
	CHECK(msb__out_dir(&o, &v, d, "f", "out/f") == -MSB_EEXIST);
	CHECK(msg_has("exists and is not a directory"));

	/* Holes: 1 MiB of zeros, a byte, 1 MiB of zeros. */
	static char zeros[1 << 20];
	CHECK(msb__out_file_begin(&o, &f, d, "sparse", "out/sparse") == 0);
	CHECK(msb__out_file_write(&o, &f, zeros, sizeof(zeros), "s") == 0);
	CHECK(msb__out_file_write(&o, &f, "x", 1, "s") == 0);
	CHECK(msb__out_file_write(&o, &f, zeros, sizeof(zeros), "s") == 0);
	CHECK(msb__out_file_commit(&o, &f, 0644, -1, -1, "s") == 0);
	snprintf(path, sizeof(path), "%s/dst/out/sparse", tmp);
	CHECK(stat(path, &st) == 0 && st.st_size == 2 * (1 << 20) + 1);
	CHECK(st.st_blocks <= 64); /* one or two blocks, not 4096 */

	/* A symlink: made under a temporary name, renamed over a file. */
	CHECK(msb__out_symlink(&o, d, "sparse", "/etc/passwd", "s") == 0);
	CHECK(readlinkat(d, "sparse", path, sizeof(path)) == 11);
	CHECK(msb__out_symlink(&o, d, "l", "", "l") == -MSB_EPROTO);
	CHECK(msb__out_symlink(&o, d, "isdir", "x", "isdir") == -MSB_EISDIR);

	/* No temporary names are left behind. */
	snprintf(path, sizeof(path), "ls -a %s/dst/out | grep -c msb-tmp", tmp);
	CHECK(system(path) != 0);

	/* Limits. */
	msb_copy_options lo = MSB_COPY_OPTIONS_INIT;
	lo.max_bytes = 10;
	lo.max_files = 2;
	CHECK(msb__out_init(&o, &lo, "copy") == 0);
	CHECK(msb__out_file_begin(&o, &f, d, "big", "big") == 0);
	CHECK(msb__out_file_write(&o, &f, "0123456789", 10, "big") == 0);
	CHECK(msb__out_file_write(&o, &f, "x", 1, "big") == -MSB_ENOSPC);
	CHECK(msg_has("--max-size"));
	msb__out_file_abort(&f);
	CHECK(faccessat(d, "big", F_OK, AT_SYMLINK_NOFOLLOW) < 0);
	CHECK(msb__out_dir(&o, &v, d, "n2", "n2") == 0);
	close(v);
	CHECK(msb__out_dir(&o, &v, d, "n3", "n3") == -MSB_ENOSPC);
	CHECK(msg_has("--max-files"));

	close(d);
	close(top);
}

/* --- volume images with hostile directories --- */

static ext2_ino_t mkfile(ext2_filsys fs, ext2_ino_t dir, const char *name,
			 const char *data, unsigned int mode)
{
	ext2_ino_t ino;
	struct ext2_inode in;
	ext2_file_t f;
	unsigned int w;

	CHECK(ext2fs_new_inode(fs, dir, LINUX_S_IFREG | 0600, NULL, &ino) == 0);
	CHECK(ext2fs_link(fs, dir, name, ino, EXT2_FT_REG_FILE) == 0);
	ext2fs_inode_alloc_stats2(fs, ino, +1, 0);
	memset(&in, 0, sizeof(in));
	in.i_mode = LINUX_S_IFREG | mode;
	in.i_links_count = 1;
	ext2_extent_handle_t h; /* an empty extent tree in the inode */
	CHECK(ext2fs_extent_open2(fs, ino, &in, &h) == 0);
	ext2fs_extent_free(h);
	CHECK(ext2fs_write_new_inode(fs, ino, &in) == 0);
	CHECK(ext2fs_file_open(fs, ino, EXT2_FILE_WRITE, &f) == 0);
	CHECK(ext2fs_file_write(f, data, (unsigned int)strlen(data), &w) == 0);
	CHECK(ext2fs_file_close(f) == 0);
	return ino;
}

static ext2_ino_t mkdir_in(ext2_filsys fs, ext2_ino_t dir, const char *name)
{
	ext2_ino_t ino;

	CHECK(ext2fs_mkdir(fs, dir, 0, name) == 0);
	CHECK(ext2fs_lookup(fs, dir, name, strlen(name), NULL, &ino) == 0);
	return ino;
}

static void test_volume_image(void)
{
	char img[128], cmd[300], dst[128], path[256];
	ext2_filsys fs;
	struct stat st;

	snprintf(img, sizeof(img), "%s/vol.ext4", tmp);
	snprintf(cmd, sizeof(cmd),
		 "mke2fs -q -F -t ext4 -O ^has_journal %s 8M >/dev/null 2>&1",
		 img);
	CHECK(system(cmd) == 0);
	CHECK(ext2fs_open(img, EXT2_FLAG_RW | EXT2_FLAG_64BITS, 0, 0,
			  unix_io_manager, &fs) == 0);
	CHECK(ext2fs_read_bitmaps(fs) == 0);
	ext2_ino_t ok = mkdir_in(fs, EXT2_ROOT_INO, "ok");
	mkfile(fs, ok, "suid", "#!/bin/sh\n", 04755);
	mkfile(fs, ok, "plain", "hello", 0640);
	ext2_ino_t sub = mkdir_in(fs, ok, "sub");
	mkfile(fs, sub, "deep", "deep", 0600);

	/* Holes: 64 GiB of nothing but one block in the middle. */
	ext2_ino_t holes = mkfile(fs, ok, "holes", "", 0644);
	ext2_file_t hf;
	unsigned int w;
	CHECK(ext2fs_file_open(fs, holes, EXT2_FILE_WRITE, &hf) == 0);
	CHECK(ext2fs_file_llseek(hf, 5ull << 30, EXT2_SEEK_SET, NULL) == 0);
	CHECK(ext2fs_file_write(hf, "mid", 3, &w) == 0 && w == 3);
	CHECK(ext2fs_file_set_size2(hf, 63ull << 30) == 0);
	CHECK(ext2fs_file_close(hf) == 0);

	ext2_ino_t dd = mkdir_in(fs, EXT2_ROOT_INO, "dotdot");
	ext2_ino_t evil = mkfile(fs, dd, "x", "evil", 0644);
	CHECK(ext2fs_link(fs, dd, "..", evil, EXT2_FT_REG_FILE) == 0);

	ext2_ino_t sl = mkdir_in(fs, EXT2_ROOT_INO, "slash");
	mkfile(fs, sl, "../../escaped", "evil", 0644);

	ext2_ino_t dup = mkdir_in(fs, EXT2_ROOT_INO, "dup");
	mkfile(fs, dup, "v", "first", 0644);
	mkfile(fs, dup, "v", "second", 0644);

	ext2_ino_t cyc = mkdir_in(fs, EXT2_ROOT_INO, "cycle");
	ext2_ino_t inner = mkdir_in(fs, cyc, "inner");
	CHECK(ext2fs_link(fs, inner, "back", cyc, EXT2_FT_DIR) == 0);
	CHECK(ext2fs_close_free(&fs) == 0);

	snprintf(dst, sizeof(dst), "%s/vout", tmp);
	CHECK(mkdir(dst, 0755) == 0);

	/* A clean tree: modes clamped, setuid dropped. */
	snprintf(path, sizeof(path), "%s/ok", dst);
	CHECK(msb__volume_image_copy_out(img, "/ok", path, NULL) == 0);
	snprintf(path, sizeof(path), "%s/ok/sub/deep", dst);
	CHECK(slurp(path) && !strcmp(slurp(path), "deep"));
	snprintf(path, sizeof(path), "%s/ok/suid", dst);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0755);
	snprintf(path, sizeof(path), "%s/ok/plain", dst);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0640);
	/* Holes stay holes, and are not read. */
	snprintf(path, sizeof(path), "%s/ok/holes", dst);
	CHECK(stat(path, &st) == 0 && st.st_size == 63ll << 30);
	CHECK(st.st_blocks <= 64);
	int hfd = open(path, O_RDONLY);
	char mid[4] = {0};
	CHECK(pread(hfd, mid, 3, 5ll << 30) == 3 && !strcmp(mid, "mid"));
	CHECK(pread(hfd, mid, 3, (5ll << 30) - 3) == 3 && !mid[0] && !mid[2]);
	close(hfd);

	/* Each hostile directory: refused, naming the entry; nothing
	 * written outside the destination. */
	snprintf(path, sizeof(path), "%s/dotdot", dst);
	CHECK(msb__volume_image_copy_out(img, "/dotdot", path, NULL) ==
	      -MSB_EPROTO);
	CHECK(msg_has("refusing entry `..` in `/dotdot`"));
	snprintf(path, sizeof(path), "%s/x", dst);
	CHECK(access(path, F_OK) < 0);

	snprintf(path, sizeof(path), "%s/slash", dst);
	CHECK(msb__volume_image_copy_out(img, "/slash", path, NULL) ==
	      -MSB_EPROTO);
	CHECK(msg_has("`../../escaped`"));
	snprintf(path, sizeof(path), "%s/escaped", tmp);
	CHECK(access(path, F_OK) < 0);

	snprintf(path, sizeof(path), "%s/dup", dst);
	CHECK(msb__volume_image_copy_out(img, "/dup", path, NULL) ==
	      -MSB_EPROTO);
	CHECK(msg_has("appears twice"));

	snprintf(path, sizeof(path), "%s/cycle", dst);
	CHECK(msb__volume_image_copy_out(img, "/cycle", path, NULL) ==
	      -MSB_EPROTO);
	CHECK(msg_has("contains itself"));
	CHECK(last_code() == MSB_EPROTO);

	/* Not an image at all: a readable error, not "Unknown code". */
	snprintf(path, sizeof(path), "%s/notimg", tmp);
	CHECK(close(open(path, O_CREAT | O_WRONLY, 0600)) == 0);
	CHECK(msb__volume_image_copy_out(path, "/", dst, NULL) < 0);
	CHECK(!msg_has("Unknown code"));
}

int main(void)
{
	snprintf(tmp, sizeof(tmp), "/tmp/msb-hostout-XXXXXX");
	if (!mkdtemp(tmp))
		return 1;
	umask(022);
	test_names();
	test_escape();
	test_writer();
	test_volume_image();
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
	if (system(cmd) != 0)
		return 1;
	return check_summary("hostout");
}
