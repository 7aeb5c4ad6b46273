/* SPDX-License-Identifier: Apache-2.0 */
/* The pin set of a sandbox: which names this sandbox resolved to which
 * addresses, for how long. Pure, no I/O. */
#ifndef MSB_NET_PINS_H
#define MSB_NET_PINS_H

#include <stddef.h>
#include <stdint.h>

#include "net/addr.h"
#include "net/dns.h"

/*
 * A pin is one (address, name) pair that a DNS answer gave this sandbox.
 * Domain rules match a destination address only through its pins, so a
 * rule `allow api.example.com` lets the guest reach the addresses it got
 * for that name (or for a CNAME chain through it), and no other.
 *
 * Bounds: at most @cap pins in all (default MSB_PINS_CAP), at most
 * @per_addr names an address (default MSB_PINS_PER_ADDR). A pin lives for
 * its answer's TTL clamped to [MSB_PINS_TTL_MIN, MSB_PINS_TTL_MAX]: at
 * least 30 s, so that a TTL of 0 still lets the guest connect right after
 * the lookup, and at most an hour, so a stale pin does not outlive its
 * use (netd lowers the TTLs it hands the guest to the same hour, so the
 * guest does not cache an address longer than it is pinned). Adding a pin
 * that exists extends it (the later expiry wins). When the set is full the
 * least recently used pin (added, refreshed or returned by a lookup) is
 * evicted; when an address has @per_addr names, its least recently used
 * name is. Expired pins are never returned, and are freed as they are met
 * or swept (msb_pins_sweep()).
 *
 * Times are seconds of a monotonic clock, given by the caller.
 */
#define MSB_PINS_CAP 4096
#define MSB_PINS_PER_ADDR 64
#define MSB_PINS_TTL_MIN 30
#define MSB_PINS_TTL_MAX 3600

struct msb_pins;

/**
 * msb_pins_new() - create an empty pin set
 * @cap:      most pins (0: MSB_PINS_CAP)
 * @per_addr: most names an address (0: MSB_PINS_PER_ADDR)
 * @seed:     a random value for the hash (so that answers cannot be
 *            crafted to collide)
 *
 * All memory is allocated here: adding a pin never allocates.
 *
 * Return: the set, owned by the caller (msb_pins_free()), or NULL if out
 * of memory.
 */
struct msb_pins *msb_pins_new(unsigned cap, unsigned per_addr, uint64_t seed);

/* msb_pins_free() - free a pin set (NULL is fine). */
void msb_pins_free(struct msb_pins *p);

/**
 * msb_pins_add() - pin a name to an address
 * @p:    the set
 * @name: the name as text (lowercased here), 1 to 253 characters
 * @addr: the address (family 4 or 6)
 * @ttl:  seconds, clamped to [MSB_PINS_TTL_MIN, MSB_PINS_TTL_MAX]
 * @now:  the time
 *
 * Return: 0, or -1 if @name or @addr is not valid.
 */
int msb_pins_add(struct msb_pins *p, const char *name,
		 const struct msb_net_addr *addr, uint32_t ttl, uint64_t now);

/**
 * msb_pins_add_answer() - pin what msb_dns_filter_answer() kept
 * @p:   the set
 * @res: the answer: each kept address is pinned to the chain's names from
 *       the question's down to its own owner (names without a text form
 *       are skipped)
 * @now: the time
 */
void msb_pins_add_answer(struct msb_pins *p, const struct msb_dns_answer *res,
			 uint64_t now);

/**
 * msb_pins_names() - the names an address is pinned to now
 * @out:  out: the names (lowercase), pointing into @p: valid until the
 *        next call on @p
 * @max:  room in @out
 * @p:    the set
 * @addr: the address (compared exactly: an IPv4-mapped IPv6 address is
 *        not its IPv4 address here)
 * @now:  the time
 *
 * The pins returned count as used (for eviction).
 *
 * Return: how many names were stored in @out (at most @max).
 */
size_t msb_pins_names(const char **out, size_t max, struct msb_pins *p,
		      const struct msb_net_addr *addr, uint64_t now);

/* msb_pins_expire() - free every pin expired at @now (the whole set). */
void msb_pins_expire(struct msb_pins *p, uint64_t now);

/**
 * msb_pins_sweep() - free expired pins, a bounded slice of the set a call
 * @p:      the set (NULL is fine)
 * @now:    the time
 * @budget: most hash buckets to look at (0: none)
 *
 * For a periodic sweep, so that an expired pin whose address is never
 * looked up again does not stay until the set is full. Each call looks
 * at @budget buckets (and the pins chained in them) from where the last
 * call stopped, wrapping round: calls of @budget each cover the whole set
 * in msb_pins_buckets() / @budget calls.
 *
 * Return: how many pins were freed.
 */
size_t msb_pins_sweep(struct msb_pins *p, uint64_t now, unsigned budget);

/* msb_pins_buckets() - the size of the hash table (twice the cap, or more,
 * a power of two); 0 for NULL. */
size_t msb_pins_buckets(const struct msb_pins *p);

/* msb_pins_count() - pins held (expired ones not yet freed included). */
size_t msb_pins_count(const struct msb_pins *p);

#endif
