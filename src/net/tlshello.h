/* SPDX-License-Identifier: Apache-2.0 */
/* A TLS ClientHello, read from the first bytes a client sends. Pure: no
 * I/O, no allocation. */
#ifndef MSB_NET_TLSHELLO_H
#define MSB_NET_TLSHELLO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * DOC: Reading a ClientHello
 *
 * Input: the bytes a TCP client has sent so far, from the first byte of
 * the connection (all of them, not only the new ones: the caller keeps
 * them until it has a verdict). The parser walks the TLS records
 * (content type 22, handshake), joins their fragments into one handshake
 * message, and reads that message as a ClientHello (RFC 8446 4.1.2, RFC
 * 5246 7.4.1.2). A ClientHello may be split across records and across
 * TCP segments; until its last byte has arrived the answer is NEED_MORE.
 *
 * Answers:
 * - MSB_TLS_HELLO_NEED_MORE: what has arrived is a valid beginning; call
 *   again with more bytes.
 * - MSB_TLS_HELLO_OK: a ClientHello; @consumed is the length of the
 *   records that carried it.
 * - MSB_TLS_HELLO_NOT_TLS: the first bytes are not a TLS handshake record
 *   (plain HTTP, SSH, SSLv2...). Decided from the first 3 bytes at most.
 * - MSB_TLS_HELLO_BAD: TLS, but malformed (a length that does not add up,
 *   a duplicated extension, a record of another type in the middle, a
 *   handshake message other than ClientHello, more than
 *   MSB_TLS_HELLO_MAX bytes...).
 *
 * NOT_TLS and BAD set @why to a static one-line reason. NEED_MORE sets
 * @want to the length below which the answer cannot change: a caller
 * fed small segments parses again only once it holds that many bytes,
 * so the work per hello stays linear (with MSB_TLS_HELLO_RECORDS_MAX
 * records at most, a guest dripping bytes cannot make it quadratic).
 *
 * What is kept: the legacy record and hello versions, the
 * supported_versions list (RFC 8446 4.2.1), the server name (RFC 6066
 * host_name: the raw bytes, and whether they form a valid DNS name, then
 * lowercased in @sni), the ALPN protocol list (RFC 7301) and whether an
 * encrypted_client_hello extension is present (then the server name is
 * the outer, public one). The rest of the message is checked for
 * framing only.
 */

/* The longest handshake message accepted (header included). Real ones are
 * under 2 KiB; a few hundred PSK identities could exceed it. */
#define MSB_TLS_HELLO_MAX 16384

/* A hello in more records than this is BAD (real clients use one). */
#define MSB_TLS_HELLO_RECORDS_MAX 32

/* At most this many supported_versions entries are kept (all are read). */
#define MSB_TLS_VERSIONS_MAX 16

/* The ALPN list kept, in its wire form (each name: one length byte, then
 * the name). A longer list is still read; @alpn_cut is then set. */
#define MSB_TLS_ALPN_MAX 256

/* The longest host_name kept: a DNS name is at most 253 characters. */
#define MSB_TLS_SNI_MAX 255

enum msb_tls_hello_status {
	MSB_TLS_HELLO_OK = 0,
	MSB_TLS_HELLO_NEED_MORE,
	MSB_TLS_HELLO_NOT_TLS,
	MSB_TLS_HELLO_BAD,
};

struct msb_tls_hello {
	uint16_t record_version; /* of the first record, e.g. 0x0301 */
	uint16_t legacy_version; /* the hello's, e.g. 0x0303 */
	/* supported_versions, in the client's order (GREASE included) */
	uint16_t versions[MSB_TLS_VERSIONS_MAX];
	size_t n_versions; /* kept: at most MSB_TLS_VERSIONS_MAX */
	bool has_versions; /* the extension was present */

	bool has_sni;   /* a host_name was sent */
	bool sni_valid; /* ... and it is a DNS name (letters, digits, '-',
			   '_', dots between non-empty labels, <= 253) */
	size_t sni_raw_len;
	uint8_t sni_raw[MSB_TLS_SNI_MAX]; /* as sent: escape before printing */
	char sni[MSB_TLS_SNI_MAX + 1];    /* lowercased, "" unless sni_valid */

	bool has_alpn;
	size_t n_alpn;   /* names in the list (all of them) */
	bool alpn_cut;   /* the list was longer than @alpn holds */
	size_t alpn_len; /* bytes used in @alpn */
	uint8_t alpn[MSB_TLS_ALPN_MAX];

	bool has_ech; /* encrypted_client_hello (0xfe0d) present */

	size_t consumed; /* OK: bytes of the records that held the hello */
	size_t want;     /* NEED_MORE: parse again with at least this many */
	const char *why; /* NOT_TLS, BAD: a static reason */
};

/*
 * msb_tls_hello_parse() - read the ClientHello at the start of the @len
 * bytes at @buf (see DOC above) into @out, which is zeroed first.
 * Return: an enum msb_tls_hello_status.
 */
enum msb_tls_hello_status msb_tls_hello_parse(struct msb_tls_hello *out,
					      const uint8_t *buf, size_t len);

/*
 * msb_tls_hello_alpn_next() - iterate over the kept ALPN names: start
 * with *@pos = 0; each call sets *@name and *@n to the next name (not
 * NUL-terminated; it may hold any byte) and advances *@pos.
 * Return: true, or false after the last one.
 */
bool msb_tls_hello_alpn_next(const struct msb_tls_hello *h, size_t *pos,
			     const uint8_t **name, size_t *n);

/* msb_tls_hello_offers_alpn() - @proto (NUL-terminated) is in the list. */
bool msb_tls_hello_offers_alpn(const struct msb_tls_hello *h,
			       const char *proto);

/*
 * msb_tls_hello_max_version() - the highest version the client offers:
 * the highest non-GREASE entry of supported_versions when the extension
 * is present, else the legacy version. 0x0304 is TLS 1.3.
 */
uint16_t msb_tls_hello_max_version(const struct msb_tls_hello *h);

#endif
