// SPDX-License-Identifier: Apache-2.0
/*
 * jail_without: run a command as if the kernel lacked some of the features
 * the jail uses, so that its fallbacks can be tested on a kernel that has
 * them all. A seccomp filter (inherited by everything the command starts)
 * makes the features' system calls fail as an older or locked-down kernel
 * would:
 *   userns      clone/unshare with CLONE_NEWUSER: EPERM
 *   seccomp     seccomp(2) and prctl(PR_SET_SECCOMP): EINVAL
 *   close_range close_range(2): ENOSYS
 *
 *   jail_without FEATURE[,FEATURE...] COMMAND [ARG...]
 */
#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: jail_without FEATURES COMMAND...\n");
		return 2;
	}
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int rc = ctx ? 0 : -ENOMEM;
	char *list = argv[1], *save = NULL;

	for (char *f = strtok_r(list, ",", &save); f && rc == 0;
	     f = strtok_r(NULL, ",", &save)) {
		if (!strcmp(f, "userns")) {
			/* glibc falls back from clone3 to clone on ENOSYS;
			 * clone3's flags are out of reach of a filter. */
			rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS),
					      SCMP_SYS(clone3), 0);
			if (rc == 0)
				rc = seccomp_rule_add(
					ctx, SCMP_ACT_ERRNO(EPERM),
					SCMP_SYS(clone), 1,
					SCMP_A0(SCMP_CMP_MASKED_EQ,
						CLONE_NEWUSER, CLONE_NEWUSER));
			if (rc == 0)
				rc = seccomp_rule_add(
					ctx, SCMP_ACT_ERRNO(EPERM),
					SCMP_SYS(unshare), 1,
					SCMP_A0(SCMP_CMP_MASKED_EQ,
						CLONE_NEWUSER, CLONE_NEWUSER));
		} else if (!strcmp(f, "seccomp")) {
			rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EINVAL),
					      SCMP_SYS(seccomp), 0);
			if (rc == 0)
				rc = seccomp_rule_add(
					ctx, SCMP_ACT_ERRNO(EINVAL),
					SCMP_SYS(prctl), 1,
					SCMP_A0(SCMP_CMP_EQ, PR_SET_SECCOMP));
		} else if (!strcmp(f, "close_range")) {
			rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS),
					      SCMP_SYS(close_range), 0);
		} else {
			fprintf(stderr, "jail_without: unknown feature %s\n",
				f);
			return 2;
		}
	}
	if (rc == 0)
		rc = seccomp_load(ctx);
	if (rc < 0) {
		fprintf(stderr, "jail_without: seccomp: %s\n", strerror(-rc));
		return 1;
	}
	seccomp_release(ctx);
	execvp(argv[2], argv + 2);
	perror(argv[2]);
	return 127;
}
