/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Minimal CBOR (RFC 8949) codec for the agent protocol, internal to proto/.
 *
 * DOC: Theory of operation
 *
 * The encoder appends items to a struct msb_buf, always in the shortest
 * form (preferred serialisation, RFC 8949 §4.1). It writes only what the
 * protocol uses: unsigned and negative integers, byte and text strings,
 * definite-length array and map headers, false/true/null.
 *
 * The decoder is a cursor over (buf, len) that reads one item head at a
 * time: the major type, the argument, and for byte and text strings a
 * pointer and length into the input (zero copy). Containers are not
 * descended into automatically: after an array head of n the caller reads n
 * items, after a map head of n it reads 2n. cbor_skip() steps over one whole
 * item of any shape, bounded by MSB_PROTO_MAX_DEPTH.
 *
 * Accepted: definite lengths only, any argument width (non-shortest forms
 * decode like shortest ones). Rejected: indefinite lengths and "break",
 * reserved additional information 28-30, tags, floats, simple values other
 * than false/true/null, text strings that are not valid UTF-8. Every head
 * read costs one unit of an item budget shared by the whole cursor
 * (MSB_PROTO_MAX_ITEMS by default), so no input makes the decoder loop more
 * than that many times. Nothing reads past @len.
 */
#ifndef MSB_CBOR_H
#define MSB_CBOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

enum cbor_major {
	CBOR_UINT = 0,
	CBOR_NEGINT = 1, /* value is -1 - arg */
	CBOR_BYTES = 2,
	CBOR_TEXT = 3,
	CBOR_ARRAY = 4,
	CBOR_MAP = 5,
	CBOR_TAG = 6,    /* never returned by the decoder */
	CBOR_SIMPLE = 7, /* only false, true, null */
};

enum cbor_simple {
	CBOR_FALSE = 20,
	CBOR_TRUE = 21,
	CBOR_NULL = 22,
};

/*
 * Encoder. Each function appends one item (or a container head) to @b.
 * Return: 0, or -1 with errno set (ENOMEM; EINVAL for a NULL pointer with a
 * nonzero length or, for text, invalid UTF-8). On failure @b is unchanged.
 */
int cbor_put_uint(struct msb_buf *b, uint64_t v);
/* Encodes the integer -1 - @n: the whole negative range, down to -2^64. */
int cbor_put_negint(struct msb_buf *b, uint64_t n);
int cbor_put_int(struct msb_buf *b, int64_t v);
int cbor_put_bytes(struct msb_buf *b, const void *p, size_t n);
int cbor_put_text(struct msb_buf *b, const void *p, size_t n);
int cbor_put_array(struct msb_buf *b, uint64_t n);
int cbor_put_map(struct msb_buf *b, uint64_t n);
int cbor_put_bool(struct msb_buf *b, bool v);
int cbor_put_null(struct msb_buf *b);

/* Decoder cursor. Fields are private to cbor.c; read them via helpers. */
struct cbor_dec {
	const uint8_t *buf;
	size_t len;
	size_t off;    /* next byte to read */
	size_t budget; /* item heads that may still be read */
};

/* One item head. */
struct cbor_item {
	enum cbor_major major;
	/*
	 * UINT: the value; NEGINT: n for the value -1 - n; BYTES, TEXT: the
	 * length; ARRAY: the element count; MAP: the pair count; SIMPLE:
	 * CBOR_FALSE, CBOR_TRUE or CBOR_NULL.
	 */
	uint64_t arg;
	const uint8_t *str; /* BYTES, TEXT: the content, in the input */
	size_t len;         /* BYTES, TEXT: same as arg */
};

/* Start a cursor over @buf/@len with a budget of MSB_PROTO_MAX_ITEMS. */
void cbor_dec_init(struct cbor_dec *d, const uint8_t *buf, size_t len);

/* Bytes not read yet. */
static inline size_t cbor_dec_left(const struct cbor_dec *d)
{
	return d->len - d->off;
}

/*
 * cbor_read() - read one item head and advance past it (and past the
 * content of a byte or text string, which @it points to).
 * Return: 0, or -1 with errno EBADMSG if the input is malformed,
 * unsupported, truncated or over the item budget. The cursor is left in an
 * unspecified position after an error; stop using it.
 */
int cbor_read(struct cbor_dec *d, struct cbor_item *it);

/*
 * cbor_skip() - step over one whole item, including everything inside it.
 * @depth: number of containers enclosing the item (0 at top level); a
 * container may open nesting level MSB_PROTO_MAX_DEPTH at most.
 * Return: 0, or -1 with errno EBADMSG.
 */
int cbor_skip(struct cbor_dec *d, unsigned depth);

/* True if @p/@n is valid UTF-8: no overlong forms, no surrogates, nothing
 * above U+10FFFF. */
bool cbor_utf8_valid(const uint8_t *p, size_t n);

#endif
