// SPDX-License-Identifier: Apache-2.0
/* The value of --secret (pure: no environment, no output). */
#include "cli/secretspec.h"

#include <stdlib.h>
#include <string.h>

#include "net/http1.h"

static void why_set(char *why, size_t len, const char *s)
{
	if (why && len) {
		strncpy(why, s, len - 1);
		why[len - 1] = '\0';
	}
}

/* A host as --secret takes it: [*.]label(.label)*, letters, digits, '-'
 * and '_' (the library checks the rest). */
static bool host_chars_ok(const char *h, size_t n)
{
	if (n >= 2 && h[0] == '*' && h[1] == '.') {
		h += 2;
		n -= 2;
	}
	if (!n || n > 253 || h[0] == '.' || h[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((h[i] >= 'a' && h[i] <= 'z') ||
		      (h[i] >= 'A' && h[i] <= 'Z') ||
		      (h[i] >= '0' && h[i] <= '9') || h[i] == '-' ||
		      h[i] == '_' || (h[i] == '.' && h[i + 1] != '.')))
			return false;
	return true;
}

void cli_secret_clear(struct cli_secret *s)
{
	free(s->name);
	if (s->value) {
		explicit_bzero(s->value, strlen(s->value));
		free(s->value);
	}
	for (size_t i = 0; s->hosts && s->hosts[i]; i++)
		free(s->hosts[i]);
	free(s->hosts);
	memset(s, 0, sizeof(*s));
}

int cli_secret_parse(struct cli_secret *out, const char *arg, char *why,
		     size_t whylen)
{
	memset(out, 0, sizeof(*out));
	size_t nl = strcspn(arg, "=@");
	const char *at = strrchr(arg, '@');

	if (!(out->name = strndup(arg, nl)))
		goto nomem;
	if (!msb_secret_name_ok(out->name)) {
		why_set(why, whylen,
			"NAME must be [A-Z_][A-Z0-9_]*, at most 64 characters");
		goto fail;
	}
	if (!at || at < arg + nl) {
		why_set(why, whylen,
			"no host: expected NAME=VALUE@HOST[,HOST...] or "
			"NAME@HOST[,HOST...]");
		goto fail;
	}
	if (arg[nl] == '=') {
		/* the value is up to the last '@': it may hold '@' and '=' */
		size_t vl = (size_t)(at - (arg + nl + 1));
		if (!vl || vl > MSB_SECRET_VALUE_MAX) {
			why_set(why, whylen,
				"the value must be 1 to 4096 bytes");
			goto fail;
		}
		if (!(out->value = strndup(arg + nl + 1, vl)))
			goto nomem;
	} else {
		out->from_env = true;
	}
	const char *h = at + 1;
	size_t nh = 1;
	for (const char *p = h; *p; p++)
		nh += *p == ',';
	if (nh > CLI_SECRET_HOSTS_MAX) {
		why_set(why, whylen, "too many hosts (at most 64)");
		goto fail;
	}
	if (!(out->hosts = calloc(nh + 1, sizeof(char *))))
		goto nomem;
	for (size_t i = 0; i < nh; i++) {
		size_t n = strcspn(h, ",");
		if (!host_chars_ok(h, n)) {
			why_set(why, whylen,
				"a host must be a DNS name, or *.suffix for "
				"the names under it");
			goto fail;
		}
		if (!(out->hosts[i] = strndup(h, n)))
			goto nomem;
		h += n + (h[n] == ',');
	}
	return 0;
nomem:
	why_set(why, whylen, "out of memory");
fail:
	cli_secret_clear(out);
	return -1;
}
