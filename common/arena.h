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

typedef struct cm_arena {
	cm_arena_chunk *head;
	size_t chunk_size; /* size of ordinary chunks; larger requests get their own */
	size_t total;      /* bytes handed out, for limits and metrics */
	size_t held;       /* bytes of chunks allocated (what the arena costs) */
} cm_arena;

void cm_arena_init(cm_arena *a, size_t chunk_size);
/* Frees every chunk. The arena may be reused after cm_arena_init(). */
void cm_arena_fini(cm_arena *a);
/*
 * Forgets every allocation but keeps one ordinary chunk for reuse, so an
 * object that is recycled (a pooled span) allocates nothing in steady state.
 */
void cm_arena_reset(cm_arena *a);
/* Returns n bytes (zeroed), or NULL when out of memory. */
void *cm_arena_alloc(cm_arena *a, size_t n);
/* Returns n bytes with unspecified contents, for callers that write them all; NULL when out of memory. */
void *cm_arena_alloc_uninit(cm_arena *a, size_t n);
/* Returns a NUL-terminated copy of s[0..n), or NULL when out of memory. */
char *cm_arena_strndup(cm_arena *a, const char *s, size_t n);

#endif
