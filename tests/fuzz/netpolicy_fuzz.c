// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer harness for the egress policy (src/net/policy.c, addr.c).
 * The input is text, one item a line:
 *   - every line is given to msb_net_policy_add_line() (so "allow RULE",
 *     "deny RULE", "preset P", "block-domain N", ... build a policy), to
 *     msb_net_rule_parse() as a bare RULE, and to the address and prefix
 *     parsers;
 *   - what parses must format to text that parses back to the same thing;
 *   - the policy's canonical lines must rebuild the same policy;
 *   - every address that parsed, and the bytes of each line read as an
 *     address, are checked against the policy with every protocol, with
 *     the lines as pinned names, and the lines are given to
 *     msb_net_policy_may_resolve() and _name_blocked().
 * Any mismatch aborts; nothing may crash or read out of bounds.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/addr.h"
#include "net/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(what)                                                             \
	do {                                                                   \
		fprintf(stderr, "netpolicy_fuzz: %s (%s:%d)\n", what,          \
			__FILE__, __LINE__);                                   \
		abort();                                                       \
	} while (0)

#define MAX_LINES 64
#define MAX_ADDRS 64

static void strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static void check_rule(const char *line)
{
	struct msb_net_rule r, r2;
	char text[MSB_NET_LINE_MAX], text2[MSB_NET_LINE_MAX], err[512];

	for (int ad = 0; ad < 2; ad++) {
		if (msb_net_rule_parse(&r, line, ad, err, sizeof(err))) {
			if (!err[0] || strchr(err, '\n'))
				FAIL("rule error is not one line");
			continue;
		}
		if (!ad)
			r.allow = line[0] & 1;
		msb_net_rule_format(text, sizeof(text), &r);
		if (msb_net_rule_parse(&r2, text, true, err, sizeof(err)))
			FAIL("canonical rule does not parse");
		if (memcmp(&r, &r2, sizeof(r)))
			FAIL("canonical rule parses to another rule");
		msb_net_rule_format(text2, sizeof(text2), &r2);
		if (strcmp(text, text2))
			FAIL("canonical rule is not stable");
	}
}

static void check_addr_text(const char *line, struct msb_net_addr *addrs,
			    size_t *naddrs)
{
	struct msb_net_addr a, b;
	struct msb_net_cidr c, c2;
	char text[MSB_NET_CIDR_STRLEN], err[256];

	if (!msb_net_addr_parse(&a, line)) {
		msb_net_addr_format(text, sizeof(text), &a);
		if (msb_net_addr_parse(&b, text) || !msb_net_addr_equal(&a, &b))
			FAIL("address does not format back");
		if (*naddrs < MAX_ADDRS)
			addrs[(*naddrs)++] = a;
	}
	if (!msb_net_cidr_parse(&c, line, err, sizeof(err))) {
		for (int br = 0; br < 2; br++) {
			msb_net_cidr_format(text, sizeof(text), &c, br);
			if (msb_net_cidr_parse(&c2, text, err, sizeof(err)) ||
			    memcmp(&c, &c2, sizeof(c)))
				FAIL("prefix does not format back");
		}
		if (!msb_net_cidr_contains(&c, &c.addr))
			FAIL("a prefix does not contain its own address");
	}
}

static void check_policy_roundtrip(const struct msb_net_policy *p)
{
	char err[512];
	char **lines = msb_net_policy_lines(p);

	if (!lines)
		return; /* out of memory */
	size_t n = 0;
	while (lines[n])
		n++;
	struct msb_net_policy *q = msb_net_policy_from_lines(
		(const char *const *)lines, n, err, sizeof(err));
	if (!q)
		FAIL("canonical lines do not parse");
	char **again = msb_net_policy_lines(q);
	if (again) {
		for (size_t i = 0; i <= n; i++)
			if ((lines[i] == NULL) != (again[i] == NULL) ||
			    (lines[i] && strcmp(lines[i], again[i])))
				FAIL("canonical lines are not stable");
	}
	if (msb_net_policy_rule_count(q) != msb_net_policy_rule_count(p))
		FAIL("rule count differs");
	for (size_t i = 0; i < msb_net_policy_rule_count(p); i++)
		if (memcmp(msb_net_policy_rule(p, i), msb_net_policy_rule(q, i),
			   sizeof(struct msb_net_rule)))
			FAIL("a rule differs after the round trip");
	strv_free(again);
	strv_free(lines);
	msb_net_policy_free(q);
}

static void check_addrs(const struct msb_net_policy *p,
			const struct msb_net_addr *addrs, size_t naddrs,
			const char *const *names, size_t nnames)
{
	static const enum msb_net_proto protos[] = {
		MSB_NET_PROTO_TCP, MSB_NET_PROTO_UDP, MSB_NET_PROTO_ICMP,
		MSB_NET_PROTO_ANY};
	char line[1024];

	for (size_t i = 0; i < naddrs; i++) {
		bool any = false;
		for (size_t k = 0; k < sizeof(protos) / sizeof(protos[0]);
		     k++) {
			struct msb_net_verdict v;
			uint16_t port = (uint16_t)(addrs[i].a[15] << 8 |
						   addrs[i].a[14]);
			bool allow = msb_net_policy_check(&v, p, &addrs[i],
							  protos[k], port,
							  names, nnames);
			if (allow != v.allow || !v.reason)
				FAIL("verdict mismatch");
			if (v.rule >= (int)msb_net_policy_rule_count(p) ||
			    (v.by == MSB_NET_BY_RULE) != (v.rule >= 0))
				FAIL("verdict rule out of range");
			msb_net_verdict_format(line, sizeof(line), &v, p);
			if (strchr(line, '\n'))
				FAIL("verdict is not one line");
			any = any || allow;
		}
		/* may_connect is never stricter than check */
		if (any &&
		    !msb_net_policy_may_connect(p, &addrs[i], names, nnames))
			FAIL("check allows what may_connect refuses");
		msb_net_addr_special(&addrs[i]);
		for (int g = 0; g <= MSB_NET_GROUP_HOST; g++)
			msb_net_addr_in_group(&addrs[i], (enum msb_net_group)g);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	char *lines[MAX_LINES];
	size_t nlines = 0;
	struct msb_net_addr addrs[MAX_ADDRS];
	size_t naddrs = 0;
	char err[512];

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	struct msb_net_policy *p = msb_net_policy_new();
	if (!p) {
		free(text);
		return 0;
	}
	for (char *s = text, *e; s && nlines < MAX_LINES; s = e) {
		e = strchr(s, '\n');
		if (e)
			*e++ = '\0';
		lines[nlines++] = s;
	}
	for (size_t i = 0; i < nlines; i++) {
		err[0] = '\0';
		if (msb_net_policy_add_line(p, lines[i], err, sizeof(err)) &&
		    (!err[0] || strchr(err, '\n')))
			FAIL("policy line error is not one line");
		check_rule(lines[i]);
		check_addr_text(lines[i], addrs, &naddrs);
		/* the raw bytes as an address too */
		size_t len = strlen(lines[i]);
		if (len >= 17 && naddrs < MAX_ADDRS) {
			struct msb_net_addr *a = &addrs[naddrs++];
			a->family = lines[i][0] & 1 ? 4 : 6;
			memcpy(a->a, lines[i] + 1, 16);
		}
		msb_net_policy_may_resolve(p, lines[i]);
		msb_net_policy_name_blocked(p, lines[i]);
	}
	check_policy_roundtrip(p);
	check_addrs(p, addrs, naddrs, (const char *const *)lines, nlines);
	msb_net_policy_free(p);
	free(text);
	return 0;
}
