/* SPDX-License-Identifier: Apache-2.0 */
/* DNS messages: parse a guest's query, build local replies, filter upstream
 * answers (rebinding protection, CNAME chains to pin). Pure, no I/O. */
#ifndef MSB_NET_DNS_H
#define MSB_NET_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/addr.h"

/*
 * Limits. A name is at most 255 octets on the wire (length octets and the
 * root included), a label at most 63; its text form (lowercase, dotted, no
 * trailing dot, the root is "") is then at most 253 characters.
 */
#define MSB_DNS_NAME_MAX 255
#define MSB_DNS_LABEL_MAX 63
#define MSB_DNS_TEXT_MAX 254 /* 253 characters and the NUL */
/* Compression pointers followed while reading one name. */
#define MSB_DNS_JUMPS_MAX 32
/* Names of a CNAME chain followed from the question (the question too). */
#define MSB_DNS_CHAIN_MAX 16
/* A/AAAA records of the chain kept (and reported) from one answer. */
#define MSB_DNS_ADDRS_MAX 64
#define MSB_DNS_HEADER_LEN 12
/* A DNS message over UDP without EDNS, and the EDNS size netd uses (the
 * 2020 flag day's value: no IP fragmentation on usual paths). */
#define MSB_DNS_UDP_MIN 512
#define MSB_DNS_EDNS_SIZE 1232
#define MSB_DNS_MSG_MAX 65535

/* The local name that resolves to the gateway (the `host` group). */
#define MSB_DNS_HOST_NAME "host.microsandbox.internal"

enum {
	MSB_DNS_RCODE_NOERROR = 0,
	MSB_DNS_RCODE_FORMERR = 1,
	MSB_DNS_RCODE_SERVFAIL = 2,
	MSB_DNS_RCODE_NXDOMAIN = 3,
	MSB_DNS_RCODE_NOTIMP = 4,
	MSB_DNS_RCODE_REFUSED = 5,
	MSB_DNS_RCODE_BADVERS = 16, /* extended, EDNS only */
};

enum {
	MSB_DNS_TYPE_A = 1,
	MSB_DNS_TYPE_NS = 2,
	MSB_DNS_TYPE_CNAME = 5,
	MSB_DNS_TYPE_SOA = 6,
	MSB_DNS_TYPE_PTR = 12,
	MSB_DNS_TYPE_MX = 15,
	MSB_DNS_TYPE_TXT = 16,
	MSB_DNS_TYPE_AAAA = 28,
	MSB_DNS_TYPE_SRV = 33,
	MSB_DNS_TYPE_OPT = 41,
	MSB_DNS_TYPE_ANY = 255,
	MSB_DNS_CLASS_IN = 1,
};

/* Negative results. */
enum {
	MSB_DNS_DROP = -1,       /* parse_query: not a query, send nothing */
	MSB_DNS_EMALFORMED = -2, /* filter: answer is malformed (SERVFAIL) */
	MSB_DNS_EMISMATCH = -3,  /* filter: not the answer to this query */
	MSB_DNS_ESPACE = -4,     /* output buffer too small for any reply */
};

/**
 * struct msb_dns_query - a guest's query, as parsed
 * @id:           the query's id
 * @flags:        the query's header flags word (opcode, RD, CD...)
 * @has_question: the question below was read (a reply then echoes it)
 * @qtype:        question type
 * @qclass:       question class
 * @qwire:        question name in wire form, uncompressed, case as sent
 * @qwire_len:    its length (the root octet included)
 * @name:         question name as text: lowercase, no trailing dot, ""
 *                for the root (valid when msb_dns_parse_query() returned 0)
 * @edns:         the query has a well-formed OPT record (EDNS)
 * @edns_size:    the UDP payload size it advertises
 * @edns_version: its EDNS version
 * @edns_do:      its DO bit
 */
struct msb_dns_query {
	uint16_t id;
	uint16_t flags;
	bool has_question;
	uint16_t qtype;
	uint16_t qclass;
	uint8_t qwire[MSB_DNS_NAME_MAX];
	size_t qwire_len;
	char name[MSB_DNS_TEXT_MAX];
	bool edns;
	uint16_t edns_size;
	uint8_t edns_version;
	bool edns_do;
};

/**
 * msb_dns_parse_query() - parse a query from the guest
 * @q:   out: the query (filled as far as the message could be read)
 * @buf: the message (without TCP's length prefix)
 * @len: its length
 *
 * Accepts a standard query (opcode QUERY) with exactly one question of
 * class IN, no answer or authority records, and additional records that
 * are well formed, of which at most one OPT. Names are read with
 * compression pointers bounded: a pointer must point before the start of
 * the part of the name that holds it and after the header (so no loops), at
 * most MSB_DNS_JUMPS_MAX of them, labels of at most 63 octets, names of at
 * most 255. Bytes past the last record are ignored (a reply is always built
 * anew, never copied). A question name whose labels hold other bytes than
 * printable ASCII, or a dot or a backslash, is refused: it has no
 * unambiguous text form to match rules against.
 *
 * Return: 0 for a query to answer; MSB_DNS_DROP when nothing may be sent
 * back (shorter than a header, or a response); otherwise the rcode to
 * reply with through msb_dns_build_reply(): MSB_DNS_RCODE_FORMERR
 * (malformed), MSB_DNS_RCODE_NOTIMP (other opcode, class or a zone
 * transfer), MSB_DNS_RCODE_REFUSED (name without a text form) or
 * MSB_DNS_RCODE_BADVERS (EDNS version other than 0).
 */
int msb_dns_parse_query(struct msb_dns_query *q, const uint8_t *buf,
			size_t len);

/**
 * msb_dns_udp_limit() - the largest UDP reply this query's sender accepts
 * @q: a parsed query
 *
 * Return: 512 without EDNS, else its EDNS size within [512, 1232].
 */
size_t msb_dns_udp_limit(const struct msb_dns_query *q);

/**
 * msb_dns_build_reply() - build a reply without records
 * @out:   output buffer
 * @cap:   its size
 * @q:     the query (after msb_dns_parse_query(), whatever it returned
 *         but MSB_DNS_DROP)
 * @rcode: the response code (NXDOMAIN for a blocked name, REFUSED for a
 *         name the policy does not let resolve, SERVFAIL, FORMERR...)
 *
 * The reply has the query's id, opcode, RD and CD bits, RA set, the
 * question if it was read, and an OPT record if the query had one.
 *
 * Return: the reply's length, or MSB_DNS_ESPACE.
 */
int msb_dns_build_reply(uint8_t *out, size_t cap, const struct msb_dns_query *q,
			unsigned rcode);

/**
 * msb_dns_build_addr_reply() - answer a local name with addresses
 * @out:   output buffer
 * @cap:   its size (a reply that does not fit is a truncated one)
 * @q:     the parsed query (msb_dns_parse_query() returned 0)
 * @addrs: the addresses of the name (e.g. the gateway's)
 * @n:     how many
 * @ttl:   their TTL in seconds
 *
 * An A query gets the IPv4 addresses of @addrs, AAAA the IPv6 ones, ANY
 * both; another type, or none of the family, gets NOERROR without records.
 *
 * Return: the reply's length, or MSB_DNS_ESPACE.
 */
int msb_dns_build_addr_reply(uint8_t *out, size_t cap,
			     const struct msb_dns_query *q,
			     const struct msb_net_addr *addrs, size_t n,
			     uint32_t ttl);

/**
 * msb_dns_build_query() - build the query netd sends upstream
 * @out:       output buffer
 * @cap:       its size
 * @q:         the guest's parsed query (msb_dns_parse_query() returned 0)
 * @id:        the id to use upstream
 * @edns_size: UDP size to advertise in an OPT record, 0 for none
 *
 * The query is rebuilt, never forwarded as the guest wrote it: header with
 * RD (and the guest's CD), the question with its name lowercased, and an
 * optional OPT record without options.
 *
 * Return: the query's length, or MSB_DNS_ESPACE.
 */
int msb_dns_build_query(uint8_t *out, size_t cap, const struct msb_dns_query *q,
			uint16_t id, uint16_t edns_size);

/**
 * struct msb_dns_pin - one address an answer keeps for the guest
 * @addr:  the address (A or AAAA record of the chain)
 * @ttl:   seconds it may be used: its record's TTL, lowered to that of the
 *         CNAME records leading to it
 * @depth: it belongs to names[0..@depth] of struct msb_dns_answer
 */
struct msb_dns_pin {
	struct msb_net_addr addr;
	uint32_t ttl;
	unsigned depth;
};

/**
 * struct msb_dns_answer - what msb_dns_filter_answer() found
 * @rcode:     the upstream's response code
 * @truncated: the reply is a truncated stub (header and question with TC
 *             set: the guest retries over TCP); nothing to pin
 * @dropped:   records removed (rejected addresses, A/AAAA records not on
 *             the question's CNAME chain or past MSB_DNS_ADDRS_MAX, other
 *             classes than IN)
 * @nnames:    names of the chain: names[0] is the question's, names[i+1]
 *             the CNAME target of names[i]; "" for a name without a text
 *             form (not to be pinned)
 * @names:     the chain's names, lowercase text
 * @naddrs:    addresses kept in the answer section
 * @addrs:     them, each with the chain names it is pinned to
 */
struct msb_dns_answer {
	unsigned rcode;
	bool truncated;
	unsigned dropped;
	unsigned nnames;
	char names[MSB_DNS_CHAIN_MAX][MSB_DNS_TEXT_MAX];
	unsigned naddrs;
	struct msb_dns_pin addrs[MSB_DNS_ADDRS_MAX];
};

/**
 * struct msb_dns_filter - how to filter an upstream answer
 * @keep:      NULL or a callback that says whether an address of an A or
 *             AAAA record (in any section) may reach the guest; a record
 *             it rejects is removed (rebinding protection)
 * @userdata:  passed to @keep
 * @ttl_max:   if not 0, the TTLs of the answer section's A, AAAA and
 *             CNAME records are lowered to it (so that the guest does not
 *             cache an address longer than it is pinned)
 * @edns_size: UDP size put in the reply's OPT record (when the guest's
 *             query had one); 0 for MSB_DNS_EDNS_SIZE
 */
struct msb_dns_filter {
	bool (*keep)(const struct msb_net_addr *addr, void *userdata);
	void *userdata;
	uint32_t ttl_max;
	uint16_t edns_size;
};

/**
 * msb_dns_filter_answer() - check and filter an upstream answer
 * @out: output buffer: the reply for the guest
 * @cap: its size: the guest's limit (msb_dns_udp_limit() over UDP,
 *       65535 over TCP); a reply that does not fit is truncated to a stub
 *       with TC set
 * @res: out: what was kept, and the names to pin the addresses to
 * @f:   the filter
 * @q:   the guest's parsed query (msb_dns_parse_query() returned 0)
 * @id:  the id the query was sent upstream with
 * @ans: the upstream's answer (without TCP's length prefix)
 * @len: its length
 *
 * The answer must be a response (QR) to a standard query with @id and the
 * same question as @q (name compared without case). Every record of every
 * section is read with bounds, and the reply is rebuilt from them with the
 * guest's id, question and EDNS, its names compressed anew: A/AAAA records
 * that @f->keep rejects are removed from every section; in the answer
 * section, the CNAME chain is followed from the question's name (at most
 * MSB_DNS_CHAIN_MAX names, stopping at a loop) and only the A/AAAA records
 * owned by a name of the chain are kept (at most MSB_DNS_ADDRS_MAX) and
 * reported in @res; the upstream's OPT record is replaced by ours. An
 * answer with TC set becomes a stub with TC set; an answer with an
 * extended rcode becomes a SERVFAIL stub. Bytes past the last record are
 * ignored.
 *
 * Return: the reply's length; MSB_DNS_EMISMATCH if @ans does not answer
 * @q (wrong id, question, opcode, or not a response: ignore it);
 * MSB_DNS_EMALFORMED if it is malformed (counts beyond the message,
 * truncated record, bad name, record data that does not match its type,
 * several OPT records...: reply SERVFAIL); MSB_DNS_ESPACE if @cap cannot
 * hold even a stub. @res is only meaningful when a length is returned.
 */
int msb_dns_filter_answer(uint8_t *out, size_t cap, struct msb_dns_answer *res,
			  const struct msb_dns_filter *f,
			  const struct msb_dns_query *q, uint16_t id,
			  const uint8_t *ans, size_t len);

/**
 * msb_dns_tcp_next() - find a message in a DNS-over-TCP stream
 * @msglen: out: the length of the message at @buf + 2
 * @buf:    bytes received so far (starting at a length prefix)
 * @len:    how many
 *
 * Return: 1 if a whole message is there (it and its prefix take @msglen +
 * 2 bytes), 0 if more bytes are needed, -1 if the prefix says 0 (or less
 * than a header: the stream is broken, close it).
 */
int msb_dns_tcp_next(size_t *msglen, const uint8_t *buf, size_t len);

/**
 * msb_dns_tcp_frame() - put a message behind its TCP length prefix
 * @out: output buffer (@msg may be @out + 2 or anywhere in it)
 * @cap: its size
 * @msg: the message
 * @n:   its length (at most 65535)
 *
 * Return: @n + 2, or MSB_DNS_ESPACE.
 */
int msb_dns_tcp_frame(uint8_t *out, size_t cap, const uint8_t *msg, size_t n);

#endif
