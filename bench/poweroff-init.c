// SPDX-License-Identifier: Apache-2.0
/* poweroff-init.c - a PID 1 that powers the VM off at once (boot baseline) */
#include <stdio.h>
#include <sys/reboot.h>
#include <unistd.h>

int main(void)
{
	/* Refuse to run anywhere but as a VM's init: as root on a host, the
	 * reboot() below would power the host off. */
	if (getpid() != 1) {
		fprintf(stderr, "poweroff-init: must run as PID 1 in a VM\n");
		return 1;
	}
	sync();
	reboot(RB_POWER_OFF);
	perror("poweroff-init: reboot");
	/* Returning makes the kernel panic; with panic=-1 the VM still ends,
	 * and the console log says why. */
	return 1;
}
