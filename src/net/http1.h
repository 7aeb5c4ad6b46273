/* SPDX-License-Identifier: Apache-2.0 */
/* HTTP/1.1 request and response heads, chunked bodies, and secret
 * substitution in requests. Pure: no I/O, no allocation. */
#ifndef MSB_NET_HTTP1_H
#define MSB_NET_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * DOC: Reading requests
 *
 * Input: the bytes of a client's stream from the first byte of a request
 * (the first one on the connection, or the first byte after the previous
 * request's body). msb_http1_parse() reads one request head and says how
 * long it is (@head_len) and how its body is framed; the caller forwards
 * the head, then the body (@content_length bytes, or chunks followed
 * through msb_http1_chunked_feed()), then parses the next request from
 * the byte after it. Pipelined requests are thus read one at a time.
 *
 * The parser is strict where a lax one would let a request mean one thing
 * to us and another to the server (RFC 9112 smuggling cases): lines end
 * in CRLF (a bare CR or LF is BAD), no obsolete line folding, no
 * whitespace before a header's colon, no control characters, one Host at
 * most (exactly one in HTTP/1.1), Content-Length digits only and never
 * with Transfer-Encoding, a Transfer-Encoding whose last coding is
 * chunked and only in HTTP/1.1, versions HTTP/1.0 and HTTP/1.1 only.
 * Up to MSB_HTTP1_EMPTY_LINES_MAX empty lines before a request line are
 * skipped (RFC 9112 2.2); methods are at most MSB_HTTP1_METHOD_MAX.
 *
 * Answers: MSB_HTTP1_OK, MSB_HTTP1_NEED_MORE (a valid beginning: call
 * again with more bytes), MSB_HTTP1_BAD (@why: a static one-line
 * reason). A head longer than MSB_HTTP1_HEAD_MAX is BAD.
 *
 * Spans index the caller's buffer: keep it while using them.
 */

#define MSB_HTTP1_HEAD_MAX 65536 /* bytes, empty lines before it included */
#define MSB_HTTP1_HEADERS_MAX 128
#define MSB_HTTP1_METHOD_MAX 32
#define MSB_HTTP1_EMPTY_LINES_MAX 8 /* before a request line */

enum msb_http1_status {
	MSB_HTTP1_OK = 0,
	MSB_HTTP1_NEED_MORE,
	MSB_HTTP1_BAD,
};

enum msb_http1_body {
	MSB_HTTP1_BODY_NONE = 0, /* no body follows the head */
	MSB_HTTP1_BODY_LENGTH,   /* @content_length bytes follow */
	MSB_HTTP1_BODY_CHUNKED,  /* a chunked body follows */
	MSB_HTTP1_BODY_CLOSE,    /* responses: the body ends with the
				    connection */
};

struct msb_http1_span {
	uint32_t off; /* from the start of the buffer */
	uint32_t len;
};

struct msb_http1_header {
	struct msb_http1_span name;  /* a token, as sent */
	struct msb_http1_span value; /* without surrounding blanks */
};

struct msb_http1_req {
	size_t head_len; /* bytes up to the empty line's end */
	struct msb_http1_span method, target;
	int minor; /* HTTP/1.<minor>: 0 or 1 */
	size_t n_headers;
	struct msb_http1_header headers[MSB_HTTP1_HEADERS_MAX];
	int host; /* index of the Host header, or -1 */
	enum msb_http1_body body;
	uint64_t content_length; /* MSB_HTTP1_BODY_LENGTH */
	bool keep_alive;         /* the connection stays open after it */
	bool is_connect;         /* method CONNECT: a tunnel follows a 2xx */
	bool upgrade;         /* Connection: upgrade with an Upgrade header */
	bool expect_continue; /* Expect: 100-continue */
	const char *why;      /* MSB_HTTP1_BAD */
};

/*
 * msb_http1_parse() - read the request head at the start of the @len
 * bytes at @buf into @r (see DOC above). @scan (may be NULL) makes a
 * byte-by-byte arrival cost linear time: start it at 0 and pass it back
 * with the same buffer grown; NEED_MORE leaves in it where the search
 * for the head's end resumes, OK and BAD reset it to 0.
 * Return: an enum msb_http1_status.
 */
enum msb_http1_status msb_http1_parse(struct msb_http1_req *r,
				      const uint8_t *buf, size_t len,
				      size_t *scan);

/* msb_http1_header_is() - header @i of @r is named @name (any case). */
bool msb_http1_header_is(const struct msb_http1_req *r, const uint8_t *buf,
			 size_t i, const char *name);

/*
 * DOC: Reading responses
 *
 * msb_http1_parse_response() reads the response head at the start of a
 * server's stream (the first byte on the connection, or the first byte
 * after the previous response's body) the same way msb_http1_parse()
 * reads a request: the same line rules (CRLF only, no folding, no
 * control characters, no whitespace before a colon), the same limits
 * (MSB_HTTP1_HEAD_MAX bytes, MSB_HTTP1_HEADERS_MAX headers), the same
 * answers and the same @scan. The status line is "HTTP/1.0" or
 * "HTTP/1.1", a space, three digits 100-599, then a space and a reason
 * phrase (or nothing: "HTTP/1.1 200" is taken). No empty line may come
 * before it.
 *
 * Its body, from the request's method and the head (RFC 9112 6.3):
 *   - a 1xx, 204 or 304, or any answer to HEAD: none;
 *   - 101, or a 2xx to CONNECT: none, and @tunnel (the connection is
 *     raw bytes from now on, both ways);
 *   - other 1xx: none, and @interim: the final response's head follows;
 *   - Transfer-Encoding whose last coding is chunked: chunked; another
 *     last coding: MSB_HTTP1_BODY_CLOSE;
 *   - Content-Length: that many bytes;
 *   - neither: MSB_HTTP1_BODY_CLOSE (and @keep_alive false).
 * Whatever the status, the head is BAD (a response that could mean two
 * things) with both Content-Length and Transfer-Encoding, a Content-Length
 * that is not digits only (at most 18), two Content-Lengths that differ,
 * Transfer-Encoding in HTTP/1.0, chunked twice, or an empty transfer
 * coding.
 * @keep_alive: HTTP/1.1 without "Connection: close", or HTTP/1.0 with
 * "Connection: keep-alive"; false when the body ends with the connection
 * or @tunnel is set.
 */
struct msb_http1_resp {
	size_t head_len; /* bytes up to the empty line's end */
	int status;      /* 100-599 */
	int minor;       /* HTTP/1.<minor>: 0 or 1 */
	enum msb_http1_body body;
	uint64_t content_length; /* MSB_HTTP1_BODY_LENGTH */
	bool keep_alive;         /* another response may follow this one */
	bool interim;            /* 1xx but 101: another head follows */
	bool tunnel;             /* 2xx to CONNECT, or 101 */
	const char *why;         /* MSB_HTTP1_BAD: a static one-line reason */
};

/*
 * msb_http1_parse_response() - read the response head at the start of
 * the @len bytes at @buf into @r (see DOC above). @method is the method
 * of the request it answers (NUL-terminated, any case; NULL: neither
 * HEAD nor CONNECT). @scan as for msb_http1_parse().
 * Return: an enum msb_http1_status.
 */
enum msb_http1_status msb_http1_parse_response(struct msb_http1_resp *r,
					       const uint8_t *buf, size_t len,
					       size_t *scan,
					       const char *method);

/*
 * DOC: Chunked bodies
 *
 * struct msb_http1_chunked follows a chunked body (RFC 9112 7.1) through
 * the bytes given to it in order, to find where it ends: chunk sizes in
 * hex (at most 15 digits), chunk extensions and trailer lines (each at
 * most MSB_HTTP1_LINE_MAX bytes), CRLF line ends. Start it zeroed.
 */
#define MSB_HTTP1_LINE_MAX 4096

struct msb_http1_chunked {
	int state;
	uint64_t left;  /* bytes left in the current chunk */
	unsigned count; /* digits, or bytes on the current line */
};

/*
 * msb_http1_chunked_feed() - the next @len bytes of the body at @buf.
 * Sets *@used to the bytes that belong to the body: all @len on
 * NEED_MORE, up to the body's last byte on OK (the next request starts
 * after them).
 * Return: MSB_HTTP1_OK (the body has ended), MSB_HTTP1_NEED_MORE, or
 * MSB_HTTP1_BAD (then @c->state stays bad).
 */
enum msb_http1_status msb_http1_chunked_feed(struct msb_http1_chunked *c,
					     const uint8_t *buf, size_t len,
					     size_t *used);

/*
 * msb_http1_chunked_decode() - msb_http1_chunked_feed() (the same state
 * machine: mix calls freely) that also copies the chunks' data, and
 * nothing else, to @out (@cap bytes): *@out_len gets how many bytes it
 * wrote. It consumes only as much input as @out has room for: a
 * NEED_MORE with *@used < @len means @out is full; call again with the
 * bytes from @buf + *@used and room.
 * Return: as msb_http1_chunked_feed().
 */
enum msb_http1_status msb_http1_chunked_decode(struct msb_http1_chunked *c,
					       const uint8_t *buf, size_t len,
					       size_t *used, uint8_t *out,
					       size_t cap, size_t *out_len);

/*
 * DOC: Secrets and their placeholders
 *
 * A secret has a NAME ([A-Z_][A-Z0-9_]*, at most MSB_SECRET_NAME_MAX
 * characters), a value that the guest never sees, and the hosts it may
 * be sent to ("api.example.com" exactly, or "*.example.com": any name
 * under example.com, not example.com itself; any case). The guest sees
 * a placeholder instead of the value:
 *
 *   $MSB_<NAME>_<16 lowercase hex digits>
 *
 * The hex digits are random, drawn for each secret when the sandbox is
 * created, so the placeholder cannot occur by chance in a request (the
 * issue's bare "$MSB_<NAME>" could: a shell script or documentation sent
 * as text). All of it is letters, digits, '_' and '$': it passes through
 * shells, URLs (as "%24MSB_..." too) and headers unchanged.
 *
 * msb_http1_substitute() looks for placeholders in a parsed request head:
 * in the request target (as "$MSB_..." or "%24MSB_..."), in header
 * values, and inside "Authorization: Basic" and "Proxy-Authorization:
 * Basic" credentials (base64 decoded, substituted, encoded again). A
 * request that carries one is rewritten only when all of these hold for
 * every secret it carries; otherwise it is blocked, with the first
 * failed rule as the reason:
 *   - it came through intercepted TLS (@ctx->sni is set: not plain HTTP);
 *   - the TLS server name matches one of the secret's hosts;
 *   - the Host header (and the authority of an absolute target) is that
 *     name, with an optional port;
 *   - the destination address was resolved through the sandbox's DNS for
 *     that name (@ctx->dest_resolved, which the caller knows);
 *   - it is not a CONNECT, and no placeholder is in the method or in a
 *     header name;
 *   - in a header, the value has no control character (CR, LF, NUL...).
 * In the target the value is percent-encoded (all but ALPHA DIGIT
 * "-._~"); in headers it goes as it is. Bodies are not looked at.
 */
#define MSB_SECRET_NAME_MAX 64
#define MSB_SECRET_NONCE_HEX 16
/* "$MSB_" NAME "_" NONCE and the NUL */
#define MSB_SECRET_PLACEHOLDER_MAX                                             \
	(5 + MSB_SECRET_NAME_MAX + 1 + MSB_SECRET_NONCE_HEX + 1)
#define MSB_SECRET_VALUE_MAX 4096
#define MSB_SECRETS_MAX 64

struct msb_secret {
	const char *name;        /* NAME */
	const char *placeholder; /* from msb_secret_placeholder() */
	const uint8_t *value;    /* at most MSB_SECRET_VALUE_MAX bytes */
	size_t value_len;
	const char *const *hosts; /* "host" or "*.suffix" */
	size_t n_hosts;
};

/* msb_secret_name_ok() - @name is a valid secret NAME. */
bool msb_secret_name_ok(const char *name);

/*
 * msb_secret_placeholder() - the placeholder of secret @name with the
 * random @nonce (MSB_SECRET_NONCE_HEX / 2 bytes) in @out (@cap bytes, at
 * least MSB_SECRET_PLACEHOLDER_MAX).
 * Return: 0, or -1 if @name is not valid or @cap too small.
 */
int msb_secret_placeholder(char *out, size_t cap, const char *name,
			   const uint8_t nonce[MSB_SECRET_NONCE_HEX / 2]);

/* msb_secret_host_match() - @host (a lowercase or mixed-case DNS name)
 * is one of @s's hosts. */
bool msb_secret_host_match(const struct msb_secret *s, const char *host);

enum msb_http1_verdict {
	MSB_HTTP1_PASS = 0, /* no placeholder: forward the head unchanged */
	MSB_HTTP1_REWRITE,  /* forward the rewritten head in @out instead */
	MSB_HTTP1_BLOCK,    /* answer 403 with @why; forward nothing */
};

struct msb_http1_ctx {
	const char *sni;    /* the intercepted TLS server name; NULL: plain */
	bool dest_resolved; /* the destination came from the sandbox's DNS
			       answer for @sni */
};

/*
 * msb_http1_substitute() - secrets into the request head @r parsed from
 * @buf (see DOC above). On MSB_HTTP1_REWRITE, @out (@cap bytes) holds
 * the new head (the bytes @buf[0..@r->head_len) stand for) and *@out_len
 * its length. *@used gets bit i set for each secret i substituted (also
 * 0 on PASS and BLOCK). On BLOCK, @why (@whylen bytes) holds a one-line
 * reason that names the secret but never its value; untrusted names in
 * it are shown with anything but printable ASCII as '?'. A head that
 * would not fit in @cap, or more than MSB_SECRETS_MAX secrets, is
 * BLOCK too.
 */
enum msb_http1_verdict
msb_http1_substitute(uint8_t *out, size_t cap, size_t *out_len, uint64_t *used,
		     char *why, size_t whylen, const struct msb_http1_req *r,
		     const uint8_t *buf, const struct msb_secret *secrets,
		     size_t n_secrets, const struct msb_http1_ctx *ctx);

/*
 * msb_secret_find() - the index of the first of the @n secrets at @s
 * whose placeholder without its leading '$' ("MSB_<NAME>_<hex>") occurs
 * in the @len bytes at @buf, so that "$MSB_...", "%24MSB_..." and a DNS
 * label "msb_..." all count; with @nocase in any case (DNS names).
 * Secrets whose placeholder does not start with "$MSB_" never match.
 * Time: O(@n * @len).
 * Return: the index, or -1 if none occurs.
 */
int msb_secret_find(const uint8_t *buf, size_t len, const struct msb_secret *s,
		    size_t n, bool nocase);

/*
 * DOC: Secrets in bodies
 *
 * A secret whose owner opted in ("body": true) may be substituted in a
 * request body too. The caller buffers the whole body (decoding a
 * chunked one with msb_http1_chunked_decode()), then
 * msb_http1_body_substitute() replaces the placeholders "$MSB_..." of
 * the secrets it is allowed to (the request passed the rules of
 * msb_http1_substitute() for that host and those secrets opted in), and
 * msb_http1_reframe() gives the head its new length. Only the exact
 * "$MSB_..." form is replaced in a body (not "%24MSB_..."): a body's
 * encoding is the application's. A placeholder of any other secret
 * blocks the request. The caller sends the reframed head (and never the
 * old one) followed by the new body.
 */

/*
 * msb_http1_body_substitute() - the @len bytes of body at @body with the
 * placeholder of every secret i with bit i set in @allowed replaced by
 * its value, into @out (@cap bytes); *@out_len its length, *@used the
 * secrets replaced (both 0 on PASS and BLOCK). A placeholder of a secret
 * not in @allowed is BLOCK, with @why (@whylen bytes) naming the secret
 * (never a value); so is a body that would not fit in @cap, or more
 * than MSB_SECRETS_MAX secrets.
 * Return: MSB_HTTP1_PASS (no placeholder: @out untouched, send @body as
 * it is), MSB_HTTP1_REWRITE or MSB_HTTP1_BLOCK.
 */
enum msb_http1_verdict msb_http1_body_substitute(
	uint8_t *out, size_t cap, size_t *out_len, uint64_t *used, char *why,
	size_t whylen, const uint8_t *body, size_t len,
	const struct msb_secret *secrets, size_t n, uint64_t allowed);

/*
 * msb_http1_reframe() - the head of @r (parsed from @buf) with its
 * framing replaced by "Content-Length: @n": every Content-Length and
 * Transfer-Encoding header line dropped, the new one written last,
 * before the empty line; everything else byte for byte. Into @out
 * (@cap bytes), *@out_len its length.
 * Return: 0, or -1 if it does not fit, or @r has a Transfer-Encoding
 * coding other than chunked (a gzip body cannot be sent without it).
 */
int msb_http1_reframe(uint8_t *out, size_t cap, size_t *out_len,
		      const struct msb_http1_req *r, const uint8_t *buf,
		      uint64_t n);

#endif
