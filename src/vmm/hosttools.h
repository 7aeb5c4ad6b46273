/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host programs sandboxes need, found in one place: the library
 * starts them from here and `msb doctor` checks the same paths.
 */
#ifndef MSB_VMM_HOSTTOOLS_H
#define MSB_VMM_HOSTTOOLS_H

/* virtiofsd, for shared host folders: Debian's, from qemu-system-common. */
#define MSB_VIRTIOFSD_PATH "/usr/lib/qemu/virtiofsd"

/*
 * msb_find_program() - @prog as the library runs it: $@envname when set
 * (NULL unless it is executable), else the first executable @prog on
 * $PATH, else /usr/bin/@prog.
 * Return: a malloc'd path, or NULL (not found, or out of memory).
 */
char *msb_find_program(const char *envname, const char *prog);

/* mkfs.ext4 (or mke2fs) from e2fsprogs, for volumes: in /usr/sbin or
 * /sbin, often not on a user's PATH. Return: a static path, or NULL. */
const char *msb_mkfs_ext4_path(void);

#endif
