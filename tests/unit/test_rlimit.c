// SPDX-License-Identifier: Apache-2.0
/* Resource limit specs (util/rlimit.c). */
#include <string.h>

#include "check.h"
#include "util/rlimit.h"

static int parse(const char *s, int *res, struct rlimit *rl)
{
	char why[256];

	return msb_rlimit_parse(s, strlen(s), res, rl, why, sizeof(why));
}

int main(void)
{
	struct rlimit rl;
	int res = -1;
	char why[256];

	CHECK(parse("nofile=1024:2048", &res, &rl) == 0);
	CHECK(res == RLIMIT_NOFILE && rl.rlim_cur == 1024 &&
	      rl.rlim_max == 2048);
	/* HARD defaults to SOFT, as docker's --ulimit */
	CHECK(parse("nproc=64", &res, &rl) == 0);
	CHECK(res == RLIMIT_NPROC && rl.rlim_cur == 64 && rl.rlim_max == 64);
	CHECK(parse("as=unlimited", &res, &rl) == 0);
	CHECK(res == RLIMIT_AS && rl.rlim_cur == RLIM_INFINITY &&
	      rl.rlim_max == RLIM_INFINITY);
	CHECK(parse("core=0:unlimited", &res, &rl) == 0);
	CHECK(rl.rlim_cur == 0 && rl.rlim_max == RLIM_INFINITY);
	CHECK(parse("stack=18446744073709551614", &res, &rl) == 0);

	/* every name, each once */
	const char *names[] = {"as",     "core",   "cpu",        "data",
			       "fsize",  "locks",  "memlock",    "msgqueue",
			       "nice",   "nofile", "nproc",      "rss",
			       "rtprio", "rttime", "sigpending", "stack"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char s[64];
		snprintf(s, sizeof(s), "%s=1", names[i]);
		CHECK(parse(s, &res, &rl) == 0);
	}

	/* refused, each with a reason */
	const char *bad[] = {
		"",
		"nofile",
		"=1",
		"files=1",
		"NOFILE=1",
		"nofile=",
		"nofile=:1",
		"nofile=1:",
		"nofile=-1",
		"nofile=+1",
		"nofile=1k",
		"nofile=2:1",
		"nofile=1:2:3",
		"nofile=18446744073709551616",
		"nofile=18446744073709551615", /* RLIM_INFINITY: say unlimited
						*/
		"nofile=unlimited:1",
		"nofile= 1",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		int r = msb_rlimit_parse(bad[i], strlen(bad[i]), &res, &rl, why,
					 sizeof(why));
		CHECK(r == -1 && why[0]);
		if (r == 0)
			fprintf(stderr, "  accepted `%s`\n", bad[i]);
	}
	/* the length bounds the input: no NUL needed, none read past */
	CHECK(msb_rlimit_parse("nofile=12345", 8, &res, &rl, why,
			       sizeof(why)) == 0 &&
	      rl.rlim_cur == 1);
	CHECK(msb_rlimit_parse("nofile=1\0:2", 11, &res, &rl, why,
			       sizeof(why)) == -1);
	return check_summary("test_rlimit");
}
