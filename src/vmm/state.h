/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The supervisor's writes to the state database: it is the only writer of
 * a sandbox's runtime state (status, pid, runs). Failures are logged, not
 * fatal: the VM matters more than its bookkeeping.
 */
#ifndef MSB_VMM_STATE_H
#define MSB_VMM_STATE_H

#include <stdbool.h>

/* Open $home/db/msb.db (made and migrated by the library). */
void state_open(const char *home, const char *name);
/* Record a status; @pid > 0 sets the supervisor pid, 0 clears it. */
void state_status(const char *status, int pid);
/* Why the sandbox is in its status ("paused": host disk full), or NULL. */
void state_reason(const char *reason);
/* A run begins (at boot) / ends with a reason. */
void state_run_begin(int pid);
void state_run_end(const char *reason);
/* How the run's main process ended (exit status, or 128+signal). */
void state_exit_code(int code);
/* Forget the sandbox (ephemeral, or a create that failed). */
void state_delete(void);
void state_close(void);

#endif
