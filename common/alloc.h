/*
 * alloc.h - the one allocation wrapper every weft component uses.
 *
 * Going through cm_malloc() and friends lets tests make allocations fail on
 * purpose (cm_alloc_fail_every) to prove that each path returns CM_ENOMEM
 * instead of crashing or leaking. Threads: safe; the failure injector is a
 * process-wide atomic counter.
 */
#ifndef WEFT_COMMON_ALLOC_H
#define WEFT_COMMON_ALLOC_H

#include <stddef.h>
#include <stdint.h>

void *cm_malloc(size_t n);
void *cm_calloc(size_t count, size_t size);
void *cm_realloc(void *p, size_t n);
void cm_free(void *p);
/*
 * Room for one more element in array v of n used and *cap allocated
 * elements of elem bytes: v itself when there is, else v doubled (from
 * `first` elements) with *cap updated. NULL when out of memory, v and
 * *cap unchanged.
 */
void *cm_grow(void *v, uint32_t n, uint32_t *cap, size_t elem, uint32_t first);
/* Copies n bytes of s and appends a NUL. Returns NULL when out of memory. */
char *cm_strndup(const char *s, size_t n);

/* Test hook: from now on, fail every n-th allocation; 0 turns it off. */
void cm_alloc_fail_every(unsigned n);

#endif
