// SPDX-License-Identifier: Apache-2.0
/* The value of msb's --secret (src/cli/secretspec.c). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cli/secretspec.h"

static size_t nhosts(const struct cli_secret *s)
{
	size_t n = 0;
	while (s->hosts && s->hosts[n])
		n++;
	return n;
}

/* @arg is refused, and the reason holds neither "SEKRIT" nor "p@ss". */
static void refused(const char *arg, const char *why_has)
{
	struct cli_secret s;
	char why[160] = "";

	CHECK(cli_secret_parse(&s, arg, why, sizeof(why)) == -1);
	CHECK(strstr(why, why_has) != NULL);
	CHECK(!strstr(why, "SEKRIT") && !strstr(why, "p@ss"));
	CHECK(s.name == NULL && s.value == NULL && s.hosts == NULL);
}

int main(void)
{
	struct cli_secret s;
	char why[160];

	CHECK(cli_secret_parse(&s, "OPENAI_API_KEY=sk-1@api.openai.com", why,
			       sizeof(why)) == 0);
	CHECK_STR(s.name, "OPENAI_API_KEY");
	CHECK_STR(s.value, "sk-1");
	CHECK(!s.from_env && nhosts(&s) == 1);
	CHECK_STR(s.hosts[0], "api.openai.com");
	cli_secret_clear(&s);

	/* the value runs to the last '@': it may hold '@' and '=' */
	CHECK(cli_secret_parse(&s, "K=p@ss=w@rd@a.test,*.b.test,C.Test", why,
			       sizeof(why)) == 0);
	CHECK_STR(s.value, "p@ss=w@rd");
	CHECK(nhosts(&s) == 3);
	CHECK_STR(s.hosts[1], "*.b.test");
	CHECK_STR(s.hosts[2], "C.Test");
	cli_secret_clear(&s);

	/* NAME@HOST: the value from the environment */
	CHECK(cli_secret_parse(&s, "_TOKEN2@git.test", why, sizeof(why)) == 0);
	CHECK_STR(s.name, "_TOKEN2");
	CHECK(s.from_env && s.value == NULL && nhosts(&s) == 1);
	cli_secret_clear(&s);

	refused("lower=SEKRIT@a.test", "NAME must be");
	refused("1K=SEKRIT@a.test", "NAME must be");
	refused("=SEKRIT@a.test", "NAME must be");
	refused("K-X=SEKRIT@a.test", "NAME must be");
	refused("K=SEKRIT", "no host");
	refused("K", "no host");
	refused("K=@a.test", "1 to 4096");
	refused("K=SEKRIT@", "DNS name");
	refused("K=SEKRIT@a.test,", "DNS name");
	refused("K=SEKRIT@a..test", "DNS name");
	refused("K=SEKRIT@.a.test", "DNS name");
	refused("K=SEKRIT@a test", "DNS name");
	refused("K=p@ss@a/b", "DNS name");
	refused("K=SEKRIT@*", "DNS name");

	/* 4096 bytes of value are fine, 4097 are not */
	char *big = malloc(4200);
	memcpy(big, "K=", 2);
	memset(big + 2, 'v', 4096);
	strcpy(big + 2 + 4096, "@a.test");
	CHECK(cli_secret_parse(&s, big, why, sizeof(why)) == 0);
	CHECK(s.value && strlen(s.value) == 4096);
	cli_secret_clear(&s);
	memset(big + 2, 'v', 4097);
	strcpy(big + 2 + 4097, "@a.test");
	CHECK(cli_secret_parse(&s, big, why, sizeof(why)) == -1);
	/* 64 hosts, not 65 */
	char *hosts = malloc(65 * 8 + 16);
	strcpy(hosts, "K=v@");
	for (int i = 0; i < 64; i++)
		strcat(hosts, i ? ",h.test" : "h.test");
	CHECK(cli_secret_parse(&s, hosts, why, sizeof(why)) == 0);
	CHECK(nhosts(&s) == 64);
	cli_secret_clear(&s);
	strcat(hosts, ",h.test");
	CHECK(cli_secret_parse(&s, hosts, why, sizeof(why)) == -1);
	free(big);
	free(hosts);
	return check_summary("cli_secret");
}
