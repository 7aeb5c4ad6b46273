// SPDX-License-Identifier: Apache-2.0
/*
 * Sandbox lifecycle: create (spawn the supervisor, wait for ready), stop,
 * free. See src/vmm/main.c for the supervisor's side.
 */
#include <ctype.h>
#include <jansson.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/file.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/internal.h"
#include "lib/image/image.h"
#include "net/http1.h"
#include "net/policy.h"
#include "util/rlimit.h"
#include "vmm/spec.h"

#define DEFAULT_CPUS 1
#define DEFAULT_MEMORY_MIB 512
#define DEFAULT_BOOT_TIMEOUT_S 60
#define DEFAULT_STOP_MS 10000
#define FREE_STOP_MS 3000

extern char **environ;

bool msb__valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63 || !isalnum((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("-_.", s[i]))
			return false;
	return true;
}

static bool is_disk_path(const char *image);

/*
 * A version 1 caller's options end before the version 2 fields, a version
 * 2 caller's before the version 3 ones, a version 3 caller's before the
 * version 4 ones, a version 4 caller's before no_template (version 5):
 * read only its part into @buf (the rest the defaults).
 * Return: the options to use.
 */
static const msb_sandbox_options *options_upgrade(msb_sandbox_options *buf,
						  const msb_sandbox_options *o)
{
	if (!o || o->version < 1 || o->version > 5)
		return o;
	*buf = (msb_sandbox_options)MSB_SANDBOX_OPTIONS_INIT;
	memcpy(buf, o,
	       o->version == 1   ? offsetof(msb_sandbox_options, workdir)
	       : o->version == 2 ? offsetof(msb_sandbox_options, network)
	       : o->version == 3 ? offsetof(msb_sandbox_options, main_stdin)
	       : o->version == 4 ? offsetof(msb_sandbox_options, no_template)
				 : offsetof(msb_sandbox_options, secrets));
	buf->version = MSB_SANDBOX_OPTIONS_VERSION;
	return buf;
}

/*
 * msb__port_format() - the canonical text of a published port,
 * "HOSTIP:HOSTPORT:GUESTPORT/PROTO" (an IPv6 HOSTIP in brackets), in @out.
 * Return: 0, or -MSB_EINVAL (error set) for an invalid one.
 */
int msb__port_format(char *out, size_t cap, const msb_port *p)
{
	struct msb_net_addr a;
	char ip[MSB_NET_ADDR_STRLEN];
	const char *hip = p->host_ip ? p->host_ip : "127.0.0.1";

	if (msb_net_addr_parse(&a, hip) < 0)
		return msb__error(MSB_EINVAL, 0,
				  "invalid published port: `%s` is not an IP "
				  "address",
				  hip);
	if (!p->host_port || p->host_port > 65535 || !p->guest_port ||
	    p->guest_port > 65535)
		return msb__error(MSB_EINVAL, 0,
				  "invalid published port %u:%u: ports are "
				  "1-65535",
				  p->host_port, p->guest_port);
	if ((unsigned int)p->protocol > MSB_PORT_UDP)
		return msb__error(MSB_EINVAL, 0,
				  "invalid published port protocol %d",
				  (int)p->protocol);
	msb_net_addr_format(ip, sizeof(ip), &a);
	snprintf(out, cap, a.family == 6 ? "[%s]:%u:%u/%s" : "%s:%u:%u/%s", ip,
		 p->host_port, p->guest_port,
		 p->protocol == MSB_PORT_UDP ? "udp" : "tcp");
	return 0;
}

/* The network options: a known preset; every rule, blocked name and port
 * valid (the policy engine's own parser: its message names the rule). */
static int check_network(const msb_sandbox_options *o)
{
	char err[512];
	int rc = 0;

	if ((unsigned int)o->network > MSB_NETWORK_NONE)
		return msb__error(MSB_EINVAL, 0, "invalid network preset %d",
				  (int)o->network);
	if (o->n_ports > MSB_MAX_PORTS || (o->n_ports && !o->ports))
		return msb__error(MSB_EINVAL, 0,
				  "invalid port list (at most %d ports)",
				  MSB_MAX_PORTS);
	for (size_t i = 0; i < o->n_ports; i++) {
		char text[80];
		if ((rc = msb__port_format(text, sizeof(text), &o->ports[i])) <
		    0)
			return rc;
		for (size_t k = 0; k < i; k++)
			if (o->ports[k].host_port == o->ports[i].host_port &&
			    o->ports[k].protocol == o->ports[i].protocol)
				return msb__error(MSB_EINVAL, 0,
						  "host port %u/%s is "
						  "published twice",
						  o->ports[i].host_port,
						  o->ports[i].protocol ==
								  MSB_PORT_UDP
							  ? "udp"
							  : "tcp");
	}
	struct msb_net_policy *p = msb_net_policy_new();
	if (!p)
		return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	for (const char *const *r = o->net_rules; r && *r && !rc; r++)
		if (msb_net_policy_add_rule(p, *r, err, sizeof(err)) < 0)
			rc = msb__error(MSB_EINVAL, 0, "%s", err);
	for (const char *const *d = o->block_domains; d && *d && !rc; d++)
		if (msb_net_policy_block_domain(p, *d, err, sizeof(err)) < 0)
			rc = msb__error(MSB_EINVAL, 0, "%s", err);
	for (const char *const *d = o->block_suffixes; d && *d && !rc; d++)
		if (msb_net_policy_block_suffix(p, *d, err, sizeof(err)) < 0)
			rc = msb__error(MSB_EINVAL, 0, "%s", err);
	msb_net_policy_free(p);
	bool asks = (o->net_rules && *o->net_rules) ||
		    (o->block_domains && *o->block_domains) ||
		    (o->block_suffixes && *o->block_suffixes) || o->n_ports;
	if (!rc && o->network == MSB_NETWORK_NONE && asks)
		rc = msb__error(MSB_EINVAL, 0,
				"a sandbox without a network (none) takes no "
				"rules, blocked domains or published ports");
	/* Valid, but this build cannot give it: say so, never ignore it
	 * (the default preset alone means "whatever network there is"). */
	if (!rc && !MSB_HAVE_NET && (asks || o->network == MSB_NETWORK_ALL))
		rc = msb__error(MSB_ENOTSUP, 0,
				"this build has no network (built with "
				"-Dnet=false): %s needs one",
				o->network == MSB_NETWORK_ALL ? "the preset all"
				: o->net_rules && *o->net_rules
					? "a network rule"
				: o->n_ports ? "a published port"
					     : "a blocked domain");
	return rc;
}

msb_network_preset msb__network_preset(const msb_sandbox_options *o)
{
	/* -Dnet=false: the default preset gets what the build has, none */
	return MSB_HAVE_NET ? o->network : MSB_NETWORK_NONE;
}

/* What the idle timeout does (docs/snapshots.md, "Suspend when idle"):
 * suspending needs a sandbox that can be saved and is kept. */
static int check_on_idle(const msb_sandbox_options *o)
{
	if ((unsigned int)o->on_idle > MSB_IDLE_SUSPEND)
		return msb__error(MSB_EINVAL, 0, "invalid on_idle %d",
				  (int)o->on_idle);
	if (o->on_idle != MSB_IDLE_SUSPEND)
		return 0;
	if (!o->idle_timeout_s)
		return msb__error(MSB_EINVAL, 0,
				  "suspend when idle needs an idle timeout "
				  "(--idle-timeout)");
	if (!o->name || o->auto_remove)
		return msb__error(MSB_EINVAL, 0,
				  "suspend when idle needs a sandbox that is "
				  "kept: give it a name, without --rm");
	if (o->root_writable)
		return msb__error(MSB_EINVAL, 0,
				  "suspend when idle: a sandbox whose root "
				  "disk is the image itself (--root-writable) "
				  "cannot be saved");
	if (o->n_binds)
		return msb__error(MSB_EINVAL, 0,
				  "suspend when idle: a sandbox with host "
				  "folders shared over virtio-fs cannot be "
				  "saved");
	return 0;
}

static int check_options(const msb_sandbox_options *o)
{
	if (!o)
		return msb__error(MSB_EINVAL, 0, "options are required");
	if (o->version < 1 || o->version > MSB_SANDBOX_OPTIONS_VERSION)
		return msb__error(
			MSB_EINVAL, 0,
			"unsupported options version %u (this library knows %d): initialise with MSB_SANDBOX_OPTIONS_INIT",
			o->version, MSB_SANDBOX_OPTIONS_VERSION);
	if (msb__tls_check(o) < 0)
		return -msb_last_error()->code;
	if (o->name && !msb__valid_name(o->name))
		return msb__error(
			MSB_EINVAL, 0,
			"invalid sandbox name `%s`: use 1-63 letters, digits, '-', '_' or '.', starting with a letter or digit",
			o->name);
	if (o->detached && !o->name)
		return msb__error(
			MSB_EINVAL, 0,
			"a detached sandbox needs a name, to be found again");
	if (o->cpus > 64)
		return msb__error(MSB_EINVAL, 0,
				  "invalid cpus %u: must be between 1 and 64",
				  o->cpus);
	for (const char *const *r = o->rlimits; r && *r; r++) {
		int res;
		struct rlimit rl;
		char why[256];
		if (msb_rlimit_parse(*r, strlen(*r), &res, &rl, why,
				     sizeof(why)) < 0)
			return msb__error(MSB_EINVAL, 0,
					  "invalid resource limit `%s`: %s", *r,
					  why);
	}
	int idle_rc = check_on_idle(o);
	if (idle_rc < 0)
		return idle_rc;
	if ((unsigned int)o->restart > MSB_RESTART_ALWAYS)
		return msb__error(MSB_EINVAL, 0, "invalid restart policy %d",
				  (int)o->restart);
	if (o->hostname && (!*o->hostname || strlen(o->hostname) > 64 ||
			    strpbrk(o->hostname, "/ \t\n")))
		return msb__error(MSB_EINVAL, 0,
				  "invalid hostname `%s`: 1-64 characters, no "
				  "spaces or '/'",
				  o->hostname);
	/* Below the minimum the guest kernel runs out of memory while it
	 * boots (see MSB_MEMORY_MIN_MIB). */
	if (o->memory_mib && (o->memory_mib < MSB_MEMORY_MIN_MIB ||
			      o->memory_mib > MSB_MEMORY_MAX_MIB))
		return msb__error(MSB_EINVAL, 0,
				  "invalid memory %u MiB: must be between %d "
				  "and %d (below %d the guest kernel runs out "
				  "of memory while it boots)",
				  o->memory_mib, MSB_MEMORY_MIN_MIB,
				  MSB_MEMORY_MAX_MIB, MSB_MEMORY_MIN_MIB);
	for (const char *const *e = o->env; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		if (!eq || eq == *e)
			return msb__error(
				MSB_EINVAL, 0,
				"invalid environment entry `%s`: expected KEY=VALUE",
				*e);
	}
	if (o->root_fstype &&
	    (!*o->root_fstype || strlen(o->root_fstype) > 32 ||
	     strspn(o->root_fstype, "abcdefghijklmnopqrstuvwxyz0123456789") !=
		     strlen(o->root_fstype)))
		return msb__error(MSB_EINVAL, 0,
				  "invalid root filesystem type `%s`",
				  o->root_fstype);
	if ((o->root_fstype || o->root_writable) &&
	    (!o->image || !is_disk_path(o->image)))
		return msb__error(MSB_EINVAL, 0,
				  "a root filesystem type and a writable root "
				  "apply to a disk image given as a path");
	if (o->root_writable && o->root_size_mib)
		return msb__error(
			MSB_EINVAL, 0,
			"a root size needs the copy-on-write overlay, "
			"not a writable disk");
	if (o->root_size_mib > (16u << 20))
		return msb__error(MSB_EINVAL, 0,
				  "invalid root size %u MiB: at most 16 TiB",
				  o->root_size_mib);
	if (o->n_binds > 16 || (o->n_binds && !o->binds))
		return msb__error(MSB_EINVAL, 0,
				  "invalid bind list (at most 16 directories)");
	for (size_t i = 0; i < o->n_binds; i++) {
		const msb_bind_mount *b = &o->binds[i];
		struct stat st;
		if (!b->path || b->path[0] != '/' || strlen(b->path) > 4000)
			return msb__error(MSB_EINVAL, 0,
					  "bind `%s`: the guest path must be "
					  "absolute",
					  b->host_path ? b->host_path
						       : "(null)");
		if (!b->host_path || stat(b->host_path, &st) < 0)
			return msb__error(MSB_ENOTFOUND, errno,
					  "host directory `%s` to share: %s",
					  b->host_path ? b->host_path
						       : "(null)",
					  strerror(errno));
		if (!S_ISDIR(st.st_mode))
			return msb__error(MSB_EINVAL, 0,
					  "`%s` is not a directory: only "
					  "directories can be shared",
					  b->host_path);
	}
	if (o->n_volumes > 64 || (o->n_volumes && !o->volumes))
		return msb__error(MSB_EINVAL, 0,
				  "invalid volume list (at most 64 volumes)");
	for (size_t i = 0; i < o->n_volumes; i++) {
		const msb_volume_mount *v = &o->volumes[i];
		if (!v->name || !msb__valid_name(v->name))
			return msb__error(MSB_EINVAL, 0,
					  "invalid volume name `%s`",
					  v->name ? v->name : "(null)");
		if (!v->path || v->path[0] != '/' || strlen(v->path) > 4000)
			return msb__error(MSB_EINVAL, 0,
					  "volume `%s`: the guest path must be "
					  "absolute, not `%s`",
					  v->name,
					  v->path ? v->path : "(null)");
		for (size_t k = 0; k < i; k++)
			if (!strcmp(o->volumes[k].name, v->name))
				return msb__error(MSB_EINVAL, 0,
						  "volume `%s` is given twice",
						  v->name);
	}
	if (o->n_tmpfs > 64 || (o->n_tmpfs && !o->tmpfs))
		return msb__error(MSB_EINVAL, 0,
				  "invalid tmpfs list (at most 64 mounts)");
	for (size_t i = 0; i < o->n_tmpfs; i++) {
		const msb_tmpfs *t = &o->tmpfs[i];
		if (!t->path || t->path[0] != '/' || strlen(t->path) > 4000 ||
		    t->mode > 07777)
			return msb__error(
				MSB_EINVAL, 0,
				"invalid tmpfs `%s`: an absolute guest path and "
				"a mode up to 07777",
				t->path ? t->path : "(null)");
	}
	if (o->n_patches && !o->patches)
		return msb__error(MSB_EINVAL, 0, "patches is NULL");
	for (size_t i = 0; i < o->n_patches; i++) {
		const msb_patch *p = &o->patches[i];
		bool needs = p->kind == MSB_PATCH_TEXT ||
			     p->kind == MSB_PATCH_APPEND ||
			     p->kind == MSB_PATCH_COPY ||
			     p->kind == MSB_PATCH_SYMLINK;
		if (p->kind < MSB_PATCH_TEXT || p->kind > MSB_PATCH_REMOVE)
			return msb__error(MSB_EINVAL, 0,
					  "patch %zu: unknown kind %d", i + 1,
					  (int)p->kind);
		if (!p->path || p->path[0] != '/')
			return msb__error(MSB_EINVAL, 0,
					  "patch %zu: the guest path must be "
					  "absolute, not `%s`",
					  i + 1, p->path ? p->path : "(null)");
		if (needs && !p->content)
			return msb__error(MSB_EINVAL, 0,
					  "patch %zu (`%s`): content is NULL",
					  i + 1, p->path);
		if (p->mode > 07777)
			return msb__error(MSB_EINVAL, 0,
					  "patch %zu (`%s`): mode 0%o is "
					  "beyond 07777",
					  i + 1, p->path, p->mode);
	}
	int rc = check_network(o);
	if (rc < 0)
		return rc;
	for (const char *const *l = o->labels; l && *l; l++) {
		const char *eq = strchr(*l, '=');
		if (!eq || eq == *l || eq - *l > 128 || strlen(eq + 1) > 4096)
			return msb__error(
				MSB_EINVAL, 0,
				"invalid label `%.200s`: expected KEY=VALUE (key "
				"1-128 bytes, value at most 4096)",
				*l);
	}
	return 0;
}

/* "qcow2" if @path starts with the qcow2 magic, else "raw". */
static const char *root_format(const char *path)
{
	uint8_t magic[4] = {0};
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd >= 0 &&
	    read(fd, magic, sizeof(magic)) == (ssize_t)sizeof(magic) &&
	    !memcmp(magic, "QFI\xfb", 4))
		return "qcow2";
	return "raw";
}

/* Does @image name a disk image file rather than an OCI reference? */
static bool is_disk_path(const char *image)
{
	return image[0] == '/' || image[0] == '.';
}

/*
 * Choose the root filesystem: the built-in default image, an OCI image
 * (pulled as opts->pull says), or a raw ext4 disk image. Sets sb->image
 * and the exec defaults from the image config; *@rootfs is the base disk.
 */
/* Guests run the host's architecture (no emulation of another one). */
static int check_platform(const msb_image *img)
{
	struct msb_platform p, host;
	char ip[64];

	if (msb__image_platform(img, &p) < 0)
		return 0; /* an image that does not say: try it */
	msb_platform_host(&host);
	if (!strcmp(p.os, host.os) && !strcmp(p.arch, host.arch))
		return 0;
	msb_platform_format(&p, ip, sizeof(ip));
	return msb__error(MSB_EINVAL, 0,
			  "image `%s` is %s; this host runs %s/%s guests only",
			  img->reference, ip, host.os, host.arch);
}

static int pick_root(msb_sandbox *sb, struct msb_paths *paths,
		     const msb_sandbox_options *opts)
{
	const char *image = opts->image;
	char probe[4200];
	struct stat st;
	int rc;

	if (!image || !*image) {
		snprintf(probe, sizeof(probe), "%s/index.json",
			 paths->default_layout);
		if (access(probe, R_OK) != 0)
			return 0; /* the build's raw default disk */
		rc = msb__image_default(&sb->image, paths->home,
					paths->default_layout);
	} else if (is_disk_path(image)) {
		if (stat(image, &st) == 0 && S_ISDIR(st.st_mode)) {
			/* A host directory as the root: shared (virtio-fs). */
			free(sb->root_dir);
			sb->root_dir = realpath(image, NULL);
			return sb->root_dir
				       ? 0
				       : msb__error(MSB_ESYS, errno,
						    "realpath `%s`: %s", image,
						    strerror(errno));
		}
		if (stat(image, &st) < 0 || !S_ISREG(st.st_mode))
			return msb__error(
				MSB_ENOTFOUND, errno,
				"disk image `%s` not found or not a file",
				image);
		char *abs = realpath(image, NULL);
		if (!abs)
			return msb__error(MSB_ESYS, errno, "realpath `%s`: %s",
					  image, strerror(errno));
		free(paths->rootfs);
		paths->rootfs = abs;
		return 0;
	} else {
		/* Another architecture asked for: refused before pulling. */
		struct msb_platform want, host;
		if (opts->pull && opts->pull->platform) {
			if ((rc = msb_platform_parse(&want,
						     opts->pull->platform)) < 0)
				return rc;
			msb_platform_host(&host);
			if (strcmp(want.os, host.os) ||
			    strcmp(want.arch, host.arch)) {
				char wp[64];
				msb_platform_format(&want, wp, sizeof(wp));
				return msb__error(
					MSB_EINVAL, 0,
					"image `%s` is %s; this host runs %s/%s guests only",
					image, wp, host.os, host.arch);
			}
		}
		rc = msb__image_resolve(&sb->image, paths->home, image,
					opts->pull);
	}
	if (rc < 0)
		return rc;
	if ((rc = check_platform(sb->image)) < 0)
		return rc;
	const struct msb_image_config *c = &sb->image->cfg;
	char *rootfs = strdup(sb->image->rootfs);
	if (!rootfs ||
	    (c->workdir && *c->workdir &&
	     !(sb->workdir = strdup(c->workdir))) ||
	    (c->user && *c->user && !(sb->user = strdup(c->user)))) {
		free(rootfs);
		return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	}
	free(paths->rootfs);
	paths->rootfs = rootfs;
	return 0;
}

/* The image's environment, then the sandbox's (the agent lets a later
 * KEY= win). One allocation of pointers; strings are borrowed. */
/*
 * The hello's mount specs (agent/mount.h): the volumes, then the tmpfs
 * mounts; and the supervisor's disk list (volume i on SCSI target i). One
 * allocation per entry, NULL-terminated. Return: 0 or -MSB_E*.
 */
static int mount_specs(char ***mounts, char ***disks, char ***shares,
		       const char *home, const char *root_dir,
		       const msb_sandbox_options *o)
{
	char **m = calloc(o->n_volumes + o->n_binds + o->n_tmpfs + 1,
			  sizeof(char *));
	char **d = calloc(o->n_volumes + 1, sizeof(char *));
	char **sh = calloc(o->n_binds + 2, sizeof(char *));
	size_t n = 0;
	int rc = 0;

	*mounts = m;
	*disks = d;
	*shares = sh;
	if (!m || !d || !sh)
		return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	if (root_dir) {
		/* the last share, after the binds */
		sh[o->n_binds] = xasprintf(
			"%s:%s", o->root_writable ? "rw" : "ro", root_dir);
		if (!sh[o->n_binds])
			return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < o->n_binds; i++) {
		const msb_bind_mount *b = &o->binds[i];
		_cleanup_free_ char *abs = realpath(b->host_path, NULL);
		if (!abs)
			return msb__error(MSB_ENOTFOUND, errno,
					  "host directory `%s`: %s",
					  b->host_path, strerror(errno));
		const char *mode = b->readonly ? "ro" : "rw";
		sh[i] = xasprintf("%s:%s", mode, abs);
		m[n] = xasprintf("bind:fs%zu:%s:%s", i, mode, b->path);
		if (!sh[i] || !m[n++])
			return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < o->n_volumes; i++) {
		const msb_volume_mount *v = &o->volumes[i];
		_cleanup_free_ char *img = NULL;
		if ((rc = msb__volume_path(&img, home, v->name)) < 0)
			return rc;
		if (access(img, R_OK) < 0)
			return msb__error(MSB_ENOTFOUND, errno,
					  "no volume named `%s` (create it "
					  "with msb volume create)",
					  v->name);
		const char *mode = v->readonly ? "ro" : "rw";
		d[i] = xasprintf("%s:%s", mode, img);
		m[n] = xasprintf("vol:%zu:%s:%s", i, mode, v->path);
		if (!d[i] || !m[n++])
			return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < o->n_tmpfs; i++) {
		const msb_tmpfs *t = &o->tmpfs[i];
		m[n] = xasprintf("tmpfs:%llu:%o:%s",
				 (unsigned long long)t->size_bytes,
				 t->mode ? t->mode : 01777, t->path);
		if (!m[n++])
			return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	}
	return 0;
}

/* A boot that failed on a volume's lock: which volume, held by whom. */
static void explain_volume_conflict(const char *home, const char *self,
				    const msb_sandbox_options *o)
{
	for (size_t i = 0; i < o->n_volumes; i++) {
		_cleanup_free_ char *img = NULL;
		if (msb__volume_path(&img, home, o->volumes[i].name) < 0)
			continue;
		_cleanup_close_ int fd = open(img, O_RDONLY | O_CLOEXEC);
		int op = o->volumes[i].readonly ? LOCK_SH : LOCK_EX;
		if (fd >= 0 && flock(fd, op | LOCK_NB) < 0) {
			msb__volume_conflict(home, o->volumes[i].name, self);
			return;
		}
	}
}

/* Apply the rootfs patches through the filesystem API. Return: 0, or
 * -MSB_E* with the error naming the patch. */
static int apply_patches(msb_sandbox *sb, const msb_sandbox_options *o)
{
	static const char *const names[] = {
		[MSB_PATCH_TEXT] = "text",       [MSB_PATCH_APPEND] = "append",
		[MSB_PATCH_COPY] = "copy",       [MSB_PATCH_MKDIR] = "mkdir",
		[MSB_PATCH_SYMLINK] = "symlink", [MSB_PATCH_REMOVE] = "remove",
	};

	for (size_t i = 0; i < o->n_patches; i++) {
		const msb_patch *p = &o->patches[i];
		int rc = 0, exists = 0;
		switch (p->kind) {
		case MSB_PATCH_TEXT:
			rc = msb_sandbox_fs_write(sb, p->path, p->content,
						  strlen(p->content),
						  p->mode ? p->mode : 0644, 0);
			/* replacing a file keeps its old mode: set it */
			if (rc == 0 && p->mode)
				rc = msb_sandbox_fs_chmod(sb, p->path, p->mode);
			break;
		case MSB_PATCH_APPEND:
			rc = msb_sandbox_fs_write(sb, p->path, p->content,
						  strlen(p->content), 0644,
						  MSB_FS_WRITE_APPEND);
			break;
		case MSB_PATCH_COPY:
			rc = msb_sandbox_fs_copy_in(sb, p->content, p->path);
			break;
		case MSB_PATCH_MKDIR:
			rc = msb_sandbox_fs_mkdir(sb, p->path,
						  p->mode ? p->mode : 0755, 1);
			if (rc == 0)
				rc = msb_sandbox_fs_chmod(
					sb, p->path, p->mode ? p->mode : 0755);
			break;
		case MSB_PATCH_SYMLINK:
			rc = msb_sandbox_fs_symlink(sb, p->path, p->content);
			break;
		case MSB_PATCH_REMOVE:
			rc = msb_sandbox_fs_exists(&exists, sb, p->path);
			if (rc == 0 && exists)
				rc = msb_sandbox_fs_remove(sb, p->path, 1);
			break;
		}
		if (rc < 0) {
			char why[sizeof(msb_last_error()->message)];
			snprintf(why, sizeof(why), "%s",
				 msb_last_error()->message);
			return msb__error(
				-rc, msb_last_error()->sys_errno,
				"rootfs patch %zu (%s `%s`) failed: %s", i + 1,
				names[p->kind], p->path, why);
		}
	}
	return 0;
}

static char **merge_env(const msb_sandbox *sb, const char *const *env,
			char *const *secrets)
{
	size_t ni = 0, ne = 0, ns = 0;
	char *const *ienv = sb->image ? sb->image->cfg.env : NULL;

	while (ienv && ienv[ni])
		ni++;
	while (env && env[ne])
		ne++;
	while (secrets && secrets[ns])
		ns++;
	char **out = calloc(ni + ne + ns + 1, sizeof(char *));
	if (!out)
		return NULL;
	for (size_t i = 0; i < ni; i++)
		out[i] = ienv[i];
	for (size_t i = 0; i < ne; i++)
		out[ni + i] = (char *)env[i];
	/* Last: a secret's placeholder wins over the image's variable. */
	for (size_t i = 0; i < ns; i++)
		out[ni + ne + i] = secrets[i];
	return out;
}

static int accel_from_env(const char **accel)
{
	const char *a = getenv("MSB_ACCEL");

	if (!a || !*a || !strcmp(a, "auto"))
		*accel = "auto";
	else if (!strcmp(a, "kvm") || !strcmp(a, "tcg"))
		*accel = a;
	else
		return msb__error(
			MSB_EINVAL, 0,
			"MSB_ACCEL must be `kvm`, `tcg` or `auto`, not `%s`",
			a);
	return 0;
}

static char *random_name(void)
{
	uint8_t r[4] = {0};
	char *s;

	if (getrandom(r, sizeof(r), 0) != sizeof(r)) {
		uint32_t x = (uint32_t)getpid() ^ (uint32_t)now_us();
		memcpy(r, &x, sizeof(r));
	}
	if (asprintf(&s, "msb-%02x%02x%02x%02x", r[0], r[1], r[2], r[3]) < 0)
		return NULL;
	return s;
}

/* A CLOEXEC copy of @fd numbered at least 10, so that the dup2 actions of
 * posix_spawn never have source == target. Closes @fd. */
static int high_fd(int fd)
{
	int h = fcntl(fd, F_DUPFD_CLOEXEC, 10);
	int err = errno;

	close(fd);
	errno = err;
	return h;
}

struct spawn_fds {
	int spec[2], status[2], client[2], watch[2];
};

static void close_spawn_fds(struct spawn_fds *f)
{
	int *all = (int *)f;

	for (size_t i = 0; i < sizeof(*f) / sizeof(int); i++)
		close_fd(&all[i]);
}

static int make_spawn_fds(struct spawn_fds *f)
{
	int *all = (int *)f;

	for (size_t i = 0; i < sizeof(*f) / sizeof(int); i++)
		all[i] = -1;
	if (pipe2(f->spec, O_CLOEXEC) < 0 || pipe2(f->status, O_CLOEXEC) < 0 ||
	    pipe2(f->watch, O_CLOEXEC) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f->client) < 0)
		goto fail;
	for (size_t i = 0; i < sizeof(*f) / sizeof(int); i++)
		if ((all[i] = high_fd(all[i])) < 0)
			goto fail;
	return 0;
fail:;
	int err = errno;
	close_spawn_fds(f);
	return msb__error(MSB_ESYS, err, "pipe: %s", strerror(err));
}

/* The supervisor's environment: msb_env_for_supervisor() of ours, less
 * the variables named as the secrets of the "tls" object @tls. */
static char **vmm_environ(const json_t *tls)
{
	const char *drop[MSB_SECRETS_MAX + 1] = {NULL};
	json_t *list = json_object_get(tls, "secrets"), *s;
	size_t i, n = 0;

	json_array_foreach(list, i, s)
	{
		const char *name =
			json_string_value(json_object_get(s, "name"));
		if (name && n < MSB_SECRETS_MAX)
			drop[n++] = name;
	}
	return msb_env_for_supervisor(environ, drop);
}

static int spawn_vmm(pid_t *pid, const char *vmm, struct spawn_fds *f,
		     bool detach, char *const *envp)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, dflt;
	char *argv[] = {(char *)vmm, detach ? "--detach" : NULL, NULL};
	int rc;

	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigemptyset(&dflt);
	sigaddset(&dflt, SIGPIPE);
	sigaddset(&dflt, SIGTERM);
	sigaddset(&dflt, SIGINT);
	sigaddset(&dflt, SIGCHLD);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &dflt);
	/* Own session: the terminal's ^C goes to the caller, which then
	 * stops the sandbox in order. */
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID |
						POSIX_SPAWN_SETSIGMASK |
						POSIX_SPAWN_SETSIGDEF);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, f->spec[0], MSB_VMM_FD_SPEC);
	posix_spawn_file_actions_adddup2(&fa, f->status[1], MSB_VMM_FD_STATUS);
	posix_spawn_file_actions_adddup2(&fa, f->client[1], MSB_VMM_FD_CLIENT);
	posix_spawn_file_actions_adddup2(&fa, f->watch[0], MSB_VMM_FD_WATCH);

	rc = posix_spawn(pid, vmm, &fa, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (rc != 0)
		return msb__error(MSB_ESYS, rc, "spawn `%s`: %s", vmm,
				  strerror(rc));
	close_fd(&f->spec[0]);
	close_fd(&f->status[1]);
	close_fd(&f->client[1]);
	close_fd(&f->watch[0]);
	return 0;
}

static void reap(pid_t pid, int *status)
{
	int st = 0;

	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (status)
		*status = st;
}

/*
 * Read the supervisor's status lines until it says ready or failed.
 * Return: 0 when ready, or -MSB_E* with the error set.
 */
static int wait_ready(int fd, pid_t pid)
{
	struct msb_buf b = {0};
	int rc = 1;

	while (rc == 1) {
		if (msb_buf_reserve(&b, 2048) < 0) {
			rc = msb__error(MSB_ENOMEM, errno, "out of memory");
			break;
		}
		ssize_t n = read(fd, b.data + b.len, b.cap - b.len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int st;
			reap(pid, &st);
			rc = msb__error(
				MSB_ESYS, 0,
				"the supervisor exited before the sandbox was ready (%s %d)",
				WIFSIGNALED(st) ? "signal" : "status",
				WIFSIGNALED(st) ? WTERMSIG(st)
						: WEXITSTATUS(st));
			break;
		}
		b.len += (size_t)n;
		char *nl;
		while (rc == 1 && (nl = memchr(msb_buf_head(&b), '\n',
					       msb_buf_avail(&b)))) {
			char *line = (char *)msb_buf_head(&b);
			size_t len = (size_t)(nl - line);
			*nl = '\0';
			if (line[0] == 'W' && line[1] == ' ') {
				msb__log(MSB_LOG_WARN, "%s", line + 2);
			} else if (line[0] == 'R') {
				msb__log(MSB_LOG_DEBUG, "ready: %s", line + 1);
				rc = 0;
			} else if (line[0] == 'E' && line[1] == ' ') {
				int code = 0, err = 0, off = 0;
				if (sscanf(line + 2, "%d %d %n", &code, &err,
					   &off) < 2)
					code = MSB_ESYS;
				if (code <= 0 || code > MSB_ENOTSUP)
					code = MSB_ESYS;
				rc = msb__error(code, err, "%s",
						line + 2 + off);
				reap(pid, NULL);
			}
			msb_buf_consume(&b, len + 1);
		}
	}
	msb_buf_free(&b);
	return rc;
}

/*
 * The main process's argv, as docker run builds it: the entrypoint (the
 * options', else the image's) then the command (the options', else the
 * image's unless the entrypoint was given). *@out: malloc'd pointers,
 * strings borrowed; NULL when there is none. Return: 0 or an error.
 */
static int main_command(char ***out, const msb_sandbox *sb,
			const msb_sandbox_options *opts)
{
	const char *const *ep = opts->entrypoint
					? opts->entrypoint
					: msb_image_entrypoint(sb->image);
	const char *const *cmd = opts->cmd          ? opts->cmd
				 : opts->entrypoint ? NULL
						    : msb_image_cmd(sb->image);
	size_t nep = 0, ncmd = 0;
	while (ep && ep[nep])
		nep++;
	while (cmd && cmd[ncmd])
		ncmd++;
	*out = NULL;
	if (nep + ncmd == 0)
		return 0; /* the image has none: an idle sandbox */
	if (!(nep ? ep[0] : cmd[0])[0])
		return msb__error(MSB_EINVAL, 0,
				  "invalid main process: an empty command");
	char **v = calloc(nep + ncmd + 1, sizeof(char *));
	if (!v)
		return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	memcpy(v, ep, nep * sizeof(char *));
	memcpy(v + nep, cmd, ncmd * sizeof(char *));
	*out = v;
	return 0;
}

/*
 * msb__sandbox_boot() - start a supervisor for @opts and wait for ready.
 * @mode: "create" (a new sandbox folder) or "start" (an existing one)
 */
int msb__sandbox_boot(msb_sandbox **out, const msb_sandbox_options *opts,
		      const char *mode, json_t *tls)
{
	struct msb_paths paths;
	struct msb_vm_spec spec = {0};
	struct spawn_fds fds;
	_cleanup_free_ char *json = NULL;
	_cleanup_free_ char **env = NULL;
	_cleanup_free_ char **main_argv = NULL;
	_cleanup_free_ char **vmm_env = NULL; /* pointers into environ */
	char *no_strv[1] = {NULL};
	char **mounts = NULL, **disks = NULL, **shares = NULL, **ports = NULL;
	char *extras[4] = {NULL, NULL, NULL, NULL};
	json_t *tls_new = NULL; /* a new sandbox's "tls" (secrets.c) */
	char **tls_env = NULL, **tls_ports = NULL;
	const char **tls_bypass = NULL;
	_cleanup_free_ char *sdir = NULL;
	bool prepared = false;
	char root_dev[32] = "/dev/vda";
	const char *accel = NULL;
	msb_sandbox *sb = NULL;
	msb_network_preset net;
	int rc;

	*out = NULL;
	if ((rc = check_options(opts)) < 0 || (rc = accel_from_env(&accel)) < 0)
		return rc;
	net = msb__network_preset(opts);
	if ((rc = msb__paths_resolve(&paths)) < 0)
		return rc;

	sb = calloc(1, sizeof(*sb));
	if (!sb)
		goto nomem;
	sb->watch_fd = -1;
	sb->conn.fd = -1;
	sb->next_stream = 1;
	sb->detached = opts->detached;
	sb->name = opts->name ? strdup(opts->name) : random_name();
	if (!sb->name)
		goto nomem;
	bool creating = !strcmp(mode, "create");
	if (!(sdir = xasprintf("%s/sandboxes/%s", paths.home, sb->name)))
		goto nomem;
	/* A new sandbox's secrets: placeholders drawn now, kept. */
	if (creating && msb__tls_wanted(opts)) {
		if (!(tls_new = msb__tls_config(opts, sdir))) {
			rc = -(int)msb_last_error()->code;
			goto out;
		}
		tls = tls_new;
	}
	/* The name is taken in the database first: concurrent creates of
	 * one name get a clear error, and `msb ls` shows booting ones. */
	if (creating &&
	    (rc = msb__state_insert(paths.home, sb->name, opts, tls)) < 0)
		goto out;
	/* Its folder, made here with the CA and the secrets in it. */
	if (creating && tls) {
		if ((rc = msb__tls_prepare(sdir, sb->name, opts, tls)) < 0)
			goto undo;
		prepared = true;
	}
	if (tls) {
		json_t *p;
		size_t i;
		if (!(tls_env = msb__tls_env(tls)))
			goto nomem_undo;
		json_t *tp = json_object_get(tls, "ports");
		if (!(tls_ports =
			      calloc(json_array_size(tp) + 1, sizeof(char *))))
			goto nomem_undo;
		json_array_foreach(tp, i, p)
		{
			if (!(tls_ports[i] = xasprintf(
				      "%lld",
				      (long long)json_integer_value(p))))
				goto nomem_undo;
		}
		json_t *by = json_object_get(tls, "bypass");
		if (!(tls_bypass =
			      calloc(json_array_size(by) + 1, sizeof(char *))))
			goto nomem_undo;
		json_array_foreach(by, i, p)
		{
			tls_bypass[i] = json_string_value(p);
		}
	}
	if ((rc = pick_root(sb, &paths, opts)) < 0 ||
	    (rc = msb__sandbox_exec_defaults(sb, opts->workdir, opts->user,
					     opts->rlimits,
					     opts->exec_timeout_ms)) < 0)
		goto undo;
	if (!(env = merge_env(sb, opts->env, tls_env)))
		goto nomem_undo;
	if (opts->run_main && (rc = main_command(&main_argv, sb, opts)) < 0)
		goto undo;
	if ((rc = mount_specs(&mounts, &disks, &shares, paths.home,
			      sb->root_dir, opts)) < 0)
		goto undo;
	if (sb->root_dir)
		snprintf(root_dev, sizeof(root_dev), "fs%zu", opts->n_binds);
	/* Drivers only these sandboxes load, next to the initramfs. */
	{
		size_t ne = 0, len = strlen(paths.initrd);
		const char *base =
			len > 5 && !strcmp(paths.initrd + len - 5, ".cpio")
				? paths.initrd
				: NULL;
		if (base && opts->n_volumes)
			extras[ne++] = xasprintf("%.*s-volumes.cpio",
						 (int)(len - 5), base);
		if (base && (opts->n_binds || sb->root_dir))
			extras[ne++] = xasprintf("%.*s-virtiofs.cpio",
						 (int)(len - 5), base);
		if (base && net != MSB_NETWORK_NONE)
			extras[ne++] = xasprintf("%.*s-net.cpio",
						 (int)(len - 5), base);
		for (size_t i = 0; i < ne; i++)
			if (!extras[i])
				goto nomem_undo;
	}

	if (!(ports = calloc(opts->n_ports + 1, sizeof(char *))))
		goto nomem_undo;
	for (size_t i = 0; i < opts->n_ports; i++) {
		char text[80];
		if ((rc = msb__port_format(text, sizeof(text),
					   &opts->ports[i])) < 0)
			goto undo;
		if (!(ports[i] = strdup(text)))
			goto nomem_undo;
	}

	spec = (struct msb_vm_spec){
		.name = sb->name,
		.hostname = (char *)(opts->hostname ? opts->hostname : ""),
		.ephemeral = opts->name == NULL || opts->auto_remove,
		.detached = opts->detached,
		.cpus = opts->cpus ? opts->cpus : DEFAULT_CPUS,
		.memory_mib = opts->memory_mib ? opts->memory_mib
					       : DEFAULT_MEMORY_MIB,
		.env = env,
		.image = sb->image ? sb->image->digest : "",
		.home = paths.home,
		.mode = (char *)mode,
		.qemu = paths.qemu,
		.qemu_img = paths.qemu_img,
		.kernel = paths.kernel,
		.initrd = paths.initrd,
		.rootfs = paths.rootfs,
		.accel = (char *)accel,
		.boot_timeout_ms =
			(opts->boot_timeout_s ? opts->boot_timeout_s
					      : DEFAULT_BOOT_TIMEOUT_S) *
			1000u,
		.idle_timeout_s = opts->idle_timeout_s,
		.max_duration_s = opts->max_duration_s,
		.mounts = mounts,
		.disks = disks,
		.shares = shares,
		.initrd_extras = extras,
		.root_size_mib = opts->root_size_mib,
		.root_format = sb->root_dir ? (char *)"dir"
					    : (char *)root_format(paths.rootfs),
		.root_fstype =
			sb->root_dir
				? (char *)"virtiofs"
				: (char *)(opts->root_fstype ? opts->root_fstype
							     : "ext4"),
		.root_dev = root_dev,
		.root_direct = opts->root_writable != 0,
		.hold = creating && opts->n_patches > 0,
		.no_template = opts->no_template != 0,
		.idle_suspend = opts->on_idle == MSB_IDLE_SUSPEND,
		.main_argv = main_argv ? main_argv : no_strv,
		.main_cwd = (char *)(sb->workdir ? sb->workdir : ""),
		.main_user = (char *)(sb->user ? sb->user : ""),
		.main_rlimits = sb->rlimits ? sb->rlimits : no_strv,
		.restart =
			(char *)(opts->restart == MSB_RESTART_ALWAYS ? "always"
				 : opts->restart == MSB_RESTART_ON_FAILURE
					 ? "on-failure"
					 : "no"),
		.restart_max = opts->restart_max,
		.main_stdin = opts->main_stdin != 0,
		.main_tty = opts->main_tty != 0,
		.network = (char *)(net == MSB_NETWORK_ALL    ? "all"
				    : net == MSB_NETWORK_NONE ? "none"
							      : "public"),
		.netd = paths.netd,
		.net_rules = (char **)opts->net_rules,
		.net_block_domains = (char **)opts->block_domains,
		.net_block_suffixes = (char **)opts->block_suffixes,
		.ports = ports,
		.tls = tls != NULL,
		.tls_ports = tls_ports ? tls_ports : no_strv,
		.tls_bypass = tls_bypass ? (char **)tls_bypass : no_strv,
		.prepared = prepared,
	};
	if (asprintf(&spec.sandbox_dir, "%s/sandboxes/%s", paths.home,
		     sb->name) < 0) {
		spec.sandbox_dir = NULL;
		goto nomem_undo;
	}
	rc = msb_spec_to_json(&json, &spec);
	free(spec.sandbox_dir);
	if (rc < 0)
		goto nomem_undo;

	if (!(vmm_env = vmm_environ(tls)))
		goto nomem_undo;
	if ((rc = make_spawn_fds(&fds)) < 0)
		goto undo;
	if ((rc = spawn_vmm(&sb->vmm_pid, paths.vmm, &fds, opts->detached,
			    vmm_env)) < 0) {
		close_spawn_fds(&fds);
		goto undo;
	}
	/* The spec is small: it fits the pipe, so this cannot block long. */
	if (write_all(fds.spec[1], json, strlen(json)) < 0)
		msb__log(MSB_LOG_DEBUG, "write spec: %s", strerror(errno));
	close_fd(&fds.spec[1]);

	rc = wait_ready(fds.status[0], sb->vmm_pid);
	close_fd(&fds.status[0]);
	sb->watch_fd = steal_fd(&fds.watch[1]);
	sb->conn.fd = steal_fd(&fds.client[0]);
	close_spawn_fds(&fds);
	if (rc < 0) {
		/* The supervisor has cleaned up (its state too) and exited. */
		sb->vmm_pid = 0;
		sb->stopped = true;
		if (rc == -MSB_ESTATE && opts->n_volumes &&
		    strstr(msb_last_error()->message, "volume `"))
			explain_volume_conflict(paths.home, sb->name, opts);
		goto out;
	}
	if (opts->detached) {
		/* Not our child any more (it forked away): nothing to reap,
		 * nothing to watch. */
		sb->vmm_pid = 0;
		close_fd(&sb->watch_fd);
	}
	if (creating && opts->n_patches) {
		rc = apply_patches(sb, opts);
		struct msb_msg open_msg = {.type = MSB_MSG_OPEN};
		if (rc == 0)
			rc = msb__conn_send(&sb->conn, 0, 0, &open_msg);
		if (rc < 0) {
			/* Nothing is left of a sandbox that could not be
			 * prepared: stop it and forget it. */
			msb_error saved = *msb_last_error();
			msb_sandbox_stop(sb, 0);
			if (opts->name)
				msb_sandbox_remove(sb->name, 1);
			msb__error(saved.code, saved.sys_errno, "%s",
				   saved.message);
			rc = -saved.code;
			goto out;
		}
	}
	*out = steal_ptr(&sb);
	rc = 0;
	goto out;
nomem_undo:
	rc = msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
undo:
	if (prepared)
		rm_rf(sdir);
	if (creating)
		msb__state_forget(paths.home, sb->name);
	goto out;
nomem:
	rc = msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
out:
	if (sb)
		sb->stopped = sb->stopped || sb->conn.fd < 0;
	msb_sandbox_free(sb);
	msb__paths_clear(&paths);
	msb_strv_free(mounts);
	msb_strv_free(disks);
	msb_strv_free(shares);
	msb_strv_free(ports);
	msb_strv_free(tls_env);
	msb_strv_free(tls_ports);
	free(tls_bypass);
	json_decref(tls_new);
	for (size_t i = 0; i < ARRAY_SIZE(extras); i++)
		free(extras[i]);
	return rc;
}

EXPORT int msb_sandbox_define(const msb_sandbox_options *opts)
{
	struct msb_paths paths;
	msb_sandbox tmp = {0};
	msb_sandbox_options v2;
	int rc;

	msb__error_clear();
	opts = options_upgrade(&v2, opts);
	if (opts && opts->version == MSB_SANDBOX_OPTIONS_VERSION &&
	    opts->snapshot)
		return msb__sandbox_create_snapshot(NULL, opts); /* fork.c */
	if ((rc = check_options(opts)) < 0)
		return rc;
	if (!opts->name)
		return msb__error(
			MSB_EINVAL, 0,
			"a sandbox created without starting needs a name");
	if (opts->n_patches)
		return msb__error(MSB_EINVAL, 0,
				  "rootfs patches are applied when a sandbox "
				  "is created by booting it "
				  "(msb_sandbox_create, msb run -d)");
	if ((rc = msb__paths_resolve(&paths)) < 0)
		return rc;
	/* Secrets: placeholders drawn now, the folder made with them. */
	_cleanup_free_ char *sdir =
		xasprintf("%s/sandboxes/%s", paths.home, opts->name);
	json_t *tls = NULL;
	if (!sdir)
		rc = msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	else if (msb__tls_wanted(opts) && !(tls = msb__tls_config(opts, sdir)))
		rc = -(int)msb_last_error()->code;
	/* Pull the image now, so that starting needs no network. */
	else if ((rc = msb__state_insert(paths.home, opts->name, opts, tls)) ==
		 0) {
		if ((tls && (rc = msb__tls_prepare(sdir, opts->name, opts,
						   tls)) < 0) ||
		    (rc = pick_root(&tmp, &paths, opts)) < 0) {
			if (tls && rc != -MSB_EEXIST)
				rm_rf(sdir);
			msb__state_forget(paths.home, opts->name);
		}
	}
	json_decref(tls);
	free(tmp.workdir);
	free(tmp.user);
	msb__image_free(tmp.image);
	msb__paths_clear(&paths);
	return rc;
}

/* A copy of the NULL-terminated @v (msb_strv_free()), or NULL. */
static char **strv_dup(const char *const *v)
{
	size_t n = 0;
	while (v[n])
		n++;
	char **d = calloc(n + 1, sizeof(char *));
	for (size_t i = 0; d && i < n; i++)
		if (!(d[i] = strdup(v[i]))) {
			msb_strv_free(d);
			return NULL;
		}
	return d;
}

int msb__sandbox_exec_defaults(msb_sandbox *sb, const char *workdir,
			       const char *user, const char *const *rlimits,
			       unsigned int timeout_ms)
{
	if (workdir && *workdir) {
		free(sb->workdir);
		if (!(sb->workdir = strdup(workdir)))
			return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	}
	if (user && *user) {
		free(sb->user);
		msb_strv_free(sb->rlimits);
		if (!(sb->user = strdup(user)))
			return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	}
	if (rlimits && *rlimits) {
		msb_strv_free(sb->rlimits);
		if (!(sb->rlimits = strv_dup(rlimits)))
			return msb__error(MSB_ENOMEM, ENOMEM, "out of memory");
	}
	if (timeout_ms)
		sb->timeout_ms = timeout_ms;
	return 0;
}

EXPORT int msb_sandbox_create(msb_sandbox **out,
			      const msb_sandbox_options *opts)
{
	msb_sandbox_options v2;

	msb__error_clear();
	if (!out)
		return msb__error(MSB_EINVAL, 0, "out is NULL");
	*out = NULL;
	opts = options_upgrade(&v2, opts);
	if (opts && opts->version == MSB_SANDBOX_OPTIONS_VERSION &&
	    opts->snapshot)
		return msb__sandbox_create_snapshot(out, opts); /* fork.c */
	return msb__sandbox_boot(out, opts, "create", NULL);
}

EXPORT const char *msb_sandbox_name(const msb_sandbox *sb)
{
	return sb ? sb->name : NULL;
}

static int sandbox_metrics_get(msb_metrics *out, msb_sandbox *sb);

/*
 * The metrics into the first @size bytes of @out: the struct of the
 * caller's header version (msb_metrics only grows at its end).
 */
static int sandbox_metrics(msb_metrics *out, size_t size, msb_sandbox *sb)
{
	msb_metrics m;
	int rc;

	msb__error_clear();
	if (!out || !sb)
		return msb__error(MSB_EINVAL, 0,
				  "out and sandbox are required");
	rc = sandbox_metrics_get(&m, sb);
	memcpy(out, &m, size);
	return rc;
}

/* Version 1 of msb_metrics ended at uptime_ms. */
#define METRICS_V1_SIZE offsetof(msb_metrics, net_rx_packets)

/*
 * msb_sandbox_metrics() has two symbol versions (libmicrosandbox.map):
 * programs built against a header whose msb_metrics ends at uptime_ms
 * call MICROSANDBOX_0.1, which writes no further; newer ones the default.
 */
EXPORT int msb__sandbox_metrics_v1(msb_metrics *out, msb_sandbox *sb);
EXPORT int msb__sandbox_metrics_v2(msb_metrics *out, msb_sandbox *sb);
__asm__(".symver msb__sandbox_metrics_v1,msb_sandbox_metrics@MICROSANDBOX_0.1");
__asm__(".symver msb__sandbox_metrics_v2,msb_sandbox_metrics@@MICROSANDBOX_0.2");

EXPORT int msb__sandbox_metrics_v1(msb_metrics *out, msb_sandbox *sb)
{
	return sandbox_metrics(out, METRICS_V1_SIZE, sb);
}

EXPORT int msb__sandbox_metrics_v2(msb_metrics *out, msb_sandbox *sb)
{
	return sandbox_metrics(out, sizeof(*out), sb);
}

/* The metrics, asked from the supervisor; zeros on failure. */
static int sandbox_metrics_get(msb_metrics *out, msb_sandbox *sb)
{
	struct msb_msg req = {.type = MSB_MSG_METRICS};
	int rc;

	memset(out, 0, sizeof(*out));
	if (sb->stopped || sb->conn.fd < 0)
		return msb__error(MSB_ESTATE, 0, "sandbox `%s` is stopped",
				  sb->name);
	if ((rc = msb__conn_send(&sb->conn, 0, MSB_F_START | MSB_F_END, &req)) <
	    0)
		return rc;
	for (;;) {
		struct msb_frame f;
		struct msb_msg m;
		if ((rc = msb__conn_recv(&sb->conn, &f, &m, 10000)) < 0)
			return rc;
		bool mine = f.hdr.stream == 0 && m.type == MSB_MSG_METRICS;
		if (mine) {
			out->cpu_time_ms = m.cpu_us / 1000;
			out->cpu_percent = (double)m.cpu_pct / 100.0;
			out->memory_bytes = m.rss;
			out->guest_memory_used_bytes = m.mem_used;
			out->guest_memory_total_bytes = m.mem_total;
			out->disk_read_bytes = m.disk_rd;
			out->disk_write_bytes = m.disk_wr;
			out->net_rx_bytes = m.net_rx;
			out->net_tx_bytes = m.net_tx;
			out->uptime_ms = m.uptime_us / 1000;
			out->net_rx_packets = m.net_rx_pkts;
			out->net_tx_packets = m.net_tx_pkts;
			out->net_flows = m.net_flows;
			out->net_denied = m.net_denied;
		}
		msb__conn_done(&sb->conn, &f);
		if (mine)
			return 0;
	}
}

EXPORT const msb_image *msb_sandbox_image(const msb_sandbox *sb)
{
	return sb ? sb->image : NULL;
}

EXPORT int msb_sandbox_stop(msb_sandbox *sb, unsigned int timeout_ms)
{
	int rc = 0;

	msb__error_clear();
	if (!sb)
		return msb__error(MSB_EINVAL, 0, "sandbox is NULL");
	if (sb->stopped)
		return 0;
	if (!timeout_ms)
		timeout_ms = DEFAULT_STOP_MS;
	uint64_t t0 = now_us();

	struct msb_msg m = {
		.type = MSB_MSG_SHUTDOWN,
		.has = MSB_HAS(MSB_FLD_TIMEOUT),
		.timeout_ms = timeout_ms,
	};
	if (msb__conn_send(&sb->conn, 0, MSB_F_START | MSB_F_END, &m) == 0) {
		/* The supervisor kills the VM at the deadline; give it a
		 * margin before we kill the supervisor itself. */
		int wait_ms = (int)timeout_ms + 5000;
		for (;;) {
			struct msb_frame f;
			struct msb_msg r;
			int e = msb__conn_recv(&sb->conn, &f, &r, wait_ms);
			if (e == 0) {
				msb__conn_done(&sb->conn, &f);
				continue;
			}
			if (e == -MSB_ETIMEDOUT) {
				kill(sb->vmm_pid, SIGKILL);
				rc = msb__error(
					MSB_ETIMEDOUT, 0,
					"sandbox `%s` did not stop in time: killed",
					sb->name);
			}
			break;
		}
	}
	if (sb->vmm_pid > 0) {
		reap(sb->vmm_pid, NULL);
		sb->vmm_pid = 0;
	} else {
		/* Not our child (detached or connected): its lock tells. */
		msb_error saved = *msb_last_error();
		msb__wait_supervisor_exit(sb->name, 30000);
		msb__error(saved.code, saved.sys_errno, "%s", saved.message);
	}
	close_fd(&sb->watch_fd);
	msb__conn_close(&sb->conn);
	sb->stopped = true;
	msb__log(MSB_LOG_DEBUG, "sandbox `%s` stopped in %llu ms", sb->name,
		 (unsigned long long)(now_us() - t0) / 1000);
	if (rc == 0)
		msb__error_clear();
	return rc;
}

EXPORT void msb_sandbox_free(msb_sandbox *sb)
{
	if (!sb)
		return;
	if (!sb->stopped && !sb->detached) {
		msb_error saved = *msb_last_error();
		msb_sandbox_stop(sb, FREE_STOP_MS);
		msb__error(saved.code, saved.sys_errno, "%s", saved.message);
	}
	close_fd(&sb->watch_fd);
	msb__conn_close(&sb->conn);
	free(sb->name);
	free(sb->workdir);
	free(sb->user);
	free(sb->root_dir);
	msb__image_free(sb->image);
	free(sb);
}

EXPORT int msb_sandbox_metrics_watch(msb_sandbox *sb, unsigned int interval_ms,
				     unsigned int count, msb_metrics_fn fn,
				     void *userdata)
{
	msb__error_clear();
	if (!sb || !fn || !interval_ms)
		return msb__error(
			MSB_EINVAL, 0,
			"sandbox, callback and interval are required");
	uint64_t next = now_us();
	for (unsigned int i = 0; !count || i < count; i++) {
		msb_metrics m;
		int rc = sandbox_metrics(&m, sizeof(m), sb);
		if (rc < 0)
			return rc;
		if (fn(&m, userdata))
			return 0;
		/* A steady rate: the next sample is due an interval after the
		 * last was due, not after it was taken. */
		next += (uint64_t)interval_ms * 1000u;
		uint64_t now = now_us();
		if (next > now) {
			struct timespec ts = {
				.tv_sec = (time_t)((next - now) / 1000000u),
				.tv_nsec =
					(long)((next - now) % 1000000u) * 1000,
			};
			while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
				;
		} else {
			next = now;
		}
	}
	return 0;
}
