// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer harness for msb mcp's protocol layer (src/cli/cmd_mcp_proto.c):
 * every line of the input is one message to mcp_server_handle(), whose
 * tool callback echoes the checked arguments. Each answer must be one line
 * of JSON: a JSON-RPC 2.0 object with an id and exactly one of result and
 * error. The line is also taken as text (mcp_text() must give valid
 * UTF-8 that jansson re-encodes) and as base64 (what decodes must encode
 * back to the same text).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd_mcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(what)                                                             \
	do {                                                                   \
		fprintf(stderr, "mcp_fuzz: %s (%s:%d)\n", what, __FILE__,      \
			__LINE__);                                             \
		abort();                                                       \
	} while (0)

/* The tool callback: the arguments it got, which fit the schema. */
static json_t *echo(const char *tool, json_t *args, void *userdata)
{
	(void)userdata;
	if (!json_is_object(args) || !tool)
		FAIL("the callback got no arguments object");
	if (!strcmp(tool, "sandbox_list"))
		return mcp_tool_error("%s", "listing is not available here");
	return mcp_tool_result(json_deep_copy(args));
}

static void check_answer(const char *a)
{
	json_error_t err;

	if (strchr(a, '\n'))
		FAIL("an answer spans lines");
	json_t *m = json_loads(a, JSON_REJECT_DUPLICATES, &err);
	if (!json_is_object(m))
		FAIL("an answer is not a JSON object");
	const char *v = json_string_value(json_object_get(m, "jsonrpc"));
	if (!v || strcmp(v, "2.0"))
		FAIL("an answer without jsonrpc 2.0");
	json_t *id = json_object_get(m, "id");
	if (!id ||
	    !(json_is_null(id) || json_is_string(id) || json_is_integer(id)))
		FAIL("an answer with a bad id");
	if (!json_object_get(m, "result") == !json_object_get(m, "error"))
		FAIL("an answer needs one of result and error");
	json_t *e = json_object_get(m, "error");
	if (e && (!json_is_integer(json_object_get(e, "code")) ||
		  !json_is_string(json_object_get(e, "message"))))
		FAIL("an error without code and message");
	json_decref(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mcp_server srv;
	static int ready;

	if (!ready) {
		if (mcp_server_init(&srv, echo, NULL) < 0)
			FAIL("init");
		ready = 1;
	}
	for (size_t off = 0; off <= size;) {
		const uint8_t *nl = memchr(data + off, '\n', size - off);
		size_t len = nl ? (size_t)(nl - (data + off)) : size - off;
		const char *line = (const char *)data + off;

		char *a = mcp_server_handle(&srv, line, len);
		if (a)
			check_answer(a);
		free(a);

		json_t *t = mcp_text(line, len);
		if (!t)
			FAIL("mcp_text failed");
		char *dumped = json_dumps(t, JSON_ENCODE_ANY);
		if (!dumped)
			FAIL("mcp_text made a string jansson cannot encode");
		free(dumped);
		json_decref(t);

		void *bytes;
		size_t n;
		if (mcp_base64_decode(&bytes, &n, line, len)) {
			json_t *b = mcp_base64_encode(bytes, n);
			if (!b || json_string_length(b) != len ||
			    memcmp(json_string_value(b), line, len))
				FAIL("base64 does not round-trip");
			json_decref(b);
			free(bytes);
		}
		if (!nl)
			break;
		off += len + 1;
	}
	return 0;
}
