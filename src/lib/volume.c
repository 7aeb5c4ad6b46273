// SPDX-License-Identifier: Apache-2.0
/*
 * Named volumes: $MSB_HOME/volumes/<name>/disk.img, a sparse file holding
 * an ext4 filesystem whose size is the volume's quota. A sandbox attaches
 * it as a SCSI disk (read-write: alone; read-only: with other readers),
 * which its supervisor's flock on the image enforces; the sandboxes that
 * mount a volume are found from their stored configs.
 */
#include <dirent.h>
#include <errno.h>
#include <ext2fs/ext2fs.h>
#include <fcntl.h>
#include <jansson.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/db.h"
#include "lib/internal.h"
#include "vmm/hosttools.h"

#define MIN_QUOTA (8ull << 20)
#define MAX_QUOTA (16ull << 40)
#define DEFAULT_QUOTA (1ull << 30)

extern char **environ;

int msb__volume_path(char **out, const char *home, const char *name)
{
	if (!name || !msb__valid_name(name))
		return msb__error(MSB_EINVAL, 0,
				  "invalid volume name `%s`: use 1-63 letters, "
				  "digits, '-', '_' or '.', starting with a "
				  "letter or digit",
				  name ? name : "(null)");
	*out = xasprintf("%s/volumes/%s/disk.img", home, name);
	return *out ? 0 : msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
}

/* Run mkfs on @img quietly; its output goes to @log. */
static int run_mkfs(const char *img, const char *log)
{
	const char *mkfs = msb_mkfs_ext4_path();
	if (!mkfs)
		return msb__error(MSB_ENOTFOUND, 0,
				  "mkfs.ext4 not found: install e2fsprogs "
				  "(./setup.sh does)");
	char owner[64];
	snprintf(owner, sizeof(owner), "root_owner=0:0,lazy_itable_init=1");
	const char *argv[] = {mkfs, "-q", "-F",  "-t", "ext4", "-m",
			      "0",  "-E", owner, img,  NULL};
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, log,
					 O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
	pid_t pid;
	int rc = posix_spawn(&pid, mkfs, &fa, NULL, (char *const *)argv,
			     environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc)
		return msb__error(MSB_ESYS, rc, "run %s: %s", mkfs,
				  strerror(rc));
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		return msb__error(MSB_ESYS, 0, "%s failed: see %s", mkfs, log);
	return 0;
}

EXPORT int msb_volume_create(const char *name, uint64_t quota_bytes)
{
	struct msb_paths paths;
	_cleanup_free_ char *img = NULL, *dir = NULL, *log = NULL;
	int rc;

	msb__error_clear();
	if (!quota_bytes)
		quota_bytes = DEFAULT_QUOTA;
	if (quota_bytes < MIN_QUOTA || quota_bytes > MAX_QUOTA)
		return msb__error(
			MSB_EINVAL, 0,
			"invalid quota %llu bytes: from 8 MiB to 16 TiB",
			(unsigned long long)quota_bytes);
	if ((rc = msb__paths_home(&paths)) < 0)
		return rc;
	if ((rc = msb__volume_path(&img, paths.home, name)) < 0)
		goto out;
	dir = xasprintf("%s/volumes", paths.home);
	/* $MSB_HOME itself may not exist yet. */
	if (mkdir(paths.home, 0700) < 0 && errno != EEXIST) {
		rc = msb__error(MSB_ESYS, errno, "mkdir `%s`: %s", paths.home,
				strerror(errno));
		goto out;
	}
	if (!dir || (mkdir(dir, 0700) < 0 && errno != EEXIST)) {
		rc = msb__error(MSB_ESYS, errno, "mkdir `%s`: %s",
				dir ? dir : "volumes", strerror(errno));
		goto out;
	}
	free(dir);
	dir = xasprintf("%s/volumes/%s", paths.home, name);
	if (!dir || mkdir(dir, 0700) < 0) {
		rc = errno == EEXIST
			     ? msb__error(MSB_EEXIST, 0,
					  "a volume named `%s` exists", name)
			     : msb__error(MSB_ESYS, errno, "mkdir `%s`: %s",
					  dir, strerror(errno));
		goto out;
	}
	/* Sparse: the quota is the size, the disk holds what is written. */
	int fd = open(img, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)quota_bytes) < 0) {
		rc = msb__error(MSB_ESYS, errno, "create `%s`: %s", img,
				strerror(errno));
		if (fd >= 0)
			close(fd);
		goto undo;
	}
	close(fd);
	log = xasprintf("%s/mkfs.log", dir);
	if (!log || (rc = run_mkfs(img, log)) < 0)
		goto undo;
	unlink(log);
	rc = 0;
	goto out;
undo:
	rm_rf(dir);
out:
	msb__paths_clear(&paths);
	return rc;
}

/* Bytes in use in the ext4 of @img (0 if unreadable). */
static uint64_t used_bytes(const char *img)
{
	ext2_filsys fs;
	uint64_t used = 0;

	if (ext2fs_open(img, EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &fs))
		return 0;
	used = (ext2fs_blocks_count(fs->super) -
		ext2fs_free_blocks_count(fs->super)) *
	       (uint64_t)fs->blocksize;
	ext2fs_close_free(&fs);
	return used;
}

/*
 * The sandboxes whose config mounts volume @name, NULL-terminated
 * ("NAME" or "NAME (ro)"), or NULL on error.
 */
static char **users_in(sqlite3 *db, const char *name, bool running)
{
	sqlite3_stmt *st = NULL;
	char **v = calloc(1, sizeof(char *));
	size_t n = 0;

	if (!v || !db ||
	    sqlite3_prepare_v2(db,
			       running ? "SELECT name, config FROM sandboxes "
					 "WHERE status IN ('starting', "
					 "'running', 'stopping') ORDER BY name"
				       : "SELECT name, config FROM sandboxes "
					 "ORDER BY name",
			       -1, &st, NULL) != SQLITE_OK)
		goto out;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *sb = (const char *)sqlite3_column_text(st, 0);
		const char *cfg = (const char *)sqlite3_column_text(st, 1);
		json_t *c = json_loads(cfg ? cfg : "{}", 0, NULL);
		json_t *vols = json_object_get(c, "volumes"), *e;
		size_t i;
		json_array_foreach(vols, i, e)
		{
			const char *vn =
				json_string_value(json_object_get(e, "name"));
			if (!vn || strcmp(vn, name))
				continue;
			char **g = realloc(v, (n + 2) * sizeof(char *));
			if (!g)
				break;
			v = g;
			v[n] = xasprintf("%s%s", sb,
					 json_is_true(json_object_get(e, "ro"))
						 ? " (ro)"
						 : "");
			if (v[n])
				v[++n] = NULL;
			break;
		}
		json_decref(c);
	}
out:
	sqlite3_finalize(st);
	return v;
}

/* users_in() with a database opened for the purpose. */
static char **users_of(const char *home, const char *name, bool running)
{
	sqlite3 *db = NULL;
	char **v = users_in(msb__db_open(&db, home) == 0 ? db : NULL, name,
			    running);
	msb__db_close(db);
	return v;
}

static void volume_info_clear(msb_volume_info *i)
{
	free(i->name);
	msb_strv_free(i->sandboxes);
	memset(i, 0, sizeof(*i));
}

EXPORT int msb_volume_list(msb_volume_info **out, size_t *count)
{
	struct msb_paths paths;
	msb_volume_info *v = NULL;
	size_t n = 0;
	int rc;

	MSB_LIST_START(out, count);
	if ((rc = msb__paths_home(&paths)) < 0)
		return rc;
	_cleanup_free_ char *dir = xasprintf("%s/volumes", paths.home);
	struct dirent **names = NULL;
	int k = dir ? scandir(dir, &names, NULL, alphasort) : -1;
	/* One database for every volume's users. */
	sqlite3 *db = NULL;
	if (k > 0 && msb__db_open(&db, paths.home) < 0)
		db = NULL;
	for (int i = 0; i < k; i++) {
		const char *nm = names[i]->d_name;
		_cleanup_free_ char *img = NULL;
		struct stat st;
		if (nm[0] != '.' && msb__valid_name(nm) &&
		    msb__volume_path(&img, paths.home, nm) == 0 &&
		    stat(img, &st) == 0) {
			msb_volume_info *g = realloc(v, (n + 1) * sizeof(*v));
			if (g) {
				v = g;
				v[n] = (msb_volume_info){
					.name = strdup(nm),
					.quota_bytes = (uint64_t)st.st_size,
					.used_bytes = used_bytes(img),
					.created = (int64_t)st.st_mtime,
					.sandboxes = users_in(db, nm, false),
				};
				n++;
			}
		}
		free(names[i]);
	}
	free(names);
	msb__db_close(db);
	msb__error_clear();
	*out = v;
	*count = n;
	msb__paths_clear(&paths);
	return 0;
}

EXPORT void msb_volume_list_free(msb_volume_info *list, size_t count)
{
	for (size_t i = 0; list && i < count; i++)
		volume_info_clear(&list[i]);
	free(list);
}

/*
 * "`a` (stopped), `b` (created)": the sandboxes whose stored config mounts
 * volume @name, into @out (@len bytes, cut with "..."). Return: how many.
 */
static size_t stored_users(const char *home, const char *name, char *out,
			   size_t len)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	size_t o = 0, n = 0;

	out[0] = '\0';
	if (msb__db_open(&db, home) < 0 ||
	    sqlite3_prepare_v2(db,
			       "SELECT name, status, config FROM sandboxes "
			       "ORDER BY name",
			       -1, &st, NULL) != SQLITE_OK)
		goto out;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *sb = (const char *)sqlite3_column_text(st, 0);
		const char *status = (const char *)sqlite3_column_text(st, 1);
		const char *cfg = (const char *)sqlite3_column_text(st, 2);
		json_t *c = json_loads(cfg ? cfg : "{}", 0, NULL);
		json_t *vols = json_object_get(c, "volumes"), *e;
		size_t i;
		bool uses = false;
		json_array_foreach(vols, i, e)
		{
			const char *vn =
				json_string_value(json_object_get(e, "name"));
			uses |= vn && !strcmp(vn, name);
		}
		json_decref(c);
		if (!uses || !sb)
			continue;
		n++;
		if (o + 4 >= len)
			continue;
		int k = snprintf(out + o, len - o, "%s`%s` (%s)", o ? ", " : "",
				 sb, status ? status : "?");
		if (k < 0 || (size_t)k >= len - o) {
			/* cut: end with "..." */
			o = len - 4;
			memcpy(out + o, "...", 4);
			o = len;
			continue;
		}
		o += (size_t)k;
	}
out:
	sqlite3_finalize(st);
	msb__db_close(db);
	return n;
}

EXPORT int msb_volume_remove(const char *name)
{
	return msb_volume_delete(name, 0);
}

EXPORT int msb_volume_delete(const char *name, int flags)
{
	struct msb_paths paths;
	_cleanup_free_ char *img = NULL, *dir = NULL;
	int rc;

	msb__error_clear();
	if (flags & ~MSB_VOLUME_FORCE)
		return msb__error(MSB_EINVAL, 0, "unknown flags %#x",
				  (unsigned)flags);
	if ((rc = msb__paths_home(&paths)) < 0)
		return rc;
	if ((rc = msb__volume_path(&img, paths.home, name)) < 0)
		goto out;
	int fd = open(img, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = msb__error(MSB_ENOTFOUND, errno, "no volume named `%s`",
				name);
		goto out;
	}
	/* A running sandbox holds its lock; so do we while removing. */
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		char **u = users_of(paths.home, name, true), list[512] = "";
		size_t o = 0, k = 0;
		for (; u && u[k]; k++)
			if (o < sizeof(list))
				o += (size_t)snprintf(
					list + o, sizeof(list) - o, "%s`%s`",
					k ? ", " : "", u[k]);
		rc = msb__error(MSB_ESTATE, 0,
				"volume `%s` is mounted by running sandbox%s "
				"%s: stop %s first",
				name, k > 1 ? "es" : "", k ? list : "(unknown)",
				k > 1 ? "them" : "it");
		msb_strv_free(u);
		close(fd);
		goto out;
	}
	/* Stopped ones would fail at their next start: only when forced.
	 * (Holding the lock, no sandbox can start with it meanwhile.) */
	char users[512];
	size_t k =
		flags & MSB_VOLUME_FORCE
			? 0
			: stored_users(paths.home, name, users, sizeof(users));
	if (k) {
		rc = msb__error(MSB_ESTATE, 0,
				"volume `%s` is used by sandbox%s %s: remove "
				"%s first (msb rm NAME), or force (msb volume "
				"rm -f)",
				name, k > 1 ? "es" : "", users,
				k > 1 ? "them" : "it");
		close(fd);
		goto out;
	}
	dir = xasprintf("%s/volumes/%s", paths.home, name);
	rc = dir && rm_rf(dir) == 0
		     ? 0
		     : msb__error(MSB_ESYS, errno, "remove `%s`: %s",
				  dir ? dir : name, strerror(errno));
	close(fd);
out:
	msb__paths_clear(&paths);
	return rc;
}

/* Why a boot failed on a volume's lock: name the sandboxes that have it. */
void msb__volume_conflict(const char *home, const char *name, const char *self)
{
	char **u = users_of(home, name, true);
	char list[512] = "";
	size_t o = 0;
	size_t slen = strlen(self);

	for (size_t i = 0; u && u[i]; i++) {
		/* not the sandbox that was booting */
		bool me = !strncmp(u[i], self, slen) &&
			  (!u[i][slen] || u[i][slen] == ' ');
		if (!me && o < sizeof(list))
			o += (size_t)snprintf(list + o, sizeof(list) - o,
					      "%s`%s`", o ? ", " : "", u[i]);
		free(u[i]);
	}
	free(u);
	msb__error(MSB_ESTATE, 0,
		   "volume `%s` is in use: mounted by %s (one read-write "
		   "attachment, or any number of read-only ones)",
		   name, o ? list : "another sandbox");
}
