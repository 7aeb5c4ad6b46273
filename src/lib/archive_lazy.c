// SPDX-License-Identifier: Apache-2.0
/* libarchive, loaded at its first use (archive_lazy.h). */
#include "lib/archive_lazy.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "lib/internal.h"

#define LIBARCHIVE "libarchive.so.13"

struct msb_libarchive msb_la;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char load_err[256];

static void load(void)
{
	/* never closed: the pointers stay valid */
	void *h = dlopen(LIBARCHIVE, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *e = dlerror();
		snprintf(load_err, sizeof(load_err),
			 "%s (install the libarchive13 package)",
			 e ? e : LIBARCHIVE);
		return;
	}
	struct msb_libarchive la;
	/* the names, not the macros of archive_lazy.h */
#define X(f)                                                                   \
	if (!(*(void **)&la.p_##f = dlsym(h, #f))) {                           \
		snprintf(load_err, sizeof(load_err), "%s: no %s", LIBARCHIVE,  \
			 #f);                                                  \
		return;                                                        \
	}
	MSB_LA_FUNCS
#undef X
	msb_la = la;
}

int msb_libarchive_load(void)
{
	pthread_once(&once, load);
	if (load_err[0])
		return msb__error(MSB_ESYS, 0, "load libarchive: %s", load_err);
	return 0;
}
