/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OCI Distribution API client (libcurl).
 *
 * One handle per image repository. It sends Accept for the four manifest
 * media types; answers 401 challenges: Basic with the credentials, Bearer
 * by asking the challenge's realm for a token (service, scope
 * "repository:<repo>:pull"; anonymous or with the credentials), cached
 * until it expires; never sends Authorization to another host on a
 * redirect (blob downloads are often redirected to storage); uses plain
 * HTTP only for local registries (msb_ref_is_local) or when marked
 * insecure, HTTPS otherwise; retries with exponential backoff on 5xx,
 * 429, connection resets and timeouts; fails a stalled transfer after the
 * timeout. 401/403/404 give one-line errors naming the image:
 * "pull `localhost:5000/x:1`: manifest unknown (404)",
 * "pull `…`: authentication failed (401): check the user name and password".
 *
 * Credentials: those of the API call, else the Docker config
 * ($DOCKER_CONFIG/config.json or ~/.docker/config.json): "auths" (base64
 * "auth" or "username"/"password"), then "credHelpers"[registry] or
 * "credsStore" through `docker-credential-<name> get`; else anonymous.
 *
 * Thread-safe: several threads may fetch blobs through one handle.
 * Errors are negative MSB_E* codes with the thread's error set.
 */
#ifndef MSB_IMAGE_REGISTRY_H
#define MSB_IMAGE_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/image/ref.h"
#include "util/util.h"

struct msb_registry_opts {
	const char *username; /* with password: overrides the Docker config */
	const char *password;
	bool insecure;             /* allow plain HTTP for this registry */
	unsigned int timeout_s;    /* connect and stall timeout; 0: 30 */
	unsigned int retries;      /* on 5xx/429/reset/timeout; 0: 3 */
	const char *docker_config; /* path of config.json; NULL: default */
};

struct msb_registry;

int msb_registry_open(struct msb_registry **out, const struct msb_ref *ref,
		      const struct msb_registry_opts *opts);
void msb_registry_free(struct msb_registry *r);

/*
 * msb_registry_manifest() - GET /v2/<repo>/manifests/<reference>.
 * @reference: a tag or a digest
 * @body: receives the document (at most MSB_OCI_DOC_MAX bytes)
 * @content_type, @digest: malloc'd; the digest is the sha256 of the body,
 * and when @reference is a digest it must equal it (-MSB_EPROTO otherwise)
 */
int msb_registry_manifest(struct msb_registry *r, const char *reference,
			  struct msb_buf *body, char **content_type,
			  char **digest);

/*
 * msb_registry_blob() - GET /v2/<repo>/blobs/<digest>, from byte @offset
 * (Range; if the server ignores it and answers 200, @on_restart is called
 * and data starts again from 0). Each chunk goes to @sink, which returns
 * 0 to continue or a negative MSB_E* code to abort.
 */
int msb_registry_blob(struct msb_registry *r, const char *digest,
		      uint64_t offset,
		      int (*sink)(const void *buf, size_t len, void *ud),
		      void (*on_restart)(void *ud), void *ud);

#endif
