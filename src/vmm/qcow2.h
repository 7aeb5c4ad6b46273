/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The root overlay of a sandbox: an empty qcow2 v3 image over its base,
 * written directly rather than by `qemu-img create` (a fork and exec of a
 * 10-13 ms program on every create: docs/benchmarks.md).
 */
#ifndef MSB_VMM_QCOW2_H
#define MSB_VMM_QCOW2_H

#include <stddef.h>
#include <stdint.h>

/* qemu refuses longer backing file names */
#define QCOW2_BACKING_MAX 1023

/*
 * qcow2_create_overlay() - write @path (created or truncated, mode 0644
 * before the umask) as an empty qcow2 v3 image backed by @backing in
 * @backing_fmt ("raw" or "qcow2"), of @size bytes, or the backing's size
 * when @size is 0. The image is what `qemu-img create -f qcow2 -b BACKING
 * -F FMT PATH [SIZE]` writes, less its optional header extensions: 64 KiB
 * clusters, 16-bit refcounts, no L2 table yet.
 * Return: 0, or -1 with errno set and a one-line reason in @err (a size
 * that is not a multiple of 512 and a name too long are EINVAL).
 */
int qcow2_create_overlay(const char *path, const char *backing,
			 const char *backing_fmt, uint64_t size, char *err,
			 size_t errlen);

#endif
