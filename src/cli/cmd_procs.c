// SPDX-License-Identifier: Apache-2.0
/*
 * msb ps NAME, msb kill NAME --exec ID, msb logs NAME --exec ID,
 * msb attach NAME --exec ID and msb rm NAME --exec ID: the processes the
 * guest agent started (msb exec, msb exec -d), by id. Commands come from
 * the guest and are escaped when printed.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "microsandbox.h"
#include "util/util.h"

#define OPT_EXEC 0x200

/* A signal by number or name, with or without "SIG". 0 if invalid. */
int cli_parse_signal(const char *s)
{
	static const struct {
		const char *name;
		int sig;
	} names[] = {
		{"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT},
		{"KILL", SIGKILL}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2},
		{"TERM", SIGTERM}, {"CONT", SIGCONT}, {"STOP", SIGSTOP},
		{"ALRM", SIGALRM}, {"PIPE", SIGPIPE}, {"WINCH", SIGWINCH},
	};
	unsigned int n;

	if (cli_parse_uint(s, &n, false))
		return n > 0 && n < 65 ? (int)n : 0;
	if (!strncasecmp(s, "SIG", 3))
		s += 3;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcasecmp(s, names[i].name))
			return names[i].sig;
	return 0;
}

/* An id of the process table (1..UINT32_MAX); a usage error if not. */
static bool parse_id(const struct cli_args *a, const char *s, unsigned int *id)
{
	if (!cli_parse_uint(s, id, false) || !*id) {
		cli_usage_error(a,
				"invalid --exec `%s`: a process id as `msb ps "
				"NAME` shows",
				s);
		return false;
	}
	return true;
}

/* "12s", "3m", "5h", "2d" ago (from the guest's clock). */
static void ago(char *out, size_t len, long long ms)
{
	long long d = (long long)time(NULL) - ms / 1000;

	if (d < 0)
		d = 0;
	if (d < 60)
		snprintf(out, len, "%llds ago", d);
	else if (d < 3600)
		snprintf(out, len, "%lldm ago", d / 60);
	else if (d < 86400)
		snprintf(out, len, "%lldh ago", d / 3600);
	else
		snprintf(out, len, "%lldd ago", d / 86400);
}

static const char ps_usage[] =
	"Usage: msb ps NAME\n"
	"\n"
	"List the processes started in sandbox NAME through msb (exec,\n"
	"exec -d, the main process): ID, PID, STATE, STARTED, EXIT and\n"
	"COMMAND. Finished ones are kept (the last 256) until msb rm NAME\n"
	"--exec ID removes them. Without NAME: msb ls.\n";

/* msb ps NAME */
int cmd_ps(int argc, char **argv)
{
	struct cli_args a = {
		.cmd = "ps",
		.usage = ps_usage,
		.synopsis = "NAME",
		.shortopts = "h",
		.min_pos = 1,
		.max_pos = 1,
	};
	msb_sandbox *sb = NULL;
	msb_proc_info *v = NULL;
	size_t n = 0;
	int c;

	cli_args_init(&a, argc, argv);
	while ((c = cli_args_next(&a)) >= 0)
		; /* -h only */
	if (c == CLI_ARGS_HELP)
		return 0;
	if (c == CLI_ARGS_ERROR)
		return 2;
	if (msb_sandbox_connect(&sb, a.pos[0]) < 0)
		return cli_fail(1);
	if (msb_sandbox_procs(&v, &n, sb) < 0) {
		msb_sandbox_free(sb);
		return cli_fail(1);
	}
	printf("%-6s %-7s %-8s %-10s %-5s %s\n", "ID", "PID", "STATE",
	       "STARTED", "EXIT", "COMMAND");
	for (size_t i = 0; i < n; i++) {
		char cmd[4 * 4096 + 1], when[32], code[16];

		msb_escape(cmd, sizeof(cmd), v[i].command,
			   strlen(v[i].command));
		ago(when, sizeof(when), v[i].started_ms);
		if (v[i].running)
			snprintf(code, sizeof(code), "-");
		else if (v[i].signal)
			snprintf(code, sizeof(code), "sig%d", v[i].signal);
		else
			snprintf(code, sizeof(code), "%d", v[i].exit_code);
		printf("%-6u %-7d %-8s %-10s %-5s %s%s\n", v[i].id, v[i].pid,
		       v[i].running ? "running" : "exited", when, code, cmd,
		       v[i].detached ? "  (detached)" : "");
	}
	msb_proc_list_free(v, n);
	msb_sandbox_free(sb);
	return 0;
}

/* NAME, --exec ID and the options of one command. */
struct proc_args {
	const char *name;
	unsigned int id;
	int sig;
	bool follow; /* logs -f */
	bool force;  /* rm -f */
};

/*
 * parse_proc_args() - msb CMD NAME --exec ID with the options of CMD
 * (@shortopts of "s:", "f", and "h"; -f is @pa->follow for logs, force
 * for rm). Return: -1 to go on, else msb's exit status (0 after --help).
 */
static int parse_proc_args(int argc, char **argv, const char *usage,
			   const char *shortopts, struct proc_args *pa)
{
	static const struct option kill_opts[] = {
		{"exec", required_argument, NULL, OPT_EXEC},
		{"signal", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	static const struct option logs_opts[] = {
		{"exec", required_argument, NULL, OPT_EXEC},
		{"follow", no_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	static const struct option rm_opts[] = {
		{"exec", required_argument, NULL, OPT_EXEC},
		{"force", no_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	static const struct option attach_opts[] = {
		{"exec", required_argument, NULL, OPT_EXEC},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	bool rm = !strcmp(argv[0], "rm");
	struct cli_args a = {
		.cmd = argv[0],
		.usage = usage,
		.synopsis = "NAME",
		.shortopts = shortopts,
		.longopts = !strcmp(argv[0], "kill")   ? kill_opts
			    : !strcmp(argv[0], "logs") ? logs_opts
			    : rm                       ? rm_opts
						       : attach_opts,
		.min_pos = 1,
		.max_pos = 1,
	};
	int c;

	cli_args_init(&a, argc, argv);
	while ((c = cli_args_next(&a)) >= 0) {
		switch (c) {
		case OPT_EXEC:
			if (pa->id) {
				cli_usage_error(&a, "--exec given twice");
				return 2;
			}
			if (!parse_id(&a, a.optarg, &pa->id))
				return 2;
			break;
		case 's':
			if (!(pa->sig = cli_parse_signal(a.optarg))) {
				cli_usage_error(&a, "invalid signal `%s`",
						a.optarg);
				return 2;
			}
			break;
		case 'f':
			if (rm)
				pa->force = true;
			else
				pa->follow = true;
			break;
		}
	}
	if (c == CLI_ARGS_HELP)
		return 0;
	if (c == CLI_ARGS_ERROR)
		return 2;
	if (!pa->id) {
		cli_usage_error(&a, "expected --exec ID");
		return 2;
	}
	pa->name = a.pos[0];
	return -1;
}

static const char kill_usage[] =
	"Usage: msb kill NAME --exec ID [-s SIGNAL]\n"
	"\n"
	"Send SIGNAL (default KILL; a number or a name such as TERM) to the\n"
	"process group of process ID of sandbox NAME (see msb ps NAME).\n"
	"Without --exec, msb kill NAME kills the sandbox.\n"
	"\n"
	"Options:\n"
	"      --exec ID        the process, as msb ps NAME lists it\n"
	"  -s, --signal SIGNAL  the signal (default KILL)\n";

/* msb kill NAME --exec ID [-s SIG] */
int cmd_proc_kill(int argc, char **argv)
{
	struct proc_args pa = {.sig = SIGKILL};
	int rc = parse_proc_args(argc, argv, kill_usage, "s:h", &pa);
	msb_sandbox *sb = NULL;

	if (rc >= 0)
		return rc;
	if (msb_sandbox_connect(&sb, pa.name) < 0 ||
	    msb_sandbox_proc_signal(sb, pa.id, pa.sig) < 0) {
		msb_sandbox_free(sb);
		return cli_fail(1);
	}
	printf("%u\n", pa.id);
	msb_sandbox_free(sb);
	return 0;
}

static const char rm_usage[] =
	"Usage: msb rm NAME --exec ID [-f]\n"
	"\n"
	"Remove process ID (see msb ps NAME) from the process table of\n"
	"sandbox NAME, with the output kept for it (msb logs --exec). A\n"
	"running one is refused unless -f, which kills its process group\n"
	"first (SIGKILL). Without --exec, msb rm NAME removes the sandbox.\n"
	"\n"
	"Options:\n"
	"      --exec ID   the process, as msb ps NAME lists it\n"
	"  -f, --force     kill it first if it runs\n";

/* msb rm NAME --exec ID [-f] */
int cmd_proc_rm(int argc, char **argv)
{
	struct proc_args pa = {0};
	int rc = parse_proc_args(argc, argv, rm_usage, "fh", &pa);
	msb_sandbox *sb = NULL;

	if (rc >= 0)
		return rc;
	if (msb_sandbox_connect(&sb, pa.name) < 0) {
		msb_sandbox_free(sb);
		return cli_fail(1);
	}
	if (msb_sandbox_proc_remove(sb, pa.id,
				    pa.force ? MSB_PROC_REMOVE_FORCE : 0) < 0) {
		if (msb_last_error()->code == MSB_ESTATE)
			cli_err("process %u of `%s` is running: stop it first "
				"(msb kill %s --exec %u), or use -f",
				pa.id, pa.name, pa.name, pa.id);
		else
			cli_fail(1);
		msb_sandbox_free(sb);
		return 1;
	}
	printf("%u\n", pa.id);
	msb_sandbox_free(sb);
	return 0;
}

/*
 * Print the events of @e until it ends. Return: 0 (EXITED or DETACHED),
 * or 1 after an error.
 */
static int relay(msb_exec *e)
{
	for (;;) {
		msb_exec_event ev;
		int rc;

		while ((rc = msb_exec_next(e, &ev, -1)) == 0) {
			FILE *out =
				ev.type == MSB_EXEC_STDERR ? stderr : stdout;

			switch (ev.type) {
			case MSB_EXEC_STDOUT:
			case MSB_EXEC_STDERR:
				fwrite(ev.data, 1, ev.len, out);
				fflush(out);
				break;
			case MSB_EXEC_EXITED:
			case MSB_EXEC_DETACHED:
				return 0;
			default:
				break;
			}
		}
		if (rc != -MSB_ETIMEDOUT)
			return cli_fail(1);
	}
}

static const char logs_usage[] =
	"Usage: msb logs NAME --exec ID [-f]\n"
	"\n"
	"Print the output kept for detached process ID of sandbox NAME (the\n"
	"last 1 MiB, kept after it exits); with -f, follow it until it\n"
	"exits. Without --exec: the sandbox's logs.\n"
	"\n"
	"Options:\n"
	"      --exec ID   the process, as msb ps NAME lists it\n"
	"  -f, --follow    follow its output until it exits\n";

/* msb logs NAME --exec ID [-f] */
int cmd_proc_logs(int argc, char **argv)
{
	struct proc_args pa = {0};
	int rc = parse_proc_args(argc, argv, logs_usage, "fh", &pa);
	msb_sandbox *sb = NULL;
	msb_exec *e = NULL;

	if (rc >= 0)
		return rc;
	if (msb_sandbox_connect(&sb, pa.name) < 0 ||
	    msb_sandbox_proc_attach(
		    &e, sb, pa.id,
		    MSB_ATTACH_LOGS | (pa.follow ? MSB_ATTACH_FOLLOW : 0)) <
		    0) {
		msb_sandbox_free(sb);
		return cli_fail(1);
	}
	/* The process's status is not msb logs's. */
	rc = relay(e);
	msb_exec_free(e);
	msb_sandbox_free(sb);
	return rc;
}

static const char attach_usage[] =
	"Usage: msb attach NAME --exec ID\n"
	"\n"
	"Attach msb's standard input and output to detached process ID of\n"
	"sandbox NAME (started with msb exec -d; -di keeps its stdin open,\n"
	"-dit gives it a terminal) until it exits; msb exits with its status.\n"
	"When it has a terminal and msb's input is one, the local terminal\n"
	"is in raw mode, its size follows, and Ctrl-P Ctrl-Q detaches.\n"
	"SIGTERM and SIGHUP detach as well (Ctrl-C too without a terminal);\n"
	"the process runs on.\n"
	"\n"
	"Options:\n"
	"      --exec ID   the process, as msb ps NAME lists it\n";

/* msb attach NAME --exec ID */
int cmd_attach(int argc, char **argv)
{
	struct proc_args pa = {0};
	int rc = parse_proc_args(argc, argv, attach_usage, "h", &pa);
	struct cli_session s = {
		.forward_stdin = true,
		.attach = true,
		.error_status = 1,
	};
	msb_sandbox *sb = NULL;
	msb_exec *e = NULL;
	msb_exec_event ev;

	if (rc >= 0)
		return rc;
	if (msb_sandbox_connect(&sb, pa.name) < 0 ||
	    msb_sandbox_proc_attach(&e, sb, pa.id,
				    MSB_ATTACH_FOLLOW | MSB_ATTACH_STDIN) < 0 ||
	    msb_exec_next(e, &ev, -1) < 0) {
		msb_exec_free(e);
		msb_sandbox_free(sb);
		return cli_fail(1);
	}
	/* STARTED: attached; it says whether there is a terminal. */
	rc = cli_session_run(e, &s);
	if (s.detached && isatty(STDERR_FILENO)) {
		fputc('\n', stderr); /* the cursor may be mid-line */
		cli_err("detached; process %u runs on", pa.id);
	}
	msb_exec_free(e);
	msb_sandbox_free(sb);
	return rc;
}
