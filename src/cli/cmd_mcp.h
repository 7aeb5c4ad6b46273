/* SPDX-License-Identifier: Apache-2.0 */
/* msb mcp: the MCP protocol layer, free of I/O and of the library. */
#ifndef MSB_CLI_MCP_H
#define MSB_CLI_MCP_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* Largest message taken (one line of stdin); longer ones are refused. */
#define MCP_MAX_MESSAGE (16u << 20)

/* JSON-RPC 2.0 error codes. */
#define MCP_PARSE_ERROR (-32700)
#define MCP_INVALID_REQUEST (-32600)
#define MCP_METHOD_NOT_FOUND (-32601)
#define MCP_INVALID_PARAMS (-32602)
#define MCP_INTERNAL_ERROR (-32603)

/*
 * mcp_call_fn - run tool @tool with @args, already checked against the
 * tool's input schema. Return: a CallToolResult object (a new reference:
 * mcp_tool_result() or mcp_tool_error()), or NULL when out of memory.
 */
typedef json_t *(*mcp_call_fn)(const char *tool, json_t *args, void *userdata);

struct mcp_server {
	json_t *tools; /* the tools/list array, built by mcp_server_init() */
	mcp_call_fn call;
	void *userdata;
	/* The progressToken of the tools/call being run (params._meta), or
	 * NULL: notifications/progress may then be sent (mcp_progress_line). */
	const json_t *progress_token;
	bool initialized;     /* answered initialize */
	char version[16];     /* the protocol version agreed */
	char client_name[64]; /* clientInfo.name, for diagnostics */
};

/* Build the tool table. Return: 0, or -1 if out of memory. */
int mcp_server_init(struct mcp_server *s, mcp_call_fn call, void *userdata);
void mcp_server_fini(struct mcp_server *s);

/*
 * mcp_server_handle() - handle one message (one line of the stdio
 * transport, without its newline).
 * Return: the answer to send, one line of JSON without a newline,
 * malloc'd (free()), or NULL when there is none (a notification, or a
 * response from the client). Never fails on input: malformed messages
 * get JSON-RPC errors.
 */
char *mcp_server_handle(struct mcp_server *s, const char *buf, size_t len);

/* A notifications/progress line for @token (@total 0: unknown, left
 * out), or NULL if out of memory. Malloc'd. */
char *mcp_progress_line(const json_t *token, double progress, double total,
			const char *message);

/*
 * mcp_parse() - parse one message as mcp_server_handle() does.
 * Return: the message (json_decref() it), or NULL with its error answer
 * in *@answer (malloc'd; NULL if out of memory).
 */
json_t *mcp_parse(const char *buf, size_t len, char **answer);
/* mcp_server_handle() of a parsed message (@msg is not stolen). */
char *mcp_server_handle_msg(struct mcp_server *s, json_t *msg);

/* An error answer to request @id (NULL: null). Malloc'd, or NULL. */
char *mcp_error_answer(const json_t *id, int code, const char *message);

/* An error answer with id null (for a message refused before parsing,
 * such as one too long). Malloc'd, or NULL if out of memory. */
char *mcp_error_line(int code, const char *message);

/* A CallToolResult: @value as text (JSON) and as structuredContent.
 * Steals @value. */
json_t *mcp_tool_result(json_t *value);
/* A CallToolResult with isError and one text, printf-style. */
__attribute__((format(printf, 1, 2))) json_t *mcp_tool_error(const char *fmt,
							     ...);

/*
 * mcp_schema_check() - check @value against @schema, a JSON Schema of the
 * subset the tools use (type, properties, required, additionalProperties,
 * items, enum, minimum, maximum, minLength, maxLength, minItems,
 * maxItems). @where names the value in messages ("arguments").
 * Return: true, or false with one line in @err.
 */
bool mcp_schema_check(const json_t *schema, const json_t *value,
		      const char *where, char *err, size_t errlen);

/* Protocol versions, newest first. */
extern const char *const mcp_versions[];

/* JSON-safe text from guest bytes: invalid UTF-8 becomes U+FFFD and a
 * sequence cut at the end is dropped. Return: a new string, or NULL. */
json_t *mcp_text(const void *data, size_t len);

/* Base64 (RFC 4648, with padding). mcp_base64_encode(): a new string,
 * or NULL. mcp_base64_decode(): malloc'd bytes in *@out, *@outlen of them
 * (whitespace is not allowed); false if @s is not base64 or out of memory. */
json_t *mcp_base64_encode(const void *data, size_t len);
bool mcp_base64_decode(void **out, size_t *outlen, const char *s, size_t len);

#endif
