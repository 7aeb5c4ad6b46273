// SPDX-License-Identifier: Apache-2.0
/*
 * A TLS ClientHello from the first bytes of a connection. Pure.
 *
 * Theory of operation: the records are walked first, each one's fragment
 * copied into a bounded buffer (MSB_TLS_HELLO_MAX) until the handshake
 * message's declared length is reached; only then is the message read,
 * through a cursor whose every read is checked against what is left. A
 * length that claims more than its container holds is BAD, never a read
 * past it; every loop advances by at least one byte of bounded input.
 */
#include <string.h>

#include "net/tlshello.h"

#define REC_HDR 5
#define REC_MAX 16384 /* TLSPlaintext.length <= 2^14 */
#define CT_HANDSHAKE 22
#define HS_CLIENT_HELLO 1

#define EXT_SERVER_NAME 0
#define EXT_ALPN 16
#define EXT_SUPPORTED_VERSIONS 43
#define EXT_ECH 0xfe0d

/* A bounded cursor over the message. */
struct rd {
	const uint8_t *p;
	size_t n;
};

static bool get_u8(struct rd *r, unsigned *v)
{
	if (r->n < 1)
		return false;
	*v = r->p[0];
	r->p++;
	r->n--;
	return true;
}

static bool get_u16(struct rd *r, unsigned *v)
{
	if (r->n < 2)
		return false;
	*v = (unsigned)r->p[0] << 8 | r->p[1];
	r->p += 2;
	r->n -= 2;
	return true;
}

static bool skip(struct rd *r, size_t k)
{
	if (r->n < k)
		return false;
	r->p += k;
	r->n -= k;
	return true;
}

/* A vector with a @lenbytes (1 or 2) length prefix, into @sub. */
static bool get_vec(struct rd *r, int lenbytes, struct rd *sub)
{
	unsigned k;

	if (!(lenbytes == 1 ? get_u8(r, &k) : get_u16(r, &k)) || r->n < k)
		return false;
	sub->p = r->p;
	sub->n = k;
	r->p += k;
	r->n -= k;
	return true;
}

static bool dns_name_ok(const uint8_t *s, size_t n)
{
	size_t label = 0;

	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = s[i];
		if (c == '.') {
			if (label == 0)
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

static enum msb_tls_hello_status bad(struct msb_tls_hello *h, const char *why)
{
	h->why = why;
	return MSB_TLS_HELLO_BAD;
}

static enum msb_tls_hello_status parse_sni(struct msb_tls_hello *h,
					   struct rd ext)
{
	struct rd list, name;
	unsigned type;

	if (!get_vec(&ext, 2, &list) || ext.n || !list.n)
		return bad(h, "malformed server_name extension");
	while (list.n) {
		if (!get_u8(&list, &type) || !get_vec(&list, 2, &name))
			return bad(h, "malformed server_name extension");
		if (type != 0)
			continue; /* no other name type is defined */
		if (h->has_sni)
			return bad(h, "two host names in server_name");
		if (!name.n)
			return bad(h, "empty host name in server_name");
		if (name.n > MSB_TLS_SNI_MAX)
			return bad(h, "host name in server_name is too long");
		h->has_sni = true;
		memcpy(h->sni_raw, name.p, name.n);
		h->sni_raw_len = name.n;
		if (dns_name_ok(name.p, name.n)) {
			h->sni_valid = true;
			for (size_t i = 0; i < name.n; i++) {
				uint8_t c = name.p[i];
				h->sni[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32
									: c);
			}
			h->sni[name.n] = '\0';
		}
	}
	return MSB_TLS_HELLO_OK;
}

static enum msb_tls_hello_status parse_alpn(struct msb_tls_hello *h,
					    struct rd ext)
{
	struct rd list, name;

	if (!get_vec(&ext, 2, &list) || ext.n || !list.n)
		return bad(h, "malformed ALPN extension");
	h->has_alpn = true;
	while (list.n) {
		if (!get_vec(&list, 1, &name) || !name.n)
			return bad(h, "malformed ALPN extension");
		h->n_alpn++;
		if (h->alpn_cut ||
		    h->alpn_len + 1 + name.n > MSB_TLS_ALPN_MAX) {
			h->alpn_cut = true;
			continue;
		}
		h->alpn[h->alpn_len++] = (uint8_t)name.n;
		memcpy(h->alpn + h->alpn_len, name.p, name.n);
		h->alpn_len += name.n;
	}
	return MSB_TLS_HELLO_OK;
}

static enum msb_tls_hello_status parse_versions(struct msb_tls_hello *h,
						struct rd ext)
{
	struct rd list;
	unsigned v;

	if (!get_vec(&ext, 1, &list) || ext.n || list.n < 2 || list.n % 2)
		return bad(h, "malformed supported_versions extension");
	h->has_versions = true;
	while (get_u16(&list, &v))
		if (h->n_versions < MSB_TLS_VERSIONS_MAX)
			h->versions[h->n_versions++] = (uint16_t)v;
	return MSB_TLS_HELLO_OK;
}

/* The ClientHello body (after the 4-byte handshake header). */
static enum msb_tls_hello_status parse_body(struct msb_tls_hello *h,
					    struct rd r)
{
	/* one bit per extension type, to refuse duplicates (RFC 8446 4.2) */
	uint64_t seen[65536 / 64];
	struct rd v, exts;
	unsigned ver, type;
	enum msb_tls_hello_status st;

	if (!get_u16(&r, &ver))
		return bad(h, "truncated ClientHello");
	if (ver >> 8 != 3)
		return bad(h, "ClientHello version is not 3.x");
	h->legacy_version = (uint16_t)ver;
	if (!skip(&r, 32))
		return bad(h, "truncated ClientHello random");
	if (!get_vec(&r, 1, &v) || v.n > 32)
		return bad(h, "malformed session id");
	if (!get_vec(&r, 2, &v) || v.n < 2 || v.n % 2)
		return bad(h, "malformed cipher suite list");
	if (!get_vec(&r, 1, &v) || v.n < 1)
		return bad(h, "malformed compression method list");
	if (!r.n)
		return MSB_TLS_HELLO_OK; /* no extensions (SSL 3.0 style) */
	if (!get_vec(&r, 2, &exts) || r.n)
		return bad(h, "extension block length does not match");
	memset(seen, 0, sizeof(seen));
	while (exts.n) {
		if (!get_u16(&exts, &type) || !get_vec(&exts, 2, &v))
			return bad(h, "malformed extension");
		if (seen[type / 64] >> (type % 64) & 1)
			return bad(h, "duplicated extension");
		seen[type / 64] |= (uint64_t)1 << (type % 64);
		switch (type) {
		case EXT_SERVER_NAME:
			st = parse_sni(h, v);
			break;
		case EXT_ALPN:
			st = parse_alpn(h, v);
			break;
		case EXT_SUPPORTED_VERSIONS:
			st = parse_versions(h, v);
			break;
		case EXT_ECH:
			h->has_ech = true;
			st = MSB_TLS_HELLO_OK;
			break;
		default:
			st = MSB_TLS_HELLO_OK;
		}
		if (st != MSB_TLS_HELLO_OK)
			return st;
	}
	return MSB_TLS_HELLO_OK;
}

static enum msb_tls_hello_status parse(struct msb_tls_hello *out,
				       const uint8_t *buf, size_t len)
{
	uint8_t msg[MSB_TLS_HELLO_MAX];
	size_t have = 0, need = 0, off = 0;

	memset(out, 0, sizeof(*out));
	out->want = 1;
	/* decide NOT_TLS from as few bytes as possible */
	if (len >= 1 && buf[0] != CT_HANDSHAKE) {
		out->why = "not a TLS handshake record";
		return MSB_TLS_HELLO_NOT_TLS;
	}
	if ((len >= 2 && buf[1] != 3) || (len >= 3 && buf[2] > 4)) {
		out->why = "not a TLS record version";
		return MSB_TLS_HELLO_NOT_TLS;
	}
	for (unsigned nrec = 0;; nrec++) {
		const uint8_t *rec = buf + off;
		size_t rlen, avail, take, before = have;

		if (nrec == MSB_TLS_HELLO_RECORDS_MAX)
			return bad(out, "ClientHello in too many records");
		if (len - off < REC_HDR) {
			/* the first 3 bytes may decide NOT_TLS one by one */
			out->want =
				off == 0 && len < 3 ? len + 1 : off + REC_HDR;
			return MSB_TLS_HELLO_NEED_MORE;
		}
		if (rec[0] != CT_HANDSHAKE)
			return bad(out, "another record type inside the "
					"ClientHello");
		if (rec[1] != 3 || rec[2] > 4)
			return bad(out, "bad record version");
		if (off == 0)
			out->record_version = (uint16_t)(rec[1] << 8 | rec[2]);
		rlen = (size_t)rec[3] << 8 | rec[4];
		if (rlen == 0)
			return bad(out, "empty handshake record");
		if (rlen > REC_MAX)
			return bad(out, "record longer than 2^14 bytes");
		avail = len - off - REC_HDR;
		if (avail > rlen)
			avail = rlen;
		take = avail < sizeof(msg) - have ? avail : sizeof(msg) - have;
		memcpy(msg + have, rec + REC_HDR, take);
		have += take;
		if (!need && have >= 4) {
			if (msg[0] != HS_CLIENT_HELLO)
				return bad(out, "handshake message is not a "
						"ClientHello");
			need = 4 + ((size_t)msg[1] << 16 | (size_t)msg[2] << 8 |
				    msg[3]);
			if (need > MSB_TLS_HELLO_MAX)
				return bad(out, "ClientHello is too long");
		}
		if (need && before + rlen > need)
			return bad(out, "data after the ClientHello in its "
					"record");
		if (avail < rlen) {
			/* the handshake header, once complete, may be BAD */
			out->want = off + REC_HDR + rlen;
			if (!need && before + rlen >= 4)
				out->want = off + REC_HDR + (4 - before);
			return MSB_TLS_HELLO_NEED_MORE;
		}
		off += REC_HDR + rlen;
		if (need && have == need)
			break;
	}
	out->consumed = off;
	struct rd body = {msg + 4, need - 4};
	return parse_body(out, body);
}

enum msb_tls_hello_status msb_tls_hello_parse(struct msb_tls_hello *out,
					      const uint8_t *buf, size_t len)
{
	enum msb_tls_hello_status st = parse(out, buf, len);

	if (st != MSB_TLS_HELLO_OK) {
		/* nothing kept but the reason, or how many bytes to wait for */
		const char *why = out->why;
		size_t want = st == MSB_TLS_HELLO_NEED_MORE ? out->want : 0;
		memset(out, 0, sizeof(*out));
		out->why = why;
		out->want = want;
	} else {
		out->want = 0;
	}
	return st;
}

bool msb_tls_hello_alpn_next(const struct msb_tls_hello *h, size_t *pos,
			     const uint8_t **name, size_t *n)
{
	if (*pos >= h->alpn_len || *pos >= MSB_TLS_ALPN_MAX)
		return false;
	size_t k = h->alpn[*pos];
	if (k == 0 || *pos + 1 + k > h->alpn_len)
		return false;
	*name = h->alpn + *pos + 1;
	*n = k;
	*pos += 1 + k;
	return true;
}

bool msb_tls_hello_offers_alpn(const struct msb_tls_hello *h, const char *proto)
{
	size_t pos = 0, n, want = strlen(proto);
	const uint8_t *name;

	while (msb_tls_hello_alpn_next(h, &pos, &name, &n))
		if (n == want && !memcmp(name, proto, n))
			return true;
	return false;
}

/* GREASE values (RFC 8701): 0x0a0a, 0x1a1a, ..., 0xfafa. */
static bool is_grease(uint16_t v)
{
	return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

uint16_t msb_tls_hello_max_version(const struct msb_tls_hello *h)
{
	uint16_t best = 0;

	if (!h->has_versions)
		return h->legacy_version;
	for (size_t i = 0; i < h->n_versions; i++)
		if (!is_grease(h->versions[i]) && h->versions[i] > best)
			best = h->versions[i];
	return best;
}
