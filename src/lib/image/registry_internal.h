/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals of registry.c exposed for its unit tests: the pure parsers of
 * what registries, token servers, Docker config files and credential
 * helpers send. All are pure functions over (buf, len), bounded by @len,
 * that set the thread's error when they fail.
 */
#ifndef MSB_IMAGE_REGISTRY_INTERNAL_H
#define MSB_IMAGE_REGISTRY_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

enum msb_auth_scheme {
	MSB_AUTH_NONE = 0,
	MSB_AUTH_BASIC,
	MSB_AUTH_BEARER,
};

struct msb_challenge {
	enum msb_auth_scheme scheme;
	char realm[1024]; /* Bearer: the token server's URL */
	char service[256];
	char scope[512];
};

/*
 * msb__challenge_parse() - parse a WWW-Authenticate value (RFC 7235: one
 * or more challenges, comma-separated, parameters as tokens or quoted
 * strings with backslash escapes). Unknown schemes and parameters are
 * skipped; scheme and parameter names are case-insensitive; the first
 * occurrence of a parameter wins. A Bearer challenge with a realm is
 * preferred to a Basic one.
 * Return: 0, or -MSB_EPROTO when there is neither (or an unterminated
 * quoted string, or a value longer than its field).
 */
int msb__challenge_parse(struct msb_challenge *out, const char *s, size_t len);

/*
 * msb__token_parse() - a token server's answer: {"token": …} or
 * {"access_token": …} ("token" wins), "expires_in" in seconds (60 when
 * absent, at most a day). The token must be printable ASCII without
 * spaces (it goes into a header).
 * @token: malloc'd on success
 * Return: 0 or -MSB_EPROTO.
 */
int msb__token_parse(char **token, unsigned int *expires_in, const uint8_t *buf,
		     size_t len);

/* Credentials found for one registry. Strings are malloc'd or NULL. */
struct msb_docker_auth {
	char *username;
	char *password;
	char *helper; /* credential helper name: ask `docker-credential-NAME` */
};

/*
 * msb__docker_config_lookup() - the credentials for @registry in a Docker
 * config.json: "auths" (an entry whose key is the registry with or
 * without a scheme and path; for docker.io also index.docker.io and
 * registry-1.docker.io, as "https://index.docker.io/v1/"), with a base64
 * "auth" of "user:password" or "username" and "password"; else
 * "credHelpers" for the registry; else "credsStore". Entries without
 * credentials are skipped.
 * Return: 0 (all fields NULL when nothing applies) or -MSB_EINVAL (not a
 * JSON object, an invalid "auth", an invalid helper name).
 */
int msb__docker_config_lookup(struct msb_docker_auth *out, const char *registry,
			      const uint8_t *buf, size_t len);

/*
 * msb__cred_helper_parse() - the output of `docker-credential-NAME get`:
 * {"Username": …, "Secret": …}. A Username of "<token>" (an identity
 * token, which needs an OAuth exchange we do not do) gives no
 * credentials.
 * Return: 0 or -MSB_EINVAL.
 */
int msb__cred_helper_parse(struct msb_docker_auth *out, const uint8_t *buf,
			   size_t len);

/* The server URL Docker uses for @registry's credentials. Static or
 * @registry itself. */
const char *msb__docker_server_url(const char *registry);

void msb__docker_auth_clear(struct msb_docker_auth *a);

#endif
