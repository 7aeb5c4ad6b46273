// SPDX-License-Identifier: Apache-2.0
/*
 * msb_sandbox_inspect(): one sandbox as a JSON object: its state (status,
 * runs, exit status), its image (reference, ID, digest, platform) and the
 * options it was created with, grouped (environment, volumes and mounts,
 * network, limits, exec defaults, main process, restart policy), followed
 * by the stored options themselves under "config".
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/db.h"
#include "lib/image/image.h"
#include "lib/image/oci.h"
#include "lib/image/ref.h"
#include "lib/internal.h"

/* The stored value @key of @c, or JSON null (a new reference). */
static json_t *get(json_t *c, const char *key)
{
	json_t *v = json_object_get(c, key);

	return v ? json_incref(v) : json_null();
}

/* The stored number @key of @c; its default @dflt when 0 (null: none). */
static json_t *unset_null(json_t *c, const char *key, json_int_t dflt)
{
	json_int_t v = json_integer_value(json_object_get(c, key));

	if (!v)
		v = dflt;
	return v ? json_integer(v) : json_null();
}

/* The last run of @name: started, ended (0: not yet), exit reason. */
static void last_run(sqlite3 *db, const char *name, json_t *o)
{
	sqlite3_stmt *st = NULL;
	json_t *started = NULL, *ended = NULL, *reason = NULL;

	if (sqlite3_prepare_v2(db,
			       "SELECT started, ended, exit_reason FROM runs "
			       "WHERE sandbox = ? ORDER BY id DESC LIMIT 1",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW) {
			started = json_integer(sqlite3_column_int64(st, 0));
			if (sqlite3_column_type(st, 1) != SQLITE_NULL)
				ended = json_integer(
					sqlite3_column_int64(st, 1));
			const char *r =
				(const char *)sqlite3_column_text(st, 2);
			if (r)
				reason = json_string(r);
		}
	}
	sqlite3_finalize(st);
	json_object_set_new(o, "started", started ? started : json_null());
	json_object_set_new(o, "finished", ended ? ended : json_null());
	json_object_set_new(o, "exit_reason", reason ? reason : json_null());
}

/* The manifest digest the sandbox booted last ($dir/image), or "". */
static void booted_digest(const char *home, const char *name, char *out,
			  size_t len)
{
	_cleanup_free_ char *path =
		xasprintf("%s/sandboxes/%s/image", home, name);
	_cleanup_close_ int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	ssize_t n = fd >= 0 ? read(fd, out, len - 1) : -1;

	out[n > 0 ? n : 0] = '\0';
	out[strcspn(out, "\n")] = '\0';
}

/*
 * The image of a sandbox created from @image (NULL: the built-in one):
 * "image_reference" (canonical), "image_id", "image_digest", "platform";
 * null where the store does not say (a disk image, an image removed).
 */
static void image_fields(sqlite3 *db, const char *home, const char *name,
			 const char *image, json_t *o)
{
	_cleanup_free_ char *canonical = NULL;
	char booted[200];
	msb_image img = {0};
	struct msb_platform host;

	booted_digest(home, name, booted, sizeof(booted));
	if (!image) {
		canonical = strdup(MSB_DEFAULT_IMAGE);
	} else if (image[0] != '/' && image[0] != '.') {
		char **refs = NULL, *platform = NULL;
		struct msb_ref ref = {0};
		if (msb__image_find_id(home, image, &refs, &platform, NULL) ==
		    0)
			canonical = strdup(refs[0]);
		else if (msb_ref_parse(&ref, image) == 0)
			canonical = msb_ref_format(&ref);
		msb_ref_clear(&ref);
		msb_strv_free(refs);
		free(platform);
	}
	msb_platform_host(&host);
	/* What it booted, else what it would boot. */
	if (*booted) {
		sqlite3_stmt *st = NULL;
		if (sqlite3_prepare_v2(db,
				       "SELECT config_digest, platform FROM "
				       "images WHERE manifest_digest = ? "
				       "ORDER BY reference = ? DESC LIMIT 1",
				       -1, &st, NULL) == SQLITE_OK) {
			sqlite3_bind_text(st, 1, booted, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 2, canonical ? canonical : "", -1,
					  SQLITE_STATIC);
			if (sqlite3_step(st) == SQLITE_ROW) {
				const char *cd =
					(const char *)sqlite3_column_text(st,
									  0);
				const char *pf =
					(const char *)sqlite3_column_text(st,
									  1);
				img.config_digest = cd ? strdup(cd) : NULL;
				img.platform = pf && *pf ? strdup(pf) : NULL;
			}
		}
		sqlite3_finalize(st);
		img.digest = strdup(booted);
	} else if (canonical) {
		msb__image_db_lookup(home, canonical, &host, &img, NULL, 0);
	}
	msb__error_clear();
	json_object_set_new(o, "image_reference",
			    canonical ? json_string(canonical) : json_null());
	json_object_set_new(o, "image_id",
			    img.config_digest ? json_string(img.config_digest)
					      : json_null());
	json_object_set_new(o, "image_digest",
			    img.digest ? json_string(img.digest) : json_null());
	json_object_set_new(o, "platform",
			    img.platform && *img.platform
				    ? json_string(img.platform)
				    : json_null());
	free(img.digest);
	free(img.config_digest);
	free(img.platform);
}

/* The volumes, and the other mounts (binds, tmpfs) of the config @c. */
static void mount_fields(json_t *c, json_t *o)
{
	json_t *vols = json_array(), *mounts = json_array(), *e;
	size_t i;

	json_array_foreach(json_object_get(c, "volumes"), i, e)
	{
		json_array_append_new(
			vols,
			json_pack("{s:O?, s:O?, s:b}", "name",
				  json_object_get(e, "name"), "path",
				  json_object_get(e, "path"), "readonly",
				  json_is_true(json_object_get(e, "ro"))));
	}
	json_array_foreach(json_object_get(c, "binds"), i, e)
	{
		json_array_append_new(
			mounts,
			json_pack("{s:s, s:O?, s:O?, s:b}", "type", "bind",
				  "source", json_object_get(e, "host"),
				  "target", json_object_get(e, "path"),
				  "readonly",
				  json_is_true(json_object_get(e, "ro"))));
	}
	json_array_foreach(json_object_get(c, "tmpfs"), i, e)
	{
		json_array_append_new(
			mounts,
			json_pack("{s:s, s:O?, s:O?, s:O?}", "type", "tmpfs",
				  "target", json_object_get(e, "path"),
				  "size_bytes", json_object_get(e, "size"),
				  "mode", json_object_get(e, "mode")));
	}
	json_object_set_new(o, "volumes", vols);
	json_object_set_new(o, "mounts", mounts);
}

/* The grouped options of the config @c (lifecycle.c's config_json()). */
static void config_fields(json_t *c, const msb_sandbox_info *info, json_t *o)
{
	json_t *env = json_object_get(c, "env");

	json_object_set_new(o, "env", env ? json_incref(env) : json_array());
	mount_fields(c, o);
	/* the network's config (lifecycle.c), or, for a sandbox stored
	 * before sandboxes had networks, none */
	json_t *net = json_object_get(c, "network");
	json_object_set_new(o, "network",
			    json_is_object(net)
				    ? json_incref(net)
				    : json_pack("{s:s, s:[], s:[], s:[], s:[]}",
						"preset", "none", "rules",
						"block_domains",
						"block_suffixes", "ports"));
	/* Secrets (name, hosts, placeholder, body: never a value) and TLS
	 * interception (docs/network.md); none for a sandbox without. */
	json_t *tls = json_object_get(c, "tls");
	json_t *secrets = json_array();
	json_t *list = json_object_get(tls, "secrets");
	size_t i;
	json_t *e;
	json_array_foreach(list, i, e)
	{
		json_array_append_new(
			secrets,
			json_pack("{s:O?, s:O?, s:O?, s:O?}", "name",
				  json_object_get(e, "name"), "hosts",
				  json_object_get(e, "hosts"), "placeholder",
				  json_object_get(e, "placeholder"), "body",
				  json_object_get(e, "body")));
	}
	json_object_set_new(o, "secrets", secrets);
	json_object_set_new(
		o, "tls",
		json_is_object(tls)
			? json_pack("{s:O?, s:O?, s:O?, s:O?, s:O?}",
				    "intercept",
				    json_object_get(tls, "intercept"), "ports",
				    json_object_get(tls, "ports"), "bypass",
				    json_object_get(tls, "bypass"), "ca",
				    json_object_get(tls, "ca"), "upstream_ca",
				    json_object_get(tls, "upstream_ca"))
			: json_null());
	json_t *rl = json_object_get(c, "rlimits");
	const char *on_idle = json_string_value(json_object_get(c, "on_idle"));
	if (!on_idle || strcmp(on_idle, "suspend"))
		on_idle = "stop";
	json_object_set_new(
		o, "limits",
		json_pack(
			"{s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:s}", "cpus",
			(json_int_t)(info->cpus ? info->cpus : 1), "memory_mib",
			(json_int_t)(info->memory_mib ? info->memory_mib : 512),
			"ulimits", rl ? json_incref(rl) : json_array(),
			"root_size_mib", unset_null(c, "root_size_mib", 0),
			"boot_timeout_s", unset_null(c, "boot_timeout_s", 60),
			"idle_timeout_s", unset_null(c, "idle_timeout_s", 0),
			"max_duration_s", unset_null(c, "max_duration_s", 0),
			"on_idle", on_idle));
	json_object_set_new(o, "exec_defaults",
			    json_pack("{s:o, s:o, s:o}", "workdir",
				      get(c, "workdir"), "user", get(c, "user"),
				      "timeout_ms",
				      unset_null(c, "exec_timeout_ms", 0)));
	json_object_set_new(o, "hostname", get(c, "hostname"));
	if (json_is_true(json_object_get(c, "run_main")))
		json_object_set_new(
			o, "main",
			json_pack(
				"{s:o, s:o, s:b, s:b}", "entrypoint",
				get(c, "entrypoint"), "cmd", get(c, "cmd"),
				"stdin",
				json_is_true(json_object_get(c, "main_stdin")),
				"tty",
				json_is_true(json_object_get(c, "main_tty"))));
	else
		json_object_set_new(o, "main", json_null());
	json_t *policy = json_object_get(c, "restart");
	json_object_set_new(o, "restart",
			    json_pack("{s:s, s:o}", "policy",
				      json_is_string(policy)
					      ? json_string_value(policy)
					      : "no",
				      "max", unset_null(c, "restart_max", 0)));
	json_object_set_new(
		o, "auto_remove",
		json_boolean(json_is_true(json_object_get(c, "auto_remove"))));
}

static json_t *labels_object(char **labels)
{
	json_t *l = json_object();

	for (size_t k = 0; l && labels && labels[k]; k++) {
		const char *eq = strchr(labels[k], '=');
		if (!eq)
			continue;
		_cleanup_free_ char *key =
			strndup(labels[k], (size_t)(eq - labels[k]));
		if (key)
			json_object_set_new(l, key, json_string(eq + 1));
	}
	return l;
}

EXPORT int msb_sandbox_inspect(const char *name, char **out)
{
	struct msb_paths paths = {0};
	msb_sandbox_info *v = NULL;
	size_t n = 0, i;
	const msb_sandbox_info *info;
	sqlite3 *db = NULL;
	char *config = NULL, *text = NULL;
	json_t *o = NULL, *c = NULL;
	int rc, code = -1;

	msb__error_clear();
	if (!name || !out)
		return msb__error(MSB_EINVAL, 0, "name and out are required");
	*out = NULL;
	/* The list repairs the status of a sandbox whose supervisor died. */
	if ((rc = msb_sandbox_list(&v, &n)) < 0)
		return rc;
	for (i = 0; i < n && strcmp(v[i].name, name); i++)
		;
	if (i == n) {
		rc = msb__error(MSB_ENOTFOUND, 0, "no sandbox named `%s`",
				name);
		goto out;
	}
	info = &v[i];
	if ((rc = msb_sandbox_config(name, &config)) < 0 ||
	    (rc = msb_sandbox_exit_code(name, &code)) < 0 ||
	    (rc = msb__paths_home(&paths)) < 0 ||
	    (rc = msb__db_open(&db, paths.home)) < 0)
		goto out;
	c = json_loads(config, 0, NULL);
	o = json_pack("{s:s, s:s}", "name", info->name, "status", info->status);
	if (!c || !o) {
		rc = msb__error(MSB_ENOMEM, ENOMEM,
				"sandbox `%s`: cannot read its stored options",
				name);
		goto out;
	}
	/* The fields msb inspect always printed, in their order. */
	if (info->status_reason)
		json_object_set_new(o, "status_reason",
				    json_string(info->status_reason));
	json_object_set_new(o, "image",
			    info->image ? json_string(info->image)
					: json_null());
	json_object_set_new(o, "cpus",
			    json_integer(info->cpus ? info->cpus : 1));
	json_object_set_new(
		o, "memory_mib",
		json_integer(info->memory_mib ? info->memory_mib : 512));
	json_object_set_new(o, "ephemeral", json_boolean(info->ephemeral));
	json_object_set_new(o, "pid", json_integer(info->pid));
	json_object_set_new(o, "created", json_integer(info->created));
	json_object_set_new(o, "updated", json_integer(info->updated));
	json_object_set_new(o, "labels", labels_object(info->labels));
	json_object_set_new(o, "exit_code",
			    code >= 0 ? json_integer(code) : json_null());
	last_run(db, name, o);
	image_fields(db, paths.home, name, info->image, o);
	config_fields(c, info, o);
	/*
	 * The stored options last, as stored (compact, byte for byte), after
	 * the object's other members.
	 */
	/* ASCII: exit_reason can quote the guest's console, and C1
	 * controls are escaped this way too. */
	text = json_dumps(o, JSON_ENSURE_ASCII);
	size_t len = text ? strlen(text) : 0;
	if (len < 2 || text[len - 1] != '}') {
		rc = msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
		goto out;
	}
	text[len - 1] = '\0';
	if (!(*out = xasprintf("%s, \"config\": %s}", text, config)))
		rc = msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
out:
	json_decref(o);
	json_decref(c);
	free(text);
	free(config);
	msb__db_close(db);
	msb__paths_clear(&paths);
	msb_sandbox_list_free(v, n);
	return rc;
}
