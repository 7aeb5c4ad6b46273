// SPDX-License-Identifier: Apache-2.0
/*
 * A silent guest agent is an error, not a hang: fs calls and exec over a
 * real socketpair whose peer reads requests and never answers, and the
 * supervisor's "the agent stopped answering" frame turned into
 * MSB_ETIMEDOUT.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "lib/internal.h"

/* A sandbox handle on one end of a socketpair; the test holds the other. */
static void fake_sandbox(msb_sandbox *sb, int *peer)
{
	int sv[2];

	memset(sb, 0, sizeof(*sb));
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	sb->name = "silent";
	sb->conn.fd = sv[0];
	sb->watch_fd = -1;
	sb->next_stream = 1;
	*peer = sv[1];
}

static void put_timeout_error(int fd, uint32_t stream)
{
	struct msb_buf b = {0};
	struct msb_msg m = {
		.type = MSB_MSG_ERROR,
		.has = MSB_HAS(MSB_FLD_MSG) | MSB_HAS(MSB_FLD_KIND),
		.msg = msb_str("the guest agent did not answer for 30 s"),
		.kind = msb_str("timeout"),
	};
	CHECK(msb_frame_encode(&b, stream, MSB_F_END, &m) == 0);
	CHECK(write(fd, b.data, b.len) == (ssize_t)b.len);
	msb_buf_free(&b);
}

int main(void)
{
	msb_sandbox sb;
	msb_fs_entry e;
	int peer;

	setenv("MSB_AGENT_TIMEOUT_MS", "300", 1);
	CHECK(msb__agent_timeout_ms() == 300);

	/* fs: the request goes out, nothing comes back */
	fake_sandbox(&sb, &peer);
	uint64_t t0 = now_us();
	CHECK(msb_sandbox_fs_stat(&e, &sb, "/etc/passwd") == -MSB_ETIMEDOUT);
	uint64_t took = now_us() - t0;
	CHECK(took >= 300000 && took < 5000000);
	CHECK(strstr(msb_last_error()->message,
		     "did not answer stat `/etc/passwd`") != NULL);

	/* exec: no STARTED in time */
	const char *argv[] = {"true", NULL};
	msb_exec_output *out = NULL;
	t0 = now_us();
	CHECK(msb_sandbox_exec(&out, &sb, argv, NULL) == -MSB_ETIMEDOUT);
	took = now_us() - t0;
	CHECK(took >= 300000 && took < 5000000);
	CHECK(strstr(msb_last_error()->message, "`true`") != NULL);
	msb_exec_output_free(out);

	/* the supervisor ends a stream because the agent went silent: the
	 * caller gets MSB_ETIMEDOUT with its words, at once */
	setenv("MSB_AGENT_TIMEOUT_MS", "60000", 1);
	put_timeout_error(peer, sb.next_stream);
	t0 = now_us();
	CHECK(msb_sandbox_fs_stat(&e, &sb, "/") == -MSB_ETIMEDOUT);
	CHECK(now_us() - t0 < 5000000);
	CHECK(strstr(msb_last_error()->message, "did not answer for 30 s") !=
	      NULL);
	put_timeout_error(peer, sb.next_stream);
	CHECK(msb_sandbox_exec(&out, &sb, argv, NULL) == -MSB_ETIMEDOUT);
	msb_exec_output_free(out);

	/* nonsense in the variable: the default */
	setenv("MSB_AGENT_TIMEOUT_MS", "12abc", 1);
	CHECK(msb__agent_timeout_ms() == 30000);
	setenv("MSB_AGENT_TIMEOUT_MS", "-5", 1);
	CHECK(msb__agent_timeout_ms() == 30000);

	msb__conn_close(&sb.conn);
	close(peer);
	return check_summary("test_deadline");
}
