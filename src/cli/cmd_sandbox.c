// SPDX-License-Identifier: Apache-2.0
/* msb start|stop|rm|ls: sandboxes by name. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "microsandbox.h"

static void age(char *out, size_t len, int64_t t)
{
	int64_t d = (int64_t)time(NULL) - t;

	if (d < 60)
		snprintf(out, len, "%llds", (long long)d);
	else if (d < 3600)
		snprintf(out, len, "%lldm", (long long)d / 60);
	else if (d < 86400)
		snprintf(out, len, "%lldh", (long long)d / 3600);
	else
		snprintf(out, len, "%lldd", (long long)d / 86400);
}

int cmd_ls(int argc, char **argv)
{
	msb_sandbox_info *v;
	size_t n;

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		puts("Usage: msb ls\n\nList sandboxes: name, status, image, "
		     "vCPUs, memory, and how long ago the status changed.");
		return 0;
	}
	if (msb_sandbox_list(&v, &n) < 0)
		return cli_fail(1);
	printf("%-24s %-9s %-40s %4s %7s %s\n", "NAME", "STATUS", "IMAGE",
	       "CPUS", "MEMORY", "SINCE");
	for (size_t i = 0; i < n; i++) {
		char since[32], mem[32];
		age(since, sizeof(since), v[i].updated);
		snprintf(mem, sizeof(mem), "%uM",
			 v[i].memory_mib ? v[i].memory_mib : 512);
		printf("%-24s %-9s %-40.40s %4u %7s %s\n", v[i].name,
		       v[i].status, v[i].image ? v[i].image : "(default)",
		       v[i].cpus ? v[i].cpus : 1, mem, since);
	}
	msb_sandbox_list_free(v, n);
	return 0;
}

int cmd_start(int argc, char **argv)
{
	if (argc != 2 || argv[1][0] == '-') {
		fputs("Usage: msb start NAME\n\nStart a stopped sandbox in the "
		      "background, with the options it was created with.\n",
		      argc == 2 ? stdout : stderr);
		return argc == 2 ? 0 : 2;
	}
	msb_sandbox *sb;
	if (msb_sandbox_start(&sb, argv[1], 1) < 0)
		return cli_fail(1);
	msb_sandbox_free(sb);
	printf("%s\n", argv[1]);
	return 0;
}

int cmd_stop(int argc, char **argv)
{
	int status = 0;

	if (argc < 2 || argv[1][0] == '-') {
		fputs("Usage: msb stop NAME...\n\nStop sandboxes: the guest "
		      "syncs and powers off (killed after 10 s).\n",
		      argc >= 2 ? stdout : stderr);
		return argc >= 2 ? 0 : 2;
	}
	for (int i = 1; i < argc; i++) {
		msb_sandbox *sb;
		if (msb_sandbox_connect(&sb, argv[i]) < 0 ||
		    msb_sandbox_stop(sb, 0) < 0)
			status = cli_fail(1);
		else
			printf("%s\n", argv[i]);
		msb_sandbox_free(sb);
		sb = NULL;
	}
	return status;
}

int cmd_rm(int argc, char **argv)
{
	int force = 0, status = 0, c;
	static const struct option longopts[] = {
		{"force", no_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};

	while ((c = getopt_long(argc, argv, "+fh", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			force = 1;
			break;
		case 'h':
			puts("Usage: msb rm [-f] NAME...\n\nRemove sandboxes "
			     "(root disk, logs). -f stops running ones first.");
			return 0;
		default:
			return 2;
		}
	}
	if (optind >= argc) {
		cli_err("usage: msb rm [-f] NAME...");
		return 2;
	}
	for (int i = optind; i < argc; i++) {
		if (msb_sandbox_remove(argv[i], force) < 0)
			status = cli_fail(1);
		else
			printf("%s\n", argv[i]);
	}
	return status;
}
