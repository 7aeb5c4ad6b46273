// SPDX-License-Identifier: Apache-2.0
/*
 * Layer download progress for msb pull/run: on a terminal, one line per
 * layer redrawn in place (bytes, total, rate); otherwise a plain line when
 * a layer completes. Called from the library's download threads.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

#define MAX_LAYERS 128

static struct {
	pthread_mutex_t lock;
	bool tty;
	size_t n;
	struct {
		char digest[80];
		uint64_t done, total;
		double start;
		bool finished;
	} l[MAX_LAYERS];
	size_t drawn; /* lines printed by the last redraw */
} P = {.lock = PTHREAD_MUTEX_INITIALIZER};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void redraw(void)
{
	double t = now_s();

	if (P.drawn)
		fprintf(stderr, "\033[%zuA", P.drawn);
	for (size_t i = 0; i < P.n; i++) {
		char done[32], total[32], rate[32];
		double el = t - P.l[i].start;
		cli_human_size(done, sizeof(done), (double)P.l[i].done);
		cli_human_size(total, sizeof(total), (double)P.l[i].total);
		cli_human_size(rate, sizeof(rate),
			       el > 0 ? (double)P.l[i].done / el : 0);
		int width = 30;
		int fill = P.l[i].total ? (int)(width * (double)P.l[i].done /
						(double)P.l[i].total)
					: 0;
		if (fill > width)
			fill = width;
		fprintf(stderr, "\033[2K%.19s [%.*s%*s] %s / %s  %s/s\n",
			P.l[i].digest, fill, "##############################",
			width - fill, "", done, total, rate);
	}
	P.drawn = P.n;
	fflush(stderr);
}

void cli_progress_init(void)
{
	P.tty = isatty(STDERR_FILENO);
	P.n = 0;
	P.drawn = 0;
}

void cli_progress(const char *digest, uint64_t done, uint64_t total,
		  void *userdata)
{
	(void)userdata;
	pthread_mutex_lock(&P.lock);
	size_t i;
	for (i = 0; i < P.n; i++)
		if (!strcmp(P.l[i].digest, digest))
			break;
	if (i == P.n && P.n < MAX_LAYERS) {
		snprintf(P.l[i].digest, sizeof(P.l[i].digest), "%s", digest);
		P.l[i].start = now_s();
		P.l[i].finished = false;
		P.n++;
	}
	if (i < P.n) {
		P.l[i].done = done;
		P.l[i].total = total;
		if (P.tty) {
			redraw();
		} else if (done >= total && !P.l[i].finished) {
			char size[32];
			cli_human_size(size, sizeof(size), (double)total);
			fprintf(stderr, "msb: layer %s: downloaded %s\n",
				digest, size);
		}
		if (done >= total)
			P.l[i].finished = true;
	}
	pthread_mutex_unlock(&P.lock);
}
