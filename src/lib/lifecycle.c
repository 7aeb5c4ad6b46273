// SPDX-License-Identifier: Apache-2.0
/*
 * Sandboxes by name: the sandboxes table, start, connect, remove, list.
 *
 * DOC: Theory of operation
 *
 * A sandbox exists while its row exists in the sandboxes table (and its
 * folder, $MSB_HOME/sandboxes/<name>/). The library inserts the row when
 * it creates the sandbox, with the options it was created with (config,
 * JSON), which `start` reuses. From then on the sandbox's supervisor is
 * the only writer of its runtime state (status, pid, runs). Whether a
 * supervisor is alive is decided by its lock (<dir>/lock, held with
 * flock for the supervisor's lifetime), never by a pid alone; a row that
 * says running without a live lock is repaired to "crashed".
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "lib/db.h"
#include "lib/image/image.h"
#include "lib/internal.h"

static char *sandbox_dir(const char *home, const char *name)
{
	return xasprintf("%s/sandboxes/%s", home, name);
}

/* Is a supervisor holding the sandbox's lock? */
static bool supervisor_alive(const char *home, const char *name)
{
	_cleanup_free_ char *dir = sandbox_dir(home, name);
	_cleanup_free_ char *path = dir ? xasprintf("%s/lock", dir) : NULL;
	_cleanup_close_ int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;

	if (fd < 0)
		return false;
	if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
		flock(fd, LOCK_UN);
		return false;
	}
	return errno == EWOULDBLOCK;
}

/*
 * Wait up to @timeout_ms for the supervisor of @name to release its lock.
 * One descriptor of the lock for the whole wait: an ephemeral sandbox's
 * supervisor removes its folder (the lock's name) before it deletes its
 * row, and holds the lock until it exits.
 */
void msb__wait_supervisor_exit(const char *name, unsigned int timeout_ms)
{
	struct msb_paths paths;

	if (msb__paths_home(&paths) < 0)
		return;
	_cleanup_free_ char *dir = sandbox_dir(paths.home, name);
	_cleanup_free_ char *path = dir ? xasprintf("%s/lock", dir) : NULL;
	_cleanup_close_ int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	msb__paths_clear(&paths);
	for (unsigned int t = 0; fd >= 0 && t < timeout_ms; t += 10) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			flock(fd, LOCK_UN);
			break;
		}
		if (errno != EWOULDBLOCK)
			break;
		struct timespec ts = {.tv_nsec = 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

/* A JSON array of the strings of @v (NULL: empty). */
static json_t *strv_json(const char *const *v)
{
	json_t *a = json_array();

	for (; a && v && *v; v++)
		json_array_append_new(a, json_string(*v));
	return a;
}

/* The network options (version 3), as msb_sandbox_inspect() shows them. */
static json_t *network_json(const msb_sandbox_options *o)
{
	static const char *const presets[] = {"public", "all", "none"};
	msb_network_preset net = msb__network_preset(o); /* -Dnet=false */
	json_t *ports = json_array();

	for (size_t i = 0; ports && i < o->n_ports; i++) {
		const msb_port *p = &o->ports[i];
		json_array_append_new(
			ports,
			json_pack("{s:s, s:I, s:I, s:s}", "host_ip",
				  p->host_ip ? p->host_ip : "127.0.0.1",
				  "host_port", (json_int_t)p->host_port,
				  "guest_port", (json_int_t)p->guest_port,
				  "protocol",
				  p->protocol == MSB_PORT_UDP ? "udp" : "tcp"));
	}
	return json_pack("{s:s, s:o, s:o, s:o, s:o}", "preset",
			 presets[net <= MSB_NETWORK_NONE ? net : 0], "rules",
			 strv_json(o->net_rules), "block_domains",
			 strv_json(o->block_domains), "block_suffixes",
			 strv_json(o->block_suffixes), "ports",
			 ports ? ports : json_array());
}

static char *config_json(const msb_sandbox_options *o, const json_t *tls)
{
	json_t *env = json_array();
	for (const char *const *e = o->env; env && e && *e; e++)
		json_array_append_new(env, json_string(*e));
	json_t *tmpfs = json_array();
	for (size_t i = 0; tmpfs && i < o->n_tmpfs; i++)
		json_array_append_new(
			tmpfs,
			json_pack("{s:s, s:I, s:I}", "path", o->tmpfs[i].path,
				  "size", (json_int_t)o->tmpfs[i].size_bytes,
				  "mode", (json_int_t)o->tmpfs[i].mode));
	json_t *binds = json_array();
	for (size_t i = 0; binds && i < o->n_binds; i++)
		json_array_append_new(binds,
				      json_pack("{s:s, s:s, s:b}", "host",
						o->binds[i].host_path, "path",
						o->binds[i].path, "ro",
						o->binds[i].readonly != 0));
	json_t *vols = json_array();
	for (size_t i = 0; vols && i < o->n_volumes; i++)
		json_array_append_new(vols,
				      json_pack("{s:s, s:s, s:b}", "name",
						o->volumes[i].name, "path",
						o->volumes[i].path, "ro",
						o->volumes[i].readonly != 0));
	json_t *c = json_pack(
		"{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:o, s:o, s:o, s:o, s:s?}",
		"cpus", (json_int_t)(o->cpus ? o->cpus : 1), "memory_mib",
		(json_int_t)(o->memory_mib ? o->memory_mib : 512),
		"boot_timeout_s", (json_int_t)o->boot_timeout_s,
		"idle_timeout_s", (json_int_t)o->idle_timeout_s,
		"max_duration_s", (json_int_t)o->max_duration_s,
		"root_size_mib", (json_int_t)o->root_size_mib, "root_writable",
		(json_int_t)o->root_writable, "root_fstype",
		o->root_fstype ? o->root_fstype : "", "env",
		env ? env : json_array(), "tmpfs", tmpfs ? tmpfs : json_array(),
		"volumes", vols ? vols : json_array(), "binds",
		binds ? binds : json_array(), "image", o->image);
	json_t *rl = json_array();
	for (const char *const *r = o->rlimits; rl && r && *r; r++)
		json_array_append_new(rl, json_string(*r));
	json_t *ep = NULL, *cmd = NULL;
	if (o->entrypoint) {
		ep = json_array();
		for (const char *const *a = o->entrypoint; ep && *a; a++)
			json_array_append_new(ep, json_string(*a));
	}
	if (o->cmd) {
		cmd = json_array();
		for (const char *const *a = o->cmd; cmd && *a; a++)
			json_array_append_new(cmd, json_string(*a));
	}
	static const char *const policies[] = {"no", "on-failure", "always"};
	/* The main process (version 2; its input, version 4); no_template
	   (version 5); on_idle (version 6). */
	if ((c &&
	     json_object_update_new(
		     c, json_pack("{s:b, s:o*, s:o*, s:s, s:I, s:b, s:b, s:b}",
				  "run_main", o->run_main != 0, "entrypoint",
				  ep, "cmd", cmd, "restart",
				  policies[o->restart <= MSB_RESTART_ALWAYS
						   ? o->restart
						   : 0],
				  "restart_max", (json_int_t)o->restart_max,
				  "auto_remove", o->auto_remove != 0,
				  "main_stdin", o->main_stdin != 0, "main_tty",
				  o->main_tty != 0)) < 0) ||
	    (c && o->no_template &&
	     json_object_set_new(c, "no_template", json_true()) < 0) ||
	    (c && o->on_idle == MSB_IDLE_SUSPEND &&
	     json_object_set_new(c, "on_idle", json_string("suspend")) < 0)) {
		json_decref(c);
		c = NULL;
	}
	/* The exec defaults (version 2). */
	if (c && json_object_update_new(
			 c, json_pack("{s:s?, s:s?, s:o, s:I, s:s?}", "workdir",
				      o->workdir, "user", o->user, "rlimits",
				      rl ? rl : json_array(), "exec_timeout_ms",
				      (json_int_t)o->exec_timeout_ms,
				      "hostname", o->hostname)) < 0) {
		json_decref(c);
		c = NULL;
	}
	/* The network (version 3). */
	json_t *net = network_json(o);
	if (c && (!net || json_object_set_new(c, "network", net) < 0)) {
		json_decref(c);
		c = NULL;
	}
	/* Secrets and TLS interception (version 6): never a value. */
	if (c && tls &&
	    json_object_set_new(c, "tls", json_deep_copy(tls)) < 0) {
		json_decref(c);
		c = NULL;
	}
	char *s = c ? json_dumps(c, JSON_COMPACT) : NULL;
	json_decref(c);
	return s;
}

/* The labels of @o as a JSON object (malloc'd text), or NULL. */
static char *labels_json(const msb_sandbox_options *o)
{
	json_t *l = json_object();
	for (const char *const *e = o->labels; l && e && *e; e++) {
		const char *eq = strchr(*e, '=');
		char key[129];
		snprintf(key, sizeof(key), "%.*s", (int)(eq - *e), *e);
		json_object_set_new(l, key, json_string(eq + 1));
	}
	char *s = l ? json_dumps(l, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(l);
	return s;
}

/* "key=value" entries of a JSON object, NULL-terminated (one malloc per
 * entry and one for the array), or NULL. */
static char **labels_from(const char *text)
{
	json_t *l = json_loads(text ? text : "{}", 0, NULL);
	size_t n = json_object_size(l), i = 0;
	char **v = calloc(n + 1, sizeof(char *));
	const char *k;
	json_t *val;

	json_object_foreach(l, k, val)
	{
		if (v && i < n &&
		    asprintf(&v[i], "%s=%s", k,
			     json_string_value(val) ? json_string_value(val)
						    : "") >= 0)
			i++;
	}
	json_decref(l);
	return v;
}

int msb__state_insert(const char *home, const char *name,
		      const msb_sandbox_options *opts, const json_t *tls)
{
	sqlite3 *db;
	sqlite3_stmt *st = NULL;
	/* An image named by an ID prefix is recorded by its full ID, which
	 * no image pulled later can make ambiguous. */
	_cleanup_free_ char *full_id =
		opts->image ? msb__image_full_id(home, opts->image) : NULL;
	msb_sandbox_options o = *opts;
	if (full_id)
		o.image = full_id;
	opts = &o;
	_cleanup_free_ char *config = config_json(opts, tls);
	_cleanup_free_ char *labels = labels_json(opts);
	int rc;

	if (!config || !labels)
		return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	if ((rc = msb__db_open(&db, home)) < 0)
		return rc;
	if (sqlite3_prepare_v2(db,
			       "INSERT INTO sandboxes (name, config, status, "
			       "image, ephemeral, created, updated, labels) "
			       "VALUES (?, ?, 'created', ?, ?, ?, ?, ?)",
			       -1, &st, NULL) != SQLITE_OK) {
		rc = msb__error(MSB_ESYS, 0, "database: %s",
				sqlite3_errmsg(db));
		goto out;
	}
	sqlite3_int64 now = (sqlite3_int64)time(NULL);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, config, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, labels, -1, SQLITE_STATIC);
	if (opts->image)
		sqlite3_bind_text(st, 3, opts->image, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 3);
	sqlite3_bind_int(st, 4, opts->name == NULL);
	sqlite3_bind_int64(st, 5, now);
	sqlite3_bind_int64(st, 6, now);
	int step = sqlite3_step(st);
	if (step == SQLITE_CONSTRAINT)
		rc = msb__error(
			MSB_EEXIST, 0,
			"sandbox `%s` already exists: remove it (msb rm %s) or choose another name",
			name, name);
	else if (step != SQLITE_DONE)
		rc = msb__error(MSB_ESYS, 0, "database: %s",
				sqlite3_errmsg(db));
out:
	sqlite3_finalize(st);
	msb__db_close(db);
	return rc;
}

static void forget(sqlite3 *db, const char *name)
{
	static const char *const sql[] = {
		"DELETE FROM runs WHERE sandbox = ?",
		"DELETE FROM sandboxes WHERE name = ?",
	};
	for (size_t i = 0; i < ARRAY_SIZE(sql); i++) {
		sqlite3_stmt *st;
		if (sqlite3_prepare_v2(db, sql[i], -1, &st, NULL) != SQLITE_OK)
			continue;
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		sqlite3_step(st);
		sqlite3_finalize(st);
	}
}

void msb__state_forget(const char *home, const char *name)
{
	sqlite3 *db;
	msb_error saved = *msb_last_error();

	if (msb__db_open(&db, home) == 0) {
		forget(db, name);
		msb__db_close(db);
	}
	msb__error(saved.code, saved.sys_errno, "%s", saved.message);
}

/* One row: fills @info (and @config, the JSON, if not NULL). */
static int lookup(sqlite3 *db, const char *name, msb_sandbox_info *info,
		  char **config)
{
	sqlite3_stmt *st;
	int rc = -MSB_ENOTFOUND;

	memset(info, 0, sizeof(*info));
	if (sqlite3_prepare_v2(db,
			       "SELECT name, status, image, config, ephemeral, "
			       "pid, created, updated, labels, status_reason "
			       "FROM sandboxes "
			       "WHERE name = ?",
			       -1, &st, NULL) != SQLITE_OK)
		return msb__error(MSB_ESYS, 0, "database: %s",
				  sqlite3_errmsg(db));
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *img = (const char *)sqlite3_column_text(st, 2);
		const char *cfg = (const char *)sqlite3_column_text(st, 3);
		const char *why = (const char *)sqlite3_column_text(st, 9);
		info->name = strdup((const char *)sqlite3_column_text(st, 0));
		info->status = strdup((const char *)sqlite3_column_text(st, 1));
		info->image = img ? strdup(img) : NULL;
		info->ephemeral = sqlite3_column_int(st, 4);
		info->pid = sqlite3_column_int(st, 5);
		info->created = sqlite3_column_int64(st, 6);
		info->updated = sqlite3_column_int64(st, 7);
		info->labels =
			labels_from((const char *)sqlite3_column_text(st, 8));
		/* a reason outlives its status if the supervisor died */
		if (why && !strcmp(info->status ? info->status : "", "paused"))
			info->status_reason = strdup(why);
		json_t *c = json_loads(cfg ? cfg : "{}", 0, NULL);
		info->cpus = (unsigned int)json_integer_value(
			json_object_get(c, "cpus"));
		info->memory_mib = (unsigned int)json_integer_value(
			json_object_get(c, "memory_mib"));
		json_decref(c);
		if (config)
			*config = cfg ? strdup(cfg) : NULL;
		rc = info->name && info->status && (!img || info->image) &&
				     info->labels && (!config || *config)
			     ? 0
			     : msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	} else {
		rc = msb__error(MSB_ENOTFOUND, 0, "no sandbox named `%s`",
				name);
	}
	sqlite3_finalize(st);
	return rc;
}

static void info_clear(msb_sandbox_info *i)
{
	free(i->name);
	free(i->status);
	free(i->image);
	free(i->status_reason);
	msb_strv_free(i->labels);
	memset(i, 0, sizeof(*i));
}

/*
 * The home folder, the database and the row of sandbox @name: the start of
 * every call by name. On failure the caller still clears what it got.
 */
static int open_row(struct msb_paths *paths, sqlite3 **db, const char *name,
		    msb_sandbox_info *info, char **config)
{
	int rc;

	memset(paths, 0, sizeof(*paths));
	if ((rc = msb__paths_home(paths)) < 0 ||
	    (rc = msb__db_open(db, paths->home)) < 0)
		return rc;
	return lookup(*db, name, info, config);
}

/* A row says the supervisor runs but its lock is free: it died. */
static bool repair(sqlite3 *db, const char *home, msb_sandbox_info *info)
{
	static const char *const live[] = {"starting", "running", "paused",
					   "stopping"};
	bool claims = false;

	for (size_t i = 0; i < ARRAY_SIZE(live); i++)
		claims |= !strcmp(info->status, live[i]);
	if (!claims || supervisor_alive(home, info->name))
		return false;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db,
			       "UPDATE sandboxes SET status = 'crashed', "
			       "pid = NULL, updated = ? WHERE name = ?",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL));
		sqlite3_bind_text(st, 2, info->name, -1, SQLITE_STATIC);
		sqlite3_step(st);
		sqlite3_finalize(st);
	}
	/* What its supervisor could not clean up: the sockets. */
	_cleanup_free_ char *dir = sandbox_dir(home, info->name);
	_cleanup_free_ char *run = dir ? xasprintf("%s/run", dir) : NULL;
	if (run)
		rm_rf(run);
	char *crashed = strdup("crashed");
	if (crashed) {
		free(info->status);
		info->status = crashed;
	}
	info->pid = 0;
	return true;
}

EXPORT int msb_sandbox_list(msb_sandbox_info **out, size_t *count)
{
	struct msb_paths paths;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	msb_sandbox_info *v = NULL;
	size_t n = 0;
	int rc;

	MSB_LIST_START(out, count);
	if ((rc = msb__paths_home(&paths)) < 0)
		return rc;
	if ((rc = msb__db_open(&db, paths.home)) < 0)
		goto out;
	if (sqlite3_prepare_v2(db, "SELECT name FROM sandboxes ORDER BY name",
			       -1, &st, NULL) != SQLITE_OK) {
		rc = msb__error(MSB_ESYS, 0, "database: %s",
				sqlite3_errmsg(db));
		goto out;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		_cleanup_free_ char *name =
			strdup((const char *)sqlite3_column_text(st, 0));
		msb_sandbox_info *g = realloc(v, (n + 1) * sizeof(*v));
		if (!name || !g) {
			if (g)
				v = g;
			rc = msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
			goto out;
		}
		v = g;
		if (lookup(db, name, &v[n], NULL) < 0)
			continue; /* removed meanwhile */
		repair(db, paths.home, &v[n]);
		n++;
	}
	*out = steal_ptr(&v);
	*count = n;
	n = 0;
	msb__error_clear();
	rc = 0;
out:
	sqlite3_finalize(st);
	msb__db_close(db);
	msb_sandbox_list_free(v, n);
	msb__paths_clear(&paths);
	return rc;
}

EXPORT void msb_sandbox_list_free(msb_sandbox_info *list, size_t count)
{
	for (size_t i = 0; list && i < count; i++)
		info_clear(&list[i]);
	free(list);
}

/* The options a sandbox was created with, from its config JSON. The
 * strings point into @c; @env is malloc'd. */
/* A NULL-terminated copy of the strings of the JSON array @a (borrowed
 * from it) in *@store, or NULL for no array. Return: 0 or MSB_ENOMEM. */
static int strv_from(const char *const **out, const char **store[], json_t *a)
{
	*out = NULL;
	if (!json_is_array(a))
		return 0;
	size_t n = json_array_size(a);
	const char **v = calloc(n + 1, sizeof(char *));
	if (!v)
		return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		v[i] = json_string_value(json_array_get(a, i));
	*out = v;
	*store = v;
	return 0;
}

/* What the network options read from a config point to (freed by the
 * caller). */
struct net_store {
	const char **rules, **domains, **suffixes;
	msb_port *ports;
};

static void net_store_free(struct net_store *n)
{
	free(n->rules);
	free(n->domains);
	free(n->suffixes);
	free(n->ports);
}

/*
 * The network of the config @c: a sandbox stored before sandboxes had
 * networks has none (its config has no "network"): it keeps booting
 * without one. Return: 0 or MSB_ENOMEM.
 */
static int network_from(msb_sandbox_options *o, struct net_store *st, json_t *c)
{
	json_t *n = json_object_get(c, "network");

	if (!json_is_object(n)) {
		o->network = MSB_NETWORK_NONE;
		return 0;
	}
	const char *p = json_string_value(json_object_get(n, "preset"));
	o->network = p && !strcmp(p, "all")    ? MSB_NETWORK_ALL
		     : p && !strcmp(p, "none") ? MSB_NETWORK_NONE
					       : MSB_NETWORK_PUBLIC;
	if (strv_from(&o->net_rules, &st->rules, json_object_get(n, "rules")) <
		    0 ||
	    strv_from(&o->block_domains, &st->domains,
		      json_object_get(n, "block_domains")) < 0 ||
	    strv_from(&o->block_suffixes, &st->suffixes,
		      json_object_get(n, "block_suffixes")) < 0)
		return -MSB_ENOMEM;
	json_t *ports = json_object_get(n, "ports");
	size_t np = json_array_size(ports);
	if (!(st->ports = calloc(np + 1, sizeof(*st->ports))))
		return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	for (size_t i = 0; i < np; i++) {
		json_t *e = json_array_get(ports, i);
		const char *proto =
			json_string_value(json_object_get(e, "protocol"));
		st->ports[i] = (msb_port){
			.host_ip = json_string_value(
				json_object_get(e, "host_ip")),
			.host_port = (unsigned int)json_integer_value(
				json_object_get(e, "host_port")),
			.guest_port = (unsigned int)json_integer_value(
				json_object_get(e, "guest_port")),
			.protocol = proto && !strcmp(proto, "udp")
					    ? MSB_PORT_UDP
					    : MSB_PORT_TCP,
		};
	}
	o->ports = st->ports;
	o->n_ports = np;
	return 0;
}

static int options_from(msb_sandbox_options *o, const char **env_store[],
			msb_tmpfs **tmpfs_store, msb_volume_mount **vol_store,
			msb_bind_mount **bind_store, const char **rl_store[],
			const char **ep_store[], const char **cmd_store[],
			json_t *c)
{
	const char *r = json_string_value(json_object_get(c, "restart"));
	o->restart = r && !strcmp(r, "always")       ? MSB_RESTART_ALWAYS
		     : r && !strcmp(r, "on-failure") ? MSB_RESTART_ON_FAILURE
						     : MSB_RESTART_NO;
	o->restart_max = (unsigned int)json_integer_value(
		json_object_get(c, "restart_max"));
	o->run_main = json_is_true(json_object_get(c, "run_main"));
	o->auto_remove = json_is_true(json_object_get(c, "auto_remove"));
	o->main_stdin = json_is_true(json_object_get(c, "main_stdin"));
	o->main_tty = json_is_true(json_object_get(c, "main_tty"));
	o->no_template = json_is_true(json_object_get(c, "no_template"));
	const char *idle = json_string_value(json_object_get(c, "on_idle"));
	o->on_idle = idle && !strcmp(idle, "suspend") ? MSB_IDLE_SUSPEND
						      : MSB_IDLE_STOP;
	if (strv_from(&o->entrypoint, ep_store,
		      json_object_get(c, "entrypoint")) < 0 ||
	    strv_from(&o->cmd, cmd_store, json_object_get(c, "cmd")) < 0)
		return -MSB_ENOMEM;
	json_t *rls = json_object_get(c, "rlimits");
	size_t nr = json_array_size(rls);
	const char **rl = calloc(nr + 1, sizeof(char *));
	if (!rl)
		return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	for (size_t i = 0; i < nr; i++)
		rl[i] = json_string_value(json_array_get(rls, i));
	o->rlimits = rl;
	*rl_store = rl;
	o->workdir = json_string_value(json_object_get(c, "workdir"));
	o->user = json_string_value(json_object_get(c, "user"));
	o->hostname = json_string_value(json_object_get(c, "hostname"));
	o->exec_timeout_ms = (unsigned int)json_integer_value(
		json_object_get(c, "exec_timeout_ms"));
	json_t *binds = json_object_get(c, "binds");
	size_t nb = json_array_size(binds);
	msb_bind_mount *bm = calloc(nb + 1, sizeof(*bm));
	if (!bm)
		return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	for (size_t i = 0; i < nb; i++) {
		json_t *e = json_array_get(binds, i);
		bm[i].host_path = json_string_value(json_object_get(e, "host"));
		bm[i].path = json_string_value(json_object_get(e, "path"));
		bm[i].readonly = json_is_true(json_object_get(e, "ro"));
	}
	o->binds = bm;
	o->n_binds = nb;
	*bind_store = bm;
	json_t *vols = json_object_get(c, "volumes");
	size_t nv = json_array_size(vols);
	msb_volume_mount *vm = calloc(nv + 1, sizeof(*vm));
	if (!vm)
		return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	for (size_t i = 0; i < nv; i++) {
		json_t *e = json_array_get(vols, i);
		vm[i].name = json_string_value(json_object_get(e, "name"));
		vm[i].path = json_string_value(json_object_get(e, "path"));
		vm[i].readonly = json_is_true(json_object_get(e, "ro"));
	}
	o->volumes = vm;
	o->n_volumes = nv;
	*vol_store = vm;
	json_t *env = json_object_get(c, "env");
	size_t n = json_array_size(env);
	const char **v = calloc(n + 1, sizeof(char *));
	json_t *tmpfs = json_object_get(c, "tmpfs");
	size_t nt = json_array_size(tmpfs);
	msb_tmpfs *t = calloc(nt + 1, sizeof(*t));

	if (!v || !t) {
		free(v);
		free(t);
		return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < nt; i++) {
		json_t *e = json_array_get(tmpfs, i);
		t[i].path = json_string_value(json_object_get(e, "path"));
		t[i].size_bytes = (uint64_t)json_integer_value(
			json_object_get(e, "size"));
		t[i].mode = (unsigned int)json_integer_value(
			json_object_get(e, "mode"));
	}
	o->tmpfs = t;
	o->n_tmpfs = nt;
	*tmpfs_store = t;
	for (size_t i = 0; i < n; i++)
		v[i] = json_string_value(json_array_get(env, i));
	o->cpus = (unsigned int)json_integer_value(json_object_get(c, "cpus"));
	o->memory_mib = (unsigned int)json_integer_value(
		json_object_get(c, "memory_mib"));
	o->boot_timeout_s = (unsigned int)json_integer_value(
		json_object_get(c, "boot_timeout_s"));
	o->idle_timeout_s = (unsigned int)json_integer_value(
		json_object_get(c, "idle_timeout_s"));
	o->max_duration_s = (unsigned int)json_integer_value(
		json_object_get(c, "max_duration_s"));
	o->root_size_mib = (unsigned int)json_integer_value(
		json_object_get(c, "root_size_mib"));
	o->root_writable =
		(int)json_integer_value(json_object_get(c, "root_writable"));
	o->root_fstype = json_string_value(json_object_get(c, "root_fstype"));
	if (o->root_fstype && !*o->root_fstype)
		o->root_fstype = NULL;
	o->image = json_string_value(json_object_get(c, "image"));
	o->env = v;
	*env_store = v;
	return 0;
}

/* Boot the stored sandbox @name; @mode: "start" or "resume" (msb-vmm). */
static int start_mode(msb_sandbox **out, const char *name, int detached,
		      const char *mode);

EXPORT int msb_sandbox_start(msb_sandbox **out, const char *name, int detached)
{
	msb__error_clear();
	if (!out || !name)
		return msb__error(MSB_EINVAL, 0, "out and name are required");
	return start_mode(out, name, detached, "start");
}

static int start_mode(msb_sandbox **out, const char *name, int detached,
		      const char *mode)
{
	struct msb_paths paths;
	msb_sandbox_info info = {0};
	_cleanup_free_ char *config = NULL;
	_cleanup_free_ const char **env = NULL;
	_cleanup_free_ msb_tmpfs *tmpfs = NULL;
	_cleanup_free_ msb_volume_mount *vols = NULL;
	_cleanup_free_ msb_bind_mount *binds = NULL;
	_cleanup_free_ const char **rlimits = NULL;
	_cleanup_free_ const char **ep = NULL;
	_cleanup_free_ const char **cmdv = NULL;
	struct net_store net = {0};
	sqlite3 *db = NULL;
	int rc;

	msb__error_clear();
	if (!out || !name)
		return msb__error(MSB_EINVAL, 0, "out and name are required");
	*out = NULL;
	if ((rc = open_row(&paths, &db, name, &info, &config)) < 0)
		goto out;
	if (supervisor_alive(paths.home, name)) {
		rc = msb__error(MSB_ESTATE, 0,
				"sandbox `%s` is already running", name);
		goto out;
	}
	if (info.ephemeral) {
		rc = msb__error(
			MSB_ESTATE, 0,
			"sandbox `%s` was ephemeral: it cannot be started again",
			name);
		goto out;
	}
	msb__db_close(db);
	db = NULL;

	json_t *c = json_loads(config, 0, NULL);
	msb_sandbox_options o = MSB_SANDBOX_OPTIONS_INIT;
	msb_pull_options po = MSB_PULL_OPTIONS_INIT;
	if (!c) {
		rc = msb__error(MSB_EPROTO, 0,
				"sandbox `%s`: stored config unreadable", name);
		goto out;
	}
	if ((rc = options_from(&o, &env, &tmpfs, &vols, &binds, &rlimits, &ep,
			       &cmdv, c)) == 0 &&
	    (rc = network_from(&o, &net, c)) == 0) {
		o.name = name;
		o.detached = detached;
		/* Its image was pulled when it was created. */
		po.policy = MSB_PULL_IF_MISSING;
		o.pull = &po;
		json_t *tls = json_object_get(c, "tls");
		rc = msb__sandbox_boot(out, &o, mode,
				       json_is_object(tls) ? tls : NULL);
	}
	json_decref(c);
out:
	net_store_free(&net);
	info_clear(&info);
	msb__db_close(db);
	msb__paths_clear(&paths);
	return rc;
}

int msb__sandbox_dial(struct msb_conn *c, const char *name)
{
	struct msb_paths paths;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int rc;

	if ((rc = msb__paths_home(&paths)) < 0)
		return rc;
	int n = snprintf(sa.sun_path, sizeof(sa.sun_path),
			 "%s/sandboxes/%s/run/agent.sock", paths.home, name);
	msb__paths_clear(&paths);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path))
		return msb__error(
			MSB_ESYS, ENAMETOOLONG,
			"sandbox `%s`: socket path too long: use a shorter MSB_HOME",
			name);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 ||
	    connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = msb__error(MSB_ESTATE, errno,
				"connect to sandbox `%s`: %s (is it running?)",
				name, strerror(errno));
		close_fd(&c->fd);
		return rc;
	}
	return 0;
}

EXPORT int msb_sandbox_connect(msb_sandbox **out, const char *name)
{
	struct msb_paths paths;
	msb_sandbox_info info = {0};
	sqlite3 *db = NULL;
	msb_sandbox *sb = NULL;
	_cleanup_free_ char *config = NULL;
	int rc;

	msb__error_clear();
	if (!out || !name)
		return msb__error(MSB_EINVAL, 0, "out and name are required");
	*out = NULL;
	if ((rc = open_row(&paths, &db, name, &info, &config)) < 0)
		goto out;
	if (!supervisor_alive(paths.home, name)) {
		repair(db, paths.home, &info);
		if (!strcmp(info.status, "suspended"))
			rc = msb__error(MSB_ESTATE, 0,
					"sandbox `%s` is suspended: resume it "
					"with `msb resume %s`",
					name, name);
		else
			rc = msb__error(
				MSB_ESTATE, 0,
				"sandbox `%s` is not running (%s): start it "
				"first",
				name, info.status);
		goto out;
	}
	sb = calloc(1, sizeof(*sb));
	if (!sb || !(sb->name = strdup(name))) {
		rc = msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
		goto out;
	}
	sb->watch_fd = -1;
	sb->next_stream = 1;
	sb->detached = true;
	sb->conn.fd = -1;
	if ((rc = msb__sandbox_dial(&sb->conn, name)) < 0)
		goto out;
	/* The image's defaults for exec (working directory, user). */
	if (info.image && info.image[0] != '/' && info.image[0] != '.') {
		msb_pull_options po = MSB_PULL_OPTIONS_INIT;
		po.policy = MSB_PULL_NEVER;
		if (msb__image_resolve(&sb->image, paths.home, info.image,
				       &po) == 0) {
			const struct msb_image_config *c = &sb->image->cfg;
			if (c->workdir && *c->workdir)
				sb->workdir = strdup(c->workdir);
			if (c->user && *c->user)
				sb->user = strdup(c->user);
		}
		msb__error_clear();
	}
	/* The sandbox's own exec defaults, over the image's. */
	json_t *c = json_loads(config ? config : "{}", 0, NULL);
	json_t *rls = json_object_get(c, "rlimits");
	size_t nr = json_array_size(rls);
	const char **rl = calloc(nr + 1, sizeof(char *));
	for (size_t i = 0; rl && i < nr; i++)
		rl[i] = json_string_value(json_array_get(rls, i));
	rc = rl ? msb__sandbox_exec_defaults(
			  sb, json_string_value(json_object_get(c, "workdir")),
			  json_string_value(json_object_get(c, "user")), rl,
			  (unsigned int)json_integer_value(
				  json_object_get(c, "exec_timeout_ms")))
		: msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	free(rl);
	json_decref(c);
	if (rc < 0)
		goto out;
	*out = steal_ptr(&sb);
	rc = 0;
out:
	if (sb)
		sb->stopped = true;
	msb_sandbox_free(sb);
	info_clear(&info);
	msb__db_close(db);
	msb__paths_clear(&paths);
	return rc;
}

EXPORT int msb_sandbox_remove(const char *name, int force)
{
	struct msb_paths paths;
	msb_sandbox_info info = {0};
	_cleanup_free_ char *dir = NULL;
	sqlite3 *db = NULL;
	int rc;

	msb__error_clear();
	if (!name)
		return msb__error(MSB_EINVAL, 0, "name is NULL");
	if ((rc = open_row(&paths, &db, name, &info, NULL)) < 0)
		goto out;
	if (supervisor_alive(paths.home, name)) {
		if (!force) {
			rc = msb__error(
				MSB_ESTATE, 0,
				"sandbox `%s` is running: stop it first, or force",
				name);
			goto out;
		}
		msb_sandbox *sb;
		if ((rc = msb_sandbox_connect(&sb, name)) < 0)
			goto out;
		rc = msb_sandbox_stop(sb, 0);
		msb_sandbox_free(sb);
		if (rc < 0)
			goto out;
	}
	dir = sandbox_dir(paths.home, name);
	if (!dir) {
		rc = msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
		goto out;
	}
	if (rm_rf(dir) < 0 && errno != ENOENT) {
		rc = msb__error(MSB_ESYS, errno, "remove `%s`: %s", dir,
				strerror(errno));
		goto out;
	}
	forget(db, name);
out:
	info_clear(&info);
	msb__db_close(db);
	msb__paths_clear(&paths);
	return rc;
}

/* The status of @name now (malloc'd), or NULL with the error set. */
static char *status_of(const char *name)
{
	msb_sandbox_info *v;
	size_t n;
	char *st = NULL;
	bool found = false;

	if (msb_sandbox_list(&v, &n) < 0)
		return NULL;
	for (size_t i = 0; i < n && !found; i++)
		if ((found = !strcmp(v[i].name, name)))
			st = strdup(v[i].status);
	msb_sandbox_list_free(v, n);
	if (!found)
		msb__error(MSB_ENOTFOUND, 0, "no sandbox named `%s`", name);
	else if (!st)
		msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	return st;
}

EXPORT int msb_sandbox_config(const char *name, char **out)
{
	struct msb_paths paths;
	msb_sandbox_info info = {0};
	sqlite3 *db = NULL;
	int rc;

	msb__error_clear();
	if (!out || !name)
		return msb__error(MSB_EINVAL, 0, "out and name are required");
	*out = NULL;
	if ((rc = open_row(&paths, &db, name, &info, out)) == 0 && !*out)
		*out = strdup("{}");
	if (rc == 0 && !*out)
		rc = msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	info_clear(&info);
	msb__db_close(db);
	msb__paths_clear(&paths);
	return rc;
}

EXPORT int msb_sandbox_exit_code(const char *name, int *code)
{
	struct msb_paths paths;
	msb_sandbox_info info = {0};
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc;

	msb__error_clear();
	if (!code || !name)
		return msb__error(MSB_EINVAL, 0, "name and code are required");
	*code = -1;
	if ((rc = open_row(&paths, &db, name, &info, NULL)) < 0)
		goto out;
	if (sqlite3_prepare_v2(db,
			       "SELECT exit_code FROM runs WHERE sandbox = ?1 "
			       "ORDER BY id DESC LIMIT 1",
			       -1, &st, NULL) != SQLITE_OK) {
		rc = msb__error(MSB_ESYS, 0, "state database: %s",
				sqlite3_errmsg(db));
		goto out;
	}
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_type(st, 0) != SQLITE_NULL)
		*code = sqlite3_column_int(st, 0);
out:
	sqlite3_finalize(st);
	info_clear(&info);
	msb__db_close(db);
	msb__paths_clear(&paths);
	return rc;
}

EXPORT int msb_sandbox_wait(const char *name, int timeout_ms, char *status,
			    size_t status_len)
{
	msb__error_clear();
	if (!name)
		return msb__error(MSB_EINVAL, 0, "name is NULL");
	uint64_t deadline =
		timeout_ms < 0 ? 0 : now_us() + (uint64_t)timeout_ms * 1000u;
	for (;;) {
		_cleanup_free_ char *st = status_of(name);
		if (!st)
			return -msb_last_error()->code;
		if (strcmp(st, "starting") && strcmp(st, "running") &&
		    strcmp(st, "paused") && strcmp(st, "stopping")) {
			if (status && status_len)
				snprintf(status, status_len, "%s", st);
			return 0;
		}
		uint64_t now = now_us();
		if (deadline && now >= deadline)
			return msb__error(
				MSB_ETIMEDOUT, 0,
				"sandbox `%s` is still %s after %d ms", name,
				st, timeout_ms);
		/* Its supervisor's lock goes when it exits; then the final
		 * status is in the database (or repaired by the list). */
		unsigned int slice = 500;
		if (deadline && (deadline - now) / 1000u < slice)
			slice = (unsigned int)((deadline - now) / 1000u) + 1;
		msb__wait_supervisor_exit(name, slice);
	}
}

/*
 * Send control request @type to the supervisor of @name on stream 0 and
 * wait up to @timeout_ms for its answer (the same type; with a msg if it
 * failed).
 */
static int control(const char *name, enum msb_msg_type type, int timeout_ms)
{
	struct msb_conn c = {.fd = -1};
	struct msb_msg req = {.type = type};
	int rc;

	if ((rc = msb__sandbox_dial(&c, name)) < 0)
		return rc;
	if ((rc = msb__conn_send(&c, 0, MSB_F_START | MSB_F_END, &req)) < 0)
		goto out;
	for (;;) {
		struct msb_frame f;
		struct msb_msg m;
		if ((rc = msb__conn_recv(&c, &f, &m, timeout_ms)) < 0)
			break;
		bool mine = f.hdr.stream == 0 && m.type == type;
		if (mine && m.has & MSB_HAS(MSB_FLD_MSG)) {
			char t[1024];
			rc = msb__error(MSB_ESTATE, 0, "%s",
					MSB_GUEST_TEXT(t, m.msg));
		}
		msb__conn_done(&c, &f);
		if (mine)
			break;
	}
out:
	msb__conn_close(&c);
	return rc;
}

/* The status of @name, malloc'd in *@status; whether its supervisor runs. */
static int status_alive(const char *name, char **status, bool *alive)
{
	struct msb_paths paths;
	msb_sandbox_info info = {0};
	sqlite3 *db = NULL;
	int rc;

	*status = NULL;
	*alive = false;
	if ((rc = open_row(&paths, &db, name, &info, NULL)) == 0) {
		*alive = supervisor_alive(paths.home, name);
		if (!*alive)
			repair(db, paths.home, &info);
		if (!(*status = strdup(info.status)))
			rc = msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	}
	info_clear(&info);
	msb__db_close(db);
	msb__paths_clear(&paths);
	return rc;
}

/* The start of pause, resume and suspend: @name's status and whether
 * its supervisor runs. Return: 0, or -MSB_E* (error set). */
static int vm_state(const char *name, char **st, bool *alive)
{
	msb__error_clear();
	if (!name)
		return msb__error(MSB_EINVAL, 0, "name is NULL");
	return status_alive(name, st, alive);
}

/* vm_state(), and an error unless the supervisor runs. */
static int vm_running(const char *name, char **st)
{
	bool alive;
	int rc = vm_state(name, st, &alive);

	if (rc == 0 && !alive)
		rc = msb__error(MSB_ESTATE, 0,
				"sandbox `%s` is not running (%s)", name, *st);
	return rc;
}

EXPORT int msb_sandbox_pause(const char *name)
{
	_cleanup_free_ char *st = NULL;
	int rc;

	if ((rc = vm_running(name, &st)) < 0)
		return rc;
	if ((rc = control(name, MSB_MSG_PAUSE, 10000)) == 0)
		msb__error_clear();
	return rc;
}

EXPORT int msb_sandbox_resume(const char *name)
{
	_cleanup_free_ char *st = NULL;
	bool alive;
	int rc;

	if ((rc = vm_state(name, &st, &alive)) < 0)
		return rc;
	if (alive) {
		if ((rc = control(name, MSB_MSG_RESUME, 10000)) == 0)
			msb__error_clear();
		return rc;
	}
	if (strcmp(st, "suspended"))
		return msb__error(MSB_ESTATE, 0,
				  "sandbox `%s` is neither paused nor "
				  "suspended (%s)",
				  name, st);
	msb_sandbox *sb = NULL;
	if ((rc = start_mode(&sb, name, 1, "resume")) < 0)
		return rc;
	msb_sandbox_free(sb);
	msb__error_clear();
	return 0;
}

EXPORT int msb_sandbox_suspend(const char *name)
{
	_cleanup_free_ char *st = NULL;
	int rc;

	if ((rc = vm_running(name, &st)) < 0)
		return rc;
	/* The supervisor answers once the state is saved; it then exits. */
	if ((rc = control(name, MSB_MSG_SUSPEND, 180000)) < 0) {
		if (rc == -MSB_ETIMEDOUT)
			return rc;
		msb_error saved = *msb_last_error();
		msb__wait_supervisor_exit(name, 100);
		msb__error(saved.code, saved.sys_errno, "%s", saved.message);
		return rc;
	}
	msb__wait_supervisor_exit(name, 30000);
	msb__error_clear();
	return 0;
}

/*
 * Snapshots (docs/snapshots.md, "Snapshots"): $MSB_HOME/snapshots/SNAP/
 * holds `state`, `key`, `vmm`, `agent_in` (a running sandbox's, saved by
 * its supervisor in <sandbox>/snapshot/, vmm/suspend.h), `disk.qcow2`
 * (the root overlay at that instant; its backing file is the image's),
 * `config.json` (the sandbox's options) and `meta` ("name=value" lines:
 * kind full|disk, sandbox, image, created). It is assembled under
 * snapshots/.SNAP.tmp.PID and renamed into place, never over another.
 */
static int snap_meta(const char *dir, const msb_sandbox_info *info,
		     const char *config, bool full)
{
	_cleanup_free_ char *meta = xasprintf(
		"kind=%s\nsandbox=%s\nimage=%s\ncreated=%lld\n",
		full ? "full" : "disk", info->name,
		info->image ? info->image : "", (long long)time(NULL));
	const struct {
		const char *name;
		const char *text;
	} files[] = {{"meta", meta}, {"config.json", config ? config : "{}"}};

	if (!meta)
		return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		_cleanup_free_ char *p = xasprintf("%s/%s", dir, files[i].name);
		_cleanup_close_ int fd =
			p ? open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
				 0600)
			  : -1;
		if (fd < 0 ||
		    write_all(fd, files[i].text, strlen(files[i].text)) < 0 ||
		    fsync(fd) < 0)
			return msb__error(MSB_ESYS, errno, "write `%s/%s`: %s",
					  dir, files[i].name, strerror(errno));
	}
	return 0;
}

/* Copy the root overlay of the stopped sandbox in @sdir into @dir. */
static int snap_copy_disk(const char *sdir, const char *dir)
{
	_cleanup_free_ char *from = xasprintf("%s/disk.qcow2", sdir);
	_cleanup_free_ char *to = xasprintf("%s/disk.qcow2", dir);
	_cleanup_close_ int in = from ? open(from, O_RDONLY | O_CLOEXEC) : -1;

	if (in < 0)
		return msb__error(errno == ENOENT ? MSB_ESTATE : MSB_ESYS,
				  errno,
				  "the sandbox has no root disk of its own "
				  "to copy (%s)",
				  strerror(errno));
	_cleanup_close_ int out =
		to ? open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)
		   : -1;
	if (out < 0 || copy_sparse(in, out) < 0)
		return msb__error(MSB_ESYS, errno, "copy the root disk: %s",
				  strerror(errno));
	return 0;
}

static int sync_path(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -1 : fsync(fd);
}

/*
 * snap_refusal() - why sandbox @name (stored options @config) cannot be
 * snapshotted, running or not (docs/snapshots.md): MSB_ESTATE naming its
 * option and what to do, or 0. A snapshot is its root overlay (and
 * memory): volumes would be shared with its copies, host folders over
 * virtio-fs cannot be saved, and a --root-writable sandbox has no overlay
 * of its own.
 */
static int snap_refusal(const char *name, const char *config)
{
	json_t *c = json_loads(config ? config : "{}", 0, NULL);
	const char *image = json_string_value(json_object_get(c, "image"));
	struct stat st;
	int rc = 0;

	if (json_array_size(json_object_get(c, "volumes")))
		rc = msb__error(
			MSB_ESTATE, 0,
			"sandbox `%s` cannot be snapshotted: it has "
			"volumes (-v NAME:PATH), and a snapshot copies "
			"only the root disk, so its copies would share "
			"them: copy their data to the root disk, or use "
			"a sandbox without volumes",
			name);
	else if (json_array_size(json_object_get(c, "binds")) ||
		 (image && (image[0] == '/' || image[0] == '.') &&
		  stat(image, &st) == 0 && S_ISDIR(st.st_mode)))
		rc = msb__error(
			MSB_ESTATE, 0,
			"sandbox `%s` cannot be snapshotted: it shares "
			"host folders over virtio-fs (-v DIR:PATH, or a "
			"directory as its root), which cannot be saved",
			name);
	else if (json_integer_value(json_object_get(c, "root_writable")) ||
		 json_is_true(json_object_get(c, "root_writable")))
		rc = msb__error(
			MSB_ESTATE, 0,
			"sandbox `%s` cannot be snapshotted: its root "
			"disk is the image itself (--root-writable), so "
			"there is no disk of its own to copy: copy the "
			"image file instead",
			name);
	json_decref(c);
	return rc;
}

EXPORT int msb_sandbox_snapshot(const char *name, const char *snap, int flags)
{
	struct msb_paths paths;
	msb_sandbox_info info = {0};
	sqlite3 *db = NULL;
	_cleanup_free_ char *config = NULL, *sdir = NULL, *snaps = NULL,
			    *tmp = NULL, *final = NULL, *lockp = NULL;
	_cleanup_close_ int lock = -1, slock = -1;
	bool disk_only = flags & MSB_SNAPSHOT_DISK_ONLY;
	int rc;

	msb__error_clear();
	if (!name || !snap)
		return msb__error(MSB_EINVAL, 0, "name is NULL");
	if (flags & ~MSB_SNAPSHOT_DISK_ONLY)
		return msb__error(MSB_EINVAL, 0, "unknown flags %#x", flags);
	if (!msb__valid_name(snap))
		return msb__error(MSB_EINVAL, 0,
				  "invalid snapshot name `%s`: 1-63 letters, "
				  "digits, '-', '_' or '.', starting with a "
				  "letter or digit",
				  snap);
	if ((rc = open_row(&paths, &db, name, &info, &config)) < 0)
		goto out;
	/* Its CA key and secrets stay with the sandbox: a snapshot (a file
	 * to share, to fork) of one is refused rather than copying them. */
	json_t *cj = json_loads(config, 0, NULL);
	bool has_tls = json_is_object(json_object_get(cj, "tls"));
	json_decref(cj);
	if (has_tls) {
		rc = msb__error(MSB_ENOTSUP, 0,
				"sandbox `%s` has secrets or TLS interception: "
				"it cannot be snapshotted (its CA key and "
				"secrets stay with it)",
				name);
		goto out;
	}
	bool alive = supervisor_alive(paths.home, name);
	sdir = sandbox_dir(paths.home, name);
	snaps = xasprintf("%s/snapshots", paths.home);
	tmp = xasprintf("%s/snapshots/.%s.tmp.%d", paths.home, snap,
			(int)getpid());
	final = xasprintf("%s/snapshots/%s", paths.home, snap);
	if (!sdir || !snaps || !tmp || !final) {
		rc = msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
		goto out;
	}
	if (access(final, F_OK) == 0) {
		rc = msb__error(MSB_EEXIST, EEXIST,
				"snapshot `%s` already exists", snap);
		goto out;
	}
	if ((rc = snap_refusal(name, config)) < 0)
		goto out;
	if (alive && disk_only) {
		rc = msb__error(MSB_ESTATE, 0,
				"sandbox `%s` is running: a snapshot of a "
				"running sandbox holds its memory too (leave "
				"out --disk-only), or stop it first",
				name);
		goto out;
	}
	if (!alive && !disk_only) {
		rc = msb__error(MSB_ESTATE, 0,
				"sandbox `%s` is not running (%s): "
				"--disk-only takes a snapshot of its disk",
				name, info.status);
		goto out;
	}
	if ((mkdir(snaps, 0700) < 0 && errno != EEXIST) ||
	    (rm_rf(tmp) < 0 && errno != ENOENT)) {
		rc = msb__error(MSB_ESYS, errno, "`%s`: %s", snaps,
				strerror(errno));
		goto out;
	}
	if (alive) {
		/* One snapshot of a sandbox at a time: its supervisor saves
		 * into one folder, which is then moved here. */
		lockp = xasprintf("%s/snapshot.lock", sdir);
		slock = lockp ? open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0600)
			      : -1;
		if (slock < 0 || flock(slock, LOCK_EX) < 0) {
			rc = msb__error(MSB_ESYS, errno, "lock `%s`: %s",
					lockp ? lockp : sdir, strerror(errno));
			goto out;
		}
		if ((rc = control(name, MSB_MSG_SNAPSHOT, 180000)) < 0)
			goto out;
		_cleanup_free_ char *saved = xasprintf("%s/snapshot", sdir);
		if (!saved || rename(saved, tmp) < 0) {
			rc = msb__error(MSB_ESYS, errno, "move `%s`: %s",
					saved ? saved : sdir, strerror(errno));
			goto out;
		}
	} else {
		/* No supervisor may start while the disk is copied. */
		lockp = xasprintf("%s/lock", sdir);
		lock = lockp ? open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0600)
			     : -1;
		if (lock < 0 || flock(lock, LOCK_EX | LOCK_NB) < 0) {
			rc = msb__error(MSB_ESTATE, errno,
					"sandbox `%s` is starting or running",
					name);
			goto out;
		}
		if (mkdir(tmp, 0700) < 0) {
			rc = msb__error(MSB_ESYS, errno, "mkdir `%s`: %s", tmp,
					strerror(errno));
			goto out;
		}
		if ((rc = snap_copy_disk(sdir, tmp)) < 0)
			goto out;
	}
	if ((rc = snap_meta(tmp, &info, config, !disk_only)) < 0)
		goto out;
	if (sync_path(tmp) < 0 ||
	    renameat2(AT_FDCWD, tmp, AT_FDCWD, final, RENAME_NOREPLACE) < 0) {
		rc = msb__error(errno == EEXIST ? MSB_EEXIST : MSB_ESYS, errno,
				errno == EEXIST
					? "snapshot `%s` already exists"
					: "rename the snapshot `%s`: %s",
				snap, strerror(errno));
		goto out;
	}
	sync_path(snaps);
	rc = 0;
	msb__error_clear();
out:
	if (rc < 0 && tmp)
		rm_rf(tmp);
	info_clear(&info);
	msb__db_close(db);
	msb__paths_clear(&paths);
	return rc;
}

/* Read file @name of folder @dir (at most @cap - 1 bytes, NUL-ended). */
static long read_small(const char *dir, const char *name, char *buf, size_t cap)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", dir, name);
	_cleanup_close_ int fd = p ? open(p, O_RDONLY | O_CLOEXEC) : -1;
	ssize_t n = fd >= 0 ? read_all(fd, buf, cap - 1) : -1;

	buf[n > 0 ? n : 0] = '\0';
	return n;
}

/* Copy (or hard-link, with @link_ok) file @name of @from into @to. */
static int copy_into(const char *from, const char *to, const char *name,
		     bool link_ok)
{
	_cleanup_free_ char *src = xasprintf("%s/%s", from, name);
	_cleanup_free_ char *dst = xasprintf("%s/%s", to, name);

	if (!src || !dst)
		return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	if (link_ok && link(src, dst) == 0)
		return 0;
	_cleanup_close_ int in = open(src, O_RDONLY | O_CLOEXEC);
	_cleanup_close_ int out =
		in >= 0 ? open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			       0600)
			: -1;
	if (out < 0 || copy_sparse(in, out) < 0)
		return msb__error(MSB_ESYS, errno, "copy `%s`: %s", src,
				  strerror(errno));
	return 0;
}

static int set_status(const char *home, const char *name, const char *status)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st;
	int rc;

	if ((rc = msb__db_open(&db, home)) < 0)
		return rc;
	if (sqlite3_prepare_v2(db,
			       "UPDATE sandboxes SET status = ?, updated = ? "
			       "WHERE name = ?",
			       -1, &st, NULL) != SQLITE_OK) {
		rc = msb__error(MSB_ESYS, 0, "database: %s",
				sqlite3_errmsg(db));
		msb__db_close(db);
		return rc;
	}
	sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)time(NULL));
	sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = msb__error(MSB_ESYS, 0, "database: %s",
				sqlite3_errmsg(db));
	sqlite3_finalize(st);
	msb__db_close(db);
	return rc;
}

/* Is @want (options.image) the snapshot's image @have (its config's)? */
static bool same_image(const char *home, const char *want, const char *have)
{
	if (!have)
		return false;
	if (!strcmp(want, have))
		return true;
	_cleanup_free_ char *full = msb__image_full_id(home, want);
	return full && !strcmp(full, have);
}

/* options.image, memory_mib and cpus of @req, where set, must be those of
 * the snapshot's options @o (0 there means the default: 512 MiB, 1). */
static int snap_same_machine(const char *home, const char *snap,
			     const msb_sandbox_options *req,
			     const msb_sandbox_options *o)
{
	unsigned int mem = o->memory_mib ? o->memory_mib : 512;
	unsigned int cpus = o->cpus ? o->cpus : 1;

	if (req->image && !same_image(home, req->image, o->image))
		return msb__error(MSB_EINVAL, 0,
				  "options.image `%s` is not the image of "
				  "snapshot `%s` (%s): leave it unset",
				  req->image, snap,
				  o->image ? o->image : "the built-in image");
	if (req->memory_mib && req->memory_mib != mem)
		return msb__error(MSB_EINVAL, 0,
				  "options.memory_mib %u is not the memory of "
				  "snapshot `%s` (%u MiB): leave it unset",
				  req->memory_mib, snap, mem);
	if (req->cpus && req->cpus != cpus)
		return msb__error(MSB_EINVAL, 0,
				  "options.cpus %u is not the vCPUs of "
				  "snapshot `%s` (%u): leave it unset",
				  req->cpus, snap, cpus);
	return 0;
}

/*
 * A sandbox made from a snapshot is a sandbox with the snapshot's options
 * (config.json), a copy of its root disk as its own overlay, and (of a
 * full snapshot) the snapshot's state as its saved state
 * (<sandbox>/suspended/, the state file hard-linked), with `snapshot=SNAP`
 * added to its vmm file: it is "suspended", and a resume restores it.
 *
 * msb__sandbox_from_snapshot() - make sandbox @req->name from @snap.
 * @out: with @start, where the handle goes (@req->detached says whether
 *	the sandbox outlives it); NULL: started detached, no handle
 * @req: the new sandbox's name (required), labels and auto_remove; its
 *	image, memory_mib and cpus, where set, must be the snapshot's. The
 *	caller has refused every other option.
 * @start: start it at once (else it stays suspended, or stopped)
 * @keep: whether a sandbox that was made but failed to start stays
 */
int msb__sandbox_from_snapshot(msb_sandbox **out, const char *snap,
			       const msb_sandbox_options *req, int start,
			       bool keep)
{
	const char *name = req->name;
	struct msb_paths paths = {0};
	_cleanup_free_ char *sdir = NULL, *from = NULL, *susp = NULL,
			    *config = NULL;
	_cleanup_free_ const char **env = NULL;
	_cleanup_free_ msb_tmpfs *tmpfs = NULL;
	_cleanup_free_ msb_volume_mount *vols = NULL;
	_cleanup_free_ msb_bind_mount *binds = NULL;
	_cleanup_free_ const char **rlimits = NULL;
	_cleanup_free_ const char **ep = NULL;
	_cleanup_free_ const char **cmdv = NULL;
	enum { TEXT_MAX = 16384 };
	_cleanup_free_ char *text = malloc(TEXT_MAX);
	char kind[16] = "";
	struct net_store net = {0};
	json_t *c = NULL;
	bool inserted = false, made_dir = false, started = false;
	int rc;

	msb__error_clear();
	if (!text)
		return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	if (!snap || !name)
		return msb__error(MSB_EINVAL, 0, "snap and name are required");
	if (!msb__valid_name(snap) || !msb__valid_name(name))
		return msb__error(MSB_EINVAL, 0, "invalid %s name `%s`",
				  msb__valid_name(snap) ? "sandbox"
							: "snapshot",
				  msb__valid_name(snap) ? name : snap);
	if ((rc = msb__paths_home(&paths)) < 0)
		goto out;
	from = xasprintf("%s/snapshots/%s", paths.home, snap);
	sdir = sandbox_dir(paths.home, name);
	if (!from || !sdir) {
		rc = msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
		goto out;
	}
	if (read_small(from, "meta", text, TEXT_MAX) <= 0) {
		rc = msb__error(MSB_ENOTFOUND, errno, "no snapshot `%s`", snap);
		goto out;
	}
	for (char *p = text; p && *p;
	     p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, "kind=", 5))
			snprintf(kind, sizeof(kind), "%.*s",
				 (int)strcspn(p + 5, "\n"), p + 5);
	bool full = !strcmp(kind, "full");
	if (!full && strcmp(kind, "disk")) {
		rc = msb__error(MSB_EPROTO, 0,
				"snapshot `%s`: unknown kind `%s`", snap, kind);
		goto out;
	}
	config = xasprintf("%s/config.json", from);
	if (!config || !(c = json_load_file(config, 0, NULL))) {
		rc = msb__error(MSB_EPROTO, 0,
				"snapshot `%s`: its config.json is unreadable",
				snap);
		goto out;
	}
	msb_sandbox_options o = MSB_SANDBOX_OPTIONS_INIT;
	if ((rc = options_from(&o, &env, &tmpfs, &vols, &binds, &rlimits, &ep,
			       &cmdv, c)) < 0 ||
	    (rc = network_from(&o, &net, c)) < 0)
		goto out;
	if ((rc = snap_same_machine(paths.home, snap, req, &o)) < 0)
		goto out;
	o.name = name;
	o.auto_remove = req->auto_remove;
	o.labels = req->labels;
	if ((rc = msb__state_insert(paths.home, name, &o, NULL)) < 0)
		goto out;
	inserted = true;
	if (mkdir(sdir, 0700) < 0) {
		rc = msb__error(errno == EEXIST ? MSB_EEXIST : MSB_ESYS, errno,
				"mkdir `%s`: %s", sdir, strerror(errno));
		goto out;
	}
	made_dir = true;
	if ((rc = copy_into(from, sdir, "disk.qcow2", false)) < 0)
		goto out;
	if (full) {
		susp = xasprintf("%s/suspended.tmp", sdir);
		_cleanup_free_ char *final = xasprintf("%s/suspended", sdir);
		_cleanup_free_ char *vmm =
			susp ? xasprintf("%s/vmm", susp) : NULL;
		if (!susp || !final || !vmm) {
			rc = msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
			goto out;
		}
		if (mkdir(susp, 0700) < 0) {
			rc = msb__error(MSB_ESYS, errno, "mkdir `%s`: %s", susp,
					strerror(errno));
			goto out;
		}
		if ((rc = copy_into(from, susp, "state", true)) < 0 ||
		    (rc = copy_into(from, susp, "key", false)) < 0 ||
		    (rc = copy_into(from, susp, "agent_in", false)) < 0)
			goto out;
		long n = read_small(from, "vmm", text, TEXT_MAX - 128);
		_cleanup_close_ int fd =
			n > 0 ? open(vmm,
				     O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
				     0600)
			      : -1;
		size_t len = n > 0 ? (size_t)n : 0;
		len += (size_t)snprintf(text + len, TEXT_MAX - len,
					"snapshot=%s\n", snap);
		if (fd < 0 || write_all(fd, text, len) < 0 || fsync(fd) < 0 ||
		    sync_path(susp) < 0 || rename(susp, final) < 0) {
			rc = msb__error(MSB_ESYS, errno,
					"write the saved state of `%s`: %s",
					name, strerror(errno));
			goto out;
		}
		sync_path(sdir);
		if ((rc = set_status(paths.home, name, "suspended")) < 0)
			goto out;
	}
	if (start) {
		msb_sandbox *sb = NULL;
		started = keep; /* from here on it exists, and stays */
		rc = start_mode(out ? out : &sb, name, out ? req->detached : 1,
				full ? "resume" : "start");
		msb_sandbox_free(sb);
		if (rc < 0 && !keep) {
			/* Its supervisor has ended; its row and folder go. */
			msb_error saved;
			msb__error_save(&saved);
			msb_sandbox_remove(name, 1);
			msb__error_restore(&saved);
			inserted = made_dir = false;
		}
		if (rc < 0)
			goto out;
	}
	rc = 0;
	msb__error_clear();
out:
	if (rc < 0 && made_dir && !started)
		rm_rf(sdir);
	if (rc < 0 && inserted && !started)
		msb__state_forget(paths.home, name);
	json_decref(c);
	net_store_free(&net);
	msb__paths_clear(&paths);
	return rc;
}

EXPORT int msb_sandbox_create_from_snapshot(const char *snap, const char *name,
					    int start)
{
	msb_sandbox_options req = MSB_SANDBOX_OPTIONS_INIT;

	req.name = name;
	return msb__sandbox_from_snapshot(NULL, snap, &req, start, true);
}
