/* SPDX-License-Identifier: Apache-2.0 */
/* Resolving a user spec ("name", "uid", "name:group", "uid:gid") against
 * the guest's /etc/passwd and /etc/group. */
#ifndef MSB_AGENT_USER_H
#define MSB_AGENT_USER_H

#include <stddef.h>
#include <sys/types.h>

#define USER_MAX_GROUPS 64

struct user_ids {
	uid_t uid;
	gid_t gid;
	gid_t groups[USER_MAX_GROUPS]; /* supplementary, gid first */
	size_t ngroups;
	char home[256]; /* "" if unknown */
};

/*
 * user_resolve() - resolve @spec with the contents of /etc/passwd and
 * /etc/group (either may be NULL/empty). Pure; bounded by the inputs.
 * A numeric uid without a passwd entry gets gid 0 (as Docker does); a
 * user name must exist.
 * Return: 0; -1 if the user or group does not exist or @spec is malformed
 * (@why says which, one line).
 */
int user_resolve(struct user_ids *out, const char *spec, const char *passwd,
		 size_t passwd_len, const char *group, size_t group_len,
		 char *why, size_t whylen);

#endif
