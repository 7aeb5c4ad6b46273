// SPDX-License-Identifier: Apache-2.0
/*
 * Streaming execution (msb_exec_*): one command on its own connection to
 * the sandbox's supervisor, so that handles are independent of each other
 * and of the sandbox handle, and the connection's descriptor can go into
 * any event loop. Closing the connection kills the command (the
 * supervisor does that for a client that leaves).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/internal.h"

#define STREAM_ID 1

struct msb_exec {
	struct msb_conn conn;
	char *cmd;             /* argv[0], for messages */
	struct msb_frame held; /* the frame the last event points into */
	bool holding;
	size_t held_len;
	struct msb_flow in_flow;  /* stdin we may send */
	struct msb_flow out_flow; /* output consumed, to credit */
	bool stdin_closed;
	bool ended;
	bool tty;
	bool answered;           /* the agent has answered the request */
	unsigned int attach_id;  /* msb_sandbox_proc_attach(): the id */
	bool main_attach;        /* msb_sandbox_attach_main() */
	bool feed;               /* ... with MSB_ATTACH_STDIN */
	char *sandbox;           /* ... of this sandbox, for messages */
	uint64_t start_deadline; /* ... or must, by then (µs) */
};

EXPORT int msb_exec_start(msb_exec **out, msb_sandbox *sb,
			  const char *const *argv, const msb_exec_options *opts)
{
	struct msb_msg req;
	int rc;

	msb__error_clear();
	if (out)
		*out = NULL;
	if ((rc = msb__check_exec_call(out, sb, argv, opts)) < 0)
		return rc;
	msb_exec *e = calloc(1, sizeof(*e));
	if (!e || !(e->cmd = strdup(argv[0]))) {
		free(e);
		return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	}
	e->conn.fd = -1;
	e->in_flow = (struct msb_flow)MSB_FLOW_INIT;
	e->out_flow = (struct msb_flow)MSB_FLOW_INIT;
	/* Before the first goto: clang refuses a jump past a cleanup. */
	_cleanup_free_ const char **rl = NULL;
	if ((rc = msb__sandbox_dial(&e->conn, sb->name)) < 0)
		goto fail;
	if ((rc = msb__exec_request(&req, &rl, sb, argv, opts)) < 0)
		goto fail;
	req.has |= MSB_HAS(MSB_FLD_FLAGS);
	req.flags |= MSB_EXEC_STDIN;
	e->tty = opts && opts->tty;
	if ((rc = msb__conn_send(&e->conn, STREAM_ID, MSB_F_START, &req)) < 0)
		goto fail;
	e->start_deadline =
		now_us() + (uint64_t)msb__agent_timeout_ms() * 1000u;
	if (opts && opts->stdin_data && opts->stdin_len &&
	    (rc = msb_exec_write(e, opts->stdin_data, opts->stdin_len)) < 0)
		goto fail;
	*out = e;
	return 0;
fail:
	msb_exec_free(e);
	return rc;
}

EXPORT int msb_sandbox_proc_attach(msb_exec **out, msb_sandbox *sb,
				   unsigned int id, int flags)
{
	struct msb_msg req = {
		.type = MSB_MSG_PROC_ATTACH,
		.has = MSB_HAS(MSB_FLD_ID) | MSB_HAS(MSB_FLD_FLAGS),
		.id = id,
	};
	char name[32];
	int rc;

	msb__error_clear();
	if (!out || !sb || !id)
		return msb__error(MSB_EINVAL, 0,
				  "handle, sandbox and id are required");
	*out = NULL;
	if (flags & ~(MSB_ATTACH_LOGS | MSB_ATTACH_FOLLOW | MSB_ATTACH_STDIN))
		return msb__error(MSB_EINVAL, 0, "invalid attach flags %#x",
				  (unsigned int)flags);
	if (flags & MSB_ATTACH_LOGS)
		req.flags |= MSB_PATTACH_REPLAY;
	if (flags & MSB_ATTACH_FOLLOW)
		req.flags |= MSB_PATTACH_FOLLOW;
	if (flags & MSB_ATTACH_STDIN)
		req.flags |= MSB_PATTACH_STDIN;
	snprintf(name, sizeof(name), "process %u", id);
	msb_exec *e = calloc(1, sizeof(*e));
	if (!e || !(e->cmd = strdup(name))) {
		free(e);
		return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	}
	e->conn.fd = -1;
	e->in_flow = (struct msb_flow)MSB_FLOW_INIT;
	e->out_flow = (struct msb_flow)MSB_FLOW_INIT;
	e->attach_id = id;
	e->tty = false;     /* until STARTED says */
	e->answered = true; /* a quiet process may say nothing for long */
	if ((rc = msb__sandbox_dial(&e->conn, sb->name)) < 0 ||
	    (rc = msb__conn_send(&e->conn, STREAM_ID, MSB_F_START, &req)) < 0) {
		msb_exec_free(e);
		return rc;
	}
	*out = e;
	return 0;
}

EXPORT int msb_sandbox_attach_main(msb_exec **out, msb_sandbox *sb, int flags)
{
	struct msb_msg req = {
		.type = MSB_MSG_MAIN_ATTACH,
		.has = MSB_HAS(MSB_FLD_FLAGS),
	};
	int rc;

	msb__error_clear();
	if (!out || !sb)
		return msb__error(MSB_EINVAL, 0,
				  "handle and sandbox are required");
	*out = NULL;
	if (flags & ~(MSB_ATTACH_FOLLOW | MSB_ATTACH_STDIN))
		return msb__error(MSB_EINVAL, 0, "invalid attach flags %#x",
				  (unsigned int)flags);
	if (flags & MSB_ATTACH_STDIN)
		req.flags |= MSB_PATTACH_STDIN;
	msb_exec *e = calloc(1, sizeof(*e));
	if (!e || !(e->cmd = strdup("main process")) ||
	    !(e->sandbox = strdup(sb->name))) {
		if (e)
			free(e->cmd);
		free(e);
		return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	}
	e->conn.fd = -1;
	e->in_flow = (struct msb_flow)MSB_FLOW_INIT;
	e->out_flow = (struct msb_flow)MSB_FLOW_INIT;
	e->main_attach = true;
	e->feed = flags & MSB_ATTACH_STDIN;
	e->stdin_closed = !e->feed;
	e->answered = true; /* the supervisor answers at once */
	if ((rc = msb__sandbox_dial(&e->conn, sb->name)) < 0 ||
	    (rc = msb__conn_send(&e->conn, STREAM_ID, MSB_F_START, &req)) < 0) {
		msb_exec_free(e);
		return rc;
	}
	*out = e;
	return 0;
}

/* The supervisor's refusal of msb_sandbox_attach_main(). */
static int main_attach_failed(const msb_exec *e, const struct msb_msg *m)
{
	static const struct {
		const char *kind;
		int code;
	} kinds[] = {
		{"not_found", MSB_ENOTFOUND}, {"not_running", MSB_ESTATE},
		{"busy", MSB_ESTATE},         {"no_stdin", MSB_ENOTSUP},
		{"dropped", MSB_ESTATE},      {"stopped", MSB_ESTATE},
	};
	char t[512];
	int code = MSB_EAGENT;

	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
		if (msb_bytes_eq(m->kind, kinds[i].kind))
			code = kinds[i].code;
	return msb__error(code, 0, "sandbox `%s`: %s", e->sandbox,
			  MSB_GUEST_TEXT(t, m->msg));
}

/* The caller is done with the last data event: free it, credit it. */
static int release_held(msb_exec *e, size_t len)
{
	if (!e->holding)
		return 0;
	msb__conn_done(&e->conn, &e->held);
	e->holding = false;
	return msb__conn_consumed(&e->conn, STREAM_ID, &e->out_flow, len);
}

EXPORT int msb_exec_next(msb_exec *e, msb_exec_event *ev, int timeout_ms)
{
	msb__error_clear();
	if (!e || !ev)
		return msb__error(MSB_EINVAL, 0,
				  "handle and event are required");
	int held_rc = release_held(e, e->held_len);
	memset(ev, 0, sizeof(*ev));
	if (held_rc < 0 && !e->ended)
		return held_rc;
	if (e->ended)
		return msb__error(MSB_ESTATE, 0, "`%s` has ended", e->cmd);
	for (;;) {
		struct msb_frame f;
		struct msb_msg m;
		int wait = timeout_ms;
		if (!e->answered) {
			/* The agent answers (STARTED or FAILED) in time. */
			int left = msb__ms_left(e->start_deadline);
			if (wait < 0 || left < wait)
				wait = left;
		}
		int rc = msb__conn_recv(&e->conn, &f, &m, wait);
		if (rc == -MSB_ETIMEDOUT && !e->answered &&
		    now_us() >= e->start_deadline)
			return msb__agent_silent("the command", e->cmd,
						 msb__agent_timeout_ms());
		if (rc == -MSB_ETIMEDOUT && wait != timeout_ms)
			continue; /* the caller's wait is not over */
		if (rc < 0)
			return rc;
		if (f.hdr.stream != STREAM_ID) {
			msb__conn_done(&e->conn, &f);
			continue;
		}
		e->answered = true;
		switch (m.type) {
		case MSB_MSG_STARTED:
			ev->type = MSB_EXEC_STARTED;
			ev->pid = (int)m.pid;
			break;
		case MSB_MSG_STDOUT:
		case MSB_MSG_STDERR:
			ev->type = m.type == MSB_MSG_STDOUT ? MSB_EXEC_STDOUT
							    : MSB_EXEC_STDERR;
			ev->data = m.data.p;
			ev->len = m.data.n;
			/* The data stays in the buffer until the next call. */
			e->held = f;
			e->held_len = m.data.n;
			e->holding = true;
			return 0;
		case MSB_MSG_CREDIT:
			msb_credit_add(&e->in_flow.credit, &m);
			break;
		case MSB_MSG_EXITED:
			ev->type = MSB_EXEC_EXITED;
			if (m.has & MSB_HAS(MSB_FLD_SIG) && m.sig > 0) {
				ev->exit_code = -1;
				ev->signal = (int)m.sig;
			} else {
				ev->exit_code = (int)m.code;
			}
			e->ended = true;
			break;
		case MSB_MSG_FAILED:
			if (e->main_attach)
				rc = main_attach_failed(e, &m);
			else if (e->attach_id &&
				 msb_bytes_eq(m.kind, "not_found"))
				rc = msb__error(MSB_ENOTFOUND, ESRCH,
						"no process with id %u in the "
						"sandbox",
						e->attach_id);
			else
				rc = msb__exec_failed(e->cmd, &m);
			e->ended = true;
			break;
		case MSB_MSG_PROC_INFO:
			if (!e->attach_id && !e->main_attach)
				break;
			if (!(f.hdr.flags & MSB_F_END)) {
				/* What we are attached to, first. */
				ev->type = MSB_EXEC_STARTED;
				ev->pid = m.pid > 0 && m.pid <= INT32_MAX
						  ? (int)m.pid
						  : 0;
				e->tty = m.has & MSB_HAS(MSB_FLD_FLAGS) &&
					 m.flags & MSB_EXEC_TTY;
				break;
			}
			e->ended = true;
			if (msb_bytes_eq(m.kind, "exited")) {
				ev->type = MSB_EXEC_EXITED;
				ev->exit_code = (int)m.code;
				if (m.has & MSB_HAS(MSB_FLD_SIG) && m.sig > 0) {
					ev->exit_code = -1;
					ev->signal = (int)m.sig;
				}
			} else {
				ev->type = MSB_EXEC_DETACHED;
			}
			break;
		case MSB_MSG_ERROR:
			/* Errors about one frame (stdin after the end...) do
			 * not end the command; others do. */
			if (f.hdr.flags & MSB_F_END) {
				e->ended = true;
				rc = msb__error_reply(&m, NULL);
			}
			break;
		default:
			if (f.hdr.flags & MSB_F_END) {
				e->ended = true;
				rc = msb__error(
					MSB_EPROTO, 0,
					"guest agent ended `%s` with an "
					"unexpected frame",
					e->cmd);
			}
			break;
		}
		msb__conn_done(&e->conn, &f);
		if (rc < 0)
			return rc;
		if (ev->type)
			return 0;
	}
}

EXPORT int msb_exec_fd(const msb_exec *e)
{
	return e ? e->conn.fd : -1;
}

static int send_stdin(msb_exec *e, const void *data, size_t len, bool eof)
{
	struct msb_msg m = {
		.type = MSB_MSG_STDIN,
		.has = MSB_HAS(MSB_FLD_DATA),
		.data = {data, len},
	};
	return msb__conn_send(&e->conn, STREAM_ID, eof ? MSB_F_END : 0, &m);
}

/*
 * Send what the window allows of @data now. Return: bytes sent (0 when
 * there is no credit), or -MSB_E*.
 */
static long write_some(msb_exec *e, const uint8_t *p, size_t len)
{
	size_t done = 0;

	while (done < len && e->in_flow.credit) {
		size_t n = len - done;
		if (n > MSB_CHUNK_MAX)
			n = MSB_CHUNK_MAX;
		if (n > e->in_flow.credit)
			n = (size_t)e->in_flow.credit;
		int rc = send_stdin(e, p + done, n, false);
		if (rc < 0)
			return rc;
		e->in_flow.credit -= n;
		done += n;
	}
	return (long)done;
}

static int check_write(msb_exec *e, const void *data, size_t len)
{
	if (!e || (!data && len))
		return msb__error(MSB_EINVAL, 0,
				  "handle and data are required");
	if (e->stdin_closed)
		return msb__error(MSB_ESTATE, 0, "stdin of `%s` is closed",
				  e->cmd);
	if (e->ended)
		return msb__error(MSB_ESTATE, 0, "`%s` has ended", e->cmd);
	return 0;
}

EXPORT int msb_exec_write(msb_exec *e, const void *data, size_t len)
{
	msb__error_clear();
	int rc = check_write(e, data, len);
	if (rc < 0)
		return rc;
	const uint8_t *p = data;
	while (len) {
		if (!e->in_flow.credit) {
			rc = msb__conn_wait_credit(&e->conn, STREAM_ID,
						   &e->in_flow, false, -1);
			if (rc < 0)
				return rc;
			if (rc > 0)
				return msb__error(
					MSB_ESTATE, 0,
					"`%s` ended before reading all its input",
					e->cmd);
		}
		long n = write_some(e, p, len);
		if (n < 0)
			return (int)n;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

EXPORT long msb_exec_try_write(msb_exec *e, const void *data, size_t len)
{
	msb__error_clear();
	int rc = check_write(e, data, len);
	if (rc < 0)
		return rc;
	/* Credit already received but not yet taken. Never read the
	 * socket here: frames read now would sit in our buffer while the
	 * caller polls msb_exec_fd() for them. */
	if (!e->in_flow.credit)
		msb__conn_take_credits(&e->conn, STREAM_ID, &e->in_flow);
	return write_some(e, data, len);
}

EXPORT int msb_exec_close_stdin(msb_exec *e)
{
	msb__error_clear();
	if (!e)
		return msb__error(MSB_EINVAL, 0, "handle is NULL");
	if (e->stdin_closed)
		return 0;
	e->stdin_closed = true;
	return send_stdin(e, NULL, 0, true);
}

EXPORT int msb_exec_signal(msb_exec *e, int sig)
{
	msb__error_clear();
	if (!e || sig <= 0 || sig >= 65)
		return msb__error(MSB_EINVAL, 0, "invalid signal %d", sig);
	struct msb_msg m = {
		.type = MSB_MSG_SIGNAL,
		.has = MSB_HAS(MSB_FLD_SIG),
		.sig = sig,
	};
	return msb__conn_send(&e->conn, STREAM_ID, 0, &m);
}

EXPORT int msb_exec_resize(msb_exec *e, unsigned int rows, unsigned int cols)
{
	msb__error_clear();
	if (!e || !rows || !cols || rows > 0xffff || cols > 0xffff)
		return msb__error(MSB_EINVAL, 0, "invalid terminal size %ux%u",
				  rows, cols);
	if (!e->tty)
		return msb__error(MSB_ESTATE, 0, "`%s` has no terminal",
				  e->cmd);
	struct msb_msg m = {
		.type = MSB_MSG_RESIZE,
		.has = MSB_HAS(MSB_FLD_ROWS) | MSB_HAS(MSB_FLD_COLS),
		.rows = rows,
		.cols = cols,
	};
	return msb__conn_send(&e->conn, STREAM_ID, 0, &m);
}

EXPORT int msb_exec_tty(const msb_exec *e)
{
	return e && e->tty;
}

EXPORT int msb_exec_wait(msb_exec *e, int *exit_code, int *signal)
{
	msb_exec_event ev;

	for (;;) {
		int rc = msb_exec_next(e, &ev, -1);
		if (rc < 0)
			return rc;
		if (ev.type == MSB_EXEC_EXITED) {
			if (exit_code)
				*exit_code = ev.exit_code;
			if (signal)
				*signal = ev.signal;
			return 0;
		}
	}
}

EXPORT void msb_exec_free(msb_exec *e)
{
	if (!e)
		return;
	/* Closing the connection makes the supervisor kill the command. */
	msb__conn_close(&e->conn);
	free(e->cmd);
	free(e->sandbox);
	free(e);
}
