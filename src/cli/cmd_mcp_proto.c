// SPDX-License-Identifier: Apache-2.0
/*
 * msb mcp: the Model Context Protocol over JSON-RPC 2.0, as pure functions
 * of one message (no I/O, no library calls), so that it can be fuzzed.
 *
 * DOC: Theory of operation
 *
 * cmd_mcp.c reads stdin a line at a time (the stdio transport: one JSON-RPC
 * message a line) and hands each line to mcp_server_handle(), which
 * answers it with one line or nothing. The message is parsed by jansson
 * (its nesting limit, no NUL in strings, no duplicate keys), checked as
 * JSON-RPC 2.0 (-32700 for bad JSON, -32600 for a message that is not a
 * request, -32601 for an unknown method, -32602 for bad params), and
 * dispatched: initialize (version negotiation: the client's version if we
 * know it, else our newest), ping, tools/list, tools/call,
 * resources/list and resources/templates/list (empty). Notifications and
 * responses get no answer.
 *
 * Each tool has a JSON Schema for its input (the table below). A
 * tools/call's arguments are checked against it here, so the callback
 * (cmd_mcp.c) gets well-typed values; arguments that do not fit, and every
 * failure of the call itself, are tool results with isError set, which
 * the model reads, not protocol errors.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd_mcp.h"
#include "microsandbox.h"

const char *const mcp_versions[] = {"2025-11-25", "2025-06-18", "2025-03-26",
				    "2024-11-05", NULL};

/* ------------------------------------------------------------------ */
/* The tools. Schemas are written with ' for " (none of the texts has an
 * apostrophe) and converted when the table is built. */

#define S_NAME                                                                 \
	"'name':{'type':'string','minLength':1,'maxLength':63,"                \
	"'description':'The sandbox name.'}"
#define S_PATH                                                                 \
	"'path':{'type':'string','minLength':1,'maxLength':4096,"              \
	"'description':'An absolute path in the sandbox.'}"
#define S_STRMAP(desc)                                                         \
	"{'type':'object','additionalProperties':{'type':'string',"            \
	"'maxLength':65536},'description':'" desc "'}"
/* clang-format off */
#define S_EXEC_ENV S_STRMAP("Extra environment variables, NAME to value.")
#define S_EXEC_OPTS                                                            \
	"'env':" S_EXEC_ENV ","                                                \
	"'cwd':{'type':'string','maxLength':4096,"                             \
	"'description':'Working directory (default: that of the image, or /).'},"  \
	"'user':{'type':'string','maxLength':256,"                             \
	"'description':'User to run as: name, uid, name:group or uid:gid.'},"  \
	"'timeout':{'type':'number','minimum':0,'maximum':86400,"              \
	"'description':'Seconds after which the command and its children "     \
	"are killed (default 50, under the 60 s request timeout of common "    \
	"clients; 0: no limit).'},"                                            \
	"'stdin':{'type':'string','maxLength':8388608,"                        \
	"'description':'Text given to the command on its standard input "      \
	"(default: empty).'},"                                                 \
	"'max_bytes':{'type':'integer','minimum':0,'maximum':8388608,"         \
	"'description':'Most bytes of stdout and of stderr returned "          \
	"(default 65536); the rest is counted and dropped.'}"
#define S_CREATE_ENV S_STRMAP("Environment of every command, NAME to value.")
#define S_CREATE_LABELS S_STRMAP("Labels kept with the sandbox, key to value.")

static const struct mcp_tool_def {
	const char *name;
	const char *title;
	const char *description;
	const char *schema; /* properties, then "|" and the required list */
	bool read_only;
	bool destructive;
} tool_defs[] = {
	{"sandbox_create", "Create a sandbox",
	 "Boot a new sandbox (a microVM with its own Linux kernel) and wait "
	 "until it is ready. Unless created with detached: true, it is removed "
	 "when this MCP session ends or when it stops. Returns its name.",
	 "{" S_NAME ","
	 "'image':{'type':'string','minLength':1,'maxLength':4096,"
	 "'description':'An OCI image reference (alpine, python:3.12), or the "
	 "path of a disk image under a directory the server allows; default: "
	 "the built-in busybox image.'},"
	 "'cpus':{'type':'integer','minimum':1,'maximum':64},"
	 "'memory_mib':{'type':'integer','minimum':96,'maximum':65536,"
	 "'description':'Guest memory in MiB (default 512).'},"
	 "'env':" S_CREATE_ENV ",'labels':" S_CREATE_LABELS ","
	 "'detached':{'type':'boolean','description':'Keep the sandbox after "
	 "this MCP session ends (it gets a generated name if none is given).'},"
	 "'workdir':{'type':'string','maxLength':4096,'description':'Default "
	 "working directory of commands.'},"
	 "'user':{'type':'string','maxLength':256,'description':'Default "
	 "user of commands.'},"
	 "'network':{'type':'string','enum':['public','all','none'],"
	 "'description':'public (default: the internet only), all (all but "
	 "the host) or none.'},"
	 "'pull':{'type':'string','enum':['missing','always','never'],"
	 "'description':'When to pull the image (default missing).'},"
	 "'boot_timeout':{'type':'integer','minimum':1,'maximum':3600,"
	 "'description':'Seconds to wait for the guest (default 60).'},"
	 "'idle_timeout':{'type':'integer','minimum':0,'maximum':4294967295,"
	 "'description':'Stop after this many seconds without a command "
	 "(0: never).'},"
	 "'max_duration':{'type':'integer','minimum':0,'maximum':4294967295,"
	 "'description':'Stop this many seconds after booting (0: never).'},"
	 "'volumes':{'type':'array','maxItems':64,'items':{'type':'object',"
	 "'properties':{'name':{'type':'string','minLength':1,'maxLength':255},"
	 "'path':{'type':'string','minLength':1,'maxLength':4096},"
	 "'readonly':{'type':'boolean'}},'required':['name','path'],"
	 "'additionalProperties':false},'description':'Named volumes to "
	 "mount (volume_create makes them).'},"
	 "'binds':{'type':'array','maxItems':16,'items':{'type':'object',"
	 "'properties':{'host_path':{'type':'string','minLength':1,"
	 "'maxLength':4096},'path':{'type':'string','minLength':1,"
	 "'maxLength':4096},'readonly':{'type':'boolean'}},"
	 "'required':['host_path','path'],'additionalProperties':false},"
	 "'description':'Host directories to share into the guest; only "
	 "under the directories the server allows.'}"
	 "}|",
	 false, false},
	{"sandbox_list", "List sandboxes",
	 "List sandboxes: name, status, image, cpus, memory, labels, and "
	 "whether this MCP session created it.",
	 "{'mcp_only':{'type':'boolean','description':'Only sandboxes created "
	 "through MCP (labelled mcp).'}}|",
	 true, false},
	{"sandbox_stop", "Stop a sandbox",
	 "Stop a running sandbox: the guest syncs and powers off, and is "
	 "killed after the timeout. A detached sandbox keeps its disk until "
	 "sandbox_remove; one that is not is removed.",
	 "{" S_NAME ",'timeout':{'type':'number','minimum':0,'maximum':3600,"
	 "'description':'Seconds before the VM is killed (default 10).'}}"
	 "|name",
	 false, false},
	{"sandbox_remove", "Remove a sandbox",
	 "Remove a stopped sandbox, its disk and logs; with force, stop it "
	 "first if it runs.",
	 "{" S_NAME ",'force':{'type':'boolean'}}|name", false, true},
	{"sandbox_exec", "Run a command",
	 "Run a command (argv, no shell) in a running sandbox and wait for "
	 "it. Returns exit_code, stdout and stderr.",
	 "{" S_NAME ",'command':{'type':'array','minItems':1,'maxItems':4096,"
	 "'items':{'type':'string','maxLength':131072},'description':'The "
	 "program and its arguments; the program is looked up in PATH.'}," S_EXEC_OPTS
	 "}|name,command",
	 false, false},
	{"sandbox_shell", "Run a shell script",
	 "Run a script with /bin/sh -c in a running sandbox and wait for it. "
	 "Returns exit_code, stdout and stderr.",
	 "{" S_NAME ",'script':{'type':'string','minLength':1,"
	 "'maxLength':1048576,'description':'The shell script.'}," S_EXEC_OPTS
	 "}|name,script",
	 false, false},
	{"sandbox_fs_read", "Read a file", "Read a file of a running sandbox.",
	 "{" S_NAME "," S_PATH ",'encoding':{'type':'string','enum':['utf8',"
	 "'base64'],'description':'utf8 (default: invalid bytes become "
	 "U+FFFD) or base64 (the exact bytes).'},"
	 "'max_bytes':{'type':'integer','minimum':1,'maximum':8388608,"
	 "'description':'Most bytes returned (default 1048576); a longer file "
	 "is truncated and says so.'}}|name,path",
	 true, false},
	{"sandbox_fs_write", "Write a file",
	 "Create or replace (or append to) a file in a running sandbox; "
	 "missing parent directories are created.",
	 "{" S_NAME "," S_PATH ",'content':{'type':'string',"
	 "'maxLength':12582912},'encoding':{'type':'string','enum':['utf8',"
	 "'base64'],'description':'How content is given (default utf8).'},"
	 "'mode':{'type':'integer','minimum':0,'maximum':4095,"
	 "'description':'Permission bits of a new file (default 420, that is "
	 "0644).'},'append':{'type':'boolean'}}|name,path,content",
	 false, false},
	{"sandbox_fs_list", "List a directory",
	 "List a directory of a running sandbox: name, type, size, mode, "
	 "mtime of each entry.",
	 "{" S_NAME "," S_PATH "}|name,path", true, false},
	{"sandbox_fs_remove", "Remove a file",
	 "Remove a file, symlink or empty directory of a running sandbox; "
	 "with recursive, a whole tree.",
	 "{" S_NAME "," S_PATH ",'recursive':{'type':'boolean'}}|name,path",
	 false, true},
	{"sandbox_metrics", "Sandbox metrics",
	 "CPU, memory, disk and network use of a running sandbox.",
	 "{" S_NAME "}|name", true, false},
	{"image_pull", "Pull an image",
	 "Pull an OCI image from its registry (or find it stored) and build "
	 "its root disk. Returns its reference, id, digest and size.",
	 "{'reference':{'type':'string','minLength':1,'maxLength':4096,"
	 "'description':'alpine, python:3.12, ghcr.io/org/app@sha256:...'},"
	 "'platform':{'type':'string','maxLength':64,'description':'os/arch "
	 "(default: the host one).'},'policy':{'type':'string','enum':["
	 "'missing','always','never'],'description':'missing (default: use "
	 "a stored one), always, never (stored only).'}}|reference",
	 false, false},
	{"volume_create", "Create a volume",
	 "Create a named volume (an ext4 filesystem of a fixed quota) that "
	 "sandboxes can mount and that outlives them.",
	 "{'name':{'type':'string','minLength':1,'maxLength':255},"
	 "'quota_bytes':{'type':'integer','minimum':8388608,"
	 "'maximum':17592186044416,'description':'Size in bytes (default "
	 "1 GiB).'}}|name",
	 false, false},
};
/* clang-format on */

/* The input schema of @d: an object schema of its properties. */
static json_t *build_schema(const struct mcp_tool_def *d)
{
	const char *bar = strrchr(d->schema, '|');
	size_t n = (size_t)(bar - d->schema);
	char *text = strndup(d->schema, n);
	if (!text)
		return NULL;
	for (char *p = text; *p; p++)
		if (*p == '\'')
			*p = '"';
	json_error_t jerr;
	json_t *props = json_loads(text, 0, &jerr);
	free(text);
	json_t *req = json_array();
	if (!props || !req) {
		json_decref(props);
		json_decref(req);
		return NULL;
	}
	for (const char *p = bar + 1; *p;) {
		size_t len = strcspn(p, ",");
		json_array_append_new(req, json_stringn(p, len));
		p += len + (p[len] == ',');
	}
	return json_pack("{s:s, s:o, s:o, s:b}", "type", "object", "properties",
			 props, "required", req, "additionalProperties", 0);
}

int mcp_server_init(struct mcp_server *s, mcp_call_fn call, void *userdata)
{
	*s = (struct mcp_server){.call = call, .userdata = userdata};
	s->tools = json_array();
	if (!s->tools)
		return -1;
	for (size_t i = 0; i < sizeof(tool_defs) / sizeof(*tool_defs); i++) {
		const struct mcp_tool_def *d = &tool_defs[i];
		json_t *schema = build_schema(d);
		json_t *t =
			schema ? json_pack("{s:s, s:s, s:s, s:o, s:{s:s, "
					   "s:b, s:b, s:b}}",
					   "name", d->name, "title", d->title,
					   "description", d->description,
					   "inputSchema", schema, "annotations",
					   "title", d->title, "readOnlyHint",
					   d->read_only, "destructiveHint",
					   d->destructive, "openWorldHint",
					   !strcmp(d->name, "image_pull"))
			       : NULL;
		if (!t || json_array_append_new(s->tools, t) < 0) {
			json_decref(s->tools);
			s->tools = NULL;
			return -1;
		}
	}
	return 0;
}

void mcp_server_fini(struct mcp_server *s)
{
	json_decref(s->tools);
	s->tools = NULL;
}

static const json_t *tool_schema(const struct mcp_server *s, const char *name)
{
	size_t i;
	json_t *t;

	json_array_foreach(s->tools, i, t)
	{
		if (!strcmp(json_string_value(json_object_get(t, "name")),
			    name))
			return json_object_get(t, "inputSchema");
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* The schema subset */

/* Code points in a valid UTF-8 string (jansson only makes those). */
static size_t utf8_length(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xc0) != 0x80;
	return n;
}

static bool type_is(const json_t *v, const char *type)
{
	if (!strcmp(type, "object"))
		return json_is_object(v);
	if (!strcmp(type, "array"))
		return json_is_array(v);
	if (!strcmp(type, "string"))
		return json_is_string(v);
	if (!strcmp(type, "integer"))
		return json_is_integer(v);
	if (!strcmp(type, "number"))
		return json_is_number(v);
	if (!strcmp(type, "boolean"))
		return json_is_boolean(v);
	if (!strcmp(type, "null"))
		return json_is_null(v);
	return false;
}

static const char *type_article(const char *type)
{
	return !strcmp(type, "object") || !strcmp(type, "array") ||
			       !strcmp(type, "integer")
		       ? "an"
		       : "a";
}

/* Compare number @v with the schema's bound @b: <0, 0, >0. */
static int num_cmp(const json_t *v, const json_t *b)
{
	if (json_is_integer(v) && json_is_integer(b)) {
		json_int_t x = json_integer_value(v), y = json_integer_value(b);
		return x < y ? -1 : x > y;
	}
	double x = json_number_value(v), y = json_number_value(b);
	return x < y ? -1 : x > y;
}

struct check {
	char path[256];
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 2, 3))) static bool fail(struct check *c,
						       const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(c->err, c->errlen, "%s: ", c->path);
	if (n < 0 || (size_t)n >= c->errlen)
		return false;
	va_start(ap, fmt);
	vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return false;
}

static bool check_value(struct check *c, const json_t *schema, const json_t *v);

/* Check @v under a path extended by @fmt (restored after). */
__attribute__((format(printf, 4, 5))) static bool check_at(struct check *c,
							   const json_t *schema,
							   const json_t *v,
							   const char *fmt, ...)
{
	size_t len = strlen(c->path);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->path + len, sizeof(c->path) - len, fmt, ap);
	va_end(ap);
	bool ok = check_value(c, schema, v);
	c->path[len] = '\0';
	return ok;
}

static bool check_object(struct check *c, const json_t *schema, const json_t *v)
{
	const json_t *props = json_object_get(schema, "properties");
	const json_t *more = json_object_get(schema, "additionalProperties");
	const json_t *req = json_object_get(schema, "required");
	const char *key;
	const json_t *val;
	size_t i;
	const json_t *r;

	json_array_foreach(req, i, r)
	{
		if (!json_object_get(v, json_string_value(r)))
			return fail(c, "`%s` is required",
				    json_string_value(r));
	}
	json_object_foreach((json_t *)v, key, val)
	{
		const json_t *sub = json_object_get(props, key);
		if (!sub && json_is_object(more))
			sub = more;
		if (!sub && json_is_false(more))
			return fail(c, "unknown property `%.64s`", key);
		if (sub && !check_at(c, sub, val, ".%.64s", key))
			return false;
	}
	return true;
}

static bool check_value(struct check *c, const json_t *schema, const json_t *v)
{
	const char *type = json_string_value(json_object_get(schema, "type"));
	const json_t *b;

	if (type && !type_is(v, type))
		return fail(c, "expected %s %s", type_article(type), type);
	const json_t *en = json_object_get(schema, "enum");
	if (json_is_array(en)) {
		size_t i;
		const json_t *e;
		bool found = false;
		json_array_foreach(en, i, e) found = found || json_equal(e, v);
		if (!found) {
			char list[160] = "";
			json_array_foreach(en, i, e)
			{
				size_t l = strlen(list);
				snprintf(list + l, sizeof(list) - l, "%s%s",
					 i ? ", " : "", json_string_value(e));
			}
			return fail(c, "expected one of %s", list);
		}
	}
	if (json_is_number(v)) {
		if ((b = json_object_get(schema, "minimum")) &&
		    num_cmp(v, b) < 0)
			return fail(c, "must be at least %.15g",
				    json_number_value(b));
		if ((b = json_object_get(schema, "maximum")) &&
		    num_cmp(v, b) > 0)
			return fail(c, "must be at most %.15g",
				    json_number_value(b));
	}
	if (json_is_string(v)) {
		size_t n = utf8_length(json_string_value(v),
				       json_string_length(v));
		if ((b = json_object_get(schema, "minLength")) &&
		    n < (size_t)json_integer_value(b))
			return fail(c, "shorter than %lld characters",
				    (long long)json_integer_value(b));
		if ((b = json_object_get(schema, "maxLength")) &&
		    n > (size_t)json_integer_value(b))
			return fail(c, "longer than %lld characters",
				    (long long)json_integer_value(b));
	}
	if (json_is_array(v)) {
		size_t n = json_array_size(v), i;
		const json_t *e;
		if ((b = json_object_get(schema, "minItems")) &&
		    n < (size_t)json_integer_value(b))
			return fail(c, "needs at least %lld items",
				    (long long)json_integer_value(b));
		if ((b = json_object_get(schema, "maxItems")) &&
		    n > (size_t)json_integer_value(b))
			return fail(c, "has more than %lld items",
				    (long long)json_integer_value(b));
		const json_t *items = json_object_get(schema, "items");
		if (items)
			json_array_foreach(
				v, i, e) if (!check_at(c, items, e, "[%zu]",
						       i)) return false;
	}
	if (json_is_object(v))
		return check_object(c, schema, v);
	return true;
}

bool mcp_schema_check(const json_t *schema, const json_t *value,
		      const char *where, char *err, size_t errlen)
{
	struct check c = {.err = err, .errlen = errlen};
	snprintf(c.path, sizeof(c.path), "%s", where);
	if (errlen)
		err[0] = '\0';
	return check_value(&c, schema, value);
}

/* ------------------------------------------------------------------ */
/* Results */

json_t *mcp_text(const void *data, size_t len)
{
	const unsigned char *s = data;
	size_t cap;
	if (__builtin_mul_overflow(len, 3, &cap))
		return NULL;
	char *out = malloc(cap + 1), *o = out;
	if (!out)
		return NULL;
	for (size_t i = 0; i < len;) {
		unsigned char c = s[i];
		size_t n = c < 0x80                 ? 1
			   : c >= 0xc2 && c <= 0xdf ? 2
			   : c >= 0xe0 && c <= 0xef ? 3
			   : c >= 0xf0 && c <= 0xf4 ? 4
						    : 0;
		bool good = n > 0 && i + n <= len;
		for (size_t k = 1; good && k < n; k++)
			good = (s[i + k] & 0xc0) == 0x80;
		if (good && n == 3)
			good = !(c == 0xe0 && s[i + 1] < 0xa0) &&
			       !(c == 0xed && s[i + 1] >= 0xa0);
		if (good && n == 4)
			good = !(c == 0xf0 && s[i + 1] < 0x90) &&
			       !(c == 0xf4 && s[i + 1] >= 0x90);
		if (good) {
			memcpy(o, s + i, n);
			o += n;
			i += n;
			continue;
		}
		/* A sequence cut by the end (of a truncated output) goes. */
		if (n > 1 && i + n > len) {
			bool prefix = true;
			for (size_t k = i + 1; k < len; k++)
				prefix = prefix && (s[k] & 0xc0) == 0x80;
			if (prefix)
				break;
		}
		memcpy(o, "\xef\xbf\xbd", 3);
		o += 3;
		i++;
	}
	json_t *t = json_stringn(out, (size_t)(o - out));
	free(out);
	return t;
}

json_t *mcp_tool_result(json_t *value)
{
	if (!value)
		return NULL;
	char *text = json_dumps(value, JSON_COMPACT);
	json_t *r = text ? json_pack("{s:[{s:s, s:s}], s:o, s:b}", "content",
				     "type", "text", "text", text,
				     "structuredContent", value, "isError", 0)
			 : NULL;
	if (!text)
		json_decref(value);
	free(text);
	return r;
}

json_t *mcp_tool_error(const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_t *text = mcp_text(msg, strlen(msg));
	if (!text)
		return NULL;
	return json_pack("{s:[{s:s, s:o}], s:b}", "content", "type", "text",
			 "text", text, "isError", 1);
}

/* ------------------------------------------------------------------ */
/* JSON-RPC */

static char *dump(json_t *msg)
{
	char *s = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
	json_decref(msg);
	return s;
}

/* An error answer; @id may be NULL (null). */
static char *error_answer(const json_t *id, int code, const char *message)
{
	json_t *m = json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0",
			      "id", id ? id : json_null(), "error", "code",
			      code, "message", message);
	return dump(m);
}

char *mcp_progress_line(const json_t *token, double progress, double total,
			const char *message)
{
	json_t *p = json_pack("{s:O, s:f}", "progressToken", token, "progress",
			      progress);
	if (p && total > 0)
		json_object_set_new(p, "total", json_real(total));
	if (p && message)
		json_object_set_new(p, "message",
				    mcp_text(message, strlen(message)));
	return dump(p ? json_pack("{s:s, s:s, s:o}", "jsonrpc", "2.0", "method",
				  "notifications/progress", "params", p)
		      : NULL);
}

char *mcp_error_answer(const json_t *id, int code, const char *message)
{
	return error_answer(id, code, message);
}

char *mcp_error_line(int code, const char *message)
{
	return error_answer(NULL, code, message);
}

/* A result answer; steals @result. */
static char *result_answer(const json_t *id, json_t *result)
{
	if (!result)
		return error_answer(id, MCP_INTERNAL_ERROR, "out of memory");
	return dump(json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id,
			      "result", result));
}

static char *do_initialize(struct mcp_server *s, const json_t *id,
			   const json_t *params)
{
	const json_t *v = json_object_get(params, "protocolVersion");
	if (!json_is_string(v))
		return error_answer(id, MCP_INVALID_PARAMS,
				    "initialize: protocolVersion must be a "
				    "string");
	const char *want = json_string_value(v), *use = mcp_versions[0];
	for (const char *const *p = mcp_versions; *p; p++)
		if (!strcmp(*p, want))
			use = *p;
	snprintf(s->version, sizeof(s->version), "%s", use);
	const json_t *info = json_object_get(params, "clientInfo");
	const char *cname = json_string_value(json_object_get(info, "name"));
	snprintf(s->client_name, sizeof(s->client_name), "%s",
		 cname ? cname : "");
	s->initialized = true;
	return result_answer(
		id,
		json_pack("{s:s, s:{s:{s:b}, s:{}}, s:{s:s, s:s, s:s}, s:s}",
			  "protocolVersion", use, "capabilities", "tools",
			  "listChanged", 0, "resources", "serverInfo", "name",
			  "msb", "title", "microsandbox", "version",
			  MSB_VERSION_STRING, "instructions",
			  "Run untrusted code in microVM sandboxes. "
			  "sandbox_create boots one (removed when this "
			  "session ends unless detached); sandbox_exec and "
			  "sandbox_shell run commands; the sandbox_fs_* "
			  "tools read and write its files."));
}

static char *do_tools_call(struct mcp_server *s, const json_t *id,
			   const json_t *params)
{
	const json_t *name = json_object_get(params, "name");
	json_t *args = json_object_get(params, "arguments");
	char err[1024];

	if (!json_is_string(name))
		return error_answer(id, MCP_INVALID_PARAMS,
				    "tools/call: name must be a string");
	if (args && !json_is_object(args) && !json_is_null(args))
		return error_answer(id, MCP_INVALID_PARAMS,
				    "tools/call: arguments must be an object");
	const json_t *schema = tool_schema(s, json_string_value(name));
	if (!schema) {
		snprintf(err, sizeof(err), "unknown tool `%.100s`",
			 json_string_value(name));
		return error_answer(id, MCP_INVALID_PARAMS, err);
	}
	json_t *empty = NULL;
	if (!json_is_object(args))
		args = empty = json_object();
	const json_t *token = json_object_get(json_object_get(params, "_meta"),
					      "progressToken");
	s->progress_token =
		json_is_string(token) || json_is_integer(token) ? token : NULL;
	json_t *r;
	if (!args)
		r = NULL;
	else if (!mcp_schema_check(schema, args, "arguments", err, sizeof(err)))
		r = mcp_tool_error("invalid arguments of %s: %s",
				   json_string_value(name), err);
	else
		r = s->call(json_string_value(name), args, s->userdata);
	s->progress_token = NULL;
	json_decref(empty);
	return result_answer(id, r);
}

json_t *mcp_parse(const char *buf, size_t len, char **answer)
{
	json_error_t jerr;
	char err[256];

	*answer = NULL;
	if (len > MCP_MAX_MESSAGE) {
		*answer = error_answer(NULL, MCP_PARSE_ERROR,
				       "message too large");
		return NULL;
	}
	json_t *msg = json_loadb(
		buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!msg) {
		snprintf(err, sizeof(err), "parse error: %s (at byte %d)",
			 jerr.text, jerr.position);
		json_t *t = mcp_text(err, strlen(err));
		*answer =
			error_answer(NULL, MCP_PARSE_ERROR,
				     t ? json_string_value(t) : "parse error");
		json_decref(t);
	}
	return msg;
}

char *mcp_server_handle(struct mcp_server *s, const char *buf, size_t len)
{
	char *answer;
	json_t *msg = mcp_parse(buf, len, &answer);
	if (!msg)
		return answer;
	answer = mcp_server_handle_msg(s, msg);
	json_decref(msg);
	return answer;
}

char *mcp_server_handle_msg(struct mcp_server *s, json_t *msg)
{
	char err[256];
	char *answer = NULL;
	if (json_is_array(msg)) {
		answer = error_answer(NULL, MCP_INVALID_REQUEST,
				      "batches are not supported");
		goto out;
	}
	if (!json_is_object(msg)) {
		answer = error_answer(NULL, MCP_INVALID_REQUEST,
				      "a message must be a JSON object");
		goto out;
	}
	const json_t *id = json_object_get(msg, "id");
	const json_t *method = json_object_get(msg, "method");
	const json_t *params = json_object_get(msg, "params");
	const json_t *ver = json_object_get(msg, "jsonrpc");

	/* A response from the client: we send no requests, so drop it. */
	if (!method && id &&
	    (json_object_get(msg, "result") || json_object_get(msg, "error")))
		goto out;
	if (id && !json_is_string(id) && !json_is_integer(id)) {
		answer = error_answer(NULL, MCP_INVALID_REQUEST,
				      "id must be a string or an integer");
		goto out;
	}
	if (!json_is_string(ver) || strcmp(json_string_value(ver), "2.0")) {
		if (id)
			answer = error_answer(id, MCP_INVALID_REQUEST,
					      "jsonrpc must be \"2.0\"");
		goto out;
	}
	if (!json_is_string(method)) {
		answer = error_answer(id, MCP_INVALID_REQUEST,
				      "method must be a string");
		goto out;
	}
	/* Notifications (initialized, cancelled...) need no answer. */
	if (!id)
		goto out;
	if (params && !json_is_object(params)) {
		answer = error_answer(id, MCP_INVALID_PARAMS,
				      "params must be an object");
		goto out;
	}
	const char *m = json_string_value(method);
	if (!strcmp(m, "initialize"))
		answer = do_initialize(s, id, params);
	else if (!strcmp(m, "ping"))
		answer = result_answer(id, json_object());
	else if (!strcmp(m, "tools/list"))
		answer = result_answer(id,
				       json_pack("{s:O}", "tools", s->tools));
	else if (!strcmp(m, "tools/call"))
		answer = do_tools_call(s, id, params);
	else if (!strcmp(m, "resources/list"))
		answer = result_answer(id, json_pack("{s:[]}", "resources"));
	else if (!strcmp(m, "resources/templates/list"))
		answer = result_answer(
			id, json_pack("{s:[]}", "resourceTemplates"));
	else {
		json_t *t = mcp_text(m, strnlen(m, 100));
		snprintf(err, sizeof(err), "method not found: %s",
			 t ? json_string_value(t) : "?");
		json_decref(t);
		answer = error_answer(id, MCP_METHOD_NOT_FOUND, err);
	}
out:
	return answer;
}

/* ------------------------------------------------------------------ */
/* Base64 */

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

json_t *mcp_base64_encode(const void *data, size_t len)
{
	const unsigned char *s = data;
	size_t n = (len + 2) / 3 * 4;
	char *out = malloc(n + 1), *o = out;
	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)s[i + 1] << 8;
		if (i + 2 < len)
			v |= s[i + 2];
		*o++ = b64[v >> 18];
		*o++ = b64[(v >> 12) & 63];
		*o++ = i + 1 < len ? b64[(v >> 6) & 63] : '=';
		*o++ = i + 2 < len ? b64[v & 63] : '=';
	}
	json_t *t = json_stringn(out, n);
	free(out);
	return t;
}

static int b64_value(unsigned char c)
{
	const char *p = c ? strchr(b64, c) : NULL;
	return p ? (int)(p - b64) : -1;
}

bool mcp_base64_decode(void **out, size_t *outlen, const char *s, size_t len)
{
	*out = NULL;
	*outlen = 0;
	if (len % 4)
		return false;
	unsigned char *buf = malloc(len / 4 * 3 + 1), *o = buf;
	if (!buf)
		return false;
	for (size_t i = 0; i < len; i += 4) {
		bool last = i + 4 == len;
		int pad = last ? (s[i + 3] == '=') + (s[i + 2] == '=') : 0;
		if (pad == 1 && s[i + 2] == '=')
			goto bad; /* "x=y=" */
		uint32_t v = 0;
		for (int k = 0; k < 4 - pad; k++) {
			int d = b64_value((unsigned char)s[i + k]);
			if (d < 0)
				goto bad;
			v = v << 6 | (uint32_t)d;
		}
		if (v & ((1u << (2 * pad)) - 1))
			goto bad; /* bits past the data: not canonical */
		v <<= 6 * pad;
		*o++ = (unsigned char)(v >> 16);
		if (pad < 2)
			*o++ = (unsigned char)(v >> 8);
		if (pad < 1)
			*o++ = (unsigned char)v;
	}
	*out = buf;
	*outlen = (size_t)(o - buf);
	return true;
bad:
	free(buf);
	return false;
}
