// SPDX-License-Identifier: Apache-2.0
/*
 * exec_bench: warm round trip of `exec true` against a raw ping to the
 * guest agent over the same channel (client → supervisor → agent → back),
 * alternating, in one sandbox. Prints both medians and the ratio, and
 * what starting a process costs inside the guest by itself.
 */
#include <stdio.h>
#include <stdlib.h>

#include "lib/internal.h"

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t ping(msb_sandbox *sb, uint32_t id)
{
	struct msb_msg m = {.type = MSB_MSG_PING};
	uint64_t t0 = now_us();

	if (msb__conn_send(&sb->conn, id, MSB_F_START, &m) < 0)
		return 0;
	for (;;) {
		struct msb_frame f;
		struct msb_msg r;
		if (msb__conn_recv(&sb->conn, &f, &r, 10000) < 0)
			return 0;
		bool done = f.hdr.stream == id && r.type == MSB_MSG_PONG;
		msb__conn_done(&sb->conn, &f);
		if (done)
			return now_us() - t0;
	}
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 100;
	msb_sandbox_options o = MSB_SANDBOX_OPTIONS_INIT;
	msb_sandbox *sb;

	if (n < 1 || msb_sandbox_create(&sb, &o) < 0) {
		fprintf(stderr, "exec_bench: %s\n", msb_last_error()->message);
		return 1;
	}
	uint64_t *e = calloc((size_t)n, sizeof(*e));
	uint64_t *p = calloc((size_t)n, sizeof(*p));
	const char *argv_true[] = {"true", NULL};
	for (int i = -5; i < n; i++) { /* 5 warm-up rounds */
		msb_exec_output *out = NULL;
		uint64_t t0 = now_us();
		if (msb_sandbox_exec(&out, sb, argv_true, NULL) < 0) {
			fprintf(stderr, "exec: %s\n",
				msb_last_error()->message);
			return 1;
		}
		uint64_t te = now_us() - t0;
		msb_exec_output_free(out);
		uint64_t tp = ping(sb, 0x7fff0000u + (uint32_t)(i + 5));
		if (i >= 0) {
			e[i] = te;
			p[i] = tp;
		}
	}
	qsort(e, (size_t)n, sizeof(*e), cmp);
	qsort(p, (size_t)n, sizeof(*p), cmp);
	double me = (double)e[n / 2] / 1000.0, mp = (double)p[n / 2] / 1000.0;
	printf("exec true: median %.2f ms; agent ping: median %.2f ms; ratio %.2f\n",
	       me, mp, mp > 0 ? me / mp : 0);

	/* What starting a process costs inside the guest alone: a shell
	 * running `true` 200 times, timed by the guest's clock. The rest of
	 * an exec round trip is the protocol's. */
	msb_exec_output *out = NULL;
	const char *loop[] = {
		"sh", "-c",
		"read a _ </proc/uptime; i=0; while [ $i -lt 200 ]; do "
		"/bin/true; i=$((i+1)); done; read b _ </proc/uptime; "
		"echo $(((${b%.*}${b#*.} - ${a%.*}${a#*.}) * 50))",
		NULL};
	if (msb_sandbox_exec(&out, sb, loop, NULL) == 0) {
		double spawn = atof(msb_exec_output_stdout(out, NULL)) / 1000.0;
		printf("guest fork+exec of true (from sh): %.2f ms; exec "
		       "round trip beyond it: %.2f ms, %.2f x the ping\n",
		       spawn, me - spawn, mp > 0 ? (me - spawn) / mp : 0);
	}
	msb_exec_output_free(out);
	msb_sandbox_stop(sb, 0);
	msb_sandbox_free(sb);
	free(e);
	free(p);
	return 0;
}
