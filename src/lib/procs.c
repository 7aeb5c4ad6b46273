// SPDX-License-Identifier: Apache-2.0
/*
 * The guest agent's process table through the sandbox handle: detached
 * commands, listing and signalling by id (see src/agent/procs.c). What
 * the guest reports (commands, states) is untrusted: sizes are bounded
 * and commands are handed over as received, for the caller to escape.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/internal.h"

/* Entries a listing may have: the agent keeps far fewer. */
#define PROCS_MAX 4096

/* The error for a FAILED or ERROR answer about process @id. */
static int proc_error(unsigned int id, const struct msb_msg *m)
{
	char what[64];

	if (m->type == MSB_MSG_FAILED && msb_bytes_eq(m->kind, "not_found"))
		return msb__error(MSB_ENOTFOUND, ESRCH,
				  "no process with id %u in the sandbox", id);
	snprintf(what, sizeof(what), "process %u", id);
	return msb__error_reply(m, what);
}

/*
 * Send @req on a new stream of @sb and hand each answer frame to @fn
 * until the stream ends. @fn returns 0, 1 (done) or -MSB_E*.
 */
static int proc_call(msb_sandbox *sb, struct msb_msg *req, const char *what,
		     int (*fn)(const struct msb_msg *m, bool end, void *ud),
		     void *ud)
{
	int limit = msb__agent_timeout_ms();
	uint64_t deadline = now_us() + (uint64_t)limit * 1000u;
	uint32_t id = msb__next_stream(sb);
	int rc = msb__conn_send(&sb->conn, id, MSB_F_START, req);

	while (rc == 0) {
		struct msb_frame f;
		struct msb_msg m;

		rc = msb__conn_recv(&sb->conn, &f, &m, msb__ms_left(deadline));
		if (rc == -MSB_ETIMEDOUT)
			return msb__agent_silent(what, sb->name, limit);
		if (rc < 0)
			return rc;
		if (f.hdr.stream != id) {
			msb__conn_done(&sb->conn, &f);
			continue;
		}
		deadline = now_us() + (uint64_t)limit * 1000u;
		bool end = f.hdr.flags & MSB_F_END;
		rc = fn(&m, end, ud);
		msb__conn_done(&sb->conn, &f);
		if (rc < 0 && !end) {
			/* Drain the rest of this stream. */
			while (!end &&
			       msb__conn_recv(&sb->conn, &f, &m, limit) == 0) {
				end = f.hdr.stream == id &&
				      (f.hdr.flags & MSB_F_END);
				msb__conn_done(&sb->conn, &f);
			}
			return rc;
		}
		if (rc < 0)
			return rc;
		if (end || rc == 1)
			return 0;
	}
	return rc;
}

struct detach_call {
	const char *cmd;
	unsigned int id;
	bool started;
};

static int on_detach(const struct msb_msg *m, bool end, void *ud)
{
	struct detach_call *c = ud;

	(void)end;
	switch (m->type) {
	case MSB_MSG_STARTED:
		if (!(m->has & MSB_HAS(MSB_FLD_ID)) || !m->id ||
		    m->id > UINT32_MAX)
			return msb__error(MSB_EPROTO, 0,
					  "guest agent started `%s` without "
					  "a valid id",
					  c->cmd);
		c->id = (unsigned int)m->id;
		c->started = true;
		return 1;
	case MSB_MSG_FAILED:
		return msb__exec_failed(c->cmd, m);
	case MSB_MSG_ERROR:
		return msb__error_reply(m, NULL);
	default:
		return end ? msb__error(MSB_EPROTO, 0,
					"guest agent ended `%s` with an "
					"unexpected frame",
					c->cmd)
			   : 0;
	}
}

EXPORT int msb_sandbox_exec_detached(unsigned int *id, msb_sandbox *sb,
				     const char *const *argv,
				     const msb_exec_options *opts)
{
	struct detach_call c = {0};
	struct msb_msg req;
	int rc;

	msb__error_clear();
	if ((rc = msb__check_exec_call(id, sb, argv, opts)) < 0)
		return rc;
	*id = 0;
	if ((rc = msb__check_running(sb)) < 0)
		return rc;
	c.cmd = argv[0];
	/* The merged limits: they must outlive the send below. */
	_cleanup_free_ const char **rl = NULL;
	if ((rc = msb__exec_request(&req, &rl, sb, argv, opts)) < 0)
		return rc;
	req.has |= MSB_HAS(MSB_FLD_FLAGS);
	req.flags |= MSB_EXEC_DETACH;
	if (opts && opts->stdin_fd >= 0)
		req.flags |= MSB_EXEC_STDIN;
	if ((rc = proc_call(sb, &req, "the command", on_detach, &c)) < 0)
		return rc;
	if (!c.started)
		return msb__error(MSB_EPROTO, 0,
				  "guest agent did not start `%s`", argv[0]);
	*id = c.id;
	return 0;
}

/* A PROC_INFO answer as an entry (command copied, bounded). */
static int info_from(msb_proc_info *p, const struct msb_msg *m)
{
	size_t n = m->name.n < 4096 ? m->name.n : 4096;

	memset(p, 0, sizeof(*p));
	if (!(m->has & MSB_HAS(MSB_FLD_ID)) || !m->id || m->id > UINT32_MAX)
		return msb__error(MSB_EPROTO, 0,
				  "guest agent listed a process without id");
	p->id = (unsigned int)m->id;
	p->pid = m->pid > 0 && m->pid <= INT32_MAX ? (int)m->pid : 0;
	p->running = !msb_bytes_eq(m->kind, "exited");
	p->detached =
		m->has & MSB_HAS(MSB_FLD_FLAGS) && m->flags & MSB_EXEC_DETACH;
	p->started_ms = (long long)(m->time / 1000000u);
	if (!p->running && m->has & MSB_HAS(MSB_FLD_SIG) && m->sig > 0 &&
	    m->sig < 65) {
		p->exit_code = -1;
		p->signal = (int)m->sig;
	} else if (!p->running) {
		p->exit_code =
			m->code >= 0 && m->code <= 255 ? (int)m->code : -1;
	}
	p->command = malloc(n + 1);
	if (!p->command)
		return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	memcpy(p->command, m->name.p, n);
	p->command[n] = '\0';
	/* A NUL from the guest would cut the text short: make it visible. */
	for (size_t i = 0; i < n; i++)
		if (!p->command[i])
			p->command[i] = '?';
	return 0;
}

struct list_call {
	msb_proc_info *v;
	size_t n, cap;
};

static int on_list(const struct msb_msg *m, bool end, void *ud)
{
	struct list_call *c = ud;

	switch (m->type) {
	case MSB_MSG_PROC_INFO:
		if (c->n == PROCS_MAX)
			return msb__error(MSB_EPROTO, 0,
					  "guest agent lists more than %d "
					  "processes",
					  PROCS_MAX);
		if (c->n == c->cap) {
			size_t cap = c->cap ? c->cap * 2 : 16;
			msb_proc_info *v = realloc(c->v, cap * sizeof(*v));
			if (!v)
				return msb__error(MSB_ENOMEM, ENOMEM,
						  "out of memory");
			c->v = v;
			c->cap = cap;
		}
		if (info_from(&c->v[c->n], m) < 0)
			return -MSB_EPROTO;
		c->n++;
		return end ? 1 : 0;
	case MSB_MSG_FS_DONE:
		return 1;
	case MSB_MSG_ERROR:
		return msb__error_reply(m, "process list");
	default:
		return end ? msb__error(MSB_EPROTO, 0,
					"guest agent ended the process list "
					"with an unexpected frame")
			   : 0;
	}
}

static int cmp_id(const void *a, const void *b)
{
	const msb_proc_info *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

EXPORT int msb_sandbox_procs(msb_proc_info **list, size_t *count,
			     msb_sandbox *sb)
{
	struct list_call c = {0};
	struct msb_msg req = {.type = MSB_MSG_PROC_LIST};
	int rc;

	msb__error_clear();
	if (!list || !count)
		return msb__error(MSB_EINVAL, 0, "list and count are required");
	*list = NULL;
	*count = 0;
	if ((rc = msb__check_running(sb)) < 0)
		return rc;
	if ((rc = proc_call(sb, &req, "the process list", on_list, &c)) < 0) {
		msb_proc_list_free(c.v, c.n);
		return rc;
	}
	if (c.n)
		qsort(c.v, c.n, sizeof(*c.v), cmp_id);
	*list = c.v;
	*count = c.n;
	return 0;
}

EXPORT void msb_proc_list_free(msb_proc_info *list, size_t count)
{
	for (size_t i = 0; list && i < count; i++)
		free(list[i].command);
	free(list);
}

struct signal_call {
	unsigned int id;
};

static int on_signal(const struct msb_msg *m, bool end, void *ud)
{
	struct signal_call *c = ud;

	if (m->type == MSB_MSG_PROC_INFO)
		return 1;
	if (m->type == MSB_MSG_FAILED || m->type == MSB_MSG_ERROR)
		return proc_error(c->id, m);
	return end ? msb__error(MSB_EPROTO, 0,
				"guest agent ended a signal request with an "
				"unexpected frame")
		   : 0;
}

EXPORT int msb_sandbox_proc_signal(msb_sandbox *sb, unsigned int id, int sig)
{
	struct signal_call c = {id};
	struct msb_msg req = {
		.type = MSB_MSG_PROC_SIGNAL,
		.has = MSB_HAS(MSB_FLD_ID) | MSB_HAS(MSB_FLD_SIG),
		.id = id,
		.sig = sig,
	};
	int rc;

	msb__error_clear();
	if (sig <= 0 || sig >= 65)
		return msb__error(MSB_EINVAL, 0, "invalid signal %d", sig);
	if ((rc = msb__check_running(sb)) < 0)
		return rc;
	return proc_call(sb, &req, "the signal request", on_signal, &c);
}

struct remove_call {
	unsigned int id;
};

static int on_remove(const struct msb_msg *m, bool end, void *ud)
{
	struct remove_call *c = ud;

	if (m->type == MSB_MSG_PROC_INFO)
		return 1;
	if (m->type == MSB_MSG_FAILED && msb_bytes_eq(m->kind, "running"))
		return msb__error(MSB_ESTATE, EBUSY,
				  "process %u is running: stop it first, or "
				  "force its removal",
				  c->id);
	if (m->type == MSB_MSG_FAILED || m->type == MSB_MSG_ERROR)
		return proc_error(c->id, m);
	return end ? msb__error(MSB_EPROTO, 0,
				"guest agent ended a remove request with an "
				"unexpected frame")
		   : 0;
}

EXPORT int msb_sandbox_proc_remove(msb_sandbox *sb, unsigned int id, int flags)
{
	struct remove_call c = {id};
	struct msb_msg req = {
		.type = MSB_MSG_PROC_REMOVE,
		.has = MSB_HAS(MSB_FLD_ID) | MSB_HAS(MSB_FLD_FLAGS),
		.id = id,
	};
	int rc;

	msb__error_clear();
	if (!id || flags & ~MSB_PROC_REMOVE_FORCE)
		return msb__error(MSB_EINVAL, 0,
				  "invalid process id %u or flags %#x", id,
				  (unsigned int)flags);
	if (flags & MSB_PROC_REMOVE_FORCE)
		req.flags |= MSB_PREMOVE_FORCE;
	if ((rc = msb__check_running(sb)) < 0)
		return rc;
	return proc_call(sb, &req, "the remove request", on_remove, &c);
}

EXPORT int msb_sandbox_proc_wait(msb_sandbox *sb, unsigned int id,
				 int *exit_code, int *signal)
{
	msb_exec *e = NULL;
	int rc = msb_sandbox_proc_attach(&e, sb, id, MSB_ATTACH_FOLLOW);

	if (rc == 0) {
		msb_exec_event ev;

		/* Output that arrives meanwhile is not wanted: drop it. */
		while ((rc = msb_exec_next(e, &ev, -1)) == 0 &&
		       ev.type != MSB_EXEC_EXITED)
			;
		if (rc == 0) {
			if (exit_code)
				*exit_code = ev.exit_code;
			if (signal)
				*signal = ev.signal;
		}
	}
	msb_exec_free(e);
	return rc;
}
