// SPDX-License-Identifier: Apache-2.0
/* User specs against the guest's /etc/passwd and /etc/group (user.h). */
#include "user.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parse a decimal id (no sign, fits 32 bits, not (uid_t)-1). */
static bool parse_id(const char *s, size_t n, unsigned long *out)
{
	unsigned long v = 0;

	if (n == 0 || n > 10)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v >= 0xffffffffUL)
		return false;
	*out = v;
	return true;
}

/*
 * Split line [p, end) at ':' into at most @max fields. Return the count.
 */
static size_t fields(const char *p, const char *end, const char **f, size_t *fl,
		     size_t max)
{
	size_t n = 0;

	while (n < max) {
		const char *c = memchr(p, ':', (size_t)(end - p));
		f[n] = p;
		fl[n] = (size_t)((c ? c : end) - p);
		n++;
		if (!c)
			break;
		p = c + 1;
	}
	return n;
}

/* Iterate the lines of a file image: calls @fn until it returns true. */
static bool each_line(const char *buf, size_t len,
		      bool (*fn)(const char **f, size_t *fl, size_t n,
				 void *ud),
		      size_t nfields, void *ud)
{
	const char *p = buf, *end = buf + len;
	const char *f[8];
	size_t fl[8];

	while (buf && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		if (le > p && *p != '#') {
			size_t n = fields(p, le, f, fl, nfields);
			if (n == nfields && fn(f, fl, n, ud))
				return true;
		}
		p = le + 1;
	}
	return false;
}

struct pw_find {
	const char *name; /* by name, or */
	unsigned long id; /* by id when name is NULL */
	unsigned long uid, gid;
	char uname[64];
	char home[256];
};

static bool pw_match(const char **f, size_t *fl, size_t n, void *ud)
{
	struct pw_find *q = ud;
	unsigned long uid, gid;

	if (!parse_id(f[2], fl[2], &uid) || !parse_id(f[3], fl[3], &gid))
		return false;
	if (q->name ? (strlen(q->name) != fl[0] || memcmp(q->name, f[0], fl[0]))
		    : uid != q->id)
		return false;
	q->uid = uid;
	q->gid = gid;
	snprintf(q->uname, sizeof(q->uname), "%.*s", (int)fl[0], f[0]);
	snprintf(q->home, sizeof(q->home), "%.*s", (int)fl[5], f[5]);
	return true;
}

struct gr_find {
	const char *name;
	unsigned long gid;
};

static bool gr_match(const char **f, size_t *fl, size_t n, void *ud)
{
	struct gr_find *q = ud;
	unsigned long gid;

	if (strlen(q->name) != fl[0] || memcmp(q->name, f[0], fl[0]) ||
	    !parse_id(f[2], fl[2], &gid))
		return false;
	q->gid = gid;
	return true;
}

struct gr_members {
	const char *user;
	struct user_ids *ids;
};

/* Add groups that list the user as a member. */
static bool gr_member(const char **f, size_t *fl, size_t n, void *ud)
{
	struct gr_members *q = ud;
	unsigned long gid;
	size_t ul = strlen(q->user);

	if (!parse_id(f[2], fl[2], &gid))
		return false;
	const char *p = f[3], *end = f[3] + fl[3];
	while (p < end) {
		const char *c = memchr(p, ',', (size_t)(end - p));
		const char *me = c ? c : end;
		if ((size_t)(me - p) == ul && !memcmp(p, q->user, ul)) {
			bool dup = false;
			for (size_t i = 0; i < q->ids->ngroups; i++)
				dup |= q->ids->groups[i] == (gid_t)gid;
			if (!dup && q->ids->ngroups < USER_MAX_GROUPS)
				q->ids->groups[q->ids->ngroups++] = (gid_t)gid;
			break;
		}
		p = me + 1;
	}
	return q->ids->ngroups >= USER_MAX_GROUPS;
}

int user_resolve(struct user_ids *out, const char *spec, const char *passwd,
		 size_t passwd_len, const char *group, size_t group_len,
		 char *why, size_t whylen)
{
	char user[64], grp[64];
	const char *colon = strchr(spec, ':');
	size_t ul = colon ? (size_t)(colon - spec) : strlen(spec);
	unsigned long id;

	memset(out, 0, sizeof(*out));
	if (ul == 0 || ul >= sizeof(user) ||
	    (colon && (!colon[1] || strlen(colon + 1) >= sizeof(grp)))) {
		snprintf(why, whylen, "invalid user `%s`", spec);
		return -1;
	}
	memcpy(user, spec, ul);
	user[ul] = '\0';
	snprintf(grp, sizeof(grp), "%s", colon ? colon + 1 : "");

	struct pw_find pw = {0};
	if (parse_id(user, ul, &id)) {
		pw.id = id;
		if (!each_line(passwd, passwd_len, pw_match, 7, &pw)) {
			pw.uid = id;
			pw.gid = 0;
		}
	} else {
		pw.name = user;
		if (!each_line(passwd, passwd_len, pw_match, 7, &pw)) {
			snprintf(why, whylen, "unknown user `%s`", user);
			return -1;
		}
	}
	out->uid = (uid_t)pw.uid;
	out->gid = (gid_t)pw.gid;
	snprintf(out->home, sizeof(out->home), "%s", pw.home);

	if (grp[0]) {
		if (parse_id(grp, strlen(grp), &id)) {
			out->gid = (gid_t)id;
		} else {
			struct gr_find g = {.name = grp};
			if (!each_line(group, group_len, gr_match, 4, &g)) {
				snprintf(why, whylen, "unknown group `%s`",
					 grp);
				return -1;
			}
			out->gid = (gid_t)g.gid;
		}
	}
	out->groups[out->ngroups++] = out->gid;
	/* Supplementary groups of a named user (not with an explicit group,
	 * as Docker does). */
	if (!grp[0] && pw.uname[0]) {
		struct gr_members m = {.user = pw.uname, .ids = out};
		each_line(group, group_len, gr_member, 4, &m);
	}
	return 0;
}
