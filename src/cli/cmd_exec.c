// SPDX-License-Identifier: Apache-2.0
/* msb exec and msb shell: run a command in a running sandbox, by name. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "microsandbox.h"

static const char exec_usage[] =
	"Usage: msb exec [OPTIONS] NAME -- CMD [ARG...]\n"
	"\n"
	"Run CMD in the running sandbox NAME, with its output streamed here;\n"
	"exit with CMD's status (as msb run does).\n"
	"\n"
	"Options:\n"
	"  -e, --env KEY=VALUE   environment variable (repeatable)\n" CLI_EXEC_HELP
	"  -d, --detach          start CMD in the background and print its id\n"
	"                        (msb ps, logs/kill/attach NAME --exec ID)\n"
	"  -h, --help            show this help\n"
	"\n"
	"Example:\n"
	"  msb exec -it box -- sh     an interactive shell (or: msb shell box)\n";

static const char shell_usage[] =
	"Usage: msb shell [OPTIONS] NAME [-- SHELL [ARG...]]\n"
	"\n"
	"An interactive shell in the running sandbox NAME: bash if the guest\n"
	"has it, else sh; with a terminal when msb's input is one. The same\n"
	"as msb exec -it NAME -- SHELL.\n"
	"\n"
	"Options:\n"
	"  -e, --env KEY=VALUE   environment variable (repeatable)\n" CLI_EXEC_HELP
	"  -h, --help            show this help\n";

/* Options, NAME and the command; @shell: msb shell. */
static int exec_main(int argc, char **argv, bool shell)
{
	static const struct option longopts[] = {
		CLI_EXEC_LONGOPTS,
		{"detach", no_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *usage = shell ? shell_usage : exec_usage;
	struct cli_exec x;
	bool detach = false;
	int c;

	cli_exec_init(&x);
	while ((c = getopt_long(argc, argv, "+" CLI_EXEC_SHORTOPTS "dh",
				longopts, NULL)) != -1) {
		int r = cli_exec_option(c, optarg, &x);
		if (r < 0)
			return EXIT_MSB_ERROR;
		if (r > 0)
			continue;
		if (c == 'd' && !shell) {
			detach = true;
			continue;
		}
		if (c == 'h') {
			fputs(usage, stdout);
			return 0;
		}
		fprintf(stderr, "See 'msb %s --help'.\n", argv[0]);
		return EXIT_MSB_ERROR;
	}
	if (argc - optind < (shell ? 1 : 2)) {
		cli_err("usage: msb %s", shell ? "shell [OPTIONS] NAME"
					       : "exec [OPTIONS] NAME -- CMD "
						 "[ARG...]");
		return EXIT_MSB_ERROR;
	}
	const char *name = argv[optind++];
	if (optind < argc && !strcmp(argv[optind], "--"))
		optind++;
	static const char *const default_shell[] = {
		"/bin/sh", "-c",
		"if [ -x /bin/bash ]; then exec /bin/bash; else exec /bin/sh; "
		"fi",
		NULL};
	const char *const *cmd = (const char *const *)argv + optind;
	if (optind >= argc) {
		if (!shell) {
			cli_err("no command given");
			return EXIT_MSB_ERROR;
		}
		cmd = default_shell;
	}
	if (shell) {
		x.eo.stdin_fd = STDIN_FILENO;
		x.eo.tty = isatty(STDIN_FILENO);
	}

	msb_sandbox *sb;
	if (msb_sandbox_connect(&sb, name) < 0)
		return cli_fail(EXIT_MSB_ERROR);
	if (detach) {
		unsigned int id;
		x.eo.env = x.nenv ? x.env : NULL;
		int rc = msb_sandbox_exec_detached(&id, sb, cmd, &x.eo);
		if (rc < 0) {
			msb_sandbox_free(sb);
			return cli_exec_status(rc, NULL);
		}
		printf("%u\n", id);
		msb_sandbox_free(sb);
		return 0;
	}
	int status = cli_exec_run(sb, cmd, &x);
	msb_sandbox_free(sb);
	return status;
}

int cmd_exec(int argc, char **argv)
{
	return exec_main(argc, argv, false);
}

int cmd_shell(int argc, char **argv)
{
	return exec_main(argc, argv, true);
}
