// SPDX-License-Identifier: Apache-2.0
/*
 * Agent wire protocol: frames and messages (see proto.h for the format).
 *
 * DOC: Theory of operation
 *
 * Messages are described by one table, fields[], indexed by enum msb_field:
 * the CBOR key, the kind of value and where it lives in struct msb_msg. The
 * encoder and the decoder are loops over that table, so a new field is one
 * enum value, one struct member and one table line.
 *
 * The decoder walks the top-level map once with a cbor_dec cursor whose
 * item budget (MSB_PROTO_MAX_ITEMS) bounds all work, including skipping
 * unknown values and string arrays. Known keys are matched against the
 * table; a repeated known key, a known key with the wrong type, a missing or
 * non-text "t", or bytes after the map reject the whole payload. Strings are
 * not copied: they point into the payload.
 */
#include "proto.h"

#include <string.h>

#include "cbor.h"

enum field_kind {
	FK_UINT,  /* uint64_t, CBOR unsigned */
	FK_INT,   /* int64_t, CBOR unsigned or negative */
	FK_BYTES, /* struct msb_bytes, CBOR byte string */
	FK_TEXT,  /* struct msb_bytes, CBOR text string */
	FK_TEXTV, /* struct msb_strv, CBOR array of text strings */
};

struct field {
	const char *key;
	enum field_kind kind;
	size_t off; /* in struct msb_msg */
};

#define FIELD(id, k, kd, member)                                               \
	[id] = {.key = k, .kind = kd, .off = offsetof(struct msb_msg, member)}

static const struct field fields[] = {
	FIELD(MSB_FLD_VERSION, "v", FK_UINT, version),
	FIELD(MSB_FLD_DATA, "data", FK_BYTES, data),
	FIELD(MSB_FLD_ARGV, "argv", FK_TEXTV, argv),
	FIELD(MSB_FLD_ENV, "env", FK_TEXTV, env),
	FIELD(MSB_FLD_CWD, "cwd", FK_TEXT, cwd),
	FIELD(MSB_FLD_HOSTNAME, "host", FK_TEXT, hostname),
	FIELD(MSB_FLD_ROOT, "root", FK_TEXT, root),
	FIELD(MSB_FLD_FSTYPE, "fs", FK_TEXT, fstype),
	FIELD(MSB_FLD_TIME, "time", FK_UINT, time),
	FIELD(MSB_FLD_CODE, "code", FK_INT, code),
	FIELD(MSB_FLD_SIG, "sig", FK_INT, sig),
	FIELD(MSB_FLD_PID, "pid", FK_INT, pid),
	FIELD(MSB_FLD_ERRNO, "errno", FK_INT, err),
	FIELD(MSB_FLD_KIND, "kind", FK_TEXT, kind),
	FIELD(MSB_FLD_MSG, "msg", FK_TEXT, msg),
	FIELD(MSB_FLD_UPTIME, "uptime_us", FK_UINT, uptime_us),
	FIELD(MSB_FLD_AGENT, "agent_us", FK_UINT, agent_us),
	FIELD(MSB_FLD_MODULES, "modules_us", FK_UINT, modules_us),
	FIELD(MSB_FLD_MOUNT, "mount_us", FK_UINT, mount_us),
	FIELD(MSB_FLD_TIMEOUT, "timeout_ms", FK_UINT, timeout_ms),
	FIELD(MSB_FLD_USER, "user", FK_TEXT, user),
	FIELD(MSB_FLD_PATH, "path", FK_TEXT, path),
	FIELD(MSB_FLD_PATH2, "path2", FK_TEXT, path2),
	FIELD(MSB_FLD_MODE, "mode", FK_UINT, mode),
	FIELD(MSB_FLD_UID, "uid", FK_INT, uid),
	FIELD(MSB_FLD_GID, "gid", FK_INT, gid),
	FIELD(MSB_FLD_FLAGS, "flags", FK_UINT, flags),
	FIELD(MSB_FLD_OFFSET, "offset", FK_UINT, offset),
	FIELD(MSB_FLD_SIZE, "size", FK_UINT, size),
	FIELD(MSB_FLD_NAME, "name", FK_TEXT, name),
	FIELD(MSB_FLD_FTYPE, "ftype", FK_TEXT, ftype),
	FIELD(MSB_FLD_MTIME, "mtime_ns", FK_INT, mtime_ns),
	FIELD(MSB_FLD_TARGET, "target", FK_TEXT, target),
	FIELD(MSB_FLD_CPU_US, "cpu_us", FK_UINT, cpu_us),
	FIELD(MSB_FLD_CPU_PCT, "cpu_pct", FK_UINT, cpu_pct),
	FIELD(MSB_FLD_RSS, "rss", FK_UINT, rss),
	FIELD(MSB_FLD_MEM_USED, "mem_used", FK_UINT, mem_used),
	FIELD(MSB_FLD_MEM_TOTAL, "mem_total", FK_UINT, mem_total),
	FIELD(MSB_FLD_DISK_RD, "disk_rd", FK_UINT, disk_rd),
	FIELD(MSB_FLD_DISK_WR, "disk_wr", FK_UINT, disk_wr),
	FIELD(MSB_FLD_NET_RX, "net_rx", FK_UINT, net_rx),
	FIELD(MSB_FLD_NET_TX, "net_tx", FK_UINT, net_tx),
	FIELD(MSB_FLD_RLIMITS, "rlimits", FK_TEXTV, rlimits),
	FIELD(MSB_FLD_ROWS, "rows", FK_UINT, rows),
	FIELD(MSB_FLD_COLS, "cols", FK_UINT, cols),
	FIELD(MSB_FLD_MOUNTS, "mounts", FK_TEXTV, mounts),
	FIELD(MSB_FLD_ID, "id", FK_UINT, id),
	FIELD(MSB_FLD_NET, "net", FK_TEXTV, net),
	FIELD(MSB_FLD_RX_PKTS, "net_rx_pkts", FK_UINT, net_rx_pkts),
	FIELD(MSB_FLD_TX_PKTS, "net_tx_pkts", FK_UINT, net_tx_pkts),
	FIELD(MSB_FLD_FLOWS, "net_flows", FK_UINT, net_flows),
	FIELD(MSB_FLD_DENIED, "net_denied", FK_UINT, net_denied),
	FIELD(MSB_FLD_ENTROPY, "entropy", FK_BYTES, entropy),
	FIELD(MSB_FLD_CA, "ca", FK_BYTES, ca),
};

_Static_assert(ARRAY_SIZE(fields) == MSB_FLD__COUNT,
	       "every enum msb_field needs a line in fields[]");
_Static_assert(MSB_FLD__COUNT <= 64, "msb_msg.has is 64 bits");

#define TYPE_KEY "t"

static const char *const type_names[MSB_MSG__COUNT] = {
	[MSB_MSG_HELLO] = "hello",
	[MSB_MSG_READY] = "ready",
	[MSB_MSG_EXEC] = "exec",
	[MSB_MSG_STARTED] = "started",
	[MSB_MSG_STDIN] = "stdin",
	[MSB_MSG_STDOUT] = "stdout",
	[MSB_MSG_STDERR] = "stderr",
	[MSB_MSG_SIGNAL] = "signal",
	[MSB_MSG_EXITED] = "exited",
	[MSB_MSG_FAILED] = "failed",
	[MSB_MSG_ERROR] = "error",
	[MSB_MSG_SHUTDOWN] = "shutdown",
	[MSB_MSG_PING] = "ping",
	[MSB_MSG_PONG] = "pong",
	[MSB_MSG_FS_STAT] = "fs_stat",
	[MSB_MSG_FS_LIST] = "fs_list",
	[MSB_MSG_FS_READ] = "fs_read",
	[MSB_MSG_FS_WRITE] = "fs_write",
	[MSB_MSG_FS_MKDIR] = "fs_mkdir",
	[MSB_MSG_FS_REMOVE] = "fs_remove",
	[MSB_MSG_FS_RENAME] = "fs_rename",
	[MSB_MSG_FS_COPY] = "fs_copy",
	[MSB_MSG_FS_CHMOD] = "fs_chmod",
	[MSB_MSG_FS_CHOWN] = "fs_chown",
	[MSB_MSG_FS_SYMLINK] = "fs_symlink",
	[MSB_MSG_FS_ENTRY] = "fs_entry",
	[MSB_MSG_FS_DATA] = "fs_data",
	[MSB_MSG_FS_DONE] = "fs_done",
	[MSB_MSG_METRICS] = "metrics",
	[MSB_MSG_CREDIT] = "credit",
	[MSB_MSG_RESIZE] = "resize",
	[MSB_MSG_OPEN] = "open",
	[MSB_MSG_PROC_LIST] = "proc_list",
	[MSB_MSG_PROC_INFO] = "proc_info",
	[MSB_MSG_PROC_SIGNAL] = "proc_signal",
	[MSB_MSG_PROC_ATTACH] = "proc_attach",
	[MSB_MSG_PROC_REMOVE] = "proc_remove",
	[MSB_MSG_MAIN_ATTACH] = "main_attach",
	[MSB_MSG_PAUSE] = "pause",
	[MSB_MSG_RESUME] = "resume",
	[MSB_MSG_SUSPEND] = "suspend",
	[MSB_MSG_SNAPSHOT] = "snapshot",
};

const char *msb_msg_type_name(enum msb_msg_type t)
{
	if ((unsigned)t >= MSB_MSG__COUNT)
		return NULL;
	return type_names[t];
}

/* Equality of a (p, n) string from the wire with a C string. */
static bool str_is(const uint8_t *p, size_t n, const char *s)
{
	size_t sn = strlen(s);

	return n == sn && (n == 0 || memcmp(p, s, n) == 0);
}

static enum msb_msg_type type_lookup(const uint8_t *p, size_t n)
{
	for (unsigned t = 1; t < MSB_MSG__COUNT; t++)
		if (str_is(p, n, type_names[t]))
			return (enum msb_msg_type)t;
	return MSB_MSG_UNKNOWN;
}

/* --- Frames --- */

int msb_frame_parse_hdr(struct msb_frame_hdr *h, const uint8_t *buf, size_t n)
{
	uint32_t len;

	if (n < MSB_FRAME_HDR)
		return 0;
	len = get_be32(buf);
	if (len < 5 || len > MSB_FRAME_MAX)
		return -1;
	h->len = len;
	h->stream = get_be32(buf + 4);
	h->flags = buf[8];
	return 1;
}

void msb_frame_put_hdr(uint8_t *buf, uint32_t payload_len, uint32_t stream,
		       uint8_t flags)
{
	put_be32(buf, payload_len + 5);
	put_be32(buf + 4, stream);
	buf[8] = flags;
}

int msb_frame_next(struct msb_frame *f, const struct msb_buf *in)
{
	size_t avail = msb_buf_avail(in);
	const uint8_t *head;
	int r;

	if (avail < MSB_FRAME_HDR)
		return 0;
	head = msb_buf_head(in);
	r = msb_frame_parse_hdr(&f->hdr, head, avail);
	if (r <= 0)
		return r;
	/* hdr.len <= MSB_FRAME_MAX, so 4 + len cannot overflow. */
	if (avail < 4u + (size_t)f->hdr.len)
		return 0;
	f->payload = head + MSB_FRAME_HDR;
	f->payload_len = f->hdr.len - 5u;
	return 1;
}

/* --- Strings --- */

bool msb_strv_next(const struct msb_strv *v, size_t *it, struct msb_bytes *s)
{
	struct cbor_dec d;
	struct cbor_item item;

	if (v->v) {
		/* Encoder side: *it is an index into the C array. */
		if (!v->v[*it])
			return false;
		*s = msb_str(v->v[*it]);
		(*it)++;
		return true;
	}
	/* Decoded: *it is a byte offset into the raw array items. */
	if (!v->raw || *it >= v->rawlen)
		return false;
	cbor_dec_init(&d, v->raw + *it, v->rawlen - *it);
	if (cbor_read(&d, &item) < 0 || item.major != CBOR_TEXT)
		return false;
	s->p = item.str;
	s->n = item.len;
	*it += d.off;
	return true;
}

char **msb_strv_dup(const struct msb_strv *v)
{
	struct msb_bytes s;
	size_t it = 0, count = 0, bytes = 0, size;
	char **out, *p;

	while (msb_strv_next(v, &it, &s)) {
		if (s.n && memchr(s.p, 0, s.n)) {
			errno = EINVAL;
			return NULL;
		}
		/* Each string takes s.n + 1 bytes. */
		if (__builtin_add_overflow(bytes, s.n, &bytes) ||
		    __builtin_add_overflow(bytes, 1, &bytes) ||
		    __builtin_add_overflow(count, 1, &count)) {
			errno = ENOMEM;
			return NULL;
		}
	}
	/* (count + 1) pointers, then the strings. */
	if (__builtin_add_overflow(count, 1, &size) ||
	    __builtin_mul_overflow(size, sizeof(char *), &size) ||
	    __builtin_add_overflow(size, bytes, &size)) {
		errno = ENOMEM;
		return NULL;
	}
	out = malloc(size);
	if (!out)
		return NULL;
	p = (char *)(out + count + 1);
	it = 0;
	for (size_t i = 0; i < count; i++) {
		msb_strv_next(v, &it, &s);
		out[i] = p;
		if (s.n)
			memcpy(p, s.p, s.n);
		p[s.n] = '\0';
		p += s.n + 1;
	}
	out[count] = NULL;
	return out;
}

char *msb_bytes_dup(struct msb_bytes b)
{
	char *s;

	if (b.n && (!b.p || memchr(b.p, 0, b.n))) {
		errno = EINVAL;
		return NULL;
	}
	if (b.n == SIZE_MAX) {
		errno = ENOMEM;
		return NULL;
	}
	s = malloc(b.n + 1);
	if (!s)
		return NULL;
	if (b.n)
		memcpy(s, b.p, b.n);
	s[b.n] = '\0';
	return s;
}

bool msb_bytes_eq(struct msb_bytes b, const char *s)
{
	if (!s)
		return false;
	if (b.n && !b.p)
		return false;
	return str_is(b.p, b.n, s);
}

/* --- Messages --- */

static int put_key(struct msb_buf *out, const char *key)
{
	return cbor_put_text(out, key, strlen(key));
}

static int put_strv(struct msb_buf *out, const struct msb_strv *v)
{
	struct msb_bytes s;
	size_t it = 0, count = 0;

	while (msb_strv_next(v, &it, &s))
		count++;
	/* A decoded array whose raw items do not match its count. */
	if (!v->v && count != v->count) {
		errno = EINVAL;
		return -1;
	}
	if (cbor_put_array(out, count) < 0)
		return -1;
	it = 0;
	while (msb_strv_next(v, &it, &s))
		if (cbor_put_text(out, s.p, s.n) < 0)
			return -1;
	return 0;
}

static int put_field(struct msb_buf *out, const struct field *fd,
		     const struct msb_msg *m)
{
	const void *val = (const char *)m + fd->off;
	const struct msb_bytes *b = val;

	if (put_key(out, fd->key) < 0)
		return -1;
	switch (fd->kind) {
	case FK_UINT:
		return cbor_put_uint(out, *(const uint64_t *)val);
	case FK_INT:
		return cbor_put_int(out, *(const int64_t *)val);
	case FK_BYTES:
		return cbor_put_bytes(out, b->p, b->n);
	case FK_TEXT:
		return cbor_put_text(out, b->p, b->n);
	case FK_TEXTV:
		return put_strv(out, val);
	}
	errno = EINVAL;
	return -1;
}

static int msg_encode(struct msb_buf *out, const struct msb_msg *m)
{
	const char *name = msb_msg_type_name(m->type);
	unsigned n = 1;

	if (!name) {
		errno = EINVAL;
		return -1;
	}
	for (unsigned i = 0; i < MSB_FLD__COUNT; i++)
		if (m->has & MSB_HAS(i))
			n++;
	if (cbor_put_map(out, n) < 0 || put_key(out, TYPE_KEY) < 0 ||
	    cbor_put_text(out, name, strlen(name)) < 0)
		return -1;
	for (unsigned i = 0; i < MSB_FLD__COUNT; i++)
		if ((m->has & MSB_HAS(i)) && put_field(out, &fields[i], m) < 0)
			return -1;
	return 0;
}

/*
 * Bytes in use past the read offset. msb_buf_reserve() may compact the
 * buffer (moving data to offset 0), so positions are kept relative to
 * b->off, which compaction preserves.
 */
static size_t used(const struct msb_buf *b)
{
	return b->len - b->off;
}

static void truncate_to(struct msb_buf *b, size_t n)
{
	b->len = b->off + n;
}

int msb_msg_encode(struct msb_buf *out, const struct msb_msg *m)
{
	size_t start = used(out);

	if (msg_encode(out, m) < 0) {
		int saved = errno;

		truncate_to(out, start);
		errno = saved;
		return -1;
	}
	return 0;
}

int msb_frame_encode(struct msb_buf *out, uint32_t stream, uint8_t flags,
		     const struct msb_msg *m)
{
	static const uint8_t zero[MSB_FRAME_HDR];
	size_t start = used(out), plen;

	if (msb_buf_append(out, zero, sizeof(zero)) < 0)
		return -1;
	if (msb_msg_encode(out, m) < 0) {
		int saved = errno;

		truncate_to(out, start);
		errno = saved;
		return -1;
	}
	plen = used(out) - start - MSB_FRAME_HDR;
	if (plen > MSB_FRAME_PAYLOAD_MAX) {
		truncate_to(out, start);
		errno = E2BIG;
		return -1;
	}
	msb_frame_put_hdr(msb_buf_head(out) + start, (uint32_t)plen, stream,
			  flags);
	return 0;
}

/* Read one value of kind @fd->kind into @m. */
static int get_field(struct cbor_dec *d, const struct field *fd,
		     struct msb_msg *m)
{
	void *val = (char *)m + fd->off;
	struct msb_bytes *b = val;
	struct msb_strv *v = val;
	struct cbor_item it;
	size_t start;

	if (cbor_read(d, &it) < 0)
		return -1;
	switch (fd->kind) {
	case FK_UINT:
		if (it.major != CBOR_UINT)
			return -1;
		*(uint64_t *)val = it.arg;
		return 0;
	case FK_INT:
		if ((it.major != CBOR_UINT && it.major != CBOR_NEGINT) ||
		    it.arg > INT64_MAX)
			return -1;
		/* For NEGINT, -1 - arg with arg <= INT64_MAX fits. */
		*(int64_t *)val = it.major == CBOR_UINT ? (int64_t)it.arg
							: -1 - (int64_t)it.arg;
		return 0;
	case FK_BYTES:
	case FK_TEXT:
		if (it.major != (fd->kind == FK_BYTES ? CBOR_BYTES : CBOR_TEXT))
			return -1;
		b->p = it.str;
		b->n = it.len;
		return 0;
	case FK_TEXTV:
		if (it.major != CBOR_ARRAY)
			return -1;
		/* Every element costs one item and at least one byte. */
		if (it.arg > d->budget || it.arg > cbor_dec_left(d))
			return -1;
		start = d->off;
		for (uint64_t i = 0; i < it.arg; i++) {
			struct cbor_item e;

			if (cbor_read(d, &e) < 0 || e.major != CBOR_TEXT)
				return -1;
		}
		v->v = NULL;
		v->raw = d->buf + start;
		v->rawlen = d->off - start;
		v->count = (size_t)it.arg;
		return 0;
	}
	return -1;
}

static const struct field *field_lookup(const uint8_t *p, size_t n,
					unsigned *id)
{
	for (unsigned i = 0; i < MSB_FLD__COUNT; i++) {
		if (str_is(p, n, fields[i].key)) {
			*id = i;
			return &fields[i];
		}
	}
	return NULL;
}

static int msg_decode(struct msb_msg *m, const uint8_t *buf, size_t len)
{
	struct cbor_dec d;
	struct cbor_item it, key;
	bool have_type = false;

	cbor_dec_init(&d, buf, len);
	if (cbor_read(&d, &it) < 0 || it.major != CBOR_MAP)
		return -1;
	/* Every pair costs at least two items (and two bytes). */
	if (it.arg > d.budget / 2 || it.arg > cbor_dec_left(&d) / 2)
		return -1;
	for (uint64_t i = 0; i < it.arg; i++) {
		const struct field *fd;
		unsigned id;

		if (cbor_read(&d, &key) < 0 || key.major != CBOR_TEXT)
			return -1;
		if (str_is(key.str, key.len, TYPE_KEY)) {
			struct cbor_item t;

			if (have_type || cbor_read(&d, &t) < 0 ||
			    t.major != CBOR_TEXT)
				return -1;
			m->type = type_lookup(t.str, t.len);
			have_type = true;
			continue;
		}
		fd = field_lookup(key.str, key.len, &id);
		if (!fd) {
			/* Unknown key from a newer peer: skip its value,
			 * which sits inside the top-level map. */
			if (cbor_skip(&d, 1) < 0)
				return -1;
			continue;
		}
		if (m->has & MSB_HAS(id))
			return -1;
		if (get_field(&d, fd, m) < 0)
			return -1;
		m->has |= MSB_HAS(id);
	}
	if (!have_type || cbor_dec_left(&d) != 0)
		return -1;
	return 0;
}

int msb_msg_decode(struct msb_msg *m, const uint8_t *buf, size_t len)
{
	memset(m, 0, sizeof(*m));
	if (msg_decode(m, buf, len) < 0) {
		memset(m, 0, sizeof(*m));
		errno = EBADMSG;
		return -1;
	}
	return 0;
}

void msb_credit_add(uint64_t *credit, const struct msb_msg *m)
{
	const uint64_t limit = UINT64_C(1) << 30;

	if (!(m->has & MSB_HAS(MSB_FLD_SIZE)))
		return;
	*credit = m->size < limit && *credit + m->size < limit
			  ? *credit + m->size
			  : limit;
}

bool msb_credit_due(uint64_t *owed, uint64_t n, struct msb_msg *m)
{
	*owed += n;
	if (*owed < MSB_WINDOW / 2)
		return false;
	*m = (struct msb_msg){
		.type = MSB_MSG_CREDIT,
		.has = MSB_HAS(MSB_FLD_SIZE),
		.size = *owed,
	};
	*owed = 0;
	return true;
}
