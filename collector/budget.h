/*
 * budget.h - the collector's memory limiter: bytes of requests in progress.
 *
 * Every receiver takes the bytes a request will hold (body, decompressed
 * body, decoded batch) before doing the work and gives them back when the
 * reply is sent. When the budget is spent, receivers answer RETRY / 429
 * instead of growing: this bound is what keeps the collector's memory flat
 * under any load. Threads: lock-free, any thread.
 */
#ifndef WEFT_COLLECTOR_BUDGET_H
#define WEFT_COLLECTOR_BUDGET_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct col_budget {
	atomic_size_t used;
	size_t limit;
} col_budget;

/* Takes n bytes if they fit in the limit; returns false (taking nothing) otherwise. */
static inline bool
col_budget_take(col_budget *b, size_t n)
{
	size_t used = atomic_load_explicit(&b->used, memory_order_relaxed);
	do {
		if (n > b->limit || used > b->limit - n)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(&b->used, &used, used + n,
	    memory_order_relaxed, memory_order_relaxed));
	return true;
}

static inline void
col_budget_give(col_budget *b, size_t n)
{
	atomic_fetch_sub_explicit(&b->used, n, memory_order_relaxed);
}

#endif
