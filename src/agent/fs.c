// SPDX-License-Identifier: Apache-2.0
/*
 * msb-agent: guest filesystem requests (stat, list, read, write, mkdir,
 * remove, rename, copy, chmod, chown).
 *
 * DOC: Theory of operation
 *
 * Every request arrives with START on a stream of its own and is answered
 * there; the last frame (END) is FS_DONE or FAILED (kind "fs", the guest
 * errno and a message naming the operation and the path). A request that
 * is wrong in itself (no path, a relative path, unknown flags) gets ERROR.
 * Everything runs as root in the guest's root filesystem.
 *
 * stat, mkdir, remove, rename, copy, chmod and chown run to completion in
 * the frame handler. Recursive remove and copy walk the tree depth first
 * with an explicit stack of open directories (at most FS_MAX_DEPTH) and
 * *at() calls, never following symlinks. A big copy blocks the loop for as
 * long as the copy takes.
 *
 * Streams that carry bulk data keep a struct fs_stream (AGENT_MAX_FS at
 * most):
 *
 *  - read and list streams are served from the poll loop like the pipes of
 *    a process: one chunk of at most MSB_CHUNK_MAX bytes, or FS_LIST_BATCH
 *    entries, per stream and pass, round-robin, and nothing while the out
 *    queue is above AGENT_OUT_HIGH. A file of any size and a directory of
 *    any length go out in bounded agent memory.
 *  - write streams hold the open file. Each FS_DATA frame of the host is
 *    written fully before the next frame is looked at, so the port paces
 *    the host. The frame with END closes the file and gets FS_DONE {size}.
 *    When a write fails the agent answers FAILED at once and remembers the
 *    stream in a small ring (a->fs_dead), so that the data frames the host
 *    had already sent are dropped without a reply each.
 *
 * A signal request on a fs stream cancels it (ERROR, END): the supervisor
 * sends one for every stream of a client that went away.
 *
 * Files and directories are created with exactly the requested mode: the
 * umask is cleared around the creating call only (the agent is single
 * threaded, and the processes it starts keep the usual umask).
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "proto/cbor.h"

#define FS_MAX_DEPTH 256 /* nested directories of a recursive remove/copy */
#define STR_(x) #x
#define STR(x) STR_(x)
#define TOO_DEEP "more than " STR(FS_MAX_DEPTH) " nested directories"
#define FS_LIST_BATCH 64        /* directory entries per stream and loop pass */
#define FS_COPY_STEP (1u << 30) /* bytes per copy_file_range/sendfile */
#define FS_ALL UINT64_MAX       /* read: no size limit */

enum fs_kind {
	FS_READ,
	FS_LIST,
	FS_WRITE,
};

/* A request that outlives its frame: a read, a listing or an upload. */
struct fs_stream {
	uint32_t stream;
	enum fs_kind kind;
	int fd;           /* read, write: the file */
	DIR *dir;         /* list: the directory */
	char *path;       /* as the host sent it, for messages */
	uint64_t left;    /* read: bytes still wanted, or FS_ALL */
	uint64_t count;   /* bytes sent or written, entries sent */
	uint64_t skipped; /* list: entries that could not be sent */
	uint64_t credit;  /* read: FS_DATA bytes the host accepts now */
	uint64_t owed;    /* write: bytes written, not yet credited back */
	bool sparse;      /* read: a file with holes (sent as hole frames) */
};

/* The errno and message of a FAILED reply. */
struct fs_err {
	int err;
	char msg[PATH_MAX + 256];
};

/*
 * vfail() - record @err and the message "<fmt>: <reason>" in @e, @reason
 * being strerror(@err) if NULL. When a long path makes it too long, the
 * middle gives way ("...") so that the reason stays. Return: -1.
 */
static int vfail(struct fs_err *e, int err, const char *reason, const char *fmt,
		 va_list ap)
{
	char head[sizeof(e->msg)];
	size_t tail;

	if (!reason)
		reason = strerror(err);
	tail = strlen(reason) + 2;
	e->err = err;
	if (vsnprintf(head, sizeof(head), fmt, ap) < 0)
		head[0] = '\0';
	if (strlen(head) + tail >= sizeof(e->msg))
		strcpy(head + sizeof(e->msg) - 1 - tail - 3, "...");
	snprintf(e->msg, sizeof(e->msg), "%s: %s", head, reason);
	return -1;
}

/* Record @err and "<fmt>: <strerror(err)>" in @e. Return: -1. */
static int fail(struct fs_err *e, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct fs_err *e, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(e, err, NULL, fmt, ap);
	va_end(ap);
	return -1;
}

/* Record @err and "<fmt>: <reason>" in @e. Return: -1. */
static int failr(struct fs_err *e, int err, const char *reason, const char *fmt,
		 ...) __attribute__((format(printf, 4, 5)));

static int failr(struct fs_err *e, int err, const char *reason, const char *fmt,
		 ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(e, err, reason, fmt, ap);
	va_end(ap);
	return -1;
}

/* Queue FAILED (END) for @e on @stream. */
static void send_failed(struct agent *a, uint32_t stream, struct fs_err *e)
{
	struct msb_msg m = {
		.type = MSB_MSG_FAILED,
		.has = MSB_HAS(MSB_FLD_KIND) | MSB_HAS(MSB_FLD_ERRNO) |
		       MSB_HAS(MSB_FLD_MSG),
		.kind = msb_str("fs"),
		.err = e->err,
	};

	/* File names from the disk need not be UTF-8; the text must be. */
	agent_text_fix(e->msg);
	m.msg = msb_str(e->msg);
	agent_send(a, stream, MSB_F_END, &m);
}

/* Shorthand: fail() and send_failed() in one. */
static void failed(struct agent *a, uint32_t stream, int err, const char *fmt,
		   ...) __attribute__((format(printf, 4, 5)));

static void failed(struct agent *a, uint32_t stream, int err, const char *fmt,
		   ...)
{
	struct fs_err e;
	va_list ap;

	va_start(ap, fmt);
	vfail(&e, err, NULL, fmt, ap);
	va_end(ap);
	send_failed(a, stream, &e);
}

/* Queue FS_DONE (END), with a size if @with_size. */
static void send_done(struct agent *a, uint32_t stream, bool with_size,
		      uint64_t size)
{
	struct msb_msg m = {.type = MSB_MSG_FS_DONE, .size = size};

	if (with_size)
		m.has = MSB_HAS(MSB_FLD_SIZE);
	agent_send(a, stream, MSB_F_END, &m);
}

static const char *ftype_name(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return "file";
	case S_IFDIR:
		return "dir";
	case S_IFLNK:
		return "symlink";
	case S_IFCHR:
		return "char";
	case S_IFBLK:
		return "block";
	case S_IFIFO:
		return "fifo";
	case S_IFSOCK:
		return "socket";
	default:
		return "unknown";
	}
}

/* st_mtim in nanoseconds, saturated (ext4 dates go past year 2262). */
static int64_t mtime_ns(const struct stat *st)
{
	int64_t ns;

	if (__builtin_mul_overflow((int64_t)st->st_mtim.tv_sec, 1000000000,
				   &ns) ||
	    __builtin_add_overflow(ns, (int64_t)st->st_mtim.tv_nsec, &ns))
		return st->st_mtim.tv_sec < 0 ? INT64_MIN : INT64_MAX;
	return ns;
}

/*
 * The target of the symlink @name in @dir, NUL-terminated in @buf
 * (PATH_MAX + 1 bytes: Linux symlinks are shorter), or NULL.
 */
static const char *link_target(int dir, const char *name, char *buf, size_t len)
{
	ssize_t n = readlinkat(dir, name, buf, len - 1);

	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return buf;
}

/*
 * send_entry() - queue FS_ENTRY for @st.
 * @name: the base name
 * @target: the target of a symlink, or NULL
 *
 * Text fields must be UTF-8 on the wire: a target that is not is left
 * out, a name that is not cannot be sent at all.
 * Return: false if nothing was queued.
 */
static bool send_entry(struct agent *a, uint32_t stream, const char *name,
		       const struct stat *st, const char *target)
{
	struct msb_msg m = {
		.type = MSB_MSG_FS_ENTRY,
		.has = MSB_HAS(MSB_FLD_NAME) | MSB_HAS(MSB_FLD_FTYPE) |
		       MSB_HAS(MSB_FLD_SIZE) | MSB_HAS(MSB_FLD_MODE) |
		       MSB_HAS(MSB_FLD_UID) | MSB_HAS(MSB_FLD_GID) |
		       MSB_HAS(MSB_FLD_MTIME),
		.name = msb_str(name),
		.ftype = msb_str(ftype_name(st->st_mode)),
		.size = (uint64_t)st->st_size,
		.mode = st->st_mode & 07777,
		.uid = st->st_uid,
		.gid = st->st_gid,
		.mtime_ns = mtime_ns(st),
	};

	if (!cbor_utf8_valid(m.name.p, m.name.n))
		return false;
	if (target) {
		m.target = msb_str(target);
		if (cbor_utf8_valid(m.target.p, m.target.n))
			m.has |= MSB_HAS(MSB_FLD_TARGET);
	}
	agent_send(a, stream, 0, &m);
	return true;
}

/*
 * The last component of the absolute @path in @buf (NAME_MAX + 1 bytes),
 * "/" for the root. Trailing slashes are ignored.
 */
static const char *base_name(const char *path, char *buf, size_t len)
{
	size_t end = strlen(path), start;

	while (end > 1 && path[end - 1] == '/')
		end--;
	start = end;
	while (start > 0 && path[start - 1] != '/')
		start--;
	if (start == end)
		return "/";
	if (end - start >= len)
		end = start + len - 1;
	memcpy(buf, path + start, end - start);
	buf[end - start] = '\0';
	return buf;
}

/* --- requests: checking the fields --- */

/*
 * req_path() - the absolute path in field @fld of @m, as a new string
 * (free() it), or NULL after replying ERROR.
 */
static char *req_path(struct agent *a, uint32_t stream, const struct msb_msg *m,
		      enum msb_field fld, const char *op)
{
	const char *key = fld == MSB_FLD_PATH2 ? "path2" : "path";
	char *p;

	if (!(m->has & MSB_HAS(fld))) {
		agent_error(a, stream, true, EINVAL, "%s: `%s` is missing", op,
			    key);
		return NULL;
	}
	p = msb_bytes_dup(fld == MSB_FLD_PATH2 ? m->path2 : m->path);
	if (!p) {
		agent_error(a, stream, true, errno, "%s: bad `%s`: %m", op,
			    key);
		return NULL;
	}
	if (p[0] != '/') {
		agent_error(a, stream, true, EINVAL,
			    "%s: `%s` must be an absolute path, not `%s`", op,
			    key, p);
		free(p);
		return NULL;
	}
	return p;
}

/*
 * req_flags() - check that @m has no flag outside @allowed.
 * Return: the flags, or -1 after replying ERROR.
 */
static int64_t req_flags(struct agent *a, uint32_t stream,
			 const struct msb_msg *m, uint64_t allowed,
			 const char *op)
{
	if (!(m->has & MSB_HAS(MSB_FLD_FLAGS)))
		return 0;
	if (m->flags & ~allowed) {
		agent_error(a, stream, true, EINVAL,
			    "%s: unsupported `flags` 0x%llx", op,
			    (unsigned long long)(m->flags & ~allowed));
		return -1;
	}
	return (int64_t)m->flags;
}

/*
 * req_mode() - the mode of @m, or @def if it has none (@def < 0: the mode
 * is required). Return: the mode, or -1 after replying ERROR.
 */
static int req_mode(struct agent *a, uint32_t stream, const struct msb_msg *m,
		    int def, const char *op)
{
	if (!(m->has & MSB_HAS(MSB_FLD_MODE))) {
		if (def < 0)
			agent_error(a, stream, true, EINVAL,
				    "%s: `mode` is missing", op);
		return def;
	}
	if (m->mode & ~(uint64_t)07777) {
		agent_error(a, stream, true, EINVAL,
			    "%s: `mode` 0%llo has bits outside 07777", op,
			    (unsigned long long)m->mode);
		return -1;
	}
	return (int)m->mode;
}

/* --- streams --- */

static const char *kind_name(enum fs_kind k)
{
	return k == FS_WRITE  ? "fs_write"
	       : k == FS_READ ? "fs_read"
			      : "fs_list";
}

struct fs_stream *fs_find(struct agent *a, uint32_t stream)
{
	for (size_t i = 0; i < a->nfs; i++) {
		if (a->fs[i]->stream == stream)
			return a->fs[i];
	}
	return NULL;
}

/*
 * fs_add() - register a stream, taking @path.
 * Return: the stream, or NULL after replying FAILED (@path is freed).
 */
static struct fs_stream *fs_add(struct agent *a, uint32_t stream,
				enum fs_kind kind, char *path)
{
	struct fs_stream *s;

	if (a->nfs >= AGENT_MAX_FS) {
		struct fs_err e;
		char why[64];

		snprintf(why, sizeof(why),
			 "too many file streams open (limit %u)", AGENT_MAX_FS);
		failr(&e, EAGAIN, why, "%s `%s`", kind_name(kind), path);
		send_failed(a, stream, &e);
		free(path);
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		failed(a, stream, errno, "%s", path);
		free(path);
		return NULL;
	}
	s->stream = stream;
	s->kind = kind;
	s->fd = -1;
	s->path = path;
	s->left = FS_ALL;
	s->credit = MSB_WINDOW;
	a->fs[a->nfs++] = s;
	return s;
}

/* Forget @s and release what it holds. */
static void fs_drop(struct agent *a, struct fs_stream *s)
{
	for (size_t i = 0; i < a->nfs; i++) {
		if (a->fs[i] == s) {
			a->fs[i] = a->fs[--a->nfs];
			break;
		}
	}
	close_fd(&s->fd);
	if (s->dir)
		closedir(s->dir);
	free(s->path);
	free(s);
}

/* Remember an upload that ended early: its late data frames are dropped. */
static void dead_add(struct agent *a, uint32_t stream)
{
	a->fs_dead[a->fs_dead_next++ % AGENT_FS_DEAD] = stream;
}

/* Whether @stream is a dead upload; its END frame forgets it. */
static bool dead_check(struct agent *a, uint32_t stream, bool end)
{
	for (size_t i = 0; i < AGENT_FS_DEAD; i++) {
		if (stream && a->fs_dead[i] == stream) {
			if (end)
				a->fs_dead[i] = 0;
			return true;
		}
	}
	return false;
}

/* fs_cancel() - end @s on a signal request: ERROR (END). */
void fs_cancel(struct agent *a, struct fs_stream *s)
{
	agent_error(a, s->stream, true, ECANCELED,
		    "%s `%s`: cancelled by a signal request",
		    kind_name(s->kind), s->path);
	if (s->kind == FS_WRITE)
		dead_add(a, s->stream);
	fs_drop(a, s);
}

/* fs_close_all() - end every stream (FAILED) before the guest stops. */
void fs_close_all(struct agent *a)
{
	while (a->nfs) {
		struct fs_stream *s = a->fs[a->nfs - 1];
		struct fs_err e;

		failr(&e, ECANCELED, "the guest is shutting down", "%s `%s`",
		      kind_name(s->kind), s->path);
		send_failed(a, s->stream, &e);
		fs_drop(a, s);
	}
}

/* Whether serving @s now would send something. */
static bool servable(const struct fs_stream *s)
{
	return s->kind == FS_LIST || (s->kind == FS_READ && s->credit);
}

bool fs_pending(const struct agent *a)
{
	for (size_t i = 0; i < a->nfs; i++) {
		if (servable(a->fs[i]))
			return true;
	}
	return false;
}

void fs_credit(struct fs_stream *s, const struct msb_msg *m)
{
	msb_credit_add(&s->credit, m);
}

/* --- read --- */

/*
 * send_hole() - if the file of @s has a hole at its offset, skip it and
 * send its length instead of its zeros: FS_DATA with "size" and no data
 * (no credit taken). Return: whether one was sent.
 */
static bool send_hole(struct agent *a, struct fs_stream *s)
{
	off_t pos = lseek(s->fd, 0, SEEK_CUR), data, end;
	uint64_t hole;

	if (pos < 0)
		return false;
	data = lseek(s->fd, pos, SEEK_DATA);
	if (data < 0 && errno == ENXIO) { /* a hole up to the end */
		end = lseek(s->fd, 0, SEEK_END);
		hole = end > pos ? (uint64_t)(end - pos) : 0;
	} else if (data > pos) {
		hole = (uint64_t)(data - pos);
	} else {
		lseek(s->fd, pos, SEEK_SET);
		return false;
	}
	if (s->left != FS_ALL && hole > s->left)
		hole = s->left;
	lseek(s->fd, pos + (off_t)hole, SEEK_SET);
	if (!hole)
		return false;
	struct msb_msg m = {
		.type = MSB_MSG_FS_DATA,
		.has = MSB_HAS(MSB_FLD_SIZE),
		.size = hole,
	};
	agent_send(a, s->stream, 0, &m);
	s->count += hole;
	if (s->left != FS_ALL)
		s->left -= hole;
	if (s->left == 0) {
		send_done(a, s->stream, true, s->count);
		fs_drop(a, s);
	}
	return true;
}

/* Send the next chunk of @s; at the end FS_DONE and forget it. */
static void read_chunk(struct agent *a, struct fs_stream *s)
{
	static uint8_t chunk[MSB_CHUNK_MAX];
	size_t want = s->left < sizeof(chunk) ? (size_t)s->left : sizeof(chunk);
	ssize_t n;

	if (want > s->credit)
		want = (size_t)s->credit; /* not 0: see servable() */
	if (s->sparse && send_hole(a, s))
		return;
	do
		n = read(s->fd, chunk, want);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		failed(a, s->stream, errno, "read `%s`", s->path);
		fs_drop(a, s);
		return;
	}
	if (n > 0) {
		struct msb_msg m = {
			.type = MSB_MSG_FS_DATA,
			.has = MSB_HAS(MSB_FLD_DATA),
			.data = {chunk, (size_t)n},
		};

		agent_send(a, s->stream, 0, &m);
		s->count += (uint64_t)n;
		s->credit -= (uint64_t)n;
		if (s->left != FS_ALL)
			s->left -= (uint64_t)n;
	}
	if (n == 0 || s->left == 0) {
		send_done(a, s->stream, true, s->count);
		fs_drop(a, s);
	}
}

static void do_read(struct agent *a, uint32_t stream, const struct msb_msg *m)
{
	char *path = req_path(a, stream, m, MSB_FLD_PATH, "fs_read");
	char name[NAME_MAX + 1];
	struct fs_stream *s;
	struct stat st;

	if (!path)
		return;
	if (req_flags(a, stream, m, 0, "fs_read") < 0) {
		free(path);
		return;
	}
	s = fs_add(a, stream, FS_READ, path);
	if (!s)
		return;
	/* O_NONBLOCK: opening a fifo must not wait for a writer. */
	s->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (s->fd < 0) {
		failed(a, stream, errno, "open `%s`", path);
		goto drop;
	}
	if (fstat(s->fd, &st) < 0) {
		failed(a, stream, errno, "stat `%s`", path);
		goto drop;
	}
	if (S_ISDIR(st.st_mode)) {
		failed(a, stream, EISDIR, "read `%s`", path);
		goto drop;
	}
	if (!S_ISREG(st.st_mode)) {
		struct fs_err e;

		char why[64];

		snprintf(why, sizeof(why), "not a regular file (a %s)",
			 ftype_name(st.st_mode));
		failr(&e, EINVAL, why, "read `%s`", path);
		send_failed(a, stream, &e);
		goto drop;
	}
	if ((m->has & MSB_HAS(MSB_FLD_OFFSET)) && m->offset &&
	    (m->offset > INT64_MAX ||
	     lseek(s->fd, (off_t)m->offset, SEEK_SET) < 0)) {
		failed(a, stream, m->offset > INT64_MAX ? EINVAL : errno,
		       "seek `%s` to %llu", path,
		       (unsigned long long)m->offset);
		goto drop;
	}
	if (m->has & MSB_HAS(MSB_FLD_SIZE))
		s->left = m->size;
	/* Fewer blocks than its size needs: it has holes. */
	s->sparse = (uint64_t)st.st_blocks * 512 < (uint64_t)st.st_size;
	send_entry(a, stream, base_name(path, name, sizeof(name)), &st, NULL);
	if (s->left == 0) {
		send_done(a, stream, true, 0);
		goto drop;
	}
	return; /* the loop sends the data: fs_serve() */
drop:
	fs_drop(a, s);
}

/* --- list --- */

/* Send up to FS_LIST_BATCH entries of @s; at the end FS_DONE. */
static void list_batch(struct agent *a, struct fs_stream *s)
{
	char target[PATH_MAX + 1];
	int dfd = dirfd(s->dir);

	for (unsigned i = 0; i < FS_LIST_BATCH; i++) {
		const char *t = NULL;
		struct dirent *de;
		struct stat st;

		errno = 0;
		de = readdir(s->dir);
		if (!de && errno) {
			failed(a, s->stream, errno, "readdir `%s`", s->path);
			fs_drop(a, s);
			return;
		}
		if (!de) {
			if (s->skipped)
				agent_log(
					"list `%s`: left out %llu entries (vanished, unreadable, or names that are not UTF-8)",
					s->path,
					(unsigned long long)s->skipped);
			send_done(a, s->stream, true, s->count);
			fs_drop(a, s);
			return;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != ENOENT) /* ENOENT: removed meanwhile */
				s->skipped++;
			continue;
		}
		if (S_ISLNK(st.st_mode))
			t = link_target(dfd, de->d_name, target,
					sizeof(target));
		if (!send_entry(a, s->stream, de->d_name, &st, t)) {
			s->skipped++;
			continue;
		}
		s->count++;
	}
}

static void do_list(struct agent *a, uint32_t stream, const struct msb_msg *m)
{
	char *path = req_path(a, stream, m, MSB_FLD_PATH, "fs_list");
	struct fs_stream *s;

	if (!path)
		return;
	if (req_flags(a, stream, m, 0, "fs_list") < 0) {
		free(path);
		return;
	}
	s = fs_add(a, stream, FS_LIST, path);
	if (!s)
		return;
	s->dir = opendir(path);
	if (!s->dir) {
		failed(a, stream, errno, "opendir `%s`", path);
		fs_drop(a, s);
	}
}

/* fs_serve() - send the next piece of every read and list stream. */
void fs_serve(struct agent *a)
{
	static struct fs_stream *todo[AGENT_MAX_FS];
	size_t n = 0;

	/* Serving may drop the served stream (only that one), so take the
	 * list first; start at a different stream each pass. */
	for (size_t i = 0; i < a->nfs; i++) {
		struct fs_stream *s = a->fs[(a->fs_rr + i) % a->nfs];

		if (servable(s))
			todo[n++] = s;
	}
	a->fs_rr++;
	for (size_t i = 0; i < n && msb_buf_avail(&a->out) <= AGENT_OUT_HIGH;
	     i++) {
		if (todo[i]->kind == FS_READ)
			read_chunk(a, todo[i]);
		else
			list_batch(a, todo[i]);
	}
}

/* --- write --- */

/*
 * write_step() - write the data of @m to @s; with END close the file and
 * answer FS_DONE. Return: false when the stream is over (answered).
 */
static bool write_step(struct agent *a, struct fs_stream *s, uint8_t flags,
		       const struct msb_msg *m)
{
	if ((m->has & MSB_HAS(MSB_FLD_DATA)) && m->data.n) {
		if (write_all(s->fd, m->data.p, m->data.n) < 0) {
			failed(a, s->stream, errno, "write `%s`", s->path);
			if (!(flags & MSB_F_END))
				dead_add(a, s->stream);
			return false;
		}
		s->count += m->data.n;
		agent_grant(a, s->stream, &s->owed, m->data.n);
	}
	if (!(flags & MSB_F_END))
		return true;
	if (close(steal_fd(&s->fd)) < 0) {
		failed(a, s->stream, errno, "close `%s`", s->path);
		return false;
	}
	send_done(a, s->stream, true, s->count);
	return false;
}

static void do_write(struct agent *a, uint32_t stream, uint8_t fflags,
		     const struct msb_msg *m)
{
	const uint64_t allowed =
		MSB_FS_CREATE | MSB_FS_TRUNC | MSB_FS_APPEND | MSB_FS_EXCL;
	char *path = req_path(a, stream, m, MSB_FLD_PATH, "fs_write");
	int oflags = O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	int64_t flags;
	int mode;
	mode_t old;
	struct fs_stream *s;

	if (!path)
		return;
	flags = req_flags(a, stream, m, allowed, "fs_write");
	mode = flags < 0 ? -1 : req_mode(a, stream, m, 0644, "fs_write");
	if (mode < 0) {
		free(path);
		return;
	}
	s = fs_add(a, stream, FS_WRITE, path);
	if (!s) {
		if (!(fflags & MSB_F_END))
			dead_add(a, stream);
		return;
	}
	if (flags & MSB_FS_CREATE)
		oflags |= O_CREAT;
	if (flags & MSB_FS_TRUNC)
		oflags |= O_TRUNC;
	if (flags & MSB_FS_APPEND)
		oflags |= O_APPEND;
	if (flags & MSB_FS_EXCL)
		oflags |= O_CREAT | O_EXCL;
	/* O_NONBLOCK: a fifo or a device never blocks the loop (EAGAIN
	 * fails the write instead); it changes nothing for files. */
	old = umask(0);
	s->fd = open(path, oflags, (mode_t)mode);
	umask(old);
	if (s->fd < 0) {
		failed(a, stream, errno, "open `%s`", path);
		if (!(fflags & MSB_F_END))
			dead_add(a, stream);
		fs_drop(a, s);
		return;
	}
	if (!write_step(a, s, fflags, m))
		fs_drop(a, s);
}

/* fs_data() - an FS_DATA frame from the host: the next piece of an upload. */
void fs_data(struct agent *a, uint32_t stream, uint8_t flags,
	     const struct msb_msg *m)
{
	struct fs_stream *s = fs_find(a, stream);

	if (!s) {
		if (dead_check(a, stream, flags & MSB_F_END))
			return;
		agent_error(a, stream, stream == 0 || !proc_find(a, stream),
			    ESRCH,
			    "fs_data: no file is being written on stream %u",
			    stream);
		return;
	}
	if (s->kind != FS_WRITE) {
		agent_error(a, stream, false, EINVAL,
			    "fs_data: stream %u is not writing a file", stream);
		return;
	}
	if (!write_step(a, s, flags, m))
		fs_drop(a, s);
}

/* --- stat, mkdir, rename, chmod, chown --- */

static int do_stat(const char *path, struct agent *a, uint32_t stream,
		   struct fs_err *e)
{
	char name[NAME_MAX + 1], target[PATH_MAX + 1];
	const char *t = NULL;
	struct stat st;

	if (lstat(path, &st) < 0)
		return fail(e, errno, "lstat `%s`", path);
	if (S_ISLNK(st.st_mode))
		t = link_target(AT_FDCWD, path, target, sizeof(target));
	send_entry(a, stream, base_name(path, name, sizeof(name)), &st, t);
	return 0;
}

/*
 * mkdir_parents() - mkdir -p: create each missing component of @path
 * (modified while working, restored), the last with @mode, the others with
 * 0755. Existing directories (or symlinks to them) are fine.
 */
static int mkdir_parents(char *path, mode_t mode, struct fs_err *e)
{
	for (char *s = path + 1;; s++) {
		char c = *s;
		bool last;
		struct stat st;

		if (c != '/' && c != '\0')
			continue;
		if (s[-1] == '/') { /* "//" or the leading "/" */
			if (!c)
				return 0;
			continue;
		}
		last = !s[strspn(s, "/")];
		*s = '\0';
		if (mkdir(path, last ? mode : 0755) < 0) {
			int err = errno;

			if (err == EEXIST && stat(path, &st) == 0 &&
			    S_ISDIR(st.st_mode))
				err = 0;
			else if (err == EEXIST)
				err = last ? EEXIST : ENOTDIR;
			*s = c;
			if (err && last)
				return fail(e, err, "mkdir `%s`", path);
			if (err)
				return fail(e, err, "mkdir `%.*s` for `%s`",
					    (int)(s - path), path, path);
		}
		*s = c;
		if (last)
			return 0;
	}
}

static int do_mkdir(char *path, mode_t mode, bool parents, struct fs_err *e)
{
	mode_t old = umask(0);
	int r = 0;

	if (parents)
		r = mkdir_parents(path, mode, e);
	else if (mkdir(path, mode) < 0)
		r = fail(e, errno, "mkdir `%s`", path);
	umask(old);
	return r;
}

/* --- recursive walks --- */

/* One open directory of a walk. */
struct walk_dir {
	DIR *d;
	int dst;        /* copy: the directory being filled, else -1 */
	size_t rel_len; /* length of walk.rel before this directory's name */
	struct stat st; /* copy: the source directory */
};

/*
 * A depth-first walk below a root directory, without recursion. @rel is
 * the path of the current entry below the root ("/a/b"), for messages and,
 * at its end, the entry's name.
 */
struct walk {
	struct walk_dir dirs[FS_MAX_DEPTH];
	size_t depth;
	char *rel;
	size_t rel_len, rel_cap;
};

/* Close the innermost directory; w->rel still ends with its name. */
static void walk_pop(struct walk *w)
{
	struct walk_dir *d = &w->dirs[--w->depth];

	closedir(d->d);
	close_fd(&d->dst);
}

static void walk_free(struct walk **pw)
{
	struct walk *w = *pw;

	if (!w)
		return;
	while (w->depth)
		walk_pop(w);
	free(w->rel);
	free(w);
}

#define _cleanup_walk_ __attribute__((cleanup(walk_free)))

static struct walk *walk_new(void)
{
	struct walk *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->rel_cap = 256;
	w->rel = calloc(1, w->rel_cap);
	if (!w->rel) {
		free(w);
		return NULL;
	}
	return w;
}

/* Append "/@name" to w->rel. Return: the length before, or -1 (ENOMEM). */
static ssize_t walk_name(struct walk *w, const char *name)
{
	size_t n = strlen(name), before = w->rel_len;

	if (w->rel_len + n + 2 > w->rel_cap) {
		size_t cap = (w->rel_len + n + 2) * 2;
		char *p = realloc(w->rel, cap);

		if (!p)
			return -1;
		w->rel = p;
		w->rel_cap = cap;
	}
	w->rel[w->rel_len++] = '/';
	memcpy(w->rel + w->rel_len, name, n + 1);
	w->rel_len += n;
	return (ssize_t)before;
}

static void walk_trunc(struct walk *w, size_t len)
{
	w->rel_len = len;
	w->rel[len] = '\0';
}

/*
 * walk_push() - descend into the directory open at @fd (taken, with @dst),
 * whose name ends w->rel; @rel_len is w->rel's length without it.
 */
static int walk_push(struct walk *w, int fd, int dst, const struct stat *st,
		     size_t rel_len, const char *root, struct fs_err *e)
{
	struct walk_dir *d = &w->dirs[w->depth];

	d->d = fdopendir(fd);
	if (!d->d) {
		int err = errno;

		close(fd);
		if (dst >= 0)
			close(dst);
		return fail(e, err, "opendir `%s%s`", root, w->rel);
	}
	d->dst = dst;
	d->rel_len = rel_len;
	if (st)
		d->st = *st;
	w->depth++;
	return 0;
}

/*
 * walk_next() - the next entry of the innermost directory, "." and ".."
 * skipped, its name appended to w->rel.
 * Return: 1 with *@name set (*@before: w->rel's length without it), 0 at
 * the end of the directory, -1 on error.
 */
static int walk_next(struct walk *w, const char **name, size_t *before,
		     const char *root, struct fs_err *e)
{
	struct walk_dir *top = &w->dirs[w->depth - 1];

	for (;;) {
		struct dirent *de;
		ssize_t b;

		errno = 0;
		de = readdir(top->d);
		if (!de && errno)
			return fail(e, errno, "readdir `%s%s`", root, w->rel);
		if (!de)
			return 0;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		b = walk_name(w, de->d_name);
		if (b < 0)
			return fail(e, ENOMEM, "walk `%s%s`", root, w->rel);
		*before = (size_t)b;
		*name = w->rel + b + 1;
		return 1;
	}
}

/* @path without trailing slashes (but "/" stays), in a new string. */
static char *strip_slashes(const char *path)
{
	size_t n = strlen(path);

	while (n > 1 && path[n - 1] == '/')
		n--;
	return strndup(path, n);
}

/* rm -r of the directory @path, without following symlinks. */
static int remove_tree(const char *path, struct fs_err *e)
{
	_cleanup_walk_ struct walk *w = walk_new();
	_cleanup_free_ char *root = strip_slashes(path);
	int fd;

	if (!w || !root)
		return fail(e, ENOMEM, "remove `%s`", path);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return fail(e, errno, "open `%s`", path);
	if (walk_push(w, fd, -1, NULL, 0, root, e) < 0)
		return -1;
	while (w->depth) {
		int dfd = dirfd(w->dirs[w->depth - 1].d), r;
		const char *name;
		size_t before;
		struct stat st;

		r = walk_next(w, &name, &before, root, e);
		if (r < 0)
			return -1;
		if (r == 0) {
			/* Done with it: remove the directory itself. */
			size_t len = w->dirs[w->depth - 1].rel_len;

			walk_pop(w);
			if (w->depth)
				r = unlinkat(dirfd(w->dirs[w->depth - 1].d),
					     w->rel + len + 1, AT_REMOVEDIR);
			else
				r = rmdir(path);
			if (r < 0)
				return fail(e, errno, "rmdir `%s%s`", root,
					    w->rel);
			walk_trunc(w, len);
			continue;
		}
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != ENOENT)
				return fail(e, errno, "lstat `%s%s`", root,
					    w->rel);
			walk_trunc(w, before);
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
				return fail(e, errno, "unlink `%s%s`", root,
					    w->rel);
			walk_trunc(w, before);
			continue;
		}
		if (w->depth == FS_MAX_DEPTH)
			return failr(e, ELOOP, TOO_DEEP, "remove `%s%s`", root,
				     w->rel);
		fd = openat(dfd, name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return fail(e, errno, "open `%s%s`", root, w->rel);
		if (walk_push(w, fd, -1, NULL, before, root, e) < 0)
			return -1;
	}
	return 0;
}

static int do_remove(const char *path, bool recursive, struct fs_err *e)
{
	struct stat st, rootst;

	if (lstat(path, &st) < 0)
		return fail(e, errno, "lstat `%s`", path);
	if (!S_ISDIR(st.st_mode)) {
		if (unlink(path) < 0)
			return fail(e, errno, "unlink `%s`", path);
		return 0;
	}
	if (!recursive) {
		if (rmdir(path) < 0)
			return fail(e, errno, "rmdir `%s`", path);
		return 0;
	}
	if (stat("/", &rootst) == 0 && rootst.st_dev == st.st_dev &&
	    rootst.st_ino == st.st_ino)
		return failr(e, EBUSY, "refusing to remove the root directory",
			     "remove `%s`", path);
	return remove_tree(path, e);
}

/* --- copy --- */

/* The two ends of a copy, for messages: "<src><rel>", "<dst><rel>". */
struct copy_names {
	const char *src, *dst, *rel;
};

/* Whether to try the next way of copying after copy_file_range/sendfile
 * failed with @err. */
static bool copy_fallback(int err)
{
	return err == EXDEV || err == EINVAL || err == ENOSYS ||
	       err == EOPNOTSUPP || err == EBADF || err == EOVERFLOW;
}

/*
 * copy_data() - copy from @in to @out (both at their start) until end of
 * file: copy_file_range, else sendfile, else read/write. A source that
 * says 0 early (procfs, sysfs) is read to its real end by the next way.
 * Return: 0, or -1 with errno.
 */
static int copy_data(int in, int out)
{
	static uint8_t buf[MSB_CHUNK_MAX];
	bool range = true, send = true;

	for (;;) {
		ssize_t n;

		if (range)
			n = copy_file_range(in, NULL, out, NULL, FS_COPY_STEP,
					    0);
		else if (send)
			n = sendfile(out, in, NULL, FS_COPY_STEP);
		else
			n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (range || send) && copy_fallback(errno))
			n = 0;
		else if (n < 0)
			return -1;
		if (n > 0 && !range && !send &&
		    write_all(out, buf, (size_t)n) < 0)
			return -1;
		if (n > 0)
			continue;
		if (range)
			range = false;
		else if (send)
			send = false;
		else
			return 0;
	}
}

/*
 * copy_file() - copy the regular file @sname in @sdir to @dname in @ddir
 * (created or truncated): content, then owner and mode as far as the
 * destination allows. @follow: follow a symlink at @sname.
 */
static int copy_file(int sdir, const char *sname, int ddir, const char *dname,
		     bool follow, const struct copy_names *nm, struct fs_err *e)
{
	_cleanup_close_ int in = -1, out = -1;
	struct stat st, dst;
	mode_t old;

	in = openat(sdir, sname,
		    O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK |
			    (follow ? 0 : O_NOFOLLOW));
	if (in < 0)
		return fail(e, errno, "open `%s%s`", nm->src, nm->rel);
	if (fstat(in, &st) < 0)
		return fail(e, errno, "stat `%s%s`", nm->src, nm->rel);
	if (!S_ISREG(st.st_mode))
		return failr(e, EINVAL, "not a regular file", "copy `%s%s`",
			     nm->src, nm->rel);
	/* Truncating the destination would destroy the source. */
	if (fstatat(ddir, dname, &dst, 0) == 0 && dst.st_dev == st.st_dev &&
	    dst.st_ino == st.st_ino)
		return failr(e, EINVAL, "they are the same file",
			     "copy `%s%s` to `%s%s`", nm->src, nm->rel, nm->dst,
			     nm->rel);
	old = umask(0);
	out = openat(ddir, dname,
		     O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY |
			     O_NONBLOCK,
		     0600);
	umask(old);
	if (out < 0)
		return fail(e, errno, "open `%s%s`", nm->dst, nm->rel);
	if (copy_data(in, out) < 0)
		return fail(e, errno, "copy `%s%s` to `%s%s`", nm->src, nm->rel,
			    nm->dst, nm->rel);
	/* Best effort ("when possible"): chown first, it clears setuid. */
	(void)!fchown(out, st.st_uid, st.st_gid);
	(void)!fchmod(out, st.st_mode & 07777);
	if (close(steal_fd(&out)) < 0)
		return fail(e, errno, "close `%s%s`", nm->dst, nm->rel);
	return 0;
}

/*
 * Make way for a new entry at @name in @dir by removing what is there,
 * unless that is a directory. Return: 0, or -1 with errno EEXIST.
 */
static int unlink_nondir(int dir, const char *name)
{
	struct stat st;

	if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    S_ISDIR(st.st_mode) || unlinkat(dir, name, 0) < 0) {
		errno = EEXIST;
		return -1;
	}
	return 0;
}

/* Copy a symlink as a symlink, replacing a non-directory at @dname. */
static int copy_link(int sdir, const char *sname, int ddir, const char *dname,
		     const struct stat *st, const struct copy_names *nm,
		     struct fs_err *e)
{
	char target[PATH_MAX + 1];
	int r;

	if (!link_target(sdir, sname, target, sizeof(target)))
		return fail(e, errno, "readlink `%s%s`", nm->src, nm->rel);
	r = symlinkat(target, ddir, dname);
	if (r < 0 && errno == EEXIST && unlink_nondir(ddir, dname) == 0)
		r = symlinkat(target, ddir, dname);
	if (r < 0)
		return fail(e, errno, "symlink `%s%s`", nm->dst, nm->rel);
	(void)!fchownat(ddir, dname, st->st_uid, st->st_gid,
			AT_SYMLINK_NOFOLLOW);
	return 0;
}

/* Copy a fifo, socket or device node (mknod), replacing a non-directory. */
static int copy_special(int ddir, const char *dname, const struct stat *st,
			const struct copy_names *nm, struct fs_err *e)
{
	mode_t old = umask(0), mode = st->st_mode & (S_IFMT | 07777);
	int r = mknodat(ddir, dname, mode, st->st_rdev);

	if (r < 0 && errno == EEXIST && unlink_nondir(ddir, dname) == 0)
		r = mknodat(ddir, dname, mode, st->st_rdev);
	umask(old);
	if (r < 0)
		return fail(e, errno, "mknod `%s%s`", nm->dst, nm->rel);
	(void)!fchownat(ddir, dname, st->st_uid, st->st_gid,
			AT_SYMLINK_NOFOLLOW);
	(void)!fchmodat(ddir, dname, st->st_mode & 07777, 0);
	return 0;
}

/* Copy one entry that is not a directory, as what it is. */
static int copy_node(int sdir, const char *sname, int ddir, const char *dname,
		     const struct stat *st, const struct copy_names *nm,
		     struct fs_err *e)
{
	if (S_ISREG(st->st_mode))
		return copy_file(sdir, sname, ddir, dname, false, nm, e);
	if (S_ISLNK(st->st_mode))
		return copy_link(sdir, sname, ddir, dname, st, nm, e);
	return copy_special(ddir, dname, st, nm, e);
}

/*
 * Create the directory @name in @dir (0700 while it is filled), or take
 * the one there. Return: a descriptor on it, or -1.
 */
static int make_dst_dir(int dir, const char *name, const struct copy_names *nm,
			struct fs_err *e)
{
	int made = mkdirat(dir, name, 0700), fd;

	if (made < 0 && errno != EEXIST)
		return fail(e, errno, "mkdir `%s%s`", nm->dst, nm->rel);
	fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && made < 0 && (errno == ENOTDIR || errno == ELOOP))
		return fail(e, EEXIST, "mkdir `%s%s`", nm->dst, nm->rel);
	if (fd < 0)
		return fail(e, errno, "open `%s%s`", nm->dst, nm->rel);
	return fd;
}

/* Give a copied directory the owner and mode of its source (best effort). */
static void finish_dir(const struct walk_dir *d)
{
	(void)!fchown(d->dst, d->st.st_uid, d->st.st_gid);
	(void)!fchmod(d->dst, d->st.st_mode & 07777);
}

/*
 * copy_tree() - cp -rT of the directory @src (lstat in @st) to @dst:
 * @dst is created or, if it is a directory already, merged into.
 */
static int copy_tree(const char *src, const char *dst, const struct stat *st,
		     struct fs_err *e)
{
	_cleanup_walk_ struct walk *w = walk_new();
	_cleanup_free_ char *sroot = strip_slashes(src);
	_cleanup_free_ char *droot = strip_slashes(dst);
	struct copy_names nm = {sroot, droot, ""};
	struct stat dstst;
	int sfd, dfd, r;

	if (!w || !sroot || !droot)
		return fail(e, ENOMEM, "copy `%s`", src);
	nm.rel = w->rel;
	sfd = open(src, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0)
		return fail(e, errno, "open `%s`", src);
	dfd = make_dst_dir(AT_FDCWD, dst, &nm, e);
	if (dfd < 0) {
		close(sfd);
		return -1;
	}
	/* The destination's identity: meeting it in the source means
	 * copying a directory into itself, without end. */
	r = 0;
	if (fstat(dfd, &dstst) < 0)
		r = fail(e, errno, "stat `%s`", dst);
	else if (dstst.st_dev == st->st_dev && dstst.st_ino == st->st_ino)
		r = failr(e, EINVAL, "they are the same directory",
			  "copy `%s` to `%s`", src, dst);
	if (r < 0) {
		close(sfd);
		close(dfd);
		return -1;
	}
	if (walk_push(w, sfd, dfd, st, 0, sroot, e) < 0)
		return -1;
	for (;;) {
		struct walk_dir *top = &w->dirs[w->depth - 1];
		int sdir = dirfd(top->d);
		const char *name;
		size_t before;
		struct stat cst;

		r = walk_next(w, &name, &before, sroot, e);
		nm.rel = w->rel; /* walk_name() may move it */
		if (r < 0)
			return -1;
		if (r == 0) {
			size_t len = top->rel_len;

			finish_dir(top);
			walk_pop(w);
			walk_trunc(w, len);
			if (!w->depth)
				return 0;
			continue;
		}
		if (fstatat(sdir, name, &cst, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != ENOENT) /* ENOENT: removed meanwhile */
				return fail(e, errno, "lstat `%s%s`", sroot,
					    w->rel);
			walk_trunc(w, before);
			continue;
		}
		if (!S_ISDIR(cst.st_mode)) {
			if (copy_node(sdir, name, top->dst, name, &cst, &nm,
				      e) < 0)
				return -1;
			walk_trunc(w, before);
			continue;
		}
		if (cst.st_dev == dstst.st_dev && cst.st_ino == dstst.st_ino)
			return failr(e, EINVAL,
				     "cannot copy a directory into itself",
				     "copy `%s` to `%s`", src, dst);
		if (w->depth == FS_MAX_DEPTH)
			return failr(e, ELOOP, TOO_DEEP, "copy `%s%s`", sroot,
				     w->rel);
		sfd = openat(sdir, name,
			     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sfd < 0)
			return fail(e, errno, "open `%s%s`", sroot, w->rel);
		dfd = make_dst_dir(top->dst, name, &nm, e);
		if (dfd < 0) {
			close(sfd);
			return -1;
		}
		if (walk_push(w, sfd, dfd, &cst, before, sroot, e) < 0)
			return -1;
	}
}

static int do_copy(const char *src, const char *dst, bool recursive,
		   struct fs_err *e)
{
	struct copy_names nm = {src, dst, ""};
	struct stat st;

	if (!recursive) {
		/* Like cp: the source's symlinks are followed. */
		if (stat(src, &st) < 0)
			return fail(e, errno, "stat `%s`", src);
		if (S_ISDIR(st.st_mode))
			return failr(
				e, EISDIR,
				"Is a directory (copying a directory needs RECURSIVE)",
				"copy `%s`", src);
		return copy_file(AT_FDCWD, src, AT_FDCWD, dst, true, &nm, e);
	}
	/* Like cp -R: symlinks are copied as symlinks, even @src. */
	if (lstat(src, &st) < 0)
		return fail(e, errno, "lstat `%s`", src);
	if (!S_ISDIR(st.st_mode))
		return copy_node(AT_FDCWD, src, AT_FDCWD, dst, &st, &nm, e);
	return copy_tree(src, dst, &st, e);
}

/* --- dispatch --- */

/* Check the uid or gid of a chown: -1 (unchanged) or a valid id. */
static bool id_ok(const struct msb_msg *m, enum msb_field f, int64_t v)
{
	return (m->has & MSB_HAS(f)) && v >= -1 && v < (int64_t)UINT32_MAX;
}

/*
 * The requests answered in the frame handler. Return: 0 with FS_DONE to
 * send, 1 when the reply was sent (ERROR), -1 with @e to send.
 */
static int fs_sync(struct agent *a, uint32_t stream, const struct msb_msg *m,
		   struct fs_err *e)
{
	const char *op = msb_msg_type_name(m->type);
	_cleanup_free_ char *path = req_path(a, stream, m, MSB_FLD_PATH, op);
	_cleanup_free_ char *path2 = NULL;
	int64_t flags = 0;
	int mode = 0;

	if (!path)
		return 1;
	switch (m->type) {
	case MSB_MSG_FS_STAT:
		flags = req_flags(a, stream, m, 0, op);
		return flags < 0 ? 1 : do_stat(path, a, stream, e);
	case MSB_MSG_FS_MKDIR:
		flags = req_flags(a, stream, m, MSB_FS_PARENTS, op);
		mode = flags < 0 ? -1 : req_mode(a, stream, m, 0755, op);
		if (mode < 0)
			return 1;
		return do_mkdir(path, (mode_t)mode, flags & MSB_FS_PARENTS, e);
	case MSB_MSG_FS_REMOVE:
		flags = req_flags(a, stream, m, MSB_FS_RECURSIVE, op);
		if (flags < 0)
			return 1;
		return do_remove(path, flags & MSB_FS_RECURSIVE, e);
	case MSB_MSG_FS_RENAME:
	case MSB_MSG_FS_COPY:
		flags = req_flags(
			a, stream, m,
			m->type == MSB_MSG_FS_COPY ? MSB_FS_RECURSIVE : 0, op);
		if (flags < 0)
			return 1;
		path2 = req_path(a, stream, m, MSB_FLD_PATH2, op);
		if (!path2)
			return 1;
		if (m->type == MSB_MSG_FS_COPY)
			return do_copy(path, path2, flags & MSB_FS_RECURSIVE,
				       e);
		if (rename(path, path2) < 0)
			return fail(e, errno, "rename `%s` to `%s`", path,
				    path2);
		return 0;
	case MSB_MSG_FS_CHMOD:
		flags = req_flags(a, stream, m, 0, op);
		mode = flags < 0 ? -1 : req_mode(a, stream, m, -1, op);
		if (mode < 0)
			return 1;
		if (chmod(path, (mode_t)mode) < 0)
			return fail(e, errno, "chmod `%s`", path);
		return 0;
	case MSB_MSG_FS_CHOWN:
		if (req_flags(a, stream, m, 0, op) < 0)
			return 1;
		if (!id_ok(m, MSB_FLD_UID, m->uid) ||
		    !id_ok(m, MSB_FLD_GID, m->gid)) {
			agent_error(
				a, stream, true, EINVAL,
				"%s: `uid` and `gid` must both be given, each -1 or 0..4294967294",
				op);
			return 1;
		}
		/* Like chown(1): a symlink's target changes owner. */
		if (chown(path, (uid_t)m->uid, (gid_t)m->gid) < 0)
			return fail(e, errno, "chown `%s`", path);
		return 0;
	case MSB_MSG_FS_SYMLINK: {
		if (req_flags(a, stream, m, 0, op) < 0)
			return 1;
		_cleanup_free_ char *target = msb_bytes_dup(m->target);
		if (!target || !*target) {
			agent_error(a, stream, true, EINVAL,
				    "%s: bad or empty `target`", op);
			return 1;
		}
		if (symlink(target, path) < 0)
			return fail(e, errno, "symlink `%s` -> `%s`", path,
				    target);
		return 0;
	}
	default:
		agent_error(a, stream, true, ENOTSUP, "%s: not a request", op);
		return 1;
	}
}

/*
 * fs_request() - a filesystem request with START on an unused stream
 * (the caller checked both): answer it, or start serving it.
 */
void fs_request(struct agent *a, uint32_t stream, uint8_t flags,
		const struct msb_msg *m)
{
	struct fs_err e;
	int r;

	if (stream == 0) {
		agent_error(a, stream, true, EINVAL,
			    "%s: stream 0 is the control stream",
			    msb_msg_type_name(m->type));
		return;
	}
	switch (m->type) {
	case MSB_MSG_FS_READ:
		do_read(a, stream, m);
		return;
	case MSB_MSG_FS_LIST:
		do_list(a, stream, m);
		return;
	case MSB_MSG_FS_WRITE:
		do_write(a, stream, flags, m);
		return;
	default:
		break;
	}
	r = fs_sync(a, stream, m, &e);
	if (r < 0)
		send_failed(a, stream, &e);
	else if (r == 0)
		send_done(a, stream, false, 0);
}
