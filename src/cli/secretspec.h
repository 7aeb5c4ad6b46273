/* SPDX-License-Identifier: Apache-2.0 */
/* The value of --secret (docs/cli.md, docs/network.md "Secrets"). */
#ifndef MSB_CLI_SECRETSPEC_H
#define MSB_CLI_SECRETSPEC_H

#include <stdbool.h>
#include <stddef.h>

#define CLI_SECRET_HOSTS_MAX 64

struct cli_secret {
	char *name;
	char *value;   /* NULL when @from_env */
	bool from_env; /* NAME@HOST: the value is the caller's $NAME */
	char **hosts;  /* NULL-terminated, at least one */
};

/*
 * cli_secret_parse() - NAME=VALUE@HOST[,HOST...] or NAME@HOST[,HOST...]
 * into @out (malloc'd: cli_secret_clear()). VALUE runs to the last '@',
 * so it may hold '@' and '='. The hosts are checked for their characters
 * only (the library checks them in full).
 * Return: 0, or -1 with a reason in @why that never quotes the value.
 */
int cli_secret_parse(struct cli_secret *out, const char *arg, char *why,
		     size_t whylen);

/* cli_secret_clear() - free @s's fields (the value wiped first). */
void cli_secret_clear(struct cli_secret *s);

#endif
