// SPDX-License-Identifier: Apache-2.0
/* Unit tests for src/net/pins.c: expiry, refresh, caps, LRU eviction
 * and the periodic sweep. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "net/pins.h"

static struct msb_net_addr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	struct msb_net_addr x = {.family = 4, .a = {a, b, c, d}};
	return x;
}

/* The names of @addr at @now, sorted into one comma-separated string. */
static const char *names_of(struct msb_pins *p, struct msb_net_addr addr,
			    uint64_t now)
{
	static char buf[4096];
	const char *n[128];
	size_t k = msb_pins_names(n, 128, p, &addr, now);

	for (size_t i = 0; i < k; i++)
		for (size_t j = i + 1; j < k; j++)
			if (strcmp(n[j], n[i]) < 0) {
				const char *t = n[i];
				n[i] = n[j];
				n[j] = t;
			}
	buf[0] = 0;
	for (size_t i = 0; i < k; i++) {
		if (i)
			strcat(buf, ",");
		strcat(buf, n[i]);
	}
	return buf;
}

static void test_basic(void)
{
	struct msb_pins *p = msb_pins_new(0, 0, 42);
	struct msb_net_addr a = v4(93, 184, 216, 34);
	struct msb_net_addr b = v4(93, 184, 216, 35);
	const char *n[4];

	CHECK(p != NULL);
	CHECK(msb_pins_add(p, "Example.COM", &a, 300, 1000) == 0);
	CHECK(msb_pins_add(p, "www.example.com", &a, 300, 1000) == 0);
	CHECK(msb_pins_add(p, "other.test", &b, 300, 1000) == 0);
	CHECK(msb_pins_count(p) == 3);
	CHECK_STR(names_of(p, a, 1000), "example.com,www.example.com");
	CHECK_STR(names_of(p, b, 1299), "other.test");
	CHECK_STR(names_of(p, v4(93, 184, 216, 36), 1000), "");
	/* @max is honoured */
	CHECK(msb_pins_names(n, 1, p, &a, 1000) == 1);
	CHECK(msb_pins_names(n, 0, p, &a, 1000) == 0);

	/* an IPv4 address with junk past its 4 octets is the same */
	struct msb_net_addr a2 = a;
	memset(a2.a + 4, 0xee, 12);
	CHECK_STR(names_of(p, a2, 1000), "example.com,www.example.com");
	/* the same octets as IPv6 are not */
	struct msb_net_addr a6 = a;
	a6.family = 6;
	memset(a6.a + 4, 0, 12);
	CHECK_STR(names_of(p, a6, 1000), "");

	/* expiry: not at 1299, gone at 1300, freed when met */
	CHECK_STR(names_of(p, a, 1299), "example.com,www.example.com");
	CHECK_STR(names_of(p, a, 1300), "");
	CHECK(msb_pins_count(p) == 1);
	msb_pins_expire(p, 1300);
	CHECK(msb_pins_count(p) == 0);

	/* invalid input */
	struct msb_net_addr bad = {.family = 5};
	char longname[300];
	memset(longname, 'x', sizeof(longname));
	longname[254] = 0;
	CHECK(msb_pins_add(p, "", &a, 60, 0) == -1);
	CHECK(msb_pins_add(p, NULL, &a, 60, 0) == -1);
	CHECK(msb_pins_add(p, "a.b", &bad, 60, 0) == -1);
	CHECK(msb_pins_add(p, "a.b", NULL, 60, 0) == -1);
	CHECK(msb_pins_add(p, longname, &a, 60, 0) == -1);
	longname[253] = 0;
	CHECK(msb_pins_add(p, longname, &a, 60, 0) == 0);
	CHECK(msb_pins_names(n, 4, p, &bad, 0) == 0);
	msb_pins_free(p);
	msb_pins_free(NULL);
}

static void test_ttl(void)
{
	struct msb_pins *p = msb_pins_new(16, 4, 1);
	struct msb_net_addr a = v4(1, 1, 1, 1);

	/* TTL 0 still lives MSB_PINS_TTL_MIN seconds */
	CHECK(msb_pins_add(p, "zero.test", &a, 0, 100) == 0);
	CHECK_STR(names_of(p, a, 100 + MSB_PINS_TTL_MIN - 1), "zero.test");
	CHECK_STR(names_of(p, a, 100 + MSB_PINS_TTL_MIN), "");

	/* a day is an hour */
	CHECK(msb_pins_add(p, "day.test", &a, 86400, 100) == 0);
	CHECK_STR(names_of(p, a, 100 + MSB_PINS_TTL_MAX - 1), "day.test");
	CHECK_STR(names_of(p, a, 100 + MSB_PINS_TTL_MAX), "");

	/* adding again extends; a shorter TTL later does not shorten */
	CHECK(msb_pins_add(p, "re.test", &a, 100, 0) == 0);
	CHECK(msb_pins_add(p, "re.test", &a, 100, 50) == 0); /* to 150 */
	CHECK(msb_pins_add(p, "RE.test", &a, 30, 60) == 0);  /* 90 < 150 */
	CHECK(msb_pins_count(p) == 1);
	CHECK_STR(names_of(p, a, 149), "re.test");
	CHECK_STR(names_of(p, a, 150), "");
	msb_pins_free(p);
}

static void test_per_addr(void)
{
	struct msb_pins *p = msb_pins_new(64, 3, 7);
	struct msb_net_addr a = v4(2, 2, 2, 2);
	const char *n[8];

	CHECK(msb_pins_add(p, "n1.test", &a, 600, 0) == 0);
	CHECK(msb_pins_add(p, "n2.test", &a, 600, 1) == 0);
	CHECK(msb_pins_add(p, "n3.test", &a, 600, 2) == 0);
	CHECK(msb_pins_add(p, "n4.test", &a, 600, 3) == 0); /* evicts n1 */
	CHECK(msb_pins_count(p) == 3);
	/* n2 refreshed: n3 is now the least recently used */
	CHECK(msb_pins_add(p, "n2.test", &a, 600, 5) == 0);
	CHECK(msb_pins_add(p, "n5.test", &a, 600, 6) == 0);
	CHECK(msb_pins_names(n, 8, p, &a, 7) == 3);
	CHECK_STR(names_of(p, a, 7), "n2.test,n4.test,n5.test");
	/* another address is not limited by this one */
	struct msb_net_addr b = v4(2, 2, 2, 3);
	CHECK(msb_pins_add(p, "n1.test", &b, 600, 8) == 0);
	CHECK(msb_pins_count(p) == 4);
	msb_pins_free(p);
}

static void test_lru(void)
{
	struct msb_pins *p = msb_pins_new(4, 0, 9);
	struct msb_net_addr a[6];

	for (int i = 0; i < 6; i++)
		a[i] = v4(3, 3, 3, (uint8_t)i);
	for (int i = 0; i < 4; i++)
		CHECK(msb_pins_add(p, "x.test", &a[i], 600, (uint64_t)i) == 0);
	CHECK(msb_pins_count(p) == 4);
	/* a[0] is used by a lookup: a[1] is now the least recently used */
	CHECK_STR(names_of(p, a[0], 10), "x.test");
	CHECK(msb_pins_add(p, "x.test", &a[4], 600, 11) == 0);
	CHECK(msb_pins_count(p) == 4);
	CHECK_STR(names_of(p, a[1], 12), "");
	CHECK_STR(names_of(p, a[0], 12), "x.test");
	CHECK_STR(names_of(p, a[4], 12), "x.test");
	/* expired pins are freed before anything is evicted when met */
	struct msb_pins *q = msb_pins_new(4, 0, 9);
	CHECK(msb_pins_add(q, "short.test", &a[5], 30, 0) == 0);
	for (int i = 0; i < 3; i++)
		CHECK(msb_pins_add(q, "long.test", &a[i], 600, 1) == 0);
	CHECK(msb_pins_add(q, "short2.test", &a[5], 600, 100) == 0);
	CHECK(msb_pins_count(q) == 4);
	for (int i = 0; i < 3; i++)
		CHECK_STR(names_of(q, a[i], 101), "long.test");
	CHECK_STR(names_of(q, a[5], 101), "short2.test");
	msb_pins_free(q);

	/* a flood: many addresses and names, the count stays bounded */
	struct msb_pins *r = msb_pins_new(256, 8, 1234);
	char name[32];
	for (unsigned i = 0; i < 20000; i++) {
		struct msb_net_addr x = v4(4, (uint8_t)(i >> 16),
					   (uint8_t)(i >> 8), (uint8_t)i);
		if (i % 3 == 0)
			x = v4(5, 5, 5, (uint8_t)(i % 7));
		snprintf(name, sizeof(name), "h%u.flood.test", i);
		CHECK(msb_pins_add(r, name, &x, 600, i / 100) == 0);
		CHECK(msb_pins_count(r) <= 256);
	}
	for (uint8_t k = 0; k < 7; k++) {
		const char *n[16];
		struct msb_net_addr x = v4(5, 5, 5, k);
		CHECK(msb_pins_names(n, 16, r, &x, 200) <= 8);
	}
	CHECK(msb_pins_count(r) == 256);
	msb_pins_expire(r, 100000);
	CHECK(msb_pins_count(r) == 0);
	msb_pins_free(r);
	msb_pins_free(p);
}

static void test_answer(void)
{
	struct msb_pins *p = msb_pins_new(0, 0, 5);
	struct msb_dns_answer res;

	memset(&res, 0, sizeof(res));
	res.nnames = 3;
	strcpy(res.names[0], "www.example.com");
	strcpy(res.names[1], ""); /* no text form: skipped */
	strcpy(res.names[2], "b.cdn.net");
	res.naddrs = 2;
	res.addrs[0].addr = v4(6, 6, 6, 6);
	res.addrs[0].ttl = 120;
	res.addrs[0].depth = 2;
	res.addrs[1].addr = v4(6, 6, 6, 7);
	res.addrs[1].ttl = 120;
	res.addrs[1].depth = 0;
	msb_pins_add_answer(p, &res, 0);
	CHECK_STR(names_of(p, v4(6, 6, 6, 6), 1), "b.cdn.net,www.example.com");
	CHECK_STR(names_of(p, v4(6, 6, 6, 7), 1), "www.example.com");
	CHECK(msb_pins_count(p) == 3);
	CHECK_STR(names_of(p, v4(6, 6, 6, 6), 120), "");
	msb_pins_free(p);
}

/* The periodic sweep: bounded work per call, resumed round the table,
 * only expired pins freed. */
static void test_sweep(void)
{
	struct msb_pins *p = msb_pins_new(64, 4, 77);
	size_t nb = msb_pins_buckets(p);
	char name[32];

	CHECK(nb == 128);
	/* 48 pins that expire at 130 (TTL 30 from 100), 16 that live on */
	for (unsigned i = 0; i < 64; i++) {
		struct msb_net_addr x = v4(8, 8, (uint8_t)(i / 16), (uint8_t)i);
		snprintf(name, sizeof(name), "s%u.sweep.test", i);
		CHECK(msb_pins_add(p, name, &x, i < 48 ? 30 : 600, 100) == 0);
	}
	CHECK(msb_pins_count(p) == 64);
	/* nothing has expired yet: a whole round frees nothing */
	CHECK(msb_pins_sweep(p, 129, (unsigned)nb) == 0);
	CHECK(msb_pins_count(p) == 64);
	/* a budget of 0 looks at nothing; NULL is fine */
	CHECK(msb_pins_sweep(p, 130, 0) == 0);
	CHECK(msb_pins_count(p) == 64);
	CHECK(msb_pins_sweep(NULL, 130, 16) == 0);

	/* 16 buckets a call: after half the table, some expired pins are
	 * still held (48 pins over 128 buckets are not all in 64 of them);
	 * after the other half every expired pin is freed, none else */
	size_t freed = 0;
	for (size_t k = 0; k < nb / 16 / 2; k++) {
		size_t f = msb_pins_sweep(p, 130, 16);
		CHECK(f <= 48);
		freed += f;
	}
	CHECK(freed > 0 && freed < 48);
	CHECK(msb_pins_count(p) == 64 - freed);
	for (size_t k = 0; k < nb / 16 / 2; k++)
		freed += msb_pins_sweep(p, 130, 16);
	CHECK(freed == 48);
	CHECK(msb_pins_count(p) == 16);
	for (unsigned i = 0; i < 64; i++) {
		struct msb_net_addr x = v4(8, 8, (uint8_t)(i / 16), (uint8_t)i);
		snprintf(name, sizeof(name), "s%u.sweep.test", i);
		CHECK_STR(names_of(p, x, 130), i < 48 ? "" : name);
	}
	/* the cursor wraps: a budget beyond the table is one round */
	CHECK(msb_pins_sweep(p, 700, 100000) == 16);
	CHECK(msb_pins_count(p) == 0);
	/* freed pins are reused */
	struct msb_net_addr y = v4(9, 9, 9, 9);
	CHECK(msb_pins_add(p, "again.test", &y, 60, 800) == 0);
	CHECK_STR(names_of(p, y, 801), "again.test");
	CHECK(msb_pins_count(p) == 1);
	msb_pins_free(p);
	CHECK(msb_pins_buckets(NULL) == 0);
}

/* Invalid sizes */
static void test_new(void)
{
	CHECK(msb_pins_new(1u << 25, 0, 0) == NULL);
	struct msb_pins *p = msb_pins_new(1, 1, 0);
	struct msb_net_addr a = v4(7, 7, 7, 7), b = v4(7, 7, 7, 8);
	CHECK(msb_pins_add(p, "a.test", &a, 60, 0) == 0);
	CHECK(msb_pins_add(p, "b.test", &a, 60, 0) == 0);
	CHECK_STR(names_of(p, a, 0), "b.test");
	CHECK(msb_pins_add(p, "c.test", &b, 60, 0) == 0);
	CHECK_STR(names_of(p, a, 0), "");
	CHECK_STR(names_of(p, b, 0), "c.test");
	msb_pins_free(p);
}

int main(void)
{
	test_basic();
	test_ttl();
	test_per_addr();
	test_lru();
	test_answer();
	test_sweep();
	test_new();
	return check_summary("net_pins");
}
