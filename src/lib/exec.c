// SPDX-License-Identifier: Apache-2.0
/* Running commands in a sandbox and collecting their output. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/internal.h"
#include "util/rlimit.h"

struct msb_exec_output {
	struct msb_buf out, err;
	int code;
	int sig;
	uint64_t duration_ms;
};

int msb__check_exec_options(const msb_exec_options *o)
{
	/* Version 1 ends before kill_group (read only from version 2). */
	if (o && o->version != MSB_EXEC_OPTIONS_VERSION && o->version != 1)
		return msb__error(
			MSB_EINVAL, 0,
			"unsupported exec options version %u: initialise with MSB_EXEC_OPTIONS_INIT",
			o->version);
	for (const char *const *r = o ? o->rlimits : NULL; r && *r; r++) {
		int res;
		struct rlimit rl;
		char why[256];
		if (msb_rlimit_parse(*r, strlen(*r), &res, &rl, why,
				     sizeof(why)) < 0)
			return msb__error(MSB_EINVAL, 0,
					  "invalid resource limit `%s`: %s", *r,
					  why);
	}
	if (o && o->tty && (o->rows > 0xffff || o->cols > 0xffff))
		return msb__error(MSB_EINVAL, 0, "invalid terminal size %ux%u",
				  o->rows, o->cols);
	for (const char *const *e = o ? o->env : NULL; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		if (!eq || eq == *e)
			return msb__error(
				MSB_EINVAL, 0,
				"invalid environment entry `%s`: expected KEY=VALUE",
				*e);
	}
	return 0;
}

/* Standard input on its way to the command. */
struct stdin_pump {
	const uint8_t *data; /* from a buffer, or */
	size_t left;
	int fd;    /* from a descriptor (-1: none) */
	bool done; /* EOF sent */
	struct msb_flow flow;
};

/* Send one STDIN frame; @eof marks the end. */
static int send_stdin(msb_sandbox *sb, uint32_t id, const void *p, size_t n,
		      bool eof)
{
	struct msb_msg m = {
		.type = MSB_MSG_STDIN,
		.has = MSB_HAS(MSB_FLD_DATA),
		.data = {p, n},
	};
	return msb__conn_send(&sb->conn, id, eof ? MSB_F_END : 0, &m);
}

/*
 * Move stdin forward without ever blocking on it while output waits, and
 * only as far as the guest has credited.
 * Return: 1 when the connection has something to read (or @wait ran out),
 * 0 after progress on stdin, or -MSB_E*.
 */
static int pump_stdin(struct stdin_pump *sp, msb_sandbox *sb, uint32_t id,
		      int wait)
{
	struct pollfd pf[2] = {
		{.fd = sb->conn.fd, .events = POLLIN},
		{.fd = sp->fd >= 0 ? sp->fd : sb->conn.fd,
		 .events = sp->fd >= 0 ? POLLIN : POLLOUT},
	};

	if (msb_buf_avail(&sb->conn.in))
		return 1;
	if (!sp->flow.credit)
		pf[1].fd = -1; /* wait for CREDIT (or output) */
	int r = poll(pf, 2, wait);
	if (r < 0)
		return errno == EINTR ? 0
				      : msb__error(MSB_ESYS, errno, "poll: %s",
						   strerror(errno));
	if (r == 0 || pf[0].revents)
		return 1;
	if (!pf[1].revents)
		return 0;
	size_t room = sp->flow.credit < MSB_CHUNK_MAX ? (size_t)sp->flow.credit
						      : MSB_CHUNK_MAX;
	if (sp->fd < 0) {
		size_t n = sp->left < room ? sp->left : room;
		int rc = send_stdin(sb, id, sp->data, n, n == sp->left);
		sp->data += n;
		sp->left -= n;
		sp->flow.credit -= n;
		sp->done = sp->left == 0;
		return rc;
	}
	uint8_t buf[16384];
	ssize_t n = read(sp->fd, buf, room < sizeof(buf) ? room : sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	sp->done = n <= 0;
	if (n > 0)
		sp->flow.credit -= (size_t)n;
	return send_stdin(sb, id, buf, n > 0 ? (size_t)n : 0, n <= 0);
}

/* Deliver one chunk of output to the callback or the collected buffer. */
static int take_output(msb_exec_output *o, const msb_exec_options *opts,
		       bool *cb_on, int stream, struct msb_bytes d)
{
	if (opts && opts->on_output) {
		if (*cb_on && opts->on_output(stream, d.p, d.n, opts->userdata))
			*cb_on = false;
		return 0;
	}
	if (msb_buf_append(stream == 1 ? &o->out : &o->err, d.p, d.n) < 0)
		return msb__error(MSB_ENOMEM, errno, "out of memory");
	return 0;
}

int msb__check_exec_call(const void *out, const msb_sandbox *sb,
			 const char *const *argv, const msb_exec_options *opts)
{
	if (!out || !sb || !argv)
		return msb__error(MSB_EINVAL, 0,
				  "out, sandbox and argv are required");
	if (!argv[0] || !argv[0][0])
		return msb__error(MSB_EINVAL, 0, "empty command");
	int rc = msb__check_exec_options(opts);
	if (rc < 0)
		return rc;
	return msb__check_running(sb);
}

int msb__exec_request(struct msb_msg *req, const char ***rl,
		      const msb_sandbox *sb, const char *const *argv,
		      const msb_exec_options *opts)
{
	size_t ns = 0, no = 0;
	while (sb->rlimits && sb->rlimits[ns])
		ns++;
	while (opts && opts->rlimits && opts->rlimits[no])
		no++;
	*rl = calloc(ns + no + 1, sizeof(char *));
	if (!*rl)
		return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	for (size_t i = 0; i < ns; i++)
		(*rl)[i] = sb->rlimits[i];
	for (size_t i = 0; i < no; i++)
		(*rl)[ns + i] = opts->rlimits[i];
	*req = (struct msb_msg){
		.type = MSB_MSG_EXEC,
		.has = MSB_HAS(MSB_FLD_ARGV),
		.argv = {.v = argv},
	};
	if (opts && opts->env) {
		req->has |= MSB_HAS(MSB_FLD_ENV);
		req->env.v = opts->env;
	}
	const char *cwd = opts && opts->cwd ? opts->cwd : sb->workdir;
	const char *user = opts && opts->user ? opts->user : sb->user;
	if (cwd) {
		req->has |= MSB_HAS(MSB_FLD_CWD);
		req->cwd = msb_str(cwd);
	}
	if (user) {
		req->has |= MSB_HAS(MSB_FLD_USER);
		req->user = msb_str(user);
	}
	if (ns + no) {
		req->has |= MSB_HAS(MSB_FLD_RLIMITS);
		req->rlimits.v = *rl;
	}
	if (opts && opts->version >= 2 && opts->kill_group) {
		req->has |= MSB_HAS(MSB_FLD_FLAGS);
		req->flags |= MSB_EXEC_KILL_GROUP;
	}
	if (opts && opts->tty) {
		req->has |= MSB_HAS(MSB_FLD_FLAGS) | MSB_HAS(MSB_FLD_ROWS) |
			    MSB_HAS(MSB_FLD_COLS);
		req->flags |= MSB_EXEC_TTY;
		req->rows = opts->rows ? opts->rows : 24;
		req->cols = opts->cols ? opts->cols : 80;
	}
	return 0;
}

int msb__exec_failed(const char *cmd, const struct msb_msg *m)
{
	static const struct {
		const char *kind;
		msb_exec_failure failure;
	} kinds[] = {
		{"permission", MSB_EXEC_FAILURE_PERMISSION},
		{"not_executable", MSB_EXEC_FAILURE_NOT_EXECUTABLE},
		{"cwd", MSB_EXEC_FAILURE_CWD},
		{"user", MSB_EXEC_FAILURE_USER},
		{"rlimit", MSB_EXEC_FAILURE_RLIMIT},
	};
	int rc;

	if (msb_bytes_eq(m->kind, "not_found")) {
		rc = msb__error(MSB_ECMDNOTFOUND, (int)m->err,
				"command not found in the sandbox: `%s`", cmd);
		msb__error_exec_failure(MSB_EXEC_FAILURE_NOT_FOUND);
		return rc;
	}
	char t[512];
	rc = msb__error(MSB_EEXEC, (int)m->err, "cannot run `%s`: %s", cmd,
			MSB_GUEST_TEXT(t, m->msg));
	msb__error_exec_failure(MSB_EXEC_FAILURE_OTHER);
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
		if (msb_bytes_eq(m->kind, kinds[i].kind))
			msb__error_exec_failure(kinds[i].failure);
	return rc;
}

EXPORT int msb_sandbox_exec(msb_exec_output **out, msb_sandbox *sb,
			    const char *const *argv,
			    const msb_exec_options *opts)
{
	int rc;

	msb__error_clear();
	if (out)
		*out = NULL;
	if ((rc = msb__check_exec_call(out, sb, argv, opts)) < 0)
		return rc;

	msb_exec_output *o = calloc(1, sizeof(*o));
	if (!o)
		return msb__error(MSB_ENOMEM, errno, "out of memory");

	uint32_t id = msb__next_stream(sb);
	struct msb_msg req;
	_cleanup_free_ const char **rl = NULL;
	unsigned int timeout_ms =
		opts && opts->timeout_ms ? opts->timeout_ms : sb->timeout_ms;
	if ((rc = msb__exec_request(&req, &rl, sb, argv, opts)) < 0) {
		free(o);
		return rc;
	}
	struct stdin_pump sp = {.fd = -1, .done = true};
	struct msb_flow out_flow = MSB_FLOW_INIT;
	if (opts && (opts->stdin_data || opts->stdin_fd >= 0)) {
		sp = (struct stdin_pump){
			.data = opts->stdin_data,
			.left = opts->stdin_data ? opts->stdin_len : 0,
			.fd = opts->stdin_data ? -1 : opts->stdin_fd,
			.flow = MSB_FLOW_INIT,
		};
		req.has |= MSB_HAS(MSB_FLD_FLAGS);
		req.flags |= MSB_EXEC_STDIN;
	}
	if ((rc = msb__conn_send(&sb->conn, id, MSB_F_START, &req)) < 0)
		goto fail;

	bool cb_on = true, done = false, killed = false, started = false;
	uint64_t start = now_us();
	/* The agent answers the request (STARTED or FAILED) in time. */
	int limit = msb__agent_timeout_ms();
	uint64_t start_deadline = start + (uint64_t)limit * 1000u;
	uint64_t deadline =
		timeout_ms ? start + (uint64_t)timeout_ms * 1000u : 0;
	while (!done) {
		struct msb_frame f;
		struct msb_msg m;
		int wait = -1;
		if (deadline && !killed) {
			uint64_t now = now_us();
			wait = now >= deadline
				       ? 0
				       : (int)((deadline - now + 999) / 1000);
		}
		if (!started) {
			int left = msb__ms_left(start_deadline);
			if (wait < 0 || left < wait)
				wait = left;
		}
		if (!sp.done) {
			int r = pump_stdin(&sp, sb, id, wait);
			if (r < 0) {
				rc = r;
				goto fail;
			}
			if (r == 0)
				continue;
			rc = msb__conn_recv(&sb->conn, &f, &m, 0);
		} else {
			rc = msb__conn_recv(&sb->conn, &f, &m, wait);
		}
		if (rc == -MSB_ETIMEDOUT && !started &&
		    now_us() >= start_deadline) {
			rc = msb__agent_silent("the command", argv[0], limit);
			goto fail;
		}
		if (rc == -MSB_ETIMEDOUT &&
		    !(deadline && !killed && now_us() >= deadline))
			continue; /* no deadline passed yet */
		if (rc == -MSB_ETIMEDOUT && deadline && !killed) {
			/* Kill the process group; its exit ends the stream. */
			struct msb_msg kill = {
				.type = MSB_MSG_SIGNAL,
				.has = MSB_HAS(MSB_FLD_SIG),
				.sig = 9,
			};
			if ((rc = msb__conn_send(&sb->conn, id, 0, &kill)) < 0)
				goto fail;
			killed = true;
			continue;
		}
		if (rc < 0)
			goto fail;
		if (f.hdr.stream != id) {
			msb__conn_done(&sb->conn, &f);
			continue;
		}
		started = true;
		switch (m.type) {
		case MSB_MSG_STARTED:
			break;
		case MSB_MSG_STDOUT:
		case MSB_MSG_STDERR:
			rc = take_output(o, opts, &cb_on,
					 m.type == MSB_MSG_STDOUT ? 1 : 2,
					 m.data);
			if (rc == 0)
				rc = msb__conn_consumed(&sb->conn, id,
							&out_flow, m.data.n);
			break;
		case MSB_MSG_CREDIT:
			msb_credit_add(&sp.flow.credit, &m);
			break;
		case MSB_MSG_EXITED:
			if (m.has & MSB_HAS(MSB_FLD_SIG) && m.sig > 0) {
				o->code = -1;
				o->sig = (int)m.sig;
			} else {
				o->code = (int)m.code;
			}
			done = true;
			break;
		case MSB_MSG_FAILED:
			rc = msb__exec_failed(argv[0], &m);
			break;
		case MSB_MSG_ERROR:
			rc = msb__error_reply(&m, NULL);
			break;
		default:
			if (f.hdr.flags & MSB_F_END)
				rc = msb__error(
					MSB_EPROTO, 0,
					"guest agent ended `%s` with an "
					"unexpected frame",
					argv[0]);
			break;
		}
		msb__conn_done(&sb->conn, &f);
		if (rc < 0)
			goto fail;
	}
	if (killed) {
		rc = msb__error(MSB_ETIMEDOUT, 0,
				"command `%s` timed out after %u ms: killed",
				argv[0], timeout_ms);
		goto fail;
	}
	o->duration_ms = (now_us() - start) / 1000;
	/* NUL-terminate the collected text without counting it. */
	if (msb_buf_reserve(&o->out, 1) < 0 ||
	    msb_buf_reserve(&o->err, 1) < 0) {
		rc = msb__error(MSB_ENOMEM, errno, "out of memory");
		goto fail;
	}
	o->out.data[o->out.len] = '\0';
	o->err.data[o->err.len] = '\0';
	*out = o;
	return 0;
fail:
	msb_exec_output_free(o);
	return rc;
}

EXPORT int msb_sandbox_shell(msb_exec_output **out, msb_sandbox *sb,
			     const char *command, const msb_exec_options *opts)
{
	if (!command) {
		msb__error_clear();
		return msb__error(MSB_EINVAL, 0, "command is NULL");
	}
	const char *argv[] = {"/bin/sh", "-c", command, NULL};
	return msb_sandbox_exec(out, sb, argv, opts);
}

EXPORT const char *msb_exec_output_stdout(const msb_exec_output *o, size_t *len)
{
	if (len)
		*len = o ? o->out.len : 0;
	return o && o->out.data ? (const char *)o->out.data : "";
}

EXPORT const char *msb_exec_output_stderr(const msb_exec_output *o, size_t *len)
{
	if (len)
		*len = o ? o->err.len : 0;
	return o && o->err.data ? (const char *)o->err.data : "";
}

EXPORT int msb_exec_output_exit_code(const msb_exec_output *o)
{
	return o ? o->code : -1;
}

EXPORT int msb_exec_output_signal(const msb_exec_output *o)
{
	return o ? o->sig : 0;
}

EXPORT uint64_t msb_exec_output_duration_ms(const msb_exec_output *o)
{
	return o ? o->duration_ms : 0;
}

EXPORT void msb_exec_output_free(msb_exec_output *o)
{
	if (!o)
		return;
	msb_buf_free(&o->out);
	msb_buf_free(&o->err);
	free(o);
}
