// SPDX-License-Identifier: Apache-2.0
/*
 * The checks on a tar given to msb cp (msb__tar_check()): archives made
 * with libarchive, with member names, hard links and symlinks that try to
 * leave the destination, plus compressed, empty and broken ones.
 */
#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "lib/internal.h"

/* One member: 'f' file, 'd' directory, 'l' symlink, 'h' hard link. */
struct m {
	char type;
	const char *name, *target;
};

/* A tar of @n members in a temporary file (gzip if @gz); its fd. */
static int make_tar(const struct m *v, size_t n, bool gz, bool pax)
{
	char path[] = "/tmp/msb-tar-XXXXXX";
	int fd = mkstemp(path);
	struct archive *a = archive_write_new();

	unlink(path);
	if (pax)
		archive_write_set_format_pax_restricted(a);
	else
		archive_write_set_format_gnutar(a);
	if (gz)
		archive_write_add_filter_gzip(a);
	archive_write_open_fd(a, fd);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname(e, v[i].name);
		archive_entry_set_perm(e, 0644);
		switch (v[i].type) {
		case 'f':
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_size(e, 3);
			break;
		case 'd':
			archive_entry_set_filetype(e, AE_IFDIR);
			break;
		case 'l':
			archive_entry_set_filetype(e, AE_IFLNK);
			archive_entry_set_symlink(e, v[i].target);
			break;
		case 'h':
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_hardlink(e, v[i].target);
			break;
		}
		archive_write_header(a, e);
		if (v[i].type == 'f')
			archive_write_data(a, "hi\n", 3);
		archive_entry_free(e);
	}
	archive_write_close(a);
	archive_write_free(a);
	return fd;
}

#define N(v) (sizeof(v) / sizeof((v)[0]))

/* Check: 0 or the error, and the message contains @want. */
static int check(const struct m *v, size_t n, const char *want)
{
	size_t members = 99;
	int fd = make_tar(v, n, false, true);
	int rc = msb__tar_check(fd, 0, &members);

	if (want && !strstr(msb_last_error()->message, want)) {
		fprintf(stderr, "message `%s` lacks `%s`\n",
			msb_last_error()->message, want);
		rc = 1;
	}
	close(fd);
	return rc;
}

int main(void)
{
	size_t members;

	/* fine: a tree as `tar c .` makes it, names with ./ and // */
	static const struct m good[] = {
		{'d', "./", NULL},
		{'d', "./sub/", NULL},
		{'f', "./sub/a", NULL},
		{'f', "sub//b", NULL},
		{'l', "./link", "/etc/passwd"}, /* a target may be anything */
		{'l', "./up", "../../.."},
		{'h', "./hard", "sub/a"},
		{'f', "./.hidden", NULL},
		{'f', "a..b", NULL},
		{'f', "....", NULL},
	};
	int fd = make_tar(good, N(good), false, true);
	CHECK(msb__tar_check(fd, 0, &members) == 0);
	CHECK(members == N(good));
	close(fd);
	/* gzip, GNU format */
	fd = make_tar(good, N(good), true, false);
	CHECK(msb__tar_check(fd, 0, &members) == 0);
	CHECK(members == N(good));
	close(fd);
	/* empty archive: nothing to do */
	fd = make_tar(NULL, 0, false, true);
	CHECK(msb__tar_check(fd, 0, &members) == 0 && members == 0);
	close(fd);

	/* refused: leaving the tree */
	static const struct m dotdot[] = {{'f', "ok", NULL},
					  {'f', "../x", NULL}};
	CHECK(check(dotdot, N(dotdot), "`../x` leaves the tree") ==
	      -MSB_EINVAL);
	static const struct m inner[] = {{'f', "a/b/../../../x", NULL}};
	CHECK(check(inner, N(inner), "leaves the tree") == -MSB_EINVAL);
	static const struct m dd[] = {{'d', "..", NULL}};
	CHECK(check(dd, N(dd), "refused") == -MSB_EINVAL);
	static const struct m trail[] = {{'f', "a/..", NULL}};
	CHECK(check(trail, N(trail), "refused") == -MSB_EINVAL);
	static const struct m abs[] = {{'f', "/etc/passwd", NULL}};
	CHECK(check(abs, N(abs), "`/etc/passwd` is absolute") == -MSB_EINVAL);
	static const struct m absdir[] = {{'d', "/", NULL}};
	CHECK(check(absdir, N(absdir), "absolute") == -MSB_EINVAL);
	/* hard links: only to a file earlier in the archive */
	static const struct m hout[] = {{'h', "h", "../../etc/shadow"}};
	CHECK(check(hout, N(hout), "leaves the tree") == -MSB_EINVAL);
	static const struct m habs[] = {{'h', "h", "/etc/shadow"}};
	CHECK(check(habs, N(habs), "absolute") == -MSB_EINVAL);
	static const struct m hlater[] = {{'h', "h", "f"}, {'f', "f", NULL}};
	CHECK(check(hlater, N(hlater), "not a file earlier") == -MSB_EINVAL);
	static const struct m hdir[] = {{'d', "d", NULL}, {'h', "h", "d"}};
	CHECK(check(hdir, N(hdir), "not a file earlier") == -MSB_EINVAL);
	static const struct m hsym[] = {{'l', "l", "/etc/shadow"},
					{'h', "h", "l"}};
	CHECK(check(hsym, N(hsym), "not a file earlier") == -MSB_EINVAL);
	/* nothing below a symlink member, nor replacing one */
	static const struct m below[] = {{'l', "l", "/etc"},
					 {'f', "l/passwd", NULL}};
	CHECK(check(below, N(below), "below a symlink member") == -MSB_EINVAL);
	static const struct m belowdeep[] = {{'d', "d", NULL},
					     {'l', "d/l", "/"},
					     {'d', "d/l/etc", NULL},
					     {'f', "d/l/etc/x", NULL}};
	CHECK(check(belowdeep, N(belowdeep), "below a symlink member") ==
	      -MSB_EINVAL);
	static const struct m over[] = {{'l', "l", "/etc/passwd"},
					{'f', "./l", NULL}};
	CHECK(check(over, N(over), "replaces a symlink member") == -MSB_EINVAL);
	/* a symlink may replace a symlink; a sibling name is fine */
	static const struct m relink[] = {{'l', "l", "a"},
					  {'l', "l", "b"},
					  {'f', "lx", NULL},
					  {'f', "l.x/y", NULL}};
	CHECK(check(relink, N(relink), NULL) == 0);
	static const struct m topsym[] = {{'l', ".", "/etc"}};
	CHECK(check(topsym, N(topsym), "symlink") == -MSB_EINVAL);
	/* a control character in a refused name is escaped */
	static const struct m ctl[] = {{'f', "/\x1b[31mred", NULL}};
	CHECK(check(ctl, N(ctl), "red") == -MSB_EINVAL);
	CHECK(!strchr(msb_last_error()->message, '\x1b'));

	/* not a tar, truncated, from an offset */
	char path[] = "/tmp/msb-tar-XXXXXX";
	fd = mkstemp(path);
	unlink(path);
	CHECK(write(fd, "this is not a tar archive at all", 32) == 32);
	CHECK(msb__tar_check(fd, 0, &members) == -MSB_EINVAL);
	CHECK(strstr(msb_last_error()->message, "tar: ") != NULL);
	close(fd);
	fd = make_tar(good, N(good), false, true);
	off_t size = lseek(fd, 0, SEEK_END);
	CHECK(ftruncate(fd, 700) == 0); /* into the first file's data */
	CHECK(msb__tar_check(fd, 0, &members) == -MSB_EINVAL);
	CHECK(size > 700);
	close(fd);
	CHECK(msb__tar_check(-1, 0, &members) < 0);

	return check_summary("test_tar");
}
