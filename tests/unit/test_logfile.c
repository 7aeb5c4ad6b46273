// SPDX-License-Identifier: Apache-2.0
/* Capped logs: escaping, rotation, the rate limiter and line assembly. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "util/util.h"
#include "vmm/logfile.h"

static void test_escape(void)
{
	char out[64];
	const uint8_t in[] = "a\tb\x01\r\x7f\n\"q\"\\";

	CHECK(logfile_escape(out, sizeof(out), in, sizeof(in) - 1, false) ==
	      19);
	CHECK_STR(out, "a\tb\\x01\\x7f\\x0a\"q\"\\");
	/* quoted: a guest cannot close the quotes or fake an escape */
	logfile_escape(out, sizeof(out), in, sizeof(in) - 1, true);
	CHECK_STR(out, "a\tb\\x01\\x7f\\x0a\\\"q\\\"\\\\");
	/* bounded, never a cut escape, always NUL-terminated */
	CHECK(logfile_escape(out, 6, in, sizeof(in) - 1, false) == 3);
	CHECK_STR(out, "a\tb");
	CHECK(logfile_escape(out, 2, (const uint8_t *)"\"x", 2, true) == 0);
	CHECK(logfile_escape(out, 1, in, 3, false) == 0 && !out[0]);
	CHECK(logfile_escape(out, 0, in, 3, false) == 0);
	/* C1 controls (a CSI as UTF-8) and invalid UTF-8 are escaped */
	logfile_escape(out, sizeof(out),
		       (const uint8_t *)"\xc2\x9b"
					"2J\xff",
		       5, false);
	CHECK_STR(out, "\\xc2\\x9b2J\\xff");
	/* valid UTF-8 passes (text stays readable) */
	CHECK(logfile_escape(out, sizeof(out), (const uint8_t *)"\xc3\xa9", 2,
			     true) == 2);
}

static off_t file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? st.st_size : -1;
}

static void test_rotation(void)
{
	char dir[] = "/tmp/msb-test-logfile-XXXXXX", path[256], old[260];
	struct logfile l = {.fd = -1};
	char rec[100];

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/x.log", dir);
	snprintf(old, sizeof(old), "%s.1", path);
	CHECK(logfile_open(&l, path, 1000) == 0);
	memset(rec, 'r', sizeof(rec) - 1);
	rec[sizeof(rec) - 1] = '\n';
	/* 10 records fill the file exactly; the 11th starts a new one */
	for (int i = 0; i < 10; i++)
		CHECK(logfile_write(&l, rec, sizeof(rec)) == 0);
	CHECK(file_size(path) == 1000 && file_size(old) == -1);
	CHECK(logfile_write(&l, rec, sizeof(rec)) == 0);
	CHECK(file_size(path) == 100 && file_size(old) == 1000);
	CHECK(l.rotations == 1);
	/* a flood: never more than two files of at most the cap */
	for (int i = 0; i < 10000; i++)
		logfile_write(&l, rec, sizeof(rec));
	CHECK(file_size(path) <= 1000 && file_size(old) <= 1000);
	CHECK(l.dropped == 0);
	logfile_close(&l);
	/* reopening appends and knows the size */
	off_t before = file_size(path);
	CHECK(logfile_open(&l, path, 1000) == 0);
	CHECK(l.size == (uint64_t)before);
	logfile_close(&l);
	/* a log that cannot be written counts what it drops */
	CHECK(logfile_write(&l, rec, sizeof(rec)) == -1);
	CHECK(l.dropped == sizeof(rec));
	unlink(path);
	unlink(old);
	rmdir(dir);
}

static void test_ratelimit(void)
{
	struct ratelimit rl = {.burst = 3, .per_s = 2};
	uint64_t t = 5000000, sup = 99;
	int ok = 0;

	/* the burst, then nothing until tokens come back */
	for (int i = 0; i < 10; i++)
		ok += ratelimit_allow(&rl, t, &sup);
	CHECK(ok == 3);
	CHECK(sup == 0);
	CHECK(!ratelimit_allow(&rl, t + 100000, NULL));
	/* 2 a second: one token after 0.5 s; it reports what it refused */
	CHECK(ratelimit_allow(&rl, t + 500000, &sup));
	CHECK(sup == 8);
	CHECK(!ratelimit_allow(&rl, t + 600000, &sup));
	/* a long quiet spell refills to the burst, not more */
	ok = 0;
	for (int i = 0; i < 10; i++)
		ok += ratelimit_allow(&rl, t + 3600000000u, &sup);
	CHECK(ok == 3);
	/* sustained flood: about per_s a second get through */
	ok = 0;
	for (uint64_t u = 0; u < 10000000; u += 1000)
		ok += ratelimit_allow(&rl, t + 4000000000u + u, NULL);
	CHECK(ok >= 20 && ok <= 24);
	/* a clock that goes back does not mint tokens */
	struct ratelimit r2 = {.burst = 1, .per_s = 1};
	CHECK(ratelimit_allow(&r2, 10000000, NULL));
	CHECK(!ratelimit_allow(&r2, 1, NULL));
	CHECK(!ratelimit_allow(&r2, 10000001, NULL));
}

struct lines {
	int n;
	size_t len[8];
	char text[8][LOGFILE_LINE + 1];
};

static void emit(const uint8_t *line, size_t len, void *ud)
{
	struct lines *l = ud;
	if (l->n < 8) {
		memcpy(l->text[l->n], line, len);
		l->text[l->n][len] = '\0';
		l->len[l->n] = len;
	}
	l->n++;
}

static void test_linebuf(void)
{
	static struct linebuf lb;
	static struct lines got;
	static uint8_t big[LOGFILE_LINE * 2 + 10];

	linebuf_feed(&lb, (const uint8_t *)"one\ntw", 6, emit, &got);
	CHECK(got.n == 1);
	CHECK_STR(got.text[0], "one");
	linebuf_feed(&lb, (const uint8_t *)"o\n\nthree", 8, emit, &got);
	CHECK(got.n == 3);
	CHECK_STR(got.text[1], "two");
	CHECK_STR(got.text[2], "");
	linebuf_flush(&lb, emit, &got);
	CHECK(got.n == 4);
	CHECK_STR(got.text[3], "three");
	linebuf_flush(&lb, emit, &got);
	CHECK(got.n == 4);
	/* a line with no end is cut at the bound */
	memset(big, 'x', sizeof(big));
	memset(&got, 0, sizeof(got));
	linebuf_feed(&lb, big, sizeof(big), emit, &got);
	CHECK(got.n == 2);
	CHECK(got.len[0] == LOGFILE_LINE && got.len[1] == LOGFILE_LINE);
	CHECK(lb.len == 10);
}

/* QEMU's last stderr lines, for the error of a failed start. */
static void test_linetail(void)
{
	struct linetail t = {0};
	char out[128];

	CHECK_STR(linetail_join(&t, "qemu", out, sizeof(out)), "");
	linetail_add(&t, (const uint8_t *)"qemu: one", 9);
	linetail_add(&t, (const uint8_t *)"  \r", 3); /* blank: skipped */
	CHECK_STR(linetail_join(&t, "qemu", out, sizeof(out)), "one");
	/* the last three, oldest first; only "PROG: " is stripped */
	linetail_add(&t, (const uint8_t *)"qemu-img: two", 13);
	linetail_add(&t, (const uint8_t *)"three\r", 6);
	linetail_add(&t, (const uint8_t *)"qemu: four", 10);
	CHECK_STR(linetail_join(&t, "qemu", out, sizeof(out)),
		  "qemu-img: two; three; four");
	/* the path or its last component */
	CHECK_STR(linetail_join(&t, "/usr/bin/qemu", out, sizeof(out)),
		  "qemu-img: two; three; four");
	linetail_add(&t, (const uint8_t *)"/usr/bin/qemu: five", 19);
	CHECK_STR(linetail_join(&t, "/usr/bin/qemu", out, sizeof(out)),
		  "three; four; five");
	/* hostile bytes are escaped: one line, no terminal control */
	linetail_add(&t, (const uint8_t *)"a\x1b[2Jb\nc\\", 9);
	CHECK_STR(linetail_join(&t, NULL, out, sizeof(out)),
		  "qemu: four; /usr/bin/qemu: five; a\\x1b[2Jb\\x0ac\\x5c");
	/* bounded: cut with "...", never past @cap */
	uint8_t big[1000];
	memset(big, 'x', sizeof(big));
	linetail_add(&t, big, sizeof(big));
	CHECK(t.len[(t.next + 2) % LINETAIL_LINES] == LINETAIL_LINE);
	linetail_join(&t, NULL, out, 40);
	CHECK(strlen(out) < 40);
	struct linetail one = {0};
	linetail_add(&one, big, sizeof(big));
	linetail_join(&one, NULL, out, 40);
	CHECK(strlen(out) == 39 && !strcmp(out + 36, "..."));
	linetail_join(&t, NULL, out, 1);
	CHECK_STR(out, "");
}

int main(void)
{
	test_escape();
	test_rotation();
	test_ratelimit();
	test_linebuf();
	test_linetail();
	return check_summary("logfile");
}
