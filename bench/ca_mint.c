// SPDX-License-Identifier: Apache-2.0
/*
 * ca_mint: what a leaf certificate costs msb-netd when it intercepts TLS
 * (src/net/ca.c). Three figures, per operation:
 *   - cold: msb_ca_mint() for a name never seen (one EC P-256 signature
 *     and the certificate's encoding);
 *   - miss: msb_ca_cache_get() for a new name when the cache is full
 *     (the mint, the lookup that failed and the eviction);
 *   - cached: msb_ca_cache_get() for a name in a full cache (the
 *     lookup and a reference).
 * Medians and means in microseconds, and the ratio cold / cached.
 *   ca_mint [N [CAP]]   (default N 2000 mints, CAP 256 leaves)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "net/ca.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Median and mean of @n samples (sorted in place). */
static void stats(double *v, size_t n, double *median, double *mean)
{
	double sum = 0;

	qsort(v, n, sizeof(*v), cmp);
	for (size_t i = 0; i < n; i++)
		sum += v[i];
	*median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	*mean = sum / (double)n;
}

static void name_of(char *out, size_t cap, const char *kind, size_t i)
{
	snprintf(out, cap, "h%zu.%s.bench.example", i, kind);
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 2000;
	size_t cap = argc > 2 ? strtoul(argv[2], NULL, 10) : 256;
	/* cached lookups are timed in batches: one is too short a time */
	const size_t batch = 100, batches = 2000;
	struct msb_ca *ca = NULL;
	struct msb_ca_cache *cache = NULL;
	double *cold = NULL, *miss = NULL, *hit = NULL;
	double cold_med, cold_mean, miss_med, miss_mean, hit_med, hit_mean;
	uint64_t hits, mints;
	time_t now = time(NULL);
	char err[256], name[128];
	int rc = 1;

	if (!n || !cap) {
		fprintf(stderr, "usage: ca_mint [N [CAP]] (both >= 1)\n");
		return 2;
	}
	cold = calloc(n, sizeof(*cold));
	miss = calloc(n, sizeof(*miss));
	hit = calloc(batches, sizeof(*hit));
	if (!cold || !miss || !hit)
		goto out;
	if (msb_ca_generate(&ca, "bench", now, err, sizeof(err)) < 0) {
		fprintf(stderr, "ca_mint: %s\n", err);
		goto out;
	}

	/* cold: new names, no cache */
	for (size_t i = 0; i < n; i++) {
		X509 *leaf;
		name_of(name, sizeof(name), "cold", i);
		uint64_t t0 = now_ns();
		if (msb_ca_mint(&leaf, ca, name, now, err, sizeof(err)) < 0) {
			fprintf(stderr, "ca_mint: mint `%s`: %s\n", name, err);
			goto out;
		}
		cold[i] = (double)(now_ns() - t0) / 1000;
		X509_free(leaf);
	}

	/* misses: new names through a full cache */
	cache = msb_ca_cache_new(ca, cap);
	if (!cache)
		goto out;
	for (size_t i = 0; i < cap + n; i++) {
		X509 *leaf;
		name_of(name, sizeof(name), "miss", i);
		uint64_t t0 = now_ns();
		if (msb_ca_cache_get(&leaf, cache, name, now, err,
				     sizeof(err)) < 0) {
			fprintf(stderr, "ca_mint: get `%s`: %s\n", name, err);
			goto out;
		}
		if (i >= cap)
			miss[i - cap] = (double)(now_ns() - t0) / 1000;
		X509_free(leaf);
	}

	/* cached: the last @cap names, in turn, so every slot is looked at */
	msb_ca_cache_stats(cache, &hits, &mints);
	uint64_t hits0 = hits, mints0 = mints;
	size_t k = 0;
	for (size_t b = 0; b < batches; b++) {
		uint64_t t0 = now_ns();
		for (size_t i = 0; i < batch; i++, k++) {
			X509 *leaf;
			name_of(name, sizeof(name), "miss", n + k % cap);
			if (msb_ca_cache_get(&leaf, cache, name, now, err,
					     sizeof(err)) < 0) {
				fprintf(stderr, "ca_mint: get: %s\n", err);
				goto out;
			}
			X509_free(leaf);
		}
		hit[b] = (double)(now_ns() - t0) / 1000 / (double)batch;
	}
	msb_ca_cache_stats(cache, &hits, &mints);
	if (hits - hits0 != batch * batches || mints != mints0) {
		fprintf(stderr, "ca_mint: cached lookups minted (%llu hits)\n",
			(unsigned long long)(hits - hits0));
		goto out;
	}

	stats(cold, n, &cold_med, &cold_mean);
	stats(miss, n, &miss_med, &miss_mean);
	stats(hit, batches, &hit_med, &hit_mean);
	snprintf(name, sizeof(name), "mint, cold (msb_ca_mint, %zu new names)",
		 n);
	printf("%-48s median %8.2f us  mean %8.2f us\n", name, cold_med,
	       cold_mean);
	snprintf(name, sizeof(name), "cache miss (full, cap %zu)", cap);
	printf("%-48s median %8.2f us  mean %8.2f us\n", name, miss_med,
	       miss_mean);
	snprintf(name, sizeof(name), "cache hit (%zu lookups)",
		 batch * batches);
	printf("%-48s median %8.3f us  mean %8.3f us\n", name, hit_med,
	       hit_mean);
	printf("ratio cold / cached (medians): %.0fx\n", cold_med / hit_med);
	rc = 0;
out:
	msb_ca_cache_free(cache);
	msb_ca_free(ca);
	free(cold);
	free(miss);
	free(hit);
	return rc;
}
