// SPDX-License-Identifier: Apache-2.0
/* DNS messages: parse a guest's query, build local replies, filter upstream
 * answers. */

/*
 * DOC: Theory of operation
 *
 * netd answers every DNS query of the guest itself: a local name, a blocked
 * one, one the policy does not let resolve, or one forwarded upstream. The
 * guest and the upstream are both untrusted here, so every message is read
 * with bounds by the functions below, pure over (buf, len), and nothing of
 * either is ever passed on as bytes: replies and upstream queries are built
 * anew from what was read.
 *
 * Names. name_read() returns a name in uncompressed wire form, following
 * compression pointers under three rules that make loops impossible and
 * the work bounded: a pointer points after the header and strictly before
 * the start of the run of labels that holds it (so the targets of one name
 * strictly decrease), at most MSB_DNS_JUMPS_MAX are followed, and the name
 * stays within 255 octets with labels of at most 63. Label types 0x40 and
 * 0x80 are refused. Names are compared without ASCII case; their text form
 * (for rules and pins) is lowercase and exists only for names whose octets
 * are printable ASCII other than '.' and '\\', so that two different names
 * never share a text.
 *
 * Answers. msb_dns_filter_answer() reads an upstream answer in two passes.
 * The first checks that it answers the query and reads every record of
 * every section (name, fixed fields, data within the message; the data of
 * types that hold names must parse exactly), and follows the CNAME chain of
 * the answer section from the question's name. The second writes the reply:
 * records are copied field by field, names compressed anew against the
 * names written before (so removing a record never leaves a pointer to
 * nothing), A/AAAA records dropped when the caller's keep() rejects their
 * address or, in the answer section, when their owner is not on the chain.
 * The kept addresses of the chain are reported with the names they are
 * pinned to; the caller's pin set makes domain rules match them.
 */
#include <string.h>

#include "net/dns.h"

#define FLAG_QR 0x8000
#define FLAG_OPCODE 0x7800
#define FLAG_AA 0x0400
#define FLAG_TC 0x0200
#define FLAG_RD 0x0100
#define FLAG_RA 0x0080
#define FLAG_CD 0x0010
#define RCODE_MASK 0x000f

/* Label offsets of the reply remembered as compression targets. */
#define COMP_MAX 64
/* Offsets a compression pointer can hold. */
#define COMP_OFF_MAX 0x3fff

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

/*
 * name_read() - read the name at @off of the message @m
 * @wire: out: the name, uncompressed, case kept (MSB_DNS_NAME_MAX octets)
 * @wlen: out: its length, the root octet included
 * @next: out: the offset just past the name where it is (past its first
 *        pointer, if any)
 *
 * Return: 0, or -1 if the name is malformed (see the theory above).
 */
static int name_read(const uint8_t *m, size_t len, size_t off, uint8_t *wire,
		     size_t *wlen, size_t *next)
{
	size_t pos = off, seg = off, w = 0;
	unsigned jumps = 0;
	bool jumped = false;

	for (;;) {
		if (pos >= len)
			return -1;
		uint8_t c = m[pos];
		if ((c & 0xc0) == 0xc0) {
			if (pos + 1 >= len)
				return -1;
			size_t ptr = (size_t)(c & 0x3f) << 8 | m[pos + 1];
			if (ptr < MSB_DNS_HEADER_LEN || ptr >= seg ||
			    ++jumps > MSB_DNS_JUMPS_MAX)
				return -1;
			if (!jumped)
				*next = pos + 2;
			jumped = true;
			pos = seg = ptr;
			continue;
		}
		if (c & 0xc0)
			return -1; /* 0x40, 0x80: extended label types */
		if (c == 0) {
			wire[w++] = 0;
			*wlen = w;
			if (!jumped)
				*next = pos + 1;
			return 0;
		}
		/* room for the label and, after it, the root */
		if (w + 1 + c + 1 > MSB_DNS_NAME_MAX || len - pos - 1 < c)
			return -1;
		memcpy(wire + w, m + pos, 1 + (size_t)c);
		w += 1 + (size_t)c;
		pos += 1 + (size_t)c;
	}
}

/* Two names in wire form are the same name (ASCII case ignored). Length
 * octets are at most 63, below 'A', so lower() leaves them alone. */
static bool name_eq(const uint8_t *a, size_t alen, const uint8_t *b,
		    size_t blen)
{
	if (alen != blen)
		return false;
	for (size_t i = 0; i < alen; i++)
		if (lower(a[i]) != lower(b[i]))
			return false;
	return true;
}

/* The text form of a name in wire form: lowercase, dotted, no trailing dot.
 * Return: 0, or -1 if a label holds an octet that has no plain text form. */
static int name_text(char *text, const uint8_t *wire)
{
	size_t t = 0;

	for (size_t i = 0; wire[i]; i += 1 + wire[i]) {
		if (t)
			text[t++] = '.';
		for (size_t j = 1; j <= wire[i]; j++) {
			uint8_t c = wire[i + j];
			if (c <= 0x20 || c >= 0x7f || c == '.' || c == '\\')
				return -1;
			text[t++] = (char)lower(c);
		}
	}
	text[t] = 0;
	return 0;
}

/* A record as read from a message; the data stays in the message. */
struct rr {
	uint8_t owner[MSB_DNS_NAME_MAX];
	size_t owner_len;
	uint16_t type;
	uint16_t class;
	uint32_t ttl;
	size_t rd;
	uint16_t rdlen;
};

/* Read the record at *@pos and move *@pos past it. Return: 0 or -1. */
static int rr_read(const uint8_t *m, size_t len, size_t *pos, struct rr *rr)
{
	size_t next;

	if (name_read(m, len, *pos, rr->owner, &rr->owner_len, &next) < 0)
		return -1;
	if (len - next < 10)
		return -1;
	rr->type = rd16(m + next);
	rr->class = rd16(m + next + 2);
	rr->ttl = rd32(m + next + 4);
	rr->rdlen = rd16(m + next + 8);
	rr->rd = next + 10;
	if (len - rr->rd < rr->rdlen)
		return -1;
	*pos = rr->rd + rr->rdlen;
	return 0;
}

/*
 * The layout of record data that holds names, for the types whose names
 * may be compressed (RFC 1035's, and those RFC 3597 §4 says a receiver
 * decompresses): 'c' a name we may compress, 'u' a name written
 * uncompressed, '2'/'4' that many fixed octets. Other types are opaque.
 */
static const char *rdata_layout(uint16_t type)
{
	switch (type) {
	case 2:  /* NS */
	case 3:  /* MD */
	case 4:  /* MF */
	case 5:  /* CNAME */
	case 7:  /* MB */
	case 8:  /* MG */
	case 9:  /* MR */
	case 12: /* PTR */
		return "c";
	case 6: /* SOA */
		return "cc44444";
	case 14: /* MINFO */
		return "cc";
	case 15: /* MX */
		return "2c";
	case 17: /* RP */
		return "uu";
	case 18: /* AFSDB */
	case 21: /* RT */
		return "2u";
	case 26: /* PX */
		return "2uu";
	case 33: /* SRV */
		return "222u";
	default:
		return NULL;
	}
}

/* The data of an IN-class record is what its type says. Return: 0 or -1. */
static int rdata_check(const uint8_t *m, size_t len, const struct rr *rr)
{
	const char *f = rdata_layout(rr->type);
	size_t pos = rr->rd, end = rr->rd + rr->rdlen;
	uint8_t wire[MSB_DNS_NAME_MAX];
	size_t wlen, next;

	if (rr->type == MSB_DNS_TYPE_A)
		return rr->rdlen == 4 ? 0 : -1;
	if (rr->type == MSB_DNS_TYPE_AAAA)
		return rr->rdlen == 16 ? 0 : -1;
	if (!f)
		return 0;
	for (; *f; f++) {
		if (*f == 'c' || *f == 'u') {
			if (pos >= end ||
			    name_read(m, len, pos, wire, &wlen, &next) < 0 ||
			    next > end)
				return -1;
			pos = next;
		} else {
			size_t k = (size_t)(*f - '0');
			if (end - pos < k)
				return -1;
			pos += k;
		}
	}
	return pos == end ? 0 : -1;
}

/* The reply being written: once something does not fit, @full is set and
 * nothing more is written. */
struct wbuf {
	uint8_t *p;
	size_t cap;
	size_t len;
	bool full;
	unsigned n;
	uint16_t labels[COMP_MAX];
	uint8_t rest[COMP_MAX]; /* wire length of the name from there */
};

/* A reply is at most 65535 octets (TCP's length prefix). */
static struct wbuf wbuf_init(uint8_t *out, size_t cap)
{
	return (struct wbuf){
		.p = out, .cap = cap < MSB_DNS_MSG_MAX ? cap : MSB_DNS_MSG_MAX};
}

static void put(struct wbuf *w, const void *src, size_t n)
{
	if (w->full || w->cap - w->len < n) {
		w->full = true;
		return;
	}
	memcpy(w->p + w->len, src, n);
	w->len += n;
}

static void put16(struct wbuf *w, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
	put(w, b, 2);
}

static void put32(struct wbuf *w, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16),
			(uint8_t)(v >> 8), (uint8_t)v};
	put(w, b, 4);
}

static void patch16(struct wbuf *w, size_t at, uint16_t v)
{
	if (!w->full) {
		w->p[at] = (uint8_t)(v >> 8);
		w->p[at + 1] = (uint8_t)v;
	}
}

/* The name written at @o of the reply equals the name @s in wire form. The
 * reply's pointers are ours (backward), still the walk is bounded. */
static bool out_name_eq(const struct wbuf *w, size_t o, const uint8_t *s)
{
	unsigned jumps = 0;

	for (;;) {
		if (o >= w->len)
			return false;
		uint8_t c = w->p[o];
		if ((c & 0xc0) == 0xc0) {
			if (o + 1 >= w->len || ++jumps > MSB_DNS_JUMPS_MAX)
				return false;
			o = (size_t)(c & 0x3f) << 8 | w->p[o + 1];
			continue;
		}
		if (c != *s)
			return false;
		if (c == 0)
			return true;
		if (w->len - o - 1 < c)
			return false;
		for (size_t i = 1; i <= c; i++)
			if (lower(w->p[o + i]) != lower(s[i]))
				return false;
		o += 1 + (size_t)c;
		s += 1 + (size_t)c;
	}
}

/* Write the labels wire[0..end) of a name of @wlen octets literally,
 * remembering their offsets as compression targets if @remember. */
static void put_labels(struct wbuf *w, const uint8_t *wire, size_t wlen,
		       size_t end, bool remember)
{
	for (size_t i = 0; i < end; i += 1 + wire[i]) {
		if (remember && !w->full && w->len <= COMP_OFF_MAX &&
		    w->n < COMP_MAX) {
			w->labels[w->n] = (uint16_t)w->len;
			w->rest[w->n++] = (uint8_t)(wlen - i);
		}
		put(w, wire + i, 1 + (size_t)wire[i]);
	}
}

/* Write a name (wire form), compressed against the names written before
 * when @compress (the longest suffix found wins). Only targets of the
 * same length are compared, which bounds the work of a name to about one
 * comparison a suffix, whatever names came before. */
static void put_name(struct wbuf *w, const uint8_t *wire, size_t wlen,
		     bool compress)
{
	if (compress) {
		for (size_t s = 0; wire[s]; s += 1 + wire[s]) {
			for (unsigned j = 0; j < w->n; j++) {
				if (w->rest[j] != wlen - s ||
				    !out_name_eq(w, w->labels[j], wire + s))
					continue;
				put_labels(w, wire, wlen, s, true);
				put16(w, (uint16_t)(0xc000 | w->labels[j]));
				return;
			}
		}
	}
	put_labels(w, wire, wlen, wlen - 1, compress);
	put(w, "", 1);
}

static void put_header(struct wbuf *w, uint16_t id, uint16_t flags, uint16_t qd,
		       uint16_t an, uint16_t ns, uint16_t ar)
{
	put16(w, id);
	put16(w, flags);
	put16(w, qd);
	put16(w, an);
	put16(w, ns);
	put16(w, ar);
}

static void put_question(struct wbuf *w, const struct msb_dns_query *q)
{
	put_name(w, q->qwire, q->qwire_len, true);
	put16(w, q->qtype);
	put16(w, q->qclass);
}

/* An OPT record: root owner, our UDP size, extended rcode, version 0. */
static void put_opt(struct wbuf *w, uint16_t size, unsigned rcode, bool dobit)
{
	put(w, "", 1);
	put16(w, MSB_DNS_TYPE_OPT);
	put16(w, size);
	put32(w, (uint32_t)(rcode >> 4 & 0xff) << 24 | (dobit ? 0x8000u : 0));
	put16(w, 0);
}

/* Header flags of a reply to @q. */
static uint16_t reply_flags(const struct msb_dns_query *q, unsigned rcode)
{
	return (uint16_t)(FLAG_QR | (q->flags & (FLAG_OPCODE | FLAG_RD)) |
			  FLAG_RA | (q->flags & FLAG_CD) |
			  (rcode & RCODE_MASK));
}

/* A reply of header, question (if read) and OPT (if the query had one). */
static int build_stub(uint8_t *out, size_t cap, const struct msb_dns_query *q,
		      unsigned rcode, bool tc, uint16_t edns_size)
{
	struct wbuf w = wbuf_init(out, cap);

	if (rcode > RCODE_MASK && !q->edns)
		rcode = MSB_DNS_RCODE_SERVFAIL;
	put_header(&w, q->id,
		   (uint16_t)(reply_flags(q, rcode) | (tc ? FLAG_TC : 0)),
		   q->has_question, 0, 0, q->edns);
	if (q->has_question)
		put_question(&w, q);
	if (q->edns)
		put_opt(&w, edns_size ? edns_size : MSB_DNS_EDNS_SIZE, rcode,
			q->edns_do);
	return w.full ? MSB_DNS_ESPACE : (int)w.len;
}

/* Read the OPT record of a query. Return: 0 or -1 (malformed). */
static int query_opt(struct msb_dns_query *q, const uint8_t *m,
		     const struct rr *rr)
{
	size_t pos = rr->rd, end = rr->rd + rr->rdlen;

	if (q->edns || rr->owner_len != 1)
		return -1;
	while (pos < end) { /* options: code, length, data */
		if (end - pos < 4 || end - pos - 4 < rd16(m + pos + 2))
			return -1;
		pos += 4 + (size_t)rd16(m + pos + 2);
	}
	q->edns = true;
	q->edns_size = rr->class;
	q->edns_version = (uint8_t)(rr->ttl >> 16);
	q->edns_do = rr->ttl & 0x8000;
	return 0;
}

int msb_dns_parse_query(struct msb_dns_query *q, const uint8_t *buf, size_t len)
{
	size_t pos;

	memset(q, 0, sizeof(*q));
	if (!buf || len < MSB_DNS_HEADER_LEN || len > MSB_DNS_MSG_MAX)
		return MSB_DNS_DROP;
	q->id = rd16(buf);
	q->flags = rd16(buf + 2);
	if (q->flags & FLAG_QR)
		return MSB_DNS_DROP;
	if (q->flags & FLAG_OPCODE)
		return MSB_DNS_RCODE_NOTIMP;
	if (rd16(buf + 4) != 1)
		return MSB_DNS_RCODE_FORMERR;
	if (name_read(buf, len, MSB_DNS_HEADER_LEN, q->qwire, &q->qwire_len,
		      &pos) < 0 ||
	    len - pos < 4)
		return MSB_DNS_RCODE_FORMERR;
	q->qtype = rd16(buf + pos);
	q->qclass = rd16(buf + pos + 2);
	q->has_question = true;
	pos += 4;
	if (rd16(buf + 6) || rd16(buf + 8))
		return MSB_DNS_RCODE_FORMERR;
	for (unsigned i = 0, ar = rd16(buf + 10); i < ar; i++) {
		struct rr rr;
		if (rr_read(buf, len, &pos, &rr) < 0)
			return MSB_DNS_RCODE_FORMERR;
		if (rr.type == MSB_DNS_TYPE_OPT && query_opt(q, buf, &rr) < 0)
			return MSB_DNS_RCODE_FORMERR;
	}
	switch (q->qtype) {
	case 0:
	case MSB_DNS_TYPE_OPT:
	case 249: /* TKEY */
	case 250: /* TSIG */
		return MSB_DNS_RCODE_FORMERR;
	case 251: /* IXFR */
	case 252: /* AXFR */
	case 253: /* MAILB */
	case 254: /* MAILA */
		return MSB_DNS_RCODE_NOTIMP;
	}
	if (q->qclass != MSB_DNS_CLASS_IN)
		return MSB_DNS_RCODE_NOTIMP;
	if (q->edns && q->edns_version != 0)
		return MSB_DNS_RCODE_BADVERS;
	if (name_text(q->name, q->qwire) < 0)
		return MSB_DNS_RCODE_REFUSED;
	return 0;
}

size_t msb_dns_udp_limit(const struct msb_dns_query *q)
{
	if (!q->edns || q->edns_size <= MSB_DNS_UDP_MIN)
		return MSB_DNS_UDP_MIN;
	return q->edns_size < MSB_DNS_EDNS_SIZE ? q->edns_size
						: MSB_DNS_EDNS_SIZE;
}

int msb_dns_build_reply(uint8_t *out, size_t cap, const struct msb_dns_query *q,
			unsigned rcode)
{
	return build_stub(out, cap, q, rcode, false, 0);
}

static bool addr_matches(const struct msb_net_addr *a, uint16_t qtype)
{
	if (qtype == MSB_DNS_TYPE_ANY)
		return a->family == 4 || a->family == 6;
	return (qtype == MSB_DNS_TYPE_A && a->family == 4) ||
	       (qtype == MSB_DNS_TYPE_AAAA && a->family == 6);
}

int msb_dns_build_addr_reply(uint8_t *out, size_t cap,
			     const struct msb_dns_query *q,
			     const struct msb_net_addr *addrs, size_t n,
			     uint32_t ttl)
{
	struct wbuf w = wbuf_init(out, cap);
	uint16_t an = 0;

	if (!q->has_question)
		return build_stub(out, cap, q, MSB_DNS_RCODE_FORMERR, false, 0);
	put_header(&w, q->id, reply_flags(q, MSB_DNS_RCODE_NOERROR), 1, 0, 0,
		   q->edns);
	put_question(&w, q);
	for (size_t i = 0; i < n && an < UINT16_MAX; i++) {
		if (!addr_matches(&addrs[i], q->qtype))
			continue;
		bool v4 = addrs[i].family == 4;
		put_name(&w, q->qwire, q->qwire_len, true);
		put16(&w, v4 ? MSB_DNS_TYPE_A : MSB_DNS_TYPE_AAAA);
		put16(&w, MSB_DNS_CLASS_IN);
		put32(&w, ttl > INT32_MAX ? INT32_MAX : ttl);
		put16(&w, v4 ? 4 : 16);
		put(&w, addrs[i].a, v4 ? 4 : 16);
		an++;
	}
	if (q->edns)
		put_opt(&w, MSB_DNS_EDNS_SIZE, 0, q->edns_do);
	if (w.full)
		return build_stub(out, cap, q, MSB_DNS_RCODE_NOERROR, true, 0);
	patch16(&w, 6, an);
	return (int)w.len;
}

int msb_dns_build_query(uint8_t *out, size_t cap, const struct msb_dns_query *q,
			uint16_t id, uint16_t edns_size)
{
	struct wbuf w = wbuf_init(out, cap);
	uint8_t wire[MSB_DNS_NAME_MAX];

	if (!q->has_question)
		return MSB_DNS_ESPACE;
	for (size_t i = 0; i < q->qwire_len; i++)
		wire[i] = lower(q->qwire[i]);
	put_header(&w, id, (uint16_t)(FLAG_RD | (q->flags & FLAG_CD)), 1, 0, 0,
		   edns_size ? 1 : 0);
	put_name(&w, wire, q->qwire_len, false);
	put16(&w, q->qtype);
	put16(&w, q->qclass);
	if (edns_size)
		put_opt(&w, edns_size, 0, false);
	return w.full ? MSB_DNS_ESPACE : (int)w.len;
}

/* The CNAME chain of an answer section. */
struct chain {
	unsigned n;
	uint8_t wire[MSB_DNS_CHAIN_MAX][MSB_DNS_NAME_MAX];
	size_t wlen[MSB_DNS_CHAIN_MAX];
	uint32_t ttl[MSB_DNS_CHAIN_MAX]; /* lowest CNAME TTL down to here */
};

static int chain_find(const struct chain *c, const uint8_t *wire, size_t wlen)
{
	for (unsigned i = 0; i < c->n; i++)
		if (name_eq(c->wire[i], c->wlen[i], wire, wlen))
			return (int)i;
	return -1;
}

/* RFC 2181 §8: a TTL with the top bit set is taken as 0. */
static uint32_t ttl_norm(uint32_t ttl)
{
	return ttl > INT32_MAX ? 0 : ttl;
}

/* Follow the chain from the question through the answer section (which
 * starts at @pos and holds @an records, already checked). */
static void chain_follow(struct chain *c, const struct msb_dns_query *q,
			 const uint8_t *m, size_t len, size_t start,
			 unsigned an)
{
	memcpy(c->wire[0], q->qwire, q->qwire_len);
	c->wlen[0] = q->qwire_len;
	c->ttl[0] = UINT32_MAX;
	c->n = 1;
	while (c->n < MSB_DNS_CHAIN_MAX) {
		unsigned last = c->n - 1;
		size_t pos = start;
		bool found = false;
		struct rr rr;

		for (unsigned i = 0; i < an && !found; i++) {
			if (rr_read(m, len, &pos, &rr) < 0)
				return;
			if (rr.type != MSB_DNS_TYPE_CNAME ||
			    rr.class != MSB_DNS_CLASS_IN ||
			    !name_eq(rr.owner, rr.owner_len, c->wire[last],
				     c->wlen[last]))
				continue;
			found = true;
		}
		if (!found)
			return;
		size_t next, n = c->n;
		if (name_read(m, len, rr.rd, c->wire[n], &c->wlen[n], &next) <
			    0 ||
		    chain_find(c, c->wire[n], c->wlen[n]) >= 0)
			return;
		uint32_t ttl = ttl_norm(rr.ttl);
		c->ttl[n] = ttl < c->ttl[last] ? ttl : c->ttl[last];
		c->n++;
	}
}

/* Copy a record's data, names decompressed and compressed anew. */
static void put_rdata(struct wbuf *w, const uint8_t *m, size_t len,
		      const struct rr *rr)
{
	const char *f = rdata_layout(rr->type);
	size_t at = w->len, pos = rr->rd;
	uint8_t wire[MSB_DNS_NAME_MAX];
	size_t wlen, next;

	put16(w, rr->rdlen);
	if (!f || rr->class != MSB_DNS_CLASS_IN) {
		put(w, m + rr->rd, rr->rdlen);
		return;
	}
	for (; *f; f++) {
		if (*f == 'c' || *f == 'u') {
			if (name_read(m, len, pos, wire, &wlen, &next) < 0)
				return; /* checked in the first pass */
			put_name(w, wire, wlen, *f == 'c');
			pos = next;
		} else {
			put(w, m + pos, (size_t)(*f - '0'));
			pos += (size_t)(*f - '0');
		}
	}
	patch16(w, at, (uint16_t)(w->len - at - 2));
}

static void put_rr(struct wbuf *w, const uint8_t *m, size_t len,
		   const struct rr *rr, uint32_t ttl)
{
	put_name(w, rr->owner, rr->owner_len, true);
	put16(w, rr->type);
	put16(w, rr->class);
	put32(w, ttl);
	put_rdata(w, m, len, rr);
}

static bool keep_addr(const struct msb_dns_filter *f, const struct rr *rr,
		      const uint8_t *m, struct msb_net_addr *addr)
{
	memset(addr, 0, sizeof(*addr));
	addr->family = rr->type == MSB_DNS_TYPE_A ? 4 : 6;
	memcpy(addr->a, m + rr->rd, rr->rdlen);
	return !f || !f->keep || f->keep(addr, f->userdata);
}

int msb_dns_filter_answer(uint8_t *out, size_t cap, struct msb_dns_answer *res,
			  const struct msb_dns_filter *f,
			  const struct msb_dns_query *q, uint16_t id,
			  const uint8_t *ans, size_t len)
{
	uint8_t wire[MSB_DNS_NAME_MAX];
	size_t wlen, pos, start;
	unsigned count[3], ext = 0;
	bool opt = false;
	uint16_t edns = f && f->edns_size ? f->edns_size : MSB_DNS_EDNS_SIZE;

	memset(res, 0, sizeof(*res));
	if (!q->has_question)
		return MSB_DNS_EMISMATCH;
	if (!ans || len < MSB_DNS_HEADER_LEN || len > MSB_DNS_MSG_MAX)
		return MSB_DNS_EMALFORMED;
	uint16_t flags = rd16(ans + 2);
	if (rd16(ans) != id || !(flags & FLAG_QR) || (flags & FLAG_OPCODE) ||
	    rd16(ans + 4) != 1)
		return MSB_DNS_EMISMATCH;
	if (name_read(ans, len, MSB_DNS_HEADER_LEN, wire, &wlen, &pos) < 0 ||
	    len - pos < 4)
		return MSB_DNS_EMALFORMED;
	if (!name_eq(wire, wlen, q->qwire, q->qwire_len) ||
	    rd16(ans + pos) != q->qtype || rd16(ans + pos + 2) != q->qclass)
		return MSB_DNS_EMISMATCH;
	pos += 4;
	start = pos;
	res->rcode = flags & RCODE_MASK;
	if (flags & FLAG_TC) {
		res->truncated = true;
		return build_stub(out, cap, q, res->rcode, true, edns);
	}

	/* First pass: every record is well formed. */
	for (unsigned s = 0; s < 3; s++)
		count[s] = rd16(ans + 6 + 2 * s);
	for (unsigned s = 0; s < 3; s++) {
		for (unsigned i = 0; i < count[s]; i++) {
			struct rr rr;
			if (rr_read(ans, len, &pos, &rr) < 0)
				return MSB_DNS_EMALFORMED;
			if (rr.type == MSB_DNS_TYPE_OPT) {
				if (s != 2 || opt || rr.owner_len != 1)
					return MSB_DNS_EMALFORMED;
				opt = true;
				ext = rr.ttl >> 24;
			} else if (rr.class == MSB_DNS_CLASS_IN &&
				   rdata_check(ans, len, &rr) < 0) {
				return MSB_DNS_EMALFORMED;
			}
		}
	}
	if (ext) {
		res->rcode = ext << 4 | res->rcode;
		return build_stub(out, cap, q, MSB_DNS_RCODE_SERVFAIL, false,
				  edns);
	}

	struct chain chain;
	chain_follow(&chain, q, ans, len, start, count[0]);

	/* Second pass: write the reply. */
	struct wbuf w = wbuf_init(out, cap);
	uint16_t kept[3] = {0, 0, 0};
	put_header(&w, q->id, 0, 1, 0, 0, 0);
	put_question(&w, q);
	pos = start;
	for (unsigned s = 0; s < 3 && !w.full; s++) {
		for (unsigned i = 0; i < count[s] && !w.full; i++) {
			struct rr rr;
			struct msb_net_addr addr;
			int depth = -1;

			if (rr_read(ans, len, &pos, &rr) < 0)
				return MSB_DNS_EMALFORMED;
			uint32_t ttl = ttl_norm(rr.ttl);
			bool in = rr.class == MSB_DNS_CLASS_IN;
			bool is_addr = in && (rr.type == MSB_DNS_TYPE_A ||
					      rr.type == MSB_DNS_TYPE_AAAA);
			if (rr.type == MSB_DNS_TYPE_OPT)
				continue; /* replaced by ours */
			if (!in) {
				res->dropped++;
				continue;
			}
			if (is_addr && s == 0) {
				depth = chain_find(&chain, rr.owner,
						   rr.owner_len);
				if (depth < 0 ||
				    res->naddrs == MSB_DNS_ADDRS_MAX) {
					res->dropped++;
					continue;
				}
			}
			if (is_addr && !keep_addr(f, &rr, ans, &addr)) {
				res->dropped++;
				continue;
			}
			if (s == 0 && f && f->ttl_max && ttl > f->ttl_max &&
			    (is_addr || rr.type == MSB_DNS_TYPE_CNAME))
				ttl = f->ttl_max;
			put_rr(&w, ans, len, &rr, ttl);
			kept[s]++;
			if (depth >= 0) {
				struct msb_dns_pin *p =
					&res->addrs[res->naddrs++];
				p->addr = addr;
				p->ttl = ttl < chain.ttl[depth]
						 ? ttl
						 : chain.ttl[depth];
				p->depth = (unsigned)depth;
			}
		}
	}
	if (q->edns)
		put_opt(&w, edns, 0, q->edns_do);
	if (w.full) {
		unsigned rcode = res->rcode;
		memset(res, 0, sizeof(*res));
		res->rcode = rcode;
		res->truncated = true;
		return build_stub(out, cap, q, rcode, true, edns);
	}
	patch16(&w, 2, reply_flags(q, res->rcode));
	patch16(&w, 6, kept[0]);
	patch16(&w, 8, kept[1]);
	patch16(&w, 10, (uint16_t)(kept[2] + (q->edns ? 1 : 0)));
	res->nnames = chain.n;
	for (unsigned i = 0; i < chain.n; i++)
		if (name_text(res->names[i], chain.wire[i]) < 0)
			res->names[i][0] = 0;
	return (int)w.len;
}

int msb_dns_tcp_next(size_t *msglen, const uint8_t *buf, size_t len)
{
	if (len < 2)
		return 0;
	size_t n = rd16(buf);
	if (n < MSB_DNS_HEADER_LEN)
		return -1;
	if (len - 2 < n)
		return 0;
	*msglen = n;
	return 1;
}

int msb_dns_tcp_frame(uint8_t *out, size_t cap, const uint8_t *msg, size_t n)
{
	if (n > MSB_DNS_MSG_MAX || cap < 2 || cap - 2 < n)
		return MSB_DNS_ESPACE;
	memmove(out + 2, msg, n);
	out[0] = (uint8_t)(n >> 8);
	out[1] = (uint8_t)n;
	return (int)n + 2;
}
