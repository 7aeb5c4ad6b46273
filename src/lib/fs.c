// SPDX-License-Identifier: Apache-2.0
/*
 * Guest filesystem access: each call is one stream to the agent (see the
 * MSB_MSG_FS_* messages in src/proto/proto.h): a request, FS_ENTRY and
 * FS_DATA answers, then FS_DONE or FAILED. Uploads stream FS_DATA frames
 * to the agent, the last one carrying END.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/hostout.h"
#include "lib/internal.h"

#define FS_CHUNK MSB_CHUNK_MAX

/* What to do with the answers of one call. */
struct fs_call {
	const char *op; /* for messages: "stat", "read"... */
	const char *path;
	int (*on_entry)(const struct msb_msg *m, void *ud);
	int (*on_data)(const struct msb_msg *m, void *ud);
	void *ud;
	uint64_t size; /* from FS_DONE */
	bool cancel;   /* set by on_data: stop the transfer */
};

/* What an agent may still send after a cancel before it is cut off (the
 * window in flight, and more for slack). */
#define CANCEL_SLACK (4u * MSB_WINDOW)

static int check_path(const char *path)
{
	if (!path || path[0] != '/')
		return msb__error(MSB_EINVAL, 0,
				  "guest path `%s` must be absolute",
				  path ? path : "(null)");
	return 0;
}

int msb__check_running(const msb_sandbox *sb)
{
	if (!sb)
		return msb__error(MSB_EINVAL, 0, "sandbox is NULL");
	if (sb->stopped || sb->conn.fd < 0)
		return msb__error(MSB_ESTATE, 0, "sandbox `%s` is stopped",
				  sb->name);
	return 0;
}

/* A guest errno as a stable code, with the agent's message. */
static int fs_failed(const struct fs_call *c, const struct msb_msg *m)
{
	int err = (int)m->err, code;

	switch (err) {
	case ENOENT:
		code = MSB_ENOTFOUND;
		break;
	case EEXIST:
		code = MSB_EEXIST;
		break;
	case EACCES:
	case EPERM:
	case EROFS:
		code = MSB_EPERM;
		break;
	case EISDIR:
		code = MSB_EISDIR;
		break;
	case ENOTDIR:
		code = MSB_ENOTDIR;
		break;
	case ENOTEMPTY:
		code = MSB_ENOTEMPTY;
		break;
	case ENOSPC:
	case EDQUOT:
		code = MSB_ENOSPC;
		break;
	case EINVAL:
		code = MSB_EINVAL;
		break;
	default:
		code = MSB_ESYS;
		break;
	}
	char t[512];
	if (m->msg.n)
		return msb__error(code, err, "%s", MSB_GUEST_TEXT(t, m->msg));
	return msb__error(code, err, "%s `%s`: %s", c->op, c->path,
			  strerror(err));
}

uint32_t msb__next_stream(msb_sandbox *sb)
{
	uint32_t id = sb->next_stream++;

	if (sb->next_stream == 0)
		sb->next_stream = 1;
	return id;
}

/* Read the answers of stream @id until FS_DONE or a failure. */
static int fs_wait(msb_sandbox *sb, uint32_t id, struct fs_call *c)
{
	struct msb_flow flow = MSB_FLOW_INIT;
	bool cancelled = false;
	size_t after_cancel = 0;
	/* Each answer frame within the agent timeout: a frozen or silent
	 * agent is an error, not a hang. */
	int limit = msb__agent_timeout_ms();
	uint64_t deadline = now_us() + (uint64_t)limit * 1000u;

	for (;;) {
		struct msb_frame f;
		struct msb_msg m;
		if (c->cancel && !cancelled) {
			/* A signal request cancels an fs stream: the agent
			 * answers ERROR, END. */
			struct msb_msg sig = {.type = MSB_MSG_SIGNAL,
					      .has = MSB_HAS(MSB_FLD_SIG),
					      .sig = 9};
			cancelled = true;
			int rc = msb__conn_send(&sb->conn, id, 0, &sig);
			if (rc < 0)
				return rc;
		}
		int rc = msb__conn_recv(&sb->conn, &f, &m,
					msb__ms_left(deadline));
		if (rc == -MSB_ETIMEDOUT)
			return msb__agent_silent(c->op, c->path, limit);
		if (rc < 0)
			return rc;
		if (f.hdr.stream != id) {
			msb__conn_done(&sb->conn, &f);
			continue;
		}
		deadline = now_us() + (uint64_t)limit * 1000u;
		bool done = false;
		switch (m.type) {
		case MSB_MSG_FS_ENTRY:
			rc = c->on_entry ? c->on_entry(&m, c->ud) : 0;
			break;
		case MSB_MSG_FS_DATA:
			if (cancelled) {
				after_cancel += m.data.n;
				if (after_cancel > CANCEL_SLACK) {
					msb__conn_done(&sb->conn, &f);
					msb__conn_close(&sb->conn);
					return msb__error(
						MSB_EPROTO, 0,
						"%s `%s`: the guest goes on "
						"sending after a cancel: "
						"disconnected",
						c->op, c->path);
				}
				break;
			}
			rc = c->on_data ? c->on_data(&m, c->ud) : 0;
			if (rc == 0 && !(f.hdr.flags & MSB_F_END))
				rc = msb__conn_consumed(&sb->conn, id, &flow,
							m.data.n);
			break;
		case MSB_MSG_FS_DONE:
			c->size = m.has & MSB_HAS(MSB_FLD_SIZE) ? m.size : 0;
			done = true;
			break;
		case MSB_MSG_FAILED:
			rc = fs_failed(c, &m);
			break;
		case MSB_MSG_ERROR: {
			if (cancelled)
				break; /* the answer to our cancel */
			char what[512];
			snprintf(what, sizeof(what), "%s `%.400s`", c->op,
				 c->path);
			rc = msb__error_reply(&m, what);
			break;
		}
		default:
			break;
		}
		bool end = f.hdr.flags & MSB_F_END;
		msb__conn_done(&sb->conn, &f);
		if (rc < 0) {
			/* Drain the rest of this stream so that it does not
			 * linger in the connection. */
			while (!end) {
				if (msb__conn_recv(&sb->conn, &f, &m, limit) <
				    0)
					break;
				end = f.hdr.stream == id &&
				      (f.hdr.flags & MSB_F_END);
				msb__conn_done(&sb->conn, &f);
			}
			return rc;
		}
		if (done || end)
			return 0;
	}
}

/* One request, one answer stream. */
static int fs_request(msb_sandbox *sb, struct msb_msg *req, struct fs_call *c)
{
	int rc;

	msb__error_clear();
	if ((rc = msb__check_running(sb)) < 0 || (rc = check_path(c->path)) < 0)
		return rc;
	req->has |= MSB_HAS(MSB_FLD_PATH);
	req->path = msb_str(c->path);
	uint32_t id = msb__next_stream(sb);
	if ((rc = msb__conn_send(&sb->conn, id, MSB_F_START, req)) < 0)
		return rc;
	return fs_wait(sb, id, c);
}

static msb_fs_type ftype_of(struct msb_bytes t)
{
	static const char *const names[] = {
		[MSB_FS_FILE] = "file",       [MSB_FS_DIR] = "dir",
		[MSB_FS_SYMLINK] = "symlink", [MSB_FS_CHAR] = "char",
		[MSB_FS_BLOCK] = "block",     [MSB_FS_FIFO] = "fifo",
		[MSB_FS_SOCKET] = "socket",
	};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (msb_bytes_eq(t, names[i]))
			return (msb_fs_type)i;
	return MSB_FS_UNKNOWN;
}

/*
 * msb__fs_entry_from() - the entry in FS_ENTRY answer @m, checked: a name
 * without NUL (one plain name when @plain, else any but empty), a
 * symlink's target non-empty, shorter than PATH_MAX and without NUL.
 * Return: 0, or -MSB_EPROTO naming the entry (escaped).
 */
int msb__fs_entry_from(msb_fs_entry *e, const struct msb_msg *m, bool plain)
{
	char esc[300];

	memset(e, 0, sizeof(*e));
	if (!msb__name_ok((const char *)m->name.p, m->name.n) &&
	    (plain || !m->name.n || memchr(m->name.p, '\0', m->name.n)))
		return msb__error(
			MSB_EPROTO, 0,
			"the guest sent the entry name `%s`: not a "
			"plain name",
			msb_escape(esc, sizeof(esc), m->name.p, m->name.n));
	if (m->has & MSB_HAS(MSB_FLD_TARGET) &&
	    (!m->target.n || m->target.n >= PATH_MAX ||
	     memchr(m->target.p, '\0', m->target.n)))
		return msb__error(
			MSB_EPROTO, 0,
			"the guest sent a bad symlink target for "
			"`%s`",
			msb_escape(esc, sizeof(esc), m->name.p, m->name.n));
	e->name = msb_bytes_dup(m->name);
	if (!e->name)
		return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	e->type = ftype_of(m->ftype);
	e->size = m->size;
	e->mode = (unsigned int)(m->mode & 07777);
	e->uid = m->uid;
	e->gid = m->gid;
	e->mtime_ns = m->mtime_ns;
	if (m->has & MSB_HAS(MSB_FLD_TARGET) &&
	    !(e->target = msb_bytes_dup(m->target))) {
		free(e->name);
		e->name = NULL;
		return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	}
	return 0;
}

EXPORT void msb_fs_entry_clear(msb_fs_entry *e)
{
	if (!e)
		return;
	free(e->name);
	free(e->target);
	memset(e, 0, sizeof(*e));
}

EXPORT void msb_fs_entries_free(msb_fs_entry *entries, size_t count)
{
	for (size_t i = 0; entries && i < count; i++)
		msb_fs_entry_clear(&entries[i]);
	free(entries);
}

static int stat_entry(const struct msb_msg *m, void *ud)
{
	msb_fs_entry *e = ud;

	msb_fs_entry_clear(e);
	return msb__fs_entry_from(e, m, false);
}

EXPORT int msb_sandbox_fs_stat(msb_fs_entry *out, msb_sandbox *sb,
			       const char *path)
{
	struct msb_msg req = {.type = MSB_MSG_FS_STAT};
	struct fs_call c = {
		.op = "stat", .path = path, .on_entry = stat_entry, .ud = out};

	if (!out)
		return msb__error(MSB_EINVAL, 0, "out is NULL");
	memset(out, 0, sizeof(*out));
	int rc = fs_request(sb, &req, &c);
	if (rc == 0 && !out->name)
		rc = msb__error(MSB_EPROTO, 0, "stat `%s`: no answer", path);
	if (rc < 0)
		msb_fs_entry_clear(out);
	return rc;
}

EXPORT int msb_sandbox_fs_exists(int *exists, msb_sandbox *sb, const char *path)
{
	msb_fs_entry e;

	if (!exists)
		return msb__error(MSB_EINVAL, 0, "exists is NULL");
	*exists = 0;
	int rc = msb_sandbox_fs_stat(&e, sb, path);
	if (rc == -MSB_ENOTFOUND || rc == -MSB_ENOTDIR) {
		msb__error_clear();
		return 0;
	}
	if (rc == 0) {
		*exists = 1;
		msb_fs_entry_clear(&e);
	}
	return rc;
}

struct list_acc {
	msb_fs_entry *v;
	size_t n, cap;
	size_t bytes; /* of names and targets */
	const char *path;
};

static int list_entry(const struct msb_msg *m, void *ud)
{
	struct list_acc *a = ud;

	a->bytes += m->name.n + m->target.n;
	if (a->n >= MSB_FS_LIST_MAX || a->bytes > MSB_FS_LIST_MAX_BYTES)
		return msb__error(MSB_EPROTO, 0,
				  "list `%s`: more than %u entries or %u MiB "
				  "of names",
				  a->path, MSB_FS_LIST_MAX,
				  MSB_FS_LIST_MAX_BYTES >> 20);
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 64;
		msb_fs_entry *v = realloc(a->v, cap * sizeof(*v));
		if (!v)
			return msb__error(MSB_ENOMEM, errno, "out of memory");
		a->v = v;
		a->cap = cap;
	}
	int rc = msb__fs_entry_from(&a->v[a->n], m, true);
	if (rc == 0)
		a->n++;
	return rc;
}

/* No name of a listing repeats (each was checked when it came). */
static int check_names(msb_sandbox *sb, const char *path, const msb_fs_entry *v,
		       size_t n)
{
	_cleanup_free_ const char **names =
		malloc((n ? n : 1) * sizeof(*names));
	struct msb_out o = {.what = "list"};
	char what[128];

	if (!names)
		return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		names[i] = v[i].name;
	snprintf(what, sizeof(what), "sandbox `%s`", sb->name);
	o.what = what;
	return msb__out_check_listing(&o, path, names, n);
}

EXPORT int msb_sandbox_fs_list(msb_fs_entry **out, size_t *count,
			       msb_sandbox *sb, const char *path)
{
	struct msb_msg req = {.type = MSB_MSG_FS_LIST};
	struct list_acc a = {.path = path};
	struct fs_call c = {
		.op = "list", .path = path, .on_entry = list_entry, .ud = &a};

	if (!out || !count)
		return msb__error(MSB_EINVAL, 0, "out and count are required");
	*out = NULL;
	*count = 0;
	int rc = fs_request(sb, &req, &c);
	if (rc == 0)
		rc = check_names(sb, path, a.v, a.n);
	if (rc < 0) {
		msb_fs_entries_free(a.v, a.n);
		return rc;
	}
	*out = a.v;
	*count = a.n;
	return 0;
}

struct sink_call {
	msb_fs_sink_fn sink;
	msb__fs_hole_fn hole; /* or NULL: holes reach the sink as zeros */
	void *ud;
	struct fs_call *c;
};

static int read_data(const struct msb_msg *m, void *ud)
{
	static const uint8_t zeros[MSB_CHUNK_MAX];
	struct sink_call *s = ud;

	if (!m->data.n && m->has & MSB_HAS(MSB_FLD_SIZE) && s->hole) {
		if (!s->c->cancel && s->hole(m->size, s->ud))
			s->c->cancel = true;
		return 0;
	}
	if (!m->data.n && m->has & MSB_HAS(MSB_FLD_SIZE)) {
		/* A hole: its zeros, made here (the sink stops a hostile
		 * length like any other data). */
		for (uint64_t left = m->size; left && !s->c->cancel;) {
			size_t n = left < sizeof(zeros) ? (size_t)left
							: sizeof(zeros);
			if (s->sink(zeros, n, s->ud))
				s->c->cancel = true;
			left -= n;
		}
		return 0;
	}
	if (!s->c->cancel && s->sink(m->data.p, m->data.n, s->ud))
		s->c->cancel = true;
	return 0;
}

EXPORT int msb_sandbox_fs_read_stream(msb_sandbox *sb, const char *path,
				      msb_fs_sink_fn sink, void *userdata)
{
	return msb__fs_read_holes(sb, path, sink, NULL, userdata);
}

int msb__fs_read_holes(msb_sandbox *sb, const char *path, msb_fs_sink_fn sink,
		       msb__fs_hole_fn hole, void *userdata)
{
	struct msb_msg req = {.type = MSB_MSG_FS_READ};
	struct sink_call s = {.sink = sink, .hole = hole, .ud = userdata};
	struct fs_call c = {
		.op = "read", .path = path, .on_data = read_data, .ud = &s};

	if (!sink)
		return msb__error(MSB_EINVAL, 0, "sink is NULL");
	s.c = &c;
	int rc = fs_request(sb, &req, &c);
	if (rc == 0 && c.cancel)
		rc = msb__error(MSB_EINVAL, 0, "read `%s`: stopped by the sink",
				path);
	return rc;
}

struct collector {
	struct msb_buf b;
	int err; /* why collect() stopped: MSB_ENOSPC, MSB_ENOMEM */
};

static int collect(const void *data, size_t len, void *ud)
{
	struct collector *c = ud;

	if (len > MSB_FS_READ_MAX - c->b.len)
		c->err = MSB_ENOSPC;
	else if (msb_buf_append(&c->b, data, len) < 0)
		c->err = MSB_ENOMEM;
	return c->err != 0;
}

EXPORT int msb_sandbox_fs_read(void **data, size_t *len, msb_sandbox *sb,
			       const char *path)
{
	struct collector c = {0};

	if (!data || !len)
		return msb__error(MSB_EINVAL, 0, "data and len are required");
	*data = NULL;
	*len = 0;
	int rc = msb_sandbox_fs_read_stream(sb, path, collect, &c);
	if (c.err == MSB_ENOSPC)
		rc = msb__error(MSB_ENOSPC, 0,
				"read `%s`: larger than %u MiB: read it with "
				"msb_sandbox_fs_read_stream()",
				path, MSB_FS_READ_MAX >> 20);
	else if (c.err || (rc == 0 && msb_buf_reserve(&c.b, 1) < 0))
		rc = msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	if (rc < 0) {
		msb_buf_free(&c.b);
		return rc;
	}
	c.b.data[c.b.len] = '\0';
	*data = c.b.data;
	*len = c.b.len;
	return 0;
}

EXPORT int msb_sandbox_fs_write_stream(msb_sandbox *sb, const char *path,
				       msb_fs_source_fn source, void *userdata,
				       unsigned int mode, int flags)
{
	struct fs_call c = {.op = "write", .path = path};
	int rc;

	msb__error_clear();
	if (!source)
		return msb__error(MSB_EINVAL, 0, "source is NULL");
	if ((rc = msb__check_running(sb)) < 0 || (rc = check_path(path)) < 0)
		return rc;
	uint64_t wflags = MSB_FS_CREATE;
	wflags |= flags & MSB_FS_WRITE_APPEND ? MSB_FS_APPEND : MSB_FS_TRUNC;
	if (flags & MSB_FS_WRITE_EXCL)
		wflags |= MSB_FS_EXCL;
	struct msb_msg req = {
		.type = MSB_MSG_FS_WRITE,
		.has = MSB_HAS(MSB_FLD_PATH) | MSB_HAS(MSB_FLD_MODE) |
		       MSB_HAS(MSB_FLD_FLAGS),
		.path = msb_str(path),
		.mode = mode ? mode & 07777 : 0644,
		.flags = wflags,
	};
	uint32_t id = msb__next_stream(sb);
	if ((rc = msb__conn_send(&sb->conn, id, MSB_F_START, &req)) < 0)
		return rc;

	_cleanup_free_ uint8_t *buf = malloc(FS_CHUNK);
	struct msb_flow flow = MSB_FLOW_INIT;
	int abort_rc = 0;
	for (;;) {
		/* Only as much as the agent has room for (it credits what
		 * it has written); stop early if it answered (a failure).
		 * With credit left this returns at once. */
		rc = msb__conn_wait_credit(&sb->conn, id, &flow, true,
					   msb__agent_timeout_ms());
		if (rc == -MSB_ETIMEDOUT)
			return msb__agent_silent("write", path,
						 msb__agent_timeout_ms());
		if (rc < 0)
			return rc;
		if (rc > 0)
			break;
		size_t room =
			flow.credit < FS_CHUNK ? (size_t)flow.credit : FS_CHUNK;
		long n = buf ? source(buf, room, userdata) : -1;
		if (n < 0 || n > (long)room) {
			abort_rc =
				buf ? msb__error(
					      MSB_EINVAL, 0,
					      "write `%s`: the data source failed",
					      path)
				    : msb__error(MSB_ENOMEM, ENOMEM,
						 "out of memory");
			n = 0;
		}
		struct msb_msg d = {
			.type = MSB_MSG_FS_DATA,
			.has = MSB_HAS(MSB_FLD_DATA),
			.data = {buf, (size_t)n},
		};
		bool last = n == 0;
		if ((rc = msb__conn_send(&sb->conn, id, last ? MSB_F_END : 0,
					 &d)) < 0)
			return rc;
		flow.credit -= (size_t)n;
		if (last)
			break;
	}
	rc = fs_wait(sb, id, &c);
	if (abort_rc < 0) {
		/* The file holds what was sent before the source failed. */
		return abort_rc;
	}
	return rc;
}

struct mem_source {
	const uint8_t *p;
	size_t left;
};

static long from_memory(void *buf, size_t cap, void *ud)
{
	struct mem_source *m = ud;
	size_t n = m->left < cap ? m->left : cap;

	memcpy(buf, m->p, n);
	m->p += n;
	m->left -= n;
	return (long)n;
}

EXPORT int msb_sandbox_fs_write(msb_sandbox *sb, const char *path,
				const void *data, size_t len, unsigned int mode,
				int flags)
{
	struct mem_source m = {data, len};

	if (!data && len)
		return msb__error(MSB_EINVAL, 0, "data is NULL");
	return msb_sandbox_fs_write_stream(sb, path, from_memory, &m, mode,
					   flags);
}

/* Requests whose answer is only FS_DONE. */
static int fs_simple(msb_sandbox *sb, enum msb_msg_type type, const char *op,
		     const char *path, struct msb_msg *req)
{
	struct fs_call c = {.op = op, .path = path};

	req->type = type;
	return fs_request(sb, req, &c);
}

EXPORT int msb_sandbox_fs_mkdir(msb_sandbox *sb, const char *path,
				unsigned int mode, int parents)
{
	struct msb_msg req = {
		.has = MSB_HAS(MSB_FLD_MODE) | MSB_HAS(MSB_FLD_FLAGS),
		.mode = mode ? mode & 07777 : 0755,
		.flags = parents ? MSB_FS_PARENTS : 0,
	};
	return fs_simple(sb, MSB_MSG_FS_MKDIR, "mkdir", path, &req);
}

EXPORT int msb_sandbox_fs_remove(msb_sandbox *sb, const char *path,
				 int recursive)
{
	struct msb_msg req = {
		.has = MSB_HAS(MSB_FLD_FLAGS),
		.flags = recursive ? MSB_FS_RECURSIVE : 0,
	};
	return fs_simple(sb, MSB_MSG_FS_REMOVE, "remove", path, &req);
}

static int two_paths(msb_sandbox *sb, enum msb_msg_type type, const char *op,
		     const char *from, const char *to, uint64_t flags)
{
	int rc = check_path(to);

	if (rc < 0)
		return rc;
	struct msb_msg req = {
		.has = MSB_HAS(MSB_FLD_PATH2) | MSB_HAS(MSB_FLD_FLAGS),
		.path2 = msb_str(to),
		.flags = flags,
	};
	return fs_simple(sb, type, op, from, &req);
}

EXPORT int msb_sandbox_fs_rename(msb_sandbox *sb, const char *from,
				 const char *to)
{
	return two_paths(sb, MSB_MSG_FS_RENAME, "rename", from, to, 0);
}

EXPORT int msb_sandbox_fs_copy(msb_sandbox *sb, const char *from,
			       const char *to, int recursive)
{
	return two_paths(sb, MSB_MSG_FS_COPY, "copy", from, to,
			 recursive ? MSB_FS_RECURSIVE : 0);
}

EXPORT int msb_sandbox_fs_chmod(msb_sandbox *sb, const char *path,
				unsigned int mode)
{
	struct msb_msg req = {
		.has = MSB_HAS(MSB_FLD_MODE),
		.mode = mode & 07777,
	};
	return fs_simple(sb, MSB_MSG_FS_CHMOD, "chmod", path, &req);
}

EXPORT int msb_sandbox_fs_symlink(msb_sandbox *sb, const char *path,
				  const char *target)
{
	if (!target || !*target) {
		msb__error_clear();
		return msb__error(MSB_EINVAL, 0, "symlink `%s`: empty target",
				  path ? path : "");
	}
	struct msb_msg req = {
		.has = MSB_HAS(MSB_FLD_TARGET),
		.target = msb_str(target),
	};
	return fs_simple(sb, MSB_MSG_FS_SYMLINK, "symlink", path, &req);
}

EXPORT int msb_sandbox_fs_chown(msb_sandbox *sb, const char *path, int64_t uid,
				int64_t gid)
{
	struct msb_msg req = {
		.has = MSB_HAS(MSB_FLD_UID) | MSB_HAS(MSB_FLD_GID),
		.uid = uid,
		.gid = gid,
	};
	return fs_simple(sb, MSB_MSG_FS_CHOWN, "chown", path, &req);
}
