/* SPDX-License-Identifier: Apache-2.0 */
/* System call filters of msb's own host processes (libseccomp). */
#ifndef MSB_VMM_SYSCALLS_H
#define MSB_VMM_SYSCALLS_H

#include <stdbool.h>

/*
 * msb_seccomp_supervisor() - install msb-vmm's allow-list (syscalls.c) on
 * the calling thread, for its steady state: relaying frames, QMP, its
 * state database and logs, killing and reaping its children. It can no
 * longer fork or exec afterwards.
 *
 * A call outside the list writes one line to stderr (vmm.log) naming the
 * system call number, then exits the process (its children die with it:
 * PR_SET_PDEATHSIG). With MSB_SECCOMP=log in the environment the call fails
 * with ENOSYS instead, after the same line (development).
 * Return: 0, or -1 with errno set (no filter installed).
 */
int msb_seccomp_supervisor(void);

/* msb_seccomp_available() - whether seccomp filters work here. */
bool msb_seccomp_available(void);

#endif
