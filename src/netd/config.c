// SPDX-License-Identifier: Apache-2.0
/* msb-netd's configuration file (JSON): addresses, policy, caps, timeouts. */
#include <arpa/inet.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "netd/netd.h"
#include "util/util.h"

void netd_config_defaults(struct netd_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->sandbox, sizeof(c->sandbox), "%s", "-");
	c->prefix = 30;
	c->mtu = 1500;
	c->caps.max_flows = 4096;
	c->caps.max_pending = 256;
	c->caps.flow_buffer = 64 * 1024;
	c->caps.total_buffer = 16 * 1024 * 1024;
	c->caps.link_queue = 1024 * 1024;
	c->caps.sock_buffer = 256 * 1024;
	c->caps.dns_rate = 100;
	c->caps.dns_queries = 256;
	c->to.connect = 20;
	c->to.handshake = 20;
	c->to.tcp_idle = 3600;
	c->to.tcp_half = 300;
	c->to.udp_idle = 60;
	c->to.icmp_idle = 10;
	c->to.dns = 4;
	c->log_max = 4 * 1024 * 1024;
}

/* netd_errf() - @fmt into @err: see netd.h. */
int netd_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int get_mac(json_t *v, uint8_t mac[6])
{
	const char *s = json_string_value(v);
	unsigned b[6];
	char end;
	if (!s || strlen(s) != 17 ||
	    sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
		   &b[4], &b[5], &end) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	/* unicast only */
	return mac[0] & 1 ? -1 : 0;
}

static int get_ip4(json_t *v, uint8_t ip[4])
{
	const char *s = json_string_value(v);
	return s && inet_pton(AF_INET, s, ip) == 1 ? 0 : -1;
}

/* An integer in [lo, hi] into *out. */
static int get_uint(json_t *v, uint64_t lo, uint64_t hi, uint64_t *out)
{
	if (!json_is_integer(v))
		return -1;
	json_int_t i = json_integer_value(v);
	if (i < 0 || (uint64_t)i < lo || (uint64_t)i > hi)
		return -1;
	*out = (uint64_t)i;
	return 0;
}

struct num_field {
	const char *key;
	uint64_t lo, hi;
	size_t off;  /* in struct netd_config */
	size_t size; /* of the field */
};

#define F(key, lo, hi, member)                                                 \
	{                                                                      \
		key, lo, hi, offsetof(struct netd_config, member),             \
			sizeof(((struct netd_config *)0)->member)              \
	}

static const struct num_field caps_fields[] = {
	F("max_flows", 1, 1000000, caps.max_flows),
	F("max_pending", 1, 1000000, caps.max_pending),
	F("flow_buffer", 4096, 65535, caps.flow_buffer),
	F("total_buffer", 65536, 1ull << 34, caps.total_buffer),
	F("link_queue", 16384, 1ull << 30, caps.link_queue),
	F("sock_buffer", 16384, 1ull << 26, caps.sock_buffer),
	F("dns_queries", 1, 4096, caps.dns_queries),
	F("dns_rate", 1, 100000, caps.dns_rate),
};

static const struct num_field timeout_fields[] = {
	F("connect", 1, 3600, to.connect),
	F("handshake", 1, 3600, to.handshake),
	F("tcp_idle", 1, 7 * 86400, to.tcp_idle),
	F("tcp_half", 1, 7 * 86400, to.tcp_half),
	F("udp_idle", 1, 86400, to.udp_idle),
	F("icmp_idle", 1, 86400, to.icmp_idle),
	F("dns", 1, 60, to.dns),
};

static int get_fields(struct netd_config *c, json_t *obj, const char *what,
		      const struct num_field *fields, size_t n, char *err,
		      size_t errlen)
{
	const char *key;
	json_t *v;
	if (!json_is_object(obj))
		return netd_errf(err, errlen, "%s: not an object", what);
	json_object_foreach(obj, key, v)
	{
		size_t i;
		for (i = 0; i < n; i++)
			if (!strcmp(key, fields[i].key))
				break;
		if (i == n)
			return netd_errf(err, errlen, "%s: unknown key \"%s\"",
					 what, key);
		uint64_t x;
		if (get_uint(v, fields[i].lo, fields[i].hi, &x) < 0)
			return netd_errf(
				err, errlen,
				"%s.%s: not an integer in [%llu, %llu]", what,
				key, (unsigned long long)fields[i].lo,
				(unsigned long long)fields[i].hi);
		uint8_t *p = (uint8_t *)c + fields[i].off;
		if (fields[i].size == sizeof(unsigned)) {
			unsigned u = (unsigned)x;
			memcpy(p, &u, sizeof(u));
		} else {
			size_t z = (size_t)x;
			memcpy(p, &z, sizeof(z));
		}
	}
	return 0;
}

/* "policy": the canonical lines of src/net/policy.h ("preset public",
 * "allow RULE", "deny RULE", "block-domain NAME", ...), in order. */
static int get_policy(struct netd_config *c, json_t *arr, char *err,
		      size_t errlen)
{
	size_t i;
	json_t *v;
	if (!json_is_array(arr))
		return netd_errf(err, errlen, "policy: not an array of lines");
	json_array_foreach(arr, i, v)
	{
		char why[400];
		const char *line = json_string_value(v);
		if (!line)
			return netd_errf(err, errlen,
					 "policy[%zu]: not a string", i);
		if (msb_net_policy_add_line(c->policy, line, why, sizeof(why)) <
		    0)
			return netd_errf(err, errlen, "policy[%zu]: %s", i,
					 why);
	}
	return 0;
}

/* One entry of "ports": {"host_ip", "host_port", "guest_port", "proto"}
 * (host_ip and proto optional: 127.0.0.1, tcp), or the `-p` text. */
static int get_port(struct msb_net_portspec *p, json_t *v, size_t i, char *err,
		    size_t errlen)
{
	const char *key;
	json_t *f;
	char why[200];
	bool have_host = false, have_guest = false;
	uint64_t x;

	if (json_is_string(v)) {
		if (msb_net_portspec_parse_n(p, json_string_value(v),
					     json_string_length(v), why,
					     sizeof(why)) < 0)
			return netd_errf(err, errlen, "ports[%zu]: %s", i, why);
		return 0;
	}
	if (!json_is_object(v))
		return netd_errf(err, errlen,
				 "ports[%zu]: not an object or a string", i);
	/* the defaults of the -p syntax */
	if (msb_net_portspec_parse(p, "1:1", NULL, 0) < 0)
		return netd_errf(err, errlen, "ports[%zu]: internal error", i);
	json_object_foreach(v, key, f)
	{
		if (!strcmp(key, "host_ip")) {
			const char *s = json_string_value(f);
			if (!s || msb_net_addr_parse(&p->host_ip, s) < 0)
				return netd_errf(
					err, errlen,
					"ports[%zu].host_ip: not an IPv4 or IPv6 address",
					i);
		} else if (!strcmp(key, "host_port") ||
			   !strcmp(key, "guest_port")) {
			if (get_uint(f, 1, 65535, &x) < 0)
				return netd_errf(
					err, errlen,
					"ports[%zu].%s: not an integer in [1, 65535]",
					i, key);
			if (key[0] == 'h') {
				p->host_port = (uint16_t)x;
				have_host = true;
			} else {
				p->guest_port = (uint16_t)x;
				have_guest = true;
			}
		} else if (!strcmp(key, "proto")) {
			const char *s = json_string_value(f);
			if (s && !strcmp(s, "tcp"))
				p->proto = MSB_NET_PROTO_TCP;
			else if (s && !strcmp(s, "udp"))
				p->proto = MSB_NET_PROTO_UDP;
			else
				return netd_errf(
					err, errlen,
					"ports[%zu].proto: not \"tcp\" or \"udp\"",
					i);
		} else {
			return netd_errf(err, errlen,
					 "ports[%zu]: unknown key \"%s\"", i,
					 key);
		}
	}
	if (!have_host || !have_guest)
		return netd_errf(err, errlen, "ports[%zu]: %s is missing", i,
				 have_host ? "guest_port" : "host_port");
	return 0;
}

/* "ports": the published ports, no two of which conflict. */
static int get_ports(struct netd_config *c, json_t *arr, char *err,
		     size_t errlen)
{
	size_t i;
	json_t *v;
	char spec[MSB_NET_PORTSPEC_STRLEN];

	if (!json_is_array(arr))
		return netd_errf(err, errlen, "ports: not an array");
	if (json_array_size(arr) > NETD_MAX_PORTS)
		return netd_errf(err, errlen, "ports: more than %d",
				 NETD_MAX_PORTS);
	json_array_foreach(arr, i, v)
	{
		struct msb_net_portspec *p = &c->ports[i];
		if (get_port(p, v, i, err, errlen) < 0)
			return -1;
		for (size_t j = 0; j < i; j++)
			if (msb_net_portspec_conflict(&c->ports[j], p))
				return netd_errf(
					err, errlen,
					"ports[%zu]: %s is published twice (ports[%zu])",
					i,
					msb_net_portspec_host_format(
						spec, sizeof(spec), p),
					j);
		c->n_ports = (unsigned)i + 1;
	}
	return 0;
}

/* "IP" or "IP:PORT" (IPv4) into @sa. */
static int parse_resolver(const char *s, struct sockaddr_in *sa)
{
	char host[INET_ADDRSTRLEN];
	const char *colon = strchr(s, ':');
	size_t n = colon ? (size_t)(colon - s) : strlen(s);
	uint64_t port = NETD_DNS_PORT;
	if (n >= sizeof(host))
		return -1;
	memcpy(host, s, n);
	host[n] = 0;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return -1;
	if (colon && (msb_parse_dec(colon + 1, strlen(colon + 1), &port) < 0 ||
		      port < 1 || port > 65535))
		return -1;
	sa->sin_port = htons((uint16_t)port);
	return 0;
}

/* "resolvers": ["IP", "IP:PORT", ...], at least one. */
static int get_resolvers(struct netd_config *c, json_t *arr, char *err,
			 size_t errlen)
{
	size_t i;
	json_t *v;
	if (!json_is_array(arr) || !json_array_size(arr))
		return netd_errf(err, errlen,
				 "resolvers: not a list of IPv4 addresses");
	if (json_array_size(arr) > NETD_RESOLVERS_MAX)
		return netd_errf(err, errlen, "resolvers: more than %d",
				 NETD_RESOLVERS_MAX);
	json_array_foreach(arr, i, v)
	{
		const char *s = json_string_value(v);
		if (!s || parse_resolver(s, &c->resolvers[i]) < 0)
			return netd_errf(
				err, errlen,
				"resolvers[%zu]: not IP or IP:PORT (IPv4)", i);
	}
	c->nresolvers = (unsigned)json_array_size(arr);
	c->resolvers_given = true;
	return 0;
}

/* The host's IPv4 nameservers (glibc reads at most 3; IPv6 ones cannot be
 * reached from netd's IPv4 sockets and are skipped). */
static void host_resolvers(struct netd_config *c)
{
	FILE *f = fopen("/etc/resolv.conf", "re");
	char line[512];
	if (!f)
		return;
	while (c->nresolvers < NETD_RESOLVERS_MAX &&
	       fgets(line, sizeof(line), f)) {
		char addr[64];
		if (sscanf(line, " nameserver %63s", addr) == 1 &&
		    !strchr(addr, ':') &&
		    parse_resolver(addr, &c->resolvers[c->nresolvers]) == 0)
			c->nresolvers++;
	}
	fclose(f);
}

/* Whether @p has a domain or suffix rule or a blocked name. */
static bool has_domain_rules(struct netd_config *c, json_t *policy)
{
	size_t i, n = msb_net_policy_rule_count(c->policy);
	json_t *v;
	for (i = 0; i < n; i++) {
		uint8_t t = msb_net_policy_rule(c->policy, i)->target;
		if (t == MSB_NET_TARGET_DOMAIN || t == MSB_NET_TARGET_SUFFIX)
			return true;
	}
	json_array_foreach(policy, i, v)
	{
		const char *line = json_string_value(v);
		if (line && !strncasecmp(line, "block-domain", 12))
			return true;
	}
	return false;
}

static bool same_subnet(const uint8_t *a, const uint8_t *b, unsigned prefix)
{
	uint32_t x = (uint32_t)a[0] << 24 | a[1] << 16 | a[2] << 8 | a[3];
	uint32_t y = (uint32_t)b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3];
	uint32_t m = prefix ? ~0u << (32 - prefix) : 0;
	return (x & m) == (y & m);
}

/* A bypass name: "host" or "*.suffix", DNS characters, lowercased. */
static int get_bypass_name(char *out, size_t cap, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	const char *h = s;
	if (!n || n >= cap)
		return -1;
	if (n > 2 && s[0] == '*' && s[1] == '.')
		h = s + 2;
	for (const char *p = h; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ||
		      *p == '.'))
			return -1;
	if (*h == '.' || strstr(h, ".."))
		return -1;
	for (size_t i = 0; i <= n; i++)
		out[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
	return 0;
}

/* "tls": {"intercept": bool, "ports": [..], "bypass": [..]} */
static int get_tls(struct netd_config *c, json_t *obj, char *err, size_t errlen)
{
	const char *key;
	json_t *v;
	struct netd_tls_config *t = &c->tls;
	if (!json_is_object(obj))
		return netd_errf(err, errlen, "tls: not an object");
	t->on = true;
	t->intercept = true;
	t->ports[0] = 443;
	t->n_ports = 1;
	json_object_foreach(obj, key, v)
	{
		size_t i;
		json_t *e;
		if (!strcmp(key, "intercept")) {
			if (!json_is_boolean(v))
				return netd_errf(
					err, errlen,
					"tls.intercept: not true or false");
			t->intercept = json_is_true(v);
		} else if (!strcmp(key, "ports")) {
			if (!json_is_array(v) || !json_array_size(v) ||
			    json_array_size(v) > NETD_TLS_PORTS)
				return netd_errf(
					err, errlen,
					"tls.ports: not an array of 1 to "
					"%d ports",
					NETD_TLS_PORTS);
			t->n_ports = 0;
			json_array_foreach(v, i, e)
			{
				uint64_t x;
				if (get_uint(e, 1, 65535, &x) < 0)
					return netd_errf(
						err, errlen,
						"tls.ports[%zu]: not an "
						"integer in [1, 65535]",
						i);
				t->ports[t->n_ports++] = (uint16_t)x;
			}
		} else if (!strcmp(key, "bypass")) {
			if (!json_is_array(v) ||
			    json_array_size(v) > NETD_TLS_BYPASS)
				return netd_errf(
					err, errlen,
					"tls.bypass: not an array of at "
					"most %d names",
					NETD_TLS_BYPASS);
			t->n_bypass = 0;
			json_array_foreach(v, i, e)
			{
				if (get_bypass_name(t->bypass[t->n_bypass],
						    sizeof(t->bypass[0]),
						    json_string_value(e)) < 0)
					return netd_errf(
						err, errlen,
						"tls.bypass[%zu]: not a "
						"name or *.suffix",
						i);
				t->n_bypass++;
			}
		} else {
			return netd_errf(err, errlen, "tls: unknown key \"%s\"",
					 key);
		}
	}
	return 0;
}

int netd_config_load(struct netd_config *c, const char *path, char *err,
		     size_t errlen)
{
	json_error_t je;
	netd_config_defaults(c);
	c->policy = msb_net_policy_new();
	if (!c->policy)
		return netd_errf(err, errlen, "config: out of memory");
	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return netd_errf(err, errlen, "config `%s`: %s (line %d)", path,
				 je.text, je.line);
	int rc = -1;
	bool have[4] = {false};
	const char *key;
	json_t *v;
	if (!json_is_object(root)) {
		netd_errf(err, errlen, "config `%s`: not a JSON object", path);
		goto out;
	}
	json_object_foreach(root, key, v)
	{
		uint64_t x;
		if (!strcmp(key, "sandbox")) {
			const char *s = json_string_value(v);
			if (!s || !*s || strlen(s) >= sizeof(c->sandbox)) {
				netd_errf(err, errlen, "sandbox: not a name");
				goto out;
			}
			snprintf(c->sandbox, sizeof(c->sandbox), "%s", s);
		} else if (!strcmp(key, "guest_mac")) {
			if (get_mac(v, c->guest_mac) < 0) {
				netd_errf(
					err, errlen,
					"guest_mac: not a unicast MAC address");
				goto out;
			}
			have[0] = true;
		} else if (!strcmp(key, "gateway_mac")) {
			if (get_mac(v, c->gw_mac) < 0) {
				netd_errf(
					err, errlen,
					"gateway_mac: not a unicast MAC address");
				goto out;
			}
			have[1] = true;
		} else if (!strcmp(key, "guest_ip")) {
			if (get_ip4(v, c->guest_ip) < 0) {
				netd_errf(err, errlen,
					  "guest_ip: not an IPv4 address");
				goto out;
			}
			have[2] = true;
		} else if (!strcmp(key, "gateway_ip")) {
			if (get_ip4(v, c->gw_ip) < 0) {
				netd_errf(err, errlen,
					  "gateway_ip: not an IPv4 address");
				goto out;
			}
			have[3] = true;
		} else if (!strcmp(key, "prefix")) {
			if (get_uint(v, 8, 30, &x) < 0) {
				netd_errf(err, errlen,
					  "prefix: not in [8, 30]");
				goto out;
			}
			c->prefix = (unsigned)x;
		} else if (!strcmp(key, "mtu")) {
			if (get_uint(v, 576, 9000, &x) < 0) {
				netd_errf(err, errlen,
					  "mtu: not in [576, 9000]");
				goto out;
			}
			c->mtu = (unsigned)x;
		} else if (!strcmp(key, "log_max")) {
			if (get_uint(v, 4096, 1ull << 32, &x) < 0) {
				netd_errf(err, errlen,
					  "log_max: not in [4096, 2^32]");
				goto out;
			}
			c->log_max = x;
		} else if (!strcmp(key, "policy")) {
			if (get_policy(c, v, err, errlen) < 0)
				goto out;
		} else if (!strcmp(key, "ports")) {
			if (get_ports(c, v, err, errlen) < 0)
				goto out;
		} else if (!strcmp(key, "tls")) {
			if (get_tls(c, v, err, errlen) < 0)
				goto out;
		} else if (!strcmp(key, "resolvers")) {
			if (get_resolvers(c, v, err, errlen) < 0)
				goto out;
		} else if (!strcmp(key, "caps")) {
			if (get_fields(c, v, "caps", caps_fields,
				       sizeof(caps_fields) /
					       sizeof(caps_fields[0]),
				       err, errlen) < 0)
				goto out;
		} else if (!strcmp(key, "timeouts")) {
			if (get_fields(c, v, "timeouts", timeout_fields,
				       sizeof(timeout_fields) /
					       sizeof(timeout_fields[0]),
				       err, errlen) < 0)
				goto out;
		} else {
			netd_errf(err, errlen, "config: unknown key \"%s\"",
				  key);
			goto out;
		}
	}
	static const char *const need[] = {"guest_mac", "gateway_mac",
					   "guest_ip", "gateway_ip"};
	for (int i = 0; i < 4; i++)
		if (!have[i]) {
			netd_errf(err, errlen, "config: %s is missing",
				  need[i]);
			goto out;
		}
	if (!memcmp(c->guest_ip, c->gw_ip, 4) ||
	    !same_subnet(c->guest_ip, c->gw_ip, c->prefix)) {
		netd_errf(
			err, errlen,
			"guest_ip and gateway_ip: not two addresses of one /%u",
			c->prefix);
		goto out;
	}
	if (!memcmp(c->guest_mac, c->gw_mac, 6)) {
		netd_errf(err, errlen, "guest_mac and gateway_mac: the same");
		goto out;
	}
	json_t *pol = json_object_get(root, "policy");
	if (pol)
		c->domain_rules = has_domain_rules(c, pol);
	if (!c->resolvers_given)
		host_resolvers(c);
	if (c->caps.max_pending > c->caps.max_flows)
		c->caps.max_pending = c->caps.max_flows;
	/* the gateway is the host (the `host` group) */
	struct msb_net_addr gw = {.family = 4};
	memcpy(gw.a, c->gw_ip, 4);
	if (msb_net_policy_add_gateway(c->policy, &gw) < 0) {
		netd_errf(err, errlen, "policy: too many gateway addresses");
		goto out;
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}
