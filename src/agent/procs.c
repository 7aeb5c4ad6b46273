// SPDX-License-Identifier: Apache-2.0
/*
 * msb-agent: the table of processes started through the agent.
 *
 * DOC: Theory of operation
 *
 * Every exec gets an entry with an id (from 1, never reused while the
 * agent runs), its command, start time and, once reaped, its status. A
 * streamed exec reports on its own stream; a detached one (MSB_EXEC_DETACH)
 * has no stream: its output goes into a ring of AGENT_RING_SIZE bytes
 * (oldest whole records dropped), so it never waits for the host. A
 * proc_attach stream replays the ring (MSB_PATTACH_REPLAY), follows new
 * output until the process exits (MSB_PATTACH_FOLLOW, then EXITED), and
 * may feed its stdin; it is paced by the stream's credit, and a follower
 * that falls a whole ring behind skips what was dropped. Finished entries
 * stay in the table (proc_list, logs) until AGENT_KEEP_DONE newer ones
 * push them out, or proc_remove takes them out (a running one only with
 * FORCE: killed, then dropped once reaped and its streams have ended); at
 * most AGENT_MAX_RINGS entries hold a ring. A proc_attach stream starts
 * with the entry's PROC_INFO, whose flags tell the host whether the
 * process has a terminal.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "agent.h"

void proc_table_init(struct proc *p, char *const *argv, uint32_t xflags,
		     uint32_t id)
{
	struct timespec ts;
	size_t n = 0;

	p->id = id;
	p->xflags = xflags;
	p->detached = xflags & MSB_EXEC_DETACH;
	if (clock_gettime(CLOCK_REALTIME, &ts) == 0)
		p->started_ns = (uint64_t)ts.tv_sec * 1000000000u +
				(uint64_t)ts.tv_nsec;
	for (size_t i = 0; argv[i] && n + 1 < sizeof(p->cmd); i++) {
		size_t l = strlen(argv[i]);

		if (i)
			p->cmd[n++] = ' ';
		if (l > sizeof(p->cmd) - 1 - n)
			l = sizeof(p->cmd) - 1 - n;
		memcpy(p->cmd + n, argv[i], l);
		n += l;
	}
	p->cmd[n] = '\0';
}

void proc_free(struct proc *p)
{
	if (!p)
		return;
	close_fd(&p->in_fd);
	close_fd(&p->out_fd);
	close_fd(&p->err_fd);
	msb_buf_free(&p->in_q);
	ring_free(&p->ring);
	free(p);
}

/* Drop the entry at @i (order does not matter). */
static void table_drop(struct agent *a, size_t i)
{
	proc_free(a->procs[i]);
	a->procs[i] = a->procs[--a->nprocs];
}

/* The oldest finished entry (with a ring if @ringed), or -1. */
static ssize_t oldest_done(const struct agent *a, bool ringed)
{
	ssize_t best = -1;

	for (size_t i = 0; i < a->nprocs; i++) {
		const struct proc *p = a->procs[i];

		if (!p->done || p->attach || (ringed && !p->detached))
			continue;
		if (best < 0 || p->id < a->procs[best]->id)
			best = (ssize_t)i;
	}
	return best;
}

/* procs_trim() - keep at most AGENT_KEEP_DONE finished entries. */
void procs_trim(struct agent *a)
{
	size_t ndone = 0;

	for (size_t i = 0; i < a->nprocs; i++)
		ndone += a->procs[i]->done;
	while (ndone > AGENT_KEEP_DONE) {
		ssize_t i = oldest_done(a, false);

		if (i < 0)
			return;
		table_drop(a, (size_t)i);
		ndone--;
	}
}

/*
 * procs_make_room() - room for one more entry (@detached: with a ring),
 * dropping old finished ones. Return: 0, or -1 with *@why.
 */
int procs_make_room(struct agent *a, bool detached, const char **why)
{
	size_t running = 0, rings = 0;

	for (size_t i = 0; i < a->nprocs; i++) {
		running += !a->procs[i]->done;
		rings += a->procs[i]->detached;
	}
	if (running >= AGENT_MAX_PROCS) {
		*why = "too many processes running";
		return -1;
	}
	while (detached && rings >= AGENT_MAX_RINGS) {
		ssize_t i = oldest_done(a, true);

		if (i < 0) {
			*why = "too many detached processes running";
			return -1;
		}
		table_drop(a, (size_t)i);
		rings--;
	}
	procs_trim(a);
	if (a->nprocs >= ARRAY_SIZE(a->procs)) {
		ssize_t i = oldest_done(a, false);

		if (i < 0) {
			*why = "the process table is full";
			return -1;
		}
		table_drop(a, (size_t)i);
	}
	return 0;
}

/* The stream that talks for @p now: its own, or its attach stream. */
uint32_t proc_peer(const struct proc *p)
{
	return p->stream ? p->stream : p->attach;
}

static void send_info(struct agent *a, uint32_t stream, uint8_t flags,
		      const struct proc *p)
{
	struct msb_msg m = {
		.type = MSB_MSG_PROC_INFO,
		.has = MSB_HAS(MSB_FLD_ID) | MSB_HAS(MSB_FLD_PID) |
		       MSB_HAS(MSB_FLD_NAME) | MSB_HAS(MSB_FLD_KIND) |
		       MSB_HAS(MSB_FLD_TIME) | MSB_HAS(MSB_FLD_FLAGS),
		.id = p->id,
		.pid = p->pid,
		.name = msb_str(p->cmd),
		.kind = msb_str(p->reaped ? "exited" : "running"),
		.time = p->started_ns,
		.flags = p->xflags,
	};

	if (p->reaped && WIFSIGNALED(p->status)) {
		m.has |= MSB_HAS(MSB_FLD_SIG);
		m.sig = WTERMSIG(p->status);
	} else if (p->reaped) {
		m.has |= MSB_HAS(MSB_FLD_CODE);
		m.code = WEXITSTATUS(p->status);
	}
	agent_send(a, stream, flags, &m);
}

static void send_exited(struct agent *a, uint32_t stream, const struct proc *p)
{
	struct msb_msg m = {.type = MSB_MSG_EXITED};

	if (WIFSIGNALED(p->status)) {
		m.has = MSB_HAS(MSB_FLD_SIG);
		m.sig = WTERMSIG(p->status);
	} else {
		m.has = MSB_HAS(MSB_FLD_CODE);
		m.code = WEXITSTATUS(p->status);
	}
	agent_send(a, stream, MSB_F_END, &m);
}

static void send_not_found(struct agent *a, uint32_t stream, uint64_t id)
{
	struct msb_msg m = {
		.type = MSB_MSG_FAILED,
		.has = MSB_HAS(MSB_FLD_KIND) | MSB_HAS(MSB_FLD_ERRNO) |
		       MSB_HAS(MSB_FLD_MSG),
		.kind = msb_str("not_found"),
		.err = ESRCH,
	};
	char msg[80];

	snprintf(msg, sizeof(msg), "no process with id %llu",
		 (unsigned long long)id);
	m.msg = msb_str(msg);
	agent_send(a, stream, MSB_F_END, &m);
}

/* The entry @id of the table (removed ones are not in it any more). */
static struct proc *find_id(struct agent *a, uint64_t id)
{
	for (size_t i = 0; i < a->nprocs; i++) {
		if (a->procs[i]->id == id && !a->procs[i]->removed)
			return a->procs[i];
	}
	return NULL;
}

/* proc_list() - a proc_list request: one PROC_INFO per entry, FS_DONE. */
void proc_list(struct agent *a, uint32_t stream)
{
	struct msb_msg done = {.type = MSB_MSG_FS_DONE};

	for (size_t i = 0; i < a->nprocs; i++)
		if (!a->procs[i]->removed)
			send_info(a, stream, 0, a->procs[i]);
	agent_send(a, stream, MSB_F_END, &done);
}

/* proc_signal() - signal the process group of an entry. */
void proc_signal(struct agent *a, uint32_t stream, const struct msb_msg *m)
{
	struct proc *p = find_id(a, m->id);

	if (!p) {
		send_not_found(a, stream, m->id);
		return;
	}
	if (m->sig <= 0 || m->sig >= NSIG) {
		agent_error(a, stream, true, EINVAL,
			    "proc_signal: `sig` is out of range");
		return;
	}
	/* Reaped: its group may be gone and its id reused; leave it. */
	if (!p->reaped && kill(-p->pid, (int)m->sig) < 0 && errno != ESRCH) {
		agent_error(a, stream, true, errno,
			    "kill process group %d with signal %d: %m", p->pid,
			    (int)m->sig);
		return;
	}
	send_info(a, stream, MSB_F_END, p);
}

/*
 * proc_remove() - take an entry out of the table. A running one is
 * refused unless MSB_PREMOVE_FORCE, which kills its process group first;
 * it is then dropped once reaped and its streams have ended (procs_sweep()).
 */
void proc_remove(struct agent *a, uint32_t stream, const struct msb_msg *m)
{
	struct proc *p = find_id(a, m->id);
	uint64_t fl = m->has & MSB_HAS(MSB_FLD_FLAGS) ? m->flags : 0;

	if (!p) {
		send_not_found(a, stream, m->id);
		return;
	}
	if (!p->reaped && !(fl & MSB_PREMOVE_FORCE)) {
		struct msb_msg f = {
			.type = MSB_MSG_FAILED,
			.has = MSB_HAS(MSB_FLD_KIND) | MSB_HAS(MSB_FLD_ERRNO) |
			       MSB_HAS(MSB_FLD_MSG),
			.kind = msb_str("running"),
			.err = EBUSY,
		};
		char msg[80];

		snprintf(msg, sizeof(msg), "process %u is running", p->id);
		f.msg = msb_str(msg);
		agent_send(a, stream, MSB_F_END, &f);
		return;
	}
	if (!p->reaped && kill(-p->pid, SIGKILL) < 0 && errno != ESRCH) {
		agent_error(a, stream, true, errno, "kill process group %d: %m",
			    p->pid);
		return;
	}
	send_info(a, stream, MSB_F_END, p);
	p->removed = true;
	procs_sweep(a);
}

/* procs_sweep() - drop the removed entries that nothing needs any more. */
void procs_sweep(struct agent *a)
{
	size_t i = 0;

	while (i < a->nprocs) {
		const struct proc *p = a->procs[i];

		if (p->removed && p->done && !p->attach && !p->stream)
			table_drop(a, i);
		else
			i++;
	}
}

/* proc_attach() - bind a detached entry to @stream (see the DOC above). */
void proc_attach(struct agent *a, uint32_t stream, const struct msb_msg *m)
{
	struct proc *p = find_id(a, m->id);
	uint64_t fl = m->has & MSB_HAS(MSB_FLD_FLAGS) ? m->flags : 0;

	if (!p) {
		send_not_found(a, stream, m->id);
		return;
	}
	if (!p->detached || p->attach) {
		agent_error(a, stream, true, p->attach ? EBUSY : EINVAL,
			    "proc_attach: process %u %s", p->id,
			    p->attach ? "is attached already"
				      : "was not started detached");
		return;
	}
	p->attach = stream;
	p->attach_flags = (uint32_t)fl;
	p->out_credit = MSB_WINDOW;
	p->in_owed = 0;
	p->cur = fl & MSB_PATTACH_REPLAY ? p->ring.base : p->ring.end;
	p->stop_at = p->ring.end;
	/* First what it is (its flags say whether it has a terminal). */
	send_info(a, stream, 0, p);
	procs_pump(a);
}

/* proc_detach() - end @p's attach stream (SIGNAL 0, the client left). */
void proc_detach(struct agent *a, struct proc *p)
{
	if (!p->attach)
		return;
	send_info(a, p->attach, MSB_F_END, p);
	p->attach = 0;
}

/* Send what the ring has for @p's attach stream, as credit allows. */
static void pump_one(struct agent *a, struct proc *p)
{
	static uint8_t rec[AGENT_RING_REC];
	bool follow = p->attach_flags & MSB_PATTACH_FOLLOW;
	uint64_t lim = follow ? p->ring.end : p->stop_at;

	while (p->cur < lim && msb_buf_avail(&a->out) <= AGENT_OUT_HIGH) {
		size_t max = p->out_credit < sizeof(rec) ? (size_t)p->out_credit
							 : sizeof(rec);
		bool is_err;
		size_t n = ring_get(&p->ring, &p->cur, max, &is_err, rec);
		struct msb_msg m = {.has = MSB_HAS(MSB_FLD_DATA)};

		if (!n)
			return; /* short of credit */
		m.type = is_err ? MSB_MSG_STDERR : MSB_MSG_STDOUT;
		m.data.p = rec;
		m.data.n = n;
		p->out_credit -= n;
		agent_send(a, p->attach, 0, &m);
	}
	if (p->cur < lim)
		return;
	if (!follow) {
		proc_detach(a, p);
	} else if (p->done) {
		send_exited(a, p->attach, p);
		p->attach = 0;
	}
}

/* procs_pump() - feed every attach stream. */
void procs_pump(struct agent *a)
{
	for (size_t i = 0; i < a->nprocs; i++) {
		struct proc *p = a->procs[i];

		if (p->attach)
			pump_one(a, p);
	}
}
