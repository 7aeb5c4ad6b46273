// SPDX-License-Identifier: Apache-2.0
/*
 * Images: pull, store lookup, list, remove, prune, and the built-in default.
 *
 * DOC: Theory of operation
 *
 * A pull resolves the reference to a manifest (through an index when the
 * registry has one, for the requested platform), fetches the config and
 * the layers into the content store (store.c verifies every byte: blob
 * digests and the layers' diff_ids), then flattens the layers into one
 * ext4 root disk (rootfs.c), cached per manifest digest under
 * images/rootfs/<hex>.ext4 and built under a lock, so concurrent pulls of
 * one image build it once. The reference → manifest mapping lives in the
 * database (db.c); documents and layers live in the store, so a root disk
 * can always be rebuilt from stored blobs.
 *
 * The built-in default image is an OCI layout made by the build from
 * Debian's busybox-static; it is imported into the store on first use, so
 * it needs no network.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include "lib/db.h"
#include "lib/image/image.h"
#include "lib/image/oci.h"
#include "lib/image/ref.h"
#include "lib/image/registry.h"
#include "lib/image/rootfs.h"
#include "lib/image/store.h"

#define MAX_PARALLEL 4
#define GIB (1024ull * 1024 * 1024)

static const char *const empty_strv[] = {NULL};

void msb__image_free(msb_image *img)
{
	if (!img)
		return;
	free(img->reference);
	free(img->digest);
	free(img->config_digest);
	free(img->rootfs);
	free(img->platform);
	msb_config_clear(&img->cfg);
	free(img);
}

EXPORT void msb_image_free(msb_image *img)
{
	msb__image_free(img);
}

/* Stored paths. */
static char *rootfs_path(const char *home, const char *digest)
{
	const char *hex = strchr(digest, ':');
	char *p;

	if (asprintf(&p, "%s/images/rootfs/%s.ext4", home,
		     hex ? hex + 1 : digest) < 0)
		return NULL;
	return p;
}

/* ---- the database ------------------------------------------------ */

static int db_record(const char *home, const msb_image *img)
{
	sqlite3 *db;
	sqlite3_stmt *st = NULL;
	int rc = msb__db_open(&db, home);

	if (rc < 0)
		return rc;
	if (sqlite3_prepare_v2(
		    db,
		    "INSERT OR REPLACE INTO images (reference, "
		    "manifest_digest, config_digest, size, created, "
		    "pulled_at, platform) VALUES (?, ?, ?, ?, ?, ?, ?)",
		    -1, &st, NULL) != SQLITE_OK) {
		rc = msb__error(MSB_ESYS, 0, "database: %s",
				sqlite3_errmsg(db));
		goto out;
	}
	sqlite3_bind_text(st, 1, img->reference, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, img->digest, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, img->config_digest, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)img->size);
	if (img->cfg.created)
		sqlite3_bind_text(st, 5, img->cfg.created, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 5);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)time(NULL));
	sqlite3_bind_text(st, 7, img->platform ? img->platform : "", -1,
			  SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = msb__error(MSB_ESYS, 0, "database: record `%s`: %s",
				img->reference, sqlite3_errmsg(db));
		goto out;
	}
	/* A row recorded before platforms is superseded by a pull that
	 * knows its platform. */
	sqlite3_finalize(st);
	st = NULL;
	if (img->platform && *img->platform &&
	    sqlite3_prepare_v2(db,
			       "DELETE FROM images WHERE reference = ? AND "
			       "platform = ''",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, img->reference, -1, SQLITE_STATIC);
		sqlite3_step(st);
	}
out:
	sqlite3_finalize(st);
	msb__db_close(db);
	return rc;
}

int msb__image_platform(const msb_image *img, struct msb_platform *out)
{
	char buf[64];

	if (img->cfg.os && img->cfg.arch) {
		snprintf(buf, sizeof(buf), "%s/%s%s%s", img->cfg.os,
			 img->cfg.arch, img->cfg.variant ? "/" : "",
			 img->cfg.variant ? img->cfg.variant : "");
		if (msb_platform_parse(out, buf) == 0)
			return 0;
	}
	msb__error_clear();
	if (img->platform && *img->platform &&
	    msb_platform_parse(out, img->platform) == 0)
		return 0;
	msb__error_clear();
	return -MSB_ENOTFOUND;
}

/* The stored row of @reference for @want (image.h). */
int msb__image_db_lookup(const char *home, const char *reference,
			 const struct msb_platform *want, msb_image *img,
			 char *others, size_t otherslen)
{
	sqlite3 *db;
	sqlite3_stmt *st = NULL;
	int rc = msb__db_open(&db, home), best = 0;
	char wanted[64] = "";

	if (others && otherslen)
		*others = '\0';
	if (rc < 0)
		return rc;
	if (want)
		msb_platform_format(want, wanted, sizeof(wanted));
	rc = -MSB_ENOTFOUND;
	if (sqlite3_prepare_v2(db,
			       "SELECT manifest_digest, config_digest, size, "
			       "platform FROM images WHERE reference = ? "
			       "ORDER BY platform",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, reference, -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *pf =
				(const char *)sqlite3_column_text(st, 3);
			struct msb_platform p;
			int score = 0;
			if (!pf)
				pf = "";
			if (!want || !strcmp(pf, wanted))
				score = 3;
			else if (!*pf)
				score = 1;
			else if (msb_platform_parse(&p, pf) == 0 &&
				 msb_platform_match(&p, want))
				score = 2;
			msb__error_clear();
			if (!score && others && *pf) {
				size_t l = strlen(others);
				snprintf(others + l, otherslen - l, "%s%s",
					 l ? ", " : "", pf);
			}
			if (score <= best)
				continue;
			best = score;
			free(img->digest);
			free(img->config_digest);
			free(img->platform);
			img->digest = strdup(
				(const char *)sqlite3_column_text(st, 0));
			img->config_digest = strdup(
				(const char *)sqlite3_column_text(st, 1));
			img->platform = strdup(pf);
			img->size = (uint64_t)sqlite3_column_int64(st, 2);
			rc = img->digest && img->config_digest && img->platform
				     ? 0
				     : msb__error(MSB_ENOMEM, ENOMEM,
						  "out of memory");
			if (rc < 0)
				break;
		}
	}
	sqlite3_finalize(st);
	msb__db_close(db);
	return rc;
}

/* ---- image IDs ------------------------------------------------------ */

/* The forms of an image ID (msb__image_find_id()). */
enum id_kind { ID_NONE, ID_PREFIX, ID_FULL, ID_DIGEST };

static bool lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static enum id_kind id_kind(const char *id)
{
	size_t n = strlen(id);

	if (!strncmp(id, "sha256:", 7))
		return ID_DIGEST;
	if (n == 0 || n > 64 || !lower_hex(id, n))
		return ID_NONE;
	return n == 64 ? ID_FULL : ID_PREFIX;
}

void msb__image_short_id(const char *digest, char *out, size_t len)
{
	const char *hex = strchr(digest, ':');

	snprintf(out, len, "%.12s", hex ? hex + 1 : digest);
}

/* Does the row (@config, @manifest digests) match @id of @kind? */
static bool id_matches(enum id_kind kind, const char *id, const char *config,
		       const char *manifest)
{
	if (kind == ID_DIGEST)
		return !strcmp(config, id) || !strcmp(manifest, id);
	if (strncmp(config, "sha256:", 7))
		return false;
	if (kind == ID_FULL)
		return !strcmp(config + 7, id);
	return !strncmp(config + 7, id, strlen(id));
}

int msb__image_find_id(const char *home, const char *id, char ***refs,
		       char **platform, char **full)
{
	enum id_kind kind = id_kind(id);
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char *found = NULL;    /* the config digest that matched */
	char others[512] = ""; /* the others, for an ambiguous prefix */
	char last[80] = "";    /* the last other image counted */
	size_t nrefs = 0, nothers = 0;
	char **v = NULL;
	int rc;

	*refs = NULL;
	*platform = NULL;
	if (full)
		*full = NULL;
	if (kind == ID_NONE)
		return 1;
	if (kind == ID_DIGEST &&
	    (strlen(id) != 7 + 64 || !lower_hex(id + 7, 64)))
		return msb__error(
			MSB_EINVAL, 0,
			"invalid image digest `%s`: expected sha256: and 64 lowercase hex digits",
			id);
	if ((rc = msb__db_open(&db, home)) < 0)
		return rc;
	if (sqlite3_prepare_v2(db,
			       "SELECT reference, platform, config_digest, "
			       "manifest_digest FROM images "
			       "ORDER BY config_digest, reference, platform",
			       -1, &st, NULL) != SQLITE_OK) {
		rc = msb__error(MSB_ESYS, 0, "database: %s",
				sqlite3_errmsg(db));
		goto out;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *ref = (const char *)sqlite3_column_text(st, 0);
		const char *pf = (const char *)sqlite3_column_text(st, 1);
		const char *cd = (const char *)sqlite3_column_text(st, 2);
		const char *md = (const char *)sqlite3_column_text(st, 3);
		if (!ref || !cd || !md || !id_matches(kind, id, cd, md))
			continue;
		if (found && strcmp(found, cd)) {
			/* Another image: the prefix is ambiguous. Rows come
			 * by config digest: count each image once. */
			char sid[16];
			size_t l = strlen(others);
			if (!strcmp(last, cd))
				continue;
			snprintf(last, sizeof(last), "%s", cd);
			msb__image_short_id(cd, sid, sizeof(sid));
			if (nothers++ < 5)
				snprintf(others + l, sizeof(others) - l,
					 ", %s (%s)", sid, ref);
			continue;
		}
		if (nothers)
			continue;
		char **g = realloc(v, (nrefs + 2) * sizeof(*v));
		if (!g) {
			rc = msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
			goto out;
		}
		v = g;
		v[nrefs + 1] = NULL;
		/* one entry per reference (a legacy row and a platform row
		 * of one reference are one image) */
		if (nrefs && !strcmp(v[nrefs - 1], ref))
			continue;
		if (!(v[nrefs] = strdup(ref))) {
			rc = msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
			goto out;
		}
		nrefs++;
		if (!found) {
			if (!(found = strdup(cd)) ||
			    !(*platform = strdup(pf ? pf : ""))) {
				rc = msb__error(MSB_ENOMEM, ENOMEM,
						"out of memory");
				goto out;
			}
			/* the first image's entry for the message */
			char sid[16];
			msb__image_short_id(cd, sid, sizeof(sid));
			snprintf(others, sizeof(others), "%s (%s)", sid, ref);
		}
	}
	if (nothers) {
		rc = msb__error(MSB_EINVAL, 0,
				"image ID `%s` is ambiguous: it starts %zu "
				"images' IDs: %s%s; give more digits",
				id, nothers + 1, others,
				nothers > 5 ? ", ..." : "");
		goto out;
	}
	if (!found) {
		rc = msb__error(MSB_ENOTFOUND, 0,
				kind == ID_DIGEST
					? "no stored image has the digest `%s`"
					: "no stored image has the ID `%s`",
				id);
		goto out;
	}
	if (full && !(*full = strdup(found))) {
		rc = msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
		goto out;
	}
	*refs = steal_ptr(&v);
	rc = 0;
out:
	if (rc < 0) {
		free(*platform);
		*platform = NULL;
	}
	msb_strv_free(v);
	free(found);
	sqlite3_finalize(st);
	msb__db_close(db);
	return rc;
}

/* ---- building the root disk --------------------------------------- */

/*
 * Remove the fallback temporary files of root disk @rootfs ("<rootfs>.tmp.
 * <pid>", see msb_store_tmpfile()) that a process ending mid-build left.
 * The caller holds the root disk's lock: nobody else is building it.
 */
static void remove_stale_builds(const char *rootfs, uint64_t *freed)
{
	_cleanup_free_ char *dir = strdup(rootfs);
	char *slash = dir ? strrchr(dir, '/') : NULL;
	DIR *d;
	struct dirent *e;

	if (!slash)
		return;
	*slash = '\0';
	const char *base = slash + 1;
	size_t bl = strlen(base);
	if (!(d = opendir(dir)))
		return;
	while ((e = readdir(d))) {
		char path[4400];
		struct stat st;
		if (strncmp(e->d_name, base, bl) ||
		    strncmp(e->d_name + bl, ".tmp.", 5))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (lstat(path, &st) == 0 && unlink(path) == 0 && freed)
			*freed += (uint64_t)st.st_blocks * 512;
	}
	closedir(d);
}

/* Flatten the stored layers of @m into the image's root disk, unless a
 * previous pull (maybe in another process) already did. The disk is built
 * in an unnamed file (msb_store_tmpfile()): a pull interrupted by any
 * means leaves nothing behind. */
static int build_rootfs(const char *home, struct msb_store *store,
			msb_image *img, const struct msb_manifest *m)
{
	char dir[4096], lockpath[4200], tmp[4200];
	_cleanup_close_ int lock = -1;
	struct msb_tmpfile t = {.fd = -1};
	int rc;

	if (!(img->rootfs = rootfs_path(home, img->digest)))
		return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	snprintf(dir, sizeof(dir), "%s/images/rootfs", home);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return msb__error(MSB_ESYS, errno, "mkdir `%s`: %s", dir,
				  strerror(errno));
	snprintf(lockpath, sizeof(lockpath), "%s.lock", img->rootfs);
	if ((rc = msb_store_lock(lockpath, true, &lock)) < 0)
		return rc;
	remove_stale_builds(img->rootfs, NULL);
	if (access(img->rootfs, R_OK) == 0)
		return 0;

	/* Sparse: the size costs nothing until written. It is the sandbox's
	 * room too: its writes land in this filesystem (via the overlay). */
	uint64_t size = 4 * img->size + GIB;
	if (size < 2 * GIB)
		size = 2 * GIB;
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", img->rootfs, (int)getpid());
	for (int attempt = 0; attempt < 2; attempt++, size *= 4) {
		struct msb_rootfs *r;
		msb_store_tmpfile_drop(&t);
		if ((rc = msb_store_tmpfile(&t, dir, tmp, 0644)) < 0 ||
		    (rc = msb_rootfs_create(&r, t.path, size)) < 0)
			break;
		for (size_t i = 0; i < m->nlayers && rc == 0; i++) {
			const char *dg = m->layers[i].digest;
			_cleanup_free_ char *path =
				msb_store_blob_path(store, dg);
			_cleanup_close_ int fd =
				path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
			if (fd < 0)
				rc = msb__error(MSB_ESYS, errno,
						"open layer `%s`: %s", dg,
						strerror(errno));
			else
				rc = msb_rootfs_apply(r, fd, dg);
		}
		if (rc == 0) {
			rc = msb_rootfs_finish(r);
		} else {
			msb_rootfs_free(r);
		}
		/* Out of room: the layers were larger than estimated. */
		if (rc < 0 && msb_last_error()->sys_errno == ENOSPC)
			continue;
		break;
	}
	if (rc == 0 && fchmod(t.fd, 0444) < 0)
		rc = msb__error(MSB_ESYS, errno, "chmod `%s`: %s", t.path,
				strerror(errno));
	if (rc == 0)
		rc = msb_store_tmpfile_link(&t, img->rootfs, false);
	msb_store_tmpfile_drop(&t);
	return rc;
}

/* ---- loading a stored image --------------------------------------- */

static int load_config(struct msb_store *store, msb_image *img)
{
	struct msb_buf b = {0};
	int rc = msb_store_read(store, img->config_digest, MSB_OCI_DOC_MAX, &b);

	if (rc == 0)
		rc = msb_config_parse(&img->cfg, b.data, b.len);
	msb_buf_free(&b);
	return rc;
}

static int load_manifest(struct msb_store *store, const char *digest,
			 struct msb_manifest *m)
{
	struct msb_buf b = {0};
	int rc = msb_store_read(store, digest, MSB_OCI_DOC_MAX, &b);

	if (rc == 0)
		rc = msb_manifest_parse(m, b.data, b.len);
	msb_buf_free(&b);
	return rc;
}

/* A stored image by canonical reference, its root disk rebuilt if gone. */
static int load_stored(msb_image **out, const char *home,
		       struct msb_store *store, const char *canonical,
		       const struct msb_platform *want, char *others,
		       size_t otherslen)
{
	msb_image *img = calloc(1, sizeof(*img));
	struct msb_manifest m = {0};
	int rc;

	if (!img || !(img->reference = strdup(canonical))) {
		msb__image_free(img);
		return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	}
	if ((rc = msb__image_db_lookup(home, canonical, want, img, others,
				       otherslen)) < 0 ||
	    (rc = load_config(store, img)) < 0)
		goto fail;
	if (!(img->rootfs = rootfs_path(home, img->digest))) {
		rc = msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
		goto fail;
	}
	if (access(img->rootfs, R_OK) < 0) {
		free(img->rootfs);
		img->rootfs = NULL;
		if ((rc = load_manifest(store, img->digest, &m)) < 0 ||
		    (rc = build_rootfs(home, store, img, &m)) < 0)
			goto fail;
	}
	msb_manifest_clear(&m);
	*out = img;
	return 0;
fail:
	msb_manifest_clear(&m);
	msb__image_free(img);
	return rc;
}

/* ---- pulling ------------------------------------------------------ */

struct fetch_job {
	struct msb_store *store;
	struct msb_registry *reg;
	const struct msb_manifest *m;
	const struct msb_image_config *cfg;
	const msb_pull_options *opts;
	pthread_mutex_t lock;
	size_t next;
	int rc;
	msb_error err;
};

static void progress_cb(const char *digest, uint64_t done, uint64_t total,
			void *ud)
{
	struct fetch_job *j = ud;

	if (j->opts && j->opts->progress)
		j->opts->progress(digest, done, total, j->opts->userdata);
}

static void *fetch_worker(void *arg)
{
	struct fetch_job *j = arg;

	for (;;) {
		pthread_mutex_lock(&j->lock);
		size_t i = j->next++;
		bool stop = j->rc < 0 || i >= j->m->nlayers;
		pthread_mutex_unlock(&j->lock);
		if (stop)
			return NULL;
		int rc = msb_store_fetch(j->store, j->reg, &j->m->layers[i],
					 j->cfg->diff_ids[i], progress_cb, j);
		if (rc < 0) {
			pthread_mutex_lock(&j->lock);
			if (j->rc == 0) {
				j->rc = rc;
				j->err = *msb_last_error();
			}
			pthread_mutex_unlock(&j->lock);
			return NULL;
		}
	}
}

/* Fetch all layers, MAX_PARALLEL at a time. */
static int fetch_layers(struct fetch_job *j)
{
	pthread_t t[MAX_PARALLEL];
	size_t n = j->m->nlayers < MAX_PARALLEL ? j->m->nlayers : MAX_PARALLEL;
	size_t started = 0;

	pthread_mutex_init(&j->lock, NULL);
	for (; started < n; started++)
		if (pthread_create(&t[started], NULL, fetch_worker, j) != 0)
			break;
	if (started == 0 && n > 0)
		fetch_worker(j);
	for (size_t i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	pthread_mutex_destroy(&j->lock);
	if (j->rc < 0)
		return msb__error(j->err.code, j->err.sys_errno, "%s",
				  j->err.message);
	return 0;
}

/* Resolve the reference to a manifest (through an index if needed). */
static int get_manifest(struct msb_registry *reg, const struct msb_ref *ref,
			const char *canonical, const struct msb_platform *want,
			struct msb_store *store, struct msb_buf *body,
			char **digest)
{
	_cleanup_free_ char *ct = NULL;
	int rc = msb_registry_manifest(
		reg, ref->digest ? ref->digest : ref->tag, body, &ct, digest);

	if (rc < 0)
		return rc;
	enum msb_doc_kind kind = msb_doc_kind(ct, body->data, body->len);
	if (kind == MSB_DOC_MANIFEST)
		return msb_store_put(store, *digest, body->data, body->len);
	if (kind != MSB_DOC_INDEX)
		return msb__error(
			MSB_EPROTO, 0,
			"pull `%s`: the registry answered a document of unknown type `%s`",
			canonical, ct ? ct : "(none)");

	struct msb_index ix = {0};
	if ((rc = msb_index_parse(&ix, body->data, body->len)) < 0)
		return rc;
	const struct msb_descriptor *d =
		msb_index_select(&ix, want->os, want->arch,
				 *want->variant ? want->variant : NULL);
	if (!d) {
		char wp[64];
		msb_index_clear(&ix);
		msb_platform_format(want, wp, sizeof(wp));
		return msb__error(
			MSB_ENOTFOUND, 0,
			"pull `%s`: the image has no variant for platform %s",
			canonical, wp);
	}
	_cleanup_free_ char *pick = strdup(d->digest);
	msb_index_clear(&ix);
	if (!pick)
		return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	free(*digest);
	*digest = NULL;
	free(ct);
	ct = NULL;
	msb_buf_reset(body);
	if ((rc = msb_registry_manifest(reg, pick, body, &ct, digest)) < 0)
		return rc;
	if (msb_doc_kind(ct, body->data, body->len) != MSB_DOC_MANIFEST)
		return msb__error(
			MSB_EPROTO, 0,
			"pull `%s`: platform entry `%s` is not an image manifest",
			canonical, pick);
	return msb_store_put(store, *digest, body->data, body->len);
}

/*
 * The platform @img is stored under: its config's, else @want. An image
 * that is not the platform asked for (@explicit) is refused.
 */
static int set_platform(msb_image *img, const struct msb_platform *want,
			bool explicit, const char *canonical)
{
	struct msb_platform p;
	char buf[64], wp[64];

	if (msb__image_platform(img, &p) < 0)
		p = *want;
	msb_platform_format(&p, buf, sizeof(buf));
	msb_platform_format(want, wp, sizeof(wp));
	if (explicit && !msb_platform_match(&p, want))
		return msb__error(MSB_ENOTFOUND, 0,
				  "pull `%s`: the image is %s, not %s",
				  canonical, buf, wp);
	free(img->platform);
	if (!(img->platform = strdup(buf)))
		return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	return 0;
}

static int pull_remote(msb_image **out, const char *home,
		       struct msb_store *store, const struct msb_ref *ref,
		       const char *canonical, const msb_pull_options *opts,
		       const struct msb_platform *want)
{
	struct msb_registry_opts ro = {
		.username = opts ? opts->username : NULL,
		.password = opts ? opts->password : NULL,
		.insecure = opts && opts->insecure,
	};
	struct msb_registry *reg = NULL;
	struct msb_buf body = {0};
	struct msb_manifest m = {0};
	msb_image *img = calloc(1, sizeof(*img));
	int rc;

	if (!img || !(img->reference = strdup(canonical))) {
		rc = msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = msb_registry_open(&reg, ref, &ro)) < 0 ||
	    (rc = get_manifest(reg, ref, canonical, want, store, &body,
			       &img->digest)) < 0 ||
	    (rc = msb_manifest_parse(&m, body.data, body.len)) < 0)
		goto out;
	for (size_t i = 0; i < m.nlayers; i++) {
		if (!msb_layer_type_supported(m.layers[i].media_type)) {
			rc = msb__error(
				MSB_EPROTO, 0,
				"pull `%s`: layer `%s` has unsupported media type `%s`",
				canonical, m.layers[i].digest,
				m.layers[i].media_type);
			goto out;
		}
		img->size += m.layers[i].size;
	}
	if (!(img->config_digest = strdup(m.config.digest))) {
		rc = msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = msb_store_fetch(store, reg, &m.config, NULL, NULL, NULL)) <
		    0 ||
	    (rc = load_config(store, img)) < 0)
		goto out;
	if (img->cfg.ndiff_ids != m.nlayers) {
		rc = msb__error(
			MSB_EPROTO, 0,
			"pull `%s`: the config lists %zu layers, the manifest %zu",
			canonical, img->cfg.ndiff_ids, m.nlayers);
		goto out;
	}
	if ((rc = set_platform(img, want, opts && opts->platform, canonical)) <
	    0)
		goto out;
	struct fetch_job job = {
		.store = store,
		.reg = reg,
		.m = &m,
		.cfg = &img->cfg,
		.opts = opts,
	};
	if ((rc = fetch_layers(&job)) < 0 ||
	    (rc = build_rootfs(home, store, img, &m)) < 0 ||
	    (rc = db_record(home, img)) < 0)
		goto out;
	*out = steal_ptr(&img);
out:
	msb_manifest_clear(&m);
	msb_buf_free(&body);
	msb_registry_free(reg);
	msb__image_free(img);
	return rc;
}

char *msb__image_full_id(const char *home, const char *image)
{
	struct msb_ref ref = {0};
	msb_image tmp = {0};
	char **refs = NULL, *platform = NULL, *full = NULL;
	msb_error saved;

	if (id_kind(image) != ID_PREFIX)
		return NULL;
	msb__error_save(&saved);
	/* a stored reference of that name comes first */
	_cleanup_free_ char *canonical =
		msb_ref_parse(&ref, image) == 0 ? msb_ref_format(&ref) : NULL;
	if (!canonical ||
	    msb__image_db_lookup(home, canonical, NULL, &tmp, NULL, 0) < 0)
		msb__image_find_id(home, image, &refs, &platform, &full);
	msb_ref_clear(&ref);
	free(tmp.digest);
	free(tmp.config_digest);
	free(tmp.platform);
	msb_strv_free(refs);
	free(platform);
	msb__error_restore(&saved);
	return full;
}

/* The stored image that the ID @id names (msb__image_find_id()), under
 * its first reference. -MSB_ENOTFOUND if none. */
static int load_by_id(msb_image **out, const char *home,
		      struct msb_store *store, const char *id)
{
	char **refs = NULL, *platform = NULL;
	struct msb_platform p;
	int rc = msb__image_find_id(home, id, &refs, &platform, NULL);

	if (rc == 1)
		rc = msb__error(MSB_ENOTFOUND, 0,
				"no stored image has the ID `%s`", id);
	if (rc == 0) {
		bool any = !*platform || msb_platform_parse(&p, platform) < 0;
		msb__error_clear();
		rc = load_stored(out, home, store, refs[0], any ? NULL : &p,
				 NULL, 0);
	}
	msb_strv_free(refs);
	free(platform);
	return rc;
}

/* msb__image_resolve(); @get: for msb_image_get(), which says "not
 * stored" rather than naming a pull policy. */
static int resolve(msb_image **out, const char *home, const char *reference,
		   const msb_pull_options *opts, bool get)
{
	struct msb_ref ref = {0};
	struct msb_store store = {0};
	_cleanup_free_ char *canonical = NULL;
	msb_pull_policy policy = opts ? opts->policy : MSB_PULL_IF_MISSING;
	int rc;

	*out = NULL;
	if (opts && opts->version != MSB_PULL_OPTIONS_VERSION)
		return msb__error(
			MSB_EINVAL, 0,
			"unsupported pull options version %u: initialise with MSB_PULL_OPTIONS_INIT",
			opts->version);
	if (policy > MSB_PULL_NEVER)
		return msb__error(MSB_EINVAL, 0, "invalid pull policy %d",
				  (int)policy);
	struct msb_platform want;
	if (opts && opts->platform) {
		if ((rc = msb_platform_parse(&want, opts->platform)) < 0)
			return rc;
	} else {
		msb_platform_host(&want);
	}
	/* An image ID or digest names a stored image: it cannot be pulled.
	 * A prefix of an ID comes after a stored reference of that name, as
	 * with docker. */
	enum id_kind kind = id_kind(reference);
	if (kind == ID_FULL || kind == ID_DIGEST) {
		if (policy == MSB_PULL_ALWAYS)
			return msb__error(
				MSB_EINVAL, 0,
				"`%s` is an image ID: pull an image by reference (NAME[:TAG] or NAME@sha256:...)",
				reference);
		if ((rc = msb_store_open(&store, home)) == 0)
			rc = load_by_id(out, home, &store, reference);
		msb_store_close(&store);
		return rc;
	}
	if ((rc = msb_ref_parse(&ref, reference)) < 0)
		return rc;
	if (!(canonical = msb_ref_format(&ref))) {
		msb_ref_clear(&ref);
		return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	}
	if ((rc = msb_store_open(&store, home)) < 0)
		goto out;
	if (policy != MSB_PULL_ALWAYS) {
		char others[256], wp[64];
		rc = load_stored(out, home, &store, canonical, &want, others,
				 sizeof(others));
		if (rc == -MSB_ENOTFOUND && !*others && kind == ID_PREFIX) {
			int r = load_by_id(out, home, &store, reference);
			if (r != -MSB_ENOTFOUND) {
				rc = r;
				goto out;
			}
			msb__error_clear();
		}
		/* Never pull, no platform named, only others stored: that
		 * image (a sandbox then names its platform in refusing it). */
		if (rc == -MSB_ENOTFOUND && policy == MSB_PULL_NEVER &&
		    *others && !(opts && opts->platform))
			rc = load_stored(out, home, &store, canonical, NULL,
					 NULL, 0);
		if (rc != -MSB_ENOTFOUND || policy == MSB_PULL_NEVER) {
			msb_platform_format(&want, wp, sizeof(wp));
			if (rc == -MSB_ENOTFOUND && *others)
				rc = msb__error(
					MSB_ENOTFOUND, 0,
					"image `%s` is stored for %s, not %s, and the pull policy is never: pull it with --platform %s",
					canonical, others, wp, wp);
			else if (rc == -MSB_ENOTFOUND && get)
				rc = msb__error(
					MSB_ENOTFOUND, 0,
					"image `%s` is not stored%s%s%s",
					canonical,
					kind == ID_PREFIX
						? ", and no image's ID starts with `"
						: "",
					kind == ID_PREFIX ? reference : "",
					kind == ID_PREFIX ? "`" : "");
			else if (rc == -MSB_ENOTFOUND)
				rc = msb__error(
					MSB_ENOTFOUND, 0,
					"image `%s` is not stored and the pull policy is never: pull it first",
					canonical);
			goto out;
		}
	}
	rc = pull_remote(out, home, &store, &ref, canonical, opts, &want);
out:
	msb_store_close(&store);
	msb_ref_clear(&ref);
	return rc;
}

int msb__image_resolve(msb_image **out, const char *home, const char *reference,
		       const msb_pull_options *opts)
{
	return resolve(out, home, reference, opts, false);
}

/* ---- the built-in default image ----------------------------------- */

/* Read a file of an OCI layout, at most @max bytes. */
static int layout_read(const char *layout, const char *digest, size_t max,
		       struct msb_buf *out)
{
	char path[4096];
	const char *hex = strchr(digest, ':');

	if (!hex || !msb_digest_valid(digest))
		return msb__error(MSB_EPROTO, 0, "bad digest `%s` in `%s`",
				  digest, layout);
	snprintf(path, sizeof(path), "%s/blobs/%.*s/%s", layout,
		 (int)(hex - digest), digest, hex + 1);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return msb__error(MSB_ENOTFOUND, errno, "open `%s`: %s", path,
				  strerror(errno));
	for (;;) {
		if (msb_buf_reserve(out, 65536) < 0)
			return msb__error(MSB_ENOMEM, errno, "out of memory");
		ssize_t n = read(fd, out->data + out->len, out->cap - out->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return msb__error(MSB_ESYS, errno, "read `%s`: %s",
					  path, strerror(errno));
		if (n == 0)
			return 0;
		out->len += (size_t)n;
		if (out->len > max)
			return msb__error(MSB_EPROTO, 0, "`%s` is too large",
					  path);
	}
}

/* Copy one blob of the layout into the store (verified there). */
static int layout_import_blob(struct msb_store *store, const char *layout,
			      const char *digest, size_t max)
{
	struct msb_buf b = {0};
	int rc = 0;

	if (!msb_store_has_blob(store, digest) &&
	    (rc = layout_read(layout, digest, max, &b)) == 0)
		rc = msb_store_put(store, digest, b.data, b.len);
	msb_buf_free(&b);
	return rc;
}

/*
 * Import the OCI layout at @layout (its index's first manifest) into the
 * store as @canonical.
 */
static int import_layout(const char *home, struct msb_store *store,
			 const char *layout, const char *canonical)
{
	char path[4096];
	struct msb_buf b = {0};
	struct msb_index ix = {0};
	struct msb_manifest m = {0};
	msb_image *img = calloc(1, sizeof(*img));
	int rc;

	if (!img || !(img->reference = strdup(canonical))) {
		rc = msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
		goto out;
	}
	snprintf(path, sizeof(path), "%s/index.json", layout);
	json_error_t jerr;
	json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	char *txt = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!txt) {
		rc = msb__error(
			MSB_ENOTFOUND, 0,
			"default image layout `%s` unreadable (%s): run ./setup.sh",
			layout, msb_printable(jerr.text));
		goto out;
	}
	rc = msb_index_parse(&ix, (const uint8_t *)txt, strlen(txt));
	free(txt);
	if (rc < 0)
		goto out;
	if (ix.n == 0) {
		rc = msb__error(MSB_EPROTO, 0, "`%s` lists no image", path);
		goto out;
	}
	if (!(img->digest = strdup(ix.manifests[0].digest))) {
		rc = msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = layout_import_blob(store, layout, img->digest,
				     MSB_OCI_DOC_MAX)) < 0 ||
	    (rc = load_manifest(store, img->digest, &m)) < 0 ||
	    (rc = layout_import_blob(store, layout, m.config.digest,
				     MSB_OCI_DOC_MAX)) < 0)
		goto out;
	if (!(img->config_digest = strdup(m.config.digest))) {
		rc = msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < m.nlayers && rc == 0; i++) {
		rc = layout_import_blob(store, layout, m.layers[i].digest,
					256u << 20);
		img->size += m.layers[i].size;
	}
	struct msb_platform host;
	msb_platform_host(&host);
	if (rc < 0 || (rc = load_config(store, img)) < 0 ||
	    (rc = set_platform(img, &host, false, canonical)) < 0 ||
	    (rc = build_rootfs(home, store, img, &m)) < 0)
		goto out;
	rc = db_record(home, img);
out:
	msb_index_clear(&ix);
	msb_manifest_clear(&m);
	msb_buf_free(&b);
	msb__image_free(img);
	return rc;
}

int msb__image_default(msb_image **out, const char *home, const char *layout)
{
	struct msb_store store = {0};
	int rc;

	*out = NULL;
	if ((rc = msb_store_open(&store, home)) < 0)
		return rc;
	rc = load_stored(out, home, &store, MSB_DEFAULT_IMAGE, NULL, NULL, 0);
	if (rc == -MSB_ENOTFOUND) {
		rc = import_layout(home, &store, layout, MSB_DEFAULT_IMAGE);
		if (rc == 0)
			rc = load_stored(out, home, &store, MSB_DEFAULT_IMAGE,
					 NULL, NULL, 0);
	}
	msb_store_close(&store);
	return rc;
}

/* ---- public API ----------------------------------------------------- */

EXPORT int msb_image_pull(msb_image **out, const char *reference,
			  const msb_pull_options *opts)
{
	struct msb_paths paths;
	msb_image *img = NULL;
	int rc;

	msb__error_clear();
	if (out)
		*out = NULL;
	if (!reference || !*reference)
		return msb__error(MSB_EINVAL, 0, "image reference is empty");
	if ((rc = msb__paths_home(&paths)) < 0)
		return rc;
	rc = msb__image_resolve(&img, paths.home, reference, opts);
	msb__paths_clear(&paths);
	if (rc == 0 && out)
		*out = img;
	else
		msb__image_free(img);
	return rc;
}

EXPORT int msb_image_get(msb_image **out, const char *reference)
{
	msb_pull_options o = MSB_PULL_OPTIONS_INIT;
	struct msb_paths paths;
	int rc;

	msb__error_clear();
	if (!out)
		return msb__error(MSB_EINVAL, 0, "out is NULL");
	*out = NULL;
	if (!reference || !*reference)
		return msb__error(MSB_EINVAL, 0, "image reference is empty");
	if ((rc = msb__paths_home(&paths)) < 0)
		return rc;
	o.policy = MSB_PULL_NEVER;
	rc = resolve(out, paths.home, reference, &o, true);
	msb__paths_clear(&paths);
	return rc;
}

EXPORT int msb_image_list(msb_image ***out, size_t *count)
{
	struct msb_paths paths;
	struct msb_store store = {0};
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	msb_image **list = NULL;
	size_t n = 0;
	int rc;

	MSB_LIST_START(out, count);
	if ((rc = msb__paths_home(&paths)) < 0)
		return rc;
	if ((rc = msb_store_open(&store, paths.home)) < 0 ||
	    (rc = msb__db_open(&db, paths.home)) < 0)
		goto out;
	if (sqlite3_prepare_v2(
		    db,
		    "SELECT reference, platform FROM images ORDER BY reference, platform",
		    -1, &st, NULL) != SQLITE_OK) {
		rc = msb__error(MSB_ESYS, 0, "database: %s",
				sqlite3_errmsg(db));
		goto out;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *r = (const char *)sqlite3_column_text(st, 0);
		msb_image *img = calloc(1, sizeof(*img));
		msb_image **grown = realloc(list, (n + 1) * sizeof(*list));
		if (!img || !grown || !(img->reference = strdup(r))) {
			free(img);
			if (grown)
				list = grown;
			rc = msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
			goto out;
		}
		list = grown;
		list[n++] = img;
		struct msb_platform p;
		const char *pf = (const char *)sqlite3_column_text(st, 1);
		bool any = !pf || !*pf || msb_platform_parse(&p, pf) < 0;
		if (msb__image_db_lookup(paths.home, r, any ? NULL : &p, img,
					 NULL, 0) == 0)
			load_config(&store, img);
		img->rootfs =
			rootfs_path(paths.home, img->digest ? img->digest : "");
	}
	*out = steal_ptr(&list);
	*count = n;
	n = 0;
	msb__error_clear();
	rc = 0;
out:
	sqlite3_finalize(st);
	msb__db_close(db);
	msb_image_list_free(list, n);
	msb_store_close(&store);
	msb__paths_clear(&paths);
	return rc;
}

EXPORT void msb_image_list_free(msb_image **images, size_t count)
{
	for (size_t i = 0; images && i < count; i++)
		msb__image_free(images[i]);
	free(images);
}

/* Is the image with manifest @digest used by a sandbox? (Each sandbox
 * folder records its image's manifest digest in `image`.) */
static bool image_in_use(const char *home, const char *digest, char *who,
			 size_t wholen)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/sandboxes", home);
	DIR *d = opendir(path);
	struct dirent *e;
	bool used = false;

	if (!d)
		return false;
	while (!used && (e = readdir(d))) {
		char buf[200] = "";
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/sandboxes/%s/image", home,
			 e->d_name);
		_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		if (n > 0) {
			buf[n] = '\0';
			buf[strcspn(buf, "\n")] = '\0';
			if (!strcmp(buf, digest)) {
				used = true;
				snprintf(who, wholen, "%s", e->d_name);
			}
		}
	}
	closedir(d);
	return used;
}

/*
 * The rows that msb_image_remove(@name) removes: a stored reference
 * (every platform; @config NULL), else the image with that ID (@config its
 * config digest, under its one reference). @tmp gets the manifest digest.
 */
static int removal_target(const char *home, const char *name, char **canonical,
			  char **config, msb_image *tmp)
{
	struct msb_ref ref = {0};
	enum id_kind kind = id_kind(name);
	char **refs = NULL, *platform = NULL;
	int rc = 0;

	if (kind != ID_FULL && kind != ID_DIGEST) {
		if ((rc = msb_ref_parse(&ref, name)) < 0)
			return rc;
		*canonical = msb_ref_format(&ref);
		msb_ref_clear(&ref);
		if (!*canonical)
			return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
		rc = msb__image_db_lookup(home, *canonical, NULL, tmp, NULL, 0);
		if (rc != -MSB_ENOTFOUND || kind != ID_PREFIX) {
			if (rc == -MSB_ENOTFOUND)
				rc = msb__error(MSB_ENOTFOUND, 0,
						"image `%s` is not stored",
						*canonical);
			return rc;
		}
		msb__error_clear();
	}
	if ((rc = msb__image_find_id(home, name, &refs, &platform, NULL)) < 0)
		goto out;
	if (refs[1]) {
		rc = msb__error(MSB_ESTATE, 0,
				"image `%s` is stored as `%s`, `%s`%s: remove "
				"it by reference",
				name, refs[0], refs[1], refs[2] ? ", ..." : "");
		goto out;
	}
	free(*canonical);
	*canonical = steal_ptr(&refs[0]);
	struct msb_platform p;
	bool any = !*platform || msb_platform_parse(&p, platform) < 0;
	msb__error_clear();
	if ((rc = msb__image_db_lookup(home, *canonical, any ? NULL : &p, tmp,
				       NULL, 0)) == 0 &&
	    !(*config = strdup(tmp->config_digest)))
		rc = msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
out:
	msb_strv_free(refs);
	free(platform);
	return rc;
}

EXPORT int msb_image_remove(const char *reference)
{
	struct msb_paths paths;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	_cleanup_free_ char *canonical = NULL, *config = NULL;
	msb_image tmp = {0};
	char who[256];
	int rc;

	msb__error_clear();
	if (!reference)
		return msb__error(MSB_EINVAL, 0, "image reference is NULL");
	if ((rc = msb__paths_home(&paths)) < 0)
		return rc;
	if ((rc = removal_target(paths.home, reference, &canonical, &config,
				 &tmp)) < 0)
		goto out;
	if (image_in_use(paths.home, tmp.digest, who, sizeof(who))) {
		rc = msb__error(
			MSB_ESTATE, 0,
			"image `%s` is used by sandbox `%s`: remove the sandbox first",
			canonical, who);
		goto out;
	}
	if ((rc = msb__db_open(&db, paths.home)) < 0)
		goto out;
	if (sqlite3_prepare_v2(
		    db,
		    config ? "DELETE FROM images WHERE reference = "
			     "? AND config_digest = ?"
			   : "DELETE FROM images WHERE reference = ?",
		    -1, &st, NULL) != SQLITE_OK) {
		rc = msb__error(MSB_ESYS, 0, "database: %s",
				sqlite3_errmsg(db));
		goto out;
	}
	sqlite3_bind_text(st, 1, canonical, -1, SQLITE_STATIC);
	if (config)
		sqlite3_bind_text(st, 2, config, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = msb__error(MSB_ESYS, 0, "database: %s",
				sqlite3_errmsg(db));
	sqlite3_finalize(st);
	st = NULL;
	msb__db_close(db);
	db = NULL;
	/* Its root disk and blobs go unless another reference uses them. */
	if (rc == 0)
		rc = msb_image_prune(NULL);
out:
	free(tmp.digest);
	free(tmp.config_digest);
	free(tmp.platform);
	sqlite3_finalize(st);
	msb__db_close(db);
	msb__paths_clear(&paths);
	return rc;
}

/* Append a copy of @s to the growing array *@v. */
static int strv_push(char ***v, size_t *n, size_t *cap, const char *s)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		char **g = realloc(*v, c * sizeof(**v));
		if (!g)
			return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
		*v = g;
		*cap = c;
	}
	if (!((*v)[*n] = strdup(s)))
		return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	(*n)++;
	return 0;
}

/* Collect the digests (manifests, configs, layers) that stored images use. */
static int used_digests(const char *home, struct msb_store *store, char ***out,
			size_t *n)
{
	sqlite3 *db;
	sqlite3_stmt *st = NULL;
	char **v = NULL;
	size_t cnt = 0, cap = 0;
	int rc = msb__db_open(&db, home);

	if (rc < 0)
		return rc;
	if (sqlite3_prepare_v2(
		    db, "SELECT manifest_digest, config_digest FROM images", -1,
		    &st, NULL) != SQLITE_OK) {
		rc = msb__error(MSB_ESYS, 0, "database: %s",
				sqlite3_errmsg(db));
		goto out;
	}
	while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
		const char *md = (const char *)sqlite3_column_text(st, 0);
		const char *cd = (const char *)sqlite3_column_text(st, 1);
		struct msb_manifest m = {0};
		if ((rc = strv_push(&v, &cnt, &cap, md)) < 0 ||
		    (rc = strv_push(&v, &cnt, &cap, cd)) < 0)
			break;
		if (load_manifest(store, md, &m) == 0)
			for (size_t i = 0; i < m.nlayers && rc == 0; i++)
				rc = strv_push(&v, &cnt, &cap,
					       m.layers[i].digest);
		msb_manifest_clear(&m);
	}
	if (rc == 0) {
		*out = v;
		*n = cnt;
		v = NULL;
		cnt = 0;
	}
out:
	for (size_t i = 0; i < cnt; i++)
		free(v[i]);
	free(v);
	sqlite3_finalize(st);
	msb__db_close(db);
	return rc;
}

static bool listed(char **v, size_t n, const char *alg, const char *hex)
{
	size_t al = strlen(alg);

	for (size_t i = 0; i < n; i++)
		if (!strncmp(v[i], alg, al) && v[i][al] == ':' &&
		    !strcmp(v[i] + al + 1, hex))
			return true;
	return false;
}

/*
 * Remove unlisted files of @dir whose name is HEX@suffix. With @lock_suffix,
 * only while HEX@lock_suffix can be locked: nobody is building that file
 * (the lock file itself is removed while held, see msb_store_lock()).
 */
static void prune_dir(const char *dir, const char *alg, const char *suffix,
		      const char *lock_suffix, char **v, size_t n,
		      uint64_t *freed)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t sl = strlen(suffix);

	if (!d)
		return;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		char hex[200], path[4400], lockp[4400];
		struct stat st;
		int lfd = -1;
		if (e->d_name[0] == '.' || l <= sl || l - sl >= sizeof(hex) ||
		    strcmp(e->d_name + l - sl, suffix))
			continue;
		memcpy(hex, e->d_name, l - sl);
		hex[l - sl] = '\0';
		if (strchr(hex, '.') || listed(v, n, alg, hex))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		snprintf(lockp, sizeof(lockp), "%s/%s%s", dir, hex,
			 lock_suffix ? lock_suffix : "");
		if (lock_suffix && msb_store_lock(lockp, false, &lfd) != 0) {
			msb__error_clear();
			continue; /* in use */
		}
		if (stat(path, &st) == 0 && unlink(path) == 0 && freed)
			*freed += (uint64_t)st.st_blocks * 512;
		if (lfd >= 0)
			close(lfd);
	}
	closedir(d);
}

/*
 * Root disks being built are unnamed (O_TMPFILE); where a filesystem
 * lacks that, a build that died left "<hex>.ext4.tmp.<pid>": remove those
 * whose image nobody is building (its lock is free).
 */
static void prune_builds(const char *dir, uint64_t *freed)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		const char *t = strstr(e->d_name, ".ext4.tmp.");
		char lockp[4410], rootfs[4400];
		int lfd;
		if (e->d_name[0] == '.' || !t || t == e->d_name)
			continue;
		snprintf(rootfs, sizeof(rootfs), "%s/%.*s.ext4", dir,
			 (int)(t - e->d_name), e->d_name);
		snprintf(lockp, sizeof(lockp), "%s.lock", rootfs);
		if (msb_store_lock(lockp, false, &lfd) != 0) {
			msb__error_clear();
			continue; /* a build is running */
		}
		remove_stale_builds(rootfs, freed);
		close(lfd);
	}
	closedir(d);
}

EXPORT int msb_image_prune(uint64_t *freed)
{
	struct msb_paths paths;
	struct msb_store store = {0};
	char **v = NULL;
	size_t n = 0;
	char dir[4096];
	int rc;

	msb__error_clear();
	if (freed)
		*freed = 0;
	if ((rc = msb__paths_home(&paths)) < 0)
		return rc;
	if ((rc = msb_store_open(&store, paths.home)) < 0 ||
	    (rc = used_digests(paths.home, &store, &v, &n)) < 0)
		goto out;
	snprintf(dir, sizeof(dir), "%s/images/rootfs", paths.home);
	prune_builds(dir, freed);
	/* A root disk in use by a sandbox is listed: its image is stored
	 * (removal is refused while a sandbox uses it). One being built is
	 * locked. */
	prune_dir(dir, "sha256", ".ext4", ".ext4.lock", v, n, freed);
	prune_dir(dir, "sha256", ".ext4.lock", ".ext4.lock", v, n, freed);
	snprintf(dir, sizeof(dir), "%s/images/blobs/sha256", paths.home);
	prune_dir(dir, "sha256", "", NULL, v, n, freed);
	msb_store_prune_tmp(&store, freed);
out:
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	msb_store_close(&store);
	msb__paths_clear(&paths);
	return rc;
}

EXPORT const char *msb_image_reference(const msb_image *img)
{
	return img ? img->reference : NULL;
}

EXPORT const char *msb_image_digest(const msb_image *img)
{
	return img ? img->digest : NULL;
}

EXPORT const char *msb_image_id(const msb_image *img)
{
	return img ? img->config_digest : NULL;
}

EXPORT const char *msb_image_created(const msb_image *img)
{
	return img ? img->cfg.created : NULL;
}

EXPORT const char *msb_image_platform(const msb_image *img)
{
	return img ? img->platform : NULL;
}

EXPORT int msb_image_platform_parse(const char *platform, char *out, size_t len)
{
	struct msb_platform p;
	int rc;

	msb__error_clear();
	if ((rc = msb_platform_parse(&p, platform)) < 0)
		return rc;
	if (out && len)
		msb_platform_format(&p, out, len);
	return 0;
}

EXPORT uint64_t msb_image_size(const msb_image *img)
{
	return img ? img->size : 0;
}

#define STRV(x) ((x) ? (const char *const *)(x) : empty_strv)

EXPORT const char *const *msb_image_env(const msb_image *img)
{
	return img ? STRV(img->cfg.env) : empty_strv;
}

EXPORT const char *const *msb_image_entrypoint(const msb_image *img)
{
	return img ? STRV(img->cfg.entrypoint) : empty_strv;
}

EXPORT const char *const *msb_image_cmd(const msb_image *img)
{
	return img ? STRV(img->cfg.cmd) : empty_strv;
}

EXPORT const char *msb_image_workdir(const msb_image *img)
{
	return img ? img->cfg.workdir : NULL;
}

EXPORT const char *msb_image_user(const msb_image *img)
{
	return img ? img->cfg.user : NULL;
}

static json_t *strv_json(char **v)
{
	json_t *a;

	if (!v)
		return json_null();
	a = json_array();
	for (; a && *v; v++)
		json_array_append_new(a, json_string(*v));
	return a;
}

EXPORT char *msb_image_inspect_json(const msb_image *img)
{
	if (!img)
		return NULL;
	const struct msb_image_config *c = &img->cfg;
	json_t *o = json_pack(
		"{s:s?, s:s?, s:s?, s:s?, s:s?, s:I, s:s?, s:s?, s:s?, s:s?, s:s?, s:o, s:o, s:o, s:s?, s:s?}",
		"reference", img->reference, "id", img->config_digest,
		"platform", img->platform, "digest", img->digest,
		"config_digest", img->config_digest, "size",
		(json_int_t)img->size, "created", c->created, "os", c->os,
		"architecture", c->arch, "variant", c->variant, "rootfs",
		img->rootfs, "env", strv_json(c->env), "entrypoint",
		strv_json(c->entrypoint), "cmd", strv_json(c->cmd), "workdir",
		c->workdir, "user", c->user);
	/* ASCII: the config is the registry's, C1 controls escaped too */
	char *s = o ? json_dumps(o, JSON_INDENT(2) | JSON_ENSURE_ASCII) : NULL;
	json_decref(o);
	return s;
}
