// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of the download path without a network: the WWW-Authenticate
 * parser, token answers, Docker config and credential helper parsing
 * (registry.c), the streaming verifier over gzip, zstd and plain data fed
 * in every kind of split, and the content store fed by an in-memory blob
 * source: resume, servers that ignore Range, mismatches that must leave
 * nothing behind, concurrent fetches of one blob.
 */
#include <dirent.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zlib.h>
#include <zstd.h>

#include "check.h"
#include "lib/image/oci.h"
#include "lib/image/registry_internal.h"
#include "lib/image/store.h"
#include "lib/image/store_internal.h"
#include "lib/internal.h"

#define STR(s) (const uint8_t *)(s), strlen(s)

static bool has(const char *hay, const char *needle)
{
	return hay && strstr(hay, needle);
}

static const char *lasterr(void)
{
	return msb_last_error()->message;
}

/* ------------------------------------------------------------------ */
/* WWW-Authenticate                                                    */

/* Parse a copy without the NUL, so that ASan sees any read past @len. */
static int chal(struct msb_challenge *c, const char *s)
{
	size_t n = strlen(s);
	char *copy = malloc(n ? n : 1);
	int rc;

	memcpy(copy, s, n);
	rc = msb__challenge_parse(c, copy, n);
	free(copy);
	return rc;
}

static void test_challenge(void)
{
	struct msb_challenge c;

	CHECK(chal(&c, "Bearer realm=\"https://auth.docker.io/token\","
		       "service=\"registry.docker.io\","
		       "scope=\"repository:library/alpine:pull\"") == 0);
	CHECK(c.scheme == MSB_AUTH_BEARER);
	CHECK_STR(c.realm, "https://auth.docker.io/token");
	CHECK_STR(c.service, "registry.docker.io");
	CHECK_STR(c.scope, "repository:library/alpine:pull");

	/* case, blanks around '=', token values, unknown parameters */
	CHECK(chal(&c, "bEaReR  Realm = https://r/t , error=\"invalid_token\","
		       " SERVICE=svc") == 0);
	CHECK(c.scheme == MSB_AUTH_BEARER);
	CHECK_STR(c.realm, "https://r/t");
	CHECK_STR(c.service, "svc");
	CHECK_STR(c.scope, "");

	/* escapes in quoted strings, commas inside quotes */
	CHECK(chal(&c, "Bearer realm=\"https://r/t?a=1,b=\\\"2\\\"\","
		       "scope=\"repository:a:pull,push\"") == 0);
	CHECK_STR(c.realm, "https://r/t?a=1,b=\"2\"");
	CHECK_STR(c.scope, "repository:a:pull,push");

	/* Basic */
	CHECK(chal(&c, "Basic realm=\"Registry Realm\"") == 0);
	CHECK(c.scheme == MSB_AUTH_BASIC);
	CHECK_STR(c.realm, "Registry Realm");
	CHECK(chal(&c, "Basic") == 0);
	CHECK(c.scheme == MSB_AUTH_BASIC);

	/* several challenges: Bearer wins, wherever it is */
	CHECK(chal(&c, "Basic realm=\"x\", Bearer realm=\"https://t\","
		       "service=\"s\"") == 0);
	CHECK(c.scheme == MSB_AUTH_BEARER);
	CHECK_STR(c.realm, "https://t");
	CHECK_STR(c.service, "s");
	CHECK(chal(&c, "Negotiate abc/def==, Basic realm=\"r\"") == 0);
	CHECK(c.scheme == MSB_AUTH_BASIC);
	CHECK_STR(c.realm, "r");
	CHECK(chal(&c, "Negotiate, NTLM, Basic realm=r2") == 0);
	CHECK_STR(c.realm, "r2");

	/* the first parameter of a kind wins */
	CHECK(chal(&c, "Bearer realm=\"https://a\",realm=\"https://b\"") == 0);
	CHECK_STR(c.realm, "https://a");

	/* a Bearer without realm is not usable: the Basic one is taken */
	CHECK(chal(&c, "Bearer service=\"s\", Basic realm=\"b\"") == 0);
	CHECK(c.scheme == MSB_AUTH_BASIC);

	/* refused */
	CHECK(chal(&c, "") == -MSB_EPROTO);
	CHECK(chal(&c, "Negotiate") == -MSB_EPROTO);
	CHECK(chal(&c, "Bearer service=\"x\"") == -MSB_EPROTO);
	CHECK(chal(&c, "Bearer realm=\"https://unterminated") == -MSB_EPROTO);
	CHECK(has(lasterr(), "unterminated"));
	CHECK(chal(&c, "realm=\"x\"") == -MSB_EPROTO);
	CHECK(chal(&c, ",,, ,") == -MSB_EPROTO);
	CHECK(chal(&c, "\"\"\"") == -MSB_EPROTO);
	CHECK(chal(&c, "\xa4\"x\"") == -MSB_EPROTO); /* ends after junk */
	CHECK(chal(&c, "Basic realm=\"r\", \xa4\"x\"") == 0);

	/* a realm longer than its field */
	char big[3000];
	int n = snprintf(big, sizeof(big), "Bearer realm=\"https://");
	memset(big + n, 'a', 2000);
	strcpy(big + n + 2000, "\"");
	CHECK(chal(&c, big) == -MSB_EPROTO);
	CHECK(has(lasterr(), "too long"));
	/* ...but unknown long parameters are only skipped */
	n = snprintf(big, sizeof(big), "Bearer realm=\"https://r\",junk=\"");
	memset(big + n, 'j', 2000);
	strcpy(big + n + 2000, "\"");
	CHECK(chal(&c, big) == 0);
	CHECK_STR(c.realm, "https://r");

	/* bounded by len, not by the NUL */
	const char *s = "Basic realm=\"abc\"Bearer realm=\"https://x\"";
	CHECK(msb__challenge_parse(&c, s, 17) == 0);
	CHECK(c.scheme == MSB_AUTH_BASIC);
	CHECK_STR(c.realm, "abc");
	CHECK(msb__challenge_parse(&c, s, 14) == -MSB_EPROTO);

	/* every prefix of a valid header parses or fails cleanly */
	const char *full =
		"Bearer realm=\"https://auth/t\",service=\"reg\","
		"scope=\"repository:x:pull\", Basic realm=\"b\\\"q\"";
	for (size_t i = 0; i <= strlen(full); i++) {
		char *copy = malloc(i ? i : 1);
		memcpy(copy, full, i);
		int rc = msb__challenge_parse(&c, copy, i);
		CHECK(rc == 0 || rc == -MSB_EPROTO);
		free(copy);
	}
}

/* ------------------------------------------------------------------ */
/* Token answers, Docker config, credential helpers                   */

static void test_token(void)
{
	char *t = NULL;
	unsigned int e = 0;

	CHECK(msb__token_parse(&t, &e,
			       STR("{\"token\":\"abc.def\","
				   "\"expires_in\":300}")) == 0);
	CHECK_STR(t, "abc.def");
	CHECK(e == 300);
	free(t);
	CHECK(msb__token_parse(&t, &e, STR("{\"access_token\":\"xyz\"}")) == 0);
	CHECK_STR(t, "xyz");
	CHECK(e == 60);
	free(t);
	/* "token" wins; an empty one falls back */
	CHECK(msb__token_parse(&t, &e,
			       STR("{\"access_token\":\"a\","
				   "\"token\":\"b\"}")) == 0);
	CHECK_STR(t, "b");
	free(t);
	CHECK(msb__token_parse(&t, &e,
			       STR("{\"token\":\"\","
				   "\"access_token\":\"a\"}")) == 0);
	CHECK_STR(t, "a");
	free(t);
	/* expires_in: absurd values */
	CHECK(msb__token_parse(&t, &e,
			       STR("{\"token\":\"a\","
				   "\"expires_in\":-5}")) == 0);
	CHECK(e == 60);
	free(t);
	CHECK(msb__token_parse(&t, &e,
			       STR("{\"token\":\"a\","
				   "\"expires_in\":99999999999}")) == 0);
	CHECK(e == 86400);
	free(t);
	/* refused: header injection, not JSON, no token, duplicates */
	t = NULL;
	CHECK(msb__token_parse(&t, &e, STR("{\"token\":\"a\\r\\nX: y\"}")) ==
	      -MSB_EPROTO);
	CHECK(msb__token_parse(&t, &e, STR("{\"token\":\"a b\"}")) ==
	      -MSB_EPROTO);
	CHECK(msb__token_parse(&t, &e, STR("not json")) == -MSB_EPROTO);
	CHECK(msb__token_parse(&t, &e, STR("[\"token\"]")) == -MSB_EPROTO);
	CHECK(msb__token_parse(&t, &e, STR("{\"token\":1}")) == -MSB_EPROTO);
	CHECK(msb__token_parse(&t, &e, STR("{}")) == -MSB_EPROTO);
	CHECK(msb__token_parse(&t, &e,
			       STR("{\"token\":\"a\","
				   "\"token\":\"b\"}")) == -MSB_EPROTO);
	CHECK(t == NULL);
}

static int lookup(struct msb_docker_auth *a, const char *reg, const char *j)
{
	msb__docker_auth_clear(a);
	return msb__docker_config_lookup(a, reg, STR(j));
}

static void test_docker_config(void)
{
	struct msb_docker_auth a = {0};
	/* "dXNlcjpwYTpzcw==" is base64 of "user:pa:ss" */
	const char *cfg =
		"{\"auths\":{"
		"\"https://index.docker.io/v1/\":{\"auth\":\"aHViOmh1YnB3\"},"
		"\"localhost:5000\":{\"auth\":\"dXNlcjpwYTpzcw==\"},"
		"\"https://ghcr.io\":{\"username\":\"g\",\"password\":\"gp\"},"
		"\"quay.io\":{},"
		"\"http://Reg.Example:8443/v2/\":{\"auth\":\"cjpw\"}},"
		"\"credHelpers\":{\"gcr.io\":\"gcloud\",\"quay.io\":\"q-1.x\"},"
		"\"credsStore\":\"desktop\"}";

	CHECK(lookup(&a, "localhost:5000", cfg) == 0);
	CHECK_STR(a.username, "user");
	CHECK_STR(a.password, "pa:ss"); /* split at the first ':' */
	CHECK(a.helper == NULL);
	CHECK(lookup(&a, "docker.io", cfg) == 0);
	CHECK_STR(a.username, "hub");
	CHECK_STR(a.password, "hubpw");
	CHECK(lookup(&a, "ghcr.io", cfg) == 0);
	CHECK_STR(a.username, "g");
	CHECK_STR(a.password, "gp");
	CHECK(lookup(&a, "reg.example:8443", cfg) == 0);
	CHECK_STR(a.username, "r");
	CHECK_STR(a.password, "p");
	/* an empty auths entry is skipped: the helper for it applies */
	CHECK(lookup(&a, "quay.io", cfg) == 0);
	CHECK(a.username == NULL);
	CHECK_STR(a.helper, "q-1.x");
	CHECK(lookup(&a, "gcr.io", cfg) == 0);
	CHECK_STR(a.helper, "gcloud");
	/* anything else: the credsStore */
	CHECK(lookup(&a, "example.com", cfg) == 0);
	CHECK_STR(a.helper, "desktop");
	/* no match, no store: anonymous; another port is another registry */
	CHECK(lookup(&a, "localhost:5001",
		     "{\"auths\":{\"localhost:5000\":{\"auth\":\"cjpw\"}}}") ==
	      0);
	CHECK(!a.username && !a.password && !a.helper);
	/* the exact key beats a normalised one */
	CHECK(lookup(&a, "h.io",
		     "{\"auths\":{\"https://h.io/v1/\":{\"auth\":\"YTpi\"},"
		     "\"h.io\":{\"auth\":\"Yzpk\"}}}") == 0);
	CHECK_STR(a.username, "c");
	/* docker.io aliases */
	CHECK(lookup(&a, "docker.io",
		     "{\"auths\":{\"registry-1.docker.io\":{\"auth\":\"YTpi\"}}}") ==
	      0);
	CHECK_STR(a.username, "a");
	CHECK(lookup(&a, "docker.io", "{}") == 0);
	CHECK(!a.username && !a.helper);

	/* refused */
	CHECK(lookup(&a, "x", "{\"auths\":{\"x\":{\"auth\":\"!!!!\"}}}") ==
	      -MSB_EINVAL);
	CHECK(lookup(&a, "x", "{\"auths\":{\"x\":{\"auth\":\"====\"}}}") ==
	      -MSB_EINVAL);
	CHECK(lookup(&a, "x", "{\"auths\":{\"x\":{\"auth\":\"YT=i\"}}}") ==
	      -MSB_EINVAL);
	CHECK(lookup(&a, "x", "{\"auths\":{\"x\":{\"auth\":\"abc\"}}}") ==
	      -MSB_EINVAL);
	CHECK(has(lasterr(), "not base64"));
	CHECK(lookup(&a, "x",
		     "{\"auths\":{\"x\":{\"auth\":\"bm9jb2xvbg==\"}}}") ==
	      -MSB_EINVAL); /* "nocolon" */
	CHECK(lookup(&a, "x", "{\"credsStore\":\"../../bin/sh\"}") ==
	      -MSB_EINVAL);
	CHECK(has(lasterr(), "helper name"));
	CHECK(lookup(&a, "x", "{\"credHelpers\":{\"x\":\"a b\"}}") ==
	      -MSB_EINVAL);
	CHECK(lookup(&a, "x", "{") == -MSB_EINVAL);
	CHECK(has(lasterr(), "invalid JSON"));
	/* jansson quotes the input, newline included: still one line */
	CHECK(lookup(&a, "x", "{\"a\":\"\\\n\"}") == -MSB_EINVAL);
	CHECK(has(lasterr(), "invalid escape"));
	CHECK(!strchr(lasterr(), '\n'));
	CHECK(lookup(&a, "x", "{\"a\":\"\\u12\r\n\"}") == -MSB_EINVAL);
	CHECK(!strpbrk(lasterr(), "\r\n"));
	CHECK(lookup(&a, "x", "[]") == -MSB_EINVAL);
	CHECK(!a.username && !a.password && !a.helper);
	msb__docker_auth_clear(&a);

	/* credential helper output */
	CHECK(msb__cred_helper_parse(&a, STR("{\"ServerURL\":\"x\","
					     "\"Username\":\"u\","
					     "\"Secret\":\"s\"}")) == 0);
	CHECK_STR(a.username, "u");
	CHECK_STR(a.password, "s");
	msb__docker_auth_clear(&a);
	CHECK(msb__cred_helper_parse(&a, STR("{\"Username\":\"<token>\","
					     "\"Secret\":\"t\"}")) == 0);
	CHECK(!a.username && !a.password);
	CHECK(msb__cred_helper_parse(&a, STR("{\"Username\":\"u\"}")) ==
	      -MSB_EINVAL);
	CHECK(msb__cred_helper_parse(&a, STR("credentials not found")) ==
	      -MSB_EINVAL);

	CHECK_STR(msb__docker_server_url("docker.io"),
		  "https://index.docker.io/v1/");
	CHECK_STR(msb__docker_server_url("ghcr.io"), "ghcr.io");
}

/* ------------------------------------------------------------------ */
/* Test data                                                           */

struct data {
	uint8_t *plain, *gz, *zst, *gz2, *zst2;
	size_t nplain, ngz, nzst, ngz2, nzst2;
	char dplain[72], dgz[72], dzst[72], dgz2[72], dzst2[72];
};

static void sha256_hex(char out[72], const void *p, size_t n)
{
	unsigned char h[32];

	EVP_Digest(p, n, h, NULL, EVP_sha256(), NULL);
	strcpy(out, "sha256:");
	for (int i = 0; i < 32; i++)
		sprintf(out + 7 + 2 * i, "%02x", h[i]);
}

static size_t gzip_buf(uint8_t *out, size_t cap, const uint8_t *in, size_t n)
{
	z_stream z = {0};

	deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)n;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	int rc = deflate(&z, Z_FINISH);
	CHECK(rc == Z_STREAM_END);
	size_t got = z.total_out;
	deflateEnd(&z);
	return got;
}

static void make_data(struct data *d)
{
	/* 600 KiB: pseudo-random runs and repetitive text, like a tar */
	uint32_t x = 12345;

	d->nplain = 600 * 1024;
	d->plain = malloc(d->nplain);
	for (size_t i = 0; i < d->nplain; i++) {
		x = x * 1103515245 + 12345;
		d->plain[i] = (i / 4096) % 2 ? (uint8_t)(x >> 16)
					     : (uint8_t)("tar-ish "[i % 8]);
	}
	size_t cap = d->nplain + 4096;
	d->gz = malloc(cap);
	d->ngz = gzip_buf(d->gz, cap, d->plain, d->nplain);
	d->zst = malloc(ZSTD_compressBound(d->nplain));
	d->nzst = ZSTD_compress(d->zst, ZSTD_compressBound(d->nplain), d->plain,
				d->nplain, 3);
	CHECK(!ZSTD_isError(d->nzst));
	/* two gzip members; two zstd frames (the same plain stream) */
	size_t half = d->nplain / 3;
	d->gz2 = malloc(2 * cap);
	d->ngz2 = gzip_buf(d->gz2, cap, d->plain, half);
	d->ngz2 += gzip_buf(d->gz2 + d->ngz2, cap, d->plain + half,
			    d->nplain - half);
	d->zst2 = malloc(2 * ZSTD_compressBound(d->nplain));
	d->nzst2 = ZSTD_compress(d->zst2, ZSTD_compressBound(d->nplain),
				 d->plain, half, 1);
	d->nzst2 +=
		ZSTD_compress(d->zst2 + d->nzst2, ZSTD_compressBound(d->nplain),
			      d->plain + half, d->nplain - half, 19);
	sha256_hex(d->dplain, d->plain, d->nplain);
	sha256_hex(d->dgz, d->gz, d->ngz);
	sha256_hex(d->dzst, d->zst, d->nzst);
	sha256_hex(d->dgz2, d->gz2, d->ngz2);
	sha256_hex(d->dzst2, d->zst2, d->nzst2);
}

static void free_data(struct data *d)
{
	free(d->plain);
	free(d->gz);
	free(d->zst);
	free(d->gz2);
	free(d->zst2);
}

/* ------------------------------------------------------------------ */
/* Verifier                                                            */

/* Feed @buf in pieces of @step bytes (0: at the @split points). */
static int verify(const char *digest, const char *diff_id, const uint8_t *buf,
		  size_t n, size_t step)
{
	struct msb_verifier *v;
	int rc = msb__verifier_new(&v, digest, diff_id);

	if (rc < 0)
		return rc;
	for (size_t off = 0; off < n && rc == 0;) {
		size_t k = n - off < step ? n - off : step;
		rc = msb__verifier_update(v, buf + off, k);
		off += k;
	}
	if (rc == 0) {
		CHECK(msb__verifier_size(v) == n);
		rc = msb__verifier_finish(v);
	}
	msb__verifier_free(v);
	return rc;
}

static void test_verifier(struct data *d)
{
	static const size_t steps[] = {1, 2, 3, 5, 4096, 65536, 1 << 30};
	const struct {
		const uint8_t *p;
		size_t n;
		const char *dg;
	} kinds[] = {
		{d->plain, d->nplain, d->dplain}, {d->gz, d->ngz, d->dgz},
		{d->zst, d->nzst, d->dzst},       {d->gz2, d->ngz2, d->dgz2},
		{d->zst2, d->nzst2, d->dzst2},
	};

	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
		for (size_t s = 0; s < ARRAY_SIZE(steps); s++)
			CHECK(verify(kinds[k].dg, d->dplain, kinds[k].p,
				     kinds[k].n, steps[s]) == 0);
		/* without diff_id: the digest only */
		CHECK(verify(kinds[k].dg, NULL, kinds[k].p, kinds[k].n, 4096) ==
		      0);
	}

	/* wrong digest, right stream */
	char other[72];
	sha256_hex(other, "x", 1);
	CHECK(verify(other, d->dplain, d->gz, d->ngz, 7777) == -MSB_EPROTO);
	CHECK(has(lasterr(), "does not match its digest"));
	CHECK(has(lasterr(), other));
	/* right digest, wrong diff_id */
	CHECK(verify(d->dgz, other, d->gz, d->ngz, 7777) == -MSB_EPROTO);
	CHECK(has(lasterr(), "diff_id"));
	CHECK(verify(d->dzst, other, d->zst, d->nzst, 7777) == -MSB_EPROTO);

	/* truncated streams: the digest of what arrived, then the check */
	char dtrunc[72];
	sha256_hex(dtrunc, d->gz, d->ngz - 10);
	CHECK(verify(dtrunc, d->dplain, d->gz, d->ngz - 10, 1000) ==
	      -MSB_EPROTO);
	CHECK(has(lasterr(), "truncated gzip"));
	sha256_hex(dtrunc, d->zst, d->nzst - 3);
	CHECK(verify(dtrunc, d->dplain, d->zst, d->nzst - 3, 1000) ==
	      -MSB_EPROTO);
	CHECK(has(lasterr(), "truncated zstd"));

	/* corrupt compressed data: an error while streaming */
	uint8_t *bad = malloc(d->ngz);
	memcpy(bad, d->gz, d->ngz);
	for (size_t i = 100; i < 200; i++)
		bad[i] ^= 0x5a;
	sha256_hex(dtrunc, bad, d->ngz);
	CHECK(verify(dtrunc, d->dplain, bad, d->ngz, 4096) == -MSB_EPROTO);
	CHECK(has(lasterr(), "gzip"));
	free(bad);
	bad = malloc(d->nzst);
	memcpy(bad, d->zst, d->nzst);
	for (size_t i = 20; i < 60; i++)
		bad[i] ^= 0xff;
	sha256_hex(dtrunc, bad, d->nzst);
	CHECK(verify(dtrunc, d->dplain, bad, d->nzst, 4096) == -MSB_EPROTO);
	free(bad);

	/* garbage after a gzip member */
	bad = malloc(d->ngz + 8);
	memcpy(bad, d->gz, d->ngz);
	memcpy(bad + d->ngz, "garbage!", 8);
	sha256_hex(dtrunc, bad, d->ngz + 8);
	CHECK(verify(dtrunc, d->dplain, bad, d->ngz + 8, 4096) == -MSB_EPROTO);
	free(bad);

	/* tiny and empty plain layers (shorter than any magic) */
	char dsmall[72];
	sha256_hex(dsmall, "ab", 2);
	CHECK(verify(dsmall, dsmall, (const uint8_t *)"ab", 2, 1) == 0);
	sha256_hex(dsmall, "", 0);
	CHECK(verify(dsmall, dsmall, (const uint8_t *)"", 0, 1) == 0);
	/* two bytes of gzip magic and nothing else */
	sha256_hex(dsmall, "\x1f\x8b", 2);
	CHECK(verify(dsmall, dsmall, (const uint8_t *)"\x1f\x8b", 2, 1) ==
	      -MSB_EPROTO);

	/* reset: start again after garbage */
	struct msb_verifier *v;
	CHECK(msb__verifier_new(&v, d->dzst, d->dplain) == 0);
	CHECK(msb__verifier_update(v, d->gz, 5000) == 0);
	CHECK(msb__verifier_reset(v) == 0);
	CHECK(msb__verifier_update(v, d->zst, d->nzst) == 0);
	CHECK(msb__verifier_finish(v) == 0);
	msb__verifier_free(v);

	/* invalid digests */
	CHECK(msb__verifier_new(&v, "sha256:abc", NULL) == -MSB_EINVAL);
	CHECK(msb__verifier_new(&v, "md5:00", NULL) == -MSB_EINVAL);
	CHECK(msb__verifier_new(&v, d->dgz, "sha256:xyz") == -MSB_EINVAL);
}

/* ------------------------------------------------------------------ */
/* Store                                                               */

struct source {
	const uint8_t *data; /* what the "server" has */
	size_t n;
	int calls;
	uint64_t last_offset;
	bool ignore_range;    /* answer 200 from byte 0 */
	size_t fail_after;    /* stop with an error after so many bytes */
	size_t chunk;         /* bytes per sink call */
	size_t extra;         /* bytes past the end */
	int delay_us;         /* per chunk */
	pthread_mutex_t lock; /* calls, from several threads */
};

static int mem_source(void *src, const char *digest, uint64_t offset,
		      int (*sink)(const void *buf, size_t len, void *ud),
		      void (*on_restart)(void *ud), void *ud)
{
	struct source *s = src;
	uint8_t junk[64] = {0};
	size_t sent = 0;

	(void)digest;
	pthread_mutex_lock(&s->lock);
	s->calls++;
	s->last_offset = offset;
	pthread_mutex_unlock(&s->lock);
	if (offset && s->ignore_range) {
		on_restart(ud);
		offset = 0;
	}
	for (size_t off = offset; off < s->n;) {
		size_t k = s->chunk ? s->chunk : 8192;
		if (k > s->n - off)
			k = s->n - off;
		if (s->fail_after && sent + k > s->fail_after) {
			k = s->fail_after - sent;
			if (k)
				sink(s->data + off, k, ud);
			return msb__error(MSB_ETIMEDOUT, 0, "test: stalled");
		}
		int rc = sink(s->data + off, k, ud);
		if (rc < 0)
			return rc;
		off += k;
		sent += k;
		if (s->delay_us)
			usleep(s->delay_us);
	}
	if (s->extra)
		return sink(junk, s->extra < 64 ? s->extra : 64, ud);
	return 0;
}

static char home[256];
static struct msb_store store;

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

static char *partial_path(const char *digest)
{
	char *p = NULL;

	if (asprintf(&p, "%s/images/blobs/tmp/%s.partial", home, digest + 7) <
	    0)
		return NULL;
	return p;
}

static off_t file_size(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 ? st.st_size : -1;
}

static void write_file(const char *p, const void *b, size_t n)
{
	FILE *f = fopen(p, "we");
	CHECK(f && fwrite(b, 1, n, f) == n);
	if (f)
		fclose(f);
}

static void remove_blob(const char *digest)
{
	char *p = msb_store_blob_path(&store, digest);
	chmod(p, 0644);
	unlink(p);
	free(p);
}

struct progress {
	uint64_t last, total;
	int calls;
	bool monotonic;
};

static void on_progress(const char *digest, uint64_t done, uint64_t total,
			void *ud)
{
	struct progress *p = ud;

	(void)digest;
	if (done < p->last || done > total)
		p->monotonic = false;
	p->last = done;
	p->total = total;
	p->calls++;
}

static int fetch(struct source *src, const char *digest, size_t size,
		 const char *diff_id)
{
	struct msb_descriptor d = {.digest = (char *)digest, .size = size};

	return msb__store_fetch_from(&store, mem_source, src, &d, diff_id, NULL,
				     NULL);
}

static void test_store_fetch(struct data *d)
{
	struct source src = {.data = d->gz, .n = d->ngz};
	struct msb_descriptor desc = {.digest = d->dgz, .size = d->ngz};
	struct progress pr = {.monotonic = true};
	char *blob = msb_store_blob_path(&store, d->dgz);
	char *part = partial_path(d->dgz);
	struct stat st;

	pthread_mutex_init(&src.lock, NULL);

	/* plain download with progress */
	CHECK(!msb_store_has_blob(&store, d->dgz));
	CHECK(msb__store_fetch_from(&store, mem_source, &src, &desc, d->dplain,
				    on_progress, &pr) == 0);
	CHECK(msb_store_has_blob(&store, d->dgz));
	CHECK(stat(blob, &st) == 0 && (st.st_mode & 0777) == 0444);
	CHECK(st.st_size == (off_t)d->ngz);
	CHECK(src.calls == 1 && src.last_offset == 0);
	CHECK(pr.monotonic && pr.last == d->ngz && pr.total == d->ngz);
	/* throttled: about one call per 256 KiB, not one per chunk */
	CHECK(pr.calls >= 1 && pr.calls <= (int)(d->ngz / 262144) + 2);
	CHECK(count_dir("tmp") == 0);
	/* present: no download, progress says done */
	pr.calls = 0;
	CHECK(msb__store_fetch_from(&store, mem_source, &src, &desc, d->dplain,
				    on_progress, &pr) == 0);
	CHECK(src.calls == 1 && pr.calls == 1 && pr.last == d->ngz);
	remove_blob(d->dgz);

	/* resume: a partial file at every kind of split point */
	const size_t splits[] = {1, 2, 3, 4, 10, 4096, d->ngz / 2, d->ngz - 1};
	for (size_t i = 0; i < ARRAY_SIZE(splits); i++) {
		write_file(part, d->gz, splits[i]);
		src.calls = 0;
		CHECK(fetch(&src, d->dgz, d->ngz, d->dplain) == 0);
		CHECK(src.calls == 1 && src.last_offset == splits[i]);
		CHECK(msb_store_has_blob(&store, d->dgz));
		CHECK(file_size(part) < 0);
		remove_blob(d->dgz);
	}
	/* the same with zstd and plain layers */
	struct source zs = {.data = d->zst, .n = d->nzst, .chunk = 1000};
	pthread_mutex_init(&zs.lock, NULL);
	char *zpart = partial_path(d->dzst);
	write_file(zpart, d->zst, 3);
	CHECK(fetch(&zs, d->dzst, d->nzst, d->dplain) == 0);
	CHECK(zs.last_offset == 3);
	remove_blob(d->dzst);
	write_file(zpart, d->zst, d->nzst);
	zs.calls = 0;
	CHECK(fetch(&zs, d->dzst, d->nzst, d->dplain) == 0);
	CHECK(zs.calls == 0); /* complete already: verified, no request */
	remove_blob(d->dzst);
	free(zpart);
	struct source ps = {.data = d->plain, .n = d->nplain};
	pthread_mutex_init(&ps.lock, NULL);
	char *ppart = partial_path(d->dplain);
	write_file(ppart, d->plain, 77777);
	CHECK(fetch(&ps, d->dplain, d->nplain, d->dplain) == 0);
	CHECK(ps.last_offset == 77777);
	remove_blob(d->dplain);
	free(ppart);

	/* the server ignores Range: truncated and hashed again from 0 */
	write_file(part, d->gz, 5000);
	src.ignore_range = true;
	src.calls = 0;
	CHECK(fetch(&src, d->dgz, d->ngz, d->dplain) == 0);
	CHECK(src.calls == 1 && src.last_offset == 5000);
	CHECK(msb_store_has_blob(&store, d->dgz));
	remove_blob(d->dgz);
	src.ignore_range = false;

	/* interrupted: the partial file stays, the next fetch resumes */
	src.fail_after = 100000;
	CHECK(fetch(&src, d->dgz, d->ngz, d->dplain) == -MSB_ETIMEDOUT);
	CHECK(!msb_store_has_blob(&store, d->dgz));
	CHECK(file_size(part) == 100000);
	src.fail_after = 0;
	CHECK(fetch(&src, d->dgz, d->ngz, d->dplain) == 0);
	CHECK(src.last_offset == 100000);
	remove_blob(d->dgz);

	/* a partial file with wrong bytes: once more from 0, then fine */
	uint8_t *wrong = malloc(d->ngz);
	memcpy(wrong, d->gz, d->ngz);
	wrong[40000] ^= 1;
	write_file(part, wrong, 50000);
	src.calls = 0;
	CHECK(fetch(&src, d->dgz, d->ngz, d->dplain) == 0);
	CHECK(src.calls >= 1 && src.last_offset == 0);
	CHECK(msb_store_has_blob(&store, d->dgz));
	remove_blob(d->dgz);
	/* a partial file longer than the blob: dropped */
	write_file(part, d->gz, d->ngz); /* right bytes... */
	FILE *f = fopen(part, "ae");
	fputs("more", f); /* ...and four too many */
	fclose(f);
	CHECK(fetch(&src, d->dgz, d->ngz, d->dplain) == 0);
	CHECK(src.last_offset == 0);
	remove_blob(d->dgz);

	/* mismatches leave nothing in blobs/ and nothing in tmp/ */
	struct source bs = {.data = wrong, .n = d->ngz};
	pthread_mutex_init(&bs.lock, NULL);
	int before = count_dir("sha256");
	CHECK(fetch(&bs, d->dgz, d->ngz, d->dplain) == -MSB_EPROTO);
	CHECK(has(lasterr(), d->dgz));
	CHECK(count_dir("sha256") == before && count_dir("tmp") == 0);
	/* right blob, wrong diff_id */
	char other[72];
	sha256_hex(other, "other", 5);
	CHECK(fetch(&src, d->dgz, d->ngz, other) == -MSB_EPROTO);
	CHECK(has(lasterr(), "diff_id"));
	CHECK(count_dir("sha256") == before && count_dir("tmp") == 0);
	/* the server sends more than the descriptor says */
	src.extra = 10;
	CHECK(fetch(&src, d->dgz, d->ngz, d->dplain) == -MSB_EPROTO);
	CHECK(has(lasterr(), "more than"));
	CHECK(count_dir("sha256") == before && count_dir("tmp") == 0);
	src.extra = 0;
	/* ...or less */
	CHECK(fetch(&src, d->dgz, d->ngz + 10, d->dplain) == -MSB_EPROTO);
	CHECK(count_dir("sha256") == before && count_dir("tmp") == 0);
	/* corrupt gzip: stops at once */
	wrong[30] ^= 0xff;
	CHECK(fetch(&bs, d->dgz, d->ngz, d->dplain) == -MSB_EPROTO);
	CHECK(count_dir("sha256") == before && count_dir("tmp") == 0);
	free(wrong);

	/* invalid descriptors */
	CHECK(fetch(&src, "sha256:../../../etc/passwd", 10, NULL) ==
	      -MSB_EINVAL);
	CHECK(fetch(&src, d->dgz, d->ngz, "sha256:zz") == -MSB_EINVAL);
	CHECK(msb_store_blob_path(&store, "sha256:../x") == NULL);
	CHECK(!msb_store_has_blob(&store, "nonsense"));

	free(blob);
	free(part);
}

struct thread_arg {
	struct source *src;
	struct data *d;
	int rc;
};

static void *fetch_thread(void *p)
{
	struct thread_arg *a = p;

	a->rc = fetch(a->src, a->d->dzst, a->d->nzst, a->d->dplain);
	return NULL;
}

static void test_store_concurrent(struct data *d)
{
	struct source src = {
		.data = d->zst, .n = d->nzst, .chunk = 4096, .delay_us = 200};
	struct thread_arg a[4];
	pthread_t t[4];

	pthread_mutex_init(&src.lock, NULL);
	for (int i = 0; i < 4; i++) {
		a[i] = (struct thread_arg){&src, d, -1};
		pthread_create(&t[i], NULL, fetch_thread, &a[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		CHECK(a[i].rc == 0);
	}
	CHECK(src.calls == 1); /* one download, three waited */
	CHECK(msb_store_has_blob(&store, d->dzst));
	CHECK(count_dir("tmp") == 0);
}

static void test_store_docs(void)
{
	const char *doc = "{\"schemaVersion\":2}";
	char dg[72], other[72];
	struct msb_buf b = {0};

	sha256_hex(dg, doc, strlen(doc));
	sha256_hex(other, "x", 1);
	CHECK(msb_store_put(&store, dg, doc, strlen(doc)) == 0);
	CHECK(msb_store_put(&store, dg, doc, strlen(doc)) == 0); /* again */
	CHECK(msb_store_has_blob(&store, dg));
	CHECK(msb_store_read(&store, dg, 1 << 20, &b) == 0);
	CHECK(b.len == strlen(doc) && !memcmp(b.data, doc, b.len));
	CHECK(msb_store_read(&store, dg, 5, &b) == -MSB_EPROTO);
	CHECK(has(lasterr(), "larger than"));
	CHECK(msb_store_put(&store, other, doc, strlen(doc)) == -MSB_EPROTO);
	CHECK(!msb_store_has_blob(&store, other));
	CHECK(msb_store_read(&store, other, 100, &b) == -MSB_ENOTFOUND);
	CHECK(has(lasterr(), other));
	CHECK(msb_store_read(&store, "sha256:/etc", 100, &b) == -MSB_EINVAL);
	CHECK(count_dir("tmp") == 0);
	/* a corrupt stored blob is reported, not returned */
	char *p = msb_store_blob_path(&store, dg);
	chmod(p, 0644);
	write_file(p, "{\"schemaVersion\":3}", 19);
	CHECK(msb_store_read(&store, dg, 100, &b) == -MSB_EPROTO);
	CHECK(has(lasterr(), "corrupt"));
	free(p);
	msb_buf_free(&b);
}

static int rm_entry(const char *p, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

int main(void)
{
	struct data d;

	test_challenge();
	test_token();
	test_docker_config();

	make_data(&d);
	test_verifier(&d);

	snprintf(home, sizeof(home), "/tmp/msb-test-store-XXXXXX");
	CHECK(mkdtemp(home) != NULL);
	CHECK(msb_store_open(&store, home) == 0);
	test_store_fetch(&d);
	test_store_concurrent(&d);
	test_store_docs();
	msb_store_close(&store);
	msb_store_close(&store); /* idempotent */
	CHECK(msb_store_open(&store, "") == -MSB_EINVAL);

	free_data(&d);
	nftw(home, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return check_summary("store");
}
