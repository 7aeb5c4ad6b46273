/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Warm templates (docs/snapshots.md): the saved state of a VM that has
 * booted to "agent waiting for its hello", keyed by everything that shapes
 * that state, under $MSB_HOME/templates/ID/:
 *
 *   key          the key, one "name=value" line each (compared in full:
 *                the ID is only its hash)
 *   state        QEMU's migration stream (saved with stop + migrate)
 *   lock         held (flock) by the one sandbox creating the state
 *   state.tmp.*  a state being written (renamed into place when complete)
 *
 * The state's mtime is when it was saved, its atime when it was last
 * restored (set explicitly: mounts with noatime do not matter). Prune
 * removes the least recently used first.
 *
 * No disk state: a template is taken before the agent's hello, so before
 * anything mounted the root disk; the guest has only read it (the kernel's
 * partition scan). A sandbox restored from it gets a fresh overlay over the
 * same base, whose content is exactly what the guest read.
 *
 * This file does the files; the supervisor (main.c) drives QEMU.
 */
#ifndef MSB_VMM_TEMPLATE_H
#define MSB_VMM_TEMPLATE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TMPL_KEY_MAX 8192
#define TMPL_ID_LEN 32 /* hex digits */
/* The default cap on all templates together (MSB_TEMPLATE_MAX_MB). */
#define TMPL_DEFAULT_MAX_MB 2048

struct tmpl_key {
	char text[TMPL_KEY_MAX];
	size_t len;
	bool overflow;
	char id[TMPL_ID_LEN + 1];
};

/* Append "name=value\n" to @k (control characters in value become '?'). */
__attribute__((format(printf, 3, 4))) void
tmpl_key_add(struct tmpl_key *k, const char *name, const char *fmt, ...);

/*
 * tmpl_key_add_file() - append a file's identity: its path, device, inode,
 * size and modification time (ns), or "missing". A rebuilt kernel,
 * initramfs or QEMU changes the key.
 */
void tmpl_key_add_file(struct tmpl_key *k, const char *name, const char *path);

/* Compute @k->id. Return: 0, or -1 if the key overflowed. */
int tmpl_key_finish(struct tmpl_key *k);

enum tmpl_mode {
	TMPL_NONE,    /* boot cold, save nothing */
	TMPL_RESTORE, /* @fd is a good state for the key */
	TMPL_SAVE,    /* boot cold; @fd is the temp file to save into */
};

struct tmpl {
	enum tmpl_mode mode;
	int fd;      /* RESTORE: the state (read-only); SAVE: the temp file */
	int lock_fd; /* SAVE: the template's lock, held */
	char id[TMPL_ID_LEN + 1];
	char dir[PATH_MAX];
	char tmp[PATH_MAX + 32];
};

#define TMPL_INIT                                                              \
	{                                                                      \
		.fd = -1, .lock_fd = -1                                        \
	}

/*
 * tmpl_open() - find the template for @k under @home/templates: restore it
 * if its key matches and its state starts like a migration stream; else
 * (none yet, or a bad one, which is removed) take its lock and open a temp
 * file to save into; if another creator holds the lock, or @home's
 * filesystem has less than @need_free bytes free (0: no minimum), neither.
 * @why: one line for the log saying what was decided and why
 * Return: 0, or -1 (a file error: @why says it; @t->mode is TMPL_NONE).
 */
int tmpl_open(struct tmpl *t, const char *home, const struct tmpl_key *k,
	      uint64_t need_free, char *why, size_t whylen);

/* Mark the template as used now (its state's atime). */
void tmpl_touch(struct tmpl *t);

/*
 * tmpl_commit() - the temp file holds a complete state: sync it, rename it
 * into place, release the lock. Return: 0, or -1 with @err set.
 */
int tmpl_commit(struct tmpl *t, char *err, size_t errlen);

/* Give up a save (remove the temp file, release the lock) or a restore
 * (close the state). */
void tmpl_close(struct tmpl *t);

/*
 * tmpl_remove() - remove template @id (32 hex digits) under @home.
 * Return: 0, -1 with errno (ENOENT: no such template; EINVAL: not an ID).
 */
int tmpl_remove(const char *home, const char *id);

struct tmpl_info {
	char id[TMPL_ID_LEN + 1];
	uint64_t bytes;  /* of its state; 0 while being created */
	int64_t saved_s; /* when (mtime of the state), 0: being created */
	int64_t used_s;  /* last restored (atime), else saved_s */
	char image[160]; /* from the key: image digest, "" if none */
	char accel[8];   /* "kvm" or "tcg" */
	unsigned memory_mib, cpus;
	bool net;         /* has a network device */
	unsigned volumes; /* volume disks */
};

/*
 * tmpl_list() - the templates under @home, least recently used first.
 * Return: 0 with *@out malloc'd (free()), *@n entries; -1 with errno.
 */
int tmpl_list(struct tmpl_info **out, size_t *n, const char *home);

/* The cap on all templates' states: MSB_TEMPLATE_MAX_MB, or the default.
 * 0 means none may be kept. */
uint64_t tmpl_max_bytes(void);

/*
 * tmpl_prune() - remove least recently used templates until their states
 * add up to at most @max_bytes; never @keep (an ID, or NULL). @removed:
 * how many were, may be NULL. Return: bytes still used.
 */
uint64_t tmpl_prune(const char *home, uint64_t max_bytes, const char *keep,
		    size_t *removed);

#endif
