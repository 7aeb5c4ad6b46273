/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Resource limit specs, as `docker run --ulimit` writes them:
 * "NAME=SOFT[:HARD]", NAME one of core, cpu, data, fsize, locks, memlock,
 * msgqueue, nice, nofile, nproc, rss, rtprio, rttime, sigpending, stack,
 * as; each value a decimal number or "unlimited"; HARD defaults to SOFT.
 * Parsed by the library (to refuse a bad option early) and by the agent.
 */
#ifndef MSB_UTIL_RLIMIT_H
#define MSB_UTIL_RLIMIT_H

#include <stddef.h>
#include <sys/resource.h>

/*
 * msb_rlimit_parse() - parse one spec of @len bytes (not NUL-terminated).
 * @resource: RLIMIT_* on success
 * @rl: the limits on success
 * @why: on failure, what is wrong (NUL-terminated, at most @whylen)
 * Return: 0, or -1.
 */
int msb_rlimit_parse(const char *spec, size_t len, int *resource,
		     struct rlimit *rl, char *why, size_t whylen);

#endif
