// SPDX-License-Identifier: Apache-2.0
/* Published ports: parse, format and compare `-p` specs. Pure. */
#include <stdio.h>
#include <string.h>

#include "net/portspec.h"

/* Longest spec accepted: the longest valid one is far shorter. */
#define SPEC_MAX 128

static const char usage[] = "expected [HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp]";

/* @n bytes at @s for a message: at most 40, anything not printable ASCII
 * (a backquote included) as '?'. Return: @out. */
static const char *quote(char *out, size_t cap, const char *s, size_t n)
{
	size_t i, k = n < 40 ? n : 40;

	if (k > cap - 4)
		k = cap - 4;
	for (i = 0; i < k; i++)
		out[i] =
			s[i] >= 0x20 && s[i] < 0x7f && s[i] != '`' ? s[i] : '?';
	if (k < n) {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = '\0';
	return out;
}

static bool word_is(const char *s, size_t n, const char *w)
{
	size_t i;

	if (n != strlen(w))
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] + 32) : s[i];
		if (c != w[i])
			return false;
	}
	return true;
}

/* A port 1..65535 in @n bytes at @s: decimal, no leading zero. */
static int parse_port(const char *s, size_t n)
{
	unsigned v = 0;

	if (n == 0 || n > 5 || s[0] == '0')
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	return v <= 65535 ? (int)v : -1;
}

/* "HOSTPORT:GUESTPORT" in @n bytes at @s into @out. */
static int parse_ports(struct msb_net_portspec *out, const char *s, size_t n,
		       char *err, size_t errlen)
{
	char q[48];
	const char *colon = memchr(s, ':', n);

	if (!colon) {
		msb_net_set_err(err, errlen, "%s", usage);
		return -1;
	}
	size_t hn = (size_t)(colon - s), gn = n - hn - 1;
	int h = parse_port(s, hn), g = parse_port(colon + 1, gn);
	if (h < 0) {
		msb_net_set_err(err, errlen,
				"host port `%s` is not a port (1-65535)",
				quote(q, sizeof(q), s, hn));
		return -1;
	}
	if (g < 0) {
		msb_net_set_err(err, errlen,
				"guest port `%s` is not a port (1-65535)",
				quote(q, sizeof(q), colon + 1, gn));
		return -1;
	}
	out->host_port = (uint16_t)h;
	out->guest_port = (uint16_t)g;
	return 0;
}

static int parse(struct msb_net_portspec *out, const char *s, size_t n,
		 char *err, size_t errlen)
{
	char q[48];
	const char *body = s;
	size_t bn = n, colons = 0;

	if (n == 0) {
		msb_net_set_err(err, errlen, "empty: %s", usage);
		return -1;
	}
	if (n > SPEC_MAX) {
		msb_net_set_err(err, errlen, "longer than %d bytes: %s",
				SPEC_MAX, usage);
		return -1;
	}
	out->proto = MSB_NET_PROTO_TCP;
	const char *slash = memchr(s, '/', n);
	if (slash) {
		const char *p = slash + 1;
		size_t pn = n - (size_t)(p - s);
		if (word_is(p, pn, "udp")) {
			out->proto = MSB_NET_PROTO_UDP;
		} else if (!word_is(p, pn, "tcp")) {
			msb_net_set_err(err, errlen,
					"`%s` is not a protocol (tcp or udp)",
					quote(q, sizeof(q), p, pn));
			return -1;
		}
		bn = (size_t)(slash - s);
	}
	/* 127.0.0.1 unless given */
	out->host_ip.family = 4;
	out->host_ip.a[0] = 127;
	out->host_ip.a[3] = 1;
	if (bn && body[0] == '[') {
		const char *end = memchr(body, ']', bn);
		struct msb_net_addr a;
		if (!end) {
			msb_net_set_err(err, errlen, "`[` without `]`: %s",
					usage);
			return -1;
		}
		size_t an = (size_t)(end - body - 1);
		if (msb_net_addr_parse_n(&a, body + 1, an) < 0 ||
		    a.family != 6) {
			msb_net_set_err(
				err, errlen,
				"`%s` is not an IPv6 address (brackets are for IPv6 only)",
				quote(q, sizeof(q), body + 1, an));
			return -1;
		}
		if ((size_t)(end - body) + 1 >= bn || end[1] != ':') {
			msb_net_set_err(err, errlen,
					"`:` expected after `]`: %s", usage);
			return -1;
		}
		out->host_ip = a;
		return parse_ports(out, end + 2, bn - (size_t)(end - body) - 2,
				   err, errlen);
	}
	for (size_t i = 0; i < bn; i++)
		colons += body[i] == ':';
	if (colons == 1)
		return parse_ports(out, body, bn, err, errlen);
	if (colons == 2) {
		const char *c = memchr(body, ':', bn);
		size_t an = (size_t)(c - body);
		struct msb_net_addr a;
		if (msb_net_addr_parse_n(&a, body, an) < 0 || a.family != 4) {
			msb_net_set_err(
				err, errlen,
				"`%s` is not an IPv4 address (an IPv6 one goes in brackets)",
				quote(q, sizeof(q), body, an));
			return -1;
		}
		out->host_ip = a;
		return parse_ports(out, c + 1, bn - an - 1, err, errlen);
	}
	if (colons > 2)
		msb_net_set_err(
			err, errlen,
			"too many `:` (an IPv6 host address goes in brackets: [ADDR]:HOSTPORT:GUESTPORT)");
	else
		msb_net_set_err(err, errlen, "%s", usage);
	return -1;
}

int msb_net_portspec_parse_n(struct msb_net_portspec *out, const char *s,
			     size_t n, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (!s) {
		msb_net_set_err(err, errlen, "empty: %s", usage);
		return -1;
	}
	if (parse(out, s, n, err, errlen) < 0) {
		memset(out, 0, sizeof(*out));
		return -1;
	}
	return 0;
}

int msb_net_portspec_parse(struct msb_net_portspec *out, const char *s,
			   char *err, size_t errlen)
{
	return msb_net_portspec_parse_n(out, s, s ? strlen(s) : 0, err, errlen);
}

static const char *proto_name(const struct msb_net_portspec *p)
{
	return p->proto == MSB_NET_PROTO_UDP ? "udp" : "tcp";
}

static const char *host_text(char *out, size_t cap,
			     const struct msb_net_portspec *p)
{
	char a[MSB_NET_ADDR_STRLEN];

	msb_net_addr_format(a, sizeof(a), &p->host_ip);
	snprintf(out, cap, p->host_ip.family == 6 ? "[%s]" : "%s", a);
	return out;
}

char *msb_net_portspec_format(char *out, size_t cap,
			      const struct msb_net_portspec *p)
{
	char h[MSB_NET_ADDR_STRLEN + 2];

	if (!cap)
		return out;
	snprintf(out, cap, "%s:%u:%u/%s", host_text(h, sizeof(h), p),
		 p->host_port, p->guest_port, proto_name(p));
	return out;
}

char *msb_net_portspec_host_format(char *out, size_t cap,
				   const struct msb_net_portspec *p)
{
	char h[MSB_NET_ADDR_STRLEN + 2];

	if (!cap)
		return out;
	snprintf(out, cap, "%s:%u/%s", host_text(h, sizeof(h), p), p->host_port,
		 proto_name(p));
	return out;
}

static bool unspecified(const struct msb_net_addr *a)
{
	size_t n = a->family == 4 ? 4 : 16;

	for (size_t i = 0; i < n; i++)
		if (a->a[i])
			return false;
	return true;
}

bool msb_net_portspec_conflict(const struct msb_net_portspec *a,
			       const struct msb_net_portspec *b)
{
	if (a->proto != b->proto || a->host_port != b->host_port ||
	    a->host_ip.family != b->host_ip.family)
		return false;
	return msb_net_addr_equal(&a->host_ip, &b->host_ip) ||
	       unspecified(&a->host_ip) || unspecified(&b->host_ip);
}
