// SPDX-License-Identifier: Apache-2.0
/* Unit tests for src/net/http1.c: request heads (as curl, python and
 * hostile clients send them), chunked bodies, secret substitution. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "net/http1.h"

#define U(s) ((const uint8_t *)(s))

static struct msb_http1_req req;

static enum msb_http1_status parse(const char *s)
{
	return msb_http1_parse(&req, U(s), strlen(s), NULL);
}

static int span_eq(const char *buf, struct msb_http1_span sp, const char *w)
{
	return sp.len == strlen(w) && !memcmp(buf + sp.off, w, sp.len);
}

/* @s parses OK, and each of its prefixes is NEED_MORE. */
static void ok_all_prefixes(const char *s)
{
	size_t n = strlen(s);
	int all = 1;

	for (size_t k = 0; k < n; k++)
		if (msb_http1_parse(&req, U(s), k, NULL) !=
		    MSB_HTTP1_NEED_MORE) {
			if (all)
				fprintf(stderr, "  prefix %zu of `%.40s`: %s\n",
					k, s, req.why ? req.why : "");
			all = 0;
		}
	CHECK(all);
	CHECK(msb_http1_parse(&req, U(s), n, NULL) == MSB_HTTP1_OK);
}

static void bad_req(const char *s, const char *want)
{
	enum msb_http1_status st = parse(s);
	CHECK(st == MSB_HTTP1_BAD);
	if (st != MSB_HTTP1_BAD) {
		fprintf(stderr, "  accepted: `%s`\n", s);
		return;
	}
	CHECK(req.why && strstr(req.why, want));
	if (!req.why || !strstr(req.why, want))
		fprintf(stderr, "  `%s`: got `%s`, wanted `%s`\n", s,
			req.why ? req.why : "(null)", want);
	CHECK(req.head_len == 0 && req.n_headers == 0);
}

static void test_heads(void)
{
	/* as curl 7.88 sends it */
	const char *curl = "GET /v1/models?x=1 HTTP/1.1\r\n"
			   "Host: api.example.com\r\n"
			   "User-Agent: curl/7.88.1\r\n"
			   "Accept: */*\r\n"
			   "Authorization: Bearer abc\r\n\r\n";
	ok_all_prefixes(curl);
	CHECK(req.head_len == strlen(curl));
	CHECK(span_eq(curl, req.method, "GET"));
	CHECK(span_eq(curl, req.target, "/v1/models?x=1"));
	CHECK(req.minor == 1 && req.n_headers == 4 && req.host == 0);
	CHECK(span_eq(curl, req.headers[3].name, "Authorization"));
	CHECK(span_eq(curl, req.headers[3].value, "Bearer abc"));
	CHECK(req.keep_alive && req.body == MSB_HTTP1_BODY_NONE);
	CHECK(!req.is_connect && !req.upgrade && !req.expect_continue);
	CHECK(msb_http1_header_is(&req, U(curl), 1, "user-agent"));
	CHECK(!msb_http1_header_is(&req, U(curl), 4, "user-agent"));

	/* as python's urllib sends it; blanks around the value trimmed */
	const char *py = "POST /echo HTTP/1.1\r\n"
			 "Accept-Encoding: identity\r\n"
			 "Content-Length: 5\r\n"
			 "Host: 127.0.0.1:8443\r\n"
			 "Content-Type:\tapplication/json \t\r\n"
			 "Connection: close\r\n\r\nhello";
	CHECK(parse(py) == MSB_HTTP1_OK);
	CHECK(req.head_len == strlen(py) - 5);
	CHECK(req.body == MSB_HTTP1_BODY_LENGTH && req.content_length == 5);
	CHECK(!req.keep_alive && req.host == 2);
	CHECK(span_eq(py, req.headers[3].value, "application/json"));

	/* HTTP/1.0: no Host needed, closes unless asked */
	CHECK(parse("GET / HTTP/1.0\r\n\r\n") == MSB_HTTP1_OK);
	CHECK(!req.keep_alive && req.host == -1 && req.minor == 0);
	CHECK(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n") ==
	      MSB_HTTP1_OK);
	CHECK(req.keep_alive);
	CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n"
		    "\r\n") == MSB_HTTP1_OK);
	CHECK(!req.keep_alive);

	/* empty lines before the request line are skipped */
	const char *lead = "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
	CHECK(parse(lead) == MSB_HTTP1_OK);
	CHECK(req.head_len == strlen(lead) && req.method.off == 4);

	/* framing */
	CHECK(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
		    "gzip, Chunked\r\n\r\n") == MSB_HTTP1_OK);
	CHECK(req.body == MSB_HTTP1_BODY_CHUNKED);
	CHECK(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 7\r\n"
		    "Content-Length: 7\r\n\r\n") == MSB_HTTP1_OK);
	CHECK(req.content_length == 7);
	CHECK(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n") ==
	      MSB_HTTP1_OK);
	CHECK(req.body == MSB_HTTP1_BODY_LENGTH && req.content_length == 0);

	/* CONNECT, upgrade, expect */
	CHECK(parse("CONNECT api.example.com:443 HTTP/1.1\r\n"
		    "Host: api.example.com:443\r\n\r\n") == MSB_HTTP1_OK);
	CHECK(req.is_connect && req.keep_alive);
	CHECK(parse("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n"
		    "Upgrade: websocket\r\n\r\n") == MSB_HTTP1_OK);
	CHECK(req.upgrade);
	CHECK(parse("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n"
		    "\r\n") == MSB_HTTP1_OK);
	CHECK(!req.upgrade);
	CHECK(parse("PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n"
		    "Content-Length: 1\r\n\r\n") == MSB_HTTP1_OK);
	CHECK(req.expect_continue);
}

static void test_bad_heads(void)
{
	bad_req("GET / HTTP/1.1\nHost: a\r\n\r\n", "bare LF");
	bad_req("GET / HTTP/1.1\r\nHost: a\r\r\n\r\n", "bare CR");
	bad_req("GET / HTTP/1.1\r\nHost: a\r\n x\r\n\r\n", "folding");
	bad_req("GET / HTTP/1.1\r\nHost : a\r\n\r\n", "header name");
	bad_req("GET / HTTP/1.1\r\n: a\r\n\r\n", "header name");
	bad_req("GET / HTTP/1.1\r\nHost: a\x01\r\n\r\n", "control");
	bad_req("GET / HTTP/2.0\r\nHost: a\r\n\r\n", "HTTP/1.0 or");
	bad_req("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", "HTTP/1.0 or");
	bad_req("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", "target");
	bad_req("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", "method");
	bad_req("GET / HTTP/1.1\r\n\r\n", "no Host");
	bad_req("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n",
		"more than one");
	bad_req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
		"Content-Length: 2\r\n\r\n",
		"conflicting");
	bad_req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n",
		"Content-Length");
	bad_req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\n",
		"Content-Length");
	bad_req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: "
		"1234567890123456789\r\n\r\n",
		"Content-Length");
	bad_req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
		"Transfer-Encoding: chunked\r\n\r\n",
		"both");
	bad_req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, "
		"gzip\r\n\r\n",
		"not the last");
	bad_req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n"
		"\r\n",
		"not chunked");
	bad_req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked,,"
		"\r\n\r\n",
		"empty transfer");
	bad_req("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
		"HTTP/1.0");
	bad_req("CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n", "host:port");
	/* refused before the end of the head arrives */
	CHECK(msb_http1_parse(&req, U("\x16\x03\x01\x02"), 4, NULL) ==
	      MSB_HTTP1_BAD);
	CHECK(msb_http1_parse(&req, U("SSH-2.0-Open"), 12, NULL) ==
	      MSB_HTTP1_NEED_MORE); /* a token: could be a method */
	CHECK(msb_http1_parse(&req, U("SSH-2.0-OpenSSH\r\n"), 17, NULL) ==
	      MSB_HTTP1_BAD); /* a line without a method */
	CHECK(msb_http1_parse(&req, U("GET /\n"), 6, NULL) == MSB_HTTP1_BAD);

	/* limits: empty lines before, method length */
	CHECK(parse("\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.0\r\n\r\n") ==
	      MSB_HTTP1_OK);
	bad_req("\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.0\r\n\r\n",
		"empty lines");
	bad_req("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "method is too long");
	bad_req("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA / HTTP/1.0\r\n\r\n",
		"method is too long");
	CHECK(parse("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA / HTTP/1.0\r\n\r\n") ==
	      MSB_HTTP1_OK);

	/* too many headers; too long a head */
	static char big[MSB_HTTP1_HEAD_MAX + 100];
	size_t n = (size_t)sprintf(big, "GET / HTTP/1.1\r\nHost: a\r\n");
	for (int i = 0; i < MSB_HTTP1_HEADERS_MAX; i++)
		n += (size_t)sprintf(big + n, "X-%d: y\r\n", i);
	strcpy(big + n, "\r\n");
	bad_req(big, "too many headers");
	n = (size_t)sprintf(big, "GET / HTTP/1.1\r\nX: ");
	memset(big + n, 'a', sizeof(big) - n - 1);
	big[sizeof(big) - 1] = '\0';
	bad_req(big, "too long");
	CHECK(msb_http1_parse(&req, U(big), MSB_HTTP1_HEAD_MAX - 1, NULL) ==
	      MSB_HTTP1_NEED_MORE);
}

/* Byte by byte with @scan: the same head, and the scan only moves on. */
static void test_resume(void)
{
	const char *s = "\r\nPOST /x HTTP/1.1\r\nHost: h\r\n"
			"Content-Length: 2\r\n\r\nab";
	size_t n = strlen(s), scan = 0, last = 0;
	enum msb_http1_status st = MSB_HTTP1_NEED_MORE;
	size_t k;

	for (k = 0; k <= n && st == MSB_HTTP1_NEED_MORE; k++) {
		st = msb_http1_parse(&req, U(s), k, &scan);
		if (st == MSB_HTTP1_NEED_MORE) {
			CHECK(scan >= last && scan <= k);
			last = scan;
		}
	}
	CHECK(st == MSB_HTTP1_OK && scan == 0);
	CHECK(req.head_len == n - 2 && k - 1 == n - 2);
	CHECK(req.content_length == 2 && span_eq(s, req.target, "/x"));
	/* the end split between the two CRLFs, and inside one */
	const char *h = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
	size_t hn = strlen(h);
	for (size_t cut = hn - 4; cut < hn; cut++) {
		scan = 0;
		CHECK(msb_http1_parse(&req, U(h), cut, &scan) ==
		      MSB_HTTP1_NEED_MORE);
		CHECK(msb_http1_parse(&req, U(h), hn, &scan) == MSB_HTTP1_OK);
		CHECK(req.head_len == hn);
	}
	/* a bare LF after the resume point is still seen */
	scan = 0;
	CHECK(msb_http1_parse(&req, U("GET / HTTP/1.1\r\nA: b\n"), 19, &scan) ==
	      MSB_HTTP1_NEED_MORE);
	CHECK(msb_http1_parse(&req, U("GET / HTTP/1.1\r\nA: b\n"), 23, &scan) ==
	      MSB_HTTP1_BAD);
}

static void test_pipelining(void)
{
	const char *s = "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
			"\r\nabc"
			"POST /b HTTP/1.1\r\nHost: h\r\n"
			"Transfer-Encoding: chunked\r\n\r\n"
			"3;ext=1\r\nxyz\r\n10\r\n0123456789abcdef\r\n"
			"0\r\nTrailer: t\r\n\r\n"
			"GET /c HTTP/1.1\r\nHost: h\r\n\r\n";
	size_t n = strlen(s), off = 0, used;
	struct msb_http1_chunked ch;
	const char *paths[] = {"/a", "/b", "/c"};

	for (int i = 0; i < 3; i++) {
		CHECK(msb_http1_parse(&req, U(s + off), n - off, NULL) ==
		      MSB_HTTP1_OK);
		CHECK(span_eq(s + off, req.target, paths[i]));
		off += req.head_len;
		if (req.body == MSB_HTTP1_BODY_LENGTH)
			off += req.content_length;
		if (req.body == MSB_HTTP1_BODY_CHUNKED) {
			memset(&ch, 0, sizeof(ch));
			CHECK(msb_http1_chunked_feed(&ch, U(s + off), n - off,
						     &used) == MSB_HTTP1_OK);
			off += used;
			/* byte by byte, the same end */
			size_t at = off - used;
			memset(&ch, 0, sizeof(ch));
			enum msb_http1_status st = MSB_HTTP1_NEED_MORE;
			while (st == MSB_HTTP1_NEED_MORE && at < n) {
				st = msb_http1_chunked_feed(&ch, U(s + at), 1,
							    &used);
				at += used;
			}
			CHECK(st == MSB_HTTP1_OK && at == off);
		}
	}
	CHECK(off == n);
}

static enum msb_http1_status chunked(const char *s, size_t *used)
{
	struct msb_http1_chunked ch;
	memset(&ch, 0, sizeof(ch));
	return msb_http1_chunked_feed(&ch, U(s), strlen(s), used);
}

static void test_chunked(void)
{
	size_t used;

	CHECK(chunked("0\r\n\r\n", &used) == MSB_HTTP1_OK && used == 5);
	CHECK(chunked("A\r\n0123456789\r\n0\r\n\r\nnext", &used) ==
	      MSB_HTTP1_OK);
	CHECK(used == 20);
	CHECK(chunked("5 ; a=b\r\nhello\r\n0\r\n\r\n", &used) == MSB_HTTP1_OK);
	CHECK(chunked("5\r\nhello\r\n", &used) == MSB_HTTP1_NEED_MORE &&
	      used == 10);
	CHECK(chunked("x\r\n", &used) == MSB_HTTP1_BAD);
	CHECK(chunked("\r\n", &used) == MSB_HTTP1_BAD);
	CHECK(chunked("5\nhello", &used) == MSB_HTTP1_BAD);
	CHECK(chunked("5\r\nhelloX\r\n", &used) == MSB_HTTP1_BAD);
	CHECK(chunked("1000000000000000\r\n", &used) == MSB_HTTP1_BAD);
	CHECK(chunked("0\r\n:bad\r\n\r\n", &used) == MSB_HTTP1_BAD);
	CHECK(chunked("0\r\nA: \x01\r\n\r\n", &used) == MSB_HTTP1_BAD);
	/* a BAD state stays bad */
	struct msb_http1_chunked ch;
	memset(&ch, 0, sizeof(ch));
	CHECK(msb_http1_chunked_feed(&ch, U("z"), 1, &used) == MSB_HTTP1_BAD);
	CHECK(msb_http1_chunked_feed(&ch, U("0\r\n\r\n"), 5, &used) ==
	      MSB_HTTP1_BAD);
	/* a long extension is refused */
	static char ext[MSB_HTTP1_LINE_MAX + 16];
	memset(ext, 'e', sizeof(ext) - 1);
	memcpy(ext, "1;", 2);
	CHECK(chunked(ext, &used) == MSB_HTTP1_BAD);
}

/* ---- secrets ---- */

static const uint8_t nonce1[8] = {0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3};
static const uint8_t nonce2[8] = {1, 2, 3, 4, 5, 6, 7, 8};
static char ph_key[MSB_SECRET_PLACEHOLDER_MAX],
	ph_tok[MSB_SECRET_PLACEHOLDER_MAX];
static const char *const key_hosts[] = {"api.example.com"};
static const char *const tok_hosts[] = {"*.example.org", "Exact.Test"};
static struct msb_secret secrets[2];

static void setup_secrets(void)
{
	CHECK(msb_secret_placeholder(ph_key, sizeof(ph_key), "API_KEY",
				     nonce1) == 0);
	CHECK_STR(ph_key, "$MSB_API_KEY_deadbeef00010203");
	CHECK(msb_secret_placeholder(ph_tok, sizeof(ph_tok), "TOKEN", nonce2) ==
	      0);
	secrets[0] = (struct msb_secret){"API_KEY", ph_key,    U("sk-real-123"),
					 11,        key_hosts, 1};
	secrets[1] = (struct msb_secret){"TOKEN", ph_tok,    U("t0k/en+=&"),
					 9,       tok_hosts, 2};
}

static void test_names(void)
{
	char out[MSB_SECRET_PLACEHOLDER_MAX];
	CHECK(msb_secret_name_ok("A"));
	CHECK(msb_secret_name_ok("_X9"));
	CHECK(!msb_secret_name_ok(""));
	CHECK(!msb_secret_name_ok("9X"));
	CHECK(!msb_secret_name_ok("lower"));
	CHECK(!msb_secret_name_ok("A-B"));
	char longname[MSB_SECRET_NAME_MAX + 2];
	memset(longname, 'A', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	CHECK(!msb_secret_name_ok(longname));
	longname[MSB_SECRET_NAME_MAX] = '\0';
	CHECK(msb_secret_placeholder(out, sizeof(out), longname, nonce1) == 0);
	CHECK(strlen(out) == MSB_SECRET_PLACEHOLDER_MAX - 1);
	CHECK(msb_secret_placeholder(out, sizeof(out) - 1, "A", nonce1) == -1);
	CHECK(msb_secret_placeholder(out, sizeof(out), "a", nonce1) == -1);

	CHECK(msb_secret_host_match(&secrets[0], "api.example.com"));
	CHECK(msb_secret_host_match(&secrets[0], "API.Example.COM"));
	CHECK(!msb_secret_host_match(&secrets[0], "example.com"));
	CHECK(!msb_secret_host_match(&secrets[0], "xapi.example.com"));
	CHECK(msb_secret_host_match(&secrets[1], "a.example.org"));
	CHECK(msb_secret_host_match(&secrets[1], "a.b.example.org"));
	CHECK(!msb_secret_host_match(&secrets[1], "example.org"));
	CHECK(!msb_secret_host_match(&secrets[1], "badexample.org"));
	CHECK(msb_secret_host_match(&secrets[1], "exact.test"));
	/* patterns that would mean "anywhere" match nothing */
	static const char *const wild[] = {"", "*", "*."};
	struct msb_secret w = {"W", ph_key, U("v"), 1, wild, 3};
	CHECK(!msb_secret_host_match(&w, "a.test"));
	CHECK(!msb_secret_host_match(&w, ""));
	CHECK(!msb_secret_host_match(&secrets[0], ""));
}

static uint8_t out[1 << 17];
static size_t out_len;
static uint64_t used;
static char why[256];

/* Substitute in @s (a full head) with @ctx. */
static enum msb_http1_verdict sub(const char *s, const char *sni, bool resolved)
{
	struct msb_http1_ctx ctx = {sni, resolved};
	if (msb_http1_parse(&req, U(s), strlen(s), NULL) != MSB_HTTP1_OK) {
		fprintf(stderr, "  does not parse: `%s`: %s\n", s, req.why);
		return (enum msb_http1_verdict) - 1;
	}
	memset(out, 0, sizeof(out));
	return msb_http1_substitute(out, sizeof(out), &out_len, &used, why,
				    sizeof(why), &req, U(s), secrets, 2, &ctx);
}

static void rewrites_to(const char *s, const char *sni, const char *want,
			uint64_t want_used)
{
	enum msb_http1_verdict v = sub(s, sni, true);
	CHECK(v == MSB_HTTP1_REWRITE);
	if (v != MSB_HTTP1_REWRITE) {
		fprintf(stderr, "  not rewritten (%d: %s): `%s`\n", v, why, s);
		return;
	}
	out[out_len] = '\0';
	CHECK_STR((const char *)out, want);
	CHECK(used == want_used);
	/* the result is a head that parses, of the same shape */
	struct msb_http1_req again;
	CHECK(msb_http1_parse(&again, out, out_len, NULL) == MSB_HTTP1_OK &&
	      again.head_len == out_len && again.n_headers == req.n_headers);
}

static void blocked(const char *s, const char *sni, bool resolved,
		    const char *want)
{
	enum msb_http1_verdict v = sub(s, sni, resolved);
	CHECK(v == MSB_HTTP1_BLOCK);
	CHECK(strstr(why, want) != NULL);
	if (v != MSB_HTTP1_BLOCK || !strstr(why, want))
		fprintf(stderr, "  `%s`: %d `%s`, wanted `%s`\n", s, v, why,
			want);
	CHECK(used == 0 && out_len == 0);
	/* never a value in the reason */
	CHECK(!strstr(why, "sk-real") && !strstr(why, "t0k"));
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
#include <stdarg.h>
static char *fmt(const char *f, ...)
{
	static char bufs[4][8192];
	static int k;
	va_list ap;
	char *b = bufs[k++ % 4];
	va_start(ap, f);
	vsnprintf(b, sizeof(bufs[0]), f, ap);
	va_end(ap);
	return b;
}

static void test_substitute(void)
{
	/* nothing to do */
	CHECK(sub("GET / HTTP/1.1\r\nHost: api.example.com\r\n"
		  "X-Note: $MSB_API_KEY\r\n\r\n",
		  "api.example.com", true) == MSB_HTTP1_PASS);
	CHECK(used == 0 && out_len == 0);
	CHECK(sub("GET / HTTP/1.1\r\nHost: x\r\n\r\n", NULL, false) ==
	      MSB_HTTP1_PASS);

	/* a bearer token; other headers and bytes kept as they are */
	rewrites_to(fmt("GET /v1 HTTP/1.1\r\nHost: api.example.com\r\n"
			"Authorization: Bearer %s\r\nX-A:  b \r\n\r\n",
			ph_key),
		    "api.example.com",
		    "GET /v1 HTTP/1.1\r\nHost: api.example.com\r\n"
		    "Authorization: Bearer sk-real-123\r\nX-A:  b \r\n\r\n",
		    1);
	/* twice in a value, Host with its port, empty lines before */
	rewrites_to(fmt("\r\nGET / HTTP/1.1\r\nHost: API.example.com:443\r\n"
			"X-K: %s,%s\r\n\r\n",
			ph_key, ph_key),
		    "api.example.com",
		    "\r\nGET / HTTP/1.1\r\nHost: API.example.com:443\r\n"
		    "X-K: sk-real-123,sk-real-123\r\n\r\n",
		    1);
	/* in the target, plain and percent-encoded: the value encoded */
	rewrites_to(
		fmt("GET /q?a=%s&b=%%24%s HTTP/1.1\r\nHost: x.example.org"
		    "\r\n\r\n",
		    ph_tok, ph_tok + 1),
		"x.example.org",
		"GET /q?a=t0k%2Fen%2B%3D%26&b=t0k%2Fen%2B%3D%26 HTTP/1.1\r\n"
		"Host: x.example.org\r\n\r\n",
		2);
	/* Basic: decoded, substituted, encoded again. "user:" + ph_key: */
	char creds[200], b64[300];
	snprintf(creds, sizeof(creds), "user:%s", ph_key);
	/* base64 by hand of a fixed text would hide the point: encode here */
	{
		static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijkl"
					"mnopqrstuvwxyz0123456789+/";
		size_t n = strlen(creds), o = 0;
		for (size_t i = 0; i < n; i += 3) {
			unsigned w = (unsigned)(uint8_t)creds[i] << 16;
			if (i + 1 < n)
				w |= (unsigned)(uint8_t)creds[i + 1] << 8;
			if (i + 2 < n)
				w |= (uint8_t)creds[i + 2];
			b64[o++] = t[w >> 18 & 63];
			b64[o++] = t[w >> 12 & 63];
			b64[o++] = i + 1 < n ? t[w >> 6 & 63] : '=';
			b64[o++] = i + 2 < n ? t[w & 63] : '=';
		}
		b64[o] = '\0';
	}
	/* "user:sk-real-123" is dXNlcjpzay1yZWFsLTEyMw== */
	rewrites_to(fmt("GET / HTTP/1.1\r\nHost: api.example.com\r\n"
			"authorization: basic  %s\r\n\r\n",
			b64),
		    "api.example.com",
		    "GET / HTTP/1.1\r\nHost: api.example.com\r\n"
		    "authorization: basic  dXNlcjpzay1yZWFsLTEyMw==\r\n\r\n",
		    1);
	/* both secrets in one request, each where it may go */
	rewrites_to(fmt("GET / HTTP/1.1\r\nHost: exact.test\r\n"
			"X-T: %s\r\n\r\n",
			ph_tok),
		    "exact.test",
		    "GET / HTTP/1.1\r\nHost: exact.test\r\nX-T: t0k/en+=&\r\n"
		    "\r\n",
		    2);

	/* the rules */
	const char *bearer = fmt("GET / HTTP/1.1\r\nHost: api.example.com\r\n"
				 "Authorization: Bearer %s\r\n\r\n",
				 ph_key);
	blocked(bearer, NULL, false, "plain HTTP");
	blocked(bearer, "evil.example.net", true, "not allowed for");
	blocked(bearer, "api.example.com", false, "not resolved");
	blocked(fmt("GET / HTTP/1.1\r\nHost: evil.example.net\r\n"
		    "Authorization: Bearer %s\r\n\r\n",
		    ph_key),
		"api.example.com", true, "is not the TLS server name");
	blocked(fmt("GET / HTTP/1.0\r\nX: %s\r\n\r\n", ph_key),
		"api.example.com", true, "without Host");
	blocked(fmt("GET https://evil.test/ HTTP/1.1\r\nHost: api.example.com"
		    "\r\nX: %s\r\n\r\n",
		    ph_key),
		"api.example.com", true, "target host `evil.test`");
	blocked(fmt("GET https://u@api.example.com/ HTTP/1.1\r\n"
		    "Host: api.example.com\r\nX: %s\r\n\r\n",
		    ph_key),
		"api.example.com", true, "user information");
	rewrites_to(fmt("GET https://api.example.com:443/x HTTP/1.1\r\n"
			"Host: api.example.com\r\nX: %s\r\n\r\n",
			ph_key),
		    "api.example.com",
		    "GET https://api.example.com:443/x HTTP/1.1\r\n"
		    "Host: api.example.com\r\nX: sk-real-123\r\n\r\n",
		    1);
	blocked(fmt("CONNECT api.example.com:443 HTTP/1.1\r\n"
		    "Host: api.example.com\r\nX: %s\r\n\r\n",
		    ph_key),
		"api.example.com", true, "CONNECT");
	blocked(fmt("CONNECT %s:443 HTTP/1.1\r\nHost: api.example.com\r\n\r\n",
		    ph_key),
		NULL, true, "plain HTTP");
	blocked(fmt("GET / HTTP/1.1\r\nHost: api.example.com\r\nX-%s: 1\r\n\r\n",
		    ph_key),
		"api.example.com", true, "header name");
	blocked(fmt("%s / HTTP/1.1\r\nHost: api.example.com\r\n\r\n", ph_key),
		"api.example.com", true, "method");
	/* one good and one misplaced secret: blocked */
	blocked(fmt("GET / HTTP/1.1\r\nHost: api.example.com\r\nA: %s\r\n"
		    "B: %s\r\n\r\n",
		    ph_key, ph_tok),
		"api.example.com", true, "TOKEN is not allowed");
	/* Basic credentials are looked into for the rules too */
	blocked(fmt("GET / HTTP/1.1\r\nHost: api.example.com\r\n"
		    "Authorization: Basic %s\r\n\r\n",
		    b64),
		"other.example.com", true, "not allowed");
	/* a placeholder inside the Host is a Host that differs */
	blocked(fmt("GET / HTTP/1.1\r\nHost: %s\r\n\r\n", ph_key),
		"api.example.com", true, "is not the TLS server name");

	/* a value with a line break cannot go in a header... */
	static const char *const h1[] = {"a.test"};
	char ph_crlf[MSB_SECRET_PLACEHOLDER_MAX];
	msb_secret_placeholder(ph_crlf, sizeof(ph_crlf), "CRLF", nonce1);
	struct msb_secret s_crlf = {"CRLF", ph_crlf, U("v\r\nX-Evil: 1"),
				    12,     h1,      1};
	struct msb_http1_ctx ctx = {"a.test", true};
	const char *hs =
		fmt("GET / HTTP/1.1\r\nHost: a.test\r\nX: %s\r\n\r\n", ph_crlf);
	CHECK(msb_http1_parse(&req, U(hs), strlen(hs), NULL) == MSB_HTTP1_OK);
	CHECK(msb_http1_substitute(out, sizeof(out), &out_len, &used, why,
				   sizeof(why), &req, U(hs), &s_crlf, 1,
				   &ctx) == MSB_HTTP1_BLOCK);
	CHECK(strstr(why, "control character") != NULL);
	/* ...but can in the target, encoded */
	hs = fmt("GET /?k=%s HTTP/1.1\r\nHost: a.test\r\n\r\n", ph_crlf);
	CHECK(msb_http1_parse(&req, U(hs), strlen(hs), NULL) == MSB_HTTP1_OK);
	CHECK(msb_http1_substitute(out, sizeof(out), &out_len, &used, why,
				   sizeof(why), &req, U(hs), &s_crlf, 1,
				   &ctx) == MSB_HTTP1_REWRITE);
	out[out_len] = '\0';
	CHECK(strstr((char *)out, "/?k=v%0D%0AX-Evil%3A%201 ") != NULL);
	if (!strstr((char *)out, "/?k=v%0D%0AX-Evil%3A%201 "))
		fprintf(stderr, "  got `%s`\n", (char *)out);

	/* the output does not fit */
	hs = fmt("GET / HTTP/1.1\r\nHost: a.test\r\nX: %s\r\n\r\n", ph_crlf);
	s_crlf.value = U("value");
	s_crlf.value_len = 5;
	CHECK(msb_http1_parse(&req, U(hs), strlen(hs), NULL) == MSB_HTTP1_OK);
	CHECK(msb_http1_substitute(out, 20, &out_len, &used, why, sizeof(why),
				   &req, U(hs), &s_crlf, 1,
				   &ctx) == MSB_HTTP1_BLOCK);
	CHECK(strstr(why, "too long") != NULL && used == 0);

	/* the longest placeholder wins: A_<nonce...> vs A */
	char ph_a[MSB_SECRET_PLACEHOLDER_MAX], ph_b[MSB_SECRET_PLACEHOLDER_MAX];
	static const uint8_t digits[8] = {0x01, 0x23, 0x45, 0x67,
					  0x89, 0x01, 0x23, 0x45};
	msb_secret_placeholder(ph_a, sizeof(ph_a), "A", digits);
	msb_secret_placeholder(ph_b, sizeof(ph_b), "A_0123456789012345",
			       nonce1);
	CHECK(strncmp(ph_b, ph_a, strlen(ph_a)) == 0); /* a prefix */
	struct msb_secret ab[2] = {
		{"A", ph_a, U("1"), 1, h1, 1},
		{"A_0123456789012345", ph_b, U("2"), 1, h1, 1}};
	hs = fmt("GET / HTTP/1.1\r\nHost: a.test\r\nX: %s %s\r\n\r\n", ph_b,
		 ph_a);
	CHECK(msb_http1_parse(&req, U(hs), strlen(hs), NULL) == MSB_HTTP1_OK);
	CHECK(msb_http1_substitute(out, sizeof(out), &out_len, &used, why,
				   sizeof(why), &req, U(hs), ab, 2,
				   &ctx) == MSB_HTTP1_REWRITE);
	out[out_len] = '\0';
	CHECK(strstr((char *)out, "X: 2 1\r\n") != NULL && used == 3);
}

int main(void)
{
	test_heads();
	test_bad_heads();
	test_resume();
	test_pipelining();
	test_chunked();
	setup_secrets();
	test_names();
	test_substitute();
	return check_summary("net_http1");
}
