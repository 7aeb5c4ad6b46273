// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer harness for the agent wire protocol: the input is a byte stream
 * of frames (fed to a reader in chunks) and also one raw payload. Every
 * message that decodes must re-encode, decode again to the same message,
 * and re-encode to the same bytes; any mismatch aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proto.h"
#include "util/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(what)                                                             \
	do {                                                                   \
		fprintf(stderr, "proto_fuzz: %s (%s:%d)\n", what, __FILE__,    \
			__LINE__);                                             \
		abort();                                                       \
	} while (0)

static bool bytes_eq(struct msb_bytes a, struct msb_bytes b)
{
	return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

static bool strv_eq(const struct msb_strv *a, const struct msb_strv *b)
{
	size_t ia = 0, ib = 0;
	struct msb_bytes sa, sb;

	if (a->count != b->count)
		return false;
	for (;;) {
		bool ha = msb_strv_next(a, &ia, &sa);
		bool hb = msb_strv_next(b, &ib, &sb);

		if (ha != hb)
			return false;
		if (!ha)
			return true;
		if (!bytes_eq(sa, sb))
			return false;
	}
}

static bool msg_eq(const struct msb_msg *a, const struct msb_msg *b)
{
	uint64_t h = a->has;

	if (a->type != b->type || a->has != b->has)
		return false;
#define SAME_INT(f, x)                                                         \
	if ((h & MSB_HAS(f)) && a->x != b->x)                                  \
		return false;
#define SAME_STR(f, x)                                                         \
	if ((h & MSB_HAS(f)) && !bytes_eq(a->x, b->x))                         \
		return false;
#define SAME_STRV(f, x)                                                        \
	if ((h & MSB_HAS(f)) && !strv_eq(&a->x, &b->x))                        \
		return false;
	SAME_INT(MSB_FLD_VERSION, version)
	SAME_STR(MSB_FLD_DATA, data)
	SAME_STRV(MSB_FLD_ARGV, argv)
	SAME_STRV(MSB_FLD_ENV, env)
	SAME_STR(MSB_FLD_CWD, cwd)
	SAME_STR(MSB_FLD_HOSTNAME, hostname)
	SAME_STR(MSB_FLD_ROOT, root)
	SAME_STR(MSB_FLD_FSTYPE, fstype)
	SAME_INT(MSB_FLD_TIME, time)
	SAME_INT(MSB_FLD_CODE, code)
	SAME_INT(MSB_FLD_SIG, sig)
	SAME_INT(MSB_FLD_PID, pid)
	SAME_INT(MSB_FLD_ERRNO, err)
	SAME_STR(MSB_FLD_KIND, kind)
	SAME_STR(MSB_FLD_MSG, msg)
	SAME_INT(MSB_FLD_UPTIME, uptime_us)
	SAME_INT(MSB_FLD_AGENT, agent_us)
	SAME_INT(MSB_FLD_MODULES, modules_us)
	SAME_INT(MSB_FLD_MOUNT, mount_us)
	SAME_INT(MSB_FLD_TIMEOUT, timeout_ms)
	SAME_STR(MSB_FLD_USER, user)
	SAME_STR(MSB_FLD_PATH, path)
	SAME_STR(MSB_FLD_PATH2, path2)
	SAME_INT(MSB_FLD_MODE, mode)
	SAME_INT(MSB_FLD_UID, uid)
	SAME_INT(MSB_FLD_GID, gid)
	SAME_INT(MSB_FLD_FLAGS, flags)
	SAME_INT(MSB_FLD_OFFSET, offset)
	SAME_INT(MSB_FLD_SIZE, size)
	SAME_STR(MSB_FLD_NAME, name)
	SAME_STR(MSB_FLD_FTYPE, ftype)
	SAME_INT(MSB_FLD_MTIME, mtime_ns)
	SAME_STR(MSB_FLD_TARGET, target)
	SAME_INT(MSB_FLD_CPU_US, cpu_us)
	SAME_INT(MSB_FLD_CPU_PCT, cpu_pct)
	SAME_INT(MSB_FLD_RSS, rss)
	SAME_INT(MSB_FLD_MEM_USED, mem_used)
	SAME_INT(MSB_FLD_MEM_TOTAL, mem_total)
	SAME_INT(MSB_FLD_DISK_RD, disk_rd)
	SAME_INT(MSB_FLD_DISK_WR, disk_wr)
	SAME_INT(MSB_FLD_NET_RX, net_rx)
	SAME_INT(MSB_FLD_NET_TX, net_tx)
	SAME_STRV(MSB_FLD_RLIMITS, rlimits)
	SAME_INT(MSB_FLD_ROWS, rows)
	SAME_INT(MSB_FLD_COLS, cols)
	SAME_STRV(MSB_FLD_MOUNTS, mounts)
	SAME_INT(MSB_FLD_ID, id)
	SAME_STRV(MSB_FLD_NET, net)
	SAME_INT(MSB_FLD_RX_PKTS, net_rx_pkts)
	SAME_INT(MSB_FLD_TX_PKTS, net_tx_pkts)
	SAME_INT(MSB_FLD_FLOWS, net_flows)
	SAME_INT(MSB_FLD_DENIED, net_denied)
	SAME_STR(MSB_FLD_ENTROPY, entropy)
	SAME_STR(MSB_FLD_CA, ca)
	_Static_assert(MSB_FLD__COUNT == MSB_FLD_CA + 1,
		       "compare every field here");
#undef SAME_INT
#undef SAME_STR
#undef SAME_STRV
	return true;
}

/* Iterate and copy a decoded string array; check it against itself. */
static void check_strv(const struct msb_strv *v)
{
	struct msb_bytes s;
	size_t it = 0, n = 0;
	bool has_nul = false;
	char **dup;

	while (msb_strv_next(v, &it, &s)) {
		if (s.n && memchr(s.p, 0, s.n))
			has_nul = true;
		n++;
	}
	if (n != v->count || it != v->rawlen)
		FAIL("strv iteration does not cover the array");
	dup = msb_strv_dup(v);
	if (!dup) {
		if (!has_nul)
			FAIL("strv_dup failed without an embedded NUL");
		return;
	}
	if (has_nul)
		FAIL("strv_dup accepted an embedded NUL");
	it = 0;
	for (size_t i = 0; i < n; i++) {
		if (!dup[i] || !msb_strv_next(v, &it, &s) ||
		    !msb_bytes_eq(s, dup[i]))
			FAIL("strv_dup content differs");
	}
	if (dup[n])
		FAIL("strv_dup not NULL-terminated");
	free(dup);
}

static void check_text(struct msb_bytes b)
{
	char *s = msb_bytes_dup(b);

	/* Absent fields are zero: b.n == 0 gives "". */
	if (!s) {
		if (!b.n || !memchr(b.p, 0, b.n))
			FAIL("bytes_dup failed without an embedded NUL");
		return;
	}
	if (!msb_bytes_eq(b, s))
		FAIL("bytes_dup content differs");
	free(s);
}

static void check_msg(const struct msb_msg *m)
{
	struct msb_buf b1 = {0}, b2 = {0}, fb = {0};
	struct msb_msg m2;
	struct msb_frame f;

	if (m->has & MSB_HAS(MSB_FLD_ARGV))
		check_strv(&m->argv);
	if (m->has & MSB_HAS(MSB_FLD_ENV))
		check_strv(&m->env);
	check_text(m->cwd);
	check_text(m->hostname);
	check_text(m->root);
	check_text(m->fstype);
	check_text(m->kind);
	check_text(m->msg);

	if (m->type == MSB_MSG_UNKNOWN) {
		if (msb_msg_encode(&b1, m) == 0 || b1.len != 0)
			FAIL("encoded a message of unknown type");
		msb_buf_free(&b1);
		return;
	}
	if (msb_msg_encode(&b1, m) < 0)
		FAIL("re-encoding a decoded message failed");
	if (msb_msg_decode(&m2, b1.data, b1.len) < 0)
		FAIL("decoding a re-encoded message failed");
	if (!msg_eq(m, &m2))
		FAIL("round trip changed the message");
	if (msb_msg_encode(&b2, &m2) < 0)
		FAIL("second re-encoding failed");
	if (b1.len != b2.len || memcmp(b1.data, b2.data, b1.len) != 0)
		FAIL("encoding is not canonical");

	if (msb_frame_encode(&fb, 7, MSB_F_END, m) < 0)
		FAIL("frame_encode failed");
	if (msb_frame_next(&f, &fb) != 1 || msb_frame_size(&f) != fb.len ||
	    f.hdr.stream != 7 || f.hdr.flags != MSB_F_END ||
	    f.payload_len != b1.len || memcmp(f.payload, b1.data, b1.len) != 0)
		FAIL("frame does not hold the payload");

	msb_buf_free(&b1);
	msb_buf_free(&b2);
	msb_buf_free(&fb);
}

static void check_payload(const uint8_t *p, size_t n)
{
	struct msb_msg m;

	if (msb_msg_decode(&m, p, n) == 0)
		check_msg(&m);
	else if (m.type != MSB_MSG_UNKNOWN || m.has != 0)
		FAIL("failed decode left fields set");
}

/* Take every complete frame out of @in. Return -1 on a bad length. */
static int drain(struct msb_buf *in)
{
	struct msb_frame f;
	int r;

	while ((r = msb_frame_next(&f, in)) == 1) {
		if (f.hdr.len < 5 || f.hdr.len > MSB_FRAME_MAX ||
		    f.payload_len != f.hdr.len - 5u ||
		    msb_frame_size(&f) > msb_buf_avail(in))
			FAIL("inconsistent frame");
		check_payload(f.payload, f.payload_len);
		msb_buf_consume(in, msb_frame_size(&f));
	}
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msb_buf in = {0};
	/* Feed in chunks of 1..64 bytes chosen by the first byte. */
	size_t chunk = size ? (size_t)(data[0] % 64) + 1 : 1;

	for (size_t off = 0; off < size;) {
		size_t n = size - off < chunk ? size - off : chunk;

		if (msb_buf_append(&in, data + off, n) < 0)
			break;
		off += n;
		if (drain(&in) < 0)
			break;
	}
	msb_buf_free(&in);

	check_payload(data, size);
	return 0;
}
