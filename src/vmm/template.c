// SPDX-License-Identifier: Apache-2.0
/* Warm templates: their key, files, lock, listing and pruning (template.h). */
#include "vmm/template.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "util/util.h"

/* The first bytes of a QEMU migration stream: "QEVM", version 3. */
static const uint8_t stream_magic[8] = {'Q', 'E', 'V', 'M', 0, 0, 0, 3};

void tmpl_key_add(struct tmpl_key *k, const char *name, const char *fmt, ...)
{
	char val[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	for (char *p = val; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	size_t room = sizeof(k->text) - k->len;
	int n = snprintf(k->text + k->len, room, "%s=%s\n", name, val);
	if (n < 0 || (size_t)n >= room) {
		k->overflow = true;
		k->text[k->len] = '\0';
		return;
	}
	k->len += (size_t)n;
}

void tmpl_key_add_file(struct tmpl_key *k, const char *name, const char *path)
{
	struct stat st;

	if (!path || stat(path, &st) < 0) {
		tmpl_key_add(k, name, "%s missing", path ? path : "");
		return;
	}
	tmpl_key_add(k, name, "%s dev=%llu ino=%llu size=%lld mtime=%lld.%09ld",
		     path, (unsigned long long)st.st_dev,
		     (unsigned long long)st.st_ino, (long long)st.st_size,
		     (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

/* FNV-1a, 64 bits, from @seed. */
static uint64_t fnv1a(const char *s, size_t n, uint64_t seed)
{
	uint64_t h = seed;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

int tmpl_key_finish(struct tmpl_key *k)
{
	if (k->overflow)
		return -1;
	/* Two differently seeded hashes: an ID names a folder, and the
	 * key file is compared in full before any restore. */
	snprintf(k->id, sizeof(k->id), "%016llx%016llx",
		 (unsigned long long)fnv1a(k->text, k->len,
					   0xcbf29ce484222325ull),
		 (unsigned long long)fnv1a(k->text, k->len,
					   0x84222325cbf29ce4ull));
	return 0;
}

static bool valid_id(const char *id)
{
	size_t n = 0;

	for (; id[n]; n++)
		if (!((id[n] >= '0' && id[n] <= '9') ||
		      (id[n] >= 'a' && id[n] <= 'f')))
			return false;
	return n == TMPL_ID_LEN;
}

/* Whether @dir/key holds exactly @k's text. */
static bool key_matches(const char *dir, const struct tmpl_key *k)
{
	char path[PATH_MAX + 8], buf[TMPL_KEY_MAX + 1];

	snprintf(path, sizeof(path), "%s/key", dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	size_t len = 0;
	ssize_t n;
	while (len < sizeof(buf) &&
	       (n = read(fd, buf + len, sizeof(buf) - len)) > 0)
		len += (size_t)n;
	close(fd);
	return len == k->len && !memcmp(buf, k->text, len);
}

/* Remove @dir's files (not a lock some creator holds: it is only a name)
 * and @dir itself. */
static int remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
	return rmdir(dir);
}

/* Remove the temp files of @dir ("state.tmp.PID", "key.tmp.PID"). */
static void remove_stale(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)))
		if (strstr(de->d_name, ".tmp."))
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
}

/* Write @k's text as @dir/key (temp + rename). */
static int write_key(const char *dir, const struct tmpl_key *k)
{
	char tmp[PATH_MAX + 32], path[PATH_MAX + 8];

	snprintf(tmp, sizeof(tmp), "%s/key.tmp.%d", dir, (int)getpid());
	snprintf(path, sizeof(path), "%s/key", dir);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (write_all(fd, k->text, k->len) < 0 || close(fd) < 0) {
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) < 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

int tmpl_open(struct tmpl *t, const char *home, const struct tmpl_key *k,
	      uint64_t need_free, char *why, size_t whylen)
{
	char base[PATH_MAX], path[PATH_MAX + 16];

	*t = (struct tmpl)TMPL_INIT;
	snprintf(t->id, sizeof(t->id), "%s", k->id);
	snprintf(base, sizeof(base), "%s/templates", home);
	if (snprintf(t->dir, sizeof(t->dir), "%s/%s", base, k->id) >=
	    (int)sizeof(t->dir)) {
		snprintf(why, whylen, "folder name too long");
		return -1;
	}
	snprintf(path, sizeof(path), "%s/state", t->dir);

	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		uint8_t head[sizeof(stream_magic)];
		bool good = key_matches(t->dir, k) &&
			    pread(fd, head, sizeof(head), 0) ==
				    (ssize_t)sizeof(head) &&
			    !memcmp(head, stream_magic, sizeof(head));
		if (good) {
			t->fd = fd;
			t->mode = TMPL_RESTORE;
			snprintf(why, whylen, "restoring");
			return 0;
		}
		close(fd);
		/* A hash collision or a damaged file: make room for a good
		 * one. Restorers that opened it keep their descriptor. */
		unlink(path);
		snprintf(why, whylen,
			 "its state was not a valid template "
			 "(removed): saving a new one");
	} else if (errno != ENOENT) {
		snprintf(why, whylen, "open `%s`: %s", path, strerror(errno));
		return -1;
	} else {
		snprintf(why, whylen, "none yet: saving it");
	}

	if (tmpl_max_bytes() == 0) {
		snprintf(why, whylen, "none kept (MSB_TEMPLATE_MAX_MB=0)");
		return 0;
	}
	/* A template must not be what fills the disk sandboxes write to
	 * (they would pause, see diskfull.h). */
	struct statvfs vfs;
	if (need_free && statvfs(home, &vfs) == 0 &&
	    (uint64_t)vfs.f_bavail * vfs.f_frsize < need_free) {
		snprintf(why, whylen,
			 "not saved: %llu MiB free under MSB_HOME, %llu "
			 "wanted",
			 (unsigned long long)((uint64_t)vfs.f_bavail *
						      vfs.f_frsize >>
					      20),
			 (unsigned long long)(need_free >> 20));
		return 0;
	}
	if ((mkdir(base, 0700) < 0 && errno != EEXIST) ||
	    (mkdir(t->dir, 0700) < 0 && errno != EEXIST)) {
		snprintf(why, whylen, "mkdir `%s`: %s", t->dir,
			 strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/lock", t->dir);
	t->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (t->lock_fd < 0) {
		snprintf(why, whylen, "open `%s`: %s", path, strerror(errno));
		return -1;
	}
	if (flock(t->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		close_fd(&t->lock_fd);
		snprintf(why, whylen,
			 "another sandbox is creating it: "
			 "booting without");
		return 0;
	}
	/* Under the lock, what a creator killed mid-save left is stale. */
	remove_stale(t->dir);
	/* Under the lock: someone may have finished one meanwhile. */
	snprintf(path, sizeof(path), "%s/state", t->dir);
	if (access(path, F_OK) == 0) {
		close_fd(&t->lock_fd);
		snprintf(why, whylen,
			 "another sandbox has just created it: "
			 "booting without");
		return 0;
	}
	if (write_key(t->dir, k) < 0) {
		snprintf(why, whylen, "write `%s/key`: %s", t->dir,
			 strerror(errno));
		close_fd(&t->lock_fd);
		return -1;
	}
	snprintf(t->tmp, sizeof(t->tmp), "%s/state.tmp.%d", t->dir,
		 (int)getpid());
	t->fd = open(t->tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (t->fd < 0) {
		snprintf(why, whylen, "create `%s`: %s", t->tmp,
			 strerror(errno));
		close_fd(&t->lock_fd);
		return -1;
	}
	t->mode = TMPL_SAVE;
	return 0;
}

void tmpl_touch(struct tmpl *t)
{
	struct timespec ts[2] = {{.tv_nsec = UTIME_NOW},
				 {.tv_nsec = UTIME_OMIT}};

	if (t->fd >= 0)
		futimens(t->fd, ts);
}

int tmpl_commit(struct tmpl *t, char *err, size_t errlen)
{
	char path[PATH_MAX + 16];

	snprintf(path, sizeof(path), "%s/state", t->dir);
	if (fsync(t->fd) < 0 || rename(t->tmp, path) < 0) {
		snprintf(err, errlen, "save `%s`: %s", path, strerror(errno));
		tmpl_close(t);
		return -1;
	}
	t->tmp[0] = '\0';
	tmpl_close(t);
	return 0;
}

void tmpl_close(struct tmpl *t)
{
	if (t->tmp[0])
		unlink(t->tmp);
	t->tmp[0] = '\0';
	close_fd(&t->fd);
	close_fd(&t->lock_fd);
	t->mode = TMPL_NONE;
}

int tmpl_remove(const char *home, const char *id)
{
	char dir[PATH_MAX];

	if (!valid_id(id)) {
		errno = EINVAL;
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s/templates/%s", home, id);
	return remove_dir(dir);
}

uint64_t tmpl_max_bytes(void)
{
	const char *s = getenv("MSB_TEMPLATE_MAX_MB");
	char *end;

	if (s && *s) {
		errno = 0;
		unsigned long long v = strtoull(s, &end, 10);
		if (!errno && !*end && s[0] != '-' && v < (1ull << 40))
			return (uint64_t)v << 20;
	}
	return (uint64_t)TMPL_DEFAULT_MAX_MB << 20;
}

/* The summary fields of a key file. */
static void read_summary(struct tmpl_info *e, const char *dir)
{
	char path[PATH_MAX + 64], line[2048];

	snprintf(path, sizeof(path), "%s/key", dir);
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		char *eq = strchr(line, '=');
		if (!eq)
			continue;
		*eq++ = '\0';
		if (!strcmp(line, "image"))
			snprintf(e->image, sizeof(e->image), "%s", eq);
		else if (!strcmp(line, "accel"))
			snprintf(e->accel, sizeof(e->accel), "%s", eq);
		else if (!strcmp(line, "memory_mib"))
			e->memory_mib = (unsigned)strtoul(eq, NULL, 10);
		else if (!strcmp(line, "cpus"))
			e->cpus = (unsigned)strtoul(eq, NULL, 10);
		else if (!strcmp(line, "network"))
			e->net = !strcmp(eq, "yes");
		else if (!strcmp(line, "volumes"))
			e->volumes = (unsigned)strtoul(eq, NULL, 10);
	}
	fclose(f);
}

static int by_use(const void *a, const void *b)
{
	const struct tmpl_info *x = a, *y = b;

	if (x->used_s != y->used_s)
		return x->used_s < y->used_s ? -1 : 1;
	return strcmp(x->id, y->id);
}

int tmpl_list(struct tmpl_info **out, size_t *n, const char *home)
{
	char base[PATH_MAX], dir[PATH_MAX + 40], path[PATH_MAX + 64];
	struct tmpl_info *v = NULL;
	size_t len = 0, cap = 0;

	*out = NULL;
	*n = 0;
	snprintf(base, sizeof(base), "%s/templates", home);
	DIR *d = opendir(base);
	if (!d)
		return errno == ENOENT ? 0 : -1;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!valid_id(de->d_name))
			continue;
		if (len == cap) {
			cap = cap ? 2 * cap : 16;
			struct tmpl_info *nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				closedir(d);
				errno = ENOMEM;
				return -1;
			}
			v = nv;
		}
		struct tmpl_info *e = &v[len];
		*e = (struct tmpl_info){0};
		memcpy(e->id, de->d_name, TMPL_ID_LEN + 1);
		snprintf(dir, sizeof(dir), "%s/%.*s", base, TMPL_ID_LEN,
			 de->d_name);
		snprintf(path, sizeof(path), "%s/state", dir);
		struct stat st;
		if (stat(path, &st) == 0) {
			e->bytes = (uint64_t)st.st_size;
			e->saved_s = st.st_mtim.tv_sec;
			e->used_s = st.st_atim.tv_sec > st.st_mtim.tv_sec
					    ? st.st_atim.tv_sec
					    : st.st_mtim.tv_sec;
		} else if (stat(dir, &st) == 0) {
			e->used_s = st.st_mtim.tv_sec;
		}
		read_summary(e, dir);
		len++;
	}
	closedir(d);
	qsort(v, len, sizeof(*v), by_use);
	*out = v;
	*n = len;
	return 0;
}

uint64_t tmpl_prune(const char *home, uint64_t max_bytes, const char *keep,
		    size_t *removed)
{
	struct tmpl_info *v;
	size_t n, gone = 0;
	uint64_t total = 0;

	if (removed)
		*removed = 0;
	if (tmpl_list(&v, &n, home) < 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		total += v[i].bytes;
	for (size_t i = 0; i < n; i++) {
		if (v[i].saved_s || (keep && !strcmp(v[i].id, keep)))
			continue;
		/* No state: being created, or its creator died (the lock
		 * is free then). */
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/templates/%s/lock", home,
			 v[i].id);
		int fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0 &&
		    tmpl_remove(home, v[i].id) == 0)
			gone++;
		if (fd >= 0)
			close(fd);
	}
	for (size_t i = 0; i < n && total > max_bytes; i++) {
		if (!v[i].saved_s || (keep && !strcmp(v[i].id, keep)))
			continue; /* being created, or the one to keep */
		if (tmpl_remove(home, v[i].id) == 0 || errno == ENOENT) {
			total -= v[i].bytes;
			gone++;
		}
	}
	free(v);
	if (removed)
		*removed = gone;
	return total;
}
