// SPDX-License-Identifier: Apache-2.0
/* msb start|stop|pause|resume|suspend|rm|ls: sandboxes by name. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "microsandbox.h"

static void age(char *out, size_t len, int64_t t)
{
	int64_t d = (int64_t)time(NULL) - t;

	if (d < 60)
		snprintf(out, len, "%llds", (long long)d);
	else if (d < 3600)
		snprintf(out, len, "%lldm", (long long)d / 60);
	else if (d < 86400)
		snprintf(out, len, "%lldh", (long long)d / 3600);
	else
		snprintf(out, len, "%lldd", (long long)d / 86400);
}

static void print_json(const msb_sandbox_info *i);

/*
 * The ports published by sandbox @name, as docker ps shows them
 * ("127.0.0.1:8080->80/tcp"), from its stored config: a JSON array, or
 * NULL if it has none (or its config cannot be read).
 */
static json_t *published_ports(const char *name)
{
	char *text = NULL;

	if (msb_sandbox_config(name, &text) < 0)
		return NULL;
	json_t *c = json_loads(text, 0, NULL);
	free(text);
	json_t *ports = json_object_get(json_object_get(c, "network"), "ports");
	json_t *out = json_array_size(ports) ? json_array() : NULL;
	size_t i;
	json_t *p;
	json_array_foreach(ports, i, p)
	{
		const char *ip =
			json_string_value(json_object_get(p, "host_ip"));
		const char *proto =
			json_string_value(json_object_get(p, "protocol"));
		bool v6 = ip && strchr(ip, ':');
		char s[128];
		snprintf(s, sizeof(s), "%s%s%s:%lld->%lld/%s", v6 ? "[" : "",
			 ip ? ip : "127.0.0.1", v6 ? "]" : "",
			 (long long)json_integer_value(
				 json_object_get(p, "host_port")),
			 (long long)json_integer_value(
				 json_object_get(p, "guest_port")),
			 proto ? proto : "tcp");
		json_array_append_new(out, json_string(s));
	}
	json_decref(c);
	return out;
}

/* The PORTS column: published ports joined by ", " (cut to @len). */
static void ports_column(char *out, size_t len, const char *name)
{
	json_t *ports = published_ports(name);
	size_t i, off = 0;
	json_t *p;

	out[0] = 0;
	json_array_foreach(ports, i, p)
	{
		int w = snprintf(out + off, len - off, "%s%s", i ? ", " : "",
				 json_string_value(p));
		if (w < 0 || (size_t)w >= len - off)
			break;
		off += (size_t)w;
	}
	json_decref(ports);
}

int cmd_ls(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"all", no_argument, NULL, 'a'},
		{"quiet", no_argument, NULL, 'q'},
		{"json", no_argument, NULL, 'j'},
		{"format", required_argument, NULL, 'F'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct cli_args a = {
		.cmd = "ls",
		.usage = "Usage: msb ls [-a] [-q] [--json | --format json]\n\n"
			 "List sandboxes: name, status, image, vCPUs, memory, "
			 "how long ago the status changed,\nand the published "
			 "ports (HOST_IP:HOST_PORT->GUEST_PORT/PROTO).\n\n"
			 "  -a, --all        all sandboxes (the default)\n"
			 "  -q, --quiet      names only\n"
			 "      --json, --format json  as a JSON array\n",
		.synopsis = "no arguments",
		.shortopts = "aq",
		.longopts = longopts,
		.min_pos = 0,
		.max_pos = 0,
	};
	msb_sandbox_info *v;
	size_t n;
	bool json = false, quiet = false;

	int st = cli_args_list(&a, argc, argv, &quiet, &json);
	if (st >= 0)
		return st;
	if (msb_sandbox_list(&v, &n) < 0)
		return cli_fail(1);
	if (json) {
		putchar('[');
		for (size_t i = 0; i < n; i++) {
			if (i)
				putchar(',');
			print_json(&v[i]);
		}
		puts("]");
		msb_sandbox_list_free(v, n);
		return 0;
	}
	if (quiet) {
		for (size_t i = 0; i < n; i++)
			printf("%s\n", v[i].name);
		msb_sandbox_list_free(v, n);
		return 0;
	}
	printf("%-24s %-9s %-40s %4s %7s %-6s %s\n", "NAME", "STATUS", "IMAGE",
	       "CPUS", "MEMORY", "SINCE", "PORTS");
	for (size_t i = 0; i < n; i++) {
		char since[32], mem[32], ports[512];
		age(since, sizeof(since), v[i].updated);
		snprintf(mem, sizeof(mem), "%uM",
			 v[i].memory_mib ? v[i].memory_mib : 512);
		ports_column(ports, sizeof(ports), v[i].name);
		printf("%-24s %-9s %-40.40s %4u %7s %-6s %s\n", v[i].name,
		       v[i].status, v[i].image ? v[i].image : "(default)",
		       v[i].cpus ? v[i].cpus : 1, mem, since, ports);
	}
	/* the reasons on stderr: the table stays one line per sandbox */
	for (size_t i = 0; i < n; i++)
		if (v[i].status_reason &&
		    !strncmp(v[i].status_reason, "host disk full", 14))
			cli_err("sandbox `%s` is %s: %s; free space and it resumes",
				v[i].name, v[i].status, v[i].status_reason);
		else if (v[i].status_reason)
			cli_err("sandbox `%s` is %s: %s; `msb resume %s` runs "
				"it again",
				v[i].name, v[i].status, v[i].status_reason,
				v[i].name);
	msb_sandbox_list_free(v, n);
	return 0;
}

/* Parse a command with no options of its own; 0 to go on, else the exit
 * status (+1: 0 after --help, 2 after an error). */
static int plain_args(struct cli_args *a, int argc, char **argv)
{
	int c;

	cli_args_init(a, argc, argv);
	while ((c = cli_args_next(a)) >= 0)
		;
	return c == CLI_ARGS_HELP ? 1 : c == CLI_ARGS_ERROR ? 3 : 0;
}

int cmd_start(int argc, char **argv)
{
	struct cli_args a = {
		.cmd = "start",
		.usage = "Usage: msb start NAME\n\nStart a stopped sandbox in "
			 "the background, with the options it was created "
			 "with.\nA suspended sandbox is restored (as msb "
			 "resume) if its saved state can be;\nelse it boots "
			 "cold, without its processes.\n",
		.synopsis = "NAME",
		.min_pos = 1,
		.max_pos = 1,
	};
	int r = plain_args(&a, argc, argv);
	if (r)
		return r - 1;
	msb_sandbox *sb;
	if (msb_sandbox_start(&sb, a.pos[0], 1) < 0) {
		/* start on a running sandbox: nothing to do */
		if (msb_last_error()->code != MSB_ESTATE ||
		    !strstr(msb_last_error()->message, "already running"))
			return cli_fail(1);
		printf("%s\n", a.pos[0]);
		return 0;
	}
	msb_sandbox_free(sb);
	printf("%s\n", a.pos[0]);
	return 0;
}

/* msb pause, resume, suspend NAME...: one library call per name. */
static int each_name(int argc, char **argv, const char *cmd, const char *usage,
		     int (*fn)(const char *))
{
	struct cli_args a = {
		.cmd = cmd,
		.usage = usage,
		.synopsis = "NAME...",
		.min_pos = 1,
		.max_pos = -1,
	};
	int r = plain_args(&a, argc, argv), status = 0;

	if (r)
		return r - 1;
	for (int i = 0; i < a.npos; i++) {
		if (fn(a.pos[i]) < 0)
			status = cli_fail(1);
		else
			printf("%s\n", a.pos[i]);
	}
	return status;
}

int cmd_pause(int argc, char **argv)
{
	return each_name(
		argc, argv, "pause",
		"Usage: msb pause NAME...\n\nStop a running sandbox's vCPUs; "
		"its memory stays. Status `paused`: exec, cp\nand other "
		"requests are refused until msb resume.\n",
		msb_sandbox_pause);
}

int cmd_resume(int argc, char **argv)
{
	return each_name(
		argc, argv, "resume",
		"Usage: msb resume NAME...\n\nRun a paused sandbox again, or "
		"restore a suspended one in the background:\nthe same "
		"processes, memory and files as when it was suspended.\n",
		msb_sandbox_resume);
}

int cmd_suspend(int argc, char **argv)
{
	return each_name(
		argc, argv, "suspend",
		"Usage: msb suspend NAME...\n\nSave a running sandbox's whole "
		"state (memory and devices) in its folder\nand end its VM: it "
		"then uses no memory, and survives a reboot of the host.\n"
		"msb resume (or msb start) restores it. Connected clients are "
		"disconnected\n(their commands end); exec -d processes and "
		"the main process keep running.\n",
		msb_sandbox_suspend);
}

/* msb stop and msb kill: -t SECONDS (stop) or -s SIGNAL (kill, KILL
 * only: the VM is killed at once). */
static int stop_main(int argc, char **argv, bool kill_it)
{
	static const struct option stop_opts[] = {
		{"time", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	static const struct option kill_opts[] = {
		{"signal", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct cli_args a = {
		.cmd = kill_it ? "kill" : "stop",
		.usage = kill_it ? "Usage: msb kill [-s KILL] NAME...\n\nStop "
				   "sandboxes at once: the VM is killed "
				   "without a graceful shutdown.\n"
				 : "Usage: msb stop [-t SECONDS] NAME...\n\n"
				   "Stop sandboxes: the guest syncs and powers "
				   "off, killed after SECONDS (default 10).\n"
				   "A stopped sandbox is left as it is.\n",
		.synopsis = "NAME...",
		.shortopts = kill_it ? "s:" : "t:",
		.longopts = kill_it ? kill_opts : stop_opts,
		.min_pos = 1,
		.max_pos = -1,
	};
	unsigned int grace_s = 0;
	int status = 0, c;

	cli_args_init(&a, argc, argv);
	while ((c = cli_args_next(&a)) >= 0) {
		if (c == 't' &&
		    (!cli_parse_duration(a.optarg, &grace_s) || !grace_s)) {
			cli_usage_error(&a,
					"invalid -t `%s`: a positive duration "
					"(10, 30s, 2m)",
					a.optarg);
			return 2;
		}
		if (c == 's' && strcasecmp(a.optarg, "KILL") &&
		    strcasecmp(a.optarg, "SIGKILL") && strcmp(a.optarg, "9")) {
			cli_usage_error(&a,
					"unsupported signal `%s`: only KILL",
					a.optarg);
			return 2;
		}
	}
	if (c == CLI_ARGS_HELP)
		return 0;
	if (c == CLI_ARGS_ERROR)
		return 2;
	for (int i = 0; i < a.npos; i++) {
		msb_sandbox *sb = NULL;
		/* kill: a 1 ms grace period, the supervisor kills QEMU at
		 * once */
		int grace_ms = kill_it ? 1 : (int)grace_s * 1000;
		if (msb_sandbox_connect(&sb, a.pos[i]) < 0) {
			/* stop on a stopped sandbox: nothing to do */
			if (msb_last_error()->code == MSB_ESTATE)
				printf("%s\n", a.pos[i]);
			else
				status = cli_fail(1);
		} else if (msb_sandbox_stop(sb, grace_ms) < 0) {
			status = cli_fail(1);
		} else {
			printf("%s\n", a.pos[i]);
		}
		msb_sandbox_free(sb);
	}
	return status;
}

int cmd_stop(int argc, char **argv)
{
	return stop_main(argc, argv, false);
}

int cmd_kill(int argc, char **argv)
{
	return stop_main(argc, argv, true);
}

int cmd_rm(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"force", no_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct cli_args a = {
		.cmd = "rm",
		.usage = "Usage: msb rm [-f] NAME...\n\nRemove sandboxes (root "
			 "disk, logs, record). A running sandbox is\nrefused "
			 "unless -f.\n\n"
			 "  -f, --force      stop running sandboxes first (as "
			 "msb stop)\n",
		.synopsis = "NAME...",
		.shortopts = "f",
		.longopts = longopts,
		.min_pos = 1,
		.max_pos = -1,
	};
	int force = 0, status = 0, c;

	cli_args_init(&a, argc, argv);
	while ((c = cli_args_next(&a)) >= 0)
		if (c == 'f')
			force = 1;
	if (c == CLI_ARGS_HELP)
		return 0;
	if (c == CLI_ARGS_ERROR)
		return 2;
	for (int i = 0; i < a.npos; i++) {
		if (msb_sandbox_remove(a.pos[i], force) < 0) {
			if (msb_last_error()->code == MSB_ESTATE && !force) {
				cli_err("sandbox `%s` is running: stop it "
					"first, or use msb rm -f",
					a.pos[i]);
				status = 1;
			} else {
				status = cli_fail(1);
			}
		} else
			printf("%s\n", a.pos[i]);
	}
	return status;
}

int cmd_restart(int argc, char **argv)
{
	struct cli_args a = {
		.cmd = "restart",
		.usage = "Usage: msb restart NAME\n\nStop a sandbox and start "
			 "it again in the background.\n",
		.synopsis = "NAME",
		.min_pos = 1,
		.max_pos = 1,
	};
	int r = plain_args(&a, argc, argv);
	if (r)
		return r - 1;
	argv[1] = a.pos[0];
	msb_sandbox *sb = NULL;
	if (msb_sandbox_connect(&sb, argv[1]) == 0) {
		int rc = msb_sandbox_stop(sb, 0);
		msb_sandbox_free(sb);
		if (rc < 0)
			return cli_fail(1);
	}
	char *start[] = {"start", argv[1], NULL};
	return cmd_start(2, start);
}

/* The files of a sandbox's logs/ folder, by --source. */
static const char *const log_files[][2] = {
	{"main", "main.log"}, {"kernel", "kernel.log"}, {"exec", "exec.log"},
	{"vmm", "vmm.log"},   {"net", "net.log"},
};

int cmd_logs(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"source", required_argument, NULL, 's'},
		{"follow", no_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct cli_args a = {
		.cmd = "logs",
		.usage =
			"Usage: msb logs [-f] [-s main|kernel|exec|vmm|net] NAME\n"
			"       msb logs [-f] NAME --exec ID\n\n"
			"Print the output of a sandbox's main process (msb "
			"run -d IMAGE [CMD]).\n\n"
			"  -f, --follow     keep printing what is added while "
			"the sandbox runs\n"
			"  -s, --source S   main (default), kernel (its kernel "
			"console), exec (the\n"
			"                   log of its commands: each start, "
			"output line and end,\n"
			"                   time-stamped) or vmm (its "
			"supervisor's log)\n"
			"      --exec ID    a detached process's output (msb "
			"exec -d)\n",
		.synopsis = "NAME",
		.shortopts = "s:f",
		.longopts = longopts,
		.min_pos = 1,
		.max_pos = 1,
	};
	const char *source = "main";
	bool follow = false;
	int c;

	cli_args_init(&a, argc, argv);
	while ((c = cli_args_next(&a)) >= 0) {
		if (c == 's')
			source = a.optarg;
		else if (c == 'f')
			follow = true;
	}
	if (c == CLI_ARGS_HELP)
		return 0;
	if (c == CLI_ARGS_ERROR)
		return 2;
	const char *name = a.pos[0];
	const char *file = NULL;
	for (size_t i = 0; i < sizeof(log_files) / sizeof(log_files[0]); i++)
		if (!strcmp(source, log_files[i][0]))
			file = log_files[i][1];
	if (!file) {
		cli_usage_error(
			&a,
			"unknown --source `%s`: use main, kernel, exec, "
			"vmm or net",
			source);
		return 2;
	}
	/* A sandbox of that name (the name is a path component below). */
	char *config = NULL;
	if (msb_sandbox_config(name, &config) < 0)
		return cli_fail(1);
	free(config);
	const char *home = getenv("MSB_HOME");
	char path[4096];
	if (home && *home)
		snprintf(path, sizeof(path), "%s/sandboxes/%s/logs/%s", home,
			 name, file);
	else
		snprintf(path, sizeof(path),
			 "%s/.microsandbox/sandboxes/%s/logs/%s",
			 getenv("HOME") ? getenv("HOME") : "", name, file);
	FILE *f = fopen(path, "re");
	if (!f && !strcmp(source, "main")) {
		cli_err("sandbox `%s` has no main process output (%s): see "
			"--source kernel, exec, vmm or net",
			name, path);
		return 1;
	}
	if (!f) {
		cli_err("no %s log for sandbox `%s` (%s)", source, name, path);
		return 1;
	}
	char buf[65536];
	for (;;) {
		size_t n = fread(buf, 1, sizeof(buf), f);
		if (n)
			fwrite(buf, 1, n, stdout);
		if (n == sizeof(buf))
			continue;
		if (!follow)
			break;
		fflush(stdout);
		clearerr(f);
		/* Rotated (the file became NAME.1): finish it, go on with the
		 * new one. */
		struct stat now, cur;
		if (stat(path, &now) == 0 && fstat(fileno(f), &cur) == 0 &&
		    (now.st_ino != cur.st_ino || now.st_dev != cur.st_dev)) {
			FILE *g = fopen(path, "re");
			if (g) {
				while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
					fwrite(buf, 1, n, stdout);
				fclose(f);
				f = g;
				continue;
			}
		}
		/* Follow while the sandbox runs. */
		msb_sandbox_info *v;
		size_t cnt;
		bool running = false;
		if (msb_sandbox_list(&v, &cnt) == 0) {
			for (size_t i = 0; i < cnt; i++)
				if (!strcmp(v[i].name, name))
					running = !strcmp(v[i].status,
							  "running") ||
						  !strcmp(v[i].status,
							  "paused") ||
						  !strcmp(v[i].status,
							  "starting");
			msb_sandbox_list_free(v, cnt);
		}
		if (!running) {
			n = fread(buf, 1, sizeof(buf), f);
			fwrite(buf, 1, n, stdout);
			break;
		}
		struct timespec ts = {.tv_nsec = 200 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	fclose(f);
	return 0;
}

static void print_json(const msb_sandbox_info *i)
{
	fputs("{\"name\": ", stdout);
	cli_json_str(i->name);
	fputs(", \"status\": ", stdout);
	cli_json_str(i->status);
	if (i->status_reason) {
		fputs(", \"status_reason\": ", stdout);
		cli_json_str(i->status_reason);
	}
	fputs(", \"image\": ", stdout);
	cli_json_str(i->image);
	printf(", \"cpus\": %u, \"memory_mib\": %u, \"ephemeral\": %s, "
	       "\"pid\": %d, \"created\": %lld, \"updated\": %lld, "
	       "\"labels\": {",
	       i->cpus ? i->cpus : 1, i->memory_mib ? i->memory_mib : 512,
	       i->ephemeral ? "true" : "false", i->pid, (long long)i->created,
	       (long long)i->updated);
	for (size_t k = 0; i->labels && i->labels[k]; k++) {
		const char *eq = strchr(i->labels[k], '=');
		char key[160];
		snprintf(key, sizeof(key), "%.*s", (int)(eq - i->labels[k]),
			 i->labels[k]);
		fputs(k ? ", " : "", stdout);
		cli_json_str(key);
		fputs(": ", stdout);
		cli_json_str(eq + 1);
	}
	fputs("}, \"ports\": [", stdout);
	json_t *ports = published_ports(i->name);
	size_t k;
	json_t *p;
	json_array_foreach(ports, k, p)
	{
		fputs(k ? ", " : "", stdout);
		cli_json_str(json_string_value(p));
	}
	json_decref(ports);
	fputs("]", stdout);
	/* Secrets (stored without their values) and TLS interception, as
	   msb inspect shows them. */
	char *text = NULL;
	json_t *c = NULL;
	if (msb_sandbox_config(i->name, &text) == 0)
		c = json_loads(text, 0, NULL);
	free(text);
	json_t *tls = json_deep_copy(json_object_get(c, "tls"));
	json_t *secrets = json_object_get(tls, "secrets");
	char *st = json_is_array(secrets) ? json_dumps(secrets, JSON_COMPACT)
					  : NULL;
	json_object_del(tls, "secrets");
	char *tt = json_is_object(tls)
			   ? json_dumps(tls, JSON_COMPACT | JSON_SORT_KEYS)
			   : NULL;
	printf(", \"secrets\": %s, \"tls\": %s", st ? st : "[]",
	       tt ? tt : "null");
	free(st);
	free(tt);
	json_decref(tls);
	json_decref(c);
	/* How the main process ended, if it did. */
	int code = -1;
	if (msb_sandbox_exit_code(i->name, &code) == 0 && code >= 0)
		printf(", \"exit_code\": %d", code);
	else
		fputs(", \"exit_code\": null", stdout);
	fputs("}", stdout);
}

int cmd_inspect(int argc, char **argv)
{
	struct cli_args a = {
		.cmd = "inspect",
		.usage = "Usage: msb inspect NAME...\n\n"
			 "Print sandboxes as one JSON array: status, times, "
			 "exit status, image\n(reference, ID, digest, "
			 "platform), environment, volumes and mounts,\n"
			 "network, limits, exec defaults, main process, "
			 "restart policy, and the\nstored options (config). A "
			 "NAME that does not exist gets an error line;\nthe "
			 "others are printed (exit 1).\n",
		.synopsis = "NAME...",
		.min_pos = 1,
		.max_pos = -1,
	};
	int status = 0, printed = 0;
	int r = plain_args(&a, argc, argv);

	if (r)
		return r - 1;
	fputs("[", stdout);
	for (int k = 0; k < a.npos; k++) {
		char *json = NULL;
		if (msb_sandbox_inspect(a.pos[k], &json) < 0) {
			fflush(stdout);
			status = cli_fail(1);
			continue;
		}
		printf("%s%s", printed++ ? ",\n" : "", json);
		free(json);
	}
	puts("]");
	return status;
}

int cmd_wait(int argc, char **argv)
{
	struct cli_args a = {
		.cmd = "wait",
		.usage = "Usage: msb wait NAME\n\nWait until a sandbox stops; "
			 "print its final status (stopped or crashed). msb\n"
			 "exits with its main process's exit status (128+N for "
			 "a signal N),\nelse 1 if it crashed, else 0.\n",
		.synopsis = "NAME",
		.min_pos = 1,
		.max_pos = 1,
	};
	int r = plain_args(&a, argc, argv);
	if (r)
		return r - 1;
	char status[32];
	int code = -1;
	if (msb_sandbox_wait(a.pos[0], -1, status, sizeof(status)) < 0)
		return cli_fail(1);
	printf("%s\n", status);
	if (msb_sandbox_exit_code(a.pos[0], &code) == 0 && code >= 0)
		return code;
	return strcmp(status, "crashed") ? 0 : 1;
}

int cmd_attach_main(int argc, char **argv)
{
	enum { OPT_NO_STDIN = 0x100 };
	static const struct option longopts[] = {
		{"no-stdin", no_argument, NULL, OPT_NO_STDIN},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct cli_args a = {
		.cmd = "attach",
		.usage =
			"Usage: msb attach [--no-stdin] NAME\n"
			"       msb attach NAME --exec ID\n"
			"\n"
			"Attach to sandbox NAME's main process (msb run -d IMAGE "
			"[CMD]) until it\nexits; msb exits with its status "
			"(128+N for a signal N).\n"
			"Started with -i: msb's standard input feeds its stdin "
			"(the end of\nmsb's input closes it) and its new output "
			"comes here. Started with\n-t: it has a terminal; when "
			"msb's input is one too, the local\nterminal is in raw "
			"mode and its size follows. Ctrl-P Ctrl-Q (with a\n"
			"terminal), SIGTERM, SIGHUP and, without a terminal, "
			"Ctrl-C detach:\nthe process runs on, its stdin still "
			"open. One attach at a time: a\nsecond one is refused.\n"
			"Started without -i or -t, or with --no-stdin: print "
			"its output from\nits start and follow it until the "
			"sandbox stops, as msb logs -f NAME.\n"
			"\n"
			"With --exec ID: attach msb's input, output and terminal "
			"to process\nID, started with msb exec -d (see msb attach "
			"NAME --exec ID --help).\n"
			"\n"
			"Options:\n"
			"      --no-stdin   only follow the output (as msb logs -f NAME)\n",
		.synopsis = "NAME",
		.shortopts = "h",
		.longopts = longopts,
		.min_pos = 1,
		.max_pos = 1,
	};
	bool no_stdin = false;
	int c;

	cli_args_init(&a, argc, argv);
	while ((c = cli_args_next(&a)) >= 0)
		if (c == OPT_NO_STDIN)
			no_stdin = true;
	if (c == CLI_ARGS_HELP)
		return 0;
	if (c == CLI_ARGS_ERROR)
		return 2;

	msb_sandbox *sb = NULL;
	msb_exec *e = NULL;
	msb_exec_event ev;
	if (!no_stdin && msb_sandbox_connect(&sb, a.pos[0]) == 0) {
		if (msb_sandbox_attach_main(&e, sb, MSB_ATTACH_STDIN) == 0 &&
		    msb_exec_next(e, &ev, -1) == 0) {
			/* STARTED: attached; it says whether there is a
			 * terminal */
			struct cli_session s = {
				.forward_stdin = true,
				.attach = true,
				.error_status = 1,
			};
			int rc = cli_session_run(e, &s);
			if (s.detached && isatty(STDERR_FILENO)) {
				fputc('\n', stderr); /* maybe mid-line */
				cli_err("detached; the main process of `%s` "
					"runs on",
					a.pos[0]);
			}
			msb_exec_free(e);
			msb_sandbox_free(sb);
			return rc;
		}
		int code = msb_last_error()->code;
		msb_exec_free(e);
		msb_sandbox_free(sb);
		/* a main process without stdin (or none): its output */
		if (code != MSB_ENOTSUP && code != MSB_ENOTFOUND)
			return cli_fail(1);
	}
	/* Output only, as before: stopped, no stdin, or --no-stdin. */
	char *logs[] = {"logs", "-f", a.pos[0], NULL};
	optind = 0;
	return cmd_logs(3, logs);
}
