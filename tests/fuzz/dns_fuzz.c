// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer harness for src/net/dns.c and src/net/pins.c. The input is one
 * DNS message, read three ways:
 *  - as a guest's query: whatever msb_dns_parse_query() says, the replies
 *    built from it must be well formed: they parse as answers to it;
 *  - as an upstream answer, to the query its own question makes (so that
 *    the question matches and the filter goes deep): the reply must fit
 *    the cap, and filtering the reply again must keep what it kept;
 *  - the TCP framing helpers over the same bytes.
 * The addresses kept go into a small pin set, which must stay bounded.
 * Any broken property aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/dns.h"
#include "net/pins.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(what)                                                             \
	do {                                                                   \
		fprintf(stderr, "dns_fuzz: %s (%s:%d)\n", what, __FILE__,      \
			__LINE__);                                             \
		abort();                                                       \
	} while (0)

static uint8_t out[MSB_DNS_MSG_MAX], again[MSB_DNS_MSG_MAX];

/* Rejects addresses by their last octet's low bit: some kept, some not. */
static bool keep_odd(const struct msb_net_addr *a, void *ud)
{
	(*(unsigned *)ud)++;
	if (a->family != 4 && a->family != 6)
		FAIL("keep() got a bad family");
	return a->a[a->family == 4 ? 3 : 15] & 1;
}

static bool keep_all(const struct msb_net_addr *a, void *ud)
{
	(void)a;
	(void)ud;
	return true;
}

static void check_reply(const struct msb_dns_query *q, const uint8_t *r, int n,
			size_t cap)
{
	struct msb_dns_answer res;
	struct msb_dns_filter f = {.keep = keep_all};

	if (n == MSB_DNS_ESPACE)
		return;
	if (n < MSB_DNS_HEADER_LEN || (size_t)n > cap)
		FAIL("reply length");
	if (((r[0] << 8) | r[1]) != q->id || !(r[2] & 0x80))
		FAIL("reply header");
	if (!q->has_question)
		return;
	int m = msb_dns_filter_answer(again, sizeof(again), &res, &f, q, q->id,
				      r, (size_t)n);
	if (m < 0)
		FAIL("a reply we built is not an answer to its query");
}

static void as_query(const uint8_t *data, size_t size)
{
	struct msb_dns_query q;
	static const struct msb_net_addr gw[2] = {
		{.family = 4, .a = {10, 0, 2, 2}},
		{.family = 6, .a = {0xfd, 0, [15] = 2}}};
	int rc = msb_dns_parse_query(&q, data, size);
	int n;

	if (rc == MSB_DNS_DROP)
		return;
	if (rc > 0 && rc != MSB_DNS_RCODE_FORMERR &&
	    rc != MSB_DNS_RCODE_NOTIMP && rc != MSB_DNS_RCODE_REFUSED &&
	    rc != MSB_DNS_RCODE_BADVERS)
		FAIL("parse_query result");
	n = msb_dns_build_reply(out, sizeof(out), &q, (unsigned)rc);
	check_reply(&q, out, n, sizeof(out));
	if (rc != 0)
		return;
	if (strlen(q.name) > 253 || q.qwire_len > MSB_DNS_NAME_MAX)
		FAIL("name length");
	for (const char *c = q.name; *c; c++)
		if (*c <= ' ' || *c >= 0x7f || (*c >= 'A' && *c <= 'Z') ||
		    *c == '\\')
			FAIL("name text");
	n = msb_dns_build_addr_reply(out, sizeof(out), &q, gw, 2, 60);
	check_reply(&q, out, n, sizeof(out));
	n = msb_dns_build_addr_reply(out, 40, &q, gw, 2, 60);
	check_reply(&q, out, n, 40);
	n = msb_dns_build_query(out, sizeof(out), &q, 0x1234, 1232);
	if (n < 0)
		FAIL("build_query");
	struct msb_dns_query q2;
	if (msb_dns_parse_query(&q2, out, (size_t)n) != 0 ||
	    strcmp(q2.name, q.name) || q2.qtype != q.qtype || !q2.edns)
		FAIL("the upstream query does not parse back");
}

static void as_answer(const uint8_t *data, size_t size, struct msb_pins *pins)
{
	struct msb_dns_query q;
	struct msb_dns_answer res, res2;
	unsigned calls = 0;
	struct msb_dns_filter f = {
		.keep = keep_odd, .userdata = &calls, .ttl_max = 3600};
	uint8_t *query;
	size_t cap;

	if (size < MSB_DNS_HEADER_LEN)
		return;
	/* the query: the answer's header as a query, question only (the
	 * rest is ignored as bytes past the last record) */
	query = malloc(size);
	if (!query)
		return;
	memcpy(query, data, size);
	query[2] &= 0x7f;
	query[2] &= (uint8_t)~0x78;
	memset(query + 6, 0, 6);
	int rc = msb_dns_parse_query(&q, query, size);
	free(query);
	if (rc != 0)
		return;
	q.edns = data[3] & 0x40; /* Z bit: as if the guest had EDNS */
	q.edns_size = 1232;
	cap = (data[3] & 0x20) ? 512 : sizeof(out); /* AD bit: UDP cap */

	int n = msb_dns_filter_answer(out, cap, &res, &f, &q,
				      (uint16_t)(data[0] << 8 | data[1]), data,
				      size);
	if (n < 0)
		return;
	if ((size_t)n > cap)
		FAIL("reply past its cap");
	if (res.naddrs > MSB_DNS_ADDRS_MAX || res.nnames > MSB_DNS_CHAIN_MAX)
		FAIL("answer bounds");
	if (res.truncated && (res.naddrs || !(out[2] & 0x02)))
		FAIL("truncated reply");
	for (unsigned i = 0; i < res.naddrs; i++) {
		if (!(res.addrs[i]
			      .addr.a[res.addrs[i].addr.family == 4 ? 3 : 15] &
		      1))
			FAIL("a rejected address was kept");
		if (res.addrs[i].depth >= res.nnames)
			FAIL("pin depth");
		if (res.addrs[i].ttl > 3600)
			FAIL("ttl_max");
	}
	if (!res.truncated && res.nnames && strcmp(res.names[0], q.name))
		FAIL("chain starts elsewhere than the question");

	/* the reply is an answer to the guest's query, keeping the same */
	memcpy(again, out, (size_t)n);
	f.keep = keep_all;
	int m = msb_dns_filter_answer(out, sizeof(out), &res2, &f, &q, q.id,
				      again, (size_t)n);
	if (m < 0)
		FAIL("our reply does not filter again");
	if (!res.truncated && res.nnames && /* not a stub */
	    (m != n || res2.naddrs != res.naddrs || res2.dropped != 0 ||
	     res2.nnames != res.nnames))
		FAIL("filtering our reply again changed it");

	msb_pins_add_answer(pins, &res, 0);
	for (unsigned i = 0; i < res.naddrs; i++) {
		const char *names[8];
		size_t k =
			msb_pins_names(names, 8, pins, &res.addrs[i].addr, 1);
		if (k > 8)
			FAIL("pins_names");
		for (size_t j = 0; j < k; j++)
			if (strlen(names[j]) > 253)
				FAIL("pin name");
	}
	if (msb_pins_count(pins) > 32)
		FAIL("pin set past its cap");
}

static void as_tcp(const uint8_t *data, size_t size)
{
	size_t off = 0, len;

	/* a stream of length-prefixed messages, as netd reads them */
	for (int i = 0; i < 64; i++) {
		int r = msb_dns_tcp_next(&len, data + off, size - off);
		if (r <= 0)
			break;
		if (len + 2 > size - off)
			FAIL("tcp_next past the data");
		off += len + 2;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct msb_pins *pins;

	if (!pins)
		pins = msb_pins_new(32, 4, 99);
	if (!pins)
		return 0;
	as_query(data, size);
	as_answer(data, size, pins);
	as_tcp(data, size);
	return 0;
}
