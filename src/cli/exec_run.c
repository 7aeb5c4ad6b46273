// SPDX-License-Identifier: Apache-2.0
/*
 * Running one command for msb run, msb exec and msb shell: the options
 * they share, output forwarding, exit statuses, and the interactive
 * terminal session (-t).
 *
 * DOC: Terminal sessions
 *
 * With -t the command gets a pseudo-terminal in the guest of the local
 * terminal's size. The local terminal goes into raw mode, so every key
 * (Ctrl-C included) travels as a byte to the guest's terminal, whose line
 * discipline turns it into a signal for the foreground process there.
 * SIGWINCH here becomes a resize there. One poll() loop moves bytes both
 * ways through a streaming exec handle; stdin is written only as fast as
 * the flow-control window allows, with the rest kept until there is room.
 * The local terminal is restored on every way out (exit, error, SIGTERM,
 * SIGHUP).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
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

/* --- terminal sessions --- */

static struct termios saved_termios;
static bool raw_mode;
static int sig_pipe[2] = {-1, -1};

static void restore_terminal(void)
{
	if (raw_mode) {
		tcsetattr(STDIN_FILENO, TCSADRAIN, &saved_termios);
		raw_mode = false;
	}
}

static void on_signal(int sig)
{
	int saved = errno;
	unsigned char b = (unsigned char)sig;

	(void)!write(sig_pipe[1], &b, 1);
	errno = saved;
}

static bool window_size(unsigned int *rows, unsigned int *cols)
{
	struct winsize ws;

	for (int fd = 0; fd <= 2; fd++) {
		if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col) {
			*rows = ws.ws_row;
			*cols = ws.ws_col;
			return true;
		}
	}
	return false;
}

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

/* Write what the window allows of @pend; Return: -1 on error. */
static int push_stdin(msb_exec *e, struct msb_buf *pend)
{
	if (!msb_buf_avail(pend))
		return 0;
	long n = msb_exec_try_write(e, msb_buf_head(pend), msb_buf_avail(pend));
	if (n < 0)
		return -1;
	msb_buf_consume(pend, (size_t)n);
	return 0;
}

static int run_tty(msb_sandbox *sb, const char *const *argv, struct cli_exec *x)
{
	msb_exec_options eo = x->eo;
	bool want_stdin = eo.stdin_fd >= 0;
	msb_exec *e = NULL;
	msb_exec_event ev;
	struct msb_buf pend = {0};
	int status = EXIT_MSB_ERROR;
	bool in_open = want_stdin, killed = false;
	/* --timeout: msb_exec_start() leaves it to us */
	uint64_t deadline =
		eo.timeout_ms ? now_us() + (uint64_t)eo.timeout_ms * 1000u : 0;

	window_size(&eo.rows, &eo.cols);
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
	if (!want_stdin && msb_exec_close_stdin(e) < 0)
		goto fail;

	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		cli_err("pipe: %s", strerror(errno));
		goto out;
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGWINCH, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if (want_stdin && isatty(STDIN_FILENO) &&
	    tcgetattr(STDIN_FILENO, &saved_termios) == 0) {
		struct termios raw = saved_termios;
		cfmakeraw(&raw);
		/* TCSANOW: what was typed ahead (during boot) is kept */
		if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0) {
			raw_mode = true;
			atexit(restore_terminal);
		}
	}

	for (;;) {
		struct pollfd p[3] = {
			{.fd = msb_exec_fd(e), .events = POLLIN},
			{.fd = sig_pipe[0], .events = POLLIN},
			/* more input only once the last has gone */
			{.fd = in_open && !msb_buf_avail(&pend) ? STDIN_FILENO
								: -1,
			 .events = POLLIN},
		};
		int wait = -1;
		if (deadline && !killed) {
			uint64_t now = now_us();
			wait = now >= deadline
				       ? 0
				       : (int)((deadline - now + 999) / 1000);
		}
		if (poll(p, 3, wait) < 0) {
			if (errno == EINTR)
				continue;
			cli_err("poll: %s", strerror(errno));
			goto out;
		}
		if (deadline && !killed && now_us() >= deadline) {
			/* its exit, which follows, ends the session */
			if (msb_exec_signal(e, SIGKILL) < 0)
				goto fail;
			killed = true;
		}
		if (p[1].revents) {
			unsigned char sig;
			while (read(sig_pipe[0], &sig, 1) == 1) {
				unsigned int rows, cols;
				if (sig == SIGWINCH) {
					if (window_size(&rows, &cols))
						msb_exec_resize(e, rows, cols);
					continue;
				}
				restore_terminal();
				cli_err("%s: stopping the command",
					strsignal(sig));
				status = 128 + sig;
				goto out;
			}
		}
		if (p[2].revents) {
			uint8_t buf[4096];
			ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0) {
				in_open = false;
				if (msb_exec_close_stdin(e) < 0)
					goto fail;
			} else if (msb_buf_append(&pend, buf, (size_t)n) < 0) {
				cli_err("out of memory");
				goto out;
			}
		}
		/* Every event that has arrived; credit comes with them. */
		while ((rc = msb_exec_next(e, &ev, 0)) == 0) {
			if (ev.type == MSB_EXEC_STDOUT ||
			    ev.type == MSB_EXEC_STDERR) {
				write_all(ev.type == MSB_EXEC_STDOUT
						  ? STDOUT_FILENO
						  : STDERR_FILENO,
					  ev.data, ev.len);
			} else if (ev.type == MSB_EXEC_EXITED) {
				restore_terminal();
				if (killed) {
					cli_err("command `%s` timed out after "
						"%u ms: killed",
						argv[0], eo.timeout_ms);
					status = EXIT_TIMEOUT;
				} else if (ev.signal) {
					cli_err("command killed by signal %d (%s)",
						ev.signal,
						strsignal(ev.signal));
					status = 128 + ev.signal;
				} else {
					status = ev.exit_code;
				}
				goto out;
			}
		}
		if (rc != -MSB_ETIMEDOUT)
			goto fail;
		if (push_stdin(e, &pend) < 0)
			goto fail;
	}
fail:
	restore_terminal();
	status = cli_fail(EXIT_MSB_ERROR);
out:
	restore_terminal();
	msb_buf_free(&pend);
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
