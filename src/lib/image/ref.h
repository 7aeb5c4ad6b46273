/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Image references, normalised as Docker does:
 *   alpine                      → docker.io/library/alpine:latest
 *   python:3.12                 → docker.io/library/python:3.12
 *   ghcr.io/org/app@sha256:...  → ghcr.io/org/app@sha256:...
 *   localhost:5000/team/tool:v2 → localhost:5000/team/tool:v2
 * The first component is a registry if it contains '.' or ':', is
 * "localhost" or has an uppercase letter (as in Docker); otherwise the
 * registry is docker.io.
 */
#ifndef MSB_IMAGE_REF_H
#define MSB_IMAGE_REF_H

#include <stdbool.h>

struct msb_ref {
	char *registry;   /* "docker.io", "ghcr.io", "localhost:5000" */
	char *repository; /* "library/alpine", "org/app" */
	char *tag;        /* "latest" if neither tag nor digest was given;
			     NULL when only a digest was given */
	char *digest;     /* "sha256:<64 hex>" or NULL */
};

/*
 * msb_ref_parse() - parse and normalise @s.
 * Return: 0, or -MSB_EINVAL with an error that shows the reference and
 * says what is wrong ("invalid image reference `Foo`: repository names
 * must be lowercase"), or -MSB_ENOMEM. Pure apart from the thread's error;
 * bounded by strlen(@s) (at most 4096 accepted). @out is zeroed on error.
 */
int msb_ref_parse(struct msb_ref *out, const char *s);

/* "registry/repository[:tag][@digest]"; malloc'd, NULL on ENOMEM. */
char *msb_ref_format(const struct msb_ref *r);

/* Host[:port] of the registry API: "registry-1.docker.io" for docker.io,
 * the registry itself otherwise. Owned by @r or static. */
const char *msb_ref_api_host(const struct msb_ref *r);

/* True for registries on this machine (localhost, 127.0.0.0/8, ::1), which
 * may be used over plain HTTP without being marked insecure. */
bool msb_ref_is_local(const struct msb_ref *r);

void msb_ref_clear(struct msb_ref *r);

#endif
