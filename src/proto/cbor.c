// SPDX-License-Identifier: Apache-2.0
/* Minimal CBOR (RFC 8949) encoder and bounded decoder; see cbor.h. */
#include "cbor.h"

#include <string.h>

#include "proto/proto.h"

/* Additional information values (low 5 bits of the initial byte). */
#define AI_1BYTE 24
#define AI_2BYTE 25
#define AI_4BYTE 26
#define AI_8BYTE 27

/* --- Encoder --- */

/* Write an initial byte + argument in the shortest form into @out (9 bytes
 * at most); return the number of bytes written. */
static size_t head_bytes(uint8_t out[9], unsigned major, uint64_t arg)
{
	uint8_t ib = (uint8_t)(major << 5);
	size_t n;

	if (arg < AI_1BYTE) {
		out[0] = ib | (uint8_t)arg;
		return 1;
	}
	if (arg <= UINT8_MAX) {
		out[0] = ib | AI_1BYTE;
		n = 1;
	} else if (arg <= UINT16_MAX) {
		out[0] = ib | AI_2BYTE;
		n = 2;
	} else if (arg <= UINT32_MAX) {
		out[0] = ib | AI_4BYTE;
		n = 4;
	} else {
		out[0] = ib | AI_8BYTE;
		n = 8;
	}
	for (size_t i = 0; i < n; i++)
		out[n - i] = (uint8_t)(arg >> (8 * i));
	return n + 1;
}

static int put_head(struct msb_buf *b, unsigned major, uint64_t arg)
{
	uint8_t h[9];

	return msb_buf_append(b, h, head_bytes(h, major, arg));
}

/* Head + content, appended as one unit so that a failure leaves @b as it
 * was. */
static int put_string(struct msb_buf *b, unsigned major, const void *p,
		      size_t n)
{
	uint8_t h[9];
	size_t hn, total;

	if (!p && n) {
		errno = EINVAL;
		return -1;
	}
	hn = head_bytes(h, major, n);
	if (__builtin_add_overflow(hn, n, &total)) {
		errno = ENOMEM;
		return -1;
	}
	if (msb_buf_reserve(b, total) < 0)
		return -1;
	memcpy(b->data + b->len, h, hn);
	if (n)
		memcpy(b->data + b->len + hn, p, n);
	b->len += total;
	return 0;
}

int cbor_put_uint(struct msb_buf *b, uint64_t v)
{
	return put_head(b, CBOR_UINT, v);
}

int cbor_put_negint(struct msb_buf *b, uint64_t n)
{
	return put_head(b, CBOR_NEGINT, n);
}

int cbor_put_int(struct msb_buf *b, int64_t v)
{
	if (v >= 0)
		return put_head(b, CBOR_UINT, (uint64_t)v);
	/* -1 - v without overflow: for v < 0, -(v + 1) fits in int64_t. */
	return put_head(b, CBOR_NEGINT, (uint64_t)(-(v + 1)));
}

int cbor_put_bytes(struct msb_buf *b, const void *p, size_t n)
{
	return put_string(b, CBOR_BYTES, p, n);
}

int cbor_put_text(struct msb_buf *b, const void *p, size_t n)
{
	if (n && (!p || !cbor_utf8_valid(p, n))) {
		errno = EINVAL;
		return -1;
	}
	return put_string(b, CBOR_TEXT, p, n);
}

int cbor_put_array(struct msb_buf *b, uint64_t n)
{
	return put_head(b, CBOR_ARRAY, n);
}

int cbor_put_map(struct msb_buf *b, uint64_t n)
{
	return put_head(b, CBOR_MAP, n);
}

int cbor_put_bool(struct msb_buf *b, bool v)
{
	uint8_t c = (uint8_t)(CBOR_SIMPLE << 5 | (v ? CBOR_TRUE : CBOR_FALSE));

	return msb_buf_append(b, &c, 1);
}

int cbor_put_null(struct msb_buf *b)
{
	uint8_t c = (uint8_t)(CBOR_SIMPLE << 5 | CBOR_NULL);

	return msb_buf_append(b, &c, 1);
}

/* --- UTF-8 --- */

bool cbor_utf8_valid(const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = p[i];
		uint8_t lo = 0x80, hi = 0xbf; /* range of the 2nd byte */
		size_t more;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			more = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			more = 2;
			if (c == 0xe0)
				lo = 0xa0; /* overlong below U+0800 */
			else if (c == 0xed)
				hi = 0x9f; /* U+D800..U+DFFF surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			more = 3;
			if (c == 0xf0)
				lo = 0x90; /* overlong below U+10000 */
			else if (c == 0xf4)
				hi = 0x8f; /* above U+10FFFF */
		} else {
			/* 0x80-0xc1: continuation or overlong 2-byte lead;
			 * 0xf5-0xff: beyond U+10FFFF or never valid. */
			return false;
		}
		if (n - i - 1 < more)
			return false;
		if (p[i + 1] < lo || p[i + 1] > hi)
			return false;
		for (size_t k = 2; k <= more; k++)
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
		i += more + 1;
	}
	return true;
}

/* --- Decoder --- */

static int bad(void)
{
	errno = EBADMSG;
	return -1;
}

void cbor_dec_init(struct cbor_dec *d, const uint8_t *buf, size_t len)
{
	d->buf = buf;
	d->len = buf ? len : 0;
	d->off = 0;
	d->budget = MSB_PROTO_MAX_ITEMS;
}

int cbor_read(struct cbor_dec *d, struct cbor_item *it)
{
	uint8_t ib, ai;
	size_t n;
	uint64_t arg;

	if (d->budget == 0 || d->off >= d->len)
		return bad();
	d->budget--;
	ib = d->buf[d->off++];
	ai = ib & 0x1f;
	it->major = (enum cbor_major)(ib >> 5);
	it->str = NULL;
	it->len = 0;

	switch (ai) {
	case AI_1BYTE:
		n = 1;
		break;
	case AI_2BYTE:
		n = 2;
		break;
	case AI_4BYTE:
		n = 4;
		break;
	case AI_8BYTE:
		n = 8;
		break;
	default:
		/* 28-30 reserved, 31 indefinite length or "break". */
		if (ai > AI_8BYTE)
			return bad();
		n = 0;
		break;
	}
	if (cbor_dec_left(d) < n)
		return bad();
	arg = n ? 0 : ai;
	for (size_t i = 0; i < n; i++)
		arg = arg << 8 | d->buf[d->off++];
	it->arg = arg;

	switch (it->major) {
	case CBOR_UINT:
	case CBOR_NEGINT:
	case CBOR_ARRAY:
	case CBOR_MAP:
		return 0;
	case CBOR_BYTES:
	case CBOR_TEXT:
		if (arg > cbor_dec_left(d))
			return bad();
		it->str = d->buf + d->off;
		it->len = (size_t)arg;
		d->off += (size_t)arg;
		if (it->major == CBOR_TEXT &&
		    !cbor_utf8_valid(it->str, it->len))
			return bad();
		return 0;
	case CBOR_SIMPLE:
		/* Only the one-byte forms of false, true, null. Floats
		 * (ai 25-27), simple(n) with a 1-byte extension and
		 * "undefined" are unsupported. */
		if (n ||
		    (ai != CBOR_FALSE && ai != CBOR_TRUE && ai != CBOR_NULL))
			return bad();
		return 0;
	case CBOR_TAG:
	default:
		return bad();
	}
}

int cbor_skip(struct cbor_dec *d, unsigned depth)
{
	/* left[l]: items still to skip at level l below the starting item. */
	uint64_t left[MSB_PROTO_MAX_DEPTH + 1];
	unsigned lvl = 0;
	struct cbor_item it;

	if (depth > MSB_PROTO_MAX_DEPTH)
		return bad();
	left[0] = 1;
	for (;;) {
		uint64_t n;

		if (left[lvl] == 0) {
			if (lvl == 0)
				return 0;
			lvl--;
			continue;
		}
		left[lvl]--;
		if (cbor_read(d, &it) < 0)
			return -1;
		if (it.major != CBOR_ARRAY && it.major != CBOR_MAP)
			continue;
		/* This container sits inside depth + lvl others and opens
		 * level depth + lvl + 1. */
		if (depth + lvl + 1 > MSB_PROTO_MAX_DEPTH)
			return bad();
		n = it.arg;
		if (it.major == CBOR_MAP && __builtin_mul_overflow(n, 2, &n))
			return bad();
		/* Each element costs at least one item and one byte. */
		if (n > d->budget || n > cbor_dec_left(d))
			return bad();
		if (n) {
			lvl++;
			left[lvl] = n;
		}
	}
}
