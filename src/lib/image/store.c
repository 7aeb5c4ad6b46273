// SPDX-License-Identifier: Apache-2.0
/*
 * Content store: verified blobs under $MSB_HOME/images/blobs.
 *
 * Theory of operation. A fetch takes the blob's lock (flock on
 * tmp/<hex>.lock, blocking; the holder unlinks the lock file when it is
 * done, so after locking a waiter checks that the file it holds is still
 * the one at that path, else it locks again) and then looks whether the
 * blob arrived meanwhile. The download appends to tmp/<hex>.partial: the
 * bytes already there go through the verifier first, the rest is asked
 * for with a Range. Every byte goes through the verifier: the blob's
 * digest, and for a layer the sha256 of the decompressed stream (gzip,
 * zstd or plain, by magic), its diff_id. Only a blob of the descriptor's
 * size whose hashes match is fsync'd, made read-only and renamed into
 * blobs/<alg>/<hex>. A mismatch deletes the partial file; other failures
 * (network, timeout) keep it for the next attempt. A partial file that
 * fails verification once resumed is discarded and the blob downloaded
 * again from its start, once.
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <openssl/evp.h>
#include <zlib.h>
#include <zstd.h>

#include "lib/image/store.h"
#include "lib/image/store_internal.h"
#include "lib/internal.h"

#define OUT_CHUNK (128 * 1024)          /* decompressed bytes per step */
#define READ_CHUNK (256 * 1024)         /* re-hashing a partial file */
#define PROGRESS_STEP (256 * 1024)      /* progress callback granularity */
#define UNCOMPRESSED_MAX (256ull << 30) /* a layer's tar stream */
#define LOCK_TRIES 1000

enum stream_fmt {
	FMT_UNKNOWN = 0,
	FMT_PLAIN,
	FMT_GZIP,
	FMT_ZSTD,
};

static const char *const fmt_names[] = {"unknown", "plain", "gzip", "zstd"};

struct msb_verifier {
	char *digest;
	char *diff_id; /* NULL: not a layer */
	const EVP_MD *md, *diff_md;
	EVP_MD_CTX *ctx, *diff_ctx;
	uint64_t size, out_size;
	enum stream_fmt fmt;
	uint8_t magic[4];
	size_t nmagic;
	z_stream z;
	bool z_init;
	bool z_end; /* at the end of a gzip member */
	ZSTD_DStream *zs;
	size_t zs_hint; /* 0 once a zstd frame is complete and flushed */
	uint8_t *out;
};

static int oom(void)
{
	return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
}

static const EVP_MD *digest_md(const char *d)
{
	if (!strncmp(d, "sha256:", 7))
		return EVP_sha256();
	if (!strncmp(d, "sha512:", 7))
		return EVP_sha512();
	return NULL;
}

/* Does the finished @ctx equal the hex part of @digest? */
static bool digest_equal(EVP_MD_CTX *ctx, const char *digest)
{
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	const char *want = strchr(digest, ':') + 1;

	if (!EVP_DigestFinal_ex(ctx, h, &n))
		return false;
	for (unsigned int i = 0; i < n; i++)
		sprintf(hex + 2 * i, "%02x", h[i]);
	return strlen(want) == 2 * n && !memcmp(hex, want, 2 * n);
}

void msb__verifier_free(struct msb_verifier *v)
{
	if (!v)
		return;
	if (v->z_init)
		inflateEnd(&v->z);
	ZSTD_freeDStream(v->zs);
	EVP_MD_CTX_free(v->ctx);
	EVP_MD_CTX_free(v->diff_ctx);
	free(v->out);
	free(v->digest);
	free(v->diff_id);
	free(v);
}

int msb__verifier_reset(struct msb_verifier *v)
{
	if (!EVP_DigestInit_ex(v->ctx, v->md, NULL))
		return oom();
	if (v->diff_id && !EVP_DigestInit_ex(v->diff_ctx, v->diff_md, NULL))
		return oom();
	if (v->z_init)
		inflateEnd(&v->z);
	memset(&v->z, 0, sizeof(v->z));
	v->z_init = false;
	v->z_end = false;
	if (v->zs)
		ZSTD_DCtx_reset(v->zs, ZSTD_reset_session_only);
	v->zs_hint = 1;
	v->size = v->out_size = 0;
	v->fmt = FMT_UNKNOWN;
	v->nmagic = 0;
	return 0;
}

int msb__verifier_new(struct msb_verifier **out, const char *digest,
		      const char *diff_id)
{
	struct msb_verifier *v;

	*out = NULL;
	if (!digest || !msb_digest_valid(digest) ||
	    (diff_id && !msb_digest_valid(diff_id)))
		return msb__error(MSB_EINVAL, 0, "blob `%.80s`: invalid digest",
				  digest ? digest : "(null)");
	v = calloc(1, sizeof(*v));
	if (!v)
		return oom();
	v->md = digest_md(digest);
	v->digest = strdup(digest);
	v->ctx = EVP_MD_CTX_new();
	if (diff_id) {
		v->diff_md = digest_md(diff_id);
		v->diff_id = strdup(diff_id);
		v->diff_ctx = EVP_MD_CTX_new();
		v->out = malloc(OUT_CHUNK);
	}
	if (!v->md || !v->digest || !v->ctx ||
	    (diff_id &&
	     (!v->diff_md || !v->diff_id || !v->diff_ctx || !v->out)) ||
	    msb__verifier_reset(v) < 0) {
		msb__verifier_free(v);
		return oom();
	}
	*out = v;
	return 0;
}

uint64_t msb__verifier_size(const struct msb_verifier *v)
{
	return v->size;
}

static int hash_out(struct msb_verifier *v, const void *buf, size_t len)
{
	if (!len)
		return 0;
	v->out_size += len;
	if (v->out_size > UNCOMPRESSED_MAX)
		return msb__error(
			MSB_EPROTO, 0,
			"layer `%s`: uncompressed stream larger than %llu GiB",
			v->digest, UNCOMPRESSED_MAX >> 30);
	if (!EVP_DigestUpdate(v->diff_ctx, buf, len))
		return oom();
	return 0;
}

static int bad_stream(struct msb_verifier *v, const char *why)
{
	return msb__error(MSB_EPROTO, 0, "layer `%s`: invalid %s data (%s)",
			  v->digest, fmt_names[v->fmt], why ? why : "corrupt");
}

static int decode_gzip(struct msb_verifier *v, const uint8_t *buf, size_t len)
{
	while (len) {
		uInt n = len > UINT_MAX / 2 ? UINT_MAX / 2 : (uInt)len;

		v->z.next_in = (Bytef *)buf;
		v->z.avail_in = n;
		buf += n;
		len -= n;
		for (;;) {
			if (v->z_end) {
				if (!v->z.avail_in)
					break;
				/* another gzip member follows */
				if (inflateReset(&v->z) != Z_OK)
					return bad_stream(v, v->z.msg);
				v->z_end = false;
			}
			v->z.next_out = v->out;
			v->z.avail_out = OUT_CHUNK;
			int ret = inflate(&v->z, Z_NO_FLUSH);
			int rc =
				hash_out(v, v->out, OUT_CHUNK - v->z.avail_out);
			if (rc < 0)
				return rc;
			if (ret == Z_STREAM_END) {
				v->z_end = true;
				continue;
			}
			if (ret == Z_BUF_ERROR && !v->z.avail_in)
				break; /* needs more input */
			if (ret != Z_OK)
				return bad_stream(v, v->z.msg);
			if (!v->z.avail_in && v->z.avail_out)
				break;
		}
	}
	return 0;
}

static int decode_zstd(struct msb_verifier *v, const uint8_t *buf, size_t len)
{
	ZSTD_inBuffer in = {buf, len, 0};

	for (;;) {
		ZSTD_outBuffer o = {v->out, OUT_CHUNK, 0};
		size_t ret = ZSTD_decompressStream(v->zs, &o, &in);

		if (ZSTD_isError(ret))
			return bad_stream(v, ZSTD_getErrorName(ret));
		int rc = hash_out(v, v->out, o.pos);
		if (rc < 0)
			return rc;
		v->zs_hint = ret;
		if (in.pos == in.size && o.pos < o.size)
			return 0;
	}
}

static int decode(struct msb_verifier *v, const uint8_t *buf, size_t len)
{
	switch (v->fmt) {
	case FMT_GZIP:
		return decode_gzip(v, buf, len);
	case FMT_ZSTD:
		return decode_zstd(v, buf, len);
	default:
		return hash_out(v, buf, len);
	}
}

/* Choose the format from the first bytes, then decode them. */
static int detect(struct msb_verifier *v)
{
	static const uint8_t gz[] = {0x1f, 0x8b};
	static const uint8_t zst[] = {0x28, 0xb5, 0x2f, 0xfd};

	if (v->nmagic >= 2 && !memcmp(v->magic, gz, 2)) {
		v->fmt = FMT_GZIP;
		if (inflateInit2(&v->z, 16 + MAX_WBITS) != Z_OK)
			return oom();
		v->z_init = true;
	} else if (v->nmagic >= 4 && !memcmp(v->magic, zst, 4)) {
		v->fmt = FMT_ZSTD;
		if (!v->zs && !(v->zs = ZSTD_createDStream()))
			return oom();
		ZSTD_DCtx_reset(v->zs, ZSTD_reset_session_only);
		v->zs_hint = 1;
	} else {
		v->fmt = FMT_PLAIN;
	}
	return decode(v, v->magic, v->nmagic);
}

int msb__verifier_update(struct msb_verifier *v, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (!len)
		return 0;
	if (!EVP_DigestUpdate(v->ctx, buf, len))
		return oom();
	v->size += len;
	if (!v->diff_id)
		return 0;
	if (v->fmt == FMT_UNKNOWN) {
		size_t take = sizeof(v->magic) - v->nmagic;
		if (take > len)
			take = len;
		memcpy(v->magic + v->nmagic, p, take);
		v->nmagic += take;
		p += take;
		len -= take;
		if (v->nmagic < sizeof(v->magic))
			return 0;
		int rc = detect(v);
		if (rc < 0)
			return rc;
	}
	return decode(v, p, len);
}

int msb__verifier_finish(struct msb_verifier *v)
{
	if (v->diff_id && v->fmt == FMT_UNKNOWN) {
		int rc = detect(v);
		if (rc < 0)
			return rc;
	}
	if (!digest_equal(v->ctx, v->digest))
		return msb__error(
			MSB_EPROTO, 0,
			"blob `%s`: content does not match its digest",
			v->digest);
	if (!v->diff_id)
		return 0;
	if ((v->fmt == FMT_GZIP && !v->z_end) ||
	    (v->fmt == FMT_ZSTD && v->zs_hint != 0))
		return msb__error(MSB_EPROTO, 0,
				  "layer `%s`: truncated %s stream", v->digest,
				  fmt_names[v->fmt]);
	if (!digest_equal(v->diff_ctx, v->diff_id))
		return msb__error(
			MSB_EPROTO, 0,
			"layer `%s`: uncompressed content does not match its diff_id `%s`",
			v->digest, v->diff_id);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Files                                                               */

/* mkdir -p with @mode for the directories it creates. */
static int mkdir_p(const char *path, mode_t mode)
{
	_cleanup_free_ char *p = strdup(path);
	struct stat st;

	if (!p)
		return oom();
	for (char *s = p + 1;; s++) {
		if (*s && *s != '/')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return msb__error(MSB_ESYS, errno, "mkdir `%s`: %s", p,
					  strerror(errno));
		*s = c;
		if (!c)
			break;
	}
	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		return msb__error(MSB_ESYS, ENOTDIR, "mkdir `%s`: %s", path,
				  strerror(ENOTDIR));
	return 0;
}

static int fsync_dir(const char *dir)
{
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fsync(fd) < 0)
		return msb__error(MSB_ESYS, errno, "fsync `%s`: %s", dir,
				  strerror(errno));
	return 0;
}

int msb_store_open(struct msb_store *s, const char *home)
{
	static const char *const sub[] = {"blobs/sha256", "blobs/tmp"};

	s->dir = NULL;
	if (!home || !*home)
		return msb__error(MSB_EINVAL, 0, "store: no home directory");
	s->dir = xasprintf("%s/images", home);
	if (!s->dir)
		return oom();
	for (size_t i = 0; i < ARRAY_SIZE(sub); i++) {
		_cleanup_free_ char *p = xasprintf("%s/%s", s->dir, sub[i]);
		int rc = p ? mkdir_p(p, i ? 0700 : 0755) : oom();
		if (rc < 0) {
			msb_store_close(s);
			return rc;
		}
	}
	return 0;
}

void msb_store_close(struct msb_store *s)
{
	if (!s)
		return;
	free(s->dir);
	s->dir = NULL;
}

/* "<dir>/blobs/<what>/<hex><suffix>"; NULL for an invalid digest. */
static char *store_path(const struct msb_store *s, const char *digest, bool tmp,
			const char *suffix)
{
	if (!digest || !msb_digest_valid(digest)) {
		errno = EINVAL;
		return NULL;
	}
	size_t alg = strcspn(digest, ":");
	if (tmp)
		return xasprintf("%s/blobs/tmp/%s%s", s->dir, digest + alg + 1,
				 suffix);
	return xasprintf("%s/blobs/%.*s/%s", s->dir, (int)alg, digest,
			 digest + alg + 1);
}

char *msb_store_blob_path(const struct msb_store *s, const char *digest)
{
	return store_path(s, digest, false, "");
}

bool msb_store_has_blob(const struct msb_store *s, const char *digest)
{
	_cleanup_free_ char *p = msb_store_blob_path(s, digest);
	struct stat st;

	return p && stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* The directory of @digest's algorithm, created if needed. */
static int alg_dir(const struct msb_store *s, const char *digest)
{
	_cleanup_free_ char *p = xasprintf("%s/blobs/%.*s", s->dir,
					   (int)strcspn(digest, ":"), digest);

	return p ? mkdir_p(p, 0755) : oom();
}

/* fsync, make read-only and move @fd (at @tmp) to @path. */
static int publish(int fd, const char *tmp, const char *path)
{
	_cleanup_free_ char *dir = strdup(path);

	if (!dir)
		return oom();
	if (fsync(fd) < 0 || fchmod(fd, 0444) < 0)
		return msb__error(MSB_ESYS, errno, "fsync `%s`: %s", tmp,
				  strerror(errno));
	if (rename(tmp, path) < 0)
		return msb__error(MSB_ESYS, errno, "rename `%s` to `%s`: %s",
				  tmp, path, strerror(errno));
	*strrchr(dir, '/') = '\0';
	return fsync_dir(dir);
}

int msb_store_tmpfile(struct msb_tmpfile *t, const char *dir,
		      const char *fallback, mode_t mode)
{
	t->named = false;
	t->fd = -1;
	/* O_TMPFILE: no name until linked. Its path for other opens
	 * (libext2fs) is the /proc magic link, so /proc must be there. */
	if (access("/proc/self/fd", X_OK) == 0) {
		t->fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, mode);
		if (t->fd >= 0) {
			snprintf(t->path, sizeof(t->path), "/proc/self/fd/%d",
				 t->fd);
			return 0;
		}
		/* old kernels say EISDIR, filesystems without it EOPNOTSUPP */
		if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
			return msb__error(MSB_ESYS, errno,
					  "create a file in `%s`: %s", dir,
					  strerror(errno));
	}
	/* A filesystem without O_TMPFILE: a name the next build under the
	 * same lock, and image prune, remove if we die. */
	if (snprintf(t->path, sizeof(t->path), "%s", fallback) >=
	    (int)sizeof(t->path))
		return msb__error(MSB_EINVAL, ENAMETOOLONG, "`%s`: too long",
				  fallback);
	t->fd = open(fallback,
		     O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (t->fd < 0)
		return msb__error(MSB_ESYS, errno, "create `%s`: %s", fallback,
				  strerror(errno));
	t->named = true;
	return 0;
}

int msb_store_tmpfile_link(struct msb_tmpfile *t, const char *dest,
			   bool exist_ok)
{
	if (t->named) {
		if (rename(t->path, dest) < 0)
			return msb__error(MSB_ESYS, errno,
					  "rename `%s` to `%s`: %s", t->path,
					  dest, strerror(errno));
		t->named = false;
		return 0;
	}
	if (linkat(AT_FDCWD, t->path, AT_FDCWD, dest, AT_SYMLINK_FOLLOW) < 0 &&
	    !(exist_ok && errno == EEXIST))
		return msb__error(MSB_ESYS, errno, "link `%s`: %s", dest,
				  strerror(errno));
	return 0;
}

void msb_store_tmpfile_drop(struct msb_tmpfile *t)
{
	if (t->named)
		unlink(t->path);
	t->named = false;
	close_fd(&t->fd);
}

int msb_store_lock(const char *path, bool wait, int *out)
{
	for (int i = 0; i < LOCK_TRIES; i++) {
		_cleanup_close_ int fd = open(
			path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		struct stat a, b;

		if (fd < 0)
			return msb__error(MSB_ESYS, errno, "open `%s`: %s",
					  path, strerror(errno));
		while (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) < 0) {
			if (!wait && errno == EWOULDBLOCK)
				return 1;
			if (errno != EINTR)
				return msb__error(MSB_ESYS, errno,
						  "lock `%s`: %s", path,
						  strerror(errno));
		}
		if (fstat(fd, &a) < 0)
			return msb__error(MSB_ESYS, errno, "stat `%s`: %s",
					  path, strerror(errno));
		if (stat(path, &b) == 0 && a.st_dev == b.st_dev &&
		    a.st_ino == b.st_ino) {
			*out = steal_fd(&fd);
			return 0;
		}
		/* the previous holder removed it: lock the new one */
	}
	return msb__error(MSB_ESYS, 0,
			  "lock `%s`: the lock file keeps changing", path);
}

/* ------------------------------------------------------------------ */
/* Fetch                                                               */

struct fetch {
	const struct msb_descriptor *d;
	struct msb_verifier *v;
	const char *partial;
	int fd;
	uint64_t done, reported;
	bool bad; /* the data is wrong: remove the partial file */
	int err;  /* from on_restart() */
	msb_blob_progress_fn progress;
	void *userdata;
};

static void report(struct fetch *f, bool force)
{
	if (!f->progress)
		return;
	if (!force && f->done - f->reported < PROGRESS_STEP &&
	    f->done != f->d->size)
		return;
	if (f->reported == f->done && f->done && !force)
		return;
	f->reported = f->done;
	f->progress(f->d->digest, f->done, f->d->size, f->userdata);
}

static int fetch_sink(const void *buf, size_t len, void *ud)
{
	struct fetch *f = ud;
	int rc;

	if (f->err)
		return f->err;
	if (len > f->d->size - f->done) {
		f->bad = true;
		return msb__error(
			MSB_EPROTO, 0,
			"blob `%s`: the registry sent more than the %" PRIu64
			" bytes of its descriptor",
			f->d->digest, f->d->size);
	}
	if (write_all(f->fd, buf, len) < 0)
		return msb__error(MSB_ESYS, errno, "write `%s`: %s", f->partial,
				  strerror(errno));
	rc = msb__verifier_update(f->v, buf, len);
	if (rc < 0) {
		f->bad = true;
		return rc;
	}
	f->done += len;
	report(f, false);
	return 0;
}

/* Drop what the partial file holds and start from byte 0. */
static int restart(struct fetch *f)
{
	int rc;

	f->done = 0;
	f->reported = 0;
	if (ftruncate(f->fd, 0) < 0 || lseek(f->fd, 0, SEEK_SET) < 0)
		return msb__error(MSB_ESYS, errno, "truncate `%s`: %s",
				  f->partial, strerror(errno));
	rc = msb__verifier_reset(f->v);
	return rc;
}

static void fetch_restart(void *ud)
{
	struct fetch *f = ud;
	int rc = restart(f);

	if (rc < 0 && !f->err)
		f->err = rc;
}

/* Feed the bytes already in the partial file to the verifier. */
static int rehash(struct fetch *f)
{
	_cleanup_free_ uint8_t *buf = NULL;
	struct stat st;

	if (fstat(f->fd, &st) < 0)
		return msb__error(MSB_ESYS, errno, "stat `%s`: %s", f->partial,
				  strerror(errno));
	if (!st.st_size)
		return 0;
	if ((uint64_t)st.st_size > f->d->size)
		return restart(f);
	buf = malloc(READ_CHUNK);
	if (!buf)
		return oom();
	if (lseek(f->fd, 0, SEEK_SET) < 0)
		return msb__error(MSB_ESYS, errno, "seek `%s`: %s", f->partial,
				  strerror(errno));
	while (f->done < (uint64_t)st.st_size) {
		ssize_t n = read_all(f->fd, buf, READ_CHUNK);
		if (n < 0)
			return msb__error(MSB_ESYS, errno, "read `%s`: %s",
					  f->partial, strerror(errno));
		if (n == 0)
			break;
		if (msb__verifier_update(f->v, buf, (size_t)n) < 0)
			return restart(f); /* corrupt: start over */
		f->done += (uint64_t)n;
	}
	/* the file position is now its end: appends continue there */
	return 0;
}

int msb__store_fetch_from(struct msb_store *s, msb__blob_source_fn src,
			  void *src_ud, const struct msb_descriptor *d,
			  const char *diff_id, msb_blob_progress_fn progress,
			  void *userdata)
{
	_cleanup_free_ char *path = NULL, *partial = NULL, *lockp = NULL;
	_cleanup_close_ int lockfd = -1, fd = -1;
	struct fetch f = {
		.d = d, .fd = -1, .progress = progress, .userdata = userdata};
	int rc;

	if (!s || !s->dir || !src || !d || !d->digest ||
	    !msb_digest_valid(d->digest) ||
	    (diff_id && !msb_digest_valid(diff_id)))
		return msb__error(MSB_EINVAL, 0, "blob `%.80s`: invalid digest",
				  d && d->digest ? d->digest : "(null)");
	path = msb_store_blob_path(s, d->digest);
	partial = store_path(s, d->digest, true, ".partial");
	lockp = store_path(s, d->digest, true, ".lock");
	if (!path || !partial || !lockp)
		return oom();
	if (msb_store_has_blob(s, d->digest))
		goto present;
	rc = alg_dir(s, d->digest);
	if (rc < 0)
		return rc;
	rc = msb_store_lock(lockp, true, &lockfd);
	if (rc < 0)
		return rc;
	if (msb_store_has_blob(s, d->digest)) {
		unlink(lockp);
		goto present;
	}

	fd = open(partial, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		rc = msb__error(MSB_ESYS, errno, "open `%s`: %s", partial,
				strerror(errno));
		goto out;
	}
	f.fd = fd;
	f.partial = partial;
	rc = msb__verifier_new(&f.v, d->digest, diff_id);
	if (rc < 0)
		goto out;
	rc = rehash(&f);
	if (rc < 0)
		goto out;
	uint64_t resumed = f.done;
	if (f.done)
		report(&f, true);

	for (int pass = 0;; pass++) {
		f.bad = false;
		rc = 0;
		if (f.done < d->size)
			rc = src(src_ud, d->digest, f.done, fetch_sink,
				 fetch_restart, &f);
		if (rc == 0 && f.err)
			rc = f.err;
		if (rc == 0 && f.done != d->size) {
			f.bad = true;
			rc = msb__error(MSB_EPROTO, 0,
					"blob `%s`: the registry sent %" PRIu64
					" bytes, its descriptor says %" PRIu64,
					d->digest, f.done, d->size);
		}
		if (rc == 0) {
			rc = msb__verifier_finish(f.v);
			f.bad = rc < 0;
		}
		if (rc == 0)
			break;
		/* network trouble keeps the partial file; bad data is
		 * removed at out, unless the bad bytes may be old ones */
		if (!f.bad || pass || !resumed)
			goto out;
		resumed = 0;
		rc = restart(&f);
		if (rc < 0)
			goto out;
	}
	rc = publish(fd, partial, path);
	if (rc < 0)
		goto out;
	report(&f, f.reported != d->size);
out:
	/* keep a partial file only for a later resume */
	if (rc < 0 && fd >= 0 && (f.bad || !f.done))
		unlink(partial);
	msb__verifier_free(f.v);
	unlink(lockp);
	return rc;
present:
	if (progress)
		progress(d->digest, d->size, d->size, userdata);
	return 0;
}

static int registry_source(void *src, const char *digest, uint64_t offset,
			   int (*sink)(const void *buf, size_t len, void *ud),
			   void (*on_restart)(void *ud), void *ud)
{
	return msb_registry_blob(src, digest, offset, sink, on_restart, ud);
}

int msb_store_fetch(struct msb_store *s, struct msb_registry *r,
		    const struct msb_descriptor *d, const char *diff_id,
		    msb_blob_progress_fn progress, void *userdata)
{
	if (!r)
		return msb__error(MSB_EINVAL, 0, "store: no registry");
	return msb__store_fetch_from(s, registry_source, r, d, diff_id,
				     progress, userdata);
}

/* ------------------------------------------------------------------ */
/* Small documents                                                     */

int msb_store_put(struct msb_store *s, const char *digest, const void *data,
		  size_t len)
{
	_cleanup_free_ char *path = NULL, *tmp = NULL, *dir = NULL;
	struct msb_tmpfile t;
	struct msb_verifier *v = NULL;
	int rc;

	if (!s || !s->dir || (!data && len))
		return msb__error(MSB_EINVAL, 0, "store: invalid argument");
	rc = msb__verifier_new(&v, digest, NULL);
	if (rc < 0)
		return rc;
	rc = msb__verifier_update(v, data, len);
	if (rc == 0)
		rc = msb__verifier_finish(v);
	msb__verifier_free(v);
	if (rc < 0)
		return rc;
	if (msb_store_has_blob(s, digest))
		return 0;
	rc = alg_dir(s, digest);
	if (rc < 0)
		return rc;
	path = msb_store_blob_path(s, digest);
	/* a fallback name: image prune removes old ones */
	tmp = store_path(s, digest, true, ".put.tmp.");
	dir = xasprintf("%s/blobs/tmp", s->dir);
	_cleanup_free_ char *named =
		tmp ? xasprintf("%s%d", tmp, (int)getpid()) : NULL;
	if (!path || !named || !dir)
		return oom();
	if ((rc = msb_store_tmpfile(&t, dir, named, 0600)) < 0)
		return rc;
	if (write_all(t.fd, data, len) < 0)
		rc = msb__error(MSB_ESYS, errno, "write a blob for `%s`: %s",
				path, strerror(errno));
	else if (fsync(t.fd) < 0 || fchmod(t.fd, 0444) < 0)
		rc = msb__error(MSB_ESYS, errno, "fsync a blob for `%s`: %s",
				path, strerror(errno));
	else if ((rc = msb_store_tmpfile_link(&t, path, true)) == 0) {
		*strrchr(dir, '/') = '\0'; /* images/blobs */
		_cleanup_free_ char *alg = xasprintf(
			"%s/%.*s", dir, (int)strcspn(digest, ":"), digest);
		rc = alg ? fsync_dir(alg) : oom();
	}
	msb_store_tmpfile_drop(&t);
	return rc;
}

/* Is @s, up to @n bytes, a lowercase hex digest part? */
static bool is_hex(const char *s, size_t n)
{
	if (!n || n > 128)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!s[i] || !strchr("0123456789abcdef", s[i]))
			return false;
	return true;
}

static void remove_counted(const char *path, uint64_t *freed)
{
	struct stat st;

	if (lstat(path, &st) == 0 && unlink(path) == 0 && freed)
		*freed += (uint64_t)st.st_blocks * 512;
}

void msb_store_prune_tmp(struct msb_store *s, uint64_t *freed)
{
	_cleanup_free_ char *dir = xasprintf("%s/blobs/tmp", s->dir);
	DIR *d = dir ? opendir(dir) : NULL;
	struct dirent *e;
	time_t now = time(NULL);

	if (!d)
		return;
	while ((e = readdir(d))) {
		const char *name = e->d_name, *dot = strchr(name, '.');
		char path[4400], lockp[4400], part[4400];
		struct stat st;
		if (name[0] == '.' || !dot ||
		    !is_hex(name, (size_t)(dot - name)))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		/* a document being stored takes milliseconds */
		if (!strncmp(dot, ".put.", 5)) {
			if (lstat(path, &st) == 0 && st.st_mtime < now - 3600)
				remove_counted(path, freed);
			continue;
		}
		if (strcmp(dot, ".partial") && strcmp(dot, ".lock"))
			continue;
		/* a download nobody is doing: its lock is free */
		snprintf(lockp, sizeof(lockp), "%s/%.*s.lock", dir,
			 (int)(dot - name), name);
		snprintf(part, sizeof(part), "%s/%.*s.partial", dir,
			 (int)(dot - name), name);
		int fd;
		if (msb_store_lock(lockp, false, &fd) != 0) {
			msb__error_clear();
			continue;
		}
		remove_counted(part, freed);
		unlink(lockp); /* while holding it (see msb_store_lock) */
		close(fd);
	}
	closedir(d);
}

int msb_store_read(const struct msb_store *s, const char *digest, size_t max,
		   struct msb_buf *out)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int fd = -1;
	struct msb_verifier *v = NULL;
	struct stat st;
	ssize_t n;
	int rc;

	if (!s || !s->dir || !out)
		return msb__error(MSB_EINVAL, 0, "store: invalid argument");
	path = msb_store_blob_path(s, digest);
	if (!path)
		return errno == EINVAL
			       ? msb__error(MSB_EINVAL, 0,
					    "blob `%.80s`: invalid digest",
					    digest ? digest : "(null)")
			       : oom();
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT)
		return msb__error(MSB_ENOTFOUND, 0,
				  "blob `%s` is not in the store", digest);
	if (fd < 0 || fstat(fd, &st) < 0)
		return msb__error(MSB_ESYS, errno, "open `%s`: %s", path,
				  strerror(errno));
	if ((uint64_t)st.st_size > max)
		return msb__error(MSB_EPROTO, 0,
				  "blob `%s` is larger than %zu bytes", digest,
				  max);
	msb_buf_reset(out);
	if (msb_buf_reserve(out, (size_t)st.st_size + 1) < 0)
		return oom();
	n = read_all(fd, out->data, (size_t)st.st_size);
	if (n < 0)
		return msb__error(MSB_ESYS, errno, "read `%s`: %s", path,
				  strerror(errno));
	out->len = (size_t)n;
	rc = msb__verifier_new(&v, digest, NULL);
	if (rc == 0)
		rc = msb__verifier_update(v, out->data, out->len);
	if (rc == 0 && msb__verifier_finish(v) < 0)
		rc = msb__error(
			MSB_EPROTO, 0,
			"blob `%s` in the store is corrupt: delete `%s`",
			digest, path);
	msb__verifier_free(v);
	if (rc < 0)
		msb_buf_reset(out);
	return rc;
}
