// SPDX-License-Identifier: Apache-2.0
/*
 * Interactive sessions on a streaming handle: msb exec -it, msb shell and
 * msb attach.
 *
 * DOC: Terminal sessions
 *
 * When the command has a pseudo-terminal in the guest and msb's stdin is
 * a terminal, the local terminal goes into raw mode, so every key (Ctrl-C
 * included) travels as a byte to the guest's terminal, whose line
 * discipline turns it into a signal for the foreground process there.
 * SIGWINCH here becomes a resize there. One poll() loop moves bytes both
 * ways through the handle; stdin is written only as fast as the
 * flow-control window allows, with the rest kept until there is room. The
 * local terminal is restored on every way out (exit, detach, error,
 * SIGTERM, SIGHUP).
 *
 * An attachment (@attach) may end without the command: Ctrl-P Ctrl-Q in
 * raw mode (docker's detach keys; a Ctrl-P followed by anything else is
 * sent as typed), SIGTERM or SIGHUP detach, and the command runs on. For
 * an exec, SIGTERM and SIGHUP stop it (freeing the handle kills it).
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
#include "util/util.h"

#define KEY_CTRL_P 0x10
#define KEY_CTRL_Q 0x11

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

bool cli_window_size(unsigned int *rows, unsigned int *cols)
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

/*
 * Queue @n bytes typed at the terminal, watching for the detach keys
 * (*@held: a Ctrl-P waits for the next byte). Return: 1 to detach, 0, or
 * -1 without memory.
 */
static int take_keys(struct msb_buf *pend, const uint8_t *buf, size_t n,
		     bool keys, bool *held)
{
	size_t from = 0;

	if (!keys)
		return msb_buf_append(pend, buf, n) < 0 ? -1 : 0;
	for (size_t i = 0; i < n; i++) {
		if (*held) {
			*held = false;
			if (buf[i] == KEY_CTRL_Q)
				return 1;
			/* Not the sequence: the Ctrl-P goes as typed. */
			uint8_t p = KEY_CTRL_P;
			if (msb_buf_append(pend, &p, 1) < 0)
				return -1;
		}
		if (buf[i] == KEY_CTRL_P) {
			if (msb_buf_append(pend, buf + from, i - from) < 0)
				return -1;
			*held = true;
			from = i + 1;
		}
	}
	if (!*held && msb_buf_append(pend, buf + from, n - from) < 0)
		return -1;
	return 0;
}

/* Signals, raw mode, the first size. Return: 0, or -1 after a message. */
static int session_setup(const struct cli_session *s, msb_exec *e)
{
	if (sig_pipe[0] < 0 && pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		cli_err("pipe: %s", strerror(errno));
		return -1;
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGWINCH, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if (s->forward_stdin && msb_exec_tty(e) && isatty(STDIN_FILENO) &&
	    tcgetattr(STDIN_FILENO, &saved_termios) == 0) {
		struct termios raw = saved_termios;
		cfmakeraw(&raw);
		/* TCSANOW: what was typed ahead (during boot) is kept */
		if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0) {
			raw_mode = true;
			atexit(restore_terminal);
		}
	}
	unsigned int rows, cols;
	if (s->attach && msb_exec_tty(e) && cli_window_size(&rows, &cols) &&
	    msb_exec_resize(e, rows, cols) < 0) {
		cli_fail(s->error_status);
		return -1;
	}
	return 0;
}

/* The exit status for the command's EXITED @ev. */
static int exited(struct cli_session *s, const msb_exec_event *ev)
{
	restore_terminal();
	if (s->timed_out)
		return EXIT_TIMEOUT;
	if (ev->signal) {
		cli_err("command killed by signal %d (%s)", ev->signal,
			strsignal(ev->signal));
		return 128 + ev->signal;
	}
	return ev->exit_code;
}

int cli_session_run(msb_exec *e, struct cli_session *s)
{
	struct msb_buf pend = {0};
	int status = s->error_status, rc;
	bool in_open = s->forward_stdin, held = false, keys;
	msb_exec_event ev;

	s->timed_out = s->detached = false;
	if (session_setup(s, e) < 0)
		goto out;
	keys = raw_mode && s->attach;

	for (;;) {
		/* Every event already read or arriving now, before polling:
		 * frames read together sit in the handle (msb_exec_fd()). */
		while ((rc = msb_exec_next(e, &ev, 0)) == 0) {
			if (ev.type == MSB_EXEC_STDOUT ||
			    ev.type == MSB_EXEC_STDERR) {
				write_all(ev.type == MSB_EXEC_STDOUT
						  ? STDOUT_FILENO
						  : STDERR_FILENO,
					  ev.data, ev.len);
			} else if (ev.type == MSB_EXEC_EXITED) {
				status = exited(s, &ev);
				goto out;
			} else if (ev.type == MSB_EXEC_DETACHED) {
				restore_terminal();
				s->detached = true;
				status = 0;
				goto out;
			}
		}
		if (rc != -MSB_ETIMEDOUT)
			goto fail;
		/* Credit came with those events; this reads nothing. */
		if (push_stdin(e, &pend) < 0)
			goto fail;

		struct pollfd p[3] = {
			{.fd = msb_exec_fd(e), .events = POLLIN},
			{.fd = sig_pipe[0], .events = POLLIN},
			/* more input only once the last has gone */
			{.fd = in_open && !msb_buf_avail(&pend) ? STDIN_FILENO
								: -1,
			 .events = POLLIN},
		};
		int wait = -1;
		if (s->deadline_us && !s->timed_out) {
			uint64_t now = now_us();
			wait = now >= s->deadline_us
				       ? 0
				       : (int)((s->deadline_us - now + 999) /
					       1000);
		}
		if (poll(p, 3, wait) < 0) {
			if (errno == EINTR)
				continue;
			cli_err("poll: %s", strerror(errno));
			goto out;
		}
		if (s->deadline_us && !s->timed_out &&
		    now_us() >= s->deadline_us) {
			/* its exit, which follows, ends the session */
			if (msb_exec_signal(e, SIGKILL) < 0)
				goto fail;
			s->timed_out = true;
		}
		if (p[1].revents) {
			unsigned char sig;
			while (read(sig_pipe[0], &sig, 1) == 1) {
				unsigned int rows, cols;
				if (sig == SIGWINCH) {
					if (msb_exec_tty(e) &&
					    cli_window_size(&rows, &cols))
						msb_exec_resize(e, rows, cols);
					continue;
				}
				restore_terminal();
				if (s->attach) {
					s->detached = true;
					status = 0;
				} else {
					cli_err("%s: stopping the command",
						strsignal(sig));
					status = 128 + sig;
				}
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
			} else {
				int k = take_keys(&pend, buf, (size_t)n, keys,
						  &held);
				if (k < 0) {
					cli_err("out of memory");
					goto out;
				}
				if (k > 0) {
					restore_terminal();
					s->detached = true;
					status = 0;
					goto out;
				}
			}
		}
	}
fail:
	restore_terminal();
	status = cli_fail(s->error_status);
out:
	restore_terminal();
	msb_buf_free(&pend);
	return status;
}
