// SPDX-License-Identifier: Apache-2.0
/* The sandbox's main process, owned by the supervisor (see workload.h). */
#include "vmm/workload.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define MAIN_LOG_MAX (8u << 20)
#define BACKOFF_MIN_US 100000u
#define BACKOFF_MAX_US 10000000u

void workload_init(struct workload *w, const struct msb_vm_spec *spec,
		   const char *log_dir)
{
	char path[4200];

	*w = (struct workload){
		.spec = spec,
		.enabled = spec->main_argv && spec->main_argv[0],
		.policy = !spec->restart                     ? WORKLOAD_NO
			  : !strcmp(spec->restart, "always") ? WORKLOAD_ALWAYS
			  : !strcmp(spec->restart, "on-failure")
				  ? WORKLOAD_ON_FAILURE
				  : WORKLOAD_NO,
		.backoff_us = BACKOFF_MIN_US,
		.code = -1,
		.log = {.fd = -1},
	};
	if (!w->enabled)
		return;
	snprintf(path, sizeof(path), "%s/main.log", log_dir);
	logfile_open(&w->log, path, MAIN_LOG_MAX);
	/* Due at ready: the caller asks workload_due() once it runs. */
	w->restart_at_us = 1;
}

bool workload_has_stdin(const struct workload *w)
{
	return w->spec->main_stdin || w->spec->main_tty;
}

/* Whether @env sets @name (e.g. "TERM="). */
static bool env_has(char *const *env, const char *name)
{
	for (; env && *env; env++)
		if (!strncmp(*env, name, strlen(name)))
			return true;
	return false;
}

bool workload_start(struct workload *w, struct msb_msg *m, uint64_t now)
{
	static const char *const term[] = {"TERM=xterm", NULL};
	const struct msb_vm_spec *s = w->spec;

	if (!w->enabled || w->running)
		return false;
	*m = (struct msb_msg){
		.type = MSB_MSG_EXEC,
		.has = MSB_HAS(MSB_FLD_ARGV),
		.argv = {.v = (const char *const *)s->main_argv},
	};
	if (s->main_cwd && *s->main_cwd) {
		m->has |= MSB_HAS(MSB_FLD_CWD);
		m->cwd = msb_str(s->main_cwd);
	}
	if (s->main_user && *s->main_user) {
		m->has |= MSB_HAS(MSB_FLD_USER);
		m->user = msb_str(s->main_user);
	}
	if (s->main_rlimits && s->main_rlimits[0]) {
		m->has |= MSB_HAS(MSB_FLD_RLIMITS);
		m->rlimits.v = (const char *const *)s->main_rlimits;
	}
	if (workload_has_stdin(w)) {
		m->has |= MSB_HAS(MSB_FLD_FLAGS);
		m->flags = MSB_EXEC_STDIN;
	}
	if (s->main_tty) {
		/* 24x80 until an attach sizes it; TERM as exec -t has it */
		m->flags |= MSB_EXEC_TTY;
		m->has |= MSB_HAS(MSB_FLD_ROWS) | MSB_HAS(MSB_FLD_COLS);
		m->rows = 24;
		m->cols = 80;
		if (!env_has(s->env, "TERM=")) {
			m->has |= MSB_HAS(MSB_FLD_ENV);
			m->env.v = term;
		}
	}
	w->stdin_open = workload_has_stdin(w);
	w->in_credit = MSB_WINDOW;
	w->pid = 0;
	w->running = true;
	w->restart_at_us = 0;
	w->started_us = now;
	w->owed = 0;
	return true;
}

uint64_t workload_due(const struct workload *w, bool stopping)
{
	return w->enabled && !w->running && !stopping ? w->restart_at_us : 0;
}

/* The run ended with @code: restart later, or stop. */
static enum workload_do ended(struct workload *w, int code, uint64_t now,
			      bool stopping)
{
	w->running = false;
	w->stdin_open = false;
	w->code = code;
	bool again =
		!stopping && (w->policy == WORKLOAD_ALWAYS ||
			      (w->policy == WORKLOAD_ON_FAILURE && code != 0 &&
			       (!w->spec->restart_max ||
				w->restarts < w->spec->restart_max)));
	if (!again)
		return WORKLOAD_STOP;
	/* A run that lasted a while starts the back-off afresh. */
	if (now - w->started_us >= BACKOFF_MAX_US)
		w->backoff_us = BACKOFF_MIN_US;
	w->restarts++;
	w->restart_at_us = now + w->backoff_us;
	w->backoff_us = w->backoff_us * 2 > BACKOFF_MAX_US ? BACKOFF_MAX_US
							   : w->backoff_us * 2;
	return WORKLOAD_NOTHING;
}

enum workload_do workload_frame(struct workload *w, const struct msb_frame *f,
				struct msb_msg *reply, uint64_t now,
				bool stopping)
{
	struct msb_msg m;

	if (!w->running)
		return WORKLOAD_NOTHING;
	if (msb_msg_decode(&m, f->payload, f->payload_len) < 0) {
		/* A guest that garbles our stream: count it as a crash. */
		if (f->hdr.flags & MSB_F_END)
			return ended(w, 125, now, stopping);
		return WORKLOAD_NOTHING;
	}
	switch (m.type) {
	case MSB_MSG_STARTED:
		if (m.has & MSB_HAS(MSB_FLD_PID) && m.pid > 0 &&
		    m.pid <= INT32_MAX)
			w->pid = m.pid;
		return WORKLOAD_NOTHING;
	case MSB_MSG_CREDIT:
		msb_credit_add(&w->in_credit, &m);
		return WORKLOAD_NOTHING;
	case MSB_MSG_STDOUT:
	case MSB_MSG_STDERR:
		if (m.data.n)
			logfile_write(&w->log, (const char *)m.data.p,
				      m.data.n);
		if (msb_credit_due(&w->owed, m.data.n, reply))
			return WORKLOAD_SEND;
		return WORKLOAD_NOTHING;
	case MSB_MSG_EXITED:
		return ended(w,
			     m.has & MSB_HAS(MSB_FLD_SIG) && m.sig
				     ? 128 + (int)(m.sig & 0x7f)
				     : (int)(m.code & 0xff),
			     now, stopping);
	case MSB_MSG_FAILED:
		return ended(w, msb_bytes_eq(m.kind, "not_found") ? 127 : 126,
			     now, stopping);
	default:
		if (f->hdr.flags & MSB_F_END)
			return ended(w, 125, now, stopping);
		return WORKLOAD_NOTHING;
	}
}

void workload_close(struct workload *w)
{
	logfile_close(&w->log);
}
