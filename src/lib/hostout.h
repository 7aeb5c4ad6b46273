/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one writer of host files from guest-controlled data (copy out of a
 * sandbox, copy out of a volume). See hostout.c for the theory of
 * operation.
 */
#ifndef MSB_LIB_HOSTOUT_H
#define MSB_LIB_HOSTOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "microsandbox.h"

/* One copy: its limits, counters, and what to call it in messages. */
struct msb_out {
	bool archive;
	bool root; /* the caller is root: owners can be kept (archive) */
	mode_t umask;
	uint64_t max_bytes, max_files;
	uint64_t bytes, files;
	const char *what; /* "sandbox `box`", "volume `v`" */
};

/* A file being written: a temporary name in @dir, renamed at commit. */
struct msb_out_file {
	int fd;
	int dir;          /* not owned */
	const char *name; /* not owned */
	char tmp[64];
	uint64_t size; /* bytes written so far, holes included */
};

/*
 * msb__out_init() - @o for one copy with @opts (NULL: defaults), named
 * @what in messages (kept, not copied).
 * Return: 0, or MSB_EINVAL for a bad version.
 */
int msb__out_init(struct msb_out *o, const msb_copy_options *opts,
		  const char *what);

/*
 * msb__name_ok() - whether the @len bytes at @name are one plain name: 1
 * to 255 bytes, neither "." nor "..", no '/' and no NUL. Pure.
 */
bool msb__name_ok(const char *name, size_t len);

/*
 * msb__names_dup() - the index of a name that repeats in @names (@n of
 * them, NUL-terminated), or -1 if all differ. Sorts a copy: O(n log n).
 * Return: the index, -1, or -2 when out of memory.
 */
long msb__names_dup(const char *const *names, size_t n);

/*
 * msb__out_check_listing() - the checks on a listing of directory @dir
 * (for messages) that a guest sent: every name plain, none repeated.
 * Return: 0, or -MSB_EPROTO naming the first bad entry (escaped).
 */
int msb__out_check_listing(const struct msb_out *o, const char *dir,
			   const char *const *names, size_t n);

/* One more entry, within --max-files; 0 or -MSB_ENOSPC. */
int msb__out_count_entry(struct msb_out *o);
/* @len more bytes of file data (@shown: the file), within --max-size; 0 or
 * -MSB_ENOSPC. */
int msb__out_count_bytes(struct msb_out *o, uint64_t len, const char *shown);

/*
 * msb__out_open_top() - the directory that will hold the top entry of
 * @host_path and that entry's name: the caller's part of the path is
 * resolved as usual, the last component is not.
 * @dirfd: (out) an O_PATH descriptor of the parent directory
 * @name: (out) malloc'd last component
 * Return: 0 or a negative error.
 */
int msb__out_open_top(int *dirfd, char **name, const char *host_path);

/*
 * msb__out_dir() - directory @name in @dir: made (0700 until
 * msb__out_dir_done()), or the one already there. A symlink there is
 * replaced; anything else there is an error.
 * @fd: (out) an open descriptor of it
 */
int msb__out_dir(struct msb_out *o, int *fd, int dir, const char *name,
		 const char *shown);
/* Give directory @fd its final @mode (and owners, in archive mode). */
int msb__out_dir_done(struct msb_out *o, int fd, unsigned int mode, int64_t uid,
		      int64_t gid, const char *shown);

/* Start file @name in @dir (@shown in messages). */
int msb__out_file_begin(struct msb_out *o, struct msb_out_file *f, int dir,
			const char *name, const char *shown);
/* Its next @len bytes; blocks of zeros become holes. */
int msb__out_file_write(struct msb_out *o, struct msb_out_file *f,
			const void *data, size_t len, const char *shown);
/* Its next @len bytes are a hole (zeros, not written). */
int msb__out_file_hole(struct msb_out *o, struct msb_out_file *f, uint64_t len,
		       const char *shown);
/* Give it @mode (and owners) and rename it into place. */
int msb__out_file_commit(struct msb_out *o, struct msb_out_file *f,
			 unsigned int mode, int64_t uid, int64_t gid,
			 const char *shown);
/* Drop a file that was begun and not committed (no error of its own). */
void msb__out_file_abort(struct msb_out_file *f);

/* Symlink @name → @target in @dir, replacing what is there but a
 * directory. */
int msb__out_symlink(struct msb_out *o, int dir, const char *name,
		     const char *target, const char *shown);

#endif
