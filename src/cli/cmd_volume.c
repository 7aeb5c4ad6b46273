// SPDX-License-Identifier: Apache-2.0
/* msb volume: named volumes (create, ls, inspect, rm). */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/cli.h"
#include "microsandbox.h"
#include "util/util.h"

static const char volume_usage[] =
	"Usage: msb volume COMMAND\n"
	"\n"
	"Named volumes: ext4 filesystems in sparse files under\n"
	"$MSB_HOME/volumes, mounted into sandboxes with -v NAME:/path[:ro].\n"
	"Their data outlives the sandboxes.\n"
	"\n"
	"Commands:\n"
	"  create [--quota SIZE] NAME   a new volume (SIZE: bytes or with k, m,\n"
	"                               g or t; default 1g); writes past it\n"
	"                               fail with ENOSPC in the guest\n"
	"  ls [--json]                  list volumes: quota, used, mounted by\n"
	"  ls NAME [PATH]               list a directory of a volume (default\n"
	"                               /) from the host\n"
	"  cp NAME:PATH HOST_PATH       copy a file or tree out of a volume\n"
	"                               (see msb volume cp --help)\n"
	"  cp HOST_PATH NAME:PATH       copy a file or tree into a volume that\n"
	"                               no sandbox has mounted\n"
	"  inspect NAME...              volumes as JSON\n"
	"  rm NAME...                   delete volumes (not while mounted)\n";

static void print_json(const msb_volume_info *v)
{
	fputs("{\"name\": ", stdout);
	cli_json_str(v->name);
	printf(", \"quota_bytes\": %llu, \"used_bytes\": %llu, "
	       "\"created\": %lld, \"sandboxes\": [",
	       (unsigned long long)v->quota_bytes,
	       (unsigned long long)v->used_bytes, (long long)v->created);
	for (size_t i = 0; v->sandboxes && v->sandboxes[i]; i++) {
		fputs(i ? ", " : "", stdout);
		cli_json_str(v->sandboxes[i]);
	}
	fputs("]}", stdout);
}

static int volume_create(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"quota", required_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	uint64_t quota = 0;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+q:h", longopts, NULL)) != -1) {
		if (c == 'q') {
			if (!cli_parse_bytes(optarg, &quota) || !quota) {
				cli_err("invalid --quota `%s`: a size such as "
					"512m or 10g",
					optarg);
				return 2;
			}
		} else {
			fputs(volume_usage, c == 'h' ? stdout : stderr);
			return c == 'h' ? 0 : 2;
		}
	}
	if (optind != argc - 1) {
		cli_err("usage: msb volume create [--quota SIZE] NAME");
		return 2;
	}
	if (msb_volume_create(argv[optind], quota) < 0)
		return cli_fail(1);
	printf("%s\n", argv[optind]);
	return 0;
}

static int volume_ls(int argc, char **argv, bool inspect)
{
	msb_volume_info *v;
	size_t n;
	bool json = inspect || (argc > 1 && !strcmp(argv[1], "--json"));
	int status = 0;

	if (!inspect && argc > (json ? 2 : 1)) {
		cli_err("usage: msb volume ls [--json]");
		return 2;
	}
	if (inspect && argc < 2) {
		cli_err("usage: msb volume inspect NAME...");
		return 2;
	}
	if (msb_volume_list(&v, &n) < 0)
		return cli_fail(1);
	if (inspect) {
		for (int a = 1; a < argc; a++) {
			size_t i;
			for (i = 0; i < n && strcmp(v[i].name, argv[a]); i++)
				;
			if (i == n) {
				cli_err("no volume named `%s`", argv[a]);
				status = 1;
				continue;
			}
			print_json(&v[i]);
			putchar('\n');
		}
	} else if (json) {
		putchar('[');
		for (size_t i = 0; i < n; i++) {
			fputs(i ? ", " : "", stdout);
			print_json(&v[i]);
		}
		puts("]");
	} else {
		printf("%-24s %10s %10s  %s\n", "NAME", "QUOTA", "USED",
		       "MOUNTED BY");
		for (size_t i = 0; i < n; i++) {
			char q[32], u[32];
			cli_human_size(q, sizeof(q), (double)v[i].quota_bytes);
			cli_human_size(u, sizeof(u), (double)v[i].used_bytes);
			printf("%-24s %10s %10s  ", v[i].name, q, u);
			for (size_t k = 0; v[i].sandboxes && v[i].sandboxes[k];
			     k++)
				printf("%s%s", k ? ", " : "",
				       v[i].sandboxes[k]);
			putchar('\n');
		}
	}
	msb_volume_list_free(v, n);
	return status;
}

/* msb volume ls NAME [PATH] */
static int volume_ls_dir(const char *name, const char *path)
{
	msb_fs_entry *e;
	size_t n;

	if (msb_volume_list_dir(&e, &n, name, path) < 0)
		return cli_fail(1);
	for (size_t i = 0; i < n; i++) {
		static const char types[] = "-dlcbps";
		char shown[1100], target[PATH_MAX * 4 + 8];
		/* Names come from the guest: never raw to a terminal. */
		msb_escape(shown, sizeof(shown), e[i].name, strlen(e[i].name));
		if (e[i].target)
			msb_escape(target, sizeof(target), e[i].target,
				   strlen(e[i].target));
		printf("%c%04o %6lld %6lld %12llu %s%s%s\n", types[e[i].type],
		       e[i].mode, (long long)e[i].uid, (long long)e[i].gid,
		       (unsigned long long)e[i].size, shown,
		       e[i].target ? " -> " : "", e[i].target ? target : "");
	}
	msb_fs_entries_free(e, n);
	return 0;
}

static const char volume_cp_usage[] =
	"Usage: msb volume cp [OPTIONS] NAME:/PATH HOST_PATH\n"
	"       msb volume cp HOST_PATH NAME:/PATH\n"
	"\n"
	"Copy a file or a tree out of a volume, or into a volume that no\n"
	"sandbox has mounted. A volume's filesystem is the guest's to write:\n"
	"copying out refuses names that are not plain names and directories\n"
	"that contain themselves, replaces symlinks in the destination instead\n"
	"of following them, drops setuid/setgid/sticky bits and keeps holes.\n"
	"\n"
	"Options (copying out):\n" CLI_COPY_OPTIONS_HELP;

/* msb volume cp NAME:PATH HOST_PATH, or HOST_PATH NAME:PATH */
static int volume_cp(int argc, char **argv)
{
	msb_copy_options co = MSB_COPY_OPTIONS_INIT;
	int rc = cli_copy_options(argc, argv, &co, volume_cp_usage);

	if (rc)
		return rc == 1 ? 0 : rc;
	char *from = argv[optind], *to = argv[optind + 1];
	char *colon = strchr(from, ':');
	if (!colon || colon[1] != '/') {
		/* host → volume */
		char *c2 = strchr(to, ':');
		if (!c2 || c2[1] != '/') {
			cli_err("usage: msb volume cp NAME:/PATH HOST_PATH, or "
				"HOST_PATH NAME:/PATH");
			return 2;
		}
		*c2 = '\0';
		const char *vpath = c2 + 1;
		_cleanup_free_ char *into = NULL;
		msb_fs_entry *e = NULL;
		size_t n = 0;
		/* Into an existing directory: keep the source's name. */
		if (msb_volume_list_dir(&e, &n, to, vpath) == 0) {
			const char *b = strrchr(from, '/');
			b = b && b[1] ? b + 1 : from;
			into = xasprintf(
				"%s%s%s", vpath,
				vpath[strlen(vpath) - 1] == '/' ? "" : "/", b);
		}
		msb_fs_entries_free(e, n);
		if (msb_volume_copy_in(to, from, into ? into : vpath) < 0)
			return cli_fail(1);
		return 0;
	}
	*colon = '\0';
	const char *path = colon + 1;
	_cleanup_free_ char *dst = cli_copy_dest(to, path);
	if (!dst || msb_volume_copy_out(from, path, dst, &co) < 0)
		return cli_fail(1);
	return 0;
}

static int volume_rm(int argc, char **argv)
{
	int status = 0;

	if (argc < 2) {
		cli_err("usage: msb volume rm NAME...");
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		if (msb_volume_remove(argv[i]) < 0)
			status = cli_fail(1);
		else
			printf("%s\n", argv[i]);
	}
	return status;
}

int cmd_volume(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(volume_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	const char *sub = argv[1];
	if (!strcmp(sub, "create"))
		return volume_create(argc - 1, argv + 1);
	if ((!strcmp(sub, "ls") || !strcmp(sub, "list")) && argc >= 3 &&
	    argv[2][0] != '-')
		return argc > 4 ? (cli_err("usage: msb volume ls NAME [PATH]"),
				   2)
				: volume_ls_dir(argv[2],
						argc == 4 ? argv[3] : "/");
	if (!strcmp(sub, "ls") || !strcmp(sub, "list"))
		return volume_ls(argc - 1, argv + 1, false);
	if (!strcmp(sub, "cp"))
		return volume_cp(argc - 1, argv + 1);
	if (!strcmp(sub, "inspect"))
		return volume_ls(argc - 1, argv + 1, true);
	if (!strcmp(sub, "rm") || !strcmp(sub, "remove"))
		return volume_rm(argc - 1, argv + 1);
	cli_err("unknown volume command `%s`: see 'msb volume --help'", sub);
	return 2;
}
