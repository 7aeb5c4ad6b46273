// SPDX-License-Identifier: Apache-2.0
/* msb - run commands in microVM sandboxes: entry point and dispatch. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "microsandbox.h"

static const char usage[] =
	"Usage: msb [--version] [--help] COMMAND [ARGS...]\n"
	"\n"
	"Run untrusted code in microVM sandboxes: each sandbox is a virtual\n"
	"machine with its own Linux kernel.\n"
	"\n"
	"Commands:\n"
	"  run     boot a new sandbox, run one command in it, remove it\n"
	"  create  record a named sandbox without starting it (run's options)\n"
	"  exec    run a command in a running sandbox\n"
	"  shell   an interactive shell in a running sandbox\n"
	"  cp      copy files and trees into or out of a sandbox\n"
	"  ls      list sandboxes\n"
	"  start   start a stopped sandbox\n"
	"  stop    stop sandboxes\n"
	"  pause   stop sandboxes' vCPUs, keeping their memory\n"
	"  resume  run paused sandboxes again, or restore suspended ones\n"
	"  suspend save sandboxes' state to disk and end their VMs\n"
	"  rm      remove sandboxes\n"
	"  kill    stop sandboxes at once\n"
	"  wait    wait until a sandbox stops\n"
	"  restart stop and start a sandbox\n"
	"  logs    print a sandbox's main process output, or another log\n"
	"  attach  attach to a sandbox's main process (or an exec -d process)\n"
	"  inspect print sandboxes as JSON\n"
	"  metrics CPU, memory, disk and network use of sandboxes\n"
	"  doctor  check KVM, QEMU, the guest files and disk space\n"
	"  pull    pull an image from its registry\n"
	"  image   list, inspect, remove and prune stored images\n"
	"  volume  named volumes: create, ls, inspect, rm\n"
	"  mcp     serve the Model Context Protocol on stdio, for AI agents\n"
	"  template  warm templates (fast starts): ls, rm, prune\n"
	"  snapshot  snapshots of sandboxes: create, ls, rm\n"
	"  fork    copy a running sandbox into new ones\n"
	"  help    this text, or a command's help (msb help COMMAND [SUB])\n"
	"  completion  a bash or zsh completion script\n"
	"\n"
	"Run 'msb COMMAND --help' (or msb help COMMAND) for a command's\n"
	"options. Exit status 2: a wrong option or argument.\n"
	"\n"
	"Environment:\n"
	"  MSB_HOME    state folder (default ~/.microsandbox)\n"
	"  MSB_ACCEL   kvm, tcg or auto (default: kvm when /dev/kvm is usable)\n"
	"  MSB_LOG     debug: show the library's diagnostics\n"
	"  MSB_QEMU, MSB_QEMU_IMG, MSB_VMM, MSB_NETD, MSB_GUEST_DIR\n"
	"              the programs and guest files to use (msb doctor\n"
	"              shows which are used, and where they come from)\n";

void cli_err(const char *fmt, ...)
{
	va_list ap;

	fputs("msb: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_fail(int status)
{
	const msb_error *e = msb_last_error();

	cli_err("%s", e->message[0] ? e->message : msb_strerror(e->code));
	return status;
}

bool cli_parse_uint(const char *s, unsigned int *out, bool size_mib)
{
	char *end;
	unsigned long long mult = 1;

	if (!s || !*s || *s == '-' || *s == '+')
		return false;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return false;
	if (size_mib && *end) {
		if (!strcasecmp(end, "m") || !strcasecmp(end, "mib") ||
		    !strcasecmp(end, "mb"))
			mult = 1;
		else if (!strcasecmp(end, "g") || !strcasecmp(end, "gib") ||
			 !strcasecmp(end, "gb"))
			mult = 1024;
		else
			return false;
	} else if (*end) {
		return false;
	}
	if (__builtin_mul_overflow(v, mult, &v) || v > 0xffffffffULL)
		return false;
	*out = (unsigned int)v;
	return true;
}

bool cli_parse_bytes(const char *s, uint64_t *out)
{
	static const char units[] = "kmgt";
	char *end;
	unsigned shift = 0;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return false;
	const char *u =
		*end ? strchr(units, tolower((unsigned char)*end)) : NULL;
	if (u) {
		shift = 10u * (unsigned)(u - units + 1);
		end++;
		/* "1g", "1gb", "1gib" */
		if (*end == 'i' || *end == 'I')
			end++;
		if (*end == 'b' || *end == 'B')
			end++;
	}
	if (*end || v > (UINT64_MAX >> shift))
		return false;
	*out = (uint64_t)v << shift;
	return true;
}

void cli_json_str(const char *s)
{
	if (!s) {
		fputs("null", stdout);
		return;
	}
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			printf("\\u%04x", c);
		else if (c == 0xc2 && (unsigned char)s[1] >= 0x80 &&
			 (unsigned char)s[1] <= 0x9f)
			/* C1 controls: some terminals obey them raw */
			printf("\\u%04x", (unsigned char)*++s);
		else
			putchar(c);
	}
	putchar('"');
}

void cli_human_size(char *out, size_t len, double bytes)
{
	const char *unit[] = {"B", "kB", "MB", "GB", "TB"};
	int u = 0;

	while (bytes >= 1000 && u < 4) {
		bytes /= 1000;
		u++;
	}
	snprintf(out, len, u ? "%.1f %s" : "%.0f %s", bytes, unit[u]);
}

static void log_to_stderr(int level, const char *message, void *userdata)
{
	fprintf(stderr, "msb: %s%s\n",
		level == MSB_LOG_WARN    ? "warning: "
		: level == MSB_LOG_ERROR ? "error: "
					 : "",
		message);
}

/* Whether a --exec option comes before any `--` in argv[1..]. */
static bool has_exec_option(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--exec") ||
		    !strncmp(argv[i], "--exec=", 7))
			return true;
	return false;
}

static int cmd_help(int argc, char **argv);

/* Run command argv[0] with its arguments. */
static int dispatch(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{"run", cmd_run},
		{"create", cmd_run},
		{"cp", cmd_cp},
		{"exec", cmd_exec},
		{"shell", cmd_shell},
		{"volume", cmd_volume},
		{"template", cmd_template},
		{"snapshot", cmd_snapshot},
		{"fork", cmd_fork},
		{"ls", cmd_ls},
		{"ps", cmd_ls},
		{"start", cmd_start},
		{"stop", cmd_stop},
		{"pause", cmd_pause},
		{"resume", cmd_resume},
		{"suspend", cmd_suspend},
		{"rm", cmd_rm},
		{"wait", cmd_wait},
		{"attach", cmd_attach_main},
		{"kill", cmd_kill},
		{"restart", cmd_restart},
		{"logs", cmd_logs},
		{"metrics", cmd_metrics},
		{"doctor", cmd_doctor},
		{"inspect", cmd_inspect},
		{"pull", cmd_pull},
		{"image", cmd_image},
		{"help", cmd_help},
		{"completion", cmd_completion},
		{"mcp", cmd_mcp},
	};
	const char *cmd = argv[0];

	/* The process table: msb ps NAME, kill/logs/attach/rm --exec ID. */
	if (!strcmp(cmd, "ps") && argc > 1 && argv[1][0] != '-')
		return cmd_ps(argc, argv);
	if (!strcmp(cmd, "attach") && has_exec_option(argc, argv))
		return cmd_attach(argc, argv);
	if (!strcmp(cmd, "rm") && has_exec_option(argc, argv))
		return cmd_proc_rm(argc, argv);
	if ((!strcmp(cmd, "kill") || !strcmp(cmd, "logs")) &&
	    has_exec_option(argc, argv))
		return cmd[0] == 'k' ? cmd_proc_kill(argc, argv)
				     : cmd_proc_logs(argc, argv);
	/* msb images [ARGS]: msb image ls [ARGS], named images */
	if (!strcmp(cmd, "images"))
		return cmd_images(argc, argv);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(*cmds); i++)
		if (!strcmp(cmd, cmds[i].name))
			return cmds[i].fn(argc, argv);
	cli_err("unknown command `%s`: see 'msb --help'", cmd);
	return 2;
}

/* msb help [COMMAND [SUBCOMMAND]]: msb's usage, or COMMAND --help. */
static int cmd_help(int argc, char **argv)
{
	struct cli_args a = {
		.cmd = "help",
		.usage =
			"Usage: msb help [COMMAND [SUBCOMMAND]]\n\nPrint msb's "
			"usage, or the help of COMMAND (the same as msb "
			"COMMAND [SUBCOMMAND] --help).\n",
		.synopsis = "[COMMAND [SUBCOMMAND]]",
		.shortopts = "h",
		.min_pos = 0,
		.max_pos = 2,
	};
	int st = cli_args_only(&a, argc, argv);
	if (st >= 0)
		return st;
	if (a.npos == 0) {
		fputs(usage, stdout);
		return 0;
	}
	char *cmd = a.pos[0], *sub = a.npos > 1 ? a.pos[1] : NULL;
	if (!cli_command_known(cmd, NULL)) {
		cli_usage_error(&a, "unknown command `%s`", cmd);
		return 2;
	}
	if (sub && !cli_command_known(cmd, sub)) {
		cli_usage_error(&a, "unknown command `%s %s`", cmd, sub);
		return 2;
	}
	char *help[] = {cmd, sub ? sub : "--help", sub ? "--help" : NULL, NULL};
	return dispatch(sub ? 3 : 2, help);
}

int main(int argc, char **argv)
{
	const char *log = getenv("MSB_LOG");

	msb_set_log_callback(log_to_stderr,
			     log && !strcmp(log, "debug") ? MSB_LOG_DEBUG
							  : MSB_LOG_WARN,
			     NULL);
	if (argc < 2) {
		cli_err("no command given; see 'msb --help'");
		return 2;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
		fputs(usage, stdout);
		return 0;
	}
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
		printf("msb %s\n", msb_version());
		return 0;
	}
	if (cmd[0] == '-') {
		cli_err("unknown option `%s`: see 'msb --help'", cmd);
		return 2;
	}
	return dispatch(argc - 1, argv + 1);
}
