// SPDX-License-Identifier: Apache-2.0
/*
 * Hostile input to the guest agent, through a real sandbox: malformed
 * CBOR, unknown message types, missing fields, unknown streams. Each gets
 * an error reply on its stream and the agent keeps serving.
 */
#include <string.h>

#include "../unit/check.h"
#include "helpers.h"
#include "lib/internal.h"

/* Send raw payload bytes as one frame; return the reply's type. */
static int roundtrip_raw(msb_sandbox *sb, uint32_t stream, uint8_t flags,
			 const void *payload, size_t len, char *msg,
			 size_t msglen)
{
	uint8_t hdr[MSB_FRAME_HDR];

	msb_frame_put_hdr(hdr, (uint32_t)len, stream, flags);
	if (write_all(sb->conn.fd, hdr, sizeof(hdr)) < 0 ||
	    write_all(sb->conn.fd, payload, len) < 0)
		return -1;
	struct msb_frame f;
	struct msb_msg m;
	int rc = msb__conn_recv(&sb->conn, &f, &m, 20000);
	if (rc < 0) {
		fprintf(stderr, "  recv: %s\n", msb_last_error()->message);
		return -1;
	}
	int type = f.hdr.stream == stream ? (int)m.type : -2;
	snprintf(msg, msglen, "%.*s", (int)m.msg.n, (const char *)m.msg.p);
	msb__conn_done(&sb->conn, &f);
	return type;
}

static int roundtrip_msg(msb_sandbox *sb, uint32_t stream, uint8_t flags,
			 const struct msb_msg *req, char *msg, size_t msglen)
{
	struct msb_buf b = {0};

	if (msb_msg_encode(&b, req) < 0)
		return -1;
	int rc = roundtrip_raw(sb, stream, flags, b.data, b.len, msg, msglen);
	msb_buf_free(&b);
	return rc;
}

int main(void)
{
	msb_sandbox_options o = MSB_SANDBOX_OPTIONS_INIT;
	msb_sandbox *sb;
	char msg[512];

	test_case("test_agent_input", 240);
	if (msb_sandbox_create(&sb, &o) < 0) {
		fprintf(stderr, "create: %s\n", msb_last_error()->message);
		return 1;
	}

	/* Not CBOR at all. */
	static const uint8_t junk[] = {0xff, 0x00, 0x13, 0x37, 0xde, 0xad};
	CHECK(roundtrip_raw(sb, 100, MSB_F_START, junk, sizeof(junk), msg,
			    sizeof(msg)) == MSB_MSG_ERROR);
	/* A CBOR map without a type; then an empty payload. */
	static const uint8_t notype[] = {0xa1, 0x61, 'x', 0x01};
	CHECK(roundtrip_raw(sb, 101, MSB_F_START, notype, sizeof(notype), msg,
			    sizeof(msg)) == MSB_MSG_ERROR);
	CHECK(roundtrip_raw(sb, 102, MSB_F_START, "", 0, msg, sizeof(msg)) ==
	      MSB_MSG_ERROR);
	/* An unknown message type. */
	static const uint8_t unknown[] = {0xa1, 0x61, 't', 0x63, 'z', 'z', 'z'};
	CHECK(roundtrip_raw(sb, 103, MSB_F_START, unknown, sizeof(unknown), msg,
			    sizeof(msg)) == MSB_MSG_ERROR);
	/* exec without argv, and with an empty one. */
	struct msb_msg req = {.type = MSB_MSG_EXEC};
	CHECK(roundtrip_msg(sb, 104, MSB_F_START, &req, msg, sizeof(msg)) ==
	      MSB_MSG_ERROR);
	CHECK(strstr(msg, "argv") != NULL);
	const char *none[] = {NULL};
	req.has = MSB_HAS(MSB_FLD_ARGV);
	req.argv.v = none;
	CHECK(roundtrip_msg(sb, 105, MSB_F_START, &req, msg, sizeof(msg)) ==
	      MSB_MSG_ERROR);
	/* A signal for a stream that does not exist (the supervisor
	 * answers: it knows no such stream). */
	struct msb_msg sig = {
		.type = MSB_MSG_SIGNAL, .has = MSB_HAS(MSB_FLD_SIG), .sig = 9};
	CHECK(roundtrip_msg(sb, 106, 0, &sig, msg, sizeof(msg)) ==
	      MSB_MSG_ERROR);
	/* An unknown user is a failed exec, distinct from an error. */
	const char *id[] = {"id", NULL};
	req.argv.v = id;
	req.has |= MSB_HAS(MSB_FLD_USER);
	req.user = msb_str("no-such-user");
	CHECK(roundtrip_msg(sb, 107, MSB_F_START, &req, msg, sizeof(msg)) ==
	      MSB_MSG_FAILED);
	CHECK(strstr(msg, "no-such-user") != NULL);

	/* The agent still serves. */
	msb_exec_output *out;
	msb_exec_options eo = MSB_EXEC_OPTIONS_INIT;
	eo.user = "nobody";
	CHECK(msb_sandbox_shell(&out, sb, "id -u; id -g; echo $HOME", &eo) ==
	      0);
	CHECK_STR(msb_exec_output_stdout(out, NULL),
		  "65534\n65534\n/nonexistent\n");
	msb_exec_output_free(out);
	eo.user = "1234:5678";
	CHECK(msb_sandbox_shell(&out, sb, "id -u; id -g", &eo) == 0);
	CHECK_STR(msb_exec_output_stdout(out, NULL), "1234\n5678\n");
	msb_exec_output_free(out);
	eo.user = "ghost";
	CHECK(msb_sandbox_shell(&out, sb, "true", &eo) == -MSB_EEXEC);
	CHECK(strstr(msb_last_error()->message, "unknown user `ghost`") !=
	      NULL);
	CHECK(msb_last_error()->exec_failure == MSB_EXEC_FAILURE_USER);

	CHECK(msb_sandbox_stop(sb, 0) == 0);
	msb_sandbox_free(sb);
	alarm(0);
	return check_summary("test_agent_input");
}
