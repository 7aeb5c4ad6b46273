// SPDX-License-Identifier: Apache-2.0
/* msb exec and msb shell: run a command in a running sandbox, by name. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "microsandbox.h"

static const char exec_usage[] =
	"Usage: msb exec [OPTIONS] NAME [--] CMD [ARG...]\n"
	"\n"
	"Run CMD in the running sandbox NAME, with its output streamed here;\n"
	"exit with CMD's status (as msb run does). Options go before CMD:\n"
	"the first argument after NAME that is not an option starts it, and\n"
	"so does what follows --. A sandbox suspended by its idle timeout\n"
	"(--on-idle suspend) is resumed first.\n"
	"\n"
	"Options:\n"
	"  -e, --env KEY=VALUE   environment variable (repeatable)\n" CLI_EXEC_HELP
	"  -d, --detach          start CMD in the background and print its id\n"
	"                        (msb ps, logs/kill/attach NAME --exec ID)\n"
	"  -h, --help            show this help\n"
	"\n"
	"Example:\n"
	"  msb exec box -e A=1 -- env\n"
	"  msb exec -it box sh        an interactive shell (or: msb shell box)\n";

/* Whether sandbox @name is suspended and was created with --on-idle
 * suspend (msb inspect: status, limits.on_idle). */
static bool idle_suspended(const char *name)
{
	char *text = NULL;
	bool yes = false;

	if (msb_sandbox_inspect(name, &text) < 0)
		return false;
	json_t *o = json_loads(text, 0, NULL);
	const char *st = json_string_value(json_object_get(o, "status"));
	const char *act = json_string_value(
		json_object_get(json_object_get(o, "limits"), "on_idle"));
	yes = st && act && !strcmp(st, "suspended") && !strcmp(act, "suspend");
	json_decref(o);
	free(text);
	return yes;
}

/*
 * connect_or_resume() - connect to sandbox @name. A suspended sandbox
 * created with --on-idle suspend is resumed first, as E2B resumes an
 * auto-paused sandbox when a client connects; any other suspended one
 * stays so (the library's error names msb resume).
 * Return: 0, or -1 with the library's error set.
 */
static int connect_or_resume(msb_sandbox **sb, const char *name)
{
	if (msb_sandbox_connect(sb, name) == 0)
		return 0;
	if (msb_last_error()->code != MSB_ESTATE)
		return -1;
	msb_error saved = *msb_last_error();
	if (!idle_suspended(name)) {
		cli_err("%s", saved.message);
		return -2;
	}
	/* Another client may be resuming it too: then connect. */
	if (msb_sandbox_resume(name) < 0) {
		saved = *msb_last_error();
		if (msb_sandbox_connect(sb, name) == 0)
			return 0;
		cli_err("%s", saved.message);
		return -2;
	}
	return msb_sandbox_connect(sb, name);
}

static const char shell_usage[] =
	"Usage: msb shell [OPTIONS] NAME [[--] SHELL [ARG...]]\n"
	"\n"
	"An interactive shell in the running sandbox NAME: bash if the guest\n"
	"has it, else sh; with a terminal when msb's input is one. The same\n"
	"as msb exec -it NAME SHELL.\n"
	"\n"
	"Options:\n"
	"  -e, --env KEY=VALUE   environment variable (repeatable)\n" CLI_EXEC_HELP
	"  -h, --help            show this help\n";

/* Options, NAME and the command; @shell: msb shell. */
static int exec_main(int argc, char **argv, bool shell)
{
	static const struct option exec_opts[] = {
		CLI_EXEC_LONGOPTS,
		{"detach", no_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	static const struct option shell_opts[] = {
		CLI_EXEC_LONGOPTS,
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct cli_args a = {
		.cmd = shell ? "shell" : "exec",
		.usage = shell ? shell_usage : exec_usage,
		.synopsis = "NAME",
		.shortopts = shell ? CLI_EXEC_SHORTOPTS "h"
				   : CLI_EXEC_SHORTOPTS "dh",
		.longopts = shell ? shell_opts : exec_opts,
		.min_pos = 1,
		.max_pos = 1,
		.command = true,
	};
	struct cli_exec x;
	bool detach = false;
	int c;

	cli_exec_init(&x);
	cli_args_init(&a, argc, argv);
	while ((c = cli_args_next(&a)) >= 0) {
		int r = cli_exec_option(&x, &a, c);
		if (r < 0)
			return 2;
		if (c == 'd')
			detach = true;
	}
	if (c == CLI_ARGS_HELP)
		return 0;
	if (c == CLI_ARGS_ERROR)
		return 2;
	if (!shell && a.nrest == 0) {
		cli_usage_error(&a, "no command given after `%s`", a.pos[0]);
		return 2;
	}
	if (a.nrest > 0 && !a.rest[0][0]) {
		cli_usage_error(&a, "the command is an empty word");
		return 2;
	}
	if (detach && x.eo.timeout_ms) {
		/* not silently ignored: a detached command has no deadline */
		cli_usage_error(&a, "--timeout does not apply to -d (stop it "
				    "with msb kill NAME --exec ID)");
		return 2;
	}
	static const char *const default_shell[] = {
		"/bin/sh", "-c",
		"if [ -x /bin/bash ]; then exec /bin/bash; else exec /bin/sh; "
		"fi",
		NULL};
	const char *const *cmd =
		a.nrest ? (const char *const *)a.rest : default_shell;
	if (shell) {
		x.eo.stdin_fd = STDIN_FILENO;
		x.eo.tty = isatty(STDIN_FILENO);
	}

	msb_sandbox *sb;
	int crc = connect_or_resume(&sb, a.pos[0]);
	if (crc == -2)
		return EXIT_MSB_ERROR;
	if (crc < 0)
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
