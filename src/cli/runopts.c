// SPDX-License-Identifier: Apache-2.0
/* Option values of msb run and friends: durations ("90", "2m", "1h30m"),
 * environment variables from the host and from files, the network. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/secretspec.h"
#include "net/policy.h"
#include "util/util.h"

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

/* "allow RULE" / "deny RULE" for --allow/--deny (lives until msb exits). */
static int net_rule(struct cli_net *n, const struct cli_args *a, int c)
{
	char err[512];
	struct msb_net_rule r;
	char *line;

	if (n->nrules == CLI_MAX_NET)
		return cli_usage_error(a,
				       "too many --allow/--deny options "
				       "(at most %d)",
				       CLI_MAX_NET),
		       -1;
	if (asprintf(&line, "%s %s", c == CLI_NET_ALLOW ? "allow" : "deny",
		     a->optarg) < 0) {
		cli_err("out of memory");
		return -1;
	}
	if (msb_net_rule_parse(&r, line, true, err, sizeof(err)) < 0) {
		cli_usage_error(a, "%s", err);
		free(line);
		return -1;
	}
	n->rules[n->nrules++] = line;
	return 0;
}

/* A blocked name or suffix, checked as the policy engine takes it. */
static int net_block(struct cli_net *n, const struct cli_args *a, int c)
{
	char err[512];
	struct msb_net_policy *p = msb_net_policy_new();
	int rc;
	size_t *count =
		c == CLI_NET_BLOCK_DOMAIN ? &n->ndomains : &n->nsuffixes;

	if (!p) {
		cli_err("out of memory");
		return -1;
	}
	rc = c == CLI_NET_BLOCK_DOMAIN
		     ? msb_net_policy_block_domain(p, a->optarg, err,
						   sizeof(err))
		     : msb_net_policy_block_suffix(p, a->optarg, err,
						   sizeof(err));
	msb_net_policy_free(p);
	if (rc < 0)
		return cli_usage_error(a, "%s", err), -1;
	if (*count == CLI_MAX_NET)
		return cli_usage_error(a,
				       "too many --block-domain options (at "
				       "most %d)",
				       CLI_MAX_NET),
		       -1;
	if (c == CLI_NET_BLOCK_DOMAIN)
		n->domains[(*count)++] = a->optarg;
	else
		n->suffixes[(*count)++] = a->optarg;
	return 0;
}

/* A port number 1-65535 of exactly @len bytes at @s. */
static bool port_number(const char *s, size_t len, unsigned int *out)
{
	unsigned int v = 0;

	if (!len || len > 5)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned int)(s[i] - '0');
	}
	*out = v;
	return v >= 1 && v <= 65535;
}

/* -p [HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp]; an IPv6 HOSTIP in brackets.
 * @arg is cut in place (argv's). */
static int parse_port(msb_port *p, const struct cli_args *a, char *arg)
{
	static const char want[] =
		"expected [HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp], ports 1-65535";
	const char *text = a->optarg;
	char *slash = strrchr(arg, '/');
	struct msb_net_addr addr;

	*p = (msb_port){.protocol = MSB_PORT_TCP};
	if (slash) {
		if (!strcmp(slash, "/udp"))
			p->protocol = MSB_PORT_UDP;
		else if (strcmp(slash, "/tcp"))
			goto bad;
		*slash = '\0';
	}
	char *last = strrchr(arg, ':');
	if (!last || !port_number(last + 1, strlen(last + 1), &p->guest_port))
		goto bad;
	*last = '\0';
	char *mid = strrchr(arg, ':');
	const char *hport = mid ? mid + 1 : arg;
	if (!port_number(hport, strlen(hport), &p->host_port))
		goto bad;
	if (mid) {
		*mid = '\0';
		size_t n = strlen(arg);
		if (n > 2 && arg[0] == '[' && arg[n - 1] == ']') {
			arg[n - 1] = '\0';
			arg++;
			if (msb_net_addr_parse(&addr, arg) < 0 ||
			    addr.family != 6)
				goto bad_ip;
		} else if (msb_net_addr_parse(&addr, arg) < 0 ||
			   addr.family != 4) {
			goto bad_ip;
		}
		p->host_ip = arg;
	}
	return 0;
bad_ip:
	cli_usage_error(a,
			"invalid -p `%s`: `%s` is not an IP address (an IPv6 "
			"one in brackets)",
			text, arg);
	return -1;
bad:
	cli_usage_error(a, "invalid -p `%s`: %s", text, want);
	return -1;
}

/* -Dnet=false: every network option but --network none is refused. */
static int no_network(const struct cli_args *a, int c)
{
	static const struct {
		int c;
		const char *name;
	} names[] = {{CLI_NET_NETWORK, "--network"},
		     {CLI_NET_ALLOW, "--allow"},
		     {CLI_NET_DENY, "--deny"},
		     {CLI_NET_BLOCK_DOMAIN, "--block-domain"},
		     {CLI_NET_BLOCK_SUFFIX, "--block-domain-suffix"},
		     {CLI_NET_PUBLISH, "-p"},
		     {CLI_NET_SECRET, "--secret"},
		     {CLI_NET_SECRET_BODY, "--secret-body"},
		     {CLI_NET_TLS_INTERCEPT, "--tls-intercept"},
		     {CLI_NET_TLS_PORT, "--tls-port"},
		     {CLI_NET_TLS_BYPASS, "--tls-bypass"},
		     {CLI_NET_TLS_CA, "--tls-ca"}};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].c == c) {
			if (c == CLI_NET_NETWORK && !strcmp(a->optarg, "none"))
				return 0;
			/* never a --secret's text: it may hold the value */
			cli_usage_error(a,
					"%s: this build has no network "
					"(built with -Dnet=false)",
					names[i].name);
			return -1;
		}
	return 0;
}

/* --secret NAME=VALUE@HOST[,...] or NAME@HOST[,...] (the value then
 * from msb's environment). Errors name the secret, never the value. */
static int tls_secret(struct cli_net *n, msb_sandbox_options *o,
		      const struct cli_args *a)
{
	struct cli_secret s;
	char why[160];

	if (cli_secret_parse(&s, a->optarg, why, sizeof(why)) < 0) {
		char name[80];
		size_t nl = strcspn(a->optarg, "=@");
		msb_escape(name, sizeof(name), a->optarg, nl > 64 ? 64 : nl);
		return cli_usage_error(a, "invalid --secret `%s...`: %s", name,
				       why),
		       -1;
	}
	if (s.from_env) {
		const char *v = getenv(s.name);
		if (!v || !*v) {
			cli_usage_error(a,
					"--secret %s@...: the environment "
					"variable %s is %s",
					s.name, s.name,
					v ? "empty" : "not set");
			cli_secret_clear(&s);
			return -1;
		}
		s.value = (char *)v;
	}
	for (size_t i = 0; i < o->n_secrets; i++)
		if (!strcmp(n->secrets[i].name, s.name)) {
			cli_usage_error(a, "--secret %s given twice", s.name);
			return -1;
		}
	if (o->n_secrets == CLI_MAX_SECRETS)
		return cli_usage_error(a,
				       "too many --secret options (at most %d)",
				       CLI_MAX_SECRETS),
		       -1;
	/* kept until msb exits (the strings are never freed) */
	n->secrets[o->n_secrets++] = (msb_secret_spec){
		.name = s.name,
		.value = s.value,
		.hosts = (const char *const *)s.hosts,
	};
	o->secrets = n->secrets;
	return 1;
}

int cli_net_option(struct cli_net *n, msb_sandbox_options *o,
		   const struct cli_args *a, int c)
{
	if (!MSB_HAVE_NET && no_network(a, c) < 0)
		return -1;
	switch (c) {
	case CLI_NET_NETWORK:
		if (!strcmp(a->optarg, "public"))
			o->network = MSB_NETWORK_PUBLIC;
		else if (!strcmp(a->optarg, "all"))
			o->network = MSB_NETWORK_ALL;
		else if (!strcmp(a->optarg, "none"))
			o->network = MSB_NETWORK_NONE;
		else
			return cli_usage_error(a,
					       "invalid --network `%s`: use "
					       "public, all or none",
					       a->optarg),
			       -1;
		return 1;
	case CLI_NET_ALLOW:
	case CLI_NET_DENY:
		if (net_rule(n, a, c) < 0)
			return -1;
		o->net_rules = n->rules;
		return 1;
	case CLI_NET_BLOCK_DOMAIN:
	case CLI_NET_BLOCK_SUFFIX:
		if (net_block(n, a, c) < 0)
			return -1;
		o->block_domains = n->ndomains ? n->domains : NULL;
		o->block_suffixes = n->nsuffixes ? n->suffixes : NULL;
		return 1;
	case CLI_NET_PUBLISH: {
		/* the text is cut in place: a copy keeps argv for messages */
		char *copy = strdup(a->optarg);
		if (!copy) {
			cli_err("out of memory");
			return -1;
		}
		if (o->n_ports == CLI_MAX_PORTS)
			return cli_usage_error(a,
					       "too many -p options (at most "
					       "%d)",
					       CLI_MAX_PORTS),
			       -1;
		if (parse_port(&n->ports[o->n_ports], a, copy) < 0)
			return -1;
		o->ports = n->ports;
		o->n_ports++;
		return 1;
	}
	case CLI_NET_SECRET:
		return tls_secret(n, o, a);
	case CLI_NET_SECRET_BODY:
		if (n->nsecret_body == CLI_MAX_SECRETS)
			return cli_usage_error(a,
					       "too many --secret-body options "
					       "(at most %d)",
					       CLI_MAX_SECRETS),
			       -1;
		n->secret_body[n->nsecret_body++] = a->optarg;
		return 1;
	case CLI_NET_TLS_INTERCEPT:
		o->tls_intercept = 1;
		return 1;
	case CLI_NET_TLS_PORT: {
		unsigned int port;
		if (!port_number(a->optarg, strlen(a->optarg), &port))
			return cli_usage_error(a,
					       "invalid --tls-port `%s`: a "
					       "port 1-65535",
					       a->optarg),
			       -1;
		if (o->n_tls_ports == CLI_MAX_TLS_PORTS)
			return cli_usage_error(a,
					       "too many --tls-port options "
					       "(at most %d)",
					       CLI_MAX_TLS_PORTS),
			       -1;
		n->tls_ports[o->n_tls_ports++] = port;
		o->tls_ports = n->tls_ports;
		return 1;
	}
	case CLI_NET_TLS_BYPASS:
		if (n->ntls_bypass == CLI_MAX_TLS_BYPASS)
			return cli_usage_error(a,
					       "too many --tls-bypass options "
					       "(at most %d)",
					       CLI_MAX_TLS_BYPASS),
			       -1;
		n->tls_bypass[n->ntls_bypass++] = a->optarg;
		o->tls_bypass = n->tls_bypass;
		return 1;
	case CLI_NET_TLS_CA:
		if (access(a->optarg, R_OK) < 0)
			return cli_usage_error(a,
					       "cannot read --tls-ca `%s`: %s",
					       a->optarg, strerror(errno)),
			       -1;
		o->tls_ca = a->optarg;
		return 1;
	}
	return 0;
}

int cli_net_check(struct cli_net *n, const msb_sandbox_options *o,
		  const struct cli_args *a)
{
	/* --secret-body NAME marks --secret NAME, given before or after */
	for (size_t i = 0; i < n->nsecret_body; i++) {
		size_t j = 0;
		while (j < o->n_secrets &&
		       strcmp(n->secrets[j].name, n->secret_body[i]))
			j++;
		if (j == o->n_secrets)
			return cli_usage_error(a,
					       "--secret-body %s: no --secret "
					       "%s",
					       n->secret_body[i],
					       n->secret_body[i]),
			       -1;
		n->secrets[j].body = 1;
	}
	if (!o->n_secrets && !o->tls_intercept &&
	    (o->n_tls_ports || o->tls_bypass || o->tls_ca))
		return cli_usage_error(a,
				       "%s needs --tls-intercept or a --secret",
				       o->n_tls_ports  ? "--tls-port"
				       : o->tls_bypass ? "--tls-bypass"
						       : "--tls-ca"),
		       -1;
	if (o->network != MSB_NETWORK_NONE)
		return 0;
	const char *what = o->net_rules        ? "--allow/--deny"
			   : o->block_domains  ? "--block-domain"
			   : o->block_suffixes ? "--block-domain-suffix"
			   : o->n_ports        ? "-p"
			   : o->n_secrets      ? "--secret"
			   : o->tls_intercept || o->n_tls_ports ||
					   o->tls_bypass || o->tls_ca
				   ? "--tls-*"
				   : NULL;
	if (!what)
		return 0;
	cli_usage_error(a, "%s needs a network: not with --network none", what);
	return -1;
}
