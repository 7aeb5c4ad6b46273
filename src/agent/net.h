/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest's network setup: loopback at every boot; eth0, its route and
 * the name files when the hello carries a network ("net", proto.h).
 */
#ifndef MSB_AGENT_NET_H
#define MSB_AGENT_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/proto.h"

/* The module list to load before the network device can be found. */
#define AGENT_NET_MODULES "/modules.net"

/* The guest's network identity, from the hello's "net" entries. */
struct agent_net {
	bool on;         /* a network device is there to configure */
	uint8_t ip[4];   /* the guest's address */
	unsigned prefix; /* of its subnet, 1..30 */
	uint8_t gw[4];   /* the gateway: default route and DNS server */
	uint8_t mac[6];  /* of the guest's device */
	bool has_mac;
};

/*
 * agent_net_parse() - read the "net" entries of a hello: "ip=A.B.C.D/LEN"
 * and "gw=A.B.C.D" (both required), "mac=XX:XX:XX:XX:XX:XX" (optional).
 * Pure and bounded. Return: 0, or -1 with a reason in @why.
 */
int agent_net_parse(struct agent_net *n, const struct msb_strv *v, char *why,
		    size_t whylen);

/* Parse "XX:XX:XX:XX:XX:XX" (@n bytes, any case). Return: 0, or -1. */
int agent_net_parse_mac(uint8_t out[6], const char *s, size_t n);

/* agent_net_lo() - bring `lo` up (the kernel gives it 127.0.0.1 and ::1).
 * Failures are logged. */
void agent_net_lo(void);

/*
 * agent_net_up() - configure the network device (its driver loaded):
 * address, netmask, up, default route through the gateway.
 * Return: 0, or -1 with a one-line reason in @err.
 */
int agent_net_up(const struct agent_net *n, char *err, size_t errlen);

/*
 * agent_net_files() - write /etc/hosts (localhost, @hostname and, with a
 * network, host.microsandbox.internal → the gateway) and, with a network,
 * /etc/resolv.conf (the gateway as name server), in the root filesystem
 * (after the switch). Failures are logged: the guest runs without them.
 */
void agent_net_files(const struct agent_net *n, const char *hostname);

/* agent_net_hosts() - only the /etc/hosts of agent_net_files(): a new
 * @hostname after a restore (resolv.conf does not change). */
void agent_net_hosts(const struct agent_net *n, const char *hostname);

#endif
