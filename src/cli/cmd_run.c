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

static const char run_usage[] =
	"Usage: msb run [OPTIONS] [IMAGE] [-- CMD [ARG...]]\n"
	"\n"
	"Boot a new sandbox, run CMD in it with its output streamed here, and\n"
	"remove the sandbox afterwards. msb exits with CMD's exit status\n"
	"(128+N if a signal N killed it; 125 if msb failed, 126 if CMD could\n"
	"not be started, 127 if CMD does not exist in the sandbox).\n"
	"\n"
	"IMAGE is an OCI image (alpine, python:3.12, localhost:5000/app:v2...),\n"
	"pulled if it is not stored yet; the path of an ext4 disk image\n"
	"(starting with / or .); or omitted for the built-in default (a\n"
	"busybox system). As with docker run, the image's entrypoint is put\n"
	"before CMD, and without CMD the image's own command runs.\n"
	"\n"
	"Options:\n"
	"  -c, --cpus N          virtual CPUs (1-64, default 1)\n"
	"  -m, --memory MIB      guest memory in MiB, or with a G suffix\n"
	"                        (64-65536 MiB, default 512)\n"
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
	"                        become the defaults of later msb exec\n"
	"      --restart POLICY  when the main process exits: no (default: the\n"
	"                        sandbox stops, its status is kept: msb wait,\n"
	"                        inspect), on-failure[:N] (restart it after a\n"
	"                        non-zero status, at most N times), always\n"
	"      --rm              remove the sandbox when it stops\n"
	"      --entrypoint PROG replace the image's entrypoint (\"\": none)\n"
	"      --hostname NAME   the guest's host name (default: the name)\n"
	"      --env-file FILE   KEY=VALUE (or KEY: the host's value) lines\n"
	"      --idle-timeout T  stop the sandbox after T with no command (a\n"
	"                        duration: 90, 90s, 10m, 1h30m)\n"
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
	"Root filesystem patches, applied in order when the sandbox is created,\n"
	"before any command runs (the image stays untouched):\n"
	"      --patch-text PATH=TEXT      write a file (mode 0644)\n"
	"      --patch-append PATH=TEXT    append to a file\n"
	"      --patch-copy HOST:PATH      copy a host file or directory in\n"
	"      --patch-mkdir PATH[:MODE]   make a directory (and parents)\n"
	"      --patch-symlink PATH=TARGET make a symbolic link\n"
	"      --patch-remove PATH         remove a path (a tree too)\n"
	"  -h, --help            show this help\n"
	"\n"
	"Example:\n"
	"  msb run -- uname -a\n"
	"  msb run --cpus 2 --memory 1G -e GREETING=hi -- sh -c 'echo $GREETING'\n"
	"  msb run -d --name web --restart on-failure:3 python:3.12 \\\n"
	"      python -m http.server\n";

/*
 * -v SOURCE:/path[:ro|rw]: cut @arg at its first ':' into the source (left
 * in @arg), *@path and *@readonly. Return: 0, or -1 after saying what is
 * expected (@want names the source: "NAME", "/HOST_DIR").
 */
static int split_mount(char *arg, const char *want, const char **path,
		       int *readonly)
{
	char *c1 = strchr(arg, ':');
	if (!c1 || c1[1] != '/') {
		cli_err("invalid -v `%s`: expected %s:/GUEST_PATH[:ro]", arg,
			want);
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
static int parse_bind(char *arg, msb_bind_mount *b)
{
	*b = (msb_bind_mount){.host_path = arg};
	return split_mount(arg, "/HOST_DIR", &b->path, &b->readonly);
}

/* -v NAME:/path[:ro|rw] */
static int parse_volume(char *arg, msb_volume_mount *v)
{
	*v = (msb_volume_mount){.name = arg};
	return split_mount(arg, "NAME", &v->path, &v->readonly);
}

/* --tmpfs PATH[:SIZE], SIZE as cli_parse_bytes() takes it. */
static int parse_tmpfs(char *arg, msb_tmpfs *t)
{
	char *colon = strchr(arg, ':');
	*t = (msb_tmpfs){.path = arg};
	if (colon) {
		*colon = '\0';
		if (!cli_parse_bytes(colon + 1, &t->size_bytes) ||
		    !t->size_bytes || t->size_bytes > (1ULL << 44)) {
			cli_err("invalid --tmpfs size `%s`: bytes, or with a k, "
				"m, g or t suffix",
				colon + 1);
			return -1;
		}
	}
	if (arg[0] != '/') {
		cli_err("invalid --tmpfs `%s`: the guest path must be absolute",
			arg);
		return -1;
	}
	return 0;
}

/* --patch-KIND arguments: text/append/symlink PATH=VALUE, copy
 * HOST:GUEST, mkdir PATH[:MODE], remove PATH. */
static int parse_patch(int kind, char *arg, msb_patch *p)
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
				cli_err("invalid --patch-mkdir mode `%s`: octal, "
					"up to 7777",
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
		cli_err("invalid --patch-%s: the guest path `%s` must be "
			"absolute",
			names[kind], p->path);
		return -1;
	}
	return 0;
usage:
	cli_err("invalid --patch-%s `%s`: expected %s", names[kind], arg,
		p->kind == MSB_PATCH_COPY      ? "HOST_PATH:GUEST_PATH"
		: p->kind == MSB_PATCH_SYMLINK ? "PATH=TARGET"
					       : "PATH=TEXT");
	return -1;
}

int cmd_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_EXEC_LONGOPTS,
		{"cpus", required_argument, NULL, 'c'},
		{"memory", required_argument, NULL, 'm'},
		{"boot-timeout", required_argument, NULL, 'T'},
		{"pull", required_argument, NULL, 'P'},
		{"name", required_argument, NULL, 'n'},
		{"detach", no_argument, NULL, 'd'},
		{"replace", no_argument, NULL, 'R'},
		{"idle-timeout", required_argument, NULL, 'I'},
		{"max-duration", required_argument, NULL, 'D'},
		{"platform", required_argument, NULL, 'p'},
		{"label", required_argument, NULL, 'L'},
		{"tmpfs", required_argument, NULL, 0x200},
		{"volume", required_argument, NULL, 'v'},
		{"root-size", required_argument, NULL, 0x207},
		{"root-fstype", required_argument, NULL, 0x208},
		{"root-writable", no_argument, NULL, 0x209},
		{"patch-text", required_argument, NULL, 0x201},
		{"patch-append", required_argument, NULL, 0x202},
		{"patch-copy", required_argument, NULL, 0x203},
		{"patch-mkdir", required_argument, NULL, 0x204},
		{"patch-symlink", required_argument, NULL, 0x205},
		{"patch-remove", required_argument, NULL, 0x206},
		{"hostname", required_argument, NULL, 0x20a},
		{"env-file", required_argument, NULL, 0x20b},
		{"entrypoint", required_argument, NULL, 0x20c},
		{"restart", required_argument, NULL, 0x20d},
		{"rm", no_argument, NULL, 0x20e},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	msb_sandbox_options o = MSB_SANDBOX_OPTIONS_INIT;
	msb_pull_options po = MSB_PULL_OPTIONS_INIT;
	int policy = MSB_PULL_IF_MISSING;
	bool replace = false;
	struct cli_exec x;
	const char *labels[65] = {0};
	size_t nlabels = 0;
	msb_tmpfs tmpfs[64];
	msb_volume_mount volumes[64];
	msb_bind_mount binds[16];
	msb_patch patches[256];
	const char *entrypoint[2] = {NULL, NULL};
	bool has_entrypoint = false;
	int c;

	cli_exec_init(&x);
	/* Options end at the first positional argument or at "--". */
	while ((c = getopt_long(argc, argv, "+c:m:dhv:" CLI_EXEC_SHORTOPTS,
				longopts, NULL)) != -1) {
		int r = cli_exec_option(c, optarg, &x);
		if (r < 0)
			return EXIT_MSB_ERROR;
		if (r > 0)
			continue;
		switch (c) {
		case 'c':
			if (!cli_parse_uint(optarg, &o.cpus, false) ||
			    o.cpus == 0 || o.cpus > 64) {
				cli_err("invalid --cpus `%s`: must be a number between 1 and 64",
					optarg);
				return EXIT_MSB_ERROR;
			}
			break;
		case 'm':
			if (!cli_parse_uint(optarg, &o.memory_mib, true) ||
			    o.memory_mib < 64 || o.memory_mib > 65536) {
				cli_err("invalid --memory `%s`: must be between 64 and 65536 MiB (e.g. 512 or 2G)",
					optarg);
				return EXIT_MSB_ERROR;
			}
			break;
		case 'T':
			if (!cli_parse_duration(optarg, &o.boot_timeout_s) ||
			    o.boot_timeout_s == 0) {
				cli_err("invalid --boot-timeout `%s`: a positive "
					"duration (seconds, or with s, m or h)",
					optarg);
				return EXIT_MSB_ERROR;
			}
			break;
		case 'P':
			if (!cli_parse_policy(optarg, &policy)) {
				cli_err("invalid --pull `%s`: use always, missing or never",
					optarg);
				return EXIT_MSB_ERROR;
			}
			break;
		case 'p':
			po.platform = optarg;
			if (msb_image_platform_parse(optarg, NULL, 0) < 0)
				return cli_fail(EXIT_MSB_ERROR);
			break;
		case 'n':
			o.name = optarg;
			break;
		case 0x208:
			o.root_fstype = optarg;
			break;
		case 0x209:
			o.root_writable = 1;
			break;
		case 0x207:
			if (!cli_parse_uint(optarg, &o.root_size_mib, true) ||
			    !o.root_size_mib) {
				cli_err("invalid --root-size `%s`: MiB, or with a "
					"G suffix",
					optarg);
				return EXIT_MSB_ERROR;
			}
			break;
		case 'v':
			if (optarg[0] == '/' || optarg[0] == '.') {
				if (o.n_binds == 16) {
					cli_err("too many host directories (at "
						"most 16)");
					return EXIT_MSB_ERROR;
				}
				if (parse_bind(optarg, &binds[o.n_binds]) < 0)
					return EXIT_MSB_ERROR;
				o.binds = binds;
				o.n_binds++;
				break;
			}
			if (o.n_volumes == 64) {
				cli_err("too many -v options (at most 64)");
				return EXIT_MSB_ERROR;
			}
			if (parse_volume(optarg, &volumes[o.n_volumes]) < 0)
				return EXIT_MSB_ERROR;
			o.volumes = volumes;
			o.n_volumes++;
			break;
		case 0x200:
			if (o.n_tmpfs == 64) {
				cli_err("too many --tmpfs options (at most 64)");
				return EXIT_MSB_ERROR;
			}
			if (parse_tmpfs(optarg, &tmpfs[o.n_tmpfs]) < 0)
				return EXIT_MSB_ERROR;
			o.tmpfs = tmpfs;
			o.n_tmpfs++;
			break;
		case 0x201:
		case 0x202:
		case 0x203:
		case 0x204:
		case 0x205:
		case 0x206:
			if (o.n_patches == 256) {
				cli_err("too many --patch-* options (at most 256)");
				return EXIT_MSB_ERROR;
			}
			if (parse_patch(c - 0x201, optarg,
					&patches[o.n_patches]) < 0)
				return EXIT_MSB_ERROR;
			o.patches = patches;
			o.n_patches++;
			break;
		case 'L':
			if (!strchr(optarg, '=') || optarg[0] == '=') {
				cli_err("invalid --label `%s`: expected KEY=VALUE",
					optarg);
				return EXIT_MSB_ERROR;
			}
			if (nlabels == 64) {
				cli_err("too many --label options (at most 64)");
				return EXIT_MSB_ERROR;
			}
			labels[nlabels++] = optarg;
			o.labels = labels;
			break;
		case 'd':
			o.detached = 1;
			break;
		case 0x20a:
			o.hostname = optarg;
			break;
		case 0x20b:
			if (cli_env_file(&x, optarg) < 0)
				return EXIT_MSB_ERROR;
			break;
		case 0x20c:
			/* docker run --entrypoint: one program ("" for none) */
			entrypoint[0] = optarg[0] ? optarg : NULL;
			has_entrypoint = true;
			break;
		case 0x20d:
			if (cli_parse_restart(optarg, &o.restart,
					      &o.restart_max) < 0)
				return EXIT_MSB_ERROR;
			break;
		case 0x20e:
			o.auto_remove = 1;
			break;
		case 'R':
			replace = true;
			break;
		case 'I':
		case 'D':
			if (!cli_parse_duration(optarg,
						c == 'I' ? &o.idle_timeout_s
							 : &o.max_duration_s)) {
				cli_err("invalid --%s `%s`: a duration (seconds, "
					"or with s, m or h: 90, 10m, 1h)",
					c == 'I' ? "idle-timeout"
						 : "max-duration",
					optarg);
				return EXIT_MSB_ERROR;
			}
			break;
		case 'h':
			fputs(run_usage, stdout);
			return 0;
		default:
			fputs("See 'msb run --help'.\n", stderr);
			return EXIT_MSB_ERROR;
		}
	}

	/* [IMAGE] -- CMD... ; or, docker-style, IMAGE CMD... */
	char **rest = argv + optind;
	int nrest = argc - optind;
	bool dashed = optind > 0 && !strcmp(argv[optind - 1], "--");
	if (!dashed && nrest > 0) {
		o.image = rest[0];
		rest++;
		nrest--;
		if (nrest > 0 && !strcmp(rest[0], "--")) {
			rest++;
			nrest--;
		}
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
	/* A workload: CMD, --entrypoint, or an image's own command (not the
	 * built-in image, nor a disk image: they idle for msb exec). */
	bool keep = o.detached || !strcmp(argv[0], "create");
	if (!keep && o.restart != MSB_RESTART_NO) {
		cli_err("--restart needs -d (or msb create): it is the policy "
			"of a sandbox's main process");
		return EXIT_MSB_ERROR;
	}
	if (keep && has_entrypoint)
		o.entrypoint = entrypoint;
	if (keep && nrest > 0)
		o.cmd = (const char *const *)rest;
	o.run_main =
		keep && (nrest > 0 || has_entrypoint ||
			 (o.image && o.image[0] != '/' && o.image[0] != '.'));
	char gen_name[64];
	if (keep && !o.name) {
		cli_gen_name(gen_name, sizeof(gen_name));
		o.name = gen_name;
	}
	po.policy = (msb_pull_policy)policy;
	cli_progress_init();
	po.progress = cli_progress;
	o.pull = &po;
	if (!strcmp(argv[0], "create")) {
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
	if ((nrest > 0 && !rest[0][0]) || (nrest == 0 && !o.image)) {
		cli_err("no command given: usage: msb run [OPTIONS] [IMAGE] -- CMD [ARG...]");
		return EXIT_MSB_ERROR;
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
