// SPDX-License-Identifier: Apache-2.0
/*
 * Image references: parse, normalise and format registry/repo:tag@digest.
 *
 * Theory of operation: the grammar is the one of Docker's "reference"
 * package (name [":" tag] ["@" digest], name = [domain "/"] path). The
 * first '/'-separated component is a registry if it contains '.' or ':',
 * is "localhost" or has an uppercase letter (Docker's rule); otherwise the
 * registry is docker.io, where one-component names live under "library/".
 * Every check walks the input once; nothing is allocated until the whole
 * reference has been validated.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lib/image/oci.h"
#include "lib/image/ref.h"
#include "lib/internal.h"

#define REF_MAX 4096  /* longest reference accepted at all */
#define NAME_MAX_ 255 /* registry/repository, as Docker limits it */
#define TAG_MAX 128
#define SHOW_MAX 120 /* characters of a bad reference shown in errors */

static const char docker_io[] = "docker.io";

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A printable, bounded copy of untrusted text for one-line messages. */
static void show(char *dst, size_t size, const char *s, size_t len)
{
	size_t i, n = len < size - 4 ? len : size - 4;

	for (i = 0; i < n; i++)
		dst[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (n < len)
		memcpy(dst + i, "...", 4);
	else
		dst[i] = '\0';
}

/* "byte 0x01" or "`!`": a character named in an error message. */
static void show_char(char *dst, size_t size, char c)
{
	if (c > 0x20 && c < 0x7f)
		snprintf(dst, size, "`%c`", c);
	else
		snprintf(dst, size, "byte 0x%02x", (unsigned char)c);
}

__attribute__((format(printf, 2, 3))) static int invalid(const char *shown,
							 const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return msb__error(MSB_EINVAL, 0, "invalid image reference `%s`: %s",
			  shown, why);
}

/* port := [0-9]{1,5}, 1 to 65535 */
static bool port_valid(const char *p, size_t n)
{
	unsigned v = 0;

	if (n == 0 || n > 5)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(p[i]))
			return false;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	return v >= 1 && v <= 65535;
}

/*
 * host[:port]: host is a domain name (components of letters, digits and
 * inner '-', joined by '.'; IPv4 addresses are a case of it) or an IPv6
 * address in brackets (stricter than Docker: it must parse as one).
 */
static bool domain_valid(const char *d, size_t n)
{
	size_t i = 0;

	if (n > 0 && d[0] == '[') {
		char a[INET6_ADDRSTRLEN];
		struct in6_addr a6;

		for (i = 1; i < n && d[i] != ']'; i++)
			if (!is_hex(d[i]) && d[i] != ':')
				return false;
		if (i == n || i - 1 >= sizeof(a))
			return false;
		memcpy(a, d + 1, i - 1);
		a[i - 1] = '\0';
		if (inet_pton(AF_INET6, a, &a6) != 1)
			return false;
		i++;
	} else {
		for (;;) {
			if (i >= n || !is_alnum(d[i]))
				return false;
			while (i < n && (is_alnum(d[i]) || d[i] == '-'))
				i++;
			if (d[i - 1] == '-')
				return false;
			if (i < n && d[i] == '.') {
				i++;
				continue;
			}
			break;
		}
	}
	if (i == n)
		return true;
	return d[i] == ':' && port_valid(d + i + 1, n - i - 1);
}

/*
 * path := component ("/" component)*, component := [a-z0-9]+ (sep
 * [a-z0-9]+)*, sep := "." | "_" | "__" | "-"+. Called once the path is
 * known to hold only lowercase letters, digits and "._-/".
 */
static bool path_valid(const char *p, size_t n)
{
	size_t i = 0;

	for (;;) {
		if (i >= n || !is_lower_alnum(p[i]))
			return false;
		while (i < n && is_lower_alnum(p[i]))
			i++;
		if (i == n)
			return true;
		if (p[i] == '.' || p[i] == '/') {
			i++;
		} else if (p[i] == '_') {
			i++;
			if (i < n && p[i] == '_')
				i++;
		} else {
			while (i < n && p[i] == '-')
				i++;
		}
	}
}

/* tag := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127} */
static bool tag_valid(const char *t, size_t n)
{
	if (n == 0 || n > TAG_MAX || !(is_alnum(t[0]) || t[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!is_alnum(t[i]) && !strchr("_.-", t[i]))
			return false;
	return true;
}

/* Docker's rule: is the first component of a name a registry? */
static bool looks_like_domain(const char *s, size_t n)
{
	if (memchr(s, '.', n) || memchr(s, ':', n))
		return true;
	if (n == 9 && !memcmp(s, "localhost", 9))
		return true;
	for (size_t i = 0; i < n; i++)
		if (s[i] >= 'A' && s[i] <= 'Z')
			return true;
	return false;
}

static int check_path(const char *shown, const char *p, size_t n)
{
	char c[16];

	for (size_t i = 0; i < n; i++)
		if (p[i] >= 'A' && p[i] <= 'Z')
			return invalid(shown,
				       "repository names must be lowercase");
	for (size_t i = 0; i < n; i++) {
		if (!is_lower_alnum(p[i]) && !strchr("._-/", p[i])) {
			show_char(c, sizeof(c), p[i]);
			return invalid(shown,
				       "unexpected %s in the repository name",
				       c);
		}
	}
	if (!path_valid(p, n))
		return invalid(
			shown,
			"each part of the repository name must start and end with a letter or digit, joined by '.', '_', '__' or '-'");
	return 0;
}

static int check_digest(const char *shown, const char *d)
{
	const char *colon = strchr(d, ':');

	if (msb_digest_valid(d))
		return 0;
	if (colon && colon - d == 6 && !memcmp(d, "sha384", 6))
		return invalid(
			shown,
			"digest algorithm `sha384` is not supported (use sha256)");
	return invalid(
		shown,
		"the digest must be `sha256:` and 64 lowercase hex digits");
}

int msb_ref_parse(struct msb_ref *out, const char *s)
{
	char shown[SHOW_MAX + 4];
	const char *dom = NULL, *rest, *slash, *at, *colon, *path, *end, *nt;
	size_t len, dlen = 0, plen;
	int rc;

	if (!out)
		return msb__error(MSB_EINVAL, 0,
				  "parse image reference: no output");
	memset(out, 0, sizeof(*out));
	if (!s)
		return msb__error(MSB_EINVAL, 0,
				  "parse image reference: no reference");
	len = strnlen(s, REF_MAX + 1);
	show(shown, sizeof(shown), s, len);
	if (len == 0)
		return invalid(shown, "the reference is empty");
	if (len > REF_MAX)
		return invalid(shown,
			       "the reference is longer than %d characters",
			       REF_MAX);
	const char *scheme = strstr(s, "://");
	if (scheme) {
		char sch[SHOW_MAX + 4];

		show(sch, sizeof(sch), s, (size_t)(scheme - s) + 3);
		return invalid(shown, "a reference has no scheme: remove `%s`",
			       sch);
	}
	if (len == 64 && strspn(s, "0123456789abcdef") == 64)
		return invalid(
			shown,
			"a 64-digit hex string is an image id, not a reference");

	end = s + len;
	rest = s;
	slash = strchr(s, '/');
	if (slash && looks_like_domain(s, (size_t)(slash - s))) {
		dom = s;
		dlen = (size_t)(slash - s);
		rest = slash + 1;
		if (!domain_valid(dom, dlen)) {
			char d[SHOW_MAX + 4];

			show(d, sizeof(d), dom, dlen);
			return invalid(
				shown,
				"invalid registry `%s`: expected host[:port]",
				d);
		}
	}
	at = strchr(rest, '@');
	nt = at ? at : end; /* end of name[:tag] */
	path = rest;
	colon = memchr(rest, ':', (size_t)(nt - rest));
	plen = (size_t)((colon ? colon : nt) - path);
	if ((rc = check_path(shown, path, plen)) < 0)
		return rc;
	if (colon && !tag_valid(colon + 1, (size_t)(nt - colon - 1)))
		return invalid(
			shown,
			"a tag is 1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'");
	if (at && (rc = check_digest(shown, at + 1)) < 0)
		return rc;

	/* Normalise: index.docker.io is docker.io; docker.io/x is library/x */
	if (dom && ((dlen == 15 && !memcmp(dom, "index.docker.io", 15)) ||
		    (dlen == 9 && !memcmp(dom, docker_io, 9))))
		dom = NULL;
	if (!dom)
		dlen = strlen(docker_io);
	bool library = !dom && !memchr(path, '/', plen);
	size_t nlen = dlen + 1 + (library ? 8 : 0) + plen;
	if (nlen > NAME_MAX_)
		return invalid(shown, "the name is longer than %d characters",
			       NAME_MAX_);

	struct msb_ref r = {0};
	r.registry = dom ? strndup(dom, dlen) : strdup(docker_io);
	r.repository = malloc(plen + 9);
	if (r.repository)
		snprintf(r.repository, plen + 9, "%s%.*s",
			 library ? "library/" : "", (int)plen, path);
	if (colon)
		r.tag = strndup(colon + 1, (size_t)(nt - colon - 1));
	else if (!at)
		r.tag = strdup("latest");
	if (at)
		r.digest = strdup(at + 1);
	if (!r.registry || !r.repository || (!r.tag && (colon || !at)) ||
	    (!r.digest && at)) {
		msb_ref_clear(&r);
		return msb__error(MSB_ENOMEM, ENOMEM,
				  "parse image reference `%s`: out of memory",
				  shown);
	}
	*out = r;
	return 0;
}

char *msb_ref_format(const struct msb_ref *r)
{
	char *s;
	int n;

	if (!r || !r->registry || !r->repository) {
		errno = EINVAL;
		return NULL;
	}
	n = asprintf(&s, "%s/%s%s%s%s%s", r->registry, r->repository,
		     r->tag ? ":" : "", r->tag ? r->tag : "",
		     r->digest ? "@" : "", r->digest ? r->digest : "");
	return n < 0 ? NULL : s;
}

const char *msb_ref_api_host(const struct msb_ref *r)
{
	if (!r || !r->registry)
		return NULL;
	if (!strcmp(r->registry, docker_io))
		return "registry-1.docker.io";
	return r->registry;
}

bool msb_ref_is_local(const struct msb_ref *r)
{
	char host[64];
	const char *h, *after;
	size_t n;
	bool v6;

	if (!r || !r->registry)
		return false;
	h = r->registry;
	v6 = h[0] == '[';
	if (v6) {
		after = strchr(h, ']');
		if (!after)
			return false;
		h++;
		n = (size_t)(after - h);
		after++;
	} else {
		n = strcspn(h, ":");
		after = h + n;
	}
	if (n == 0 || n >= sizeof(host))
		return false;
	if (*after &&
	    (*after != ':' || !port_valid(after + 1, strlen(after + 1))))
		return false;
	memcpy(host, h, n);
	host[n] = '\0';

	struct in6_addr a6;
	struct in_addr a4;

	if (v6)
		return inet_pton(AF_INET6, host, &a6) == 1 &&
		       !memcmp(&a6, &in6addr_loopback, sizeof(a6));
	if (!strcasecmp(host, "localhost"))
		return true;
	return inet_pton(AF_INET, host, &a4) == 1 &&
	       (ntohl(a4.s_addr) >> 24) == 127;
}

void msb_ref_clear(struct msb_ref *r)
{
	if (!r)
		return;
	free(r->registry);
	free(r->repository);
	free(r->tag);
	free(r->digest);
	memset(r, 0, sizeof(*r));
}
