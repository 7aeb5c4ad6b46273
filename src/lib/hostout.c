// SPDX-License-Identifier: Apache-2.0
/*
 * The one writer of host files from guest-controlled data.
 *
 * DOC: Theory of operation
 *
 * Copy-out (of a sandbox through the agent, of a volume through
 * libext2fs) turns names, types, modes, sizes and contents that a hostile
 * guest chose into host files. Every such write goes through this file,
 * which holds to these rules:
 *
 *  - The caller's destination path is resolved once, as the caller would
 *    (msb__out_open_top()); everything below it is reached by descriptor,
 *    one checked name at a time (*at() calls on directory descriptors),
 *    so no path string built from guest names is ever resolved.
 *  - A name is one plain component (msb__name_ok()), and names repeat
 *    nowhere in a listing (msb__out_check_listing()): "..", "a/b" or a
 *    second "v" after a symlink "v" are refused before anything is
 *    written for them.
 *  - Nothing already in the destination is followed: directories are
 *    opened O_NOFOLLOW; a symlink where a directory goes is replaced by a
 *    directory; files and links are made under a temporary name and
 *    renamed over what is there (rename replaces a link, never writes
 *    through it).
 *  - Modes lose setuid, setgid and sticky bits and are clamped to the
 *    umask; files belong to the caller. Only archive mode keeps them.
 *  - Zero blocks become holes; totals of bytes and entries are bounded.
 */
#include "lib/hostout.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/internal.h"

#define HOLE_BLOCK 4096

/* @s escaped for a message, in @buf. */
#define ESC(buf, s) msb_escape(buf, sizeof(buf), s, strlen(s))

static mode_t current_umask(void)
{
	/* /proc/self/status has it without changing it (umask() would,
	 * for a moment, for every thread). */
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	unsigned int m;

	if (f) {
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "Umask: %o", &m) == 1) {
				fclose(f);
				return (mode_t)m & 0777;
			}
		fclose(f);
	}
	mode_t old = umask(022);
	umask(old);
	return old;
}

int msb__out_init(struct msb_out *o, const msb_copy_options *opts,
		  const char *what)
{
	memset(o, 0, sizeof(*o));
	if (opts && opts->version != MSB_COPY_OPTIONS_VERSION)
		return msb__error(MSB_EINVAL, 0,
				  "msb_copy_options: version %u, expected %u",
				  opts->version, MSB_COPY_OPTIONS_VERSION);
	o->archive = opts && opts->archive;
	o->root = geteuid() == 0;
	o->umask = current_umask();
	o->max_bytes = opts && opts->max_bytes ? opts->max_bytes
					       : MSB_COPY_MAX_BYTES_DEFAULT;
	o->max_files = opts && opts->max_files ? opts->max_files
					       : MSB_COPY_MAX_FILES_DEFAULT;
	o->what = what;
	return 0;
}

bool msb__name_ok(const char *name, size_t len)
{
	if (!name || len == 0 || len > NAME_MAX)
		return false;
	if ((len == 1 && name[0] == '.') ||
	    (len == 2 && name[0] == '.' && name[1] == '.'))
		return false;
	return !memchr(name, '/', len) && !memchr(name, '\0', len);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

long msb__names_dup(const char *const *names, size_t n)
{
	if (n < 2)
		return -1;
	const char **v = malloc(n * sizeof(*v));
	if (!v)
		return -2;
	memcpy(v, names, n * sizeof(*v));
	qsort(v, n, sizeof(*v), cmp_str);
	const char *dup = NULL;
	for (size_t i = 1; i < n && !dup; i++)
		if (!strcmp(v[i - 1], v[i]))
			dup = v[i];
	free(v);
	if (!dup)
		return -1;
	/* The index of its second occurrence, in the caller's order. */
	long first = -1;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(names[i], dup))
			continue;
		if (first >= 0)
			return (long)i;
		first = (long)i;
	}
	return first;
}

int msb__out_check_listing(const struct msb_out *o, const char *dir,
			   const char *const *names, size_t n)
{
	char e[300], d[600];

	for (size_t i = 0; i < n; i++) {
		size_t len = names[i] ? strlen(names[i]) : 0;
		if (!msb__name_ok(names[i], len))
			return msb__error(
				MSB_EPROTO, 0,
				"%s: refusing entry `%s` in `%s`: not a plain "
				"name",
				o->what,
				names[i] ? msb_escape(e, sizeof(e), names[i],
						      len)
					 : "",
				ESC(d, dir));
	}
	long k = msb__names_dup(names, n);
	if (k == -2)
		return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	if (k >= 0)
		return msb__error(MSB_EPROTO, 0,
				  "%s: refusing entry `%s` in `%s`: the name "
				  "appears twice",
				  o->what, ESC(e, names[k]), ESC(d, dir));
	return 0;
}

int msb__out_open_top(int *dirfd, char **name, const char *host_path)
{
	char p[600];

	*dirfd = -1;
	*name = NULL;
	if (!host_path || !*host_path)
		return msb__error(MSB_EINVAL, 0, "the host path is empty");
	_cleanup_free_ char *path = strdup(host_path);
	if (!path)
		return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	size_t len = strlen(path);
	while (len > 1 && path[len - 1] == '/')
		path[--len] = '\0';
	char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	if (!msb__name_ok(base, strlen(base)))
		return msb__error(MSB_EINVAL, 0,
				  "destination `%s`: name the entry to create, "
				  "not `%s`",
				  ESC(p, host_path), *base ? base : "/");
	const char *parent = ".";
	if (slash == path)
		parent = "/";
	else if (slash) {
		*slash = '\0';
		parent = path;
	}
	int fd = open(parent, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return msb__error(errno == ENOENT ? MSB_ENOTFOUND : MSB_ESYS,
				  errno, "destination folder `%s`: %s",
				  ESC(p, parent), strerror(errno));
	*name = strdup(base);
	if (!*name) {
		close(fd);
		return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	}
	*dirfd = fd;
	return 0;
}

/* One more entry, within the limit. */
int msb__out_count_entry(struct msb_out *o)
{
	if (o->files >= o->max_files)
		return msb__error(MSB_ENOSPC, 0,
				  "%s: more than %llu entries: stopped (raise "
				  "the limit with --max-files)",
				  o->what, (unsigned long long)o->max_files);
	o->files++;
	return 0;
}

static unsigned int final_mode(const struct msb_out *o, unsigned int mode)
{
	return o->archive ? mode & 07777 : mode & 0777 & ~o->umask;
}

static int sys_err(int err, const char *op, const char *shown)
{
	char s[600];

	return msb__error(err == ENOSPC || err == EDQUOT  ? MSB_ENOSPC
			  : err == EEXIST                 ? MSB_EEXIST
			  : err == EISDIR                 ? MSB_EISDIR
			  : err == EACCES || err == EPERM ? MSB_EPERM
							  : MSB_ESYS,
			  err, "%s `%s`: %s", op, ESC(s, shown), strerror(err));
}

/* Owners (archive mode, as root) then mode, on descriptor @fd. */
static int set_owner_mode(struct msb_out *o, int fd, unsigned int mode,
			  int64_t uid, int64_t gid, const char *shown)
{
	if (o->archive && o->root && uid >= 0 && gid >= 0 &&
	    uid <= (int64_t)UINT32_MAX - 1 && gid <= (int64_t)UINT32_MAX - 1 &&
	    fchown(fd, (uid_t)uid, (gid_t)gid) < 0)
		return sys_err(errno, "chown", shown);
	if (fchmod(fd, final_mode(o, mode)) < 0)
		return sys_err(errno, "chmod", shown);
	return 0;
}

int msb__out_dir(struct msb_out *o, int *fd, int dir, const char *name,
		 const char *shown)
{
	struct stat st;
	int rc;

	*fd = -1;
	if ((rc = msb__out_count_entry(o)) < 0)
		return rc;
	if (mkdirat(dir, name, 0700) < 0) {
		if (errno != EEXIST)
			return sys_err(errno, "mkdir", shown);
		if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return sys_err(errno, "stat", shown);
		if (S_ISLNK(st.st_mode)) {
			/* Left by an earlier copy, maybe: never followed. */
			if (unlinkat(dir, name, 0) < 0 ||
			    mkdirat(dir, name, 0700) < 0)
				return sys_err(errno, "replace symlink", shown);
		} else if (!S_ISDIR(st.st_mode)) {
			char s[600];
			return msb__error(MSB_EEXIST, EEXIST,
					  "`%s` exists and is not a directory",
					  ESC(s, shown));
		}
	}
	int d = openat(dir, name,
		       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (d < 0)
		return sys_err(errno, "open", shown);
	/* A directory kept from an earlier copy may forbid writing. */
	if (fstat(d, &st) == 0 && st.st_uid == geteuid() &&
	    (st.st_mode & 0700) != 0700)
		fchmod(d, (st.st_mode & 07777) | 0700);
	*fd = d;
	return 0;
}

int msb__out_dir_done(struct msb_out *o, int fd, unsigned int mode, int64_t uid,
		      int64_t gid, const char *shown)
{
	return set_owner_mode(o, fd, mode, uid, gid, shown);
}

int msb__out_file_begin(struct msb_out *o, struct msb_out_file *f, int dir,
			const char *name, const char *shown)
{
	static unsigned int counter;
	struct stat st;
	int rc;

	*f = (struct msb_out_file){.fd = -1, .dir = dir, .name = name};
	if ((rc = msb__out_count_entry(o)) < 0)
		return rc;
	if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(st.st_mode))
		return sys_err(EISDIR, "replace", shown);
	for (int tries = 0; tries < 100; tries++) {
		unsigned int n =
			__atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
		snprintf(f->tmp, sizeof(f->tmp), ".msb-tmp.%d.%u",
			 (int)getpid(), n);
		f->fd = openat(dir, f->tmp,
			       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
				       O_CLOEXEC,
			       0600);
		if (f->fd >= 0)
			return 0;
		if (errno != EEXIST)
			break;
	}
	f->tmp[0] = '\0';
	return sys_err(errno, "create", shown);
}

static int over_size(const struct msb_out *o, const char *shown)
{
	char s[600];

	return msb__error(MSB_ENOSPC, 0,
			  "%s: more than %llu bytes with `%s`: stopped (raise "
			  "the limit with --max-size)",
			  o->what, (unsigned long long)o->max_bytes,
			  ESC(s, shown));
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static int pwrite_all(int fd, const uint8_t *p, size_t n, off_t off)
{
	while (n) {
		ssize_t w = pwrite(fd, p, n, off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
		off += w;
	}
	return 0;
}

int msb__out_file_write(struct msb_out *o, struct msb_out_file *f,
			const void *data, size_t len, const char *shown)
{
	const uint8_t *p = data;

	if (len > o->max_bytes - o->bytes)
		return over_size(o, shown);
	o->bytes += len;
	while (len) {
		/* Up to the next block boundary of the file. */
		size_t in_block = HOLE_BLOCK - (size_t)(f->size % HOLE_BLOCK);
		size_t n = len < in_block ? len : in_block;
		if (!(n == HOLE_BLOCK && all_zero(p, n)) &&
		    pwrite_all(f->fd, p, n, (off_t)f->size) < 0)
			return sys_err(errno, "write", shown);
		f->size += n;
		p += n;
		len -= n;
	}
	return 0;
}

int msb__out_count_bytes(struct msb_out *o, uint64_t len, const char *shown)
{
	if (len > o->max_bytes - o->bytes)
		return over_size(o, shown);
	o->bytes += len;
	return 0;
}

int msb__out_file_hole(struct msb_out *o, struct msb_out_file *f, uint64_t len,
		       const char *shown)
{
	if (len > o->max_bytes - o->bytes)
		return over_size(o, shown);
	o->bytes += len;
	f->size += len; /* left unwritten: commit's ftruncate covers it */
	return 0;
}

int msb__out_file_commit(struct msb_out *o, struct msb_out_file *f,
			 unsigned int mode, int64_t uid, int64_t gid,
			 const char *shown)
{
	int rc = 0;

	/* The length, over trailing holes. */
	if (ftruncate(f->fd, (off_t)f->size) < 0)
		rc = sys_err(errno, "truncate", shown);
	if (rc == 0)
		rc = set_owner_mode(o, f->fd, mode, uid, gid, shown);
	if (rc == 0 && close(steal_fd(&f->fd)) < 0)
		rc = sys_err(errno, "close", shown);
	if (rc == 0 && renameat(f->dir, f->tmp, f->dir, f->name) < 0)
		rc = sys_err(errno, "rename into place", shown);
	if (rc < 0) {
		msb__out_file_abort(f);
		return rc;
	}
	f->tmp[0] = '\0';
	return 0;
}

void msb__out_file_abort(struct msb_out_file *f)
{
	int saved = errno;

	close_fd(&f->fd);
	if (f->tmp[0])
		unlinkat(f->dir, f->tmp, 0);
	f->tmp[0] = '\0';
	errno = saved;
}

int msb__out_symlink(struct msb_out *o, int dir, const char *name,
		     const char *target, const char *shown)
{
	struct msb_out_file f;
	int rc;

	if (!target || !*target || strlen(target) >= PATH_MAX) {
		char s[600];
		return msb__error(MSB_EPROTO, 0,
				  "%s: refusing symlink `%s`: its target is "
				  "empty or too long",
				  o->what, ESC(s, shown));
	}
	if ((rc = msb__out_file_begin(o, &f, dir, name, shown)) < 0)
		return rc;
	/* The temporary name is free again for the link. */
	close_fd(&f.fd);
	unlinkat(dir, f.tmp, 0);
	if (symlinkat(target, dir, f.tmp) < 0) {
		rc = sys_err(errno, "symlink", shown);
		f.tmp[0] = '\0';
		return rc;
	}
	if (renameat(dir, f.tmp, dir, name) < 0) {
		rc = sys_err(errno, "rename into place", shown);
		unlinkat(dir, f.tmp, 0);
		return rc;
	}
	return 0;
}
