/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Host disk full: QEMU stops the VM when a write to one of its images
 * fails with ENOSPC (werror=enospc, the default); the supervisor sees it
 * on QMP, marks the sandbox "paused", refuses new requests with a clear
 * error, and resumes the VM (QEMU retries the failed writes) once the
 * image's filesystem has room again. No write the guest saw completed is
 * lost.
 */
#ifndef MSB_VMM_DISKFULL_H
#define MSB_VMM_DISKFULL_H

#include <stdbool.h>
#include <stdint.h>

#include "util/util.h"
#include "vmm/metrics.h"

/* Free space needed on the image's filesystem before the VM is resumed. */
#define DISKFULL_RESUME_BYTES (32ull << 20)
/* How often free space is checked while paused. */
#define DISKFULL_CHECK_US 1000000u

/* Space held in the sandbox folder while all is well, and given back when
 * the disk fills: the state database and the log can then still say so. */
#define DISKFULL_RESERVE_BYTES (1u << 20)

/*
 * diskfull_init() - watch @q's events. @home is MSB_HOME, named in the
 * messages; @images lists "DEVICE=PATH" for QEMU's drive ids and their
 * image files (NULL-terminated, copied), whose filesystems are checked;
 * @reserve is the file that holds DISKFULL_RESERVE_BYTES (copied).
 */
void diskfull_init(struct qmp *q, const char *home, char *const images[],
		   const char *reserve);

/* True while the VM is stopped for want of host disk space. */
bool diskfull_paused(void);

/*
 * diskfull_refuse() - while paused, append to @out an ERROR frame (errno
 * ENOSPC) for client stream @stream, saying how to get out of it.
 * Return: true if it did (the request must not go to the guest).
 */
bool diskfull_refuse(struct msb_buf *out, uint32_t stream);

/* When diskfull_tick() next needs to run (monotonic µs), or 0. */
uint64_t diskfull_deadline(void);

/*
 * diskfull_tick() - act on what QMP reported, and while paused check free
 * space (at most every DISKFULL_CHECK_US) and resume the VM when there is
 * room. Return: a line for the supervisor's log, or NULL.
 */
const char *diskfull_tick(void);

#endif
