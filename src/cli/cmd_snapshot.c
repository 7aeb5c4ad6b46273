// SPDX-License-Identifier: Apache-2.0
/* msb snapshot: snapshots of sandboxes (create, ls, rm), see
 * docs/snapshots.md. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "microsandbox.h"
#include "util/util.h"

static const char snapshot_usage[] =
	"Usage: msb snapshot COMMAND\n"
	"\n"
	"Snapshots of sandboxes, under $MSB_HOME/snapshots: of a running\n"
	"sandbox, its memory, devices and root disk at one instant; with\n"
	"--disk-only, of a stopped one, its root disk.\n"
	"\n"
	"Commands:\n"
	"  create [--disk-only] NAME SNAP   save a snapshot of sandbox NAME\n"
	"  ls [-q] [--json]                 list snapshots, oldest first\n"
	"  rm SNAP...                       remove snapshots\n"
	"\n"
	"Run 'msb snapshot COMMAND --help' for a command's options.\n";

static const char create_usage[] =
	"Usage: msb snapshot create [--disk-only] NAME SNAP\n"
	"\n"
	"Save a snapshot SNAP of sandbox NAME. Of a running (or paused)\n"
	"sandbox: its memory and device state and a copy of its root disk,\n"
	"of the same instant; the VM stops for the save, then runs on. With\n"
	"--disk-only, of a sandbox that is not running: its root disk.\n"
	"Sandboxes with volumes or shared host folders cannot be\n"
	"snapshotted.\n"
	"\n"
	"Options:\n"
	"      --disk-only   only the root disk, of a stopped sandbox\n"
	"  -h, --help        show this help\n";

static const char ls_usage[] =
	"Usage: msb snapshot ls [-q] [--json]\n"
	"\n"
	"List snapshots, oldest first: name, kind (full: memory and disk;\n"
	"disk), size, when taken, the sandbox it was taken of, its image.\n"
	"\n"
	"Options:\n"
	"  -q, --quiet       names only\n"
	"      --json        a JSON array\n"
	"      --format json the same\n"
	"  -h, --help        show this help\n";

static const char rm_usage[] = "Usage: msb snapshot rm SNAP...\n"
			       "\n"
			       "Remove snapshots by name.\n";

/* A snapshot's name as the library accepts it (a sandbox's rule). */
static bool snap_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 63 ||
	    !strchr("0123456789abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
		    s[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strchr("0123456789abcdefghijklmnopqrstuvwxyz"
			    "ABCDEFGHIJKLMNOPQRSTUVWXYZ-_.",
			    s[i]))
			return false;
	return true;
}

static int snapshot_create(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"disk-only", no_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct cli_args a = {
		.cmd = "snapshot create",
		.usage = create_usage,
		.synopsis = "NAME SNAP",
		.longopts = longopts,
		.min_pos = 2,
		.max_pos = 2,
	};
	int flags = 0, c;

	cli_args_init(&a, argc, argv);
	while ((c = cli_args_next(&a)) >= 0)
		if (c == 'd')
			flags |= MSB_SNAPSHOT_DISK_ONLY;
	if (c == CLI_ARGS_HELP)
		return 0;
	if (c == CLI_ARGS_ERROR)
		return 2;
	if (msb_sandbox_snapshot(a.pos[0], a.pos[1], flags) < 0)
		return cli_fail(1);
	printf("%s\n", a.pos[1]);
	return 0;
}

struct snap {
	char name[64];
	char kind[8];
	char sandbox[64];
	char image[512];
	long long created;
	unsigned long long bytes;
};

/* Its files' allocated bytes; its meta. */
static void snap_read(const char *dir, struct snap *s)
{
	char path[PATH_MAX + 160], text[2048], v[512];
	struct dirent *e;
	struct stat st;
	DIR *d = opendir(dir);

	while (d && (e = readdir(d))) {
		if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >=
		    (int)sizeof(path))
			continue;
		if (e->d_name[0] != '.' && lstat(path, &st) == 0 &&
		    S_ISREG(st.st_mode))
			s->bytes += (unsigned long long)st.st_blocks * 512u;
	}
	if (d)
		closedir(d);
	snprintf(path, sizeof(path), "%s/meta", dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read_all(fd, text, sizeof(text) - 1) : -1;
	if (fd >= 0)
		close(fd);
	text[n > 0 ? n : 0] = '\0';
	const struct {
		const char *name;
		char *out;
		size_t len;
	} f[] = {{"kind=", s->kind, sizeof(s->kind)},
		 {"sandbox=", s->sandbox, sizeof(s->sandbox)},
		 {"image=", s->image, sizeof(s->image)},
		 {"created=", v, sizeof(v)}};
	v[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(f); i++) {
		f[i].out[0] = '\0';
		for (char *p = text; p && *p;) {
			char *end = strchr(p, '\n');
			size_t l = end ? (size_t)(end - p) : strlen(p);
			size_t nl = strlen(f[i].name);
			if (l >= nl && !strncmp(p, f[i].name, nl)) {
				snprintf(f[i].out, f[i].len, "%.*s",
					 (int)(l - nl), p + nl);
				break;
			}
			p = end ? end + 1 : NULL;
		}
	}
	s->created = strtoll(v, NULL, 10);
}

static int by_created(const void *x, const void *y)
{
	const struct snap *a = x, *b = y;

	if (a->created != b->created)
		return a->created < b->created ? -1 : 1;
	return strcmp(a->name, b->name);
}

/* Every snapshot under @home, oldest first (malloc'd in *@out). */
static int snap_list(const char *home, struct snap **out, size_t *count)
{
	char dir[PATH_MAX], path[PATH_MAX + 80];
	struct snap *v = NULL;
	size_t n = 0;
	struct dirent *e;

	if (snprintf(dir, sizeof(dir), "%s/snapshots", home) >=
	    (int)sizeof(dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	*out = NULL;
	*count = 0;
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -1;
	while ((e = readdir(d))) {
		/* .NAME.tmp.PID: one being made */
		if (e->d_name[0] == '.' || !snap_name_ok(e->d_name))
			continue;
		struct snap *nv = realloc(v, (n + 1) * sizeof(*v));
		if (!nv) {
			closedir(d);
			free(v);
			errno = ENOMEM;
			return -1;
		}
		v = nv;
		v[n] = (struct snap){0};
		memcpy(v[n].name, e->d_name, strlen(e->d_name) + 1); /* ≤ 63 */
		if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) <
		    (int)sizeof(path))
			snap_read(path, &v[n]);
		n++;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), by_created);
	*out = v;
	*count = n;
	return 0;
}

static int snapshot_ls(int argc, char **argv)
{
	struct cli_args a = {
		.cmd = "snapshot ls",
		.usage = ls_usage,
		.synopsis = "no arguments",
		.shortopts = "q",
		.longopts = cli_list_longopts,
	};
	bool quiet = false, json = false;
	char home[PATH_MAX];
	struct snap *v;
	size_t n;

	int st = cli_args_list(&a, argc, argv, &quiet, &json);
	if (st >= 0)
		return st;
	if (cli_home_dir(home, sizeof(home)) < 0)
		return 1;
	if (snap_list(home, &v, &n) < 0) {
		cli_err("list `%s/snapshots`: %s", home, strerror(errno));
		return 1;
	}
	if (json)
		putchar('[');
	else if (!quiet)
		printf("%-24s %-4s %9s  %-19s  %-24s %s\n", "NAME", "KIND",
		       "SIZE", "CREATED", "SANDBOX", "IMAGE");
	for (size_t i = 0; i < n; i++) {
		char size[32], made[32], image[sizeof(v[i].image) * 4],
			sandbox[sizeof(v[i].sandbox) * 4];
		struct tm tm;
		time_t t = (time_t)v[i].created;
		if (quiet) {
			puts(v[i].name);
			continue;
		}
		if (json) {
			printf("%s{\"name\": \"%s\", \"kind\": ", i ? ", " : "",
			       v[i].name);
			cli_json_str(v[i].kind);
			printf(", \"bytes\": %llu, \"created\": %lld, "
			       "\"sandbox\": ",
			       v[i].bytes, v[i].created);
			cli_json_str(v[i].sandbox);
			printf(", \"image\": ");
			cli_json_str(v[i].image);
			putchar('}');
			continue;
		}
		cli_human_size(size, sizeof(size), (double)v[i].bytes);
		if (!v[i].created || !localtime_r(&t, &tm))
			snprintf(made, sizeof(made), "-");
		else
			strftime(made, sizeof(made), "%Y-%m-%d %H:%M:%S", &tm);
		msb_escape(image, sizeof(image), v[i].image,
			   strlen(v[i].image));
		msb_escape(sandbox, sizeof(sandbox), v[i].sandbox,
			   strlen(v[i].sandbox));
		printf("%-24s %-4s %9s  %-19s  %-24s %s\n", v[i].name,
		       v[i].kind[0] ? v[i].kind : "?", size, made,
		       sandbox[0] ? sandbox : "-", image[0] ? image : "-");
	}
	if (json)
		puts("]");
	free(v);
	return 0;
}

static int snapshot_rm(int argc, char **argv)
{
	struct cli_args a = {
		.cmd = "snapshot rm",
		.usage = rm_usage,
		.synopsis = "SNAP...",
		.min_pos = 1,
		.max_pos = INT_MAX,
	};
	char home[PATH_MAX], path[PATH_MAX + 80];
	int status = 0;

	int st = cli_args_only(&a, argc, argv);
	if (st >= 0)
		return st;
	if (cli_home_dir(home, sizeof(home)) < 0)
		return 1;
	for (int k = 0; k < a.npos; k++) {
		const char *snap = a.pos[k];
		char shown[300];
		msb_escape(shown, sizeof(shown), snap, strlen(snap));
		if (!snap_name_ok(snap)) {
			cli_err("invalid snapshot name `%s`", shown);
			status = 1;
			continue;
		}
		snprintf(path, sizeof(path), "%s/snapshots/%s", home, snap);
		if (access(path, F_OK) < 0) {
			cli_err("no snapshot `%s`", shown);
			status = 1;
			continue;
		}
		if (rm_rf(path) < 0 && errno != ENOENT) {
			cli_err("remove snapshot `%s`: %s", shown,
				strerror(errno));
			status = 1;
			continue;
		}
		printf("%s\n", snap);
	}
	return status;
}

static const char fork_usage[] =
	"Usage: msb fork NAME NEW [--count N]\n"
	"\n"
	"Copy the running sandbox NAME into new sandboxes: a snapshot of it\n"
	"(msb snapshot create), then a sandbox NEW restored from it (with\n"
	"--count N: NEW-1 ... NEW-N), then the snapshot is removed. Each new\n"
	"sandbox has NAME's options, files, memory and processes as they\n"
	"were at that instant, its own copy of the disk, the host's clock\n"
	"and its own randomness. NAME runs on, stopped only for the save.\n"
	"All or nothing: when one sandbox cannot be made, none is left.\n"
	"Prints the new names.\n"
	"\n"
	"Options:\n"
	"  -n, --count N   how many sandboxes (1-64, default 1)\n"
	"  -h, --help      show this help\n";

int cmd_fork(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"count", required_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct cli_args a = {
		.cmd = "fork",
		.usage = fork_usage,
		.synopsis = "NAME NEW",
		.shortopts = "n:",
		.longopts = longopts,
		.min_pos = 2,
		.max_pos = 2,
	};
	unsigned int count = 1;
	static char names[64][160];
	const char *namev[64];
	int c;

	cli_args_init(&a, argc, argv);
	while ((c = cli_args_next(&a)) >= 0)
		if (c == 'n' && (!cli_parse_uint(a.optarg, &count, false) ||
				 count < 1 || count > 64)) {
			cli_usage_error(&a,
					"invalid --count `%s`: a number from 1 "
					"to 64",
					a.optarg);
			return 2;
		}
	if (c == CLI_ARGS_HELP)
		return 0;
	if (c == CLI_ARGS_ERROR)
		return 2;
	for (unsigned int i = 0; i < count; i++) {
		if (count == 1)
			snprintf(names[i], sizeof(names[i]), "%s", a.pos[1]);
		else
			snprintf(names[i], sizeof(names[i]), "%s-%u", a.pos[1],
				 i + 1);
		namev[i] = names[i];
	}
	if (msb_sandbox_fork(a.pos[0], namev, count, 0) < 0)
		return cli_fail(1);
	for (unsigned int i = 0; i < count; i++)
		printf("%s\n", names[i]);
	return 0;
}

int cmd_snapshot(int argc, char **argv)
{
	const struct cli_args top = {.cmd = "snapshot"};

	if (argc < 2) {
		cli_usage_error(&top, "expected a command: create, ls or rm");
		return 2;
	}
	const char *sub = argv[1];
	if (!strcmp(sub, "--help") || !strcmp(sub, "-h") ||
	    !strcmp(sub, "help")) {
		fputs(snapshot_usage, stdout);
		return 0;
	}
	if (!strcmp(sub, "create"))
		return snapshot_create(argc - 1, argv + 1);
	if (!strcmp(sub, "ls") || !strcmp(sub, "list"))
		return snapshot_ls(argc - 1, argv + 1);
	if (!strcmp(sub, "rm") || !strcmp(sub, "remove"))
		return snapshot_rm(argc - 1, argv + 1);
	char shown[128];
	msb_escape(shown, sizeof(shown), sub, strlen(sub));
	cli_usage_error(&top, "unknown command `%s`", shown);
	return 2;
}
