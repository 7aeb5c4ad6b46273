/* SPDX-License-Identifier: Apache-2.0 */
/* IPv4 and IPv6 addresses and prefixes: parse, format, match. Pure. */
#ifndef MSB_NET_ADDR_H
#define MSB_NET_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct msb_net_addr {
	uint8_t family; /* 4 or 6 */
	uint8_t a[16];
};

/* A prefix: @addr with every bit past @len clear; @len is 0..32 for IPv4,
 * 0..128 for IPv6. */
struct msb_net_cidr {
	struct msb_net_addr addr;
	uint8_t len;
};

/* Room for any address as text, NUL included (INET6_ADDRSTRLEN). */
#define MSB_NET_ADDR_STRLEN 46
/* Room for any prefix as text: "[" address "]/128" and the NUL. */
#define MSB_NET_CIDR_STRLEN 52

/*
 * msb_net_addr_parse_n() - the address in the @n bytes at @s: an IPv4
 * dotted quad, strictly (four decimal numbers 0-255, no leading zeros, no
 * short or octal or hex forms), or an IPv6 address in the text form of
 * RFC 4291 (without brackets or a zone).
 * Return: 0, or -1 (*@out is then zeroed).
 */
int msb_net_addr_parse_n(struct msb_net_addr *out, const char *s, size_t n);

/* msb_net_addr_parse() - msb_net_addr_parse_n() of a NUL-terminated @s. */
int msb_net_addr_parse(struct msb_net_addr *out, const char *s);

/*
 * msb_net_addr_format() - @a as text in @out (@cap bytes, at least
 * MSB_NET_ADDR_STRLEN for any address): "10.0.0.1", "2001:db8::1" (the
 * RFC 5952 form). An address of no known family is "?".
 * Return: @out.
 */
char *msb_net_addr_format(char *out, size_t cap, const struct msb_net_addr *a);

/* Two addresses are the same (family and bytes of that family). */
bool msb_net_addr_equal(const struct msb_net_addr *x,
			const struct msb_net_addr *y);

/*
 * msb_net_addr_unwrap() - the IPv4 address an IPv6 address carries:
 * IPv4-mapped (::ffff:0:0/96, RFC 4291), IPv4-compatible (::/96, RFC 4291,
 * except :: and ::1), NAT64 well-known prefix (64:ff9b::/96, RFC 6052) and
 * 6to4 (2002::/16, RFC 3056, the IPv4 in bits 16-47).
 * Return: true with the IPv4 address in *@out, or false (*@out untouched)
 * for any other address.
 */
bool msb_net_addr_unwrap(struct msb_net_addr *out,
			 const struct msb_net_addr *in);

/*
 * msb_net_cidr_parse_n() - the prefix in the @n bytes at @s:
 *   "10.0.0.0/8", "10.0.0.1" (/32)
 *   "2001:db8::/32", "[2001:db8::]/32", "[2001:db8::/32]", "::1" (/128)
 * The length is decimal without leading zeros. Bits past the length must
 * be clear ("10.1.0.0/8" is refused: it is not the start of its range).
 * On failure a one-line reason is written to @err (@errlen bytes; @err
 * may be NULL).
 * Return: 0, or -1.
 */
int msb_net_cidr_parse_n(struct msb_net_cidr *out, const char *s, size_t n,
			 char *err, size_t errlen);

/* msb_net_cidr_parse() - msb_net_cidr_parse_n() of a NUL-terminated @s. */
int msb_net_cidr_parse(struct msb_net_cidr *out, const char *s, char *err,
		       size_t errlen);

/*
 * msb_net_cidr_format() - @c as text in @out (@cap bytes, at least
 * MSB_NET_CIDR_STRLEN): "10.0.0.0/8", "2001:db8::/32" or, with @brackets,
 * "[2001:db8::]/32". A full-length prefix is written as its address alone
 * ("10.0.0.1", "[::1]").
 * Return: @out.
 */
char *msb_net_cidr_format(char *out, size_t cap, const struct msb_net_cidr *c,
			  bool brackets);

/* msb_net_cidr_contains() - @a is in @c (same family, same first @len
 * bits). No unwrapping: see msb_net_addr_unwrap(). */
bool msb_net_cidr_contains(const struct msb_net_cidr *c,
			   const struct msb_net_addr *a);

/* Write a one-line message to @err (@errlen bytes; nothing if NULL or
 * 0): the error convention of the src/net parsers. */
void msb_net_set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
