/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Mounts the hello asks for, in the "mounts" field, one text each:
 *
 *   tmpfs:SIZE:MODE:PATH   a tmpfs of at most SIZE bytes (0: the kernel's
 *                          default, half of RAM) with root mode MODE
 *                          (octal), at the absolute PATH (created)
 *   vol:ID:ro|rw:PATH      the ext4 volume on SCSI target ID (0-255) of
 *                          the virtio-scsi controller, at PATH
 *   bind:TAG:ro|rw:PATH    the virtio-fs share TAG (a host directory)
 *
 * PATH comes last so that it may contain ':'. Applied by the agent after
 * the switch to the root filesystem, before READY.
 */
#ifndef MSB_AGENT_MOUNT_H
#define MSB_AGENT_MOUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum agent_mount_kind {
	AGENT_MOUNT_TMPFS = 1,
	AGENT_MOUNT_VOLUME,
	AGENT_MOUNT_BIND,
};

struct agent_mount {
	enum agent_mount_kind kind;
	uint64_t size;       /* tmpfs */
	unsigned int mode;   /* tmpfs */
	unsigned int target; /* volume: SCSI target id */
	bool readonly;       /* volume, bind */
	char tag[36];        /* bind: virtio-fs tag */
	char path[4096];
};

/* The module list to load before volumes can be found. */
#define AGENT_VOLUME_MODULES "/modules.volumes"
#define AGENT_VIRTIOFS_MODULES "/modules.virtiofs"

/*
 * agent_mount_parse() - parse one spec of @len bytes. Pure and bounded.
 * Return: 0, or -1 with a reason in @why.
 */
int agent_mount_parse(struct agent_mount *m, const char *spec, size_t len,
		      char *why, size_t whylen);

/*
 * agent_grow_root() - grow the ext4 root filesystem (mounted at /) to
 * the size of its block device @dev ("/dev/vda") when the disk is larger
 * (a sandbox created with a root size). Return: 0, or -1 with @err.
 */
int agent_grow_root(const char *dev, char *err, size_t errlen);

/* Create the mount point (and parents) and mount. Return: 0, or -1 with
 * a message in @err. */
int agent_mount_apply(const struct agent_mount *m, char *err, size_t errlen);

#endif
