// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer harness for image references and OCI documents. The first byte
 * chooses the parser, the rest is its input:
 *   0 image index, 1 image manifest, 2 image config,
 *   3 msb_doc_kind (content type, '\n', body; then the matching parser),
 *   4 image reference (as a C string).
 * What parses must hold the documented invariants (valid digests, limits,
 * NULL-terminated arrays, selections that match the platform asked for);
 * a reference must format to a canonical string that parses back to
 * itself. Every error must be one non-empty line. Any breach aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/image/oci.h"
#include "lib/image/ref.h"
#include "lib/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(what)                                                             \
	do {                                                                   \
		fprintf(stderr, "oci_fuzz: %s (%s:%d)\n", what, __FILE__,      \
			__LINE__);                                             \
		abort();                                                       \
	} while (0)

static void check_error(int rc)
{
	const msb_error *e = msb_last_error();

	if (rc >= 0)
		return;
	if (rc != -MSB_EPROTO && rc != -MSB_EINVAL && rc != -MSB_ENOMEM)
		FAIL("unexpected error code");
	if (e->code != -rc || !e->message[0] || strchr(e->message, '\n'))
		FAIL("error is not one line with the returned code");
}

static void check_descriptor(const struct msb_descriptor *d, bool need_type)
{
	if (!msb_digest_valid(d->digest))
		FAIL("descriptor digest not valid");
	if (d->size > (UINT64_C(1) << 53))
		FAIL("descriptor size over 2^53");
	if (need_type && !d->media_type)
		FAIL("descriptor without media type");
	(void)msb_layer_type_supported(d->media_type);
}

static bool same(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

/* The selection for @os/@arch/@variant, if any, fits what was asked. */
static const struct msb_descriptor *select_checked(const struct msb_index *ix,
						   const char *os,
						   const char *arch,
						   const char *variant)
{
	const struct msb_descriptor *d =
		msb_index_select(ix, os, arch, variant);

	if (!d)
		return NULL;
	if (d < ix->manifests || d >= ix->manifests + ix->n)
		FAIL("selection outside the index");
	if (d->attestation ||
	    (same(d->os, "unknown") && same(d->arch, "unknown")))
		FAIL("attestation selected");
	if (!same(d->os, os) || !same(d->arch, arch))
		FAIL("selection of another platform");
	if (variant && d->variant && strcmp(variant, d->variant))
		FAIL("selection of another variant");
	return d;
}

static void fuzz_index(const uint8_t *buf, size_t len)
{
	static const char *const plat[][3] = {
		{"linux", "amd64", NULL},     {"linux", "arm64", NULL},
		{"linux", "arm64", "v8"},     {"linux", "arm", "v7"},
		{"linux", "arm", "v6"},       {"windows", "amd64", NULL},
		{"unknown", "unknown", NULL},
	};
	struct msb_index ix;
	const char *os, *arch, *variant;
	int rc = msb_index_parse(&ix, buf, len);

	check_error(rc);
	if (rc < 0) {
		if (ix.manifests || ix.n)
			FAIL("failed index parse left data");
		return;
	}
	if (ix.n > MSB_OCI_MAX_MANIFESTS || !ix.manifests)
		FAIL("index size");
	for (size_t i = 0; i < ix.n; i++) {
		const struct msb_descriptor *d = &ix.manifests[i];

		check_descriptor(d, false);
		/* an entry with a real platform is found by its platform */
		if (d->os && d->arch && !d->attestation &&
		    !(same(d->os, "unknown") && same(d->arch, "unknown")) &&
		    !select_checked(&ix, d->os, d->arch, d->variant))
			FAIL("entry not selectable by its own platform");
	}
	for (size_t i = 0; i < sizeof(plat) / sizeof(plat[0]); i++)
		select_checked(&ix, plat[i][0], plat[i][1], plat[i][2]);
	msb_host_platform(&os, &arch, &variant);
	select_checked(&ix, os, arch, variant);
	msb_index_clear(&ix);
	if (ix.manifests || ix.n)
		FAIL("index not cleared");
}

static void fuzz_manifest(const uint8_t *buf, size_t len)
{
	struct msb_manifest m;
	int rc = msb_manifest_parse(&m, buf, len);

	check_error(rc);
	if (rc < 0) {
		if (m.layers || m.nlayers || m.config.digest)
			FAIL("failed manifest parse left data");
		return;
	}
	check_descriptor(&m.config, true);
	if (m.nlayers > MSB_OCI_MAX_LAYERS || !m.layers)
		FAIL("manifest layer count");
	for (size_t i = 0; i < m.nlayers; i++)
		check_descriptor(&m.layers[i], true);
	msb_manifest_clear(&m);
}

static size_t strv_len(char *const *v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

static void fuzz_config(const uint8_t *buf, size_t len)
{
	struct msb_image_config c;
	int rc = msb_config_parse(&c, buf, len);

	check_error(rc);
	if (rc < 0) {
		if (c.diff_ids || c.env || c.os)
			FAIL("failed config parse left data");
		return;
	}
	if (!c.diff_ids || strv_len(c.diff_ids) != c.ndiff_ids ||
	    c.ndiff_ids > MSB_OCI_MAX_LAYERS)
		FAIL("diff_ids");
	for (size_t i = 0; i < c.ndiff_ids; i++)
		if (!msb_digest_valid(c.diff_ids[i]))
			FAIL("diff_id not valid");
	if (strv_len(c.env) + strv_len(c.entrypoint) + strv_len(c.cmd) >
	    MSB_OCI_MAX_STRINGS)
		FAIL("string limit");
	msb_config_clear(&c);
}

static void fuzz_doc_kind(const uint8_t *buf, size_t len)
{
	const uint8_t *nl = memchr(buf, '\n', len);
	char ct[256];
	size_t n;

	if (!nl) {
		(void)msb_doc_kind(NULL, buf, len);
		return;
	}
	n = (size_t)(nl - buf);
	memcpy(ct, buf, n < sizeof(ct) ? n : sizeof(ct) - 1);
	ct[n < sizeof(ct) ? n : sizeof(ct) - 1] = '\0';
	len -= n + 1;
	buf = nl + 1;
	switch (msb_doc_kind(ct, buf, len)) {
	case MSB_DOC_INDEX:
		fuzz_index(buf, len);
		break;
	case MSB_DOC_MANIFEST:
		fuzz_manifest(buf, len);
		break;
	case MSB_DOC_UNKNOWN:
		break;
	default:
		FAIL("unknown document kind");
	}
}

static void fuzz_ref(const uint8_t *buf, size_t len)
{
	struct msb_ref r, r2;
	char *s, *s2;
	char *in = malloc(len + 1);
	int rc;

	if (!in)
		return;
	memcpy(in, buf, len);
	in[len] = '\0';
	rc = msb_ref_parse(&r, in);
	free(in);
	check_error(rc);
	if (rc < 0) {
		if (r.registry || r.repository || r.tag || r.digest)
			FAIL("failed reference parse left data");
		return;
	}
	if (!r.registry || !r.repository || (!r.tag && !r.digest))
		FAIL("reference without registry, repository, tag or digest");
	if (r.digest && !msb_digest_valid(r.digest))
		FAIL("reference digest not valid");
	if (!msb_ref_api_host(&r))
		FAIL("no API host");
	(void)msb_ref_is_local(&r);
	if (!(s = msb_ref_format(&r)))
		FAIL("format");
	if (msb_ref_parse(&r2, s) < 0)
		FAIL("the canonical form does not parse");
	if (!(s2 = msb_ref_format(&r2)))
		FAIL("format");
	if (strcmp(s, s2) || strcmp(r.registry, r2.registry) ||
	    strcmp(r.repository, r2.repository) ||
	    msb_ref_is_local(&r) != msb_ref_is_local(&r2))
		FAIL("the canonical form is not a fixed point");
	free(s);
	free(s2);
	msb_ref_clear(&r);
	msb_ref_clear(&r2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	switch (data[0] % 5) {
	case 0:
		fuzz_index(data + 1, size - 1);
		break;
	case 1:
		fuzz_manifest(data + 1, size - 1);
		break;
	case 2:
		fuzz_config(data + 1, size - 1);
		break;
	case 3:
		fuzz_doc_kind(data + 1, size - 1);
		break;
	case 4:
		fuzz_ref(data + 1, size - 1);
		break;
	}
	return 0;
}
