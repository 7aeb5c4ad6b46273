// SPDX-License-Identifier: Apache-2.0
/*
 * Writes the seed corpus for vmm_fuzz into a folder: sessions of clients
 * and a guest in the harness's record format (see vmm_fuzz.c). Not built
 * by meson; run it by hand when the protocol or the format changes:
 *
 *   cc -D_GNU_SOURCE -Isrc src/util/util.c src/proto/cbor.c src/proto/proto.c \
 *      tests/fuzz/gen_vmm_corpus.c -o /tmp/gen && \
 *   /tmp/gen tests/fuzz/corpus/vmm
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proto.h"
#include "util/util.h"

#define GUEST 0
#define LEAVE 0x80
#define STOPPING 0x40
#define METRICS 0xfffffff0u

static const char *dir;
static struct msb_buf seed;

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/* One record: @op, then @n bytes. */
static void rec(uint8_t op, const void *p, size_t n)
{
	uint8_t h[3] = {op, (uint8_t)(n >> 8), (uint8_t)n};

	if (msb_buf_append(&seed, h, 3) < 0 ||
	    (n && msb_buf_append(&seed, p, n) < 0))
		die("append");
}

/* A frame as one record. */
static void frame(uint8_t op, uint32_t stream, uint8_t flags,
		  const struct msb_msg *m)
{
	struct msb_buf b = {0};

	if (msb_frame_encode(&b, stream, flags, m) < 0)
		die("encode");
	rec(op, b.data, b.len);
	msb_buf_free(&b);
}

static void save(const char *name)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(seed.data, 1, seed.len, f) != seed.len || fclose(f))
		die(path);
	msb_buf_reset(&seed);
}

static const char *const argv_sh[] = {"sh", "-c", "echo hi", NULL};

static void exec_start(uint8_t op, uint32_t stream)
{
	struct msb_msg m = {
		.type = MSB_MSG_EXEC,
		.has = MSB_HAS(MSB_FLD_ARGV),
		.argv = {.v = argv_sh},
	};
	frame(op, stream, MSB_F_START, &m);
}

static void out(uint8_t op, uint32_t stream, const char *text, uint8_t flags)
{
	struct msb_msg m = {
		.type = MSB_MSG_STDOUT,
		.has = MSB_HAS(MSB_FLD_DATA),
		.data = {(const uint8_t *)text, strlen(text)},
	};
	frame(op, stream, flags, &m);
}

static void exited(uint8_t op, uint32_t stream, int code)
{
	struct msb_msg m = {
		.type = MSB_MSG_EXITED,
		.has = MSB_HAS(MSB_FLD_CODE),
		.code = code,
	};
	frame(op, stream, MSB_F_END, &m);
}

static void error(uint8_t op, uint32_t stream, const char *text)
{
	struct msb_msg m = {
		.type = MSB_MSG_ERROR,
		.has = MSB_HAS(MSB_FLD_MSG),
		.msg = msb_str(text),
	};
	frame(op, stream, MSB_F_END, &m);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	dir = argv[1];

	/* A command from client 1: started, output, exit. */
	struct msb_msg ready = {.type = MSB_MSG_READY,
				.has = MSB_HAS(MSB_FLD_VERSION),
				.version = MSB_PROTO_VERSION};
	frame(GUEST, 0, MSB_F_START, &ready);
	exec_start(1, 1);
	struct msb_msg started = {.type = MSB_MSG_STARTED,
				  .has = MSB_HAS(MSB_FLD_PID),
				  .pid = 42};
	frame(GUEST, 1, MSB_F_START, &started);
	out(GUEST, 1, "hi\n\x1b[31mred\r\n", 0);
	exited(GUEST, 1, 0);
	save("exec-session");

	/* Two clients with the same stream id; one leaves; the guest goes on
	 * sending for its stream. */
	exec_start(1, 1);
	exec_start(2, 1);
	out(GUEST, 2, "for client 2\n", 0);
	rec(2 | LEAVE, NULL, 0);
	out(GUEST, 2, "nobody listens\n", 0);
	out(GUEST, 1, "client 1\n", 0);
	exited(GUEST, 2, 137);
	exited(GUEST, 1, 0);
	save("client-leaves");

	/* Guest noise: forged log lines, the metrics stream, unknown
	 * streams, a frame that is not CBOR. */
	error(GUEST, 0, "forged\n1796290000.000 msb-vmm[1]: fake line");
	struct msb_msg metrics = {.type = MSB_MSG_METRICS,
				  .has = MSB_HAS(MSB_FLD_MEM_TOTAL) |
					 MSB_HAS(MSB_FLD_MEM_USED),
				  .mem_total = 1 << 29,
				  .mem_used = 1 << 20};
	frame(GUEST, METRICS, MSB_F_END, &metrics);
	out(GUEST, 77, "unknown stream", MSB_F_END);
	rec(GUEST, "\0\0\0\x09\0\0\0\0\0\xff\xff\xff\xff", 13);
	save("guest-noise");

	/* A frame cut across records, then a bad length. */
	struct msb_buf b = {0};
	exec_start(3, 5);
	struct msb_msg big = {
		.type = MSB_MSG_STDOUT,
		.has = MSB_HAS(MSB_FLD_DATA),
		.data = {(const uint8_t *)"0123456789abcdef", 16}};
	msb_frame_encode(&b, 1, 0, &big);
	rec(GUEST, b.data, 7);
	rec(GUEST, b.data + 7, b.len - 7);
	rec(GUEST, "\xff\xff\xff\xff", 4);
	out(GUEST, 1, "after the bad length", 0);
	msb_buf_free(&b);
	save("guest-bad-length");

	/* Client misuse: a stream id twice, frames of an unknown stream,
	 * credit after the end, a start while stopping. */
	exec_start(1, 9);
	exec_start(1, 9);
	struct msb_msg credit = {.type = MSB_MSG_CREDIT,
				 .has = MSB_HAS(MSB_FLD_SIZE),
				 .size = 65536};
	frame(1, 10, 0, &credit);
	struct msb_msg in = {.type = MSB_MSG_STDIN,
			     .has = MSB_HAS(MSB_FLD_DATA),
			     .data = {(const uint8_t *)"x", 1}};
	frame(1, 11, 0, &in);
	exited(GUEST, 1, 0);
	frame(1, 9, 0, &credit);
	exec_start(2 | STOPPING, 3);
	save("client-misuse");
	msb_buf_free(&seed);
	return 0;
}
