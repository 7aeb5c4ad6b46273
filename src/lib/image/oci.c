// SPDX-License-Identifier: Apache-2.0
/*
 * OCI and Docker image documents: index, manifest and config parsers.
 *
 * Theory of operation: a document is untrusted registry output. It is
 * refused above MSB_OCI_DOC_MAX bytes, then parsed by jansson (strict JSON:
 * duplicate keys, invalid UTF-8, NUL in strings, overflowing integers and
 * nesting beyond JSON_PARSER_MAX_DEPTH are errors). The tree is walked
 * once, checking the type of every field we use and bounding every array
 * by the limits in oci.h, and copied into plain C structures; the caller
 * never sees jansson. Fields we do not use are ignored, as the specs ask.
 * On error the output is left zeroed and the message names the document
 * and the field path ("invalid image manifest: `layers[2].digest` is not
 * a digest").
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/utsname.h>

#include "lib/image/oci.h"
#include "lib/internal.h"

#define DESC_SIZE_MAX                                                          \
	(UINT64_C(1) << 53) /* largest size JSON carries exactly */
#define PATH_LEN 96         /* a field path: "manifests[4095].x" */

static const char doc_index[] = "image index";
static const char doc_manifest[] = "image manifest";
static const char doc_config[] = "image config";

/* json_decrefp() comes with jansson (2.9 and later) */
#define _cleanup_json_ __attribute__((cleanup(json_decrefp)))

static int enomem(const char *doc)
{
	return msb__error(MSB_ENOMEM, ENOMEM, "parse %s: out of memory", doc);
}

/* "invalid <doc>: `<path>` <what>" */
__attribute__((format(printf, 3, 4))) static int
bad(const char *doc, const char *path, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return msb__error(MSB_EPROTO, 0, "invalid %s: `%s` %s", doc, path,
			  what);
}

/* Parse @buf as one JSON object, within the size limit. */
static int load(json_t **out, const char *doc, const uint8_t *buf, size_t len)
{
	json_error_t e;
	json_t *j;

	*out = NULL;
	if (!buf || len == 0)
		return msb__error(MSB_EPROTO, 0, "invalid %s: empty document",
				  doc);
	if (len > MSB_OCI_DOC_MAX)
		return msb__error(
			MSB_EPROTO, 0,
			"invalid %s: %zu bytes is more than the limit of %u",
			doc, len, MSB_OCI_DOC_MAX);
	j = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &e);
	if (!j) {
		/* jansson quotes input in its text */
		return msb__error(MSB_EPROTO, 0,
				  "invalid %s: line %d column %d: %s", doc,
				  e.line, e.column, msb_printable(e.text));
	}
	if (!json_is_object(j)) {
		json_decref(j);
		return msb__error(MSB_EPROTO, 0,
				  "invalid %s: not a JSON object", doc);
	}
	*out = j;
	return 0;
}

/*
 * An optional string member: NULL in *@out when absent (or null, when
 * @null_ok). Error when present with another type.
 */
static int opt_str(char **out, const char *doc, const json_t *obj,
		   const char *key, const char *path, bool null_ok)
{
	const json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (!v || (null_ok && json_is_null(v)))
		return 0;
	if (!json_is_string(v))
		return bad(doc, path, "is not a string");
	if (!(*out = strdup(json_string_value(v))))
		return enomem(doc);
	return 0;
}

static int req_str(char **out, const char *doc, const json_t *obj,
		   const char *key, const char *path)
{
	int rc = opt_str(out, doc, obj, key, path, false);

	if (rc == 0 && !*out)
		return bad(doc, path, "is missing");
	return rc;
}

/* schemaVersion: must be 2 when present; @required when it must be. */
static int check_schema(const char *doc, const json_t *root, bool required)
{
	const json_t *v = json_object_get(root, "schemaVersion");

	if (!v)
		return required ? bad(doc, "schemaVersion", "is missing") : 0;
	if (!json_is_integer(v) || json_integer_value(v) != 2)
		return bad(doc, "schemaVersion", "is not 2");
	return 0;
}

static bool is_attestation(const json_t *annotations)
{
	const json_t *v =
		json_object_get(annotations, "vnd.docker.reference.type");

	return json_is_string(v) &&
	       !strcmp(json_string_value(v), "attestation-manifest");
}

/*
 * parse_descriptor() - one descriptor object at @path of @doc.
 * @need_type: mediaType is required (else optional).
 * @platform: read "platform" and "annotations" (index entries).
 */
static int parse_descriptor(struct msb_descriptor *d, const char *doc,
			    const json_t *j, const char *path, bool need_type,
			    bool platform)
{
	char p[PATH_LEN];
	const json_t *v;
	const char *s;
	int rc;

	if (!json_is_object(j))
		return bad(doc, path, "is not an object");
	snprintf(p, sizeof(p), "%s.mediaType", path);
	if ((rc = need_type ? req_str(&d->media_type, doc, j, "mediaType", p)
			    : opt_str(&d->media_type, doc, j, "mediaType", p,
				      false)) < 0)
		return rc;

	snprintf(p, sizeof(p), "%s.digest", path);
	v = json_object_get(j, "digest");
	if (!v)
		return bad(doc, p, "is missing");
	s = json_string_value(v);
	if (!s || !msb_digest_valid(s))
		return bad(doc, p, "is not a digest");
	if (!(d->digest = strdup(s)))
		return enomem(doc);

	snprintf(p, sizeof(p), "%s.size", path);
	v = json_object_get(j, "size");
	if (!v)
		return bad(doc, p, "is missing");
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return bad(doc, p, "is not a non-negative integer");
	if ((uint64_t)json_integer_value(v) > DESC_SIZE_MAX)
		return bad(doc, p, "is larger than 2^53");
	d->size = (uint64_t)json_integer_value(v);

	if (!platform)
		return 0;
	v = json_object_get(j, "platform");
	if (v) {
		if (!json_is_object(v)) {
			snprintf(p, sizeof(p), "%s.platform", path);
			return bad(doc, p, "is not an object");
		}
		static const char *const keys[] = {"os", "architecture",
						   "variant"};
		char **dst[] = {&d->os, &d->arch, &d->variant};

		for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
			snprintf(p, sizeof(p), "%s.platform.%s", path, keys[i]);
			rc = opt_str(dst[i], doc, v, keys[i], p, false);
			if (rc < 0)
				return rc;
		}
	}
	v = json_object_get(j, "annotations");
	if (v && !json_is_object(v)) {
		snprintf(p, sizeof(p), "%s.annotations", path);
		return bad(doc, p, "is not an object");
	}
	d->attestation = is_attestation(v);
	return 0;
}

/* A required array member of at most @max entries. */
static int req_array(const json_t **out, const char *doc, const json_t *obj,
		     const char *key, size_t max)
{
	const json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (!v)
		return bad(doc, key, "is missing");
	if (!json_is_array(v))
		return bad(doc, key, "is not an array");
	if (json_array_size(v) > max)
		return bad(doc, key, "has more than %zu entries", max);
	*out = v;
	return 0;
}

static bool is_index_type(const char *s)
{
	return !strcasecmp(s, MSB_MT_OCI_INDEX) ||
	       !strcasecmp(s, MSB_MT_DOCKER_LIST);
}

static bool is_manifest_type(const char *s)
{
	return !strcasecmp(s, MSB_MT_OCI_MANIFEST) ||
	       !strcasecmp(s, MSB_MT_DOCKER_MANIFEST);
}

/* The document's own mediaType, when present, must be of its kind. */
static int check_own_type(const char *doc, const json_t *root,
			  bool (*ok)(const char *))
{
	const json_t *v = json_object_get(root, "mediaType");

	if (!v)
		return 0;
	if (!json_is_string(v))
		return bad(doc, "mediaType", "is not a string");
	if (!ok(json_string_value(v)))
		return bad(doc, "mediaType", "is not the media type of an %s",
			   doc);
	return 0;
}

enum msb_doc_kind msb_doc_kind(const char *content_type, const uint8_t *body,
			       size_t len)
{
	_cleanup_json_ json_t *j = NULL;
	const char *mt;

	if (body && len > 0 && len <= MSB_OCI_DOC_MAX) {
		j = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES,
			       NULL);
		if (j && !json_is_object(j)) {
			json_decref(j);
			j = NULL;
		}
	}
	if ((mt = json_string_value(json_object_get(j, "mediaType")))) {
		if (is_index_type(mt))
			return MSB_DOC_INDEX;
		if (is_manifest_type(mt))
			return MSB_DOC_MANIFEST;
		return MSB_DOC_UNKNOWN;
	}
	if (content_type) {
		char ct[128];
		size_t n;

		content_type += strspn(content_type, " \t");
		n = strcspn(content_type, ";");
		while (n > 0 && (content_type[n - 1] == ' ' ||
				 content_type[n - 1] == '\t'))
			n--;
		if (n < sizeof(ct)) {
			memcpy(ct, content_type, n);
			ct[n] = '\0';
			if (is_index_type(ct))
				return MSB_DOC_INDEX;
			if (is_manifest_type(ct))
				return MSB_DOC_MANIFEST;
		}
	}
	if (!j)
		return MSB_DOC_UNKNOWN;
	bool has_manifests = json_object_get(j, "manifests") != NULL;
	bool has_layers = json_object_get(j, "layers") != NULL;
	if (has_manifests && !has_layers)
		return MSB_DOC_INDEX;
	if (has_layers && !has_manifests)
		return MSB_DOC_MANIFEST;
	return MSB_DOC_UNKNOWN;
}

int msb_index_parse(struct msb_index *out, const uint8_t *buf, size_t len)
{
	_cleanup_json_ json_t *root = NULL;
	const json_t *a;
	struct msb_index ix = {0};
	char p[PATH_LEN];
	int rc;

	if (!out)
		return msb__error(MSB_EINVAL, 0,
				  "parse image index: no output");
	memset(out, 0, sizeof(*out));
	if ((rc = load(&root, doc_index, buf, len)) < 0 ||
	    (rc = check_schema(doc_index, root, false)) < 0 ||
	    (rc = check_own_type(doc_index, root, is_index_type)) < 0 ||
	    (rc = req_array(&a, doc_index, root, "manifests",
			    MSB_OCI_MAX_MANIFESTS)) < 0)
		return rc;
	ix.n = json_array_size(a);
	ix.manifests = calloc(ix.n ? ix.n : 1, sizeof(*ix.manifests));
	if (!ix.manifests)
		return enomem(doc_index);
	for (size_t i = 0; i < ix.n; i++) {
		snprintf(p, sizeof(p), "manifests[%zu]", i);
		rc = parse_descriptor(&ix.manifests[i], doc_index,
				      json_array_get(a, i), p, false, true);
		if (rc < 0) {
			msb_index_clear(&ix);
			return rc;
		}
	}
	*out = ix;
	return 0;
}

int msb_manifest_parse(struct msb_manifest *out, const uint8_t *buf, size_t len)
{
	_cleanup_json_ json_t *root = NULL;
	const json_t *a;
	struct msb_manifest m = {0};
	char p[PATH_LEN];
	int rc;

	if (!out)
		return msb__error(MSB_EINVAL, 0,
				  "parse image manifest: no output");
	memset(out, 0, sizeof(*out));
	if ((rc = load(&root, doc_manifest, buf, len)) < 0 ||
	    (rc = check_schema(doc_manifest, root, true)) < 0 ||
	    (rc = check_own_type(doc_manifest, root, is_manifest_type)) < 0)
		return rc;
	const json_t *cfg = json_object_get(root, "config");
	if (!cfg)
		return bad(doc_manifest, "config", "is missing");
	if ((rc = parse_descriptor(&m.config, doc_manifest, cfg, "config", true,
				   false)) < 0)
		goto fail;
	if ((rc = req_array(&a, doc_manifest, root, "layers",
			    MSB_OCI_MAX_LAYERS)) < 0)
		goto fail;
	m.nlayers = json_array_size(a);
	m.layers = calloc(m.nlayers ? m.nlayers : 1, sizeof(*m.layers));
	if (!m.layers) {
		rc = enomem(doc_manifest);
		goto fail;
	}
	for (size_t i = 0; i < m.nlayers; i++) {
		snprintf(p, sizeof(p), "layers[%zu]", i);
		if ((rc = parse_descriptor(&m.layers[i], doc_manifest,
					   json_array_get(a, i), p, true,
					   false)) < 0)
			goto fail;
	}
	*out = m;
	return 0;
fail:
	msb_manifest_clear(&m);
	return rc;
}

static void strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

/*
 * A string-array member of "config": NULL when absent or null. @budget
 * counts the strings left for the whole document.
 */
static int opt_strv(char ***out, const json_t *obj, const char *key,
		    size_t *budget)
{
	const json_t *v = json_object_get(obj, key);
	char p[PATH_LEN];
	size_t n;
	char **sv;

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	snprintf(p, sizeof(p), "config.%s", key);
	if (!json_is_array(v))
		return bad(doc_config, p, "is not an array");
	n = json_array_size(v);
	if (n > *budget)
		return bad(doc_config, p, "takes the document over %u strings",
			   MSB_OCI_MAX_STRINGS);
	*budget -= n;
	if (!(sv = calloc(n + 1, sizeof(*sv))))
		return enomem(doc_config);
	for (size_t i = 0; i < n; i++) {
		const char *s = json_string_value(json_array_get(v, i));

		if (!s) {
			strv_free(sv);
			snprintf(p, sizeof(p), "config.%s[%zu]", key, i);
			return bad(doc_config, p, "is not a string");
		}
		if (!(sv[i] = strdup(s))) {
			strv_free(sv);
			return enomem(doc_config);
		}
	}
	*out = sv;
	return 0;
}

static int parse_rootfs(struct msb_image_config *c, const json_t *root)
{
	const json_t *fs = json_object_get(root, "rootfs"), *a, *v;
	char p[PATH_LEN];

	if (!fs)
		return bad(doc_config, "rootfs", "is missing");
	if (!json_is_object(fs))
		return bad(doc_config, "rootfs", "is not an object");
	v = json_object_get(fs, "type");
	if (!v)
		return bad(doc_config, "rootfs.type", "is missing");
	if (!json_is_string(v) || strcmp(json_string_value(v), "layers"))
		return bad(doc_config, "rootfs.type", "is not `layers`");
	a = json_object_get(fs, "diff_ids");
	if (!a)
		return bad(doc_config, "rootfs.diff_ids", "is missing");
	if (!json_is_array(a))
		return bad(doc_config, "rootfs.diff_ids", "is not an array");
	if (json_array_size(a) > MSB_OCI_MAX_LAYERS)
		return bad(doc_config, "rootfs.diff_ids",
			   "has more than %d entries", MSB_OCI_MAX_LAYERS);
	c->ndiff_ids = json_array_size(a);
	if (!(c->diff_ids = calloc(c->ndiff_ids + 1, sizeof(*c->diff_ids))))
		return enomem(doc_config);
	for (size_t i = 0; i < c->ndiff_ids; i++) {
		const char *s = json_string_value(json_array_get(a, i));

		if (!s || !msb_digest_valid(s)) {
			snprintf(p, sizeof(p), "rootfs.diff_ids[%zu]", i);
			return bad(doc_config, p, "is not a digest");
		}
		if (!(c->diff_ids[i] = strdup(s)))
			return enomem(doc_config);
	}
	return 0;
}

int msb_config_parse(struct msb_image_config *out, const uint8_t *buf,
		     size_t len)
{
	_cleanup_json_ json_t *root = NULL;
	struct msb_image_config c = {0};
	size_t budget = MSB_OCI_MAX_STRINGS;
	const json_t *cfg;
	int rc;

	if (!out)
		return msb__error(MSB_EINVAL, 0,
				  "parse image config: no output");
	memset(out, 0, sizeof(*out));
	if ((rc = load(&root, doc_config, buf, len)) < 0)
		return rc;
	if ((rc = opt_str(&c.os, doc_config, root, "os", "os", true)) < 0 ||
	    (rc = opt_str(&c.arch, doc_config, root, "architecture",
			  "architecture", true)) < 0 ||
	    (rc = opt_str(&c.variant, doc_config, root, "variant", "variant",
			  true)) < 0 ||
	    (rc = opt_str(&c.created, doc_config, root, "created", "created",
			  true)) < 0)
		goto fail;
	cfg = json_object_get(root, "config");
	if (cfg && !json_is_null(cfg)) {
		if (!json_is_object(cfg)) {
			rc = bad(doc_config, "config", "is not an object");
			goto fail;
		}
		if ((rc = opt_strv(&c.env, cfg, "Env", &budget)) < 0 ||
		    (rc = opt_strv(&c.entrypoint, cfg, "Entrypoint", &budget)) <
			    0 ||
		    (rc = opt_strv(&c.cmd, cfg, "Cmd", &budget)) < 0 ||
		    (rc = opt_str(&c.workdir, doc_config, cfg, "WorkingDir",
				  "config.WorkingDir", true)) < 0 ||
		    (rc = opt_str(&c.user, doc_config, cfg, "User",
				  "config.User", true)) < 0)
			goto fail;
	}
	if ((rc = parse_rootfs(&c, root)) < 0)
		goto fail;
	*out = c;
	return 0;
fail:
	msb_config_clear(&c);
	return rc;
}

bool msb_layer_type_supported(const char *media_type)
{
	static const char *const types[] = {
		"application/vnd.oci.image.layer.v1.tar",
		"application/vnd.oci.image.layer.v1.tar+gzip",
		"application/vnd.oci.image.layer.v1.tar+zstd",
		"application/vnd.oci.image.layer.nondistributable.v1.tar",
		"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
		"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
		"application/vnd.docker.image.rootfs.diff.tar",
		"application/vnd.docker.image.rootfs.diff.tar.gzip",
		"application/vnd.docker.image.rootfs.diff.tar.zstd",
		"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
	};

	if (!media_type)
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(types); i++)
		if (!strcmp(media_type, types[i]))
			return true;
	return false;
}

/* arm64 images without a variant are v8. */
static const char *norm_variant(const char *arch, const char *variant)
{
	if (!variant && !strcmp(arch, "arm64"))
		return "v8";
	return variant;
}

const struct msb_descriptor *msb_index_select(const struct msb_index *ix,
					      const char *os, const char *arch,
					      const char *variant)
{
	const struct msb_descriptor *generic = NULL;

	if (!ix || !os || !arch)
		return NULL;
	for (size_t i = 0; i < ix->n; i++) {
		const struct msb_descriptor *d = &ix->manifests[i];

		if (d->attestation || !d->os || !d->arch ||
		    (!strcmp(d->os, "unknown") && !strcmp(d->arch, "unknown")))
			continue;
		if (strcmp(d->os, os) || strcmp(d->arch, arch))
			continue;
		if (!variant)
			return d;
		const char *dv = norm_variant(arch, d->variant);
		if (dv && !strcmp(dv, norm_variant(arch, variant)))
			return d;
		/* an entry that names no variant fits any, after exact ones */
		if (!dv && !generic)
			generic = d;
	}
	return generic;
}

void msb_host_platform(const char **os, const char **arch, const char **variant)
{
	static const struct {
		const char *machine, *arch, *variant;
	} map[] = {
		{"x86_64", "amd64", NULL},
		{"amd64", "amd64", NULL},
		{"aarch64", "arm64", "v8"},
		{"arm64", "arm64", "v8"},
		{"armv8l", "arm", "v7"},
		{"armv7l", "arm", "v7"},
		{"armv7", "arm", "v7"},
		{"armv6l", "arm", "v6"},
		{"armv5tel", "arm", "v5"},
		{"i686", "386", NULL},
		{"i586", "386", NULL},
		{"i486", "386", NULL},
		{"i386", "386", NULL},
		{"ppc64le", "ppc64le", NULL},
		{"ppc64", "ppc64", NULL},
		{"s390x", "s390x", NULL},
		{"riscv64", "riscv64", NULL},
		{"mips64", "mips64", NULL},
		{"loongarch64", "loong64", NULL},
	};
	struct utsname u;
	const char *a = NULL, *v = NULL;

	if (uname(&u) == 0) {
		for (size_t i = 0; i < ARRAY_SIZE(map); i++) {
			if (!strcmp(u.machine, map[i].machine)) {
				a = map[i].arch;
				v = map[i].variant;
				break;
			}
		}
	}
	if (!a) {
		/* what this program was built for */
#if defined(__x86_64__)
		a = "amd64";
#elif defined(__aarch64__)
		a = "arm64";
		v = "v8";
#elif defined(__i386__)
		a = "386";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		a = "ppc64le";
#elif defined(__s390x__)
		a = "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
		a = "riscv64";
#else
		a = "unknown";
#endif
	}
	if (os)
		*os = "linux";
	if (arch)
		*arch = a;
	if (variant)
		*variant = v;
}

static bool hex_lower(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[n] == '\0';
}

bool msb_digest_valid(const char *d)
{
	if (!d)
		return false;
	if (!strncmp(d, "sha256:", 7))
		return strnlen(d + 7, 65) == 64 && hex_lower(d + 7, 64);
	if (!strncmp(d, "sha512:", 7))
		return strnlen(d + 7, 129) == 128 && hex_lower(d + 7, 128);
	return false;
}

void msb_descriptor_clear(struct msb_descriptor *d)
{
	if (!d)
		return;
	free(d->media_type);
	free(d->digest);
	free(d->os);
	free(d->arch);
	free(d->variant);
	memset(d, 0, sizeof(*d));
}

void msb_index_clear(struct msb_index *ix)
{
	if (!ix)
		return;
	for (size_t i = 0; ix->manifests && i < ix->n; i++)
		msb_descriptor_clear(&ix->manifests[i]);
	free(ix->manifests);
	memset(ix, 0, sizeof(*ix));
}

void msb_manifest_clear(struct msb_manifest *m)
{
	if (!m)
		return;
	msb_descriptor_clear(&m->config);
	for (size_t i = 0; m->layers && i < m->nlayers; i++)
		msb_descriptor_clear(&m->layers[i]);
	free(m->layers);
	memset(m, 0, sizeof(*m));
}

void msb_config_clear(struct msb_image_config *c)
{
	if (!c)
		return;
	free(c->os);
	free(c->arch);
	free(c->variant);
	free(c->created);
	strv_free(c->env);
	strv_free(c->entrypoint);
	strv_free(c->cmd);
	free(c->workdir);
	free(c->user);
	strv_free(c->diff_ids);
	memset(c, 0, sizeof(*c));
}

/* ---- platforms ------------------------------------------------------ */

/* The values of the OCI image index specification (platform.os and
 * platform.architecture: Go's GOOS and GOARCH). */
static const char *const known_os[] = {
	"aix",     "android", "darwin",  "dragonfly", "freebsd", "hurd",
	"illumos", "ios",     "js",      "linux",     "nacl",    "netbsd",
	"openbsd", "plan9",   "solaris", "wasip1",    "windows", "zos",
};

static const char *const known_arch[] = {
	"386",     "amd64",   "amd64p32", "arm",    "arm64",
	"loong64", "mips",    "mipsle",   "mips64", "mips64le",
	"ppc64",   "ppc64le", "riscv64",  "s390x",  "wasm",
};

static bool in_list(const char *const *list, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(list[i], s))
			return true;
	return false;
}

/* Is @v a variant of @arch: arm v5-v8, arm64 v8[.N] or v9[.N], amd64
 * v1-v4 (the GOARM, GOARM64 and GOAMD64 levels). */
static bool variant_known(const char *arch, const char *v)
{
	if (!strcmp(arch, "arm"))
		return !strcmp(v, "v5") || !strcmp(v, "v6") ||
		       !strcmp(v, "v7") || !strcmp(v, "v8");
	if (!strcmp(arch, "amd64"))
		return !strcmp(v, "v1") || !strcmp(v, "v2") ||
		       !strcmp(v, "v3") || !strcmp(v, "v4");
	if (!strcmp(arch, "arm64")) {
		if (strcmp(v, "v8") && strcmp(v, "v9") &&
		    strncmp(v, "v8.", 3) && strncmp(v, "v9.", 3))
			return false;
		if (!v[2])
			return true;
		return v[3] >= '0' && v[3] <= '9' &&
		       (!v[4] || (v[4] == '0' && v[3] == '1' && !v[5]));
	}
	return false;
}

int msb_platform_parse(struct msb_platform *out, const char *s)
{
	char buf[64], shown[64];
	char *os, *arch, *variant;

	memset(out, 0, sizeof(*out));
	if (!s || !*s)
		return msb__error(
			MSB_EINVAL, 0,
			"invalid platform ``: expected os/arch[/variant]");
	if (strlen(s) >= sizeof(buf))
		return msb__error(MSB_EINVAL, 0,
				  "invalid platform: longer than %zu bytes",
				  sizeof(buf) - 1);
	snprintf(buf, sizeof(buf), "%s", s);
	msb_printable(buf);
	snprintf(shown, sizeof(shown), "%s", buf);
	os = buf;
	arch = strchr(os, '/');
	if (arch)
		*arch++ = '\0';
	variant = arch ? strchr(arch, '/') : NULL;
	if (variant)
		*variant++ = '\0';
	if (!arch || !*os || !*arch || (variant && !*variant) ||
	    (variant && strchr(variant, '/')))
		return msb__error(
			MSB_EINVAL, 0,
			"invalid platform `%s`: expected os/arch[/variant]",
			shown);
	if (!strcmp(arch, "x86_64") || !strcmp(arch, "x86-64"))
		arch = "amd64";
	else if (!strcmp(arch, "aarch64"))
		arch = "arm64";
	if (!in_list(known_os, ARRAY_SIZE(known_os), os))
		return msb__error(
			MSB_EINVAL, 0,
			"invalid platform `%s`: unknown os `%s` (for example linux)",
			shown, os);
	if (!in_list(known_arch, ARRAY_SIZE(known_arch), arch))
		return msb__error(
			MSB_EINVAL, 0,
			"invalid platform `%s`: unknown architecture `%s` (for example amd64, arm64)",
			shown, arch);
	if (variant && !variant_known(arch, variant))
		return msb__error(
			MSB_EINVAL, 0,
			"invalid platform `%s`: unknown variant `%s` of %s",
			shown, variant, arch);
	snprintf(out->os, sizeof(out->os), "%.15s", os);
	snprintf(out->arch, sizeof(out->arch), "%.15s", arch);
	snprintf(out->variant, sizeof(out->variant), "%.15s",
		 variant ? variant : "");
	return 0;
}

void msb_platform_host(struct msb_platform *out)
{
	const char *os, *arch, *variant;

	msb_host_platform(&os, &arch, &variant);
	memset(out, 0, sizeof(*out));
	snprintf(out->os, sizeof(out->os), "%s", os);
	snprintf(out->arch, sizeof(out->arch), "%s", arch);
	snprintf(out->variant, sizeof(out->variant), "%s",
		 variant ? variant : "");
}

void msb_platform_format(const struct msb_platform *p, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s%s%s", p->os, p->arch, *p->variant ? "/" : "",
		 p->variant);
}

bool msb_platform_match(const struct msb_platform *a,
			const struct msb_platform *b)
{
	if (strcmp(a->os, b->os) || strcmp(a->arch, b->arch))
		return false;
	if (!*a->variant || !*b->variant)
		return true;
	return !strcmp(norm_variant(a->arch, a->variant),
		       norm_variant(b->arch, b->variant));
}
