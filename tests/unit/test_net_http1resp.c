// SPDX-License-Identifier: Apache-2.0
/* Unit tests for the server side of src/net/http1.c: response heads (as
 * python's http.server sent them, as curl's tests and hostile servers
 * send them), chunked decoding, placeholders found anywhere, secrets in
 * request bodies and the reframed head that goes with them. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "net/http1.h"

#define U(s) ((const uint8_t *)(s))

static struct msb_http1_resp resp;

static enum msb_http1_status rparse(const char *s, const char *method)
{
	return msb_http1_parse_response(&resp, U(s), strlen(s), NULL, method);
}

/* The head at the start of @s parses OK as an answer to @method, and
 * so does it when it arrives one byte at a time: every shorter prefix
 * is NEED_MORE, with and without the resume point. */
static void ok_bytewise(const char *s, const char *method)
{
	size_t n = strlen(s), scan = 0, head;
	int all = 1;

	CHECK(msb_http1_parse_response(&resp, U(s), n, NULL, method) ==
	      MSB_HTTP1_OK);
	head = resp.head_len;
	struct msb_http1_resp want = resp;
	for (size_t k = 0; k < head; k++) {
		if (msb_http1_parse_response(&resp, U(s), k, NULL, method) !=
			    MSB_HTTP1_NEED_MORE ||
		    msb_http1_parse_response(&resp, U(s), k, &scan, method) !=
			    MSB_HTTP1_NEED_MORE) {
			if (all)
				fprintf(stderr, "  prefix %zu of `%.40s`: %s\n",
					k, s, resp.why ? resp.why : "");
			all = 0;
		}
		CHECK(scan <= k);
	}
	CHECK(all);
	CHECK(msb_http1_parse_response(&resp, U(s), head, &scan, method) ==
	      MSB_HTTP1_OK);
	CHECK(scan == 0 && !memcmp(&resp, &want, sizeof(resp)));
}

static void bad_resp(const char *s, const char *method, const char *want)
{
	enum msb_http1_status st = rparse(s, method);
	CHECK(st == MSB_HTTP1_BAD);
	if (st != MSB_HTTP1_BAD) {
		fprintf(stderr, "  accepted: `%s`\n", s);
		return;
	}
	CHECK(resp.why && strstr(resp.why, want));
	if (!resp.why || !strstr(resp.why, want))
		fprintf(stderr, "  `%s`: got `%s`, wanted `%s`\n", s,
			resp.why ? resp.why : "(null)", want);
	CHECK(resp.head_len == 0 && resp.status == 0);
}

/* Captured from python3 -m http.server (3.11), HTTP/1.0 and 1.1. */
static const char py10_get[] =
	"HTTP/1.0 200 OK\r\n"
	"Server: SimpleHTTP/0.6 Python/3.11.7\r\n"
	"Date: Thu, 03 Dec 2026 19:27:51 GMT\r\n"
	"Content-type: text/plain\r\n"
	"Content-Length: 12\r\n"
	"Last-Modified: Thu, 03 Dec 2026 19:27:49 GMT\r\n"
	"\r\n"
	"hello world\n";
static const char py10_404[] = "HTTP/1.0 404 File not found\r\n"
			       "Server: SimpleHTTP/0.6 Python/3.11.7\r\n"
			       "Date: Thu, 03 Dec 2026 19:27:51 GMT\r\n"
			       "Connection: close\r\n"
			       "Content-Type: text/html;charset=utf-8\r\n"
			       "Content-Length: 335\r\n"
			       "\r\n"
			       "<!DOCTYPE HTML>\n";
static const char py11_pipeline[] =
	"HTTP/1.1 200 OK\r\n"
	"Server: SimpleHTTP/0.6 Python/3.11.7\r\n"
	"Date: Thu, 03 Dec 2026 19:27:51 GMT\r\n"
	"Content-type: text/plain\r\n"
	"Content-Length: 12\r\n"
	"Last-Modified: Thu, 03 Dec 2026 19:27:49 GMT\r\n"
	"\r\n"
	"hello world\n"
	"HTTP/1.1 404 File not found\r\n"
	"Server: SimpleHTTP/0.6 Python/3.11.7\r\n"
	"Date: Thu, 03 Dec 2026 19:27:51 GMT\r\n"
	"Connection: close\r\n"
	"Content-Type: text/html;charset=utf-8\r\n"
	"Content-Length: 335\r\n"
	"\r\n"
	"<!DOCTYPE HTML>\n";
static const char py11_304[] = "HTTP/1.1 304 Not Modified\r\n"
			       "Server: SimpleHTTP/0.6 Python/3.11.7\r\n"
			       "Date: Thu, 03 Dec 2026 19:27:51 GMT\r\n"
			       "\r\n";
static const char py11_chunked[] = "HTTP/1.1 200 OK\r\n"
				   "Server: SimpleHTTP/0.6 Python/3.11.7\r\n"
				   "Date: Thu, 03 Dec 2026 19:27:51 GMT\r\n"
				   "Transfer-Encoding: chunked\r\n"
				   "Content-Type: text/plain\r\n"
				   "\r\n"
				   "6\r\n"
				   "hello \r\n"
				   "6\r\n"
				   "world\n"
				   "\r\n"
				   "0\r\n"
				   "\r\n";
static const char py11_continue[] = "HTTP/1.1 100 Continue\r\n"
				    "\r\n"
				    "HTTP/1.1 201 Created\r\n"
				    "Server: SimpleHTTP/0.6 Python/3.11.7\r\n"
				    "Date: Thu, 03 Dec 2026 19:27:51 GMT\r\n"
				    "Content-Length: 3\r\n"
				    "\r\n"
				    "abc";
static const char py11_connect[] =
	"HTTP/1.1 501 Unsupported method ('CONNECT')\r\n"
	"Server: SimpleHTTP/0.6 Python/3.11.7\r\n"
	"Date: Thu, 03 Dec 2026 19:27:51 GMT\r\n"
	"Connection: close\r\n"
	"Content-Type: text/html;charset=utf-8\r\n"
	"Content-Length: 360\r\n"
	"\r\n";

static void test_python(void)
{
	/* HTTP/1.0 with a length: the connection closes after it */
	ok_bytewise(py10_get, "GET");
	CHECK(resp.status == 200 && resp.minor == 0);
	CHECK(resp.body == MSB_HTTP1_BODY_LENGTH && resp.content_length == 12);
	CHECK(!resp.keep_alive && !resp.interim && !resp.tunnel);
	CHECK(!strcmp(py10_get + resp.head_len, "hello world\n"));

	/* the same head answering HEAD: no body */
	ok_bytewise(py10_get, "HEAD");
	CHECK(resp.body == MSB_HTTP1_BODY_NONE && resp.content_length == 0);
	ok_bytewise(py10_get, "head");
	CHECK(resp.body == MSB_HTTP1_BODY_NONE);

	ok_bytewise(py10_404, "GET");
	CHECK(resp.status == 404 && resp.content_length == 335 &&
	      !resp.keep_alive);

	/* two responses on one connection, read one after the other */
	size_t n = strlen(py11_pipeline), off;
	ok_bytewise(py11_pipeline, "GET");
	CHECK(resp.status == 200 && resp.minor == 1 && resp.keep_alive);
	CHECK(resp.body == MSB_HTTP1_BODY_LENGTH && resp.content_length == 12);
	off = resp.head_len + resp.content_length;
	CHECK(msb_http1_parse_response(&resp, U(py11_pipeline) + off, n - off,
				       NULL, "GET") == MSB_HTTP1_OK);
	CHECK(resp.status == 404 && !resp.keep_alive &&
	      resp.content_length == 335);

	ok_bytewise(py11_304, "GET");
	CHECK(resp.status == 304 && resp.body == MSB_HTTP1_BODY_NONE &&
	      resp.keep_alive);

	/* chunked: the body decodes, and ends where the input does */
	ok_bytewise(py11_chunked, "POST");
	CHECK(resp.body == MSB_HTTP1_BODY_CHUNKED && resp.keep_alive);
	struct msb_http1_chunked c = {0};
	uint8_t out[64];
	size_t used, out_len, body = strlen(py11_chunked) - resp.head_len;
	CHECK(msb_http1_chunked_decode(&c, U(py11_chunked) + resp.head_len,
				       body, &used, out, sizeof(out),
				       &out_len) == MSB_HTTP1_OK);
	CHECK(used == body && out_len == 12 &&
	      !memcmp(out, "hello world\n", 12));

	/* 100 Continue, then the final answer */
	ok_bytewise(py11_continue, "POST");
	CHECK(resp.status == 100 && resp.interim && !resp.tunnel);
	CHECK(resp.body == MSB_HTTP1_BODY_NONE && resp.head_len == 25);
	off = resp.head_len;
	CHECK(msb_http1_parse_response(&resp, U(py11_continue) + off,
				       strlen(py11_continue) - off, NULL,
				       "POST") == MSB_HTTP1_OK);
	CHECK(resp.status == 201 && !resp.interim && resp.content_length == 3);

	/* a refused CONNECT is an ordinary response */
	ok_bytewise(py11_connect, "CONNECT");
	CHECK(resp.status == 501 && !resp.tunnel &&
	      resp.body == MSB_HTTP1_BODY_LENGTH && !resp.keep_alive);
}

static void test_framing(void)
{
	/* CONNECT: a 2xx is a tunnel; its framing headers are ignored */
	ok_bytewise("HTTP/1.1 200 Connection established\r\n\r\n", "CONNECT");
	CHECK(resp.tunnel && !resp.keep_alive && !resp.interim);
	CHECK(resp.body == MSB_HTTP1_BODY_NONE);
	ok_bytewise("HTTP/1.0 200 OK\r\nContent-Length: 10\r\n\r\n", "connect");
	CHECK(resp.tunnel && resp.body == MSB_HTTP1_BODY_NONE);
	/* the same 200 to GET: close-delimited */
	ok_bytewise("HTTP/1.1 200 Connection established\r\n\r\n", "GET");
	CHECK(!resp.tunnel && resp.body == MSB_HTTP1_BODY_CLOSE &&
	      !resp.keep_alive);
	ok_bytewise("HTTP/1.1 200 OK\r\n\r\n", NULL);
	CHECK(resp.body == MSB_HTTP1_BODY_CLOSE);
	/* 101: a tunnel whatever the method */
	ok_bytewise("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		    "Connection: Upgrade\r\n\r\n",
		    "GET");
	CHECK(resp.tunnel && !resp.interim && resp.status == 101);
	/* 1xx: interim, never a body */
	ok_bytewise("HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n",
		    "GET");
	CHECK(resp.interim && !resp.tunnel && resp.body == MSB_HTTP1_BODY_NONE);
	/* 204 and 304 with a length: none */
	ok_bytewise("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
		    "DELETE");
	CHECK(resp.body == MSB_HTTP1_BODY_NONE && resp.keep_alive);
	ok_bytewise("HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n",
		    "GET");
	CHECK(resp.body == MSB_HTTP1_BODY_NONE);
	/* HEAD and chunked: none */
	ok_bytewise("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
		    "HEAD");
	CHECK(resp.body == MSB_HTTP1_BODY_NONE && resp.keep_alive);
	/* the last coding decides; not chunked: until the close */
	ok_bytewise("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n"
		    "\r\n",
		    "GET");
	CHECK(resp.body == MSB_HTTP1_BODY_CHUNKED);
	ok_bytewise("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n"
		    "Transfer-Encoding: CHUNKED\r\n\r\n",
		    "GET");
	CHECK(resp.body == MSB_HTTP1_BODY_CHUNKED);
	ok_bytewise("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n"
		    "\r\n",
		    "GET");
	CHECK(resp.body == MSB_HTTP1_BODY_CLOSE && !resp.keep_alive);
	/* keep-alive in HTTP/1.0; close in HTTP/1.1 */
	ok_bytewise("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n"
		    "Content-Length: 0\r\n\r\n",
		    "GET");
	CHECK(resp.keep_alive && resp.content_length == 0 &&
	      resp.body == MSB_HTTP1_BODY_LENGTH);
	ok_bytewise("HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\n"
		    "Content-Length: 0\r\n\r\n",
		    "GET");
	CHECK(!resp.keep_alive);
	/* no reason phrase, with and without its space; odd reasons */
	ok_bytewise("HTTP/1.1 200\r\nContent-Length: 1\r\n\r\n", "GET");
	CHECK(resp.status == 200 && resp.content_length == 1);
	ok_bytewise("HTTP/1.1 404 \r\nContent-Length: 1\r\n\r\n", "GET");
	CHECK(resp.status == 404);
	ok_bytewise("HTTP/1.1 599 x\tx \xc3\xa9\r\nContent-Length: 1\r\n\r\n",
		    "GET");
	CHECK(resp.status == 599);
	/* the same Content-Length twice; blanks around values */
	ok_bytewise("HTTP/1.1 200 OK\r\nContent-Length: 7\r\n"
		    "content-length:7 \r\n\r\n",
		    "GET");
	CHECK(resp.content_length == 7);
	/* the largest length taken */
	ok_bytewise("HTTP/1.1 200 OK\r\nContent-Length: 999999999999999999\r\n"
		    "\r\n",
		    "GET");
	CHECK(resp.content_length == 999999999999999999ull);
	/* bytes after the head change nothing */
	CHECK(rparse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n\r\n\n\0",
		     "GET") == MSB_HTTP1_OK &&
	      resp.head_len == 38);
}

static void test_bad(void)
{
	/* smuggling: framing that could be read two ways */
	bad_resp("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
		 "Transfer-Encoding: chunked\r\n\r\n",
		 "GET", "both Content-Length and Transfer-Encoding");
	bad_resp("HTTP/1.1 204 OK\r\nTransfer-Encoding: chunked\r\n"
		 "Content-Length: 5\r\n\r\n",
		 "HEAD", "both");
	bad_resp("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
		 "Content-Length: 6\r\n\r\n",
		 "GET", "conflicting Content-Length");
	bad_resp("HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n", "GET",
		 "malformed Content-Length");
	bad_resp("HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n", "GET",
		 "malformed Content-Length");
	bad_resp("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "GET",
		 "malformed Content-Length");
	bad_resp("HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n", "GET",
		 "malformed Content-Length");
	bad_resp("HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n", "GET",
		 "malformed Content-Length");
	bad_resp("HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n", "GET",
		 "malformed Content-Length");
	bad_resp("HTTP/1.1 200 OK\r\nContent-Length: 9999999999999999999\r\n"
		 "\r\n",
		 "GET", "malformed Content-Length");
	bad_resp("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "GET",
		 "Transfer-Encoding in HTTP/1.0");
	bad_resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n"
		 "\r\n",
		 "GET", "chunked more than once");
	bad_resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
		 "Transfer-Encoding: gzip, chunked\r\n\r\n",
		 "GET", "chunked more than once");
	bad_resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip,,chunked\r\n\r\n",
		 "GET", "empty transfer coding");
	bad_resp("HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n\r\n", "GET",
		 "empty transfer coding");
	/* the status line */
	bad_resp("HTTP/2 200 OK\r\n\r\n", "GET", "not HTTP/1.0 or HTTP/1.1");
	bad_resp("HTTP/1.2 200 OK\r\n\r\n", "GET", "not HTTP/1.0 or HTTP/1.1");
	bad_resp("http/1.1 200 OK\r\n\r\n", "GET", "not HTTP/1.0 or HTTP/1.1");
	bad_resp("HTTP/1.1  200 OK\r\n\r\n", "GET", "malformed status code");
	bad_resp("HTTP/1.1 20 OK\r\n\r\n", "GET", "malformed status code");
	bad_resp("HTTP/1.1 2000 OK\r\n\r\n", "GET", "malformed status code");
	bad_resp("HTTP/1.1 20x OK\r\n\r\n", "GET", "malformed status code");
	bad_resp("HTTP/1.1 099 OK\r\n\r\n", "GET", "status code out of range");
	bad_resp("HTTP/1.1 600 OK\r\n\r\n", "GET", "status code out of range");
	bad_resp("HTTP/1.1\r\n\r\n", "GET", "not HTTP/1.0 or HTTP/1.1");
	bad_resp("ICY 200 OK\r\n\r\n", "GET", "not HTTP/1.0 or HTTP/1.1");
	bad_resp("\r\nHTTP/1.1 200 OK\r\n\r\n", "GET", "not HTTP/1.0");
	bad_resp("\r\n\r\n", "GET", "not HTTP/1.0");
	/* lines */
	bad_resp("HTTP/1.1 200 OK\nContent-Length: 1\r\n\r\n", "GET",
		 "bare LF");
	bad_resp("HTTP/1.1 200 OK\r\nContent-Length: 1\n\n", "GET", "bare LF");
	bad_resp("HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", "GET", "bare CR");
	bad_resp("HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", "GET",
		 "obsolete line folding");
	bad_resp("HTTP/1.1 200 OK\r\nContent-Length : 1\r\n\r\n", "GET",
		 "malformed header name");
	bad_resp("HTTP/1.1 200 OK\r\n: 1\r\n\r\n", "GET",
		 "malformed header name");
	bad_resp("HTTP/1.1 200 OK\r\nNo-colon\r\n\r\n", "GET",
		 "malformed header name");
	bad_resp("HTTP/1.1 200 OK\r\nX: a\x01z\r\n\r\n", "GET",
		 "control character");
	bad_resp("HTTP/1.1 200 OK\r\nX: a\x7fz\r\n\r\n", "GET",
		 "control character");
	CHECK(msb_http1_parse_response(&resp,
				       U("HTTP/1.1 200 OK\r\nX: \0\r\n\r\n"),
				       24, NULL, "GET") == MSB_HTTP1_BAD);
	/* early: what cannot become a response is refused before its end */
	bad_resp("HTTX", "GET", "not HTTP/1.0 or HTTP/1.1");
	bad_resp("HTTP/1.1 2x", "GET", "malformed status code");
	bad_resp("HTTP/1.1 200x", "GET", "malformed status code");
	bad_resp("GET / HTTP/1.1\r\n", "GET", "not HTTP/1.0 or HTTP/1.1");
	bad_resp("HTTP/1.1 200 OK\r\nX: \x01", "GET", "control character");

	/* limits: headers, head size */
	static char big[MSB_HTTP1_HEAD_MAX + 64];
	size_t n = (size_t)sprintf(big, "HTTP/1.1 200 OK\r\n");
	for (int i = 0; i <= MSB_HTTP1_HEADERS_MAX; i++)
		n += (size_t)sprintf(big + n, "X-%d: v\r\n", i);
	sprintf(big + n, "\r\n");
	bad_resp(big, "GET", "too many headers");
	n = (size_t)sprintf(big, "HTTP/1.1 200 OK\r\n");
	for (int i = 0; i < MSB_HTTP1_HEADERS_MAX; i++)
		n += (size_t)sprintf(big + n, "X-%d: v\r\n", i);
	sprintf(big + n, "\r\n");
	CHECK(rparse(big, "GET") == MSB_HTTP1_OK);
	n = (size_t)sprintf(big, "HTTP/1.1 200 OK\r\nX: ");
	memset(big + n, 'a', sizeof(big) - n - 1);
	big[sizeof(big) - 1] = '\0';
	bad_resp(big, "GET", "response head is too long");
	/* just fits */
	n = (size_t)sprintf(big, "HTTP/1.1 200 OK\r\nX: ");
	memset(big + n, 'a', MSB_HTTP1_HEAD_MAX - n - 4);
	memcpy(big + MSB_HTTP1_HEAD_MAX - 4, "\r\n\r\n", 5);
	CHECK(rparse(big, "GET") == MSB_HTTP1_OK &&
	      resp.head_len == MSB_HTTP1_HEAD_MAX);
}

/* Resuming with @scan: a head growing one byte at a time is read once
 * (the count of bytes examined would show it; here: same answers). */
static void test_resume(void)
{
	static char big[MSB_HTTP1_HEAD_MAX];
	size_t n = (size_t)sprintf(big, "HTTP/1.1 200 OK\r\nX: "), scan = 0;
	memset(big + n, 'b', 40000);
	n += 40000;
	n += (size_t)sprintf(big + n, "\r\nContent-Length: 3\r\n\r\n");
	enum msb_http1_status st = MSB_HTTP1_NEED_MORE;
	size_t k;
	for (k = 1; k <= n && st == MSB_HTTP1_NEED_MORE; k++)
		st = msb_http1_parse_response(&resp, U(big), k, &scan, "GET");
	CHECK(st == MSB_HTTP1_OK && k - 1 == n && resp.head_len == n);
	CHECK(resp.content_length == 3 && scan == 0);
	/* a bad byte after a resume point is still seen */
	scan = 0;
	CHECK(msb_http1_parse_response(&resp, U("HTTP/1.1 200 OK\r\nX: a"), 21,
				       &scan, "GET") == MSB_HTTP1_NEED_MORE);
	CHECK(msb_http1_parse_response(&resp, U("HTTP/1.1 200 OK\r\nX: a\n"),
				       22, &scan, "GET") == MSB_HTTP1_BAD);
	/* a CR at the end waits for its LF */
	scan = 0;
	CHECK(msb_http1_parse_response(&resp, U("HTTP/1.1 200 OK\r\n\r"), 18,
				       &scan, "GET") == MSB_HTTP1_NEED_MORE);
	CHECK(msb_http1_parse_response(&resp, U("HTTP/1.1 200 OK\r\n\r\n"), 19,
				       &scan, "GET") == MSB_HTTP1_OK);
}

/* ---- chunked decoding ---- */

static void test_chunked_decode(void)
{
	/* as curl's test suite has them: extensions, a trailer, upper-case
	 * hex, then the next response */
	static const char body[] = "5;name=value\r\nhello\r\n"
				   "A\r\n, chunked!\r\n"
				   "1 ; a=\"b\"\r\n?\r\n"
				   "0\r\nX-Trailer: yes\r\n\r\n"
				   "HTTP/1.1 200 OK\r\n";
	const char *want = "hello, chunked!?";
	size_t wl = strlen(want), end = strlen(body) - 17;
	uint8_t out[64];
	size_t used, out_len, total, in;
	struct msb_http1_chunked c = {0};

	CHECK(msb_http1_chunked_decode(&c, U(body), strlen(body), &used, out,
				       sizeof(out), &out_len) == MSB_HTTP1_OK);
	CHECK(used == end && out_len == wl && !memcmp(out, want, wl));
	/* done stays done */
	CHECK(msb_http1_chunked_decode(&c, U("x"), 1, &used, out, sizeof(out),
				       &out_len) == MSB_HTTP1_OK &&
	      used == 0 && out_len == 0);

	/* one byte at a time: the same data, the same end */
	memset(&c, 0, sizeof(c));
	total = 0;
	enum msb_http1_status st = MSB_HTTP1_NEED_MORE;
	for (in = 0; in < strlen(body) && st == MSB_HTTP1_NEED_MORE; in++) {
		st = msb_http1_chunked_decode(&c, U(body) + in, 1, &used,
					      out + total, sizeof(out) - total,
					      &out_len);
		CHECK(used == 1);
		total += out_len;
	}
	CHECK(st == MSB_HTTP1_OK && in == end && total == wl &&
	      !memcmp(out, want, wl));

	/* an output of 3 bytes at a time: it stops when full */
	memset(&c, 0, sizeof(c));
	total = 0;
	in = 0;
	int calls = 0;
	uint8_t all[64];
	do {
		uint8_t small[3];
		st = msb_http1_chunked_decode(&c, U(body) + in,
					      strlen(body) - in, &used, small,
					      sizeof(small), &out_len);
		CHECK(out_len <= 3);
		memcpy(all + total, small, out_len);
		total += out_len;
		in += used;
		calls++;
	} while (st == MSB_HTTP1_NEED_MORE && calls < 100);
	CHECK(st == MSB_HTTP1_OK && in == end && total == wl &&
	      !memcmp(all, want, wl));
	CHECK(calls == 6);

	/* no room at all: nothing consumed past the data's start */
	memset(&c, 0, sizeof(c));
	CHECK(msb_http1_chunked_decode(&c, U("3\r\nabc\r\n0\r\n\r\n"), 13,
				       &used, out, 0,
				       &out_len) == MSB_HTTP1_NEED_MORE);
	CHECK(used == 3 && out_len == 0);

	/* feed and decode share the state: mix them */
	memset(&c, 0, sizeof(c));
	CHECK(msb_http1_chunked_feed(&c, U("3\r\nab"), 5, &used) ==
		      MSB_HTTP1_NEED_MORE &&
	      used == 5);
	CHECK(msb_http1_chunked_decode(&c, U("c\r\n0\r\n\r\n"), 8, &used, out,
				       sizeof(out), &out_len) == MSB_HTTP1_OK);
	CHECK(used == 8 && out_len == 1 && out[0] == 'c');

	/* the BAD cases of the feed are BAD here too, and stay BAD */
	static const char *const bad[] = {
		"x\r\n",          "\r\n",        "5\nhello\r\n",
		"3\r\nabcX\r\n",  "3\r\nabc\rX", "1234567890abcdef\r\n",
		"0\r\nX\x01\r\n", "0\r\n:x\r\n", "3;\x01\r\n",
		"0\r\n\rX",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&c, 0, sizeof(c));
		st = msb_http1_chunked_decode(&c, U(bad[i]), strlen(bad[i]),
					      &used, out, sizeof(out),
					      &out_len);
		CHECK(st == MSB_HTTP1_BAD);
		if (st != MSB_HTTP1_BAD)
			fprintf(stderr, "  chunked `%s` accepted\n", bad[i]);
		CHECK(msb_http1_chunked_decode(&c, U("0\r\n\r\n"), 5, &used,
					       out, sizeof(out),
					       &out_len) == MSB_HTTP1_BAD);
		CHECK(msb_http1_chunked_feed(&c, U("0\r\n\r\n"), 5, &used) ==
		      MSB_HTTP1_BAD);
	}
}

/* ---- placeholders anywhere ---- */

static char ph_key[MSB_SECRET_PLACEHOLDER_MAX],
	ph_tok[MSB_SECRET_PLACEHOLDER_MAX];
static const char *const key_hosts[] = {"api.example.com"};
static const char *const tok_hosts[] = {"*.example.org"};
static struct msb_secret secrets[3];

static void setup_secrets(void)
{
	static const uint8_t n0[8] = {0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4};
	static const uint8_t n1[8] = {0xab, 0xcd, 0xef, 0x01,
				      0x23, 0x45, 0x67, 0x89};
	CHECK(msb_secret_placeholder(ph_key, sizeof(ph_key), "API_KEY", n0) ==
	      0);
	CHECK(msb_secret_placeholder(ph_tok, sizeof(ph_tok), "TOKEN", n1) == 0);
	CHECK_STR(ph_key, "$MSB_API_KEY_deadbeef01020304");
	secrets[0] = (struct msb_secret){"API_KEY", ph_key,    U("sk-real-123"),
					 11,        key_hosts, 1};
	secrets[1] = (struct msb_secret){"TOKEN", ph_tok,    U("t0k\"x"),
					 5,       tok_hosts, 1};
	/* not a placeholder: never found, never substituted */
	secrets[2] = (struct msb_secret){"ODD", "MSB_ODD", U("odd"),
					 3,     key_hosts, 1};
}

static int find(const char *s, bool nocase)
{
	return msb_secret_find(U(s), strlen(s), secrets, 3, nocase);
}

static void test_find(void)
{
	char b[512];

	CHECK(find("", false) == -1 && find("MSB_", true) == -1);
	CHECK(find("nothing here MSB_API_KEY_deadbeef0102030", false) == -1);
	snprintf(b, sizeof(b), "GET /?k=%s HTTP/1.1", ph_key);
	CHECK(find(b, false) == 0);
	/* without the '$': URL-encoded, or anything else before it */
	CHECK(find("x=%24MSB_API_KEY_deadbeef01020304&y", false) == 0);
	CHECK(find("MSB_TOKEN_abcdef0123456789", false) == 1);
	/* at the very end and at the very start */
	CHECK(find("abcMSB_TOKEN_abcdef0123456789", false) == 1);
	CHECK(find("MSB_TOKEN_abcdef012345678", false) == -1);
	/* DNS names: any case, only with @nocase */
	CHECK(find("msb_token_ABCDEF0123456789.evil.example", true) == 1);
	CHECK(find("msb_token_ABCDEF0123456789.evil.example", false) == -1);
	CHECK(find("mSb_Api_Key_DeadBeef01020304", true) == 0);
	/* the lowest index wins, wherever it is */
	snprintf(b, sizeof(b), "%s %s", ph_tok, ph_key);
	CHECK(find(b, false) == 0);
	/* near misses next to each other do not hide a match */
	CHECK(find("MSB_MSB_MSB_TOKEN_abcdef0123456789", false) == 1);
	CHECK(find("MSB_TOKEN_MSB_TOKEN_abcdef0123456789", false) == 1);
	CHECK(find("MSB_TOKEN_abcdef012345678MSB_TOKEN_abcdef0123456789",
		   false) == 1);
	/* a "secret" whose placeholder is not one is never found */
	CHECK(find("MSB_ODD and $MSB_ODD", false) == -1);
	CHECK(msb_secret_find(U(ph_key), strlen(ph_key), secrets, 0, false) ==
	      -1);
}

/* ---- secrets in bodies ---- */

static uint8_t out[1 << 16];
static size_t out_len;
static uint64_t used;
static char why[256];

static enum msb_http1_verdict bsub(const char *body, uint64_t allowed)
{
	memset(out, 0, sizeof(out));
	return msb_http1_body_substitute(out, sizeof(out), &out_len, &used, why,
					 sizeof(why), U(body), strlen(body),
					 secrets, 3, allowed);
}

static void test_body(void)
{
	char b[1024], w[1024];

	/* nothing to replace: PASS, output untouched */
	CHECK(bsub("{\"key\": \"none\"}", 3) == MSB_HTTP1_PASS);
	CHECK(used == 0 && out_len == 0 && out[0] == 0 && why[0] == 0);
	CHECK(bsub("", 3) == MSB_HTTP1_PASS);
	/* only "$MSB_...": not the URL-encoded or bare forms */
	CHECK(bsub("k=%24MSB_API_KEY_deadbeef01020304&MSB_ODD", 0) ==
	      MSB_HTTP1_PASS);
	/* a JSON body */
	snprintf(b, sizeof(b), "{\"api_key\": \"%s\", \"n\": 1}", ph_key);
	CHECK(bsub(b, 1) == MSB_HTTP1_REWRITE && used == 1);
	CHECK(out_len == strlen("{\"api_key\": \"sk-real-123\", \"n\": 1}") &&
	      !memcmp(out, "{\"api_key\": \"sk-real-123\", \"n\": 1}",
		      out_len));
	/* several, both secrets, back to back, at both ends */
	snprintf(b, sizeof(b), "%s%s-%s$%s", ph_key, ph_tok, ph_key, ph_tok);
	snprintf(w, sizeof(w), "sk-real-123t0k\"x-sk-real-123$t0k\"x");
	CHECK(bsub(b, 3) == MSB_HTTP1_REWRITE && used == 3);
	CHECK(out_len == strlen(w) && !memcmp(out, w, out_len));
	/* a placeholder of a secret not allowed here: BLOCK, named */
	snprintf(b, sizeof(b), "a=%s&b=%s", ph_key, ph_tok);
	CHECK(bsub(b, 1) == MSB_HTTP1_BLOCK && used == 0 && out_len == 0);
	CHECK(strstr(why, "TOKEN") != NULL && !strstr(why, "t0k") &&
	      !strstr(why, "sk-real"));
	CHECK(bsub(b, 0) == MSB_HTTP1_BLOCK && strstr(why, "API_KEY"));
	/* bits past the secrets change nothing */
	snprintf(b, sizeof(b), "%s", ph_tok);
	CHECK(bsub(b, ~(uint64_t)1) == MSB_HTTP1_REWRITE && used == 2);
	/* no room */
	snprintf(b, sizeof(b), "%s", ph_key);
	CHECK(msb_http1_body_substitute(out, 10, &out_len, &used, why,
					sizeof(why), U(b), strlen(b), secrets,
					3, 1) == MSB_HTTP1_BLOCK);
	CHECK(strstr(why, "too long") && used == 0 && out_len == 0);
	CHECK(msb_http1_body_substitute(out, 11, &out_len, &used, why,
					sizeof(why), U(b), strlen(b), secrets,
					3, 1) == MSB_HTTP1_REWRITE &&
	      out_len == 11);
	/* too many secrets */
	CHECK(msb_http1_body_substitute(out, sizeof(out), &out_len, &used, why,
					sizeof(why), U(b), strlen(b), secrets,
					MSB_SECRETS_MAX + 1,
					1) == MSB_HTTP1_BLOCK);
	/* a NUL in the body is data like any other */
	static const uint8_t z[] = "\0$MSB_API_KEY_deadbeef01020304\0";
	CHECK(msb_http1_body_substitute(out, sizeof(out), &out_len, &used, why,
					sizeof(why), z, sizeof(z), secrets, 3,
					1) == MSB_HTTP1_REWRITE);
	CHECK(out_len == 14 && !memcmp(out, "\0sk-real-123\0\0", 14));
}

static struct msb_http1_req req;

/* @head reframed to @n bytes is @want (NULL: refused). */
static void reframe(const char *head, uint64_t n, const char *want)
{
	CHECK(msb_http1_parse(&req, U(head), strlen(head), NULL) ==
	      MSB_HTTP1_OK);
	int rc =
		msb_http1_reframe(out, sizeof(out), &out_len, &req, U(head), n);
	if (!want) {
		CHECK(rc == -1);
		return;
	}
	CHECK(rc == 0);
	if (rc)
		return;
	out[out_len] = '\0';
	CHECK_STR((char *)out, want);
	struct msb_http1_req again;
	CHECK(msb_http1_parse(&again, out, out_len, NULL) == MSB_HTTP1_OK &&
	      again.head_len == out_len &&
	      again.body == MSB_HTTP1_BODY_LENGTH && again.content_length == n);
}

static void test_reframe(void)
{
	/* chunked, as curl sends it for a body from stdin */
	reframe("POST /v1 HTTP/1.1\r\nHost: api.example.com\r\n"
		"User-Agent: curl/7.88.1\r\nTransfer-Encoding: chunked\r\n"
		"Content-Type: application/json\r\n\r\n",
		42,
		"POST /v1 HTTP/1.1\r\nHost: api.example.com\r\n"
		"User-Agent: curl/7.88.1\r\n"
		"Content-Type: application/json\r\nContent-Length: 42\r\n\r\n");
	/* a length, in any case, with odd blanks kept elsewhere */
	reframe("PUT / HTTP/1.1\r\ncontent-LENGTH: 5\r\nHost: h\r\n"
		"X-A:  b \r\n\r\n",
		123456789012ull,
		"PUT / HTTP/1.1\r\nHost: h\r\nX-A:  b \r\n"
		"Content-Length: 123456789012\r\n\r\n");
	/* the length header last, twice the same */
	reframe("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
		"Content-Length: 5\r\n\r\n",
		0, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
	/* no body before, no headers, empty lines before the request */
	reframe("\r\nPOST / HTTP/1.0\r\n\r\n", 3,
		"\r\nPOST / HTTP/1.0\r\nContent-Length: 3\r\n\r\n");
	/* a coding other than chunked cannot be dropped */
	reframe("POST / HTTP/1.1\r\nHost: h\r\n"
		"Transfer-Encoding: gzip, chunked\r\n\r\n",
		3, NULL);
	/* no room */
	const char *h = "POST / HTTP/1.1\r\nHost: h\r\n\r\n";
	CHECK(msb_http1_parse(&req, U(h), strlen(h), NULL) == MSB_HTTP1_OK);
	size_t need = strlen(h) + strlen("Content-Length: 1\r\n");
	CHECK(msb_http1_reframe(out, need - 1, &out_len, &req, U(h), 1) == -1);
	CHECK(msb_http1_reframe(out, need, &out_len, &req, U(h), 1) == 0 &&
	      out_len == need);
	/* not a parsed head */
	struct msb_http1_req none = {0};
	CHECK(msb_http1_reframe(out, sizeof(out), &out_len, &none, U(h), 1) ==
	      -1);
}

int main(void)
{
	test_python();
	test_framing();
	test_bad();
	test_resume();
	test_chunked_decode();
	setup_secrets();
	test_find();
	test_body();
	test_reframe();
	return check_summary("net_http1resp");
}
