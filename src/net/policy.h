/* SPDX-License-Identifier: Apache-2.0 */
/* The egress policy of a sandbox: presets, groups, ordered allow/deny
 * rules, blocked domains. Pure: no I/O, no allocation when checking. */
#ifndef MSB_NET_POLICY_H
#define MSB_NET_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/addr.h"

/*
 * DOC: Rules
 *
 * A rule is "allow RULE" or "deny RULE" (CLI: --allow RULE, --deny RULE):
 *
 *   RULE   := TARGET [":" FIELD [":" FIELD]]
 *   FIELD  := PROTO | PORTS          (either order, each at most once)
 *   PROTO  := "tcp" | "udp" | "icmp" | "any"
 *   PORTS  := N | N "-" M            (1..65535, N <= M, tcp and udp only)
 *   TARGET := "*" | IPv4 ["/" LEN] | "[" IPv6 ["/" LEN] "]" ["/" LEN]
 *           | IPv6 ["/" LEN] (only without fields) | GROUP
 *           | "." SUFFIX | "*." SUFFIX | DOMAIN
 *
 * Keywords (allow, deny, groups, protocols) are read in any case. A
 * one-label DOMAIN needs its trailing dot ("intranet."), so that a
 * misspelt group is an error, not a rule that never matches.
 *
 * A policy is a preset, up to MSB_NET_MAX_RULES rules in order, the
 * blocked domains and suffixes, and the gateway addresses of the sandbox.
 * A destination is judged by the first rule that matches it, else by the
 * preset; see docs/network.md for the whole story, and the `host` group:
 * the gateways and loopback are only ever allowed by an allow rule whose
 * target is the `host` group.
 */

#define MSB_NET_MAX_RULES 1024    /* rules in a policy */
#define MSB_NET_MAX_BLOCKED 1024  /* blocked domains plus suffixes */
#define MSB_NET_MAX_GATEWAYS 4    /* gateway addresses */
#define MSB_NET_NAME_MAX 253      /* a domain name, without trailing dot */
#define MSB_NET_LABEL_MAX 63      /* one label of it */
#define MSB_NET_RULE_TEXT_MAX 512 /* a rule line, as given */
/* Room for any canonical line (msb_net_rule_format() and friends). */
#define MSB_NET_LINE_MAX 320

enum msb_net_preset {
	MSB_NET_PRESET_PUBLIC = 0, /* allow what is not special-purpose */
	MSB_NET_PRESET_ALL,        /* allow everything but `host` */
	MSB_NET_PRESET_NONE,       /* no network device at all */
};

enum msb_net_proto {
	MSB_NET_PROTO_ANY = 0, /* in rules only */
	MSB_NET_PROTO_TCP,
	MSB_NET_PROTO_UDP,
	MSB_NET_PROTO_ICMP, /* ICMP and ICMPv6 */
};

enum msb_net_group {
	MSB_NET_GROUP_PUBLIC = 0,
	MSB_NET_GROUP_PRIVATE,
	MSB_NET_GROUP_LOOPBACK,
	MSB_NET_GROUP_LINK_LOCAL,
	MSB_NET_GROUP_METADATA,
	MSB_NET_GROUP_MULTICAST,
	MSB_NET_GROUP_HOST,
};

enum msb_net_target {
	MSB_NET_TARGET_ANY = 0, /* "*" */
	MSB_NET_TARGET_CIDR,
	MSB_NET_TARGET_GROUP,
	MSB_NET_TARGET_DOMAIN, /* the name itself only */
	MSB_NET_TARGET_SUFFIX, /* names under it, not the name itself */
};

/* One parsed rule. Zeroed before it is filled, so two rules that mean the
 * same compare equal with memcmp(). */
struct msb_net_rule {
	bool allow;
	uint8_t target; /* enum msb_net_target */
	uint8_t group;  /* enum msb_net_group, for MSB_NET_TARGET_GROUP */
	uint8_t proto;  /* enum msb_net_proto */
	uint16_t port_lo, port_hi; /* 0, 0: every port */
	struct msb_net_cidr cidr;  /* for MSB_NET_TARGET_CIDR */
	/* domain or suffix (without the leading "." or "*."), lowercase,
	   without trailing dot */
	char name[MSB_NET_NAME_MAX + 1];
};

/*
 * msb_net_rule_parse() - parse "allow RULE" or "deny RULE" (@allow_deny
 * true), or a bare RULE (@allow_deny false; @out->allow is then false and
 * the caller sets it).
 * On failure a one-line reason that quotes the rule is written to @err
 * (@errlen bytes; may be NULL), e.g. "invalid rule `deny 10.0.0`:
 * `10.0.0` is not an IPv4 address (four numbers 0-255, no leading
 * zeros)".
 * Return: 0, or -1 (*@out is then zeroed).
 */
int msb_net_rule_parse(struct msb_net_rule *out, const char *s, bool allow_deny,
		       char *err, size_t errlen);

/*
 * msb_net_rule_format() - the canonical text of @r in @out (@cap bytes,
 * MSB_NET_LINE_MAX is always enough): "allow api.example.com:tcp:443",
 * "deny [2001:db8::]/32", "allow .github.com". It parses back to @r.
 * Return: @out.
 */
char *msb_net_rule_format(char *out, size_t cap, const struct msb_net_rule *r);

/* The preset named @s ("public", "all", "none"). Return: 0, or -1. */
int msb_net_preset_parse(enum msb_net_preset *out, const char *s);
/* The name of @p; static. */
const char *msb_net_preset_name(enum msb_net_preset p);

struct msb_net_policy;

/* msb_net_policy_new() - an empty policy with preset `public`, owned by
 * the caller (msb_net_policy_free()). Return: NULL if out of memory. */
struct msb_net_policy *msb_net_policy_new(void);

/* msb_net_policy_free() - free @p (NULL is fine). */
void msb_net_policy_free(struct msb_net_policy *p);

void msb_net_policy_set_preset(struct msb_net_policy *p,
			       enum msb_net_preset preset);
enum msb_net_preset msb_net_policy_preset(const struct msb_net_policy *p);

/*
 * msb_net_policy_add_rule() - append "allow RULE" / "deny RULE" (@s) to
 * the ordered rules. On failure (bad rule, MSB_NET_MAX_RULES reached, out
 * of memory) a one-line reason is written to @err.
 * Return: 0, or -1.
 */
int msb_net_policy_add_rule(struct msb_net_policy *p, const char *s, char *err,
			    size_t errlen);

/*
 * msb_net_policy_block_domain() - block the name @name (and only it):
 * netd answers NXDOMAIN for it, and its pins are denied.
 * msb_net_policy_block_suffix() - block every name under @suffix
 * (".example.com" or "example.com"; "*.example.com" too), not the suffix
 * itself. A duplicate is ignored. On failure a one-line reason is written
 * to @err. Return: 0, or -1.
 */
int msb_net_policy_block_domain(struct msb_net_policy *p, const char *name,
				char *err, size_t errlen);
int msb_net_policy_block_suffix(struct msb_net_policy *p, const char *suffix,
				char *err, size_t errlen);

/*
 * msb_net_policy_add_gateway() - @a is an address of the host as the
 * sandbox sees it (the `host` group). A duplicate is ignored.
 * Return: 0, or -1 if @a is not an address or MSB_NET_MAX_GATEWAYS are
 * set.
 */
int msb_net_policy_add_gateway(struct msb_net_policy *p,
			       const struct msb_net_addr *a);

/* The rules of @p, in order: @p owns them; valid until @p changes. */
size_t msb_net_policy_rule_count(const struct msb_net_policy *p);
const struct msb_net_rule *msb_net_policy_rule(const struct msb_net_policy *p,
					       size_t i);

/*
 * msb_net_policy_add_line() - apply one canonical line (what
 * msb_net_policy_lines() writes): "preset PRESET", "allow RULE",
 * "deny RULE", "block-domain NAME", "block-domain-suffix .SUFFIX",
 * "gateway ADDRESS". On failure a one-line reason is written to @err.
 * Return: 0, or -1.
 */
int msb_net_policy_add_line(struct msb_net_policy *p, const char *line,
			    char *err, size_t errlen);

/*
 * msb_net_policy_lines() - the canonical text of @p, one line per item:
 * "preset P" first, then the rules in order, the blocked domains, the
 * blocked suffixes and the gateways. Applying them in order with
 * msb_net_policy_add_line() to a new policy gives the same policy (and
 * the same lines).
 * Return: a NULL-terminated array of malloc'd strings that the caller
 * frees (each string and the array), or NULL if out of memory.
 */
char **msb_net_policy_lines(const struct msb_net_policy *p);

/*
 * msb_net_policy_from_lines() - a new policy from @n canonical lines
 * (msb_net_policy_add_line() each, onto a new policy).
 * Return: the policy (caller frees), or NULL with a reason in @err.
 */
struct msb_net_policy *msb_net_policy_from_lines(const char *const *lines,
						 size_t n, char *err,
						 size_t errlen);

/* What decided a verdict. */
enum msb_net_by {
	MSB_NET_BY_RULE = 0, /* a rule (@rule) */
	MSB_NET_BY_BLOCKED,  /* a blocked domain or suffix (@name) */
	MSB_NET_BY_PRESET,   /* the preset: nothing matched */
	MSB_NET_BY_HOST,     /* the host, with no host rule that matched */
	MSB_NET_BY_INVALID,  /* not an IPv4 or IPv6 address */
};

/*
 * struct msb_net_verdict - what msb_net_policy_check() decided, and why
 * @allow:  the decision
 * @by:     enum msb_net_by
 * @rule:   index of the rule that decided (from 0), or -1
 * @name:   the pinned name that matched a domain rule or a blocked
 *          domain (one of the names given), or NULL
 * @reason: why, for the log; static or owned by the policy, valid while
 *          the policy is unchanged: the rule's canonical text ("deny
 *          10.0.0.0/8"), "blocked domain", "blocked domain suffix", the
 *          special-purpose range ("private range 10.0.0.0/8 (RFC 1918)")
 *          or "public address" under `public`, "allowed"/"denied" under
 *          `all`/`none`, "host: allowed only by an allow rule for the
 *          host group", "not an IP address"
 */
struct msb_net_verdict {
	bool allow;
	uint8_t by;
	int rule;
	const char *name;
	const char *reason;
};

/*
 * msb_net_policy_check() - may the sandbox reach @addr?
 * @out:    out: the verdict (may be NULL)
 * @p:      the policy
 * @addr:   the destination (as the guest sent it; IPv4-mapped, -compatible,
 *          NAT64 and 6to4 forms are unwrapped here)
 * @proto:  MSB_NET_PROTO_TCP, _UDP or _ICMP
 * @port:   destination port (ignored for ICMP)
 * @names:  the names this sandbox resolved to @addr (its pins), lowercase;
 *          domain rules match only through them
 * @nnames: how many
 *
 * First match wins: blocked domains among @names deny first, then the
 * rules in order, then the preset. Bounded by the rules and names; no
 * allocation.
 * Return: true to allow.
 */
bool msb_net_policy_check(struct msb_net_verdict *out,
			  const struct msb_net_policy *p,
			  const struct msb_net_addr *addr,
			  enum msb_net_proto proto, uint16_t port,
			  const char *const *names, size_t nnames);

/*
 * msb_net_verdict_format() - @v of policy @p as one line for the log in
 * @out (@cap bytes): "rule 3 `deny 10.0.0.0/8`" (rules count from 1, in
 * the order given), "rule 1 `allow .github.com` (api.github.com)",
 * "blocked domain evil.example", "preset public: private range
 * 10.0.0.0/8 (RFC 1918)", "preset all: allowed". Names are escaped.
 * Return: @out.
 */
char *msb_net_verdict_format(char *out, size_t cap,
			     const struct msb_net_verdict *v,
			     const struct msb_net_policy *p);

/*
 * msb_net_policy_may_connect() - may some connection to @addr be allowed
 * (on some protocol and port)? The rules are read as in
 * msb_net_policy_check(), except that a rule limited to a protocol or
 * ports counts as allowing if it allows and is skipped if it denies. For
 * the DNS answer filter: an address the policy can never reach is not
 * handed to the guest (rebinding protection under `public`).
 */
bool msb_net_policy_may_connect(const struct msb_net_policy *p,
				const struct msb_net_addr *addr,
				const char *const *names, size_t nnames);

/*
 * msb_net_policy_may_resolve() - may netd answer a DNS query for @name?
 * Not if the name is blocked or not a valid name. Otherwise the rules are
 * read in order: a domain or suffix rule that matches @name decides
 * (allow: yes; deny without protocol or ports: no); an allow rule with an
 * address or group target other than `host`/`loopback` (the sandbox can
 * send data to some IP anyway) says yes; a `deny *` without protocol or
 * ports says no (and so does `deny public` under preset `public`: nothing
 * is left). Past the rules: yes, unless the preset is `none`.
 * So a deny-all sandbox cannot leak data through lookups.
 */
bool msb_net_policy_may_resolve(const struct msb_net_policy *p,
				const char *name);

/* msb_net_policy_name_blocked() - @name (any case, trailing dot or not) is
 * a blocked domain or under a blocked suffix. */
bool msb_net_policy_name_blocked(const struct msb_net_policy *p,
				 const char *name);

/*
 * msb_net_group_parse() - the group named @s. Return: 0, or -1.
 * msb_net_group_name() - the name of @g; static.
 */
int msb_net_group_parse(enum msb_net_group *out, const char *s);
const char *msb_net_group_name(enum msb_net_group g);

/*
 * msb_net_addr_in_group() - @addr (unwrapped first) is in group @g; for
 * MSB_NET_GROUP_HOST only loopback counts here (gateways are the
 * policy's).
 */
bool msb_net_addr_in_group(const struct msb_net_addr *addr,
			   enum msb_net_group g);

/*
 * msb_net_addr_special() - the special-purpose range @addr (unwrapped
 * first) is in, as "private range 10.0.0.0/8 (RFC 1918)", or NULL if it
 * is public. Static.
 */
const char *msb_net_addr_special(const struct msb_net_addr *addr);

/* The special-purpose ranges, for tests and docs: entry @i (NULL past the
 * end) with its description. */
const struct msb_net_cidr *msb_net_special_range(size_t i, const char **desc);

#endif
