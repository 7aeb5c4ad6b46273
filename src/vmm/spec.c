// SPDX-License-Identifier: Apache-2.0
/* The VM spec handed from the library to msb-vmm, as JSON. */
#include "vmm/spec.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

/* String fields, in one table so that both directions stay in step; an
 * optional one is "" when absent. */
static const struct {
	const char *key;
	size_t off;
	bool optional;
} str_fields[] = {
	{"name", offsetof(struct msb_vm_spec, name), false},
	{"hostname", offsetof(struct msb_vm_spec, hostname), true},
	{"main_cwd", offsetof(struct msb_vm_spec, main_cwd), true},
	{"main_user", offsetof(struct msb_vm_spec, main_user), true},
	{"restart", offsetof(struct msb_vm_spec, restart), true},
	{"sandbox_dir", offsetof(struct msb_vm_spec, sandbox_dir), false},
	{"qemu", offsetof(struct msb_vm_spec, qemu), false},
	{"qemu_img", offsetof(struct msb_vm_spec, qemu_img), false},
	{"kernel", offsetof(struct msb_vm_spec, kernel), false},
	{"initrd", offsetof(struct msb_vm_spec, initrd), false},
	{"rootfs", offsetof(struct msb_vm_spec, rootfs), false},
	{"image", offsetof(struct msb_vm_spec, image), false},
	{"home", offsetof(struct msb_vm_spec, home), false},
	{"mode", offsetof(struct msb_vm_spec, mode), false},
	{"accel", offsetof(struct msb_vm_spec, accel), false},
	{"root_format", offsetof(struct msb_vm_spec, root_format), false},
	{"root_fstype", offsetof(struct msb_vm_spec, root_fstype), false},
	{"root_dev", offsetof(struct msb_vm_spec, root_dev), false},
	{"network", offsetof(struct msb_vm_spec, network), true},
	{"netd", offsetof(struct msb_vm_spec, netd), true},
};

static const struct {
	const char *key;
	size_t off;
} uint_fields[] = {
	{"cpus", offsetof(struct msb_vm_spec, cpus)},
	{"memory_mib", offsetof(struct msb_vm_spec, memory_mib)},
	{"boot_timeout_ms", offsetof(struct msb_vm_spec, boot_timeout_ms)},
	{"idle_timeout_s", offsetof(struct msb_vm_spec, idle_timeout_s)},
	{"max_duration_s", offsetof(struct msb_vm_spec, max_duration_s)},
	{"root_size_mib", offsetof(struct msb_vm_spec, root_size_mib)},
	{"restart_max", offsetof(struct msb_vm_spec, restart_max)},
};

/* Arrays of strings. */
static const struct {
	const char *key;
	size_t off;
} strv_fields[] = {
	{"env", offsetof(struct msb_vm_spec, env)},
	{"mounts", offsetof(struct msb_vm_spec, mounts)},
	{"disks", offsetof(struct msb_vm_spec, disks)},
	{"shares", offsetof(struct msb_vm_spec, shares)},
	{"initrd_extras", offsetof(struct msb_vm_spec, initrd_extras)},
	{"main_argv", offsetof(struct msb_vm_spec, main_argv)},
	{"main_rlimits", offsetof(struct msb_vm_spec, main_rlimits)},
	{"net_rules", offsetof(struct msb_vm_spec, net_rules)},
	{"net_block_domains", offsetof(struct msb_vm_spec, net_block_domains)},
	{"net_block_suffixes",
	 offsetof(struct msb_vm_spec, net_block_suffixes)},
	{"ports", offsetof(struct msb_vm_spec, ports)},
	{"tls_ports", offsetof(struct msb_vm_spec, tls_ports)},
	{"tls_bypass", offsetof(struct msb_vm_spec, tls_bypass)},
};

#define FIELD(s, off, type) (*(type *)((char *)(s) + (off)))

int msb_spec_to_json(char **out, const struct msb_vm_spec *s)
{
	json_t *o = json_object();
	int rc = -1;

	if (!o)
		goto out;
	for (size_t i = 0; i < ARRAY_SIZE(str_fields); i++) {
		const char *v = FIELD(s, str_fields[i].off, char *);
		if (!v && str_fields[i].optional)
			v = "";
		if (!v || json_object_set_new(o, str_fields[i].key,
					      json_string(v)) < 0)
			goto out;
	}
	for (size_t i = 0; i < ARRAY_SIZE(uint_fields); i++) {
		unsigned int v = FIELD(s, uint_fields[i].off, unsigned int);
		if (json_object_set_new(o, uint_fields[i].key,
					json_integer(v)) < 0)
			goto out;
	}
	if (json_object_set_new(o, "ephemeral", json_boolean(s->ephemeral)) <
		    0 ||
	    json_object_set_new(o, "detached", json_boolean(s->detached)) < 0 ||
	    json_object_set_new(o, "hold", json_boolean(s->hold)) < 0 ||
	    json_object_set_new(o, "no_template",
				json_boolean(s->no_template)) < 0 ||
	    json_object_set_new(o, "idle_suspend",
				json_boolean(s->idle_suspend)) < 0 ||
	    json_object_set_new(o, "root_direct",
				json_boolean(s->root_direct)) < 0 ||
	    json_object_set_new(o, "main_stdin", json_boolean(s->main_stdin)) <
		    0 ||
	    json_object_set_new(o, "main_tty", json_boolean(s->main_tty)) < 0 ||
	    json_object_set_new(o, "tls", json_boolean(s->tls)) < 0 ||
	    json_object_set_new(o, "prepared", json_boolean(s->prepared)) < 0)
		goto out;
	for (size_t i = 0; i < ARRAY_SIZE(strv_fields); i++) {
		json_t *a = json_array();
		if (!a || json_object_set_new(o, strv_fields[i].key, a) < 0)
			goto out;
		for (char **e = FIELD(s, strv_fields[i].off, char **); e && *e;
		     e++)
			if (json_array_append_new(a, json_string(*e)) < 0)
				goto out;
	}
	*out = json_dumps(o, JSON_COMPACT);
	rc = *out ? 0 : -1;
out:
	json_decref(o);
	if (rc < 0)
		errno = ENOMEM;
	return rc;
}

int msb_spec_from_json(struct msb_vm_spec *s, const char *json, size_t len,
		       char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);

	memset(s, 0, sizeof(*s));
	if (!o || !json_is_object(o)) {
		snprintf(err, errlen, "invalid spec: %s",
			 o ? "not an object" : jerr.text);
		json_decref(o);
		return -1;
	}
	for (size_t i = 0; i < ARRAY_SIZE(str_fields); i++) {
		const char *v = json_string_value(
			json_object_get(o, str_fields[i].key));
		if (!v && str_fields[i].optional &&
		    !json_object_get(o, str_fields[i].key))
			v = "";
		if (!v) {
			snprintf(err, errlen, "invalid spec: `%s` missing",
				 str_fields[i].key);
			goto fail;
		}
		if (!(FIELD(s, str_fields[i].off, char *) = strdup(v)))
			goto nomem;
	}
	for (size_t i = 0; i < ARRAY_SIZE(uint_fields); i++) {
		json_t *v = json_object_get(o, uint_fields[i].key);
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > 0xffffffffLL) {
			snprintf(err, errlen, "invalid spec: `%s` invalid",
				 uint_fields[i].key);
			goto fail;
		}
		FIELD(s, uint_fields[i].off, unsigned int) =
			(unsigned int)json_integer_value(v);
	}
	s->ephemeral = json_is_true(json_object_get(o, "ephemeral"));
	s->detached = json_is_true(json_object_get(o, "detached"));

	s->hold = json_is_true(json_object_get(o, "hold"));
	s->no_template = json_is_true(json_object_get(o, "no_template"));
	s->idle_suspend = json_is_true(json_object_get(o, "idle_suspend"));
	s->root_direct = json_is_true(json_object_get(o, "root_direct"));
	s->main_stdin = json_is_true(json_object_get(o, "main_stdin"));
	s->main_tty = json_is_true(json_object_get(o, "main_tty"));
	s->tls = json_is_true(json_object_get(o, "tls"));
	s->prepared = json_is_true(json_object_get(o, "prepared"));
	for (size_t k = 0; k < ARRAY_SIZE(strv_fields); k++) {
		json_t *a = json_object_get(o, strv_fields[k].key);
		size_t n = json_is_array(a) ? json_array_size(a) : 0;
		char **v = calloc(n + 1, sizeof(char *));
		if (!v)
			goto nomem;
		FIELD(s, strv_fields[k].off, char **) = v;
		for (size_t i = 0; i < n; i++) {
			const char *e = json_string_value(json_array_get(a, i));
			if (!e) {
				snprintf(err, errlen, "invalid spec: %s[%zu]",
					 strv_fields[k].key, i);
				goto fail;
			}
			if (!(v[i] = strdup(e)))
				goto nomem;
		}
	}
	json_decref(o);
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
fail:
	json_decref(o);
	msb_spec_clear(s);
	return -1;
}

void msb_spec_clear(struct msb_vm_spec *s)
{
	for (size_t i = 0; i < ARRAY_SIZE(str_fields); i++)
		free(FIELD(s, str_fields[i].off, char *));
	for (size_t k = 0; k < ARRAY_SIZE(strv_fields); k++) {
		char **v = FIELD(s, strv_fields[k].off, char **);
		for (char **e = v; e && *e; e++)
			free(*e);
		free(v);
	}
	memset(s, 0, sizeof(*s));
}
