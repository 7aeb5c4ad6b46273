// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer harness for the server side of src/net/http1.c: response
 * heads, chunked decoding, msb_secret_find(), body substitution and
 * reframing. The first byte picks the request's method (GET, HEAD,
 * CONNECT or none), the secrets allowed in a body and the size of the
 * decoding buffer; the rest is a server's stream (and, for reframing and
 * body substitution, a client's). Checked: a head's answer is the same
 * in one part, in two with the resume point, and byte by byte; the
 * bytes after the head change nothing; the framing follows the method
 * and status; chunked decoding into a small buffer, a call at a time,
 * gives the bytes and the end of decoding at once, which gives the end
 * msb_http1_chunked_feed() finds; msb_secret_find() agrees with a plain
 * search; body substitution leaves no placeholder, blocks only for a
 * secret not allowed and never shows a value; a reframed head parses
 * with the new length and otherwise the same headers.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/http1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(what)                                                             \
	do {                                                                   \
		fprintf(stderr, "http1resp_fuzz: %s (%s:%d)\n", what,          \
			__FILE__, __LINE__);                                   \
		abort();                                                       \
	} while (0)

#define PH_KEY "$MSB_API_KEY_0001020304050607"
#define PH_TOK "$MSB_TOKEN_1111111111111111"
#define PH_K2 "$MSB_K_0123456789abcdef"
static const char *const hosts[] = {"api.example.com"};
static const struct msb_secret secrets[] = {
	{"API_KEY", PH_KEY, (const uint8_t *)"SECRETVALUE1", 12, hosts, 1},
	{"TOKEN", PH_TOK, (const uint8_t *)"SECRET/VAL 2", 12, hosts, 1},
	{"K", PH_K2, (const uint8_t *)"v", 1, hosts, 1},
	{"NOT", "MSB_NOT", (const uint8_t *)"SECRETVALUE4", 12, hosts, 1},
};
#define N_SECRETS 4

static void check_resp(const uint8_t *data, size_t size, const char *method)
{
	static struct msb_http1_resp r, again;
	enum msb_http1_status st =
		msb_http1_parse_response(&r, data, size, NULL, method);
	size_t scan = 0;

	if (st == MSB_HTTP1_BAD) {
		if (!r.why || strchr(r.why, '\n') || r.head_len || r.status)
			FAIL("bad BAD");
	} else if (st == MSB_HTTP1_NEED_MORE) {
		if (size >= MSB_HTTP1_HEAD_MAX || r.head_len)
			FAIL("NEED_MORE past the limit");
	}
	/* in two parts, resuming: the same answer */
	enum msb_http1_status half =
		msb_http1_parse_response(&again, data, size / 2, &scan, method);
	if (half == MSB_HTTP1_NEED_MORE) {
		if (scan > size / 2)
			FAIL("resumes past the bytes given");
		half = msb_http1_parse_response(&again, data, size, &scan,
						method);
		if (half != st ||
		    (st == MSB_HTTP1_OK && memcmp(&r, &again, sizeof(r))))
			FAIL("resuming changed the answer");
	} else if (half != st ||
		   (st == MSB_HTTP1_OK && memcmp(&r, &again, sizeof(r)))) {
		FAIL("a prefix's answer is not the whole's");
	}
	/* byte by byte, resuming, for short inputs */
	if (size <= 256) {
		enum msb_http1_status b = MSB_HTTP1_NEED_MORE;
		size_t k;
		scan = 0;
		for (k = 0; k <= size && b == MSB_HTTP1_NEED_MORE; k++)
			b = msb_http1_parse_response(&again, data, k, &scan,
						     method);
		if (b != st ||
		    (st == MSB_HTTP1_OK && memcmp(&r, &again, sizeof(r))))
			FAIL("byte by byte changed the answer");
	}
	if (st != MSB_HTTP1_OK)
		return;
	if (!r.head_len || r.head_len > size ||
	    r.head_len > MSB_HTTP1_HEAD_MAX || r.status < 100 ||
	    r.status > 599 || (r.minor != 0 && r.minor != 1) || r.why)
		FAIL("bad OK");
	if (msb_http1_parse_response(&again, data, r.head_len, NULL, method) !=
		    MSB_HTTP1_OK ||
	    memcmp(&r, &again, sizeof(r)))
		FAIL("bytes after the head changed it");
	if (msb_http1_parse_response(&again, data, r.head_len - 1, NULL,
				     method) != MSB_HTTP1_NEED_MORE)
		FAIL("a head one byte short is not NEED_MORE");
	/* framing */
	bool head = method && !strcmp(method, "HEAD");
	bool connect = method && !strcmp(method, "CONNECT");
	if ((r.tunnel || r.interim || head) && r.body != MSB_HTTP1_BODY_NONE)
		FAIL("a body after a head that has none");
	if (r.tunnel != (r.status == 101 || (connect && r.status / 100 == 2)))
		FAIL("bad tunnel");
	if (r.interim != (r.status / 100 == 1 && r.status != 101))
		FAIL("bad interim");
	if ((r.tunnel || r.body == MSB_HTTP1_BODY_CLOSE) && r.keep_alive)
		FAIL("keep-alive with a body until the close");
	if (r.body != MSB_HTTP1_BODY_LENGTH && r.content_length)
		FAIL("a length without a length body");
}

/* Decoding a call at a time into @cap bytes, and at once, and feeding. */
static void check_chunked(const uint8_t *b, size_t n, size_t cap)
{
	static uint8_t all[1 << 16], part[16];
	struct msb_http1_chunked c1, c2, c3;
	size_t u1, u2 = 0, u3, o1, o2 = 0, u, o;
	enum msb_http1_status s1, s2, s3;
	int calls = 0;

	memset(&c1, 0, sizeof(c1));
	memset(&c2, 0, sizeof(c2));
	memset(&c3, 0, sizeof(c3));
	s1 = msb_http1_chunked_decode(&c1, b, n, &u1, all, sizeof(all), &o1);
	s3 = msb_http1_chunked_feed(&c3, b, n, &u3);
	if (n <= sizeof(all) && (s1 != s3 || (s1 != MSB_HTTP1_BAD && u1 != u3)))
		FAIL("decode and feed disagree");
	if (u1 > n || (s1 != MSB_HTTP1_BAD && o1 > u1) || o1 > n)
		FAIL("decoded more than given");
	do {
		s2 = msb_http1_chunked_decode(&c2, b + u2, n - u2, &u, part,
					      cap, &o);
		if (o > cap || u > n - u2)
			FAIL("past a limit");
		if (s2 == MSB_HTTP1_NEED_MORE && u < n - u2 && o != cap)
			FAIL("stopped with room left");
		if (o && (o2 + o > o1 || memcmp(all + o2, part, o)))
			FAIL("small decoding gives other bytes");
		o2 += o;
		u2 += u;
	} while (s2 == MSB_HTTP1_NEED_MORE && u2 < n && ++calls < 100000);
	if (s2 == MSB_HTTP1_NEED_MORE && u2 < n)
		FAIL("no progress");
	if (s1 != s2 || (s1 == MSB_HTTP1_OK && (u1 != u2 || o1 != o2)))
		FAIL("small decoding changed the answer");
}

/* A plain search: the first secret whose placeholder but its '$' is in
 * @buf. */
static int find_ref(const uint8_t *buf, size_t n, bool nocase)
{
	static uint8_t low[1 << 16];
	char ph[MSB_SECRET_PLACEHOLDER_MAX];

	if (n > sizeof(low))
		return -2;
	for (size_t i = 0; i < n; i++)
		low[i] = nocase && buf[i] >= 'A' && buf[i] <= 'Z'
				 ? (uint8_t)(buf[i] + 32)
				 : buf[i];
	for (size_t s = 0; s < N_SECRETS; s++) {
		const char *p = secrets[s].placeholder;
		size_t k;
		if (strncmp(p, "$MSB_", 5))
			continue;
		for (k = 0; p[k + 1]; k++)
			ph[k] = nocase && p[k + 1] >= 'A' && p[k + 1] <= 'Z'
					? (char)(p[k + 1] + 32)
					: p[k + 1];
		if (memmem(low, n, ph, k))
			return (int)s;
	}
	return -1;
}

static void check_body(const uint8_t *b, size_t n, uint64_t allowed)
{
	static uint8_t out[1 << 17];
	char why[256];
	size_t out_len;
	uint64_t used, present = 0;

	for (size_t s = 0; s < N_SECRETS; s++)
		if (!strncmp(secrets[s].placeholder, "$MSB_", 5) &&
		    memmem(b, n, secrets[s].placeholder,
			   strlen(secrets[s].placeholder)))
			present |= (uint64_t)1 << s;
	enum msb_http1_verdict v = msb_http1_body_substitute(
		out, sizeof(out), &out_len, &used, why, sizeof(why), b, n,
		secrets, N_SECRETS, allowed);
	switch (v) {
	case MSB_HTTP1_PASS:
		if (present || used || out_len)
			FAIL("PASS with a placeholder");
		break;
	case MSB_HTTP1_REWRITE:
		if (!used || used & ~allowed || used != present)
			FAIL("bad used bits");
		for (size_t s = 0; s < N_SECRETS; s++)
			if (!strncmp(secrets[s].placeholder, "$MSB_", 5) &&
			    memmem(out, out_len, secrets[s].placeholder,
				   strlen(secrets[s].placeholder)))
				FAIL("a placeholder is left");
		break;
	case MSB_HTTP1_BLOCK:
		if (used || out_len || !why[0] || strchr(why, '\n'))
			FAIL("bad BLOCK");
		if (!(present & ~allowed))
			FAIL("blocked with every secret allowed");
		if (strstr(why, "SECRET"))
			FAIL("a value in the reason");
		break;
	default:
		FAIL("unknown verdict");
	}
}

static void check_reframe(const uint8_t *data, size_t size)
{
	static struct msb_http1_req r, again;
	static uint8_t out[MSB_HTTP1_HEAD_MAX + 64];
	size_t out_len, dropped = 0;
	bool other_coding = false;

	if (msb_http1_parse(&r, data, size, NULL) != MSB_HTTP1_OK)
		return;
	for (size_t i = 0; i < r.n_headers; i++) {
		bool te = msb_http1_header_is(&r, data, i, "transfer-encoding");
		if (te || msb_http1_header_is(&r, data, i, "content-length"))
			dropped++;
		if (te) {
			/* a coding but chunked: any token but "chunked" */
			const uint8_t *v = data + r.headers[i].value.off;
			size_t vn = r.headers[i].value.len, s = 0;
			for (size_t k = 0; k <= vn; k++) {
				if (k < vn && v[k] != ',')
					continue;
				size_t a = s, e = k;
				while (a < e && (v[a] == ' ' || v[a] == '\t'))
					a++;
				while (e > a &&
				       (v[e - 1] == ' ' || v[e - 1] == '\t'))
					e--;
				if (e - a != 7 ||
				    strncasecmp((const char *)v + a, "chunked",
						7))
					other_coding = true;
				s = k + 1;
			}
		}
	}
	uint64_t n = size - r.head_len;
	int rc = msb_http1_reframe(out, sizeof(out), &out_len, &r, data, n);
	if (other_coding) {
		if (rc != -1)
			FAIL("reframed a coding but chunked");
		return;
	}
	if (rc != 0)
		FAIL("reframe refused");
	if (msb_http1_parse(&again, out, out_len, NULL) != MSB_HTTP1_OK ||
	    again.head_len != out_len || again.body != MSB_HTTP1_BODY_LENGTH ||
	    again.content_length != n ||
	    again.n_headers != r.n_headers - dropped + 1 ||
	    again.method.len != r.method.len ||
	    memcmp(out + again.method.off, data + r.method.off, r.method.len) ||
	    again.target.len != r.target.len ||
	    memcmp(out + again.target.off, data + r.target.off, r.target.len))
		FAIL("the reframed head does not parse the same");
	/* too small by one: refused, nothing claimed */
	if (msb_http1_reframe(out, out_len - 1, &out_len, &r, data, n) != -1 ||
	    out_len)
		FAIL("reframed without room");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const methods[] = {"GET", "HEAD", "CONNECT", NULL};
	static struct msb_http1_resp r;

	if (!size)
		return 0;
	uint8_t sel = data[0];
	data++;
	size--;
	const char *method = methods[sel & 3];

	check_resp(data, size, method);
	if (msb_http1_parse_response(&r, data, size, NULL, method) ==
		    MSB_HTTP1_OK &&
	    r.body == MSB_HTTP1_BODY_CHUNKED)
		check_chunked(data + r.head_len, size - r.head_len,
			      1 + (sel >> 4));
	else
		check_chunked(data, size, 1 + (sel >> 4));
	for (int nocase = 0; nocase < 2; nocase++)
		if (msb_secret_find(data, size, secrets, N_SECRETS, nocase) !=
			    find_ref(data, size, nocase) &&
		    size <= (1 << 16))
			FAIL("msb_secret_find disagrees with a plain search");
	check_body(data, size, sel >> 2 & 15);
	check_reframe(data, size);
	return 0;
}
