// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzz harness for host-side volume reading on a hostile ext4: the input
 * is a filesystem image (a guest writes every byte of its volume), copied
 * out whole through msb__volume_image_copy_out() into a scratch folder
 * with small limits. It must end (no cycle or extent makes it loop), and
 * nothing may appear outside the scratch folder's destination.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/internal.h"
#include "util/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fd = -1;
static char scratch[64];

static size_t count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	size_t n = 0;

	if (!d)
		return 0;
	for (struct dirent *e; (e = readdir(d));)
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char img[64], dst[96];

	if (fd < 0) {
		fd = memfd_create("ext4-fuzz", MFD_CLOEXEC);
		snprintf(scratch, sizeof(scratch), "/tmp/msb-ext4-fuzz-XXXXXX");
		if (fd < 0 || !mkdtemp(scratch))
			abort();
	}
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	snprintf(img, sizeof(img), "/proc/self/fd/%d", fd);
	snprintf(dst, sizeof(dst), "%s/out", scratch);
	msb_copy_options o = MSB_COPY_OPTIONS_INIT;
	o.max_bytes = 16u << 20;
	o.max_files = 2000;
	msb__volume_image_copy_out(img, "/", dst, &o);
	/* Only "out" may exist in the scratch folder. */
	if (count_entries(scratch) > 1) {
		fprintf(stderr,
			"ext4_fuzz: something escaped the destination\n");
		abort();
	}
	rm_rf(dst);
	return 0;
}
