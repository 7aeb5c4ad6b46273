// SPDX-License-Identifier: Apache-2.0
/*
 * Where the runtime files are: the state folder, QEMU, msb-vmm and the
 * guest kernel, initramfs and default root filesystem. Each can be
 * overridden from the environment (MSB_HOME, MSB_QEMU, MSB_QEMU_IMG,
 * MSB_VMM, MSB_NETD, MSB_GUEST_DIR). Otherwise the helpers and guest files
 * are found relative to this library (msb_runtime_get()): under its
 * install prefix, or in its build tree.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <link.h>
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
/* The build tree, and the install layout (relative to the prefix unless
   configured as absolute paths). */
#if !defined(MSB_BUILD_ROOT) || !defined(MSB_PREFIX) ||                        \
	!defined(MSB_REL_LIBDIR) || !defined(MSB_REL_BINDIR) ||                \
	!defined(MSB_REL_LIBEXECDIR) || !defined(MSB_REL_GUESTDIR)
#error "the install layout (MSB_BUILD_ROOT, MSB_PREFIX, MSB_REL_*) must be defined by the build"
#endif

/* The file this code was loaded from (the library, or a program it is
 * linked into), resolved; NULL if unknown. */
static char *self_path(void)
{
	Dl_info info;
	struct link_map *lm = NULL;

	if (!dladdr1((void *)self_path, &info, (void **)&lm, RTLD_DL_LINKMAP) ||
	    !lm)
		return NULL;
	/* The main program's link map has no name. */
	return realpath(lm->l_name[0] ? lm->l_name : "/proc/self/exe", NULL);
}

/* @dir with its trailing "/@tail" removed, or NULL if it has none. */
static char *strip_tail(const char *dir, const char *tail)
{
	size_t n = strlen(dir), t = strlen(tail);

	if (t == 0 || t >= n || dir[n - t - 1] != '/' ||
	    strcmp(dir + n - t, tail))
		return NULL;
	return strndup(dir, n - t - 1);
}

/* @prefix/@rel, or @rel when it is absolute (configured so). */
static char *under(const char *prefix, const char *rel, const char *leaf)
{
	char *p;

	if (asprintf(&p, "%s%s%s%s%s", rel[0] == '/' ? "" : prefix,
		     rel[0] == '/' ? "" : "/", rel, leaf[0] ? "/" : "",
		     leaf) < 0)
		return NULL;
	return p;
}

/* Where the helpers and guest files are, the environment aside. */
static int runtime_defaults(char **vmm, char **netd, char **guest,
			    char **origin)
{
	_cleanup_free_ char *self = self_path();
	_cleanup_free_ char *prefix = NULL;
	size_t b = strlen(MSB_BUILD_ROOT);

	*vmm = *netd = *guest = *origin = NULL;
	if (self && !strncmp(self, MSB_BUILD_ROOT, b) && self[b] == '/') {
		*vmm = strdup(MSB_VMM_PATH);
		*netd = strdup(MSB_NETD_PATH);
		*guest = strdup(MSB_GUEST_DIR);
		if (asprintf(origin, "build tree %s", MSB_BUILD_ROOT) < 0)
			*origin = NULL;
		return *vmm && *netd && *guest && *origin ? 0 : -MSB_ENOMEM;
	}
	char *slash = self ? strrchr(self, '/') : NULL;
	if (slash) {
		*slash = '\0';
		prefix = strip_tail(self, MSB_REL_LIBDIR);
		if (!prefix)
			prefix = strip_tail(self, MSB_REL_BINDIR);
	}
	const char *how = prefix ? "prefix" : "configured prefix";
	const char *root = prefix ? prefix : MSB_PREFIX;
	if (asprintf(origin, "%s %s", how, root[0] ? root : "/") < 0)
		*origin = NULL;
	*vmm = under(root, MSB_REL_LIBEXECDIR, "microsandbox/msb-vmm");
	*netd = MSB_NETD_PATH[0] ? under(root, MSB_REL_LIBEXECDIR,
					 "microsandbox/msb-netd")
				 : strdup("");
	*guest = under(root, MSB_REL_GUESTDIR, "");
	return *vmm && *netd && *guest && *origin ? 0 : -MSB_ENOMEM;
}

/* @var's value if set, with its name as the origin; else @dflt. */
static int pick(const char *var, char **path, char **origin, char *dflt,
		const char *dflt_origin)
{
	const char *v = getenv(var);

	if (v && *v) {
		*path = strdup(v);
		*origin = strdup(var);
	} else {
		*path = strdup(dflt);
		*origin = strdup(dflt_origin);
	}
	return *path && *origin ? 0 : -MSB_ENOMEM;
}

EXPORT int msb_runtime_get(msb_runtime_info *out)
{
	_cleanup_free_ char *vmm = NULL, *netd = NULL, *guest = NULL,
			    *origin = NULL;

	memset(out, 0, sizeof(*out));
	if (runtime_defaults(&vmm, &netd, &guest, &origin) < 0 ||
	    pick("MSB_VMM", &out->vmm, &out->vmm_origin, vmm, origin) < 0 ||
	    pick("MSB_NETD", &out->netd, &out->netd_origin, netd, origin) < 0 ||
	    pick("MSB_GUEST_DIR", &out->guest_dir, &out->guest_origin, guest,
		 origin) < 0) {
		msb_runtime_info_free(out);
		return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	}
	return 0;
}

EXPORT void msb_runtime_info_free(msb_runtime_info *info)
{
	if (!info)
		return;
	free(info->vmm);
	free(info->netd);
	free(info->guest_dir);
	free(info->vmm_origin);
	free(info->netd_origin);
	free(info->guest_origin);
	memset(info, 0, sizeof(*info));
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
	msb_runtime_info rt;
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

	if ((rc = msb_runtime_get(&rt)) < 0)
		goto fail;
	p->vmm = rt.vmm;
	p->netd = rt.netd;
	rt.vmm = rt.netd = NULL;
	const char *guest = rt.guest_dir;
	if (asprintf(&p->kernel, "%s/vmlinux", guest) < 0 ||
	    asprintf(&p->initrd, "%s/initramfs.cpio", guest) < 0 ||
	    asprintf(&p->rootfs, "%s/rootfs.ext4", guest) < 0 ||
	    asprintf(&p->default_layout, "%s/default-image", guest) < 0) {
		msb_runtime_info_free(&rt);
		goto nomem;
	}
	msb_runtime_info_free(&rt);
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
