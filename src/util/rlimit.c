// SPDX-License-Identifier: Apache-2.0
/* Resource limit specs ("nofile=1024:2048"): a bounded pure parser. */
#include "util/rlimit.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "util/util.h"

static const struct {
	const char *name;
	int resource;
} names[] = {
	{"as", RLIMIT_AS},
	{"core", RLIMIT_CORE},
	{"cpu", RLIMIT_CPU},
	{"data", RLIMIT_DATA},
	{"fsize", RLIMIT_FSIZE},
	{"locks", RLIMIT_LOCKS},
	{"memlock", RLIMIT_MEMLOCK},
	{"msgqueue", RLIMIT_MSGQUEUE},
	{"nice", RLIMIT_NICE},
	{"nofile", RLIMIT_NOFILE},
	{"nproc", RLIMIT_NPROC},
	{"rss", RLIMIT_RSS},
	{"rtprio", RLIMIT_RTPRIO},
	{"rttime", RLIMIT_RTTIME},
	{"sigpending", RLIMIT_SIGPENDING},
	{"stack", RLIMIT_STACK},
};

/* A value: digits (no sign, no overflow) or "unlimited". */
static int parse_value(const char *p, size_t n, rlim_t *v)
{
	uint64_t x;

	if (n == 9 && !memcmp(p, "unlimited", 9)) {
		*v = RLIM_INFINITY;
		return 0;
	}
	if (msb_parse_dec(p, n, &x) < 0 || (rlim_t)x == RLIM_INFINITY)
		return -1; /* the infinite value is spelt "unlimited" */
	*v = (rlim_t)x;
	return 0;
}

int msb_rlimit_parse(const char *spec, size_t len, int *resource,
		     struct rlimit *rl, char *why, size_t whylen)
{
	const char *eq = memchr(spec, '=', len);
	size_t i;

	if (!eq) {
		snprintf(why, whylen, "expected NAME=SOFT[:HARD]");
		return -1;
	}
	size_t nlen = (size_t)(eq - spec);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strlen(names[i].name) == nlen &&
		    !memcmp(names[i].name, spec, nlen))
			break;
	}
	if (i == sizeof(names) / sizeof(names[0])) {
		snprintf(why, whylen,
			 "unknown resource `%.*s` (core, cpu, data, fsize, "
			 "locks, memlock, msgqueue, nice, nofile, nproc, rss, "
			 "rtprio, rttime, sigpending, stack, as)",
			 (int)(nlen > 32 ? 32 : nlen), spec);
		return -1;
	}
	const char *v = eq + 1;
	size_t vlen = len - nlen - 1;
	const char *colon = memchr(v, ':', vlen);
	size_t slen = colon ? (size_t)(colon - v) : vlen;
	if (parse_value(v, slen, &rl->rlim_cur) < 0 ||
	    (colon &&
	     parse_value(colon + 1, vlen - slen - 1, &rl->rlim_max) < 0)) {
		snprintf(why, whylen,
			 "bad value for `%s`: a number or `unlimited`, "
			 "SOFT[:HARD]",
			 names[i].name);
		return -1;
	}
	if (!colon)
		rl->rlim_max = rl->rlim_cur;
	if (rl->rlim_cur > rl->rlim_max) {
		snprintf(why, whylen,
			 "`%s`: the soft limit exceeds the hard one",
			 names[i].name);
		return -1;
	}
	*resource = names[i].resource;
	return 0;
}
