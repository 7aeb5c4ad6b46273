// SPDX-License-Identifier: Apache-2.0
/*
 * A sandbox's CA and its leaves (see the DOC in ca.h).
 *
 * Theory of operation: certificates are built field by field with
 * libcrypto. The fixed extensions (basic constraints, key usage, key
 * identifiers) go through OpenSSL's extension text with constant
 * strings; the subjectAltName, which carries a name the guest chose, is
 * built as GENERAL_NAMES directly so that no byte of it is ever parsed
 * as configuration text (a name such as "a.test,DNS:bank.test" could
 * otherwise add a second name). Names are checked before anything else.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "net/ca.h"

#define CA_YEARS 10
#define FILE_MAX 65536 /* a PEM key or certificate is far smaller */
#define CACHE_MAX 4096

struct msb_ca {
	EVP_PKEY *key;      /* the CA's */
	X509 *cert;         /* self-signed */
	EVP_PKEY *leaf_key; /* every leaf's, in memory only */
};

__attribute__((format(printf, 3, 4))) static void
set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* "@what: <OpenSSL's reason>"; empties OpenSSL's error queue. */
static int ossl_fail(char *err, size_t errlen, const char *what)
{
	char reason[256] = "unknown error";
	unsigned long e = ERR_peek_last_error();

	if (e)
		ERR_error_string_n(e, reason, sizeof(reason));
	ERR_clear_error();
	set_err(err, errlen, "%s: %s", what, reason);
	return -1;
}

bool msb_ca_name_ok(const char *name)
{
	size_t n = strnlen(name, MSB_CA_NAME_MAX + 1), label = 0;

	if (n == 0 || n > MSB_CA_NAME_MAX)
		return false;
	ASN1_OCTET_STRING *a = a2i_IPADDRESS(name);
	if (a) {
		ASN1_OCTET_STRING_free(a);
		return true;
	}
	ERR_clear_error();
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (c == '.') {
			if (!label)
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0;
}

/* A random positive 127-bit serial number for @x. */
static int set_serial(X509 *x)
{
	BIGNUM *bn = BN_new();
	int ok = bn && BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) &&
		 BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));

	BN_free(bn);
	return ok ? 0 : -1;
}

/* Add the extension @nid written as the constant text @value, with
 * @issuer (and @x itself) as context. */
static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return -1;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

static int set_times(X509 *x, time_t from, time_t to)
{
	return ASN1_TIME_set(X509_getm_notBefore(x), from) &&
			       ASN1_TIME_set(X509_getm_notAfter(x), to)
		       ? 0
		       : -1;
}

static EVP_PKEY *new_key(void)
{
	return EVP_EC_gen("P-256");
}

int msb_ca_generate(struct msb_ca **out, const char *label, time_t now,
		    char *err, size_t errlen)
{
	struct msb_ca *ca = calloc(1, sizeof(*ca));
	char cn[128];
	size_t n = 0;
	X509_NAME *subj;

	*out = NULL;
	if (!ca) {
		set_err(err, errlen, "out of memory");
		return -1;
	}
	n = (size_t)snprintf(cn, sizeof(cn), "microsandbox CA for ");
	for (size_t i = 0; label[i] && i < 64; i++)
		cn[n++] = label[i] > 0x20 && label[i] < 0x7f ? label[i] : '?';
	cn[n] = '\0';

	ca->key = new_key();
	ca->leaf_key = new_key();
	ca->cert = X509_new();
	if (!ca->key || !ca->leaf_key || !ca->cert)
		goto fail;
	subj = X509_get_subject_name(ca->cert);
	if (!X509_set_version(ca->cert, 2) || set_serial(ca->cert) < 0 ||
	    set_times(ca->cert, now - 3600,
		      now + (time_t)CA_YEARS * 365 * 86400) < 0 ||
	    !X509_NAME_add_entry_by_txt(subj, "O", MBSTRING_ASC,
					(const unsigned char *)"microsandbox",
					-1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC,
					(const unsigned char *)cn, -1, -1, 0) ||
	    !X509_set_issuer_name(ca->cert, subj) ||
	    !X509_set_pubkey(ca->cert, ca->key) ||
	    add_ext(ca->cert, ca->cert, NID_basic_constraints,
		    "critical,CA:TRUE,pathlen:0") < 0 ||
	    add_ext(ca->cert, ca->cert, NID_key_usage,
		    "critical,keyCertSign,cRLSign") < 0 ||
	    add_ext(ca->cert, ca->cert, NID_subject_key_identifier, "hash") <
		    0 ||
	    !X509_sign(ca->cert, ca->key, EVP_sha256()))
		goto fail;
	*out = ca;
	return 0;
fail:
	msb_ca_free(ca);
	return ossl_fail(err, errlen, "make the sandbox CA");
}

void msb_ca_free(struct msb_ca *ca)
{
	if (!ca)
		return;
	EVP_PKEY_free(ca->key);
	EVP_PKEY_free(ca->leaf_key);
	X509_free(ca->cert);
	free(ca);
}

X509 *msb_ca_cert(const struct msb_ca *ca)
{
	return ca->cert;
}

EVP_PKEY *msb_ca_leaf_key(const struct msb_ca *ca)
{
	return ca->leaf_key;
}

/* The contents of a memory BIO. */
static int bio_bytes(BIO *b, const char **p, size_t *n)
{
	char *data;
	long k = BIO_get_mem_data(b, &data);

	if (k < 0)
		return -1;
	*p = data;
	*n = (size_t)k;
	return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Create @name in @dirfd (never replacing, never through a link) with
 * @mode and the @n bytes at @p. */
static int write_new(int dirfd, const char *name, mode_t mode, const char *p,
		     size_t n, char *err, size_t errlen)
{
	int fd = openat(dirfd, name,
			O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			mode);

	if (fd < 0) {
		set_err(err, errlen, "create `%s`: %s", name, strerror(errno));
		return -1;
	}
	if (fchmod(fd, mode) < 0 || write_all(fd, p, n) < 0 || fsync(fd) < 0) {
		set_err(err, errlen, "write `%s`: %s", name, strerror(errno));
		close(fd);
		unlinkat(dirfd, name, 0);
		return -1;
	}
	if (close(fd) < 0) {
		set_err(err, errlen, "write `%s`: %s", name, strerror(errno));
		unlinkat(dirfd, name, 0);
		return -1;
	}
	return 0;
}

int msb_ca_save(const struct msb_ca *ca, int dirfd, char *err, size_t errlen)
{
	BIO *kb = BIO_new(BIO_s_mem()), *cb = BIO_new(BIO_s_mem());
	const char *kp, *cp;
	size_t kn, cn;
	int rc = -1;

	if (!kb || !cb ||
	    !PEM_write_bio_PrivateKey(kb, ca->key, NULL, NULL, 0, NULL, NULL) ||
	    !PEM_write_bio_X509(cb, ca->cert) || bio_bytes(kb, &kp, &kn) < 0 ||
	    bio_bytes(cb, &cp, &cn) < 0) {
		ossl_fail(err, errlen, "encode the sandbox CA");
		goto out;
	}
	if (write_new(dirfd, MSB_CA_KEY_FILE, 0600, kp, kn, err, errlen) < 0)
		goto out;
	if (write_new(dirfd, MSB_CA_CERT_FILE, 0644, cp, cn, err, errlen) < 0) {
		unlinkat(dirfd, MSB_CA_KEY_FILE, 0);
		goto out;
	}
	rc = 0;
out:
	/* the key's PEM text is wiped before its memory is freed */
	if (kb && bio_bytes(kb, &kp, &kn) == 0)
		OPENSSL_cleanse((void *)kp, kn);
	BIO_free(kb);
	BIO_free(cb);
	return rc;
}

/* The bytes of @name in @dirfd (a regular file of at most FILE_MAX; when
 * @private, not readable by group or others) into a memory BIO. */
static BIO *read_file(int dirfd, const char *name, bool private, char *err,
		      size_t errlen)
{
	static char buf[FILE_MAX];
	struct stat st;
	size_t n = 0;
	BIO *b = NULL;
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0) {
		set_err(err, errlen, "open `%s`: %s", name, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		set_err(err, errlen, "`%s` is not a regular file", name);
		goto out;
	}
	if (private && (st.st_mode & 077)) {
		set_err(err, errlen,
			"`%s` is readable by others (mode %03o): it must be "
			"0600",
			name, (unsigned)(st.st_mode & 0777));
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, buf + n, sizeof(buf) - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			set_err(err, errlen, "read `%s`: %s", name,
				strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == sizeof(buf)) {
			set_err(err, errlen, "`%s` is too large", name);
			goto out;
		}
	}
	b = BIO_new(BIO_s_mem());
	if (!b || BIO_write(b, buf, (int)n) != (int)n) {
		BIO_free(b);
		b = NULL;
		set_err(err, errlen, "out of memory");
	}
out:
	OPENSSL_cleanse(buf, n);
	close(fd);
	return b;
}

/* No passphrase is ever asked for (a tty prompt in a daemon). */
static int no_pass(char *buf, int size, int rw, void *u)
{
	(void)buf, (void)size, (void)rw, (void)u;
	return -1;
}

/* The CA from the PEM key in @kb and certificate in @cb, named @kname and
 * @cname in errors. */
static int load_bios(struct msb_ca **out, BIO *kb, BIO *cb, const char *kname,
		     const char *cname, char *err, size_t errlen)
{
	struct msb_ca *ca = calloc(1, sizeof(*ca));

	if (!ca) {
		set_err(err, errlen, "out of memory");
		return -1;
	}
	ca->key = PEM_read_bio_PrivateKey(kb, NULL, no_pass, NULL);
	if (!ca->key) {
		set_err(err, errlen, "read %s: not a PEM private key", kname);
		ERR_clear_error();
		goto fail;
	}
	ca->cert = PEM_read_bio_X509(cb, NULL, no_pass, NULL);
	if (!ca->cert) {
		set_err(err, errlen, "read %s: not a PEM certificate", cname);
		ERR_clear_error();
		goto fail;
	}
	if (X509_check_private_key(ca->cert, ca->key) != 1) {
		ERR_clear_error();
		set_err(err, errlen, "%s is not the key of %s", kname, cname);
		goto fail;
	}
	ca->leaf_key = new_key();
	if (!ca->leaf_key) {
		ossl_fail(err, errlen, "make the leaf key");
		goto fail;
	}
	*out = ca;
	return 0;
fail:
	msb_ca_free(ca);
	return -1;
}

int msb_ca_load(struct msb_ca **out, int dirfd, char *err, size_t errlen)
{
	BIO *kb = NULL, *cb = NULL;
	int rc = -1;

	*out = NULL;
	kb = read_file(dirfd, MSB_CA_KEY_FILE, true, err, errlen);
	if (kb)
		cb = read_file(dirfd, MSB_CA_CERT_FILE, false, err, errlen);
	if (kb && cb)
		rc = load_bios(out, kb, cb, "`" MSB_CA_KEY_FILE "`",
			       "`" MSB_CA_CERT_FILE "`", err, errlen);
	BIO_free(kb);
	BIO_free(cb);
	return rc;
}

int msb_ca_load_pem(struct msb_ca **out, const char *key_pem, size_t key_len,
		    const char *cert_pem, size_t cert_len, char *err,
		    size_t errlen)
{
	int rc = -1;

	*out = NULL;
	if (key_len > INT_MAX || cert_len > INT_MAX) {
		set_err(err, errlen, "PEM too long");
		return -1;
	}
	BIO *kb = BIO_new_mem_buf(key_pem, (int)key_len);
	BIO *cb = BIO_new_mem_buf(cert_pem, (int)cert_len);
	if (!kb || !cb)
		set_err(err, errlen, "out of memory");
	else
		rc = load_bios(out, kb, cb, "the CA key", "the CA certificate",
			       err, errlen);
	BIO_free(kb);
	BIO_free(cb);
	return rc;
}

int msb_ca_cert_pem(const struct msb_ca *ca, char **pem, size_t *len)
{
	BIO *b = BIO_new(BIO_s_mem());
	const char *p;
	size_t n;
	int rc = -1;

	*pem = NULL;
	*len = 0;
	if (b && PEM_write_bio_X509(b, ca->cert) && bio_bytes(b, &p, &n) == 0 &&
	    (*pem = malloc(n + 1))) {
		memcpy(*pem, p, n);
		(*pem)[n] = '\0';
		*len = n;
		rc = 0;
	}
	ERR_clear_error();
	BIO_free(b);
	return rc;
}

/* subjectAltName: one dNSName or iPAddress, built without text parsing. */
static int add_san(X509 *x, const char *name)
{
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	GENERAL_NAME *gen = GENERAL_NAME_new();
	ASN1_OCTET_STRING *ip = a2i_IPADDRESS(name);
	int ok = 0;

	ERR_clear_error();
	if (!gens || !gen)
		goto out;
	if (ip) {
		GENERAL_NAME_set0_value(gen, GEN_IPADD, ip);
		ip = NULL;
	} else {
		ASN1_IA5STRING *s = ASN1_IA5STRING_new();
		if (!s || !ASN1_STRING_set(s, name, (int)strlen(name))) {
			ASN1_IA5STRING_free(s);
			goto out;
		}
		GENERAL_NAME_set0_value(gen, GEN_DNS, s);
	}
	if (!sk_GENERAL_NAME_push(gens, gen))
		goto out;
	gen = NULL;
	ok = X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0,
			       X509V3_ADD_DEFAULT) == 1;
out:
	ASN1_OCTET_STRING_free(ip);
	GENERAL_NAME_free(gen);
	GENERAL_NAMES_free(gens);
	return ok ? 0 : -1;
}

int msb_ca_mint(X509 **leaf, const struct msb_ca *ca, const char *name,
		time_t now, char *err, size_t errlen)
{
	X509 *x;
	X509_NAME *subj;
	time_t end = now + (time_t)MSB_CA_LEAF_DAYS * 86400;
	int day_diff, sec_diff;
	ASN1_TIME *t;

	*leaf = NULL;
	if (!msb_ca_name_ok(name)) {
		set_err(err, errlen, "no certificate for a name like that");
		return -1;
	}
	/* never past the CA's own end */
	t = ASN1_TIME_set(NULL, end);
	if (t &&
	    ASN1_TIME_diff(&day_diff, &sec_diff, t,
			   X509_get0_notAfter(ca->cert)) &&
	    (day_diff < 0 || sec_diff < 0))
		end += (time_t)day_diff * 86400 + sec_diff;
	ASN1_TIME_free(t);

	x = X509_new();
	if (!x)
		return ossl_fail(err, errlen, "mint a certificate");
	subj = X509_get_subject_name(x);
	if (!X509_set_version(x, 2) || set_serial(x) < 0 ||
	    set_times(x, now - 3600, end) < 0 ||
	    (strlen(name) <= 64 &&
	     !X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC,
					 (const unsigned char *)name, -1, -1,
					 0)) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(ca->cert)) ||
	    !X509_set_pubkey(x, ca->leaf_key) || add_san(x, name) < 0 ||
	    add_ext(x, ca->cert, NID_basic_constraints, "critical,CA:FALSE") <
		    0 ||
	    add_ext(x, ca->cert, NID_key_usage, "critical,digitalSignature") <
		    0 ||
	    add_ext(x, ca->cert, NID_ext_key_usage, "serverAuth") < 0 ||
	    add_ext(x, ca->cert, NID_authority_key_identifier, "keyid:always") <
		    0 ||
	    !X509_sign(x, ca->key, EVP_sha256())) {
		X509_free(x);
		return ossl_fail(err, errlen, "mint a certificate");
	}
	*leaf = x;
	return 0;
}

/* ---- the cache ---- */

struct entry {
	char name[MSB_CA_NAME_MAX + 1]; /* lowercase; "" when free */
	X509 *leaf;
	time_t not_after;
	uint64_t used; /* the tick of the last lookup */
};

struct msb_ca_cache {
	const struct msb_ca *ca;
	size_t cap;
	uint64_t tick, hits, mints;
	struct entry e[];
};

struct msb_ca_cache *msb_ca_cache_new(const struct msb_ca *ca, size_t cap)
{
	struct msb_ca_cache *c;

	if (cap < 1 || cap > CACHE_MAX)
		return NULL;
	c = calloc(1, sizeof(*c) + cap * sizeof(c->e[0]));
	if (!c)
		return NULL;
	c->ca = ca;
	c->cap = cap;
	return c;
}

void msb_ca_cache_free(struct msb_ca_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->cap; i++)
		X509_free(c->e[i].leaf);
	free(c);
}

static time_t not_after(X509 *x)
{
	struct tm tm;

	if (!ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm))
		return 0;
	return timegm(&tm);
}

int msb_ca_cache_get(X509 **leaf, struct msb_ca_cache *c, const char *name,
		     time_t now, char *err, size_t errlen)
{
	char key[MSB_CA_NAME_MAX + 1];
	size_t n = strnlen(name, sizeof(key)), victim = 0;
	struct entry *e;
	X509 *x;

	*leaf = NULL;
	if (n == sizeof(key) || !msb_ca_name_ok(name)) {
		set_err(err, errlen, "no certificate for a name like that");
		return -1;
	}
	for (size_t i = 0; i <= n; i++)
		key[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32
								 : name[i]);
	c->tick++;
	for (size_t i = 0; i < c->cap; i++) {
		e = &c->e[i];
		if (e->leaf && !strcmp(e->name, key)) {
			if (e->not_after - now < 86400) {
				victim = i; /* about to expire: mint anew */
				goto mint;
			}
			e->used = c->tick;
			c->hits++;
			X509_up_ref(e->leaf);
			*leaf = e->leaf;
			return 0;
		}
		if (c->e[i].used < c->e[victim].used)
			victim = i; /* free entries have used == 0 */
	}
mint:
	if (msb_ca_mint(&x, c->ca, key, now, err, errlen) < 0)
		return -1;
	c->mints++;
	e = &c->e[victim];
	X509_free(e->leaf);
	memcpy(e->name, key, n + 1);
	e->leaf = x;
	e->not_after = not_after(x);
	e->used = c->tick;
	X509_up_ref(x);
	*leaf = x;
	return 0;
}

void msb_ca_cache_stats(const struct msb_ca_cache *c, uint64_t *hits,
			uint64_t *mints)
{
	*hits = c->hits;
	*mints = c->mints;
}
