// SPDX-License-Identifier: Apache-2.0
/* msb template: warm templates (ls, rm, prune), see docs/snapshots.md. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "microsandbox.h"
#include "util/util.h"
#include "vmm/template.h"

static const char template_usage[] =
	"Usage: msb template COMMAND\n"
	"\n"
	"Warm templates: the saved state of a VM booted up to its agent, one\n"
	"per configuration (kernel, initramfs, image, memory, vCPUs,\n"
	"accelerator, devices), under $MSB_HOME/templates. The first sandbox\n"
	"of a configuration saves one; later ones restore it instead of\n"
	"booting (msb run --no-template, or MSB_NO_TEMPLATE=1, boots cold).\n"
	"All of them together are kept under MSB_TEMPLATE_MAX_MB (default\n"
	"2048), the least recently used removed first.\n"
	"\n"
	"Commands:\n"
	"  ls [-q] [--json]   list templates, least recently used first\n"
	"  rm ID...           remove templates (an ID or a unique prefix)\n"
	"  prune [--all]      remove the least recently used down to\n"
	"                     MSB_TEMPLATE_MAX_MB, or all of them\n"
	"\n"
	"Run 'msb template COMMAND --help' for a command's options.\n";

static const char ls_usage[] =
	"Usage: msb template ls [-q] [--json]\n"
	"\n"
	"List warm templates, least recently used first: ID, size, when\n"
	"last used, accelerator, memory, vCPUs, devices, image.\n"
	"\n"
	"Options:\n"
	"  -q, --quiet       IDs only\n"
	"      --json        a JSON array\n"
	"      --format json the same\n"
	"  -h, --help        show this help\n";

static const char rm_usage[] =
	"Usage: msb template rm ID...\n"
	"\n"
	"Remove warm templates by ID (or a prefix that names one). Running\n"
	"sandboxes are not affected; the next sandbox of that configuration\n"
	"boots cold and saves it again.\n";

static const char prune_usage[] =
	"Usage: msb template prune [--all]\n"
	"\n"
	"Remove the least recently used warm templates until all of them\n"
	"fit in MSB_TEMPLATE_MAX_MB (default 2048), or all with --all.\n"
	"\n"
	"Options:\n"
	"  -a, --all    remove every template\n"
	"  -h, --help   show this help\n";

static void when(char *out, size_t len, int64_t t)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (!t || !localtime_r(&tt, &tm))
		snprintf(out, len, "(saving)");
	else
		strftime(out, len, "%Y-%m-%d %H:%M:%S", &tm);
}

static int template_ls(int argc, char **argv)
{
	struct cli_args a = {
		.cmd = "template ls",
		.usage = ls_usage,
		.synopsis = "no arguments",
		.shortopts = "q",
		.longopts = cli_list_longopts,
	};
	bool quiet = false, json = false;
	char home[PATH_MAX];
	struct tmpl_info *v;
	size_t n;

	int st = cli_args_list(&a, argc, argv, &quiet, &json);
	if (st >= 0)
		return st;
	if (cli_home_dir(home, sizeof(home)) < 0)
		return 1;
	if (tmpl_list(&v, &n, home) < 0) {
		cli_err("list `%s/templates`: %s", home, strerror(errno));
		return 1;
	}
	if (json)
		putchar('[');
	else if (!quiet)
		printf("%-32s %9s  %-19s  %-5s %7s %4s %-12s %s\n", "ID",
		       "SIZE", "LAST USED", "ACCEL", "MEMORY", "CPUS",
		       "DEVICES", "IMAGE");
	for (size_t i = 0; i < n; i++) {
		char size[32], used[32], devs[32], mem[32];
		when(used, sizeof(used), v[i].saved_s ? v[i].used_s : 0);
		if (quiet) {
			puts(v[i].id);
		} else if (json) {
			printf("%s{\"id\": \"%s\", \"bytes\": %llu, \"saved\": "
			       "%lld, \"used\": %lld, \"accel\": ",
			       i ? ", " : "", v[i].id,
			       (unsigned long long)v[i].bytes,
			       (long long)v[i].saved_s, (long long)v[i].used_s);
			cli_json_str(v[i].accel);
			printf(", \"memory_mib\": %u, \"cpus\": %u, \"network\": "
			       "%s, \"volumes\": %u, \"image\": ",
			       v[i].memory_mib, v[i].cpus,
			       v[i].net ? "true" : "false", v[i].volumes);
			cli_json_str(v[i].image);
			putchar('}');
		} else {
			cli_human_size(size, sizeof(size), (double)v[i].bytes);
			snprintf(mem, sizeof(mem), "%uM", v[i].memory_mib);
			snprintf(devs, sizeof(devs), "%s%s%u vol",
				 v[i].net ? "net" : "-", ",", v[i].volumes);
			char image[sizeof(v[i].image) * 4];
			msb_escape(image, sizeof(image), v[i].image,
				   strlen(v[i].image));
			printf("%-32s %9s  %-19s  %-5s %7s %4u %-12s %s\n",
			       v[i].id, size, used, v[i].accel, mem, v[i].cpus,
			       devs, image[0] ? image : "-");
		}
	}
	if (json)
		puts("]");
	free(v);
	return 0;
}

static int template_rm(int argc, char **argv)
{
	struct cli_args a = {
		.cmd = "template rm",
		.usage = rm_usage,
		.synopsis = "ID...",
		.min_pos = 1,
		.max_pos = INT_MAX,
	};
	char home[PATH_MAX];
	struct tmpl_info *v;
	size_t n;
	int status = 0;

	int st = cli_args_only(&a, argc, argv);
	if (st >= 0)
		return st;
	if (cli_home_dir(home, sizeof(home)) < 0)
		return 1;
	if (tmpl_list(&v, &n, home) < 0) {
		cli_err("list `%s/templates`: %s", home, strerror(errno));
		return 1;
	}
	for (int k = 0; k < a.npos; k++) {
		const char *want = a.pos[k];
		size_t len = strlen(want), found = n, matches = 0;
		for (size_t i = 0; i < n && len; i++)
			if (!strncmp(v[i].id, want, len)) {
				found = i;
				matches++;
			}
		char shown[80];
		msb_escape(shown, sizeof(shown), want, len);
		if (matches != 1) {
			cli_err("%s template `%s`",
				matches ? "more than one" : "no", shown);
			status = 1;
			continue;
		}
		if (tmpl_remove(home, v[found].id) < 0 && errno != ENOENT) {
			cli_err("remove template `%s`: %s", v[found].id,
				strerror(errno));
			status = 1;
			continue;
		}
		printf("%s\n", v[found].id);
	}
	free(v);
	return status;
}

static int template_prune(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"all", no_argument, NULL, 'a'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct cli_args a = {
		.cmd = "template prune",
		.usage = prune_usage,
		.synopsis = "no arguments",
		.shortopts = "a",
		.longopts = longopts,
	};
	bool all = false;
	char home[PATH_MAX];
	int c;

	cli_args_init(&a, argc, argv);
	while ((c = cli_args_next(&a)) >= 0)
		if (c == 'a')
			all = true;
	if (c == CLI_ARGS_HELP)
		return 0;
	if (c == CLI_ARGS_ERROR)
		return 2;
	if (cli_home_dir(home, sizeof(home)) < 0)
		return 1;
	size_t removed;
	uint64_t left =
		tmpl_prune(home, all ? 0 : tmpl_max_bytes(), NULL, &removed);
	char size[32];
	cli_human_size(size, sizeof(size), (double)left);
	printf("removed %zu template%s, %s kept\n", removed,
	       removed == 1 ? "" : "s", size);
	return 0;
}

int cmd_template(int argc, char **argv)
{
	const struct cli_args top = {.cmd = "template"};

	if (argc < 2) {
		cli_usage_error(&top, "expected a command: ls, rm or prune");
		return 2;
	}
	const char *sub = argv[1];
	if (!strcmp(sub, "--help") || !strcmp(sub, "-h") ||
	    !strcmp(sub, "help")) {
		fputs(template_usage, stdout);
		return 0;
	}
	if (!strcmp(sub, "ls") || !strcmp(sub, "list"))
		return template_ls(argc - 1, argv + 1);
	if (!strcmp(sub, "rm") || !strcmp(sub, "remove"))
		return template_rm(argc - 1, argv + 1);
	if (!strcmp(sub, "prune"))
		return template_prune(argc - 1, argv + 1);
	char shown[128];
	msb_escape(shown, sizeof(shown), sub, strlen(sub));
	cli_usage_error(&top, "unknown command `%s`", shown);
	return 2;
}
