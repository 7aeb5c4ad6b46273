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
	"  rm [-f] NAME...              delete volumes (not while mounted; not\n"
	"                               while a stopped sandbox uses one,\n"
	"                               unless -f)\n"
	"\n"
	"Run 'msb volume COMMAND --help' for a command's options.\n";

static const char create_usage[] =
	"Usage: msb volume create [--quota SIZE] NAME\n"
	"\n"
	"Create an empty volume: an ext4 filesystem in a sparse file whose\n"
	"size is its quota. Writes past the quota fail with ENOSPC in the\n"
	"guest.\n"
	"\n"
	"Options:\n"
	"  -q, --quota SIZE   bytes, or with k, m, g or t (8m to 16t; default\n"
	"                     1g)\n"
	"  -h, --help         show this help\n";

static const char ls_usage[] =
	"Usage: msb volume ls [--json]\n"
	"       msb volume ls NAME [PATH]\n"
	"\n"
	"List volumes (name, quota, bytes used, the sandboxes that mount\n"
	"each), or the entries of directory PATH (default /) of volume NAME,\n"
	"read from the host.\n"
	"\n"
	"Options:\n"
	"      --json   the volume list as a JSON array\n"
	"  -h, --help   show this help\n";

static const char inspect_usage[] =
	"Usage: msb volume inspect NAME...\n"
	"\n"
	"Print each volume as JSON: name, quota_bytes, used_bytes, created,\n"
	"sandboxes (those whose config mounts it).\n";

static const char rm_usage[] =
	"Usage: msb volume rm [-f] NAME...\n"
	"\n"
	"Delete volumes and their data. Refused while a running sandbox has\n"
	"the volume mounted, and, without -f, while any other sandbox\n"
	"(stopped, or created and never started) has it in its config: the\n"
	"message names them.\n"
	"\n"
	"Options:\n"
	"  -f, --force   delete it even so; those sandboxes then cannot start\n"
	"                until a volume of that name exists again\n"
	"  -h, --help    show this help\n";

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
	struct cli_args a = {
		.cmd = "volume create",
		.usage = create_usage,
		.synopsis = "NAME",
		.shortopts = "q:h",
		.longopts = longopts,
		.min_pos = 1,
		.max_pos = 1,
	};
	uint64_t quota = 0;
	int c;

	cli_args_init(&a, argc, argv);
	while ((c = cli_args_next(&a)) >= 0) {
		if (c == 'q' &&
		    (!cli_parse_bytes(a.optarg, &quota) || !quota)) {
			cli_usage_error(&a,
					"invalid --quota `%s`: a size "
					"such as 512m or 10g",
					a.optarg);
			return 2;
		}
	}
	if (c == CLI_ARGS_HELP)
		return 0;
	if (c == CLI_ARGS_ERROR)
		return 2;
	if (msb_volume_create(a.pos[0], quota) < 0)
		return cli_fail(1);
	printf("%s\n", a.pos[0]);
	return 0;
}

/* msb volume ls [--json], or inspect NAME... (@names, @n) */
static int volume_ls(bool json, char **names, int n_names, bool inspect)
{
	msb_volume_info *v;
	size_t n;
	int status = 0;

	if (msb_volume_list(&v, &n) < 0)
		return cli_fail(1);
	if (inspect) {
		for (int a = 0; a < n_names; a++) {
			size_t i;
			for (i = 0; i < n && strcmp(v[i].name, names[a]); i++)
				;
			if (i == n) {
				cli_err("no volume named `%s`", names[a]);
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
	static const struct option longopts[] = {
		{"archive", no_argument, NULL, 'a'},
		{"max-size", required_argument, NULL, 'S'},
		{"max-files", required_argument, NULL, 'F'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct cli_args a = {
		.cmd = "volume cp",
		.usage = volume_cp_usage,
		.synopsis = "a source and a destination",
		.shortopts = "ah",
		.longopts = longopts,
		.min_pos = 2,
		.max_pos = 2,
	};
	msb_copy_options co = MSB_COPY_OPTIONS_INIT;
	uint64_t files;
	int c;

	cli_args_init(&a, argc, argv);
	while ((c = cli_args_next(&a)) >= 0) {
		switch (c) {
		case 'a':
			co.archive = 1;
			break;
		case 'S':
			if (!cli_parse_bytes(a.optarg, &co.max_bytes) ||
			    !co.max_bytes) {
				cli_usage_error(&a,
						"invalid --max-size `%s`: "
						"a size such as 512m or "
						"10g",
						a.optarg);
				return 2;
			}
			break;
		case 'F':
			if (msb_parse_dec(a.optarg, strlen(a.optarg), &files) <
				    0 ||
			    !files) {
				cli_usage_error(&a,
						"invalid --max-files "
						"`%s`: a positive number",
						a.optarg);
				return 2;
			}
			co.max_files = files;
			break;
		}
	}
	if (c == CLI_ARGS_HELP)
		return 0;
	if (c == CLI_ARGS_ERROR)
		return 2;
	char *from = a.pos[0], *to = a.pos[1];
	char *colon = strchr(from, ':');
	if (!colon || colon[1] != '/') {
		/* host → volume */
		char *c2 = strchr(to, ':');
		if (!c2 || c2[1] != '/') {
			cli_usage_error(&a, "expected NAME:/PATH on "
					    "one side");
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
	static const struct option longopts[] = {
		{"force", no_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct cli_args a = {
		.cmd = "volume rm",
		.usage = rm_usage,
		.synopsis = "NAME...",
		.shortopts = "fh",
		.longopts = longopts,
		.min_pos = 1,
		.max_pos = -1,
	};
	int flags = 0, status = 0, c;

	cli_args_init(&a, argc, argv);
	while ((c = cli_args_next(&a)) >= 0)
		if (c == 'f')
			flags |= MSB_VOLUME_FORCE;
	if (c == CLI_ARGS_HELP)
		return 0;
	if (c == CLI_ARGS_ERROR)
		return 2;
	for (int i = 0; i < a.npos; i++) {
		if (msb_volume_delete(a.pos[i], flags) < 0)
			status = cli_fail(1);
		else
			printf("%s\n", a.pos[i]);
	}
	return status;
}

/* msb volume ls [--json] | ls NAME [PATH]; msb volume inspect NAME... */
static int volume_list(int argc, char **argv, bool inspect)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	static const struct option inspect_opts[] = {
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct cli_args a = {
		.cmd = inspect ? "volume inspect" : "volume ls",
		.usage = inspect ? inspect_usage : ls_usage,
		.synopsis = inspect ? "NAME..." : "[NAME [PATH]]",
		.shortopts = "h",
		.longopts = inspect ? inspect_opts : longopts,
		.min_pos = inspect ? 1 : 0,
		.max_pos = inspect ? -1 : 2,
	};
	bool json = false;
	int c;

	cli_args_init(&a, argc, argv);
	while ((c = cli_args_next(&a)) >= 0)
		if (c == 'j')
			json = true;
	if (c == CLI_ARGS_HELP)
		return 0;
	if (c == CLI_ARGS_ERROR)
		return 2;
	if (inspect)
		return volume_ls(true, a.pos, a.npos, true);
	if (!a.npos)
		return volume_ls(json, NULL, 0, false);
	if (json) {
		cli_usage_error(&a, "--json lists volumes: not with a "
				    "NAME");
		return 2;
	}
	return volume_ls_dir(a.pos[0], a.npos == 2 ? a.pos[1] : "/");
}

int cmd_volume(int argc, char **argv)
{
	const struct cli_args top = {.cmd = "volume"};

	if (argc < 2) {
		cli_usage_error(&top, "expected a command: create, ls, "
				      "cp, inspect or rm");
		return 2;
	}
	const char *sub = argv[1];
	if (!strcmp(sub, "--help") || !strcmp(sub, "-h") ||
	    !strcmp(sub, "help")) {
		fputs(volume_usage, stdout);
		return 0;
	}
	if (!strcmp(sub, "create"))
		return volume_create(argc - 1, argv + 1);
	if (!strcmp(sub, "ls") || !strcmp(sub, "list"))
		return volume_list(argc - 1, argv + 1, false);
	if (!strcmp(sub, "cp"))
		return volume_cp(argc - 1, argv + 1);
	if (!strcmp(sub, "inspect"))
		return volume_list(argc - 1, argv + 1, true);
	if (!strcmp(sub, "rm") || !strcmp(sub, "remove"))
		return volume_rm(argc - 1, argv + 1);
	char shown[128];
	msb_escape(shown, sizeof(shown), sub, strlen(sub));
	cli_usage_error(&top, "unknown command `%s`", shown);
	return 2;
}
