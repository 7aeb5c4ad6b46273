/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OCI and Docker image documents: index / manifest list, manifest, config.
 * Parsers are pure functions over (buf, len) using jansson (which rejects
 * duplicate keys, invalid UTF-8 and oversized integers), bounded by the
 * limits below; they return 0 or -MSB_EPROTO with the thread's error set
 * ("invalid image manifest: `layers[2].digest` is not a digest").
 */
#ifndef MSB_IMAGE_OCI_H
#define MSB_IMAGE_OCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MSB_MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MSB_MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MSB_MT_DOCKER_LIST                                                     \
	"application/vnd.docker.distribution.manifest.list.v2+json"
#define MSB_MT_DOCKER_MANIFEST                                                 \
	"application/vnd.docker.distribution.manifest.v2+json"

#define MSB_OCI_DOC_MAX (4u << 20) /* manifest, index or config bytes */
#define MSB_OCI_MAX_LAYERS 1024
#define MSB_OCI_MAX_MANIFESTS 4096
#define MSB_OCI_MAX_STRINGS 65536 /* env/cmd/entrypoint entries */

enum msb_doc_kind {
	MSB_DOC_UNKNOWN = 0,
	MSB_DOC_INDEX,    /* OCI index or Docker manifest list */
	MSB_DOC_MANIFEST, /* OCI or Docker v2 image manifest */
};

/*
 * msb_doc_kind() - what a manifest response is. The body's "mediaType"
 * wins; without one, the Content-Type header (parameters after ';'
 * ignored); without either, the shape ("manifests" → index, "layers" →
 * manifest).
 */
enum msb_doc_kind msb_doc_kind(const char *content_type, const uint8_t *body,
			       size_t len);

struct msb_descriptor {
	char *media_type;
	char *digest; /* validated with msb_digest_valid() */
	uint64_t size;
	/* platform, index entries only (NULL if absent) */
	char *os;
	char *arch;
	char *variant;
	/* annotated "vnd.docker.reference.type": "attestation-manifest" */
	bool attestation;
};

struct msb_index {
	struct msb_descriptor *manifests;
	size_t n;
};

struct msb_manifest {
	struct msb_descriptor config;
	struct msb_descriptor *layers;
	size_t nlayers;
};

/* Layer media types we can unpack: tar, tar+gzip, tar+zstd (OCI and
 * Docker names). */
bool msb_layer_type_supported(const char *media_type);

struct msb_image_config {
	char *os;
	char *arch;
	char *variant;
	char *created; /* RFC 3339 or NULL */
	char **env;    /* NULL-terminated arrays; NULL when absent */
	char **entrypoint;
	char **cmd;
	char *workdir;   /* NULL when absent */
	char *user;      /* NULL when absent */
	char **diff_ids; /* rootfs.diff_ids, NULL-terminated, never NULL */
	size_t ndiff_ids;
};

int msb_index_parse(struct msb_index *out, const uint8_t *buf, size_t len);
int msb_manifest_parse(struct msb_manifest *out, const uint8_t *buf,
		       size_t len);
int msb_config_parse(struct msb_image_config *out, const uint8_t *buf,
		     size_t len);

/*
 * msb_index_select() - the manifest for a platform: exact os/arch, then
 * variant when given (for arm64 a missing variant matches "v8"). NULL if
 * none; attestation entries ("unknown/unknown", or @attestation set) are
 * never chosen.
 */
const struct msb_descriptor *msb_index_select(const struct msb_index *ix,
					      const char *os, const char *arch,
					      const char *variant);

/* The host platform in OCI terms ("linux", "amd64" / "arm64", variant). */
void msb_host_platform(const char **os, const char **arch,
		       const char **variant);

/* A platform, os/arch[/variant], each part one of OCI's known values. */
struct msb_platform {
	char os[16];
	char arch[16];
	char variant[16]; /* "" if none */
};

/*
 * msb_platform_parse() - parse "os/arch[/variant]" into @out. The os and
 * the architecture must be values the OCI image index specification lists
 * (the Go GOOS/GOARCH values); "x86_64" and "aarch64" are read as "amd64"
 * and "arm64". The variant must be one known for the architecture (arm:
 * v5-v8; arm64: v8, v8.N, v9, v9.N; amd64: v1-v4). Return 0, or
 * -MSB_EINVAL ("invalid platform `…`: …").
 */
int msb_platform_parse(struct msb_platform *out, const char *s);
/* The host platform (msb_host_platform()) as a struct. */
void msb_platform_host(struct msb_platform *out);
/* "os/arch[/variant]" into @buf (always terminated). */
void msb_platform_format(const struct msb_platform *p, char *buf, size_t len);
/* Same os and architecture, and same variant when both name one (arm64:
 * none means v8). */
bool msb_platform_match(const struct msb_platform *a,
			const struct msb_platform *b);

/* "sha256:" + 64 lowercase hex (or "sha512:" + 128). */
bool msb_digest_valid(const char *d);

void msb_descriptor_clear(struct msb_descriptor *d);
void msb_index_clear(struct msb_index *ix);
void msb_manifest_clear(struct msb_manifest *m);
void msb_config_clear(struct msb_image_config *c);

#endif
