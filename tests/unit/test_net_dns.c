// SPDX-License-Identifier: Apache-2.0
/* Unit tests for src/net/dns.c: queries, replies, answer filtering, with
 * hand-built (and hostile) messages. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "net/dns.h"

/* A message under construction. */
struct pkt {
	uint8_t b[70000];
	size_t n;
};

static void p8(struct pkt *p, unsigned v)
{
	p->b[p->n++] = (uint8_t)v;
}

static void p16(struct pkt *p, unsigned v)
{
	p8(p, v >> 8 & 0xff);
	p8(p, v & 0xff);
}

static void p32(struct pkt *p, uint32_t v)
{
	p16(p, v >> 16);
	p16(p, v & 0xffff);
}

static void pbytes(struct pkt *p, const void *s, size_t n)
{
	memcpy(p->b + p->n, s, n);
	p->n += n;
}

/* A dotted name, literal labels, then the root ("" is the root). */
static void pname(struct pkt *p, const char *name)
{
	while (*name) {
		const char *dot = strchr(name, '.');
		size_t l = dot ? (size_t)(dot - name) : strlen(name);
		p8(p, (unsigned)l);
		pbytes(p, name, l);
		name += l + (dot ? 1 : 0);
	}
	p8(p, 0);
}

/* Labels of a dotted name, then a pointer to @off. */
static void pname_ptr(struct pkt *p, const char *labels, unsigned off)
{
	while (*labels) {
		const char *dot = strchr(labels, '.');
		size_t l = dot ? (size_t)(dot - labels) : strlen(labels);
		p8(p, (unsigned)l);
		pbytes(p, labels, l);
		labels += l + (dot ? 1 : 0);
	}
	p16(p, 0xc000 | off);
}

static void phdr(struct pkt *p, unsigned id, unsigned flags, unsigned qd,
		 unsigned an, unsigned ns, unsigned ar)
{
	p->n = 0;
	p16(p, id);
	p16(p, flags);
	p16(p, qd);
	p16(p, an);
	p16(p, ns);
	p16(p, ar);
}

static void set16(struct pkt *p, size_t at, unsigned v)
{
	p->b[at] = (uint8_t)(v >> 8);
	p->b[at + 1] = (uint8_t)v;
}

/* Record header after the owner: type, class IN, ttl, rdlength. */
static void prr(struct pkt *p, unsigned type, uint32_t ttl, unsigned rdlen)
{
	p16(p, type);
	p16(p, MSB_DNS_CLASS_IN);
	p32(p, ttl);
	p16(p, rdlen);
}

static void pa(struct pkt *p, uint32_t ttl, uint8_t a, uint8_t b, uint8_t c,
	       uint8_t d)
{
	prr(p, MSB_DNS_TYPE_A, ttl, 4);
	p8(p, a);
	p8(p, b);
	p8(p, c);
	p8(p, d);
}

static void popt(struct pkt *p, unsigned size, uint32_t ttl)
{
	p8(p, 0);
	p16(p, MSB_DNS_TYPE_OPT);
	p16(p, size);
	p32(p, ttl);
	p16(p, 0);
}

/* A query for @name/@type with RD, optionally with EDNS. */
static void query(struct pkt *p, unsigned id, const char *name, unsigned type,
		  bool edns)
{
	phdr(p, id, 0x0100, 1, 0, 0, edns);
	pname(p, name);
	p16(p, type);
	p16(p, MSB_DNS_CLASS_IN);
	if (edns)
		popt(p, 4096, 0);
}

static int parse(struct msb_dns_query *q, const struct pkt *p)
{
	return msb_dns_parse_query(q, p->b, p->n);
}

static unsigned g16(const uint8_t *b, size_t at)
{
	return (unsigned)(b[at] << 8 | b[at + 1]);
}

/*
 * A small independent reader of the replies under test: the name at
 * *@at as text (pointers followed, bounded), *@at moved past it.
 */
static int rname(char *out, const uint8_t *b, size_t len, size_t *at)
{
	size_t pos = *at, o = 0;
	int jumps = 0;
	bool jumped = false;

	for (;;) {
		if (pos >= len)
			return -1;
		if ((b[pos] & 0xc0) == 0xc0) {
			if (!jumped)
				*at = pos + 2;
			jumped = true;
			if (++jumps > 40)
				return -1;
			pos = (size_t)(b[pos] & 0x3f) << 8 | b[pos + 1];
			continue;
		}
		if (b[pos] == 0) {
			if (!jumped)
				*at = pos + 1;
			out[o] = 0;
			return 0;
		}
		if (o + 1 + b[pos] >= 300 || pos + 1 + b[pos] > len)
			return -1;
		if (o)
			out[o++] = '.';
		memcpy(out + o, b + pos + 1, b[pos]);
		o += b[pos];
		pos += 1 + (size_t)b[pos];
	}
}

/* One record of a reply, read by rr_at(). */
struct trr {
	char owner[300];
	unsigned type, class;
	uint32_t ttl;
	unsigned rdlen;
	size_t rd;
};

/* The @idx-th record (answer, authority, additional in order). */
static int rr_at(struct trr *r, const uint8_t *b, size_t len, unsigned idx)
{
	size_t at = MSB_DNS_HEADER_LEN;
	char tmp[300];

	if (g16(b, 4) && (rname(tmp, b, len, &at) < 0 || (at += 4) > len))
		return -1;
	for (unsigned i = 0; i <= idx; i++) {
		if (rname(r->owner, b, len, &at) < 0 || at + 10 > len)
			return -1;
		r->type = g16(b, at);
		r->class = g16(b, at + 2);
		r->ttl = (uint32_t)g16(b, at + 4) << 16 | g16(b, at + 6);
		r->rdlen = g16(b, at + 8);
		r->rd = at + 10;
		at = r->rd + r->rdlen;
		if (at > len)
			return -1;
	}
	return 0;
}

static bool keep_all(const struct msb_net_addr *a, void *ud)
{
	(void)a;
	(void)ud;
	return true;
}

/* Rebinding protection as netd's `public` preset would do it, roughly:
 * no 10/8, no 127/8, no IPv6 ULA. Counts its calls. */
static bool keep_public(const struct msb_net_addr *a, void *ud)
{
	(*(int *)ud)++;
	if (a->family == 4)
		return a->a[0] != 10 && a->a[0] != 127;
	return (a->a[0] & 0xfe) != 0xfc;
}

static uint8_t out[70000];

static void test_parse_plain(void)
{
	struct pkt p;
	struct msb_dns_query q;

	query(&p, 0x1234, "WWW.Example.COM", MSB_DNS_TYPE_A, false);
	CHECK(parse(&q, &p) == 0);
	CHECK(q.id == 0x1234);
	CHECK(q.has_question);
	CHECK_STR(q.name, "www.example.com");
	CHECK(q.qtype == MSB_DNS_TYPE_A && q.qclass == MSB_DNS_CLASS_IN);
	CHECK(q.qwire_len == 17 && !memcmp(q.qwire, "\3WWW", 4));
	CHECK(!q.edns);
	CHECK(msb_dns_udp_limit(&q) == 512);

	/* EDNS: size and DO read, limit clamped */
	phdr(&p, 1, 0x0100, 1, 0, 0, 1);
	pname(&p, "a.b");
	p16(&p, MSB_DNS_TYPE_AAAA);
	p16(&p, 1);
	p8(&p, 0);
	p16(&p, MSB_DNS_TYPE_OPT);
	p16(&p, 4096);
	p32(&p, 0x8000);
	p16(&p, 8); /* one option: COOKIE, 4 octets */
	p16(&p, 10);
	p16(&p, 4);
	p32(&p, 0xdeadbeef);
	CHECK(parse(&q, &p) == 0);
	CHECK(q.edns && q.edns_size == 4096 && q.edns_do);
	CHECK(msb_dns_udp_limit(&q) == MSB_DNS_EDNS_SIZE);
	set16(&p, p.n - 16, 100); /* OPT class: size 100 */
	CHECK(parse(&q, &p) == 0 && msb_dns_udp_limit(&q) == 512);
	set16(&p, p.n - 16, 800);
	CHECK(parse(&q, &p) == 0 && msb_dns_udp_limit(&q) == 800);

	/* the root */
	query(&p, 2, "", MSB_DNS_TYPE_NS, false);
	CHECK(parse(&q, &p) == 0);
	CHECK_STR(q.name, "");

	/* bytes past the last record are ignored */
	query(&p, 3, "example.com", MSB_DNS_TYPE_A, true);
	pbytes(&p, "garbage", 7);
	CHECK(parse(&q, &p) == 0);
}

static void test_parse_rejects(void)
{
	struct pkt p;
	struct msb_dns_query q;
	char big[80];

	/* nothing to reply to */
	query(&p, 1, "a.com", 1, false);
	CHECK(msb_dns_parse_query(&q, p.b, 11) == MSB_DNS_DROP);
	CHECK(msb_dns_parse_query(&q, p.b, 0) == MSB_DNS_DROP);
	set16(&p, 2, 0x8100); /* a response */
	CHECK(parse(&q, &p) == MSB_DNS_DROP);

	/* other opcodes: NOTIMP without a question */
	set16(&p, 2, 0x2100); /* opcode 4, NOTIFY */
	CHECK(parse(&q, &p) == MSB_DNS_RCODE_NOTIMP);
	CHECK(!q.has_question);

	/* question count */
	query(&p, 1, "a.com", 1, false);
	set16(&p, 4, 0);
	CHECK(parse(&q, &p) == MSB_DNS_RCODE_FORMERR);
	set16(&p, 4, 2);
	CHECK(parse(&q, &p) == MSB_DNS_RCODE_FORMERR);

	/* truncated question */
	query(&p, 1, "a.com", 1, false);
	CHECK(msb_dns_parse_query(&q, p.b, p.n - 1) == MSB_DNS_RCODE_FORMERR);
	CHECK(!q.has_question);
	CHECK(msb_dns_parse_query(&q, p.b, 15) == MSB_DNS_RCODE_FORMERR);

	/* labels: 63 is fine, 64 is an extended label type */
	memset(big, 'x', sizeof(big));
	phdr(&p, 1, 0, 1, 0, 0, 0);
	p8(&p, 63);
	pbytes(&p, big, 63);
	p8(&p, 0);
	p16(&p, 1);
	p16(&p, 1);
	CHECK(parse(&q, &p) == 0 && strlen(q.name) == 63);
	p.b[12] = 64;
	p.n++; /* one more x would not help: 64 is refused by its type bits */
	CHECK(parse(&q, &p) == MSB_DNS_RCODE_FORMERR);
	p.b[12] = 0x80;
	CHECK(parse(&q, &p) == MSB_DNS_RCODE_FORMERR);

	/* names: 255 octets fine, 257 not */
	phdr(&p, 1, 0, 1, 0, 0, 0);
	for (int i = 0; i < 3; i++) {
		p8(&p, 63);
		pbytes(&p, big, 63);
	}
	p8(&p, 61);
	pbytes(&p, big, 61);
	p8(&p, 0);
	p16(&p, 1);
	p16(&p, 1);
	CHECK(parse(&q, &p) == 0);
	CHECK(q.qwire_len == 255 && strlen(q.name) == 253);
	phdr(&p, 1, 0, 1, 0, 0, 0);
	for (int i = 0; i < 4; i++) {
		p8(&p, 63);
		pbytes(&p, big, 63);
	}
	p8(&p, 0);
	p16(&p, 1);
	p16(&p, 1);
	CHECK(parse(&q, &p) == MSB_DNS_RCODE_FORMERR);

	/* a pointer in the question can only point into the header */
	phdr(&p, 1, 0, 1, 0, 0, 0);
	pname_ptr(&p, "a", 0);
	p16(&p, 1);
	p16(&p, 1);
	CHECK(parse(&q, &p) == MSB_DNS_RCODE_FORMERR);
	phdr(&p, 1, 0, 1, 0, 0, 0);
	pname_ptr(&p, "", 12); /* to itself */
	p16(&p, 1);
	p16(&p, 1);
	CHECK(parse(&q, &p) == MSB_DNS_RCODE_FORMERR);

	/* records a query must not have, or lying counts */
	query(&p, 1, "a.com", 1, false);
	set16(&p, 6, 1);
	CHECK(parse(&q, &p) == MSB_DNS_RCODE_FORMERR);
	CHECK(q.has_question); /* the FORMERR reply echoes it */
	set16(&p, 6, 0);
	set16(&p, 8, 1);
	CHECK(parse(&q, &p) == MSB_DNS_RCODE_FORMERR);
	set16(&p, 8, 0);
	set16(&p, 10, 1);
	CHECK(parse(&q, &p) == MSB_DNS_RCODE_FORMERR);

	/* two OPT records; OPT not at the root; an option past its end */
	query(&p, 1, "a.com", 1, true);
	set16(&p, 10, 2);
	popt(&p, 512, 0);
	CHECK(parse(&q, &p) == MSB_DNS_RCODE_FORMERR);
	phdr(&p, 1, 0, 1, 0, 0, 1);
	pname(&p, "a.com");
	p16(&p, 1);
	p16(&p, 1);
	pname(&p, "a.com");
	p16(&p, MSB_DNS_TYPE_OPT);
	p16(&p, 512);
	p32(&p, 0);
	p16(&p, 0);
	CHECK(parse(&q, &p) == MSB_DNS_RCODE_FORMERR);
	query(&p, 1, "a.com", 1, true);
	set16(&p, p.n - 2, 4);
	p16(&p, 10);
	p16(&p, 9); /* 9 octets of data, none there */
	CHECK(parse(&q, &p) == MSB_DNS_RCODE_FORMERR);

	/* types and classes */
	query(&p, 1, "a.com", 252, false); /* AXFR */
	CHECK(parse(&q, &p) == MSB_DNS_RCODE_NOTIMP);
	query(&p, 1, "a.com", MSB_DNS_TYPE_OPT, false);
	CHECK(parse(&q, &p) == MSB_DNS_RCODE_FORMERR);
	query(&p, 1, "version.bind", MSB_DNS_TYPE_TXT, false);
	set16(&p, p.n - 2, 3); /* CHAOS */
	CHECK(parse(&q, &p) == MSB_DNS_RCODE_NOTIMP);

	/* EDNS version 1 */
	query(&p, 1, "a.com", 1, true);
	set16(&p, p.n - 6, 0x0001); /* ttl: ext rcode 0, version 1 */
	CHECK(parse(&q, &p) == MSB_DNS_RCODE_BADVERS);
	int n = msb_dns_build_reply(out, sizeof(out), &q,
				    MSB_DNS_RCODE_BADVERS);
	struct trr r;
	CHECK(n > 0 && (g16(out, 2) & 0xf) == 0 && g16(out, 10) == 1);
	CHECK(rr_at(&r, out, (size_t)n, 0) == 0 && r.type == MSB_DNS_TYPE_OPT &&
	      r.ttl >> 24 == 1);

	/* names without a plain text form */
	phdr(&p, 1, 0, 1, 0, 0, 0);
	p8(&p, 7);
	pbytes(&p, "evil.co", 7); /* a dot inside a label */
	p8(&p, 2);
	pbytes(&p, "uk", 2);
	p8(&p, 0);
	p16(&p, 1);
	p16(&p, 1);
	CHECK(parse(&q, &p) == MSB_DNS_RCODE_REFUSED);
	p.b[17] = ' ';
	CHECK(parse(&q, &p) == MSB_DNS_RCODE_REFUSED);
	p.b[17] = '\\';
	CHECK(parse(&q, &p) == MSB_DNS_RCODE_REFUSED);
	p.b[17] = 0xc3;
	CHECK(parse(&q, &p) == MSB_DNS_RCODE_REFUSED);
	p.b[17] = '_';
	CHECK(parse(&q, &p) == 0);
	CHECK_STR(q.name, "evil_co.uk");
}

static void test_build(void)
{
	struct pkt p;
	struct msb_dns_query q;
	struct trr r;
	char name[300];
	size_t at;
	int n;

	query(&p, 0xbeef, "Blocked.Example", MSB_DNS_TYPE_A, false);
	set16(&p, 2, 0x0110); /* RD and CD */
	CHECK(parse(&q, &p) == 0);
	n = msb_dns_build_reply(out, sizeof(out), &q, MSB_DNS_RCODE_NXDOMAIN);
	CHECK(n == (int)p.n);
	CHECK(g16(out, 0) == 0xbeef);
	CHECK(g16(out, 2) == (0x8000 | 0x0100 | 0x0080 | 0x0010 | 3));
	CHECK(g16(out, 4) == 1 && g16(out, 6) == 0 && g16(out, 10) == 0);
	at = 12;
	CHECK(rname(name, out, (size_t)n, &at) == 0);
	CHECK_STR(name, "Blocked.Example"); /* the case as asked */
	CHECK(msb_dns_build_reply(out, 20, &q, 3) == MSB_DNS_ESPACE);

	/* with EDNS: an OPT record back */
	query(&p, 7, "a.com", MSB_DNS_TYPE_A, true);
	CHECK(parse(&q, &p) == 0);
	n = msb_dns_build_reply(out, sizeof(out), &q, MSB_DNS_RCODE_REFUSED);
	CHECK(n > 0 && (g16(out, 2) & 0xf) == 5 && g16(out, 10) == 1);
	CHECK(rr_at(&r, out, (size_t)n, 0) == 0);
	CHECK(r.type == MSB_DNS_TYPE_OPT && r.class == MSB_DNS_EDNS_SIZE);

	/* FORMERR without a question */
	query(&p, 9, "a.com", 1, false);
	set16(&p, 4, 3);
	CHECK(parse(&q, &p) == MSB_DNS_RCODE_FORMERR);
	n = msb_dns_build_reply(out, sizeof(out), &q, MSB_DNS_RCODE_FORMERR);
	CHECK(n == 12 && g16(out, 0) == 9 && g16(out, 4) == 0 &&
	      (g16(out, 2) & 0xf) == 1);

	/* the local name */
	struct msb_net_addr gw[2] = {{.family = 4, .a = {10, 0, 2, 2}},
				     {.family = 6, .a = {0xfd, 0, [15] = 2}}};
	query(&p, 11, "host.microsandbox.internal", MSB_DNS_TYPE_A, false);
	CHECK(parse(&q, &p) == 0);
	CHECK_STR(q.name, MSB_DNS_HOST_NAME);
	n = msb_dns_build_addr_reply(out, sizeof(out), &q, gw, 2, 60);
	CHECK(n > 0 && g16(out, 6) == 1 && (g16(out, 2) & 0xf) == 0);
	CHECK(rr_at(&r, out, (size_t)n, 0) == 0);
	CHECK_STR(r.owner, "host.microsandbox.internal");
	CHECK(r.type == MSB_DNS_TYPE_A && r.ttl == 60 && r.rdlen == 4 &&
	      !memcmp(out + r.rd, "\x0a\0\2\2", 4));
	CHECK(n == (int)p.n + 16); /* owner compressed to the question */
	query(&p, 12, "host.microsandbox.internal", MSB_DNS_TYPE_AAAA, true);
	CHECK(parse(&q, &p) == 0);
	n = msb_dns_build_addr_reply(out, sizeof(out), &q, gw, 1, 60);
	CHECK(n > 0 && g16(out, 6) == 0 && g16(out, 10) == 1); /* NODATA */
	n = msb_dns_build_addr_reply(out, sizeof(out), &q, gw, 2, 60);
	CHECK(n > 0 && g16(out, 6) == 1);
	CHECK(rr_at(&r, out, (size_t)n, 0) == 0 && r.rdlen == 16 &&
	      out[r.rd] == 0xfd);
	query(&p, 13, "host.microsandbox.internal", MSB_DNS_TYPE_ANY, false);
	CHECK(parse(&q, &p) == 0);
	n = msb_dns_build_addr_reply(out, sizeof(out), &q, gw, 2, 60);
	CHECK(n > 0 && g16(out, 6) == 2);
	/* too small for the answer: a truncated stub */
	n = msb_dns_build_addr_reply(out, (size_t)p.n + 10, &q, gw, 2, 60);
	CHECK(n == (int)p.n && (g16(out, 2) & 0x0200) && g16(out, 6) == 0);

	/* the upstream query: rebuilt, lowercase, our EDNS */
	query(&p, 14, "MiXeD.Example.Org", MSB_DNS_TYPE_AAAA, false);
	pbytes(&p, "junk", 4);
	CHECK(parse(&q, &p) == 0);
	n = msb_dns_build_query(out, sizeof(out), &q, 0x4242, 1232);
	CHECK(n == (int)p.n - 4 + 11);
	CHECK(g16(out, 0) == 0x4242 && g16(out, 2) == 0x0100);
	CHECK(g16(out, 4) == 1 && g16(out, 10) == 1);
	at = 12;
	CHECK(rname(name, out, (size_t)n, &at) == 0);
	CHECK_STR(name, "mixed.example.org");
	struct msb_dns_query q2;
	CHECK(msb_dns_parse_query(&q2, out, (size_t)n) == 0);
	CHECK(q2.edns && q2.edns_size == 1232 && !q2.edns_do);
	n = msb_dns_build_query(out, sizeof(out), &q, 1, 0);
	CHECK(n == (int)p.n - 4 && g16(out, 10) == 0);
	CHECK(msb_dns_build_query(out, 12, &q, 1, 0) == MSB_DNS_ESPACE);
}

/* The answer to "www.example.com A" (id @id) starts: header, question. */
static void answer_start(struct pkt *p, unsigned id, unsigned an, unsigned ns,
			 unsigned ar)
{
	phdr(p, id, 0x8180, 1, an, ns, ar);
	pname(p, "www.example.com");
	p16(p, MSB_DNS_TYPE_A);
	p16(p, MSB_DNS_CLASS_IN);
}

static int filter(struct msb_dns_answer *res, const struct msb_dns_filter *f,
		  const struct msb_dns_query *q, uint16_t id,
		  const struct pkt *a)
{
	return msb_dns_filter_answer(out, sizeof(out), res, f, q, id, a->b,
				     a->n);
}

static void guest_query(struct msb_dns_query *q, bool edns)
{
	struct pkt p;

	query(&p, 0x7777, "WWW.example.com", MSB_DNS_TYPE_A, edns);
	CHECK(parse(q, &p) == 0);
}

static void test_filter_simple(void)
{
	struct msb_dns_query q;
	struct msb_dns_answer res;
	struct msb_dns_filter f = {.keep = keep_all};
	struct pkt a;
	struct trr r;
	int n;

	guest_query(&q, false);
	answer_start(&a, 0x5555, 2, 0, 0);
	pname_ptr(&a, "", 12);
	pa(&a, 300, 93, 184, 216, 34);
	pname_ptr(&a, "", 12);
	pa(&a, 300, 93, 184, 216, 35);
	n = filter(&res, &f, &q, 0x5555, &a);
	CHECK(n == (int)a.n);
	CHECK(g16(out, 0) == 0x7777); /* the guest's id */
	CHECK(g16(out, 2) == 0x8180 && g16(out, 6) == 2);
	CHECK(res.rcode == 0 && !res.truncated && res.dropped == 0);
	CHECK(res.nnames == 1);
	CHECK_STR(res.names[0], "www.example.com");
	CHECK(res.naddrs == 2);
	CHECK(res.addrs[0].addr.family == 4 &&
	      !memcmp(res.addrs[0].addr.a, "\x5d\xb8\xd8\x22", 4));
	CHECK(res.addrs[0].ttl == 300 && res.addrs[0].depth == 0);
	CHECK(rr_at(&r, out, (size_t)n, 1) == 0);
	CHECK_STR(r.owner, "WWW.example.com"); /* points to the question */

	/* no keep callback at all: everything kept */
	n = msb_dns_filter_answer(out, sizeof(out), &res, NULL, &q, 0x5555, a.b,
				  a.n);
	CHECK(n == (int)a.n && res.naddrs == 2);

	/* TTL: clamp, and the top bit means 0 */
	f.ttl_max = 100;
	a.b[a.n - 10] = 0x80; /* second record's ttl */
	n = filter(&res, &f, &q, 0x5555, &a);
	CHECK(n > 0 && res.addrs[0].ttl == 100 && res.addrs[1].ttl == 0);
	CHECK(rr_at(&r, out, (size_t)n, 0) == 0 && r.ttl == 100);
	CHECK(rr_at(&r, out, (size_t)n, 1) == 0 && r.ttl == 0);
}

static void test_filter_mismatch(void)
{
	struct msb_dns_query q;
	struct msb_dns_answer res;
	struct msb_dns_filter f = {.keep = keep_all};
	struct pkt a;

	guest_query(&q, false);
	answer_start(&a, 1, 0, 0, 0);
	CHECK(filter(&res, &f, &q, 1, &a) > 0);
	CHECK(filter(&res, &f, &q, 2, &a) == MSB_DNS_EMISMATCH);
	set16(&a, 2, 0x0180); /* not a response */
	CHECK(filter(&res, &f, &q, 1, &a) == MSB_DNS_EMISMATCH);
	set16(&a, 2, 0x8980); /* opcode 1 */
	CHECK(filter(&res, &f, &q, 1, &a) == MSB_DNS_EMISMATCH);
	set16(&a, 2, 0x8180);
	set16(&a, a.n - 4, MSB_DNS_TYPE_AAAA); /* other type */
	CHECK(filter(&res, &f, &q, 1, &a) == MSB_DNS_EMISMATCH);
	set16(&a, a.n - 4, MSB_DNS_TYPE_A);
	a.b[13] = 'x'; /* other name */
	CHECK(filter(&res, &f, &q, 1, &a) == MSB_DNS_EMISMATCH);
	a.b[13] = 'W'; /* same name, other case */
	CHECK(filter(&res, &f, &q, 1, &a) > 0);
	set16(&a, 4, 0);
	CHECK(filter(&res, &f, &q, 1, &a) == MSB_DNS_EMISMATCH);
	CHECK(msb_dns_filter_answer(out, sizeof(out), &res, &f, &q, 1, a.b,
				    11) == MSB_DNS_EMALFORMED);
}

static void test_filter_rebinding(void)
{
	struct msb_dns_query q;
	struct msb_dns_answer res;
	int calls = 0;
	struct msb_dns_filter f = {.keep = keep_public, .userdata = &calls};
	struct pkt a;
	struct trr r;
	int n;

	guest_query(&q, false);
	answer_start(&a, 9, 3, 0, 2);
	pname_ptr(&a, "", 12);
	pa(&a, 60, 10, 0, 0, 1);
	pname_ptr(&a, "", 12);
	pa(&a, 60, 1, 2, 3, 4);
	pname_ptr(&a, "", 12);
	pa(&a, 60, 127, 0, 0, 1);
	/* glue: the first (dropped) holds the name the second points to */
	size_t ns1 = a.n;
	pname_ptr(&a, "ns1", 16); /* ns1.example.com */
	pa(&a, 60, 10, 1, 1, 1);
	pname_ptr(&a, "", (unsigned)ns1);
	prr(&a, MSB_DNS_TYPE_AAAA, 60, 16);
	pbytes(&a, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
	n = filter(&res, &f, &q, 9, &a);
	CHECK(n > 0);
	CHECK(calls == 5);
	CHECK(res.dropped == 3 && res.naddrs == 1);
	CHECK(!memcmp(res.addrs[0].addr.a, "\1\2\3\4", 4));
	CHECK(g16(out, 6) == 1 && g16(out, 8) == 0 && g16(out, 10) == 1);
	CHECK(rr_at(&r, out, (size_t)n, 0) == 0 && r.type == 1 &&
	      !memcmp(out + r.rd, "\1\2\3\4", 4));
	CHECK(rr_at(&r, out, (size_t)n, 1) == 0);
	CHECK_STR(r.owner, "ns1.example.com"); /* still a valid name */
	CHECK(r.type == MSB_DNS_TYPE_AAAA && out[r.rd] == 0x20);

	/* the reply is itself a valid answer */
	struct msb_dns_answer res2;
	f.keep = keep_all;
	uint8_t copy[600];
	memcpy(copy, out, (size_t)n);
	CHECK(msb_dns_filter_answer(out, sizeof(out), &res2, &f, &q, 0x7777,
				    copy, (size_t)n) == n);
	CHECK(res2.naddrs == 1 && res2.dropped == 0);

	/* everything rejected: an empty answer, NOERROR */
	answer_start(&a, 9, 1, 0, 0);
	pname_ptr(&a, "", 12);
	pa(&a, 60, 10, 0, 0, 1);
	f.keep = keep_public;
	n = filter(&res, &f, &q, 9, &a);
	CHECK(n > 0 && g16(out, 6) == 0 && (g16(out, 2) & 0xf) == 0);
	CHECK(res.naddrs == 0 && res.dropped == 1);
}

static void test_filter_chain(void)
{
	struct msb_dns_query q;
	struct msb_dns_answer res;
	struct msb_dns_filter f = {.keep = keep_all};
	struct pkt a;
	struct trr r;
	int n;

	guest_query(&q, false);
	/* out of order: the A records first, the chain after */
	answer_start(&a, 3, 5, 0, 0);
	size_t b_at = a.n;
	pname(&a, "b.cdn.net");
	pa(&a, 600, 5, 6, 7, 8);
	pname(&a, "evil.test"); /* not on the chain */
	pa(&a, 600, 9, 9, 9, 9);
	pname_ptr(&a, "", (unsigned)b_at);
	pa(&a, 600, 5, 6, 7, 9);
	size_t a_at = a.n;
	pname_ptr(&a, "a", b_at + 2); /* a.cdn.net */
	prr(&a, MSB_DNS_TYPE_CNAME, 120, 2);
	p16(&a, 0xc000 | (unsigned)b_at);
	pname_ptr(&a, "", 12);
	prr(&a, MSB_DNS_TYPE_CNAME, 3000, 2);
	p16(&a, 0xc000 | (unsigned)a_at);
	n = filter(&res, &f, &q, 3, &a);
	CHECK(n > 0);
	CHECK(res.nnames == 3);
	CHECK_STR(res.names[0], "www.example.com");
	CHECK_STR(res.names[1], "a.cdn.net");
	CHECK_STR(res.names[2], "b.cdn.net");
	CHECK(res.naddrs == 2 && res.dropped == 1);
	CHECK(res.addrs[0].depth == 2 && res.addrs[1].depth == 2);
	CHECK(res.addrs[0].ttl == 120); /* lowered by a CNAME's TTL */
	CHECK(g16(out, 6) == 4);
	CHECK(rr_at(&r, out, (size_t)n, 2) == 0);
	CHECK_STR(r.owner, "a.cdn.net");
	CHECK(r.type == MSB_DNS_TYPE_CNAME);
	char name[300];
	size_t at = r.rd;
	CHECK(rname(name, out, (size_t)n, &at) == 0);
	CHECK_STR(name, "b.cdn.net");
	CHECK(at == r.rd + r.rdlen);

	/* a loop: www -> x -> www; then an A of www (depth 0) */
	answer_start(&a, 3, 3, 0, 0);
	pname_ptr(&a, "", 12);
	prr(&a, MSB_DNS_TYPE_CNAME, 60, 4);
	pname_ptr(&a, "x", 16);
	size_t x_at = a.n - 4;
	pname_ptr(&a, "", (unsigned)x_at);
	prr(&a, MSB_DNS_TYPE_CNAME, 60, 2);
	p16(&a, 0xc00c);
	pname_ptr(&a, "", 12);
	pa(&a, 60, 8, 8, 8, 8);
	n = filter(&res, &f, &q, 3, &a);
	CHECK(n > 0 && res.nnames == 2 && res.naddrs == 1);
	CHECK_STR(res.names[1], "x.example.com");
	CHECK(res.addrs[0].depth == 0);

	/* a chain longer than MSB_DNS_CHAIN_MAX stops there */
	answer_start(&a, 3, 40, 0, 0);
	char lbl[8];
	size_t prev = 12;
	for (int i = 0; i < 39; i++) {
		pname_ptr(&a, "", (unsigned)prev);
		prr(&a, MSB_DNS_TYPE_CNAME, 60, 6);
		snprintf(lbl, sizeof(lbl), "c%02d", i);
		prev = a.n;
		pname_ptr(&a, lbl, 16);
	}
	pname_ptr(&a, "", (unsigned)prev);
	pa(&a, 60, 8, 8, 4, 4);
	n = filter(&res, &f, &q, 3, &a);
	CHECK(n > 0 && res.nnames == MSB_DNS_CHAIN_MAX);
	CHECK(res.naddrs == 0 && res.dropped == 1);

	/* more A records than MSB_DNS_ADDRS_MAX */
	answer_start(&a, 3, 70, 0, 0);
	for (int i = 0; i < 70; i++) {
		pname_ptr(&a, "", 12);
		pa(&a, 60, 11, 0, 0, (uint8_t)i);
	}
	n = filter(&res, &f, &q, 3, &a);
	CHECK(n > 0 && res.naddrs == MSB_DNS_ADDRS_MAX);
	CHECK(res.dropped == 70 - MSB_DNS_ADDRS_MAX);
	CHECK(g16(out, 6) == MSB_DNS_ADDRS_MAX);

	/* a chain name without a text form is reported as "" */
	answer_start(&a, 3, 2, 0, 0);
	pname_ptr(&a, "", 12);
	prr(&a, MSB_DNS_TYPE_CNAME, 60, 6);
	p8(&a, 3);
	pbytes(&a, "a.b", 3);
	p16(&a, 0xc000 | 16);
	pname_ptr(&a, "", (unsigned)a.n - 6);
	pa(&a, 60, 8, 8, 8, 8);
	n = filter(&res, &f, &q, 3, &a);
	CHECK(n > 0 && res.nnames == 2 && res.naddrs == 1);
	CHECK_STR(res.names[1], "");
}

static void test_filter_hostile(void)
{
	struct msb_dns_query q;
	struct msb_dns_answer res;
	struct msb_dns_filter f = {.keep = keep_all};
	struct pkt a;

	guest_query(&q, false);

	/* an owner pointing to itself */
	answer_start(&a, 4, 1, 0, 0);
	p16(&a, 0xc000 | (unsigned)a.n);
	pa(&a, 60, 1, 1, 1, 1);
	CHECK(filter(&res, &f, &q, 4, &a) == MSB_DNS_EMALFORMED);

	/* a pointer forward */
	answer_start(&a, 4, 1, 0, 0);
	p16(&a, 0xc000 | (unsigned)(a.n + 2));
	pname(&a, "x");
	pa(&a, 60, 1, 1, 1, 1);
	CHECK(filter(&res, &f, &q, 4, &a) == MSB_DNS_EMALFORMED);

	/* two pointers into each other: label, then a pointer back to a
	 * pointer that points to the label */
	answer_start(&a, 4, 1, 0, 0);
	size_t l = a.n;
	p8(&a, 1);
	p8(&a, 'a');
	p16(&a, 0xc000 | (unsigned)(l + 4)); /* forward, to the next one */
	p16(&a, 0xc000 | (unsigned)l);
	pa(&a, 60, 1, 1, 1, 1);
	CHECK(filter(&res, &f, &q, 4, &a) == MSB_DNS_EMALFORMED);

	/* a pointer into a label's middle that loops back to itself */
	answer_start(&a, 4, 1, 0, 0);
	l = a.n;
	p8(&a, 3);
	p8(&a, 'a');
	p16(&a, 0xc000 | (unsigned)(l + 1)); /* "a" then this again */
	p16(&a, 0xc000 | (unsigned)(l + 2));
	pa(&a, 60, 1, 1, 1, 1);
	CHECK(filter(&res, &f, &q, 4, &a) == MSB_DNS_EMALFORMED);

	/* a pointer into the header */
	answer_start(&a, 4, 1, 0, 0);
	p16(&a, 0xc004);
	pa(&a, 60, 1, 1, 1, 1);
	CHECK(filter(&res, &f, &q, 4, &a) == MSB_DNS_EMALFORMED);

	/* a backward chain of pointers (in a TXT record's data, the owner
	 * of a later record points to its end): fine up to the limit */
	{
		for (int jumps = MSB_DNS_JUMPS_MAX;
		     jumps <= MSB_DNS_JUMPS_MAX + 1; jumps++) {
			answer_start(&a, 4, 2, 0, 0);
			pname_ptr(&a, "", 12);
			size_t rdl = a.n + 8;
			prr(&a, MSB_DNS_TYPE_TXT, 60, 0);
			size_t rd = a.n;
			p8(&a, 1);
			p8(&a, 'z');
			p8(&a, 0);
			size_t at = rd;
			for (int k = 1; k < jumps; k++) {
				size_t here = a.n;
				p16(&a, 0xc000 | (unsigned)at);
				at = here;
			}
			set16(&a, rdl, (unsigned)(a.n - rd));
			p16(&a, 0xc000 | (unsigned)at);
			pa(&a, 60, 1, 1, 1, 1);
			int n = filter(&res, &f, &q, 4, &a);
			if (jumps == MSB_DNS_JUMPS_MAX)
				CHECK(n > 0 && res.dropped == 1);
			else
				CHECK(n == MSB_DNS_EMALFORMED);
		}
	}

	/* counts beyond the message; counts short of it */
	answer_start(&a, 4, 3, 0, 0);
	for (int i = 0; i < 2; i++) {
		pname_ptr(&a, "", 12);
		pa(&a, 60, 1, 1, 1, (uint8_t)i);
	}
	CHECK(filter(&res, &f, &q, 4, &a) == MSB_DNS_EMALFORMED);
	set16(&a, 6, 1);
	set16(&a, 10, 65535);
	CHECK(filter(&res, &f, &q, 4, &a) == MSB_DNS_EMALFORMED);
	set16(&a, 10, 0);
	int n = filter(&res, &f, &q, 4, &a);
	CHECK(n > 0 && n == (int)a.n - 16 && res.naddrs == 1);

	/* truncated records */
	answer_start(&a, 4, 1, 0, 0);
	pname_ptr(&a, "", 12);
	pa(&a, 60, 1, 1, 1, 1);
	for (size_t cut = 1; cut <= 16; cut++)
		CHECK(msb_dns_filter_answer(out, sizeof(out), &res, &f, &q, 4,
					    a.b,
					    a.n - cut) == MSB_DNS_EMALFORMED);
	set16(&a, a.n - 6, 5); /* A rdlength 5, one octet short */
	CHECK(filter(&res, &f, &q, 4, &a) == MSB_DNS_EMALFORMED);
	set16(&a, a.n - 6, 3);
	CHECK(filter(&res, &f, &q, 4, &a) == MSB_DNS_EMALFORMED);

	/* data that does not fit its type */
	answer_start(&a, 4, 1, 0, 0);
	pname_ptr(&a, "", 12);
	prr(&a, MSB_DNS_TYPE_CNAME, 60, 3);
	p16(&a, 0xc00c);
	p8(&a, 0); /* one octet after the name */
	CHECK(filter(&res, &f, &q, 4, &a) == MSB_DNS_EMALFORMED);
	answer_start(&a, 4, 0, 1, 0);
	pname_ptr(&a, "", 16);
	prr(&a, MSB_DNS_TYPE_SOA, 60, 4 + 19);
	p16(&a, 0xc00c);
	p16(&a, 0xc00c);
	for (int i = 0; i < 19; i++)
		p8(&a, 0);
	CHECK(filter(&res, &f, &q, 4, &a) == MSB_DNS_EMALFORMED);
	/* a name in data that runs past it */
	answer_start(&a, 4, 1, 0, 0);
	pname_ptr(&a, "", 12);
	prr(&a, MSB_DNS_TYPE_CNAME, 60, 2);
	pname(&a, "ab");
	CHECK(filter(&res, &f, &q, 4, &a) == MSB_DNS_EMALFORMED);

	/* OPT records: in the answer section; two of them */
	answer_start(&a, 4, 1, 0, 0);
	popt(&a, 1232, 0);
	CHECK(filter(&res, &f, &q, 4, &a) == MSB_DNS_EMALFORMED);
	answer_start(&a, 4, 0, 0, 2);
	popt(&a, 1232, 0);
	popt(&a, 1232, 0);
	CHECK(filter(&res, &f, &q, 4, &a) == MSB_DNS_EMALFORMED);

	/* an extended rcode: SERVFAIL */
	answer_start(&a, 4, 0, 0, 1);
	popt(&a, 1232, 0x01000000);
	n = filter(&res, &f, &q, 4, &a);
	CHECK(n > 0 && (g16(out, 2) & 0xf) == MSB_DNS_RCODE_SERVFAIL);
	CHECK(res.rcode == 16);
}

static void test_filter_sections(void)
{
	struct msb_dns_query q, qe;
	struct msb_dns_answer res;
	struct msb_dns_filter f = {.keep = keep_all, .edns_size = 1400};
	struct pkt a;
	struct trr r;
	char name[300];
	size_t at;
	int n;

	guest_query(&q, false);
	guest_query(&qe, true);

	/* NXDOMAIN with an SOA; MX and SRV in additional; upstream OPT */
	phdr(&a, 5, 0x8183, 1, 0, 1, 4);
	pname(&a, "www.example.com");
	p16(&a, 1);
	p16(&a, 1);
	pname_ptr(&a, "", 16);
	prr(&a, MSB_DNS_TYPE_SOA, 60, 2 + 6 + 20);
	p16(&a, 0xc000 | 16);
	pname_ptr(&a, "dns", 16);
	for (int i = 0; i < 5; i++)
		p32(&a, (uint32_t)i + 1);
	pname_ptr(&a, "", 16);
	prr(&a, MSB_DNS_TYPE_MX, 60, 2 + 5);
	p16(&a, 10);
	pname_ptr(&a, "mx", 16);
	pname_ptr(&a, "_x._tcp", 16);
	prr(&a, MSB_DNS_TYPE_SRV, 60, 6 + 5);
	p16(&a, 1);
	p16(&a, 2);
	p16(&a, 443);
	pname_ptr(&a, "sv", 16);
	pname_ptr(&a, "", 12);
	prr(&a, MSB_DNS_TYPE_TXT, 60, 4);
	pbytes(&a, "\3abc", 4);
	popt(&a, 4096, 0);
	n = filter(&res, &f, &q, 5, &a);
	CHECK(n > 0 && res.rcode == MSB_DNS_RCODE_NXDOMAIN);
	CHECK((g16(out, 2) & 0xf) == 3);
	CHECK(g16(out, 6) == 0 && g16(out, 8) == 1 && g16(out, 10) == 3);
	CHECK(rr_at(&r, out, (size_t)n, 0) == 0 && r.type == 6);
	at = r.rd;
	CHECK(rname(name, out, (size_t)n, &at) == 0);
	CHECK_STR(name, "example.com");
	CHECK(rname(name, out, (size_t)n, &at) == 0);
	CHECK_STR(name, "dns.example.com");
	CHECK(at + 20 == r.rd + r.rdlen && g16(out, at + 18) == 5);
	CHECK(rr_at(&r, out, (size_t)n, 1) == 0 && r.type == 15);
	at = r.rd + 2;
	CHECK(rname(name, out, (size_t)n, &at) == 0);
	CHECK_STR(name, "mx.example.com");
	CHECK(rr_at(&r, out, (size_t)n, 2) == 0 && r.type == 33);
	CHECK_STR(r.owner, "_x._tcp.example.com");
	/* SRV's target is written whole (RFC 2782: no compression) */
	CHECK(r.rdlen == 6 + 16 && g16(out, r.rd + 4) == 443);
	at = r.rd + 6;
	CHECK(rname(name, out, (size_t)n, &at) == 0);
	CHECK_STR(name, "sv.example.com");
	CHECK(rr_at(&r, out, (size_t)n, 3) == 0 && r.type == 16 &&
	      r.rdlen == 4 && !memcmp(out + r.rd, "\3abc", 4));
	CHECK(rr_at(&r, out, (size_t)n, 4) < 0 ||
	      r.type != MSB_DNS_TYPE_OPT); /* the upstream's OPT is gone */

	/* the guest with EDNS gets our OPT instead of the upstream's */
	n = filter(&res, &f, &qe, 5, &a);
	CHECK(n > 0 && g16(out, 10) == 4);
	CHECK(rr_at(&r, out, (size_t)n, 4) == 0 && r.type == MSB_DNS_TYPE_OPT &&
	      r.class == 1400);

	/* the reply fits: re-filtering it gives the same length */
	uint8_t copy[2000];
	memcpy(copy, out, (size_t)n);
	CHECK(msb_dns_filter_answer(out, sizeof(out), &res, &f, &qe, 0x7777,
				    copy, (size_t)n) == n);

	/* other classes are dropped */
	answer_start(&a, 5, 1, 0, 0);
	pname_ptr(&a, "", 12);
	pa(&a, 60, 1, 1, 1, 1);
	set16(&a, a.n - 12, 3);
	n = filter(&res, &f, &q, 5, &a);
	CHECK(n > 0 && g16(out, 6) == 0 && res.dropped == 1);

	/* TC upstream: a stub with TC, nothing to pin */
	answer_start(&a, 5, 1, 0, 0);
	set16(&a, 2, 0x8380);
	pname_ptr(&a, "", 12);
	n = filter(&res, &f, &q, 5, &a); /* the record is cut: no matter */
	CHECK(n == 33 && res.truncated && (g16(out, 2) & 0x0200));
	CHECK(g16(out, 6) == 0 && res.naddrs == 0);

	/* a reply larger than the guest takes: a TC stub */
	answer_start(&a, 5, 40, 0, 0);
	for (int i = 0; i < 40; i++) {
		pname_ptr(&a, "", 12);
		prr(&a, MSB_DNS_TYPE_AAAA, 60, 16);
		pbytes(&a, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0", 15);
		p8(&a, (unsigned)i);
	}
	n = msb_dns_filter_answer(out, 512, &res, &f, &q, 5, a.b, a.n);
	CHECK(n == 33 && res.truncated && res.naddrs == 0);
	CHECK(g16(out, 2) & 0x0200);
	n = msb_dns_filter_answer(out, MSB_DNS_EDNS_SIZE, &res, &f, &q, 5, a.b,
				  a.n);
	CHECK(n == (int)a.n && !res.truncated && res.naddrs == 40);
	CHECK(msb_dns_filter_answer(out, 20, &res, &f, &q, 5, a.b, a.n) ==
	      MSB_DNS_ESPACE);
}

/* Removing records never leaves a pointer into what was removed, and the
 * names are compressed anew. */
static void test_filter_compression(void)
{
	struct msb_dns_query q;
	struct msb_dns_answer res;
	int calls = 0;
	struct msb_dns_filter f = {.keep = keep_public, .userdata = &calls};
	struct pkt a;
	struct trr r;
	int n;

	guest_query(&q, false);
	/* owners written in full upstream, one dropped, others pointing
	 * into it */
	answer_start(&a, 6, 1, 0, 3);
	pname_ptr(&a, "", 12);
	pa(&a, 60, 1, 2, 3, 4);
	size_t x = a.n;
	pname(&a, "deep.inside.other.test");
	pa(&a, 60, 10, 9, 9, 9);
	pname_ptr(&a, "a", (unsigned)x + 5); /* a.inside.other.test */
	pa(&a, 60, 2, 2, 2, 2);
	pname_ptr(&a, "b", (unsigned)x + 12); /* b.other.test */
	pa(&a, 60, 3, 3, 3, 3);
	n = filter(&res, &f, &q, 6, &a);
	CHECK(n > 0 && g16(out, 10) == 2 && res.dropped == 1);
	CHECK(rr_at(&r, out, (size_t)n, 1) == 0);
	CHECK_STR(r.owner, "a.inside.other.test");
	CHECK(!memcmp(out + r.rd, "\2\2\2\2", 4));
	CHECK(rr_at(&r, out, (size_t)n, 2) == 0);
	CHECK_STR(r.owner, "b.other.test");
	CHECK(!memcmp(out + r.rd, "\3\3\3\3", 4));
	/* "b" + pointer to "other.test" written with the a.inside... one */
	CHECK(n == 33 + 16 + (21 + 14) + (4 + 14));
}

static void test_tcp(void)
{
	uint8_t b[40] = {0, 12};
	size_t n = 99;

	CHECK(msb_dns_tcp_next(&n, b, 0) == 0);
	CHECK(msb_dns_tcp_next(&n, b, 1) == 0);
	CHECK(msb_dns_tcp_next(&n, b, 13) == 0);
	CHECK(msb_dns_tcp_next(&n, b, 14) == 1 && n == 12);
	CHECK(msb_dns_tcp_next(&n, b, 40) == 1 && n == 12);
	b[1] = 0;
	CHECK(msb_dns_tcp_next(&n, b, 40) == -1);
	b[1] = 11;
	CHECK(msb_dns_tcp_next(&n, b, 40) == -1);
	b[0] = 0xff;
	b[1] = 0xff;
	CHECK(msb_dns_tcp_next(&n, b, 40) == 0);

	/* in place: the message at b + 2 */
	memcpy(b + 2, "0123456789ab", 12);
	CHECK(msb_dns_tcp_frame(b, sizeof(b), b + 2, 12) == 14);
	CHECK(b[0] == 0 && b[1] == 12 && !memcmp(b + 2, "0123456789ab", 12));
	/* moved: the message at b */
	memcpy(b, "0123456789ab", 12);
	CHECK(msb_dns_tcp_frame(b, sizeof(b), b, 12) == 14);
	CHECK(b[1] == 12 && !memcmp(b + 2, "0123456789ab", 12));
	CHECK(msb_dns_tcp_frame(b, 13, b, 12) == MSB_DNS_ESPACE);
	CHECK(msb_dns_tcp_frame(b, 1, b, 0) == MSB_DNS_ESPACE);
}

int main(void)
{
	test_parse_plain();
	test_parse_rejects();
	test_build();
	test_filter_simple();
	test_filter_mismatch();
	test_filter_rebinding();
	test_filter_chain();
	test_filter_hostile();
	test_filter_sections();
	test_filter_compression();
	test_tcp();
	return check_summary("net_dns");
}
