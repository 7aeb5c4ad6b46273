// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzz harness for what the library takes from the guest's fs answers:
 * the input is a stream of frames (as the agent channel carries them);
 * every FS_ENTRY is checked as stat and as list take it, and the names of
 * a "listing" go through the copy-out name checks and the escaper. An
 * accepted name must be a plain name; every escaped text must be free of
 * control characters.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/hostout.h"
#include "lib/internal.h"
#include "proto/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_NAMES 512

static void check_escaped(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f) {
			fprintf(stderr, "fsreply_fuzz: control byte escaped\n");
			abort();
		}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msb_buf in = {0};
	struct msb_frame f;
	msb_fs_entry e[MAX_NAMES];
	const char *names[MAX_NAMES];
	size_t n = 0;
	char esc[300];

	if (msb_buf_append(&in, data, size) < 0)
		return 0;
	while (n < MAX_NAMES && msb_frame_next(&f, &in) == 1) {
		struct msb_msg m;
		if (msb_msg_decode(&m, f.payload, f.payload_len) == 0 &&
		    m.type == MSB_MSG_FS_ENTRY) {
			msb_fs_entry loose;
			if (msb__fs_entry_from(&loose, &m, false) == 0)
				msb_fs_entry_clear(&loose);
			check_escaped(msb_last_error()->message);
			if (msb__fs_entry_from(&e[n], &m, true) == 0) {
				if (!msb__name_ok(e[n].name,
						  strlen(e[n].name))) {
					fprintf(stderr, "fsreply_fuzz: a bad "
							"name was accepted\n");
					abort();
				}
				names[n] = e[n].name;
				n++;
			} else {
				check_escaped(msb_last_error()->message);
			}
			check_escaped(msb_escape(esc, sizeof(esc), m.name.p,
						 m.name.n));
		}
		msb_buf_consume(&in, msb_frame_size(&f));
	}
	struct msb_out o;
	if (msb__out_init(&o, NULL, "fuzz") == 0 &&
	    msb__out_check_listing(&o, "/d", names, n) < 0)
		check_escaped(msb_last_error()->message);
	for (size_t i = 0; i < n; i++)
		msb_fs_entry_clear(&e[i]);
	msb_buf_free(&in);
	return 0;
}
