// SPDX-License-Identifier: Apache-2.0
/*
 * msb cp: copy files and trees between the host and a running sandbox,
 * keeping modes (and symlinks as symlinks), in bounded memory.
 */
#include <errno.h>
#include <stdbool.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "microsandbox.h"
#include "util/util.h"

static const char cp_usage[] =
	"Usage: msb cp [OPTIONS] HOST_PATH NAME:GUEST_PATH\n"
	"       msb cp [OPTIONS] NAME:GUEST_PATH HOST_PATH\n"
	"       msb cp [OPTIONS] NAME:GUEST_PATH -      (a tar on stdout)\n"
	"       msb cp [OPTIONS] - NAME:GUEST_DIR       (a tar from stdin)\n"
	"\n"
	"Copy a file or a directory tree into or out of the running sandbox\n"
	"NAME, keeping permission bits; symlinks are copied as symlinks. When\n"
	"the destination is an existing directory, the source goes inside it.\n"
	"With `-`, the host side is a tar stream, as with docker cp: a tar\n"
	"read from stdin is checked whole before anything is written (no\n"
	"absolute or `..` member names, no hard links out of it), then\n"
	"extracted into GUEST_DIR (-a keeps its owners).\n"
	"\n"
	"Copying out treats what the guest sends as hostile: names that are\n"
	"not plain names are refused, symlinks already in the destination are\n"
	"replaced and never followed, setuid/setgid/sticky bits are dropped\n"
	"and modes clamped to the umask, and holes stay holes.\n"
	"\n"
	"Options (copying out):\n" CLI_COPY_OPTIONS_HELP;

static const struct option copy_longopts[] = {
	{"archive", no_argument, NULL, 'a'},
	{"max-size", required_argument, NULL, 'S'},
	{"max-files", required_argument, NULL, 'F'},
	{"help", no_argument, NULL, 'h'},
	{0},
};

/* Take the value of the copy option @c into @o; NULL, or why it is
 * invalid (static text; @arg is named by the caller). */
static const char *copy_option(int c, const char *arg, msb_copy_options *o)
{
	uint64_t n;

	switch (c) {
	case 'a':
		o->archive = 1;
		break;
	case 'S':
		if (!cli_parse_bytes(arg, &o->max_bytes) || !o->max_bytes)
			return "a size such as 512m or 10g";
		break;
	case 'F':
		if (msb_parse_dec(arg, strlen(arg), &n) < 0 || !n)
			return "a positive number";
		o->max_files = n;
		break;
	}
	return NULL;
}

int cli_copy_args(struct cli_args *a, int argc, char **argv,
		  msb_copy_options *o)
{
	const char *why;
	int c;

	a->shortopts = "a";
	a->longopts = copy_longopts;
	cli_args_init(a, argc, argv);
	while ((c = cli_args_next(a)) >= 0) {
		if ((why = copy_option(c, a->optarg, o))) {
			cli_usage_error(a, "invalid --%s `%s`: %s",
					c == 'S' ? "max-size" : "max-files",
					a->optarg, why);
			return 2;
		}
	}
	return c == CLI_ARGS_HELP ? 1 : c == CLI_ARGS_ERROR ? 2 : 0;
}

int cli_copy_options(int argc, char **argv, msb_copy_options *o,
		     const char *usage)
{
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+ah", copy_longopts, NULL)) !=
	       -1) {
		switch (c) {
		case 'a':
			o->archive = 1;
			break;
		case 'S':
			if (copy_option(c, optarg, o)) {
				cli_err("--max-size: `%s` is not a size such "
					"as 512m or 10g",
					optarg);
				return 2;
			}
			break;
		case 'F':
			if (copy_option(c, optarg, o)) {
				cli_err("--max-files: `%s` is not a positive "
					"number",
					optarg);
				return 2;
			}
			break;
		case 'h':
			fputs(usage, stdout);
			return 1;
		default:
			fprintf(stderr, "%s", usage);
			return 2;
		}
	}
	if (argc - optind != 2) {
		fputs(usage, stderr);
		return 2;
	}
	return 0;
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
	struct cli_args a = {
		.cmd = "cp",
		.usage = cp_usage,
		.synopsis = "a source and a destination",
		.min_pos = 2,
		.max_pos = 2,
	};
	msb_copy_options co = MSB_COPY_OPTIONS_INIT;
	char sname[64], dname[64];
	int rc = cli_copy_args(&a, argc, argv, &co);

	if (rc)
		return rc == 1 ? 0 : rc;
	const char *from = a.pos[0], *to = a.pos[1];
	const char *sp = split_remote(from, sname, sizeof(sname));
	const char *dp = split_remote(to, dname, sizeof(dname));
	if (!sp == !dp) {
		cli_usage_error(&a, "one side must be NAME:/GUEST_PATH, the "
				    "other a host path or -");
		return 2;
	}
	msb_sandbox *sb;
	const char *name = sp ? sname : dname;
	bool tar = !strcmp(sp ? to : from, "-");
	if (tar && sp && isatty(STDOUT_FILENO)) {
		cli_err("not writing a tar to a terminal: redirect stdout or "
			"pipe it (msb cp %s -%s)",
			from, " | tar t");
		return 2;
	}
	if (msb_sandbox_connect(&sb, name) < 0) {
		if (msb_last_error()->code != MSB_ESTATE)
			return cli_fail(1);
		/* Copying needs the guest's agent: say how to get it. */
		cli_err("sandbox `%s` is not running: start it with `msb start "
			"%s`, copy, then `msb stop %s`",
			name, name, name);
		return 1;
	}
	if (tar && dp) {
		rc = msb_sandbox_fs_copy_in_tar(
			sb, STDIN_FILENO, dp, co.archive ? MSB_TAR_OWNERS : 0);
	} else if (tar) {
		rc = msb_sandbox_fs_copy_out_tar(sb, sp, STDOUT_FILENO, &co);
	} else if (dp) {
		/* Into an existing guest directory: keep the source's name. */
		msb_fs_entry e;
		_cleanup_free_ char *dst = NULL;
		if (msb_sandbox_fs_stat(&e, sb, dp) == 0 &&
		    e.type == MSB_FS_DIR)
			dst = xasprintf("%s/%s", dp, base(from));
		msb_fs_entry_clear(&e);
		rc = msb_sandbox_fs_copy_in(sb, from, dst ? dst : dp);
	} else {
		_cleanup_free_ char *dst = cli_copy_dest(to, sp);
		rc = dst ? msb_sandbox_fs_copy_out(sb, sp, dst, &co) : -1;
	}
	if (rc < 0)
		cli_fail(1);
	msb_sandbox_free(sb);
	return rc < 0 ? 1 : 0;
}

char *cli_copy_dest(const char *host_path, const char *src)
{
	struct stat st;

	/* Into an existing host directory: keep the source's name; the root
	 * of the source goes into the directory itself. */
	if (stat(host_path, &st) == 0 && S_ISDIR(st.st_mode)) {
		const char *b = base(src);
		if (strcmp(b, "/"))
			return xasprintf("%s%s%s", host_path,
					 host_path[strlen(host_path) - 1] == '/'
						 ? ""
						 : "/",
					 b);
	}
	return strdup(host_path);
}
