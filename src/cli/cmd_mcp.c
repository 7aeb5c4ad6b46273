// SPDX-License-Identifier: Apache-2.0
/*
 * msb mcp: an MCP server over stdio, whose tools are the library's calls.
 *
 * The protocol is cmd_mcp_proto.c; this file is the transport (stdin and
 * stdout, one JSON-RPC message a line, at most MCP_MAX_MESSAGE bytes) and
 * the tools. Tool calls run on a worker thread, one at a time (see
 * "Requests in flight" below).
 *
 * The client's stdin and stdout are moved to private descriptors at start
 * (CLOEXEC): fd 0 becomes /dev/null and fd 1 stderr, so nothing but
 * protocol messages reaches the client, and no process msb starts (the
 * sandboxes' supervisors) holds the client's pipes open.
 *
 * Sandboxes created here are labelled mcp=<this process id> and kept in a
 * table with their handles. Those not detached are removed when the
 * session ends: stdin's end, a closed stdout, SIGINT, SIGTERM or SIGHUP
 * (and, as the library ties them to this process, they stop and remove
 * themselves if msb is killed). Other sandboxes are reached by name.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cmd_mcp.h"
#include "microsandbox.h"

static const char mcp_usage[] =
	"Usage: msb mcp [--allow-host-path DIR]...\n"
	"\n"
	"Serve the Model Context Protocol on stdin and stdout (JSON-RPC 2.0,\n"
	"one message a line), for AI agents: tools to create, list, stop and\n"
	"remove sandboxes, run commands and shell scripts in them, read,\n"
	"write, list and remove their files, read their metrics, pull images\n"
	"and create volumes. Register it with an MCP client as the command\n"
	"`msb mcp` (see docs/mcp.md). Diagnostics go to stderr.\n"
	"\n"
	"Sandboxes created through it are labelled mcp=PID (msb ls --json\n"
	"shows it) and removed when the client disconnects, unless created\n"
	"with detached: true.\n"
	"\n"
	"  --allow-host-path DIR  let tools use host paths under DIR (a disk\n"
	"                      image, a directory to share into a sandbox);\n"
	"                      repeatable. Default: no host path at all\n";

#define MAX_ALLOWED 64
#define MAX_LIST 10000          /* directory entries returned */
#define EXEC_TIMEOUT_DEFAULT 50 /* seconds */
#define EXEC_MAX_BYTES_DEFAULT 65536
#define READ_MAX_BYTES_DEFAULT (1u << 20)

struct entry {
	char *name;
	msb_sandbox *sb;
	bool detached;
};

struct session {
	struct entry *v;
	size_t n;
	struct mcp_server *srv;
	int out; /* the client's stdout */
	char *allowed[MAX_ALLOWED];
	size_t nallowed;
	char label[32]; /* "mcp=PID" */
};

static volatile sig_atomic_t got_signal;
/* Set by the main thread: stop the tool call running (a cancellation). */
static int cancel_call;

static bool cancelled(void)
{
	return __atomic_load_n(&cancel_call, __ATOMIC_RELAXED);
}

static void on_signal(int sig)
{
	got_signal = sig;
}

/* ------------------------------------------------------------------ */
/* Helpers */

/* The library's last error as a tool error, prefixed by @what. */
static json_t *lib_error(const char *what)
{
	const msb_error *e = msb_last_error();
	return mcp_tool_error("%s: %s", what,
			      e->message[0] ? e->message
					    : msb_strerror(e->code));
}

static const char *arg_str(json_t *args, const char *key)
{
	return json_string_value(json_object_get(args, key));
}

static bool arg_bool(json_t *args, const char *key)
{
	return json_is_true(json_object_get(args, key));
}

/* An integer argument, or @dflt. The schema bounds it. */
static long long arg_int(json_t *args, const char *key, long long dflt)
{
	json_t *v = json_object_get(args, key);
	return json_is_integer(v) ? (long long)json_integer_value(v) : dflt;
}

/* A string from the guest or the store (any bytes) as JSON, or null. */
static json_t *text_or_null(const char *s)
{
	json_t *t = s ? mcp_text(s, strlen(s)) : NULL;
	return t ? t : json_null();
}

/*
 * A NULL-terminated "KEY=VALUE" array from object @map of strings
 * (schema-checked), in *@out (free() it and the strings with free_env()).
 * Return: NULL, or a tool error.
 */
static json_t *env_array(char ***out, json_t *map, const char *what)
{
	const char *key;
	json_t *val;
	size_t n = 0;

	*out = calloc(json_object_size(map) + 1, sizeof(char *));
	if (!*out)
		return mcp_tool_error("out of memory");
	json_object_foreach(map, key, val)
	{
		if (!*key || strchr(key, '=')) {
			json_t *k = mcp_text(key, strnlen(key, 100));
			json_t *err = mcp_tool_error(
				"invalid %s key `%s`: empty or has '='", what,
				k ? json_string_value(k) : "?");
			json_decref(k);
			return err;
		}
		if (asprintf(&(*out)[n], "%s=%s", key, json_string_value(val)) <
		    0) {
			(*out)[n] = NULL;
			return mcp_tool_error("out of memory");
		}
		n++;
	}
	return NULL;
}

static void free_env(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static struct entry *find(struct session *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i].name, name))
			return &s->v[i];
	return NULL;
}

/* Let go of entry @e (its handle too: a sandbox not detached stops). */
static void drop(struct session *s, struct entry *e)
{
	msb_sandbox_free(e->sb);
	free(e->name);
	*e = s->v[--s->n];
}

/*
 * A handle on running sandbox @name: ours, or a new connection (*@conn
 * set: free it after use). Return: NULL, or a tool error.
 */
static json_t *get_sandbox(msb_sandbox **sb, bool *conn, struct session *s,
			   const char *name)
{
	struct entry *e = find(s, name);
	*conn = false;
	if (e) {
		*sb = e->sb;
		return NULL;
	}
	if (msb_sandbox_connect(sb, name) < 0)
		return lib_error("connect");
	*conn = true;
	return NULL;
}

/*
 * Whether host path @path is under an allowed directory: *@real receives
 * its resolved path (malloc'd) to use instead. Return: NULL, or a tool
 * error.
 */
static json_t *allowed_path(char **real, struct session *s, const char *path,
			    const char *what)
{
	*real = NULL;
	if (!s->nallowed)
		return mcp_tool_error(
			"%s `%s`: host paths are not allowed (start msb mcp "
			"with --allow-host-path DIR)",
			what, path);
	/* One message for missing and forbidden: no probing of the host. */
	char *r = realpath(path, NULL);
	for (size_t i = 0; r && i < s->nallowed; i++) {
		size_t n = strlen(s->allowed[i]);
		if (!strncmp(r, s->allowed[i], n) &&
		    (r[n] == '/' || r[n] == '\0' ||
		     !strcmp(s->allowed[i], "/"))) {
			*real = r;
			return NULL;
		}
	}
	json_t *err = mcp_tool_error("%s `%s` does not exist or is outside "
				     "the directories --allow-host-path allows",
				     what, path);
	free(r);
	return err;
}

/* ------------------------------------------------------------------ */
/* Progress of image pulls, as notifications/progress */

#define MAX_LAYERS 128

/*
 * The layers of one pull (msb_pull_progress_fn may be called from the
 * library's download threads at once): their bytes done and total,
 * summed into one progress figure that only grows, sent at most every
 * PROGRESS_MS and when every layer is complete.
 */
struct pull_progress {
	struct session *s;
	const char *what;
	pthread_mutex_t lock;
	char digest[MAX_LAYERS][72];
	uint64_t done[MAX_LAYERS], total[MAX_LAYERS];
	size_t n;
	uint64_t sent;
	struct timespec last;
};
#define PROGRESS_MS 250

static bool send_line(int fd, char *answer);

static void on_pull_progress(const char *digest, uint64_t done, uint64_t total,
			     void *ud)
{
	struct pull_progress *p = ud;
	struct timespec now;
	size_t i;

	pthread_mutex_lock(&p->lock);
	for (i = 0; i < p->n && strncmp(p->digest[i], digest, 71); i++)
		;
	if (i == p->n && p->n < MAX_LAYERS)
		snprintf(p->digest[p->n++], sizeof(p->digest[0]), "%s", digest);
	if (i < p->n) {
		p->done[i] = done;
		p->total[i] = total;
	}
	uint64_t sum = 0, all = 0;
	for (i = 0; i < p->n; i++) {
		sum += p->done[i];
		all += p->total[i];
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	long ms = (now.tv_sec - p->last.tv_sec) * 1000 +
		  (now.tv_nsec - p->last.tv_nsec) / 1000000;
	if (p->s->srv->progress_token && sum > p->sent &&
	    (ms >= PROGRESS_MS || sum == all)) {
		char msg[160], a[32], b[32];
		cli_human_size(a, sizeof(a), (double)sum);
		cli_human_size(b, sizeof(b), (double)all);
		snprintf(msg, sizeof(msg), "%s: %s of %s", p->what, a, b);
		send_line(p->s->out,
			  mcp_progress_line(p->s->srv->progress_token,
					    (double)sum, (double)all, msg));
		p->sent = sum;
		p->last = now;
	}
	pthread_mutex_unlock(&p->lock);
}

/* ------------------------------------------------------------------ */
/* Sandboxes */

static json_t *tool_create(struct session *s, json_t *args)
{
	msb_sandbox_options o = MSB_SANDBOX_OPTIONS_INIT;
	msb_pull_options po = MSB_PULL_OPTIONS_INIT;
	msb_volume_mount vols[64];
	msb_bind_mount binds[16];
	char *real[17] = {0};
	char **env = NULL, **labels = NULL, gen[64];
	json_t *err = NULL, *v;
	size_t i;

	o.name = arg_str(args, "name");
	o.detached = arg_bool(args, "detached");
	o.auto_remove = !o.detached;
	if (o.detached && !o.name) {
		cli_gen_name(gen, sizeof(gen));
		o.name = gen;
	}
	if (o.name && find(s, o.name)) {
		/* ours, unless it went away (its limits stopped it) */
		char *info = NULL;
		if (msb_sandbox_inspect(o.name, &info) == 0 ||
		    msb_last_error()->code != MSB_ENOTFOUND) {
			free(info);
			return mcp_tool_error("sandbox `%s` exists already",
					      o.name);
		}
		drop(s, find(s, o.name));
	}
	o.image = arg_str(args, "image");
	if (o.image && (o.image[0] == '/' || o.image[0] == '.')) {
		if ((err = allowed_path(&real[16], s, o.image, "disk image")))
			return err;
		o.image = real[16];
	}
	o.cpus = (unsigned int)arg_int(args, "cpus", 0);
	o.memory_mib = (unsigned int)arg_int(args, "memory_mib", 0);
	o.boot_timeout_s = (unsigned int)arg_int(args, "boot_timeout", 0);
	o.idle_timeout_s = (unsigned int)arg_int(args, "idle_timeout", 0);
	o.max_duration_s = (unsigned int)arg_int(args, "max_duration", 0);
	o.workdir = arg_str(args, "workdir");
	o.user = arg_str(args, "user");
	const char *net = arg_str(args, "network");
	if (net)
		o.network = !strcmp(net, "all")    ? MSB_NETWORK_ALL
			    : !strcmp(net, "none") ? MSB_NETWORK_NONE
						   : MSB_NETWORK_PUBLIC;
	const char *pull = arg_str(args, "pull");
	if (pull) {
		int policy;
		cli_parse_policy(pull, &policy);
		po.policy = (msb_pull_policy)policy;
	}
	struct pull_progress *pp = calloc(1, sizeof(*pp));
	if (!pp)
		return mcp_tool_error("out of memory");
	*pp = (struct pull_progress){.s = s,
				     .what = "pulling the image",
				     .lock = PTHREAD_MUTEX_INITIALIZER};
	po.progress = on_pull_progress;
	po.userdata = pp;
	o.pull = &po;
	if ((v = json_object_get(args, "env"))) {
		if ((err = env_array(&env, v, "env")))
			goto out;
		o.env = (const char *const *)env;
	}
	/* The client's labels, then ours (a later key wins). */
	json_t *lab = json_object_get(args, "labels");
	json_t *all = lab ? json_deep_copy(lab) : json_object();
	if (!all ||
	    json_object_set_new(all, "mcp", json_string(s->label + 4)) < 0) {
		json_decref(all);
		err = mcp_tool_error("out of memory");
		goto out;
	}
	err = env_array(&labels, all, "label");
	json_decref(all);
	if (err)
		goto out;
	o.labels = (const char *const *)labels;
	json_array_foreach(json_object_get(args, "volumes"), i, v)
	{
		vols[i] = (msb_volume_mount){arg_str(v, "name"),
					     arg_str(v, "path"),
					     arg_bool(v, "readonly")};
		o.n_volumes = i + 1;
	}
	o.volumes = vols;
	json_array_foreach(json_object_get(args, "binds"), i, v)
	{
		if ((err = allowed_path(&real[i], s, arg_str(v, "host_path"),
					"host path")))
			goto out;
		binds[i] = (msb_bind_mount){real[i], arg_str(v, "path"),
					    arg_bool(v, "readonly")};
		o.n_binds = i + 1;
	}
	o.binds = binds;

	struct entry *grown = realloc(s->v, (s->n + 1) * sizeof(*s->v));
	if (!grown) {
		err = mcp_tool_error("out of memory");
		goto out;
	}
	s->v = grown;
	msb_sandbox *sb;
	if (msb_sandbox_create(&sb, &o) < 0) {
		err = lib_error("create");
		goto out;
	}
	char *name = strdup(msb_sandbox_name(sb));
	if (!name) {
		msb_sandbox_free(sb);
		err = mcp_tool_error("out of memory");
		goto out;
	}
	s->v[s->n++] = (struct entry){name, sb, o.detached};
	err = mcp_tool_result(json_pack("{s:s, s:o, s:b, s:s}", "name", name,
					"image", text_or_null(o.image),
					"detached", o.detached, "status",
					"running"));
out:
	free(pp);
	free_env(env);
	free_env(labels);
	for (i = 0; i < 17; i++)
		free(real[i]);
	return err;
}

static json_t *tool_list(struct session *s, json_t *args)
{
	msb_sandbox_info *v;
	size_t n;
	bool only = arg_bool(args, "mcp_only");

	if (msb_sandbox_list(&v, &n) < 0)
		return lib_error("list");
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < n; i++) {
		json_t *labels = json_object();
		bool mcp = false;
		for (size_t k = 0; labels && v[i].labels && v[i].labels[k];
		     k++) {
			const char *l = v[i].labels[k], *eq = strchr(l, '=');
			if (!eq)
				continue;
			char *key = strndup(l, (size_t)(eq - l));
			json_t *val = mcp_text(eq + 1, strlen(eq + 1));
			json_t *kt = key ? mcp_text(key, strlen(key)) : NULL;
			if (kt && val)
				json_object_set(labels, json_string_value(kt),
						val);
			mcp = mcp || (key && !strcmp(key, "mcp"));
			free(key);
			json_decref(kt);
			json_decref(val);
		}
		if (only && !mcp) {
			json_decref(labels);
			continue;
		}
		json_t *e = json_pack(
			"{s:o, s:o, s:o, s:i, s:i, s:b, s:I, s:o, s:b}", "name",
			text_or_null(v[i].name), "status",
			text_or_null(v[i].status), "image",
			text_or_null(v[i].image), "cpus", (int)v[i].cpus,
			"memory_mib", (int)v[i].memory_mib, "ephemeral",
			v[i].ephemeral, "created", (json_int_t)v[i].created,
			"labels", labels ? labels : json_object(),
			"this_session", find(s, v[i].name) != NULL);
		if (!e || json_array_append_new(arr, e) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	msb_sandbox_list_free(v, n);
	if (!arr)
		return mcp_tool_error("out of memory");
	return mcp_tool_result(json_pack("{s:o}", "sandboxes", arr));
}

static json_t *tool_stop(struct session *s, json_t *args)
{
	const char *name = arg_str(args, "name");
	json_t *t = json_object_get(args, "timeout");
	unsigned int ms = t ? (unsigned int)(json_number_value(t) * 1000) : 0;
	msb_sandbox *sb;
	bool conn;
	json_t *err = get_sandbox(&sb, &conn, s, name);
	if (err)
		return err;
	/* 0 is the library's default (10 s): ask for at least 1 ms */
	int rc = msb_sandbox_stop(sb, t && !ms ? 1 : ms);
	if (conn)
		msb_sandbox_free(sb);
	if (rc < 0)
		return lib_error("stop");
	/* Ours: the handle is spent (one not detached is removed now). */
	struct entry *e = find(s, name);
	bool removed = e && !e->detached;
	if (e)
		drop(s, e);
	return mcp_tool_result(json_pack("{s:s, s:s}", "name", name, "status",
					 removed ? "removed" : "stopped"));
}

static json_t *tool_remove(struct session *s, json_t *args)
{
	const char *name = arg_str(args, "name");
	struct entry *e = find(s, name);

	if (msb_sandbox_remove(name, arg_bool(args, "force")) < 0) {
		/* ours, not detached: removed when it stopped */
		if (!(e && !e->detached &&
		      msb_last_error()->code == MSB_ENOTFOUND))
			return lib_error("remove");
	}
	json_t *r = json_pack("{s:s, s:b}", "name", name, "removed", 1);
	if (e)
		drop(s, e);
	return mcp_tool_result(r);
}

/* ------------------------------------------------------------------ */
/* Commands */

struct collect {
	char *buf[2];
	size_t len[2];
	uint64_t total[2];
	size_t cap;
	bool oom;
};

static int on_output(int stream, const void *data, size_t len, void *ud)
{
	struct collect *c = ud;
	int i = stream == 2;
	c->total[i] += len;
	size_t room = c->cap - c->len[i], n = len < room ? len : room;
	if (!n)
		return 0;
	if (!c->buf[i] && !(c->buf[i] = malloc(c->cap ? c->cap : 1))) {
		c->oom = true;
		return 1;
	}
	memcpy(c->buf[i] + c->len[i], data, n);
	c->len[i] += n;
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/*
 * Run @argv (or @script with /bin/sh -c) through a streaming handle, so
 * that its timeout and a cancellation from the client (checked every
 * 100 ms) kill it, and stdin is fed as the command reads it.
 */
static json_t *run_exec(struct session *s, json_t *args,
			const char *const *argv, const char *script)
{
	msb_exec_options eo = MSB_EXEC_OPTIONS_INIT;
	struct collect c = {.cap = (size_t)arg_int(args, "max_bytes",
						   EXEC_MAX_BYTES_DEFAULT)};
	const char *shell[] = {"/bin/sh", "-c", script, NULL};
	const char *in = NULL;
	size_t left = 0;
	char **env = NULL;
	msb_exec *e = NULL;
	msb_sandbox *sb = NULL;
	bool conn = false;
	json_t *err, *v;

	json_t *t = json_object_get(args, "timeout");
	double secs = t ? json_number_value(t) : EXEC_TIMEOUT_DEFAULT;
	uint64_t start = now_ms(), ms = (uint64_t)(secs * 1000);
	uint64_t deadline = secs > 0 ? start + (ms ? ms : 1) : 0;
	eo.cwd = arg_str(args, "cwd");
	eo.user = arg_str(args, "user");
	if ((v = json_object_get(args, "stdin"))) {
		in = json_string_value(v);
		left = json_string_length(v);
	}
	if ((v = json_object_get(args, "env"))) {
		if ((err = env_array(&env, v, "env")))
			goto out;
		eo.env = (const char *const *)env;
	}
	if ((err = get_sandbox(&sb, &conn, s, arg_str(args, "name"))))
		goto out;
	if (msb_exec_start(&e, sb, script ? shell : argv, &eo) < 0) {
		err = lib_error("exec");
		goto out;
	}
	if (!left)
		msb_exec_close_stdin(e);
	int code = 0, sig = 0;
	bool exited = false;
	while (!exited && !cancelled() && (!deadline || now_ms() < deadline)) {
		if (left) {
			long w = msb_exec_try_write(e, in, left);
			/* < 0: it ended, or closed its stdin: the rest goes */
			size_t n = w < 0 ? left : (size_t)w;
			in += n;
			left -= n;
			if (!left)
				msb_exec_close_stdin(e);
		}
		msb_exec_event ev;
		int rc = msb_exec_next(e, &ev, 100);
		if (rc == -MSB_ETIMEDOUT)
			continue;
		if (rc < 0) {
			err = lib_error("exec");
			goto out;
		}
		if (ev.type == MSB_EXEC_STDOUT || ev.type == MSB_EXEC_STDERR)
			on_output(ev.type == MSB_EXEC_STDOUT ? 1 : 2, ev.data,
				  ev.len, &c);
		if (ev.type == MSB_EXEC_EXITED) {
			code = ev.exit_code;
			sig = ev.signal;
			exited = true;
		}
	}
	if (!exited) {
		/* its process group; freeing the handle kills the rest */
		msb_exec_signal(e, SIGKILL);
		err = cancelled() ? mcp_tool_error("cancelled")
				  : mcp_tool_error("timed out after %g s: the "
						   "command and its process "
						   "group were killed",
						   secs);
	} else if (c.oom) {
		err = mcp_tool_error("out of memory");
	} else {
		err = mcp_tool_result(json_pack(
			"{s:i, s:i, s:o, s:o, s:b, s:I, s:I, s:I}", "exit_code",
			code, "signal", sig, "stdout",
			mcp_text(c.buf[0], c.len[0]), "stderr",
			mcp_text(c.buf[1], c.len[1]), "truncated",
			c.total[0] > c.len[0] || c.total[1] > c.len[1],
			"stdout_bytes", (json_int_t)c.total[0], "stderr_bytes",
			(json_int_t)c.total[1], "duration_ms",
			(json_int_t)(now_ms() - start)));
	}
out:
	msb_exec_free(e);
	if (conn)
		msb_sandbox_free(sb);
	free(c.buf[0]);
	free(c.buf[1]);
	free_env(env);
	return err;
}

static json_t *tool_exec(struct session *s, json_t *args)
{
	json_t *cmd = json_object_get(args, "command"), *v;
	size_t n = json_array_size(cmd), i;
	const char **argv = calloc(n + 1, sizeof(char *));
	if (!argv)
		return mcp_tool_error("out of memory");
	json_array_foreach(cmd, i, v) argv[i] = json_string_value(v);
	json_t *r = run_exec(s, args, argv, NULL);
	free(argv);
	return r;
}

/* ------------------------------------------------------------------ */
/* Files */

struct sink {
	char *buf;
	size_t len, cap;
	bool truncated;
};

static int read_sink(const void *data, size_t len, void *ud)
{
	struct sink *k = ud;
	size_t room = k->cap - k->len, n = len < room ? len : room;
	memcpy(k->buf + k->len, data, n);
	k->len += n;
	if (n < len) {
		k->truncated = true;
		return 1;
	}
	return 0;
}

static json_t *tool_fs_read(struct session *s, json_t *args)
{
	const char *path = arg_str(args, "path");
	const char *enc = arg_str(args, "encoding");
	bool b64 = enc && !strcmp(enc, "base64");
	struct sink k = {.cap = (size_t)arg_int(args, "max_bytes",
						READ_MAX_BYTES_DEFAULT)};
	msb_sandbox *sb;
	bool conn;
	json_t *err;

	if ((err = get_sandbox(&sb, &conn, s, arg_str(args, "name"))))
		return err;
	if (!(k.buf = malloc(k.cap))) {
		err = mcp_tool_error("out of memory");
		goto out;
	}
	if (msb_sandbox_fs_read_stream(sb, path, read_sink, &k) < 0 &&
	    !k.truncated) {
		err = lib_error("read");
		goto out;
	}
	err = mcp_tool_result(json_pack(
		"{s:s, s:o, s:s, s:I, s:b}", "path", path, "content",
		b64 ? mcp_base64_encode(k.buf, k.len) : mcp_text(k.buf, k.len),
		"encoding", b64 ? "base64" : "utf8", "bytes", (json_int_t)k.len,
		"truncated", k.truncated));
out:
	free(k.buf);
	if (conn)
		msb_sandbox_free(sb);
	return err;
}

static json_t *tool_fs_write(struct session *s, json_t *args)
{
	const char *path = arg_str(args, "path");
	json_t *content = json_object_get(args, "content");
	const char *enc = arg_str(args, "encoding");
	void *data = NULL;
	size_t len;
	msb_sandbox *sb;
	bool conn;
	json_t *err;

	if (path[0] != '/')
		return mcp_tool_error("path `%s` is not absolute", path);
	if (enc && !strcmp(enc, "base64")) {
		if (!mcp_base64_decode(&data, &len, json_string_value(content),
				       json_string_length(content)))
			return mcp_tool_error("content is not valid base64");
	} else {
		len = json_string_length(content);
	}
	if ((err = get_sandbox(&sb, &conn, s, arg_str(args, "name")))) {
		free(data);
		return err;
	}
	/* The parent, as mkdir -p makes it. */
	const char *slash = strrchr(path, '/');
	char *parent = strndup(path, (size_t)(slash - path));
	if (parent && *parent && msb_sandbox_fs_mkdir(sb, parent, 0, 1) < 0) {
		err = lib_error("mkdir");
		goto out;
	}
	if (msb_sandbox_fs_write(
		    sb, path, data ? data : json_string_value(content), len,
		    (unsigned int)arg_int(args, "mode", 0),
		    arg_bool(args, "append") ? MSB_FS_WRITE_APPEND : 0) < 0) {
		err = lib_error("write");
		goto out;
	}
	err = mcp_tool_result(json_pack("{s:s, s:I}", "path", path,
					"bytes_written", (json_int_t)len));
out:
	free(parent);
	free(data);
	if (conn)
		msb_sandbox_free(sb);
	return err;
}

static const char *type_name(msb_fs_type t)
{
	static const char *const names[] = {
		[MSB_FS_FILE] = "file",       [MSB_FS_DIR] = "dir",
		[MSB_FS_SYMLINK] = "symlink", [MSB_FS_CHAR] = "char",
		[MSB_FS_BLOCK] = "block",     [MSB_FS_FIFO] = "fifo",
		[MSB_FS_SOCKET] = "socket",   [MSB_FS_UNKNOWN] = "unknown",
	};
	return (unsigned)t <= MSB_FS_UNKNOWN ? names[t] : "unknown";
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const msb_fs_entry *)a)->name,
		      ((const msb_fs_entry *)b)->name);
}

static json_t *tool_fs_list(struct session *s, json_t *args)
{
	const char *path = arg_str(args, "path");
	msb_fs_entry *v;
	size_t n;
	msb_sandbox *sb;
	bool conn;
	json_t *err;

	if ((err = get_sandbox(&sb, &conn, s, arg_str(args, "name"))))
		return err;
	int rc = msb_sandbox_fs_list(&v, &n, sb, path);
	if (conn)
		msb_sandbox_free(sb);
	if (rc < 0)
		return lib_error("list");
	qsort(v, n, sizeof(*v), by_name);
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < n && i < MAX_LIST; i++) {
		json_t *e = json_pack(
			"{s:o, s:s, s:I, s:i, s:I, s:o}", "name",
			text_or_null(v[i].name), "type", type_name(v[i].type),
			"size", (json_int_t)v[i].size, "mode", (int)v[i].mode,
			"mtime", (json_int_t)(v[i].mtime_ns / 1000000000),
			"target", text_or_null(v[i].target));
		if (!e || json_array_append_new(arr, e) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	msb_fs_entries_free(v, n);
	if (!arr)
		return mcp_tool_error("out of memory");
	return mcp_tool_result(json_pack("{s:s, s:o, s:b}", "path", path,
					 "entries", arr, "truncated",
					 n > MAX_LIST));
}

static json_t *tool_fs_remove(struct session *s, json_t *args)
{
	const char *path = arg_str(args, "path");
	msb_sandbox *sb;
	bool conn;
	json_t *err;

	if ((err = get_sandbox(&sb, &conn, s, arg_str(args, "name"))))
		return err;
	int rc = msb_sandbox_fs_remove(sb, path, arg_bool(args, "recursive"));
	if (conn)
		msb_sandbox_free(sb);
	if (rc < 0)
		return lib_error("remove");
	return mcp_tool_result(
		json_pack("{s:s, s:b}", "path", path, "removed", 1));
}

/* ------------------------------------------------------------------ */
/* Metrics, images, volumes */

static json_t *tool_metrics(struct session *s, json_t *args)
{
	msb_metrics m;
	msb_sandbox *sb;
	bool conn;
	json_t *err;

	if ((err = get_sandbox(&sb, &conn, s, arg_str(args, "name"))))
		return err;
	int rc = msb_sandbox_metrics(&m, sb);
	if (conn)
		msb_sandbox_free(sb);
	if (rc < 0)
		return lib_error("metrics");
	return mcp_tool_result(json_pack(
		"{s:I, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
		"cpu_time_ms", (json_int_t)m.cpu_time_ms, "cpu_percent",
		m.cpu_percent, "memory_bytes", (json_int_t)m.memory_bytes,
		"guest_memory_used_bytes",
		(json_int_t)m.guest_memory_used_bytes,
		"guest_memory_total_bytes",
		(json_int_t)m.guest_memory_total_bytes, "disk_read_bytes",
		(json_int_t)m.disk_read_bytes, "disk_write_bytes",
		(json_int_t)m.disk_write_bytes, "net_rx_bytes",
		(json_int_t)m.net_rx_bytes, "net_tx_bytes",
		(json_int_t)m.net_tx_bytes, "net_flows",
		(json_int_t)m.net_flows, "net_denied", (json_int_t)m.net_denied,
		"uptime_ms", (json_int_t)m.uptime_ms));
}

static json_t *tool_image_pull(struct session *s, json_t *args)
{
	msb_pull_options po = MSB_PULL_OPTIONS_INIT;
	msb_image *img;
	const char *policy = arg_str(args, "policy");

	if (policy) {
		int p;
		cli_parse_policy(policy, &p);
		po.policy = (msb_pull_policy)p;
	}
	po.platform = arg_str(args, "platform");
	struct pull_progress *pp = calloc(1, sizeof(*pp));
	if (!pp)
		return mcp_tool_error("out of memory");
	*pp = (struct pull_progress){
		.s = s, .what = "pulling", .lock = PTHREAD_MUTEX_INITIALIZER};
	po.progress = on_pull_progress;
	po.userdata = pp;
	int rc = msb_image_pull(&img, arg_str(args, "reference"), &po);
	free(pp);
	if (rc < 0)
		return lib_error("pull");
	json_t *r = mcp_tool_result(
		json_pack("{s:o, s:o, s:o, s:o, s:I}", "reference",
			  text_or_null(msb_image_reference(img)), "id",
			  text_or_null(msb_image_id(img)), "digest",
			  text_or_null(msb_image_digest(img)), "platform",
			  text_or_null(msb_image_platform(img)), "size",
			  (json_int_t)msb_image_size(img)));
	msb_image_free(img);
	return r;
}

static json_t *tool_volume_create(struct session *s, json_t *args)
{
	const char *name = arg_str(args, "name");
	long long quota = arg_int(args, "quota_bytes", 0);

	if (msb_volume_create(name, (uint64_t)quota) < 0)
		return lib_error("volume create");
	return mcp_tool_result(
		json_pack("{s:s, s:I}", "name", name, "quota_bytes",
			  (json_int_t)(quota ? quota : 1ll << 30)));
}

static json_t *call_tool(const char *tool, json_t *args, void *userdata)
{
	static const struct {
		const char *name;
		json_t *(*fn)(struct session *, json_t *);
	} tools[] = {
		{"sandbox_create", tool_create},
		{"sandbox_list", tool_list},
		{"sandbox_stop", tool_stop},
		{"sandbox_remove", tool_remove},
		{"sandbox_exec", tool_exec},
		{"sandbox_fs_read", tool_fs_read},
		{"sandbox_fs_write", tool_fs_write},
		{"sandbox_fs_list", tool_fs_list},
		{"sandbox_fs_remove", tool_fs_remove},
		{"sandbox_metrics", tool_metrics},
		{"image_pull", tool_image_pull},
		{"volume_create", tool_volume_create},
	};
	struct session *s = userdata;

	if (!strcmp(tool, "sandbox_shell"))
		return run_exec(s, args, NULL, arg_str(args, "script"));
	for (size_t i = 0; i < sizeof(tools) / sizeof(*tools); i++)
		if (!strcmp(tool, tools[i].name))
			return tools[i].fn(s, args);
	return mcp_tool_error("tool `%s` is not implemented", tool);
}

/* ------------------------------------------------------------------ */
/* The transport */

static bool write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* Answers, progress and the pull threads' notifications: one at a time. */
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

/* Send @answer (freed) and a newline. Return: false if the client is
 * gone. */
static bool send_line(int fd, char *answer)
{
	if (!answer)
		return true;
	size_t n = strlen(answer);
	char *line = realloc(answer, n + 2);
	if (!line) {
		free(answer);
		return true;
	}
	line[n] = '\n';
	pthread_mutex_lock(&out_lock);
	bool ok = write_all(fd, line, n + 1);
	pthread_mutex_unlock(&out_lock);
	free(line);
	return ok;
}

/* Kill and remove the session's sandboxes that are not detached; let go
 * of the others. */
static void end_session(struct session *s)
{
	for (size_t i = 0; i < s->n; i++) {
		struct entry *e = &s->v[i];
		if (!e->detached) {
			/* No guest sync: its disk goes anyway. */
			msb_sandbox_free(e->sb);
			if (msb_sandbox_remove(e->name, 1) < 0 &&
			    msb_last_error()->code != MSB_ENOTFOUND)
				cli_fail(0);
		} else {
			msb_sandbox_free(e->sb);
		}
		free(e->name);
	}
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

/* Whether @line holds only blanks (skipped, as a bare "\r\n" is). */
static bool blank(const char *line, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
			return false;
	return true;
}

/*
 * DOC: Requests in flight
 *
 * Tool calls run one at a time, in order, on a worker thread; the main
 * thread goes on reading stdin, and answers everything else at once (ping,
 * tools/list...) and takes notifications/cancelled: a call that has not
 * started is dropped, the one running is asked to stop (a command is
 * killed within 100 ms; other calls finish). A cancelled call gets no
 * answer, as the protocol asks. At the end of stdin the calls queued
 * still run and are answered; a signal, or a client that stopped reading,
 * cancels them.
 */
#define MAX_QUEUE 256
#define MAX_QUEUE_BYTES (64u << 20) /* of the queued messages' text */

struct worker {
	struct mcp_server *srv;
	int out;
	pthread_mutex_t lock;
	pthread_cond_t work; /* a call queued, or stop */
	pthread_cond_t idle; /* the queue is empty and no call runs */
	json_t *queue[MAX_QUEUE];
	size_t size[MAX_QUEUE]; /* each message's length */
	size_t head, n, bytes;
	json_t *current; /* the id of the call running, or NULL */
	bool stop;       /* no more calls will come */
	bool gone;       /* the client's stdout is closed */
};

static void *work(void *arg)
{
	struct worker *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->n && !w->stop)
			pthread_cond_wait(&w->work, &w->lock);
		if (!w->n)
			break;
		json_t *msg = w->queue[w->head];
		w->bytes -= w->size[w->head];
		w->head = (w->head + 1) % MAX_QUEUE;
		w->n--;
		w->current = json_incref(json_object_get(msg, "id"));
		__atomic_store_n(&cancel_call, 0, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&w->lock);

		char *answer = mcp_server_handle_msg(w->srv, msg);
		json_decref(msg);

		pthread_mutex_lock(&w->lock);
		bool drop = cancelled() || w->gone;
		pthread_mutex_unlock(&w->lock);
		bool sent = drop || send_line(w->out, answer);
		if (drop)
			free(answer);
		pthread_mutex_lock(&w->lock);
		w->gone = w->gone || !sent;
		json_decref(w->current);
		w->current = NULL;
		if (!w->n)
			pthread_cond_broadcast(&w->idle);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Drop the queued calls and stop the running one. Under w->lock. */
static void cancel_all(struct worker *w)
{
	while (w->n) {
		json_decref(w->queue[w->head]);
		w->head = (w->head + 1) % MAX_QUEUE;
		w->n--;
	}
	w->bytes = 0;
	if (w->current)
		__atomic_store_n(&cancel_call, 1, __ATOMIC_RELAXED);
}

/* notifications/cancelled of request @rid. Under w->lock. */
static void cancel_request(struct worker *w, const json_t *rid)
{
	size_t kept = 0;

	if (w->current && json_equal(rid, w->current))
		__atomic_store_n(&cancel_call, 1, __ATOMIC_RELAXED);
	for (size_t i = 0; i < w->n; i++) {
		size_t from = (w->head + i) % MAX_QUEUE;
		json_t *m = w->queue[from];
		if (json_equal(json_object_get(m, "id"), rid)) {
			json_decref(m);
			w->bytes -= w->size[from];
			continue;
		}
		size_t to = (w->head + kept++) % MAX_QUEUE;
		w->queue[to] = m;
		w->size[to] = w->size[from];
	}
	w->n = kept;
}

/* Handle one message: queue a tool call, take a cancellation, or answer.
 * Return: the answer to send now, or NULL. */
static char *take(struct worker *w, const char *line, size_t len)
{
	char *answer;
	json_t *msg = mcp_parse(line, len, &answer);
	if (!msg)
		return answer;
	const char *method = json_string_value(json_object_get(msg, "method"));
	const json_t *id = json_object_get(msg, "id");
	answer = NULL;
	if (method && id && !strcmp(method, "tools/call")) {
		pthread_mutex_lock(&w->lock);
		if (w->n == MAX_QUEUE || w->bytes + len > MAX_QUEUE_BYTES) {
			answer =
				mcp_error_answer(id, MCP_INTERNAL_ERROR,
						 "too many tool calls waiting");
		} else {
			size_t at = (w->head + w->n++) % MAX_QUEUE;
			w->queue[at] = json_incref(msg);
			w->size[at] = len;
			w->bytes += len;
			pthread_cond_signal(&w->work);
		}
		pthread_mutex_unlock(&w->lock);
	} else if (method && !id &&
		   !strcmp(method, "notifications/cancelled")) {
		const json_t *rid = json_object_get(
			json_object_get(msg, "params"), "requestId");
		pthread_mutex_lock(&w->lock);
		if (rid)
			cancel_request(w, rid);
		pthread_mutex_unlock(&w->lock);
	} else {
		answer = mcp_server_handle_msg(w->srv, msg);
	}
	json_decref(msg);
	return answer;
}

/* Whether the client's stdout was found closed. */
static bool client_gone(struct worker *w)
{
	pthread_mutex_lock(&w->lock);
	bool gone = w->gone;
	pthread_mutex_unlock(&w->lock);
	return gone;
}

/*
 * Read messages from @in, one a line, until the end of input, a signal or
 * a write error; answer them on @out (tool calls through @w).
 */
static void serve(struct worker *w, int in, int out)
{
	size_t cap = 1 << 16, len = 0;
	char *line = malloc(cap);
	char chunk[65536];
	bool too_long = false;

	if (!line)
		return;
	while (!got_signal && !client_gone(w)) {
		ssize_t n = read(in, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (char *p = chunk, *end = chunk + n; p < end;) {
			char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t take_n = (size_t)((nl ? nl : end) - p);
			if (!too_long && len + take_n > MCP_MAX_MESSAGE) {
				too_long = true;
				len = 0;
			}
			if (!too_long && len + take_n > cap) {
				size_t c = cap;
				while (c < len + take_n)
					c *= 2;
				char *g = realloc(line, c);
				if (g) {
					line = g;
					cap = c;
				} else {
					too_long = true;
					len = 0;
				}
			}
			if (!too_long) {
				memcpy(line + len, p, take_n);
				len += take_n;
			}
			p += take_n;
			if (!nl)
				break;
			p++; /* the newline */
			char *answer = NULL;
			if (too_long)
				answer = mcp_error_line(MCP_PARSE_ERROR,
							"message too large");
			else if (!blank(line, len))
				answer = take(w, line, len);
			too_long = false;
			len = 0;
			if (!send_line(out, answer)) {
				pthread_mutex_lock(&w->lock);
				w->gone = true;
				pthread_mutex_unlock(&w->lock);
				goto done;
			}
			if (got_signal)
				goto done;
		}
	}
	/* A last message without its newline. */
	if (!got_signal && len && !too_long && !blank(line, len))
		send_line(out, take(w, line, len));
done:
	free(line);
}

/* Let the worker finish what is queued (or, after a signal or with the
 * client gone, cancel it), then stop it. */
static void finish(struct worker *w, pthread_t thread)
{
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->work);
	while (w->n || w->current) {
		if (got_signal || w->gone)
			cancel_all(w);
		struct timespec t;
		clock_gettime(CLOCK_REALTIME, &t);
		t.tv_nsec += 100 * 1000000;
		if (t.tv_nsec >= 1000000000) {
			t.tv_sec++;
			t.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&w->idle, &w->lock, &t);
	}
	pthread_mutex_unlock(&w->lock);
	pthread_join(thread, NULL);
}

int cmd_mcp(int argc, char **argv)
{
	enum { OPT_ALLOW = 0x400 };
	static const struct option longopts[] = {
		{"allow-host-path", required_argument, NULL, OPT_ALLOW},
		{0},
	};
	struct cli_args a = {
		.cmd = "mcp",
		.usage = mcp_usage,
		.synopsis = "",
		.shortopts = "h",
		.longopts = longopts,
		.min_pos = 0,
		.max_pos = 0,
	};
	struct session s = {0};
	int c, status = 0;

	cli_args_init(&a, argc, argv);
	while ((c = cli_args_next(&a)) >= 0) {
		if (c != OPT_ALLOW)
			continue;
		struct stat st;
		char *r = realpath(a.optarg, NULL);
		if (!r || stat(r, &st) < 0 || !S_ISDIR(st.st_mode)) {
			free(r);
			cli_usage_error(&a,
					"--allow-host-path `%s` is not a "
					"directory",
					a.optarg);
			status = 2;
			goto out;
		}
		if (s.nallowed == MAX_ALLOWED) {
			free(r);
			cli_usage_error(&a,
					"too many --allow-host-path options "
					"(at most %d)",
					MAX_ALLOWED);
			status = 2;
			goto out;
		}
		s.allowed[s.nallowed++] = r;
	}
	if (c == CLI_ARGS_HELP || c == CLI_ARGS_ERROR) {
		status = c == CLI_ARGS_HELP ? 0 : 2;
		goto out;
	}
	snprintf(s.label, sizeof(s.label), "mcp=%ld", (long)getpid());

	/* The client's pipes, for protocol messages only. */
	int in = fcntl(0, F_DUPFD_CLOEXEC, 3);
	int out = fcntl(1, F_DUPFD_CLOEXEC, 3);
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (in < 0 || out < 0 || null < 0 || dup2(null, 0) < 0 ||
	    dup2(2, 1) < 0) {
		cli_err("mcp: setting up stdio: %s", strerror(errno));
		status = 1;
		goto out;
	}
	close(null);

	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct mcp_server srv;
	s.srv = &srv;
	s.out = out;
	if (mcp_server_init(&srv, call_tool, &s) < 0) {
		cli_err("mcp: out of memory");
		status = 1;
		goto out;
	}
	struct worker w = {.srv = &srv,
			   .out = out,
			   .lock = PTHREAD_MUTEX_INITIALIZER,
			   .work = PTHREAD_COND_INITIALIZER,
			   .idle = PTHREAD_COND_INITIALIZER};
	pthread_t thread;
	sigset_t block, old;
	/* Signals go to this thread (its read() returns), not the worker. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	int rc = pthread_create(&thread, NULL, work, &w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		cli_err("mcp: pthread_create: %s", strerror(rc));
		mcp_server_fini(&srv);
		status = 1;
		goto out;
	}
	serve(&w, in, out);
	finish(&w, thread);
	end_session(&s);
	mcp_server_fini(&srv);
	close(in);
	close(out);
out:
	for (size_t i = 0; i < s.nallowed; i++)
		free(s.allowed[i]);
	return status;
}
