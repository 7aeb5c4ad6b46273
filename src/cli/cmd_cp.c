// SPDX-License-Identifier: Apache-2.0
/*
 * msb cp: copy files and trees between the host and a running sandbox,
 * keeping modes (and symlinks as symlinks), in bounded memory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "microsandbox.h"
#include "util/util.h"

static const char cp_usage[] =
	"Usage: msb cp HOST_PATH NAME:GUEST_PATH\n"
	"       msb cp NAME:GUEST_PATH HOST_PATH\n"
	"\n"
	"Copy a file or a directory tree into or out of the running sandbox\n"
	"NAME, keeping permission bits; symlinks are copied as symlinks. When\n"
	"the destination is an existing directory, the source goes inside it.\n";

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
		rc = msb_sandbox_fs_copy_in(sb, argv[1], dst ? dst : dp);
	} else {
		struct stat st;
		_cleanup_free_ char *dst = NULL;
		if (stat(argv[2], &st) == 0 && S_ISDIR(st.st_mode))
			dst = xasprintf("%s/%s", argv[2], base(sp));
		rc = msb_sandbox_fs_copy_out(sb, sp, dst ? dst : argv[2]);
	}
	if (rc < 0)
		cli_fail(1);
	msb_sandbox_free(sb);
	return rc < 0 ? 1 : 0;
}
