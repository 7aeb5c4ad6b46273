/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Root disks from image layers: the layers' tar streams (read by
 * libarchive: plain, gzip or zstd, detected) are applied in order to one
 * ext4 image written through libext2fs. No root privileges, nothing
 * unpacked onto the host filesystem.
 *
 * Applied as OCI says: whiteouts (".wh.NAME") remove NAME from lower
 * layers, opaque markers (".wh..wh..opq") hide a directory's lower-layer
 * contents, and an entry replaces what a lower layer had at its path (a
 * directory replaced by a file and back). Preserved: owners, modes
 * (setuid/setgid/sticky), mtimes, xattrs (security.capability included),
 * hardlinks (also to files of lower layers), symlinks, character and block
 * devices, fifos, long and non-ASCII names. Refused, with an error naming
 * the layer and the path: names with ".." components or that are absolute
 * after stripping a leading "./" or "/", and entries whose parent path
 * resolves through a symlink (writes through a symlink could land outside
 * the root); hardlinks to paths that do not exist.
 *
 * Errors: -MSB_EPROTO for a bad layer (message "layer `sha256:…`: path
 * `../x` escapes the root"), -MSB_ESYS / -MSB_ENOMEM otherwise, with the
 * thread's error set. Every loop is bounded by the input.
 */
#ifndef MSB_IMAGE_ROOTFS_H
#define MSB_IMAGE_ROOTFS_H

#include <stddef.h>
#include <stdint.h>

struct msb_rootfs;

/*
 * msb_rootfs_create() - make a new, empty, sparse ext4 image at @path of
 * @size_bytes (the caller adds headroom for the sandbox's writes), with a
 * root directory owned by 0:0, mode 0755. @size_bytes is 16 MiB to 16 TiB;
 * an existing file at @path is truncated.
 */
int msb_rootfs_create(struct msb_rootfs **out, const char *path,
		      uint64_t size_bytes);

/*
 * msb_rootfs_apply() - apply one layer read from @fd (not closed) to the
 * image. @name identifies the layer in errors (its digest). After an
 * error the image is half-written: only msb_rootfs_free() remains.
 */
int msb_rootfs_apply(struct msb_rootfs *r, int fd, const char *name);

/* The same from memory (used by the fuzzer). */
int msb_rootfs_apply_mem(struct msb_rootfs *r, const void *buf, size_t len,
			 const char *name);

/* Flush and close the image: it is complete and consistent (e2fsck
 * clean). @r is freed. */
int msb_rootfs_finish(struct msb_rootfs *r);

/* Abandon: close without finishing (the caller removes the file). NULL
 * is fine. */
void msb_rootfs_free(struct msb_rootfs *r);

#endif
