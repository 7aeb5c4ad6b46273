/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sandbox's main process (msb run -d IMAGE CMD): started by the
 * supervisor when the guest is ready, on a guest stream of its own
 * (RELAY_MAIN_STREAM), its output kept in logs/main.log, and the restart
 * policy applied when it exits.
 *
 * DOC: Theory of operation
 *
 * The supervisor is the owner because it outlives every client: the main
 * process runs whether or not anybody is connected. Its stdout and stderr
 * are appended to logs/main.log as they arrive, bytes unchanged (the
 * workload's own output, as `docker logs` shows it) but capped like every
 * other log (logfile.h: the file is rotated to main.log.1 past its cap).
 * Credit is granted as soon as output is written, so a chatty process
 * never stalls on us.
 *
 * With -i or -t (spec main_stdin, main_tty) its stdin stays open: the
 * supervisor holds the guest side's window (@in_credit) and one attach
 * (main.c, MSB_MSG_MAIN_ATTACH) at a time feeds it; see docs/cli.md.
 *
 * When it exits (EXITED, or FAILED: it could not start) the policy
 * decides. "no" and an exhausted "on-failure" stop the sandbox and record
 * the status (code, or 128+signal; 127/126 when it could not start) in
 * the run's row. Otherwise the process (not the VM) is started again
 * after a back-off: 100 ms, doubling to at most 10 s, back to 100 ms once
 * a run lasted 10 s. Nothing restarts once the sandbox is stopping.
 */
#ifndef MSB_VMM_WORKLOAD_H
#define MSB_VMM_WORKLOAD_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/proto.h"
#include "vmm/logfile.h"
#include "vmm/spec.h"

enum workload_policy { WORKLOAD_NO, WORKLOAD_ON_FAILURE, WORKLOAD_ALWAYS };

struct workload {
	const struct msb_vm_spec *spec;
	bool enabled; /* the spec has a main process */
	bool running; /* an EXEC is out and has not ended */
	enum workload_policy policy;
	unsigned int restarts;
	uint64_t restart_at_us; /* start again then; 0: not scheduled */
	uint64_t backoff_us;
	uint64_t started_us;
	uint64_t owed;   /* output consumed since the last CREDIT */
	int64_t pid;     /* the guest pid of this run (STARTED); 0: not yet */
	bool stdin_open; /* this run's stdin takes input (-i/-t, not closed) */
	uint64_t in_credit; /* stdin bytes the guest accepts now */
	int code;           /* of the last run; -1 none */
	struct logfile log;
};

/* What the supervisor must do after a frame or a tick. */
enum workload_do { WORKLOAD_NOTHING, WORKLOAD_SEND, WORKLOAD_STOP };

/* From the spec; opens @log_dir/main.log. */
void workload_init(struct workload *w, const struct msb_vm_spec *spec,
		   const char *log_dir);
/*
 * workload_start() - fill @m with the EXEC to send on RELAY_MAIN_STREAM
 * (flag MSB_F_START). Return: false if there is nothing to start.
 */
bool workload_start(struct workload *w, struct msb_msg *m, uint64_t now);
/* Whether its stdin can take input at all (-i or -t). */
bool workload_has_stdin(const struct workload *w);
/* When workload_start() is due (0: never); @stopping: never again. */
uint64_t workload_due(const struct workload *w, bool stopping);
/*
 * workload_frame() - a frame of the main stream from the guest. @reply is
 * filled when WORKLOAD_SEND is returned (a CREDIT, no flags);
 * WORKLOAD_STOP: it ended for good, w->code says how.
 */
enum workload_do workload_frame(struct workload *w, const struct msb_frame *f,
				struct msb_msg *reply, uint64_t now,
				bool stopping);
void workload_close(struct workload *w);

#endif
