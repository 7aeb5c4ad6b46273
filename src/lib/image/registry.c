// SPDX-License-Identifier: Apache-2.0
/*
 * OCI Distribution API client over libcurl.
 *
 * Theory of operation. Every request (manifest, blob, token) is one
 * transfer on an easy handle borrowed from the registry handle's small
 * pool: a handle keeps its connections between transfers (keep-alive)
 * and is used by one thread at a time. A transfer is a bounded loop of
 * attempts:
 *   - Authorization comes from the auth state: none until the registry
 *     first answers 401; after that Basic credentials, or the bearer
 *     token cached for the challenge (fetched first when missing or
 *     expired, under the auth lock, so that concurrent transfers ask the
 *     token server once).
 *   - 401: the challenge is parsed and remembered, and the request is
 *     sent again with credentials. A 401 to a request that carried them
 *     fails the pull, after one more try with a fresh token for Bearer.
 *   - 5xx, 429, connection resets and stalls are retried after 200 ms ×
 *     2^n (at most 5 s), up to the retry count. A blob resumes where its
 *     data stopped (Range); when the server answers 200 to a Range, the
 *     caller's on_restart() is told and the data starts again from 0.
 * Authorization is a custom header, which libcurl does not send after a
 * redirect to another host, port or scheme; CURLOPT_UNRESTRICTED_AUTH is
 * never set (tests/registry checks this).
 *
 * Credentials are looked up only when a registry first asks for them: the
 * ones given in the options, else the Docker config (auths, credHelpers,
 * credsStore through `docker-credential-NAME get`, with a timeout).
 */
#include <ctype.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "lib/image/oci.h"
#include "lib/image/registry.h"
#include "lib/image/registry_internal.h"
#include "lib/internal.h"

/*
 * libcurl is loaded at the first msb_registry_open(), not linked: with
 * the 25 libraries it needs (TLS, HTTP/2, Kerberos, LDAP, IDN...) it
 * would be loaded and relocated by every program that links the library,
 * e.g. on each `msb exec` (docs/benchmarks.md). The calls below go through
 * these pointers (curl's compile-time type checks of setopt and getinfo
 * are lost with its macros).
 */
#define LIBCURL "libcurl.so.4"
static struct {
	CURLcode (*global_init)(long);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *);
	void (*easy_reset)(CURL *);
	CURLcode (*easy_perform)(CURL *);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	const char *(*easy_strerror)(CURLcode);
	char *(*easy_escape)(CURL *, const char *, int);
	void (*free)(void *);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
} lc;
#undef curl_easy_setopt
#undef curl_easy_getinfo
#define curl_global_init (*lc.global_init)
#define curl_easy_init (*lc.easy_init)
#define curl_easy_cleanup (*lc.easy_cleanup)
#define curl_easy_reset (*lc.easy_reset)
#define curl_easy_perform (*lc.easy_perform)
#define curl_easy_setopt (*lc.easy_setopt)
#define curl_easy_getinfo (*lc.easy_getinfo)
#define curl_easy_strerror (*lc.easy_strerror)
#define curl_easy_escape (*lc.easy_escape)
#define curl_free (*lc.free)
#define curl_slist_append (*lc.slist_append)
#define curl_slist_free_all (*lc.slist_free_all)

/* Fill lc from libcurl; on failure, a one-line reason in @why. */
static int libcurl_load(char *why, size_t len)
{
	static const struct {
		const char *name;
		size_t off;
	} syms[] = {
#define SYM(f, m) {#f, offsetof(__typeof__(lc), m)}
		SYM(curl_global_init, global_init),
		SYM(curl_easy_init, easy_init),
		SYM(curl_easy_cleanup, easy_cleanup),
		SYM(curl_easy_reset, easy_reset),
		SYM(curl_easy_perform, easy_perform),
		SYM(curl_easy_setopt, easy_setopt),
		SYM(curl_easy_getinfo, easy_getinfo),
		SYM(curl_easy_strerror, easy_strerror),
		SYM(curl_easy_escape, easy_escape),
		SYM(curl_free, free),
		SYM(curl_slist_append, slist_append),
		SYM(curl_slist_free_all, slist_free_all),
#undef SYM
	};
	/* never closed: curl keeps global state */
	void *h = dlopen(LIBCURL, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *e = dlerror();
		snprintf(why, len, "%s (install the libcurl4 package)",
			 e ? e : LIBCURL);
		return -1;
	}
	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		void *f = dlsym(h, syms[i].name);
		if (!f) {
			snprintf(why, len, "%s: no %s", LIBCURL, syms[i].name);
			return -1;
		}
		memcpy((char *)&lc + syms[i].off, &f, sizeof(f));
	}
	return 0;
}

extern char **environ;

#define POOL_MAX 8                /* idle easy handles kept */
#define TOKENS_MAX 8              /* cached tokens (scopes) per handle */
#define TOKEN_BODY_MAX (1u << 20) /* token server answer */
#define TOKEN_DEFAULT_S 60
#define TOKEN_MAX_S 86400
#define TOKEN_MARGIN_S 10 /* renew this long before expiry */
#define WWW_AUTH_MAX 4096 /* WWW-Authenticate headers, joined */
#define ERR_BODY_MAX 2048 /* start of an error body kept for messages */
#define BACKOFF_FIRST_MS 200
#define BACKOFF_MAX_MS 5000
#define AUTH_ROUNDS_MAX 3
#define CONFIG_MAX (4u << 20) /* Docker config.json */
#define HELPER_OUT_MAX 65536u /* credential helper output */
#define RECV_BUFFER (256 * 1024)

struct token {
	char *key;           /* realm '\n' service '\n' scope */
	char *header;        /* "Authorization: Bearer …" */
	uint64_t expires_us; /* now_us() clock */
	uint64_t used;       /* for eviction */
};

struct msb_registry {
	char *name;                 /* the image reference, for messages */
	char *ref_tag, *ref_digest; /* of the reference, or NULL */
	char *registry;             /* as in the reference, for credentials */
	char *repo;
	char *host;            /* API host[:port] */
	char *base;            /* "https://host" */
	const char *protocols; /* allowed for requests and redirects */
	bool plain;            /* http allowed (local or insecure) */
	long timeout_s;
	unsigned int retries;
	char *opt_user, *opt_pass;
	char *docker_config;

	pthread_mutex_t pool_lock;
	CURL *pool[POOL_MAX];
	size_t npool;

	pthread_mutex_t auth_lock; /* everything below */
	bool creds_loaded;
	bool have_creds; /* atomic: also read without the lock */
	char *basic;     /* "Authorization: Basic …", or NULL (anonymous) */
	char *user;      /* for the token request's "account" */
	bool have_chal;
	struct msb_challenge chal;
	struct token tokens[TOKENS_MAX];
	uint64_t stamp;
};

enum xfer_kind {
	XFER_MANIFEST,
	XFER_BLOB,
	XFER_TOKEN,
};

/* One transfer (all its attempts). */
struct xfer {
	struct msb_registry *r;
	enum xfer_kind kind;
	const char *url;
	const char *what; /* "manifest `1`", "blob `sha256:…`", "token" */
	const char *auth; /* XFER_TOKEN: the Basic header or NULL */
	CURL *c;

	struct msb_buf *body; /* manifest, token */
	size_t body_max;
	int (*sink)(const void *buf, size_t len, void *ud);
	void (*on_restart)(void *ud);
	void *ud;
	uint64_t offset;    /* blob: position of the first byte of this call */
	uint64_t delivered; /* blob: bytes given to sink from offset */

	/* the current attempt */
	uint64_t range_start; /* asked from here; 0: no Range */
	long status;
	bool begun;            /* first body byte (or the end) seen */
	int rc;                /* error from a callback */
	uint64_t last_data_us; /* when bytes last arrived (now_us) */
	bool stalled;          /* none for the timeout: aborted */
	long os_errno;
	char errbuf[CURL_ERROR_SIZE];
	char www_auth[WWW_AUTH_MAX];
	size_t www_auth_len;
	bool www_auth_trunc;
	char ctype[256];
	bool have_crange;
	uint64_t crange_start;
	char errbody[ERR_BODY_MAX];
	size_t errlen;
};

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */

static int oom(void)
{
	return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Does @p[0..len) start with header @name followed by ':'? Then the
 * value, trimmed, in @v/@vlen. */
static bool header_is(const char *p, size_t len, const char *name,
		      const char **v, size_t *vlen)
{
	size_t n = strlen(name);

	if (len <= n || p[n] != ':' || strncasecmp(p, name, n))
		return false;
	p += n + 1;
	len -= n + 1;
	while (len && (*p == ' ' || *p == '\t')) {
		p++;
		len--;
	}
	while (len && (p[len - 1] == '\r' || p[len - 1] == '\n' ||
		       p[len - 1] == ' ' || p[len - 1] == '\t'))
		len--;
	*v = p;
	*vlen = len;
	return true;
}

/* "sha256" or "sha512" digest of @len bytes as "alg:hex"; malloc'd. */
static char *digest_of(const char *alg, const void *buf, size_t len)
{
	const EVP_MD *md = !strcmp(alg, "sha512") ? EVP_sha512() : EVP_sha256();
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned int hl = 0;
	char *s;

	if (!EVP_Digest(buf, len, h, &hl, md, NULL))
		return NULL;
	s = malloc(strlen(alg) + 2 + 2 * hl);
	if (!s)
		return NULL;
	char *o = s + sprintf(s, "%s:", alg);
	for (unsigned int i = 0; i < hl; i++)
		o += sprintf(o, "%02x", h[i]);
	return s;
}

static char *base64(const void *buf, size_t len)
{
	char *out = malloc((len + 2) / 3 * 4 + 1);

	if (out)
		EVP_EncodeBlock((unsigned char *)out, buf, (int)len);
	return out;
}

/* Decode standard base64 (padding required); malloc'd, NUL-terminated. */
static char *unbase64(const char *s, size_t len, size_t *outlen)
{
	size_t pad = 0;
	unsigned char *out;
	int n;

	if (!len || len % 4 || len > INT_MAX / 2)
		return NULL;
	while (pad < 2 && s[len - 1 - pad] == '=')
		pad++;
	for (size_t i = 0; i < len - pad; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '+' && s[i] != '/')
			return NULL;
	out = malloc(len / 4 * 3 + 1);
	if (!out)
		return NULL;
	n = EVP_DecodeBlock(out, (const unsigned char *)s, (int)len);
	if (n < (int)pad) {
		free(out);
		return NULL;
	}
	n -= (int)pad;
	out[n] = '\0';
	*outlen = (size_t)n;
	return (char *)out;
}

/* A tag as the distribution spec allows it. */
static bool tag_valid(const char *t)
{
	size_t n = strlen(t);

	if (!n || n > 128)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = t[i];
		if (!isalnum(c) && c != '_' && (!i || (c != '.' && c != '-')))
			return false;
	}
	return true;
}

static bool repo_valid(const char *s)
{
	if (!*s || strlen(s) > 255)
		return false;
	for (; *s; s++)
		if (!islower((unsigned char)*s) &&
		    !isdigit((unsigned char)*s) && !strchr("._-/", *s))
			return false;
	return true;
}

static bool host_valid(const char *s)
{
	if (!*s || strlen(s) > 255)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr(".-:[]", *s))
			return false;
	return true;
}

/* ------------------------------------------------------------------ */
/* WWW-Authenticate                                                    */

static bool is_tchar(char c)
{
	return isalnum((unsigned char)c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/*
 * Read a parameter value at @s[*i]: a quoted string (escapes resolved) or
 * everything up to a comma or blank. Copied into @dst (NULL: skipped).
 * Return 0, -1 for an unterminated quote, -2 when @dst is too small.
 */
static int read_value(const char *s, size_t len, size_t *i, char *dst,
		      size_t cap)
{
	size_t o = 0;
	bool over = false;

	if (*i < len && s[*i] == '"') {
		for (++*i; *i < len && s[*i] != '"'; ++*i) {
			if (s[*i] == '\\' && *i + 1 < len)
				++*i;
			if (dst && o + 1 < cap)
				dst[o++] = s[*i];
			else
				over = true;
		}
		if (*i >= len)
			return -1;
		++*i; /* closing quote */
	} else {
		for (;
		     *i < len && s[*i] != ',' && s[*i] != ' ' && s[*i] != '\t';
		     ++*i) {
			if (dst && o + 1 < cap)
				dst[o++] = s[*i];
			else
				over = true;
		}
	}
	if (dst)
		dst[o] = '\0';
	return dst && over ? -2 : 0;
}

static void challenge_keep(const struct msb_challenge *c,
			   struct msb_challenge *bearer, bool *have_bearer,
			   struct msb_challenge *basic, bool *have_basic)
{
	if (c->scheme == MSB_AUTH_BEARER && c->realm[0] && !*have_bearer) {
		*bearer = *c;
		*have_bearer = true;
	} else if (c->scheme == MSB_AUTH_BASIC && !*have_basic) {
		*basic = *c;
		*have_basic = true;
	}
}

int msb__challenge_parse(struct msb_challenge *out, const char *s, size_t len)
{
	struct msb_challenge cur, bearer, basic;
	bool have_bearer = false, have_basic = false;
	bool set_realm = false, set_service = false, set_scope = false;
	bool open = false; /* a challenge has begun */
	size_t i = 0;

	memset(out, 0, sizeof(*out));
	memset(&cur, 0, sizeof(cur));
	while (i < len) {
		while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == ','))
			i++;
		if (i >= len)
			break;
		size_t t0 = i;
		while (i < len && is_tchar(s[i]))
			i++;
		size_t tlen = i - t0;
		if (!tlen) {
			/* not a token (token68 data…): skip to a comma */
			while (i < len && s[i] != ',') {
				if (s[i] != '"')
					i++;
				else if (read_value(s, len, &i, NULL, 0) < 0)
					goto unterminated;
			}
			continue;
		}
		size_t j = i;
		while (j < len && (s[j] == ' ' || s[j] == '\t'))
			j++;
		if (j < len && s[j] == '=') {
			/* name=value for the open challenge */
			char *dst = NULL;
			size_t cap = 0;
			bool *set = NULL;

			i = j + 1;
			while (i < len && (s[i] == ' ' || s[i] == '\t'))
				i++;
			if (tlen == 5 && !strncasecmp(s + t0, "realm", 5)) {
				dst = cur.realm, cap = sizeof(cur.realm);
				set = &set_realm;
			} else if (tlen == 7 &&
				   !strncasecmp(s + t0, "service", 7)) {
				dst = cur.service, cap = sizeof(cur.service);
				set = &set_service;
			} else if (tlen == 5 &&
				   !strncasecmp(s + t0, "scope", 5)) {
				dst = cur.scope, cap = sizeof(cur.scope);
				set = &set_scope;
			}
			if (set && *set)
				dst = NULL; /* the first one wins */
			if (!open)
				dst = NULL; /* parameter without a scheme */
			int rc = read_value(s, len, &i, dst, cap);
			if (rc == -1)
				goto unterminated;
			if (rc == -2)
				return msb__error(
					MSB_EPROTO, 0,
					"authentication challenge: `%.*s` is too long",
					(int)tlen, s + t0);
			if (dst)
				*set = true;
			/* token68 padding "abc==": skip the other '=' */
			while (i < len && s[i] == '=')
				i++;
			continue;
		}
		/* a new challenge */
		challenge_keep(&cur, &bearer, &have_bearer, &basic,
			       &have_basic);
		memset(&cur, 0, sizeof(cur));
		set_realm = set_service = set_scope = false;
		open = true;
		if (tlen == 5 && !strncasecmp(s + t0, "basic", 5))
			cur.scheme = MSB_AUTH_BASIC;
		else if (tlen == 6 && !strncasecmp(s + t0, "bearer", 6))
			cur.scheme = MSB_AUTH_BEARER;
		else
			cur.scheme = MSB_AUTH_NONE;
		i = j;
	}
	challenge_keep(&cur, &bearer, &have_bearer, &basic, &have_basic);
	if (have_bearer) {
		*out = bearer;
		return 0;
	}
	if (have_basic) {
		*out = basic;
		return 0;
	}
	return msb__error(
		MSB_EPROTO, 0,
		"authentication challenge: no Basic or Bearer scheme");
unterminated:
	return msb__error(
		MSB_EPROTO, 0,
		"authentication challenge: unterminated quoted string");
}

/* ------------------------------------------------------------------ */
/* Token answers, Docker config, credential helpers                   */

static bool token_chars_ok(const char *t)
{
	if (!*t)
		return false;
	for (; *t; t++)
		if (*t < 0x21 || *t > 0x7e)
			return false;
	return true;
}

int msb__token_parse(char **token, unsigned int *expires_in, const uint8_t *buf,
		     size_t len)
{
	json_error_t jerr;
	json_t *root = json_loadb((const char *)buf, len,
				  JSON_REJECT_DUPLICATES, &jerr);
	const char *t = NULL;
	json_t *v;
	int rc = 0;

	if (!root || !json_is_object(root)) {
		rc = msb__error(MSB_EPROTO, 0,
				"token answer is not a JSON object");
		goto out;
	}
	v = json_object_get(root, "token");
	if (json_is_string(v) && json_string_length(v))
		t = json_string_value(v);
	if (!t) {
		v = json_object_get(root, "access_token");
		if (json_is_string(v))
			t = json_string_value(v);
	}
	if (!t || !token_chars_ok(t) || strlen(t) > TOKEN_BODY_MAX) {
		rc = msb__error(MSB_EPROTO, 0,
				"token answer has no valid `token`");
		goto out;
	}
	*expires_in = TOKEN_DEFAULT_S;
	v = json_object_get(root, "expires_in");
	if (json_is_integer(v) && json_integer_value(v) > 0)
		*expires_in = json_integer_value(v) > TOKEN_MAX_S
				      ? TOKEN_MAX_S
				      : (unsigned int)json_integer_value(v);
	*token = strdup(t);
	if (!*token)
		rc = oom();
out:
	json_decref(root);
	return rc;
}

void msb__docker_auth_clear(struct msb_docker_auth *a)
{
	if (!a)
		return;
	if (a->password)
		explicit_bzero(a->password, strlen(a->password));
	free(a->username);
	free(a->password);
	free(a->helper);
	memset(a, 0, sizeof(*a));
}

const char *msb__docker_server_url(const char *registry)
{
	if (!strcmp(registry, "docker.io"))
		return "https://index.docker.io/v1/";
	return registry;
}

static bool is_docker_hub(const char *h, size_t n)
{
	static const char *const names[] = {"docker.io", "index.docker.io",
					    "registry-1.docker.io"};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (n == strlen(names[i]) && !strncasecmp(h, names[i], n))
			return true;
	return false;
}

/* 2: @key is @registry exactly; 1: the same host once the scheme and
 * path are dropped (and docker.io aliases); 0: another registry. */
static int key_match(const char *key, const char *registry)
{
	const char *h = key;
	size_t n;

	if (!strcmp(key, registry))
		return 2;
	if (!strncasecmp(h, "https://", 8))
		h += 8;
	else if (!strncasecmp(h, "http://", 7))
		h += 7;
	n = strcspn(h, "/");
	if (n == strlen(registry) && !strncasecmp(h, registry, n))
		return 1;
	if (is_docker_hub(registry, strlen(registry)) && is_docker_hub(h, n))
		return 1;
	return 0;
}

/* The value in object @o whose key matches @registry best, or NULL. */
static json_t *lookup_registry(json_t *o, const char *registry,
			       bool (*usable)(json_t *v))
{
	json_t *best = NULL, *v;
	const char *key;
	int best_m = 0;

	if (!json_is_object(o))
		return NULL;
	json_object_foreach(o, key, v)
	{
		int m = key_match(key, registry);
		if (m > best_m && usable(v)) {
			best = v;
			best_m = m;
		}
	}
	return best;
}

static bool auth_entry_usable(json_t *v)
{
	json_t *a = json_object_get(v, "auth");

	if (json_is_string(a) && json_string_length(a))
		return true;
	return json_is_string(json_object_get(v, "username")) &&
	       json_is_string(json_object_get(v, "password"));
}

static bool helper_entry_usable(json_t *v)
{
	return json_is_string(v) && json_string_length(v);
}

static bool helper_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 64)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._-", *s))
			return false;
	return true;
}

static int set_helper(struct msb_docker_auth *out, const char *name)
{
	if (!helper_name_valid(name))
		return msb__error(
			MSB_EINVAL, 0,
			"docker config: invalid credential helper name `%.64s`",
			name);
	out->helper = strdup(name);
	return out->helper ? 0 : oom();
}

int msb__docker_config_lookup(struct msb_docker_auth *out, const char *registry,
			      const uint8_t *buf, size_t len)
{
	json_error_t jerr;
	json_t *root, *e;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES,
			  &jerr);
	if (!root || !json_is_object(root)) {
		json_decref(root);
		return msb__error(
			MSB_EINVAL, 0,
			"docker config: invalid JSON at line %d: %s", jerr.line,
			root ? "not an object" : msb_printable(jerr.text));
	}

	e = lookup_registry(json_object_get(root, "auths"), registry,
			    auth_entry_usable);
	if (e) {
		json_t *a = json_object_get(e, "auth");
		if (json_is_string(a) && json_string_length(a)) {
			size_t n = 0;
			char *dec = unbase64(json_string_value(a),
					     json_string_length(a), &n);
			char *colon = dec ? memchr(dec, ':', n) : NULL;
			if (!colon || colon == dec || strlen(dec) != n) {
				free(dec);
				rc = msb__error(
					MSB_EINVAL, 0,
					"docker config: the `auth` for `%s` is not base64 of user:password",
					registry);
				goto out;
			}
			*colon = '\0';
			out->username = strdup(dec);
			out->password = strdup(colon + 1);
			explicit_bzero(dec, n);
			free(dec);
		} else {
			out->username = strdup(json_string_value(
				json_object_get(e, "username")));
			out->password = strdup(json_string_value(
				json_object_get(e, "password")));
		}
		if (!out->username || !out->password)
			rc = oom();
		goto out;
	}
	e = lookup_registry(json_object_get(root, "credHelpers"), registry,
			    helper_entry_usable);
	if (e) {
		rc = set_helper(out, json_string_value(e));
		goto out;
	}
	e = json_object_get(root, "credsStore");
	if (helper_entry_usable(e))
		rc = set_helper(out, json_string_value(e));
out:
	if (rc < 0)
		msb__docker_auth_clear(out);
	json_decref(root);
	return rc;
}

int msb__cred_helper_parse(struct msb_docker_auth *out, const uint8_t *buf,
			   size_t len)
{
	json_error_t jerr;
	json_t *root, *u, *p;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES,
			  &jerr);
	u = json_object_get(root, "Username");
	p = json_object_get(root, "Secret");
	if (!json_is_object(root) || !json_is_string(u) || !json_is_string(p)) {
		rc = msb__error(
			MSB_EINVAL, 0,
			"credential helper output is not {\"Username\", \"Secret\"}");
		goto out;
	}
	if (!strcmp(json_string_value(u), "<token>"))
		goto out; /* identity token: not usable here */
	out->username = strdup(json_string_value(u));
	out->password = strdup(json_string_value(p));
	if (!out->username || !out->password) {
		msb__docker_auth_clear(out);
		rc = oom();
	}
out:
	json_decref(root);
	return rc;
}

/*
 * Run `docker-credential-@name get` with @server on stdin; its output (at
 * most HELPER_OUT_MAX bytes) in @out; killed after @timeout_s.
 * Return: 0 with *@found telling whether it had credentials, or -MSB_E*.
 */
static int run_helper(struct msb_buf *out, bool *found, const char *name,
		      const char *server, long timeout_s)
{
	_cleanup_free_ char *prog = xasprintf("docker-credential-%s", name);
	_cleanup_close_ int in_r = -1, in_w = -1, out_r = -1, out_w = -1;
	char *argv[] = {prog, "get", NULL};
	posix_spawn_file_actions_t fa;
	uint64_t deadline = now_us() + (uint64_t)timeout_s * 1000000;
	bool timed_out = false, too_big = false;
	int fds[2], status, rc;
	pid_t pid;

	*found = false;
	if (!prog)
		return oom();
	if (pipe2(fds, O_CLOEXEC) < 0)
		return msb__error(MSB_ESYS, errno, "pipe: %s", strerror(errno));
	in_r = fds[0], in_w = fds[1];
	if (pipe2(fds, O_CLOEXEC) < 0)
		return msb__error(MSB_ESYS, errno, "pipe: %s", strerror(errno));
	out_r = fds[0], out_w = fds[1];
	/* The URL fits in the pipe: written before the helper runs, so a
	 * helper that exits early cannot raise SIGPIPE here. */
	if (strlen(server) > 4096 || write_all(in_w, server, strlen(server)))
		return msb__error(MSB_ESYS, errno, "write to `%s`: %s", prog,
				  strerror(errno));
	close_fd(&in_w);

	if (posix_spawn_file_actions_init(&fa))
		return oom();
	posix_spawn_file_actions_adddup2(&fa, in_r, 0);
	posix_spawn_file_actions_adddup2(&fa, out_w, 1);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	rc = posix_spawnp(&pid, prog, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc == ENOENT)
		return msb__error(
			MSB_ENOTFOUND, rc,
			"docker credential helper `%s` is not installed: install it or fix credHelpers/credsStore in the docker config",
			prog);
	if (rc)
		return msb__error(MSB_ESYS, rc, "run `%s`: %s", prog,
				  strerror(rc));
	close_fd(&in_r);
	close_fd(&out_w);

	msb_buf_reset(out);
	for (;;) {
		uint64_t now = now_us();
		char chunk[4096];
		struct pollfd p = {.fd = out_r, .events = POLLIN};

		if (now >= deadline) {
			timed_out = true;
			break;
		}
		int n = poll(&p, 1, (int)((deadline - now) / 1000) + 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		if (n == 0)
			continue;
		ssize_t r = read(out_r, chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (out->len + (size_t)r > HELPER_OUT_MAX ||
		    msb_buf_append(out, chunk, (size_t)r) < 0) {
			too_big = true;
			kill(pid, SIGKILL);
			break;
		}
	}
	if (timed_out)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (timed_out)
		return msb__error(MSB_ETIMEDOUT, 0,
				  "`%s get` did not answer within %ld s", prog,
				  timeout_s);
	if (too_big)
		return msb__error(MSB_EPROTO, 0,
				  "`%s get` wrote more than %u bytes", prog,
				  HELPER_OUT_MAX);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		*found = true;
	else if (!memmem(out->data ? (char *)out->data : "", out->len,
			 "credentials not found", 21))
		return msb__error(
			MSB_EINVAL, 0, "`%s get` failed (%s %d): %.*s", prog,
			WIFEXITED(status) ? "exit status" : "signal",
			WIFEXITED(status) ? WEXITSTATUS(status)
					  : WTERMSIG(status),
			(int)strcspn(out->data ? (char *)out->data : "", "\n"),
			out->data ? (char *)out->data : "");
	return 0;
}

/* Read the Docker config file; *@buf stays empty if there is none. */
static int read_docker_config(struct msb_registry *r, struct msb_buf *buf,
			      char **pathp)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int fd = -1;
	const char *env;
	struct stat st;

	if (r->docker_config)
		path = strdup(r->docker_config);
	else if ((env = getenv("DOCKER_CONFIG")) && *env)
		path = xasprintf("%s/config.json", env);
	else if ((env = getenv("HOME")) && *env)
		path = xasprintf("%s/.docker/config.json", env);
	else
		return 0;
	if (!path)
		return oom();
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && (errno == ENOENT || errno == ENOTDIR))
		return 0;
	if (fd < 0 || fstat(fd, &st) < 0)
		return msb__error(MSB_ESYS, errno, "open `%s`: %s", path,
				  strerror(errno));
	if (!S_ISREG(st.st_mode) || st.st_size > CONFIG_MAX)
		return msb__error(
			MSB_EINVAL, 0,
			"docker config `%s` is not a file of at most 4 MiB",
			path);
	if (msb_buf_reserve(buf, (size_t)st.st_size + 1) < 0)
		return oom();
	ssize_t n = read_all(fd, buf->data, (size_t)st.st_size);
	if (n < 0)
		return msb__error(MSB_ESYS, errno, "read `%s`: %s", path,
				  strerror(errno));
	buf->len = (size_t)n;
	*pathp = steal_ptr(&path);
	return 0;
}

static int set_basic(struct msb_registry *r, const char *user, const char *pass)
{
	_cleanup_free_ char *up = xasprintf("%s:%s", user, pass);
	_cleanup_free_ char *b64 = NULL;

	if (!up)
		return oom();
	b64 = base64(up, strlen(up));
	explicit_bzero(up, strlen(up));
	if (!b64)
		return oom();
	r->basic = xasprintf("Authorization: Basic %s", b64);
	r->user = strdup(user);
	explicit_bzero(b64, strlen(b64));
	if (!r->basic || !r->user)
		return oom();
	__atomic_store_n(&r->have_creds, true, __ATOMIC_RELEASE);
	return 0;
}

/* Find the credentials (once). Called with auth_lock held. */
static int load_creds(struct msb_registry *r)
{
	struct msb_docker_auth a = {0};
	struct msb_buf buf = {0};
	_cleanup_free_ char *path = NULL;
	int rc;

	if (r->creds_loaded)
		return 0;
	if (r->opt_user && r->opt_pass) {
		rc = set_basic(r, r->opt_user, r->opt_pass);
		goto out;
	}
	rc = read_docker_config(r, &buf, &path);
	if (rc < 0 || !path)
		goto out;
	rc = msb__docker_config_lookup(&a, r->registry, buf.data, buf.len);
	if (rc < 0) {
		char m[sizeof(msb_last_error()->message)];

		snprintf(m, sizeof(m), "%s", msb_last_error()->message);
		msb__error(MSB_EINVAL, 0, "%s (`%s`)", m, path);
		goto out;
	}
	if (a.helper) {
		bool found;
		const char *helper = a.helper;

		rc = run_helper(&buf, &found, helper,
				msb__docker_server_url(r->registry),
				r->timeout_s);
		if (rc < 0 || !found)
			goto out;
		a.helper = NULL;
		rc = msb__cred_helper_parse(&a, buf.data, buf.len);
		free((char *)helper);
		if (rc < 0)
			goto out;
	}
	if (a.username && a.password)
		rc = set_basic(r, a.username, a.password);
out:
	if (buf.data)
		explicit_bzero(buf.data, buf.cap);
	msb_buf_free(&buf);
	msb__docker_auth_clear(&a);
	if (rc == 0)
		r->creds_loaded = true;
	return rc;
}

/* ------------------------------------------------------------------ */
/* Transfers                                                           */

static CURL *pool_get(struct msb_registry *r)
{
	CURL *c = NULL;

	pthread_mutex_lock(&r->pool_lock);
	if (r->npool)
		c = r->pool[--r->npool];
	pthread_mutex_unlock(&r->pool_lock);
	if (c)
		curl_easy_reset(c);
	else
		c = curl_easy_init();
	return c;
}

static void pool_put(struct msb_registry *r, CURL *c)
{
	pthread_mutex_lock(&r->pool_lock);
	if (r->npool < POOL_MAX) {
		r->pool[r->npool++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&r->pool_lock);
	if (c)
		curl_easy_cleanup(c);
}

static int body_begin(struct xfer *x)
{
	x->begun = true;
	curl_easy_getinfo(x->c, CURLINFO_RESPONSE_CODE, &x->status);
	if (x->status != 200 && x->status != 206)
		return 0;
	if (x->status == 206) {
		if (x->kind != XFER_BLOB || !x->range_start)
			return x->rc = msb__error(
				       MSB_EPROTO, 0,
				       "pull `%s`: %s: unexpected partial content (206)",
				       x->r->name, x->what);
		if (!x->have_crange || x->crange_start != x->range_start)
			return x->rc = msb__error(
				       MSB_EPROTO, 0,
				       "pull `%s`: %s: asked for bytes from %" PRIu64
				       ", got another range",
				       x->r->name, x->what, x->range_start);
		return 0;
	}
	if (x->kind == XFER_BLOB && x->range_start) {
		/* Range ignored: the data starts again from byte 0 */
		if (!x->on_restart)
			return x->rc = msb__error(
				       MSB_EPROTO, 0,
				       "pull `%s`: %s: the server does not resume downloads",
				       x->r->name, x->what);
		x->on_restart(x->ud);
		x->offset = 0;
		x->delivered = 0;
	}
	return 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t len = size * n;

	x->last_data_us = now_us();
	if (!x->begun && body_begin(x) < 0)
		return 0;
	if (x->status != 200 && x->status != 206) {
		size_t keep = sizeof(x->errbody) - 1 - x->errlen;
		if (keep > len)
			keep = len;
		memcpy(x->errbody + x->errlen, p, keep);
		x->errlen += keep;
		x->errbody[x->errlen] = '\0';
		return len;
	}
	if (x->kind == XFER_BLOB) {
		int rc = x->sink(p, len, x->ud);
		if (rc < 0) {
			x->rc = rc;
			return 0;
		}
		x->delivered += len;
		return len;
	}
	if (x->body->len + len > x->body_max) {
		x->rc = msb__error(MSB_EPROTO, 0,
				   "pull `%s`: %s is larger than %zu bytes",
				   x->r->name, x->what, x->body_max);
		return 0;
	}
	if (msb_buf_append(x->body, p, len) < 0) {
		x->rc = oom();
		return 0;
	}
	return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t len = size * n, vlen;
	const char *v;

	x->last_data_us = now_us();
	if (len >= 5 && !strncmp(p, "HTTP/", 5)) {
		/* a new response (after a redirect or 100) */
		x->www_auth_len = 0;
		x->www_auth[0] = '\0';
		x->www_auth_trunc = false;
		x->ctype[0] = '\0';
		x->have_crange = false;
	} else if (header_is(p, len, "WWW-Authenticate", &v, &vlen)) {
		size_t need = vlen + (x->www_auth_len ? 2 : 0);
		if (x->www_auth_len + need >= sizeof(x->www_auth)) {
			x->www_auth_trunc = true;
		} else {
			if (x->www_auth_len) {
				memcpy(x->www_auth + x->www_auth_len, ", ", 2);
				x->www_auth_len += 2;
			}
			memcpy(x->www_auth + x->www_auth_len, v, vlen);
			x->www_auth_len += vlen;
			x->www_auth[x->www_auth_len] = '\0';
		}
	} else if (header_is(p, len, "Content-Type", &v, &vlen)) {
		if (vlen >= sizeof(x->ctype))
			vlen = sizeof(x->ctype) - 1;
		memcpy(x->ctype, v, vlen);
		x->ctype[vlen] = '\0';
	} else if (header_is(p, len, "Content-Range", &v, &vlen)) {
		/* "bytes START-END/TOTAL" */
		uint64_t start = 0;
		size_t i = 6;
		if (vlen > 6 && !strncasecmp(v, "bytes ", 6) &&
		    isdigit((unsigned char)v[6])) {
			for (;
			     i < vlen && isdigit((unsigned char)v[i]) && i < 26;
			     i++)
				start = start * 10 + (uint64_t)(v[i] - '0');
			if (i < vlen && v[i] == '-') {
				x->have_crange = true;
				x->crange_start = start;
			}
		}
	}
	return len;
}

/*
 * Stall detection: no byte (header or body) for the timeout. libcurl's
 * LOW_SPEED_* options average over a window of several seconds, so a
 * burst followed by silence would go unnoticed for longer than that.
 */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow,
		       curl_off_t ultotal, curl_off_t ulnow)
{
	struct xfer *x = ud;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	if (now_us() - x->last_data_us > (uint64_t)x->r->timeout_s * 1000000) {
		x->stalled = true;
		return 1;
	}
	return 0;
}

/* One attempt: fills x->status, x->rc, x->os_errno. */
static CURLcode attempt(struct xfer *x, const char *auth)
{
	struct msb_registry *r = x->r;
	struct curl_slist *hdrs = NULL, *t;
	char range[48];
	CURLcode res;

	x->status = 0;
	x->begun = false;
	x->rc = 0;
	x->stalled = false;
	x->os_errno = 0;
	x->errbuf[0] = '\0';
	x->www_auth_len = 0;
	x->www_auth[0] = '\0';
	x->www_auth_trunc = false;
	x->ctype[0] = '\0';
	x->have_crange = false;
	x->errlen = 0;
	x->errbody[0] = '\0';
	x->range_start = 0;
	if (x->kind == XFER_BLOB)
		x->range_start = x->offset + x->delivered;
	else
		msb_buf_reset(x->body);

	x->c = pool_get(r);
	if (!x->c) {
		x->rc = oom();
		return CURLE_OUT_OF_MEMORY;
	}
	if (x->kind == XFER_MANIFEST) {
		t = curl_slist_append(hdrs, "Accept: " MSB_MT_OCI_MANIFEST
					    ", " MSB_MT_OCI_INDEX
					    ", " MSB_MT_DOCKER_MANIFEST
					    ", " MSB_MT_DOCKER_LIST);
		if (!t)
			goto nomem;
		hdrs = t;
	}
	if (auth) {
		t = curl_slist_append(hdrs, auth);
		if (!t)
			goto nomem;
		hdrs = t;
	}
	CURL *c = x->c;
	curl_easy_setopt(c, CURLOPT_URL, x->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, r->protocols);
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, r->protocols);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, r->timeout_s);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_BUFFERSIZE, (long)RECV_BUFFER);
	curl_easy_setopt(c, CURLOPT_USERAGENT,
			 "microsandbox/" MSB_VERSION_STRING);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	if (x->range_start) {
		snprintf(range, sizeof(range), "%" PRIu64 "-", x->range_start);
		curl_easy_setopt(c, CURLOPT_RANGE, range);
	}
	x->last_data_us = now_us();
	res = curl_easy_perform(c);
	if (res == CURLE_ABORTED_BY_CALLBACK && x->stalled)
		res = CURLE_OPERATION_TIMEDOUT;
	if (res == CURLE_OK && !x->begun && body_begin(x) < 0)
		res = CURLE_WRITE_ERROR;
	if (!x->begun)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &x->status);
	curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &x->os_errno);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
	curl_slist_free_all(hdrs);
	pool_put(r, c);
	x->c = NULL;
	return res;
nomem:
	curl_slist_free_all(hdrs);
	pool_put(r, x->c);
	x->c = NULL;
	x->rc = oom();
	return CURLE_OUT_OF_MEMORY;
}

static bool retryable(CURLcode res)
{
	switch (res) {
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR:
		return true;
	default:
		return false;
	}
}

static void backoff(unsigned int n)
{
	unsigned int ms = BACKOFF_FIRST_MS;

	while (n-- && ms < BACKOFF_MAX_MS)
		ms *= 2;
	sleep_ms(ms < BACKOFF_MAX_MS ? ms : BACKOFF_MAX_MS);
}

/* The "message" of a registry's JSON error body, printable, or "". */
static void error_detail(const struct xfer *x, char *out, size_t cap)
{
	json_t *root = json_loadb(x->errbody, x->errlen, 0, NULL);
	json_t *m = json_object_get(
		json_array_get(json_object_get(root, "errors"), 0), "message");
	const char *s = json_string_value(m);
	size_t o = 0;

	out[0] = '\0';
	if (s && *s) {
		out[o++] = ':';
		out[o++] = ' ';
		for (; *s && o + 1 < cap && o < 120; s++)
			out[o++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
		out[o] = '\0';
	}
	json_decref(root);
}

static int curl_failure(struct xfer *x, CURLcode res, unsigned int tries)
{
	const char *name = x->r->name;
	char msg[CURL_ERROR_SIZE];
	int err = (int)x->os_errno;

	snprintf(msg, sizeof(msg), "%s",
		 x->errbuf[0] ? x->errbuf : curl_easy_strerror(res));
	msg[0] = (char)tolower((unsigned char)msg[0]);
	switch (res) {
	case CURLE_OPERATION_TIMEDOUT:
		return msb__error(
			MSB_ETIMEDOUT, 0,
			"pull `%s`: %s: `%s` timed out (no data for %ld s, %u attempts)",
			name, x->what, x->r->host, x->r->timeout_s, tries);
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return msb__error(MSB_ENOTFOUND, 0, "pull `%s`: %s", name, msg);
	case CURLE_COULDNT_CONNECT:
		return msb__error(MSB_ESYS, err,
				  "pull `%s`: connect to `%s`: %s", name,
				  x->r->host, err ? strerror(err) : msg);
	case CURLE_UNSUPPORTED_PROTOCOL:
		return msb__error(
			MSB_EPROTO, 0,
			"pull `%s`: %s: refused a redirect to another scheme (%s)",
			name, x->what, msg);
	case CURLE_TOO_MANY_REDIRECTS:
		return msb__error(MSB_EPROTO, 0,
				  "pull `%s`: %s: too many redirects", name,
				  x->what);
	case CURLE_OUT_OF_MEMORY:
		return oom();
	default:
		return msb__error(err ? MSB_ESYS : MSB_EPROTO, err,
				  "pull `%s`: %s: %s (%u attempts)", name,
				  x->what, msg, tries);
	}
}

static int status_failure(struct xfer *x, unsigned int tries)
{
	const char *name = x->r->name;
	char detail[160];
	long st = x->status;

	error_detail(x, detail, sizeof(detail));
	if (st == 401 || (x->kind == XFER_TOKEN && st == 403)) {
		if (__atomic_load_n(&x->r->have_creds, __ATOMIC_ACQUIRE))
			return msb__error(
				MSB_EAUTH, 0,
				"pull `%s`: authentication failed (401): check the user name and password",
				name);
		return msb__error(
			MSB_EAUTH, 0,
			"pull `%s`: authentication required (401): log in (docker login) or give a user name and password",
			name);
	}
	if (st == 403)
		return msb__error(MSB_EAUTH, 0,
				  "pull `%s`: access denied (403)%s", name,
				  detail);
	if (st == 404 && x->kind == XFER_MANIFEST)
		return msb__error(MSB_ENOTFOUND, 0,
				  "pull `%s`: %s unknown (404)", name, x->what);
	if (st == 404 && x->kind == XFER_BLOB)
		return msb__error(MSB_ENOTFOUND, 0,
				  "pull `%s`: %s unknown (404)", name, x->what);
	if (st == 416)
		return msb__error(MSB_EPROTO, 0,
				  "pull `%s`: %s: range not satisfiable (416)",
				  name, x->what);
	if (st >= 500 || st == 429)
		return msb__error(
			MSB_EPROTO, 0,
			"pull `%s`: %s: registry error %ld after %u attempts%s",
			name, x->what, st, tries, detail);
	return msb__error(MSB_EPROTO, 0,
			  "pull `%s`: %s: unexpected HTTP status %ld%s", name,
			  x->what, st, detail);
}

static int transfer(struct xfer *x);

static char *token_key(const struct msb_registry *r,
		       const struct msb_challenge *ch)
{
	if (ch->scope[0])
		return xasprintf("%s\n%s\n%s", ch->realm, ch->service,
				 ch->scope);
	return xasprintf("%s\n%s\nrepository:%s:pull", ch->realm, ch->service,
			 r->repo);
}

/* GET a token for the challenge. Called with auth_lock held. */
static int fetch_token(struct msb_registry *r, const struct msb_challenge *ch,
		       char **header, unsigned int *ttl)
{
	_cleanup_free_ char *url = NULL, *scope = NULL, *token = NULL;
	char *svc = NULL, *sc = NULL, *acct = NULL;
	struct msb_buf body = {0};
	struct xfer x;
	int rc;

	if (strncmp(ch->realm, "https://", 8) &&
	    (!r->plain || strncmp(ch->realm, "http://", 7)))
		return msb__error(
			MSB_EPROTO, 0,
			"pull `%s`: the token server `%.200s` is not an https URL",
			r->name, ch->realm);
	rc = load_creds(r);
	if (rc < 0)
		return rc;
	scope = ch->scope[0] ? strdup(ch->scope)
			     : xasprintf("repository:%s:pull", r->repo);
	svc = curl_easy_escape(NULL, ch->service, 0);
	sc = scope ? curl_easy_escape(NULL, scope, 0) : NULL;
	acct = r->user ? curl_easy_escape(NULL, r->user, 0) : NULL;
	if (svc && sc && (!r->user || acct))
		url = xasprintf("%s%sservice=%s&scope=%s%s%s", ch->realm,
				strchr(ch->realm, '?') ? "&" : "?", svc, sc,
				acct ? "&account=" : "", acct ? acct : "");
	curl_free(svc);
	curl_free(sc);
	curl_free(acct);
	if (!url)
		return oom();

	memset(&x, 0, sizeof(x));
	x.r = r;
	x.kind = XFER_TOKEN;
	x.url = url;
	x.what = "token";
	x.auth = r->basic;
	x.body = &body;
	x.body_max = TOKEN_BODY_MAX;
	rc = transfer(&x);
	if (rc == 0)
		rc = msb__token_parse(&token, ttl, body.data, body.len);
	msb_buf_free(&body);
	if (rc < 0) {
		char m[sizeof(msb_last_error()->message)];

		snprintf(m, sizeof(m), "%s", msb_last_error()->message);
		if (rc == -MSB_EPROTO && !strncmp(m, "token answer", 12))
			msb__error(MSB_EPROTO, 0, "pull `%s`: %s from `%.200s`",
				   r->name, m, ch->realm);
		return rc;
	}
	*header = xasprintf("Authorization: Bearer %s", token);
	explicit_bzero(token, strlen(token));
	return *header ? 0 : oom();
}

static void token_drop(struct token *t)
{
	if (t->header)
		explicit_bzero(t->header, strlen(t->header));
	free(t->key);
	free(t->header);
	memset(t, 0, sizeof(*t));
}

/* The Authorization header for the next request (NULL: none), malloc'd. */
static int auth_for_request(struct msb_registry *r, char **out)
{
	_cleanup_free_ char *key = NULL;
	struct token *slot = NULL;
	char *header = NULL;
	unsigned int ttl;
	int rc = 0;

	*out = NULL;
	pthread_mutex_lock(&r->auth_lock);
	if (!r->have_chal)
		goto out;
	if (r->chal.scheme == MSB_AUTH_BASIC) {
		if (r->basic && !(*out = strdup(r->basic)))
			rc = oom();
		goto out;
	}
	key = token_key(r, &r->chal);
	if (!key) {
		rc = oom();
		goto out;
	}
	uint64_t now = now_us();
	for (size_t i = 0; i < TOKENS_MAX; i++) {
		struct token *t = &r->tokens[i];
		if (t->key && !strcmp(t->key, key)) {
			if (t->expires_us > now) {
				t->used = ++r->stamp;
				if (!(*out = strdup(t->header)))
					rc = oom();
				goto out;
			}
			slot = t;
		}
	}
	rc = fetch_token(r, &r->chal, &header, &ttl);
	if (rc < 0)
		goto out;
	if (!slot) {
		slot = &r->tokens[0];
		for (size_t i = 0; i < TOKENS_MAX; i++) {
			if (!r->tokens[i].key) {
				slot = &r->tokens[i];
				break;
			}
			if (r->tokens[i].used < slot->used)
				slot = &r->tokens[i];
		}
	}
	token_drop(slot);
	slot->key = steal_ptr(&key);
	slot->header = header;
	slot->used = ++r->stamp;
	ttl = ttl > 2 * TOKEN_MARGIN_S ? ttl - TOKEN_MARGIN_S : ttl / 2;
	slot->expires_us = now_us() + (uint64_t)ttl * 1000000;
	if (!(*out = strdup(header)))
		rc = oom();
out:
	pthread_mutex_unlock(&r->auth_lock);
	return rc;
}

/*
 * A 401: remember the challenge and get credentials, or give up.
 * @sent: the request carried Authorization. Return 0 to try again.
 */
static int on_unauthorized(struct xfer *x, bool sent, bool *refreshed,
			   unsigned int tries)
{
	struct msb_registry *r = x->r;
	struct msb_challenge ch;
	int rc;

	if (x->www_auth_trunc || !x->www_auth_len ||
	    msb__challenge_parse(&ch, x->www_auth, x->www_auth_len) < 0)
		return msb__error(
			MSB_EPROTO, 0,
			"pull `%s`: %s: 401 without a usable authentication challenge",
			r->name, x->what);
	pthread_mutex_lock(&r->auth_lock);
	if (sent && ch.scheme == MSB_AUTH_BEARER && !*refreshed) {
		/* expired, revoked, or another scope: one new token */
		_cleanup_free_ char *key = token_key(r, &ch);
		for (size_t i = 0; key && i < TOKENS_MAX; i++)
			if (r->tokens[i].key && !strcmp(r->tokens[i].key, key))
				token_drop(&r->tokens[i]);
		r->chal = ch;
		r->have_chal = true;
		*refreshed = true;
		pthread_mutex_unlock(&r->auth_lock);
		return 0;
	}
	if (sent) {
		pthread_mutex_unlock(&r->auth_lock);
		if (ch.scheme != MSB_AUTH_BEARER)
			return status_failure(x, tries);
		/* the token server accepted us; the registry does not:
		 * insufficient scope (what Docker Hub says for a missing
		 * repository too) */
		if (__atomic_load_n(&r->have_creds, __ATOMIC_ACQUIRE))
			return msb__error(
				MSB_EAUTH, 0,
				"pull `%s`: access denied (401): the image does not exist or this user may not pull it",
				r->name);
		return msb__error(
			MSB_EAUTH, 0,
			"pull `%s`: authentication required (401): the image does not exist or needs a login (docker login, or a user name and password)",
			r->name);
	}
	r->chal = ch;
	r->have_chal = true;
	rc = load_creds(r);
	if (rc == 0 && ch.scheme == MSB_AUTH_BASIC && !r->basic)
		rc = status_failure(x, tries);
	pthread_mutex_unlock(&r->auth_lock);
	return rc;
}

static int transfer(struct xfer *x)
{
	struct msb_registry *r = x->r;
	unsigned int tries = 0, auth_rounds = 0;
	bool refreshed = false;

	for (;;) {
		_cleanup_free_ char *auth = NULL;
		CURLcode res;
		int rc;

		if (x->kind == XFER_TOKEN) {
			if (x->auth && !(auth = strdup(x->auth)))
				return oom();
		} else {
			rc = auth_for_request(r, &auth);
			if (rc < 0)
				return rc;
		}
		tries++;
		res = attempt(x, auth);
		if (auth)
			explicit_bzero(auth, strlen(auth));
		if (x->rc < 0)
			return x->rc;
		if (res != CURLE_OK) {
			if (retryable(res) && tries <= r->retries) {
				backoff(tries - 1);
				continue;
			}
			return curl_failure(x, res, tries);
		}
		if (x->status == 200 || x->status == 206)
			return 0;
		if (x->status == 401 && x->kind != XFER_TOKEN &&
		    auth_rounds < AUTH_ROUNDS_MAX) {
			auth_rounds++;
			tries--; /* not a failure of the network */
			rc = on_unauthorized(x, auth != NULL, &refreshed,
					     tries);
			if (rc < 0)
				return rc;
			continue;
		}
		if ((x->status == 429 || x->status >= 500) &&
		    tries <= r->retries) {
			backoff(tries - 1);
			continue;
		}
		return status_failure(x, tries);
	}
}

/* ------------------------------------------------------------------ */
/* API                                                                 */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_res;
static char curl_load_err[256];

static void curl_init(void)
{
	if (libcurl_load(curl_load_err, sizeof(curl_load_err)) < 0)
		return;
	curl_init_res = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int msb_registry_open(struct msb_registry **out, const struct msb_ref *ref,
		      const struct msb_registry_opts *opts)
{
	struct msb_registry *r;
	const char *host;

	*out = NULL;
	if (!ref || !ref->registry || !ref->repository)
		return msb__error(MSB_EINVAL, 0,
				  "registry: no image reference");
	host = msb_ref_api_host(ref);
	if (!host || !host_valid(host) || !repo_valid(ref->repository))
		return msb__error(
			MSB_EINVAL, 0,
			"registry: invalid host or repository in the image reference");
	pthread_once(&curl_once, curl_init);
	if (curl_load_err[0])
		return msb__error(MSB_ESYS, 0, "load libcurl: %s",
				  curl_load_err);
	if (curl_init_res != CURLE_OK)
		return msb__error(MSB_ESYS, 0, "initialise libcurl: %s",
				  curl_easy_strerror(curl_init_res));
	r = calloc(1, sizeof(*r));
	if (!r)
		return oom();
	pthread_mutex_init(&r->pool_lock, NULL);
	pthread_mutex_init(&r->auth_lock, NULL);
	r->plain = msb_ref_is_local(ref) || (opts && opts->insecure);
	r->protocols = r->plain ? "http,https" : "https";
	r->timeout_s = opts && opts->timeout_s ? (long)opts->timeout_s : 30;
	r->retries = opts && opts->retries ? opts->retries : 3;
	r->name = msb_ref_format(ref);
	r->registry = strdup(ref->registry);
	if (ref->tag && !(r->ref_tag = strdup(ref->tag)))
		goto nomem;
	if (ref->digest && !(r->ref_digest = strdup(ref->digest)))
		goto nomem;
	r->repo = strdup(ref->repository);
	r->host = strdup(host);
	r->base = xasprintf("%s://%s", r->plain ? "http" : "https", host);
	if (opts && opts->username && opts->password) {
		r->opt_user = strdup(opts->username);
		r->opt_pass = strdup(opts->password);
		if (!r->opt_user || !r->opt_pass)
			goto nomem;
	}
	if (opts && opts->docker_config &&
	    !(r->docker_config = strdup(opts->docker_config)))
		goto nomem;
	if (!r->name || !r->registry || !r->repo || !r->host || !r->base)
		goto nomem;
	*out = r;
	return 0;
nomem:
	msb_registry_free(r);
	return oom();
}

void msb_registry_free(struct msb_registry *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->npool; i++)
		curl_easy_cleanup(r->pool[i]);
	for (size_t i = 0; i < TOKENS_MAX; i++)
		token_drop(&r->tokens[i]);
	if (r->opt_pass)
		explicit_bzero(r->opt_pass, strlen(r->opt_pass));
	if (r->basic)
		explicit_bzero(r->basic, strlen(r->basic));
	free(r->opt_user);
	free(r->opt_pass);
	free(r->basic);
	free(r->user);
	free(r->docker_config);
	free(r->name);
	free(r->ref_tag);
	free(r->ref_digest);
	free(r->registry);
	free(r->repo);
	free(r->host);
	free(r->base);
	pthread_mutex_destroy(&r->pool_lock);
	pthread_mutex_destroy(&r->auth_lock);
	free(r);
}

int msb_registry_manifest(struct msb_registry *r, const char *reference,
			  struct msb_buf *body, char **content_type,
			  char **digest)
{
	_cleanup_free_ char *url = NULL, *what = NULL, *dg = NULL;
	bool by_digest;
	struct xfer x;
	int rc;

	if (!r || !reference || !body || !content_type || !digest)
		return msb__error(MSB_EINVAL, 0, "registry: invalid argument");
	by_digest = strchr(reference, ':') != NULL;
	if (by_digest ? !msb_digest_valid(reference) : !tag_valid(reference))
		return msb__error(MSB_EINVAL, 0,
				  "pull `%s`: invalid tag or digest `%.140s`",
				  r->name, reference);
	url = xasprintf("%s/v2/%s/manifests/%s", r->base, r->repo, reference);
	if ((r->ref_tag && !strcmp(reference, r->ref_tag)) ||
	    (r->ref_digest && !strcmp(reference, r->ref_digest)))
		what = strdup("manifest");
	else
		what = xasprintf("manifest `%s`", reference);
	if (!url || !what)
		return oom();

	memset(&x, 0, sizeof(x));
	x.r = r;
	x.kind = XFER_MANIFEST;
	x.url = url;
	x.what = what;
	x.body = body;
	x.body_max = MSB_OCI_DOC_MAX;
	msb_buf_reset(body);
	rc = transfer(&x);
	if (rc < 0) {
		msb_buf_reset(body);
		return rc;
	}
	dg = digest_of(by_digest && !strncmp(reference, "sha512:", 7)
			       ? "sha512"
			       : "sha256",
		       body->data ? body->data : (uint8_t *)"", body->len);
	if (!dg)
		return oom();
	if (by_digest && strcmp(dg, reference)) {
		msb_buf_reset(body);
		return msb__error(
			MSB_EPROTO, 0,
			"pull `%s`: manifest `%s`: content does not match its digest",
			r->name, reference);
	}
	*content_type = strdup(x.ctype);
	if (!*content_type)
		return oom();
	*digest = steal_ptr(&dg);
	return 0;
}

int msb_registry_blob(struct msb_registry *r, const char *digest,
		      uint64_t offset,
		      int (*sink)(const void *buf, size_t len, void *ud),
		      void (*on_restart)(void *ud), void *ud)
{
	_cleanup_free_ char *url = NULL, *what = NULL;
	struct xfer x;

	if (!r || !digest || !sink)
		return msb__error(MSB_EINVAL, 0, "registry: invalid argument");
	if (!msb_digest_valid(digest))
		return msb__error(MSB_EINVAL, 0,
				  "pull `%s`: invalid blob digest `%.140s`",
				  r->name, digest);
	url = xasprintf("%s/v2/%s/blobs/%s", r->base, r->repo, digest);
	what = xasprintf("blob `%s`", digest);
	if (!url || !what)
		return oom();
	memset(&x, 0, sizeof(x));
	x.r = r;
	x.kind = XFER_BLOB;
	x.url = url;
	x.what = what;
	x.sink = sink;
	x.on_restart = on_restart;
	x.ud = ud;
	x.offset = offset;
	return transfer(&x);
}
