// SPDX-License-Identifier: Apache-2.0
/*
 * The sandbox CA in the guest's trust stores (docs/network.md, "TLS
 * interception": the guest side).
 *
 * DOC: Installing the CA
 *
 * A hello with "ca" (a sandbox with secrets or --tls-intercept) makes the
 * guest trust the sandbox's own CA, at every boot (a template restore
 * too), idempotently:
 *
 * - /etc/ssl/certs/msb-ca.pem: the CA alone (NODE_EXTRA_CA_CERTS);
 * - the image's bundles that exist (Debian/Alpine
 *   /etc/ssl/certs/ca-certificates.crt, RHEL
 *   /etc/pki/tls/certs/ca-bundle.crt, /etc/ssl/cert.pem; links followed)
 *   get the CA between two marker lines, replaced rather than appended
 *   again on the next boot;
 * - /etc/ssl/certs/msb-bundle.pem: the first such bundle with the CA (or
 *   the CA alone in an image without one, e.g. busybox), for
 *   SSL_CERT_FILE, REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE;
 * - anchors where the image's tools look for local CAs, when the folder
 *   exists (/usr/local/share/ca-certificates/msb-ca.crt,
 *   /etc/pki/ca-trust/source/anchors/msb-ca.pem), so that a later
 *   update-ca-certificates or update-ca-trust keeps it.
 *
 * Files are written to a temporary name and renamed. A read-only root or
 * any other failure is logged and the boot goes on; the variables are
 * set only for the files that were written.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"

#define CERTS_DIR "/etc/ssl/certs"
#define CA_FILE CERTS_DIR "/msb-ca.pem"
#define BUNDLE_FILE CERTS_DIR "/msb-bundle.pem"
#define MARK_BEGIN "# BEGIN microsandbox sandbox CA (managed by msb-agent)\n"
#define MARK_END "# END microsandbox sandbox CA\n"
#define BUNDLE_MAX (8u << 20)

/* Write @n bytes to @path (mode 0644) through a temporary name. */
static int write_file(const char *path, const char *data, size_t n)
{
	char tmp[PATH_MAX];

	if (snprintf(tmp, sizeof(tmp), "%s.msb-tmp", path) >= (int)sizeof(tmp))
		return -1;
	unlink(tmp);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		      0644);
	if (fd < 0)
		return -1;
	if (fchmod(fd, 0644) < 0 || write_all(fd, data, n) < 0 ||
	    fsync(fd) < 0 || rename(tmp, path) < 0) {
		int e = errno;
		close(fd);
		unlink(tmp);
		errno = e;
		return -1;
	}
	return close(fd);
}

/* The file @path (at most BUNDLE_MAX bytes) into @b. */
static int read_file(const char *path, struct msb_buf *b)
{
	char chunk[16384];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		if (b->len + (size_t)n > BUNDLE_MAX ||
		    msb_buf_append(b, chunk, (size_t)n) < 0) {
			close(fd);
			errno = EFBIG;
			return -1;
		}
	}
	int e = errno;
	close(fd);
	errno = e;
	return n < 0 ? -1 : 0;
}

/* @b without our marked block (if any), then the block for @pem. */
static int with_block(struct msb_buf *out, const struct msb_buf *b,
		      const char *block, size_t blen)
{
	const char *p = (const char *)msb_buf_head(b);
	size_t n = msb_buf_avail(b);
	const char *s = memmem(p, n, MARK_BEGIN, strlen(MARK_BEGIN));
	const char *e =
		s ? memmem(s, n - (size_t)(s - p), MARK_END, strlen(MARK_END))
		  : NULL;
	size_t head = s ? (size_t)(s - p) : n;
	size_t tail_off = e ? (size_t)(e - p) + strlen(MARK_END) : n;

	if (msb_buf_append(out, p, head) < 0)
		return -1;
	if (head && p[head - 1] != '\n' && msb_buf_append(out, "\n", 1) < 0)
		return -1;
	if (msb_buf_append(out, block, blen) < 0)
		return -1;
	return s && e ? msb_buf_append(out, p + tail_off, n - tail_off) : 0;
}

/* mkdir -p @path (0755). */
static int mkdirs(const char *path)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
				return -1;
			*p = '/';
		}
	return mkdir(tmp, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

static bool is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int agent_ca_install(const uint8_t *pem, size_t n, char *env[4])
{
	static const char *const bundles[] = {
		"/etc/ssl/certs/ca-certificates.crt",
		"/etc/pki/tls/certs/ca-bundle.crt",
		"/etc/ssl/cert.pem",
	};
	static const struct {
		const char *dir, *file;
	} anchors[] = {
		{"/usr/local/share/ca-certificates",
		 "/usr/local/share/ca-certificates/msb-ca.crt"},
		{"/etc/pki/ca-trust/source/anchors",
		 "/etc/pki/ca-trust/source/anchors/msb-ca.pem"},
	};
	char done[ARRAY_SIZE(bundles)][PATH_MAX];
	size_t ndone = 0;
	struct msb_buf block = {0}, bundle = {0};
	bool have_bundle = false;
	int rc = -1;

	memset(env, 0, 4 * sizeof(char *));
	bool nl = n && pem[n - 1] == '\n';
	if (msb_buf_append(&block, MARK_BEGIN, strlen(MARK_BEGIN)) < 0 ||
	    msb_buf_append(&block, pem, n) < 0 ||
	    (!nl && msb_buf_append(&block, "\n", 1) < 0) ||
	    msb_buf_append(&block, MARK_END, strlen(MARK_END)) < 0)
		goto out;
	if (mkdirs(CERTS_DIR) < 0) {
		agent_log("TLS CA: mkdir " CERTS_DIR ": %m (read-only root?)");
		goto out;
	}
	if (write_file(CA_FILE, (const char *)pem, n) < 0) {
		agent_log("TLS CA: write " CA_FILE ": %m");
		goto out;
	}
	for (size_t i = 0; i < ARRAY_SIZE(bundles); i++) {
		char real[PATH_MAX];
		struct msb_buf old = {0}, neu = {0};
		if (!realpath(bundles[i], real))
			continue; /* not in this image */
		bool seen = false;
		for (size_t j = 0; j < ndone; j++)
			seen |= !strcmp(done[j], real);
		if (seen)
			continue;
		snprintf(done[ndone++], PATH_MAX, "%s", real);
		if (read_file(real, &old) < 0 ||
		    with_block(&neu, &old, (const char *)msb_buf_head(&block),
			       msb_buf_avail(&block)) < 0) {
			agent_log("TLS CA: read %s: %m", real);
		} else if ((old.len != neu.len ||
			    memcmp(msb_buf_head(&old), msb_buf_head(&neu),
				   neu.len)) &&
			   write_file(real, (const char *)msb_buf_head(&neu),
				      msb_buf_avail(&neu)) < 0) {
			agent_log("TLS CA: write %s: %m", real);
		}
		if (!have_bundle && neu.len) {
			/* the image's CAs and ours: the bundle we name */
			msb_buf_append(&bundle, msb_buf_head(&neu),
				       msb_buf_avail(&neu));
			have_bundle = true;
		}
		msb_buf_free(&old);
		msb_buf_free(&neu);
	}
	if (!have_bundle && msb_buf_append(&bundle, msb_buf_head(&block),
					   msb_buf_avail(&block)) < 0)
		goto out;
	if (write_file(BUNDLE_FILE, (const char *)msb_buf_head(&bundle),
		       msb_buf_avail(&bundle)) < 0) {
		agent_log("TLS CA: write " BUNDLE_FILE ": %m");
		goto out;
	}
	for (size_t i = 0; i < ARRAY_SIZE(anchors); i++)
		if (is_dir(anchors[i].dir) &&
		    write_file(anchors[i].file, (const char *)pem, n) < 0)
			agent_log("TLS CA: write %s: %m", anchors[i].file);
	env[0] = "SSL_CERT_FILE=" BUNDLE_FILE;
	env[1] = "REQUESTS_CA_BUNDLE=" BUNDLE_FILE;
	env[2] = "CURL_CA_BUNDLE=" BUNDLE_FILE;
	env[3] = "NODE_EXTRA_CA_CERTS=" CA_FILE;
	rc = 0;
out:
	msb_buf_free(&block);
	msb_buf_free(&bundle);
	return rc;
}
