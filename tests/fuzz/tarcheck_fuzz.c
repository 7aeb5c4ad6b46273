// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzz harness for the checks on a tar stream given to `msb cp -`
 * (msb__tar_check()): the input is the archive. The check must end on
 * any input, and when it accepts an archive it must have counted no more
 * members than the input has headers.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("tar", MFD_CLOEXEC);
	size_t members = 0;

	if (fd < 0)
		return 0;
	for (size_t off = 0; off < size;) {
		ssize_t n = write(fd, data + off, size - off);
		if (n <= 0) {
			close(fd);
			return 0;
		}
		off += (size_t)n;
	}
	if (msb__tar_check(fd, 0, &members) == 0 && members > size / 512) {
		fprintf(stderr, "tarcheck_fuzz: %zu members in %zu bytes\n",
			members, size);
		abort();
	}
	close(fd);
	return 0;
}
