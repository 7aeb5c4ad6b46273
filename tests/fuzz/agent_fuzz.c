// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer harness for the guest agent's request decoder: the input is
 * a byte stream as the host would write it to the agent port, cut into
 * frames by the agent's reader; each payload is decoded and checked as a
 * request (src/agent/request.c), the way handle_frame() does before it
 * acts. Also the resource-limit and user-spec parsers on the raw input.
 * Invariants: nothing crashes or reads out of bounds (ASan), a rejection
 * always says why, and an accepted request holds what its handler relies
 * on (argv[0] non-empty C string, K=V environment, signals in range).
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/user.h"
#include "util/rlimit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(what)                                                             \
	do {                                                                   \
		fprintf(stderr, "agent_fuzz: %s (%s:%d)\n", what, __FILE__,    \
			__LINE__);                                             \
		abort();                                                       \
	} while (0)

/* What the handlers take for granted once a request passed the gate. */
static void check_accepted(const struct msb_msg *m)
{
	if (m->type == MSB_MSG_EXEC) {
		char **argv = msb_strv_dup(&m->argv);
		if (!argv || !argv[0] || !argv[0][0])
			FAIL("accepted exec without a usable argv[0]");
		free(argv);
		if (m->has & MSB_HAS(MSB_FLD_ENV)) {
			char **env = msb_strv_dup(&m->env);
			for (size_t i = 0; env && env[i]; i++) {
				char *eq = strchr(env[i], '=');
				if (!eq || eq == env[i])
					FAIL("accepted env entry not K=V");
			}
			if (!env)
				FAIL("accepted env that does not copy");
			free(env);
		}
	}
	if (m->type == MSB_MSG_SIGNAL && (m->sig < 0 || m->sig >= NSIG))
		FAIL("accepted signal out of range");
	if (m->type == MSB_MSG_HELLO &&
	    (!m->root.n || !(m->has & MSB_HAS(MSB_FLD_VERSION))))
		FAIL("accepted hello without root or version");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msb_buf in = {0};
	struct msb_frame f;
	char why[320];
	int err;

	/* The port delivers bytes in arbitrary pieces. */
	for (size_t off = 0; off < size;) {
		size_t n = (size - off) % 97 + 1;
		if (n > size - off)
			n = size - off;
		if (msb_buf_append(&in, data + off, n) < 0)
			break;
		off += n;
		for (;;) {
			int r = msb_frame_next(&f, &in);
			if (r <= 0) {
				if (r < 0)
					msb_buf_reset(&in);
				break;
			}
			struct msb_msg m;
			if (msb_msg_decode(&m, f.payload, f.payload_len) == 0) {
				why[0] = '\0';
				err = 0;
				if (agent_request_check(&m, f.hdr.flags, why,
							sizeof(why),
							&err) < 0) {
					if (!why[0] || !err)
						FAIL("rejected without a reason");
				} else {
					check_accepted(&m);
				}
			}
			msb_buf_consume(&in, msb_frame_size(&f));
		}
	}
	msb_buf_free(&in);

	/* The small parsers, on the raw bytes. */
	int res;
	struct rlimit rl;
	if (msb_rlimit_parse((const char *)data, size, &res, &rl, why,
			     sizeof(why)) == 0 &&
	    rl.rlim_cur > rl.rlim_max)
		FAIL("rlimit soft above hard accepted");
	if (size < 4096) {
		char spec[64];
		size_t sl = size < sizeof(spec) - 1 ? size : sizeof(spec) - 1;
		memcpy(spec, data, sl);
		spec[sl] = '\0';
		struct user_ids ids;
		(void)user_resolve(&ids, spec, (const char *)data, size,
				   (const char *)data, size, why, sizeof(why));
	}
	return 0;
}
