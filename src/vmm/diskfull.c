// SPDX-License-Identifier: Apache-2.0
/* Host disk full: pause on QEMU's ENOSPC stop, resume when there is room
 * (see diskfull.h). */
#include "vmm/diskfull.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "proto/proto.h"
#include "vmm/state.h"

#define MAX_IMAGES 64

static struct {
	struct qmp *q;
	const char *home;
	char *dev[MAX_IMAGES], *path[MAX_IMAGES];
	size_t n;
	bool full[MAX_IMAGES]; /* a write to it failed with ENOSPC */
	bool stopped;          /* QEMU stopped the VM for it */
	bool paused;           /* ... and we said so (state, clients) */
	bool resumed;          /* a RESUME event since the last tick */
	uint64_t next_check;
	uint64_t free_bytes; /* at the last check */
	char *reserve;
	char line[512];
} df;

/* Hold (or give back) the reserve; best effort. */
static void reserve(bool hold)
{
	if (!df.reserve)
		return;
	if (!hold) {
		unlink(df.reserve);
		return;
	}
	int fd = open(df.reserve, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
		      0600);
	if (fd < 0)
		return;
	if (posix_fallocate(fd, 0, DISKFULL_RESERVE_BYTES))
		unlink(df.reserve);
	close(fd);
}

/* The image's folder: its filesystem is the one that filled. */
static uint64_t free_at(const char *path)
{
	char dir[4096];
	struct statvfs st;
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir)
		*slash = '\0';
	if (statvfs(dir, &st) < 0)
		return 0;
	return (uint64_t)st.f_bavail * st.f_frsize;
}

/* The least free space over the images that filled (or MSB_HOME). */
static uint64_t free_now(void)
{
	uint64_t least = UINT64_MAX;

	for (size_t i = 0; i < df.n; i++) {
		if (df.full[i]) {
			uint64_t f = free_at(df.path[i]);
			if (f < least)
				least = f;
		}
	}
	if (least == UINT64_MAX) {
		char home[4096];
		snprintf(home, sizeof(home), "%s/.", df.home);
		least = free_at(home);
	}
	return least;
}

static void on_event(const char *event, json_t *data, void *arg)
{
	if (!strcmp(event, "BLOCK_IO_ERROR")) {
		const char *dev =
			json_string_value(json_object_get(data, "device"));
		const char *action =
			json_string_value(json_object_get(data, "action"));
		if (!json_is_true(json_object_get(data, "nospace")) ||
		    !action || strcmp(action, "stop"))
			return;
		bool known = false;
		for (size_t i = 0; i < df.n; i++) {
			if (dev && !strcmp(dev, df.dev[i])) {
				df.full[i] = true;
				known = true;
			}
		}
		if (!known) /* a device we did not name: check them all */
			for (size_t i = 0; i < df.n; i++)
				df.full[i] = true;
		df.stopped = true;
	} else if (!strcmp(event, "RESUME")) {
		df.stopped = false;
		df.resumed = true;
	}
}

void diskfull_init(struct qmp *q, const char *home, char *const images[],
		   const char *reserve_path)
{
	df.q = q;
	df.reserve = strdup(reserve_path);
	reserve(true);
	df.home = home;
	for (size_t i = 0; images && images[i] && df.n < MAX_IMAGES; i++) {
		const char *eq = strchr(images[i], '=');
		if (!eq)
			continue;
		df.dev[df.n] = strndup(images[i], (size_t)(eq - images[i]));
		df.path[df.n] = strdup(eq + 1);
		if (df.dev[df.n] && df.path[df.n])
			df.n++;
	}
	q->on_event = on_event;
	q->arg = NULL;
}

bool diskfull_paused(void)
{
	return df.paused;
}

static void message(char *out, size_t len, uint64_t free_bytes)
{
	snprintf(out, len,
		 "host disk full under MSB_HOME (%" PRIu64
		 " MiB free): free space and the sandbox resumes",
		 free_bytes >> 20);
}

bool diskfull_refuse(struct msb_buf *out, uint32_t stream)
{
	char text[256];

	if (!df.paused)
		return false;
	message(text, sizeof(text), free_now());
	struct msb_msg m = {
		.type = MSB_MSG_ERROR,
		.has = MSB_HAS(MSB_FLD_MSG) | MSB_HAS(MSB_FLD_ERRNO),
		.msg = msb_str(text),
		.err = ENOSPC,
	};
	msb_frame_encode(out, stream, MSB_F_END, &m);
	return true;
}

uint64_t diskfull_deadline(void)
{
	if (df.stopped != df.paused || df.resumed)
		return now_us(); /* something to report */
	return df.paused ? df.next_check : 0;
}

const char *diskfull_tick(void)
{
	uint64_t now = now_us();

	if (df.stopped && !df.paused) {
		char text[256];
		df.paused = true;
		reserve(false);
		df.free_bytes = free_now();
		df.next_check = now + DISKFULL_CHECK_US;
		message(text, sizeof(text), df.free_bytes);
		state_status("paused", getpid());
		state_reason("host disk full under MSB_HOME");
		snprintf(df.line, sizeof(df.line), "paused: %s", text);
		return df.line;
	}
	if (df.paused && !df.stopped && df.resumed) {
		df.paused = df.resumed = false;
		memset(df.full, 0, sizeof(df.full));
		reserve(true);
		state_status("running", getpid());
		state_reason(NULL);
		snprintf(df.line, sizeof(df.line),
			 "resumed: %" PRIu64 " MiB free under MSB_HOME",
			 free_now() >> 20);
		return df.line;
	}
	df.resumed = false;
	if (!df.paused || now < df.next_check)
		return NULL;
	df.next_check = now + DISKFULL_CHECK_US;
	df.free_bytes = free_now();
	if (df.free_bytes < DISKFULL_RESUME_BYTES)
		return NULL;
	/* Room again: QEMU retries the writes that failed. If they fail
	 * again it stops the VM again, and we wait again. */
	if (!qmp_command(df.q, "cont", 2000)) {
		snprintf(df.line, sizeof(df.line),
			 "%" PRIu64 " MiB free but QEMU did not resume",
			 df.free_bytes >> 20);
		return df.line;
	}
	return NULL;
}
