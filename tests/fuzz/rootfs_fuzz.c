// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzz harness for the rootfs builder: the input is applied twice, as
 * two layers, to a 64 MiB image in a memfd (so whiteouts, opaque markers
 * and hard links meet a lower layer); a finished image is opened again
 * and walked through libext2fs. With ROOTFS_FUZZ_FSCK set, every
 * finished image must also pass `e2fsck -fn` (slow: for replays).
 */
#include <ext2fs/ext2_fs.h>
#include <ext2fs/ext2fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/image/rootfs.h"
#include "microsandbox.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fd = -1;

static const char *image(void)
{
	static char path[64];

	if (fd < 0) {
		fd = memfd_create("rootfs-fuzz", MFD_CLOEXEC);
		if (fd < 0) {
			perror("memfd_create");
			abort();
		}
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	return path;
}

static int walk_entry(struct ext2_dir_entry *de, int off, int bs, char *buf,
		      void *priv);

struct walk {
	ext2_filsys fs;
	unsigned depth;
	unsigned long inodes;
};

static void walk_dir(struct walk *w, ext2_ino_t dir)
{
	errcode_t e;

	if (++w->depth > 4096) {
		fprintf(stderr, "directory tree too deep\n");
		abort();
	}
	e = ext2fs_dir_iterate(w->fs, dir, 0, NULL, walk_entry, w);
	if (e) {
		fprintf(stderr, "iterate inode %u: %s\n", dir,
			error_message(e));
		abort();
	}
	w->depth--;
}

static int walk_entry(struct ext2_dir_entry *de, int off, int bs, char *buf,
		      void *priv)
{
	struct walk *w = priv;
	int len = ext2fs_dirent_name_len(de);
	struct ext2_inode in;
	errcode_t e;

	(void)off;
	(void)bs;
	(void)buf;
	if ((len == 1 && de->name[0] == '.') ||
	    (len == 2 && de->name[0] == '.' && de->name[1] == '.'))
		return 0;
	e = ext2fs_read_inode(w->fs, de->inode, &in);
	if (e || !in.i_links_count ||
	    !ext2fs_test_inode_bitmap2(w->fs->inode_map, de->inode)) {
		fprintf(stderr, "entry %.*s: inode %u is not in use\n", len,
			de->name, de->inode);
		abort();
	}
	w->inodes++;
	if (LINUX_S_ISDIR(in.i_mode))
		walk_dir(w, de->inode);
	return 0;
}

/* The finished image opens, its tree reads, its inodes are in use. */
static void check_image(const char *path)
{
	struct walk w = {0};
	errcode_t e;

	e = ext2fs_open(path, EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &w.fs);
	if (!e)
		e = ext2fs_read_bitmaps(w.fs);
	if (e) {
		fprintf(stderr, "open the image: %s\n", error_message(e));
		abort();
	}
	walk_dir(&w, EXT2_ROOT_INO);
	ext2fs_close_free(&w.fs);
}

/* e2fsck -fn on the memfd, through this process's /proc entry. */
static void fsck(void)
{
	char path[64];
	pid_t pid;
	int st;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)getpid(), fd);
	pid = fork();
	if (pid == 0) {
		execlp("e2fsck", "e2fsck", "-fn", path, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) ||
	    WEXITSTATUS(st)) {
		fprintf(stderr, "e2fsck -fn failed\n");
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = image();
	struct msb_rootfs *r;
	int rc;

	if (msb_rootfs_create(&r, path, 64ULL << 20) < 0) {
		fprintf(stderr, "create: %s\n", msb_last_error()->message);
		abort();
	}
	if (msb_rootfs_apply_mem(r, data, size, "sha256:lower") < 0 ||
	    msb_rootfs_apply_mem(r, data, size, "sha256:upper") < 0) {
		msb_rootfs_free(r);
		return 0;
	}
	rc = msb_rootfs_finish(r);
	if (rc == -MSB_ESYS)
		return 0; /* full */
	if (rc < 0) {
		fprintf(stderr, "finish: %s\n", msb_last_error()->message);
		abort();
	}
	check_image(path);
	if (getenv("ROOTFS_FUZZ_FSCK"))
		fsck();
	return 0;
}
