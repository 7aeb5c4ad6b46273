// SPDX-License-Identifier: Apache-2.0
/* Option values of msb run and friends: durations ("90", "2m", "1h30m"),
 * environment variables from the host and from files. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

bool cli_parse_duration(const char *s, unsigned int *out)
{
	uint64_t total = 0;

	if (!s || !*s)
		return false;
	while (*s) {
		uint64_t v = 0;
		const char *start = s;
		while (*s >= '0' && *s <= '9') {
			v = v * 10 + (uint64_t)(*s++ - '0');
			if (v > 0xffffffffULL)
				return false;
		}
		if (s == start)
			return false;
		unsigned int mult = 1;
		switch (*s) {
		case 'h':
			mult = 3600;
			s++;
			break;
		case 'm':
			mult = 60;
			s++;
			break;
		case 's':
			s++;
			break;
		case '\0':
			/* a bare number is seconds, only alone or last */
			break;
		default:
			return false;
		}
		total += v * mult;
		if (total > 0xffffffffULL)
			return false;
	}
	*out = (unsigned int)total;
	return true;
}

int cli_env_add(struct cli_exec *x, const struct cli_args *a, const char *arg)
{
	const char *eq = strchr(arg, '=');

	if (arg[0] == '=' || !arg[0]) {
		cli_usage_error(a,
				"invalid --env `%s`: expected KEY=VALUE or KEY",
				arg);
		return -1;
	}
	if (!eq) {
		/* docker run -e VAR: the host's value, if it has one */
		const char *v = getenv(arg);
		if (!v)
			return 0;
		char *kv;
		if (asprintf(&kv, "%s=%s", arg, v) < 0) {
			cli_err("out of memory");
			return -1;
		}
		arg = kv; /* lives until msb exits */
	}
	if (x->nenv == CLI_MAX_ENV) {
		cli_usage_error(a, "too many --env options (at most %d)",
				CLI_MAX_ENV);
		return -1;
	}
	x->env[x->nenv++] = arg;
	return 0;
}

int cli_env_file(struct cli_exec *x, const struct cli_args *a, const char *path)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t n;
	int rc = 0;

	if (!f) {
		cli_usage_error(a, "cannot read --env-file `%s`: %s", path,
				strerror(errno));
		return -1;
	}
	while (rc == 0 && (n = getline(&line, &cap, f)) >= 0) {
		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		const char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '#')
			continue;
		if (*p == '=') {
			cli_usage_error(a,
					"--env-file `%s` line %zu: expected "
					"KEY=VALUE or KEY",
					path, lineno);
			rc = -1;
			break;
		}
		char *kv = strdup(p); /* lives until msb exits */
		if (!kv) {
			cli_err("out of memory");
			rc = -1;
			break;
		}
		rc = cli_env_add(x, a, kv);
	}
	free(line);
	fclose(f);
	return rc;
}

int cli_parse_restart(msb_restart_policy *policy, unsigned int *max,
		      const struct cli_args *a, const char *s)
{
	*max = 0;
	if (!strcmp(s, "no")) {
		*policy = MSB_RESTART_NO;
		return 0;
	}
	if (!strcmp(s, "always") || !strcmp(s, "unless-stopped")) {
		*policy = MSB_RESTART_ALWAYS;
		return 0;
	}
	if (!strncmp(s, "on-failure", 10) &&
	    (!s[10] || (s[10] == ':' && cli_parse_uint(s + 11, max, false) &&
			*max > 0))) {
		*policy = MSB_RESTART_ON_FAILURE;
		return 0;
	}
	cli_usage_error(
		a, "invalid --restart `%s`: use no, on-failure[:N] or always",
		s);
	return -1;
}

void cli_gen_name(char *out, size_t len)
{
	static const char *const adjectives[] = {
		"brave", "calm",  "clever", "eager",  "gentle", "happy",
		"jolly", "keen",  "lucid",  "merry",  "nimble", "proud",
		"quiet", "rapid", "sharp",  "silent", "sunny",  "tidy",
		"vivid", "witty", "bold",   "cosy",   "fancy",  "lively",
	};
	static const char *const nouns[] = {
		"otter", "falcon", "maple",  "comet",  "badger", "cedar",
		"heron", "lynx",   "nebula", "pebble", "quartz", "raven",
		"tiger", "walrus", "yak",    "zebra",  "fjord",  "gecko",
		"ibis",  "koala",  "lemur",  "marten", "newt",   "orca",
	};
	uint32_t r[2];

	/* A short random suffix, as two names of the same pair collide. */
	if (getentropy(r, sizeof(r)) < 0) {
		r[0] = (uint32_t)getpid();
		r[1] = (uint32_t)time(NULL);
	}
	snprintf(out, len, "%s_%s_%04x",
		 adjectives[r[0] % (sizeof(adjectives) / sizeof(*adjectives))],
		 nouns[(r[0] >> 16) % (sizeof(nouns) / sizeof(*nouns))],
		 r[1] & 0xffff);
}
