// SPDX-License-Identifier: Apache-2.0
/* Unit tests for src/cli/cmd_mcp_proto.c: msb mcp's protocol layer (the
 * schema subset, guest text, base64, dispatch). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cli/cmd_mcp.h"

static json_t *parse(const char *text)
{
	json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
	if (!v)
		fprintf(stderr, "  bad JSON in the test: %s\n", text);
	return v;
}

/* @value against @schema: @ok, and with an error containing @want. */
static void schema(const char *schema_text, const char *value, bool ok,
		   const char *want)
{
	json_t *s = parse(schema_text), *v = parse(value);
	char err[300];
	CHECK(s && v);
	if (!s || !v)
		return;
	bool got = mcp_schema_check(s, v, "arguments", err, sizeof(err));
	CHECK(got == ok);
	if (got != ok)
		fprintf(stderr, "  %s against %s: %s\n", value, schema_text,
			err);
	if (!ok && want && !strstr(err, want)) {
		CHECK(!"message");
		fprintf(stderr, "  `%s` lacks `%s`\n", err, want);
	}
	json_decref(s);
	json_decref(v);
}

static void test_schema(void)
{
	const char *obj =
		"{\"type\":\"object\",\"properties\":{"
		"\"n\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":64},"
		"\"t\":{\"type\":\"number\",\"minimum\":0,\"maximum\":1.5},"
		"\"s\":{\"type\":\"string\",\"minLength\":2,\"maxLength\":3},"
		"\"e\":{\"type\":\"string\",\"enum\":[\"a\",\"b\"]},"
		"\"m\":{\"type\":\"object\",\"additionalProperties\":"
		"{\"type\":\"string\"}},"
		"\"l\":{\"type\":\"array\",\"minItems\":1,\"maxItems\":2,"
		"\"items\":{\"type\":\"object\",\"properties\":{\"p\":"
		"{\"type\":\"boolean\"}},\"required\":[\"p\"],"
		"\"additionalProperties\":false}}},"
		"\"required\":[\"n\"],\"additionalProperties\":false}";

	schema(obj, "{\"n\":1}", true, NULL);
	schema(obj,
	       "{\"n\":64,\"t\":1.5,\"s\":\"\xc3\xa9\xc3\xa9\xc3\xa9\","
	       "\"e\":\"b\",\"m\":{\"x\":\"y\"},\"l\":[{\"p\":true}]}",
	       true, NULL);
	schema(obj, "{}", false, "arguments: `n` is required");
	schema(obj, "[]", false, "expected an object");
	schema(obj, "{\"n\":1.0}", false, "arguments.n: expected an integer");
	schema(obj, "{\"n\":0}", false, "at least 1");
	schema(obj, "{\"n\":65}", false, "at most 64");
	schema(obj, "{\"n\":1,\"t\":2}", false, "arguments.t: must be at most");
	schema(obj, "{\"n\":1,\"t\":1}", true, NULL); /* an integer number */
	schema(obj, "{\"n\":1,\"s\":\"a\"}", false, "shorter than 2");
	schema(obj, "{\"n\":1,\"s\":\"abcd\"}", false, "longer than 3");
	schema(obj, "{\"n\":1,\"e\":\"c\"}", false, "one of a, b");
	schema(obj, "{\"n\":1,\"m\":{\"x\":1}}", false,
	       "arguments.m.x: expected a string");
	schema(obj, "{\"n\":1,\"l\":[]}", false, "at least 1 items");
	schema(obj, "{\"n\":1,\"l\":[{\"p\":true},{\"p\":true},{\"p\":1}]}",
	       false, "more than 2 items");
	schema(obj, "{\"n\":1,\"l\":[{\"p\":true},{}]}", false,
	       "arguments.l[1]: `p` is required");
	schema(obj, "{\"n\":1,\"l\":[{\"p\":true,\"q\":1}]}", false,
	       "arguments.l[0]: unknown property `q`");
	schema(obj, "{\"n\":1,\"zz\":1}", false, "unknown property `zz`");
	schema(obj, "{\"n\":true}", false, "expected an integer");
}

static void text(const char *in, size_t len, const char *want)
{
	json_t *t = mcp_text(in, len);
	CHECK(t != NULL);
	if (t)
		CHECK_STR(json_string_value(t), want);
	json_decref(t);
}

static void test_text(void)
{
	text("plain", 5, "plain");
	text("a\xff"
	     "b",
	     3,
	     "a\xef\xbf\xbd"
	     "b");
	text("\xc3\xa9", 2, "\xc3\xa9");
	text("\xc3", 1, "");       /* cut at the end: dropped */
	text("x\xe2\x82", 3, "x"); /* the same, 3 bytes */
	text("\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd"); /* overlong */
	text("\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	text("\xf4\x90\x80\x80", 4,
	     "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	text("\xe2\x82z", 3, "\xef\xbf\xbd\xef\xbf\xbdz"); /* cut, not at end */
	json_t *nul = mcp_text("a\0b", 3);
	CHECK(nul && json_string_length(nul) == 3);
	json_decref(nul);
}

static void b64(const char *raw, size_t len, const char *enc)
{
	json_t *e = mcp_base64_encode(raw, len);
	CHECK(e != NULL);
	if (e)
		CHECK_STR(json_string_value(e), enc);
	json_decref(e);
	void *d;
	size_t n;
	CHECK(mcp_base64_decode(&d, &n, enc, strlen(enc)));
	CHECK(n == len && !memcmp(d, raw, len));
	free(d);
}

static void test_base64(void)
{
	b64("", 0, "");
	b64("f", 1, "Zg==");
	b64("fo", 2, "Zm8=");
	b64("foo", 3, "Zm9v");
	b64("foobar", 6, "Zm9vYmFy");
	b64("\0\xff\x80", 3, "AP+A");
	const char *bad[] = {"Zg=",      "Zg",   "Z===",   "Zh==", "Zm9=",
			     "Zg==Zg==", "Zm 9", "Zm9v\n", "=Zg="};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		void *d = (void *)1;
		size_t n = 1;
		CHECK(!mcp_base64_decode(&d, &n, bad[i], strlen(bad[i])));
		CHECK(d == NULL && n == 0);
	}
}

static struct mcp_server *server;
static char token_seen[32];

static json_t *echo(const char *tool, json_t *args, void *userdata)
{
	(*(int *)userdata)++;
	snprintf(token_seen, sizeof(token_seen), "%s",
		 json_is_string(server->progress_token)
			 ? json_string_value(server->progress_token)
			 : "");
	return mcp_tool_result(
		json_pack("{s:s, s:O}", "tool", tool, "args", args));
}

/* The answer to @msg, parsed (NULL when there is none). */
static json_t *ask(struct mcp_server *s, const char *msg)
{
	char *a = mcp_server_handle(s, msg, strlen(msg));
	if (!a)
		return NULL;
	CHECK(!strchr(a, '\n'));
	json_t *v = json_loads(a, 0, NULL);
	CHECK(v != NULL);
	free(a);
	return v;
}

static long long error_code(json_t *a)
{
	return json_integer_value(
		json_object_get(json_object_get(a, "error"), "code"));
}

static void test_dispatch(void)
{
	struct mcp_server s;
	int calls = 0;
	CHECK(mcp_server_init(&s, echo, &calls) == 0);
	server = &s;
	CHECK(json_array_size(s.tools) == 13);

	json_t *a = ask(&s, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
			    "\"initialize\",\"params\":{\"protocolVersion\":"
			    "\"2025-03-26\"}}");
	CHECK_STR(json_string_value(json_object_get(
			  json_object_get(a, "result"), "protocolVersion")),
		  "2025-03-26");
	CHECK(s.initialized);
	json_decref(a);

	a = ask(&s, "{\"jsonrpc\":\"2.0\",\"id\":\"q\",\"method\":"
		    "\"tools/call\",\"params\":{\"name\":\"sandbox_fs_list\","
		    "\"arguments\":{\"name\":\"b\",\"path\":\"/\"}}}");
	json_t *r = json_object_get(a, "result");
	CHECK(calls == 1);
	CHECK(json_is_false(json_object_get(r, "isError")));
	CHECK_STR(json_string_value(json_object_get(
			  json_object_get(r, "structuredContent"), "tool")),
		  "sandbox_fs_list");
	CHECK_STR(json_string_value(json_object_get(a, "id")), "q");
	json_decref(a);

	/* a schema failure does not reach the callback */
	a = ask(&s, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\","
		    "\"params\":{\"name\":\"sandbox_fs_list\",\"arguments\":"
		    "{\"name\":\"b\"}}}");
	CHECK(calls == 1);
	CHECK(json_is_true(
		json_object_get(json_object_get(a, "result"), "isError")));
	json_decref(a);

	/* a tool without required arguments takes no arguments at all */
	a = ask(&s, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\","
		    "\"params\":{\"name\":\"sandbox_list\"}}");
	CHECK(calls == 2);
	json_decref(a);

	CHECK(ask(&s, "{\"jsonrpc\":\"2.0\",\"method\":\"tools/call\","
		      "\"params\":{\"name\":\"sandbox_list\"}}") == NULL);
	CHECK(calls == 2); /* a notification runs nothing */

	a = ask(&s, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"x\"}");
	CHECK(error_code(a) == MCP_METHOD_NOT_FOUND);
	json_decref(a);
	a = ask(&s, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"ping\","
		    "\"params\":1}");
	CHECK(error_code(a) == MCP_INVALID_PARAMS);
	json_decref(a);
	a = ask(&s, "{");
	CHECK(error_code(a) == MCP_PARSE_ERROR);
	CHECK(json_is_null(json_object_get(a, "id")));
	json_decref(a);

	/* the progress token of the call, while it runs */
	a = ask(&s, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\","
		    "\"params\":{\"name\":\"sandbox_list\",\"_meta\":"
		    "{\"progressToken\":\"tok\"}}}");
	CHECK_STR(token_seen, "tok");
	CHECK(s.progress_token == NULL);
	json_decref(a);
	json_t *tok = json_integer(7);
	char *line = mcp_progress_line(tok, 10, 20, "pulling: 10 B of 20 B");
	CHECK_STR(line, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/"
			"progress\",\"params\":{\"progressToken\":7,"
			"\"progress\":10.0,\"total\":20.0,\"message\":"
			"\"pulling: 10 B of 20 B\"}}");
	free(line);
	json_decref(tok);

	line = mcp_error_line(MCP_PARSE_ERROR, "message too large");
	CHECK_STR(line, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":"
			"-32700,\"message\":\"message too large\"}}");
	free(line);
	mcp_server_fini(&s);
}

int main(void)
{
	test_schema();
	test_text();
	test_base64();
	test_dispatch();
	return check_summary("mcp_proto");
}
