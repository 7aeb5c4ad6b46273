/* SPDX-License-Identifier: Apache-2.0 */
/* A sandbox's own certificate authority for TLS interception, and the
 * leaf certificates it signs (OpenSSL's libcrypto). */
#ifndef MSB_NET_CA_H
#define MSB_NET_CA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/*
 * DOC: The sandbox CA
 *
 * Each sandbox that intercepts TLS has its own CA: an EC P-256 key and a
 * self-signed certificate (CA:TRUE, path length 0, keyCertSign, valid
 * ten years), made when the sandbox is created and kept in its folder as
 * MSB_CA_KEY_FILE (mode 0600) and MSB_CA_CERT_FILE (0644). The key never
 * enters the guest; the certificate goes into the guest's trust stores.
 * A key leaked from one sandbox trusts nothing in another.
 *
 * Leaves are minted per TLS server name: CN and subjectAltName are the
 * name (a DNS name, or an IPv4/IPv6 literal as an iPAddress), serverAuth
 * only, valid from an hour before @now for MSB_CA_LEAF_DAYS days (never
 * past the CA's own end). All leaves of a CA share one EC P-256 key,
 * made in memory when the CA is generated or loaded and never written:
 * minting is then one signature. SECURITY NOTE: whoever holds the CA key
 * can impersonate any server to that sandbox's guest; that is the point,
 * and why it stays on the host in a 0600 file.
 *
 * Errors: functions that can fail return 0 or -1 and write a one-line
 * reason to @err (@errlen bytes; may be NULL).
 */

#define MSB_CA_KEY_FILE "ca.key"
#define MSB_CA_CERT_FILE "ca.pem"
#define MSB_CA_LEAF_DAYS 30
/* The longest name a leaf is minted for (a DNS name is at most 253). */
#define MSB_CA_NAME_MAX 253

struct msb_ca;

/*
 * msb_ca_generate() - a new CA whose subject names the sandbox @label
 * (printable ASCII, at most 64 characters kept; anything else as '?').
 * Return: 0 with *@out set (free with msb_ca_free()), or -1.
 */
int msb_ca_generate(struct msb_ca **out, const char *label, time_t now,
		    char *err, size_t errlen);

/*
 * msb_ca_save() - write @ca's key and certificate into the folder @dirfd
 * as MSB_CA_KEY_FILE (0600) and MSB_CA_CERT_FILE (0644). Refuses to
 * replace either file or to follow a link. On failure nothing is left.
 * Return: 0 or -1.
 */
int msb_ca_save(const struct msb_ca *ca, int dirfd, char *err, size_t errlen);

/*
 * msb_ca_load() - the CA saved in the folder @dirfd. The key file must be
 * a regular file not readable by group or others, and must match the
 * certificate.
 * Return: 0 with *@out set (free with msb_ca_free()), or -1.
 */
int msb_ca_load(struct msb_ca **out, int dirfd, char *err, size_t errlen);

/*
 * msb_ca_load_pem() - the CA from its key (@key_pem, @key_len bytes) and
 * certificate (@cert_pem, @cert_len bytes) in PEM, held in memory (as
 * msb-netd gets them through --tls-fd). The key must match the
 * certificate.
 * Return: 0 with *@out set (free with msb_ca_free()), or -1.
 */
int msb_ca_load_pem(struct msb_ca **out, const char *key_pem, size_t key_len,
		    const char *cert_pem, size_t cert_len, char *err,
		    size_t errlen);

/* msb_ca_free() - NULL-safe. */
void msb_ca_free(struct msb_ca *ca);

/* msb_ca_cert() - the CA certificate; owned by @ca. */
X509 *msb_ca_cert(const struct msb_ca *ca);

/* msb_ca_leaf_key() - the key of every leaf of @ca; owned by @ca. */
EVP_PKEY *msb_ca_leaf_key(const struct msb_ca *ca);

/*
 * msb_ca_cert_pem() - the CA certificate in PEM, NUL-terminated, in
 * *@pem (the caller frees it with free()), its length in *@len.
 * Return: 0 or -1.
 */
int msb_ca_cert_pem(const struct msb_ca *ca, char **pem, size_t *len);

/* msb_ca_name_ok() - a leaf can be minted for @name: a DNS name
 * (letters, digits, '-', '_', non-empty labels of at most 63, at most
 * MSB_CA_NAME_MAX) or an IP address literal. */
bool msb_ca_name_ok(const char *name);

/*
 * msb_ca_mint() - a leaf for @name signed by @ca, valid at @now.
 * Return: 0 with *@leaf set (the caller owns it: X509_free()), or -1.
 */
int msb_ca_mint(X509 **leaf, const struct msb_ca *ca, const char *name,
		time_t now, char *err, size_t errlen);

/*
 * DOC: The leaf cache
 *
 * Up to @cap leaves, looked up by name (any case). A leaf is reused while
 * it stays valid for at least another day; the least recently used one
 * makes room. Not thread-safe: one per msb-netd event loop.
 */
struct msb_ca_cache;

/* msb_ca_cache_new() - a cache of @cap (>= 1) leaves of @ca, which must
 * outlive it. Return: the cache, or NULL (no memory). */
struct msb_ca_cache *msb_ca_cache_new(const struct msb_ca *ca, size_t cap);

/* msb_ca_cache_free() - NULL-safe. */
void msb_ca_cache_free(struct msb_ca_cache *c);

/*
 * msb_ca_cache_get() - the leaf for @name at @now, from the cache or
 * minted (see msb_ca_mint()).
 * Return: 0 with *@leaf set to a new reference (X509_free() it), or -1.
 */
int msb_ca_cache_get(X509 **leaf, struct msb_ca_cache *c, const char *name,
		     time_t now, char *err, size_t errlen);

/* msb_ca_cache_stats() - lookups answered from the cache, and mints. */
void msb_ca_cache_stats(const struct msb_ca_cache *c, uint64_t *hits,
			uint64_t *mints);

#endif
