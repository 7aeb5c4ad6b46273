// SPDX-License-Identifier: Apache-2.0
/* IPv4 and IPv6 addresses and prefixes: parse, format, match. Pure. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "net/addr.h"

/* Longest text form of an IPv6 address (INET6_ADDRSTRLEN - 1). */
#define V6_TEXT_MAX 45

void msb_net_set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}
#define set_err msb_net_set_err

/* The decimal number 0..@max in @n bytes at @s, without leading zeros
 * ("0" itself is fine). Return: the number, or -1. */
static int parse_small_dec(const char *s, size_t n, unsigned max)
{
	unsigned v = 0;

	if (n == 0 || n > 3 || (n > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	return v <= max ? (int)v : -1;
}

static int parse_v4(uint8_t out[4], const char *s, size_t n)
{
	size_t part = 0, start = 0;

	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.')
			continue;
		if (part == 4)
			return -1;
		int v = parse_small_dec(s + start, i - start, 255);
		if (v < 0)
			return -1;
		out[part++] = (uint8_t)v;
		start = i + 1;
	}
	return part == 4 ? 0 : -1;
}

int msb_net_addr_parse_n(struct msb_net_addr *out, const char *s, size_t n)
{
	char buf[V6_TEXT_MAX + 1];

	memset(out, 0, sizeof(*out));
	if (!s || n == 0)
		return -1;
	if (memchr(s, ':', n)) {
		/* inet_pton() wants a NUL-terminated string; it refuses
		 * zones, brackets and everything else that is not RFC 4291
		 * text, and its embedded IPv4 part is a strict dotted quad */
		if (n > V6_TEXT_MAX || memchr(s, '\0', n))
			return -1;
		memcpy(buf, s, n);
		buf[n] = '\0';
		if (inet_pton(AF_INET6, buf, out->a) != 1) {
			memset(out, 0, sizeof(*out));
			return -1;
		}
		out->family = 6;
		return 0;
	}
	if (parse_v4(out->a, s, n) < 0) {
		memset(out, 0, sizeof(*out));
		return -1;
	}
	out->family = 4;
	return 0;
}

int msb_net_addr_parse(struct msb_net_addr *out, const char *s)
{
	if (!s) {
		memset(out, 0, sizeof(*out));
		return -1;
	}
	return msb_net_addr_parse_n(out, s, strlen(s));
}

char *msb_net_addr_format(char *out, size_t cap, const struct msb_net_addr *a)
{
	char buf[MSB_NET_ADDR_STRLEN];

	if (cap == 0)
		return out;
	if (a->family == 4)
		snprintf(buf, sizeof(buf), "%u.%u.%u.%u", a->a[0], a->a[1],
			 a->a[2], a->a[3]);
	else if (a->family != 6 || !inet_ntop(AF_INET6, a->a, buf, sizeof(buf)))
		snprintf(buf, sizeof(buf), "?");
	snprintf(out, cap, "%s", buf);
	return out;
}

static size_t addr_bytes(uint8_t family)
{
	return family == 4 ? 4 : family == 6 ? 16 : 0;
}

bool msb_net_addr_equal(const struct msb_net_addr *x,
			const struct msb_net_addr *y)
{
	size_t n = addr_bytes(x->family);

	return n && x->family == y->family && memcmp(x->a, y->a, n) == 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static void set_v4(struct msb_net_addr *out, const uint8_t *p)
{
	memset(out, 0, sizeof(*out));
	out->family = 4;
	memcpy(out->a, p, 4);
}

bool msb_net_addr_unwrap(struct msb_net_addr *out,
			 const struct msb_net_addr *in)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0,    0,
					   0, 0, 0, 0, 0xff, 0xff};
	static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b};
	const uint8_t *a = in->a;

	if (in->family != 6)
		return false;
	if (!memcmp(a, mapped, 12) || !memcmp(a, nat64, 12)) {
		set_v4(out, a + 12);
		return true;
	}
	if (all_zero(a, 12)) {
		/* IPv4-compatible, but :: and ::1 are IPv6's own */
		if (all_zero(a + 12, 3) && a[15] <= 1)
			return false;
		set_v4(out, a + 12);
		return true;
	}
	if (a[0] == 0x20 && a[1] == 0x02) {
		set_v4(out, a + 2);
		return true;
	}
	return false;
}

/* Clear every bit of @a past @len. */
static void mask_addr(struct msb_net_addr *a, unsigned len)
{
	size_t n = addr_bytes(a->family);

	for (size_t i = 0; i < n; i++) {
		unsigned bit = (unsigned)i * 8;
		if (bit >= len)
			a->a[i] = 0;
		else if (len - bit < 8)
			a->a[i] &= (uint8_t)(0xff << (8 - (len - bit)));
	}
}

int msb_net_cidr_parse_n(struct msb_net_cidr *out, const char *s, size_t n,
			 char *err, size_t errlen)
{
	const char *addr = s, *len = NULL;
	size_t addr_n = n, len_n = 0;
	bool bracket = false;

	memset(out, 0, sizeof(*out));
	if (!s || n == 0) {
		set_err(err, errlen, "empty address");
		return -1;
	}
	if (s[0] == '[') {
		/* "[ADDR]", "[ADDR]/LEN" or "[ADDR/LEN]" */
		const char *close = memchr(s, ']', n);
		if (!close) {
			set_err(err, errlen, "`[` without `]`");
			return -1;
		}
		bracket = true;
		addr = s + 1;
		addr_n = (size_t)(close - addr);
		size_t rest = n - (size_t)(close + 1 - s);
		if (rest) {
			if (close[1] != '/') {
				set_err(err, errlen,
					"unexpected text after `]`");
				return -1;
			}
			len = close + 2;
			len_n = rest - 1;
		}
		const char *slash = memchr(addr, '/', addr_n);
		if (slash) {
			if (len) {
				set_err(err, errlen, "two prefix lengths");
				return -1;
			}
			len = slash + 1;
			len_n = (size_t)(addr + addr_n - len);
			addr_n = (size_t)(slash - addr);
		}
	} else {
		const char *slash = memchr(s, '/', n);
		if (slash) {
			addr_n = (size_t)(slash - s);
			len = slash + 1;
			len_n = n - addr_n - 1;
		}
	}
	if (msb_net_addr_parse_n(&out->addr, addr, addr_n) < 0) {
		set_err(err, errlen, "not an IP address");
		goto fail;
	}
	if (bracket && out->addr.family != 6) {
		set_err(err, errlen, "brackets are for IPv6 addresses");
		goto fail;
	}
	unsigned max = out->addr.family == 4 ? 32 : 128;
	out->len = (uint8_t)max;
	if (len) {
		int v = parse_small_dec(len, len_n, max);
		if (v < 0) {
			set_err(err, errlen,
				"the prefix length must be a number 0-%u", max);
			goto fail;
		}
		out->len = (uint8_t)v;
	}
	struct msb_net_addr masked = out->addr;
	mask_addr(&masked, out->len);
	if (!msb_net_addr_equal(&masked, &out->addr)) {
		char text[MSB_NET_ADDR_STRLEN];
		msb_net_addr_format(text, sizeof(text), &masked);
		set_err(err, errlen,
			"bits are set past the prefix length (the range starts at %s)",
			text);
		goto fail;
	}
	return 0;
fail:
	memset(out, 0, sizeof(*out));
	return -1;
}

int msb_net_cidr_parse(struct msb_net_cidr *out, const char *s, char *err,
		       size_t errlen)
{
	return msb_net_cidr_parse_n(out, s, s ? strlen(s) : 0, err, errlen);
}

char *msb_net_cidr_format(char *out, size_t cap, const struct msb_net_cidr *c,
			  bool brackets)
{
	char a[MSB_NET_ADDR_STRLEN];
	unsigned max = c->addr.family == 4 ? 32 : 128;
	bool br = brackets && c->addr.family == 6;

	if (cap == 0)
		return out;
	msb_net_addr_format(a, sizeof(a), &c->addr);
	if (c->len >= max)
		snprintf(out, cap, "%s%s%s", br ? "[" : "", a, br ? "]" : "");
	else
		snprintf(out, cap, "%s%s%s/%u", br ? "[" : "", a, br ? "]" : "",
			 c->len);
	return out;
}

bool msb_net_cidr_contains(const struct msb_net_cidr *c,
			   const struct msb_net_addr *a)
{
	size_t n = addr_bytes(c->addr.family);
	unsigned len = c->len, full = len / 8, rest = len % 8;

	if (!n || a->family != c->addr.family || len > n * 8)
		return false;
	if (memcmp(c->addr.a, a->a, full))
		return false;
	if (rest) {
		uint8_t m = (uint8_t)(0xff << (8 - rest));
		if ((c->addr.a[full] & m) != (a->a[full] & m))
			return false;
	}
	return true;
}
