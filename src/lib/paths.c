// SPDX-License-Identifier: Apache-2.0
/*
 * Where the runtime files are: the state folder, QEMU, msb-vmm and the
 * guest kernel, initramfs and default root filesystem. Each can be
 * overridden from the environment (MSB_HOME, MSB_QEMU, MSB_QEMU_IMG,
 * MSB_VMM, MSB_NETD, MSB_GUEST_DIR); the defaults are fixed at build time.
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/internal.h"
#include "vmm/hosttools.h"

#ifndef MSB_VMM_PATH
#error "MSB_VMM_PATH must be defined by the build"
#endif
#ifndef MSB_NETD_PATH
#error "MSB_NETD_PATH must be defined by the build"
#endif
#ifndef MSB_GUEST_DIR
#error "MSB_GUEST_DIR must be defined by the build"
#endif

static char *env_or(const char *name, const char *dflt)
{
	const char *v = getenv(name);

	return strdup(v && *v ? v : dflt);
}

static int need_file(const char *path, const char *what)
{
	if (access(path, R_OK) == 0)
		return 0;
	return msb__error(
		MSB_ENOTFOUND, errno,
		"%s not found at `%s` (%s): run ./setup.sh to build it", what,
		path, strerror(errno));
}

int msb__paths_home(struct msb_paths *p)
{
	const char *home = getenv("MSB_HOME");
	int rc;

	memset(p, 0, sizeof(*p));
	if (home && *home) {
		p->home = strdup(home);
	} else {
		const char *h = getenv("HOME");
		if (!h || !*h) {
			struct passwd *pw = getpwuid(getuid());
			h = pw ? pw->pw_dir : NULL;
		}
		if (!h) {
			rc = msb__error(MSB_ENOTFOUND, 0,
					"no home folder: set MSB_HOME");
			goto fail;
		}
		if (asprintf(&p->home, "%s/.microsandbox", h) < 0)
			p->home = NULL;
	}
	if (!p->home)
		goto nomem;
	if (p->home[0] != '/') {
		rc = msb__error(MSB_EINVAL, 0,
				"MSB_HOME must be an absolute path, not `%s`",
				p->home);
		goto fail;
	}
	return 0;
nomem:
	rc = msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
fail:
	msb__paths_clear(p);
	return rc;
}

int msb__paths_resolve(struct msb_paths *p)
{
	_cleanup_free_ char *guest = NULL;
	int rc;

	if ((rc = msb__paths_home(p)) < 0)
		return rc;

	p->qemu = msb_find_program("MSB_QEMU", "qemu-system-x86_64");
	if (!p->qemu) {
		rc = msb__error(
			MSB_ENOTFOUND, ENOENT,
			"qemu-system-x86_64 not found%s: install the qemu-system-x86 package (./setup.sh does)",
			getenv("MSB_QEMU") ? " (MSB_QEMU is set)" : "");
		goto fail;
	}
	p->qemu_img = msb_find_program("MSB_QEMU_IMG", "qemu-img");
	if (!p->qemu_img) {
		rc = msb__error(
			MSB_ENOTFOUND, ENOENT,
			"qemu-img not found%s: install the qemu-utils package (./setup.sh does)",
			getenv("MSB_QEMU_IMG") ? " (MSB_QEMU_IMG is set)" : "");
		goto fail;
	}

	guest = env_or("MSB_GUEST_DIR", MSB_GUEST_DIR);
	p->vmm = env_or("MSB_VMM", MSB_VMM_PATH);
	p->netd = env_or("MSB_NETD", MSB_NETD_PATH);
	if (!guest || !p->vmm || !p->netd ||
	    asprintf(&p->kernel, "%s/vmlinux", guest) < 0 ||
	    asprintf(&p->initrd, "%s/initramfs.cpio", guest) < 0 ||
	    asprintf(&p->rootfs, "%s/rootfs.ext4", guest) < 0 ||
	    asprintf(&p->default_layout, "%s/default-image", guest) < 0)
		goto nomem;
	if (access(p->vmm, X_OK) < 0) {
		rc = msb__error(
			MSB_ENOTFOUND, errno,
			"supervisor msb-vmm not found at `%s`: run ./setup.sh to build it",
			p->vmm);
		goto fail;
	}
	if ((rc = need_file(p->kernel, "guest kernel")) < 0 ||
	    (rc = need_file(p->initrd, "guest initramfs")) < 0 ||
	    (rc = need_file(p->rootfs, "default root filesystem")) < 0)
		goto fail;
	return 0;
nomem:
	rc = msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
fail:
	msb__paths_clear(p);
	return rc;
}

void msb__paths_clear(struct msb_paths *p)
{
	free(p->home);
	free(p->vmm);
	free(p->netd);
	free(p->qemu);
	free(p->qemu_img);
	free(p->kernel);
	free(p->initrd);
	free(p->rootfs);
	free(p->default_layout);
	memset(p, 0, sizeof(*p));
}
