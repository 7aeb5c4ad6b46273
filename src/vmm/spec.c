// SPDX-License-Identifier: Apache-2.0
/* The VM spec handed from the library to msb-vmm, as JSON. */
#include "vmm/spec.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

/* String fields, in one table so that both directions stay in step. */
static const struct {
	const char *key;
	size_t off;
} str_fields[] = {
	{"name", offsetof(struct msb_vm_spec, name)},
	{"sandbox_dir", offsetof(struct msb_vm_spec, sandbox_dir)},
	{"qemu", offsetof(struct msb_vm_spec, qemu)},
	{"qemu_img", offsetof(struct msb_vm_spec, qemu_img)},
	{"kernel", offsetof(struct msb_vm_spec, kernel)},
	{"initrd", offsetof(struct msb_vm_spec, initrd)},
	{"rootfs", offsetof(struct msb_vm_spec, rootfs)},
	{"image", offsetof(struct msb_vm_spec, image)},
	{"home", offsetof(struct msb_vm_spec, home)},
	{"mode", offsetof(struct msb_vm_spec, mode)},
	{"accel", offsetof(struct msb_vm_spec, accel)},
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
};

#define FIELD(s, off, type) (*(type *)((char *)(s) + (off)))

int msb_spec_to_json(char **out, const struct msb_vm_spec *s)
{
	json_t *o = json_object();
	json_t *env = json_array();
	int rc = -1;

	if (!o || !env)
		goto out;
	for (size_t i = 0; i < ARRAY_SIZE(str_fields); i++) {
		const char *v = FIELD(s, str_fields[i].off, char *);
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
	    json_object_set_new(o, "detached", json_boolean(s->detached)) < 0)
		goto out;
	for (char **e = s->env; e && *e; e++)
		if (json_array_append_new(env, json_string(*e)) < 0)
			goto out;
	if (json_object_set(o, "env", env) < 0)
		goto out;
	*out = json_dumps(o, JSON_COMPACT);
	rc = *out ? 0 : -1;
out:
	json_decref(env);
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

	json_t *env = json_object_get(o, "env");
	size_t n = json_is_array(env) ? json_array_size(env) : 0;
	s->env = calloc(n + 1, sizeof(char *));
	if (!s->env)
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		const char *v = json_string_value(json_array_get(env, i));
		if (!v) {
			snprintf(err, errlen, "invalid spec: env[%zu]", i);
			goto fail;
		}
		if (!(s->env[i] = strdup(v)))
			goto nomem;
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
	for (char **e = s->env; e && *e; e++)
		free(*e);
	free(s->env);
	memset(s, 0, sizeof(*s));
}
