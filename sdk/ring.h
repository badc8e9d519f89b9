/*
 * ring.h - a single-producer single-consumer ring of span pointers.
 *
 * One thread pushes, one thread pops, no lock: the producer publishes a
 * slot with a release store of `tail`, the consumer frees it with a release
 * store of `head`. Each side keeps a stale copy of the other's index and
 * rereads it only when the ring looks full (producer) or empty (consumer),
 * so the shared cache lines move once per many spans, not once per span.
 */
#ifndef WEFT_SDK_RING_H
#define WEFT_SDK_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct weft_span;

/* Padding keeps each side's fields on its own cache line (no over-alignment: heap objects hold rings). */
typedef struct sdk_ring {
	uint32_t mask; /* capacity - 1, a power of two */
	struct weft_span **slot;
	char pad0[64];
	_Atomic uint32_t head; /* consumer's */
	uint32_t tail_seen;    /* consumer's copy of tail */
	char pad1[64];
	_Atomic uint32_t tail; /* producer's */
	uint32_t head_seen;    /* producer's copy of head */
	char pad2[64];
} sdk_ring;

/* cap is rounded up to a power of two. Returns false when out of memory. */
bool sdk_ring_init(sdk_ring *r, uint32_t cap);
void sdk_ring_fini(sdk_ring *r);

static inline bool
sdk_ring_push(sdk_ring *r, struct weft_span *s)
{
	uint32_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);

	if (t - r->head_seen > r->mask) {
		r->head_seen = atomic_load_explicit(&r->head, memory_order_acquire);
		if (t - r->head_seen > r->mask)
			return false;
	}
	r->slot[t & r->mask] = s;
	atomic_store_explicit(&r->tail, t + 1, memory_order_release);
	return true;
}

static inline struct weft_span *
sdk_ring_pop(sdk_ring *r)
{
	uint32_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
	struct weft_span *s;

	if (h == r->tail_seen) {
		r->tail_seen = atomic_load_explicit(&r->tail, memory_order_acquire);
		if (h == r->tail_seen)
			return NULL;
	}
	s = r->slot[h & r->mask];
	atomic_store_explicit(&r->head, h + 1, memory_order_release);
	return s;
}

/* Spans in the ring now; exact for either side, an estimate for others. */
static inline uint32_t
sdk_ring_size(sdk_ring *r)
{
	return atomic_load_explicit(&r->tail, memory_order_acquire) -
	    atomic_load_explicit(&r->head, memory_order_acquire);
}

#endif
