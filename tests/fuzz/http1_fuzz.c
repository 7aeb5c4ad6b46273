// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer harness for HTTP/1.1 request heads, chunked bodies and secret
 * substitution (src/net/http1.c). The input is a client's stream. Checked:
 * a head's spans lie inside it and the bytes after it change nothing; a
 * chunked body gives the same end whether fed at once or in two parts;
 * parsing in two parts with the resume point gives the same answer;
 * substitution, for a plain and two TLS contexts, never passes a head
 * that holds a placeholder, never substitutes over plain HTTP, writes a
 * head that parses again with the same headers and holds no placeholder
 * of a secret it used, and blocks with a one-line reason free of values (but
 * what the guest sent itself).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/http1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(what)                                                             \
	do {                                                                   \
		fprintf(stderr, "http1_fuzz: %s (%s:%d)\n", what, __FILE__,    \
			__LINE__);                                             \
		abort();                                                       \
	} while (0)

/* placeholders with the nonces 0x00.. and 0x11.. */
#define PH_KEY "$MSB_API_KEY_0001020304050607"
#define PH_TOK "$MSB_TOKEN_1111111111111111"
static const char *const key_hosts[] = {"api.example.com"};
static const char *const tok_hosts[] = {"*.example.org"};
static const struct msb_secret secrets[] = {
	{"API_KEY", PH_KEY, (const uint8_t *)"SECRETVALUE1", 12, key_hosts, 1},
	{"TOKEN", PH_TOK, (const uint8_t *)"SECRET/VAL 2", 12, tok_hosts, 1},
};

static void check_span(struct msb_http1_span s, size_t len)
{
	if ((size_t)s.off + s.len > len)
		FAIL("span past the head");
}

static void check_subst(const struct msb_http1_req *r, const uint8_t *buf,
			const struct msb_http1_ctx *ctx)
{
	static uint8_t out[MSB_HTTP1_HEAD_MAX * 2];
	static struct msb_http1_req again;
	char why[256];
	size_t out_len;
	uint64_t used;
	bool has_ph = memmem(buf, r->head_len, PH_KEY, strlen(PH_KEY)) ||
		      memmem(buf, r->head_len, PH_TOK, strlen(PH_TOK));

	enum msb_http1_verdict v =
		msb_http1_substitute(out, sizeof(out), &out_len, &used, why,
				     sizeof(why), r, buf, secrets, 2, ctx);
	switch (v) {
	case MSB_HTTP1_PASS:
		if (has_ph)
			FAIL("a head with a placeholder passed");
		if (used || out_len)
			FAIL("PASS with output");
		break;
	case MSB_HTTP1_REWRITE:
		if (!ctx->sni)
			FAIL("substituted over plain HTTP");
		if (!used || used > 3 || out_len > sizeof(out))
			FAIL("bad used bits or length");
		if (msb_http1_parse(&again, out, out_len, NULL) !=
			    MSB_HTTP1_OK ||
		    again.head_len != out_len ||
		    again.n_headers != r->n_headers || again.host != r->host)
			FAIL("rewritten head does not parse the same");
		if ((used & 1 &&
		     memmem(out, out_len, PH_KEY, strlen(PH_KEY))) ||
		    (used & 2 && memmem(out, out_len, PH_TOK, strlen(PH_TOK))))
			FAIL("a used placeholder is left");
		break;
	case MSB_HTTP1_BLOCK:
		if (used || out_len || !why[0] || strchr(why, '\n'))
			FAIL("bad BLOCK");
		/* a value in the reason only if the guest sent it itself */
		for (size_t i = 0; i < 2; i++)
			if (strstr(why, (const char *)secrets[i].value) &&
			    !memmem(buf, r->head_len, secrets[i].value,
				    secrets[i].value_len))
				FAIL("a secret's value in the reason");
		break;
	default:
		FAIL("unknown verdict");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct msb_http1_req r, again;
	static const struct msb_http1_ctx ctxs[] = {
		{NULL, false},
		{"api.example.com", true},
		{"a.example.org", true},
	};
	enum msb_http1_status st = msb_http1_parse(&r, data, size, NULL);

	if (st == MSB_HTTP1_BAD) {
		if (!r.why || strchr(r.why, '\n') || r.head_len || r.n_headers)
			FAIL("bad BAD");
		return 0;
	}
	/* in two parts, resuming, the same answer */
	size_t scan = 0;
	enum msb_http1_status half =
		msb_http1_parse(&again, data, size / 2, &scan);
	if (half == MSB_HTTP1_NEED_MORE) {
		if (scan > size / 2)
			FAIL("resumes past the bytes given");
		half = msb_http1_parse(&again, data, size, &scan);
		if (half != st ||
		    (st == MSB_HTTP1_OK && memcmp(&r, &again, sizeof(r))))
			FAIL("resuming changed the answer");
	}
	if (st == MSB_HTTP1_NEED_MORE) {
		if (size >= MSB_HTTP1_HEAD_MAX || r.head_len)
			FAIL("NEED_MORE past the limit");
		return 0;
	}
	if (st != MSB_HTTP1_OK || !r.head_len || r.head_len > size ||
	    r.head_len > MSB_HTTP1_HEAD_MAX ||
	    r.n_headers > MSB_HTTP1_HEADERS_MAX)
		FAIL("bad OK");
	check_span(r.method, r.head_len);
	check_span(r.target, r.head_len);
	for (size_t i = 0; i < r.n_headers; i++) {
		check_span(r.headers[i].name, r.head_len);
		check_span(r.headers[i].value, r.head_len);
	}
	if (r.host >= (int)r.n_headers || (r.minor == 1 && r.host < 0))
		FAIL("bad Host index");
	if (msb_http1_parse(&again, data, r.head_len, NULL) != MSB_HTTP1_OK ||
	    memcmp(&r, &again, sizeof(r)))
		FAIL("bytes after the head changed it");
	if (msb_http1_parse(&again, data, r.head_len - 1, NULL) !=
	    MSB_HTTP1_NEED_MORE)
		FAIL("a head one byte short is not NEED_MORE");

	for (size_t i = 0; i < sizeof(ctxs) / sizeof(ctxs[0]); i++)
		check_subst(&r, data, &ctxs[i]);

	if (r.body == MSB_HTTP1_BODY_CHUNKED) {
		const uint8_t *b = data + r.head_len;
		size_t n = size - r.head_len, u1, u2, u3;
		struct msb_http1_chunked c1, c2;
		memset(&c1, 0, sizeof(c1));
		memset(&c2, 0, sizeof(c2));
		enum msb_http1_status s1 =
			msb_http1_chunked_feed(&c1, b, n, &u1);
		enum msb_http1_status s2 =
			msb_http1_chunked_feed(&c2, b, n / 2, &u2);
		if (u1 > n || u2 > n / 2)
			FAIL("used more than given");
		if (s2 == MSB_HTTP1_NEED_MORE) {
			s2 = msb_http1_chunked_feed(&c2, b + n / 2, n - n / 2,
						    &u3);
			u2 += u3;
		}
		if (s1 != s2 || (s1 == MSB_HTTP1_OK && u1 != u2))
			FAIL("a split changed the chunked answer");
	}
	return 0;
}
