/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A suspended sandbox's saved state (docs/snapshots.md, "Suspend"): the
 * folder <sandbox>/suspended/ holds
 *
 *   state     QEMU's migration stream (memory and device state)
 *   key       the template key text of the VM (template.h): what the
 *             QEMU command line and the guest's memory depend on
 *   vmm       the supervisor's own state, "name=value" lines: the root
 *             disk's identity, the relay's next guest stream id, the
 *             main process (workload.h)
 *   agent_in  bytes of a frame from the guest not complete at the save
 *   agent_out frames for the guest not yet sent at the save
 *
 * It is written as suspended.tmp/ and renamed into place once every file
 * is synced, so a folder named `suspended` is always complete; a save that
 * dies half-way leaves only a .tmp folder, removed by the next one. The
 * folder is removed as soon as a restore has loaded it, before the guest
 * runs again: from then on the root disk changes, and the state would no
 * longer match it.
 */
#ifndef MSB_VMM_SUSPEND_H
#define MSB_VMM_SUSPEND_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#define SUSP_DIR "suspended"
/* A snapshot of a running sandbox, saved by its supervisor (the same files
 * and the root disk's copy, SNAP_DISK), which the library then moves to
 * $MSB_HOME/snapshots/ (docs/snapshots.md, "Snapshots"). */
#define SNAP_DIR "snapshot"
#define SNAP_DISK "disk.qcow2"
/* The most bytes agent_in or agent_out may hold (a frame and a bit). */
#define SUSP_PENDING_MAX (8u << 20)

struct susp_save {
	char tmp[PATH_MAX];
	char dir[PATH_MAX];
	char parent[PATH_MAX];
	int state_fd; /* the state file, to give QEMU */
};

/*
 * susp_save_begin() - start a save into @sandbox_dir/@folder (SUSP_DIR, or
 * SNAP_DIR for a snapshot): remove what an earlier save left, make the
 * temp folder (@folder.tmp), create its state file (@s->state_fd).
 * Return: 0, or -1 with @err set.
 */
int susp_save_begin(struct susp_save *s, const char *sandbox_dir,
		    const char *folder, char *err, size_t errlen);

/* Write and sync file @name of the save. Return: 0, or -1 with @err set. */
int susp_save_file(struct susp_save *s, const char *name, const void *buf,
		   size_t len, char *err, size_t errlen);

/*
 * susp_save_commit() - sync the state and the folder, rename it into
 * place, sync the sandbox folder. Return: 0, or -1 with @err set (the
 * save is then abandoned).
 */
int susp_save_commit(struct susp_save *s, char *err, size_t errlen);

/* Give up a save: remove the temp folder. */
void susp_save_abort(struct susp_save *s);

/* Whether @sandbox_dir holds a saved state. */
bool susp_exists(const char *sandbox_dir);

/*
 * susp_open() - open the saved state of @sandbox_dir for a restore: it
 * must start like a migration stream and its key must be @key.
 * Return: the state's descriptor, or -1 with @why set (no state, a bad
 * one, another key).
 */
int susp_open(const char *sandbox_dir, const char *key, size_t keylen,
	      char *why, size_t whylen);

/*
 * susp_read() - read file @name of the saved state (at most @cap bytes;
 * a missing file reads as empty). Return: its length, or -1 with errno.
 */
long susp_read(const char *sandbox_dir, const char *name, void *buf,
	       size_t cap);

/* The value of @name in the "name=value" lines of @text, or NULL (copied
 * into @out, @outlen bytes). */
const char *susp_value(const char *text, const char *name, char *out,
		       size_t outlen);

/* Remove the saved state (synced). Return: 0, or -1 with errno. */
int susp_remove(const char *sandbox_dir);

#endif
