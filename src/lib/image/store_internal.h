/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals of store.c exposed for its unit tests: the streaming verifier
 * and the fetch path with the registry replaced by any blob source.
 */
#ifndef MSB_IMAGE_STORE_INTERNAL_H
#define MSB_IMAGE_STORE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "lib/image/store.h"

/*
 * Streaming verification of one blob: its digest over the bytes as given,
 * and with a diff_id, the sha256 of the uncompressed stream (gzip, zstd or
 * plain, chosen by the first bytes).
 */
struct msb_verifier;

/* @digest, @diff_id (or NULL): copied. Return 0 or -MSB_EINVAL/ENOMEM. */
int msb__verifier_new(struct msb_verifier **out, const char *digest,
		      const char *diff_id);
/* Feed bytes. Return 0 or -MSB_EPROTO (invalid compressed stream). */
int msb__verifier_update(struct msb_verifier *v, const void *buf, size_t len);
/* Start again from byte 0. Return 0 or -MSB_ENOMEM. */
int msb__verifier_reset(struct msb_verifier *v);
/*
 * End of the stream: compare. Return 0, or -MSB_EPROTO ("blob `…`: content
 * does not match its digest", "…does not match its diff_id", "…truncated
 * compressed stream").
 */
int msb__verifier_finish(struct msb_verifier *v);
/* Bytes fed since the last reset. */
uint64_t msb__verifier_size(const struct msb_verifier *v);
void msb__verifier_free(struct msb_verifier *v);

/* A source of blob bytes with the contract of msb_registry_blob(). */
typedef int (*msb__blob_source_fn)(void *src, const char *digest,
				   uint64_t offset,
				   int (*sink)(const void *buf, size_t len,
					       void *ud),
				   void (*on_restart)(void *ud), void *ud);

/* msb_store_fetch() with the bytes from @src instead of a registry. */
int msb__store_fetch_from(struct msb_store *s, msb__blob_source_fn src,
			  void *src_ud, const struct msb_descriptor *d,
			  const char *diff_id, msb_blob_progress_fn progress,
			  void *userdata);

#endif
