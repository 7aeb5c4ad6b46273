// SPDX-License-Identifier: Apache-2.0
/*
 * Integration tests of the registry client and the content store against
 * live registries (started by run.sh: anonymous, htpasswd, token; their
 * addresses in REG_* variables) and against a fake registry run here (a
 * forked HTTP server with counters in shared memory) for what a real one
 * will not do: wrong bytes, stalls, a download killed half-way and
 * resumed, Range ignored, 503, two processes fetching one blob, redirects
 * to another host that must not carry Authorization.
 *
 *   test_registry            fake-registry cases, plus the live ones when
 *                            REG_NOAUTH, REG_BASIC, REG_TOKEN are set
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "../unit/check.h"
#include "lib/image/oci.h"
#include "lib/image/ref.h"
#include "lib/image/registry.h"
#include "lib/image/store.h"
#include "lib/internal.h"

static char home[256];
static struct msb_store store;

static bool has(const char *hay, const char *needle)
{
	return hay && strstr(hay, needle);
}

static const char *lasterr(void)
{
	return msb_last_error()->message;
}

static double now_s(void)
{
	return now_us() / 1e6;
}

static void sha256_hex(char out[72], const void *p, size_t n)
{
	unsigned char h[32];

	EVP_Digest(p, n, h, NULL, EVP_sha256(), NULL);
	strcpy(out, "sha256:");
	for (int i = 0; i < 32; i++)
		sprintf(out + 7 + 2 * i, "%02x", h[i]);
}

static int count_dir(const char *sub)
{
	char p[512];
	struct dirent *e;
	int n = 0;

	snprintf(p, sizeof(p), "%s/images/blobs/%s", home, sub);
	DIR *dir = opendir(p);
	while (dir && (e = readdir(dir)))
		if (e->d_name[0] != '.')
			n++;
	if (dir)
		closedir(dir);
	return n;
}

static void remove_blob(const char *digest)
{
	char *p = msb_store_blob_path(&store, digest);
	unlink(p);
	free(p);
}

static const struct msb_registry_opts opts_default = {
	.docker_config = "/nonexistent/config.json",
	.timeout_s = 10,
};

static int open_reg(struct msb_registry **r, const char *ref,
		    const struct msb_registry_opts *o)
{
	struct msb_ref rf;
	int rc = msb_ref_parse(&rf, ref);

	*r = NULL;
	if (rc < 0)
		return rc;
	rc = msb_registry_open(r, &rf, o ? o : &opts_default);
	msb_ref_clear(&rf);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Pull through a live registry                                        */

struct pulled {
	char *digest; /* manifest */
	char *ctype;
	char *layer_type; /* of the first layer */
	int nblobs;       /* config + layers fetched */
};

static void pulled_clear(struct pulled *p)
{
	free(p->digest);
	free(p->ctype);
	free(p->layer_type);
	memset(p, 0, sizeof(*p));
}

static int fetch_desc(struct msb_registry *r, json_t *desc, const char *diff_id)
{
	struct msb_descriptor d = {0};

	d.digest = (char *)json_string_value(json_object_get(desc, "digest"));
	d.size = json_integer_value(json_object_get(desc, "size"));
	if (!d.digest)
		return -MSB_EPROTO;
	return msb_store_fetch(&store, r, &d, diff_id, NULL, NULL);
}

/* Manifest, config, and each layer checked against its diff_id. */
static int pull(struct msb_registry *r, const char *reference,
		struct pulled *out)
{
	struct msb_buf body = {0}, cfg = {0};
	json_t *m = NULL, *c = NULL, *layers, *diffs;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = msb_registry_manifest(r, reference, &body, &out->ctype,
				   &out->digest);
	if (rc < 0)
		goto out;
	m = json_loadb((char *)body.data, body.len, 0, NULL);
	layers = json_object_get(m, "layers");
	rc = fetch_desc(r, json_object_get(m, "config"), NULL);
	if (rc < 0)
		goto out;
	out->nblobs++;
	rc = msb_store_read(&store,
			    json_string_value(json_object_get(
				    json_object_get(m, "config"), "digest")),
			    MSB_OCI_DOC_MAX, &cfg);
	if (rc < 0)
		goto out;
	c = json_loadb((char *)cfg.data, cfg.len, 0, NULL);
	diffs = json_object_get(json_object_get(c, "rootfs"), "diff_ids");
	for (size_t i = 0; i < json_array_size(layers); i++) {
		json_t *l = json_array_get(layers, i);
		if (!i)
			out->layer_type = strdup(json_string_value(
				json_object_get(l, "mediaType")));
		rc = fetch_desc(r, l,
				json_string_value(json_array_get(diffs, i)));
		if (rc < 0)
			goto out;
		out->nblobs++;
	}
out:
	json_decref(m);
	json_decref(c);
	msb_buf_free(&body);
	msb_buf_free(&cfg);
	return rc;
}

static int count_lines(const char *path)
{
	FILE *f = fopen(path, "re");
	int n = 0, ch;

	while (f && (ch = fgetc(f)) != EOF)
		n += ch == '\n';
	if (f)
		fclose(f);
	return n;
}

static void test_anonymous(const char *reg)
{
	struct msb_registry *r;
	struct pulled p;
	char ref[300];
	struct msb_buf b = {0};
	char *ct = NULL, *dg = NULL;

	snprintf(ref, sizeof(ref), "%s/small:1", reg);
	CHECK(open_reg(&r, ref, NULL) == 0);
	CHECK(pull(r, "1", &p) == 0);
	CHECK(p.nblobs == 2);
	CHECK_STR(p.ctype, MSB_MT_OCI_MANIFEST);
	CHECK(has(p.layer_type, "gzip"));
	CHECK(count_dir("tmp") == 0);

	/* by digest: the same document; a wrong digest is unknown */
	CHECK(msb_registry_manifest(r, p.digest, &b, &ct, &dg) == 0);
	CHECK_STR(dg, p.digest);
	free(ct);
	free(dg);
	char none[72];
	sha256_hex(none, "none", 4);
	CHECK(msb_registry_manifest(r, none, &b, &ct, &dg) == -MSB_ENOTFOUND);
	/* missing tag and blob */
	CHECK(msb_registry_manifest(r, "2", &b, &ct, &dg) == -MSB_ENOTFOUND);
	CHECK(has(lasterr(), "manifest `2` unknown (404)"));
	struct msb_descriptor d = {.digest = none, .size = 4};
	CHECK(msb_store_fetch(&store, r, &d, NULL, NULL, NULL) ==
	      -MSB_ENOTFOUND);
	CHECK(has(lasterr(), "unknown (404)") && has(lasterr(), none));
	CHECK(count_dir("tmp") == 0);
	/* invalid references never reach the network */
	CHECK(msb_registry_manifest(r, "../x", &b, &ct, &dg) == -MSB_EINVAL);
	CHECK(msb_registry_manifest(r, "sha256:12", &b, &ct, &dg) ==
	      -MSB_EINVAL);
	pulled_clear(&p);
	msb_registry_free(r);

	/* a missing image: 404 naming it */
	snprintf(ref, sizeof(ref), "%s/nosuch:1", reg);
	CHECK(open_reg(&r, ref, NULL) == 0);
	CHECK(msb_registry_manifest(r, "1", &b, &ct, &dg) == -MSB_ENOTFOUND);
	char want[400];
	snprintf(want, sizeof(want), "pull `%s`: manifest unknown (404)", ref);
	CHECK_STR(lasterr(), want);
	msb_registry_free(r);

	/* a zstd layer */
	snprintf(ref, sizeof(ref), "%s/zstd:1", reg);
	CHECK(open_reg(&r, ref, NULL) == 0);
	CHECK(pull(r, "1", &p) == 0);
	CHECK(has(p.layer_type, "zstd"));
	pulled_clear(&p);
	msb_registry_free(r);
	msb_buf_free(&b);
}

static void write_text(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "we");

	CHECK(f != NULL);
	if (!f)
		return;
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

static void test_basic(const char *reg, const char *user, const char *pass)
{
	struct msb_registry_opts o = opts_default;
	struct msb_registry *r;
	struct msb_buf b = {0};
	struct pulled p;
	char ref[300], path[512], text[1024], bindir[300];
	char *ct = NULL, *dg = NULL;

	snprintf(ref, sizeof(ref), "%s/small:1", reg);
	o.username = user;
	o.password = pass;
	CHECK(open_reg(&r, ref, &o) == 0);
	CHECK(pull(r, "1", &p) == 0);
	CHECK(p.nblobs == 2);
	pulled_clear(&p);
	msb_registry_free(r);

	/* wrong password: a clear error */
	o.password = "wrong";
	CHECK(open_reg(&r, ref, &o) == 0);
	CHECK(msb_registry_manifest(r, "1", &b, &ct, &dg) == -MSB_EAUTH);
	char want[400];
	snprintf(
		want, sizeof(want),
		"pull `%s`: authentication failed (401): check the user name and password",
		ref);
	CHECK_STR(lasterr(), want);
	msb_registry_free(r);

	/* no credentials at all */
	CHECK(open_reg(&r, ref, NULL) == 0);
	CHECK(msb_registry_manifest(r, "1", &b, &ct, &dg) == -MSB_EAUTH);
	CHECK(has(lasterr(), "authentication required (401)"));
	msb_registry_free(r);

	/* from a Docker config: auths */
	char up[200], b64[300];
	snprintf(up, sizeof(up), "%s:%s", user, pass);
	EVP_EncodeBlock((unsigned char *)b64, (unsigned char *)up,
			(int)strlen(up));
	snprintf(path, sizeof(path), "%s/config.json", home);
	snprintf(text, sizeof(text),
		 "{\"auths\":{\"http://%s\":{\"auth\":\"%s\"}}}", reg, b64);
	write_text(path, text, 0600);
	o = opts_default;
	o.docker_config = path;
	CHECK(open_reg(&r, ref, &o) == 0);
	CHECK(msb_registry_manifest(r, "1", &b, &ct, &dg) == 0);
	free(ct);
	free(dg);
	msb_registry_free(r);

	/* a credential helper on PATH */
	snprintf(bindir, sizeof(bindir), "%s/bin", home);
	mkdir(bindir, 0755);
	snprintf(path, sizeof(path), "%s/docker-credential-msbtest", bindir);
	snprintf(text, sizeof(text),
		 "#!/bin/sh\nread url\n"
		 "if [ \"$url\" = \"%s\" ]; then\n"
		 "  echo '{\"ServerURL\":\"%s\",\"Username\":\"%s\","
		 "\"Secret\":\"%s\"}'\n  exit 0\nfi\n"
		 "echo 'credentials not found in native keychain'\nexit 1\n",
		 reg, reg, user, pass);
	write_text(path, text, 0755);
	snprintf(path, sizeof(path), "%s/docker-credential-msbhang", bindir);
	write_text(path, "#!/bin/sh\nexec sleep 30\n", 0755);
	char *old = getenv("PATH") ? strdup(getenv("PATH")) : strdup("");
	snprintf(text, sizeof(text), "%s:%s", bindir, old);
	setenv("PATH", text, 1);

	snprintf(path, sizeof(path), "%s/config.json", home);
	snprintf(text, sizeof(text),
		 "{\"auths\":{\"%s\":{}},\"credHelpers\":{\"%s\":\"msbtest\"}}",
		 reg, reg);
	write_text(path, text, 0600);
	CHECK(open_reg(&r, ref, &o) == 0);
	CHECK(msb_registry_manifest(r, "1", &b, &ct, &dg) == 0);
	free(ct);
	free(dg);
	msb_registry_free(r);
	/* the helper has nothing for this registry: anonymous, refused */
	snprintf(text, sizeof(text), "{\"credsStore\":\"msbtest\"}");
	write_text(path, text, 0600);
	snprintf(ref, sizeof(ref), "localhost:%s/small:1",
		 strchr(reg, ':') + 1);
	CHECK(open_reg(&r, ref, &o) == 0);
	CHECK(msb_registry_manifest(r, "1", &b, &ct, &dg) == -MSB_EAUTH);
	CHECK(has(lasterr(), "authentication required"));
	msb_registry_free(r);
	snprintf(ref, sizeof(ref), "%s/small:1", reg);
	/* a helper that hangs is killed after the timeout */
	write_text(path, "{\"credsStore\":\"msbhang\"}", 0600);
	o.timeout_s = 1;
	double t0 = now_s();
	CHECK(open_reg(&r, ref, &o) == 0);
	CHECK(msb_registry_manifest(r, "1", &b, &ct, &dg) == -MSB_ETIMEDOUT);
	CHECK(has(lasterr(), "docker-credential-msbhang"));
	CHECK(now_s() - t0 < 3);
	msb_registry_free(r);
	/* a helper that is not installed */
	write_text(path, "{\"credsStore\":\"msbmissing\"}", 0600);
	CHECK(open_reg(&r, ref, &o) == 0);
	CHECK(msb_registry_manifest(r, "1", &b, &ct, &dg) == -MSB_ENOTFOUND);
	CHECK(has(lasterr(), "not installed"));
	msb_registry_free(r);
	setenv("PATH", old, 1);
	free(old);
	msb_buf_free(&b);
}

struct blob_thread {
	struct msb_registry *r;
	const char *digest;
	size_t got;
	int rc;
};

static int count_sink(const void *buf, size_t len, void *ud)
{
	(void)buf;
	((struct blob_thread *)ud)->got += len;
	return 0;
}

static void *blob_thread(void *p)
{
	struct blob_thread *t = p;

	t->rc = msb_registry_blob(t->r, t->digest, 0, count_sink, NULL, t);
	return NULL;
}

static void test_token(const char *reg, const char *user, const char *pass,
		       const char *log)
{
	struct msb_registry_opts o = opts_default;
	struct msb_registry *r;
	struct msb_buf b = {0};
	struct pulled p;
	char ref[300];
	char *ct = NULL, *dg = NULL;

	snprintf(ref, sizeof(ref), "%s/small:1", reg);
	o.username = user;
	o.password = pass;
	int before = count_lines(log);
	CHECK(open_reg(&r, ref, &o) == 0);
	CHECK(pull(r, "1", &p) == 0);
	CHECK(p.nblobs == 2);
	/* manifest, config and layer with one token */
	CHECK(count_lines(log) == before + 1);
	/* the blobs again, in four threads at once: still no new token */
	char *layer_digest = NULL;
	{
		json_t *m;
		CHECK(msb_registry_manifest(r, "1", &b, &ct, &dg) == 0);
		m = json_loadb((char *)b.data, b.len, 0, NULL);
		layer_digest = strdup(json_string_value(json_object_get(
			json_array_get(json_object_get(m, "layers"), 0),
			"digest")));
		json_decref(m);
		free(ct);
		free(dg);
	}
	CHECK(count_lines(log) == before + 1);
	pulled_clear(&p);
	msb_registry_free(r);

	/* a new handle, four threads racing for the first token: one */
	before = count_lines(log);
	CHECK(open_reg(&r, ref, &o) == 0);
	struct blob_thread t[4];
	pthread_t th[4];
	for (int i = 0; i < 4; i++) {
		t[i] = (struct blob_thread){r, layer_digest, 0, -1};
		pthread_create(&th[i], NULL, blob_thread, &t[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CHECK(t[i].rc == 0 && t[i].got > 0);
	}
	CHECK(count_lines(log) == before + 1);
	msb_registry_free(r);
	free(layer_digest);

	/* wrong password: the token server says 401 */
	o.password = "wrong";
	CHECK(open_reg(&r, ref, &o) == 0);
	CHECK(msb_registry_manifest(r, "1", &b, &ct, &dg) == -MSB_EAUTH);
	char want[400];
	snprintf(
		want, sizeof(want),
		"pull `%s`: authentication failed (401): check the user name and password",
		ref);
	CHECK_STR(lasterr(), want);
	msb_registry_free(r);

	/* anonymous: a token without rights, then 401 */
	CHECK(open_reg(&r, ref, NULL) == 0);
	CHECK(msb_registry_manifest(r, "1", &b, &ct, &dg) == -MSB_EAUTH);
	CHECK(has(lasterr(), "authentication required (401)"));
	msb_registry_free(r);
	msb_buf_free(&b);
}

/* ------------------------------------------------------------------ */
/* The fake registry                                                   */

enum fake_mode {
	M_OK,         /* Range honoured */
	M_NORANGE,    /* always 200 from byte 0 */
	M_BAD,        /* one byte wrong */
	M_STALL,      /* half the body, then nothing */
	M_STALL_HEAD, /* no answer at all */
	M_503_ONCE,   /* 503 first, then fine */
	M_SLOW,       /* 64 KiB every 20 ms */
	M_REDIR_HOST, /* 307 to localhost, same port */
	M_REDIR_PORT, /* 307 to 127.0.0.1, the other port */
	M_REDIR_SAME, /* 307 to the same host and port (control) */
};

#define FAKE_BLOB (1u << 20)
#define STALL_MAX_S 5.5

struct fake {
	int mode;
	int auth; /* 0 none, 1 Basic, 2 Bearer, 3 Bearer never satisfied */
	int port, port2;
	int blob_gets; /* on /v2/.../blobs/ */
	int token_gets;
	int redir_gets;       /* on /redirected/ */
	int redir_auth;       /* ...of which carried Authorization */
	int blob_auth;        /* blob requests with Authorization */
	long long last_range; /* -1: none */
	long long sent;       /* body bytes of the last blob answer */
	int accept_all;       /* manifest GETs accepting all 4 types */
	char digest[72];
	uint8_t blob[FAKE_BLOB];
};

static struct fake *fk;
static pid_t fake_pid = -1;

static void send_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
		if (w <= 0)
			_exit(0);
		c += w;
		n -= (size_t)w;
	}
}

static void reply(int fd, const char *status, const char *extra,
		  const void *body, size_t n)
{
	char head[1024];
	int k = snprintf(head, sizeof(head),
			 "HTTP/1.1 %s\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n%s\r\n",
			 status, n, extra);
	send_all(fd, head, (size_t)k);
	if (n)
		send_all(fd, body, n);
}

static void serve_blob(int fd, int mode, long long range)
{
	uint8_t *data = fk->blob;
	size_t n = FAKE_BLOB, from = 0;
	char extra[256] = "";

	if (mode == M_BAD) {
		data = malloc(n);
		memcpy(data, fk->blob, n);
		data[n / 2] ^= 1;
	}
	if (range >= 0 && mode != M_NORANGE && (size_t)range < n) {
		from = (size_t)range;
		snprintf(extra, sizeof(extra),
			 "Content-Range: bytes %zu-%zu/%zu\r\n", from, n - 1,
			 n);
	}
	char head[512];
	int k = snprintf(head, sizeof(head),
			 "HTTP/1.1 %s\r\nContent-Length: %zu\r\n"
			 "Content-Type: application/octet-stream\r\n"
			 "Connection: close\r\n%s\r\n",
			 from ? "206 Partial Content" : "200 OK", n - from,
			 extra);
	send_all(fd, head, (size_t)k);
	if (mode == M_STALL) {
		/* half of what was asked for */
		send_all(fd, data + from, (n - from) / 2);
		__atomic_store_n(&fk->sent, (long long)(n - from) / 2,
				 __ATOMIC_SEQ_CST);
		sleep(60);
		_exit(0);
	}
	if (mode == M_SLOW) {
		for (size_t off = from; off < n; off += 65536) {
			send_all(fd, data + off,
				 n - off < 65536 ? n - off : 65536);
			usleep(20000);
		}
	} else {
		send_all(fd, data + from, n - from);
	}
	__atomic_store_n(&fk->sent, (long long)(n - from), __ATOMIC_SEQ_CST);
}

/* manifests/big: one byte too many; any other: a small document (which
 * matches no digest asked for but its own). */
static void fake_manifest(int fd, const char *req, const char *path)
{
	static const char *const types[] = {
		MSB_MT_OCI_MANIFEST, MSB_MT_OCI_INDEX, MSB_MT_DOCKER_MANIFEST,
		MSB_MT_DOCKER_LIST};
	const char *accept = strcasestr(req, "\r\nAccept:");
	const char *eol = accept ? strstr(accept + 2, "\r\n") : NULL;
	int all = accept && eol ? 1 : 0;

	for (size_t i = 0; all && i < ARRAY_SIZE(types); i++) {
		const char *t = strstr(accept, types[i]);
		all = t && t < eol;
	}
	__atomic_add_fetch(&fk->accept_all, all, __ATOMIC_SEQ_CST);
	if (strstr(path, "/manifests/big")) {
		size_t n = MSB_OCI_DOC_MAX + 1;
		char *big = malloc(n);
		memset(big, ' ', n);
		reply(fd, "200 OK", "Content-Type: " MSB_MT_OCI_MANIFEST "\r\n",
		      big, n);
		free(big);
		return;
	}
	const char *doc = "{\"schemaVersion\":2}";
	reply(fd, "200 OK",
	      "Content-Type: " MSB_MT_DOCKER_MANIFEST "; charset=utf-8\r\n",
	      doc, strlen(doc));
}

static void handle(int fd, int local_port)
{
	char req[16384];
	size_t got = 0;

	while (got < sizeof(req) - 1) {
		ssize_t r = recv(fd, req + got, sizeof(req) - 1 - got, 0);
		if (r <= 0)
			return;
		got += (size_t)r;
		req[got] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	bool auth = strcasestr(req, "\r\nAuthorization:") != NULL;
	const char *rg = strcasestr(req, "\r\nRange: bytes=");
	long long range = rg ? atoll(rg + 15) : -1;
	char path[1024] = "";
	sscanf(req, "GET %1023s", path);

	if (!strncmp(path, "/token", 6)) {
		__atomic_add_fetch(&fk->token_gets, 1, __ATOMIC_SEQ_CST);
		const char *t = "{\"token\":\"fake-token\",\"expires_in\":300}";
		reply(fd, "200 OK", "Content-Type: application/json\r\n", t,
		      strlen(t));
		return;
	}
	if (!strncmp(path, "/redirected/", 12)) {
		__atomic_add_fetch(&fk->redir_gets, 1, __ATOMIC_SEQ_CST);
		if (auth)
			__atomic_add_fetch(&fk->redir_auth, 1,
					   __ATOMIC_SEQ_CST);
		serve_blob(fd, M_OK, range);
		return;
	}
	if (strstr(path, "/manifests/")) {
		fake_manifest(fd, req, path);
		return;
	}
	if (!strstr(path, "/blobs/")) {
		reply(fd, "404 Not Found", "", NULL, 0);
		return;
	}
	int n = __atomic_add_fetch(&fk->blob_gets, 1, __ATOMIC_SEQ_CST);
	if (auth)
		__atomic_add_fetch(&fk->blob_auth, 1, __ATOMIC_SEQ_CST);
	fk->last_range = range;
	if (fk->auth && (!auth || fk->auth == 3)) {
		char ch[512];
		if (fk->auth == 1)
			snprintf(ch, sizeof(ch),
				 "WWW-Authenticate: Basic realm=\"fake\"\r\n");
		else
			snprintf(
				ch, sizeof(ch),
				"WWW-Authenticate: Bearer realm=\"http://127.0.0.1:%d/token\","
				"service=\"fake\",scope=\"repository:test/blob:pull\"\r\n",
				fk->port);
		reply(fd, "401 Unauthorized", ch, NULL, 0);
		return;
	}
	int mode = fk->mode;
	if (mode == M_REDIR_HOST || mode == M_REDIR_PORT ||
	    mode == M_REDIR_SAME) {
		char loc[512];
		snprintf(loc, sizeof(loc),
			 "Location: http://%s:%d/redirected/%s\r\n",
			 mode == M_REDIR_HOST ? "localhost" : "127.0.0.1",
			 mode == M_REDIR_PORT ? fk->port2 : local_port,
			 fk->digest);
		reply(fd, "307 Temporary Redirect", loc, NULL, 0);
		return;
	}
	if (mode == M_STALL_HEAD) {
		sleep(60);
		_exit(0);
	}
	if (mode == M_503_ONCE && n == 1) {
		reply(fd, "503 Service Unavailable", "", NULL, 0);
		return;
	}
	serve_blob(fd, mode, range);
}

static int listen_any(int *port)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);

	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(s, 64) < 0 ||
	    getsockname(s, (struct sockaddr *)&a, &len) < 0)
		return -1;
	*port = ntohs(a.sin_port);
	return s;
}

static int fake_start(void)
{
	int l1, l2;

	fk = mmap(NULL, sizeof(*fk), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (fk == MAP_FAILED)
		return -1;
	memset(fk, 0, sizeof(*fk));
	uint32_t x = 7;
	for (size_t i = 0; i < FAKE_BLOB; i++) {
		x = x * 1664525 + 1013904223;
		fk->blob[i] = (uint8_t)(x >> 24);
	}
	sha256_hex(fk->digest, fk->blob, FAKE_BLOB);
	l1 = listen_any(&fk->port);
	l2 = listen_any(&fk->port2);
	if (l1 < 0 || l2 < 0)
		return -1;
	pid_t parent = getpid();
	fake_pid = fork();
	if (fake_pid < 0)
		return -1;
	if (fake_pid == 0) {
		/* gone with the test, and its handlers with it */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		signal(SIGCHLD, SIG_IGN);
		for (;;) {
			struct pollfd p[2] = {{.fd = l1, .events = POLLIN},
					      {.fd = l2, .events = POLLIN}};
			if (poll(p, 2, -1) < 0)
				continue;
			for (int i = 0; i < 2; i++) {
				if (!(p[i].revents & POLLIN))
					continue;
				int c = accept4(p[i].fd, NULL, NULL,
						SOCK_CLOEXEC);
				if (c < 0)
					continue;
				if (fork() == 0) {
					prctl(PR_SET_PDEATHSIG, SIGKILL);
					handle(c, i ? fk->port2 : fk->port);
					_exit(0);
				}
				close(c);
			}
		}
	}
	close(l1);
	close(l2);
	return 0;
}

static void fake_stop(void)
{
	if (fake_pid > 0) {
		/* its connection handlers die with it (PDEATHSIG) */
		kill(fake_pid, SIGKILL);
		waitpid(fake_pid, NULL, 0);
		fake_pid = -1;
	}
}

static void fake_reset(int mode, int auth)
{
	fk->mode = mode;
	fk->auth = auth;
	fk->blob_gets = fk->token_gets = fk->redir_gets = 0;
	fk->redir_auth = fk->blob_auth = 0;
	fk->last_range = -1;
	fk->sent = 0;
	fk->accept_all = 0;
}

static int fake_fetch(const struct msb_registry_opts *o)
{
	struct msb_registry *r;
	struct msb_descriptor d = {.digest = fk->digest, .size = FAKE_BLOB};
	char ref[64];
	int rc;

	snprintf(ref, sizeof(ref), "127.0.0.1:%d/test/blob:1", fk->port);
	rc = open_reg(&r, ref, o);
	if (rc == 0)
		rc = msb_store_fetch(&store, r, &d, NULL, NULL, NULL);
	msb_registry_free(r);
	return rc;
}

static off_t partial_size(void)
{
	char p[512];
	struct stat st;

	snprintf(p, sizeof(p), "%s/images/blobs/tmp/%s.partial", home,
		 fk->digest + 7);
	return stat(p, &st) == 0 ? st.st_size : -1;
}

static void test_fake(void)
{
	struct msb_registry_opts o = opts_default;
	int blobs = count_dir("sha256");

	/* fine */
	fake_reset(M_OK, 0);
	CHECK(fake_fetch(NULL) == 0);
	CHECK(msb_store_has_blob(&store, fk->digest));
	CHECK(fk->blob_gets == 1 && fk->last_range == -1);
	remove_blob(fk->digest);

	/* manifests: Accept, Content-Type, digest, size limit */
	{
		struct msb_registry *r;
		struct msb_buf b = {0};
		char ref[64], *ct = NULL, *dg = NULL, want[72];

		snprintf(ref, sizeof(ref), "127.0.0.1:%d/test/blob:ok",
			 fk->port);
		CHECK(open_reg(&r, ref, NULL) == 0);
		CHECK(msb_registry_manifest(r, "ok", &b, &ct, &dg) == 0);
		sha256_hex(want, "{\"schemaVersion\":2}", 19);
		CHECK_STR(dg, want);
		CHECK_STR(ct, MSB_MT_DOCKER_MANIFEST "; charset=utf-8");
		CHECK(b.len == 19);
		free(ct);
		free(dg);
		CHECK(msb_registry_manifest(r, want, &b, &ct, &dg) == 0);
		free(ct);
		free(dg);
		sha256_hex(want, "other", 5);
		CHECK(msb_registry_manifest(r, want, &b, &ct, &dg) ==
		      -MSB_EPROTO);
		CHECK(has(lasterr(), "does not match its digest"));
		CHECK(msb_registry_manifest(r, "big", &b, &ct, &dg) ==
		      -MSB_EPROTO);
		CHECK(has(lasterr(), "larger than"));
		CHECK(fk->accept_all == 4);
		msb_registry_free(r);
		msb_buf_free(&b);
	}

	/* wrong bytes: an error, nothing in blobs/ or tmp/ */
	fake_reset(M_BAD, 0);
	CHECK(fake_fetch(NULL) == -MSB_EPROTO);
	CHECK(has(lasterr(), "does not match its digest"));
	CHECK(count_dir("sha256") == blobs && count_dir("tmp") == 0);

	/* 503 once: retried */
	fake_reset(M_503_ONCE, 0);
	CHECK(fake_fetch(NULL) == 0);
	CHECK(fk->blob_gets == 2);
	remove_blob(fk->digest);

	/* stalls: a timeout error within the configured time: 1 s without
	 * data (noticed within a second more) per attempt, 2 attempts,
	 * 200 ms between */
	o.timeout_s = 1;
	o.retries = 1;
	fake_reset(M_STALL_HEAD, 0);
	double t0 = now_s();
	CHECK(fake_fetch(&o) == -MSB_ETIMEDOUT);
	double dt = now_s() - t0;
	printf("stall before headers: timed out after %.1f s\n", dt);
	CHECK(dt >= 1.0 && dt < STALL_MAX_S);
	CHECK(has(lasterr(), "timed out"));
	CHECK(fk->blob_gets == 2);
	fake_reset(M_STALL, 0);
	t0 = now_s();
	CHECK(fake_fetch(&o) == -MSB_ETIMEDOUT);
	dt = now_s() - t0;
	printf("stall in the body: timed out after %.1f s\n", dt);
	CHECK(dt >= 1.0 && dt < STALL_MAX_S);
	/* the second attempt resumed where the first stopped */
	CHECK(fk->blob_gets == 2 && fk->last_range == FAKE_BLOB / 2);
	/* the partial file stays; the next fetch resumes from it */
	CHECK(partial_size() == FAKE_BLOB / 2 + FAKE_BLOB / 4);
	fake_reset(M_OK, 0);
	CHECK(fake_fetch(NULL) == 0);
	CHECK(fk->last_range == FAKE_BLOB / 2 + FAKE_BLOB / 4);
	CHECK(partial_size() < 0);
	remove_blob(fk->digest);

	/* killed half-way, then resumed with Range */
	fake_reset(M_STALL, 0);
	pid_t pid = fork();
	if (pid == 0)
		_exit(fake_fetch(NULL) == 0 ? 0 : 1);
	for (int i = 0; i < 500 && partial_size() != FAKE_BLOB / 2; i++)
		usleep(10000);
	CHECK(partial_size() == FAKE_BLOB / 2);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	fake_reset(M_OK, 0);
	CHECK(fake_fetch(NULL) == 0);
	CHECK(fk->blob_gets == 1 && fk->last_range == FAKE_BLOB / 2);
	CHECK(msb_store_has_blob(&store, fk->digest));
	CHECK(count_dir("tmp") == 0);
	remove_blob(fk->digest);

	/* a partial file, and a server that ignores Range */
	char part[512];
	snprintf(part, sizeof(part), "%s/images/blobs/tmp/%s.partial", home,
		 fk->digest + 7);
	FILE *f = fopen(part, "we");
	CHECK(f && fwrite(fk->blob, 1, 1000, f) == 1000);
	if (f)
		fclose(f);
	fake_reset(M_NORANGE, 0);
	CHECK(fake_fetch(NULL) == 0);
	CHECK(fk->last_range == 1000 && fk->sent == FAKE_BLOB);
	CHECK(msb_store_has_blob(&store, fk->digest));
	remove_blob(fk->digest);

	/* two processes fetch one blob at once: downloaded once */
	fake_reset(M_SLOW, 0);
	pid_t a = fork();
	if (a == 0)
		_exit(fake_fetch(NULL) == 0 ? 0 : 1);
	pid_t b = fork();
	if (b == 0)
		_exit(fake_fetch(NULL) == 0 ? 0 : 1);
	int sa = -1, sb = -1;
	waitpid(a, &sa, 0);
	waitpid(b, &sb, 0);
	CHECK(WIFEXITED(sa) && WEXITSTATUS(sa) == 0);
	CHECK(WIFEXITED(sb) && WEXITSTATUS(sb) == 0);
	CHECK(fk->blob_gets == 1);
	CHECK(msb_store_has_blob(&store, fk->digest));
	CHECK(count_dir("tmp") == 0);
	remove_blob(fk->digest);

	/* redirects: Authorization reaches the registry, never another
	 * host or port; the same host and port get it (the control) */
	static const struct {
		int mode, auth, forwarded;
	} redirs[] = {
		{M_REDIR_HOST, 1, 0}, {M_REDIR_PORT, 1, 0},
		{M_REDIR_SAME, 1, 1}, {M_REDIR_HOST, 2, 0},
		{M_REDIR_PORT, 2, 0}, {M_REDIR_SAME, 2, 1},
	};
	o = opts_default;
	o.username = "u";
	o.password = "p";
	for (size_t i = 0; i < ARRAY_SIZE(redirs); i++) {
		fake_reset(redirs[i].mode, redirs[i].auth);
		CHECK(fake_fetch(&o) == 0);
		CHECK(fk->blob_gets == 2 && fk->blob_auth == 1);
		CHECK(fk->redir_gets == 1);
		CHECK(fk->redir_auth == redirs[i].forwarded);
		CHECK(fk->token_gets == (redirs[i].auth == 2));
		remove_blob(fk->digest);
	}

	/* the registry refuses every token: one fresh token, then a clear
	 * error */
	fake_reset(M_OK, 3);
	CHECK(fake_fetch(&o) == -MSB_EAUTH);
	CHECK(has(lasterr(), "access denied (401)"));
	CHECK(fk->token_gets == 2 && fk->blob_gets == 3);
	fake_reset(M_OK, 3);
	CHECK(fake_fetch(NULL) == -MSB_EAUTH);
	CHECK(has(lasterr(), "authentication required (401)"));
	CHECK(count_dir("tmp") == 0);

	/* one token for many requests through one handle */
	fake_reset(M_OK, 2);
	{
		struct msb_registry *r;
		struct msb_descriptor d = {.digest = fk->digest,
					   .size = FAKE_BLOB};
		char ref[64];
		snprintf(ref, sizeof(ref), "127.0.0.1:%d/test/blob:1",
			 fk->port);
		CHECK(open_reg(&r, ref, NULL) == 0);
		for (int i = 0; i < 3; i++) {
			CHECK(msb_store_fetch(&store, r, &d, NULL, NULL,
					      NULL) == 0);
			remove_blob(fk->digest);
		}
		msb_registry_free(r);
	}
	CHECK(fk->token_gets == 1);
	CHECK(fk->blob_gets == 4); /* one 401, then three with the token */
}

static int rm_entry(const char *p, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	chmod(p, 0700);
	return remove(p);
}

int main(void)
{
	const char *noauth = getenv("REG_NOAUTH"), *basic = getenv("REG_BASIC");
	const char *token = getenv("REG_TOKEN"), *user = getenv("REG_USER");
	const char *pass = getenv("REG_PASS"), *log = getenv("TOKEN_LOG");

	signal(SIGPIPE, SIG_IGN);
	const char *tmp = getenv("TMPDIR");
	snprintf(home, sizeof(home), "%s/msb-test-registry-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(home) || msb_store_open(&store, home) < 0) {
		perror("setup");
		return 1;
	}
	if (fake_start() < 0) {
		perror("fake registry");
		return 1;
	}
	double t0 = now_s();
	test_fake();
	fake_stop();
	printf("fake registry cases: %.1f s\n", now_s() - t0);
	if (noauth && basic && token && user && pass && log) {
		t0 = now_s();
		test_anonymous(noauth);
		printf("anonymous cases: %.1f s\n", now_s() - t0);
		t0 = now_s();
		test_basic(basic, user, pass);
		printf("basic auth cases: %.1f s\n", now_s() - t0);
		t0 = now_s();
		test_token(token, user, pass, log);
		printf("token auth cases: %.1f s\n", now_s() - t0);
	} else {
		printf("REG_* not set: live registry cases skipped\n");
	}
	msb_store_close(&store);
	nftw(home, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return check_summary("registry");
}
