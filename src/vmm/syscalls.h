/* SPDX-License-Identifier: Apache-2.0 */
/* System call filters of msb's own host processes (libseccomp). */
#ifndef MSB_VMM_SYSCALLS_H
#define MSB_VMM_SYSCALLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * msb_seccomp_supervisor() - install msb-vmm's allow-list (syscalls.c) on
 * the calling thread, for its steady state: relaying frames, QMP, its
 * state database and logs, killing @qemu and reaping its children. It
 * can no longer fork or exec, nor signal any other process, afterwards.
 *
 * A call outside the list writes one line to stderr (vmm.log) naming the
 * system call number, then exits the process (its children die with it:
 * PR_SET_PDEATHSIG). With MSB_SECCOMP=log in the environment the call fails
 * with ENOSYS instead, after the same line (development).
 * Return: 0, or -1 with errno set (no filter installed).
 */
int msb_seccomp_supervisor(pid_t qemu);

/*
 * msb_seccomp_install() - the same for any helper (msb-netd), with its
 * own allow-list of system call numbers (SCMP_SYS(name); negative entries,
 * calls this architecture lacks, are skipped), kept beside the code it
 * serves. Install it after the helper's setup, like the supervisor.
 * @name: the program, first word of the line a trapped call writes
 * (a string that lives as long as the process; at most 64 bytes used)
 * Return: 0, or -1 with errno set (no filter installed).
 */
int msb_seccomp_install(const char *name, const int *allowed, size_t n);

/* msb_seccomp_available() - whether seccomp filters work here. */
bool msb_seccomp_available(void);

#endif
