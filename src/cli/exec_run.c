// SPDX-License-Identifier: Apache-2.0
/*
 * Running one command for msb run, msb exec and msb shell: the options
 * they share, output forwarding, exit statuses, and the interactive
 * terminal session (-t): a pseudo-terminal in the guest of the local
 * terminal's size, driven by cli_session_run() (tty.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "microsandbox.h"
#include "util/rlimit.h"
#include "util/util.h"

void cli_exec_init(struct cli_exec *x)
{
	memset(x, 0, sizeof(*x));
	x->eo = (msb_exec_options)MSB_EXEC_OPTIONS_INIT;
}

int cli_exec_option(struct cli_exec *x, const struct cli_args *a, int c)
{
	msb_exec_options *eo = &x->eo;
	const char *arg = a->optarg;

	switch (c) {
	case 'e':
		return cli_env_add(x, a, arg) < 0 ? -1 : 1;
	case 'i':
		eo->stdin_fd = STDIN_FILENO;
		return 1;
	case 't':
		eo->tty = 1;
		return 1;
	case 'w':
		eo->cwd = arg;
		return 1;
	case 'u':
		eo->user = arg;
		return 1;
	case CLI_OPT_ULIMIT: {
		int res;
		struct rlimit rl;
		char why[256];
		if (msb_rlimit_parse(arg, strlen(arg), &res, &rl, why,
				     sizeof(why)) < 0) {
			cli_usage_error(a, "invalid --ulimit `%s`: %s", arg,
					why);
			return -1;
		}
		if (x->nrlimits == CLI_MAX_RLIMITS) {
			cli_usage_error(
				a, "too many --ulimit options (at most %d)",
				CLI_MAX_RLIMITS);
			return -1;
		}
		x->rlimits[x->nrlimits++] = arg;
		eo->rlimits = x->rlimits;
		return 1;
	}
	case CLI_OPT_TIMEOUT:
		if (!cli_parse_duration(arg, &eo->timeout_ms) ||
		    eo->timeout_ms == 0 || eo->timeout_ms > 4000000) {
			cli_usage_error(a,
					"invalid --timeout `%s`: a positive "
					"duration (seconds, or with s, m or h: "
					"90, 2m, 1h)",
					arg);
			return -1;
		}
		eo->timeout_ms *= 1000;
		return 1;
	case CLI_OPT_KILL_GROUP:
		eo->kill_group = 1;
		return 1;
	default:
		return 0;
	}
}

/*
 * MSB_ETIMEDOUT is both a command killed at its timeout (--timeout, or the
 * sandbox's default) and a guest agent or supervisor that stopped
 * answering ("did not answer", docs/api.md). Only the first is the
 * command's 124; the second is msb's own failure (125). The library tells
 * them apart by its message alone.
 */
static bool killed_at_timeout(void)
{
	const char *m = msb_last_error()->message;
	size_t n = strlen(m);

	return !strncmp(m, "command `", 9) && strstr(m, "` timed out after ") &&
	       n > 8 && !strcmp(m + n - 8, ": killed");
}

int cli_exec_status(int rc, const struct msb_exec_output *out)
{
	if (rc < 0)
		return cli_fail(rc == -MSB_ECMDNOTFOUND ? EXIT_NOT_FOUND
				: rc == -MSB_EEXEC      ? EXIT_CANNOT_RUN
				: rc == -MSB_ETIMEDOUT && killed_at_timeout()
					? EXIT_TIMEOUT
					: EXIT_MSB_ERROR);
	int sig = msb_exec_output_signal(out);
	if (sig) {
		cli_err("command killed by signal %d (%s)", sig,
			strsignal(sig));
		return 128 + sig;
	}
	return msb_exec_output_exit_code(out);
}

/* Output goes straight to our stdout/stderr as it arrives. */
static int forward(int stream, const void *data, size_t len, void *userdata)
{
	bool *broken = userdata;

	if (broken[stream - 1])
		return 0;
	if (write_all(stream == 1 ? STDOUT_FILENO : STDERR_FILENO, data, len) <
	    0)
		broken[stream - 1] = true;
	return 0;
}

/* --- terminal sessions (tty.c) --- */

/* Put TERM in the command's environment unless it is given: the local
 * one, or xterm. */
static void add_term(struct cli_exec *x)
{
	static char term[128];

	for (size_t i = 0; i < x->nenv; i++)
		if (!strncmp(x->env[i], "TERM=", 5))
			return;
	if (x->nenv == CLI_MAX_ENV)
		return;
	const char *t = getenv("TERM");
	snprintf(term, sizeof(term), "TERM=%s", t && *t ? t : "xterm");
	x->env[x->nenv++] = term;
}

static int run_tty(msb_sandbox *sb, const char *const *argv, struct cli_exec *x)
{
	msb_exec_options eo = x->eo;
	struct cli_session s = {
		.forward_stdin = eo.stdin_fd >= 0,
		.error_status = EXIT_MSB_ERROR,
		/* --timeout: msb_exec_start() leaves it to us */
		.deadline_us =
			eo.timeout_ms
				? now_us() + (uint64_t)eo.timeout_ms * 1000u
				: 0,
	};
	msb_exec *e = NULL;
	msb_exec_event ev;

	cli_window_size(&eo.rows, &eo.cols);
	add_term(x);
	eo.env = x->env;
	eo.stdin_fd = -1;
	eo.on_output = NULL;
	if (msb_exec_start(&e, sb, argv, &eo) < 0)
		return cli_fail(EXIT_MSB_ERROR);
	/* Start failures (not found...) before touching the terminal. */
	int rc = msb_exec_next(e, &ev, -1);
	if (rc < 0) {
		msb_exec_free(e);
		return cli_exec_status(rc, NULL);
	}
	if (!s.forward_stdin && msb_exec_close_stdin(e) < 0) {
		msb_exec_free(e);
		return cli_fail(EXIT_MSB_ERROR);
	}
	int status = cli_session_run(e, &s);
	if (s.timed_out)
		cli_err("command `%s` timed out after %u ms: killed", argv[0],
			eo.timeout_ms);
	msb_exec_free(e);
	return status;
}

int cli_exec_run(msb_sandbox *sb, const char *const *argv, struct cli_exec *x)
{
	if (x->eo.tty)
		return run_tty(sb, argv, x);
	bool broken[2] = {false, false};
	msb_exec_options eo = x->eo;
	eo.env = x->nenv ? x->env : NULL;
	eo.on_output = forward;
	eo.userdata = broken;
	msb_exec_output *out = NULL;
	int rc = msb_sandbox_exec(&out, sb, argv, &eo);
	int status = cli_exec_status(rc, out);
	msb_exec_output_free(out);
	return status;
}
