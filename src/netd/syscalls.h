/* SPDX-License-Identifier: Apache-2.0 */
/* msb-netd's system call filter (syscalls.c). */
#ifndef MSB_NETD_SYSCALLS_H
#define MSB_NETD_SYSCALLS_H

/*
 * netd_seccomp() - install msb-netd's allow-list for its steady state
 * (after its setup: see syscalls.c). A call outside it ends netd (exit
 * 125, one line on stderr), or fails with ENOSYS under MSB_SECCOMP=log.
 * Return: 0, or -1 with errno set (ENOSYS: seccomp unavailable here; no
 * filter installed).
 */
int netd_seccomp(void);

#endif
