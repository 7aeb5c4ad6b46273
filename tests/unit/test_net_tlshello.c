// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for src/net/tlshello.c: ClientHellos captured from openssl
 * s_client and curl (tests/unit/data/tlshello, made by capture.sh there;
 * the folder is the first argument), the same split into small records
 * and fed byte by byte, and hand-built malformed ones.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "net/tlshello.h"

static const char *datadir;

static uint8_t *load(const char *name, size_t *len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", datadir, name);
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		exit(1);
	}
	static uint8_t buf[65536];
	*len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	uint8_t *p = malloc(*len);
	memcpy(p, buf, *len);
	return p;
}

/* The handshake message of a one-record hello @h re-sent in records of
 * @k bytes each; the result's length in *@outlen (caller frees). */
static uint8_t *resplit(const uint8_t *h, size_t hlen, size_t k, size_t *outlen)
{
	size_t msg = hlen - 5, n = 0;
	uint8_t *out = malloc(msg + 5 * (msg / k + 1));

	for (size_t off = 0; off < msg; off += k) {
		size_t c = msg - off < k ? msg - off : k;
		out[n++] = 22;
		out[n++] = h[1];
		out[n++] = h[2];
		out[n++] = (uint8_t)(c >> 8);
		out[n++] = (uint8_t)c;
		memcpy(out + n, h + 5 + off, c);
		n += c;
	}
	*outlen = n;
	return out;
}

/* @buf parses, and so does every split of it into at most
 * MSB_TLS_HELLO_RECORDS_MAX records (more are BAD); no prefix of one is
 * more than NEED_MORE; fed byte by byte, parsed only when @want says so,
 * it takes a few calls per record. */
static void check_splits(const uint8_t *buf, size_t len,
			 const struct msb_tls_hello *want)
{
	static const size_t sizes[] = {1, 7, 11, 16, 100};
	struct msb_tls_hello h;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n, records = (len - 5 + sizes[i] - 1) / sizes[i];
		uint8_t *s = resplit(buf, len, sizes[i], &n);
		if (records > MSB_TLS_HELLO_RECORDS_MAX) {
			CHECK(msb_tls_hello_parse(&h, s, n) ==
			      MSB_TLS_HELLO_BAD);
			CHECK(h.why && strstr(h.why, "too many records"));
			free(s);
			continue;
		}
		int prefix_ok = 1;
		for (size_t k = 0; k < n; k++)
			if (msb_tls_hello_parse(&h, s, k) !=
			    MSB_TLS_HELLO_NEED_MORE)
				prefix_ok = 0;
		CHECK(prefix_ok);
		CHECK(msb_tls_hello_parse(&h, s, n) == MSB_TLS_HELLO_OK);
		CHECK(h.consumed == n && h.want == 0);
		CHECK(!strcmp(h.sni, want->sni));
		CHECK(h.alpn_len == want->alpn_len &&
		      !memcmp(h.alpn, want->alpn, h.alpn_len));
		CHECK(h.n_versions == want->n_versions);
		/* dripped */
		size_t calls = 0, next = 0;
		enum msb_tls_hello_status st = MSB_TLS_HELLO_NEED_MORE;
		for (size_t k = 0; k <= n && st == MSB_TLS_HELLO_NEED_MORE;
		     k++) {
			if (k < next)
				continue;
			calls++;
			st = msb_tls_hello_parse(&h, s, k);
			next = h.want;
			CHECK(st != MSB_TLS_HELLO_NEED_MORE || next > k);
		}
		CHECK(st == MSB_TLS_HELLO_OK);
		CHECK(calls <= 5 + 2 * records);
		if (calls > 5 + 2 * records)
			fprintf(stderr, "  %zu calls for %zu records\n", calls,
				records);
		free(s);
	}
}

static void fixture(const char *name, const char *sni, const char *alpn0,
		    const char *alpn1, uint16_t maxver)
{
	struct msb_tls_hello h;
	size_t len;
	uint8_t *buf = load(name, &len);

	fprintf(stderr, "fixture %s (%zu bytes)\n", name, len);
	CHECK(msb_tls_hello_parse(&h, buf, len) == MSB_TLS_HELLO_OK);
	CHECK(h.consumed == len);
	CHECK(h.record_version >= 0x0301 && h.record_version <= 0x0303);
	CHECK(h.legacy_version == 0x0303);
	CHECK(h.has_sni == (sni != NULL));
	CHECK(h.sni_valid == (sni != NULL));
	CHECK_STR(h.sni, sni ? sni : "");
	CHECK(msb_tls_hello_max_version(&h) == maxver);
	CHECK(h.has_alpn == (alpn0 != NULL));
	if (alpn0)
		CHECK(msb_tls_hello_offers_alpn(&h, alpn0));
	if (alpn1)
		CHECK(msb_tls_hello_offers_alpn(&h, alpn1));
	CHECK(!msb_tls_hello_offers_alpn(&h, "spdy/3"));
	CHECK(h.n_alpn == (alpn1 ? 2u : alpn0 ? 1u : 0u));
	CHECK(!h.has_ech);
	/* bytes after the hello (the client's next records) do not count */
	uint8_t *more = malloc(len + 6);
	memcpy(more, buf, len);
	memcpy(more + len, "\x14\x03\x03\x00\x01\x01", 6);
	CHECK(msb_tls_hello_parse(&h, more, len + 6) == MSB_TLS_HELLO_OK);
	CHECK(h.consumed == len);
	free(more);
	/* a truncated one is NEED_MORE at every length */
	int all = 1;
	for (size_t k = 0; k < len; k++)
		if (msb_tls_hello_parse(&h, buf, k) != MSB_TLS_HELLO_NEED_MORE)
			all = 0;
	CHECK(all);
	msb_tls_hello_parse(&h, buf, len);
	check_splits(buf, len, &h);
	free(buf);
}

static void test_fixtures(void)
{
	fixture("openssl-tls13.bin", "api.example.com", "h2", "http/1.1",
		0x0304);
	/* the name is lowercased; TLS 1.2 only: no supported_versions */
	fixture("openssl-tls12.bin", "upstream.test", NULL, NULL, 0x0303);
	fixture("openssl-nosni.bin", NULL, NULL, NULL, 0x0304);
	fixture("curl.bin", "secret.example.org", "h2", "http/1.1", 0x0304);
	fixture("curl-http11.bin", "www.example.net", "http/1.1", NULL, 0x0304);
}

/* A hand-built hello: one record, the extensions @ext (@elen bytes). */
static size_t build(uint8_t *out, const uint8_t *ext, size_t elen)
{
	size_t n = 0, body;

	out[n++] = 22;
	out[n++] = 3;
	out[n++] = 1;
	n += 2; /* record length */
	out[n++] = 1;
	n += 3; /* message length */
	out[n++] = 3;
	out[n++] = 3;
	memset(out + n, 0x42, 32);
	n += 32;
	out[n++] = 0;                           /* session id */
	memcpy(out + n, "\x00\x02\x13\x01", 4); /* one suite */
	n += 4;
	memcpy(out + n, "\x01\x00", 2); /* null compression */
	n += 2;
	out[n++] = (uint8_t)(elen >> 8);
	out[n++] = (uint8_t)elen;
	memcpy(out + n, ext, elen);
	n += elen;
	body = n - 9;
	out[3] = (uint8_t)((n - 5) >> 8);
	out[4] = (uint8_t)(n - 5);
	out[6] = (uint8_t)(body >> 16);
	out[7] = (uint8_t)(body >> 8);
	out[8] = (uint8_t)body;
	return n;
}

/* An extension's bytes: type, then @n bytes of data. */
static size_t ext(uint8_t *out, unsigned type, const void *data, size_t n)
{
	out[0] = (uint8_t)(type >> 8);
	out[1] = (uint8_t)type;
	out[2] = (uint8_t)(n >> 8);
	out[3] = (uint8_t)n;
	memcpy(out + 4, data, n);
	return 4 + n;
}

/* A server_name extension's data for @name. */
static size_t sni_data(uint8_t *out, const char *name)
{
	size_t n = strlen(name);
	out[0] = (uint8_t)((n + 3) >> 8);
	out[1] = (uint8_t)(n + 3);
	out[2] = 0;
	out[3] = (uint8_t)(n >> 8);
	out[4] = (uint8_t)n;
	memcpy(out + 5, name, n);
	return 5 + n;
}

static enum msb_tls_hello_status parse_exts(struct msb_tls_hello *h,
					    const uint8_t *e, size_t elen)
{
	static uint8_t buf[70000];
	size_t n = build(buf, e, elen);
	return msb_tls_hello_parse(h, buf, n);
}

static void test_sni(void)
{
	struct msb_tls_hello h;
	uint8_t e[2048], d[1024];
	size_t n;

	n = ext(e, 0, d, sni_data(d, "API.OpenAI.com"));
	CHECK(parse_exts(&h, e, n) == MSB_TLS_HELLO_OK);
	CHECK_STR(h.sni, "api.openai.com");
	CHECK(h.sni_raw_len == 14 && !memcmp(h.sni_raw, "API.OpenAI.com", 14));
	CHECK(msb_tls_hello_max_version(&h) == 0x0303);
	CHECK(!h.has_alpn && !h.has_versions);

	/* not a DNS name: kept raw, flagged, not in @sni */
	static const char *const odd[] = {"$MSB_KEY_0123", "a..b",  ".a", "a.",
					  "a b",           "x\x01y"};
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		n = ext(e, 0, d, sni_data(d, odd[i]));
		CHECK(parse_exts(&h, e, n) == MSB_TLS_HELLO_OK);
		CHECK(h.has_sni && !h.sni_valid && h.sni[0] == '\0');
		CHECK(h.sni_raw_len == strlen(odd[i]));
	}
	/* label of 64, name of 254: not DNS names */
	char name[300];
	memset(name, 'a', 64);
	name[64] = '\0';
	n = ext(e, 0, d, sni_data(d, name));
	CHECK(parse_exts(&h, e, n) == MSB_TLS_HELLO_OK && !h.sni_valid);
	name[63] = '\0';
	n = ext(e, 0, d, sni_data(d, name));
	CHECK(parse_exts(&h, e, n) == MSB_TLS_HELLO_OK && h.sni_valid);
	for (int i = 0; i < 254; i++)
		name[i] = i % 2 ? '.' : 'a';
	name[253] = '\0'; /* "a.a. ... a" of 253 */
	n = ext(e, 0, d, sni_data(d, name));
	CHECK(parse_exts(&h, e, n) == MSB_TLS_HELLO_OK && h.sni_valid);
	/* 256 bytes: refused */
	memset(name, 'a', 256);
	name[256] = '\0';
	n = ext(e, 0, d, sni_data(d, name));
	CHECK(parse_exts(&h, e, n) == MSB_TLS_HELLO_BAD);

	/* two host names in one list */
	memcpy(d,
	       "\x00\x0a\x00\x00\x02"
	       "ab\x00\x00\x02"
	       "cd",
	       12);
	n = ext(e, 0, d, 12);
	CHECK(parse_exts(&h, e, n) == MSB_TLS_HELLO_BAD);
	CHECK(h.why && strstr(h.why, "two host names"));
	CHECK(!h.has_sni); /* a refused hello leaves nothing behind */
	/* another name type is skipped */
	memcpy(d,
	       "\x00\x0a\x07\x00\x02"
	       "ab\x00\x00\x02"
	       "cd",
	       12);
	n = ext(e, 0, d, 12);
	CHECK(parse_exts(&h, e, n) == MSB_TLS_HELLO_OK);
	CHECK_STR(h.sni, "cd");
	/* list length off by one, each way; empty list; empty name */
	memcpy(d,
	       "\x00\x06\x00\x00\x02"
	       "ab",
	       7);
	n = ext(e, 0, d, 7);
	CHECK(parse_exts(&h, e, n) == MSB_TLS_HELLO_BAD);
	memcpy(d,
	       "\x00\x04\x00\x00\x02"
	       "ab",
	       7);
	n = ext(e, 0, d, 7);
	CHECK(parse_exts(&h, e, n) == MSB_TLS_HELLO_BAD);
	n = ext(e, 0, "\x00\x00", 2);
	CHECK(parse_exts(&h, e, n) == MSB_TLS_HELLO_BAD);
	n = ext(e, 0, "\x00\x03\x00\x00\x00", 5);
	CHECK(parse_exts(&h, e, n) == MSB_TLS_HELLO_BAD);
	/* the extension twice */
	n = ext(e, 0, d, sni_data(d, "a.test"));
	n += ext(e + n, 0, d, sni_data(d, "b.test"));
	CHECK(parse_exts(&h, e, n) == MSB_TLS_HELLO_BAD);
	CHECK(h.why && strstr(h.why, "duplicated"));
}

static void test_alpn_versions(void)
{
	struct msb_tls_hello h;
	uint8_t e[4096], d[2048];
	size_t n, pos = 0, k;
	const uint8_t *name;

	n = ext(e, 16, "\x00\x0c\x02h2\x08http/1.1", 14);
	n += ext(e + n, 43, "\x06\x3a\x3a\x03\x04\x03\x03", 7);
	n += ext(e + n, 0xfe0d, "\x00", 1);
	CHECK(parse_exts(&h, e, n) == MSB_TLS_HELLO_OK);
	CHECK(h.n_alpn == 2 && !h.alpn_cut);
	CHECK(msb_tls_hello_alpn_next(&h, &pos, &name, &k) && k == 2 &&
	      !memcmp(name, "h2", 2));
	CHECK(msb_tls_hello_alpn_next(&h, &pos, &name, &k) && k == 8);
	CHECK(!msb_tls_hello_alpn_next(&h, &pos, &name, &k));
	CHECK(h.n_versions == 3 && h.versions[0] == 0x3a3a);
	/* GREASE is not a version */
	CHECK(msb_tls_hello_max_version(&h) == 0x0304);
	CHECK(h.has_ech);

	/* a long list: counted, kept up to MSB_TLS_ALPN_MAX */
	size_t dn = 2;
	for (int i = 0; i < 100; i++) {
		d[dn++] = 9;
		memcpy(d + dn, "proto-xyz", 9);
		dn += 9;
	}
	d[0] = (uint8_t)((dn - 2) >> 8);
	d[1] = (uint8_t)(dn - 2);
	n = ext(e, 16, d, dn);
	CHECK(parse_exts(&h, e, n) == MSB_TLS_HELLO_OK);
	CHECK(h.n_alpn == 100 && h.alpn_cut);
	CHECK(h.alpn_len <= MSB_TLS_ALPN_MAX && h.alpn_len == 25 * 10);

	/* malformed: empty name, empty list, name past the list */
	n = ext(e, 16, "\x00\x03\x00\x01x", 5);
	CHECK(parse_exts(&h, e, n) == MSB_TLS_HELLO_BAD);
	n = ext(e, 16, "\x00\x00", 2);
	CHECK(parse_exts(&h, e, n) == MSB_TLS_HELLO_BAD);
	n = ext(e, 16,
		"\x00\x03\x05"
		"h2",
		5);
	CHECK(parse_exts(&h, e, n) == MSB_TLS_HELLO_BAD);
	/* versions: odd length, empty, longer than the extension */
	n = ext(e, 43, "\x03\x03\x04\x03", 4);
	CHECK(parse_exts(&h, e, n) == MSB_TLS_HELLO_BAD);
	n = ext(e, 43, "\x00", 1);
	CHECK(parse_exts(&h, e, n) == MSB_TLS_HELLO_BAD);
	n = ext(e, 43, "\x04\x03\x04", 3);
	CHECK(parse_exts(&h, e, n) == MSB_TLS_HELLO_BAD);
}

static void test_framing(void)
{
	struct msb_tls_hello h;
	uint8_t buf[70000], e[64], d[64];
	size_t n;

	/* not TLS, from the first byte or two */
	CHECK(msb_tls_hello_parse(&h, (const uint8_t *)"GET / HTTP/1.1\r\n",
				  16) == MSB_TLS_HELLO_NOT_TLS);
	CHECK(h.why != NULL);
	CHECK(msb_tls_hello_parse(&h, (const uint8_t *)"S", 1) ==
	      MSB_TLS_HELLO_NOT_TLS);
	CHECK(msb_tls_hello_parse(&h, (const uint8_t *)"\x80\x2e\x01", 3) ==
	      MSB_TLS_HELLO_NOT_TLS); /* SSLv2 */
	CHECK(msb_tls_hello_parse(&h, (const uint8_t *)"\x16\x02", 2) ==
	      MSB_TLS_HELLO_NOT_TLS);
	CHECK(msb_tls_hello_parse(&h, (const uint8_t *)"\x16\x03\x05", 3) ==
	      MSB_TLS_HELLO_NOT_TLS);
	CHECK(msb_tls_hello_parse(&h, (const uint8_t *)"", 0) ==
	      MSB_TLS_HELLO_NEED_MORE);
	CHECK(msb_tls_hello_parse(&h, (const uint8_t *)"\x16\x03\x01", 3) ==
	      MSB_TLS_HELLO_NEED_MORE);

	n = ext(e, 0, d, sni_data(d, "a.test"));
	size_t len = build(buf, e, n);
	CHECK(msb_tls_hello_parse(&h, buf, len) == MSB_TLS_HELLO_OK);
	/* a record that claims one byte more than the message: BAD as soon
	 * as the lengths are known, not when the byte arrives */
	buf[4]++;
	CHECK(msb_tls_hello_parse(&h, buf, len) == MSB_TLS_HELLO_BAD);
	buf[len] = 0;
	CHECK(msb_tls_hello_parse(&h, buf, len + 1) == MSB_TLS_HELLO_BAD);
	buf[4]--;
	/* an empty record */
	memcpy(buf + 20000, "\x16\x03\x01\x00\x00", 5);
	CHECK(msb_tls_hello_parse(&h, buf + 20000, 5) == MSB_TLS_HELLO_BAD);
	/* a record over 2^14 */
	memcpy(buf + 20000, "\x16\x03\x01\x40\x01", 5);
	CHECK(msb_tls_hello_parse(&h, buf + 20000, 5) == MSB_TLS_HELLO_BAD);
	/* a ServerHello */
	buf[5] = 2;
	CHECK(msb_tls_hello_parse(&h, buf, len) == MSB_TLS_HELLO_BAD);
	buf[5] = 1;
	/* message length one short of, one past the extensions */
	buf[8]--;
	CHECK(msb_tls_hello_parse(&h, buf, len) == MSB_TLS_HELLO_BAD);
	buf[8] += 2;
	CHECK(msb_tls_hello_parse(&h, buf, len) == MSB_TLS_HELLO_NEED_MORE);
	buf[8]--;
	/* extensions block one byte longer than the message */
	buf[9 + 2 + 32 + 1 + 4 + 2 + 1]++;
	CHECK(msb_tls_hello_parse(&h, buf, len) == MSB_TLS_HELLO_BAD);
	buf[9 + 2 + 32 + 1 + 4 + 2 + 1]--;
	/* a hello too long for MSB_TLS_HELLO_MAX */
	memcpy(buf + 20000, "\x16\x03\x01\x00\x04\x01\x00\x40\x00", 9);
	CHECK(msb_tls_hello_parse(&h, buf + 20000, 9) == MSB_TLS_HELLO_BAD);
	/* split, with a ChangeCipherSpec record in between */
	size_t sn;
	uint8_t *s = resplit(buf, len, 10, &sn);
	s[15] = 20;
	CHECK(msb_tls_hello_parse(&h, s, sn) == MSB_TLS_HELLO_BAD);
	free(s);
	/* a session id of 33 bytes */
	buf[9 + 2 + 32] = 33;
	CHECK(msb_tls_hello_parse(&h, buf, len) == MSB_TLS_HELLO_BAD);
	buf[9 + 2 + 32] = 0;
	/* restored, it parses again */
	CHECK(msb_tls_hello_parse(&h, buf, len) == MSB_TLS_HELLO_OK);

	/* no extensions at all (SSL 3.0 style): fine, nothing known */
	uint8_t old[50] = {22, 3, 0, 0, 45, 1, 0, 0, 41, 3, 0};
	memset(old + 11, 0x42, 32);
	memcpy(old + 43, "\x00\x00\x02\x00\x0a\x01\x00", 7);
	CHECK(msb_tls_hello_parse(&h, old, 50) == MSB_TLS_HELLO_OK);
	CHECK(h.legacy_version == 0x0300 && !h.has_sni && h.consumed == 50);
	CHECK(msb_tls_hello_max_version(&h) == 0x0300);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: test_net_tlshello DATADIR\n");
		return 2;
	}
	datadir = argv[1];
	test_fixtures();
	test_sni();
	test_alpn_versions();
	test_framing();
	return check_summary("net_tlshello");
}
