// SPDX-License-Identifier: Apache-2.0
/* msb exec: run a command in a running sandbox, by name. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "microsandbox.h"
#include "util/util.h"

#define MAX_ENV 1024

static const char exec_usage[] =
	"Usage: msb exec [OPTIONS] NAME -- CMD [ARG...]\n"
	"\n"
	"Run CMD in the running sandbox NAME, with its output streamed here;\n"
	"exit with CMD's status (as msb run does).\n"
	"\n"
	"Options:\n"
	"  -i, --interactive     pass msb's standard input to CMD (default: empty)\n"
	"  -e, --env KEY=VALUE   environment variable (repeatable)\n"
	"  -w, --workdir DIR     working directory (default: the image's, or /)\n"
	"  -u, --user USER       name, uid, name:group or uid:gid\n"
	"      --timeout S       kill CMD after S seconds (exit 124)\n"
	"  -h, --help            show this help\n";

static int forward(int stream, const void *data, size_t len, void *userdata)
{
	(void)userdata;
	write_all(stream == 1 ? STDOUT_FILENO : STDERR_FILENO, data, len);
	return 0;
}

int cmd_exec(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"env", required_argument, NULL, 'e'},
		{"workdir", required_argument, NULL, 'w'},
		{"user", required_argument, NULL, 'u'},
		{"timeout", required_argument, NULL, 't'},
		{"interactive", no_argument, NULL, 'i'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	msb_exec_options eo = MSB_EXEC_OPTIONS_INIT;
	const char *env[MAX_ENV + 1] = {0};
	size_t nenv = 0;
	int c;

	while ((c = getopt_long(argc, argv, "+ie:w:u:h", longopts, NULL)) !=
	       -1) {
		int r = cli_exec_option(c, optarg, &eo, env, &nenv, MAX_ENV);
		if (r < 0)
			return EXIT_MSB_ERROR;
		if (r > 0)
			continue;
		switch (c) {
		case 'h':
			fputs(exec_usage, stdout);
			return 0;
		default:
			fputs("See 'msb exec --help'.\n", stderr);
			return EXIT_MSB_ERROR;
		}
	}
	if (argc - optind < 2) {
		cli_err("usage: msb exec [OPTIONS] NAME -- CMD [ARG...]");
		return EXIT_MSB_ERROR;
	}
	const char *name = argv[optind++];
	if (!strcmp(argv[optind], "--"))
		optind++;
	if (optind >= argc) {
		cli_err("no command given");
		return EXIT_MSB_ERROR;
	}
	eo.env = nenv ? env : NULL;
	eo.on_output = forward;

	msb_sandbox *sb;
	if (msb_sandbox_connect(&sb, name) < 0)
		return cli_fail(EXIT_MSB_ERROR);
	msb_exec_output *out = NULL;
	int rc = msb_sandbox_exec(&out, sb, (const char *const *)argv + optind,
				  &eo);
	int status = cli_exec_status(rc, out);
	msb_exec_output_free(out);
	msb_sandbox_free(sb);
	return status;
}
