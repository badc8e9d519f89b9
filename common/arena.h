/*
 * arena.h - bump allocator for objects that live and die together.
 *
 * A decoded batch or a trace read from storage puts its spans, attribute
 * arrays and strings in one arena and frees them all with cm_arena_fini().
 * Allocations are 8-byte aligned. Threads: an arena belongs to one thread
 * at a time.
 */
#ifndef WEFT_COMMON_ARENA_H
#define WEFT_COMMON_ARENA_H

#include <stddef.h>

typedef struct cm_arena_chunk cm_arena_chunk;

struct cm_arena_chunk {
	cm_arena_chunk *next;
	size_t used;
	size_t cap;
	unsigned long long data[]; /* 8-byte aligned payload */
};

typedef struct cm_arena {
	cm_arena_chunk *head;
	size_t chunk_size; /* size of ordinary chunks; larger requests get their own */
	size_t total;      /* bytes handed out, for limits and metrics */
	size_t held;       /* bytes of chunks allocated (what the arena costs) */
} cm_arena;

void cm_arena_init(cm_arena *a, size_t chunk_size);
/* Frees every chunk. The arena may be reused after cm_arena_init(). */
void cm_arena_fini(cm_arena *a);
/* cm_arena_reset() of an arena that handed something out. */
void cm_arena_reset_used(cm_arena *a);
/*
 * Forgets every allocation but keeps one ordinary chunk for reuse, so an
 * object that is recycled (a pooled span) allocates nothing in steady state.
 * Inline: a pooled span usually used no arena, and the call was its cost.
 */
static inline void
cm_arena_reset(cm_arena *a)
{
	if (a->total != 0)
		cm_arena_reset_used(a);
}
/* Returns n bytes (zeroed), or NULL when out of memory. */
void *cm_arena_alloc(cm_arena *a, size_t n);
/* Returns n bytes with unspecified contents, for callers that write them all; NULL when out of memory. */
void *cm_arena_alloc_uninit(cm_arena *a, size_t n);
/* Returns a NUL-terminated copy of s[0..n), or NULL when out of memory. */
char *cm_arena_strndup(cm_arena *a, const char *s, size_t n);

/*
 * cm_arena_strndup's inline fast path for hot loops (a span's attributes):
 * a bump in the current chunk, else the out-of-line call.
 */
static inline char *
cm_arena_strndup_fast(cm_arena *a, const char *s, size_t n)
{
	cm_arena_chunk *c = a->head;
	size_t need = (n + 8) & ~(size_t)7;
	char *d;

	if (c == NULL || c->cap - c->used < need || need < n)
		return cm_arena_strndup(a, s, n);
	d = (char *)c->data + c->used;
	c->used += need;
	a->total += need;
	__builtin_memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

#endif
