// SPDX-License-Identifier: Apache-2.0
/* Unit tests for image references: parsing, normalisation, formatting. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "lib/image/ref.h"
#include "lib/internal.h"

#define H64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define D64 "sha256:" H64

/* One reference: the canonical form when valid, else an error fragment. */
struct ref_case {
	const char *in;
	const char *canonical;
	const char *error;
};

static const struct ref_case cases[] = {
	/* Docker Hub normalisation */
	{"alpine", "docker.io/library/alpine:latest", NULL},
	{"alpine:3.19", "docker.io/library/alpine:3.19", NULL},
	{"python:3.12-slim", "docker.io/library/python:3.12-slim", NULL},
	{"user/img", "docker.io/user/img:latest", NULL},
	{"library/alpine", "docker.io/library/alpine:latest", NULL},
	{"docker.io/alpine", "docker.io/library/alpine:latest", NULL},
	{"docker.io/library/alpine:edge", "docker.io/library/alpine:edge",
	 NULL},
	{"index.docker.io/library/alpine", "docker.io/library/alpine:latest",
	 NULL},
	{"index.docker.io/nginx", "docker.io/library/nginx:latest", NULL},
	{"index.docker.io/user/img:v1", "docker.io/user/img:v1", NULL},
	{"a/b/c/d/e", "docker.io/a/b/c/d/e:latest", NULL},
	{"alpine@" D64, "docker.io/library/alpine@" D64, NULL},
	{"alpine:3.19@" D64, "docker.io/library/alpine:3.19@" D64, NULL},
	/* Docker reads "localhost:5000" alone as image localhost, tag 5000 */
	{"localhost:5000", "docker.io/library/localhost:5000", NULL},
	/* other registries */
	{"ghcr.io/org/app@" D64, "ghcr.io/org/app@" D64, NULL},
	{"ghcr.io/org/app:v1@" D64, "ghcr.io/org/app:v1@" D64, NULL},
	{"quay.io/coreos/etcd:v3.5.0", "quay.io/coreos/etcd:v3.5.0", NULL},
	{"gcr.io/distroless/static-debian12:nonroot",
	 "gcr.io/distroless/static-debian12:nonroot", NULL},
	{"mcr.microsoft.com/dotnet/sdk:8.0", "mcr.microsoft.com/dotnet/sdk:8.0",
	 NULL},
	{"public.ecr.aws/docker/library/nginx:1.25",
	 "public.ecr.aws/docker/library/nginx:1.25", NULL},
	{"registry.example.com:443/a/b/c/d:1.0",
	 "registry.example.com:443/a/b/c/d:1.0", NULL},
	{"my-registry.local/a_b/c__d/e--f/g.h:T_A-G.1",
	 "my-registry.local/a_b/c__d/e--f/g.h:T_A-G.1", NULL},
	{"localhost:5000/team/tool:v2", "localhost:5000/team/tool:v2", NULL},
	{"localhost/foo", "localhost/foo:latest", NULL},
	{"127.0.0.1:5000/x", "127.0.0.1:5000/x:latest", NULL},
	{"192.168.1.10:8080/img", "192.168.1.10:8080/img:latest", NULL},
	{"[::1]:5000/x/y:z", "[::1]:5000/x/y:z", NULL},
	{"[fe80::1]/a", "[fe80::1]/a:latest", NULL},
	{"[2001:DB8::1]:5000/a", "[2001:DB8::1]:5000/a:latest", NULL},
	{"G----------------i/i", "G----------------i/i:latest", NULL},
	/* an uppercase first component is a registry, as in Docker */
	{"Foo/bar", "Foo/bar:latest", NULL},
	{"ubuntu:_x", "docker.io/library/ubuntu:_x", NULL},
	{"ubuntu:UPPER.case-9", "docker.io/library/ubuntu:UPPER.case-9", NULL},
	{"a0/b-1.c_2", "docker.io/a0/b-1.c_2:latest", NULL},
	/* no '/': never a registry, even with a '.' */
	{"example.com", "docker.io/library/example.com:latest", NULL},

	/* rejections */
	{"", NULL, "the reference is empty"},
	{"Alpine", NULL, "must be lowercase"},
	{"docker.io/Library/alpine", NULL, "must be lowercase"},
	{"ghcr.io/Org/App:v1", NULL, "must be lowercase"},
	{"alpine:", NULL, "a tag is 1 to 128"},
	{"alpine:-bad", NULL, "a tag is 1 to 128"},
	{"alpine:.x", NULL, "a tag is 1 to 128"},
	{"alpine:a:b", NULL, "a tag is 1 to 128"},
	{"alpine:t!", NULL, "a tag is 1 to 128"},
	{"alpine@sha256:abc", NULL, "the digest must be"},
	{"alpine@", NULL, "the digest must be"},
	{"alpine@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
	 NULL, "the digest must be"},
	{"alpine@md5:0123456789abcdef0123456789abcdef", NULL,
	 "the digest must be"},
	{"alpine@" D64 "@x", NULL, "the digest must be"},
	{"alpine@sha384:" H64 "0123456789abcdef0123456789abcdef", NULL,
	 "`sha384` is not supported"},
	{"http://ghcr.io/x", NULL, "has no scheme: remove `http://`"},
	{"https://registry.example.com/x:1", NULL, "remove `https://`"},
	{"alpine!", NULL, "unexpected `!` in the repository name"},
	{"al pine", NULL, "unexpected byte 0x20"},
	{"alpine\n", NULL, "unexpected byte 0x0a"},
	{"a..b", NULL, "each part of the repository name"},
	{"-alpine", NULL, "each part of the repository name"},
	{"alpine-", NULL, "each part of the repository name"},
	{"a___b", NULL, "each part of the repository name"},
	{"a._b", NULL, "each part of the repository name"},
	{"foo//bar", NULL, "each part of the repository name"},
	{"foo/", NULL, "each part of the repository name"},
	{"/foo", NULL, "each part of the repository name"},
	{"example.com/", NULL, "each part of the repository name"},
	{"ex ample.com/foo", NULL, "invalid registry `ex ample.com`"},
	{"example.com:99999/x", NULL, "invalid registry"},
	{"example.com:/x", NULL, "invalid registry"},
	{"exa_mple.com/x", NULL, "invalid registry"},
	{"-example.com/x", NULL, "invalid registry"},
	{"example-.com/x", NULL, "invalid registry"},
	{"example..com/x", NULL, "invalid registry"},
	{"[zz::1]/x", NULL, "invalid registry"},
	{"[]/x", NULL, "unexpected `[`"},
	{"[:]/f", NULL, "invalid registry `[:]`"},
	{"[::::]/a", NULL, "invalid registry"},
	{"[1:2:3:4:5:6:7:8:9]/a", NULL, "invalid registry"},
	{"localhost:0/x", NULL, "invalid registry"},
	{"localhost:000/x", NULL, "invalid registry"},
	{"[::1/x", NULL, "invalid registry"},
	{"foo:bar/baz", NULL, "invalid registry `foo:bar`"},
	{H64, NULL, "is an image id"},
};

static void test_table(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct ref_case *c = &cases[i];
		struct msb_ref r;
		int rc;

		memset(&r, 0x5a, sizeof(r));
		rc = msb_ref_parse(&r, c->in);
		if (c->canonical) {
			CHECK(rc == 0);
			if (rc < 0) {
				fprintf(stderr, "  `%s`: %s\n", c->in,
					msb_last_error()->message);
				continue;
			}
			char *s = msb_ref_format(&r);
			CHECK_STR(s, c->canonical);
			/* the canonical form is a fixed point */
			struct msb_ref r2;
			CHECK(msb_ref_parse(&r2, s) == 0);
			char *s2 = msb_ref_format(&r2);
			CHECK_STR(s2, c->canonical);
			free(s2);
			msb_ref_clear(&r2);
			free(s);
			msb_ref_clear(&r);
			continue;
		}
		CHECK(rc == -MSB_EINVAL);
		CHECK(msb_last_error()->code == MSB_EINVAL);
		CHECK(!r.registry && !r.repository && !r.tag && !r.digest);
		const char *m = msb_last_error()->message;
		if (!strstr(m, c->error))
			fprintf(stderr, "  `%s`: message `%s` lacks `%s`\n",
				c->in, m, c->error);
		CHECK(strstr(m, c->error) != NULL);
		CHECK(!strncmp(m, "invalid image reference `", 25));
		CHECK(!strchr(m, '\n'));
	}
}

static void test_fields(void)
{
	struct msb_ref r;

	CHECK(msb_ref_parse(&r, "python:3.12") == 0);
	CHECK_STR(r.registry, "docker.io");
	CHECK_STR(r.repository, "library/python");
	CHECK_STR(r.tag, "3.12");
	CHECK(r.digest == NULL);
	msb_ref_clear(&r);
	CHECK(!r.registry && !r.repository && !r.tag && !r.digest);

	/* a digest alone: no default tag */
	CHECK(msb_ref_parse(&r, "ghcr.io/org/app@" D64) == 0);
	CHECK_STR(r.registry, "ghcr.io");
	CHECK_STR(r.repository, "org/app");
	CHECK(r.tag == NULL);
	CHECK_STR(r.digest, D64);
	msb_ref_clear(&r);

	/* both */
	CHECK(msb_ref_parse(&r, "localhost:5000/a:b@" D64) == 0);
	CHECK_STR(r.registry, "localhost:5000");
	CHECK_STR(r.repository, "a");
	CHECK_STR(r.tag, "b");
	CHECK_STR(r.digest, D64);
	msb_ref_clear(&r);

	msb_ref_clear(NULL);
	CHECK(msb_ref_parse(&r, NULL) == -MSB_EINVAL);
	CHECK(msb_ref_parse(NULL, "alpine") == -MSB_EINVAL);

	/* formatting needs a registry and a repository */
	struct msb_ref empty = {0};
	CHECK(msb_ref_format(&empty) == NULL);
	CHECK(msb_ref_format(NULL) == NULL);
	struct msb_ref bare = {.registry = "r.io", .repository = "x"};
	char *s = msb_ref_format(&bare);
	CHECK_STR(s, "r.io/x");
	free(s);
}

static void test_limits(void)
{
	char buf[5000];
	struct msb_ref r;

	/* registry/repository of exactly 255 characters, then 256 */
	memcpy(buf, "example.com/", 12);
	memset(buf + 12, 'a', 255 - 12);
	buf[255] = '\0';
	CHECK(msb_ref_parse(&r, buf) == 0);
	CHECK(r.repository && strlen(r.repository) == 243);
	msb_ref_clear(&r);
	buf[255] = 'a';
	buf[256] = '\0';
	CHECK(msb_ref_parse(&r, buf) == -MSB_EINVAL);
	CHECK(strstr(msb_last_error()->message, "longer than 255") != NULL);
	/* normalisation counts: docker.io/library/ + 237 = 255 */
	memset(buf, 'b', 237);
	buf[237] = '\0';
	CHECK(msb_ref_parse(&r, buf) == 0);
	msb_ref_clear(&r);
	buf[237] = 'b';
	buf[238] = '\0';
	CHECK(msb_ref_parse(&r, buf) == -MSB_EINVAL);

	/* tags of 128 and 129 characters */
	memcpy(buf, "alpine:", 7);
	memset(buf + 7, 't', 128);
	buf[7 + 128] = '\0';
	CHECK(msb_ref_parse(&r, buf) == 0);
	CHECK(r.tag && strlen(r.tag) == 128);
	msb_ref_clear(&r);
	buf[7 + 128] = 't';
	buf[7 + 129] = '\0';
	CHECK(msb_ref_parse(&r, buf) == -MSB_EINVAL);
	CHECK(strstr(msb_last_error()->message, "tag") != NULL);

	/* whole reference over 4096: refused before any scanning, and the
	 * message shows a bounded prefix */
	memset(buf, 'c', sizeof(buf) - 1);
	buf[sizeof(buf) - 1] = '\0';
	CHECK(msb_ref_parse(&r, buf) == -MSB_EINVAL);
	CHECK(strstr(msb_last_error()->message, "longer than 4096") != NULL);
	CHECK(strstr(msb_last_error()->message, "ccc...`") != NULL);
	CHECK(strlen(msb_last_error()->message) < 300);

	/* sha512 digests are accepted */
	char d512[200];
	snprintf(d512, sizeof(d512), "x@sha512:%s%s", H64, H64);
	CHECK(msb_ref_parse(&r, d512) == 0);
	CHECK(r.digest && !strncmp(r.digest, "sha512:", 7));
	msb_ref_clear(&r);

	/* ports */
	CHECK(msb_ref_parse(&r, "example.com:65535/x") == 0);
	msb_ref_clear(&r);
	CHECK(msb_ref_parse(&r, "example.com:65536/x") == -MSB_EINVAL);
	CHECK(msb_ref_parse(&r, "example.com:0x50/x") == -MSB_EINVAL);

	/* control characters never reach the message */
	CHECK(msb_ref_parse(&r, "a\tb\x01") == -MSB_EINVAL);
	CHECK(strstr(msb_last_error()->message, "`a?b?`") != NULL);
}

static void test_hosts(void)
{
	static const struct {
		const char *in, *api;
		bool local;
	} t[] = {
		{"alpine", "registry-1.docker.io", false},
		{"index.docker.io/x", "registry-1.docker.io", false},
		{"ghcr.io/a/b", "ghcr.io", false},
		{"localhost/x", "localhost", true},
		{"localhost:5000/x", "localhost:5000", true},
		{"LOCALHOST/x", "LOCALHOST", true},
		{"127.0.0.1/x", "127.0.0.1", true},
		{"127.0.0.1:5000/x", "127.0.0.1:5000", true},
		{"127.1.2.3:80/x", "127.1.2.3:80", true},
		{"128.0.0.1/x", "128.0.0.1", false},
		{"127.0.0.1.nip.io/x", "127.0.0.1.nip.io", false},
		{"localhost.example.com/x", "localhost.example.com", false},
		{"[::1]/x", "[::1]", true},
		{"[::1]:5000/x", "[::1]:5000", true},
		{"[0:0:0:0:0:0:0:1]:5000/x", "[0:0:0:0:0:0:0:1]:5000", true},
		{"[::2]:5000/x", "[::2]:5000", false},
		{"10.0.0.1:5000/x", "10.0.0.1:5000", false},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct msb_ref r;

		CHECK(msb_ref_parse(&r, t[i].in) == 0);
		CHECK_STR(msb_ref_api_host(&r), t[i].api);
		CHECK(msb_ref_is_local(&r) == t[i].local);
		if (msb_ref_is_local(&r) != t[i].local)
			fprintf(stderr, "  is_local(`%s`)\n", t[i].in);
		msb_ref_clear(&r);
	}
	/* hand-built references are checked too */
	struct msb_ref h = {.registry = "localhost:port", .repository = "x"};
	CHECK(!msb_ref_is_local(&h));
	h.registry = "[::1";
	CHECK(!msb_ref_is_local(&h));
	h.registry = "";
	CHECK(!msb_ref_is_local(&h));
	CHECK(!msb_ref_is_local(NULL));
	CHECK(msb_ref_api_host(NULL) == NULL);
}

int main(void)
{
	test_table();
	test_fields();
	test_limits();
	test_hosts();
	return check_summary("test_ref");
}
