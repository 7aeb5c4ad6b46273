// SPDX-License-Identifier: Apache-2.0
/* Unit tests for the CBOR codec and the agent wire protocol. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/cbor.h"
#include "proto/proto.h"
#include "util/util.h"

static int failures;
static int checks;

#define CHECK(cond)                                                            \
	do {                                                                   \
		checks++;                                                      \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, \
				__LINE__, #cond);                              \
			failures++;                                            \
		}                                                              \
	} while (0)

/* Like CHECK, with a label printed on failure (for table-driven tests). */
#define CHECKL(cond, label)                                                    \
	do {                                                                   \
		checks++;                                                      \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: CHECK(%s) failed for %s\n",    \
				__FILE__, __LINE__, #cond, label);             \
			failures++;                                            \
		}                                                              \
	} while (0)

/* --- Helpers --- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Hex string (spaces ignored) to bytes in a new exact-size allocation, so
 * that ASan catches any read past the end. An empty string gives a 1-byte
 * allocation with *n = 0. */
static uint8_t *unhex(const char *hex, size_t *n)
{
	size_t digits = 0;
	uint8_t *out;

	for (const char *p = hex; *p; p++)
		if (*p != ' ')
			digits++;
	if (digits % 2) {
		fprintf(stderr, "odd hex string: %s\n", hex);
		abort();
	}
	out = malloc(digits / 2 ? digits / 2 : 1);
	if (!out)
		abort();
	*n = 0;
	for (const char *p = hex; *p;) {
		if (*p == ' ') {
			p++;
			continue;
		}
		int hi = hexval(p[0]), lo = hexval(p[1]);
		if (hi < 0 || lo < 0) {
			fprintf(stderr, "bad hex string: %s\n", hex);
			abort();
		}
		out[(*n)++] = (uint8_t)(hi << 4 | lo);
		p += 2;
	}
	return out;
}

/* Exact-size copy of @p/@n. */
static uint8_t *dup_exact(const uint8_t *p, size_t n)
{
	uint8_t *out = malloc(n ? n : 1);

	if (!out)
		abort();
	if (n)
		memcpy(out, p, n);
	return out;
}

static bool buf_is_hex(const struct msb_buf *b, const char *hex)
{
	size_t n;
	uint8_t *want = unhex(hex, &n);
	bool ok = msb_buf_avail(b) == n &&
		  (n == 0 || memcmp(msb_buf_head(b), want, n) == 0);

	if (!ok) {
		fprintf(stderr, "  want %s\n  got  ", hex);
		for (size_t i = 0; i < msb_buf_avail(b); i++)
			fprintf(stderr, "%02x", msb_buf_head(b)[i]);
		fprintf(stderr, "\n");
	}
	free(want);
	return ok;
}

static int decode_hex(struct msb_msg *m, const char *hex)
{
	size_t n;
	uint8_t *p = unhex(hex, &n);
	int r = msb_msg_decode(m, p, n);

	/* Decoded strings point into p: callers only look at scalars. */
	free(p);
	return r;
}

static bool bytes_eq(struct msb_bytes a, struct msb_bytes b)
{
	return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

static bool strv_eq(const struct msb_strv *a, const struct msb_strv *b)
{
	size_t ia = 0, ib = 0;
	struct msb_bytes sa, sb;

	for (;;) {
		bool ha = msb_strv_next(a, &ia, &sa);
		bool hb = msb_strv_next(b, &ib, &sb);

		if (ha != hb)
			return false;
		if (!ha)
			return true;
		if (!bytes_eq(sa, sb))
			return false;
	}
}

static bool msg_eq(const struct msb_msg *a, const struct msb_msg *b)
{
	if (a->type != b->type || a->has != b->has)
		return false;
#define SAME_INT(f, x)                                                         \
	if ((a->has & MSB_HAS(f)) && a->x != b->x)                             \
		return false;
#define SAME_STR(f, x)                                                         \
	if ((a->has & MSB_HAS(f)) && !bytes_eq(a->x, b->x))                    \
		return false;
#define SAME_STRV(f, x)                                                        \
	if ((a->has & MSB_HAS(f)) && !strv_eq(&a->x, &b->x))                   \
		return false;
	SAME_INT(MSB_FLD_VERSION, version)
	SAME_STR(MSB_FLD_DATA, data)
	SAME_STRV(MSB_FLD_ARGV, argv)
	SAME_STRV(MSB_FLD_ENV, env)
	SAME_STR(MSB_FLD_CWD, cwd)
	SAME_STR(MSB_FLD_HOSTNAME, hostname)
	SAME_STR(MSB_FLD_ROOT, root)
	SAME_STR(MSB_FLD_FSTYPE, fstype)
	SAME_INT(MSB_FLD_TIME, time)
	SAME_INT(MSB_FLD_CODE, code)
	SAME_INT(MSB_FLD_SIG, sig)
	SAME_INT(MSB_FLD_PID, pid)
	SAME_INT(MSB_FLD_ERRNO, err)
	SAME_STR(MSB_FLD_KIND, kind)
	SAME_STR(MSB_FLD_MSG, msg)
	SAME_INT(MSB_FLD_UPTIME, uptime_us)
	SAME_INT(MSB_FLD_AGENT, agent_us)
	SAME_INT(MSB_FLD_MODULES, modules_us)
	SAME_INT(MSB_FLD_MOUNT, mount_us)
#undef SAME_INT
#undef SAME_STR
#undef SAME_STRV
	return true;
}

/* Skip one whole item of @hex at top level; true if it consumed exactly all
 * the input. */
static bool skip_all(const char *hex)
{
	size_t n;
	uint8_t *p = unhex(hex, &n);
	struct cbor_dec d;
	bool ok;

	cbor_dec_init(&d, p, n);
	ok = cbor_skip(&d, 0) == 0 && cbor_dec_left(&d) == 0;
	free(p);
	return ok;
}

/* --- CBOR encoder --- */

static void test_encode_uint_boundaries(void)
{
	static const struct {
		uint64_t v;
		const char *hex;
	} t[] = {
		{0, "00"},
		{23, "17"},
		{24, "1818"},
		{255, "18ff"},
		{256, "190100"},
		{65535, "19ffff"},
		{65536, "1a00010000"},
		{4294967295u, "1affffffff"},
		{4294967296u, "1b0000000100000000"},
		{UINT64_MAX, "1bffffffffffffffff"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct msb_buf b = {0};
		struct cbor_dec d;
		struct cbor_item it;

		CHECKL(cbor_put_uint(&b, t[i].v) == 0, t[i].hex);
		CHECKL(buf_is_hex(&b, t[i].hex), t[i].hex);
		cbor_dec_init(&d, b.data, b.len);
		CHECKL(cbor_read(&d, &it) == 0, t[i].hex);
		CHECKL(it.major == CBOR_UINT && it.arg == t[i].v, t[i].hex);
		CHECKL(cbor_dec_left(&d) == 0, t[i].hex);
		msb_buf_free(&b);
	}
}

static void test_encode_int_boundaries(void)
{
	static const struct {
		int64_t v;
		const char *hex;
	} t[] = {
		{0, "00"},
		{-1, "20"},
		{-24, "37"},
		{-25, "3818"},
		{-256, "38ff"},
		{-257, "390100"},
		{-65536, "39ffff"},
		{-65537, "3a00010000"},
		{-4294967296ll, "3affffffff"},
		{-4294967297ll, "3b0000000100000000"},
		{INT64_MAX, "1b7fffffffffffffff"},
		{INT64_MIN, "3b7fffffffffffffff"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct msb_buf b = {0};
		struct cbor_dec d;
		struct cbor_item it;

		CHECKL(cbor_put_int(&b, t[i].v) == 0, t[i].hex);
		CHECKL(buf_is_hex(&b, t[i].hex), t[i].hex);
		cbor_dec_init(&d, b.data, b.len);
		CHECKL(cbor_read(&d, &it) == 0, t[i].hex);
		if (t[i].v >= 0)
			CHECKL(it.major == CBOR_UINT &&
				       it.arg == (uint64_t)t[i].v,
			       t[i].hex);
		else
			CHECKL(it.major == CBOR_NEGINT &&
				       it.arg == (uint64_t)(-(t[i].v + 1)),
			       t[i].hex);
		msb_buf_free(&b);
	}
}

/* RFC 8949 Appendix A, the rows for types this codec supports. */
static void test_encode_rfc_vectors(void)
{
	struct msb_buf b = {0};

#define EXPECT(expr, hex)                                                      \
	do {                                                                   \
		msb_buf_reset(&b);                                             \
		CHECKL((expr) == 0, hex);                                      \
		CHECKL(buf_is_hex(&b, hex), hex);                              \
	} while (0)

	EXPECT(cbor_put_uint(&b, 0), "00");
	EXPECT(cbor_put_uint(&b, 1), "01");
	EXPECT(cbor_put_uint(&b, 10), "0a");
	EXPECT(cbor_put_uint(&b, 23), "17");
	EXPECT(cbor_put_uint(&b, 24), "1818");
	EXPECT(cbor_put_uint(&b, 25), "1819");
	EXPECT(cbor_put_uint(&b, 100), "1864");
	EXPECT(cbor_put_uint(&b, 1000), "1903e8");
	EXPECT(cbor_put_uint(&b, 1000000), "1a000f4240");
	EXPECT(cbor_put_uint(&b, 1000000000000ull), "1b000000e8d4a51000");
	EXPECT(cbor_put_uint(&b, 18446744073709551615ull),
	       "1bffffffffffffffff");
	/* -18446744073709551616 = -1 - (2^64 - 1) */
	EXPECT(cbor_put_negint(&b, UINT64_MAX), "3bffffffffffffffff");
	EXPECT(cbor_put_int(&b, -1), "20");
	EXPECT(cbor_put_int(&b, -10), "29");
	EXPECT(cbor_put_int(&b, -100), "3863");
	EXPECT(cbor_put_int(&b, -1000), "3903e7");
	EXPECT(cbor_put_bool(&b, false), "f4");
	EXPECT(cbor_put_bool(&b, true), "f5");
	EXPECT(cbor_put_null(&b), "f6");
	EXPECT(cbor_put_bytes(&b, NULL, 0), "40");
	EXPECT(cbor_put_bytes(&b, "\x01\x02\x03\x04", 4), "4401020304");
	EXPECT(cbor_put_text(&b, "", 0), "60");
	EXPECT(cbor_put_text(&b, "a", 1), "6161");
	EXPECT(cbor_put_text(&b, "IETF", 4), "6449455446");
	EXPECT(cbor_put_text(&b, "\"\\", 2), "62225c");
	EXPECT(cbor_put_text(&b, "\xc3\xbc", 2), "62c3bc");       /* ü */
	EXPECT(cbor_put_text(&b, "\xe6\xb0\xb4", 3), "63e6b0b4"); /* 水 */
	EXPECT(cbor_put_text(&b, "\xf0\x90\x85\x91", 4), "64f0908591");
	EXPECT(cbor_put_array(&b, 0), "80");
	EXPECT(cbor_put_map(&b, 0), "a0");

	/* [1, 2, 3] */
	msb_buf_reset(&b);
	CHECK(cbor_put_array(&b, 3) == 0 && cbor_put_uint(&b, 1) == 0 &&
	      cbor_put_uint(&b, 2) == 0 && cbor_put_uint(&b, 3) == 0);
	CHECK(buf_is_hex(&b, "83010203"));

	/* [1, [2, 3], [4, 5]] */
	msb_buf_reset(&b);
	CHECK(cbor_put_array(&b, 3) == 0 && cbor_put_uint(&b, 1) == 0 &&
	      cbor_put_array(&b, 2) == 0 && cbor_put_uint(&b, 2) == 0 &&
	      cbor_put_uint(&b, 3) == 0 && cbor_put_array(&b, 2) == 0 &&
	      cbor_put_uint(&b, 4) == 0 && cbor_put_uint(&b, 5) == 0);
	CHECK(buf_is_hex(&b, "8301820203820405"));

	/* [1, 2, ..., 25] */
	msb_buf_reset(&b);
	CHECK(cbor_put_array(&b, 25) == 0);
	for (uint64_t i = 1; i <= 25; i++)
		CHECK(cbor_put_uint(&b, i) == 0);
	CHECK(buf_is_hex(&b, "98190102030405060708090a0b0c0d0e0f101112131415"
			     "161718181819"));

	/* {1: 2, 3: 4} */
	msb_buf_reset(&b);
	CHECK(cbor_put_map(&b, 2) == 0 && cbor_put_uint(&b, 1) == 0 &&
	      cbor_put_uint(&b, 2) == 0 && cbor_put_uint(&b, 3) == 0 &&
	      cbor_put_uint(&b, 4) == 0);
	CHECK(buf_is_hex(&b, "a201020304"));

	/* {"a": 1, "b": [2, 3]} */
	msb_buf_reset(&b);
	CHECK(cbor_put_map(&b, 2) == 0 && cbor_put_text(&b, "a", 1) == 0 &&
	      cbor_put_uint(&b, 1) == 0 && cbor_put_text(&b, "b", 1) == 0 &&
	      cbor_put_array(&b, 2) == 0 && cbor_put_uint(&b, 2) == 0 &&
	      cbor_put_uint(&b, 3) == 0);
	CHECK(buf_is_hex(&b, "a26161016162820203"));

	/* ["a", {"b": "c"}] */
	msb_buf_reset(&b);
	CHECK(cbor_put_array(&b, 2) == 0 && cbor_put_text(&b, "a", 1) == 0 &&
	      cbor_put_map(&b, 1) == 0 && cbor_put_text(&b, "b", 1) == 0 &&
	      cbor_put_text(&b, "c", 1) == 0);
	CHECK(buf_is_hex(&b, "826161a161626163"));

	/* {"a": "A", "b": "B", "c": "C", "d": "D", "e": "E"} */
	msb_buf_reset(&b);
	CHECK(cbor_put_map(&b, 5) == 0);
	for (char c = 'a'; c <= 'e'; c++) {
		char up = (char)(c - 'a' + 'A');
		CHECK(cbor_put_text(&b, &c, 1) == 0);
		CHECK(cbor_put_text(&b, &up, 1) == 0);
	}
	CHECK(buf_is_hex(&b, "a56161614161626142616361436164614461656145"));
#undef EXPECT
	msb_buf_free(&b);
}

static void test_encode_errors(void)
{
	struct msb_buf b = {0};

	CHECK(cbor_put_uint(&b, 7) == 0);
	errno = 0;
	CHECK(cbor_put_text(&b, "\xc0\x80", 2) < 0 && errno == EINVAL);
	errno = 0;
	CHECK(cbor_put_text(&b, NULL, 3) < 0 && errno == EINVAL);
	errno = 0;
	CHECK(cbor_put_bytes(&b, NULL, 3) < 0 && errno == EINVAL);
	/* Failures leave the buffer alone. */
	CHECK(buf_is_hex(&b, "07"));
	msb_buf_free(&b);
}

/* --- CBOR decoder --- */

static void test_decode_rfc_vectors(void)
{
	static const struct {
		const char *hex;
		enum cbor_major major;
		uint64_t arg;
	} heads[] = {
		{"00", CBOR_UINT, 0},
		{"01", CBOR_UINT, 1},
		{"0a", CBOR_UINT, 10},
		{"17", CBOR_UINT, 23},
		{"1818", CBOR_UINT, 24},
		{"1819", CBOR_UINT, 25},
		{"1864", CBOR_UINT, 100},
		{"1903e8", CBOR_UINT, 1000},
		{"1a000f4240", CBOR_UINT, 1000000},
		{"1b000000e8d4a51000", CBOR_UINT, 1000000000000ull},
		{"1bffffffffffffffff", CBOR_UINT, UINT64_MAX},
		{"3bffffffffffffffff", CBOR_NEGINT, UINT64_MAX},
		{"20", CBOR_NEGINT, 0},
		{"29", CBOR_NEGINT, 9},
		{"3863", CBOR_NEGINT, 99},
		{"3903e7", CBOR_NEGINT, 999},
		{"f4", CBOR_SIMPLE, CBOR_FALSE},
		{"f5", CBOR_SIMPLE, CBOR_TRUE},
		{"f6", CBOR_SIMPLE, CBOR_NULL},
		{"80", CBOR_ARRAY, 0},
		{"a0", CBOR_MAP, 0},
		/* Non-shortest forms are accepted. */
		{"1800", CBOR_UINT, 0},
		{"1b0000000000000001", CBOR_UINT, 1},
		{"390000", CBOR_NEGINT, 0},
	};
	static const struct {
		const char *hex;
		enum cbor_major major;
		const char *content;
		size_t len;
	} strs[] = {
		{"40", CBOR_BYTES, "", 0},
		{"4401020304", CBOR_BYTES, "\x01\x02\x03\x04", 4},
		{"60", CBOR_TEXT, "", 0},
		{"6161", CBOR_TEXT, "a", 1},
		{"6449455446", CBOR_TEXT, "IETF", 4},
		{"62225c", CBOR_TEXT, "\"\\", 2},
		{"62c3bc", CBOR_TEXT, "\xc3\xbc", 2},
		{"63e6b0b4", CBOR_TEXT, "\xe6\xb0\xb4", 3},
		{"64f0908591", CBOR_TEXT, "\xf0\x90\x85\x91", 4},
		{"5a00000002abcd", CBOR_BYTES, "\xab\xcd", 2},
	};
	static const char *const whole[] = {
		"83010203",
		"8301820203820405",
		"98190102030405060708090a0b0c0d0e0f101112131415161718181819",
		"a201020304",
		"a26161016162820203",
		"826161a161626163",
		"a56161614161626142616361436164614461656145",
	};

	for (size_t i = 0; i < ARRAY_SIZE(heads); i++) {
		size_t n;
		uint8_t *p = unhex(heads[i].hex, &n);
		struct cbor_dec d;
		struct cbor_item it;

		cbor_dec_init(&d, p, n);
		CHECKL(cbor_read(&d, &it) == 0, heads[i].hex);
		CHECKL(it.major == heads[i].major, heads[i].hex);
		CHECKL(it.arg == heads[i].arg, heads[i].hex);
		CHECKL(cbor_dec_left(&d) == 0, heads[i].hex);
		CHECKL(skip_all(heads[i].hex), heads[i].hex);
		free(p);
	}
	for (size_t i = 0; i < ARRAY_SIZE(strs); i++) {
		size_t n;
		uint8_t *p = unhex(strs[i].hex, &n);
		struct cbor_dec d;
		struct cbor_item it;

		cbor_dec_init(&d, p, n);
		CHECKL(cbor_read(&d, &it) == 0, strs[i].hex);
		CHECKL(it.major == strs[i].major, strs[i].hex);
		CHECKL(it.len == strs[i].len && it.arg == strs[i].len,
		       strs[i].hex);
		CHECKL(it.len == 0 ||
			       memcmp(it.str, strs[i].content, it.len) == 0,
		       strs[i].hex);
		CHECKL(cbor_dec_left(&d) == 0, strs[i].hex);
		free(p);
	}
	for (size_t i = 0; i < ARRAY_SIZE(whole); i++)
		CHECKL(skip_all(whole[i]), whole[i]);

	/* Walk {"a": 1, "b": [2, 3]} head by head. */
	{
		size_t n;
		uint8_t *p = unhex("a26161016162820203", &n);
		struct cbor_dec d;
		struct cbor_item it;

		cbor_dec_init(&d, p, n);
		CHECK(cbor_read(&d, &it) == 0 && it.major == CBOR_MAP &&
		      it.arg == 2);
		CHECK(cbor_read(&d, &it) == 0 && it.major == CBOR_TEXT &&
		      it.len == 1 && it.str[0] == 'a');
		CHECK(cbor_read(&d, &it) == 0 && it.major == CBOR_UINT &&
		      it.arg == 1);
		CHECK(cbor_read(&d, &it) == 0 && it.major == CBOR_TEXT &&
		      it.len == 1 && it.str[0] == 'b');
		CHECK(cbor_skip(&d, 1) == 0);
		CHECK(cbor_dec_left(&d) == 0);
		errno = 0;
		CHECK(cbor_read(&d, &it) < 0 && errno == EBADMSG);
		free(p);
	}
}

static void test_decode_rejects(void)
{
	static const char *const bad[] = {
		"",                   /* nothing */
		"f90000",             /* 0.0, half float */
		"f93c00",             /* 1.0 */
		"fa47c35000",         /* 100000.0 */
		"fb3ff199999999999a", /* 1.1 */
		"f97c00",             /* Infinity */
		"f7",                 /* undefined */
		"f0",                 /* simple(16) */
		"f818",               /* simple(24) */
		"f8ff",               /* simple(255) */
		"f814",               /* false in a 2-byte form */
		"c074323031332d30332d32315432303a30343a30305a", /* tag 0 */
		"c11a514b67b0",                                 /* tag 1 */
		"d74401020304",                                 /* tag 23 */
		"d818456449455446",                             /* tag 24 */
		"5f42010243030405ff",         /* indefinite byte string */
		"7f657374726561646d696e67ff", /* indefinite text string */
		"9fff",                       /* indefinite array */
		"9f018202039f0405ffff",
		"bf61610161629f0203ffff", /* indefinite map */
		"ff",                     /* lone break */
		"1c",
		"1d",
		"1e", /* reserved additional information */
		"3c",
		"5d",
		"7e",
		"9c",
		"bd",
		"dc",
		"fc",
		"fd",
		"fe",
		/* Truncated heads and contents. */
		"18",
		"1900",
		"1a000000",
		"1b00000000000000",
		"3b",
		"4201",
		"636162",
		"6361",
		"830102",
		"a26161016162",
		"8301820203",
		/* Huge declared lengths. */
		"5b8000000000000000000102",
		"7bffffffffffffffff61",
		"5affffffff00",
		"9b800000000000000000",
		"bb800000000000000000",
		"bbffffffffffffffff0000",
		/* Invalid UTF-8 in text. */
		"62c080",
		"63eda080",
		"64f4908080",
		"6180",
		"62e282",
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		CHECKL(!skip_all(bad[i]), bad[i]);
}

static void test_utf8(void)
{
	static const struct {
		const char *s;
		size_t n;
		bool ok;
	} t[] = {
		{"", 0, true},
		{"plain ascii", 11, true},
		{"\x00", 1, true},               /* U+0000 is valid */
		{"\x7f", 1, true},               /* U+007F */
		{"\xc2\x80", 2, true},           /* U+0080 */
		{"\xdf\xbf", 2, true},           /* U+07FF */
		{"\xe0\xa0\x80", 3, true},       /* U+0800 */
		{"\xed\x9f\xbf", 3, true},       /* U+D7FF */
		{"\xee\x80\x80", 3, true},       /* U+E000 */
		{"\xef\xbf\xbf", 3, true},       /* U+FFFF */
		{"\xf0\x90\x80\x80", 4, true},   /* U+10000 */
		{"\xf4\x8f\xbf\xbf", 4, true},   /* U+10FFFF */
		{"\xc0\x80", 2, false},          /* overlong NUL */
		{"\xc1\xbf", 2, false},          /* overlong U+007F */
		{"\xe0\x80\x80", 3, false},      /* overlong */
		{"\xe0\x9f\xbf", 3, false},      /* overlong U+07FF */
		{"\xf0\x80\x80\x80", 4, false},  /* overlong */
		{"\xf0\x8f\xbf\xbf", 4, false},  /* overlong U+FFFF */
		{"\xed\xa0\x80", 3, false},      /* U+D800 */
		{"\xed\xbf\xbf", 3, false},      /* U+DFFF */
		{"\xf4\x90\x80\x80", 4, false},  /* U+110000 */
		{"\xf5\x80\x80\x80", 4, false},  /* lead beyond range */
		{"\xff", 1, false},              /* never valid */
		{"\xfe", 1, false},              /* never valid */
		{"\x80", 1, false},              /* lone continuation */
		{"a\xbf", 2, false},             /* lone continuation */
		{"\xc2", 1, false},              /* truncated */
		{"\xe2\x82", 2, false},          /* truncated */
		{"\xf0\x90\x80", 3, false},      /* truncated */
		{"\xc2\x41", 2, false},          /* bad continuation */
		{"\xe2\x28\xa1", 3, false},      /* bad continuation */
		{"\xf0\x90\x28\xbc", 4, false},  /* bad continuation */
		{"\xf0\x90\x80\xc0", 4, false},  /* bad continuation */
		{"ok \xe2\x82\xac ok", 9, true}, /* € inside ASCII */
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		char label[16];
		uint8_t *p = dup_exact((const uint8_t *)t[i].s, t[i].n);

		snprintf(label, sizeof(label), "utf8 #%zu", i);
		CHECKL(cbor_utf8_valid(p, t[i].n) == t[i].ok, label);
		free(p);
	}
}

/* n nested arrays: 81 81 ... 80 */
static char *nested_arrays(unsigned n)
{
	char *s = malloc(2 * n + 1);

	if (!s)
		abort();
	for (unsigned i = 0; i < n; i++)
		memcpy(s + 2 * i, i + 1 == n ? "80" : "81", 2);
	s[2 * n] = '\0';
	return s;
}

static void test_decode_depth(void)
{
	char *ok = nested_arrays(MSB_PROTO_MAX_DEPTH);
	char *deep = nested_arrays(MSB_PROTO_MAX_DEPTH + 1);

	CHECK(skip_all(ok));
	CHECK(!skip_all(deep));
	/* Maps count too: {0: {0: ... {}}} */
	CHECK(skip_all("a100a100a100a100a100a100a100a0"));
	CHECK(!skip_all("a100a100a100a100a100a100a100a100a0"));
	/* Nesting that closes and reopens stays within the limit:
	 * [7 nested arrays, 7 nested arrays] is 8 levels deep. */
	{
		char *inner = nested_arrays(MSB_PROTO_MAX_DEPTH - 1);
		char both[64];

		snprintf(both, sizeof(both), "82%s%s", inner, inner);
		CHECK(skip_all(both));
		free(inner);
	}
	free(ok);
	free(deep);

	/* Starting inside a container lowers the limit. */
	{
		size_t n;
		uint8_t *p = unhex("8180", &n);
		struct cbor_dec d;

		cbor_dec_init(&d, p, n);
		CHECK(cbor_skip(&d, MSB_PROTO_MAX_DEPTH - 2) == 0);
		cbor_dec_init(&d, p, n);
		CHECK(cbor_skip(&d, MSB_PROTO_MAX_DEPTH - 1) < 0);
		free(p);
	}
}

static void test_decode_budget(void)
{
	struct msb_buf b = {0};
	struct cbor_dec d;

	/* An array of MSB_PROTO_MAX_ITEMS - 1 elements: exactly the budget. */
	CHECK(cbor_put_array(&b, MSB_PROTO_MAX_ITEMS - 1) == 0);
	for (unsigned i = 0; i < MSB_PROTO_MAX_ITEMS - 1; i++)
		CHECK(cbor_put_uint(&b, 0) == 0);
	cbor_dec_init(&d, b.data, b.len);
	CHECK(cbor_skip(&d, 0) == 0 && cbor_dec_left(&d) == 0);

	/* One more is over. */
	msb_buf_reset(&b);
	CHECK(cbor_put_array(&b, MSB_PROTO_MAX_ITEMS) == 0);
	for (unsigned i = 0; i < MSB_PROTO_MAX_ITEMS; i++)
		CHECK(cbor_put_uint(&b, 0) == 0);
	cbor_dec_init(&d, b.data, b.len);
	CHECK(cbor_skip(&d, 0) < 0);

	/* The budget also bounds flat head-by-head reading. */
	cbor_dec_init(&d, b.data, b.len);
	{
		struct cbor_item it;
		size_t got = 0;

		while (cbor_read(&d, &it) == 0)
			got++;
		CHECK(got == MSB_PROTO_MAX_ITEMS);
	}
	msb_buf_free(&b);
}

/* --- Messages --- */

static void roundtrip(const struct msb_msg *m, const char *label)
{
	struct msb_buf b = {0}, b2 = {0};
	struct msb_msg got, again;
	uint8_t *p;
	size_t n;

	CHECKL(msb_msg_encode(&b, m) == 0, label);
	n = b.len;
	p = dup_exact(b.data, n);
	CHECKL(msb_msg_decode(&got, p, n) == 0, label);
	CHECKL(msg_eq(m, &got), label);
	/* Re-encoding the decoded message gives the same bytes. */
	CHECKL(msb_msg_encode(&b2, &got) == 0, label);
	CHECKL(b2.len == n && memcmp(b2.data, p, n) == 0, label);
	CHECKL(msb_msg_decode(&again, b2.data, b2.len) == 0, label);
	CHECKL(msg_eq(&got, &again), label);

	/* Truncated at every byte offset: always rejected. */
	for (size_t k = 0; k < n; k++) {
		uint8_t *t = dup_exact(p, k);
		struct msb_msg tm;

		CHECKL(msb_msg_decode(&tm, t, k) < 0, label);
		CHECKL(tm.type == MSB_MSG_UNKNOWN && tm.has == 0, label);
		free(t);
	}
	/* And as a frame. */
	{
		struct msb_buf fb = {0};
		struct msb_frame f;
		struct msb_msg fm;

		CHECKL(msb_frame_encode(&fb, 42, MSB_F_START, m) == 0, label);
		CHECKL(msb_frame_next(&f, &fb) == 1, label);
		CHECKL(f.hdr.stream == 42 && f.hdr.flags == MSB_F_START, label);
		CHECKL(f.payload_len == n, label);
		CHECKL(msb_frame_size(&f) == fb.len, label);
		CHECKL(msb_msg_decode(&fm, f.payload, f.payload_len) == 0,
		       label);
		CHECKL(msg_eq(m, &fm), label);
		msb_buf_free(&fb);
	}
	free(p);
	msb_buf_free(&b);
	msb_buf_free(&b2);
}

static void test_msg_roundtrip(void)
{
	static const char *const argv[] = {"/bin/sh", "-c", "echo h\xc3\xa9",
					   "", NULL};
	static const char *const env[] = {"PATH=/usr/bin:/bin", "HOME=/root",
					  "LANG=C.UTF-8", NULL};
	static const char *const empty[] = {NULL};
	static const uint8_t data[] = {0, 1, 2, 0xff, 0xfe, 0, 0x80};
	struct msb_msg m;

	memset(&m, 0, sizeof(m));
	m.type = MSB_MSG_HELLO;
	m.has = MSB_HAS(MSB_FLD_VERSION) | MSB_HAS(MSB_FLD_ENV) |
		MSB_HAS(MSB_FLD_HOSTNAME) | MSB_HAS(MSB_FLD_ROOT) |
		MSB_HAS(MSB_FLD_FSTYPE) | MSB_HAS(MSB_FLD_TIME);
	m.version = MSB_PROTO_VERSION;
	m.env.v = env;
	m.hostname = msb_str("sandbox");
	m.root = msb_str("/dev/vda");
	m.fstype = msb_str("ext4");
	m.time = 1700000000123456789ull;
	roundtrip(&m, "hello");

	memset(&m, 0, sizeof(m));
	m.type = MSB_MSG_READY;
	m.has = MSB_HAS(MSB_FLD_VERSION) | MSB_HAS(MSB_FLD_UPTIME) |
		MSB_HAS(MSB_FLD_AGENT) | MSB_HAS(MSB_FLD_MODULES) |
		MSB_HAS(MSB_FLD_MOUNT);
	m.version = MSB_PROTO_VERSION;
	m.uptime_us = 123456;
	m.agent_us = 23;
	m.modules_us = 65536;
	m.mount_us = UINT64_MAX;
	roundtrip(&m, "ready");

	memset(&m, 0, sizeof(m));
	m.type = MSB_MSG_EXEC;
	m.has = MSB_HAS(MSB_FLD_ARGV) | MSB_HAS(MSB_FLD_ENV) |
		MSB_HAS(MSB_FLD_CWD);
	m.argv.v = argv;
	m.env.v = env;
	m.cwd = msb_str("/tmp");
	roundtrip(&m, "exec");

	m.env.v = empty;
	roundtrip(&m, "exec with empty env");

	memset(&m, 0, sizeof(m));
	m.type = MSB_MSG_STARTED;
	m.has = MSB_HAS(MSB_FLD_PID);
	m.pid = 4242;
	roundtrip(&m, "started");

	memset(&m, 0, sizeof(m));
	m.type = MSB_MSG_STDIN;
	m.has = MSB_HAS(MSB_FLD_DATA);
	m.data = (struct msb_bytes){data, sizeof(data)};
	roundtrip(&m, "stdin");
	m.data = (struct msb_bytes){NULL, 0};
	roundtrip(&m, "stdin, empty data");

	m.type = MSB_MSG_STDOUT;
	m.data = (struct msb_bytes){data, sizeof(data)};
	roundtrip(&m, "stdout");
	m.type = MSB_MSG_STDERR;
	roundtrip(&m, "stderr");

	memset(&m, 0, sizeof(m));
	m.type = MSB_MSG_SIGNAL;
	m.has = MSB_HAS(MSB_FLD_SIG);
	m.sig = 15;
	roundtrip(&m, "signal");

	memset(&m, 0, sizeof(m));
	m.type = MSB_MSG_EXITED;
	m.has = MSB_HAS(MSB_FLD_CODE);
	m.code = 255;
	roundtrip(&m, "exited code");
	m.has = MSB_HAS(MSB_FLD_SIG);
	m.sig = 9;
	roundtrip(&m, "exited sig");
	m.has = MSB_HAS(MSB_FLD_CODE) | MSB_HAS(MSB_FLD_SIG);
	m.code = INT64_MIN;
	m.sig = INT64_MAX;
	roundtrip(&m, "exited extremes");

	memset(&m, 0, sizeof(m));
	m.type = MSB_MSG_FAILED;
	m.has = MSB_HAS(MSB_FLD_KIND) | MSB_HAS(MSB_FLD_ERRNO) |
		MSB_HAS(MSB_FLD_MSG);
	m.kind = msb_str("not_found");
	m.err = ENOENT;
	m.msg = msb_str("execve `/bin/nope`: No such file or directory");
	roundtrip(&m, "failed");

	memset(&m, 0, sizeof(m));
	m.type = MSB_MSG_ERROR;
	m.has = MSB_HAS(MSB_FLD_MSG) | MSB_HAS(MSB_FLD_ERRNO);
	m.msg = msb_str("unknown message type");
	m.err = -EINVAL;
	roundtrip(&m, "error");

	memset(&m, 0, sizeof(m));
	m.type = MSB_MSG_SHUTDOWN;
	roundtrip(&m, "shutdown");
	m.type = MSB_MSG_PING;
	roundtrip(&m, "ping");
	m.type = MSB_MSG_PONG;
	roundtrip(&m, "pong");

	/* Every field at once. */
	memset(&m, 0, sizeof(m));
	m.type = MSB_MSG_EXEC;
	m.has = (UINT64_C(1) << MSB_FLD__COUNT) - 1;
	m.version = 1;
	m.data = (struct msb_bytes){data, sizeof(data)};
	m.argv.v = argv;
	m.env.v = env;
	m.cwd = msb_str("/");
	m.hostname = msb_str("h");
	m.root = msb_str("/dev/vda");
	m.fstype = msb_str("erofs");
	m.time = 4294967296u;
	m.code = -1;
	m.sig = -24;
	m.pid = -25;
	m.err = 256;
	m.kind = msb_str("k");
	m.msg = msb_str("m\xe2\x82\xac");
	m.uptime_us = 23;
	m.agent_us = 24;
	m.modules_us = 255;
	m.mount_us = 65535;
	roundtrip(&m, "all fields");
}

static void test_msg_wire_format(void)
{
	struct msb_buf b = {0};
	struct msb_msg m;
	static const char *const argv[] = {"ls", NULL};

	memset(&m, 0, sizeof(m));
	m.type = MSB_MSG_PING;
	CHECK(msb_msg_encode(&b, &m) == 0);
	/* {"t": "ping"} */
	CHECK(buf_is_hex(&b, "a1 6174 6470696e67"));

	msb_buf_reset(&b);
	m.type = MSB_MSG_EXITED;
	m.has = MSB_HAS(MSB_FLD_CODE);
	m.code = -1;
	CHECK(msb_msg_encode(&b, &m) == 0);
	/* {"t": "exited", "code": -1} */
	CHECK(buf_is_hex(&b, "a2 6174 66657869746564 64636f6465 20"));

	msb_buf_reset(&b);
	memset(&m, 0, sizeof(m));
	m.type = MSB_MSG_EXEC;
	m.has = MSB_HAS(MSB_FLD_ARGV) | MSB_HAS(MSB_FLD_CWD);
	m.argv.v = argv;
	m.cwd = msb_str("/");
	CHECK(msb_msg_encode(&b, &m) == 0);
	/* {"t": "exec", "argv": ["ls"], "cwd": "/"} */
	CHECK(buf_is_hex(&b, "a3 6174 6465786563 6461726776 81626c73 "
			     "63637764 612f"));
	msb_buf_free(&b);

	/* Hand-written input: key order does not matter, unknown keys of any
	 * well-formed shape are skipped. */
	CHECK(decode_hex(&m, "a4 66667574757265 82a10180f6 64636f6465 3863 "
			     "6174 66657869746564 6178 0f") == 0);
	CHECK(m.type == MSB_MSG_EXITED);
	CHECK(m.has == MSB_HAS(MSB_FLD_CODE));
	CHECK(m.code == -100);

	/* Every type name decodes to its type. */
	for (unsigned t = 1; t < MSB_MSG__COUNT; t++) {
		struct msb_buf tb = {0};
		const char *name = msb_msg_type_name((enum msb_msg_type)t);

		CHECK(name != NULL);
		if (!name)
			continue;
		CHECK(cbor_put_map(&tb, 1) == 0 &&
		      cbor_put_text(&tb, "t", 1) == 0 &&
		      cbor_put_text(&tb, name, strlen(name)) == 0);
		CHECKL(msb_msg_decode(&m, tb.data, tb.len) == 0, name);
		CHECKL(m.type == (enum msb_msg_type)t && m.has == 0, name);
		msb_buf_free(&tb);
	}
}

static void test_type_names(void)
{
	static const char *const want[MSB_MSG__COUNT] = {
		NULL,          "hello",       "ready",       "exec",
		"started",     "stdin",       "stdout",      "stderr",
		"signal",      "exited",      "failed",      "error",
		"shutdown",    "ping",        "pong",        "fs_stat",
		"fs_list",     "fs_read",     "fs_write",    "fs_mkdir",
		"fs_remove",   "fs_rename",   "fs_copy",     "fs_chmod",
		"fs_chown",    "fs_symlink",  "fs_entry",    "fs_data",
		"fs_done",     "metrics",     "credit",      "resize",
		"open",        "proc_list",   "proc_info",   "proc_signal",
		"proc_attach", "proc_remove", "main_attach", "pause",
		"resume",      "suspend",     "snapshot",
	};

	for (unsigned t = 0; t < MSB_MSG__COUNT; t++) {
		const char *n = msb_msg_type_name((enum msb_msg_type)t);

		if (!want[t])
			CHECK(n == NULL);
		else
			CHECKL(n && strcmp(n, want[t]) == 0, want[t]);
	}
	CHECK(msb_msg_type_name(MSB_MSG__COUNT) == NULL);
	CHECK(msb_msg_type_name((enum msb_msg_type) - 1) == NULL);
	CHECK(msb_msg_type_name((enum msb_msg_type)1000) == NULL);
}

static void test_msg_decode_rejects(void)
{
	static const struct {
		const char *what, *hex;
	} bad[] = {
		{"empty payload", ""},
		{"top level array", "81 6174"},
		{"top level uint", "00"},
		{"top level text", "6474657374"},
		{"top level null", "f6"},
		{"trailing byte", "a1 6174 6470696e67 00"},
		{"two maps", "a1 6174 6470696e67 a1 6174 6470696e67"},
		{"missing t", "a0"},
		{"missing t, other keys", "a1 6176 01"},
		{"t not text", "a1 6174 01"},
		{"t as bytes", "a1 6174 4470696e67"},
		{"duplicate t", "a2 6174 6470696e67 6174 6470696e67"},
		{"duplicate t, second unknown", "a2 6174 6470696e67 6174 6178"},
		{"duplicate field", "a3 6174 6470696e67 6176 01 6176 02"},
		{"duplicate text field",
		 "a3 6174 6470696e67 63637764 612f 63637764 6178"},
		{"int key", "a2 6174 6470696e67 01 02"},
		{"bytes key", "a2 6174 6470696e67 4178 02"},
		{"key missing value", "a2 6174 6470696e67 6176"},
		{"v as text", "a2 6174 6470696e67 6176 6131"},
		{"v as negint", "a2 6174 6470696e67 6176 20"},
		{"v as bool", "a2 6174 6470696e67 6176 f5"},
		{"v as null", "a2 6174 6470696e67 6176 f6"},
		{"code above INT64_MAX",
		 "a2 6174 6470696e67 64636f6465 1b8000000000000000"},
		{"code below INT64_MIN",
		 "a2 6174 6470696e67 64636f6465 3b8000000000000000"},
		{"code as text", "a2 6174 6470696e67 64636f6465 6130"},
		{"data as text", "a2 6174 6470696e67 6464617461 6161"},
		{"data as array", "a2 6174 6470696e67 6464617461 80"},
		{"cwd as bytes", "a2 6174 6470696e67 63637764 412f"},
		{"cwd invalid utf-8", "a2 6174 6470696e67 63637764 62c0af"},
		{"cwd surrogate", "a2 6174 6470696e67 63637764 63eda080"},
		{"t invalid utf-8", "a1 6174 62c0af"},
		{"key invalid utf-8", "a2 6174 6470696e67 61ff 00"},
		{"argv as map", "a2 6174 6465786563 6461726776 a0"},
		{"argv as text", "a2 6174 6465786563 6461726776 626c73"},
		{"argv element int",
		 "a2 6174 6465786563 6461726776 82626c73 01"},
		{"argv element bytes",
		 "a2 6174 6465786563 6461726776 81426c73"},
		{"argv element array", "a2 6174 6465786563 6461726776 8180"},
		{"argv truncated", "a2 6174 6465786563 6461726776 83626c73"},
		{"argv 2^63 elements",
		 "a2 6174 6465786563 6461726776 9b8000000000000000 626c73"},
		{"argv 2^32 elements",
		 "a2 6174 6465786563 6461726776 9b0000000100000000 626c73"},
		{"env element invalid utf-8",
		 "a2 6174 6465786563 63656e76 81 62c0af"},
		{"data 2^63 bytes",
		 "a2 6174 65737464696e 6464617461 5b8000000000000000 0102"},
		{"data 2^64-1 bytes",
		 "a2 6174 65737464696e 6464617461 5bffffffffffffffff 0102"},
		{"data length past end",
		 "a2 6174 65737464696e 6464617461 4301"},
		{"map 2^63 pairs", "bb8000000000000000 6174 6470696e67"},
		{"map 2^64-1 pairs", "bbffffffffffffffff 6174 6470696e67"},
		{"map count past end", "a3 6174 6470696e67"},
		{"indefinite map", "bf 6174 6470696e67 ff"},
		{"indefinite t", "a1 6174 7f6470696e67ff"},
		{"unknown key, float value", "a2 6174 6470696e67 6178 f93c00"},
		{"unknown key, tag value", "a2 6174 6470696e67 6178 c100"},
		{"unknown key, undefined", "a2 6174 6470696e67 6178 f7"},
		{"unknown key, indefinite", "a2 6174 6470696e67 6178 9fff"},
		{"unknown key, reserved ai", "a2 6174 6470696e67 6178 1c"},
		{"unknown key, huge bytes",
		 "a2 6174 6470696e67 6178 5b7fffffffffffffff"},
		{"unknown key, huge array",
		 "a2 6174 6470696e67 6178 9b7fffffffffffffff 00"},
		{"unknown key, bad utf-8 in nested text",
		 "a2 6174 6470696e67 6178 81 62c0af"},
		{"tag on the map", "d9d9f7 a1 6174 6470696e67"},
		{"tag on a value", "a2 6174 6470696e67 6176 c001"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct msb_msg m;

		memset(&m, 0xa5, sizeof(m));
		errno = 0;
		CHECKL(decode_hex(&m, bad[i].hex) < 0, bad[i].what);
		CHECKL(errno == EBADMSG, bad[i].what);
		/* The message is left zeroed. */
		CHECKL(m.type == MSB_MSG_UNKNOWN && m.has == 0 &&
			       m.data.p == NULL,
		       bad[i].what);
	}
}

static void test_msg_decode_accepts(void)
{
	struct msb_msg m;

	/* Unknown type: decodes, type UNKNOWN. */
	CHECK(decode_hex(&m, "a2 6174 6466726f62 6176 01") == 0);
	CHECK(m.type == MSB_MSG_UNKNOWN);
	CHECK(m.has == MSB_HAS(MSB_FLD_VERSION) && m.version == 1);
	CHECK(decode_hex(&m, "a1 6174 60") == 0 && m.type == MSB_MSG_UNKNOWN);
	/* A type name with a NUL inside is not that type. */
	CHECK(decode_hex(&m, "a1 6174 6570696e6700") == 0 &&
	      m.type == MSB_MSG_UNKNOWN);
	/* A prefix or an extension of a key is not the key. */
	CHECK(decode_hex(&m, "a3 6174 6470696e67 626461 01 656461746178 01") ==
		      0 &&
	      m.has == 0);
	/* Unknown key with nesting up to the limit inside the top map. */
	CHECK(decode_hex(&m, "a2 6174 6470696e67 6178 81818181818180") == 0);
	CHECK(decode_hex(&m, "a2 6174 6470696e67 6178 8181818181818180") < 0);
	/* Unknown keys with false/true/null and maps with non-text keys. */
	CHECK(decode_hex(&m, "a4 6174 6470696e67 6161 f4 6162 f6 "
			     "6163 a2 01f5 80a0") == 0);
	CHECK(m.type == MSB_MSG_PING && m.has == 0);
	/* Non-shortest integers and lengths are accepted. */
	CHECK(decode_hex(&m, "a2 780174 79000470696e67 "
			     "6176 1b0000000000000007") == 0);
	CHECK(m.type == MSB_MSG_PING && m.version == 7);
	/* INT64_MIN and INT64_MAX. */
	CHECK(decode_hex(&m,
			 "a3 6174 66657869746564 64636f6465 "
			 "3b7fffffffffffffff 63736967 1b7fffffffffffffff") ==
	      0);
	CHECK(m.code == INT64_MIN && m.sig == INT64_MAX);
	/* UINT64_MAX in a uint field. */
	CHECK(decode_hex(&m, "a2 6174 657265616479 69757074696d655f7573 "
			     "1bffffffffffffffff") == 0);
	CHECK(m.type == MSB_MSG_READY && m.uptime_us == UINT64_MAX);
	/* Empty argv. */
	CHECK(decode_hex(&m, "a2 6174 6465786563 6461726776 80") == 0);
	CHECK(m.has == MSB_HAS(MSB_FLD_ARGV) && m.argv.count == 0);
}

/* Payload {"t": "exec", "argv": [n x ""]}, and the same with an unknown key
 * holding an array of n zeros. Items: map, t, exec, key, array = 5. */
static void test_msg_budget(void)
{
	struct msb_buf b = {0};
	struct msb_msg m;
	const size_t fit = MSB_PROTO_MAX_ITEMS - 5;

	for (size_t n = fit; n <= fit + 1; n++) {
		msb_buf_reset(&b);
		CHECK(cbor_put_map(&b, 2) == 0 &&
		      cbor_put_text(&b, "t", 1) == 0 &&
		      cbor_put_text(&b, "exec", 4) == 0 &&
		      cbor_put_text(&b, "argv", 4) == 0 &&
		      cbor_put_array(&b, n) == 0);
		for (size_t i = 0; i < n; i++)
			CHECK(cbor_put_text(&b, "", 0) == 0);
		CHECK((msb_msg_decode(&m, b.data, b.len) == 0) == (n == fit));
		if (n == fit) {
			char **v = msb_strv_dup(&m.argv);

			CHECK(m.argv.count == fit);
			CHECK(v != NULL);
			if (v) {
				size_t k = 0;
				while (v[k])
					k++;
				CHECK(k == fit);
				CHECK(v[0][0] == '\0' && v[fit - 1][0] == '\0');
			}
			free(v);
		}

		msb_buf_reset(&b);
		CHECK(cbor_put_map(&b, 2) == 0 &&
		      cbor_put_text(&b, "t", 1) == 0 &&
		      cbor_put_text(&b, "exec", 4) == 0 &&
		      cbor_put_text(&b, "zzz", 3) == 0 &&
		      cbor_put_array(&b, n) == 0);
		for (size_t i = 0; i < n; i++)
			CHECK(cbor_put_uint(&b, 0) == 0);
		CHECK((msb_msg_decode(&m, b.data, b.len) == 0) == (n == fit));
	}
	msb_buf_free(&b);
}

static void test_msg_encode_errors(void)
{
	struct msb_buf b = {0};
	struct msb_msg m;
	static const char *const argv[] = {"ok", "bad\xff", NULL};

	CHECK(msb_buf_append(&b, "xyz", 3) == 0);

	memset(&m, 0, sizeof(m));
	errno = 0;
	CHECK(msb_msg_encode(&b, &m) < 0 && errno == EINVAL); /* UNKNOWN */
	m.type = MSB_MSG__COUNT;
	errno = 0;
	CHECK(msb_msg_encode(&b, &m) < 0 && errno == EINVAL);
	CHECK(buf_is_hex(&b, "78797a"));

	/* Invalid UTF-8 in a text field fails late; nothing is left behind. */
	m.type = MSB_MSG_FAILED;
	m.has = MSB_HAS(MSB_FLD_KIND) | MSB_HAS(MSB_FLD_MSG);
	m.kind = msb_str("io");
	m.msg = msb_str("\xc0\x80");
	errno = 0;
	CHECK(msb_msg_encode(&b, &m) < 0 && errno == EINVAL);
	CHECK(buf_is_hex(&b, "78797a"));
	errno = 0;
	CHECK(msb_frame_encode(&b, 1, 0, &m) < 0 && errno == EINVAL);
	CHECK(buf_is_hex(&b, "78797a"));

	m.type = MSB_MSG_EXEC;
	m.has = MSB_HAS(MSB_FLD_ARGV);
	m.argv.v = argv;
	errno = 0;
	CHECK(msb_msg_encode(&b, &m) < 0 && errno == EINVAL);
	CHECK(buf_is_hex(&b, "78797a"));

	/* Fields without their has bit are not written. */
	memset(&m, 0, sizeof(m));
	m.type = MSB_MSG_PING;
	m.msg = msb_str("\xc0\x80");
	m.code = 5;
	msb_buf_reset(&b);
	CHECK(msb_msg_encode(&b, &m) == 0);
	CHECK(buf_is_hex(&b, "a1 6174 6470696e67"));
	msb_buf_free(&b);
}

/* --- Strings --- */

static void test_strv(void)
{
	struct msb_msg m;
	struct msb_bytes s;
	size_t it = 0;
	char **v;
	size_t n;
	uint8_t *p;

	/* {"t": "exec", "argv": ["a", "", "b\u00e9"], "env": ["X\0Y"]} */
	p = unhex("a3 6174 6465786563 6461726776 83 6161 60 6362c3a9 "
		  "63656e76 81 6358005a",
		  &n);
	CHECK(msb_msg_decode(&m, p, n) == 0);
	CHECK(m.argv.count == 3 && m.env.count == 1);
	CHECK(msb_strv_next(&m.argv, &it, &s) && msb_bytes_eq(s, "a"));
	CHECK(msb_strv_next(&m.argv, &it, &s) && msb_bytes_eq(s, ""));
	CHECK(msb_strv_next(&m.argv, &it, &s) && msb_bytes_eq(s, "b\xc3\xa9"));
	CHECK(!msb_strv_next(&m.argv, &it, &s));
	CHECK(!msb_strv_next(&m.argv, &it, &s));

	v = msb_strv_dup(&m.argv);
	CHECK(v != NULL);
	if (v) {
		CHECK(v[0] && strcmp(v[0], "a") == 0);
		CHECK(v[1] && strcmp(v[1], "") == 0);
		CHECK(v[2] && strcmp(v[2], "b\xc3\xa9") == 0);
		CHECK(v[3] == NULL);
	}
	free(v);

	/* Embedded NUL is rejected. */
	errno = 0;
	v = msb_strv_dup(&m.env);
	CHECK(v == NULL && errno == EINVAL);
	free(v);
	it = 0;
	CHECK(msb_strv_next(&m.env, &it, &s) && s.n == 3);
	CHECK(!msb_bytes_eq(s, "X"));
	errno = 0;
	CHECK(msb_bytes_dup(s) == NULL && errno == EINVAL);
	free(p);

	/* Absent field: empty array. */
	memset(&m, 0, sizeof(m));
	it = 0;
	CHECK(!msb_strv_next(&m.argv, &it, &s));
	v = msb_strv_dup(&m.argv);
	CHECK(v != NULL && v[0] == NULL);
	free(v);

	/* Encoder-side array. */
	{
		static const char *const src[] = {"one", "two", NULL};
		struct msb_strv sv = {.v = src};

		v = msb_strv_dup(&sv);
		CHECK(v && v[0] && strcmp(v[0], "one") == 0 && v[1] &&
		      strcmp(v[1], "two") == 0 && v[2] == NULL);
		free(v);
	}
}

static void test_bytes(void)
{
	char *s;

	s = msb_bytes_dup(msb_str("hello"));
	CHECK(s && strcmp(s, "hello") == 0);
	free(s);
	s = msb_bytes_dup((struct msb_bytes){NULL, 0});
	CHECK(s && s[0] == '\0');
	free(s);
	s = msb_bytes_dup((struct msb_bytes){(const uint8_t *)"ab", 1});
	CHECK(s && strcmp(s, "a") == 0);
	free(s);
	errno = 0;
	s = msb_bytes_dup((struct msb_bytes){(const uint8_t *)"a\0b", 3});
	CHECK(s == NULL && errno == EINVAL);

	CHECK(msb_bytes_eq(msb_str("exec"), "exec"));
	CHECK(!msb_bytes_eq(msb_str("exec"), "exe"));
	CHECK(!msb_bytes_eq(msb_str("exe"), "exec"));
	CHECK(msb_bytes_eq((struct msb_bytes){NULL, 0}, ""));
	CHECK(!msb_bytes_eq((struct msb_bytes){NULL, 0}, "x"));
	CHECK(!msb_bytes_eq(msb_str("x"), NULL));
	CHECK(!msb_bytes_eq((struct msb_bytes){(const uint8_t *)"a\0", 2},
			    "a"));
}

/* --- Frames --- */

static void test_frame_hdr(void)
{
	uint8_t h[MSB_FRAME_HDR];
	struct msb_frame_hdr fh;

	for (size_t n = 0; n < MSB_FRAME_HDR; n++) {
		uint8_t *p =
			dup_exact((const uint8_t *)"\0\0\0\5\0\0\0\0\0", n);

		CHECK(msb_frame_parse_hdr(&fh, p, n) == 0);
		free(p);
	}

	msb_frame_put_hdr(h, 0, 7, MSB_F_END);
	CHECK(memcmp(h, "\0\0\0\5\0\0\0\7\2", 9) == 0);
	CHECK(msb_frame_parse_hdr(&fh, h, sizeof(h)) == 1);
	CHECK(fh.len == 5 && fh.stream == 7 && fh.flags == MSB_F_END);

	msb_frame_put_hdr(h, 0x010203, 0xdeadbeef,
			  MSB_F_START | MSB_F_SHUTDOWN);
	CHECK(memcmp(h, "\x00\x01\x02\x08\xde\xad\xbe\xef\x05", 9) == 0);
	CHECK(msb_frame_parse_hdr(&fh, h, sizeof(h)) == 1);
	CHECK(fh.len == 0x010208 && fh.stream == 0xdeadbeef && fh.flags == 5);

	for (uint32_t len = 0; len < 5; len++) {
		put_be32(h, len);
		CHECK(msb_frame_parse_hdr(&fh, h, sizeof(h)) == -1);
	}
	put_be32(h, MSB_FRAME_MAX);
	CHECK(msb_frame_parse_hdr(&fh, h, sizeof(h)) == 1);
	CHECK(fh.len == MSB_FRAME_MAX);
	put_be32(h, MSB_FRAME_MAX + 1);
	CHECK(msb_frame_parse_hdr(&fh, h, sizeof(h)) == -1);
	put_be32(h, UINT32_MAX);
	CHECK(msb_frame_parse_hdr(&fh, h, sizeof(h)) == -1);

	/* msb_frame_next: a bad length is reported once 9 bytes are there. */
	{
		struct msb_buf in = {0};
		struct msb_frame f;

		CHECK(msb_frame_next(&f, &in) ==
		      0); /* empty, never allocated */
		put_be32(h, 4);
		CHECK(msb_buf_append(&in, h, 8) == 0);
		CHECK(msb_frame_next(&f, &in) == 0);
		CHECK(msb_buf_append(&in, h + 8, 1) == 0);
		CHECK(msb_frame_next(&f, &in) == -1);
		msb_buf_reset(&in);
		put_be32(h, MSB_FRAME_MAX + 1);
		CHECK(msb_buf_append(&in, h, 9) == 0);
		CHECK(msb_frame_next(&f, &in) == -1);
		/* An empty payload (len 5) is a complete frame. */
		msb_buf_reset(&in);
		msb_frame_put_hdr(h, 0, 3, 0);
		CHECK(msb_buf_append(&in, h, 9) == 0);
		CHECK(msb_frame_next(&f, &in) == 1);
		CHECK(f.payload_len == 0 && msb_frame_size(&f) == 9);
		msb_buf_free(&in);
	}
}

static void make_msgs(struct msb_msg m[3])
{
	static const char *const argv[] = {"true", NULL};
	static const uint8_t out[] = "hello, world\n";

	memset(m, 0, 3 * sizeof(*m));
	m[0].type = MSB_MSG_EXEC;
	m[0].has = MSB_HAS(MSB_FLD_ARGV);
	m[0].argv.v = argv;
	m[1].type = MSB_MSG_STDOUT;
	m[1].has = MSB_HAS(MSB_FLD_DATA);
	m[1].data = (struct msb_bytes){out, sizeof(out) - 1};
	m[2].type = MSB_MSG_EXITED;
	m[2].has = MSB_HAS(MSB_FLD_CODE);
	m[2].code = 0;
}

static void test_frame_stream(void)
{
	struct msb_msg m[3];
	struct msb_buf wire = {0}, in = {0};
	struct msb_frame f;
	size_t got = 0;
	static const uint8_t flags[3] = {MSB_F_START, 0, MSB_F_END};

	make_msgs(m);
	for (int i = 0; i < 3; i++)
		CHECK(msb_frame_encode(&wire, 5, flags[i], &m[i]) == 0);

	/* One byte at a time: a frame appears exactly when its last byte
	 * arrives. */
	for (size_t i = 0; i < wire.len; i++) {
		CHECK(msb_buf_append(&in, wire.data + i, 1) == 0);
		for (;;) {
			struct msb_msg dm;
			int r = msb_frame_next(&f, &in);

			CHECK(r >= 0);
			if (r <= 0)
				break;
			CHECK(got < 3);
			if (got >= 3)
				break;
			CHECK(f.hdr.stream == 5 && f.hdr.flags == flags[got]);
			CHECK(msb_msg_decode(&dm, f.payload, f.payload_len) ==
			      0);
			CHECK(msg_eq(&m[got], &dm));
			msb_buf_consume(&in, msb_frame_size(&f));
			got++;
			/* The whole frame was needed. */
			CHECK(msb_buf_avail(&in) == 0);
		}
	}
	CHECK(got == 3);
	CHECK(msb_buf_avail(&in) == 0);

	/* All at once: three frames back to back. */
	got = 0;
	CHECK(msb_buf_append(&in, wire.data, wire.len) == 0);
	while (msb_frame_next(&f, &in) == 1) {
		struct msb_msg dm;

		CHECK(got < 3);
		if (got >= 3)
			break;
		CHECK(msb_msg_decode(&dm, f.payload, f.payload_len) == 0);
		CHECK(msg_eq(&m[got], &dm));
		msb_buf_consume(&in, msb_frame_size(&f));
		got++;
	}
	CHECK(got == 3);
	CHECK(msb_buf_avail(&in) == 0);

	/* Two and a half frames: the half stays until the rest arrives. */
	got = 0;
	CHECK(msb_buf_append(&in, wire.data, wire.len - 3) == 0);
	while (msb_frame_next(&f, &in) == 1) {
		msb_buf_consume(&in, msb_frame_size(&f));
		got++;
	}
	CHECK(got == 2);
	CHECK(msb_buf_append(&in, wire.data + wire.len - 3, 3) == 0);
	CHECK(msb_frame_next(&f, &in) == 1 && f.hdr.flags == MSB_F_END);
	msb_buf_free(&in);
	msb_buf_free(&wire);
}

static void test_frame_limit(void)
{
	/* {"t": "stdout", "data": h'...'}: 1 + 2 + 7 + 5 + 5 bytes of
	 * overhead for 64 KiB <= len < 4 GiB. */
	const size_t overhead = 20;
	size_t n = MSB_FRAME_PAYLOAD_MAX - overhead;
	uint8_t *data = calloc(1, n + 1);
	struct msb_buf out = {0};
	struct msb_msg m, dm;
	struct msb_frame f;

	CHECK(data != NULL);
	if (!data)
		return;
	memset(&m, 0, sizeof(m));
	m.type = MSB_MSG_STDOUT;
	m.has = MSB_HAS(MSB_FLD_DATA);
	m.data = (struct msb_bytes){data, n};

	/* Exactly at the limit. */
	CHECK(msb_frame_encode(&out, 1, 0, &m) == 0);
	CHECK(out.len == MSB_FRAME_HDR + MSB_FRAME_PAYLOAD_MAX);
	CHECK(msb_frame_next(&f, &out) == 1);
	CHECK(f.hdr.len == MSB_FRAME_MAX);
	CHECK(f.payload_len == MSB_FRAME_PAYLOAD_MAX);
	CHECK(msb_msg_decode(&dm, f.payload, f.payload_len) == 0);
	CHECK(dm.data.n == n);

	/* One byte over: E2BIG and the buffer is as it was, including when
	 * the buffer has consumed bytes at the front. */
	msb_buf_reset(&out);
	CHECK(msb_buf_append(&out, "abcdef", 6) == 0);
	msb_buf_consume(&out, 2);
	m.data.n = n + 1;
	errno = 0;
	CHECK(msb_frame_encode(&out, 1, 0, &m) < 0 && errno == E2BIG);
	CHECK(buf_is_hex(&out, "63646566"));

	/* msb_msg_encode has no limit of its own. */
	msb_buf_reset(&out);
	CHECK(msb_msg_encode(&out, &m) == 0);
	CHECK(out.len == MSB_FRAME_PAYLOAD_MAX + 1);

	msb_buf_free(&out);
	free(data);
}

/* Flow-control arithmetic shared by the agent and the library. */
static void test_credit(void)
{
	struct msb_msg grant = {.type = MSB_MSG_CREDIT,
				.has = MSB_HAS(MSB_FLD_SIZE),
				.size = 1000};
	uint64_t credit = 5, owed = 0;

	msb_credit_add(&credit, &grant);
	CHECK(credit == 1005);
	grant.size = UINT64_MAX; /* hostile: saturates, no overflow */
	msb_credit_add(&credit, &grant);
	CHECK(credit == UINT64_C(1) << 30);
	grant.has = 0; /* no size: nothing */
	credit = 7;
	msb_credit_add(&credit, &grant);
	CHECK(credit == 7);

	struct msb_msg m;
	CHECK(!msb_credit_due(&owed, MSB_WINDOW / 2 - 1, &m));
	CHECK(owed == MSB_WINDOW / 2 - 1);
	CHECK(msb_credit_due(&owed, 1, &m));
	CHECK(owed == 0 && m.type == MSB_MSG_CREDIT &&
	      m.has == MSB_HAS(MSB_FLD_SIZE) && m.size == MSB_WINDOW / 2);
}

int main(void)
{
	test_credit();
	test_encode_uint_boundaries();
	test_encode_int_boundaries();
	test_encode_rfc_vectors();
	test_encode_errors();
	test_decode_rfc_vectors();
	test_decode_rejects();
	test_utf8();
	test_decode_depth();
	test_decode_budget();
	test_msg_roundtrip();
	test_msg_wire_format();
	test_type_names();
	test_msg_decode_rejects();
	test_msg_decode_accepts();
	test_msg_budget();
	test_msg_encode_errors();
	test_strv();
	test_bytes();
	test_frame_hdr();
	test_frame_stream();
	test_frame_limit();

	if (failures) {
		fprintf(stderr, "test_proto: %d of %d checks failed\n",
			failures, checks);
		return 1;
	}
	printf("test_proto: all %d checks passed\n", checks);
	return 0;
}
