// SPDX-License-Identifier: Apache-2.0
/* The pin set: address -> names with expiry, bounded, LRU eviction. */

/*
 * DOC: Theory of operation
 *
 * All pins live in one array allocated at creation; an index stands for a
 * pin. A hash table keyed by address (seeded, chained through the pins)
 * finds the pins of an address: all pins of one address are in one chain,
 * so a lookup or an add walks a single chain, freeing the expired pins it
 * meets. A doubly linked list orders the pins by last use; its head is
 * evicted when the array is full. Free pins are on a free list. Nothing is
 * allocated after msb_pins_new(), and every loop is bounded by the cap.
 * A sweep (msb_pins_sweep()) walks the buckets round from a cursor, a
 * given number a call, so that a periodic caller frees expired pins that
 * no lookup meets with bounded work per call.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "net/pins.h"

#define NIL UINT32_MAX

struct pin {
	struct msb_net_addr addr;
	char name[MSB_DNS_TEXT_MAX];
	uint64_t expires;
	uint64_t used;               /* the set's clock at its last use */
	uint32_t next;               /* hash chain */
	uint32_t prev_lru, next_lru; /* use order; next_lru links free pins */
};

struct msb_pins {
	unsigned cap;
	unsigned per_addr;
	size_t count;
	uint64_t seed;
	uint64_t clock;
	uint32_t mask;
	uint32_t sweep; /* the bucket msb_pins_sweep() looks at next */
	uint32_t *buckets;
	struct pin *pins;
	uint32_t lru_head, lru_tail; /* least and most recently used */
	uint32_t free_head;
};

static size_t addr_len(const struct msb_net_addr *a)
{
	return a->family == 4 ? 4 : 16;
}

static bool addr_eq(const struct msb_net_addr *a, const struct msb_net_addr *b)
{
	return a->family == b->family && !memcmp(a->a, b->a, addr_len(a));
}

/* FNV-1a from a secret basis, then a 64-bit finalizer. */
static uint32_t bucket_of(const struct msb_pins *p,
			  const struct msb_net_addr *a)
{
	uint64_t h = p->seed ^ 0xcbf29ce484222325ull ^ a->family;

	for (size_t i = 0; i < addr_len(a); i++) {
		h ^= a->a[i];
		h *= 0x100000001b3ull;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return (uint32_t)h & p->mask;
}

struct msb_pins *msb_pins_new(unsigned cap, unsigned per_addr, uint64_t seed)
{
	struct msb_pins *p;
	uint32_t nb = 1;

	if (!cap)
		cap = MSB_PINS_CAP;
	if (!per_addr)
		per_addr = MSB_PINS_PER_ADDR;
	if (cap > (1u << 24))
		return NULL;
	while (nb < 2 * cap)
		nb <<= 1;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->buckets = malloc(nb * sizeof(*p->buckets));
	p->pins = calloc(cap, sizeof(*p->pins));
	if (!p->buckets || !p->pins) {
		msb_pins_free(p);
		return NULL;
	}
	p->cap = cap;
	p->per_addr = per_addr;
	p->seed = seed;
	p->mask = nb - 1;
	for (uint32_t i = 0; i < nb; i++)
		p->buckets[i] = NIL;
	for (uint32_t i = 0; i < cap; i++)
		p->pins[i].next_lru = i + 1 < cap ? i + 1 : NIL;
	p->free_head = 0;
	p->lru_head = p->lru_tail = NIL;
	return p;
}

void msb_pins_free(struct msb_pins *p)
{
	if (!p)
		return;
	free(p->buckets);
	free(p->pins);
	free(p);
}

static void lru_unlink(struct msb_pins *p, uint32_t i)
{
	struct pin *e = &p->pins[i];

	if (e->prev_lru != NIL)
		p->pins[e->prev_lru].next_lru = e->next_lru;
	else
		p->lru_head = e->next_lru;
	if (e->next_lru != NIL)
		p->pins[e->next_lru].prev_lru = e->prev_lru;
	else
		p->lru_tail = e->prev_lru;
}

static void lru_append(struct msb_pins *p, uint32_t i)
{
	struct pin *e = &p->pins[i];

	e->prev_lru = p->lru_tail;
	e->next_lru = NIL;
	if (p->lru_tail != NIL)
		p->pins[p->lru_tail].next_lru = i;
	else
		p->lru_head = i;
	p->lru_tail = i;
	e->used = ++p->clock;
}

static void touch(struct msb_pins *p, uint32_t i)
{
	lru_unlink(p, i);
	lru_append(p, i);
}

/* Free pin @i; @link is the chain field that points to it. */
static void drop(struct msb_pins *p, uint32_t i, uint32_t *link)
{
	*link = p->pins[i].next;
	lru_unlink(p, i);
	p->pins[i].next_lru = p->free_head;
	p->free_head = i;
	p->count--;
}

/* Free pin @i, finding its link in its chain. */
static void drop_any(struct msb_pins *p, uint32_t i)
{
	uint32_t *link = &p->buckets[bucket_of(p, &p->pins[i].addr)];

	while (*link != i)
		link = &p->pins[*link].next;
	drop(p, i, link);
}

int msb_pins_add(struct msb_pins *p, const char *name,
		 const struct msb_net_addr *addr, uint32_t ttl, uint64_t now)
{
	size_t n = name ? strnlen(name, MSB_DNS_TEXT_MAX) : 0;
	uint32_t *link, oldest = NIL, i;
	unsigned names = 0;
	char lc[MSB_DNS_TEXT_MAX];

	if (!p || n == 0 || n >= MSB_DNS_TEXT_MAX || !addr ||
	    (addr->family != 4 && addr->family != 6))
		return -1;
	for (size_t k = 0; k <= n; k++)
		lc[k] = name[k] >= 'A' && name[k] <= 'Z' ? (char)(name[k] + 32)
							 : name[k];
	if (ttl < MSB_PINS_TTL_MIN)
		ttl = MSB_PINS_TTL_MIN;
	if (ttl > MSB_PINS_TTL_MAX)
		ttl = MSB_PINS_TTL_MAX;

	link = &p->buckets[bucket_of(p, addr)];
	while ((i = *link) != NIL) {
		struct pin *e = &p->pins[i];
		if (now >= e->expires) {
			drop(p, i, link);
			continue;
		}
		if (addr_eq(&e->addr, addr)) {
			if (!strcmp(e->name, lc)) {
				if (e->expires < now + ttl)
					e->expires = now + ttl;
				touch(p, i);
				return 0;
			}
			names++;
			if (oldest == NIL || e->used < p->pins[oldest].used)
				oldest = i;
		}
		link = &e->next;
	}
	if (names >= p->per_addr)
		drop_any(p, oldest);
	if (p->free_head == NIL)
		drop_any(p, p->lru_head);

	i = p->free_head;
	p->free_head = p->pins[i].next_lru;
	struct pin *e = &p->pins[i];
	memset(&e->addr, 0, sizeof(e->addr));
	e->addr.family = addr->family;
	memcpy(e->addr.a, addr->a, addr_len(addr));
	memcpy(e->name, lc, n + 1);
	e->expires = now + ttl;
	link = &p->buckets[bucket_of(p, addr)];
	e->next = *link;
	*link = i;
	lru_append(p, i);
	p->count++;
	return 0;
}

void msb_pins_add_answer(struct msb_pins *p, const struct msb_dns_answer *res,
			 uint64_t now)
{
	for (unsigned i = 0; i < res->naddrs && i < MSB_DNS_ADDRS_MAX; i++) {
		const struct msb_dns_pin *a = &res->addrs[i];
		for (unsigned k = 0;
		     k <= a->depth && k < res->nnames && k < MSB_DNS_CHAIN_MAX;
		     k++)
			if (res->names[k][0])
				msb_pins_add(p, res->names[k], &a->addr, a->ttl,
					     now);
	}
}

size_t msb_pins_names(const char **out, size_t max, struct msb_pins *p,
		      const struct msb_net_addr *addr, uint64_t now)
{
	uint32_t *link, i;
	size_t n = 0;

	if (!p || !addr || (addr->family != 4 && addr->family != 6))
		return 0;
	link = &p->buckets[bucket_of(p, addr)];
	while ((i = *link) != NIL) {
		struct pin *e = &p->pins[i];
		if (now >= e->expires) {
			drop(p, i, link);
			continue;
		}
		if (n < max && addr_eq(&e->addr, addr)) {
			out[n++] = e->name;
			touch(p, i);
		}
		link = &e->next;
	}
	return n;
}

size_t msb_pins_sweep(struct msb_pins *p, uint64_t now, unsigned budget)
{
	size_t freed = 0;

	if (!p)
		return 0;
	if (budget > p->mask + 1u)
		budget = p->mask + 1u;
	for (unsigned k = 0; k < budget; k++) {
		uint32_t *link = &p->buckets[p->sweep], i;
		while ((i = *link) != NIL) {
			if (now >= p->pins[i].expires) {
				drop(p, i, link);
				freed++;
			} else {
				link = &p->pins[i].next;
			}
		}
		p->sweep = (p->sweep + 1) & p->mask;
	}
	return freed;
}

void msb_pins_expire(struct msb_pins *p, uint64_t now)
{
	if (p)
		msb_pins_sweep(p, now, p->mask + 1u);
}

size_t msb_pins_buckets(const struct msb_pins *p)
{
	return p ? (size_t)p->mask + 1 : 0;
}

size_t msb_pins_count(const struct msb_pins *p)
{
	return p ? p->count : 0;
}
