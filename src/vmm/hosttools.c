// SPDX-License-Identifier: Apache-2.0
/* The host programs sandboxes need (see hosttools.h). */
#include "vmm/hosttools.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/util.h"

char *msb_find_program(const char *envname, const char *prog)
{
	const char *v = getenv(envname);
	if (v && *v)
		return access(v, X_OK) == 0 ? strdup(v) : NULL;

	const char *path = getenv("PATH");
	char buf[4096];
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		const char *end = strchrnul(path, ':');
		int n = snprintf(buf, sizeof(buf), "%.*s/%s", (int)(end - path),
				 path, prog);
		if (n > 0 && (size_t)n < sizeof(buf) && end != path &&
		    access(buf, X_OK) == 0)
			return strdup(buf);
		path = *end ? end + 1 : end;
	}
	snprintf(buf, sizeof(buf), "/usr/bin/%s", prog);
	if (access(buf, X_OK) == 0)
		return strdup(buf);
	return NULL;
}

const char *msb_mkfs_ext4_path(void)
{
	static const char *const c[] = {"/usr/sbin/mkfs.ext4",
					"/sbin/mkfs.ext4", "/usr/sbin/mke2fs",
					"/sbin/mke2fs"};
	for (size_t i = 0; i < ARRAY_SIZE(c); i++)
		if (access(c[i], X_OK) == 0)
			return c[i];
	return NULL;
}
