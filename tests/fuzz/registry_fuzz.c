// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer harness for what registries and the Docker config send us. The
 * first byte chooses the parser, the rest is its input:
 *   0 WWW-Authenticate, 1 token answer, 2 Docker config (for docker.io),
 *   3 Docker config (for localhost:5000), 4 credential helper output,
 *   5 the streaming verifier (split at the second byte) of a layer whose
 *     digest matches and whose diff_id cannot.
 * Results must hold the documented invariants; every error must be one
 * non-empty line with the returned code. Any breach aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "lib/image/registry_internal.h"
#include "lib/image/store_internal.h"
#include "lib/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(what)                                                             \
	do {                                                                   \
		fprintf(stderr, "registry_fuzz: %s (%s:%d)\n", what, __FILE__, \
			__LINE__);                                             \
		abort();                                                       \
	} while (0)

static void check_error(int rc, int want)
{
	const msb_error *e = msb_last_error();

	if (rc >= 0)
		return;
	if (rc != -want && rc != -MSB_ENOMEM)
		FAIL("unexpected error code");
	if (e->code != -rc || !e->message[0] || strchr(e->message, '\n'))
		FAIL("error is not one line with the returned code");
}

static void check_field(const char *f, size_t cap)
{
	if (!memchr(f, '\0', cap))
		FAIL("field not terminated");
}

static void fuzz_challenge(const uint8_t *d, size_t n)
{
	/* an exact copy: reads past the end are caught */
	char *copy = malloc(n ? n : 1);
	struct msb_challenge c;
	int rc;

	if (!copy)
		return;
	memcpy(copy, d, n);
	rc = msb__challenge_parse(&c, copy, n);
	free(copy);
	check_error(rc, MSB_EPROTO);
	if (rc < 0)
		return;
	check_field(c.realm, sizeof(c.realm));
	check_field(c.service, sizeof(c.service));
	check_field(c.scope, sizeof(c.scope));
	if (c.scheme != MSB_AUTH_BASIC && c.scheme != MSB_AUTH_BEARER)
		FAIL("no scheme");
	if (c.scheme == MSB_AUTH_BEARER && !c.realm[0])
		FAIL("bearer without realm");
}

static void fuzz_token(const uint8_t *d, size_t n)
{
	char *t = NULL;
	unsigned int e = 0;
	int rc = msb__token_parse(&t, &e, d, n);

	check_error(rc, MSB_EPROTO);
	if (rc < 0) {
		if (t)
			FAIL("token set on error");
		return;
	}
	if (!t[0] || e < 1 || e > 86400)
		FAIL("bad token or lifetime");
	for (const char *p = t; *p; p++)
		if (*p <= ' ' || *p > '~')
			FAIL("token not fit for a header");
	free(t);
}

static void check_auth(const struct msb_docker_auth *a)
{
	if (!a->username != !a->password)
		FAIL("user without password");
	if (a->helper && a->username)
		FAIL("both credentials and a helper");
	if (a->helper &&
	    (!a->helper[0] ||
	     strspn(a->helper, "abcdefghijklmnopqrstuvwxyz"
			       "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
			       "0123456789._-") != strlen(a->helper)))
		FAIL("helper name not checked");
}

static void fuzz_config(const char *registry, const uint8_t *d, size_t n)
{
	struct msb_docker_auth a;
	int rc = msb__docker_config_lookup(&a, registry, d, n);

	check_error(rc, MSB_EINVAL);
	check_auth(&a);
	msb__docker_auth_clear(&a);
}

static void fuzz_helper(const uint8_t *d, size_t n)
{
	struct msb_docker_auth a;
	int rc = msb__cred_helper_parse(&a, d, n);

	check_error(rc, MSB_EINVAL);
	check_auth(&a);
	if (a.helper)
		FAIL("helper from a helper");
	msb__docker_auth_clear(&a);
}

static void fuzz_verifier(const uint8_t *d, size_t n)
{
	static const char zero[] = "sha256:0000000000000000000000000000000"
				   "000000000000000000000000000000000";
	unsigned char h[32];
	char digest[72];
	struct msb_verifier *v;
	size_t split;
	int rc;

	if (!n)
		return;
	split = d[0] % (n + 0u);
	d++;
	n--;
	if (split > n)
		split = n;
	EVP_Digest(d, n, h, NULL, EVP_sha256(), NULL);
	strcpy(digest, "sha256:");
	for (int i = 0; i < 32; i++)
		sprintf(digest + 7 + 2 * i, "%02x", h[i]);
	if (msb__verifier_new(&v, digest, zero) < 0)
		return;
	rc = msb__verifier_update(v, d, split);
	if (rc == 0)
		rc = msb__verifier_update(v, d + split, n - split);
	if (rc == 0)
		rc = msb__verifier_finish(v);
	msb__verifier_free(v);
	if (rc == 0)
		FAIL("a diff_id of zeros matched");
	check_error(rc, MSB_EPROTO);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	switch (data[0] % 6) {
	case 0:
		fuzz_challenge(data + 1, size - 1);
		break;
	case 1:
		fuzz_token(data + 1, size - 1);
		break;
	case 2:
		fuzz_config("docker.io", data + 1, size - 1);
		break;
	case 3:
		fuzz_config("localhost:5000", data + 1, size - 1);
		break;
	case 4:
		fuzz_helper(data + 1, size - 1);
		break;
	case 5:
		fuzz_verifier(data + 1, size - 1);
		break;
	}
	return 0;
}
