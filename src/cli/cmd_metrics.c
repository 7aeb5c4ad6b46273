// SPDX-License-Identifier: Apache-2.0
/* msb metrics: resource use of running sandboxes, once or as a stream. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "microsandbox.h"

#define MAX_WATCH 256

static void print_row(const char *name, const msb_metrics *m, bool json)
{
	if (json) {
		fputs("{\"name\":", stdout);
		cli_json_str(name);
		printf(",\"cpu_percent\":%.1f,"
		       "\"cpu_time_ms\":%llu,\"memory_bytes\":%llu,"
		       "\"guest_memory_used_bytes\":%llu,"
		       "\"guest_memory_total_bytes\":%llu,"
		       "\"disk_read_bytes\":%llu,\"disk_write_bytes\":%llu,"
		       "\"net_rx_bytes\":%llu,\"net_tx_bytes\":%llu,"
		       "\"net_rx_packets\":%llu,\"net_tx_packets\":%llu,"
		       "\"net_flows\":%llu,\"net_denied\":%llu,"
		       "\"uptime_ms\":%llu}\n",
		       m->cpu_percent, (unsigned long long)m->cpu_time_ms,
		       (unsigned long long)m->memory_bytes,
		       (unsigned long long)m->guest_memory_used_bytes,
		       (unsigned long long)m->guest_memory_total_bytes,
		       (unsigned long long)m->disk_read_bytes,
		       (unsigned long long)m->disk_write_bytes,
		       (unsigned long long)m->net_rx_bytes,
		       (unsigned long long)m->net_tx_bytes,
		       (unsigned long long)m->net_rx_packets,
		       (unsigned long long)m->net_tx_packets,
		       (unsigned long long)m->net_flows,
		       (unsigned long long)m->net_denied,
		       (unsigned long long)m->uptime_ms);
		return;
	}
	char mem[32], gmem[32], rd[32], wr[32], rx[32], tx[32];
	cli_human_size(mem, sizeof(mem), (double)m->memory_bytes);
	cli_human_size(gmem, sizeof(gmem), (double)m->guest_memory_used_bytes);
	cli_human_size(rd, sizeof(rd), (double)m->disk_read_bytes);
	cli_human_size(wr, sizeof(wr), (double)m->disk_write_bytes);
	cli_human_size(rx, sizeof(rx), (double)m->net_rx_bytes);
	cli_human_size(tx, sizeof(tx), (double)m->net_tx_bytes);
	printf("%-24s %6.1f%% %9.1fs %10s %10s %10s %10s %10s %10s %7llu "
	       "%7llu %8llus\n",
	       name, m->cpu_percent, (double)m->cpu_time_ms / 1000.0, mem, gmem,
	       rd, wr, rx, tx, (unsigned long long)m->net_flows,
	       (unsigned long long)m->net_denied,
	       (unsigned long long)(m->uptime_ms / 1000));
}

int cmd_metrics(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"watch", no_argument, NULL, 'w'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct cli_args a = {
		.cmd = "metrics",
		.usage = "Usage: msb metrics [-w] [--json] [NAME...]\n\n"
			 "CPU, memory, disk and network use of running "
			 "sandboxes (all of them\nwithout NAME). NET RX/TX: "
			 "bytes the guest received/sent; FLOWS:\nconnections "
			 "open now; DENIED: attempts the network policy "
			 "denied.\n--json adds packet counts.\n\n"
			 "  -w, --watch      repeat every second, until "
			 "interrupted or no\n"
			 "                   sandbox is left to watch\n"
			 "      --json       one JSON object a line per "
			 "sandbox\n",
		.synopsis = "NAME...",
		.shortopts = "w",
		.longopts = longopts,
		.min_pos = 0,
		.max_pos = MAX_WATCH,
	};
	bool watch = false, json = false;
	int c;

	cli_args_init(&a, argc, argv);
	while ((c = cli_args_next(&a)) >= 0) {
		if (c == 'w')
			watch = true;
		else if (c == 'j')
			json = true;
	}
	if (c == CLI_ARGS_HELP)
		return 0;
	if (c == CLI_ARGS_ERROR)
		return 2;
	/* The sandboxes to watch: those named, or every running one. */
	char *names[MAX_WATCH];
	size_t n = 0;
	msb_sandbox_info *v = NULL;
	size_t cnt = 0;
	if (a.npos) {
		for (int i = 0; i < a.npos; i++)
			names[n++] = a.pos[i];
	} else {
		if (msb_sandbox_list(&v, &cnt) < 0)
			return cli_fail(1);
		for (size_t i = 0; i < cnt && n < MAX_WATCH; i++)
			if (!strcmp(v[i].status, "running"))
				names[n++] = v[i].name;
	}
	msb_sandbox *sb[MAX_WATCH] = {0};
	int status = 0;
	for (size_t i = 0; i < n; i++)
		if (msb_sandbox_connect(&sb[i], names[i]) < 0)
			status = cli_fail(1);
	size_t left;
	do {
		left = 0;
		if (watch && !json && isatty(STDOUT_FILENO))
			fputs("\033[H\033[2J", stdout);
		if (!json)
			printf("%-24s %7s %10s %10s %10s %10s %10s %10s %10s "
			       "%7s %7s %9s\n",
			       "NAME", "CPU", "CPU TIME", "MEMORY", "GUEST MEM",
			       "DISK READ", "DISK WRITE", "NET RX", "NET TX",
			       "FLOWS", "DENIED", "UPTIME");
		for (size_t i = 0; i < n; i++) {
			msb_metrics m;
			if (!sb[i])
				continue;
			if (msb_sandbox_metrics(&m, sb[i]) < 0) {
				status = cli_fail(1);
				msb_sandbox_free(sb[i]);
				sb[i] = NULL;
				continue;
			}
			print_row(names[i], &m, json);
			left++;
		}
		fflush(stdout);
		/* Watch while a sandbox is left to watch. */
		if (watch && left)
			sleep(1);
	} while (watch && left);
	for (size_t i = 0; i < n; i++)
		msb_sandbox_free(sb[i]);
	msb_sandbox_list_free(v, cnt);
	return status;
}
