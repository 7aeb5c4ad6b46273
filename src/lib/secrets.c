// SPDX-License-Identifier: Apache-2.0
/*
 * Secrets and TLS interception of a sandbox (docs/network.md, "TLS
 * interception and secrets"): the options checked, the placeholders
 * drawn, and the files made when the sandbox is created.
 *
 * DOC: Where a secret's value goes
 *
 * The value is in the caller's options and, from create on, in
 * <sandbox>/secrets.json (0600, written to a temporary name and renamed,
 * never through a link) and nowhere else the library writes: the stored
 * config (the database, `msb inspect`) holds the "tls" object this file
 * makes, with each secret's name, placeholder, hosts and body flag. The
 * supervisor reads secrets.json and hands it to msb-netd on a descriptor;
 * the guest sees NAME=<placeholder> in its environment.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/internal.h"
#include "net/ca.h"
#include "net/http1.h"

#define SECRETS_MAX 64
#define SECRET_HOSTS_MAX 64
#define TLS_PORTS_MAX 16
#define TLS_BYPASS_MAX 256
#define TLS_CA_MAX (1 << 20)

/* @s, escaped and cut, for an error message (@buf of 160 bytes). */
static const char *shown(char *buf, const char *s)
{
	size_t n = strlen(s);
	return msb_escape(buf, 160, s, n > 64 ? 64 : n);
}

bool msb__tls_host_ok(const char *host)
{
	const char *p = host;
	bool digits_only = true;

	if (!strncmp(p, "*.", 2))
		p += 2;
	size_t n = strlen(p), label = 0;
	if (!n || n > 253)
		return false;
	for (const char *c = p; *c; c++) {
		if (*c == '.') {
			if (!label)
				return false;
			label = 0;
			continue;
		}
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '-' || *c == '_'))
			return false;
		if (*c < '0' || *c > '9')
			digits_only = false;
		if (++label > 63)
			return false;
	}
	/* no empty last label, and not an IPv4 address (SNI never is) */
	return label && !digits_only;
}

/* A readable PEM file with at least one certificate. */
static int check_ca_file(const char *path)
{
	struct stat st;
	FILE *f = fopen(path, "re");
	if (!f)
		return msb__error(MSB_EINVAL, errno,
				  "invalid TLS CA file `%s`: %s", path,
				  strerror(errno));
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > TLS_CA_MAX) {
		fclose(f);
		return msb__error(MSB_EINVAL, 0,
				  "invalid TLS CA file `%s`: not a regular "
				  "file of at most 1 MiB",
				  path);
	}
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!x)
		return msb__error(MSB_EINVAL, 0,
				  "invalid TLS CA file `%s`: no PEM "
				  "certificate in it",
				  path);
	X509_free(x);
	return 0;
}

/* Any of the TLS options (which need interception to mean anything). */
static bool tls_options(const msb_sandbox_options *o)
{
	return o->n_tls_ports || (o->tls_bypass && *o->tls_bypass) || o->tls_ca;
}

bool msb__tls_wanted(const msb_sandbox_options *o)
{
	return o->n_secrets || o->tls_intercept;
}

int msb__tls_check(const msb_sandbox_options *o)
{
	char b[160];

	if (!msb__tls_wanted(o) && tls_options(o))
		return msb__error(MSB_EINVAL, 0,
				  "TLS ports, bypassed names and an upstream "
				  "CA file need TLS interception (a secret, "
				  "or tls_intercept)");
	if (!msb__tls_wanted(o))
		return 0;
	if (!MSB_HAVE_NET)
		return msb__error(MSB_ENOTSUP, 0,
				  "this build has no network (built with "
				  "-Dnet=false): secrets and TLS interception "
				  "need one");
	if (msb__network_preset(o) == MSB_NETWORK_NONE)
		return msb__error(MSB_EINVAL, 0,
				  "secrets and TLS interception need a "
				  "network (not --network none)");
	if (o->n_secrets > SECRETS_MAX || (o->n_secrets && !o->secrets))
		return msb__error(MSB_EINVAL, 0, "invalid secrets: at most %d",
				  SECRETS_MAX);
	for (size_t i = 0; i < o->n_secrets; i++) {
		const msb_secret_spec *s = &o->secrets[i];
		if (!s->name || !msb_secret_name_ok(s->name))
			return msb__error(
				MSB_EINVAL, 0,
				"invalid secret name `%s`: use [A-Z_][A-Z0-9_]*, "
				"at most %d characters",
				s->name ? shown(b, s->name) : "(null)",
				MSB_SECRET_NAME_MAX);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(o->secrets[j].name, s->name))
				return msb__error(MSB_EINVAL, 0,
						  "secret `%s` given twice",
						  s->name);
		size_t vl = s->value ? strlen(s->value) : 0;
		if (!vl || vl > MSB_SECRET_VALUE_MAX)
			return msb__error(MSB_EINVAL, 0,
					  "invalid secret `%s`: its value must "
					  "be 1 to %d bytes",
					  s->name, MSB_SECRET_VALUE_MAX);
		/* secrets.json is JSON: the value must be UTF-8 (jansson's
		 * own check, not "out of memory" at create) */
		json_t *js = json_string(s->value);
		if (!js)
			return msb__error(MSB_EINVAL, 0,
					  "invalid secret `%s`: its value is "
					  "not UTF-8 text",
					  s->name);
		json_decref(js);
		size_t nh = 0;
		for (const char *const *h = s->hosts; h && *h; h++, nh++)
			if (!msb__tls_host_ok(*h))
				return msb__error(
					MSB_EINVAL, 0,
					"invalid host `%s` of secret `%s`: a "
					"DNS name, or *.suffix for the names "
					"under it",
					shown(b, *h), s->name);
		if (!nh || nh > SECRET_HOSTS_MAX)
			return msb__error(MSB_EINVAL, 0,
					  "secret `%s` needs 1 to %d hosts it "
					  "may be sent to",
					  s->name, SECRET_HOSTS_MAX);
		size_t nl = strlen(s->name);
		for (const char *const *e = o->env; e && *e; e++)
			if (!strncmp(*e, s->name, nl) && (*e)[nl] == '=')
				return msb__error(
					MSB_EINVAL, 0,
					"environment variable `%s` is also a "
					"secret: the secret sets it (to its "
					"placeholder)",
					s->name);
	}
	if (o->n_tls_ports > TLS_PORTS_MAX || (o->n_tls_ports && !o->tls_ports))
		return msb__error(MSB_EINVAL, 0,
				  "invalid TLS ports: at most %d",
				  TLS_PORTS_MAX);
	for (size_t i = 0; i < o->n_tls_ports; i++)
		if (o->tls_ports[i] < 1 || o->tls_ports[i] > 65535)
			return msb__error(MSB_EINVAL, 0,
					  "invalid TLS port %u: 1 to 65535",
					  o->tls_ports[i]);
	size_t nb = 0;
	for (const char *const *h = o->tls_bypass; h && *h; h++, nb++)
		if (!msb__tls_host_ok(*h))
			return msb__error(
				MSB_EINVAL, 0,
				"invalid TLS bypass `%s`: a DNS name, "
				"or *.suffix for the names under it",
				shown(b, *h));
	if (nb > TLS_BYPASS_MAX)
		return msb__error(MSB_EINVAL, 0,
				  "invalid TLS bypass list: at most %d names",
				  TLS_BYPASS_MAX);
	if (o->tls_ca && check_ca_file(o->tls_ca) < 0)
		return -MSB_EINVAL;
	return 0;
}

/* @h lowercased, as a JSON string. */
static json_t *lower_json(const char *h)
{
	char buf[260];
	size_t n = 0;
	for (; h[n] && n < sizeof(buf) - 1; n++)
		buf[n] =
			(h[n] >= 'A' && h[n] <= 'Z') ? (char)(h[n] + 32) : h[n];
	buf[n] = '\0';
	return json_string(buf);
}

json_t *msb__tls_config(const msb_sandbox_options *o, const char *sdir)
{
	_cleanup_free_ char *ca = NULL;

	if (!msb__tls_wanted(o))
		return NULL;
	json_t *secrets = json_array(), *ports = json_array(),
	       *bypass = json_array();
	for (size_t i = 0; secrets && i < o->n_secrets; i++) {
		const msb_secret_spec *s = &o->secrets[i];
		uint8_t nonce[MSB_SECRET_NONCE_HEX / 2];
		char ph[MSB_SECRET_PLACEHOLDER_MAX];
		if (getrandom(nonce, sizeof(nonce), 0) != sizeof(nonce) ||
		    msb_secret_placeholder(ph, sizeof(ph), s->name, nonce) < 0)
			goto fail;
		json_t *hosts = json_array();
		for (const char *const *h = s->hosts; hosts && h && *h; h++)
			json_array_append_new(hosts, lower_json(*h));
		json_array_append_new(
			secrets, json_pack("{s:s, s:s, s:o*, s:b}", "name",
					   s->name, "placeholder", ph, "hosts",
					   hosts, "body", s->body != 0));
	}
	for (size_t i = 0; ports && i < o->n_tls_ports; i++)
		json_array_append_new(ports, json_integer(o->tls_ports[i]));
	if (ports && !json_array_size(ports))
		json_array_append_new(ports, json_integer(443));
	for (const char *const *h = o->tls_bypass; bypass && h && *h; h++)
		json_array_append_new(bypass, lower_json(*h));
	ca = xasprintf("%s/tls/%s", sdir, MSB_CA_CERT_FILE);
	json_t *t =
		json_pack("{s:b, s:o*, s:o*, s:o*, s:s?, s:s?}", "intercept", 1,
			  "ports", ports, "bypass", bypass, "secrets", secrets,
			  "ca", ca, "upstream_ca", o->tls_ca);
	if (t)
		return t;
	goto nomem;
fail:
	json_decref(secrets);
	json_decref(ports);
	json_decref(bypass);
	msb__error(MSB_ESYS, errno, "draw a secret's placeholder: %s",
		   strerror(errno));
	return NULL;
nomem:
	msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	return NULL;
}

/* Write @len bytes of @data to @name in the folder @dirfd (mode @mode),
 * through a temporary name renamed over it; never through a link. */
static int write_private(int dirfd, const char *name, const char *data,
			 size_t len, mode_t mode)
{
	char tmp[64];
	snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	unlinkat(dirfd, tmp, 0);
	int fd = openat(dirfd, tmp,
			O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			mode);
	if (fd < 0)
		return -1;
	if (fchmod(fd, mode) < 0 || write_all(fd, data, len) < 0 ||
	    fsync(fd) < 0 || renameat(dirfd, tmp, dirfd, name) < 0) {
		int e = errno;
		close(fd);
		unlinkat(dirfd, tmp, 0);
		errno = e;
		return -1;
	}
	return close(fd);
}

/* The upstream CA file @path copied into tls/upstream-ca.pem. */
static int copy_upstream_ca(int tlsfd, const char *path)
{
	_cleanup_free_ char *buf = NULL;
	ssize_t n = read_file_max(path, 0, TLS_CA_MAX, &buf);
	if (n < 0)
		return -1;
	return write_private(tlsfd, "upstream-ca.pem", buf, (size_t)n, 0644);
}

int msb__tls_prepare(const char *sdir, const char *name,
		     const msb_sandbox_options *o, const json_t *cfg)
{
	char err[256];
	struct msb_ca *ca = NULL;
	_cleanup_close_ int dfd = -1, tfd = -1;
	int rc;

	/* $MSB_HOME/sandboxes, the first time */
	_cleanup_free_ char *parent = strdup(sdir);
	char *slash = parent ? strrchr(parent, '/') : NULL;
	if (slash && slash != parent) {
		*slash = '\0';
		if (mkdir(parent, 0700) < 0 && errno != EEXIST)
			return msb__error(MSB_ESYS, errno, "mkdir `%s`: %s",
					  parent, strerror(errno));
	}
	if (mkdir(sdir, 0700) < 0)
		return msb__error(errno == EEXIST ? MSB_EEXIST : MSB_ESYS,
				  errno, "mkdir `%s`: %s", sdir,
				  strerror(errno));
	dfd = open(sdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0 || mkdirat(dfd, "tls", 0700) < 0) {
		rc = msb__error(MSB_ESYS, errno, "mkdir `%s/tls`: %s", sdir,
				strerror(errno));
		goto fail;
	}
	tfd = openat(dfd, "tls",
		     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (tfd < 0 ||
	    msb_ca_generate(&ca, name, time(NULL), err, sizeof(err)) < 0 ||
	    msb_ca_save(ca, tfd, err, sizeof(err)) < 0) {
		rc = msb__error(MSB_ESYS, tfd < 0 ? errno : 0,
				"make the sandbox CA in `%s/tls`: %s", sdir,
				tfd < 0 ? strerror(errno) : err);
		goto fail;
	}
	msb_ca_free(ca);
	ca = NULL;
	if (o->tls_ca && copy_upstream_ca(tfd, o->tls_ca) < 0) {
		rc = msb__error(MSB_ESYS, errno, "copy TLS CA file `%s`: %s",
				o->tls_ca, strerror(errno));
		goto fail;
	}
	if (o->n_secrets) {
		json_t *list = json_array();
		json_t *stored = json_object_get(cfg, "secrets");
		for (size_t i = 0; list && i < o->n_secrets; i++) {
			json_t *e = json_deep_copy(json_array_get(stored, i));
			if (!e ||
			    json_object_set_new(
				    e, "value",
				    json_string(o->secrets[i].value)) < 0) {
				json_decref(e);
				json_decref(list);
				list = NULL;
				break;
			}
			json_array_append_new(list, e);
		}
		json_t *f = list ? json_pack("{s:i, s:o}", "version", 1,
					     "secrets", list)
				 : NULL;
		char *text = f ? json_dumps(f, JSON_INDENT(1)) : NULL;
		json_decref(f);
		if (!text) {
			rc = msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
			goto fail;
		}
		size_t len = strlen(text);
		int w = write_private(dfd, "secrets.json", text, len, 0600);
		int e = errno;
		explicit_bzero(text, len);
		free(text);
		if (w < 0) {
			rc = msb__error(MSB_ESYS, e,
					"write `%s/secrets.json`: %s", sdir,
					strerror(e));
			goto fail;
		}
	}
	return 0;
fail:
	msb_ca_free(ca);
	rm_rf(sdir);
	return rc;
}

char **msb__tls_env(const json_t *cfg)
{
	json_t *list = json_object_get(cfg, "secrets");
	size_t n = json_array_size(list);
	char **v = calloc(n + 1, sizeof(char *));
	for (size_t i = 0; v && i < n; i++) {
		json_t *e = json_array_get(list, i);
		const char *name =
			json_string_value(json_object_get(e, "name"));
		const char *ph =
			json_string_value(json_object_get(e, "placeholder"));
		if (!name || !ph || !(v[i] = xasprintf("%s=%s", name, ph))) {
			msb_strv_free(v);
			return NULL;
		}
	}
	return v;
}
