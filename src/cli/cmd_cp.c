// SPDX-License-Identifier: Apache-2.0
/*
 * msb cp: copy files and trees between the host and a running sandbox,
 * keeping modes (and symlinks as symlinks), in bounded memory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "microsandbox.h"
#include "util/util.h"

#define MAX_DEPTH 256

static const char cp_usage[] =
	"Usage: msb cp HOST_PATH NAME:GUEST_PATH\n"
	"       msb cp NAME:GUEST_PATH HOST_PATH\n"
	"\n"
	"Copy a file or a directory tree into or out of the running sandbox\n"
	"NAME, keeping permission bits; symlinks are copied as symlinks. When\n"
	"the destination is an existing directory, the source goes inside it.\n";

static long from_fd(void *buf, size_t cap, void *ud)
{
	ssize_t n;

	do
		n = read(*(int *)ud, buf, cap);
	while (n < 0 && errno == EINTR);
	return n;
}

static int to_fd(const void *data, size_t len, void *ud)
{
	return write_all(*(int *)ud, data, len) < 0;
}

/* Host → guest, recursively. */
static int put(msb_sandbox *sb, const char *src, const char *dst, int depth)
{
	struct stat st;

	if (depth > MAX_DEPTH) {
		cli_err("%s: too deep", src);
		return -1;
	}
	if (lstat(src, &st) < 0) {
		cli_err("%s: %s", src, strerror(errno));
		return -1;
	}
	if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlink(src, target, sizeof(target) - 1);
		if (n < 0) {
			cli_err("readlink `%s`: %s", src, strerror(errno));
			return -1;
		}
		target[n] = '\0';
		msb_sandbox_fs_remove(sb, dst, 0);
		const char *argv[] = {"ln", "-s", target, dst, NULL};
		msb_exec_output *out;
		int rc = msb_sandbox_exec(&out, sb, argv, NULL);
		int code = rc == 0 ? msb_exec_output_exit_code(out) : -1;
		msb_exec_output_free(out);
		if (code != 0) {
			cli_err("symlink `%s` in the sandbox failed", dst);
			return -1;
		}
		return 0;
	}
	if (S_ISREG(st.st_mode)) {
		_cleanup_close_ int fd = open(src, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			cli_err("open `%s`: %s", src, strerror(errno));
			return -1;
		}
		if (msb_sandbox_fs_write_stream(sb, dst, from_fd, &fd,
						st.st_mode & 07777, 0) < 0 ||
		    msb_sandbox_fs_chmod(sb, dst, st.st_mode & 07777) < 0)
			return cli_fail(-1);
		return 0;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr,
			"msb: skipping `%s`: not a file, directory or symlink\n",
			src);
		return 0;
	}
	if (msb_sandbox_fs_mkdir(sb, dst, 0700, 1) < 0)
		return cli_fail(-1);
	DIR *d = opendir(src);
	if (!d) {
		cli_err("opendir `%s`: %s", src, strerror(errno));
		return -1;
	}
	int rc = 0;
	struct dirent *e;
	while (rc == 0 && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		_cleanup_free_ char *s = xasprintf("%s/%s", src, e->d_name);
		_cleanup_free_ char *t = xasprintf("%s/%s", dst, e->d_name);
		rc = s && t ? put(sb, s, t, depth + 1) : -1;
	}
	closedir(d);
	/* The directory's own mode last, in case it forbids writing. */
	if (rc == 0 && msb_sandbox_fs_chmod(sb, dst, st.st_mode & 07777) < 0)
		return cli_fail(-1);
	return rc;
}

/* Guest → host, recursively. */
static int get(msb_sandbox *sb, const char *src, const char *dst, int depth)
{
	msb_fs_entry e;
	int rc = 0;

	if (depth > MAX_DEPTH) {
		cli_err("%s: too deep", src);
		return -1;
	}
	if (msb_sandbox_fs_stat(&e, sb, src) < 0)
		return cli_fail(-1);
	if (e.type == MSB_FS_SYMLINK) {
		unlink(dst);
		if (!e.target || symlink(e.target, dst) < 0) {
			cli_err("symlink `%s`: %s", dst, strerror(errno));
			rc = -1;
		}
	} else if (e.type == MSB_FS_FILE) {
		_cleanup_close_ int fd = open(
			dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0) {
			cli_err("open `%s`: %s", dst, strerror(errno));
			rc = -1;
		} else if (msb_sandbox_fs_read_stream(sb, src, to_fd, &fd) <
			   0) {
			rc = cli_fail(-1);
		} else if (fchmod(fd, e.mode) < 0) {
			cli_err("chmod `%s`: %s", dst, strerror(errno));
			rc = -1;
		}
	} else if (e.type == MSB_FS_DIR) {
		msb_fs_entry *v = NULL;
		size_t n = 0;
		if (mkdir(dst, 0700) < 0 && errno != EEXIST) {
			cli_err("mkdir `%s`: %s", dst, strerror(errno));
			rc = -1;
		} else if (msb_sandbox_fs_list(&v, &n, sb, src) < 0) {
			rc = cli_fail(-1);
		}
		for (size_t i = 0; rc == 0 && i < n; i++) {
			_cleanup_free_ char *s =
				xasprintf("%s/%s", src, v[i].name);
			_cleanup_free_ char *t =
				xasprintf("%s/%s", dst, v[i].name);
			rc = s && t ? get(sb, s, t, depth + 1) : -1;
		}
		msb_fs_entries_free(v, n);
		if (rc == 0 && chmod(dst, e.mode) < 0) {
			cli_err("chmod `%s`: %s", dst, strerror(errno));
			rc = -1;
		}
	} else {
		fprintf(stderr,
			"msb: skipping `%s`: not a file, directory or symlink\n",
			src);
	}
	msb_fs_entry_clear(&e);
	return rc;
}

/* "NAME:PATH" → name (in @buf) and path; NULL if @arg is a host path. */
static const char *split_remote(const char *arg, char *name, size_t len)
{
	const char *colon = strchr(arg, ':');

	if (!colon || colon == arg || arg[0] == '/' || arg[0] == '.' ||
	    (size_t)(colon - arg) >= len || colon[1] != '/')
		return NULL;
	memcpy(name, arg, (size_t)(colon - arg));
	name[colon - arg] = '\0';
	return colon + 1;
}

static const char *base(const char *p)
{
	const char *s = strrchr(p, '/');
	return s && s[1] ? s + 1 : p;
}

int cmd_cp(int argc, char **argv)
{
	char sname[64], dname[64];

	if (argc == 2 &&
	    (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(cp_usage, stdout);
		return 0;
	}
	if (argc != 3) {
		fputs(cp_usage, stderr);
		return 2;
	}
	const char *sp = split_remote(argv[1], sname, sizeof(sname));
	const char *dp = split_remote(argv[2], dname, sizeof(dname));
	if (!sp == !dp) {
		cli_err("one side must be NAME:/GUEST_PATH, the other a host path");
		return 2;
	}
	msb_sandbox *sb;
	if (msb_sandbox_connect(&sb, sp ? sname : dname) < 0)
		return cli_fail(1);
	int rc;
	if (dp) {
		/* Into an existing guest directory: keep the source's name. */
		msb_fs_entry e;
		_cleanup_free_ char *dst = NULL;
		if (msb_sandbox_fs_stat(&e, sb, dp) == 0 &&
		    e.type == MSB_FS_DIR)
			dst = xasprintf("%s/%s", dp, base(argv[1]));
		msb_fs_entry_clear(&e);
		rc = put(sb, argv[1], dst ? dst : dp, 0);
	} else {
		struct stat st;
		_cleanup_free_ char *dst = NULL;
		if (stat(argv[2], &st) == 0 && S_ISDIR(st.st_mode))
			dst = xasprintf("%s/%s", argv[2], base(sp));
		rc = get(sb, sp, dst ? dst : argv[2], 0);
	}
	msb_sandbox_free(sb);
	return rc < 0 ? 1 : 0;
}
