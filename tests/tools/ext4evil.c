// SPDX-License-Identifier: Apache-2.0
/*
 * ext4evil IMAGE OP...: add raw directory entries to an ext4 image, as a
 * guest that owns its volume's block device can: names the kernel and
 * e2fsck would refuse ("..", "a/b", "", duplicates), and entries that
 * make cycles. libext2fs's ext2fs_link() checks none of that.
 *
 *   link DIR NAME PATH      entry NAME in DIR for the inode at PATH
 *   symlink DIR NAME TEXT   a new symlink inode, entry NAME in DIR
 *   size PATH BYTES         set the size of the file at PATH, blocks
 *                           unchanged (a huge file of holes)
 *
 * DIR and PATH are paths in the image. Operations run in order, so a
 * symlink then a link of the same NAME gives two entries of one name.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <et/com_err.h>
#include <ext2fs/ext2fs.h>

static ext2_filsys fs;

static int fail(const char *what, const char *arg, errcode_t err)
{
	fprintf(stderr, "ext4evil: %s `%s`: %s\n", what, arg,
		error_message(err));
	return 1;
}

static errcode_t lookup(const char *path, ext2_ino_t *ino)
{
	return ext2fs_namei(fs, EXT2_ROOT_INO, EXT2_ROOT_INO, path, ino);
}

/* ext2fs_link(), growing the directory when its blocks are full. */
static errcode_t add_entry(ext2_ino_t dir, const char *name, ext2_ino_t ino,
			   int type)
{
	errcode_t err = ext2fs_link(fs, dir, name, ino, type);

	if (err == EXT2_ET_DIR_NO_SPACE) {
		err = ext2fs_expand_dir(fs, dir);
		if (!err)
			err = ext2fs_link(fs, dir, name, ino, type);
	}
	return err;
}

static int op_link(const char *dirp, const char *name, const char *path)
{
	ext2_ino_t dir, ino;
	struct ext2_inode inode;
	errcode_t err;
	int type;

	if ((err = lookup(dirp, &dir)))
		return fail("find", dirp, err);
	if ((err = lookup(path, &ino)))
		return fail("find", path, err);
	if ((err = ext2fs_read_inode(fs, ino, &inode)))
		return fail("read inode of", path, err);
	type = LINUX_S_ISDIR(inode.i_mode)   ? EXT2_FT_DIR
	       : LINUX_S_ISLNK(inode.i_mode) ? EXT2_FT_SYMLINK
					     : EXT2_FT_REG_FILE;
	if ((err = add_entry(dir, name, ino, type)))
		return fail("link", name, err);
	inode.i_links_count++;
	if ((err = ext2fs_write_inode(fs, ino, &inode)))
		return fail("write inode of", path, err);
	return 0;
}

static int op_symlink(const char *dirp, const char *name, const char *text)
{
	ext2_ino_t dir, ino;
	errcode_t err;

	if ((err = lookup(dirp, &dir)))
		return fail("find", dirp, err);
	if ((err = ext2fs_new_inode(fs, dir, LINUX_S_IFLNK | 0777, NULL, &ino)))
		return fail("new inode for", name, err);
	/* ext2fs_symlink() refuses a name already present: make the inode
	 * under a scratch name, then link the real name. */
	if ((err = ext2fs_symlink(fs, dir, ino, "ext4evil.tmp", text)))
		return fail("symlink", name, err);
	if ((err = ext2fs_unlink(fs, dir, "ext4evil.tmp", ino, 0)))
		return fail("unlink scratch name for", name, err);
	if ((err = add_entry(dir, name, ino, EXT2_FT_SYMLINK)))
		return fail("link", name, err);
	return 0;
}

static int op_size(const char *path, const char *bytes)
{
	struct ext2_inode inode;
	ext2_ino_t ino;
	errcode_t err;

	if ((err = lookup(path, &ino)))
		return fail("find", path, err);
	if ((err = ext2fs_read_inode(fs, ino, &inode)))
		return fail("read inode of", path, err);
	if ((err = ext2fs_inode_size_set(fs, &inode,
					 strtoull(bytes, NULL, 10))))
		return fail("set the size of", path, err);
	if ((err = ext2fs_write_inode(fs, ino, &inode)))
		return fail("write inode of", path, err);
	return 0;
}

int main(int argc, char **argv)
{
	errcode_t err;
	int i, n, rc = 0;

	if (argc < 2) {
		fputs("usage: ext4evil IMAGE [link DIR NAME PATH | "
		      "symlink DIR NAME TEXT | size PATH BYTES]...\n",
		      stderr);
		return 2;
	}
	initialize_ext2_error_table();
	if ((err = ext2fs_open(argv[1], EXT2_FLAG_RW, 0, 0, unix_io_manager,
			       &fs)))
		return fail("open", argv[1], err);
	if ((err = ext2fs_read_bitmaps(fs)))
		return fail("read bitmaps of", argv[1], err);
	for (i = 2; rc == 0 && i < argc; i += n + 1) {
		n = !strcmp(argv[i], "size") ? 2 : 3;
		if (i + n >= argc)
			rc = fail("incomplete operation", argv[i], 0);
		else if (!strcmp(argv[i], "link"))
			rc = op_link(argv[i + 1], argv[i + 2], argv[i + 3]);
		else if (!strcmp(argv[i], "symlink"))
			rc = op_symlink(argv[i + 1], argv[i + 2], argv[i + 3]);
		else if (!strcmp(argv[i], "size"))
			rc = op_size(argv[i + 1], argv[i + 2]);
		else
			rc = fail("unknown operation", argv[i], 0);
	}
	if ((err = ext2fs_close_free(&fs)))
		return fail("close", argv[1], err);
	return rc;
}
