// SPDX-License-Identifier: Apache-2.0
/*
 * Copying between a sandbox and a tar stream (msb cp with `-`, as docker
 * cp does), through the guest filesystem API and libarchive.
 *
 * DOC: Theory of operation
 *
 * Out: the tree at a guest path becomes a POSIX (pax) tar written to a
 * descriptor. What the guest sends is hostile, as for a copy to files
 * (hostout.c): every listing is checked (msb__out_check_listing(): plain
 * names, none repeated), so member names are relative paths of plain names,
 * never absolute and never "..", whatever the guest does; the --max-size
 * and --max-files limits count the same way; setuid, setgid and sticky
 * bits are dropped and owners are the caller's unless archive mode asks
 * to keep them. A file is written with the size its listing gave: a file
 * that grows is cut there, one that shrinks is padded with zeros (with a
 * warning), so the stream stays a valid tar. Hard links come out as
 * separate files; devices, fifos and sockets are skipped with a warning.
 *
 * In: the tar comes from the host user, and is still checked before a
 * byte reaches the guest. It is spooled to an unlinked temporary file,
 * read once to check every member (names relative, no ".." component;
 * hard links only to a file earlier in the archive; no member below a
 * symlink member, nor one that would write through it), and
 * only then read again to write. A refused archive writes nothing. Hard
 * links become copies (the guest API has no link()). Directories get
 * their modes last, so that a read-only directory can be filled.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/hostout.h"
#include "lib/archive_lazy.h"
#include "lib/internal.h"

#define MAX_DEPTH 256
#define TAR_BLOCK 65536
#define ESC(buf, s) msb_escape(buf, sizeof(buf), s, strlen(s))

/* ---- out: guest tree → tar ------------------------------------------ */

struct tar_out {
	msb_sandbox *sb;
	struct msb_out out;
	struct archive *a;
	char what[128];
};

struct tar_sink {
	struct tar_out *t;
	uint64_t left; /* bytes the header promised and not yet written */
	int rc;
	msb_error err;
};

static int tar_err(struct tar_out *t, const char *member)
{
	char s[600];

	return msb__error(MSB_ESYS, archive_errno(t->a), "%s: tar `%s`: %s",
			  t->out.what, ESC(s, member),
			  archive_error_string(t->a)
				  ? archive_error_string(t->a)
				  : "write failed");
}

static int to_tar(const void *data, size_t len, void *ud)
{
	struct tar_sink *s = ud;

	if (len > s->left)
		len = (size_t)s->left; /* grew since listed: cut */
	if (len && archive_write_data(s->t->a, data, len) != (la_ssize_t)len) {
		s->rc = tar_err(s->t, "data");
		msb__error_save(&s->err);
		return 1;
	}
	s->left -= len;
	return 0;
}

static void fill_entry(struct tar_out *t, struct archive_entry *ae,
		       const char *member, const msb_fs_entry *e)
{
	archive_entry_set_pathname(ae, member);
	archive_entry_set_mode(ae, 0);
	archive_entry_set_perm(ae, t->out.archive ? e->mode & 07777
						  : e->mode & 0777);
	if (t->out.archive) {
		archive_entry_set_uid(ae, e->uid >= 0 ? e->uid : 0);
		archive_entry_set_gid(ae, e->gid >= 0 ? e->gid : 0);
	} else {
		archive_entry_set_uid(ae, getuid());
		archive_entry_set_gid(ae, getgid());
	}
	archive_entry_set_mtime(ae, (time_t)(e->mtime_ns / 1000000000),
				(long)(e->mtime_ns % 1000000000));
}

/* Guest entry @e at @src as tar member @member. */
static int tar_put(struct tar_out *t, const msb_fs_entry *e, const char *src,
		   const char *member, int depth)
{
	char s1[600];
	int rc;

	if (depth > MAX_DEPTH)
		return msb__error(MSB_EINVAL, 0, "%s: `%s`: tree too deep",
				  t->out.what, ESC(s1, src));
	if (e->type != MSB_FS_FILE && e->type != MSB_FS_DIR &&
	    e->type != MSB_FS_SYMLINK) {
		msb__log(MSB_LOG_WARN,
			 "skipping `%s`: not a file, directory or symlink",
			 ESC(s1, src));
		return 0;
	}
	if ((rc = msb__out_count_entry(&t->out)) < 0)
		return rc;
	struct archive_entry *ae = archive_entry_new();
	if (!ae)
		return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	fill_entry(t, ae, member, e);
	if (e->type == MSB_FS_SYMLINK) {
		archive_entry_set_filetype(ae, AE_IFLNK);
		archive_entry_set_symlink(ae, e->target ? e->target : "");
		rc = archive_write_header(t->a, ae) == ARCHIVE_OK
			     ? 0
			     : tar_err(t, member);
		archive_entry_free(ae);
		return rc;
	}
	if (e->type == MSB_FS_FILE) {
		if ((rc = msb__out_count_bytes(&t->out, e->size, src)) < 0) {
			archive_entry_free(ae);
			return rc;
		}
		archive_entry_set_filetype(ae, AE_IFREG);
		archive_entry_set_size(ae, (la_int64_t)e->size);
		if (archive_write_header(t->a, ae) != ARCHIVE_OK) {
			rc = tar_err(t, member);
			archive_entry_free(ae);
			return rc;
		}
		archive_entry_free(ae);
		struct tar_sink s = {.t = t, .left = e->size};
		rc = msb_sandbox_fs_read_stream(t->sb, src, to_tar, &s);
		if (s.rc < 0)
			return msb__error_restore(&s.err);
		if (rc < 0)
			return rc;
		if (s.left) {
			/* shrank since listed: zeros keep the tar valid */
			static const char zeros[4096];
			msb__log(MSB_LOG_WARN,
				 "`%s` shrank while copied: padded with zeros",
				 ESC(s1, src));
			while (s.left) {
				size_t n = s.left < sizeof(zeros)
						   ? (size_t)s.left
						   : sizeof(zeros);
				if (archive_write_data(t->a, zeros, n) !=
				    (la_ssize_t)n)
					return tar_err(t, member);
				s.left -= n;
			}
		}
		return 0;
	}
	/* a directory: its header, then its entries */
	archive_entry_set_filetype(ae, AE_IFDIR);
	rc = archive_write_header(t->a, ae) == ARCHIVE_OK ? 0
							  : tar_err(t, member);
	archive_entry_free(ae);
	if (rc < 0)
		return rc;
	msb_fs_entry *v = NULL;
	size_t n = 0;
	if ((rc = msb_sandbox_fs_list(&v, &n, t->sb, src)) < 0)
		return rc;
	const char **names = calloc(n + 1, sizeof(*names));
	if (!names) {
		msb_fs_entries_free(v, n);
		return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++)
		names[i] = v[i].name;
	rc = msb__out_check_listing(&t->out, src, names, n);
	free(names);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		_cleanup_free_ char *s = xasprintf(
			"%s%s%s", src, src[strlen(src) - 1] == '/' ? "" : "/",
			v[i].name);
		_cleanup_free_ char *m = xasprintf("%s/%s", member, v[i].name);
		rc = s && m ? tar_put(t, &v[i], s, m, depth + 1)
			    : msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	}
	msb_fs_entries_free(v, n);
	return rc;
}

EXPORT int msb_sandbox_fs_copy_out_tar(msb_sandbox *sb, const char *guest_path,
				       int fd, const msb_copy_options *opts)
{
	struct tar_out t = {.sb = sb};
	msb_fs_entry e;
	int rc;

	msb__error_clear();
	if (!sb || !guest_path || fd < 0)
		return msb__error(
			MSB_EINVAL, 0,
			"sandbox, guest path and descriptor are required");
	snprintf(t.what, sizeof(t.what), "copy out of sandbox `%s`", sb->name);
	if ((rc = msb_libarchive_load()) < 0 ||
	    (rc = msb__out_init(&t.out, opts, t.what)) < 0)
		return rc;
	/* The top member: the last component of the path the caller gave,
	 * "." for the root. */
	const char *top = strrchr(guest_path, '/');
	top = top ? top + 1 : guest_path;
	_cleanup_free_ char *name = NULL;
	if (!*top) { /* "/dir/" or "/" */
		size_t l = strlen(guest_path);
		while (l > 1 && guest_path[l - 1] == '/')
			l--;
		const char *b = guest_path + l;
		while (b > guest_path && b[-1] != '/')
			b--;
		name = strndup(b, (size_t)(guest_path + l - b));
	} else {
		name = strdup(top);
	}
	if (!name)
		return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	if (!msb__name_ok(name, strlen(name))) {
		free(name);
		name = strdup(".");
		if (!name)
			return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	}
	if ((rc = msb_sandbox_fs_stat(&e, sb, guest_path)) < 0)
		return rc;
	if (!(t.a = archive_write_new()) ||
	    archive_write_set_format_pax_restricted(t.a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(t.a, 10240) != ARCHIVE_OK ||
	    archive_write_open_fd(t.a, fd) != ARCHIVE_OK) {
		rc = msb__error(MSB_ESYS, t.a ? archive_errno(t.a) : ENOMEM,
				"tar: %s",
				t.a && archive_error_string(t.a)
					? archive_error_string(t.a)
					: "out of memory");
		msb_fs_entry_clear(&e);
		archive_write_free(t.a);
		return rc;
	}
	rc = tar_put(&t, &e, guest_path, name, 0);
	msb_fs_entry_clear(&e);
	/* On an error the archive is left without its end blocks, so that
	 * a reader sees it truncated rather than complete. */
	if (rc == 0 && archive_write_close(t.a) != ARCHIVE_OK)
		rc = tar_err(&t, "(end)");
	archive_write_free(t.a);
	return rc < 0 ? rc : 0;
}

/* ---- in: tar → guest tree ------------------------------------------- */

/* Members seen while checking: files (for hard links) and symlinks (no
 * member may go below one). Sorted arrays would scale better; archives
 * given to cp are small enough for a linear scan of the symlinks, and
 * files are looked up only for hard links. */
struct seen {
	char **v;
	size_t n, cap;
};

static int seen_add(struct seen *s, const char *p)
{
	if (s->n == s->cap) {
		size_t c = s->cap ? s->cap * 2 : 64;
		char **g = realloc(s->v, c * sizeof(*g));
		if (!g)
			return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
		s->v = g;
		s->cap = c;
	}
	if (!(s->v[s->n] = strdup(p)))
		return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	s->n++;
	return 0;
}

static bool seen_has(const struct seen *s, const char *p)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i], p))
			return true;
	return false;
}

static void seen_free(struct seen *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
}

/*
 * The member name @name in normal form in @out: components joined by '/',
 * "." and empty components dropped ("" for the top). Return 0, or
 * -MSB_EINVAL for an absolute name, a ".." component or a component that
 * is not a plain name.
 */
static int member_norm(const char *name, char *out, size_t cap,
		       const char *kind)
{
	char s[600];
	size_t o = 0;

	if (!name)
		return msb__error(MSB_EINVAL, 0, "tar: a %s without a name",
				  kind);
	if (name[0] == '/')
		return msb__error(MSB_EINVAL, 0,
				  "tar: %s `%s` is absolute: refused", kind,
				  ESC(s, name));
	for (const char *p = name; *p;) {
		const char *end = strchr(p, '/');
		size_t l = end ? (size_t)(end - p) : strlen(p);
		if (l == 2 && p[0] == '.' && p[1] == '.')
			return msb__error(
				MSB_EINVAL, 0,
				"tar: %s `%s` leaves the tree (..): refused",
				kind, ESC(s, name));
		if (l && !(l == 1 && p[0] == '.')) {
			if (!msb__name_ok(p, l) || o + l + 2 > cap)
				return msb__error(MSB_EINVAL, 0,
						  "tar: %s `%s`: bad name",
						  kind, ESC(s, name));
			if (o)
				out[o++] = '/';
			memcpy(out + o, p, l);
			o += l;
		}
		p += l;
		while (*p == '/')
			p++;
	}
	out[o] = '\0';
	return 0;
}

/* Is a proper prefix of @p (at a '/') a symlink member? */
static bool below_symlink(const struct seen *links, const char *p)
{
	for (const char *c = strchr(p, '/'); c; c = strchr(c + 1, '/')) {
		for (size_t i = 0; i < links->n; i++)
			if (strlen(links->v[i]) == (size_t)(c - p) &&
			    !strncmp(links->v[i], p, (size_t)(c - p)))
				return true;
	}
	return false;
}

static int open_reader(struct archive **out, int fd, off_t start)
{
	struct archive *a;
	int rc;

	*out = NULL;
	if ((rc = msb_libarchive_load()) < 0)
		return rc;
	if (!(a = archive_read_new()))
		return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	archive_read_support_filter_all(a);
	if (lseek(fd, start, SEEK_SET) < 0 ||
	    archive_read_open_fd(a, fd, TAR_BLOCK) != ARCHIVE_OK) {
		rc = msb__error(MSB_EINVAL, 0, "tar: %s",
				archive_error_string(a)
					? archive_error_string(a)
					: strerror(errno));
		archive_read_free(a);
		return rc;
	}
	*out = a;
	return 0;
}

/* Pass 1: check every member; nothing is written. */
int msb__tar_check(int fd, off_t start, size_t *members)
{
	struct archive *a;
	struct archive_entry *ae;
	struct seen files = {0}, links = {0};
	char p[8192], h[8192], s[600], s2[600];
	int rc, r;

	*members = 0;
	if ((rc = open_reader(&a, fd, start)) < 0)
		return rc;
	while ((r = archive_read_next_header(a, &ae)) == ARCHIVE_OK) {
		const char *hl = archive_entry_hardlink(ae);
		mode_t type = archive_entry_filetype(ae);
		if ((rc = member_norm(archive_entry_pathname(ae), p, sizeof(p),
				      "member")) < 0)
			break;
		if (!(type == AE_IFLNK && !hl) && seen_has(&links, p)) {
			rc = msb__error(
				MSB_EINVAL, 0,
				"tar: member `%s` replaces a symlink member: refused",
				ESC(s, p));
			break;
		}
		if (below_symlink(&links, p)) {
			rc = msb__error(
				MSB_EINVAL, 0,
				"tar: member `%s` is below a symlink member: refused",
				ESC(s, p));
			break;
		}
		if (hl) {
			if ((rc = member_norm(hl, h, sizeof(h), "hard link")) <
			    0)
				break;
			if (!*p || !seen_has(&files, h)) {
				rc = msb__error(
					MSB_EINVAL, 0,
					"tar: hard link `%s` to `%s`, not a file earlier in the archive: refused",
					ESC(s, p), ESC(s2, h));
				break;
			}
		} else if (type == AE_IFLNK) {
			if (!*p) {
				rc = msb__error(
					MSB_EINVAL, 0,
					"tar: the top of the archive is a symlink: refused");
				break;
			}
			rc = seen_add(&links, p);
		} else if (type == AE_IFREG) {
			if (!*p) {
				rc = msb__error(
					MSB_EINVAL, 0,
					"tar: a file member with no name: refused");
				break;
			}
			rc = seen_add(&files, p);
		}
		if (rc < 0)
			break;
		(*members)++;
		if (archive_read_data_skip(a) != ARCHIVE_OK) {
			r = ARCHIVE_FATAL;
			break;
		}
	}
	if (rc == 0 && r != ARCHIVE_EOF)
		rc = msb__error(MSB_EINVAL, 0, "tar: %s",
				archive_error_string(a)
					? archive_error_string(a)
					: "unreadable");
	archive_read_free(a);
	seen_free(&files);
	seen_free(&links);
	return rc;
}

struct tar_src {
	struct archive *a;
	int failed;
};

static long from_archive(void *buf, size_t cap, void *ud)
{
	struct tar_src *s = ud;
	la_ssize_t n = archive_read_data(s->a, buf, cap);

	if (n < 0) {
		s->failed = 1;
		return -1;
	}
	return (long)n;
}

static char *join(const char *dir, const char *rel)
{
	if (!*rel)
		return strdup(dir);
	return xasprintf("%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/",
			 rel);
}

static char *parent_of(const char *path)
{
	char *p = strdup(path);
	char *sl = p ? strrchr(p, '/') : NULL;

	if (sl && sl != p)
		*sl = '\0';
	else if (sl)
		sl[1] = '\0';
	return p;
}

/* Pass 2: write the members under @dst. */
static int tar_write(msb_sandbox *sb, int fd, off_t start, const char *dst,
		     bool owners)
{
	struct archive *a;
	struct archive_entry *ae;
	struct seen dirs = {0};
	unsigned int *dmodes = NULL;
	char p[8192], h[8192], s[600];
	int rc, r;

	if ((rc = open_reader(&a, fd, start)) < 0)
		return rc;
	while ((r = archive_read_next_header(a, &ae)) == ARCHIVE_OK) {
		const char *hl = archive_entry_hardlink(ae);
		mode_t type = archive_entry_filetype(ae);
		unsigned int mode = archive_entry_perm(ae) & 07777;
		if ((rc = member_norm(archive_entry_pathname(ae), p, sizeof(p),
				      "member")) < 0)
			break;
		_cleanup_free_ char *path = join(dst, p);
		_cleanup_free_ char *parent = path ? parent_of(path) : NULL;
		if (!path || !parent) {
			rc = msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
			break;
		}
		if (*p && (rc = msb_sandbox_fs_mkdir(sb, parent, 0755, 1)) < 0)
			break;
		if (hl) {
			_cleanup_free_ char *from = NULL;
			if ((rc = member_norm(hl, h, sizeof(h), "hard link")) <
			    0)
				break;
			if (!(from = join(dst, h))) {
				rc = msb__error(MSB_ENOMEM, ENOMEM,
						"out of memory");
				break;
			}
			msb_sandbox_fs_remove(sb, path, 0);
			rc = msb_sandbox_fs_copy(sb, from, path, 0);
		} else if (type == AE_IFDIR) {
			if ((rc = msb_sandbox_fs_mkdir(sb, path, 0700, 1)) ==
				    0 &&
			    (rc = seen_add(&dirs, path)) == 0) {
				unsigned int *g = realloc(
					dmodes, dirs.n * sizeof(*dmodes));
				if (!g)
					rc = msb__error(MSB_ENOMEM, ENOMEM,
							"out of memory");
				else
					(dmodes = g)[dirs.n - 1] = mode;
			}
		} else if (type == AE_IFLNK) {
			msb_sandbox_fs_remove(sb, path, 0);
			rc = msb_sandbox_fs_symlink(
				sb, path,
				archive_entry_symlink(ae)
					? archive_entry_symlink(ae)
					: "");
		} else if (type == AE_IFREG) {
			struct tar_src src = {.a = a};
			rc = msb_sandbox_fs_write_stream(sb, path, from_archive,
							 &src, mode, 0);
			if (src.failed)
				rc = msb__error(MSB_EINVAL, 0, "tar: `%s`: %s",
						ESC(s, p),
						archive_error_string(a));
			if (rc == 0)
				rc = msb_sandbox_fs_chmod(sb, path, mode);
		} else {
			msb__log(
				MSB_LOG_WARN,
				"skipping tar member `%s`: not a file, directory or link",
				ESC(s, p));
			continue;
		}
		if (rc == 0 && owners && type != AE_IFLNK)
			rc = msb_sandbox_fs_chown(sb, path,
						  archive_entry_uid(ae),
						  archive_entry_gid(ae));
		if (rc < 0)
			break;
	}
	if (rc == 0 && r != ARCHIVE_EOF)
		rc = msb__error(MSB_EINVAL, 0, "tar: %s",
				archive_error_string(a)
					? archive_error_string(a)
					: "unreadable");
	/* Directory modes last, deepest (latest) first. */
	for (size_t i = dirs.n; rc == 0 && i > 0; i--)
		rc = msb_sandbox_fs_chmod(sb, dirs.v[i - 1], dmodes[i - 1]);
	archive_read_free(a);
	seen_free(&dirs);
	free(dmodes);
	return rc;
}

/* Copy @fd to an unlinked temporary file under @tmpdir; its descriptor. */
static int spool(int fd, const char *tmpdir, int *out)
{
	char buf[TAR_BLOCK];
	int t = open(tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	*out = -1;
	if (t < 0)
		return msb__error(MSB_ESYS, errno, "temporary file in `%s`: %s",
				  tmpdir, strerror(errno));
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			close(t);
			return msb__error(MSB_ESYS, e, "read the tar: %s",
					  strerror(e));
		}
		if (n == 0)
			break;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(t, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				int e = errno;
				close(t);
				return msb__error(
					e == ENOSPC ? MSB_ENOSPC : MSB_ESYS, e,
					"spool the tar: %s", strerror(e));
			}
			off += w;
		}
	}
	*out = t;
	return 0;
}

EXPORT int msb_sandbox_fs_copy_in_tar(msb_sandbox *sb, int fd,
				      const char *guest_path, int flags)
{
	struct msb_paths paths;
	size_t members;
	int rc;

	msb__error_clear();
	if (!sb || fd < 0 || !guest_path || guest_path[0] != '/')
		return msb__error(
			MSB_EINVAL, 0,
			"sandbox, descriptor and an absolute guest path are required");
	if (flags & ~MSB_TAR_OWNERS)
		return msb__error(MSB_EINVAL, 0, "unknown flags %#x", flags);
	/* A seekable tar is read in place; a pipe is spooled first. */
	_cleanup_close_ int spooled = -1;
	off_t start = lseek(fd, 0, SEEK_CUR);
	if (start < 0) {
		if ((rc = msb__paths_home(&paths)) < 0)
			return rc;
		char tmp[4200];
		snprintf(tmp, sizeof(tmp), "%s/tmp", paths.home);
		if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
			snprintf(tmp, sizeof(tmp), "%s", paths.home);
		rc = spool(fd, tmp, &spooled);
		msb__paths_clear(&paths);
		if (rc < 0)
			return rc;
		fd = spooled;
		start = 0;
	}
	if ((rc = msb__tar_check(fd, start, &members)) < 0)
		return rc;
	if ((rc = msb_sandbox_fs_mkdir(sb, guest_path, 0755, 1)) < 0)
		return rc;
	return tar_write(sb, fd, start, guest_path, flags & MSB_TAR_OWNERS);
}
