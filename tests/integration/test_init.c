// SPDX-License-Identifier: Apache-2.0
/*
 * A stand-in guest init for boot-failure tests. Built twice:
 * -DTEST_INIT_HANG prints and waits forever (the host must time out);
 * otherwise it prints and exits, and the kernel panics (PID 1 died).
 */
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

int main(void)
{
#ifdef TEST_INIT_HANG
	static const char msg[] = "test-init: hanging\n";
#else
	static const char msg[] = "test-init: exiting\n";
#endif
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	int fd = open("/dev/console", O_WRONLY | O_NOCTTY);
	if (fd >= 0)
		if (write(fd, msg, strlen(msg)) < 0)
			return 2;
#ifdef TEST_INIT_HANG
	for (;;)
		pause();
#endif
	return 1;
}
