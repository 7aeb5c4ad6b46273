// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for src/net/ca.c: a sandbox CA made, saved (modes, no
 * replacing, no links) and loaded back; leaves verified against it with
 * OpenSSL's X509_verify_cert (host, IP, purpose, validity), and not
 * against another sandbox's CA; names that must not become certificates;
 * the leaf cache (hits, LRU eviction, renewal before expiry); and a real
 * TLS 1.3 handshake (libssl, over memory BIOs) of a client that trusts
 * only the CA with a server holding a leaf.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "check.h"
#include "net/ca.h"

static char err[256];

/* X509_verify_cert of @leaf against @ca's certificate alone, at @when,
 * for the host @host (or the IP @ip). Return: the X509_V_ code. */
static int verify(X509 *leaf, const struct msb_ca *ca, time_t when,
		  const char *host, const char *ip)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int rc;

	X509_STORE_add_cert(store, msb_ca_cert(ca));
	X509_STORE_CTX_init(ctx, store, leaf, NULL);
	X509_VERIFY_PARAM *p = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_time(p, when);
	X509_VERIFY_PARAM_set_purpose(p, X509_PURPOSE_SSL_SERVER);
	if (host)
		X509_VERIFY_PARAM_set1_host(p, host, 0);
	if (ip)
		X509_VERIFY_PARAM_set1_ip_asc(p, ip);
	rc = X509_verify_cert(ctx) == 1 ? X509_V_OK
					: X509_STORE_CTX_get_error(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	ERR_clear_error();
	return rc;
}

static mode_t mode_of(int dirfd, const char *name)
{
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return (mode_t)-1;
	return st.st_mode & 07777;
}

static char *slurp(int dirfd, const char *name)
{
	static char buf[65536];
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (fd >= 0)
		close(fd);
	buf[n < 0 ? 0 : n] = '\0';
	return buf;
}

static void test_ca(int dirfd, time_t now)
{
	struct msb_ca *ca, *loaded, *other;
	X509 *leaf;

	CHECK(msb_ca_generate(&ca, "box-1", now, err, sizeof(err)) == 0);
	X509 *cert = msb_ca_cert(ca);
	EVP_PKEY *pub = X509_get0_pubkey(cert);
	CHECK(X509_check_ca(cert) == 1);
	CHECK(EVP_PKEY_is_a(pub, "EC") && EVP_PKEY_get_bits(pub) == 256);
	CHECK(X509_verify(cert, pub) == 1); /* self-signed */
	char subj[256];
	X509_NAME_oneline(X509_get_subject_name(cert), subj, sizeof(subj));
	CHECK(strstr(subj, "box-1") != NULL);
	/* the leaf key is another key */
	CHECK(EVP_PKEY_eq(pub, msb_ca_leaf_key(ca)) != 1);

	/* saved: key 0600, certificate 0644, PEM */
	CHECK(msb_ca_save(ca, dirfd, err, sizeof(err)) == 0);
	CHECK(mode_of(dirfd, MSB_CA_KEY_FILE) == 0600);
	CHECK(mode_of(dirfd, MSB_CA_CERT_FILE) == 0644);
	CHECK(!strncmp(slurp(dirfd, MSB_CA_KEY_FILE),
		       "-----BEGIN PRIVATE KEY-----", 27));
	char *pem;
	size_t pemlen;
	CHECK(msb_ca_cert_pem(ca, &pem, &pemlen) == 0);
	CHECK(pemlen == strlen(pem));
	CHECK_STR(slurp(dirfd, MSB_CA_CERT_FILE), pem);
	free(pem);
	/* never replaced */
	CHECK(msb_ca_generate(&other, "box-2", now, err, sizeof(err)) == 0);
	CHECK(msb_ca_save(other, dirfd, err, sizeof(err)) == -1);
	CHECK(strstr(err, "create `ca.key`") != NULL);

	/* loaded back: the same CA, a leaf verifies against either */
	CHECK(msb_ca_load(&loaded, dirfd, err, sizeof(err)) == 0);
	CHECK(X509_cmp(msb_ca_cert(loaded), cert) == 0);
	CHECK(msb_ca_mint(&leaf, loaded, "api.example.com", now, err,
			  sizeof(err)) == 0);
	CHECK(verify(leaf, ca, now, "api.example.com", NULL) == X509_V_OK);
	CHECK(verify(leaf, loaded, now, "API.Example.com", NULL) == X509_V_OK);
	/* ...for its name only, within its validity, and not as a CA */
	CHECK(verify(leaf, ca, now, "other.example.com", NULL) ==
	      X509_V_ERR_HOSTNAME_MISMATCH);
	CHECK(verify(leaf, ca, now - 1800, NULL, NULL) == X509_V_OK);
	CHECK(verify(leaf, ca, now - 7200, NULL, NULL) ==
	      X509_V_ERR_CERT_NOT_YET_VALID);
	CHECK(verify(leaf, ca, now + (MSB_CA_LEAF_DAYS - 1) * 86400, NULL,
		     NULL) == X509_V_OK);
	CHECK(verify(leaf, ca, now + (MSB_CA_LEAF_DAYS + 1) * 86400, NULL,
		     NULL) == X509_V_ERR_CERT_HAS_EXPIRED);
	CHECK(X509_check_ca(leaf) == 0);
	CHECK(X509_check_purpose(leaf, X509_PURPOSE_SSL_SERVER, 0) == 1);
	CHECK(X509_check_purpose(leaf, X509_PURPOSE_SSL_CLIENT, 0) != 1);
	/* signed by this CA only: another sandbox's does not trust it */
	CHECK(verify(leaf, other, now, "api.example.com", NULL) ==
	      X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
	CHECK(EVP_PKEY_eq(X509_get0_pubkey(msb_ca_cert(other)), pub) != 1);
	/* the leaf's key is the loaded CA's leaf key */
	CHECK(EVP_PKEY_eq(X509_get0_pubkey(leaf), msb_ca_leaf_key(loaded)) ==
	      1);
	X509_free(leaf);

	/* from PEM in memory (msb-netd's --tls-fd): the same CA */
	{
		const char *kp = slurp(dirfd, MSB_CA_KEY_FILE);
		char *kdup = strdup(kp);
		const char *cp = slurp(dirfd, MSB_CA_CERT_FILE);
		struct msb_ca *mem;
		CHECK(msb_ca_load_pem(&mem, kdup, strlen(kdup), cp, strlen(cp),
				      err, sizeof(err)) == 0);
		CHECK(X509_cmp(msb_ca_cert(mem), cert) == 0);
		CHECK(msb_ca_mint(&leaf, mem, "api.example.com", now, err,
				  sizeof(err)) == 0);
		CHECK(verify(leaf, ca, now, "api.example.com", NULL) ==
		      X509_V_OK);
		X509_free(leaf);
		msb_ca_free(mem);
		/* the certificate where the key should be, garbage, and
		 * a key that is not the certificate's */
		CHECK(msb_ca_load_pem(&mem, cp, strlen(cp), cp, strlen(cp), err,
				      sizeof(err)) == -1);
		CHECK(mem == NULL && strstr(err, "not a PEM private key"));
		CHECK(msb_ca_load_pem(&mem, kdup, strlen(kdup), "x", 1, err,
				      sizeof(err)) == -1);
		CHECK(strstr(err, "not a PEM certificate") != NULL);
		char *op;
		size_t opl;
		CHECK(msb_ca_cert_pem(other, &op, &opl) == 0);
		CHECK(msb_ca_load_pem(&mem, kdup, strlen(kdup), op, opl, err,
				      sizeof(err)) == -1);
		CHECK(strstr(err, "is not the key of") != NULL);
		free(op);
		free(kdup);
	}

	/* IP literals become iPAddress names */
	CHECK(msb_ca_mint(&leaf, ca, "10.0.2.2", now, err, sizeof(err)) == 0);
	CHECK(verify(leaf, ca, now, NULL, "10.0.2.2") == X509_V_OK);
	CHECK(verify(leaf, ca, now, NULL, "10.0.2.3") ==
	      X509_V_ERR_IP_ADDRESS_MISMATCH);
	X509_free(leaf);
	CHECK(msb_ca_mint(&leaf, ca, "::1", now, err, sizeof(err)) == 0);
	CHECK(verify(leaf, ca, now, NULL, "::1") == X509_V_OK);
	X509_free(leaf);

	/* names that must not become certificates */
	static const char *const bad[] = {"",     "a,DNS:evil.test",
					  "a b",  "*.example.com",
					  "a..b", ".a",
					  "a.",   "$MSB_KEY",
					  "a\nb", "caf\xc3\xa9.test"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(!msb_ca_name_ok(bad[i]));
		leaf = (X509 *)1;
		CHECK(msb_ca_mint(&leaf, ca, bad[i], now, err, sizeof(err)) ==
		      -1);
		CHECK(leaf == NULL);
	}
	char name[300];
	for (int i = 0; i < 254; i++)
		name[i] = i % 2 ? '.' : 'a';
	name[253] = '\0';
	CHECK(msb_ca_name_ok(name)); /* 253: the longest DNS name */
	CHECK(msb_ca_mint(&leaf, ca, name, now, err, sizeof(err)) == 0);
	CHECK(verify(leaf, ca, now, name, NULL) == X509_V_OK);
	X509_free(leaf);
	name[253] = 'a';
	name[254] = '\0';
	CHECK(!msb_ca_name_ok(name));

	/* a leaf never outlives its CA */
	time_t late = now + 10L * 365 * 86400 - 5 * 86400;
	CHECK(msb_ca_mint(&leaf, ca, "late.test", late, err, sizeof(err)) == 0);
	CHECK(ASN1_TIME_compare(X509_get0_notAfter(leaf),
				X509_get0_notAfter(cert)) <= 0);
	X509_free(leaf);

	/* a key others can read is refused; so are links */
	msb_ca_free(other);
	CHECK(fchmodat(dirfd, MSB_CA_KEY_FILE, 0640, 0) == 0);
	CHECK(msb_ca_load(&other, dirfd, err, sizeof(err)) == -1);
	CHECK(other == NULL && strstr(err, "0600") != NULL);
	CHECK(fchmodat(dirfd, MSB_CA_KEY_FILE, 0600, 0) == 0);
	CHECK(renameat(dirfd, MSB_CA_KEY_FILE, dirfd, "real.key") == 0);
	CHECK(symlinkat("real.key", dirfd, MSB_CA_KEY_FILE) == 0);
	CHECK(msb_ca_load(&other, dirfd, err, sizeof(err)) == -1);
	CHECK(unlinkat(dirfd, MSB_CA_KEY_FILE, 0) == 0);
	/* a key that is not the certificate's */
	struct msb_ca *third;
	CHECK(msb_ca_generate(&third, "box-3", now, err, sizeof(err)) == 0);
	CHECK(mkdirat(dirfd, "third", 0700) == 0);
	int tfd = openat(dirfd, "third", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(msb_ca_save(third, tfd, err, sizeof(err)) == 0);
	CHECK(unlinkat(tfd, MSB_CA_CERT_FILE, 0) == 0);
	CHECK(linkat(dirfd, MSB_CA_CERT_FILE, tfd, MSB_CA_CERT_FILE, 0) == 0);
	CHECK(msb_ca_load(&other, tfd, err, sizeof(err)) == -1);
	CHECK(strstr(err, "is not the key of") != NULL);
	unlinkat(tfd, MSB_CA_CERT_FILE, 0);
	unlinkat(tfd, MSB_CA_KEY_FILE, 0);
	close(tfd);
	unlinkat(dirfd, "third", AT_REMOVEDIR);
	msb_ca_free(third);
	msb_ca_free(loaded);
	msb_ca_free(ca);
}

static void test_cache(time_t now)
{
	struct msb_ca *ca;
	struct msb_ca_cache *c;
	X509 *a, *a2, *x;
	uint64_t hits, mints;

	CHECK(msb_ca_generate(&ca, "cache", now, err, sizeof(err)) == 0);
	CHECK(msb_ca_cache_new(ca, 0) == NULL);
	c = msb_ca_cache_new(ca, 2);
	CHECK(c != NULL);
	CHECK(msb_ca_cache_get(&a, c, "a.test", now, err, sizeof(err)) == 0);
	CHECK(msb_ca_cache_get(&a2, c, "A.Test", now, err, sizeof(err)) == 0);
	CHECK(a == a2); /* the same leaf, any case */
	X509_free(a2);
	CHECK(verify(a, ca, now, "a.test", NULL) == X509_V_OK);
	CHECK(msb_ca_cache_get(&x, c, "b.test", now, err, sizeof(err)) == 0);
	X509_free(x);
	CHECK(msb_ca_cache_get(&x, c, "a.test", now, err, sizeof(err)) == 0);
	CHECK(x == a); /* a is now the most recently used */
	X509_free(x);
	CHECK(msb_ca_cache_get(&x, c, "c.test", now, err, sizeof(err)) == 0);
	X509_free(x); /* evicted b.test */
	CHECK(msb_ca_cache_get(&x, c, "a.test", now, err, sizeof(err)) == 0);
	CHECK(x == a);
	X509_free(x);
	msb_ca_cache_stats(c, &hits, &mints);
	CHECK(hits == 3 && mints == 3);
	CHECK(msb_ca_cache_get(&x, c, "b.test", now, err, sizeof(err)) == 0);
	X509_free(x);
	msb_ca_cache_stats(c, &hits, &mints);
	CHECK(hits == 3 && mints == 4);
	/* a leaf about to expire is minted anew */
	time_t later = now + (MSB_CA_LEAF_DAYS * 86400) - 3600;
	CHECK(msb_ca_cache_get(&x, c, "a.test", later, err, sizeof(err)) == 0);
	CHECK(x != a);
	CHECK(verify(x, ca, later + 20 * 86400, "a.test", NULL) == X509_V_OK);
	X509_free(x);
	/* the caller's reference outlives the cache's */
	CHECK(verify(a, ca, now, "a.test", NULL) == X509_V_OK);
	X509_free(a);
	/* refused names are not cached */
	x = (X509 *)1;
	CHECK(msb_ca_cache_get(&x, c, "a,DNS:b", now, err, sizeof(err)) == -1);
	CHECK(x == NULL);
	msb_ca_cache_free(c);
	msb_ca_free(ca);
}

/* Move what each side wrote to the other; run both handshakes. Return:
 * 0 when both are done, -1 when one failed. */
static int handshake(SSL *cli, SSL *srv)
{
	for (int round = 0; round < 20; round++) {
		int a = SSL_do_handshake(cli), b = SSL_do_handshake(srv);
		if (a == 1 && b == 1)
			return 0;
		if ((a <= 0 && SSL_get_error(cli, a) != SSL_ERROR_WANT_READ) ||
		    (b <= 0 && SSL_get_error(srv, b) != SSL_ERROR_WANT_READ))
			return -1;
	}
	return -1;
}

/* A client trusting only @trust, asking for @sni, against a server that
 * mints its leaf from @ca's cache for the name asked. */
static int tls_with(const struct msb_ca *ca, struct msb_ca_cache *cache,
		    const struct msb_ca *trust, const char *sni, time_t now,
		    long *verify_result)
{
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX *sctx = SSL_CTX_new(TLS_server_method());
	X509 *leaf = NULL;
	BIO *c2s, *s2c;
	int rc = -1;

	SSL_CTX_set_min_proto_version(cctx, TLS1_3_VERSION);
	X509_STORE_add_cert(SSL_CTX_get_cert_store(cctx), msb_ca_cert(trust));
	SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_alpn_protos(cctx, (const unsigned char *)"\x08http/1.1", 9);
	if (msb_ca_cache_get(&leaf, cache, sni, now, err, sizeof(err)) < 0 ||
	    SSL_CTX_use_certificate(sctx, leaf) != 1 ||
	    SSL_CTX_use_PrivateKey(sctx, msb_ca_leaf_key(ca)) != 1)
		goto out;
	SSL *cli = SSL_new(cctx), *srv = SSL_new(sctx);
	BIO_new_bio_pair(&c2s, 0, &s2c, 0);
	SSL_set_bio(cli, c2s, c2s);
	SSL_set_bio(srv, s2c, s2c);
	SSL_set_connect_state(cli);
	SSL_set_accept_state(srv);
	SSL_set_tlsext_host_name(cli, sni);
	SSL_set1_host(cli, sni);
	rc = handshake(cli, srv);
	*verify_result = SSL_get_verify_result(cli);
	if (rc == 0) {
		char buf[8];
		CHECK(SSL_version(cli) == TLS1_3_VERSION);
		CHECK_STR(SSL_get_servername(srv, TLSEXT_NAMETYPE_host_name),
			  sni);
		CHECK(SSL_write(cli, "ping", 4) == 4);
		CHECK(SSL_read(srv, buf, sizeof(buf)) == 4 &&
		      !memcmp(buf, "ping", 4));
	}
	SSL_free(cli);
	SSL_free(srv);
out:
	X509_free(leaf);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	ERR_clear_error();
	return rc;
}

static void test_tls(time_t now)
{
	struct msb_ca *ca, *other;
	long vr;

	CHECK(msb_ca_generate(&ca, "tls", now, err, sizeof(err)) == 0);
	CHECK(msb_ca_generate(&other, "other", now, err, sizeof(err)) == 0);
	struct msb_ca_cache *cache = msb_ca_cache_new(ca, 8);
	CHECK(tls_with(ca, cache, ca, "api.example.com", now, &vr) == 0);
	CHECK(vr == X509_V_OK);
	/* a client of another sandbox does not trust this one's leaves */
	CHECK(tls_with(ca, cache, other, "api.example.com", now, &vr) == -1);
	CHECK(vr == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
	msb_ca_cache_free(cache);
	msb_ca_free(other);
	msb_ca_free(ca);
}

int main(void)
{
	char dir[] = "/tmp/msb-test-ca-XXXXXX";
	time_t now = time(NULL);

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	test_ca(dirfd, now);
	test_cache(now);
	test_tls(now);
	unlinkat(dirfd, MSB_CA_KEY_FILE, 0);
	unlinkat(dirfd, MSB_CA_CERT_FILE, 0);
	unlinkat(dirfd, "real.key", 0);
	close(dirfd);
	rmdir(dir);
	return check_summary("net_ca");
}
