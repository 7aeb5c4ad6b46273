// SPDX-License-Identifier: Apache-2.0
/* msb pull: fetch an image into the store and prepare its root disk. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "microsandbox.h"

static const char pull_usage[] =
	"Usage: msb pull [OPTIONS] IMAGE\n"
	"\n"
	"Pull IMAGE from its registry (every blob verified by digest) and\n"
	"flatten its layers into a root disk, ready to boot. IMAGE is a\n"
	"reference such as alpine, python:3.12, ghcr.io/org/app@sha256:...\n"
	"or localhost:5000/team/tool:v2.\n"
	"\n"
	"Credentials come from ~/.docker/config.json (auths, credHelpers,\n"
	"credsStore), or from --username with the password on stdin.\n"
	"\n"
	"Options:\n"
	"      --platform OS/ARCH[/VARIANT]  platform to pull (default: this host's)\n"
	"      --username USER   registry user; the password is read from stdin\n"
	"      --insecure        allow plain HTTP to this registry (localhost\n"
	"                        registries always may)\n"
	"  -q, --quiet           print only the digest\n"
	"  -h, --help            show this help\n";

bool cli_parse_policy(const char *s, int *policy)
{
	if (!strcmp(s, "always"))
		*policy = MSB_PULL_ALWAYS;
	else if (!strcmp(s, "missing") || !strcmp(s, "if-missing"))
		*policy = MSB_PULL_IF_MISSING;
	else if (!strcmp(s, "never"))
		*policy = MSB_PULL_NEVER;
	else
		return false;
	return true;
}

/* One line from stdin, without its newline; malloc'd or NULL. */
static char *read_password(void)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n = getline(&line, &cap, stdin);

	if (n <= 0) {
		free(line);
		return NULL;
	}
	line[strcspn(line, "\r\n")] = '\0';
	return line;
}

int cmd_pull(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"platform", required_argument, NULL, 'p'},
		{"username", required_argument, NULL, 'U'},
		{"insecure", no_argument, NULL, 'I'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct cli_args a = {
		.cmd = "pull",
		.usage = pull_usage,
		.synopsis = "IMAGE",
		.shortopts = "q",
		.longopts = longopts,
		.min_pos = 1,
		.max_pos = 1,
	};
	msb_pull_options o = MSB_PULL_OPTIONS_INIT;
	bool quiet = false;
	int c;

	cli_args_init(&a, argc, argv);
	while ((c = cli_args_next(&a)) >= 0) {
		switch (c) {
		case 'p':
			if (msb_image_platform_parse(a.optarg, NULL, 0) < 0) {
				cli_usage_error(&a, "%s",
						msb_last_error()->message);
				return 2;
			}
			o.platform = a.optarg;
			break;
		case 'U':
			o.username = a.optarg;
			break;
		case 'I':
			o.insecure = 1;
			break;
		case 'q':
			quiet = true;
			break;
		}
	}
	if (c == CLI_ARGS_HELP)
		return 0;
	if (c == CLI_ARGS_ERROR)
		return 2;
	char *password = NULL;
	if (o.username) {
		if (!(password = read_password())) {
			cli_usage_error(&a, "--username needs the password on "
					    "stdin");
			return 2;
		}
		o.password = password;
	}
	o.policy = MSB_PULL_ALWAYS;
	if (!quiet) {
		cli_progress_init();
		o.progress = cli_progress;
	}
	msb_image *img;
	int rc = msb_image_pull(&img, a.pos[0], &o);
	free(password);
	if (rc < 0)
		return cli_fail(1);
	if (quiet)
		printf("%s\n", msb_image_digest(img));
	else
		printf("%s: %s\n", msb_image_reference(img),
		       msb_image_digest(img));
	msb_image_free(img);
	return 0;
}
