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

/* Read a stored blob of at most @max bytes into @out. */
int msb_store_read(const struct msb_store *s, const char *digest, size_t max,
		   struct msb_buf *out);

#endif
