// SPDX-License-Identifier: Apache-2.0
/*
 * fs_bench: write then read a file of SIZE MiB through the guest
 * filesystem API, against the same bytes through `cat` with exec's stdin
 * and stdout, in one sandbox, same run. Prints MB/s of each and the
 * ratios (fs API / cat).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/internal.h"

static uint8_t block[1u << 20];

struct src {
	uint64_t left;
};

static long source(void *buf, size_t cap, void *ud)
{
	struct src *s = ud;
	size_t n = cap < s->left ? cap : (size_t)s->left;

	memcpy(buf, block, n);
	s->left -= n;
	return (long)n;
}

static uint64_t got;
static int sink(const void *data, size_t len, void *ud)
{
	(void)data;
	(void)ud;
	got += len;
	return 0;
}

static double mbs(uint64_t bytes, uint64_t us)
{
	return us ? (double)bytes / (double)us : 0;
}

/* Stream @total bytes into `cat > path`. */
static int cat_in(msb_sandbox *sb, const char *path, uint64_t total)
{
	char cmd[256];
	msb_exec *e;
	snprintf(cmd, sizeof(cmd), "cat > %s", path);
	const char *argv[] = {"sh", "-c", cmd, NULL};
	if (msb_exec_start(&e, sb, argv, NULL) < 0)
		return -1;
	for (uint64_t left = total; left;) {
		size_t n = left < sizeof(block) ? (size_t)left : sizeof(block);
		if (msb_exec_write(e, block, n) < 0)
			return -1;
		left -= n;
	}
	int code = -1;
	if (msb_exec_close_stdin(e) < 0 || msb_exec_wait(e, &code, NULL) < 0)
		return -1;
	msb_exec_free(e);
	return code;
}

/* Read `cat path` to its end; return the bytes. */
static uint64_t cat_out(msb_sandbox *sb, const char *path)
{
	msb_exec *e;
	msb_exec_event ev;
	uint64_t n = 0;
	const char *argv[] = {"cat", path, NULL};
	if (msb_exec_start(&e, sb, argv, NULL) < 0)
		return 0;
	while (msb_exec_next(e, &ev, 60000) == 0 && ev.type != MSB_EXEC_EXITED)
		if (ev.type == MSB_EXEC_STDOUT)
			n += ev.len;
	msb_exec_free(e);
	return n;
}

int main(int argc, char **argv)
{
	uint64_t mib = argc > 1 ? strtoull(argv[1], NULL, 10) : 256;
	uint64_t total = mib << 20;
	msb_sandbox_options o = MSB_SANDBOX_OPTIONS_INIT;
	msb_sandbox *sb;

	for (size_t i = 0; i < sizeof(block); i++)
		block[i] = (uint8_t)(i * 2654435761u >> 13);
	o.memory_mib = 1024;
	if (!mib || msb_sandbox_create(&sb, &o) < 0) {
		fprintf(stderr, "fs_bench: %s\n", msb_last_error()->message);
		return 1;
	}
	/* warm up both paths */
	struct src s = {1u << 20};
	msb_sandbox_fs_write_stream(sb, "/tmp/warm", source, &s, 0644, 0);
	cat_in(sb, "/tmp/warm2", 1u << 20);

	s.left = total;
	uint64_t t0 = now_us();
	int rc = msb_sandbox_fs_write_stream(sb, "/tmp/api", source, &s, 0644,
					     0);
	uint64_t api_w = now_us() - t0;
	got = 0;
	t0 = now_us();
	rc |= msb_sandbox_fs_read_stream(sb, "/tmp/api", sink, NULL);
	uint64_t api_r = now_us() - t0;
	uint64_t api_got = got;
	msb_sandbox_fs_remove(sb, "/tmp/api", 0);

	t0 = now_us();
	int code = cat_in(sb, "/tmp/cat", total);
	uint64_t cat_w = now_us() - t0;
	t0 = now_us();
	uint64_t cat_got = cat_out(sb, "/tmp/cat");
	uint64_t cat_r = now_us() - t0;

	if (rc < 0 || code != 0 || api_got != total || cat_got != total) {
		fprintf(stderr, "fs_bench: a transfer failed (%s)\n",
			msb_last_error()->message);
		return 1;
	}
	printf("%llu MiB  write: fs API %.0f MB/s, cat via stdin %.0f MB/s, "
	       "ratio %.2f\n",
	       (unsigned long long)mib, mbs(total, api_w), mbs(total, cat_w),
	       mbs(total, api_w) / mbs(total, cat_w));
	printf("%llu MiB  read:  fs API %.0f MB/s, cat via stdout %.0f MB/s, "
	       "ratio %.2f\n",
	       (unsigned long long)mib, mbs(total, api_r), mbs(total, cat_r),
	       mbs(total, api_r) / mbs(total, cat_r));
	msb_sandbox_stop(sb, 0);
	msb_sandbox_free(sb);
	return 0;
}
