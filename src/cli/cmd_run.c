// SPDX-License-Identifier: Apache-2.0
/* msb run: boot a sandbox, run one command with its output streamed, exit
 * with the command's status, remove the sandbox. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "microsandbox.h"
#include "util/util.h"

/* Options of msb run and msb create besides the shared ones. */
enum {
	OPT_BOOT_TIMEOUT = 0x200,
	OPT_PULL,
	OPT_NAME,
	OPT_REPLACE,
	OPT_IDLE_TIMEOUT,
	OPT_MAX_DURATION,
	OPT_PLATFORM,
	OPT_LABEL,
	OPT_TMPFS,
	OPT_ROOT_SIZE,
	OPT_ROOT_FSTYPE,
	OPT_ROOT_WRITABLE,
	OPT_HOSTNAME,
	OPT_ENV_FILE,
	OPT_ENTRYPOINT,
	OPT_RESTART,
	OPT_RM,
	OPT_NO_TEMPLATE,
	OPT_ON_IDLE,
	OPT_FROM_SNAPSHOT,
	OPT_PATCH_TEXT, /* then append, copy, mkdir, symlink, remove */
};

#define MAX_LABELS 64
#define MAX_TMPFS 64
#define MAX_VOLUMES 64
#define MAX_BINDS 16
#define MAX_PATCHES 256

/* What -v, --tmpfs and --patch-* fill in (the options point into it). */
struct run_storage {
	msb_tmpfs tmpfs[MAX_TMPFS];
	msb_volume_mount volumes[MAX_VOLUMES];
	msb_bind_mount binds[MAX_BINDS];
	msb_patch patches[MAX_PATCHES];
};

/* The --help text of msb run and msb create: a head, then these. */
static const char run_args_help[] =
	"Options may come before or after IMAGE: the first argument after\n"
	"IMAGE that is not an option starts CMD, as does whatever follows --.\n"
	"msb run alpine -e A=1 sh sets A for sh; msb run alpine sh -e A=1\n"
	"passes -e A=1 to sh. Without IMAGE, CMD must follow --.\n";

static const char run_options_help[] =
	"Options:\n"
	"  -c, --cpus N          virtual CPUs (1-64, default 1)\n"
	"  -m, --memory MIB      guest memory in MiB, or with a G suffix\n"
	"                        (96-65536 MiB, default 512)\n"
	"  -e, --env KEY=VALUE   set an environment variable (repeatable); -e\n"
	"                        KEY takes the host's value (the host\n"
	"                        environment is never passed in otherwise)\n" CLI_EXEC_HELP
	"      --boot-timeout T  how long to wait for the guest (default 60s)\n"
	"      --pull POLICY     always, missing (default) or never\n"
	"      --name NAME       name the sandbox: it is kept when it stops\n"
	"                        (msb start/exec/stop/rm NAME); without a name\n"
	"                        it is removed\n"
	"      --replace         with --name: stop and remove a sandbox of that\n"
	"                        name first\n"
	"  -d, --detach          boot the sandbox in the background and print\n"
	"                        its name (generated without --name). CMD, or\n"
	"                        an image's own entrypoint and command, is its\n"
	"                        main process, started by the supervisor; its\n"
	"                        output: msb logs/attach NAME. Without CMD the\n"
	"                        built-in image (or a disk image) idles for\n"
	"                        msb exec. -w, -u, -e, --ulimit and --timeout\n"
	"                        become the defaults of later msb exec; -i\n"
	"                        keeps the main process's stdin open and -t\n"
	"                        gives it a terminal, for msb attach NAME\n"
	"                        (--kill-group does not apply)\n"
	"      --restart POLICY  when the main process exits: no (default: the\n"
	"                        sandbox stops, its status is kept: msb wait,\n"
	"                        inspect), on-failure[:N] (restart it after a\n"
	"                        non-zero status, at most N times), always\n"
	"      --rm              remove the sandbox when it stops\n"
	"      --no-template     boot cold: neither restore nor save a warm\n"
	"                        template (docs/snapshots.md)\n"
	"      --from-snapshot SNAP  a new sandbox from snapshot SNAP (msb\n"
	"                        snapshot): its options, a copy of its disk,\n"
	"                        and its memory and processes (restored in\n"
	"                        the background, as with -d; msb create:\n"
	"                        when started). Only --name, -d, --label,\n"
	"                        --rm and --replace go with it\n"
	"      --entrypoint PROG replace the image's entrypoint (\"\": none)\n"
	"      --hostname NAME   the guest's host name (default: the name)\n"
	"      --env-file FILE   KEY=VALUE (or KEY: the host's value) lines\n"
	"      --idle-timeout T  stop the sandbox after T with no command (a\n"
	"                        duration: 90, 90s, 10m, 1h30m)\n"
	"      --on-idle ACTION  what the idle timeout does: stop (the default)\n"
	"                        or suspend (save it to disk and end the VM;\n"
	"                        msb exec resumes it)\n"
	"      --max-duration T  stop the sandbox T after it booted\n"
	"      --platform OS/ARCH[/VARIANT]  image platform (default: this host's)\n"
	"      --label KEY=VALUE metadata kept with the sandbox (repeatable;\n"
	"                        shown by msb inspect and msb ls --json)\n"
	"  -v, --volume NAME:/PATH[:ro]  mount the named volume NAME (msb volume\n"
	"                        create) at PATH, read-write (one sandbox at a\n"
	"                        time) or read-only\n"
	"  -v /HOST_DIR:/PATH[:ro]  share a host directory (virtio-fs)\n"
	"      --root-fstype TYPE  with a disk image: its filesystem (default ext4)\n"
	"      --root-writable   with a disk image: boot it read-write in place\n"
	"                        (default: a private overlay; the file is\n"
	"                        never written)\n"
	"      --root-size MIB   size of the writable root (or with a G suffix;\n"
	"                        default: the image's); grown at first boot\n"
	"      --tmpfs PATH[:SIZE]  a tmpfs at PATH, SIZE bytes or with k/m/g\n"
	"                        (default: half the guest memory)\n"
	"\n"
	"Network (stored with the sandbox; docs/network.md):\n" CLI_NET_HELP
	"\n"
	"Root filesystem patches, applied in order when the sandbox is created,\n"
	"before any command runs (the image stays untouched):\n"
	"      --patch-text PATH=TEXT      write a file (mode 0644)\n"
	"      --patch-append PATH=TEXT    append to a file\n"
	"      --patch-copy HOST:PATH      copy a host file or directory in\n"
	"      --patch-mkdir PATH[:MODE]   make a directory (and parents)\n"
	"      --patch-symlink PATH=TARGET make a symbolic link\n"
	"      --patch-remove PATH         remove a path (a tree too)\n"
	"  -h, --help            show this help\n";

static const char run_head[] =
	"Usage: msb run [OPTIONS] [IMAGE] [[--] CMD [ARG...]]\n"
	"       msb run [OPTIONS] -- CMD [ARG...]    (the built-in image)\n"
	"\n"
	"Boot a new sandbox, run CMD in it with its output streamed here, and\n"
	"remove the sandbox afterwards. msb exits with CMD's exit status\n"
	"(128+N if a signal N killed it; 2 for a wrong option or argument;\n"
	"124 if --timeout killed it; 125 if msb failed, 126 if CMD could not\n"
	"be started, 127 if CMD does not exist in the sandbox).\n"
	"\n"
	"IMAGE is an OCI image (alpine, python:3.12, localhost:5000/app:v2...),\n"
	"pulled if it is not stored yet; the path of an ext4 disk image\n"
	"(starting with / or .); or omitted for the built-in default (a\n"
	"busybox system). As with docker run, the image's entrypoint is put\n"
	"before CMD, and without CMD the image's own command runs.\n";

static const char run_examples[] =
	"Example:\n"
	"  msb run -- uname -a\n"
	"  msb run --cpus 2 --memory 1G -e GREETING=hi -- sh -c 'echo $GREETING'\n"
	"  msb run -d --name web --restart on-failure:3 python:3.12 \\\n"
	"      python -m http.server\n";

static const char create_head[] =
	"Usage: msb create [OPTIONS] [IMAGE] [[--] CMD [ARG...]]\n"
	"\n"
	"Record a sandbox with the options of msb run -d, pulling its image,\n"
	"without booting it; print its name (generated without --name). msb\n"
	"start NAME boots it and starts its main process (CMD, or the image's\n"
	"own entrypoint and command).\n";

/* The --help text of msb run or msb create (lives until msb exits: kept
 * in a static, so leak checkers see it reachable). */
static const char *run_usage(bool create)
{
	static char *u;

	free(u);
	if (asprintf(&u, "%s\n%s\n%s%s%s", create ? create_head : run_head,
		     run_args_help, run_options_help, create ? "" : "\n",
		     create ? "" : run_examples) < 0) {
		u = NULL;
		return run_options_help;
	}
	return u;
}

/*
 * -v SOURCE:/path[:ro|rw]: cut @arg at its first ':' into the source (left
 * in @arg), *@path and *@readonly. Return: 0, or -1 after saying what is
 * expected (@want names the source: "NAME", "/HOST_DIR").
 */
static int split_mount(const char **path, int *readonly,
		       const struct cli_args *a, char *arg, const char *want)
{
	char *c1 = strchr(arg, ':');
	if (!c1 || c1[1] != '/') {
		cli_usage_error(a,
				"invalid -v `%s`: expected %s:/GUEST_PATH[:ro]",
				arg, want);
		return -1;
	}
	*c1 = '\0';
	*path = c1 + 1;
	char *c2 = strrchr(*path, ':');
	*readonly = 0;
	if (c2 && (!strcmp(c2, ":ro") || !strcmp(c2, ":rw"))) {
		*readonly = !strcmp(c2, ":ro");
		*c2 = '\0';
	}
	return 0;
}

/* -v /host/dir:/path[:ro|rw] */
static int parse_bind(msb_bind_mount *b, const struct cli_args *a, char *arg)
{
	*b = (msb_bind_mount){.host_path = arg};
	return split_mount(&b->path, &b->readonly, a, arg, "/HOST_DIR");
}

/* -v NAME:/path[:ro|rw] */
static int parse_volume(msb_volume_mount *v, const struct cli_args *a,
			char *arg)
{
	*v = (msb_volume_mount){.name = arg};
	return split_mount(&v->path, &v->readonly, a, arg, "NAME");
}

/* --tmpfs PATH[:SIZE], SIZE as cli_parse_bytes() takes it. */
static int parse_tmpfs(msb_tmpfs *t, const struct cli_args *a, char *arg)
{
	char *colon = strchr(arg, ':');
	*t = (msb_tmpfs){.path = arg};
	if (colon) {
		*colon = '\0';
		if (!cli_parse_bytes(colon + 1, &t->size_bytes) ||
		    !t->size_bytes || t->size_bytes > (1ULL << 44)) {
			cli_usage_error(a,
					"invalid --tmpfs size `%s`: bytes, or "
					"with a k, m, g or t suffix",
					colon + 1);
			return -1;
		}
	}
	if (arg[0] != '/') {
		cli_usage_error(a,
				"invalid --tmpfs `%s`: the guest path must be "
				"absolute",
				arg);
		return -1;
	}
	return 0;
}

/* --patch-KIND arguments: text/append/symlink PATH=VALUE, copy
 * HOST:GUEST, mkdir PATH[:MODE], remove PATH. */
static int parse_patch(msb_patch *p, const struct cli_args *a, int kind,
		       char *arg)
{
	static const msb_patch_kind kinds[] = {
		MSB_PATCH_TEXT,  MSB_PATCH_APPEND,  MSB_PATCH_COPY,
		MSB_PATCH_MKDIR, MSB_PATCH_SYMLINK, MSB_PATCH_REMOVE,
	};
	static const char *const names[] = {"text",  "append",  "copy",
					    "mkdir", "symlink", "remove"};
	*p = (msb_patch){.kind = kinds[kind], .path = arg};
	char *sep;
	switch (p->kind) {
	case MSB_PATCH_TEXT:
	case MSB_PATCH_APPEND:
	case MSB_PATCH_SYMLINK:
		if (!(sep = strchr(arg, '=')))
			goto usage;
		*sep = '\0';
		p->content = sep + 1;
		break;
	case MSB_PATCH_COPY:
		if (!(sep = strrchr(arg, ':')))
			goto usage;
		*sep = '\0';
		p->content = arg;
		p->path = sep + 1;
		break;
	case MSB_PATCH_MKDIR:
		if ((sep = strrchr(arg, ':'))) {
			char *end;
			*sep = '\0';
			unsigned long m = strtoul(sep + 1, &end, 8);
			if (end == sep + 1 || *end || m > 07777) {
				cli_usage_error(a,
						"invalid --patch-mkdir mode "
						"`%s`: octal, up to 7777",
						sep + 1);
				return -1;
			}
			p->mode = (unsigned int)m;
		}
		break;
	default:
		break;
	}
	if (p->path[0] != '/') {
		cli_usage_error(a,
				"invalid --patch-%s: the guest path `%s` must "
				"be absolute",
				names[kind], p->path);
		return -1;
	}
	return 0;
usage:
	cli_usage_error(a, "invalid --patch-%s `%s`: expected %s", names[kind],
			arg,
			p->kind == MSB_PATCH_COPY      ? "HOST_PATH:GUEST_PATH"
			: p->kind == MSB_PATCH_SYMLINK ? "PATH=TARGET"
						       : "PATH=TEXT");
	return -1;
}

/* --cpus, --memory, --root-size and the durations of msb run. Return: 0,
 * or -1 after a usage error. */
static int parse_number(msb_sandbox_options *o, const struct cli_args *a, int c)
{
	const char *v = a->optarg;

	switch (c) {
	case 'c':
		if (!cli_parse_uint(v, &o->cpus, false) || o->cpus == 0 ||
		    o->cpus > 64)
			return cli_usage_error(a,
					       "invalid --cpus `%s`: must be a "
					       "number between 1 and 64",
					       v),
			       -1;
		return 0;
	case 'm':
		if (!cli_parse_uint(v, &o->memory_mib, true) ||
		    o->memory_mib < MSB_MEMORY_MIN_MIB ||
		    o->memory_mib > MSB_MEMORY_MAX_MIB)
			return cli_usage_error(a,
					       "invalid --memory `%s`: must be "
					       "between %d and %d MiB (e.g. "
					       "512 or 2G)",
					       v, MSB_MEMORY_MIN_MIB,
					       MSB_MEMORY_MAX_MIB),
			       -1;
		return 0;
	case OPT_ROOT_SIZE:
		if (!cli_parse_uint(v, &o->root_size_mib, true) ||
		    !o->root_size_mib)
			return cli_usage_error(a,
					       "invalid --root-size `%s`: MiB, "
					       "or with a G suffix",
					       v),
			       -1;
		return 0;
	case OPT_BOOT_TIMEOUT:
		if (!cli_parse_duration(v, &o->boot_timeout_s) ||
		    o->boot_timeout_s == 0)
			return cli_usage_error(a,
					       "invalid --boot-timeout `%s`: a "
					       "positive duration (seconds, or "
					       "with s, m or h)",
					       v),
			       -1;
		return 0;
	default:
		if (!cli_parse_duration(v, c == OPT_IDLE_TIMEOUT
						   ? &o->idle_timeout_s
						   : &o->max_duration_s))
			return cli_usage_error(
				       a,
				       "invalid --%s `%s`: a duration "
				       "(seconds, or with s, m or h: 90, "
				       "10m, 1h)",
				       c == OPT_IDLE_TIMEOUT ? "idle-timeout"
							     : "max-duration",
				       v),
			       -1;
		return 0;
	}
}

/* The storage options of msb run: -v, --tmpfs, --patch-*. Return: 0, or
 * -1 after a usage error. */
static int parse_storage(struct run_storage *st, msb_sandbox_options *o,
			 const struct cli_args *a, int c)
{
	char *v = (char *)a->optarg; /* argv's, writable */

	if (c == 'v' && (v[0] == '/' || v[0] == '.')) {
		if (o->n_binds == MAX_BINDS)
			return cli_usage_error(a,
					       "too many host directories "
					       "(at most %d)",
					       MAX_BINDS),
			       -1;
		if (parse_bind(&st->binds[o->n_binds], a, v) < 0)
			return -1;
		o->binds = st->binds;
		o->n_binds++;
	} else if (c == 'v') {
		if (o->n_volumes == MAX_VOLUMES)
			return cli_usage_error(a,
					       "too many -v options (at "
					       "most %d)",
					       MAX_VOLUMES),
			       -1;
		if (parse_volume(&st->volumes[o->n_volumes], a, v) < 0)
			return -1;
		o->volumes = st->volumes;
		o->n_volumes++;
	} else if (c == OPT_TMPFS) {
		if (o->n_tmpfs == MAX_TMPFS)
			return cli_usage_error(a,
					       "too many --tmpfs options (at "
					       "most %d)",
					       MAX_TMPFS),
			       -1;
		if (parse_tmpfs(&st->tmpfs[o->n_tmpfs], a, v) < 0)
			return -1;
		o->tmpfs = st->tmpfs;
		o->n_tmpfs++;
	} else {
		if (o->n_patches == MAX_PATCHES)
			return cli_usage_error(a,
					       "too many --patch-* options "
					       "(at most %d)",
					       MAX_PATCHES),
			       -1;
		if (parse_patch(&st->patches[o->n_patches], a,
				c - OPT_PATCH_TEXT, v) < 0)
			return -1;
		o->patches = st->patches;
		o->n_patches++;
	}
	return 0;
}

int cmd_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_EXEC_LONGOPTS,
		{"cpus", required_argument, NULL, 'c'},
		{"memory", required_argument, NULL, 'm'},
		{"boot-timeout", required_argument, NULL, OPT_BOOT_TIMEOUT},
		{"pull", required_argument, NULL, OPT_PULL},
		{"name", required_argument, NULL, OPT_NAME},
		{"detach", no_argument, NULL, 'd'},
		{"replace", no_argument, NULL, OPT_REPLACE},
		{"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
		{"max-duration", required_argument, NULL, OPT_MAX_DURATION},
		{"platform", required_argument, NULL, OPT_PLATFORM},
		{"label", required_argument, NULL, OPT_LABEL},
		{"tmpfs", required_argument, NULL, OPT_TMPFS},
		{"volume", required_argument, NULL, 'v'},
		{"root-size", required_argument, NULL, OPT_ROOT_SIZE},
		{"root-fstype", required_argument, NULL, OPT_ROOT_FSTYPE},
		{"root-writable", no_argument, NULL, OPT_ROOT_WRITABLE},
		{"patch-text", required_argument, NULL, OPT_PATCH_TEXT},
		{"patch-append", required_argument, NULL, OPT_PATCH_TEXT + 1},
		{"patch-copy", required_argument, NULL, OPT_PATCH_TEXT + 2},
		{"patch-mkdir", required_argument, NULL, OPT_PATCH_TEXT + 3},
		{"patch-symlink", required_argument, NULL, OPT_PATCH_TEXT + 4},
		{"patch-remove", required_argument, NULL, OPT_PATCH_TEXT + 5},
		{"hostname", required_argument, NULL, OPT_HOSTNAME},
		{"env-file", required_argument, NULL, OPT_ENV_FILE},
		{"entrypoint", required_argument, NULL, OPT_ENTRYPOINT},
		{"restart", required_argument, NULL, OPT_RESTART},
		{"rm", no_argument, NULL, OPT_RM},
		{"no-template", no_argument, NULL, OPT_NO_TEMPLATE},
		{"on-idle", required_argument, NULL, OPT_ON_IDLE},
		{"from-snapshot", required_argument, NULL, OPT_FROM_SNAPSHOT},
		CLI_NET_LONGOPTS,
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	bool create = !strcmp(argv[0], "create");
	struct cli_args a = {
		.cmd = create ? "create" : "run",
		.usage = run_usage(create),
		.synopsis = "[IMAGE]",
		.shortopts = "c:m:dhv:" CLI_EXEC_SHORTOPTS CLI_NET_SHORTOPTS,
		.longopts = longopts,
		.min_pos = 0,
		.max_pos = 1,
		.command = true,
	};
	msb_sandbox_options o = MSB_SANDBOX_OPTIONS_INIT;
	msb_pull_options po = MSB_PULL_OPTIONS_INIT;
	int policy = MSB_PULL_IF_MISSING;
	bool replace = false;
	struct cli_exec x;
	const char *labels[MAX_LABELS + 1] = {0};
	size_t nlabels = 0;
	static struct run_storage st;
	static struct cli_net net;
	const char *entrypoint[2] = {NULL, NULL};
	bool has_entrypoint = false;
	const char *snapshot = NULL;
	bool other = false; /* an option --from-snapshot does not take */
	int c;

	cli_exec_init(&x);
	cli_args_init(&a, argc, argv);
	while ((c = cli_args_next(&a)) >= 0) {
		if (c == OPT_FROM_SNAPSHOT) {
			snapshot = a.optarg;
			continue;
		}
		if (c != OPT_NAME && c != 'd' && c != OPT_REPLACE &&
		    c != OPT_LABEL && c != OPT_RM)
			other = true;
		int r = cli_exec_option(&x, &a, c);
		if (r == 0)
			r = cli_net_option(&net, &o, &a, c);
		if (r < 0)
			return 2;
		if (r > 0)
			continue;
		switch (c) {
		case 'c':
		case 'm':
		case OPT_ROOT_SIZE:
		case OPT_BOOT_TIMEOUT:
		case OPT_IDLE_TIMEOUT:
		case OPT_MAX_DURATION:
			if (parse_number(&o, &a, c) < 0)
				return 2;
			break;
		case 'v':
		case OPT_TMPFS:
		case OPT_PATCH_TEXT:
		case OPT_PATCH_TEXT + 1:
		case OPT_PATCH_TEXT + 2:
		case OPT_PATCH_TEXT + 3:
		case OPT_PATCH_TEXT + 4:
		case OPT_PATCH_TEXT + 5:
			if (parse_storage(&st, &o, &a, c) < 0)
				return 2;
			break;
		case OPT_PULL:
			if (!cli_parse_policy(a.optarg, &policy)) {
				cli_usage_error(&a,
						"invalid --pull `%s`: use "
						"always, missing or never",
						a.optarg);
				return 2;
			}
			break;
		case OPT_PLATFORM:
			po.platform = a.optarg;
			if (msb_image_platform_parse(a.optarg, NULL, 0) < 0) {
				cli_usage_error(&a, "%s",
						msb_last_error()->message);
				return 2;
			}
			break;
		case OPT_NAME:
			o.name = a.optarg;
			break;
		case OPT_ROOT_FSTYPE:
			o.root_fstype = a.optarg;
			break;
		case OPT_ROOT_WRITABLE:
			o.root_writable = 1;
			break;
		case OPT_LABEL:
			if (!strchr(a.optarg, '=') || a.optarg[0] == '=') {
				cli_usage_error(
					&a,
					"invalid --label `%s`: expected "
					"KEY=VALUE",
					a.optarg);
				return 2;
			}
			if (nlabels == MAX_LABELS) {
				cli_usage_error(&a,
						"too many --label options (at "
						"most %d)",
						MAX_LABELS);
				return 2;
			}
			labels[nlabels++] = a.optarg;
			o.labels = labels;
			break;
		case 'd':
			o.detached = 1;
			break;
		case OPT_HOSTNAME:
			o.hostname = a.optarg;
			break;
		case OPT_ENV_FILE:
			if (cli_env_file(&x, &a, a.optarg) < 0)
				return 2;
			break;
		case OPT_ENTRYPOINT:
			/* docker run --entrypoint: one program ("" for none) */
			entrypoint[0] = a.optarg[0] ? a.optarg : NULL;
			has_entrypoint = true;
			break;
		case OPT_RESTART:
			if (cli_parse_restart(&o.restart, &o.restart_max, &a,
					      a.optarg) < 0)
				return 2;
			break;
		case OPT_RM:
			o.auto_remove = 1;
			break;
		case OPT_NO_TEMPLATE:
			o.no_template = 1;
			break;
		case OPT_ON_IDLE:
			if (!strcmp(a.optarg, "stop")) {
				o.on_idle = MSB_IDLE_STOP;
			} else if (!strcmp(a.optarg, "suspend")) {
				o.on_idle = MSB_IDLE_SUSPEND;
			} else {
				cli_usage_error(&a,
						"invalid --on-idle `%s`: use "
						"stop or suspend",
						a.optarg);
				return 2;
			}
			break;
		case OPT_REPLACE:
			replace = true;
			break;
		}
	}
	if (c == CLI_ARGS_HELP)
		return 0;
	if (c == CLI_ARGS_ERROR || cli_net_check(&net, &o, &a) < 0)
		return 2;

	if (snapshot) {
		/* A new sandbox from a snapshot (docs/snapshots.md): its
		 * options are the snapshot's. */
		char gen[64];
		if (other || a.npos || a.nrest) {
			cli_usage_error(
				&a, "--from-snapshot takes only --name, -d, "
				    "--label, --rm and --replace (the "
				    "sandbox has the snapshot's image, "
				    "options and processes)");
			return 2;
		}
		if (replace && !o.name) {
			cli_usage_error(&a, "--replace needs --name");
			return 2;
		}
		if (replace && msb_sandbox_remove(o.name, 1) < 0 &&
		    msb_last_error()->code != MSB_ENOTFOUND)
			return cli_fail(EXIT_MSB_ERROR);
		if (!o.name) {
			cli_gen_name(gen, sizeof(gen));
			o.name = gen;
		}
		/* restored in the background, as with -d */
		o.snapshot = snapshot;
		o.detached = 1;
		msb_sandbox *sb = NULL;
		if ((create ? msb_sandbox_define(&o)
			    : msb_sandbox_create(&sb, &o)) < 0)
			return cli_fail(EXIT_MSB_ERROR);
		msb_sandbox_free(sb);
		printf("%s\n", o.name);
		return 0;
	}
	/* [IMAGE] [--] CMD...: cli_args took IMAGE and the command apart */
	char **rest = a.rest;
	int nrest = a.nrest;
	if (a.npos)
		o.image = a.pos[0];
	/* A workload: CMD, --entrypoint, or an image's own command (not the
	 * built-in image, nor a disk image: they idle for msb exec). */
	bool keep = o.detached || create;
	if (!keep && o.restart != MSB_RESTART_NO) {
		cli_usage_error(&a, "--restart needs -d (or msb create): it is "
				    "the policy of a sandbox's main process");
		return 2;
	}
	if (keep && x.eo.kill_group) {
		/* not silently ignored: a main process has no exec options */
		cli_usage_error(&a,
				"--kill-group does not apply to %s (msb exec "
				"takes it)",
				create ? "create" : "-d");
		return 2;
	}
	if (!keep && ((nrest > 0 && !rest[0][0]) || (nrest == 0 && !o.image))) {
		cli_usage_error(&a, "no command given");
		return 2;
	}
	if (replace && !o.name) {
		cli_usage_error(&a, "--replace needs --name");
		return 2;
	}
	if (replace && o.name && msb_sandbox_remove(o.name, 1) < 0 &&
	    msb_last_error()->code != MSB_ENOTFOUND)
		return cli_fail(EXIT_MSB_ERROR);
	o.env = x.nenv ? x.env : NULL;
	/* -w, -u, --ulimit, --timeout: the sandbox's exec defaults too */
	o.workdir = x.eo.cwd;
	o.user = x.eo.user;
	o.rlimits = x.nrlimits ? x.rlimits : NULL;
	o.exec_timeout_ms = x.eo.timeout_ms;
	if (keep && has_entrypoint)
		o.entrypoint = entrypoint;
	if (keep && nrest > 0)
		o.cmd = (const char *const *)rest;
	o.run_main =
		keep && (nrest > 0 || has_entrypoint ||
			 (o.image && o.image[0] != '/' && o.image[0] != '.'));
	if (keep && (x.eo.stdin_fd >= 0 || x.eo.tty)) {
		if (!o.run_main) {
			cli_usage_error(&a,
					"%s needs a main process (CMD, or an "
					"image's own command)",
					x.eo.tty ? "-t" : "-i");
			return 2;
		}
		/* its stdin held open for msb attach (docker run -dit) */
		o.main_stdin = x.eo.stdin_fd >= 0;
		o.main_tty = x.eo.tty;
	}
	char gen_name[64];
	if (keep && !o.name) {
		cli_gen_name(gen_name, sizeof(gen_name));
		o.name = gen_name;
	}
	po.policy = (msb_pull_policy)policy;
	cli_progress_init();
	po.progress = cli_progress;
	o.pull = &po;
	if (create) {
		/* msb create: record it (pulling its image), do not boot. */
		if (msb_sandbox_define(&o) < 0)
			return cli_fail(EXIT_MSB_ERROR);
		printf("%s\n", o.name);
		return 0;
	}
	if (o.detached) {
		msb_sandbox *sb;
		if (msb_sandbox_create(&sb, &o) < 0)
			return cli_fail(EXIT_MSB_ERROR);
		msb_sandbox_free(sb);
		printf("%s\n", o.name);
		return 0;
	}
	msb_sandbox *sb;
	if (msb_sandbox_create(&sb, &o) < 0)
		return cli_fail(EXIT_MSB_ERROR);

	/* docker run semantics: ENTRYPOINT + (CMD given here, or the
	 * image's CMD). */
	const msb_image *img = msb_sandbox_image(sb);
	static const char *const none[] = {NULL};
	const char *const *ep =
		has_entrypoint ? entrypoint : msb_image_entrypoint(img);
	const char *const *cmd = nrest            ? (const char *const *)rest
				 : has_entrypoint ? none
						  : msb_image_cmd(img);
	size_t nep = 0, ncmd = 0;
	while (ep[nep])
		nep++;
	while (cmd[ncmd])
		ncmd++;
	const char **full = calloc(nep + ncmd + 1, sizeof(char *));
	if (!full) {
		cli_err("out of memory");
		msb_sandbox_free(sb);
		return EXIT_MSB_ERROR;
	}
	memcpy(full, ep, nep * sizeof(char *));
	memcpy(full + nep, cmd, ncmd * sizeof(char *));
	if (nep + ncmd == 0) {
		cli_err("the image defines no command: give one after --");
		free(full);
		msb_sandbox_free(sb);
		return EXIT_MSB_ERROR;
	}

	int status = cli_exec_run(sb, full, &x);
	free(full);
	if (msb_sandbox_stop(sb, 0) < 0)
		cli_fail(0);
	msb_sandbox_free(sb);
	return status;
}
