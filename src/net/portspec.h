/* SPDX-License-Identifier: Apache-2.0 */
/* Published ports: the `-p [HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp]` syntax.
 * Pure: no I/O, no allocation. */
#ifndef MSB_NET_PORTSPEC_H
#define MSB_NET_PORTSPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/addr.h"
#include "net/policy.h"

/*
 * DOC: Published ports
 *
 *   SPEC   := [HOSTIP ":"] HOSTPORT ":" GUESTPORT ["/" PROTO]
 *   HOSTIP := IPv4 | "[" IPv6 "]"    (default 127.0.0.1)
 *   PROTO  := "tcp" | "udp"          (default tcp; any case)
 *   HOSTPORT, GUESTPORT := 1..65535, decimal, no leading zero
 *
 * Examples: "8080:80", "0.0.0.0:8080:80/tcp", "[::1]:5353:53/udp".
 * Connections (TCP) or datagrams (UDP) to HOSTIP:HOSTPORT on the host go
 * to the guest's GUESTPORT. SECURITY NOTE: a HOSTIP other than loopback
 * (0.0.0.0, [::], an interface's address) lets other machines reach the
 * guest's service.
 */

/* The longest spec text, NUL included: "[" IPv6 "]:65535:65535/tcp". */
#define MSB_NET_PORTSPEC_STRLEN (MSB_NET_ADDR_STRLEN + 2 + 16)

struct msb_net_portspec {
	struct msb_net_addr host_ip; /* 127.0.0.1 unless given */
	uint16_t host_port;          /* 1..65535 */
	uint16_t guest_port;         /* 1..65535 */
	enum msb_net_proto proto;    /* MSB_NET_PROTO_TCP or _UDP */
};

/*
 * msb_net_portspec_parse() - the spec @s (NUL-terminated) into @out. On
 * failure a one-line reason is written to @err (@errlen bytes; @err may
 * be NULL), without the spec itself: callers prefix it ("-p `%s`: %s").
 * Return: 0, or -1 (*@out is then zeroed).
 */
int msb_net_portspec_parse(struct msb_net_portspec *out, const char *s,
			   char *err, size_t errlen);

/* msb_net_portspec_parse_n() - the same for the @n bytes at @s. */
int msb_net_portspec_parse_n(struct msb_net_portspec *out, const char *s,
			     size_t n, char *err, size_t errlen);

/*
 * msb_net_portspec_format() - @p in its canonical form, which parses back
 * to @p: "127.0.0.1:8080:80/tcp", "[::1]:5353:53/udp". @cap should be at
 * least MSB_NET_PORTSPEC_STRLEN; shorter output is cut.
 * Return: @out.
 */
char *msb_net_portspec_format(char *out, size_t cap,
			      const struct msb_net_portspec *p);

/*
 * msb_net_portspec_host_format() - the host side alone:
 * "127.0.0.1:8080/tcp", "[::1]:5353/udp" (for messages about binding).
 * Return: @out.
 */
char *msb_net_portspec_host_format(char *out, size_t cap,
				   const struct msb_net_portspec *p);

/*
 * msb_net_portspec_conflict() - @a and @b cannot both be bound: the same
 * protocol and host port, and host addresses that are equal or of which
 * one is the unspecified address (0.0.0.0, ::) of the other's family.
 * (An IPv6 host address is bound IPv6-only, so [::] does not take IPv4.)
 */
bool msb_net_portspec_conflict(const struct msb_net_portspec *a,
			       const struct msb_net_portspec *b);

#endif
