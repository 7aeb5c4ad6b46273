// SPDX-License-Identifier: Apache-2.0
/* msb's one option-parsing rule, shared by every command (see cli.h). */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

void cli_args_init(struct cli_args *a, int argc, char **argv)
{
	a->argc = argc;
	a->argv = argv;
	a->pos = argv + 1;
	a->npos = 0;
	a->rest = argv + argc;
	a->nrest = 0;
	a->optarg = NULL;
	a->done = false;
	snprintf(a->optstring, sizeof(a->optstring), "+:%s",
		 a->shortopts ? a->shortopts : "");
	optind = 0; /* glibc: start afresh */
	opterr = 0;
}

int cli_usage_error(const struct cli_args *a, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "msb: %s: ", a->cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "; see 'msb %s --help'\n", a->cmd);
	return CLI_ARGS_ERROR;
}

/* Everything from argv[@i] on is the command. */
static void take_rest(struct cli_args *a, int i)
{
	a->rest = a->argv + i;
	a->nrest = a->argc - i;
}

static int finish(struct cli_args *a)
{
	a->done = true;
	if (a->npos < a->min_pos)
		return cli_usage_error(a, "expected %s", a->synopsis);
	if (a->max_pos >= 0 && a->npos > a->max_pos)
		return cli_usage_error(a, "unexpected argument `%s`",
				       a->pos[a->max_pos]);
	return CLI_ARGS_END;
}

int cli_args_next(struct cli_args *a)
{
	static const struct option none[] = {{0}};

	if (a->done)
		return CLI_ARGS_END;
	for (;;) {
		int before = optind ? optind : 1;
		int c = getopt_long(a->argc, a->argv, a->optstring,
				    a->longopts ? a->longopts : none, NULL);
		a->optarg = optarg;
		if (c == 'h') {
			fputs(a->usage, stdout);
			a->done = true;
			return CLI_ARGS_HELP;
		}
		if (c == '?') {
			const char *word = a->argv[optind - 1];
			if (!optopt && !strcmp(word, "--help")) {
				fputs(a->usage, stdout);
				a->done = true;
				return CLI_ARGS_HELP;
			}
			if (optopt == 'h') {
				fputs(a->usage, stdout);
				a->done = true;
				return CLI_ARGS_HELP;
			}
			a->done = true;
			/* glibc: optopt is a long option's value when it was
			 * given a value it does not take, else 0 */
			if (!strncmp(word, "--", 2) && optopt)
				return cli_usage_error(
					a, "option `%.*s` takes no value",
					(int)strcspn(word, "="), word);
			if (optopt)
				return cli_usage_error(
					a, "unknown option `-%c`", optopt);
			return cli_usage_error(a, "unknown option `%s`", word);
		}
		if (c == ':') {
			const char *word = a->argv[optind - 1];
			a->done = true;
			if (!strncmp(word, "--", 2) || !optopt)
				return cli_usage_error(
					a, "option `%s` needs a value", word);
			return cli_usage_error(a, "option `-%c` needs a value",
					       optopt);
		}
		if (c != -1)
			return c;
		/* "--": the rest is the command, or positional arguments. */
		if (optind > before) {
			if (a->command) {
				/* the required positionals still missing
				 * come first: msb exec -- NAME CMD */
				while (a->npos < a->min_pos && optind < a->argc)
					a->pos[a->npos++] = a->argv[optind++];
				take_rest(a, optind);
			} else {
				for (int i = optind; i < a->argc; i++)
					a->pos[a->npos++] = a->argv[i];
			}
			return finish(a);
		}
		if (optind >= a->argc)
			return finish(a);
		/* A positional argument; in command mode the one past
		 * max_pos starts the command. */
		if (a->command && a->npos >= a->max_pos) {
			take_rest(a, optind);
			return finish(a);
		}
		/* Safe: argv[1 + npos] was consumed already. */
		a->pos[a->npos++] = a->argv[optind++];
	}
}

int cli_args_only(struct cli_args *a, int argc, char **argv)
{
	int c;

	cli_args_init(a, argc, argv);
	while ((c = cli_args_next(a)) >= 0)
		;
	return c == CLI_ARGS_HELP ? 0 : c == CLI_ARGS_ERROR ? 2 : -1;
}

const struct option cli_list_longopts[] = {
	{"quiet", no_argument, NULL, 'q'},
	{"json", no_argument, NULL, 'j'},
	{"format", required_argument, NULL, 'F'},
	{"help", no_argument, NULL, 'h'},
	{0},
};

int cli_home_dir(char *out, size_t len)
{
	const char *home = getenv("MSB_HOME");

	if (home && *home) {
		if (home[0] != '/') {
			cli_err("MSB_HOME must be an absolute path");
			return -1;
		}
		snprintf(out, len, "%s", home);
		return 0;
	}
	home = getenv("HOME");
	if (!home || !*home) {
		cli_err("no home folder: set MSB_HOME");
		return -1;
	}
	snprintf(out, len, "%s/.microsandbox", home);
	return 0;
}

int cli_args_list(struct cli_args *a, int argc, char **argv, bool *quiet,
		  bool *json)
{
	int c;

	cli_args_init(a, argc, argv);
	while ((c = cli_args_next(a)) >= 0) {
		if (c == 'q') {
			*quiet = true;
		} else if (c == 'j') {
			*json = true;
		} else if (c == 'F') {
			if (strcmp(a->optarg, "json")) {
				cli_usage_error(
					a, "unknown --format `%s`: only json",
					a->optarg);
				return 2;
			}
			*json = true;
		}
	}
	return c == CLI_ARGS_HELP ? 0 : c == CLI_ARGS_ERROR ? 2 : -1;
}
