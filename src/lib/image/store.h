/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Content store under $MSB_HOME: blobs by digest.
 *
 *   images/blobs/sha256/<hex>          verified blobs, read-only
 *   images/blobs/tmp/<hex>.partial     downloads in progress
 *   images/blobs/tmp/<hex>.lock        one downloader per blob (flock)
 *
 * Every byte is verified while it streams: the blob's sha256 and size, and
 * for layers the sha256 of the uncompressed stream (the config's diff_id;
 * gzip, zstd and plain detected by magic). A file is renamed into place
 * only when verified; a mismatch removes it and fails with -MSB_EPROTO
 * ("blob `sha256:…`: content does not match its digest"). An interrupted
 * download leaves its .partial file, resumed with a Range request next
 * time (after re-hashing the bytes already there). Two processes fetching
 * the same blob: the second waits on the lock, then finds the blob there,
 * so each blob is downloaded once.
 */
#ifndef MSB_IMAGE_STORE_H
#define MSB_IMAGE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/image/oci.h"
#include "lib/image/registry.h"

struct msb_store {
	char *dir; /* $MSB_HOME/images */
};

/* Progress of one blob: @done of @total bytes (total from the descriptor). */
typedef void (*msb_blob_progress_fn)(const char *digest, uint64_t done,
				     uint64_t total, void *userdata);

/* Create the folders if needed. */
int msb_store_open(struct msb_store *s, const char *home);
void msb_store_close(struct msb_store *s);

/* Path of a blob (whether present or not); malloc'd. */
char *msb_store_blob_path(const struct msb_store *s, const char *digest);
bool msb_store_has_blob(const struct msb_store *s, const char *digest);

/*
 * msb_store_fetch() - make sure the blob of @d is in the store, downloading
 * it through @r if needed. @diff_id: for layers, the expected sha256 of the
 * uncompressed stream, or NULL. Thread-safe; blocking.
 */
int msb_store_fetch(struct msb_store *s, struct msb_registry *r,
		    const struct msb_descriptor *d, const char *diff_id,
		    msb_blob_progress_fn progress, void *userdata);

/* Store a small document (manifest, config) after checking its digest. */
int msb_store_put(struct msb_store *s, const char *digest, const void *data,
		  size_t len);

/*
 * msb_store_lock() - take the lock file @path (flock, exclusive), making
 * sure it is still the file at @path once locked (a holder may unlink it
 * when done: then the new one is locked). @wait false: do not block.
 * *@out: the locked descriptor; closing it unlocks.
 * Return: 0, 1 if busy (only without @wait), or an error.
 */
int msb_store_lock(const char *path, bool wait, int *out);

/*
 * Temporary files that nothing outlives: O_TMPFILE in the folder where
 * the result goes, so whatever ends the process (Ctrl-C, SIGKILL, a
 * crash) leaves nothing on disk, then linked into place. Where the
 * filesystem lacks O_TMPFILE (or /proc is missing) a named fallback is
 * used; the code that makes one removes stale ones under its lock, and
 * msb_image_prune() removes them too.
 */
struct msb_tmpfile {
	int fd;
	bool named;      /* @path is the fallback name */
	char path[4200]; /* opens the file: /proc/self/fd/N, or the name */
};
/* A new temporary file in @dir (@fallback: the name to use without
 * O_TMPFILE). Return: 0 or an error. */
int msb_store_tmpfile(struct msb_tmpfile *t, const char *dir,
		      const char *fallback, mode_t mode);
/* Give the file the name @dest (same filesystem). @exist_ok: an existing
 * @dest is success (content-addressed). */
int msb_store_tmpfile_link(struct msb_tmpfile *t, const char *dest,
			   bool exist_ok);
/* Close it; a fallback name not linked yet is removed. */
void msb_store_tmpfile_drop(struct msb_tmpfile *t);

/*
 * msb_store_prune_tmp() - remove what interrupted downloads left in
 * blobs/tmp: partial files and locks nobody holds, and fallback
 * temporary files older than an hour. @freed (may be NULL) grows by the
 * bytes freed.
 */
void msb_store_prune_tmp(struct msb_store *s, uint64_t *freed);

/* Read a stored blob of at most @max bytes into @out. */
int msb_store_read(const struct msb_store *s, const char *digest, size_t max,
		   struct msb_buf *out);

#endif
