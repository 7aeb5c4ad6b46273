// SPDX-License-Identifier: Apache-2.0
/*
 * HTTP/1.1 request and response heads, chunked bodies, secret
 * substitution. Pure.
 *
 * Theory of operation: msb_http1_parse() first finds the head's end (the
 * first CRLF CRLF within MSB_HTTP1_HEAD_MAX), then reads its lines once,
 * recording spans; until the end has arrived it checks the bytes so far
 * for characters no head may hold, so that garbage is refused early
 * rather than buffered. msb_http1_parse_response() shares the search
 * for the end (head_end()), the header lines (header_line()) and what
 * they say about framing (framing_add()), and records no spans.
 * msb_http1_chunked_feed() and _decode() are one state machine
 * (chunked_run()) that copies the data or not.
 *
 * msb_http1_substitute() makes two passes over a parsed head: the first
 * finds which secrets' placeholders it carries and where, and checks the
 * rules of each; only if all pass does the second copy the head into the
 * caller's buffer with the values in place. Every write to that buffer
 * is checked against its size. msb_http1_body_substitute() does the same
 * over a body, with one rule: the secret is allowed there.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "net/http1.h"

/* ---- characters ---- */

static bool is_tchar(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* A byte a field value may hold (VCHAR, obs-text, SP, HTAB). */
static bool is_vbyte(uint8_t c)
{
	return c == ' ' || c == '\t' || (c > 0x20 && c != 0x7f);
}

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

static bool span_is(const uint8_t *buf, struct msb_http1_span s, const char *w)
{
	size_t n = strlen(w);

	if (s.len != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower(buf[s.off + i]) != (uint8_t)w[i])
			return false;
	return true;
}

static bool bytes_ieq(const uint8_t *p, size_t n, const char *w)
{
	size_t k = strlen(w);

	if (n != k)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower(p[i]) != lower((uint8_t)w[i]))
			return false;
	return true;
}

/* ---- request heads ---- */

static enum msb_http1_status bad(struct msb_http1_req *r, const char *why)
{
	memset(r, 0, sizeof(*r));
	r->host = -1;
	r->why = why;
	return MSB_HTTP1_BAD;
}

bool msb_http1_header_is(const struct msb_http1_req *r, const uint8_t *buf,
			 size_t i, const char *name)
{
	return i < r->n_headers && span_is(buf, r->headers[i].name, name);
}

/* The comma-separated tokens of a header value, one at a time: *@pos
 * starts at 0; each call sets *@tok and *@n (OWS trimmed; may be empty). */
static bool next_token(const uint8_t *v, size_t len, size_t *pos,
		       const uint8_t **tok, size_t *n)
{
	size_t i = *pos, e;

	if (i > len)
		return false;
	for (e = i; e < len && v[e] != ','; e++)
		;
	*pos = e + 1;
	while (i < e && (v[i] == ' ' || v[i] == '\t'))
		i++;
	while (e > i && (v[e - 1] == ' ' || v[e - 1] == '\t'))
		e--;
	*tok = v + i;
	*n = e - i;
	return true;
}

/* The request line in [@s, @e) (CRLF excluded). */
static enum msb_http1_status parse_request_line(struct msb_http1_req *r,
						const uint8_t *buf, size_t s,
						size_t e)
{
	size_t i = s;

	while (i < e && is_tchar(buf[i]))
		i++;
	if (i == s || i == e || buf[i] != ' ')
		return bad(r, "malformed method");
	if (i - s > MSB_HTTP1_METHOD_MAX)
		return bad(r, "method is too long");
	r->method = (struct msb_http1_span){(uint32_t)s, (uint32_t)(i - s)};
	size_t t = ++i;
	while (i < e && buf[i] > 0x20 && buf[i] < 0x7f)
		i++;
	if (i == t || i == e || buf[i] != ' ')
		return bad(r, "malformed request target");
	r->target = (struct msb_http1_span){(uint32_t)t, (uint32_t)(i - t)};
	i++;
	if (e - i != 8 || memcmp(buf + i, "HTTP/1.", 7) ||
	    (buf[i + 7] != '0' && buf[i + 7] != '1'))
		return bad(r, "not HTTP/1.0 or HTTP/1.1");
	r->minor = buf[i + 7] - '0';
	return MSB_HTTP1_OK;
}

/* One header line in [@s, @e) into *@h, the @n-th (from 0) of its
 * head. Return: NULL, or why it is BAD. */
static const char *header_line(struct msb_http1_header *h, size_t n,
			       const uint8_t *buf, size_t s, size_t e)
{
	size_t i = s;

	if (buf[s] == ' ' || buf[s] == '\t')
		return "obsolete line folding";
	while (i < e && is_tchar(buf[i]))
		i++;
	if (i == s || i == e || buf[i] != ':')
		return "malformed header name";
	if (n >= MSB_HTTP1_HEADERS_MAX)
		return "too many headers";
	h->name = (struct msb_http1_span){(uint32_t)s, (uint32_t)(i - s)};
	i++;
	for (size_t k = i; k < e; k++)
		if (!is_vbyte(buf[k]))
			return "control character in a header value";
	while (i < e && (buf[i] == ' ' || buf[i] == '\t'))
		i++;
	while (e > i && (buf[e - 1] == ' ' || buf[e - 1] == '\t'))
		e--;
	h->value = (struct msb_http1_span){(uint32_t)i, (uint32_t)(e - i)};
	return NULL;
}

/* One header line of a request in [@s, @e). */
static enum msb_http1_status
parse_header(struct msb_http1_req *r, const uint8_t *buf, size_t s, size_t e)
{
	struct msb_http1_header h;
	const char *why = header_line(&h, r->n_headers, buf, s, e);

	if (why)
		return bad(r, why);
	r->headers[r->n_headers++] = h;
	return MSB_HTTP1_OK;
}

/* What the headers of a head say about framing and the connection,
 * gathered one header at a time by framing_add(). */
struct framing {
	bool has_cl, has_te;
	bool chunked_last;  /* the last transfer coding so far is chunked */
	bool chunked_early; /* one before another coding */
	bool chunked_seen, chunked_twice;
	uint64_t cl;
	bool conn_close, conn_keep, conn_upgrade;
};

/* Header @h of the head in @buf into @f. Return: NULL, or why the head
 * is BAD. */
static const char *framing_add(struct framing *f, const uint8_t *buf,
			       const struct msb_http1_header *h)
{
	const uint8_t *v = buf + h->value.off, *tok;
	size_t vn = h->value.len, pos = 0, tn;

	if (span_is(buf, h->name, "content-length")) {
		uint64_t n = 0;
		if (!vn || vn > 18)
			return "malformed Content-Length";
		for (size_t k = 0; k < vn; k++) {
			if (v[k] < '0' || v[k] > '9')
				return "malformed Content-Length";
			n = n * 10 + (uint64_t)(v[k] - '0');
		}
		if (f->has_cl && n != f->cl)
			return "conflicting Content-Length headers";
		f->has_cl = true;
		f->cl = n;
	} else if (span_is(buf, h->name, "transfer-encoding")) {
		f->has_te = true;
		while (next_token(v, vn, &pos, &tok, &tn)) {
			bool ch = bytes_ieq(tok, tn, "chunked");
			if (!tn)
				return "empty transfer coding";
			f->chunked_early |= f->chunked_last;
			f->chunked_twice |= f->chunked_seen && ch;
			f->chunked_seen |= ch;
			f->chunked_last = ch;
		}
	} else if (span_is(buf, h->name, "connection")) {
		while (next_token(v, vn, &pos, &tok, &tn)) {
			f->conn_close |= bytes_ieq(tok, tn, "close");
			f->conn_keep |= bytes_ieq(tok, tn, "keep-alive");
			f->conn_upgrade |= bytes_ieq(tok, tn, "upgrade");
		}
	}
	return NULL;
}

/* What the headers say about framing and the connection. */
static enum msb_http1_status parse_semantics(struct msb_http1_req *r,
					     const uint8_t *buf)
{
	struct framing f = {0};
	bool has_upgrade = false;
	const char *why;
	int hosts = 0;

	for (size_t i = 0; i < r->n_headers; i++) {
		const uint8_t *v = buf + r->headers[i].value.off;
		size_t vn = r->headers[i].value.len;

		if (msb_http1_header_is(r, buf, i, "host")) {
			if (hosts++)
				return bad(r, "more than one Host header");
			r->host = (int)i;
		} else if (msb_http1_header_is(r, buf, i, "upgrade")) {
			has_upgrade = true;
		} else if (msb_http1_header_is(r, buf, i, "expect")) {
			r->expect_continue |= bytes_ieq(v, vn, "100-continue");
		} else if ((why = framing_add(&f, buf, &r->headers[i]))) {
			return bad(r, why);
		}
		if (f.chunked_early)
			return bad(r, "chunked is not the last transfer "
				      "coding");
	}
	if (r->minor == 1 && !hosts)
		return bad(r, "no Host header");
	if (f.has_te && f.has_cl)
		return bad(r, "both Content-Length and Transfer-Encoding");
	if (f.has_te && r->minor == 0)
		return bad(r, "Transfer-Encoding in HTTP/1.0");
	if (f.has_te && !f.chunked_last)
		return bad(r, "the last transfer coding is not chunked");
	r->content_length = f.cl;
	r->body = f.has_te   ? MSB_HTTP1_BODY_CHUNKED
		  : f.has_cl ? MSB_HTTP1_BODY_LENGTH
			     : MSB_HTTP1_BODY_NONE;
	r->keep_alive =
		r->minor == 1 ? !f.conn_close : f.conn_keep && !f.conn_close;
	r->upgrade = f.conn_upgrade && has_upgrade;
	r->is_connect = span_is(buf, r->method, "connect");
	if (r->is_connect) {
		if (memchr(buf + r->target.off, '/', r->target.len))
			return bad(r, "CONNECT target is not host:port");
		if (r->body != MSB_HTTP1_BODY_NONE)
			return bad(r, "CONNECT with a body");
	}
	return MSB_HTTP1_OK;
}

/*
 * The end of the head whose first line starts at @s, in *@end (0: not
 * in the first @lim bytes; then *@resume: where to look next time): a
 * CRLF right after a CRLF. A bare CR or LF, or a control character
 * other than HTAB, anywhere is refused. Bytes before @from were checked
 * already. Return: NULL, or why the head is BAD.
 */
static const char *head_end(size_t *end, size_t *resume, const uint8_t *buf,
			    size_t s, size_t lim, size_t from)
{
	size_t i;

	*end = 0;
	for (i = from > s ? from : s; i < lim; i++) {
		uint8_t c = buf[i];
		if (c == '\n')
			return "bare LF";
		if (c == '\r') {
			if (i + 1 == lim)
				break; /* resume here: the LF may follow */
			if (buf[i + 1] != '\n')
				return "bare CR";
			if (i >= s + 2 && buf[i - 2] == '\r' &&
			    buf[i - 1] == '\n') {
				*end = i + 2;
				break;
			}
			i++; /* past the LF */
			continue;
		}
		if (c != '\t' && (c < 0x20 || c == 0x7f))
			return "control character in the head";
	}
	*resume = i;
	return NULL;
}

enum msb_http1_status msb_http1_parse(struct msb_http1_req *r,
				      const uint8_t *buf, size_t len,
				      size_t *scan)
{
	size_t s = 0, lim = len < MSB_HTTP1_HEAD_MAX ? len : MSB_HTTP1_HEAD_MAX;
	size_t end = 0, i, from = scan ? *scan : 0;
	enum msb_http1_status st;
	const char *why;

	if (scan)
		*scan = 0;
	memset(r, 0, sizeof(*r));
	r->host = -1;
	/* empty lines before the request line */
	for (int k = 0; s + 1 < lim && buf[s] == '\r' && buf[s + 1] == '\n';
	     k++) {
		if (k == MSB_HTTP1_EMPTY_LINES_MAX)
			return bad(r, "too many empty lines before a request");
		s += 2;
	}
	why = head_end(&end, &i, buf, s, lim, from);
	if (why)
		return bad(r, why);
	if (!end) {
		if (len >= MSB_HTTP1_HEAD_MAX)
			return bad(r, "request head is too long");
		/* a request line must start with a method */
		for (size_t k = s; k < lim && buf[k] != ' '; k++) {
			if (k - s == MSB_HTTP1_METHOD_MAX)
				return bad(r, "method is too long");
			if (!is_tchar(buf[k]) && buf[k] != '\r')
				return bad(r, "malformed method");
		}
		if (scan)
			*scan = i;
		return MSB_HTTP1_NEED_MORE;
	}
	/* lines: [s, e) each, CRLF after */
	for (size_t line = 0;; line++) {
		size_t e = s;
		while (buf[e] != '\r')
			e++;
		if (e == s)
			break; /* the empty line */
		st = line ? parse_header(r, buf, s, e)
			  : parse_request_line(r, buf, s, e);
		if (st != MSB_HTTP1_OK)
			return st;
		s = e + 2;
	}
	r->head_len = end;
	return parse_semantics(r, buf);
}

/* ---- response heads ---- */

static enum msb_http1_status rbad(struct msb_http1_resp *r, const char *why)
{
	memset(r, 0, sizeof(*r));
	r->why = why;
	return MSB_HTTP1_BAD;
}

/* The status line in [0, @e) (CRLF excluded), or its first @e bytes
 * when @partial. Return: NULL, or why it is BAD. */
static const char *status_line(struct msb_http1_resp *r, const uint8_t *buf,
			       size_t e, bool partial)
{
	static const char tmpl[] = "HTTP/1.x 000";

	for (size_t i = 0; i < e && i < 12; i++) {
		uint8_t c = buf[i];
		bool ok = i == 7   ? c == '0' || c == '1'
			  : i >= 9 ? c >= '0' && c <= '9'
				   : c == (uint8_t)tmpl[i];
		if (!ok)
			return i < 9 ? "not HTTP/1.0 or HTTP/1.1"
				     : "malformed status code";
	}
	if (e > 12 && buf[12] != ' ' && buf[12] != '\r')
		return "malformed status code";
	if (partial)
		return NULL;
	if (e < 12)
		return e < 9 ? "not HTTP/1.0 or HTTP/1.1"
			     : "malformed status code";
	r->minor = buf[7] - '0';
	r->status =
		(buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	if (r->status < 100 || r->status > 599)
		return "status code out of range";
	return NULL; /* the reason phrase: any bytes head_end() let pass */
}

static bool cstr_ieq(const char *a, const char *b)
{
	return a && bytes_ieq((const uint8_t *)a, strlen(a), b);
}

enum msb_http1_status msb_http1_parse_response(struct msb_http1_resp *r,
					       const uint8_t *buf, size_t len,
					       size_t *scan, const char *method)
{
	size_t lim = len < MSB_HTTP1_HEAD_MAX ? len : MSB_HTTP1_HEAD_MAX;
	size_t end, i, s, n = 0, from = scan ? *scan : 0;
	struct framing f = {0};
	const char *why;

	if (scan)
		*scan = 0;
	memset(r, 0, sizeof(*r));
	why = head_end(&end, &i, buf, 0, lim, from);
	if (why)
		return rbad(r, why);
	if (!end) {
		if (len >= MSB_HTTP1_HEAD_MAX)
			return rbad(r, "response head is too long");
		/* refuse early what cannot become a status line */
		why = status_line(r, buf, lim, true);
		if (why)
			return rbad(r, why);
		if (scan)
			*scan = i;
		return MSB_HTTP1_NEED_MORE;
	}
	/* lines: [s, e) each, CRLF after */
	for (s = 0;;) {
		size_t e = s;
		while (buf[e] != '\r')
			e++;
		if (!s) {
			why = status_line(r, buf, e, false);
		} else if (e == s) {
			break; /* the empty line */
		} else {
			struct msb_http1_header h;
			why = header_line(&h, n++, buf, s, e);
			if (!why)
				why = framing_add(&f, buf, &h);
		}
		if (why)
			return rbad(r, why);
		s = e + 2;
	}
	r->head_len = end;
	if (f.has_te && f.has_cl)
		return rbad(r, "both Content-Length and Transfer-Encoding");
	if (f.has_te && r->minor == 0)
		return rbad(r, "Transfer-Encoding in HTTP/1.0");
	if (f.chunked_twice)
		return rbad(r, "chunked more than once");
	bool head = cstr_ieq(method, "head");
	bool connect = cstr_ieq(method, "connect");
	if (r->status == 101 || (connect && r->status / 100 == 2))
		r->tunnel = true;
	else if (r->status / 100 == 1)
		r->interim = true;
	else if (head || r->status == 204 || r->status == 304)
		;
	else if (f.has_te)
		r->body = f.chunked_last ? MSB_HTTP1_BODY_CHUNKED
					 : MSB_HTTP1_BODY_CLOSE;
	else if (f.has_cl)
		r->body = MSB_HTTP1_BODY_LENGTH;
	else
		r->body = MSB_HTTP1_BODY_CLOSE;
	if (r->body == MSB_HTTP1_BODY_LENGTH)
		r->content_length = f.cl;
	r->keep_alive = (r->minor == 1 ? !f.conn_close
				       : f.conn_keep && !f.conn_close) &&
			r->body != MSB_HTTP1_BODY_CLOSE && !r->tunnel;
	return MSB_HTTP1_OK;
}

/* ---- chunked bodies ---- */

enum {
	CH_SIZE = 0, /* hex digits */
	CH_EXT,      /* after the size: extensions until CR */
	CH_SIZE_LF,
	CH_DATA,
	CH_DATA_CR,
	CH_DATA_LF,
	CH_TRAILER,    /* at the start of a trailer line */
	CH_TRAILER_IN, /* inside one */
	CH_TRAILER_LF,
	CH_END_LF, /* the final CRLF's LF */
	CH_DONE,
	CH_BAD,
};

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = lower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The state machine of msb_http1_chunked_feed() and _decode(): with
 * @out NULL nothing is copied and there is no limit on the data. */
static enum msb_http1_status chunked_run(struct msb_http1_chunked *c,
					 const uint8_t *buf, size_t len,
					 size_t *used, uint8_t *out, size_t cap,
					 size_t *out_len)
{
	size_t i = 0, o = 0;

	*used = 0;
	if (out_len)
		*out_len = 0;
	if (c->state == CH_BAD)
		return MSB_HTTP1_BAD;
	if (c->state == CH_DONE)
		return MSB_HTTP1_OK;
	while (i < len) {
		uint8_t b = buf[i];
		int h;

		switch (c->state) {
		case CH_SIZE:
			h = hexval(b);
			if (h >= 0) {
				if (++c->count > 15)
					goto fail;
				c->left = c->left * 16 + (uint64_t)h;
			} else if (!c->count) {
				goto fail;
			} else if (b == '\r') {
				c->state = CH_SIZE_LF;
			} else if (b == ';' || b == ' ' || b == '\t') {
				c->state = CH_EXT;
				c->count = 0;
			} else {
				goto fail;
			}
			i++;
			break;
		case CH_EXT:
			if (b == '\r')
				c->state = CH_SIZE_LF;
			else if (!is_vbyte(b) ||
				 ++c->count > MSB_HTTP1_LINE_MAX)
				goto fail;
			i++;
			break;
		case CH_SIZE_LF:
			if (b != '\n')
				goto fail;
			i++;
			c->count = 0;
			c->state = c->left ? CH_DATA : CH_TRAILER;
			break;
		case CH_DATA: {
			size_t k = len - i;
			if (k > c->left)
				k = (size_t)c->left;
			if (out) {
				if (k > cap - o)
					k = cap - o;
				if (!k) { /* @out is full */
					*used = i;
					*out_len = o;
					return MSB_HTTP1_NEED_MORE;
				}
				memcpy(out + o, buf + i, k);
				o += k;
			}
			i += k;
			c->left -= k;
			if (!c->left)
				c->state = CH_DATA_CR;
			break;
		}
		case CH_DATA_CR:
			if (b != '\r')
				goto fail;
			c->state = CH_DATA_LF;
			i++;
			break;
		case CH_DATA_LF:
			if (b != '\n')
				goto fail;
			c->state = CH_SIZE;
			c->count = 0;
			i++;
			break;
		case CH_TRAILER:
			if (b == '\r') {
				c->state = CH_END_LF;
			} else if (is_tchar(b)) {
				c->state = CH_TRAILER_IN;
				c->count = 1;
			} else {
				goto fail;
			}
			i++;
			break;
		case CH_TRAILER_IN:
			if (b == '\r')
				c->state = CH_TRAILER_LF;
			else if (!is_vbyte(b) ||
				 ++c->count > MSB_HTTP1_LINE_MAX)
				goto fail;
			i++;
			break;
		case CH_TRAILER_LF:
			if (b != '\n')
				goto fail;
			c->state = CH_TRAILER;
			i++;
			break;
		case CH_END_LF:
			if (b != '\n')
				goto fail;
			c->state = CH_DONE;
			*used = i + 1;
			if (out_len)
				*out_len = o;
			return MSB_HTTP1_OK;
		default:
			goto fail;
		}
	}
	*used = len;
	if (out_len)
		*out_len = o;
	return MSB_HTTP1_NEED_MORE;
fail:
	c->state = CH_BAD;
	if (out_len)
		*out_len = o;
	return MSB_HTTP1_BAD;
}

enum msb_http1_status msb_http1_chunked_feed(struct msb_http1_chunked *c,
					     const uint8_t *buf, size_t len,
					     size_t *used)
{
	return chunked_run(c, buf, len, used, NULL, 0, NULL);
}

enum msb_http1_status msb_http1_chunked_decode(struct msb_http1_chunked *c,
					       const uint8_t *buf, size_t len,
					       size_t *used, uint8_t *out,
					       size_t cap, size_t *out_len)
{
	return chunked_run(c, buf, len, used, out, cap, out_len);
}

/* ---- secrets ---- */

bool msb_secret_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (!n || n > MSB_SECRET_NAME_MAX || (name[0] >= '0' && name[0] <= '9'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((name[i] >= 'A' && name[i] <= 'Z') ||
		      (name[i] >= '0' && name[i] <= '9') || name[i] == '_'))
			return false;
	return true;
}

int msb_secret_placeholder(char *out, size_t cap, const char *name,
			   const uint8_t nonce[MSB_SECRET_NONCE_HEX / 2])
{
	static const char hex[] = "0123456789abcdef";
	size_t n;

	if (!msb_secret_name_ok(name) || cap < MSB_SECRET_PLACEHOLDER_MAX)
		return -1;
	n = (size_t)snprintf(out, cap, "$MSB_%s_", name);
	for (size_t i = 0; i < MSB_SECRET_NONCE_HEX / 2; i++) {
		out[n++] = hex[nonce[i] >> 4];
		out[n++] = hex[nonce[i] & 15];
	}
	out[n] = '\0';
	return 0;
}

/* @a (@n bytes) and NUL-terminated @b are the same name, any case. */
static bool name_eq(const char *a, size_t n, const char *b)
{
	return bytes_ieq((const uint8_t *)a, n, b);
}

bool msb_secret_host_match(const struct msb_secret *s, const char *host)
{
	size_t hn = strlen(host);

	if (!hn)
		return false;
	for (size_t i = 0; i < s->n_hosts; i++) {
		const char *p = s->hosts[i];
		if (!p[0] || !strcmp(p, "*.") || !strcmp(p, "*"))
			continue; /* never "any host" */
		if (p[0] == '*' && p[1] == '.') {
			size_t sn = strlen(p + 1); /* ".suffix" */
			if (hn > sn && name_eq(host + hn - sn, sn, p + 1))
				return true;
		} else if (name_eq(host, hn, p)) {
			return true;
		}
	}
	return false;
}

/* @n bytes at @s for a message: at most 64, anything but printable
 * ASCII (a backquote included) as '?'. Return: @out. */
static const char *quote(char *out, size_t cap, const void *p, size_t n)
{
	const uint8_t *s = p;
	size_t i, k = n < 64 ? n : 64;

	if (k > cap - 4)
		k = cap - 4;
	for (i = 0; i < k; i++)
		out[i] = s[i] >= 0x20 && s[i] < 0x7f && s[i] != '`' ? (char)s[i]
								    : '?';
	if (k < n) {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = '\0';
	return out;
}

__attribute__((format(printf, 3, 4))) static void
set_why(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (!why || !whylen)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

/* The secret whose placeholder starts at @p (@n bytes left; the leading
 * '$' already matched and skipped, so @p is at "MSB_"): the longest
 * match, or -1; its length after the '$' in *@plen. */
static int match_at(const uint8_t *p, size_t n, const struct msb_secret *sec,
		    size_t nsec, size_t *plen)
{
	int best = -1;
	size_t bestlen = 0;

	if (n < 4 || memcmp(p, "MSB_", 4))
		return -1;
	for (size_t i = 0; i < nsec; i++) {
		if (strncmp(sec[i].placeholder, "$MSB_", 5))
			continue; /* not a placeholder: never matches */
		size_t k = strlen(sec[i].placeholder + 1);
		if (k <= n && k > bestlen &&
		    !memcmp(p, sec[i].placeholder + 1, k)) {
			best = (int)i;
			bestlen = k;
		}
	}
	*plen = bestlen;
	return best;
}

/* Where a region's text sits, which decides how placeholders are found
 * and values written. */
enum ctx_kind {
	IN_TARGET, /* "$" or "%24"; the value percent-encoded */
	IN_VALUE,  /* "$"; the value as it is */
};

/* The length of a placeholder's '$' at @p (@n bytes): 1 for "$", 3 for
 * "%24" in a target, 0 for neither. */
static size_t dollar_at(const uint8_t *p, size_t n, enum ctx_kind k)
{
	if (n >= 1 && p[0] == '$')
		return 1;
	if (k == IN_TARGET && n >= 3 && p[0] == '%' && p[1] == '2' &&
	    p[2] == '4')
		return 3;
	return 0;
}

/* A bounded output. */
struct out {
	uint8_t *p;
	size_t cap, n;
	bool full;
};

static void put(struct out *o, const void *p, size_t n)
{
	if (o->full || o->cap - o->n < n) {
		o->full = true;
		return;
	}
	memcpy(o->p + o->n, p, n);
	o->n += n;
}

static bool unreserved(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

/*
 * Scan (@o NULL) or rewrite (into @o) the @n bytes at @p. Scanning sets
 * bit i of *@found for each secret found. Rewriting writes the text
 * with every placeholder replaced, setting bits in *@found the same way.
 */
static void subst_region(struct out *o, const uint8_t *p, size_t n,
			 enum ctx_kind kind, const struct msb_secret *sec,
			 size_t nsec, uint64_t *found)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i = 0, from = 0;

	while (i < n) {
		size_t d = dollar_at(p + i, n - i, kind), plen;
		int s = d ? match_at(p + i + d, n - i - d, sec, nsec, &plen)
			  : -1;
		if (s < 0) {
			i++;
			continue;
		}
		*found |= (uint64_t)1 << s;
		if (o) {
			put(o, p + from, i - from);
			if (kind == IN_TARGET) {
				for (size_t k = 0; k < sec[s].value_len; k++) {
					uint8_t c = sec[s].value[k];
					uint8_t enc[3] = {'%',
							  (uint8_t)hex[c >> 4],
							  (uint8_t)hex[c & 15]};
					if (unreserved(c))
						put(o, &c, 1);
					else
						put(o, enc, 3);
				}
			} else {
				put(o, sec[s].value, sec[s].value_len);
			}
		}
		i += d + plen;
		from = i;
	}
	if (o)
		put(o, p + from, n - from);
}

/* ---- base64 (RFC 4648, with padding) ---- */

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64val(uint8_t c)
{
	const char *q = c ? strchr(b64, c) : NULL;
	return q ? (int)(q - b64) : -1;
}

/* Decode @n bytes at @s into @out (@cap bytes). Return: the length, or
 * -1 if it is not canonical padded base64 or does not fit. */
static long b64_decode(uint8_t *out, size_t cap, const uint8_t *s, size_t n)
{
	size_t o = 0;

	if (n % 4)
		return -1;
	for (size_t i = 0; i < n; i += 4) {
		int v[4], pad = 0;
		for (int k = 0; k < 4; k++) {
			if (s[i + k] == '=' && i + 4 == n && k >= 2) {
				v[k] = 0;
				pad++;
			} else if (pad || (v[k] = b64val(s[i + k])) < 0) {
				return -1;
			}
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
			     (uint32_t)v[2] << 6 | (uint32_t)v[3];
		if (o + 3 - (size_t)pad > cap)
			return -1;
		out[o++] = (uint8_t)(w >> 16);
		if (pad < 2)
			out[o++] = (uint8_t)(w >> 8);
		if (pad < 1)
			out[o++] = (uint8_t)w;
	}
	return (long)o;
}

static void b64_encode(struct out *o, const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n; i += 3) {
		uint32_t w = (uint32_t)s[i] << 16;
		if (i + 1 < n)
			w |= (uint32_t)s[i + 1] << 8;
		if (i + 2 < n)
			w |= s[i + 2];
		uint8_t q[4] = {(uint8_t)b64[w >> 18 & 63],
				(uint8_t)b64[w >> 12 & 63],
				(uint8_t)(i + 1 < n ? b64[w >> 6 & 63] : '='),
				(uint8_t)(i + 2 < n ? b64[w & 63] : '=')};
		put(o, q, 4);
	}
}

/* Decoded Basic credentials are looked at up to this size. */
#define BASIC_MAX 4096

/* If header @h is (Proxy-)Authorization: Basic with canonical base64,
 * the offset of the base64 in its value in *@b64off and the decoded
 * credentials in @dec (BASIC_MAX bytes). Return: their length, or -1. */
static long basic_creds(const struct msb_http1_req *r, const uint8_t *buf,
			size_t h, size_t *b64off, uint8_t *dec)
{
	struct msb_http1_span v = r->headers[h].value;
	const uint8_t *p = buf + v.off;
	size_t i = 5;

	if (!msb_http1_header_is(r, buf, h, "authorization") &&
	    !msb_http1_header_is(r, buf, h, "proxy-authorization"))
		return -1;
	if (v.len < 7 || !bytes_ieq(p, 5, "basic") || p[5] != ' ')
		return -1;
	while (i < v.len && p[i] == ' ')
		i++;
	*b64off = i;
	return b64_decode(dec, BASIC_MAX, p + i, v.len - i);
}

/* The host of an authority "host[:port]" / "[v6]:port" at @p (@n). */
static void authority_host(const uint8_t *p, size_t n, const uint8_t **h,
			   size_t *hn)
{
	size_t e = n;

	if (n && p[0] == '[') {
		const uint8_t *c = memchr(p, ']', n);
		e = c ? (size_t)(c - p) + 1 : n;
	} else {
		const uint8_t *c = memchr(p, ':', n);
		if (c)
			e = (size_t)(c - p);
	}
	*h = p;
	*hn = e;
}

/* The rules for carrying secrets in @r: 0, or -1 with @why set. */
static int check_rules(const struct msb_http1_req *r, const uint8_t *buf,
		       const struct msb_secret *sec, uint64_t found,
		       const struct msb_http1_ctx *ctx, char *why, size_t wl)
{
	char q1[80], q2[80];
	const uint8_t *h;
	size_t hn;

	for (size_t i = 0; i < MSB_SECRETS_MAX; i++) {
		if (!(found >> i & 1))
			continue;
		const char *name = sec[i].name;
		if (!ctx || !ctx->sni) {
			set_why(why, wl,
				"secret %s in a plain HTTP request: secrets "
				"are sent over HTTPS only",
				name);
			return -1;
		}
		if (!msb_secret_host_match(&sec[i], ctx->sni)) {
			set_why(why, wl, "secret %s is not allowed for `%s`",
				name,
				quote(q1, sizeof(q1), ctx->sni,
				      strlen(ctx->sni)));
			return -1;
		}
		if (r->host < 0) {
			set_why(why, wl, "secret %s in a request without Host",
				name);
			return -1;
		}
		struct msb_http1_span hv = r->headers[r->host].value;
		authority_host(buf + hv.off, hv.len, &h, &hn);
		if (!bytes_ieq(h, hn, ctx->sni)) {
			set_why(why, wl,
				"Host `%s` is not the TLS server name `%s`",
				quote(q1, sizeof(q1), h, hn),
				quote(q2, sizeof(q2), ctx->sni,
				      strlen(ctx->sni)));
			return -1;
		}
		/* an absolute target names the host too (RFC 9112 3.2.2) */
		const uint8_t *t = buf + r->target.off;
		size_t tn = r->target.len, skip = 0;
		if (tn >= 7 && bytes_ieq(t, 7, "http://"))
			skip = 7;
		else if (tn >= 8 && bytes_ieq(t, 8, "https://"))
			skip = 8;
		if (skip) {
			size_t a = skip;
			while (a < tn && t[a] != '/' && t[a] != '?' &&
			       t[a] != '#')
				a++;
			if (memchr(t + skip, '@', a - skip)) {
				set_why(why, wl,
					"secret %s in a request whose target "
					"has user information",
					name);
				return -1;
			}
			authority_host(t + skip, a - skip, &h, &hn);
			if (!bytes_ieq(h, hn, ctx->sni)) {
				set_why(why, wl,
					"target host `%s` is not the TLS "
					"server name `%s`",
					quote(q1, sizeof(q1), h, hn),
					quote(q2, sizeof(q2), ctx->sni,
					      strlen(ctx->sni)));
				return -1;
			}
		}
		if (!ctx->dest_resolved) {
			set_why(why, wl,
				"secret %s: the destination was not resolved "
				"through the sandbox's DNS for `%s`",
				name,
				quote(q1, sizeof(q1), ctx->sni,
				      strlen(ctx->sni)));
			return -1;
		}
		if (r->is_connect) {
			set_why(why, wl, "secret %s in a CONNECT request",
				name);
			return -1;
		}
	}
	return 0;
}

enum msb_http1_verdict
msb_http1_substitute(uint8_t *out, size_t cap, size_t *out_len, uint64_t *used,
		     char *why, size_t whylen, const struct msb_http1_req *r,
		     const uint8_t *buf, const struct msb_secret *sec,
		     size_t nsec, const struct msb_http1_ctx *ctx)
{
	static const char ctl_msg[] =
		"secret %s has a control character: it cannot go in a header";
	uint8_t dec[BASIC_MAX];
	uint64_t found = 0, bad_spot = 0, in_header = 0;
	struct out o = {out, cap, 0, false};
	size_t b64off;
	long dn;

	*used = 0;
	*out_len = 0;
	if (why && whylen)
		why[0] = '\0';
	if (nsec > MSB_SECRETS_MAX) {
		set_why(why, whylen, "more than %d secrets", MSB_SECRETS_MAX);
		return MSB_HTTP1_BLOCK;
	}
	/* pass 1: where are placeholders? */
	subst_region(NULL, buf + r->method.off, r->method.len, IN_VALUE, sec,
		     nsec, &bad_spot);
	subst_region(NULL, buf + r->target.off, r->target.len, IN_TARGET, sec,
		     nsec, &found);
	for (size_t i = 0; i < r->n_headers; i++) {
		const struct msb_http1_header *h = &r->headers[i];
		subst_region(NULL, buf + h->name.off, h->name.len, IN_VALUE,
			     sec, nsec, &bad_spot);
		subst_region(NULL, buf + h->value.off, h->value.len, IN_VALUE,
			     sec, nsec, &in_header);
		dn = basic_creds(r, buf, i, &b64off, dec);
		if (dn >= 0)
			subst_region(NULL, dec, (size_t)dn, IN_VALUE, sec, nsec,
				     &found);
	}
	found |= in_header | bad_spot;
	if (!found)
		return MSB_HTTP1_PASS;
	if (check_rules(r, buf, sec, found, ctx, why, whylen) < 0)
		return MSB_HTTP1_BLOCK;
	for (size_t i = 0; i < nsec; i++) {
		if (bad_spot >> i & 1) {
			set_why(why, whylen,
				"secret %s in the method or a header name",
				sec[i].name);
			return MSB_HTTP1_BLOCK;
		}
		if (!(in_header >> i & 1))
			continue;
		for (size_t k = 0; k < sec[i].value_len; k++) {
			uint8_t c = sec[i].value[k];
			if (c != '\t' && (c < 0x20 || c == 0x7f)) {
				set_why(why, whylen, ctl_msg, sec[i].name);
				return MSB_HTTP1_BLOCK;
			}
		}
	}
	/* pass 2: the head with the values in */
	uint64_t done = 0;
	size_t from = 0;
	put(&o, buf, r->target.off);
	subst_region(&o, buf + r->target.off, r->target.len, IN_TARGET, sec,
		     nsec, &done);
	from = r->target.off + r->target.len;
	for (size_t i = 0; i < r->n_headers; i++) {
		struct msb_http1_span v = r->headers[i].value;
		put(&o, buf + from, v.off - from);
		dn = basic_creds(r, buf, i, &b64off, dec);
		uint64_t here = 0;
		if (dn >= 0)
			subst_region(NULL, dec, (size_t)dn, IN_VALUE, sec, nsec,
				     &here);
		if (here) {
			/* decoded, substituted, encoded again */
			uint8_t plain[4 * BASIC_MAX];
			struct out po = {plain, sizeof(plain), 0, false};
			subst_region(&po, dec, (size_t)dn, IN_VALUE, sec, nsec,
				     &done);
			if (po.full) {
				o.full = true;
				break;
			}
			put(&o, buf + v.off, b64off);
			b64_encode(&o, plain, po.n);
		} else {
			subst_region(&o, buf + v.off, v.len, IN_VALUE, sec,
				     nsec, &done);
		}
		from = v.off + v.len;
	}
	put(&o, buf + from, r->head_len - from);
	if (o.full) {
		set_why(why, whylen,
			"request head too long with the secrets in it");
		return MSB_HTTP1_BLOCK;
	}
	*out_len = o.n;
	*used = done;
	return MSB_HTTP1_REWRITE;
}

/* ---- placeholders anywhere, bodies, reframing ---- */

int msb_secret_find(const uint8_t *buf, size_t len, const struct msb_secret *s,
		    size_t n, bool nocase)
{
	size_t best = n;

	/* "MSB_" has no repeated letter, so its occurrences do not
	 * overlap: at most @len / 4 candidates, each compared with each
	 * secret up to the first difference */
	for (size_t j = 0; j + 4 <= len && best; j++) {
		if (nocase ? !bytes_ieq(buf + j, 4, "msb_")
			   : memcmp(buf + j, "MSB_", 4))
			continue;
		for (size_t i = 0; i < best; i++) {
			const char *p = s[i].placeholder;
			size_t k;
			if (strncmp(p, "$MSB_", 5))
				continue;
			p++;
			for (k = 4; p[k] && j + k < len; k++)
				if (nocase ? lower(buf[j + k]) !=
						     lower((uint8_t)p[k])
					   : buf[j + k] != (uint8_t)p[k])
					break;
			if (!p[k]) {
				best = i;
				break;
			}
		}
		j += 3;
	}
	return best < n ? (int)best : -1;
}

enum msb_http1_verdict msb_http1_body_substitute(
	uint8_t *out, size_t cap, size_t *out_len, uint64_t *used, char *why,
	size_t whylen, const uint8_t *body, size_t len,
	const struct msb_secret *sec, size_t nsec, uint64_t allowed)
{
	struct out o = {out, cap, 0, false};
	uint64_t found = 0, done = 0;

	*used = 0;
	*out_len = 0;
	if (why && whylen)
		why[0] = '\0';
	if (nsec > MSB_SECRETS_MAX) {
		set_why(why, whylen, "more than %d secrets", MSB_SECRETS_MAX);
		return MSB_HTTP1_BLOCK;
	}
	subst_region(NULL, body, len, IN_VALUE, sec, nsec, &found);
	if (!found)
		return MSB_HTTP1_PASS;
	for (size_t i = 0; i < nsec; i++) {
		if (found >> i & 1 && !(allowed >> i & 1)) {
			set_why(why, whylen,
				"secret %s in a request body: not allowed in "
				"bodies to this host",
				sec[i].name);
			return MSB_HTTP1_BLOCK;
		}
	}
	subst_region(&o, body, len, IN_VALUE, sec, nsec, &done);
	if (o.full) {
		set_why(why, whylen,
			"request body too long with the secrets in it");
		return MSB_HTTP1_BLOCK;
	}
	*out_len = o.n;
	*used = done;
	return MSB_HTTP1_REWRITE;
}

int msb_http1_reframe(uint8_t *out, size_t cap, size_t *out_len,
		      const struct msb_http1_req *r, const uint8_t *buf,
		      uint64_t n)
{
	struct out o = {out, cap, 0, false};
	size_t last = r->head_len - 2; /* where the empty line starts */
	char cl[40];
	int k;

	*out_len = 0;
	if (r->head_len < 4)
		return -1; /* not a parsed head */
	for (size_t i = 0; i < r->n_headers; i++) {
		struct msb_http1_span v = r->headers[i].value;
		const uint8_t *tok;
		size_t pos = 0, tn;
		if (!msb_http1_header_is(r, buf, i, "transfer-encoding"))
			continue;
		while (next_token(buf + v.off, v.len, &pos, &tok, &tn))
			if (!bytes_ieq(tok, tn, "chunked"))
				return -1;
	}
	/* the request line (and empty lines before it) */
	put(&o, buf, r->n_headers ? r->headers[0].name.off : last);
	for (size_t i = 0; i < r->n_headers; i++) {
		size_t s = r->headers[i].name.off;
		size_t e = i + 1 < r->n_headers ? r->headers[i + 1].name.off
						: last;
		if (msb_http1_header_is(r, buf, i, "content-length") ||
		    msb_http1_header_is(r, buf, i, "transfer-encoding"))
			continue;
		put(&o, buf + s, e - s);
	}
	k = snprintf(cl, sizeof(cl), "Content-Length: %llu\r\n\r\n",
		     (unsigned long long)n);
	put(&o, cl, (size_t)k);
	if (o.full)
		return -1;
	*out_len = o.n;
	return 0;
}
