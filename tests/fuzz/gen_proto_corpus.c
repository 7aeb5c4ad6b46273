// SPDX-License-Identifier: Apache-2.0
/*
 * Writes the seed corpus for proto_fuzz into a folder: valid frames of every
 * message type, a whole session, raw payloads, and truncated or malformed
 * inputs. Not built by meson; run it by hand when the protocol changes:
 *
 *   cc -D_GNU_SOURCE -Isrc src/util/util.c src/proto/cbor.c src/proto/proto.c \
 *      tests/fuzz/gen_proto_corpus.c -o /tmp/gen && \
 *   /tmp/gen tests/fuzz/corpus/proto
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/cbor.h"
#include "proto/proto.h"
#include "util/util.h"

static const char *dir;

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void write_file(const char *name, const void *p, size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f)
		die(path);
	if (n && fwrite(p, 1, n, f) != n)
		die(path);
	if (fclose(f))
		die(path);
}

static void write_buf(const char *name, const struct msb_buf *b)
{
	write_file(name, msb_buf_head(b), msb_buf_avail(b));
}

static void frame(struct msb_buf *b, uint32_t stream, uint8_t flags,
		  const struct msb_msg *m)
{
	if (msb_frame_encode(b, stream, flags, m) < 0)
		die("msb_frame_encode");
}

/* Wrap a hand-built payload in a frame header. */
static void frame_raw(struct msb_buf *out, const struct msb_buf *payload)
{
	uint8_t h[MSB_FRAME_HDR];

	msb_frame_put_hdr(h, (uint32_t)payload->len, 1, MSB_F_START);
	if (msb_buf_append(out, h, sizeof(h)) < 0 ||
	    msb_buf_append(out, payload->data, payload->len) < 0)
		die("append");
}

static void ok(int r)
{
	if (r < 0)
		die("cbor_put");
}

static void put_str(struct msb_buf *b, const char *s)
{
	ok(cbor_put_text(b, s, strlen(s)));
}

static const char *const argv_sh[] = {"/bin/sh", "-c", "echo hi; exit 3", NULL};
static const char *const env_std[] = {"PATH=/usr/bin:/bin", "HOME=/root",
				      "TERM=xterm", NULL};
static const uint8_t chunk[] = "hi\n\0\xff";

static struct msb_msg msgs[MSB_MSG__COUNT + 1];

static void make_msgs(void)
{
	struct msb_msg *m;

	m = &msgs[MSB_MSG_HELLO];
	m->has = MSB_HAS(MSB_FLD_VERSION) | MSB_HAS(MSB_FLD_ENV) |
		 MSB_HAS(MSB_FLD_HOSTNAME) | MSB_HAS(MSB_FLD_ROOT) |
		 MSB_HAS(MSB_FLD_FSTYPE) | MSB_HAS(MSB_FLD_TIME);
	m->version = MSB_PROTO_VERSION;
	m->env.v = env_std;
	m->hostname = msb_str("sandbox");
	m->root = msb_str("/dev/vda");
	m->fstype = msb_str("ext4");
	m->time = 1700000000000000000ull;

	m = &msgs[MSB_MSG_READY];
	m->has = MSB_HAS(MSB_FLD_VERSION) | MSB_HAS(MSB_FLD_UPTIME) |
		 MSB_HAS(MSB_FLD_AGENT) | MSB_HAS(MSB_FLD_MODULES) |
		 MSB_HAS(MSB_FLD_MOUNT);
	m->version = MSB_PROTO_VERSION;
	m->uptime_us = 81234;
	m->agent_us = 1200;
	m->modules_us = 300;
	m->mount_us = 70000;

	m = &msgs[MSB_MSG_EXEC];
	m->has = MSB_HAS(MSB_FLD_ARGV) | MSB_HAS(MSB_FLD_ENV) |
		 MSB_HAS(MSB_FLD_CWD);
	m->argv.v = argv_sh;
	m->env.v = env_std;
	m->cwd = msb_str("/root");

	m = &msgs[MSB_MSG_STARTED];
	m->has = MSB_HAS(MSB_FLD_PID);
	m->pid = 123;

	for (int t = MSB_MSG_STDIN; t <= MSB_MSG_STDERR; t++) {
		msgs[t].has = MSB_HAS(MSB_FLD_DATA);
		msgs[t].data = (struct msb_bytes){chunk, sizeof(chunk) - 1};
	}

	m = &msgs[MSB_MSG_SIGNAL];
	m->has = MSB_HAS(MSB_FLD_SIG);
	m->sig = 15;

	m = &msgs[MSB_MSG_EXITED];
	m->has = MSB_HAS(MSB_FLD_CODE);
	m->code = 3;

	m = &msgs[MSB_MSG_FAILED];
	m->has = MSB_HAS(MSB_FLD_KIND) | MSB_HAS(MSB_FLD_ERRNO) |
		 MSB_HAS(MSB_FLD_MSG);
	m->kind = msb_str("not_found");
	m->err = 2;
	m->msg = msb_str("execve `/bin/nope`: No such file or directory");

	m = &msgs[MSB_MSG_ERROR];
	m->has = MSB_HAS(MSB_FLD_MSG);
	m->msg = msb_str("unknown message type `frob`");

	for (int t = 1; t < MSB_MSG__COUNT; t++)
		msgs[t].type = (enum msb_msg_type)t;
}

/* {"t": "ping", "x": <hex>} framed, for odd values under an unknown key or
 * a known one. */
static void framed_kv(const char *name, const char *type, const char *key,
		      const uint8_t *val, size_t n)
{
	struct msb_buf p = {0}, out = {0};

	ok(cbor_put_map(&p, 2));
	put_str(&p, "t");
	put_str(&p, type);
	put_str(&p, key);
	ok(msb_buf_append(&p, val, n));
	frame_raw(&out, &p);
	write_buf(name, &out);
	msb_buf_free(&p);
	msb_buf_free(&out);
}

/* One request frame into file @name of the agent folder. */
static void seed(const char *name, uint32_t stream, uint8_t flags,
		 const struct msb_msg *m)
{
	struct msb_buf b = {0};

	frame(&b, stream, flags, m);
	write_buf(name, &b);
	msb_buf_free(&b);
}

/* Requests as the host sends them, good and bad, for agent_fuzz. */
static void agent_seeds(const char *agent_dir)
{
	static const char *const argv_ok[] = {"sh", "-c", "echo hi", NULL};
	static const char *const argv_empty[] = {"", NULL};
	static const char *const env_bad[] = {"NOVALUE", NULL};
	static const char *const rl_ok[] = {"nofile=64:128", "core=0", NULL};
	static const char *const rl_bad[] = {"nofile=9:1", NULL};
	struct msb_msg m;

	dir = agent_dir;
	m = (struct msb_msg){.type = MSB_MSG_HELLO,
			     .has = MSB_HAS(MSB_FLD_VERSION) |
				    MSB_HAS(MSB_FLD_ROOT) |
				    MSB_HAS(MSB_FLD_ENV),
			     .version = MSB_PROTO_VERSION,
			     .root = msb_str("/dev/vda"),
			     .env = {.v = env_std}};
	seed("hello", 0, 0, &m);
	static const char *const mounts_ok[] = {
		"tmpfs:1048576:1777:/scratch", "tmpfs:0:755:/a:b",
		"vol:3:ro:/data", "bind:fs0:rw:/work", NULL};
	static const char *const mounts_bad[] = {
		"tmpfs:1k:1777:/x", "tmpfs:0:9:/x",
		"nfs:0:0:/x",       "tmpfs:0:755:rel",
		"vol:256:ro:/x",    "bind::rw:/x",
		"vol:1:rx:/x",      NULL};
	m.has |= MSB_HAS(MSB_FLD_MOUNTS);
	m.mounts.v = mounts_ok;
	seed("hello-mounts", 0, 0, &m);
	m.mounts.v = mounts_bad;
	seed("bad-hello-mounts", 0, 0, &m);
	static const char *const one_bad[] = {"tmpfs:0:755:rel", NULL};
	m.mounts.v = one_bad;
	seed("bad-hello-mount-path", 0, 0, &m);
	m = (struct msb_msg){
		.type = MSB_MSG_EXEC,
		.has = MSB_HAS(MSB_FLD_ARGV) | MSB_HAS(MSB_FLD_RLIMITS) |
		       MSB_HAS(MSB_FLD_FLAGS) | MSB_HAS(MSB_FLD_ROWS) |
		       MSB_HAS(MSB_FLD_COLS),
		.argv = {.v = argv_ok},
		.rlimits = {.v = rl_ok},
		.flags = MSB_EXEC_STDIN | MSB_EXEC_TTY,
		.rows = 24,
		.cols = 80};
	seed("exec-tty-rlimits", 1, MSB_F_START, &m);
	m.flags = MSB_EXEC_KILL_GROUP;
	seed("exec-kill-group", 1, MSB_F_START, &m);
	m.flags = 1u << 7;
	seed("bad-exec-flags", 1, MSB_F_START, &m);
	m.flags = MSB_EXEC_STDIN | MSB_EXEC_TTY;
	seed("bad-exec-no-start", 1, 0, &m);
	m.rlimits.v = rl_bad;
	seed("bad-exec-rlimit", 1, MSB_F_START, &m);
	m.has &= ~MSB_HAS(MSB_FLD_RLIMITS);
	m.argv.v = argv_empty;
	seed("bad-exec-empty-argv", 1, MSB_F_START, &m);
	m.argv.v = argv_ok;
	m.has |= MSB_HAS(MSB_FLD_ENV);
	m.env.v = env_bad;
	seed("bad-exec-env", 1, MSB_F_START, &m);
	m = (struct msb_msg){.type = MSB_MSG_RESIZE,
			     .has = MSB_HAS(MSB_FLD_ROWS) |
				    MSB_HAS(MSB_FLD_COLS),
			     .rows = 40,
			     .cols = 120};
	seed("resize", 1, 0, &m);
	m.cols = 70000;
	seed("bad-resize", 1, 0, &m);
	m = (struct msb_msg){.type = MSB_MSG_CREDIT,
			     .has = MSB_HAS(MSB_FLD_SIZE),
			     .size = 1u << 18};
	seed("credit", 1, 0, &m);
	m = (struct msb_msg){.type = MSB_MSG_SIGNAL,
			     .has = MSB_HAS(MSB_FLD_SIG),
			     .sig = 1000};
	seed("bad-signal", 1, 0, &m);
	m = (struct msb_msg){.type = MSB_MSG_FS_WRITE,
			     .has = MSB_HAS(MSB_FLD_PATH) |
				    MSB_HAS(MSB_FLD_MODE) |
				    MSB_HAS(MSB_FLD_FLAGS),
			     .path = msb_str("/tmp/x"),
			     .mode = 0644,
			     .flags = MSB_FS_CREATE | MSB_FS_TRUNC};
	seed("fs-write", 2, MSB_F_START, &m);
	m.flags = MSB_FS_RECURSIVE;
	seed("bad-fs-write-flags", 2, MSB_F_START, &m);
	m = (struct msb_msg){.type = MSB_MSG_FS_RENAME,
			     .has = MSB_HAS(MSB_FLD_PATH),
			     .path = msb_str("/a")};
	seed("bad-fs-rename-no-path2", 2, MSB_F_START, &m);
	m = (struct msb_msg){.type = MSB_MSG_STDOUT,
			     .has = MSB_HAS(MSB_FLD_DATA),
			     .data = {(const uint8_t *)"x", 1}};
	seed("bad-not-a-request", 1, 0, &m);
	m = (struct msb_msg){.type = MSB_MSG_FS_SYMLINK,
			     .has = MSB_HAS(MSB_FLD_PATH) |
				    MSB_HAS(MSB_FLD_TARGET),
			     .path = msb_str("/tmp/l"),
			     .target = msb_str("../x")};
	seed("fs-symlink", 3, MSB_F_START, &m);
	m = (struct msb_msg){.type = MSB_MSG_EXEC,
			     .has = MSB_HAS(MSB_FLD_ARGV) |
				    MSB_HAS(MSB_FLD_FLAGS),
			     .argv = {.v = argv_ok},
			     .flags = MSB_EXEC_DETACH | MSB_EXEC_STDIN};
	seed("exec-detach", 4, MSB_F_START, &m);
	m = (struct msb_msg){.type = MSB_MSG_PROC_LIST};
	seed("proc-list", 5, MSB_F_START, &m);
	seed("bad-proc-list-no-start", 5, 0, &m);
	m = (struct msb_msg){.type = MSB_MSG_PROC_SIGNAL,
			     .has = MSB_HAS(MSB_FLD_ID) | MSB_HAS(MSB_FLD_SIG),
			     .id = 1,
			     .sig = 15};
	seed("proc-signal", 6, MSB_F_START, &m);
	m.sig = 1000;
	seed("bad-proc-signal-sig", 6, MSB_F_START, &m);
	m.has = MSB_HAS(MSB_FLD_SIG);
	seed("bad-proc-signal-no-id", 6, MSB_F_START, &m);
	m = (struct msb_msg){.type = MSB_MSG_PROC_ATTACH,
			     .has = MSB_HAS(MSB_FLD_ID) |
				    MSB_HAS(MSB_FLD_FLAGS),
			     .id = 1,
			     .flags = MSB_PATTACH_REPLAY | MSB_PATTACH_FOLLOW |
				      MSB_PATTACH_STDIN};
	seed("proc-attach", 7, MSB_F_START, &m);
	m.flags = 1u << 9;
	seed("bad-proc-attach-flags", 7, MSB_F_START, &m);
	m.id = UINT64_MAX;
	m.flags = MSB_PATTACH_REPLAY;
	seed("proc-attach-huge-id", 7, MSB_F_START, &m);
	m = (struct msb_msg){
		.type = MSB_MSG_SIGNAL, .has = MSB_HAS(MSB_FLD_SIG), .sig = 0};
	seed("signal-detach", 7, 0, &m);
	m = (struct msb_msg){.type = MSB_MSG_PROC_REMOVE,
			     .has = MSB_HAS(MSB_FLD_ID) |
				    MSB_HAS(MSB_FLD_FLAGS),
			     .id = 1,
			     .flags = MSB_PREMOVE_FORCE};
	seed("proc-remove", 8, MSB_F_START, &m);
	m.flags = 1u << 5;
	seed("bad-proc-remove-flags", 8, MSB_F_START, &m);
	m.has = MSB_HAS(MSB_FLD_FLAGS);
	seed("bad-proc-remove-no-id", 8, MSB_F_START, &m);
}

int main(int argc, char **argv)
{
	struct msb_buf b = {0}, p = {0};
	struct msb_msg m;
	char name[64];

	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: %s DIR [AGENT_DIR]\n", argv[0]);
		return 2;
	}
	dir = argv[1];
	make_msgs();

	/* One valid frame per type. */
	for (int t = 1; t < MSB_MSG__COUNT; t++) {
		msb_buf_reset(&b);
		frame(&b, t == MSB_MSG_HELLO || t >= MSB_MSG_SHUTDOWN ? 0 : 1,
		      t == MSB_MSG_EXEC ? MSB_F_START : 0, &msgs[t]);
		snprintf(name, sizeof(name), "valid-%s",
			 msb_msg_type_name((enum msb_msg_type)t));
		write_buf(name, &b);
	}

	/* Variants. */
	m = msgs[MSB_MSG_EXITED];
	m.has = MSB_HAS(MSB_FLD_SIG);
	m.sig = 9;
	msb_buf_reset(&b);
	frame(&b, 1, MSB_F_END, &m);
	write_buf("valid-exited-sig", &b);

	m = msgs[MSB_MSG_EXITED];
	m.has = MSB_HAS(MSB_FLD_CODE) | MSB_HAS(MSB_FLD_SIG);
	m.code = INT64_MIN;
	m.sig = INT64_MAX;
	msb_buf_reset(&b);
	frame(&b, 1, MSB_F_END, &m);
	write_buf("valid-exited-extremes", &b);

	memset(&m, 0, sizeof(m));
	m.type = MSB_MSG_EXEC;
	m.has = (UINT64_C(1) << MSB_FLD__COUNT) - 1;
	m.version = UINT64_MAX;
	m.data = (struct msb_bytes){chunk, sizeof(chunk) - 1};
	m.argv.v = argv_sh;
	m.env.v = env_std;
	m.cwd = msb_str("/");
	m.hostname = msb_str("h\xc3\xa9");
	m.root = msb_str("/dev/vda");
	m.fstype = msb_str("erofs");
	m.time = 4294967296u;
	m.code = -24;
	m.sig = -25;
	m.pid = 65536;
	m.err = -256;
	m.kind = msb_str("k");
	m.msg = msb_str("\xf0\x9f\x98\x80");
	m.uptime_us = 23;
	m.agent_us = 24;
	m.modules_us = 255;
	m.mount_us = 65535;
	msb_buf_reset(&b);
	frame(&b, 0xffffffffu, 0xff, &m);
	write_buf("valid-all-fields", &b);

	/* A whole session, back to back. */
	msb_buf_reset(&b);
	frame(&b, 0, MSB_F_START, &msgs[MSB_MSG_HELLO]);
	frame(&b, 0, 0, &msgs[MSB_MSG_READY]);
	frame(&b, 1, MSB_F_START, &msgs[MSB_MSG_EXEC]);
	frame(&b, 1, 0, &msgs[MSB_MSG_STARTED]);
	frame(&b, 1, MSB_F_END, &msgs[MSB_MSG_STDIN]);
	frame(&b, 1, 0, &msgs[MSB_MSG_STDOUT]);
	frame(&b, 1, 0, &msgs[MSB_MSG_STDERR]);
	frame(&b, 1, MSB_F_END, &msgs[MSB_MSG_EXITED]);
	frame(&b, 0, 0, &msgs[MSB_MSG_PING]);
	frame(&b, 0, 0, &msgs[MSB_MSG_PONG]);
	frame(&b, 0, MSB_F_SHUTDOWN, &msgs[MSB_MSG_SHUTDOWN]);
	write_buf("valid-session", &b);

	/* Truncated session and frames. */
	b.len -= 3;
	write_buf("trunc-session", &b);
	msb_buf_reset(&b);
	frame(&b, 1, MSB_F_START, &msgs[MSB_MSG_EXEC]);
	b.len = 9;
	write_buf("trunc-header-only", &b);
	msb_buf_reset(&b);
	frame(&b, 1, MSB_F_START, &msgs[MSB_MSG_EXEC]);
	b.len = 5;
	write_buf("trunc-in-header", &b);
	/* A complete frame whose payload stops short. */
	msb_buf_reset(&p);
	ok(msb_msg_encode(&p, &msgs[MSB_MSG_EXEC]));
	p.len -= 7;
	msb_buf_reset(&b);
	frame_raw(&b, &p);
	write_buf("trunc-payload", &b);

	/* Raw payloads (no frame header): the harness decodes the input
	 * directly too. */
	msb_buf_reset(&p);
	ok(msb_msg_encode(&p, &msgs[MSB_MSG_EXEC]));
	write_buf("payload-exec", &p);
	msb_buf_reset(&p);
	ok(msb_msg_encode(&p, &msgs[MSB_MSG_HELLO]));
	write_buf("payload-hello", &p);

	/* Frame lengths. */
	msb_buf_reset(&b);
	{
		uint8_t h[MSB_FRAME_HDR];

		msb_frame_put_hdr(h, 0, 0, 0);
		put_be32(h, 4);
		write_file("bad-len-4", h, sizeof(h));
		put_be32(h, MSB_FRAME_MAX + 1);
		write_file("bad-len-over-max", h, sizeof(h));
		msb_frame_put_hdr(h, 0, 0, 0);
		write_file("empty-payload", h, sizeof(h));
	}

	/* Malformed payloads in valid frames. */
	{
		static const uint8_t two[] = {0x01};
		static const uint8_t fl[] = {0xf9, 0x3c, 0x00};
		static const uint8_t tag[] = {0xc1, 0x1a, 0x51,
					      0x4b, 0x67, 0xb0};
		static const uint8_t indef[] = {0x9f, 0x01, 0xff};
		static const uint8_t badutf[] = {0x63, 0xed, 0xa0, 0x80};
		static const uint8_t huge[] = {0x5b, 0x80, 0, 0, 0, 0, 0, 0, 0};
		static const uint8_t intel[] = {0x82, 0x61, 0x61, 0x01};
		static const uint8_t nul[] = {0x82, 0x61, 0x61, 0x63,
					      0x58, 0x00, 0x59};
		static const uint8_t neg[] = {0x3b, 0x7f, 0xff, 0xff, 0xff,
					      0xff, 0xff, 0xff, 0xff};
		static const uint8_t negover[] = {0x3b, 0x80, 0, 0, 0,
						  0,    0,    0, 0};
		static const uint8_t deep_ok[] = {0x81, 0x81, 0x81, 0x81,
						  0x81, 0x81, 0x80};
		static const uint8_t deep_bad[] = {0x81, 0x81, 0x81, 0x81,
						   0x81, 0x81, 0x81, 0x80};
		static const uint8_t nested[] = {0xa2, 0x01, 0xf5, 0x80,
						 0xa1, 0x61, 0x62, 0xf6};

		framed_kv("bad-dup-key", "ping", "t", (const uint8_t *)"\x61x",
			  2);
		framed_kv("bad-v-text", "hello", "v", (const uint8_t *)"\x61x",
			  2);
		framed_kv("ok-unknown-key", "ping", "zz", two, sizeof(two));
		framed_kv("bad-float", "ping", "x", fl, sizeof(fl));
		framed_kv("bad-tag", "ping", "x", tag, sizeof(tag));
		framed_kv("bad-indefinite", "ping", "x", indef, sizeof(indef));
		framed_kv("bad-utf8-cwd", "exec", "cwd", badutf,
			  sizeof(badutf));
		framed_kv("bad-huge-bytes", "stdin", "data", huge,
			  sizeof(huge));
		framed_kv("bad-argv-int", "exec", "argv", intel, sizeof(intel));
		framed_kv("ok-argv-nul", "exec", "argv", nul, sizeof(nul));
		framed_kv("ok-code-min", "exited", "code", neg, sizeof(neg));
		framed_kv("bad-code-below-min", "exited", "code", negover,
			  sizeof(negover));
		framed_kv("ok-depth-limit", "ping", "x", deep_ok,
			  sizeof(deep_ok));
		framed_kv("bad-depth", "ping", "x", deep_bad, sizeof(deep_bad));
		framed_kv("ok-unknown-type", "frob", "x", nested,
			  sizeof(nested));
	}

	/* Text in every UTF-8 length class, and empty strings. */
	{
		static const char *const utf8[] = {"",
						   "\xc3\xa9",
						   "\xe0\xa0\x80",
						   "\xed\x9f\xbf",
						   "\xef\xbf\xbf",
						   "\xf0\x90\x80\x80",
						   "\xf3\xa0\x80\x80",
						   "\xf4\x8f\xbf\xbf",
						   NULL};

		memset(&m, 0, sizeof(m));
		m.type = MSB_MSG_EXEC;
		m.has = MSB_HAS(MSB_FLD_ARGV) | MSB_HAS(MSB_FLD_CWD);
		m.argv.v = utf8;
		m.cwd = msb_str("");
		msb_buf_reset(&b);
		frame(&b, 1, MSB_F_START, &m);
		write_buf("ok-utf8-classes", &b);
	}

	/* One frame per kind of invalid UTF-8, back to back. */
	{
		static const char *const bad[] = {
			"\xc0\x80",
			"\xc1\xbf",
			"\xe0\x80\x80",
			"\xe0\x9f\xbf",
			"\xed\xa0\x80",
			"\xf0\x80\x80\x80",
			"\xf0\x8f\xbf\xbf",
			"\xf4\x90\x80\x80",
			"\xf5\x80\x80\x80",
			"\xff",
			"\x80",
			"\xe2\x82",
			"\xe2\x28\xa1",
			"\xf0\x90\x28\xbc",
			"\xf0\x90\x80\xc0",
		};

		msb_buf_reset(&b);
		for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
			msb_buf_reset(&p);
			ok(cbor_put_map(&p, 2));
			put_str(&p, "t");
			put_str(&p, "exec");
			put_str(&p, "cwd");
			/* Bypass the encoder's UTF-8 check. */
			ok(cbor_put_bytes(&p, bad[i], strlen(bad[i])));
			p.data[p.len - strlen(bad[i]) - 1] += 0x20;
			frame_raw(&b, &p);
		}
		write_buf("bad-utf8-variety", &b);
	}

	/* Strings with a NUL inside decode, but cannot be copied. */
	memset(&m, 0, sizeof(m));
	m.type = MSB_MSG_FAILED;
	m.has = MSB_HAS(MSB_FLD_MSG) | MSB_HAS(MSB_FLD_KIND);
	m.msg = (struct msb_bytes){(const uint8_t *)"a\0b", 3};
	m.kind = msb_str("");
	msb_buf_reset(&b);
	frame(&b, 1, MSB_F_END, &m);
	write_buf("ok-text-nul", &b);

	/* A repeated known field; an unknown key holding maps. */
	{
		static const uint8_t dup[] = {0x01, 0x64, 'c', 'o',
					      'd',  'e',  0x02};
		static const uint8_t maps[] = {0xa2, 0x61, 'a',  0xa1,
					       0x00, 0x80, 0x01, 0xa0};
		static const uint8_t hugemap[] = {0xbb, 0x80, 0, 0, 0,
						  0,    0,    0, 0, 0x00};

		msb_buf_reset(&p);
		ok(cbor_put_map(&p, 3));
		put_str(&p, "t");
		put_str(&p, "exited");
		put_str(&p, "code");
		ok(msb_buf_append(&p, dup, sizeof(dup)));
		msb_buf_reset(&b);
		frame_raw(&b, &p);
		write_buf("bad-dup-field", &b);
		framed_kv("ok-unknown-maps", "ping", "x", maps, sizeof(maps));
		framed_kv("bad-unknown-huge-map", "ping", "x", hugemap,
			  sizeof(hugemap));
		/* Raw payload: a map claiming 2^63 pairs. */
		write_file("bad-huge-map", hugemap, sizeof(hugemap));
	}

	/* Not a map; trailing bytes. */
	msb_buf_reset(&p);
	ok(cbor_put_array(&p, 1));
	put_str(&p, "t");
	msb_buf_reset(&b);
	frame_raw(&b, &p);
	write_buf("bad-not-map", &b);
	msb_buf_reset(&p);
	ok(msb_msg_encode(&p, &msgs[MSB_MSG_PING]));
	ok(cbor_put_null(&p));
	msb_buf_reset(&b);
	frame_raw(&b, &p);
	write_buf("bad-trailing", &b);

	if (argc == 3)
		agent_seeds(argv[2]);
	msb_buf_free(&b);
	msb_buf_free(&p);
	return 0;
}
