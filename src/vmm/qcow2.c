// SPDX-License-Identifier: Apache-2.0
/*
 * DOC: qcow2 overlays
 *
 * The file is four clusters of 64 KiB or more (docs/interop/qcow2.txt in
 * QEMU's sources describes the format):
 *
 *   cluster 0     the header (104 bytes, version 3), the backing format
 *                 extension, the end of extensions, the backing file name
 *   cluster 1     the refcount table: one entry, cluster 2
 *   cluster 2     one refcount block: 16-bit counts, 1 for every cluster
 *                 of the file (it covers the first 2 GiB of the file)
 *   cluster 3...  the L1 table, all zero: nothing allocated, every read
 *                 goes to the backing file
 *
 * All numbers are big-endian. Only the clusters' non-zero bytes are
 * written; the rest is a hole.
 */
#include "vmm/qcow2.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CLUSTER_BITS 16
#define CLUSTER ((uint64_t)1 << CLUSTER_BITS)
#define HEADER_LEN 104
#define EXT_BACKING_FORMAT 0xe2792acaU
/* bytes of guest disk one L1 entry maps: an L2 table of CLUSTER / 8
 * entries of a cluster each */
#define L1_SPAN (CLUSTER * (CLUSTER / 8))

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static int fail(int e, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(int e, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	errno = e;
	return -1;
}

/* The guest-visible size of @backing: its length if raw, its header's
 * size if qcow2. */
static int backing_size(const char *backing, const char *fmt, uint64_t *size,
			char *err, size_t errlen)
{
	int fd = open(backing, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(errno, err, errlen, "open `%s`: %s", backing,
			    strerror(errno));
	int rc = 0, e = 0;
	if (!strcmp(fmt, "raw")) {
		struct stat st;
		if (fstat(fd, &st) < 0) {
			e = errno;
			rc = fail(e, err, errlen, "stat `%s`: %s", backing,
				  strerror(e));
		} else {
			*size = (uint64_t)st.st_size;
		}
	} else {
		uint8_t h[32];
		if (pread(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
		    memcmp(h, "QFI\xfb", 4))
			rc = fail(EINVAL, err, errlen,
				  "`%s` is not a qcow2 image", backing);
		else
			*size = get64(h + 24);
	}
	close(fd);
	return rc;
}

int qcow2_create_overlay(const char *path, const char *backing,
			 const char *backing_fmt, uint64_t size, char *err,
			 size_t errlen)
{
	size_t name_len = strlen(backing), fmt_len = strlen(backing_fmt);

	if (strcmp(backing_fmt, "raw") && strcmp(backing_fmt, "qcow2"))
		return fail(EINVAL, err, errlen,
			    "backing format `%s`: not raw or qcow2",
			    backing_fmt);
	if (name_len == 0 || name_len > QCOW2_BACKING_MAX)
		return fail(EINVAL, err, errlen,
			    "backing file name of %zu bytes (1 to %d)",
			    name_len, QCOW2_BACKING_MAX);
	if (!size && backing_size(backing, backing_fmt, &size, err, errlen) < 0)
		return -1;
	if (!size || size % 512)
		return fail(EINVAL, err, errlen,
			    "disk size %llu: not a positive multiple of 512",
			    (unsigned long long)size);

	uint64_t l1_size = (size + L1_SPAN - 1) / L1_SPAN;
	uint64_t l1_clusters = (l1_size * 8 + CLUSTER - 1) / CLUSTER;
	uint64_t clusters = 3 + l1_clusters;
	/* one refcount block of CLUSTER / 2 counts; l1_size fits 32 bits */
	if (clusters > CLUSTER / 2)
		return fail(EINVAL, err, errlen, "disk size %llu: too large",
			    (unsigned long long)size);

	/* header, extensions and name: 104 + 16 + 8 + at most 1023 */
	uint8_t hdr[2048] = {0};
	memcpy(hdr, "QFI\xfb", 4);
	put32(hdr + 4, 3);             /* version */
	put32(hdr + 20, CLUSTER_BITS); /* cluster_bits */
	put64(hdr + 24, size);
	put32(hdr + 32, 0); /* crypt_method */
	put32(hdr + 36, (uint32_t)l1_size);
	put64(hdr + 40, 3 * CLUSTER); /* l1_table_offset */
	put64(hdr + 48, 1 * CLUSTER); /* refcount_table_offset */
	put32(hdr + 56, 1);           /* refcount_table_clusters */
	/* snapshots none; incompatible, compatible, autoclear features 0 */
	put32(hdr + 96, 4);           /* refcount_order: 16-bit */
	put32(hdr + 100, HEADER_LEN); /* header_length */
	uint8_t *ext = hdr + HEADER_LEN;
	put32(ext, EXT_BACKING_FORMAT);
	put32(ext + 4, (uint32_t)fmt_len);
	memcpy(ext + 8, backing_fmt, fmt_len);
	ext += 8 + ((fmt_len + 7) & ~(size_t)7);
	ext += 8; /* the end of extensions: type 0, length 0 */
	uint64_t name_off = (uint64_t)(ext - hdr);
	memcpy(ext, backing, name_len);
	put64(hdr + 8, name_off);
	put32(hdr + 16, (uint32_t)name_len);

	uint8_t table[8];
	put64(table, 2 * CLUSTER);
	static uint8_t counts[CLUSTER / 2 * 2];
	for (uint64_t i = 0; i < clusters; i++) {
		counts[2 * i] = 0;
		counts[2 * i + 1] = 1;
	}

	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return fail(errno, err, errlen, "create `%s`: %s", path,
			    strerror(errno));
	size_t head = (size_t)(name_off + name_len);
	bool good = pwrite(fd, hdr, head, 0) == (ssize_t)head &&
		    pwrite(fd, table, sizeof(table), CLUSTER) ==
			    (ssize_t)sizeof(table) &&
		    pwrite(fd, counts, 2 * clusters, 2 * CLUSTER) ==
			    (ssize_t)(2 * clusters) &&
		    ftruncate(fd, (off_t)(clusters * CLUSTER)) == 0;
	int e = good ? 0 : errno ? errno : EIO;
	if (close(fd) < 0 && good) {
		good = false;
		e = errno;
	}
	if (!good) {
		unlink(path);
		return fail(e, err, errlen, "write `%s`: %s", path,
			    strerror(e));
	}
	return 0;
}
