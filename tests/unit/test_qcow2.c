// SPDX-License-Identifier: Apache-2.0
/* The root overlay written without qemu-img (src/vmm/qcow2.c), checked
 * with qemu-img itself: check, info, compare, and a write with qemu-io. */
#include "vmm/qcow2.h"

#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[] = "/tmp/msb-test-qcow2.XXXXXX";
static const char *qemu_img = "qemu-img";

/* Run `sh -c CMD`, its output to @out (NUL-terminated); its status. */
static int run(char *out, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int run(char *out, size_t len, const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	size_t n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* create @ov over @base, then qemu-img check must be clean and info must
 * show @size and the backing file */
static void overlay(const char *ov, const char *base, const char *fmt,
		    uint64_t size, uint64_t want)
{
	char err[256] = "", out[8192], s[64];
	CHECK(qcow2_create_overlay(ov, base, fmt, size, err, sizeof(err)) == 0);
	if (err[0])
		fprintf(stderr, "%s\n", err);
	CHECK(run(out, sizeof(out), "%s check '%s' 2>&1", qemu_img, ov) == 0);
	CHECK(strstr(out, "No errors were found"));
	CHECK(run(out, sizeof(out), "%s info --output=json '%s' 2>&1", qemu_img,
		  ov) == 0);
	snprintf(s, sizeof(s), "\"virtual-size\": %llu,",
		 (unsigned long long)want);
	CHECK(strstr(out, s));
	if (!strstr(out, s))
		fprintf(stderr, "%s\n", out);
	CHECK(strstr(out, "\"format\": \"qcow2\""));
	CHECK(strstr(out, "\"compat\": \"1.1\""));
	CHECK(strstr(out, "\"cluster-size\": 65536"));
	char b[1200];
	snprintf(b, sizeof(b), "\"backing-filename\": \"%s\"", base);
	CHECK(strstr(out, b));
	snprintf(b, sizeof(b), "\"backing-filename-format\": \"%s\"", fmt);
	CHECK(strstr(out, b));
}

int main(void)
{
	char base[128], ov[128], ov2[128], big[128], ref[128], out[8192];
	char err[256];

	if (getenv("MSB_QEMU_IMG"))
		qemu_img = getenv("MSB_QEMU_IMG");
	if (run(out, sizeof(out), "%s --version 2>&1", qemu_img) != 0) {
		printf("qcow2: qemu-img not found: skipped\n");
		return 77;
	}
	if (!mkdtemp(dir))
		return 1;
	snprintf(base, sizeof(base), "%s/base.raw", dir);
	snprintf(ov, sizeof(ov), "%s/ov.qcow2", dir);
	snprintf(ov2, sizeof(ov2), "%s/ov2.qcow2", dir);
	snprintf(big, sizeof(big), "%s/big.qcow2", dir);
	snprintf(ref, sizeof(ref), "%s/ref.qcow2", dir);

	/* a 64 MiB + 4 KiB raw base with data at both ends */
	int fd = open(base, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0);
	CHECK(ftruncate(fd, (64 << 20) + 4096) == 0);
	CHECK(pwrite(fd, "first", 5, 0) == 5);
	CHECK(pwrite(fd, "last", 4, (64 << 20) + 4000) == 4);
	close(fd);

	/* its own size; the same guest content as the base and as the image
	 * qemu-img writes */
	overlay(ov, base, "raw", 0, (64 << 20) + 4096);
	CHECK(run(out, sizeof(out), "%s compare -f qcow2 -F raw '%s' '%s' 2>&1",
		  qemu_img, ov, base) == 0);
	CHECK(run(out, sizeof(out),
		  "%s create -q -f qcow2 -b '%s' -F raw '%s' 2>&1", qemu_img,
		  base, ref) == 0);
	CHECK(run(out, sizeof(out), "%s compare '%s' '%s' 2>&1", qemu_img, ov,
		  ref) == 0);
	/* writable: a write allocates clusters, the refcounts stay right,
	 * and the base is untouched */
	if (run(out, sizeof(out), "qemu-io --version 2>&1") == 0) {
		CHECK(run(out, sizeof(out),
			  "qemu-io -f qcow2 -c 'write -P 0xab 1M 2M' '%s' 2>&1",
			  ov) == 0);
		CHECK(run(out, sizeof(out), "%s check '%s' 2>&1", qemu_img,
			  ov) == 0);
		CHECK(strstr(out, "No errors were found"));
		CHECK(run(out, sizeof(out),
			  "%s compare -f qcow2 -F raw '%s' '%s' >/dev/null 2>&1",
			  qemu_img, ov, base) == 1);
	}

	/* larger than the base (the agent grows the filesystem); an L1
	 * table of several clusters; a qcow2 base */
	overlay(ov2, base, "raw", 3ULL << 30, 3ULL << 30);
	overlay(big, base, "raw", 5ULL << 40, 5ULL << 40);
	overlay(ov2, ov, "qcow2", 0, (64 << 20) + 4096);
	CHECK(run(out, sizeof(out), "%s compare '%s' '%s' 2>&1", qemu_img, ov2,
		  ov) == 0);

	/* refused */
	errno = 0;
	CHECK(qcow2_create_overlay(ov2, base, "raw", 1000, err, sizeof(err)) <
		      0 &&
	      errno == EINVAL);
	CHECK(qcow2_create_overlay(ov2, base, "vmdk", 0, err, sizeof(err)) <
		      0 &&
	      errno == EINVAL);
	CHECK(qcow2_create_overlay(ov2, ov, "qcow2", 0, err, sizeof(err)) == 0);
	CHECK(qcow2_create_overlay(ov2, base, "qcow2", 0, err, sizeof(err)) <
		      0 &&
	      errno == EINVAL);
	char name[QCOW2_BACKING_MAX + 2];
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	CHECK(qcow2_create_overlay(ov2, name, "raw", 1 << 20, err,
				   sizeof(err)) < 0 &&
	      errno == EINVAL);
	CHECK(qcow2_create_overlay(ov2, "/nonexistent/base", "raw", 0, err,
				   sizeof(err)) < 0 &&
	      errno == ENOENT && strstr(err, "/nonexistent/base"));
	CHECK(qcow2_create_overlay("/nonexistent/ov", base, "raw", 0, err,
				   sizeof(err)) < 0 &&
	      errno == ENOENT);

	run(out, sizeof(out), "rm -rf '%s'", dir);
	return check_summary("qcow2");
}
