// SPDX-License-Identifier: Apache-2.0
/* Unit tests for the OCI / Docker image document parsers. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "check.h"
#include "lib/image/oci.h"
#include "lib/internal.h"

#define D0                                                                     \
	"sha256:5feceb66ffc86f38d952786c6d696c79c2dbc239dd4e91b46729d73a27fb57e9"
#define D1                                                                     \
	"sha256:6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b"
#define D2                                                                     \
	"sha256:d4735e3a265e16eee03f59718b9b5d03019c07d8b6c51f90da3a666eec13ab35"
#define D3                                                                     \
	"sha256:4e07408562bedb8b60ce05c1decfe3ad16b72230967de01f640b7e4729b49fce"
#define D4                                                                     \
	"sha256:4b227777d4dd1fc61c6f884f48641d02b4d121d3fd328cb08b5531fcacdabf8a"
#define D5                                                                     \
	"sha256:ef2d127de37b942baad06145e54b0c619a1f22327b2ebbcfbec78f5564afe39d"
#define D6                                                                     \
	"sha256:e7f6c011776e8db7cd330b54174fd76f7d0216b612387a5ffcfb81e6f0919683"
#define D7                                                                     \
	"sha256:7902699be42c8a8e46fbbb4501726517e86b22c56a189f7625a6da49081b2451"
#define D8                                                                     \
	"sha256:2c624232cdd221771294dfbb310aca000a0df6ac8b66b696d90ef06fdefb64a3"
#define D9                                                                     \
	"sha256:19581e27de7ced00ff1ce50b2047e7a567c76b1cbaebabe5ef03f7c3017bb5b7"

/* As "docker buildx build --platform linux/amd64,linux/arm64,linux/arm/v7
 * --provenance=true" pushes it: one attestation manifest per image. */
static const char oci_index[] =
	"{\n"
	"  \"schemaVersion\": 2,\n"
	"  \"mediaType\": \"application/vnd.oci.image.index.v1+json\",\n"
	"  \"manifests\": [\n"
	"    {\n"
	"      \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\",\n"
	"      \"digest\": \"" D0 "\",\n"
	"      \"size\": 1611,\n"
	"      \"platform\": {\"architecture\": \"amd64\", \"os\": \"linux\"}\n"
	"    },\n"
	"    {\n"
	"      \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\",\n"
	"      \"digest\": \"" D1 "\",\n"
	"      \"size\": 1611,\n"
	"      \"platform\": {\"architecture\": \"arm64\", \"os\": \"linux\"}\n"
	"    },\n"
	"    {\n"
	"      \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\",\n"
	"      \"digest\": \"" D2 "\",\n"
	"      \"size\": 1611,\n"
	"      \"platform\": {\"architecture\": \"arm\", \"os\": \"linux\",\n"
	"                   \"variant\": \"v7\"}\n"
	"    },\n"
	"    {\n"
	"      \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\",\n"
	"      \"digest\": \"" D3 "\",\n"
	"      \"size\": 566,\n"
	"      \"annotations\": {\n"
	"        \"vnd.docker.reference.digest\": \"" D0 "\",\n"
	"        \"vnd.docker.reference.type\": \"attestation-manifest\"\n"
	"      },\n"
	"      \"platform\": {\"architecture\": \"unknown\", \"os\": \"unknown\"}\n"
	"    },\n"
	"    {\n"
	"      \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\",\n"
	"      \"digest\": \"" D4 "\",\n"
	"      \"size\": 566,\n"
	"      \"annotations\": {\n"
	"        \"vnd.docker.reference.digest\": \"" D1 "\",\n"
	"        \"vnd.docker.reference.type\": \"attestation-manifest\"\n"
	"      },\n"
	"      \"platform\": {\"architecture\": \"unknown\", \"os\": \"unknown\"}\n"
	"    }\n"
	"  ]\n"
	"}\n";

/* A Docker Hub manifest list of the shape library images have. */
static const char docker_list[] =
	"{\"manifests\":["
	"{\"digest\":\"" D0
	"\",\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
	"\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"},\"size\":528},"
	"{\"digest\":\"" D1
	"\",\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
	"\"platform\":{\"architecture\":\"arm\",\"os\":\"linux\",\"variant\":\"v6\"},\"size\":528},"
	"{\"digest\":\"" D2
	"\",\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
	"\"platform\":{\"architecture\":\"arm\",\"os\":\"linux\",\"variant\":\"v7\"},\"size\":528},"
	"{\"digest\":\"" D3
	"\",\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
	"\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\"},\"size\":528},"
	"{\"digest\":\"" D4
	"\",\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
	"\"platform\":{\"architecture\":\"386\",\"os\":\"linux\"},\"size\":528},"
	"{\"digest\":\"" D5
	"\",\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
	"\"platform\":{\"architecture\":\"ppc64le\",\"os\":\"linux\"},\"size\":528},"
	"{\"digest\":\"" D6
	"\",\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
	"\"platform\":{\"architecture\":\"s390x\",\"os\":\"linux\"},\"size\":528},"
	"{\"digest\":\"" D7
	"\",\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
	"\"platform\":{\"architecture\":\"amd64\",\"os\":\"windows\",\"os.version\":\"10.0.17763.5458\"},\"size\":1125}"
	"],\"mediaType\":\"application/vnd.docker.distribution.manifest.list.v2+json\",\"schemaVersion\":2}";

static const char oci_manifest[] =
	"{\n"
	"  \"schemaVersion\": 2,\n"
	"  \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\",\n"
	"  \"config\": {\n"
	"    \"mediaType\": \"application/vnd.oci.image.config.v1+json\",\n"
	"    \"digest\": \"" D5 "\",\n"
	"    \"size\": 7023\n"
	"  },\n"
	"  \"layers\": [\n"
	"    {\n"
	"      \"mediaType\": \"application/vnd.oci.image.layer.v1.tar+gzip\",\n"
	"      \"digest\": \"" D6 "\",\n"
	"      \"size\": 32654\n"
	"    },\n"
	"    {\n"
	"      \"mediaType\": \"application/vnd.oci.image.layer.v1.tar+zstd\",\n"
	"      \"digest\": \"" D7 "\",\n"
	"      \"size\": 16724\n"
	"    },\n"
	"    {\n"
	"      \"mediaType\": \"application/vnd.oci.image.layer.v1.tar\",\n"
	"      \"digest\": \"" D8 "\",\n"
	"      \"size\": 73109,\n"
	"      \"annotations\": {\"org.opencontainers.image.title\": \"x\"}\n"
	"    }\n"
	"  ],\n"
	"  \"annotations\": {\n"
	"    \"org.opencontainers.image.created\": \"2024-01-30T10:00:00Z\"\n"
	"  }\n"
	"}\n";

static const char docker_manifest[] =
	"{\n"
	"   \"schemaVersion\": 2,\n"
	"   \"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\",\n"
	"   \"config\": {\n"
	"      \"mediaType\": \"application/vnd.docker.container.image.v1+json\",\n"
	"      \"size\": 1472,\n"
	"      \"digest\": \"" D9 "\"\n"
	"   },\n"
	"   \"layers\": [\n"
	"      {\n"
	"         \"mediaType\": \"application/vnd.docker.image.rootfs.diff.tar.gzip\",\n"
	"         \"size\": 3408729,\n"
	"         \"digest\": \"" D0 "\"\n"
	"      }\n"
	"   ]\n"
	"}";

static const char full_config[] =
	"{\"architecture\":\"arm64\",\"variant\":\"v8\","
	"\"config\":{\"ExposedPorts\":{\"80/tcp\":{}},"
	"\"Env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\","
	"\"NGINX_VERSION=1.25.3\",\"PKG_RELEASE=1\",\"EMPTY=\"],"
	"\"Entrypoint\":[\"/docker-entrypoint.sh\"],"
	"\"Cmd\":[\"nginx\",\"-g\",\"daemon off;\"],"
	"\"WorkingDir\":\"/srv/www\",\"User\":\"101:101\","
	"\"Labels\":{\"maintainer\":\"NGINX Docker Maintainers\"},"
	"\"StopSignal\":\"SIGQUIT\"},"
	"\"created\":\"2023-12-19T03:16:46.548034588Z\","
	"\"history\":[{\"created\":\"2023-12-19T03:16:46Z\","
	"\"created_by\":\"/bin/sh -c #(nop) CMD [\\\"nginx\\\"]\","
	"\"empty_layer\":true}],"
	"\"os\":\"linux\","
	"\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D1 "\",\"" D2
	"\",\"" D3 "\"]}}";

/* What "docker build" writes for a FROM scratch image with no CMD. */
static const char null_config[] =
	"{\"architecture\":\"amd64\",\"config\":{\"Env\":null,"
	"\"Entrypoint\":null,\"Cmd\":null,\"WorkingDir\":\"\",\"User\":\"\","
	"\"Volumes\":null,\"OnBuild\":null,\"Labels\":null},"
	"\"created\":null,\"os\":\"linux\","
	"\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}";

#define U8(s) ((const uint8_t *)(s))

static const char *err(void)
{
	return msb_last_error()->message;
}

/* Growable string for generated documents. */
struct gen {
	char *s;
	size_t len, cap;
};

__attribute__((format(printf, 2, 3))) static void gen_add(struct gen *g,
							  const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(g->s ? g->s + g->len : NULL,
			      g->s ? g->cap - g->len : 0, fmt, ap);
		va_end(ap);
		if (g->s && (size_t)n < g->cap - g->len)
			break;
		g->cap = (g->cap + (size_t)n + 1) * 2;
		g->s = realloc(g->s, g->cap);
		if (!g->s)
			abort();
	}
	g->len += (size_t)n;
}

/* --- doc kind --- */

static void test_doc_kind(void)
{
	CHECK(msb_doc_kind(NULL, U8(oci_index), strlen(oci_index)) ==
	      MSB_DOC_INDEX);
	CHECK(msb_doc_kind(NULL, U8(docker_list), strlen(docker_list)) ==
	      MSB_DOC_INDEX);
	CHECK(msb_doc_kind(NULL, U8(oci_manifest), strlen(oci_manifest)) ==
	      MSB_DOC_MANIFEST);
	CHECK(msb_doc_kind(NULL, U8(docker_manifest),
			   strlen(docker_manifest)) == MSB_DOC_MANIFEST);
	/* the body wins over the header */
	CHECK(msb_doc_kind(MSB_MT_OCI_MANIFEST, U8(oci_index),
			   strlen(oci_index)) == MSB_DOC_INDEX);
	CHECK(msb_doc_kind(MSB_MT_DOCKER_LIST, U8(docker_manifest),
			   strlen(docker_manifest)) == MSB_DOC_MANIFEST);
	/* a body mediaType we do not know wins too (schema 1) */
	const char *s1 =
		"{\"schemaVersion\":1,\"mediaType\":"
		"\"application/vnd.docker.distribution.manifest.v1+prettyjws\","
		"\"layers\":[]}";
	CHECK(msb_doc_kind(MSB_MT_DOCKER_MANIFEST, U8(s1), strlen(s1)) ==
	      MSB_DOC_UNKNOWN);
	/* no mediaType: the header, parameters ignored, any case */
	const char *bare = "{\"schemaVersion\":2,\"layers\":[]}";
	CHECK(msb_doc_kind(MSB_MT_OCI_INDEX, U8(bare), strlen(bare)) ==
	      MSB_DOC_INDEX);
	CHECK(msb_doc_kind("application/vnd.oci.image.index.v1+json; "
			   "charset=utf-8",
			   U8(bare), strlen(bare)) == MSB_DOC_INDEX);
	CHECK(msb_doc_kind(
		      " Application/VND.Docker.Distribution.Manifest.V2+JSON ;x=y",
		      U8("{}"), 2) == MSB_DOC_MANIFEST);
	/* a body that is not JSON: the header alone */
	CHECK(msb_doc_kind(MSB_MT_OCI_MANIFEST, U8("<html>"), 6) ==
	      MSB_DOC_MANIFEST);
	CHECK(msb_doc_kind(MSB_MT_OCI_INDEX, NULL, 0) == MSB_DOC_INDEX);
	/* neither: the shape */
	CHECK(msb_doc_kind("application/json", U8(bare), strlen(bare)) ==
	      MSB_DOC_MANIFEST);
	CHECK(msb_doc_kind(NULL, U8("{\"manifests\":[]}"), 16) ==
	      MSB_DOC_INDEX);
	CHECK(msb_doc_kind(NULL, U8("{\"manifests\":[],\"layers\":[]}"), 28) ==
	      MSB_DOC_UNKNOWN);
	CHECK(msb_doc_kind(NULL, U8("{}"), 2) == MSB_DOC_UNKNOWN);
	CHECK(msb_doc_kind(NULL, U8("[]"), 2) == MSB_DOC_UNKNOWN);
	CHECK(msb_doc_kind(NULL, U8("{\"mediaType\":7,\"layers\":[]}"), 27) ==
	      MSB_DOC_MANIFEST);
	CHECK(msb_doc_kind("text/plain", U8("garbage"), 7) == MSB_DOC_UNKNOWN);
	CHECK(msb_doc_kind(NULL, NULL, 0) == MSB_DOC_UNKNOWN);
	/* a content type longer than any media type */
	char longct[300];
	memset(longct, 'a', sizeof(longct) - 1);
	longct[sizeof(longct) - 1] = '\0';
	CHECK(msb_doc_kind(longct, NULL, 0) == MSB_DOC_UNKNOWN);
}

/* --- index --- */

static void test_index_oci(void)
{
	struct msb_index ix;
	const struct msb_descriptor *d;

	CHECK(msb_index_parse(&ix, U8(oci_index), strlen(oci_index)) == 0);
	CHECK(ix.n == 5);
	if (ix.n != 5)
		return;
	CHECK_STR(ix.manifests[0].media_type, MSB_MT_OCI_MANIFEST);
	CHECK_STR(ix.manifests[0].digest, D0);
	CHECK(ix.manifests[0].size == 1611);
	CHECK_STR(ix.manifests[0].os, "linux");
	CHECK_STR(ix.manifests[0].arch, "amd64");
	CHECK(ix.manifests[0].variant == NULL);
	CHECK(!ix.manifests[0].attestation);
	CHECK_STR(ix.manifests[2].variant, "v7");
	CHECK(ix.manifests[3].attestation);
	CHECK(ix.manifests[4].attestation);
	CHECK_STR(ix.manifests[4].os, "unknown");

	d = msb_index_select(&ix, "linux", "amd64", NULL);
	CHECK(d == &ix.manifests[0]);
	/* arm64 without a variant in the index is v8 */
	d = msb_index_select(&ix, "linux", "arm64", "v8");
	CHECK(d == &ix.manifests[1]);
	d = msb_index_select(&ix, "linux", "arm64", NULL);
	CHECK(d == &ix.manifests[1]);
	d = msb_index_select(&ix, "linux", "arm", "v7");
	CHECK(d == &ix.manifests[2]);
	CHECK(msb_index_select(&ix, "linux", "arm", "v6") == NULL);
	CHECK(msb_index_select(&ix, "unknown", "unknown", NULL) == NULL);
	CHECK(msb_index_select(&ix, "windows", "amd64", NULL) == NULL);
	CHECK(msb_index_select(&ix, "linux", "riscv64", NULL) == NULL);
	CHECK(msb_index_select(&ix, NULL, "amd64", NULL) == NULL);
	CHECK(msb_index_select(NULL, "linux", "amd64", NULL) == NULL);

	msb_index_clear(&ix);
	CHECK(ix.manifests == NULL && ix.n == 0);
	msb_index_clear(&ix);
	msb_index_clear(NULL);
}

static void test_index_docker(void)
{
	struct msb_index ix;
	const struct msb_descriptor *d;

	CHECK(msb_index_parse(&ix, U8(docker_list), strlen(docker_list)) == 0);
	CHECK(ix.n == 8);
	if (ix.n != 8)
		return;
	CHECK_STR(ix.manifests[7].os, "windows");
	CHECK(ix.manifests[7].size == 1125);
	d = msb_index_select(&ix, "linux", "arm64", NULL);
	CHECK(d == &ix.manifests[3]);
	d = msb_index_select(&ix, "linux", "arm64", "v8");
	CHECK(d == &ix.manifests[3]);
	CHECK(msb_index_select(&ix, "linux", "arm64", "v9") == NULL);
	d = msb_index_select(&ix, "linux", "arm", "v6");
	CHECK(d == &ix.manifests[1]);
	d = msb_index_select(&ix, "linux", "arm", "v7");
	CHECK(d == &ix.manifests[2]);
	/* no variant asked: the first arm entry */
	d = msb_index_select(&ix, "linux", "arm", NULL);
	CHECK(d == &ix.manifests[1]);
	CHECK(msb_index_select(&ix, "linux", "arm", "v5") == NULL);
	d = msb_index_select(&ix, "linux", "386", NULL);
	CHECK(d == &ix.manifests[4]);
	d = msb_index_select(&ix, "windows", "amd64", NULL);
	CHECK(d == &ix.manifests[7]);
	d = msb_index_select(&ix, "linux", "amd64", NULL);
	CHECK(d == &ix.manifests[0]);
	/* the digest to fetch next outlives nothing but the index */
	CHECK_STR(d->digest, D0);
	msb_index_clear(&ix);
}

static void test_index_select_rules(void)
{
	/* an entry without variant fits after exact ones; entries without
	 * platform, or marked attestation, never */
	const char *doc =
		"{\"schemaVersion\":2,\"manifests\":["
		"{\"digest\":\"" D0 "\",\"size\":1},"
		"{\"digest\":\"" D1 "\",\"size\":1,"
		"\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"},"
		"\"annotations\":{\"vnd.docker.reference.type\":\"attestation-manifest\"}},"
		"{\"digest\":\"" D2 "\",\"size\":1,"
		"\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\"}},"
		"{\"digest\":\"" D3 "\",\"size\":1,"
		"\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v6\"}},"
		"{\"digest\":\"" D4 "\",\"size\":1,"
		"\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}},"
		"{\"digest\":\"" D5 "\",\"size\":1,"
		"\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"},"
		"\"annotations\":{\"vnd.docker.reference.type\":\"other\"}}"
		"]}";
	struct msb_index ix;

	CHECK(msb_index_parse(&ix, U8(doc), strlen(doc)) == 0);
	if (ix.n != 6)
		return;
	CHECK(ix.manifests[0].media_type == NULL);
	CHECK(ix.manifests[0].os == NULL && ix.manifests[0].arch == NULL);
	CHECK(ix.manifests[1].attestation);
	CHECK(!ix.manifests[5].attestation);
	CHECK(msb_index_select(&ix, "linux", "amd64", NULL) ==
	      &ix.manifests[5]);
	CHECK(msb_index_select(&ix, "linux", "arm", "v6") == &ix.manifests[3]);
	CHECK(msb_index_select(&ix, "linux", "arm", "v7") == &ix.manifests[2]);
	CHECK(msb_index_select(&ix, "linux", "arm64", NULL) ==
	      &ix.manifests[4]);
	msb_index_clear(&ix);

	/* an empty index selects nothing */
	CHECK(msb_index_parse(&ix, U8("{\"manifests\":[]}"), 16) == 0);
	CHECK(ix.n == 0);
	CHECK(msb_index_select(&ix, "linux", "amd64", NULL) == NULL);
	msb_index_clear(&ix);
}

/* A rejected document: the code, the message fragment, a zeroed output. */
#define REJECT_INDEX(doc, frag)                                                \
	do {                                                                   \
		struct msb_index _ix;                                          \
		memset(&_ix, 0x5a, sizeof(_ix));                               \
		CHECK(msb_index_parse(&_ix, U8(doc), strlen(doc)) ==           \
		      -MSB_EPROTO);                                            \
		CHECK(_ix.manifests == NULL && _ix.n == 0);                    \
		if (!strstr(err(), frag))                                      \
			fprintf(stderr, "  got `%s`, want `%s`\n", err(),      \
				frag);                                         \
		CHECK(strstr(err(), frag) != NULL);                            \
	} while (0)

#define ENTRY(body)                                                            \
	"{\"manifests\":[{\"digest\":\"" D0 "\",\"size\":1}," body "]}"

static void test_index_reject(void)
{
	REJECT_INDEX("", "invalid image index: empty document");
	REJECT_INDEX("{", "invalid image index: line 1");
	REJECT_INDEX("{\"manifests\":[]} x", "invalid image index: line 1");
	REJECT_INDEX("[]", "invalid image index: not a JSON object");
	REJECT_INDEX("{\"manifests\":[],\"manifests\":[]}", "duplicate");
	REJECT_INDEX("{\"manifests\":[],\"x\":\"\xff\"}",
		     "invalid image index");
	REJECT_INDEX("{\"manifests\":[],\"x\":\"a\\u0000b\"}",
		     "invalid image index");
	REJECT_INDEX("{\"manifests\":[],\"x\":123456789012345678901234567890}",
		     "invalid image index");
	REJECT_INDEX("{}", "invalid image index: `manifests` is missing");
	REJECT_INDEX("{\"manifests\":{}}", "`manifests` is not an array");
	REJECT_INDEX("{\"schemaVersion\":1,\"manifests\":[]}",
		     "`schemaVersion` is not 2");
	REJECT_INDEX("{\"schemaVersion\":\"2\",\"manifests\":[]}",
		     "`schemaVersion` is not 2");
	REJECT_INDEX("{\"mediaType\":\"" MSB_MT_OCI_MANIFEST
		     "\",\"manifests\":[]}",
		     "`mediaType` is not the media type of an image index");
	REJECT_INDEX("{\"mediaType\":2,\"manifests\":[]}",
		     "`mediaType` is not a string");
	REJECT_INDEX(ENTRY("7"), "`manifests[1]` is not an object");
	REJECT_INDEX(ENTRY("{\"size\":1}"), "`manifests[1].digest` is missing");
	REJECT_INDEX(ENTRY("{\"digest\":\"sha256:abc\",\"size\":1}"),
		     "`manifests[1].digest` is not a digest");
	REJECT_INDEX(ENTRY("{\"digest\":1,\"size\":1}"),
		     "`manifests[1].digest` is not a digest");
	REJECT_INDEX(ENTRY("{\"digest\":\"" D1 "\"}"),
		     "`manifests[1].size` is missing");
	REJECT_INDEX(ENTRY("{\"digest\":\"" D1 "\",\"size\":-1}"),
		     "`manifests[1].size` is not a non-negative integer");
	REJECT_INDEX(ENTRY("{\"digest\":\"" D1 "\",\"size\":1.5}"),
		     "`manifests[1].size` is not a non-negative integer");
	REJECT_INDEX(ENTRY("{\"digest\":\"" D1 "\",\"size\":\"1\"}"),
		     "`manifests[1].size` is not a non-negative integer");
	REJECT_INDEX(ENTRY("{\"digest\":\"" D1 "\",\"size\":9007199254740993}"),
		     "`manifests[1].size` is larger than 2^53");
	REJECT_INDEX(ENTRY("{\"digest\":\"" D1 "\",\"size\":1,"
			   "\"mediaType\":[]}"),
		     "`manifests[1].mediaType` is not a string");
	REJECT_INDEX(ENTRY("{\"digest\":\"" D1 "\",\"size\":1,"
			   "\"platform\":\"linux/amd64\"}"),
		     "`manifests[1].platform` is not an object");
	REJECT_INDEX(ENTRY("{\"digest\":\"" D1 "\",\"size\":1,"
			   "\"platform\":{\"os\":1}}"),
		     "`manifests[1].platform.os` is not a string");
	REJECT_INDEX(
		ENTRY("{\"digest\":\"" D1 "\",\"size\":1,"
		      "\"platform\":{\"os\":\"linux\",\"architecture\":null}}"),
		"`manifests[1].platform.architecture` is not a string");
	REJECT_INDEX(ENTRY("{\"digest\":\"" D1 "\",\"size\":1,"
			   "\"platform\":{\"variant\":true}}"),
		     "`manifests[1].platform.variant` is not a string");
	REJECT_INDEX(ENTRY("{\"digest\":\"" D1 "\",\"size\":1,"
			   "\"annotations\":[]}"),
		     "`manifests[1].annotations` is not an object");

	/* the largest exact size is fine */
	const char *big =
		ENTRY("{\"digest\":\"" D1 "\",\"size\":9007199254740992}");
	struct msb_index ix;
	CHECK(msb_index_parse(&ix, U8(big), strlen(big)) == 0);
	CHECK(ix.n == 2 && ix.manifests[1].size == (UINT64_C(1) << 53));
	msb_index_clear(&ix);

	/* no buffer at all */
	CHECK(msb_index_parse(&ix, NULL, 5) == -MSB_EPROTO);
	CHECK(msb_index_parse(NULL, U8("{}"), 2) == -MSB_EINVAL);
}

static void test_index_limits(void)
{
	struct gen g = {0};
	struct msb_index ix;

	gen_add(&g, "{\"manifests\":[");
	for (unsigned i = 0; i < MSB_OCI_MAX_MANIFESTS; i++)
		gen_add(&g, "%s{\"digest\":\"%s\",\"size\":%u}", i ? "," : "",
			D0, i);
	gen_add(&g, "]}");
	CHECK(msb_index_parse(&ix, U8(g.s), g.len) == 0);
	CHECK(ix.n == MSB_OCI_MAX_MANIFESTS);
	CHECK(ix.n && ix.manifests[ix.n - 1].size == ix.n - 1);
	msb_index_clear(&ix);
	g.len -= 2;
	gen_add(&g, ",{\"digest\":\"%s\",\"size\":0}]}", D0);
	CHECK(msb_index_parse(&ix, U8(g.s), g.len) == -MSB_EPROTO);
	CHECK(strstr(err(), "`manifests` has more than 4096 entries") != NULL);
	free(g.s);

	/* exactly MSB_OCI_DOC_MAX bytes (padded with spaces), then one more */
	size_t n = MSB_OCI_DOC_MAX + 1;
	char *doc = malloc(n);
	if (!doc)
		abort();
	memset(doc, ' ', n);
	memcpy(doc, "{\"manifests\":[]}", 16);
	CHECK(msb_index_parse(&ix, U8(doc), MSB_OCI_DOC_MAX) == 0);
	msb_index_clear(&ix);
	CHECK(msb_index_parse(&ix, U8(doc), n) == -MSB_EPROTO);
	CHECK(strstr(err(),
		     "4194305 bytes is more than the limit of 4194304") !=
	      NULL);
	CHECK(msb_doc_kind(NULL, U8(doc), n) == MSB_DOC_UNKNOWN);
	CHECK(msb_doc_kind(NULL, U8(doc), MSB_OCI_DOC_MAX) == MSB_DOC_INDEX);
	free(doc);

	/* nesting beyond jansson's depth limit is a parse error, not a crash */
	struct gen deep = {0};
	gen_add(&deep, "{\"manifests\":[],\"x\":");
	for (int i = 0; i < 5000; i++)
		gen_add(&deep, "[");
	for (int i = 0; i < 5000; i++)
		gen_add(&deep, "]");
	gen_add(&deep, "}");
	CHECK(msb_index_parse(&ix, U8(deep.s), deep.len) == -MSB_EPROTO);
	CHECK(strstr(err(), "invalid image index: line 1") != NULL);
	free(deep.s);
}

/* --- manifest --- */

static void test_manifest(void)
{
	struct msb_manifest m;

	CHECK(msb_manifest_parse(&m, U8(oci_manifest), strlen(oci_manifest)) ==
	      0);
	CHECK_STR(m.config.media_type,
		  "application/vnd.oci.image.config.v1+json");
	CHECK_STR(m.config.digest, D5);
	CHECK(m.config.size == 7023);
	CHECK(m.nlayers == 3);
	if (m.nlayers == 3) {
		CHECK_STR(m.layers[0].media_type,
			  "application/vnd.oci.image.layer.v1.tar+gzip");
		CHECK_STR(m.layers[1].media_type,
			  "application/vnd.oci.image.layer.v1.tar+zstd");
		CHECK_STR(m.layers[2].digest, D8);
		CHECK(m.layers[2].size == 73109);
		for (size_t i = 0; i < m.nlayers; i++)
			CHECK(msb_layer_type_supported(m.layers[i].media_type));
		CHECK(m.layers[0].os == NULL);
	}
	msb_manifest_clear(&m);
	CHECK(m.layers == NULL && m.nlayers == 0 && m.config.digest == NULL);
	msb_manifest_clear(&m);
	msb_manifest_clear(NULL);

	CHECK(msb_manifest_parse(&m, U8(docker_manifest),
				 strlen(docker_manifest)) == 0);
	CHECK_STR(m.config.media_type,
		  "application/vnd.docker.container.image.v1+json");
	CHECK(m.nlayers == 1);
	if (m.nlayers == 1) {
		CHECK(m.layers[0].size == 3408729);
		CHECK(msb_layer_type_supported(m.layers[0].media_type));
	}
	msb_manifest_clear(&m);

	/* no layers at all is a valid (empty) image */
	const char *empty = "{\"schemaVersion\":2,\"config\":{\"mediaType\":"
			    "\"application/vnd.oci.image.config.v1+json\","
			    "\"digest\":\"" D0 "\",\"size\":2},\"layers\":[]}";
	CHECK(msb_manifest_parse(&m, U8(empty), strlen(empty)) == 0);
	CHECK(m.nlayers == 0 && m.layers != NULL);
	msb_manifest_clear(&m);
}

#define REJECT_MANIFEST(doc, frag)                                             \
	do {                                                                   \
		struct msb_manifest _m;                                        \
		memset(&_m, 0x5a, sizeof(_m));                                 \
		CHECK(msb_manifest_parse(&_m, U8(doc), strlen(doc)) ==         \
		      -MSB_EPROTO);                                            \
		CHECK(_m.layers == NULL && _m.nlayers == 0 &&                  \
		      _m.config.digest == NULL &&                              \
		      _m.config.media_type == NULL);                           \
		if (!strstr(err(), frag))                                      \
			fprintf(stderr, "  got `%s`, want `%s`\n", err(),      \
				frag);                                         \
		CHECK(strstr(err(), frag) != NULL);                            \
	} while (0)

#define CFG "\"config\":{\"mediaType\":\"c\",\"digest\":\"" D0 "\",\"size\":2}"
#define LAYER(i) "{\"mediaType\":\"l\",\"digest\":\"" D##i "\",\"size\":" #i "}"

static void test_manifest_reject(void)
{
	REJECT_MANIFEST("", "invalid image manifest: empty document");
	REJECT_MANIFEST("nope", "invalid image manifest: line 1");
	REJECT_MANIFEST("\"s\"", "invalid image manifest: line 1");
	REJECT_MANIFEST("{" CFG ",\"layers\":[]}",
			"invalid image manifest: `schemaVersion` is missing");
	REJECT_MANIFEST("{\"schemaVersion\":1," CFG ",\"layers\":[]}",
			"`schemaVersion` is not 2");
	REJECT_MANIFEST("{\"schemaVersion\":2.0," CFG ",\"layers\":[]}",
			"`schemaVersion` is not 2");
	REJECT_MANIFEST(
		"{\"schemaVersion\":2,\"mediaType\":\"" MSB_MT_DOCKER_LIST
		"\"," CFG ",\"layers\":[]}",
		"`mediaType` is not the media type of an image manifest");
	REJECT_MANIFEST("{\"schemaVersion\":2,\"layers\":[]}",
			"`config` is missing");
	REJECT_MANIFEST("{\"schemaVersion\":2,\"config\":[],\"layers\":[]}",
			"`config` is not an object");
	REJECT_MANIFEST("{\"schemaVersion\":2,\"config\":{\"digest\":\"" D0
			"\",\"size\":2},\"layers\":[]}",
			"`config.mediaType` is missing");
	REJECT_MANIFEST("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"c\","
			"\"digest\":\"" D0 "\",\"size\":-2},\"layers\":[]}",
			"`config.size` is not a non-negative integer");
	REJECT_MANIFEST("{\"schemaVersion\":2," CFG "}", "`layers` is missing");
	REJECT_MANIFEST("{\"schemaVersion\":2," CFG ",\"layers\":null}",
			"`layers` is not an array");
	REJECT_MANIFEST("{\"schemaVersion\":2," CFG
			",\"layers\":[" LAYER(1) ","
						 "{\"digest\":\"" D2
						 "\",\"size\":1}]}",
			"`layers[1].mediaType` is missing");
	REJECT_MANIFEST(
		"{\"schemaVersion\":2," CFG ",\"layers\":[" LAYER(1) "," LAYER(
			2) ",{\"mediaType\":\"l\",\"digest\":"
			   "\"sha256:"
			   "XYZ\",\"size\":1}]}",
		"invalid image manifest: `layers[2].digest` is not a digest");
	REJECT_MANIFEST("{\"schemaVersion\":2," CFG ",\"layers\":[" LAYER(
				1) ","
				   "{\"mediaType\":\"l\",\"digest\":\"" D2
				   "\"}]}",
			"`layers[1].size` is missing");
	REJECT_MANIFEST("{\"schemaVersion\":2," CFG ",\"layers\":[[]]}",
			"`layers[0]` is not an object");
	REJECT_MANIFEST("{\"schemaVersion\":2," CFG ",\"layers\":[]"
			",\"layers\":[]}",
			"duplicate");
}

static void test_manifest_limits(void)
{
	struct gen g = {0};
	struct msb_manifest m;

	gen_add(&g, "{\"schemaVersion\":2," CFG ",\"layers\":[");
	for (unsigned i = 0; i < MSB_OCI_MAX_LAYERS; i++)
		gen_add(&g,
			"%s{\"mediaType\":\"%s\",\"digest\":\"%s\","
			"\"size\":%u}",
			i ? "," : "", "application/vnd.oci.image.layer.v1.tar",
			D3, i);
	gen_add(&g, "]}");
	CHECK(msb_manifest_parse(&m, U8(g.s), g.len) == 0);
	CHECK(m.nlayers == MSB_OCI_MAX_LAYERS);
	msb_manifest_clear(&m);
	g.len -= 2;
	gen_add(&g, "," LAYER(4) "]}");
	CHECK(msb_manifest_parse(&m, U8(g.s), g.len) == -MSB_EPROTO);
	CHECK(strstr(err(), "`layers` has more than 1024 entries") != NULL);
	free(g.s);
}

static void test_layer_types(void)
{
	static const char *const ok[] = {
		"application/vnd.oci.image.layer.v1.tar",
		"application/vnd.oci.image.layer.v1.tar+gzip",
		"application/vnd.oci.image.layer.v1.tar+zstd",
		"application/vnd.oci.image.layer.nondistributable.v1.tar",
		"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
		"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
		"application/vnd.docker.image.rootfs.diff.tar.gzip",
		"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
	};
	static const char *const no[] = {
		"",
		"application/vnd.oci.image.layer.v1.tar+bzip2",
		"application/vnd.oci.image.config.v1+json",
		"application/vnd.oci.image.manifest.v1+json",
		"application/vnd.in-toto+json",
		"application/vnd.oci.image.layer.v1.tar+gzip+encrypted",
		"application/vnd.oci.image.layer.v1.tar+gzip ",
		"application/vnd.docker.image.rootfs.diff.tar.gzi",
		"application/vnd.cncf.helm.chart.content.v1.tar+gzip",
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		CHECK(msb_layer_type_supported(ok[i]));
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		CHECK(!msb_layer_type_supported(no[i]));
	CHECK(!msb_layer_type_supported(NULL));
}

static void test_digest_valid(void)
{
	char d[200];

	CHECK(msb_digest_valid(D0));
	snprintf(d, sizeof(d), "sha512:%s%s", D1 + 7, D2 + 7);
	CHECK(msb_digest_valid(d));
	d[strlen(d) - 1] = '\0';
	CHECK(!msb_digest_valid(d));
	CHECK(!msb_digest_valid(NULL));
	CHECK(!msb_digest_valid(""));
	CHECK(!msb_digest_valid("sha256:"));
	CHECK(!msb_digest_valid(D0 "0"));
	snprintf(d, sizeof(d), "%s", D0);
	d[strlen(d) - 1] = '\0';
	CHECK(!msb_digest_valid(d));
	snprintf(d, sizeof(d), "%s", D0);
	d[10] = 'A';
	CHECK(!msb_digest_valid(d));
	d[10] = 'g';
	CHECK(!msb_digest_valid(d));
	snprintf(d, sizeof(d), "SHA256:%s", D0 + 7);
	CHECK(!msb_digest_valid(d));
	snprintf(d, sizeof(d), "sha384:%s%s", D0 + 7,
		 "0123456789abcdef0123456789abcdef");
	CHECK(!msb_digest_valid(d));
	snprintf(d, sizeof(d), "sha256-%s", D0 + 7);
	CHECK(!msb_digest_valid(d));
	snprintf(d, sizeof(d), " %s", D0);
	CHECK(!msb_digest_valid(d));
}

/* --- config --- */

static size_t strv_len(char **v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

static void test_config(void)
{
	struct msb_image_config c;

	CHECK(msb_config_parse(&c, U8(full_config), strlen(full_config)) == 0);
	CHECK_STR(c.os, "linux");
	CHECK_STR(c.arch, "arm64");
	CHECK_STR(c.variant, "v8");
	CHECK_STR(c.created, "2023-12-19T03:16:46.548034588Z");
	CHECK(strv_len(c.env) == 4);
	if (strv_len(c.env) == 4) {
		CHECK_STR(c.env[1], "NGINX_VERSION=1.25.3");
		CHECK_STR(c.env[3], "EMPTY=");
	}
	CHECK(strv_len(c.entrypoint) == 1);
	CHECK(strv_len(c.cmd) == 3);
	if (strv_len(c.cmd) == 3)
		CHECK_STR(c.cmd[2], "daemon off;");
	CHECK_STR(c.workdir, "/srv/www");
	CHECK_STR(c.user, "101:101");
	CHECK(c.ndiff_ids == 3);
	CHECK(strv_len(c.diff_ids) == 3);
	if (c.ndiff_ids == 3)
		CHECK_STR(c.diff_ids[2], D3);
	msb_config_clear(&c);
	CHECK(!c.os && !c.env && !c.diff_ids && c.ndiff_ids == 0);
	msb_config_clear(&c);
	msb_config_clear(NULL);

	CHECK(msb_config_parse(&c, U8(null_config), strlen(null_config)) == 0);
	CHECK(c.env == NULL && c.entrypoint == NULL && c.cmd == NULL);
	CHECK(c.created == NULL && c.variant == NULL);
	CHECK_STR(c.workdir, "");
	CHECK_STR(c.user, "");
	CHECK(c.diff_ids != NULL && c.diff_ids[0] == NULL);
	CHECK(c.ndiff_ids == 0);
	msb_config_clear(&c);

	/* minimal: no "config" at all, or null, and empty arrays */
	const char *min =
		"{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D0 "\"]}}";
	CHECK(msb_config_parse(&c, U8(min), strlen(min)) == 0);
	CHECK(!c.os && !c.arch && !c.env && !c.workdir && !c.user);
	CHECK(c.ndiff_ids == 1);
	msb_config_clear(&c);
	const char *nul = "{\"config\":null,\"rootfs\":{\"type\":\"layers\","
			  "\"diff_ids\":[]}}";
	CHECK(msb_config_parse(&c, U8(nul), strlen(nul)) == 0);
	msb_config_clear(&c);
	const char *emp = "{\"config\":{\"Cmd\":[],\"Env\":[]},\"rootfs\":"
			  "{\"type\":\"layers\",\"diff_ids\":[]}}";
	CHECK(msb_config_parse(&c, U8(emp), strlen(emp)) == 0);
	CHECK(c.cmd && c.cmd[0] == NULL && c.env && c.env[0] == NULL);
	msb_config_clear(&c);
}

#define REJECT_CONFIG(doc, frag)                                               \
	do {                                                                   \
		struct msb_image_config _c;                                    \
		memset(&_c, 0x5a, sizeof(_c));                                 \
		CHECK(msb_config_parse(&_c, U8(doc), strlen(doc)) ==           \
		      -MSB_EPROTO);                                            \
		CHECK(!_c.os && !_c.env && !_c.cmd && !_c.diff_ids &&          \
		      !_c.workdir && _c.ndiff_ids == 0);                       \
		if (!strstr(err(), frag))                                      \
			fprintf(stderr, "  got `%s`, want `%s`\n", err(),      \
				frag);                                         \
		CHECK(strstr(err(), frag) != NULL);                            \
	} while (0)

#define ROOTFS "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D0 "\"]}"

static void test_config_reject(void)
{
	REJECT_CONFIG("", "invalid image config: empty document");
	REJECT_CONFIG("{\"os\":\"linux\"", "invalid image config: line 1");
	REJECT_CONFIG("{\"os\":\"linux\"}", "`rootfs` is missing");
	REJECT_CONFIG("{\"os\":1," ROOTFS "}", "`os` is not a string");
	REJECT_CONFIG("{\"architecture\":[]," ROOTFS "}",
		      "`architecture` is not a string");
	REJECT_CONFIG("{\"variant\":{}," ROOTFS "}",
		      "`variant` is not a string");
	REJECT_CONFIG("{\"created\":20240101," ROOTFS "}",
		      "`created` is not a string");
	REJECT_CONFIG("{\"config\":[]," ROOTFS "}",
		      "`config` is not an object");
	REJECT_CONFIG(
		"{\"config\":{\"Env\":[\"A=1\",\"B=2\",\"C=3\",4]}," ROOTFS "}",
		"invalid image config: `config.Env[3]` is not a string");
	REJECT_CONFIG("{\"config\":{\"Env\":\"A=1\"}," ROOTFS "}",
		      "`config.Env` is not an array");
	REJECT_CONFIG("{\"config\":{\"Entrypoint\":\"/bin/sh -c\"}," ROOTFS "}",
		      "`config.Entrypoint` is not an array");
	REJECT_CONFIG("{\"config\":{\"Cmd\":[null]}," ROOTFS "}",
		      "`config.Cmd[0]` is not a string");
	REJECT_CONFIG("{\"config\":{\"WorkingDir\":1}," ROOTFS "}",
		      "`config.WorkingDir` is not a string");
	REJECT_CONFIG("{\"config\":{\"User\":0}," ROOTFS "}",
		      "`config.User` is not a string");
	REJECT_CONFIG("{\"rootfs\":[]}", "`rootfs` is not an object");
	REJECT_CONFIG("{\"rootfs\":{\"diff_ids\":[]}}",
		      "`rootfs.type` is missing");
	REJECT_CONFIG("{\"rootfs\":{\"type\":\"layer\",\"diff_ids\":[]}}",
		      "`rootfs.type` is not `layers`");
	REJECT_CONFIG("{\"rootfs\":{\"type\":1,\"diff_ids\":[]}}",
		      "`rootfs.type` is not `layers`");
	REJECT_CONFIG("{\"rootfs\":{\"type\":\"layers\"}}",
		      "`rootfs.diff_ids` is missing");
	REJECT_CONFIG("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":{}}}",
		      "`rootfs.diff_ids` is not an array");
	REJECT_CONFIG("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D0
		      "\",\"sha256:00\"]}}",
		      "`rootfs.diff_ids[1]` is not a digest");
	REJECT_CONFIG("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D0
		      "\",\"" D1 "\",3]}}",
		      "`rootfs.diff_ids[2]` is not a digest");
	/* an error late in the document frees what was built before it */
	REJECT_CONFIG(
		"{\"os\":\"linux\",\"config\":{\"Env\":[\"A=1\"],"
		"\"Cmd\":[\"sh\"],\"WorkingDir\":\"/\",\"User\":\"root\"},"
		"\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D0
		"\",\"bad\"]}}",
		"`rootfs.diff_ids[1]` is not a digest");
	REJECT_CONFIG("{\"config\":{\"Env\":[],\"Env\":[]}," ROOTFS "}",
		      "duplicate");
}

static void test_config_limits(void)
{
	struct gen g = {0};
	struct msb_image_config c;

	/* MSB_OCI_MAX_STRINGS over the whole document: Env + Cmd */
	gen_add(&g, "{\"config\":{\"Env\":[");
	for (unsigned i = 0; i < MSB_OCI_MAX_STRINGS / 2; i++)
		gen_add(&g, "%s\"V%u=x\"", i ? "," : "", i);
	gen_add(&g, "],\"Cmd\":[");
	for (unsigned i = 0; i < MSB_OCI_MAX_STRINGS / 2; i++)
		gen_add(&g, "%s\"a\"", i ? "," : "");
	size_t mark = g.len;
	gen_add(&g, "]}," ROOTFS "}");
	CHECK(msb_config_parse(&c, U8(g.s), g.len) == 0);
	CHECK(strv_len(c.env) + strv_len(c.cmd) == MSB_OCI_MAX_STRINGS);
	msb_config_clear(&c);
	g.len = mark;
	gen_add(&g, ",\"b\"]}," ROOTFS "}");
	CHECK(msb_config_parse(&c, U8(g.s), g.len) == -MSB_EPROTO);
	CHECK(strstr(err(),
		     "`config.Cmd` takes the document over 65536 strings") !=
	      NULL);
	free(g.s);

	/* rootfs.diff_ids: at most MSB_OCI_MAX_LAYERS */
	struct gen d = {0};
	gen_add(&d, "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[");
	for (unsigned i = 0; i < MSB_OCI_MAX_LAYERS; i++)
		gen_add(&d, "%s\"%s\"", i ? "," : "", D4);
	mark = d.len;
	gen_add(&d, "]}}");
	CHECK(msb_config_parse(&c, U8(d.s), d.len) == 0);
	CHECK(c.ndiff_ids == MSB_OCI_MAX_LAYERS);
	CHECK(c.diff_ids && c.diff_ids[MSB_OCI_MAX_LAYERS] == NULL);
	msb_config_clear(&c);
	d.len = mark;
	gen_add(&d, ",\"%s\"]}}", D4);
	CHECK(msb_config_parse(&c, U8(d.s), d.len) == -MSB_EPROTO);
	CHECK(strstr(err(), "`rootfs.diff_ids` has more than 1024 entries") !=
	      NULL);
	free(d.s);
}

static void test_host_platform(void)
{
	const char *os = NULL, *arch = NULL, *variant = "x";
	struct utsname u;

	msb_host_platform(&os, &arch, &variant);
	CHECK_STR(os, "linux");
	CHECK(arch != NULL);
	CHECK(uname(&u) == 0);
	if (!strcmp(u.machine, "x86_64")) {
		CHECK_STR(arch, "amd64");
		CHECK(variant == NULL);
	} else if (!strcmp(u.machine, "aarch64")) {
		CHECK_STR(arch, "arm64");
		CHECK_STR(variant, "v8");
	}
	/* any out-param may be omitted */
	msb_host_platform(NULL, NULL, NULL);
	msb_host_platform(NULL, &arch, NULL);
	CHECK(arch != NULL);
}

/* Parse @s and format it again: the normal form, or NULL if refused. */
static const char *platform_norm(const char *s)
{
	static char buf[64];
	struct msb_platform p;

	if (msb_platform_parse(&p, s) < 0)
		return NULL;
	msb_platform_format(&p, buf, sizeof(buf));
	return buf;
}

static void test_platform_parse(void)
{
	struct msb_platform p, q;

	CHECK_STR(platform_norm("linux/amd64"), "linux/amd64");
	CHECK_STR(platform_norm("linux/arm64"), "linux/arm64");
	CHECK_STR(platform_norm("linux/arm64/v8"), "linux/arm64/v8");
	CHECK_STR(platform_norm("linux/arm64/v8.2"), "linux/arm64/v8.2");
	CHECK_STR(platform_norm("linux/arm/v7"), "linux/arm/v7");
	CHECK_STR(platform_norm("linux/amd64/v3"), "linux/amd64/v3");
	CHECK_STR(platform_norm("linux/x86_64"), "linux/amd64");
	CHECK_STR(platform_norm("linux/aarch64"), "linux/arm64");
	CHECK_STR(platform_norm("windows/amd64"), "windows/amd64");
	CHECK_STR(platform_norm("linux/s390x"), "linux/s390x");
	CHECK_STR(platform_norm("linux/riscv64"), "linux/riscv64");

	/* refused, with a message naming the input */
	const char *bad[] = {
		"",
		"bogus",
		"linux",
		"linux/",
		"/amd64",
		"linux//v7",
		"linux/amd64/",
		"linux/amd64/v7/x",
		"linux/bogus",
		"bogus/amd64",
		"Linux/amd64",
		"linux/AMD64",
		"linux/arm/v9",
		"linux/arm64/v7",
		"linux/amd64/v5",
		"linux/386/v1",
		"linux/arm64/v8.x",
		"linux/arm64/v8.10x",
		"linux/amd\x1b",
		"linux/amd64 ",
		"linux/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (platform_norm(bad[i]) != NULL)
			fprintf(stderr, "accepted `%s`\n", bad[i]);
		CHECK(platform_norm(bad[i]) == NULL);
		CHECK(msb_last_error()->code == MSB_EINVAL);
		CHECK(strstr(msb_last_error()->message, "invalid platform") !=
		      NULL);
		CHECK(!strchr(msb_last_error()->message, '\x1b'));
	}
	CHECK(msb_platform_parse(&p, NULL) == -MSB_EINVAL);
	CHECK(msb_platform_parse(&p, "bogus") == -MSB_EINVAL);
	CHECK(strstr(msb_last_error()->message, "`bogus`") != NULL);
	CHECK(msb_platform_parse(&p, "linux/sparc") == -MSB_EINVAL);
	CHECK(strstr(msb_last_error()->message,
		     "unknown architecture `sparc`"));

	/* matching: variants count only when both name one */
	CHECK(msb_platform_parse(&p, "linux/arm64") == 0);
	CHECK(msb_platform_parse(&q, "linux/arm64/v8") == 0);
	CHECK(msb_platform_match(&p, &q));
	CHECK(msb_platform_parse(&q, "linux/amd64") == 0);
	CHECK(!msb_platform_match(&p, &q));
	CHECK(msb_platform_parse(&p, "linux/arm/v6") == 0);
	CHECK(msb_platform_parse(&q, "linux/arm/v7") == 0);
	CHECK(!msb_platform_match(&p, &q));
	CHECK(msb_platform_parse(&q, "linux/arm") == 0);
	CHECK(msb_platform_match(&p, &q));
	CHECK(msb_platform_parse(&q, "windows/arm/v6") == 0);
	CHECK(!msb_platform_match(&p, &q));

	/* the host's own platform parses, and matches itself */
	msb_platform_host(&p);
	char buf[64];
	msb_platform_format(&p, buf, sizeof(buf));
	CHECK(msb_platform_parse(&q, buf) == 0);
	CHECK(msb_platform_match(&p, &q));
}

static void test_descriptor_clear(void)
{
	struct msb_descriptor d = {0};

	d.digest = strdup(D0);
	d.os = strdup("linux");
	d.attestation = true;
	msb_descriptor_clear(&d);
	CHECK(!d.digest && !d.os && !d.attestation);
	msb_descriptor_clear(&d);
	msb_descriptor_clear(NULL);
}

int main(void)
{
	test_doc_kind();
	test_index_oci();
	test_index_docker();
	test_index_select_rules();
	test_index_reject();
	test_index_limits();
	test_manifest();
	test_manifest_reject();
	test_manifest_limits();
	test_layer_types();
	test_digest_valid();
	test_config();
	test_config_reject();
	test_config_limits();
	test_host_platform();
	test_platform_parse();
	test_descriptor_clear();
	return check_summary("test_oci");
}
