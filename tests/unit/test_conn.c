// SPDX-License-Identifier: Apache-2.0
/* The client side of the agent channel: framing and receive timeouts over
 * a real socketpair. */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "lib/internal.h"

static void put(int fd, uint32_t stream, enum msb_msg_type t)
{
	struct msb_buf b = {0};
	struct msb_msg m = {.type = t};

	CHECK(msb_frame_encode(&b, stream, 0, &m) == 0);
	CHECK(write(fd, b.data, b.len) == (ssize_t)b.len);
	msb_buf_free(&b);
}

int main(void)
{
	int sv[2];
	struct msb_conn c = {.fd = -1};
	struct msb_frame f;
	struct msb_msg m;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	c.fd = sv[0];

	/* Nothing there: a zero timeout says so at once. */
	CHECK(msb__conn_recv(&c, &f, &m, 0) == -MSB_ETIMEDOUT);
	CHECK(msb__conn_recv(&c, &f, &m, 20) == -MSB_ETIMEDOUT);

	/* Bytes waiting in the socket: a zero timeout still reads them (it
	 * once returned ETIMEDOUT without looking, and a caller polling for
	 * input spun forever). */
	put(sv[1], 7, MSB_MSG_PONG);
	CHECK(msb__conn_recv(&c, &f, &m, 0) == 0);
	CHECK(f.hdr.stream == 7 && m.type == MSB_MSG_PONG);
	msb__conn_done(&c, &f);

	/* Several frames in one read come out one by one. */
	put(sv[1], 1, MSB_MSG_PING);
	put(sv[1], 2, MSB_MSG_PONG);
	CHECK(msb__conn_recv(&c, &f, &m, -1) == 0 && f.hdr.stream == 1);
	msb__conn_done(&c, &f);
	CHECK(msb__conn_recv(&c, &f, &m, 0) == 0 && f.hdr.stream == 2);
	msb__conn_done(&c, &f);

	/* A supervisor note on stream 0 is kept, then EOF says it. */
	struct msb_buf b = {0};
	struct msb_msg note = {.type = MSB_MSG_ERROR,
			       .has = MSB_HAS(MSB_FLD_MSG),
			       .msg = msb_str("QEMU was killed")};
	CHECK(msb_frame_encode(&b, 0, MSB_F_END, &note) == 0);
	CHECK(write(sv[1], b.data, b.len) == (ssize_t)b.len);
	msb_buf_free(&b);
	close(sv[1]);
	CHECK(msb__conn_recv(&c, &f, &m, 1000) == -MSB_EVMDIED);
	CHECK(strstr(msb_last_error()->message, "QEMU was killed") != NULL);
	CHECK(c.fd < 0);

	/* A bad length field is a protocol error, not a hang. */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	c.fd = sv[0];
	CHECK(write(sv[1], "\xff\xff\xff\xff\0\0\0\0\0", 9) == 9);
	CHECK(msb__conn_recv(&c, &f, &m, 1000) == -MSB_EPROTO);
	msb__conn_close(&c);
	close(sv[1]);
	return check_summary("test_conn");
}
